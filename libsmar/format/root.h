/*
 * root.h - what authenticates a whole archive: the root over header, chunk table and
 * trailer, its MAC for key holders and the producer's signature for everyone.
 */
#ifndef SMAR_ROOT_H
#define SMAR_ROOT_H

#include "table.h"

/*
 * The root, in three steps so that every trailer byte is covered:
 *   body = BLAKE2b-256(label "root" || trailer bytes 0..40 || trailer bytes 200..216 ||
 *                      header || chunk table)
 *   mac  = BLAKE2b-256 keyed with the root-MAC subkey (label "root-mac" || body)
 *   root = BLAKE2b-256(label "root" || body || mac || signer public key or zeros)
 * Anyone can recompute body and root; only a key holder can check mac.
 */
void smar_body_hash(uint8_t out[SMAR_HASH_BYTES], const smar_trailer *t, const uint8_t *header,
                    size_t header_len, const uint8_t *table, size_t table_len);
void smar_root_mac(uint8_t out[SMAR_HASH_BYTES], const uint8_t key[32],
                   const uint8_t body[SMAR_HASH_BYTES]);
void smar_root_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t body[SMAR_HASH_BYTES],
                    const smar_trailer *t);
/*
 * The root hash recomputed from a file's raw bytes: the trailer's 216 bytes as stored, the
 * header (bytes 0..header_len) and the chunk table, read through read_at a piece at a time.
 * *matches tells whether it equals the root hash the trailer records (bytes 40..72).
 * Nothing but positions is interpreted, so it answers even when a field holds a value this
 * reader does not know: were these the bytes their producer hashed? -1 on a read error.
 */
typedef int (*smar_raw_read_fn)(void *opaque, void *buf, size_t len, uint64_t offset);
int smar_root_matches_raw(const uint8_t trailer[SMAR_TRAILER_BYTES], uint64_t header_len,
                          uint64_t table_offset, uint64_t table_len, smar_raw_read_fn read_at,
                          void *opaque, bool *matches);
/* The message the producer signs: label || archive id || root hash. */
#define SMAR_SIGNED_MSG_BYTES (SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES + SMAR_HASH_BYTES)
void smar_signed_message(uint8_t out[SMAR_SIGNED_MSG_BYTES], const smar_trailer *t);
bool smar_signature_ok(const smar_trailer *t, const uint8_t pk[32]);

#endif
