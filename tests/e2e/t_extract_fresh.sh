# extract --format dir into a folder that does not exist: the tree is built under a hidden
# name beside it and appears whole, once, by one rename after one sync. Killed at any moment,
# the output is either absent or complete (never a partial tree); refused or failed, nothing
# is left, hidden or not. Into an existing folder, the tree is built hidden inside it, checked
# against what is there, and moved into place piece by piece: a refused run writes nothing.
. "$E2E_DIR/lib.sh"
make_key

step "an archive big enough that extract takes a while"
gen in.json --secrets 1000 --payload-bytes 500 --seed 11
run 0 "$SMAR" create -q -o a.smar in.json
run 0 "$SMAR" extract -q --all-versions --format dir -o ref a.smar
(cd ref && find . -type f -exec sha256sum {} +) | sort >ref.sums
assert_no_temp .
assert_eq "$(find . -maxdepth 1 -name '.ref.tmp-*' | wc -l)" 0 "hidden folders left"

if have strace; then
    step "a new folder gets one rename, and no file a temporary name"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=rename,renameat,renameat2,openat -o trace.txt \
        "$SMAR_REAL" extract -q --all-versions --format dir -o traced a.smar ||
        fail "extract under strace"
    assert_eq "$(grep -c 'rename' trace.txt)" 1 "renames"
    assert_contains trace.txt '"traced"'
    assert_eq "$(grep O_CREAT trace.txt | grep -c '\.tmp-' || true)" 0 "temporary files"
    diff -r ref traced >/dev/null || fail "the traced tree differs from the reference"
fi

step "killed at any moment: no output folder, or a complete one"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
run 0 "$SMAR" extract -q --all-versions --format dir -o timed a.smar
extract_ms=$(($(now_ms) - t0 + 20))
i=0
partial_seen=0
while [ "$i" -lt "${SMAR_FRESH_TRIALS:-8}" ]; do
    rm -rf out
    "$SMAR_REAL" extract -q --all-versions --format dir -o out a.smar 2>/dev/null &
    pid=$!
    sleep "$(awk -v s="$i" -v m="$extract_ms" 'BEGIN { srand(s); printf "%.3f", int(rand() * m) / 1000 }')"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -d out ]; then
        (cd out && find . -type f -exec sha256sum {} +) | sort >got.sums
        cmp -s got.sums ref.sums || partial_seen=$((partial_seen + 1))
    fi
    i=$((i + 1))
done
assert_eq "$partial_seen" 0 "runs that left a partial output folder"

step "refused (an id that fits no folder name): no output, no hidden folder left"
python3 - <<'EOF'
import json
doc = json.load(open("in.json", encoding="utf-8"))
bad = {"id": "h" * 250 + "/////", "name": "huge", "secret_type": "arbitrary",
       "created_at": "2026-01-01T00:00:00Z", "payload": "p",
       "versions": [{"id": "v1", "created_at": "2026-01-01T00:00:00Z", "payload": "p"}]}
doc["secrets"].append(bad)
json.dump(doc, open("bad.json", "w", encoding="utf-8"))
EOF
run 0 "$SMAR" create -q -o bad.smar bad.json
run 1 "$SMAR" extract -q --format dir -o refused bad.smar
assert_contains err.txt "1 secret cannot be written as folders; nothing written"
assert_missing refused
assert_eq "$(find . -maxdepth 1 -name '.refused.tmp-*' | wc -l)" 0 "hidden folders left"

step "an existing folder: built hidden inside it, each new piece moved in whole; what was there kept"
mkdir into
echo mine >into/mine.txt
if have strace; then
    # Nothing of the tree is there yet: each top-level piece (root files, group folders) is
    # renamed into place whole, not file by file.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -qq -e trace=rename,renameat,renameat2 -o trace.txt \
        "$SMAR_REAL" extract -q --all-versions --format dir -o into a.smar ||
        fail "extract into an existing folder under strace"
    assert_eq "$(grep -c 'rename' trace.txt)" "$(ls -A ref | wc -l)" "renames"
else
    run 0 "$SMAR" extract -q --all-versions --format dir -o into a.smar
fi
assert_eq "$(cat into/mine.txt)" mine "a file that was there"
(cd into && find . -type f ! -name mine.txt -exec sha256sum {} +) | sort >into.sums
cmp -s into.sums ref.sums || fail "extract into an existing folder differs"
assert_eq "$(find into -maxdepth 1 -name '.*' | wc -l)" 0 "hidden folders left in into"

step "an existing folder with a file in the way: refused, and nothing written (not even new secrets)"
victim=$(cd into && find . -name secret.json | sort | head -n 1)
rm -r "into/$(dirname "$victim")"
run 1 "$SMAR" extract -q --all-versions --format dir -o into a.smar
assert_contains err.txt "exists (use --force to replace it)"
assert_contains err.txt "nothing written to 'into'"
assert_missing "into/$(dirname "$victim")"
assert_eq "$(find into -maxdepth 1 -name '.*' | wc -l)" 0 "hidden folders left in into"
run 0 "$SMAR" extract -q --all-versions --force --format dir -o into a.smar
(cd into && find . -type f ! -name mine.txt -exec sha256sum {} +) | sort >into.sums
cmp -s into.sums ref.sums || fail "extract --force into an existing folder differs"

step "an existing folder, a refused run (an id that fits no folder name): nothing written"
mkdir into2
run 1 "$SMAR" extract -q --format dir -o into2 bad.smar
assert_contains err.txt "1 secret cannot be written as folders; nothing written"
assert_eq "$(ls -A into2 | wc -l)" 0 "entries in into2"
