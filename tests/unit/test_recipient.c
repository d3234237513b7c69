/*
 * test_recipient.c - the x25519 public-key recipient provider (libsmar/keys/keyprov_x25519.c)
 * and its identity and recipient files (recipient_file.c): wrap/unwrap through the provider
 * directly (format 2's slot; format 1 cannot record its version 0), every failure class,
 * the files, and smar_reader_unlocked_by_public_key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "archive_fixture.h"
#include "keyfile.h"
#include "keyprov_x25519.h"
#include "testutil.h"

#define PW "correct horse battery staple"

static const uint8_t test_aad[] = "smar/v2 key-slot and the rest of a slot's binding";
static const uint8_t test_dek[SMAR_DEK_BYTES] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                                 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---- helpers -------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    if (smar_init() != SMAR_OK)
        return -1;
    smar_keyfile_set_pwhash_limits_for_tests(crypto_pwhash_OPSLIMIT_MIN,
                                             crypto_pwhash_MEMLIMIT_MIN);
    return 0;
}

static smar_keyring *new_identity(const char *id)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate_identity(kr, id), SMAR_OK);
    return kr;
}

/* A recipient keyring for identity's public key, made through the files. */
static smar_keyring *recipient_of(const smar_keyring *identity, const char *dir)
{
    char *path = tu_path_join(dir, "r.pub");
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_save_recipient(identity, path, SMAR_SAVE_OVERWRITE), SMAR_OK);
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_load_recipient(kr, path), SMAR_OK);
    free(path);
    return kr;
}

/* Call the provider's wrap directly: format 1's keyring wrap refuses version 0. */
static int wrap(const smar_keyring *kr, const uint8_t *aad, size_t aad_len,
                uint8_t out[SMAR_WRAPPED_MAX], size_t *len)
{
    char msg[256] = "";
    uint32_t version = 99;
    int rc = smar_provider_x25519.wrap(smar_keyring_x25519_key(kr), aad, aad_len, test_dek, out,
                                       SMAR_WRAPPED_MAX, len, &version, msg, sizeof msg);
    if (rc == SMAR_OK)
        assert_int_equal(version, SMAR_X25519_VERSION);
    return rc;
}

/* Unwrap through the keyring, as the reader does; msg (may be NULL) gets its message. */
static int unwrap(smar_keyring *kr, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
                  size_t len, uint8_t dek[SMAR_DEK_BYTES], char *msg, size_t msg_len)
{
    smar_err e = {0};
    int rc = smar_keyring_unwrap(kr, SMAR_X25519_VERSION, aad, aad_len, blob, len, dek, &e);
    if (msg != NULL)
        snprintf(msg, msg_len, "%s", smar_err_message(&e));
    return rc;
}

/* ---- wrap and unwrap ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    smar_keyring *id = new_identity(NULL);
    uint8_t blob[SMAR_WRAPPED_MAX], blob2[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES] = {0};
    size_t len = 0, len2 = 0;
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    assert_int_equal(len, SMAR_X25519_WRAPPED_BYTES);
    assert_int_equal(unwrap(id, test_aad, sizeof test_aad, blob, len, dek, NULL, 0), SMAR_OK);
    assert_memory_equal(dek, test_dek, SMAR_DEK_BYTES);
    /* A fresh ephemeral key per wrap: two wraps of one DEK share nothing. */
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob2, &len2), SMAR_OK);
    assert_memory_not_equal(blob, blob2, 32);
    assert_memory_not_equal(blob + 32, blob2 + 32, 48);
    /* The slot binding is authenticated. */
    memset(dek, 0, sizeof dek);
    assert_int_equal(unwrap(id, test_aad, sizeof test_aad - 1, blob, len, dek, NULL, 0),
                     SMAR_E_AUTH);
    assert_true(sodium_is_zero(dek, sizeof dek)); /* written only on success */
    assert_string_equal(smar_keyring_provider(id), "x25519");
    smar_keyring_free(id);
}

static void test_recipient_wraps_identity_unwraps(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    smar_keyring *id = new_identity("dr-2026");
    smar_keyring *rcpt = recipient_of(id, dir);
    assert_int_equal(smar_keyring_is_recipient(rcpt), 1);
    assert_int_equal(smar_keyring_is_recipient(id), 0);
    assert_string_equal(smar_keyring_id(rcpt), "dr-2026");
    uint8_t blob[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES] = {0};
    size_t len = 0;
    assert_int_equal(wrap(rcpt, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    assert_int_equal(unwrap(id, test_aad, sizeof test_aad, blob, len, dek, NULL, 0), SMAR_OK);
    assert_memory_equal(dek, test_dek, SMAR_DEK_BYTES);
    /* The recipient cannot open what it wrapped: NOTFOUND (the reader's SMAR_E_KEY). */
    char msg[512];
    memset(dek, 0, sizeof dek);
    assert_int_equal(unwrap(rcpt, test_aad, sizeof test_aad, blob, len, dek, msg, sizeof msg),
                     SMAR_E_NOTFOUND);
    assert_non_null(
        strstr(msg, "a recipient (public key) cannot open archives; use its identity file"));
    assert_true(sodium_is_zero(dek, sizeof dek));
    smar_keyring_free(rcpt);
    smar_keyring_free(id);
    tu_rmtree(dir);
    free(dir);
}

static void test_wrong_identity_auth(void **state)
{
    (void)state;
    smar_keyring *a = new_identity("same-id"), *b = new_identity("same-id");
    uint8_t blob[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES];
    size_t len = 0;
    assert_int_equal(wrap(a, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    assert_int_equal(unwrap(b, test_aad, sizeof test_aad, blob, len, dek, NULL, 0), SMAR_E_AUTH);
    smar_keyring_free(a);
    smar_keyring_free(b);
}

static void test_every_altered_byte_auth(void **state)
{
    (void)state;
    smar_keyring *id = new_identity(NULL);
    uint8_t blob[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES];
    size_t len = 0;
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            uint8_t altered[SMAR_WRAPPED_MAX];
            memcpy(altered, blob, len);
            altered[i] ^= (uint8_t)(1u << bit);
            int rc = unwrap(id, test_aad, sizeof test_aad, altered, len, dek, NULL, 0);
            if (rc != SMAR_E_AUTH)
                fail_msg("byte %zu bit %u altered: status %d, expected AUTH", i, bit, rc);
        }
    }
    smar_keyring_free(id);
}

static void test_bad_length_format(void **state)
{
    (void)state;
    smar_keyring *id = new_identity(NULL);
    uint8_t blob[SMAR_WRAPPED_MAX + 1] = {0}, dek[SMAR_DEK_BYTES];
    size_t len = 0;
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    const size_t bad[] = {0,
                          1,
                          32,
                          72,
                          SMAR_X25519_WRAPPED_BYTES - 1,
                          SMAR_X25519_WRAPPED_BYTES + 1,
                          SMAR_WRAPPED_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(unwrap(id, test_aad, sizeof test_aad, blob, bad[i], dek, NULL, 0),
                         SMAR_E_FORMAT);
    /* A slot recording a key version is not one an x25519 key makes. */
    smar_err e = {0};
    assert_int_equal(smar_keyring_unwrap(id, 1, test_aad, sizeof test_aad, blob, len, dek, &e),
                     SMAR_E_FORMAT);
    smar_keyring_free(id);
}

/* Low-order points of Curve25519 (the small subgroup): X25519 with any clamped scalar gives
 * all zeros, a shared secret anyone knows. */
static const uint8_t low_order_points[][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static void test_low_order_ephemeral_refused(void **state)
{
    (void)state;
    smar_keyring *id = new_identity(NULL);
    uint8_t blob[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES] = {0};
    size_t len = 0;
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    for (size_t i = 0; i < sizeof low_order_points / sizeof low_order_points[0]; i++) {
        char msg[512];
        memcpy(blob, low_order_points[i], 32);
        assert_int_equal(unwrap(id, test_aad, sizeof test_aad, blob, len, dek, msg, sizeof msg),
                         SMAR_E_AUTH);
        assert_non_null(strstr(msg, "low-order"));
        assert_true(sodium_is_zero(dek, sizeof dek));
    }
    smar_keyring_free(id);
}

/* A recipient file naming a low-order point is refused at load: no wrap ever uses it. */
static void test_low_order_recipient_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path_join(dir, "bad.pub");
    for (size_t i = 0; i < sizeof low_order_points / sizeof low_order_points[0]; i++) {
        char b64[64], text[256];
        sodium_bin2base64(b64, sizeof b64, low_order_points[i], 32, sodium_base64_VARIANT_ORIGINAL);
        int n = snprintf(text, sizeof text,
                         "{\"type\":\"smar-recipient\",\"format\":1,\"id\":\"x\","
                         "\"public_key\":\"%s\"}",
                         b64);
        assert_int_equal(tu_write_file(path, text, (size_t)n), 0);
        smar_keyring *kr = NULL;
        assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
        assert_int_equal(smar_keyring_load_recipient(kr, path), SMAR_E_FORMAT);
        assert_non_null(strstr(smar_keyring_error(kr), "low-order"));
        smar_keyring_free(kr);
    }
    tu_rmtree(dir);
    free(dir);
    free(path);
}

/* Format 1 cannot record version 0: its writer refuses the slot (format 2 lifts it). */
static void test_keyring_wrap_and_format(void **state)
{
    (void)state;
    smar_keyring *id = new_identity(NULL);
    uint8_t blob[SMAR_WRAPPED_MAX];
    size_t len = 0;
    uint32_t version = 99;
    smar_err e = {0};
    int rc = smar_keyring_wrap(id, test_aad, sizeof test_aad, test_dek, blob, &len, &version, &e);
#if SMAR_FORMAT_VERSION_MAJOR < 2
    assert_int_equal(rc, SMAR_E_UNSUPPORTED);
    assert_non_null(strstr(smar_err_message(&e), "format 2"));
#else
    assert_int_equal(rc, SMAR_OK);
    assert_int_equal(version, 0);
    assert_int_equal(len, SMAR_X25519_WRAPPED_BYTES);
#endif
    smar_keyring_free(id);
}

/* ---- files ---------------------------------------------------------------------------- */

static void test_files(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char *ipath = tu_path_join(dir, "dr.key"), *rpath = tu_path_join(dir, "dr.key.pub");
    smar_keyring *id = new_identity(NULL);
    uint8_t pk[32], pk2[32];
    assert_int_equal(smar_keyring_recipient_public(id, pk), SMAR_OK);
    /* Default id: x25519- and the first 8 bytes of the public key in hex. */
    char want[32] = "x25519-";
    sodium_bin2hex(want + 7, sizeof want - 7, pk, 8);
    assert_string_equal(smar_keyring_id(id), want);

    assert_int_equal(smar_keyring_save_identity(id, ipath, NULL, 0), SMAR_OK);
    assert_int_equal(smar_keyring_save_recipient(id, rpath, 0), SMAR_OK);
    struct stat st;
    assert_int_equal(stat(ipath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(rpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(smar_keyring_save_identity(id, ipath, NULL, 0), SMAR_E_EXISTS);
    assert_int_equal(smar_keyfile_kind_of(ipath), SMAR_KEYFILE_IDENTITY);
    assert_int_equal(smar_keyfile_kind_of(rpath), SMAR_KEYFILE_RECIPIENT);
    char *text = tu_read_file(rpath, NULL);
    assert_null(strstr(text, "secret")); /* the public file holds no secret */
    free(text);

    smar_keyring *loaded = NULL, *rcpt = NULL;
    assert_int_equal(smar_keyring_new(&loaded), SMAR_OK);
    assert_int_equal(smar_keyring_load_identity(loaded, ipath, NULL), SMAR_OK);
    assert_string_equal(smar_keyring_id(loaded), want);
    assert_int_equal(smar_keyring_recipient_public(loaded, pk2), SMAR_OK);
    assert_memory_equal(pk, pk2, 32);
    /* The identity opens what the original wrapped. */
    uint8_t blob[SMAR_WRAPPED_MAX], dek[SMAR_DEK_BYTES];
    size_t len = 0;
    assert_int_equal(wrap(id, test_aad, sizeof test_aad, blob, &len), SMAR_OK);
    assert_int_equal(unwrap(loaded, test_aad, sizeof test_aad, blob, len, dek, NULL, 0), SMAR_OK);
    assert_memory_equal(dek, test_dek, SMAR_DEK_BYTES);
    /* A recipient file is not an identity; an identity is not loaded from a 0644 file. */
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_identity(rcpt, rpath, NULL), SMAR_E_INVALID);
    chmod(ipath, 0644);
    smar_keyring_free(rcpt);
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_identity(rcpt, ipath, NULL), SMAR_E_INVALID);
    chmod(rpath, 0600);
    smar_keyring_free(rcpt);
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_identity(rcpt, rpath, NULL), SMAR_E_FORMAT);
    /* A recipient keyring saves its recipient, never an identity. */
    smar_keyring_free(rcpt);
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_recipient(rcpt, rpath), SMAR_OK);
    assert_int_equal(smar_keyring_save_identity(rcpt, ipath, NULL, SMAR_SAVE_OVERWRITE),
                     SMAR_E_INVALID);
    assert_int_equal(smar_keyring_generate_identity(rcpt, NULL), SMAR_E_INVALID);

    smar_keyring_free(rcpt);
    smar_keyring_free(loaded);
    smar_keyring_free(id);
    tu_rmtree(dir);
    free(dir);
    free(ipath);
    free(rpath);
}

static void test_sealed_identity(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path_join(dir, "dr.key");
    smar_keyring *id = new_identity("dr");
    assert_int_equal(smar_keyring_save_identity(id, path, PW, 0), SMAR_OK);
    char *text = tu_read_file(path, NULL);
    assert_non_null(strstr(text, "\"sealed\""));
    assert_null(strstr(text, "secret_key"));
    free(text);
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_load_identity(kr, path, NULL), SMAR_E_PASSPHRASE);
    assert_int_equal(smar_keyring_load_identity(kr, path, "wrong"), SMAR_E_PASSPHRASE);
    assert_int_equal(smar_keyring_load_identity(kr, path, PW), SMAR_OK);
    assert_int_equal(smar_keyring_is_recipient(kr), 0);
    smar_keyring_free(kr);
    /* The public half loads without the passphrase. */
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_load_recipient(kr, path), SMAR_OK);
    assert_int_equal(smar_keyring_is_recipient(kr), 1);
    smar_keyring_free(kr);
    smar_keyring_free(id);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

/* An identity whose halves belong to two key pairs, or with a bad id, is refused. */
static void test_malformed_identity(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path_join(dir, "x.key");
    uint8_t pk[32], sk[32], pk_other[32], sk_other[32];
    crypto_box_keypair(pk, sk);
    crypto_box_keypair(pk_other, sk_other);
    char bpk[64], bsk[64], text[512];
    sodium_bin2base64(bpk, sizeof bpk, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(bsk, sizeof bsk, sk_other, 32, sodium_base64_VARIANT_ORIGINAL);
#define IDENTITY_FMT                                                                               \
    "{\"type\":\"smar-recipient-identity\",\"format\":1,"                                          \
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"id\":\"%s\",\"public_key\":\"%s\","                 \
    "\"secret_key\":\"%s\"}"
    const char *ids[] = {"ok-id", "has space", ""};
    for (size_t i = 0; i < 3; i++) {
        int n = snprintf(text, sizeof text, IDENTITY_FMT, ids[i], bpk, bsk);
        assert_int_equal(tu_write_file(path, text, (size_t)n), 0);
        smar_keyring *kr = NULL;
        assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
        assert_int_equal(smar_keyring_load_identity(kr, path, NULL), SMAR_E_FORMAT);
        assert_null(strstr(smar_keyring_error(kr), bsk)); /* never echoes key material */
        smar_keyring_free(kr);
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(sk_other, sizeof sk_other);
    tu_rmtree(dir);
    free(dir);
    free(path);
}

/* ---- archives ------------------------------------------------------------------------- */

static void test_unlocked_by_public_key(void **state)
{
    (void)state;
    smar_keyring *local = NULL, *id = new_identity("dr");
    assert_int_equal(smar_keyring_new(&local), SMAR_OK);
    assert_int_equal(smar_keyring_generate(local, "primary"), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(NULL), SMAR_E_INVALID);

    mem_archive a = {0};
    smar_reader *r = NULL;
    assert_int_equal(fx_make_archive(&a, 3, &local, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), SMAR_E_INVALID); /* not unlocked */
    assert_int_equal(smar_reader_unlock(r, &local, 1), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), 0);
    smar_reader_free(r);
    free(a.data);

    smar_keyring *both[2] = {local, id};
    a = (mem_archive){0};
#if SMAR_FORMAT_VERSION_MAJOR < 2
    /* Waits for format 2 (f2core): format 1 cannot record an x25519 slot. */
    assert_int_equal(fx_make_archive(&a, 3, both, 2, NULL, 0), SMAR_E_UNSUPPORTED);
#else
    assert_int_equal(fx_make_archive(&a, 3, both, 2, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, id), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), 1);
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &a, local), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), 0);
    smar_reader_free(r);
#endif
    free(a.data);
    smar_keyring_free(local);
    smar_keyring_free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_recipient_wraps_identity_unwraps),
        cmocka_unit_test(test_wrong_identity_auth),
        cmocka_unit_test(test_every_altered_byte_auth),
        cmocka_unit_test(test_bad_length_format),
        cmocka_unit_test(test_low_order_ephemeral_refused),
        cmocka_unit_test(test_low_order_recipient_refused),
        cmocka_unit_test(test_keyring_wrap_and_format),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_sealed_identity),
        cmocka_unit_test(test_malformed_identity),
        cmocka_unit_test(test_unlocked_by_public_key),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
