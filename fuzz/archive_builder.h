/*
 * archive_builder.h - build a complete, authentic archive from plaintext chunks, with a fixed
 * data key, so that fuzzing reaches past authentication into what the encrypted sections
 * hold (manifest records, index chunks, the meta section).
 *
 * The writer chooses a random DEK and produces only well-formed sections; this builder
 * takes any plaintext for any chunk of any section and seals it exactly as the writer
 * would, in either format, so the reader authenticates it and then has to cope with what
 * the plaintext says:
 *   format 1: header with its key slot and MAC, zstd + AEAD per chunk, chunk table,
 *             trailer, root MAC and optional signature (what writers wrote before 2.0);
 *   format 2: 96-byte header with dek_commit, framed bodies (u32 body_len || body ||
 *             zero padding; raw in payload/index, one zstd frame in manifest/meta) under
 *             AEAD, chunk table, slot area, trailer with slot_area_len, content hash,
 *             signature, root MAC and root hash (writer.c's seal_trailer).
 * Also used by tests/unit/test_limits.c (format 1) to build archives whose encrypted
 * contents declare sizes over the limits.
 */
#ifndef SMAR_FUZZ_ARCHIVE_BUILDER_H
#define SMAR_FUZZ_ARCHIVE_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "header2.h" /* smar_base_ref */
#include "internal.h"
#include "smar.h"

/* The fixed data key: 32 bytes of FZ_DEK_BYTE. fuzz/make_seeds.c makes the real writer use
 * the same key (its random generator returns only this byte), so writer-made plaintext,
 * whose index keys and payload hashes are keyed from the DEK, stays valid here. */
#define FZ_DEK_BYTE 0x5a

typedef struct fz_chunk {
    uint8_t section; /* enum smar_section */
    const uint8_t *raw;
    size_t len; /* 1..chunk_size */
} fz_chunk;

/* Per-chunk options of format 2 (fz_build_opts.chunk_flags). */
enum {
    /* raw is the whole sealed plaintext P (u32 body_len || body || padding: any bytes,
     * 1..smar_sealed_max(chunk_size)), sealed as it is, so that the reader's framing checks
     * see what the fuzzer wrote */
    FZ_CHUNK_SEALED_PLAIN = 1,
    /* pad the chunk as writers pad the last chunk of a group (with pad base 0) */
    FZ_CHUNK_PAD = 2
};

typedef struct fz_build_opts {
    int suite;                  /* SMAR_SUITE_*; 0 = XChaCha20-Poly1305 */
    uint32_t chunk_size;        /* 0 = SMAR_CHUNK_SIZE_MIN */
    const smar_signkey *signer; /* NULL: unsigned */
    long corrupt;               /* flip a bit in this chunk's stored bytes; -1: none */
    bool corrupt_rehash;        /* and update its table hash (only the AEAD then sees it) */
    int64_t snapshot;           /* snapshot time; 0 = FZ_TIME */
    int format;                 /* SMAR_FORMAT_V1 or SMAR_FORMAT_V2; 0 = format 1 */
    bool foreign_slot;          /* format 2: an unknown provider's slot before the real one */
    const uint8_t *chunk_flags; /* format 2: FZ_CHUNK_* per chunk, or NULL */
    /* format 2: an incremental archive (2.1) listing these bases (base_count 1..64) */
    unsigned base_count;
    const smar_base_ref *bases;
} fz_build_opts;

#define FZ_TIME 1780000000000000000LL /* 2026-05-28T20:26:40Z */
#define FZ_BUILD_OPTS_INIT                                                                         \
    {                                                                                              \
        0, 0, NULL, -1, false, 0, 0, false, NULL, 0, NULL                                          \
    }

/*
 * Write the archive to out (reset first). Chunks are written in the order given; each section's
 * last chunk gets the LAST flag. The single key slot wraps the fixed DEK with kr (format 2: its
 * data key is the fixed DEK too, with format 2's subkeys and dek_commit). Returns SMAR_OK, or an
 * error with a message in e (a chunk of impossible size, no memory).
 */
int fz_build_archive(smar_buf *out, smar_keyring *kr, const fz_chunk *chunks, size_t n,
                     const fz_build_opts *o, smar_err *e);

#endif
