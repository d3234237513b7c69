/*
 * keyring.c - the keyring: a handle around any key provider (smar/provider.h), and the
 * keyring side of the slot interface the writer and reader use (keyring_internal.h).
 *
 * The keyring keeps the provider (copied), its ctx, the key id it gave and the error
 * record, and checks every answer of the provider: statuses outside the documented
 * classes, out-of-range lengths and versions are provider bugs and become SMAR_E_INVALID,
 * never a status the caller would read as "damaged". What only local keys have
 * (generate, rotate, load, save) is in keyring_file.c.
 */
#include "keyprov.h"
#include "slots.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(SMAR_PROVIDER_DEK_BYTES == SMAR_DEK_BYTES, "DEK size");
_Static_assert(SMAR_PROVIDER_WRAPPED_MAX == SMAR_WRAPPED_MAX, "wrapped DEK bound");
_Static_assert(SMAR_PROVIDER_SLOT_LOCAL == SMAR_PROVIDER_LOCAL, "local slot id");
_Static_assert(SMAR_PROVIDER_KEY_ID_MAX == SMAR_KEY_ID2_MAX, "provider key ids fill a slot's");
_Static_assert(SMAR_KEY_ID_MAX <= SMAR_PROVIDER_KEY_ID_MAX, "local key ids are provider key ids");
_Static_assert(SMAR_PROVIDER_VERSION_TEXT_MAX == SMAR_VERSION_STR_MAX,
               "version texts fill a slot's version string");

/* Bytes of the smar_provider struct of each version a caller may hand us (common.h's
 * versioned-struct rule: a version 1 caller's struct ends before version_text). */
static const size_t provider_sizes[] = {offsetof(smar_provider, version_text),
                                        sizeof(smar_provider)};
#define PROVIDER_VERSIONS (sizeof provider_sizes / sizeof provider_sizes[0])

/* A provider's name: what keyring files and messages can hold. */
#define PROVIDER_NAME_MAX 32
/* What a provider may write into msg. */
#define PROVIDER_MSG_BYTES 256
_Static_assert(PROVIDER_MSG_BYTES >= SMAR_PROVIDER_MSG_MIN, "provider message buffer");

struct smar_keyring {
    /* Points at err_rec. Through the pointer, calls taking a const handle (save,
     * version_info) can still record their error for smar_keyring_error(). */
    smar_err *err;
    smar_err err_rec;
    bool has_key;
    smar_provider provider; /* a copy; meaningful while has_key */
    void *ctx;
    char name[PROVIDER_NAME_MAX + 1];
    /* Any provider's id: local ones are at most SMAR_KEY_ID_MAX bytes, others (PKCS#11
     * URIs, KMS key names) up to what a format 2 key slot records. */
    char key_id[SMAR_PROVIDER_KEY_ID_MAX + 1];
};

bool smar_key_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n] != '\0'; n++)
        if (n >= SMAR_KEY_ID_MAX || id[n] < 0x21 || id[n] > 0x7e)
            return false;
    return n > 0;
}

bool smar_provider_key_id_valid(const char *id)
{
    /* Bounded before strlen's result is trusted: at most one byte past the limit is read. */
    size_t n = strnlen(id, SMAR_PROVIDER_KEY_ID_MAX + 1);
    return n <= SMAR_PROVIDER_KEY_ID_MAX && smar_slot_text_ok(id, n);
}

smar_err *smar_keyring_err(const smar_keyring *kr)
{
    return kr->err;
}

int smar_keyring_require_empty(const smar_keyring *kr)
{
    if (kr->has_key)
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "the keyring already holds root key '%s'; use a new keyring handle",
                         kr->key_id);
    return SMAR_OK;
}

int smar_keyring_require_key(const smar_keyring *kr, smar_err *e)
{
    if (!kr->has_key)
        return smar_fail(e, SMAR_E_INVALID, "the keyring holds no root key");
    return SMAR_OK;
}

static void install(smar_keyring *kr, const smar_provider *p, void *ctx, const char *key_id)
{
    /* only the members of the caller's version: later ones stay NULL */
    memset(&kr->provider, 0, sizeof kr->provider);
    memcpy(&kr->provider, p, provider_sizes[p->version - 1]);
    kr->ctx = ctx;
    (void)snprintf(kr->name, sizeof kr->name, "%s", p->name);
    (void)snprintf(kr->key_id, sizeof kr->key_id, "%s", key_id);
    kr->has_key = true;
}

void smar_keyring_install_local(smar_keyring *kr, smar_local_key *lk)
{
    install(kr, &smar_provider_local, lk, smar_local_key_id(lk));
}

void *smar_keyring_provider_ctx(const smar_keyring *kr, const smar_provider *p)
{
    /* A provider is recognised by its callbacks: a copy of its table is it. */
    if (kr == NULL || !kr->has_key || kr->provider.wrap != p->wrap)
        return NULL;
    return kr->ctx;
}

smar_local_key *smar_keyring_local_key(const smar_keyring *kr)
{
    return smar_keyring_provider_ctx(kr, &smar_provider_local);
}

/* ---- provider answers ------------------------------------------------------------------ */

/* The statuses a provider may return (smar/provider.h). */
static bool provider_status_known(int rc)
{
    switch (rc) {
    case SMAR_E_NOTFOUND:
    case SMAR_E_DENIED:
    case SMAR_E_UNAVAILABLE:
    case SMAR_E_AUTH:
    case SMAR_E_FORMAT:
    case SMAR_E_NOMEM:
    case SMAR_E_UNSUPPORTED:
        return true;
    default:
        return false;
    }
}

/* What a provider's status means, in the words a user needs to tell the classes apart. */
static const char *provider_class(int rc)
{
    switch (rc) {
    case SMAR_E_NOTFOUND:
        return "no such key";
    case SMAR_E_DENIED:
        return "access denied";
    case SMAR_E_UNAVAILABLE:
        return "unavailable, try again later";
    case SMAR_E_AUTH:
        return "authentication failed";
    default:
        return smar_strerror(rc);
    }
}

/* Record a failed callback's status and message in e as "key provider 'name', root key
 * 'id': class: message", so that an outage never reads like a wrong key or damage. */
static int provider_failed(const smar_keyring *kr, int rc, const char *msg, smar_err *e)
{
    if (!provider_status_known(rc))
        return smar_fail(e, SMAR_E_INVALID, "root key '%s': provider '%s' returned status %d",
                         kr->key_id, kr->name, rc);
    return smar_fail(e, rc, "key provider '%s', root key '%s': %s%s%s", kr->name, kr->key_id,
                     provider_class(rc), msg[0] != '\0' ? ": " : "", msg);
}

static int provider_bug(const smar_keyring *kr, const char *what, smar_err *e)
{
    return smar_fail(e, SMAR_E_INVALID, "root key '%s': provider '%s' %s", kr->key_id, kr->name,
                     what);
}

/* ---- handle --------------------------------------------------------------------------- */

int smar_keyring_new(smar_keyring **out)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    smar_keyring *kr = calloc(1, sizeof *kr);
    *out = kr;
    if (kr == NULL)
        return SMAR_E_NOMEM;
    kr->err = &kr->err_rec;
    return SMAR_OK;
}

void smar_keyring_free(smar_keyring *kr)
{
    if (kr == NULL)
        return;
    if (kr->has_key && kr->provider.free != NULL)
        kr->provider.free(kr->ctx);
    free(kr);
}

const char *smar_keyring_error(const smar_keyring *kr)
{
    return kr != NULL ? smar_err_message(kr->err) : smar_strerror(SMAR_E_INVALID);
}

static bool valid_provider_name(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++)
        if (n >= PROVIDER_NAME_MAX || name[n] < 0x21 || name[n] > 0x7e)
            return false;
    return n > 0;
}

static int check_provider(const smar_keyring *kr, const smar_provider *p)
{
    if (p->version < 1 || (size_t)p->version > PROVIDER_VERSIONS)
        return smar_fail(kr->err, SMAR_E_INVALID, "unknown smar_provider version %d", p->version);
    if (p->name == NULL || !valid_provider_name(p->name))
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "a provider's name is 1 to %d printable ASCII characters without spaces",
                         PROVIDER_NAME_MAX);
    if (p->key_id == NULL || p->current_version == NULL || p->wrap == NULL || p->unwrap == NULL)
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "provider '%s' lacks a required callback (key_id, current_version, wrap, "
                         "unwrap)",
                         p->name);
    if (p->slot_id == SMAR_PROVIDER_SLOT_LOCAL)
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "provider '%s': slot id %d is the local provider's", p->name,
                         SMAR_PROVIDER_SLOT_LOCAL);
    return SMAR_OK;
}

int smar_keyring_from_provider(smar_keyring *kr, const smar_provider *provider, void *ctx)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(kr->err);
    if (provider == NULL)
        return smar_fail(kr->err, SMAR_E_INVALID, "no provider given");
    int rc = smar_keyring_require_empty(kr);
    if (rc == SMAR_OK)
        rc = check_provider(kr, provider);
    if (rc != SMAR_OK)
        return rc;
    char msg[PROVIDER_MSG_BYTES] = "";
    const char *key_id = NULL;
    rc = provider->key_id(ctx, &key_id, msg, sizeof msg);
    if (rc != SMAR_OK) {
        if (!provider_status_known(rc))
            rc = SMAR_E_INVALID;
        return smar_fail(kr->err, rc, "provider '%s': %s", provider->name,
                         msg[0] != '\0' ? msg : smar_strerror(rc));
    }
    if (key_id == NULL || !smar_provider_key_id_valid(key_id))
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "provider '%s': a key id is 1 to %d bytes of UTF-8 without control "
                         "characters",
                         provider->name, SMAR_PROVIDER_KEY_ID_MAX);
    install(kr, provider, ctx, key_id);
    return SMAR_OK;
}

/* ---- accessors ------------------------------------------------------------------------ */

const char *smar_keyring_id(const smar_keyring *kr)
{
    return kr != NULL && kr->has_key ? kr->key_id : "";
}

size_t smar_keyring_version_count(const smar_keyring *kr)
{
    const smar_local_key *lk = smar_keyring_local_key(kr);
    return lk != NULL ? smar_local_key_count(lk) : 0;
}

int smar_keyring_version_info(const smar_keyring *kr, size_t i, uint32_t *version,
                              smar_time_ns *created)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    size_t count = smar_keyring_version_count(kr);
    if (i >= count)
        return smar_fail(kr->err, SMAR_E_INVALID, "no version at index %zu (the keyring has %zu)",
                         i, count);
    if (version != NULL)
        *version = (uint32_t)i + 1;
    if (created != NULL)
        *created = smar_local_key_version_created(smar_keyring_local_key(kr), (uint32_t)i);
    return SMAR_OK;
}

uint32_t smar_keyring_current_version(const smar_keyring *kr)
{
    uint32_t version = 0;
    if (kr == NULL || !kr->has_key || smar_keyring_wrap_version(kr, &version, kr->err) != SMAR_OK)
        return 0;
    return version;
}

const char *smar_keyring_provider(const smar_keyring *kr)
{
    if (kr == NULL)
        return "";
    /* An empty keyring is what generate and load fill: a local one. */
    return kr->has_key ? kr->name : smar_provider_local.name;
}

/* ---- slot interface (keyring_internal.h) ---------------------------------------------- */

uint8_t smar_keyring_provider_id(const smar_keyring *kr)
{
    return kr->has_key ? kr->provider.slot_id : SMAR_PROVIDER_SLOT_LOCAL;
}

/* Format 1 can only record providers that have a slot id. */
static int require_slot_id(const smar_keyring *kr, smar_err *e)
{
    if (kr->provider.slot_id == SMAR_PROVIDER_SLOT_NONE)
        return smar_fail(e, SMAR_E_UNSUPPORTED,
                         "root key '%s': provider '%s' has no slot id in archive format 1, so "
                         "its key slots cannot be written",
                         kr->key_id, kr->name);
    return SMAR_OK;
}

/*
 * Version 0 means "none": the provider keeps what it needs inside the blob (x25519 has no
 * versions). Archive format 2 records that (version_kind 0); format 1 records versions >= 1
 * only, so its writer cannot make such a slot: UNSUPPORTED, not a provider bug. The check
 * goes away by itself when the writer writes format 2 (SMAR_FORMAT_VERSION_MAJOR 2).
 */
int smar_keyring_wrap_version(const smar_keyring *kr, uint32_t *version, smar_err *e)
{
    int rc = smar_keyring_require_key(kr, e);
    if (rc != SMAR_OK)
        return rc;
    char msg[PROVIDER_MSG_BYTES] = "";
    uint32_t v = 0;
    rc = kr->provider.current_version(kr->ctx, &v, msg, sizeof msg);
    if (rc != SMAR_OK)
        return provider_failed(kr, rc, msg, e);
    /* version 0: the provider keeps its version inside the blob (format 2, version kind 0) */
    *version = v;
    return SMAR_OK;
}

int smar_keyring_wrap(smar_keyring *kr, const uint8_t *aad, size_t aad_len,
                      const uint8_t dek[SMAR_DEK_BYTES], uint8_t out[SMAR_WRAPPED_MAX],
                      size_t *out_len, uint32_t *version, smar_err *e)
{
    if (kr == NULL || dek == NULL || out == NULL || out_len == NULL || version == NULL ||
        (aad == NULL && aad_len > 0))
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to wrap");
    int rc = smar_keyring_require_key(kr, e);
    if (rc == SMAR_OK)
        rc = require_slot_id(kr, e);
    if (rc != SMAR_OK)
        return rc;
    char msg[PROVIDER_MSG_BYTES] = "";
    size_t len = 0;
    uint32_t v = 0;
    rc = kr->provider.wrap(kr->ctx, aad, aad_len, dek, out, SMAR_WRAPPED_MAX, &len, &v, msg,
                           sizeof msg);
    if (rc != SMAR_OK)
        return provider_failed(kr, rc, msg, e);
    if (len < 1 || len > SMAR_WRAPPED_MAX)
        return provider_bug(kr, "returned a wrapped data key of a length outside 1..512", e);
    *out_len = len;
    *version = v;
    return SMAR_OK;
}

int smar_keyring_record_version(smar_keyring *kr, smar_slot2 *s, smar_err *e)
{
    if (!kr->has_key || kr->provider.version_text == NULL || s->version_kind != SMAR_VKIND_NONE)
        return SMAR_OK;
    char msg[PROVIDER_MSG_BYTES] = "";
    char text[SMAR_VERSION_STR_MAX + 1] = "";
    int rc = kr->provider.version_text(kr->ctx, text, sizeof text, msg, sizeof msg);
    if (rc != SMAR_OK)
        return provider_failed(kr, rc, msg, e);
    /* bounded before strlen's result is trusted: the buffer's last byte must be the NUL */
    size_t n = strnlen(text, sizeof text);
    if (n == sizeof text || (n > 0 && !smar_slot_text_ok(text, n)))
        return provider_bug(kr,
                            "gave a version text that is not 1 to 255 bytes of UTF-8 without "
                            "control characters",
                            e);
    if (n > 0) {
        s->version_kind = SMAR_VKIND_STRING;
        s->version_string_len = (uint8_t)n;
        memcpy(s->version_string, text, n + 1);
    }
    return SMAR_OK;
}

bool smar_keyring_can_rewrap(const smar_keyring *kr)
{
    return kr != NULL && kr->has_key && kr->provider.rewrap != NULL;
}

int smar_keyring_rewrap(smar_keyring *kr, uint32_t version, const uint8_t *old_aad,
                        size_t old_aad_len, const uint8_t *wrapped, size_t wrapped_len,
                        const uint8_t *new_aad, size_t new_aad_len, uint8_t out[SMAR_WRAPPED_MAX],
                        size_t *out_len, uint32_t *new_version, smar_err *e)
{
    if (kr == NULL || out == NULL || out_len == NULL || new_version == NULL || wrapped == NULL ||
        (old_aad == NULL && old_aad_len > 0) || (new_aad == NULL && new_aad_len > 0))
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to rewrap");
    int rc = smar_keyring_require_key(kr, e);
    if (rc != SMAR_OK)
        return rc;
    if (kr->provider.rewrap == NULL)
        return smar_fail(e, SMAR_E_UNSUPPORTED, "root key '%s': provider '%s' cannot rewrap",
                         kr->key_id, kr->name);
    char msg[PROVIDER_MSG_BYTES] = "";
    size_t len = 0;
    uint32_t v = 0;
    rc = kr->provider.rewrap(kr->ctx, version, old_aad, old_aad_len, wrapped, wrapped_len, new_aad,
                             new_aad_len, out, SMAR_WRAPPED_MAX, &len, &v, msg, sizeof msg);
    if (rc != SMAR_OK)
        return provider_failed(kr, rc, msg, e);
    if (len < 1 || len > SMAR_WRAPPED_MAX)
        return provider_bug(kr, "returned a rewrapped data key of a length outside 1..512", e);
    *out_len = len;
    *new_version = v;
    return SMAR_OK;
}

int smar_keyring_unwrap(smar_keyring *kr, uint32_t version, const uint8_t *aad, size_t aad_len,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_DEK_BYTES],
                        smar_err *e)
{
    if (kr == NULL || dek == NULL || (wrapped == NULL && wrapped_len > 0) ||
        (aad == NULL && aad_len > 0))
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to unwrap");
    if (!kr->has_key)
        return smar_fail(e, SMAR_E_NOTFOUND, "the keyring holds no root key");
    /* The provider checks the blob's length before the version, then opens it. */
    char msg[PROVIDER_MSG_BYTES] = "";
    int rc = kr->provider.unwrap(kr->ctx, version, aad, aad_len, wrapped, wrapped_len, dek, msg,
                                 sizeof msg);
    if (rc != SMAR_OK)
        return provider_failed(kr, rc, msg, e);
    return SMAR_OK;
}

int smar_provider_say(char *msg, size_t msg_len, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, msg_len, fmt, ap);
    va_end(ap);
    return status;
}
