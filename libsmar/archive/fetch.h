/*
 * fetch.h - reading and opening one chunk: the reader's cache, read-ahead and verify.
 *
 * Every chunk libsmar reads back comes through smar_chunk_fetch: its stored bytes read
 * through the reader's source within the source's size, compared with the chunk table's
 * hash when asked, opened with a chunker when one is given. A chunk that fails to open is
 * classified by that hash (spec/FORMAT.md, section 17): bytes that changed in storage are
 * damage confined to the chunk; bytes that match the authenticated table yet do not open
 * were forged by a key holder.
 */
#ifndef SMAR_FETCH_H
#define SMAR_FETCH_H

#include "chunk.h"
#include "smar/reader.h"

/* A chunk's plaintext: raw is chunk_size bytes, len of them the chunk. dirty is how many
 * bytes of raw were ever written: only these are wiped on free. Wiping all chunk_size
 * bytes would touch (and fault in) pages no chunk ever used, which costs a one-secret
 * restore more than its decryption does. */
typedef struct smar_plain {
    uint8_t *raw;
    size_t len;
    size_t dirty;
} smar_plain;

/* Allocate plain->raw (chunk_size bytes) if it has none yet: SMAR_OK or SMAR_E_NOMEM. */
int smar_plain_alloc(smar_plain *plain, uint32_t chunk_size);
/* Wipe what was written and free; leaves an empty smar_plain. */
void smar_plain_free(smar_plain *plain);

/* Where fetching a chunk stopped. */
typedef enum smar_fetch_fault {
    SMAR_FETCH_OK = 0,
    SMAR_FETCH_UNREAD,   /* not read: outside the source, an I/O error, or no memory */
    SMAR_FETCH_DAMAGED,  /* its stored bytes do not hash to its chunk table entry */
    SMAR_FETCH_UNOPENED, /* its bytes match the table, yet it does not open: a forgery */
} smar_fetch_fault;

/* Compare the stored bytes with the chunk table's hash before opening, even when they
 * would open (verify). Without it the hash is computed only for a chunk that fails to
 * open, to classify the failure. */
#define SMAR_FETCH_HASH 1u

/*
 * Fetch chunk `number` (< the chunk count) of an open reader into stored (reused between
 * calls), hash-check it when flags has SMAR_FETCH_HASH, and open it with ck into plain
 * (raw allocated by the caller) unless ck is NULL. Returns SMAR_OK, or the failure's
 * status with its message in e: SMAR_E_CORRUPT past the source's end or damaged,
 * SMAR_E_IO, SMAR_E_NOMEM, or smar_chunk_open's status. *fault (may be NULL) tells which
 * step failed. Thread-safe for distinct ck, stored, plain and e: it reads only the
 * reader's tables and name, which do not change once it is open, and calls the source's
 * read_at, which smar_reader_set_threads documents as called from several threads.
 */
int smar_chunk_fetch(const smar_reader *r, uint32_t number, unsigned flags, smar_chunker *ck,
                     smar_buf *stored, smar_plain *plain, smar_fetch_fault *fault, smar_err *e);

#endif
