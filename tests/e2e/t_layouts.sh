# Every input layout gives the same secrets: JSON, JSONL, a directory, that directory as
# tar / tar.gz / tar.xz / tar.bz2 / tar.zst / zip (with and without a top folder), and
# standard input. The secrets are compared through `extract --format dir` trees, which do
# not depend on the order the layout lists them in.
. "$E2E_DIR/lib.sh"
make_key

step "generate one export in three layouts"
gen ex.json --secrets 14
gen ex.jsonl --secrets 14 --layout jsonl
"$SMAR_GEN" --secrets 14 --layout dir -o exdir || fail "gen dir"

# The trees' root files hold the document members with the layout's own whitespace: only
# the secrets are compared here (the document is checked below).
SECRETS_ONLY="-x instance.json -x secret_groups.json -x configurations.json"

# create ARCHIVE INPUT: archive it, then unpack its secrets as a folder tree ARCHIVE.d
check_layout() {
    run 0 "$SMAR" create -q -o "$1" "$2"
    assert_empty out.txt
    run 0 "$SMAR" extract -q --all-versions --format dir -o "$1.d" "$1"
    if [ -d reference.d ]; then
        diff -r $SECRETS_ONLY reference.d "$1.d" >/dev/null || fail "layout $2 gives other secrets than ex.json"
    else
        mv "$1.d" reference.d
    fi
}

step "json, jsonl, directory"
check_layout json.smar ex.json
check_layout jsonl.smar ex.jsonl
check_layout dir.smar exdir
run 0 "$SMAR" inspect --key root.key dir.smar
assert_contains out.txt "secrets:      14"

step "tar and compressed tars, with and without a top folder"
tar -cf flat.tar -C exdir .
check_layout tar.smar flat.tar
tar -cf top.tar exdir
check_layout top.smar top.tar
tar -czf ex.tar.gz exdir
check_layout targz.smar ex.tar.gz
tar -cJf ex.tar.xz exdir
check_layout tarxz.smar ex.tar.xz
if have bzip2; then
    tar -cjf ex.tar.bz2 exdir
    check_layout tarbz2.smar ex.tar.bz2
else
    echo "skip: bzip2 not installed"
fi
if have zstd; then
    tar -cf - exdir | zstd -q -o ex.tar.zst
    check_layout tarzst.smar ex.tar.zst
else
    echo "skip: zstd not installed (apt-get install zstd)"
fi
if have zip; then
    (cd exdir && zip -q -r ../flat.zip .)
    check_layout zip.smar flat.zip
    zip -q -r top.zip exdir
    check_layout topzip.smar top.zip
else
    echo "skip: zip not installed (apt-get install zip)"
fi

step "the layout comes from the content, not the name"
cp ex.tar.gz misnamed.json
check_layout misnamed.smar misnamed.json
cp ex.jsonl misnamed2.json
check_layout misnamed2.smar misnamed2.json

step "standard input: json, jsonl, tar.gz"
run 0 sh -c '"$SMAR" create -q -o stdin-json.smar - < ex.json'
run 0 "$SMAR" extract -q --all-versions --format dir -o stdin-json.d stdin-json.smar
diff -r $SECRETS_ONLY reference.d stdin-json.d >/dev/null || fail "stdin json differs"
run 0 sh -c 'cat ex.jsonl | "$SMAR" create -q -o stdin-jsonl.smar -'
run 0 "$SMAR" extract -q --all-versions --format dir -o stdin-jsonl.d stdin-jsonl.smar
diff -r $SECRETS_ONLY reference.d stdin-jsonl.d >/dev/null || fail "stdin jsonl differs"
run 0 sh -c 'cat ex.tar.gz | "$SMAR" create -q -o stdin-targz.smar -'
run 0 "$SMAR" extract -q --all-versions --format dir -o stdin-targz.d stdin-targz.smar
diff -r $SECRETS_ONLY reference.d stdin-targz.d >/dev/null || fail "stdin tar.gz differs"

step "the document (instance, groups, configurations) is kept for every layout"
for a in json jsonl dir tar targz; do
    run 0 "$SMAR" extract -q -o "$a.export.json" "$a.smar"
    assert_contains "$a.export.json" '"instance"'
    assert_contains "$a.export.json" '"exported_at"'
    assert_contains "$a.export.json" '"secret_groups"'
    assert_contains "$a.export.json" '"configurations"'
    assert_contains "$a.export.json" '"secrets": ['
done

step "a snapshot time from exported_at for every layout"
for a in json jsonl dir tar targz; do
    run 0 "$SMAR" inspect "$a.smar"
    assert_contains out.txt "snapshot:     2026-11-20T02:00:00Z"
done
assert_no_temp .
