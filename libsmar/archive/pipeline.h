/*
 * pipeline.h - sealing chunks on several cores, writing them in order.
 *
 * Compression, encryption and hashing are what a writer spends its time on, and chunks
 * are independent, so workers seal them in parallel while the submitting thread writes
 * finished chunks in submission order. At most 2 x threads chunks are in flight, so memory
 * stays at a few chunk sizes per thread. With one thread everything happens inline.
 */
#ifndef SMAR_PIPELINE_H
#define SMAR_PIPELINE_H

#include "chunk.h"

typedef struct smar_pipeline smar_pipeline;

/* Receives each sealed chunk, in submission order, on the submitting thread. */
typedef int (*smar_sealed_fn)(void *ctx, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                              const uint8_t hash[SMAR_HASH_BYTES]);

int smar_pipeline_new(smar_pipeline **out, unsigned threads, int format, int suite, int level,
                      uint32_t chunk_size, const uint8_t *key, const uint8_t *archive_id,
                      smar_sealed_fn fn, void *ctx);
/* Queue raw[0..n) (copied) to be sealed at pos, padded after pad_base bytes of its group
 * (SMAR_NO_PADDING: not padded; smar_chunk_seal_padded). May write out earlier chunks. */
int smar_pipeline_submit(smar_pipeline *p, const smar_chunk_pos *pos, uint64_t pad_base,
                         const uint8_t *raw, size_t n, smar_err *e);
/* smar_pipeline_submit of raw's bytes without copying them: raw's buffer is taken (and
 * wiped once sealed) and raw is given an empty secure buffer in exchange. */
int smar_pipeline_submit_buf(smar_pipeline *p, const smar_chunk_pos *pos, uint64_t pad_base,
                             smar_buf *raw, smar_err *e);
/* Wait for every queued chunk and write them all. */
int smar_pipeline_drain(smar_pipeline *p, smar_err *e);
void smar_pipeline_free(smar_pipeline *p);

#endif
