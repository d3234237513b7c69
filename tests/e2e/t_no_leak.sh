# No secret value, key or DEK appears in output, error text or file names of failing
# commands: wrong key, damaged archive, bad input, missing secret, bad passphrase.
. "$E2E_DIR/lib.sh"

canary=CANARY-s3cr3t-value-9f2b71
name_canary=canary-secret-name

step "an export with known values"
cat >export.json <<JSON
{"instance":{"crn":"crn:v1:bluemix:public:secrets-manager:us-south:a/1:g::"},
 "exported_at":"2026-11-20T02:00:00Z","secret_groups":[],
 "secrets":[
  {"id":"11111111-1111-4111-8111-111111111111","name":"$name_canary","secret_type":"arbitrary",
   "created_at":"2026-01-01T00:00:00Z","payload":"$canary",
   "versions":[{"id":"22222222-2222-4222-8222-222222222222","created_at":"2026-01-01T00:00:00Z","payload":"$canary"}]},
  {"id":"33333333-3333-4333-8333-333333333333","name":"up","secret_type":"username_password",
   "created_at":"2026-01-01T00:00:00Z","username":"u-$canary","password":"p-$canary",
   "versions":[{"id":"44444444-4444-4444-8444-444444444444","created_at":"2026-01-02T00:00:00Z","username":"u-$canary","password":"p-$canary"}]}
 ]}
JSON
run 0 "$SMAR" keygen -o root.key
run 0 "$SMAR" keygen -o other.key
run 0 "$SMAR" create --key root.key -o a.smar export.json

# The key material of both keyrings, as it sits in the files (base64).
keys=$(grep -o '"key": *"[^"]*"' root.key other.key | sed 's/.*"key": *"//; s/"$//')
[ -n "$keys" ] || fail "could not read the key material to look for"

check_clean() { # what
    for f in out.txt err.txt; do
        assert_not_contains "$f" "$canary"
        for k in $keys; do assert_not_contains "$f" "$k"; done
    done
    if find . -name "*$canary*" | grep -q .; then fail "$1: a file name holds a secret value"; fi
}

step "wrong key"
run 1 "$SMAR" cat --key other.key --name "$name_canary" a.smar
check_clean "wrong key"
run 1 "$SMAR" extract --key other.key -o out.json a.smar
check_clean "wrong key extract"

step "damaged archive"
cp a.smar bad.smar
size=$(stat -c %s bad.smar)
# flip one byte in the middle of the payload chunk
printf '\377' | dd of=bad.smar bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
run 3 "$SMAR" cat --key root.key --name "$name_canary" bad.smar
check_clean "damaged cat"
run 3 "$SMAR" verify --key root.key bad.smar
check_clean "damaged verify"
run 3 "$SMAR" extract --key root.key -o bad-out.json bad.smar
check_clean "damaged extract"
assert_missing bad-out.json

step "bad input: invalid JSON right after a secret value"
sed "s/\"payload\":\"$canary\",/\"payload\":\"$canary\" !/" export.json >broken.json
run 1 "$SMAR" create --key root.key -o broken.smar broken.json
check_clean "invalid JSON"
assert_missing broken.smar
step "bad input: duplicate id"
sed 's/33333333-3333-4333-8333-333333333333/11111111-1111-4111-8111-111111111111/' export.json >dup.json
run 1 "$SMAR" create --key root.key -o dup.smar dup.json
check_clean "duplicate id"
assert_contains err.txt "11111111-1111-4111-8111-111111111111"

step "secret not available at a time"
run 1 "$SMAR" cat --key root.key --name "$name_canary" --at 2025-01-01 a.smar
check_clean "not yet created"
assert_empty out.txt

step "verbose listing shows no values"
run 0 "$SMAR" ls --key root.key a.smar
check_clean "ls"
run 0 "$SMAR" ls --json --key root.key a.smar
check_clean "ls --json"
run 0 "$SMAR" inspect --key root.key a.smar
check_clean "inspect"
