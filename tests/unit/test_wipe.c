/*
 * test_wipe.c - no freed heap block still holds a secret (issue 11).
 *
 * This program replaces free() and realloc() for the whole process: ELF symbol
 * interposition makes every caller - libsmar, and also libzstd, libsodium and libc, which
 * the linker's --wrap could not reach - call the versions below. Each looks at the block
 * before handing it to glibc (__libc_free, __libc_realloc) and records it when it still
 * holds a marker: a payload, a password, a configuration's credential, a secret's metadata,
 * its id, name, group and labels (the rest of its manifest record), the root key's bytes or
 * their base64 text. A realloc of such a block counts too: it may
 * leave the old bytes behind when it moves them.
 *
 * The markers are in an instance export and a key file written by the setup. The tests
 * create archives from them (inline and with worker threads), then read one back the ways
 * the tools do - walk, find by id and name, cat each payload, render with payloads into an
 * instance export with its configurations, the document, keyed verify, with and without
 * read-ahead - and assert no freed block held a marker. Every leak is printed with its size, the
 * marker and a backtrace (addresses; addr2line -e test_wipe turns them into lines).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "smar.h"
#include "testutil.h"
#include "zstd_mem.h" /* libsmar internal: the one maker of zstd contexts */

#if defined(__SANITIZE_ADDRESS__)
#define WIPE_HOOK_AVAILABLE 0 /* AddressSanitizer owns malloc and free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPE_HOOK_AVAILABLE 0
#endif
#endif
#ifndef WIPE_HOOK_AVAILABLE
#define WIPE_HOOK_AVAILABLE 1
#endif

/* ---- the markers ---------------------------------------------------------------------- */

#define PAYLOAD_MARKER  "PAYLOAD-MARKER-"
#define PASSWORD_MARKER "PASSWORD-MARKER-"
#define CONFIG_MARKER   "CONFIG-MARKER-"
#define META_MARKER     "METADATA-MARKER-"
/* The root key: 32 bytes that are easy to spot, and their base64 in the key file. */
#define ROOT_KEY "KEY-MARKER-root-key-32-bytes-ok!"

#define SECRETS 300 /* enough payloads and records to span several 64 KiB chunks */

typedef struct marker {
    const char *name;
    const void *bytes;
    size_t len;
} marker;

#define MAX_MARKERS 12
static marker markers[MAX_MARKERS];
static size_t nmarkers;
static char root_key_b64[64];

/* ---- the allocator hook --------------------------------------------------------------- */

void __libc_free(void *p);
void *__libc_realloc(void *p, size_t n);

/* One place that freed (or reallocated) a block holding a marker, and how often. */
typedef struct leak {
    const char *marker;
    const char *how; /* "free" or "realloc" */
    size_t size;     /* of the first such block */
    size_t offset;   /* of the marker in it */
    size_t times;
    int nframes;
    void *frames[16];
} leak;

#define MAX_LEAKS 64
static leak leaks[MAX_LEAKS];
static size_t nleaks, leaks_total; /* places kept; blocks seen */
static pthread_mutex_t leaks_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool armed;
static _Thread_local bool in_hook; /* backtrace() must not be checked by itself */

static const marker *marker_in(const void *p, size_t n, size_t *offset)
{
    for (size_t i = 0; i < nmarkers; i++) {
        const char *at = memmem(p, n, markers[i].bytes, markers[i].len);
        if (at != NULL) {
            *offset = (size_t)(at - (const char *)p);
            return &markers[i];
        }
    }
    return NULL;
}

static bool same_place(const leak *a, const leak *b)
{
    return a->marker == b->marker && a->how == b->how && a->nframes == b->nframes &&
           memcmp(a->frames, b->frames, (size_t)a->nframes * sizeof a->frames[0]) == 0;
}

static void record_leak(const leak *l)
{
    pthread_mutex_lock(&leaks_lock);
    size_t i = 0;
    while (i < nleaks && !same_place(&leaks[i], l))
        i++;
    if (i < nleaks) {
        leaks[i].times++;
    } else if (nleaks < MAX_LEAKS) {
        leaks[nleaks++] = *l;
    }
    leaks_total++;
    pthread_mutex_unlock(&leaks_lock);
}

/* The whole block as glibc sized it (malloc_usable_size), not just what was asked for:
 * bytes past the caller's length are still readable by the next owner. */
static __attribute__((unused)) void check_block(void *p, const char *how)
{
    if (p == NULL || !atomic_load(&armed) || in_hook)
        return;
    in_hook = true;
    size_t n = malloc_usable_size(p), offset = 0;
    const marker *m = marker_in(p, n, &offset);
    if (m != NULL) {
        leak l = {m->name, how, n, offset, 1, 0, {0}};
        l.nframes = backtrace(l.frames, 16);
        record_leak(&l);
    }
    in_hook = false;
}

/* Only without AddressSanitizer: under it, malloc is ASan's and glibc must never see its
 * blocks (the test then skips itself). */
#if WIPE_HOOK_AVAILABLE
void free(void *p)
{
    check_block(p, "free");
    __libc_free(p);
}

void *realloc(void *p, size_t n)
{
    check_block(p, "realloc");
    return __libc_realloc(p, n);
}
#endif

static void arm(void)
{
    pthread_mutex_lock(&leaks_lock);
    nleaks = leaks_total = 0;
    pthread_mutex_unlock(&leaks_lock);
    atomic_store(&armed, true);
}

static size_t disarm(void)
{
    atomic_store(&armed, false);
    pthread_mutex_lock(&leaks_lock);
    size_t total = leaks_total;
    pthread_mutex_unlock(&leaks_lock);
    return total;
}

/* Disarm and fail when a freed block held a marker, printing each place that freed one. */
static void assert_no_leak(const char *what)
{
    size_t total = disarm();
    for (size_t i = 0; i < nleaks; i++) {
        printf("%s: %zu x %s of a block (%zu bytes) holding %s at byte %zu, from:\n", what,
               leaks[i].times, leaks[i].how, leaks[i].size, leaks[i].marker, leaks[i].offset);
        fflush(stdout);
        backtrace_symbols_fd(leaks[i].frames, leaks[i].nframes, STDOUT_FILENO);
    }
    assert_int_equal(total, 0);
}

/* ---- the fixture: an export, a key file, an archive ----------------------------------- */

typedef struct fixture {
    char *dir;
    char *export_path;
    char *key_path;
    char *archive_path;
} fixture;

static fixture fx;

/* Append to a secure buffer the test keeps (its own frees must not count as leaks). */
static void put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof line);
    if (*len + (size_t)n + 1 > *cap) {
        size_t cap2 = (*len + (size_t)n + 1) * 2;
        char *grown = malloc(cap2);
        assert_non_null(grown);
        if (*buf) {
            memcpy(grown, *buf, *len);
            sodium_memzero(*buf, *cap);
            free(*buf);
        }
        *buf = grown;
        *cap = cap2;
    }
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
    sodium_memzero(line, sizeof line);
}

/* Arbitrary secrets with two versions and username_password secrets alternate; every
 * payload, password and custom_metadata carries its marker. */
static void put_secret(char **b, size_t *len, size_t *cap, size_t i)
{
    const char *t0 = "2026-01-01T00:00:00Z", *t1 = "2026-02-01T00:00:00Z";
    put(b, len, cap,
        "%s{\"id\":\"ID-MARKER-%012zx\",\"name\":\"NAME-MARKER-%zu\","
        "\"secret_group_id\":\"GROUP-MARKER-id\",\"labels\":[\"LABEL-MARKER-%zu\"],\"created_at\":"
        "\"%s\","
        "\"custom_metadata\":{\"note\":\"" META_MARKER "%zu\"},",
        i ? "," : "", i, i, i % 5, t0, i);
    if (i % 2 == 0)
        put(b, len, cap,
            "\"secret_type\":\"arbitrary\",\"payload\":\"" PAYLOAD_MARKER "%zu-2-%0200zu\","
            "\"versions\":[{\"id\":\"v1-%zu\",\"created_at\":\"%s\",\"payload\":\"" PAYLOAD_MARKER
            "%zu-1\"},{\"id\":\"v2-%zu\",\"created_at\":\"%s\",\"payload\":\"" PAYLOAD_MARKER
            "%zu-2-%0200zu\"}]}",
            i, i, i, t0, i, i, t1, i, i);
    else
        put(b, len, cap,
            "\"secret_type\":\"username_password\",\"username\":\"user-%zu\","
            "\"password\":\"" PASSWORD_MARKER "%zu-%0200zu\",\"versions\":[{\"id\":\"v1-%zu\","
            "\"created_at\":\"%s\",\"username\":\"user-%zu\",\"password\":\"" PASSWORD_MARKER
            "%zu-%0200zu\"}]}",
            i, i, i, i, t0, i, i, i);
}

static void write_export(const char *path)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    put(&b, &len, &cap,
        "{\"instance\":{\"crn\":\"crn:v1:test\"},\"exported_at\":\"2026-11-20T02:00:00Z\","
        "\"secret_groups\":[{\"id\":\"GROUP-MARKER-id\",\"name\":\"GROUP-MARKER-name\"}],"
        "\"configurations\":[{\"name\":\"ca\",\"config_type\":\"private_cert_configuration_root_"
        "ca\","
        "\"private_key\":\"" CONFIG_MARKER "-----BEGIN PRIVATE KEY-----\"}],\"secrets\":[");
    for (size_t i = 0; i < SECRETS; i++)
        put_secret(&b, &len, &cap, i);
    put(&b, &len, &cap, "]}");
    assert_int_equal(tu_write_file(path, b, len), 0);
    sodium_memzero(b, cap);
    free(b);
}

static void write_key_file(const char *path)
{
    char text[512];
    sodium_bin2base64(root_key_b64, sizeof root_key_b64, (const unsigned char *)ROOT_KEY,
                      strlen(ROOT_KEY), sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(text, sizeof text,
                     "{\"type\":\"smar-keyring\",\"format\":1,\"provider\":\"local\","
                     "\"key_id\":\"rk-wipe\",\"created_at\":\"2026-01-01T00:00:00Z\","
                     "\"versions\":[{\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\","
                     "\"key\":\"%s\"}]}\n",
                     root_key_b64);
    assert_true(n > 0 && (size_t)n < sizeof text);
    assert_int_equal(tu_write_file(path, text, (size_t)n), 0);
    sodium_memzero(text, sizeof text);
}

static void add_marker(const char *name, const void *bytes, size_t len)
{
    assert_true(nmarkers < MAX_MARKERS);
    markers[nmarkers++] = (marker){name, bytes, len};
}

static smar_keyring *load_key(void)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_load(kr, fx.key_path, NULL), SMAR_OK);
    return kr;
}

/* What `smar create` does: the export's secrets, then its document, into a new file. */
/* An unlocked reader of the archive at path (the caller frees it and kr). */
static smar_reader *open_unlocked(const char *path, smar_keyring *kr)
{
    smar_reader *r = NULL;
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    assert_int_equal(smar_reader_open(r, path), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    return r;
}

/* base: NULL for a full archive, else the path of the archive an incremental one is made
 * against (the same export: every secret a "same as in base" record). */
static void create_archive_on(const char *path, const char *base_path, unsigned threads)
{
    smar_keyring *kr = load_key();
    smar_reader *base = base_path ? open_unlocked(base_path, kr) : NULL;
    smar_export *ex = NULL;
    smar_writer *w = NULL;
    const char *json;
    size_t len;
    int rc;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.chunk_size = SMAR_CHUNK_SIZE_MIN;
    o.snapshot_time = 1780000000000000000LL + (base_path ? 3600000000000LL : 0); /* +1 h */
    o.threads = threads;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    assert_int_equal(smar_export_open(ex, fx.export_path), SMAR_OK);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    assert_int_equal(smar_writer_add_key(w, kr), SMAR_OK);
    assert_int_equal(smar_writer_open_fd(w, fd, &o), SMAR_OK);
    if (base)
        assert_int_equal(smar_writer_set_base(w, base), SMAR_OK);
    while ((rc = smar_export_next_secret(ex, &json, &len)) == SMAR_OK)
        assert_int_equal(smar_writer_add_secret(w, json, len), SMAR_OK);
    assert_int_equal(rc, SMAR_DONE);
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_OK);
    assert_int_equal(smar_writer_set_document(w, json, len), SMAR_OK);
    rc = smar_writer_finish(w);
    if (rc != SMAR_OK)
        printf("finish: %s\n", smar_writer_error(w));
    assert_int_equal(rc, SMAR_OK);
    assert_int_equal(close(fd), 0);
    smar_writer_free(w);
    smar_export_free(ex);
    smar_reader_free(base);
    smar_keyring_free(kr);
}

static void create_archive(const char *path, unsigned threads)
{
    create_archive_on(path, NULL, threads);
}

static int group_setup(void **state)
{
    (void)state;
    void *frames[4];
    if (smar_init() != SMAR_OK || (fx.dir = tu_tmpdir()) == NULL)
        return -1;
    (void)backtrace(frames, 4); /* loads libgcc_s now, not inside the hook */
    fx.export_path = tu_path_join(fx.dir, "export.json");
    fx.key_path = tu_path_join(fx.dir, "root.key");
    fx.archive_path = tu_path_join(fx.dir, "a.smar");
    write_export(fx.export_path);
    write_key_file(fx.key_path);
    add_marker("a payload", PAYLOAD_MARKER, strlen(PAYLOAD_MARKER));
    add_marker("a password", PASSWORD_MARKER, strlen(PASSWORD_MARKER));
    add_marker("a configuration's credential", CONFIG_MARKER, strlen(CONFIG_MARKER));
    add_marker("secret metadata", META_MARKER, strlen(META_MARKER));
    add_marker("a name", "NAME-MARKER-", 12);
    add_marker("a label", "LABEL-MARKER-", 13);
    add_marker("a secret id", "ID-MARKER-", 10);
    add_marker("a group", "GROUP-MARKER-", 13);
    add_marker("the root key", ROOT_KEY, strlen(ROOT_KEY));
    add_marker("the root key's base64", root_key_b64, strlen(root_key_b64));
    create_archive(fx.archive_path, 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmtree(fx.dir);
    free(fx.dir);
    free(fx.export_path);
    free(fx.key_path);
    free(fx.archive_path);
    return 0;
}

static void skip_without_hook(void)
{
    if (!WIPE_HOOK_AVAILABLE)
        skip();
}

/* ---- reading back ------------------------------------------------------------------- */

typedef struct walk {
    uint64_t secrets, payloads;
    smar_export_writer *out; /* `smar extract --format export --configurations` */
} walk;

/* The export written back goes nowhere: only the writer's own buffers matter here. */
static int discard(void *opaque, const void *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    (void)len;
    return 0;
}

/* `smar cat`: one payload and the value a user means by it. */
static void cat_payload(smar_reader *r, const smar_secret *s, const smar_version *v, walk *wk)
{
    char *json = NULL, *value = NULL;
    size_t len = 0, vlen = 0;
    assert_int_equal(smar_reader_read_payload(r, s, v, &json, &len), SMAR_OK);
    assert_int_equal(smar_payload_value(smar_secret_type(s), json, len, &value, &vlen), SMAR_OK);
    assert_non_null(memmem(value, vlen, "MARKER-", 7));
    smar_secret_buffer_free(value, vlen);
    smar_secret_buffer_free(json, len);
    wk->payloads++;
}

/* `smar extract`: render with payloads; `smar cat`: each payload, then by id and name. */
static int visit(smar_reader *r, const smar_secret *s, void *payload)
{
    walk *wk = payload;
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &json, &len), SMAR_OK);
    assert_non_null(memmem(json, len, "MARKER-", 7));
    assert_int_equal(smar_export_writer_add(wk->out, json, len), SMAR_OK);
    smar_secret_buffer_free(json, len);
    if (smar_secret_has_payload(s))
        cat_payload(r, s, NULL, wk);
    for (size_t i = 0; i < smar_secret_version_count(s); i++)
        cat_payload(r, s, smar_secret_version(s, i), wk);
    wk->secrets++;
    return SMAR_OK;
}

static int count_by_name(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    (void)s;
    (*(int *)payload)++;
    return SMAR_OK;
}

static void find_some(smar_reader *r)
{
    smar_secret *s = NULL, *copy;
    int found = 0;
    assert_int_equal(smar_reader_find_id(r, "ID-MARKER-000000000007", &s), SMAR_OK);
    copy = smar_secret_dup(s);
    assert_non_null(copy);
    smar_secret_free(copy);
    smar_secret_free(s);
    assert_int_equal(smar_reader_find_name(r, "NAME-MARKER-8", NULL, count_by_name, &found),
                     SMAR_OK);
    assert_int_equal(found, 1);
}

/* base_path: the base an incremental archive at path needs, else NULL. */
static void read_back_on(const char *path, const char *base_path, unsigned threads)
{
    smar_keyring *kr = load_key();
    smar_reader *r = NULL, *base = base_path ? open_unlocked(base_path, kr) : NULL;
    walk wk = {0, 0, NULL};
    const char *doc;
    size_t doclen;
    smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    assert_int_equal(smar_reader_open(r, path), SMAR_OK);
    assert_int_equal(smar_reader_set_threads(r, threads), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
    if (base)
        assert_int_equal(smar_reader_attach_base(r, 0, base), SMAR_OK);
    assert_int_equal(smar_reader_document(r, &doc, &doclen), SMAR_OK);
    assert_non_null(memmem(doc, doclen, CONFIG_MARKER, strlen(CONFIG_MARKER)));
    assert_string_equal(smar_reader_group_name(r, "GROUP-MARKER-id"), "GROUP-MARKER-name");
    assert_int_equal(smar_export_writer_new(&wk.out, SMAR_EXPORT_CONFIGURATIONS, discard, NULL),
                     SMAR_OK);
    assert_int_equal(smar_export_writer_begin(wk.out, doc, doclen), SMAR_OK);
    assert_int_equal(smar_reader_foreach(r, visit, &wk), SMAR_OK);
    assert_int_equal(smar_export_writer_finish(wk.out), SMAR_OK);
    smar_export_writer_free(wk.out);
    assert_int_equal(wk.secrets, SECRETS);
    assert_int_equal(wk.payloads, SECRETS / 2 * 3 + SECRETS / 2 * 2);
    find_some(r);
    assert_int_equal(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &vr, NULL, NULL, NULL),
                     SMAR_OK);
    assert_int_equal(vr.chunks_bad, 0);
    smar_reader_free(r);
    smar_reader_free(base);
    smar_keyring_free(kr);
}

static void read_back(const char *path, unsigned threads)
{
    read_back_on(path, NULL, threads);
}

/* ---- tests ---------------------------------------------------------------------------- */

/* The hook itself: an unwiped block with a marker is caught, a wiped one is not. */
static void test_hook_sees_an_unwiped_block(void **state)
{
    (void)state;
    skip_without_hook();
    char *volatile p = malloc(64);
    char *volatile q = malloc(64);
    assert_non_null(p);
    assert_non_null(q);
    snprintf(p, 64, "x" PAYLOAD_MARKER "y");
    snprintf(q, 64, "x" CONFIG_MARKER "y");
    arm();
    free(p);
    sodium_memzero(q, 64);
    free(q);
    assert_int_equal(disarm(), 1);
    assert_string_equal(leaks[0].marker, "a payload");
}

/* ---- zstd's contexts ------------------------------------------------------------------ */

/* Compress and decompress payload text through one context of each kind, then free them. */
static void zstd_round_trip(ZSTD_CCtx *cctx, ZSTD_DCtx *dctx)
{
    enum { N = 64 * 1024 };
    char *raw = malloc(N), *back = malloc(N);
    size_t bound = ZSTD_compressBound(N);
    char *packed = malloc(bound);
    assert_true(raw && back && packed && cctx && dctx);
    for (size_t at = 0; at + 64 <= N; at += 64)
        snprintf(raw + at, 64, PAYLOAD_MARKER "%zu-%040zu", at, at * 7919);
    size_t n = ZSTD_compressCCtx(cctx, packed, bound, raw, N, 3);
    assert_false(ZSTD_isError(n));
    assert_int_equal(ZSTD_decompressDCtx(dctx, back, N, packed, n), N);
    assert_memory_equal(raw, back, N);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    sodium_memzero(raw, N);
    sodium_memzero(back, N);
    free(raw);
    free(back);
    free(packed); /* compressed: the marker does not appear as such */
}

/* libsmar's contexts wipe their workspaces; zstd's own allocator (the control, showing the
 * hook sees zstd's frees) leaves payload text in them. */
static void test_zstd_contexts_wipe(void **state)
{
    (void)state;
    skip_without_hook();
    arm();
    zstd_round_trip(smar_zstd_cctx_new(), smar_zstd_dctx_new());
    assert_no_leak("smar_zstd_cctx_new / smar_zstd_dctx_new");
    arm();
    zstd_round_trip(ZSTD_createCCtx(), ZSTD_createDCtx());
    assert_true(disarm() > 0);
}

/* How a test runs: its name in messages and the worker threads it asks for. */
typedef struct run {
    const char *what;
    unsigned threads;
} run;

static run inline_run = {"inline", 0}, threaded_run = {"with three threads", 3};

static void test_create_wipes(void **state)
{
    const run *how = *state;
    skip_without_hook();
    char *path = tu_path_join(fx.dir, how->threads ? "threads.smar" : "inline.smar");
    arm();
    create_archive(path, how->threads);
    assert_no_leak(how->what);
    free(path);
}

/* With threads the reader also reads ahead. */
static void test_read_wipes(void **state)
{
    const run *how = *state;
    skip_without_hook();
    arm();
    read_back(fx.archive_path, how->threads);
    assert_no_leak(how->what);
}

/* An incremental archive: made against the base (its map of the base's secrets, the
 * comparisons, the references) and read back through it. */
static void test_incremental_wipes(void **state)
{
    const run *how = *state;
    skip_without_hook();
    char *path = tu_path_join(fx.dir, how->threads ? "incr-threads.smar" : "incr-inline.smar");
    arm();
    create_archive_on(path, fx.archive_path, how->threads);
    assert_no_leak(how->what);
    arm();
    read_back_on(path, fx.archive_path, how->threads);
    assert_no_leak(how->what);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_sees_an_unwiped_block),
        cmocka_unit_test(test_zstd_contexts_wipe),
        {"test_create_wipes, inline", test_create_wipes, NULL, NULL, &inline_run},
        {"test_create_wipes, threads", test_create_wipes, NULL, NULL, &threaded_run},
        {"test_read_wipes, inline", test_read_wipes, NULL, NULL, &inline_run},
        {"test_read_wipes, threads (read-ahead)", test_read_wipes, NULL, NULL, &threaded_run},
        {"test_incremental_wipes, inline", test_incremental_wipes, NULL, NULL, &inline_run},
        {"test_incremental_wipes, threads", test_incremental_wipes, NULL, NULL, &threaded_run},
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
