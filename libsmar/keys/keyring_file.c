/*
 * keyring_file.c - local keyrings (smar/keys.h): what only keys of the "local" provider
 * have - generation, rotation, and the keyring file that holds them (spec/KEYRING.md).
 * The keys themselves and their wrap/unwrap are the local provider's (keyprov_local.c);
 * the handle is the generic keyring's (keyring.c).
 */
#include "keyprov.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "atomic_file.h"

#include "keyfile.h"

#define KEYRING_TYPE "smar-keyring"

/* ---- generate, rotate ----------------------------------------------------------------- */

static int make_key_id(const smar_keyring *kr, const char *key_id, char out[SMAR_KEY_ID_MAX + 1])
{
    if (key_id != NULL) {
        if (!smar_key_id_valid(key_id))
            return smar_fail(smar_keyring_err(kr), SMAR_E_INVALID,
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
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    char id[SMAR_KEY_ID_MAX + 1];
    smar_local_key *lk = NULL;
    uint8_t *material;
    smar_time_ns *created;
    smar_time_ns now = smar_keyfile_now();
    int rc = smar_keyring_require_empty(kr);
    if (rc == SMAR_OK)
        rc = make_key_id(kr, key_id, id);
    if (rc == SMAR_OK)
        rc = smar_local_key_new(&lk, id, now, 1, &material, &created, e);
    if (rc != SMAR_OK)
        return rc;
    randombytes_buf(material, SMAR_LOCAL_KEY_BYTES);
    smar_local_key_seal(lk);
    created[0] = now;
    smar_keyring_install_local(kr, lk);
    return SMAR_OK;
}

/* The keyring's local key, or the error for a keyring that holds none or another's. */
static int require_local(const smar_keyring *kr, const char *what, smar_local_key **lk)
{
    int rc = smar_keyring_require_key(kr, smar_keyring_err(kr));
    if (rc != SMAR_OK)
        return rc;
    *lk = smar_keyring_local_key(kr);
    if (*lk == NULL)
        return smar_fail(smar_keyring_err(kr), SMAR_E_UNSUPPORTED,
                         "provider '%s' keyrings cannot be %s", smar_keyring_provider(kr), what);
    return SMAR_OK;
}

int smar_keyring_destroy_version(smar_keyring *kr, uint32_t version)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    smar_local_key *lk = NULL;
    int rc = require_local(kr, "changed by smar (the provider destroys its key versions)", &lk);
    if (rc != SMAR_OK)
        return rc;
    uint32_t count = smar_local_key_count(lk);
    if (version < 1 || version > count)
        return smar_fail(e, SMAR_E_NOTFOUND, "root key '%s' has no version %u (it has 1..%u)",
                         smar_local_key_id(lk), version, count);
    if (version == count)
        return smar_fail(e, SMAR_E_INVALID,
                         "version %u is the current version of root key '%s': rotate first",
                         version, smar_local_key_id(lk));
    if (smar_local_key_version_destroyed(lk, version - 1) == SMAR_TIME_NONE)
        smar_local_key_destroy(lk, version - 1, smar_keyfile_now());
    return SMAR_OK;
}

int smar_keyring_version_destroyed(const smar_keyring *kr, uint32_t version)
{
    const smar_local_key *lk = kr ? smar_keyring_local_key(kr) : NULL;
    return lk && version >= 1 && version <= smar_local_key_count(lk) &&
           smar_local_key_version_destroyed(lk, version - 1) != SMAR_TIME_NONE;
}

int smar_keyring_rotate(smar_keyring *kr)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    smar_local_key *lk = NULL;
    int rc = require_local(kr, "rotated by smar (the provider rotates its keys)", &lk);
    if (rc != SMAR_OK)
        return rc;
    if (smar_local_key_count(lk) >= SMAR_KEY_VERSIONS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "root key '%s' already has %d versions, the most",
                         smar_local_key_id(lk), SMAR_KEY_VERSIONS_MAX);
    rc = smar_local_key_add_version(lk, smar_keyfile_now(), e);
    if (rc != SMAR_OK)
        return smar_err_prefix(e, "root key '%s': ", smar_local_key_id(lk));
    return SMAR_OK;
}

/* ---- writing keyring files ------------------------------------------------------------ */

/* The associated data binding sealed key material to the file's clear fields, so keys
 * cannot be moved between files or versions renumbered (spec/KEYRING.md, "Sealing"). */
static int build_aad(smar_buf *aad, const smar_local_key *lk)
{
    const char *provider = smar_provider_local.name;
    const char *key_id = smar_local_key_id(lk);
    uint32_t count = smar_local_key_count(lk);
    int rc = smar_buf_append(aad, KEYRING_TYPE, sizeof KEYRING_TYPE); /* with its NUL */
    if (rc == SMAR_OK)
        rc = smar_buf_put_u32(aad, 1);
    if (rc == SMAR_OK)
        rc = smar_buf_append(aad, provider, strlen(provider) + 1);
    if (rc == SMAR_OK)
        rc = smar_buf_append(aad, key_id, strlen(key_id) + 1);
    if (rc == SMAR_OK)
        rc = smar_buf_put_u64(aad, (uint64_t)smar_local_key_created(lk));
    if (rc == SMAR_OK)
        rc = smar_buf_put_u32(aad, count);
    for (uint32_t i = 0; i < count && rc == SMAR_OK; i++) {
        rc = smar_buf_put_u32(aad, i + 1);
        if (rc == SMAR_OK)
            rc = smar_buf_put_u64(aad, (uint64_t)smar_local_key_version_created(lk, i));
        /* a destroyed version's marker is bound too (files without one keep their AAD) */
        smar_time_ns gone = smar_local_key_version_destroyed(lk, i);
        if (rc == SMAR_OK && gone != SMAR_TIME_NONE)
            rc = smar_buf_put_u64(aad, (uint64_t)gone);
    }
    return rc;
}

static int put_header(smar_buf *b, const smar_local_key *lk)
{
    int rc = smar_buf_printf(
        b, "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"provider\": ", KEYRING_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(b, smar_provider_local.name);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"key_id\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(b, smar_local_key_id(lk));
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"created_at\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_time(b, smar_local_key_created(lk));
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, ",\n  \"versions\": [\n");
    return rc;
}

/* with_keys false when the key material is sealed instead. */
static int put_versions(smar_buf *b, const smar_local_key *lk, bool with_keys)
{
    const uint8_t *keys = smar_local_key_material(lk);
    uint32_t count = smar_local_key_count(lk);
    int rc = SMAR_OK;
    for (uint32_t i = 0; i < count && rc == SMAR_OK; i++) {
        rc = smar_buf_printf(b, "    {\"version\": %u, \"created_at\": ", (unsigned)i + 1);
        if (rc == SMAR_OK)
            rc = smar_keyfile_put_time(b, smar_local_key_version_created(lk, i));
        smar_time_ns gone = smar_local_key_version_destroyed(lk, i);
        if (rc == SMAR_OK && gone != SMAR_TIME_NONE) {
            rc = smar_buf_append_str(b, ", \"destroyed_at\": ");
            if (rc == SMAR_OK)
                rc = smar_keyfile_put_time(b, gone);
        } else if (rc == SMAR_OK && with_keys) {
            rc = smar_buf_append_str(b, ", \"key\": ");
            if (rc == SMAR_OK)
                rc = smar_keyfile_put_b64(b, keys + (size_t)i * SMAR_LOCAL_KEY_BYTES,
                                          SMAR_LOCAL_KEY_BYTES);
        }
        if (rc == SMAR_OK)
            rc = smar_buf_append_str(b, i + 1 < count ? "},\n" : "}\n");
    }
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(b, "  ]");
    return rc;
}

/* The whole file text into text (a secure buffer: it may hold the keys in base64). */
static int build_file(const smar_local_key *lk, const smar_keyfile *kf, const char *passphrase,
                      smar_buf *text)
{
    smar_buf aad = {0};
    int rc = put_header(text, lk);
    if (rc == SMAR_OK)
        rc = put_versions(text, lk, passphrase == NULL);
    if (rc == SMAR_OK && passphrase != NULL)
        rc = build_aad(&aad, lk);
    if (rc != SMAR_OK) {
        rc = smar_keyfile_fail(kf, rc, "out of memory");
        goto done;
    }
    if (passphrase != NULL) {
        rc = smar_keyfile_seal(kf, text, passphrase, aad.data, aad.len, smar_local_key_material(lk),
                               (size_t)smar_local_key_count(lk) * SMAR_LOCAL_KEY_BYTES);
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
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    if (path == NULL || (flags & ~SMAR_SAVE_OVERWRITE) != 0)
        return smar_fail(e, SMAR_E_INVALID, "invalid argument to save");
    smar_local_key *lk = NULL;
    int rc = require_local(kr, "saved to a file", &lk);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"keyring", path, NULL, e};
    smar_buf text = {.secure = true};
    rc = build_file(lk, &kf, passphrase, &text);
    if (rc == SMAR_OK)
        rc = smar_atomic_write_file(path, text.data, text.len, 0600,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, e);
    smar_buf_free(&text);
    return rc;
}

/* ---- reading keyring files ------------------------------------------------------------ */

/* The clear fields of the file's top level, as read before the versions. */
typedef struct file_header {
    char key_id[SMAR_KEY_ID_MAX + 1];
    smar_time_ns created_at;
} file_header;

static int parse_header(const smar_keyfile *kf, smar_span root, file_header *h)
{
    static const char *const allowed[] = {"type",       "format",     "provider",
                                          "key_id",     "created_at", "versions",
                                          "protection", "sealed",     NULL};
    /* One byte more than the longest valid value, so a longer one reads as invalid. */
    char provider[16], key_id[SMAR_KEY_ID_MAX + 2];
    int rc = smar_keyfile_check_members(kf, root, allowed, "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, KEYRING_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_string(kf, root, "provider", provider, sizeof provider);
    if (rc == SMAR_OK && strcmp(provider, smar_provider_local.name) != 0)
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "unknown \"provider\" (this version knows \"local\")");
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_string(kf, root, "key_id", key_id, sizeof key_id);
    if (rc == SMAR_OK && !smar_key_id_valid(key_id))
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "\"key_id\" must be 1 to %d printable ASCII characters without "
                               "spaces",
                               SMAR_KEY_ID_MAX);
    if (rc == SMAR_OK) {
        strcpy(h->key_id, key_id);
        rc = smar_keyfile_get_time(kf, root, "created_at", &h->created_at);
    }
    return rc;
}

/* One entry of "versions", which must be version i + 1: its time to *created and its key
 * (when not sealed) decoded straight into the provider's locked memory at key. */
static int parse_version(const smar_keyfile *kf, smar_span v, uint32_t i, bool sealed,
                         smar_time_ns *created, smar_time_ns *destroyed, uint8_t *key)
{
    static const char *const allowed[] = {"version", "created_at", "key", "destroyed_at", NULL};
    char where[32];
    (void)snprintf(where, sizeof where, "versions[%u]", (unsigned)i);
    smar_keyfile sub = *kf;
    sub.where = where;
    if (smar_json_kind_of(v) != SMAR_JSON_OBJECT)
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
        rc = smar_keyfile_get_time(&sub, v, "created_at", created);
    if (rc != SMAR_OK)
        return rc;
    bool has_key = smar_keyfile_has(v, "key", NULL);
    if (smar_keyfile_has(v, "destroyed_at", NULL)) {
        if (has_key)
            return smar_keyfile_fail(&sub, SMAR_E_FORMAT,
                                     "has a \"key\" although it was destroyed");
        return smar_keyfile_get_time(&sub, v, "destroyed_at", destroyed);
    }
    if (sealed && has_key)
        return smar_keyfile_fail(&sub, SMAR_E_FORMAT,
                                 "has a \"key\" although the file's keys are sealed");
    if (!sealed)
        return smar_keyfile_get_b64(&sub, v, "key", key, SMAR_LOCAL_KEY_BYTES);
    return SMAR_OK;
}

/* The number of entries of "versions", which must be an array of 1..max. */
static int count_versions(const smar_keyfile *kf, smar_span root, smar_span *versions,
                          uint32_t *count)
{
    size_t n = 0;
    smar_span v;
    if (smar_keyfile_has(root, "versions", versions) &&
        smar_json_kind_of(*versions) == SMAR_JSON_ARRAY) {
        smar_json_iter it;
        smar_json_iter_init(&it, *versions);
        while (n <= SMAR_KEY_VERSIONS_MAX && smar_json_next_element(&it, &v))
            n++;
    }
    if (n < 1 || n > SMAR_KEY_VERSIONS_MAX)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "\"versions\" must be an array of 1 to %d versions",
                                 SMAR_KEY_VERSIONS_MAX);
    *count = (uint32_t)n;
    return SMAR_OK;
}

static int unseal_keys(const smar_keyfile *kf, smar_span root, const char *passphrase,
                       const smar_local_key *lk, uint8_t *keys)
{
    smar_buf aad = {0};
    int rc = build_aad(&aad, lk);
    if (rc == SMAR_OK)
        rc = smar_keyfile_unseal(kf, root, passphrase, aad.data, aad.len, keys,
                                 (size_t)smar_local_key_count(lk) * SMAR_LOCAL_KEY_BYTES);
    else
        rc = smar_keyfile_fail(kf, rc, "out of memory");
    smar_buf_free(&aad);
    return rc;
}

static int parse_keyring(const smar_keyfile *kf, smar_span root, const char *passphrase,
                         smar_local_key **lk)
{
    file_header h;
    smar_span versions;
    uint32_t count = 0;
    uint8_t *keys;
    smar_time_ns *created;
    int rc = parse_header(kf, root, &h);
    if (rc == SMAR_OK)
        rc = count_versions(kf, root, &versions, &count);
    if (rc == SMAR_OK)
        rc = smar_local_key_new(lk, h.key_id, h.created_at, count, &keys, &created, kf->e);
    if (rc != SMAR_OK)
        return rc;
    bool sealed = smar_keyfile_is_sealed(root);
    smar_json_iter it;
    smar_span v;
    smar_json_iter_init(&it, versions);
    smar_time_ns *destroyed = smar_local_key_destroyed_times(*lk);
    for (uint32_t i = 0; i < count && rc == SMAR_OK && smar_json_next_element(&it, &v); i++)
        rc = parse_version(kf, v, i, sealed, &created[i], &destroyed[i],
                           keys + (size_t)i * SMAR_LOCAL_KEY_BYTES);
    if (rc == SMAR_OK && destroyed[count - 1] != SMAR_TIME_NONE)
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "the current (last) version is marked destroyed: nothing could "
                               "wrap with it");
    if (rc == SMAR_OK && sealed)
        rc = unseal_keys(kf, root, passphrase, *lk, keys);
    /* a destroyed version holds no key (sealed files keep zeros in its place) */
    for (uint32_t i = 0; i < count && rc == SMAR_OK; i++)
        if (destroyed[i] != SMAR_TIME_NONE)
            sodium_memzero(keys + (size_t)i * SMAR_LOCAL_KEY_BYTES, SMAR_LOCAL_KEY_BYTES);
    if (rc == SMAR_OK)
        smar_local_key_seal(*lk);
    return rc;
}

int smar_keyring_load(smar_keyring *kr, const char *path, const char *passphrase)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err *e = smar_keyring_err(kr);
    smar_err_clear(e);
    if (path == NULL)
        return smar_fail(e, SMAR_E_INVALID, "no keyring file given");
    int rc = smar_keyring_require_empty(kr);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"keyring", path, NULL, e};
    smar_buf text = {.secure = true};
    smar_span root;
    smar_local_key *lk = NULL;
    rc = smar_keyfile_read(&kf, true, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_keyring(&kf, root, passphrase, &lk);
    if (rc == SMAR_OK) {
        smar_keyring_install_local(kr, lk);
        lk = NULL;
    }
    smar_local_key_free(lk);
    smar_buf_free(&text);
    return rc;
}
