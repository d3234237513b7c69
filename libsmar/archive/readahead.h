/*
 * readahead.h - decrypting the next chunks of a section on worker threads.
 *
 * A full extract reads the manifest and the payloads front to back, and opening a chunk
 * (reading, authenticating, decompressing it) is most of its work. When the reader sees
 * a section being read in order, it asks for the following chunks here; workers open them
 * into spare buffers, and the reader takes them instead of opening them itself. Only a
 * hint: a chunk that is not ready, or failed, is opened by the reader as before (so every
 * error is reported the usual way). Memory: 2 x threads chunks and their stored bytes.
 * The workers are a pool (io/pool.h); chunks are read and opened by smar_chunk_fetch.
 */
#ifndef SMAR_READAHEAD_H
#define SMAR_READAHEAD_H

#include "reader_internal.h"

typedef struct smar_readahead smar_readahead;

/* Workers for an unlocked reader; SMAR_OK or SMAR_E_NOMEM. */
int smar_readahead_new(smar_readahead **out, smar_reader *r, unsigned threads);
/* Joins the workers; call before the reader's keys and tables go. */
void smar_readahead_free(smar_readahead *ra);

/* Chunk seq of section was just read, in order: queue the ones after it. */
void smar_readahead_after(smar_readahead *ra, uint8_t section, uint32_t seq);

/* If chunk seq of section was queued, wait for it and, when it opened, swap it with *plain
 * (a chunk_size buffer, handed over in exchange); true then. */
bool smar_readahead_take(smar_readahead *ra, uint8_t section, uint32_t seq, smar_plain *plain);

#endif
