/*
 * header2.c - encoding and parsing the format 2 header (header2.h).
 */
#include "header2.h"

#include <sodium.h>

#include "crypto.h"

int smar_header2_encode(const smar_header2 *h, smar_buf *out)
{
    int rc = smar_buf_reserve(out, SMAR_HEADER2_BYTES);
    if (rc)
        return rc;
    smar_buf_append(out, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    smar_buf_put_u16(out, h->version_major);
    smar_buf_put_u16(out, h->version_minor);
    smar_buf_put_u32(out, SMAR_HEADER2_BYTES);
    smar_buf_put_u32(out, 0); /* flags: none defined in 2.0 */
    smar_buf_put_u16(out, h->suite);
    smar_buf_put_u16(out, h->compression);
    smar_buf_put_u32(out, h->chunk_size);
    smar_buf_append(out, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_buf_put_u64(out, (uint64_t)h->created);
    smar_buf_put_u64(out, (uint64_t)h->snapshot);
    smar_buf_append(out, h->dek_commit, SMAR_DEK_COMMIT_BYTES);
    return smar_buf_put_u32(out, 0); /* reserved */
}

int smar_header2_peek(const uint8_t *p, size_t n, uint32_t *len, smar_err *e)
{
    if (n < SMAR_HEADER2_BYTES || memcmp(p, SMAR_MAGIC, SMAR_MAGIC_BYTES) != 0)
        return smar_fail(e, SMAR_E_FORMAT, "not an smar archive (bad magic)");
    uint16_t major = smar_load_u16(p + 8);
    if (major != SMAR_FORMAT_V2)
        return smar_fail(e, SMAR_E_VERSION, "unsupported archive format version %u", major);
    *len = smar_load_u32(p + 12);
    if (*len < SMAR_HEADER2_BYTES || *len > SMAR_HEADER2_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "header length %u outside %u..%u", *len,
                         SMAR_HEADER2_BYTES, SMAR_HEADER2_MAX);
    return SMAR_OK;
}

static int check_fields(const smar_header2 *h, uint32_t flags, uint32_t reserved, smar_err *e)
{
    if (flags != 0 || reserved != 0)
        return smar_fail(e, SMAR_E_VERSION, "header uses flags this version does not know");
    if (h->suite != SMAR_SUITE_XCHACHA20POLY1305_ID && h->suite != SMAR_SUITE_AES256GCM_ID)
        return smar_fail(e, SMAR_E_VERSION, "unknown cipher suite %u", h->suite);
    if (h->compression != SMAR_COMPRESSION_ZSTD)
        return smar_fail(e, SMAR_E_VERSION, "unknown compression %u", h->compression);
    if (h->chunk_size < SMAR_CHUNK_MIN || h->chunk_size > SMAR_CHUNK_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "chunk size %u outside %u..%u", h->chunk_size,
                         SMAR_CHUNK_MIN, SMAR_CHUNK_MAX);
    return SMAR_OK;
}

int smar_header2_parse(smar_header2 *h, const uint8_t *p, size_t n, smar_err *e)
{
    uint32_t len = 0;
    int rc = smar_header2_peek(p, n, &len, e);
    if (rc)
        return rc;
    if (len != n)
        return smar_fail(e, SMAR_E_CORRUPT, "header length mismatch");
    memset(h, 0, sizeof *h);
    h->version_major = smar_load_u16(p + 8);
    h->version_minor = smar_load_u16(p + 10);
    h->header_len = len;
    uint32_t flags = smar_load_u32(p + 16);
    h->suite = smar_load_u16(p + 20);
    h->compression = smar_load_u16(p + 22);
    h->chunk_size = smar_load_u32(p + 24);
    memcpy(h->archive_id, p + 28, SMAR_ARCHIVE_ID_BYTES);
    h->created = (int64_t)smar_load_u64(p + 44);
    h->snapshot = (int64_t)smar_load_u64(p + 52);
    memcpy(h->dek_commit, p + 60, SMAR_DEK_COMMIT_BYTES);
    return check_fields(h, flags, smar_load_u32(p + 92), e);
}

void smar_dek_commit(uint8_t out[SMAR_DEK_COMMIT_BYTES], const uint8_t dek[32],
                     const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES])
{
    uint8_t msg[SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES];
    memcpy(msg, SMAR_LABEL2_COMMIT, SMAR_LABEL_BYTES);
    memcpy(msg + SMAR_LABEL_BYTES, archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_hash(out, dek, msg, sizeof msg);
}

bool smar_dek_commit_ok(const uint8_t dek[32], const smar_header2 *h)
{
    uint8_t c[SMAR_DEK_COMMIT_BYTES];
    smar_dek_commit(c, dek, h->archive_id);
    bool ok = smar_equal32(c, h->dek_commit);
    sodium_memzero(c, sizeof c);
    return ok;
}
