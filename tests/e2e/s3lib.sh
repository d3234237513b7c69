# s3lib.sh - an S3 server on loopback for the object-storage tests (sourced after lib.sh).
#
# s3_start starts s3rver (npm, installed by scripts/install-deps.sh) on a free loopback port
# with its data in ./s3data, and tests/servers/s3_proxy.py in front of it (HTTPS with a test
# CA made here; it checks every SigV4 signature with botocore, counts, delays and injects
# faults), exports what smar and awscli read (AWS_*, CURL_CA_BUNDLE, AWS_CA_BUNDLE) and makes
# the bucket $S3_BUCKET. S3_PROXY_ARGS (set before s3_start) adds options of the proxy
# (--log-header NAME, --copy-double). Everything is stopped on exit (trap). Helpers:
#   s3_aws ARGS...          awscli through the checking proxy
#   s3_aws_direct ARGS...   awscli to s3rver itself (no faults, nothing counted)
#   s3_admin PATH JSON      an admin call to the proxy (faults, latency, reset-stats)
#   s3_stat FIELD           a counter of the proxy (requests, bytes_out, rejected, ...)
#   s3_object_exists KEY    whether KEY is visible in the bucket (asked of s3rver itself)

S3_BUCKET=smar-test
S3_PY=python3
if /usr/bin/python3 -c 'import botocore' 2>/dev/null; then S3_PY=/usr/bin/python3; fi
S3_AWS=aws
[ -x /usr/bin/aws ] && S3_AWS=/usr/bin/aws
S3RVER=${SMAR_S3RVER:-$HOME/.cache/smar-s3rver/node_modules/.bin/s3rver}
s3_pids=""

s3_require() {
    have node || fail "node is needed (scripts/install-deps.sh)"
    [ -x "$S3RVER" ] || fail "s3rver is not installed at $S3RVER (scripts/install-deps.sh)"
    $S3_PY -c 'import botocore' 2>/dev/null || fail "python3-botocore is needed (scripts/install-deps.sh)"
    have "$S3_AWS" || fail "awscli is needed (scripts/install-deps.sh)"
    have openssl || fail "openssl is needed (scripts/install-deps.sh)"
}

s3_stop() {
    for p in $s3_pids; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    s3_pids=""
}

s3_free_port() {
    $S3_PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

s3_make_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=smar s3 test CA" \
        -keyout s3ca.key -out s3ca.pem >/dev/null 2>&1 || fail "openssl: CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout s3srv.key \
        -out s3srv.csr >/dev/null 2>&1 || fail "openssl: CSR"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >s3san.ext
    openssl x509 -req -in s3srv.csr -CA s3ca.pem -CAkey s3ca.key -CAcreateserial -days 2 \
        -extfile s3san.ext -out s3srv.pem >/dev/null 2>&1 || fail "openssl: server certificate"
}

s3_start_s3rver() {
    S3RVER_PORT=$(s3_free_port)
    mkdir -p s3data
    node "$S3RVER" -d s3data -a 127.0.0.1 -p "$S3RVER_PORT" --silent \
        --allow-mismatched-signatures >s3rver.log 2>&1 &
    s3_pids="$s3_pids $!"
    i=0
    until $S3_PY -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
        "$S3RVER_PORT" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "s3rver did not start: $(cat s3rver.log)"
        sleep 0.1
    done
}

s3_start_proxy() {
    rm -f s3proxy.port
    $S3_PY "$E2E_DIR/../servers/s3_proxy.py" --cert s3srv.pem --key s3srv.key \
        --port-file s3proxy.port --upstream "http://127.0.0.1:$S3RVER_PORT" \
        --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
        --log s3requests.log ${S3_PROXY_ARGS:-} 2>>s3proxy.err &
    S3_PROXY_PID=$!
    s3_pids="$s3_pids $S3_PROXY_PID"
    i=0
    while [ ! -s s3proxy.port ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "the S3 proxy did not start: $(cat s3proxy.err)"
        sleep 0.1
    done
    S3_PROXY_PORT=$(cat s3proxy.port)
    AWS_ENDPOINT_URL="https://127.0.0.1:$S3_PROXY_PORT"
    export AWS_ENDPOINT_URL
}

# Stop the proxy alone: the server is "gone" for smar.
s3_stop_proxy() {
    kill "$S3_PROXY_PID" 2>/dev/null || true
    wait "$S3_PROXY_PID" 2>/dev/null || true
}

s3_start() {
    s3_require
    trap s3_stop EXIT INT TERM
    unset AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_PROFILE SMAR_S3_PATH_STYLE || true
    AWS_ACCESS_KEY_ID=S3RVER
    # s3rver knows the access key id S3RVER; the secret is checked by the proxy alone.
    AWS_SECRET_ACCESS_KEY=test-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    AWS_REGION=us-east-1
    AWS_DEFAULT_REGION=us-east-1
    AWS_CONFIG_FILE=/dev/null
    AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION \
        AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
    s3_make_cert
    CURL_CA_BUNDLE=$PWD/s3ca.pem
    AWS_CA_BUNDLE=$PWD/s3ca.pem
    export CURL_CA_BUNDLE AWS_CA_BUNDLE
    s3_start_s3rver
    s3_start_proxy
    s3_aws s3api create-bucket --bucket "$S3_BUCKET" >/dev/null || fail "create-bucket"
}

s3_aws() {
    "$S3_AWS" --endpoint-url "$AWS_ENDPOINT_URL" "$@"
}

s3_aws_direct() {
    "$S3_AWS" --endpoint-url "http://127.0.0.1:$S3RVER_PORT" "$@"
}

s3_admin() { # PATH JSON
    $S3_PY - "$1" "$2" <<'PYEOF' || fail "s3 proxy admin call $1"
import os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["CURL_CA_BUNDLE"])
req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/_admin/" + sys.argv[1],
                             data=sys.argv[2].encode(), method="POST")
urllib.request.urlopen(req, context=ctx).read()
PYEOF
}

s3_stat() { # FIELD
    $S3_PY - "$1" <<'PYEOF' || fail "s3 proxy stats"
import json, os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["CURL_CA_BUNDLE"])
s = json.load(urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/_admin/stats", context=ctx))
print(s[sys.argv[1]])
PYEOF
}

s3_object_exists() { # KEY
    s3_aws_direct s3api head-object --bucket "$S3_BUCKET" --key "$1" >/dev/null 2>&1
}
