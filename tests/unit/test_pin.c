/*
 * test_pin.c - pinning the producer (smar_reader_check_signer): an archive passes only when
 * one of the trusted public keys signed it, whatever else is true of it. Anyone holding the
 * file can re-sign it with another key (the signature and the keyless root hash are theirs
 * to recompute). In format 2 the key holder's root MAC covers the signer, so such a file no
 * longer unlocks; but a DEK holder (any reader with a key) can recompute the root MAC too,
 * and then only pinning tells: a re-signed archive must be refused when pinned.
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
#include "keyring_internal.h" /* smar_signkey_sign */
#include "reader_internal.h"

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

/* Re-sign a with sk: new signer, signature and root hash. With rootmac_key (a DEK holder)
 * the root MAC is recomputed too; without it, it stays as the producer wrote it. */
static void resign(mem_archive *a, const smar_signkey *sk, const uint8_t *rootmac_key)
{
    assert_int_equal(fx_v2_reroot(a, sk, rootmac_key), 0);
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

/* A's archive re-signed by B without the DEK: well formed for anyone (B's pin accepts it),
 * refused pinned to A, and it no longer unlocks: the root MAC covers the signer (AUTH, the
 * CLI's exit 3). Format 1 unlocked it; format 2 must not. */
static void test_resigned_without_dek_fails_root_mac(void **state)
{
    (void)state;
    mem_archive a;
    char msg[512], fp[33];
    smar_signkey_fingerprint(g_pk_b, fp);
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_a, 0), SMAR_OK);
    resign(&a, g_b, NULL);
    assert_int_equal(check(&a, g_pk_b, 1, NULL, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, msg, sizeof msg), SMAR_E_AUTH);
    assert_non_null(strstr(msg, "not signed by a trusted producer"));
    assert_non_null(strstr(msg, fp));
    smar_reader *r;
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "failed authentication"));
    smar_reader_free(r);
    free(a.data);
}

/* A's archive re-signed by B who also holds the DEK (root MAC recomputed): it unlocks and
 * reads, an unpinned verify finds it valid for the signer it names (valid-unpinned), and
 * only the pin refuses it, leaving the handle dead. What pinning is for. */
static void test_resigned_by_dek_holder_refused_and_dead(void **state)
{
    (void)state;
    mem_archive a;
    uint8_t mac_key[32];
    char msg[512], fp[33];
    smar_signkey_fingerprint(g_pk_b, fp);
    assert_int_equal(fx_make_archive(&a, 2, &g_key, 1, g_a, 0), SMAR_OK);
    assert_int_equal(fx_v2_rootmac_key(&a, g_key, mac_key), SMAR_OK);
    resign(&a, g_b, mac_key);
    assert_int_equal(check(&a, g_pk_b, 1, NULL, 0), SMAR_OK);
    assert_int_equal(check(&a, g_pk_a, 1, msg, sizeof msg), SMAR_E_AUTH);
    assert_non_null(strstr(msg, "not signed by a trusted producer"));
    assert_non_null(strstr(msg, fp));
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(fx_open_unlocked(&r, &a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL),
                     SMAR_OK);
    assert_int_equal(res.signature, SMAR_SIGNATURE_UNCHECKED); /* "valid-unpinned" */
    assert_int_equal(smar_reader_check_signer(r, g_pk_a, 1), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "not signed by a trusted producer"));
    smar_secret *s = NULL;
    assert_int_equal(smar_reader_find_id(r, "x", &s), SMAR_E_INVALID);
    smar_reader_free(r);
    sodium_memzero(mac_key, sizeof mac_key);
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
        cmocka_unit_test(test_resigned_without_dek_fails_root_mac),
        cmocka_unit_test(test_resigned_by_dek_holder_refused_and_dead),
        cmocka_unit_test(test_altered_trusted_archive_refused),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
