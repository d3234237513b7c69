/*
 * crypto.h - the only place libsmar touches ciphers: the AEAD suites, key derivation from
 * the DEK, keyed and unkeyed BLAKE2b, and locked memory for keys.
 */
#ifndef SMAR_CRYPTO_H
#define SMAR_CRYPTO_H

#include "internal.h"
#include "format.h"

#define SMAR_KEY_BYTES 32
/* Suite ids as stored in the header (same values as smar/writer.h). */
#define SMAR_SUITE_XCHACHA20POLY1305_ID 1
#define SMAR_SUITE_AES256GCM_ID         2
#define SMAR_NONCE_MAX                  24

/* Whether a suite exists here (AES-256-GCM needs hardware support in libsodium). */
bool smar_suite_available(int suite);
const char *smar_suite_name(int suite);
size_t smar_suite_nonce_bytes(int suite);

/* AEAD encrypt: c receives mlen + SMAR_TAG_BYTES bytes. */
void smar_aead_seal(int suite, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES]);
/* AEAD decrypt: verifies the tag before releasing anything; returns false on failure and
 * then leaves m zeroed. m receives clen - SMAR_TAG_BYTES bytes. */
bool smar_aead_open(int suite, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                    size_t adlen, const uint8_t *nonce, const uint8_t key[SMAR_KEY_BYTES]);

/* The subkeys of one archive, derived from its DEK, kept in locked memory. */
typedef struct smar_keys {
    uint8_t header_mac[SMAR_KEY_BYTES];
    uint8_t chunk[SMAR_KEY_BYTES];
    uint8_t root_mac[SMAR_KEY_BYTES];
    uint8_t index[SMAR_KEY_BYTES];
    uint8_t payload_hash[SMAR_KEY_BYTES];
} smar_keys;

/* Allocate guarded, locked memory for keys (sodium_malloc); NULL when out of memory. */
smar_keys *smar_keys_derive(const uint8_t dek[SMAR_KEY_BYTES]);
void smar_keys_free(smar_keys *k);
uint8_t *smar_secure_alloc(size_t n);
void smar_secure_free(void *p);

/* BLAKE2b-256, unkeyed (key NULL) or keyed with a 32-byte key. */
void smar_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t *key, const void *m, size_t n);
/* BLAKE2b-128 keyed: index keys. */
void smar_hash16(uint8_t out[16], const uint8_t key[SMAR_KEY_BYTES], const void *m, size_t n);
/* Constant-time equality of 32-byte values. */
bool smar_equal32(const uint8_t a[32], const uint8_t b[32]);

#endif
