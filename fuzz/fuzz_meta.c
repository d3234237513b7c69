/*
 * fuzz_meta.c - the meta section's plaintext (smar_meta_decode): counts, the two index
 * table descriptions with their fences, the document; an encode round trip; and index
 * chunk candidate search (smar_index_candidates) for keys around the fences.
 */
#include <string.h>

#include "common.h"
#include "index.h"
#include "meta.h"

static void candidates(const smar_index_desc *d, const uint8_t key[SMAR_INDEX_KEY_BYTES])
{
    uint32_t from, to;
    smar_index_candidates(d, key, &from, &to);
    FZ_CHECK(from <= to && to <= d->nchunks);
    FZ_CHECK(d->nchunks == 0 || to > from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smar_meta m;
    smar_err e = {0};
    fz_init();
    if (smar_meta_decode(&m, data, size, &e) != SMAR_OK) {
        FZ_CHECK(e.code < 0 && e.msg[0] != '\0');
        FZ_CHECK(m.document == NULL && m.tables[0].fences == NULL && m.tables[1].fences == NULL);
        return 0;
    }
    FZ_CHECK(m.document != NULL && m.document[m.document_len] == '\0');
    for (int t = 0; t < SMAR_INDEX_TABLES; t++) {
        const smar_index_desc *d = &m.tables[t];
        FZ_CHECK(d->nchunks <= m.section_chunks[SMAR_SECTION_INDEX]);
        FZ_CHECK(d->nentries <= (uint64_t)d->nchunks * SMAR_INDEX_PER_CHUNK);
        uint8_t key[SMAR_INDEX_KEY_BYTES];
        memset(key, 0, sizeof key);
        candidates(d, key);
        memset(key, 0xff, sizeof key);
        candidates(d, key);
        for (uint32_t c = 0; c < d->nchunks && c < 64; c++) {
            memcpy(key, d->fences + (size_t)c * SMAR_INDEX_KEY_BYTES, sizeof key);
            candidates(d, key);
            key[15] ^= 1;
            candidates(d, key);
        }
    }
    smar_buf out = {0};
    FZ_CHECK(smar_meta_encode(&m, &out) == SMAR_OK);
    FZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0);
    smar_buf_free(&out);
    smar_meta_free(&m);
    return 0;
}
