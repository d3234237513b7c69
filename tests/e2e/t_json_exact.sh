# The exact JSON comparator the round-trip tests rely on (tests/e2e/json_exact.py): it must
# tell apart what a number- or Unicode-normalising comparison (jq, a float parser) would not.
. "$E2E_DIR/lib.sh"
have python3 || fail "python3 is needed (scripts/install-deps.sh installs it)"
JSON_EXACT="$E2E_DIR/json_exact.py"

# same LEFT RIGHT [option]: the comparator calls them equal (exit 0)
same() {
    printf '%s' "$1" >left.json
    printf '%s' "$2" >right.json
    run 0 python3 "$JSON_EXACT" ${3:-} left.json right.json
}

# differ LEFT RIGHT PATH [option]: different (exit 1), the first difference named at PATH
differ() {
    printf '%s' "$1" >left.json
    printf '%s' "$2" >right.json
    run 1 python3 "$JSON_EXACT" ${4:-} left.json right.json
    assert_contains err.txt "differ at $3:"
}

# refused TEXT: not strict JSON, or a duplicate member: an error (exit 2), not a difference
refused() {
    printf '%s' "$1" >bad.json
    printf '{}' >ok.json
    run 2 python3 "$JSON_EXACT" bad.json ok.json
    run 2 python3 "$JSON_EXACT" ok.json bad.json
}

step "numbers keep their text"
differ '{"n":12345678901234567890}' '{"n":12345678901234567000}' '$.n'
differ '[0.1]' '[0.10]' '$[0]'
differ '[1e400]' '[1E400]' '$[0]'
differ '[1e400]' '[1e+400]' '$[0]'
differ '[-0]' '[0]' '$[0]'
differ '[-0.0]' '[-0]' '$[0]'
differ '[1]' '[1.0]' '$[0]'
same '[12345678901234567890, 0.1, 1e400, -0, -1.5e-300]' '[12345678901234567890,0.1,1e400,-0,-1.5e-300]'

step "strings are decoded exactly, never normalised"
same '["\u00e9"]' '["é"]'
same '["\u00E9"]' '["é"]'
same '["a\/b"]' '["a/b"]'
same '["\ud83d\udd11"]' '["🔑"]'
same '["a\u0000b"]' '["a\u0000b"]'
differ '["a\u0000b"]' '["a\u0000c"]' '$[0]'
differ '["a\u0000b"]' '["a"]' '$[0]'
differ '["\u00e9"]' '["e\u0301"]' '$[0]'
nfc=$(printf '\303\251')   # U+00E9
nfd=$(printf 'e\314\201') # U+0065 U+0301
differ "[\"$nfc\"]" "[\"$nfd\"]" '$[0]'
same "[\"$nfd\"]" '["e\u0301"]'
differ '{"k":"1"}' '{"k":1}' '$.k'
differ '[true]' '[1]' '$[0]'
differ '[null]' '[false]' '$[0]'

step "objects are maps, arrays are sequences"
same '{"a":1,"b":{"c":[1,2],"d":"x"}}' '{"b":{"d":"x","c":[1,2]},"a":1}'
differ '{"a":{"b":[1,2]}}' '{"a":{"b":[2,1]}}' '$.a.b[0]'
differ '{"a":[1,2]}' '{"a":[1,2,3]}' '$.a'
differ '{"a":1}' '{"a":1,"b":2}' '$.b'
assert_contains err.txt "only in the right"
differ '{"k\u00e9y":1}' '{"k\u00e9y":2}' '$["k\u00e9y"]'

step "duplicate members and anything not strict JSON are errors (exit 2)"
refused '{"a":1,"a":1}'
refused '{"\u00e9":1,"é":2}'
refused '[NaN]'
refused '[Infinity]'
refused '[01]'
refused '[1.]'
refused '{"a":1} x'
refused ''
printf '["\377"]' >bad.json
run 2 python3 "$JSON_EXACT" bad.json bad.json
run 2 python3 "$JSON_EXACT" only-one.json
run 2 python3 "$JSON_EXACT" missing.json missing.json

step "--secrets-by-id: the top-level secrets array is a map keyed by id"
two='{"x":1,"secrets":[{"id":"s1","v":[1,2]},{"id":"s2","v":0.1}]}'
swapped='{"secrets":[{"id":"s2","v":0.1},{"v":[1,2],"id":"s1"}],"x":1}'
same "$two" "$swapped" --secrets-by-id
differ "$two" "$swapped" '$.secrets[0].id'
differ "$two" '{"x":1,"secrets":[{"id":"s2","v":0.10},{"id":"s1","v":[1,2]}]}' \
    '$.secrets[id=s2].v' --secrets-by-id
differ "$two" '{"x":1,"secrets":[{"id":"s1","v":[1,2]}]}' '$.secrets[id=s2]' --secrets-by-id
# only the top-level array: a nested "secrets" stays a sequence
differ '{"o":{"secrets":[{"id":"a"},{"id":"b"}]}}' '{"o":{"secrets":[{"id":"b"},{"id":"a"}]}}' \
    '$.o.secrets[0].id' --secrets-by-id
printf '{"secrets":[{"id":"s1"},{"id":"s1"}]}' >dup.json
run 2 python3 "$JSON_EXACT" --secrets-by-id dup.json dup.json
printf '{"secrets":[{"name":"no id"}]}' >noid.json
run 2 python3 "$JSON_EXACT" --secrets-by-id noid.json noid.json

step "a JSONL stream compares as the document with its secrets"
printf '{"x":1}\n{"id":"s1","v":[1,2]}\n{"id":"s2","v":0.1}\n' >stream.jsonl
printf '%s' "$two" >two.json
run 0 python3 "$JSON_EXACT" stream.jsonl two.json
run 0 python3 "$JSON_EXACT" --secrets-by-id two.json stream.jsonl
printf '%s' "$swapped" >swapped.json
run 1 python3 "$JSON_EXACT" stream.jsonl swapped.json
run 0 python3 "$JSON_EXACT" --secrets-by-id stream.jsonl swapped.json
printf '{"x":1}\n' >empty.jsonl
printf '{"x":1,"secrets":[]}' >empty.json
run 0 python3 "$JSON_EXACT" empty.jsonl empty.json
printf '{"x":1,"secrets":[]}\n{"id":"s1"}\n' >bad.jsonl
run 2 python3 "$JSON_EXACT" bad.jsonl empty.json

step "a directory compares as the document its files stand for"
mkdir -p tree/secrets
printf '{"instance":{"crn":"c"},"exported_at":"2026-01-01T00:00:00Z"}\n' >tree/instance.json
printf '{"secret_groups":[],"total_count":0}\n' >tree/secret_groups.json
printf '{"id":"s1","v":[1,2]}\n' >tree/secrets/s1.json
printf '{"id":"s2","v":0.1}\n' >tree/secrets/s2.json
printf '{"instance":{"crn":"c"},"exported_at":"2026-01-01T00:00:00Z","secret_groups":[],%s\n' \
    '"secrets":[{"id":"s2","v":0.1},{"id":"s1","v":[1,2]}]}' >tree.json
run 0 python3 "$JSON_EXACT" --secrets-by-id tree tree.json
printf '{"id":"s2","v":0.10}\n' >tree/secrets/s2.json
run 1 python3 "$JSON_EXACT" --secrets-by-id tree.json tree
assert_contains err.txt 'differ at $.secrets[id=s2].v: 0.1 vs 0.10'
printf '{"secret_groups":[],"exported_at":"2026-01-01T00:00:00Z"}\n' >tree/secret_groups.json
run 2 python3 "$JSON_EXACT" tree tree.json
