/*
 * splitq.h - taking secrets apart on worker threads, handing them back in order.
 *
 * Splitting a secret (validating its JSON, checking its fields, separating its payload
 * members from its metadata) costs the writer more than compressing and encrypting it,
 * and secrets are independent until they are placed in the archive's streams. So the
 * writer queues each secret here and places the split secrets in submission order as they
 * come back: the archive holds the same streams as with one thread. Secrets travel in
 * batches of up to SMAR_SPLITQ_BATCH_MAX; at most `depth` batches are in flight, each
 * secret as a copy of its JSON (in a wiped buffer) and then its parts.
 */
#ifndef SMAR_SPLITQ_H
#define SMAR_SPLITQ_H

#include "split.h"

typedef struct smar_splitq smar_splitq;

#define SMAR_SPLITQ_BATCH_MAX 32

/* threads >= 1 workers; depth >= 1 batches in flight. Each secret split without error
 * has its payloads hashed with hash_key (smar_split_hash_payloads), which must stay valid
 * until smar_splitq_free(), and its versions' payloads encoded at zstd_level
 * (smar_split_encode_payloads). SMAR_OK or SMAR_E_NOMEM. */
int smar_splitq_new(smar_splitq **out, unsigned threads, size_t depth,
                    const uint8_t hash_key[SMAR_KEY_BYTES], int zstd_level);
void smar_splitq_free(smar_splitq *q);

/* Instead of smar_split_hash_payloads, call hook(split, ctx) on the worker for each
 * secret split without error (an incremental writer: it compares the payloads with its
 * base's and hashes the others). hook must be thread-safe. Before the first push. */
typedef void (*smar_split_hook)(smar_split *split, void *ctx);
void smar_splitq_set_hook(smar_splitq *q, smar_split_hook hook, void *ctx);

/* Format 2.2: call scan(split, json, len, ctx) on the worker before splitting each secret;
 * when it returns true the secret is not split (scan filled what the writer needs). scan
 * must be thread-safe. Before the first push. */
typedef bool (*smar_split_scan)(smar_split *split, const char *json, size_t len, void *ctx);
void smar_splitq_set_scan(smar_splitq *q, smar_split_scan scan, void *ctx);

/* Secrets queued and not yet popped+released. */
size_t smar_splitq_pending(const smar_splitq *q);
bool smar_splitq_full(const smar_splitq *q);

/* Queue a copy of json[0..len) to be split (when its batch is full, or when it is
 * popped). The queue must not be full. */
int smar_splitq_push(smar_splitq *q, const char *json, size_t len);

/* Wait for the oldest queued secret. Returns its smar_split_secret() result (its error in
 * *e); *split stays valid until smar_splitq_release(). The queue must not be empty. */
int smar_splitq_pop(smar_splitq *q, smar_split **split, smar_err *e);
void smar_splitq_release(smar_splitq *q);

#endif
