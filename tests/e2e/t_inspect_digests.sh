# inspect shows a format 2.2 archive's digests section (FORMAT.md §26.6), in text and in
# --json, and only when the archive has one: a 2.0 archive keeps its four section lines.
. "$E2E_DIR/lib.sh"
V="$SMAR_SOURCE_DIR/spec/vectors/v2"

step "incr-3 (format 2.2): the digests line, pinned"
run 0 "$SMAR" inspect "$V/incr-3.smar"
assert_contains out.txt "format:       2.2"
assert_contains out.txt "  meta        1 chunks, 4112 bytes"
assert_contains out.txt "  digests     1 chunks, 4112 bytes"

step "incr-3 --json: sections.digests"
run 0 "$SMAR" inspect --json "$V/incr-3.smar"
python3 - out.txt <<'PY' || fail "inspect --json: sections.digests"
import json, sys
s = json.load(open(sys.argv[1]))["sections"]
assert s["digests"] == {"chunks": 1, "bytes": 4112}, s
assert list(s) == ["payload", "manifest", "index", "meta", "digests"], list(s)
PY

step "a 2.0 archive: no digests line, no digests member"
run 0 "$SMAR" inspect "$V/v2-basic.smar"
assert_not_contains out.txt "digests"
run 0 "$SMAR" inspect --json "$V/v2-basic.smar"
assert_not_contains out.txt "digests"
