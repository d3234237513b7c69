/*
 * test_vectors_v2.c - the format 2 test vectors of spec/vectors/v2 (see
 * spec/vectors/README.md; format 1's are checked by test_vectors.c).
 *
 * SMAR_WRITE_VECTORS=1 ./test_vectors_v2   (re)generates every file of spec/vectors/v2 with
 * the writer API (random DEKs, archive ids and keys: the files are generated once and
 * committed) and builds the damaged and forged variants at the format level, then checks
 * them like the normal run does.
 * SMAR_WRITE_VECTORS=21 ./test_vectors_v2  (re)generates only the format 2.1 (incremental)
 * vectors, incr-* and neg21-*, with the committed keyring-a.json; the 2.0 files stay as they are.
 *
 * The normal run (ctest) checks the committed files three ways:
 *  1. through the library's public API: the clear information (key slots included),
 *     unlocking with every key that should open each archive, every secret rendered with its
 *     payloads, lookups by id and by name, keyless and keyed verification - byte for byte
 *     against <archive>.info.txt and <archive>.secrets.jsonl (or .secrets.sha256);
 *  2. through an independent reader written from spec/FORMAT.md alone (vectors_sr2.c), which
 *     must render the same bytes and reproduce <archive>.internals.txt;
 *  3. every negative vector fails with its documented status at its documented stage, and
 *     the independent reader rejects it at the same stage.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>
#include <zstd.h>

#include "archive_fixture.h"
#include "smar.h"
#include "testutil.h"
#include "vectors_common.h"
#include "vectors_sr2.h"

/* ==== through the library ============================================================== */

static const char *const KEY_FILES[] = {
    "keyring-a.json", "keyring-a-v1.json",    "keyring-a-v2.json",
    "keyring-b.json", "keyring-a-wrong.json", "keyring-other.json",
    "recipient.key",  "recipient.key.pub",    NULL};

/* Format 2's key slots, with their providers, flags and version kinds. */
static void describe_slots(smar_reader *r, size_t n, sb *o)
{
    for (size_t i = 0; i < n; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        assert_int_equal(smar_reader_slot(r, i, &si), SMAR_OK);
        sb_printf(o, "key_slot %zu: provider %s (%u), flags %u, key_id %s, version_kind %d", i,
                  si.provider, si.provider_id, si.flags, si.key_id, si.version_kind);
        if (si.version_kind == 1)
            sb_printf(o, ", key_version %u", si.key_version);
        if (si.version_kind == 2)
            sb_printf(o, ", version %s", si.version_string);
        sb_str(o, "\n");
    }
}

/* The clear information, verification results and snapshot of an archive, as text; the
 * renderings of its secrets into rd. */
static void lib_describe(const char *file, const char *key_file, const uint8_t *pk, sb *o,
                         rendered *rd)
{
    smar_reader *r = open_vector(file);
    describe_clear(r, file, describe_slots, o);
    describe_keyless(r, file, pk, o);
    if (pk && smar_reader_check_signer(r, pk, 1) != SMAR_OK)
        fail_msg("%s: pinned signer: %s", file, smar_reader_error(r));
    unlock_with(r, file, key_file);
    sb_printf(o, "unlocked_with: %s, by_public_key %d\n", key_file,
              smar_reader_unlocked_by_public_key(r));
    describe_unlocked(r, file, pk, o, rd);
    smar_reader_free(r);
}

/* ==== the positive vectors ============================================================== */

static const vector VECTORS[] = {
    {"v2-basic.smar", {"keyring-a.json", "keyring-a-v2.json", NULL}, NULL, false, false},
    {"v2-two-slots.smar", {"keyring-a.json", "keyring-b.json", NULL}, NULL, false, false},
    {"v2-signed.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    {"v2-empty.smar", {"keyring-b.json", NULL, NULL}, NULL, false, false},
    {"v2-aes.smar", {"keyring-b.json", NULL, NULL}, NULL, false, true},
    {"v2-multi.smar", {"keyring-a.json", NULL, NULL}, NULL, true, false},
    {"v2-recipient.smar",
     {"recipient.key", "keyring-b.json", NULL},
     "signer.pub.json",
     false,
     false},
    {"v2-rewrapped.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    /* an unknown provider's slot is skipped: the archive opens with its other slot */
    {"neg2-unknown-provider.smar", {"keyring-a.json", NULL, NULL}, NULL, false, false},
    /* format 2.1: the full archive the incremental vectors are made over */
    {"incr-base.smar", {"keyring-a.json", NULL, NULL}, NULL, false, false},
};

/* The independent reader must reach the same renderings with every key listed, and the
 * recorded intermediate values with the first. */
static void check_independent(const vector *v, const uint8_t *pk, const rendered *rd)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    for (int k = 0; k < 3 && v->keys[k]; k++) {
        char *kt = key_text(v->keys[k]);
        sb spec = {0};
        sr2 r;
        if (sr2_open(&r, d, n) || sr2_keyless(&r, pk) || sr2_unlock(&r, kt) || sr2_read(&r, &spec))
            fail_msg("%s with %s: independent reader: %s", v->file, v->keys[k], r.why);
        assert_true(same_bytes(spec.p, spec.n, rd->text.p, rd->text.n));
        if (k == 0) {
            char name[128];
            sb internals = {0};
            sr2_internals(&r, v->file, &internals);
            base_name(name, sizeof name, v->file, ".internals.txt");
            vexpect(name, &internals);
            sb_free(&internals);
        }
        sr2_free(&r);
        sb_free(&spec);
        free(kt);
    }
    free(d);
}

static void test_positive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++)
        check_vector(&VECTORS[i], lib_describe, check_independent);
}

/* ==== the negative vectors ============================================================= */

/* Kept in step with the table in spec/vectors/README.md. */
static const negative NEGATIVES[] = {
    {"neg2-resigned.smar", "keyring-a.json", "signer.pub.json", SMAR_OK, SMAR_E_AUTH, SMAR_OK,
     SMAR_OK, SMAR_OK},
    {"neg2-signer-swapped.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-slot-altered.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-bitflip-slot.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_E_CORRUPT, SMAR_E_CORRUPT, NA,
     NA},
    {"neg2-dek-commit.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-unknown-provider.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_OK, SMAR_OK,
     SMAR_OK},
    {"neg2-truncated.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg2-extended.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg2-version3.smar", "keyring-a.json", NULL, SMAR_E_VERSION, NA, NA, NA, NA},
    {"neg2-aes-over-cap.smar", "keyring-b.json", NULL, SMAR_E_LIMIT, NA, NA, NA, NA},
    {"v2-basic.smar", "keyring-a-wrong.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"v2-basic.smar", "keyring-other.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-two-slots.smar", "keyring-a-v1.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-rewrapped.smar", "keyring-a-v2.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-signed.smar", "keyring-a.json", "other-signer.pub.json", SMAR_OK, SMAR_E_AUTH, SMAR_OK,
     SMAR_OK, SMAR_OK},
    {"v2-recipient.smar", "recipient.key.pub", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
};

static int spec_stage(const negative *v, int stage, const uint8_t *pk)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = key_text(v->key);
    sb out = {0};
    sr2 r;
    int rc = sr2_open(&r, d, n);
    if (rc == 0 && stage == 1)
        rc = sr2_keyless(&r, pk);
    if (rc == 0 && stage >= 2)
        rc = sr2_unlock(&r, kt);
    if (rc == 0 && stage >= 3)
        rc = sr2_read(&r, &out);
    sr2_free(&r);
    sb_free(&out);
    free(kt);
    free(d);
    return rc;
}

static void test_negative(void **state)
{
    (void)state;
    check_negatives(NEGATIVES, sizeof NEGATIVES / sizeof NEGATIVES[0], spec_stage);
}

/* ==== properties the tables do not show ================================================== */

/* A pinned reader refuses the re-signed archive before any key is used; v2-signed and its
 * rewrapped copy pass; the recipient archive opened through its x25519 slot says so. */
static void test_pinning(void **state)
{
    uint8_t pk[32];
    smar_reader *r;
    (void)state;
    load_pk("signer.pub.json", pk);
    assert_int_equal(open_file(&r, "neg2-resigned.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "not signed by a trusted producer"));
    smar_reader_free(r);
    assert_int_equal(open_file(&r, "neg2-signer-swapped.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_E_AUTH);
    smar_reader_free(r);
    assert_int_equal(open_file(&r, "v2-rewrapped.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_OK);
    smar_reader_free(r);
    smar_keyring *id = keyring("recipient.key");
    assert_int_equal(open_file(&r, "v2-recipient.smar"), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &id, 1), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), 1);
    smar_reader_free(r);
}

/* A rewrap changes only the slot area and the trailer's slot area length, root MAC and root
 * hash: header, chunks and table are the same bytes, and so is the signature (§14.2). */
static void test_rewrapped_keeps_content(void **state)
{
    size_t n1, n2;
    (void)state;
    uint8_t *a = vread("v2-signed.smar", &n1), *b = vread("v2-rewrapped.smar", &n2);
    sr2 ra, rb;
    assert_int_equal(sr2_open(&ra, a, n1), 0);
    assert_int_equal(sr2_open(&rb, b, n2), 0);
    size_t kept = ra.table_offset + (size_t)ra.count * 48;
    assert_true(rb.table_offset + (size_t)rb.count * 48 == kept && memcmp(a, b, kept) == 0);
    assert_memory_equal(ra.trailer, rb.trailer, 36);
    assert_memory_equal(ra.trailer + 104, rb.trailer + 104, 112); /* signer .. tail magic */
    assert_true(rb.slot[0].version_kind == 1 && rb.slot[0].version == 3);
    assert_true(ra.slot[0].version == 2);
    sr2_free(&ra);
    sr2_free(&rb);
    free(a);
    free(b);
}

/* The unknown provider's slot is listed, not used. */
static void test_unknown_provider_listed(void **state)
{
    smar_reader *r;
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    (void)state;
    assert_int_equal(open_file(&r, "neg2-unknown-provider.smar"), SMAR_OK);
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_int_equal(si.provider_id, 200);
    assert_string_equal(si.provider, "unknown");
    assert_int_equal(strlen(si.key_id), 255);
    smar_reader_free(r);
}

/* The KDF of the spec (BLAKE2b salt/personal) is libsodium's crypto_kdf_derive_from_key. */
static void test_kdf(void **state)
{
    uint8_t dek[32], a[32], b[32], salt[16] = {0}, personal[16] = {0};
    (void)state;
    for (int i = 0; i < 32; i++)
        dek[i] = (uint8_t)i;
    memcpy(personal, "smar-v2\0", 8);
    for (uint64_t id = 2; id <= 5; id++) {
        put64(salt, id);
        crypto_kdf_derive_from_key(a, 32, id, "smar-v2\0", dek);
        crypto_generichash_blake2b_salt_personal(b, 32, NULL, 0, dek, 32, salt, personal);
        assert_memory_equal(a, b, 32);
    }
}

/* ==== generation ======================================================================= */

/* Text zstd cannot shrink much (xorshift64 from seed, letters, digits, '+' and '/'): each
 * payload record is compressed alone, so only such text makes records span chunks. */
static void noise(sb *b, uint64_t seed, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sb_add(b, &alphabet[x & 63], 1);
    }
}

/* v2-multi: 64 KiB chunks; payloads and a record spanning chunks (README describes them). */
static void multi_secrets(sb s[3])
{
    sb_str(&s[0],
           "{\"id\":\"multi-1\",\"name\":\"big\",\"secret_type\":\"arbitrary\",\"payload\":\"");
    noise(&s[0], 1, 180000);
    sb_str(&s[0], "\",\"versions\":[{\"id\":\"multi-1-v1\",\"created_at\":\"2026-09-01T00:00:00Z\","
                  "\"payload\":\"");
    noise(&s[0], 2, 40000);
    sb_str(&s[0],
           "\"},{\"id\":\"multi-1-v2\",\"created_at\":\"2026-10-01T00:00:00Z\",\"payload\":\"");
    noise(&s[0], 1, 180000);
    sb_str(&s[0], "\"}]}");
    sb_str(&s[1], "{\"id\":\"multi-2\",\"name\":\"long-description\",\"secret_type\":\"arbitrary\","
                  "\"description\":\"");
    pattern(&s[1], "lorem ipsum dolor sit amet ", 70000);
    sb_str(&s[1], "\",\"payload\":\"short\"}");
    sb_str(&s[2], "{\"id\":\"multi-3\",\"name\":\"big\",\"secret_type\":\"username_password\","
                  "\"username\":\"u\",\"password\":\"p\"}");
}

static const char *const RECIPIENT[] = {
    "{\"id\":\"recipient-1\",\"name\":\"dr\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"opened by the identity or by b\",\"versions\":[{\"id\":\"recipient-1-v1\","
    "\"created_at\":\"2026-10-10T00:00:00Z\",\"payload\":\"opened by the identity or by b\"}]}",
};

/* An archive taken apart at the format level (§3) and put back together the way an
 * attacker without a key would: fresh offsets, chunk hashes and root hash; the root MAC and
 * the signature are kept, or recomputed when their keys are given. */
typedef struct parts {
    sb header, slots;
    uint8_t trailer[SR2_TRAILER];
    size_t n;
    sb *chunk;
    uint8_t *section, *flags;
} parts;

static void parts_split(parts *p, const uint8_t *d, size_t n)
{
    sr2 r;
    memset(p, 0, sizeof *p);
    if (sr2_open(&r, d, n))
        fail_msg("parts_split: %s", r.why);
    sb_add(&p->header, r.header, r.hlen);
    sb_add(&p->slots, r.slots, r.slot_area_len);
    memcpy(p->trailer, r.trailer, SR2_TRAILER);
    p->n = r.count;
    p->chunk = calloc(r.count, sizeof *p->chunk);
    p->section = calloc(r.count, 1);
    p->flags = calloc(r.count, 1);
    for (uint32_t i = 0; i < r.count; i++) {
        sb_add(&p->chunk[i], r.c[i].bytes, r.c[i].len);
        p->section[i] = r.c[i].section;
        p->flags[i] = r.c[i].flags;
    }
    sr2_free(&r);
}

static void parts_free(parts *p)
{
    sb_free(&p->header);
    sb_free(&p->slots);
    for (size_t i = 0; i < p->n; i++)
        sb_free(&p->chunk[i]);
    free(p->chunk);
    free(p->section);
    free(p->flags);
}

/* The file, the trailer's positions, root hash and (when their keys are given) signature
 * and root MAC updated in p. sign_sk: re-sign (the trailer's signer field must hold its
 * public key); mac_key: the root-MAC subkey, to recompute the root MAC as a DEK holder would. */
static void parts_join(parts *p, const uint8_t *sign_sk, const uint8_t *mac_key, sb *out)
{
    sb table = {0};
    uint8_t *tr = p->trailer, content[32], msg[64];
    memset(out, 0, sizeof *out);
    sb_add(out, p->header.p, p->header.n);
    for (size_t i = 0; i < p->n; i++) {
        uint8_t e[48] = {0};
        put64(e, out->n);
        put32(e + 8, (uint32_t)p->chunk[i].n);
        e[12] = p->section[i];
        e[13] = p->flags[i];
        crypto_generichash(e + 16, 32, p->chunk[i].p, p->chunk[i].n, NULL, 0);
        sb_add(&table, e, sizeof e);
        sb_add(out, p->chunk[i].p, p->chunk[i].n);
    }
    put64(tr, out->n);
    put32(tr + 8, (uint32_t)p->n);
    put32(tr + 36, (uint32_t)p->slots.n);
    sr2_content(tr, p->header.p, p->header.n, table.p, table.n, content);
    if (sign_sk) {
        sr2_sign_message(tr + 16, content, msg);
        crypto_sign_detached(tr + 136, NULL, msg, sizeof msg, sign_sk);
    }
    if (mac_key)
        sr2_root_mac(mac_key, content, tr, p->slots.p, p->slots.n, tr + 72);
    sr2_root_hash(content, tr, p->slots.p, p->slots.n, tr + 40);
    sb_add(out, table.p, table.n);
    sb_add(out, p->slots.p, p->slots.n);
    sb_add(out, tr, SR2_TRAILER);
    sb_free(&table);
}

static void save_parts(const char *file, parts *p, const uint8_t *sign_sk, const uint8_t *mac_key)
{
    sb out;
    parts_join(p, sign_sk, mac_key, &out);
    vwrite(file, out.p, out.n);
    sb_free(&out);
}

/* The DEK and root-MAC subkey of an archive, through the independent reader. */
static void archive_keys(const mem_archive *a, const char *key_file, uint8_t dek[32],
                         uint8_t mac_key[32])
{
    sr2 r;
    char *kt = key_text(key_file);
    if (sr2_open(&r, a->data, a->len) || sr2_unlock(&r, kt))
        fail_msg("archive_keys: %s", r.why);
    memcpy(dek, r.dek, 32);
    memcpy(mac_key, r.sub[3], 32);
    sr2_free(&r);
    free(kt);
}

/* A local slot (§5.2) appended to a slot area: the DEK wrapped with the keyring file's
 * key version, bound to archive_id. */
static void add_local_slot(sb *area, const char *key_file, const char *kid, uint32_t version,
                           const uint8_t dek[32], const uint8_t archive_id[16])
{
    uint8_t key[32], aad[600], wrapped[72];
    sb prefix = {0};
    char *kt = key_text(key_file);
    uint8_t head[3] = {1, 0, (uint8_t)strlen(kid)}, kind = 1, v[4], wlen[4];
    assert_true(keyring_file_key(kt, kid, strlen(kid), version, key));
    free(kt);
    put32(v, version);
    sb_add(&prefix, head, 3);
    sb_str(&prefix, kid);
    sb_add(&prefix, &kind, 1);
    sb_add(&prefix, v, 4);
    /* the AAD ends with the key id: the version is not bound (§5.2) */
    sr2_slot s = {.start = prefix.p, .aad_tail = 3 + strlen(kid)};
    size_t alen = sr2_slot_aad(archive_id, &s, aad);
    randombytes_buf(wrapped, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 24, NULL, dek, 32, aad, alen, NULL,
                                               wrapped, key);
    sodium_memzero(key, sizeof key);
    put32(wlen, sizeof wrapped);
    sb_add(area, prefix.p, prefix.n);
    sb_add(area, wlen, 4);
    sb_add(area, wrapped, sizeof wrapped);
    sb_free(&prefix);
}

static void area_header(sb *area, uint16_t count)
{
    uint8_t h[4] = {0};
    put16(h, count);
    memset(area, 0, sizeof *area);
    sb_add(area, h, 4);
}

/* The slot of provider 200 of neg2-unknown-provider: a 255-byte UTF-8 key id, a 1120-byte
 * blob, version kind 2 (a string). */
static void add_unknown_slot(sb *area)
{
    uint8_t head[3] = {200, 0, 255}, kind = 2, vlen = 4, wlen[4], blob[1120];
    sb kid = {0};
    sb_str(&kid, "provider-200-");
    while (kid.n + 3 <= 253)
        sb_str(&kid, "\xe7\xa7\x98"); /* U+79D8 */
    sb_str(&kid, "-k");
    assert_int_equal(kid.n, 255);
    sb_add(area, head, 3);
    sb_add(area, kid.p, kid.n);
    sb_add(area, &kind, 1);
    sb_add(area, &vlen, 1);
    sb_str(area, "v-42");
    put32(wlen, sizeof blob);
    randombytes_buf(blob, sizeof blob);
    sb_add(area, wlen, 4);
    sb_add(area, blob, sizeof blob);
    sb_free(&kid);
}

static smar_keyring *new_keyring(const char *kid, int rotations)
{
    smar_keyring *kr;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, kid), SMAR_OK);
    for (int i = 0; i < rotations; i++)
        assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    return kr;
}

/* The recipient's identity and recipient files; the producer wraps with the recipient
 * file alone. */
static smar_keyring *make_recipient(void)
{
    smar_keyring *id, *rcpt;
    char *idp = vpath("recipient.key"), *pubp = vpath("recipient.key.pub");
    assert_int_equal(smar_keyring_new(&id), SMAR_OK);
    assert_int_equal(smar_keyring_generate_identity(id, "vectors-recipient"), SMAR_OK);
    assert_int_equal(smar_keyring_save_identity(id, idp, NULL, SMAR_SAVE_OVERWRITE), SMAR_OK);
    assert_int_equal(smar_keyring_save_recipient(id, pubp, SMAR_SAVE_OVERWRITE), SMAR_OK);
    smar_keyring_free(id);
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_recipient(rcpt, pubp), SMAR_OK);
    free(idp);
    free(pubp);
    return rcpt;
}

/* other-signer: made with libsodium so that the generator can re-sign with it; its public
 * key file is written in the format of smar_signkey_save_public (KEYRING.md). */
static void make_stranger(uint8_t sk[64])
{
    uint8_t pk[32];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sb f = {0};
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    sb_printf(&f,
              "{\n  \"type\": \"smar-signing-public-key\",\n  \"format\": 1,\n"
              "  \"public_key\": \"%s\"\n}\n",
              b64);
    vwrite("other-signer.pub.json", f.p, f.n);
    sb_free(&f);
}

typedef struct made {
    mem_archive basic, signed_archive, aes;
} made;

static void generate_positive(made *m, smar_keyring *a, smar_keyring *b, smar_keyring *rcpt,
                              smar_signkey *signer)
{
    mem_archive x;
    smar_keyring *ab[2] = {a, b}, *rb[2] = {rcpt, b};
    make_archive(&m->basic, ab, 1, NULL, 0, 0, BASIC, 5, DOCUMENT);
    vwrite("v2-basic.smar", m->basic.data, m->basic.len);
    make_archive(&x, ab, 2, NULL, 0, 0, TWO_SLOTS, 2, DOCUMENT);
    vwrite("v2-two-slots.smar", x.data, x.len);
    free(x.data);
    make_archive(&m->signed_archive, ab, 1, signer, 0, 0, SIGNED, 2, DOCUMENT);
    vwrite("v2-signed.smar", m->signed_archive.data, m->signed_archive.len);
    make_archive(&x, &b, 1, NULL, 0, 0, NULL, 0, NULL);
    vwrite("v2-empty.smar", x.data, x.len);
    free(x.data);
    if (crypto_aead_aes256gcm_is_available()) {
        make_archive(&m->aes, &b, 1, NULL, SMAR_SUITE_AES256GCM, 0, AES, 2, DOCUMENT);
        vwrite("v2-aes.smar", m->aes.data, m->aes.len);
    } else {
        fail_msg("AES-256-GCM unavailable: generate the vectors on a host that has it");
    }
    sb ms[3] = {{0}, {0}, {0}};
    multi_secrets(ms);
    const char *mtext[3] = {(const char *)ms[0].p, (const char *)ms[1].p, (const char *)ms[2].p};
    make_archive(&x, ab, 1, NULL, 0, 64u << 10, mtext, 3, DOCUMENT);
    vwrite("v2-multi.smar", x.data, x.len);
    free(x.data);
    for (int i = 0; i < 3; i++)
        sb_free(&ms[i]);
    make_archive(&x, rb, 2, signer, 0, 0, RECIPIENT, 1, DOCUMENT);
    vwrite("v2-recipient.smar", x.data, x.len);
    free(x.data);
}

/* v2-rewrapped: v2-signed's slot rewrapped to keyring-a's current version 3 by smar_rewrap
 * (§14.2): header, chunks, table and signature kept; new slot area, root MAC, root hash. */
static void generate_rewrapped(const mem_archive *signed_archive, smar_keyring *a)
{
    smar_reader *r;
    smar_file_sink *fs;
    smar_sink sink;
    smar_rewrap_options o = SMAR_REWRAP_OPTIONS_INIT;
    smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
    smar_file_sink_options fo = SMAR_FILE_SINK_OPTIONS_INIT;
    char *path = vpath("v2-rewrapped.smar");
    o.rewrap_keys = &a;
    o.rewrap_count = 1;
    assert_int_equal(fx_open_mem(&r, signed_archive->data, signed_archive->len), SMAR_OK);
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    fo.flags = SMAR_FILE_SINK_REPLACE;
    fo.mode = 0644;
    assert_int_equal(smar_file_sink_open(fs, path, &fo), SMAR_OK);
    smar_file_sink_as_sink(fs, &sink);
    if (smar_rewrap(r, &a, 1, &o, &sink, &res) != SMAR_OK)
        fail_msg("rewrap: %s", smar_reader_error(r));
    assert_int_equal(res.rewrapped, 1);
    smar_file_sink_free(fs);
    smar_reader_free(r);
    free(path);
}

/* Slot forgeries on v2-basic. */
static void generate_slot_negatives(const mem_archive *basic)
{
    parts p;
    uint8_t dek[32], mac_key[32], other[32];
    sr2 r;
    archive_keys(basic, "keyring-a.json", dek, mac_key);
    assert_int_equal(sr2_open(&r, basic->data, basic->len), 0);
    size_t wrapped_at = (size_t)(r.slot[0].wrapped - r.slots);
    size_t slots_at = (size_t)(r.slots - basic->data);
    sr2_free(&r);

    /* a byte of the wrapped DEK changed, root hash recomputed (no key needed) */
    parts_split(&p, basic->data, basic->len);
    p.slots.p[wrapped_at + 40] ^= 0xff;
    save_parts("neg2-slot-altered.smar", &p, NULL, NULL);
    parts_free(&p);

    /* one bit flipped, nothing recomputed */
    sb d = {0};
    sb_add(&d, basic->data, basic->len);
    d.p[slots_at + wrapped_at + 30] ^= 0x01;
    vwrite("neg2-bitflip-slot.smar", d.p, d.n);
    sb_free(&d);

    /* a slot wrapping another DEK, with the root MAC that DEK gives: only dek_commit stops it */
    parts_split(&p, basic->data, basic->len);
    sb_free(&p.slots);
    area_header(&p.slots, 1);
    randombytes_buf(other, sizeof other);
    add_local_slot(&p.slots, "keyring-a.json", "rk-vectors-a", 2, other, p.trailer + 16);
    uint8_t other_mac_key[32];
    crypto_kdf_derive_from_key(other_mac_key, 32, 3, "smar-v2\0", other);
    save_parts("neg2-dek-commit.smar", &p, NULL, other_mac_key);
    parts_free(&p);

    /* an extra slot of an unknown provider first, the archive's own slot kept byte for byte */
    parts_split(&p, basic->data, basic->len);
    sb own = p.slots;
    area_header(&p.slots, 2);
    add_unknown_slot(&p.slots);
    sb_add(&p.slots, own.p + 4, own.n - 4);
    sb_free(&own);
    save_parts("neg2-unknown-provider.smar", &p, NULL, mac_key);
    parts_free(&p);
    sodium_memzero(dek, sizeof dek);
}

/* Signer forgeries on v2-signed. */
static void generate_signer_negatives(const mem_archive *signed_archive, const uint8_t sk[64])
{
    parts p;
    uint8_t dek[32], mac_key[32];
    archive_keys(signed_archive, "keyring-a.json", dek, mac_key);
    sodium_memzero(dek, sizeof dek);
    /* re-signed by other-signer, root MAC recomputed by a DEK holder */
    parts_split(&p, signed_archive->data, signed_archive->len);
    crypto_sign_ed25519_sk_to_pk(p.trailer + 104, sk);
    save_parts("neg2-resigned.smar", &p, sk, mac_key);
    parts_free(&p);
    /* the same without the DEK: the root MAC still covers the first signer */
    parts_split(&p, signed_archive->data, signed_archive->len);
    crypto_sign_ed25519_sk_to_pk(p.trailer + 104, sk);
    save_parts("neg2-signer-swapped.smar", &p, sk, NULL);
    parts_free(&p);
}

/* Damage and versions on v2-basic; the AES-256-GCM cap on v2-aes's header. */
static void generate_file_negatives(const mem_archive *basic, const mem_archive *aes)
{
    sb d = {0};
    sb_add(&d, basic->data, basic->len);
    vwrite("neg2-truncated.smar", d.p, d.n - 1);
    sb_add(&d, "", 1);
    vwrite("neg2-extended.smar", d.p, d.n);
    d.n--;
    d.p[8] = 3;                       /* header major */
    d.p[d.n - SR2_TRAILER + 200] = 3; /* trailer major */
    vwrite("neg2-version3.smar", d.p, d.n);
    sb_free(&d);

    /* 4097 chunks of 16 MiB declared: one over 2^36. The cap is checked at open, after the
     * table (a well-formed one is needed) and before any chunk is read: the chunks are
     * 21 zero bytes each, the smallest stored size. */
    parts p, src;
    parts_split(&src, aes->data, aes->len);
    memset(&p, 0, sizeof p);
    sb_add(&p.header, src.header.p, src.header.n);
    put32(p.header.p + 24, 16u << 20);
    sb_add(&p.slots, src.slots.p, src.slots.n);
    memcpy(p.trailer, src.trailer, SR2_TRAILER);
    p.n = 4097;
    p.chunk = calloc(p.n, sizeof *p.chunk);
    p.section = calloc(p.n, 1);
    p.flags = calloc(p.n, 1);
    static const uint8_t zero[21];
    for (size_t i = 0; i < p.n; i++) {
        sb_add(&p.chunk[i], zero, sizeof zero);
        p.section[i] = i + 1 < p.n ? 1 : 4;
        p.flags[i] = i + 2 >= p.n ? 1 : 0;
    }
    save_parts("neg2-aes-over-cap.smar", &p, NULL, NULL);
    parts_free(&p);
    parts_free(&src);
}

static void generate(void)
{
    /* keyrings: a has versions 1, 2 (archives are wrapped with 2) and 3 (v2-rewrapped) */
    smar_keyring *a = new_keyring("rk-vectors-a", 0), *b = new_keyring("rk-vectors-b", 0);
    smar_keyring *wrong = new_keyring("rk-vectors-a", 1),
                 *other = new_keyring("rk-vectors-other", 0);
    save_keyring(a, "keyring-a-v1.json");
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    save_keyring(a, "keyring-a-v2.json");
    save_keyring(b, "keyring-b.json");
    save_keyring(wrong, "keyring-a-wrong.json");
    save_keyring(other, "keyring-other.json");
    smar_keyring *rcpt = make_recipient();
    smar_signkey *signer;
    uint8_t stranger[64];
    assert_int_equal(smar_signkey_new(&signer), SMAR_OK);
    assert_int_equal(smar_signkey_generate(signer), SMAR_OK);
    char *path = vpath("signer.pub.json");
    assert_int_equal(smar_signkey_save_public(signer, path, SMAR_SAVE_OVERWRITE), SMAR_OK);
    free(path);
    make_stranger(stranger);

    made m;
    memset(&m, 0, sizeof m);
    generate_positive(&m, a, b, rcpt, signer);
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    save_keyring(a, "keyring-a.json");
    generate_rewrapped(&m.signed_archive, a);
    generate_slot_negatives(&m.basic);
    generate_signer_negatives(&m.signed_archive, stranger);
    generate_file_negatives(&m.basic, &m.aes);

    sodium_memzero(stranger, sizeof stranger);
    free(m.basic.data);
    free(m.signed_archive.data);
    free(m.aes.data);
    smar_keyring_free(a);
    smar_keyring_free(b);
    smar_keyring_free(wrong);
    smar_keyring_free(other);
    smar_keyring_free(rcpt);
    smar_signkey_free(signer);
}

/* ==== format 2.1: incremental archives (FORMAT.md §26) =================================== */

#define DAY_NS 86400000000000LL

/* incr-base (a full archive, a day before SNAPSHOT), then incr-1 over it (SNAPSHOT) and
 * incr-2 over incr-1 (a day later). README describes what changes from one to the next. */
static const char *const INCR_BASE[5] = {
    "{\"id\":\"incr-same\",\"name\":\"same\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-19T01:00:00Z\",\"payload\":\"unchanged payload\","
    "\"versions\":[{\"id\":\"incr-same-v1\",\"created_at\":\"2026-10-01T00:00:00Z\","
    "\"payload\":\"unchanged payload\"}]}",
    "{\"id\":\"incr-two\",\"name\":\"two\",\"secret_type\":\"arbitrary\",\"downloaded\":false,"
    "\"state\":1,\"retrieved_at\":\"2026-11-19T01:00:00Z\",\"payload\":\"two patches\"}",
    "{\"id\":\"incr-rotated\",\"name\":\"rotated\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"old value\",\"versions\":[{\"id\":\"incr-rotated-v1\","
    "\"created_at\":\"2026-10-02T00:00:00Z\",\"payload\":\"old value\"}]}",
    "{\"id\":\"incr-deleted\",\"name\":\"deleted\",\"secret_type\":\"username_password\","
    "\"username\":\"u\",\"password\":\"gone tomorrow\"}",
    "{\"id\":\"incr-kept\",\"name\":\"kept\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-19T01:00:00Z\",\"payload\":\"kept until incr-2\"}",
};

static const char *const INCR_1[5] = {
    "{\"id\":\"incr-same\",\"name\":\"same\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-20T01:00:00Z\",\"payload\":\"unchanged payload\","
    "\"versions\":[{\"id\":\"incr-same-v1\",\"created_at\":\"2026-10-01T00:00:00Z\","
    "\"payload\":\"unchanged payload\"}]}",
    "{\"id\":\"incr-two\",\"name\":\"two\",\"secret_type\":\"arbitrary\",\"downloaded\":true,"
    "\"state\":1,\"retrieved_at\":\"2026-11-20T01:00:00Z\",\"payload\":\"two patches\"}",
    "{\"id\":\"incr-rotated\",\"name\":\"rotated\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"new value\",\"versions\":[{\"id\":\"incr-rotated-v1\","
    "\"created_at\":\"2026-10-02T00:00:00Z\",\"payload\":\"old value\"},"
    "{\"id\":\"incr-rotated-v2\",\"created_at\":\"2026-11-19T12:00:00Z\","
    "\"payload\":\"new value\"}]}",
    "{\"id\":\"incr-new\",\"name\":\"new\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"born in incr-1\"}",
    "{\"id\":\"incr-kept\",\"name\":\"kept\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-19T01:00:00Z\",\"payload\":\"kept until incr-2\"}",
};

/* incr-2: incr-kept changes only its retrieved_at, and incr-1 holds it as a type 3 record
 * into incr-base: incr-2's record points into incr-base directly (flattened). */
static const char *const INCR_2[4] = {
    "{\"id\":\"incr-same\",\"name\":\"same\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-21T01:00:00Z\",\"payload\":\"unchanged payload\","
    "\"versions\":[{\"id\":\"incr-same-v1\",\"created_at\":\"2026-10-01T00:00:00Z\","
    "\"payload\":\"unchanged payload\"}]}",
    "{\"id\":\"incr-rotated\",\"name\":\"rotated\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"new value\",\"versions\":[{\"id\":\"incr-rotated-v1\","
    "\"created_at\":\"2026-10-02T00:00:00Z\",\"payload\":\"old value\"},"
    "{\"id\":\"incr-rotated-v2\",\"created_at\":\"2026-11-19T12:00:00Z\","
    "\"payload\":\"new value\"}]}",
    "{\"id\":\"incr-new\",\"name\":\"new\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"born in incr-1\"}",
    "{\"id\":\"incr-kept\",\"name\":\"kept\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-21T01:00:00Z\",\"payload\":\"kept until incr-2\"}",
};

/* ==== format 2.2: export digests (FORMAT.md §26.6) ====================================
 * incr-3 over incr-2 (2.1, no digests: every secret parsed, the table keyed with incr-3's
 * own K_digest) and incr-4 over incr-3 (incr-same, incr-new and incr-kept change only
 * their retrieved_at: digest hits, never parsed; incr-rotated gets a third version). */
static const char *const INCR_3[4] = {
    "{\"id\":\"incr-same\",\"name\":\"same\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-22T01:00:00Z\",\"payload\":\"unchanged payload\","
    "\"versions\":[{\"id\":\"incr-same-v1\",\"created_at\":\"2026-10-01T00:00:00Z\","
    "\"payload\":\"unchanged payload\"}]}",
    "{\"id\":\"incr-rotated\",\"name\":\"rotated\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"new value\",\"versions\":[{\"id\":\"incr-rotated-v1\","
    "\"created_at\":\"2026-10-02T00:00:00Z\",\"payload\":\"old value\"},"
    "{\"id\":\"incr-rotated-v2\",\"created_at\":\"2026-11-19T12:00:00Z\","
    "\"payload\":\"new value\"}]}",
    "{\"id\":\"incr-new\",\"name\":\"new\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-22T02:00:00Z\",\"payload\":\"born in incr-1\"}",
    "{\"id\":\"incr-kept\",\"name\":\"kept\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-22T01:00:00Z\",\"payload\":\"kept until incr-2\"}",
};

static const char *const INCR_4[4] = {
    "{\"id\":\"incr-same\",\"name\":\"same\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-23T01:00:00Z\",\"payload\":\"unchanged payload\","
    "\"versions\":[{\"id\":\"incr-same-v1\",\"created_at\":\"2026-10-01T00:00:00Z\","
    "\"payload\":\"unchanged payload\"}]}",
    "{\"id\":\"incr-rotated\",\"name\":\"rotated\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"third value\",\"versions\":[{\"id\":\"incr-rotated-v1\","
    "\"created_at\":\"2026-10-02T00:00:00Z\",\"payload\":\"old value\"},"
    "{\"id\":\"incr-rotated-v2\",\"created_at\":\"2026-11-19T12:00:00Z\","
    "\"payload\":\"new value\"},{\"id\":\"incr-rotated-v3\","
    "\"created_at\":\"2026-11-22T12:00:00Z\",\"payload\":\"third value\"}]}",
    "{\"id\":\"incr-new\",\"name\":\"new\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-23T02:00:00Z\",\"payload\":\"born in incr-1\"}",
    "{\"id\":\"incr-kept\",\"name\":\"kept\",\"secret_type\":\"arbitrary\","
    "\"retrieved_at\":\"2026-11-23T01:00:00Z\",\"payload\":\"kept until incr-2\"}",
};

/* A reader of an archive in memory, unlocked with key_file, its bases attached. */
static smar_reader *open_unlocked(const uint8_t *d, size_t n, const char *key_file,
                                  smar_reader *const *bases, size_t nbases)
{
    smar_reader *r;
    smar_keyring *k = keyring(key_file);
    assert_int_equal(fx_open_mem(&r, d, n), SMAR_OK);
    if (smar_reader_unlock(r, &k, 1) != SMAR_OK)
        fail_msg("unlock: %s", smar_reader_error(r));
    for (size_t i = 0; i < nbases; i++)
        if (smar_reader_attach_base(r, i, bases[i]) != SMAR_OK)
            fail_msg("attach base %zu: %s", i, smar_reader_error(r));
    return r;
}

static void make_incremental(mem_archive *out, smar_keyring *k, smar_reader *base, int64_t snapshot,
                             const char *const *secrets, size_t n)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = snapshot;
    o.created_time = snapshot + 5000000000LL;
    memset(out, 0, sizeof *out);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, k), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, out), SMAR_OK);
    if (base && smar_writer_set_base(w, base) != SMAR_OK)
        fail_msg("set_base: %s", smar_writer_error(w));
    for (size_t i = 0; i < n; i++)
        if (smar_writer_add_secret(w, secrets[i], strlen(secrets[i])) != SMAR_OK)
            fail_msg("secret %zu: %s", i, smar_writer_error(w));
    assert_int_equal(smar_writer_set_document(w, DOCUMENT, strlen(DOCUMENT)), SMAR_OK);
    if (smar_writer_finish(w) != SMAR_OK)
        fail_msg("finish: %s", smar_writer_error(w));
    smar_writer_free(w);
}

/* A manifest-level forgery by a DEK holder: the manifest stream edited in place (same
 * length, so every chunk keeps its bounds and the index stays right), each manifest chunk
 * resealed with its old |P| where the new frame fits, the root MAC recomputed. */
static void reseal_manifest(const mem_archive *a, const char *key_file, sr2 *r, const sb *manifest,
                            const char *out)
{
    parts p;
    uint8_t dek[32], mac_key[32];
    archive_keys(a, key_file, dek, mac_key);
    parts_split(&p, a->data, a->len);
    for (uint32_t i = 0; i < r->count; i++) {
        const sr2_chunk *c = &r->c[i];
        if (c->section != 2)
            continue;
        size_t cap = ZSTD_compressBound(c->plen);
        sb P = {0};
        uint8_t *z = malloc(cap), nonce[24], aad[46], len[4];
        size_t zn = ZSTD_compress(z, cap, manifest->p + c->sofs, c->plen, 3);
        assert_false(ZSTD_isError(zn));
        put32(len, (uint32_t)zn);
        sb_add(&P, len, 4);
        sb_add(&P, z, zn);
        while (P.n < c->sealed_len)
            sb_add(&P, "", 1);
        sr2_nonce_aad(r, i, nonce, aad);
        sb_free(&p.chunk[i]);
        p.chunk[i].p = malloc(P.n + 16);
        p.chunk[i].n = p.chunk[i].cap = P.n + 16;
        crypto_aead_xchacha20poly1305_ietf_encrypt(p.chunk[i].p, NULL, P.p, P.n, aad, sizeof aad,
                                                   NULL, nonce, r->sub[2]);
        sb_free(&P);
        free(z);
    }
    save_parts(out, &p, NULL, mac_key);
    parts_free(&p);
    sodium_memzero(dek, sizeof dek);
}

/* The stream offset of the first type 3 record of a decoded manifest with npatch patches. */
static size_t find_reference(const sb *m, unsigned npatch)
{
    for (size_t pos = 0; pos + 4 < m->n; pos += 4 + (size_t)le32(m->p + pos))
        if (m->p[pos + 4] == 3 && le16(m->p + pos + 19) == npatch)
            return pos;
    fail_msg("no type 3 record with %u patches", npatch);
    return 0;
}

static void generate_incremental_negatives(const mem_archive *base, const mem_archive *incr)
{
    sr2 r;
    char *kt = key_text("keyring-a.json");
    assert_int_equal(sr2_open(&r, incr->data, incr->len), 0);
    assert_int_equal(sr2_unlock(&r, kt), 0);
    assert_int_equal(sr2_decode_all(&r), 0);
    sb m = {0};
    sb_add(&m, r.stream[2].p, r.stream[2].n);

    /* a type 3 record naming base index base_count */
    size_t at = find_reference(&m, 1);
    m.p[at + 6] = (uint8_t)r.nbases;
    reseal_manifest(incr, "keyring-a.json", &r, &m, "neg21-ref-out-of-range.smar");
    m.p[at + 6] = 0;

    /* the two patches of incr-two: the second's member made equal to the first's */
    at = find_reference(&m, 2);
    size_t second = at + 21 + 2 + 4 + le32(m.p + at + 23);
    memcpy(m.p + second, m.p + at + 21, 2);
    reseal_manifest(incr, "keyring-a.json", &r, &m, "neg21-patch-order.smar");
    sb_free(&m);

    /* the header's base entry names another content digest; re-MACed by a DEK holder */
    uint8_t dek[32], mac_key[32];
    parts p;
    archive_keys(incr, "keyring-a.json", dek, mac_key);
    parts_split(&p, incr->data, incr->len);
    p.header.p[100 + 16] ^= 0x01;
    save_parts("neg21-base-swapped.smar", &p, NULL, mac_key);
    parts_free(&p);
    sodium_memzero(dek, sizeof dek);
    sr2_free(&r);

    /* a full archive with the INCREMENTAL flag and no base list: minor 0, header 96 bytes;
     * root hash recomputed (no key) */
    parts_split(&p, base->data, base->len);
    p.header.p[16] |= 1;
    save_parts("neg21-flag-without-list.smar", &p, NULL, NULL);
    parts_free(&p);
    free(kt);
}

static void generate_incremental(void)
{
    smar_keyring *a = keyring("keyring-a.json");
    mem_archive base, i1, i2;
    make_incremental(&base, a, NULL, SNAPSHOT - DAY_NS, INCR_BASE, 5);
    vwrite("incr-base.smar", base.data, base.len);
    smar_reader *rb = open_unlocked(base.data, base.len, "keyring-a.json", NULL, 0);
    make_incremental(&i1, a, rb, SNAPSHOT, INCR_1, 5);
    vwrite("incr-1.smar", i1.data, i1.len);
    smar_reader *r1 = open_unlocked(i1.data, i1.len, "keyring-a.json", &rb, 1);
    make_incremental(&i2, a, r1, SNAPSHOT + DAY_NS, INCR_2, 4);
    vwrite("incr-2.smar", i2.data, i2.len);
    smar_reader_free(r1);
    smar_reader_free(rb);
    generate_incremental_negatives(&base, &i1);
    free(base.data);
    free(i1.data);
    free(i2.data);
}

/* ---- checking them ---- */

static bool g_write21; /* SMAR_WRITE_VECTORS=21: (re)generate the format 2.1 vectors only */
static bool g_write22; /* SMAR_WRITE_VECTORS=22: (re)generate the format 2.2 vectors only */

/* The base files of each incremental vector, in the order of its header's list. */
typedef struct incr_vector {
    const char *file;
    const char *bases[4];
    size_t nbases;
} incr_vector;

static const incr_vector INCREMENTALS[] = {
    {"incr-1.smar", {"incr-base.smar"}, 1},
    {"incr-2.smar", {"incr-1.smar", "incr-base.smar"}, 2},
};

typedef struct lib_chain {
    uint8_t *data[5];
    smar_reader *r[5]; /* the archive's bases, each with its own bases attached */
} lib_chain;

/* Readers of base files, each unlocked and with its own bases (the later files) attached. */
static void lib_bases(const incr_vector *v, lib_chain *ch)
{
    memset(ch, 0, sizeof *ch);
    for (size_t k = v->nbases; k-- > 0;) {
        size_t n;
        ch->data[k] = vread(v->bases[k], &n);
        ch->r[k] =
            open_unlocked(ch->data[k], n, "keyring-a.json", &ch->r[k + 1], v->nbases - 1 - k);
    }
}

static void lib_chain_free(lib_chain *ch)
{
    for (size_t k = 0; k < 5; k++) {
        smar_reader_free(ch->r[k]);
        free(ch->data[k]);
    }
}

static void describe_bases(smar_reader *r, sb *o)
{
    smar_archive_info ai = SMAR_ARCHIVE_INFO_INIT;
    assert_int_equal(smar_reader_info(r, &ai), SMAR_OK);
    sb_printf(o, "incremental: %d, bases %zu\n", ai.incremental, ai.base_count);
    for (size_t i = 0; i < ai.base_count; i++) {
        smar_base_info b = SMAR_BASE_INFO_INIT;
        assert_int_equal(smar_reader_base(r, i, &b), SMAR_OK);
        sb_printf(o, "base %zu: snapshot %" PRId64 ", archive_id ", i, (int64_t)b.snapshot);
        sb_hex(o, b.archive_id, 16);
        sb_str(o, ", content ");
        sb_hex(o, b.content, 32);
        sb_str(o, "\n");
    }
}

static void check_incremental_lib(const incr_vector *v, rendered *rd)
{
    lib_chain ch;
    sb o = {0};
    char name[128];
    lib_bases(v, &ch);
    smar_reader *r = open_vector(v->file);
    describe_clear(r, v->file, describe_slots, &o);
    describe_bases(r, &o);
    describe_keyless(r, v->file, NULL, &o);
    unlock_with(r, v->file, "keyring-a.json");
    for (size_t k = 0; k < v->nbases; k++)
        if (smar_reader_attach_base(r, k, ch.r[k]) != SMAR_OK)
            fail_msg("%s: attach %s: %s", v->file, v->bases[k], smar_reader_error(r));
    describe_unlocked(r, v->file, NULL, &o, rd);
    base_name(name, sizeof name, v->file, ".info.txt");
    vexpect(name, &o);
    base_name(name, sizeof name, v->file, ".secrets.jsonl");
    vexpect(name, &rd->text);
    smar_reader_free(r);
    lib_chain_free(&ch);
    sb_free(&o);
}

typedef struct spec_chain { /* an archive and up to 4 bases (incr-4's chain) */
    uint8_t *data[5];
    size_t n[5];
    sr2 r[5];
    size_t opened;
} spec_chain;

static int spec_open_unlocked(spec_chain *ch, size_t k, const char *file, const char *kt)
{
    ch->data[k] = vread(file, &ch->n[k]);
    ch->opened = k + 1;
    return sr2_open(&ch->r[k], ch->data[k], ch->n[k]) || sr2_unlock(&ch->r[k], kt) ? -1 : 0;
}

static void spec_chain_free(spec_chain *ch)
{
    for (size_t k = 0; k < ch->opened; k++) {
        sr2_free(&ch->r[k]);
        free(ch->data[k]);
    }
}

/* The independent reader: slot 0 the archive, 1.. its bases, attached; -1 when a step fails. */
static int spec_incremental(const char *file, const char *const *bases, size_t nbases,
                            spec_chain *ch, sb *out)
{
    char *kt = key_text("keyring-a.json");
    int rc = spec_open_unlocked(ch, 0, file, kt);
    for (size_t k = 0; rc == 0 && k < nbases; k++)
        rc = spec_open_unlocked(ch, k + 1, bases[k], kt) ||
             sr2_attach(&ch->r[0], (unsigned)k, &ch->r[k + 1]);
    if (rc == 0)
        rc = sr2_read(&ch->r[0], out);
    free(kt);
    return rc;
}

static void test_incremental(void **state)
{
    (void)state;
    if (g_write21)
        generate_incremental();
    for (size_t i = 0; i < sizeof INCREMENTALS / sizeof INCREMENTALS[0]; i++) {
        const incr_vector *v = &INCREMENTALS[i];
        rendered rd = {0};
        spec_chain ch = {0};
        sb spec = {0}, internals = {0};
        char name[128];
        check_incremental_lib(v, &rd);
        if (spec_incremental(v->file, v->bases, v->nbases, &ch, &spec))
            fail_msg("%s: independent reader: %s", v->file, ch.r[0].why);
        assert_true(same_bytes(spec.p, spec.n, rd.text.p, rd.text.n));
        sr2_internals(&ch.r[0], v->file, &internals);
        base_name(name, sizeof name, v->file, ".internals.txt");
        vexpect(name, &internals);
        spec_chain_free(&ch);
        sb_free(&spec);
        sb_free(&internals);
        rendered_free(&rd);
    }
}

static const incr_vector INCREMENTALS22[] = {
    {"incr-3.smar", {"incr-2.smar", "incr-1.smar", "incr-base.smar"}, 3},
    {"incr-4.smar", {"incr-3.smar", "incr-2.smar", "incr-1.smar", "incr-base.smar"}, 4},
};

static void generate_incremental22(void)
{
    smar_keyring *a = keyring("keyring-a.json");
    lib_chain ch;
    mem_archive i3, i4;
    lib_bases(&INCREMENTALS22[0], &ch); /* incr-2 and its bases, from the files */
    make_incremental(&i3, a, ch.r[0], SNAPSHOT + 2 * DAY_NS, INCR_3, 4);
    vwrite("incr-3.smar", i3.data, i3.len);
    lib_chain_free(&ch);
    lib_bases(&INCREMENTALS22[1], &ch);
    make_incremental(&i4, a, ch.r[0], SNAPSHOT + 3 * DAY_NS, INCR_4, 4);
    vwrite("incr-4.smar", i4.data, i4.len);
    lib_chain_free(&ch);
    free(i3.data);
    free(i4.data);
}

/* The secrets of a full archive of the same export, rendered as the vectors render them. */
static void render_full(const char *const *secrets, size_t n, int64_t snapshot, rendered *rd)
{
    mem_archive full;
    sb o = {0};
    make_incremental(&full, keyring("keyring-a.json"), NULL, snapshot, secrets, n);
    smar_reader *r = open_unlocked(full.data, full.len, "keyring-a.json", NULL, 0);
    describe_unlocked(r, "full", NULL, &o, rd);
    smar_reader_free(r);
    sb_free(&o);
    free(full.data);
}

/* Format 2.2, through the independent reader (FORMAT.md §26.6): the chain reads as the
 * .secrets.jsonl says, the digests table has its shape, and each digest is the one the
 * spec's formula gives for the secret's text under the K_digest key_base names. */
static void check_independent22(const incr_vector *v, const char *const *secrets, rendered *rd)
{
    spec_chain ch = {0};
    sb spec = {0};
    if (spec_incremental(v->file, v->bases, v->nbases, &ch, &spec))
        fail_msg("%s: independent reader: %s", v->file, ch.r[0].why);
    assert_true(same_bytes(spec.p, spec.n, rd->text.p, rd->text.n));
    const sr2 *r = &ch.r[0];
    assert_true(r->digests);
    assert_int_equal(r->nrec, 4);
    const sr2 *keyed = r->key_base == 0xFF ? r : &ch.r[1 + r->key_base];
    for (size_t k = 0; k < r->nrec; k++) {
        uint8_t d[16];
        sr2_export_digest(keyed->sub[6], secrets[k], strlen(secrets[k]), d);
        if (memcmp(d, r->digest + 16 * k, 16) != 0)
            fail_msg("%s: digest of secret %zu differs from the spec's", v->file, k);
    }
    spec_chain_free(&ch);
    sb_free(&spec);
}

/* §26.6 at open, in the independent reader: a digests chunk without the flag, and the flag
 * below minor version 2, are refused. */
static void check_independent22_refusals(const char *file)
{
    size_t n;
    uint8_t *d = vread(file, &n);
    sr2 r;
    assert_int_equal(sr2_open(&r, d, n), 0);
    sr2_free(&r);
    d[16] &= (uint8_t)~2u; /* EXPORT_DIGESTS cleared: the digests chunks are malformed */
    assert_int_equal(sr2_open(&r, d, n), -1);
    assert_non_null(strstr(r.why, "without EXPORT_DIGESTS"));
    sr2_free(&r);
    d[16] |= 2u;
    d[10] = 1; /* minor 1 at both ends */
    d[n - SR2_TRAILER + 202] = 1;
    assert_int_equal(sr2_open(&r, d, n), -1);
    assert_non_null(strstr(r.why, "below 2.2"));
    sr2_free(&r);
    free(d);
}

/* Format 2.2, through the API: the vectors open as 2.2 with their digests, and each reads
 * exactly as a full archive of its export (incr-4: through digest hits). */
static void test_incremental22(void **state)
{
    (void)state;
    static const char *const *const exports[] = {INCR_3, INCR_4};
    if (g_write22)
        generate_incremental22();
    for (size_t i = 0; i < sizeof INCREMENTALS22 / sizeof INCREMENTALS22[0]; i++) {
        const incr_vector *v = &INCREMENTALS22[i];
        rendered rd = {0}, full = {0};
        smar_archive_info ai = SMAR_ARCHIVE_INFO_INIT;
        check_incremental_lib(v, &rd);
        smar_reader *r = open_vector(v->file);
        assert_int_equal(smar_reader_info(r, &ai), SMAR_OK);
        assert_int_equal(ai.version_minor, 2);
        assert_int_equal(ai.digests_chunks, 1); /* version 3 of smar_archive_info */
        assert_true(ai.digests_bytes > 0);
        /* a caller built for version 2 gets version 2's members, nothing after them */
        smar_archive_info v2 = {.version = 2, .digests_chunks = 77, .digests_bytes = 77};
        assert_int_equal(smar_reader_info(r, &v2), SMAR_OK);
        assert_int_equal(v2.base_count, v->nbases);
        assert_int_equal(v2.digests_chunks, 77);
        assert_int_equal(v2.digests_bytes, 77);
        smar_reader_free(r);
        render_full(exports[i], 4, SNAPSHOT + (int64_t)(2 + i) * DAY_NS, &full);
        assert_true(same_bytes(full.text.p, full.text.n, rd.text.p, rd.text.n));
        check_independent22(v, exports[i], &rd);
        check_independent22_refusals(v->file);
        rendered_free(&rd);
        rendered_free(&full);
    }
}

/* The format 2.1 negatives, stage by stage in libsmar and in the independent reader
 * (README's table): open, unlock, attach the real base, read every secret, keyed verify. */
typedef struct negative21 {
    const char *file;
    int open, unlock, attach, read, keyed;
} negative21;

static const negative21 NEGATIVES21[] = {
    {"neg21-base-swapped.smar", SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg21-ref-out-of-range.smar", SMAR_OK, SMAR_OK, SMAR_OK, SMAR_E_FORMAT, SMAR_E_FORMAT},
    {"neg21-patch-order.smar", SMAR_OK, SMAR_OK, SMAR_OK, SMAR_E_FORMAT, SMAR_E_FORMAT},
    {"neg21-flag-without-list.smar", SMAR_E_VERSION, NA, NA, NA, NA},
};

/* The libsmar status of one stage (each on a fresh reader). */
static int lib_stage21(const char *file, int stage)
{
    lib_chain ch;
    incr_vector base = {NULL, {"incr-base.smar"}, 1};
    smar_reader *r = NULL;
    smar_keyring *k = keyring("keyring-a.json");
    int rc = open_file(&r, file);
    if (rc != SMAR_OK || stage == 0) {
        smar_reader_free(r);
        return rc;
    }
    lib_bases(&base, &ch);
    rc = smar_reader_unlock(r, &k, 1);
    if (rc == SMAR_OK && stage >= 2)
        rc = smar_reader_attach_base(r, 0, ch.r[0]);
    if (rc == SMAR_OK && stage == 3) {
        rendered rd = {0};
        rc = smar_reader_foreach(r, render_cb, &rd);
        rendered_free(&rd);
    }
    if (rc == SMAR_OK && stage == 4) {
        smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
        rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &vr, NULL, NULL, NULL);
    }
    smar_reader_free(r);
    lib_chain_free(&ch);
    return rc;
}

static int spec_stage21(const char *file, int stage)
{
    spec_chain ch = {0};
    sb out = {0};
    char *kt = key_text("keyring-a.json");
    int rc;
    if (stage == 0) {
        ch.data[0] = vread(file, &ch.n[0]);
        ch.opened = 1;
        rc = sr2_open(&ch.r[0], ch.data[0], ch.n[0]);
    } else if (stage == 1) {
        rc = spec_open_unlocked(&ch, 0, file, kt);
    } else {
        const char *bases[1] = {"incr-base.smar"};
        rc = spec_incremental(file, bases, 1, &ch, &out);
        if (rc && stage == 2 && ch.r[0].nbases > 0 && ch.r[0].base[0]) /* attached: read failed */
            rc = 0;
    }
    spec_chain_free(&ch);
    sb_free(&out);
    free(kt);
    return rc;
}

static void test_negative21(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof NEGATIVES21 / sizeof NEGATIVES21[0]; i++) {
        const negative21 *v = &NEGATIVES21[i];
        const int want[4] = {v->open, v->unlock, v->attach, v->read};
        for (int stage = 0; stage < 5; stage++) {
            int w = stage < 4 ? want[stage] : v->keyed;
            if (w == NA)
                continue;
            int got = lib_stage21(v->file, stage);
            if (got != w)
                fail_msg("%s stage %d: libsmar %d, want %d", v->file, stage, got, w);
            if (stage < 4 && (spec_stage21(v->file, stage) != 0) != (w != SMAR_OK))
                fail_msg("%s stage %d: the independent reader disagrees", v->file, stage);
        }
    }
}

static void test_generate(void **state)
{
    (void)state;
    if (!g_write || g_write21 || g_write22) {
        skip();
        return;
    }
    generate();
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("SMAR_WRITE_VECTORS");
    int rc = vectors_setup("spec/vectors/v2", KEY_FILES);
    if (env && strcmp(env, "21") == 0)
        g_write = g_write21 = true;
    if (env && strcmp(env, "22") == 0)
        g_write = g_write22 = true;
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    vectors_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_incremental), /* generates the 2.1 vectors test_positive reads */
        cmocka_unit_test(test_incremental22),
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_pinning),
        cmocka_unit_test(test_rewrapped_keeps_content),
        cmocka_unit_test(test_unknown_provider_listed),
        cmocka_unit_test(test_negative21),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
