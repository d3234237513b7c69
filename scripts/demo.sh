#!/bin/sh
# The README's quick start: install what is missing, build, then back up a sample Secrets
# Manager instance three nights in a row and restore one secret as it was two nights ago.
#
#   ./scripts/demo.sh            everything (needs sudo for missing Debian packages)
#   SMAR_DEMO_DIR=/tmp/d ./scripts/demo.sh    put the demo files elsewhere
#
# Every step prints the command it runs. Nothing outside build/ (or SMAR_DEMO_DIR) is written.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
build="$root/build/release"
demo=${SMAR_DEMO_DIR:-$root/build/demo}

say() {
    printf '\n\033[1m== %s\033[0m\n' "$*"
}
# Show a command, then run it.
show() {
    printf '$ %s\n' "$*"
    "$@"
}

say "1. install missing build dependencies (Debian 12)"
show scripts/install-deps.sh

say "2. configure and build"
show cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
show cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target smar smar-gen-export >/dev/null
PATH="$build/tools:$PATH"
export PATH
smar --version

rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"
echo "demo files in $demo"

say "3. a sample instance: 40 secrets of every type, versions over months, 3 nightly exports"
for k in 1 2 3; do
    show smar-gen-export --secrets 40 --snapshot "$k" --of 3 -o "export-night$k.json" \
        --manifest-out "manifest-night$k.txt"
done
echo "(each export is what the Secrets Manager API returns; night 2 and 3 rotate, delete and"
echo " create secrets; only the current and previous version of a secret carry a payload)"

say "4. a root keyring (Key Protect style) and a producer signing key"
show smar keygen -o root.key
show smar keygen --sign -o producer.key
show smar key show root.key

say "5. one encrypted, signed archive per night"
for k in 1 2 3; do
    show smar create --key root.key --sign producer.key -o "night$k.smar" "export-night$k.json"
done
ls -l night*.smar

say "6. an auditor verifies the archives without the key, pinning the producer's public key"
show smar verify --pubkey producer.key.pub night1.smar night2.smar night3.smar

say "7. what the latest archive holds (metadata only, no payload is decrypted)"
show smar inspect --key root.key night3.smar
show smar ls --key root.key --type username_password night3.smar

say "8. restore one secret as it was two nights ago, across the whole series"
night1=$(awk '$1 == "snapshot" { print $4 }' manifest-night1.txt)
# app-config (arbitrary, sample data) was rotated on night 3: then and now differ
show smar cat --key root.key --name app-config --type arbitrary --at "$night1" \
    night1.smar night2.smar night3.smar
echo
show smar cat --key root.key --name app-config --type arbitrary \
    night1.smar night2.smar night3.smar
echo
then_value=$(smar cat --key root.key --name app-config --type arbitrary --at "$night1" night*.smar)
now_value=$(smar cat --key root.key --name app-config --type arbitrary night*.smar)
if [ "$then_value" = "$now_value" ]; then
    echo "unexpected: the value did not change between the nights" >&2
    exit 1
fi
echo "(the first is the value at $night1, the second today's)"

say "9. the whole instance as it was then, as an instance export (smar create takes it back)"
show smar extract --key root.key --at "$night1" -o instance-night1.json \
    night1.smar night2.smar night3.smar

say "10. damage is detected: flip one byte of a copy, verify exits 3"
cp night3.smar damaged.smar
printf 'X' | dd of=damaged.smar bs=1 seek=4000 conv=notrunc 2>/dev/null
set +e
show smar verify damaged.smar
rc=$?
set -e
echo "exit status $rc (3: archive damaged or not authentic)"
[ "$rc" -eq 3 ]

say "done: files are in $demo; run ./scripts/test.sh for the test suite"
