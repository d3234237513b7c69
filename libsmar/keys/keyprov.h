/*
 * keyprov.h - the key provider interface behind a smar_keyring, and the one provider v1
 * ships: "local", root key versions held in locked memory and saved in a keyring file.
 *
 * A keyring (keyring.c) owns what every provider has: the key id, the list of versions
 * (1..N, with creation times) and the error record. A provider owns the key material, or a
 * handle to wherever it lives (an HSM session, a KMS client), and does the wrap/unwrap
 * itself; the DEK crosses the interface, root key material never does. Adding an HSM or
 * KMS provider means a new ops table and a new provider id, not a new archive format.
 */
#ifndef SMAR_KEYPROV_H
#define SMAR_KEYPROV_H

#include "keyring_internal.h"

struct smar_key_provider_ops {
    const char *name; /* as in keyring files and smar_keyring_provider(): "local" */
    uint8_t id;       /* SMAR_PROVIDER_* stored in key slots */
    /* Wrap dek with `version` (which has_version() accepts). Blob <= SMAR_WRAPPED_MAX. */
    int (*wrap)(void *state, uint32_t version, const uint8_t *aad, size_t aad_len,
                const uint8_t dek[SMAR_DEK_BYTES], uint8_t out[SMAR_WRAPPED_MAX], size_t *out_len,
                smar_err *e);
    /* Same contract as smar_keyring_unwrap(): FORMAT, NOTFOUND, AUTH; dek only on success. */
    int (*unwrap)(void *state, uint32_t version, const uint8_t *aad, size_t aad_len,
                  const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[SMAR_DEK_BYTES],
                  smar_err *e);
    bool (*has_version)(const void *state, uint32_t version);
    /* Rotation: create version N+1, where N is the newest the provider holds. */
    int (*add_version)(void *state, smar_err *e);
    void (*free)(void *state);
};

extern const struct smar_key_provider_ops smar_keyprov_local_ops;

/* ---- local provider: access to its material for the keyring file code --------------- */

#define SMAR_LOCAL_KEY_BYTES 32

/* New local state holding `count` versions (1..count) whose SMAR_LOCAL_KEY_BYTES-byte keys
 * are to be filled in by the caller, contiguously in version order, at *material (locked,
 * writable memory). Call smar_keyprov_local_seal() once they are in place. */
int smar_keyprov_local_create(void **state, uint32_t count, uint8_t **material, smar_err *e);
/* Make the material read-only from now on (until the state is freed or grows). */
void smar_keyprov_local_seal(void *state);
/* The material (count * SMAR_LOCAL_KEY_BYTES bytes, version order), for saving. */
const uint8_t *smar_keyprov_local_material(const void *state, uint32_t *count);

#endif
