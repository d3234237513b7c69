# smar prune: restic-forget retention over 30 archives of one export whose snapshot times
# are two days apart (2026-12-03 .. 2027-01-30, 03:00 UTC), against an expectation worked
# out by hand; refusals (usage 2, damaged or unsigned 3) delete nothing.
. "$E2E_DIR/lib.sh"
make_key

step "30 archives, one every two days, in series/"
gen ex.json --secrets 4
mkdir series
i=0
while [ $i -lt 30 ]; do
    n=$(printf %02d $i)
    t=$(date -u -d "2026-12-03T03:00:00Z + $((2 * i)) days" +%Y-%m-%dT%H:%M:%SZ)
    run 0 "$SMAR" create -q --snapshot-time "$t" -o "series/a$n.smar" ex.json
    i=$((i + 1))
done
echo "not an archive" >series/notes.txt
cp -r series pristine

# Newest first: a29 Sat Jan 30, a28 Jan 28, a27 Jan 26, a26 Sun Jan 24, ..., a22 Sat Jan 16,
# ..., a14 Dec 31. last 2: a29 a28. daily 4: a29..a26. ISO weeks: Jan 25-31 -> a29,
# Jan 18-24 -> a26, Jan 11-17 -> a22. monthly: January -> a29, December -> a14.
POLICY="--keep-last 2 --keep-daily 4 --keep-weekly 3 --keep-monthly 2"

step "usage errors (exit 2) delete nothing"
run 2 "$SMAR" prune $POLICY series
assert_contains err.txt "--yes"
run 2 "$SMAR" prune --dry-run series
assert_contains err.txt "no --keep-* rule"
run 2 "$SMAR" prune --keep-last 0 --yes series
run 2 "$SMAR" prune --keep-within 1w --dry-run series
run 2 "$SMAR" prune --keep-daily many --dry-run series
run 2 "$SMAR" prune --keep-daily 1 --dry-run --yes series
run 2 "$SMAR" prune --keep-daily 1 --dry-run
assert_eq "$(ls series | wc -l)" 31 "files after usage errors"

step "--dry-run: each archive, keep (reasons) or would-delete; nothing deleted"
run 0 "$SMAR" prune $POLICY --dry-run series
assert_eq "$(count_lines out.txt 'keep ')" 6 "kept"
assert_eq "$(count_lines out.txt 'would-delete ')" 24 "would delete"
assert_contains out.txt "2027-01-30T03:00:00Z"
grep -q '^keep .*series/a29.smar  (last, daily, weekly, monthly)$' out.txt || fail "a29 reasons"
grep -q '^keep .*series/a28.smar  (last, daily)$' out.txt || fail "a28 reasons"
grep -q '^keep .*series/a27.smar  (daily)$' out.txt || fail "a27 reasons"
grep -q '^keep .*series/a26.smar  (daily, weekly)$' out.txt || fail "a26 reasons"
grep -q '^keep .*series/a22.smar  (weekly)$' out.txt || fail "a22 reasons"
grep -q '^keep .*series/a14.smar  (monthly)$' out.txt || fail "a14 reasons"
grep -q '^would-delete .*series/a25.smar$' out.txt || fail "a25 not listed for deletion"
assert_contains out.txt "6 kept, 24 would be deleted"
assert_eq "$(ls series | wc -l)" 31 "files after --dry-run"

step "--keep-within 5d: strictly newer than Jan 25 03:00"
run 0 "$SMAR" prune --keep-within 5d --dry-run series
assert_eq "$(count_lines out.txt 'keep ')" 3 "kept within"
grep -q '^keep .*series/a27.smar  (within)$' out.txt || fail "a27 within"

step "--yes deletes exactly what the policy does not keep; other files stay"
run 0 "$SMAR" prune $POLICY --yes series
assert_eq "$(count_lines out.txt 'deleted ')" 24 "deleted lines"
assert_eq "$(ls series | tr '\n' ' ')" "a14.smar a22.smar a26.smar a27.smar a28.smar a29.smar notes.txt " \
    "what is left"
run 0 "$SMAR" verify series/a14.smar series/a29.smar

step "again: nothing more to delete"
run 0 "$SMAR" prune $POLICY --yes series
assert_contains out.txt "6 kept, 0 deleted"

step "archives named one by one, and a file named twice, count once"
run 0 "$SMAR" prune --keep-last 1 --dry-run series/a29.smar series/a28.smar series
assert_contains out.txt "1 kept, 5 would be deleted"

step "a damaged archive (exit 3): nothing deleted"
cp -r pristine damaged
head -c 100 pristine/a05.smar >damaged/a05.smar
run 3 "$SMAR" prune --keep-last 1 --yes damaged
assert_contains err.txt "a05.smar"
assert_eq "$(ls damaged | wc -l)" 31 "files after a damaged archive"

step "--pubkey: an unsigned archive is refused (exit 3), nothing deleted"
run 0 "$SMAR" keygen --sign -o producer.key
run 3 "$SMAR" prune --pubkey producer.key.pub --keep-last 1 --yes pristine
assert_eq "$(ls pristine | wc -l)" 31 "files after an unsigned archive"

step "signed archives and --pubkey: pruned"
mkdir signed
run 0 "$SMAR" create -q --sign producer.key --snapshot-time 2027-02-01T00:00:00Z -o signed/b1.smar ex.json
run 0 "$SMAR" create -q --sign producer.key --snapshot-time 2027-02-02T00:00:00Z -o signed/b2.smar ex.json
run 0 "$SMAR" prune --pubkey producer.key.pub --keep-last 1 --yes signed
assert_missing signed/b1.smar
assert_exists signed/b2.smar

step "s3:// series without credentials: exit 1 (t_s3_tools.sh prunes a bucket)"
run 1 env -u AWS_ACCESS_KEY_ID -u IBMCLOUD_API_KEY -u SMAR_IBMCLOUD_API_KEY_FILE \
    "$SMAR" prune --keep-last 1 --dry-run s3://bucket/prefix/
assert_contains err.txt "no S3 credentials"
run 1 "$SMAR" prune --keep-last 1 --dry-run no-such-folder

step "a chain: a kept incremental keeps every base it lists (table: policy | kept:why)"
# p1 is a full archive of its own; c2 is full and c3..c6 incrementals on it (create --base),
# so each incremental's header lists its whole chain down to c2.
mkdir chain
for k in 1 2 3 4 5 6; do
    gen "ch$k.json" --secrets 6 --snapshot $k --of 6
    case $k in
    1) run 0 "$SMAR" create -q -o chain/p1.smar ch1.json ;;
    2) run 0 "$SMAR" create -q -o chain/c2.smar ch2.json ;;
    *) run 0 "$SMAR" create -q --base chain -o "chain/c$k.smar" "ch$k.json" ;;
    esac
done
cp -r chain chain.pristine
# 'base' stands for "(base of chain/c6.smar)": the newest kept archive that needs it
while IFS='|' read -r policy kept; do
    run 0 "$SMAR" prune $policy --dry-run chain
    got=$(sed -n 's/^keep .*chain\/\([a-z0-9]*\)\.smar  (\(.*\))$/\1:\2/p' out.txt |
        sed 's/base of chain\/c6.smar/base/; s/, /+/g' | sort | tr '\n' ' ')
    assert_eq "$got" "$kept" "kept by '$policy'"
done <<'TABLE'
--keep-last 1|c2:base c3:base c4:base c5:base c6:last 
--keep-last 2|c2:base c3:base c4:base c5:last c6:last 
--keep-within 1h|c2:base c3:base c4:base c5:base c6:within 
TABLE
run 0 "$SMAR" prune --keep-last 1 --dry-run chain
assert_contains out.txt "5 kept, 1 would be deleted; 4 kept as bases of kept incremental archives"
run 0 "$SMAR" prune --keep-last 1 --yes chain
assert_eq "$(ls chain | tr '\n' ' ')" "c2.smar c3.smar c4.smar c5.smar c6.smar " "left of the chain"
run 0 "$SMAR" extract -q --format export -o c6.json chain/c6.smar
