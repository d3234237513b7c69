/*
 * test_tamper.c - every defence of the format, attacked: byte flips everywhere,
 * truncation at every length, appended garbage, chunks swapped, dropped or spliced in from
 * another archive made with the same root key, both naively and by an attacker who
 * rewrites the chunk table and root hash to match. Keyless verification must catch what
 * needs no key; keyed reading must catch everything, and never return wrong data.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "archive_fixture.h"
#include "chunk.h"
#include "crypto.h"
#include "reader_internal.h"
#include "table.h"
#include "root.h"

static smar_keyring *g_key, *g_key2;
static smar_signkey *g_signer;
static uint8_t g_pk[32];

/* The statuses smar reports as "damaged or not authentic" (exit 3, cli_exit_archive): a
 * changed byte must give one of these, never "unsupported" (VERSION), "no key" (KEY),
 * UNSUPPORTED or I/O, which send the user after the wrong problem (exit 1). */
static bool is_damage(int rc)
{
    return rc == SMAR_E_FORMAT || rc == SMAR_E_LIMIT || rc == SMAR_E_CORRUPT || rc == SMAR_E_AUTH;
}

static int setup(void **state)
{
    (void)state;
    if (smar_init() || smar_keyring_new(&g_key) || smar_keyring_generate(g_key, "rk-tamper") ||
        smar_keyring_new(&g_key2) || smar_keyring_generate(g_key2, "rk-tamper-dr") ||
        smar_signkey_new(&g_signer) || smar_signkey_generate(g_signer))
        return -1;
    smar_signkey_public(g_signer, g_pk);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    smar_keyring_free(g_key);
    smar_keyring_free(g_key2);
    smar_signkey_free(g_signer);
    return 0;
}

/* Keyless: open + verify (with the producer's key when given). */
static int keyless_status(const uint8_t *d, size_t n, const uint8_t *pk)
{
    smar_reader *r;
    int rc = fx_open_mem(&r, d, n);
    if (rc == SMAR_OK)
        rc = smar_reader_verify(r, 0, pk, NULL, NULL, NULL, NULL);
    smar_reader_free(r);
    return rc;
}

/* Callbacks return stop values, not statuses: the first error goes to *(int *)p. */
static int check_secret_exact(smar_reader *r, const smar_secret *s, void *p)
{
    char want[128];
    size_t i = strtoul(smar_secret_id(s) + 24, NULL, 16);
    for (size_t v = 0; v < smar_secret_version_count(s); v++) {
        char *out;
        size_t n;
        int rc = smar_reader_read_payload(r, s, smar_secret_version(s, v), &out, &n);
        if (rc != SMAR_OK) {
            *(int *)p = rc;
            return SMAR_STOP;
        }
        snprintf(want, sizeof want, "{\"payload\":\"value-%zu-%zu\"}", i, v + 1);
        if (n != strlen(want) || memcmp(out, want, n) != 0)
            fail_msg("tampered archive returned wrong data for secret %zu", i);
        smar_secret_buffer_free(out, n);
    }
    return 0;
}

/* Keyed with key: open, unlock, read every secret and payload, keyed verify. Wrong data
 * fails the test outright; the return is the first error met. */
static int keyed_status_with(const uint8_t *d, size_t n, smar_keyring *key)
{
    smar_reader *r;
    int failed = SMAR_OK;
    int rc = fx_open_mem(&r, d, n);
    if (rc == SMAR_OK)
        rc = smar_reader_set_threads(r, 2); /* the parallel chunk scan meets every attack */
    if (rc == SMAR_OK)
        rc = smar_reader_unlock(r, &key, 1);
    if (rc == SMAR_OK && (rc = smar_reader_foreach(r, check_secret_exact, &failed)) == SMAR_STOP)
        rc = failed;
    if (rc == SMAR_OK)
        rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL);
    smar_reader_free(r);
    return rc;
}

static int keyed_status(const uint8_t *d, size_t n)
{
    return keyed_status_with(d, n, g_key);
}

static void test_every_byte_flip(void **state)
{
    (void)state;
    mem_archive a;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_OK);
    assert_int_equal(keyed_status(a.data, a.len), SMAR_OK);
    for (size_t i = 0; i < a.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            a.data[i] ^= (uint8_t)(1u << bit);
            int keyless = keyless_status(a.data, a.len, NULL), keyed = keyed_status(a.data, a.len);
            if (!is_damage(keyless))
                fail_msg("keyless verify: a flip of bit %d at byte %zu of %zu gave %d, not damage",
                         bit, i, a.len, keyless);
            if (!is_damage(keyed))
                fail_msg("keyed reading: a flip of bit %d at byte %zu of %zu gave %d, not damage",
                         bit, i, a.len, keyed);
            a.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(a.data);
}

static void test_every_byte_flip_signed(void **state)
{
    (void)state;
    mem_archive a;
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_signer, 0), SMAR_OK);
    assert_int_equal(keyless_status(a.data, a.len, g_pk), SMAR_OK);
    for (size_t i = 0; i < a.len; i++) {
        a.data[i] ^= 0x10;
        if (!is_damage(keyless_status(a.data, a.len, g_pk)))
            fail_msg("signed keyless verify: a flip at byte %zu of %zu is not damage", i, a.len);
        if (!is_damage(keyless_status(a.data, a.len, NULL)))
            fail_msg("keyless verify: a flip at byte %zu of %zu is not damage", i, a.len);
        a.data[i] ^= 0x10;
    }
    free(a.data);
}

static void test_truncation_at_every_length(void **state)
{
    (void)state;
    mem_archive a;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    for (size_t n = 0; n < a.len; n++) {
        smar_reader *r;
        int rc = fx_open_mem(&r, a.data, n);
        if (!is_damage(rc))
            fail_msg("an archive truncated to %zu of %zu bytes gave %d, not damage", n, a.len, rc);
        smar_reader_free(r);
    }
    free(a.data);
}

static void test_garbage_appended(void **state)
{
    (void)state;
    mem_archive a;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    size_t len = a.len;
    uint8_t trailer[SMAR_TRAILER_BYTES];
    memcpy(trailer, a.data + len - SMAR_TRAILER_BYTES, SMAR_TRAILER_BYTES);
    static const size_t extra[] = {1, 7, 100, 4096};
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
        a.len = len;
        for (size_t i = 0; i < extra[k]; i++)
            fx_mem_write(&a, "\xa5", 1);
        assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_E_CORRUPT);
        assert_int_equal(keyed_status(a.data, a.len), SMAR_E_CORRUPT);
    }
    a.len = len; /* a second copy of the trailer: the table no longer fits the file */
    fx_mem_write(&a, trailer, sizeof trailer);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_E_CORRUPT);
    assert_int_equal(keyed_status(a.data, a.len), SMAR_E_CORRUPT);
    free(a.data);
}

/* ---- structural attacks: an archive taken apart into chunks and put back ------------- */

typedef struct parts {
    uint8_t *header;
    size_t header_len;
    smar_trailer trailer;
    size_t n;
    smar_table_entry table[64];
    uint8_t *chunk[64];
} parts;

static void split_parts(parts *p, const mem_archive *a)
{
    smar_err e;
    memset(p, 0, sizeof *p);
    assert_int_equal(smar_trailer_decode(&p->trailer, a->data + a->len - SMAR_TRAILER_BYTES, &e),
                     SMAR_OK);
    p->n = p->trailer.chunk_count;
    assert_true(p->n <= 64);
    p->header_len = p->trailer.header_len;
    p->header = malloc(p->header_len);
    memcpy(p->header, a->data, p->header_len);
    for (size_t i = 0; i < p->n; i++) {
        assert_true(smar_table_entry_decode(&p->table[i], a->data + p->trailer.table_offset +
                                                              i * SMAR_TABLE_ENTRY_BYTES));
        p->chunk[i] = malloc(p->table[i].stored_len);
        memcpy(p->chunk[i], a->data + p->table[i].offset, p->table[i].stored_len);
    }
}

static void free_parts(parts *p)
{
    free(p->header);
    for (size_t i = 0; i < p->n; i++)
        free(p->chunk[i]);
}

/* Reassemble; with rewrite, as an attacker would: fresh table hashes, offsets and root
 * (the root MAC cannot be recomputed without the key and is left as it was). */
static void join_parts(mem_archive *out, parts *p, bool rewrite)
{
    uint8_t table[64 * SMAR_TABLE_ENTRY_BYTES], tr[SMAR_TRAILER_BYTES];
    memset(out, 0, sizeof *out);
    fx_mem_write(out, p->header, p->header_len);
    for (size_t i = 0; i < p->n; i++) {
        if (rewrite) {
            p->table[i].offset = out->len;
            smar_hash(p->table[i].hash, NULL, p->chunk[i], p->table[i].stored_len);
        }
        fx_mem_write(out, p->chunk[i], p->table[i].stored_len);
        smar_table_entry_encode(table + i * SMAR_TABLE_ENTRY_BYTES, &p->table[i]);
    }
    if (rewrite) {
        uint8_t body[SMAR_HASH_BYTES];
        p->trailer.table_offset = out->len;
        p->trailer.chunk_count = (uint32_t)p->n;
        smar_body_hash(body, &p->trailer, p->header, p->header_len, table,
                       p->n * SMAR_TABLE_ENTRY_BYTES);
        smar_root_hash(p->trailer.root_hash, body, &p->trailer);
    }
    fx_mem_write(out, table, p->n * SMAR_TABLE_ENTRY_BYTES);
    smar_trailer_encode(tr, &p->trailer);
    fx_mem_write(out, tr, sizeof tr);
}

static size_t first_in_section(const parts *p, uint8_t section)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->table[i].section == section)
            return i;
    fail_msg("no chunk in section %u", section);
    return 0;
}

static void expect_detected(parts *p, const char *what)
{
    mem_archive naive, rewritten;
    join_parts(&naive, p, false);
    if (!is_damage(keyless_status(naive.data, naive.len, NULL)))
        fail_msg("%s: keyless verify did not call it damage", what);
    if (!is_damage(keyed_status(naive.data, naive.len)))
        fail_msg("%s: keyed reading did not call it damage", what);
    join_parts(&rewritten, p, true);
    /* a rewritten unsigned archive is self-consistent without the key (documented):
     * only the key holder can tell */
    if (!is_damage(keyed_status(rewritten.data, rewritten.len)))
        fail_msg("%s with a rewritten table: keyed reading did not call it damage", what);
    free(naive.data);
    free(rewritten.data);
}

static void big_archive(mem_archive *a, smar_keyring *key)
{
    /* 64 KiB chunks and ~2500 secrets: several payload and manifest chunks */
    assert_int_equal(fx_make_archive(a, 2500, &key, 1, NULL, 64 << 10), SMAR_OK);
}

static void test_chunks_swapped(void **state)
{
    (void)state;
    mem_archive a;
    parts p;
    big_archive(&a, g_key);
    split_parts(&p, &a);
    size_t i = first_in_section(&p, SMAR_SECTION_PAYLOAD), j = i + 1;
    while (j < p.n && p.table[j].section != SMAR_SECTION_PAYLOAD)
        j++;
    assert_true(j < p.n);
    /* swap contents; the table keeps each place's section and flags */
    uint8_t *tc = p.chunk[i];
    uint32_t tl = p.table[i].stored_len;
    p.chunk[i] = p.chunk[j];
    p.table[i].stored_len = p.table[j].stored_len;
    p.chunk[j] = tc;
    p.table[j].stored_len = tl;
    expect_detected(&p, "two payload chunks swapped");
    free_parts(&p);
    free(a.data);
}

static void test_chunk_dropped(void **state)
{
    (void)state;
    mem_archive a;
    parts p;
    big_archive(&a, g_key);
    for (uint8_t section = SMAR_SECTION_PAYLOAD; section <= SMAR_SECTION_META; section++) {
        split_parts(&p, &a);
        size_t i = first_in_section(&p, section);
        free(p.chunk[i]);
        memmove(&p.table[i], &p.table[i + 1], (p.n - i - 1) * sizeof p.table[0]);
        memmove(&p.chunk[i], &p.chunk[i + 1], (p.n - i - 1) * sizeof p.chunk[0]);
        p.n--;
        char what[64];
        snprintf(what, sizeof what, "first chunk of section %u dropped", section);
        expect_detected(&p, what);
        free_parts(&p);
    }
    free(a.data);
}

static void test_chunk_spliced_from_other_archive(void **state)
{
    (void)state;
    mem_archive a, b;
    parts p, q;
    big_archive(&a, g_key);
    big_archive(&b, g_key); /* same root key, same content, other DEK and archive id */
    split_parts(&p, &a);
    split_parts(&q, &b);
    for (size_t i = 0; i < p.n && i < q.n; i += 3) {
        if (p.table[i].section != q.table[i].section)
            continue;
        uint8_t *mine = p.chunk[i];
        smar_table_entry te = p.table[i];
        p.chunk[i] = q.chunk[i];
        p.table[i].stored_len = q.table[i].stored_len;
        p.table[i].flags = q.table[i].flags;
        expect_detected(&p, "chunk spliced in from another archive");
        p.chunk[i] = mine;
        p.table[i] = te;
    }
    free_parts(&p);
    free_parts(&q);
    free(a.data);
    free(b.data);
}

/* The chunk AEAD binds position, section, last flag and archive, independently of the root. */
static void test_chunk_binding(void **state)
{
    (void)state;
    smar_chunker ck;
    smar_buf sealed = {0};
    smar_err e;
    uint8_t key[32] = {1}, id[16] = {2}, other_id[16] = {3};
    uint8_t raw[65536], out[65536];
    size_t outlen;
    memset(raw, 'x', sizeof raw);
    assert_int_equal(smar_chunker_init(&ck, SMAR_SUITE_XCHACHA20POLY1305, 3, 65536, key, id), 0);
    smar_chunk_pos pos = {5, SMAR_SECTION_MANIFEST, 0, 2};
    assert_int_equal(smar_chunk_seal(&ck, &pos, raw, 1000, &sealed, &e), SMAR_OK);
    assert_int_equal(smar_chunk_open(&ck, &pos, sealed.data, sealed.len, out, &outlen, &e), 0);
    assert_int_equal(outlen, 1000);
    smar_chunk_pos wrong[] = {{6, SMAR_SECTION_MANIFEST, 0, 2},
                              {5, SMAR_SECTION_PAYLOAD, 0, 2},
                              {5, SMAR_SECTION_MANIFEST, SMAR_CHUNK_LAST, 2},
                              {5, SMAR_SECTION_MANIFEST, 0, 3}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_int_equal(smar_chunk_open(&ck, &wrong[i], sealed.data, sealed.len, out, &outlen, &e),
                         SMAR_E_AUTH);
    ck.archive_id = other_id;
    assert_int_equal(smar_chunk_open(&ck, &pos, sealed.data, sealed.len, out, &outlen, &e),
                     SMAR_E_AUTH);
    smar_chunker_free(&ck);
    smar_buf_free(&sealed);
}

/* An index that is authentic but wrong (as only a key holder could make it): two entries
 * swapped, re-sealed and re-MACed with the archive's own keys. Keyed verify must say so. */
/* As the key holder could: decrypt the first chunk of a section, let edit change its
 * plaintext, seal it again in place, and rewrite the table, root MAC and root. The bytes
 * are then authentic; only the reader's checks of what they mean can object. */
typedef void (*chunk_edit)(uint8_t *buf, size_t len);

static void reseal_first_chunk(mem_archive *a, uint8_t section, chunk_edit edit)
{
    smar_reader *r;
    parts p;
    assert_int_equal(fx_open_unlocked(&r, a, g_key), SMAR_OK);
    split_parts(&p, a);
    size_t i = first_in_section(&p, section);
    const uint8_t *raw;
    size_t len;
    assert_int_equal(smar_reader_load_chunk(r, section, 0, &raw, &len), SMAR_OK);
    uint8_t *buf = malloc(len);
    memcpy(buf, raw, len);
    edit(buf, len);
    smar_chunker ck;
    smar_buf sealed = {0};
    smar_err e;
    assert_int_equal(smar_chunker_init(&ck, r->hdr.suite, 3, r->hdr.chunk_size, r->keys->chunk,
                                       r->hdr.archive_id),
                     SMAR_OK);
    smar_chunk_pos pos = {i, section, p.table[i].flags, 0};
    assert_int_equal(smar_chunk_seal(&ck, &pos, buf, len, &sealed, &e), SMAR_OK);
    free(p.chunk[i]);
    p.chunk[i] = malloc(sealed.len);
    memcpy(p.chunk[i], sealed.data, sealed.len);
    p.table[i].stored_len = (uint32_t)sealed.len;
    /* rewrite the table and root, then the root MAC with the real key, then the root again */
    mem_archive out;
    join_parts(&out, &p, true);
    uint8_t table[64 * SMAR_TABLE_ENTRY_BYTES], body[SMAR_HASH_BYTES], tr[SMAR_TRAILER_BYTES];
    for (size_t k = 0; k < p.n; k++)
        smar_table_entry_encode(table + k * SMAR_TABLE_ENTRY_BYTES, &p.table[k]);
    smar_body_hash(body, &p.trailer, p.header, p.header_len, table, p.n * SMAR_TABLE_ENTRY_BYTES);
    smar_root_mac(p.trailer.root_mac, r->keys->root_mac, body);
    smar_root_hash(p.trailer.root_hash, body, &p.trailer);
    smar_trailer_encode(tr, &p.trailer);
    memcpy(out.data + out.len - SMAR_TRAILER_BYTES, tr, sizeof tr);
    free(a->data);
    *a = out;
    free(buf);
    smar_chunker_free(&ck);
    smar_buf_free(&sealed);
    free_parts(&p);
    smar_reader_free(r);
}

static void swap_first_two_locators(uint8_t *buf, size_t len)
{
    uint8_t tmp[12];
    assert_true(len >= 2 * SMAR_INDEX_ENTRY_BYTES);
    memcpy(tmp, buf + 16, 12);
    memcpy(buf + 16, buf + SMAR_INDEX_ENTRY_BYTES + 16, 12);
    memcpy(buf + SMAR_INDEX_ENTRY_BYTES + 16, tmp, 12);
}

static void reseal_index_swapped(mem_archive *a)
{
    reseal_first_chunk(a, SMAR_SECTION_INDEX, swap_first_two_locators);
}

/* The first record's metadata object, {"name":"secret-0",...}, made to start with '['. */
static void break_first_metadata(uint8_t *buf, size_t len)
{
    static const char mark[] = "\"name\":\"secret-0\"";
    uint8_t *at = NULL;
    for (size_t i = 0; at == NULL && i + sizeof mark - 1 <= len; i++)
        if (memcmp(buf + i, mark, sizeof mark - 1) == 0)
            at = buf + i;
    assert_non_null(at);
    while (at > buf && *at != '{')
        at--;
    assert_int_equal(*at, '{');
    *at = '[';
}

static void test_index_resealed_wrong(void **state)
{
    (void)state;
    mem_archive a;
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(fx_make_archive(&a, 5, &g_key, 1, NULL, 0), SMAR_OK);
    reseal_index_swapped(&a);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_OK); /* authentic bytes */
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL),
                     SMAR_E_CORRUPT);
    assert_int_equal(res.index_ok, 0);
    smar_reader_free(r);
    free(a.data);
}

/* Metadata that is not a JSON object, sealed by the key holder: decoding for lookups
 * passes it by, but rendering refuses it and keyed verify reports the secret. */
static void test_metadata_resealed_not_json(void **state)
{
    (void)state;
    mem_archive a;
    smar_reader *r;
    smar_secret *s;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    char *json = NULL;
    size_t len;
    assert_int_equal(fx_make_archive(&a, 5, &g_key, 1, NULL, 0), SMAR_OK);
    reseal_first_chunk(&a, SMAR_SECTION_MANIFEST, break_first_metadata);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_OK); /* authentic bytes */
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_find_id(r, "00000000-0000-4000-8000-000000000000", &s), SMAR_OK);
    assert_null(smar_secret_metadata_json(s, NULL));
    assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &json, &len), SMAR_E_CORRUPT);
    assert_null(json);
    assert_non_null(strstr(smar_reader_error(r), "metadata is not a JSON object"));
    smar_secret_free(s);
    assert_int_equal(smar_reader_find_id(r, "00000000-0000-4000-8000-000000000001", &s), SMAR_OK);
    assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &json, &len), SMAR_OK);
    smar_secret_buffer_free(json, len);
    smar_secret_free(s);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL),
                     SMAR_E_CORRUPT);
    assert_int_equal(res.secrets_bad, 1);
    smar_reader_free(r);
    free(a.data);
}

/* ---- every region of a small archive: damage is damage, with or without a key --------- */

/* Offsets of the fields of a two-slot archive, read from its own trailer and header. */
typedef struct layout {
    size_t header_len, table_offset, chunk_count, slot[2], slot_id_len[2];
} layout;

static void read_layout(layout *l, const mem_archive *a)
{
    smar_trailer t;
    smar_err e;
    assert_int_equal(smar_trailer_decode(&t, a->data + a->len - SMAR_TRAILER_BYTES, &e), SMAR_OK);
    l->header_len = t.header_len;
    l->table_offset = t.table_offset;
    l->chunk_count = t.chunk_count;
    size_t at = SMAR_HEADER_FIXED_BYTES;
    for (int i = 0; i < 2; i++) {
        l->slot[i] = at;
        l->slot_id_len[i] = a->data[at + 1];
        at +=
            2 + l->slot_id_len[i] + 4 + 2 + smar_load_u16(a->data + at + 2 + l->slot_id_len[i] + 4);
    }
    assert_int_equal(at + SMAR_HEADER_MAC_BYTES, l->header_len);
}

/* Flip mask at off: keyless (with and without the producer's key) and keyed with either
 * slot's key must all report damage; open (and, when it opens, unlock with key) must give
 * want_open / want_unlock exactly when those are not SMAR_OK. */
static void expect_flip_is_damage(mem_archive *a, size_t off, uint8_t mask, const char *what)
{
    a->data[off] ^= mask;
    int statuses[4] = {keyless_status(a->data, a->len, NULL), keyless_status(a->data, a->len, g_pk),
                       keyed_status_with(a->data, a->len, g_key),
                       keyed_status_with(a->data, a->len, g_key2)};
    static const char *const how[4] = {"keyless", "keyless with --pubkey", "keyed (slot 0's key)",
                                       "keyed (slot 1's key)"};
    for (int k = 0; k < 4; k++)
        if (!is_damage(statuses[k]))
            fail_msg("%s (byte %zu ^ 0x%02x): %s gave %d, not damage", what, off, mask, how[k],
                     statuses[k]);
    a->data[off] ^= mask;
}

/* The open (or unlock with key, when key is not NULL) status of a with off ^ mask. */
static int status_after_flip(mem_archive *a, size_t off, uint8_t mask, smar_keyring *key)
{
    smar_reader *r;
    a->data[off] ^= mask;
    int rc = fx_open_mem(&r, a->data, a->len);
    if (rc == SMAR_OK && key)
        rc = smar_reader_unlock(r, &key, 1);
    smar_reader_free(r);
    a->data[off] ^= mask;
    return rc;
}

static void make_region_archive(mem_archive *a)
{
    smar_keyring *keys[2] = {g_key, g_key2};
    assert_int_equal(fx_make_archive(a, 3, keys, 2, g_signer, 0), SMAR_OK);
}

static void test_every_region_flip(void **state)
{
    (void)state;
    mem_archive a;
    layout l;
    char what[64];
    make_region_archive(&a);
    read_layout(&l, &a);
    assert_int_equal(keyless_status(a.data, a.len, g_pk), SMAR_OK);
    /* header fixed part: every field, one low bit and a whole byte */
    for (size_t off = 0; off < SMAR_HEADER_FIXED_BYTES; off++) {
        snprintf(what, sizeof what, "header byte %zu", off);
        expect_flip_is_damage(&a, off, 0x01, what);
        expect_flip_is_damage(&a, off, 0xff, what);
    }
    /* each key slot, every byte, and the header MAC */
    for (size_t off = SMAR_HEADER_FIXED_BYTES; off < l.header_len; off++) {
        snprintf(what, sizeof what, "%s byte %zu",
                 off >= l.header_len - SMAR_HEADER_MAC_BYTES ? "header MAC"
                 : off >= l.slot[1]                          ? "key slot 1"
                                                             : "key slot 0",
                 off);
        expect_flip_is_damage(&a, off, 0x01, what);
        expect_flip_is_damage(&a, off, 0x02, what);
    }
    /* each chunk: first, middle and last byte */
    for (size_t c = 0; c < l.chunk_count; c++) {
        smar_table_entry te;
        assert_true(
            smar_table_entry_decode(&te, a.data + l.table_offset + c * SMAR_TABLE_ENTRY_BYTES));
        size_t at[3] = {te.offset, te.offset + te.stored_len / 2, te.offset + te.stored_len - 1};
        for (int k = 0; k < 3; k++) {
            snprintf(what, sizeof what, "chunk %zu", c);
            expect_flip_is_damage(&a, at[k], 0x01, what);
        }
    }
    /* the chunk table and the trailer, every byte */
    for (size_t off = l.table_offset; off < a.len; off++) {
        snprintf(what, sizeof what, "%s byte %zu",
                 off >= a.len - SMAR_TRAILER_BYTES ? "trailer" : "chunk table", off);
        expect_flip_is_damage(&a, off, 0x01, what);
        expect_flip_is_damage(&a, off, 0x80, what);
    }
    free(a.data);
}

/* The fields where damage used to look like "unsupported" or "no key" give exactly
 * SMAR_E_CORRUPT, where the archive is opened and where it is unlocked. */
static void test_flips_that_look_unsupported_or_keyless(void **state)
{
    (void)state;
    mem_archive a;
    layout l;
    make_region_archive(&a);
    read_layout(&l, &a);
    size_t trailer = a.len - SMAR_TRAILER_BYTES;
    static const struct {
        size_t off;
        uint8_t mask;
    } at_open[] = {
        {8, 0x02},  /* header version_major 1 -> 3 */
        {9, 0x01},  /* header version_major 1 -> 257 */
        {16, 0x01}, /* header flags */
        {19, 0x80}, /* header flags, high bit */
        {20, 0x02}, /* suite 1 -> 3 */
        {21, 0x01}, /* suite 1 -> 257 */
        {22, 0x02}, /* compression 1 -> 3 */
        {62, 0x01}, /* header reserved */
    };
    for (size_t i = 0; i < sizeof at_open / sizeof at_open[0]; i++)
        if (status_after_flip(&a, at_open[i].off, at_open[i].mask, NULL) != SMAR_E_CORRUPT)
            fail_msg("header byte %zu ^ 0x%02x: open gave %d, not SMAR_E_CORRUPT", at_open[i].off,
                     at_open[i].mask, status_after_flip(&a, at_open[i].off, at_open[i].mask, NULL));
    static const size_t trailer_fields[] = {12, 13, 36, 200, 201}; /* flags, reserved, major */
    for (size_t i = 0; i < sizeof trailer_fields / sizeof trailer_fields[0]; i++)
        assert_int_equal(status_after_flip(&a, trailer + trailer_fields[i], 0x02, NULL),
                         SMAR_E_CORRUPT);
    /* key slot 0: provider 1 -> 3 (unknown: skipped), a printable key id byte, the key
     * version 1 -> 3 (the keyring lacks it): each used to be SMAR_E_KEY */
    size_t s0 = l.slot[0], idlen = l.slot_id_len[0];
    assert_int_equal(status_after_flip(&a, s0, 0x02, g_key), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, s0 + 2, 0x01, g_key), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, s0 + 2 + idlen, 0x02, g_key), SMAR_E_CORRUPT);
    /* the other slot's key still opens its own slot; the header MAC then fails */
    assert_int_equal(status_after_flip(&a, s0 + 2, 0x01, g_key2), SMAR_E_AUTH);
    free(a.data);
}

/* Set the root hash to what the file's bytes hash to, as a producer would have written it. */
static void rehash_root(mem_archive *a, uint32_t trailer_flags_or)
{
    smar_trailer t;
    smar_err e;
    uint8_t body[SMAR_HASH_BYTES], raw[SMAR_TRAILER_BYTES];
    assert_int_equal(smar_trailer_decode(&t, a->data + a->len - SMAR_TRAILER_BYTES, &e), SMAR_OK);
    t.flags |= trailer_flags_or;
    smar_body_hash(body, &t, a->data, t.header_len, a->data + t.table_offset,
                   (size_t)t.chunk_count * SMAR_TABLE_ENTRY_BYTES);
    smar_root_hash(t.root_hash, body, &t);
    smar_trailer_encode(raw, &t);
    memcpy(a->data + a->len - SMAR_TRAILER_BYTES, raw, sizeof raw);
}

static int open_status(const mem_archive *a)
{
    smar_reader *r;
    int rc = fx_open_mem(&r, a->data, a->len);
    smar_reader_free(r);
    return rc;
}

/* What a newer producer writes on purpose stays "unsupported": an unknown flag or suite
 * whose bytes hash to the root hash, and a major version both ends agree on. */
static void test_newer_format_stays_unsupported(void **state)
{
    (void)state;
    mem_archive a, b;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    b.data = malloc(a.len);
    b.len = a.len;
    size_t trailer = a.len - SMAR_TRAILER_BYTES;

    memcpy(b.data, a.data, a.len);
    b.data[16] |= 0x01; /* header flags */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    b.data[20] = 7; /* suite */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    rehash_root(&b, 0x2); /* trailer flags */
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len); /* as spec/vectors/neg-version2.smar */
    b.data[8] = 2;
    b.data[trailer + 200] = 2;
    assert_int_equal(open_status(&b), SMAR_E_VERSION);
    b.data[trailer + 200] = 1; /* ends that disagree: one of them was changed */
    assert_int_equal(open_status(&b), SMAR_E_CORRUPT);
    free(b.data);
    free(a.data);
}

/* Keys that do not fit an intact archive: no key (SMAR_E_KEY, exit 1); other material
 * under the same key id (SMAR_E_AUTH, exit 3: indistinguishable from a forged slot). */
static void test_wrong_key_on_intact_archive(void **state)
{
    (void)state;
    mem_archive a;
    smar_keyring *other, *impostor;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(smar_keyring_new(&other), SMAR_OK);
    assert_int_equal(smar_keyring_generate(other, "rk-unrelated"), SMAR_OK);
    assert_int_equal(smar_keyring_new(&impostor), SMAR_OK);
    assert_int_equal(smar_keyring_generate(impostor, "rk-tamper"), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &other, 1), SMAR_E_KEY);
    assert_int_equal(smar_reader_unlock(r, &impostor, 1), SMAR_E_AUTH);
    smar_reader_free(r);
    smar_keyring_free(other);
    smar_keyring_free(impostor);
    free(a.data);
}

/* One damaged payload chunk holding every payload: each secret counted once. */
static void test_secrets_bad_counts_secrets(void **state)
{
    (void)state;
    mem_archive a;
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL),
                     SMAR_OK);
    /* the numbers inspect shows: 3 secrets, 6 versions, 6 stored payloads (each secret's
     * own payload is its second version's record) */
    assert_int_equal(res.secrets_checked, 3);
    assert_int_equal(res.versions_checked, 6);
    assert_int_equal(res.payload_records_checked, 6);
    assert_int_equal(res.payloads_checked, 9);
    smar_reader_free(r);
    size_t chunk0 = smar_load_u32(a.data + a.len - SMAR_TRAILER_BYTES + 32); /* header_len */
    a.data[chunk0 + 20] ^= 0x01; /* chunk 0 is the payload chunk */
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL),
                     SMAR_E_CORRUPT);
    assert_int_equal(res.chunks_bad, 1);
    assert_int_equal(res.secrets_bad, 3);
    smar_reader_free(r);
    free(a.data);
}

/* absent, valid, unchecked, other-signer, invalid: each told apart. */
static void test_signature_statuses(void **state)
{
    (void)state;
    mem_archive a;
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    uint8_t other_pk[32];
    memcpy(other_pk, g_pk, 32);
    other_pk[0] ^= 0x01; /* not a key that signed anything */
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_signer, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.signature, SMAR_SIGNATURE_VALID);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.signature, SMAR_SIGNATURE_UNCHECKED);
    assert_int_equal(smar_reader_verify(r, 0, other_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_OTHER_SIGNER);
    smar_reader_free(r);
    /* the signature bytes are outside the root hash: a flip there leaves the root intact */
    a.data[a.len - SMAR_TRAILER_BYTES + 136 + 5] ^= 0x01;
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    assert_true(res.root_ok);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    smar_reader_free(r);
    free(a.data);
    assert_int_equal(fx_make_archive(&a, 1, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_ABSENT);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.signature, SMAR_SIGNATURE_ABSENT);
    smar_reader_free(r);
    free(a.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_flip),
        cmocka_unit_test(test_every_byte_flip_signed),
        cmocka_unit_test(test_truncation_at_every_length),
        cmocka_unit_test(test_garbage_appended),
        cmocka_unit_test(test_chunks_swapped),
        cmocka_unit_test(test_chunk_dropped),
        cmocka_unit_test(test_chunk_spliced_from_other_archive),
        cmocka_unit_test(test_chunk_binding),
        cmocka_unit_test(test_index_resealed_wrong),
        cmocka_unit_test(test_metadata_resealed_not_json),
        cmocka_unit_test(test_every_region_flip),
        cmocka_unit_test(test_flips_that_look_unsupported_or_keyless),
        cmocka_unit_test(test_newer_format_stays_unsupported),
        cmocka_unit_test(test_wrong_key_on_intact_archive),
        cmocka_unit_test(test_secrets_bad_counts_secrets),
        cmocka_unit_test(test_signature_statuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
