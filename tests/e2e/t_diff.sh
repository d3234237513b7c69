# smar diff: two snapshots of a generated instance, the second made by tests/e2e/diff_edit.py
# with one change of each kind (a rotation, a creation, a deletion, a move to another group,
# a description, a label and a custom_metadata member changed). The output is exact, the
# same from two archives and from two times of the series (a list or a folder), --json
# parses to the same changes, and no payload nor metadata value appears anywhere.
. "$E2E_DIR/lib.sh"
have python3 || fail "python3 is needed (scripts/install-deps.sh installs it)"
make_key
run 0 "$SMAR" keygen --sign -o producer.key

step "OLD (seed 5) and NEW (edited) snapshots, signed"
gen old.json --seed 5 --secrets 12
python3 "$E2E_DIR/diff_edit.py" old.json new.json values.txt || fail "diff_edit.py"
[ "$(wc -l <values.txt)" -gt 20 ] || fail "too few values to look for"
mkdir series
run 0 "$SMAR" create -q --sign producer.key -o series/1-old.smar old.json
run 0 "$SMAR" create -q --sign producer.key -o series/2-new.smar new.json
T1=2026-11-20T02:00:00Z
T2=2026-11-21T02:00:00Z

G_WEB=64f269f7-6780-4a45-abe0-60e491d3a75e
tab=$(printf '\t')
cat >expected.txt <<TXT
rotated	330904fb-f751-4d6c-9f2e-3a1334bba4db	arbitrary	$G_WEB	webhook-secret-9	aaaaaaaa-0000-4000-8000-000000000001@2026-11-20T12:00:00Z
metadata	330904fb-f751-4d6c-9f2e-3a1334bba4db	arbitrary	$G_WEB	webhook-secret-9	updated_at,versions_total
metadata	63442320-c83f-44a4-84c0-625e90c6d4b5	arbitrary	$G_WEB	app-config	custom_metadata,description,labels
deleted	baabcf1a-2a12-4968-91e0-cc2ba213c835	custom_credentials	$G_WEB	jira-bot-5
created	bbbbbbbb-0000-4000-8000-000000000002	kv	default	made-after-old
moved	ffe83cb7-3291-4e92-80ee-a7e480aa1704	public_cert	default	cert-status-7	$G_WEB
summary: 1 created, 1 deleted, 1 rotated, 2 metadata, 1 moved
TXT
grep -q "$tab" expected.txt || fail "expected.txt lost its tabs"

# no_values FILE...: not one payload or metadata value of either snapshot in FILEs
no_values() {
    while IFS= read -r value; do
        for f in "$@"; do
            if grep -F -q -e "$value" "$f"; then fail "$f shows a value: $value"; fi
        done
    done <values.txt
}

step "two archives"
run 0 "$SMAR" diff --pubkey producer.key.pub series/1-old.smar series/2-new.smar
assert_same out.txt expected.txt
assert_empty err.txt
cp out.txt pair.txt
no_values pair.txt

step "the other way round: created and deleted swap, no version is new, the move goes back"
run 0 "$SMAR" diff series/2-new.smar series/1-old.smar
cat >expected-back.txt <<TXT
metadata	330904fb-f751-4d6c-9f2e-3a1334bba4db	arbitrary	$G_WEB	webhook-secret-9	updated_at,versions_total
metadata	63442320-c83f-44a4-84c0-625e90c6d4b5	arbitrary	$G_WEB	app-config	custom_metadata,description,labels
created	baabcf1a-2a12-4968-91e0-cc2ba213c835	custom_credentials	$G_WEB	jira-bot-5
deleted	bbbbbbbb-0000-4000-8000-000000000002	kv	default	made-after-old
moved	ffe83cb7-3291-4e92-80ee-a7e480aa1704	public_cert	$G_WEB	cert-status-7	default
summary: 1 created, 1 deleted, 0 rotated, 2 metadata, 0 moved
TXT
sed -i 's/0 moved$/1 moved/' expected-back.txt
assert_same out.txt expected-back.txt

step "an archive against itself: nothing"
run 0 "$SMAR" diff series/1-old.smar series/1-old.smar
assert_eq "$(cat out.txt)" "summary: 0 created, 0 deleted, 0 rotated, 0 metadata, 0 moved" "self diff"

step "two times of the series: archives listed, a folder, any order"
run 0 "$SMAR" diff --at "$T1" --at "$T2" series/2-new.smar series/1-old.smar
assert_same out.txt expected.txt
run 0 "$SMAR" diff --at "$T1" --at "$T2" series
assert_same out.txt expected.txt
run 0 "$SMAR" diff --at "$T1" --at "2027-01-01" series
assert_same out.txt expected.txt
# both times before the new snapshot: its changes are not seen yet
run 0 "$SMAR" diff --at "$T1" --at "2026-11-20T12:30:00Z" series
assert_eq "$(cat out.txt)" "summary: 0 created, 0 deleted, 0 rotated, 0 metadata, 0 moved" "before T2"
run 0 "$SMAR" diff --at "$T2" --at "$T1" series
assert_same out.txt expected-back.txt
cp out.txt series-back.txt
no_values series-back.txt

step "--json: the same changes, parsed"
run 0 "$SMAR" diff --json series/1-old.smar series/2-new.smar
cp out.txt pair.json
run 0 "$SMAR" diff --json --at "$T1" --at "$T2" series
cp out.txt series.json
no_values pair.json series.json
python3 - pair.json series.json <<'PY' || fail "--json differs from the expectation"
import json, sys
G = "64f269f7-6780-4a45-abe0-60e491d3a75e"
def c(kind, id_, type_, group, name, **extra):
    d = {"change": kind, "id": id_, "type": type_, "group_id": group, "name": name}
    d.update(extra)
    return d
expected = [
    c("rotated", "330904fb-f751-4d6c-9f2e-3a1334bba4db", "arbitrary", G, "webhook-secret-9",
      versions=[{"id": "aaaaaaaa-0000-4000-8000-000000000001",
                 "created_at": "2026-11-20T12:00:00Z"}]),
    c("metadata", "330904fb-f751-4d6c-9f2e-3a1334bba4db", "arbitrary", G, "webhook-secret-9",
      fields=["updated_at", "versions_total"]),
    c("metadata", "63442320-c83f-44a4-84c0-625e90c6d4b5", "arbitrary", G, "app-config",
      fields=["custom_metadata", "description", "labels"]),
    c("deleted", "baabcf1a-2a12-4968-91e0-cc2ba213c835", "custom_credentials", G, "jira-bot-5"),
    c("created", "bbbbbbbb-0000-4000-8000-000000000002", "kv", "default", "made-after-old"),
    c("moved", "ffe83cb7-3291-4e92-80ee-a7e480aa1704", "public_cert", "default", "cert-status-7",
      old_group_id=G),
]
summary = {"created": 1, "deleted": 1, "rotated": 1, "metadata": 2, "moved": 1}
pair = json.load(open(sys.argv[1]))
series = json.load(open(sys.argv[2]))
assert pair["changes"] == expected, pair["changes"]
assert series["changes"] == expected, series["changes"]
assert pair["summary"] == summary and series["summary"] == summary
assert pair["old"]["archive"] == "series/1-old.smar" and len(pair["old"]["archive_id"]) == 32
assert pair["old"]["snapshot"] == "2026-11-20T02:00:00Z"
assert pair["new"]["snapshot"] == "2026-11-21T02:00:00Z"
assert series["old"] == {"at": "2026-11-20T02:00:00Z"}
assert series["new"] == {"at": "2026-11-21T02:00:00Z"}
PY

step "white space inside a value is not a metadata change"
# space after '":' before an object or array: only outside strings (a quote in a string is
# escaped), so every value keeps its meaning and number text
sed 's/":{/":  {/g; s/":\[/": [ /g' old.json >reindented.json
cmp -s old.json reindented.json && fail "sed changed nothing"
run 0 "$SMAR" create -q -o reindented.smar reindented.json
run 0 "$SMAR" diff series/1-old.smar reindented.smar
assert_eq "$(cat out.txt)" "summary: 0 created, 0 deleted, 0 rotated, 0 metadata, 0 moved" "reindented"

step "usage errors: exit 2"
run 2 "$SMAR" diff series/1-old.smar
assert_contains err.txt "give two archives, OLD and NEW"
run 2 "$SMAR" diff series/1-old.smar series/2-new.smar series/2-new.smar
run 2 "$SMAR" diff --at "$T1" series
assert_contains err.txt "--at is given twice"
run 2 "$SMAR" diff --at "$T1" --at "$T2" --at "$T2" series
run 2 "$SMAR" diff --at yesterday-ish --at "$T2" series
run 2 "$SMAR" diff --at "$T1" --at "$T2"
run 2 "$SMAR" diff --bogus a b
run 0 "$SMAR" diff --help
assert_contains out.txt "usage: smar diff"

step "failures: missing archive, wrong key (1); unsigned with --pubkey, truncated (3)"
run 1 "$SMAR" diff series/1-old.smar missing.smar
assert_contains err.txt "missing.smar"
assert_empty out.txt
run 0 "$SMAR" keygen -o other.key
run 1 "$SMAR" diff --key other.key series/1-old.smar series/2-new.smar
assert_empty out.txt
run 0 "$SMAR" create -q -o unsigned.smar new.json
run 3 "$SMAR" diff --pubkey producer.key.pub series/1-old.smar unsigned.smar
assert_contains err.txt "not signed by a trusted producer"
assert_empty out.txt
head -c $(($(stat -c %s series/2-new.smar) - 100)) series/2-new.smar >bad.smar
run 3 "$SMAR" diff series/1-old.smar bad.smar
assert_contains err.txt "bad.smar"
assert_empty out.txt
run 3 "$SMAR" diff --at "$T1" --at "$T2" series/1-old.smar bad.smar
assert_empty out.txt
no_values err.txt
