/*
 * basemap.h - what an incremental writer knows of its parent archive, by secret id.
 *
 * Built once, before the first secret, by walking the parent's manifest (records resolved):
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

#include "manifest.h"
#include "smar/reader.h"

typedef struct smar_base_version {
    char *id;
    bool has_payload;
    smar_locator payload; /* in the new archive's terms (base >= 1) */
} smar_base_version;

typedef struct smar_base_secret {
    char *id;
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

const smar_base_secret *smar_basemap_find(const smar_basemap *m, const char *id);

/* The payload-hash key of the archive holding a locator of the map (base >= 1), or NULL
 * when that archive is not attached to the parent. */
const uint8_t *smar_basemap_payload_key(const smar_basemap *m, uint8_t base);

/* A record's fingerprint: every field but metadata member values and payload hashes. */
void smar_basemap_fingerprint(const smar_basemap *m, const smar_srec *rec, uint8_t out[32]);

/* The keyed 16-byte hash of a metadata member value. */
void smar_basemap_member_hash(const smar_basemap *m, smar_span value, uint8_t out[16]);

#endif
