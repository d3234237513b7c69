/*
 * split.h - a secret of an instance export, taken apart and put back together.
 *
 * The writer splits each secret object (and each of its versions) into its metadata
 * members and its payload members (the secret material, by secret type: spec/FORMAT.md,
 * "Payload fields"), keeping every member's exact JSON text. The reader puts them back
 * together. Unknown types keep every member not known to be metadata in the payload, so
 * a new kind of secret material is never listed by `ls`.
 */
#ifndef SMAR_SPLIT_H
#define SMAR_SPLIT_H

#include "crypto.h"
#include "internal.h"
#include "json.h"

typedef struct smar_split_version {
    char *id;
    int64_t created;
    smar_buf meta;    /* JSON object text */
    smar_buf payload; /* JSON object text; empty when the version carries no payload */
    uint8_t payload_hash[SMAR_HASH_BYTES]; /* see smar_split_hash_payloads() */
    bool encoded;                          /* stored/coding hold the payload record */
    uint8_t coding;                        /* SMAR_CODING_RAW or SMAR_CODING_ZSTD */
    smar_buf stored; /* the payload as its record stores it (smar_split_encode_payloads) */
    /* set by a writer's hook (smar_splitq_set_hook): the archive's base holds these bytes
     * for this version id, so payload_hash was not computed */
    bool in_base;
} smar_split_version;

typedef struct smar_split {
    char *id, *type, *name, *group;
    int64_t created, updated;
    size_t nlabels;
    char **labels;
    smar_buf meta;
    smar_buf payload;
    uint8_t payload_hash[SMAR_HASH_BYTES]; /* see smar_split_hash_payloads() */
    bool payload_in_base;                  /* as in_base, for the secret's own payload */
    bool had_versions; /* the object had a "versions" member (kept for exact round trips) */
    size_t nversions;
    size_t cap_versions;
    smar_split_version *versions; /* sorted oldest first (stable) */
    /* Format 2.2: set by a writer's scan hook (smar_splitq_set_scan) before the split;
     * smar_split_secret leaves it alone. */
    struct smar_split_digest {
        bool known; /* digest is the secret's export digest (else: none, zeros) */
        uint8_t digest[16];
        bool is_hit; /* the parent's record `hit` has this digest: the secret was
                      * not split, only id and retrieved are set */
        uint64_t hit;
        bool has_retrieved; /* retrieved[0..retrieved_len): the retrieved_at value token */
        uint8_t retrieved_len;
        char retrieved[64];
    } dg;
} smar_split;

/* Parse and check one secret object; out is reset first (its buffers are reused). */
int smar_split_secret(smar_split *out, const char *json, size_t len, smar_err *e);
void smar_split_free(smar_split *s);

/* Fill in the keyed hash of every non-empty payload of a split secret (key: the archive's
 * payload-hash subkey). Done where the secret was split -- on a worker thread when there
 * are several -- so that the writer's thread, which places secrets one at a time, never
 * reads a payload twice. */
void smar_split_hash_payloads(smar_split *s, const uint8_t key[SMAR_KEY_BYTES]);

/* Encode every version's payload as its record will store it (smar_payload_encode_with), on
 * the thread that split the secret, so that the writer's thread, which places secrets one
 * at a time, does not compress them. The secret-level payload is left to the writer: it
 * nearly always repeats the current version's, which is stored once. SMAR_OK or an error
 * in *e. */
struct ZSTD_CCtx_s;
int smar_split_encode_payloads(smar_split *s, struct ZSTD_CCtx_s *cctx, int level, smar_err *e);

/* Whether member `name` of a secret (or version) of `type` is payload. */
bool smar_is_payload_field(const char *type, smar_span key, bool is_version);

#endif
