/*
 * test_export_in.c - reading instance exports in every layout (libsmar/export/export_in.c,
 * export_stream.c, export_tree.c): exact secret and document texts, "exported_at",
 * errors with their locations, limits, and bounded memory on a large stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_in.h"
#include "internal.h"
#include "smar/export.h"
#include "testutil.h"

/* ---- the sample export ---------------------------------------------------------------- */

#define ID1 "0b5571f7-21e6-42b7-91c5-3f5ac9793a46"
#define ID2 "1c7a9a2e-0000-4b8e-9f3e-6a2b1d4c5e6f"
#define ID3 "2d8b0b3f-1111-4c9f-a04f-7b3c2e5d6f70"

/* Values that must survive byte for byte: escapes, big and exact numbers, raw UTF-8,
 * brackets and quotes inside strings. TOPSECRET must never appear in a message. */
#define S1                                                                                         \
    "{\"id\":\"" ID1 "\",\"name\":\"db\",\"secret_type\":\"arbitrary\","                           \
    "\"payload\":\"caf\\u00e9 TOPSECRET\",\"n\":12345678901234567890,\"f\":0.1,"                   \
    "\"versions\":[{\"id\":\"v1\",\"payload\":\"x\"}]}"
#define S2                                                                                         \
    "{\"id\":\"" ID2 "\",\"name\":\"kv\",\"secret_type\":\"kv\","                                  \
    "\"data\":{\"a\":[1,2,{\"b\":\"]}\\\"{[\"}]},\"versions\":[]}"
#define S3                                                                                         \
    "{\"id\":\"" ID3 "\",\"name\":\"caf\xc3\xa9\",\"secret_type\":\"imported_cert\","              \
    "\"certificate\":\"-----BEGIN-----\\nMIIB\\n-----END-----\\n\",\"versions\":[{}]}"

#define P1                                                                                         \
    "{\n    \"id\": \"" ID1 "\",\n    \"payload\": \"caf\\u00e9 TOPSECRET\",\n"                    \
    "    \"n\": 1E+2,\n    \"versions\": [\n      {\"id\": \"v1\"}\n    ]\n  }"
#define P2 "{\n    \"id\" : \"" ID2 "\",\n    \"data\": {\"}\": \"{\"}\n  }"
#define P3 "{ \"id\": \"" ID3 "\" }"

#define INSTANCE_V                                                                                 \
    "{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/abc:guid::\","                    \
    "\"guid\":\"guid\",\"region\":\"us-south\"}"
#define EXPORTED_V "\"2026-11-20T02:00:00Z\""
#define GROUPS_V   "[{\"id\":\"default\",\"name\":\"default\"}]"
#define CONFIGS_V  "[{\"name\":\"cis\",\"x\":1e400,\"y\":\"\\ud83d\\ude00\"}]"

static const char *const compact_secrets[] = {S1, S2, S3};
static const char *const pretty_secrets[] = {P1, P2, P3};

#define COMPACT_DOC                                                                                \
    "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V ",\"secret_groups\":" GROUPS_V      \
    ",\"secrets\":[" S1 "," S2 "," S3 "],\"configurations\":" CONFIGS_V "}"
#define COMPACT_DOC_WANT                                                                           \
    "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V ",\"secret_groups\":" GROUPS_V      \
    ",\"configurations\":" CONFIGS_V "}"

#define PRETTY_INSTANCE "{\n      \"crn\": \"x\"\n  }"
#define PRETTY_DOC                                                                                 \
    "\n\n{\n  \"secrets\" : [\n  " P1 ",\n  " P2 " ,\n  " P3 "\n  ],\n"                            \
    "  \"instance\":  " PRETTY_INSTANCE ",\n  \"x_unknown\" : null ,\n"                            \
    "  \"exported_at\":\t" EXPORTED_V "\n}\n\n"
#define PRETTY_DOC_WANT                                                                            \
    "{\"instance\":" PRETTY_INSTANCE ",\"x_unknown\":null,\"exported_at\":" EXPORTED_V "}"

#define JSONL_HEADER                                                                               \
    "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V ",\"secret_groups\":" GROUPS_V "}"
#define JSONL_DOC_WANT JSONL_HEADER

#define DIR_INSTANCE "{\n  \"instance\": " INSTANCE_V ",\n  \"exported_at\": " EXPORTED_V "\n}\n"
#define DIR_GROUPS   "{\"secret_groups\": " GROUPS_V ", \"total_count\": 1}"
#define DIR_CONFIGS  "{\"configurations\": " CONFIGS_V "}\n"
#define DIR_DOC_WANT                                                                               \
    "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V ",\"secret_groups\":" GROUPS_V      \
    ",\"configurations\":" CONFIGS_V "}"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *tmp_root;

static int setup_tmp(void **state)
{
    (void)state;
    tmp_root = tu_tmpdir();
    return tmp_root != NULL ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    int rc = tu_rmtree(tmp_root);
    free(tmp_root);
    tmp_root = NULL;
    return rc;
}

/* A path in the test's directory; the returned string lives until the next 8 calls. */
static const char *tmp_path(const char *name)
{
    static char paths[8][1024];
    static unsigned next;
    char *p = paths[next++ % 8];
    (void)snprintf(p, sizeof paths[0], "%s/%s", tmp_root, name);
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
    return path;
}

static void make_dir(const char *name)
{
    assert_int_equal(mkdir(tmp_path(name), 0700), 0);
}

static smar_time_ns exported_at_value(void)
{
    smar_time_ns t;
    assert_int_equal(smar_time_parse("2026-11-20T02:00:00Z", 20, 0, &t), SMAR_OK);
    return t;
}

static smar_export *open_ok(const char *path)
{
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    int rc = smar_export_open(ex, path);
    if (rc != SMAR_OK)
        fail_msg("open %s: %d %s", path, rc, smar_export_error(ex));
    return ex;
}

static void assert_text(const char *got, size_t len, const char *want)
{
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("got  '%.*s'\nwant '%s'", (int)len, got, want);
}

static void expect_exported_at(const smar_export *ex, int want_rc)
{
    smar_time_ns t = 0;
    assert_int_equal(smar_export_exported_at(ex, &t), want_rc);
    if (want_rc == SMAR_OK)
        assert_true(t == exported_at_value());
}

/* Read every secret, compare with want (in order), then the document. */
static void expect_export(smar_export *ex, const char *const *want, size_t n, const char *doc)
{
    const char *json;
    size_t len;
    for (size_t i = 0; i < n; i++) {
        int rc = smar_export_next_secret(ex, &json, &len);
        if (rc != SMAR_OK)
            fail_msg("secret %zu: %d %s", i, rc, smar_export_error(ex));
        assert_text(json, len, want[i]);
    }
    int rc = smar_export_next_secret(ex, &json, &len);
    if (rc != SMAR_DONE)
        fail_msg("expected the end: %d %s", rc, smar_export_error(ex));
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_DONE);
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_OK);
    assert_text(json, len, doc);
    assert_int_equal(json[len], '\0');
}

static void check_message(const smar_export *ex, const char *substring)
{
    const char *msg = smar_export_error(ex);
    /* Every failure is explained. (Checked first and apart: cmocka's fail_msg returns, and
     * strstr(msg, "") == NULL would otherwise mean msg == NULL to the optimiser.) */
    if (msg == NULL || msg[0] == '\0') {
        fail_msg("the failure has no message");
        return;
    }
    if (strstr(msg, substring) == NULL)
        fail_msg("message '%s' lacks '%s'", msg, substring);
    if (strstr(msg, "TOPSECRET") != NULL)
        fail_msg("message echoes input: '%s'", msg);
}

/* Open path and read until the first error, which must be rc with substring in its message. */
static void expect_failure(const char *path, int rc, const char *substring)
{
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    int got = smar_export_open(ex, path);
    const char *json;
    size_t len;
    while (got == SMAR_OK)
        got = smar_export_next_secret(ex, &json, &len);
    if (got != rc)
        fail_msg("%s: got %d (%s), want %d", path, got, smar_export_error(ex), rc);
    check_message(ex, substring);
    /* A failed handle stays failed. */
    if (smar_export_next_secret(ex, &json, &len) != rc && got != SMAR_DONE)
        fail_msg("the error was not repeated");
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_E_INVALID);
    smar_export_free(ex);
}

static void expect_text_failure(const char *text, int rc, const char *substring)
{
    expect_failure(write_text("bad.json", text), rc, substring);
}

/* Make fd 0 read path (the reader keeps reading it until the end, so restore afterwards). */
static int saved_stdin = -1;

static void redirect_stdin(const char *path)
{
    saved_stdin = dup(STDIN_FILENO);
    int fd = open(path, O_RDONLY);
    assert_true(saved_stdin >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
}

static void restore_stdin(void)
{
    assert_int_equal(dup2(saved_stdin, STDIN_FILENO), STDIN_FILENO);
    close(saved_stdin);
    saved_stdin = -1;
}

/* ---- archives, written with libarchive ------------------------------------------------ */

typedef struct entry {
    const char *name; /* ending in '/': a directory */
    const char *data;
} entry;

typedef enum packing { TAR, TAR_GZ, TAR_ZST, TAR_XZ, TAR_BZ2, ZIP } packing;

static void add_filter(struct archive *a, packing how)
{
    switch (how) {
    case TAR_GZ:
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        break;
    case TAR_ZST:
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        break;
    case TAR_XZ:
        assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
        break;
    case TAR_BZ2:
        assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
        break;
    case TAR:
    case ZIP:
        break;
    }
}

static void write_entry(struct archive *a, const entry *e)
{
    struct archive_entry *ae = archive_entry_new();
    assert_non_null(ae);
    size_t n = strlen(e->name);
    bool dir = n > 0 && e->name[n - 1] == '/';
    archive_entry_set_pathname(ae, e->name);
    archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(ae, dir ? 0755 : 0644);
    archive_entry_set_size(ae, dir ? 0 : (la_int64_t)strlen(e->data));
    assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
    if (!dir)
        assert_int_equal(archive_write_data(a, e->data, strlen(e->data)),
                         (la_ssize_t)strlen(e->data));
    archive_entry_free(ae);
}

static const char *write_archive(const char *name, packing how, const entry *entries, size_t n)
{
    const char *path = tmp_path(name);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (how == ZIP)
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    else
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    add_filter(a, how);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        write_entry(a, &entries[i]);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

/* The sample as archive entries under one top folder, instance.json last (so only the
 * first pass can know "exported_at" before the secrets), with desktop junk. */
static const entry sample_entries[] = {
    {"export-2026/", ""},
    {"export-2026/secrets/", ""},
    {"export-2026/secrets/" ID2 ".json", S2 "\n"},
    {"export-2026/secrets/._" ID2 ".json", "junk"},
    {"export-2026/secrets/" ID1 ".json", S1},
    {"export-2026/secrets/.DS_Store", "junk"},
    {"export-2026/README.md", "not part of the export"},
    {"export-2026/secret_groups.json", DIR_GROUPS},
    {"export-2026/configurations.json", DIR_CONFIGS},
    {"__MACOSX/export-2026/._instance.json", "junk"},
    {"export-2026/instance.json", DIR_INSTANCE},
};
static const char *const sample_archive_order[] = {S2, S1};

/* The sample directory: secrets created out of order, with junk around them. */
static const char *write_sample_dir(const char *name)
{
    char sub[512];
    make_dir(name);
    (void)snprintf(sub, sizeof sub, "%s/secrets", name);
    make_dir(sub);
    static const struct {
        const char *file;
        const char *text;
    } files[] = {
        {"instance.json", DIR_INSTANCE},
        {"secret_groups.json", DIR_GROUPS},
        {"configurations.json", DIR_CONFIGS},
        {"README.md", "ignored"},
        {".DS_Store", "junk"},
        {"secrets/" ID3 ".json", S3 "\n"},
        {"secrets/" ID1 ".json", "\n" S1},
        {"secrets/" ID2 ".json", S2},
        {"secrets/._" ID1 ".json", "junk"},
        {"secrets/.DS_Store", "junk"},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(files); i++) {
        char rel[512];
        (void)snprintf(rel, sizeof rel, "%s/%s", name, files[i].file);
        (void)write_text(rel, files[i].text);
    }
    return tmp_path(name);
}

/* ---- JSON documents ------------------------------------------------------------------- */

static void test_document_compact(void **state)
{
    (void)state;
    smar_export *ex = open_ok(write_text("export.json", COMPACT_DOC));
    /* "exported_at" comes before the secrets: known once opened. */
    expect_exported_at(ex, SMAR_OK);
    assert_string_equal(smar_export_location(ex), "");
    const char *json;
    size_t len;
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_E_INVALID);
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S1);
    assert_non_null(strstr(smar_export_location(ex), "export.json: secret #1 (line 1, byte "));
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S2);
    assert_non_null(strstr(smar_export_location(ex), "secret #2"));
    expect_export(ex, compact_secrets + 2, 1, COMPACT_DOC_WANT);
    smar_export_free(ex);
}

static void test_document_pretty(void **state)
{
    (void)state;
    smar_export *ex = open_ok(write_text("export.json", PRETTY_DOC));
    /* "exported_at" comes after the secrets: unknown until they are read. */
    expect_exported_at(ex, SMAR_E_NOTFOUND);
    const char *json;
    size_t len;
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, P1);
    assert_non_null(strstr(smar_export_location(ex), "secret #1 (line 5, byte 22)"));
    expect_export(ex, pretty_secrets + 1, 2, PRETTY_DOC_WANT);
    expect_exported_at(ex, SMAR_OK);
    smar_export_free(ex);
}

static void test_document_without_secrets(void **state)
{
    (void)state;
    smar_export *ex = open_ok(write_text("export.json", JSONL_HEADER "\n"));
    expect_export(ex, NULL, 0, JSONL_DOC_WANT);
    smar_export_free(ex);

    ex = open_ok(write_text("empty.json", " {\"secrets\": [ ] } "));
    expect_exported_at(ex, SMAR_E_NOTFOUND);
    expect_export(ex, NULL, 0, "{}");
    smar_export_free(ex);
}

static void test_document_bad_exported_at(void **state)
{
    (void)state;
    smar_export *ex =
        open_ok(write_text("export.json", "{\"exported_at\":\"2026-11-20\",\"secrets\":[]}"));
    smar_time_ns t;
    assert_int_equal(smar_export_exported_at(ex, &t), SMAR_E_INPUT);
    expect_export(ex, NULL, 0, "{\"exported_at\":\"2026-11-20\"}");
    smar_export_free(ex);

    ex = open_ok(write_text("export.json", "{\"exported_at\":20261120}"));
    assert_int_equal(smar_export_exported_at(ex, &t), SMAR_E_INPUT);
    smar_export_free(ex);
}

/* One secret of 2 MiB: the window grows past its usual size and shrinks back in use. */
static void test_document_large_secret(void **state)
{
    (void)state;
    size_t big = 2u << 20;
    smar_buf doc = {0};
    smar_buf want = {0};
    assert_int_equal(smar_buf_append_str(&want, "{\"id\":\"big\",\"payload\":\""), SMAR_OK);
    assert_int_equal(smar_buf_reserve(&want, big + 16), SMAR_OK);
    for (size_t i = 0; i < big; i++)
        want.data[want.len++] = (uint8_t)('a' + i % 26);
    assert_int_equal(smar_buf_append(&want, "\"}\0", 3), SMAR_OK);
    want.len--;
    assert_int_equal(smar_buf_printf(&doc, "{\"secrets\":[%s,%s]}", (char *)want.data, S1),
                     SMAR_OK);
    const char *path = tmp_path("big.json");
    assert_int_equal(tu_write_file(path, doc.data, doc.len), 0);
    smar_export *ex = open_ok(path);
    const char *texts[] = {(const char *)want.data, S1};
    expect_export(ex, texts, 2, "{}");
    assert_true(smar_export_peak_buffer(ex) >= big);
    smar_export_free(ex);
    smar_buf_free(&doc);
    smar_buf_free(&want);
}

/* ---- JSONL ---------------------------------------------------------------------------- */

static void test_jsonl(void **state)
{
    (void)state;
    const char *text = JSONL_HEADER "\n" S1 "\n\n   \n" S2 "\n" S3; /* no final newline */
    smar_export *ex = open_ok(write_text("export.jsonl", text));
    expect_exported_at(ex, SMAR_OK);
    const char *json;
    size_t len;
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S1);
    assert_string_equal(smar_export_location(ex), tmp_path("export.jsonl:2"));
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S2);
    assert_string_equal(smar_export_location(ex), tmp_path("export.jsonl:5"));
    expect_export(ex, compact_secrets + 2, 1, JSONL_DOC_WANT);
    assert_string_equal(smar_export_location(ex), tmp_path("export.jsonl:6"));
    smar_export_free(ex);
}

static void test_jsonl_crlf(void **state)
{
    (void)state;
    const char *text = JSONL_HEADER "\r\n" S1 "\r\n\r\n \t\r\n" S2 "\r\n" S3 "\r\n\r\n";
    smar_export *ex = open_ok(write_text("export.jsonl", text));
    expect_export(ex, compact_secrets, 3, JSONL_DOC_WANT);
    assert_string_equal(smar_export_location(ex), tmp_path("export.jsonl:6"));
    smar_export_free(ex);
}

/* A header spread over several lines is still recognised. */
static void test_jsonl_multiline_header(void **state)
{
    (void)state;
    const char *text = "{\n \"exported_at\": " EXPORTED_V "\n}\n" S2 "\n";
    smar_export *ex = open_ok(write_text("export.jsonl", text));
    expect_exported_at(ex, SMAR_OK);
    expect_export(ex, compact_secrets + 1, 1, "{\"exported_at\":" EXPORTED_V "}");
    assert_string_equal(smar_export_location(ex), tmp_path("export.jsonl:4"));
    smar_export_free(ex);
}

/* ---- directory ------------------------------------------------------------------------ */

static void test_directory(void **state)
{
    (void)state;
    smar_export *ex = open_ok(write_sample_dir("dir"));
    expect_exported_at(ex, SMAR_OK);
    expect_export(ex, compact_secrets, 3, DIR_DOC_WANT); /* in file name order */
    char want[1024];
    (void)snprintf(want, sizeof want, "%s/secrets/%s.json", tmp_path("dir"), ID3);
    assert_string_equal(smar_export_location(ex), want);
    smar_export_free(ex);
}

static void test_directory_top_folder(void **state)
{
    (void)state;
    make_dir("outer");
    (void)write_sample_dir("outer/export-2026");
    (void)write_text("outer/._export-2026", "junk");
    smar_export *ex = open_ok(tmp_path("outer"));
    expect_export(ex, compact_secrets, 3, DIR_DOC_WANT);
    smar_export_free(ex);
}

static void test_directory_minimal(void **state)
{
    (void)state;
    make_dir("min");
    (void)write_text("min/instance.json", "{\"instance\":{}}");
    smar_export *ex = open_ok(tmp_path("min"));
    expect_exported_at(ex, SMAR_E_NOTFOUND);
    expect_export(ex, NULL, 0, "{\"instance\":{}}");
    smar_export_free(ex);

    /* secret_groups.json as a bare array, configurations.json as a bare value. */
    (void)write_text("min/secret_groups.json", GROUPS_V);
    (void)write_text("min/configurations.json", "{\"a\":1}");
    ex = open_ok(tmp_path("min"));
    expect_export(ex, NULL, 0,
                  "{\"instance\":{},\"secret_groups\":" GROUPS_V ",\"configurations\":{\"a\":1}}");
    smar_export_free(ex);
}

/* ---- archives ------------------------------------------------------------------------- */

static void check_sample_archive(packing how, const char *name)
{
    const char *path = write_archive(name, how, sample_entries, SMAR_ARRAY_LEN(sample_entries));
    smar_export *ex = open_ok(path);
    /* A regular file is read twice: "exported_at" is known before the first secret. */
    expect_exported_at(ex, SMAR_OK);
    const char *json;
    size_t len;
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S2);
    char want[1024];
    (void)snprintf(want, sizeof want, "%s: export-2026/secrets/%s.json", path, ID2);
    assert_string_equal(smar_export_location(ex), want);
    expect_export(ex, sample_archive_order + 1, 1, DIR_DOC_WANT);
    smar_export_free(ex);
}

static void test_tar(void **state)
{
    (void)state;
    check_sample_archive(TAR, "export.tar");
}

static void test_tar_gz(void **state)
{
    (void)state;
    check_sample_archive(TAR_GZ, "export.tgz");
}

static void test_tar_zst(void **state)
{
    (void)state;
    check_sample_archive(TAR_ZST, "export.tar.zst");
}

static void test_tar_xz(void **state)
{
    (void)state;
    check_sample_archive(TAR_XZ, "export.tar.xz");
}

static void test_tar_bz2(void **state)
{
    (void)state;
    check_sample_archive(TAR_BZ2, "export.tar.bz2");
}

static void test_zip(void **state)
{
    (void)state;
    check_sample_archive(ZIP, "export.zip");
}

/* Files at the archive's root, named "./x" as tar(1) writes them; the name says nothing. */
static void test_tar_flat(void **state)
{
    (void)state;
    const entry entries[] = {
        {"./", ""},
        {"./instance.json", DIR_INSTANCE},
        {"./secrets/" ID3 ".json", S3},
        {"./secrets/" ID1 ".json", S1},
    };
    const char *path = write_archive("export.data", TAR_GZ, entries, SMAR_ARRAY_LEN(entries));
    smar_export *ex = open_ok(path);
    const char *want[] = {S3, S1};
    expect_export(ex, want, 2, "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V "}");
    smar_export_free(ex);
}

/* ---- a compressed JSON document or JSONL ----------------------------------------------- */

/* text compressed as a tar would be with `how` (gzip, zstd, xz, bzip2), as a plain stream */
static const char *write_compressed(const char *name, packing how, const char *text)
{
    const char *path = tmp_path(name);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    add_filter(a, how);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *ae = archive_entry_new();
    assert_non_null(ae);
    archive_entry_set_pathname(ae, "data");
    archive_entry_set_filetype(ae, AE_IFREG);
    assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, text, strlen(text)), (la_ssize_t)strlen(text));
    archive_entry_free(ae);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static const packing compressions[] = {TAR_GZ, TAR_ZST, TAR_XZ, TAR_BZ2};

static void read_from_stdin(const char *path, const char *const *want, size_t n, const char *doc,
                            int exported_at_at_open);

/* Recognised by content (the names say nothing), from a file and from standard input. */
static void test_compressed_document(void **state)
{
    (void)state;
    for (size_t i = 0; i < SMAR_ARRAY_LEN(compressions); i++) {
        const char *path = write_compressed("export.data", compressions[i], COMPACT_DOC);
        smar_export *ex = open_ok(path);
        expect_exported_at(ex, SMAR_OK);
        expect_export(ex, compact_secrets, 3, COMPACT_DOC_WANT);
        smar_export_free(ex);
        read_from_stdin(path, compact_secrets, 3, COMPACT_DOC_WANT, SMAR_OK);

        path = write_compressed("pretty.data", compressions[i], PRETTY_DOC);
        ex = open_ok(path);
        expect_export(ex, pretty_secrets, 3, PRETTY_DOC_WANT);
        smar_export_free(ex);
    }
}

static void test_compressed_jsonl(void **state)
{
    (void)state;
    const char *text = JSONL_HEADER "\n" S1 "\n" S2 "\n" S3 "\n";
    for (size_t i = 0; i < SMAR_ARRAY_LEN(compressions); i++) {
        const char *path = write_compressed("export.jsonl.z", compressions[i], text);
        smar_export *ex = open_ok(path);
        expect_export(ex, compact_secrets, 3, JSONL_DOC_WANT);
        smar_export_free(ex);
        read_from_stdin(path, compact_secrets, 3, JSONL_DOC_WANT, SMAR_OK);
    }
}

/* Damage inside the compressed stream is an input error naming the file; so is a
 * compressed value that is not an export. */
static void test_compressed_errors(void **state)
{
    (void)state;
    const char *path = write_compressed("cut.json.gz", TAR_GZ, COMPACT_DOC);
    size_t len;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(tu_write_file(path, data, len - 12), 0); /* no CRC, no size */
    free(data);
    expect_failure(path, SMAR_E_INPUT, "cut.json.gz: cannot decompress");

    expect_failure(write_compressed("null.gz", TAR_GZ, "null\n"), SMAR_E_INPUT,
                   "null.gz: the export is JSON null, not a JSON object");
    expect_failure(write_compressed("blank.zst", TAR_ZST, " \n\n "), SMAR_E_INPUT,
                   "blank.zst: the export is empty");
    expect_failure(write_compressed("text.xz", TAR_XZ, "hello"), SMAR_E_INPUT,
                   "text.xz: not a recognisable export");
}

/* ---- standard input --------------------------------------------------------------------- */

static void read_from_stdin(const char *path, const char *const *want, size_t n, const char *doc,
                            int exported_at_at_open)
{
    redirect_stdin(path);
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    int rc = smar_export_open(ex, "-");
    if (rc != SMAR_OK)
        fail_msg("open stdin: %s", smar_export_error(ex));
    expect_exported_at(ex, exported_at_at_open);
    expect_export(ex, want, n, doc);
    expect_exported_at(ex, SMAR_OK);
    smar_export_free(ex);
    restore_stdin();
}

static void test_stdin_document(void **state)
{
    (void)state;
    read_from_stdin(write_text("in.json", COMPACT_DOC), compact_secrets, 3, COMPACT_DOC_WANT,
                    SMAR_OK);
    read_from_stdin(write_text("in2.json", PRETTY_DOC), pretty_secrets, 3, PRETTY_DOC_WANT,
                    SMAR_E_NOTFOUND);
}

static void test_stdin_jsonl(void **state)
{
    (void)state;
    const char *text = JSONL_HEADER "\n" S1 "\n" S2 "\n" S3 "\n";
    read_from_stdin(write_text("in.jsonl", text), compact_secrets, 3, JSONL_DOC_WANT, SMAR_OK);
}

static void test_stdin_archives(void **state)
{
    (void)state;
    static const packing packings[] = {TAR, TAR_GZ, TAR_ZST, TAR_XZ, TAR_BZ2, ZIP};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(packings); i++) {
        char name[32];
        (void)snprintf(name, sizeof name, "stdin-%zu", i);
        const char *path =
            write_archive(name, packings[i], sample_entries, SMAR_ARRAY_LEN(sample_entries));
        /* One pass only: instance.json comes last, so "exported_at" comes late. */
        read_from_stdin(path, sample_archive_order, 2, DIR_DOC_WANT, SMAR_E_NOTFOUND);
    }
}

static void test_stdin_archive_instance_first(void **state)
{
    (void)state;
    const entry entries[] = {
        {"instance.json", DIR_INSTANCE},
        {"secrets/" ID1 ".json", S1},
    };
    const char *path = write_archive("first.tar.zst", TAR_ZST, entries, SMAR_ARRAY_LEN(entries));
    read_from_stdin(path, compact_secrets, 1,
                    "{\"instance\":" INSTANCE_V ",\"exported_at\":" EXPORTED_V "}", SMAR_OK);
}

/* ---- a caller that validates: secrets found by structure only --------------------------- */

/* Read path with smar_export_trust_caller_validation; the secrets must be want[0..n) and
 * the reading must end with rc. */
static void read_trusting(const char *path, const char *const *want, size_t n, int rc,
                          const char *substring)
{
    smar_export *ex;
    const char *json;
    size_t len, i = 0;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    assert_int_equal(smar_export_trust_caller_validation(ex), SMAR_OK);
    int got = smar_export_open(ex, path);
    while (got == SMAR_OK && (got = smar_export_next_secret(ex, &json, &len)) == SMAR_OK) {
        assert_true(i < n);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(json, want[i], len);
        i++;
    }
    assert_int_equal(i, n);
    if (got != rc)
        fail_msg("%s: got %d (%s), want %d", path, got, smar_export_error(ex), rc);
    if (substring != NULL)
        check_message(ex, substring);
    smar_export_free(ex);
}

static void test_trust_caller_validation(void **state)
{
    (void)state;
    /* Bad JSON inside a secret is the caller's to find: it is handed out as written. */
    const char *bad = "{\"id\": TOPSECRET, \"a\":[1,]}";
    const char *with_bad[] = {S1, bad, S2};
    read_trusting(write_text("t1.json", "{\"secrets\":[" S1 ",\n "
                                        "{\"id\": TOPSECRET, \"a\":[1,]}"
                                        " ,\n" S2 "]}"),
                  with_bad, 3, SMAR_DONE, NULL);
    read_trusting(write_text("t2.jsonl", JSONL_HEADER
                             "\n" S1 "\n  {\"id\": TOPSECRET, \"a\":[1,]}\r\n" S2 "\n"),
                  with_bad, 3, SMAR_DONE, NULL);
    /* What the structure shows is still refused by the reader. */
    read_trusting(write_text("t3.json", "{\"secrets\":[" S1 ", 5]}"), with_bad, 1, SMAR_E_INPUT,
                  "t3.json:1: secret #2 is not a JSON object");
    read_trusting(write_text("t4.json", "{\"secrets\":[" S1 ",{\"id\":\"TOPSECRET"), with_bad, 1,
                  SMAR_E_INPUT, "unexpected end of input");
    read_trusting(write_text("t5.jsonl", JSONL_HEADER "\n" S1 "\n[1]\n"), with_bad, 1, SMAR_E_INPUT,
                  "t5.jsonl:3: the line is not a JSON object");
    /* The document members are still validated. */
    read_trusting(write_text("t6.json", "{\"instance\":{\"a\":TOPSECRET},\"secrets\":[]}"),
                  with_bad, 0, SMAR_E_INPUT, "invalid JSON");
    /* Only before opening. */
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    assert_int_equal(smar_export_open(ex, tmp_path("t1.json")), SMAR_OK);
    assert_int_equal(smar_export_trust_caller_validation(ex), SMAR_E_INVALID);
    smar_export_free(ex);
    assert_int_equal(smar_export_trust_caller_validation(NULL), SMAR_E_INVALID);
}

/* The structural scan steps over strings in blocks: escapes, escaped quotes and backslash
 * runs at every alignment, and across the reads' window boundaries, must still end each
 * secret where it ends (checked against the validating reader, and line numbers after). */
static void test_scan_escapes_every_alignment(void **state)
{
    (void)state;
    static const char *const pieces[] = {"\\\\", "\\\"", "\\\\\\\"", "\\n",     "\\u00e9",
                                         "]}[{", "x",    "\\/",      "\xc3\xa9"};
    smar_buf doc = {0};
    smar_buf secret = {0};
    assert_int_equal(smar_buf_append_str(&secret, "{\"id\":\"" ID1 "\",\"payload\":\""), 0);
    for (size_t i = 0; secret.len < 300 * 1024; i++)
        assert_int_equal(smar_buf_append_str(&secret, pieces[(i * 7 + i / 3) % 9]), 0);
    assert_int_equal(smar_buf_append_str(&secret, "\"}"), 0);
    assert_int_equal(smar_buf_append_str(&doc, "{\"secrets\":[\n"), 0);
    assert_int_equal(smar_buf_append(&doc, secret.data, secret.len), 0);
    assert_int_equal(smar_buf_append_str(&doc, ",\n" S2 "\n]}"), 0);
    assert_int_equal(smar_buf_append(&doc, "", 1), 0);
    const char *path = write_text("esc.json", (const char *)doc.data);
    for (int trusting = 0; trusting < 2; trusting++) {
        smar_export *ex;
        const char *json;
        size_t len;
        assert_int_equal(smar_export_new(&ex), SMAR_OK);
        if (trusting)
            assert_int_equal(smar_export_trust_caller_validation(ex), SMAR_OK);
        assert_int_equal(smar_export_open(ex, path), SMAR_OK);
        assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
        assert_int_equal(len, secret.len);
        assert_memory_equal(json, secret.data, len);
        assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
        assert_int_equal(len, strlen(S2));
        assert_non_null(strstr(smar_export_location(ex), "secret #2 (line 3,"));
        assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_DONE);
        smar_export_free(ex);
    }
    smar_buf_free(&doc);
    smar_buf_free(&secret);
}

/* ---- errors: JSON and JSONL --------------------------------------------------------------- */

static void test_document_errors(void **state)
{
    (void)state;
    /* Each message names the file and the line of the problem. */
    expect_text_failure("{\"secrets\":[" S1 ",\n{\"id\": TOPSECRET}]}", SMAR_E_INPUT,
                        "bad.json:2: invalid JSON: unexpected character at byte 7");
    expect_text_failure("{\"secrets\":[\n{\n\"id\":\"a\",\n\"x\":tru\n}]}", SMAR_E_INPUT,
                        "bad.json:4: invalid JSON");
    expect_text_failure("{\"secrets\":[{\"id\":\"a\"}, 5]}", SMAR_E_INPUT,
                        "bad.json:1: secret #2 is not a JSON object");
    expect_text_failure("{\"secrets\":[{\"id\":\"a\"}, \"TOPSECRET\"]}", SMAR_E_INPUT,
                        "secret #2 is not a JSON object");
    expect_text_failure("{\n\"instance\":{\"a\":TOPSECRET}}", SMAR_E_INPUT,
                        "bad.json:2: invalid JSON");
    expect_text_failure("{\"secrets\":[{\"id\":\"a\"}", SMAR_E_INPUT,
                        "bad.json:1: invalid JSON: unexpected end of input");
    expect_text_failure("{\"secrets\":[{\"id\":\"TOPSECRET", SMAR_E_INPUT,
                        "unexpected end of input");
    expect_text_failure("{\"instance\":{}", SMAR_E_INPUT, "unexpected end of input");
    expect_text_failure("{\"secrets\":{}}", SMAR_E_INPUT, "\"secrets\" is not an array");
    expect_text_failure("{\"secrets\":[],\n\"secrets\":[]}", SMAR_E_INPUT,
                        "bad.json:2: invalid JSON: duplicate key \"secrets\"");
    expect_text_failure("{\"a\":1,\"a\":2,\"secrets\":[]}", SMAR_E_INPUT,
                        "invalid document members: duplicate object key");
    expect_text_failure("{\"secrets\":[]}\n{}", SMAR_E_INPUT,
                        "bad.json:2: unexpected data after the JSON document");
    expect_text_failure("{\"a\":1} {\"TOPSECRET\":1}", SMAR_E_INPUT,
                        "bad.json:1: unexpected data after the JSON document");
    expect_text_failure("{\"secrets\":[{\"id\":\"a\"},]}", SMAR_E_INPUT, "expected a value");
    expect_text_failure("{\"secrets\":[{\"id\":\"a\"} {}]}", SMAR_E_INPUT,
                        "expected ',' or ']' after a secret");
    expect_text_failure("{\"a\" 1}", SMAR_E_INPUT, "expected ':'");
    expect_text_failure("{\"a\":1 \"b\":2}", SMAR_E_INPUT, "expected ',' or '}' after a member");
    expect_text_failure("{,}", SMAR_E_INPUT, "expected a member name");
    expect_text_failure("{\"a\":}", SMAR_E_INPUT, "expected a value");
    expect_text_failure("{\"a\\x\":1}", SMAR_E_INPUT, "bad.json:1: invalid JSON: invalid escape");
    expect_text_failure("{\"instance\":{\"crn\":\"\xff\"}}", SMAR_E_INPUT, "invalid UTF-8");
}

static void test_jsonl_errors(void **state)
{
    (void)state;
    expect_text_failure(JSONL_HEADER "\n" S1 "\n{\"id\":TOPSECRET\n", SMAR_E_INPUT,
                        "bad.json:3: invalid JSON: unexpected character at byte 6");
    expect_text_failure(JSONL_HEADER "\r\n\r\n[1]\r\n", SMAR_E_INPUT,
                        "bad.json:3: the line is not a JSON object");
    expect_text_failure(JSONL_HEADER "\n" S1 " " S2 "\n", SMAR_E_INPUT,
                        "bad.json:2: invalid JSON: unexpected data after value");
    expect_text_failure(JSONL_HEADER "\n{\"id\":\"a\",\n\"b\":1}\n", SMAR_E_INPUT,
                        "bad.json:2: invalid JSON");
}

static void test_not_an_export(void **state)
{
    (void)state;
    expect_text_failure("", SMAR_E_INPUT, "the export is empty");
    expect_text_failure(" \n\t\r\n", SMAR_E_INPUT, "the export is empty");
    expect_text_failure("hello TOPSECRET world\n", SMAR_E_INPUT, "not a recognisable export");
    expect_text_failure("[" S1 "]", SMAR_E_INPUT, "the export is a JSON array, not a JSON object");
    expect_text_failure("\xEF\xBB\xBF{}", SMAR_E_INPUT, "byte order mark");
    expect_failure(tmp_path("does-not-exist"), SMAR_E_IO, "does-not-exist: cannot open");
    /* JSON, but not an object: said so, with what it is. */
    expect_text_failure("null", SMAR_E_INPUT,
                        "bad.json: the export is JSON null, not a JSON object");
    expect_text_failure(" []\n", SMAR_E_INPUT, "the export is a JSON array, not a JSON object");
    expect_text_failure("42\n", SMAR_E_INPUT, "the export is a JSON number, not a JSON object");
    expect_text_failure("-1.5e3", SMAR_E_INPUT, "the export is a JSON number");
    expect_text_failure("\"x\"", SMAR_E_INPUT, "the export is a JSON string");
    expect_text_failure("false", SMAR_E_INPUT, "the export is a JSON boolean");
    expect_text_failure("[1,", SMAR_E_INPUT, "the export starts like a JSON array");
    expect_text_failure("nothing here", SMAR_E_INPUT, "not a recognisable export");
    /* An smar archive given as the export. */
    expect_text_failure("\x89SMAR\r\n\x1a and more", SMAR_E_INPUT,
                        "bad.json: this is an smar archive, not an instance export");

    /* A damaged archive: the first half of a compressed tar. */
    const char *path =
        write_archive("cut.tar.gz", TAR_GZ, sample_entries, SMAR_ARRAY_LEN(sample_entries));
    size_t len;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(tu_write_file(path, data, len / 2), 0);
    free(data);
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    int rc = smar_export_open(ex, path);
    const char *json;
    while (rc == SMAR_OK)
        rc = smar_export_next_secret(ex, &json, &len);
    assert_int_equal(rc, SMAR_E_INPUT); /* damaged input, not an I/O error */
    smar_export_free(ex);
}

/* ---- errors: directory and archives ------------------------------------------------------------
 */

static void test_directory_errors(void **state)
{
    (void)state;
    make_dir("e1");
    (void)write_text("e1/secret_groups.json", DIR_GROUPS);
    expect_failure(tmp_path("e1"), SMAR_E_INPUT, "no instance.json");

    (void)write_sample_dir("e2");
    (void)write_text("e2/secrets/notes.txt", "TOPSECRET");
    expect_failure(tmp_path("e2"), SMAR_E_INPUT, "secrets/notes.txt: unexpected file");

    (void)write_sample_dir("e3");
    (void)write_text("e3/secrets/" ID2 ".json", S1);
    expect_failure(tmp_path("e3"), SMAR_E_INPUT,
                   "e3/secrets/" ID2 ".json: the secret's \"id\" does not match the file name");

    (void)write_sample_dir("e4");
    (void)write_text("e4/secrets/" ID2 ".json", "{\n\"payload\": TOPSECRET}");
    expect_failure(tmp_path("e4"), SMAR_E_INPUT,
                   "e4/secrets/" ID2 ".json:2: invalid JSON: unexpected character");

    (void)write_sample_dir("e5");
    (void)write_text("e5/instance.json", "{\"instance\":{},\"secrets\":[]}");
    expect_failure(tmp_path("e5"), SMAR_E_INPUT, "e5/instance.json: has a \"secrets\" member");

    (void)write_sample_dir("e6");
    (void)write_text("e6/secrets/" ID2 ".json", "[\"TOPSECRET\"]");
    expect_failure(tmp_path("e6"), SMAR_E_INPUT, ID2 ".json: not a JSON object");

    (void)write_sample_dir("e7");
    (void)write_text("e7/secrets/" ID2 ".json", "{\"name\":\"x\"}");
    expect_failure(tmp_path("e7"), SMAR_E_INPUT, "the secret has no \"id\" string");

    (void)write_sample_dir("e8");
    (void)write_text("e8/secret_groups.json", "{\"total_count\":0}");
    expect_failure(tmp_path("e8"), SMAR_E_INPUT, "secret_groups.json: no \"secret_groups\"");

    (void)write_sample_dir("e9");
    (void)write_text("e9/instance.json", "{\"instance\":{},\"secret_groups\":[]}");
    expect_failure(tmp_path("e9"), SMAR_E_INPUT, "duplicate object key");

    (void)write_sample_dir("e10");
    make_dir("e10/secrets/sub.json");
    expect_failure(tmp_path("e10"), SMAR_E_INPUT, "sub.json: not a regular file");

    (void)write_sample_dir("e11");
    (void)write_text("e11/instance.json", "[]");
    expect_failure(tmp_path("e11"), SMAR_E_INPUT, "e11/instance.json: not a JSON object");

    /* Two folders: which one is the export is not guessed. */
    make_dir("e12");
    (void)write_sample_dir("e12/a");
    (void)write_sample_dir("e12/b");
    expect_failure(tmp_path("e12"), SMAR_E_INPUT, "no instance.json");
}

static void test_archive_errors(void **state)
{
    (void)state;
    const entry no_instance[] = {{"secrets/" ID1 ".json", S1}};
    expect_failure(write_archive("a1.tar", TAR, no_instance, 1), SMAR_E_INPUT,
                   "a1.tar: no instance.json in the archive");

    const entry bad_name[] = {{"instance.json", DIR_INSTANCE}, {"secrets/x.txt", "TOPSECRET"}};
    expect_failure(write_archive("a2.tar", TAR, bad_name, 2), SMAR_E_INPUT,
                   "a2.tar: secrets/x.txt: unexpected entry");

    const entry nested[] = {{"instance.json", DIR_INSTANCE}, {"secrets/a/b.json", S1}};
    expect_failure(write_archive("a3.zip", ZIP, nested, 2), SMAR_E_INPUT,
                   "secrets/a/b.json: unexpected entry");

    const entry mismatch[] = {{"e/instance.json", DIR_INSTANCE}, {"e/secrets/" ID2 ".json", S1}};
    expect_failure(write_archive("a4.tar.gz", TAR_GZ, mismatch, 2), SMAR_E_INPUT,
                   "a4.tar.gz: e/secrets/" ID2 ".json: the secret's \"id\" does not match");

    const entry invalid[] = {{"instance.json", DIR_INSTANCE},
                             {"secrets/" ID1 ".json", "{\"id\":\"" ID1 "\",\n\n TOPSECRET}"}};
    expect_failure(write_archive("a5.tar.xz", TAR_XZ, invalid, 2), SMAR_E_INPUT,
                   "a5.tar.xz: secrets/" ID1 ".json:3: invalid JSON");

    const entry two_roots[] = {{"a/instance.json", DIR_INSTANCE}, {"b/secrets/" ID1 ".json", S1}};
    expect_failure(write_archive("a6.tar", TAR, two_roots, 2), SMAR_E_INPUT,
                   "b/secrets/" ID1 ".json: the archive holds files of more than one export");

    const entry twice[] = {{"instance.json", DIR_INSTANCE}, {"instance.json", DIR_INSTANCE}};
    expect_failure(write_archive("a7.tar", TAR, twice, 2), SMAR_E_INPUT,
                   "instance.json: appears twice");

    const entry bad_instance[] = {{"instance.json", "{\"instance\": TOPSECRET}"}};
    expect_failure(write_archive("a8.zip", ZIP, bad_instance, 1), SMAR_E_INPUT,
                   "a8.zip: instance.json:1: invalid JSON");

    /* From stdin the missing instance.json shows only at the end, after the secrets. */
    redirect_stdin(tmp_path("a1.tar"));
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    assert_int_equal(smar_export_open(ex, "-"), SMAR_OK);
    const char *json;
    size_t len;
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    assert_text(json, len, S1);
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_E_INPUT);
    check_message(ex, "stdin: no instance.json in the archive");
    smar_export_free(ex);
    restore_stdin();
}

/* ---- limits ------------------------------------------------------------------------------- */

static void expect_limit(const char *path, size_t max_secret, size_t max_document,
                         const char *substring)
{
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    smar_export_set_limits(ex, max_secret, max_document);
    int rc = smar_export_open(ex, path);
    const char *json;
    size_t len;
    while (rc == SMAR_OK)
        rc = smar_export_next_secret(ex, &json, &len);
    if (rc != SMAR_E_LIMIT)
        fail_msg("%s: got %d (%s), want a limit error", path, rc, smar_export_error(ex));
    check_message(ex, substring);
    smar_export_free(ex);
}

static void test_limits(void **state)
{
    (void)state;
    size_t s1 = strlen(S1);
    const char *doc = write_text("l.json", "{\"secrets\":[\n" S2 ",\n" S1 "]}");
    expect_limit(doc, s1 - 1, 1 << 20, "l.json:3: secret #2 is larger than the limit of");
    const char *jsonl = write_text("l.jsonl", "{}\n" S2 "\n" S1 "\r\n");
    expect_limit(jsonl, s1 - 1, 1 << 20, "l.jsonl:3: secret is larger than the limit");
    const char *members = write_text("m.json", "{\"instance\":\n" INSTANCE_V "}");
    expect_limit(members, 1 << 20, 100, "m.json:2: a document member is larger than the limit");

    (void)write_sample_dir("ld");
    char want[1024];
    (void)snprintf(want, sizeof want, "ld/secrets/%s.json: larger than the limit of %zu", ID1,
                   s1 - 1);
    expect_limit(tmp_path("ld"), s1 - 1, 1 << 20, want);
    expect_limit(tmp_path("ld"), 1 << 20, 100, "ld/instance.json: the document members");

    const char *tar =
        write_archive("l.tar.gz", TAR_GZ, sample_entries, SMAR_ARRAY_LEN(sample_entries));
    expect_limit(tar, s1 - 1, 1 << 20, "l.tar.gz: export-2026/secrets/" ID1 ".json: larger");
    expect_limit(tar, 1 << 20, 100, "l.tar.gz: export-2026/instance.json: the document members");

    /* Exactly at the limit is accepted, in every layout. */
    const char *paths[] = {doc, jsonl, tmp_path("ld"), tar};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(paths); i++) {
        smar_export *ex;
        assert_int_equal(smar_export_new(&ex), SMAR_OK);
        smar_export_set_limits(ex, s1 + 1, 1 << 20);
        int rc = smar_export_open(ex, paths[i]);
        const char *json;
        size_t len;
        while (rc == SMAR_OK)
            rc = smar_export_next_secret(ex, &json, &len);
        if (rc != SMAR_DONE)
            fail_msg("%s: %s", paths[i], smar_export_error(ex));
        smar_export_free(ex);
    }
}

/* ---- streaming ---------------------------------------------------------------------------- */

#define MANY 200000

static int format_secret(char *buf, size_t cap, unsigned i)
{
    return snprintf(buf, cap,
                    "{\"id\":\"%08u-0000-4000-8000-000000000000\",\"name\":\"s%u\","
                    "\"secret_type\":\"arbitrary\",\"payload\":\"p%u-abcdefghijklmnopqrstuvwxyz"
                    "0123456789\",\"versions\":[{\"id\":\"v%u\",\"n\":[%u,{\"x\":\"]\"}]}]}",
                    i, i, i, i, i);
}

static void write_many(const char *path, bool jsonl, unsigned count)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(jsonl ? "{\"exported_at\":" EXPORTED_V "}\n"
                : "{\"exported_at\":" EXPORTED_V ",\"secrets\":[\n",
          f);
    char buf[512];
    for (unsigned i = 0; i < count; i++) {
        (void)format_secret(buf, sizeof buf, i);
        fputs(buf, f);
        fputs(jsonl ? "\n" : (i + 1 < count ? ",\n" : "\n"), f);
    }
    if (!jsonl)
        fputs("],\"secret_groups\":[]}\n", f);
    assert_int_equal(fclose(f), 0);
}

static void read_many(const char *path, unsigned count)
{
    smar_export *ex = open_ok(path);
    char want[512];
    const char *json;
    size_t len;
    for (unsigned i = 0; i < count; i++) {
        int rc = smar_export_next_secret(ex, &json, &len);
        if (rc != SMAR_OK)
            fail_msg("secret %u: %s", i, smar_export_error(ex));
        int n = format_secret(want, sizeof want, i);
        if (len != (size_t)n || memcmp(json, want, len) != 0)
            fail_msg("secret %u differs", i);
    }
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_DONE);
    /* The input is tens of MB; the reader's buffers stay at a few read chunks. */
    assert_true(smar_export_peak_buffer(ex) <= 4 * SMAR_EXPORT_READ_CHUNK);
    smar_export_free(ex);
}

static void test_stream_many_document(void **state)
{
    (void)state;
    const char *path = tmp_path("many.json");
    write_many(path, false, MANY);
    read_many(path, MANY);
    assert_int_equal(unlink(path), 0);
}

static void test_stream_many_jsonl(void **state)
{
    (void)state;
    const char *path = tmp_path("many.jsonl");
    write_many(path, true, MANY / 4);
    read_many(path, MANY / 4);
    assert_int_equal(unlink(path), 0);
}

static void test_stream_many_archive(void **state)
{
    (void)state;
    enum { COUNT = 2000 };
    entry *entries = calloc(COUNT + 1, sizeof *entries);
    char(*names)[64] = calloc(COUNT, sizeof *names);
    char(*texts)[512] = calloc(COUNT, sizeof *texts);
    assert_true(entries != NULL && names != NULL && texts != NULL);
    entries[0] = (entry){"x/instance.json", DIR_INSTANCE};
    for (unsigned i = 0; i < COUNT; i++) {
        (void)format_secret(texts[i], sizeof texts[i], i);
        (void)snprintf(names[i], sizeof names[i], "x/secrets/%08u-0000-4000-8000-000000000000.json",
                       i);
        entries[i + 1] = (entry){names[i], texts[i]};
    }
    const char *path = write_archive("many.tar.zst", TAR_ZST, entries, COUNT + 1);
    smar_export *ex = open_ok(path);
    const char *json;
    size_t len;
    unsigned n = 0;
    while (smar_export_next_secret(ex, &json, &len) == SMAR_OK) {
        assert_text(json, len, texts[n]);
        n++;
    }
    assert_int_equal(n, COUNT);
    assert_true(smar_export_peak_buffer(ex) <= 4 * SMAR_EXPORT_READ_CHUNK);
    smar_export_free(ex);
    free(entries);
    free(names);
    free(texts);
}

/* ---- damaged input ---------------------------------------------------------------------- */

/* Read a whole export; returns the final status (SMAR_DONE when it was read to the end). */
static int read_through(const char *path)
{
    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    int rc = smar_export_open(ex, path);
    const char *json;
    size_t len;
    while (rc == SMAR_OK)
        rc = smar_export_next_secret(ex, &json, &len);
    if (rc != SMAR_DONE)
        check_message(ex, "");
    smar_export_free(ex);
    return rc;
}

/* Every prefix of a document is refused cleanly; prefixes of JSONL cut at a line end are
 * valid exports themselves, others are refused. */
static void test_truncations(void **state)
{
    (void)state;
    const char *path = tmp_path("cut.json");
    static const char doc[] = COMPACT_DOC;
    for (size_t n = 1; n < sizeof doc - 1; n++) {
        assert_int_equal(tu_write_file(path, doc, n), 0);
        int rc = read_through(path);
        if (rc != SMAR_E_INPUT)
            fail_msg("prefix of %zu bytes: %d", n, rc);
    }
    static const char jsonl[] = JSONL_HEADER "\n" S1 "\n" S2 "\n";
    for (size_t n = 1; n < sizeof jsonl - 1; n++) {
        assert_int_equal(tu_write_file(path, jsonl, n), 0);
        int rc = read_through(path);
        bool line_end = jsonl[n - 1] == '\n' || jsonl[n] == '\n';
        if (rc != (line_end ? SMAR_DONE : SMAR_E_INPUT))
            fail_msg("JSONL prefix of %zu bytes: %d", n, rc);
    }
    const char *tar = write_archive("cut.tgz", TAR_GZ, sample_entries, 3);
    size_t len;
    char *data = tu_read_file(tar, &len);
    assert_non_null(data);
    for (size_t n = 1; n < len; n += 7) {
        assert_int_equal(tu_write_file(path, data, n), 0);
        int rc = read_through(path);
        assert_int_equal(rc, SMAR_E_INPUT); /* damaged input, not an I/O error */
    }
    free(data);
}

/* A long blank prefix (longer than the first look at the input) is still JSON. */
static void test_long_blank_prefix(void **state)
{
    (void)state;
    smar_buf text = {0};
    for (size_t i = 0; i < 3 * SMAR_EXPORT_READ_CHUNK; i++)
        assert_int_equal(smar_buf_append(&text, i % 80 == 79 ? "\n" : " ", 1), SMAR_OK);
    assert_int_equal(smar_buf_append_str(&text, COMPACT_DOC), SMAR_OK);
    const char *path = tmp_path("blank.json");
    assert_int_equal(tu_write_file(path, text.data, text.len), 0);
    smar_export *ex = open_ok(path);
    expect_export(ex, compact_secrets, 3, COMPACT_DOC_WANT);
    smar_export_free(ex);
    smar_buf_free(&text);
}

/* ---- the API's rules ---------------------------------------------------------------------- */

static void test_api_misuse(void **state)
{
    (void)state;
    assert_int_equal(smar_export_new(NULL), SMAR_E_INVALID);
    smar_export_free(NULL);
    assert_non_null(smar_export_error(NULL));
    assert_string_equal(smar_export_location(NULL), "");
    assert_int_equal(smar_export_open(NULL, "x"), SMAR_E_INVALID);
    const char *json;
    size_t len;
    smar_time_ns t;
    assert_int_equal(smar_export_next_secret(NULL, &json, &len), SMAR_E_INVALID);
    assert_int_equal(smar_export_exported_at(NULL, &t), SMAR_E_INVALID);
    assert_int_equal(smar_export_document(NULL, &json, &len), SMAR_E_INVALID);

    smar_export *ex;
    assert_int_equal(smar_export_new(&ex), SMAR_OK);
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_E_INVALID);
    check_message(ex, "not open");
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_E_INVALID);
    assert_int_equal(smar_export_exported_at(ex, &t), SMAR_E_NOTFOUND);
    assert_true(t == SMAR_TIME_NONE);
    assert_int_equal(smar_export_open(ex, NULL), SMAR_E_INVALID);
    assert_int_equal(smar_export_open(ex, write_text("x.json", COMPACT_DOC)), SMAR_OK);
    assert_int_equal(smar_export_open(ex, tmp_path("x.json")), SMAR_E_INVALID);
    assert_int_equal(smar_export_next_secret(ex, NULL, &len), SMAR_E_INVALID);
    assert_int_equal(smar_export_document(ex, &json, &len), SMAR_E_INVALID);
    check_message(ex, "once every secret was read");
    /* Freeing half-way through releases everything (ASan checks). */
    assert_int_equal(smar_export_next_secret(ex, &json, &len), SMAR_OK);
    smar_export_free(ex);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmp, teardown_tmp)

int main(void)
{
    if (smar_init() != SMAR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        T(test_document_compact),
        T(test_document_pretty),
        T(test_document_without_secrets),
        T(test_document_bad_exported_at),
        T(test_document_large_secret),
        T(test_jsonl),
        T(test_trust_caller_validation),
        T(test_scan_escapes_every_alignment),
        T(test_jsonl_crlf),
        T(test_jsonl_multiline_header),
        T(test_directory),
        T(test_directory_top_folder),
        T(test_directory_minimal),
        T(test_tar),
        T(test_tar_gz),
        T(test_tar_zst),
        T(test_tar_xz),
        T(test_tar_bz2),
        T(test_zip),
        T(test_tar_flat),
        T(test_compressed_document),
        T(test_compressed_jsonl),
        T(test_compressed_errors),
        T(test_stdin_document),
        T(test_stdin_jsonl),
        T(test_stdin_archives),
        T(test_stdin_archive_instance_first),
        T(test_document_errors),
        T(test_jsonl_errors),
        T(test_not_an_export),
        T(test_directory_errors),
        T(test_archive_errors),
        T(test_limits),
        T(test_stream_many_document),
        T(test_stream_many_jsonl),
        T(test_stream_many_archive),
        T(test_truncations),
        T(test_long_blank_prefix),
        T(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
