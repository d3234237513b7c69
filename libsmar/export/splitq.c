/*
 * splitq.c - batches of secrets split by a small pool of workers (see splitq.h).
 *
 * Secrets travel in batches (up to SPLITQ_BATCH secrets or SPLITQ_BATCH_BYTES of JSON),
 * so that the threads meet once a batch rather than once a secret: per secret, the
 * wake-ups cost about as much as the work. Slots are used in ring order: the submitting
 * thread fills slot (queued % depth), workers claim queued slots in that same order, and
 * pop drains slot (released % depth). Only the submitting thread pushes, pops and
 * releases; the lock guards the counters and the slot states.
 */
#include "splitq.h"

#include <pthread.h>
#include <stdlib.h>

#define SPLITQ_BATCH       32
#define SPLITQ_BATCH_BYTES (256u * 1024u)

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_DONE };

typedef struct slot {
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
    size_t depth;
    slot *slots;
    unsigned nthreads;
    pthread_t *threads;
    uint64_t opened, queued, claimed, released; /* batches */
    size_t pending;                             /* secrets pushed, not yet released */
    bool stop;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
};

_Static_assert(SMAR_SPLITQ_BATCH_MAX == SPLITQ_BATCH, "splitq.h names the batch size");

static void split_batch(slot *s, const uint8_t *hash_key)
{
    size_t start = 0;
    for (size_t i = 0; i < s->n; i++) {
        s->rc[i] = smar_split_secret(&s->split[i], (const char *)s->json.data + start,
                                     s->end[i] - start, &s->err[i]);
        if (s->rc[i] == SMAR_OK)
            smar_split_hash_payloads(&s->split[i], hash_key);
        start = s->end[i];
    }
    smar_buf_reset(&s->json); /* the splits hold their own copies */
}

static void *worker_main(void *arg)
{
    smar_splitq *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->claimed == q->queued && !q->stop)
            pthread_cond_wait(&q->work, &q->lock);
        if (q->claimed == q->queued)
            break; /* stopping, nothing left */
        slot *s = &q->slots[q->claimed++ % q->depth];
        pthread_mutex_unlock(&q->lock);
        split_batch(s, q->hash_key);
        pthread_mutex_lock(&q->lock);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void stop_workers(smar_splitq *q, unsigned started)
{
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(q->threads[i], NULL);
}

void smar_splitq_free(smar_splitq *q)
{
    if (!q)
        return;
    if (q->threads) {
        stop_workers(q, q->nthreads);
        free(q->threads);
    }
    for (size_t i = 0; q->slots && i < q->depth; i++) {
        smar_buf_free(&q->slots[i].json);
        for (size_t j = 0; j < SPLITQ_BATCH; j++)
            smar_split_free(&q->slots[i].split[j]);
    }
    free(q->slots);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    free(q);
}

int smar_splitq_new(smar_splitq **out, unsigned threads, size_t depth,
                    const uint8_t hash_key[SMAR_KEY_BYTES])
{
    smar_splitq *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return SMAR_E_NOMEM;
    q->hash_key = hash_key;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    threads = threads ? threads : 1;
    q->depth = depth ? depth : 1;
    if (!(q->slots = calloc(q->depth, sizeof *q->slots)) ||
        !(q->threads = calloc(threads, sizeof *q->threads)))
        goto fail;
    for (size_t i = 0; i < q->depth; i++) {
        q->slots[i].json.secure = true;
        for (size_t j = 0; j < SPLITQ_BATCH; j++)
            q->slots[i].split[j].payload.secure = true;
    }
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker_main, q) != 0) {
            stop_workers(q, i);
            free(q->threads);
            q->threads = NULL;
            goto fail;
        }
        q->nthreads = i + 1;
    }
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
    pthread_mutex_lock(&q->lock);
    q->slots[q->queued % q->depth].state = SLOT_QUEUED;
    q->queued++;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
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
    if (q->released == q->queued)
        queue_open_batch(q); /* the oldest batch is still being filled: send it */
    pthread_mutex_lock(&q->lock);
    while (s->state != SLOT_DONE)
        pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
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
    pthread_mutex_lock(&q->lock);
    s->state = SLOT_FREE;
    q->released++;
    pthread_mutex_unlock(&q->lock);
}
