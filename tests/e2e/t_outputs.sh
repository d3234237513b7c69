# Outputs are safe: only a regular file is ever replaced (never a device, FIFO, socket,
# folder or symbolic link, with or without --force); standard output under its usual
# names; an output is never one of the command's inputs; keyring writes follow a link and
# replace its target; a folder export never blocks on a FIFO; write errors say why.
. "$E2E_DIR/lib.sh"
make_key
gen ex.json --secrets 6
run 0 "$SMAR" create -q -o a.smar ex.json
cp ex.json ex.orig
cp a.smar a.orig

# refused EXPECTED_KIND TARGET cmd...: the command fails with exit 1 at once, naming the
# target and what it is, and leaves no temporary file.
refused() {
    kind=$1
    shift
    run 1 timeout 20 "$@"
    assert_contains err.txt "is $kind: only a regular file is ever replaced"
    assert_no_temp .
}

# every_writer TARGET KIND: every command that writes a file, with and without --force.
# (Without --force, extract's own early check may call the target merely existing.)
every_writer() {
    refused "$2" "$SMAR" create -q -o "$1" ex.json
    for format in export tar; do
        run 1 timeout 20 "$SMAR" extract -q --format $format -o "$1" a.smar
        assert_contains err.txt "'$1'"
    done
    refused "$2" "$SMAR" create -q --force -o "$1" ex.json
    refused "$2" "$SMAR" extract -q --force -o "$1" a.smar
    refused "$2" "$SMAR" extract -q --force --format tar -o "$1" a.smar
}

step "a FIFO is never replaced (nor opened: nothing blocks)"
mkfifo fifo
every_writer fifo "a FIFO"
[ -p fifo ] || fail "the FIFO was replaced"

step "a folder is never replaced"
mkdir folder
every_writer folder "a folder"
[ -d folder ] || fail "the folder was replaced"

step "a symbolic link is neither followed nor replaced"
echo precious >victim
ln -s victim link
every_writer link "a symbolic link"
[ -L link ] || fail "the link was replaced"
assert_eq "$(cat victim)" "precious" "link target"

step "a socket is never replaced"
if have python3 && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' &&
    [ -S sock ]; then
    every_writer sock "a socket"
    [ -S sock ] || fail "the socket was replaced"
else
    echo "skipped: cannot make a Unix socket here (no python3)"
fi

step "a device is never replaced (as root: /dev/null itself)"
if [ "$(id -u)" = 0 ]; then
    refused "a device" "$SMAR" create -q --force -o /dev/null ex.json
    refused "a device" "$SMAR" extract -q --force -o /dev/null a.smar
    [ -c /dev/null ] || fail "/dev/null is no longer a character device"
else
    echo "skipped: not root (a device is only writable by root)"
fi

step "the name is checked again right before the rename"
# The export comes through a FIFO: while create waits for the rest of it (its temporary
# file made), the regular file it is to replace becomes a FIFO; the rename must not follow.
gen ex.jsonl --secrets 6 --layout jsonl
echo old >late.smar
mkfifo in.fifo
"$SMAR" create -q --force -o late.smar - <in.fifo >out.txt 2>err.txt &
pid=$!
exec 3>in.fifo
head -n 3 ex.jsonl >&3
i=0
while ! ls -a | grep -q '^\.late\.smar\.tmp-'; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "create made no temporary file"
    sleep 0.1
done
rm late.smar
mkfifo late.smar
tail -n +4 ex.jsonl >&3
exec 3>&-
if wait $pid; then rc=0; else rc=$?; fi
assert_eq "$rc" 1 "exit status of create when its output became a FIFO"
assert_contains err.txt "'late.smar' is a FIFO: only a regular file is ever replaced"
[ -p late.smar ] || fail "the FIFO was replaced"
assert_no_temp .

step "-, /dev/stdout, /dev/fd/1 and /proc/self/fd/1 are standard output"
run 0 "$SMAR" extract -q -o - a.smar
mv out.txt via-dash.json
for name in /dev/stdout /dev/fd/1 /proc/self/fd/1; do
    run 0 "$SMAR" extract -q -o "$name" a.smar
    assert_same out.txt via-dash.json
    run 0 "$SMAR" extract -q --force -o "$name" a.smar
    assert_same out.txt via-dash.json
    run 0 "$SMAR" create -q -o "$name" ex.json
    mv out.txt stdout.smar
    run 0 "$SMAR" verify -q stdout.smar
done
[ -c /dev/null ] || fail "/dev/null is no longer a character device"

step "an output that is one of the command's inputs is refused"
run 1 "$SMAR" create -q --force -o ex.json ex.json
assert_contains err.txt "'ex.json' is an input of this command: it is never replaced"
ln -s ex.json ex-link.json
run 1 "$SMAR" create -q --force -o ex.json ex-link.json
assert_contains err.txt "'ex.json' is an input of this command (as 'ex-link.json')"
ln ex.json ex-hard.json
run 1 "$SMAR" create -q --force -o ex-hard.json ex.json
assert_contains err.txt "is an input of this command"
run 1 sh -c '"$0" create -q --force -o ex.json - <ex.json' "$SMAR"
assert_contains err.txt "'ex.json' is an input of this command (as 'standard input')"
run 1 "$SMAR" create -q --force -o root.key ex.json
assert_contains err.txt "'root.key' is an input of this command"
run 1 "$SMAR" extract -q --force -o a.smar a.smar
assert_contains err.txt "'a.smar' is an input of this command: it is never replaced"
run 1 "$SMAR" extract -q --force --format tar -o a.smar a.smar
assert_contains err.txt "is an input of this command"
cp a.smar b.smar
run 1 "$SMAR" extract -q --force -o b.smar a.smar b.smar
assert_contains err.txt "'b.smar' is an input of this command"
assert_same ex.json ex.orig
assert_same a.smar a.orig
assert_same b.smar a.orig
assert_no_temp .

step "nothing is written inside an input folder"
"$SMAR_GEN" --secrets 4 --layout dir -o exdir || fail "gen dir"
cp exdir/instance.json instance.orig
run 1 "$SMAR" create -q --force -o exdir/instance.json exdir
assert_contains err.txt "would be written inside the input folder 'exdir'"
run 1 "$SMAR" create -q -o exdir/secrets/new.smar exdir
assert_contains err.txt "inside the input folder"
assert_same exdir/instance.json instance.orig
assert_missing exdir/secrets/new.smar
assert_no_temp exdir

step "keygen --sign: FILE.pub that is FILE (a link) is refused, the secret key kept"
run 0 "$SMAR" keygen --sign -o other.key
rm other.key.pub
ln -s other.key other.key.pub
cp other.key other.orig
run 1 "$SMAR" keygen --sign --force -o other.key
assert_contains err.txt "are the same file"
assert_same other.key other.orig
# A dangling FILE.pub link: FILE appears only when the secret key is written.
rm other.key other.key.pub
ln -s other.key other.key.pub
run 1 "$SMAR" keygen --sign --force -o other.key
assert_contains err.txt "are the same file"
run 0 "$SMAR" key show other.key
assert_contains out.txt "signing key (Ed25519, secret and public)"

step "key rotate through a symbolic link replaces the real keyring; the link stays"
mkdir keys
run 0 "$SMAR" keygen -o keys/real.key
ln -s keys/real.key link.key
run 0 "$SMAR" key rotate link.key
assert_contains out.txt "version 2 added"
[ -L link.key ] || fail "the link was replaced by a file"
[ -f keys/real.key ] && [ ! -L keys/real.key ] || fail "keys/real.key is not a file"
assert_mode keys/real.key 600
assert_no_temp .
run 0 "$SMAR" key show keys/real.key
assert_contains out.txt "current:   version 2"
run 0 "$SMAR" create -q --key link.key -o rotated.smar ex.json
run 0 "$SMAR" inspect rotated.smar
assert_contains out.txt "version 2 (local)"
run 0 "$SMAR" extract -q --key link.key -o via-link.json rotated.smar
run 0 "$SMAR" extract -q --key keys/real.key -o via-target.json rotated.smar
assert_same via-link.json via-target.json

step "keygen --force through a symbolic link replaces its target"
run 0 "$SMAR" keygen --force --id kp-new -o link.key
[ -L link.key ] || fail "the link was replaced by a file"
run 0 "$SMAR" key show --json keys/real.key
assert_contains out.txt '"id":	"kp-new"'
run 1 "$SMAR" keygen --force -o fifo
assert_contains err.txt "is a FIFO"
[ -p fifo ] || fail "keygen replaced the FIFO"
run 1 "$SMAR" keygen --force -o folder
assert_contains err.txt "is a folder"

step "a FIFO inside a folder export fails at once, naming the file"
"$SMAR_GEN" --secrets 3 --layout dir -o fifodir || fail "gen dir"
mkfifo fifodir/secrets/zzzz.json
run 1 timeout 20 "$SMAR" create -q -o fifo.smar fifodir
assert_contains err.txt "fifodir/secrets/zzzz.json: not a regular file (a FIFO)"
assert_missing fifo.smar
rm fifodir/secrets/zzzz.json
mv fifodir/configurations.json conf.json
mkfifo fifodir/configurations.json
run 1 timeout 20 "$SMAR" create -q -o fifo.smar fifodir
assert_contains err.txt "fifodir/configurations.json: not a regular file (a FIFO)"
rm fifodir/configurations.json
ln -s "$PWD/conf.json" fifodir/configurations.json
run 1 timeout 20 "$SMAR" create -q -o fifo.smar fifodir
assert_contains err.txt "configurations.json: not a regular file (a symbolic link"
rm fifodir/configurations.json
mv conf.json fifodir/configurations.json
run 0 "$SMAR" create -q -o fifo.smar fifodir

step "write errors say why"
if [ -w /dev/full ]; then
    run 1 sh -c '"$0" create -q -o - ex.json >/dev/full' "$SMAR"
    assert_contains err.txt "cannot write 'standard output'"
    assert_contains err.txt "No space left on device"
    run 1 sh -c '"$0" extract -q -o - a.smar >/dev/full' "$SMAR"
    assert_contains err.txt "cannot write 'standard output': No space left on device"
    run 1 sh -c '"$0" extract -q --format tar -o - a.smar >/dev/full' "$SMAR"
    assert_contains err.txt "cannot write 'standard output': No space left on device"
else
    echo "skipped: no /dev/full"
fi
if [ "$(id -u)" != 0 ]; then
    mkdir locked
    chmod 500 locked
    run 1 "$SMAR" create -q -o locked/x.smar ex.json
    assert_contains err.txt "Permission denied"
    run 1 "$SMAR" keygen -o locked/x.key
    assert_contains err.txt "Permission denied"
    chmod 700 locked
else
    echo "skipped: permission errors (root may write anywhere)"
fi
