#!/usr/bin/env bash
# bench/objstore.sh - archives in object storage: what a single-secret restore, a create and a
# full extract cost from s3:// against a local file, and against the workaround users have
# today (download the whole archive with awscli, then `smar cat`). The S3 server is s3rver
# (installed by scripts/install-deps.sh) on loopback behind tests/servers/s3_proxy.py, over
# HTTPS with a CA made here, exactly as the tests run it (tests/e2e/s3lib.sh): the proxy checks
# every SigV4 signature, counts requests, bytes and connections, and adds latency. See
# bench/README.md.
#
# Usage: bench/objstore.sh [--build DIR] [--secrets N] [--runs N] [--big-runs N]
#                          [--latencies MS,MS...] [--compare-build DIR] [--out FILE] [--keep]
#   --build DIR          a build tree with tools/smar and tools/smar-gen-export
#                        (default: build/bench, configured and built in Release when missing)
#   --secrets N          secrets in the export (default 1000000: ~4.4 GB, long; 20000 for a
#                        quick run)
#   --runs N             runs of each single-secret restore, median reported (default 5)
#   --big-runs N         runs of each create, extract and whole download (default 1)
#   --latencies L        latencies added to each request by the proxy, in ms (default 0,50);
#                        a new connection's first request gets 2 x L more (its TCP and TLS
#                        1.3 handshakes, which cost nothing on loopback)
#   --compare-build DIR  also run the s3:// restores with DIR's smar ("before": e.g. a build
#                        of an older commit)
#   --out FILE           also write the Markdown tables to FILE
#   --keep               keep the work folder (a new folder under /tmp; $BENCH_DIR instead
#                        names a folder to work in, which is never deleted)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/build/bench"
secrets=1000000
runs=5
big_runs=1
latencies=0,50
compare=""
out=""
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --secrets) secrets=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --big-runs) big_runs=$2; shift 2 ;;
    --latencies) latencies=$2; shift 2 ;;
    --compare-build) compare=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "objstore.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
BENCH_NAME=objstore.sh
. "$here/lib.sh"
bench_positive "$runs" --runs
bench_positive "$big_runs" --big-runs
bench_positive "$secrets" --secrets
# what tests/e2e/s3lib.sh expects of tests/e2e/lib.sh
fail() { die "$@"; }
for tool in python3 openssl strace node; do
    have "$tool" || die "$tool is needed (scripts/install-deps.sh)"
done
bench_build
OLD=""
if [ -n "$compare" ]; then
    OLD=$compare/tools/smar
    [ -x "$OLD" ] || die "no smar in $compare/tools"
fi

bench_workdir smar-objstore
E2E_DIR=$repo/tests/e2e
. "$E2E_DIR/s3lib.sh"
cleanup() {
    s3_stop
    bench_remove_work
}

stat_of() { s3_stat "$1"; }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }'; }
# local_bytes FILE CMD...: the bytes CMD reads from FILE (read-family calls, strace -y)
local_bytes() {
    local file=$1
    shift
    strace -f -qq -y -s 0 -e trace=read,pread64,readv,preadv,preadv2 -e signal=none \
        -o trace.txt "$@" >/dev/null 2>run.err || die "failed under strace: $*"
    awk -v f="<$file>" 'index($0, f) { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' \
        trace.txt
}

echo "export: $secrets secrets (smar-gen-export --layout json, seed 1) in $work" >&2
t0=$EPOCHREALTIME
"$GEN" --secrets "$secrets" --layout json -o ex.json
echo "  generated in $(ms_since "$t0") ms, $(du -h ex.json | cut -f1)" >&2
"$SMAR" keygen -o root.key >/dev/null 2>&1
export SMAR_KEY_FILE=$work/root.key

s3_start
trap cleanup EXIT INT TERM
B=$S3_BUCKET
export_bytes=$(wc -c <ex.json | tr -d ' ')

# ---- create and full extract: local file vs s3:// (no added latency) ----------------------
: >create-local.ms; : >create-s3.ms; : >extract-local.ms; : >extract-s3.ms
for ((r = 1; r <= big_runs; r++)); do
    echo "create and extract, run $r of $big_runs" >&2
    time_ms "$SMAR" create -q --force -o a.smar ex.json >>create-local.ms
    s3_admin reset-stats '{}'
    time_ms "$SMAR" create -q --force -o "s3://$B/a.smar" ex.json >>create-s3.ms
    create_requests=$(stat_of requests)
    time_ms "$SMAR" extract -q --format export -o x-local.json a.smar >>extract-local.ms
    rm -f x-local.json
    s3_admin reset-stats '{}'
    time_ms "$SMAR" extract -q --format export -o x-s3.json "s3://$B/a.smar" >>extract-s3.ms
    extract_requests=$(stat_of requests)
    extract_bytes=$(stat_of bytes_out)
    rm -f x-s3.json
done
archive_bytes=$(wc -c <a.smar | tr -d ' ')

# ---- the secret to restore: the middle line of `smar ls` -------------------------------
"$SMAR" ls a.smar >ls.txt
line=$(awk -v n="$(($(wc -l <ls.txt) / 2 + 1))" 'NR == n' ls.txt)
ID=$(awk '{ print $1 }' <<<"$line")
TYPE=$(awk '{ print $2 }' <<<"$line")
NAME=$(awk '{ for (i = 1; i <= 6; i++) sub(/^[^ ]+ +/, ""); print }' <<<"$line")
rm -f ls.txt
echo "restoring id $ID ($TYPE, name $NAME)" >&2
cat_id=(cat --id "$ID")
cat_name=(cat --name "$NAME" --type "$TYPE")

rows=()
# restore_local WHAT ARGS...: the restore from the local file (wall, and bytes read)
restore_local() {
    local what=$1 bytes
    shift
    : >local.ms
    for ((r = 1; r <= runs; r++)); do time_ms "$SMAR" "$@" a.smar >>local.ms; done
    bytes=$(local_bytes "$work/a.smar" "$SMAR" "$@" a.smar)
    rows+=("| $what | local file | - | $(stats local.ms) | - | - | $bytes |")
}
# restore_s3 WHAT BINARY LABEL LATENCY ARGS...: the restore from the bucket
restore_s3() {
    local what=$1 bin=$2 label=$3 ms=$4
    shift 4
    s3_admin latency "{\"ms\": $ms, \"connect_ms\": $((2 * ms))}"
    : >s3.ms
    for ((r = 1; r <= runs; r++)); do
        s3_admin reset-stats '{}'
        time_ms "$bin" "$@" "s3://$B/a.smar" >>s3.ms
    done
    rows+=("| $what | s3://, $label | $ms | $(stats s3.ms) | $(stat_of requests) | $(stat_of connections) | $(stat_of bytes_out) |")
    s3_admin latency '{"ms": 0}'
}
for what in id name; do
    if [ "$what" = id ]; then args=("${cat_id[@]}"); else args=("${cat_name[@]}"); fi
    echo "cat --$what" >&2
    restore_local "cat --$what" "${args[@]}"
    for ms in ${latencies//,/ }; do
        restore_s3 "cat --$what" "$SMAR" "this build" "$ms" "${args[@]}"
        if [ -n "$OLD" ]; then restore_s3 "cat --$what" "$OLD" "before" "$ms" "${args[@]}"; fi
    done
done

# ---- the workaround: download the whole archive with awscli, then smar cat -----------------
for ms in ${latencies//,/ }; do
    echo "awscli download + cat, $ms ms" >&2
    s3_admin latency "{\"ms\": $ms, \"connect_ms\": $((2 * ms))}"
    : >dl.ms
    for ((r = 1; r <= big_runs; r++)); do
        rm -f dl.smar
        s3_admin reset-stats '{}'
        t0=$EPOCHREALTIME
        s3_aws s3 cp --only-show-errors "s3://$B/a.smar" dl.smar >/dev/null 2>run.err ||
            die "aws s3 cp: $(cat run.err)"
        "$SMAR" "${cat_id[@]}" dl.smar >/dev/null 2>run.err || die "cat: $(cat run.err)"
        ms_since "$t0" >>dl.ms
    done
    rm -f dl.smar
    rows+=("| cat --id | aws s3 cp, then smar cat | $ms | $(stats dl.ms) | $(stat_of requests) | $(stat_of connections) | $(stat_of bytes_out) |")
    s3_admin latency '{"ms": 0}'
done

cl=$(median create-local.ms); cs=$(median create-s3.ms)
xl=$(median extract-local.ms); xs=$(median extract-s3.ms)
{
    echo "$secrets secrets (smar-gen-export --secrets $secrets --layout json, $((export_bytes / 1000000)) MB;" \
        "archive $((archive_bytes / 1000000)) MB); $("$SMAR" --version | head -1), $(nproc) cores," \
        "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo "s3rver $(node "$S3RVER" --version 2>/dev/null || echo '?') behind tests/servers/s3_proxy.py (HTTPS, SigV4 checked), loopback."
    echo
    echo "| operation | from / to | wall, ms (median of $big_runs) | MB/s of export | requests |"
    echo "|---|---|---:|---:|---:|"
    echo "| create | local file | $(printf '%.0f' "$cl") | $(mbps "$export_bytes" "$cl") | - |"
    echo "| create | s3:// (multipart) | $(printf '%.0f' "$cs") | $(mbps "$export_bytes" "$cs") | $create_requests |"
    echo "| extract --format export | local file | $(printf '%.0f' "$xl") | $(mbps "$export_bytes" "$xl") | - |"
    echo "| extract --format export | s3:// (range reads) | $(printf '%.0f' "$xs") | $(mbps "$export_bytes" "$xs") | $extract_requests ($((extract_bytes / 1000000)) MB) |"
    echo
    echo "Single-secret restore (wall: median (min-max) of $runs runs, or $big_runs for the download;" \
        "requests, connections and bytes: the last run, counted by the proxy; local bytes: strace)."
    echo
    echo "| restore | from | added ms / request | wall, ms | requests | connections | bytes |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} | tee ${out:+"$out"}
