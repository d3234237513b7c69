/*
 * root2.h - what authenticates a format 2 archive (spec: "Roots", format 2).
 *
 *   content   = H(L2_CONTENT || T[0..36) || T[200..216) || T[104..136) || header || table)
 *   signature = Ed25519(L2_SIGN || archive_id || content)                       -> T[136..200)
 *   root_mac  = H_{K_rootmac}(L2_ROOTMAC || content || T[36..40) || slot area)   -> T[72..104)
 *   root_hash = H(L2_ROOT || content || T[36..40) || slot area || root_mac || signature)
 *                                                                               -> T[40..72)
 * The content covers everything that decides what a reader gets (header, so dek_commit,
 * every chunk through the table, the signer's key) and not the slots: the signature
 * survives a rewrap. The root MAC adds the slots for key holders; the root hash covers
 * every byte of the file for anyone. T is the 216 trailer bytes as encoded.
 */
#ifndef SMAR_ROOT2_H
#define SMAR_ROOT2_H

#include "root.h" /* smar_raw_read_fn */
#include "table.h"

void smar_content_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t trailer[SMAR_TRAILER_BYTES],
                       const uint8_t *header, size_t header_len, const uint8_t *table,
                       size_t table_len);
void smar_root2_mac(uint8_t out[SMAR_HASH_BYTES], const uint8_t key[32],
                    const uint8_t content[SMAR_HASH_BYTES],
                    const uint8_t trailer[SMAR_TRAILER_BYTES], const uint8_t *slots,
                    size_t slots_len);
/* Uses the root MAC and signature as they stand in trailer. */
void smar_root2_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t content[SMAR_HASH_BYTES],
                     const uint8_t trailer[SMAR_TRAILER_BYTES], const uint8_t *slots,
                     size_t slots_len);

/* The message the producer signs: L2_SIGN || archive id || content. */
#define SMAR_SIGNED2_MSG_BYTES (SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES + SMAR_HASH_BYTES)
void smar_signed2_message(uint8_t out[SMAR_SIGNED2_MSG_BYTES],
                          const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES],
                          const uint8_t content[SMAR_HASH_BYTES]);
/* Whether the trailer (decoded t) carries a signature by pk over content. */
bool smar_signature2_ok(const smar_trailer *t, const uint8_t content[SMAR_HASH_BYTES],
                        const uint8_t pk[32]);

/*
 * The root hash recomputed from a v2 file's raw bytes (header, table and slot area read
 * through read_at; the slot area follows the table), for "unknown value or damage?": only
 * positions are interpreted. *matches: equal to T[40..72). -1 on a read error.
 */
int smar_root2_matches_raw(const uint8_t trailer[SMAR_TRAILER_BYTES], uint64_t header_len,
                           uint64_t table_offset, uint64_t table_len, uint64_t slots_len,
                           smar_raw_read_fn read_at, void *opaque, bool *matches);

#endif
