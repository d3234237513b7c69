/*
 * subkeys.h - the keys of one archive, derived from its DEK (spec/FORMAT.md section 4.2):
 * one for each purpose, so no key is used for two things.
 */
#ifndef SMAR_SUBKEYS_H
#define SMAR_SUBKEYS_H

#include "crypto.h"

/* The subkeys, kept in locked memory. */
typedef struct smar_keys {
    uint8_t header_mac[SMAR_KEY_BYTES];
    uint8_t chunk[SMAR_KEY_BYTES];
    uint8_t root_mac[SMAR_KEY_BYTES];
    uint8_t index[SMAR_KEY_BYTES];
    uint8_t payload_hash[SMAR_KEY_BYTES];
    uint8_t export_digest[SMAR_KEY_BYTES]; /* format 2 only (2.2 digests section) */
} smar_keys;

/* Derive every subkey from dek; NULL when out of (locked) memory. Format 1. */
smar_keys *smar_keys_derive(const uint8_t dek[SMAR_KEY_BYTES]);
/* Either format: format 2 derives with context "smar-v2" and has no header MAC key (its
 * header_mac stays zero). */
smar_keys *smar_keys_derive_format(int format, const uint8_t dek[SMAR_KEY_BYTES]);
/* Wipe and free. Accepts NULL. */
void smar_keys_free(smar_keys *k);

#endif
