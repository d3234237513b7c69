/*
 * fuzz_trailer_table.c - the trailer and the chunk table, decoded directly: the first 216
 * bytes are a trailer (smar_trailer_decode, with an encode round trip), the rest table
 * entries (smar_table_entry_decode, round trip) checked with smar_table_check against the
 * layout the trailer declares.
 */
#include <string.h>

#include "chunk.h"
#include "common.h"
#include "table.h"
#include "root.h"

#define MAX_ENTRIES 4096

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
    uint64_t counts[5], bytes[5];
    for (int small = 0; small <= 1; small++) {
        size_t stored_max =
            smar_chunk_stored_max(small ? SMAR_CHUNK_SIZE_MIN : SMAR_CHUNK_SIZE_MAX);
        if (t.table_offset < t.header_len)
            break;
        if (smar_table_check(table, (uint32_t)n, t.header_len, t.table_offset, stored_max, counts,
                             bytes, &e) == SMAR_OK) {
            uint64_t total = 0, stored = 0;
            for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_META; s++) {
                total += counts[s];
                stored += bytes[s];
            }
            FZ_CHECK(total == n && counts[SMAR_SECTION_META] > 0);
            FZ_CHECK(stored == t.table_offset - t.header_len);
        }
    }
    return 0;
}
