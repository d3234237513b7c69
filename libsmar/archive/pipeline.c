/*
 * pipeline.c - sealing chunks on a worker pool, writing them in order (pipeline.h).
 *
 * Each chunk is a job of an ordered pool (io/pool.h): the submitting thread copies the
 * plaintext into a slot of a ring as deep as the pool, workers seal it with their own
 * chunker, and the oldest sealed chunk is handed to the writer whenever the ring is full
 * (and at drain). With one thread the pool has no workers and seals on submit.
 */
#include "pipeline.h"

#include <stdlib.h>

#include "pool.h"

typedef struct slot {
    smar_pool_job job;
    smar_chunk_pos pos;
    uint64_t pad_base; /* SMAR_NO_PADDING, or what smar_chunk_seal_padded pads after */
    smar_buf raw;      /* secure: plaintext */
    smar_buf sealed;
    uint8_t hash[SMAR_HASH_BYTES];
    int rc;
    smar_err err;
} slot;

struct smar_pipeline {
    smar_sealed_fn fn;
    void *ctx;
    smar_pool *pool;
    smar_chunker *chunkers; /* one per pool worker */
    unsigned nchunkers;
    size_t nslots;
    slot *slots;
    uint64_t submitted;
};

/* The pool's job: seal one chunk with the worker's chunker. */
static void seal_slot(void *ctx, unsigned worker, smar_pool_job *job)
{
    smar_pipeline *p = ctx;
    slot *s = SMAR_POOL_ENTRY(job, slot, job);
    s->rc = smar_chunk_seal_padded(&p->chunkers[worker], &s->pos, s->pad_base, s->raw.data,
                                   s->raw.len, &s->sealed, &s->err);
    if (s->rc == SMAR_OK)
        smar_hash(s->hash, NULL, s->sealed.data, s->sealed.len);
    smar_buf_reset(&s->raw); /* wipes the plaintext */
}

/* Write out the oldest chunk, waiting for it to be sealed. */
static int write_oldest(smar_pipeline *p, smar_err *e)
{
    slot *s = SMAR_POOL_ENTRY(smar_pool_take(p->pool), slot, job);
    if (s->rc != SMAR_OK) {
        *e = s->err;
        return s->rc;
    }
    return p->fn(p->ctx, &s->pos, s->sealed.data, s->sealed.len, s->hash);
}

/* The next slot of the ring, free (writing out the oldest chunk first if the ring is full),
 * set to be sealed at pos. */
static int claim_slot(smar_pipeline *p, const smar_chunk_pos *pos, uint64_t pad_base, slot **out,
                      smar_err *e)
{
    int rc;
    if (smar_pool_full(p->pool) && (rc = write_oldest(p, e)))
        return rc;
    slot *s = &p->slots[p->submitted % p->nslots];
    s->pos = *pos;
    s->pad_base = pad_base;
    smar_buf_reset(&s->raw);
    *out = s;
    return SMAR_OK;
}

static int queue_slot(smar_pipeline *p, slot *s, smar_err *e)
{
    smar_pool_submit(p->pool, &s->job);
    p->submitted++;
    /* with no workers (one slot) the chunk is sealed already: write it now, as it comes */
    return p->nslots == 1 ? write_oldest(p, e) : SMAR_OK;
}

int smar_pipeline_submit(smar_pipeline *p, const smar_chunk_pos *pos, uint64_t pad_base,
                         const uint8_t *raw, size_t n, smar_err *e)
{
    slot *s;
    int rc = claim_slot(p, pos, pad_base, &s, e);
    if (rc)
        return rc;
    if (smar_buf_append(&s->raw, raw, n))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    return queue_slot(p, s, e);
}

int smar_pipeline_submit_buf(smar_pipeline *p, const smar_chunk_pos *pos, uint64_t pad_base,
                             smar_buf *raw, smar_err *e)
{
    slot *s;
    int rc = claim_slot(p, pos, pad_base, &s, e);
    if (rc)
        return rc;
    /* the slot's buffer was wiped when its last chunk was sealed: the caller gets it back
     * empty, the plaintext changes hands without a copy (and is wiped once, when sealed) */
    smar_buf t = s->raw;
    s->raw = *raw;
    *raw = t;
    s->raw.secure = raw->secure = true;
    return queue_slot(p, s, e);
}

int smar_pipeline_drain(smar_pipeline *p, smar_err *e)
{
    while (smar_pool_pending(p->pool) > 0) {
        int rc = write_oldest(p, e);
        if (rc)
            return rc;
    }
    return SMAR_OK;
}

void smar_pipeline_free(smar_pipeline *p)
{
    if (!p)
        return;
    smar_pool_free(p->pool); /* joins the workers before their chunkers go */
    for (unsigned i = 0; p->chunkers && i < p->nchunkers; i++)
        smar_chunker_free(&p->chunkers[i]);
    free(p->chunkers);
    for (size_t i = 0; p->slots && i < p->nslots; i++) {
        smar_buf_free(&p->slots[i].raw);
        smar_buf_free(&p->slots[i].sealed);
    }
    free(p->slots);
    free(p);
}

int smar_pipeline_new(smar_pipeline **out, unsigned threads, int format, int suite, int level,
                      uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id,
                      smar_sealed_fn fn, void *ctx)
{
    smar_pipeline *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return SMAR_E_NOMEM;
    p->fn = fn;
    p->ctx = ctx;
    unsigned workers = threads > 1 ? threads : 0; /* one thread: seal inline */
    p->nslots = workers ? 2 * (size_t)workers : 1;
    p->nchunkers = workers ? workers : 1;
    if (!(p->slots = calloc(p->nslots, sizeof *p->slots)) ||
        !(p->chunkers = calloc(p->nchunkers, sizeof *p->chunkers)))
        goto fail;
    for (size_t i = 0; i < p->nslots; i++)
        p->slots[i].raw.secure = true;
    for (unsigned i = 0; i < p->nchunkers; i++)
        if (smar_chunker_init_format(&p->chunkers[i], format, suite, level, chunk_size, key,
                                     archive_id))
            goto fail;
    /* the chunkers are ready before a worker can use them */
    if (smar_pool_new(&p->pool, workers, p->nslots, seal_slot, p))
        goto fail;
    *out = p;
    return SMAR_OK;
fail:
    smar_pipeline_free(p);
    return SMAR_E_NOMEM;
}
