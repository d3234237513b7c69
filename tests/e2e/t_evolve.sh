# A generated instance evolving through 30 daily snapshots (rotations, creations, deletions,
# group moves; smar-gen-export --rotate-permille/--churn/--move-permille), one signed archive
# per snapshot in series/, the root key rotated midway. Every --at answer (cat, extract) equals
# the deciding snapshot's export; diff equals the generator's change log; audit catches a gap,
# a re-signed and a damaged archive; prune keeps exactly what a hand-written table says.
# Every archive whose k % 6 != 1 is an incremental on the folder (create --base); INCR=0
# makes them all full.
. "$E2E_DIR/lib.sh"
INCR=${INCR:-1}
M=30
N=300
CHURN="--secrets $N --rotate-permille 50 --churn 3 --move-permille 10"
EC="$E2E_DIR/evolve_check.py"

step "smar-gen-export without the churn options: output unchanged (stored checksums)"
# sha256 of the output of the generator before --rotate-permille/--churn/--move-permille.
gen_sum() { # EXPECTED_EXPORT EXPECTED_MANIFEST ARGS...
    want_e=$1
    want_m=$2
    shift 2
    "$SMAR_GEN" "$@" -o - --manifest-out sum.man >sum.json || fail "smar-gen-export $*"
    assert_eq "$(sha256sum <sum.json | cut -c1-64)" "$want_e" "export of '$*'"
    assert_eq "$(sha256sum <sum.man | cut -c1-64)" "$want_m" "manifest of '$*'"
}
gen_sum 44b5eaa36c35e676b35b13c69314ba3a5c86d65357e33736fc003b514bb97018 \
    724f86058b9c2b9c814926b2bcb2ba7a3c8cc16473e4fd6098552249c6f0cde5 \
    --secrets 300 --snapshot 7 --of 30
gen_sum 8aaafa849c6f0a79c35ff0feb57437b6fb724a75c16a9c346044fced0cba8050 \
    18ce245e03011164bcd7db3dfceade62333f2638338fdbba38c0669c0b0598c8 \
    --secrets 5 --snapshot 9 --of 12 --all-states
gen_sum 74a5fedba3ced9fdd8352f7468e65b4b8ff7a12881d977a3005d16ac104381e7 \
    e148ec0df0e72399dfbe33161774e4cedeac10780bdd3711d9e520bf1c03d36e \
    --secrets 12 --snapshot 13 --of 20 --layout jsonl --seed 9
# the defaults spelled out give the same bytes
"$SMAR_GEN" --secrets 300 --snapshot 7 --of 30 --churn 1 --move-permille 0 -o - >spelled.json
"$SMAR_GEN" --secrets 300 --snapshot 7 --of 30 -o - >default.json
assert_same spelled.json default.json
run 2 "$SMAR_GEN" --rotate-permille 1001
run 2 "$SMAR_GEN" --churn 10001
run 2 "$SMAR_GEN" --move-permille x
rm -f sum.json sum.man spelled.json default.json

step "smar-gen-export churn options: the figures and the change log"
# 1000 secrets, snapshot 3: base slots 900..949 deleted, slots 1050..1099 created (50 each),
# about 1% rotated and 2% moved (exact counts: the rules are hashes of the seed).
gen churn.json --secrets 1000 --churn 50 --rotate-permille 10 --move-permille 20 \
    --snapshot 3 --of 3 --manifest-out churn.man
assert_eq "$(count_lines churn.man 'deleted ')" 50 "deleted"
assert_eq "$(count_lines churn.man 'created ')" 50 "created"
assert_eq "$(count_lines churn.man 'rotated ')" 12 "rotated"
assert_eq "$(count_lines churn.man 'moved ')" 21 "moved"
assert_eq "$(awk '$1 == "deleted" { print $2 }' churn.man | sed -n '1p;$p' | tr '\n' ' ')" "900 949 " "deleted slots"
assert_eq "$(awk '$1 == "created" { print $2 }' churn.man | sed -n '1p;$p' | tr '\n' ' ')" "1050 1099 " "created slots"
assert_eq "$(manifest_field churn.man snapshot 6)" 1000 "secrets in snapshot 3"
python3 - churn.json churn.man <<'PY' || fail "moved lines do not match the export"
import json, sys
secrets = {s["id"]: s for s in json.load(open(sys.argv[1]))["secrets"]}
for line in open(sys.argv[2]):
    w = line.split()
    if w[0] == "moved":
        s = secrets[w[2]]
        assert w[3] != w[4] and s["secret_group_id"] == w[4], line
        assert all(v["secret_group_id"] == w[4] for v in s["versions"]), line
PY
rm -f churn.json churn.man

step "$M snapshots ($CHURN), one signed archive each, key rotated at 16"
run 0 "$SMAR" keygen -o old.key
run 0 "$SMAR" keygen -o new.key
run 0 "$SMAR" keygen --sign -o sign.key
run 0 "$SMAR" keygen --sign -o other.key
# the root key of archive K: old.key before 16, new.key from 16 on
key_of() { if [ "$1" -lt 16 ]; then echo old.key; else echo new.key; fi; }
# is archive K an incremental? (INCR=1: every one whose K % 6 != 1, but 16: after the key
# rotation a new chain starts, as an incremental needs the keys of all its bases)
is_incr() { [ "$INCR" = 1 ] && [ $(($1 % 6)) != 1 ] && [ "$1" != 16 ]; }
# the archives of K's chain before K: --base names them (create --base on the whole folder
# would unlock every archive of it, those of the old key too)
chain_of() {
    j=$1
    while is_incr $j; do j=$((j - 1)); done
    while [ $j -lt "$1" ]; do
        printf -- '--base series/e%02d.smar ' $j
        j=$((j + 1))
    done
}
mkdir series
k=1
while [ $k -le $M ]; do
    n=$(printf %02d $k)
    gen "s$n.json" $CHURN --snapshot $k --of $M --manifest-out "m$n.txt"
    base=
    if is_incr $k; then base=$(chain_of $k); fi
    run 0 "$SMAR" create -q --key $(key_of $k) --sign sign.key $base -o "series/e$n.smar" "s$n.json"
    k=$((k + 1))
done
KEYS="--key old.key --key new.key"
PIN="--pubkey sign.key.pub"
# T_k: the snapshot time of archive k (the export's exported_at)
tk() { manifest_field "m$(printf %02d "$1").txt" snapshot 4; }
plus() { # TIME SECONDS
    date -u -d "@$(($(date -u -d "$1" +%s) + $2))" +%Y-%m-%dT%H:%M:%SZ
}
assert_eq "$(tk $M)" 2026-11-20T02:00:00Z "T_$M"
assert_eq "$(tk 1)" 2026-10-22T02:00:00Z "T_1"
# the change log has every kind of change
for kind in created deleted rotated moved; do
    [ "$(cat m*.txt | count_lines /dev/stdin "$kind ")" -gt 0 ] || fail "no '$kind' in the manifests"
done
ALL=$(ls series/*.smar)

step "cat --at T: the deciding snapshot's answer, for created, deleted, rotated, moved, untouched"
# the snapshot whose change log first has a KIND line for ID
change_k() { # KIND ID
    grep -l -E "^$1 [0-9]+ $2( |\$)" m*.txt | head -n 1 | tr -dc 0-9 | sed 's/^0//'
}
CREATED=$(python3 "$EC" pick created m05.txt m06.txt m07.txt) || fail "no created sample"
DELETED=$(python3 "$EC" pick deleted m1*.txt m2*.txt) || fail "no deleted sample"
ROTATED=$(python3 "$EC" pick rotated m16.txt m17.txt m2*.txt) || fail "no rotated sample"
MOVED=$(python3 "$EC" pick moved m1*.txt m2*.txt) || fail "no moved sample"
UNTOUCHED=$(python3 "$EC" pick untouched m*.txt) || fail "no untouched sample"
SAMPLES="$CREATED $DELETED $ROTATED $MOVED $UNTOUCHED"
# each snapshot at which a sample changes, the one before, the key rotation, first and last
KS="1 15 16 $M"
for sample in created:$CREATED deleted:$DELETED rotated:$ROTATED moved:$MOVED; do
    k=$(change_k "${sample%%:*}" "${sample#*:}")
    KS="$KS $((k - 1)) $k"
done
KS=$(echo $KS | tr ' ' '\n' | sort -n -u | tr '\n' ' ')
echo "samples: $SAMPLES; snapshots: $KS"
mkdir want
python3 "$EC" payloads want $SAMPLES -- s*.json || fail "expected payloads"

# check_cat ID T K: smar cat --id ID --at T over the series answers as snapshot K's export
# (K = 0: T is before the first snapshot)
check_cat() {
    id=$1
    t=$2
    kk=$(printf %02d "$3")
    if [ "$3" -gt 0 ] && [ -e "want/$kk-$id" ]; then
        run 0 "$SMAR" cat $KEYS $PIN --id "$id" --at "$t" $ALL
        # the same bytes, or for an object the same JSON value (numbers as written)
        cmp -s "want/$kk-$id" out.txt || python3 "$EC" same-payload "want/$kk-$id" out.txt ||
            fail "cat --id $id --at $t: not snapshot $kk's payload"
        return
    fi
    run 1 "$SMAR" cat $KEYS $PIN --id "$id" --at "$t" $ALL
    assert_empty out.txt
    assert_contains err.txt "secret $id ("
    assert_contains err.txt "did not exist at $t"
    # deleted: an earlier snapshot held it, the one after the last of those did not (the
    # message names that one); else it was created later
    gone=0
    j=1
    while [ $j -lt "$3" ]; do
        if grep -q "^secret [0-9]* $id " "m$(printf %02d $j).txt"; then gone=$((j + 1)); fi
        j=$((j + 1))
    done
    if [ $gone -gt 0 ]; then
        assert_contains err.txt "it was deleted (the snapshot of $(tk $gone) no longer has it)"
    else
        assert_contains err.txt "it was created at"
    fi
}
for k in $KS; do
    [ "$k" -ge 1 ] || continue
    for id in $SAMPLES; do
        check_cat "$id" "$(tk "$k")" "$k"
    done
done
# between two snapshots (nothing changes in the first hour after one), after the last
for k in 1 15; do
    for id in $SAMPLES; do check_cat "$id" "$(plus "$(tk $k)" 3600)" "$k"; done
done
for id in $SAMPLES; do check_cat "$id" "$(plus "$(tk $M)" 259200)" "$M"; done
# before the first: a secret created in the series did not exist yet
check_cat "$CREATED" "$(plus "$(tk 1)" -86400)" 0

step "extract --at T over the series = extracting the deciding archive alone"
# An incremental cannot be extracted alone: then a full archive of the same export is.
check_extract() { # T K
    n=$(printf %02d "$2")
    alone=series/e$n.smar
    if is_incr "$2"; then
        mkdir -p full
        alone=full/e$n.smar
        run 0 "$SMAR" create -q --key $(key_of "$2") --sign sign.key -o $alone "s$n.json"
    fi
    run 0 "$SMAR" extract $KEYS $PIN --at "$1" --format export -o at.json $ALL
    run 0 "$SMAR" extract $KEYS $PIN --format export -o alone.json $alone
    assert_same at.json alone.json
    rm -f at.json alone.json
}
check_extract "$(tk 1)" 1
check_extract "$(plus "$(tk 15)" 3600)" 15
check_extract "$(tk 16)" 16
check_extract "$(plus "$(tk $M)" 259200)" $M

step "diff --at T_{k-1} --at T_k = the generator's change log of snapshot k"
k=2
pairs=
while [ $k -le $M ]; do
    n=$(printf %02d $k)
    run 0 "$SMAR" diff --json $KEYS $PIN --at "$(tk $((k - 1)))" --at "$(tk $k)" series
    mv out.txt "d$n.json"
    pairs="$pairs m$n.txt d$n.json"
    k=$((k + 1))
done
python3 "$EC" diff $pairs >diffcheck.txt || fail "diff against the change log: $(cat diffcheck.txt)"

step "audit --every 25h: the series is whole and signed"
run 0 "$SMAR" audit --pubkey sign.key.pub --every 25h series
assert_contains out.txt "archives: $M ($M good, 0 with problems)"
assert_contains out.txt "first snapshot: $(tk 1)"
assert_contains out.txt "last snapshot:  $(tk $M)"
assert_contains out.txt "worst gap (RPO achieved): 1d 00h 00m"

step "audit: a deleted middle archive (gap, exit 4)"
cp -r series gap
rm gap/e15.smar
run 4 "$SMAR" audit --pubkey sign.key.pub --every 25h gap
assert_contains out.txt "worst gap (RPO achieved): 2d 00h 00m, $(tk 14) to $(tk 16)"
assert_contains out.txt "result: gap"
rm -r gap

step "audit: an archive re-signed by another key (exit 3)"
cp -r series resigned
run 0 "$SMAR" create -q --key new.key --sign other.key -o resigned/e20.smar --force s20.json
run 3 "$SMAR" audit --pubkey sign.key.pub --every 25h resigned
assert_contains out.txt "other-signer"
[ "$INCR" = 1 ] || assert_contains out.txt "1 with problems"
rm -r resigned

step "audit: damaged bytes (exit 3)"
cp -r series damaged
size=$(stat -c %s damaged/e10.smar)
printf 'XXXXXXXX' | dd of=damaged/e10.smar bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
run 3 "$SMAR" audit --pubkey sign.key.pub --every 25h damaged
# (with incrementals, those based on e10 may be reported too)
[ "$INCR" = 1 ] || assert_contains out.txt "1 with problems"
rm -r damaged

if [ "$INCR" = 1 ]; then
    step "audit: a missing base (the full archive e25 that e26..e30 build on): exit 4"
    cp -r series nobase
    rm nobase/e25.smar
    # --every 3d: the two-day hole alone is no problem; the missing base is
    run 4 "$SMAR" audit --pubkey sign.key.pub --every 3d nobase
    assert_contains out.txt "missing-base"
    assert_contains out.txt "missing base archives: 1"
    assert_contains out.txt "result: missing base"
    rm -r nobase
fi

step "prune: a table of policies against hand-computed kept sets"
# Archive k is e<k>.smar, taken 2026-10-21 + k days at 02:00Z: e01 Thu Oct 22 .. e10 Sat Oct 31,
# e11 Sun Nov 1 .. e25 Sun Nov 15, e26 Mon Nov 16 .. e30 Fri Nov 20. ISO week 47 is
# Nov 16-22, week 46 Nov 9-15. Kept sets, worked out by hand (name:reasons, '+' for ", "):
#   last 3: the three newest;  daily 7: the seven newest days;
#   weekly 2: newest of week 47 (e30) and of week 46 (e25); monthly 1: November's newest (e30);
#   within 5d: strictly newer than Nov 15 02:00 (e25 is exactly 5 days older than e30: out).
# With incrementals (INCR=1) prune also keeps the bases a kept incremental needs: then the
# table's set must be kept (a subset of what is kept) and what is left must still verify.
prune_incr() { # POLICY KEPT
    run 0 "$SMAR" prune $PIN $1 --dry-run p
    for e in $2; do
        grep -q "^keep .*p/${e%%:*}\.smar  (" out.txt || fail "'$1': ${e%%:*} not kept"
    done
    run 0 "$SMAR" prune $PIN $1 --yes p
    for e in $2; do assert_exists "p/${e%%:*}.smar"; done
    run 0 "$SMAR" verify $KEYS $PIN p/*.smar
}
while IFS='|' read -r policy kept; do
    [ -n "$policy" ] || continue
    rm -rf p
    cp -r series p
    if [ "$INCR" = 1 ]; then
        prune_incr "$policy" "$kept"
        continue
    fi
    nkept=$(echo $kept | wc -w)
    run 0 "$SMAR" prune $PIN $policy --dry-run p
    assert_eq "$(grep '^keep ' out.txt | grep -o 'e[0-9][0-9]\.smar' | sort | tr '\n' ' ')" \
        "$(for e in $kept; do printf '%s.smar ' "${e%%:*}"; done)" "kept by '$policy'"
    for e in $kept; do
        why=$(echo "${e#*:}" | sed 's/+/, /g')
        grep -q "^keep .*p/${e%%:*}\.smar  ($why)\$" out.txt || fail "'$policy': ${e%%:*} not kept for ($why)"
    done
    assert_eq "$(count_lines out.txt 'would-delete ')" $((M - nkept)) "would-delete lines of '$policy'"
    assert_contains out.txt "$nkept kept, $((M - nkept)) would be deleted"
    assert_eq "$(ls p | wc -l)" $M "files after --dry-run '$policy'"
    run 0 "$SMAR" prune $PIN $policy --yes p
    assert_eq "$(count_lines out.txt 'deleted ')" $((M - nkept)) "deleted lines of '$policy'"
    assert_eq "$(ls p | tr '\n' ' ')" "$(for e in $kept; do printf '%s.smar ' "${e%%:*}"; done)" \
        "left by '$policy'"
done <<'TABLE'
--keep-last 3|e28:last e29:last e30:last
--keep-daily 7|e24:daily e25:daily e26:daily e27:daily e28:daily e29:daily e30:daily
--keep-weekly 2 --keep-monthly 1|e25:weekly e30:weekly+monthly
--keep-within 5d|e26:within e27:within e28:within e29:within e30:within
TABLE
rm -rf p
