# create: options, atomic output, streaming to stdout, several key slots, signing,
# no overwrite, and no temporary file left after a failure or a signal.
. "$E2E_DIR/lib.sh"
make_key
gen ex.json --secrets 30 --payload-bytes 3000

step "a plain create: 0600 archive, summary on stderr, nothing on stdout"
run 0 "$SMAR" create -o a.smar ex.json
assert_empty out.txt
assert_contains err.txt "created a.smar: 30 secrets"
assert_mode a.smar 600
run 0 "$SMAR" create -q -o q.smar ex.json
assert_empty err.txt

step "never overwrite without --force; --force replaces"
cp a.smar a.copy
run 1 "$SMAR" create -o a.smar ex.json
assert_contains err.txt "'a.smar' exists (use --force to replace it)"
assert_same a.smar a.copy
run 0 "$SMAR" create -q --force -o a.smar ex.json
cmp -s a.smar a.copy && fail "--force did not write a new archive"
assert_no_temp .

step "--snapshot-time overrides exported_at; dates allowed"
run 0 "$SMAR" create -q --snapshot-time 2026-11-19T23:59:59.5Z -o snap.smar ex.json
run 0 "$SMAR" inspect snap.smar
assert_contains out.txt "snapshot:     2026-11-19T23:59:59.500Z"
run 0 "$SMAR" create -q --snapshot-time 2026-11-21 -o snap2.smar ex.json
run 0 "$SMAR" inspect --json snap2.smar
assert_contains out.txt '"snapshot":	"2026-11-21T00:00:00Z"'

step "times a user types: a space for the T, and now (--snapshot-time, --at)"
run 0 "$SMAR" create -q --snapshot-time "2026-11-19 23:59:59.5Z" -o space.smar ex.json
run 0 "$SMAR" inspect space.smar
assert_contains out.txt "snapshot:     2026-11-19T23:59:59.500Z"
before=$(date -u +%Y-%m-%dT%H:%M:%S)
run 0 "$SMAR" create -q --snapshot-time now -o now.smar ex.json
run 0 "$SMAR" inspect --json now.smar
snap=$(sed -n 's/.*"snapshot":[[:space:]]*"\([^".]*\).*/\1/p' out.txt)
after=$(date -u +%Y-%m-%dT%H:%M:%S)
[ "$snap" \> "$before" ] || [ "$snap" = "$before" ] || fail "now: snapshot $snap before $before"
[ "$snap" \< "$after" ] || [ "$snap" = "$after" ] || fail "now: snapshot $snap after $after"
run 0 "$SMAR" extract -q --all-versions -o at-T.out --at 2026-11-20T01:00:00Z a.smar
run 0 "$SMAR" extract -q --all-versions -o at-space.out --at "2026-11-20 01:00:00Z" a.smar
assert_same at-T.out at-space.out
run 0 "$SMAR" extract -q --all-versions -o at-now.out --at now a.smar
run 0 "$SMAR" extract -q --all-versions -o at-none.out a.smar
assert_same at-now.out at-none.out
id=$(grep -o '"secret_id":"[^"]*"' ex.json | sed -n '1s/.*:"\(.*\)"/\1/p')
run 0 "$SMAR" cat --at now --id "$id" a.smar
cp out.txt cat-now.txt
run 0 "$SMAR" cat --at "2026-11-20 02:00:00Z" --id "$id" a.smar
assert_same out.txt cat-now.txt
run 2 "$SMAR" create -q --snapshot-time "2026-11-20  02:00:00Z" -o bad.smar ex.json
assert_contains err.txt "is not an RFC 3339 time or a date"
run 2 "$SMAR" extract -q --at NOW -o x.out a.smar

step "--snapshot-time before the export's newest version is refused, naming it"
newest=$(grep -o '"created_at":"[^"]*"' ex.json | sed 's/.*:"\(.*\)"/\1/' | sort | tail -n 1)
run 1 "$SMAR" create -q --snapshot-time 2026-10-01 -o early.smar ex.json
assert_contains err.txt "after the snapshot time 2026-10-01T00:00:00Z"
assert_contains err.txt "smar: create: ex.json: secret #"
assert_missing early.smar
# one second before the newest version: that version is the one named
early=$(date -u -d "$newest 1 second ago" +%Y-%m-%dT%H:%M:%SZ)
for t in 1 4; do
    run 1 "$SMAR" create -q --threads $t --snapshot-time "$early" -o early.smar ex.json
    assert_contains err.txt "was created at $newest, after the snapshot time $early"
    assert_contains err.txt ": version "
    assert_missing early.smar
done
run 0 "$SMAR" create -q --snapshot-time "$newest" -o exact.smar ex.json
assert_no_temp .

step "--chunk-size and --threads"
run 0 "$SMAR" create -q --chunk-size 64k --threads 4 -o small.smar ex.json
run 0 "$SMAR" inspect --json small.smar
assert_contains out.txt '"chunk_size":	65536'
chunks=$(sed -n 's/.*"chunk_count":[[:space:]]*\([0-9]*\).*/\1/p' out.txt)
[ "$chunks" -gt 3 ] || fail "64k chunks: only $chunks chunks"
run 0 "$SMAR" verify --key root.key small.smar
run 0 "$SMAR" create -q --chunk-size 131072 -o c64.smar ex.json
run 0 "$SMAR" inspect c64.smar
assert_contains out.txt "chunk size:   131072"
run 0 "$SMAR" create -q --chunk-size 16m -o c16.smar ex.json
# the same secrets whatever the chunking and threading
run 0 "$SMAR" extract -q --all-versions -o a.out a.smar
run 0 "$SMAR" extract -q --all-versions -o small.out small.smar
assert_same a.out small.out

step "-o - streams the archive to standard output"
run 0 "$SMAR" create -q -o - ex.json
mv out.txt streamed.smar
run 0 "$SMAR" verify --key root.key streamed.smar
run 0 "$SMAR" extract -q --all-versions -o streamed.out streamed.smar
assert_same a.out streamed.out
run 0 sh -c '"$SMAR" create -q -o - - < ex.json | cat > piped.smar'
run 0 "$SMAR" verify piped.smar

step "a compressed JSON or JSONL export, told by content, from a file or from -"
gen ex.jsonl --secrets 30 --payload-bytes 3000 --layout jsonl
for z in gzip zstd xz bzip2; do
    have $z || continue
    $z -c ex.json >ex.json.packed
    run 0 "$SMAR" create -q --force -o z.smar ex.json.packed
    run 0 "$SMAR" extract -q --all-versions --force -o z.out z.smar
    assert_same z.out a.out
    run 0 sh -c '"$SMAR" create -q --force -o z.smar - <ex.json.packed'
    run 0 "$SMAR" extract -q --all-versions --force -o z.out z.smar
    assert_same z.out a.out
    $z -c ex.jsonl >ex.jsonl.packed
    run 0 sh -c 'cat ex.jsonl.packed | "$SMAR" create -q --force -o zl.smar -'
    run 0 "$SMAR" ls zl.smar
    [ "$(wc -l <out.txt)" -ge 30 ] || fail "$z jsonl: fewer than 30 secrets listed"
done

step "several --key: one slot each, any of them opens the archive"
run 0 "$SMAR" keygen --id dr-region -o dr.key
run 0 "$SMAR" create -q --key root.key --key dr.key -o two.smar ex.json
run 0 "$SMAR" inspect two.smar
assert_contains out.txt "key slots:    2"
assert_contains out.txt "dr-region version 1 (local)"
run 0 "$SMAR" ls --key dr.key two.smar
run 0 "$SMAR" ls --key root.key two.smar
SMAR_KEY_FILE= run 0 "$SMAR" ls --key dr.key two.smar
run 1 "$SMAR" ls --key dr.key a.smar

step "SMAR_KEY_FILE is the default key; --key wins over it"
SMAR_KEY_FILE=$PWD/dr.key run 0 "$SMAR" create -q -o env.smar ex.json
run 0 "$SMAR" inspect env.smar
assert_contains out.txt "dr-region"
SMAR_KEY_FILE=$PWD/dr.key run 0 "$SMAR" create -q --key root.key -o env2.smar ex.json
run 0 "$SMAR" inspect env2.smar
assert_not_contains out.txt "dr-region"
SMAR_KEY_FILE=$PWD/nothing.key run 1 "$SMAR" create -q -o env3.smar ex.json
assert_contains err.txt "nothing.key"
assert_missing env3.smar

step "--sign: signed archives carry the signer's fingerprint"
run 0 "$SMAR" keygen --sign -o sign.key
fp=$(sed -n 's/^fingerprint //p' out.txt)
run 0 "$SMAR" create -q --sign sign.key -o signed.smar ex.json
run 0 "$SMAR" inspect signed.smar
assert_contains out.txt "signed:       yes, signer $fp"
run 0 "$SMAR" inspect --json signed.smar
assert_contains out.txt "\"signer_fingerprint\":	\"$fp\""
run 1 "$SMAR" create -q --sign missing.key -o s2.smar ex.json
assert_missing s2.smar

step "refusals: a folder as output, a missing folder, output on a terminal"
mkdir dirout
run 1 "$SMAR" create -q --force -o dirout ex.json
run 1 "$SMAR" create -q -o no/such/dir/x.smar ex.json
assert_missing no
assert_no_temp .

step "a signal while writing removes the temporary file"
mkfifo feed
"$SMAR" create -q -o sig.smar - <feed 2>sig.err &
pid=$!
# hold the fifo open and send the first half of a jsonl export; create then waits
# for more input with its temporary file open
gen ex.jsonl --secrets 30 --layout jsonl
exec 3>feed
head -n 10 ex.jsonl >&3
i=0
while [ -z "$(find . -maxdepth 1 -name '.sig.smar.tmp-*')" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -n "$(find . -maxdepth 1 -name '.sig.smar.tmp-*')" ] || fail "no temporary file while writing"
kill -TERM "$pid"
if wait "$pid"; then st=0; else st=$?; fi
# it removes its temporary file, then dies of the signal itself: 128 + 15, not an error exit
assert_eq "$st" 143 "create's status after SIGTERM"
exec 3>&-
assert_missing sig.smar
assert_no_temp .
