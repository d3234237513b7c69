#!/bin/sh
# Build the libFuzzer harnesses of fuzz/ (clang, -DSMAR_FUZZ=ON, in build/fuzz) and run them
# one after the other.
#
#   scripts/fuzz.sh [--smoke] [SECONDS] [NAME...]
#
# SECONDS  how long each harness runs (default 60; --smoke, what CI runs: the smoke's
#          budget of 280 s shared by the harnesses run, 16 s each for all 17)
# NAME     harnesses to run (fuzz/fuzz_NAME.c), default all of them
#
# Each harness starts from its work corpus fuzz/corpus-work/NAME (not committed), which is
# topped up from the checked-in seeds in fuzz/corpus/NAME, and uses fuzz/NAME.dict when
# there is one. Prints, per harness, the executions, the coverage (cov: and ft: of the last
# stats line) and the crashes. Every crash, leak, timeout or out-of-memory input is copied
# to fuzz/regressions/NAME/ (where the test suite replays it: ctest -R fuzz.replay) and
# makes the script exit 1. Minimise one with
#   build/fuzz/fuzz/fuzz_NAME -minimize_crash=1 -runs=10000 INPUT
# Environment: FUZZ_JOBS (build parallelism, default 2), FUZZ_ARGS (more libFuzzer flags),
# FUZZ_CC (the compiler, default clang), FUZZ_BUILD (the build directory, default
# build/fuzz). CI: SMAR_WITH_FUZZ=1 scripts/install-deps.sh first.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=""
smoke=0
names=""
for arg in "$@"; do
    case $arg in
    --smoke) smoke=1 ;;
    -h | --help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "fuzz.sh: unknown option $arg" >&2
        exit 2
        ;;
    *[!0-9]*) names="$names $arg" ;;
    *) seconds=$arg ;;
    esac
done
if [ -z "$names" ]; then
    for f in fuzz/fuzz_*.c; do
        n=${f#fuzz/fuzz_}
        names="$names ${n%.c}"
    done
fi
if [ -z "$seconds" ]; then
    if [ "$smoke" = 1 ]; then
        # a fixed budget (14 harnesses x 20 s when it was set): a new harness takes its
        # share from the others instead of making CI slower
        count=$(echo $names | wc -w)
        seconds=$((280 / count))
        [ "$seconds" -ge 5 ] || seconds=5
    else
        seconds=60
    fi
fi

build=${FUZZ_BUILD:-build/fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac
jobs=${FUZZ_JOBS:-2}
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "fuzz.sh: $CC not found: the harnesses need clang with libFuzzer" >&2
    exit 2
fi
echo "== building the harnesses in $build"
CC=$CC cmake -S . -B "$build" -DSMAR_FUZZ=ON -DBUILD_TESTING=OFF -DSMAR_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzzers -j "$jobs" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=""
printf '%-16s %12s %8s %8s %8s  %s\n' harness execs cov ft crashes result
for name in $names; do
    bin=$build/fuzz/fuzz_$name
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: no harness $name" >&2
        failed="$failed $name"
        continue
    fi
    work=fuzz/corpus-work/$name
    art=$build/artifacts/$name
    log=$build/logs/$name.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    rm -f "$art"/*
    if [ -d "fuzz/corpus/$name" ]; then
        cp -n "fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
    fi
    dict=""
    if [ -f "fuzz/$name.dict" ]; then
        dict="-dict=fuzz/$name.dict"
    fi
    status=0
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="$art/" $dict ${FUZZ_ARGS:-} \
        "$work" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    stats=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
    cov=$(echo "$stats" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$stats" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    crashes=0
    for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*; do
        [ -f "$f" ] || continue
        case $(basename "$f") in slow-unit-*) continue ;; esac
        crashes=$((crashes + 1))
        mkdir -p "fuzz/regressions/$name"
        cp "$f" "fuzz/regressions/$name/"
    done
    result=ok
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        result="FAILED (exit $status, log $log)"
        failed="$failed $name"
        [ "$crashes" -ne 0 ] || crashes=1
    fi
    printf '%-16s %12s %8s %8s %8s  %s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
        "$crashes" "$result"
done

if [ -n "$failed" ]; then
    echo "fuzz.sh: failures in:$failed" >&2
    echo "fuzz.sh: inputs copied to fuzz/regressions/<name>/; see the logs in $build/logs" >&2
    exit 1
fi
echo "fuzz.sh: all harnesses ran ${seconds}s each without a crash, leak or timeout"
