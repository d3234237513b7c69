# audit, diff and prune over s3://BUCKET/PREFIX/ (s3rver behind the checking proxy, s3lib.sh):
# audit of a good prefix (0), with an altered object (3), with a gap (4), a listing that
# fails (503 storm, refused credentials: 1); diff of two objects and of two times of a prefix
# equals the local diff; prune --dry-run and --yes against a table of keeps and deletes, an
# object under Object Lock retention never deleted (the proxy's GetObjectRetention double),
# s3rver's 501 for GetObjectRetention kept as "retention unknown" (exit 1).
. "$E2E_DIR/lib.sh"
. "$E2E_DIR/s3lib.sh"

NODE_OPTIONS=--openssl-legacy-provider # s3rver's continuation tokens (see t_s3_series.sh)
export NODE_OPTIONS
s3_start
make_key
B=$S3_BUCKET
run 0 "$SMAR" keygen --sign -o a.key
gen ex.json --secrets 4 --payload-bytes 200

# key_of DATE-STAMP PREFIX: the object key whose name has the stamp (20261121T060000Z)
key_of() {
    s3_aws_direct s3 ls --recursive "s3://$B/$2/" | awk '{print $4}' | grep "/$1-" ||
        fail "no object of $1 under $2/"
}

step "audit: five signed archives 6h apart under a prefix, --every 6h: ok"
for t in 2026-11-21T00 2026-11-21T06 2026-11-21T12 2026-11-21T18 2026-11-22T00; do
    run 0 "$SMAR" create -q --sign a.key --snapshot-time "$t:00:00Z" -o "s3://$B/audit/" ex.json
done
echo notes >notes.txt # not an archive: left out, as in a folder
s3_aws_direct s3 cp notes.txt "s3://$B/audit/notes.txt" >/dev/null || fail "upload"
s3_admin reset-stats '{}'
run 0 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_eq "$(count_lines out.txt "s3://$B/audit/")" 5 "archive lines"
assert_contains out.txt "archives: 5 (5 good, 0 with problems)"
assert_contains out.txt "first snapshot: 2026-11-21T00:00:00Z"
assert_contains out.txt "worst gap (RPO achieved): 6h 00m 00s"
assert_contains out.txt "result: ok"
audit_bytes=$(s3_stat bytes_out)
total=$(s3_aws_direct s3 ls --recursive "s3://$B/audit/" | awk '/\.smar$/ {n += $3} END {print n}')
echo "audit: $audit_bytes bytes from S3 for $total bytes of objects"
# every object read once (s3rver serves a small object whole for the suffix read)
[ "$audit_bytes" -le $((total + 20000)) ] ||
    fail "audit fetched $audit_bytes bytes for $total bytes of objects"
run 0 "$SMAR" audit --json --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_contains out.txt "\"archive\":	\"s3://$B/audit/"

step "audit: an altered object is damaged, exit 3"
k12=$(key_of 20261121T120000Z audit)
s3_aws_direct s3 cp "s3://$B/$k12" held.smar >/dev/null || fail "download"
cp held.smar altered.smar
size=$(wc -c <altered.smar)
off=$((size / 2))
v=$(dd if=altered.smar bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf %o $((v ^ 255)))" | dd of=altered.smar bs=1 seek="$off" conv=notrunc 2>/dev/null
s3_aws_direct s3 cp altered.smar "s3://$B/$k12" >/dev/null || fail "upload"
run 3 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_contains out.txt "damaged"
assert_contains out.txt "result: damaged or not authentic"

step "audit: the middle object deleted, a 12h gap: exit 4"
s3_aws_direct s3 rm "s3://$B/$k12" >/dev/null || fail "rm"
run 4 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_contains out.txt "worst gap (RPO achieved): 12h 00m 00s, 2026-11-21T06:00:00Z to 2026-11-21T18:00:00Z"
assert_contains out.txt "result: gap"
s3_aws_direct s3 cp held.smar "s3://$B/$k12" >/dev/null || fail "upload"
run 0 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"

step "audit: a listing that fails is exit 1 (never 3), with a clear message"
s3_admin faults '[{"on": "GET", "query": "list-type", "status": 503, "count": 1000}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_contains err.txt "s3://$B/audit/"
assert_contains err.txt "unavailable"
s3_admin clear-faults '{}'
AWS_SECRET_ACCESS_KEY=wrong-secret run 1 "$SMAR" audit --pubkey a.key.pub "s3://$B/audit/"
assert_contains err.txt "access denied"
: >s3proxy.err # the proxy rightly rejected those: the last step checks for others
run 1 "$SMAR" audit --pubkey a.key.pub "s3://$B/no-such-prefix/"
assert_contains err.txt "no archive"
# an object that cannot be read (both attempts AWS_MAX_ATTEMPTS allows of its first read
# answered 503, after the listing) is unreadable: exit 1, not 3; the others are audited
s3_admin faults '[{"on": "GET", "status": 503, "skip": 1, "count": 2}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" audit --pubkey a.key.pub "s3://$B/audit/"
assert_contains out.txt "unreadable"
assert_contains out.txt "result: failed"
s3_admin clear-faults '{}'

step "AWS_MAX_ATTEMPTS: three attempts outlast two 503s; a bad value is a usage error (exit 2)"
s3_admin faults '[{"on": "GET", "query": "list-type", "status": 503, "count": 2}]'
AWS_MAX_ATTEMPTS=3 run 0 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
s3_admin faults '[{"on": "GET", "query": "list-type", "status": 503, "count": 2}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" audit --pubkey a.key.pub --every 6h "s3://$B/audit/"
assert_contains err.txt "unavailable"
s3_admin clear-faults '{}'
AWS_MAX_ATTEMPTS=0 run 2 "$SMAR" audit --pubkey a.key.pub "s3://$B/audit/"
assert_contains err.txt "AWS_MAX_ATTEMPTS must be a number from 1 to 20"

step "diff: two objects and two times of a prefix, the same as the local diff"
gen old.json --seed 5 --secrets 12
python3 "$E2E_DIR/diff_edit.py" old.json new.json values.txt || fail "diff_edit.py"
T1=2026-11-20T02:00:00Z
T2=2026-11-21T02:00:00Z
run 0 "$SMAR" create -q --snapshot-time "$T1" -o old.smar old.json
run 0 "$SMAR" create -q --snapshot-time "$T2" -o new.smar new.json
run 0 "$SMAR" create -q --snapshot-time "$T1" -o "s3://$B/diff/" old.json
run 0 "$SMAR" create -q --snapshot-time "$T2" -o "s3://$B/diff/" new.json
run 0 "$SMAR" diff old.smar new.smar
cp out.txt diff-local.txt
assert_contains diff-local.txt "summary: 1 created, 1 deleted, 1 rotated, 2 metadata, 1 moved"
run 0 "$SMAR" diff "s3://$B/$(key_of 20261120T020000Z diff)" "s3://$B/$(key_of 20261121T020000Z diff)"
assert_same diff-local.txt out.txt
run 0 "$SMAR" diff --at "$T1" --at "$T2" "s3://$B/diff/"
assert_same diff-local.txt out.txt
run 2 "$SMAR" diff "s3://$B/diff/" "s3://$B/diff/"
assert_contains err.txt "--at T1 --at T2"
run 0 "$SMAR" diff --json --at "$T1" --at "$T2" "s3://$B/diff/"
assert_contains out.txt '"rotated":	1'
s3_admin faults '[{"on": "GET", "query": "list-type", "status": 503, "count": 1000}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" diff --at "$T1" --at "$T2" "s3://$B/diff/"
assert_contains err.txt "unavailable"
s3_admin clear-faults '{}'

step "prune: eight daily archives under a prefix"
for d in 01 02 03 04 05 06 07 08; do
    run 0 "$SMAR" create -q --snapshot-time "2026-12-${d}T03:00:00Z" -o "s3://$B/prune/" ex.json
done
for d in 01 02 03 04 05 06 07 08; do
    eval "k$d=\$(key_of 202612${d}T030000Z prune)"
done
s3_aws_direct s3 cp notes.txt "s3://$B/prune/notes.txt" >/dev/null || fail "upload"
# Policy --keep-last 3: days 06 07 08 kept (last). Day 02 retained until 2099 (kept,
# "retained until"), day 03 retained until 2020 (past: deleted), the others have none.
POLICY="--keep-last 3"

step "prune on s3rver (GetObjectRetention: 501): every candidate kept, retention unknown, exit 1"
: >s3requests.log
run 1 "$SMAR" prune $POLICY --dry-run "s3://$B/prune/"
assert_eq "$(count_lines out.txt 'retention unknown')" 5 "kept as unknown"
assert_eq "$(count_lines out.txt 'would-delete ')" 0 "would delete"
assert_contains out.txt "8 kept, 0 would be deleted; 5 kept as their retention is unknown"
assert_contains err.txt "5 object(s) kept because their Object Lock retention could not be read"
grep -q '"query": "retention=", .*"status": 501' s3requests.log || fail "no GetObjectRetention sent"
run 1 "$SMAR" prune $POLICY --yes "s3://$B/prune/"
if grep -q '"method": "DELETE"' s3requests.log; then fail "a DELETE was sent"; fi
run 0 "$SMAR" prune $POLICY --ignore-retention-unknown --dry-run "s3://$B/prune/"
assert_contains out.txt "3 kept, 5 would be deleted"

step "prune --dry-run with retention: the table"
s3_admin retention "{\"default\": \"none\", \"keys\": {\"/$B/$k02\": \"2099-01-01T00:00:00Z\", \"/$B/$k03\": \"2020-01-01T00:00:00Z\"}}"
: >s3requests.log
run 0 "$SMAR" prune $POLICY --dry-run "s3://$B/prune/"
cat >expected.txt <<TXT
keep         2026-12-08T03:00:00Z     s3://$B/$k08  (last)
keep         2026-12-07T03:00:00Z     s3://$B/$k07  (last)
keep         2026-12-06T03:00:00Z     s3://$B/$k06  (last)
would-delete 2026-12-05T03:00:00Z     s3://$B/$k05
would-delete 2026-12-04T03:00:00Z     s3://$B/$k04
would-delete 2026-12-03T03:00:00Z     s3://$B/$k03
keep         2026-12-02T03:00:00Z     s3://$B/$k02  (retained until 2099-01-01T00:00:00Z)
would-delete 2026-12-01T03:00:00Z     s3://$B/$k01
4 kept, 4 would be deleted; 1 kept for their Object Lock retention
TXT
assert_same expected.txt out.txt
if grep -q '"method": "DELETE"' s3requests.log; then fail "--dry-run sent a DELETE"; fi
# only the candidates are asked for their retention, each once
assert_eq "$(grep -c '"query": "retention=' s3requests.log)" 5 "GetObjectRetention requests"

step "prune: a retention that cannot be read (503) keeps the object, even with --ignore-retention-unknown"
# every attempt of the first candidate's (day 01, in listing order) GetObjectRetention answered 503
s3_admin faults '[{"on": "GET", "query": "retention", "status": 503, "count": 2}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" prune $POLICY --ignore-retention-unknown --dry-run "s3://$B/prune/"
grep -q "^keep .*$k01  (retention unknown: .*unavailable" out.txt || fail "day 01 not kept as unknown"
assert_contains out.txt "5 kept, 3 would be deleted; 1 kept for their Object Lock retention; 1 kept as their retention is unknown"
s3_admin clear-faults '{}'

step "prune: a listing that fails deletes nothing, exit 1"
s3_admin faults '[{"on": "GET", "query": "list-type", "status": 503, "count": 1000}]'
AWS_MAX_ATTEMPTS=2 run 1 "$SMAR" prune $POLICY --yes "s3://$B/prune/"
assert_contains err.txt "unavailable"
s3_admin clear-faults '{}'

step "prune --yes: deletes exactly the table's deletes; the retained object stays"
: >s3requests.log
run 0 "$SMAR" prune $POLICY --yes "s3://$B/prune/"
assert_eq "$(count_lines out.txt 'deleted ')" 4 "deleted lines"
assert_contains out.txt "4 kept, 4 deleted; 1 kept for their Object Lock retention"
for d in 02 06 07 08; do
    eval "s3_object_exists \"\$k$d\"" || fail "day $d was deleted"
done
for d in 01 03 04 05; do
    if eval "s3_object_exists \"\$k$d\""; then fail "day $d was not deleted"; fi
done
if grep '"method": "DELETE"' s3requests.log | grep -q "$k02"; then
    fail "a DELETE was sent for the retained object"
fi
assert_eq "$(grep -c '"method": "DELETE"' s3requests.log)" 4 "DELETE requests"

step "prune: a retention set after the check (the server refuses the DELETE): exit 1"
run 0 "$SMAR" create -q --snapshot-time 2026-12-09T03:00:00Z -o "s3://$B/prune/" ex.json
# keep-last 3 now lets day 06 go; the double says "none" to GetObjectRetention but refuses
# the DELETE, as S3 does for an object locked in between
s3_admin faults "[{\"on\": \"DELETE\", \"status\": 403, \"count\": 1}]"
run 1 "$SMAR" prune $POLICY --yes "s3://$B/prune/"
assert_contains err.txt "deletion refused"
s3_object_exists "$k06" || fail "day 06 deleted"
s3_object_exists "$k02" || fail "the retained day 02 deleted"
s3_object_exists prune/notes.txt || fail "prune deleted an object that is not an archive"

step "the proxy rejected no request smar signed"
if grep -q "rejected" s3proxy.err; then fail "the proxy rejected requests: $(head -5 s3proxy.err)"; fi
s3_stop
