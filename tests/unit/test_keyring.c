/*
 * test_keyring.c - root keys: generation, the local provider's wrap/unwrap, rotation,
 * keyring files (plain and passphrase-sealed), permissions, atomic saves and malformed files
 * (libsmar/keys/keyring.c, keyring_file.c, keyprov_local.c, keyfile.c, io/file_sink.c;
 * spec/KEYRING.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keyfile.h"
#include "atomic_file.h"
#include "keyring_internal.h"
#include "testutil.h"

#define PW "correct horse battery staple"
/* Base64 of the bytes 0..31, of 0..30 and of 0..32. */
#define K32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define K33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
#define T0  "\"2026-01-01T00:00:00Z\""
#define HEAD                                                                                       \
    "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\",\"key_id\":\"rk-test\","       \
    "\"created_at\":" T0 ","
#define V(n, key) "{\"version\":" #n ",\"created_at\":" T0 ",\"key\":\"" key "\"}"

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char path[4096];
} fixture;

static int group_setup(void **state)
{
    (void)state;
    if (smar_init() != SMAR_OK)
        return -1;
    /* Argon2id at its minimum: the tests check the sealing, not its cost. */
    smar_keyfile_set_pwhash_limits_for_tests(crypto_pwhash_OPSLIMIT_MIN,
                                             crypto_pwhash_MEMLIMIT_MIN);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || (f->dir = tu_tmpdir()) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A path in the test's folder; valid until the next call. */
static const char *P(void **state, const char *name)
{
    fixture *f = *state;
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

static smar_keyring *generated(const char *id)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, id), SMAR_OK);
    return kr;
}

static smar_keyring *loaded(const char *path, const char *passphrase)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    int rc = smar_keyring_load(kr, path, passphrase);
    if (rc != SMAR_OK)
        fail_msg("load '%s': %s", path, smar_keyring_error(kr));
    return kr;
}

static int load_rc(const char *path, const char *passphrase, char *msg, size_t msglen)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    int rc = smar_keyring_load(kr, path, passphrase);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", smar_keyring_error(kr));
    if (rc != SMAR_OK) {
        assert_string_equal(smar_keyring_id(kr), "");
        assert_int_equal(smar_keyring_version_count(kr), 0);
    }
    smar_keyring_free(kr);
    return rc;
}

static void save_ok(const smar_keyring *kr, const char *path, const char *pw, unsigned flags)
{
    if (smar_keyring_save(kr, path, pw, flags) != SMAR_OK)
        fail_msg("save '%s': %s", path, smar_keyring_error(kr));
}

static void wrap_ok(smar_keyring *kr, const uint8_t *aad, size_t aad_len,
                    const uint8_t dek[SMAR_DEK_BYTES], uint8_t blob[SMAR_WRAPPED_MAX], size_t *len,
                    uint32_t *version)
{
    smar_err e = {0};
    if (smar_keyring_wrap(kr, aad, aad_len, dek, blob, len, version, &e) != SMAR_OK)
        fail_msg("wrap: %s", smar_err_message(&e));
    assert_int_equal(*len, SMAR_LOCAL_WRAPPED_BYTES);
}

/* Unwrap into a sentinel-filled buffer; on failure check it was not touched and that a
 * message was recorded. */
static int unwrap_rc(smar_keyring *kr, uint32_t version, const uint8_t *aad, size_t aad_len,
                     const uint8_t *blob, size_t len, uint8_t dek[SMAR_DEK_BYTES])
{
    smar_err e = {0};
    uint8_t out[SMAR_DEK_BYTES];
    memset(out, 0xa5, sizeof out);
    int rc = smar_keyring_unwrap(kr, version, aad, aad_len, blob, len, out, &e);
    if (rc == SMAR_OK) {
        memcpy(dek, out, sizeof out);
        return rc;
    }
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xa5);
    assert_int_equal(e.code, rc);
    assert_true(strlen(smar_err_message(&e)) > 0);
    return rc;
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

/* Replace the first occurrence of from with to in the file; the file must contain it. */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (at == NULL)
        fail_msg("'%s' not in %s", from, path);
    size_t out_len = len - strlen(from) + strlen(to);
    char *out = malloc(out_len + 1);
    assert_non_null(out);
    size_t head = (size_t)(at - text);
    memcpy(out, text, head);
    memcpy(out + head, to, strlen(to));
    strcpy(out + head + strlen(to), at + strlen(from));
    assert_int_equal(tu_write_file(path, out, out_len), 0);
    free(out);
    free(text);
}

/* The text of the value of the first `"name": "` in text (a new string). */
static char *json_string_after(const char *text, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", name);
    const char *at = strstr(text, pat);
    if (at == NULL)
        return NULL;
    at += strlen(pat);
    const char *end = strchr(at, '"');
    assert_non_null(end);
    char *s = strndup(at, (size_t)(end - at));
    assert_non_null(s);
    return s;
}

static bool contains_bytes(const char *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* ---- generation and accessors --------------------------------------------------------- */

static void test_generate_defaults(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    const char *id = smar_keyring_id(kr);
    assert_int_equal(strlen(id), 3 + 32);
    assert_memory_equal(id, "rk-", 3);
    for (size_t i = 3; i < strlen(id); i++)
        assert_non_null(strchr("0123456789abcdef", id[i]));
    assert_int_equal(smar_keyring_version_count(kr), 1);
    assert_int_equal(smar_keyring_current_version(kr), 1);
    assert_string_equal(smar_keyring_provider(kr), "local");
    assert_int_equal(smar_keyring_provider_id(kr), SMAR_PROVIDER_LOCAL);
    uint32_t v = 0;
    smar_time_ns created = 0;
    assert_int_equal(smar_keyring_version_info(kr, 0, &v, &created), SMAR_OK);
    assert_int_equal(v, 1);
    assert_true(created > INT64_C(1600000000) * 1000000000);
    assert_int_equal(smar_keyring_version_info(kr, 1, &v, &created), SMAR_E_INVALID);

    smar_keyring *other = generated(NULL);
    assert_string_not_equal(smar_keyring_id(kr), smar_keyring_id(other));
    smar_keyring_free(other);
    smar_keyring_free(kr);
}

static void test_generate_key_ids(void **state)
{
    (void)state;
    char longest[SMAR_KEY_ID_MAX + 2];
    memset(longest, 'k', SMAR_KEY_ID_MAX);
    longest[SMAR_KEY_ID_MAX] = '\0';
    const char *good[] = {"a", "backup-root-2026", "x\"y\\z{}", longest};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(good); i++) {
        smar_keyring *kr = generated(good[i]);
        assert_string_equal(smar_keyring_id(kr), good[i]);
        smar_keyring_free(kr);
    }
    longest[SMAR_KEY_ID_MAX] = 'k';
    longest[SMAR_KEY_ID_MAX + 1] = '\0';
    const char *bad[] = {"", "has space", "tab\there", "caf\xc3\xa9", "nl\n", longest};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(bad); i++) {
        smar_keyring *kr = NULL;
        assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
        assert_int_equal(smar_keyring_generate(kr, bad[i]), SMAR_E_INVALID);
        assert_non_null(strstr(smar_keyring_error(kr), "key id"));
        assert_string_equal(smar_keyring_id(kr), "");
        smar_keyring_free(kr);
    }
}

static void test_empty_keyring(void **state)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_string_equal(smar_keyring_id(kr), "");
    assert_int_equal(smar_keyring_version_count(kr), 0);
    assert_int_equal(smar_keyring_current_version(kr), 0);
    assert_string_equal(smar_keyring_provider(kr), "local");
    assert_int_equal(smar_keyring_rotate(kr), SMAR_E_INVALID);
    assert_int_equal(smar_keyring_save(kr, P(state, "k"), NULL, 0), SMAR_E_INVALID);
    uint8_t dek[SMAR_DEK_BYTES] = {0}, blob[SMAR_WRAPPED_MAX];
    size_t len;
    uint32_t v;
    smar_err e = {0};
    assert_int_equal(smar_keyring_wrap(kr, NULL, 0, dek, blob, &len, &v, &e), SMAR_E_INVALID);
    memset(blob, 0, SMAR_LOCAL_WRAPPED_BYTES);
    assert_int_equal(unwrap_rc(kr, 1, NULL, 0, blob, SMAR_LOCAL_WRAPPED_BYTES, dek),
                     SMAR_E_NOTFOUND);
    smar_keyring_free(kr);
    smar_keyring_free(NULL);
    assert_int_equal(smar_keyring_new(NULL), SMAR_E_INVALID);
    assert_int_equal(smar_keyring_generate(NULL, NULL), SMAR_E_INVALID);
    assert_non_null(smar_keyring_error(NULL));
}

static void test_generate_or_load_twice_refused(void **state)
{
    smar_keyring *kr = generated("one");
    save_ok(kr, P(state, "one.key"), NULL, 0);
    assert_int_equal(smar_keyring_generate(kr, "two"), SMAR_E_INVALID);
    assert_int_equal(smar_keyring_load(kr, P(state, "one.key"), NULL), SMAR_E_INVALID);
    assert_string_equal(smar_keyring_id(kr), "one");
    smar_keyring_free(kr);
}

/* ---- wrap / unwrap -------------------------------------------------------------------- */

static void test_wrap_unwrap(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    uint8_t dek[SMAR_DEK_BYTES], back[SMAR_DEK_BYTES], blob[SMAR_WRAPPED_MAX],
        blob2[SMAR_WRAPPED_MAX];
    uint8_t aad[40];
    randombytes_buf(dek, sizeof dek);
    randombytes_buf(aad, sizeof aad);
    size_t len, len2;
    uint32_t v;
    wrap_ok(kr, aad, sizeof aad, dek, blob, &len, &v);
    assert_int_equal(v, 1);
    assert_int_equal(unwrap_rc(kr, v, aad, sizeof aad, blob, len, back), SMAR_OK);
    assert_memory_equal(back, dek, sizeof dek);
    /* A fresh nonce each time: the same DEK never wraps to the same blob. */
    wrap_ok(kr, aad, sizeof aad, dek, blob2, &len2, &v);
    assert_memory_not_equal(blob, blob2, SMAR_LOCAL_WRAPPED_BYTES);
    /* Empty AAD works too, and is not interchangeable with a non-empty one. */
    wrap_ok(kr, NULL, 0, dek, blob2, &len2, &v);
    assert_int_equal(unwrap_rc(kr, v, NULL, 0, blob2, len2, back), SMAR_OK);
    assert_memory_equal(back, dek, sizeof dek);
    assert_int_equal(unwrap_rc(kr, v, aad, sizeof aad, blob2, len2, back), SMAR_E_AUTH);
    smar_keyring_free(kr);
}

/* The blob layout is nonce || ciphertext || tag under the version's raw key: check against
 * libsodium directly, with a keyring file holding known key bytes. */
static void test_unwrap_known_layout(void **state)
{
    const char *path = P(state, "known.key");
    write_text(path, HEAD "\"versions\":[" V(1, K32) "]}");
    smar_keyring *kr = loaded(path, NULL);
    uint8_t key[32], dek[32], nonce[24], blob[SMAR_LOCAL_WRAPPED_BYTES], back[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    randombytes_buf(dek, sizeof dek);
    randombytes_buf(nonce, sizeof nonce);
    static const uint8_t aad[] = "slot binding";
    memcpy(blob, nonce, sizeof nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 24, NULL, dek, 32, aad, sizeof aad, NULL,
                                               nonce, key);
    assert_int_equal(unwrap_rc(kr, 1, aad, sizeof aad, blob, sizeof blob, back), SMAR_OK);
    assert_memory_equal(back, dek, 32);

    /* And the other way: what the keyring wraps, libsodium opens with the raw key. */
    uint8_t out[SMAR_WRAPPED_MAX];
    size_t len;
    uint32_t v;
    wrap_ok(kr, aad, sizeof aad, dek, out, &len, &v);
    unsigned long long mlen;
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(back, &mlen, NULL, out + 24, 48,
                                                                aad, sizeof aad, out, key),
                     0);
    assert_memory_equal(back, dek, 32);
    smar_keyring_free(kr);
}

static void test_unwrap_wrong_aad(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    uint8_t aad[32] = "archive-a", other[32] = "archive-b";
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, aad, sizeof aad, dek, blob, &len, &v);
    assert_int_equal(unwrap_rc(kr, v, other, sizeof other, blob, len, back), SMAR_E_AUTH);
    assert_int_equal(unwrap_rc(kr, v, aad, sizeof aad - 1, blob, len, back), SMAR_E_AUTH);
    assert_int_equal(unwrap_rc(kr, v, NULL, 0, blob, len, back), SMAR_E_AUTH);
    smar_keyring_free(kr);
}

static void test_unwrap_every_flipped_byte(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    static const uint8_t aad[] = "aad";
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, aad, sizeof aad, dek, blob, &len, &v);
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            blob[i] ^= (uint8_t)(1u << bit);
            if (unwrap_rc(kr, v, aad, sizeof aad, blob, len, back) != SMAR_E_AUTH)
                fail_msg("flipping bit %u of byte %zu was not detected", bit, i);
            blob[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(unwrap_rc(kr, v, aad, sizeof aad, blob, len, back), SMAR_OK);
    smar_keyring_free(kr);
}

static void test_unwrap_wrong_length(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX + 1] = {0};
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, NULL, 0, dek, blob, &len, &v);
    const size_t lengths[] = {0, 1, 24, 56, 71, 73, 88, SMAR_WRAPPED_MAX};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(lengths); i++)
        assert_int_equal(unwrap_rc(kr, v, NULL, 0, blob, lengths[i], back), SMAR_E_FORMAT);
    /* Length is checked before the version. */
    assert_int_equal(unwrap_rc(kr, 7, NULL, 0, blob, 71, back), SMAR_E_FORMAT);
    assert_int_equal(unwrap_rc(kr, v, NULL, 0, NULL, 0, back), SMAR_E_FORMAT);
    smar_keyring_free(kr);
}

static void test_unwrap_unknown_version(void **state)
{
    (void)state;
    smar_keyring *kr = generated(NULL);
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, NULL, 0, dek, blob, &len, &v);
    assert_int_equal(unwrap_rc(kr, 0, NULL, 0, blob, len, back), SMAR_E_NOTFOUND);
    assert_int_equal(unwrap_rc(kr, 2, NULL, 0, blob, len, back), SMAR_E_NOTFOUND);
    assert_int_equal(unwrap_rc(kr, UINT32_MAX, NULL, 0, blob, len, back), SMAR_E_NOTFOUND);
    smar_keyring_free(kr);
}

static void test_unwrap_same_id_other_material(void **state)
{
    (void)state;
    smar_keyring *a = generated("shared-id");
    smar_keyring *b = generated("shared-id");
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(a, NULL, 0, dek, blob, &len, &v);
    assert_int_equal(unwrap_rc(b, v, NULL, 0, blob, len, back), SMAR_E_AUTH);
    smar_keyring_free(a);
    smar_keyring_free(b);
}

/* ---- rotation ------------------------------------------------------------------------- */

static void test_rotate(void **state)
{
    smar_keyring *kr = generated(NULL);
    uint8_t dek1[32], dek2[32], back[32], blob1[SMAR_WRAPPED_MAX], blob2[SMAR_WRAPPED_MAX];
    randombytes_buf(dek1, sizeof dek1);
    randombytes_buf(dek2, sizeof dek2);
    size_t len1, len2;
    uint32_t v1, v2;
    wrap_ok(kr, NULL, 0, dek1, blob1, &len1, &v1);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    assert_int_equal(smar_keyring_version_count(kr), 2);
    assert_int_equal(smar_keyring_current_version(kr), 2);
    wrap_ok(kr, NULL, 0, dek2, blob2, &len2, &v2);
    assert_int_equal(v1, 1);
    assert_int_equal(v2, 2);
    assert_int_equal(unwrap_rc(kr, 1, NULL, 0, blob1, len1, back), SMAR_OK);
    assert_memory_equal(back, dek1, 32);
    assert_int_equal(unwrap_rc(kr, 2, NULL, 0, blob2, len2, back), SMAR_OK);
    assert_memory_equal(back, dek2, 32);
    /* Versions really differ: a blob does not open under the other version. */
    assert_int_equal(unwrap_rc(kr, 2, NULL, 0, blob1, len1, back), SMAR_E_AUTH);
    assert_int_equal(unwrap_rc(kr, 1, NULL, 0, blob2, len2, back), SMAR_E_AUTH);

    save_ok(kr, P(state, "r.key"), NULL, 0);
    smar_keyring *again = loaded(P(state, "r.key"), NULL);
    assert_string_equal(smar_keyring_id(again), smar_keyring_id(kr));
    assert_int_equal(smar_keyring_current_version(again), 2);
    for (size_t i = 0; i < 2; i++) {
        uint32_t va, vb;
        smar_time_ns ta, tb;
        assert_int_equal(smar_keyring_version_info(kr, i, &va, &ta), SMAR_OK);
        assert_int_equal(smar_keyring_version_info(again, i, &vb, &tb), SMAR_OK);
        assert_int_equal(va, vb);
        assert_int_equal(ta, tb);
    }
    assert_int_equal(unwrap_rc(again, 1, NULL, 0, blob1, len1, back), SMAR_OK);
    assert_memory_equal(back, dek1, 32);
    assert_int_equal(unwrap_rc(again, 2, NULL, 0, blob2, len2, back), SMAR_OK);
    assert_memory_equal(back, dek2, 32);
    smar_keyring_free(again);
    smar_keyring_free(kr);
}

static void test_rotate_to_limit(void **state)
{
    smar_keyring *kr = generated(NULL);
    uint8_t dek[32], back[32], blob1[SMAR_WRAPPED_MAX], blob_last[SMAR_WRAPPED_MAX];
    randombytes_buf(dek, sizeof dek);
    size_t len1, len_last;
    uint32_t v;
    wrap_ok(kr, NULL, 0, dek, blob1, &len1, &v);
    for (int i = 1; i < SMAR_KEY_VERSIONS_MAX; i++)
        assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    assert_int_equal(smar_keyring_current_version(kr), SMAR_KEY_VERSIONS_MAX);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_E_LIMIT);
    assert_int_equal(smar_keyring_current_version(kr), SMAR_KEY_VERSIONS_MAX);
    wrap_ok(kr, NULL, 0, dek, blob_last, &len_last, &v);
    assert_int_equal(v, SMAR_KEY_VERSIONS_MAX);

    save_ok(kr, P(state, "big.key"), NULL, 0);
    smar_keyring *again = loaded(P(state, "big.key"), NULL);
    assert_int_equal(smar_keyring_version_count(again), SMAR_KEY_VERSIONS_MAX);
    assert_int_equal(unwrap_rc(again, 1, NULL, 0, blob1, len1, back), SMAR_OK);
    assert_int_equal(unwrap_rc(again, v, NULL, 0, blob_last, len_last, back), SMAR_OK);
    assert_memory_equal(back, dek, 32);
    smar_keyring_free(again);

    save_ok(kr, P(state, "big-pw.key"), PW, 0);
    again = loaded(P(state, "big-pw.key"), PW);
    assert_int_equal(unwrap_rc(again, 1, NULL, 0, blob1, len1, back), SMAR_OK);
    smar_keyring_free(again);
    smar_keyring_free(kr);
}

/* ---- files ---------------------------------------------------------------------------- */

static void test_save_load_round_trip(void **state)
{
    const char *path = P(state, "root.key");
    smar_keyring *kr = generated(NULL);
    save_ok(kr, path, NULL, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    smar_keyring *again = loaded(path, NULL);
    assert_string_equal(smar_keyring_id(again), smar_keyring_id(kr));
    assert_string_equal(smar_keyring_provider(again), "local");
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, NULL, 0, dek, blob, &len, &v);
    assert_int_equal(unwrap_rc(again, v, NULL, 0, blob, len, back), SMAR_OK);
    assert_memory_equal(back, dek, 32);
    /* A passphrase given for a file that has none is simply not needed. */
    smar_keyring_free(again);
    again = loaded(path, "unneeded");
    smar_keyring_free(again);

    /* The file is the documented JSON. */
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"type\": \"smar-keyring\""));
    assert_non_null(strstr(text, "\"format\": 1"));
    assert_non_null(strstr(text, "\"provider\": \"local\""));
    assert_non_null(strstr(text, "\"version\": 1"));
    assert_null(strstr(text, "protection"));
    free(text);
    smar_keyring_free(kr);
}

static void test_key_id_escaped_in_file(void **state)
{
    const char *path = P(state, "q.key");
    smar_keyring *kr = generated("q\"u\\o{te}");
    save_ok(kr, path, NULL, 0);
    smar_keyring *again = loaded(path, NULL);
    assert_string_equal(smar_keyring_id(again), "q\"u\\o{te}");
    smar_keyring_free(again);
    save_ok(kr, path, PW, SMAR_SAVE_OVERWRITE);
    again = loaded(path, PW);
    assert_string_equal(smar_keyring_id(again), "q\"u\\o{te}");
    smar_keyring_free(again);
    smar_keyring_free(kr);
}

static void test_passphrase(void **state)
{
    const char *path = P(state, "pw.key");
    smar_keyring *kr = generated(NULL);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    save_ok(kr, path, PW, 0);
    uint8_t dek[32], back[32], blob[SMAR_WRAPPED_MAX];
    randombytes_buf(dek, sizeof dek);
    size_t len;
    uint32_t v;
    wrap_ok(kr, NULL, 0, dek, blob, &len, &v);

    smar_keyring *again = loaded(path, PW);
    assert_int_equal(smar_keyring_current_version(again), 2);
    assert_int_equal(unwrap_rc(again, v, NULL, 0, blob, len, back), SMAR_OK);
    assert_memory_equal(back, dek, 32);
    smar_keyring_free(again);

    char msg[SMAR_ERRMSG_MAX];
    assert_int_equal(load_rc(path, "wrong horse", msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_non_null(strstr(msg, "wrong passphrase"));
    assert_int_equal(load_rc(path, PW " ", msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_int_equal(load_rc(path, NULL, msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_non_null(strstr(msg, "passphrase is needed"));
    assert_non_null(strstr(msg, path));
    assert_int_equal(load_rc(path, "", msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_non_null(strstr(msg, "passphrase is needed"));
    assert_null(strstr(msg, PW));

    /* An empty passphrase is refused at save, rather than sealing with nothing. */
    assert_int_equal(smar_keyring_save(kr, P(state, "empty.key"), "", 0), SMAR_E_INVALID);
    assert_int_equal(access(P(state, "empty.key"), F_OK), -1);
    smar_keyring_free(kr);
}

static void test_passphrase_file_holds_no_key(void **state)
{
    smar_keyring *kr = generated(NULL);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    save_ok(kr, P(state, "plain.key"), NULL, 0);
    save_ok(kr, P(state, "sealed.key"), PW, 0);
    char *plain = tu_read_file(P(state, "plain.key"), NULL);
    size_t sealed_len;
    char *sealed = tu_read_file(P(state, "sealed.key"), &sealed_len);
    assert_non_null(plain);
    assert_non_null(sealed);
    /* Both versions' keys, as base64 text and as raw bytes. */
    const char *cursor = plain;
    for (int i = 0; i < 2; i++) {
        char *b64 = json_string_after(cursor, "key");
        assert_non_null(b64);
        cursor = strstr(cursor, b64) + strlen(b64);
        uint8_t raw[32];
        size_t raw_len;
        assert_int_equal(sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &raw_len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(raw_len, 32);
        assert_null(strstr(sealed, b64));
        assert_false(contains_bytes(sealed, sealed_len, raw, sizeof raw));
        assert_false(contains_bytes(sealed, sealed_len, raw, 8));
        free(b64);
    }
    assert_null(strstr(sealed, "\"key\""));
    assert_non_null(strstr(sealed, "\"kdf\": \"argon2id13\""));
    assert_non_null(strstr(sealed, "\"sealed\": \""));
    free(plain);
    free(sealed);
    smar_keyring_free(kr);
}

/* The sealed keys are bound to the clear fields: editing them, or moving the sealed blob to
 * another file, fails like a wrong passphrase. */
static void test_sealed_binding(void **state)
{
    smar_keyring *a = generated("key-a");
    smar_keyring *b = generated("key-b");
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    assert_int_equal(smar_keyring_rotate(b), SMAR_OK);
    save_ok(a, P(state, "a.key"), PW, 0);
    save_ok(b, P(state, "b.key"), PW, 0);

    /* b's sealed keys and protection spliced into a's file. */
    char *ta = tu_read_file(P(state, "a.key"), NULL);
    char *tb = tu_read_file(P(state, "b.key"), NULL);
    assert_non_null(ta);
    assert_non_null(tb);
    char *pa = strstr(ta, ",\n  \"protection\"");
    char *pb = strstr(tb, ",\n  \"protection\"");
    assert_non_null(pa);
    assert_non_null(pb);
    *pa = '\0';
    size_t n = strlen(ta) + strlen(pb) + 1;
    char *spliced = malloc(n);
    assert_non_null(spliced);
    snprintf(spliced, n, "%s%s", ta, pb);
    write_text(P(state, "spliced.key"), spliced);
    assert_int_equal(load_rc(P(state, "spliced.key"), PW, NULL, 0), SMAR_E_PASSPHRASE);
    free(spliced);
    free(ta);
    free(tb);

    /* The key id renamed, or version 2's creation time moved by a second. */
    for (int i = 0; i < 2; i++) {
        save_ok(a, P(state, "edit.key"), PW, SMAR_SAVE_OVERWRITE);
        char *text = tu_read_file(P(state, "edit.key"), NULL);
        assert_non_null(text);
        if (i == 0) {
            char *at = strstr(text, "\"key-a\"");
            assert_non_null(at);
            at[5] = 'c';
        } else {
            char *at = strstr(text, "\"version\": 2, \"created_at\": \"");
            assert_non_null(at);
            char *z = strstr(at, "Z\"");
            assert_non_null(z);
            z[-1] = z[-1] == '0' ? '1' : '0';
        }
        write_text(P(state, "edit.key"), text);
        free(text);
        assert_int_equal(load_rc(P(state, "edit.key"), PW, NULL, 0), SMAR_E_PASSPHRASE);
    }
    smar_keyring_free(a);
    smar_keyring_free(b);
}

static void test_mode_refused(void **state)
{
    const char *path = P(state, "m.key");
    smar_keyring *kr = generated(NULL);
    save_ok(kr, path, NULL, 0);
    const unsigned bad[] = {0644, 0640, 0604, 0620, 0602, 0660, 0610, 0601};
    char msg[SMAR_ERRMSG_MAX];
    for (size_t i = 0; i < SMAR_ARRAY_LEN(bad); i++) {
        assert_int_equal(chmod(path, (mode_t)bad[i]), 0);
        assert_int_equal(load_rc(path, NULL, msg, sizeof msg), SMAR_E_INVALID);
        assert_non_null(strstr(msg, "chmod 600"));
        assert_non_null(strstr(msg, path));
    }
    assert_int_equal(chmod(path, 0400), 0);
    smar_keyring *again = loaded(path, NULL);
    smar_keyring_free(again);
    smar_keyring_free(kr);
}

static size_t count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL)
        if (strstr(ent->d_name, ".tmp-") != NULL)
            n++;
    closedir(d);
    return n;
}

static void test_no_overwrite_without_flag(void **state)
{
    fixture *f = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s", P(state, "o.key"));
    smar_keyring *first = generated("first");
    smar_keyring *second = generated("second");
    save_ok(first, path, NULL, 0);
    assert_int_equal(smar_keyring_save(second, path, NULL, 0), SMAR_E_EXISTS);
    assert_non_null(strstr(smar_keyring_error(second), path));
    assert_int_equal(smar_keyring_save(second, path, PW, 0), SMAR_E_EXISTS);
    assert_int_equal(count_temp_files(f->dir), 0);
    smar_keyring *kr = loaded(path, NULL);
    assert_string_equal(smar_keyring_id(kr), "first");
    smar_keyring_free(kr);

    save_ok(second, path, NULL, SMAR_SAVE_OVERWRITE);
    kr = loaded(path, NULL);
    assert_string_equal(smar_keyring_id(kr), "second");
    smar_keyring_free(kr);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_temp_files(f->dir), 0);

    assert_int_equal(smar_keyring_save(second, path, NULL, 0x80), SMAR_E_INVALID);
    smar_keyring_free(first);
    smar_keyring_free(second);
}

static void test_atomic_write_errors(void **state)
{
    fixture *f = *state;
    smar_err e = {0};
    assert_int_equal(smar_atomic_write_file(P(state, "missing/dir/x"), "x", 1, 0600, false, &e),
                     SMAR_E_IO);
    assert_non_null(strstr(e.msg, "missing/dir"));
    assert_int_equal(smar_atomic_write_file(P(state, "dir/"), "x", 1, 0600, false, &e),
                     SMAR_E_INVALID);
    /* A folder is never replaced, with or without overwrite. */
    assert_int_equal(smar_atomic_write_file(f->dir, "x", 1, 0600, true, &e), SMAR_E_INVALID);
    assert_non_null(strstr(e.msg, "is a folder"));
    assert_int_equal(smar_atomic_write_file(f->dir, "x", 1, 0600, false, &e), SMAR_E_EXISTS);
    assert_int_equal(count_temp_files(f->dir), 0);

    /* The mode is exactly the one asked, whatever the umask. */
    mode_t old = umask(0077);
    assert_int_equal(smar_atomic_write_file(P(state, "pub"), "hello", 5, 0644, false, &e), SMAR_OK);
    umask(old);
    struct stat st;
    assert_int_equal(stat(P(state, "pub"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 5);
    assert_int_equal(smar_atomic_write_file(P(state, "empty"), NULL, 0, 0600, false, &e), SMAR_OK);

    /* A relative path without a folder part works (the folder is "."). */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(smar_atomic_write_file("rel", "r", 1, 0600, false, &e), SMAR_OK);
    assert_int_equal(smar_atomic_write_file("rel", "s", 1, 0600, true, &e), SMAR_OK);
    assert_int_equal(chdir(cwd), 0);
    char *text = tu_read_file(P(state, "rel"), NULL);
    assert_string_equal(text, "s");
    free(text);
    assert_int_equal(count_temp_files(f->dir), 0);
}

/* Rotating a keyring kept behind a symbolic link (a relative one, through a second link)
 * replaces the file the links name, in that file's folder; the links stay links. */
static void test_save_through_symlink(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(P(state, "real"), 0700), 0);
    smar_keyring *kr = generated("linked");
    save_ok(kr, P(state, "real/root.key"), NULL, 0);
    assert_int_equal(symlink("real/root.key", P(state, "mid.key")), 0);
    assert_int_equal(symlink("mid.key", P(state, "link.key")), 0);

    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    save_ok(kr, P(state, "link.key"), NULL, SMAR_SAVE_OVERWRITE);

    struct stat st;
    assert_int_equal(lstat(P(state, "link.key"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(P(state, "mid.key"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(P(state, "real/root.key"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    smar_keyring *back = loaded(P(state, "real/root.key"), NULL);
    assert_int_equal(smar_keyring_current_version(back), 2);
    smar_keyring_free(back);
    back = loaded(P(state, "link.key"), NULL);
    assert_int_equal(smar_keyring_current_version(back), 2);
    smar_keyring_free(back);
    assert_int_equal(count_temp_files(f->dir), 0);
    assert_int_equal(count_temp_files(P(state, "real")), 0);

    /* Without overwrite a link is an existing name like any other. */
    assert_int_equal(smar_keyring_save(kr, P(state, "link.key"), NULL, 0), SMAR_E_EXISTS);
    /* A dangling link is followed too: the file is made where it points. */
    assert_int_equal(symlink("real/new.key", P(state, "dangling.key")), 0);
    save_ok(kr, P(state, "dangling.key"), NULL, SMAR_SAVE_OVERWRITE);
    assert_int_equal(lstat(P(state, "real/new.key"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    smar_keyring_free(kr);
}

/* Only a regular file is ever replaced: a FIFO (named or reached through a link) and a
 * loop of links stay as they were, and no temporary file is left behind. */
static void test_save_refuses_special_files(void **state)
{
    fixture *f = *state;
    smar_keyring *kr = generated("special");
    smar_err e = {0};
    assert_int_equal(mkfifo(P(state, "fifo"), 0600), 0);
    assert_int_equal(smar_keyring_save(kr, P(state, "fifo"), NULL, SMAR_SAVE_OVERWRITE),
                     SMAR_E_INVALID);
    assert_non_null(strstr(smar_keyring_error(kr), "is a FIFO"));
    assert_int_equal(symlink("fifo", P(state, "to-fifo")), 0);
    assert_int_equal(smar_keyring_save(kr, P(state, "to-fifo"), NULL, SMAR_SAVE_OVERWRITE),
                     SMAR_E_INVALID);
    struct stat st;
    assert_int_equal(lstat(P(state, "fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    assert_int_equal(symlink("loop-b", P(state, "loop-a")), 0);
    assert_int_equal(symlink("loop-a", P(state, "loop-b")), 0);
    assert_int_equal(smar_atomic_write_file(P(state, "loop-a"), "x", 1, 0600, true, &e), SMAR_E_IO);
    assert_non_null(strstr(e.msg, "symbolic link"));
    assert_int_equal(lstat(P(state, "loop-a"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(count_temp_files(f->dir), 0);
    smar_keyring_free(kr);
}

static void test_load_missing_file(void **state)
{
    char msg[SMAR_ERRMSG_MAX];
    assert_int_equal(load_rc(P(state, "nope.key"), NULL, msg, sizeof msg), SMAR_E_IO);
    fixture *f = *state;
    assert_int_equal(load_rc(f->dir, NULL, msg, sizeof msg), SMAR_E_IO);
    /* A FIFO is refused without waiting for a writer. */
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s", P(state, "fifo.key"));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(load_rc(fifo, NULL, msg, sizeof msg), SMAR_E_IO);
    assert_non_null(strstr(msg, "not a regular file"));
}

/* ---- malformed files ------------------------------------------------------------------ */

static void expect_malformed(void **state, const char *text, const char *pw, const char *why)
{
    const char *path = P(state, "bad.key");
    write_text(path, text);
    char msg[SMAR_ERRMSG_MAX];
    int rc = load_rc(path, pw, msg, sizeof msg);
    if (rc != SMAR_E_FORMAT)
        fail_msg("%s: got %d (%s), want SMAR_E_FORMAT", why, rc, msg);
    assert_non_null(strstr(msg, path));
    /* No key text in messages, whatever went wrong. */
    assert_null(strstr(msg, "AAECAwQF"));
}

static void test_hand_written_file_loads(void **state)
{
    const char *path = P(state, "ok.key");
    write_text(path, HEAD "\"versions\":[" V(1, K32) "," V(2, K32) "]}");
    smar_keyring *kr = loaded(path, NULL);
    assert_string_equal(smar_keyring_id(kr), "rk-test");
    assert_int_equal(smar_keyring_current_version(kr), 2);
    smar_time_ns t;
    assert_int_equal(smar_keyring_version_info(kr, 1, NULL, &t), SMAR_OK);
    assert_int_equal(t, INT64_C(1767225600) * 1000000000);
    smar_keyring_free(kr);
}

/* Integers are JSON numbers with an integral value (spec/KEYRING.md): 1.0 and 1e0 are 1. */
static void test_integers_in_any_notation(void **state)
{
    const char *path = P(state, "num.key");
    write_text(path, "{\"type\":\"smar-keyring\",\"format\":1.0,\"provider\":\"local\","
                     "\"key_id\":\"rk-test\",\"created_at\":" T0 ",\"versions\":["
                     "{\"version\":1e0,\"created_at\":" T0 ",\"key\":\"" K32 "\"},"
                     "{\"version\":0.2E1,\"created_at\":" T0 ",\"key\":\"" K32 "\"},"
                     "{\"version\":3.000000000000000000000000000000,\"created_at\":" T0
                     ",\"key\":\"" K32 "\"},"
                     "{\"version\":40e-1,\"created_at\":" T0 ",\"key\":\"" K32 "\"}]}");
    smar_keyring *kr = loaded(path, NULL);
    assert_int_equal(smar_keyring_current_version(kr), 4);
    smar_keyring_free(kr);
    static const char *const not_one[] = {"1.5", "0.1e0", "-1", "10e-2", "1e400", "2", "0"};
    char text[1024];
    for (size_t i = 0; i < SMAR_ARRAY_LEN(not_one); i++) {
        snprintf(text, sizeof text,
                 "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
                 "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":["
                 "{\"version\":%s,\"created_at\":" T0 ",\"key\":\"" K32 "\"}]}",
                 not_one[i]);
        expect_malformed(state, text, NULL, not_one[i]);
    }
}

static void test_malformed_files(void **state)
{
    static const struct {
        const char *why, *text;
    } cases[] = {
        {"empty file", ""},
        {"not JSON", "smar-keyring"},
        {"not an object", "[1,2]"},
        {"truncated", HEAD "\"versions\":[" V(1, K32)},
        {"trailing garbage", HEAD "\"versions\":[" V(1, K32) "]} x"},
        {"duplicate member", HEAD "\"key_id\":\"x\",\"versions\":[" V(1, K32) "]}"},
        {"unknown member", HEAD "\"comment\":\"x\",\"versions\":[" V(1, K32) "]}"},
        {"wrong type", "{\"type\":\"smar-keyrinG\",\"format\":1,\"provider\":\"local\","
                       "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"format 2", "{\"type\":\"smar-keyring\",\"format\":2,\"provider\":\"local\","
                     "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"format 1.5", "{\"type\":\"smar-keyring\",\"format\":1.5,\"provider\":\"local\","
                       "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"key id of 65 bytes",
         "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\",\"key_id\":"
         "\"k1234567890123456789012345678901234567890123456789012345678901234\","
         "\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"key id with NUL",
         "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
         "\"key_id\":\"a\\u0000b\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"escaped base64",
         HEAD "\"versions\":[" V(1, "\\u0041AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") "]}"},
        {"format string", "{\"type\":\"smar-keyring\",\"format\":\"1\",\"provider\":\"local\","
                          "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"unknown provider",
         "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"hsm\","
         "\"key_id\":\"k\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"key id with space",
         "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
         "\"key_id\":\"a b\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"empty key id", "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
                         "\"key_id\":\"\",\"created_at\":" T0 ",\"versions\":[" V(1, K32) "]}"},
        {"bad created_at", "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
                           "\"key_id\":\"k\",\"created_at\":\"yesterday\","
                           "\"versions\":[" V(1, K32) "]}"},
        {"no versions", HEAD "\"versions\":[]}"},
        {"versions not an array", HEAD "\"versions\":{}}"},
        {"version not an object", HEAD "\"versions\":[1]}"},
        {"bad base64",
         HEAD "\"versions\":[" V(1, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd!h8=") "]}"},
        {"base64 without padding",
         HEAD "\"versions\":[" V(1, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") "]}"},
        {"url-safe base64",
         HEAD "\"versions\":[" V(1, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_-") "]}"},
        {"key of 31 bytes", HEAD "\"versions\":[" V(1, K31) "]}"},
        {"key of 33 bytes", HEAD "\"versions\":[" V(1, K33) "]}"},
        {"empty key", HEAD "\"versions\":[" V(1, "") "]}"},
        {"key not a string",
         HEAD "\"versions\":[{\"version\":1,\"created_at\":" T0 ",\"key\":1}]}"},
        {"missing key", HEAD "\"versions\":[{\"version\":1,\"created_at\":" T0 "}]}"},
        {"missing version", HEAD "\"versions\":[{\"created_at\":" T0 ",\"key\":\"" K32 "\"}]}"},
        {"version gap", HEAD "\"versions\":[" V(1, K32) "," V(3, K32) "]}"},
        {"duplicate version", HEAD "\"versions\":[" V(1, K32) "," V(1, K32) "]}"},
        {"versions out of order", HEAD "\"versions\":[" V(2, K32) "," V(1, K32) "]}"},
        {"starts at 0", HEAD "\"versions\":[" V(0, K32) "]}"},
        {"starts at 2", HEAD "\"versions\":[" V(2, K32) "]}"},
        {"negative version", HEAD "\"versions\":[" V(-1, K32) "]}"},
        {"unknown version member",
         HEAD "\"versions\":[{\"version\":1,\"created_at\":" T0 ",\"key\":\"" K32 "\",\"x\":0}]}"},
        {"sealed without protection",
         HEAD "\"versions\":[{\"version\":1,\"created_at\":" T0 "}],\"sealed\":\"AAAA\"}"},
        {"protection without sealed",
         HEAD "\"versions\":[{\"version\":1,\"created_at\":" T0 "}],\"protection\":{\"kdf\":"
              "\"argon2id13\",\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"opslimit\":1,"
              "\"memlimit\":8192}}"},
        {"too deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++)
        expect_malformed(state, cases[i].text, NULL, cases[i].why);
}

static void test_malformed_truncations(void **state)
{
    const char *src = P(state, "src.key");
    smar_keyring *kr = generated(NULL);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    save_ok(kr, src, NULL, 0);
    size_t len;
    char *text = tu_read_file(src, &len);
    assert_non_null(text);
    /* Every prefix short of the final "}\n" is malformed. */
    for (size_t cut = 0; cut + 2 <= len; cut++) {
        char saved = text[cut];
        text[cut] = '\0';
        expect_malformed(state, text, NULL, "truncated file");
        text[cut] = saved;
    }
    free(text);
    smar_keyring_free(kr);
}

/* Set the value of the first `"name": "..."` in the file. */
static void set_string_value(const char *path, const char *name, const char *value)
{
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    char *old = json_string_after(text, name);
    assert_non_null(old);
    char from[4096], to[4096];
    assert_true(strlen(old) + strlen(name) + 8 < sizeof from);
    snprintf(from, sizeof from, "\"%s\": \"%s\"", name, old);
    snprintf(to, sizeof to, "\"%s\": \"%s\"", name, value);
    free(old);
    free(text);
    edit_file(path, from, to);
}

static void test_malformed_sealed(void **state)
{
    char file[4096];
    snprintf(file, sizeof file, "%s", P(state, "s.key"));
    smar_keyring *kr = generated(NULL);
    static const struct {
        const char *why, *from, *to, *from2, *to2;
    } edits[] = {
        {"huge opslimit", "\"opslimit\": 1,", "\"opslimit\": 4294967295,", NULL, NULL},
        {"opslimit just over the bound", "\"opslimit\": 1,", "\"opslimit\": 17,", NULL, NULL},
        {"opslimit 0", "\"opslimit\": 1,", "\"opslimit\": 0,", NULL, NULL},
        {"opslimit 1e300", "\"opslimit\": 1,", "\"opslimit\": 1e300,", NULL, NULL},
        {"huge memlimit", "\"memlimit\": 8192}", "\"memlimit\": 107374182400}", NULL, NULL},
        {"memlimit just over the bound", "\"memlimit\": 8192}", "\"memlimit\": 1073741825}", NULL,
         NULL},
        {"memlimit too small", "\"memlimit\": 8192}", "\"memlimit\": 8191}", NULL, NULL},
        {"memlimit negative", "\"memlimit\": 8192}", "\"memlimit\": -8192}", NULL, NULL},
        {"memlimit fractional", "\"memlimit\": 8192}", "\"memlimit\": 8192.5}", NULL, NULL},
        {"memlimit missing", ", \"memlimit\": 8192}", "}", NULL, NULL},
        {"unknown kdf", "\"argon2id13\"", "\"scrypt\"", NULL, NULL},
        {"unknown protection member", "\"kdf\"", "\"x\": 1, \"kdf\"", NULL, NULL},
        {"protection not an object", "\"protection\": {", "\"protection\": [{",
         "\"memlimit\": 8192}", "\"memlimit\": 8192}]"},
        {"key next to sealed", "{\"version\": 1, \"created_at\": \"",
         "{\"version\": 1, \"key\": \"" K32 "\", \"created_at\": \"", NULL, NULL},
    };
    static const char *const values[][3] = {
        {"salt of 3 bytes", "salt", "AAAA"},
        {"salt of 17 bytes", "salt", "AAAAAAAAAAAAAAAAAAAAAAA="},
        {"sealed too short", "sealed", "AAAA"},
        {"sealed not base64", "sealed", "!!!!"},
    };
    size_t n_edits = SMAR_ARRAY_LEN(edits);
    for (size_t i = 0; i < n_edits + SMAR_ARRAY_LEN(values); i++) {
        save_ok(kr, file, PW, SMAR_SAVE_OVERWRITE);
        const char *why;
        if (i < n_edits) {
            why = edits[i].why;
            edit_file(file, edits[i].from, edits[i].to);
            if (edits[i].from2 != NULL)
                edit_file(file, edits[i].from2, edits[i].to2);
        } else {
            why = values[i - n_edits][0];
            set_string_value(file, values[i - n_edits][1], values[i - n_edits][2]);
        }
        char *text = tu_read_file(file, NULL);
        assert_non_null(text);
        expect_malformed(state, text, PW, why);
        free(text);
    }
    smar_keyring_free(kr);
}

static void test_file_size_bound(void **state)
{
    size_t n = SMAR_KEYFILE_MAX_BYTES + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect_malformed(state, big, NULL, "file over the size bound");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_key_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_keyring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_or_load_twice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_unwrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_known_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_wrong_aad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_every_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_wrong_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_unknown_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwrap_same_id_other_material, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_to_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_id_escaped_in_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_file_holds_no_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overwrite_without_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_through_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_refuses_special_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_written_file_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integers_in_any_notation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_truncations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
