/*
 * digests.h - format 2.2's digests section (spec/FORMAT.md section 26.6): per manifest
 * record, the keyed digest of the secret's export text (its retrieved_at value left out)
 * and where retrieved_at is among the record's metadata members. An incremental writer
 * keeps them so that the next incremental can skip unchanged secrets without parsing them.
 */
#ifndef SMAR_DIGESTS_H
#define SMAR_DIGESTS_H

#include "internal.h"
#include "json.h"

#define SMAR_DIGEST_BYTES         16
#define SMAR_DIGESTS_FORMAT       1
#define SMAR_DIGESTS_HEADER_BYTES 12      /* format u8, key_base u8, reserved u16, count u64 */
#define SMAR_DIGESTS_KEY_OWN      0xFFu   /* key_base: this archive's K_digest */
#define SMAR_DIGEST_NO_MEMBER     0xFFFFu /* retrieved_member: no top-level retrieved_at */
#define SMAR_DIGEST_LABEL         "smar/v2 exp-dgst"

/* What the top-level scan found of one secret object's text (libsmar/export/toplevel.c). */
typedef struct smar_toplevel {
    smar_span id;         /* the id's characters (no escapes), between its quotes */
    bool has_retrieved;   /* a top-level "retrieved_at" member */
    size_t retrieved_at;  /* offset of its value token (with its quotes) */
    size_t retrieved_len; /* the token's length */
} smar_toplevel;

/* The export digest of json[0..len) (section 26.6): BLAKE2b-128 keyed with K_digest over
 * LABEL || u64 cut || u64 kept || the text without the retrieved_at value bytes, where cut
 * is the value's offset (UINT64_MAX: none) and kept the number of bytes hashed. */
void smar_export_digest(uint8_t out[SMAR_DIGEST_BYTES], const uint8_t key[32], const char *json,
                        size_t len, const smar_toplevel *t);

/* The section's stream: header, then count digests, then count u16 members (a column
 * layout, so that compression finds the members' repetition). */
int smar_digests_encode(uint8_t key_base, uint64_t count, const uint8_t *digests,
                        const uint16_t *members, smar_buf *out);

typedef struct smar_digests_view {
    uint8_t key_base;
    uint64_t count;
    const uint8_t *digests; /* count x 16 */
    const uint8_t *members; /* count x u16, little endian */
} smar_digests_view;

/* Parse a whole stream (exactly consumed, count == expect): SMAR_E_FORMAT otherwise. */
int smar_digests_parse(const uint8_t *p, size_t n, uint64_t expect, smar_digests_view *v,
                       smar_err *e);

uint16_t smar_digests_member(const smar_digests_view *v, uint64_t i);

#endif
