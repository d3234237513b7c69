/*
 * keyprov_kms.c - the "keyprotect" key provider (smar/provider.h): root keys held by IBM Key
 * Protect or Hyper Protect Crypto Services, used through their REST key actions.
 *
 *   wrap    POST {kp}/api/v2/keys/{key}/actions/wrap    {"plaintext": b64(DEK), "aad": [...]}
 *                                                       -> {"ciphertext", "keyVersion": {"id"}}
 *   unwrap  POST .../actions/unwrap                     {"ciphertext", "aad"} -> {"plaintext"}
 *   rewrap  POST .../actions/rewrap                     {"ciphertext", "aad"} -> {"ciphertext"}
 *   token   POST {iam}/identity/token   grant_type=urn:ibm:params:oauth:grant-type:apikey
 *                                       -> {"access_token", "expires_in"}
 * Every key call carries "authorization: Bearer TOKEN" and "bluemix-instance: INSTANCE".
 *
 * The slot's wrapped key is the service's ciphertext as it is (base64 text): the service
 * keeps the key version inside it, so unwrap needs no version from the slot: current_version,
 * wrap and rewrap all give version 0. The keyVersion.id the service answers a wrap or rewrap
 * with is kept (last_version) and handed out by version_text, right after the call, so the
 * slot records it as a string version (version kind 2, spec/FORMAT.md §5.2) for people and
 * audits. A slot's AAD does not hold its version, so it stays the same across a rewrap:
 * that lets smar_rewrap use the service's rewrap action (it keeps the aad it was given) and
 * never see the DEK.
 *
 * Secrets: the API key and the token cache are io/iam.c's (locked memory); this provider's
 * copy of the "authorization" header line lives in one locked, guarded allocation
 * (sodium_malloc), wiped at free; request bodies that carry the
 * API key or a DEK are built in locked memory and wiped after the call; response bodies are
 * secure buffers (wiped). No message holds a header, a body, the token or the key.
 */
#include "keyprov.h"
#include "http.h"
#include "iam.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#define AUTH_LINE_MAX   SMAR_IAM_AUTH_LINE_MAX
#define INSTANCE_MAX    64
#define REGION_MAX      32
#define VERSION_MAX     255
#define CIPHERTEXT_MAX  4096 /* what an unwrap sends back: a slot's blob, bounded by format 2 */
#define AAD_ENTRY_CHARS 255  /* Key Protect's limit on one "aad" string */
#define BODY_MAX        (2 * CIPHERTEXT_MAX + 4096)
#define RESPONSE_MAX    (64 * 1024)

/* What lives in locked memory. */
typedef struct kms_secrets {
    char auth_line[AUTH_LINE_MAX]; /* "authorization: Bearer ..." (the IAM token cache's copy) */
    char body[BODY_MAX];           /* the request being sent (may hold the API key or a DEK) */
} kms_secrets;

typedef struct kms_ctx {
    /* key id or alias, as the URL gave it: the keyring's id (aliases run to 90 characters,
     * past the local keyrings' 64: a provider's id may take a slot's 255) */
    char key[SMAR_PROVIDER_KEY_ID_MAX + 1];
    char instance_line[INSTANCE_MAX + 32];
    char *kp_base;
    char *ca_file;
    smar_http_policy policy;
    kms_secrets *sec;
    smar_iam *iam; /* the API key and the cached token (io/iam.c) */
    char last_version[VERSION_MAX + 1];
} kms_ctx;

static bool all_chars_in(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

static const char ID_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
static const char B64_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=";

/* ---- one call to the service --------------------------------------------------------- */

/* A service's error body reason code ({"resources":[{"reasons":[{"code": "X"}]}]}), when it
 * is a plain identifier: it says why without echoing anything sent. */
static void reason_code(const smar_buf *body, char *out, size_t out_len)
{
    out[0] = '\0';
    smar_span text = {(const char *)body->data, body->len}, v, res, first, reasons, r0, code;
    char err[64];
    if (body->len == 0 || !smar_json_validate(text, 8, &v, err, sizeof err) ||
        smar_json_kind_of(v) != SMAR_JSON_OBJECT || !smar_json_get(v, "resources", &res) ||
        smar_json_kind_of(res) != SMAR_JSON_ARRAY)
        return;
    smar_json_iter it;
    smar_json_iter_init(&it, res);
    if (!smar_json_next_element(&it, &first) || smar_json_kind_of(first) != SMAR_JSON_OBJECT ||
        !smar_json_get(first, "reasons", &reasons) || smar_json_kind_of(reasons) != SMAR_JSON_ARRAY)
        return;
    smar_json_iter_init(&it, reasons);
    if (!smar_json_next_element(&it, &r0) || smar_json_kind_of(r0) != SMAR_JSON_OBJECT ||
        !smar_json_get(r0, "code", &code) || smar_json_kind_of(code) != SMAR_JSON_STRING ||
        code.n < 3 || code.n - 2 >= out_len || code.n - 2 > 48 ||
        !all_chars_in(code.p + 1, code.n - 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
        return;
    (void)snprintf(out, out_len, "%.*s", (int)(code.n - 2), code.p + 1);
}

typedef struct call {
    const char *url;
    const char *headers[4];
    size_t n_headers;
    size_t body_len; /* of sec->body */
} call;

/* Send the request whose body is in sec->body; the body is wiped afterwards, whatever
 * happened. resp is the caller's to free. */
static int send_call(kms_ctx *c, const call *k, smar_http_response *resp, char *msg, size_t msg_len)
{
    smar_http_request req = {
        .method = "POST",
        .url = k->url,
        .headers = k->headers,
        .n_headers = k->n_headers,
        .body = c->sec->body,
        .body_len = k->body_len,
        .max_response = RESPONSE_MAX,
        .ca_file = c->ca_file,
    };
    smar_err e = {0};
    int rc = smar_http_send(&req, &c->policy, resp, &e);
    sodium_memzero(c->sec->body, sizeof c->sec->body);
    if (rc != SMAR_OK)
        (void)smar_provider_say(msg, msg_len, rc, "%s", e.msg);
    return rc;
}

/* ---- IAM token ------------------------------------------------------------------------ */

/* A valid bearer token in sec->auth_line: the cached one, or a new one from IAM (io/iam.c);
 * *fresh tells which. */
static int ensure_token(kms_ctx *c, bool *fresh, char *msg, size_t msg_len)
{
    return smar_iam_auth_line(c->iam, c->sec->auth_line, sizeof c->sec->auth_line, fresh, NULL,
                              NULL, msg, msg_len);
}

static void drop_token(kms_ctx *c)
{
    smar_iam_refused(c->iam, c->sec->auth_line);
    sodium_memzero(c->sec->auth_line, sizeof c->sec->auth_line);
}

/* ---- key actions --------------------------------------------------------------------- */

/* Append `"aad":["hex",...]` for aad to the body at *n, AAD_ENTRY_CHARS hex digits a string
 * at most. False when the body is full. */
static bool put_aad(char *body, size_t cap, size_t *n, const uint8_t *aad, size_t aad_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t digits = aad_len * 2, entries = (digits + AAD_ENTRY_CHARS - 1) / AAD_ENTRY_CHARS;
    if (*n + 9 + digits + 3 * entries >= cap)
        return false;
    char *w = body + *n;
    memcpy(w, "\"aad\":[", 7);
    w += 7;
    for (size_t d = 0; d < digits; d++) {
        if (d % AAD_ENTRY_CHARS == 0) {
            if (d > 0) {
                *w++ = '"';
                *w++ = ',';
            }
            *w++ = '"';
        }
        uint8_t byte = aad[d / 2];
        *w++ = hex[d % 2 == 0 ? byte >> 4 : byte & 15];
    }
    if (digits > 0)
        *w++ = '"';
    *w++ = ']';
    *w = '\0';
    *n = (size_t)(w - body);
    return true;
}

/* What a failed key action means for this provider's callers. */
static int action_failed(const kms_ctx *c, const char *action, int rc, const smar_http_response *r,
                         char *msg, size_t msg_len)
{
    char reason[64], why[80] = "";
    reason_code(&r->body, reason, sizeof reason);
    if (reason[0] != '\0')
        (void)snprintf(why, sizeof why, ", %s", reason);
    switch (rc) {
    case SMAR_E_DENIED:
        return smar_provider_say(msg, msg_len, SMAR_E_DENIED,
                                 "the API key may not use this key (Key Protect %s: HTTP %ld%s)",
                                 action, r->status, why);
    case SMAR_E_NOTFOUND:
        return smar_provider_say(msg, msg_len, SMAR_E_NOTFOUND,
                                 "no such key '%s' in the Key Protect instance (%s: HTTP %ld%s)",
                                 c->key, action, r->status, why);
    case SMAR_E_INVALID:
        break;
    case SMAR_E_UNAVAILABLE:
    case SMAR_E_LIMIT: {
        char http[SMAR_PROVIDER_MSG_MIN * 2];
        (void)snprintf(http, sizeof http, "%s", msg);
        return smar_provider_say(msg, msg_len, SMAR_E_UNAVAILABLE, "Key Protect is unavailable: %s",
                                 http);
    }
    default:
        return rc;
    }
    if (r->status == 410)
        return smar_provider_say(msg, msg_len, SMAR_E_NOTFOUND,
                                 "key '%s' was deleted (%s: HTTP 410%s)", c->key, action, why);
    if (r->status == 409)
        return smar_provider_say(
            msg, msg_len, SMAR_E_DENIED,
            "key '%s' is not active: disabled, suspended or deleted (%s: HTTP 409%s)", c->key,
            action, why);
    if ((r->status == 400 || r->status == 422) && strcmp(action, "wrap") != 0)
        return smar_provider_say(
            msg, msg_len, SMAR_E_AUTH,
            "Key Protect did not open the wrapped key (wrong key, or the key slot or its "
            "archive binding was altered; %s: HTTP %ld%s)",
            action, r->status, why);
    return smar_provider_say(msg, msg_len, SMAR_E_UNAVAILABLE, "Key Protect %s: HTTP %ld%s", action,
                             r->status, why);
}

/* POST the body in sec->body to .../actions/{action}. A 401 with a cached token gets one
 * more try with a new token (it may have been revoked or expired early); the body is
 * rebuilt by the caller, so this only reports it. */
static int key_action(kms_ctx *c, const char *action, size_t body_len, smar_http_response *resp,
                      char *msg, size_t msg_len)
{
    char url[1024];
    (void)snprintf(url, sizeof url, "%s/api/v2/keys/%s/actions/%s", c->kp_base, c->key, action);
    call k = {.url = url,
              .headers = {c->sec->auth_line, c->instance_line,
                          "content-type: application/vnd.ibm.kms.key_action+json",
                          "accept: application/json"},
              .n_headers = 4,
              .body_len = body_len};
    int rc = send_call(c, &k, resp, msg, msg_len);
    if (rc == SMAR_E_DENIED && resp->status == 401)
        drop_token(c); /* the next call asks IAM again */
    if (rc != SMAR_OK)
        rc = action_failed(c, action, rc, resp, msg, msg_len);
    return rc;
}

/* keyVersion.id of a validated action response, kept when present and well-formed. */
static void keep_version(kms_ctx *c, smar_span v)
{
    smar_span kv, id;
    if (smar_json_get(v, "keyVersion", &kv) && smar_json_kind_of(kv) == SMAR_JSON_OBJECT &&
        smar_json_get(kv, "id", &id) && smar_json_kind_of(id) == SMAR_JSON_STRING &&
        id.n - 2 >= 1 && id.n - 2 <= VERSION_MAX && all_chars_in(id.p + 1, id.n - 2, ID_CHARS))
        (void)snprintf(c->last_version, sizeof c->last_version, "%.*s", (int)(id.n - 2), id.p + 1);
}

/* A string member of a validated response: its raw text between the quotes, which for the
 * base64 members is the text itself (base64 has nothing to escape). */
static bool base64_member(const smar_buf *body, const char *name, smar_span *value,
                          smar_span *object)
{
    smar_span text = {(const char *)body->data, body->len}, v, s;
    char err[64];
    if (!smar_json_validate(text, 8, &v, err, sizeof err) ||
        smar_json_kind_of(v) != SMAR_JSON_OBJECT || !smar_json_get(v, name, &s) ||
        smar_json_kind_of(s) != SMAR_JSON_STRING || s.n < 3 ||
        !all_chars_in(s.p + 1, s.n - 2, B64_CHARS))
        return false;
    *value = (smar_span){s.p + 1, s.n - 2};
    *object = v;
    return true;
}

/* Copy a response's ciphertext out as the slot blob. */
static int take_ciphertext(kms_ctx *c, const smar_http_response *resp, uint8_t *out, size_t out_cap,
                           size_t *out_len, char *msg, size_t msg_len)
{
    smar_span ct, obj;
    if (!base64_member(&resp->body, "ciphertext", &ct, &obj))
        return smar_provider_say(msg, msg_len, SMAR_E_UNAVAILABLE,
                                 "Key Protect sent an answer without a base64 ciphertext");
    if (ct.n > out_cap)
        return smar_provider_say(
            msg, msg_len, SMAR_E_UNSUPPORTED,
            "Key Protect's wrapped key is %zu bytes, more than a key slot holds (%zu)", ct.n,
            out_cap);
    memcpy(out, ct.p, ct.n);
    *out_len = ct.n;
    keep_version(c, obj);
    return SMAR_OK;
}

/* Build {"plaintext"|"ciphertext": text, "aad": [...]} in sec->body. */
static bool build_body(kms_ctx *c, const char *member, const char *text, size_t text_len,
                       const uint8_t *aad, size_t aad_len, size_t *len)
{
    char *b = c->sec->body;
    size_t cap = sizeof c->sec->body;
    int n = snprintf(b, cap, "{\"%s\":\"%.*s\",", member, (int)text_len, text);
    if (n < 0 || (size_t)n >= cap)
        return false;
    size_t w = (size_t)n;
    if (!put_aad(b, cap, &w, aad, aad_len) || w + 2 >= cap)
        return false;
    b[w++] = '}';
    b[w] = '\0';
    *len = w;
    return true;
}

/* Run one action, with a fresh token and one more try after a 401 on a cached token. The
 * body is built anew for each try from (member, text): send_call wipes it. */
static int action(kms_ctx *c, const char *name, const char *member, const char *text,
                  size_t text_len, const uint8_t *aad, size_t aad_len, smar_http_response *resp,
                  char *msg, size_t msg_len)
{
    for (int attempt = 0;; attempt++) {
        bool fresh = false;
        int rc = ensure_token(c, &fresh, msg, msg_len);
        bool cached = !fresh;
        if (rc != SMAR_OK) {
            *resp = (smar_http_response){.body = {.secure = true}};
            return rc;
        }
        size_t len;
        if (!build_body(c, member, text, text_len, aad, aad_len, &len)) {
            sodium_memzero(c->sec->body, sizeof c->sec->body);
            *resp = (smar_http_response){.body = {.secure = true}};
            return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                     "the request to Key Protect is too long");
        }
        rc = key_action(c, name, len, resp, msg, msg_len);
        if (rc != SMAR_E_DENIED || resp->status != 401 || !cached || attempt > 0)
            return rc;
        smar_http_response_free(resp);
        msg[0] = '\0';
    }
}

/* ---- the smar_provider callbacks ------------------------------------------------------ */

static int kms_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    const kms_ctx *c = ctx;
    *key_id = c->key;
    return SMAR_OK;
}

/* The service keeps the version inside its ciphertext: version 0, "none" (version kind 0). */
static int kms_current_version(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    (void)ctx;
    (void)msg;
    (void)msg_len;
    *version = 0;
    return SMAR_OK;
}

static int kms_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                    const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                    size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    kms_ctx *c = ctx;
    c->last_version[0] = '\0'; /* only this call's keyVersion.id may be recorded */
    char b64[sodium_base64_ENCODED_LEN(SMAR_PROVIDER_DEK_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, dek, SMAR_PROVIDER_DEK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    smar_http_response resp;
    int rc = action(c, "wrap", "plaintext", b64, strlen(b64), aad, aad_len, &resp, msg, msg_len);
    sodium_memzero(b64, sizeof b64);
    if (rc == SMAR_OK)
        rc = take_ciphertext(c, &resp, out, out_cap, out_len, msg, msg_len);
    smar_http_response_free(&resp);
    if (rc == SMAR_OK)
        *version = 0; /* inside the ciphertext */
    return rc;
}

/* The blob a slot holds must be what wrap stored: base64 text of a bounded length. */
static int check_blob(const uint8_t *wrapped, size_t wrapped_len, char *msg, size_t msg_len)
{
    if (wrapped_len < 4 || wrapped_len > CIPHERTEXT_MAX ||
        !all_chars_in((const char *)wrapped, wrapped_len, B64_CHARS))
        return smar_provider_say(
            msg, msg_len, SMAR_E_FORMAT,
            "the key slot does not hold a Key Protect ciphertext (base64, 4 to %d "
            "characters)",
            CIPHERTEXT_MAX);
    return SMAR_OK;
}

static int kms_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                      const uint8_t *wrapped, size_t wrapped_len,
                      uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    (void)version; /* inside the ciphertext */
    kms_ctx *c = ctx;
    int rc = check_blob(wrapped, wrapped_len, msg, msg_len);
    if (rc != SMAR_OK)
        return rc;
    smar_http_response resp;
    rc = action(c, "unwrap", "ciphertext", (const char *)wrapped, wrapped_len, aad, aad_len, &resp,
                msg, msg_len);
    smar_span pt, obj;
    uint8_t plain[SMAR_PROVIDER_DEK_BYTES + 16];
    size_t plain_len = 0;
    if (rc == SMAR_OK && !base64_member(&resp.body, "plaintext", &pt, &obj))
        rc = smar_provider_say(msg, msg_len, SMAR_E_UNAVAILABLE,
                               "Key Protect sent an answer without a base64 plaintext");
    if (rc == SMAR_OK && (sodium_base642bin(plain, sizeof plain, pt.p, pt.n, NULL, &plain_len, NULL,
                                            sodium_base64_VARIANT_ORIGINAL) != 0 ||
                          plain_len != SMAR_PROVIDER_DEK_BYTES))
        rc = smar_provider_say(msg, msg_len, SMAR_E_AUTH,
                               "Key Protect unwrapped a key that is not %d bytes",
                               SMAR_PROVIDER_DEK_BYTES);
    if (rc == SMAR_OK) {
        memcpy(dek, plain, SMAR_PROVIDER_DEK_BYTES);
        keep_version(c, obj);
    }
    sodium_memzero(plain, sizeof plain);
    smar_http_response_free(&resp);
    return rc;
}

/* Key Protect's rewrap keeps the aad it was given: it cannot move a blob to a new one. A
 * slot's AAD does not hold its version, so it is the same before and after a rewrap to the
 * same key, and smar_rewrap's call always passes this check. */
static int kms_rewrap(void *ctx, uint32_t version, const uint8_t *old_aad, size_t old_aad_len,
                      const uint8_t *wrapped, size_t wrapped_len, const uint8_t *new_aad,
                      size_t new_aad_len, uint8_t *out, size_t out_cap, size_t *out_len,
                      uint32_t *new_version, char *msg, size_t msg_len)
{
    (void)version;
    kms_ctx *c = ctx;
    c->last_version[0] = '\0'; /* only this call's keyVersion.id may be recorded */
    if (old_aad_len != new_aad_len ||
        (old_aad_len > 0 && memcmp(old_aad, new_aad, old_aad_len) != 0))
        return smar_provider_say(
            msg, msg_len, SMAR_E_UNSUPPORTED,
            "Key Protect's rewrap keeps a wrapped key's aad; it cannot change it");
    int rc = check_blob(wrapped, wrapped_len, msg, msg_len);
    if (rc != SMAR_OK)
        return rc;
    smar_http_response resp;
    rc = action(c, "rewrap", "ciphertext", (const char *)wrapped, wrapped_len, old_aad, old_aad_len,
                &resp, msg, msg_len);
    if (rc == SMAR_OK)
        rc = take_ciphertext(c, &resp, out, out_cap, out_len, msg, msg_len);
    smar_http_response_free(&resp);
    if (rc == SMAR_OK)
        *new_version = 0; /* inside the ciphertext: the service's newest version */
    return rc;
}

/* The keyVersion.id of the last wrap or rewrap (checked by keep_version: 1..255 id
 * characters), or "" when the service did not name one: the slot then records "none". */
static int kms_version_text(void *ctx, char *out, size_t out_cap, char *msg, size_t msg_len)
{
    const kms_ctx *c = ctx;
    size_t n = strlen(c->last_version);
    if (n >= out_cap)
        return smar_provider_say(msg, msg_len, SMAR_E_NOMEM,
                                 "no room for Key Protect's key version id");
    memcpy(out, c->last_version, n + 1);
    return SMAR_OK;
}

static void kms_free(void *ctx)
{
    kms_ctx *c = ctx;
    if (c == NULL)
        return;
    sodium_free(c->sec); /* wipes */
    free(c->kp_base);
    smar_iam_free(c->iam);
    free(c->ca_file);
    free(c);
}

static const smar_provider kms_provider = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "keyprotect",
    .slot_id = SMAR_PROVIDER_SLOT_KMS,
    .key_id = kms_key_id,
    .current_version = kms_current_version,
    .wrap = kms_wrap,
    .unwrap = kms_unwrap,
    .rewrap = kms_rewrap,
    .free = kms_free,
    .version_text = kms_version_text,
};

/* ---- opening -------------------------------------------------------------------------- */

typedef struct kms_url {
    char instance[INSTANCE_MAX + 1];
    char key[SMAR_PROVIDER_KEY_ID_MAX + 1];
    char region[REGION_MAX + 1];
} kms_url;

/* Copy the n bytes at s to out (cap bytes) when they are 1..cap-1 characters of set. */
static bool take_part(const char *s, size_t n, const char *set, char *out, size_t cap)
{
    if (n < 1 || n >= cap || !all_chars_in(s, n, set))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static int parse_url(const char *url, kms_url *u, smar_err *e)
{
    static const char scheme[] = "keyprotect://";
    static const char region_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
    *u = (kms_url){0};
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return smar_fail(e, SMAR_E_INVALID,
                         "a Key Protect key is keyprotect://INSTANCE_ID/"
                         "KEY_ID_OR_ALIAS?region=REGION");
    const char *p = url + sizeof scheme - 1;
    size_t inst = strcspn(p, "/?");
    if (!take_part(p, inst, ID_CHARS, u->instance, sizeof u->instance) || p[inst] != '/')
        return smar_fail(e, SMAR_E_INVALID,
                         "Key Protect key URL: the instance id is 1 to %d letters, digits, '-' "
                         "or '_', followed by /KEY_ID_OR_ALIAS",
                         INSTANCE_MAX);
    p += inst + 1;
    size_t key = strcspn(p, "?");
    if (!take_part(p, key, ID_CHARS, u->key, sizeof u->key))
        return smar_fail(e, SMAR_E_INVALID,
                         "Key Protect key URL: the key id or alias is 1 to %d letters, digits, "
                         "'-' or '_'",
                         SMAR_PROVIDER_KEY_ID_MAX);
    p += key;
    if (*p == '\0')
        return SMAR_OK;
    static const char param[] = "?region=";
    if (strncmp(p, param, sizeof param - 1) != 0 ||
        !take_part(p + sizeof param - 1, strlen(p + sizeof param - 1), region_chars, u->region,
                   sizeof u->region))
        return smar_fail(e, SMAR_E_INVALID,
                         "Key Protect key URL: the only parameter is ?region=REGION (lowercase "
                         "letters, digits, '-')");
    return SMAR_OK;
}

/* A base URL from options: https://..., no trailing slash kept, no query. */
static char *base_url(const char *given, const char *what, smar_err *e)
{
    size_t n = strlen(given);
    while (n > 0 && given[n - 1] == '/')
        n--;
    if (n < 9 || n > 512 || strncmp(given, "https://", 8) != 0 || memchr(given, '?', n) ||
        memchr(given, '#', n) || memchr(given, ' ', n)) {
        (void)smar_fail(e, SMAR_E_INVALID, "%s must be an https:// URL without query", what);
        return NULL;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        (void)smar_fail(e, SMAR_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(s, given, n);
    s[n] = '\0';
    return s;
}

static int check_api_key(const char *k, smar_err *e)
{
    size_t n = k != NULL ? strlen(k) : 0;
    if (n < 1 || n > SMAR_IAM_API_KEY_MAX)
        return smar_fail(e, SMAR_E_INVALID,
                         "a Key Protect key needs an IBM Cloud API key (1 to %d "
                         "characters)",
                         SMAR_IAM_API_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return smar_fail(e, SMAR_E_INVALID,
                             "the IBM Cloud API key holds a character that is not printable "
                             "ASCII (a stray newline?)");
    return SMAR_OK;
}

static int make_ctx(const kms_url *u, const smar_kms_options *o, kms_ctx **out, smar_err *e)
{
    kms_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    c->sec = sodium_malloc(sizeof *c->sec);
    if (c->sec == NULL) {
        kms_free(c);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    sodium_memzero(c->sec, sizeof *c->sec);
    (void)snprintf(c->key, sizeof c->key, "%s", u->key);
    (void)snprintf(c->instance_line, sizeof c->instance_line, "bluemix-instance: %s", u->instance);
    char kp[128];
    (void)snprintf(kp, sizeof kp, "https://%s.kms.cloud.ibm.com", u->region);
    c->kp_base = base_url(o->endpoint != NULL ? o->endpoint : kp, "the Key Protect endpoint", e);
    c->ca_file = o->ca_file != NULL ? strdup(o->ca_file) : NULL;
    c->policy = (smar_http_policy){
        .timeout_ms = o->timeout_ms,
        .max_attempts = o->max_attempts,
        .retry_budget_ms = o->retry_budget_ms,
    };
    if (c->kp_base != NULL && (o->ca_file == NULL || c->ca_file != NULL))
        (void)smar_iam_open(&c->iam, o->api_key, o->iam_endpoint, o->ca_file, &c->policy, e);
    if (c->kp_base == NULL || c->iam == NULL || (o->ca_file != NULL && c->ca_file == NULL)) {
        kms_free(c);
        return e->code != SMAR_OK ? e->code : smar_fail(e, SMAR_E_NOMEM, "out of memory");
    }
    *out = c;
    return SMAR_OK;
}

int smar_keyring_open_kms(smar_keyring *kr, const char *url, const smar_kms_options *opts)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    if (url == NULL || opts == NULL)
        return smar_fail(e, SMAR_E_INVALID, "no Key Protect key URL or options given");
    if (opts->version != SMAR_KMS_OPTIONS_VERSION)
        return smar_fail(e, SMAR_E_INVALID, "unknown smar_kms_options version %d", opts->version);
    kms_url u;
    int rc = smar_keyring_require_empty(kr);
    if (rc == SMAR_OK)
        rc = parse_url(url, &u, e);
    if (rc == SMAR_OK && u.region[0] == '\0' && opts->endpoint == NULL)
        rc = smar_fail(e, SMAR_E_INVALID,
                       "Key Protect key URL: give ?region=REGION (or an endpoint)");
    if (rc == SMAR_OK)
        rc = check_api_key(opts->api_key, e);
    kms_ctx *c = NULL;
    if (rc == SMAR_OK)
        rc = make_ctx(&u, opts, &c, e);
    if (rc == SMAR_OK) {
        rc = smar_keyring_from_provider(kr, &kms_provider, c);
        if (rc != SMAR_OK)
            kms_free(c);
    }
    return rc;
}
