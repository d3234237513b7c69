# extract --format dir|tar with hostile names: every file stays inside the output folder,
# every path component is safe (percent-encoded, see t_extract_dir.sh), modes are 0600/0700, nothing is overwritten without
# --force, and symlinks planted in the output folder are not followed.
. "$E2E_DIR/lib.sh"
make_key

# sec ID NAME_JSON [TYPE [GROUP]]: a secret whose name is given as JSON string contents
sec() {
    printf '{"id":"%s","name":"%s","secret_type":"%s","secret_group_id":"%s",' \
        "$1" "$2" "${3:-arbitrary}" "${4:-default}"
    printf '"created_at":"2026-01-01T00:00:00Z","payload":"p-%s","versions":[' "$1"
    printf '{"id":"v1-%s","created_at":"2026-01-01T00:00:00Z","payload":"old"},' "$1"
    printf '{"id":"v2-%s","created_at":"2026-02-01T00:00:00.5Z","payload":"p-%s"}]}' "$1" "$1"
}
LONG=$(printf 'n%.0s' $(seq 1 300))
{
    printf '{"instance":{"crn":"crn:v1:x","region":"us-south"},"exported_at":"2026-11-20T02:00:00Z",'
    printf '"secret_groups":[{"id":"g-evil","name":"../../grp"},{"id":"g-ctl","name":"\\u001b[31mred"}],\n"secrets":[\n'
    sec s01 '../x'; printf ',\n'
    sec s02 '/etc/passwd'; printf ',\n'
    sec s03 'a/../../b'; printf ',\n'
    sec s04 '..'; printf ',\n'
    sec s05 '.'; printf ',\n'
    sec s06 '.hidden'; printf ',\n'
    sec s07 'evil\u0001soh\u001b[31m\nnewline\ttab'; printf ',\n'
    sec s08 "$LONG"; printf ',\n'
    sec s09 'caf\u00e9/../../x'; printf ',\n'
    sec s10 'plain' arbitrary g-evil; printf ',\n'
    sec s11 'plain' arbitrary g-ctl; printf ',\n'
    sec s12 'typed' '../../t'; printf ',\n'
    sec '../../../idx' 'id-escape'; printf ',\n'
    sec s14 'back\\slash'; printf ',\n'
    sec s15 ''; printf '\n'
    printf ']}\n'
} >hostile.json
run 0 "$SMAR" create -q -o hostile.smar hostile.json
N=15

mkdir victim
BEFORE=$(ls -A)

step "dir: everything lands inside the output folder"
run 0 "$SMAR" extract -q --all-versions --format dir -o out hostile.smar
AFTER=$(ls -A | grep -v '^out$')
assert_eq "$AFTER" "$BEFORE" "files beside out/"
assert_eq "$(ls -A victim | wc -l)" 0 "files in victim"
assert_eq "$(find out -name secret.json | wc -l)" "$N" "secret.json files"
assert_eq "$(find out -path '*/versions/*.json' | wc -l)" $((N * 2)) "version files"
find out -mindepth 1 >paths.lst
if grep -q '/\.' paths.lst; then fail "a component starts with a dot: $(grep '/\.' paths.lst | head -n 3)"; fi
# ASCII letters, digits, ._-% and UTF-8 letters (bytes >= 0x80) only
if LC_ALL=C grep -q -P '[^A-Za-z0-9._%/\x80-\xff-]' paths.lst; then
    fail "unsafe characters in paths: $(LC_ALL=C grep -P '[^A-Za-z0-9._%/\x80-\xff-]' paths.lst | head -n 3)"
fi
LC_ALL=C awk -F/ '{ for (i = 1; i <= NF; i++) if (length($i) > 255) { print; exit 1 } }' paths.lst ||
    fail "a component is longer than 255 bytes"
# the id is kept whole in every secret folder name, even a long or hostile one
for id in s01 s07 s08 s15 %2E.%2F..%2F..%2Fidx; do
    grep -q -- "$id/secret.json\$" paths.lst || fail "no folder ending in id $id"
done
grep -q "^out/default/arbitrary/n*--s08/secret.json" paths.lst || fail "long name not capped with its id"

step "dir: modes 0600 for files, 0700 for folders"
assert_mode out 700
bad=$(find out -type f ! -perm 600 | head -n 3)
[ -z "$bad" ] || fail "files not 0600: $bad"
bad=$(find out -type d ! -perm 700 | head -n 3)
[ -z "$bad" ] || fail "folders not 0700: $bad"

step "dir: file contents are the secret and its versions"
f=$(find out -path '*--s10/secret.json')
assert_contains "$f" '"id":"s10"'
assert_contains "$f" '"payload":"p-s10"'
assert_not_contains "$f" '"versions"'
v=$(find out -path '*--s10/versions/*' | sort | tail -n 1)
case "$v" in
*/0002--20260201T000000.500Z--v2-s10.json) ;;
*) fail "version file name: $v" ;;
esac
assert_contains "$v" '"payload":"p-s10"'

step "dir: no overwrite without --force; --force replaces atomically"
run 1 "$SMAR" extract -q --format dir -o out hostile.smar
assert_contains err.txt "exists (use --force to replace it)"
run 0 "$SMAR" extract -q --all-versions --format dir --force -o out hostile.smar
assert_no_temp out

step "dir: a symlink planted in the output folder is not followed"
mkdir out2
ln -s "$PWD/victim" out2/default
run 1 "$SMAR" extract -q --format dir -o out2 hostile.smar
assert_contains err.txt "symbolic link"
assert_eq "$(ls -A victim | wc -l)" 0 "files in victim"
mkdir -p out3
run 0 "$SMAR" extract -q --format dir --id s10 -o out3 hostile.smar
target=$(find out3 -name secret.json)
rm "$target"
echo "precious" >victim/file
ln -s "$PWD/victim/file" "$target"
run 1 "$SMAR" extract -q --format dir --id s10 -o out3 hostile.smar
# Even --force replaces only a regular file: the link is neither followed nor replaced.
run 1 "$SMAR" extract -q --format dir --id s10 --force -o out3 hostile.smar
assert_contains err.txt "is a symbolic link: only a regular file is ever replaced"
assert_eq "$(cat victim/file)" "precious" "symlink target"
[ -L "$target" ] || fail "the symlink was replaced"

step "tar: the same tree, safe names, 0600/0700"
run 0 "$SMAR" extract -q --all-versions --format tar -o t.tar hostile.smar
assert_mode t.tar 600
tar -tf t.tar | sed 's|/$||' | sort >tar.lst
(cd out && find . -mindepth 1 | sed 's|^\./||' | sort) >dir.lst
assert_same tar.lst dir.lst
if grep -q '^/' tar.lst || grep -q '\(^\|/\)\.\.\(/\|$\)' tar.lst; then fail "unsafe tar member"; fi
tar -tvf t.tar >tarv.lst
if grep -v '^-rw-------' tarv.lst | grep -v '^drwx------' | grep -q .; then
    fail "tar modes: $(grep -v '^-rw-------' tarv.lst | grep -v '^drwx------' | head -n 2)"
fi
mkdir untar
tar -xf t.tar -C untar
diff -r out untar >/dev/null || fail "the tar does not hold the same files as the folder"

step "tar to standard output, and no overwrite of an existing tar"
run 0 "$SMAR" extract -q --all-versions --format tar -o - hostile.smar
assert_same out.txt t.tar
run 1 "$SMAR" extract -q --format tar -o t.tar hostile.smar
assert_contains err.txt "exists"
run 0 "$SMAR" extract -q --format tar --force -o t.tar hostile.smar
assert_no_temp .

step "dir: more group/type folders than are kept open, secrets interleaved across them"
# 70 groups x 2 types = 140 folders (the tool keeps 64 open): each secret must land in its
# own group/type folder whether that folder was kept open, reopened, or never kept.
{
    printf '{"instance":{"crn":"crn:v1:x","region":"us-south"},"exported_at":"2026-11-20T02:00:00Z",\n"secrets":[\n'
    i=0
    for round in 1 2 3; do
        for g in $(seq 1 70); do
            for t in arbitrary kv; do
                i=$((i + 1))
                [ "$i" -gt 1 ] && printf ',\n'
                if [ "$t" = kv ]; then pl='"data":{"k":"v'"$i"'"}'; else pl='"payload":"v'"$i"'"'; fi
                printf '{"id":"m%03d","name":"n%d","secret_type":"%s","secret_group_id":"grp%02d",' \
                    "$i" "$round" "$t" "$g"
                printf '"created_at":"2026-01-01T00:00:00Z",%s,"versions":[' "$pl"
                printf '{"id":"v-%03d","created_at":"2026-01-01T00:00:00Z",%s}]}' "$i" "$pl"
            done
        done
    done
    printf '\n]}\n'
} >many.json
run 0 "$SMAR" create -q -o many.smar many.json
run 0 "$SMAR" extract -q --format dir -o many many.smar
assert_eq "$(find many -name secret.json | wc -l)" 420 "secret.json files"
for g in 01 35 64 65 70; do
    for t in arbitrary kv; do
        assert_eq "$(find "many/grp$g/$t" -name secret.json | wc -l)" 3 "secrets in grp$g/$t"
    done
done
grep -q '"v420"' "many/grp70/kv/n3--m420/secret.json" || fail "the last secret is not in its folder"
run 0 "$SMAR" create -q -o many2.smar many
run 0 "$SMAR" extract -q --format dir -o many2 many2.smar
diff -r many many2 >/dev/null || fail "the tree read back gives another tree"
assert_no_temp many
