/*
 * fuzz_trailer_table.c - the trailer and the chunk table, decoded directly: the first 216
 * bytes are a trailer of either format (smar_trailer_decode, with an encode round trip;
 * format 2: slot_area_len), the rest table entries (smar_table_entry_decode, round trip)
 * checked with smar_table_check against the layout the trailer declares. Format 2 also
 * recomputes its root from "raw file bytes" (smar_root2_matches_raw, as the reader does
 * for "unknown value or damage?") and checks it against content hash + root hash computed
 * directly over the same bytes.
 */
#include <string.h>

#include "chunk.h"
#include "common.h"
#include "table.h"
#include "root.h"
#include "root2.h"

#define MAX_ENTRIES 4096

/* A virtual file: byte x is data[x % size] (every offset readable, wrapping like u64). */
typedef struct vfile {
    const uint8_t *p;
    size_t n;
} vfile;

static int vfile_read(void *opaque, void *buf, size_t len, uint64_t offset)
{
    const vfile *f = opaque;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = f->p[(offset + i) % f->n];
    return 0;
}

static uint8_t *vfile_copy(const vfile *f, uint64_t offset, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    FZ_CHECK(b != NULL);
    vfile_read((void *)(uintptr_t)f, b, len, offset);
    return b;
}

/* smar_root2_matches_raw against the root computed from the pieces: with the computed root
 * in T[40..72) it must match, with one bit of it flipped it must not. */
static void root2_differential(const smar_trailer *t, const uint8_t *data, size_t size)
{
    if (t->version_major != SMAR_FORMAT_V2 || t->header_len > SMAR_HEADER2_MAX ||
        t->chunk_count > MAX_ENTRIES)
        return;
    vfile f = {data, size};
    size_t table_len = (size_t)t->chunk_count * SMAR_TABLE_ENTRY_BYTES;
    uint8_t *header = vfile_copy(&f, 0, t->header_len);
    uint8_t *table = vfile_copy(&f, t->table_offset, table_len);
    uint8_t *slots = vfile_copy(&f, t->table_offset + table_len, t->slot_area_len);
    uint8_t trailer[SMAR_TRAILER_BYTES], content[SMAR_HASH_BYTES];
    memcpy(trailer, data, SMAR_TRAILER_BYTES);
    smar_content_hash(content, trailer, header, t->header_len, table, table_len);
    smar_root2_hash(trailer + 40, content, trailer, slots, t->slot_area_len);
    for (int flip = 0; flip <= 1; flip++) {
        bool matches = !flip;
        trailer[40] ^= (uint8_t)flip;
        FZ_CHECK(smar_root2_matches_raw(trailer, t->header_len, t->table_offset, table_len,
                                        t->slot_area_len, vfile_read, &f, &matches) == 0);
        FZ_CHECK(matches == !flip);
    }
    free(header);
    free(table);
    free(slots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static smar_table_entry table[MAX_ENTRIES];
    smar_trailer t;
    smar_err e = {0};
    fz_init();
    if (size < SMAR_TRAILER_BYTES)
        return 0;
    if (smar_trailer_decode(&t, data, &e) != SMAR_OK) {
        FZ_CHECK(e.code < 0 && e.msg[0] != '\0');
        return 0;
    }
    FZ_CHECK(t.chunk_count >= 1 && t.chunk_count <= SMAR_MAX_CHUNKS);
    uint8_t again[SMAR_TRAILER_BYTES];
    smar_trailer_encode(again, &t);
    FZ_CHECK(memcmp(again, data, SMAR_TRAILER_BYTES) == 0);
    bool v2 = t.version_major == SMAR_FORMAT_V2;
    if (v2)
        FZ_CHECK(t.slot_area_len >= SMAR_SLOT_AREA_MIN && t.slot_area_len <= SMAR_SLOT_AREA_MAX);
    else
        FZ_CHECK(t.slot_area_len == 0);
    root2_differential(&t, data, size);

    const uint8_t *p = data + SMAR_TRAILER_BYTES;
    size_t n = (size - SMAR_TRAILER_BYTES) / SMAR_TABLE_ENTRY_BYTES;
    if (n > MAX_ENTRIES)
        n = MAX_ENTRIES;
    for (size_t i = 0; i < n; i++) {
        uint8_t enc[SMAR_TABLE_ENTRY_BYTES];
        if (!smar_table_entry_decode(&table[i], p + i * SMAR_TABLE_ENTRY_BYTES))
            return 0; /* the reader stops at the first malformed entry */
        smar_table_entry_encode(enc, &table[i]);
        FZ_CHECK(memcmp(enc, p + i * SMAR_TABLE_ENTRY_BYTES, sizeof enc) == 0);
    }
    if (n == 0)
        return 0;
    /* the file the trailer describes: header_len bytes of header, the chunks, the table */
    uint64_t counts[6], bytes[6]; /* indexed by section id, 1..5 (5: digests, format 2.2) */
    for (int small = 0; small <= 1; small++) {
        size_t stored_max = smar_chunk_stored_max_format(
            t.version_major, small ? SMAR_CHUNK_SIZE_MIN : SMAR_CHUNK_SIZE_MAX);
        if (t.table_offset < t.header_len)
            break;
        if (smar_table_check(table, (uint32_t)n, t.header_len, t.table_offset, stored_max, counts,
                             bytes, &e) == SMAR_OK) {
            uint64_t total = 0, stored = 0;
            for (int s = SMAR_SECTION_PAYLOAD; s <= 5 /* digests */; s++) {
                total += counts[s];
                stored += bytes[s];
            }
            FZ_CHECK(total == n && counts[SMAR_SECTION_META] > 0);
            FZ_CHECK(stored == t.table_offset - t.header_len);
        }
    }
    return 0;
}
