/*
 * archive_fixture.h - building small archives in memory for the archive tests.
 */
#ifndef SMAR_ARCHIVE_FIXTURE_H
#define SMAR_ARCHIVE_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smar.h"

typedef struct mem_archive {
    uint8_t *data;
    size_t len, cap;
} mem_archive;

/* Append callback for smar_writer_open_cb. */
int fx_mem_write(void *opaque, const void *buf, size_t len);

/* Bytes the readers of fx_open_mem have read so far (all threads). */
extern atomic_ullong fx_bytes_read;

/* A reader over bytes (copied). Returns the status of smar_reader_open_source. */
int fx_open_mem(smar_reader **r, const uint8_t *data, size_t len);

/* The JSON of secret i of a deterministic test set (arbitrary secrets, two versions each,
 * payload "value-<i>-<version>"), written into buf. */
const char *fx_secret_json(char *buf, size_t cap, size_t i);

/* Worker threads fx_make_archive asks the writer for (default 0: inline). */
extern unsigned fx_writer_threads;

/* Write an archive of n fx secrets with the given keyrings (and optional signer). */
int fx_make_archive(mem_archive *out, size_t n, smar_keyring *const *keys, size_t nkeys,
                    const smar_signkey *signer, uint32_t chunk_size);

/* Open + unlock; returns the first failing status. */
int fx_open_unlocked(smar_reader **r, const mem_archive *a, smar_keyring *key);

/* ---- format 2 surgery: what an attacker or a DEK holder can rewrite ------------------ */

/* Where the parts of a format 2 archive lie, read from its trailer. */
typedef struct fx_v2_layout {
    size_t header_len, table_offset, chunk_count, slots_offset, slots_len, trailer_offset;
} fx_v2_layout;

/* Fill l from a's trailer; -1 when the trailer does not decode. */
int fx_v2_layout_of(fx_v2_layout *l, const mem_archive *a);

/* Recompute the roots of a format 2 archive in place, as whoever holds what is given:
 * signer: sign it anew (flag SIGNED, signer public key, signature over the new content);
 * NULL keeps the signer and signature bytes as they stand (nobody can forge them).
 * rootmac_key: the archive's root MAC subkey (a DEK holder) recomputes the root MAC; NULL
 * keeps it (anyone without the DEK). The keyless root hash is always recomputed. */
int fx_v2_reroot(mem_archive *a, const smar_signkey *signer, const uint8_t *rootmac_key);

/* The root MAC subkey of a, as a holder of key (so of the DEK) derives it. */
int fx_v2_rootmac_key(const mem_archive *a, smar_keyring *key, uint8_t out[32]);

#endif
