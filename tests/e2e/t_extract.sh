# extract: selections, formats, summaries, outputs that must not be replaced.
. "$E2E_DIR/lib.sh"
make_key
gen ex.json --secrets 30 --manifest-out m.txt
run 0 "$SMAR" create -q -o a.smar ex.json
GROUP_ID=$(awk '$1 == "group" { print $2; exit }' m.txt)
GROUP_NAME=$(awk '$1 == "group" { print $3; exit }' m.txt)
in_group=$(awk -v g="$GROUP_ID" '$1 == "secret" && $5 == g' m.txt | wc -l)
kv_in_group=$(awk -v g="$GROUP_ID" '$1 == "secret" && $5 == g && $4 == "kv"' m.txt | wc -l)
secrets_in() { grep -c '"crn":"crn:v1:[^"]*:secret:' "$1" || true; }

step "export (default format): all secrets, summary on stderr, 0600"
run 0 "$SMAR" extract -o all.json a.smar
assert_contains err.txt "extracted 30 secrets as of 2026-11-20T02:00:00Z to all.json"
assert_empty out.txt
assert_mode all.json 600
assert_eq "$(secrets_in all.json)" 30 "secrets"

step "selections: group by name or id, type, both, id, name, label"
run 0 "$SMAR" extract -q --group "$GROUP_NAME" -o g1.json a.smar
assert_eq "$(secrets_in g1.json)" "$in_group" "group by name"
run 0 "$SMAR" extract -q --group "$GROUP_ID" -o g2.json a.smar
assert_same g1.json g2.json
run 0 "$SMAR" extract -q --group "$GROUP_ID" --type kv -o g3.json a.smar
assert_eq "$(secrets_in g3.json)" "$kv_in_group" "kv in group"
ID0=$(manifest_field m.txt secret 3 2 0)
ID1=$(manifest_field m.txt secret 3 2 1)
run 0 "$SMAR" extract -q --id "$ID0" --id "$ID1" -o ids.json a.smar
assert_eq "$(secrets_in ids.json)" 2 "two ids"
run 0 "$SMAR" extract -q --name app-config -o names.json a.smar
assert_eq "$(secrets_in names.json)" 2 "name shared by two types"
run 0 "$SMAR" extract -q --name app-config --type kv -o name-kv.json a.smar
assert_eq "$(secrets_in name-kv.json)" 1 "name and type"
LABEL=$(grep -o '"labels":\["[^"]*"' ex.json | head -n 1 | sed 's/.*\["//; s/"$//')
with_label=$(grep -c "\"labels\":\\[[^]]*\"$LABEL\"" ex.json || true)
run 0 "$SMAR" extract -q --label "$LABEL" -o label.json a.smar
assert_eq "$(secrets_in label.json)" "$with_label" "secrets with label $LABEL"
run 0 "$SMAR" extract -q --label "$LABEL" --label no-such-label -o label2.json a.smar
assert_same label.json label2.json
run 1 "$SMAR" extract -q --type no-such-type -o none.json a.smar
assert_contains err.txt "no secret matches the selection"
assert_missing none.json
run 0 "$SMAR" extract -q --type no-such-type --skip-missing -o none.json a.smar
assert_eq "$(secrets_in none.json)" 0 "nothing selected"

step "the extracted export is an export: smar create takes it back"
run 0 "$SMAR" create -q -o g.smar g1.json
run 0 "$SMAR" ls g.smar
assert_eq "$(($(wc -l <out.txt) - 1))" "$in_group" "secrets in the new archive"

step "dir: every version the snapshot recorded, with or without --all-versions"
run 0 "$SMAR" extract -q --format dir --id "$ID0" -o d1 a.smar
assert_eq "$(find d1 -path '*/versions/*' -type f | wc -l)" 4 "the snapshot's versions"
run 0 "$SMAR" extract -q --format dir --all-versions --id "$ID0" -o d2 a.smar
assert_eq "$(find d2 -path '*/versions/*' -type f | wc -l)" 4 "all versions"

step "outputs are never replaced without --force; -o - writes to stdout"
run 1 "$SMAR" extract -q -o all.json a.smar
assert_contains err.txt "'all.json' exists (use --force to replace it)"
run 0 "$SMAR" extract -q --force -o all.json a.smar
run 0 "$SMAR" extract -q -o - a.smar
assert_same out.txt all.json
run 0 "$SMAR" extract -q --format tar -o - --id "$ID0" a.smar
tar -tf out.txt >list.txt || fail "not a tar on stdout"
assert_contains list.txt "/secret.json"
assert_no_temp .
