# export -> create -> extract --format export -> create -> extract: the same secrets come
# back, byte for byte, with exact numbers and escapes.
. "$E2E_DIR/lib.sh"
make_key

step "an export with every secret type and edge case"
gen in.json --secrets 24 --payload-bytes 200
for t in arbitrary username_password kv iam_credentials service_credentials custom_credentials \
    imported_cert public_cert private_cert quantum_key; do
    assert_contains in.json "\"secret_type\":\"$t\""
done

step "first round"
run 0 "$SMAR" create -q -o one.smar in.json
run 0 "$SMAR" extract -q --all-versions -o one.json one.smar
assert_mode one.json 600

step "second round from the extracted export"
run 0 "$SMAR" create -q -o two.smar one.json
run 0 "$SMAR" extract -q --all-versions -o two.json two.smar
assert_same one.json two.json
run 0 "$SMAR" extract -q --all-versions --format dir -o one.d one.smar
run 0 "$SMAR" extract -q --all-versions --format dir -o two.d two.smar
diff -r one.d two.d >/dev/null || fail "folder trees differ between the rounds"

step "values are data: exact numbers, escapes and Unicode survive"
for text in '12345678901234567890' '0.1000000000000000055511151231257827' '-0.0' \
    '6.02214076E+23' 'caf\u00e9' 'e\u0301' '-1.5e-300' '\ud83d\udd11'; do
    assert_contains in.json "$text"
    assert_contains one.json "$text"
done
assert_contains one.json '密码'
assert_contains one.json 'datenbank-passwört'

step "the same secrets as the input (every secret line of the input is in the output)"
# One secret per line in both files; a secret line starts with its id and its crn follows.
secret_lines() {
    sed -n 's/^\({"id":"[^"]*","name":"[^"]*","crn":.*}\)[],]*$/\1/p' "$1" | sort
}
secret_lines in.json >in.lines
secret_lines one.json >out.lines
assert_eq "$(wc -l <out.lines)" "$(wc -l <in.lines)" "secrets extracted"
assert_eq "$(wc -l <in.lines)" 24 "secrets in the input"
if ! cmp -s in.lines out.lines; then
    # name the secrets that differ, then judge semantically when jq is there
    differ=$(diff in.lines out.lines | sed -n 's/^[<>] {"id":"\([^"]*\)".*"secret_type":"\([^"]*\)".*/\1 (\2)/p' | sort -u)
    echo "secrets whose text differs: $differ" >&2
    if have jq; then
        jq -S '.secrets | sort_by(.id)' in.json >a.canon
        jq -S '.secrets | sort_by(.id)' one.json >b.canon
        cmp -s a.canon b.canon || fail "secrets differ semantically: $differ (diff a.canon b.canon)"
        echo "note: member order differs, content is the same (jq)"
    else
        fail "extracted secrets are not the input's: $differ"
    fi
fi

step "the document without secrets is the input's (jq, when installed)"
if have jq; then
    jq -S 'del(.secrets)' in.json >a.doc
    jq -S 'del(.secrets)' one.json >b.doc
    cmp -s a.doc b.doc || fail "document members differ"
    jq -e '.secrets | length == 24' one.json >/dev/null || fail "not 24 secrets"
else
    echo "skip: jq not installed"
fi

step "without --at or --all-versions the snapshot comes back whole"
run 0 "$SMAR" extract -q -o cur.json one.smar
assert_same cur.json one.json

step "extract to standard output equals the file"
run 0 "$SMAR" extract -q --all-versions -o - one.smar
assert_same out.txt one.json
assert_no_temp .
