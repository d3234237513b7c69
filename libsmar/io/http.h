/*
 * http.h - the one HTTP client of libsmar (libcurl), for key services (Key Protect) now and
 * object storage later. Inside the io layer; nothing here is public API.
 *
 * What every request gets, whatever the caller:
 * - HTTPS only, the peer's certificate and host name always verified. The CA bundle is the
 *   caller's ca_file, else $CURL_CA_BUNDLE, else $SSL_CERT_FILE, else the system's.
 *   Redirects are not followed (a bearer token must not travel to another host).
 * - A connect timeout and a total timeout per attempt.
 * - Retries on 429, 5xx and connection failures (refused, reset, timed out, nothing
 *   received), with exponential backoff and full jitter, at most max_attempts attempts and
 *   never past retry_budget_ms in all; a Retry-After the server sends is waited instead of
 *   the backoff, capped at retry_after_cap_ms.
 * - The response body is bounded (max_response bytes, else SMAR_E_LIMIT) and kept in a
 *   secure smar_buf (wiped when freed): it may hold a token or an unwrapped key.
 * - Messages name the method, host and path, the status or the transport error, and
 *   never a header, a query or a body: those hold tokens, API keys and keys.
 *
 * Headers and the body are the caller's memory and are not copied by this module: the
 * caller keeps secrets in locked memory and wipes them after the call. (libcurl and the TLS
 * library still copy bytes into their own send and receive buffers, which they free
 * without wiping; see the Key Protect notes in smar(1).)
 */
#ifndef SMAR_HTTP_H
#define SMAR_HTTP_H

#include "internal.h"

/* How long and how often to try. Zero members take the defaults below. */
typedef struct smar_http_policy {
    unsigned connect_timeout_ms; /* default 10 s */
    unsigned timeout_ms;         /* one attempt, connect to last byte; default 30 s */
    unsigned max_attempts;       /* default 5 */
    unsigned retry_budget_ms;    /* all attempts and waits; default 60 s */
    unsigned backoff_base_ms;    /* first backoff ceiling; default 250 ms */
    unsigned backoff_max_ms;     /* largest backoff ceiling; default 8 s */
    unsigned retry_after_cap_ms; /* longest Retry-After honoured; default 10 s */
} smar_http_policy;

typedef struct smar_http_request {
    const char *method; /* "GET", "POST", "PUT", "HEAD" or "DELETE" */
    const char *url;    /* https://host[:port]/path[?query] */
    /* "Name: value" lines, n_headers of them. Not copied: may point into locked memory. */
    const char *const *headers;
    size_t n_headers;
    /* POST or PUT body (may hold secrets); not copied. */
    const char *body;
    size_t body_len;
    size_t max_response; /* bytes of response body accepted; 0: 64 KiB */
    const char *ca_file; /* NULL: environment, then system */
    /* AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4), e.g. "aws:amz:us-east-1:s3", with
     * aws_user (access key id) and aws_secret; NULL: not signed. libcurl signs the path and
     * query exactly as written: the caller builds them in canonical form. libcurl copies
     * the secret into its own memory (freed, not wiped, with the handle). */
    const char *aws_sigv4;
    const char *aws_user;
    const char *aws_secret;
    /* When out is set, a 2xx answer's body goes there (at most out_cap bytes, else
     * SMAR_E_LIMIT) instead of resp->body: range reads land in the caller's buffer. */
    void *out;
    size_t out_cap;
    /* Polled during transfers and between attempts; true stops the request with
     * SMAR_E_CANCELLED. NULL: never. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
} smar_http_request;

typedef struct smar_http_response {
    long status;   /* the last attempt's HTTP status; 0 when none was received */
    smar_buf body; /* secure; the last attempt's body. smar_http_response_free wipes it */
    unsigned attempts;
    size_t out_len; /* bytes written to req->out */
    /* A few response headers of the last answer (empty / false when not sent): */
    char content_range[96];
    char etag[136];
    uint64_t content_length;
    bool has_content_length;
} smar_http_response;

/*
 * Send req, retrying as the policy says (pol NULL: defaults). Returns SMAR_OK for a 2xx
 * answer, else the class of the last failure, with a message in e:
 *   SMAR_E_DENIED       401, 403
 *   SMAR_E_NOTFOUND     404
 *   SMAR_E_UNAVAILABLE  429 and 5xx after the retries, timeouts, connection and TLS failures
 *   SMAR_E_LIMIT        the response body is larger than max_response (or out_cap)
 *   SMAR_E_CANCELLED    req->cancelled said stop
 *   SMAR_E_INVALID      bad arguments, a URL that is not https, any other status (4xx: the
 *                       request was wrong)
 *   SMAR_E_NOMEM
 * resp->status and resp->body are the last answer's in every case (callers may read an
 * error body for its reason code); resp must be freed with smar_http_response_free.
 */
int smar_http_send(const smar_http_request *req, const smar_http_policy *pol,
                   smar_http_response *resp, smar_err *e);

void smar_http_response_free(smar_http_response *resp);

/* "host/path" of url (no scheme, port, query or fragment) into out, for messages. */
void smar_http_url_for_message(const char *url, char *out, size_t out_len);

#endif
