#!/bin/sh
# The whole test suite, as CI runs it: installs what is missing, then builds and runs every
# test twice, in a normal build and under AddressSanitizer + UndefinedBehaviorSanitizer, and
# finally runs every fuzz harness for a short smoke run (clang, libFuzzer), which fails on
# any crash, leak or timeout. SMAR_SKIP_FUZZ=1 leaves the fuzz smoke run out.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
for variant in release asan; do
    case $variant in
    release) flags="-DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
    asan) flags="-DCMAKE_BUILD_TYPE=Debug -DSMAR_SANITIZE=ON" ;;
    esac
    echo "== $variant build"
    # shellcheck disable=SC2086
    cmake -S . -B "build/$variant" $flags >/dev/null
    cmake --build "build/$variant" -j "$jobs"
    echo "== $variant tests"
    ctest --test-dir "build/$variant" --output-on-failure -j "$jobs"
done
if [ "${SMAR_SKIP_FUZZ:-0}" != 1 ]; then
    echo "== fuzz smoke run"
    SMAR_WITH_FUZZ=1 scripts/install-deps.sh
    scripts/fuzz.sh --smoke
fi
