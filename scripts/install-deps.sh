#!/bin/sh
# Install whatever smar needs on Debian 12 that is not there yet.
# Safe to run again: it only asks apt-get for missing packages.
set -eu
need="build-essential cmake pkg-config libsodium-dev libzstd-dev libarchive-dev libcjson-dev libcmocka-dev
      tar gzip xz-utils zstd zip bzip2 jq util-linux python3 python3-cryptography"
need="$need libcurl4-openssl-dev openssl"  # Key Protect provider (HTTP) and its tests (test CA)
need="$need libp11-kit-dev"  # PKCS#11 provider (URIs and modules through p11-kit)
# the PKCS#11 tests' token (SoftHSM2), key generator (pkcs11-tool) and p11-kit's module
# registry; SMAR_WITH_TESTS=0 leaves them out when the tests are not built
[ "${SMAR_WITH_TESTS:-1}" = 1 ] && need="$need softhsm2 opensc p11-kit"
[ "${SMAR_WITH_FUZZ:-0}" = 1 ] && need="$need clang libclang-rt-14-dev"
[ "${SMAR_WITH_VALGRIND:-0}" = 1 ] && need="$need valgrind"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
