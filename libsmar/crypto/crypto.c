/*
 * crypto.c - AEAD suites, subkey derivation and hashing over libsodium.
 */
#include "crypto.h"

#include <sodium.h>

bool smar_suite_available(int suite)
{
    if (suite == SMAR_SUITE_XCHACHA20POLY1305_ID)
        return true;
    if (suite == SMAR_SUITE_AES256GCM_ID)
        return crypto_aead_aes256gcm_is_available() != 0;
    return false;
}

const char *smar_suite_name(int suite)
{
    switch (suite) {
    case SMAR_SUITE_XCHACHA20POLY1305_ID:
        return "xchacha20poly1305";
    case SMAR_SUITE_AES256GCM_ID:
        return "aes256gcm";
    default:
        return "unknown";
    }
}

void smar_aead_seal(int suite, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES])
{
    unsigned long long clen;
    if (suite == SMAR_SUITE_AES256GCM_ID)
        crypto_aead_aes256gcm_encrypt(c, &clen, m, mlen, ad, adlen, NULL, nonce, key);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, mlen, ad, adlen, NULL, nonce, key);
}

bool smar_aead_open(int suite, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES])
{
    unsigned long long mlen;
    int rc;
    if (clen < SMAR_TAG_BYTES)
        return false;
    if (suite == SMAR_SUITE_AES256GCM_ID)
        rc = crypto_aead_aes256gcm_decrypt(m, &mlen, NULL, c, clen, ad, adlen, nonce, key);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, adlen, nonce,
                                                        key);
    if (rc != 0) {
        sodium_memzero(m, clen - SMAR_TAG_BYTES);
        return false;
    }
    return true;
}

uint8_t *smar_secure_alloc(size_t n)
{
    uint8_t *p = sodium_malloc(n);
    /* sodium_malloc locks the block but ignores a failure. Locking it again costs nothing
     * when that worked (pages already locked are not counted twice) and fails as it did
     * when it did not: then keys may reach swap, which the application may want to say. */
    if (p != NULL && sodium_mlock(p, n) != 0)
        smar_note_memory_unlocked();
    return p;
}

void smar_secure_free(void *p)
{
    if (p)
        sodium_free(p); /* wipes and unlocks */
}

void smar_kdf_derive(uint8_t out[SMAR_KEY_BYTES], uint64_t subkey_id, const char context[8],
                     const uint8_t key[SMAR_KEY_BYTES])
{
    crypto_kdf_derive_from_key(out, SMAR_KEY_BYTES, subkey_id, context, key);
}

void smar_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t *key, const void *m, size_t n)
{
    crypto_generichash(out, SMAR_HASH_BYTES, m, n, key, key ? SMAR_KEY_BYTES : 0);
}

bool smar_equal32(const uint8_t a[32], const uint8_t b[32])
{
    return crypto_verify_32(a, b) == 0;
}
