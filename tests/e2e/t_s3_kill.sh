# SIGKILL during an upload to s3:// (s3rver behind tests/servers/s3_proxy.py): at 24 points
# spread over the upload (increasing delays, each request slowed by the proxy so that they
# fall between the HEAD, CreateMultipartUpload, the parts and CompleteMultipartUpload),
# nothing is visible at the key afterwards: an upload never completed is invisible (a
# kill after the completion reached the server leaves the whole object, checked whole).
# Such uploads stay stored until a lifecycle rule aborts them: README.md gives the rule.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

s3_start
make_key
B=$S3_BUCKET

step "README.md documents the lifecycle rule for incomplete uploads"
assert_contains "$SMAR_SOURCE_DIR/README.md" "AbortIncompleteMultipartUpload"
assert_contains "$SMAR_SOURCE_DIR/README.md" "put-bucket-lifecycle-configuration"

step "SIGKILL at 24 points of the upload: nothing visible at the key (HEAD 404)"
gen big.json --secrets 1500 --payload-bytes 8000 --seed 21
s3_admin latency '{"ms": 80}'
# The kill points follow the upload itself, not the clock (a loaded machine, or a sanitizer
# build, moves every stage): a whole upload makes R requests (HEAD, CreateMultipartUpload,
# the parts, CompleteMultipartUpload); run k is killed as soon as the proxy has answered
# (k - 1) * (R - 2) / 23 of its requests, from none to all but two, so that every kill falls
# before CompleteMultipartUpload is sent (it goes out only once every part is answered).
: >s3requests.log
SMAR_S3_PART_SIZE_MIB=5 "$SMAR" create -q -o "s3://$B/timing.smar" big.json >out.txt 2>err.txt ||
    fail "the timing upload failed: $(cat err.txt)"
R=$(grep -c '/timing.smar"' s3requests.log)
echo "one whole upload: $R requests"
[ "$R" -ge 5 ] || fail "a whole upload made only $R requests: too few parts to kill between"
: >s3requests.log
killed=""
i=1
while [ $i -le 24 ]; do
    SMAR_S3_PART_SIZE_MIB=5 "$SMAR" create -q -o "s3://$B/killed-$i.smar" big.json \
        >out.txt 2>err.txt &
    pid=$!
    want=$(((i - 1) * (R - 2) / 23))
    polls=0
    while [ "$(grep -c "/killed-$i.smar\"" s3requests.log)" -lt "$want" ] && [ $polls -lt 3000 ] &&
        kill -0 "$pid" 2>/dev/null; do
        sleep 0.01
        polls=$((polls + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    if wait "$pid"; then st=0; else st=$?; fi
    # 137: died of SIGKILL (a run that ended first does not count, and its object stays)
    [ "$st" = 137 ] && killed="$killed $i"
    i=$((i + 1))
done
s3_admin latency '{"ms": 0}'
n=$(echo $killed | wc -w)
[ "$n" -ge 20 ] || fail "only $n of the 24 runs were killed before they ended"
# One HEAD a key, asked of s3rver itself (awscli would start 24 times). A kill that falls
# after CompleteMultipartUpload reached the server (its answer not yet read) leaves the
# object completed, as any completed upload: it must then be whole.
$S3_PY - "$S3RVER_PORT" "$B" $killed >visible.txt <<'PYEOF' || fail "HEAD to s3rver failed"
import http.client, sys
port, bucket = int(sys.argv[1]), sys.argv[2]
for i in sys.argv[3:]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("HEAD", "/%s/killed-%s.smar" % (bucket, i))
    status = conn.getresponse().status
    conn.close()
    if status != 404:
        print(i)
PYEOF
for i in $(cat visible.txt); do
    echo "killed-$i.smar: killed after it completed: checking it is whole"
    run 0 "$SMAR" verify "s3://$B/killed-$i.smar"
done
invisible=$((n - $(wc -l <visible.txt)))
[ "$invisible" -ge 20 ] || fail "only $invisible kills left nothing visible (of $n)"
# The kills fell at different stages: some before any part, some during the parts.
grep -q '"query": "uploads="' s3requests.log || fail "no upload was ever started"
grep -q '"query": "partNumber=' s3requests.log || fail "no kill fell during the parts"

step "the same upload left alone completes (the kills were not a failure of their own)"
run 0 env SMAR_S3_PART_SIZE_MIB=5 "$SMAR" create -q -o "s3://$B/whole.smar" big.json
s3_object_exists whole.smar || fail "the object is not there after create"
s3_stop
