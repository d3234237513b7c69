/*
 * index.c - index keys, entries and fences (spec/FORMAT.md, "Index").
 */
#include "index.h"

#include <stdlib.h>

#include <sodium.h>

#include "crypto.h"

void smar_index_key(uint8_t out[SMAR_INDEX_KEY_BYTES], const uint8_t index_key[32], int table,
                    const char *s, size_t n)
{
    uint8_t prefix = table == SMAR_INDEX_BY_ID ? 'i' : 'n';
    crypto_generichash_state st;
    crypto_generichash_init(&st, index_key, 32, SMAR_INDEX_KEY_BYTES);
    crypto_generichash_update(&st, &prefix, 1);
    crypto_generichash_update(&st, (const uint8_t *)s, n);
    crypto_generichash_final(&st, out, SMAR_INDEX_KEY_BYTES);
}

int smar_index_entry_cmp(const void *a, const void *b)
{
    const smar_index_entry *x = a, *y = b;
    int c = memcmp(x->key, y->key, SMAR_INDEX_KEY_BYTES);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

void smar_index_entry_encode(uint8_t out[SMAR_INDEX_ENTRY_BYTES], const smar_index_entry *x)
{
    memcpy(out, x->key, SMAR_INDEX_KEY_BYTES);
    smar_store_u32(out + 16, x->seq);
    smar_store_u32(out + 20, x->offset);
    smar_store_u32(out + 24, x->length);
}

void smar_index_entry_decode(smar_index_entry *x, const uint8_t in[SMAR_INDEX_ENTRY_BYTES])
{
    memcpy(x->key, in, SMAR_INDEX_KEY_BYTES);
    x->seq = smar_load_u32(in + 16);
    x->offset = smar_load_u32(in + 20);
    x->length = smar_load_u32(in + 24);
}

void smar_index_candidates(const smar_index_desc *d, const uint8_t key[SMAR_INDEX_KEY_BYTES],
                           uint32_t *from, uint32_t *to)
{
    /* first chunk whose first key is >= key; equal keys may also end the chunk before it */
    uint32_t lo = 0, hi = d->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(d->fences + (size_t)mid * SMAR_INDEX_KEY_BYTES, key, SMAR_INDEX_KEY_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *from = lo > 0 ? lo - 1 : 0;
    uint32_t end = lo;
    while (end < d->nchunks &&
           memcmp(d->fences + (size_t)end * SMAR_INDEX_KEY_BYTES, key, SMAR_INDEX_KEY_BYTES) == 0)
        end++;
    *to = end > *from ? end : *from + (d->nchunks > 0 ? 1 : 0);
    if (*to > d->nchunks)
        *to = d->nchunks;
}
