# s3://BUCKET/PREFIX/ as a series, against s3rver behind the checking proxy (s3lib.sh):
# create -o s3://B/P/ names objects INSTANCE/YYYYMMDDTHHMMSSZ-ID8.smar; ls, cat, extract and
# verify take the prefix; a series query lists once and reads only the archives it needs
# (GETs counted per key by the proxy); a single-archive cat stays within 5 requests and 2x
# the bytes the same cat reads from a local file (pread64 counted with strace).
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

# s3rver makes ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) only
# has in the legacy provider: without it every truncated listing is a 500.
NODE_OPTIONS=--openssl-legacy-provider
export NODE_OPTIONS
s3_start
make_key
B=$S3_BUCKET

# Requests (GET, and HEAD where s3rver does not honour suffix ranges) per object key in
# s3requests.log; the listing is a GET on the bucket, with no key.
gets_of() { # KEY-SUBSTRING
    grep -c "\"path\": \"[^\"]*$1" s3requests.log || true
}

step "create -o s3://B/P/: names sort by time and say the instance and snapshot"
for k in 1 2 3 4 5 6 7 8 9 10; do
    gen "snap$k.json" --secrets 40 --seed 3 --snapshot "$k" --of 10
    run 0 "$SMAR" create -q -o "s3://$B/nightly/" "snap$k.json"
    run 0 "$SMAR" create -q -o "snap$k.smar" "snap$k.json"
done
s3_aws s3 ls --recursive "s3://$B/nightly/" | awk '{print $4}' >names.txt
[ "$(wc -l <names.txt)" = 10 ] || fail "expected 10 objects: $(cat names.txt)"
sort names.txt | cmp -s - names.txt || fail "names do not sort: $(cat names.txt)"
grep -Eq '^nightly/[A-Za-z0-9._-]+/20261111T020000Z-[0-9a-f]{8}\.smar$' names.txt ||
    fail "unexpected names: $(cat names.txt)"
grep -Eq '/20261120T020000Z-[0-9a-f]{8}\.smar$' names.txt || fail "no name for the last snapshot"

step "a prefix without an archive, or of two instances, is refused (exit 1)"
run 1 "$SMAR" ls "s3://$B/nothing-here/"
assert_contains err.txt "no archive"
gen other.json --secrets 5 --seed 99 --instance-region eu-de
run 0 "$SMAR" create -q -o "s3://$B/mixed/" other.json
run 0 "$SMAR" create -q -o "s3://$B/mixed/" snap1.json
run 1 "$SMAR" cat --id x "s3://$B/mixed/"
assert_contains err.txt "more than one instance"

step "ls and verify of a prefix: every archive under it"
run 0 "$SMAR" verify "s3://$B/nightly/"
[ "$(grep -c ': ok' out.txt)" = 10 ] || fail "verify did not check 10 archives: $(cat out.txt)"
run 0 "$SMAR" ls "s3://$B/nightly/"
cp out.txt ls-s3.txt
run 0 "$SMAR" ls snap1.smar snap2.smar snap3.smar snap4.smar snap5.smar snap6.smar \
    snap7.smar snap8.smar snap9.smar snap10.smar
# Headings name the archives; the listed secrets are the same.
grep -v '^==' ls-s3.txt | grep -v '^s3://' >a.txt
grep -v '^==' out.txt | grep -v 'snap[0-9]*\.smar' >b.txt
assert_same a.txt b.txt

step "cat --at T from the prefix: one listing, GETs on the deciding and the next archive only"
# Slot 0 ("app-config") is in every snapshot and rotated on some.
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"][0]["id"])' snap10.json)
T=2026-11-16T12:00:00Z # between snapshot 6 (11-16 02:00) and 7 (11-17 02:00)
run 0 "$SMAR" cat --at "$T" --id "$id" snap1.smar snap2.smar snap3.smar snap4.smar \
    snap5.smar snap6.smar snap7.smar snap8.smar snap9.smar snap10.smar
cp out.txt cat-local.txt
: >s3requests.log
run 0 "$SMAR" cat --at "$T" --id "$id" "s3://$B/nightly/"
assert_same cat-local.txt out.txt
lists=$(grep '"method": "GET"' s3requests.log | grep -c 'list-type=2' || true)
[ "$lists" = 1 ] || fail "expected one listing, saw $lists"
for d in 11 12 13 14 15 18 19 20; do
    [ "$(gets_of "/202611${d}T")" = 0 ] || fail "cat --at read the archive of 11-$d"
done
[ "$(gets_of /20261116T)" -ge 1 ] || fail "cat --at did not read the deciding snapshot"

step "cat without --at reads the newest archive alone"
: >s3requests.log
run 0 "$SMAR" cat --id "$id" "s3://$B/nightly/"
run 0 "$SMAR" cat --id "$id" snap10.smar
for d in 11 12 13 14 15 16 17 18 19; do
    [ "$(gets_of "/202611${d}T")" = 0 ] || fail "cat read the archive of 11-$d"
done

step "a secret the deciding snapshot lacks: the older archives are asked (deleted)"
# Slot 40 - k + 1 leaves at snapshot k: slot 36 (in snapshots 1..4) is gone at 5.
gone=$(python3 -c 'import json, sys; print([s["id"] for s in json.load(open(sys.argv[1]))["secrets"]][36])' snap1.json)
run 1 "$SMAR" cat --at "$T" --id "$gone" snap1.smar snap2.smar snap3.smar snap4.smar \
    snap5.smar snap6.smar snap7.smar snap8.smar snap9.smar snap10.smar
cp err.txt gone-local.txt
run 1 "$SMAR" cat --at "$T" --id "$gone" "s3://$B/nightly/"
assert_same gone-local.txt err.txt

step "extract --at T from the prefix equals extract from the local files"
run 0 "$SMAR" extract -q --at "$T" -o from-s3.json "s3://$B/nightly/"
run 0 "$SMAR" extract -q --at "$T" -o from-local.json snap1.smar snap2.smar snap3.smar \
    snap4.smar snap5.smar snap6.smar snap7.smar snap8.smar snap9.smar snap10.smar
assert_same from-s3.json from-local.json

step "names that do not parse are opened for their header; a misnamed object is refused"
s3_aws s3 cp snap3.smar "s3://$B/plain/some-name.smar" >/dev/null || fail "awscli upload"
s3_aws s3api put-object --bucket "$B" --key plain/folder/ >/dev/null || fail "folder marker"
run 0 "$SMAR" cat --id "$id" "s3://$B/plain/"
key=$(sed -n 5p names.txt) # snapshot 5 under the name of snapshot 4
s3_aws s3 cp snap5.smar "s3://$B/misnamed/$(basename "$(dirname "$key")")/20261114T020000Z-00000000.smar" \
    >/dev/null || fail "awscli upload"
run 3 "$SMAR" cat --id "$id" "s3://$B/misnamed/"
assert_contains err.txt "not the one its name gives"

step "cat --id from one archive: at most 5 requests, within 2x the bytes read locally"
gen big.json --secrets 3000 --payload-bytes 4000 --seed 9
run 0 "$SMAR" create -q -o big.smar big.json
s3_aws s3 cp big.smar "s3://$B/big/big.smar" >/dev/null || fail "awscli upload"
bid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"][1500]["id"])' big.json)
# (LeakSanitizer cannot run under ptrace: no leak check for this one traced run)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -e trace=pread64 -o pread.log "$SMAR" cat --id "$bid" big.smar >cat-local.txt \
    2>cat-local.err || fail "local cat: $(tail -3 cat-local.err)"
local_bytes=$(awk -F'= ' '/pread64/ && $NF ~ /^[0-9]+$/ {n += $NF} END {print n + 0}' pread.log)
s3_admin reset-stats '{}'
run 0 "$SMAR" cat --id "$bid" "s3://$B/big/big.smar"
assert_same cat-local.txt out.txt
requests=$(s3_stat requests)
bytes=$(s3_stat bytes_out)
echo "cat --id: $requests requests, $bytes bytes from S3; $local_bytes bytes read locally"
[ "$requests" -le 5 ] || fail "cat --id made $requests requests (at most 5)"
[ "$bytes" -le $((2 * local_bytes)) ] ||
    fail "cat --id fetched $bytes bytes, more than 2x the $local_bytes read locally"

step "a listing of more than 1000 keys: pages by continuation token, signed as botocore signs"
# 1000 old-dated objects put straight into s3rver, then one archive: the newest by name.
inst=$(sed -n 1p names.txt | cut -d/ -f2)
mkdir many
python3 - <<'PYEOF'
for i in range(1000):
    open("many/20200101T00%02d%02dZ-%08x.smar" % (i // 60, i % 60, i), "w").write("not an archive")
PYEOF
s3_aws_direct s3 cp --recursive --quiet many "s3://$B/many/$inst/" || fail "putting 1000 objects"
s3_aws s3 cp snap10.smar "s3://$B/many/$inst/20261120T020000Z-ffffffff.smar" >/dev/null ||
    fail "awscli upload"
: >s3requests.log
run 0 "$SMAR" cat --id "$id" "s3://$B/many/"
cp out.txt cat-many.txt
run 0 "$SMAR" cat --id "$id" snap10.smar
assert_same cat-many.txt out.txt
pages=$(grep -c 'list-type=2' s3requests.log || true)
[ "$pages" = 2 ] || fail "expected 2 listing pages, saw $pages"
grep 'list-type=2' s3requests.log | grep -q 'continuation-token=' || fail "no continuation token"
grep 'list-type=2' s3requests.log | grep -q '"status": 200' || fail "a listing page failed"

step "the proxy rejected no request smar signed"
if grep -q rejected s3proxy.err; then fail "the proxy rejected requests: $(head -5 s3proxy.err)"; fi
s3_stop
