/*
 * smar/provider.h - key providers: where a root key lives and who wraps data keys with it.
 *
 * Every archive has one random data key (DEK, SMAR_PROVIDER_DEK_BYTES bytes). Each key slot
 * of the archive holds that DEK wrapped by a root key. A key provider is the code that owns
 * the root key (or a handle to it: an HSM session, a KMS client) and wraps and unwraps
 * DEKs; the root key's material never crosses this interface, only the DEK does. libsmar
 * ships "local" (keyring files, smar/keys.h), "x25519" (recipients), "pkcs11" (HSMs) and
 * "keyprotect" (Key Protect / Hyper Protect Crypto Services); an application adds another
 * by filling a smar_provider with its callbacks and making a keyring from it:
 *
 *   static const smar_provider kms = {
 *       .version = SMAR_PROVIDER_VERSION, .name = "kms", .slot_id = MY_SLOT_ID,
 *       .key_id = kms_key_id, .current_version = kms_current_version,
 *       .wrap = kms_wrap, .unwrap = kms_unwrap, .free = kms_free,
 *   };
 *   smar_keyring *kr; smar_keyring_new(&kr);
 *   if (smar_keyring_from_provider(kr, &kms, client) != SMAR_OK) ...  // client: your state
 *   // then use kr wherever a keyring is taken: smar_writer_add_key, smar_reader_unlock.
 *
 * Callbacks return SMAR_OK or a status that says what went wrong, never a catch-all:
 *   SMAR_E_NOTFOUND     no such key, or no such version of it (the service said so)
 *   SMAR_E_DENIED       the service refused: the caller lacks the permission
 *   SMAR_E_UNAVAILABLE  network, service or device down, throttled, timed out: try again
 *   SMAR_E_AUTH         (unwrap) the blob does not open: wrong key material, or altered
 *   SMAR_E_FORMAT       (unwrap) the blob is not one this provider makes (length, layout)
 *   SMAR_E_NOMEM        out of memory
 *   SMAR_E_UNSUPPORTED  (rewrap) not possible for these arguments
 * Any other value is reported to the caller as SMAR_E_INVALID (a provider bug). Callers
 * see the status unchanged: the writer's open calls fail with it, and smar_reader_unlock
 * returns DENIED and UNAVAILABLE as they are (the archive is not declared damaged and
 * unlock may be tried again); see smar_reader_unlock for NOTFOUND (SMAR_E_KEY) and AUTH.
 *
 * Messages: every callback gets msg, a buffer of msg_len bytes (at least 128) holding an
 * empty string. On failure it may write a short NUL-terminated English explanation there
 * ("key 'x' is disabled", "HTTP 503 from kms.example"); libsmar adds the key id and makes
 * it the handle's error message. It must never contain key material, a DEK or a token.
 *
 * Ownership and threading: the keyring copies the smar_provider struct (it may live on the
 * stack) and, once smar_keyring_from_provider succeeds, owns ctx: free(ctx) is called from
 * smar_keyring_free and nowhere else. libsmar calls the callbacks of one keyring only from
 * the thread that called into libsmar with that keyring (or a handle using it), one call
 * at a time, and never after free. State shared between several ctxs is the application's
 * to lock. Callbacks may block (network); they must not call back into libsmar with the
 * same keyring.
 */
#ifndef SMAR_PROVIDER_H
#define SMAR_PROVIDER_H

#include "smar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The smar_provider layout this header describes: the value of its version field. */
#define SMAR_PROVIDER_VERSION 1

/** Bytes of a data key (DEK). */
#define SMAR_PROVIDER_DEK_BYTES 32
/** Most bytes a wrapped DEK may take in an archive libsmar writes. Format 2 itself allows
 *  any length that fits the slot area (65536 bytes for all slots, spec/FORMAT.md §15);
 *  libsmar bounds a blob it writes at 512 and reads any the format allows. */
#define SMAR_PROVIDER_WRAPPED_MAX 512
/** Longest key id of a provider's keyring (bytes): what a format 2 key slot records. The
 *  local provider's (keyring files) stay within SMAR_KEY_ID_MAX (smar/keys.h). */
#define SMAR_PROVIDER_KEY_ID_MAX 255
/** Smallest msg buffer a callback gets. */
#define SMAR_PROVIDER_MSG_MIN 128

/**
 * Slot provider ids (spec/FORMAT.md §5.2, "Provider ids"): the one byte a key slot records
 * to say which provider wrapped it. Assigned: 1 "local", 2 "x25519", 3 "pkcs11", 4 "kms"
 * (libsmar's "keyprotect" provider); 5..255 are not. SMAR_PROVIDER_SLOT_NONE (0) says the
 * provider has no id: its keyring can do everything but write archives, which fails with
 * SMAR_E_UNSUPPORTED. A provider outside libsmar may use an unassigned id within its own
 * deployment, knowing that a reader only hands a slot to a keyring whose provider has the
 * same id and key id, that readers which do not know the id skip its slots, and that a
 * later assignment of the same id to another provider would make the two confuse each
 * other's slots.
 */
#define SMAR_PROVIDER_SLOT_NONE  0
#define SMAR_PROVIDER_SLOT_LOCAL 1 /**< libsmar's "local" provider; no other may use it */

/**
 * A key provider: its name, its format-1 slot id and its callbacks, each called with the
 * ctx given to smar_keyring_from_provider. Fill it with designated initialisers and set
 * version to SMAR_PROVIDER_VERSION; later versions only append members.
 */
typedef struct smar_provider {
    int version; /**< SMAR_PROVIDER_VERSION */
    /** Short name, 1..32 printable ASCII bytes without spaces ("local", "keyprotect"):
     *  what smar_keyring_provider() returns. Copied. */
    const char *name;
    /** The id format-1 key slots record (SMAR_PROVIDER_SLOT_*); see above. */
    uint8_t slot_id;

    /**
     * The root key's id as the provider names it (what an archive's key slot records):
     * 1..SMAR_PROVIDER_KEY_ID_MAX bytes of valid UTF-8 without control bytes (none below
     * 0x20, no 0x7F), the rule format 2 applies to a slot's key id; PKCS#11 URIs and KMS
     * key names fit. (Local keyrings keep the stricter SMAR_KEY_ID_MAX printable ASCII
     * rule of smar/keys.h.) *key_id is borrowed from ctx and must stay valid until free.
     * Asked once, by smar_keyring_from_provider. Required.
     */
    int (*key_id)(void *ctx, const char **key_id, char *msg, size_t msg_len);

    /**
     * The version wrap will use now: >= 1, or 0 when the provider keeps the version inside
     * its blob or has none (the slot records version kind 0, "none"; unwrap then gets 0).
     * Asked before every wrap, because an archive's slot binds the version it records (its
     * AAD holds it). Required.
     */
    int (*current_version)(void *ctx, uint32_t *version, char *msg, size_t msg_len);

    /**
     * Wrap dek for a key slot, binding aad (aad_len bytes: the slot's binding to its
     * archive; a service that takes text sends its lowercase hex). Write the blob, 1 to
     * out_cap (SMAR_PROVIDER_WRAPPED_MAX) bytes, to out and its length to *out_len, and the
     * version used to *version: it must be the version current_version gave just before,
     * else the archive is not written (a rotation raced with it: try again). The blob
     * must not open without aad. Required.
     */
    int (*wrap)(void *ctx, const uint8_t *aad, size_t aad_len,
                const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                size_t *out_len, uint32_t *version, char *msg, size_t msg_len);

    /**
     * Open a blob wrap made with key version `version` and the same aad, writing the DEK
     * to dek only on success. wrapped comes from a file: check its length and layout
     * before using it (SMAR_E_FORMAT). SMAR_E_NOTFOUND when the version is not held (or
     * was destroyed), SMAR_E_AUTH when the blob does not open. Required.
     */
    int (*unwrap)(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                  const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_PROVIDER_DEK_BYTES],
                  char *msg, size_t msg_len);

    /**
     * Optional (NULL when the provider cannot): turn a blob made with `version` and
     * old_aad into one made with the current version and new_aad without handing the DEK
     * out (a KMS's rewrap), outputs as for wrap. SMAR_E_UNSUPPORTED when the service
     * cannot change the aad. smar_rewrap (smar/rewrap.h) calls it for a slot of this
     * provider instead of unwrap + wrap. A slot of version kind 0 keeps its aad across a
     * rewrap (old_aad equals new_aad), so a service that cannot change an aad can still
     * rewrap it to its newest key version.
     */
    int (*rewrap)(void *ctx, uint32_t version, const uint8_t *old_aad, size_t old_aad_len,
                  const uint8_t *wrapped, size_t wrapped_len, const uint8_t *new_aad,
                  size_t new_aad_len, uint8_t *out, size_t out_cap, size_t *out_len,
                  uint32_t *new_version, char *msg, size_t msg_len);

    /** Release ctx (close sessions, wipe what it holds). Called once, by smar_keyring_free.
     *  Optional (NULL: nothing to release). */
    void (*free)(void *ctx);
} smar_provider;

/* smar_keyring_from_provider() is declared in smar/keys.h, with the other keyring calls. */

#ifdef __cplusplus
}
#endif
#endif
