/*
 * test_archive.c - writing and reading archives: round trips, lookups, point in time,
 * keys, rotation, several slots, signatures.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "archive_fixture.h"
#include "manifest.h"
#include "reader_internal.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static smar_keyring *new_key(const char *id)
{
    smar_keyring *kr;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, id), SMAR_OK);
    return kr;
}

static int count_cb(smar_reader *r, const smar_secret *s, void *p)
{
    (void)r;
    (void)s;
    (*(size_t *)p)++;
    return 0;
}

static void expect_payload(smar_reader *r, const smar_secret *s, const smar_version *v,
                           const char *want)
{
    char *p;
    size_t n;
    assert_int_equal(smar_reader_read_payload(r, s, v, &p, &n), SMAR_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
    smar_secret_buffer_free(p, n);
}

static void round_trip(size_t n, uint32_t chunk_size)
{
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    size_t count = 0;
    char want[128];
    assert_int_equal(fx_make_archive(&a, n, &kr, 1, NULL, chunk_size), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    smar_snapshot_info si = SMAR_SNAPSHOT_INFO_INIT;
    assert_int_equal(smar_reader_snapshot(r, &si), SMAR_OK);
    assert_int_equal(si.secret_count, n);
    assert_int_equal(si.version_count, 2 * n);
    assert_int_equal(smar_reader_foreach(r, count_cb, &count), SMAR_OK);
    assert_int_equal(count, n);
    /* every tenth secret by id, with both versions' payloads and the secret's own */
    for (size_t i = 0; i < n; i += (n > 100 ? 97 : 1)) {
        char id[64];
        smar_secret *s;
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zx", i);
        assert_int_equal(smar_reader_find_id(r, id, &s), SMAR_OK);
        assert_string_equal(smar_secret_id(s), id);
        assert_int_equal(smar_secret_version_count(s), 2);
        snprintf(want, sizeof want, "{\"payload\":\"value-%zu-1\"}", i);
        expect_payload(r, s, smar_secret_version(s, 0), want);
        snprintf(want, sizeof want, "{\"payload\":\"value-%zu-2\"}", i);
        expect_payload(r, s, smar_secret_version(s, 1), want);
        expect_payload(r, s, NULL, want);
        smar_secret_free(s);
    }
    smar_secret *missing;
    assert_int_equal(smar_reader_find_id(r, "no-such-id", &missing), SMAR_E_NOTFOUND);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

static void test_round_trip_empty(void **state)
{
    (void)state;
    round_trip(0, 0);
}

static void test_round_trip_one(void **state)
{
    (void)state;
    round_trip(1, 0);
}

static void test_round_trip_10000_small_chunks(void **state)
{
    (void)state;
    round_trip(10000, 64 << 10); /* many chunks in every section, records across chunks */
}

/* Sealing on worker threads gives an archive with the same content, chunks in order. */
static void test_round_trip_threads(void **state)
{
    (void)state;
    fx_writer_threads = 4;
    round_trip(10000, 64 << 10);
    fx_writer_threads = 3;
    round_trip(1, 0);
    fx_writer_threads = 0;
}

/* Adds n fx secrets with secret #bad (1-based) broken, on `threads`; returns the first
 * failing status and the call that returned it (0: finish). */
static int add_with_bad(unsigned threads, size_t n, size_t bad, const char *broken,
                        size_t *failing_call, uint64_t *failed, char *msg, size_t msgcap)
{
    smar_keyring *kr = new_key("rk-test");
    smar_writer *w;
    mem_archive a = {0};
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    char buf[1024];
    o.snapshot_time = 1780000000000000000LL;
    o.threads = threads;
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, &a), SMAR_OK);
    int rc = SMAR_OK;
    *failing_call = 0;
    for (size_t i = 1; i <= n && rc == SMAR_OK; i++) {
        const char *json = i == bad ? broken : fx_secret_json(buf, sizeof buf, i - 1);
        if ((rc = smar_writer_add_secret(w, json, strlen(json))) != SMAR_OK)
            *failing_call = i;
    }
    if (rc == SMAR_OK)
        rc = smar_writer_finish(w);
    *failed = smar_writer_failed_secret(w);
    snprintf(msg, msgcap, "%s", smar_writer_error(w));
    smar_writer_free(w);
    smar_keyring_free(kr);
    free(a.data);
    return rc;
}

/* With split workers an error about a secret may come from a later call or from finish,
 * but smar_writer_failed_secret names the secret, and the message is the one a single
 * thread gives. */
static void test_deferred_secret_error_is_attributed(void **state)
{
    (void)state;
    static const char *const broken[] = {
        "{\"id\":\"bad-1\",\"secret_type\":\"arbitrary\",\"created_at\":\"yesterday\"}",
        "{\"id\":\"00000000-0000-4000-8000-000000000000\",\"secret_type\":\"arbitrary\"}",
        "{\"id\":\"bad-3\",\"secret_type\":\"arbitrary\",\"versions\":[{\"id\":\"v\"}]}",
        "[1,2,3]",
    };
    static const size_t where[] = {1, 2, 37, 500, 999, 1000};
    char msg1[512], msgn[512];
    for (size_t b = 0; b < NELEMS(broken); b++) {
        for (size_t k = 0; k < NELEMS(where); k++) {
            size_t bad = where[k], call1, calln;
            uint64_t failed1, failedn;
            /* broken[1] repeats the id of fx secret 0: a duplicate only after it */
            int rc1 = add_with_bad(1, 1000, bad, broken[b], &call1, &failed1, msg1, sizeof msg1);
            if (b == 1 && bad == 1) {
                assert_int_equal(rc1, SMAR_OK);
                continue;
            }
            assert_int_equal(rc1, SMAR_E_INPUT);
            assert_int_equal(call1, bad); /* one thread: at once */
            assert_int_equal(failed1, bad);
            for (unsigned threads = 2; threads <= 8; threads *= 2) {
                int rcn = add_with_bad(threads, 1000, bad, broken[b], &calln, &failedn, msgn,
                                       sizeof msgn);
                assert_int_equal(rcn, rc1);
                assert_true(calln == 0 || calln >= bad); /* later, or finish */
                assert_true(calln == 0 || calln - bad < SMAR_WRITER_MAX_IN_FLIGHT);
                assert_int_equal(failedn, bad);
                assert_string_equal(msgn, msg1);
            }
        }
    }
}

/* Every payload of every secret, read in archive order (what a full extract does). */
typedef struct payload_walk {
    size_t seen;
    int rc;
} payload_walk;

static int check_payloads_cb(smar_reader *r, const smar_secret *s, void *p)
{
    payload_walk *w = p;
    char want[128];
    const char *id = smar_secret_id(s);
    size_t i = (size_t)strtoull(id + strlen(id) - 12, NULL, 16);
    for (size_t v = 0; v < 2; v++) {
        char *got;
        size_t n;
        int rc = smar_reader_read_payload(r, s, smar_secret_version(s, v), &got, &n);
        if (rc != SMAR_OK) {
            w->rc = rc; /* a status goes in the payload: callbacks return stop values */
            return SMAR_STOP;
        }
        snprintf(want, sizeof want, "{\"payload\":\"value-%zu-%zu\"}", i, v + 1);
        if (n != strlen(want) || memcmp(got, want, n) != 0)
            fail_msg("secret %s version %zu: wrong payload", id, v + 1);
        smar_secret_buffer_free(got, n);
    }
    w->seen++;
    return 0;
}

/* Reads the first secret's payload, then stops the walk with 1. */
static int first_payload_cb(smar_reader *r, const smar_secret *s, void *p)
{
    (void)p;
    char *got = NULL;
    size_t n = 0;
    assert_int_equal(smar_reader_read_payload(r, s, smar_secret_version(s, 0), &got, &n), SMAR_OK);
    smar_secret_buffer_free(got, n);
    return 1;
}

/* With reader threads, the chunks read in order are opened ahead on workers: the same
 * payloads come back, and a damaged chunk met that way still fails with its own error. */
static void test_read_ahead(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 5000, &kr, 1, NULL, 64 << 10), SMAR_OK);
    for (unsigned threads = 1; threads <= 8; threads *= 2) {
        payload_walk w = {0, 0};
        assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
        assert_int_equal(smar_reader_set_threads(r, threads), SMAR_OK);
        assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
        assert_int_equal(smar_reader_foreach(r, check_payloads_cb, &w), SMAR_OK);
        assert_int_equal(w.seen, 5000);
        smar_reader_free(r);
    }
    /* damage the stored bytes of the last payload chunk: reading in order must report
     * exactly that chunk as damaged (its bytes no longer match the authenticated table),
     * and the handle must stay usable for the intact chunks (salvage) */
    uint8_t *copy = malloc(a.len);
    memcpy(copy, a.data, a.len);
    /* the last payload chunk: find it through the reader's own table */
    {
        smar_reader *rr;
        assert_int_equal(fx_open_mem(&rr, a.data, a.len), SMAR_OK);
        const uint32_t *chunks = rr->section_chunks[SMAR_SECTION_PAYLOAD];
        uint32_t last = chunks[rr->counts[SMAR_SECTION_PAYLOAD] - 1];
        copy[rr->table[last].offset + rr->table[last].stored_len / 2] ^= 0x40;
        smar_reader_free(rr);
    }
    payload_walk w = {0, 0};
    assert_int_equal(fx_open_mem(&r, copy, a.len), SMAR_OK);
    assert_int_equal(smar_reader_set_threads(r, 4), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    assert_int_equal(smar_reader_foreach(r, check_payloads_cb, &w), SMAR_STOP);
    assert_int_equal(w.rc, SMAR_E_CORRUPT);
    assert_true(w.seen > 0 && w.seen < 5000);
    assert_non_null(strstr(smar_reader_error(r), "is damaged"));
    assert_int_equal(smar_reader_foreach(r, first_payload_cb, NULL), 1);
    smar_reader_free(r);
    free(copy);
    smar_keyring_free(kr);
    free(a.data);
}

/* Walk an archive of n fx secrets (64 KiB chunks, one reader thread) with cb, and check
 * that the walk read exactly the stored bytes of the sections in [first, last] once each. */
static void walk_reads_sections_once(size_t n, smar_secret_cb cb, void *payload, int first,
                                     int last)
{
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, n, &kr, 1, NULL, 64 << 10), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_set_threads(r, 1), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    uint64_t want = 0;
    for (int section = first; section <= last; section++) {
        assert_true(r->counts[section] > 10); /* records and payloads do cross chunks */
        for (uint32_t i = 0; i < r->counts[section]; i++)
            want += r->table[r->section_chunks[section][i]].stored_len;
    }
    atomic_store(&fx_bytes_read, 0);
    assert_int_equal(smar_reader_foreach(r, cb, payload), SMAR_OK);
    assert_int_equal(atomic_load(&fx_bytes_read), want);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

/* Regression: a walk over the manifest used to decrypt a chunk again (twice per chunk
 * boundary) to step over a record that ended in it, after the one-chunk cache had moved
 * on: a full extract read the manifest about six times. Each chunk is read once now. */
static void test_walk_reads_each_manifest_chunk_once(void **state)
{
    (void)state;
    size_t count = 0;
    walk_reads_sections_once(5000, count_cb, &count, SMAR_SECTION_MANIFEST, SMAR_SECTION_MANIFEST);
    assert_int_equal(count, 5000);
}

/* Rendering order: the secret's own (current) payload, then its versions oldest first. */
static int render_order_cb(smar_reader *r, const smar_secret *s, void *p)
{
    (void)p;
    const smar_version *order[3] = {NULL, smar_secret_version(s, 0), smar_secret_version(s, 1)};
    for (size_t k = 0; k < 3; k++) {
        char *got;
        size_t n;
        assert_int_equal(smar_reader_read_payload(r, s, order[k], &got, &n), SMAR_OK);
        smar_secret_buffer_free(got, n);
    }
    return 0;
}

/* Regression: reading a secret's current payload and then its older versions' payloads
 * goes back across a chunk boundary whenever they straddle one; with a one-chunk cache
 * each such pair of chunks was read again (a full extract of 1 GB of payload read the
 * payload section about twice). The manifest and the payloads are each read once now. */
static void test_render_order_reads_each_chunk_once(void **state)
{
    (void)state;
    walk_reads_sections_once(20000, render_order_cb, NULL, SMAR_SECTION_PAYLOAD,
                             SMAR_SECTION_MANIFEST);
}

static int name_cb(smar_reader *r, const smar_secret *s, void *p)
{
    (void)r;
    *(char **)p = strdup(smar_secret_id(s));
    return 0;
}

/* A secret callback returning what its payload says. */
static int return_cb(smar_reader *r, const smar_secret *s, void *p)
{
    (void)r;
    (void)s;
    return *(const int *)p;
}

/* Callbacks return 0 or a positive stop value, which the call returns; a negative return
 * (a status code) is refused with SMAR_E_INVALID, so a stop never looks like SMAR_E_IO,
 * and the reader stays usable. Every iterating call: foreach, find_name, select by id
 * (through the index) and by type (a walk). */
static void test_callback_stop_values(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 5, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    const char *ids[] = {"00000000-0000-4000-8000-000000000003"};
    const char *types[] = {"arbitrary"};
    smar_selection by_id = {.ids = ids, .nids = 1}, by_type = {.types = types, .ntypes = 1};
    int status = SMAR_E_IO, stop = 7;

    assert_int_equal(smar_reader_foreach(r, return_cb, &status), SMAR_E_INVALID);
    assert_non_null(strstr(smar_reader_error(r), "callback returned a status code"));
    assert_int_equal(smar_reader_foreach(r, return_cb, &stop), 7);
    assert_int_equal(smar_reader_find_name(r, "secret-3", NULL, return_cb, &status),
                     SMAR_E_INVALID);
    assert_int_equal(smar_reader_find_name(r, "secret-3", NULL, return_cb, &stop), 7);
    assert_int_equal(smar_reader_select(r, &by_id, return_cb, &status), SMAR_E_INVALID);
    assert_int_equal(smar_reader_select(r, &by_id, return_cb, &stop), 7);
    assert_int_equal(smar_reader_select(r, &by_type, return_cb, &status), SMAR_E_INVALID);
    assert_int_equal(smar_reader_select(r, &by_type, return_cb, &stop), 7);
    smar_secret *s;
    assert_int_equal(smar_reader_find_id(r, ids[0], &s), SMAR_OK); /* still usable */
    smar_secret_free(s);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

static void test_find_by_name_and_time(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    char *id = NULL;
    assert_int_equal(fx_make_archive(&a, 50, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    assert_int_equal(smar_reader_find_name(r, "secret-42", NULL, name_cb, &id), SMAR_OK);
    assert_non_null(id);
    assert_string_equal(id, "00000000-0000-4000-8000-00000000002a");
    free(id);
    id = NULL;
    assert_int_equal(smar_reader_find_name(r, "secret-42", "kv", name_cb, &id), SMAR_OK);
    assert_null(id); /* names are unique per type only */

    smar_secret *s;
    smar_time_ns t;
    assert_int_equal(smar_reader_find_id(r, "00000000-0000-4000-8000-000000000003", &s), SMAR_OK);
    assert_int_equal(smar_time_parse("2025-12-31", 10, 1, &t), SMAR_OK);
    assert_null(smar_secret_version_at(s, t));
    assert_int_equal(smar_time_parse("2026-02-01T00:00:00.4Z", 22, 0, &t), SMAR_OK);
    assert_string_equal(smar_version_id(smar_secret_version_at(s, t)), "v1-3");
    assert_int_equal(smar_time_parse("2026-02-01T00:00:00.5Z", 22, 0, &t), SMAR_OK);
    assert_string_equal(smar_version_id(smar_secret_version_at(s, t)), "v2-3");
    assert_int_equal(smar_secret_label_count(s), 1);
    assert_string_equal(smar_secret_label(s, 0), "l3");
    smar_secret_free(s);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

/* Values come back byte for byte: escapes, big numbers, NUL, unicode, empty payloads. */
static void test_exact_values_and_render(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    smar_writer *w;
    mem_archive a = {0};
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = 0;
    const char *secret =
        "{\"id\":\"s1\",\"name\":\"datenbank-passw\\u00f6rt \xe5\xaf\x86\\u7801\","
        "\"secret_type\":\"arbitrary\",\"custom_metadata\":{\"big\":12345678901234567890,"
        "\"f\":0.1000000000000000055511151231257827},"
        "\"payload\":\"\\u0000bin\\u00e9e\\u0301\\ud83d\\ude00\","
        "\"versions\":[{\"id\":\"v1\",\"created_at\":\"2026-01-01T00:00:00Z\","
        "\"payload\":\"\"},{\"id\":\"v2\",\"created_at\":\"2026-03-01T00:00:00.143896Z\","
        "\"payload\":\"\\u0000bin\\u00e9e\\u0301\\ud83d\\ude00\"}]}";
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, &a), SMAR_OK);
    assert_int_equal(smar_writer_add_secret(w, secret, strlen(secret)), SMAR_OK);
    assert_int_equal(smar_writer_finish(w), SMAR_OK);
    smar_writer_free(w);

    smar_reader *r;
    smar_secret *s;
    char *out;
    size_t n;
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    assert_int_equal(smar_reader_find_id(r, "s1", &s), SMAR_OK);
    assert_string_equal(smar_secret_name(s), "datenbank-passw\xc3\xb6rt \xe5\xaf\x86\xe7\xa0\x81");
    expect_payload(r, s, smar_secret_version(s, 0), "{\"payload\":\"\"}");
    assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &out, &n), SMAR_OK);
    const char *want =
        "{\"id\":\"s1\",\"name\":\"datenbank-passw\\u00f6rt \xe5\xaf\x86\\u7801\","
        "\"secret_type\":\"arbitrary\",\"custom_metadata\":{\"big\":12345678901234567890,"
        "\"f\":0.1000000000000000055511151231257827},"
        "\"payload\":\"\\u0000bin\\u00e9e\\u0301\\ud83d\\ude00\","
        "\"versions\":[{\"id\":\"v1\",\"created_at\":\"2026-01-01T00:00:00Z\","
        "\"payload\":\"\"},{\"id\":\"v2\",\"created_at\":\"2026-03-01T00:00:00.143896Z\","
        "\"payload\":\"\\u0000bin\\u00e9e\\u0301\\ud83d\\ude00\"}]}";
    assert_string_equal(out, want);
    smar_secret_buffer_free(out, n);
    /* the name index finds the decoded unicode name */
    char *id = NULL;
    assert_int_equal(smar_reader_find_name(r, "datenbank-passw\xc3\xb6rt \xe5\xaf\x86\xe7\xa0\x81",
                                           NULL, name_cb, &id),
                     SMAR_OK);
    assert_non_null(id);
    free(id);
    smar_secret_free(s);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

static void test_wrong_key_refused(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    smar_keyring *other_id = new_key("rk-other");
    smar_keyring *same_id = new_key("rk-test"); /* same id, other material */
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 3, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, other_id), SMAR_E_KEY);
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &a, same_id), SMAR_E_AUTH);
    smar_secret *s;
    assert_int_equal(smar_reader_find_id(r, "x", &s), SMAR_E_INVALID); /* dead handle */
    smar_reader_free(r);
    smar_keyring_free(kr);
    smar_keyring_free(other_id);
    smar_keyring_free(same_id);
    free(a.data);
}

/* Unlocking borrows a DEK slot of one locked block (64 slots) and returns it wiped, also
 * when the unlock fails; more readers unlocking at once than there are slots get blocks of
 * their own. Every reader still opens, and failed unlocks do not use slots up. */
static void test_more_readers_unlocked_than_dek_slots(void **state)
{
    (void)state;
    enum { READERS = 70, ROUNDS = 150 };
    smar_keyring *kr = new_key("rk-test");
    smar_keyring *same_id = new_key("rk-test"); /* same id, other material */
    mem_archive a;
    smar_reader *r[READERS];
    assert_int_equal(fx_make_archive(&a, 3, &kr, 1, NULL, 0), SMAR_OK);
    for (size_t i = 0; i < READERS; i++)
        assert_int_equal(fx_open_unlocked(&r[i], &a, kr), SMAR_OK);
    for (size_t i = 0; i < READERS; i++) {
        smar_secret *s = NULL;
        assert_int_equal(smar_reader_find_id(r[i], "00000000-0000-4000-8000-000000000001", &s),
                         SMAR_OK);
        smar_secret_free(s);
        smar_reader_free(r[i]);
    }
    for (size_t i = 0; i < ROUNDS; i++) {
        smar_reader *bad, *good;
        assert_int_equal(fx_open_unlocked(&bad, &a, same_id), SMAR_E_AUTH);
        assert_int_equal(fx_open_unlocked(&good, &a, kr), SMAR_OK);
        smar_reader_free(bad);
        smar_reader_free(good);
    }
    smar_keyring_free(kr);
    smar_keyring_free(same_id);
    free(a.data);
}

static void test_rotated_keyring_still_opens(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a, b;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 3, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    assert_int_equal(smar_keyring_current_version(kr), 2);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK); /* made with version 1 */
    smar_reader_free(r);
    assert_int_equal(fx_make_archive(&b, 3, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, b.data, b.len), SMAR_OK);
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_int_equal(si.key_version, 2);
    assert_string_equal(si.key_id, "rk-test");
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
    free(b.data);
}

/* The structs the reader fills carry a version the caller sets (SMAR_*_INIT): an unknown
 * one is refused with SMAR_E_INVALID and a message naming the struct, and nothing is
 * written into it. */
static void test_filled_structs_versioned(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 2, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);

    smar_archive_info info = {.version = 0};
    assert_int_equal(smar_reader_info(r, &info), SMAR_E_INVALID);
    assert_non_null(strstr(smar_reader_error(r), "smar_archive_info"));
    assert_int_equal(info.slot_count, 0);
    info.version = SMAR_ARCHIVE_INFO_VERSION + 1;
    assert_int_equal(smar_reader_info(r, &info), SMAR_E_INVALID);
    smar_slot_info slot = {.version = 0};
    assert_int_equal(smar_reader_slot(r, 0, &slot), SMAR_E_INVALID);
    assert_null(slot.key_id);
    smar_snapshot_info snap = {.version = 0};
    assert_int_equal(smar_reader_snapshot(r, &snap), SMAR_E_INVALID);
    assert_int_equal(snap.secret_count, 0);
    smar_verify_result res = {.version = 0};
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_E_INVALID);
    assert_int_equal(res.chunks_checked, 0);

    smar_archive_info good = SMAR_ARCHIVE_INFO_INIT;
    assert_int_equal(smar_reader_info(r, &good), SMAR_OK);
    assert_int_equal(good.version, SMAR_ARCHIVE_INFO_VERSION);
    assert_int_equal(good.slot_count, 1);
    smar_snapshot_info good_snap = SMAR_SNAPSHOT_INFO_INIT;
    assert_int_equal(smar_reader_snapshot(r, &good_snap), SMAR_OK);
    assert_int_equal(good_snap.secret_count, 2);
    smar_verify_result good_res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(smar_reader_verify(r, 0, NULL, &good_res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(good_res.version, SMAR_VERIFY_RESULT_VERSION);
    assert_true(good_res.root_ok);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);
}

static void test_two_slots_each_opens(void **state)
{
    (void)state;
    smar_keyring *keys[2] = {new_key("rk-primary"), new_key("rk-dr")};
    mem_archive a;
    smar_reader *r;
    assert_int_equal(fx_make_archive(&a, 5, keys, 2, NULL, 0), SMAR_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(fx_open_unlocked(&r, &a, keys[k]), SMAR_OK);
        smar_secret *s;
        assert_int_equal(smar_reader_find_id(r, "00000000-0000-4000-8000-000000000004", &s),
                         SMAR_OK);
        smar_secret_free(s);
        smar_reader_free(r);
    }
    smar_keyring_free(keys[0]);
    smar_keyring_free(keys[1]);
    free(a.data);
}

static void test_signature(void **state)
{
    (void)state;
    smar_keyring *kr = new_key("rk-test");
    smar_signkey *sk, *other;
    uint8_t pk[32], other_pk[32];
    mem_archive a;
    smar_reader *r;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(smar_signkey_new(&sk), SMAR_OK);
    assert_int_equal(smar_signkey_generate(sk), SMAR_OK);
    assert_int_equal(smar_signkey_new(&other), SMAR_OK);
    assert_int_equal(smar_signkey_generate(other), SMAR_OK);
    smar_signkey_public(sk, pk);
    smar_signkey_public(other, other_pk);
    assert_int_equal(fx_make_archive(&a, 4, &kr, 1, sk, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, pk, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.signature, 1);
    assert_true(res.root_ok);
    assert_int_equal(res.chunks_bad, 0);
    assert_int_equal(smar_reader_verify(r, 0, other_pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    assert_int_equal(res.signature, -1);
    assert_int_equal(smar_reader_verify(r, 0, NULL, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.signature, 2);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, pk, &res, NULL, NULL, NULL), SMAR_OK);
    assert_int_equal(res.secrets_checked, 4);
    assert_int_equal(res.payloads_checked, 12); /* two versions and the secret's own */
    smar_reader_free(r);
    free(a.data);
    /* an unsigned archive fails when a public key is required */
    assert_int_equal(fx_make_archive(&a, 1, &kr, 1, NULL, 0), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, pk, &res, NULL, NULL, NULL), SMAR_E_AUTH);
    smar_reader_free(r);
    free(a.data);
    smar_signkey_free(sk);
    smar_signkey_free(other);
    smar_keyring_free(kr);
}

static void test_bad_secrets_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int rc;
        const char *msg;
    } cases[] = {
        {"{\"name\":\"x\",\"secret_type\":\"arbitrary\"}", SMAR_E_INPUT, "no \"id\""},
        {"{\"id\":\"a\",\"name\":\"x\"}", SMAR_E_INPUT, "no \"secret_type\""},
        {"{\"id\":\"a\",\"secret_type\":\"kv\",\"versions\":[{\"id\":\"v\",\"secret_id\":\"b\","
         "\"created_at\":\"2026-01-01T00:00:00Z\"}]}",
         SMAR_E_INPUT, "names another secret"},
        {"{\"id\":\"a\",\"secret_type\":\"kv\",\"created_at\":\"yesterday\"}", SMAR_E_INPUT,
         "RFC 3339"},
        {"{\"id\":\"a\",\"secret_type\":\"kv\",\"versions\":[{\"id\":\"v\",\"created_at\":"
         "\"2026-01-01 00:00:00\"}]}",
         SMAR_E_INPUT, "RFC 3339"},
        {"{\"id\":\"a\",\"secret_type\":\"kv\",", SMAR_E_INPUT, "not valid JSON"},
        {"[1,2]", SMAR_E_INPUT, "not a JSON object"},
        {"{\"id\":\"a b\",\"secret_type\":\"kv\"}", SMAR_E_INPUT, "unprintable"},
    };
    smar_keyring *kr = new_key("rk-test");
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smar_writer *w;
        mem_archive a = {0};
        assert_int_equal(smar_writer_new(&w), SMAR_OK);
        assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
        assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, &a), SMAR_OK);
        assert_int_equal(smar_writer_add_secret(w, cases[i].json, strlen(cases[i].json)),
                         cases[i].rc);
        if (!strstr(smar_writer_error(w), cases[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, smar_writer_error(w), cases[i].msg);
        assert_int_equal(smar_writer_finish(w), SMAR_E_INVALID); /* dead after an error */
        smar_writer_free(w);
        free(a.data);
    }
    /* duplicate ids */
    smar_writer *w;
    mem_archive a = {0};
    char buf[1024];
    fx_secret_json(buf, sizeof buf, 1);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, &a), SMAR_OK);
    assert_int_equal(smar_writer_add_secret(w, buf, strlen(buf)), SMAR_OK);
    assert_int_equal(smar_writer_add_secret(w, buf, strlen(buf)), SMAR_E_INPUT);
    assert_non_null(strstr(smar_writer_error(w), "appears twice"));
    smar_writer_free(w);
    free(a.data);
    smar_keyring_free(kr);
}

/* The reader re-checks what the writer guarantees about a record's content. */
static void test_record_content_checked_on_read(void **state)
{
    (void)state;
    static const struct {
        const char *id, *name, *meta;
        size_t name_len;
    } cases[] = {
        {"ok-id", "name", "{\"a\":1}", 4},   /* valid: decodes */
        {"bad id", "name", "{\"a\":1}", 4},  /* space in the id */
        {"ok-id", "na\0me", "{\"a\":1}", 5}, /* NUL inside a name */
        {"ok-id", "name", "{\"a\":1", 4},    /* metadata is not JSON */
        {"ok-id", "name", "[1]", 4},         /* metadata is not an object */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smar_srec rec = {0};
        smar_buf out = {0};
        smar_err e;
        smar_secret *s = NULL;
        rec.id = (smar_span){cases[i].id, strlen(cases[i].id)};
        rec.type = (smar_span){"kv", 2};
        rec.name = (smar_span){cases[i].name, cases[i].name_len};
        rec.group = (smar_span){"", 0};
        rec.meta = (smar_span){cases[i].meta, strlen(cases[i].meta)};
        assert_int_equal(smar_record_encode(&rec, &out, &e), SMAR_OK);
        int rc = smar_record_decode(&s, out.data + 4, out.len - 4, &e);
        if (i < 3) {
            assert_int_equal(rc, i == 0 ? SMAR_OK : SMAR_E_FORMAT);
        } else {
            /* bad metadata JSON decodes, but is refused where it is used */
            assert_int_equal(rc, SMAR_OK);
            size_t n = 99;
            assert_null(smar_secret_metadata_json(s, &n));
            assert_int_equal(n, 0);
        }
        if (i == 0)
            assert_non_null(smar_secret_metadata_json(s, NULL));
        smar_secret_free(s);
        smar_buf_free(&out);
    }
}

int main(void)
{
    if (smar_init() != SMAR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_round_trip_one),
        cmocka_unit_test(test_round_trip_10000_small_chunks),
        cmocka_unit_test(test_round_trip_threads),
        cmocka_unit_test(test_deferred_secret_error_is_attributed),
        cmocka_unit_test(test_read_ahead),
        cmocka_unit_test(test_walk_reads_each_manifest_chunk_once),
        cmocka_unit_test(test_render_order_reads_each_chunk_once),
        cmocka_unit_test(test_find_by_name_and_time),
        cmocka_unit_test(test_exact_values_and_render),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_more_readers_unlocked_than_dek_slots),
        cmocka_unit_test(test_rotated_keyring_still_opens),
        cmocka_unit_test(test_filled_structs_versioned),
        cmocka_unit_test(test_two_slots_each_opens),
        cmocka_unit_test(test_callback_stop_values),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_bad_secrets_rejected),
        cmocka_unit_test(test_record_content_checked_on_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
