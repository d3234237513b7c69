/*
 * keyprov_x25519.c - the "x25519" key provider (smar/provider.h): wrapping an archive's DEK
 * to a public key, in the spirit of age's X25519 stanza (archive format 2, f2-design §8).
 *
 * Wrap, with a fresh ephemeral key pair per slot:
 *   shared = X25519(eph_sk, recipient_pk)                      all-zero: refused
 *   wk     = BLAKE2b-256 keyed with shared (L2_X25519 || eph_pk || recipient_pk)
 *   blob   = eph_pk(32) || XChaCha20-Poly1305(wk, nonce = 24 zero bytes, aad = slot AAD, DEK)
 * Unwrap computes shared = X25519(identity_sk, eph_pk) and the same wk. The zero nonce is
 * safe because wk is used once: every wrap has its own ephemeral key. Hashing both public
 * keys into wk binds the blob to this recipient (no other key pair yields the same wk).
 *
 * The slot records version 0 ("none"): an X25519 key has no versions. Every secret value
 * (ephemeral secret key, shared secret, wrapping key, hash state, decrypted DEK) lives in
 * one guarded, locked scratch allocation that sodium_free wipes.
 */
#include "keyprov_x25519.h"
#include "keyfile.h"
#include "crypto.h" /* smar_secure_alloc: key memory whose lock is checked */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LABEL_BYTES 16

_Static_assert(SMAR_X25519_KEY_BYTES == crypto_scalarmult_BYTES, "X25519 sizes");
_Static_assert(SMAR_X25519_KEY_BYTES == crypto_scalarmult_SCALARBYTES, "X25519 sizes");
_Static_assert(SMAR_X25519_KEY_BYTES == crypto_box_PUBLICKEYBYTES, "X25519 sizes");
_Static_assert(SMAR_X25519_KEY_BYTES == crypto_box_SECRETKEYBYTES, "X25519 sizes");
_Static_assert(SMAR_X25519_KEY_BYTES + SMAR_DEK_BYTES + TAG_BYTES == SMAR_X25519_WRAPPED_BYTES,
               "x25519 wrapped DEK layout");
_Static_assert(SMAR_X25519_WRAPPED_BYTES <= SMAR_WRAPPED_MAX, "wrapped DEK bound");

/* L2_X25519: "smar/v2 x25519" and two NUL bytes. */
static const uint8_t label_x25519[LABEL_BYTES] = "smar/v2 x25519\0";
static const uint8_t zero_nonce[NONCE_BYTES];

struct smar_x25519_key {
    char key_id[SMAR_KEY_ID_MAX + 1];
    uint8_t pk[SMAR_X25519_KEY_BYTES];
    uint8_t *sk; /* identity: sodium_malloc, read-only once sealed; NULL for a recipient */
    smar_time_ns created_at;
};

/* The secret values of one wrap or unwrap, in one locked allocation. */
typedef struct scratch {
    uint8_t eph_sk[SMAR_X25519_KEY_BYTES];
    uint8_t shared[crypto_scalarmult_BYTES];
    uint8_t wk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    crypto_generichash_state hash;
    uint8_t dek[SMAR_DEK_BYTES];
} scratch;

/*
 * wk from our secret key and their public key. Returns false when the shared secret is all
 * zero: their key is a low-order point, which makes the shared secret known to anyone.
 * libsodium's crypto_scalarmult already refuses that result; the second test keeps the
 * rule independent of the library version.
 */
static bool derive_wrap_key(scratch *s, const uint8_t *our_sk, const uint8_t *their_pk,
                            const uint8_t *eph_pk, const uint8_t *recipient_pk)
{
    if (crypto_scalarmult(s->shared, our_sk, their_pk) != 0 ||
        sodium_is_zero(s->shared, sizeof s->shared))
        return false;
    crypto_generichash_init(&s->hash, s->shared, sizeof s->shared, sizeof s->wk);
    crypto_generichash_update(&s->hash, label_x25519, LABEL_BYTES);
    crypto_generichash_update(&s->hash, eph_pk, SMAR_X25519_KEY_BYTES);
    crypto_generichash_update(&s->hash, recipient_pk, SMAR_X25519_KEY_BYTES);
    crypto_generichash_final(&s->hash, s->wk, sizeof s->wk);
    return true;
}

/* Whether pk is a low-order point: X25519 with a clamped scalar (a multiple of the
 * cofactor) maps exactly those to zero. */
static bool low_order(const uint8_t pk[SMAR_X25519_KEY_BYTES])
{
    static const uint8_t probe[SMAR_X25519_KEY_BYTES] = {9, 1, 2, 3};
    uint8_t out[crypto_scalarmult_BYTES];
    bool zero = crypto_scalarmult(out, probe, pk) != 0 || sodium_is_zero(out, sizeof out);
    sodium_memzero(out, sizeof out);
    return zero;
}

/* ---- the smar_provider callbacks ------------------------------------------------------ */

static int x25519_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    const smar_x25519_key *xk = ctx;
    *key_id = xk->key_id;
    return SMAR_OK;
}

static int x25519_current_version(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    (void)ctx;
    (void)msg;
    (void)msg_len;
    *version = SMAR_X25519_VERSION;
    return SMAR_OK;
}

static int x25519_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                       const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                       size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    const smar_x25519_key *xk = ctx;
    if (out_cap < SMAR_X25519_WRAPPED_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_INVALID, "no room for a wrapped data key");
    scratch *s = (scratch *)smar_secure_alloc(sizeof *s);
    if (s == NULL)
        return smar_provider_say(msg, msg_len, SMAR_E_NOMEM, "out of locked memory");
    uint8_t eph_pk[SMAR_X25519_KEY_BYTES];
    crypto_box_keypair(eph_pk, s->eph_sk);
    int rc = SMAR_OK;
    if (!derive_wrap_key(s, s->eph_sk, xk->pk, eph_pk, xk->pk)) {
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_FORMAT,
            "the recipient's public key is a low-order point: no secret can be agreed");
    } else {
        memcpy(out, eph_pk, sizeof eph_pk);
        crypto_aead_xchacha20poly1305_ietf_encrypt(out + sizeof eph_pk, NULL, dek, SMAR_DEK_BYTES,
                                                   aad, aad_len, NULL, zero_nonce, s->wk);
        *out_len = SMAR_X25519_WRAPPED_BYTES;
        *version = SMAR_X25519_VERSION;
    }
    sodium_free(s);
    return rc;
}

static int x25519_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                         const uint8_t *wrapped, size_t wrapped_len,
                         uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    const smar_x25519_key *xk = ctx;
    /* Exact length first: nothing but a well-formed blob reaches X25519 or the AEAD. */
    if (wrapped_len != SMAR_X25519_WRAPPED_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT,
                                 "wrapped data key is %zu bytes, expected %d", wrapped_len,
                                 SMAR_X25519_WRAPPED_BYTES);
    if (version != SMAR_X25519_VERSION)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT,
                                 "an x25519 key slot records no key version, this one records %u",
                                 (unsigned)version);
    if (xk->sk == NULL)
        return smar_provider_say(
            msg, msg_len, SMAR_E_NOTFOUND,
            "a recipient (public key) cannot open archives; use its identity file");
    scratch *s = (scratch *)smar_secure_alloc(sizeof *s);
    if (s == NULL)
        return smar_provider_say(msg, msg_len, SMAR_E_NOMEM, "out of locked memory");
    const uint8_t *eph_pk = wrapped;
    int rc = SMAR_OK;
    if (!derive_wrap_key(s, xk->sk, eph_pk, eph_pk, xk->pk))
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_AUTH,
            "wrapped data key does not open (its ephemeral key is a low-order point)");
    else if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                 s->dek, NULL, NULL, wrapped + SMAR_X25519_KEY_BYTES,
                 SMAR_X25519_WRAPPED_BYTES - SMAR_X25519_KEY_BYTES, aad, aad_len, zero_nonce,
                 s->wk) != 0)
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_AUTH,
            "wrapped data key does not open (another identity, or the key slot or its "
            "archive binding was altered)");
    else
        memcpy(dek, s->dek, SMAR_DEK_BYTES); /* the caller's dek is written only on success */
    sodium_free(s);
    return rc;
}

static void x25519_free(void *ctx)
{
    smar_x25519_key_free(ctx);
}

const smar_provider smar_provider_x25519 = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "x25519",
    .slot_id = SMAR_PROVIDER_SLOT_X25519,
    .key_id = x25519_key_id,
    .current_version = x25519_current_version,
    .wrap = x25519_wrap,
    .unwrap = x25519_unwrap,
    .rewrap = NULL, /* unwrap needs the identity: a rewrap is unwrap + wrap */
    .free = x25519_free,
};

/* ---- the key itself ------------------------------------------------------------------- */

int smar_x25519_key_new(smar_x25519_key **out, const char *key_id, const uint8_t *pk,
                        smar_time_ns created_at, uint8_t **secret, smar_err *e)
{
    *out = NULL;
    if (secret != NULL)
        *secret = NULL;
    if (!smar_key_id_valid(key_id))
        return smar_fail(e, SMAR_E_INVALID,
                         "a key id is 1 to %d printable ASCII characters without spaces",
                         SMAR_KEY_ID_MAX);
    if (low_order(pk))
        return smar_fail(e, SMAR_E_FORMAT,
                         "the public key is a low-order point, which no key pair has");
    smar_x25519_key *xk = calloc(1, sizeof *xk);
    if (xk == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    if (secret != NULL && (xk->sk = smar_secure_alloc(SMAR_X25519_KEY_BYTES)) == NULL) {
        free(xk);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    (void)snprintf(xk->key_id, sizeof xk->key_id, "%s", key_id);
    memcpy(xk->pk, pk, SMAR_X25519_KEY_BYTES);
    xk->created_at = created_at;
    if (secret != NULL)
        *secret = xk->sk;
    *out = xk;
    return SMAR_OK;
}

int smar_x25519_key_seal(smar_x25519_key *xk, smar_err *e)
{
    if (xk->sk == NULL)
        return SMAR_OK;
    /* A file mixing halves of two key pairs would wrap to one key and unwrap with another. */
    uint8_t derived[SMAR_X25519_KEY_BYTES];
    crypto_scalarmult_base(derived, xk->sk);
    bool ok = sodium_memcmp(derived, xk->pk, sizeof derived) == 0;
    sodium_memzero(derived, sizeof derived);
    if (!ok)
        return smar_fail(e, SMAR_E_FORMAT, "the secret key does not belong to the public key");
    sodium_mprotect_readonly(xk->sk);
    return SMAR_OK;
}

int smar_x25519_key_generate(smar_x25519_key **out, const char *key_id, smar_err *e)
{
    uint8_t pk[SMAR_X25519_KEY_BYTES];
    uint8_t *sk = smar_secure_alloc(SMAR_X25519_KEY_BYTES);
    *out = NULL;
    if (sk == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    crypto_box_keypair(pk, sk);
    char default_id[7 + 2 * 8 + 1] = "x25519-";
    if (key_id == NULL) {
        sodium_bin2hex(default_id + 7, sizeof default_id - 7, pk, 8);
        key_id = default_id;
    }
    uint8_t *secret = NULL;
    int rc = smar_x25519_key_new(out, key_id, pk, smar_keyfile_now(), &secret, e);
    if (rc == SMAR_OK) {
        memcpy(secret, sk, SMAR_X25519_KEY_BYTES);
        rc = smar_x25519_key_seal(*out, e);
    }
    if (rc != SMAR_OK) {
        smar_x25519_key_free(*out);
        *out = NULL;
    }
    sodium_free(sk);
    return rc;
}

void smar_x25519_key_free(smar_x25519_key *xk)
{
    if (xk == NULL)
        return;
    sodium_free(xk->sk);
    free(xk);
}

const char *smar_x25519_key_id(const smar_x25519_key *xk)
{
    return xk->key_id;
}

const uint8_t *smar_x25519_key_public(const smar_x25519_key *xk)
{
    return xk->pk;
}

const uint8_t *smar_x25519_key_secret(const smar_x25519_key *xk)
{
    return xk->sk;
}

smar_time_ns smar_x25519_key_created(const smar_x25519_key *xk)
{
    return xk->created_at;
}

/* ---- keyrings ----------------------------------------------------------------------------- */

smar_x25519_key *smar_keyring_x25519_key(const smar_keyring *kr)
{
    return smar_keyring_provider_ctx(kr, &smar_provider_x25519);
}

int smar_keyring_install_x25519(smar_keyring *kr, smar_x25519_key *xk)
{
    return smar_keyring_from_provider(kr, &smar_provider_x25519, xk);
}

bool smar_keyring_public_wrap(const smar_keyring *kr)
{
    return smar_keyring_x25519_key(kr) != NULL;
}
