/*
 * meta.h - the meta section, read first after unlock: what the snapshot holds, where each
 * index table's chunks start, and the export document without its secrets.
 */
#ifndef SMAR_META_H
#define SMAR_META_H

#include "index.h"

/* The decoded meta section. */
typedef struct smar_meta {
    uint64_t secret_count, version_count, payload_count;
    int64_t oldest, newest;
    uint32_t section_chunks[5]; /* payload, manifest, index counts (meta: implied) */
    smar_index_desc tables[SMAR_INDEX_TABLES];
    char *document;
    size_t document_len;
} smar_meta;

int smar_meta_encode(const smar_meta *m, smar_buf *out);
int smar_meta_decode(smar_meta *m, const uint8_t *p, size_t n, smar_err *e);
void smar_meta_free(smar_meta *m);

#endif
