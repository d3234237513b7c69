# Damaged or forged archives exit 3 (verify keyless and keyed, inspect, ls, cat, extract),
# wherever the byte is: header fields, key slots, chunks, table, trailer; a wrong key on an
# intact archive exits 1, as does a genuinely newer format; --pubkey makes an unsigned or
# foreign-signed archive a failure (3); verify - reads standard input.
. "$E2E_DIR/lib.sh"
make_key
run 0 "$SMAR" keygen --sign -o sign.key
run 0 "$SMAR" keygen --sign -o other.key
gen ex.json --secrets 40 --payload-bytes 2000
run 0 "$SMAR" create -q --sign sign.key -o good.smar ex.json

# byte_at OFFSET FILE: the byte's value
byte_at() {
    dd if="$2" bs=1 skip="$1" count=1 2>/dev/null | od -An -tu1 | tr -d ' '
}
# flip OFFSET FILE [MASK]: xor one byte in place with MASK (default 255)
flip() {
    v=$(byte_at "$1" "$2")
    printf "\\$(printf %o $((v ^ ${3:-255})))" | dd of="$2" bs=1 seek="$1" conv=notrunc 2>/dev/null
}
json_number() { # FILE KEY: the first number after "KEY": in cJSON's output
    sed -n "s/.*\"$2\":[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

step "the intact archive verifies, keyless and keyed, with its signer"
run 0 "$SMAR" verify --pubkey sign.key.pub good.smar
assert_contains out.txt "good.smar: ok"
assert_contains out.txt "signature:  valid"
run 0 "$SMAR" verify --key root.key --pubkey sign.key.pub good.smar
assert_contains out.txt "secrets:    40 checked ("
assert_contains out.txt "), 0 bad"

step "inspect and verify count alike: secrets, versions, payloads, chunks"
run 0 "$SMAR" inspect --key root.key good.smar
INSPECT_COUNTS=$(sed -n 's/^secrets: *40 (\(.*\))$/\1/p' out.txt)
INSPECT_CHUNKS=$(sed -n 's/^chunks: *\([0-9]*\)$/\1/p' out.txt)
[ -n "$INSPECT_COUNTS" ] && [ -n "$INSPECT_CHUNKS" ] || fail "inspect shows no counts"
run 0 "$SMAR" verify --key root.key good.smar
assert_contains out.txt "secrets:    40 checked ($INSPECT_COUNTS), 0 bad"
assert_contains out.txt "chunks:     $INSPECT_CHUNKS checked, 0 bad"
run 0 "$SMAR" inspect --json --key root.key good.smar
VERSIONS=$(json_number out.txt versions)
PAYLOADS=$(json_number out.txt payloads)
run 0 "$SMAR" verify --json --key root.key good.smar
assert_eq "$(json_number out.txt versions_checked)" "$VERSIONS" "versions_checked"
assert_eq "$(json_number out.txt payloads_checked)" "$PAYLOADS" "payloads_checked"

step "one flipped byte in the payload section"
run 0 "$SMAR" inspect --json good.smar
HDR=$(json_number out.txt header_size)
PAY=$(sed -n '/"payload":/,/}/p' out.txt | sed -n 's/.*"bytes":[[:space:]]*\([0-9]*\).*/\1/p')
[ -n "$HDR" ] && [ -n "$PAY" ] || fail "cannot read header_size / payload bytes from inspect --json"
cp good.smar bad.smar
flip $((HDR + PAY / 2)) bad.smar
run 3 "$SMAR" verify bad.smar
assert_contains out.txt "bad.smar: DAMAGED"
assert_contains out.txt "problem: chunk"
assert_contains out.txt "(payload section)"
run 3 "$SMAR" verify --json bad.smar
assert_contains out.txt '"status":	"damaged"'
assert_contains out.txt '"kind":	"chunk_hash"'
assert_contains out.txt '"ok":	false'
run 3 "$SMAR" verify --key root.key bad.smar
assert_contains out.txt "problem: secret "
ID=$(sed -n 's/^  problem: secret \([^ ]*\) .*/\1/p' out.txt | head -n 1)
[ -n "$ID" ] || fail "no damaged secret named by keyed verify"
NAME=$(sed -n "s/^  problem: secret $ID \"\\([^\"]*\\)\".*/\\1/p" out.txt | head -n 1)
[ -n "$NAME" ] || fail "keyed verify names the secret by id only"
run 3 "$SMAR" verify --key root.key --json bad.smar
assert_contains out.txt "\"secret_id\":	\"$ID\""
assert_contains out.txt '"secret_name":'
# secrets_bad counts secrets, not problems (a secret's versions share its chunk)
DISTINCT=$(sed -n 's/.*"secret_id":[[:space:]]*"\([^"]*\)".*/\1/p' out.txt | sort -u | wc -l)
PROBLEMS=$(count_lines out.txt '"secret_id":	"')
[ "$PROBLEMS" -gt "$DISTINCT" ] || fail "expected several problems per secret ($PROBLEMS, $DISTINCT)"
assert_eq "$(json_number out.txt secrets_bad)" "$DISTINCT" "secrets_bad"

step "reading a damaged payload exits 3 and prints nothing"
run 3 "$SMAR" cat --id "$ID" bad.smar
assert_empty out.txt
run 3 "$SMAR" extract -q -o all.json bad.smar
assert_missing all.json
assert_no_temp .
# metadata lives elsewhere: listing still works
run 0 "$SMAR" ls bad.smar

step "verify several archives: each reported, the worst status wins"
run 3 "$SMAR" verify good.smar bad.smar
assert_contains out.txt "good.smar: ok"
assert_contains out.txt "bad.smar: DAMAGED"
run 3 "$SMAR" verify -q good.smar bad.smar
assert_not_contains out.txt "good.smar"
assert_contains out.txt "bad.smar: DAMAGED"
run 0 "$SMAR" verify -q good.smar
assert_empty out.txt

step "damage anywhere is caught: header, middle, end"
SIZE=$(stat -c %s good.smar)
for off in 40 $((HDR - 1)) $((SIZE / 2)) $((SIZE - 40)) $((SIZE - 1)); do
    cp good.smar at.smar
    flip "$off" at.smar
    if "$SMAR" verify --key root.key at.smar >out.txt 2>err.txt; then rc=0; else rc=$?; fi
    [ "$rc" = 3 ] || fail "byte $off flipped: keyed verify exited $rc, expected 3"
    if "$SMAR" verify at.smar >out.txt 2>err.txt; then rc=0; else rc=$?; fi
    [ "$rc" = 3 ] || fail "byte $off flipped: keyless verify exited $rc, expected 3"
done

step "truncated archives and files that are not archives"
head -c $((SIZE - 100)) good.smar >short.smar
run 3 "$SMAR" verify short.smar
run 3 "$SMAR" inspect short.smar
run 3 "$SMAR" cat --id "$ID" short.smar
assert_empty out.txt
head -c 100 good.smar >tiny.smar
run 3 "$SMAR" verify tiny.smar
cp ex.json notanarchive.smar
run 3 "$SMAR" inspect notanarchive.smar
: >empty.smar
run 3 "$SMAR" verify empty.smar
run 1 "$SMAR" verify missing.smar
assert_contains err.txt "missing.smar"

step "a wrong key exits 1 and names the problem"
run 0 "$SMAR" keygen -o wrong.key
for cmd in "ls" "inspect" "verify"; do
    run 1 "$SMAR" $cmd --key wrong.key good.smar
    assert_contains err.txt "none of the given keys opens a key slot"
done
run 1 "$SMAR" cat --key wrong.key --id "$ID" good.smar
assert_empty out.txt
run 1 "$SMAR" extract --key wrong.key -o w.json good.smar
assert_missing w.json

step "a key with the right id but other material looks like a forgery: 3"
KID=$("$SMAR" key show --json root.key | sed -n 's/.*"id":[[:space:]]*"\([^"]*\)".*/\1/p')
run 0 "$SMAR" keygen --id "$KID" -o impostor.key
run 3 "$SMAR" ls --key impostor.key good.smar
run 3 "$SMAR" cat --key impostor.key --id "$ID" good.smar
assert_empty out.txt

step "--pubkey: unsigned or signed by another key is a failure (3)"
run 0 "$SMAR" create -q -o unsigned.smar ex.json
run 0 "$SMAR" verify unsigned.smar
assert_contains out.txt "signature:  absent"
run 3 "$SMAR" verify --pubkey sign.key.pub unsigned.smar
assert_contains out.txt "the archive is not signed"
assert_contains out.txt "unsigned.smar: NOT AUTHENTIC"
run 3 "$SMAR" verify --pubkey other.key.pub good.smar
assert_contains out.txt "good.smar: NOT AUTHENTIC"
assert_contains out.txt "signature:  other-signer"
run 3 "$SMAR" verify --json --pubkey other.key.pub good.smar
assert_contains out.txt '"signature":	"other-signer"'
assert_contains out.txt '"status":	"not_authentic"'
run 3 "$SMAR" verify --json --pubkey sign.key.pub unsigned.smar
assert_contains out.txt '"signature":	"absent"'
assert_contains out.txt '"status":	"not_authentic"'
run 0 "$SMAR" verify --json --pubkey sign.key.pub good.smar
assert_contains out.txt '"signature":	"valid"'
assert_contains out.txt '"signer_checked":	true'
assert_contains out.txt '"status":	"ok"'
# without --pubkey a signature is checked against the key it names only: said so
run 0 "$SMAR" verify --json good.smar
assert_contains out.txt '"signature":	"valid-unpinned"'
assert_contains out.txt '"signer_checked":	false'
run 0 "$SMAR" verify good.smar
assert_contains out.txt "signature:  valid-unpinned (valid for the key it names; who signed is not checked"
# a signature byte changed: invalid, with or without --pubkey (format 2's root hash covers
# the signature too, so the file is also damaged)
TRAILER=$(($(stat -c %s good.smar) - 216))
cp good.smar badsig.smar
flip $((TRAILER + 140)) badsig.smar 1
run 3 "$SMAR" verify --json --pubkey sign.key.pub badsig.smar
assert_contains out.txt '"signature":	"invalid"'
assert_contains out.txt '"root_hash_ok":	false'
run 3 "$SMAR" verify badsig.smar
assert_contains out.txt "signature:  invalid"

step "verify - reads the archive from standard input"
run 0 sh -c '"$0" verify --pubkey sign.key.pub - <good.smar' "$SMAR"
assert_contains out.txt "(stdin): ok"
assert_contains out.txt "signature:  valid"
run 3 sh -c '"$0" verify - <bad.smar' "$SMAR"
assert_contains out.txt "(stdin): DAMAGED"
run 3 sh -c '"$0" verify --pubkey other.key.pub --json - <good.smar' "$SMAR"
assert_contains out.txt '"signature":	"other-signer"'
run 0 sh -c '"$0" verify --key root.key - <good.smar' "$SMAR"
assert_contains out.txt "secrets:    40 checked ($INSPECT_COUNTS), 0 bad"
run 3 sh -c 'cat good.smar | "$0" verify - bad.smar' "$SMAR"
assert_contains out.txt "(stdin): ok"
assert_contains out.txt "bad.smar: DAMAGED"
run 3 sh -c '"$0" verify - <short.smar' "$SMAR"
run 2 "$SMAR" verify - -
assert_no_temp .

step "a byte changed in any region is damage (3), keyless and with either slot's key"
run 0 "$SMAR" keygen -o dr.key
run 0 "$SMAR" create -q --key root.key --key dr.key --sign sign.key -o two.smar ex.json
run 0 "$SMAR" inspect --json two.smar
HDR2=$(json_number out.txt header_size)
SIZE2=$(stat -c %s two.smar)
T2=$((SIZE2 - 216))
NCHUNKS2=$(json_number out.txt chunk_count)
# format 2: chunk table || slot area (its length at trailer byte 36) || trailer
SLEN2=$(($(byte_at $((T2 + 36)) two.smar) + 256 * $(byte_at $((T2 + 37)) two.smar)))
SL2=$((T2 - SLEN2))
TAB2=$((SL2 - 48 * NCHUNKS2))
K0=$(byte_at $((SL2 + 6)) two.smar) # slot 0: provider +4, flags +5, key id length +6, key id +7..
S1=$((SL2 + 4 + 3 + K0 + 1 + 4 + 4 + 72))
K1=$(byte_at $((S1 + 2)) two.smar)
# OFFSET:MASK pairs: header fields (version, minor, length, flags, suite, compression,
# chunk size, archive id, times, dek_commit, reserved), a chunk, every field of a table
# entry, the slot area (count, reserved) and every slot field (provider, flags, key id
# length, key id kept printable, version kind, key version, wrapped length, wrapped key),
# and every field of the trailer
REGIONS="8:255 9:1 10:1 12:1 16:1 19:128 20:2 20:3 21:1 22:2 24:1 28:1 44:1 52:1 60:1 91:1 92:1
$((HDR2 - 1)):1 $((HDR2 + 5)):1 $(((HDR2 + TAB2) / 2)):1 $((TAB2 - 1)):1
$TAB2:1 $((TAB2 + 8)):1 $((TAB2 + 12)):1 $((TAB2 + 13)):2 $((TAB2 + 14)):1 $((TAB2 + 20)):1
$SL2:1 $((SL2 + 2)):1 $((SL2 + 4)):2 $((SL2 + 5)):1 $((SL2 + 6)):1 $((SL2 + 7)):1
$((SL2 + 7 + K0)):2 $((SL2 + 8 + K0)):2 $((SL2 + 12 + K0)):1 $((SL2 + 16 + K0 + 30)):1
$S1:2 $((S1 + 1)):1 $((S1 + 3)):1 $((S1 + 3 + K1)):2 $((S1 + 4 + K1)):1 $((S1 + 8 + K1)):1
$((S1 + 12 + K1 + 40)):1
$T2:1 $((T2 + 8)):1 $((T2 + 12)):2 $((T2 + 16)):1 $((T2 + 32)):1 $((T2 + 36)):1
$((T2 + 40)):1 $((T2 + 72)):1 $((T2 + 104)):1 $((T2 + 140)):1 $((T2 + 200)):1
$((T2 + 201)):1 $((T2 + 202)):1 $((T2 + 204)):1 $((T2 + 210)):1"
for region in $REGIONS; do
    off=${region%:*}
    cp two.smar at.smar
    flip "$off" at.smar "${region#*:}"
    for keyopt in "" "--key root.key" "--key dr.key" "--pubkey sign.key.pub"; do
        # shellcheck disable=SC2086
        if "$SMAR" verify $keyopt at.smar >out.txt 2>err.txt; then rc=0; else rc=$?; fi
        [ "$rc" = 3 ] || fail "byte $region changed: verify $keyopt exited $rc, expected 3"
    done
done

step "what used to look unsupported or like a wrong key is damage for every command"
cp two.smar flags.smar
flip 16 flags.smar 1 # header flags
run 3 "$SMAR" inspect flags.smar
assert_contains err.txt "damaged, not a newer format"
run 3 "$SMAR" ls --key root.key flags.smar
cp two.smar slot.smar
flip $((SL2 + 7)) slot.smar 1 # a key id byte of slot 0, still printable
run 3 "$SMAR" verify --key root.key slot.smar
assert_contains out.txt "slot.smar: DAMAGED"
assert_contains out.txt "root hash:  MISMATCH"
assert_not_contains err.txt "none of the given keys"
run 3 "$SMAR" ls --key root.key slot.smar
assert_contains err.txt "is damaged"
run 3 "$SMAR" inspect --key root.key slot.smar
run 3 "$SMAR" cat --key root.key --id "$ID" slot.smar
assert_empty out.txt
run 3 "$SMAR" extract --key root.key -o slot.json slot.smar
assert_missing slot.json
cp two.smar kver.smar
flip $((SL2 + 8 + K0)) kver.smar 2 # slot 0's key version 1 -> 3 (the keyring lacks it)
run 3 "$SMAR" ls --key root.key kver.smar
run 3 "$SMAR" verify --key root.key kver.smar

step "a format 1 body claiming format 2 is damaged (3); a newer format stays unsupported (1)"
run 3 "$SMAR" verify "$E2E_DIR/../../spec/vectors/v1/neg-version2.smar"
assert_contains err.txt "slot area of 0 bytes"
run 3 "$SMAR" inspect "$E2E_DIR/../../spec/vectors/v1/neg-version2.smar"
cp good.smar v3.smar
flip 8 v3.smar 1                  # header major 2 -> 3
flip $((TRAILER + 200)) v3.smar 1 # trailer major 2 -> 3
run 1 "$SMAR" verify v3.smar
assert_contains err.txt "unsupported archive format version 3"
run 1 "$SMAR" verify --pubkey no-such.pub good.smar
