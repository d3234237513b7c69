/*
 * signkey.c - producer signing keys (Ed25519): generation, signing, and the secret and
 * public key files (spec/KEYRING.md). The secret key lives in locked memory, read-only.
 */
#include "keyring_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "atomic_file.h"

#include "keyfile.h"

#define SECRET_TYPE "smar-signing-key"
#define PUBLIC_TYPE "smar-signing-public-key"

_Static_assert(SMAR_SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "public key size");

struct smar_signkey {
    /* Points at err_rec, so calls on a const handle (save) can record their error. */
    smar_err *err;
    smar_err err_rec;
    uint8_t *sk; /* crypto_sign_SECRETKEYBYTES (seed || pk), sodium_malloc; NULL: no key */
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    bool has_public; /* pk is set: with sk, or alone after smar_signkey_load_public */
    smar_time_ns created_at;
};

int smar_signkey_new(smar_signkey **out)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    smar_signkey *sk = calloc(1, sizeof *sk);
    *out = sk;
    if (sk == NULL)
        return SMAR_E_NOMEM;
    sk->err = &sk->err_rec;
    return SMAR_OK;
}

void smar_signkey_free(smar_signkey *sk)
{
    if (sk == NULL)
        return;
    sodium_free(sk->sk);
    free(sk);
}

const char *smar_signkey_error(const smar_signkey *sk)
{
    return sk != NULL ? smar_err_message(sk->err) : smar_strerror(SMAR_E_INVALID);
}

static int require_empty(const smar_signkey *sk)
{
    if (sk->has_public)
        return smar_fail(sk->err, SMAR_E_INVALID,
                         "the handle already holds a signing key; use a new handle");
    return SMAR_OK;
}

int smar_signkey_generate(smar_signkey *sk)
{
    if (sk == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(sk->err);
    int rc = require_empty(sk);
    if (rc != SMAR_OK)
        return rc;
    sk->sk = smar_secure_alloc(crypto_sign_SECRETKEYBYTES);
    if (sk->sk == NULL)
        return smar_fail(sk->err, SMAR_E_NOMEM, "out of locked memory");
    crypto_sign_keypair(sk->pk, sk->sk);
    sk->has_public = true;
    sodium_mprotect_readonly(sk->sk);
    sk->created_at = smar_keyfile_now();
    return SMAR_OK;
}

void smar_signkey_public(const smar_signkey *sk, uint8_t pk[SMAR_SIGN_PUBLIC_BYTES])
{
    if (sk != NULL && sk->has_public)
        memcpy(pk, sk->pk, SMAR_SIGN_PUBLIC_BYTES);
    else
        memset(pk, 0, SMAR_SIGN_PUBLIC_BYTES);
}

void smar_signkey_fingerprint(const uint8_t pk[SMAR_SIGN_PUBLIC_BYTES], char out[33])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, pk, SMAR_SIGN_PUBLIC_BYTES, NULL, 0);
    sodium_bin2hex(out, 33, h, 16);
}

/* Why the handle cannot sign or save its secret key. */
static const char *no_secret_key(const smar_signkey *sk)
{
    return sk->has_public ? "the handle holds only a public key (smar_signkey_load_public)"
                          : "the handle holds no signing key";
}

bool smar_signkey_can_sign(const smar_signkey *sk)
{
    return sk != NULL && sk->sk != NULL;
}

int smar_signkey_sign(const smar_signkey *sk, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (sk == NULL || sig == NULL || (msg == NULL && len > 0))
        return SMAR_E_INVALID;
    if (sk->sk == NULL)
        return smar_fail(sk->err, SMAR_E_INVALID, "%s", no_secret_key(sk));
    crypto_sign_detached(sig, NULL, msg, len, sk->sk);
    return SMAR_OK;
}

/* ---- files ---------------------------------------------------------------------------- */

/* Binds sealed secret key bytes to the clear fields (spec/KEYRING.md, "Sealing"). */
#define AAD_BYTES (sizeof SECRET_TYPE + 4 + SMAR_SIGN_PUBLIC_BYTES + 8)
static void build_aad(uint8_t aad[AAD_BYTES], const uint8_t pk[SMAR_SIGN_PUBLIC_BYTES],
                      smar_time_ns created_at)
{
    memcpy(aad, SECRET_TYPE, sizeof SECRET_TYPE); /* with its NUL */
    smar_store_u32(aad + sizeof SECRET_TYPE, 1);
    memcpy(aad + sizeof SECRET_TYPE + 4, pk, SMAR_SIGN_PUBLIC_BYTES);
    smar_store_u64(aad + sizeof SECRET_TYPE + 4 + SMAR_SIGN_PUBLIC_BYTES, (uint64_t)created_at);
}

static int build_secret_file(const smar_signkey *sk, const smar_keyfile *kf, const char *passphrase,
                             smar_buf *text)
{
    int rc = smar_buf_printf(
        text, "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"created_at\": ", SECRET_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_time(text, sk->created_at);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(text, ",\n  \"public_key\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(text, sk->pk, SMAR_SIGN_PUBLIC_BYTES);
    if (rc == SMAR_OK && passphrase == NULL) {
        rc = smar_buf_append_str(text, ",\n  \"secret_key\": ");
        if (rc == SMAR_OK)
            rc = smar_keyfile_put_b64(text, sk->sk, crypto_sign_SECRETKEYBYTES);
    }
    if (rc != SMAR_OK)
        return smar_keyfile_fail(kf, rc, "out of memory");
    if (passphrase != NULL) {
        uint8_t aad[AAD_BYTES];
        build_aad(aad, sk->pk, sk->created_at);
        rc = smar_keyfile_seal(kf, text, passphrase, aad, sizeof aad, sk->sk,
                               crypto_sign_SECRETKEYBYTES);
        if (rc != SMAR_OK)
            return rc;
    }
    if (smar_buf_append_str(text, "\n}\n") != SMAR_OK)
        return smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

static int check_save_args(const smar_signkey *sk, const char *path, unsigned flags, bool secret)
{
    if (path == NULL || (flags & ~SMAR_SAVE_OVERWRITE) != 0)
        return smar_fail(sk->err, SMAR_E_INVALID, "invalid argument to save");
    if (secret ? sk->sk == NULL : !sk->has_public)
        return smar_fail(sk->err, SMAR_E_INVALID, "%s", no_secret_key(sk));
    return SMAR_OK;
}

int smar_signkey_save(const smar_signkey *sk, const char *path, const char *passphrase,
                      unsigned flags)
{
    if (sk == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(sk->err);
    int rc = check_save_args(sk, path, flags, true);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"signing key", path, NULL, sk->err};
    smar_buf text = {.secure = true};
    rc = build_secret_file(sk, &kf, passphrase, &text);
    if (rc == SMAR_OK)
        rc = smar_atomic_write_file(path, text.data, text.len, 0600,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, sk->err);
    smar_buf_free(&text);
    return rc;
}

int smar_signkey_save_public(const smar_signkey *sk, const char *path, unsigned flags)
{
    if (sk == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(sk->err);
    int rc = check_save_args(sk, path, flags, false);
    if (rc != SMAR_OK)
        return rc;
    smar_buf text = {0};
    rc = smar_buf_printf(
        &text, "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"public_key\": ", PUBLIC_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(&text, sk->pk, SMAR_SIGN_PUBLIC_BYTES);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(&text, "\n}\n");
    if (rc != SMAR_OK)
        rc = smar_fail(sk->err, SMAR_E_NOMEM, "out of memory");
    else
        rc = smar_atomic_write_file(path, text.data, text.len, 0644,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, sk->err);
    smar_buf_free(&text);
    return rc;
}

static const char *const secret_members[] = {"type",       "format",     "created_at", "public_key",
                                             "secret_key", "protection", "sealed",     NULL};

/* The secret key must be the one its seed makes, and match the stored public key: a file
 * mixing halves of two keys would otherwise sign with one and advertise the other. */
static int check_pair(const smar_keyfile *kf, const uint8_t *secret,
                      const uint8_t pk[SMAR_SIGN_PUBLIC_BYTES])
{
    uint8_t derived_pk[SMAR_SIGN_PUBLIC_BYTES];
    uint8_t *derived_sk = smar_secure_alloc(crypto_sign_SECRETKEYBYTES);
    if (derived_sk == NULL)
        return smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of locked memory");
    crypto_sign_seed_keypair(derived_pk, derived_sk, secret); /* seed = first 32 bytes */
    bool ok = sodium_memcmp(derived_sk, secret, crypto_sign_SECRETKEYBYTES) == 0 &&
              memcmp(derived_pk, pk, SMAR_SIGN_PUBLIC_BYTES) == 0;
    sodium_free(derived_sk);
    if (!ok)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "\"secret_key\" does not belong to \"public_key\"");
    return SMAR_OK;
}

/* Fill the handle's fields from a parsed secret key file; secret is locked memory. */
static int parse_secret(const smar_keyfile *kf, smar_span root, const char *passphrase,
                        smar_signkey *sk, uint8_t *secret)
{
    int rc = smar_keyfile_check_members(kf, root, secret_members, "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, SECRET_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_time(kf, root, "created_at", &sk->created_at);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_b64(kf, root, "public_key", sk->pk, SMAR_SIGN_PUBLIC_BYTES);
    if (rc != SMAR_OK)
        return rc;
    bool has_secret = smar_keyfile_has(root, "secret_key", NULL);
    if (smar_keyfile_is_sealed(root)) {
        if (has_secret)
            return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                     "has a \"secret_key\" although the key is sealed");
        uint8_t aad[AAD_BYTES];
        build_aad(aad, sk->pk, sk->created_at);
        rc = smar_keyfile_unseal(kf, root, passphrase, aad, sizeof aad, secret,
                                 crypto_sign_SECRETKEYBYTES);
    } else {
        rc = smar_keyfile_get_b64(kf, root, "secret_key", secret, crypto_sign_SECRETKEYBYTES);
    }
    if (rc == SMAR_OK)
        rc = check_pair(kf, secret, sk->pk);
    return rc;
}

int smar_signkey_load(smar_signkey *sk, const char *path, const char *passphrase)
{
    if (sk == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(sk->err);
    if (path == NULL)
        return smar_fail(sk->err, SMAR_E_INVALID, "no signing key file given");
    int rc = require_empty(sk);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"signing key", path, NULL, sk->err};
    smar_buf text = {.secure = true};
    smar_span root;
    uint8_t *secret = smar_secure_alloc(crypto_sign_SECRETKEYBYTES);
    if (secret == NULL)
        rc = smar_fail(sk->err, SMAR_E_NOMEM, "out of locked memory");
    if (rc == SMAR_OK)
        rc = smar_keyfile_read(&kf, true, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_secret(&kf, root, passphrase, sk, secret);
    if (rc == SMAR_OK) {
        sodium_mprotect_readonly(secret);
        sk->sk = secret;
        sk->has_public = true;
        secret = NULL;
    } else {
        memset(sk->pk, 0, sizeof sk->pk);
        sk->created_at = 0;
    }
    sodium_free(secret);
    smar_buf_free(&text);
    return rc;
}

/* The public key of a parsed public or secret key file. */
static int parse_public(const smar_keyfile *kf, smar_span root, uint8_t pk[SMAR_SIGN_PUBLIC_BYTES])
{
    static const char *const public_members[] = {"type", "format", "public_key", NULL};
    smar_span type;
    bool is_string =
        smar_keyfile_has(root, "type", &type) && smar_json_kind_of(type) == SMAR_JSON_STRING;
    bool secret = is_string && smar_json_string_eq(type, SECRET_TYPE);
    if (!secret && !(is_string && smar_json_string_eq(type, PUBLIC_TYPE)))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "not a signing key file (\"type\" is neither \"%s\" nor \"%s\")",
                                 PUBLIC_TYPE, SECRET_TYPE);
    int rc = smar_keyfile_check_members(kf, root, secret ? secret_members : public_members,
                                        "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, secret ? SECRET_TYPE : PUBLIC_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_b64(kf, root, "public_key", pk, SMAR_SIGN_PUBLIC_BYTES);
    return rc;
}

int smar_signkey_load_public(smar_signkey *sk, const char *path)
{
    if (sk == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(sk->err);
    if (path == NULL)
        return smar_fail(sk->err, SMAR_E_INVALID, "no public key file given");
    int rc = require_empty(sk);
    if (rc != SMAR_OK)
        return rc;
    /* A secret key file may be read here too; its text is still wiped like any key file. */
    smar_keyfile kf = {"public key", path, NULL, sk->err};
    smar_buf text = {.secure = true};
    smar_span root;
    uint8_t found[SMAR_SIGN_PUBLIC_BYTES];
    rc = smar_keyfile_read(&kf, false, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_public(&kf, root, found);
    if (rc == SMAR_OK) {
        memcpy(sk->pk, found, SMAR_SIGN_PUBLIC_BYTES);
        sk->has_public = true;
    }
    smar_buf_free(&text);
    return rc;
}
