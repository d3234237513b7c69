/*
 * chunk.h - sealing and opening one chunk: zstd, then AEAD.
 *
 * A chunk's nonce and associated data bind the archive id, the chunk's number in the file,
 * its section, its number within the section and whether it is the section's last, so a
 * chunk cannot be moved, dropped, duplicated, moved to another section or spliced in from
 * another archive without failing to open. Nonces never repeat: the key is fresh per
 * archive and the chunk number is unique within it.
 */
#ifndef SMAR_CHUNK_H
#define SMAR_CHUNK_H

#include "internal.h"
#include "crypto.h"

/* Where a chunk stands: everything its nonce and AAD bind. */
typedef struct smar_chunk_pos {
    uint64_t number; /* position in the chunk table */
    uint8_t section; /* enum smar_section */
    uint8_t flags;   /* SMAR_CHUNK_LAST */
    uint32_t seq;    /* position within its section */
} smar_chunk_pos;

/* Per-thread state: a zstd context each way and scratch space. */
typedef struct smar_chunker {
    int suite;
    int level;
    uint32_t chunk_size;
    const uint8_t *key; /* the archive's chunk key (borrowed, locked memory) */
    const uint8_t *archive_id;
    void *cctx;
    void *dctx;
    smar_buf scratch; /* compressed plaintext; secure */
} smar_chunker;

int smar_chunker_init(smar_chunker *ck, int suite, int level, uint32_t chunk_size,
                      const uint8_t *key, const uint8_t *archive_id);
void smar_chunker_free(smar_chunker *ck);

/* Largest stored (encrypted) size a chunk of chunk_size raw bytes can have. */
size_t smar_chunk_stored_max(uint32_t chunk_size);

/* Compress and encrypt raw[0..n) (1 <= n <= chunk_size); the stored bytes replace out. */
int smar_chunk_seal(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                    smar_buf *out, smar_err *e);

/* Authenticate, decrypt and decompress a stored chunk into raw (capacity chunk_size);
 * nothing is released unless the tag verifies and the result is within the limits. */
int smar_chunk_open(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                    uint8_t *raw, size_t *raw_len, smar_err *e);

#endif
