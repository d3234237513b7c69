#!/bin/sh
# The ABI check: the symbols libsmar.so exports must be exactly the checked-in list
# (tests/abi/libsmar.symbols, one name a line, sorted), as libsodium pins its own. An
# accidental export (a helper without `static` that the visibility default let out) or a
# removal fails here. After a deliberate change to the public API, regenerate the list:
#   tests/abi/check.sh build/libsmar.so --update
set -eu
lib=$1
list=$(dirname "$0")/libsmar.symbols
got=$(mktemp)
trap 'rm -f "$got"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | LC_ALL=C sort >"$got"
if [ "${2:-}" = --update ]; then
    cp "$got" "$list"
    echo "wrote $list ($(wc -l <"$list") symbols)"
    exit 0
fi
if ! diff -u "$list" "$got"; then
    echo "FAIL: libsmar's exported symbols differ from tests/abi/libsmar.symbols" \
        "(+ exported now, - expected); if deliberate: tests/abi/check.sh $lib --update" >&2
    exit 1
fi
echo "abi: $(wc -l <"$got") exported symbols, as listed"
