/*
 * crypto.h - the only place libsmar touches ciphers: the AEAD suites, key derivation from
 * the DEK, keyed and unkeyed BLAKE2b, and locked memory for keys.
 */
#ifndef SMAR_CRYPTO_H
#define SMAR_CRYPTO_H

#include "internal.h"

#define SMAR_KEY_BYTES  32
#define SMAR_HASH_BYTES 32 /* BLAKE2b-256 */
#define SMAR_TAG_BYTES  16 /* both AEAD suites */
/* Suite ids as stored in the header (same values as smar/writer.h). */
#define SMAR_SUITE_XCHACHA20POLY1305_ID 1
#define SMAR_SUITE_AES256GCM_ID         2
#define SMAR_NONCE_MAX                  24

/* Whether a suite exists here (AES-256-GCM needs hardware support in libsodium). */
bool smar_suite_available(int suite);
const char *smar_suite_name(int suite);

/* AEAD encrypt: c receives mlen + SMAR_TAG_BYTES bytes. */
void smar_aead_seal(int suite, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES]);
/* AEAD decrypt: verifies the tag before releasing anything; returns false on failure and
 * then leaves m zeroed. m receives clen - SMAR_TAG_BYTES bytes. */
bool smar_aead_open(int suite, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES]);

/* Derive a subkey: BLAKE2b-based KDF (libsodium crypto_kdf) with a numbered subkey id and
 * an 8-byte context. */
void smar_kdf_derive(uint8_t out[SMAR_KEY_BYTES], uint64_t subkey_id, const char context[8],
                     const uint8_t key[SMAR_KEY_BYTES]);

/* Guarded, locked memory for keys (sodium_malloc): NULL when out of memory; freeing wipes. */
uint8_t *smar_secure_alloc(size_t n);
void smar_secure_free(void *p);

/* BLAKE2b-256, unkeyed (key NULL) or keyed with a 32-byte key. */
void smar_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t *key, const void *m, size_t n);
/* Constant-time equality of 32-byte values. */
bool smar_equal32(const uint8_t a[32], const uint8_t b[32]);

#endif
