/*
 * cli_s3.c - s3://BUCKET/KEY wherever the tool opens an archive or an output archive
 * (cli_open_archive, cli_out_open): the configuration from the environment, as the AWS
 * tools read it, and the cancellation of an upload by SIGINT/SIGTERM/SIGHUP.
 *
 * Credentials come only from the environment (never the command line, where other users
 * see them): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. The region is
 * AWS_REGION, else AWS_DEFAULT_REGION; the endpoint AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL; SMAR_S3_PATH_STYLE=1 asks for path-style addressing.
 *
 * IBM Cloud Object Storage also takes an IAM API key instead of HMAC keys: IBMCLOUD_API_KEY,
 * or SMAR_IBMCLOUD_API_KEY_FILE (a file holding it), with the token service at SMAR_IAM_URL
 * (default https://iam.cloud.ibm.com), the same settings as for Key Protect keys. It is used
 * only when AWS_ACCESS_KEY_ID is not set: HMAC keys, when given, win.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/random.h>

#include "smar/s3.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static const char *env_either(const char *first, const char *second)
{
    const char *v = env(first);
    return v != NULL ? v : env(second);
}

/* --retain-until of create and rewrap (0: none), for the next upload. */
static smar_time_ns retain_until;

void cli_s3_set_retain_until(smar_time_ns t)
{
    retain_until = t;
}

int cli_retain_until_option(const char *text, const char *usage, smar_time_ns *out)
{
    if (cli_parse_time(text, out) != 0 || *out <= 0)
        return cli_usage_error(usage, "--retain-until '%s' is not an RFC 3339 time or a date",
                               text);
    return 0;
}

int cli_retain_until_check(smar_time_ns t, const char *output, const char *usage)
{
    if (t == 0)
        return 0;
    if (!smar_s3_is_url(output))
        return cli_usage_error(usage, "--retain-until needs an s3:// output (Object Lock)");
    cli_s3_set_retain_until(t);
    return 0;
}

/* The signal that interrupted an upload, or 0 (set by cli.c's signal handler). */
static volatile sig_atomic_t *interrupted;

static bool upload_interrupted(void *ctx)
{
    (void)ctx;
    return interrupted != NULL && *interrupted != 0;
}

/* Room for an API key read from SMAR_IBMCLOUD_API_KEY_FILE (wiped by the caller). */
#define API_KEY_BUF (1024 + 2)

/* The IAM API key, when HMAC keys are not given. 0, or an exit code after a message. */
static int iam_options(smar_s3_options *o, char key_buf[API_KEY_BUF])
{
    o->ibm_iam.endpoint = env("SMAR_IAM_URL");
    const char *key_file = env("SMAR_IBMCLOUD_API_KEY_FILE");
    if (key_file == NULL) {
        o->ibm_iam.api_key = env("IBMCLOUD_API_KEY");
        return 0;
    }
    if (cli_read_api_key_file(key_file, key_buf, API_KEY_BUF) != 0)
        return CLI_EXIT_FAILURE;
    o->ibm_iam.api_key = key_buf;
    return 0;
}

/* AWS_MAX_ATTEMPTS, as the AWS CLI and SDKs read it: attempts per request, first included. */
static int max_attempts(smar_s3_options *o, const char *url)
{
    const char *text = env("AWS_MAX_ATTEMPTS");
    if (text == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 1 || n > 20 || text[0] == '-') {
        cli_error("%s: AWS_MAX_ATTEMPTS must be a number from 1 to 20", url);
        return -1;
    }
    o->max_attempts = (unsigned)n;
    return 0;
}

/* Options from the environment; key_buf may receive an API key. 0, or an exit code after a
 * message. */
static int s3_options(smar_s3_options *o, const char *url, char key_buf[API_KEY_BUF])
{
    *o = (smar_s3_options)SMAR_S3_OPTIONS_INIT;
    o->access_key_id = env("AWS_ACCESS_KEY_ID");
    o->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    o->session_token = env("AWS_SESSION_TOKEN");
    o->region = env_either("AWS_REGION", "AWS_DEFAULT_REGION");
    o->endpoint = env_either("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    const char *path_style = env("SMAR_S3_PATH_STYLE");
    if (path_style != NULL && strcmp(path_style, "1") == 0)
        o->flags |= SMAR_S3_PATH_STYLE;
    if (max_attempts(o, url) != 0)
        return CLI_EXIT_USAGE;
    if (o->access_key_id == NULL) {
        int ret = iam_options(o, key_buf);
        if (ret != 0 || o->ibm_iam.api_key != NULL)
            return ret;
    }
    if (o->access_key_id == NULL || o->secret_access_key == NULL) {
        cli_error("%s: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or, "
                  "for IBM Cloud Object Storage, IBMCLOUD_API_KEY)",
                  url);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_s3_is_url(const char *path)
{
    return smar_s3_is_url(path);
}

int cli_s3_reader_open(smar_reader *r, const char *url, char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_options o;
    char key_buf[API_KEY_BUF];
    if (s3_options(&o, url, key_buf) != 0) {
        explicit_bzero(key_buf, sizeof key_buf);
        snprintf(err, SMAR_IO_ERROR_MAX,
                 "the S3 settings in the environment are incomplete or invalid");
        return SMAR_E_INVALID;
    }
    smar_source src;
    int rc = smar_s3_source_open(&src, url, &o, err); /* copies the key */
    explicit_bzero(key_buf, sizeof key_buf);
    if (rc != SMAR_OK)
        return rc;
    /* The reader owns the source once it opened; on failure it is still ours. */
    rc = smar_reader_open_source(r, &src, url);
    if (rc != SMAR_OK && src.close != NULL)
        src.close(src.opaque);
    return rc;
}

int cli_s3_out_open(cli_out *o, const char *url, int force, volatile sig_atomic_t *interrupt_flag)
{
    smar_s3_options so;
    char key_buf[API_KEY_BUF];
    int ret = s3_options(&so, url, key_buf);
    if (ret != 0) {
        explicit_bzero(key_buf, sizeof key_buf);
        return ret;
    }
    interrupted = interrupt_flag;
    so.cancelled = upload_interrupted;
    so.retain_until = retain_until;
    if (force)
        so.flags |= SMAR_S3_REPLACE;
    const char *part_mib = env("SMAR_S3_PART_SIZE_MIB");
    if (part_mib != NULL) {
        uint32_t v;
        if (cli_parse_u32(part_mib, 5, 512, &v) != 0) {
            cli_error("SMAR_S3_PART_SIZE_MIB must be 5..512");
            explicit_bzero(key_buf, sizeof key_buf);
            return CLI_EXIT_USAGE;
        }
        so.part_size_mib = v;
    }
    smar_s3_sink *s = NULL;
    int rc = smar_s3_sink_open(&s, url, &so); /* copies the key */
    explicit_bzero(key_buf, sizeof key_buf);
    if (rc != SMAR_OK) {
        cli_error("%s", s != NULL ? smar_s3_sink_error(s) : "out of memory");
        smar_s3_sink_free(s);
        return CLI_EXIT_FAILURE;
    }
    o->s3 = s;
    o->display = cli_xstrdup(url);
    return 0;
}

int cli_s3_out_sink(cli_out *o, smar_sink *out)
{
    if (o->s3 == NULL)
        return 0;
    smar_s3_sink_as_sink(o->s3, out);
    return 1;
}

void cli_s3_out_close(cli_out *o)
{
    smar_s3_sink_free(o->s3); /* aborts the upload unless it completed */
    o->s3 = NULL;
}

/* ---- series under a prefix ---------------------------------------------------------------- */

int cli_s3_is_prefix(const char *path)
{
    return smar_s3_is_prefix(path);
}

static int collect_url(const char *url, uint64_t size, void *ctx)
{
    (void)size;
    size_t n = strlen(url);
    if (n > 0 && url[n - 1] == '/') /* a "folder" marker that consoles make: not an archive */
        return 0;
    cli_strlist_push(ctx, cli_xstrdup(url));
    return 0;
}

int cli_s3_list(const char *url, cli_strlist *urls)
{
    smar_s3_options o;
    char key_buf[API_KEY_BUF];
    int ret = s3_options(&o, url, key_buf);
    if (ret != 0) {
        explicit_bzero(key_buf, sizeof key_buf);
        return ret;
    }
    char err[SMAR_IO_ERROR_MAX] = "";
    int rc = smar_s3_list(url, &o, collect_url, urls, err);
    explicit_bzero(key_buf, sizeof key_buf);
    if (rc != SMAR_OK) {
        cli_error("%s", err);
        return CLI_EXIT_FAILURE;
    }
    if (urls->n == 0) {
        cli_error("%s: no archive under this prefix", url);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

#define STAMP_LEN 16 /* 20261203T020000Z */
#define NAME_LEN  (STAMP_LEN + 1 + 8 + sizeof ".smar" - 1)

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int all_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

int cli_s3_series_name(const char *url, smar_time_ns *snapshot, char *instance, size_t cap)
{
    const char *base = strrchr(url, '/');
    if (base == NULL || strlen(base + 1) != NAME_LEN)
        return 0;
    const char *n = base + 1;
    if (!all_digits(n, 8) || n[8] != 'T' || !all_digits(n + 9, 6) || n[15] != 'Z' || n[16] != '-' ||
        !all_hex(n + 17, 8) || strcmp(n + 25, ".smar") != 0)
        return 0;
    char rfc[24];
    (void)snprintf(rfc, sizeof rfc, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", n, n + 4, n + 6, n + 9,
                   n + 11, n + 13);
    if (smar_time_parse(rfc, strlen(rfc), 0, snapshot) != SMAR_OK)
        return 0;
    /* The directory above: the instance the name was made for. */
    const char *dir = base;
    while (dir > url && dir[-1] != '/')
        dir--;
    size_t len = (size_t)(base - dir);
    if (len + 1 > cap)
        return 0;
    memcpy(instance, dir, len);
    instance[len] = '\0';
    return 1;
}

int cli_s3_expand_prefixes(int *n, char ***paths, cli_strlist *owned)
{
    int has_prefix = 0;
    for (int i = 0; i < *n; i++)
        has_prefix |= cli_s3_is_prefix((*paths)[i]);
    if (!has_prefix)
        return 0;
    cli_strlist all = {0};
    for (int i = 0; i < *n; i++) {
        if (!cli_s3_is_prefix((*paths)[i])) {
            cli_strlist_push(&all, (*paths)[i]);
            continue;
        }
        size_t first = owned->n;
        int ret = cli_s3_list((*paths)[i], owned);
        if (ret != 0) {
            cli_strlist_free(&all);
            return ret;
        }
        for (size_t k = first; k < owned->n; k++)
            cli_strlist_push(&all, owned->items[k]);
    }
    if (all.n > INT32_MAX) {
        cli_error("too many archives");
        cli_strlist_free(&all);
        return CLI_EXIT_FAILURE;
    }
    char **expanded = cli_xmalloc((all.n + 1) * sizeof *expanded);
    for (size_t i = 0; i < all.n; i++)
        expanded[i] = (char *)(uintptr_t)all.items[i]; /* argv's type; never written */
    expanded[all.n] = NULL;
    *n = (int)all.n;
    *paths = expanded; /* the caller frees it with cli_s3_free_expanded */
    cli_strlist_free(&all);
    return 0;
}

void cli_s3_free_expanded(char **paths, char **given, cli_strlist *owned)
{
    if (paths != given)
        free(paths);
    for (size_t i = 0; i < owned->n; i++)
        free((void *)(uintptr_t)owned->items[i]); /* strdup'ed by collect_url */
    cli_strlist_free(owned);
}

/* ---- naming an archive under a prefix ------------------------------------------------------- */

#define INSTANCE_NAME_MAX 64

/* The instance's "name", else its "guid", as one path segment: every byte other than
 * A-Z a-z 0-9 . _ - becomes '-', at most INSTANCE_NAME_MAX bytes, never "." or "..". */
static void instance_segment(const char *doc, size_t len, char out[INSTANCE_NAME_MAX + 1])
{
    cJSON *root = cJSON_ParseWithLength(doc, len);
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instance");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(inst, "name");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        name = cJSON_GetObjectItemCaseSensitive(inst, "guid");
    const char *text = cJSON_IsString(name) ? name->valuestring : "";
    size_t n = 0;
    for (; text[n] != '\0' && n < INSTANCE_NAME_MAX; n++) {
        char c = text[n];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
        out[n] = keep ? c : '-';
    }
    out[n] = '\0';
    if (n == 0 || strspn(out, ".") == n)
        (void)snprintf(out, INSTANCE_NAME_MAX + 1, "instance");
    cJSON_Delete(root);
}

/* Read the export through once for what the name needs: its document (the instance comes
 * with it, which a stream may hold last) and exported_at. */
static int export_facts(const char *input, char instance[INSTANCE_NAME_MAX + 1],
                        smar_time_ns *exported_at)
{
    smar_export *ex = NULL;
    const char *json, *doc;
    size_t len, doclen;
    int rc;
    if (smar_export_new(&ex) != SMAR_OK)
        return CLI_EXIT_FAILURE;
    if ((rc = smar_export_open(ex, input)) == SMAR_OK) {
        while ((rc = smar_export_next_secret(ex, &json, &len)) == SMAR_OK)
            ;
    }
    if (rc == SMAR_DONE && (rc = smar_export_document(ex, &doc, &doclen)) == SMAR_OK) {
        instance_segment(doc, doclen, instance);
        if (smar_export_exported_at(ex, exported_at) != SMAR_OK)
            *exported_at = SMAR_TIME_NONE;
    }
    if (rc != SMAR_OK)
        cli_error_lib(input, smar_export_error(ex));
    smar_export_free(ex);
    return rc == SMAR_OK ? 0 : CLI_EXIT_FAILURE;
}

int cli_s3_series_key(const char *input, smar_time_ns snapshot, const char *prefix, char **out)
{
    *out = NULL;
    if (strcmp(input, "-") == 0) {
        cli_error("-o %s names the object from the export, which standard input cannot be read "
                  "twice for: give the export as a file, or -o s3://BUCKET/KEY",
                  prefix);
        return CLI_EXIT_USAGE;
    }
    char instance[INSTANCE_NAME_MAX + 1];
    smar_time_ns exported_at = SMAR_TIME_NONE;
    int ret = export_facts(input, instance, &exported_at);
    if (ret != 0)
        return ret;
    smar_time_ns t = snapshot != SMAR_TIME_NONE ? snapshot : exported_at;
    if (t == SMAR_TIME_NONE) {
        cli_error("%s: the export has no exported_at: give --snapshot-time", input);
        return CLI_EXIT_FAILURE;
    }
    char rfc[SMAR_TIME_BUFSIZE];
    smar_time_format(t, rfc); /* 2026-12-03T02:00:00[.fff]Z */
    char stamp[STAMP_LEN + 1];
    (void)snprintf(stamp, sizeof stamp, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", rfc, rfc + 5, rfc + 8,
                   rfc + 11, rfc + 14, rfc + 17);
    /* Two archives of one snapshot get two names: a random tag, not a secret. */
    uint32_t tag = 0;
    if (getrandom(&tag, sizeof tag, 0) != (ssize_t)sizeof tag) {
        cli_error("cannot read random bytes for the object name");
        return CLI_EXIT_FAILURE;
    }
    size_t n = strlen(prefix) + sizeof instance + NAME_LEN + 4;
    *out = cli_xmalloc(n);
    (void)snprintf(*out, n, "%s%s/%s-%08" PRIx32 ".smar", prefix, instance, stamp, tag);
    return 0;
}

/* ---- prune: Object Lock retention and deletion ---------------------------------------------- */

int cli_s3_retention(const char *url, smar_time_ns *until, char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_options o;
    char key_buf[API_KEY_BUF];
    int ret = s3_options(&o, url, key_buf);
    int rc = ret != 0 ? SMAR_E_INVALID : smar_s3_get_retention(url, &o, until, err);
    if (ret != 0)
        snprintf(err, SMAR_IO_ERROR_MAX,
                 "the S3 settings in the environment are incomplete or invalid");
    explicit_bzero(key_buf, sizeof key_buf);
    return rc;
}

int cli_s3_delete(const char *url, char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_options o;
    char key_buf[API_KEY_BUF];
    int ret = s3_options(&o, url, key_buf);
    int rc = ret != 0 ? SMAR_E_INVALID : smar_s3_delete(url, &o, err);
    if (ret != 0)
        snprintf(err, SMAR_IO_ERROR_MAX,
                 "the S3 settings in the environment are incomplete or invalid");
    explicit_bzero(key_buf, sizeof key_buf);
    return rc;
}
