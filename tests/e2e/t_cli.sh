# The command line itself: help, version, dispatch, usage errors (exit 2).
. "$E2E_DIR/lib.sh"

step "--version and --help"
run 0 "$SMAR" --version
assert_contains out.txt "smar "
assert_contains out.txt "archive format 2.0"
run 0 "$SMAR" --help
for cmd in keygen key create inspect verify ls cat extract; do
    assert_contains out.txt "   $cmd "
done
assert_contains out.txt "exit codes"
run 2 "$SMAR"
assert_contains err.txt "usage: smar"

step "help CMD and CMD --help print the command's usage on stdout"
for cmd in keygen key create inspect verify ls cat extract; do
    run 0 "$SMAR" help "$cmd"
    assert_contains out.txt "usage: smar $cmd"
    cp out.txt help1.txt
    run 0 "$SMAR" "$cmd" --help
    assert_same out.txt help1.txt
    run 0 "$SMAR" "$cmd" -h
    assert_same out.txt help1.txt
done
run 0 "$SMAR" help
assert_contains out.txt "commands:"

step "unknown commands and options are usage errors"
run 2 "$SMAR" frobnicate
assert_contains err.txt "smar: 'frobnicate' is not a smar command"
run 2 "$SMAR" help frobnicate
run 2 "$SMAR" create --frobnicate
assert_contains err.txt "smar: create: unknown option '--frobnicate'"
assert_contains err.txt "usage: smar create"
run 2 "$SMAR" create -Z x
assert_contains err.txt "unknown option '-Z'"
run 2 "$SMAR" create -o
assert_contains err.txt "option '-o' needs a value"
run 2 "$SMAR" extract --key
assert_contains err.txt "option '--key' needs a value"
run 2 "$SMAR" key
run 2 "$SMAR" key frob x
run 2 "$SMAR" key rotate --json x

step "missing operands and bad values"
run 2 "$SMAR" create -o a.smar
assert_contains err.txt "exactly one INPUT is required"
run 2 "$SMAR" create in.json
assert_contains err.txt "-o ARCHIVE is required"
run 2 "$SMAR" create --chunk-size 4k -o a.smar in.json
assert_contains err.txt "--chunk-size '4k'"
run 2 "$SMAR" create --chunk-size 32m -o a.smar in.json
run 2 "$SMAR" create --threads 0 -o a.smar in.json
run 2 "$SMAR" create --snapshot-time yesterday -o a.smar in.json
assert_contains err.txt "--snapshot-time 'yesterday' is not an RFC 3339 time or a date"
run 2 "$SMAR" inspect
run 2 "$SMAR" inspect a b
run 2 "$SMAR" verify
run 2 "$SMAR" ls
run 2 "$SMAR" cat a.smar
assert_contains err.txt "give exactly one of --id and --name"
run 2 "$SMAR" cat --id x --name y a.smar
run 2 "$SMAR" cat --id x --type kv a.smar
assert_contains err.txt "--type and --group go with --name"
run 2 "$SMAR" cat --id x --at 2026-01-01 --version v a.smar
run 2 "$SMAR" cat --id x --at 2026-13-01 a.smar
run 2 "$SMAR" cat --id x
run 2 "$SMAR" extract a.smar
assert_contains err.txt "-o OUT is required"
run 2 "$SMAR" extract --format zip -o x a.smar
assert_contains err.txt "--format 'zip' is not one of export, jsonl, dir, tar"
run 2 "$SMAR" extract --format dir -o - a.smar
run 2 "$SMAR" keygen
assert_contains err.txt "-o FILE is required"
run 2 "$SMAR" keygen -o -
run 2 "$SMAR" keygen --sign --id x -o k
run 2 "$SMAR" keygen -o k extra

step "no key: a usage error naming --key and SMAR_KEY_FILE"
run 2 "$SMAR" ls a.smar
assert_contains err.txt "use --key FILE or set SMAR_KEY_FILE"

step "messages: 'smar: <cmd>: ...', lowercase, no full stop"
run 1 "$SMAR" inspect does-not-exist.smar
assert_contains err.txt "smar: inspect: "
assert_contains err.txt "does-not-exist.smar"
if grep -q '\.$' err.txt; then fail "message ends with a full stop: $(cat err.txt)"; fi
