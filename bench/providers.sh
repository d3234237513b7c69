#!/usr/bin/env bash
# bench/providers.sh - what a root key's provider costs: `smar create` and a single-secret
# restore (`smar cat --id`) with a local keyring, a PKCS#11 key on SoftHSM2, and a Key
# Protect key served by tests/servers/kp_double.py (a TEST DOUBLE of Key Protect and IAM, on
# loopback over HTTPS) with 0 and 50 ms added to every answer; and how many unwrap calls one
# restore makes (counted in the double's request log). See bench/README.md.
#
# Usage: bench/providers.sh [--build DIR] [--secrets N] [--runs N] [--latencies MS,MS...]
#                           [--out FILE] [--keep]
#   --build DIR      a build tree with tools/smar and tools/smar-gen-export
#                    (default: build/bench, configured and built in Release when missing)
#   --secrets N      secrets in the export (default 1000)
#   --runs N         runs of each command; the median is reported (default 5)
#   --latencies L    added latencies of the Key Protect double, in ms (default 0,50)
#   --out FILE       also write the Markdown table to FILE
#   --keep           keep the work folder ($BENCH_DIR, default a new folder under /tmp)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/build/bench"
secrets=1000
runs=5
latencies=0,50
out=""
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --secrets) secrets=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --latencies) latencies=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "providers.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
case $runs in '' | *[!0-9]* | 0) echo "providers.sh: --runs: a positive number" >&2; exit 2 ;; esac
case $secrets in '' | *[!0-9]* | 0) echo "providers.sh: --secrets: a positive number" >&2; exit 2 ;; esac

die() { echo "providers.sh: $*" >&2; exit 1; }
for tool in python3 openssl softhsm2-util pkcs11-tool; do
    command -v "$tool" >/dev/null || die "$tool is needed (scripts/install-deps.sh)"
done
if [ ! -x "$build/tools/smar" ]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$build" -j2 --target smar smar-gen-export >/dev/null
fi
SMAR=$build/tools/smar
GEN=$build/tools/smar-gen-export
[ -x "$SMAR" ] && [ -x "$GEN" ] || die "no smar / smar-gen-export in $build/tools"
MODULE=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so \
    /usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    if [ -e "$m" ]; then MODULE=$m; break; fi
done
[ -n "$MODULE" ] || die "libsofthsm2.so was not found"

work=${BENCH_DIR:-$(mktemp -d /tmp/smar-providers.XXXXXX)}
mkdir -p "$work"
cd "$work"
pid=""
stop_double() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}
cleanup() {
    stop_double
    if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT INT TERM

# median_ms CMD...: run CMD $runs times (output discarded), print the median wall time in ms.
# Every run must succeed: a failing provider must not look fast.
median_ms() {
    local times=() i t0 t1
    for ((i = 0; i < runs; i++)); do
        t0=$EPOCHREALTIME
        "$@" >/dev/null 2>run.err || die "failed: $* ($(cat run.err))"
        t1=$EPOCHREALTIME
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "export: $secrets secrets (smar-gen-export, seed 1) in $work" >&2
"$GEN" --secrets "$secrets" -o ex.json
ID=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["secrets"][len(d["secrets"]) // 2]["id"])' ex.json)

rows=()
# measure NAME KEY [unwraps]: create (a fresh archive each run) and cat --id of one secret.
measure() {
    local name=$1 key=$2 unwraps=${3:--} c r
    echo "measuring: $name" >&2
    c=$(median_ms "$SMAR" create -q --force --key "$key" -o a.smar ex.json)
    r=$(median_ms "$SMAR" cat --key "$key" --id "$ID" a.smar)
    if [ "$unwraps" = count ]; then
        : >requests.log
        "$SMAR" cat --key "$key" --id "$ID" a.smar >/dev/null
        unwraps="$(grep -c '"action": "unwrap"' requests.log || true)"
        unwraps="$unwraps (+ $(grep -c '"action": "token"' requests.log || true) token)"
    fi
    rows+=("| $name | $c | $r | $unwraps |")
}

# local keyring
"$SMAR" keygen -o local.key
measure "local keyring" local.key

# PKCS#11: an AES-256 key, sensitive and not extractable, on a SoftHSM2 token of our own
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$work" >softhsm2.conf
export SOFTHSM2_CONF=$work/softhsm2.conf
softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 4711 >/dev/null
printf '4711\n' >pin
chmod 600 pin
pkcs11-tool --module "$MODULE" --token-label bench --login --pin 4711 --keygen \
    --key-type AES:32 --label root --id 00000001 --sensitive --private >/dev/null 2>&1 ||
    die "pkcs11-tool --keygen"
measure "PKCS#11, SoftHSM2 $(softhsm2-util --version)" \
    "pkcs11:token=bench;object=root?module-path=$MODULE&pin-source=file:$work/pin"

# Key Protect test double on loopback, HTTPS with a CA of our own
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench CA" \
    -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
    -out server.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -extfile san.ext -out server.pem >/dev/null 2>&1
INSTANCE=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
KEYID=7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
API_KEY=bench-api-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export CURL_CA_BUNDLE=$work/ca.pem IBMCLOUD_API_KEY=$API_KEY
for ms in ${latencies//,/ }; do
    rm -f port
    python3 "$repo/tests/servers/kp_double.py" --cert server.pem --key server.key \
        --port-file port --log requests.log --instance "$INSTANCE" --api-key "$API_KEY" \
        --root-key "$KEYID" --latency "$ms" 2>double.err &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        [ -s port ] && break
        sleep 0.1
    done
    [ -s port ] || die "the Key Protect double did not start: $(cat double.err)"
    export SMAR_KP_URL="https://127.0.0.1:$(cat port)" SMAR_IAM_URL="https://127.0.0.1:$(cat port)"
    measure "Key Protect double, loopback + $ms ms" "keyprotect://$INSTANCE/$KEYID" count
    stop_double
done

table=$(
    echo "| provider | create (ms) | cat --id (ms) | unwrap calls per restore |"
    echo "|---|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
)
{
    echo "$secrets secrets (smar-gen-export --secrets $secrets, one JSON document," \
        "$(du -k ex.json | cut -f1) KiB), wall time, median of $runs runs;" \
        "$("$SMAR" --version | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo
    echo "$table"
} | tee ${out:+"$out"}
