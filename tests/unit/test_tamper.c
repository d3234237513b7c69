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

#include <sodium.h>

#include "archive_fixture.h"
#include "chunk.h"
#include "crypto.h"
#include "reader_internal.h"
#include "table.h"
#include "root2.h"
#include "slots.h"
#include "keyring_internal.h" /* SMAR_LOCAL_WRAPPED_BYTES */

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
    uint8_t *slots; /* the slot area, as it was */
    size_t slots_len;
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
    p->slots_len = p->trailer.slot_area_len;
    p->slots = malloc(p->slots_len);
    memcpy(p->slots, a->data + a->len - SMAR_TRAILER_BYTES - p->slots_len, p->slots_len);
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
    free(p->slots);
    for (size_t i = 0; i < p->n; i++)
        free(p->chunk[i]);
}

/* Reassemble; with rewrite, as an attacker would: fresh table hashes and offsets, and the
 * content and root hashes recomputed (the root MAC cannot be recomputed without the DEK
 * and is left as it was; so is the signature). */
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
        p->trailer.table_offset = out->len;
        p->trailer.chunk_count = (uint32_t)p->n;
    }
    fx_mem_write(out, table, p->n * SMAR_TABLE_ENTRY_BYTES);
    fx_mem_write(out, p->slots, p->slots_len);
    smar_trailer_encode(tr, &p->trailer);
    fx_mem_write(out, tr, sizeof tr);
    if (rewrite)
        assert_int_equal(fx_v2_reroot(out, NULL, NULL), 0);
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

/* The chunk AEAD binds position, section, last flag and archive, independently of the root,
 * in either format (format 2: its own label in the AAD, so a format 1 chunk does not open
 * as format 2's either). */
static void check_chunk_binding(int format)
{
    smar_chunker ck, v1;
    smar_buf sealed = {0};
    smar_err e;
    uint8_t key[32] = {1}, id[16] = {2}, other_id[16] = {3};
    uint8_t raw[65536], out[65536];
    size_t outlen;
    memset(raw, 'x', sizeof raw);
    assert_int_equal(
        smar_chunker_init_format(&ck, format, SMAR_SUITE_XCHACHA20POLY1305, 3, 65536, key, id), 0);
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
    if (format == SMAR_FORMAT_V2) { /* the same bytes under format 1's AAD */
        assert_int_equal(smar_chunker_init(&v1, SMAR_SUITE_XCHACHA20POLY1305, 3, 65536, key, id),
                         0);
        assert_int_equal(smar_chunk_open(&v1, &pos, sealed.data, sealed.len, out, &outlen, &e),
                         SMAR_E_AUTH);
        smar_chunker_free(&v1);
    }
    ck.archive_id = other_id;
    assert_int_equal(smar_chunk_open(&ck, &pos, sealed.data, sealed.len, out, &outlen, &e),
                     SMAR_E_AUTH);
    smar_chunker_free(&ck);
    smar_buf_free(&sealed);
}

static void test_chunk_binding(void **state)
{
    (void)state;
    check_chunk_binding(SMAR_FORMAT_V1);
    check_chunk_binding(SMAR_FORMAT_V2);
}

/* As the key holder could: decrypt the first chunk of a section, let edit change its
 * plaintext, seal it again in place (format 2 framing, no padding: readers accept any), and
 * rewrite the table, content hash, root MAC and root hash. The bytes are then authentic;
 * only the reader's checks of what they mean (or a signature, when pinned) can object. */
typedef void (*chunk_edit)(uint8_t *buf, size_t len);

/* How far a resealer goes after sealing the chunk anew. */
enum reseal_depth {
    RESEAL_CHUNK_ONLY, /* the table still holds the old chunk's hash and positions */
    RESEAL_KEYLESS,    /* table and root hash rewritten, root MAC left as it was */
    RESEAL_ALL,        /* and the root MAC recomputed with the DEK: authentic bytes */
};

static void reseal_chunk_to(mem_archive *a, uint8_t section, chunk_edit edit,
                            enum reseal_depth depth)
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
    assert_int_equal(smar_chunker_init_format(&ck, SMAR_FORMAT_V2, r->hdr.suite, 3,
                                              r->hdr.chunk_size, r->keys->chunk, r->hdr.archive_id),
                     SMAR_OK);
    smar_chunk_pos pos = {i, section, p.table[i].flags, 0};
    assert_int_equal(smar_chunk_seal(&ck, &pos, buf, len, &sealed, &e), SMAR_OK);
    free(p.chunk[i]);
    p.chunk[i] = malloc(sealed.len);
    memcpy(p.chunk[i], sealed.data, sealed.len);
    p.table[i].stored_len = (uint32_t)sealed.len;
    /* rewrite the table, then every root with the archive's own root MAC key */
    mem_archive out;
    join_parts(&out, &p, depth != RESEAL_CHUNK_ONLY);
    if (depth == RESEAL_ALL)
        assert_int_equal(fx_v2_reroot(&out, NULL, r->keys->root_mac), 0);
    free(a->data);
    *a = out;
    free(buf);
    smar_chunker_free(&ck);
    smar_buf_free(&sealed);
    free_parts(&p);
    smar_reader_free(r);
}

static void reseal_first_chunk(mem_archive *a, uint8_t section, chunk_edit edit)
{
    reseal_chunk_to(a, section, edit, RESEAL_ALL);
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

/* An index that is authentic but wrong (as only a key holder could make it): two entries
 * swapped, re-sealed and re-MACed with the archive's own keys. Keyed verify must say so. */
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

/* Offsets of the fields of a two-slot format 2 archive, read from its own trailer and slot
 * area: slot[i] is where slot i starts (its provider byte). */
typedef struct layout {
    fx_v2_layout v2;
    size_t slot[2], slot_id_len[2];
} layout;

static void read_layout(layout *l, const mem_archive *a)
{
    assert_int_equal(fx_v2_layout_of(&l->v2, a), 0);
    size_t at = l->v2.slots_offset + 4; /* u16 count, u16 reserved */
    assert_int_equal(smar_load_u16(a->data + l->v2.slots_offset), 2);
    for (int i = 0; i < 2; i++) {
        l->slot[i] = at;
        l->slot_id_len[i] = a->data[at + 2];
        /* provider, flags, key id, version kind 1 + u32, wrapped length u32 + wrapped */
        size_t wl_at = at + 3 + l->slot_id_len[i] + 1 + 4;
        at = wl_at + 4 + smar_load_u32(a->data + wl_at);
    }
    assert_int_equal(at, l->v2.trailer_offset);
}

/* What a flip must give: at open, keyless verify (with and without the producer's key: the
 * same), and keyed reading with the key of slot 0 and of slot 1. */
typedef struct want {
    int open, keyless, key0, key1;
} want;

/* Flip mask at off and check every status exactly. */
static void expect_flip(mem_archive *a, size_t off, uint8_t mask, want w, const char *what)
{
    smar_reader *r;
    a->data[off] ^= mask;
    int open = fx_open_mem(&r, a->data, a->len);
    smar_reader_free(r);
    int got[5] = {open, keyless_status(a->data, a->len, NULL),
                  keyless_status(a->data, a->len, g_pk), keyed_status_with(a->data, a->len, g_key),
                  keyed_status_with(a->data, a->len, g_key2)};
    int exp[5] = {w.open, w.keyless, w.keyless, w.key0, w.key1};
    static const char *const how[5] = {"open", "keyless", "keyless with --pubkey",
                                       "keyed (slot 0's key)", "keyed (slot 1's key)"};
    for (int k = 0; k < 5; k++) {
        if (got[k] != SMAR_OK && !is_damage(got[k]))
            fail_msg("%s (byte %zu ^ 0x%02x): %s gave %d, not damage", what, off, mask, how[k],
                     got[k]);
        if (got[k] != exp[k])
            fail_msg("%s (byte %zu ^ 0x%02x): %s gave %d, not %d", what, off, mask, how[k], got[k],
                     exp[k]);
    }
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

enum { M01 = 1, M80 = 2, BOTH = 3 }; /* which flips of a byte: bit 0, bit 7 */

/* A field (or part of one) of a region, and what each flip of its bytes must give. */
typedef struct field {
    const char *name;
    size_t off, len;
    unsigned masks;
    want w;
} field;

#define F SMAR_E_FORMAT
#define L SMAR_E_LIMIT
#define C SMAR_E_CORRUPT
#define A SMAR_E_AUTH
#define ALL(x)                                                                                     \
    {                                                                                              \
        x, x, x, x                                                                                 \
    }
/* Under the content (or root): keyless, the root hash; keyed, the slot or the root MAC fails
 * too, but the root hash no longer recomputes, so it is damage, not forgery (FORMAT.md §17). */
#define COVERED                                                                                    \
    {                                                                                              \
        SMAR_OK, C, C, C                                                                           \
    }

/* Header of 2.0 (header_len 96, chunk size 1 MiB: bytes 24..26 may change within range). An
 * unknown flag, suite, compression or reserved value is VERSION on its own, but the root no
 * longer matches, so it is damage (CORRUPT): "unknown value or damage?". */
static const field g_header[] = {
    {"magic", 0, 8, BOTH, ALL(F)},
    {"version_major", 8, 2, BOTH, ALL(C)}, /* disagrees with the trailer */
    {"version_minor", 10, 2, BOTH, ALL(C)},
    {"header_len", 12, 1, BOTH, ALL(C)}, /* 97, 224: in range, not the trailer's */
    {"header_len", 13, 1, M01, ALL(C)},
    {"header_len", 13, 1, M80, ALL(L)}, /* over 4096 */
    {"header_len", 14, 2, BOTH, ALL(L)},
    {"flags", 16, 4, BOTH, ALL(C)},
    {"suite", 20, 2, BOTH, ALL(C)},
    {"compression", 22, 2, BOTH, ALL(C)},
    {"chunk_size", 24, 3, BOTH, COVERED},
    {"chunk_size", 27, 1, BOTH, ALL(L)},
    {"archive_id", 28, 16, BOTH, ALL(C)}, /* not the trailer's */
    {"created", 44, 8, BOTH, COVERED},
    {"snapshot", 52, 8, BOTH, COVERED},
    {"dek_commit", 60, 32, BOTH, COVERED}, /* keyed: the slot opens to another DEK */
    {"reserved", 92, 4, BOTH, ALL(C)},
};

/* One chunk table entry. Its section byte is checked apart (it depends on the section). */
static const field g_entry[] = {
    {"entry offset", 0, 8, BOTH, ALL(C)},
    {"entry stored_len", 8, 2, BOTH, ALL(C)},
    {"entry stored_len", 10, 1, M01, ALL(C)},
    {"entry stored_len", 10, 1, M80, ALL(L)}, /* over the largest stored chunk */
    {"entry stored_len", 11, 1, BOTH, ALL(L)},
    {"entry flags", 13, 1, M01, ALL(C)}, /* LAST moved: section order */
    {"entry flags", 13, 1, M80, ALL(F)},
    {"entry reserved", 14, 2, BOTH, ALL(F)},
    {"entry hash", 16, 32, BOTH, COVERED},
};

/* The slot area's head: u16 count (2), u16 reserved. */
static const field g_slot_head[] = {
    {"slot count", 0, 1, M01, ALL(C)}, /* 3: the third runs past the area */
    {"slot count", 0, 1, M80, ALL(L)},
    {"slot count", 1, 1, BOTH, ALL(L)},
    {"slot area reserved", 2, 2, BOTH, ALL(C)}, /* VERSION, but the root no longer matches */
};

static const field g_trailer[] = {
    {"table_offset", 0, 8, BOTH, ALL(C)},
    {"chunk_count", 8, 3, BOTH, ALL(C)},
    {"chunk_count", 11, 1, BOTH, ALL(L)},
    {"flags", 12, 1, M01, ALL(F)}, /* unsigned, with signature bytes */
    {"flags", 12, 1, M80, ALL(C)},
    {"flags", 13, 3, BOTH, ALL(C)},
    {"archive_id", 16, 16, BOTH, ALL(C)},
    {"header_len", 32, 4, BOTH, ALL(C)},
    {"slot_area_len", 36, 2, BOTH, ALL(C)},
    {"slot_area_len", 38, 2, BOTH, ALL(L)},
    {"root_hash", 40, 32, BOTH, COVERED},
    {"root_mac", 72, 32, BOTH, COVERED},
    {"signer", 104, 32, BOTH, COVERED},
    {"signature", 136, 64, BOTH, COVERED},
    {"version_major", 200, 2, BOTH, ALL(C)},
    {"version_minor", 202, 2, BOTH, ALL(C)},
    {"trailer_len", 204, 4, BOTH, ALL(F)},
    {"SMAR-END", 208, 8, BOTH, ALL(C)},
};

/* Flip every byte of the fields at base; covered[] records what was flipped. */
static void flip_fields(mem_archive *a, size_t base, const field *f, size_t n, const char *region,
                        unsigned *covered)
{
    char what[96];
    for (size_t i = 0; i < n; i++)
        for (size_t off = base + f[i].off; off < base + f[i].off + f[i].len; off++)
            for (unsigned m = M01; m <= M80; m <<= 1) {
                if (!(f[i].masks & m))
                    continue;
                snprintf(what, sizeof what, "%s %s", region, f[i].name);
                expect_flip(a, off, m == M01 ? 0x01 : 0x80, f[i].w, what);
                covered[off] |= m;
            }
}

/* Key slot i (local: version kind 1, 72-byte blob) of an archive with two. A change that
 * makes the slot no longer name the key (provider, flags, key id, version) leaves its own
 * key without a slot: "no key" is the user's problem only when the root still matches, so
 * damage (CORRUPT); the other slot's key opens its slot and the root MAC fails, in a file
 * that no longer hashes to its root: damage too (CORRUPT), not forgery. */
static void flip_slot(mem_archive *a, const layout *l, int i, unsigned *covered)
{
    size_t k = l->slot_id_len[i];
    bool last = i == 1;
    want renamed = {SMAR_OK, C, C, C};
    /* the last slot's fields can run past the area (CORRUPT); slot 0's run into slot 1,
     * which then does not parse (FORMAT) */
    want past = last ? (want)ALL(C) : (want)ALL(F);
    const field f[] = {
        {"provider", 0, 1, M01, ALL(F)},  /* provider 0 */
        {"provider", 0, 1, M80, renamed}, /* unknown provider: skipped */
        {"flags", 1, 1, BOTH, renamed},   /* unknown flags: skipped */
        {"key_id_len", 2, 1, M01, ALL(F)},
        {"key_id_len", 2, 1, M80, past},
        {"key_id", 3, k, M01, renamed},
        {"key_id", 3, k, M80, ALL(F)}, /* not UTF-8 */
        {"version_kind", 3 + k, 1, BOTH, ALL(F)},
        {"version", 4 + k, 1, M01, ALL(F)}, /* version 0 */
        {"version", 4 + k, 1, M80, renamed},
        {"version", 5 + k, 3, BOTH, renamed},
        {"wrapped_len", 8 + k, 1, M01, past},
        {"wrapped_len", 8 + k, 1, M80, ALL(C)},
        {"wrapped_len", 9 + k, 3, BOTH, ALL(C)},
        {"wrapped", 12 + k, SMAR_LOCAL_WRAPPED_BYTES, BOTH, {SMAR_OK, C, C, C}},
    };
    flip_fields(a, l->slot[i], f, SMAR_ARRAY_LEN(f), i == 0 ? "key slot 0" : "key slot 1", covered);
}

/* Every byte of every region of a signed two-slot archive, flipped: the exact status at open,
 * keyless (with and without the producer's key) and keyed with either slot's key; every
 * one is damage (FORMAT/LIMIT/CORRUPT/AUTH, exit 3), never unsupported, no key or I/O. */
static void test_every_region_flip(void **state)
{
    (void)state;
    mem_archive a;
    layout l;
    char what[64];
    make_region_archive(&a);
    read_layout(&l, &a);
    assert_int_equal(l.v2.header_len, SMAR_HEADER2_BYTES);
    assert_int_equal(smar_load_u32(a.data + 24), 1u << 20);
    assert_int_equal(keyless_status(a.data, a.len, g_pk), SMAR_OK);
    unsigned *covered = calloc(a.len, sizeof *covered);
    flip_fields(&a, 0, g_header, SMAR_ARRAY_LEN(g_header), "header", covered);
    /* each chunk: first, middle and last byte; the keyed reader opens the chunk (its
     * hash is the table's no more): CORRUPT */
    for (size_t c = 0; c < l.v2.chunk_count; c++) {
        smar_table_entry te;
        assert_true(
            smar_table_entry_decode(&te, a.data + l.v2.table_offset + c * SMAR_TABLE_ENTRY_BYTES));
        size_t at[3] = {te.offset, te.offset + te.stored_len / 2, te.offset + te.stored_len - 1};
        for (int k = 0; k < 3; k++) {
            snprintf(what, sizeof what, "chunk %zu", c);
            expect_flip(&a, at[k], 0x01, (want){SMAR_OK, C, C, C}, what);
        }
    }
    for (size_t c = 0; c < l.v2.chunk_count; c++) {
        size_t e = l.v2.table_offset + c * SMAR_TABLE_ENTRY_BYTES;
        snprintf(what, sizeof what, "chunk table entry %zu", c);
        flip_fields(&a, e, g_entry, SMAR_ARRAY_LEN(g_entry), what, covered);
        /* section: another known section breaks the order (CORRUPT), an unknown one is
         * FORMAT */
        uint8_t s1 = a.data[e + 12] ^ 0x01;
        bool known = s1 >= SMAR_SECTION_PAYLOAD && s1 <= SMAR_SECTION_META;
        expect_flip(&a, e + 12, 0x01, known ? (want)ALL(C) : (want)ALL(F), what);
        expect_flip(&a, e + 12, 0x80, (want)ALL(F), what);
        covered[e + 12] = M01 | M80;
    }
    flip_fields(&a, l.v2.slots_offset, g_slot_head, SMAR_ARRAY_LEN(g_slot_head), "slot area",
                covered);
    flip_slot(&a, &l, 0, covered);
    flip_slot(&a, &l, 1, covered);
    flip_fields(&a, l.v2.trailer_offset, g_trailer, SMAR_ARRAY_LEN(g_trailer), "trailer", covered);
    /* nothing outside the chunks was left out */
    for (size_t off = 0; off < a.len; off++)
        if ((off < l.v2.header_len || off >= l.v2.table_offset) && covered[off] != (M01 | M80))
            fail_msg("byte %zu was not flipped both ways", off);
    free(covered);
    free(a.data);
}

#undef F
#undef L
#undef C
#undef A
#undef ALL
#undef COVERED

/* The fields where damage used to look like "unsupported" or "no key" give exactly
 * SMAR_E_CORRUPT, where the archive is opened and where it is unlocked. */
static void test_flips_that_look_unsupported_or_keyless(void **state)
{
    (void)state;
    mem_archive a;
    layout l;
    make_region_archive(&a);
    read_layout(&l, &a);
    size_t trailer = l.v2.trailer_offset;
    static const struct {
        size_t off;
        uint8_t mask;
    } at_open[] = {
        {8, 0x02},  /* header version_major 2 -> 0 */
        {8, 0x01},  /* header version_major 2 -> 3 */
        {9, 0x01},  /* header version_major 2 -> 258 */
        {16, 0x01}, /* header flags */
        {19, 0x80}, /* header flags, high bit */
        {20, 0x02}, /* suite 1 -> 3 */
        {21, 0x01}, /* suite 1 -> 257 */
        {22, 0x02}, /* compression 1 -> 3 */
        {92, 0x01}, /* header reserved */
    };
    for (size_t i = 0; i < sizeof at_open / sizeof at_open[0]; i++)
        if (status_after_flip(&a, at_open[i].off, at_open[i].mask, NULL) != SMAR_E_CORRUPT)
            fail_msg("header byte %zu ^ 0x%02x: open gave %d, not SMAR_E_CORRUPT", at_open[i].off,
                     at_open[i].mask, status_after_flip(&a, at_open[i].off, at_open[i].mask, NULL));
    static const size_t trailer_fields[] = {12, 13, 200, 201}; /* flags, major */
    for (size_t i = 0; i < sizeof trailer_fields / sizeof trailer_fields[0]; i++)
        assert_int_equal(status_after_flip(&a, trailer + trailer_fields[i], 0x02, NULL),
                         SMAR_E_CORRUPT);
    /* the slot area's reserved u16 (VERSION on its own) */
    assert_int_equal(status_after_flip(&a, l.v2.slots_offset + 2, 0x01, NULL), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, l.v2.slots_offset + 3, 0x80, NULL), SMAR_E_CORRUPT);
    /* key slot 0: provider 1 -> 3 (unknown: skipped), flags 0 -> 1 (unknown: skipped), a
     * printable key id byte, the key version 1 -> 3 (the keyring lacks it): each used to
     * be SMAR_E_KEY */
    size_t s0 = l.slot[0], idlen = l.slot_id_len[0];
    assert_int_equal(status_after_flip(&a, s0, 0x02, g_key), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, s0 + 1, 0x01, g_key), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, s0 + 3, 0x01, g_key), SMAR_E_CORRUPT);
    assert_int_equal(status_after_flip(&a, s0 + 4 + idlen, 0x02, g_key), SMAR_E_CORRUPT);
    /* the other slot's key still opens its own slot; the root MAC (over the slots) fails in
     * a file that no longer hashes to its root: damage */
    assert_int_equal(status_after_flip(&a, s0 + 3, 0x01, g_key2), SMAR_E_CORRUPT);
    free(a.data);
}

/* Set the root hash to what the file's bytes hash to, as a producer would have written it
 * (after setting trailer flags; the root MAC and signature stay). */
static void rehash_root(mem_archive *a, uint32_t trailer_flags_or)
{
    uint8_t *flags = a->data + a->len - SMAR_TRAILER_BYTES + 12;
    smar_store_u32(flags, smar_load_u32(flags) | trailer_flags_or);
    assert_int_equal(fx_v2_reroot(a, NULL, NULL), 0);
}

static int open_status(const mem_archive *a)
{
    smar_reader *r;
    int rc = fx_open_mem(&r, a->data, a->len);
    smar_reader_free(r);
    return rc;
}

/* What a newer producer writes on purpose stays "unsupported": an unknown flag, suite or
 * slot area field whose bytes hash to the root hash, and a major version both ends agree
 * on. */
static void test_newer_format_stays_unsupported(void **state)
{
    (void)state;
    mem_archive a, b;
    fx_v2_layout l;
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_v2_layout_of(&l, &a), 0);
    b.data = malloc(a.len);
    b.len = a.len;
    size_t trailer = l.trailer_offset;

    memcpy(b.data, a.data, a.len);
    b.data[16] |= 0x01; /* header flags */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    b.data[20] = 7; /* suite */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    b.data[92] = 1; /* header reserved */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    rehash_root(&b, 0x2); /* trailer flags */
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len);
    b.data[l.slots_offset + 2] = 1; /* slot area reserved */
    rehash_root(&b, 0);
    assert_int_equal(open_status(&b), SMAR_E_VERSION);

    memcpy(b.data, a.data, a.len); /* a format 3 file: both ends say so */
    b.data[8] = 3;
    b.data[trailer + 200] = 3;
    assert_int_equal(open_status(&b), SMAR_E_VERSION);
    b.data[trailer + 200] = 2; /* ends that disagree: one of them was changed */
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
    /* format 2: the root hash covers the signature, so a flip there is damage (CORRUPT);
     * with the root hash recomputed (anyone can) the root is intact and only the signature
     * fails, with and without the producer's key */
    a.data[a.len - SMAR_TRAILER_BYTES + 136 + 5] ^= 0x01;
    assert_int_equal(keyless_status(a.data, a.len, g_pk), SMAR_E_CORRUPT);
    assert_int_equal(fx_v2_reroot(&a, NULL, NULL), 0);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    assert_true(res.root_ok);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    smar_reader_free(r);
    /* the root MAC does not cover the signature (a rewrap keeps it), so unlock checks the
     * signature of a signed archive itself: a key holder is refused even without a pin */
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "signature does not verify"));
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

/* ---- format 2: what a DEK holder, an attacker and a swapped signer can do ------------- */

/* A chunk resealed by a DEK holder of a signed archive. Without the table rewritten the
 * file no longer matches its table (CORRUPT: positions or the chunk's hash); with table and root
 * hash rewritten the content no longer matches the root MAC (AUTH). With the root MAC recomputed
 * too, every keyed check passes: only the producer's signature (over the content) catches it,
 * which unlock checks for every signed archive (and a pinned reader in any case). */
static void test_resealed_chunk_caught_by_signature(void **state)
{
    (void)state;
    mem_archive base, a;
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(fx_make_archive(&base, 5, &g_key, 1, g_signer, 0), SMAR_OK);
    static const enum reseal_depth depths[] = {RESEAL_CHUNK_ONLY, RESEAL_KEYLESS, RESEAL_ALL};
    static const int keyless_want[] = {SMAR_E_CORRUPT, SMAR_E_AUTH, SMAR_E_AUTH};
    /* all the way: the root MAC passes, the signature (checked at unlock) does not */
    static const int unlock_want[] = {SMAR_E_CORRUPT, SMAR_E_AUTH, SMAR_E_AUTH};
    for (size_t d = 0; d < SMAR_ARRAY_LEN(depths); d++) {
        a.data = malloc(base.len);
        a.len = a.cap = base.len;
        memcpy(a.data, base.data, base.len);
        reseal_chunk_to(&a, SMAR_SECTION_MANIFEST, break_first_metadata, depths[d]);
        /* keyless with the producer's key: the chunk hash, then the signature */
        assert_int_equal(keyless_status(a.data, a.len, g_pk), keyless_want[d]);
        assert_int_equal(fx_open_unlocked(&r, &a, g_key), unlock_want[d]);
        smar_reader_free(r);
        free(a.data);
    }
    /* all the way: authentic to every key holder, refused by the pin */
    a.data = malloc(base.len);
    a.len = a.cap = base.len;
    memcpy(a.data, base.data, base.len);
    reseal_chunk_to(&a, SMAR_SECTION_MANIFEST, break_first_metadata, RESEAL_ALL);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_E_AUTH); /* the signature */
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_true(res.root_ok);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    smar_reader_free(r);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, g_pk, 1), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "not signed by a trusted producer"));
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_E_AUTH); /* the signature */
    smar_reader_free(r);
    free(a.data);
    free(base.data);
}

/* The signer swapped by someone without the DEK, root hash recomputed: the root MAC covers
 * the signer (through the content), so a key holder refuses it (AUTH); keyless, a swapped
 * key without a matching signature is an invalid signature, and a re-signature by the new
 * key is valid only for that key. */
static void test_signer_swapped(void **state)
{
    (void)state;
    mem_archive a, b;
    smar_reader *r;
    smar_signkey *other;
    uint8_t other_pk[32];
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(smar_signkey_new(&other), SMAR_OK);
    assert_int_equal(smar_signkey_generate(other), SMAR_OK);
    smar_signkey_public(other, other_pk);
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_signer, 0), SMAR_OK);
    b.data = malloc(a.len);
    b.len = b.cap = a.len;

    /* the signer's key replaced, the signature left: invalid, and no longer unlocks */
    memcpy(b.data, a.data, a.len);
    memcpy(b.data + b.len - SMAR_TRAILER_BYTES + 104, other_pk, 32);
    assert_int_equal(fx_v2_reroot(&b, NULL, NULL), 0);
    assert_int_equal(fx_open_mem(&r, b.data, b.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_true(res.root_ok);
    assert_int_equal(res.signature, SMAR_SIGNATURE_INVALID);
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &b, g_key), SMAR_E_AUTH);
    smar_reader_free(r);

    /* re-signed by the other key (anyone can): valid for it, not for the producer, and the
     * root MAC still fails */
    memcpy(b.data, a.data, a.len);
    assert_int_equal(fx_v2_reroot(&b, other, NULL), 0);
    assert_int_equal(keyless_status(b.data, b.len, other_pk), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, b.data, b.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, g_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, SMAR_SIGNATURE_OTHER_SIGNER);
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &b, g_key), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "failed authentication"));
    smar_reader_free(r);
    smar_signkey_free(other);
    free(b.data);
    free(a.data);
}

/* Unlock of a, expecting AUTH because the slot opened to a DEK the header does not commit to. */
static void expect_other_dek(const mem_archive *a)
{
    smar_reader *r;
    assert_int_equal(fx_open_unlocked(&r, a, g_key), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "another data key than the header commits to"));
    smar_reader_free(r);
}

/* A slot that opens, but to another DEK than the header's dek_commit: refused right after
 * the unwrap (AUTH), before any chunk is read with that key. Made two ways: a well-formed
 * slot wrapping a fresh DEK (as the key holder could), and the header's commitment altered;
 * both with the root hash recomputed, so nothing keyless objects first. */
static void test_slot_opens_to_other_dek(void **state)
{
    (void)state;
    mem_archive a;
    fx_v2_layout l;
    smar_slot2 slots[SMAR_SLOTS2_MAX];
    unsigned n;
    smar_err e = {0};
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_v2_layout_of(&l, &a), 0);
    uint8_t *area = malloc(l.slots_len);
    memcpy(area, a.data + l.slots_offset, l.slots_len);
    assert_int_equal(smar_slot_area_parse(slots, &n, area, l.slots_len, &e), SMAR_OK);
    uint8_t aad[SMAR_SLOT2_AAD_MAX], dek[SMAR_DEK_BYTES], wrapped[SMAR_WRAPPED_MAX];
    size_t aadlen = smar_slot2_aad(aad, a.data + 28, &slots[0]), wlen;
    uint32_t version;
    randombytes_buf(dek, sizeof dek);
    assert_int_equal(smar_keyring_wrap(g_key, aad, aadlen, dek, wrapped, &wlen, &version, &e),
                     SMAR_OK);
    sodium_memzero(dek, sizeof dek);
    assert_int_equal(wlen, slots[0].wrapped_len);
    assert_int_equal(version, slots[0].version_number);
    size_t blob = l.slots_offset + (size_t)(slots[0].wrapped - area);
    uint8_t saved[SMAR_WRAPPED_MAX];
    memcpy(saved, a.data + blob, wlen);
    memcpy(a.data + blob, wrapped, wlen);
    assert_int_equal(fx_v2_reroot(&a, NULL, NULL), 0);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_OK);
    expect_other_dek(&a);
    memcpy(a.data + blob, saved, wlen); /* back to the producer's slot */
    a.data[60 + 7] ^= 0x01;             /* dek_commit */
    assert_int_equal(fx_v2_reroot(&a, NULL, NULL), 0);
    assert_int_equal(keyless_status(a.data, a.len, NULL), SMAR_OK);
    expect_other_dek(&a);
    a.data[60 + 7] ^= 0x01;
    assert_int_equal(fx_v2_reroot(&a, NULL, NULL), 0);
    assert_int_equal(keyed_status(a.data, a.len), SMAR_OK);
    free(area);
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
        cmocka_unit_test(test_resealed_chunk_caught_by_signature),
        cmocka_unit_test(test_signer_swapped),
        cmocka_unit_test(test_slot_opens_to_other_dek),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
