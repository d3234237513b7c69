/*
 * s3.c - archives in S3-compatible object storage: canonical request URLs, a source over
 * range GETs and a sink over a multipart upload (smar/s3.h says what is promised).
 *
 * Every request goes through smar_http_send (http.c: TLS, timeouts, retries), signed by
 * libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88 signs the path and query exactly as written
 * (curl issue #9717), so every URL is built here in canonical form, and every request
 * carries x-amz-content-sha256 (the SHA-256 of its body) that libcurl signs as given.
 */
#include "s3.h"

#include "http.h"
#include "iam.h"
#include "md5.h"
#include "pool.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* TAIL_BUFFER, the suffix read's buffer, is one byte more than asked: s3rver serves
 * bytes=-N as bytes 0..N (N + 1 bytes). Taking the whole answer lets the connection be
 * reused; a cut transfer closes it, and the next request pays a new TCP and TLS handshake. */
/* The suffix read when opening: trailer, slot area, chunk table and meta chunk of archives
 * up to about 2 GiB (10,000 chunks), so that they open in two sequential round trips (this
 * read, then the header); larger ones take one more (widen_tail). */
#define TAIL_BYTES  (512u << 10)
#define TAIL_BUFFER (TAIL_BYTES + 1u)
#define HEAD_BYTES  16384u /* the first read at the start: the whole header */
/* The opening window: what a reader reads at the end of an object before its first chunk
 * (trailer, slot area, chunk table, meta chunk) grows with the archive (the table is 48
 * bytes a chunk): about 1/4096 of the object, between OPEN_WINDOW_MIN and OPEN_WINDOW_MAX. */
#define OPEN_WINDOW_MIN    65536u
#define OPEN_WINDOW_SHIFT  12u
#define OPEN_WINDOW_MAX    ((size_t)4 << 20)
#define XML_MAX            (1u << 20)
#define DEFAULT_PART_MIB   8u
#define DEFAULT_IN_FLIGHT  4u
#define PARTS_PER_TIER     1000u
#define MAX_PART_BYTES     ((size_t)4 << 30)
#define MAX_PARTS          10000u
#define DEFAULT_TIMEOUT_MS 60000u
/* Object stores throttle with 503 SlowDown as a matter of course: more patience than the
 * key service's 5 attempts (a backoff ceiling of 8 s keeps it bounded in time). */
#define DEFAULT_MAX_ATTEMPTS 8u
#define EMPTY_SHA256         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_HEADER_BYTES  (sizeof "x-amz-content-sha256: " + 64)

/* ---- URLs ------------------------------------------------------------------------------ */

static bool valid_bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

int smar_s3_parse_url(const char *url, char bucket[SMAR_S3_BUCKET_MAX + 1],
                      char key[SMAR_S3_KEY_MAX + 1], smar_err *e)
{
    if (url == NULL || strncmp(url, "s3://", 5) != 0)
        return smar_fail(e, SMAR_E_INVALID, "not an s3:// URL");
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (blen < 3 || blen > SMAR_S3_BUCKET_MAX || b[blen] != '/')
        return smar_fail(e, SMAR_E_INVALID,
                         "'%.80s': expected s3://BUCKET/KEY (a bucket name of 3 to 63 characters)",
                         url);
    for (size_t i = 0; i < blen; i++)
        if (!valid_bucket_char(b[i]))
            return smar_fail(e, SMAR_E_INVALID,
                             "'%.80s': the bucket name has a character other than a-z 0-9 . - _",
                             url);
    const char *k = b + blen + 1;
    size_t klen = strlen(k);
    if (klen == 0 || klen > SMAR_S3_KEY_MAX)
        return smar_fail(e, SMAR_E_INVALID, "'%.80s': the object key must have 1 to %d bytes", url,
                         SMAR_S3_KEY_MAX);
    for (size_t i = 0; i < klen; i++)
        if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
            return smar_fail(e, SMAR_E_INVALID, "'%.80s': the object key has a control character",
                             url);
    if (k[klen - 1] == '/')
        return smar_fail(e, SMAR_E_INVALID, "'%.80s' names a prefix (a series), not one object",
                         url);
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    memcpy(key, k, klen + 1);
    return SMAR_OK;
}

/* The host of "https://HOST[:PORT][/]" as a pointer and length. */
static const char *endpoint_host(const char *endpoint, size_t *len)
{
    const char *h = strstr(endpoint, "://");
    h = h != NULL ? h + 3 : endpoint;
    if (*h == '[') { /* an IPv6 literal */
        const char *end = strchr(h, ']');
        *len = end != NULL ? (size_t)(end - h) + 1 : strlen(h);
        return h;
    }
    *len = strcspn(h, ":/");
    return h;
}

bool smar_s3_endpoint_wants_path_style(const char *endpoint)
{
    size_t n;
    const char *h = endpoint_host(endpoint, &n);
    if (n > 0 && h[0] == '[')
        return true;
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            return false;
    return n > 0;
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append s percent-encoded (RFC 3986); '/' kept when keep_slash. */
static int append_encoded(smar_buf *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        int rc;
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            rc = smar_buf_append(out, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = smar_buf_append(out, esc, 3);
        }
        if (rc != SMAR_OK)
            return rc;
    }
    return SMAR_OK;
}

static int compare_params(const void *a, const void *b)
{
    const smar_s3_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return strcmp(x->value != NULL ? x->value : "", y->value != NULL ? y->value : "");
}

#define MAX_PARAMS 8

int smar_s3_request_url(smar_buf *out, const char *endpoint, bool path_style, const char *bucket,
                        const char *key, const smar_s3_param *params, size_t n_params)
{
    if (n_params > MAX_PARAMS || strncmp(endpoint, "https://", 8) != 0)
        return SMAR_E_INVALID;
    smar_buf_reset(out);
    size_t host_len;
    const char *host = endpoint_host(endpoint, &host_len);
    int rc = SMAR_OK;
    if (path_style) {
        rc = smar_buf_append_str(out, endpoint);
        if (rc == SMAR_OK)
            rc = smar_buf_append_str(out, "/");
        if (rc == SMAR_OK)
            rc = append_encoded(out, bucket, false);
    } else {
        rc = smar_buf_printf(out, "https://%s.%.*s", bucket, (int)strcspn(host, "/"), host);
    }
    (void)host_len;
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(out, "/");
    if (rc == SMAR_OK && key != NULL)
        rc = append_encoded(out, key, true);
    smar_s3_param sorted[MAX_PARAMS];
    if (n_params > 0)
        memcpy(sorted, params, n_params * sizeof *params);
    qsort(sorted, n_params, sizeof *sorted, compare_params);
    for (size_t i = 0; i < n_params && rc == SMAR_OK; i++) {
        rc = smar_buf_append_str(out, i == 0 ? "?" : "&");
        if (rc == SMAR_OK)
            rc = append_encoded(out, sorted[i].name, false);
        if (rc == SMAR_OK)
            rc = smar_buf_append_str(out, "=");
        if (rc == SMAR_OK && sorted[i].value != NULL)
            rc = append_encoded(out, sorted[i].value, false);
    }
    if (rc == SMAR_OK)
        rc = smar_buf_append(out, "", 1); /* NUL-terminated; len counts it */
    return rc;
}

int smar_s3_copy_part_headers(smar_buf *out, const char *lines[3], size_t *n, const char *bucket,
                              const char *key, uint64_t first, uint64_t last, const char *etag)
{
    smar_buf_reset(out);
    if (bucket == NULL || key == NULL || first > last ||
        (etag != NULL && (strlen(etag) > 130 || strpbrk(etag, "\r\n") != NULL)))
        return SMAR_E_INVALID;
    size_t at[3];
    int rc = smar_buf_append_str(out, "x-amz-copy-source: /");
    if (rc == SMAR_OK)
        rc = append_encoded(out, bucket, false);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(out, "/");
    if (rc == SMAR_OK)
        rc = append_encoded(out, key, true);
    if (rc == SMAR_OK)
        rc = smar_buf_append(out, "", 1);
    at[0] = 0, at[1] = out->len;
    if (rc == SMAR_OK)
        rc = smar_buf_printf(out, "x-amz-copy-source-range: bytes=%llu-%llu",
                             (unsigned long long)first, (unsigned long long)last);
    if (rc == SMAR_OK)
        rc = smar_buf_append(out, "", 1);
    at[2] = out->len;
    *n = etag != NULL && *etag != '\0' ? 3 : 2;
    if (rc == SMAR_OK && *n == 3)
        rc = smar_buf_printf(out, "x-amz-copy-source-if-match: %s", etag);
    if (rc == SMAR_OK)
        rc = smar_buf_append(out, "", 1);
    if (rc != SMAR_OK)
        return rc;
    for (size_t i = 0; i < *n; i++)
        lines[i] = (const char *)out->data + at[i];
    return SMAR_OK;
}

/* ---- the client: where, as whom, and one signed request ----------------------------------- */

typedef struct s3_client {
    char endpoint[256]; /* https://HOST[:PORT], no trailing '/' */
    bool path_style;
    char bucket[SMAR_S3_BUCKET_MAX + 1];
    char key[SMAR_S3_KEY_MAX + 1];
    char url[SMAR_S3_KEY_MAX + 80]; /* s3://BUCKET/KEY, for messages */
    char sigv4[96];                 /* "aws:amz:REGION:s3" */
    char access_key[129];
    char *secret;       /* locked memory */
    char *token_header; /* "x-amz-security-token: T" in locked memory, or NULL */
    smar_iam *iam;      /* IBM Cloud IAM: bearer tokens instead of SigV4; NULL: SigV4 */
    char *ca_file;
    smar_http_policy policy;
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
} s3_client;

static void client_clear(s3_client *c)
{
    if (c->secret != NULL)
        sodium_free(c->secret);
    if (c->token_header != NULL)
        sodium_free(c->token_header);
    free(c->ca_file);
    smar_iam_free(c->iam);
    c->iam = NULL;
    sodium_memzero(c->access_key, sizeof c->access_key);
    c->secret = c->token_header = c->ca_file = NULL;
}

static char *locked_printf(const char *prefix, const char *value)
{
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *p = sodium_malloc(n);
    if (p != NULL)
        (void)snprintf(p, n, "%s%s", prefix, value);
    return p;
}

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)r[i]) && r[i] != '-' && r[i] != '_')
            return false;
    return true;
}

/* IBM Cloud IAM (a bearer token for an API key) rather than SigV4 with HMAC keys. */
static bool wants_iam(const smar_s3_options *o)
{
    return o->version >= 3 && o->ibm_iam.api_key != NULL && *o->ibm_iam.api_key != '\0';
}

static int check_hmac_keys(const smar_s3_options *o, smar_err *e)
{
    if (o->access_key_id == NULL || *o->access_key_id == '\0' || o->secret_access_key == NULL ||
        *o->secret_access_key == '\0')
        return smar_fail(e, SMAR_E_INVALID,
                         "no S3 credentials (an access key id and a secret access key, or an "
                         "IBM Cloud API key)");
    if (strlen(o->access_key_id) >= 129 || strchr(o->access_key_id, ':') != NULL)
        return smar_fail(e, SMAR_E_INVALID, "the S3 access key id is malformed");
    return SMAR_OK;
}

/* The SigV4 credentials: the secret and the session token into locked memory. */
static int take_hmac_keys(s3_client *c, const smar_s3_options *o, smar_err *e)
{
    memcpy(c->access_key, o->access_key_id, strlen(o->access_key_id) + 1);
    c->secret = locked_printf("", o->secret_access_key);
    if (c->secret == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    if (o->session_token != NULL && *o->session_token != '\0') {
        c->token_header = locked_printf("x-amz-security-token: ", o->session_token);
        if (c->token_header == NULL)
            return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    return SMAR_OK;
}
/* Everything but the bucket and key (already in c): endpoint, region, credentials. */
static int client_configure(s3_client *c, const smar_s3_options *o, smar_err *e);

static int client_init(s3_client *c, const char *url, const smar_s3_options *o, smar_err *e)
{
    memset(c, 0, sizeof *c);
    int rc = smar_s3_parse_url(url, c->bucket, c->key, e);
    return rc == SMAR_OK ? client_configure(c, o, e) : rc;
}

static int client_configure(s3_client *c, const smar_s3_options *o, smar_err *e)
{
    if (o == NULL)
        return smar_fail(e, SMAR_E_INVALID, "no S3 options given");
    int rc = smar_check_version(e, o->version, SMAR_S3_OPTIONS_VERSION, "smar_s3_options");
    if (rc != SMAR_OK)
        return rc;
    (void)snprintf(c->url, sizeof c->url, "s3://%s/%s", c->bucket, c->key);
    const char *region = o->region != NULL && *o->region != '\0' ? o->region : "us-east-1";
    if (!valid_region(region))
        return smar_fail(e, SMAR_E_INVALID, "the S3 region is not a region name");
    bool use_iam = wants_iam(o);
    if (!use_iam && (rc = check_hmac_keys(o, e)) != SMAR_OK)
        return rc;
    if (o->endpoint != NULL && *o->endpoint != '\0') {
        size_t n = strlen(o->endpoint);
        while (n > 0 && o->endpoint[n - 1] == '/')
            n--;
        if (strncmp(o->endpoint, "https://", 8) != 0 || n <= 8 || n >= sizeof c->endpoint ||
            memchr(o->endpoint + 8, '/', n - 8) != NULL || memchr(o->endpoint, '@', n) != NULL ||
            memchr(o->endpoint, '?', n) != NULL)
            return smar_fail(e, SMAR_E_INVALID,
                             "the S3 endpoint must be https://HOST[:PORT] (TLS is always used)");
        memcpy(c->endpoint, o->endpoint, n);
        c->endpoint[n] = '\0';
    } else {
        (void)snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", region);
    }
    c->path_style = (o->flags & SMAR_S3_PATH_STYLE) != 0 ||
                    smar_s3_endpoint_wants_path_style(c->endpoint) ||
                    strchr(c->bucket, '.') != NULL || strchr(c->bucket, '_') != NULL;
    (void)snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:s3", region);
    if (o->ca_file != NULL && (c->ca_file = strdup(o->ca_file)) == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    c->policy.timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->policy.max_attempts = o->max_attempts != 0 ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    c->policy.retry_budget_ms = 4 * c->policy.timeout_ms;
    c->cancelled = o->cancelled;
    c->cancel_ctx = o->cancel_ctx;
    if (use_iam)
        return smar_iam_open(&c->iam, o->ibm_iam.api_key, o->ibm_iam.endpoint, o->ca_file,
                             &c->policy, e);
    return take_hmac_keys(c, o, e);
}

/* One request, its extra header lines and body; how it ends is smar_http_send's. */
typedef struct s3_call {
    const char *method;
    const smar_s3_param *params;
    size_t n_params;
    const char *headers[8];
    size_t n_headers;
    const void *body;
    size_t body_len;
    void *out;
    size_t out_cap;
    bool uncancellable; /* an abort must go out even when the work was cancelled */
    /* Signed here, not by libcurl: libcurl 7.88 sorts the signed headers as whole
     * "name:value" lines, so x-amz-copy-source comes after x-amz-copy-source-range (':' >
     * '-') and the signature is not the canonical one S3 computes. */
    bool self_signed;
    bool bucket_request; /* addressed to the bucket (a listing), not the object */
} s3_call;

static void payload_hash_header(char out[SHA256_HEADER_BYTES], const void *body, size_t len)
{
    char hex[65] = EMPTY_SHA256;
    if (len > 0) {
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, body, len);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    }
    (void)snprintf(out, SHA256_HEADER_BYTES, "x-amz-content-sha256: %s", hex);
}

/* ---- SigV4 by this file, for the requests libcurl cannot sign (s3_call.self_signed) ---- */

typedef struct sig_header {
    char name[64];
    const char *value; /* trimmed: value_len bytes */
    size_t value_len;
} sig_header;

static int compare_sig_headers(const void *a, const void *b)
{
    return strcmp(((const sig_header *)a)->name, ((const sig_header *)b)->name);
}

/* "Name: value" as a lower-case name and the trimmed value. false: not a header line. */
static bool split_header(const char *line, sig_header *h)
{
    size_t n = strcspn(line, ":");
    if (line[n] != ':' || n == 0 || n >= sizeof h->name)
        return false;
    for (size_t i = 0; i < n; i++)
        h->name[i] = (char)tolower((unsigned char)line[i]);
    h->name[n] = '\0';
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    h->value = v;
    h->value_len = len;
    return true;
}

static void hmac(uint8_t out[32], const uint8_t *key, size_t key_len, const char *msg)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* The canonical request of SigV4 for url (canonical already: smar_s3_request_url) with
 * the signed headers hs (sorted here), into cr; the signed header list into names. */
static int canonical_request(smar_buf *cr, smar_buf *names, const char *method, const char *url,
                             sig_header *hs, size_t n, const char *payload_hash)
{
    const char *host = url + strlen("https://");
    size_t host_len = strcspn(host, "/");
    const char *path = host + host_len;
    size_t path_len = strcspn(path, "?");
    const char *query = path[path_len] == '?' ? path + path_len + 1 : "";
    qsort(hs, n, sizeof *hs, compare_sig_headers);
    int rc = smar_buf_printf(cr, "%s\n%.*s\n%s\n", method, (int)path_len, path, query);
    for (size_t i = 0; i < n && rc == SMAR_OK; i++) {
        rc = smar_buf_printf(cr, "%s:%.*s\n", hs[i].name, (int)hs[i].value_len, hs[i].value);
        if (rc == SMAR_OK)
            rc = smar_buf_printf(names, "%s%s", i > 0 ? ";" : "", hs[i].name);
    }
    if (rc == SMAR_OK)
        rc = smar_buf_printf(cr, "\n%.*s\n%s", (int)names->len, (const char *)names->data,
                             payload_hash);
    return rc;
}

/* The x-amz-date and Authorization lines of a request signed with SigV4 for S3. lines are
 * the request's own header lines (all signed, with host and x-amz-date). */
static int sign_request(const s3_client *c, const char *method, const char *url,
                        const char *const *lines, size_t n_lines, const char *payload_hash,
                        char date_line[40], smar_buf *auth)
{
    char amz_date[17], day[9], region[64];
    time_t now = time(NULL);
    struct tm tm;
    (void)gmtime_r(&now, &tm);
    (void)strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, amz_date, 8);
    day[8] = '\0';
    (void)snprintf(date_line, 40, "x-amz-date: %s", amz_date);
    const char *r = c->sigv4 + strlen("aws:amz:");
    (void)snprintf(region, sizeof region, "%.*s", (int)strcspn(r, ":"), r);
    const char *host = url + strlen("https://");
    char host_line[300];
    (void)snprintf(host_line, sizeof host_line, "host: %.*s", (int)strcspn(host, "/"), host);
    sig_header hs[16];
    size_t n = 0;
    if (!split_header(host_line, &hs[n++]) || !split_header(date_line, &hs[n++]))
        return SMAR_E_INVALID;
    for (size_t i = 0; i < n_lines && n < 16; i++)
        if (!split_header(lines[i], &hs[n++]))
            return SMAR_E_INVALID;
    smar_buf cr = {0}, names = {0}, sts = {0};
    int rc = canonical_request(&cr, &names, method, url, hs, n, payload_hash);
    uint8_t h[32], k[32];
    char hex[65];
    if (rc == SMAR_OK) {
        crypto_hash_sha256(h, cr.data, cr.len);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        rc = smar_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amz_date, day,
                             region, hex);
    }
    if (rc == SMAR_OK) {
        char *secret = locked_printf("AWS4", c->secret);
        if (secret == NULL)
            rc = SMAR_E_NOMEM;
        else {
            hmac(k, (const uint8_t *)secret, strlen(secret), day);
            sodium_free(secret);
            hmac(k, k, sizeof k, region);
            hmac(k, k, sizeof k, "s3");
            hmac(k, k, sizeof k, "aws4_request");
            hmac(h, k, sizeof k, (const char *)sts.data);
            sodium_memzero(k, sizeof k);
            sodium_bin2hex(hex, sizeof hex, h, sizeof h);
            rc = smar_buf_printf(auth,
                                 "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/"
                                 "aws4_request, SignedHeaders=%.*s, Signature=%s",
                                 c->access_key, day, region, (int)names.len,
                                 (const char *)names.data, hex);
        }
    }
    smar_buf_free(&cr);
    smar_buf_free(&names);
    smar_buf_free(&sts);
    return rc;
}

/* One request, SigV4-signed, or with the IAM bearer line (bearer not NULL). */
static int send_once(const s3_client *c, const s3_call *call, const char *bearer,
                     smar_http_response *resp, smar_err *e)
{
    smar_buf url = {0};
    int rc =
        smar_s3_request_url(&url, c->endpoint, c->path_style, c->bucket,
                            call->bucket_request ? NULL : c->key, call->params, call->n_params);
    if (rc != SMAR_OK) {
        smar_buf_free(&url);
        *resp = (smar_http_response){.body = {.secure = true}};
        return smar_fail(e, rc, "%s: cannot build the request URL", c->url);
    }
    char sha_header[SHA256_HEADER_BYTES];
    payload_hash_header(sha_header, call->body, call->body_len);
    const char *headers[12];
    size_t n = 0;
    headers[n++] = sha_header;
    if (bearer != NULL)
        headers[n++] = bearer;
    else if (c->token_header != NULL)
        headers[n++] = c->token_header;
    for (size_t i = 0; i < call->n_headers && n < 12; i++)
        headers[n++] = call->headers[i];
    char date_line[40];
    smar_buf auth = {0};
    bool self_signed = call->self_signed && bearer == NULL;
    if (self_signed) {
        rc = sign_request(c, call->method, (const char *)url.data, headers, n,
                          sha_header + strlen("x-amz-content-sha256: "), date_line, &auth);
        if (rc == SMAR_OK && (rc = smar_buf_append(&auth, "", 1)) == SMAR_OK && n + 2 <= 12) {
            headers[n++] = date_line;
            headers[n++] = (const char *)auth.data;
        }
        if (rc != SMAR_OK) {
            smar_buf_free(&url);
            smar_buf_free(&auth);
            *resp = (smar_http_response){.body = {.secure = true}};
            return smar_fail(e, rc, "%s: cannot sign the request", c->url);
        }
    }
    smar_http_request req = {
        .method = call->method,
        .url = (const char *)url.data,
        .headers = headers,
        .n_headers = n,
        .body = call->body,
        .body_len = call->body_len,
        .max_response = XML_MAX,
        .ca_file = c->ca_file,
        .aws_sigv4 = self_signed || bearer != NULL ? NULL : c->sigv4,
        .aws_user = c->access_key,
        .aws_secret = c->secret,
        .out = call->out,
        .out_cap = call->out_cap,
        .cancelled = call->uncancellable ? NULL : c->cancelled,
        .cancel_ctx = c->cancel_ctx,
    };
    rc = smar_http_send(&req, &c->policy, resp, e);
    smar_buf_free(&url);
    smar_buf_free(&auth);
    return rc;
}

/* With IAM: the bearer line in locked memory for this request alone (another thread may
 * renew the cached token meanwhile), and one more try with a new token when a cached one
 * is refused (revoked, or expired early). */
static int send_with_token(const s3_client *c, const s3_call *call, smar_http_response *resp,
                           smar_err *e)
{
    char *line = sodium_malloc(SMAR_IAM_AUTH_LINE_MAX);
    if (line == NULL) {
        *resp = (smar_http_response){.body = {.secure = true}};
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    int rc;
    for (int attempt = 0;; attempt++) {
        bool fresh = false;
        char msg[SMAR_ERRMSG_MAX];
        rc = smar_iam_auth_line(c->iam, line, SMAR_IAM_AUTH_LINE_MAX, &fresh,
                                call->uncancellable ? NULL : c->cancelled, c->cancel_ctx, msg,
                                sizeof msg);
        if (rc != SMAR_OK) {
            *resp = (smar_http_response){.body = {.secure = true}};
            (void)smar_fail(e, rc, "%s", msg);
            break;
        }
        rc = send_once(c, call, line, resp, e);
        if (rc != SMAR_E_DENIED || fresh || attempt > 0)
            break;
        smar_iam_refused(c->iam, line);
        smar_http_response_free(resp);
    }
    sodium_free(line); /* wipes */
    return rc;
}

static int client_send(const s3_client *c, const s3_call *call, smar_http_response *resp,
                       smar_err *e)
{
    if (c->iam != NULL)
        return send_with_token(c, call, resp, e);
    return send_once(c, call, NULL, resp, e);
}

/* The text between <tag> and </tag> in an XML answer, into out (bounded). */
static bool xml_value(const smar_buf *body, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    (void)snprintf(open, sizeof open, "<%s>", tag);
    (void)snprintf(close, sizeof close, "</%s>", tag);
    size_t len = body->len;
    const char *text = (const char *)body->data;
    if (text == NULL)
        return false;
    const char *start = NULL;
    for (size_t i = 0; i + strlen(open) <= len; i++)
        if (memcmp(text + i, open, strlen(open)) == 0) {
            start = text + i + strlen(open);
            break;
        }
    if (start == NULL)
        return false;
    size_t rest = len - (size_t)(start - text);
    for (size_t i = 0; i + strlen(close) <= rest; i++)
        if (memcmp(start + i, close, strlen(close)) == 0) {
            if (i >= cap)
                return false;
            memcpy(out, start, i);
            out[i] = '\0';
            return true;
        }
    return false;
}

/* The S3 error code of an error answer, for messages ("" when there is none). */
static void error_code(const smar_http_response *resp, char out[64])
{
    if (!xml_value(&resp->body, "Code", out, 64))
        out[0] = '\0';
    for (char *p = out; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p))
            *p = '?';
}

/* Say what a failed request means for the object, after http.c's message. */
static int explain(const s3_client *c, int rc, const smar_http_response *resp, smar_err *e)
{
    char code[64];
    error_code(resp, code);
    if (rc == SMAR_E_NOTFOUND)
        return smar_err_prefix(e, "%s: no such object or bucket%s%s: ", c->url, code[0] ? " " : "",
                               code);
    if (rc == SMAR_E_DENIED)
        return smar_err_prefix(e,
                               "%s: access denied%s%s (check the credentials and region): ", c->url,
                               code[0] ? " " : "", code);
    if (rc == SMAR_E_UNAVAILABLE)
        return smar_err_prefix(e, "%s: object storage unavailable: ", c->url);
    if (code[0] != '\0')
        return smar_err_prefix(e, "%s: %s: ", c->url, code);
    return smar_err_prefix(e, "%s: ", c->url);
}

/* ---- the source ---------------------------------------------------------------------------- */

typedef struct s3_source {
    s3_client c;
    uint64_t size;
    /* the object's ETag when opened ("" if not sent): pins later range reads (If-Match)
     * and server-side copies */
    char etag[136];
    uint8_t *tail; /* the object's last tail_len bytes, read when opening */
    size_t tail_len;
    /* The object's first head_len bytes, read by the first read that falls inside them:
     * the reader reads the header in two steps (fixed part, then the rest), which would
     * otherwise be two sequential requests. */
    pthread_mutex_t head_lock;
    uint8_t *head;
    size_t head_len;
    bool size_known; /* from a suffix read's Content-Range, though the server ignored it */
} s3_source;

/* Parse "bytes FIRST-LAST/TOTAL". */
static bool parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total)
{
    unsigned long long a, b, t;
    char end;
    if (sscanf(v, "bytes %llu-%llu/%llu%c", &a, &b, &t, &end) != 3 || a > b || b >= t)
        return false;
    *first = a, *last = b, *total = t;
    return true;
}

/* The If-Match line pinning reads to etag, into line; false (no pin) when etag is empty or
 * unfit for a header line. */
static bool if_match_line(const char *etag, char line[160])
{
    if (etag == NULL || etag[0] == '\0' || strlen(etag) > 136)
        return false;
    for (const char *p = etag; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    (void)snprintf(line, 160, "If-Match: %s", etag);
    return true;
}

/* A ranged GET of [offset, offset + len) into buf, its answer checked. With an etag (the
 * object's when it was opened), the read is conditional: an object replaced since then
 * answers 412, and the restore fails instead of mixing bytes of two objects. */
static int get_range(const s3_client *c, const char *etag, void *buf, size_t len, uint64_t offset,
                     smar_err *e)
{
    char range[64], if_match[160];
    (void)snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
                   (unsigned long long)(offset + len - 1));
    s3_call call = {
        .method = "GET", .headers = {range}, .n_headers = 1, .out = buf, .out_cap = len};
    if (if_match_line(etag, if_match))
        call.headers[call.n_headers++] = if_match;
    smar_http_response resp;
    int rc = client_send(c, &call, &resp, e);
    if (rc != SMAR_OK && resp.status == 412) {
        smar_err_clear(e);
        rc = smar_fail(e, SMAR_E_IO,
                       "%s: the object changed while reading (it was replaced after it was "
                       "opened): read it again",
                       c->url);
    } else if (rc != SMAR_OK) {
        rc = rc == SMAR_E_CANCELLED ? rc : explain(c, rc, &resp, e);
    } else {
        uint64_t first = 0, last = 0, total = 0;
        bool whole = resp.status == 200 && offset == 0 && resp.out_len == len;
        bool ranged = resp.status == 206 &&
                      parse_content_range(resp.content_range, &first, &last, &total) &&
                      first == offset && last == offset + len - 1;
        if ((!whole && !ranged) || resp.out_len != len)
            rc = smar_fail(e, SMAR_E_IO,
                           "%s: the server answered bytes %llu..+%zu with another range (HTTP %ld, "
                           "Content-Range '%.60s', %zu bytes)",
                           c->url, (unsigned long long)offset, len, resp.status, resp.content_range,
                           resp.out_len);
    }
    smar_http_response_free(&resp);
    return rc;
}

/* Serve [offset, offset + len) from the head block, reading it first if need be: SMAR_OK,
 * SMAR_E_NOTFOUND when the range is not inside it, or why reading it failed. */
static int read_head(s3_source *s, void *buf, size_t len, uint64_t offset, smar_err *e)
{
    size_t head_max = s->size < HEAD_BYTES ? (size_t)s->size : HEAD_BYTES;
    if (offset >= head_max || len > head_max - offset)
        return SMAR_E_NOTFOUND;
    int rc = SMAR_OK;
    pthread_mutex_lock(&s->head_lock);
    if (s->head == NULL) {
        uint8_t *head = malloc(head_max);
        rc = head == NULL ? smar_fail(e, SMAR_E_NOMEM, "out of memory")
                          : get_range(&s->c, s->etag, head, head_max, 0, e);
        if (rc == SMAR_OK) {
            s->head = head;
            s->head_len = head_max;
        } else {
            free(head);
        }
    }
    if (rc == SMAR_OK)
        memcpy(buf, s->head + offset, len);
    pthread_mutex_unlock(&s->head_lock);
    return rc;
}

static smar_io_result source_read_at(void *opaque, void *buf, size_t len, uint64_t offset,
                                     char err[SMAR_IO_ERROR_MAX])
{
    s3_source *s = opaque;
    if (len == 0)
        return SMAR_IO_OK;
    uint64_t tail_start = s->size - s->tail_len;
    if (offset >= tail_start && len <= s->size - offset) {
        memcpy(buf, s->tail + (offset - tail_start), len);
        return SMAR_IO_OK;
    }
    smar_err e = {0};
    int rc = read_head(s, buf, len, offset, &e);
    if (rc == SMAR_E_NOTFOUND)
        rc = get_range(&s->c, s->etag, buf, len, offset, &e);
    if (rc == SMAR_OK)
        return SMAR_IO_OK;
    (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s", smar_err_message(&e));
    return rc == SMAR_E_CANCELLED ? SMAR_IO_CANCELLED : SMAR_IO_FAILED;
}

static void source_close(void *opaque)
{
    s3_source *s = opaque;
    if (s == NULL)
        return;
    client_clear(&s->c);
    pthread_mutex_destroy(&s->head_lock);
    free(s->head);
    free(s->tail);
    free(s);
}

/*
 * A server that does not honour suffix ranges may serve the object's first bytes instead
 * (s3rver answers bytes=-N with bytes 0..N), saying the object's size in Content-Range:
 * then the size needs no HEAD, and those bytes are the head block the reader asks for
 * next. Keeps nothing when the answer is not such a prefix.
 */
static void keep_prefix_answer(s3_source *s, const smar_http_response *resp, bool cut)
{
    uint64_t first, last, total;
    /* cut: the answer outgrew the buffer and was stopped (http.c then reports no status) */
    if ((resp->status != 206 && !cut) ||
        !parse_content_range(resp->content_range, &first, &last, &total) || first != 0)
        return;
    size_t head_len = total < HEAD_BYTES ? (size_t)total : HEAD_BYTES;
    if (resp->out_len < head_len || head_len == 0 || (s->head = malloc(head_len)) == NULL)
        return;
    memcpy(s->head, s->tail, head_len);
    s->head_len = head_len;
    s->size = total;
    s->size_known = true;
}

/* The suffix read: true when the server honoured it (the tail and size are then known). */
static int read_suffix(s3_source *s, bool *honoured, smar_err *e)
{
    char range[40];
    (void)snprintf(range, sizeof range, "Range: bytes=-%u", TAIL_BYTES);
    s3_call call = {.method = "GET",
                    .headers = {range},
                    .n_headers = 1,
                    .out = s->tail,
                    .out_cap = TAIL_BUFFER};
    smar_http_response resp;
    int rc = client_send(&s->c, &call, &resp, e);
    *honoured = false;
    memcpy(s->etag, resp.etag, sizeof s->etag);
    if (rc == SMAR_OK || rc == SMAR_E_LIMIT) {
        uint64_t first, last, total;
        if (rc == SMAR_OK && resp.status == 206 &&
            parse_content_range(resp.content_range, &first, &last, &total) && last == total - 1 &&
            resp.out_len == last - first + 1 &&
            resp.out_len == (total < TAIL_BYTES ? total : TAIL_BYTES)) {
            *honoured = true;
            s->size = total;
            s->tail_len = resp.out_len;
        } else {
            keep_prefix_answer(s, &resp, rc == SMAR_E_LIMIT);
        }
        rc = SMAR_OK; /* not honoured: HEAD and an explicit range instead */
        smar_err_clear(e);
    } else if (rc == SMAR_E_INVALID && resp.status == 416) {
        rc = SMAR_OK; /* an empty object: HEAD says its size */
        smar_err_clear(e);
    } else if (rc != SMAR_E_CANCELLED) {
        rc = explain(&s->c, rc, &resp, e);
    }
    smar_http_response_free(&resp);
    return rc;
}

static int head_size(const s3_client *c, uint64_t *size, smar_err *e)
{
    s3_call call = {.method = "HEAD"};
    smar_http_response resp;
    int rc = client_send(c, &call, &resp, e);
    if (rc == SMAR_OK && !resp.has_content_length)
        rc = smar_fail(e, SMAR_E_IO, "%s: HEAD answered without a Content-Length", c->url);
    else if (rc == SMAR_OK)
        *size = resp.content_length;
    else if (rc != SMAR_E_CANCELLED)
        rc = explain(c, rc, &resp, e);
    smar_http_response_free(&resp);
    return rc;
}

/* How many bytes at the end of an object of this size the opening window holds. */
static size_t open_window(uint64_t size)
{
    uint64_t want = size >> OPEN_WINDOW_SHIFT;
    if (want < OPEN_WINDOW_MIN)
        want = OPEN_WINDOW_MIN;
    if (want > OPEN_WINDOW_MAX)
        want = OPEN_WINDOW_MAX;
    return (size_t)(want < size ? want : size);
}

/* Widen the tail to the opening window, in one read: the reader would otherwise read the
 * rest of a large chunk table, then the meta chunk before it, one request each. (Read
 * alongside the header on a second connection it would cost a new TCP and TLS handshake:
 * more than the round trip it saves.) */
static int widen_tail(s3_source *s, smar_err *e)
{
    size_t want = open_window(s->size);
    if (want <= s->tail_len)
        return SMAR_OK;
    uint8_t *tail = malloc(want);
    if (tail == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    size_t more = want - s->tail_len;
    int rc = get_range(&s->c, s->etag, tail, more, s->size - want, e);
    if (rc != SMAR_OK) {
        free(tail);
        return rc;
    }
    memcpy(tail + more, s->tail, s->tail_len);
    free(s->tail);
    s->tail = tail;
    s->tail_len = want;
    return SMAR_OK;
}

static int source_open(s3_source *s, const char *url, const smar_s3_options *o, smar_err *e)
{
    int rc = client_init(&s->c, url, o, e);
    if (rc != SMAR_OK)
        return rc;
    if ((s->tail = malloc(TAIL_BUFFER)) == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    bool honoured;
    if ((rc = read_suffix(s, &honoured, e)) != SMAR_OK || honoured)
        return rc == SMAR_OK ? widen_tail(s, e) : rc;
    if (!s->size_known && (rc = head_size(&s->c, &s->size, e)) != SMAR_OK)
        return rc;
    s->tail_len = 0; /* the suffix read's bytes were not the tail */
    return s->size == 0 ? SMAR_OK : widen_tail(s, e);
}

static void copy_error(char err[SMAR_IO_ERROR_MAX], const smar_err *e)
{
    if (err != NULL)
        (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s", smar_err_message(e));
}

int smar_s3_is_url(const char *text)
{
    return text != NULL && strncmp(text, "s3://", 5) == 0;
}

int smar_s3_source_open(smar_source *out, const char *url, const smar_s3_options *opts,
                        char err[SMAR_IO_ERROR_MAX])
{
    smar_err e = {0};
    if (out == NULL) {
        (void)smar_fail(&e, SMAR_E_INVALID, "no source to fill");
        copy_error(err, &e);
        return SMAR_E_INVALID;
    }
    s3_source *s = calloc(1, sizeof *s);
    if (s == NULL || pthread_mutex_init(&s->head_lock, NULL) != 0) {
        free(s);
        (void)smar_fail(&e, SMAR_E_NOMEM, "out of memory");
        copy_error(err, &e);
        return SMAR_E_NOMEM;
    }
    int rc = source_open(s, url, opts, &e);
    if (rc != SMAR_OK) {
        copy_error(err, &e);
        source_close(s);
        return rc;
    }
    *out = (smar_source)SMAR_SOURCE_INIT;
    out->opaque = s;
    out->size = s->size;
    out->read_at = source_read_at;
    out->close = source_close;
    return SMAR_OK;
}

/* ---- listing a prefix ------------------------------------------------------------------------ */

#define LIST_PAGE_KEYS "1000"
#define LIST_MAX_PAGES                                                                             \
    100000u /* 100 million keys: far beyond any series, bounds a looping server */
#define TOKEN_MAX 1024u

int smar_s3_is_prefix(const char *text)
{
    size_t n = text != NULL ? strlen(text) : 0;
    return smar_s3_is_url(text) && n > 5 && text[n - 1] == '/';
}

/* Split "s3://BUCKET/" or "s3://BUCKET/PREFIX/" into the bucket and the prefix ("" or
 * "PREFIX/"). */
static int parse_prefix(const char *url, char bucket[SMAR_S3_BUCKET_MAX + 1],
                        char prefix[SMAR_S3_KEY_MAX + 1], smar_err *e)
{
    if (!smar_s3_is_prefix(url))
        return smar_fail(e, SMAR_E_INVALID, "'%.80s': expected s3://BUCKET/PREFIX/", url);
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (b[blen] == '/' && b[blen + 1] == '\0') { /* the whole bucket */
        char probe[SMAR_S3_BUCKET_MAX + 16];
        (void)snprintf(probe, sizeof probe, "s3://%.*s/x", (int)(blen < 70 ? blen : 70), b);
        int rc = smar_s3_parse_url(probe, bucket, prefix, e);
        prefix[0] = '\0';
        return rc;
    }
    /* The key rules are the object's, bar the trailing '/': check "PREFIX/x". */
    size_t n = strlen(url);
    if (n + 1 > SMAR_S3_KEY_MAX + 8 + SMAR_S3_BUCKET_MAX)
        return smar_fail(e, SMAR_E_INVALID, "'%.80s': the prefix is too long", url);
    char probe[SMAR_S3_KEY_MAX + SMAR_S3_BUCKET_MAX + 16];
    (void)snprintf(probe, sizeof probe, "%sx", url);
    int rc = smar_s3_parse_url(probe, bucket, prefix, e);
    if (rc == SMAR_OK)
        prefix[strlen(prefix) - 1] = '\0'; /* drop the probe's 'x' */
    return rc;
}

/* The first <tag>VALUE</tag> in [*pos, end): VALUE as pointer and length, *pos after it. */
static bool xml_next(const char **pos, const char *end, const char *tag, const char **value,
                     size_t *len)
{
    char open[40], close[40];
    int on = snprintf(open, sizeof open, "<%s>", tag);
    int cn = snprintf(close, sizeof close, "</%s>", tag);
    for (const char *p = *pos; p + on <= end; p++) {
        if (memcmp(p, open, (size_t)on) != 0)
            continue;
        const char *v = p + on;
        for (const char *q = v; q + cn <= end; q++) {
            if (memcmp(q, close, (size_t)cn) == 0) {
                *value = v;
                *len = (size_t)(q - v);
                *pos = q + cn;
                return true;
            }
        }
        return false;
    }
    return false;
}

/* XML text into out (bounded): the five predefined entities decoded, any other refused. */
static bool xml_text(const char *v, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < len; o++) {
        if (o + 1 >= cap)
            return false;
        if (v[i] != '&') {
            out[o] = v[i++];
            continue;
        }
        size_t k = 0, nent = sizeof entities / sizeof entities[0];
        while (k < nent && (len - i < strlen(entities[k].entity) ||
                            memcmp(v + i, entities[k].entity, strlen(entities[k].entity)) != 0))
            k++;
        if (k == nent)
            return false;
        out[o] = entities[k].c;
        i += strlen(entities[k].entity);
    }
    out[o] = '\0';
    return true;
}

/* One page's <Contents>: cb for each key. */
static int list_page_keys(const s3_client *c, const smar_buf *body, smar_s3_key_cb cb, void *ctx,
                          smar_err *e)
{
    const char *pos = (const char *)body->data, *end = pos + body->len;
    const char *item, *v;
    size_t item_len, vlen;
    char key[SMAR_S3_KEY_MAX + 1], url[SMAR_S3_KEY_MAX + SMAR_S3_BUCKET_MAX + 8], size_text[24];
    while (xml_next(&pos, end, "Contents", &item, &item_len)) {
        const char *ip = item, *iend = item + item_len;
        unsigned long long size = 0;
        if (!xml_next(&ip, iend, "Key", &v, &vlen) || !xml_text(v, vlen, key, sizeof key))
            return smar_fail(e, SMAR_E_IO, "%s: the listing has a malformed or too long key",
                             c->url);
        ip = item;
        if (xml_next(&ip, iend, "Size", &v, &vlen) &&
            xml_text(v, vlen, size_text, sizeof size_text))
            size = strtoull(size_text, NULL, 10);
        (void)snprintf(url, sizeof url, "s3://%s/%s", c->bucket, key);
        int stop = cb(url, (uint64_t)size, ctx);
        if (stop != 0)
            return stop > 0 ? SMAR_STOP
                            : smar_fail(e, SMAR_E_INVALID, "%s: the listing was refused", c->url);
    }
    return SMAR_OK;
}

/* The continuation token of a truncated page into token ("" when the listing is complete). */
static int list_next_token(const s3_client *c, const smar_buf *body, char token[TOKEN_MAX],
                           smar_err *e)
{
    const char *pos = (const char *)body->data, *end = pos + body->len, *v;
    size_t vlen;
    char truncated[8] = "";
    token[0] = '\0';
    if (!xml_next(&pos, end, "IsTruncated", &v, &vlen) ||
        !xml_text(v, vlen, truncated, sizeof truncated) || strcmp(truncated, "true") != 0)
        return SMAR_OK;
    pos = (const char *)body->data;
    if (!xml_next(&pos, end, "NextContinuationToken", &v, &vlen) ||
        !xml_text(v, vlen, token, TOKEN_MAX) || token[0] == '\0')
        return smar_fail(e, SMAR_E_IO,
                         "%s: a truncated listing without a usable continuation token", c->url);
    return SMAR_OK;
}

/* ListObjectsV2, page after page; every parameter goes through the canonical URL. */
static int list_all(const s3_client *c, const char *prefix, smar_s3_key_cb cb, void *ctx,
                    smar_err *e)
{
    char token[TOKEN_MAX] = "";
    int rc = SMAR_OK;
    for (unsigned page = 0; rc == SMAR_OK; page++) {
        if (page == LIST_MAX_PAGES)
            return smar_fail(e, SMAR_E_LIMIT, "%s: more than %u listing pages", c->url, page);
        smar_s3_param params[4] = {{"list-type", "2"},
                                   {"max-keys", LIST_PAGE_KEYS},
                                   {"prefix", prefix},
                                   {"continuation-token", token}};
        s3_call call = {.method = "GET",
                        .params = params,
                        .n_params = token[0] != '\0' ? 4 : 3,
                        .bucket_request = true};
        smar_http_response resp;
        rc = client_send(c, &call, &resp, e);
        if (rc == SMAR_OK)
            rc = list_page_keys(c, &resp.body, cb, ctx, e);
        else if (rc != SMAR_E_CANCELLED)
            rc = explain(c, rc, &resp, e);
        char next[TOKEN_MAX] = "";
        if (rc == SMAR_OK)
            rc = list_next_token(c, &resp.body, next, e);
        smar_http_response_free(&resp);
        if (rc != SMAR_OK || next[0] == '\0')
            break;
        if (strcmp(next, token) == 0)
            return smar_fail(e, SMAR_E_IO, "%s: the server repeated a continuation token", c->url);
        memcpy(token, next, sizeof token);
    }
    return rc == SMAR_STOP ? SMAR_OK : rc;
}

int smar_s3_list(const char *url, const smar_s3_options *opts, smar_s3_key_cb cb, void *ctx,
                 char err[SMAR_IO_ERROR_MAX])
{
    smar_err e = {0};
    s3_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        (void)smar_fail(&e, SMAR_E_NOMEM, "out of memory");
        copy_error(err, &e);
        return SMAR_E_NOMEM;
    }
    int rc = cb == NULL ? smar_fail(&e, SMAR_E_INVALID, "no callback for the listing")
                        : parse_prefix(url, c->bucket, c->key, &e);
    if (rc == SMAR_OK)
        rc = client_configure(c, opts, &e);
    if (rc == SMAR_OK) {
        char prefix[SMAR_S3_KEY_MAX + 1];
        memcpy(prefix, c->key, sizeof prefix);
        rc = list_all(c, prefix, cb, ctx, &e);
    }
    if (rc != SMAR_OK)
        copy_error(err, &e);
    client_clear(c);
    free(c);
    return rc;
}

/* ---- the sink: a multipart upload ------------------------------------------------------------ */

typedef struct part_job {
    smar_pool_job job;
    struct smar_s3_sink *owner;
    bool pending;
    unsigned number; /* 1..10000 */
    uint8_t *data;
    size_t len, cap;
    int rc;
    smar_err err;
    char etag[136];
} part_job;

struct smar_s3_sink {
    s3_client c;
    smar_err err;
    char upload_id[1024];
    char retain_header[80]; /* "x-amz-object-lock-retain-until-date: ..." or "" */
    bool replace;
    bool started, done, failed;
    unsigned part_mib;
    smar_pool *pool;
    part_job *jobs;
    unsigned n_jobs;
    unsigned next;  /* the job being filled */
    unsigned parts; /* parts dispatched */
    char (*etags)[136];
};

/* The size of part number n: part_mib MiB for parts 1..1000, doubling every 1000 parts. */
static size_t part_size(const smar_s3_sink *s, unsigned n)
{
    size_t size = (size_t)s->part_mib << 20;
    for (unsigned tier = (n - 1) / PARTS_PER_TIER; tier > 0 && size < MAX_PART_BYTES; tier--)
        size *= 2;
    return size < MAX_PART_BYTES ? size : MAX_PART_BYTES;
}

/* An ETag goes back into the CompleteMultipartUpload XML as it came: printable ASCII
 * without markup characters only. */
static bool plain_etag(const char *etag)
{
    if (etag[0] == '\0')
        return false;
    for (const char *p = etag; *p != '\0'; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '<' || *p == '>' || *p == '&')
            return false;
    return true;
}

static void upload_part(void *ctx, unsigned worker, smar_pool_job *job)
{
    (void)ctx, (void)worker;
    part_job *p = SMAR_POOL_ENTRY(job, part_job, job);
    const s3_client *c = &p->owner->c;
    uint8_t md5[SMAR_MD5_BYTES];
    smar_md5(p->data, p->len, md5);
    char md5_header[64] = "Content-MD5: ";
    sodium_bin2base64(md5_header + strlen(md5_header), sizeof md5_header - strlen(md5_header), md5,
                      sizeof md5, sodium_base64_VARIANT_ORIGINAL);
    char number[16];
    (void)snprintf(number, sizeof number, "%u", p->number);
    smar_s3_param params[2] = {{"partNumber", number}, {"uploadId", p->owner->upload_id}};
    s3_call call = {.method = "PUT",
                    .params = params,
                    .n_params = 2,
                    .headers = {md5_header, "Content-Type: application/octet-stream"},
                    .n_headers = 2,
                    .body = p->data,
                    .body_len = p->len};
    smar_http_response resp;
    smar_err_clear(&p->err);
    p->rc = client_send(c, &call, &resp, &p->err);
    if (p->rc == SMAR_OK && !plain_etag(resp.etag))
        p->rc = smar_fail(&p->err, SMAR_E_IO, "%s: part %u: the server sent no usable ETag", c->url,
                          p->number);
    else if (p->rc == SMAR_OK)
        memcpy(p->etag, resp.etag, sizeof p->etag);
    else if (p->rc != SMAR_E_CANCELLED)
        p->rc = explain(c, p->rc, &resp, &p->err);
    smar_http_response_free(&resp);
}

/* Take back the oldest part in flight and keep its result. */
static void take_part(smar_s3_sink *s)
{
    part_job *p = SMAR_POOL_ENTRY(smar_pool_take(s->pool), part_job, job);
    p->pending = false;
    p->len = 0; /* free to fill again */
    if (p->rc == SMAR_OK) {
        memcpy(s->etags[p->number - 1], p->etag, sizeof p->etag);
    } else if (!s->failed) {
        s->failed = true;
        s->err = p->err;
    }
}

static void take_all_parts(smar_s3_sink *s)
{
    while (s->pool != NULL && smar_pool_pending(s->pool) > 0)
        take_part(s);
}

/* The job to fill next, its buffer sized for the next part number. */
static part_job *filling(smar_s3_sink *s)
{
    part_job *p = &s->jobs[s->next];
    if (p->pending) /* round robin: it is the oldest in flight */
        take_part(s);
    size_t want = part_size(s, s->parts + 1);
    if (p->cap < want) {
        free(p->data);
        p->data = malloc(want);
        p->cap = p->data != NULL ? want : 0;
        if (p->data == NULL)
            return NULL;
    }
    return p;
}

static int dispatch(smar_s3_sink *s, part_job *p)
{
    if (s->parts >= MAX_PARTS)
        return smar_fail(&s->err, SMAR_E_LIMIT, "%s: more than %u parts", s->c.url, MAX_PARTS);
    p->number = ++s->parts;
    p->pending = true;
    smar_pool_submit(s->pool, &p->job);
    s->next = (s->next + 1) % s->n_jobs;
    return SMAR_OK;
}

static bool sink_cancelled(const smar_s3_sink *s)
{
    return s->c.cancelled != NULL && s->c.cancelled(s->c.cancel_ctx);
}

static smar_io_result sink_result(smar_s3_sink *s, char err[SMAR_IO_ERROR_MAX])
{
    copy_error(err, &s->err);
    return s->err.code == SMAR_E_CANCELLED ? SMAR_IO_CANCELLED : SMAR_IO_FAILED;
}

static smar_io_result sink_write(void *opaque, const void *buf, size_t len,
                                 char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_sink *s = opaque;
    const uint8_t *in = buf;
    while (len > 0) {
        if (sink_cancelled(s))
            (void)smar_fail(&s->err, SMAR_E_CANCELLED, "%s: cancelled", s->c.url);
        if (s->failed || s->err.code != SMAR_OK || !s->started || s->done)
            return sink_result(s, err);
        part_job *p = filling(s);
        if (p == NULL) {
            (void)smar_fail(&s->err, SMAR_E_NOMEM, "out of memory for an upload part");
            return sink_result(s, err);
        }
        size_t want = part_size(s, s->parts + 1);
        size_t n = want - p->len < len ? want - p->len : len;
        memcpy(p->data + p->len, in, n);
        p->len += n, in += n, len -= n;
        if (p->len == want && dispatch(s, p) != SMAR_OK)
            return sink_result(s, err);
    }
    return SMAR_IO_OK;
}

/* ---- the sink: server-side copies (UploadPartCopy) ------------------------------------------- */

/* The ETag of a CopyPartResult, its &quot; entities turned back into quotes. */
static bool copy_result_etag(const smar_buf *body, char out[136])
{
    char raw[136 * 6];
    if (!xml_value(body, "ETag", raw, sizeof raw))
        return false;
    size_t n = 0;
    for (const char *p = raw; *p != '\0' && n + 1 < 136; n++) {
        bool quot = strncmp(p, "&quot;", 6) == 0;
        out[n] = quot ? '"' : *p;
        p += quot ? 6 : 1;
    }
    out[n] = '\0';
    return plain_etag(out);
}

/* Part number (next) copied from bytes first..last of the source object. SMAR_E_UNSUPPORTED
 * when the server does not implement UploadPartCopy (s3rver answers 501). */
static int copy_part(smar_s3_sink *s, const s3_source *from, uint64_t first, uint64_t last)
{
    if (s->parts >= MAX_PARTS)
        return smar_fail(&s->err, SMAR_E_LIMIT, "%s: more than %u parts", s->c.url, MAX_PARTS);
    smar_buf lines = {0};
    const char *headers[3];
    size_t n = 0;
    int rc = smar_s3_copy_part_headers(&lines, headers, &n, from->c.bucket, from->c.key, first,
                                       last, from->etag);
    if (rc != SMAR_OK) {
        smar_buf_free(&lines);
        return smar_fail(&s->err, rc, "%s: cannot build the copy request", s->c.url);
    }
    char number[16];
    (void)snprintf(number, sizeof number, "%u", s->parts + 1);
    smar_s3_param params[2] = {{"partNumber", number}, {"uploadId", s->upload_id}};
    s3_call call = {
        .method = "PUT", .params = params, .n_params = 2, .n_headers = n, .self_signed = true};
    for (size_t i = 0; i < n; i++)
        call.headers[i] = headers[i];
    smar_http_response resp;
    char code[64] = "";
    rc = client_send(&s->c, &call, &resp, &s->err);
    if (rc != SMAR_OK)
        error_code(&resp, code);
    if (rc != SMAR_OK && (resp.status == 501 || strcmp(code, "NotImplemented") == 0)) {
        rc = SMAR_E_UNSUPPORTED;
    } else if (rc == SMAR_OK && !copy_result_etag(&resp.body, s->etags[s->parts])) {
        rc = smar_fail(&s->err, SMAR_E_IO, "%s: part %u: the server copied without an ETag",
                       s->c.url, s->parts + 1); /* or answered 200 with an error */
    } else if (rc != SMAR_OK && resp.status == 412) {
        rc = smar_fail(&s->err, SMAR_E_CORRUPT,
                       "%s changed while it was copied: nothing was "
                       "written",
                       from->c.url);
    } else if (rc != SMAR_OK && rc != SMAR_E_CANCELLED) {
        rc = explain(&s->c, rc, &resp, &s->err);
    }
    if (rc == SMAR_OK)
        s->parts++;
    smar_http_response_free(&resp);
    smar_buf_free(&lines);
    return rc;
}

/* Whether this sink can copy from src server-side: an object of the same endpoint, and
 * nothing buffered (copied parts go in whole, in order). */
static bool can_copy(const smar_s3_sink *s, const smar_source *src, uint64_t len)
{
    if (src == NULL || src->read_at != source_read_at || src->opaque == NULL)
        return false;
    const s3_source *from = src->opaque;
    return strcmp(from->c.endpoint, s->c.endpoint) == 0 && s->jobs[s->next].len == 0 &&
           !s->jobs[s->next].pending && len >= part_size(s, s->parts + 1);
}

/* Bytes [offset, offset + len) of src into the upload: whole parts copied by the server,
 * the rest (less than a part) read here into the part being filled, so that what is
 * written next joins it and no part but the last is under S3's 5 MiB minimum. A source too
 * small for one part, another endpoint, or a server without UploadPartCopy (the first copy
 * answers 501): SMAR_IO_UNSUPPORTED, nothing written. */
static smar_io_result sink_copy(void *opaque, const smar_source *src, uint64_t offset, uint64_t len,
                                char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_sink *s = opaque;
    if (s->failed || s->err.code != SMAR_OK || !s->started || s->done)
        return sink_result(s, err);
    if (!can_copy(s, src, len) || offset > src->size || len > src->size - offset)
        return SMAR_IO_UNSUPPORTED;
    const s3_source *from = src->opaque;
    take_all_parts(s); /* the parts before are numbered already; keep their results */
    if (s->failed)
        return sink_result(s, err);
    unsigned first_part = s->parts;
    uint64_t end = offset + len;
    while (end - offset >= part_size(s, s->parts + 1)) {
        uint64_t n = part_size(s, s->parts + 1);
        if (sink_cancelled(s))
            (void)smar_fail(&s->err, SMAR_E_CANCELLED, "%s: cancelled", s->c.url);
        int rc = s->err.code != SMAR_OK ? s->err.code : copy_part(s, from, offset, offset + n - 1);
        if (rc == SMAR_E_UNSUPPORTED && s->parts == first_part) {
            smar_err_clear(&s->err);
            return SMAR_IO_UNSUPPORTED;
        }
        if (rc != SMAR_OK) {
            if (rc == SMAR_E_UNSUPPORTED)
                (void)smar_fail(&s->err, SMAR_E_IO, "%s: the server stopped copying parts",
                                s->c.url);
            s->failed = true;
            return sink_result(s, err);
        }
        offset += n;
    }
    if (offset == end)
        return SMAR_IO_OK;
    part_job *p = filling(s);
    if (p == NULL) {
        (void)smar_fail(&s->err, SMAR_E_NOMEM, "out of memory for an upload part");
        return sink_result(s, err);
    }
    char why[SMAR_IO_ERROR_MAX] = "";
    smar_io_result res = src->read_at(src->opaque, p->data, (size_t)(end - offset), offset, why);
    if (res != SMAR_IO_OK) {
        (void)smar_fail(&s->err, res == SMAR_IO_CANCELLED ? SMAR_E_CANCELLED : SMAR_E_IO, "%s",
                        why);
        s->failed = true;
        return sink_result(s, err);
    }
    p->len = (size_t)(end - offset);
    return SMAR_IO_OK;
}

/* The CompleteMultipartUpload body: every part's number and ETag. */
static int complete_body(const smar_s3_sink *s, smar_buf *xml)
{
    int rc = smar_buf_append_str(xml, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < s->parts && rc == SMAR_OK; i++)
        rc = smar_buf_printf(xml, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                             s->etags[i]);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(xml, "</CompleteMultipartUpload>");
    return rc;
}

/* The ETag S3 gives an object made by this upload: the MD5 of the parts' MD5s (their
 * ETags), then "-" and the number of parts. false when a part's ETag is not a plain MD5. */
static bool multipart_etag(const smar_s3_sink *s, char out[136])
{
    uint8_t *digests = malloc((size_t)s->parts * SMAR_MD5_BYTES + 1);
    if (digests == NULL)
        return false;
    bool ok = true;
    for (unsigned i = 0; i < s->parts && ok; i++) {
        const char *hex = s->etags[i];
        size_t n = strlen(hex);
        if (n == 34 && hex[0] == '"' && hex[33] == '"')
            hex++, n = 32;
        size_t bin_len = 0;
        ok = n == 32 &&
             sodium_hex2bin(digests + (size_t)i * SMAR_MD5_BYTES, SMAR_MD5_BYTES, hex, 32, NULL,
                            &bin_len, NULL) == 0 &&
             bin_len == SMAR_MD5_BYTES;
    }
    if (ok) {
        uint8_t md5[SMAR_MD5_BYTES];
        char hex[2 * SMAR_MD5_BYTES + 1];
        smar_md5(digests, (size_t)s->parts * SMAR_MD5_BYTES, md5);
        sodium_bin2hex(hex, sizeof hex, md5, sizeof md5);
        (void)snprintf(out, 136, "\"%s-%u\"", hex, s->parts);
    }
    free(digests);
    return ok;
}

/* A CompleteMultipartUpload sent again after its first answer was lost finds the upload gone
 * (S3: 404 NoSuchUpload; 412 with If-None-Match, the object being there now; some servers
 * an error of their own). Whether an earlier attempt made the object: HEAD the key and
 * compare its ETag with the one this upload gives. */
static bool completed_before(smar_s3_sink *s)
{
    /* Not only after a retry of ours: libcurl itself sends a request again, once, when a
     * reused connection closes without an answer (http.c keeps connections), so a lost
     * answer can end in a first attempt's 404. The ETag check alone decides. */
    char want[136];
    if (!multipart_etag(s, want))
        return false;
    s3_call call = {.method = "HEAD"};
    smar_http_response resp;
    smar_err e = {0};
    /* Servers that give every object the MD5 of its bytes (s3rver) give a one-part upload
     * its part's ETag. */
    bool same =
        client_send(&s->c, &call, &resp, &e) == SMAR_OK &&
        (strcmp(resp.etag, want) == 0 || (s->parts == 1 && strcmp(resp.etag, s->etags[0]) == 0));
    smar_http_response_free(&resp);
    return same;
}

static int complete_upload(smar_s3_sink *s)
{
    smar_buf xml = {0};
    int rc = complete_body(s, &xml);
    if (rc != SMAR_OK) {
        smar_buf_free(&xml);
        return smar_fail(&s->err, rc, "out of memory");
    }
    smar_s3_param params[1] = {{"uploadId", s->upload_id}};
    s3_call call = {.method = "POST",
                    .params = params,
                    .n_params = 1,
                    .headers = {"Content-Type: application/xml", "If-None-Match: *"},
                    .n_headers = s->replace ? 1 : 2,
                    .body = xml.data,
                    .body_len = xml.len};
    smar_http_response resp;
    rc = client_send(&s->c, &call, &resp, &s->err);
    char code[64] = "";
    if (rc == SMAR_OK && xml_value(&resp.body, "Code", code, sizeof code)) {
        rc = smar_fail(&s->err, SMAR_E_IO, "%s: completing the upload failed: %.60s", s->c.url,
                       code); /* S3 may answer 200 with an error body */
    } else if (rc != SMAR_OK && rc != SMAR_E_CANCELLED && completed_before(s)) {
        rc = SMAR_OK; /* an earlier attempt completed it; its answer was lost */
        smar_err_clear(&s->err);
    } else if (rc != SMAR_OK && resp.status == 412) {
        rc = smar_fail(&s->err, SMAR_E_EXISTS, "%s: an object appeared at the key meanwhile",
                       s->c.url);
    } else if (rc != SMAR_OK && rc != SMAR_E_CANCELLED) {
        rc = explain(&s->c, rc, &resp, &s->err);
    }
    smar_http_response_free(&resp);
    smar_buf_free(&xml);
    return rc;
}

static smar_io_result sink_commit(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_sink *s = opaque;
    if (!s->failed && s->err.code == SMAR_OK && s->started && !s->done) {
        part_job *p = &s->jobs[s->next];
        if ((p->len > 0 && !p->pending) || s->parts == 0) {
            if ((p = filling(s)) == NULL)
                (void)smar_fail(&s->err, SMAR_E_NOMEM, "out of memory");
            else
                (void)dispatch(s, p);
        }
    }
    take_all_parts(s);
    if (!s->failed && s->err.code == SMAR_OK && sink_cancelled(s))
        (void)smar_fail(&s->err, SMAR_E_CANCELLED, "%s: cancelled", s->c.url);
    if (s->failed || s->err.code != SMAR_OK || complete_upload(s) != SMAR_OK)
        return sink_result(s, err);
    s->done = true;
    return SMAR_IO_OK;
}

static void sink_abort(void *opaque)
{
    smar_s3_sink *s = opaque;
    take_all_parts(s);
    if (!s->started || s->done)
        return;
    s->done = true;
    smar_s3_param params[1] = {{"uploadId", s->upload_id}};
    s3_call call = {.method = "DELETE", .params = params, .n_params = 1, .uncancellable = true};
    smar_http_response resp;
    smar_err ignored = {0};
    /* A refused abort (405 on some servers) leaves an upload never completed: invisible. */
    (void)client_send(&s->c, &call, &resp, &ignored);
    smar_http_response_free(&resp);
}

/* Whether an object is at the key: SMAR_E_EXISTS, SMAR_OK (none), or why HEAD failed. */
static int check_absent(smar_s3_sink *s)
{
    s3_call call = {.method = "HEAD"};
    smar_http_response resp;
    smar_err e = {0};
    int rc = client_send(&s->c, &call, &resp, &e);
    if (rc == SMAR_OK)
        rc = smar_fail(&s->err, SMAR_E_EXISTS, "%s exists (use --force to replace it)", s->c.url);
    else if (rc == SMAR_E_NOTFOUND)
        rc = SMAR_OK;
    else {
        s->err = e;
        rc = explain(&s->c, rc, &resp, &s->err);
    }
    smar_http_response_free(&resp);
    return rc;
}

static int create_upload(smar_s3_sink *s)
{
    smar_s3_param params[1] = {{"uploads", NULL}};
    s3_call call = {.method = "POST",
                    .params = params,
                    .n_params = 1,
                    .headers = {"Content-Type: application/octet-stream",
                                "x-amz-object-lock-mode: COMPLIANCE", s->retain_header},
                    .n_headers = s->retain_header[0] != '\0' ? 3 : 1};
    smar_http_response resp;
    int rc = client_send(&s->c, &call, &resp, &s->err);
    if (rc == SMAR_OK && !xml_value(&resp.body, "UploadId", s->upload_id, sizeof s->upload_id))
        rc = smar_fail(&s->err, SMAR_E_IO, "%s: the server sent no upload id", s->c.url);
    else if (rc != SMAR_OK && rc != SMAR_E_CANCELLED)
        rc = explain(&s->c, rc, &resp, &s->err);
    smar_http_response_free(&resp);
    if (rc == SMAR_OK)
        s->started = true;
    return rc;
}

/* The retention header for Object Lock (x-amz-object-lock-retain-until-date, ISO 8601 in
 * UTC, whole seconds), or "" without retention. The time must be in the future: a past one
 * would be refused by the server after the whole upload. */
static int retention_header(smar_s3_sink *s, const smar_s3_options *o)
{
    if (o->version < 2 || o->retain_until == 0)
        return SMAR_OK;
    time_t until = (time_t)(o->retain_until / 1000000000);
    struct tm tm;
    if (until <= time(NULL) || gmtime_r(&until, &tm) == NULL || tm.tm_year + 1900 > 9999)
        return smar_fail(&s->err, SMAR_E_INVALID,
                         "%s: the retention time must be in the future (and before year 10000)",
                         s->c.url);
    (void)strftime(s->retain_header, sizeof s->retain_header,
                   "x-amz-object-lock-retain-until-date: %Y-%m-%dT%H:%M:%SZ", &tm);
    return SMAR_OK;
}

static int sink_setup(smar_s3_sink *s, const char *url, const smar_s3_options *o)
{
    int rc = client_init(&s->c, url, o, &s->err);
    if (rc != SMAR_OK || (rc = retention_header(s, o)) != SMAR_OK)
        return rc;
    s->replace = (o->flags & SMAR_S3_REPLACE) != 0;
    s->part_mib = o->part_size_mib != 0 ? o->part_size_mib : DEFAULT_PART_MIB;
    s->n_jobs = o->parts_in_flight != 0 ? o->parts_in_flight : DEFAULT_IN_FLIGHT;
    if (s->part_mib < 5 || s->part_mib > 512 || s->n_jobs > 16)
        return smar_fail(&s->err, SMAR_E_INVALID,
                         "S3 part size must be 5..512 MiB and parts in flight 1..16");
    s->jobs = calloc(s->n_jobs, sizeof *s->jobs);
    s->etags = calloc(MAX_PARTS, sizeof *s->etags);
    if (s->jobs == NULL || s->etags == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory");
    for (unsigned i = 0; i < s->n_jobs; i++)
        s->jobs[i].owner = s;
    if (smar_pool_new(&s->pool, s->n_jobs, s->n_jobs, upload_part, s) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory (upload threads)");
    if (!s->replace && (rc = check_absent(s)) != SMAR_OK)
        return rc;
    return create_upload(s);
}

int smar_s3_sink_open(smar_s3_sink **out, const char *url, const smar_s3_options *opts)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    smar_s3_sink *s = calloc(1, sizeof *s);
    *out = s;
    if (s == NULL)
        return SMAR_E_NOMEM;
    return sink_setup(s, url, opts);
}

const char *smar_s3_sink_error(const smar_s3_sink *s)
{
    return s != NULL ? smar_err_message(&s->err) : "";
}

void smar_s3_sink_as_sink(smar_s3_sink *s, smar_sink *out)
{
    *out = (smar_sink)SMAR_SINK_INIT;
    out->opaque = s;
    out->write = sink_write;
    out->commit = sink_commit;
    out->abort = sink_abort;
    out->copy = sink_copy;
}

void smar_s3_sink_free(smar_s3_sink *s)
{
    if (s == NULL)
        return;
    sink_abort(s);
    smar_pool_free(s->pool);
    for (unsigned i = 0; s->jobs != NULL && i < s->n_jobs; i++)
        free(s->jobs[i].data);
    free(s->jobs);
    free(s->etags);
    client_clear(&s->c);
    free(s);
}

/* ---- deleting an object, and its Object Lock retention (prune) ----------------------------- */

/* A client for one object: SMAR_OK, or why not (err filled). */
static int object_client(s3_client *c, const char *url, const smar_s3_options *opts, smar_err *e)
{
    if (!smar_s3_is_url(url) || smar_s3_is_prefix(url))
        return smar_fail(e, SMAR_E_INVALID, "'%.80s': expected s3://BUCKET/KEY", url);
    return client_init(c, url, opts, e);
}

/* Whether an error answer says the server does not implement the request: 501, 405 (s3rver
 * answers some operations so), or the NotImplemented code. */
static bool not_implemented(const smar_http_response *resp)
{
    char code[64];
    error_code(resp, code);
    return resp->status == 501 || resp->status == 405 || strcmp(code, "NotImplemented") == 0 ||
           strcmp(code, "MethodNotAllowed") == 0;
}

/* Whether an error answer says the object has no retention: 404
 * NoSuchObjectLockConfiguration (the object has none), or the bucket has no Object Lock
 * configuration (AWS: 400 InvalidRequest "Bucket is missing Object Lock Configuration";
 * others: ObjectLockConfigurationNotFoundError), where no object can be retained. */
static bool no_retention(const smar_http_response *resp)
{
    char code[64], message[256];
    error_code(resp, code);
    if (strcmp(code, "NoSuchObjectLockConfiguration") == 0 ||
        strcmp(code, "ObjectLockConfigurationNotFoundError") == 0)
        return true;
    return resp->status == 400 && strcmp(code, "InvalidRequest") == 0 &&
           xml_value(&resp->body, "Message", message, sizeof message) &&
           strstr(message, "Object Lock") != NULL;
}

/* A 200 answer to GetObjectRetention: a <Retention> document, its RetainUntilDate (absent:
 * none, 0). SMAR_E_UNSUPPORTED when the answer is not such a document (a server that does
 * not know ?retention may serve the object instead). */
static int parse_retention(const s3_client *c, const smar_buf *body, smar_time_ns *until,
                           smar_err *e)
{
    static const char root[] = "<Retention";
    const char *text = (const char *)body->data;
    bool found = false;
    for (size_t i = 0; text != NULL && i + sizeof root - 1 <= body->len && !found; i++)
        found = memcmp(text + i, root, sizeof root - 1) == 0;
    if (!found)
        return smar_fail(e, SMAR_E_UNSUPPORTED,
                         "%s: the answer to GetObjectRetention is not a Retention document",
                         c->url);
    char date[64];
    *until = 0;
    if (!xml_value(body, "RetainUntilDate", date, sizeof date))
        return SMAR_OK;
    if (smar_time_parse(date, strlen(date), 0, until) != SMAR_OK || *until <= 0)
        return smar_fail(e, SMAR_E_IO, "%s: a RetainUntilDate that is not a time", c->url);
    return SMAR_OK;
}

static int get_retention(const s3_client *c, smar_time_ns *until, smar_err *e)
{
    smar_s3_param params[1] = {{"retention", NULL}};
    s3_call call = {.method = "GET", .params = params, .n_params = 1};
    smar_http_response resp;
    int rc = client_send(c, &call, &resp, e);
    if (rc == SMAR_OK) {
        rc = parse_retention(c, &resp.body, until, e);
    } else if (rc == SMAR_E_LIMIT) { /* an object served whole, not a Retention document */
        rc = smar_fail(e, SMAR_E_UNSUPPORTED,
                       "%s: the answer to GetObjectRetention is not a Retention document", c->url);
    } else if (rc != SMAR_E_CANCELLED && no_retention(&resp)) {
        *until = 0;
        rc = SMAR_OK;
    } else if (rc != SMAR_E_CANCELLED && not_implemented(&resp)) {
        rc = smar_fail(e, SMAR_E_UNSUPPORTED,
                       "%s: the server does not implement GetObjectRetention (HTTP %ld)", c->url,
                       resp.status);
    } else if (rc != SMAR_E_CANCELLED) {
        rc = explain(c, rc, &resp, e);
    }
    smar_http_response_free(&resp);
    return rc;
}

int smar_s3_get_retention(const char *url, const smar_s3_options *opts, smar_time_ns *until,
                          char err[SMAR_IO_ERROR_MAX])
{
    smar_err e = {0};
    s3_client *c = calloc(1, sizeof *c);
    int rc = c == NULL       ? smar_fail(&e, SMAR_E_NOMEM, "out of memory")
             : until == NULL ? smar_fail(&e, SMAR_E_INVALID, "no place for the retention time")
                             : object_client(c, url, opts, &e);
    if (rc == SMAR_OK)
        rc = get_retention(c, until, &e);
    if (rc != SMAR_OK)
        copy_error(err, &e);
    if (c != NULL)
        client_clear(c);
    free(c);
    return rc;
}

static int delete_object(const s3_client *c, smar_err *e)
{
    s3_call call = {.method = "DELETE"};
    smar_http_response resp;
    int rc = client_send(c, &call, &resp, e);
    if (rc == SMAR_E_DENIED) {
        char code[64];
        error_code(&resp, code);
        (void)smar_err_prefix(e,
                              "%s: deletion refused%s%s (Object Lock retention, or no permission "
                              "to delete): ",
                              c->url, code[0] ? " " : "", code);
    } else if (rc != SMAR_OK && rc != SMAR_E_CANCELLED) {
        rc = explain(c, rc, &resp, e);
    }
    smar_http_response_free(&resp);
    return rc;
}

int smar_s3_delete(const char *url, const smar_s3_options *opts, char err[SMAR_IO_ERROR_MAX])
{
    smar_err e = {0};
    s3_client *c = calloc(1, sizeof *c);
    int rc =
        c == NULL ? smar_fail(&e, SMAR_E_NOMEM, "out of memory") : object_client(c, url, opts, &e);
    if (rc == SMAR_OK)
        rc = delete_object(c, &e);
    if (rc != SMAR_OK)
        copy_error(err, &e);
    if (c != NULL)
        client_clear(c);
    free(c);
    return rc;
}
