/*
 * table.h - the chunk table and the trailer at the end of an archive.
 *
 * The trailer has a fixed size and ends the file, so one suffix read finds the chunk table
 * and with it everything else. The chunk table lists every chunk's offset, length, section
 * and BLAKE2b hash; the root hash covers the header, the table and the trailer's fixed
 * fields, so anyone holding the file can check it is complete and unaltered without a key.
 */
#ifndef SMAR_TABLE_H
#define SMAR_TABLE_H

#include "internal.h"
#include "format.h"

typedef struct smar_table_entry {
    uint64_t offset;
    uint32_t stored_len;
    uint8_t section;
    uint8_t flags;
    uint8_t hash[SMAR_HASH_BYTES];
} smar_table_entry;

typedef struct smar_trailer {
    uint64_t table_offset;
    uint32_t chunk_count;
    uint32_t flags; /* SMAR_TRAILER_SIGNED */
    uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES];
    uint32_t header_len;
    uint32_t slot_area_len; /* format 2: the slot area's size S; format 1: 0 (reserved) */
    uint8_t root_hash[SMAR_HASH_BYTES];
    uint8_t root_mac[SMAR_HASH_BYTES];
    uint8_t signer[32];
    uint8_t signature[SMAR_SIGNATURE_BYTES];
    uint16_t version_major;
    uint16_t version_minor;
} smar_trailer;

void smar_table_entry_encode(uint8_t out[SMAR_TABLE_ENTRY_BYTES], const smar_table_entry *t);
/* Decode one entry; false when reserved bits are set or the section is unknown. */
bool smar_table_entry_decode(smar_table_entry *t, const uint8_t in[SMAR_TABLE_ENTRY_BYTES]);

/* Encode and decode a trailer of format 1 or 2 (version_major says which; the layouts
 * differ only in bytes 36..40: reserved in 1, the slot area's length in 2). */
void smar_trailer_encode(uint8_t out[SMAR_TRAILER_BYTES], const smar_trailer *t);
int smar_trailer_decode(smar_trailer *t, const uint8_t in[SMAR_TRAILER_BYTES], smar_err *e);

/*
 * Check the table's structure against the file: chunks contiguous from the header's end
 * to the table, each no larger than stored_max, sections known, exactly one LAST flag per
 * present section on its final chunk, a meta section present. Fills per-section counts.
 */
int smar_table_check(const smar_table_entry *t, uint32_t count, uint64_t header_len,
                     uint64_t table_offset, size_t stored_max, uint64_t counts[SMAR_SEC_COUNT],
                     uint64_t bytes[SMAR_SEC_COUNT], smar_err *e);

#endif
