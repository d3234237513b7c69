# Crash safety: `smar create` and `smar extract --format dir` killed with SIGKILL at many
# different moments leave either nothing or a complete, valid result under the final name,
# never a partial one, and a later run is not confused by what the killed run left.
. "$E2E_DIR/lib.sh"

trials=${SMAR_CRASH_TRIALS:-60}
secrets=${SMAR_CRASH_SECRETS:-3000}

step "an export big enough that create takes a while"
"$SMAR_GEN" --secrets "$secrets" --payload-bytes 2000 --seed 7 -o export.json
run 0 "$SMAR" keygen -o root.key
export SMAR_KEY_FILE=root.key
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Kills are spread over how long each command really takes on this build (sanitizer builds
# are several times slower), a little past its end so that some runs complete.
t0=$(now_ms)
run 0 "$SMAR" create -q --threads 1 -o reference.smar export.json
create_ms=$(($(now_ms) - t0 + 50))
run 0 "$SMAR" extract -q --format export -o reference.json reference.smar

# Sleep a pseudo-random number of milliseconds in [0, $1): spreads the kills over the run.
rand_ms() {
    awk -v seed="$2" -v max="$1" 'BEGIN { srand(seed); printf "%.3f", int(rand() * max) / 1000 }'
}

# The status of a run sent SIGKILL: 137 (128 + 9) if the kill came first, 0 if the run had
# finished; anything else (an error exit, a crash) fails the trial.
wait_killed_or_done() { # PID TRIAL
    if wait "$1" 2>/dev/null; then st=0; else st=$?; fi
    case $st in
    0 | 137) ;;
    *) fail "trial $2: exited $st, expected 0 (finished) or 137 (killed)" ;;
    esac
}

complete=0
absent=0
i=0
step "$trials x SIGKILL during create"
while [ "$i" -lt "$trials" ]; do
    rm -f out.smar
    "$SMAR" create -q --threads 1 -o out.smar export.json &
    pid=$!
    sleep "$(rand_ms "$create_ms" "$i")"
    kill -9 "$pid" 2>/dev/null || true
    wait_killed_or_done "$pid" "$i"
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

step "$trials x SIGKILL during extract --format dir into a new folder"
t0=$(now_ms)
run 0 "$SMAR" extract -q --format dir -o reference-dir out.smar
extract_ms=$(($(now_ms) - t0 + 50))
(cd reference-dir && find . -type f -exec sha256sum {} +) | sort >ref.sums
# A new folder is built under a hidden name beside it and renamed when whole: after a kill,
# "tree" is absent or complete, never partial. A run that got as far as making the hidden
# folder has started writing.
i=0
started=0
whole=0
while [ "$i" -lt "$trials" ]; do
    rm -rf tree .tree.tmp-*
    "$SMAR" extract -q --format dir -o tree out.smar &
    pid=$!
    sleep "$(rand_ms "$extract_ms" "$((i + 1000))")"
    kill -9 "$pid" 2>/dev/null || true
    wait_killed_or_done "$pid" "$i"
    for d in .tree.tmp-*; do
        [ -d "$d" ] && started=$((started + 1)) && break
    done
    if [ -e tree ]; then
        (cd tree && find . -type f -exec sha256sum {} +) | sort >got.sums
        cmp -s got.sums ref.sums || fail "trial $i: a partial tree under the final name"
        whole=$((whole + 1))
    fi
    i=$((i + 1))
done
echo "extract to a new folder: $started killed while writing, $whole complete"
[ "$started" -gt 0 ] || fail "no extract run into a new folder got far enough to write"

step "$trials x SIGKILL during extract --format dir into an existing folder"
# In an existing folder the tree is built in a hidden folder inside it and moved into place
# at the end, each piece by a rename after one sync: every file under a final name is
# complete (its path and checksum are in the reference list); what is hidden (a name that
# starts with a dot, and all below it) is left out of the check.
i=0
started=0
while [ "$i" -lt "$trials" ]; do
    rm -rf tree .tree.tmp-*
    mkdir tree
    "$SMAR" extract -q --format dir -o tree out.smar &
    pid=$!
    sleep "$(rand_ms "$extract_ms" "$((i + 2000))")"
    kill -9 "$pid" 2>/dev/null || true
    wait_killed_or_done "$pid" "$i"
    [ -z "$(ls -A tree)" ] || started=$((started + 1))
    (cd tree && find . -mindepth 1 -name '.*' -prune -o -type f -exec sha256sum {} +) |
        sort >got.sums
    bad=$(comm -23 got.sums ref.sums | head -n 3)
    [ -z "$bad" ] || fail "trial $i: half-written or unexpected file(s): $bad"
    i=$((i + 1))
done
echo "extract to an existing folder: $started runs had started writing"
[ "$started" -gt 0 ] || fail "no extract run into an existing folder got far enough to write"

step "a later extract over the leftovers, with --force, completes"
run 0 "$SMAR" extract -q --force --format dir -o tree out.smar
diff -r -x '.*' tree reference-dir >/dev/null || fail "extract after the kills differs from the reference"
