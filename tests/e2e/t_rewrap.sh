# smar rewrap: key rotation without re-encryption. An archive made with key A (signed) is
# rewrapped after `key rotate A`; once version 1 of A is destroyed, the rewrapped archive
# opens with A and the original does not (exit 1). The copy is the same archive: same
# signature bytes (verify --pubkey passes), same header, chunk and table bytes, same
# extract. Slots can be added (a recipient) and removed; removing every slot is refused; a
# damaged source is refused with exit 3 and no output file.
. "$E2E_DIR/lib.sh"

# Byte ranges of a format 2 archive from its trailer: "table_end slot_len" and the
# signature (trailer bytes 136..200) in hex.
body_end() {
    python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(); t=d[-216:]
off,n=struct.unpack_from("<QI",t,0)
print(off+48*n)' "$1"
}
signature_hex() {
    python3 -c 'import sys; print(open(sys.argv[1],"rb").read()[-216:][136:200].hex())' "$1"
}
same_body() { # A B: header, chunks and table identical
    ea=$(body_end "$1")
    eb=$(body_end "$2")
    assert_eq "$eb" "$ea" "end of the chunk table"
    cmp -s -n "$ea" "$1" "$2" || fail "$1 and $2 differ before the end of the chunk table"
}

run 0 "$SMAR" keygen -o a.key
run 0 "$SMAR" keygen --sign -o prod.key
run 0 "$SMAR" keygen --recipient -o b
B_ID=$(sed -n 's/.*"id": "\([^"]*\)".*/\1/p' b.pub | head -n 1)
A_ID=$(sed -n 's/.*"key_id": "\([^"]*\)".*/\1/p' a.key | head -n 1)
[ -n "$A_ID" ] && [ -n "$B_ID" ] || fail "key ids not found"
gen ex.json --secrets 30 --payload-bytes 400
run 0 "$SMAR" create -q --key a.key --sign prod.key -o orig.smar ex.json
run 0 "$SMAR" extract --key a.key -o orig.json orig.smar

step "rotate A, rewrap --key A: slot rewrapped, chunks and signature unchanged"
run 0 "$SMAR" key rotate a.key
run 0 "$SMAR" rewrap --key a.key --pubkey prod.key.pub -o new.smar orig.smar
assert_contains out.txt "slots 1 -> 1 (1 rewrapped, 0 added, 0 removed, 0 kept)"
assert_contains out.txt "copied unchanged"
same_body orig.smar new.smar
assert_eq "$(signature_hex new.smar)" "$(signature_hex orig.smar)" "signature bytes"
cmp -s orig.smar new.smar && fail "the rewrapped archive is the original"
run 0 "$SMAR" verify --pubkey prod.key.pub new.smar
assert_contains out.txt "valid"
run 0 "$SMAR" verify --key a.key --pubkey prod.key.pub new.smar

step "rewrap again: the slot is at the current version already, kept byte for byte"
run 0 "$SMAR" rewrap --key a.key -o again.smar new.smar
assert_contains out.txt "(0 rewrapped, 0 added, 0 removed, 1 kept)"
assert_same new.smar again.smar

step "destroy version 1 of A: the rewrapped archive opens, the original does not"
run 2 "$SMAR" key destroy-version --version 1 a.key
assert_contains err.txt "--yes"
run 1 "$SMAR" key destroy-version --version 2 --yes a.key
assert_contains err.txt "current version"
run 0 "$SMAR" key destroy-version --version 1 --yes a.key
assert_contains a.key '"destroyed_at"'
[ "$(grep -c '"key":' a.key)" = 1 ] || fail "a.key still holds the key of version 1"
run 0 "$SMAR" key show a.key
assert_contains out.txt "(destroyed)"
run 0 "$SMAR" extract --key a.key --pubkey prod.key.pub -o new.json new.smar
assert_same orig.json new.json
run 1 "$SMAR" ls --key a.key orig.smar
assert_contains err.txt "version 1 of key $A_ID was destroyed"

step "a sealed keyring: destroy-version keeps it sealed, the marker is bound to it"
SECRET_PASS='pp words' run 0 "$SMAR" keygen --passphrase-env SECRET_PASS -o pp.key
SMAR_PASSPHRASE='pp words' run 0 "$SMAR" key rotate pp.key
SMAR_PASSPHRASE='pp words' run 0 "$SMAR" key destroy-version --version 1 --yes pp.key
assert_contains pp.key '"destroyed_at"'
assert_contains pp.key '"sealed"'
SMAR_PASSPHRASE='pp words' run 0 "$SMAR" key show pp.key
assert_contains out.txt "(destroyed)"
python3 -c 'import sys,re
p=sys.argv[1]; s=open(p).read()
s=re.sub(r", \"destroyed_at\": \"[^\"]*\"", "", s, count=1); open(p,"w").write(s)' pp.key
SMAR_PASSPHRASE='pp words' run 1 "$SMAR" key show pp.key

step "--add-key a recipient, open with its identity (pinned); --remove-key A leaves B only"
run 0 "$SMAR" rewrap --key a.key --add-key b.pub -o withb.smar new.smar
assert_contains out.txt "slots 1 -> 2 (0 rewrapped, 1 added, 0 removed, 1 kept)"
same_body orig.smar withb.smar
run 0 "$SMAR" ls --key b --pubkey prod.key.pub withb.smar
run 3 "$SMAR" ls --key b withb.smar
run 0 "$SMAR" rewrap --key b --pubkey prod.key.pub --remove-key "$A_ID" -o bonly.smar withb.smar
assert_contains out.txt "slots 2 -> 1"
run 0 "$SMAR" inspect bonly.smar
assert_contains out.txt "$B_ID"
assert_not_contains out.txt "$A_ID"
run 1 "$SMAR" ls --key a.key bonly.smar
run 0 "$SMAR" extract --key b --pubkey prod.key.pub -o bonly.json bonly.smar
assert_same orig.json bonly.json
run 0 "$SMAR" verify --pubkey prod.key.pub bonly.smar

step "a recipient-opened archive is not rewrapped without a pinned producer (exit 3)"
run 3 "$SMAR" rewrap --key b -o unpinned.smar bonly.smar
assert_missing unpinned.smar
assert_no_temp .
run 0 "$SMAR" rewrap --key b --no-signer-check -o unpinned.smar bonly.smar

step "refusals: no slot left, unknown id, key without a slot, outputs"
run 1 "$SMAR" rewrap --key a.key --remove-key "$A_ID" -o none.smar new.smar
assert_contains err.txt "without a key slot"
assert_missing none.smar
run 1 "$SMAR" rewrap --key a.key --remove-key no-such-key -o none.smar new.smar
assert_contains err.txt "no key slot of key 'no-such-key'"
run 1 "$SMAR" rewrap --key a.key --add-key a.key -o none.smar new.smar
run 1 "$SMAR" rewrap --key a.key -o new.smar new.smar
assert_missing none.smar
run 1 "$SMAR" rewrap --key a.key -o withb.smar new.smar
assert_contains err.txt "exists"
run 0 "$SMAR" rewrap --key a.key --force -o withb.smar new.smar
assert_same new.smar withb.smar
run 2 "$SMAR" rewrap --key a.key new.smar
run 2 "$SMAR" rewrap --key a.key -o - new.smar
run 0 "$SMAR" keygen --sign -o other.key
run 3 "$SMAR" rewrap --key a.key --pubkey other.key.pub -o none.smar new.smar
assert_contains err.txt "not signed by a trusted producer"
assert_missing none.smar

step "a bit flipped in a chunk of the source: exit 3, nothing written"
cp new.smar flipped.smar
python3 -c 'import sys
p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[200]^=1; open(p,"wb").write(d)' flipped.smar
run 3 "$SMAR" rewrap --key a.key -o out.smar flipped.smar
assert_contains err.txt "chunk 0"
assert_missing out.smar
assert_no_temp .

step "format 1 archives are refused"
V1="$SMAR_SOURCE_DIR/spec/vectors/v1"
[ -f "$V1/v1-basic.smar" ] || fail "no format 1 vector at $V1"
cp "$V1/keyring-a.json" v1.key
chmod 600 v1.key
run 1 "$SMAR" rewrap --key v1.key -o v1out.smar "$V1/v1-basic.smar"
assert_contains err.txt "format 1 slots are frozen"
assert_missing v1out.smar
echo "t_rewrap: ok"
