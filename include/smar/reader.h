/*
 * smar/reader.h - opening, searching, reading and verifying archives.
 *
 * Opening reads only the fixed-size trailer at the end, the header at the front and the
 * chunk table; nothing is decrypted. What it learns (smar_reader_info, key slots) needs no
 * key. smar_reader_unlock() opens a key slot with a keyring and authenticates the header
 * and the root hash. Lookups then read the meta section, one index chunk and one manifest
 * chunk, and reading a payload reads only the chunks that hold it: a single secret is
 * restored from a huge archive with a few range reads.
 *
 * Any authentication failure makes the handle dead (later calls return SMAR_E_INVALID):
 * no data is released from an archive that failed to authenticate.
 *
 *   smar_reader *r; smar_reader_new(&r);
 *   smar_reader_open(r, "nightly.smar");
 *   smar_reader_unlock(r, &keyring, 1);
 *   smar_secret *s; smar_reader_find_id(r, "0b5f...", &s);
 *   const smar_version *v = smar_secret_version_at(s, t);
 *   char *p; size_t n; smar_reader_read_payload(r, s, v, &p, &n);
 *   ... smar_secret_buffer_free(p, n); smar_secret_free(s); smar_reader_free(r);
 */
#ifndef SMAR_READER_H
#define SMAR_READER_H

#include "smar/common.h"
#include "smar/io.h" /* smar_source */
#include "smar/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_reader smar_reader;
typedef struct smar_secret smar_secret;
typedef struct smar_version smar_version;

SMAR_API int smar_reader_new(smar_reader **out);
SMAR_API void smar_reader_free(smar_reader *r);
SMAR_API const char *smar_reader_error(const smar_reader *r);

/**
 * Open an archive file, or any source. Checks the trailer, header and chunk table for
 * structure and limits (without a key): SMAR_E_FORMAT (not an archive), SMAR_E_VERSION
 * (a newer format: an unknown version, flag, suite or compression that the file's bytes
 * still hash to its root hash), SMAR_E_CORRUPT (truncated, inconsistent, or such an unknown
 * value in a file that no longer hashes to its root hash: damage, spec/FORMAT.md §16),
 * SMAR_E_LIMIT; through a source also SMAR_E_IO (a read failed: the message says why) and
 * SMAR_E_CANCELLED (the source cancelled). Every later call that reads returns those two
 * the same way.
 * name is used in messages. The source (smar/io.h; its callbacks are copied, src itself is
 * not kept) is owned by the reader after SMAR_OK: its close is called by smar_reader_free.
 * On failure it stays the caller's.
 */
SMAR_API int smar_reader_open(smar_reader *r, const char *path);
SMAR_API int smar_reader_open_source(smar_reader *r, const smar_source *src, const char *name);
/** Open an archive from a file descriptor of a regular file, through smar_fd_source (read
 *  with pread, so it may be shared with other threads). The descriptor is owned by the reader after
 * SMAR_OK (closed by smar_reader_free), and stays the caller's otherwise. */
SMAR_API int smar_reader_open_fd(smar_reader *r, int fd, const char *name);

/** Sections of an archive (the chunk table's section field). */
enum smar_section {
    SMAR_SECTION_PAYLOAD = 1,
    SMAR_SECTION_MANIFEST = 2,
    SMAR_SECTION_INDEX = 3,
    SMAR_SECTION_META = 4,
    /** format 2.2: export digests of an incremental archive (spec/FORMAT.md §26.6). Not an
     *  index of smar_archive_info's section arrays (they end at META): see digests_chunks. */
    SMAR_SECTION_DIGESTS = 5,
};

/**
 * Use up to `threads` threads (0 or 1: only the caller's) for whole-archive work:
 * smar_reader_verify reads, hashes and decrypts chunks in parallel, and when payloads or
 * records are read in archive order (a full extract), the next chunks are read and
 * decrypted ahead on worker threads (at most 2 x threads chunks held). With more than one,
 * the source's read_at is called from several threads at once and must allow that (the
 * file source does: it uses pread). Callbacks (problems, progress) are always called on
 * the thread that called smar_reader_verify. Returns SMAR_OK.
 */
SMAR_API int smar_reader_set_threads(smar_reader *r, unsigned threads);

/** What the archive says about itself in clear. Versioned (smar/common.h): declare it
 *  as `smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;`. */
typedef struct smar_archive_info {
    int version; /**< SMAR_ARCHIVE_INFO_VERSION: set by the caller, kept by the library */
    uint16_t version_major;
    uint16_t version_minor;
    uint8_t archive_id[16];
    smar_time_ns created;
    smar_time_ns snapshot;
    const char *suite;       /**< "xchacha20poly1305" or "aes256gcm" */
    const char *compression; /**< "zstd" */
    uint32_t chunk_size;
    size_t slot_count;
    uint64_t chunk_count;
    uint64_t section_chunks[5]; /**< chunks per section, indexed by enum smar_section 1..4 */
    uint64_t section_bytes[5];  /**< stored bytes per section, 1..4 */
    uint64_t file_size;
    uint32_t header_size;
    int is_signed;
    uint8_t signer[32]; /**< the signer's public key when is_signed */
    /* version 2: */
    int incremental;   /**< 1: an incremental archive (format 2.1), which needs its bases */
    size_t base_count; /**< its bases (smar_reader_base); 0 for a full archive */
    /* version 3: */
    uint64_t digests_chunks; /**< chunks of SMAR_SECTION_DIGESTS (format 2.2), else 0 */
    uint64_t digests_bytes;  /**< their stored bytes */
} smar_archive_info;

#define SMAR_ARCHIVE_INFO_VERSION 3
#define SMAR_ARCHIVE_INFO_INIT                                                                     \
    {                                                                                              \
        .version = SMAR_ARCHIVE_INFO_VERSION                                                       \
    }

/**
 * Incremental archives (spec/FORMAT.md, section 26) store only what their bases do not
 * already hold: a secret unchanged since the base is a reference to the base's record, a
 * payload the base holds is a reference to the base's payload. Their header lists every
 * base they refer to (base 0 is the parent, the snapshot it was made against), in clear
 * and under the signature. Before anything is read from an incremental archive, attach
 * each base: an open, unlocked reader of that archive (smar_reader_attach_base). Once they
 * are attached, every call works as on a full archive; a call that needs a base that is
 * not attached fails with SMAR_E_NEEDBASE, whose message names every missing base.
 *
 *   size_t n = smar_reader_base_count(r);
 *   for (size_t i = 0; i < n; i++) {
 *       smar_base_info b = SMAR_BASE_INFO_INIT;
 *       smar_reader_base(r, i, &b);          // which archive (id, snapshot) to open
 *       smar_reader_attach_base(r, i, base_reader_for(b.archive_id));
 *   }
 */
typedef struct smar_base_info {
    int version;            /**< SMAR_BASE_INFO_VERSION */
    uint8_t archive_id[16]; /**< the base's archive id */
    uint8_t content[32];    /**< the base's content digest: a rewrapped base still matches */
    smar_time_ns snapshot;  /**< the base's snapshot time (older than this archive's) */
} smar_base_info;

#define SMAR_BASE_INFO_VERSION 1
#define SMAR_BASE_INFO_INIT                                                                        \
    {                                                                                              \
        .version = SMAR_BASE_INFO_VERSION                                                          \
    }

/** The number of bases an open archive lists (0 for a full archive, or when none is open).
 *  Keyless: right after open. */
SMAR_API size_t smar_reader_base_count(const smar_reader *r);

/** The open archive's own content digest (spec/FORMAT.md section 10), recomputed from its
 *  bytes: what an incremental archive's base list names it by (smar_base_info.content).
 *  Keyless; a rewrap keeps it. SMAR_E_INVALID when no format 2 archive is open. */
SMAR_API int smar_reader_content_digest(smar_reader *r, uint8_t out[32]);

/** Base i (< smar_reader_base_count) of an open archive. SMAR_E_INVALID otherwise. */
SMAR_API int smar_reader_base(smar_reader *r, size_t i, smar_base_info *out);

/** Whether base i is attached. */
SMAR_API int smar_reader_base_attached(const smar_reader *r, size_t i);

/**
 * Attach base i: base is an open, unlocked reader of that archive, borrowed (it must
 * outlive r's use of it and is used from r's thread). SMAR_E_AUTH ("not the base this
 * archive was made from") when its archive id or its content digest differ from what r's
 * header lists: a swapped or altered base is refused, never used. SMAR_E_INVALID when base
 * is not unlocked or i is out of range. The base's own bases need not be attached. base
 * NULL detaches base i (before the reader that was attached is freed, if r lives on).
 */
SMAR_API int smar_reader_attach_base(smar_reader *r, size_t i, smar_reader *base);

/**
 * Called when a read needs base i of r and none is attached: open and unlock that archive
 * (smar_reader_base(r, i, ...) says which) and set *base to the reader, borrowed as by
 * smar_reader_attach_base (the caller keeps it alive while r uses it). Return SMAR_OK,
 * SMAR_E_NOTFOUND when the caller has no such archive (the read then fails with
 * SMAR_E_NEEDBASE, naming the missing bases), or any other error code, which the read
 * fails with.
 */
typedef int (*smar_base_opener)(void *ctx, smar_reader *r, size_t i, smar_reader **base);

/**
 * Attach bases when a read first needs them, not before: a read that needs base i when none
 * is attached calls opener(ctx, r, i, &base) and attaches what it gives, with the same
 * archive id and content checks as smar_reader_attach_base (SMAR_E_AUTH for a swapped or
 * altered base). Opening an incremental archive's bases can cost a key unwrap each (a
 * round trip to a key service): a read that needs only the newest archive and the full one
 * opens only those. Called from r's thread, never twice for one attached base. opener NULL
 * stops it. SMAR_E_INVALID when r is NULL.
 *
 *   smar_reader_set_base_opener(r, open_base_from_my_folder, &folder);
 *   smar_reader_get(r, id, &s);   // opens the bases this secret's record and payload need
 */
SMAR_API int smar_reader_set_base_opener(smar_reader *r, smar_base_opener opener, void *ctx);

/** Fill out (its version set by the caller) once an archive is open. SMAR_OK;
 *  SMAR_E_INVALID when nothing is open or out->version is unknown. Strings are borrowed
 *  from the reader. */
SMAR_API int smar_reader_info(smar_reader *r, smar_archive_info *out);

/** Key slot i of the archive, in clear. Versioned like smar_archive_info. */
typedef struct smar_slot_info {
    int version; /**< SMAR_SLOT_INFO_VERSION */
    const char *key_id;
    uint32_t key_version; /**< 0 when the slot has no number (version_kind 0 or 2) */
    const char *provider; /**< "local", "x25519", "pkcs11", "kms" or "unknown" */
    /* version 2 (format 2 slots; a format 1 slot reads kind 1, flags 0): */
    int version_kind;           /**< 0 none (inside the blob), 1 number, 2 string */
    const char *version_string; /**< kind 2: the version; else NULL */
    unsigned provider_id;       /**< the provider id as stored (1 local, 2 x25519, ...) */
    unsigned flags;             /**< provider-defined slot flags */
} smar_slot_info;

#define SMAR_SLOT_INFO_VERSION 2
#define SMAR_SLOT_INFO_INIT                                                                        \
    {                                                                                              \
        .version = SMAR_SLOT_INFO_VERSION                                                          \
    }

/** Fill out with slot i (0 to slot_count - 1). SMAR_OK, or SMAR_E_INVALID (nothing open, i
 *  out of range, unknown out->version). Strings are borrowed from the reader. */
SMAR_API int smar_reader_slot(smar_reader *r, size_t i, smar_slot_info *out);

/** Archive id as 32 lowercase hex characters plus NUL. */
SMAR_API void smar_archive_id_hex(const uint8_t id[16], char out[33]);

/**
 * Open the archive with one of the keyrings: each key slot whose key id matches a keyring
 * holding that version is tried. Then the header MAC and the root MAC are checked, which
 * authenticates the header, every chunk's hash and the chunk table. Returns SMAR_OK,
 * SMAR_E_KEY (no keyring matches a slot of an intact header), SMAR_E_CORRUPT (no keyring
 * matches, or the suite is unavailable, and the header, table or trailer no longer hash to
 * the root hash: a slot may have been changed), SMAR_E_AUTH (wrong key material or a forged
 * header/table), SMAR_E_UNSUPPORTED (suite not available here, intact header),
 * SMAR_E_DENIED or SMAR_E_UNAVAILABLE (no slot opened and a key provider refused or could
 * not be reached: nothing is said about the archive, and unlock may be called again).
 * Keyrings are only used during the call.
 */
SMAR_API int smar_reader_unlock(smar_reader *r, smar_keyring *const *keys, size_t nkeys);

/**
 * After unlock: 1 when the key slot that opened the archive was made for a public-key
 * recipient (a keyring of the "x25519" provider, smar/keys.h), else 0; SMAR_E_INVALID when
 * the archive is not unlocked. Anyone holding a recipient file can make an archive that its
 * identity opens, so such an archive says nothing about its producer: a reader should
 * refuse it unless the producer's signature is checked (smar_reader_check_signer).
 */
SMAR_API int smar_reader_unlocked_by_public_key(smar_reader *r);

/** After unlock: what the snapshot holds. Versioned like smar_archive_info. */
typedef struct smar_snapshot_info {
    int version; /**< SMAR_SNAPSHOT_INFO_VERSION */
    uint64_t secret_count;
    uint64_t version_count;
    uint64_t payload_count;      /**< stored payload records */
    smar_time_ns oldest_version; /**< SMAR_TIME_NONE when there are no versions */
    smar_time_ns newest_version;
} smar_snapshot_info;

#define SMAR_SNAPSHOT_INFO_VERSION 1
#define SMAR_SNAPSHOT_INFO_INIT                                                                    \
    {                                                                                              \
        .version = SMAR_SNAPSHOT_INFO_VERSION                                                      \
    }

/** Fill out after unlock. SMAR_OK; SMAR_E_INVALID when not unlocked or out->version is
 *  unknown. */
SMAR_API int smar_reader_snapshot(smar_reader *r, smar_snapshot_info *out);

/** After unlock: the export's document without secrets (see smar_writer_set_document), or
 *  "{}" when none was stored. Borrowed from the reader. */
SMAR_API int smar_reader_document(smar_reader *r, const char **json, size_t *len);

/** After unlock: the name the document's "secret_groups" gives group_id, or NULL when it
 *  names none. Borrowed from the reader. */
SMAR_API const char *smar_reader_group_name(smar_reader *r, const char *group_id);

/* ---- finding secrets ---------------------------------------------------------------- */

/** Find a secret by id. *out is owned by the caller (smar_secret_free). SMAR_E_NOTFOUND. */
SMAR_API int smar_reader_find_id(smar_reader *r, const char *id, smar_secret **out);

/**
 * Called for each secret found. s is borrowed for the duration of the call (smar_secret_dup
 * keeps it). Return 0 to go on or a positive value (SMAR_STOP) to stop: the iterating call
 * then returns it. A negative return is refused: the call returns SMAR_E_INVALID.
 */
typedef int (*smar_secret_cb)(smar_reader *r, const smar_secret *s, void *payload);

/** Every secret named name (of type type, unless NULL). Names are unique per type only.
 *  Returns SMAR_OK (also when none matched), an error, or the callback's stop value. */
SMAR_API int smar_reader_find_name(smar_reader *r, const char *name, const char *type,
                                   smar_secret_cb cb, void *payload);

/** What to select: each list matches any of its entries; lists combine as all-of. Empty
 *  lists (n == 0) match everything. groups match a group id or a group name. */
typedef struct smar_selection {
    const char *const *ids;
    size_t nids;
    const char *const *names;
    size_t nnames;
    const char *const *types;
    size_t ntypes;
    const char *const *groups;
    size_t ngroups;
    const char *const *labels;
    size_t nlabels;
} smar_selection;

/**
 * Every secret of this archive that sel selects (NULL: every secret), each once: through
 * the index when sel names ids or names (in the order given), else in archive order. A
 * group matches by id or by the name this archive's document gives it. Returns SMAR_OK,
 * SMAR_E_INVALID (a NULL entry in a list), an error, or the callback's stop value.
 */
SMAR_API int smar_reader_select(smar_reader *r, const smar_selection *sel, smar_secret_cb cb,
                                void *payload);

/** Every secret, in the order they were added. Decrypts manifest chunks only. */
SMAR_API int smar_reader_foreach(smar_reader *r, smar_secret_cb cb, void *payload);

/* ---- a secret's manifest record ----------------------------------------------------- */

SMAR_API smar_secret *smar_secret_dup(const smar_secret *s);
SMAR_API void smar_secret_free(smar_secret *s);

SMAR_API const char *smar_secret_id(const smar_secret *s);
SMAR_API const char *smar_secret_type(const smar_secret *s);
SMAR_API const char *smar_secret_name(const smar_secret *s);     /**< "" when absent */
SMAR_API const char *smar_secret_group_id(const smar_secret *s); /**< "" when absent */
SMAR_API smar_time_ns smar_secret_created(const smar_secret *s);
SMAR_API smar_time_ns smar_secret_updated(const smar_secret *s);
SMAR_API size_t smar_secret_label_count(const smar_secret *s);
SMAR_API const char *smar_secret_label(const smar_secret *s, size_t i);
/** The secret object as exported, without "versions" and without payload fields: exact
 *  original JSON text of every member. Borrowed. Checked at each call: NULL (and *len 0)
 *  when the stored text is not a JSON object (a record the writer could not have made). */
SMAR_API const char *smar_secret_metadata_json(const smar_secret *s, size_t *len);
/** Whether the secret object itself carried payload fields (the current payload). */
SMAR_API int smar_secret_has_payload(const smar_secret *s);
/** Whether the exported secret object had a "versions" member (possibly empty): a secret
 *  exported without one is rendered without one. */
SMAR_API int smar_secret_lists_versions(const smar_secret *s);

/** Versions, oldest first (by created_at, then input order). */
SMAR_API size_t smar_secret_version_count(const smar_secret *s);
SMAR_API const smar_version *smar_secret_version(const smar_secret *s, size_t i);
/** The version current at time t: the newest with created_at <= t; NULL when none. */
SMAR_API const smar_version *smar_secret_version_at(const smar_secret *s, smar_time_ns t);
SMAR_API const smar_version *smar_secret_version_by_id(const smar_secret *s, const char *id);

SMAR_API const char *smar_version_id(const smar_version *v);
SMAR_API smar_time_ns smar_version_created(const smar_version *v);
/** Whether this archive holds the version's payload (the export carried it). */
SMAR_API int smar_version_has_payload(const smar_version *v);
/** What the service said of the version's payload when the export was made: its
 *  "payload_available" member, 1 true, 0 false (destroyed, expired, or older than the
 *  previous version: the service had no payload), -1 absent or not a boolean. */
SMAR_API int smar_version_payload_available(const smar_version *v);
SMAR_API uint64_t smar_version_payload_size(const smar_version *v);
/** The version object as exported without payload fields (exact JSON text). Borrowed.
 *  NULL when not a JSON object, as for smar_secret_metadata_json(). */
SMAR_API const char *smar_version_metadata_json(const smar_version *v, size_t *len);

/**
 * Read a payload: the JSON text of an object holding the payload fields exactly as
 * exported, e.g. {"payload":"..."} or {"username":"...","password":"..."}. v NULL reads the
 * secret-level payload. The hash recorded in the manifest is checked. *out is allocated
 * (NUL-terminated, *len excludes the NUL); free it with smar_secret_buffer_free(*out, *len).
 * SMAR_E_NOTFOUND when this archive does not hold it, SMAR_E_AUTH / SMAR_E_CORRUPT on damage.
 */
SMAR_API int smar_reader_read_payload(smar_reader *r, const smar_secret *s, const smar_version *v,
                                      char **out, size_t *len);

/**
 * The value a user means by "the secret" of a payload read above: for an arbitrary secret
 * whose payload object holds the string member "payload", that string decoded (its bytes
 * exactly, which may include NUL); for every other type the payload object's JSON text
 * itself. *out is allocated (NUL-terminated, *len excludes the NUL); free it with
 * smar_secret_buffer_free(*out, *len). SMAR_E_INVALID when json is not a JSON object.
 */
SMAR_API int smar_payload_value(const char *type, const char *json, size_t len, char **out,
                                size_t *out_len);

/**
 * Render a secret as an instance-export secret object: its metadata members, then its
 * payload members (when include_payloads and the archive holds them), then "versions":
 * the versions listed in `versions` (all when NULL), each its metadata plus its payload
 * members. Values are the original JSON text. Free with smar_secret_buffer_free.
 */
SMAR_API int smar_reader_render_secret(smar_reader *r, const smar_secret *s,
                                       const smar_version *const *versions, size_t nversions,
                                       int include_payloads, char **out, size_t *len);

/* ---- verification ------------------------------------------------------------------- */

#define SMAR_VERIFY_KEYED                                                                          \
    1u /**< also decrypt every chunk and check every payload hash                                  \
          (needs unlock first) */

typedef enum smar_problem_kind {
    SMAR_PROBLEM_CHUNK_HASH = 1,   /**< a chunk's bytes do not match the chunk table */
    SMAR_PROBLEM_CHUNK_AUTH = 2,   /**< a chunk fails to decrypt (keyed) */
    SMAR_PROBLEM_PAYLOAD_HASH = 3, /**< a payload does not match its manifest hash (keyed) */
    SMAR_PROBLEM_SECRET = 4,       /**< a secret affected by a damaged chunk (keyed) */
    SMAR_PROBLEM_INDEX = 5,        /**< the index does not match the manifest (keyed) */
} smar_problem_kind;

typedef struct smar_problem {
    smar_problem_kind kind;
    uint64_t chunk;          /**< chunk number in the chunk table */
    int section;             /**< enum smar_section */
    const char *secret_id;   /**< for SECRET/PAYLOAD_HASH, else NULL */
    const char *secret_name; /**< for SECRET/PAYLOAD_HASH, else NULL */
    const char *version_id;  /**< the affected version, or NULL for the whole secret */
    const char *detail;      /**< what is wrong, in words */
} smar_problem;

typedef void (*smar_problem_cb)(const smar_problem *p, void *payload);
/** Progress while verifying: bytes checked so far of total. */
typedef void (*smar_progress_cb)(uint64_t done, uint64_t total, void *payload);

/** What the producer's signature says (smar verify's "signature"). Failures are < 0. */
typedef enum smar_signature_status {
    SMAR_SIGNATURE_INVALID = -2,      /**< signed, but the signature does not verify for the
                                           key it names over this file's root hash */
    SMAR_SIGNATURE_OTHER_SIGNER = -1, /**< a valid signature by another key than the public
                                           key given */
    SMAR_SIGNATURE_ABSENT = 0,        /**< not signed (a failure when a public key is given) */
    SMAR_SIGNATURE_VALID = 1,         /**< valid, made by the public key given */
    SMAR_SIGNATURE_UNCHECKED = 2,     /**< valid for the key it names, but no public key was
                                           given: integrity, not who signed */
} smar_signature_status;

/** What smar_reader_verify found. Versioned like smar_archive_info. */
typedef struct smar_verify_result {
    int version; /**< SMAR_VERIFY_RESULT_VERSION */
    uint64_t chunks_checked;
    uint64_t chunks_bad;
    uint64_t bytes_checked;
    int root_ok; /**< root hash recomputed and equal */
    smar_signature_status signature;
    uint64_t secrets_checked;  /**< keyed */
    uint64_t payloads_checked; /**< keyed: payload locators checked (a record shared by a
                                    secret and its version is checked for each) */
    uint64_t secrets_bad;      /**< keyed: secrets (distinct ids) with at least one problem */
    int index_ok;              /**< keyed: 1 the index holds exactly the manifest's secrets, sorted;
                                    0 it does not; -1 not checked */
    uint64_t versions_checked; /**< keyed: versions over all secrets (as the meta section's
                                    version_count) */
    uint64_t payload_records_checked; /**< keyed: stored payload records checked, a shared
                                           one once (as the meta section's payload_count) */
} smar_verify_result;

#define SMAR_VERIFY_RESULT_VERSION 1
#define SMAR_VERIFY_RESULT_INIT                                                                    \
    {                                                                                              \
        .version = SMAR_VERIFY_RESULT_VERSION                                                      \
    }

/**
 * Check the archive. Keyless (flags 0): every chunk's BLAKE2b against the chunk table, the
 * root hash, and with pubkey (may be NULL) the producer's signature. With SMAR_VERIFY_KEYED
 * (after unlock) also every chunk's decryption, the manifest, that the index holds exactly
 * the manifest's secrets in order, and every payload's hash; each damaged chunk is reported with
 * the secrets it affects. Returns SMAR_OK when all is well, SMAR_E_CORRUPT when anything is
 * damaged (after reporting all problems through cb), SMAR_E_AUTH when the bytes are intact but
 * the signature is invalid, or pubkey is given and the signature is absent or another key's
 * (result->signature says which), other errors when it could not check (I/O).
 * result may be NULL; else its version must be set (SMAR_VERIFY_RESULT_INIT; SMAR_E_INVALID
 * before anything is read otherwise), and it is filled whatever the return.
 */
SMAR_API int smar_reader_verify(smar_reader *r, unsigned flags, const uint8_t *pubkey,
                                smar_verify_result *result, smar_problem_cb cb,
                                smar_progress_cb progress, void *payload);

/**
 * Pin the producer: check, without a key and without decrypting anything, that the opened
 * archive is signed by one of ntrusted public keys: trusted holds them one after the other,
 * SMAR_SIGN_PUBLIC_BYTES each (smar_signkey_load_public). The root hash is
 * recomputed from the header, chunk table and trailer as opened and the Ed25519 signature
 * over it is verified. After unlock the root MAC ties every chunk's hash in the table to
 * that root, so a pinned root pins every chunk. Returns SMAR_OK, SMAR_E_INVALID (not open,
 * no key given), or SMAR_E_AUTH (the handle is then dead) with a message saying "not signed
 * by a trusted producer" and why: "unsigned", "signed by FINGERPRINT" (another key,
 * smar_signkey_fingerprint), or that the trusted signer's signature does not verify.
 */
SMAR_API int smar_reader_check_signer(smar_reader *r, const uint8_t *trusted, size_t ntrusted);

#ifdef __cplusplus
}
#endif
#endif
