/*
 * test_signkey.c - producer signing keys: Ed25519 signing, secret and public key files,
 * passphrase sealing, permissions and malformed files (libsmar/keys/signkey.c, keyfile.c).
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

#include "keyfile.h"
#include "keyring_internal.h"
#include "smar/writer.h"
#include "testutil.h"

#define PW "signing passphrase"

typedef struct fixture {
    char *dir;
    char path[4096];
} fixture;

static int group_setup(void **state)
{
    (void)state;
    if (smar_init() != SMAR_OK)
        return -1;
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

static smar_signkey *generated(void)
{
    smar_signkey *sk = NULL;
    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    assert_int_equal(smar_signkey_generate(sk), SMAR_OK);
    return sk;
}

static int load_rc(const char *path, const char *pw, smar_signkey **out, char *msg, size_t msglen)
{
    smar_signkey *sk = NULL;
    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    int rc = smar_signkey_load(sk, path, pw);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", smar_signkey_error(sk));
    if (out != NULL && rc == SMAR_OK)
        *out = sk;
    else
        smar_signkey_free(sk);
    return rc;
}

/* smar_signkey_load_public on a fresh handle: the public key into pk on success (else pk
 * is untouched) and the handle's message into msg (may be NULL). */
static int load_public_rc(const char *path, uint8_t pk[32], char *msg, size_t msglen)
{
    smar_signkey *sk = NULL;
    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    int rc = smar_signkey_load_public(sk, path);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", rc == SMAR_OK ? "" : smar_signkey_error(sk));
    if (rc == SMAR_OK)
        smar_signkey_public(sk, pk);
    smar_signkey_free(sk);
    return rc;
}

static smar_signkey *loaded(const char *path, const char *pw)
{
    smar_signkey *sk = NULL;
    char msg[SMAR_ERRMSG_MAX];
    if (load_rc(path, pw, &sk, msg, sizeof msg) != SMAR_OK)
        fail_msg("load '%s': %s", path, msg);
    return sk;
}

static void save_ok(const smar_signkey *sk, const char *path, const char *pw, unsigned flags)
{
    if (smar_signkey_save(sk, path, pw, flags) != SMAR_OK)
        fail_msg("save '%s': %s", path, smar_signkey_error(sk));
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

/* Sign msg with sk and check the signature with libsodium against pk. */
static void expect_signs_for(const smar_signkey *sk, const uint8_t pk[32])
{
    static const uint8_t msg[] = "manifest root hash";
    uint8_t sig[64];
    assert_int_equal(smar_signkey_sign(sk, msg, sizeof msg, sig), SMAR_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    uint8_t other[sizeof msg];
    memcpy(other, msg, sizeof msg);
    other[0] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sig, other, sizeof other, pk), 0);
}

static char *b64(const uint8_t *bin, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(len);
    assert_non_null(s);
    return sodium_bin2base64(s, len, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_sign_verify(void **state)
{
    (void)state;
    smar_signkey *sk = generated();
    uint8_t pk[32], zero[32] = {0};
    smar_signkey_public(sk, pk);
    assert_memory_not_equal(pk, zero, 32);
    expect_signs_for(sk, pk);
    /* Empty message, and deterministic Ed25519 signatures. */
    uint8_t s1[64], s2[64];
    assert_int_equal(smar_signkey_sign(sk, NULL, 0, s1), SMAR_OK);
    assert_int_equal(smar_signkey_sign(sk, NULL, 0, s2), SMAR_OK);
    assert_memory_equal(s1, s2, 64);
    assert_int_equal(crypto_sign_verify_detached(s1, NULL, 0, pk), 0);

    smar_signkey *other = generated();
    uint8_t pk2[32];
    smar_signkey_public(other, pk2);
    assert_memory_not_equal(pk, pk2, 32);
    assert_int_equal(smar_signkey_generate(other), SMAR_E_INVALID);
    smar_signkey_free(other);
    smar_signkey_free(sk);
}

static void test_empty_handle(void **state)
{
    smar_signkey *sk = NULL;
    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    uint8_t pk[32], zero[32] = {0}, sig[64];
    memset(pk, 0xff, sizeof pk);
    smar_signkey_public(sk, pk);
    assert_memory_equal(pk, zero, 32);
    assert_int_equal(smar_signkey_sign(sk, zero, 1, sig), SMAR_E_INVALID);
    assert_int_equal(smar_signkey_save(sk, P(state, "x"), NULL, 0), SMAR_E_INVALID);
    assert_int_equal(smar_signkey_save_public(sk, P(state, "x"), 0), SMAR_E_INVALID);
    assert_true(strlen(smar_signkey_error(sk)) > 0);
    smar_signkey_free(sk);
    smar_signkey_free(NULL);
    assert_int_equal(smar_signkey_new(NULL), SMAR_E_INVALID);
    assert_int_equal(smar_signkey_sign(NULL, zero, 1, sig), SMAR_E_INVALID);
}

static void test_fingerprint(void **state)
{
    (void)state;
    /* BLAKE2b-256 of 32 zero bytes, and of the bytes 0..31, first 16 bytes in hex. */
    uint8_t pk[32] = {0};
    char fp[33];
    smar_signkey_fingerprint(pk, fp);
    assert_string_equal(fp, "89eb0d6a8a691dae2cd15ed0369931ce");
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)i;
    smar_signkey_fingerprint(pk, fp);
    assert_string_equal(fp, "cb2f5160fc1f7e05a55ef49d340b48da");

    smar_signkey *sk = generated();
    char a[33], b[33];
    smar_signkey_public(sk, pk);
    smar_signkey_fingerprint(pk, a);
    smar_signkey_fingerprint(pk, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 32);
    smar_signkey_free(sk);
}

static void test_save_load_round_trip(void **state)
{
    const char *path = P(state, "sign.key");
    smar_signkey *sk = generated();
    uint8_t pk[32], pk2[32];
    smar_signkey_public(sk, pk);
    save_ok(sk, path, NULL, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    smar_signkey *again = loaded(path, NULL);
    smar_signkey_public(again, pk2);
    assert_memory_equal(pk, pk2, 32);
    expect_signs_for(again, pk);
    /* Saving the loaded key gives the same file (created_at is kept). */
    save_ok(again, P(state, "copy.key"), NULL, 0);
    char *t1 = tu_read_file(path, NULL);
    char *t2 = tu_read_file(P(state, "copy.key"), NULL);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_string_equal(t1, t2);
    assert_non_null(strstr(t1, "\"type\": \"smar-signing-key\""));
    assert_non_null(strstr(t1, "\"secret_key\": \""));
    free(t1);
    free(t2);
    assert_int_equal(smar_signkey_load(again, path, NULL), SMAR_E_INVALID);
    smar_signkey_free(again);
    smar_signkey_free(sk);
}

static void test_public_file(void **state)
{
    fixture *f = *state;
    smar_signkey *sk = generated();
    uint8_t pk[32], got[32];
    smar_signkey_public(sk, pk);
    char pub[4096];
    snprintf(pub, sizeof pub, "%s/sign.pub", f->dir);
    assert_int_equal(smar_signkey_save_public(sk, pub, 0), SMAR_OK);
    struct stat st;
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    char *text = tu_read_file(pub, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"type\": \"smar-signing-public-key\""));
    assert_null(strstr(text, "secret"));
    free(text);

    char err[256] = "untouched";
    memset(got, 0, sizeof got);
    assert_int_equal(load_public_rc(pub, got, err, sizeof err), SMAR_OK);
    assert_memory_equal(got, pk, 32);
    assert_string_equal(err, "");

    /* The public half of secret key files, plain or sealed, needs no passphrase. */
    save_ok(sk, P(state, "plain.key"), NULL, 0);
    memset(got, 0, sizeof got);
    assert_int_equal(load_public_rc(P(state, "plain.key"), got, NULL, 0), SMAR_OK);
    assert_memory_equal(got, pk, 32);
    save_ok(sk, P(state, "sealed.key"), PW, 0);
    memset(got, 0, sizeof got);
    assert_int_equal(load_public_rc(P(state, "sealed.key"), got, err, sizeof err), SMAR_OK);
    assert_memory_equal(got, pk, 32);

    /* A secret key cannot be loaded from a public file. */
    char msg[SMAR_ERRMSG_MAX];
    assert_int_equal(chmod(pub, 0600), 0);
    assert_int_equal(load_rc(pub, NULL, NULL, msg, sizeof msg), SMAR_E_FORMAT);

    assert_int_equal(smar_signkey_save_public(sk, pub, 0), SMAR_E_EXISTS);
    assert_int_equal(smar_signkey_save_public(sk, pub, SMAR_SAVE_OVERWRITE), SMAR_OK);

    uint8_t before[32];
    memcpy(before, got, 32);
    assert_int_equal(load_public_rc(P(state, "none.pub"), got, err, sizeof err), SMAR_E_IO);
    assert_non_null(strstr(err, "none.pub"));
    assert_memory_equal(got, before, 32);
    smar_signkey_free(sk);
}

/* smar_signkey_load_public follows the library's error pattern: status codes, and the
 * message on the handle (naming the file). The handle then holds the public key only: it
 * gives and saves it, and refuses to sign, to save a secret key or to be a signer. */
static void test_public_only_handle(void **state)
{
    char pub[4096];
    snprintf(pub, sizeof pub, "%s", P(state, "only.pub")); /* P's buffer is reused */
    smar_signkey *sk = generated();
    uint8_t want[32], got[32], sig[64];
    smar_signkey_public(sk, want);
    assert_int_equal(smar_signkey_save_public(sk, pub, 0), SMAR_OK);
    assert_int_equal(smar_signkey_load_public(sk, pub), SMAR_E_INVALID); /* holds a key */
    smar_signkey_free(sk);

    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    assert_int_equal(smar_signkey_load_public(sk, P(state, "none.pub")), SMAR_E_IO);
    assert_non_null(strstr(smar_signkey_error(sk), "none.pub"));
    assert_int_equal(smar_signkey_load_public(sk, pub), SMAR_OK);
    smar_signkey_public(sk, got);
    assert_memory_equal(got, want, 32);
    assert_int_equal(smar_signkey_sign(sk, want, 32, sig), SMAR_E_INVALID);
    assert_non_null(strstr(smar_signkey_error(sk), "only a public key"));
    assert_int_equal(smar_signkey_save(sk, P(state, "only.key"), NULL, 0), SMAR_E_INVALID);
    assert_int_equal(smar_signkey_save_public(sk, P(state, "again.pub"), 0), SMAR_OK);
    assert_int_equal(load_public_rc(P(state, "again.pub"), got, NULL, 0), SMAR_OK);
    assert_memory_equal(got, want, 32);
    smar_writer *w;
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_set_signer(w, sk), SMAR_E_INVALID);
    assert_non_null(strstr(smar_writer_error(w), "no secret key"));
    smar_writer_free(w);
    smar_signkey_free(sk);
}

static void test_passphrase(void **state)
{
    const char *path = P(state, "pw.key");
    char file[4096];
    snprintf(file, sizeof file, "%s", path);
    smar_signkey *sk = generated();
    uint8_t pk[32], pk2[32];
    smar_signkey_public(sk, pk);
    save_ok(sk, file, PW, 0);

    smar_signkey *again = loaded(file, PW);
    smar_signkey_public(again, pk2);
    assert_memory_equal(pk, pk2, 32);
    expect_signs_for(again, pk);
    smar_signkey_free(again);

    char msg[SMAR_ERRMSG_MAX];
    assert_int_equal(load_rc(file, "wrong", NULL, msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_non_null(strstr(msg, "wrong passphrase"));
    assert_int_equal(load_rc(file, NULL, NULL, msg, sizeof msg), SMAR_E_PASSPHRASE);
    assert_non_null(strstr(msg, "passphrase is needed"));

    /* The sealed file holds neither the secret key's base64 nor its seed's bytes. */
    save_ok(sk, P(state, "plain.key"), NULL, 0);
    char *plain = tu_read_file(P(state, "plain.key"), NULL);
    size_t sealed_len;
    char *sealed = tu_read_file(file, &sealed_len);
    assert_non_null(plain);
    assert_non_null(sealed);
    char *at = strstr(plain, "\"secret_key\": \"");
    assert_non_null(at);
    at += strlen("\"secret_key\": \"");
    *strchr(at, '"') = '\0';
    assert_null(strstr(sealed, at));
    assert_null(strstr(sealed, "secret_key"));
    uint8_t secret[64];
    size_t n;
    assert_int_equal(sodium_base642bin(secret, sizeof secret, at, strlen(at), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 64);
    for (size_t i = 0; i + 8 <= sealed_len; i++)
        assert_memory_not_equal(sealed + i, secret, 8);
    free(plain);
    free(sealed);

    /* The sealed key is bound to the public key next to it. */
    smar_signkey *other = generated();
    uint8_t opk[32];
    smar_signkey_public(other, opk);
    char *opk_b64 = b64(opk, 32), *pk_b64 = b64(pk, 32);
    char *text = tu_read_file(file, NULL);
    assert_non_null(text);
    char *p = strstr(text, pk_b64);
    assert_non_null(p);
    memcpy(p, opk_b64, strlen(opk_b64));
    write_text(file, text);
    assert_int_equal(load_rc(file, PW, NULL, NULL, 0), SMAR_E_PASSPHRASE);
    free(text);
    free(opk_b64);
    free(pk_b64);
    smar_signkey_free(other);
    smar_signkey_free(sk);
}

static void test_mode_and_overwrite(void **state)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", P(state, "m.key"));
    smar_signkey *sk = generated();
    smar_signkey *other = generated();
    save_ok(sk, path, NULL, 0);
    assert_int_equal(smar_signkey_save(other, path, NULL, 0), SMAR_E_EXISTS);
    char msg[SMAR_ERRMSG_MAX];
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(load_rc(path, NULL, NULL, msg, sizeof msg), SMAR_E_INVALID);
    assert_non_null(strstr(msg, "chmod 600"));
    /* The public half stays readable from it. */
    uint8_t pk[32], want[32];
    assert_int_equal(load_public_rc(path, pk, NULL, 0), SMAR_OK);
    smar_signkey_public(sk, want);
    assert_memory_equal(pk, want, 32);

    save_ok(other, path, NULL, SMAR_SAVE_OVERWRITE);
    smar_signkey *again = loaded(path, NULL);
    smar_signkey_public(other, want);
    smar_signkey_public(again, pk);
    assert_memory_equal(pk, want, 32);
    smar_signkey_free(again);
    smar_signkey_free(other);
    smar_signkey_free(sk);
}

static void expect_malformed_secret(void **state, const char *text, const char *why)
{
    const char *path = P(state, "bad.key");
    write_text(path, text);
    char msg[SMAR_ERRMSG_MAX];
    int rc = load_rc(path, PW, NULL, msg, sizeof msg);
    if (rc != SMAR_E_FORMAT)
        fail_msg("%s: got %d (%s), want SMAR_E_FORMAT", why, rc, msg);
    assert_non_null(strstr(msg, path));
}

static void expect_malformed_public(void **state, const char *text, const char *why)
{
    const char *path = P(state, "bad.pub");
    write_text(path, text);
    char err[SMAR_ERRMSG_MAX];
    uint8_t pk[32];
    int rc = load_public_rc(path, pk, err, sizeof err);
    if (rc != SMAR_E_FORMAT)
        fail_msg("%s: got %d (%s), want SMAR_E_FORMAT", why, rc, err);
    assert_non_null(strstr(err, path));
}

static void test_malformed(void **state)
{
    /* A consistent pair from a fixed seed, and a second key to mix halves with. */
    uint8_t seed[32], pk[32], sk[64], pk2[32], sk2[64];
    memset(seed, 7, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 9, sizeof seed);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    char *pk_b = b64(pk, 32), *sk_b = b64(sk, 64), *pk2_b = b64(pk2, 32), *sk2_b = b64(sk2, 64);
    char text[2048];

#define SECRET(type, format, pkv, skv)                                                             \
    snprintf(text, sizeof text,                                                                    \
             "{\"type\":\"%s\",\"format\":%s,\"created_at\":\"2026-01-01T00:00:00Z\","             \
             "\"public_key\":\"%s\",\"secret_key\":\"%s\"}",                                       \
             type, format, pkv, skv)

    SECRET("smar-signing-key", "1", pk_b, sk_b);
    write_text(P(state, "good.key"), text);
    smar_signkey *good = loaded(P(state, "good.key"), NULL);
    uint8_t got[32];
    smar_signkey_public(good, got);
    assert_memory_equal(got, pk, 32);
    expect_signs_for(good, pk);
    smar_signkey_free(good);

    SECRET("smar-signing-key", "1", pk2_b, sk_b);
    expect_malformed_secret(state, text, "public key of another pair");
    SECRET("smar-signing-key", "1", pk_b, sk2_b);
    expect_malformed_secret(state, text, "secret key of another pair");
    /* The seed of one pair with the public half of the other inside secret_key. */
    uint8_t mixed[64];
    memcpy(mixed, sk, 32);
    memcpy(mixed + 32, pk2, 32);
    char *mixed_b = b64(mixed, 64);
    SECRET("smar-signing-key", "1", pk2_b, mixed_b);
    expect_malformed_secret(state, text, "seed of another pair");
    free(mixed_b);
    SECRET("smar-signing-key", "2", pk_b, sk_b);
    expect_malformed_secret(state, text, "format 2");
    SECRET("smar-keyring", "1", pk_b, sk_b);
    expect_malformed_secret(state, text, "wrong type");
    SECRET("smar-signing-key", "1", "AAAA", sk_b);
    expect_malformed_secret(state, text, "short public key");
    SECRET("smar-signing-key", "1", pk_b, pk_b);
    expect_malformed_secret(state, text, "short secret key");
    SECRET("smar-signing-key", "1", pk_b, "!!!!");
    expect_malformed_secret(state, text, "bad base64");
    snprintf(text, sizeof text,
             "{\"type\":\"smar-signing-key\",\"format\":1,\"created_at\":\"2026-01-01T00:00:00Z\","
             "\"public_key\":\"%s\"}",
             pk_b);
    expect_malformed_secret(state, text, "no secret key");
    snprintf(text, sizeof text,
             "{\"type\":\"smar-signing-key\",\"format\":1,\"public_key\":\"%s\","
             "\"secret_key\":\"%s\"}",
             pk_b, sk_b);
    expect_malformed_secret(state, text, "no created_at");
    expect_malformed_secret(state, "{\"type\":\"smar-signing-key\"", "truncated");

    snprintf(text, sizeof text,
             "{\"type\":\"smar-signing-public-key\",\"format\":1,\"public_key\":\"%s\"}", pk_b);
    write_text(P(state, "good.pub"), text);
    assert_int_equal(load_public_rc(P(state, "good.pub"), got, NULL, 0), SMAR_OK);
    assert_memory_equal(got, pk, 32);
    snprintf(text, sizeof text,
             "{\"type\":\"smar-signing-public-key\",\"format\":3,\"public_key\":\"%s\"}", pk_b);
    expect_malformed_public(state, text, "public format 3");
    snprintf(text, sizeof text, "{\"type\":\"smar-public-key\",\"format\":1,\"public_key\":\"%s\"}",
             pk_b);
    expect_malformed_public(state, text, "public wrong type");
    snprintf(text, sizeof text,
             "{\"type\":\"smar-signing-public-key\",\"format\":1,\"public_key\":\"%s\","
             "\"secret_key\":\"%s\"}",
             pk_b, sk_b);
    expect_malformed_public(state, text, "public file with a secret");
    expect_malformed_public(state,
                            "{\"type\":\"smar-signing-public-key\",\"format\":1,\"public_key\":"
                            "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\"}",
                            "public key of 31 bytes");
    expect_malformed_public(state, "", "empty public file");
    expect_malformed_public(state, "{\"type\":1}", "type not a string");
#undef SECRET
    free(pk_b);
    free(sk_b);
    free(pk2_b);
    free(sk2_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_only_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_and_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
