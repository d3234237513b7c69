/*
 * smar/diff.h - what changed between two snapshots of an instance, without a value.
 *
 * A diff lists, per secret (by id), what happened between an old and a new snapshot:
 * created, deleted, rotated (the versions the new snapshot has that the old did not),
 * metadata changed (the NAMES of the members of the secret's metadata object whose value
 * differs: "description", "labels", "name"...; not "retrieved_at", which every export sets
 * by reading the secret), moved to another group. It never hands out
 * a payload nor a metadata value: only ids, types, group ids, names, version ids and times,
 * so a diff can be shown to someone who may not see the secrets.
 *
 * The snapshots are either two archives (each its own manifest, smar_diff_archives) or two
 * times of a series (what smar_series_resolve answers at each, smar_diff_series). Changes
 * are reported in id order; for one secret in the order of enum smar_change_kind.
 *
 *   static int show(const smar_change *c, void *p) { printf("%s %s\n", ...); return 0; }
 *   smar_diff_archives(old_reader, new_reader, show, NULL);
 */
#ifndef SMAR_DIFF_H
#define SMAR_DIFF_H
#include "smar/common.h"
#include "smar/reader.h"
#include "smar/series.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smar_change_kind {
    SMAR_CHANGE_CREATED = 1,  /**< in the new snapshot only */
    SMAR_CHANGE_DELETED = 2,  /**< in the old snapshot only */
    SMAR_CHANGE_ROTATED = 3,  /**< the new snapshot lists versions the old did not */
    SMAR_CHANGE_METADATA = 4, /**< metadata members differ (names in fields) */
    SMAR_CHANGE_MOVED = 5,    /**< its secret_group_id differs */
} smar_change_kind;

/** A version the new snapshot lists and the old does not. */
typedef struct smar_change_version {
    const char *id;
    smar_time_ns created; /**< its created_at, SMAR_TIME_NONE when absent */
} smar_change_version;

/** One change of one secret. Every pointer is valid during the callback only. */
typedef struct smar_change {
    smar_change_kind kind;
    const char *id;
    const char *type;
    const char *group_id; /**< the group it is in (the new snapshot's, the old one's when
                               deleted); "" when none */
    const char *name;     /**< its name (as group_id); "" when absent */
    /** MOVED: the group it was in before. Else NULL. */
    const char *old_group_id;
    /** ROTATED: the new versions, oldest first. */
    const smar_change_version *versions;
    size_t nversions;
    /** METADATA: the names of the members that were added, removed or changed, sorted
     *  bytewise (secret_group_id is reported as MOVED, never here). A name may hold NUL
     *  bytes: field_lens gives each length. */
    const char *const *fields;
    const size_t *field_lens;
    size_t nfields;
} smar_change;

/** Called for each change. Return 0 to go on or a positive value (SMAR_STOP) to stop: the
 *  diffing call then returns it. A negative return is refused: SMAR_E_INVALID. */
typedef int (*smar_change_cb)(const smar_change *c, void *payload);

/**
 * The changes between the records of one secret: old NULL means created, new NULL deleted.
 * Versions created after new_limit are not counted as new (SMAR_TIME_NONE: no limit).
 * Returns SMAR_OK, SMAR_E_INVALID (both NULL, or a record whose metadata is not a JSON
 * object), SMAR_E_NOMEM, or the callback's stop value.
 */
SMAR_API int smar_diff_secrets(const smar_secret *old_secret, const smar_secret *new_secret,
                               smar_time_ns new_limit, smar_change_cb cb, void *payload);

/** The changes from archive old_r to archive new_r (both unlocked): every manifest is read
 *  (not payloads). Returns SMAR_OK, an error of reading either (smar_reader_error says
 *  which), SMAR_E_NOMEM, or the callback's stop value. */
SMAR_API int smar_diff_archives(smar_reader *old_r, smar_reader *new_r, smar_change_cb cb,
                                void *payload);

/** The changes of series s from time t1 to time t2: a secret exists at a time when
 *  smar_series_resolve says it did (FOUND, NO_PAYLOAD, NO_PAYLOAD_RECORDED) and is compared
 *  as the record describing it there. Returns SMAR_OK, an error (smar_series_error says
 *  which), or the callback's stop value. */
SMAR_API int smar_diff_series(smar_series *s, smar_time_ns t1, smar_time_ns t2, smar_change_cb cb,
                              void *payload);

#ifdef __cplusplus
}
#endif
#endif
