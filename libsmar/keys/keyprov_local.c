/*
 * keyprov_local.c - the "local" key provider: root key versions held in this process, in
 * one guarded, locked allocation (sodium_malloc), read-only except while being filled.
 *
 * Wrap is XChaCha20-Poly1305 under the version's 32-byte key with a fresh random 24-byte
 * nonce and the caller's AAD (the slot's binding to its archive):
 *   blob = nonce(24) || ciphertext(32) || tag(16)   (SMAR_LOCAL_WRAPPED_BYTES)
 * A random nonce is safe: 192 bits make collisions negligible for any number of archives.
 */
#include "keyprov.h"

#include <stdlib.h>

#include <sodium.h>

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE_BYTES + SMAR_DEK_BYTES + TAG_BYTES == SMAR_LOCAL_WRAPPED_BYTES,
               "local wrapped DEK layout");
_Static_assert(SMAR_LOCAL_WRAPPED_BYTES <= SMAR_WRAPPED_MAX, "wrapped DEK bound");
_Static_assert(SMAR_LOCAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

typedef struct local_state {
    uint8_t *keys; /* count * SMAR_LOCAL_KEY_BYTES, sodium_malloc; version v at v - 1 */
    uint32_t count;
} local_state;

static const uint8_t *version_key(const local_state *ls, uint32_t version)
{
    return ls->keys + (size_t)(version - 1) * SMAR_LOCAL_KEY_BYTES;
}

static bool local_has_version(const void *state, uint32_t version)
{
    const local_state *ls = state;
    return version >= 1 && version <= ls->count;
}

static int local_wrap(void *state, uint32_t version, const uint8_t *aad, size_t aad_len,
                      const uint8_t dek[SMAR_DEK_BYTES], uint8_t out[SMAR_WRAPPED_MAX],
                      size_t *out_len, smar_err *e)
{
    const local_state *ls = state;
    if (!local_has_version(ls, version))
        return smar_fail(e, SMAR_E_NOTFOUND, "version %u is not held", (unsigned)version);
    randombytes_buf(out, NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_BYTES, NULL, dek, SMAR_DEK_BYTES, aad,
                                               aad_len, NULL, out, version_key(ls, version));
    *out_len = SMAR_LOCAL_WRAPPED_BYTES;
    return SMAR_OK;
}

static int local_unwrap(void *state, uint32_t version, const uint8_t *aad, size_t aad_len,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_DEK_BYTES],
                        smar_err *e)
{
    const local_state *ls = state;
    /* An exact length before any decryption: the AEAD does not commit to its key, so
     * nothing but a well-formed blob is ever handed to it. */
    if (wrapped_len != SMAR_LOCAL_WRAPPED_BYTES)
        return smar_fail(e, SMAR_E_FORMAT, "wrapped data key is %zu bytes, expected %d",
                         wrapped_len, SMAR_LOCAL_WRAPPED_BYTES);
    if (!local_has_version(ls, version))
        return smar_fail(e, SMAR_E_NOTFOUND, "version %u is not held", (unsigned)version);
    /* libsodium zeroes its output on failure; decrypt into a temporary so the caller's dek
     * is written only on success, as the contract says. */
    uint8_t plain[SMAR_DEK_BYTES];
    int rc = SMAR_OK;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, wrapped + NONCE_BYTES,
                                                   SMAR_DEK_BYTES + TAG_BYTES, aad, aad_len,
                                                   wrapped, version_key(ls, version)) != 0)
        rc = smar_fail(e, SMAR_E_AUTH,
                       "wrapped data key does not open (wrong key, or the key "
                       "slot or its archive binding was altered)");
    else
        memcpy(dek, plain, SMAR_DEK_BYTES);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Grow by one version: a new allocation (sodium_malloc cannot grow), old keys copied,
 * the old region freed (sodium_free wipes it). */
static int local_add_version(void *state, smar_err *e)
{
    local_state *ls = state;
    if (ls->count >= SMAR_KEY_VERSIONS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "a root key holds at most %d versions",
                         SMAR_KEY_VERSIONS_MAX);
    size_t old_len = (size_t)ls->count * SMAR_LOCAL_KEY_BYTES;
    uint8_t *keys = sodium_malloc(old_len + SMAR_LOCAL_KEY_BYTES);
    if (keys == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    memcpy(keys, ls->keys, old_len);
    randombytes_buf(keys + old_len, SMAR_LOCAL_KEY_BYTES);
    sodium_mprotect_readonly(keys);
    sodium_free(ls->keys);
    ls->keys = keys;
    ls->count++;
    return SMAR_OK;
}

static void local_free(void *state)
{
    local_state *ls = state;
    if (ls == NULL)
        return;
    sodium_free(ls->keys);
    free(ls);
}

const struct smar_key_provider_ops smar_keyprov_local_ops = {
    .name = "local",
    .id = SMAR_PROVIDER_LOCAL,
    .wrap = local_wrap,
    .unwrap = local_unwrap,
    .has_version = local_has_version,
    .add_version = local_add_version,
    .free = local_free,
};

int smar_keyprov_local_create(void **state, uint32_t count, uint8_t **material, smar_err *e)
{
    *state = NULL;
    *material = NULL;
    if (count < 1 || count > SMAR_KEY_VERSIONS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "a root key holds 1 to %d versions",
                         SMAR_KEY_VERSIONS_MAX);
    local_state *ls = calloc(1, sizeof *ls);
    if (ls == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    ls->keys = sodium_malloc((size_t)count * SMAR_LOCAL_KEY_BYTES);
    if (ls->keys == NULL) {
        free(ls);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    ls->count = count;
    *state = ls;
    *material = ls->keys;
    return SMAR_OK;
}

void smar_keyprov_local_seal(void *state)
{
    local_state *ls = state;
    sodium_mprotect_readonly(ls->keys);
}

const uint8_t *smar_keyprov_local_material(const void *state, uint32_t *count)
{
    const local_state *ls = state;
    *count = ls->count;
    return ls->keys;
}
