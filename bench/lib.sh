# bench/lib.sh - what the benchmark scripts beside bench/run.sh share: messages, the build,
# the work folder, and timing. Sourced after `set -euo pipefail` with BENCH_NAME set (the
# script's name, for messages) and, for bench_build, `repo` and `build`.

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# bench_positive VALUE WHAT: VALUE must be a positive number (else a usage error, exit 2)
bench_positive() {
    case $1 in '' | *[!0-9]* | 0) echo "$BENCH_NAME: $2: a positive number" >&2; exit 2 ;; esac
}

# bench_build: SMAR and GEN from $build, configured and built in Release when missing
bench_build() {
    if [ ! -x "$build/tools/smar" ]; then
        cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
        cmake --build "$build" -j2 --target smar smar-gen-export >/dev/null
    fi
    SMAR=$build/tools/smar
    GEN=$build/tools/smar-gen-export
    if [ ! -x "$SMAR" ] || [ ! -x "$GEN" ]; then die "no smar / smar-gen-export in $build/tools"; fi
}

# bench_workdir PREFIX: work in $BENCH_DIR (the caller's folder: never deleted, keep=1) or in a
# new folder /tmp/PREFIX.XXXXXX; sets work and changes into it
bench_workdir() {
    if [ -n "${BENCH_DIR:-}" ]; then
        work=$BENCH_DIR
        keep=1
        mkdir -p "$work"
    else
        work=$(mktemp -d "/tmp/$1.XXXXXX")
    fi
    cd "$work"
}

# bench_remove_work: the end of a run: the work folder goes unless kept
bench_remove_work() {
    if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}

# ms_since T0: milliseconds from $EPOCHREALTIME T0 to now
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }

# time_ms CMD...: run CMD once (output discarded), print its wall time in ms. Every run must
# succeed: a failing command must not look fast.
time_ms() {
    local t0
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>run.err || die "failed: $* ($(cat run.err))"
    ms_since "$t0"
}

# stats FILE: "median (min-max)" of the numbers in FILE, one a line
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.0f (%.0f-%.0f)", m, v[1], v[NR] }'
}

# median FILE: the median of the numbers in FILE, one a line
median() {
    sort -n "$1" | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
