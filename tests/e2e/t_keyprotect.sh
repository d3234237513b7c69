# Key Protect root keys (--key keyprotect://...) against tests/servers/kp_double.py, a TEST
# DOUBLE of Key Protect and IAM on loopback (HTTPS with a CA made here): real HTTP, real TLS,
# real retries. An archive with a Key Protect slot and a local DR slot opens with either key
# alone; rotation; 401, 404, 503 bursts, a server that is down; no secret in any output.
. "$E2E_DIR/lib.sh"

command -v openssl >/dev/null || fail "openssl is needed (scripts/install-deps.sh)"
DOUBLE="$E2E_DIR/../servers/kp_double.py"
INSTANCE=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
KEYID=7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
KEYID2=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9fa
# Key Protect aliases run to 90 characters: more than a local keyring id's 64
LONG_ALIAS=backup-root-of-the-platform-team-for-secrets-manager-in-the-primary-region-eu-de-2026
API_KEY=test-api-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
NO_ACCESS_KEY=other-api-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

step "a test CA and a loopback server certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=smar test CA" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1 || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
    -out server.csr >/dev/null 2>&1 || fail "openssl: CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.pem >/dev/null 2>&1 || fail "openssl: server certificate"

pid=""
stop_double() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}
trap stop_double EXIT INT TERM
start_double() {
    rm -f port
    python3 "$DOUBLE" --cert server.pem --key server.key --port-file port --log requests.log \
        --instance "$INSTANCE" --api-key "$API_KEY" --no-access-key "$NO_ACCESS_KEY" \
        --root-key "$KEYID:backup-root" --root-key "$KEYID2:$LONG_ALIAS" \
        --token-ttl 3600 2>double.err &
    pid=$!
    i=0
    while [ ! -s port ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "the Key Protect double did not start: $(cat double.err)"
        sleep 0.1
    done
    PORT=$(cat port)
    export SMAR_KP_URL="https://127.0.0.1:$PORT" SMAR_IAM_URL="https://127.0.0.1:$PORT"
}
admin() { # PATH JSON
    python3 - "$1" "$2" <<'EOF' || fail "admin call $1"
import json, os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="ca.pem")
req = urllib.request.Request(os.environ["SMAR_KP_URL"] + sys.argv[1], data=sys.argv[2].encode(),
                             method="POST")
urllib.request.urlopen(req, context=ctx).read()
EOF
}
count() { # ACTION: how many requests of that action the double logged
    grep -c "\"action\": \"$1\"" requests.log || true
}
export CURL_CA_BUNDLE="$PWD/ca.pem" IBMCLOUD_API_KEY="$API_KEY"
KP="keyprotect://$INSTANCE/$KEYID"
start_double

# Every output of a failing run is kept, to be searched for secrets at the end.
keep_outputs() {
    n=$(ls failing.* 2>/dev/null | wc -l)
    cat out.txt err.txt >"failing.$n"
}

step "create with a Key Protect key and a local DR key"
gen ex.json --secrets 20
run 0 "$SMAR" keygen --id dr-local -o dr.key
run 0 "$SMAR" create -q --key "$KP" --key dr.key -o a.smar ex.json
[ "$(count wrap)" = 1 ] || fail "create made $(count wrap) wrap calls, expected 1"
[ "$(count token)" = 1 ] || fail "create asked for $(count token) tokens, expected 1"
run 0 "$SMAR" inspect a.smar
assert_contains out.txt "$KEYID"
assert_contains out.txt "dr-local"
assert_not_contains out.txt "$API_KEY"

step "cat and extract through Key Protect alone: one unwrap per restore"
id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secrets"][0]["id"])' ex.json)
: >requests.log
run 0 "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_nonempty out.txt
[ "$(count unwrap)" = 1 ] || fail "a restore made $(count unwrap) unwrap calls, expected 1"
run 0 "$SMAR" extract -q --key "$KP" -o out.json a.smar
run 0 "$SMAR" extract -q --key dr.key -o out-dr.json a.smar
assert_same out.json out-dr.json
run 0 "$SMAR" verify --key "$KP" a.smar

step "the API key from a file; an alias names the same key only when spelled the same"
printf '%s\n' "$API_KEY" >apikey.txt
chmod 600 apikey.txt
run 0 env -u IBMCLOUD_API_KEY SMAR_IBMCLOUD_API_KEY_FILE=apikey.txt \
    "$SMAR" cat --key "$KP" --id "$id" a.smar
chmod 644 apikey.txt
run 1 env -u IBMCLOUD_API_KEY SMAR_IBMCLOUD_API_KEY_FILE=apikey.txt \
    "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "chmod 600"
keep_outputs
run 0 "$SMAR" create -q --key "keyprotect://$INSTANCE/backup-root" -o alias.smar ex.json
run 0 "$SMAR" cat --key "keyprotect://$INSTANCE/backup-root" --id "$id" alias.smar

step "a key alias longer than 64 characters is the keyring's id, recorded in the slot"
[ "${#LONG_ALIAS}" -gt 64 ] || fail "the alias is not longer than 64 characters"
run 0 "$SMAR" create -q --key "keyprotect://$INSTANCE/$LONG_ALIAS" --key dr.key -o long.smar ex.json
run 0 "$SMAR" inspect long.smar
assert_contains out.txt "  $LONG_ALIAS version none (kms)"
run 0 "$SMAR" cat --key "keyprotect://$INSTANCE/$LONG_ALIAS" --id "$id" long.smar
assert_nonempty out.txt

step "rotation: new archives use the new version, old ones still open"
admin /_admin/rotate "{\"key\": \"$KEYID\"}"
run 0 "$SMAR" create -q --key "$KP" -o b.smar ex.json
run 0 "$SMAR" cat --key "$KP" --id "$id" a.smar
run 0 "$SMAR" cat --key "$KP" --id "$id" b.smar

step "rewrap a Key Protect slot: the service's rewrap action, never an unwrap of that slot"
# Slots record version kind 0 (the service keeps the version inside its ciphertext), so the
# slot's AAD is the same before and after and the service rewraps it to its newest version.
# The local DR slot comes first and opens the archive: the KP slot is only ever rewrapped.
run 0 "$SMAR" create -q --key dr.key --key "$KP" -o r.smar ex.json
run 0 "$SMAR" inspect r.smar
assert_contains out.txt "  $KEYID version none (kms)"
admin /_admin/rotate "{\"key\": \"$KEYID\"}"
: >requests.log
run 0 "$SMAR" rewrap --key dr.key --key "$KP" -o r2.smar r.smar
assert_contains out.txt "(1 rewrapped, 0 added, 0 removed, 1 kept)"
[ "$(count rewrap)" = 1 ] || fail "rewrap made $(count rewrap) rewrap calls, expected 1"
[ "$(count unwrap)" = 0 ] || fail "rewrap made $(count unwrap) unwrap calls, expected 0"
[ "$(count wrap)" = 0 ] || fail "rewrap made $(count wrap) wrap calls, expected 0"
cmp -s r.smar r2.smar && fail "the rewrapped archive is the original"
: >requests.log
run 0 "$SMAR" cat --key "$KP" --id "$id" r2.smar
assert_nonempty out.txt
[ "$(count unwrap)" = 1 ] || fail "the rewrapped slot took $(count unwrap) unwrap calls, expected 1"
# the service put its newest version into the ciphertext (base64 of JSON naming it)
python3 - r.smar r2.smar <<'PY' || fail "the rewrapped ciphertext does not hold a newer key version"
import base64, json, re, sys
def version(path):
    blob = re.search(rb"eyJ[A-Za-z0-9+/=]+", open(path, "rb").read()).group(0)
    return json.loads(base64.b64decode(blob))["v"]
old, new = version(sys.argv[1]), version(sys.argv[2])
assert old != new, (old, new)
PY

step "an API key without access to the key: exit 1, 'the API key may not use this key'"
run 1 env IBMCLOUD_API_KEY="$NO_ACCESS_KEY" "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "the API key may not use this key"
keep_outputs
run 1 env IBMCLOUD_API_KEY="$NO_ACCESS_KEY" "$SMAR" create -q --key "$KP" -o no.smar ex.json
assert_contains err.txt "the API key may not use this key"
assert_missing no.smar
keep_outputs
run 1 env IBMCLOUD_API_KEY=unknown-key "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "refused the API key"
keep_outputs

step "no such key: exit 1"
run 1 "$SMAR" create -q --key "keyprotect://$INSTANCE/no-such-key" -o no.smar ex.json
assert_contains err.txt "no such key 'no-such-key'"
assert_missing no.smar
keep_outputs

step "503 bursts with Retry-After and a dropped connection are retried, then succeed"
: >requests.log
admin /_admin/faults '[{"on": "unwrap", "status": 503, "retry_after": 1, "count": 2},
                       {"on": "unwrap", "drop": true, "count": 1},
                       {"on": "unwrap", "status": 429, "count": 1}]'
run 0 "$SMAR" cat --key "$KP" --id "$id" a.smar
[ "$(grep -c '"action": "unwrap", "status": 200' requests.log)" = 1 ] ||
    fail "the unwrap did not end in one success: $(cat requests.log)"
[ "$(count unwrap)" = 5 ] || fail "expected 5 unwrap attempts, got $(count unwrap)"
admin /_admin/faults '[{"on": "unwrap", "delay": 1, "count": 1}]'
run 0 "$SMAR" cat --key "$KP" --id "$id" a.smar

step "503 without end: exit 1 'unavailable', never 3"
admin /_admin/faults '[{"on": "unwrap", "status": 503, "count": 100}]'
run 1 "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "unavailable"
keep_outputs
admin /_admin/clear-faults '{}'

step "an altered Key Protect slot: the service does not open it (exit 3)"
# The local DR slot still opens, so only the KP key is given.
python3 - a.smar c.smar <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.find(b"eyJ")  # the ciphertext's base64 JSON
data[i + 40] = ord("A") if data[i + 40] != ord("A") else ord("B")
open(sys.argv[2], "wb").write(bytes(data))
EOF
run 3 "$SMAR" cat --key "$KP" --id "$id" c.smar
keep_outputs

step "the key deleted: exit 1, the DR key still opens the archive"
admin /_admin/delete "{\"key\": \"$KEYID\"}"
run 1 "$SMAR" cat --key "$KP" --id "$id" a.smar
# "none of the given keys opens a key slot", with the service's own words for why
assert_contains err.txt "none of the given keys opens a key slot"
assert_contains err.txt "key '$KEYID' was deleted"
assert_not_contains err.txt "holds version 1 only"
keep_outputs
run 1 "$SMAR" create -q --key "$KP" -o deleted.smar ex.json
assert_contains err.txt "was deleted"
assert_missing deleted.smar
keep_outputs
run 0 "$SMAR" cat --key dr.key --id "$id" a.smar

step "the server down: exit 1 'unavailable', never 3"
stop_double
run 1 "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "unavailable"
keep_outputs
run 1 "$SMAR" create -q --key "$KP" -o down.smar ex.json
assert_contains err.txt "unavailable"
assert_missing down.smar
keep_outputs

step "a server whose certificate is not trusted: exit 1"
start_double
run 1 env CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE= \
    "$SMAR" cat --key "$KP" --id "$id" a.smar
assert_contains err.txt "not trusted"
keep_outputs

step "no output of a failing run holds the API key, a token or a data key"
for f in failing.*; do
    assert_not_contains "$f" "$API_KEY"
    assert_not_contains "$f" "$NO_ACCESS_KEY"
    assert_not_contains "$f" "Bearer"
    assert_not_contains "$f" "eyJ"
    assert_not_contains "$f" "plaintext"
    # a base64 DEK is 44 characters ending in '='
    if grep -E -q '[A-Za-z0-9+/]{43}=' "$f"; then fail "$f holds something like a base64 key"; fi
done
stop_double
