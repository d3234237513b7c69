/*
 * pipeline.c - a small pool of sealing workers with in-order output.
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdlib.h>

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_SEALED };

typedef struct slot {
    enum slot_state state;
    smar_chunk_pos pos;
    smar_buf raw; /* secure: plaintext */
    smar_buf sealed;
    uint8_t hash[SMAR_HASH_BYTES];
    int rc;
    smar_err err;
} slot;

typedef struct worker {
    smar_pipeline *p;
    pthread_t thread;
    smar_chunker ck;
} worker;

struct smar_pipeline {
    smar_sealed_fn fn;
    void *ctx;
    unsigned nworkers;
    worker *workers;
    smar_chunker inline_ck; /* used when nworkers == 0 */
    size_t nslots;
    slot *slots;
    uint64_t submitted, claimed, written;
    bool stop;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
};

static void seal_slot(smar_chunker *ck, slot *s)
{
    s->rc = smar_chunk_seal(ck, &s->pos, s->raw.data, s->raw.len, &s->sealed, &s->err);
    if (s->rc == SMAR_OK)
        smar_hash(s->hash, NULL, s->sealed.data, s->sealed.len);
    smar_buf_reset(&s->raw); /* wipes the plaintext */
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    smar_pipeline *p = w->p;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->claimed == p->submitted && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->claimed == p->submitted && p->stop)
            break;
        slot *s = &p->slots[p->claimed++ % p->nslots];
        pthread_mutex_unlock(&p->lock);
        seal_slot(&w->ck, s);
        pthread_mutex_lock(&p->lock);
        s->state = SLOT_SEALED;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Write out the oldest chunk, waiting for it to be sealed. */
static int write_oldest(smar_pipeline *p, smar_err *e)
{
    slot *s = &p->slots[p->written % p->nslots];
    pthread_mutex_lock(&p->lock);
    while (s->state != SLOT_SEALED)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    int rc = s->rc;
    if (rc != SMAR_OK)
        *e = s->err;
    else
        rc = p->fn(p->ctx, &s->pos, s->sealed.data, s->sealed.len, s->hash);
    pthread_mutex_lock(&p->lock);
    s->state = SLOT_FREE;
    p->written++;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int smar_pipeline_submit(smar_pipeline *p, const smar_chunk_pos *pos, const uint8_t *raw, size_t n,
                         smar_err *e)
{
    int rc;
    if (p->nworkers == 0) {
        slot *s = &p->slots[0];
        s->pos = *pos;
        smar_buf_reset(&s->raw);
        if (smar_buf_append(&s->raw, raw, n))
            return smar_fail(e, SMAR_E_NOMEM, "out of memory");
        seal_slot(&p->inline_ck, s);
        if (s->rc != SMAR_OK) {
            *e = s->err;
            return s->rc;
        }
        return p->fn(p->ctx, &s->pos, s->sealed.data, s->sealed.len, s->hash);
    }
    if (p->submitted - p->written == p->nslots && (rc = write_oldest(p, e)))
        return rc;
    slot *s = &p->slots[p->submitted % p->nslots];
    s->pos = *pos;
    smar_buf_reset(&s->raw);
    if (smar_buf_append(&s->raw, raw, n))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    pthread_mutex_lock(&p->lock);
    s->state = SLOT_QUEUED;
    p->submitted++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return SMAR_OK;
}

int smar_pipeline_drain(smar_pipeline *p, smar_err *e)
{
    while (p->written < p->submitted) {
        int rc = write_oldest(p, e);
        if (rc)
            return rc;
    }
    return SMAR_OK;
}

static void stop_workers(smar_pipeline *p, unsigned started)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
}

void smar_pipeline_free(smar_pipeline *p)
{
    if (!p)
        return;
    if (p->workers) {
        stop_workers(p, p->nworkers);
        for (unsigned i = 0; i < p->nworkers; i++)
            smar_chunker_free(&p->workers[i].ck);
        free(p->workers);
    }
    smar_chunker_free(&p->inline_ck);
    for (size_t i = 0; i < p->nslots; i++) {
        smar_buf_free(&p->slots[i].raw);
        smar_buf_free(&p->slots[i].sealed);
    }
    free(p->slots);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

static int start_workers(smar_pipeline *p, unsigned threads, int suite, int level,
                         uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id)
{
    if (!(p->workers = calloc(threads, sizeof *p->workers)))
        return SMAR_E_NOMEM;
    for (unsigned i = 0; i < threads; i++) {
        worker *w = &p->workers[i];
        w->p = p;
        if (smar_chunker_init(&w->ck, suite, level, chunk_size, key, archive_id) ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            smar_chunker_free(&w->ck);
            stop_workers(p, i);
            for (unsigned j = 0; j < i; j++)
                smar_chunker_free(&p->workers[j].ck);
            free(p->workers);
            p->workers = NULL;
            return SMAR_E_NOMEM;
        }
    }
    p->nworkers = threads;
    return SMAR_OK;
}

int smar_pipeline_new(smar_pipeline **out, unsigned threads, int suite, int level,
                      uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id,
                      smar_sealed_fn fn, void *ctx)
{
    smar_pipeline *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return SMAR_E_NOMEM;
    p->fn = fn;
    p->ctx = ctx;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->nslots = threads > 1 ? 2 * (size_t)threads : 1;
    if (!(p->slots = calloc(p->nslots, sizeof *p->slots)))
        goto fail;
    for (size_t i = 0; i < p->nslots; i++)
        p->slots[i].raw.secure = true;
    if (threads <= 1) {
        if (smar_chunker_init(&p->inline_ck, suite, level, chunk_size, key, archive_id))
            goto fail;
    } else if (start_workers(p, threads, suite, level, chunk_size, key, archive_id)) {
        goto fail;
    }
    *out = p;
    return SMAR_OK;
fail:
    smar_pipeline_free(p);
    return SMAR_E_NOMEM;
}
