/*
 * header.c - encoding and parsing the public header (spec/FORMAT.md, "Header").
 */
#include "header.h"

#include "crypto.h"

static bool key_id_is_valid(const char *id, size_t n)
{
    if (n == 0 || n > SMAR_SLOT_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f)
            return false;
    return true;
}

uint32_t smar_header_layout(smar_header *h)
{
    size_t n = SMAR_HEADER_FIXED_BYTES;
    for (unsigned i = 0; i < h->slot_count; i++)
        n += 1 + 1 + h->slots[i].key_id_len + 4 + 2 + h->slots[i].wrapped_len;
    h->header_len = (uint32_t)(n + SMAR_HEADER_MAC_BYTES);
    return h->header_len;
}

int smar_header_encode(smar_header *h, const uint8_t mac_key[32], smar_buf *out)
{
    size_t start = out->len;
    uint32_t len = smar_header_layout(h);
    int rc = smar_buf_reserve(out, len);
    if (rc)
        return rc;
    smar_buf_append(out, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    smar_buf_put_u16(out, h->version_major);
    smar_buf_put_u16(out, h->version_minor);
    smar_buf_put_u32(out, len);
    smar_buf_put_u32(out, 0); /* flags: none defined in v1 */
    smar_buf_put_u16(out, h->suite);
    smar_buf_put_u16(out, h->compression);
    smar_buf_put_u32(out, h->chunk_size);
    smar_buf_append(out, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_buf_put_u64(out, (uint64_t)h->created);
    smar_buf_put_u64(out, (uint64_t)h->snapshot);
    smar_buf_put_u16(out, h->slot_count);
    smar_buf_put_u16(out, 0); /* reserved */
    for (unsigned i = 0; i < h->slot_count; i++) {
        const smar_slot *s = &h->slots[i];
        smar_buf_put_u8(out, s->provider);
        smar_buf_put_u8(out, s->key_id_len);
        smar_buf_append(out, s->key_id, s->key_id_len);
        smar_buf_put_u32(out, s->key_version);
        smar_buf_put_u16(out, s->wrapped_len);
        smar_buf_append(out, s->wrapped, s->wrapped_len);
    }
    smar_hash(h->mac, mac_key, out->data + start, out->len - start);
    return smar_buf_append(out, h->mac, SMAR_HEADER_MAC_BYTES);
}

int smar_header_peek(const uint8_t *p, size_t n, uint32_t *len, smar_err *e)
{
    if (n < SMAR_HEADER_FIXED_BYTES || memcmp(p, SMAR_MAGIC, SMAR_MAGIC_BYTES) != 0)
        return smar_fail(e, SMAR_E_FORMAT, "not an smar archive (bad magic)");
    uint16_t major = smar_load_u16(p + 8);
    if (major != SMAR_FORMAT_V1)
        return smar_fail(e, SMAR_E_VERSION,
                         "unsupported archive format version %u (this smar reads version %u)",
                         major, SMAR_FORMAT_V1);
    *len = smar_load_u32(p + 12);
    if (*len < SMAR_HEADER_FIXED_BYTES + SMAR_HEADER_MAC_BYTES || *len > SMAR_HEADER_MAX_BYTES)
        return smar_fail(e, SMAR_E_LIMIT, "header length %u outside %u..%u", *len,
                         SMAR_HEADER_FIXED_BYTES + SMAR_HEADER_MAC_BYTES, SMAR_HEADER_MAX_BYTES);
    return SMAR_OK;
}

static int parse_slot(smar_slot *s, smar_cursor *c, unsigned index, smar_err *e)
{
    const uint8_t *id;
    smar_take_u8(c, &s->provider);
    smar_take_u8(c, &s->key_id_len);
    if (!c->ok || !smar_take_ptr(c, &id, s->key_id_len))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    /* slots of providers this reader does not know (a KMS or HSM added later) are kept
     * and skipped at unlock: they are self-delimiting and covered by the header MAC */
    if (s->provider == 0)
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has provider 0", index);
    if (!key_id_is_valid((const char *)id, s->key_id_len))
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has an invalid key id", index);
    memcpy(s->key_id, id, s->key_id_len);
    s->key_id[s->key_id_len] = '\0';
    smar_take_u32(c, &s->key_version);
    smar_take_u16(c, &s->wrapped_len);
    if (!c->ok)
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    if (s->key_version == 0)
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has key version 0", index);
    if (s->wrapped_len == 0 || s->wrapped_len > SMAR_WRAPPED_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "key slot %u wrapped key length %u outside 1..%u", index,
                         s->wrapped_len, SMAR_WRAPPED_MAX);
    if (!smar_take(c, s->wrapped, s->wrapped_len))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    return SMAR_OK;
}

static int parse_fixed(smar_header *h, smar_cursor *c, smar_err *e)
{
    uint8_t magic[SMAR_MAGIC_BYTES];
    uint32_t flags;
    uint16_t reserved;
    uint64_t created, snapshot;
    smar_take(c, magic, sizeof magic);
    smar_take_u16(c, &h->version_major);
    smar_take_u16(c, &h->version_minor);
    smar_take_u32(c, &h->header_len);
    smar_take_u32(c, &flags);
    smar_take_u16(c, &h->suite);
    smar_take_u16(c, &h->compression);
    smar_take_u32(c, &h->chunk_size);
    smar_take(c, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_take_u64(c, &created);
    smar_take_u64(c, &snapshot);
    smar_take_u16(c, &h->slot_count);
    smar_take_u16(c, &reserved);
    if (!c->ok)
        return smar_fail(e, SMAR_E_CORRUPT, "header is truncated");
    h->created = (int64_t)created;
    h->snapshot = (int64_t)snapshot;
    if (flags != 0 || reserved != 0)
        return smar_fail(e, SMAR_E_VERSION, "header uses flags this version does not know");
    if (h->suite != SMAR_SUITE_XCHACHA20POLY1305_ID && h->suite != SMAR_SUITE_AES256GCM_ID)
        return smar_fail(e, SMAR_E_VERSION, "unknown cipher suite %u", h->suite);
    if (h->compression != SMAR_COMPRESSION_ZSTD)
        return smar_fail(e, SMAR_E_VERSION, "unknown compression %u", h->compression);
    if (h->chunk_size < SMAR_CHUNK_MIN || h->chunk_size > SMAR_CHUNK_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "chunk size %u outside %u..%u", h->chunk_size,
                         SMAR_CHUNK_MIN, SMAR_CHUNK_MAX);
    if (h->slot_count == 0 || h->slot_count > SMAR_SLOTS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "%u key slots (allowed 1..%u)", h->slot_count,
                         SMAR_SLOTS_MAX);
    return SMAR_OK;
}

int smar_header_parse(smar_header *h, const uint8_t *p, size_t n, smar_err *e)
{
    uint32_t len;
    int rc = smar_header_peek(p, n, &len, e);
    if (rc)
        return rc;
    if (len != n)
        return smar_fail(e, SMAR_E_CORRUPT, "header length mismatch");
    smar_cursor c = smar_cursor_make(p, n - SMAR_HEADER_MAC_BYTES);
    memset(h, 0, sizeof *h);
    if ((rc = parse_fixed(h, &c, e)) != SMAR_OK)
        return rc;
    for (unsigned i = 0; i < h->slot_count; i++)
        if ((rc = parse_slot(&h->slots[i], &c, i, e)) != SMAR_OK)
            return rc;
    if (c.left != 0)
        return smar_fail(e, SMAR_E_FORMAT, "header has %zu unexpected bytes after key slots",
                         c.left);
    memcpy(h->mac, p + n - SMAR_HEADER_MAC_BYTES, SMAR_HEADER_MAC_BYTES);
    return SMAR_OK;
}

bool smar_header_mac_ok(const uint8_t *p, size_t n, const uint8_t mac_key[32])
{
    uint8_t mac[SMAR_HASH_BYTES];
    if (n < SMAR_HEADER_MAC_BYTES)
        return false;
    smar_hash(mac, mac_key, p, n - SMAR_HEADER_MAC_BYTES);
    return smar_equal32(mac, p + n - SMAR_HEADER_MAC_BYTES);
}

size_t smar_slot_aad(uint8_t out[SMAR_SLOT_AAD_MAX], const smar_header *h, const smar_slot *s)
{
    uint8_t *p = out;
    memcpy(p, SMAR_LABEL_SLOT, SMAR_LABEL_BYTES);
    p += SMAR_LABEL_BYTES;
    memcpy(p, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    p += SMAR_MAGIC_BYTES;
    smar_store_u16(p, h->version_major);
    p += 2;
    memcpy(p, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    p += SMAR_ARCHIVE_ID_BYTES;
    *p++ = s->provider;
    *p++ = s->key_id_len;
    memcpy(p, s->key_id, s->key_id_len);
    p += s->key_id_len;
    smar_store_u32(p, s->key_version);
    p += 4;
    return (size_t)(p - out);
}
