# Public-key recipients (X25519): `keygen --recipient` writes an identity (0600) and its
# recipient FILE.pub (0644); `create --key FILE.pub` wraps to it on a host that cannot open
# what it wrote; `--key FILE` (the identity) opens. Anyone can encrypt to a recipient, so an
# archive opened through one is refused (exit 3) unless the producer is pinned (--pubkey,
# $SMAR_PUBKEY) or --no-signer-check is given. A recipient never opens (exit 1, message).
# verify takes --pubkey repeatable and $SMAR_PUBKEY.
#
# Recipient slots need archive format 2 (key version 0, provider id 2). Until the writer
# writes format 2, the part "archives wrapped to a recipient" checks that create refuses
# the recipient (exit 1) and stops there; with format 2 it runs whole.
. "$E2E_DIR/lib.sh"
make_key

step "keygen --recipient: identity 0600, recipient 0644, default id from the key"
run 0 "$SMAR" keygen --recipient -o dr
assert_mode dr 600
assert_mode dr.pub 644
assert_contains dr '"type": "smar-recipient-identity"'
assert_contains dr.pub '"type": "smar-recipient"'
assert_not_contains dr.pub 'secret'
DR_ID=$(sed -n 's/.*"id": "\(x25519-[0-9a-f]\{16\}\)".*/\1/p' dr.pub)
[ -n "$DR_ID" ] || fail "no default x25519- id in dr.pub: $(cat dr.pub)"
assert_contains dr "\"id\": \"$DR_ID\""
assert_contains out.txt "$DR_ID"
cp dr dr.before
run 1 "$SMAR" keygen --recipient -o dr
assert_contains err.txt "exists (use --force to replace it)"
assert_same dr dr.before
run 0 "$SMAR" keygen --recipient -o dr2
cp dr2.pub dr2.pub.before
run 1 "$SMAR" keygen --recipient -o dr2
run 0 "$SMAR" keygen --recipient --force -o dr2
cmp -s dr2.pub dr2.pub.before && fail "--force did not replace dr2.pub"
run 0 "$SMAR" keygen --recipient --id offsite-2026 -o named
assert_contains named.pub '"id": "offsite-2026"'
run 2 "$SMAR" keygen --recipient --id "has space" -o bad
assert_missing bad
assert_missing bad.pub
run 2 "$SMAR" keygen --recipient --sign -o bad
run 0 "$SMAR" keygen --sign -o producer.key
run 0 "$SMAR" keygen --sign -o other.key

step "verify: --pubkey repeatable (any of them), \$SMAR_PUBKEY its default"
gen ex.json --secrets 10 --payload-bytes 200
run 0 "$SMAR" create -q --sign producer.key -o signed.smar ex.json
run 0 "$SMAR" verify signed.smar
assert_contains out.txt "valid-unpinned"
run 0 "$SMAR" verify --pubkey other.key.pub --pubkey producer.key.pub signed.smar
assert_contains out.txt "signature:  valid,"
run 3 "$SMAR" verify --pubkey other.key.pub signed.smar
assert_contains out.txt "other-signer"
run 3 env SMAR_PUBKEY="$PWD/other.key.pub" "$SMAR" verify signed.smar
assert_contains out.txt "other-signer"
run 0 env SMAR_PUBKEY="$PWD/other.key.pub:$PWD/producer.key.pub" "$SMAR" verify signed.smar
run 0 env SMAR_PUBKEY="$PWD/other.key.pub:$PWD/producer.key.pub" "$SMAR" verify --json \
    signed.smar
assert_contains out.txt '"required_signer_fingerprints"'

step "archives wrapped to a recipient"
# The producer holds the recipient and its signing key only: no keyring.
if "$SMAR" --version | grep -q "archive format 1\."; then
    run 1 env -u SMAR_KEY_FILE "$SMAR" create -q --key dr.pub --sign producer.key \
        -o byrecipient.smar ex.json
    assert_contains err.txt "needs archive format 2"
    assert_missing byrecipient.smar
    echo "t_recipient: the writer writes format 1; the rest waits for format 2"
    exit 0
fi
run 0 env -u SMAR_KEY_FILE "$SMAR" create -q --key dr.pub --sign producer.key \
    -o byrecipient.smar ex.json
run 0 env -u SMAR_KEY_FILE "$SMAR" create -q --key dr.pub -o unsigned.smar ex.json
run 0 "$SMAR" inspect byrecipient.smar
assert_contains out.txt "$DR_ID"

step "the recipient cannot open what it wrapped: exit 1, use the identity"
run 1 env -u SMAR_KEY_FILE "$SMAR" ls --key dr.pub byrecipient.smar
assert_empty out.txt
assert_contains err.txt "a recipient (public key) cannot open archives; use its identity file"
run 1 env -u SMAR_KEY_FILE "$SMAR" ls --key dr.pub --pubkey producer.key.pub byrecipient.smar
assert_contains err.txt "use its identity file"

# refused_unpinned cmd...: exit 3, nothing on stdout, the reason on stderr
refused_unpinned() {
    run 3 "$@"
    assert_empty out.txt
    assert_contains err.txt "opened with a public-key recipient, which anyone can encrypt to: pin the producer with --pubkey (or --no-signer-check)"
}

step "opened by the identity without a pinned producer: refused (exit 3)"
run 0 "$SMAR" ls --key dr.pub --key root.key --json signed.smar
ID=$(sed -n 's/.*"id":[[:space:]]*"\([^"]*\)".*/\1/p' out.txt | head -n 1)
[ -n "$ID" ] || fail "no secret id in ls --json"
refused_unpinned "$SMAR" ls --key dr byrecipient.smar
refused_unpinned "$SMAR" cat --key dr --id "$ID" byrecipient.smar
refused_unpinned "$SMAR" extract -q --key dr -o refused.json byrecipient.smar
assert_missing refused.json
refused_unpinned "$SMAR" inspect --key dr byrecipient.smar
run 3 "$SMAR" verify --key dr byrecipient.smar
assert_contains err.txt "opened with a public-key recipient"
assert_contains out.txt "NOT AUTHENTIC"
# keyless verify decrypts nothing: no rule to apply
run 0 "$SMAR" verify byrecipient.smar

step "with the producer pinned: every reading command passes"
run 0 "$SMAR" ls --key dr --pubkey producer.key.pub byrecipient.smar
assert_contains out.txt "$ID"
run 0 "$SMAR" cat --key dr --pubkey producer.key.pub --id "$ID" byrecipient.smar
assert_nonempty out.txt
run 0 "$SMAR" extract -q --key dr --pubkey producer.key.pub -o pinned.json byrecipient.smar
assert_exists pinned.json
run 0 "$SMAR" inspect --key dr --pubkey producer.key.pub byrecipient.smar
run 0 "$SMAR" verify --key dr --pubkey other.key.pub --pubkey producer.key.pub byrecipient.smar
run 0 env SMAR_PUBKEY="$PWD/producer.key.pub" "$SMAR" ls --key dr byrecipient.smar
# pinned, but signed by someone else (or not at all): the pin refuses it
run 3 "$SMAR" ls --key dr --pubkey other.key.pub byrecipient.smar
assert_contains err.txt "not signed by a trusted producer"
run 3 "$SMAR" ls --key dr --pubkey producer.key.pub unsigned.smar
assert_contains err.txt "not signed by a trusted producer"

step "--no-signer-check reads it anyway (unsafe)"
run 0 "$SMAR" ls --key dr --no-signer-check byrecipient.smar
assert_contains out.txt "$ID"
run 0 "$SMAR" ls --key dr --no-signer-check unsigned.smar
run 0 "$SMAR" cat --key dr --no-signer-check --id "$ID" unsigned.smar
run 0 "$SMAR" verify --key dr --no-signer-check unsigned.smar

step "mixed keys: --key root.key --key dr.pub; both open"
run 0 "$SMAR" create -q --key root.key --key dr.pub -o mixed.smar ex.json
run 0 "$SMAR" ls --key root.key mixed.smar
assert_contains out.txt "$ID"
run 0 "$SMAR" ls --key dr --no-signer-check mixed.smar
assert_contains out.txt "$ID"
refused_unpinned "$SMAR" ls --key dr mixed.smar
run 0 "$SMAR" extract -q --key root.key -o mixed.json mixed.smar
assert_same mixed.json pinned.json
