/*
 * smar/series.h - "what was this secret at time T", from one archive or a whole series.
 *
 * The service keeps the payload of only the current and the previous version of a secret,
 * so one archive can answer for a short window only; a series of nightly archives answers
 * for as far back as the series goes. The rules (spec/FORMAT.md, "Point-in-time queries"):
 *  - A secret's version at T is its newest version with created_at <= T found in any of
 *    the archives; its payload is taken from any archive that holds it.
 *  - A secret exists at T if it was created at or before T and no archive whose snapshot
 *    time lies between its creation and T lacks it (that archive shows it was deleted).
 *  - When the version at T is known but no archive holds its payload, the result says so,
 *    and which snapshot times would have held it.
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

/** The latest snapshot time of the series (what "now" means without --at). */
SMAR_API smar_time_ns smar_series_latest(const smar_series *s);

typedef enum smar_at_status {
    SMAR_AT_FOUND = 0,       /**< version and payload found */
    SMAR_AT_NOT_CREATED = 1, /**< created after T (or no version existed at T) */
    SMAR_AT_DELETED = 2,     /**< an archive between its creation and T lacks it */
    SMAR_AT_NO_PAYLOAD = 3,  /**< the version at T is known, no archive holds its payload */
} smar_at_status;

/** The answer for one secret at one time. Pointers stay valid until the next resolve on
 *  this series or its free. */
typedef struct smar_at {
    smar_at_status status;
    smar_time_ns at;
    /** The record describing the secret: from the newest archive with snapshot <= T that
     *  holds it, else the oldest archive holding it. */
    smar_reader *reader;
    const smar_secret *secret;
    /** The version at T (NULL for NOT_CREATED/DELETED), from a record that lists it. */
    const smar_secret *version_secret;
    const smar_version *version;
    /** Where its payload is (FOUND): an archive whose record holds the payload. */
    smar_reader *payload_reader;
    const smar_secret *payload_secret;
    const smar_version *payload_version;
    /** DELETED: the snapshot time of an archive that lacks the secret. */
    smar_time_ns deleted_seen;
    /** NO_PAYLOAD: snapshots taken at times in [payload_from, payload_until) would have
     *  held the payload (it was the current or previous version then); payload_until is
     *  SMAR_TIME_NONE when the window is still open. */
    smar_time_ns payload_from;
    smar_time_ns payload_until;
} smar_at;

/** Resolve secret id at time t. SMAR_OK with *out filled (see status), SMAR_E_NOTFOUND
 *  when no archive of the series knows the id, other errors on damage or I/O. */
SMAR_API int smar_series_resolve(smar_series *s, const char *id, smar_time_ns t, smar_at *out);

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

/** Called once per distinct secret id matching the selection in any archive. */
typedef int (*smar_id_cb)(const char *id, void *payload);

/**
 * Every distinct secret id that matches sel in at least one archive's record, in the order
 * first met (archives oldest snapshot first). Uses the indexes when sel names ids or names
 * only; otherwise reads every manifest. Returns SMAR_OK, an error, or the callback's stop.
 */
SMAR_API int smar_series_select(smar_series *s, const smar_selection *sel, smar_id_cb cb,
                                void *payload);

/**
 * Render the secret as it was at at->at, as an instance-export secret object: the
 * describing record's metadata, the payload members of the version at T, and "versions":
 * the version at T only, or with all_versions every known version created at or before T
 * (each with its payload when some archive holds it). Free with smar_secret_buffer_free.
 */
SMAR_API int smar_series_render(smar_series *s, const smar_at *at, int all_versions, char **out,
                                size_t *len);

/** The payload of the version at T (FOUND only), as smar_reader_read_payload gives it. */
SMAR_API int smar_series_read_payload(smar_series *s, const smar_at *at, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
