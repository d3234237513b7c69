#!/bin/sh
# Run one end-to-end test script in a fresh directory:  sh run.sh tests/e2e/t_<name>.sh
# ctest provides SMAR (the smar binary), SMAR_GEN (smar-gen-export), SMAR_SOURCE_DIR and
# SMAR_TEST_TMP (where the fresh directories go). The directory is removed when the script
# succeeds and kept, for a look, when it fails.
set -eu
script=$1
name=$(basename "$script" .sh)
E2E_DIR=$(cd "$(dirname "$script")" && pwd)
export E2E_DIR
base=${SMAR_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$base"
dir=$(mktemp -d "$base/$name.XXXXXX")
# The tests decide the environment: nothing from the caller's shell leaks in.
unset SMAR_KEY_FILE SMAR_PASSPHRASE SMAR_PUBKEY || true
umask 022
# A sanitizer report must never pass for an expected failure (exit 1): give it its own code.
ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}"
UBSAN_OPTIONS="exitcode=87:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export ASAN_OPTIONS UBSAN_OPTIONS
cd "$dir"
if sh -eu "$E2E_DIR/$name.sh"; then
    cd /
    rm -rf "$dir"
    echo "e2e: $name passed"
else
    rc=$?
    echo "e2e: $name FAILED (exit $rc); its files are kept in $dir" >&2
    exit "$rc"
fi
