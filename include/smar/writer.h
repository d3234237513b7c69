/*
 * smar/writer.h - writing an archive in one forward pass.
 *
 * An archive holds one snapshot of one instance: every secret with every version the export
 * had, the secret groups and the instance's own description. It is written front to back
 * without seeking, so it can go to a pipe, standard output or a multipart upload; the
 * trailer, written last, is the commit point.
 *
 *   smar_writer *w; smar_writer_new(&w);
 *   smar_writer_add_key(w, primary);           // one key slot per root key
 *   smar_writer_add_key(w, dr_region);
 *   smar_writer_set_signer(w, producer);       // optional Ed25519 signature
 *   smar_writer_open_sink(w, &sink, &opts);     // or smar_writer_open_fd(w, fd, &opts)
 *   while (next secret) smar_writer_add_secret(w, json, len);
 *   smar_writer_set_document(w, doc, doclen);  // instance, exported_at, groups, ...
 *   smar_writer_finish(w);                     // index, table, trailer, signature; commit
 *   smar_writer_free(w);
 *
 * Any error makes the handle dead: later calls return SMAR_E_INVALID and the partial output
 * is discarded (the sink's abort; smar_file_sink writes a temporary file and only gives it
 * its name at commit).
 */
#ifndef SMAR_WRITER_H
#define SMAR_WRITER_H

#include "smar/common.h"
#include "smar/io.h" /* smar_sink */
#include "smar/keys.h"
#include "smar/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_writer smar_writer;

/** Cipher suites (the header's suite field). */
#define SMAR_SUITE_XCHACHA20POLY1305 1
#define SMAR_SUITE_AES256GCM         2 /**< only where libsodium reports hardware support */

/** Chunk sizes (plaintext bytes per chunk): default and the format's bounds. */
#define SMAR_CHUNK_SIZE_DEFAULT (1u << 20)
#define SMAR_CHUNK_SIZE_MIN     (64u << 10)
#define SMAR_CHUNK_SIZE_MAX     (16u << 20)

typedef struct smar_writer_options {
    int version;                /**< SMAR_WRITER_OPTIONS_VERSION */
    int suite;                  /**< 0 = default (XChaCha20-Poly1305) */
    uint32_t chunk_size;        /**< 0 = SMAR_CHUNK_SIZE_DEFAULT */
    int zstd_level;             /**< 0 = default (3) */
    smar_time_ns snapshot_time; /**< SMAR_TIME_NONE: set later (export's exported_at) */
    smar_time_ns created_time;  /**< SMAR_TIME_NONE: now */
    unsigned threads;           /**< threads splitting secrets, and as many compressing and
                                     encrypting chunks; 0 or 1: all on the caller's thread;
                                     at most 64 */
} smar_writer_options;

#define SMAR_WRITER_OPTIONS_VERSION 1
#define SMAR_WRITER_OPTIONS_INIT                                                                   \
    {                                                                                              \
        SMAR_WRITER_OPTIONS_VERSION, 0, 0, 0, SMAR_TIME_NONE, SMAR_TIME_NONE, 0                    \
    }

SMAR_API int smar_writer_new(smar_writer **out);
SMAR_API void smar_writer_free(smar_writer *w);
SMAR_API const char *smar_writer_error(const smar_writer *w);

/** Add a key slot: the archive's DEK gets wrapped by kr's current version. At least one is
 *  needed; at most SMAR_MAX_KEY_SLOTS. The keyring is borrowed until smar_writer_open*. */
#define SMAR_MAX_KEY_SLOTS 16
SMAR_API int smar_writer_add_key(smar_writer *w, smar_keyring *kr);

/**
 * Make an incremental archive against base, the previous snapshot of the same instance
 * (spec/FORMAT.md, section 26): an open, unlocked reader, borrowed until finish, whose own
 * bases (if it is incremental) are attached. A secret whose record equals the base's but
 * for metadata values becomes a "same as in base" record (with the changed values); a
 * payload the base holds for the same version id is referenced, not stored. The archive's
 * header lists the base and the base's own bases (the chain): at most 64, else
 * SMAR_E_LIMIT (make a full archive then). The base is read once, here (SMAR_E_NEEDBASE
 * when one of its bases is not attached, its own failure status otherwise). Call before
 * the first secret; the base's snapshot must be older than this archive's (SMAR_E_INPUT
 * otherwise, when the header is written).
 */
SMAR_API int smar_writer_set_base(smar_writer *w, smar_reader *base);

/** Sign the archive's root hash with this producer key (borrowed until finish).
 *  SMAR_E_INVALID after open, or when sk holds no secret key (empty, or only a public key
 *  from smar_signkey_load_public). */
SMAR_API int smar_writer_set_signer(smar_writer *w, const smar_signkey *sk);

/**
 * Start the archive, writing it through sink (smar/io.h; its callbacks are copied, sink
 * itself is not kept; sink->opaque must outlive the writer's use of it). From this call
 * on, the writer calls exactly one of the sink's commit or abort: commit at the end of a
 * smar_writer_finish that wrote the whole archive (a failed commit fails the finish with
 * SMAR_E_IO), abort as soon as the writer fails, the open included, or at
 * smar_writer_free when the archive was not finished. A sink callback's failure makes the
 * call under way return SMAR_E_IO with the sink's text, its cancellation
 * SMAR_E_CANCELLED; both make the handle dead. SMAR_E_INVALID when sink is not a usable
 * sink (unknown version, no write or no commit); the sink is then not called.
 */
SMAR_API int smar_writer_open_sink(smar_writer *w, const smar_sink *sink,
                                   const smar_writer_options *opts);

/** Start the archive, writing to fd (not closed, not synced: the caller finishes the file)
 *  or through a callback: shorthands for a sink whose commit does nothing. */
SMAR_API int smar_writer_open_fd(smar_writer *w, int fd, const smar_writer_options *opts);
SMAR_API int smar_writer_open_cb(smar_writer *w, const smar_writer_options *opts, smar_write_fn fn,
                                 void *opaque);

/**
 * Set the snapshot time when it was not known at open (an export whose exported_at comes
 * after its first secrets). Allowed until the header has been written, which happens when
 * the first chunk is full; after that SMAR_E_INVALID.
 */
SMAR_API int smar_writer_set_snapshot_time(smar_writer *w, smar_time_ns t);

/**
 * Refuse a snapshot time earlier than what the export holds: any version (or secret) whose
 * created_at is after the snapshot time then fails smar_writer_add_secret (or finish, or
 * smar_writer_set_snapshot_time) with SMAR_E_INPUT, naming the secret and version. For a
 * snapshot time the user chose; an export's own exported_at is taken as it is. Call before
 * the first secret.
 */
SMAR_API int smar_writer_refuse_later_versions(smar_writer *w);

/**
 * Add one secret: the exact JSON text of one secret object of an instance export, with its
 * "versions" array. The writer checks it (an object; "id" a non-empty string of printable
 * ASCII; "secret_type" a string; times RFC 3339; every version an object with an "id" and
 * a "created_at", and a "secret_id" equal to the secret's id when present; no duplicate
 * version ids; no secret id seen before in this archive; sizes within the limits) and
 * returns SMAR_E_INPUT or SMAR_E_LIMIT with a message naming the secret by id otherwise.
 * Payload fields (per spec/FORMAT.md, by secret type) go to payload chunks, the rest to the
 * manifest. All values are kept as their original JSON text.
 */
SMAR_API int smar_writer_add_secret(smar_writer *w, const char *json, size_t len);

/**
 * With more than one thread, secrets are checked and taken apart by worker threads while
 * the caller goes on: an error about a secret may then come from a later
 * smar_writer_add_secret call or from smar_writer_finish. This says which secret an error
 * was about: the number of the smar_writer_add_secret call (1 for the first) that gave
 * it, or 0 when the last error was not about a secret. At most SMAR_WRITER_MAX_IN_FLIGHT
 * secrets are held back, so a caller that keeps where its last that many secrets came
 * from can name the failed one.
 */
#define SMAR_WRITER_MAX_IN_FLIGHT 4096
SMAR_API uint64_t smar_writer_failed_secret(const smar_writer *w);

/**
 * Check and place every secret still held back by the worker threads, and return the first
 * one's error as smar_writer_add_secret would. For a caller about to report an error of its
 * own (its input ended badly): an earlier secret's error comes first. SMAR_OK when every
 * secret added so far is placed.
 */
SMAR_API int smar_writer_drain(smar_writer *w);

/**
 * The export's document without its secrets (see smar_export_document()): a JSON object.
 * Optional; stored encrypted in the archive's meta section. Call before finish.
 */
SMAR_API int smar_writer_set_document(smar_writer *w, const char *json, size_t len);

/** Progress: secrets added, and archive bytes written so far. */
SMAR_API void smar_writer_progress(const smar_writer *w, uint64_t *secrets, uint64_t *bytes);

/** What an archive holds, for a summary after smar_writer_finish (during the writing: so
 *  far). Versioned (smar/common.h): `smar_writer_stats st = SMAR_WRITER_STATS_INIT;`. */
typedef struct smar_writer_stats {
    int version; /**< SMAR_WRITER_STATS_VERSION */
    uint8_t archive_id[16];
    smar_time_ns snapshot; /**< SMAR_TIME_NONE while not known */
    uint64_t secrets;
    uint64_t versions;
    uint64_t payload_records; /**< stored payload records (a shared one once) */
    uint64_t payload_bytes;   /**< their plaintext bytes */
    uint64_t stored_bytes;    /**< archive bytes written (after finish: the file size) */
    /* version 2: incremental archives (smar_writer_set_base) */
    size_t base_count;            /**< bases the header lists; 0: a full archive */
    uint64_t same_as_base;        /**< secrets stored as "same as in base" records */
    uint64_t payloads_referenced; /**< payload locators pointing into a base */
} smar_writer_stats;

#define SMAR_WRITER_STATS_VERSION 2
#define SMAR_WRITER_STATS_INIT                                                                     \
    {                                                                                              \
        .version = SMAR_WRITER_STATS_VERSION                                                       \
    }

/** Fill out (its version set by the caller). SMAR_OK; SMAR_E_INVALID for an unknown
 *  version or before open. */
SMAR_API int smar_writer_stats_get(const smar_writer *w, smar_writer_stats *out);

/** Write the index, meta section, chunk table and trailer (and signature). After SMAR_OK
 *  the output holds a complete archive. */
SMAR_API int smar_writer_finish(smar_writer *w);

#ifdef __cplusplus
}
#endif
#endif
