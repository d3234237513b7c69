/*
 * http.c - one request/response over libcurl with retries (http.h says what is promised).
 *
 * The request's header lines are handed to libcurl as a curl_slist built here over the
 * caller's strings (CURLOPT_HTTPHEADER does not copy the list or its strings), and the body
 * through CURLOPT_POSTFIELDS (not copied either), so a bearer token, an API key or a data key
 * stays in the caller's locked memory and is wiped by the caller.
 */
#include "http.h"
#include "lazy_curl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_TIMEOUT_MS         30000u
#define DEFAULT_MAX_ATTEMPTS       5u
#define DEFAULT_RETRY_BUDGET_MS    60000u
#define DEFAULT_BACKOFF_BASE_MS    250u
#define DEFAULT_BACKOFF_MAX_MS     8000u
#define DEFAULT_RETRY_AFTER_CAP_MS 10000u
#define DEFAULT_MAX_RESPONSE       (64u * 1024u)
#define MAX_HEADERS                16
#define WHERE_MAX                  200

/* ---- process-wide setup ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe and must run once before any handle exists. */
static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- one easy handle per thread, kept between requests ------------------------------------
 *
 * A libcurl easy handle keeps its live connections and its TLS session cache across
 * curl_easy_reset, so a thread's next request to the same host reuses the open connection
 * (no new TCP and TLS handshake: a restore over a 50 ms link pays it once per thread, not
 * per request). libcurl reuses a connection only when the TLS settings of the new request
 * (CA file, verification) match those it was made with. An easy handle must never be used
 * by two threads at once: each thread has its own, freed when the thread ends. A nested
 * call on the same thread (not made today) would get a fresh handle of its own. */

typedef struct cached_handle {
    CURL *h;
    bool busy;
} cached_handle;

static pthread_key_t handle_key;
static pthread_once_t handle_key_once = PTHREAD_ONCE_INIT;
static bool handle_key_ok;

static void free_cached_handle(void *p)
{
    cached_handle *c = p;
    if (c != NULL)
        curl_easy_cleanup(c->h);
    free(c);
}

static void init_handle_key(void)
{
    handle_key_ok = pthread_key_create(&handle_key, free_cached_handle) == 0;
}

/* This thread's handle, reset to defaults (connections and TLS sessions kept), else a new
 * one that release_handle frees. */
static CURL *acquire_handle(void)
{
    pthread_once(&handle_key_once, init_handle_key);
    cached_handle *c = handle_key_ok ? pthread_getspecific(handle_key) : NULL;
    if (c != NULL && !c->busy) {
        curl_easy_reset(c->h);
        c->busy = true;
        return c->h;
    }
    CURL *h = curl_easy_init();
    if (h == NULL || c != NULL || !handle_key_ok)
        return h;
    c = malloc(sizeof *c);
    if (c != NULL && pthread_setspecific(handle_key, c) == 0) {
        *c = (cached_handle){.h = h, .busy = true};
        return h;
    }
    free(c);
    return h;
}

/* Give h back: kept when it is this thread's cached handle, else freed. */
static void release_handle(CURL *h)
{
    cached_handle *c = handle_key_ok ? pthread_getspecific(handle_key) : NULL;
    if (c != NULL && c->h == h) {
        c->busy = false;
        return;
    }
    curl_easy_cleanup(h);
}

/* ---- small helpers --------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static unsigned or_default(unsigned v, unsigned def)
{
    return v != 0 ? v : def;
}

static smar_http_policy effective_policy(const smar_http_policy *pol)
{
    smar_http_policy p = pol != NULL ? *pol : (smar_http_policy){0};
    p.connect_timeout_ms = or_default(p.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    p.timeout_ms = or_default(p.timeout_ms, DEFAULT_TIMEOUT_MS);
    p.max_attempts = or_default(p.max_attempts, DEFAULT_MAX_ATTEMPTS);
    p.retry_budget_ms = or_default(p.retry_budget_ms, DEFAULT_RETRY_BUDGET_MS);
    p.backoff_base_ms = or_default(p.backoff_base_ms, DEFAULT_BACKOFF_BASE_MS);
    p.backoff_max_ms = or_default(p.backoff_max_ms, DEFAULT_BACKOFF_MAX_MS);
    p.retry_after_cap_ms = or_default(p.retry_after_cap_ms, DEFAULT_RETRY_AFTER_CAP_MS);
    return p;
}

void smar_http_url_for_message(const char *url, char *out, size_t out_len)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    /* userinfo (user:password@) never reaches a message */
    const char *at = strchr(p, '@'), *slash = strchr(p, '/');
    if (at != NULL && (slash == NULL || at < slash))
        p = at + 1;
    size_t host = strcspn(p, ":/?#");
    size_t rest_start = strcspn(p, "/?#");
    const char *path = p + rest_start;
    size_t path_len = *path == '/' ? strcspn(path, "?#") : 0;
    (void)snprintf(out, out_len, "%.*s%.*s", (int)host, p, (int)path_len, path);
}

/* ---- one attempt ----------------------------------------------------------------------- */

typedef struct sink {
    smar_buf *body;
    size_t max;
    bool too_big;
    bool nomem;
    /* the caller's buffer for the body (req->out), else NULL */
    uint8_t *out;
    size_t out_cap;
    size_t out_len;
    smar_http_response *resp; /* for the response headers kept */
    const smar_http_request *req;
} sink;

static size_t write_body(char *data, size_t size, size_t nmemb, void *userp)
{
    sink *s = userp;
    size_t n = size * nmemb;
    if (s->out != NULL) {
        if (n > s->out_cap - s->out_len) {
            s->too_big = true;
            return 0;
        }
        memcpy(s->out + s->out_len, data, n);
        s->out_len += n;
        return n;
    }
    if (n > s->max - s->body->len) {
        s->too_big = true;
        return 0; /* libcurl stops the transfer with CURLE_WRITE_ERROR */
    }
    if (smar_buf_append(s->body, data, n) != SMAR_OK) {
        s->nomem = true;
        return 0;
    }
    return n;
}

/* Keep value of the response header line `line` (n bytes) in out when its name is name. */
static void keep_header(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vn = n - nl - 1;
    while (vn > 0 && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    if (vn < cap) {
        memcpy(out, v, vn);
        out[vn] = '\0';
    }
}

/* The few response headers callers need (Content-Range, ETag, Content-Length). libcurl
 * calls this for every header line of every response, interim ones included: a status
 * line starts the record afresh. */
static size_t read_header(char *line, size_t size, size_t nmemb, void *userp)
{
    sink *s = userp;
    size_t n = size * nmemb;
    smar_http_response *r = s->resp;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        r->content_range[0] = r->etag[0] = '\0';
        r->has_content_length = false;
        return n;
    }
    keep_header(line, n, "Content-Range", r->content_range, sizeof r->content_range);
    keep_header(line, n, "ETag", r->etag, sizeof r->etag);
    char len[32] = "";
    keep_header(line, n, "Content-Length", len, sizeof len);
    if (len[0] >= '0' && len[0] <= '9') {
        char *end = NULL;
        unsigned long long v = strtoull(len, &end, 10);
        r->has_content_length = end != NULL && *end == '\0';
        r->content_length = v;
    }
    return n;
}

static bool cancelled(const smar_http_request *req)
{
    return req->cancelled != NULL && req->cancelled(req->cancel_ctx);
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const sink *s = userp;
    return cancelled(s->req) ? 1 : 0; /* nonzero: CURLE_ABORTED_BY_CALLBACK */
}

/* The CA bundle: the caller's, else the environment's (curl's and OpenSSL's conventions:
 * libcurl itself reads neither variable). NULL leaves libcurl's built-in default. */
static const char *ca_bundle(const char *given)
{
    if (given != NULL && *given != '\0')
        return given;
    const char *env = getenv("CURL_CA_BUNDLE");
    if (env != NULL && *env != '\0')
        return env;
    env = getenv("SSL_CERT_FILE");
    return env != NULL && *env != '\0' ? env : NULL;
}

/* The method, and the body for POST and PUT (not copied: CURLOPT_POSTFIELDS). */
static bool set_method(CURL *h, const smar_http_request *req)
{
    const char *m = req->method;
    if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0)
        return curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "") ==
                   CURLE_OK &&
               curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)(req->body != NULL ? req->body_len : 0)) == CURLE_OK &&
               (strcmp(m, "PUT") != 0 || curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK);
    if (strcmp(m, "HEAD") == 0)
        return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK;
    if (strcmp(m, "DELETE") == 0)
        return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
               curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK;
    return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
}

static bool set_options(CURL *h, const smar_http_request *req, const smar_http_policy *p,
                        unsigned timeout_ms, struct curl_slist *headers, sink *s)
{
    const char *ca = ca_bundle(req->ca_file);
    bool ok =
        curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_USERAGENT, "smar/" SMAR_VERSION_STRING) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, s) == CURLE_OK;
    if (ok && ca != NULL)
        ok = curl_easy_setopt(h, CURLOPT_CAINFO, ca) == CURLE_OK;
    if (ok)
        ok = set_method(h, req);
    if (ok)
        ok = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_HEADERDATA, s) == CURLE_OK;
    if (ok && req->cancelled != NULL)
        ok = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_XFERINFODATA, s) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
    if (ok && req->aws_sigv4 != NULL)
        ok = curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req->aws_sigv4) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_USERNAME, req->aws_user) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_PASSWORD, req->aws_secret) == CURLE_OK;
    return ok;
}

/* Transport failures worth another attempt: the service may answer next time. */
static bool transport_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* 501 Not Implemented says what the server can do, not how it is: never worth a retry. */
static bool status_retryable(long status)
{
    return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

/* ---- the request ------------------------------------------------------------------------ */

typedef struct attempt {
    CURLcode rc;
    long status;
    uint64_t retry_after_ms; /* 0: none sent */
} attempt;

static attempt run_attempt(CURL *h, const smar_http_policy *p, unsigned timeout_ms)
{
    attempt a = {.rc = CURLE_OK};
    if (curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK) {
        a.rc = CURLE_FAILED_INIT;
        return a;
    }
    a.rc = curl_easy_perform(h);
    if (a.rc == CURLE_OK) {
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
        curl_off_t ra = 0;
        if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) {
            uint64_t ms = (uint64_t)ra * 1000u;
            a.retry_after_ms = ms < p->retry_after_cap_ms ? ms : p->retry_after_cap_ms;
        }
    }
    return a;
}

/* Full jitter: a uniform wait in 0..min(max, base * 2^(n-1)) after the n-th attempt. */
static uint64_t backoff_ms(const smar_http_policy *p, unsigned n)
{
    uint64_t ceiling = p->backoff_base_ms;
    for (unsigned i = 1; i < n && ceiling < p->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > p->backoff_max_ms)
        ceiling = p->backoff_max_ms;
    return randombytes_uniform((uint32_t)ceiling + 1);
}

static int classify_status(long status)
{
    if (status == 401 || status == 403)
        return SMAR_E_DENIED;
    if (status == 404)
        return SMAR_E_NOTFOUND;
    if (status_retryable(status))
        return SMAR_E_UNAVAILABLE;
    return SMAR_E_INVALID;
}

static int report(const smar_http_request *req, const attempt *a, const sink *s, unsigned attempts,
                  smar_err *e)
{
    char where[WHERE_MAX];
    smar_http_url_for_message(req->url, where, sizeof where);
    char tries[40] = "";
    if (attempts > 1)
        (void)snprintf(tries, sizeof tries, " (after %u attempts)", attempts);
    if (s->too_big)
        return smar_fail(e, SMAR_E_LIMIT, "%s %s: the response is larger than %zu bytes",
                         req->method, where, s->out != NULL ? s->out_cap : s->max);
    if (s->nomem)
        return smar_fail(e, SMAR_E_NOMEM, "%s %s: out of memory", req->method, where);
    if (a->rc == CURLE_ABORTED_BY_CALLBACK || cancelled(req))
        return smar_fail(e, SMAR_E_CANCELLED, "%s %s: cancelled", req->method, where);
    if (a->rc == CURLE_PEER_FAILED_VERIFICATION || a->rc == CURLE_SSL_CACERT_BADFILE)
        return smar_fail(e, SMAR_E_UNAVAILABLE,
                         "%s %s: the server's TLS certificate is not trusted (%s)", req->method,
                         where, curl_easy_strerror(a->rc));
    if (a->rc != CURLE_OK)
        return smar_fail(e, SMAR_E_UNAVAILABLE, "%s %s: %s%s", req->method, where,
                         curl_easy_strerror(a->rc), tries);
    return smar_fail(e, classify_status(a->status), "%s %s: HTTP %ld%s", req->method, where,
                     a->status, tries);
}

static bool valid_request(const smar_http_request *req)
{
    return req != NULL && req->url != NULL && req->method != NULL &&
           (strcmp(req->method, "GET") == 0 || strcmp(req->method, "POST") == 0 ||
            strcmp(req->method, "PUT") == 0 || strcmp(req->method, "HEAD") == 0 ||
            strcmp(req->method, "DELETE") == 0) &&
           (req->out != NULL || req->out_cap == 0) &&
           (req->aws_sigv4 == NULL || (req->aws_user != NULL && req->aws_secret != NULL)) &&
           (req->headers != NULL || req->n_headers == 0) && req->n_headers <= MAX_HEADERS &&
           (req->body != NULL || req->body_len == 0);
}

/* The caller's header lines as a curl_slist in nodes, without copying the strings. */
static struct curl_slist *header_list(const smar_http_request *req, struct curl_slist *nodes)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        /* libcurl's list type has a non-const data pointer but only reads it. */
        nodes[i].data = (char *)(uintptr_t)req->headers[i];
        nodes[i].next = i + 1 < req->n_headers ? &nodes[i + 1] : NULL;
    }
    return req->n_headers > 0 ? nodes : NULL;
}

static int send_with_retries(CURL *h, const smar_http_request *req, const smar_http_policy *p,
                             smar_http_response *resp, sink *s, smar_err *e)
{
    uint64_t start = now_ms();
    attempt a = {0};
    for (unsigned n = 1;; n++) {
        uint64_t used = now_ms() - start;
        uint64_t left = used < p->retry_budget_ms ? p->retry_budget_ms - used : 1;
        unsigned timeout = (unsigned)(left < p->timeout_ms ? left : p->timeout_ms);
        smar_buf_reset(&resp->body);
        s->too_big = s->nomem = false;
        s->out_len = 0;
        a = run_attempt(h, p, timeout);
        resp->attempts = n;
        resp->status = a.rc == CURLE_OK ? a.status : 0;
        resp->out_len = s->out_len;
        if (a.rc == CURLE_OK && a.status >= 200 && a.status <= 299)
            return SMAR_OK;
        bool again = a.rc == CURLE_OK ? status_retryable(a.status) : transport_retryable(a.rc);
        if (!again || s->too_big || s->nomem || n >= p->max_attempts || cancelled(req))
            break;
        uint64_t wait = a.retry_after_ms != 0 ? a.retry_after_ms : backoff_ms(p, n);
        if (now_ms() - start + wait >= p->retry_budget_ms)
            break;
        sleep_ms(wait);
    }
    return report(req, &a, s, resp->attempts, e);
}

int smar_http_send(const smar_http_request *req, const smar_http_policy *pol,
                   smar_http_response *resp, smar_err *e)
{
    if (resp == NULL || !valid_request(req))
        return smar_fail(e, SMAR_E_INVALID, "invalid HTTP request");
    *resp = (smar_http_response){.body = {.secure = true}};
    if (strncasecmp(req->url, "https://", 8) != 0)
        return smar_fail(e, SMAR_E_INVALID, "%s: only https:// URLs are used", req->method);
    int loaded = smar_libcurl_load(e); /* libcurl is opened on first use (lazy_curl.h) */
    if (loaded != SMAR_OK)
        return loaded;
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK)
        return smar_fail(e, SMAR_E_UNAVAILABLE, "libcurl did not initialise: %s",
                         curl_easy_strerror(curl_init_rc));
    CURL *h = acquire_handle();
    if (h == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory (HTTP handle)");
    smar_http_policy p = effective_policy(pol);
    struct curl_slist nodes[MAX_HEADERS];
    sink s = {.body = &resp->body,
              .max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE,
              .out = req->out,
              .out_cap = req->out_cap,
              .resp = resp,
              .req = req};
    int rc;
    if (!set_options(h, req, &p, p.timeout_ms, header_list(req, nodes), &s))
        rc = smar_fail(e, SMAR_E_UNAVAILABLE, "%s: libcurl refused an option", req->method);
    else
        rc = send_with_retries(h, req, &p, resp, &s, e);
    /* the handle's options point at the caller's memory: none may outlive this call */
    curl_easy_reset(h);
    release_handle(h);
    return rc;
}

void smar_http_response_free(smar_http_response *resp)
{
    if (resp != NULL)
        smar_buf_free(&resp->body);
}
