/*
 * index.h - the sorted lookup tables of the index section.
 *
 * Two tables map keyed hashes of secret ids and of secret names to the place of each
 * secret's manifest record. Each table is sorted and cut into index chunks of
 * SMAR_INDEX_CHUNK_BYTES; the meta section keeps the first key of every index chunk (its
 * fences), so a lookup decrypts the meta section, one index chunk and one manifest chunk,
 * however many secrets the archive holds. Keys are BLAKE2b-128 keyed from the DEK, so
 * they reveal nothing without the key (and the whole section is encrypted anyway).
 */
#ifndef SMAR_INDEX_H
#define SMAR_INDEX_H

#include "internal.h"
#include "format.h"

typedef struct smar_index_entry {
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    uint32_t seq;    /* manifest chunk within its section */
    uint32_t offset; /* record start (its length prefix) in that chunk */
    uint32_t length; /* record bytes including the prefix */
} smar_index_entry;

enum { SMAR_INDEX_BY_ID = 0, SMAR_INDEX_BY_NAME = 1, SMAR_INDEX_TABLES = 2 };

/* The key of an id ("i" || id) or a name ("n" || name). */
void smar_index_key(uint8_t out[SMAR_INDEX_KEY_BYTES], const uint8_t index_key[32], int table,
                    const char *s, size_t n);

int smar_index_entry_cmp(const void *a, const void *b);
void smar_index_entry_encode(uint8_t out[SMAR_INDEX_ENTRY_BYTES], const smar_index_entry *x);
void smar_index_entry_decode(smar_index_entry *x, const uint8_t in[SMAR_INDEX_ENTRY_BYTES]);
/* Entries per index chunk. */
#define SMAR_INDEX_PER_CHUNK (SMAR_INDEX_CHUNK_BYTES / SMAR_INDEX_ENTRY_BYTES)

/* A table as the meta section describes it. */
typedef struct smar_index_desc {
    uint32_t first_seq; /* its first chunk in the index section */
    uint32_t nchunks;
    uint64_t nentries;
    uint8_t *fences; /* nchunks * SMAR_INDEX_KEY_BYTES: first key of each chunk */
} smar_index_desc;

/* The chunk range of a table that may hold key: [*from, *to). */
void smar_index_candidates(const smar_index_desc *d, const uint8_t key[SMAR_INDEX_KEY_BYTES],
                           uint32_t *from, uint32_t *to);

#endif
