/*
 * reader_internal.h - the reader's state, shared by reader.c (open, unlock, lookups),
 * stream.c-like helpers inside reader.c, render.c and verify.c.
 */
#ifndef SMAR_READER_INTERNAL_H
#define SMAR_READER_INTERNAL_H

#include "chunk.h"
#include "fetch.h"
#include "subkeys.h"
#include "header.h"
#include "header2.h"
#include "slots.h"
#include "root2.h"
#include "index.h"
#include "meta.h"
#include "manifest.h"
#include "table.h"
#include "root.h"
#include "smar/reader.h"
#include "source.h"

enum reader_state { R_NEW, R_OPEN, R_UNLOCKED, R_DEAD };

typedef struct chunk_cache {
    int64_t seq; /* -1: empty */
    smar_plain plain;
} chunk_cache;

struct smar_reader {
    smar_err err;
    enum reader_state state;
    smar_source src;
    char *name;
    smar_trailer trailer;
    uint8_t *header_bytes;
    /* The fields both formats share; format 1 also its slots here. created: nanoseconds
     * (format 2 stores seconds). */
    smar_header hdr;
    int format;          /* major version: SMAR_FORMAT_V1 or SMAR_FORMAT_V2 */
    smar_header2 hdr2;   /* format 2: its header as stored */
    uint8_t *slot_bytes; /* format 2: the slot area (slots[].wrapped point into it) */
    /* Every key slot, of either format (format 1's as views of hdr.slots). */
    smar_slot2 slots[SMAR_SLOTS2_MAX];
    unsigned nslots;
    uint8_t *table_bytes;
    smar_table_entry *table;
    uint64_t counts[SMAR_SEC_COUNT], bytes[SMAR_SEC_COUNT];
    uint32_t *section_chunks[SMAR_SEC_COUNT]; /* seq within a section -> chunk number */
    uint32_t *seq_of;                         /* chunk number -> seq within its section */
    /* chunk number -> its plaintext length, once it has been opened (0: not yet; plaintexts
     * are never empty). Stepping over a record that ends in a chunk opened earlier then
     * needs no second decryption of that chunk, which the cache may have let go. */
    uint32_t *plain_len;
    unsigned threads;

    smar_keys *keys;
    /* Which key slot opened the archive and whether its keyring wraps to a public key
     * (unlock_info.c; recorded by open_slot, as keyrings are not kept after unlock). */
    struct smar_unlock_info {
        unsigned slot; /* meaningful once unlocked */
        bool public_wrap;
    } opened_by;
    smar_chunker ck;
    bool have_ck;
    /* The last chunk failure was damage in storage (its bytes do not hash to the
     * authenticated chunk table), not a forgery: the handle stays usable for other
     * chunks, so a restore can save what is intact (spec/FORMAT.md, section 17). */
    bool chunk_damaged;
    smar_meta meta;
    /* The document's secret groups (id -> name), read at the first smar_reader_group_name. */
    char **group_ids, **group_names;
    size_t ngroups;
    bool groups_read;
    /* Per section, the chunk used last [0] and the one before it [1]: rendering a secret
     * reads its current payload, then its versions' payloads, which lie just before it in
     * the stream, often across a chunk boundary; with one chunk that read each such chunk
     * pair again (a full extract read the payload section about twice). */
    chunk_cache cache[SMAR_SEC_COUNT][2];
    /* Sections read in order get their next chunks opened ahead on worker threads
     * (readahead.c): started at the first in-order miss when threads > 1. */
    struct smar_readahead *ra;
    int64_t last_miss[SMAR_SEC_COUNT];
    /* Decrypted index chunks, kept once read: together they are the index itself (28 bytes
     * a secret and table), and lookups in random order would otherwise decrypt an index
     * chunk each. */
    uint8_t **index_chunks;
    size_t *index_lens;
    /* The content digest (section 10), once computed: the header, table and trailer it
     * covers are read once at open and never change, and a series attaches one base to
     * every archive that lists it (each attach checks the digest). */
    bool have_content;
    uint8_t content[SMAR_HASH_BYTES];
    /* The record the last lookup by name found (its id, malloc'ed, and its index entry): a
     * restore by name looks the same secret up by id next, and the id table's chunk is
     * another sequential read (a round trip from object storage). */
    char *name_hit_id;
    smar_index_entry name_hit;
    smar_buf stored;
    /* smar_rewrap (rewrap.c) sets keep_dek around its unlock: the DEK that opened a slot
     * is then kept in dek (locked memory) instead of wiped, and rewrap wipes it as soon as
     * the new key slots exist. Never set otherwise. */
    bool keep_dek;
    uint8_t *dek;
    /* Incremental archives (format 2.1): the attached bases, borrowed, by the header's
     * base index (NULL: not attached). */
    smar_reader *bases[SMAR_BASES_MAX];
    /* Opens a base a read needs when none is attached (smar_reader_set_base_opener). */
    smar_base_opener base_opener;
    void *base_opener_ctx;
};

/* ---- incremental archives (incremental.c) -------------------------------------------- */

/* Whether the open archive is incremental (format 2.1, header flag INCREMENTAL). */
bool smar_reader_is_incremental(const smar_reader *r);

/* The archive's content digest (section 10), recomputed from the bytes as opened. */
void smar_reader_content(smar_reader *r, uint8_t out[SMAR_HASH_BYTES]);

/* Fail with SMAR_E_NEEDBASE naming every base not attached (or, when none is missing,
 * SMAR_E_INVALID). */
int smar_reader_need_bases(smar_reader *r);

/* Base i of r for a read: the attached one, else the one the base opener gives (attached
 * then, after the usual checks). SMAR_E_NEEDBASE (naming every missing base) when there is
 * none; *base is set only on SMAR_OK. */
int smar_reader_get_base(smar_reader *r, size_t i, smar_reader **base);

/* A read from base `base` failed with rc: its message becomes r's, and damage in the
 * base's storage stays damage for r (r->chunk_damaged: the handle lives on, so a restore
 * saves the secrets that do not need the damaged chunk); a forged chunk of the base ends
 * the base; anything else (a wrong reference) is r's alone. Returns rc, for the caller's
 * smar_reader_die(r, rc). */
int smar_reader_base_failed(smar_reader *r, smar_reader *base, int rc);

/* Decode a manifest record body of an incremental archive: type 1 (external locators
 * allowed) or type 3, resolved through the attached base into the equivalent type 1
 * record in this archive's terms (its locators local to a base become external). */
int smar_reader_decode_incremental(smar_reader *r, const uint8_t *body, size_t n,
                                   smar_secret **out);

/* The reader holding a payload locator's bytes and the locator in its terms: r itself for
 * a local one, the attached base for an external one (SMAR_E_NEEDBASE when it is not). */
int smar_reader_payload_holder(smar_reader *r, const smar_locator *loc, smar_reader **holder,
                               smar_locator *local);

/* Fetch the record at (seq, offset) as stored: type 1 only (a type 3 there is
 * SMAR_E_FORMAT: references are never to references). */
int smar_reader_fetch_stored_record(smar_reader *r, uint32_t seq, uint32_t offset,
                                    smar_secret **out);

/* Whether r's index table (SMAR_INDEX_BY_ID or SMAR_INDEX_BY_NAME) vouches for a record
 * boundary: an entry of its for text (an id or a name) names exactly (seq, offset,
 * length). An error only when the table cannot be read. */
int smar_reader_index_names(smar_reader *r, int table, const char *text, uint32_t seq,
                            uint32_t offset, uint32_t length, bool *yes);

/* Read exactly n bytes at offset from the source. */
int smar_reader_read_at(smar_reader *r, void *buf, size_t n, uint64_t offset);

/* Decrypt chunk seq of a section (cached: two chunks per section, every index chunk). */
int smar_reader_load_chunk(smar_reader *r, uint8_t section, uint32_t seq, const uint8_t **raw,
                           size_t *len);

/* The same through the section's two-chunk cache only (the index cache fills itself
 * through it). */
int smar_reader_load_chunk_uncached(smar_reader *r, uint8_t section, uint32_t seq,
                                    const uint8_t **raw, size_t *len);

/* Read len bytes of a section's byte stream from (seq, offset), across chunks. */
int smar_reader_read_stream(smar_reader *r, uint8_t section, uint32_t seq, uint32_t offset,
                            size_t len, smar_buf *out);

/* Fetch and decode the manifest record starting at (seq, offset). *next_seq/offset (may be
 * NULL) receive where the following record starts. */
int smar_reader_fetch_record(smar_reader *r, uint32_t seq, uint32_t offset, smar_secret **out,
                             uint32_t *next_seq, uint32_t *next_offset);

/* Record that slot `slot` opened the archive with keyring kr (unlock_info.c). */
void smar_reader_note_opener(smar_reader *r, unsigned slot, const smar_keyring *kr);

/* Whether the header, table, slot area and trailer as opened still hash to the root hash
 * the trailer records; whether its signature verifies (by the signer it names). */
bool smar_reader_root_recomputes(const smar_reader *r);
bool smar_reader_signature_ok(const smar_reader *r);

/* Format 2: decode a stored payload record (buf, as read) into the record, in place. */
int smar_reader_decode_payload(smar_reader *r, smar_chunker *ck, const smar_locator *loc,
                               smar_buf *buf);

/* Mark the handle dead after an authentication failure; returns rc. A chunk damaged in
 * storage (chunk_damaged) does not kill it. */
int smar_reader_die(smar_reader *r, int rc);

#endif
