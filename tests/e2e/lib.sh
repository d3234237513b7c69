# lib.sh - helpers for the end-to-end tests (sourced by every t_*.sh; POSIX sh).
#
#   run N cmd...       run cmd, stdout to out.txt, stderr to err.txt; its exit status must be N
#   assert_* ...       fail with a message naming the check
# Every failure prints the last command's stderr to help.

: "${SMAR:?SMAR must name the smar binary}"
: "${SMAR_GEN:?SMAR_GEN must name smar-gen-export}"

fail() {
    echo "FAIL: $*" >&2
    if [ -s err.txt ]; then
        echo "--- stderr of the last command:" >&2
        head -c 4000 err.txt >&2
    fi
    exit 1
}

step() {
    echo "== $*"
}

# run EXPECTED_STATUS cmd args...
run() {
    want=$1
    shift
    if "$@" >out.txt 2>err.txt; then got=0; else got=$?; fi
    case $got in
    86 | 87) fail "'$*': sanitizer report (exit $got)" ;;
    esac
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

assert_contains() { # FILE TEXT
    grep -F -q -e "$2" "$1" || fail "$1 does not contain '$2'"
}

assert_not_contains() { # FILE TEXT
    if grep -F -q -e "$2" "$1"; then fail "$1 contains '$2'"; fi
}

assert_empty() { # FILE
    [ ! -s "$1" ] || fail "$1 is not empty: $(head -c 300 "$1")"
}

assert_nonempty() { # FILE
    [ -s "$1" ] || fail "$1 is empty"
}

assert_exists() { # PATH
    [ -e "$1" ] || fail "$1 does not exist"
}

assert_missing() { # PATH
    [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 exists"
}

assert_same() { # FILE1 FILE2
    cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

assert_eq() { # ACTUAL EXPECTED [WHAT]
    [ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"
}

assert_mode() { # PATH OCTAL
    m=$(stat -c %a "$1")
    [ "$m" = "$2" ] || fail "$1 has mode $m, expected $2"
}

# No temporary output file (".NAME.tmp-XXXXXX") left anywhere below DIR.
assert_no_temp() { # [DIR]
    left=$(find "${1:-.}" -name '.*.tmp-*' | head -n 5)
    [ -z "$left" ] || fail "temporary files left behind: $left"
}

# Count lines of FILE matching TEXT (fixed string).
count_lines() { # FILE TEXT
    grep -F -c -e "$2" "$1" || true
}

have() {
    command -v "$1" >/dev/null 2>&1
}

# A root keyring in root.key, used through SMAR_KEY_FILE.
make_key() {
    "$SMAR" keygen -o root.key >/dev/null || fail "keygen"
    SMAR_KEY_FILE=$PWD/root.key
    export SMAR_KEY_FILE
}

# A sample export: gen FILE [smar-gen-export options]
gen() {
    out=$1
    shift
    "$SMAR_GEN" "$@" -o "$out" || fail "smar-gen-export $*"
}

# The value of a manifest field: manifest_field FILE KIND COLUMN [MATCH_COLUMN VALUE]
manifest_field() {
    awk -v kind="$2" -v col="$3" -v mc="${4:-0}" -v mv="${5:-}" \
        '$1 == kind && (mc == 0 || $mc == mv) { print $col; exit }' "$1"
}
