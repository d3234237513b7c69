# A command loads only the libraries it uses (issue 16, "Start-up"): libarchive, libcurl and
# p11-kit are opened on first use, so --version, cat and ls of a local archive never load
# them nor what they pull in (libxml2, ICU, libstdc++, GnuTLS). A library that cannot be
# loaded is a clear error (exit 1, naming the soname), never a crash, and no output is left.
# Creating from a tar and s3:// still work: t_layouts, t_s3 and the rest of the suite.
. "$E2E_DIR/lib.sh"
# Trace the real binary, not the valgrind wrapper around it.
BIN=${SMAR_REAL:-$SMAR}
make_key

gen ex.json --secrets 12
run 0 "$BIN" create -q -o a.smar ex.json
run 0 "$BIN" ls a.smar
ID=$(awk 'NR == 2 { print $1 }' out.txt)
[ -n "$ID" ] || fail "no secret id in ls"

# The libraries that must not be loaded. The sanitizer runtime itself needs libstdc++.
UNWANTED='libarchive\.so|libcurl|libp11-kit|libxml2|libicu|libgnutls'
if [ "${SMAR_SANITIZED:-0}" != 1 ]; then UNWANTED="$UNWANTED|libstdc\\+\\+"; fi

# loads_nothing_unwanted WHAT cmd...: run under the dynamic loader's trace (LD_DEBUG=libs
# names every library it looks for, at start and on dlopen alike).
loads_nothing_unwanted() {
    what=$1
    shift
    rm -f ld.trace.*
    if LD_DEBUG=libs LD_DEBUG_OUTPUT=$PWD/ld.trace "$@" >out.txt 2>err.txt; then :; else
        fail "$what exited $?"
    fi
    cat ld.trace.* >ld.trace 2>/dev/null || fail "$what: no loader trace (LD_DEBUG ignored?)"
    grep -q 'find library=libsodium' ld.trace || fail "$what: the loader trace lists no library"
    if grep -E "find library=($UNWANTED)" ld.trace >ld.unwanted; then
        fail "$what loads $(sed 's/.*find library=//; s/ .*//' ld.unwanted | sort -u | tr '\n' ' ')"
    fi
}

step "--version, cat and ls of a local archive load no library they do not use"
loads_nothing_unwanted "smar --version" "$BIN" --version
loads_nothing_unwanted "smar cat" "$BIN" cat --id "$ID" a.smar
assert_nonempty out.txt
loads_nothing_unwanted "smar ls" "$BIN" ls a.smar
assert_contains out.txt "$ID"
loads_nothing_unwanted "smar create (JSON)" "$BIN" create -q -o b.smar ex.json

# A stand-in that is a valid shared library without the expected functions (libcjson, which
# smar links anyway), and one that is no ELF file at all: both must be refused cleanly.
mkdir fake
CJSON=$(LD_TRACE_LOADED_OBJECTS=1 "$BIN" | awk '/libcjson/ { print $3 }')
[ -f "$CJSON" ] || fail "cannot find libcjson for the stand-in library"
cp "$CJSON" fake/libarchive.so.13
cp "$CJSON" fake/libp11-kit.so.0
printf 'not a library\n' >fake/libcurl.so.4

step "a tar input without a usable libarchive: exit 1 naming it, no archive"
"$SMAR_GEN" --secrets 3 --layout dir -o exdir || fail "gen dir"
tar -cf ex.tar -C exdir .
run 1 env LD_LIBRARY_PATH="$PWD/fake" "$SMAR" create -q -o t.smar ex.tar
assert_contains err.txt "ex.tar"
assert_contains err.txt "needs libarchive.so.13"
assert_contains err.txt "undefined symbol"
assert_missing t.smar
assert_no_temp .
run 0 "$SMAR" create -q -o t.smar ex.tar

step "extract --format tar without a usable libarchive: exit 1, no output"
run 1 env LD_LIBRARY_PATH="$PWD/fake" "$SMAR" extract -q --format tar -o t.tar a.smar
assert_contains err.txt "needs libarchive.so.13"
assert_missing t.tar
assert_no_temp .

step "s3:// without a loadable libcurl: exit 1 naming it"
run 1 env LD_LIBRARY_PATH="$PWD/fake" AWS_ENDPOINT_URL=https://127.0.0.1:9 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    "$SMAR" cat --id "$ID" s3://smar-test/a.smar
assert_contains err.txt "s3://smar-test/a.smar"
assert_contains err.txt "needs libcurl.so.4"

step "a pkcs11: key without a usable p11-kit: exit 1 naming it"
run 1 env LD_LIBRARY_PATH="$PWD/fake" "$SMAR" cat --key 'pkcs11:token=t;object=o' --id "$ID" a.smar
assert_contains err.txt "needs libp11-kit.so.0"
