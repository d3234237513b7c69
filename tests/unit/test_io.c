/*
 * test_io.c - the seams of smar/io.h, wired from outside the library: a sink and a source
 * that exist only here (memory, failure and cancellation on demand) carry a whole archive
 * through the writer and the reader; and the file sink's publish rules.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "archive_fixture.h"
#include "testutil.h"

/* ---- a sink in memory, failing on demand -------------------------------------------- */

typedef struct test_sink {
    uint8_t *data;
    size_t len, cap;
    size_t fail_after; /* fail the write that would pass this many bytes (0: never) */
    int cancel;        /* cancel the first write instead */
    int writes, commits, aborts;
    int fail_commit;
} test_sink;

static smar_io_result ts_write(void *opaque, const void *buf, size_t len,
                               char err[SMAR_IO_ERROR_MAX])
{
    test_sink *t = opaque;
    assert_int_equal(t->commits + t->aborts, 0); /* nothing after the end */
    t->writes++;
    if (t->cancel)
        return SMAR_IO_CANCELLED;
    if (t->fail_after && t->len + len > t->fail_after) {
        snprintf(err, SMAR_IO_ERROR_MAX, "the test store is full");
        return SMAR_IO_FAILED;
    }
    if (t->len + len > t->cap) {
        t->cap = (t->len + len) * 2;
        t->data = realloc(t->data, t->cap);
        assert_non_null(t->data);
    }
    memcpy(t->data + t->len, buf, len);
    t->len += len;
    return SMAR_IO_OK;
}

static smar_io_result ts_commit(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    test_sink *t = opaque;
    t->commits++;
    if (t->fail_commit) {
        snprintf(err, SMAR_IO_ERROR_MAX, "the upload was refused");
        return SMAR_IO_FAILED;
    }
    return SMAR_IO_OK;
}

static void ts_abort(void *opaque)
{
    test_sink *t = opaque;
    t->aborts++;
    t->len = 0;
}

static smar_sink sink_of(test_sink *t)
{
    smar_sink s = SMAR_SINK_INIT;
    s.opaque = t;
    s.write = ts_write;
    s.commit = ts_commit;
    s.abort = ts_abort;
    return s;
}

/* ---- a source that counts reads and cancels on demand ------------------------------- */

typedef struct test_source {
    const uint8_t *data;
    size_t len;
    atomic_int reads;
    int cancel_after; /* cancel every read after this many (0: never) */
    int fail_after;   /* fail every read after this many (0: never) */
    int closes;
} test_source;

static smar_io_result tsrc_read(void *opaque, void *buf, size_t len, uint64_t offset,
                                char err[SMAR_IO_ERROR_MAX])
{
    test_source *t = opaque;
    int n = atomic_fetch_add(&t->reads, 1) + 1;
    if (t->cancel_after && n > t->cancel_after)
        return SMAR_IO_CANCELLED;
    if (t->fail_after && n > t->fail_after) {
        snprintf(err, SMAR_IO_ERROR_MAX, "the test store went away");
        return SMAR_IO_FAILED;
    }
    assert_true(offset <= t->len && len <= t->len - offset); /* the library checked it */
    memcpy(buf, t->data + offset, len);
    return SMAR_IO_OK;
}

static void tsrc_close(void *opaque)
{
    ((test_source *)opaque)->closes++;
}

static smar_source source_of(test_source *t)
{
    smar_source s = SMAR_SOURCE_INIT;
    s.opaque = t;
    s.size = t->len;
    s.read_at = tsrc_read;
    s.close = tsrc_close;
    return s;
}

/* ---- helpers ------------------------------------------------------------------------ */

static smar_keyring *new_key(void)
{
    smar_keyring *kr;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, "io-test"), SMAR_OK);
    return kr;
}

/* Write n fx secrets through sink; the status of the first failing call. */
static int write_archive(smar_writer **w, const smar_sink *sink, smar_keyring *kr, size_t n,
                         unsigned threads)
{
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = 1780000000000000000LL;
    o.chunk_size = SMAR_CHUNK_SIZE_MIN;
    o.threads = threads;
    char buf[1024];
    assert_int_equal(smar_writer_new(w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(*w, kr), SMAR_OK);
    int rc = smar_writer_open_sink(*w, sink, &o);
    for (size_t i = 0; i < n && rc == SMAR_OK; i++) {
        fx_secret_json(buf, sizeof buf, i);
        rc = smar_writer_add_secret(*w, buf, strlen(buf));
    }
    return rc == SMAR_OK ? smar_writer_finish(*w) : rc;
}

/* The id of fx secret i. */
static const char *fx_id(char buf[40], size_t i)
{
    snprintf(buf, 40, "00000000-0000-4000-8000-%012zx", i);
    return buf;
}

/* ---- tests -------------------------------------------------------------------------- */

/* create and read work through a sink and a source the library has never seen. */
static void test_round_trip_through_test_sink_and_source(void **state)
{
    (void)state;
    smar_keyring *kr = new_key();
    test_sink ts = {0};
    smar_sink sink = sink_of(&ts);
    smar_writer *w;
    assert_int_equal(write_archive(&w, &sink, kr, 300, 2), SMAR_OK);
    assert_int_equal(ts.commits, 1);
    assert_int_equal(ts.aborts, 0);
    smar_writer_free(w);
    assert_int_equal(ts.aborts, 0); /* freeing a committed writer ends nothing twice */

    test_source src = {.data = ts.data, .len = ts.len};
    smar_source s = source_of(&src);
    smar_reader *r;
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    assert_int_equal(smar_reader_open_source(r, &s, "test store"), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    smar_secret *sec;
    char id[40];
    assert_int_equal(smar_reader_find_id(r, fx_id(id, 123), &sec), SMAR_OK);
    char *p;
    size_t n;
    assert_int_equal(smar_reader_read_payload(r, sec, smar_secret_version(sec, 1), &p, &n),
                     SMAR_OK);
    smar_secret_buffer_free(p, n);
    smar_secret_free(sec);
    assert_int_equal(smar_reader_set_threads(r, 2), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL),
                     SMAR_OK);
    assert_true(atomic_load(&src.reads) > 0);
    smar_reader_free(r);
    assert_int_equal(src.closes, 1);
    free(ts.data);
    smar_keyring_free(kr);
}

/* Write n secrets through ts and expect the writer to fail with want (why in its message
 * when not NULL), the sink to end with exactly `commits` commits and `aborts` aborts, and
 * the handle to be dead; freeing it ends nothing more. */
static void expect_failure(test_sink *ts, size_t n, int want, const char *why, int commits,
                           int aborts)
{
    smar_keyring *kr = new_key();
    smar_sink sink = sink_of(ts);
    smar_writer *w;
    assert_int_equal(write_archive(&w, &sink, kr, n, 0), want);
    if (why != NULL)
        assert_non_null(strstr(smar_writer_error(w), why));
    assert_int_equal(smar_writer_finish(w), SMAR_E_INVALID);
    smar_writer_free(w);
    assert_int_equal(ts->commits, commits);
    assert_int_equal(ts->aborts, aborts);
    free(ts->data);
    smar_keyring_free(kr);
}

/* Open a writer on ts with o, then free it unfinished; the status of the open. */
static int open_then_free(test_sink *ts, const smar_writer_options *o, int version)
{
    smar_keyring *kr = new_key();
    smar_sink sink = sink_of(ts);
    sink.version = version;
    smar_writer *w;
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
    int rc = smar_writer_open_sink(w, &sink, o);
    smar_writer_free(w);
    smar_keyring_free(kr);
    return rc;
}

/* A sink write failing midway fails the writer with SMAR_E_IO and the sink's reason, and
 * aborts the sink once: never a commit. */
static void test_failed_sink_write_aborts_once(void **state)
{
    (void)state;
    test_sink ts = {.fail_after = 100000};
    expect_failure(&ts, 2000, SMAR_E_IO, "the test store is full", 0, 1);
}

/* A failed commit fails finish; it is the sink's only end (no abort after it). A writer
 * freed unfinished aborts; one whose open failed aborts too, and never writes. */
static void test_commit_or_abort_exactly_once(void **state)
{
    (void)state;
    test_sink ts = {.fail_commit = 1};
    expect_failure(&ts, 10, SMAR_E_IO, "the upload was refused", 1, 0);

    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = 1780000000000000000LL;
    test_sink unfinished = {0};
    assert_int_equal(open_then_free(&unfinished, &o, SMAR_SINK_VERSION), SMAR_OK);
    assert_int_equal(unfinished.aborts, 1);
    assert_int_equal(unfinished.commits, 0);

    test_sink bad_open = {0};
    o.chunk_size = 1; /* outside the format's bounds */
    assert_int_equal(open_then_free(&bad_open, &o, SMAR_SINK_VERSION), SMAR_E_LIMIT);
    assert_int_equal(bad_open.aborts, 1);
    assert_int_equal(bad_open.writes + bad_open.commits, 0);

    /* An unknown sink version is refused before any callback. */
    test_sink unknown = {0};
    assert_int_equal(open_then_free(&unknown, NULL, SMAR_SINK_VERSION + 1), SMAR_E_INVALID);
    assert_int_equal(unknown.aborts + unknown.writes + unknown.commits, 0);
}

/* A sink that cancels stops the writer with SMAR_E_CANCELLED, not SMAR_E_IO. */
static void test_sink_cancel(void **state)
{
    (void)state;
    test_sink ts = {.cancel = 1};
    expect_failure(&ts, 2000, SMAR_E_CANCELLED, "cancelled", 0, 1);
}

/* A source that cancels stops verify and reads with SMAR_E_CANCELLED, with and without
 * threads; a source that fails gives SMAR_E_IO with its reason. */
static void test_source_cancel_and_failure(void **state)
{
    (void)state;
    smar_keyring *kr = new_key();
    test_sink ts = {0};
    smar_sink sink = sink_of(&ts);
    smar_writer *w;
    assert_int_equal(write_archive(&w, &sink, kr, 2000, 0), SMAR_OK);
    smar_writer_free(w);
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        test_source src = {.data = ts.data, .len = ts.len};
        smar_source s = source_of(&src);
        smar_reader *r;
        assert_int_equal(smar_reader_new(&r), SMAR_OK);
        assert_int_equal(smar_reader_open_source(r, &s, "test store"), SMAR_OK);
        assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
        assert_int_equal(smar_reader_set_threads(r, threads), SMAR_OK);
        int opened = atomic_load(&src.reads);
        src.cancel_after = opened + 5;
        assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL),
                         SMAR_E_CANCELLED);
        /* stopped: far fewer reads than the archive's chunks */
        assert_true(atomic_load(&src.reads) < opened + 5 + 2 * (int)threads + 2);
        smar_secret *sec = NULL;
        char id[40];
        assert_int_equal(smar_reader_find_id(r, fx_id(id, 1999), &sec), SMAR_E_CANCELLED);
        smar_secret_free(sec);

        src.cancel_after = 0;
        src.fail_after = atomic_load(&src.reads);
        assert_int_equal(smar_reader_verify(r, 0, NULL, NULL, NULL, NULL, NULL), SMAR_E_IO);
        src.fail_after = 0;
        assert_int_equal(smar_reader_find_id(r, fx_id(id, 1999), &sec), SMAR_OK);
        smar_secret_free(sec);
        smar_reader_free(r);
    }
    test_source src = {.data = ts.data, .len = ts.len, .fail_after = 1};
    smar_source s = source_of(&src);
    smar_reader *r;
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    assert_int_equal(smar_reader_open_source(r, &s, "test store"), SMAR_E_IO);
    assert_non_null(strstr(smar_reader_error(r), "the test store went away"));
    smar_reader_free(r);
    assert_int_equal(src.closes, 0); /* a failed open leaves the source to the caller */
    free(ts.data);
    smar_keyring_free(kr);
}

/* The file sink: no temporary file left, no name replaced without REPLACE, never a FIFO. */
static void test_file_sink(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path_join(dir, "out.bin");
    smar_file_sink *fs;
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    assert_int_equal(smar_file_sink_open(fs, path, NULL), SMAR_OK);
    assert_non_null(smar_file_sink_temp_name(fs));
    assert_true(smar_file_sink_temp_dirfd(fs) >= 0);
    assert_int_equal(smar_file_sink_write(fs, "abc", 3), SMAR_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* nothing under the name before commit */
    assert_int_equal(smar_file_sink_commit(fs), SMAR_OK);
    assert_null(smar_file_sink_temp_name(fs));
    smar_file_sink_free(fs);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 3);

    /* The name appeared meanwhile: without REPLACE the commit refuses it, removing its
     * temporary file. */
    char *late = tu_path_join(dir, "late.bin");
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    assert_int_equal(smar_file_sink_open(fs, late, NULL), SMAR_OK);
    assert_int_equal(tu_write_file(late, "x", 1), 0);
    assert_int_equal(smar_file_sink_commit(fs), SMAR_E_EXISTS);
    smar_file_sink_free(fs);

    /* With REPLACE, a FIFO put at the name is refused right before the rename. */
    smar_file_sink_options o = SMAR_FILE_SINK_OPTIONS_INIT;
    o.flags = SMAR_FILE_SINK_REPLACE;
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    assert_int_equal(smar_file_sink_open(fs, late, &o), SMAR_OK);
    assert_int_equal(unlink(late), 0);
    assert_int_equal(mkfifo(late, 0600), 0);
    assert_int_equal(smar_file_sink_commit(fs), SMAR_E_INVALID);
    assert_non_null(strstr(smar_file_sink_error(fs), "a FIFO"));
    smar_file_sink_free(fs);

    /* Through smar_sink, and freed before commit: nothing left behind. */
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    assert_int_equal(smar_file_sink_open(fs, path, &o), SMAR_OK);
    smar_sink sink;
    smar_file_sink_as_sink(fs, &sink);
    char err[SMAR_IO_ERROR_MAX] = "";
    assert_int_equal(sink.write(sink.opaque, "zz", 2, err), SMAR_IO_OK);
    smar_file_sink_free(fs);
    char *text = tu_read_file(path, NULL);
    assert_string_equal(text, "abc");
    free(text);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '.*.tmp-*')\"", dir);
    assert_int_equal(system(cmd), 0);
    tu_rmtree(dir);
    free(late);
    free(path);
    free(dir);
}

int main(void)
{
    assert_int_equal(smar_init(), SMAR_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_through_test_sink_and_source),
        cmocka_unit_test(test_failed_sink_write_aborts_once),
        cmocka_unit_test(test_commit_or_abort_exactly_once),
        cmocka_unit_test(test_sink_cancel),
        cmocka_unit_test(test_source_cancel_and_failure),
        cmocka_unit_test(test_file_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
