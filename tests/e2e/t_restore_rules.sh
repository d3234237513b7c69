# The restore rules of issue 10, end to end (include/smar/series.h, spec/FORMAT.md §18):
# destroyed and versionless secrets restored as recorded; the deciding snapshot (the newest
# at or before T) decides existence and version metadata; archives of two instances are
# refused; damaged archives and chunks are skipped with --skip-damaged (exit 3); a selective
# extract leaves out the configurations; --format jsonl round-trips.
. "$E2E_DIR/lib.sh"
make_key
JSON_EXACT="$E2E_DIR/json_exact.py"

T1=2026-11-01T02:00:00Z
T2=2026-11-02T02:00:00Z
T3=2026-11-03T02:00:00Z
BETWEEN_2_3=2026-11-02T06:00:00Z # after T2, before R's third version and T3
G=1a000000-0000-4000-8000-00000000000a

# head CRN EXPORTED_AT: the document members before "secrets"
head_members() {
    printf '"instance":{"crn":"%s","region":"eu-de"},"exported_at":"%s",' "$1" "$2"
    printf '"secret_groups":[{"id":"%s","name":"team-a"}]' "$G"
}
CONFIGS='"configurations":[{"name":"ca","config_type":"private_cert_configuration_root_ca","private_key":"-----BEGIN KEY-----\nca-key\n-----END KEY-----"}]'

# ver ID CREATED AVAILABLE ALIAS [PAYLOAD_MEMBER]: one version object (ALIAS - for none)
ver() {
    printf '{"id":"%s","created_at":"%s","payload_available":%s' "$1" "$2" "$3"
    [ "$4" = - ] || printf ',"alias":"%s"' "$4"
    [ -z "${5:-}" ] || printf ',%s' "$5"
    printf '}'
}

# sec ID NAME TYPE STATE REST: one secret object; REST is the members after the metadata
# (payload members, "versions"), without a leading comma ("" for none)
sec() {
    printf '{"id":"%s","name":"%s","secret_type":"%s","secret_group_id":"%s",' "$1" "$2" "$3" "$G"
    printf '"created_at":"2026-10-01T00:00:00Z","state":%s' "$4"
    [ -z "$5" ] || printf ',%s' "$5"
    printf '}'
}

# The secrets of a three-snapshot series, T1 < T2 < T3:
#  D  active with a payload at T1, destroyed at T2 and T3 (payload_available false)
#  X  destroyed in every snapshot: never a payload
#  E  "versions": [] (pre-activation), no payload;  N  no "versions" member, a payload at
#     secret level;  M  no "versions" member and no payload
#  S  at T1 and T3, not at T2 (deleted, then restored from the service's trash)
#  R  rotated at every snapshot: R-v1 current at T1, previous at T2, without payload at T3
sec_D() {
    case $1 in
    1) sec D dee arbitrary 1 "\"payload\":\"d-payload\",\"versions\":[$(ver D-v1 2026-10-01T00:00:00Z true current '"payload":"d-payload"')]" ;;
    *) sec D dee arbitrary 5 "\"versions\":[$(ver D-v1 2026-10-01T00:00:00Z false -)]" ;;
    esac
}
sec_X() {
    sec X ex arbitrary 5 "\"versions\":[$(ver X-v1 2026-10-01T00:00:00Z false -),$(ver X-v2 2026-10-08T00:00:00Z false -)]"
}
sec_E() { sec E ee public_cert 0 '"versions":[]'; }
sec_N() { sec N en kv 1 '"data":{"big":12345678901234567890,"f":0.10}'; }
sec_M() { sec M em username_password 1 ''; }
sec_S() {
    sec S es arbitrary 1 "\"payload\":\"s-payload\",\"versions\":[$(ver S-v1 2026-10-01T00:00:00Z true current '"payload":"s-payload"')]"
}
R1=$(ver R-v1 2026-10-01T00:00:00Z true current '"payload":"r1"')
R1p=$(ver R-v1 2026-10-01T00:00:00Z true previous '"payload":"r1"')
R1x=$(ver R-v1 2026-10-01T00:00:00Z false -)
R2=$(ver R-v2 2026-11-01T12:00:00Z true current '"payload":"r2"')
R2p=$(ver R-v2 2026-11-01T12:00:00Z true previous '"payload":"r2"')
R3=$(ver R-v3 2026-11-02T12:00:00Z true current '"payload":"r3"')
sec_R() {
    case $1 in
    1) sec R ar arbitrary 1 "\"payload\":\"r1\",\"versions\":[$R1]" ;;
    2) sec R ar arbitrary 1 "\"payload\":\"r2\",\"versions\":[$R1p,$R2]" ;;
    3) sec R ar arbitrary 1 "\"payload\":\"r3\",\"versions\":[$R1x,$R2p,$R3]" ;;
    esac
}

# snapshot K: the export of snapshot K as one JSON document
snapshot() {
    eval "t=\$T$1"
    printf '{'
    head_members crn:v1:bluemix:public:secrets-manager:eu-de:a/1:one:: "$t"
    printf ',"secrets":[\n'
    sec_D "$1"; printf ',\n'
    sec_X; printf ',\n'
    sec_E; printf ',\n'
    sec_N; printf ',\n'
    sec_M; printf ',\n'
    [ "$1" = 2 ] || { sec_S; printf ',\n'; }
    sec_R "$1"
    printf '\n],%s}\n' "$CONFIGS"
}

# expect FILE EXPORTED_AT [CONFIGURATIONS] SECRET...: an export document holding SECRETs
# (JSON texts), with the configurations when the third argument is "with-configs"
expect() {
    file=$1 at=$2 configs=$3
    shift 3
    {
        printf '{'
        head_members crn:v1:bluemix:public:secrets-manager:eu-de:a/1:one:: "$at"
        [ "$configs" != with-configs ] || printf ',%s' "$CONFIGS"
        printf ',"secrets":['
        sep=
        for s in "$@"; do
            printf '%s%s' "$sep" "$s"
            sep=,
        done
        printf ']}\n'
    } >"$file"
}

step "a series of three snapshots"
for k in 1 2 3; do
    snapshot "$k" >"s$k.json"
    run 0 "$SMAR" create -q -o "s$k.smar" "s$k.json"
done
ALL="s1.smar s2.smar s3.smar"

step "1. a destroyed secret: extract writes it as exported, cat says the service had none"
run 0 "$SMAR" extract --id X -o x.json s3.smar
assert_contains err.txt "extracted 1 secret as of $T3 to x.json"
expect want-x.json "$T3" - "$(sec_X)"
run 0 python3 "$JSON_EXACT" want-x.json x.json
run 1 "$SMAR" cat --id X s3.smar
assert_empty out.txt
assert_contains err.txt "secret X (\"ex\"): version X-v2 had no payload at $T3: the service had none"
run 1 "$SMAR" cat --id X $ALL
assert_empty out.txt
assert_contains err.txt "the service had none"
# D: the deciding snapshot (T2) says payload_available false; T1's archive holds a payload
run 0 "$SMAR" extract -q --at "$BETWEEN_2_3" --id D -o d.json $ALL
expect want-d.json "$T2" - "$(sec_D 2)"
run 0 python3 "$JSON_EXACT" want-d.json d.json
assert_not_contains d.json d-payload
run 0 "$SMAR" extract -q --at "$T2" --id D --all-versions -o d-all.json $ALL
run 0 python3 "$JSON_EXACT" want-d.json d-all.json
run 1 "$SMAR" cat --id D --at "$BETWEEN_2_3" $ALL
assert_empty out.txt
assert_contains err.txt "version D-v1 had no payload at $BETWEEN_2_3: the service had none"
# at T1 it had one
run 0 "$SMAR" cat --id D --at "$T1" $ALL
printf 'd-payload' >want
assert_same out.txt want

step "1+2. a full extract of one archive gives the export back exactly"
for k in 1 2 3; do
    run 0 "$SMAR" extract -o "full$k.json" "s$k.smar"
    [ "$k" != 3 ] || assert_contains err.txt "extracted 7 secrets as of $T3 to full3.json"
    run 0 python3 "$JSON_EXACT" "s$k.json" "full$k.json"
done
run 0 "$SMAR" extract -q -o full-series.json $ALL
run 0 python3 "$JSON_EXACT" s3.json full-series.json

step "2. versionless secrets: ls lists them, extract writes them exactly, cat prints N"
run 0 "$SMAR" ls s3.smar
grep -q -E '^E +public_cert +team-a +0 .* ee$' out.txt || fail "ls does not list E"
grep -q -E '^N +kv +team-a +0 .* en$' out.txt || fail "ls does not list N"
grep -q -E '^M +username_password +team-a +0 .* em$' out.txt || fail "ls does not list M"
run 0 "$SMAR" extract -q --id E --id N --id M -o versionless.json s3.smar
expect want-v.json "$T3" - "$(sec_E)" "$(sec_N)" "$(sec_M)"
run 0 python3 "$JSON_EXACT" want-v.json versionless.json
run 0 "$SMAR" cat --id N s3.smar
printf '%s' '{"data":{"big":12345678901234567890,"f":0.10}}' >want
assert_same out.txt want
run 0 "$SMAR" cat --name en --at "$T1" $ALL
assert_same out.txt want
run 1 "$SMAR" cat --id M s3.smar
assert_empty out.txt
assert_contains err.txt "secret M (\"em\") had no version and no payload at $T3 (as exported)"
run 1 "$SMAR" cat --id E s3.smar
assert_contains err.txt "secret E (\"ee\") had no version and no payload"

step "3. the deciding snapshot decides existence: S is in T1 and T3, not in T2"
run 0 "$SMAR" extract -q --at "$T3" -o at3.json $ALL
assert_contains at3.json '"id":"S"'
run 0 "$SMAR" extract -q --at "$BETWEEN_2_3" -o at23.json $ALL
assert_not_contains at23.json '"id":"S"'
run 0 "$SMAR" extract -q --at "$T2" -o at2.json $ALL
run 0 python3 "$JSON_EXACT" s2.json at2.json
run 1 "$SMAR" cat --id S --at "$BETWEEN_2_3" $ALL
assert_empty out.txt
assert_contains err.txt "secret S (\"es\") did not exist at $BETWEEN_2_3: it was deleted (the snapshot of $T2 no longer has it)"
run 1 "$SMAR" extract -q --at "$BETWEEN_2_3" --id S -o s.json $ALL
assert_contains err.txt "it was deleted"
assert_missing s.json
run 0 "$SMAR" cat --id S $ALL
printf 's-payload' >want
assert_same out.txt want
run 0 "$SMAR" cat --id S --at "$T1" s3.smar s2.smar s1.smar
assert_same out.txt want

step "3. version metadata is the deciding snapshot's (aliases, payload_available)"
# between T2 and T3: R as T2 recorded it (R-v1 "previous" with its payload, not T1's
# "current", nor T3's payload_available false)
run 0 "$SMAR" extract -q --all-versions --at "$BETWEEN_2_3" --id R -o r23.json $ALL
expect want-r2.json "$T2" - "$(sec_R 2)"
run 0 python3 "$JSON_EXACT" want-r2.json r23.json
run 0 "$SMAR" extract -q --at "$BETWEEN_2_3" --id R -o r23-current.json $ALL
run 0 python3 "$JSON_EXACT" want-r2.json r23-current.json
# at T3: R-v1 without payload though T1 and T2 hold one: T3 says the service had none
run 0 "$SMAR" extract -q --all-versions --at "$T3" --id R -o r3.json $ALL
expect want-r3.json "$T3" - "$(sec_R 3)"
run 0 python3 "$JSON_EXACT" want-r3.json r3.json
# at T1: T1's record
run 0 "$SMAR" extract -q --all-versions --at "$T1" --id R -o r1.json $ALL
expect want-r1.json "$T1" - "$(sec_R 1)"
run 0 python3 "$JSON_EXACT" want-r1.json r1.json
run 0 "$SMAR" cat --id R --version R-v1 $ALL
printf 'r1' >want
assert_same out.txt want

step "4. archives of two instances are refused, naming both CRNs and the file"
sed 's/a\/1:one::/a\/1:two::/' s1.json >other.json
run 0 "$SMAR" create -q -o other.smar other.json
run 1 "$SMAR" cat --id R s3.smar other.smar
assert_empty out.txt
assert_contains err.txt "other.smar: archives of two different instances in one series"
assert_contains err.txt "crn:v1:bluemix:public:secrets-manager:eu-de:a/1:one::"
assert_contains err.txt "crn:v1:bluemix:public:secrets-manager:eu-de:a/1:two::"
run 1 "$SMAR" extract -q -o mixed.json other.smar s2.smar s3.smar
assert_contains err.txt "s2.smar: archives of two different instances in one series"
assert_contains err.txt "crn:v1:bluemix:public:secrets-manager:eu-de:a/1:one::"
assert_contains err.txt "crn:v1:bluemix:public:secrets-manager:eu-de:a/1:two::"
assert_missing mixed.json
# --skip-damaged does not make another instance's archive "damaged"
run 1 "$SMAR" extract -q --skip-damaged -o mixed.json s3.smar other.smar
assert_contains err.txt "archives of two different instances"
assert_missing mixed.json

step "5. a truncated archive in a series: exit 3; --skip-damaged answers from the others"
head -c -100 s2.smar >cut.smar
CUT="s1.smar cut.smar s3.smar"
run 3 "$SMAR" cat --id R $CUT
assert_empty out.txt
assert_contains err.txt "cut.smar"
run 3 "$SMAR" extract -q -o cut.json $CUT
assert_contains err.txt "cut.smar"
assert_missing cut.json
run 3 "$SMAR" cat --skip-damaged --id R $CUT
printf 'r3' >want
assert_same out.txt want
assert_contains err.txt "cut.smar: damaged, left out of the series (--skip-damaged)"
run 3 "$SMAR" cat --skip-damaged --id R --at "$T1" $CUT
printf 'r1' >want
assert_same out.txt want
assert_contains err.txt "cut.smar: damaged, left out of the series (--skip-damaged)"
run 3 "$SMAR" extract --skip-damaged -o cut.json $CUT
assert_contains err.txt "cut.smar: damaged, left out of the series (--skip-damaged)"
assert_contains err.txt "extracted 7 secrets as of $T3 to cut.json"
run 0 python3 "$JSON_EXACT" s3.json cut.json
run 3 "$SMAR" extract -q --skip-damaged --at "$T1" -o cut1.json $CUT
run 0 python3 "$JSON_EXACT" s1.json cut1.json

step "6. salvage: one damaged payload chunk; --skip-damaged writes every intact secret"
gen big.json --secrets 40 --payload-bytes 20000
run 0 "$SMAR" create -q --chunk-size 64k -o big.smar big.json
run 0 "$SMAR" inspect --json big.smar
# flip one byte in the middle of the payload section (it follows the header)
python3 - out.txt big.smar bad.smar <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
assert info["sections"]["payload"]["chunks"] >= 4, "too few payload chunks"
data = bytearray(open(sys.argv[2], "rb").read())
at = info["header_size"] + info["sections"]["payload"]["bytes"] // 2
data[at] ^= 0x01
open(sys.argv[3], "wb").write(data)
PY
run 3 "$SMAR" verify --json bad.smar
python3 - out.txt <<'PY' || fail "keyless verify does not report one bad payload chunk"
import json, sys
problems = json.load(open(sys.argv[1]))["archives"][0]["problems"]
assert [(p["kind"], p["section"]) for p in problems] == [("chunk_hash", "payload")], problems
PY
# the secrets whose payloads lie in the damaged chunk (keyed verify names them)
run 3 "$SMAR" verify --json --key root.key bad.smar
python3 - out.txt >damaged-ids.txt <<'PY'
import json, sys
problems = json.load(open(sys.argv[1]))["archives"][0]["problems"]
print("\n".join(sorted({p["secret_id"] for p in problems if p["secret_id"]})))
PY
DAMAGED=$(wc -l <damaged-ids.txt)
[ "$DAMAGED" -ge 1 ] && [ "$DAMAGED" -lt 40 ] || fail "$DAMAGED damaged secrets"
run 3 "$SMAR" extract -q -o salvage.json bad.smar
assert_contains err.txt "chunk #"
assert_missing salvage.json
run 3 "$SMAR" extract -q --skip-missing -o salvage.json bad.smar
assert_missing salvage.json
run 3 "$SMAR" extract --skip-damaged -o salvage.json bad.smar
assert_contains err.txt "extracted $((40 - DAMAGED)) secrets as of 2026-11-20T02:00:00Z to salvage.json"
while read -r id; do
    assert_contains err.txt "secret $id: damaged, not restored"
done <damaged-ids.txt
assert_eq "$(count_lines err.txt ': damaged, not restored')" "$DAMAGED" "secrets listed as damaged"
# every intact secret exactly as exported (json_exact's loader keeps number text)
python3 - "$E2E_DIR" big.json damaged-ids.txt salvage.json <<'PY' || fail "salvage.json differs"
import sys
sys.path.insert(0, sys.argv[1])
import json_exact
damaged = set(open(sys.argv[3]).read().split())
want = json_exact.load(sys.argv[2])
want["secrets"] = [s for s in want["secrets"] if s["id"] not in damaged]
found = json_exact.diff(want, json_exact.load(sys.argv[4]))
if found:
    sys.exit("salvage.json differs at " + found)
PY
ID=$(head -n 1 damaged-ids.txt)
run 3 "$SMAR" cat --id "$ID" bad.smar
assert_empty out.txt

step "6b. a damaged payload chunk in the deciding archive: --skip-damaged takes those payloads from an older archive that holds the same versions"
run 0 "$SMAR" create -q --chunk-size 64k --snapshot-time 2026-11-21T00:00:00Z -o big2.smar big.json
run 0 "$SMAR" inspect --json big2.smar
python3 - out.txt big2.smar bad2.smar <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
data = bytearray(open(sys.argv[2], "rb").read())
data[info["header_size"] + info["sections"]["payload"]["bytes"] // 2] ^= 0x01
open(sys.argv[3], "wb").write(data)
PY
run 3 "$SMAR" cat --id "$ID" big.smar bad2.smar
assert_empty out.txt
run 3 "$SMAR" cat --skip-damaged --id "$ID" big.smar bad2.smar
run 0 "$SMAR" cat --id "$ID" big.smar
cp out.txt want-payload
run 3 "$SMAR" cat --skip-damaged --id "$ID" big.smar bad2.smar
assert_same out.txt want-payload
assert_contains err.txt "bad2.smar: damaged"
run 3 "$SMAR" extract --skip-damaged -o series-salvage.json big.smar bad2.smar
assert_contains err.txt "extracted 40 secrets"
assert_not_contains err.txt "not restored"
run 0 python3 "$JSON_EXACT" big.json series-salvage.json

step "3b. --all-versions: a version the deciding snapshot no longer lists keeps no stale alias"
q_doc() { # SNAPSHOT VERSIONS
    printf '{"instance":{"crn":"crn:v1:q"},"exported_at":"%s","secrets":[{"id":"q","name":"q","secret_type":"arbitrary","created_at":"2026-01-01T00:00:00Z","payload":"%s","versions":[%s]}]}\n' "$@"
}
q_doc 2026-02-01T00:00:00Z one '{"id":"q1","created_at":"2026-01-01T00:00:00Z","alias":"current","payload_available":true,"payload":"one"}' >q1.json
q_doc 2026-03-01T00:00:00Z two '{"id":"q2","created_at":"2026-02-15T00:00:00Z","alias":"current","payload_available":true,"payload":"two"}' >q2.json
run 0 "$SMAR" create -q -o q1.smar q1.json
run 0 "$SMAR" create -q -o q2.smar q2.json
run 0 "$SMAR" extract -q --all-versions -o q.json q1.smar q2.smar
python3 - q.json <<'PY' || fail "stale alias in q.json"
import json, sys
versions = json.load(open(sys.argv[1]))["secrets"][0]["versions"]
assert [v["id"] for v in versions] == ["q1", "q2"], versions
assert "alias" not in versions[0], versions[0]
assert versions[0]["payload"] == "one", versions[0]
assert versions[1]["alias"] == "current", versions[1]
PY

step "7. configurations (credentials) only on a full restore or with --configurations"
run 0 "$SMAR" extract -q --id R -o sel.json s3.smar
expect want-sel.json "$T3" - "$(sec_R 3)"
run 0 python3 "$JSON_EXACT" want-sel.json sel.json
assert_not_contains sel.json configurations
assert_not_contains sel.json ca-key
run 0 "$SMAR" extract -q --id R --configurations -o sel-c.json s3.smar
expect want-sel-c.json "$T3" with-configs "$(sec_R 3)"
run 0 python3 "$JSON_EXACT" want-sel-c.json sel-c.json
run 0 "$SMAR" extract -q --type arbitrary -o type.json s3.smar
assert_not_contains type.json configurations
run 0 "$SMAR" extract -q -o all.json s3.smar
assert_contains all.json '"configurations":[{"name":"ca"'
run 0 "$SMAR" extract -q --format jsonl --id R -o sel.jsonl s3.smar
run 0 python3 "$JSON_EXACT" want-sel.json sel.jsonl
run 0 "$SMAR" extract -q --format dir --id R -o sel.d s3.smar
assert_exists sel.d/instance.json
assert_missing sel.d/configurations.json
run 0 "$SMAR" extract -q --format dir --id R --configurations -o sel-c.d s3.smar
assert_contains sel-c.d/configurations.json ca-key
run 0 "$SMAR" extract -q --format dir -o all.d s3.smar
assert_contains all.d/configurations.json ca-key
run 0 "$SMAR" extract -q --format tar --id R -o sel.tar s3.smar
run 0 tar -tf sel.tar
assert_contains out.txt instance.json
assert_not_contains out.txt configurations.json
run 0 "$SMAR" extract -q --format tar --id R --configurations -o sel-c.tar s3.smar
run 0 tar -tf sel-c.tar
assert_contains out.txt configurations.json

step "8. cat --name in two groups (exit 2 listing both ids): covered by t_cat.sh"
assert_contains "$E2E_DIR/t_cat.sh" 'run 2 "$SMAR" cat --name shared a.smar'

step "9. extract --format jsonl: the document line, then a secret a line; create takes it back"
run 0 "$SMAR" extract --format jsonl -o s3.jsonl s3.smar
assert_contains err.txt "extracted 7 secrets as of $T3 to s3.jsonl"
python3 - s3.jsonl <<'PY' || fail "s3.jsonl is not one document line and one secret a line"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == "", "no newline at the end"
values = [json.loads(line) for line in lines[:-1]]
assert "secrets" not in values[0] and "instance" in values[0] and "configurations" in values[0]
assert [v["id"] for v in values[1:]] == ["D", "X", "E", "N", "M", "S", "R"], values[1:]
PY
run 0 python3 "$JSON_EXACT" s3.json s3.jsonl
run 0 "$SMAR" create -q -o back.smar s3.jsonl
run 0 "$SMAR" extract -q --format jsonl -o back.jsonl back.smar
assert_same s3.jsonl back.jsonl
run 0 "$SMAR" extract -q -o back.json back.smar
run 0 python3 "$JSON_EXACT" s3.json back.json
# every state and shape smar-gen-export knows, and the same through standard output
gen states.json --secrets 14 --all-states
run 0 "$SMAR" create -q -o states.smar states.json
run 0 sh -c '"$SMAR" extract -q --format jsonl -o - states.smar >states.jsonl'
run 0 python3 "$JSON_EXACT" states.json states.jsonl
run 0 sh -c '"$SMAR" create -q -o states-back.smar - <states.jsonl'
run 0 "$SMAR" extract -q -o states-back.json states-back.smar
run 0 python3 "$JSON_EXACT" states.json states-back.json
assert_no_temp .
