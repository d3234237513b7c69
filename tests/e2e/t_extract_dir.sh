# extract --format dir|tar: different ids never share a path (ids that collided when bytes
# were replaced or cut: a/b a_b a:b ...), the whole id is in the path, names keep their
# letters, and the tree goes back through `smar create` (folder, tar file, tar on standard
# input) to give the original export exactly (number text and member keys included).
. "$E2E_DIR/lib.sh"
make_key

# compare A B: the two exports hold the same document members and the same secrets, values
# compared as text (never jq: it rounds 12345678901234567890), members in any order,
# secrets by id; versions in their order.
compare() {
    python3 - "$1" "$2" <<'EOF' || fail "$1 and $2 differ"
import json, sys
def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # every number stays its text; objects are sorted member lists (duplicates stay seen)
    doc = json.loads(text, parse_int=str, parse_float=str, parse_constant=str,
                     object_pairs_hook=lambda pairs: ("obj", sorted(pairs, key=repr)))
    members = dict(doc[1])
    secrets = members.pop("secrets")
    return members, sorted(secrets, key=lambda s: dict(s[1])["id"])
a, b = load(sys.argv[1]), load(sys.argv[2])
if a[0] != b[0]:
    sys.exit("document members differ: %r != %r" % (sorted(a[0]), sorted(b[0])))
if len(a[1]) != len(b[1]):
    sys.exit("%d secrets != %d" % (len(a[1]), len(b[1])))
for x, y in zip(*(a[1], b[1])):
    if x != y:
        sys.exit("secret %s differs:\n%r\n%r" % (dict(x[1])["id"], x, y))
EOF
}

# check_tree DIR: every secret.json sits in a folder whose name ends in its id (decoded),
# each id once, and the ids are exactly those of in.json.
check_tree() {
    python3 - "$1" in.json <<'EOF' || fail "tree $1"
import json, os, re, sys, urllib.parse
root, src = sys.argv[1], sys.argv[2]
want = sorted(s["id"] for s in json.load(open(src, encoding="utf-8"))["secrets"])
seen = []
for d, dirs, files in os.walk(root):
    for c in dirs + files:
        if len(c.encode()) > 255 or c.startswith(".") or "/" in c or re.search(r"[\x00-\x1f\x7f]", c):
            sys.exit("bad component %r" % c)
    if "secret.json" in files:
        secret = json.load(open(os.path.join(d, "secret.json"), encoding="utf-8"))
        assert "versions" not in secret, d
        folder = os.path.basename(d)
        idpart = folder.rsplit("--", 1)[-1]
        got = urllib.parse.unquote_to_bytes(idpart).decode("utf-8")
        if got != secret["id"]:
            sys.exit("folder %r holds id %r" % (folder, secret["id"]))
        seen.append(got)
if sorted(seen) != want:
    sys.exit("ids in the tree %r, expected %r" % (sorted(seen), want))
EOF
}

# sec ID NAME_JSON [GROUP [EXTRA_MEMBERS]]: a secret with two versions
sec() {
    printf '{"id":"%s","name":"%s","secret_type":"arbitrary","secret_group_id":"%s",' \
        "$1" "$2" "${3:-default}"
    printf '"created_at":"2026-01-01T00:00:00Z",%s"payload":"p-%s","versions":[' "${4:-}" "$1"
    printf '{"id":"v1-%s","created_at":"2026-01-01T00:00:00Z","payload":"old","n":12345678901234567890},' "$1"
    printf '{"id":"v2-%s","created_at":"2026-02-01T00:00:00.5Z","payload":"p-%s"}]}' "$1" "$1"
}
LONG_ID=$(printf 'i%.0s' $(seq 1 240))
LONG_NAME=$(printf 'n%.0s' $(seq 1 300))
{
    printf '{"instance":{"crn":"crn:v1:x","region":"us-south","big":12345678901234567890},'
    printf '"exported_at":"2026-11-20T02:00:00Z","extra":[0.10,1E+2],'
    printf '"secret_groups":[{"id":"g-jp","name":"日本"},{"id":"g-sec","name":"secrets"},'
    printf '{"id":"g-inst","name":"instance.json"}],\n"secrets":[\n'
    sec 'a/b' 'same'; printf ',\n'
    sec 'a_b' 'same'; printf ',\n'
    sec 'a:b' 'same'; printf ',\n'
    sec 'a%2Fb' 'same'; printf ',\n'
    sec 'a--b' 'x--y'; printf ',\n'
    sec 'a-' 'x-'; printf ',\n'
    sec '-a' 'x'; printf ',\n'
    sec '.dot' ''; printf ',\n'
    sec "$LONG_ID" "$LONG_NAME"; printf ',\n'
    sec s-cafe 'caf\u00e9' g-jp; printf ',\n'
    sec s-jp '日本' g-jp; printf ',\n'
    sec s-dotdot '..' g-sec; printf ',\n'
    sec s-hidden '.hidden' g-inst; printf ',\n'
    sec s-ctl 'a\u0001b\u001b[31m\nc\td\u0085e' g-inst; printf ',\n'
    sec s-keys 'keys' default '"a\u0000x":1,"a\u0000y":2,"custom_metadata":{"z":-0.0,"e":6.02214076E+23},'
    printf ',\n'
    # two versions created at the same time: only their position orders them
    printf '{"id":"s-same","name":"same-time","secret_type":"arbitrary","secret_group_id":"default",'
    printf '"created_at":"2026-01-01T00:00:00Z","payload":"b","versions":['
    printf '{"id":"v-b","created_at":"2026-01-01T00:00:00Z","payload":"b"},'
    printf '{"id":"v-a","created_at":"2026-01-01T00:00:00Z","payload":"a"}]}'
    printf '\n],"configurations":[{"name":"ca","private_key":"k"}]}\n'
} >in.json
N=16

run 0 "$SMAR" create -q -o in.smar in.json
run 0 "$SMAR" extract -q --all-versions -o ref.json in.smar
compare in.json ref.json

step "dir: each secret in its own folder, named by its whole id; names keep their letters"
run 0 "$SMAR" extract -q --all-versions --format dir -o out in.smar
check_tree out
assert_eq "$(find out -name secret.json | wc -l)" $N "secret.json files"
assert_eq "$(find out -path '*/versions/*.json' | wc -l)" $((N * 2)) "version files"
for f in instance.json secret_groups.json configurations.json; do assert_exists "out/$f"; done
assert_exists "out/日本/arbitrary/café--s-cafe/secret.json"
assert_exists "out/日本/arbitrary/日本--s-jp/secret.json"
assert_exists "out/%73ecrets/arbitrary/%2E.--s-dotdot/secret.json"
assert_exists "out/%69nstance.json/arbitrary/%2Ehidden--s-hidden/secret.json"
assert_exists "out/%69nstance.json/arbitrary/a%01b%1B%5B31m%0Ac%09d%C2%85e--s-ctl/secret.json"
for p in same--a%2Fb same--a_b same--a%3Ab same--a%252Fb x--y--a-%2Db x---a- x--%2Da %2Edot; do
    assert_exists "out/default/arbitrary/$p/secret.json"
done
assert_exists "out/default/arbitrary/$(printf 'n%.0s' $(seq 1 13))--$LONG_ID/secret.json"
assert_exists "out/default/arbitrary/same--a_b/versions/0001--20260101T000000Z--v1-a_b.json"
assert_exists "out/default/arbitrary/same--a_b/versions/0002--20260201T000000.500Z--v2-a_b.json"
assert_contains "out/default/arbitrary/keys--s-keys/secret.json" '"a\u0000x":1'
assert_contains "out/default/arbitrary/keys--s-keys/secret.json" '"a\u0000y":2'

step "tar: the same tree"
run 0 "$SMAR" extract -q --all-versions --format tar -o out.tar in.smar
mkdir untar
tar -xf out.tar -C untar
diff -r out untar >/dev/null || fail "the tar does not hold the same files as the folder"
tar -tf out.tar | head -n 1 >first.txt
assert_eq "$(cat first.txt)" "instance.json" "first tar entry"

step "round trip: smar create takes the folder, the tar and the tar on stdin back, exactly"
run 0 "$SMAR" create -q -o dir.smar out
run 0 "$SMAR" extract -q --all-versions -o dir.json dir.smar
compare in.json dir.json
run 0 "$SMAR" create -q -o tar.smar out.tar
run 0 "$SMAR" extract -q --all-versions -o tar.json tar.smar
compare in.json tar.json
run 0 sh -c '"$SMAR" create -q -o stdin.smar - <out.tar'
run 0 "$SMAR" extract -q --all-versions -o stdin.json stdin.smar
compare in.json stdin.json
# under a top folder, sorted by name: secret folders come before instance.json
tar -czf top.tar.gz --sort=name out
run 0 "$SMAR" create -q -o top.smar top.tar.gz
run 0 "$SMAR" extract -q --all-versions -o top.json top.smar
compare in.json top.json

step "round trip of a generated export (every type)"
gen gen.json --secrets 30 --payload-bytes 100
run 0 "$SMAR" create -q -o gen.smar gen.json
run 0 "$SMAR" extract -q --all-versions -o gen-ref.json gen.smar
run 0 "$SMAR" extract -q --all-versions --format dir -o gen.d gen.smar
run 0 "$SMAR" create -q -o gen-dir.smar gen.d
run 0 "$SMAR" extract -q --all-versions -o gen-dir.json gen-dir.smar
compare gen-ref.json gen-dir.json
run 0 "$SMAR" extract -q --all-versions --format tar -o gen.tar gen.smar
run 0 "$SMAR" create -q -o gen-tar.smar gen.tar
run 0 "$SMAR" extract -q --all-versions -o gen-tar.json gen-tar.smar
compare gen-ref.json gen-tar.json

step "versions come back in their positions, not in file-name order"
versions() { # EXPORT: the version ids of its only secret
    python3 -c 'import json, sys; print(" ".join(v["id"] for v in json.load(open(sys.argv[1]))["secrets"][0]["versions"]))' "$1"
}
v=out/default/arbitrary/same-time--s-same/versions
assert_exists "$v/0001--20260101T000000Z--v-b.json"
cp -r out moved
v=moved/default/arbitrary/same-time--s-same/versions
mv "$v/0001--20260101T000000Z--v-b.json" "$v/0010--20260101T000000Z--v-b.json"
run 0 "$SMAR" create -q -o moved.smar moved
run 0 "$SMAR" extract -q --id s-same --all-versions -o moved.json moved.smar
assert_eq "$(versions moved.json)" "v-a v-b" "versions after moving v-b to position 10"
run 0 "$SMAR" extract -q --id s-same --all-versions -o same.json dir.smar
assert_eq "$(versions same.json)" "v-b v-a" "versions in their original order"

step "a file out of place in the tree is an error, not a secret gone missing"
cp -r out bad1
echo '{}' >"bad1/default/arbitrary/stray.json"
run 1 "$SMAR" create -q -o bad1.smar bad1
assert_contains err.txt "stray.json: unexpected file"
cp -r out bad2
echo '{}' >"bad2/default/arbitrary/same--a_b/versions/notes.json"
run 1 "$SMAR" create -q -o bad2.smar bad2
assert_contains err.txt "notes.json: unexpected file"
cp -r out bad3
rm bad3/default/arbitrary/same--a_b/secret.json
run 1 "$SMAR" create -q -o bad3.smar bad3
assert_contains err.txt "same--a_b/secret.json"
cp -r out bad4
cp bad4/default/arbitrary/same--a_b/secret.json bad4/default/arbitrary/same--a%3Ab/secret.json
run 1 "$SMAR" create -q -o bad4.smar bad4
assert_contains err.txt "does not match its folder's name"
assert_missing bad1.smar

step "an id that does not fit in a folder name whole is refused, naming it, not cut; nothing is written, not even the secrets before it"
HUGE_ID=$(printf 'h%.0s' $(seq 1 250))/////
{
    printf '{"instance":{"crn":"crn:v1:x"},"exported_at":"2026-11-20T02:00:00Z","secrets":[\n'
    printf '{"id":"aaa-first","name":"fine","secret_type":"arbitrary","created_at":"2026-01-01T00:00:00Z",'
    printf '"payload":"p","versions":[{"id":"v1","created_at":"2026-01-01T00:00:00Z","payload":"p"}]},\n'
    printf '{"id":"%s","name":"huge","secret_type":"arbitrary","created_at":"2026-01-01T00:00:00Z",' "$HUGE_ID"
    printf '"payload":"p","versions":[{"id":"v1","created_at":"2026-01-01T00:00:00Z","payload":"p"}]}'
    printf '\n]}\n'
} >huge.json
run 0 "$SMAR" create -q -o huge.smar huge.json
run 1 "$SMAR" extract -q --format tar -o huge.tar huge.smar
assert_contains err.txt "secret '$HUGE_ID': its id does not fit in a path component"
assert_missing huge.tar
run 1 "$SMAR" extract -q --format dir -o huge.d huge.smar
assert_contains err.txt "secret '$HUGE_ID'"
assert_contains err.txt "nothing written"
assert_missing huge.d
assert_no_temp .
