# cat prints one payload exactly: an arbitrary secret's decoded string with no newline
# added, other types the JSON object of their payload fields as exported.
. "$E2E_DIR/lib.sh"
make_key

# sec ID NAME TYPE PAYLOAD_MEMBERS [OLD_PAYLOAD [GROUP]]: a secret with one old and one
# current version
sec() {
    printf '{"id":"%s","name":"%s","secret_type":"%s","secret_group_id":"%s",' "$1" "$2" "$3" "${6:-default}"
    printf '"created_at":"2026-01-01T00:00:00Z",%s,"versions":[' "$4"
    printf '{"id":"%s-v1","created_at":"2026-01-01T00:00:00Z","payload_available":true,"alias":"previous",%s},' "$1" "${5:-$4}"
    printf '{"id":"%s-v2","created_at":"2026-02-01T00:00:00Z","payload_available":true,"alias":"current",%s}]}' "$1" "$4"
}
{
    printf '{"instance":{"crn":"crn:v1:x","region":"eu-de"},"exported_at":"2026-11-20T02:00:00Z","secret_groups":[{"id":"1a000000-0000-4000-8000-00000000000a","name":"team-a"},{"id":"1b000000-0000-4000-8000-00000000000b","name":"team-b"}],"secrets":[\n'
    sec a1 text arbitrary '"payload":"h\u00e9llo \u00e9\n\"quoted\"\\ tab\t end \ud83d\udd11"' '"payload":"old value"'; printf ',\n'
    sec a2 nul arbitrary '"payload":"before\u0000after"'; printf ',\n'
    sec a3 empty arbitrary '"payload":""'; printf ',\n'
    sec k1 settings kv '"data":{"a":1,"big":12345678901234567890,"f":0.1000000000000000055511151231257827,"s":"caf\u00e9"}'; printf ',\n'
    sec u1 db username_password '"username":"admin","password":"p@ss\"word"'; printf ',\n'
    sec d1 dup arbitrary '"payload":"the arbitrary one"'; printf ',\n'
    sec d2 dup kv '"data":{"which":"the kv one"}'; printf ',\n'
    sec g1 shared arbitrary '"payload":"in team-a"' '"payload":"old a"' 1a000000-0000-4000-8000-00000000000a; printf ',\n'
    sec g2 shared arbitrary '"payload":"in team-b"' '"payload":"old b"' 1b000000-0000-4000-8000-00000000000b
    printf '\n]}\n'
} >ex.json
run 0 "$SMAR" create -q -o a.smar ex.json

step "arbitrary: the decoded string, byte for byte, no newline added"
run 0 "$SMAR" cat --id a1 a.smar
printf 'h\303\251llo \303\251\n"quoted"\\ tab\t end \360\237\224\221' >want
assert_same out.txt want
run 0 "$SMAR" cat --id a2 a.smar
printf 'before\000after' >want
assert_same out.txt want
run 0 "$SMAR" cat --id a3 a.smar
assert_empty out.txt

step "other types: the payload object exactly as exported"
run 0 "$SMAR" cat --id k1 a.smar
printf '%s' '{"data":{"a":1,"big":12345678901234567890,"f":0.1000000000000000055511151231257827,"s":"caf\u00e9"}}' >want
assert_same out.txt want
run 0 "$SMAR" cat --name db a.smar
printf '%s' '{"username":"admin","password":"p@ss\"word"}' >want
assert_same out.txt want

step "--version: an older version's payload"
run 0 "$SMAR" cat --id a1 --version a1-v1 a.smar
printf 'old value' >want
assert_same out.txt want
run 0 "$SMAR" cat --id a1 --version a1-v2 a.smar
printf 'h\303\251llo \303\251\n"quoted"\\ tab\t end \360\237\224\221' >want
assert_same out.txt want
run 0 "$SMAR" cat --id a1 --at 2026-01-15 a.smar
printf 'old value' >want
assert_same out.txt want

step "--name used by two types: a usage error listing them; --type picks one"
run 2 "$SMAR" cat --name dup a.smar
assert_empty out.txt
assert_contains err.txt "name 'dup' is used by several secrets"
assert_contains err.txt "id d1, type arbitrary, group default"
assert_contains err.txt "id d2, type kv, group default"
assert_contains err.txt "narrow with --type and --group"
run 0 "$SMAR" cat --name dup --type kv a.smar
printf '%s' '{"data":{"which":"the kv one"}}' >want
assert_same out.txt want
run 0 "$SMAR" cat --name dup --type arbitrary a.smar
printf 'the arbitrary one' >want
assert_same out.txt want

step "not found: exit 1, nothing on stdout"
run 1 "$SMAR" cat --name nobody a.smar
assert_empty out.txt
assert_contains err.txt "no secret named 'nobody'"
run 1 "$SMAR" cat --name dup --type iam_credentials a.smar
assert_empty out.txt
run 1 "$SMAR" cat --id zz a.smar
assert_empty out.txt
run 1 "$SMAR" cat --id a1 --at 2025-06-01 a.smar
assert_empty out.txt
assert_contains err.txt "did not exist at 2025-06-01T00:00:00Z"
run 1 "$SMAR" cat --id a1 missing.smar
assert_empty out.txt

step "cat reads only what it needs: the key from SMAR_KEY_FILE, pipes fine"
run 0 sh -c '"$SMAR" cat --id u1 a.smar | wc -c'
assert_eq "$(tr -d ' ' <out.txt)" "$(printf '%s' '{"username":"admin","password":"p@ss\"word"}' | wc -c | tr -d ' ')" "bytes piped"

step "--name used in two groups with one type: exit 2 listing both; --group picks one"
run 2 "$SMAR" cat --name shared a.smar
assert_empty out.txt
assert_contains err.txt "id g1, type arbitrary, group 1a000000-0000-4000-8000-00000000000a"
assert_contains err.txt "id g2, type arbitrary, group 1b000000-0000-4000-8000-00000000000b"
run 0 "$SMAR" cat --name shared --group team-b a.smar
printf 'in team-b' >want
assert_same out.txt want
run 0 "$SMAR" cat --name shared --group 1a000000-0000-4000-8000-00000000000a a.smar
printf 'in team-a' >want
assert_same out.txt want
run 1 "$SMAR" cat --name shared --group nope a.smar
assert_contains err.txt "no secret named 'shared'"
