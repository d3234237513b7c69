# keygen, key rotate, key show: modes, no overwrite, passphrases, never key material shown.
. "$E2E_DIR/lib.sh"

step "keygen: a root keyring, 0600, version 1"
run 0 "$SMAR" keygen -o root.key
assert_mode root.key 600
assert_contains out.txt "version 1 written to root.key"
run 0 "$SMAR" key show root.key
assert_contains out.txt "kind:      root keyring"
assert_contains out.txt "provider:  local"
assert_contains out.txt "current:   version 1"
assert_contains out.txt "id:        rk-"

step "keygen never overwrites without --force"
cp root.key before.key
run 1 "$SMAR" keygen -o root.key
assert_contains err.txt "'root.key' exists (use --force to replace it)"
assert_same root.key before.key
run 0 "$SMAR" keygen --force -o root.key
cmp -s root.key before.key && fail "--force did not replace the key"
assert_mode root.key 600
assert_no_temp .

step "keygen --id"
run 0 "$SMAR" keygen --id kp-primary-2026 -o named.key
run 0 "$SMAR" key show --json named.key
assert_contains out.txt '"id":	"kp-primary-2026"'
run 2 "$SMAR" keygen --id "bad id" -o bad.key
assert_missing bad.key

step "key rotate adds a version; archives made before still open"
gen ex.json --secrets 12
run 0 "$SMAR" create -q --key named.key -o before.smar ex.json
run 0 "$SMAR" key rotate named.key
assert_contains out.txt "version 2 added"
assert_mode named.key 600
run 0 "$SMAR" key rotate named.key
run 0 "$SMAR" key show --json named.key
assert_contains out.txt '"kind":	"root_keyring"'
assert_contains out.txt '"current_version":	3'
assert_contains out.txt '"version":	1'
assert_contains out.txt '"version":	3'
assert_contains out.txt '"created":	"'
assert_contains out.txt '"provider":	"local"'
run 0 "$SMAR" create -q --key named.key -o after.smar ex.json
run 0 "$SMAR" inspect after.smar
assert_contains out.txt "kp-primary-2026 version 3 (local)"
run 0 "$SMAR" inspect before.smar
assert_contains out.txt "kp-primary-2026 version 1 (local)"
run 0 "$SMAR" ls --key named.key before.smar after.smar
run 0 "$SMAR" verify --key named.key before.smar after.smar

step "key show never prints key material"
for f in root.key named.key; do
    for fmt in "" --json; do
        run 0 "$SMAR" key show $fmt "$f"
        # every base64 value of the file must be absent from the output
        for material in $(grep -o '"key": *"[^"]*"' "$f" | sed 's/.*"\([^"]*\)"$/\1/'); do
            assert_not_contains out.txt "$material"
        done
    done
done

step "keygen --sign: FILE 0600 and FILE.pub 0644, fingerprints agree"
run 0 "$SMAR" keygen --sign -o sign.key
assert_mode sign.key 600
assert_mode sign.key.pub 644
fp=$(sed -n 's/^fingerprint \([0-9a-f]*\)$/\1/p' out.txt)
[ ${#fp} -eq 32 ] || fail "no fingerprint in keygen output"
run 0 "$SMAR" key show sign.key.pub
assert_contains out.txt "signing public key (Ed25519)"
assert_contains out.txt "fingerprint: $fp"
run 0 "$SMAR" key show --json sign.key
assert_contains out.txt '"kind":	"signing_key"'
assert_contains out.txt "\"fingerprint\":	\"$fp\""
secret=$(sed -n 's/.*"secret_key": *"\([^"]*\)".*/\1/p' sign.key)
[ -n "$secret" ] || fail "cannot find the secret key in sign.key (format changed?)"
assert_not_contains out.txt "$secret"
run 1 "$SMAR" keygen --sign -o sign.key
assert_contains err.txt "exists (use --force to replace it)"
rm sign.key
run 1 "$SMAR" keygen --sign -o sign.key
assert_contains err.txt "'sign.key.pub' exists"
assert_missing sign.key
run 0 "$SMAR" keygen --sign --force -o sign.key
assert_mode sign.key.pub 644

step "passphrase-protected keys: from SMAR_PASSPHRASE, wrong one fails (exit 1)"
SECRET_PASS='correct horse battery staple' run 0 "$SMAR" keygen --passphrase-env SECRET_PASS -o pp.key
assert_mode pp.key 600
run 1 "$SMAR" keygen --passphrase-env UNSET_VARIABLE_X -o pp2.key
assert_contains err.txt "UNSET_VARIABLE_X is not set"
assert_missing pp2.key
SMAR_PASSPHRASE='correct horse battery staple' run 0 "$SMAR" key show pp.key
SMAR_PASSPHRASE='wrong' run 1 "$SMAR" key show pp.key
if have setsid; then
    # without a terminal and without SMAR_PASSPHRASE: a clear error, no hang
    run 1 setsid "$SMAR" key show pp.key </dev/null
    assert_contains err.txt "'pp.key' needs a passphrase: give --passphrase-file pp.key=FILE, set SMAR_PASSPHRASE_FILE or SMAR_PASSPHRASE"
fi
SMAR_PASSPHRASE='correct horse battery staple' run 0 "$SMAR" key rotate pp.key
SMAR_PASSPHRASE='correct horse battery staple' run 0 "$SMAR" key show pp.key
assert_contains out.txt "current:   version 2"
SMAR_PASSPHRASE='wrong' run 1 "$SMAR" key show pp.key
SMAR_PASSPHRASE='correct horse battery staple' run 0 "$SMAR" create -q --key pp.key -o pp.smar ex.json
SMAR_PASSPHRASE='correct horse battery staple' run 0 "$SMAR" ls --key pp.key pp.smar
SIGN_PASS=s3cret run 0 "$SMAR" keygen --sign --passphrase-env SIGN_PASS -o psign.key
SMAR_PASSPHRASE=s3cret SMAR_KEY_FILE=$PWD/root.key run 0 "$SMAR" create -q --sign psign.key -o signed.smar ex.json
run 0 "$SMAR" verify --pubkey psign.key.pub signed.smar

step "a passphrase per key file: --passphrase-file KEYFILE=PASSFILE, SMAR_PASSPHRASE_FILE"
SECRET_PASS='first passphrase' run 0 "$SMAR" keygen --id one --passphrase-env SECRET_PASS -o one.key
SECRET_PASS='second passphrase' run 0 "$SMAR" keygen --id two --passphrase-env SECRET_PASS -o two.key
umask 077
printf 'first passphrase\n' >one.pass
printf 'second passphrase' >two.pass   # no newline: taken as it is
printf 'second passphrase\r\n' >two-crlf.pass
umask 022
run 0 "$SMAR" create -q --key one.key --key two.key --passphrase-file one.key=one.pass \
    --passphrase-file ./two.key=two.pass -o both.smar ex.json
# each key alone opens it (every load runs Argon2id: few commands here)
run 0 "$SMAR" ls --key one.key --passphrase-file one.key=one.pass both.smar
run 0 "$SMAR" extract -q --key two.key --passphrase-file "$PWD/two.key=two.pass" -o two.out both.smar
run 0 "$SMAR" key show --passphrase-file two.key=two-crlf.pass two.key
assert_contains out.txt "id:        two"
# the file of the key wins over SMAR_PASSPHRASE; SMAR_PASSPHRASE_FILE serves every key
SMAR_PASSPHRASE=wrong SMAR_PASSPHRASE_FILE=$PWD/two.pass run 0 "$SMAR" key show \
    --passphrase-file one.key=one.pass one.key
SMAR_PASSPHRASE=wrong SMAR_PASSPHRASE_FILE=$PWD/one.pass run 0 "$SMAR" key rotate one.key
SMAR_PASSPHRASE_FILE=$PWD/one.pass run 0 "$SMAR" key show one.key
assert_contains out.txt "current:   version 2"
# a wrong passphrase in a file is a wrong passphrase (exit 1)
SMAR_PASSPHRASE_FILE=$PWD/one.pass run 1 "$SMAR" key show two.key
assert_not_contains err.txt "first passphrase"

step "passphrase files are checked like key files"
cp one.pass open.pass
chmod 640 open.pass
run 1 "$SMAR" key show --passphrase-file one.key=open.pass one.key
assert_contains err.txt "passphrase file 'open.pass' (--passphrase-file): group or others may read or write it (chmod 600 it)"
SMAR_PASSPHRASE_FILE=open.pass run 1 "$SMAR" key show one.key
assert_contains err.txt "passphrase file 'open.pass' (SMAR_PASSPHRASE_FILE): group or others"
mkdir passdir
chmod 700 passdir
run 1 "$SMAR" key show --passphrase-file one.key=passdir one.key
assert_contains err.txt "not a regular file"
mkfifo pass.fifo
chmod 600 pass.fifo
run 1 "$SMAR" key show --passphrase-file one.key=pass.fifo one.key
assert_contains err.txt "not a regular file"
umask 077
: >empty.pass
printf 'a\nb\n' >two-lines.pass
umask 022
run 1 "$SMAR" key show --passphrase-file one.key=empty.pass one.key
assert_contains err.txt "'empty.pass' (--passphrase-file): it is empty"
run 1 "$SMAR" key show --passphrase-file one.key=two-lines.pass one.key
assert_contains err.txt "more than one line"
run 1 "$SMAR" key show --passphrase-file one.key=missing.pass one.key
assert_contains err.txt "cannot open passphrase file 'missing.pass'"
run 2 "$SMAR" key show --passphrase-file one.pass one.key
assert_contains err.txt "--passphrase-file takes KEYFILE=PASSFILE"
# an unprotected key never reads the file
run 0 "$SMAR" key show --passphrase-file root.key=missing.pass root.key

step "a signing key or a public key given as --key: said what it is and where it goes"
run 1 "$SMAR" ls --key sign.key before.smar
assert_contains err.txt "sign.key: this is a signing key, not a keyring; use it with --sign"
run 1 "$SMAR" create -q --key sign.key.pub -o pub.smar ex.json
assert_contains err.txt "sign.key.pub: this is a producer public key, not a keyring; use it with --pubkey"
assert_missing pub.smar
run 1 "$SMAR" key rotate sign.key
assert_contains err.txt "this is a signing key, not a keyring"

step "a keyring without the archive's key version: which version is needed, which are held"
run 0 "$SMAR" create -q --key named.key -o v3.smar ex.json
# named.key is at version 3; another keyring with its id knows fewer versions
run 0 "$SMAR" keygen --id kp-primary-2026 -o same-id.key
run 1 "$SMAR" ls --key same-id.key v3.smar
assert_contains err.txt "v3.smar: none of the given keys opens a key slot of this archive: it needs key kp-primary-2026 version 3; the given keyring of key kp-primary-2026 holds version 1 only"
run 0 "$SMAR" key rotate same-id.key
run 1 "$SMAR" extract -q --key same-id.key -o v3.out v3.smar
assert_contains err.txt "it needs key kp-primary-2026 version 3; the given keyring of key kp-primary-2026 holds versions 1 to 2 only"
run 1 "$SMAR" ls --key root.key v3.smar
assert_contains err.txt "it needs key kp-primary-2026 version 3 (no given keyring has that key id)"

step "a keyring readable by others is refused"
cp root.key open.key
chmod 644 open.key
run 1 "$SMAR" key show open.key
run 1 "$SMAR" ls --key open.key before.smar

step "key show of a missing or foreign file fails with exit 1"
run 1 "$SMAR" key show nothing-here.key
run 1 "$SMAR" key show ex.json
assert_no_temp .
