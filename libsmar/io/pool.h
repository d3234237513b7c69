/*
 * pool.h - the one worker core: threads running one job function, jobs taken back in order.
 *
 * Every parallel part of libsmar is a pool: the writer seals chunks (archive/pipeline.c),
 * the writer splits secrets (export/splitq.c), the reader opens the next chunks ahead
 * (archive/readahead.c), and verify scans every chunk (archive/verify.c). A pool has a
 * fixed set of worker threads, one job function and a bounded number of pending jobs.
 * Workers start jobs in submission order. The owner takes them back either in submission
 * order (smar_pool_take: an ordered parallel map) or one by one (smar_pool_wait,
 * smar_pool_cancel: read-ahead, which drops what the reader no longer wants).
 *
 * Jobs are the owner's memory: a job is a smar_pool_job embedded in the owner's own
 * struct (SMAR_POOL_ENTRY gets the struct back), so the pool allocates nothing per job.
 * A job is pending from smar_pool_submit until smar_pool_take or smar_pool_wait returns
 * it, or smar_pool_cancel removes it; only then may the owner reuse or free it.
 *
 * Threading: one thread, the owner, calls every function here. Workers only call the job
 * function, which must not call the pool. The job function gets the job and the index of
 * the worker running it (0 .. smar_pool_workers() - 1), so the owner can keep state per
 * worker (a chunker each) and index it without locks. What a job function writes into its
 * job is visible to the owner once the job is returned (the pool's lock orders it).
 * With threads == 0 there are no threads: smar_pool_submit runs the job at once, on the
 * owner's thread, as worker 0.
 */
#ifndef SMAR_POOL_H
#define SMAR_POOL_H

#include "internal.h"

typedef struct smar_pool smar_pool;

/* The pool's bookkeeping in a job. Zero it before the first submit; leave it alone after. */
typedef struct smar_pool_job {
    struct smar_pool_job *next; /* the next pending job, in submission order */
    int state;                  /* idle, queued, running, done */
} smar_pool_job;

/* The owner's struct that embeds job as its member `member`. */
#define SMAR_POOL_ENTRY(job, type, member) ((type *)(void *)((char *)(job)-offsetof(type, member)))

/* Runs one job on a worker. ctx is the pool's, as given to smar_pool_new. */
typedef void (*smar_pool_fn)(void *ctx, unsigned worker, smar_pool_job *job);

/* A pool of `threads` workers (0: run jobs inline) that holds at most `depth` (>= 1) pending
 * jobs. SMAR_OK, or SMAR_E_NOMEM (no memory or no thread; *out is NULL then). */
int smar_pool_new(smar_pool **out, unsigned threads, size_t depth, smar_pool_fn fn, void *ctx);

/* Stop the workers: a running job is finished, queued ones are never run. Then join them.
 * Every job is the owner's again afterwards. Accepts NULL. */
void smar_pool_free(smar_pool *p);

/* How many worker indexes the job function may be given: max(threads, 1). */
unsigned smar_pool_workers(const smar_pool *p);

/* Jobs submitted and not yet taken, waited for or cancelled. */
size_t smar_pool_pending(const smar_pool *p);
/* Whether depth jobs are pending: submitting must wait for a take first. */
bool smar_pool_full(const smar_pool *p);

/* Queue job (not pending) to be run after every job submitted before it. The pool must
 * not be full. With no threads the job has run when this returns. */
void smar_pool_submit(smar_pool *p, smar_pool_job *job);

/* Wait for the oldest pending job to finish and return it: jobs come back in submission
 * order. The pool must have a pending job. */
smar_pool_job *smar_pool_take(smar_pool *p);

/* Wait for this pending job to finish; it is no longer pending on return. */
void smar_pool_wait(smar_pool *p, smar_pool_job *job);

/* Withdraw a pending job without waiting: true (no longer pending) when it had not started
 * (it never will) or had finished; false when a worker is running it (still pending: cancel
 * or wait again later). */
bool smar_pool_cancel(smar_pool *p, smar_pool_job *job);

#endif
