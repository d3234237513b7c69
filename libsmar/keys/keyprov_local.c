/*
 * keyprov_local.c - the "local" key provider (smar/provider.h): a root key whose versions
 * are held in this process, in one guarded, locked allocation (sodium_malloc), read-only
 * except while being filled.
 *
 * Wrap is XChaCha20-Poly1305 under the current version's 32-byte key with a fresh random
 * 24-byte nonce and the caller's AAD (the slot's binding to its archive):
 *   blob = nonce(24) || ciphertext(32) || tag(16)   (SMAR_LOCAL_WRAPPED_BYTES)
 * A random nonce is safe: 192 bits make collisions negligible for any number of archives.
 */
#include "keyprov.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(NONCE_BYTES + SMAR_DEK_BYTES + TAG_BYTES == SMAR_LOCAL_WRAPPED_BYTES,
               "local wrapped DEK layout");
_Static_assert(SMAR_LOCAL_WRAPPED_BYTES <= SMAR_WRAPPED_MAX, "wrapped DEK bound");
_Static_assert(SMAR_LOCAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

struct smar_local_key {
    char key_id[SMAR_KEY_ID_MAX + 1];
    smar_time_ns created_at;
    smar_time_ns *version_created; /* count entries; version v made at [v - 1] */
    /* count entries: when version v was destroyed (its material wiped), or SMAR_TIME_NONE */
    smar_time_ns *version_destroyed;
    uint8_t *keys; /* count * SMAR_LOCAL_KEY_BYTES, sodium_malloc */
    uint32_t count;
};

static const uint8_t *version_key(const smar_local_key *lk, uint32_t version)
{
    return lk->keys + (size_t)(version - 1) * SMAR_LOCAL_KEY_BYTES;
}

static bool has_version(const smar_local_key *lk, uint32_t version)
{
    return version >= 1 && version <= lk->count;
}

/* ---- the smar_provider callbacks ------------------------------------------------------ */

static int local_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    const smar_local_key *lk = ctx;
    *key_id = lk->key_id;
    return SMAR_OK;
}

static int local_current_version(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    (void)msg;
    (void)msg_len;
    const smar_local_key *lk = ctx;
    *version = lk->count;
    return SMAR_OK;
}

static int local_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                      const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                      size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    const smar_local_key *lk = ctx;
    if (out_cap < SMAR_LOCAL_WRAPPED_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_INVALID, "no room for a wrapped data key");
    randombytes_buf(out, NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_BYTES, NULL, dek, SMAR_DEK_BYTES, aad,
                                               aad_len, NULL, out, version_key(lk, lk->count));
    *out_len = SMAR_LOCAL_WRAPPED_BYTES;
    *version = lk->count;
    return SMAR_OK;
}

static int local_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                        const uint8_t *wrapped, size_t wrapped_len,
                        uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    const smar_local_key *lk = ctx;
    /* An exact length before any decryption: the AEAD does not commit to its key, so
     * nothing but a well-formed blob is ever handed to it. */
    if (wrapped_len != SMAR_LOCAL_WRAPPED_BYTES)
        return smar_provider_say(msg, msg_len, SMAR_E_FORMAT,
                                 "wrapped data key is %zu bytes, expected %d", wrapped_len,
                                 SMAR_LOCAL_WRAPPED_BYTES);
    if (!has_version(lk, version))
        return smar_provider_say(msg, msg_len, SMAR_E_NOTFOUND, "version %u is not held",
                                 (unsigned)version);
    if (lk->version_destroyed[version - 1] != SMAR_TIME_NONE)
        return smar_provider_say(msg, msg_len, SMAR_E_NOTFOUND,
                                 "version %u of key '%s' was destroyed", (unsigned)version,
                                 lk->key_id);
    /* libsodium zeroes its output on failure; decrypt into a temporary so the caller's dek
     * is written only on success, as the contract says. */
    uint8_t plain[SMAR_DEK_BYTES];
    int rc = SMAR_OK;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, wrapped + NONCE_BYTES,
                                                   SMAR_DEK_BYTES + TAG_BYTES, aad, aad_len,
                                                   wrapped, version_key(lk, version)) != 0)
        rc = smar_provider_say(
            msg, msg_len, SMAR_E_AUTH,
            "wrapped data key does not open (wrong key, or the key slot or its archive "
            "binding was altered)");
    else
        memcpy(dek, plain, SMAR_DEK_BYTES);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

static void local_free(void *ctx)
{
    smar_local_key_free(ctx);
}

const smar_provider smar_provider_local = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "local",
    .slot_id = SMAR_PROVIDER_SLOT_LOCAL,
    .key_id = local_key_id,
    .current_version = local_current_version,
    .wrap = local_wrap,
    .unwrap = local_unwrap,
    .rewrap = NULL, /* unwrap + wrap does it; format 1 has no use for it */
    .free = local_free,
};

/* ---- the local key itself ------------------------------------------------------------- */

int smar_local_key_new(smar_local_key **out, const char *key_id, smar_time_ns created_at,
                       uint32_t count, uint8_t **material, smar_time_ns **created, smar_err *e)
{
    *out = NULL;
    *material = NULL;
    *created = NULL;
    if (count < 1 || count > SMAR_KEY_VERSIONS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "a root key holds 1 to %d versions",
                         SMAR_KEY_VERSIONS_MAX);
    smar_local_key *lk = calloc(1, sizeof *lk);
    if (lk == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    lk->version_created = calloc(count, sizeof *lk->version_created);
    lk->version_destroyed = malloc(count * sizeof *lk->version_destroyed);
    lk->keys = smar_secure_alloc((size_t)count * SMAR_LOCAL_KEY_BYTES);
    if (lk->version_created == NULL || lk->version_destroyed == NULL || lk->keys == NULL) {
        smar_local_key_free(lk);
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    }
    for (uint32_t i = 0; i < count; i++)
        lk->version_destroyed[i] = SMAR_TIME_NONE;
    (void)snprintf(lk->key_id, sizeof lk->key_id, "%s", key_id);
    lk->created_at = created_at;
    lk->count = count;
    *out = lk;
    *material = lk->keys;
    *created = lk->version_created;
    return SMAR_OK;
}

void smar_local_key_seal(smar_local_key *lk)
{
    sodium_mprotect_readonly(lk->keys);
}

/* Grow by one version: a new allocation (sodium_malloc cannot grow), old keys copied, the
 * old region freed (sodium_free wipes it). The time list grows first: if anything fails,
 * the key is unchanged. */
int smar_local_key_add_version(smar_local_key *lk, smar_time_ns now, smar_err *e)
{
    if (lk->count >= SMAR_KEY_VERSIONS_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "a root key holds at most %d versions",
                         SMAR_KEY_VERSIONS_MAX);
    smar_time_ns *times =
        realloc(lk->version_created, ((size_t)lk->count + 1) * sizeof *lk->version_created);
    if (times == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    lk->version_created = times;
    smar_time_ns *gone =
        realloc(lk->version_destroyed, ((size_t)lk->count + 1) * sizeof *lk->version_destroyed);
    if (gone == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    lk->version_destroyed = gone;
    gone[lk->count] = SMAR_TIME_NONE;
    size_t old_len = (size_t)lk->count * SMAR_LOCAL_KEY_BYTES;
    uint8_t *keys = smar_secure_alloc(old_len + SMAR_LOCAL_KEY_BYTES);
    if (keys == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of locked memory");
    memcpy(keys, lk->keys, old_len);
    randombytes_buf(keys + old_len, SMAR_LOCAL_KEY_BYTES);
    sodium_mprotect_readonly(keys);
    sodium_free(lk->keys);
    lk->keys = keys;
    times[lk->count] = now;
    lk->count++;
    return SMAR_OK;
}

void smar_local_key_free(smar_local_key *lk)
{
    if (lk == NULL)
        return;
    sodium_free(lk->keys);
    free(lk->version_created);
    free(lk->version_destroyed);
    free(lk);
}

const char *smar_local_key_id(const smar_local_key *lk)
{
    return lk->key_id;
}

smar_time_ns smar_local_key_created(const smar_local_key *lk)
{
    return lk->created_at;
}

uint32_t smar_local_key_count(const smar_local_key *lk)
{
    return lk->count;
}

smar_time_ns smar_local_key_version_created(const smar_local_key *lk, uint32_t i)
{
    return lk->version_created[i];
}

smar_time_ns *smar_local_key_destroyed_times(smar_local_key *lk)
{
    return lk->version_destroyed;
}

smar_time_ns smar_local_key_version_destroyed(const smar_local_key *lk, uint32_t i)
{
    return lk->version_destroyed[i];
}

/* The material is wiped in place (the region is writable only for that); the number and
 * creation time stay, so versions keep their numbers. */
void smar_local_key_destroy(smar_local_key *lk, uint32_t i, smar_time_ns when)
{
    sodium_mprotect_readwrite(lk->keys);
    sodium_memzero(lk->keys + (size_t)i * SMAR_LOCAL_KEY_BYTES, SMAR_LOCAL_KEY_BYTES);
    sodium_mprotect_readonly(lk->keys);
    lk->version_destroyed[i] = when;
}

const uint8_t *smar_local_key_material(const smar_local_key *lk)
{
    return lk->keys;
}
