# Crash safety: `smar create` and `smar extract --format dir` killed with SIGKILL at many
# different moments leave either nothing or a complete, valid result under the final name,
# never a partial one, and a later run is not confused by what the killed run left.
. "$E2E_DIR/lib.sh"

trials=${SMAR_CRASH_TRIALS:-60}

step "an export big enough that create takes a while"
"$SMAR_GEN" --secrets 3000 --payload-bytes 2000 --seed 7 -o export.json
run 0 "$SMAR" keygen -o root.key
export SMAR_KEY_FILE=root.key
run 0 "$SMAR" create -q --threads 1 -o reference.smar export.json
run 0 "$SMAR" extract -q --format export -o reference.json reference.smar

# Sleep a pseudo-random number of milliseconds in [0, $1): spreads the kills over the run.
rand_ms() {
    awk -v seed="$2" -v max="$1" 'BEGIN { srand(seed); printf "%.3f", int(rand() * max) / 1000 }'
}

complete=0
absent=0
i=0
step "$trials x SIGKILL during create"
while [ "$i" -lt "$trials" ]; do
    rm -f out.smar
    "$SMAR" create -q --threads 1 -o out.smar export.json &
    pid=$!
    sleep "$(rand_ms 900 "$i")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -e out.smar ]; then
        # whatever is there must be a complete archive with the same content
        "$SMAR" verify -q out.smar >verify.txt 2>&1 || fail "trial $i: partial archive under the final name"
        "$SMAR" extract -q --format export -o - out.smar >got.json || fail "trial $i: archive does not read"
        cmp -s got.json reference.json || fail "trial $i: archive content differs"
        complete=$((complete + 1))
    else
        absent=$((absent + 1))
    fi
    i=$((i + 1))
done
echo "create: $complete complete, $absent absent"
[ "$absent" -gt 0 ] || fail "no trial killed create before the rename: the test did not exercise anything"

step "a later run is not confused by leftover temporary files"
rm -f out.smar
run 0 "$SMAR" create -q -o out.smar export.json
run 0 "$SMAR" verify -q out.smar
# leftovers are hidden temporary files only, never under a final name
for f in .out.smar.tmp-*; do
    [ -e "$f" ] || continue
    case "$f" in .out.smar.tmp-*) ;; *) fail "unexpected leftover $f" ;; esac
done

step "$trials x SIGKILL during extract --format dir"
run 0 "$SMAR" extract -q --format dir -o reference-dir out.smar
i=0
done_runs=0
while [ "$i" -lt "$trials" ]; do
    rm -rf tree
    "$SMAR" extract -q --format dir -o tree out.smar &
    pid=$!
    sleep "$(rand_ms 600 "$((i + 1000))")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -d tree ]; then
        # every file under a final name is complete: equal to the reference file
        find tree -type f ! -name '.*' | while read -r f; do
            ref="reference-dir/${f#tree/}"
            [ -f "$ref" ] || fail "trial $i: $f is not in the reference tree"
            cmp -s "$f" "$ref" || fail "trial $i: $f is half-written"
        done
        done_runs=$((done_runs + 1))
    fi
    i=$((i + 1))
done
echo "extract: $done_runs runs had started writing"
[ "$done_runs" -gt 0 ] || fail "no extract run got far enough to write"

step "a later extract over the leftovers, with --force, completes"
run 0 "$SMAR" extract -q --force --format dir -o tree out.smar
diff -r -x '.*' tree reference-dir >/dev/null || fail "extract after the kills differs from the reference"
