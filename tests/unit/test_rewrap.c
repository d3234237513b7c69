/*
 * test_rewrap.c - smar_rewrap (smar/rewrap.h) with a test key provider that counts its
 * calls: a provider with a rewrap callback is asked to rewrap and never receives the DEK
 * (its wrap is not called); one without gets the DEK through wrap; the kept slot of
 * another key still opens; the old version no longer opens the copy; chunk bytes are the
 * source's; removing every slot and a damaged chunk are refused and the sink is aborted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archive_fixture.h"
#include "smar.h"

#define TEST_SLOT_ID 0xfd /* a deployment-local provider id */
#define TOY_BLOB     (8 + SMAR_PROVIDER_DEK_BYTES)
#define TOY_VERSIONS 4

/* A toy service: one key per version; versions below oldest are destroyed. */
typedef struct toy {
    const char *key_id;
    uint32_t current, oldest;
    uint8_t keys[TOY_VERSIONS][16];
    int wrap_calls, unwrap_calls, rewrap_calls;
} toy;

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t toy_tag(const uint8_t key[16], const uint8_t *aad, size_t aad_len,
                        const uint8_t *dek)
{
    return fnv(fnv(fnv(UINT64_C(0xcbf29ce484222325), key, 16), aad, aad_len), dek,
               SMAR_PROVIDER_DEK_BYTES);
}

static void toy_xor(const uint8_t key[16], const uint8_t *in, uint8_t *out)
{
    for (size_t i = 0; i < SMAR_PROVIDER_DEK_BYTES; i++)
        out[i] = in[i] ^ key[i % 16] ^ (uint8_t)(i * 37);
}

static void toy_seal(const toy *t, const uint8_t *aad, size_t aad_len, const uint8_t *dek,
                     uint8_t *out)
{
    const uint8_t *key = t->keys[t->current - 1];
    uint64_t tag = toy_tag(key, aad, aad_len, dek);
    memcpy(out, &tag, 8);
    toy_xor(key, dek, out + 8);
}

static int toy_open(const toy *t, uint32_t version, const uint8_t *aad, size_t aad_len,
                    const uint8_t *wrapped, size_t wrapped_len, uint8_t *dek)
{
    uint64_t tag;
    if (wrapped_len != TOY_BLOB)
        return SMAR_E_FORMAT;
    if (version < t->oldest || version > t->current)
        return SMAR_E_NOTFOUND;
    toy_xor(t->keys[version - 1], wrapped + 8, dek);
    memcpy(&tag, wrapped, 8);
    return tag == toy_tag(t->keys[version - 1], aad, aad_len, dek) ? SMAR_OK : SMAR_E_AUTH;
}

static int toy_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    *key_id = ((toy *)ctx)->key_id;
    return SMAR_OK;
}

static int toy_current(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    *version = ((toy *)ctx)->current;
    return SMAR_OK;
}

static int toy_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                    const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                    size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    toy *t = ctx;
    t->wrap_calls++;
    if (out_cap < TOY_BLOB)
        return SMAR_E_NOMEM;
    toy_seal(t, aad, aad_len, dek, out);
    *out_len = TOY_BLOB;
    *version = t->current;
    return SMAR_OK;
}

static int toy_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                      const uint8_t *wrapped, size_t wrapped_len,
                      uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    toy *t = ctx;
    uint8_t plain[SMAR_PROVIDER_DEK_BYTES];
    t->unwrap_calls++;
    int rc = toy_open(t, version, aad, aad_len, wrapped, wrapped_len, plain);
    if (rc == SMAR_OK)
        memcpy(dek, plain, sizeof plain);
    return rc;
}

/* The service's own rewrap: the DEK stays inside it. */
static int toy_rewrap(void *ctx, uint32_t version, const uint8_t *old_aad, size_t old_aad_len,
                      const uint8_t *wrapped, size_t wrapped_len, const uint8_t *new_aad,
                      size_t new_aad_len, uint8_t *out, size_t out_cap, size_t *out_len,
                      uint32_t *new_version, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    toy *t = ctx;
    uint8_t dek[SMAR_PROVIDER_DEK_BYTES];
    t->rewrap_calls++;
    int rc = toy_open(t, version, old_aad, old_aad_len, wrapped, wrapped_len, dek);
    if (rc != SMAR_OK)
        return rc;
    if (out_cap < TOY_BLOB)
        return SMAR_E_NOMEM;
    toy_seal(t, new_aad, new_aad_len, dek, out);
    memset(dek, 0, sizeof dek);
    *out_len = TOY_BLOB;
    *new_version = t->current;
    return SMAR_OK;
}

static const smar_provider toy_provider = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "toy",
    .slot_id = TEST_SLOT_ID,
    .key_id = toy_key_id,
    .current_version = toy_current,
    .wrap = toy_wrap,
    .unwrap = toy_unwrap,
    .rewrap = toy_rewrap,
};

static void toy_init(toy *t, const char *key_id, uint8_t seed)
{
    memset(t, 0, sizeof *t);
    t->key_id = key_id;
    t->current = t->oldest = 1;
    for (size_t v = 0; v < TOY_VERSIONS; v++)
        for (size_t i = 0; i < 16; i++)
            t->keys[v][i] = (uint8_t)(seed + 16 * v + i);
}

static smar_keyring *toy_keyring(toy *t, bool can_rewrap)
{
    smar_provider p = toy_provider;
    smar_keyring *kr = NULL;
    if (!can_rewrap)
        p.rewrap = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_from_provider(kr, &p, t), SMAR_OK);
    return kr;
}

static smar_keyring *local_keyring(void)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, "local-b"), SMAR_OK);
    return kr;
}

/* ---- a sink into memory that records how it ended -------------------------------------- */

typedef struct mem_sink {
    mem_archive a;
    int commits, aborts;
} mem_sink;

static smar_io_result ms_write(void *opaque, const void *buf, size_t len,
                               char err[SMAR_IO_ERROR_MAX])
{
    (void)err;
    return fx_mem_write(&((mem_sink *)opaque)->a, buf, len) == 0 ? SMAR_IO_OK : SMAR_IO_FAILED;
}

static smar_io_result ms_commit(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    (void)err;
    ((mem_sink *)opaque)->commits++;
    return SMAR_IO_OK;
}

static void ms_abort(void *opaque)
{
    ((mem_sink *)opaque)->aborts++;
}

/* Rewrap source (opened afresh) with keys opening it; the status. */
static int rewrap_mem(const mem_archive *src, smar_keyring **keys, size_t nkeys,
                      const smar_rewrap_options *o, mem_sink *ms, smar_rewrap_result *res)
{
    smar_reader *r = NULL;
    smar_sink sink = {SMAR_SINK_VERSION, ms, ms_write, ms_commit, ms_abort, NULL};
    free(ms->a.data); /* the previous call's output */
    memset(ms, 0, sizeof *ms);
    assert_int_equal(fx_open_mem(&r, src->data, src->len), SMAR_OK);
    int rc = smar_rewrap(r, keys, nkeys, o, &sink, res);
    if (rc != SMAR_OK)
        print_message("smar_rewrap: %s\n", smar_reader_error(r));
    smar_reader_free(r);
    return rc;
}

static int unlock_rc(const mem_archive *a, smar_keyring *kr)
{
    smar_reader *r = NULL;
    int rc = fx_open_mem(&r, a->data, a->len);
    if (rc == SMAR_OK)
        rc = smar_reader_unlock(r, &kr, 1);
    smar_reader_free(r);
    return rc;
}

static uint64_t table_end(const mem_archive *a)
{
    const uint8_t *t = a->data + a->len - 216;
    uint64_t off = 0;
    uint32_t n = 0;
    for (int i = 7; i >= 0; i--)
        off = off << 8 | t[i];
    for (int i = 3; i >= 0; i--)
        n = n << 8 | t[8 + i];
    return off + 48ull * n;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void rotate_and_rewrap(bool can_rewrap)
{
    toy t;
    toy_init(&t, "toy-a", 7);
    smar_keyring *a = toy_keyring(&t, can_rewrap), *b = local_keyring();
    smar_keyring *both[] = {a, b};
    mem_archive src;
    assert_int_equal(fx_make_archive(&src, 5, both, 2, NULL, 0), SMAR_OK);

    t.current = 2; /* rotated */
    t.wrap_calls = t.unwrap_calls = t.rewrap_calls = 0;
    smar_rewrap_options o = SMAR_REWRAP_OPTIONS_INIT;
    o.rewrap_keys = &a;
    o.rewrap_count = 1;
    smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
    mem_sink ms = {0};
    assert_int_equal(rewrap_mem(&src, &a, 1, &o, &ms, &res), SMAR_OK);
    assert_int_equal(ms.commits, 1);
    assert_int_equal(ms.aborts, 0);
    assert_int_equal(res.slots_before, 2);
    assert_int_equal(res.slots_after, 2);
    assert_int_equal(res.rewrapped, 1);
    assert_int_equal(res.kept, 1);
    assert_int_equal(res.bytes_copied, table_end(&src));
    /* the provider that can rewrap never receives the DEK: its wrap is not called */
    assert_int_equal(t.rewrap_calls, can_rewrap ? 1 : 0);
    assert_int_equal(t.wrap_calls, can_rewrap ? 0 : 1);
    assert_int_equal(t.unwrap_calls, 1); /* the unlock */

    /* same header, chunks and table; other slots */
    assert_int_equal(table_end(&ms.a), table_end(&src));
    assert_memory_equal(ms.a.data, src.data, table_end(&src));

    t.oldest = 2; /* version 1 destroyed */
    assert_int_equal(unlock_rc(&ms.a, a), SMAR_OK);
    assert_int_equal(unlock_rc(&src, a), SMAR_E_KEY);
    assert_int_equal(unlock_rc(&ms.a, b), SMAR_OK); /* the kept slot */

    smar_keyring_free(a);
    smar_keyring_free(b);
    free(src.data);
    free(ms.a.data);
}

static void test_provider_rewraps_without_the_dek(void **state)
{
    (void)state;
    rotate_and_rewrap(true);
}

static void test_provider_without_rewrap_gets_a_wrap(void **state)
{
    (void)state;
    rotate_and_rewrap(false);
}

static void test_refusals_abort_the_sink(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "toy-a", 9);
    smar_keyring *a = toy_keyring(&t, true);
    mem_archive src;
    assert_int_equal(fx_make_archive(&src, 3, &a, 1, NULL, 0), SMAR_OK);
    smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
    mem_sink ms = {0};

    /* every slot removed */
    const char *ids[] = {"toy-a"};
    smar_rewrap_options o = SMAR_REWRAP_OPTIONS_INIT;
    o.remove_ids = ids;
    o.remove_count = 1;
    assert_int_equal(rewrap_mem(&src, &a, 1, &o, &ms, &res), SMAR_E_INVALID);
    assert_int_equal(ms.commits, 0);
    assert_int_equal(ms.aborts, 1);
    assert_int_equal(ms.a.len, 0);

    /* an id without a slot */
    ids[0] = "nobody";
    assert_int_equal(rewrap_mem(&src, &a, 1, &o, &ms, &res), SMAR_E_NOTFOUND);
    assert_int_equal(ms.aborts, 1);

    /* a damaged chunk: refused on the way, nothing committed */
    mem_archive bad = {malloc(src.len), src.len, src.len};
    memcpy(bad.data, src.data, src.len);
    bad.data[100] ^= 1; /* inside chunk 0 (the header is 96 bytes) */
    assert_int_equal(rewrap_mem(&bad, &a, 1, NULL, &ms, &res), SMAR_E_CORRUPT);
    assert_int_equal(ms.commits, 0);
    assert_int_equal(ms.aborts, 1);

    /* no options: a copy with the same slots, byte for byte */
    assert_int_equal(rewrap_mem(&src, &a, 1, NULL, &ms, &res), SMAR_OK);
    assert_int_equal(ms.a.len, src.len);
    assert_memory_equal(ms.a.data, src.data, src.len);
    free(ms.a.data);

    smar_keyring_free(a);
    free(src.data);
    free(bad.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_rewraps_without_the_dek),
        cmocka_unit_test(test_provider_without_rewrap_gets_a_wrap),
        cmocka_unit_test(test_refusals_abort_the_sink),
    };
    if (smar_init() != SMAR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
