/*
 * splitq.c - batches of secrets split on a worker pool (see splitq.h).
 *
 * Secrets travel in batches (up to SPLITQ_BATCH secrets or SPLITQ_BATCH_BYTES of JSON),
 * so that the threads meet once a batch rather than once a secret: per secret, the
 * wake-ups cost about as much as the work. Each batch is a job of an ordered pool
 * (io/pool.h). Slots are used in ring order: the submitting thread fills slot
 * (opened - 1) % depth, submits it when it is full, and pop takes batches back from the
 * pool in that same order and drains slot (released % depth). Only the submitting thread
 * pushes, pops and releases.
 */
#include "splitq.h"

#include <stdlib.h>

#include "pool.h"
#include "zstd_mem.h"

#define SPLITQ_BATCH       32
#define SPLITQ_BATCH_BYTES (256u * 1024u)

/* FILLING: secrets being pushed; QUEUED: in the pool; SPLIT: taken back, being popped. */
enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_SPLIT };

typedef struct slot {
    smar_pool_job job;
    enum slot_state state;
    smar_buf json; /* secure: the secrets' values, one after the other */
    size_t end[SPLITQ_BATCH];
    size_t n;    /* secrets in the batch */
    size_t next; /* the next one to pop */
    smar_split split[SPLITQ_BATCH];
    int rc[SPLITQ_BATCH];
    smar_err err[SPLITQ_BATCH];
} slot;

struct smar_splitq {
    const uint8_t *hash_key; /* the writer's payload-hash subkey, read-only */
    int zstd_level;          /* the archive's, for the payload records */
    unsigned threads;
    ZSTD_CCtx **cctx;     /* one per worker: each encodes the payloads of the secrets it splits */
    smar_split_hook hook; /* NULL: smar_split_hash_payloads */
    void *hook_ctx;
    smar_split_scan scan; /* NULL: none (format 2.2 digests) */
    void *scan_ctx;
    size_t depth;
    slot *slots;
    smar_pool *pool;
    uint64_t opened, queued, released; /* batches */
    size_t pending;                    /* secrets pushed, not yet released */
};

_Static_assert(SMAR_SPLITQ_BATCH_MAX == SPLITQ_BATCH, "splitq.h names the batch size");

/* The pool's job: split every secret of a batch. */
static void split_batch(void *ctx, unsigned worker, smar_pool_job *job)
{
    const smar_splitq *q = ctx;
    slot *s = SMAR_POOL_ENTRY(job, slot, job);
    size_t start = 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *text = (const char *)s->json.data + start;
        bool skip = q->scan && q->scan(&s->split[i], text, s->end[i] - start, q->scan_ctx);
        s->rc[i] =
            skip ? SMAR_OK : smar_split_secret(&s->split[i], text, s->end[i] - start, &s->err[i]);
        if (s->rc[i] == SMAR_OK && !skip) {
            if (q->hook)
                q->hook(&s->split[i], q->hook_ctx);
            else
                smar_split_hash_payloads(&s->split[i], q->hash_key);
            s->rc[i] = smar_split_encode_payloads(&s->split[i], q->cctx[worker], q->zstd_level,
                                                  &s->err[i]);
        }
        start = s->end[i];
    }
    smar_buf_reset(&s->json); /* the splits hold their own copies */
}

void smar_splitq_set_hook(smar_splitq *q, smar_split_hook hook, void *ctx)
{
    q->hook = hook;
    q->hook_ctx = ctx;
}

void smar_splitq_set_scan(smar_splitq *q, smar_split_scan scan, void *ctx)
{
    q->scan = scan;
    q->scan_ctx = ctx;
}

void smar_splitq_free(smar_splitq *q)
{
    if (!q)
        return;
    smar_pool_free(q->pool); /* joins the workers before the slots go */
    for (unsigned i = 0; q->cctx && i < q->threads; i++)
        ZSTD_freeCCtx(q->cctx[i]);
    free(q->cctx);
    for (size_t i = 0; q->slots && i < q->depth; i++) {
        smar_buf_free(&q->slots[i].json);
        for (size_t j = 0; j < SPLITQ_BATCH; j++)
            smar_split_free(&q->slots[i].split[j]);
    }
    free(q->slots);
    free(q);
}

int smar_splitq_new(smar_splitq **out, unsigned threads, size_t depth,
                    const uint8_t hash_key[SMAR_KEY_BYTES], int zstd_level)
{
    smar_splitq *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return SMAR_E_NOMEM;
    q->hash_key = hash_key;
    q->zstd_level = zstd_level;
    q->threads = threads ? threads : 1;
    if (!(q->cctx = calloc(q->threads, sizeof *q->cctx)))
        goto fail;
    for (unsigned i = 0; i < q->threads; i++)
        if (!(q->cctx[i] = smar_zstd_cctx_new()))
            goto fail;
    q->depth = depth ? depth : 1;
    if (!(q->slots = calloc(q->depth, sizeof *q->slots)))
        goto fail;
    for (size_t i = 0; i < q->depth; i++) {
        q->slots[i].json.secure = true;
        for (size_t j = 0; j < SPLITQ_BATCH; j++)
            q->slots[i].split[j].payload.secure = true;
    }
    if (smar_pool_new(&q->pool, q->threads, q->depth, split_batch, q))
        goto fail;
    *out = q;
    return SMAR_OK;
fail:
    smar_splitq_free(q);
    return SMAR_E_NOMEM;
}

size_t smar_splitq_pending(const smar_splitq *q)
{
    return q->pending;
}

/* Hand the batch being filled to the workers. */
static void queue_open_batch(smar_splitq *q)
{
    if (q->opened == q->queued)
        return;
    slot *s = &q->slots[q->queued % q->depth];
    s->state = SLOT_QUEUED;
    smar_pool_submit(q->pool, &s->job);
    q->queued++;
}

bool smar_splitq_full(const smar_splitq *q)
{
    return q->opened == q->queued && q->opened - q->released == q->depth;
}

int smar_splitq_push(smar_splitq *q, const char *json, size_t len)
{
    if (q->opened == q->queued) {
        /* open the next slot: free, as the ring has been released up to it (not full) */
        slot *fresh = &q->slots[q->opened % q->depth];
        fresh->state = SLOT_FILLING;
        fresh->n = fresh->next = 0;
        smar_buf_reset(&fresh->json);
        q->opened++;
    }
    slot *s = &q->slots[(q->opened - 1) % q->depth];
    if (smar_buf_append(&s->json, json, len))
        return SMAR_E_NOMEM;
    s->end[s->n++] = s->json.len;
    q->pending++;
    if (s->n == SPLITQ_BATCH || s->json.len >= SPLITQ_BATCH_BYTES)
        queue_open_batch(q);
    return SMAR_OK;
}

int smar_splitq_pop(smar_splitq *q, smar_split **split, smar_err *e)
{
    slot *s = &q->slots[q->released % q->depth];
    if (s->state == SLOT_FILLING)
        queue_open_batch(q); /* the oldest batch is still being filled: send it */
    if (s->state == SLOT_QUEUED) {
        (void)smar_pool_take(q->pool); /* s: the oldest batch queued comes back first */
        s->state = SLOT_SPLIT;
    }
    *split = &s->split[s->next];
    if (s->rc[s->next] != SMAR_OK)
        *e = s->err[s->next];
    return s->rc[s->next];
}

void smar_splitq_release(smar_splitq *q)
{
    slot *s = &q->slots[q->released % q->depth];
    q->pending--;
    if (++s->next < s->n)
        return;
    s->state = SLOT_FREE;
    q->released++;
}
