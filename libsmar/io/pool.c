/*
 * pool.c - worker threads, one queue of pending jobs, jobs back in order (pool.h).
 *
 * The pending jobs form one list in submission order. The ones at its front have been
 * started (running or done); from next_run on, all are queued, so a worker takes
 * next_run and starts jobs in submission order. The owner takes finished jobs from the
 * front (take) or from anywhere (wait, cancel). One lock guards the list and the states;
 * `pending` is the owner's alone (only its calls change it), so reading it needs no lock.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

enum job_state { JOB_IDLE = 0, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct worker {
    smar_pool *pool;
    unsigned index;
    pthread_t thread;
} worker;

struct smar_pool {
    smar_pool_fn fn;
    void *ctx;
    size_t depth;
    size_t pending;
    smar_pool_job *head, *tail; /* pending jobs, oldest first */
    smar_pool_job *next_run;    /* the oldest queued job: every later one is queued too */
    unsigned nthreads;
    worker *workers;
    bool stop;
    pthread_mutex_t lock;
    pthread_cond_t work; /* workers: a job was queued, or stop */
    pthread_cond_t done; /* the owner: a job finished */
};

static void *worker_main(void *arg)
{
    worker *w = arg;
    smar_pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->next_run && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break; /* queued jobs are dropped: their owner is going */
        smar_pool_job *job = p->next_run;
        p->next_run = job->next;
        job->state = JOB_RUNNING;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->ctx, w->index, job);
        pthread_mutex_lock(&p->lock);
        job->state = JOB_DONE;
        pthread_cond_signal(&p->done); /* only the owner waits on it */
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void stop_workers(smar_pool *p, unsigned started)
{
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
}

void smar_pool_free(smar_pool *p)
{
    if (!p)
        return;
    stop_workers(p, p->nthreads);
    free(p->workers);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

static int start_workers(smar_pool *p, unsigned threads)
{
    if (!(p->workers = calloc(threads, sizeof *p->workers)))
        return SMAR_E_NOMEM;
    for (unsigned i = 0; i < threads; i++) {
        p->workers[i] = (worker){.pool = p, .index = i};
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0)
            return SMAR_E_NOMEM; /* the ones started are joined by smar_pool_free */
        p->nthreads = i + 1;
    }
    return SMAR_OK;
}

int smar_pool_new(smar_pool **out, unsigned threads, size_t depth, smar_pool_fn fn, void *ctx)
{
    smar_pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return SMAR_E_NOMEM;
    p->fn = fn;
    p->ctx = ctx;
    p->depth = depth ? depth : 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 0 && start_workers(p, threads) != SMAR_OK) {
        smar_pool_free(p);
        return SMAR_E_NOMEM;
    }
    *out = p;
    return SMAR_OK;
}

unsigned smar_pool_workers(const smar_pool *p)
{
    return p->nthreads ? p->nthreads : 1;
}

size_t smar_pool_pending(const smar_pool *p)
{
    return p->pending;
}

bool smar_pool_full(const smar_pool *p)
{
    return p->pending >= p->depth;
}

/* Caller holds the lock. */
static void append(smar_pool *p, smar_pool_job *job)
{
    job->next = NULL;
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->pending++;
}

/* Caller holds the lock; job is pending and not running. */
static void unlink_job(smar_pool *p, smar_pool_job *job)
{
    smar_pool_job *prev = NULL;
    for (smar_pool_job *j = p->head; j != job; j = j->next)
        prev = j;
    if (p->next_run == job)
        p->next_run = job->next;
    if (prev)
        prev->next = job->next;
    else
        p->head = job->next;
    if (p->tail == job)
        p->tail = prev;
    job->next = NULL;
    job->state = JOB_IDLE;
    p->pending--;
}

void smar_pool_submit(smar_pool *p, smar_pool_job *job)
{
    if (p->nthreads == 0) {
        p->fn(p->ctx, 0, job);
        job->state = JOB_DONE;
        append(p, job);
        return;
    }
    pthread_mutex_lock(&p->lock);
    append(p, job);
    job->state = JOB_QUEUED;
    if (!p->next_run)
        p->next_run = job;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
}

/* Caller holds the lock. */
static void wait_done(smar_pool *p, const smar_pool_job *job)
{
    while (job->state != JOB_DONE)
        pthread_cond_wait(&p->done, &p->lock);
}

smar_pool_job *smar_pool_take(smar_pool *p)
{
    pthread_mutex_lock(&p->lock);
    smar_pool_job *job = p->head;
    wait_done(p, job);
    unlink_job(p, job);
    pthread_mutex_unlock(&p->lock);
    return job;
}

void smar_pool_wait(smar_pool *p, smar_pool_job *job)
{
    pthread_mutex_lock(&p->lock);
    wait_done(p, job);
    unlink_job(p, job);
    pthread_mutex_unlock(&p->lock);
}

bool smar_pool_cancel(smar_pool *p, smar_pool_job *job)
{
    pthread_mutex_lock(&p->lock);
    bool withdrawn = job->state != JOB_RUNNING;
    if (withdrawn)
        unlink_job(p, job);
    pthread_mutex_unlock(&p->lock);
    return withdrawn;
}
