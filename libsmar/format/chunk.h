/*
 * chunk.h - sealing and opening one chunk: zstd, then AEAD.
 *
 * Format 1: the sealed plaintext is one zstd frame of the chunk's bytes. Format 2: it is
 * u32 body_len || body || zero padding, where the body is the bytes themselves in the
 * payload and index sections (payload records carry their own coding) and one zstd frame
 * of them in the manifest and meta sections; writers pad the last chunk of a section (and
 * of each index table) so section sizes leak only roughly (smar_pad_len).
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

/* smar_chunk_seal_padded's pad_base for a chunk that gets no padding. */
#define SMAR_NO_PADDING UINT64_MAX

/* Per-thread state: a zstd context each way and scratch space. */
typedef struct smar_chunker {
    int format; /* SMAR_FORMAT_V1 or SMAR_FORMAT_V2 */
    int suite;
    int level;
    uint32_t chunk_size;
    const uint8_t *key; /* the archive's chunk key (borrowed, locked memory) */
    const uint8_t *archive_id;
    void *cctx;
    void *dctx;
    smar_buf scratch; /* compressed plaintext; secure */
} smar_chunker;

/* A format 1 chunker (what readers of format 1 use). */
int smar_chunker_init(smar_chunker *ck, int suite, int level, uint32_t chunk_size,
                      const uint8_t *key, const uint8_t *archive_id);
/* A chunker of either format. */
int smar_chunker_init_format(smar_chunker *ck, int format, int suite, int level,
                             uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id);
void smar_chunker_free(smar_chunker *ck);

/* Largest stored (encrypted) size a chunk of chunk_size raw bytes can have (format 1). */
size_t smar_chunk_stored_max(uint32_t chunk_size);
/* The same for either format. */
size_t smar_chunk_stored_max_format(int format, uint32_t chunk_size);

/* ---- format 2: sealed plaintext framing, padding, payload records ------------------- */

/* Largest sealed plaintext |P| of a v2 chunk: 4 + ZSTD_COMPRESSBOUND(chunk_size). */
size_t smar_sealed_max(uint32_t chunk_size);

/* The padding granule g(T) = max(4096, 2^(floor(log2 T) - 3)) for T >= 1. */
uint64_t smar_pad_granule(uint64_t total);

/* Zero bytes to append to a group's last chunk: base is the sealed-plaintext bytes of its
 * earlier chunks, last |P| of the last one before padding. Rounds T = base + last up to a
 * multiple of g(T), clamped so the chunk stays within smar_sealed_max(chunk_size). */
size_t smar_pad_len(uint64_t base, size_t last, uint32_t chunk_size);

/* Split a sealed plaintext P[0..n) into its body; FORMAT when body_len > n - 4 or a
 * padding byte is not zero. */
int smar_sealed_body(const uint8_t *p, size_t n, const uint8_t **body, size_t *body_len,
                     smar_err *e);

/* Store a payload record: its own zstd frame (a context reset before it, so nothing of
 * another record is in its history) when that saves at least 8 bytes, else raw. out
 * receives the stored bytes, *coding SMAR_CODING_RAW or SMAR_CODING_ZSTD. */
int smar_payload_encode(smar_chunker *ck, const uint8_t *plain, size_t n, smar_buf *out,
                        uint8_t *coding, smar_err *e);
/* The same with a context of the caller's (a split worker's) and the archive's zstd level:
 * the bytes stored are the same whichever thread encodes the record. */
struct ZSTD_CCtx_s;
int smar_payload_encode_with(struct ZSTD_CCtx_s *cctx, int level, const uint8_t *plain, size_t n,
                             smar_buf *out, uint8_t *coding, smar_err *e);

/* Decode a stored payload record into out (plain_len bytes): raw is copied; a zstd frame
 * must declare exactly plain_len and be exactly stored[0..n). FORMAT otherwise. */
int smar_payload_decode(smar_chunker *ck, const uint8_t *stored, size_t n, uint8_t coding,
                        uint32_t plain_len, smar_buf *out, smar_err *e);

/* Seal raw[0..n) (1 <= n <= chunk_size) as the chunk at pos (compressed, or framed and
 * padded in format 2); the stored bytes replace out. */
int smar_chunk_seal(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                    smar_buf *out, smar_err *e);
/* The same, format 2 writers: pad the chunk (the last of its section or index table) given
 * pad_base, the sealed-plaintext bytes of the group's earlier chunks (SMAR_NO_PADDING: none). */
int smar_chunk_seal_padded(smar_chunker *ck, const smar_chunk_pos *pos, uint64_t pad_base,
                           const uint8_t *raw, size_t n, smar_buf *out, smar_err *e);

/* Authenticate, decrypt and decode a stored chunk into raw (capacity chunk_size);
 * nothing is released unless the tag verifies and the result is within the limits. */
int smar_chunk_open(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                    uint8_t *raw, size_t *raw_len, smar_err *e);

#endif
