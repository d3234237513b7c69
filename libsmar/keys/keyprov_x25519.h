/*
 * keyprov_x25519.h - inside the keys layer: the "x25519" public-key recipient provider
 * (keyprov_x25519.c) and what its key files (recipient_file.c) need of it.
 *
 * An x25519 key is a key id and an X25519 key pair. An identity holds both halves (the
 * secret one in guarded, locked, read-only memory) and wraps and unwraps; a recipient
 * holds the public half only and can only wrap: whoever has the recipient file can make a
 * key slot, which is why a reader opened through such a slot must pin the producer.
 */
#ifndef SMAR_KEYPROV_X25519_H
#define SMAR_KEYPROV_X25519_H

#include "keyprov.h"

/* Slot provider id of format 2 (f2-design §8). */
#define SMAR_PROVIDER_SLOT_X25519 2
/* X25519 public and secret key bytes. */
#define SMAR_X25519_KEY_BYTES 32
/* eph_pk(32) || XChaCha20-Poly1305(DEK)(32) || tag(16). */
#define SMAR_X25519_WRAPPED_BYTES 80
/* The key version an x25519 slot records: 0, "none" (there is only one version). */
#define SMAR_X25519_VERSION 0

extern const smar_provider smar_provider_x25519;

typedef struct smar_x25519_key smar_x25519_key;

/* A new key: id key_id (valid, smar_key_id_valid) and public key pk. With secret non-NULL
 * an identity: *secret then points at SMAR_X25519_KEY_BYTES of locked, writable memory for
 * the caller to fill, then to pass to smar_x25519_key_seal. SMAR_E_FORMAT when pk is a
 * low-order point (no key pair makes one: the file was made up or altered). */
int smar_x25519_key_new(smar_x25519_key **out, const char *key_id, const uint8_t *pk,
                        smar_time_ns created_at, uint8_t **secret, smar_err *e);
/* Check that the secret filled in belongs to the public key (SMAR_E_FORMAT otherwise),
 * then make it read-only. */
int smar_x25519_key_seal(smar_x25519_key *xk, smar_err *e);
/* A fresh identity; key_id NULL: "x25519-" and the first 8 bytes of the public key in hex. */
int smar_x25519_key_generate(smar_x25519_key **out, const char *key_id, smar_err *e);
void smar_x25519_key_free(smar_x25519_key *xk);

const char *smar_x25519_key_id(const smar_x25519_key *xk);
const uint8_t *smar_x25519_key_public(const smar_x25519_key *xk);
/* The secret key (read-only locked memory), NULL for a recipient. */
const uint8_t *smar_x25519_key_secret(const smar_x25519_key *xk);
smar_time_ns smar_x25519_key_created(const smar_x25519_key *xk);

/* The keyring's x25519 key, or NULL when it holds another provider's key (or none). */
smar_x25519_key *smar_keyring_x25519_key(const smar_keyring *kr);
/* Make an empty keyring hold xk; it takes xk over on SMAR_OK (freed by the caller else). */
int smar_keyring_install_x25519(smar_keyring *kr, smar_x25519_key *xk);

#endif
