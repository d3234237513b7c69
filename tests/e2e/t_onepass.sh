# verify --key reads each byte once; a full extract walks the manifest at most twice (issue 16).
# Bytes read from the archive are counted with strace (read and pread64 on its descriptor).
. "$E2E_DIR/lib.sh"
have strace || { echo "SKIP: strace missing"; exit 0; }
make_key
gen ex.json --secrets 3000 --manifest-out m.txt
# small chunks: many manifest chunks, so that each walk of the manifest is counted
run 0 "$SMAR" create -q --chunk-size 65536 -o a.smar ex.json
size=$(stat -c %s a.smar)
section_bytes() { # NAME: stored bytes of a section, from inspect --json
    "$SMAR" inspect --json a.smar | python3 -c \
        'import json, sys; print(json.load(sys.stdin)["sections"][sys.argv[1]]["bytes"])' "$1"
}
manifest=$(section_bytes manifest)
[ "$manifest" -gt $((size / 5)) ] || fail "the manifest ($manifest of $size bytes) is too small to count walks"

# Bytes of the archive a command reads: read_bytes CMD... (one trace file a thread: with
# -f into one file, a call that another thread interrupts is split over two lines, and its
# result would not be counted; LeakSanitizer cannot run under ptrace)
read_bytes() {
    rm -rf trace && mkdir trace || fail "mkdir trace"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -ff -qq -y -s 0 -e trace=read,pread64 -e signal=none -o trace/t "$@" \
        >cmd.out 2>cmd.err || fail "$*: $(tail -3 cmd.err)"
    cat trace/t.* | grep -F "<$PWD/a.smar>" | sed -n 's/.*= \([0-9][0-9]*\)$/\1/p' |
        awk '{ n += $1 } END { print n + 0 }'
}

step "verify --key: every byte read once (at most 1.05x the file), exit 0"
for threads in 1 2; do
    n=$(read_bytes "$SMAR" verify -q --key root.key --threads "$threads" a.smar)
    echo "verify --key, $threads thread(s): $n bytes read of $size"
    [ "$n" -le $((size + size / 20)) ] || fail "verify --key read $n bytes of a $size-byte archive"
done

step "full extract to a file: the manifest walked twice (select, resolve), not three times"
n=$(read_bytes "$SMAR" extract -q -o all.json a.smar)
echo "extract: $n bytes read of $size (manifest $manifest)"
[ "$n" -le $((size + manifest + size / 50)) ] ||
    fail "extract read $n bytes: more than the file and one more walk of the $manifest-byte manifest"
"$SMAR" extract -q -o - a.smar >piped.json || fail "extract to standard output"
assert_same all.json piped.json

step "full extract to a folder, new or existing: the manifest walked twice as well"
mkdir existing
for out in fresh existing; do
    n=$(read_bytes "$SMAR" extract -q --format dir -o "$out" a.smar)
    echo "extract --format dir to the $out folder: $n bytes read of $size (manifest $manifest)"
    [ "$n" -le $((size + manifest + size / 50)) ] ||
        fail "extract to the $out folder read $n bytes: more than one more walk of the manifest"
done
diff -r fresh existing >/dev/null || fail "the existing folder's tree differs from the new one's"

step "a refused extract to a file still writes nothing and keeps what was there"
echo keep >old.json
ID=$(manifest_field m.txt secret 3 2 0)
run 1 "$SMAR" extract -q --force --id "$ID" --id no-such-id -o old.json a.smar
assert_contains err.txt "no secret with id 'no-such-id' matches the selection"
assert_contains err.txt "nothing written"
assert_eq "$(cat old.json)" keep "old.json"
assert_no_temp .
