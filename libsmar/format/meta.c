/*
 * meta.c - the meta section: counts, the index tables' fences and the export document
 * (spec/FORMAT.md, "Meta section").
 */
#include "meta.h"

#include <stdlib.h>

int smar_meta_encode(const smar_meta *m, smar_buf *out)
{
    int rc = smar_buf_put_u32(out, SMAR_META_FORMAT);
    rc = rc ? rc : smar_buf_put_u64(out, m->secret_count);
    rc = rc ? rc : smar_buf_put_u64(out, m->version_count);
    rc = rc ? rc : smar_buf_put_u64(out, m->payload_count);
    rc = rc ? rc : smar_buf_put_u64(out, (uint64_t)m->oldest);
    rc = rc ? rc : smar_buf_put_u64(out, (uint64_t)m->newest);
    for (int s = SMAR_SEC_PAYLOAD; s <= SMAR_SEC_INDEX; s++)
        rc = rc ? rc : smar_buf_put_u32(out, m->section_chunks[s]);
    for (int t = 0; t < SMAR_INDEX_TABLES; t++) {
        const smar_index_desc *d = &m->tables[t];
        rc = rc ? rc : smar_buf_put_u32(out, d->first_seq);
        rc = rc ? rc : smar_buf_put_u32(out, d->nchunks);
        rc = rc ? rc : smar_buf_put_u64(out, d->nentries);
        rc = rc ? rc : smar_buf_append(out, d->fences, (size_t)d->nchunks * SMAR_INDEX_KEY_BYTES);
    }
    rc = rc ? rc : smar_buf_put_u32(out, (uint32_t)m->document_len);
    return rc ? rc : smar_buf_append(out, m->document, m->document_len);
}

void smar_meta_free(smar_meta *m)
{
    for (int t = 0; t < SMAR_INDEX_TABLES; t++) /* index keys, wiped as the index is */
        smar_wipe_free(m->tables[t].fences, (size_t)m->tables[t].nchunks * SMAR_INDEX_KEY_BYTES);
    /* the document's configurations hold credentials; + 1 for its NUL */
    smar_wipe_free(m->document, m->document_len + 1);
    memset(m, 0, sizeof *m);
}

static int decode_table(smar_index_desc *d, smar_cursor *c, uint32_t index_chunks, smar_err *e)
{
    const uint8_t *fences;
    smar_take_u32(c, &d->first_seq);
    smar_take_u32(c, &d->nchunks);
    smar_take_u64(c, &d->nentries);
    if (!c->ok)
        return smar_fail(e, SMAR_E_FORMAT, "meta section is truncated");
    if (d->nchunks > index_chunks || d->first_seq > index_chunks - d->nchunks ||
        d->nentries > (uint64_t)d->nchunks * SMAR_INDEX_PER_CHUNK ||
        (d->nchunks > 0 && d->nentries <= (uint64_t)(d->nchunks - 1) * SMAR_INDEX_PER_CHUNK))
        return smar_fail(e, SMAR_E_FORMAT,
                         "meta section describes an impossible index: %u chunks from #%u with "
                         "%llu entries, in an index section of %u chunks (%u entries a chunk)",
                         d->nchunks, d->first_seq, (unsigned long long)d->nentries, index_chunks,
                         (unsigned)SMAR_INDEX_PER_CHUNK);
    size_t flen = (size_t)d->nchunks * SMAR_INDEX_KEY_BYTES;
    if (!smar_take_ptr(c, &fences, flen))
        return smar_fail(e, SMAR_E_FORMAT, "meta section is truncated");
    d->fences = malloc(flen ? flen : 1);
    if (!d->fences)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    memcpy(d->fences, fences, flen);
    return SMAR_OK;
}

static int decode_counts(smar_meta *m, smar_cursor *c, smar_err *e)
{
    uint32_t format;
    smar_take_u32(c, &format);
    smar_take_u64(c, &m->secret_count);
    smar_take_u64(c, &m->version_count);
    smar_take_u64(c, &m->payload_count);
    smar_take_i64(c, &m->oldest);
    smar_take_i64(c, &m->newest);
    for (int s = SMAR_SEC_PAYLOAD; s <= SMAR_SEC_INDEX; s++)
        smar_take_u32(c, &m->section_chunks[s]);
    if (!c->ok)
        return smar_fail(e, SMAR_E_FORMAT, "meta section is truncated");
    if (format != SMAR_META_FORMAT)
        return smar_fail(e, SMAR_E_VERSION, "unknown meta section format %u", format);
    return SMAR_OK;
}

int smar_meta_decode(smar_meta *m, const uint8_t *p, size_t n, smar_err *e)
{
    smar_cursor c = smar_cursor_make(p, n);
    const uint8_t *doc;
    uint32_t doclen;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = decode_counts(m, &c, e)))
        return rc;
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        if ((rc = decode_table(&m->tables[t], &c, m->section_chunks[SMAR_SEC_INDEX], e)))
            goto fail;
    if (!smar_take_u32(&c, &doclen) || !smar_take_ptr(&c, &doc, doclen) || c.left != 0) {
        rc = smar_fail(e, SMAR_E_FORMAT, "meta section is malformed");
        goto fail;
    }
    if (!(m->document = malloc((size_t)doclen + 1))) {
        rc = smar_fail(e, SMAR_E_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(m->document, doc, doclen);
    m->document[doclen] = '\0';
    m->document_len = doclen;
    return SMAR_OK;
fail:
    smar_meta_free(m);
    return rc;
}
