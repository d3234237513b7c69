# ls (metadata only, selections, several archives, --json) and inspect (keyless header,
# keyed snapshot summary, --json).
. "$E2E_DIR/lib.sh"
make_key
gen ex.json --secrets 30 --manifest-out m.txt
run 0 "$SMAR" create -q -o a.smar ex.json
GROUP_ID=$(awk '$1 == "group" { print $2; exit }' m.txt)
GROUP_NAME=$(awk '$1 == "group" { print $3; exit }' m.txt)
in_group=$(awk -v g="$GROUP_ID" '$1 == "secret" && $5 == g' m.txt | wc -l)
kv=$(awk '$1 == "secret" && $4 == "kv"' m.txt | wc -l)
ID0=$(manifest_field m.txt secret 3 2 0)

step "ls: one line per secret with id, type, group, versions, dates, name"
run 0 "$SMAR" ls a.smar
assert_eq "$(wc -l <out.txt)" 31 "lines (header + 30)"
head -n 1 out.txt | grep -q '^ID  *TYPE  *GROUP  *VERS  *CREATED  *UPDATED  *NAME$' || fail "header: $(head -n 1 out.txt)"
line=$(grep "^$ID0 " out.txt)
echo "$line" | grep -q "arbitrary" || fail "row of $ID0: $line"
echo "$line" | grep -q "app-config\$" || fail "row of $ID0: $line"
echo "$line" | grep -q " 4 " || fail "versions of $ID0: $line"
# group names, not ids, where the document names the group
grep -q " $GROUP_NAME " out.txt || fail "group name $GROUP_NAME not shown"

step "ls --json: stable keys"
run 0 "$SMAR" ls --json a.smar
for k in '"archives":' '"archive":	"a.smar"' '"snapshot":	"2026-11-20T02:00:00Z"' '"secrets":' \
    '"id":' '"type":' '"name":' '"group_id":' '"group_name":' '"versions":' '"created":' \
    '"updated":' '"labels":'; do
    assert_contains out.txt "$k"
done
assert_eq "$(count_lines out.txt '"type":')" 30 "secrets in json"
if have jq; then
    jq -e '.archives[0].secrets | length == 30' out.txt >/dev/null || fail "jq: 30 secrets"
fi

step "ls selections: any of within an option, all of across options"
run 0 "$SMAR" ls --type kv a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" "$kv" "kv secrets"
run 0 "$SMAR" ls --type kv --type arbitrary a.smar
arb=$(awk '$1 == "secret" && $4 == "arbitrary"' m.txt | wc -l)
assert_eq "$(($(wc -l <out.txt) - 1))" $((kv + arb)) "kv + arbitrary secrets"
run 0 "$SMAR" ls --group "$GROUP_NAME" a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" "$in_group" "secrets in group by name"
run 0 "$SMAR" ls --group "$GROUP_ID" a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" "$in_group" "secrets in group by id"
both=$(awk -v g="$GROUP_ID" '$1 == "secret" && $5 == g && $4 == "kv"' m.txt | wc -l)
run 0 "$SMAR" ls --group "$GROUP_ID" --type kv a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" "$both" "kv secrets in the group"
run 0 "$SMAR" ls --name app-config a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" 2 "secrets named app-config (two types)"
run 0 "$SMAR" ls --id "$ID0" a.smar
assert_eq "$(($(wc -l <out.txt) - 1))" 1 "by id"
LABEL=$(grep -o '"labels":\["[^"]*"' ex.json | head -n 1 | sed 's/.*\["//; s/"$//')
with_label=$(grep -c "\"labels\":\\[[^]]*\"$LABEL\"" ex.json || true)
run 0 "$SMAR" ls --json --label "$LABEL" a.smar
assert_eq "$(count_lines out.txt "\"$LABEL\"")" "$with_label" "secrets with label $LABEL"
run 0 "$SMAR" ls --type no-such-type a.smar
assert_eq "$(wc -l <out.txt)" 1 "no match: header only"

step "ls never needs payloads: it works with the payload section damaged"
run 0 "$SMAR" inspect --json a.smar
HDR=$(sed -n 's/.*"header_size":[[:space:]]*\([0-9]*\).*/\1/p' out.txt)
cp a.smar hurt.smar
printf 'XXXXXXXX' | dd of=hurt.smar bs=1 seek=$((HDR + 20)) conv=notrunc 2>/dev/null
run 0 "$SMAR" ls hurt.smar
assert_eq "$(wc -l <out.txt)" 31 "lines from the damaged archive"

step "ls of several archives: a header per archive"
gen ex2.json --secrets 12 --exported-at 2026-11-21T02:00:00Z
run 0 "$SMAR" create -q -o b.smar ex2.json
run 0 "$SMAR" ls a.smar b.smar
assert_contains out.txt "==> a.smar (snapshot 2026-11-20T02:00:00Z) <=="
assert_contains out.txt "==> b.smar (snapshot 2026-11-21T02:00:00Z) <=="
run 0 "$SMAR" ls --json a.smar b.smar
assert_contains out.txt '"archive":	"b.smar"'

step "inspect without a key: the public header"
run 0 "$SMAR" inspect a.smar
for k in "archive:      a.smar" "format:       2.0" "archive id:   " "created:      " \
    "snapshot:     2026-11-20T02:00:00Z" "suite:        xchacha20poly1305" \
    "compression:  zstd" "chunk size:   1048576" "file size:    $(stat -c %s a.smar) bytes" \
    "chunks:       " "payload " "manifest " "index " "meta " "key slots:    1" \
    "signed:       no"; do
    assert_contains out.txt "$k"
done
assert_not_contains out.txt "instance:"

step "inspect --key: the snapshot summary"
run 0 "$SMAR" inspect --key root.key a.smar
CRN=$(grep -o '"crn":"crn:v1:[^"]*::"' ex.json | head -n 1 | sed 's/"crn":"//; s/"$//')
assert_contains out.txt "instance:     $CRN"
assert_contains out.txt "region:       us-south"
assert_contains out.txt "secrets:      30 ("
assert_contains out.txt "versions:     "
assert_contains out.txt "by type:"
assert_contains out.txt "  kv                   $kv"
assert_contains out.txt "by group:"
assert_contains out.txt "  $GROUP_NAME ($GROUP_ID) $in_group"

step "inspect --json: stable keys"
run 0 "$SMAR" inspect --json --key root.key a.smar
for k in '"archive":' '"format_version":	"2.0"' '"archive_id":' '"created":' '"snapshot":' \
    '"suite":' '"compression":' '"chunk_size":' '"file_size":' '"header_size":' \
    '"chunk_count":' '"sections":' '"payload":' '"manifest":' '"index":' '"meta":' \
    '"chunks":' '"bytes":' '"key_slots":' '"key_id":' '"key_version":	1' \
    '"provider":	"local"' '"signed":	false' '"signer_fingerprint":	null' \
    '"snapshot_summary":' '"instance":' '"crn":' '"region":	"us-south"' '"secrets":	30' \
    '"versions":' '"payloads":' '"oldest_version":' '"newest_version":' '"by_type":' \
    "\"type\":	\"kv\"" '"by_group":' "\"name\":	\"$GROUP_NAME\""; do
    assert_contains out.txt "$k"
done
if have jq; then
    jq -e '.snapshot_summary.secrets == 30 and (.key_slots | length) == 1' out.txt >/dev/null ||
        fail "jq: inspect json"
fi
run 0 "$SMAR" inspect --json a.smar
assert_not_contains out.txt "snapshot_summary"
