/*
 * fetch.c - reading and opening one chunk (fetch.h).
 */
#include "fetch.h"

#include "source.h"

#include <stdlib.h>

#include "reader_internal.h"

int smar_plain_alloc(smar_plain *plain, uint32_t chunk_size)
{
    if (!plain->raw && !(plain->raw = malloc(chunk_size)))
        return SMAR_E_NOMEM;
    return SMAR_OK;
}

void smar_plain_free(smar_plain *plain)
{
    if (plain->raw)
        smar_wipe_free(plain->raw, plain->dirty);
    *plain = (smar_plain){0};
}

/* The chunk's stored bytes, read only where the source has them. */
static int read_stored(const smar_reader *r, const smar_table_entry *t, smar_buf *stored,
                       smar_err *e)
{
    smar_buf_reset(stored);
    if (smar_buf_reserve(stored, t->stored_len))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    /* bounds against the source's size, the source's own error text, cancellation */
    int rc = smar_source_read(&r->src, stored->data, t->stored_len, t->offset, e);
    if (rc == SMAR_OK)
        stored->len = t->stored_len;
    return rc;
}

static bool matches_table(const smar_table_entry *t, const smar_buf *stored)
{
    uint8_t hash[SMAR_HASH_BYTES];
    smar_hash(hash, NULL, stored->data, stored->len);
    return smar_equal32(hash, t->hash);
}

static int damaged(const smar_reader *r, uint32_t number, smar_fetch_fault *fault, smar_err *e)
{
    *fault = SMAR_FETCH_DAMAGED;
    return smar_fail(e, SMAR_E_CORRUPT,
                     "'%s': chunk #%u is damaged (its bytes do not match the chunk table)", r->name,
                     number);
}

static int open_stored(const smar_reader *r, uint32_t number, smar_chunker *ck,
                       const smar_buf *stored, smar_plain *plain, smar_err *e)
{
    const smar_table_entry *t = &r->table[number];
    smar_chunk_pos pos = {number, t->section, t->flags, r->seq_of[number]};
    int rc = smar_chunk_open(ck, &pos, stored->data, stored->len, plain->raw, &plain->len, e);
    /* a failed decompression may have written anywhere in the buffer */
    size_t written = rc ? r->hdr.chunk_size : plain->len;
    plain->dirty = written > plain->dirty ? written : plain->dirty;
    if (rc)
        plain->len = 0;
    return rc;
}

int smar_chunk_fetch(const smar_reader *r, uint32_t number, unsigned flags, smar_chunker *ck,
                     smar_buf *stored, smar_plain *plain, smar_fetch_fault *fault, smar_err *e)
{
    const smar_table_entry *t = &r->table[number];
    smar_fetch_fault scratch;
    int rc;
    fault = fault ? fault : &scratch;
    *fault = SMAR_FETCH_UNREAD;
    if ((rc = read_stored(r, t, stored, e)))
        return rc;
    bool hashed = flags & SMAR_FETCH_HASH;
    if (hashed && !matches_table(t, stored))
        return damaged(r, number, fault, e);
    if (ck && (rc = open_stored(r, number, ck, stored, plain, e))) {
        if (!hashed && !matches_table(t, stored))
            return damaged(r, number, fault, e);
        *fault = SMAR_FETCH_UNOPENED;
        return smar_err_prefix(e, "'%s': ", r->name);
    }
    *fault = SMAR_FETCH_OK;
    return SMAR_OK;
}
