/*
 * test_digests.c - format 2.2, export digests (spec/FORMAT.md section 26.6): the top-level
 * member scan (sure only of what it can be sure of), the digest (everything but the
 * top-level retrieved_at value, its cut position included), and, through the library, an
 * incremental over a parent with digests whose meta counts equal a full archive's, also
 * when a deleted secret held the oldest and the newest version.
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
#include "digests.h"
#include "toplevel.h"
#include "smar.h"

static smar_keyring *g_key;

static bool scan(const char *json, smar_toplevel *t)
{
    return smar_toplevel_scan(json, strlen(json), t);
}

static void test_scan(void **state)
{
    (void)state;
    smar_toplevel t;
    const char *ok =
        " {\"id\" : \"a-1\",\"custom_metadata\":{\"retrieved_at\":\"x\",\"s\":\"}\\\"{\"},"
        "\"retrieved_at\":\"2026-01-01T00:00:00Z\",\"v\":[1,{\"a\":[]}],\"n\":-1.5e3} ";
    assert_true(scan(ok, &t));
    assert_int_equal(t.id.n, 3);
    assert_memory_equal(t.id.p, "a-1", 3);
    assert_true(t.has_retrieved); /* the top-level one, not custom_metadata's */
    assert_memory_equal(ok + t.retrieved_at, "\"2026-01-01T00:00:00Z\"", t.retrieved_len);
    assert_true(scan("{\"id\":\"b\"}", &t));
    assert_false(t.has_retrieved);
    /* unsure: the slow path */
    assert_false(scan("{\"i\\u0064\":\"b\"}", &t));                            /* escaped key */
    assert_false(scan("{\"id\":\"b\",\"x\":1,\"x\":2}", &t));                  /* duplicate */
    assert_false(scan("{\"id\":\"b\\u0041\"}", &t));                           /* escaped id */
    assert_false(scan("{\"id\":1}", &t));                                      /* id not a string */
    assert_false(scan("{\"name\":\"b\"}", &t));                                /* no id */
    assert_false(scan("{\"id\":\"b\",\"retrieved_at\":null}", &t));            /* not a string */
    assert_false(scan("{\"id\":\"b\",\"retrieved_at\":\"a\\nb\"}", &t));       /* an escape */
    assert_false(scan("{\"id\":\"b\",\"retrieved_at\":\"caf\xc3\xa9\"}", &t)); /* not ASCII */
    assert_false(scan("{\"id\":\"b\"", &t));                                   /* truncated */
    assert_false(scan("{\"id\":\"b\"} x", &t));                                /* trailing */
    assert_false(scan("[{\"id\":\"b\"}]", &t));
}

/* Strings whose closing quote follows a run of backslashes: an even run closes the string,
 * an odd one escapes the quote. A scan that got this wrong would take a member inside a
 * string for a top-level one (its retrieved_at left out of the digest). */
static void test_scan_backslash_runs(void **state)
{
    (void)state;
    smar_toplevel t;
    /* "a\\" ends after two escaped backslashes; the retrieved_at after it is top level */
    const char *even = "{\"id\":\"s\",\"p\":\"a\\\\\",\"retrieved_at\":\"T\"}";
    assert_true(scan(even, &t));
    assert_true(t.has_retrieved);
    assert_memory_equal(even + t.retrieved_at, "\"T\"", t.retrieved_len);
    /* "\",\"retrieved_at\":\"T" is one string (odd runs): no top-level retrieved_at */
    const char *odd = "{\"id\":\"s\",\"p\":\"\\\",\\\"retrieved_at\\\":\\\"T\"}";
    assert_true(scan(odd, &t));
    assert_false(t.has_retrieved);
    /* PEM-like text: an escape every few bytes, then an escaped backslash before the quote */
    const char *pem = "{\"p\":\"-----\\nMIIB\\nabc\\n\\\\\",\"id\":\"s\"}";
    assert_true(scan(pem, &t));
    assert_int_equal(t.id.n, 1);
    assert_false(scan("{\"id\":\"s\",\"p\":\"a\\\"}", &t)); /* never closed */
}

static void digest_of(const char *json, uint8_t out[16], uint8_t key_byte)
{
    uint8_t key[32];
    smar_toplevel t;
    memset(key, key_byte, sizeof key);
    assert_true(scan(json, &t));
    smar_export_digest(out, key, json, strlen(json), &t);
}

static void test_digest(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    digest_of("{\"id\":\"s\",\"retrieved_at\":\"2026-01-01\",\"payload\":\"v1\"}", a, 1);
    digest_of("{\"id\":\"s\",\"retrieved_at\":\"2026-01-02T00:00Z\",\"payload\":\"v1\"}", b, 1);
    assert_memory_equal(a, b, 16); /* only retrieved_at's value differs */
    digest_of("{\"id\":\"s\",\"retrieved_at\":\"2026-01-01\",\"payload\":\"v2\"}", b, 1);
    assert_memory_not_equal(a, b, 16); /* a payload byte */
    digest_of("{\"id\":\"s\",\"retrieved_at\":\"2026-01-01\",\"payload\":\"v1\"}", b, 2);
    assert_memory_not_equal(a, b, 16); /* another key */
    /* the same bytes once retrieved_at is cut, at another place */
    digest_of("{\"id\":\"s\",\"x\":\"\",\"retrieved_at\":\"1\"}", a, 1);
    digest_of("{\"id\":\"s\",\"x\":\"1\",\"retrieved_at\":\"\"}", b, 1);
    assert_memory_not_equal(a, b, 16);
    /* a nested retrieved_at is part of the digest */
    digest_of("{\"id\":\"s\",\"m\":{\"retrieved_at\":\"1\"}}", a, 1);
    digest_of("{\"id\":\"s\",\"m\":{\"retrieved_at\":\"2\"}}", b, 1);
    assert_memory_not_equal(a, b, 16);
}

/* ---- meta counts of an incremental over a parent with digests -------------------------- */

/* secret id with one version created at `day` (2026-01-day) */
static const char *secret_json(char *buf, size_t cap, const char *id, int day, int hour)
{
    snprintf(
        buf, cap,
        "{\"id\":\"%s\",\"name\":\"%s\",\"secret_type\":\"arbitrary\","
        "\"created_at\":\"2026-01-%02dT00:00:00Z\",\"retrieved_at\":\"2026-02-01T%02d:00:00Z\","
        "\"payload\":\"v-%s\",\"versions\":[{\"id\":\"%s-v\",\"created_at\":"
        "\"2026-01-%02dT00:00:00Z\",\"payload\":\"v-%s\"}]}",
        id, id, day, hour, id, id, day, id);
    return buf;
}

typedef struct snap {
    const char *ids[8];
    int days[8];
} snap;

static void write_snapshot(mem_archive *out, const snap *s, int hour, smar_reader *base)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    char buf[1024];
    memset(out, 0, sizeof *out);
    o.snapshot_time = 1790000000000000000LL + hour * 3600000000000LL;
    o.created_time = o.snapshot_time;
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, g_key), SMAR_OK);
    if (base)
        assert_int_equal(smar_writer_set_base(w, base), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, out), SMAR_OK);
    for (size_t i = 0; i < 8 && s->ids[i]; i++) {
        secret_json(buf, sizeof buf, s->ids[i], s->days[i], hour);
        assert_int_equal(smar_writer_add_secret(w, buf, strlen(buf)), SMAR_OK);
    }
    const char *doc = "{\"instance\":{\"crn\":\"crn:v1:x\"}}";
    assert_int_equal(smar_writer_set_document(w, doc, strlen(doc)), SMAR_OK);
    assert_int_equal(smar_writer_finish(w), SMAR_OK);
    smar_writer_free(w);
}

static void snapshot_info(const mem_archive *a, smar_reader **keep, smar_snapshot_info *info)
{
    assert_int_equal(fx_open_unlocked(keep, a, g_key), SMAR_OK);
    assert_int_equal(smar_reader_snapshot(*keep, info), SMAR_OK);
}

/* s1 full, s2 over it (parsed: writes a table), s3 over s2 (digests) against a full
 * archive of s3: secret, version counts and the version time range equal. */
static void check_chain(const snap *s1, const snap *s2, const snap *s3)
{
    mem_archive a1, a2, a3, f3;
    smar_reader *r1, *r2, *r3, *rf;
    smar_snapshot_info i3 = SMAR_SNAPSHOT_INFO_INIT, f = SMAR_SNAPSHOT_INFO_INIT;
    write_snapshot(&a1, s1, 1, NULL);
    assert_int_equal(fx_open_unlocked(&r1, &a1, g_key), SMAR_OK);
    write_snapshot(&a2, s2, 2, r1);
    assert_int_equal(fx_open_unlocked(&r2, &a2, g_key), SMAR_OK);
    assert_int_equal(smar_reader_attach_base(r2, 0, r1), SMAR_OK);
    write_snapshot(&a3, s3, 3, r2);
    write_snapshot(&f3, s3, 3, NULL);
    snapshot_info(&a3, &r3, &i3);
    snapshot_info(&f3, &rf, &f);
    assert_int_equal(i3.secret_count, f.secret_count);
    assert_int_equal(i3.version_count, f.version_count);
    assert_int_equal(i3.oldest_version, f.oldest_version);
    assert_int_equal(i3.newest_version, f.newest_version);
    smar_reader_free(r3);
    smar_reader_free(rf);
    smar_reader_free(r2);
    smar_reader_free(r1);
    free(a1.data);
    free(a2.data);
    free(a3.data);
    free(f3.data);
}

static void test_meta_counts(void **state)
{
    (void)state;
    snap s1 = {{"old", "mid", "new", "x", NULL}, {1, 10, 20, 11}};
    /* only retrieved_at changes from s2 to s3 (digest hits), and a secret is added */
    snap s3a = {{"old", "mid", "new", "x", "y", NULL}, {1, 10, 20, 11, 12}};
    check_chain(&s1, &s1, &s3a);
    /* the secrets holding the oldest and the newest version are deleted (exact recount) */
    snap s3b = {{"mid", "x", NULL}, {10, 11}};
    check_chain(&s1, &s1, &s3b);
    /* every secret deleted, one changed: no version left of the parent */
    snap s3c = {{"z", NULL}, {5}};
    check_chain(&s1, &s1, &s3c);
}

static int setup(void **state)
{
    (void)state;
    return smar_keyring_new(&g_key) || smar_keyring_generate(g_key, "digest-test") ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    smar_keyring_free(g_key);
    return 0;
}

int main(void)
{
    if (smar_init() != SMAR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_scan_backslash_runs),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_meta_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
