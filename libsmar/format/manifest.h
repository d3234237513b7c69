/*
 * manifest.h - secret records: what the manifest section holds for each secret.
 *
 * A record is binary with explicit lengths (spec/FORMAT.md, "Manifest records"): the
 * secret's identifying fields decoded for search, its metadata and each version's metadata
 * as the exact JSON text of the export, and for every payload a locator into the payload
 * section with its length and keyed hash. Records follow each other in the manifest
 * section's byte stream, each behind a u32 length, and may span chunks.
 */
#ifndef SMAR_MANIFEST_H
#define SMAR_MANIFEST_H

#include "internal.h"
#include "format.h"
#include "json.h"        /* smar_span */
#include "smar/reader.h" /* struct smar_secret and smar_version are defined here */

/* Where a record lives in a section's byte stream. */
typedef struct smar_locator {
    uint32_t seq;    /* chunk number within the section */
    uint32_t offset; /* byte offset in that chunk's plaintext */
    uint32_t length; /* stored bytes; may run on into the following chunks */
    uint8_t hash[SMAR_HASH_BYTES];
    /* Payload locators of format 2: how the stored bytes code the record and the record's
     * own size (format 1: always raw, plain_len == length). */
    uint8_t coding; /* enum smar_payload_coding */
    uint32_t plain_len;
    /* Format 2.1 (incremental archives): 0, the payload is in this archive's own payload
     * stream; k > 0, it is in base k - 1's (an external locator, present = 2), at seq and
     * offset of that base's stream, and hash is keyed with that base's K_payload. */
    uint8_t base;
} smar_locator;

/* A stored payload record: at most ZSTD_COMPRESSBOUND(SMAR_MAX_PAYLOAD_BYTES) bytes. */
/* (SMAR_MAX_PAYLOAD_BYTES is over 128 KiB: the bound is n + n / 256) */
#define SMAR_PAYLOAD_STORED_MAX (SMAR_MAX_PAYLOAD_BYTES + (SMAR_MAX_PAYLOAD_BYTES >> 8))

/* A record being written (pointers borrowed from the writer's buffers). */
typedef struct smar_vrec {
    smar_span id;
    int64_t created;
    bool has_payload;
    smar_locator payload;
    smar_span meta;
} smar_vrec;

/* Record types: 1 a secret (above), 3 "same as in base" (format 2.1, incremental). */
#define SMAR_RECORD_SAME_AS_BASE 3
#define SMAR_LOCATOR_EXTERNAL    2 /* locator `present` value of an external payload */
#define SMAR_PATCHES_MAX         65535

/* One metadata member replaced: member index in the referenced record's metadata object,
 * the member's new JSON value text. */
typedef struct smar_patch {
    uint16_t member;
    smar_span value;
} smar_patch;

/* A type 3 record: the type 1 record at (seq, offset, length) of base `base`'s manifest,
 * with these metadata members replaced (member indexes strictly increasing). */
typedef struct smar_ref {
    uint8_t base;
    uint32_t seq, offset, length;
    size_t npatches;
    smar_patch *patches; /* decode: allocated, values pointing into the body */
} smar_ref;

/* Append a type 3 record behind its u32 length. */
int smar_ref_encode(const smar_ref *ref, smar_buf *out, smar_err *e);

/* Decode a type 3 body (without its length prefix). nbases: the archive's base count;
 * a base index not below it, a zero length or unordered patches are SMAR_E_FORMAT. Free
 * ref->patches with free(). */
int smar_ref_decode(smar_ref *ref, const uint8_t *body, size_t n, unsigned nbases, smar_err *e);

/* The record type of a body (its first byte), 0 for an empty one. */
uint8_t smar_record_type(const uint8_t *body, size_t n);

/* The metadata object text `meta` with the patches applied, into out (reset first).
 * SMAR_E_FORMAT when a member index is not below the object's member count or a value is
 * not one JSON value. */
int smar_meta_patch(smar_span meta, const smar_patch *patches, size_t npatches, smar_buf *out,
                    smar_err *e);

/* Record flags. */
#define SMAR_RECORD_HAS_VERSIONS 1u /* the export's secret had a "versions" member */

typedef struct smar_srec {
    uint8_t flags;
    smar_span id, type, name, group;
    int64_t created, updated;
    size_t nlabels;
    const smar_span *labels;
    smar_span meta;
    bool has_payload;
    smar_locator payload;
    size_t nversions;
    const smar_vrec *versions;
} smar_srec;

/* Secret and version ids: 1..SMAR_MAX_ID_BYTES bytes of printable ASCII without spaces.
 * The writer refuses others and the reader checks again. */
bool smar_id_is_valid(const char *s, size_t n);

/* Append the record, behind its u32 length, to out (format 1; _format: either). Locators
 * with base > 0 are written external (present = 2; format 2 only). */
int smar_record_encode(const smar_srec *r, smar_buf *out, smar_err *e);
int smar_record_encode_format(const smar_srec *r, int format, smar_buf *out, smar_err *e);

/* The decoded, owned form handed out by the reader (opaque in the public API). */
/* What the accessors learnt of a stored JSON text, so that each is checked once per record
 * however often it is used (a restore asks for a version's metadata three times). */
typedef enum smar_meta_check {
    SMAR_META_UNCHECKED = 0,
    SMAR_META_OK,
    SMAR_META_BAD
} smar_meta_check;

struct smar_version {
    const char *id;
    int64_t created;
    bool has_payload;
    smar_locator payload;
    const char *meta;
    size_t meta_len;
    smar_meta_check meta_check; /* a cache the const accessors fill in (records are per handle) */
    int8_t available;           /* 0: not read yet; else its "payload_available" + 2 */
};

/* raw and arena hold the secret's metadata: smar_secret_free wipes both. */
struct smar_secret {
    uint8_t format;      /* the archive's major version: how raw is decoded again (dup) */
    uint8_t nbases;      /* the archive's base count: external locators below it are valid */
    uint8_t stored_type; /* 1, or 3: resolved from a "same as in base" record */
    /* stored_type 3: the referenced type 1 record (base index of the archive's list, its
     * place) and its metadata text before the patches (owned; wiped on free) */
    uint8_t ref_base;
    smar_locator ref_where;
    char *ref_meta;
    size_t ref_meta_len;
    uint8_t flags;
    uint8_t *raw; /* the record body, kept for smar_secret_dup */
    size_t raw_len;
    char *arena;                /* NUL-terminated copies of every string */
    smar_meta_check meta_check; /* as for versions */
    size_t arena_used;          /* bytes of arena written: what smar_secret_free wipes */
    const char *id, *type, *name, *group;
    int64_t created, updated;
    size_t nlabels;
    const char **labels;
    const char *meta;
    size_t meta_len;
    bool has_payload;
    smar_locator payload;
    size_t nversions;
    struct smar_version *versions;
    smar_locator where; /* the record's own place in the manifest (no hash) */
};

/* A decoded record as a record to encode: spans into s; vr and labels have room for its
 * versions and labels. */
void smar_record_view(const smar_secret *s, smar_srec *rec, smar_vrec *vr, smar_span *labels);

/* Decode a record body (without its length prefix) into a new secret. The metadata JSON
 * texts are not checked here but by their accessors, where they are used. */
int smar_record_decode(smar_secret **out, const uint8_t *body, size_t n, smar_err *e);
int smar_record_decode_format(smar_secret **out, int format, const uint8_t *body, size_t n,
                              smar_err *e);
/* The same for an archive with nbases bases (format 2.1): external locators allowed. */
int smar_record_decode_bases(smar_secret **out, int format, unsigned nbases, const uint8_t *body,
                             size_t n, smar_err *e);

#endif
