/*
 * header.h - the public header at the front of an archive and its key slots.
 *
 * The header says in clear only what choosing and auditing an archive needs: version,
 * archive id, times, suite, chunk size and the key slots. It is authenticated by a MAC
 * keyed from the DEK (which also commits to the DEK, something an AEAD tag alone does not).
 */
#ifndef SMAR_HEADER_H
#define SMAR_HEADER_H

#include "internal.h"
#include "format.h"

typedef struct smar_slot {
    uint8_t provider;
    uint8_t key_id_len;
    char key_id[SMAR_SLOT_KEY_ID_MAX + 1]; /* NUL-terminated copy */
    uint32_t key_version;
    uint16_t wrapped_len;
    uint8_t wrapped[SMAR_WRAPPED_MAX];
} smar_slot;

typedef struct smar_header {
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_len; /* whole header, MAC included */
    uint16_t suite;
    uint16_t compression;
    uint32_t chunk_size;
    uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES];
    int64_t created;
    int64_t snapshot;
    uint16_t slot_count;
    smar_slot slots[SMAR_SLOTS_MAX];
    uint8_t mac[SMAR_HEADER_MAC_BYTES];
} smar_header;

/* Size of the encoded header with its MAC (sets h->header_len as a side effect). */
uint32_t smar_header_layout(smar_header *h);

/* Encode the header, then its MAC keyed with mac_key, into out (appended). */
int smar_header_encode(smar_header *h, const uint8_t mac_key[32], smar_buf *out);

/* Check the fixed part's magic, version and declared length; sets *len. Needs
 * SMAR_HEADER_FIXED_BYTES bytes. */
int smar_header_peek(const uint8_t *p, size_t n, uint32_t *len, smar_err *e);

/* Parse a whole header of h->header_len bytes (structure and limits only, no MAC check). */
int smar_header_parse(smar_header *h, const uint8_t *p, size_t n, smar_err *e);

/* Verify the header MAC over the encoded bytes p[0..n) (n = header_len). */
bool smar_header_mac_ok(const uint8_t *p, size_t n, const uint8_t mac_key[32]);

/* The AAD binding a key slot to its archive: label || magic || major || archive id ||
 * provider || key id length || key id || key version. Returns its length. */
#define SMAR_SLOT_AAD_MAX (SMAR_LABEL_BYTES + SMAR_MAGIC_BYTES + 2 + 16 + 1 + 1 + 64 + 4)
size_t smar_slot_aad(uint8_t out[SMAR_SLOT_AAD_MAX], const smar_header *h, const smar_slot *s);

#endif
