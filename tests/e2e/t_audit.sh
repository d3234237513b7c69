# smar audit: a series of signed archives, keyless. Intact and signed by the pinned producer:
# exit 0 with the worst gap; a missing middle snapshot: exit 4 (gap longer than --every); an
# archive re-signed by another key, or with one flipped byte: exit 3.
. "$E2E_DIR/lib.sh"
make_key
run 0 "$SMAR" keygen --sign -o a.key
run 0 "$SMAR" keygen --sign -o b.key
gen ex.json --secrets 4 --payload-bytes 200
mkdir series
for h in 00 06 12 18; do
    run 0 "$SMAR" create -q --sign a.key --snapshot-time "2026-11-21T$h:00:00Z" \
        -o "series/n-$h.smar" ex.json
done
run 0 "$SMAR" create -q --sign a.key --snapshot-time 2026-11-22T00:00:00Z -o series/n-24.smar ex.json
# a writer's temporary file and other files in the folder are not part of the series
echo junk >series/.n-30.smar.tmp-abc123
echo notes >series/README

step "five signed archives 6h apart, --every 6h: ok"
run 0 "$SMAR" audit --pubkey a.key.pub --every 6h series
assert_eq "$(count_lines out.txt 'series/n-')" 5 "archive lines"
assert_contains out.txt "archives: 5 (5 good, 0 with problems)"
assert_contains out.txt "first snapshot: 2026-11-21T00:00:00Z"
assert_contains out.txt "last snapshot:  2026-11-22T00:00:00Z"
assert_contains out.txt "worst gap (RPO achieved): 6h 00m 00s"
assert_contains out.txt "instance: not checked (needs --key)"
# the same through $SMAR_PUBKEY, archives listed out of order
SMAR_PUBKEY=$PWD/a.key.pub run 0 "$SMAR" audit --every 1d series/n-24.smar series/n-00.smar
assert_contains out.txt "worst gap (RPO achieved): 1d 00h 00m"

step "--json"
run 0 "$SMAR" audit --json --pubkey a.key.pub --every 6h series
python3 - out.txt <<'PY' || fail "audit --json: $(cat out.txt)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["exit_code"] == 0, d
a = d["archives"]
assert [x["snapshot"][11:13] for x in a] == ["00", "06", "12", "18", "00"], a
assert all(x["status"] == "ok" and len(x["archive_id"]) == 32 for x in a), a
s = d["summary"]
assert s["archives"] == 5 and s["good"] == 5 and s["bad"] == 0, s
assert s["worst_gap_seconds"] == 21600 and s["every_seconds"] == 21600, s
assert s["gaps_over_every"] == 0 and s["instance_checked"] is False, s
PY

step "no pinned producer: usage error"
run 2 env -u SMAR_PUBKEY "$SMAR" audit series
assert_contains err.txt "pinned producer is required"
run 2 "$SMAR" audit --pubkey a.key.pub --every 6x series
run 2 "$SMAR" audit --pubkey a.key.pub --every 1h

step "the middle snapshot deleted: gap of 12h, exit 4"
mv series/n-12.smar held-back.smar
run 4 "$SMAR" audit --pubkey a.key.pub --every 6h series
assert_contains out.txt "worst gap (RPO achieved): 12h 00m 00s, 2026-11-21T06:00:00Z to 2026-11-21T18:00:00Z"
assert_contains out.txt "1 gap(s) longer"
assert_contains out.txt "GAP"
assert_contains out.txt "result: gap"
run 4 "$SMAR" audit --json --pubkey a.key.pub --every 6h series
assert_contains out.txt '"gaps_over_every":	1'
# a looser --every accepts it; --since after the gap leaves it out
run 0 "$SMAR" audit --pubkey a.key.pub --every 12h series
run 0 "$SMAR" audit --pubkey a.key.pub --every 6h --since 2026-11-21T18:00:00Z series
assert_contains out.txt "archives: 2 (2 good"
mv held-back.smar series/n-12.smar

step "one archive re-signed by another key: exit 3, other-signer"
run 0 "$SMAR" create -q --sign b.key --snapshot-time 2026-11-21T12:00:00Z -o other.smar ex.json
cp series/n-12.smar keep.smar
cp other.smar series/n-12.smar
run 3 "$SMAR" audit --pubkey a.key.pub --every 6h series
assert_contains out.txt "other-signer"
assert_contains out.txt "1 with problems"
# any of several pinned keys
run 0 "$SMAR" audit --pubkey b.key.pub --pubkey a.key.pub --every 6h series
cp keep.smar series/n-12.smar

step "an unsigned archive: exit 3"
run 0 "$SMAR" create -q --snapshot-time 2026-11-21T12:00:00Z -o series/n-12.smar --force ex.json
run 3 "$SMAR" audit --pubkey a.key.pub series
assert_contains out.txt "unsigned"
cp keep.smar series/n-12.smar

step "one flipped byte: exit 3, damaged, and the gap it leaves is reported"
size=$(wc -c <series/n-12.smar)
off=$((size / 2))
v=$(dd if=series/n-12.smar bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf %o $((v ^ 255)))" | dd of=series/n-12.smar bs=1 seek="$off" conv=notrunc 2>/dev/null
run 3 "$SMAR" audit --pubkey a.key.pub --every 6h series
assert_contains out.txt "damaged"
assert_contains out.txt "worst gap (RPO achieved): 12h 00m 00s"
run 3 "$SMAR" audit --json --pubkey a.key.pub --every 6h series
assert_contains out.txt '"status":	"damaged"'
cp keep.smar series/n-12.smar

step "not an archive, a missing file"
echo "not an archive" >bogus.smar
run 3 "$SMAR" audit --pubkey a.key.pub series/n-00.smar bogus.smar
run 1 "$SMAR" audit --pubkey a.key.pub series/n-00.smar missing.smar
assert_contains out.txt "unreadable"

step "--key: the instance is checked"
run 0 "$SMAR" audit --pubkey a.key.pub --key root.key --json series
assert_contains out.txt '"instance_checked":	true'
assert_not_contains out.txt '"instance":	null'

step "--key: an archive of another instance is other-instance, exit 3"
gen other-instance.json --secrets 2 --payload-bytes 100 --instance-region eu-de
run 0 "$SMAR" create -q --sign a.key --snapshot-time 2026-11-22T06:00:00Z -o series/n-30.smar other-instance.json
run 3 "$SMAR" audit --pubkey a.key.pub --key root.key series
assert_contains out.txt "other-instance"
# keyless, it cannot tell: the instance is encrypted
run 0 "$SMAR" audit --pubkey a.key.pub series
assert_contains out.txt "instance: not checked (needs --key)"

step "a chain (full + 3 incrementals): shape shown; a missing base exit 4; an altered one exit 3"
mkdir chain
for k in 1 2 3 4; do
    gen "c$k.json" --secrets 4 --snapshot $k --of 4
    b=
    [ $k = 1 ] || b="--base chain"
    run 0 "$SMAR" create -q --sign a.key $b -o "chain/c$k.smar" "c$k.json"
done
run 0 "$SMAR" inspect --json chain/c2.smar
C2=$(sed -n 's/.*"archive_id":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' out.txt | head -1)
run 0 "$SMAR" audit --pubkey a.key.pub chain
grep -q "chain/c1.smar  full" out.txt || fail "c1 not shown as full"
grep -q "chain/c3.smar  incremental of 2 bases, parent $C2" out.txt || fail "c3's chain shape"
assert_contains out.txt "incremental: 3; missing base archives: 0"
cp -r chain nobase
rm nobase/c2.smar
run 4 "$SMAR" audit --pubkey a.key.pub nobase
assert_contains out.txt "missing base $C2 (snapshot"
assert_contains out.txt "missing base archives: 1"
assert_contains out.txt "result: missing base"
run 4 "$SMAR" audit --json --pubkey a.key.pub nobase
python3 - out.txt "$C2" <<'PY' || fail "audit --json chain: $(cat out.txt)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit_code"] == 4 and d["summary"]["missing_bases"] == 1, d["summary"]
a = {x["archive"]: x for x in d["archives"]}
assert a["nobase/c1.smar"]["chain"] == {"kind": "full"}, a
c4 = a["nobase/c4.smar"]
assert c4["status"] == "missing-base" and c4["chain"]["kind"] == "incremental", c4
assert [b["state"] for b in c4["chain"]["bases"]] == ["ok", "missing", "ok"], c4
assert c4["chain"]["bases"][1]["archive_id"] == sys.argv[2], c4
PY
# a missing base and a damaged archive: 3 wins
head -c 100 chain/c1.smar >nobase/c1.smar
run 3 "$SMAR" audit --pubkey a.key.pub nobase
# a base whose header was altered (its content digest changes): exit 3, "base altered"
cp -r chain altered
printf '\377' | dd of=altered/c2.smar bs=1 seek=60 conv=notrunc 2>/dev/null
run 3 "$SMAR" audit --pubkey a.key.pub altered
assert_contains out.txt "base altered: $C2"
