/*
 * iam.c - IBM Cloud IAM bearer tokens from an API key, cached and shared by threads
 * (iam.h). Moved here from the Key Protect provider so that object storage uses it too.
 */
#include "iam.h"
#include "json.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define TOKEN_MARGIN_S 300 /* refresh a token this long before it expires (at most) */
#define BODY_MAX       (3 * SMAR_IAM_API_KEY_MAX + 128) /* the form, the key percent-encoded */
#define RESPONSE_MAX   (64 * 1024)

static const char AUTH_PREFIX[] = "authorization: Bearer ";

/* What lives in locked memory. */
typedef struct iam_secrets {
    char api_key[SMAR_IAM_API_KEY_MAX + 1];
    char auth_line[SMAR_IAM_AUTH_LINE_MAX]; /* the cached token's line when has_token */
    char body[BODY_MAX];                    /* the token request (holds the API key) */
} iam_secrets;

struct smar_iam {
    pthread_mutex_t lock; /* over everything below; held while a token is fetched, so
                             threads that need one at the same time ask IAM once */
    char *token_url;
    char *ca_file;
    smar_http_policy policy;
    iam_secrets *sec;
    bool has_token;
    time_t refresh_at; /* CLOCK_MONOTONIC seconds */
};

__attribute__((format(printf, 4, 5))) static int say(char *msg, size_t msg_len, int status,
                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
    return status;
}

static time_t monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* ---- opening ----------------------------------------------------------------------------- */

static int check_api_key(const char *k, smar_err *e)
{
    size_t n = k != NULL ? strlen(k) : 0;
    if (n < 1 || n > SMAR_IAM_API_KEY_MAX)
        return smar_fail(e, SMAR_E_INVALID, "an IBM Cloud API key is 1 to %d characters",
                         SMAR_IAM_API_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return smar_fail(e, SMAR_E_INVALID,
                             "the IBM Cloud API key holds a character that is not printable "
                             "ASCII (a stray newline?)");
    return SMAR_OK;
}

/* {base}/identity/token, for a base that is https://... without query (slashes trimmed). */
static char *token_url(const char *given, smar_err *e)
{
    size_t n = strlen(given);
    while (n > 0 && given[n - 1] == '/')
        n--;
    if (n < 9 || n > 512 || strncmp(given, "https://", 8) != 0 || memchr(given, '?', n) ||
        memchr(given, '#', n) || memchr(given, ' ', n)) {
        (void)smar_fail(e, SMAR_E_INVALID,
                        "the IAM endpoint must be an https:// URL without query");
        return NULL;
    }
    static const char path[] = "/identity/token";
    char *s = malloc(n + sizeof path);
    if (s == NULL) {
        (void)smar_fail(e, SMAR_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(s, given, n);
    memcpy(s + n, path, sizeof path);
    return s;
}

int smar_iam_open(smar_iam **out, const char *api_key, const char *iam_url, const char *ca_file,
                  const smar_http_policy *pol, smar_err *e)
{
    *out = NULL;
    int rc = check_api_key(api_key, e);
    if (rc != SMAR_OK)
        return rc;
    smar_iam *iam = calloc(1, sizeof *iam);
    if (iam == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    if (pthread_mutex_init(&iam->lock, NULL) != 0) {
        free(iam);
        return smar_fail(e, SMAR_E_NOMEM, "cannot make a mutex");
    }
    iam->sec = sodium_malloc(sizeof *iam->sec);
    if (iam->sec == NULL) {
        smar_iam_free(iam);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    sodium_memzero(iam->sec, sizeof *iam->sec);
    memcpy(iam->sec->api_key, api_key, strlen(api_key) + 1);
    iam->token_url = token_url(iam_url != NULL ? iam_url : "https://iam.cloud.ibm.com", e);
    if (iam->token_url == NULL) {
        smar_iam_free(iam);
        return e->code;
    }
    if (ca_file != NULL && (iam->ca_file = strdup(ca_file)) == NULL) {
        smar_iam_free(iam);
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    }
    if (pol != NULL)
        iam->policy = *pol;
    *out = iam;
    return SMAR_OK;
}

void smar_iam_free(smar_iam *iam)
{
    if (iam == NULL)
        return;
    if (iam->sec != NULL)
        sodium_free(iam->sec); /* wipes */
    free(iam->token_url);
    free(iam->ca_file);
    pthread_mutex_destroy(&iam->lock);
    free(iam);
}

/* ---- one token exchange (the lock held) -------------------------------------------------- */

/* Append s percent-encoded (RFC 3986 unreserved kept) to out at *n; false when full. */
static bool form_encode(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-_.~", ch) != NULL;
        if (*n + (keep ? 1 : 3) >= cap)
            return false;
        if (keep) {
            out[(*n)++] = (char)ch;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        }
    }
    out[*n] = '\0';
    return true;
}

/* Keep the token of a token response as the cached line. */
static int take_token(smar_iam *iam, const smar_buf *body, char *msg, size_t msg_len)
{
    smar_span text = {(const char *)body->data, body->len}, v, tok, exp;
    char err[64];
    if (!smar_json_validate(text, 8, &v, err, sizeof err) ||
        smar_json_kind_of(v) != SMAR_JSON_OBJECT || !smar_json_get(v, "access_token", &tok) ||
        smar_json_kind_of(tok) != SMAR_JSON_STRING || !smar_json_get(v, "expires_in", &exp) ||
        smar_json_kind_of(exp) != SMAR_JSON_NUMBER)
        return say(msg, msg_len, SMAR_E_UNAVAILABLE,
                   "the IAM token service sent an answer without access_token and expires_in");
    size_t tlen = tok.n - 2;
    if (tlen < 1 || tlen + sizeof AUTH_PREFIX > sizeof iam->sec->auth_line)
        return say(msg, msg_len, SMAR_E_UNAVAILABLE,
                   "the IAM token service sent a token of %zu bytes", tlen);
    for (size_t i = 0; i < tlen; i++)
        if (tok.p[1 + i] < 0x21 || tok.p[1 + i] > 0x7e || tok.p[1 + i] == '\\' ||
            tok.p[1 + i] == '"')
            return say(msg, msg_len, SMAR_E_UNAVAILABLE,
                       "the IAM token service sent a token that is not printable ASCII");
    long lifetime = strtol(exp.p, NULL, 10);
    if (lifetime < 1)
        lifetime = 1;
    long margin = lifetime / 5 < TOKEN_MARGIN_S ? lifetime / 5 : TOKEN_MARGIN_S;
    char *line = iam->sec->auth_line;
    memcpy(line, AUTH_PREFIX, sizeof AUTH_PREFIX - 1);
    memcpy(line + sizeof AUTH_PREFIX - 1, tok.p + 1, tlen);
    line[sizeof AUTH_PREFIX - 1 + tlen] = '\0';
    iam->has_token = true;
    iam->refresh_at = monotonic_s() + (time_t)(lifetime - margin);
    return SMAR_OK;
}

static void drop_token(smar_iam *iam)
{
    sodium_memzero(iam->sec->auth_line, sizeof iam->sec->auth_line);
    iam->has_token = false;
}

/* What a failed token request means: the key refused, or the service unavailable. */
static int token_failed(int rc, long status, char *msg, size_t msg_len)
{
    /* IAM answers 400 (BXNIM0415E) for an API key it does not know, 401/403 for a disabled
     * one: either way this key may not be used. */
    if (rc == SMAR_E_DENIED || (rc == SMAR_E_INVALID && status == 400))
        return say(msg, msg_len, SMAR_E_DENIED,
                   "the IAM token service refused the API key (HTTP %ld)", status);
    if (rc == SMAR_E_INVALID || rc == SMAR_E_NOTFOUND || rc == SMAR_E_LIMIT)
        return say(msg, msg_len, SMAR_E_UNAVAILABLE,
                   "the IAM token service is unavailable: HTTP %ld", status);
    if (rc == SMAR_E_UNAVAILABLE) {
        char http[SMAR_ERRMSG_MAX];
        (void)snprintf(http, sizeof http, "%s", msg);
        return say(msg, msg_len, SMAR_E_UNAVAILABLE, "the IAM token service is unavailable: %s",
                   http);
    }
    return rc;
}

static int fetch_token(smar_iam *iam, bool (*cancelled)(void *), void *cancel_ctx, char *msg,
                       size_t msg_len)
{
    static const char grant[] = "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey"
                                "&apikey=";
    char *body = iam->sec->body;
    memcpy(body, grant, sizeof grant);
    size_t n = sizeof grant - 1;
    if (!form_encode(body, sizeof iam->sec->body, &n, iam->sec->api_key)) {
        sodium_memzero(body, sizeof iam->sec->body);
        return say(msg, msg_len, SMAR_E_NOMEM, "the API key is too long");
    }
    static const char *const headers[] = {"content-type: application/x-www-form-urlencoded",
                                          "accept: application/json"};
    smar_http_request req = {
        .method = "POST",
        .url = iam->token_url,
        .headers = headers,
        .n_headers = 2,
        .body = body,
        .body_len = n,
        .max_response = RESPONSE_MAX,
        .ca_file = iam->ca_file,
        .cancelled = cancelled,
        .cancel_ctx = cancel_ctx,
    };
    smar_http_response resp;
    smar_err e = {0};
    int rc = smar_http_send(&req, &iam->policy, &resp, &e);
    sodium_memzero(body, sizeof iam->sec->body);
    if (rc != SMAR_OK) {
        (void)say(msg, msg_len, rc, "%s", e.msg);
        rc = token_failed(rc, resp.status, msg, msg_len);
    } else {
        rc = take_token(iam, &resp.body, msg, msg_len);
    }
    smar_http_response_free(&resp); /* wipes: the body held the token */
    return rc;
}

/* ---- the cache ---------------------------------------------------------------------------- */

int smar_iam_auth_line(smar_iam *iam, char *line, size_t cap, bool *fresh,
                       bool (*cancelled)(void *ctx), void *cancel_ctx, char *msg, size_t msg_len)
{
    bool fetched = false;
    int rc = SMAR_OK;
    pthread_mutex_lock(&iam->lock);
    if (!iam->has_token || monotonic_s() >= iam->refresh_at) {
        drop_token(iam);
        rc = fetch_token(iam, cancelled, cancel_ctx, msg, msg_len);
        fetched = rc == SMAR_OK;
    }
    if (rc == SMAR_OK) {
        size_t n = strlen(iam->sec->auth_line);
        if (n >= cap)
            rc = say(msg, msg_len, SMAR_E_NOMEM, "no room for the IAM token");
        else
            memcpy(line, iam->sec->auth_line, n + 1);
    }
    pthread_mutex_unlock(&iam->lock);
    if (fresh != NULL)
        *fresh = fetched;
    return rc;
}

void smar_iam_refused(smar_iam *iam, const char *line)
{
    pthread_mutex_lock(&iam->lock);
    if (iam->has_token && strcmp(iam->sec->auth_line, line) == 0)
        drop_token(iam);
    pthread_mutex_unlock(&iam->lock);
}
