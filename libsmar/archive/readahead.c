/*
 * readahead.c - a worker pool opening the chunks a reader will want next (readahead.h).
 *
 * Slots are few (2 x threads) and found by linear search; each is a job of the pool
 * (io/pool.h), which opens queued slots in queue order. Only the reader's thread queues,
 * takes and drops slots, so the slots' bookkeeping needs no lock; workers fill only the
 * slot they run (its stored bytes and plaintext) through smar_chunk_fetch, with their own
 * chunker, and touch no reader state but the tables, which do not change once the reader
 * is open.
 */
#include "readahead.h"

#include <stdlib.h>

#include "pool.h"

typedef struct slot {
    smar_pool_job job;
    bool queued; /* in the pool: running, done or waiting for a worker */
    bool stale;  /* no longer wanted: withdrawn once it has finished */
    uint8_t section;
    uint32_t seq;
    int rc;
    smar_plain plain;
    smar_buf stored;
} slot;

struct smar_readahead {
    smar_reader *r;
    size_t nslots;
    slot *slots;
    smar_chunker *chunkers; /* one per pool worker */
    unsigned nchunkers;
    smar_pool *pool;
};

/* The pool's job: read and open one chunk without touching the reader's error or caches. */
static void open_slot(void *ctx, unsigned worker, smar_pool_job *job)
{
    smar_readahead *ra = ctx;
    slot *s = SMAR_POOL_ENTRY(job, slot, job);
    smar_err scratch;
    uint32_t number = ra->r->section_chunks[s->section][s->seq];
    s->rc = smar_chunk_fetch(ra->r, number, 0, &ra->chunkers[worker], &s->stored, &s->plain, NULL,
                             &scratch);
}

void smar_readahead_free(smar_readahead *ra)
{
    if (!ra)
        return;
    smar_pool_free(ra->pool); /* joins the workers before their chunkers and slots go */
    for (unsigned i = 0; ra->chunkers && i < ra->nchunkers; i++)
        smar_chunker_free(&ra->chunkers[i]);
    free(ra->chunkers);
    for (size_t i = 0; ra->slots && i < ra->nslots; i++) {
        smar_plain_free(&ra->slots[i].plain);
        smar_buf_free(&ra->slots[i].stored);
    }
    free(ra->slots);
    free(ra);
}

int smar_readahead_new(smar_readahead **out, smar_reader *r, unsigned threads)
{
    smar_readahead *ra = calloc(1, sizeof *ra);
    *out = NULL;
    if (!ra)
        return SMAR_E_NOMEM;
    ra->r = r;
    threads = threads ? threads : 1;
    ra->nslots = 2 * (size_t)threads;
    ra->nchunkers = threads;
    if (!(ra->slots = calloc(ra->nslots, sizeof *ra->slots)) ||
        !(ra->chunkers = calloc(threads, sizeof *ra->chunkers)))
        goto fail;
    for (size_t i = 0; i < ra->nslots; i++)
        if (smar_plain_alloc(&ra->slots[i].plain, r->hdr.chunk_size))
            goto fail;
    for (unsigned i = 0; i < threads; i++)
        if (smar_chunker_init_format(&ra->chunkers[i], r->format, r->hdr.suite, 0,
                                     r->hdr.chunk_size, r->keys->chunk, r->hdr.archive_id))
            goto fail;
    if (smar_pool_new(&ra->pool, threads, ra->nslots, open_slot, ra))
        goto fail;
    *out = ra;
    return SMAR_OK;
fail:
    smar_readahead_free(ra);
    return SMAR_E_NOMEM;
}

static slot *find(smar_readahead *ra, uint8_t section, uint32_t seq)
{
    for (size_t i = 0; i < ra->nslots; i++) {
        slot *s = &ra->slots[i];
        if (s->queued && !s->stale && s->section == section && s->seq == seq)
            return s;
    }
    return NULL;
}

/* Withdraw a slot from the pool if no worker is on it; true when it is free then. */
static bool withdraw(smar_readahead *ra, slot *s)
{
    if (s->queued && smar_pool_cancel(ra->pool, &s->job))
        s->queued = false;
    return !s->queued;
}

/* Slots of this section at or before seq are of no more use; stale ones that have
 * finished are free again. */
static void drop_passed(smar_readahead *ra, uint8_t section, uint32_t seq)
{
    for (size_t i = 0; i < ra->nslots; i++) {
        slot *s = &ra->slots[i];
        if (s->queued && s->section == section && s->seq <= seq)
            s->stale = true;
        if (s->stale && withdraw(ra, s))
            s->stale = false;
    }
}

static slot *free_slot(smar_readahead *ra)
{
    for (size_t i = 0; i < ra->nslots; i++)
        if (!ra->slots[i].queued)
            return &ra->slots[i];
    return NULL;
}

void smar_readahead_after(smar_readahead *ra, uint8_t section, uint32_t seq)
{
    uint64_t count = ra->r->counts[section];
    /* each of the (at most two) sections read in order gets half the slots */
    uint32_t ahead = (uint32_t)(ra->nslots / 2 > 0 ? ra->nslots / 2 : 1);
    drop_passed(ra, section, seq);
    for (uint32_t k = 1; k <= ahead && (uint64_t)seq + k < count; k++) {
        slot *s;
        if (find(ra, section, seq + k))
            continue;
        if (!(s = free_slot(ra)))
            break;
        s->section = section;
        s->seq = seq + k;
        s->queued = true;
        smar_pool_submit(ra->pool, &s->job);
    }
}

bool smar_readahead_take(smar_readahead *ra, uint8_t section, uint32_t seq, smar_plain *plain)
{
    slot *s = find(ra, section, seq);
    if (!s)
        return false;
    smar_pool_wait(ra->pool, &s->job);
    s->queued = false;
    if (s->rc != SMAR_OK)
        return false;
    smar_plain give = *plain; /* the reader's buffer, in exchange */
    *plain = s->plain;
    s->plain = give;
    return true;
}
