/*
 * test_pool.c - the worker pool (libsmar/io/pool.h): jobs back in submission order,
 * inline running without threads, waiting for and withdrawing single jobs, stopping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "pool.h"

typedef struct job {
    smar_pool_job job;
    unsigned n;
    unsigned worker;
    unsigned long square;
    pthread_t thread;
    atomic_bool ran;
} job;

typedef struct ctx {
    unsigned workers;
    atomic_bool started;   /* a gated job is running */
    atomic_bool open_gate; /* gated jobs may finish */
    atomic_bool bad_worker;
} ctx;

/* Earlier jobs take longer, so they finish out of order. */
static void square_job(void *c, unsigned worker, smar_pool_job *pj)
{
    ctx *x = c;
    job *j = SMAR_POOL_ENTRY(pj, job, job);
    if (worker >= x->workers)
        atomic_store(&x->bad_worker, true);
    usleep((useconds_t)((7 - j->n % 8) * 100));
    j->worker = worker;
    j->square = (unsigned long)j->n * j->n;
    j->thread = pthread_self();
    atomic_store(&j->ran, true);
}

/* Job 0 waits at the gate; the others run at once. */
static void gated_job(void *c, unsigned worker, smar_pool_job *pj)
{
    ctx *x = c;
    job *j = SMAR_POOL_ENTRY(pj, job, job);
    (void)worker;
    if (j->n == 0) {
        atomic_store(&x->started, true);
        while (!atomic_load(&x->open_gate))
            usleep(100);
    }
    atomic_store(&j->ran, true);
}

static void wait_started(ctx *x)
{
    while (!atomic_load(&x->started))
        usleep(100);
}

static void test_take_in_submission_order(void **state)
{
    (void)state;
    enum { N = 300, DEPTH = 8 };
    for (unsigned threads = 1; threads <= 4; threads++) {
        ctx x = {.workers = threads};
        job jobs[DEPTH] = {0};
        smar_pool *p;
        unsigned next_back = 0;
        assert_int_equal(smar_pool_new(&p, threads, DEPTH, square_job, &x), SMAR_OK);
        assert_int_equal(smar_pool_workers(p), threads);
        for (unsigned n = 0; n < N + DEPTH; n++) {
            if (smar_pool_full(p) || (n >= N && smar_pool_pending(p) > 0)) {
                job *j = SMAR_POOL_ENTRY(smar_pool_take(p), job, job);
                assert_int_equal(j->n, next_back);
                assert_int_equal(j->square, (unsigned long)next_back * next_back);
                next_back++;
            }
            if (n < N) {
                job *j = &jobs[n % DEPTH];
                j->n = n;
                smar_pool_submit(p, &j->job);
                assert_true(smar_pool_pending(p) <= DEPTH);
            }
        }
        while (smar_pool_pending(p) > 0) {
            job *j = SMAR_POOL_ENTRY(smar_pool_take(p), job, job);
            assert_int_equal(j->n, next_back++);
        }
        assert_int_equal(next_back, N);
        assert_false(atomic_load(&x.bad_worker));
        smar_pool_free(p);
    }
}

/* No threads: each job runs inside smar_pool_submit, on the caller's thread, as worker 0. */
static void test_no_threads_runs_inline(void **state)
{
    (void)state;
    ctx x = {.workers = 1};
    job j = {.n = 5};
    smar_pool *p;
    assert_int_equal(smar_pool_new(&p, 0, 1, square_job, &x), SMAR_OK);
    assert_int_equal(smar_pool_workers(p), 1);
    smar_pool_submit(p, &j.job);
    assert_true(atomic_load(&j.ran));
    assert_true(pthread_equal(j.thread, pthread_self()));
    assert_int_equal(j.worker, 0);
    assert_true(smar_pool_full(p));
    assert_ptr_equal(smar_pool_take(p), &j.job);
    assert_int_equal(j.square, 25);
    assert_int_equal(smar_pool_pending(p), 0);
    smar_pool_free(p);
}

/* One job at a time: a queued job can be withdrawn and never runs, a running one cannot;
 * a later job can be waited for before an earlier one is taken. */
static void test_wait_and_cancel(void **state)
{
    (void)state;
    ctx x = {.workers = 1};
    job jobs[4] = {{.n = 0}, {.n = 1}, {.n = 2}, {.n = 3}};
    smar_pool *p;
    assert_int_equal(smar_pool_new(&p, 1, 4, gated_job, &x), SMAR_OK);
    for (int i = 0; i < 4; i++)
        smar_pool_submit(p, &jobs[i].job);
    wait_started(&x);
    assert_false(smar_pool_cancel(p, &jobs[0].job)); /* running */
    assert_true(smar_pool_cancel(p, &jobs[1].job));  /* queued: withdrawn */
    assert_true(smar_pool_cancel(p, &jobs[3].job));  /* the last one too */
    assert_int_equal(smar_pool_pending(p), 2);
    atomic_store(&x.open_gate, true);
    smar_pool_wait(p, &jobs[2].job); /* runs after job 0 */
    assert_true(atomic_load(&jobs[0].ran));
    assert_true(atomic_load(&jobs[2].ran));
    assert_int_equal(smar_pool_pending(p), 1);
    assert_ptr_equal(smar_pool_take(p), &jobs[0].job);
    assert_int_equal(smar_pool_pending(p), 0);
    assert_false(atomic_load(&jobs[1].ran));
    assert_false(atomic_load(&jobs[3].ran));
    /* a withdrawn job can be submitted again */
    smar_pool_submit(p, &jobs[1].job);
    assert_ptr_equal(smar_pool_take(p), &jobs[1].job);
    assert_true(atomic_load(&jobs[1].ran));
    smar_pool_free(p);
}

static void *open_gate_later(void *arg)
{
    ctx *x = arg;
    usleep(200 * 1000); /* smar_pool_free has asked the workers to stop by then */
    atomic_store(&x->open_gate, true);
    return NULL;
}

/* Freeing the pool finishes the running job and drops the queued ones. */
static void test_free_drops_queued_jobs(void **state)
{
    (void)state;
    ctx x = {.workers = 1};
    job jobs[3] = {{.n = 0}, {.n = 1}, {.n = 2}};
    smar_pool *p;
    assert_int_equal(smar_pool_new(&p, 1, 3, gated_job, &x), SMAR_OK);
    for (int i = 0; i < 3; i++)
        smar_pool_submit(p, &jobs[i].job);
    wait_started(&x);
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &x), 0);
    smar_pool_free(p);
    pthread_join(opener, NULL);
    assert_true(atomic_load(&jobs[0].ran));
    assert_false(atomic_load(&jobs[1].ran));
    assert_false(atomic_load(&jobs[2].ran));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_in_submission_order),
        cmocka_unit_test(test_no_threads_runs_inline),
        cmocka_unit_test(test_wait_and_cancel),
        cmocka_unit_test(test_free_drops_queued_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
