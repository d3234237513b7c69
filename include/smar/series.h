/*
 * smar/series.h - "what was this secret at time T", from one archive or a whole series.
 *
 * The service keeps the payload of only the current and the previous version of a secret,
 * so one archive can answer for a short window only; a series of nightly archives answers
 * for as far back as the series goes. The rules (spec/FORMAT.md, "Point-in-time queries"):
 *  - The deciding snapshot for T is the newest archive whose snapshot is at or before T
 *    (the last one for T after every snapshot). A secret it holds existed at T, as it
 *    recorded it (metadata, versions, aliases, "payload_available"); one it lacks, held by
 *    an earlier archive, had been deleted; one no archive at or before T holds existed at T
 *    only if a later archive shows it was created after that snapshot (or, for T before
 *    every snapshot, at or before T).
 *  - The version at T is the newest version with created_at <= T known to any archive;
 *    its payload is taken from any archive that holds it, unless the deciding snapshot
 *    recorded "payload_available": false for it (the service had none at T).
 *  - "The service had no payload" (destroyed, expired, pre-activation, no versions, or an
 *    export that did not carry it) is SMAR_AT_NO_PAYLOAD_RECORDED: restored as recorded.
 *    "A payload existed but no given archive holds it" is SMAR_AT_NO_PAYLOAD, with the
 *    snapshot times that would have held it.
 *  - Archives of different instances (the document's instance CRN) are refused by add.
 *
 *   smar_series *s; smar_series_new(&s);
 *   smar_series_add(s, reader1); smar_series_add(s, reader2);     // unlocked readers
 *   smar_at at; smar_series_resolve(s, "0b5f...", t, &at);
 *   if (at.status == SMAR_AT_FOUND) smar_series_render(s, &at, 0, &json, &len);
 */
#ifndef SMAR_SERIES_H
#define SMAR_SERIES_H

#include "smar/common.h"
#include "smar/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_series smar_series;

SMAR_API int smar_series_new(smar_series **out);
SMAR_API void smar_series_free(smar_series *s);
SMAR_API const char *smar_series_error(const smar_series *s);

/** Add an unlocked reader. Borrowed: it must outlive the series. Order does not matter. */
SMAR_API int smar_series_add(smar_series *s, smar_reader *r);

/** Opens one archive of the series when a query first needs it: *out an unlocked reader
 *  that stays the caller's (it must outlive the series), or a status (SMAR_E_CORRUPT and
 *  the other damage statuses count as damage for smar_series_set_skip_damaged). */
typedef int (*smar_series_open_cb)(void *ctx, smar_reader **out);

/**
 * Add an archive not opened yet, known by its snapshot time alone (say, from an object
 * name in a listing). Queries open it only when they need it: a resolve first asks the
 * deciding snapshot and the first archive after T, and the others only when those two
 * cannot answer alone (the deciding snapshot lacks the secret, or no payload is found);
 * smar_series_select and resolve_version open every archive, and once all are open every
 * resolve asks them all (so render with all_versions sees every version: select first). When
 * opened, the archive's own snapshot time must be the one given (to the second), else the query
 * fails with SMAR_E_CORRUPT; archives of another instance are refused as by add.
 */
SMAR_API int smar_series_add_source(smar_series *s, smar_time_ns snapshot, smar_series_open_cb open,
                                    void *ctx);

/**
 * With skip non-zero, an archive that turns out damaged while answering (a chunk, index
 * or record fails its check: SMAR_E_CORRUPT, SMAR_E_AUTH, SMAR_E_FORMAT, SMAR_E_LIMIT) is
 * left out of that and every later answer, and the others answer, instead of the call
 * failing. smar_series_archive_status() tells which were left out. Default: off.
 */
SMAR_API int smar_series_set_skip_damaged(smar_series *s, int skip);

/** SMAR_OK for an archive in which no damage was met; else the status of the first damage
 *  met in it: either it was left out (its index or records are damaged), or only some
 *  payload chunks were, and those payloads were taken from other archives holding the same
 *  version (or the secret could not be rendered). *why (may be NULL) receives the reader's
 *  message then ("" otherwise), borrowed from the series. SMAR_E_INVALID when r is not in
 *  the series. */
SMAR_API int smar_series_archive_status(const smar_series *s, const smar_reader *r,
                                        const char **why);

/** The export document (instance, exported_at, secret_groups, configurations) of the
 *  deciding snapshot for t (else the oldest archive): what an export of the answer at t
 *  begins with. Borrowed from that reader. */
SMAR_API int smar_series_document(smar_series *s, smar_time_ns t, const char **json, size_t *len);

/** The latest snapshot time of the series (what "now" means without --at). */
SMAR_API smar_time_ns smar_series_latest(const smar_series *s);

typedef enum smar_at_status {
    SMAR_AT_FOUND = 0,       /**< existed at T; the payload of its version at T is found (for a
                                  secret without versions: its secret-level payload) */
    SMAR_AT_NOT_CREATED = 1, /**< did not exist yet at T (or was not in the snapshot at T) */
    SMAR_AT_DELETED = 2,     /**< an earlier archive holds it, the deciding snapshot does not */
    SMAR_AT_NO_PAYLOAD = 3,  /**< a payload existed at T, but no given archive holds it */
    SMAR_AT_NO_PAYLOAD_RECORDED = 4, /**< existed at T without a payload: the deciding snapshot
                                          recorded none (the service had none, or the export
                                          did not carry it). Rendered as recorded. */
} smar_at_status;

/** The answer for one secret at one time. Pointers stay valid until the next resolve on
 *  this series or its free. Versioned (smar/common.h): declare it as
 *  `smar_at at = SMAR_AT_INIT;` before resolving into it. */
typedef struct smar_at {
    int version; /**< SMAR_AT_VERSION: set by the caller, kept by resolve */
    smar_at_status status;
    smar_time_ns at;
    /** The deciding snapshot's time (see above), SMAR_TIME_NONE for T before every one. */
    smar_time_ns snapshot;
    /** When the secret came to be: the describing record's created_at, else its oldest
     *  known version's (SMAR_TIME_NONE when neither is known). */
    smar_time_ns created;
    /** The record describing the secret: the deciding snapshot's when it holds the
     *  secret, else the nearest archive's in describing order (newest at or before T,
     *  then oldest after T). */
    smar_reader *reader;
    const smar_secret *secret;
    /** The version at T, from a record that lists it; NULL when the secret had no version
     *  at T, and for NOT_CREATED / DELETED. */
    const smar_secret *version_secret;
    const smar_version *version_at;
    /** What the deciding snapshot (else the version's record) said of the version's payload:
     *  its "payload_available", 1, 0, or -1 when absent. */
    int payload_available;
    /** Where its payload is (FOUND): an archive whose record holds the payload;
     *  payload_version NULL means that record's secret-level payload. */
    smar_reader *payload_reader;
    const smar_secret *payload_secret;
    const smar_version *payload_version;
    /** DELETED: the snapshot time of the first archive that lacks the secret. */
    smar_time_ns deleted_seen;
    /** NO_PAYLOAD: snapshots taken at times in [payload_from, payload_until) would have
     *  held the payload (it was the current or previous version then); payload_until is
     *  SMAR_TIME_NONE when the window is still open. */
    smar_time_ns payload_from;
    smar_time_ns payload_until;
    /** Archives left out as damaged so far (smar_series_set_skip_damaged). */
    size_t damaged_archives;
} smar_at;

#define SMAR_AT_VERSION 1
#define SMAR_AT_INIT                                                                               \
    {                                                                                              \
        .version = SMAR_AT_VERSION                                                                 \
    }

/** Resolve secret id at time t. SMAR_OK with *out filled (see status), SMAR_E_NOTFOUND
 *  when no archive of the series knows the id, SMAR_E_INVALID when out->version is
 *  unknown, other errors on damage or I/O. The calls taking an smar_at back check its
 *  version too. */
SMAR_API int smar_series_resolve(smar_series *s, const char *id, smar_time_ns t, smar_at *out);

/** One version by id, whenever it was made: out->status is SMAR_AT_FOUND with the archive
 *  that holds its payload, or SMAR_AT_NO_PAYLOAD (with the window that would have held it);
 *  out->secret describes the secret as the newest archive holding it does.
 *  SMAR_E_NOTFOUND when no archive knows the secret or that version of it. */
SMAR_API int smar_series_resolve_version(smar_series *s, const char *id, const char *version_id,
                                         smar_at *out);

/** Called once per distinct secret id matching the selection in any archive. Return 0 to
 *  go on or a positive value (SMAR_STOP) to stop; a negative return gives SMAR_E_INVALID. */
typedef int (*smar_id_cb)(const char *id, void *payload);

/**
 * Every distinct secret id that matches sel in at least one archive's record, in the order
 * first met (archives oldest snapshot first). Uses the indexes when sel names ids or names
 * only; otherwise reads every manifest. Returns SMAR_OK, an error, or the callback's stop.
 */
SMAR_API int smar_series_select(smar_series *s, const smar_selection *sel, smar_id_cb cb,
                                void *payload);

/**
 * As smar_series_select, asking only the archives around t: the deciding snapshot for t
 * and the first archive after it (each opened if need be), as a resolve does first. Every
 * secret that existed at t and that any archive holds is among what they hold (one made
 * after the deciding snapshot and deleted before the next archive is in none), so "the
 * secret named N at t" can be asked here first, without opening every archive of a long
 * series (each an unwrap of its key; for an incremental archive, its chain's lookups), and
 * of smar_series_select only when none of the ids found here existed at t (to say why).
 */
SMAR_API int smar_series_select_near(smar_series *s, const smar_selection *sel, smar_time_ns t,
                                     smar_id_cb cb, void *payload);

/**
 * Render the secret as it was at at->at, as an instance-export secret object (status FOUND,
 * NO_PAYLOAD_RECORDED or NO_PAYLOAD): the describing record's metadata; its secret-level
 * payload members as that record carried them (or, when the version at T is newer than
 * that record, the payload of the version at T); and "versions" (left out when the secret
 * was exported without that member): the versions the describing record lists created at
 * or before T, plus the version at T, or with all_versions every version created at or
 * before T that any archive knows. Each version carries the metadata of the record listing
 * it (without its "alias" when the describing record does not list it and it is not the
 * version at T: an older snapshot's "current" is not true at T) and its payload when an
 * archive holds it and that record does not say the service had none. With one archive and T its
 * snapshot, this is the exported secret exactly (member order normalised, spec/FORMAT.md section
 * 12). Free with smar_secret_buffer_free.
 */
SMAR_API int smar_series_render(smar_series *s, const smar_at *at, int all_versions, char **out,
                                size_t *len);

/** The payload of the version at T (FOUND only), as smar_reader_read_payload gives it. */
SMAR_API int smar_series_read_payload(smar_series *s, const smar_at *at, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
