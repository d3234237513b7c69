/*
 * keyring_internal.h - keyrings as the writer and reader see them: making and opening
 * key slots.
 *
 * A keyring is a root key (id + numbered versions) held by a key provider (the public
 * smar/provider.h). The archive format only stores, per key slot: provider id, key id, key
 * version and the wrapped DEK bytes; everything provider-specific is behind these calls,
 * so an HSM (PKCS#11) or a KMS (Key Protect's wrap/unwrap with aad) provider plugs in
 * without changing the format.
 *
 * The AAD handed to wrap/unwrap is the slot's binding to its archive (spec/FORMAT.md,
 * "Key slots"); providers that take AAD as strings (Key Protect) send its lowercase hex.
 */
#ifndef SMAR_KEYRING_INTERNAL_H
#define SMAR_KEYRING_INTERNAL_H

#include "internal.h"
#include "format.h"
#include "smar/keys.h"

/* The local provider's wrapped DEK: 24-byte nonce || 32-byte ciphertext || 16-byte tag. */
#define SMAR_LOCAL_WRAPPED_BYTES 72

/* The provider id to record in a slot made with this keyring (SMAR_PROVIDER_SLOT_*). */
uint8_t smar_keyring_provider_id(const smar_keyring *kr);

/* The version the next wrap will use, asked of the provider now: a slot's AAD binds the
 * version it records, so it is known before wrapping. The provider's status otherwise
 * (SMAR_E_UNAVAILABLE, SMAR_E_DENIED...), with its message in e. */
int smar_keyring_wrap_version(const smar_keyring *kr, uint32_t *version, smar_err *e);

/* Wrap dek with the keyring's current version. Writes the blob (<= SMAR_WRAPPED_MAX bytes)
 * to out and its length to *out_len, the version used to *version. Errors go to e, with
 * the provider's status; SMAR_E_UNSUPPORTED for a provider without a format-1 slot id. */
int smar_keyring_wrap(smar_keyring *kr, const uint8_t *aad, size_t aad_len,
                      const uint8_t dek[SMAR_DEK_BYTES], uint8_t out[SMAR_WRAPPED_MAX],
                      size_t *out_len, uint32_t *version, smar_err *e);

/* Unwrap a slot made with `version`. SMAR_E_NOTFOUND when the keyring does not hold that
 * version, SMAR_E_AUTH when the blob does not open (wrong key or altered slot/AAD),
 * SMAR_E_FORMAT when the blob has the wrong length; a provider's SMAR_E_DENIED and
 * SMAR_E_UNAVAILABLE as they are. dek is written only on success. */
int smar_keyring_unwrap(smar_keyring *kr, uint32_t version, const uint8_t *aad, size_t aad_len,
                        const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_DEK_BYTES],
                        smar_err *e);

/* Right after the wrap or rewrap that filled slot s (a format 2 slot, slots.h): when it
 * gave version 0 (kind "none") and the provider has version_text, ask it and record its
 * text as a version string (kind 2). SMAR_OK with s unchanged when there is nothing to
 * record; the provider's status otherwise, SMAR_E_INVALID for a text out of the slot
 * rules (a provider bug). */
struct smar_slot2;
int smar_keyring_record_version(smar_keyring *kr, struct smar_slot2 *s, smar_err *e);

/* Whether the keyring's provider can rewrap a blob on its side (a rewrap callback). */
bool smar_keyring_can_rewrap(const smar_keyring *kr);

/* Turn a blob made with `version` and old_aad into one made with the current version and
 * new_aad, without the DEK crossing this interface (smar_rewrap): outputs and errors as
 * for smar_keyring_wrap. SMAR_E_UNSUPPORTED when the provider cannot rewrap. */
int smar_keyring_rewrap(smar_keyring *kr, uint32_t version, const uint8_t *old_aad,
                        size_t old_aad_len, const uint8_t *wrapped, size_t wrapped_len,
                        const uint8_t *new_aad, size_t new_aad_len, uint8_t out[SMAR_WRAPPED_MAX],
                        size_t *out_len, uint32_t *new_version, smar_err *e);

/* Whether anyone may wrap to this keyring: its provider wraps to a public key (x25519), so
 * a key slot it opens says nothing about who made the archive (the reader then requires a
 * pinned producer). keyprov_x25519.c. */
bool smar_keyring_public_wrap(const smar_keyring *kr);

/* Sign msg with the producer key (Ed25519, detached). */
/* Whether sk holds a secret key (not only a public one): what signing needs. */
bool smar_signkey_can_sign(const smar_signkey *sk);
int smar_signkey_sign(const smar_signkey *sk, const uint8_t *msg, size_t len, uint8_t sig[64]);

#endif
