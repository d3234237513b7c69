/*
 * iam.h - IBM Cloud IAM bearer tokens from an API key, for every libsmar client of IBM
 * Cloud services (Key Protect, Cloud Object Storage). Inside the io layer; not public API.
 *
 *   POST {iam}/identity/token   grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=K
 *                               -> {"access_token", "expires_in"}
 *
 * The token is cached and fetched again shortly before it expires (a fifth of its
 * lifetime, at most 5 minutes, early). One smar_iam may be used by several threads at
 * once (the S3 sink's part uploads): the cache is behind a mutex, and each caller gets its
 * own copy of the header line, so a refresh never changes a line a request is sending.
 *
 * Secrets: the API key, the cached token and the request body live in one locked,
 * guarded allocation (sodium_malloc), wiped when freed. No message holds the key, the
 * token, a header or a body.
 */
#ifndef SMAR_IAM_H
#define SMAR_IAM_H

#include "http.h"

#define SMAR_IAM_API_KEY_MAX   1024
#define SMAR_IAM_AUTH_LINE_MAX 8192 /* "authorization: Bearer " + a token (a JWT) */

typedef struct smar_iam smar_iam;

/* A token cache for api_key (1..SMAR_IAM_API_KEY_MAX printable ASCII characters) at
 * iam_url (https://..., NULL: https://iam.cloud.ibm.com), with pol for its requests
 * (NULL: http.c's defaults). SMAR_OK, SMAR_E_INVALID or SMAR_E_NOMEM with e set. */
int smar_iam_open(smar_iam **out, const char *api_key, const char *iam_url, const char *ca_file,
                  const smar_http_policy *pol, smar_err *e);

/* "authorization: Bearer TOKEN" into line (cap bytes, SMAR_IAM_AUTH_LINE_MAX is enough;
 * the caller keeps it in locked memory and wipes it), from the cache or from IAM. *fresh
 * (may be NULL) tells whether the token was fetched by this call: a request refused with
 * a token that was not fresh is worth one more try after smar_iam_refused. Returns SMAR_OK,
 * SMAR_E_DENIED ("... refused the API key"), SMAR_E_UNAVAILABLE, SMAR_E_CANCELLED or
 * SMAR_E_NOMEM, with a message in msg that names neither the key nor the token. */
int smar_iam_auth_line(smar_iam *iam, char *line, size_t cap, bool *fresh,
                       bool (*cancelled)(void *ctx), void *cancel_ctx, char *msg, size_t msg_len);

/* A service refused the token in line (401): forget it, unless the cache already holds a
 * newer one (another thread refreshed it), so that the next call asks IAM again. */
void smar_iam_refused(smar_iam *iam, const char *line);

/* Wipe and free everything. Accepts NULL. */
void smar_iam_free(smar_iam *iam);

#endif
