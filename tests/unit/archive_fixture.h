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

#endif
