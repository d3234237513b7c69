/*
 * chunk.c - one chunk: zstd frame, then AEAD (spec/FORMAT.md, "Chunks").
 */
#include "chunk.h"

#include <stdint.h>
#include <stdlib.h>

#include <zstd.h>

#include "format.h"
#include "zstd_mem.h" /* contexts whose memory is wiped */

#define CHUNK_AAD_BYTES (SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES + 8 + 1 + 1 + 4)

static void chunk_nonce(uint8_t nonce[SMAR_NONCE_MAX], const smar_chunk_pos *pos)
{
    memset(nonce, 0, SMAR_NONCE_MAX);
    smar_store_u64(nonce, pos->number);
    nonce[8] = pos->section;
    nonce[9] = pos->flags;
}

static void chunk_aad(uint8_t aad[CHUNK_AAD_BYTES], const smar_chunker *ck,
                      const smar_chunk_pos *pos)
{
    uint8_t *p = aad;
    memcpy(p, SMAR_LABEL_CHUNK, SMAR_LABEL_BYTES);
    p += SMAR_LABEL_BYTES;
    memcpy(p, ck->archive_id, SMAR_ARCHIVE_ID_BYTES);
    p += SMAR_ARCHIVE_ID_BYTES;
    smar_store_u64(p, pos->number);
    p[8] = pos->section;
    p[9] = pos->flags;
    smar_store_u32(p + 10, pos->seq);
}

/* ---- the chunker -------------------------------------------------------------------- */

int smar_chunker_init(smar_chunker *ck, int suite, int level, uint32_t chunk_size,
                      const uint8_t *key, const uint8_t *archive_id)
{
    memset(ck, 0, sizeof *ck);
    ck->suite = suite;
    ck->level = level;
    ck->chunk_size = chunk_size;
    ck->key = key;
    ck->archive_id = archive_id;
    ck->scratch.secure = true;
    ck->cctx = smar_zstd_cctx_new();
    ck->dctx = smar_zstd_dctx_new();
    if (!ck->cctx || !ck->dctx) {
        smar_chunker_free(ck);
        return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

void smar_chunker_free(smar_chunker *ck)
{
    ZSTD_freeCCtx(ck->cctx);
    ZSTD_freeDCtx(ck->dctx);
    ck->cctx = ck->dctx = NULL;
    smar_buf_free(&ck->scratch);
}

size_t smar_chunk_stored_max(uint32_t chunk_size)
{
    return ZSTD_COMPRESSBOUND((size_t)chunk_size) + SMAR_TAG_BYTES;
}

int smar_chunk_seal(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                    smar_buf *out, smar_err *e)
{
    uint8_t nonce[SMAR_NONCE_MAX], aad[CHUNK_AAD_BYTES];
    size_t bound = ZSTD_compressBound(n);
    smar_buf_reset(&ck->scratch);
    smar_buf_reset(out);
    if (smar_buf_reserve(&ck->scratch, bound) || smar_buf_reserve(out, bound + SMAR_TAG_BYTES))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory sealing chunk %llu",
                         (unsigned long long)pos->number);
    size_t clen = ZSTD_compressCCtx(ck->cctx, ck->scratch.data, bound, raw, n, ck->level);
    if (ZSTD_isError(clen))
        return smar_fail(e, SMAR_E_NOMEM, "zstd: %s", ZSTD_getErrorName(clen));
    ck->scratch.len = clen;
    chunk_nonce(nonce, pos);
    chunk_aad(aad, ck, pos);
    smar_aead_seal(ck->suite, out->data, ck->scratch.data, clen, aad, sizeof aad, nonce, ck->key);
    out->len = clen + SMAR_TAG_BYTES;
    smar_buf_reset(&ck->scratch);
    return SMAR_OK;
}

static int decompress_bounded(smar_chunker *ck, const smar_chunk_pos *pos, uint8_t *raw,
                              size_t *raw_len, smar_err *e)
{
    const uint8_t *frame = ck->scratch.data;
    size_t flen = ck->scratch.len;
    unsigned long long declared = ZSTD_getFrameContentSize(frame, flen);
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN)
        return smar_fail(e, SMAR_E_FORMAT, "chunk %llu: malformed compressed data",
                         (unsigned long long)pos->number);
    if (declared == 0 || declared > ck->chunk_size)
        return smar_fail(e, SMAR_E_LIMIT, "chunk %llu declares %llu bytes (chunk size is %u)",
                         (unsigned long long)pos->number, declared, ck->chunk_size);
    if (ZSTD_findFrameCompressedSize(frame, flen) != flen)
        return smar_fail(e, SMAR_E_FORMAT, "chunk %llu: not exactly one compressed frame",
                         (unsigned long long)pos->number);
    /* Exactly the declared size as capacity: zstd uses the free end of its output buffer as
     * scratch for literals (plaintext), and callers wipe only the bytes a chunk returned. */
    size_t got = ZSTD_decompressDCtx(ck->dctx, raw, (size_t)declared, frame, flen);
    if (ZSTD_isError(got) || got != declared)
        return smar_fail(e, SMAR_E_FORMAT, "chunk %llu: decompression failed",
                         (unsigned long long)pos->number);
    *raw_len = got;
    return SMAR_OK;
}

int smar_chunk_open(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                    uint8_t *raw, size_t *raw_len, smar_err *e)
{
    uint8_t nonce[SMAR_NONCE_MAX], aad[CHUNK_AAD_BYTES];
    int rc;
    if (n <= SMAR_TAG_BYTES || n > smar_chunk_stored_max(ck->chunk_size))
        return smar_fail(e, SMAR_E_LIMIT, "chunk %llu has impossible size %zu",
                         (unsigned long long)pos->number, n);
    smar_buf_reset(&ck->scratch);
    if (smar_buf_reserve(&ck->scratch, n - SMAR_TAG_BYTES))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory opening chunk");
    chunk_nonce(nonce, pos);
    chunk_aad(aad, ck, pos);
    if (!smar_aead_open(ck->suite, ck->scratch.data, stored, n, aad, sizeof aad, nonce, ck->key))
        return smar_fail(e, SMAR_E_AUTH,
                         "chunk %llu (section %u, #%u) failed authentication: altered, moved "
                         "or from another archive",
                         (unsigned long long)pos->number, pos->section, pos->seq);
    ck->scratch.len = n - SMAR_TAG_BYTES;
    rc = decompress_bounded(ck, pos, raw, raw_len, e);
    smar_buf_reset(&ck->scratch);
    return rc;
}
