#!/usr/bin/env bash
# bench/incremental.sh - what an incremental archive costs and saves: a series of snapshots
# of one generated instance (smar-gen-export --snapshot K --of M, with 1% of the secrets
# rotated and 0.1% created and 0.1% deleted between two snapshots: --rotate-permille 10
# --churn N/1000), archived as 1 full + M-1 incrementals (`create --base`), and every
# snapshot also as a full archive, to compare:
#   - size and create time of each incremental against a full archive of the same snapshot;
#   - a single-secret restore (`cat --name N --at T`) from the chain against the same restore
#     from the full archive of that snapshot, for a secret untouched since the first
#     snapshot (its record is in the chain's full archive: the longest walk) and one
#     rotated at the last snapshot;
#   - a full restore (`extract --format export --at T`) from the chain: byte-identical to
#     the one from the full archive (the script fails otherwise), and its wall time.
# See bench/README.md, "Incremental archives".
#
# Usage: bench/incremental.sh [--build DIR] [--secrets N] [--snapshots M] [--runs N]
#                             [--out FILE] [--keep]
#   --build DIR      a build tree with tools/smar and tools/smar-gen-export
#                    (default: build/bench, configured and built in Release when missing)
#   --secrets N      secrets in each snapshot (default 100000)
#   --snapshots M    snapshots in the chain: 1 full + M-1 incrementals (default 24)
#   --runs N         runs of each restore; the median is reported (default 5)
#   --out FILE       also write the Markdown tables to FILE
#   --keep           keep the work folder (a new folder under /tmp; $BENCH_DIR instead
#                    names a folder to work in, which is never deleted)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/build/bench"
secrets=100000
snapshots=24
runs=5
out=""
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --secrets) secrets=$2; shift 2 ;;
    --snapshots) snapshots=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "incremental.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
BENCH_NAME=incremental.sh
. "$here/lib.sh"
for v in runs secrets snapshots; do bench_positive "${!v}" "--$v"; done
[ "$snapshots" -ge 2 ] && [ "$snapshots" -le 64 ] || die "--snapshots: 2..64"
have python3 || die "python3 is needed"
bench_build
bench_workdir smar-incremental
trap bench_remove_work EXIT INT TERM

size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

churn=$(((secrets + 999) / 1000)) # 0.1% created and 0.1% deleted per snapshot
gen_args=(--secrets "$secrets" --rotate-permille 10 --churn "$churn" --of "$snapshots")
"$SMAR" keygen -o k.key >/dev/null 2>&1
mkdir -p chain full
: >create-full.ms
: >create-incr.ms
: >sizes.txt

# snapshot_time K: the export's exported_at of snapshot K (from the generator's manifest)
snapshot_time() { awk '$1 == "snapshot" { print $4; exit }' "m$1.txt"; }

for ((k = 1; k <= snapshots; k++)); do
    echo "snapshot $k of $snapshots" >&2
    "$GEN" "${gen_args[@]}" --snapshot "$k" --layout json -o ex.json --manifest-out "m$k.txt"
    # Every snapshot as a full archive: the reference for sizes, times and restores. The
    # page cache is warm for both creates alike (the export was just written).
    time_ms "$SMAR" create -q --key k.key -o "full/s$k.smar" ex.json >>create-full.ms
    if [ "$k" = 1 ]; then
        cp "full/s1.smar" chain/s01.smar
    else
        time_ms "$SMAR" create -q --key k.key --base chain --full-every "$snapshots" \
            -o "$(printf 'chain/s%02d.smar' "$k")" ex.json >>create-incr.ms
        echo "$k $(size_of "full/s$k.smar") $(size_of "$(printf 'chain/s%02d.smar' "$k")")" >>sizes.txt
    fi
    [ "$k" = "$snapshots" ] || rm -f ex.json
done

# The secrets restored: one untouched since snapshot 1 (its record is in the chain's full
# archive) and one rotated at the last snapshot, by name (as the main bench restores).
last=$snapshots
read -r untouched_name rotated_name < <(python3 - "m1.txt" "m$last.txt" <<'EOF'
import sys
first, last = sys.argv[1], sys.argv[2]
def secrets(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        f = line.split(" ")
        if f[0] == "secret":
            out[f[2]] = (f[6], " ".join(f[8:]).rstrip("\n"))  # current version id, name
    return out
a, b = secrets(first), secrets(last)
rotated = [l.split(" ")[2] for l in open(last, encoding="utf-8") if l.startswith("rotated ")]
names = [n for _, n in b.values()]
unique = lambda n: names.count(n) == 1
untouched = next(n for i, (v, n) in b.items() if i in a and a[i][0] == v and unique(n))
rot = next(b[i][1] for i in rotated if unique(b[i][1]))
print(untouched, rot)
EOF
)
T=$(snapshot_time "$last")
: >cat-chain-untouched.ms
: >cat-full-untouched.ms
: >cat-chain-rotated.ms
: >cat-full-rotated.ms
for ((r = 1; r <= runs; r++)); do
    for what in untouched rotated; do
        name_var=${what}_name
        time_ms "$SMAR" cat --key k.key --name "${!name_var}" --at "$T" chain >>"cat-chain-$what.ms"
        time_ms "$SMAR" cat --key k.key --name "${!name_var}" "full/s$last.smar" >>"cat-full-$what.ms"
    done
done
"$SMAR" cat --key k.key --name "$untouched_name" --at "$T" chain >cat-chain.out
"$SMAR" cat --key k.key --name "$untouched_name" "full/s$last.smar" >cat-full.out
cmp -s cat-chain.out cat-full.out || die "cat from the chain differs from cat from the full archive"

echo "full restores at snapshot $last" >&2
t_xchain=$(time_ms "$SMAR" extract -q --key k.key --at "$T" --format export -o x-chain.json chain)
t_xfull=$(time_ms "$SMAR" extract -q --key k.key --format export -o x-full.json "full/s$last.smar")
cmp -s x-chain.json x-full.json || die "the full restore from the chain differs from the full archive's"

# The incremental's figures at snapshot 2 (1 step from the full) and at the last one.
read -r _ full2 incr2 < <(awk '$1 == 2' sizes.txt)
read -r _ fulln incrn < <(awk -v k="$last" '$1 == k' sizes.txt)
cf=$(median create-full.ms)
ci=$(median create-incr.ms)
chain_bytes=$(du -cb chain/*.smar | tail -1 | cut -f1)
full_bytes=$(du -cb full/*.smar | tail -1 | cut -f1)
table=$(
    echo "| measure | full archive | incremental | incremental / full |"
    echo "|---|---:|---:|---:|"
    echo "| size, snapshot 2 | $(mib "$full2") | $(mib "$incr2") | $(ratio "$incr2" "$full2") |"
    echo "| size, snapshot $last | $(mib "$fulln") | $(mib "$incrn") | $(ratio "$incrn" "$fulln") |"
    echo "| create, ms (median over the snapshots) | $cf | $ci | $(ratio "$ci" "$cf") |"
    echo "| all $snapshots snapshots, bytes stored | $(mib "$full_bytes") | $(mib "$chain_bytes") | $(ratio "$chain_bytes" "$full_bytes") |"
    echo
    echo "| restore at snapshot $last | from the full archive, ms | from the chain, ms | chain / full |"
    echo "|---|---:|---:|---:|"
    for what in untouched rotated; do
        a=$(median "cat-full-$what.ms")
        b=$(median "cat-chain-$what.ms")
        echo "| cat --name, a secret $what | $a | $b | $(ratio "$b" "$a") |"
    done
    echo "| extract --format export (byte-identical: checked) | $t_xfull | $t_xchain | $(ratio "$t_xchain" "$t_xfull") |"
)
{
    echo "$secrets secrets a snapshot, $snapshots snapshots (smar-gen-export ${gen_args[*]}," \
        "one JSON document), 1 full + $((snapshots - 1)) incrementals;" \
        "$("$SMAR" --version | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo
    echo "$table"
} | tee ${out:+"$out"}
