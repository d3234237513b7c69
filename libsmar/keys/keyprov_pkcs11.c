/*
 * keyprov_pkcs11.c - the "pkcs11" key provider (smar/provider.h): a root key that never
 * leaves an HSM or token, reached through a PKCS#11 module that p11-kit loads, named by an
 * RFC 7512 URI that p11-kit parses.
 *
 * Versions: every version of the key is one AES-256 secret key object with the key's
 * CKA_LABEL and CKA_ID = its version number as a big-endian u32; the largest is current.
 * Each must be sensitive and not extractable: a root key that can leave the token is
 * refused, not used.
 *
 * Wrap (inside the token, C_Encrypt), the blob's first byte saying which:
 *   1: CKM_AES_GCM, random 12-byte IV, AAD = the slot AAD, 128-bit tag:
 *      blob = 1 || iv(12) || ciphertext(32) || tag(16)                (61 bytes)
 *   2: where the token lacks GCM, CKM_AES_KEY_WRAP_PAD (RFC 5649) over DEK || BLAKE2b-256(AAD);
 *      unwrap checks the hash, so the blob is bound to its slot as with GCM:
 *      blob = 2 || KWP(64 bytes) (72)                                  (73 bytes)
 *
 * The session is opened and the user logged in at the first use (a keyring whose slot an
 * archive lacks never logs in); the PIN is wiped right after C_Login. A failure there is
 * kept and given again: the PIN is gone, so login is not retried.
 */
#include "keyprov_pkcs11.h"
#include "lazy_p11kit.h"

#include "crypto.h" /* smar_secure_alloc */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED 0x35UL /* PKCS#11 3.0; older headers lack it */
#endif

_Static_assert(SMAR_P11_GCM_BLOB_BYTES <= SMAR_WRAPPED_MAX, "GCM blob bound");
_Static_assert(SMAR_P11_KWP_BLOB_BYTES <= SMAR_WRAPPED_MAX, "KWP blob bound");

#define P11_MSG_BYTES 256

typedef struct p11_version {
    uint32_t number;
    CK_OBJECT_HANDLE handle;
} p11_version;

typedef struct smar_p11_key {
    CK_FUNCTION_LIST *module;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    bool session_open;
    int failed; /* a failed session start, given again */
    char failed_msg[P11_MSG_BYTES];
    char *pin;      /* smar_secure_alloc, NUL-terminated; NULL: none or used */
    bool logged_in; /* a PIN was given and the token took it */
    char token[33]; /* the token's label */
    char object[SMAR_P11_LABEL_MAX + 1];
    char key_id[SMAR_PROVIDER_KEY_ID_MAX + 1];
    p11_version *versions; /* ascending */
    size_t nversions;
} smar_p11_key;

/* ---- classing PKCS#11 return values --------------------------------------------------- */

int smar_p11_status(CK_RV rv, bool opening)
{
    switch (rv) {
    case CKR_OK:
        return SMAR_OK;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        return SMAR_E_DENIED;
    case CKR_HOST_MEMORY:
        return SMAR_E_NOMEM;
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_AEAD_DECRYPT_FAILED:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
        return SMAR_E_AUTH;
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
        /* Tokens report a GCM tag that does not verify this way too (SoftHSM2 does). */
        return opening ? SMAR_E_AUTH : SMAR_E_UNAVAILABLE;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return SMAR_E_NOTFOUND;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_SIZE_RANGE:
    case CKR_FUNCTION_NOT_SUPPORTED:
        return SMAR_E_UNSUPPORTED;
    default:
        /* CKR_DEVICE_*, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_*, CKR_SLOT_ID_INVALID...: the
         * device, not the archive or the key, is the problem. */
        return SMAR_E_UNAVAILABLE;
    }
}

/* A failed PKCS#11 call: its class, and "what: p11-kit's text (CKR 0x..)" in msg. */
static int p11_failed(char *msg, size_t msg_len, CK_RV rv, bool opening, const char *what)
{
    return smar_provider_say(msg, msg_len, smar_p11_status(rv, opening), "%s: %s (CKR 0x%lx)", what,
                             p11_kit_strerror(rv), (unsigned long)rv);
}

/* ---- URI ------------------------------------------------------------------------------ */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* p11-kit keeps pin-value in plain heap memory: wipe it there before it is freed. */
static void wipe_uri_pin(P11KitUri *uri)
{
    const char *pv = p11_kit_uri_get_pin_value(uri);
    if (pv != NULL) {
        char *writable;
        memcpy(&writable, &pv, sizeof writable); /* p11-kit owns it and frees it next */
        sodium_memzero(writable, strlen(writable));
        p11_kit_uri_set_pin_value(uri, NULL);
    }
}

/* pin-source is a file: URI ("file:/p", "file:///p") or, as p11-kit allows, a path. */
static int pin_source_path(const char *source, char **out, smar_err *e)
{
    const char *path = source;
    if (strncmp(path, "file://", 7) == 0)
        path += 7;
    else if (strncmp(path, "file:", 5) == 0)
        path += 5;
    else if (strchr(path, ':') != NULL)
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11 URI: pin-source '%s' is not a file (use file:/path)", source);
    if (*path == '\0')
        return smar_fail(e, SMAR_E_INVALID, "PKCS#11 URI: pin-source names no file");
    *out = dup_string(path);
    return *out != NULL ? SMAR_OK : smar_fail(e, SMAR_E_NOMEM, "out of memory");
}

/* The object= label, and no attribute smar would silently ignore. */
static int uri_object(smar_p11_uri *u, smar_err *e)
{
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(u->uri, CKA_LABEL);
    if (label == NULL || label->ulValueLen == 0)
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11 URI: object= (the root key's label) is required");
    if (label->ulValueLen > SMAR_P11_LABEL_MAX ||
        memchr(label->pValue, '\0', label->ulValueLen) != NULL)
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11 URI: object= must be 1 to %d bytes without NUL",
                         SMAR_P11_LABEL_MAX);
    memcpy(u->object, label->pValue, label->ulValueLen);
    u->object[label->ulValueLen] = '\0';
    if (p11_kit_uri_get_attribute(u->uri, CKA_ID) != NULL)
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11 URI: id= is not taken: smar finds every version of the key "
                         "by its label (object=), each version's CKA_ID being its number");
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(u->uri, CKA_CLASS);
    if (cls != NULL && (cls->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
                        *(const CK_OBJECT_CLASS *)cls->pValue != CKO_SECRET_KEY))
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11 URI: a root key is a secret key (type=secret-key)");
    return SMAR_OK;
}

static int uri_module_and_pin(smar_p11_uri *u, smar_err *e)
{
    const char *module = p11_kit_uri_get_module_path(u->uri);
    if (module != NULL && (u->module_path = dup_string(module)) == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    const char *source = p11_kit_uri_get_pin_source(u->uri);
    if (source != NULL) {
        int rc = pin_source_path(source, &u->pin_file, e);
        if (rc != SMAR_OK)
            return rc;
    }
    const char *value = p11_kit_uri_get_pin_value(u->uri);
    if (value != NULL) {
        size_t n = strlen(value);
        if (n == 0 || n > SMAR_P11_PIN_MAX)
            return smar_fail(e, SMAR_E_INVALID, "PKCS#11 URI: pin-value must be 1 to %d bytes",
                             SMAR_P11_PIN_MAX);
        if ((u->pin_value = (char *)smar_secure_alloc(n + 1)) == NULL)
            return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
        memcpy(u->pin_value, value, n + 1);
    }
    return SMAR_OK;
}

int smar_p11_uri_parse(const char *text, smar_p11_uri *out, smar_err *e)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return smar_fail(e, SMAR_E_INVALID, "no PKCS#11 URI given");
    int loaded = smar_p11kit_load(e); /* p11-kit is opened on first use (lazy_p11kit.h) */
    if (loaded != SMAR_OK)
        return loaded;
    if ((out->uri = p11_kit_uri_new()) == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    int rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, out->uri);
    if (rc != P11_KIT_URI_OK) {
        rc = smar_fail(e, rc == P11_KIT_URI_UNEXPECTED ? SMAR_E_NOMEM : SMAR_E_INVALID,
                       "PKCS#11 URI: %s", p11_kit_uri_message(rc));
    } else if (p11_kit_uri_any_unrecognized(out->uri)) {
        rc = smar_fail(e, SMAR_E_INVALID,
                       "PKCS#11 URI: an attribute p11-kit does not know (misspelt?); smar "
                       "takes token, object, type, module-path, pin-source and pin-value");
    } else {
        rc = uri_object(out, e);
        if (rc == SMAR_OK)
            rc = uri_module_and_pin(out, e);
    }
    wipe_uri_pin(out->uri);
    if (rc != SMAR_OK)
        smar_p11_uri_clear(out);
    return rc;
}

void smar_p11_uri_clear(smar_p11_uri *u)
{
    if (u->uri != NULL) {
        wipe_uri_pin(u->uri);
        p11_kit_uri_free(u->uri);
    }
    free(u->module_path);
    free(u->pin_file);
    smar_secure_free(u->pin_value); /* wipes */
    memset(u, 0, sizeof *u);
}

int smar_p11_key_id(const char *token, const char *object, char *out, size_t out_len, smar_err *e)
{
    int loaded = smar_p11kit_load(e);
    if (loaded != SMAR_OK)
        return loaded;
    P11KitUri *uri = p11_kit_uri_new();
    if (uri == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    /* p11-kit compares and writes token labels space padded, as tokens report them. */
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
    size_t tlen = strlen(token);
    memset(ti->label, ' ', sizeof ti->label);
    memcpy(ti->label, token, tlen < sizeof ti->label ? tlen : sizeof ti->label);
    CK_ATTRIBUTE label = {CKA_LABEL, (void *)(uintptr_t)object, strlen(object)};
    char *text = NULL;
    int rc = p11_kit_uri_set_attribute(uri, &label);
    if (rc == P11_KIT_URI_OK)
        rc = p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text);
    p11_kit_uri_free(uri);
    if (rc != P11_KIT_URI_OK)
        return smar_fail(e, SMAR_E_NOMEM, "PKCS#11 URI: %s", p11_kit_uri_message(rc));
    int status = SMAR_OK;
    if (strlen(text) >= out_len || !smar_provider_key_id_valid(text))
        status =
            smar_fail(e, SMAR_E_INVALID,
                      "key id '%.80s' is longer than the %zu bytes an archive records: use "
                      "a shorter token or key label",
                      text,
                      out_len - 1 < SMAR_PROVIDER_KEY_ID_MAX ? out_len - 1
                                                             : (size_t)SMAR_PROVIDER_KEY_ID_MAX);
    else
        memcpy(out, text, strlen(text) + 1);
    free(text);
    return status;
}

/* ---- the token ------------------------------------------------------------------------ */

/* Whether the URI's slot attributes (slot-id, slot-description...) and token attributes
 * (token, serial, model, manufacturer) all match this slot and its token. */
static bool slot_matches(const smar_p11_key *k, P11KitUri *uri, CK_SLOT_ID slot,
                         CK_TOKEN_INFO *token)
{
    CK_SLOT_INFO info;
    CK_SLOT_ID wanted = p11_kit_uri_get_slot_id(uri);
    return (wanted == (CK_SLOT_ID)-1 || wanted == slot) &&
           k->module->C_GetSlotInfo(slot, &info) == CKR_OK &&
           p11_kit_uri_match_slot_info(uri, &info) &&
           k->module->C_GetTokenInfo(slot, token) == CKR_OK &&
           p11_kit_uri_match_token_info(uri, token);
}

/* The first slot whose token the URI matches; its label into k->token. */
static int find_token(smar_p11_key *k, P11KitUri *uri, smar_err *e)
{
    CK_INFO module_info;
    if (k->module->C_GetInfo(&module_info) == CKR_OK &&
        !p11_kit_uri_match_module_info(uri, &module_info))
        return smar_fail(e, SMAR_E_UNAVAILABLE,
                         "PKCS#11: the module is not the one the URI names (library-*)");
    CK_ULONG n = 0;
    CK_RV rv = k->module->C_GetSlotList(CK_TRUE, NULL, &n);
    CK_SLOT_ID *slots = NULL;
    if (rv == CKR_OK && n > 0) {
        if ((slots = calloc(n, sizeof *slots)) == NULL)
            return smar_fail(e, SMAR_E_NOMEM, "out of memory");
        rv = k->module->C_GetSlotList(CK_TRUE, slots, &n);
    }
    int rc = SMAR_E_UNAVAILABLE;
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO info;
        if (!slot_matches(k, uri, slots[i], &info))
            continue;
        k->slot = slots[i];
        size_t len = p11_kit_space_strlen(info.label, sizeof info.label);
        memcpy(k->token, info.label, len);
        k->token[len] = '\0';
        rc = SMAR_OK;
        break;
    }
    free(slots);
    if (rv != CKR_OK)
        return smar_fail(e, smar_p11_status(rv, false), "PKCS#11: listing tokens: %s",
                         p11_kit_strerror(rv));
    if (rc != SMAR_OK)
        return smar_fail(e, rc, "PKCS#11: no token the URI names is present");
    return SMAR_OK;
}

static int read_pin_file(const char *path, char **pin, smar_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return smar_fail(e, SMAR_E_IO, "PIN file '%s': %s", path, strerror(errno));
    char *buf = (char *)smar_secure_alloc(SMAR_P11_PIN_MAX + 2);
    if (buf == NULL) {
        close(fd);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    size_t len = 0;
    ssize_t got = 0;
    while (len < SMAR_P11_PIN_MAX + 1 &&
           (got = read(fd, buf + len, SMAR_P11_PIN_MAX + 1 - len)) > 0)
        len += (size_t)got;
    int saved = errno;
    close(fd);
    if (got < 0) {
        smar_secure_free(buf);
        return smar_fail(e, SMAR_E_IO, "PIN file '%s': %s", path, strerror(saved));
    }
    /* One line: a final newline (and carriage return) is not part of the PIN. */
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0 || len > SMAR_P11_PIN_MAX || memchr(buf, '\0', len) != NULL) {
        smar_secure_free(buf);
        return smar_fail(e, SMAR_E_INVALID, "PIN file '%s' must hold one line of 1 to %d bytes",
                         path, SMAR_P11_PIN_MAX);
    }
    buf[len] = '\0';
    *pin = buf;
    return SMAR_OK;
}

/* The PIN: pin-value, else pin-source, else the caller's PIN file, else none. */
static int take_pin(smar_p11_key *k, smar_p11_uri *u, const smar_pkcs11_options *opts, smar_err *e)
{
    if (u->pin_value != NULL) {
        k->pin = u->pin_value;
        u->pin_value = NULL;
        return SMAR_OK;
    }
    const char *file = u->pin_file != NULL ? u->pin_file : opts->pin_file;
    return file != NULL ? read_pin_file(file, &k->pin, e) : SMAR_OK;
}

static int load_module(smar_p11_key *k, const char *path, smar_err *e)
{
    if (path == NULL || *path == '\0')
        return smar_fail(e, SMAR_E_INVALID,
                         "PKCS#11: no module: give module-path= in the URI (smar: or set "
                         "SMAR_PKCS11_MODULE)");
    k->module = p11_kit_module_load(path, 0);
    if (k->module == NULL) {
        const char *why = p11_kit_message();
        return smar_fail(e, SMAR_E_UNAVAILABLE, "PKCS#11 module '%s' does not load: %s", path,
                         why != NULL ? why : "unknown reason");
    }
    CK_RV rv = p11_kit_module_initialize(k->module);
    if (rv != CKR_OK) {
        p11_kit_module_release(k->module);
        k->module = NULL;
        return smar_fail(e, SMAR_E_UNAVAILABLE, "PKCS#11 module '%s' does not start: %s", path,
                         p11_kit_strerror(rv));
    }
    return SMAR_OK;
}

static void p11_key_free(void *ctx)
{
    smar_p11_key *k = ctx;
    if (k == NULL)
        return;
    if (k->session_open)
        (void)k->module->C_CloseSession(k->session);
    if (k->module != NULL) {
        (void)p11_kit_module_finalize(k->module);
        p11_kit_module_release(k->module);
    }
    smar_secure_free(k->pin);
    free(k->versions);
    free(k);
}

/* ---- the session and the key's versions ----------------------------------------------- */

/* One object with the key's label: its version, and the attributes a root key must have. */
static int check_version_object(smar_p11_key *k, CK_OBJECT_HANDLE obj, uint32_t *version, char *msg,
                                size_t msg_len)
{
    uint8_t id[4];
    CK_KEY_TYPE type = 0;
    CK_ULONG value_len = 0;
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_ATTRIBUTE attrs[] = {
        {CKA_ID, id, sizeof id},
        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_VALUE_LEN, &value_len, sizeof value_len},
        {CKA_SENSITIVE, &sensitive, sizeof sensitive},
        {CKA_EXTRACTABLE, &extractable, sizeof extractable},
    };
    CK_RV rv = k->module->C_GetAttributeValue(k->session, obj, attrs, 5);
    if (rv == CKR_BUFFER_TOO_SMALL || attrs[0].ulValueLen != sizeof id)
        return smar_provider_say(
            msg, msg_len, SMAR_E_UNSUPPORTED,
            "an object labelled '%s' has a CKA_ID that is not a 4-byte version number", k->object);
    if (rv != CKR_OK)
        return p11_failed(msg, msg_len, rv, false, "reading the key's attributes");
    *version = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    if (*version == 0)
        return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                 "key version 0 (CKA_ID 00000000) is invalid");
    if (type != CKK_AES || value_len != 32)
        return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                 "key version %u is not an AES-256 key", (unsigned)*version);
    /* DENIED, not UNSUPPORTED: a reader treats it as a refusal (exit 1), not as damage. */
    if (sensitive != CK_TRUE || extractable != CK_FALSE)
        return smar_provider_say(
            msg, msg_len, SMAR_E_DENIED,
            "key version %u is extractable: smar refuses a root key that can leave the "
            "token (it must be CKA_SENSITIVE and not CKA_EXTRACTABLE)",
            (unsigned)*version);
    return SMAR_OK;
}

static int compare_versions(const void *a, const void *b)
{
    uint32_t x = ((const p11_version *)a)->number, y = ((const p11_version *)b)->number;
    return (x > y) - (x < y);
}

static int add_version(smar_p11_key *k, CK_OBJECT_HANDLE obj, char *msg, size_t msg_len)
{
    uint32_t version = 0;
    int rc = check_version_object(k, obj, &version, msg, msg_len);
    if (rc != SMAR_OK)
        return rc;
    if (k->nversions >= SMAR_KEY_VERSIONS_MAX)
        return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED, "more than %d versions",
                                 SMAR_KEY_VERSIONS_MAX);
    for (size_t i = 0; i < k->nversions; i++)
        if (k->versions[i].number == version)
            return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                     "two objects are version %u (same CKA_ID)", (unsigned)version);
    p11_version *grown = realloc(k->versions, (k->nversions + 1) * sizeof *grown);
    if (grown == NULL)
        return smar_provider_say(msg, msg_len, SMAR_E_NOMEM, "out of memory");
    k->versions = grown;
    k->versions[k->nversions++] = (p11_version){version, obj};
    return SMAR_OK;
}

/* Every secret key object with the key's label becomes a version. */
static int find_versions(smar_p11_key *k, char *msg, size_t msg_len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE want[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_LABEL, k->object, strlen(k->object)},
    };
    CK_RV rv = k->module->C_FindObjectsInit(k->session, want, 2);
    if (rv != CKR_OK)
        return p11_failed(msg, msg_len, rv, false, "searching the token");
    int rc = SMAR_OK;
    CK_OBJECT_HANDLE found[32];
    CK_ULONG n = 0;
    while (rc == SMAR_OK && (rv = k->module->C_FindObjects(k->session, found, 32, &n)) == CKR_OK &&
           n > 0)
        for (CK_ULONG i = 0; i < n && rc == SMAR_OK; i++)
            rc = add_version(k, found[i], msg, msg_len);
    (void)k->module->C_FindObjectsFinal(k->session);
    if (rc == SMAR_OK && rv != CKR_OK)
        rc = p11_failed(msg, msg_len, rv, false, "searching the token");
    if (rc == SMAR_OK && k->nversions == 0)
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_NOTFOUND, "no secret key labelled '%s' on token '%s'%s", k->object,
            k->token,
            !k->logged_in ? " (no PIN was given: a private key is invisible without one)" : "");
    if (rc == SMAR_OK)
        qsort(k->versions, k->nversions, sizeof *k->versions, compare_versions);
    return rc;
}

static int log_in(smar_p11_key *k, char *msg, size_t msg_len)
{
    if (k->pin == NULL)
        return SMAR_OK;
    CK_RV rv = k->module->C_Login(k->session, CKU_USER, (CK_UTF8CHAR *)k->pin, strlen(k->pin));
    smar_secure_free(k->pin); /* wipes: used once, right or wrong */
    k->pin = NULL;
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        k->logged_in = true;
        return SMAR_OK;
    }
    if (rv == CKR_PIN_LOCKED)
        return smar_provider_say(msg, msg_len, SMAR_E_DENIED, "the PIN of token '%s' is locked",
                                 k->token);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
        return smar_provider_say(msg, msg_len, SMAR_E_DENIED,
                                 "token '%s' refused the PIN (incorrect)", k->token);
    return p11_failed(msg, msg_len, rv, false, "logging in to the token");
}

static int open_session(smar_p11_key *k, char *msg, size_t msg_len)
{
    CK_RV rv = k->module->C_OpenSession(k->slot, CKF_SERIAL_SESSION, NULL, NULL, &k->session);
    if (rv != CKR_OK)
        return p11_failed(msg, msg_len, rv, false, "opening a session");
    k->session_open = true;
    int rc = log_in(k, msg, msg_len);
    if (rc == SMAR_OK)
        rc = find_versions(k, msg, msg_len);
    return rc;
}

/* The session, opened at the first use; a failure is remembered and given again. */
static int ready(smar_p11_key *k, char *msg, size_t msg_len)
{
    if (k->failed != SMAR_OK)
        return smar_provider_say(msg, msg_len, k->failed, "%s", k->failed_msg);
    if (k->nversions > 0)
        return SMAR_OK;
    int rc = open_session(k, msg, msg_len);
    if (rc != SMAR_OK) {
        k->failed = rc;
        (void)snprintf(k->failed_msg, sizeof k->failed_msg, "%s", msg);
    }
    return rc;
}

static const p11_version *find_version(const smar_p11_key *k, uint32_t number)
{
    for (size_t i = 0; i < k->nversions; i++)
        if (k->versions[i].number == number)
            return &k->versions[i];
    return NULL;
}

/* ---- wrap and unwrap ------------------------------------------------------------------ */

static bool token_can(const smar_p11_key *k, CK_MECHANISM_TYPE mech)
{
    CK_MECHANISM_INFO info;
    return k->module->C_GetMechanismInfo(k->slot, mech, &info) == CKR_OK &&
           (info.flags & (CKF_ENCRYPT | CKF_DECRYPT)) == (CKF_ENCRYPT | CKF_DECRYPT);
}

/* One C_EncryptInit + C_Encrypt (or Decrypt) with mech under key; *out_len in: room. */
static CK_RV crypt_once(smar_p11_key *k, bool encrypt, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                        const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    CK_ULONG len = (CK_ULONG)*out_len;
    CK_BYTE *data = (CK_BYTE *)(uintptr_t)in; /* PKCS#11 takes no const */
    CK_RV rv = encrypt ? k->module->C_EncryptInit(k->session, mech, key)
                       : k->module->C_DecryptInit(k->session, mech, key);
    if (rv == CKR_OK)
        rv = encrypt ? k->module->C_Encrypt(k->session, data, (CK_ULONG)in_len, out, &len)
                     : k->module->C_Decrypt(k->session, data, (CK_ULONG)in_len, out, &len);
    *out_len = len;
    return rv;
}

static CK_GCM_PARAMS gcm_params(uint8_t *iv, const uint8_t *aad, size_t aad_len)
{
    CK_GCM_PARAMS p = {0};
    p.pIv = iv;
    p.ulIvLen = SMAR_P11_GCM_IV_BYTES;
    p.ulIvBits = SMAR_P11_GCM_IV_BYTES * 8;
    p.pAAD = (CK_BYTE *)(uintptr_t)aad;
    p.ulAADLen = (CK_ULONG)aad_len;
    p.ulTagBits = SMAR_P11_GCM_TAG_BYTES * 8;
    return p;
}

static int wrap_gcm(smar_p11_key *k, CK_OBJECT_HANDLE key, const uint8_t *aad, size_t aad_len,
                    const uint8_t *dek, uint8_t *out, char *msg, size_t msg_len)
{
    uint8_t *iv = out + 1;
    randombytes_buf(iv, SMAR_P11_GCM_IV_BYTES);
    CK_GCM_PARAMS params = gcm_params(iv, aad, aad_len);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof params};
    size_t len = SMAR_P11_GCM_BLOB_BYTES - 1 - SMAR_P11_GCM_IV_BYTES;
    CK_RV rv =
        crypt_once(k, true, &mech, key, dek, SMAR_DEK_BYTES, out + 1 + SMAR_P11_GCM_IV_BYTES, &len);
    if (rv != CKR_OK)
        return p11_failed(msg, msg_len, rv, false, "AES-GCM encryption in the token");
    if (len != SMAR_DEK_BYTES + SMAR_P11_GCM_TAG_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                 "the token's AES-GCM gave %zu bytes", len);
    out[0] = SMAR_P11_TAG_GCM;
    return SMAR_OK;
}

static int wrap_kwp(smar_p11_key *k, CK_OBJECT_HANDLE key, const uint8_t *aad, size_t aad_len,
                    const uint8_t *dek, uint8_t *out, char *msg, size_t msg_len)
{
    uint8_t plain[SMAR_P11_KWP_PLAIN_BYTES];
    memcpy(plain, dek, SMAR_DEK_BYTES);
    crypto_generichash(plain + SMAR_DEK_BYTES, 32, aad, aad_len, NULL, 0);
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    size_t len = SMAR_P11_KWP_BLOB_BYTES - 1;
    CK_RV rv = crypt_once(k, true, &mech, key, plain, sizeof plain, out + 1, &len);
    sodium_memzero(plain, sizeof plain);
    if (rv != CKR_OK)
        return p11_failed(msg, msg_len, rv, false, "AES key wrap in the token");
    if (len != SMAR_P11_KWP_BLOB_BYTES - 1)
        return smar_provider_say(msg, msg_len, SMAR_E_UNSUPPORTED,
                                 "the token's AES key wrap gave %zu bytes", len);
    out[0] = SMAR_P11_TAG_KWP;
    return SMAR_OK;
}

static int p11_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                    const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                    size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    smar_p11_key *k = ctx;
    int rc = ready(k, msg, msg_len);
    if (rc != SMAR_OK)
        return rc;
    if (out_cap < SMAR_P11_KWP_BLOB_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_NOMEM, "no room for a wrapped data key");
    const p11_version *current = &k->versions[k->nversions - 1];
    if (token_can(k, CKM_AES_GCM)) {
        rc = wrap_gcm(k, current->handle, aad, aad_len, dek, out, msg, msg_len);
        *out_len = SMAR_P11_GCM_BLOB_BYTES;
    } else if (token_can(k, CKM_AES_KEY_WRAP_PAD)) {
        rc = wrap_kwp(k, current->handle, aad, aad_len, dek, out, msg, msg_len);
        *out_len = SMAR_P11_KWP_BLOB_BYTES;
    } else {
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_UNSUPPORTED,
            "token '%s' encrypts with neither CKM_AES_GCM nor CKM_AES_KEY_WRAP_PAD", k->token);
    }
    *version = current->number;
    return rc;
}

static CK_RV unwrap_gcm(smar_p11_key *k, CK_OBJECT_HANDLE key, const uint8_t *aad, size_t aad_len,
                        const uint8_t *blob, uint8_t *plain, size_t *plain_len)
{
    uint8_t iv[SMAR_P11_GCM_IV_BYTES];
    memcpy(iv, blob + 1, sizeof iv);
    CK_GCM_PARAMS params = gcm_params(iv, aad, aad_len);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof params};
    return crypt_once(k, false, &mech, key, blob + 1 + sizeof iv,
                      SMAR_P11_GCM_BLOB_BYTES - 1 - sizeof iv, plain, plain_len);
}

static CK_RV unwrap_kwp(smar_p11_key *k, CK_OBJECT_HANDLE key, const uint8_t *blob, uint8_t *plain,
                        size_t *plain_len)
{
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    return crypt_once(k, false, &mech, key, blob + 1, SMAR_P11_KWP_BLOB_BYTES - 1, plain,
                      plain_len);
}

/* Whether the token still answers in this session: tells "this blob does not open" (a
 * generic CKR_GENERAL_ERROR, as SoftHSM2 reports a GCM tag that fails) from a token that
 * went away mid-call. */
static bool session_alive(smar_p11_key *k)
{
    CK_SESSION_INFO info;
    return k->module->C_GetSessionInfo(k->session, &info) == CKR_OK;
}

/* The blob's layout from its tag and length alone, before the token sees it. */
static int check_blob(const uint8_t *wrapped, size_t wrapped_len, char *msg, size_t msg_len)
{
    if (wrapped_len < 1)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT, "wrapped data key is empty");
    size_t want = wrapped[0] == SMAR_P11_TAG_GCM   ? SMAR_P11_GCM_BLOB_BYTES
                  : wrapped[0] == SMAR_P11_TAG_KWP ? SMAR_P11_KWP_BLOB_BYTES
                                                   : 0;
    if (want == 0)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT,
                                 "wrapped data key has unknown mechanism tag %u", wrapped[0]);
    if (wrapped_len != want)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT,
                                 "wrapped data key is %zu bytes, expected %zu", wrapped_len, want);
    return SMAR_OK;
}

static int p11_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                      const uint8_t *wrapped, size_t wrapped_len,
                      uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    smar_p11_key *k = ctx;
    int rc = check_blob(wrapped, wrapped_len, msg, msg_len);
    if (rc == SMAR_OK)
        rc = ready(k, msg, msg_len);
    if (rc != SMAR_OK)
        return rc;
    const p11_version *v = find_version(k, version);
    if (v == NULL)
        return smar_provider_say(msg, msg_len, SMAR_E_NOTFOUND, "version %u is not on token '%s'",
                                 (unsigned)version, k->token);
    uint8_t plain[SMAR_P11_KWP_PLAIN_BYTES + 16];
    size_t len = sizeof plain;
    bool gcm = wrapped[0] == SMAR_P11_TAG_GCM;
    CK_RV rv = gcm ? unwrap_gcm(k, v->handle, aad, aad_len, wrapped, plain, &len)
                   : unwrap_kwp(k, v->handle, wrapped, plain, &len);
    if (rv != CKR_OK) {
        rc = p11_failed(msg, msg_len, rv, true, "the token does not open the wrapped data key");
        /* A mechanism the token lacks, or a token gone (a generic failure whose session is
         * dead too), says nothing about the archive. */
        if (rc == SMAR_E_UNSUPPORTED || (rc == SMAR_E_AUTH && !session_alive(k)))
            rc = SMAR_E_UNAVAILABLE;
    } else if (len != (gcm ? SMAR_DEK_BYTES : SMAR_P11_KWP_PLAIN_BYTES)) {
        rc = smar_provider_say(msg, msg_len, SMAR_E_AUTH,
                               "the token opened the wrapped data key to %zu bytes", len);
    } else if (!gcm) {
        uint8_t hash[32];
        crypto_generichash(hash, sizeof hash, aad, aad_len, NULL, 0);
        if (sodium_memcmp(hash, plain + SMAR_DEK_BYTES, sizeof hash) != 0)
            rc = smar_provider_say(msg, msg_len, SMAR_E_AUTH,
                                   "the wrapped data key belongs to another key slot or archive");
    }
    if (rc == SMAR_OK)
        memcpy(dek, plain, SMAR_DEK_BYTES);
    else if (rc == SMAR_E_AUTH && rv != CKR_OK)
        (void)smar_provider_say(
            msg, msg_len, SMAR_E_AUTH,
            "the wrapped data key does not open (wrong key, or the key slot or its "
            "archive binding was altered; token said: %s)",
            p11_kit_strerror(rv));
    sodium_memzero(plain, sizeof plain);
    return rc;
}

static int p11_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    *key_id = ((smar_p11_key *)ctx)->key_id;
    return SMAR_OK;
}

static int p11_current_version(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    smar_p11_key *k = ctx;
    int rc = ready(k, msg, msg_len);
    if (rc == SMAR_OK)
        *version = k->versions[k->nversions - 1].number;
    return rc;
}

static const smar_provider p11_provider = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "pkcs11",
    .slot_id = SMAR_PROVIDER_SLOT_PKCS11,
    .key_id = p11_key_id,
    .current_version = p11_current_version,
    .wrap = p11_wrap,
    .unwrap = p11_unwrap,
    .rewrap = NULL, /* unwrap + wrap: the DEK only ever passes through this process */
    .free = p11_key_free,
};

/* ---- public calls --------------------------------------------------------------------- */

/* Everything but the session: module, token, key id, PIN. */
static int p11_key_open(smar_p11_key *k, const char *text, const smar_pkcs11_options *opts,
                        smar_err *e)
{
    smar_p11_uri u;
    int rc = smar_p11_uri_parse(text, &u, e);
    if (rc != SMAR_OK)
        return rc;
    (void)snprintf(k->object, sizeof k->object, "%s", u.object);
    rc = load_module(k, u.module_path != NULL ? u.module_path : opts->module_path, e);
    if (rc == SMAR_OK)
        rc = find_token(k, u.uri, e);
    if (rc == SMAR_OK)
        rc = smar_p11_key_id(k->token, k->object, k->key_id, sizeof k->key_id, e);
    if (rc == SMAR_OK)
        rc = take_pin(k, &u, opts, e);
    smar_p11_uri_clear(&u);
    return rc;
}

int smar_keyring_open_pkcs11(smar_keyring *kr, const char *uri, const smar_pkcs11_options *opts)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    const smar_pkcs11_options defaults = SMAR_PKCS11_OPTIONS_INIT;
    if (opts == NULL)
        opts = &defaults;
    int rc = smar_keyring_require_empty(kr);
    if (rc == SMAR_OK)
        rc = smar_check_version(e, opts->version, SMAR_PKCS11_OPTIONS_VERSION,
                                "smar_pkcs11_options");
    if (rc != SMAR_OK)
        return rc;
    smar_p11_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    rc = p11_key_open(k, uri, opts, e);
    if (rc == SMAR_OK)
        rc = smar_keyring_from_provider(kr, &p11_provider, k);
    if (rc != SMAR_OK)
        p11_key_free(k);
    return rc;
}

int smar_keyring_pkcs11_versions(smar_keyring *kr, uint32_t *versions, size_t cap, size_t *count)
{
    if (kr == NULL || count == NULL || (versions == NULL && cap > 0))
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_p11_key *k = smar_keyring_provider_ctx(kr, &p11_provider);
    if (k == NULL)
        return smar_fail(e, SMAR_E_INVALID, "the keyring holds no PKCS#11 key");
    char msg[P11_MSG_BYTES] = "";
    int rc = ready(k, msg, sizeof msg);
    if (rc != SMAR_OK)
        return smar_fail(e, rc, "root key '%s': %s", k->key_id, msg);
    for (size_t i = 0; i < k->nversions && i < cap; i++)
        versions[i] = k->versions[i].number;
    *count = k->nversions;
    return SMAR_OK;
}
