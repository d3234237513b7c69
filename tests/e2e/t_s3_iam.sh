# s3:// archives in IBM Cloud Object Storage style: an IAM API key (IBMCLOUD_API_KEY) instead
# of HMAC keys. smar exchanges it at the IAM test double (tests/servers/kp_double.py) for a
# bearer token; the S3 proxy (--bearer-iam) lets in only tokens the double issued and has
# not seen expire, and forwards to s3rver signed with s3rver's own key. create/cat through a
# token; a 5-second token renewed within one run; a wrong key -> exit 1 "refused the API
# key"; HMAC keys win when both are set; no API key or token in any output.
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

s3_start
make_key
B=$S3_BUCKET
API_KEY=iam-test-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

step "the IAM double (5-second tokens), and the proxy in front of s3rver taking its tokens"
rm -f iam.port
python3 "$E2E_DIR/../servers/kp_double.py" --cert s3srv.pem --key s3srv.key --port-file iam.port \
    --log iam.log --instance 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 --api-key "$API_KEY" \
    --token-ttl 5 2>iam.err &
s3_pids="$s3_pids $!"
i=0
while [ ! -s iam.port ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the IAM double did not start: $(cat iam.err)"
    sleep 0.1
done
IAM_URL="https://127.0.0.1:$(cat iam.port)"
s3_stop_proxy
S3_PROXY_ARGS="--bearer-iam $IAM_URL"
s3_start_proxy
tokens() { grep -c '"action": "token"' iam.log || true; }
# smar as a COS user: no HMAC keys, the API key and the IAM endpoint.
iam_smar() {
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY IBMCLOUD_API_KEY="$API_KEY" \
        SMAR_IAM_URL="$IAM_URL" "$SMAR" "$@"
}
keep_outputs() {
    n=$(ls failing.* 2>/dev/null | wc -l)
    cat out.txt err.txt >"failing.$n"
}

step "create and cat through a bearer token: no SigV4 request"
gen ex.json --secrets 50 --seed 3
: >s3requests.log # awscli made the bucket, signed: count from here
run 0 iam_smar create -q -o "s3://$B/cos/a.smar" ex.json
keep_outputs
s3_object_exists cos/a.smar || fail "the object is not there after create"
[ "$(tokens)" = 1 ] || fail "create asked IAM for $(tokens) tokens, expected 1"
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"][4]["id"])' ex.json)
run 0 iam_smar cat --id "$id" "s3://$B/cos/a.smar"
keep_outputs
cp out.txt cat-iam.txt
run 0 "$SMAR" create -q -o local.smar ex.json
run 0 "$SMAR" cat --id "$id" local.smar
assert_same cat-iam.txt out.txt
grep -q '"signed": \["' s3requests.log && fail "a request was SigV4-signed" || true
[ "$(s3_stat rejected)" = 0 ] || fail "the proxy rejected $(s3_stat rejected) requests"

step "a token that expires during a run is renewed (5 s tokens, 1.5 s per request)"
s3_admin latency '{"ms": 1500}'
before=$(tokens)
run 0 iam_smar create -q -o "s3://$B/cos/slow.smar" ex.json
keep_outputs
s3_admin latency '{"ms": 0}'
s3_object_exists cos/slow.smar || fail "the slow upload is not there"
[ $(($(tokens) - before)) -ge 2 ] || fail "one slow create asked for $(($(tokens) - before)) tokens"
[ "$(s3_stat rejected)" = 0 ] || fail "an expired token reached the proxy"
run 0 iam_smar verify "s3://$B/cos/slow.smar"

step "the API key from SMAR_IBMCLOUD_API_KEY_FILE"
printf '%s\n' "$API_KEY" >api.key
chmod 600 api.key
run 0 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY SMAR_IBMCLOUD_API_KEY_FILE="$PWD/api.key" \
    SMAR_IAM_URL="$IAM_URL" "$SMAR" cat --id "$id" "s3://$B/cos/a.smar"
assert_same cat-iam.txt out.txt

step "a wrong API key: exit 1, 'refused the API key', nothing uploaded"
run 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY IBMCLOUD_API_KEY=not-the-key \
    SMAR_IAM_URL="$IAM_URL" "$SMAR" create -q -o "s3://$B/cos/b.smar" ex.json
keep_outputs
assert_contains err.txt "refused the API key"
s3_object_exists cos/b.smar && fail "an object appeared with a wrong API key"
run 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY IBMCLOUD_API_KEY=not-the-key \
    SMAR_IAM_URL="$IAM_URL" "$SMAR" cat --id "$id" "s3://$B/cos/a.smar"
keep_outputs
assert_contains err.txt "refused the API key"

step "HMAC keys win over an API key when both are set (no token asked for)"
before=$(tokens)
run 0 env IBMCLOUD_API_KEY="$API_KEY" SMAR_IAM_URL="$IAM_URL" "$SMAR" cat --id "$id" \
    "s3://$B/cos/a.smar"
assert_same cat-iam.txt out.txt
[ "$(tokens)" = "$before" ] || fail "smar asked IAM for a token although HMAC keys were set"

step "no API key or token in any output"
for f in failing.*; do
    assert_not_contains "$f" "$API_KEY"
    assert_not_contains "$f" "eyJ"
    assert_not_contains "$f" "Bearer"
done
