/*
 * chunk.c - one chunk: zstd frame (format 1) or framed body (format 2), then AEAD
 * (spec/FORMAT.md, "Chunks").
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
    memcpy(p, ck->format == SMAR_FORMAT_V2 ? SMAR_LABEL2_CHUNK : SMAR_LABEL_CHUNK,
           SMAR_LABEL_BYTES);
    p += SMAR_LABEL_BYTES;
    memcpy(p, ck->archive_id, SMAR_ARCHIVE_ID_BYTES);
    p += SMAR_ARCHIVE_ID_BYTES;
    smar_store_u64(p, pos->number);
    p[8] = pos->section;
    p[9] = pos->flags;
    smar_store_u32(p + 10, pos->seq);
}

/* ---- the chunker -------------------------------------------------------------------- */

/* The chunker's zstd contexts, from common/zstd_mem.c (their memory is wiped when freed),
 * made on first use: a reader that only looks a name up decompresses its meta chunk at
 * most and never compresses, and a chain lookup opens a reader per base. NULL when out of
 * memory. */
static ZSTD_CCtx *chunker_cctx(smar_chunker *ck)
{
    if (ck->cctx == NULL)
        ck->cctx = smar_zstd_cctx_new();
    return ck->cctx;
}

static ZSTD_DCtx *chunker_dctx(smar_chunker *ck)
{
    if (ck->dctx == NULL)
        ck->dctx = smar_zstd_dctx_new();
    return ck->dctx;
}

int smar_chunker_init(smar_chunker *ck, int suite, int level, uint32_t chunk_size,
                      const uint8_t *key, const uint8_t *archive_id)
{
    return smar_chunker_init_format(ck, SMAR_FORMAT_V1, suite, level, chunk_size, key, archive_id);
}

int smar_chunker_init_format(smar_chunker *ck, int format, int suite, int level,
                             uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id)
{
    memset(ck, 0, sizeof *ck);
    ck->format = format;
    ck->suite = suite;
    ck->level = level;
    ck->chunk_size = chunk_size;
    ck->key = key;
    ck->archive_id = archive_id;
    ck->scratch.secure = true; /* the zstd contexts come on first use */
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

size_t smar_chunk_stored_max_format(int format, uint32_t chunk_size)
{
    return format == SMAR_FORMAT_V2 ? smar_sealed_max(chunk_size) + SMAR_TAG_BYTES
                                    : smar_chunk_stored_max(chunk_size);
}

/* ---- format 2: framing and padding -------------------------------------------------- */

size_t smar_sealed_max(uint32_t chunk_size)
{
    return SMAR_BODY_LEN_BYTES + ZSTD_COMPRESSBOUND((size_t)chunk_size);
}

uint64_t smar_pad_granule(uint64_t total)
{
    int log2 = 0;
    while (log2 < 63 && (total >> (log2 + 1)) != 0)
        log2++;
    uint64_t g = log2 >= 3 ? (uint64_t)1 << (log2 - 3) : 1;
    return g > 4096 ? g : 4096;
}

size_t smar_pad_len(uint64_t base, size_t last, uint32_t chunk_size)
{
    uint64_t total = base + last;
    uint64_t g = smar_pad_granule(total);
    uint64_t pad = (g - total % g) % g;
    size_t room = smar_sealed_max(chunk_size) - last; /* last <= the max: the caller's |P| */
    return pad < room ? (size_t)pad : room;
}

int smar_sealed_body(const uint8_t *p, size_t n, const uint8_t **body, size_t *body_len,
                     smar_err *e)
{
    if (n < SMAR_BODY_LEN_BYTES)
        return smar_fail(e, SMAR_E_FORMAT, "chunk plaintext too short for its body length");
    uint32_t len = smar_load_u32(p);
    if (len > n - SMAR_BODY_LEN_BYTES)
        return smar_fail(e, SMAR_E_FORMAT, "chunk body length %u runs past the chunk", len);
    uint8_t acc = 0;
    for (size_t i = SMAR_BODY_LEN_BYTES + len; i < n; i++)
        acc |= p[i];
    if (acc != 0)
        return smar_fail(e, SMAR_E_FORMAT, "chunk padding is not zero");
    *body = p + SMAR_BODY_LEN_BYTES;
    *body_len = len;
    return SMAR_OK;
}

/* Sections whose v2 bodies are one zstd frame; payload and index bodies are raw. */
static bool section_compressed(uint8_t section)
{
    return section == SMAR_SEC_MANIFEST || section == SMAR_SEC_META || section == SMAR_SEC_DIGESTS;
}

/* Build P = u32 body_len || body || padding in ck->scratch. */
static int frame_body(smar_chunker *ck, const smar_chunk_pos *pos, uint64_t pad_base,
                      const uint8_t *raw, size_t n, smar_err *e)
{
    size_t max = smar_sealed_max(ck->chunk_size);
    smar_buf_reset(&ck->scratch);
    if (smar_buf_reserve(&ck->scratch, max))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory sealing chunk %llu",
                         (unsigned long long)pos->number);
    uint8_t *p = ck->scratch.data;
    size_t body = n;
    if (section_compressed(pos->section)) {
        ZSTD_CCtx *cctx = chunker_cctx(ck);
        if (cctx == NULL)
            return smar_fail(e, SMAR_E_NOMEM, "out of memory sealing chunk %llu",
                             (unsigned long long)pos->number);
        body = ZSTD_compressCCtx(cctx, p + SMAR_BODY_LEN_BYTES, max - SMAR_BODY_LEN_BYTES, raw, n,
                                 ck->level);
        if (ZSTD_isError(body))
            return smar_fail(e, SMAR_E_NOMEM, "zstd: %s", ZSTD_getErrorName(body));
    } else {
        memcpy(p + SMAR_BODY_LEN_BYTES, raw, n);
    }
    smar_store_u32(p, (uint32_t)body);
    size_t len = SMAR_BODY_LEN_BYTES + body;
    size_t pad = pad_base == SMAR_NO_PADDING ? 0 : smar_pad_len(pad_base, len, ck->chunk_size);
    memset(p + len, 0, pad);
    ck->scratch.len = len + pad;
    return SMAR_OK;
}

/* Build format 1's sealed plaintext, one zstd frame, in ck->scratch. */
static int compress_whole(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                          smar_err *e)
{
    size_t bound = ZSTD_compressBound(n);
    ZSTD_CCtx *cctx = chunker_cctx(ck);
    smar_buf_reset(&ck->scratch);
    if (cctx == NULL || smar_buf_reserve(&ck->scratch, bound))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory sealing chunk %llu",
                         (unsigned long long)pos->number);
    size_t clen = ZSTD_compressCCtx(cctx, ck->scratch.data, bound, raw, n, ck->level);
    if (ZSTD_isError(clen))
        return smar_fail(e, SMAR_E_NOMEM, "zstd: %s", ZSTD_getErrorName(clen));
    ck->scratch.len = clen;
    return SMAR_OK;
}

int smar_chunk_seal(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                    smar_buf *out, smar_err *e)
{
    return smar_chunk_seal_padded(ck, pos, SMAR_NO_PADDING, raw, n, out, e);
}

int smar_chunk_seal_padded(smar_chunker *ck, const smar_chunk_pos *pos, uint64_t pad_base,
                           const uint8_t *raw, size_t n, smar_buf *out, smar_err *e)
{
    uint8_t nonce[SMAR_NONCE_MAX], aad[CHUNK_AAD_BYTES];
    int rc = ck->format == SMAR_FORMAT_V2 ? frame_body(ck, pos, pad_base, raw, n, e)
                                          : compress_whole(ck, pos, raw, n, e);
    smar_buf_reset(out);
    if (rc == SMAR_OK && smar_buf_reserve(out, ck->scratch.len + SMAR_TAG_BYTES))
        rc = smar_fail(e, SMAR_E_NOMEM, "out of memory sealing chunk %llu",
                       (unsigned long long)pos->number);
    if (rc) {
        smar_buf_reset(&ck->scratch);
        return rc;
    }
    chunk_nonce(nonce, pos);
    chunk_aad(aad, ck, pos);
    smar_aead_seal(ck->suite, out->data, ck->scratch.data, ck->scratch.len, aad, sizeof aad, nonce,
                   ck->key);
    out->len = ck->scratch.len + SMAR_TAG_BYTES;
    smar_buf_reset(&ck->scratch);
    return SMAR_OK;
}

static int decompress_bounded(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *frame,
                              size_t flen, uint8_t *raw, size_t *raw_len, smar_err *e)
{
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
    ZSTD_DCtx *dctx = chunker_dctx(ck);
    if (dctx == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory opening chunk %llu",
                         (unsigned long long)pos->number);
    size_t got = ZSTD_decompressDCtx(dctx, raw, (size_t)declared, frame, flen);
    if (ZSTD_isError(got) || got != declared)
        return smar_fail(e, SMAR_E_FORMAT, "chunk %llu: decompression failed",
                         (unsigned long long)pos->number);
    *raw_len = got;
    return SMAR_OK;
}

/* Format 2: the body of the sealed plaintext in ck->scratch, decoded into raw. */
static int decode_body(smar_chunker *ck, const smar_chunk_pos *pos, uint8_t *raw, size_t *raw_len,
                       smar_err *e)
{
    const uint8_t *body;
    size_t len;
    int rc = smar_sealed_body(ck->scratch.data, ck->scratch.len, &body, &len, e);
    if (rc)
        return smar_err_prefix(e, "chunk %llu: ", (unsigned long long)pos->number);
    if (section_compressed(pos->section))
        return decompress_bounded(ck, pos, body, len, raw, raw_len, e);
    if (len == 0 || len > ck->chunk_size)
        return smar_fail(e, SMAR_E_LIMIT, "chunk %llu holds %zu bytes (chunk size is %u)",
                         (unsigned long long)pos->number, len, ck->chunk_size);
    memcpy(raw, body, len);
    *raw_len = len;
    return SMAR_OK;
}

int smar_chunk_open(smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                    uint8_t *raw, size_t *raw_len, smar_err *e)
{
    uint8_t nonce[SMAR_NONCE_MAX], aad[CHUNK_AAD_BYTES];
    int rc;
    if (n <= SMAR_TAG_BYTES || n > smar_chunk_stored_max_format(ck->format, ck->chunk_size))
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
    if (ck->format == SMAR_FORMAT_V2)
        rc = decode_body(ck, pos, raw, raw_len, e);
    else
        rc = decompress_bounded(ck, pos, ck->scratch.data, ck->scratch.len, raw, raw_len, e);
    smar_buf_reset(&ck->scratch);
    return rc;
}

/* ---- format 2: payload records -------------------------------------------------------- */

/* Compression must save at least this much for a record to be stored compressed. */
#define PAYLOAD_MIN_SAVING 8

/* The zstd level of a payload record. A record is one secret's payload (p50 1.4 KB, p90
 * 3.4 KB on a 20,000-secret export): too short for matches to matter, so what compression
 * buys is the entropy coding of its literals (base64, PEM, JSON), the same at level 1 as at
 * 3 (43.10 vs 43.11 MB of 61.9 MB; level 9: 43.04, level 19: 43.01) for 0.7x the CPU
 * (bench/profile-create.md). Levels above the default are the caller's choice and kept. */
static int payload_level(int level)
{
    return level > 3 ? level : 1;
}

int smar_payload_encode(smar_chunker *ck, const uint8_t *plain, size_t n, smar_buf *out,
                        uint8_t *coding, smar_err *e)
{
    ZSTD_CCtx *cctx = chunker_cctx(ck);
    if (cctx == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    return smar_payload_encode_with(cctx, ck->level, plain, n, out, coding, e);
}

int smar_payload_encode_with(ZSTD_CCtx *cctx, int level, const uint8_t *plain, size_t n,
                             smar_buf *out, uint8_t *coding, smar_err *e)
{
    size_t bound = ZSTD_compressBound(n);
    smar_buf_reset(out);
    if (smar_buf_reserve(out, bound > n ? bound : n))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    /* no history from any other record: each record its own frame from a fresh session */
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    size_t clen = ZSTD_compressCCtx(cctx, out->data, bound, plain, n, payload_level(level));
    if (ZSTD_isError(clen))
        return smar_fail(e, SMAR_E_NOMEM, "zstd: %s", ZSTD_getErrorName(clen));
    if (clen + PAYLOAD_MIN_SAVING <= n) {
        out->len = clen;
        *coding = SMAR_CODING_ZSTD;
        return SMAR_OK;
    }
    memcpy(out->data, plain, n); /* over the frame: out is secure, the frame is wiped */
    out->len = n;
    *coding = SMAR_CODING_RAW;
    return SMAR_OK;
}

int smar_payload_decode(smar_chunker *ck, const uint8_t *stored, size_t n, uint8_t coding,
                        uint32_t plain_len, smar_buf *out, smar_err *e)
{
    smar_buf_reset(out);
    if (plain_len > SMAR_MAX_PAYLOAD_BYTES)
        return smar_fail(e, SMAR_E_LIMIT, "a payload of %u bytes (limit %u)", plain_len,
                         SMAR_MAX_PAYLOAD_BYTES);
    if (smar_buf_reserve(out, (size_t)plain_len + 1))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    if (coding == SMAR_CODING_RAW) {
        if (n != plain_len)
            return smar_fail(e, SMAR_E_FORMAT, "a raw payload's stored and plain sizes differ");
        memcpy(out->data, stored, n);
        out->len = n;
        return SMAR_OK;
    }
    if (coding != SMAR_CODING_ZSTD)
        return smar_fail(e, SMAR_E_FORMAT, "a payload has unknown coding %u", coding);
    /* the declared size is checked before anything is decompressed */
    unsigned long long declared = ZSTD_getFrameContentSize(stored, n);
    if (declared != plain_len || ZSTD_findFrameCompressedSize(stored, n) != n)
        return smar_fail(e, SMAR_E_FORMAT,
                         "a compressed payload is not one frame of its declared size");
    ZSTD_DCtx *dctx = chunker_dctx(ck);
    if (dctx == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    size_t got = ZSTD_decompressDCtx(dctx, out->data, plain_len, stored, n);
    if (ZSTD_isError(got) || got != plain_len) {
        smar_buf_reset(out);
        return smar_fail(e, SMAR_E_FORMAT, "a compressed payload does not decompress");
    }
    out->len = got;
    return SMAR_OK;
}
