/*
 * keyprov.h - inside the keys layer: what the generic keyring (keyring.c), the local
 * provider (keyprov_local.c) and the local keyring's life cycle and file format
 * (keyring_file.c) share.
 *
 * A keyring (keyring.c) is a handle around any smar_provider (smar/provider.h): it keeps
 * the provider, its ctx, the key id and the error record, and checks every answer the
 * provider gives. The "local" provider is one smar_provider among others; what only local
 * keys have - generation, rotation, a version list with creation times, a file - is in
 * keyring_file.c, on top of the calls below.
 */
#ifndef SMAR_KEYPROV_H
#define SMAR_KEYPROV_H

#include "keyring_internal.h"

/* ---- for every provider ------------------------------------------------------------- */

/* Write a provider callback's message (printf-style) into msg and return status: the one
 * way the providers here fail a callback (smar/provider.h, "Messages"). */
__attribute__((format(printf, 4, 5))) int smar_provider_say(char *msg, size_t msg_len, int status,
                                                            const char *fmt, ...);

/* ---- the local provider (keyprov_local.c) ---------------------------------------------- */

#define SMAR_LOCAL_KEY_BYTES 32

/* The local provider: its ctx is a smar_local_key. */
extern const smar_provider smar_provider_local;

/* A local root key: id, versions 1..count with their creation times, and each version's
 * SMAR_LOCAL_KEY_BYTES of key material in one guarded, locked allocation. */
typedef struct smar_local_key smar_local_key;

/* A new local key holding `count` versions whose keys are to be filled in by the caller,
 * contiguously in version order, at *material (locked, writable memory), and their
 * creation times at *created (count entries). Call smar_local_key_seal() once they are in
 * place. key_id must be valid (smar_key_id_valid). */
int smar_local_key_new(smar_local_key **out, const char *key_id, smar_time_ns created_at,
                       uint32_t count, uint8_t **material, smar_time_ns **created, smar_err *e);
/* Make the material read-only from now on (until the key is freed or grows). */
void smar_local_key_seal(smar_local_key *lk);
/* Add version count + 1 with fresh random material, made at `now`. */
int smar_local_key_add_version(smar_local_key *lk, smar_time_ns now, smar_err *e);
void smar_local_key_free(smar_local_key *lk);

/* Read access, for the keyring's version list and for saving. */
const char *smar_local_key_id(const smar_local_key *lk);
smar_time_ns smar_local_key_created(const smar_local_key *lk);
uint32_t smar_local_key_count(const smar_local_key *lk);
/* Version i + 1's creation time (i < count). */
smar_time_ns smar_local_key_version_created(const smar_local_key *lk, uint32_t i);
/* The destroyed times, writable, for the loader (before smar_local_key_seal). */
smar_time_ns *smar_local_key_destroyed_times(smar_local_key *lk);
/* When version i + 1 was destroyed, or SMAR_TIME_NONE (i < count). */
smar_time_ns smar_local_key_version_destroyed(const smar_local_key *lk, uint32_t i);
/* Destroy version i + 1 (i < count): wipe its material, record when. Unwrap then gives
 * SMAR_E_NOTFOUND ("was destroyed"). The caller keeps the current version alive. */
void smar_local_key_destroy(smar_local_key *lk, uint32_t i, smar_time_ns when);
/* The material: count * SMAR_LOCAL_KEY_BYTES bytes, version order (destroyed: zeros). */
const uint8_t *smar_local_key_material(const smar_local_key *lk);

/* ---- the generic keyring, for keyring_file.c (keyring.c) -------------------------------- */

/* The id rule of local keyrings and recipient files: printable ASCII without spaces,
 * 1..SMAR_KEY_ID_MAX bytes. */
bool smar_key_id_valid(const char *id);

/* The id rule of every other provider (smar_keyring_from_provider): 1..
 * SMAR_PROVIDER_KEY_ID_MAX bytes of valid UTF-8 without control bytes (below 0x20, 0x7F),
 * what a format 2 key slot records (slots.c applies the same rule when parsing). */
bool smar_provider_key_id_valid(const char *id);

/* The keyring's error record (writable through a const handle). */
smar_err *smar_keyring_err(const smar_keyring *kr);

/* SMAR_E_INVALID (recorded) when the keyring already holds a key / holds none. */
int smar_keyring_require_empty(const smar_keyring *kr);
int smar_keyring_require_key(const smar_keyring *kr, smar_err *e);

/* Make an empty keyring hold a local key; it takes lk over. */
void smar_keyring_install_local(smar_keyring *kr, smar_local_key *lk);

/* The keyring's local key, or NULL when it holds none or another provider's. */
smar_local_key *smar_keyring_local_key(const smar_keyring *kr);

/* The ctx of the keyring's provider when that provider is p (recognised by its wrap
 * callback, as a copy of p's table is p), else NULL. */
void *smar_keyring_provider_ctx(const smar_keyring *kr, const smar_provider *p);

#endif
