# Reads of an s3:// archive are pinned to the object's ETag when it was opened (If-Match on
# every range read after the first): an object replaced in the middle of a restore makes the
# restore fail (exit 1, "changed while reading"), never a mix of the two objects' bytes.
# s3rver ignores If-Match; tests/servers/s3_proxy.py answers it as S3 does (412).
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

S3_PROXY_ARGS="--log-header If-Match"
s3_start
make_key
B=$S3_BUCKET

step "two archives of several chunks: the one in the bucket, and the one that replaces it"
gen a.json --secrets 3000 --payload-bytes 2000 --seed 21
gen b.json --secrets 3000 --payload-bytes 2000 --seed 22
run 0 "$SMAR" create -q -o "s3://$B/x.smar" a.json
run 0 "$SMAR" create -q -o b.smar b.json
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"][2100]["id"])' a.json)

step "every range read after the first carries If-Match"
: >s3requests.log
run 0 "$SMAR" cat --id "$id" "s3://$B/x.smar"
cp out.txt before.txt
python3 - s3requests.log <<'PYEOF' || fail "a range read without If-Match"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and "if-match" not in rows[0], rows[0]
assert all(r.get("if-match") for r in rows[1:]), rows
PYEOF

step "the object replaced mid-restore: exit 1, 'changed while reading'"
# The third request (a read after the opening two) is held 8 s by the proxy; the object is
# replaced meanwhile, straight at s3rver.
s3_admin faults '[{"on": "GET", "skip": 2, "delay": 8}]'
: >s3requests.log
"$SMAR" cat --id "$id" "s3://$B/x.smar" >mid.out 2>mid.err &
cat_pid=$!
i=0
while [ "$(wc -l <s3requests.log)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "the restore did not get past opening"
    sleep 0.05
done
s3_aws_direct s3api put-object --bucket "$B" --key x.smar --body b.smar >/dev/null ||
    fail "put-object"
if wait "$cat_pid"; then status=0; else status=$?; fi
cat mid.err
[ "$status" = 1 ] || fail "cat of a replaced object: exit $status (want 1)"
grep -q "changed while reading" mid.err || fail "no 'changed while reading' in the message"
[ ! -s mid.out ] || fail "cat printed something from a replaced object"
grep -q '"status": 412' s3requests.log || fail "no 412 in the request log"

step "opened afresh, the new object reads fine"
s3_admin clear-faults '{}'
run 0 "$SMAR" verify "s3://$B/x.smar"
