/*
 * vectors_sr2.h - an independent reader of archive format 2, written from spec/FORMAT.md
 * alone (libsodium, zstd and cJSON only; none of libsmar's format code), for the test
 * vectors of spec/vectors/v2 (test_vectors_v2.c). It follows the spec's steps: trailer,
 * header, chunk table, slot area (§9, §5, §8, §5.2), keyless verification (§17), unlock
 * through a local or x25519 slot (§5.2, §4.3, §4.2, §10), every chunk (§6), the sections
 * (§11) and the rendering of every secret (§12); for format 2.1 (§26) the header's base
 * list, attaching bases, type 3 records with their patches and external locators. Every failure is
 * -1 with the reason in r->why: the vectors only ask whether a stage fails, libsmar gives the
 * status. Buffers, little-endian fields and the keyring file's key come from vectors_common.h,
 * which holds no format logic.
 */
#ifndef SMAR_VECTORS_SR2_H
#define SMAR_VECTORS_SR2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vectors_common.h"

/* ---- the reader --------------------------------------------------------------------------- */

#define SR2_TRAILER    216
#define SR2_MAX_SLOTS  32
#define SR2_INDEX_FULL 2340

extern const uint8_t SR2_MAGIC[8];
extern const char *const SR2_SECTION_NAME[6];
#define SR2_SECTIONS 6 /* 1..5: payload, manifest, index, meta, digests (2.2) */

typedef struct sr2_chunk {
    uint64_t offset;
    uint32_t len; /* stored bytes */
    uint8_t section, flags;
    uint32_t seq;
    const uint8_t *hash, *bytes;
    uint64_t sofs;     /* where its decoded body starts in its section's stream */
    size_t plen;       /* decoded body length */
    size_t sealed_len; /* |P| */
    uint32_t body_len; /* stored body bytes (a zstd frame for manifest and meta) */
    bool opened;
} sr2_chunk;

typedef struct sr2_slot {
    uint8_t provider, flags, version_kind;
    const uint8_t *kid; /* key_id_len bytes */
    uint8_t kid_len;
    uint32_t version;     /* kind 1 */
    const uint8_t *vstr;  /* kind 2 */
    uint8_t vstr_len;     /* kind 2 */
    const uint8_t *start; /* the slot's first byte: slot_aad ends after key_id */
    size_t aad_tail;      /* bytes from start to the key id's end */
    const uint8_t *wrapped;
    uint32_t wlen;
} sr2_slot;

typedef struct sr2_str {
    const char *p;
    size_t n;
} sr2_str;

typedef struct sr2 sr2;

typedef struct sr2_loc {
    bool present;
    int base;    /* -1: this archive's payload stream; else present = 2 (§26.2) */
    sr2 *holder; /* the archive whose payload stream holds it (resolved) */
    uint32_t seq, off, stored_len, plain_len;
    uint8_t coding;
    const uint8_t *hash;
} sr2_loc;

typedef struct sr2_ver {
    sr2_str id, meta;
    int64_t created;
    sr2_loc pay;
} sr2_ver;

typedef struct sr2_rec {
    uint64_t pos; /* stream offset of its length prefix */
    uint32_t total;
    uint8_t rtype; /* record_type: 1, or 3 resolved from a base (§26.2) */
    uint8_t flags;
    /* type 3: the reference, its patches and the patched metadata */
    uint8_t ref_base;
    uint32_t ref_seq, ref_off, ref_len;
    uint16_t npatch;
    const uint8_t *patches;
    sb patched;
    sr2_str id, type, name, group, meta;
    int64_t created, updated;
    sr2_loc pay;
    uint32_t nver;
    sr2_ver *v;
} sr2_rec;

#define SR2_MAX_BASES 64

struct sr2 {
    const uint8_t *d, *trailer, *header, *table, *slots, *id;
    size_t n;
    uint64_t table_offset;
    uint32_t count, tflags, hlen, chunk_size, slot_area_len;
    uint16_t minor, suite;
    int64_t created_s, snapshot;
    unsigned nslots;
    sr2_slot slot[SR2_MAX_SLOTS];
    sr2_chunk *c;
    uint32_t nsec[SR2_SECTIONS];
    uint32_t *bysec[SR2_SECTIONS]; /* seq -> chunk number */
    int used_slot;
    uint8_t dek[32], dek_commit[32], sub[7][32], content[32];
    sb stream[SR2_SECTIONS];
    /* meta section */
    uint64_t nsecrets, nversions, npayloads;
    int64_t oldest, newest;
    uint32_t mchunks[4];
    struct {
        uint32_t first, n;
        uint64_t entries;
        const uint8_t *fences;
    } tab[2];
    sr2_str doc;
    sr2_rec *rec;
    size_t nrec;
    /* format 2.1 (§26): the header's base list and the attached bases */
    unsigned nbases;
    const uint8_t *base_entry[SR2_MAX_BASES]; /* 56 bytes each */
    sr2 *base[SR2_MAX_BASES];
    /* format 2.2 (§26.6): header flag EXPORT_DIGESTS and the digests section's table */
    bool digests;
    uint8_t key_base;
    const uint8_t *digest;       /* count x 16 */
    const uint8_t *retrieved_at; /* count x u16 */
    char why[256];
};

/* §26.6: the export digest of a secret's text t (n bytes, from its { to its }) under
 * k_digest. The writer's "unsure" cases (its zero entries) are not detected here. */
void sr2_export_digest(const uint8_t k_digest[32], const char *t, size_t n, uint8_t out[16]);
/* Open (§13 steps 1-3): trailer, header, chunk table and slot area, structure only. */
int sr2_open(sr2 *r, const uint8_t *d, size_t n);
/* Keyless verification (§17): chunk hashes, root hash, the signature (with pk pinned, or
 * the key the trailer names). */
int sr2_keyless(sr2 *r, const uint8_t *pk);
/* Unlock (§13 step 5) with the text of a keyring file (local slots) or of an x25519
 * identity file: slot, dek_commit, subkeys, content, root MAC, root hash, meta section. */
int sr2_unlock(sr2 *r, const char *key_file_text);
/* Attach base i (§26.1) of an unlocked incremental archive: b is the base, unlocked; its
 * archive id and content must be the header's entry's. Decodes every chunk of b. */
int sr2_attach(sr2 *r, unsigned i, sr2 *b);
/* Every chunk decoded into its section's stream, no record read (for generators). */
int sr2_decode_all(sr2 *r);
/* A chunk's nonce and associated data (§6.2), for generators that reseal a chunk. */
void sr2_nonce_aad(const sr2 *r, uint32_t i, uint8_t nonce[24], uint8_t aad[46]);
/* Every chunk, record, payload and index entry; every secret rendered into out (§12), one
 * per line. */
int sr2_read(sr2 *r, sb *out);
/* The intermediate values, as text (the *.internals.txt files). */
void sr2_internals(const sr2 *r, const char *name, sb *o);
void sr2_free(sr2 *r);

/* Pieces a vector generator needs to rebuild an archive as an attacker or a key holder. */
void sr2_content(const uint8_t *trailer, const uint8_t *header, size_t hlen, const uint8_t *table,
                 size_t tlen, uint8_t content[32]);
void sr2_root_mac(const uint8_t key[32], const uint8_t content[32], const uint8_t *trailer,
                  const uint8_t *slots, size_t slen, uint8_t mac[32]);
void sr2_root_hash(const uint8_t content[32], const uint8_t *trailer, const uint8_t *slots,
                   size_t slen, uint8_t root[32]);
void sr2_sign_message(const uint8_t archive_id[16], const uint8_t content[32], uint8_t msg[64]);
size_t sr2_slot_aad(const uint8_t archive_id[16], const sr2_slot *s, uint8_t *aad);
void sr2_dek_commit(const uint8_t dek[32], const uint8_t archive_id[16], uint8_t out[32]);

#endif
