/*
 * readahead.c - a few workers opening the chunks a reader will want next (readahead.h).
 *
 * Slots are few (2 x threads) and found by linear search. The reader's thread queues,
 * takes and drops slots; workers only turn QUEUED into BUSY into DONE. Workers read with
 * the source's read_at (which smar_reader_set_threads documents as called from several
 * threads) and open chunks with their own chunker; they touch no reader state but the
 * tables, which do not change once the reader is open.
 */
#include "readahead.h"

#include <pthread.h>
#include <stdlib.h>

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

typedef struct slot {
    enum slot_state state;
    bool stale;    /* no longer wanted: drop when done */
    uint64_t tick; /* queue order */
    uint8_t section;
    uint32_t seq;
    int rc;
    uint8_t *raw;
    size_t len;
    size_t dirty; /* bytes of raw ever written (wiped on free) */
    smar_buf stored;
} slot;

typedef struct worker {
    smar_readahead *ra;
    pthread_t thread;
    smar_chunker ck;
} worker;

struct smar_readahead {
    smar_reader *r;
    size_t nslots;
    slot *slots;
    unsigned nworkers;
    worker *workers;
    uint64_t ticks;
    bool stop;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
};

/* Read and open one chunk without touching the reader's error or caches. */
static int open_chunk(smar_readahead *ra, worker *w, slot *s)
{
    smar_reader *r = ra->r;
    uint32_t number = r->section_chunks[s->section][s->seq];
    const smar_table_entry *t = &r->table[number];
    smar_chunk_pos pos = {number, s->section, t->flags, s->seq};
    smar_err scratch;
    smar_buf_reset(&s->stored);
    if (smar_buf_reserve(&s->stored, t->stored_len))
        return SMAR_E_NOMEM;
    int read = smar_source_read(&r->src, s->stored.data, t->stored_len, t->offset, &scratch);
    if (read != SMAR_OK)
        return read; /* the reader reads this chunk again itself and reports why */
    int rc =
        smar_chunk_open(&w->ck, &pos, s->stored.data, t->stored_len, s->raw, &s->len, &scratch);
    size_t written = rc ? r->hdr.chunk_size : s->len;
    s->dirty = written > s->dirty ? written : s->dirty;
    return rc;
}

static slot *oldest_queued(smar_readahead *ra)
{
    slot *best = NULL;
    for (size_t i = 0; i < ra->nslots; i++)
        if (ra->slots[i].state == SLOT_QUEUED && (!best || ra->slots[i].tick < best->tick))
            best = &ra->slots[i];
    return best;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    smar_readahead *ra = w->ra;
    pthread_mutex_lock(&ra->lock);
    for (;;) {
        slot *s;
        while (!(s = oldest_queued(ra)) && !ra->stop)
            pthread_cond_wait(&ra->work, &ra->lock);
        if (!s)
            break; /* stopping */
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&ra->lock);
        int rc = open_chunk(ra, w, s);
        pthread_mutex_lock(&ra->lock);
        s->rc = rc;
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&ra->done);
    }
    pthread_mutex_unlock(&ra->lock);
    return NULL;
}

static void stop_workers(smar_readahead *ra, unsigned started)
{
    pthread_mutex_lock(&ra->lock);
    ra->stop = true;
    pthread_cond_broadcast(&ra->work);
    pthread_mutex_unlock(&ra->lock);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ra->workers[i].thread, NULL);
        smar_chunker_free(&ra->workers[i].ck);
    }
}

void smar_readahead_free(smar_readahead *ra)
{
    if (!ra)
        return;
    if (ra->workers) {
        stop_workers(ra, ra->nworkers);
        free(ra->workers);
    }
    for (size_t i = 0; ra->slots && i < ra->nslots; i++) {
        smar_wipe_free(ra->slots[i].raw, ra->slots[i].dirty);
        smar_buf_free(&ra->slots[i].stored);
    }
    free(ra->slots);
    pthread_mutex_destroy(&ra->lock);
    pthread_cond_destroy(&ra->work);
    pthread_cond_destroy(&ra->done);
    free(ra);
}

int smar_readahead_new(smar_readahead **out, smar_reader *r, unsigned threads)
{
    smar_readahead *ra = calloc(1, sizeof *ra);
    *out = NULL;
    if (!ra)
        return SMAR_E_NOMEM;
    ra->r = r;
    pthread_mutex_init(&ra->lock, NULL);
    pthread_cond_init(&ra->work, NULL);
    pthread_cond_init(&ra->done, NULL);
    threads = threads ? threads : 1;
    ra->nslots = 2 * (size_t)threads;
    if (!(ra->slots = calloc(ra->nslots, sizeof *ra->slots)) ||
        !(ra->workers = calloc(threads, sizeof *ra->workers)))
        goto fail;
    for (size_t i = 0; i < ra->nslots; i++)
        if (!(ra->slots[i].raw = malloc(r->hdr.chunk_size)))
            goto fail;
    for (unsigned i = 0; i < threads; i++) {
        worker *w = &ra->workers[i];
        w->ra = ra;
        if (smar_chunker_init(&w->ck, r->hdr.suite, 0, r->hdr.chunk_size, r->keys->chunk,
                              r->hdr.archive_id) ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            smar_chunker_free(&w->ck);
            stop_workers(ra, i);
            free(ra->workers);
            ra->workers = NULL;
            goto fail;
        }
        ra->nworkers = i + 1;
    }
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
        if (s->state != SLOT_FREE && !s->stale && s->section == section && s->seq == seq)
            return s;
    }
    return NULL;
}

/* Caller holds the lock. Slots of this section at or before seq are of no more use. */
static void drop_passed(smar_readahead *ra, uint8_t section, uint32_t seq)
{
    for (size_t i = 0; i < ra->nslots; i++) {
        slot *s = &ra->slots[i];
        if (s->state == SLOT_FREE || s->section != section || s->seq > seq)
            continue;
        if (s->state == SLOT_QUEUED || s->state == SLOT_DONE)
            s->state = SLOT_FREE;
        else
            s->stale = true; /* BUSY: dropped once done */
    }
    for (size_t i = 0; i < ra->nslots; i++)
        if (ra->slots[i].state == SLOT_DONE && ra->slots[i].stale)
            ra->slots[i].state = SLOT_FREE;
}

static slot *free_slot(smar_readahead *ra)
{
    for (size_t i = 0; i < ra->nslots; i++)
        if (ra->slots[i].state == SLOT_FREE) {
            ra->slots[i].stale = false;
            return &ra->slots[i];
        }
    return NULL;
}

void smar_readahead_after(smar_readahead *ra, uint8_t section, uint32_t seq)
{
    uint64_t count = ra->r->counts[section];
    /* each of the (at most two) sections read in order gets half the slots */
    uint32_t ahead = (uint32_t)(ra->nslots / 2 > 0 ? ra->nslots / 2 : 1);
    pthread_mutex_lock(&ra->lock);
    drop_passed(ra, section, seq);
    for (uint32_t k = 1; k <= ahead && (uint64_t)seq + k < count; k++) {
        slot *s;
        if (find(ra, section, seq + k))
            continue;
        if (!(s = free_slot(ra)))
            break;
        s->section = section;
        s->seq = seq + k;
        s->tick = ra->ticks++;
        s->state = SLOT_QUEUED;
        pthread_cond_signal(&ra->work);
    }
    pthread_mutex_unlock(&ra->lock);
}

bool smar_readahead_take(smar_readahead *ra, uint8_t section, uint32_t seq, uint8_t **raw,
                         size_t *len, size_t *dirty)
{
    pthread_mutex_lock(&ra->lock);
    slot *s = find(ra, section, seq);
    while (s && s->state != SLOT_DONE)
        pthread_cond_wait(&ra->done, &ra->lock);
    bool ok = s && s->rc == SMAR_OK;
    if (ok) {
        uint8_t *give = *raw;
        size_t give_dirty = *dirty;
        *raw = s->raw;
        *len = s->len;
        *dirty = s->dirty;
        s->raw = give;
        s->dirty = give_dirty;
    }
    if (s)
        s->state = SLOT_FREE;
    pthread_mutex_unlock(&ra->lock);
    return ok;
}
