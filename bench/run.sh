#!/usr/bin/env bash
# The operations below are functions called by name through `measure`:
# shellcheck disable=SC2317
# bench/run.sh - benchmark smar against zstd -3 -T0 | age (tar | zstd | age for a folder),
# restic and borg on the same generated instance exports, each in three layouts (one JSON
# document, JSONL, a directory), and write a results table, ratios, targets and a chart.
#
#   bench/run.sh [--sizes tiny|small|full|LIST] [--out FILE] [options]     (see --help)
#
# bash (not POSIX sh): it needs pipefail, arrays and $EPOCHREALTIME (bash >= 5).
set -eu -o pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [--sizes tiny|small|full|LIST] [--layouts LIST] [--out FILE] [--runs N]
                    [--dir DIR] [--threads N] [--peers LIST] [--skip LIST] [--cold] [--keep]
                    [--no-install]

Generates, for each size, the same instance export (same seed, same secrets) in each layout
with smar-gen-export --layout json|jsonl|dir, then runs smar and the peers on the same bytes
and measures wall time, CPU time, peak RSS, output size and bytes read:
  json, jsonl  smar create FILE     vs  zstd -3 -T0 < FILE | age -r R
  dir          smar create FOLDER   vs  tar -C FOLDER -cf - . | zstd -3 -T0 | age -r R,
                                        restic backup, borg create (the folder only)
Writes a Markdown report (default bench/RESULTS.md) and a gnuplot chart next to it
(results.png for RESULTS.md, else <out>.png).

  --sizes S      tiny  = 100,300, 1 run, bytes read of smar only (CI smoke, ~1 min: a few
                         seconds for json and jsonl, about 10 s for dir, per size)
                 small = 1k,5k,2kx8000              (a few minutes)
                 full  = 1k,100k,1m,1g              (the real benchmark: hours, ~30 GB disk)
                 or a comma-separated LIST of sizes: N[k|m] secrets with the generator's
                 default payload, N[k|m]xP with --payload-bytes P, or 1g (= 28kx30000,
                 about 1 GB of payload). Default: full.
  --layouts LIST comma-separated subset of json,jsonl,dir (default: all three, in that order)
  --out FILE     the report (default bench/RESULTS.md)
  --runs N       timed runs per command, the median is reported (default 3, tiny: 1). A command
                 whose first run takes longer than $BENCH_LONG_S (default 600) s runs once.
  --dir DIR      scratch directory (default $BENCH_DIR or /tmp/smar-bench)
  --threads N    smar create is also run with --threads N (default: nproc; 1 disables)
  --peers LIST   comma-separated subset of age,restic,borg (default: all three)
  --skip LIST    comma-separated operations to leave out: TOOL:OP as named in the output
                 (smar:extract-dir), TOOL:OP@SIZE (only at that size), TOOL@SIZE (every
                 operation of a tool at that size, e.g. restic@1m,borg@1m); SIZE may be
                 SIZE/LAYOUT (smar:create-1t@1m/json) to skip in one layout only
  --cold         drop the page cache before every timed run (needs a writable
                 /proc/sys/vm/drop_caches; otherwise falls back to warm cache and says so)
  --keep         keep the generated exports and outputs in the scratch directory
  --no-install   never call apt-get; peers that are missing are skipped with a note
  --report-only  measure nothing: write the report and chart again from the results an
                 earlier run left in --dir (it keeps them with --keep, or when stopped)

Environment: BENCH_DIR, BENCH_BUILD_DIR (default <repo>/build/bench), BENCH_LONG_S,
BENCH_TRACE_MAX_S (default 300: commands slower than this are not re-run under strace for
the bytes-read count).
EOF
}

die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }
note() { printf 'bench: %s\n' "$*" >&2; }

[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "bash >= 5 is needed (for \$EPOCHREALTIME)"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=full
OUT=$ROOT/bench/RESULTS.md
RUNS=
SCRATCH=${BENCH_DIR:-/tmp/smar-bench}
THREADS=$(nproc)
PEERS=age,restic,borg
LAYOUTS=json,jsonl,dir
SKIP=
COLD=0
KEEP=0
INSTALL=1
REPORT_ONLY=0
LONG_S=${BENCH_LONG_S:-600}
TRACE_PEERS=1   # 0 (tiny): bytes read are counted for smar and b2sum only, to keep CI short
TRACE_MAX_S=${BENCH_TRACE_MAX_S:-300}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build/bench}
ARGS="$*"

while [ $# -gt 0 ]; do
    case $1 in
        --sizes) SIZES=${2:?--sizes needs a value}; shift 2 ;;
        --sizes=*) SIZES=${1#*=}; shift ;;
        --out|-o) OUT=${2:?--out needs a value}; shift 2 ;;
        --out=*) OUT=${1#*=}; shift ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --dir) SCRATCH=${2:?--dir needs a value}; shift 2 ;;
        --dir=*) SCRATCH=${1#*=}; shift ;;
        --threads) THREADS=${2:?--threads needs a value}; shift 2 ;;
        --threads=*) THREADS=${1#*=}; shift ;;
        --layouts) LAYOUTS=${2:?--layouts needs a value}; shift 2 ;;
        --layouts=*) LAYOUTS=${1#*=}; shift ;;
        --peers) PEERS=${2?--peers needs a value}; shift 2 ;;
        --peers=*) PEERS=${1#*=}; shift ;;
        --skip) SKIP=${2?--skip needs a value}; shift 2 ;;
        --skip=*) SKIP=${1#*=}; shift ;;
        --cold) COLD=1; shift ;;
        --keep) KEEP=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        --report-only) REPORT_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
case ${RUNS:-3} in *[!0-9]*|0) die "--runs must be a positive integer" ;; esac
case $THREADS in ''|*[!0-9]*|0) die "--threads must be a positive integer" ;; esac
IFS=, read -r -a LAYOUT_LIST <<<"$LAYOUTS"
[ ${#LAYOUT_LIST[@]} -gt 0 ] || die "--layouts needs at least one of json,jsonl,dir"
for l in "${LAYOUT_LIST[@]}"; do
    case $l in json|jsonl|dir) ;; *) die "bad layout '$l' (want json, jsonl or dir)" ;; esac
done
want_layout() { case ",$LAYOUTS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

case $SIZES in
    tiny) SIZE_LIST=100,300; SMOKE=1; RUNS=${RUNS:-1}; TRACE_PEERS=0 ;;
    small) SIZE_LIST=1k,5k,2kx8000; SMOKE=1 ;;
    full) SIZE_LIST=1k,100k,1m,1g; SMOKE=0 ;;
    *) SIZE_LIST=$SIZES; SMOKE=0 ;;
esac
RUNS=${RUNS:-3}

# size token -> "N P" (secrets, payload bytes; P empty = generator default)
parse_count() {
    case $1 in
        *[kK]) n=${1%?}; m=1000 ;;
        *[mM]) n=${1%?}; m=1000000 ;;
        *) n=$1; m=1 ;;
    esac
    case $n in ''|*[!0-9]*) return 1 ;; esac
    echo $((n * m))
}
parse_size() {
    local t=$1 n p=""
    [ "$t" = 1g ] && t=28kx30000
    case $t in
        *x*) n=$(parse_count "${t%%x*}") || return 1; p=${t#*x}
             case $p in ''|*[!0-9]*) return 1 ;; esac ;;
        *) n=$(parse_count "$t") || return 1 ;;
    esac
    [ "$n" -gt 0 ] || return 1
    echo "$n $p"
}
IFS=, read -r -a SIZE_TOKENS <<<"$SIZE_LIST"
for t in "${SIZE_TOKENS[@]}"; do
    parse_size "$t" >/dev/null || die "bad size '$t' (want N, Nk, Nm, NxP or 1g)"
done

mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
if [ "$(basename "$OUT")" = RESULTS.md ]; then PNG=$(dirname "$OUT")/results.png; else PNG=${OUT%.md}.png; fi

# ---- tools ------------------------------------------------------------------------------

want_peer() { case ",$PEERS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# command -> Debian package
pkg_of() {
    case $1 in
        borg) echo borgbackup ;; age|age-keygen) echo age ;; gnuplot) echo gnuplot-nox ;;
        jq) echo jq ;;
        /usr/bin/time) echo time ;; *) echo "$1" ;;
    esac
}
have() { command -v "$1" >/dev/null 2>&1; }

# restic and borg back up folders: they are measured on the directory layout only
SKIPPED=()
if ! want_layout dir; then
    for p in restic borg; do want_peer "$p" && SKIPPED+=("$p (runs on the dir layout only, not selected)"); done
    PEERS=$(echo ",$PEERS," | sed 's/,restic,/,/; s/,borg,/,/; s/^,//; s/,$//')
fi
needed=(/usr/bin/time strace zstd gnuplot b2sum)
want_peer age && needed+=(age age-keygen)
# the peer's single restore from the JSON document selects the secret with jq
want_peer age && want_layout json && needed+=(jq)
want_peer restic && needed+=(restic)
want_peer borg && needed+=(borg)
missing=()
for c in "${needed[@]}"; do have "$c" || missing+=("$(pkg_of "$c")"); done
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && have apt-get; then
        say "installing ${missing[*]} (apt-get)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
            >/dev/null 2>&1 || note "apt-get install failed; continuing with what is there"
    else
        note "missing: ${missing[*]} -- install with: sudo apt-get install ${missing[*]}"
    fi
fi
have zstd || { want_peer age && note "zstd missing: skipping the tar|zstd|age peer"; PEERS=${PEERS//age/}; }
for p in age restic borg; do
    want_peer "$p" || continue
    c=$p; [ "$p" = age ] && c=age-keygen
    if ! have "$p" || ! have "$c"; then
        note "$(pkg_of "$p") is not installed: skipping peer $p"
        SKIPPED+=("$p (not installed)")
        PEERS=$(echo ",$PEERS," | sed "s/,$p,/,/; s/^,//; s/,\$//")
    fi
done
for p in age restic borg; do want_peer "$p" || case " ${SKIPPED[*]:-} " in *" $p "*) ;; *) SKIPPED+=("$p (not selected)") ;; esac; done
HAVE_JQ=0; have jq && HAVE_JQ=1
HAVE_STRACE=0; have strace && HAVE_STRACE=1
[ $HAVE_STRACE = 1 ] || note "strace missing: bytes read are not counted"
GNUTIME=/usr/bin/time
[ -x "$GNUTIME" ] || { GNUTIME=""; note "GNU time missing (apt-get install time): CPU time and peak RSS are not measured"; }

# ---- build smar (Release) ---------------------------------------------------------------

say "building smar (Release) in $BUILD"
mkdir -p "$BUILD"
if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DCMAKE_C_FLAGS= &&
       cmake --build "$BUILD" -j "$(nproc)" --target smar smar-gen-export; } >"$BUILD/bench-build.log" 2>&1; then
    tail -30 "$BUILD/bench-build.log" >&2
    die "build failed (log: $BUILD/bench-build.log)"
fi
SMAR=$BUILD/tools/smar
GEN=$BUILD/tools/smar-gen-export
if [ ! -x "$SMAR" ] || [ ! -x "$GEN" ]; then die "build did not produce $SMAR and $GEN"; fi

# ---- scratch ----------------------------------------------------------------------------

mkdir -p "$SCRATCH"
SCRATCH=$(cd "$SCRATCH" && pwd -P)   # strace prints resolved paths
case $SCRATCH in "$ROOT"|"$ROOT"/*) die "the scratch directory must be outside the repository" ;; esac
# KEY below is SIZE/LAYOUT (1k/json): one export of one size in one layout
RES=$SCRATCH/results.tsv     # key tool op wall cpu rss_kib out_bytes read_bytes runs status
INFO=$SCRATCH/sizes.tsv      # key secrets payload files bytes index_bytes name type at
BUILT=$SCRATCH/built-from    # the smar measured: its --version and the commit it was built from
if [ "$REPORT_ONLY" = 1 ]; then
    [ -s "$INFO" ] || die "--report-only: no results in $SCRATCH (sizes.tsv is missing or empty)"
    # the sizes and layouts the earlier run completed, in its order
    mapfile -t SIZE_TOKENS < <(cut -f1 "$INFO" | sed 's,/.*,,' | awk '!seen[$0]++')
    mapfile -t LAYOUT_LIST < <(cut -f1 "$INFO" | sed 's,^[^/]*/,,' | awk '!seen[$0]++')
    KEEP=1
else
    : >"$RES"
    : >"$INFO"
    # taken now: the tree may change (or be committed) while the run goes on
    printf '%s (Release, %s)\n' "$("$SMAR" --version 2>&1 | head -1)" \
        "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')" >"$BUILT"
fi
STAGES=$SCRATCH/stages
FAILED=0

export RESTIC_PASSWORD=smar-bench BORG_PASSPHRASE=smar-bench
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$SCRATCH/borg-home   # borg's keys, cache and security folders

CACHE_MODE=warm
if [ "$COLD" = 1 ]; then
    if sync && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then CACHE_MODE=cold
    else note "cannot drop the page cache here: measuring with a warm cache"; fi
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
UPTIME_START=$(uptime | sed "s/^ *//")
START_EPOCH=$EPOCHREALTIME

# ---- measuring --------------------------------------------------------------------------

# Every external command of a measured operation runs as `w N cmd...` (N: stage number in a
# pipeline). MODE="time": under GNU time (CPU and peak RSS of that stage); MODE=trace: under
# strace, to count the bytes read from the input (see byte_sum).
MODE="time"
w() {
    local n=$1
    shift
    if [ "$MODE" = trace ]; then
        strace -f -qq -y -s 0 -e trace=read,pread64,readv,preadv,preadv2 -e signal=none \
            -o "$STAGES/trace.$n" "$@"
    else
        if [ -n "$GNUTIME" ]; then
            "$GNUTIME" -f '%e %U %S %M' -o "$STAGES/time.$n" "$@"
        else
            "$@"
        fi
    fi
}

# Bytes returned by read-family calls on file descriptors whose path (strace -y) starts with
# $1 (a file: "path>", a folder: "path/"), over all traced stages and threads.
byte_sum() {
    cat "$STAGES"/trace.* 2>/dev/null | awk -v p="$1" '
        function hit(s) {
            if (!match(s, /^(read|pread64|readv|preadv|preadv2)\([0-9]+</)) return 0
            return substr(s, RLENGTH + 1, length(p)) == p
        }
        function ret(s,   a, k) { k = split(s, a, " = "); return a[k] + 0 }
        {
            pid = $1; s = $0; sub(/^[0-9]+ +/, "", s)
            if (s ~ /<unfinished \.\.\.>$/) { if (hit(s)) pend[pid] = 1; next }
            if (s ~ /^<\.\.\. [a-z0-9]+ resumed>/) {
                if (pid in pend) { v = ret(s); if (v > 0) total += v; delete pend[pid] }
                next
            }
            if (hit(s)) { v = ret(s); if (v > 0) total += v }
        }
        END { printf "%.0f\n", total }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

drop_caches() { [ "$CACHE_MODE" = cold ] && sync && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; return 0; }

fsize() { if [ -d "$1" ]; then du -sb "$1" | cut -f1; elif [ -e "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

# skipped TOOL [OP]: whether --skip leaves out this operation (no OP: every operation of
# TOOL) at the current size
skipped() {
    case ",$SKIP," in *",$1@$SIZE,"* | *",$1@$KEY,"*) return 0 ;; esac
    [ $# -ge 2 ] || return 1
    case ",$SKIP," in *",$1:$2,"* | *",$1:$2@$SIZE,"* | *",$1:$2@$KEY,"*) return 0 ;; esac
    # a peer's other operations need the repository or file its create made
    if [ "$1" != smar ] && [ "$2" != create ] && skipped "$1" create; then return 0; fi
    return 1
}

# measure TOOL OP PREP RUN CHECK OUTPUT READ_PREFIX
#   PREP/RUN/CHECK: function names (PREP before every run, CHECK after the timed runs);
#   OUTPUT: file or folder whose size is the output size ("" = none);
#   READ_PREFIX: the input read, as for byte_sum ("" = not counted).
measure() {
    local tool=$1 op=$2 prep=$3 run=$4 check=$5 output=$6 prefix=$7
    local i walls="" cpus="" rsss="" t0 t1 wall cpu rss status=ok nrun=0 rd="" outb="" t_op=$EPOCHREALTIME
    printf '  %-7s %-15s' "$tool" "$op"
    if skipped "$tool" "$op"; then
        say "skipped (--skip)"
        printf '%s\t%s\t%s\tnan\tnan\tnan\t-\t-\t0\t%s\n' "$KEY" "$tool" "$op" skipped >>"$RES"
        return 0
    fi
    for ((i = 1; i <= RUNS; i++)); do
        $prep
        rm -rf "$STAGES" && mkdir -p "$STAGES"
        drop_caches
        MODE="time"
        t0=$EPOCHREALTIME
        if ! $run; then status=FAIL; break; fi
        t1=$EPOCHREALTIME
        nrun=$i
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        if [ -n "$GNUTIME" ]; then
            cpu=$(cat "$STAGES"/time.* | awk '/^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$/ { c += $2 + $3 } END { printf "%.2f", c }')
            rss=$(cat "$STAGES"/time.* | awk '/^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$/ { m += $4 } END { print m + 0 }')
        else
            cpu=nan rss=nan
        fi
        walls+="$wall"$'\n'; cpus+="$cpu"$'\n'; rsss+="$rss"$'\n'
        if awk -v w="$wall" -v l="$LONG_S" 'BEGIN { exit !(w > l) }'; then break; fi
    done
    if [ "$status" = ok ] && ! $check; then status=WRONG; fi
    if [ "$status" != ok ]; then
        FAILED=1
        printf '%s\n' "$status (see $STAGES)"
        printf '%s\t%s\t%s\tnan\tnan\tnan\t-\t-\t0\t%s\n' "$KEY" "$tool" "$op" "$status" >>"$RES"
        return 0
    fi
    [ -n "$output" ] && outb=$(fsize "$output")
    wall=$(printf '%s' "$walls" | median)
    cpu=$(printf '%s' "$cpus" | median)
    rss=$(printf '%s' "$rsss" | median)
    case $tool in smar|b2sum) ;; *) [ "$TRACE_PEERS" = 1 ] || prefix="" ;; esac
    if [ -n "$prefix" ] && [ $HAVE_STRACE = 1 ]; then
        if awk -v w="$wall" -v l="$TRACE_MAX_S" 'BEGIN { exit !(w <= l) }'; then
            $prep
            rm -rf "$STAGES" && mkdir -p "$STAGES"
            MODE=trace
            if $run; then rd=$(byte_sum "$prefix"); else rd=""; note "traced run of $tool $op failed"; fi
            MODE="time"
        else
            rd=skip
        fi
    fi
    printf '%9.3f s  cpu %8s s  rss %7s MiB  runs %d%s  [%.0f s total]\n' "$wall" \
        "$cpu" "$(awk -v k="$rss" 'BEGIN { if (k == "nan") print k; else printf "%.1f", k / 1024 }')" "$nrun" "${rd:+  read $rd}" \
        "$(awk -v a="$t_op" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$KEY" "$tool" "$op" "$wall" "$cpu" "$rss" \
        "${outb:--}" "${rd:--}" "$nrun" ok >>"$RES"
}

nop() { :; }

# ---- the operations ---------------------------------------------------------------------
# Globals per size and layout: L (json, jsonl or dir), EXP (the export: a file for json and
# jsonl, a folder for dir), W (work folder), N, NFILES, ID, NAME, TYPE, AT, AGE_OUT.

# smar
p_smar_create() { rm -f "$W/a.smar"; }
r_smar_create() { w 1 "$SMAR" create -q --threads "$THREADS" --key "$W/smar.key" -o "$W/a.smar" "$EXP"; }
c_smar_create() { [ -s "$W/a.smar" ]; }
p_smar_create_1t() { rm -f "$W/a-1t.smar"; }
r_smar_create_1t() { w 1 "$SMAR" create -q --threads 1 --key "$W/smar.key" -o "$W/a-1t.smar" "$EXP"; }
c_smar_create_1t() { [ -s "$W/a-1t.smar" ]; }
# Restored trees hold up to millions of files, and deleting them takes longer than
# restoring them: between runs they are moved aside (a rename) and deleted at the end.
TRASH_N=0
discard() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || continue
        mkdir -p "$SCRATCH/.trash"
        TRASH_N=$((TRASH_N + 1))
        mv "$f" "$SCRATCH/.trash/$TRASH_N"
    done
}
p_out() { discard "$W/out" "$W/out.json" "$W/out.jsonl" "$W/out.txt"; }
r_smar_xdir() { w 1 "$SMAR" extract -q --key "$W/smar.key" --format dir -o "$W/out" "$W/a.smar"; }
c_smar_xdir() { [ "$(find "$W/out" -name secret.json | wc -l)" -eq "$N" ]; }
r_smar_xexp() { w 1 "$SMAR" extract -q --key "$W/smar.key" --format export -o "$W/out.json" "$W/a.smar"; }
c_smar_xexp() { [ -s "$W/out.json" ]; }
r_smar_xjsonl() { w 1 "$SMAR" extract -q --key "$W/smar.key" --format jsonl -o "$W/out.jsonl" "$W/a.smar"; }
# JSONL: the first line is the document without "secrets", then one line per secret
c_smar_xjsonl() { [ "$(wc -l <"$W/out.jsonl")" -eq $((N + 1)) ]; }
r_smar_cat() { w 1 "$SMAR" cat --key "$W/smar.key" --name "$NAME" --type "$TYPE" --at "$AT" "$W/a.smar" >"$W/out.txt"; }
c_smar_cat() { [ -s "$W/out.txt" ]; }
r_smar_verify() { w 1 "$SMAR" verify -q "$W/a.smar"; }
r_smar_verify_key() { w 1 "$SMAR" verify -q --key "$W/smar.key" "$W/a.smar"; }
r_b2sum() { w 1 b2sum "$W/a.smar" >/dev/null; }

# peers: the restored tree must hold every input file; one restored file must equal its input
c_tree() { [ "$(find "$W/out" -type f | wc -l)" -eq "$NFILES" ]; }
c_one() { cmp -s "$W/out/secrets/$ID.json" "$EXP/secrets/$ID.json"; }
p_outdir() { discard "$W/out" && mkdir -p "$W/out"; }

p_age_create() { rm -f "$AGE_OUT"; }
r_age_create() {
    w 1 tar -C "$EXP" -cf - . | w 2 zstd -3 -T0 -q | w 3 age -r "$AGE_RECIPIENT" >"$AGE_OUT"
}
c_age_create() { [ -s "$AGE_OUT" ]; }
r_age_extract() {
    w 1 age -d -i "$W/age.key" "$AGE_OUT" | w 2 zstd -d -q | w 3 tar -C "$W/out" -xf -
}
r_age_single() {
    w 1 age -d -i "$W/age.key" "$AGE_OUT" | w 2 zstd -d -q |
        w 3 tar -C "$W/out" -xf - "./secrets/$ID.json"
}
# the same on one file (json, jsonl): zstd reads the export itself, the extract writes it back
r_agef_create() { w 1 zstd -3 -T0 -q <"$EXP" | w 2 age -r "$AGE_RECIPIENT" >"$AGE_OUT"; }
r_agef_extract() { w 1 age -d -i "$W/age.key" "$AGE_OUT" | w 2 zstd -d -q >"$W/out.$L"; }
c_agef_extract() { cmp -s "$W/out.$L" "$EXP"; }
# one secret from one file: decrypt and decompress it all, then select the secret's object:
# jq on the document (a JSON-aware selection), grep on JSONL (one secret a line)
r_agef_single() {
    if [ "$L" = json ]; then
        # shellcheck disable=SC2016 # $id is jq's variable
        w 1 age -d -i "$W/age.key" "$AGE_OUT" | w 2 zstd -d -q |
            w 3 jq -c --arg id "$ID" '.secrets[] | select(.id == $id)' >"$W/out.txt"
    else
        w 1 age -d -i "$W/age.key" "$AGE_OUT" | w 2 zstd -d -q |
            w 3 grep -F "{\"id\":\"$ID\"," >"$W/out.txt"
    fi
}
c_agef_single() { [ "$(wc -l <"$W/out.txt")" -eq 1 ] && grep -qF "\"id\":\"$ID\"" "$W/out.txt"; }

# create starts from a new empty repository each run: a copy of one made by init once per
# size (restic and borg init derive keys for seconds; copying keeps the smoke run short)
p_restic_create() { rm -rf "$W/restic" && cp -a "$W/restic-empty" "$W/restic"; }
r_restic_create() { (cd "$EXP" && w 1 restic -q --no-cache -r "$W/restic" backup .); }
c_restic_create() { [ -d "$W/restic/snapshots" ]; }
r_restic_extract() { w 1 restic -q --no-cache -r "$W/restic" restore latest --target "$W/out"; }
r_restic_single() {
    w 1 restic -q --no-cache -r "$W/restic" restore latest --target "$W/out" --include "/secrets/$ID.json"
}
r_restic_check() { w 1 restic -q --no-cache -r "$W/restic" check --read-data >/dev/null; }

p_borg_create() { rm -rf "$W/borg" "$BORG_BASE_DIR" && cp -a "$W/borg-empty" "$W/borg"; }
r_borg_create() { (cd "$EXP" && w 1 borg create "$W/borg::snap" .); }
c_borg_create() { [ -s "$W/borg/config" ]; }
r_borg_extract() { (cd "$W/out" && w 1 borg extract "$W/borg::snap"); }
r_borg_single() { (cd "$W/out" && w 1 borg extract "$W/borg::snap" "secrets/$ID.json"); }
r_borg_check() { w 1 borg check --verify-data "$W/borg" 2>/dev/null; }

# ---- per size ---------------------------------------------------------------------------

# Pick the secret to restore: the first one at or after the middle slot whose previous
# version still has its payload; --at is halfway between that version and the current
# one, so the answer is the previous version.
pick_secret() {
    local m=$1 line t_prev t_cur
    line=$(awk -v mid="$((N / 2))" '
        $1 == "secret" && first == "" { first = $0 }
        $1 == "secret" && $2 >= mid && $8 != "-" { print; found = 1; exit }
        END { if (!found) print first }' "$m")
    read -r _ _ ID TYPE _ _ cur prev NAME <<<"$line"
    t_cur=$(awk -v v="$cur" '$1 == "version" && $4 == v { print $5; exit }' "$m")
    t_prev=$(awk -v v="$prev" '$1 == "version" && $4 == v { print $5; exit }' "$m")
    if [ -z "$t_prev" ]; then
        AT=$t_cur
    else
        local a b
        a=$(date -u -d "$t_prev" +%s)
        b=$(date -u -d "$t_cur" +%s)
        AT=$(date -u -d "@$(((a + b) / 2))" +%Y-%m-%dT%H:%M:%SZ)
    fi
}

# rough peak disk use (bytes) of a size in the directory layout, measured on ext4: the export
# (~7 KB a secret with 4 KiB blocks), smar's --format dir extract (~17.5 KB a secret: 4 files
# and 2 folders), four archives or repositories (~1.1 KB a secret each), plus the payload in
# each of them. The json and jsonl layouts need less (the export, one extract, two archives);
# the layouts of a size run one after the other, each deleted before the next unless --keep.
disk_need() { echo $(( $1 * (30000 + ${2:-64} * 9 / 2) * (KEEP == 1 ? ${#LAYOUT_LIST[@]} : 1) )); }

human() {
    awk -v b="$1" 'BEGIN {
        if (b == "" || b == "nan") { print "n/a"; exit }
        split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        printf(i == 1 ? "%d %s\n" : "%.1f %s\n", b, u[i]) }'
}

run_size() {
    local tok=$1 spec p t_size=$EPOCHREALTIME
    spec=$(parse_size "$tok")
    N=${spec%% *}
    p=${spec#* }
    SIZE=$tok
    say ""
    say "== size $tok: $N secrets${p:+, --payload-bytes $p}; layouts $LAYOUTS =="

    local need avail
    need=$(disk_need "$N" "$p")
    avail=$(df -PB1 "$SCRATCH" | awk 'NR == 2 { print $4 }')
    if [ "$avail" -lt "$need" ]; then
        note "size $tok may need about $(human "$need") in $SCRATCH, $(human "$avail") available"
    fi
    for L in "${LAYOUT_LIST[@]}"; do run_layout "$tok" "$p"; done
    [ "$KEEP" = 1 ] || rm -rf "${SCRATCH:?}/$tok"
    say "  (size $tok: $(awk -v a="$t_size" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s)"
}

# run_layout SIZE_TOKEN PAYLOAD: generate the export of this size in layout $L (the same
# seed gives the same secrets in every layout) and measure every tool on it
run_layout() {
    local tok=$1 p=$2 gen_args t_lay=$EPOCHREALTIME
    KEY=$tok/$L
    W=$SCRATCH/$tok/$L
    case $L in
        dir) EXP=$W/export; AGE_OUT=$W/x.tar.zst.age ;;
        *) EXP=$W/export.$L; AGE_OUT=$W/x.$L.zst.age ;;
    esac
    gen_args=(--secrets "$N")
    [ -n "$p" ] && gen_args+=(--payload-bytes "$p")
    say "  -- layout $L"

    mkdir -p "$W"
    local stamp
    stamp="gen ${gen_args[*]} --layout $L $(stat -c %Y "$GEN")"
    if [ ! -f "$W/export.stamp" ] || [ "$(cat "$W/export.stamp")" != "$stamp" ]; then
        rm -rf "$EXP" "$W/export.stamp"
        say "  generating the export (smar-gen-export ${gen_args[*]} --layout $L)"
        "$GEN" "${gen_args[@]}" --layout "$L" -o "$EXP" --manifest-out "$W/manifest.txt"
        echo "$stamp" >"$W/export.stamp"
    fi
    local bytes
    if [ "$L" = dir ]; then
        read -r NFILES bytes < <(find "$EXP" -type f -printf '%s\n' | awk '{ n++; s += $1 } END { printf "%d %.0f\n", n, s }')
    else
        NFILES=1 bytes=$(stat -c %s "$EXP")
    fi
    pick_secret "$W/manifest.txt"
    say "  input: $NFILES files, $(human "$bytes"); single restore: $TYPE '$NAME' (id $ID) at $AT"
    # "warm" must hold for every tool alike: read the export once now, or the first command
    # measured (smar create) pays alone for the disk reads of an export evicted since it was
    # made (at 1M secrets: 181 s instead of about 40). GNU tar skips reading file contents
    # when it writes to /dev/null itself, hence the pipe.
    if [ "$CACHE_MODE" = warm ]; then
        local t_warm=$EPOCHREALTIME
        if [ "$L" = dir ]; then tar -C "$EXP" -cf - . | cat >/dev/null; else cat "$EXP" >/dev/null; fi
        say "  page cache warmed: export read once in $(awk -v a="$t_warm" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
    fi
    # bytes read by create: from the export folder, or from the export file
    local exp_prefix="$EXP/"
    [ "$L" = dir ] || exp_prefix="$EXP>"

    rm -f "$W/smar.key" "$W/age.key"
    "$SMAR" keygen -o "$W/smar.key" >/dev/null

    measure smar create p_smar_create r_smar_create c_smar_create "$W/a.smar" "$exp_prefix"
    if [ "$THREADS" -gt 1 ]; then
        measure smar create-1t p_smar_create_1t r_smar_create_1t c_smar_create_1t "$W/a-1t.smar" "$exp_prefix"
        rm -f "$W/a-1t.smar"
    fi
    if [ ! -s "$W/a.smar" ]; then
        note "no archive: skipping smar's other operations at $KEY"
    else
        # full extract in the input's own layout (and, for the directory, also the document)
        case $L in
            dir)
                measure smar extract-dir p_out r_smar_xdir c_smar_xdir "$W/out" "$W/a.smar>"
                p_out
                measure smar extract-export p_out r_smar_xexp c_smar_xexp "$W/out.json" "$W/a.smar>" ;;
            json) measure smar extract-export p_out r_smar_xexp c_smar_xexp "$W/out.json" "$W/a.smar>" ;;
            jsonl) measure smar extract-jsonl p_out r_smar_xjsonl c_smar_xjsonl "$W/out.jsonl" "$W/a.smar>" ;;
        esac
        p_out
        measure smar single p_out r_smar_cat c_smar_cat "$W/out.txt" "$W/a.smar>"
        p_out
        measure smar verify nop r_smar_verify nop "" "$W/a.smar>"
        measure smar verify-key nop r_smar_verify_key nop "" "$W/a.smar>"
        measure b2sum verify nop r_b2sum nop "" "$W/a.smar>"
    fi
    local index_bytes
    index_bytes=$("$SMAR" inspect --json "$W/a.smar" 2>/dev/null |
        awk '/"index":/ { f = 1 } f && /"bytes":/ { gsub(/[^0-9]/, ""); print; exit }') || true
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$KEY" "$N" "${p:--}" "$NFILES" "$bytes" \
        "${index_bytes:--}" "$NAME" "$TYPE" "$AT" >>"$INFO"

    if want_peer age; then
        if ! skipped age create; then
            age-keygen -o "$W/age.key" 2>/dev/null
            AGE_RECIPIENT=$(age-keygen -y "$W/age.key")
        fi
        if [ "$L" = dir ]; then
            measure age create p_age_create r_age_create c_age_create "$AGE_OUT" "$exp_prefix"
            measure age extract p_outdir r_age_extract c_tree "$W/out" "$AGE_OUT>"
            measure age single p_outdir r_age_single c_one "$W/out/secrets/$ID.json" "$AGE_OUT>"
        else
            measure age create p_age_create r_agef_create c_age_create "$AGE_OUT" "$exp_prefix"
            measure age extract p_out r_agef_extract c_agef_extract "$W/out.$L" "$AGE_OUT>"
            if [ "$L" = json ] && [ "$HAVE_JQ" = 0 ]; then
                note "jq missing: skipping the peer's single restore from the JSON document"
                printf '%s\tage\tsingle\tnan\tnan\tnan\t-\t-\t0\tskipped\n' "$KEY" >>"$RES"
            else
                measure age single p_out r_agef_single c_agef_single "$W/out.txt" "$AGE_OUT>"
            fi
        fi
        p_out
    fi
    # restic and borg back up folders: the directory layout only
    if [ "$L" = dir ] && want_peer restic; then
        rm -rf "$W/restic-empty"
        skipped restic create || restic init -q --no-cache -r "$W/restic-empty" >/dev/null
        measure restic create p_restic_create r_restic_create c_restic_create "$W/restic" "$EXP/"
        measure restic extract p_outdir r_restic_extract c_tree "$W/out" "$W/restic/"
        measure restic single p_outdir r_restic_single c_one "$W/out/secrets/$ID.json" "$W/restic/"
        p_out
        measure restic check nop r_restic_check nop "" "$W/restic/"
    fi
    if [ "$L" = dir ] && want_peer borg; then
        rm -rf "$W/borg-empty" "$BORG_BASE_DIR"
        skipped borg create || borg init -e repokey "$W/borg-empty" >/dev/null 2>&1
        measure borg create p_borg_create r_borg_create c_borg_create "$W/borg" "$EXP/"
        measure borg extract p_outdir r_borg_extract c_tree "$W/out" "$W/borg/"
        measure borg single p_outdir r_borg_single c_one "$W/out/secrets/$ID.json" "$W/borg/"
        p_out
        measure borg check nop r_borg_check nop "" "$W/borg/"
    fi

    discard "$W/out"
    rm -rf "$W/restic" "$W/borg" "$W/restic-empty" "$W/borg-empty" "$AGE_OUT" "$STAGES"
    [ "$KEEP" = 1 ] || rm -rf "$W"
    say "  (layout $L: $(awk -v a="$t_lay" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s)"
}

say "scratch: $SCRATCH   sizes: $SIZE_LIST   runs: $RUNS   cache: $CACHE_MODE"
say "(disk: 1M secrets is about 5 GB of JSON in 1M files; the full run needs about 30 GB free at its peak)"
if [ "$REPORT_ONLY" = 0 ]; then
    for t in "${SIZE_TOKENS[@]}"; do run_size "$t"; done
fi
END_EPOCH=$EPOCHREALTIME
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report -------------------------------------------------------------------------

# the measurements of every size and layout, in the order measured
mapfile -t KEYS < <(cut -f1 "$INFO")
# key SIZE: SIZE/LAYOUT as given, or SIZE in the current layout $L
key() { case $1 in */*) echo "$1" ;; *) echo "$1/$L" ;; esac; }
# value TOOL OP FIELD SIZE  (FIELD: 4 wall 5 cpu 6 rss 7 out 8 read 9 runs)
# ("-" and failed commands give "")
value() { awk -F'\t' -v s="$(key "$4")" -v t="$1" -v o="$2" -v f="$3" '$1 == s && $2 == t && $3 == o && $10 == "ok" { if ($f != "-" && $f != "nan") print $f; exit }' "$RES"; }
info() { awk -F'\t' -v s="$(key "$1")" -v f="$2" '$1 == s { if ($f != "-") print $f; exit }' "$INFO"; }
# the peer's pipeline and the layout, as the report names them
layout_desc() {
    case $1 in
        json) echo "one JSON document" ;;
        jsonl) echo "JSONL" ;;
        dir) echo "directory, one file per secret" ;;
    esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
fmt_s() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan") print "n/a"; else if (v < 1) printf "%.1f ms\n", v * 1000; else printf "%.2f s\n", v }'; }
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { if (v == "" || v == "nan" || l == "") print "n/a"; else print (v <= l ? "PASS" : "MISS") }'; }

# whether PEER was measured in layout $L (restic and borg: the directory only)
want_peer_here() { want_peer "$1" && { [ "$1" = age ] || [ "$L" = dir ]; }; }
tool_name() {
    case $1/$L in
        age/dir) echo "tar \\| zstd -3 -T0 \\| age" ;;
        age/*) echo "zstd -3 -T0 \\| age" ;;
        *) echo "$1" ;;
    esac
}
op_desc() {
    case $1/$2 in
        smar/create) echo "create (\`smar create --threads $THREADS\`)" ;;
        smar/create-1t) echo "create (\`smar create --threads 1\`)" ;;
        smar/extract-dir) echo "full extract (\`--format dir\`)" ;;
        smar/extract-export) echo "full extract (\`--format export\`)" ;;
        smar/extract-jsonl) echo "full extract (\`--format jsonl\`)" ;;
        smar/single) echo "single restore (\`cat --name --at\`)" ;;
        smar/verify) echo "verify, keyless" ;;
        smar/verify-key) echo "verify --key (every payload)" ;;
        b2sum/verify) echo "b2sum of the archive" ;;
        age/create) if [ "$L" = dir ]; then echo "create (tar \\| zstd \\| age)"; else echo "create (zstd \\| age)"; fi ;;
        age/extract) if [ "$L" = dir ]; then echo "full extract (age -d \\| zstd -d \\| tar x)"; else echo "full extract (age -d \\| zstd -d)"; fi ;;
        age/single)
            case $L in
                dir) echo "single restore (… \\| tar x ./secrets/ID.json)" ;;
                json) echo "single restore (age -d \\| zstd -d \\| jq select(.id))" ;;
                *) echo "single restore (age -d \\| zstd -d \\| grep id)" ;;
            esac ;;
        restic/create) echo "create (restic backup)" ;;
        restic/extract) echo "full extract (restic restore)" ;;
        restic/single) echo "single restore (restore --include)" ;;
        restic/check) echo "verify (check --read-data)" ;;
        borg/create) echo "create (borg create)" ;;
        borg/extract) echo "full extract (borg extract)" ;;
        borg/single) echo "single restore (borg extract PATH)" ;;
        borg/check) echo "verify (check --verify-data)" ;;
        *) echo "$1 $2" ;;
    esac
}

ver() { "$@" 2>&1 | head -1 || true; }
SMOKE_NOTE=""
if [ "$SMOKE" = 1 ] || [ "$(IFS=,; echo "${SIZE_TOKENS[*]}")" != 1k,100k,1m,1g ]; then
    SMOKE_NOTE="> **Smoke/partial size ($(IFS=,; echo "${SIZE_TOKENS[*]}")) — not the real benchmark.** The targets are defined
> on the full sizes (\`bench/run.sh --sizes full\`); at these sizes fixed start-up costs dominate."
fi

# count_sizes: the sizes measured in layout $L with the default payload, in secrets order
# (the growth table)
set_count_sizes() {
    mapfile -t count_sizes < <(awk -F'\t' -v l="$L" '$3 == "-" && $1 ~ ("/" l "$") { sub("/.*", "", $1); print $2 "\t" $1 }' "$INFO" | sort -n | cut -f2)
}

# The sections of an earlier report that this script does not write (written by hand or by
# other scripts: "Key providers", "Object storage", "Incremental", ...), in their order.
foreign_sections() {   # REPORT
    [ -f "$1" ] || return 0
    awk '/^## / {
            h = substr($0, 4)
            keep = !(h == "Machine" || h == "Versions" || h == "Input and method" || h == "Results" ||
                     h ~ /^Ratios/ || h == "Targets" || h == "Growth" || h == "Failures")
        }
        keep' "$1"
}

{
    say "# smar benchmark results"
    say ""
    [ -n "$SMOKE_NOTE" ] && { say "$SMOKE_NOTE"; say ""; }
    if [ "$REPORT_ONLY" = 1 ]; then
        say "Written by \`bench/run.sh ${ARGS}\` on $(date -u +%Y-%m-%dT%H:%M:%SZ) from the results"
        say "an earlier run left in its scratch folder (sizes: ${SIZE_TOKENS[*]})."
    else
        say "Generated by \`bench/run.sh ${ARGS}\` on $(date -u +%Y-%m-%dT%H:%M:%SZ) in" \
            "$(awk -v a="$START_EPOCH" -v b="$END_EPOCH" 'BEGIN { printf "%.1f", (b - a) / 60 }') min."
    fi
    say "Chart: [$(basename "$PNG")]($(basename "$PNG"))"
    say ""
    say "![wall time per tool and size]($(basename "$PNG"))"
    say ""
    say "## Machine"
    say ""
    say "| | |"
    say "|---|---|"
    say "| CPU | $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores available |"
    say "| RAM | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
    say "| kernel | $(uname -srm) |"
    # shellcheck disable=SC1091
    say "| OS | $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}") |"
    say "| scratch file system | $(df -PT "$SCRATCH" | awk 'NR == 2 { print $2 }') ($SCRATCH) |"
    if [ "$REPORT_ONLY" = 1 ]; then
        say "| load average (1/5/15 min) | not known (report written again from earlier results) |"
    else
        say "| load average (1/5/15 min) | start $LOAD_START, end $LOAD_END |"
        say "| \`uptime\` at the start | $UPTIME_START |"
    fi
    say "| page cache | $CACHE_MODE |"
    say ""
    say "## Versions"
    say ""
    say "| tool | version |"
    say "|---|---|"
    say "| smar | $(cat "$BUILT" 2>/dev/null || echo '? (not recorded)') |"
    say "| gcc | $(ver gcc --version) |"
    have restic && say "| restic | $(ver restic version) |"
    have borg && say "| borg | $(ver borg --version) |"
    have age && say "| age | $(ver age --version) |"
    have zstd && say "| zstd | $(ver zstd --version) |"
    say "| tar | $(ver tar --version) |"
    say "| b2sum | $(ver b2sum --version) |"
    have strace && say "| strace | $(ver strace -V) |"
    have gnuplot && say "| gnuplot | $(ver gnuplot --version) |"
    [ ${#SKIPPED[@]} -gt 0 ] && say "| skipped peers | $(printf '%s, ' "${SKIPPED[@]}" | sed 's/, $//') |"
    say ""
    say "## Input and method"
    say ""
    say "Each size is one export, made in each layout measured ($(IFS=,; echo "${LAYOUT_LIST[*]}")) by"
    say "\`smar-gen-export --secrets N [--payload-bytes P] --layout json|jsonl|dir\` (seed 1: the same"
    say "secrets in every layout). **Every tool reads the same bytes of a layout**:"
    say ""
    say "| layout | the export | smar | zstd/age peer | restic, borg |"
    say "|---|---|---|---|---|"
    say "| json | one JSON document \`export.json\` (one secret a line) | \`smar create export.json\` | \`zstd -3 -T0 -q < export.json \\| age -r R\` | not run (they back up folders) |"
    say "| jsonl | \`export.jsonl\`: the document without \"secrets\", then one secret a line | \`smar create export.jsonl\` | \`zstd -3 -T0 -q < export.jsonl \\| age -r R\` | not run |"
    say "| dir | \`instance.json\`, \`secret_groups.json\`, \`configurations.json\`, one \`secrets/<id>.json\` a secret | \`smar create export\` | \`tar -C export -cf - . \\| zstd -3 -T0 \\| age -r R\` | \`restic backup .\`, \`borg create REPO::snap .\` from inside it |"
    say ""
    say "| size / layout | secrets | --payload-bytes | files | bytes | single restore (name, type, --at) |"
    say "|---|---:|---:|---:|---:|---|"
    while IFS=$'\t' read -r s n p f b _ nm ty at; do
        say "| $s | $n | $p | $f | $(human "$b") | \`$nm\` ($ty) at $at |"
    done <"$INFO"
    say ""
    say "- **wall**: median of $([ "$REPORT_ONLY" = 1 ] && echo "the runs in the *runs* column" || echo "$RUNS runs") (\$EPOCHREALTIME around the command or pipeline);"
    say "  commands whose first run took more than ${LONG_S} s ran once (see *runs*)."
    say "- **CPU**: user + system time of every process of the command (GNU time per pipeline stage,"
    say "  10 ms resolution), median."
    say "- **peak RSS**: GNU time \`%M\` per process; for pipelines the sum over the stages (an upper"
    say "  bound of what the pipeline holds at once), median."
    say "- **output**: the archive file, the repository folder (\`du -sb\`), or what the restore wrote."
    say "- **bytes read**: one extra run under \`strace -f -y -e trace=read,pread64,readv,preadv,preadv2\`;"
    say "  the sum of the return values of the read calls on descriptors whose path (\`-y\`) is the"
    say "  input: the export folder for *create*, the archive file or the repository folder"
    say "  otherwise. Exact for what the command asks of the kernel (it counts every byte read"
    say "  from those files and nothing else, unlike \`rchar\` in /proc/PID/io, which counts every"
    say "  file, pipe and library). Not counted: commands slower than ${TRACE_MAX_S} s (*skip*)."
    [ "$TRACE_PEERS" = 1 ] || say "  In this smoke run only smar's and b2sum's bytes read are counted (the peers': n/a)."
    say "- Outputs of restores are deleted between runs; \`create\` starts from nothing each run"
    say "  (new archive file, \`restic init\` / \`borg init -e repokey\` of a new repository,"
    say "  untimed). restic runs with \`--no-cache\` (local repository); borg with its default"
    say "  compression (lz4), restic with its default (zstd auto), the age pipeline with \`zstd -3 -T0\`."
    say "- Full extract: the peers write their input back (the file: \`age -d | zstd -d > out\`,"
    say "  checked equal to the export; the folder: \`… | tar x\`). smar writes the layout it read:"
    say "  \`--format export\` (one JSON document) for json, \`--format jsonl\` for jsonl. For dir it"
    say "  has no such layout and is measured both ways: \`--format dir\` writes a tree of its own"
    say "  (group/type/name--id/secret.json and versions/*.json: about 4 files and 2 folders a"
    say "  secret, each file written to a temporary name, fsync'd and renamed, then its folder"
    say "  fsync'd) and \`--format export\`."
    say "- Single restore: smar restores a secret by name and type as it was at a past time"
    say "  (\`cat --at\`), from each layout's archive. The peers restore the same secret's whole object"
    say "  (every version it holds): from the folder by path (\`secrets/<id>.json\`); from a file they"
    say "  must decrypt and decompress it all and select the object: \`jq -c '.secrets[] |"
    say "  select(.id == ID)'\` on the document, \`grep -F '{\"id\":\"ID\",'\` on JSONL."
    say "- The machine may be shared: see the load average above."
    say ""
    say "## Results"
    for k in "${KEYS[@]}"; do
        L=${k#*/}
        say ""
        say "### ${k%%/*}, $L ($(layout_desc "$L")): $(info "$k" 2) secrets, $(human "$(info "$k" 5)")"
        say ""
        say "| tool | operation | wall | CPU | peak RSS | output | bytes read | runs |"
        say "|---|---|---:|---:|---:|---:|---:|---:|"
        while IFS=$'\t' read -r _ t o wl cp rs ob rd nr st; do
            if [ "$st" != ok ]; then
                say "| $(tool_name "$t") | $(op_desc "$t" "$o") | **$st** | | | | | |"
                continue
            fi
            case $rd in skip) rdt=skip ;; ""|-) rdt="n/a" ;; *) rdt=$(human "$rd") ;; esac
            say "| $(tool_name "$t") | $(op_desc "$t" "$o") | $(fmt_s "$wl") | $(fmt_s "$cp") |" \
                "$(if [ "$rs" = nan ]; then echo n/a; else awk -v k="$rs" 'BEGIN { printf "%.1f MiB", k / 1024 }'; fi) | $(if [ "$ob" = - ]; then echo "—"; else human "$ob"; fi) | $rdt | $nr |"
        done < <(awk -F'\t' -v s="$k" '$1 == s' "$RES")
    done
    say ""
    say "## Ratios: smar / peer (wall time; below 1 = smar is faster)"
    for L in "${LAYOUT_LIST[@]}"; do
    say ""
    say "### $L ($(layout_desc "$L"))"
    say ""
    hdr="| smar operation | peer operation |"
    sep="|---|---|"
    for s in "${SIZE_TOKENS[@]}"; do hdr+=" $s |"; sep+="---:|"; done
    say "$hdr"
    say "$sep"
    rrow() {   # SMAR_OP PEER PEER_OP [FIELD]
        local f=${4:-4} line
        line="| $(op_desc smar "$1") | $(tool_name "$2"): $(op_desc "$2" "$3") |"
        for s in "${SIZE_TOKENS[@]}"; do line+=" $(ratio "$(value smar "$1" "$f" "$s")" "$(value "$2" "$3" "$f" "$s")") |"; done
        say "$line"
    }
    # restic and borg: the directory layout only (see want_peer_here)
    for pr in age restic borg; do
        want_peer_here "$pr" || continue
        rrow create "$pr" create
        [ "$THREADS" -gt 1 ] && rrow create-1t "$pr" create
        case $L in
            dir) rrow extract-dir "$pr" extract; rrow extract-export "$pr" extract ;;
            json) rrow extract-export "$pr" extract ;;
            jsonl) rrow extract-jsonl "$pr" extract ;;
        esac
        rrow single "$pr" single
    done
    rrow verify b2sum verify
    want_peer_here restic && rrow verify-key restic check
    want_peer_here borg && rrow verify-key borg check
    say ""
    say "Output size, smar archive / peer output:"
    say ""
    say "$hdr"
    say "$sep"
    for pr in age restic borg; do want_peer_here "$pr" && rrow create "$pr" create 7; done
    done   # layouts
    say ""

    say "## Targets"
    say ""
    say "Measured value (ratio, time, bytes) and verdict per layout and size. The limits are meant"
    say "for the full sizes; \`n/a\`: not measured (peer skipped, command failed, or no such size)."
    say "Create and output size are compared with the zstd/age peer on the same bytes of each"
    say "layout (issue 16: create at most 1.0x, aiming at 0.8x; size at most 1.10x)."
    trow() {   # LABEL LIMIT_TEXT then per size: "value|limit|shown"
        local line="| $1 | $2 |"
        shift 2
        local c v l sh
        for c in "$@"; do
            IFS='|' read -r v l sh <<<"$c"
            if [ -z "$sh" ]; then line+=" n/a |"; else line+=" $sh $(verdict "$v" "$l") |"; fi
        done
        say "$line"
    }
    ratio_cells() {   # SMAR_OP PEER PEER_OP LIMIT [FIELD]
        local s a b r f=${5:-4}
        for s in "${SIZE_TOKENS[@]}"; do
            a=$(value smar "$1" "$f" "$s"); b=$(value "$2" "$3" "$f" "$s")
            r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print ""; else printf "%.2f", a / b }')
            if [ -z "$r" ]; then echo "||"; else echo "$r|$4|${r}x"; fi
        done
    }
    for L in "${LAYOUT_LIST[@]}"; do
    say ""
    say "### $L ($(layout_desc "$L"))"
    say ""
    hdr="| target | limit |"
    sep="|---|---|"
    for s in "${SIZE_TOKENS[@]}"; do hdr+=" $s |"; sep+="---|"; done
    say "$hdr"
    say "$sep"
    if want_peer age; then
        pn=$(tool_name age)
        mapfile -t cells < <(ratio_cells create age create 1.0); trow "create vs $pn" "≤ 1.0x" "${cells[@]}"
        mapfile -t cells < <(ratio_cells create age create 0.8); trow "create vs $pn (aim)" "≤ 0.8x" "${cells[@]}"
        mapfile -t cells < <(ratio_cells create age create 1.10 7); trow "archive size vs $pn output" "≤ 1.10x" "${cells[@]}"
        if [ "$THREADS" -gt 1 ]; then
            mapfile -t cells < <(ratio_cells create-1t age create 1.0); trow "create --threads 1 vs $pn (informative)" "≤ 1.0x" "${cells[@]}"
        fi
        case $L in
            dir)
                mapfile -t cells < <(ratio_cells extract-dir age extract 1.5); trow "full extract \`--format dir\` vs $(op_desc age extract | sed 's/^full extract (//; s/)$//')" "≤ 1.5x" "${cells[@]}"
                mapfile -t cells < <(ratio_cells extract-export age extract 1.0); trow "full extract \`--format export\` vs $(op_desc age extract | sed 's/^full extract (//; s/)$//')" "≤ 1.0x" "${cells[@]}" ;;
            json) mapfile -t cells < <(ratio_cells extract-export age extract 1.0); trow "full extract \`--format export\` vs age -d \\| zstd -d" "≤ 1.0x" "${cells[@]}" ;;
            jsonl) mapfile -t cells < <(ratio_cells extract-jsonl age extract 1.0); trow "full extract \`--format jsonl\` vs age -d \\| zstd -d" "≤ 1.0x" "${cells[@]}" ;;
        esac
    fi
    if want_peer_here restic; then mapfile -t cells < <(ratio_cells create restic create 0.3); trow "create vs restic backup" "≤ 0.3x" "${cells[@]}"; fi
    if want_peer_here borg; then mapfile -t cells < <(ratio_cells create borg create 0.3); trow "create vs borg create" "≤ 0.3x" "${cells[@]}"; fi
    cells=()
    for s in "${SIZE_TOKENS[@]}"; do
        v=$(value smar single 4 "$s"); [ -n "$v" ] && cells+=("$v|0.020|$(fmt_s "$v")") || cells+=("||")
    done
    trow "single restore \`cat --name --at\` wall (defined at 1M secrets)" "< 20 ms" "${cells[@]}"
    cells=()
    for s in "${SIZE_TOKENS[@]}"; do
        v=$(value smar single 8 "$s")
        case $v in ""|skip|-) cells+=("||") ;; *) cells+=("$v|$((1048576 - 1))|$(human "$v") ($v B)") ;; esac
    done
    trow "single restore: bytes read from the archive (defined at 1M)" "< 1 MiB" "${cells[@]}"
    mapfile -t cells < <(ratio_cells verify b2sum verify 1.25); trow "keyless verify vs b2sum of the archive" "≤ 1.25x" "${cells[@]}"
    cells=()
    for s in "${SIZE_TOKENS[@]}"; do
        v=$(value smar verify-key 8 "$s"); a=$(value smar create 7 "$s")
        r=$(awk -v v="$v" -v a="$a" 'BEGIN { if (v == "" || v == "skip" || a == "" || a + 0 == 0) print ""; else printf "%.2f", v / a }')
        if [ -n "$r" ]; then cells+=("$r|1.05|${r}x"); else cells+=("||"); fi
    done
    trow "verify --key: bytes read / archive size" "≤ 1.05x" "${cells[@]}"
    xops=(create)
    case $L in dir) xops+=(extract-dir extract-export) ;; json) xops+=(extract-export) ;; jsonl) xops+=(extract-jsonl) ;; esac
    for o in "${xops[@]}"; do
        cells=()
        for s in "${SIZE_TOKENS[@]}"; do
            v=$(value smar "$o" 6 "$s"); ib=$(info "$s" 6)
            if [ -n "$v" ] && [ -n "$ib" ]; then
                lim=$(awk -v i="$ib" 'BEGIN { printf "%.0f", 65536 + i / 1024 }')
                cells+=("$v|$lim|$(awk -v k="$v" -v l="$lim" 'BEGIN { printf "%.1f / %.1f MiB", k / 1024, l / 1024 }')")
            else cells+=("||"); fi
        done
        trow "peak RSS of $(op_desc smar "$o") (defined at 1M)" "≤ 64 MiB + index" "${cells[@]}"
    done
    cells=()
    for s in "${SIZE_TOKENS[@]}"; do
        ib=$(info "$s" 6); n=$(info "$s" 2)
        if [ -n "$ib" ]; then v=$(awk -v i="$ib" -v n="$n" 'BEGIN { printf "%.1f", i / n }'); cells+=("$v|48|$v B"); else cells+=("||"); fi
    done
    trow "index size per secret (\`smar inspect\` index section bytes / secrets; defined at 1M)" "≤ 48 B" "${cells[@]}"
    done   # layouts
    say ""

    say "## Growth"
    say ""
    say "Sizes with the generator's default payload (the number of secrets grows, the secrets do not)."
    for L in "${LAYOUT_LIST[@]}"; do
    set_count_sizes
    say ""
    say "### $L ($(layout_desc "$L"))"
    say ""
    say "| secrets | create wall | create per secret | single restore wall | single restore bytes read | log2(N) | restore wall / log2(N) |"
    say "|---:|---:|---:|---:|---:|---:|---:|"
    for s in "${count_sizes[@]}"; do
        n=$(info "$s" 2); cw=$(value smar create 4 "$s"); sw=$(value smar single 4 "$s"); sr=$(value smar single 8 "$s")
        say "| $n | $(fmt_s "$cw") | $(awk -v w="$cw" -v n="$n" 'BEGIN { if (w == "") print "n/a"; else printf "%.1f µs\n", w * 1e6 / n }') |" \
            "$(fmt_s "$sw") | $(case $sr in ""|skip|-) echo n/a ;; *) human "$sr" ;; esac) |" \
            "$(awk -v n="$n" 'BEGIN { printf "%.1f", log(n) / log(2) }') |" \
            "$(awk -v w="$sw" -v n="$n" 'BEGIN { if (w == "") print "n/a"; else printf "%.2f ms\n", w * 1000 / (log(n) / log(2)) }') |"
    done
    say ""
    if [ ${#count_sizes[@]} -ge 2 ]; then
        lo=${count_sizes[0]}; hi=${count_sizes[${#count_sizes[@]} - 1]}
        nlo=$(info "$lo" 2); nhi=$(info "$hi" 2)
        [ ${#count_sizes[@]} -ge 3 ] && mid=${count_sizes[${#count_sizes[@]} - 2]} || mid=$lo
        nmid=$(info "$mid" 2)
        a=$(value smar create 4 "$mid"); b=$(value smar create 4 "$hi")
        lin=$(awk -v a="$a" -v b="$b" -v na="$nmid" -v nb="$nhi" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.2f", (b / nb) / (a / na) }')
        a=$(value smar single 4 "$lo"); b=$(value smar single 4 "$hi")
        lg=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.2f", b / a }')
        lgl=$(awk -v a="$nlo" -v b="$nhi" 'BEGIN { printf "%.2f", log(b) / log(a) }')
        say "- create is linear if the time per secret does not grow: (time/secret at $nhi) / (time/secret at $nmid) = ${lin:-n/a}, limit 1.5 (start-up costs make the small size look slower per secret): **$(verdict "$lin" 1.5)**"
        say "- single restore grows no faster than log N: t($nhi) / t($nlo) = ${lg:-n/a}, limit log($nhi)/log($nlo) = $lgl: **$(verdict "$lg" "$lgl")**"
    else
        say "(fewer than two sizes with the default payload: no growth verdict)"
    fi
    say ""
    done   # layouts
    say ""
    say "## Failures"
    say ""
    if awk -F'\t' '$10 != "ok" && $10 != "skipped" { f = 1 } END { exit !f }' "$RES"; then
        awk -F'\t' '$10 != "ok" && $10 != "skipped" { print "- " $1 ": " $2 " " $3 ": " $10 }' "$RES"
    else
        say "none"
    fi
    # keep what others wrote into the same report (a new run replaces only its own sections)
    if [ -n "$(foreign_sections "$OUT")" ]; then
        say ""
        foreign_sections "$OUT"
    fi
} >"$OUT.new"
mv -f "$OUT.new" "$OUT"

# ---- the chart --------------------------------------------------------------------------

if have gnuplot; then
    PD=$SCRATCH/plot
    mkdir -p "$PD"
    # TITLE:TOOL:OP:COLOUR, one colour per tool in every panel
    C_SMAR='#6a3d9a' C_SMAR2='#cab2d6' C_AGE='#1f78b4' C_RESTIC='#ff7f00' C_BORG='#33a02c' C_B2='#999999'
    P_CREATE=("smar create --threads $THREADS:smar:create:$C_SMAR" "smar create --threads 1:smar:create-1t:$C_SMAR2"
        "[tar|]zstd|age:age:create:$C_AGE" "restic backup:restic:create:$C_RESTIC" "borg create:borg:create:$C_BORG")
    P_EXTRACT=("smar extract --format dir:smar:extract-dir:$C_SMAR" "smar extract --format export:smar:extract-export:$C_SMAR2"
        "smar extract --format jsonl:smar:extract-jsonl:#8e7cc3" "age -d|zstd -d[|tar x]:age:extract:$C_AGE" "restic restore:restic:extract:$C_RESTIC" "borg extract:borg:extract:$C_BORG")
    P_SINGLE=("smar cat --name --at:smar:single:$C_SMAR" "age|zstd|tar x / jq / grep:age:single:$C_AGE"
        "restic restore --include:restic:single:$C_RESTIC" "borg extract PATH:borg:single:$C_BORG")
    P_VERIFY=("smar verify (keyless):smar:verify:$C_SMAR" "smar verify --key:smar:verify-key:$C_SMAR2"
        "b2sum:b2sum:verify:$C_B2" "restic check --read-data:restic:check:$C_RESTIC" "borg check --verify-data:borg:check:$C_BORG")
    dat() {   # FILE then the panel's columns
        local f=$1 s line c rest
        shift
        line="size"
        for c in "$@"; do line+=" \"${c%%:*}\""; done
        echo "$line" >"$PD/$f"
        for s in "${KEYS[@]}"; do
            line="$s"
            for c in "$@"; do
                rest=${c#*:}; rest=${rest%:*}
                v=$(value "${rest%%:*}" "${rest#*:}" 4 "$s")
                line+=" ${v:-?}"
            done
            echo "$line" >>"$PD/$f"
        done
    }
    plotcmd() {   # FILE then the panel's columns
        local f=$1 i=2 c sep=""
        shift
        printf 'plot '
        for c in "$@"; do
            printf '%s"%s" using %d:xtic(1) title columnheader(%d) lc rgb "%s"' "$sep" "$PD/$f" "$i" "$i" "${c##*:}"
            sep=", "
            i=$((i + 1))
        done
        printf '\n'
    }
    dat create.dat "${P_CREATE[@]}"
    dat extract.dat "${P_EXTRACT[@]}"
    dat single.dat "${P_SINGLE[@]}"
    dat verify.dat "${P_VERIFY[@]}"
    cat >"$PD/plot.gp" <<EOF
set terminal pngcairo size 1600,1100 font ",10"
set output "$PNG"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key below font ",9"
set ylabel "wall time, s (log scale)"
set xlabel "size/layout (secrets; NxP: N secrets with --payload-bytes P; json, jsonl, dir)"
set xtics rotate by -30
set multiplot layout 2,2 title "smar vs [tar|]zstd|age, restic, borg (dir only) on the same export: wall time (median), lower is better"
set title "create"
$(plotcmd create.dat "${P_CREATE[@]}")
set title "full extract"
$(plotcmd extract.dat "${P_EXTRACT[@]}")
set title "restore one secret"
$(plotcmd single.dat "${P_SINGLE[@]}")
set title "verify"
$(plotcmd verify.dat "${P_VERIFY[@]}")
unset multiplot
EOF
    gnuplot "$PD/plot.gp" 2>"$PD/gnuplot.log" || { note "gnuplot failed: $(tail -3 "$PD/gnuplot.log")"; FAILED=1; }
else
    note "gnuplot missing: no chart"
fi

rm -rf "$SCRATCH/.trash"
[ "$KEEP" = 1 ] || rm -rf "$SCRATCH/plot" "$SCRATCH/borg-home" "$STAGES" "$RES" "$INFO"
say ""
say "report: $OUT"
have gnuplot && say "chart:  $PNG"
if [ "$FAILED" = 1 ]; then
    note "some commands failed or gave wrong results (see the Failures section)"
    exit 1
fi
exit 0
