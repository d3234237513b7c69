/*
 * slots.h - the key slot area of format 2: every wrapped copy of the DEK, at the end of
 * the file between the chunk table and the trailer.
 *
 * Slots are generic over providers: each names its provider, provider-defined flags, a key
 * id, a key version of one of three kinds and a provider-specific wrapped blob, and is
 * self-delimiting, so a reader skips slots of providers (or flags) it does not know. A
 * slot's AAD is its own encoding up to its key id (not the version), behind a label, the
 * magic, the major version and the archive id: a blob cannot be moved to another key's
 * slot or archive; the root MAC covers the version bytes.
 */
#ifndef SMAR_SLOTS_H
#define SMAR_SLOTS_H

#include "internal.h"
#include "format.h"

typedef struct smar_slot2 {
    uint8_t provider; /* 1 local, 2 x25519, 3 pkcs11, 4 kms; others skipped by readers */
    uint8_t flags;    /* provider-defined */
    uint8_t key_id_len;
    char key_id[SMAR_KEY_ID2_MAX + 1]; /* NUL-terminated copy */
    uint8_t version_kind;              /* enum smar_version_kind */
    uint32_t version_number;           /* kind NUMBER */
    uint8_t version_string_len;        /* kind STRING */
    char version_string[SMAR_VERSION_STR_MAX + 1];
    uint32_t wrapped_len;
    const uint8_t *wrapped; /* borrowed: into the parsed area, or the writer's blob */
} smar_slot2;

/* label || magic || u16 2 || archive id || provider || flags || key id (u8 length). */
#define SMAR_SLOT2_AAD_MAX                                                                         \
    (SMAR_LABEL_BYTES + SMAR_MAGIC_BYTES + 2 + SMAR_ARCHIVE_ID_BYTES + 3 + SMAR_KEY_ID2_MAX)

/* Key ids and version strings: 1..255 bytes of UTF-8 without control characters. */
bool smar_slot_text_ok(const char *s, size_t n);

/* Append the slot area (u16 count || u16 0 || slots) for slots[0..n). SMAR_E_LIMIT when a
 * field or the whole is out of the format's bounds, SMAR_E_NOMEM. */
int smar_slot_area_encode(const smar_slot2 *slots, unsigned n, smar_buf *out, smar_err *e);

/* Parse an area of exactly n bytes into slots[SMAR_SLOTS2_MAX]; wrapped blobs point into
 * p, which must outlive the slots. */
int smar_slot_area_parse(smar_slot2 *slots, unsigned *count, const uint8_t *p, size_t n,
                         smar_err *e);

/* The AAD of a slot of the archive archive_id; returns its length. */
size_t smar_slot2_aad(uint8_t out[SMAR_SLOT2_AAD_MAX], const uint8_t archive_id[16],
                      const smar_slot2 *s);

#endif
