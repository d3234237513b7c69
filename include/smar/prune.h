/*
 * smar/prune.h - which archives of a series a retention policy keeps (restic's `forget`
 * semantics), as a pure function of their snapshot times: no archive is read, no file
 * touched. `smar prune` reads the times (in clear: no key needed) and deletes the rest.
 *
 * The rules (every calendar in UTC):
 *  - Snapshots are taken newest first (equal times: the one given first counts as newer).
 *  - --keep-last N keeps the N newest.
 *  - --keep-hourly/daily/weekly/monthly/yearly N keeps, for each of the last N hours
 *    (days, ISO weeks from Monday 00:00, months, years) that have snapshots, the newest
 *    snapshot of that period. Periods without snapshots are not counted.
 *  - --keep-within D keeps every snapshot strictly newer than the newest minus D, where D
 *    is years, months, days and hours subtracted on the calendar ("1y5m7d2h"), as restic's.
 *  - A snapshot kept by any rule is kept; its reasons are every rule that kept it.
 *  - Unlike restic 0.17+, no "oldest" snapshot is kept additionally when a rule finds fewer
 *    periods than it asks for.
 *
 *   smar_prune_policy p = SMAR_PRUNE_POLICY_INIT; p.keep_daily = 7;
 *   unsigned reasons[n]; smar_prune_apply(&p, times, n, reasons);  // 0: delete
 */
#ifndef SMAR_PRUNE_H
#define SMAR_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "smar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A count meaning "every period" (restic's "unlimited"). */
#define SMAR_PRUNE_UNLIMITED UINT32_MAX

/** A --keep-within duration, subtracted on the calendar (month ends as restic/Go:
 *  March 31 minus 1 month is "February 31", that is March 3 or 2). */
typedef struct smar_prune_within {
    uint32_t years, months, days, hours;
} smar_prune_within;

/** Versioned (smar/common.h): declare it as `smar_prune_policy p = SMAR_PRUNE_POLICY_INIT;`.
 *  Every count 0 means the rule is off. */
typedef struct smar_prune_policy {
    int version; /**< SMAR_PRUNE_POLICY_VERSION */
    uint32_t keep_last;
    uint32_t keep_hourly;
    uint32_t keep_daily;
    uint32_t keep_weekly;
    uint32_t keep_monthly;
    uint32_t keep_yearly;
    smar_prune_within keep_within; /**< all zero: off */
} smar_prune_policy;

#define SMAR_PRUNE_POLICY_VERSION 1
#define SMAR_PRUNE_POLICY_INIT                                                                     \
    {                                                                                              \
        .version = SMAR_PRUNE_POLICY_VERSION                                                       \
    }

/** Why a snapshot is kept: bits of the reasons smar_prune_apply gives. */
enum smar_prune_reason {
    SMAR_PRUNE_LAST = 1u << 0,
    SMAR_PRUNE_HOURLY = 1u << 1,
    SMAR_PRUNE_DAILY = 1u << 2,
    SMAR_PRUNE_WEEKLY = 1u << 3,
    SMAR_PRUNE_MONTHLY = 1u << 4,
    SMAR_PRUNE_YEARLY = 1u << 5,
    SMAR_PRUNE_WITHIN = 1u << 6,
};

/** "last", "hourly", "daily", "weekly", "monthly", "yearly", "within" for one bit; NULL for
 *  anything else. */
SMAR_API const char *smar_prune_reason_name(unsigned reason);

/** Whether the policy has at least one rule (an empty policy would delete everything: it is
 *  refused, as restic refuses it). */
SMAR_API int smar_prune_policy_is_empty(const smar_prune_policy *p);

/**
 * Parse a --keep-within duration: one or more of <number>y, <number>m (months), <number>d,
 * <number>h, each unit at most once, in that order ("7d", "1y5m7d2h"). SMAR_OK, or
 * SMAR_E_INVALID for anything else (empty, unknown unit, a number over 100000, all zero).
 */
SMAR_API int smar_prune_parse_within(const char *text, smar_prune_within *out);

/**
 * Apply the policy to n snapshot times (any order). reasons[i] receives the reasons
 * snapshot i is kept (bits of enum smar_prune_reason), 0 when no rule keeps it. SMAR_OK;
 * SMAR_E_INVALID for a NULL argument, an unknown p->version, an empty policy, or a time
 * that is SMAR_TIME_NONE: reasons must then not be used (nothing may be deleted on it).
 */
SMAR_API int smar_prune_apply(const smar_prune_policy *p, const smar_time_ns *times, size_t n,
                              unsigned *reasons);

#ifdef __cplusplus
}
#endif
#endif
