/*
 * keyring.c - root keys (smar/keys.h) and the keyring side of the provider interface
 * (keyring_internal.h). The key material and the wrap/unwrap themselves belong to the
 * provider (keyprov.h); this file keeps the id and the version list, checks the contract
 * and reads and writes keyring files (spec/KEYRING.md).
 */
#include "keyring_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "atomic_file.h"

#include "keyfile.h"
#include "keyprov.h"

#define KEYRING_TYPE "smar-keyring"

/* What every provider's keyring has. Versions are 1..count; version v was made at
 * version_created[v - 1]. */
typedef struct keyring_meta {
    char key_id[SMAR_KEY_ID_MAX + 1];
    smar_time_ns created_at;
    smar_time_ns *version_created;
    uint32_t count;
} keyring_meta;

struct smar_keyring {
    /* Points at err_rec. Through the pointer, calls taking a const handle (save,
     * version_info) can still record their error for smar_keyring_error(). */
    smar_err *err;
    smar_err err_rec;
    const struct smar_key_provider_ops *ops;
    void *prov; /* provider state; NULL while the keyring holds no root key */
    keyring_meta meta;
};

static void meta_free(keyring_meta *m)
{
    free(m->version_created);
    memset(m, 0, sizeof *m);
}

/* Printable ASCII without spaces, 1..SMAR_KEY_ID_MAX bytes. */
static bool valid_key_id(const char *id)
{
    size_t n = 0;
    for (; id[n] != '\0'; n++)
        if (n >= SMAR_KEY_ID_MAX || id[n] < 0x21 || id[n] > 0x7e)
            return false;
    return n > 0;
}

/* Install a loaded or generated key; the keyring must be empty. */
static void commit(smar_keyring *kr, void *prov, keyring_meta *m)
{
    kr->prov = prov;
    kr->meta = *m;
    memset(m, 0, sizeof *m);
}

static int require_empty(const smar_keyring *kr)
{
    if (kr->prov != NULL)
        return smar_fail(kr->err, SMAR_E_INVALID,
                         "the keyring already holds root key '%s'; use a new keyring handle",
                         kr->meta.key_id);
    return SMAR_OK;
}

static int require_key(const smar_keyring *kr, smar_err *e)
{
    if (kr->prov == NULL)
        return smar_fail(e, SMAR_E_INVALID, "the keyring holds no root key");
    return SMAR_OK;
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
    kr->ops = &smar_keyprov_local_ops;
    return SMAR_OK;
}

void smar_keyring_free(smar_keyring *kr)
{
    if (kr == NULL)
        return;
    if (kr->prov != NULL)
        kr->ops->free(kr->prov);
    meta_free(&kr->meta);
    free(kr);
}

const char *smar_keyring_error(const smar_keyring *kr)
{
    return kr != NULL ? smar_err_message(kr->err) : smar_strerror(SMAR_E_INVALID);
}

/* ---- generate, rotate, accessors ------------------------------------------------------ */

static int make_key_id(const smar_keyring *kr, const char *key_id, char out[SMAR_KEY_ID_MAX + 1])
{
    if (key_id != NULL) {
        if (!valid_key_id(key_id))
            return smar_fail(kr->err, SMAR_E_INVALID,
                             "a key id is 1 to %d printable ASCII characters without spaces",
                             SMAR_KEY_ID_MAX);
        strcpy(out, key_id);
        return SMAR_OK;
    }
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    memcpy(out, "rk-", 3);
    sodium_bin2hex(out + 3, SMAR_KEY_ID_MAX + 1 - 3, rnd, sizeof rnd);
    return SMAR_OK;
}

int smar_keyring_generate(smar_keyring *kr, const char *key_id)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(kr->err);
    keyring_meta m = {0};
    void *prov = NULL;
    uint8_t *material;
    int rc = require_empty(kr);
    if (rc == SMAR_OK)
        rc = make_key_id(kr, key_id, m.key_id);
    if (rc != SMAR_OK)
        return rc;
    m.version_created = malloc(sizeof *m.version_created);
    if (m.version_created == NULL)
        return smar_fail(kr->err, SMAR_E_NOMEM, "out of memory");
    rc = smar_keyprov_local_create(&prov, 1, &material, kr->err);
    if (rc != SMAR_OK) {
        meta_free(&m);
        return rc;
    }
    randombytes_buf(material, SMAR_LOCAL_KEY_BYTES);
    smar_keyprov_local_seal(prov);
    m.count = 1;
    m.created_at = m.version_created[0] = smar_keyfile_now();
    kr->ops = &smar_keyprov_local_ops;
    commit(kr, prov, &m);
    return SMAR_OK;
}

int smar_keyring_rotate(smar_keyring *kr)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(kr->err);
    int rc = require_key(kr, kr->err);
    if (rc != SMAR_OK)
        return rc;
    uint32_t n = kr->meta.count;
    if (n >= SMAR_KEY_VERSIONS_MAX)
        return smar_fail(kr->err, SMAR_E_LIMIT, "root key '%s' already has %d versions, the most",
                         kr->meta.key_id, SMAR_KEY_VERSIONS_MAX);
    /* Grow the list first: if the provider then fails, the keyring is unchanged. */
    smar_time_ns *grown = realloc(kr->meta.version_created, ((size_t)n + 1) * sizeof *grown);
    if (grown == NULL)
        return smar_fail(kr->err, SMAR_E_NOMEM, "out of memory");
    kr->meta.version_created = grown;
    rc = kr->ops->add_version(kr->prov, kr->err);
    if (rc != SMAR_OK)
        return smar_err_prefix(kr->err, "root key '%s': ", kr->meta.key_id);
    grown[n] = smar_keyfile_now();
    kr->meta.count = n + 1;
    return SMAR_OK;
}

const char *smar_keyring_id(const smar_keyring *kr)
{
    return kr != NULL && kr->prov != NULL ? kr->meta.key_id : "";
}

size_t smar_keyring_version_count(const smar_keyring *kr)
{
    return kr != NULL ? kr->meta.count : 0;
}

int smar_keyring_version_info(const smar_keyring *kr, size_t i, uint32_t *version,
                              smar_time_ns *created)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    if (i >= kr->meta.count)
        return smar_fail(kr->err, SMAR_E_INVALID, "no version at index %zu (the keyring has %u)", i,
                         (unsigned)kr->meta.count);
    if (version != NULL)
        *version = (uint32_t)i + 1;
    if (created != NULL)
        *created = kr->meta.version_created[i];
    return SMAR_OK;
}

uint32_t smar_keyring_current_version(const smar_keyring *kr)
{
    return kr != NULL ? kr->meta.count : 0;
}

const char *smar_keyring_provider(const smar_keyring *kr)
{
    return kr != NULL ? kr->ops->name : "";
}

/* ---- provider interface (keyring_internal.h) ----------------------------------------- */

uint8_t smar_keyring_provider_id(const smar_keyring *kr)
{
    return kr->ops->id;
}

int smar_keyring_wrap(smar_keyring *kr, const uint8_t *aad, size_t aad_len,
                      const uint8_t dek[SMAR_DEK_BYTES], uint8_t out[SMAR_WRAPPED_MAX],
                      size_t *out_len, uint32_t *version, smar_err *e)
{
    if (kr == NULL || dek == NULL || out == NULL || out_len == NULL || version == NULL ||
        (aad == NULL && aad_len > 0))
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to wrap");
    int rc = require_key(kr, e);
    if (rc != SMAR_OK)
        return rc;
    uint32_t v = kr->meta.count;
    rc = kr->ops->wrap(kr->prov, v, aad, aad_len, dek, out, out_len, e);
    if (rc != SMAR_OK)
        return smar_err_prefix(e, "root key '%s': ", kr->meta.key_id);
    *version = v;
    return SMAR_OK;
}

int smar_keyring_unwrap(smar_keyring *kr, uint32_t version, const uint8_t *aad, size_t aad_len,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_DEK_BYTES],
                        smar_err *e)
{
    if (kr == NULL || dek == NULL || (wrapped == NULL && wrapped_len > 0) ||
        (aad == NULL && aad_len > 0))
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to unwrap");
    if (kr->prov == NULL)
        return smar_fail(e, SMAR_E_NOTFOUND, "the keyring holds no root key");
    /* The provider checks the blob's length before the version, then opens it. */
    int rc = kr->ops->unwrap(kr->prov, version, aad, aad_len, wrapped, wrapped_len, dek, e);
    if (rc != SMAR_OK)
        return smar_err_prefix(e, "root key '%s': ", kr->meta.key_id);
    return SMAR_OK;
}

/* ---- keyring files -------------------------------------------------------------------- */

/* The associated data binding sealed key material to the file's clear fields, so keys
 * cannot be moved between files or versions renumbered (spec/KEYRING.md, "Sealing"). */
static int build_aad(smar_buf *aad, const keyring_meta *m, const char *provider)
{
    int rc = smar_buf_append(aad, KEYRING_TYPE, sizeof KEYRING_TYPE); /* with its NUL */
    if (rc == SMAR_OK)
        rc = smar_buf_put_u32(aad, 1);
    if (rc == SMAR_OK)
        rc = smar_buf_append(aad, provider, strlen(provider) + 1);
    if (rc == SMAR_OK)
        rc = smar_buf_append(aad, m->key_id, strlen(m->key_id) + 1);
    if (rc == SMAR_OK)
        rc = smar_buf_put_u64(aad, (uint64_t)m->created_at);
    if (rc == SMAR_OK)
        rc = smar_buf_put_u32(aad, m->count);
    for (uint32_t i = 0; i < m->count && rc == SMAR_OK; i++) {
        rc = smar_buf_put_u32(aad, i + 1);
        if (rc == SMAR_OK)
            rc = smar_buf_put_u64(aad, (uint64_t)m->version_created[i]);
    }
    return rc;
}

static int put_header(smar_buf *b, const keyring_meta *m, const char *provider)
{
    int rc = smar_buf_printf(
        b, "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"provider\": ", KEYRING_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(b, provider);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"key_id\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(b, m->key_id);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"created_at\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_time(b, m->created_at);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"versions\": [\n");
    return rc;
}

/* keys is NULL when the key material is sealed instead. */
static int put_versions(smar_buf *b, const keyring_meta *m, const uint8_t *keys)
{
    int rc = SMAR_OK;
    for (uint32_t i = 0; i < m->count && rc == SMAR_OK; i++) {
        rc = smar_buf_printf(b, "    {\"version\": %u, \"created_at\": ", (unsigned)i + 1);
        if (rc == SMAR_OK)
            rc = smar_keyfile_put_time(b, m->version_created[i]);
        if (rc == SMAR_OK && keys != NULL) {
            rc = smar_buf_append_str(b, ", \"key\": ");
            if (rc == SMAR_OK)
                rc = smar_keyfile_put_b64(b, keys + (size_t)i * SMAR_LOCAL_KEY_BYTES,
                                          SMAR_LOCAL_KEY_BYTES);
        }
        if (rc == SMAR_OK)
            rc = smar_buf_append_str(b, i + 1 < m->count ? "},\n" : "}\n");
    }
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, "  ]");
    return rc;
}

/* The whole file text into text (a secure buffer: it may hold the keys in base64). */
static int build_file(const smar_keyring *kr, const smar_keyfile *kf, const char *passphrase,
                      smar_buf *text)
{
    uint32_t count;
    const uint8_t *keys = smar_keyprov_local_material(kr->prov, &count);
    smar_buf aad = {0};
    int rc = put_header(text, &kr->meta, kr->ops->name);
    if (rc == SMAR_OK)
        rc = put_versions(text, &kr->meta, passphrase != NULL ? NULL : keys);
    if (rc == SMAR_OK && passphrase != NULL)
        rc = build_aad(&aad, &kr->meta, kr->ops->name);
    if (rc != SMAR_OK) {
        rc = smar_keyfile_fail(kf, rc, "out of memory");
        goto done;
    }
    if (passphrase != NULL) {
        rc = smar_keyfile_seal(kf, text, passphrase, aad.data, aad.len, keys,
                               (size_t)count * SMAR_LOCAL_KEY_BYTES);
        if (rc != SMAR_OK)
            goto done;
    }
    if (smar_buf_append_str(text, "\n}\n") != SMAR_OK)
        rc = smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
done:
    smar_buf_free(&aad);
    return rc;
}

int smar_keyring_save(const smar_keyring *kr, const char *path, const char *passphrase,
                      unsigned flags)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(kr->err);
    if (path == NULL || (flags & ~SMAR_SAVE_OVERWRITE) != 0)
        return smar_fail(kr->err, SMAR_E_INVALID, "invalid argument to save");
    int rc = require_key(kr, kr->err);
    if (rc != SMAR_OK)
        return rc;
    if (kr->ops != &smar_keyprov_local_ops)
        return smar_fail(kr->err, SMAR_E_UNSUPPORTED,
                         "provider '%s' keyrings cannot be saved to a file", kr->ops->name);
    smar_keyfile kf = {"keyring", path, NULL, kr->err};
    smar_buf text = {.secure = true};
    rc = build_file(kr, &kf, passphrase, &text);
    if (rc == SMAR_OK)
        rc = smar_atomic_write_file(path, text.data, text.len, 0600,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, kr->err);
    smar_buf_free(&text);
    return rc;
}

/* The clear fields: everything but the key material. */
static int parse_header(const smar_keyfile *kf, const cJSON *root, keyring_meta *m)
{
    static const char *const allowed[] = {"type",       "format",     "provider",
                                          "key_id",     "created_at", "versions",
                                          "protection", "sealed",     NULL};
    const char *provider, *key_id;
    int rc = smar_keyfile_check_members(kf, root, allowed, "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, KEYRING_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_string(kf, root, "provider", &provider);
    if (rc == SMAR_OK && strcmp(provider, smar_keyprov_local_ops.name) != 0)
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "unknown \"provider\" (this version knows \"local\")");
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_string(kf, root, "key_id", &key_id);
    if (rc == SMAR_OK && !valid_key_id(key_id))
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "\"key_id\" must be 1 to %d printable ASCII characters without "
                               "spaces",
                               SMAR_KEY_ID_MAX);
    if (rc == SMAR_OK) {
        strcpy(m->key_id, key_id);
        rc = smar_keyfile_get_time(kf, root, "created_at", &m->created_at);
    }
    return rc;
}

/* One entry of "versions", which must be version i + 1. Its key (when not sealed) is
 * decoded straight into the provider's locked memory at key. */
static int parse_version(const smar_keyfile *kf, const cJSON *v, uint32_t i, bool sealed,
                         keyring_meta *m, uint8_t *key)
{
    static const char *const allowed[] = {"version", "created_at", "key", NULL};
    char where[32];
    (void)snprintf(where, sizeof where, "versions[%u]", (unsigned)i);
    smar_keyfile sub = *kf;
    sub.where = where;
    if (!cJSON_IsObject(v))
        return smar_keyfile_fail(&sub, SMAR_E_FORMAT, "must be an object");
    uint64_t number;
    int rc = smar_keyfile_check_members(&sub, v, allowed, "the entry");
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_uint(&sub, v, "version", 1, SMAR_KEY_VERSIONS_MAX, &number);
    if (rc == SMAR_OK && number != (uint64_t)i + 1)
        rc = smar_keyfile_fail(&sub, SMAR_E_FORMAT,
                               "has version %llu; versions must be 1, 2, 3... in order, without "
                               "gaps or repeats",
                               (unsigned long long)number);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_time(&sub, v, "created_at", &m->version_created[i]);
    if (rc != SMAR_OK)
        return rc;
    bool has_key = cJSON_GetObjectItemCaseSensitive(v, "key") != NULL;
    if (sealed && has_key)
        return smar_keyfile_fail(&sub, SMAR_E_FORMAT,
                                 "has a \"key\" although the file's keys are sealed");
    if (!sealed)
        return smar_keyfile_get_b64(&sub, v, "key", key, SMAR_LOCAL_KEY_BYTES);
    return SMAR_OK;
}

static int parse_keyring(const smar_keyfile *kf, const cJSON *root, const char *passphrase,
                         keyring_meta *m, void **prov)
{
    int rc = parse_header(kf, root, m);
    if (rc != SMAR_OK)
        return rc;
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(root, "versions");
    int n = cJSON_GetArraySize(versions);
    if (!cJSON_IsArray(versions) || n < 1 || n > SMAR_KEY_VERSIONS_MAX)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "\"versions\" must be an array of 1 to %d versions",
                                 SMAR_KEY_VERSIONS_MAX);
    m->count = (uint32_t)n;
    m->version_created = calloc((size_t)n, sizeof *m->version_created);
    if (m->version_created == NULL)
        return smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
    uint8_t *keys;
    rc = smar_keyprov_local_create(prov, m->count, &keys, kf->e);
    bool sealed = smar_keyfile_is_sealed(root);
    const cJSON *v = versions->child;
    for (uint32_t i = 0; i < m->count && rc == SMAR_OK; i++, v = v->next)
        rc = parse_version(kf, v, i, sealed, m, keys + (size_t)i * SMAR_LOCAL_KEY_BYTES);
    if (rc == SMAR_OK && sealed) {
        smar_buf aad = {0};
        rc = build_aad(&aad, m, smar_keyprov_local_ops.name);
        if (rc == SMAR_OK)
            rc = smar_keyfile_unseal(kf, root, passphrase, aad.data, aad.len, keys,
                                     (size_t)m->count * SMAR_LOCAL_KEY_BYTES);
        else
            rc = smar_keyfile_fail(kf, rc, "out of memory");
        smar_buf_free(&aad);
    }
    if (rc == SMAR_OK)
        smar_keyprov_local_seal(*prov);
    return rc;
}

int smar_keyring_load(smar_keyring *kr, const char *path, const char *passphrase)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(kr->err);
    if (path == NULL)
        return smar_fail(kr->err, SMAR_E_INVALID, "no keyring file given");
    int rc = require_empty(kr);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"keyring", path, NULL, kr->err};
    smar_buf text = {.secure = true};
    cJSON *root = NULL;
    keyring_meta m = {0};
    void *prov = NULL;
    rc = smar_keyfile_read(&kf, true, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_keyring(&kf, root, passphrase, &m, &prov);
    if (rc == SMAR_OK) {
        kr->ops = &smar_keyprov_local_ops;
        commit(kr, prov, &m);
        prov = NULL;
    }
    if (prov != NULL)
        smar_keyprov_local_ops.free(prov);
    meta_free(&m);
    smar_keyfile_json_free(root);
    smar_buf_free(&text);
    return rc;
}
