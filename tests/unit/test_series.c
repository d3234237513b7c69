/*
 * test_series.c - point-in-time queries over a series of archives (smar/series.h).
 *
 * Three nightly snapshots of one small instance are written through the public writer:
 *
 *   S1 2026-01-10   A (a0 a1 a2, payloads a1 a2)  B  E
 *   S2 2026-01-20   A (a0..a3, payloads a2 a3)    B  E  F
 *   S3 2026-01-30   A (a0..a4, payloads a3 a4)       E     C
 *
 * A arbitrary, rotated between snapshots; its group is "prod" (renamed "production" in S3).
 * B username_password, deleted between S2 and S3. C kv, created between S2 and S3, with the
 * same name as A (names are unique per type only) and numbers that must stay byte-exact.
 * E iam_credentials whose export never carried the api_key. F arbitrary, created after S1,
 * deleted before S3, with a payload only at the secret level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smar/reader.h"
#include "smar/series.h"
#include "smar/writer.h"
#include "testutil.h"

/* ---- the instance ---------------------------------------------------------------------- */

#define ID_A    "0a000000-0000-4000-8000-00000000000a"
#define ID_B    "0b000000-0000-4000-8000-00000000000b"
#define ID_C    "0c000000-0000-4000-8000-00000000000c"
#define ID_E    "0e000000-0000-4000-8000-00000000000e"
#define ID_F    "0f000000-0000-4000-8000-00000000000f"
#define ID_G    "09000000-0000-4000-8000-000000000009"
#define ID_H    "0d000000-0000-4000-8000-00000000000d"
#define ID_V1   "0c000000-0000-4000-8000-0000000000c1"
#define ID_V2   "0c000000-0000-4000-8000-0000000000c2"
#define GROUP_X "7a000000-0000-4000-8000-000000000007"
#define GROUP   "9a000000-0000-4000-8000-000000000001"

#define T_S1 "2026-01-10T00:00:00Z"
#define T_S2 "2026-01-20T00:00:00Z"
#define T_S3 "2026-01-30T00:00:00Z"

/* A version of A: id suffix, created_at, and either nothing or a payload. */
#define A_VERSION_HEAD(n, at)                                                                      \
    "{\"id\":\"00000000-0000-4000-8000-0000000000a" n "\",\"secret_id\":\"" ID_A                   \
    "\",\"created_at\":\"" at "\""
#define A_V_NP(n, at) A_VERSION_HEAD(n, at) ",\"payload_available\":false}"
#define A_V_P(n, at)                                                                               \
    A_VERSION_HEAD(n, at) ",\"payload_available\":true,\"payload\":\"a" n "-secret\"}"

#define A0_NP A_V_NP("0", "2025-12-15T00:00:00Z")
#define A1_NP A_V_NP("1", "2025-12-20T00:00:00Z")
#define A1_P  A_V_P("1", "2025-12-20T00:00:00Z")
#define A2_NP A_V_NP("2", "2026-01-05T00:00:00Z")
#define A2_P  A_V_P("2", "2026-01-05T00:00:00Z")
#define A3_P  A_V_P("3", "2026-01-15T00:00:00Z")
#define A4_P  A_V_P("4", "2026-01-25T00:00:00Z")

#define A_META(total)                                                                              \
    "{\"id\":\"" ID_A "\",\"name\":\"db-pass\",\"secret_type\":\"arbitrary\","                     \
    "\"secret_group_id\":\"" GROUP "\",\"labels\":[\"team:a\",\"env:prod\"],"                      \
    "\"created_at\":\"2025-12-15T00:00:00Z\",\"versions_total\":" total

static const char A_S1[] =
    A_META("3") ",\"payload\":\"a2-secret\",\"versions\":[" A0_NP "," A1_P "," A2_P "]}";
static const char A_S2[] =
    A_META("4") ",\"payload\":\"a3-secret\",\"versions\":[" A0_NP "," A1_NP "," A2_P "," A3_P "]}";
static const char A_S3[] = A_META("5") ",\"payload\":\"a4-secret\",\"versions\":[" A0_NP "," A1_NP
                                       "," A2_NP "," A3_P "," A4_P "]}";

static const char B_ANY[] =
    "{\"id\":\"" ID_B "\",\"name\":\"svc-login\",\"secret_type\":\"username_password\","
    "\"secret_group_id\":\"default\",\"labels\":[\"team:b\"],"
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"username\":\"svc\",\"password\":\"pw-1\","
    "\"versions\":[{\"id\":\"00000000-0000-4000-8000-0000000000b1\",\"created_at\":"
    "\"2026-01-01T00:00:00Z\",\"payload_available\":true,\"username\":\"svc\","
    "\"password\":\"pw-1\"}]}";

#define C_DATA                                                                                     \
    "{\"n\":12345678901234567890,\"f\":0.1000000000000000055511151231257827,"                      \
    "\"s\":\"caf\\u00e9\",\"e\":{}}"
static const char C_S3[] =
    "{\"id\":\"" ID_C "\",\"name\":\"db-pass\",\"secret_type\":\"kv\","
    "\"secret_group_id\":\"default\",\"created_at\":\"2026-01-22T00:00:00Z\","
    "\"custom_metadata\":{\"big\":12345678901234567890,"
    "\"tiny\":0.1000000000000000055511151231257827},\"data\":" C_DATA ","
    "\"versions\":[{\"id\":\"00000000-0000-4000-8000-0000000000c1\",\"secret_id\":\"" ID_C
    "\",\"created_at\":\"2026-01-22T00:00:00Z\",\"payload_available\":true,"
    "\"data\":" C_DATA "}]}";

static const char E_ANY[] =
    "{\"id\":\"" ID_E "\",\"name\":\"ci-key\",\"secret_type\":\"iam_credentials\","
    "\"secret_group_id\":\"default\",\"created_at\":\"2026-01-01T00:00:00Z\",\"ttl\":\"1d\","
    "\"versions\":[{\"id\":\"00000000-0000-4000-8000-0000000000e1\",\"created_at\":"
    "\"2026-01-01T00:00:00Z\",\"payload_available\":false}]}";

static const char F_S2[] =
    "{\"id\":\"" ID_F "\",\"name\":\"note\",\"secret_type\":\"arbitrary\","
    "\"secret_group_id\":\"default\",\"created_at\":\"2026-01-12T00:00:00Z\","
    "\"payload\":\"f-secret\",\"versions\":[{\"id\":\"00000000-0000-4000-8000-0000000000f1\","
    "\"created_at\":\"2026-01-12T00:00:00Z\"}]}";

/* A type smar does not know: every member not known as metadata is payload, and the
 * secret's own payload members differ from its versions'. */
#define G_VERSION(n, at)                                                                           \
    "{\"id\":\"00000000-0000-4000-8000-00000000009" n "\",\"created_at\":\"" at                    \
    "\",\"payload_available\":true,\"quantum_key_material\":\"m" n "\"}"
#define G_META                                                                                     \
    "{\"id\":\"" ID_G "\",\"name\":\"q\",\"secret_type\":\"quantum_key\","                         \
    "\"secret_group_id\":\"default\",\"created_at\":\"2026-01-21T00:00:00Z\""
#define G1 G_VERSION("1", "2026-01-21T00:00:00Z")
#define G2 G_VERSION("2", "2026-01-24T00:00:00Z")
static const char G_S3[] = G_META ",\"rotation_hint\":{\"every\":\"1d\"},"
                                  "\"quantum_key_material\":\"m2\",\"versions\":[" G1 "," G2 "]}";

/* H: in S1 and S3, missing from S2 (an export that missed it): S3 still decides. */
static const char H_ANY[] =
    "{\"id\":\"" ID_H "\",\"name\":\"h-note\",\"secret_type\":\"arbitrary\","
    "\"secret_group_id\":\"" GROUP_X "\",\"created_at\":\"2026-01-02T00:00:00Z\","
    "\"payload\":\"h-secret\",\"versions\":[{\"id\":\"00000000-0000-4000-8000-0000000000b8\","
    "\"created_at\":\"2026-01-02T00:00:00Z\",\"payload_available\":true,\"payload\":\"h-secret\"}]"
    "}";
/* V1: exported without a "versions" member, its payload at secret level. V2: a
 * pre-activation certificate with "versions": [] and no payload. */
static const char V1_S3[] =
    "{\"id\":\"" ID_V1 "\",\"name\":\"v1\",\"secret_type\":\"arbitrary\","
    "\"secret_group_id\":\"" GROUP_X "\",\"created_at\":\"2026-01-26T00:00:00Z\","
    "\"payload\":\"v1-secret\"}";
static const char V2_S3[] =
    "{\"id\":\"" ID_V2 "\",\"name\":\"v2\",\"secret_type\":\"public_cert\","
    "\"secret_group_id\":\"" GROUP_X "\",\"created_at\":\"2026-01-27T00:00:00Z\","
    "\"state\":0,\"versions\":[]}";

#define DOC(at, gname)                                                                             \
    "{\"instance\":{\"guid\":\"inst\"},\"exported_at\":\"" at "\",\"secret_groups\":"              \
    "[{\"id\":\"default\",\"name\":\"default\"},{\"id\":\"" GROUP "\",\"name\":\"" gname "\"}]}"

typedef struct snapshot_def {
    const char *file;
    const char *at;
    const char *doc;
    const char *secrets[8];
} snapshot_def;

static const snapshot_def SNAPSHOTS[3] = {
    {"s1.smar", T_S1, DOC(T_S1, "prod"), {A_S1, B_ANY, E_ANY, H_ANY, NULL}},
    {"s2.smar", T_S2, DOC(T_S2, "prod"), {A_S2, B_ANY, E_ANY, F_S2, NULL}},
    {"s3.smar",
     T_S3,
     DOC(T_S3, "production"),
     {A_S3, E_ANY, C_S3, G_S3, H_ANY, V1_S3, V2_S3, NULL}},
};

/* ---- fixture -------------------------------------------------------------------------- */

typedef struct fixture {
    char *dir;
    smar_keyring *kr;
    smar_reader *r[3]; /* S1, S2, S3 */
    smar_series *s;
} fixture;

static smar_time_ns T(const char *text)
{
    smar_time_ns t = SMAR_TIME_NONE;
    assert_int_equal(smar_time_parse(text, strlen(text), 0, &t), SMAR_OK);
    return t;
}

static int write_archive(fixture *f, const snapshot_def *def)
{
    char *path = tu_path_join(f->dir, def->file);
    int fd = path != NULL ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    smar_writer *w = NULL;
    smar_writer_options opts = SMAR_WRITER_OPTIONS_INIT;
    opts.snapshot_time = T(def->at);
    int rc = fd >= 0 ? smar_writer_new(&w) : -1;
    if (rc == SMAR_OK)
        rc = smar_writer_add_key(w, f->kr);
    if (rc == SMAR_OK)
        rc = smar_writer_open_fd(w, fd, &opts);
    for (size_t i = 0; def->secrets[i] != NULL && rc == SMAR_OK; i++)
        rc = smar_writer_add_secret(w, def->secrets[i], strlen(def->secrets[i]));
    if (rc == SMAR_OK)
        rc = smar_writer_set_document(w, def->doc, strlen(def->doc));
    if (rc == SMAR_OK)
        rc = smar_writer_finish(w);
    if (rc != SMAR_OK && w != NULL)
        print_error("writer: %s\n", smar_writer_error(w));
    smar_writer_free(w);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static int open_archive(fixture *f, const snapshot_def *def, smar_reader **out)
{
    char *path = tu_path_join(f->dir, def->file);
    int rc = path != NULL ? smar_reader_new(out) : -1;
    if (rc == SMAR_OK)
        rc = smar_reader_open(*out, path);
    if (rc == SMAR_OK)
        rc = smar_reader_unlock(*out, &f->kr, 1);
    if (rc != SMAR_OK && *out != NULL)
        print_error("reader: %s\n", smar_reader_error(*out));
    free(path);
    return rc;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || smar_init() != SMAR_OK || (f->dir = tu_tmpdir()) == NULL)
        return -1;
    *state = f;
    if (smar_keyring_new(&f->kr) != SMAR_OK || smar_keyring_generate(f->kr, NULL) != SMAR_OK)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (write_archive(f, &SNAPSHOTS[i]) != SMAR_OK ||
            open_archive(f, &SNAPSHOTS[i], &f->r[i]) != SMAR_OK)
            return -1;
    }
    /* Added out of order on purpose: the series sorts by snapshot time. */
    if (smar_series_new(&f->s) != SMAR_OK || smar_series_add(f->s, f->r[2]) != SMAR_OK ||
        smar_series_add(f->s, f->r[0]) != SMAR_OK || smar_series_add(f->s, f->r[1]) != SMAR_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return 0;
    smar_series_free(f->s);
    for (size_t i = 0; i < 3; i++)
        smar_reader_free(f->r[i]);
    smar_keyring_free(f->kr);
    if (f->dir != NULL)
        tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------- */

static smar_at resolve_ok(fixture *f, const char *id, const char *at)
{
    smar_at r = SMAR_AT_INIT;
    int rc = smar_series_resolve(f->s, id, T(at), &r);
    if (rc != SMAR_OK)
        print_error("resolve: %s\n", smar_series_error(f->s));
    assert_int_equal(rc, SMAR_OK);
    assert_true(r.at == T(at));
    assert_non_null(r.secret);
    assert_string_equal(smar_secret_id(r.secret), id);
    return r;
}

static void assert_version(const smar_at *r, const char *suffix)
{
    char want[64];
    snprintf(want, sizeof want, "00000000-0000-4000-8000-0000000000%s", suffix);
    assert_non_null(r->version_at);
    assert_non_null(r->version_secret);
    assert_string_equal(smar_version_id(r->version_at), want);
}

static void assert_payload(fixture *f, const smar_at *r, const char *want)
{
    char *p = NULL;
    size_t n = 0;
    assert_int_equal(r->status, SMAR_AT_FOUND);
    int rc = smar_series_read_payload(f->s, r, &p, &n);
    if (rc != SMAR_OK)
        print_error("read_payload: %s\n", smar_series_error(f->s));
    assert_int_equal(rc, SMAR_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
    assert_int_equal(p[n], '\0');
    smar_secret_buffer_free(p, n);
}

static void assert_render(fixture *f, const smar_at *r, int all, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    int rc = smar_series_render(f->s, r, all, &out, &n);
    if (rc != SMAR_OK)
        print_error("render: %s\n", smar_series_error(f->s));
    assert_int_equal(rc, SMAR_OK);
    assert_int_equal(out[n], '\0');
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    smar_secret_buffer_free(out, n);
}

/* ---- resolve -------------------------------------------------------------------------- */

static void test_latest(void **state)
{
    fixture *f = *state;
    assert_true(smar_series_latest(f->s) == T(T_S3));
    smar_series *empty = NULL;
    assert_int_equal(smar_series_new(&empty), SMAR_OK);
    assert_true(smar_series_latest(empty) == SMAR_TIME_NONE);
    smar_at r = SMAR_AT_INIT;
    assert_int_equal(smar_series_resolve(empty, ID_A, T(T_S1), &r), SMAR_E_NOTFOUND);
    smar_series_free(empty);
    assert_int_equal(smar_series_add(f->s, f->r[0]), SMAR_E_INVALID); /* already in */
    assert_int_equal(smar_series_add(f->s, NULL), SMAR_E_INVALID);
}

static void test_rotations(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_A, "2025-12-21T00:00:00Z"); /* a1: S1 kept it as previous */
    assert_version(&r, "a1");
    assert_ptr_equal(r.reader, f->r[0]); /* no snapshot before T: the oldest holding it */
    assert_ptr_equal(r.payload_reader, f->r[0]);
    assert_payload(f, &r, "{\"payload\":\"a1-secret\"}");

    r = resolve_ok(f, ID_A, "2026-01-12T00:00:00Z"); /* a2: in S1 and S2 */
    assert_version(&r, "a2");
    assert_ptr_equal(r.reader, f->r[0]);
    assert_ptr_equal(r.payload_reader, f->r[0]); /* the closest snapshot at or before T */
    assert_payload(f, &r, "{\"payload\":\"a2-secret\"}");
    assert_true(r.deleted_seen == SMAR_TIME_NONE);
    assert_true(r.payload_from == SMAR_TIME_NONE);

    r = resolve_ok(f, ID_A, "2026-01-16T00:00:00Z"); /* a3 */
    assert_version(&r, "a3");
    assert_ptr_equal(r.reader, f->r[0]);
    assert_ptr_equal(r.payload_reader, f->r[1]); /* S1 does not know a3 */
    assert_payload(f, &r, "{\"payload\":\"a3-secret\"}");

    r = resolve_ok(f, ID_A, T_S2); /* a snapshot time itself counts as "at or before" */
    assert_version(&r, "a3");
    assert_ptr_equal(r.reader, f->r[1]);

    r = resolve_ok(f, ID_A, "2026-01-26T00:00:00Z"); /* a4, created after S2, held by S3 */
    assert_version(&r, "a4");
    assert_ptr_equal(r.reader, f->r[1]);
    assert_ptr_equal(r.payload_reader, f->r[2]);
    assert_payload(f, &r, "{\"payload\":\"a4-secret\"}");

    r = resolve_ok(f, ID_A, "2027-01-01T00:00:00Z"); /* after the series */
    assert_version(&r, "a4");
    assert_ptr_equal(r.reader, f->r[2]);
    assert_int_equal(r.status, SMAR_AT_FOUND);
}

static void test_no_payload_window(void **state)
{
    fixture *f = *state;
    /* a0 was current until a1 and previous until a2; no snapshot was taken in between. */
    smar_at r = resolve_ok(f, ID_A, "2025-12-16T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_NO_PAYLOAD);
    assert_version(&r, "a0");
    assert_null(r.payload_reader);
    assert_true(r.payload_from == T("2025-12-15T00:00:00Z"));
    assert_true(r.payload_until == T("2026-01-05T00:00:00Z"));
    char *p = NULL;
    size_t n = 0;
    assert_int_equal(smar_series_read_payload(f->s, &r, &p, &n), SMAR_E_INVALID);
    assert_null(p);

    /* E's snapshots say the service had no payload ("payload_available": false): it
     * exists without one, as recorded, and no window is offered. */
    r = resolve_ok(f, ID_E, "2026-01-25T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_NO_PAYLOAD_RECORDED);
    assert_int_equal(r.payload_available, 0);
    assert_version(&r, "e1");
    assert_true(r.snapshot == T(T_S2));
    assert_render(f, &r, 0, E_ANY);
}

static void test_created_and_deleted(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_A, "2025-12-14T23:59:59Z");
    assert_int_equal(r.status, SMAR_AT_NOT_CREATED);
    assert_null(r.version_at);

    r = resolve_ok(f, ID_B, "2026-01-25T00:00:00Z"); /* between S2 and S3: still there */
    assert_int_equal(r.status, SMAR_AT_FOUND);
    assert_version(&r, "b1");
    assert_ptr_equal(r.reader, f->r[1]);
    assert_payload(f, &r, "{\"username\":\"svc\",\"password\":\"pw-1\"}");

    r = resolve_ok(f, ID_B, T_S3); /* S3 lacks it */
    assert_int_equal(r.status, SMAR_AT_DELETED);
    assert_true(r.deleted_seen == T(T_S3));
    assert_null(r.version_at);
    assert_ptr_equal(r.reader, f->r[1]); /* the newest record before T still describes it */

    r = resolve_ok(f, ID_C, "2026-01-21T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_NOT_CREATED);
    assert_ptr_equal(r.reader, f->r[2]);
    r = resolve_ok(f, ID_C, "2026-01-23T00:00:00Z"); /* only a later archive knows it */
    assert_int_equal(r.status, SMAR_AT_FOUND);
    assert_ptr_equal(r.reader, f->r[2]);
    assert_payload(f, &r, "{\"data\":" C_DATA "}");

    /* F: S1 predates it (no deletion), S3 lacks it. */
    r = resolve_ok(f, ID_F, "2026-01-11T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_NOT_CREATED);
    r = resolve_ok(f, ID_F, "2026-01-13T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_FOUND);
    r = resolve_ok(f, ID_F, "2026-02-01T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_DELETED);
    assert_true(r.deleted_seen == T(T_S3));

    smar_at none = SMAR_AT_INIT;
    assert_int_equal(
        smar_series_resolve(f->s, "00000000-dead-4000-8000-000000000000", T(T_S3), &none),
        SMAR_E_NOTFOUND);
    assert_non_null(strstr(smar_series_error(f->s), "00000000-dead"));
}

/* The secret object carried the current payload; its version object did not. */
static void test_secret_level_payload(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_F, "2026-01-21T00:00:00Z");
    assert_int_equal(r.status, SMAR_AT_FOUND);
    assert_version(&r, "f1");
    assert_ptr_equal(r.payload_reader, f->r[1]);
    assert_null(r.payload_version);
    assert_payload(f, &r, "{\"payload\":\"f-secret\"}");
    /* Rendered as given: the payload stays on the secret, not copied into the version. */
    assert_render(f, &r, 1, F_S2);
}

/* The deciding snapshot (newest at or before T) decides existence: an older archive
 * that lacks the secret does not make it deleted at a later snapshot that holds it. */
static void test_deciding_snapshot(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_H, T_S3);
    assert_int_equal(r.status, SMAR_AT_FOUND);
    assert_ptr_equal(r.reader, f->r[2]);
    assert_render(f, &r, 0, H_ANY);
    r = resolve_ok(f, ID_H, "2026-01-21T00:00:00Z"); /* S2 decides: it lacks H */
    assert_int_equal(r.status, SMAR_AT_DELETED);
    assert_true(r.deleted_seen == T(T_S2));
}

/* Secrets without versions come back as they were exported. */
static void test_versionless(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_V1, T_S3);
    assert_int_equal(r.status, SMAR_AT_FOUND);
    assert_null(r.version_at);
    assert_null(r.payload_version);
    assert_payload(f, &r, "{\"payload\":\"v1-secret\"}");
    assert_render(f, &r, 0, V1_S3);
    assert_render(f, &r, 1, V1_S3);

    r = resolve_ok(f, ID_V2, T_S3);
    assert_int_equal(r.status, SMAR_AT_NO_PAYLOAD_RECORDED);
    assert_null(r.version_at);
    assert_render(f, &r, 0, V2_S3);
    r = resolve_ok(f, ID_V2, "2026-01-26T12:00:00Z"); /* before it was created */
    assert_int_equal(r.status, SMAR_AT_NOT_CREATED);
}

/* ---- render --------------------------------------------------------------------------- */

static void test_render_exact(void **state)
{
    fixture *f = *state;
    /* Payload members follow the metadata as in the input, so C renders as it was given,
     * numbers and escapes included. */
    smar_at r = resolve_ok(f, ID_C, "2026-01-23T00:00:00Z");
    assert_render(f, &r, 0, C_S3);
    assert_render(f, &r, 1, C_S3);

    /* S1 describes A at 01-16 and holds a1 and a2; a3 and its payload come from S2. */
    r = resolve_ok(f, ID_A, "2026-01-16T00:00:00Z");
    assert_render(f, &r, 1,
                  A_META("3") ",\"payload\":\"a3-secret\",\"versions\":[" A0_NP "," A1_P "," A2_P
                              "," A3_P "]}");
    /* At a snapshot time the secret is what that snapshot recorded: every version with
     * its aliases and "payload_available", never an older archive's (a1, a2 had payloads
     * in S1 that S3 says the service no longer had). */
    r = resolve_ok(f, ID_A, T_S2);
    assert_render(f, &r, 0, A_S2);
    r = resolve_ok(f, ID_A, T_S3);
    assert_render(f, &r, 0, A_S3);
    assert_render(f, &r, 1, A_S3);

    /* Without a payload: metadata and the version only. */
    r = resolve_ok(f, ID_A, "2025-12-16T00:00:00Z");
    assert_render(f, &r, 1, A_META("3") ",\"versions\":[" A0_NP "]}");
}

static void test_render_unknown_type(void **state)
{
    fixture *f = *state;
    /* At the snapshot the secret object's own payload members come back, not its
     * version's: the secret renders as it was given. */
    smar_at r = resolve_ok(f, ID_G, T_S3);
    assert_render(f, &r, 1, G_S3);
    assert_payload(f, &r, "{\"quantum_key_material\":\"m2\"}");
    /* Before the rotation no archive has the secret object as it was then: the version's
     * payload members stand in. */
    r = resolve_ok(f, ID_G, "2026-01-22T00:00:00Z");
    assert_render(f, &r, 1, G_META ",\"quantum_key_material\":\"m1\",\"versions\":[" G1 "]}");
}

static void test_render_refused(void **state)
{
    fixture *f = *state;
    smar_at r = resolve_ok(f, ID_B, T_S3);
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(smar_series_render(f->s, &r, 0, &out, &n), SMAR_E_INVALID);
    assert_null(out);
    r = resolve_ok(f, ID_C, "2026-01-21T00:00:00Z");
    assert_int_equal(smar_series_render(f->s, &r, 0, &out, &n), SMAR_E_INVALID);
    assert_null(out);
    assert_int_equal(smar_series_render(f->s, NULL, 0, &out, &n), SMAR_E_INVALID);
}

/* An smar_at whose version the library does not know is refused, going in and coming back. */
static void test_at_version_checked(void **state)
{
    fixture *f = *state;
    smar_at r = {.version = 0};
    smar_time_ns t;
    assert_int_equal(smar_time_parse(T_S3, strlen(T_S3), 0, &t), SMAR_OK);
    assert_int_equal(smar_series_resolve(f->s, ID_A, t, &r), SMAR_E_INVALID);
    assert_non_null(strstr(smar_series_error(f->s), "smar_at"));
    r.version = SMAR_AT_VERSION + 1;
    assert_int_equal(smar_series_resolve_version(f->s, ID_A, "x", &r), SMAR_E_INVALID);
    r = resolve_ok(f, ID_A, T_S3);
    assert_int_equal(r.version, SMAR_AT_VERSION);
    char *out = NULL;
    size_t n = 0;
    r.version = 0;
    assert_int_equal(smar_series_render(f->s, &r, 0, &out, &n), SMAR_E_INVALID);
    assert_int_equal(smar_series_read_payload(f->s, &r, &out, &n), SMAR_E_INVALID);
    assert_null(out);
}

/* ---- select --------------------------------------------------------------------------- */

typedef struct hits {
    char ids[16][40];
    size_t n;
    size_t stop_after; /* 0: never */
} hits;

static int collect(const char *id, void *payload)
{
    hits *h = payload;
    if (h->n < 16)
        snprintf(h->ids[h->n], sizeof h->ids[0], "%s", id);
    h->n++;
    return h->stop_after != 0 && h->n == h->stop_after ? 7 : 0;
}

/* Select and compare with the expected ids, in order; want is NULL-terminated. */
static void expect_select(fixture *f, const smar_selection *sel, const char *const *want)
{
    hits h = {.n = 0};
    int rc = smar_series_select(f->s, sel, collect, &h);
    if (rc != SMAR_OK)
        print_error("select: %s\n", smar_series_error(f->s));
    assert_int_equal(rc, SMAR_OK);
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    assert_int_equal(h.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(h.ids[i], want[i]);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__})

static int return_status(const char *id, void *payload)
{
    (void)id;
    (void)payload;
    return SMAR_E_IO;
}

static void test_select_all(void **state)
{
    fixture *f = *state;
    smar_selection all = {0};
    expect_select(f, &all, LIST(ID_A, ID_B, ID_E, ID_H, ID_F, ID_C, ID_G, ID_V1, ID_V2, NULL));
    expect_select(f, NULL, LIST(ID_A, ID_B, ID_E, ID_H, ID_F, ID_C, ID_G, ID_V1, ID_V2, NULL));

    hits h = {.stop_after = 2};
    assert_int_equal(smar_series_select(f->s, &all, collect, &h), 7);
    assert_int_equal(h.n, 2);
    /* a callback returning a status code is refused: a stop never reads as an error */
    assert_int_equal(smar_series_select(f->s, &all, return_status, NULL), SMAR_E_INVALID);
    assert_non_null(strstr(smar_series_error(f->s), "callback returned a status code"));
}

static void test_select_ids_names(void **state)
{
    fixture *f = *state;
    smar_selection sel = {.ids = LIST(ID_C, ID_A, "nope", ID_A), .nids = 4};
    expect_select(f, &sel, LIST(ID_A, ID_C, NULL));

    smar_selection names = {.names = LIST("db-pass"), .nnames = 1};
    expect_select(f, &names, LIST(ID_A, ID_C, NULL));
    names.types = LIST("kv");
    names.ntypes = 1;
    expect_select(f, &names, LIST(ID_C, NULL));

    smar_selection both = {.ids = LIST(ID_F, ID_B), .nids = 2, .names = LIST("note"), .nnames = 1};
    expect_select(f, &both, LIST(ID_F, NULL));
    smar_selection none = {.ids = LIST(ID_F), .nids = 1, .labels = LIST("team:a"), .nlabels = 1};
    expect_select(f, &none, LIST(NULL));
}

static void test_select_types_groups_labels(void **state)
{
    fixture *f = *state;
    smar_selection sel = {.types = LIST("username_password", "iam_credentials"), .ntypes = 2};
    expect_select(f, &sel, LIST(ID_B, ID_E, NULL));

    smar_selection by_id = {.groups = LIST(GROUP), .ngroups = 1};
    expect_select(f, &by_id, LIST(ID_A, NULL));
    smar_selection by_name = {.groups = LIST("prod"), .ngroups = 1};
    expect_select(f, &by_name, LIST(ID_A, NULL));
    smar_selection renamed = {.groups = LIST("production"), .ngroups = 1};
    expect_select(f, &renamed, LIST(ID_A, NULL));
    smar_selection dflt = {.groups = LIST("default"), .ngroups = 1};
    expect_select(f, &dflt, LIST(ID_B, ID_E, ID_F, ID_C, ID_G, NULL));

    smar_selection labels = {.labels = LIST("env:prod", "team:b"), .nlabels = 2};
    expect_select(f, &labels, LIST(ID_A, ID_B, NULL));

    smar_selection combo = {
        .types = LIST("arbitrary"), .ntypes = 1, .groups = LIST("default"), .ngroups = 1};
    expect_select(f, &combo, LIST(ID_F, NULL));
    combo.labels = LIST("team:a");
    combo.nlabels = 1;
    expect_select(f, &combo, LIST(NULL));

    smar_selection bad = {.ids = NULL, .nids = 1};
    hits h = {.n = 0};
    assert_int_equal(smar_series_select(f->s, &bad, collect, &h), SMAR_E_INVALID);
}

/* ---- many secrets ---------------------------------------------------------------------- */

#define MANY 20000

typedef struct order_check {
    size_t n;
    size_t bad;
} order_check;

static void many_id(char out[40], size_t i)
{
    snprintf(out, 40, "%08zx-0000-4000-8000-000000000000", i);
}

/* Ids must come once each, X1's first in X1's order, then X2's new ones. */
static int check_order(const char *id, void *payload)
{
    order_check *c = payload;
    char want[40];
    many_id(want, c->n++);
    if (strcmp(id, want) != 0)
        c->bad++;
    return 0;
}

static int write_many(fixture *f, const char *file, const char *at, size_t from, size_t to)
{
    char *path = tu_path_join(f->dir, file);
    int fd = path != NULL ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    smar_writer *w = NULL;
    smar_writer_options opts = SMAR_WRITER_OPTIONS_INIT;
    opts.snapshot_time = T(at);
    int rc = fd >= 0 ? smar_writer_new(&w) : -1;
    if (rc == SMAR_OK)
        rc = smar_writer_add_key(w, f->kr);
    if (rc == SMAR_OK)
        rc = smar_writer_open_fd(w, fd, &opts);
    for (size_t i = from; i < to && rc == SMAR_OK; i++) {
        char id[40], json[512];
        many_id(id, i);
        int n = snprintf(json, sizeof json,
                         "{\"id\":\"%s\",\"name\":\"n%zu\",\"secret_type\":\"arbitrary\","
                         "\"labels\":[\"l%zu\"],\"created_at\":\"2026-01-01T00:00:00Z\","
                         "\"payload\":\"p%zu\",\"versions\":[{\"id\":\"v%zu\",\"created_at\":"
                         "\"2026-01-01T00:00:00Z\",\"payload\":\"p%zu\"}]}",
                         id, i, i % 10, i, i, i);
        rc = smar_writer_add_secret(w, json, (size_t)n);
    }
    if (rc == SMAR_OK)
        rc = smar_writer_finish(w);
    if (rc != SMAR_OK && w != NULL)
        print_error("writer: %s\n", smar_writer_error(w));
    smar_writer_free(w);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* Two overlapping archives of MANY secrets each: dedup and order stay linear and exact. */
static void test_select_many(void **state)
{
    fixture *f = *state;
    assert_int_equal(write_many(f, "x2.smar", T_S2, MANY / 2, MANY + MANY / 2), SMAR_OK);
    assert_int_equal(write_many(f, "x1.smar", T_S1, 0, MANY), SMAR_OK);
    static const snapshot_def x1 = {"x1.smar", T_S1, NULL, {NULL}};
    static const snapshot_def x2 = {"x2.smar", T_S2, NULL, {NULL}};
    smar_reader *r1 = NULL, *r2 = NULL;
    smar_series *s = NULL;
    assert_int_equal(open_archive(f, &x1, &r1), SMAR_OK);
    assert_int_equal(open_archive(f, &x2, &r2), SMAR_OK);
    assert_int_equal(smar_series_new(&s), SMAR_OK);
    assert_int_equal(smar_series_add(s, r2), SMAR_OK);
    assert_int_equal(smar_series_add(s, r1), SMAR_OK);

    double t0 = tu_now();
    order_check c = {0, 0};
    assert_int_equal(smar_series_select(s, NULL, check_order, &c), SMAR_OK);
    assert_int_equal(c.n, MANY + MANY / 2);
    assert_int_equal(c.bad, 0);

    /* Every id once, X1's first (so many ids that the manifests are walked instead). */
    static char idbuf[MANY + MANY / 2][40];
    static const char *ids[MANY + MANY / 2];
    for (size_t i = 0; i < MANY + MANY / 2; i++) {
        many_id(idbuf[i], i);
        ids[i] = idbuf[i];
    }
    smar_selection sel = {.ids = ids, .nids = MANY + MANY / 2};
    c = (order_check){0, 0};
    assert_int_equal(smar_series_select(s, &sel, check_order, &c), SMAR_OK);
    assert_int_equal(c.n, MANY + MANY / 2);
    assert_int_equal(c.bad, 0);

    smar_selection lab = {.labels = LIST("l3"), .nlabels = 1};
    hits h = {.n = 0};
    assert_int_equal(smar_series_select(s, &lab, collect, &h), SMAR_OK);
    assert_int_equal(h.n, (MANY + MANY / 2) / 10);
    print_message("select over %d secrets x 2 archives: %.2fs\n", MANY, tu_now() - t0);

    smar_at at = SMAR_AT_INIT;
    many_id(idbuf[0], MANY / 2);
    assert_int_equal(smar_series_resolve(s, idbuf[0], T(T_S3), &at), SMAR_OK);
    assert_int_equal(at.status, SMAR_AT_FOUND);
    assert_ptr_equal(at.reader, r2);
    smar_series_free(s);
    smar_reader_free(r1);
    smar_reader_free(r2);
}

/* ---- sources opened when needed (smar_series_add_source) ------------------------------- */

typedef struct source_ctx {
    fixture *f;
    size_t archive; /* which of f->r the opener gives */
    int opened;
} source_ctx;

static int open_source(void *ctx, smar_reader **out)
{
    source_ctx *c = ctx;
    c->opened++;
    *out = c->f->r[c->archive];
    return SMAR_OK;
}

/* A series of the three archives as sources, dated by times[i] (as names would date them). */
static smar_series *source_series(fixture *f, source_ctx ctx[3], const char *const times[3])
{
    smar_series *s = NULL;
    assert_int_equal(smar_series_new(&s), SMAR_OK);
    for (size_t i = 0; i < 3; i++) {
        ctx[i] = (source_ctx){f, i, 0};
        assert_int_equal(smar_series_add_source(s, T(times[i]), open_source, &ctx[i]), SMAR_OK);
    }
    return s;
}

static void assert_same_answer(fixture *f, smar_series *lazy, const char *id, const char *at)
{
    smar_at want = SMAR_AT_INIT, got = SMAR_AT_INIT;
    int rc_want = smar_series_resolve(f->s, id, T(at), &want);
    int rc_got = smar_series_resolve(lazy, id, T(at), &got);
    assert_int_equal(rc_got, rc_want);
    if (rc_want != SMAR_OK)
        return;
    assert_int_equal(got.status, want.status);
    assert_ptr_equal(got.reader, want.reader);
    assert_ptr_equal(got.payload_reader, want.payload_reader);
    assert_true(got.snapshot == want.snapshot && got.deleted_seen == want.deleted_seen);
    assert_true((got.version_at == NULL) == (want.version_at == NULL));
    if (want.version_at != NULL)
        assert_string_equal(smar_version_id(got.version_at), smar_version_id(want.version_at));
}

static void test_sources_opened_when_needed(void **state)
{
    fixture *f = *state;
    static const char *const times[3] = {T_S1, T_S2, T_S3};
    source_ctx ctx[3];
    smar_series *s = source_series(f, ctx, times);
    assert_true(smar_series_latest(s) == T(T_S3)); /* from the given times alone */
    assert_int_equal(ctx[0].opened + ctx[1].opened + ctx[2].opened, 0);

    /* The deciding snapshot (S2) holds A with its payload: S2 and the next one, not S1. */
    smar_at r = SMAR_AT_INIT;
    assert_int_equal(smar_series_resolve(s, ID_A, T("2026-01-25T00:00:00Z"), &r), SMAR_OK);
    assert_int_equal(ctx[0].opened, 0);
    assert_int_equal(ctx[1].opened, 1);
    assert_int_equal(ctx[2].opened, 1);

    /* Whatever was opened, the answers are the eager series' answers. */
    static const struct {
        const char *id, *at;
    } queries[] = {{ID_A, "2025-12-21T00:00:00Z"},
                   {ID_A, "2026-01-16T00:00:00Z"},
                   {ID_A, T_S2},
                   {ID_A, "2026-01-26T00:00:00Z"},
                   {ID_A, "2027-01-01T00:00:00Z"},
                   {ID_B, "2026-01-25T00:00:00Z"},
                   {ID_B, T_S3},
                   {ID_C, "2026-01-21T00:00:00Z"},
                   {ID_C, "2026-01-23T00:00:00Z"},
                   {ID_F, "2026-01-11T00:00:00Z"},
                   {ID_F, "2026-02-01T00:00:00Z"},
                   {ID_H, "2026-01-25T00:00:00Z"}};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        assert_same_answer(f, s, queries[i].id, queries[i].at);
    assert_int_equal(ctx[0].opened + ctx[1].opened + ctx[2].opened, 3); /* each once */
    smar_series_free(s);
}

static void test_source_misdated(void **state)
{
    fixture *f = *state;
    static const char *const times[3] = {T_S1, "2026-01-21T00:00:00Z", T_S3};
    source_ctx ctx[3];
    smar_series *s = source_series(f, ctx, times);
    smar_at r = SMAR_AT_INIT;
    assert_int_equal(smar_series_resolve(s, ID_A, T("2026-01-22T00:00:00Z"), &r), SMAR_E_CORRUPT);
    assert_non_null(strstr(smar_series_error(s), "not the one its name gives"));
    smar_series_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_no_payload_window),
        cmocka_unit_test(test_created_and_deleted),
        cmocka_unit_test(test_secret_level_payload),
        cmocka_unit_test(test_deciding_snapshot),
        cmocka_unit_test(test_versionless),
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_render_unknown_type),
        cmocka_unit_test(test_render_refused),
        cmocka_unit_test(test_at_version_checked),
        cmocka_unit_test(test_select_all),
        cmocka_unit_test(test_select_ids_names),
        cmocka_unit_test(test_select_types_groups_labels),
        cmocka_unit_test(test_select_many),
        cmocka_unit_test(test_sources_opened_when_needed),
        cmocka_unit_test(test_source_misdated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
