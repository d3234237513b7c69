# contrib/: the systemd units and the Kubernetes CronJob parse, name the environment the job
# needs, and the service's ExecStart, run as systemd would run it, makes a signed archive
# and the metrics file.
. "$E2E_DIR/lib.sh"
C=$SMAR_SOURCE_DIR/contrib

step "systemd units: ini structure, the keys the job needs"
python3 - "$C/systemd/smar-backup.service" "$C/systemd/smar-backup.timer" <<'PY' || fail "units"
import configparser, sys
def load(path):
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str
    with open(path) as f:
        p.read_file(f)
    return p
svc, tmr = load(sys.argv[1]), load(sys.argv[2])
assert svc["Service"]["Type"] == "oneshot"
env = open(sys.argv[1]).read()
for var in ("SMAR_EXPORT", "SMAR_OUTPUT", "SMAR_KEY_FILE", "SMAR_SIGN_KEY", "SMAR_METRICS_FILE"):
    assert "Environment=%s=" % var in env, var
assert "smar create" in svc["Service"]["ExecStart"] and "--metrics-file" in svc["Service"]["ExecStart"]
assert tmr["Timer"]["OnCalendar"] == "hourly" and tmr["Timer"]["Unit"] == "smar-backup.service"
assert tmr["Install"]["WantedBy"] == "timers.target"
PY
if have systemd-analyze; then
    cp "$C/systemd/smar-backup.service" "$C/systemd/smar-backup.timer" .
    systemd-analyze verify --man=no ./smar-backup.service ./smar-backup.timer >out.txt 2>err.txt ||
        fail "systemd-analyze verify"
    # it warns (exit 0) on unknown keys and bad values: there must be none
    if grep -v -e "does not exist" -e "not found" err.txt | grep -q .; then
        fail "systemd-analyze: $(cat err.txt)"
    fi
fi

step "the service's ExecStart makes a signed archive and the metrics"
make_key
run 0 "$SMAR" keygen --sign -o producer.key
gen export.json --secrets 3 --payload-bytes 100
mkdir archives
exec_start=$(python3 - "$C/systemd/smar-backup.service" <<'PY'
import sys
for line in open(sys.argv[1]):
    if line.startswith("ExecStart="):
        # systemd's own escapes: $$ is $, %% is %
        print(line[len("ExecStart="):].strip().replace("$$", "$").replace("%%", "%"))
PY
)
[ -n "$exec_start" ] || fail "no ExecStart"
cat >smar <<EOF2
#!/bin/sh
exec "$SMAR" "\$@"
EOF2
chmod +x smar
exec_start=$(printf '%s' "$exec_start" | sed "s#/usr/bin/smar#$PWD/smar#")
SMAR_EXPORT=$PWD/export.json SMAR_OUTPUT=$PWD/archives SMAR_SIGN_KEY=$PWD/producer.key
SMAR_METRICS_FILE=$PWD/smar.prom
export SMAR_EXPORT SMAR_OUTPUT SMAR_SIGN_KEY SMAR_METRICS_FILE
eval "$exec_start" >out.txt 2>err.txt || fail "ExecStart: $exec_start"
assert_contains smar.prom "smar_backup_last_success_timestamp{"
run 0 "$SMAR" audit --pubkey producer.key.pub archives
assert_contains out.txt "archives: 1 (1 good"

step "CronJob: YAML structure and the environment"
python3 - "$C/kubernetes/cronjob.yaml" <<'PY' || fail "cronjob.yaml"
import sys
text = open(sys.argv[1]).read()
try:
    import yaml
except ImportError:
    yaml = None
if yaml is not None:
    d = yaml.safe_load(text)
    assert d["apiVersion"] == "batch/v1" and d["kind"] == "CronJob", d
    spec = d["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and len(spec["schedule"].split()) == 5
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    c = pod["containers"][0]
    env = {e["name"] for e in c["env"]}
    mounts = {m["name"] for m in c["volumeMounts"]}
    assert mounts <= {v["name"] for v in pod["volumes"]}, mounts
    assert "smar create" in " ".join(c["args"])
else:
    # no PyYAML: a structural check (no tabs, indentation in steps of two, key: value lines)
    env = set()
    for n, line in enumerate(text.splitlines(), 1):
        assert "\t" not in line, n
        body = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not body:
            continue
        indent = len(body) - len(body.lstrip())
        assert indent % 2 == 0, n
        s = body.strip()
        if s.startswith("- name: "):
            env.add(s[len("- name: "):])
    for key in ("apiVersion: batch/v1", "kind: CronJob", "schedule:", "jobTemplate:"):
        assert key in text, key
for var in ("SMAR_KEY_FILE", "SMAR_OUTPUT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL", "AWS_REGION"):
    assert var in env, var
PY
