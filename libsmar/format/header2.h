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

/* Format 2.1: an incremental archive (spec/FORMAT.md, section 26) sets header flag bit 0 and
 * lists, after the 96 fixed bytes, the archives its references point into. */
#define SMAR_HEADER2_FLAG_INCREMENTAL  1u
#define SMAR_HEADER2_MINOR_INCREMENTAL 1
/* Format 2.2: an incremental archive that also carries the digests section (section 5,
 * spec/FORMAT.md section 26.6) sets header flag bit 1 and writes minor version 2. */
#define SMAR_HEADER2_FLAG_EXPORT_DIGESTS 2u
#define SMAR_HEADER2_MINOR_DIGESTS       2
#define SMAR_BASES_MAX                   64
#define SMAR_BASE_ENTRY_BYTES            56 /* archive_id 16 || content 32 || snapshot i64 */
#define SMAR_HEADER2_BASES_AT            100 /* base_count u16 || reserved u16 at 96, entries from 100 */

typedef struct smar_base_ref {
    uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES];
    uint8_t content[32]; /* the base's content digest (section 10) */
    int64_t snapshot;
} smar_base_ref;

typedef struct smar_header2 {
    uint16_t version_major; /* 2 */
    uint16_t version_minor;
    uint32_t header_len; /* 96..4096; bytes past what this version defines are ignored */
    uint32_t flags;      /* SMAR_HEADER2_FLAG_*: parsed; encode derives INCREMENTAL itself */
    uint16_t suite;
    uint16_t compression;
    uint32_t chunk_size;
    uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES];
    int64_t created;  /* seconds since the epoch, INT64_MIN absent */
    int64_t snapshot; /* nanoseconds */
    uint8_t dek_commit[SMAR_DEK_COMMIT_BYTES];
    /* incremental archives: base[0] is the parent, then every other archive referenced */
    uint16_t base_count;
    smar_base_ref bases[SMAR_BASES_MAX];
} smar_header2;

/* The header_len of a header with n bases (96 when n is 0: a plain 2.0 header). */
uint32_t smar_header2_len(unsigned base_count);

/* Append the header: 96 bytes of 2.0 when base_count is 0; else the incremental form
 * (flag INCREMENTAL, header_len 100 + 56 x base_count). version_minor is written as given. */
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
