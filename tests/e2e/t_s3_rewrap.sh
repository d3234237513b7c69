# s3:// part 3 against s3rver behind the checking proxy (tests/servers/s3_proxy.py):
# --retain-until (Object Lock headers sent and signed on CreateMultipartUpload; a local
# output is a usage error), a CompleteMultipartUpload whose answer is lost (the retry finds
# the upload gone and HEAD shows the object is this upload's), and rewrap from and to
# s3:// (server-side UploadPartCopy, the client-side copy where the server answers 501).
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

S3_PROXY_ARGS="--no-such-upload-double --log-header x-amz-object-lock-mode --log-header x-amz-object-lock-retain-until-date --log-header x-amz-copy-source --log-header x-amz-copy-source-range --log-header x-amz-copy-source-if-match"
s3_start
make_key
B=$S3_BUCKET
gen ex.json --secrets 200 --seed 3

# log_field METHOD QUERY-SUBSTRING FIELD: FIELD of the last logged request that matches.
log_field() {
    python3 - "$1" "$2" "$3" <<'PYEOF'
import json, sys
method, query, field = sys.argv[1:]
last = None
for line in open("s3requests.log"):
    e = json.loads(line)
    if e["method"] == method and query in e["query"]:
        last = e
if last is None:
    sys.exit("no %s ?%s request in the log" % (method, query))
v = last.get(field, "")
print(" ".join(v) if isinstance(v, list) else v)
PYEOF
}

step "--retain-until: Object Lock headers on CreateMultipartUpload, sent and signed"
: >s3requests.log
run 0 "$SMAR" create -q --retain-until 2099-01-02T03:04:05Z -o "s3://$B/locked.smar" ex.json
assert_eq "$(log_field POST uploads= x-amz-object-lock-mode)" COMPLIANCE "lock mode"
assert_eq "$(log_field POST uploads= x-amz-object-lock-retain-until-date)" \
    2099-01-02T03:04:05Z "retain-until date"
signed=$(log_field POST uploads= signed)
for h in x-amz-object-lock-mode x-amz-object-lock-retain-until-date; do
    case " $signed " in
    *" $h "*) ;;
    *) fail "$h was not signed: $signed" ;;
    esac
done
run 0 "$SMAR" verify "s3://$B/locked.smar"
: >s3requests.log
run 0 "$SMAR" create -q -o "s3://$B/unlocked.smar" ex.json
assert_eq "$(log_field POST uploads= x-amz-object-lock-mode)" "" "lock mode without --retain-until"

step "--retain-until: a local output, a past time or a bad time is a usage error (exit 2)"
run 2 "$SMAR" create -q --retain-until 2099-01-01 -o local.smar ex.json
assert_contains err.txt "s3://"
assert_missing local.smar
run 2 "$SMAR" create -q --retain-until tomorrow -o "s3://$B/x.smar" ex.json
run 1 "$SMAR" create -q --retain-until 2001-01-01 -o "s3://$B/past.smar" ex.json
assert_contains err.txt "future"
if s3_object_exists past.smar; then fail "an object was made with a past retention"; fi
run 0 "$SMAR" create -q -o src.smar ex.json
run 2 "$SMAR" rewrap --retain-until 2099-01-01 -o local2.smar src.smar
assert_missing local2.smar

step "the answer to CompleteMultipartUpload is lost: the retry finds it done (exit 0)"
s3_admin faults '[{"on": "POST", "query": "uploadId", "lose": true}]'
: >s3requests.log
run 0 "$SMAR" create -q -o "s3://$B/lost-answer.smar" ex.json
n=$(grep -c '"method": "POST", "path": "[^"]*", "query": "uploadId=' s3requests.log || true)
[ "$n" -ge 2 ] || fail "CompleteMultipartUpload was sent $n times, expected a retry"
[ "$(grep -c "\"method\": \"HEAD\"" s3requests.log)" -ge 2 ] || fail "no HEAD after the retry"
run 0 "$SMAR" verify "s3://$B/lost-answer.smar"
s3_admin clear-faults '{}'

step "rewrap s3:// -o s3:// where the server has no UploadPartCopy (501): checked client copy"
gen big.json --secrets 1500 --payload-bytes 8000 --seed 4
run 0 env SMAR_S3_PART_SIZE_MIB=5 "$SMAR" create -q -o "s3://$B/big.smar" big.json
run 0 "$SMAR" keygen -o new.key
: >s3requests.log
run 0 env SMAR_S3_PART_SIZE_MIB=5 "$SMAR" rewrap --add-key new.key -o "s3://$B/big-rw.smar" \
    "s3://$B/big.smar"
grep '"x-amz-copy-source"' s3requests.log | grep -q '"status": 501' ||
    fail "no UploadPartCopy was tried"
grep -q '"method": "GET"' s3requests.log || fail "the fallback did not read the source"
run 0 "$SMAR" verify "s3://$B/big-rw.smar"
run 0 "$SMAR" ls -k new.key "s3://$B/big-rw.smar"
run 0 "$SMAR" extract -q -k new.key -o rw.json "s3://$B/big-rw.smar"
run 0 "$SMAR" extract -q -o orig.json "s3://$B/big.smar"
assert_same rw.json orig.json

step "a damaged chunk is found by the client-side copy: exit 3, nothing visible"
s3_aws s3 cp "s3://$B/big.smar" big.smar >/dev/null || fail "awscli download"
python3 - big.smar damaged.smar <<'PYEOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 3] ^= 0x01
open(sys.argv[2], "wb").write(bytes(data))
PYEOF
s3_aws s3 cp damaged.smar "s3://$B/damaged.smar" >/dev/null || fail "awscli upload"
run 3 env SMAR_S3_PART_SIZE_MIB=5 "$SMAR" rewrap --add-key new.key -o "s3://$B/damaged-rw.smar" \
    "s3://$B/damaged.smar"
if s3_object_exists damaged-rw.smar; then fail "a rewrap of a damaged archive is visible"; fi

step "rewrap with UploadPartCopy (the proxy's --copy-double): whole parts copied server-side"
s3_stop_proxy
S3_PROXY_ARGS="$S3_PROXY_ARGS --copy-double"
s3_start_proxy
: >s3requests.log
run 0 env SMAR_S3_PART_SIZE_MIB=5 "$SMAR" rewrap --add-key new.key --retain-until 2099-01-01 \
    -o "s3://$B/big-copied.smar" "s3://$B/big.smar"
copies=$(grep -c '"x-amz-copy-source": "/smar-test/big.smar"' s3requests.log || true)
[ "$copies" -ge 1 ] || fail "no part was copied server-side"
assert_eq "$(log_field PUT partNumber=1 x-amz-copy-source-range)" "bytes=0-5242879" "first copy range"
case " $(log_field PUT partNumber=1 signed) " in
*" x-amz-copy-source "*) ;;
*) fail "x-amz-copy-source was not signed" ;;
esac
[ -n "$(log_field PUT partNumber=1 x-amz-copy-source-if-match)" ] || fail "the copy was not pinned by ETag"
# Only the tail under 5 MiB and the new slots went up from the client; the source was read
# for its trailer, header and tail, never whole.
sent=$(python3 -c 'import json; print(sum(json.loads(l)["bytes_in"] for l in open("s3requests.log")))')
big_size=$(wc -c <big.smar | tr -d ' ')
[ "$sent" -lt $((big_size - 5242880 + 200000)) ] || fail "the client uploaded $sent bytes"
run 0 "$SMAR" verify "s3://$B/big-copied.smar"
run 0 "$SMAR" extract -q -k new.key -o copied.json "s3://$B/big-copied.smar"
assert_same copied.json orig.json
if grep -q rejected s3proxy.err; then fail "the proxy rejected requests: $(head -5 s3proxy.err)"; fi
s3_stop
