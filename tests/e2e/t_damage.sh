# Damaged or forged archives exit 3 (verify keyless and keyed, cat, extract); a wrong key
# exits 1; --pubkey makes an unsigned or foreign-signed archive a failure (3).
. "$E2E_DIR/lib.sh"
make_key
run 0 "$SMAR" keygen --sign -o sign.key
run 0 "$SMAR" keygen --sign -o other.key
gen ex.json --secrets 40 --payload-bytes 2000
run 0 "$SMAR" create -q --sign sign.key -o good.smar ex.json

# flip OFFSET FILE: invert one byte in place
flip() {
    v=$(dd if="$2" bs=1 skip="$1" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    printf "\\$(printf %o $((v ^ 255)))" | dd of="$2" bs=1 seek="$1" conv=notrunc 2>/dev/null
}
json_number() { # FILE KEY: the first number after "KEY": in cJSON's output
    sed -n "s/.*\"$2\":[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

step "the intact archive verifies, keyless and keyed, with its signer"
run 0 "$SMAR" verify --pubkey sign.key.pub good.smar
assert_contains out.txt "good.smar: ok"
assert_contains out.txt "signature:  valid"
run 0 "$SMAR" verify --key root.key --pubkey sign.key.pub good.smar
assert_contains out.txt "secrets:    40 checked, 0 bad"

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
run 3 "$SMAR" verify --json --pubkey other.key.pub good.smar
assert_contains out.txt '"signature":	"invalid"'
assert_contains out.txt '"status":	"not_authentic"'
run 0 "$SMAR" verify --json --pubkey sign.key.pub good.smar
assert_contains out.txt '"signature":	"valid"'
assert_contains out.txt '"status":	"ok"'
run 1 "$SMAR" verify --pubkey no-such.pub good.smar
