# Incremental archives (create --base, format 2.1): a full archive and five incrementals of
# six snapshots restore exactly what full archives of the same exports restore; a missing
# base is named; a swapped base is refused; --full-every bounds the chain.
. "$E2E_DIR/lib.sh"
make_key

step "six snapshots: full archives of each, and a chain (full + 5 incrementals)"
mkdir full chain
for k in 1 2 3 4 5 6; do
    gen "e$k.json" --secrets 60 --snapshot "$k" --of 6 --manifest-out "m$k.txt"
    run 0 "$SMAR" create -q -o "full/f$k.smar" "e$k.json"
    if [ "$k" = 1 ]; then
        run 0 "$SMAR" create -o "chain/c$k.smar" "e$k.json"
    else
        run 0 "$SMAR" create --base chain -o "chain/c$k.smar" "e$k.json"
        assert_contains err.txt "incremental against chain/c$((k - 1)).smar"
    fi
    eval "T$k=\$(manifest_field m$k.txt snapshot 4)"
done
run 0 "$SMAR" inspect chain/c6.smar
assert_contains out.txt "format:       2.2"
run 0 "$SMAR" inspect chain/c1.smar
assert_contains out.txt "format:       2.0"

step "every snapshot: extract of the chain == extract of the full archive (byte for byte)"
for k in 1 2 3 4 5 6; do
    eval "T=\$T$k"
    run 0 "$SMAR" extract -q --format export --at "$T" -o "chain$k.json" chain
    run 0 "$SMAR" extract -q --format export -o "full$k.json" "full/f$k.smar"
    cmp "chain$k.json" "full$k.json" || fail "snapshot $k: the chain restores something else"
done

step "one incremental archive alone finds its bases beside it"
run 0 "$SMAR" extract -q --format export -o alone6.json chain/c6.smar
assert_same alone6.json full6.json

run 0 "$SMAR" ls chain/c6.smar
run 0 "$SMAR" ls full/f6.smar
mv out.txt ls_full.txt
run 0 "$SMAR" ls chain/c6.smar
sed 1d out.txt >ls_chain.body
sed 1d ls_full.txt >ls_full.body
assert_same ls_chain.body ls_full.body

step "cat --id and --name --at every time: the chain answers as the full archives do"
ROT=$(manifest_field m2.txt rotated 3)
NAME=$(manifest_field m1.txt secret 9 3 "$ROT")
[ -n "$ROT" ] && [ -n "$NAME" ] || fail "manifest lookups"
for k in 1 2 3 4 5 6; do
    eval "T=\$T$k"
    run 0 "$SMAR" cat --id "$ROT" --at "$T" chain
    mv out.txt cat_chain.txt
    run 0 "$SMAR" cat --id "$ROT" --at "$T" full
    assert_same cat_chain.txt out.txt
    run 0 "$SMAR" cat --name "$NAME" --at "$T" chain
    mv out.txt name_chain.txt
    run 0 "$SMAR" cat --name "$NAME" --at "$T" full
    assert_same name_chain.txt out.txt
done

step "a restore by name from a folder opens only the archives around the time asked"
# the oldest archive is under a key not given: a restore at the latest time never unlocks
# it (it used to open and unlock every archive of the folder first: exit 1); one at its
# time needs it and says so
mkdir near
run 0 "$SMAR" keygen -o other.key
run 0 "$SMAR" create -q --key other.key -o near/n1.smar e1.json
run 0 "$SMAR" create -q -o near/n5.smar e5.json
run 0 "$SMAR" create -q -o near/n6.smar e6.json
run 0 "$SMAR" cat --name "$NAME" near
mv out.txt name_near.txt
run 0 "$SMAR" cat --name "$NAME" full/f6.smar
assert_same name_near.txt out.txt
run 1 "$SMAR" cat --name "$NAME" --at "$T1" near
assert_contains err.txt "n1.smar"

step "verify --key checks every reference of the chain"
run 0 "$SMAR" verify -k root.key chain/c1.smar chain/c2.smar chain/c3.smar chain/c4.smar chain/c5.smar \
    chain/c6.smar

step "a missing base: exit 1, naming the base's archive id and snapshot time"
mkdir lonely
cp chain/c3.smar lonely/
run 0 "$SMAR" inspect --json chain/c2.smar
C2_ID=$(sed -n 's/.*"archive_id":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' out.txt | head -1)
[ -n "$C2_ID" ] || fail "archive id of c2"
run 0 "$SMAR" inspect lonely/c3.smar # keyless: the chain is in clear
assert_contains out.txt "base:         $C2_ID (snapshot $T2)"
run 0 "$SMAR" inspect --json lonely/c3.smar
tr -d ' \t\n' <out.txt | grep -q "\"bases\":\[{\"archive_id\":\"$C2_ID\",\"snapshot\":\"$T2\"}" ||
    fail "inspect --json: no base list"
run 1 "$SMAR" cat --id "$ROT" lonely/c3.smar
assert_contains err.txt "$C2_ID"
assert_contains err.txt "$T2"
run 1 "$SMAR" ls lonely/c3.smar
assert_contains err.txt "$C2_ID"
run 1 "$SMAR" extract -q --format export -o lonely.json lonely/c3.smar
assert_contains err.txt "needs base archives"
assert_missing lonely.json
run 1 "$SMAR" verify -k root.key lonely/c3.smar
assert_contains out.txt "$C2_ID"

step "a swapped base (another archive of the same snapshot): exit 3"
mkdir swapped
cp chain/c1.smar chain/c3.smar swapped/
cp full/f2.smar swapped/c2.smar
run 3 "$SMAR" cat --id "$ROT" swapped
assert_contains err.txt "not the base this archive was made from"
run 3 "$SMAR" extract -q --format export -o swapped.json swapped
assert_missing swapped.json

step "--full-every 3: a chain holds at most 3 archives (a full one and 2 incrementals)"
mkdir bounded
for k in 1 2 3 4 5; do
    run 0 "$SMAR" create --json --full-every 3 --base bounded -o "bounded/b$k.smar" "e$k.json"
    case $k in
    1 | 4) tr -d ' \t' <out.txt | grep -q '"incremental":false' || fail "b$k not full" ;;
    *) tr -d ' \t' <out.txt | grep -q '"incremental":true' || fail "b$k not incremental" ;;
    esac
done
mkdir upto3
cp bounded/b1.smar bounded/b2.smar bounded/b3.smar upto3/
run 0 "$SMAR" create --full-every 3 --base upto3 -o b4x.smar e4.json
assert_contains err.txt "full archive: the chain of 'upto3/b3.smar' already holds 3 archives"
run 0 "$SMAR" create --full-every 4 --base upto3 -o b4y.smar e4.json
assert_contains err.txt "incremental against upto3/b3.smar"
run 0 "$SMAR" extract -q --format export -o b4y.json upto3/b1.smar upto3/b2.smar upto3/b3.smar \
    b4y.smar
run 0 "$SMAR" extract -q --format export -o b4f.json full/f4.smar
assert_same b4y.json b4f.json
run 2 "$SMAR" create --full-every 0 --base bounded -o b5x.smar e5.json
run 2 "$SMAR" create --full-every 65 --base bounded -o b5x.smar e5.json

step "an incremental archive is much smaller than a full one"
gen big1.json --secrets 300 --snapshot 1 --of 2
gen big2.json --secrets 300 --snapshot 2 --of 2
run 0 "$SMAR" create -q -o big1.smar big1.json
run 0 "$SMAR" create -q -o big2_full.smar big2.json
run 0 "$SMAR" create -q --base big1.smar -o big2_incr.smar big2.json
FULL=$(wc -c <big2_full.smar)
INCR=$(wc -c <big2_incr.smar)
# The generator rotates a third of the secrets per snapshot, and a rotated secret is a
# whole new record with its new payload: about a fifth of the payloads and two fifths of
# the manifest remain (27% measured). A full copy would be 100%; 30% is the bound here,
# the 5% figure (1% rotated) is bench/'s.
[ "$((INCR * 100))" -lt "$((FULL * 30))" ] || fail "incremental $INCR bytes, full $FULL"
run 0 "$SMAR" extract -q --format export -o big_i.json big1.smar big2_incr.smar
run 0 "$SMAR" extract -q --format export -o big_f.json big2_full.smar
assert_same big_i.json big_f.json

step "with 1% of the secrets rotated (the issue's case, at 2000 secrets): under 6% of a full"
# measured 4.0%; bench/incremental.sh measures it at 100,000 secrets
for k in 1 2; do
    gen "r$k.json" --secrets 2000 --snapshot "$k" --of 2 --rotate-permille 10 --churn 7
done
run 0 "$SMAR" create -q -o r1.smar r1.json
run 0 "$SMAR" create -q -o r2_full.smar r2.json
run 0 "$SMAR" create -q --base r1.smar -o r2_incr.smar r2.json
FULL=$(wc -c <r2_full.smar)
INCR=$(wc -c <r2_incr.smar)
echo "1% rotated, 2000 secrets: incremental $INCR bytes, full $FULL bytes"
[ "$((INCR * 100))" -lt "$((FULL * 6))" ] || fail "incremental $INCR bytes, full $FULL"

step "a damaged chunk of a base: the incremental's other secrets still restore (exit 3)"
mkdir rot
run 0 "$SMAR" create -q --chunk-size 65536 -o rot/d1.smar r1.json
run 0 "$SMAR" create -q --chunk-size 65536 --base rot/d1.smar -o rot/d2.smar r2.json
run 0 "$SMAR" inspect --json rot/d1.smar
HDR=$(sed -n 's/.*"header_size":[[:space:]]*\([0-9]*\).*/\1/p' out.txt | head -n 1)
PAY=$(sed -n '/"payload":/,/}/p' out.txt | sed -n 's/.*"bytes":[[:space:]]*\([0-9]*\).*/\1/p')
[ -n "$HDR" ] && [ -n "$PAY" ] || fail "cannot read header_size / payload bytes from inspect --json"
off=$((HDR + PAY / 2))
v=$(dd if=rot/d1.smar bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf %o $((v ^ 255)))" | dd of=rot/d1.smar bs=1 seek="$off" conv=notrunc 2>/dev/null
run 3 "$SMAR" verify --key root.key rot/d2.smar
assert_contains out.txt "payload lies in a damaged chunk of a base archive"
run 3 "$SMAR" extract -q --skip-damaged --format export -o rot.json rot/d2.smar
restored=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["secrets"]))' rot.json)
echo "restored $restored of 2000 secrets past one damaged base chunk"
[ "$restored" -gt 1500 ] && [ "$restored" -lt 2000 ] || fail "restored $restored secrets"

step "an export of another instance is refused against a base (exit 1), nothing written"
gen other.json --secrets 20 --instance-region eu-de
run 1 "$SMAR" create -q --base r1.smar -o other.smar other.json
assert_contains err.txt "the export is of instance crn:v1:bluemix:public:secrets-manager:eu-de:"
assert_contains err.txt "continues the chain of one instance"
[ ! -e other.smar ] || fail "a refused incremental left other.smar"

step "bases are opened when a read needs them: an intermediate base under a key not given"
# l2 is under other.key only: cat --id of a secret rotated at snapshot 3 (its record and
# payload in l3) never unlocks it, from the folder (series) or from l3 alone (siblings); it
# used to open and unlock every base first (exit 1). A secret last rotated at snapshot 2
# needs l2 and says so, naming it.
mkdir lazy
run 0 "$SMAR" create -q -k root.key -k other.key -o lazy/l1.smar e1.json
run 0 "$SMAR" create -q -k other.key --base lazy -o lazy/l2.smar e2.json
run 0 "$SMAR" create -q -k root.key -k other.key --base lazy -o lazy/l3.smar e3.json
NEW3=$(awk '$1 == "rotated" { print $3 }' m3.txt | while read -r id; do
    grep -q " $id " m2.txt && ! grep -q "^rotated [0-9]* $id " m2.txt && echo "$id" && break
done)
OLD2=$(awk '$1 == "rotated" { print $3 }' m2.txt | while read -r id; do
    grep -q "^rotated [0-9]* $id " m3.txt || { echo "$id"; break; }
done)
[ -n "$NEW3" ] && [ -n "$OLD2" ] || fail "manifest lookups"
run 0 "$SMAR" cat --id "$NEW3" full/f3.smar
mv out.txt new3_full.txt
for where in lazy lazy/l3.smar; do
    run 0 "$SMAR" cat --id "$NEW3" "$where"
    assert_same new3_full.txt out.txt
    run 1 "$SMAR" cat --id "$OLD2" "$where"
    assert_contains err.txt "lazy/l2.smar: none of the given keys opens a key slot"
    assert_contains err.txt "its base archive"
done
