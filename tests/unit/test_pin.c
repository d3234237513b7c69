/*
 * test_pin.c - pinning the producer (smar_reader_check_signer): an archive passes only when
 * one of the trusted public keys signed it, whatever else is true of it. Re-signing an
 * archive with another key (what anyone holding the file can do: the signer is covered by
 * the keyless root hash only) must be refused even though it still unlocks with the key.
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
#include "keyring_internal.h" /* smar_signkey_sign */
#include "reader_internal.h"
#include "root.h"
#include "table.h"

static smar_keyring *g_key;
static smar_signkey *g_a, *g_b;
static uint8_t g_pk_a[SMAR_SIGN_PUBLIC_BYTES], g_pk_b[SMAR_SIGN_PUBLIC_BYTES];

static int setup(void **state)
{
    (void)state;
    if (smar_init() || smar_keyring_new(&g_key) || smar_keyring_generate(g_key, "rk-pin") ||
        smar_signkey_new(&g_a) || smar_signkey_generate(g_a) || smar_signkey_new(&g_b) ||
        smar_signkey_generate(g_b))
        return -1;
    smar_signkey_public(g_a, g_pk_a);
    smar_signkey_public(g_b, g_pk_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    smar_keyring_free(g_key);
    smar_signkey_free(g_a);
    smar_signkey_free(g_b);
    return 0;
}

/* Open a, check the signer against trusted; *msg (may be NULL) gets the reader's message. */
static int check(const mem_archive *a, const uint8_t *trusted, size_t n, char *msg, size_t cap)
{
    smar_reader *r;
    assert_int_equal(fx_open_mem(&r, a->data, a->len), SMAR_OK);
    int rc = smar_reader_check_signer(r, trusted, n);
    if (msg)
        snprintf(msg, cap, "%s", smar_reader_error(r));
    smar_reader_free(r);
    return rc;
}

/* Re-sign a's trailer with sk as an attacker would: new signer, new root hash, new
 * signature; the header, table, chunks and root MAC stay as they are. */
static void resign(mem_archive *a, const smar_signkey *sk)
{
    uint8_t *raw = a->data + a->len - SMAR_TRAILER_BYTES;
    smar_trailer t;
    smar_err e = {0};
    assert_int_equal(smar_trailer_decode(&t, raw, &e), SMAR_OK);
    uint8_t body[SMAR_HASH_BYTES], msg[SMAR_SIGNED_MSG_BYTES];
    smar_body_hash(body, &t, a->data, t.header_len, a->data + t.table_offset,
                   (size_t)t.chunk_count * SMAR_TABLE_ENTRY_BYTES);
    t.flags |= SMAR_TRAILER_SIGNED;
    smar_signkey_public(sk, t.signer);
    smar_root_hash(t.root_hash, body, &t);
    smar_signed_message(msg, &t);
    assert_int_equal(smar_signkey_sign(sk, msg, sizeof msg, t.signature), SMAR_OK);
    smar_trailer_encode(raw, &t);
}

static void test_trusted_signer_passes(void **state)
{
    (void)state;
    mem_archive a;
    uint8_t trusted[2 * SMAR_SIGN_PUBLIC_BYTES];
    memcpy(trusted, g_pk_b, SMAR_SIGN_PUBLIC_BYTES);
    memcpy(trusted + SMAR_SIGN_PUBLIC_BYTES, g_pk_a, SMAR_SIGN_PUBLIC_BYTES);
    assert_int_equal(fx_make_archive(&a, 3, &g_key, 1, g_a, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, NULL, 0), SMAR_OK);
    assert_int_equal(check(&a, trusted, 2, NULL, 0), SMAR_OK); /* any of them */
    /* and the handle goes on to unlock and read */
    smar_reader *r;
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &g_key, 1), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_OK);
    smar_reader_free(r);
    free(a.data);
}

static void test_other_signer_refused(void **state)
{
    (void)state;
    mem_archive a;
    char msg[512], fp[33];
    smar_signkey_fingerprint(g_pk_b, fp);
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_b, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, msg, sizeof msg), SMAR_E_AUTH);
    assert_non_null(strstr(msg, "not signed by a trusted producer"));
    assert_non_null(strstr(msg, fp));
    free(a.data);
}

static void test_unsigned_refused(void **state)
{
    (void)state;
    mem_archive a;
    char msg[512];
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, NULL, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, msg, sizeof msg), SMAR_E_AUTH);
    assert_non_null(strstr(msg, "not signed by a trusted producer: unsigned"));
    free(a.data);
}

/* A's archive re-signed by B: still unlocks and reads with the key (the root MAC does not
 * cover the signer in format 1), but pinned to A it is refused and the handle is dead. */
static void test_resigned_refused_and_dead(void **state)
{
    (void)state;
    mem_archive a;
    char msg[512], fp[33];
    smar_signkey_fingerprint(g_pk_b, fp);
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_a, 0), SMAR_OK);
    resign(&a, g_b);
    assert_int_equal(check(&a, g_pk_b, 1, NULL, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, msg, sizeof msg), SMAR_E_AUTH);
    assert_non_null(strstr(msg, fp));
    smar_reader *r;
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK); /* what pinning is for */
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_E_AUTH);
    smar_secret *s = NULL;
    assert_int_equal(smar_reader_find_id(r, "x", &s), SMAR_E_INVALID);
    smar_reader_free(r);
    free(a.data);
}

/* Signed by A, but a chunk table byte changed (the last entry's hash): the file opens, but
 * no longer hashes to the root A signed. */
static void test_altered_trusted_archive_refused(void **state)
{
    (void)state;
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_a, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    uint64_t table_end =
        r->trailer.table_offset + (uint64_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES;
    smar_reader_free(r);
    a.data[table_end - 1] ^= 0x01;
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "not signed by a trusted producer"));
    assert_non_null(strstr(smar_reader_error(r), "does not verify"));
    smar_reader_free(r);
    free(a.data);
}

static void test_bad_calls(void **state)
{
    (void)state;
    mem_archive a;
    assert_int_equal(smar_reader_check_signer(NULL, g_pk_a, 1), SMAR_E_INVALID);
    assert_int_equal(fx_make_archive(&a, 1, &g_key, 1, g_a, 0), SMAR_OK);
    assert_int_equal(check(&a, NULL, 0, NULL, 0), SMAR_E_INVALID);
    assert_int_equal(check(&a, g_pk_a, 0, NULL, 0), SMAR_E_INVALID);
    smar_reader *r;
    assert_int_equal(smar_reader_new(&r), SMAR_OK); /* not open */
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_E_INVALID);
    smar_reader_free(r);
    free(a.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted_signer_passes),
        cmocka_unit_test(test_other_signer_refused),
        cmocka_unit_test(test_unsigned_refused),
        cmocka_unit_test(test_resigned_refused_and_dead),
        cmocka_unit_test(test_altered_trusted_archive_refused),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
