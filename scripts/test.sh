#!/bin/sh
# The whole test suite, as CI runs it: installs what is missing, then builds and runs every
# test twice, in a Release build (what a packager builds) and under AddressSanitizer + UndefinedBehaviorSanitizer, and
# then runs the benchmark harness at its tiny smoke size (smar against tar|zstd|age, restic
# and borg on 100 and 300 secrets: it fails if any tool fails or restores wrong data), and
# finally runs every fuzz harness for a short smoke run (clang, libFuzzer), which fails on
# any crash, leak or timeout. SMAR_SKIP_BENCH=1 / SMAR_SKIP_FUZZ=1 leave those out.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
for variant in release asan; do
    case $variant in
    release) flags="-DCMAKE_BUILD_TYPE=Release" ;; # what a packager builds
    asan) flags="-DCMAKE_BUILD_TYPE=Debug -DSMAR_SANITIZE=ON" ;;
    esac
    # CI treats every warning as an error (a user's build does not: SMAR_WERROR is off by default)
    flags="$flags -DSMAR_WERROR=ON"
    echo "== $variant build"
    # shellcheck disable=SC2086
    cmake -S . -B "build/$variant" $flags >/dev/null
    cmake --build "build/$variant" -j "$jobs"
    echo "== $variant tests"
    ctest --test-dir "build/$variant" --output-on-failure -j "$jobs"
done
if [ "${SMAR_SKIP_BENCH:-0}" != 1 ]; then
    echo "== bench smoke run"
    # the report goes to build/, never over bench/RESULTS.md (the measured full run)
    BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/smar-bench-smoke.XXXXXX")
    bench/run.sh --sizes tiny --dir "$BENCH_DIR" --out build/bench-smoke/RESULTS.md
    rm -rf "$BENCH_DIR"
fi
if [ "${SMAR_SKIP_FUZZ:-0}" != 1 ]; then
    echo "== fuzz smoke run"
    SMAR_WITH_FUZZ=1 scripts/install-deps.sh
    scripts/fuzz.sh --smoke
fi
