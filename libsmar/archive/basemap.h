/*
 * basemap.h - what an incremental writer knows of its parent archive, by secret id.
 *
 * A parent with export digests (format 2.2) is read LAZILY: its manifest records as
 * stored (not resolved) and its digests section are loaded; a secret whose export digest
 * the parent holds becomes a type 3 record without being parsed (smar_basemap_digest_hit,
 * smar_basemap_hit_ref), and the few others are resolved one by one, by id, through the
 * parent's reader when the writer asks (smar_basemap_find, under a mutex).
 *
 * A parent without digests is walked once, before the first secret (records resolved):
 * per secret, the place of the type 1 record a "same as in base" record would name, a
 * fingerprint of everything a type 3 record must not change (spec/FORMAT.md, section 26),
 * a keyed hash of each metadata member value of the referenced record (patches are what
 * differs), and every payload locator in the new archive's terms. Read-only afterwards.
 *
 * The new archive's base list is [parent] + the parent's list, so a locator the parent
 * stores with base field k (0 local) is base field k + 1 in the new archive, and a type 3
 * record of the parent naming its base j names base j + 1 of the new archive.
 */
#ifndef SMAR_BASEMAP_H
#define SMAR_BASEMAP_H

#include "digests.h"
#include "manifest.h"
#include "smar/reader.h"

typedef struct smar_base_version {
    char *id;
    bool has_payload;
    smar_locator payload; /* in the new archive's terms (base >= 1) */
} smar_base_version;

typedef struct smar_base_secret {
    char *id;
    bool absent;      /* lazy maps: the parent does not hold this id (looked up once) */
    uint8_t ref_base; /* the new archive's base index holding the type 1 record */
    uint32_t seq, offset, length;
    uint8_t fingerprint[32];
    size_t nmembers;
    uint8_t *member_hash; /* nmembers x 16 */
    bool has_payload;
    smar_locator payload;
    size_t nversions;
    smar_base_version *versions;
} smar_base_secret;

typedef struct smar_basemap smar_basemap;

/* Walk parent (unlocked, its bases attached) into a new map. */
int smar_basemap_build(smar_basemap **out, smar_reader *parent, smar_err *e);
void smar_basemap_free(smar_basemap *m);

/* The parent's entry for id, NULL when the parent does not hold it. Lazy maps resolve it
 * through the parent on first use (thread-safe); a failure there is kept for
 * smar_basemap_error and also gives NULL. */
const smar_base_secret *smar_basemap_find(smar_basemap *m, const char *id);

/* The first failure of a lazy resolve (its message in *e), or SMAR_OK. */
int smar_basemap_error(smar_basemap *m, smar_err *e);

/* ---- export digests (format 2.2) ----------------------------------------------------- */

/* Whether the parent has a digests table (the map is lazy). */
bool smar_basemap_has_digests(const smar_basemap *m);

/* The K_digest the new archive's table is keyed with and its key_base in the new archive's
 * terms (the parent's key kept: one hash pass serves the whole chain). Only with digests. */
const uint8_t *smar_basemap_digest_key(const smar_basemap *m, uint8_t *key_base);

/* The parent's record (manifest order) holding this digest, -1 when none. Thread-safe. */
int64_t smar_basemap_digest_hit(const smar_basemap *m, const uint8_t digest[SMAR_DIGEST_BYTES]);

/* retrieved_member of the parent's record i (its digests table). */
uint16_t smar_basemap_retrieved_member(const smar_basemap *m, size_t i);

/* The type 3 reference, in the new archive's terms, to what the parent's record i
 * resolves to, with retrieved_member := value (added or replaced; none when member is
 * SMAR_DIGEST_NO_MEMBER). ref->patches is allocated (free()); values point into the map
 * or value. */
int smar_basemap_hit_ref(const smar_basemap *m, size_t i, uint16_t member, smar_span value,
                         smar_ref *ref, smar_err *e);

/* The parent's records (manifest order) and record i resolved (smar_secret_free). Only
 * with digests; on the writer's thread once the workers are idle. */
size_t smar_basemap_records(const smar_basemap *m);
int smar_basemap_resolve(smar_basemap *m, size_t i, smar_secret **out, smar_err *e);

/* What a lazy resolve by id already learnt of record i: its version count and whether a
 * version has the parent's oldest or newest time. false: not resolved yet. */
bool smar_basemap_counted(const smar_basemap *m, size_t i, size_t *versions, bool *extreme);

/* The payload-hash key of the archive holding a locator of the map (base >= 1), or NULL
 * when that archive is not attached to the parent. */
const uint8_t *smar_basemap_payload_key(const smar_basemap *m, uint8_t base);

/* A record's fingerprint: every field but metadata member values and payload hashes. */
void smar_basemap_fingerprint(const smar_basemap *m, const smar_srec *rec, uint8_t out[32]);

/* The keyed 16-byte hash of a metadata member value. */
void smar_basemap_member_hash(const smar_basemap *m, smar_span value, uint8_t out[16]);

#endif
