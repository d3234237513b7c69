# create --json: one object summing up the archive made; --metrics-file: Prometheus
# textfile-collector metrics, replaced atomically, never through a symlink.
. "$E2E_DIR/lib.sh"
make_key
run 0 "$SMAR" keygen --sign -o a.key
gen ex.json --secrets 7 --payload-bytes 300

step "--json: the summary on stdout, nothing else"
run 0 "$SMAR" create --json --sign a.key --snapshot-time 2026-11-21T06:00:00Z \
    --metrics-file backup.prom -o a.smar ex.json
cp out.txt summary.json
run 0 "$SMAR" inspect --json a.smar
python3 - summary.json out.txt a.smar <<'PY' || fail "create --json: $(cat summary.json)"
import json, os, sys
s = json.load(open(sys.argv[1]))
ins = json.load(open(sys.argv[2]))
want = {"output", "archive_id", "snapshot", "secrets", "versions", "payload_records",
        "payload_bytes", "stored_bytes", "full", "incremental", "base_ids", "signed", "seconds"}
assert set(s) == want, sorted(s)
assert s["output"] == "a.smar", s
assert s["archive_id"] == ins["archive_id"], (s, ins)
assert s["snapshot"] == "2026-11-21T06:00:00Z", s
assert s["secrets"] == 7 and s["versions"] >= 7, s
assert s["payload_records"] > 0 and s["payload_bytes"] >= 300 * s["payload_records"] // 2, s
assert s["stored_bytes"] == os.path.getsize(sys.argv[3]), s
assert s["full"] is True and s["signed"] is True, s
assert s["incremental"] is False and s["base_ids"] == [], s
assert 0 <= s["seconds"] < 600, s
PY
assert_not_contains err.txt "created"

step "--metrics-file: four gauges with instance and output labels, mode 0644"
assert_mode backup.prom 644
for m in smar_backup_last_success_timestamp smar_backup_secrets smar_backup_bytes \
    smar_backup_duration_seconds; do
    assert_contains backup.prom "# TYPE $m gauge"
    assert_contains backup.prom "$m{instance=\"crn:v1:"
done
assert_contains backup.prom 'output="a.smar"} '
assert_contains backup.prom "smar_backup_secrets{"
grep -q '^smar_backup_secrets{.*} 7$' backup.prom || fail "secrets gauge: $(cat backup.prom)"
size=$(wc -c <a.smar)
grep -q "^smar_backup_bytes{.*} $size\$" backup.prom || fail "bytes gauge: $(cat backup.prom)"
python3 - backup.prom <<'PY' || fail "metrics format: $(cat backup.prom)"
import re, sys, time
lines = open(sys.argv[1]).read().splitlines()
sample = re.compile(r'^([a-z_]+)\{instance="((?:[^"\\]|\\.)*)",output="((?:[^"\\]|\\.)*)"\} (\S+)$')
seen = {}
for l in lines:
    if l.startswith("# HELP ") or l.startswith("# TYPE "):
        continue
    m = sample.match(l)
    assert m, l
    seen[m.group(1)] = float(m.group(4))
assert abs(seen["smar_backup_last_success_timestamp"] - time.time()) < 600, seen
assert seen["smar_backup_duration_seconds"] >= 0, seen
PY
# replaced on the next run, atomically (no temporary file left)
run 0 "$SMAR" create -q --metrics-file backup.prom -f -o a.smar ex.json
assert_no_temp .

step "refusals: --json with the archive on stdout; a metrics file that is a symlink"
run 2 "$SMAR" create --json -o - ex.json
assert_empty out.txt
ln -s ex.json link.prom
run 1 "$SMAR" create -q --metrics-file link.prom -o b.smar ex.json
assert_contains err.txt "symbolic link"
assert_missing b.smar
cmp -s ex.json link.prom || fail "the symlink target was changed"
