/*
 * header2.h - the public header of format 2 (96 bytes in 2.0) and the DEK commitment.
 *
 * Unlike format 1 it holds no key slots and no MAC: the slots live in the slot area at the
 * end of the file (so they can be rewritten without moving a chunk) and the header is
 * covered by the content hash, which the signature, the root MAC and the root hash cover.
 * dek_commit binds the header to the one DEK every key slot must unwrap to.
 */
#ifndef SMAR_HEADER2_H
#define SMAR_HEADER2_H

#include "internal.h"
#include "format.h"

typedef struct smar_header2 {
    uint16_t version_major; /* 2 */
    uint16_t version_minor;
    uint32_t header_len; /* 96..4096; bytes 96.. are a later minor version's, ignored */
    uint16_t suite;
    uint16_t compression;
    uint32_t chunk_size;
    uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES];
    int64_t created;  /* seconds since the epoch, INT64_MIN absent */
    int64_t snapshot; /* nanoseconds */
    uint8_t dek_commit[SMAR_DEK_COMMIT_BYTES];
} smar_header2;

/* Append the 96-byte header of 2.0 (header_len and flags as written: 96 and 0). */
int smar_header2_encode(const smar_header2 *h, smar_buf *out);

/* The declared header_len of a v2 header whose first 96 bytes are p[0..n): checks magic,
 * major version and the length's range. */
int smar_header2_peek(const uint8_t *p, size_t n, uint32_t *len, smar_err *e);

/* Parse a whole header of n == header_len bytes (structure and limits only). */
int smar_header2_parse(smar_header2 *h, const uint8_t *p, size_t n, smar_err *e);

/* dek_commit = BLAKE2b-256 keyed with the DEK (L2_COMMIT || archive_id). */
void smar_dek_commit(uint8_t out[SMAR_DEK_COMMIT_BYTES], const uint8_t dek[32],
                     const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES]);

/* Whether dek opens to the header's commitment (constant time). */
bool smar_dek_commit_ok(const uint8_t dek[32], const smar_header2 *h);

#endif
