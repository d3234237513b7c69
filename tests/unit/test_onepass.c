/*
 * test_onepass.c - verify --key reads each byte of the archive once (issue 16).
 *
 * Keyed verify used to scan every chunk, then walk the manifest and read every payload
 * through the reader, then read the index: about twice the file. It now checks records,
 * payloads and the index from the chunks as the scan opens them. Counted by the fixture's
 * source (fx_bytes_read): every byte the reader asks of the archive, open included.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "archive_fixture.h"
#include "reader_internal.h"

static smar_keyring *new_key(const char *id)
{
    smar_keyring *kr;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, id), SMAR_OK);
    return kr;
}

typedef struct problems {
    size_t secret, payload_hash, chunk, index;
} problems;

static void count_problem(const smar_problem *p, void *payload)
{
    problems *c = payload;
    if (p->kind == SMAR_PROBLEM_SECRET)
        c->secret++;
    else if (p->kind == SMAR_PROBLEM_PAYLOAD_HASH)
        c->payload_hash++;
    else if (p->kind == SMAR_PROBLEM_INDEX)
        c->index++;
    else
        c->chunk++;
}

/* Open, unlock and verify a with the key and threads: the bytes read from open on. */
static uint64_t keyed_verify_reads(const mem_archive *a, smar_keyring *kr, unsigned threads,
                                   int want_rc, smar_verify_result *res, problems *probs)
{
    smar_reader *r;
    atomic_store(&fx_bytes_read, 0);
    assert_int_equal(fx_open_mem(&r, a->data, a->len), SMAR_OK);
    assert_int_equal(smar_reader_set_threads(r, threads), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    *res = (smar_verify_result)SMAR_VERIFY_RESULT_INIT;
    *probs = (problems){0};
    assert_int_equal(
        smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, res, count_problem, NULL, probs), want_rc);
    smar_reader_free(r);
    return atomic_load(&fx_bytes_read);
}

static void test_keyed_verify_reads_once(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_verify_result res;
    problems probs;
    const size_t n = 6000;
    /* small chunks: records and payloads cross chunk boundaries, sections interleave */
    assert_int_equal(fx_make_archive(&a, n, &kr, 1, NULL, 64 << 10), SMAR_OK);
    for (unsigned threads = 1; threads <= 3; threads++) {
        uint64_t read = keyed_verify_reads(&a, kr, threads, SMAR_OK, &res, &probs);
        print_message("threads %u: %llu bytes read of %zu\n", threads, (unsigned long long)read,
                      a.len);
        assert_true(read <= a.len + a.len / 20); /* at most 1.05x the file */
        assert_int_equal(res.secrets_checked, n);
        assert_int_equal(res.versions_checked, 2 * n);
        assert_int_equal(res.payloads_checked, 3 * n); /* two versions and the secret's own */
        assert_int_equal(res.secrets_bad, 0);
        assert_int_equal(res.index_ok, 1);
        assert_int_equal(probs.secret + probs.payload_hash + probs.chunk + probs.index, 0);
    }
    free(a.data);
    smar_keyring_free(kr);
}

/* A damaged payload chunk in the middle: reported as before (the chunk, then each secret
 * with a payload in it), still one read of each byte. */
static void test_keyed_verify_damaged_payload_chunk(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    smar_verify_result res[2];
    problems probs[2];
    assert_int_equal(fx_make_archive(&a, 6000, &kr, 1, NULL, 64 << 10), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    uint32_t victim = r->section_chunks[SMAR_SEC_PAYLOAD][r->counts[SMAR_SEC_PAYLOAD] / 2];
    a.data[r->table[victim].offset + r->table[victim].stored_len / 2] ^= 0x40;
    smar_reader_free(r);
    for (unsigned threads = 1; threads <= 2; threads++) {
        uint64_t read = keyed_verify_reads(&a, kr, threads, SMAR_E_CORRUPT, &res[threads - 1],
                                           &probs[threads - 1]);
        assert_true(read <= a.len + a.len / 20);
        assert_int_equal(res[threads - 1].chunks_bad, 1);
        assert_int_equal(probs[threads - 1].chunk, 1);
        assert_true(probs[threads - 1].secret > 0); /* payloads in the damaged chunk */
        assert_int_equal(probs[threads - 1].payload_hash, 0);
        /* each payload in it is named: a secret may have several */
        assert_true(res[threads - 1].secrets_bad > 0);
        assert_true(res[threads - 1].secrets_bad <= probs[threads - 1].secret);
        print_message("threads %u: %llu bytes read of %zu; %zu secret problems, %llu secrets bad\n",
                      threads, (unsigned long long)read, a.len, probs[threads - 1].secret,
                      (unsigned long long)res[threads - 1].secrets_bad);
        assert_int_equal(res[threads - 1].index_ok, 1);
    }
    /* the same findings whatever the threads */
    assert_memory_equal(&probs[0], &probs[1], sizeof probs[0]);
    assert_int_equal(res[0].secrets_bad, res[1].secrets_bad);
    assert_int_equal(res[0].payloads_checked, res[1].payloads_checked);
    free(a.data);
    smar_keyring_free(kr);
}

/* Every problem as one line, in the order reported. */
static void log_problem(const smar_problem *p, void *payload)
{
    smar_buf *log = payload;
    assert_int_equal(smar_buf_printf(log, "%d %llu %d %s %s %s\n", (int)p->kind,
                                     (unsigned long long)p->chunk, p->section,
                                     p->secret_id ? p->secret_id : "-",
                                     p->version_id ? p->version_id : "-", p->detail),
                     SMAR_OK);
}

static void keyed_verify_log(const mem_archive *a, smar_keyring *kr, unsigned threads,
                             smar_verify_result *res, smar_buf *log)
{
    smar_reader *r;
    assert_int_equal(fx_open_mem(&r, a->data, a->len), SMAR_OK);
    assert_int_equal(smar_reader_set_threads(r, threads), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    *res = (smar_verify_result)SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, res, log_problem, NULL, log),
                     SMAR_E_CORRUPT);
    smar_reader_free(r);
}

/* The per-secret checks run on worker threads: the problems, their order and the counts
 * are the same whatever the threads. A secret's own payload, stored as its latest
 * version's record, is decoded and hashed once yet named for both when its chunk is
 * damaged: as many problems without a version as there are secrets bad. */
static void test_keyed_verify_same_report_any_threads(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    smar_verify_result res[3];
    smar_buf log[3] = {{0}};
    assert_int_equal(fx_make_archive(&a, 6000, &kr, 1, NULL, 64 << 10), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    uint32_t victim = r->section_chunks[SMAR_SEC_PAYLOAD][r->counts[SMAR_SEC_PAYLOAD] / 3];
    a.data[r->table[victim].offset + r->table[victim].stored_len / 2] ^= 0x40;
    smar_reader_free(r);
    for (unsigned t = 0; t < 3; t++) {
        keyed_verify_log(&a, kr, t + 1, &res[t], &log[t]);
        assert_int_equal(smar_buf_put_u8(&log[t], 0), SMAR_OK);
        assert_int_equal(res[t].secrets_checked, 6000);
        assert_int_equal(res[t].payloads_checked, res[0].payloads_checked);
        assert_int_equal(res[t].secrets_bad, res[0].secrets_bad);
        assert_string_equal((const char *)log[t].data, (const char *)log[0].data);
    }
    size_t own = 0, lines = 0;
    for (const char *l = (const char *)log[0].data; (l = strchr(l, '\n')); l++)
        lines++;
    for (const char *l = (const char *)log[0].data; (l = strstr(l, " - payload lies")); l++)
        own++;
    print_message("%zu problems, %zu for a secret's own payload, %llu secrets bad\n", lines, own,
                  (unsigned long long)res[0].secrets_bad);
    assert_true(res[0].secrets_bad > 0);
    assert_true(own > 0);
    assert_true(lines > own);
    for (unsigned t = 0; t < 3; t++)
        smar_buf_free(&log[t]);
    free(a.data);
    smar_keyring_free(kr);
}

int main(void)
{
    if (smar_init() != SMAR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_verify_reads_once),
        cmocka_unit_test(test_keyed_verify_damaged_payload_chunk),
        cmocka_unit_test(test_keyed_verify_same_report_any_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
