# Bad instance exports: each gives a message naming the input, where in it and which
# secret, exit 1, and leaves no archive (nor temporary file) behind.
. "$E2E_DIR/lib.sh"
make_key

HEAD='{"instance":{"crn":"crn:v1:bluemix:public:secrets-manager:us-south:a/acc:inst::","region":"us-south"},"exported_at":"2026-11-20T02:00:00Z","secret_groups":[],"secrets":['
# secret ID [CREATED_AT [VERSION_SECRET_ID]]: one arbitrary secret with one version
secret() {
    printf '{"id":"%s","name":"n-%s","secret_type":"arbitrary","secret_group_id":"default",' "$1" "$1"
    printf '"created_at":"%s","payload":"x","versions":[{"id":"v-%s","secret_id":"%s",' \
        "${2:-2026-01-01T00:00:00Z}" "$1" "${3:-$1}"
    printf '"created_at":"2026-01-01T00:00:00Z","payload":"x"}]}'
}
export_of() { # the document around secret texts given as arguments
    printf '%s\n' "$HEAD"
    first=1
    for s in "$@"; do
        [ $first = 1 ] || printf ',\n'
        printf '%s' "$s"
        first=0
    done
    printf '\n]}\n'
}

# bad NAME.json EXPECTED_MESSAGE: create fails with exit 1, the message, nothing left
bad() {
    run 1 "$SMAR" create -o "$1.smar" "$1.json"
    assert_contains err.txt "smar: create: $1.json"
    assert_contains err.txt "$2"
    assert_missing "$1.smar"
    assert_no_temp .
}

step "a good export works"
export_of "$(secret aaa)" "$(secret bbb)" >good.json
run 0 "$SMAR" create -q -o good.smar good.json
cp good.smar good.copy

step "invalid JSON"
{ printf '%s\n' "$HEAD"; secret aaa; printf ',\n{"id": "bbb", oops}\n]}\n'; } >invalid.json
bad invalid "invalid JSON"
{ printf '%s\n' "$HEAD"; secret aaa; printf ',\n'; } >truncated.json
bad truncated "invalid JSON"
step "invalid JSON in a secret, then a truncated file: the first problem is reported"
{ printf '%s\n' "$HEAD"; secret aaa; printf ',\n{"id": "bbb", oops},\n{"id":"ccc"'; } >first.json
bad first 'secret #2 (line 3, byte '
assert_contains err.txt "invalid JSON: expected string key at byte 14"
run 1 "$SMAR" create --threads 1 -o first.smar first.json
assert_contains err.txt 'secret #2 (line 3, byte '
printf 'this is not json\n' >garbage.json
bad garbage "garbage.json"
: >empty.json
bad empty "empty.json"
head -c 3000 /dev/urandom >random.json
bad random "random.json"

step "JSON that is not an object, and an smar archive, are named for what they are"
printf 'null\n' >null.json
bad null "null.json: the export is JSON null, not a JSON object"
printf '[]' >array.json
bad array "array.json: the export is a JSON array, not a JSON object"
printf '12345\n' >number.json
bad number "number.json: the export is a JSON number, not a JSON object"
cp good.smar archive.json
bad archive "archive.json: this is an smar archive, not an instance export"
run 1 "$SMAR" create -o fromstdin.smar - <good.smar
assert_contains err.txt "this is an smar archive, not an instance export"
assert_missing fromstdin.smar
if have gzip; then
    printf 'null' | gzip >nullgz.json
    bad nullgz "nullgz.json: the export is JSON null, not a JSON object"
    gzip -c good.json | head -c 100 >cutgz.json
    bad cutgz "cutgz.json: cannot decompress"
fi

step "a secret without id, without secret_type"
export_of "$(secret aaa)" '{"name":"noid","secret_type":"arbitrary","versions":[]}' >noid.json
bad noid 'has no "id"'
assert_contains err.txt "secret #2"
export_of "$(secret aaa)" '{"id":"ccc","name":"notype","versions":[]}' >notype.json
bad notype 'secret ccc has no "secret_type"'

step "duplicate secret ids, duplicate version ids"
export_of "$(secret aaa)" "$(secret aaa)" >dup.json
bad dup "secret aaa appears twice"
export_of '{"id":"ddd","secret_type":"arbitrary","created_at":"2026-01-01T00:00:00Z","versions":[{"id":"v1","created_at":"2026-01-01T00:00:00Z"},{"id":"v1","created_at":"2026-01-02T00:00:00Z"}]}' >dupver.json
bad dupver "ddd"

step "a version whose secret_id names another secret"
export_of "$(secret aaa)" "$(secret bbb 2026-01-01T00:00:00Z zzz)" >mismatch.json
bad mismatch "secret bbb: version v-bbb"
assert_contains err.txt "secret_id"

step "timestamps that are not RFC 3339"
export_of "$(secret aaa)" "$(secret bbb '2026-01-01 00:00:00')" >time1.json
bad time1 "secret bbb"
assert_contains err.txt "RFC 3339"
export_of "$(secret ccc 2026-02-30T00:00:00Z)" >time2.json
bad time2 "secret ccc"
export_of "$(secret ddd 2026-01-01T00:00:00)" >time3.json
bad time3 "secret ddd"
sed 's/"exported_at":"2026-11-20T02:00:00Z"/"exported_at":"20 Nov 2026"/' good.json >badexp.json
bad badexp "exported_at is not an RFC 3339 time"

step "no exported_at: an error unless --snapshot-time is given"
sed 's/"exported_at":"2026-11-20T02:00:00Z",//' good.json >noexp.json
bad noexp "the export has no exported_at: give --snapshot-time"
run 0 "$SMAR" create -q --snapshot-time 2026-11-21 -o noexp.smar noexp.json
run 0 "$SMAR" inspect noexp.smar
assert_contains out.txt "snapshot:     2026-11-21T00:00:00Z"

step "JSONL: the line is named"
{ printf '%s\n' "$HEAD" | sed 's/,"secrets":\[$/}/'; secret aaa; printf '\n'; secret bbb '2026-13-01T00:00:00Z'; printf '\n'; } >badline.jsonl
run 1 "$SMAR" create -o badline.smar badline.jsonl
assert_contains err.txt "badline.jsonl"
assert_contains err.txt "badline.jsonl:3"
assert_contains err.txt "secret bbb"
assert_missing badline.smar

step "with worker threads, an error found secrets later still names the right line and secret"
# 400 good secrets around a bad one on line 252 (secret #251): the split workers find it
# while the writer is already taking later secrets; the message must be the one a single
# thread gives.
{ printf '%s\n' "$HEAD" | sed 's/,"secrets":\[$/}/'
  i=1
  while [ $i -le 400 ]; do
      if [ $i = 251 ]; then secret "s$i" '2026-13-01T00:00:00Z'; else secret "s$i"; fi
      printf '\n'
      i=$((i + 1))
  done; } >late.jsonl
run 1 "$SMAR" create --threads 1 -o late.smar late.jsonl
cp err.txt late-1.txt
assert_contains err.txt "late.jsonl:252"
assert_contains err.txt "secret s251"
for t in 2 4 7; do
    run 1 "$SMAR" create --threads $t -o late.smar late.jsonl
    assert_same err.txt late-1.txt
done
assert_missing late.smar
assert_no_temp .

step "a directory export with a bad secret file names the file"
mkdir -p exdir/secrets
printf '{"instance":{"crn":"c","region":"us-south"},"exported_at":"2026-11-20T02:00:00Z"}\n' >exdir/instance.json
printf '{"secret_groups":[],"total_count":0}\n' >exdir/secret_groups.json
secret aaa >exdir/secrets/aaa.json
printf '{"id":"bbb",' >exdir/secrets/bbb.json
run 1 "$SMAR" create -o dir.smar exdir
assert_contains err.txt "bbb.json"
assert_missing dir.smar

step "oversize: a secret over 64 MiB"
{ printf '%s' "$HEAD"
  printf '{"id":"big","secret_type":"arbitrary","created_at":"2026-01-01T00:00:00Z","payload":"'
  head -c 67108864 /dev/zero | tr '\0' a
  printf '","versions":[]}]}\n'; } >oversize.json
bad oversize "limit"
rm -f oversize.json

step "a missing input"
run 1 "$SMAR" create -o none.smar does-not-exist.json
assert_contains err.txt "does-not-exist.json"
assert_missing none.smar

step "a failed create never touches an existing destination, even with --force"
for f in invalid dup mismatch time1 noexp; do
    run 1 "$SMAR" create --force -o good.smar "$f.json"
    assert_same good.smar good.copy
done
assert_no_temp .
