# Export digests (format 2.2): an incremental over a parent with a digests table makes the
# records of secrets whose text only changed in retrieved_at without parsing them. Every
# other change (a byte inside a payload, a nested retrieved_at, a rename, a group move, a
# deletion, a dropped retrieved_at) must take the slow path: restores from the chain equal
# restores from full archives of the same exports, byte for byte. A damaged digests
# section is damage (exit 3).
. "$E2E_DIR/lib.sh"
make_key

G1=11111111-1111-4111-8111-111111111111
G2=22222222-2222-4222-8222-222222222222
# secret ID NAME GROUP RETRIEVED PAYLOAD NESTED [EXTRA]: one secret object, one line
# (RETRIEVED "none": no top-level retrieved_at; NESTED: custom_metadata's own retrieved_at)
secret() {
    ret=""
    [ "$4" = none ] || ret="\"retrieved_at\":\"$4\","
    printf '{"id":"%s","name":"%s","secret_type":"arbitrary","secret_group_id":"%s","custom_metadata":{"owner":"ops","audit":{"retrieved_at":"%s"}},"created_at":"2026-01-01T00:00:00Z",%s"downloaded":true%s,"payload":"%s","versions":[{"id":"%s-v1","created_at":"2026-01-01T00:00:00Z","payload":"%s"}]}' \
        "$1" "$2" "$3" "$6" "$ret" "${7:-}" "$5" "$1" "$5"
}
# export FILE DAY SECRET...: an export of the secrets given, taken on 2026-02-DAY
export_of() {
    out=$1
    day=$2
    sep=""
    shift 2
    {
        printf '{"instance":{"crn":"crn:v1:bluemix:public:secrets-manager:us-south:a/0:e2e-digest::"},'
        printf '"exported_at":"2026-02-%sT00:00:00Z","secret_groups":[{"id":"%s","name":"one"},{"id":"%s","name":"two"}],"secrets":[\n' "$day" "$G1" "$G2"
        for s in "$@"; do
            printf '%s%s\n' "$sep" "$s"
            sep=','
        done
        printf ']}\n'
    } >"$out"
}

step "five snapshots, each changing one thing per secret"
# s1 (full) and s2 (first incremental: parsed, writes its own table) differ in retrieved_at
for k in 1 2; do
    export_of "e$k.json" "0$k" \
        "$(secret pay pay $G1 "2026-02-0${k}T01:00:00Z" "s3cret-one" n1)" \
        "$(secret ret ret $G1 "2026-02-0${k}T02:00:00Z" "value-ret" n1)" \
        "$(secret nest nest $G1 "2026-02-01T03:00:00Z" "value-nest" n1)" \
        "$(secret ren ren $G1 "2026-02-0${k}T04:00:00Z" "value-ren" n1)" \
        "$(secret grp grp $G1 "2026-02-0${k}T05:00:00Z" "value-grp" n1)" \
        "$(secret del del $G1 "2026-02-0${k}T06:00:00Z" "value-del" n1)" \
        "$(secret same same $G2 "2026-02-01T07:00:00Z" "value-same" n1)" \
        "$(secret drop drop $G2 "2026-02-0${k}T08:00:00Z" "value-drop" n1)" \
        "$(secret esc esc $G2 "2026-02-0${k}T09:00:00Z" "caf\\u00e9" n1 ',"note":"a\"b"')"
done
# s3 (first over a table): one byte of pay's payload; nest's nested retrieved_at only; a
# rename; a group move; del deleted; drop loses retrieved_at; a new secret
export_of e3.json 03 \
    "$(secret pay pay $G1 "2026-02-03T01:00:00Z" "s3cret-onE" n1)" \
    "$(secret ret ret $G1 "2026-02-03T02:00:00Z" "value-ret" n1)" \
    "$(secret nest nest $G1 "2026-02-01T03:00:00Z" "value-nest" n3)" \
    "$(secret ren renamed $G1 "2026-02-03T04:00:00Z" "value-ren" n1)" \
    "$(secret grp grp $G2 "2026-02-03T05:00:00Z" "value-grp" n1)" \
    "$(secret same same $G2 "2026-02-01T07:00:00Z" "value-same" n1)" \
    "$(secret drop drop $G2 none "value-drop" n1)" \
    "$(secret esc esc $G2 "2026-02-03T09:00:00Z" "caf\\u00e9" n1 ',"note":"a\"b"')" \
    "$(secret new new $G1 "2026-02-03T10:00:00Z" "value-new" n1)"
# s4 and s5 (over parents whose table is keyed by s2's key): retrieved_at moves again,
# pay changes back, nest's nested value again, drop gets retrieved_at back
for k in 4 5; do
    export_of "e$k.json" "0$k" \
        "$(secret pay pay $G1 "2026-02-0${k}T01:00:00Z" "s3cret-on$([ $k = 4 ] && echo e || echo E)" n1)" \
        "$(secret ret ret $G1 "2026-02-0${k}T02:00:00Z" "value-ret" n1)" \
        "$(secret nest nest $G1 "2026-02-0${k}T03:00:00Z" "value-nest" "n$k")" \
        "$(secret ren renamed $G1 "2026-02-0${k}T04:00:00Z" "value-ren" n1)" \
        "$(secret grp grp $G2 "2026-02-0${k}T05:00:00Z" "value-grp" n1)" \
        "$(secret same same $G2 "2026-02-01T07:00:00Z" "value-same" n1)" \
        "$(secret drop drop $G2 "2026-02-0${k}T08:00:00Z" "value-drop" n1)" \
        "$(secret esc esc $G2 "2026-02-0${k}T09:00:00Z" "caf\\u00e9" n1 ',"note":"a\"b"')" \
        "$(secret new new $G1 "2026-02-0${k}T10:00:00Z" "value-new" n1)"
done

mkdir full chain
for k in 1 2 3 4 5; do
    run 0 "$SMAR" create -q -o "full/f$k.smar" "e$k.json"
    if [ "$k" = 1 ]; then
        run 0 "$SMAR" create -q -o "chain/c$k.smar" "e$k.json"
    else
        run 0 "$SMAR" create --base chain -o "chain/c$k.smar" "e$k.json"
    fi
done
# s3 over s2: ret, same and esc's neighbours unchanged but for retrieved_at (digest hits);
# the others are parsed; s5 over s4: every secret but pay, nest and drop hits
run 0 "$SMAR" inspect chain/c5.smar
assert_contains out.txt "format:       2.2"

step "every snapshot: extract of the chain == extract of the full archive (byte for byte)"
for k in 1 2 3 4 5; do
    run 0 "$SMAR" extract -q --format export --at "2026-02-0${k}T00:00:00Z" -o "chain$k.json" chain
    run 0 "$SMAR" extract -q --format export -o "full$k.json" "full/f$k.smar"
    cmp "chain$k.json" "full$k.json" || fail "snapshot $k: the chain restores something else"
done
run 0 "$SMAR" verify chain/c5.smar chain/c4.smar chain/c3.smar chain/c2.smar chain/c1.smar

step "a damaged digests section: verify exits 3"
cp chain/c4.smar damaged.smar
python3 - damaged.smar <<'PY' || fail "no digests chunk found"
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
table_offset, count = struct.unpack_from("<QI", data, len(data) - 216)
for i in range(count):
    off, stored, section = struct.unpack_from("<QIB", data, table_offset + 48 * i)
    if section == 5:
        data[off + stored // 2] ^= 0x01
        open(path, "wb").write(data)
        sys.exit(0)
sys.exit(1)
PY
mkdir dmg && cp chain/c1.smar chain/c2.smar chain/c3.smar dmg/ && mv damaged.smar dmg/c4.smar
run 3 "$SMAR" verify dmg/c4.smar
step "an incremental over a parent whose digests are damaged: exit 3, nothing written"
run 3 "$SMAR" create --base dmg -o over-damaged.smar e5.json
assert_missing over-damaged.smar
