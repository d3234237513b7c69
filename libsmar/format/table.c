/*
 * table.c - chunk table and trailer (spec/FORMAT.md, "Chunk table", "Trailer").
 */
#include "table.h"

#include "crypto.h"

/* Trailer bytes covered by the body hash: table_offset .. reserved, and the tail (versions,
 * trailer length, magic). The hashes and the signature between them are covered by the
 * root hash and the signature itself. */
#define TRAILER_FIXED_BYTES 40
#define TRAILER_TAIL_OFFSET 200

void smar_table_entry_encode(uint8_t out[SMAR_TABLE_ENTRY_BYTES], const smar_table_entry *t)
{
    smar_store_u64(out, t->offset);
    smar_store_u32(out + 8, t->stored_len);
    out[12] = t->section;
    out[13] = t->flags;
    out[14] = out[15] = 0;
    memcpy(out + 16, t->hash, SMAR_HASH_BYTES);
}

bool smar_table_entry_decode(smar_table_entry *t, const uint8_t in[SMAR_TABLE_ENTRY_BYTES])
{
    t->offset = smar_load_u64(in);
    t->stored_len = smar_load_u32(in + 8);
    t->section = in[12];
    t->flags = in[13];
    memcpy(t->hash, in + 16, SMAR_HASH_BYTES);
    return in[14] == 0 && in[15] == 0 && (t->flags & ~SMAR_CHUNK_LAST) == 0 &&
           t->section >= SMAR_SEC_PAYLOAD && t->section <= SMAR_SEC_DIGESTS;
}

void smar_trailer_encode(uint8_t out[SMAR_TRAILER_BYTES], const smar_trailer *t)
{
    memset(out, 0, SMAR_TRAILER_BYTES);
    smar_store_u64(out, t->table_offset);
    smar_store_u32(out + 8, t->chunk_count);
    smar_store_u32(out + 12, t->flags);
    memcpy(out + 16, t->archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_store_u32(out + 32, t->header_len);
    smar_store_u32(out + 36, t->slot_area_len); /* format 1: reserved, zero */
    memcpy(out + 40, t->root_hash, SMAR_HASH_BYTES);
    memcpy(out + 72, t->root_mac, SMAR_HASH_BYTES);
    memcpy(out + 104, t->signer, 32);
    memcpy(out + 136, t->signature, SMAR_SIGNATURE_BYTES);
    smar_store_u16(out + 200, t->version_major);
    smar_store_u16(out + 202, t->version_minor);
    smar_store_u32(out + 204, SMAR_TRAILER_BYTES);
    memcpy(out + 208, SMAR_TAIL_MAGIC, 8);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int smar_trailer_decode(smar_trailer *t, const uint8_t in[SMAR_TRAILER_BYTES], smar_err *e)
{
    if (memcmp(in + 208, SMAR_TAIL_MAGIC, 8) != 0)
        return smar_fail(e, SMAR_E_CORRUPT,
                         "no trailer at the end of the file: truncated, or not an smar archive");
    t->version_major = smar_load_u16(in + 200);
    t->version_minor = smar_load_u16(in + 202);
    if (t->version_major != SMAR_FORMAT_V1 && t->version_major != SMAR_FORMAT_V2)
        return smar_fail(e, SMAR_E_VERSION, "unsupported archive format version %u",
                         t->version_major);
    if (smar_load_u32(in + 204) != SMAR_TRAILER_BYTES)
        return smar_fail(e, SMAR_E_FORMAT, "trailer length is not %u", SMAR_TRAILER_BYTES);
    t->table_offset = smar_load_u64(in);
    t->chunk_count = smar_load_u32(in + 8);
    t->flags = smar_load_u32(in + 12);
    memcpy(t->archive_id, in + 16, SMAR_ARCHIVE_ID_BYTES);
    t->header_len = smar_load_u32(in + 32);
    t->slot_area_len = smar_load_u32(in + 36);
    memcpy(t->root_hash, in + 40, SMAR_HASH_BYTES);
    memcpy(t->root_mac, in + 72, SMAR_HASH_BYTES);
    memcpy(t->signer, in + 104, 32);
    memcpy(t->signature, in + 136, SMAR_SIGNATURE_BYTES);
    bool v1 = t->version_major == SMAR_FORMAT_V1;
    if ((t->flags & ~SMAR_TRAILER_SIGNED) != 0 || (v1 && t->slot_area_len != 0))
        return smar_fail(e, SMAR_E_VERSION, "trailer uses flags this version does not know");
    if (!v1 && (t->slot_area_len < SMAR_SLOT_AREA_MIN || t->slot_area_len > SMAR_SLOT_AREA_MAX))
        return smar_fail(e, SMAR_E_LIMIT, "slot area of %u bytes (allowed %u..%u)",
                         t->slot_area_len, SMAR_SLOT_AREA_MIN, SMAR_SLOT_AREA_MAX);
    if (!(t->flags & SMAR_TRAILER_SIGNED) && !all_zero(in + 104, 32 + SMAR_SIGNATURE_BYTES))
        return smar_fail(e, SMAR_E_FORMAT, "unsigned archive carries signature bytes");
    if (t->chunk_count == 0 || t->chunk_count > SMAR_MAX_CHUNKS)
        return smar_fail(e, SMAR_E_LIMIT, "chunk count %u outside 1..%u", t->chunk_count,
                         SMAR_MAX_CHUNKS);
    return SMAR_OK;
}

static int check_order(const smar_table_entry *t, uint32_t count, uint64_t counts[SMAR_SEC_COUNT],
                       smar_err *e)
{
    bool closed[SMAR_SEC_COUNT] = {false};
    for (uint32_t i = 0; i < count; i++) {
        uint8_t s = t[i].section;
        if (closed[s])
            return smar_fail(e, SMAR_E_CORRUPT, "chunk %u follows the last chunk of its section %u",
                             i, s);
        counts[s]++;
        if (t[i].flags & SMAR_CHUNK_LAST)
            closed[s] = true;
    }
    for (int s = SMAR_SEC_PAYLOAD; s <= SMAR_SEC_DIGESTS; s++)
        if (counts[s] > 0 && !closed[s])
            return smar_fail(e, SMAR_E_CORRUPT, "section %d has no last chunk: chunks were dropped",
                             s);
    if (counts[SMAR_SEC_META] == 0)
        return smar_fail(e, SMAR_E_CORRUPT, "archive has no meta section");
    return SMAR_OK;
}

int smar_table_check(const smar_table_entry *t, uint32_t count, uint64_t header_len,
                     uint64_t table_offset, size_t stored_max, uint64_t counts[SMAR_SEC_COUNT],
                     uint64_t bytes[SMAR_SEC_COUNT], smar_err *e)
{
    uint64_t expect = header_len;
    memset(counts, 0, SMAR_SEC_COUNT * sizeof counts[0]);
    memset(bytes, 0, SMAR_SEC_COUNT * sizeof bytes[0]);
    for (uint32_t i = 0; i < count; i++) {
        if (t[i].offset != expect)
            return smar_fail(e, SMAR_E_CORRUPT, "chunk %u is not where the table says", i);
        if (t[i].stored_len <= SMAR_TAG_BYTES || t[i].stored_len > stored_max)
            return smar_fail(e, SMAR_E_LIMIT, "chunk %u has impossible size %u", i,
                             t[i].stored_len);
        if (table_offset - expect < t[i].stored_len)
            return smar_fail(e, SMAR_E_CORRUPT, "chunk %u runs past the chunk table", i);
        expect += t[i].stored_len;
        bytes[t[i].section] += t[i].stored_len;
    }
    if (expect != table_offset)
        return smar_fail(e, SMAR_E_CORRUPT, "bytes between the last chunk and the chunk table");
    return check_order(t, count, counts, e);
}

/* The body hash's fixed part: the label and the trailer bytes it covers, as stored. */
