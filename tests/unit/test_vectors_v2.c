/*
 * test_vectors_v2.c - the format 2 test vectors of spec/vectors/v2 (see
 * spec/vectors/README.md; format 1's are checked by test_vectors.c).
 *
 * SMAR_WRITE_VECTORS=1 ./test_vectors_v2   (re)generates every file of spec/vectors/v2 with
 * the writer API (random DEKs, archive ids and keys: the files are generated once and
 * committed) and builds the damaged and forged variants at the format level, then checks
 * them like the normal run does.
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
    sr2_slot s = {.start = prefix.p, .aad_tail = prefix.n};
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

static void test_generate(void **state)
{
    (void)state;
    if (!g_write) {
        skip();
        return;
    }
    generate();
}

static int setup(void **state)
{
    (void)state;
    return vectors_setup("spec/vectors/v2", KEY_FILES);
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
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_pinning),
        cmocka_unit_test(test_rewrapped_keeps_content),
        cmocka_unit_test(test_unknown_provider_listed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
