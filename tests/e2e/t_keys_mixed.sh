# Keys of every kind in one archive: a Key Protect key (tests/servers/kp_double.py, a TEST
# DOUBLE of Key Protect and IAM on loopback over HTTPS), a PKCS#11 key (SoftHSM2 in a
# temporary SOFTHSM2_CONF), a local keyring and an X25519 recipient. inspect lists the four
# slots by provider, key id and version, never a secret, and each key alone opens the
# archive. A key the provider no longer finds is reported with the provider's words.
. "$E2E_DIR/lib.sh"

if ! have softhsm2-util; then
    if [ "${SMAR_REQUIRE_PKCS11:-}" != "" ]; then
        fail "SMAR_REQUIRE_PKCS11 is set but softhsm2 is not installed (scripts/install-deps.sh)"
    fi
    echo "skip: softhsm2 is not installed, so archives with keys of every kind are not tested"
    exit 0
fi
have pkcs11-tool || fail "pkcs11-tool (opensc) is needed to make the token's keys"
command -v openssl >/dev/null || fail "openssl is needed (scripts/install-deps.sh)"
MODULE=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so \
    /usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    if [ -e "$m" ]; then
        MODULE=$m
        break
    fi
done
[ -n "$MODULE" ] || fail "softhsm2-util is installed but libsofthsm2.so was not found"

step "the rigs: a SoftHSM2 token, a test CA and the Key Protect double"
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$PWD" >softhsm2.conf
SOFTHSM2_CONF=$PWD/softhsm2.conf
export SOFTHSM2_CONF
softhsm2-util --init-token --free --label smar-mixed --so-pin 87654321 --pin 4711 >/dev/null ||
    fail "softhsm2-util --init-token"
printf '4711\n' >pin
chmod 600 pin
pkcs11-tool --module "$MODULE" --token-label smar-mixed --login --pin 4711 --keygen \
    --key-type AES:32 --label root --id 00000001 --sensitive --private >keygen.log 2>&1 ||
    fail "pkcs11-tool --keygen: $(cat keygen.log)"
HSM_ID="pkcs11:token=smar-mixed;object=root"
HSM="$HSM_ID?module-path=$MODULE&pin-source=file:$PWD/pin"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=smar test CA" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1 || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
    -out server.csr >/dev/null 2>&1 || fail "openssl: CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.pem >/dev/null 2>&1 || fail "openssl: server certificate"
INSTANCE=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
KEYID=7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
API_KEY=test-api-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
pid=""
stop_double() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}
trap stop_double EXIT INT TERM
python3 "$E2E_DIR/../servers/kp_double.py" --cert server.pem --key server.key --port-file port \
    --log requests.log --instance "$INSTANCE" --api-key "$API_KEY" --no-access-key none-such \
    --root-key "$KEYID:backup-root" --token-ttl 3600 2>double.err &
pid=$!
i=0
while [ ! -s port ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the Key Protect double did not start: $(cat double.err)"
    sleep 0.1
done
export SMAR_KP_URL="https://127.0.0.1:$(cat port)" SMAR_IAM_URL="https://127.0.0.1:$(cat port)"
export CURL_CA_BUNDLE="$PWD/ca.pem" IBMCLOUD_API_KEY="$API_KEY"
KP="keyprotect://$INSTANCE/$KEYID"

step "one archive, four slots: Key Protect, HSM, local keyring, recipient"
gen ex.json --secrets 12
run 0 "$SMAR" keygen --id local-dr -o local.key
run 0 "$SMAR" keygen --recipient --id offline-dr -o dr
run 0 "$SMAR" keygen --sign -o prod.key
run 0 "$SMAR" create -q --key "$KP" --key "$HSM" --key local.key --key dr.pub \
    --sign prod.key -o mixed.smar ex.json

step "inspect lists each slot's provider, key id and version, never a secret"
run 0 "$SMAR" inspect mixed.smar
assert_contains out.txt "key slots:    4"
assert_contains out.txt "  $KEYID version none (kms)"
assert_contains out.txt "  $HSM_ID version 1 (pkcs11)"
assert_contains out.txt "  local-dr version 1 (local)"
assert_contains out.txt "  offline-dr version none (x25519)"
cp out.txt inspect.txt
run 0 "$SMAR" inspect --json mixed.smar
cp out.txt inspect.json
python3 - inspect.json "$KEYID" "$HSM_ID" <<'EOF' || fail "inspect --json key_slots: $(cat inspect.json)"
import json, sys
slots = json.load(open(sys.argv[1]))["key_slots"]
want = [
    {"key_id": sys.argv[2], "key_version": 0, "provider": "kms", "provider_id": 4, "flags": 0,
     "version_kind": "none", "version": None},
    {"key_id": sys.argv[3], "key_version": 1, "provider": "pkcs11", "provider_id": 3,
     "flags": 0, "version_kind": "number", "version": 1},
    {"key_id": "local-dr", "key_version": 1, "provider": "local", "provider_id": 1, "flags": 0,
     "version_kind": "number", "version": 1},
    {"key_id": "offline-dr", "key_version": 0, "provider": "x25519", "provider_id": 2,
     "flags": 0, "version_kind": "none", "version": None},
]
assert slots == want, slots
EOF
for f in inspect.txt inspect.json; do
    assert_not_contains "$f" "$API_KEY"
    assert_not_contains "$f" "4711"
    assert_not_contains "$f" "$MODULE"
    assert_not_contains "$f" "eyJ" # a Key Protect ciphertext
done

step "each key alone opens the archive"
run 0 "$SMAR" extract -q --key local.key -o all-local.json mixed.smar
run 0 "$SMAR" extract -q --key "$KP" -o all-kp.json mixed.smar
assert_same all-kp.json all-local.json
run 0 "$SMAR" extract -q --key "$HSM" -o all-hsm.json mixed.smar
assert_same all-hsm.json all-local.json
run 0 "$SMAR" extract -q --key dr --pubkey prod.key.pub -o all-dr.json mixed.smar
assert_same all-dr.json all-local.json
run 0 "$SMAR" verify --key "$KP" --pubkey prod.key.pub mixed.smar
run 0 "$SMAR" verify --key "$HSM" --pubkey prod.key.pub mixed.smar

step "a slot of a provider this smar does not know: listed as unknown (N), skipped"
V="$SMAR_SOURCE_DIR/spec/vectors/v2/neg2-unknown-provider.smar"
run 0 "$SMAR" inspect "$V"
assert_contains out.txt "version v-42 (unknown (200))"
run 0 "$SMAR" inspect --json "$V"
assert_contains out.txt '"provider_id":	200'
assert_contains out.txt '"version_kind":	"string"'
assert_contains out.txt '"version":	"v-42"'

step "the Key Protect key deleted: exit 1 with the service's words, not only 'no key'"
python3 - <<'EOF' || fail "admin delete"
import os, ssl, urllib.request
ctx = ssl.create_default_context(cafile="ca.pem")
req = urllib.request.Request(os.environ["SMAR_KP_URL"] + "/_admin/delete",
                             data=b'{"key": "7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"}',
                             method="POST")
urllib.request.urlopen(req, context=ctx).read()
EOF
run 1 "$SMAR" ls --key "$KP" mixed.smar
assert_contains err.txt "none of the given keys opens a key slot"
assert_contains err.txt "was deleted"
assert_contains err.txt "key $KEYID (kms)"
assert_not_contains err.txt "holds version 1 only"
assert_not_contains err.txt "$API_KEY"
run 0 "$SMAR" ls --key "$KP" --key local.key mixed.smar

step "the HSM key gone from the token: exit 1 naming what the token lacks"
pkcs11-tool --module "$MODULE" --token-label smar-mixed --login --pin 4711 --delete-object \
    --type secrkey --label root --id 00000001 >delete.log 2>&1 ||
    fail "pkcs11-tool --delete-object: $(cat delete.log)"
run 1 "$SMAR" ls --key "$HSM" mixed.smar
assert_contains err.txt "none of the given keys opens a key slot"
assert_contains err.txt "no secret key labelled 'root' on token 'smar-mixed'"
assert_not_contains err.txt "holds version 1 only"
assert_not_contains err.txt "4711"
stop_double
