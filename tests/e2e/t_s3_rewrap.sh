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
