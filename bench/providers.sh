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
#   --keep           keep the work folder (a new folder under /tmp; $BENCH_DIR instead
#                    names a folder to work in, which is never deleted)
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
BENCH_NAME=providers.sh
. "$here/lib.sh"
bench_positive "$runs" --runs
bench_positive "$secrets" --secrets
for tool in python3 openssl softhsm2-util pkcs11-tool; do
    have "$tool" || die "$tool is needed (scripts/install-deps.sh)"
done
bench_build
MODULE=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so \
    /usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    if [ -e "$m" ]; then MODULE=$m; break; fi
done
[ -n "$MODULE" ] || die "libsofthsm2.so was not found"

bench_workdir smar-providers
pids=()
stop_doubles() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
}
cleanup() {
    stop_doubles
    bench_remove_work
}
trap cleanup EXIT INT TERM

echo "export: $secrets secrets (smar-gen-export, seed 1) in $work" >&2
"$GEN" --secrets "$secrets" -o ex.json
ID=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["secrets"][len(d["secrets"]) // 2]["id"])' ex.json)

# The providers, measured round-robin (run 1 of each, then run 2 of each, ...) so that the
# load of a shared machine falls on all of them alike.
names=()
keys=()
logs=() # the Key Protect double's request log, or "" for providers without one
provider() { names+=("$1"); keys+=("$2"); logs+=("${3:-}"); }

# local keyring
"$SMAR" keygen -o local.key >/dev/null 2>&1
provider "local keyring" local.key

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
provider "PKCS#11, SoftHSM2 $(softhsm2-util --version)" \
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
    rm -f "port-$ms"
    python3 "$repo/tests/servers/kp_double.py" --cert server.pem --key server.key \
        --port-file "port-$ms" --log "requests-$ms.log" --instance "$INSTANCE" \
        --api-key "$API_KEY" --root-key "$KEYID" --latency "$ms" 2>"double-$ms.err" &
    pids+=($!)
    for ((i = 0; i < 100; i++)); do
        [ -s "port-$ms" ] && break
        sleep 0.1
    done
    [ -s "port-$ms" ] || die "the Key Protect double did not start: $(cat "double-$ms.err")"
    provider "Key Protect double, loopback + $ms ms" "keyprotect://$INSTANCE/$KEYID" "$ms"
done

# kp_env N: the environment that sends provider N's Key Protect calls to its double
kp_env() {
    local port
    if [ -n "${logs[$1]}" ]; then
        port=$(cat "port-${logs[$1]}")
        echo "SMAR_KP_URL=https://127.0.0.1:$port SMAR_IAM_URL=https://127.0.0.1:$port"
    fi
}
# shellcheck disable=SC2046 # kp_env gives whole NAME=VALUE words
for ((r = 1; r <= runs; r++)); do
    echo "run $r of $runs" >&2
    for n in "${!names[@]}"; do
        time_ms env $(kp_env "$n") "$SMAR" create -q --force --key "${keys[$n]}" \
            -o "a-$n.smar" ex.json >>"create-$n.ms"
        time_ms env $(kp_env "$n") "$SMAR" cat --key "${keys[$n]}" --id "$ID" "a-$n.smar" \
            >>"cat-$n.ms"
    done
done
rows=()
for n in "${!names[@]}"; do
    unwraps="-"
    if [ -n "${logs[$n]}" ]; then # one more restore, alone in the double's log
        log="requests-${logs[$n]}.log"
        : >"$log"
        # shellcheck disable=SC2046
        env $(kp_env "$n") "$SMAR" cat --key "${keys[$n]}" --id "$ID" "a-$n.smar" >/dev/null
        unwraps="$(grep -c '"action": "unwrap"' "$log" || true) (+ $(grep -c '"action": "token"' "$log" || true) token)"
    fi
    rows+=("| ${names[$n]} | $(stats "create-$n.ms") | $(stats "cat-$n.ms") | $unwraps |")
done
stop_doubles

table=$(
    echo "| provider | create, ms: median (min-max) | cat --id, ms: median (min-max) | unwrap calls per restore |"
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
