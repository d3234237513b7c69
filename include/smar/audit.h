/*
 * smar/audit.h - is a series of archives a usable backup history? Without a key.
 *
 * An audit looks at every archive of a series (the nightly files of one instance) and
 * tells, per archive, whether it is intact (root hash and every chunk, the keyless
 * smar_reader_verify) and signed by one of the pinned producers; then, over the good
 * archives sorted by snapshot time, the worst gap between consecutive snapshots (the RPO
 * the series achieved) and whether it exceeds the allowed interval.
 *
 * The instance an archive belongs to is inside its encrypted document: an audit without a
 * key cannot tell it. For an unlocked reader (smar_reader_unlock before add) the audit
 * compares the document's instance (CRN, else guid) with the other unlocked archives'.
 *
 *   smar_audit *a; smar_audit_new(&a);
 *   smar_audit_set_trusted(a, pubkeys, n); smar_audit_set_every(a, 3600000000000LL);
 *   smar_audit_add(a, reader, "nightly-1.smar");  ...   // each is checked as it is added
 *   smar_audit_summary sum = SMAR_AUDIT_SUMMARY_INIT; smar_audit_finish(a, &sum);
 *   for (i < smar_audit_count(a)) smar_audit_entry_at(a, i, &e);
 *
 * Incremental archives (format 2.1) list their bases in clear: at finish, every base each
 * one lists must be one of the archives added (or left out by the "since" time), with the
 * same archive id and content digest (a rewrapped base still matches), and itself intact
 * and signed by a pinned producer. A base not in the series is SMAR_AUDIT_MISSING_BASE; a
 * base present with another content digest, or itself not good, is SMAR_AUDIT_BAD_BASE.
 */
#ifndef SMAR_AUDIT_H
#define SMAR_AUDIT_H

#include "smar/common.h"
#include "smar/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_audit smar_audit;

/** What is wrong with one archive; SMAR_AUDIT_OK when nothing. */
typedef enum smar_audit_status {
    SMAR_AUDIT_OK = 0,
    SMAR_AUDIT_DAMAGED = 1,        /**< a chunk or the root hash does not check */
    SMAR_AUDIT_UNSIGNED = 2,       /**< intact, but not signed */
    SMAR_AUDIT_OTHER_SIGNER = 3,   /**< intact, validly signed by a key not pinned */
    SMAR_AUDIT_BAD_SIGNATURE = 4,  /**< intact, but the signature does not verify */
    SMAR_AUDIT_OTHER_INSTANCE = 5, /**< unlocked: its document names another instance */
    SMAR_AUDIT_UNREADABLE = 6,     /**< could not be checked (I/O); see detail */
    SMAR_AUDIT_BAD_BASE = 7,       /**< intact and signed, but a base it lists is altered
                                        (another content digest) or damaged / not authentic */
    SMAR_AUDIT_MISSING_BASE = 8,   /**< intact and signed, but a base it lists is not in the
                                        series (not even before the "since" time) */
} smar_audit_status;

/** One archive, in snapshot order after smar_audit_finish. Strings are borrowed from the
 *  audit. Versioned (smar/common.h). */
typedef struct smar_audit_entry {
    int version; /**< SMAR_AUDIT_ENTRY_VERSION */
    const char *name;
    smar_audit_status status;
    const char *detail; /**< a short reason when status is not OK, else "" */
    uint8_t archive_id[16];
    smar_time_ns snapshot; /**< its snapshot time, else its creation time */
    int is_signed;
    uint8_t signer[32];   /**< when is_signed */
    const char *instance; /**< unlocked archives: the document's CRN (else guid); else NULL */
    /** The gap from the previous good archive's snapshot to this one's (this one good),
     *  else 0; exceeds_every: that gap is longer than the allowed interval. */
    smar_time_ns gap_before;
    int exceeds_every;
    /* version 2: the chain shape, in clear in the header */
    int incremental;       /**< 1: an incremental archive (format 2.1) */
    size_t base_count;     /**< the bases it lists (smar_audit_entry_base); 0 when full */
    uint8_t parent_id[16]; /**< base 0, the snapshot it was made against, when incremental */
    size_t missing_bases;  /**< how many of its bases are not in the series */
} smar_audit_entry;

#define SMAR_AUDIT_ENTRY_VERSION 2
#define SMAR_AUDIT_ENTRY_INIT                                                                      \
    {                                                                                              \
        .version = SMAR_AUDIT_ENTRY_VERSION                                                        \
    }

/** The series as a whole. Versioned. */
typedef struct smar_audit_summary {
    int version;                 /**< SMAR_AUDIT_SUMMARY_VERSION */
    size_t archives;             /**< archives audited (those before the "since" time are not) */
    size_t good;                 /**< intact, signed by a pinned producer, same instance */
    size_t bad;                  /**< archives - good */
    smar_time_ns first, last;    /**< snapshots of the first and last good archive, or NONE */
    smar_time_ns worst_gap;      /**< the longest gap between consecutive good snapshots (0
                                      with fewer than two) */
    smar_time_ns worst_gap_from; /**< that gap's two snapshots (NONE when no gap) */
    smar_time_ns worst_gap_to;
    size_t gaps_over; /**< gaps longer than the allowed interval (0 when none is set) */
    /* version 2: */
    size_t incremental;   /**< incremental archives among those audited */
    size_t missing_bases; /**< distinct base archives listed but not in the series */
} smar_audit_summary;

#define SMAR_AUDIT_SUMMARY_VERSION 2
#define SMAR_AUDIT_SUMMARY_INIT                                                                    \
    {                                                                                              \
        .version = SMAR_AUDIT_SUMMARY_VERSION                                                      \
    }

SMAR_API int smar_audit_new(smar_audit **out);
SMAR_API void smar_audit_free(smar_audit *a);
SMAR_API const char *smar_audit_error(const smar_audit *a);

/** The pinned producers: n public keys of SMAR_SIGN_PUBLIC_BYTES, one after the other
 *  (copied). With none, every archive is at best SMAR_AUDIT_UNSIGNED or OTHER_SIGNER:
 *  an audit without a pinned producer cannot say who made the backups. */
SMAR_API int smar_audit_set_trusted(smar_audit *a, const uint8_t *keys, size_t n);
/** The longest allowed gap between consecutive snapshots; 0 (default) checks none. */
SMAR_API int smar_audit_set_every(smar_audit *a, smar_time_ns every);
/** Archives whose snapshot is before t are left out (default: SMAR_TIME_NONE, none). */
SMAR_API int smar_audit_set_since(smar_audit *a, smar_time_ns t);

/**
 * Check one opened reader now (keyless verify of every chunk and the root hash, then the
 * signer) and record the outcome under name (copied). The reader is not kept. Damage and
 * a wrong signer are outcomes, not errors: SMAR_OK. An I/O error while checking is recorded
 * as SMAR_AUDIT_UNREADABLE, also SMAR_OK. Errors: SMAR_E_NOMEM, SMAR_E_INVALID, and
 * SMAR_E_CANCELLED from the source. progress (may be NULL) is passed to the verify.
 */
SMAR_API int smar_audit_add(smar_audit *a, smar_reader *r, const char *name,
                            smar_progress_cb progress, void *payload);
/** Record an archive that could not even be opened (status UNREADABLE or DAMAGED). */
SMAR_API int smar_audit_add_failed(smar_audit *a, const char *name, smar_audit_status status,
                                   const char *detail);

/** Sort by snapshot, compute the gaps and fill sum. Call once, after the last add. */
SMAR_API int smar_audit_finish(smar_audit *a, smar_audit_summary *sum);
SMAR_API size_t smar_audit_count(const smar_audit *a);
SMAR_API int smar_audit_entry_at(const smar_audit *a, size_t i, smar_audit_entry *out);
/** How one listed base of an incremental archive was found. */
typedef enum smar_audit_base_state {
    SMAR_AUDIT_BASE_OK = 0,      /**< in the series, same id and content digest, good */
    SMAR_AUDIT_BASE_MISSING = 1, /**< no archive of the series has its id */
    SMAR_AUDIT_BASE_ALTERED = 2, /**< its id, but another content digest */
    SMAR_AUDIT_BASE_BAD = 3,     /**< the same archive, but damaged or not authentic */
} smar_audit_base_state;

/** Base j (< entry's base_count) of entry i, after smar_audit_finish: what its header lists
 *  (out, versioned) and how it was found (*state, may be NULL). SMAR_E_INVALID otherwise. */
SMAR_API int smar_audit_entry_base(const smar_audit *a, size_t i, size_t j, smar_base_info *out,
                                   smar_audit_base_state *state);

/** A word for a status: "ok", "damaged", "unsigned", "other-signer", "bad-signature",
 *  "other-instance", "unreadable", "bad-base", "missing-base". */
SMAR_API const char *smar_audit_status_word(smar_audit_status st);

#ifdef __cplusplus
}
#endif
#endif
