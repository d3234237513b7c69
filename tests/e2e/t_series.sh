# Point-in-time answers across a series of three nightly archives (cat --at, extract --at):
# rotations between them, one secret deleted, one created, old versions without payload.
. "$E2E_DIR/lib.sh"
make_key

step "three nightly snapshots T1 < T2 < T3 and their archives"
for k in 1 2 3; do
    gen "s$k.json" --secrets 16 --snapshot "$k" --of 3 --manifest-out "m$k.txt"
    run 0 "$SMAR" create -q -o "s$k.smar" "s$k.json"
done
T1=$(manifest_field m1.txt snapshot 4)
T2=$(manifest_field m2.txt snapshot 4)
T3=$(manifest_field m3.txt snapshot 4)
assert_eq "$T3" "2026-11-20T02:00:00Z" "T3"
ALL="s1.smar s2.smar s3.smar"

# seconds(T) and T-1s in RFC 3339
before() {
    date -u -d "@$(($(date -u -d "$1" +%s) - 1))" +%Y-%m-%dT%H:%M:%SZ
}

step "a secret rotated between T1 and T2"
ROT=$(manifest_field m2.txt rotated 3)
ROT_NEW=$(manifest_field m2.txt rotated 4)
ROT_OLD=$(manifest_field m1.txt secret 7 3 "$ROT")
ROT_NEW_AT=$(manifest_field m2.txt version 5 4 "$ROT_NEW")
[ -n "$ROT" ] && [ -n "$ROT_OLD" ] && [ -n "$ROT_NEW_AT" ] || fail "manifest lookups"
run 0 "$SMAR" cat --id "$ROT" --version "$ROT_OLD" $ALL
mv out.txt old.payload
run 0 "$SMAR" cat --id "$ROT" --version "$ROT_NEW" $ALL
mv out.txt new.payload
cmp -s old.payload new.payload && fail "rotation did not change the payload"

step "before, at, between and after the snapshots"
run 0 "$SMAR" cat --id "$ROT" --at "$T1" $ALL
assert_same out.txt old.payload
run 0 "$SMAR" cat --id "$ROT" --at "$(before "$ROT_NEW_AT")" $ALL
assert_same out.txt old.payload
run 0 "$SMAR" cat --id "$ROT" --at "$ROT_NEW_AT" $ALL
assert_same out.txt new.payload
run 0 "$SMAR" cat --id "$ROT" --at "$T2" $ALL
assert_same out.txt new.payload
run 0 "$SMAR" cat --id "$ROT" --at 2027-01-01 $ALL
assert_same out.txt new.payload
run 0 "$SMAR" cat --id "$ROT" $ALL
assert_same out.txt new.payload
# the order archives are given in does not matter
run 0 "$SMAR" cat --id "$ROT" --at "$T1" s3.smar s1.smar s2.smar
assert_same out.txt old.payload
# by name, too
ROT_NAME=$(manifest_field m1.txt secret 9 3 "$ROT")
ROT_TYPE=$(manifest_field m1.txt secret 4 3 "$ROT")
run 0 "$SMAR" cat --name "$ROT_NAME" --type "$ROT_TYPE" --at "$T1" $ALL
assert_same out.txt old.payload

step "a secret deleted between T1 and T2"
DEL=$(manifest_field m2.txt deleted 3)
run 0 "$SMAR" cat --id "$DEL" --at "$T1" $ALL
assert_nonempty out.txt
run 1 "$SMAR" cat --id "$DEL" --at "$T2" $ALL
assert_empty out.txt
assert_contains err.txt "did not exist at $T2: it was deleted (the snapshot of $T2 no longer has it)"
run 1 "$SMAR" cat --id "$DEL" $ALL
assert_empty out.txt
assert_contains err.txt "deleted"
# only the first archive: it still exists there
run 0 "$SMAR" cat --id "$DEL" s1.smar

step "a secret created between T2 and T3"
NEW=$(manifest_field m3.txt created 3)
NEW_AT=$(manifest_field m3.txt version 5 2 "$NEW")
run 1 "$SMAR" cat --id "$NEW" --at "$T1" $ALL
assert_empty out.txt
assert_contains err.txt "did not exist at $T1: it was created at $NEW_AT"
run 1 "$SMAR" cat --id "$NEW" --at "$(before "$NEW_AT")" $ALL
assert_empty out.txt
run 0 "$SMAR" cat --id "$NEW" --at "$NEW_AT" $ALL
run 0 "$SMAR" cat --id "$NEW" --at "$T3" $ALL

step "an old version whose payload no archive holds: the window that would have"
OLD=$(manifest_field m1.txt secret 3 2 0)
V0_AT=$(awk -v id="$OLD" '$1 == "version" && $2 == id && $3 == 0 { print $5 }' m1.txt)
V2_AT=$(awk -v id="$OLD" '$1 == "version" && $2 == id && $3 == 2 { print $5 }' m1.txt)
run 1 "$SMAR" cat --id "$OLD" --at "$V0_AT" $ALL
assert_empty out.txt
assert_contains err.txt "was current at $V0_AT but no given archive holds its payload"
assert_contains err.txt "an archive with a snapshot time from $V0_AT until $V2_AT would have held it"
run 1 "$SMAR" cat --id "$OLD" --at 2020-01-01 $ALL
assert_contains err.txt "did not exist at 2020-01-01T00:00:00Z"

step "unknown ids, versions"
run 1 "$SMAR" cat --id 00000000-0000-0000-0000-000000000000 $ALL
assert_empty out.txt
assert_contains err.txt "no secret with id '00000000-0000-0000-0000-000000000000'"
run 1 "$SMAR" cat --id "$ROT" --version no-such-version $ALL
assert_contains err.txt "has no version 'no-such-version'"
V0=$(awk -v id="$OLD" '$1 == "version" && $2 == id && $3 == 0 { print $4 }' m1.txt)
run 1 "$SMAR" cat --id "$OLD" --version "$V0" $ALL
assert_empty out.txt
assert_contains err.txt "no given archive holds its payload"

step "extract --at across the series"
run 0 "$SMAR" extract -q --at "$T2" -o at2.json $ALL
assert_not_contains at2.json "\"id\":\"$DEL\""
assert_contains at2.json "\"id\":\"$ROT\""
run 0 "$SMAR" extract -q --at "$T1" -o at1.json $ALL
assert_contains at1.json "\"id\":\"$DEL\""
assert_not_contains at1.json "\"id\":\"$NEW\""
run 0 "$SMAR" extract -q --at "$T1" --id "$ROT" -o rot1.json $ALL
assert_contains rot1.json "\"id\":\"$ROT_OLD\""
assert_not_contains rot1.json "\"id\":\"$ROT_NEW\""
run 0 "$SMAR" extract -q --at "$T2" --id "$ROT" --all-versions -o rot2.json $ALL
assert_contains rot2.json "\"id\":\"$ROT_OLD\""
assert_contains rot2.json "\"id\":\"$ROT_NEW\""
# the extract at T1 is an export smar takes back, with T1's secrets
run 0 "$SMAR" create -q -o back1.smar at1.json
run 0 "$SMAR" cat --id "$ROT" back1.smar
assert_same out.txt old.payload

step "extract: asked-for secrets missing at T are errors, --skip-missing writes the rest"
run 1 "$SMAR" extract -q --at "$T1" --id "$NEW" -o none.json $ALL
assert_contains err.txt "did not exist at $T1"
assert_contains err.txt "nothing written"
assert_missing none.json
run 1 "$SMAR" extract -q --at "$T1" --id "$NEW" --id "$ROT" -o two.json $ALL
assert_missing two.json
run 0 "$SMAR" extract -q --at "$T1" --id "$NEW" --id "$ROT" --skip-missing -o two.json $ALL
assert_contains err.txt "did not exist at $T1"
assert_contains two.json "\"id\":\"$ROT\""
assert_not_contains two.json "\"id\":\"$NEW\""
run 1 "$SMAR" extract -q --at "$V0_AT" --id "$OLD" -o old.json $ALL
assert_contains err.txt "no given archive holds its payload"
assert_missing old.json
run 1 "$SMAR" extract -q --id no-such-id -o x.json $ALL
assert_contains err.txt "no secret with id 'no-such-id' matches the selection"
run 0 "$SMAR" extract -q --at 2020-01-01 -o empty.json $ALL
assert_contains empty.json '"secrets": ['

step "ls over several archives: one listing per archive"
run 0 "$SMAR" ls $ALL
assert_contains out.txt "==> s1.smar (snapshot $T1) <=="
assert_contains out.txt "==> s3.smar (snapshot $T3) <=="
assert_eq "$(count_lines out.txt "$DEL")" 1 "deleted secret listed once (s1 only)"
assert_eq "$(count_lines out.txt "$NEW")" 1 "new secret listed once (s3 only)"
assert_no_temp .
