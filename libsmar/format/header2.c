/*
 * header2.c - encoding and parsing the format 2 header (header2.h).
 */
#include "header2.h"

#include <sodium.h>

#include "crypto.h"

uint32_t smar_header2_len(unsigned base_count)
{
    return base_count == 0 ? SMAR_HEADER2_BYTES
                           : SMAR_HEADER2_BASES_AT + SMAR_BASE_ENTRY_BYTES * base_count;
}

static int encode_bases(const smar_header2 *h, smar_buf *out)
{
    smar_buf_put_u16(out, h->base_count);
    int rc = smar_buf_put_u16(out, 0); /* reserved */
    for (unsigned i = 0; rc == SMAR_OK && i < h->base_count; i++) {
        smar_buf_append(out, h->bases[i].archive_id, SMAR_ARCHIVE_ID_BYTES);
        smar_buf_append(out, h->bases[i].content, 32);
        rc = smar_buf_put_u64(out, (uint64_t)h->bases[i].snapshot);
    }
    return rc;
}

int smar_header2_encode(const smar_header2 *h, smar_buf *out)
{
    if (h->base_count > SMAR_BASES_MAX)
        return SMAR_E_LIMIT;
    uint32_t len = smar_header2_len(h->base_count);
    int rc = smar_buf_reserve(out, len);
    if (rc)
        return rc;
    smar_buf_append(out, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    smar_buf_put_u16(out, h->version_major);
    smar_buf_put_u16(out, h->version_minor);
    smar_buf_put_u32(out, len);
    smar_buf_put_u32(out, (h->base_count ? SMAR_HEADER2_FLAG_INCREMENTAL : 0) |
                              (h->flags & SMAR_HEADER2_FLAG_EXPORT_DIGESTS));
    smar_buf_put_u16(out, h->suite);
    smar_buf_put_u16(out, h->compression);
    smar_buf_put_u32(out, h->chunk_size);
    smar_buf_append(out, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_buf_put_u64(out, (uint64_t)h->created);
    smar_buf_put_u64(out, (uint64_t)h->snapshot);
    smar_buf_append(out, h->dek_commit, SMAR_DEK_COMMIT_BYTES);
    rc = smar_buf_put_u32(out, 0); /* reserved */
    return rc || h->base_count == 0 ? rc : encode_bases(h, out);
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
    const uint32_t known = SMAR_HEADER2_FLAG_INCREMENTAL | SMAR_HEADER2_FLAG_EXPORT_DIGESTS;
    if ((flags & ~known) != 0 || reserved != 0)
        return smar_fail(e, SMAR_E_VERSION, "header uses flags this version does not know");
    /* export digests exist only in incremental archives of minor version 2 and later */
    if ((flags & SMAR_HEADER2_FLAG_EXPORT_DIGESTS) &&
        (!(flags & SMAR_HEADER2_FLAG_INCREMENTAL) || h->version_minor < SMAR_HEADER2_MINOR_DIGESTS))
        return smar_fail(e, SMAR_E_FORMAT,
                         "header flag EXPORT_DIGESTS without an incremental "
                         "2.2 header");
    if (h->suite != SMAR_SUITE_XCHACHA20POLY1305_ID && h->suite != SMAR_SUITE_AES256GCM_ID)
        return smar_fail(e, SMAR_E_VERSION, "unknown cipher suite %u", h->suite);
    if (h->compression != SMAR_COMPRESSION_ZSTD)
        return smar_fail(e, SMAR_E_VERSION, "unknown compression %u", h->compression);
    if (h->chunk_size < SMAR_CHUNK_MIN || h->chunk_size > SMAR_CHUNK_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "chunk size %u outside %u..%u", h->chunk_size,
                         SMAR_CHUNK_MIN, SMAR_CHUNK_MAX);
    return SMAR_OK;
}

/* The base list of an incremental header (format 2.1): bounded by header_len, every base
 * strictly older than this snapshot, no archive listed twice or listing itself. */
static int parse_bases(smar_header2 *h, const uint8_t *p, size_t n, smar_err *e)
{
    if (h->version_minor < SMAR_HEADER2_MINOR_INCREMENTAL || n < SMAR_HEADER2_BASES_AT)
        return smar_fail(e, SMAR_E_FORMAT, "incremental header without its base list");
    h->base_count = smar_load_u16(p + 96);
    if (h->base_count < 1 || h->base_count > SMAR_BASES_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "incremental header lists %u bases (limit 1..%u)",
                         h->base_count, SMAR_BASES_MAX);
    if (smar_load_u16(p + 98) != 0)
        return smar_fail(e, SMAR_E_FORMAT, "incremental header: reserved bytes are not zero");
    if (n < smar_header2_len(h->base_count))
        return smar_fail(e, SMAR_E_FORMAT, "incremental header is shorter than its base list");
    for (unsigned i = 0; i < h->base_count; i++) {
        const uint8_t *b = p + SMAR_HEADER2_BASES_AT + (size_t)i * SMAR_BASE_ENTRY_BYTES;
        smar_base_ref *ref = &h->bases[i];
        memcpy(ref->archive_id, b, SMAR_ARCHIVE_ID_BYTES);
        memcpy(ref->content, b + 16, 32);
        ref->snapshot = (int64_t)smar_load_u64(b + 48);
        if (ref->snapshot >= h->snapshot)
            return smar_fail(e, SMAR_E_FORMAT, "incremental header: base %u is not older", i);
        if (memcmp(ref->archive_id, h->archive_id, SMAR_ARCHIVE_ID_BYTES) == 0)
            return smar_fail(e, SMAR_E_FORMAT, "incremental header lists itself as a base");
        for (unsigned j = 0; j < i; j++)
            if (memcmp(h->bases[j].archive_id, ref->archive_id, SMAR_ARCHIVE_ID_BYTES) == 0)
                return smar_fail(e, SMAR_E_FORMAT, "incremental header lists a base twice");
    }
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
    h->flags = flags;
    rc = check_fields(h, flags, smar_load_u32(p + 92), e);
    if (rc || !(flags & SMAR_HEADER2_FLAG_INCREMENTAL))
        return rc;
    return parse_bases(h, p, n, e);
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
