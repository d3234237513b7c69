# Key memory that cannot be locked (RLIMIT_MEMLOCK 0: `ulimit -l 0`) is not fatal: every
# command still works, and says so once on standard error, never on a normal run.
. "$E2E_DIR/lib.sh"

have prlimit || { echo "skipped: no prlimit"; exit 0; }
# AddressSanitizer intercepts mlock and makes it a no-op that succeeds: nothing to observe
[ "${SMAR_SANITIZED:-0}" = 1 ] && { echo "skipped: the sanitizer build makes mlock a no-op"; exit 0; }
WARNING="smar: warning: cannot lock key memory (RLIMIT_MEMLOCK): keys may be swapped to disk"

# unlocked CMD...: run CMD with a locked-memory limit of 0. root locks past any limit
# (CAP_IPC_LOCK), so as root the capability is dropped too.
unlocked() {
    if [ "$(id -u)" = 0 ]; then
        prlimit --memlock=0 setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock "$@"
    else
        prlimit --memlock=0 "$@"
    fi
}
if [ "$(id -u)" = 0 ] && ! have setpriv; then
    echo "skipped: running as root without setpriv"
    exit 0
fi

# warned_once: err.txt holds the warning exactly once
warned_once() {
    assert_eq "$(count_lines err.txt "$WARNING")" 1 "warnings on standard error"
}

gen export.json --secrets 20

step "a normal run does not warn"
run 0 "$SMAR" keygen -o root.key
assert_not_contains err.txt "cannot lock"
run 0 "$SMAR" create -q --key root.key -o a.smar export.json
assert_not_contains err.txt "cannot lock"

step "keygen, create, verify --key, cat, extract work without locked memory and warn once"
run 0 unlocked "$SMAR" keygen -o other.key
warned_once
assert_exists other.key
run 0 unlocked "$SMAR" keygen --recipient -o id.key
warned_once
assert_exists id.key.pub
run 0 unlocked "$SMAR" create -q --key root.key --key other.key --threads 3 -o b.smar export.json
warned_once
run 0 unlocked "$SMAR" verify -q --key other.key b.smar
warned_once
run 0 unlocked "$SMAR" extract --key root.key -o out.json a.smar
warned_once
run 0 "$SMAR" extract --key root.key -o ref.json a.smar
assert_same out.json ref.json

step "a failing command warns once too, and keeps its own exit code"
run 1 unlocked "$SMAR" cat --key root.key --id no-such-secret a.smar
warned_once
