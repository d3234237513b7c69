/*
 * prune.c - the retention policy of smar/prune.h: which snapshot times a policy keeps.
 *
 * A pure function, so it can be tested against hand-computed tables: restic's algorithm
 * (walk the snapshots newest first; each "bucket" rule keeps a snapshot when its period
 * differs from the last period that rule kept, until its count is used up), with every
 * calendar computed here in UTC from the day number, not through the C library's time
 * zone machinery.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smar/prune.h"

#define NS_PER_SECOND   INT64_C(1000000000)
#define SECONDS_PER_DAY INT64_C(86400)

/* ---- civil calendar (proleptic Gregorian, UTC) ---------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days: exact for every int64 day we meet. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct civil {
    int64_t year, month, day;
};

static struct civil civil_from_days(int64_t z)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    struct civil c;
    c.day = doy - (153 * mp + 2) / 5 + 1;
    c.month = mp < 10 ? mp + 3 : mp - 9;
    c.year = yoe + era * 400 + (c.month <= 2);
    return c;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Where a time falls: its day number, hour of the day, and the rest within the day. */
struct moment {
    int64_t day;
    int64_t second_of_day;
    int64_t ns_of_second;
};

static struct moment moment_of(smar_time_ns t)
{
    struct moment m;
    int64_t seconds = floor_div(t, NS_PER_SECOND);
    m.ns_of_second = t - seconds * NS_PER_SECOND;
    m.day = floor_div(seconds, SECONDS_PER_DAY);
    m.second_of_day = seconds - m.day * SECONDS_PER_DAY;
    return m;
}

/* ---- periods --------------------------------------------------------------------------- */

static int64_t period_hour(smar_time_ns t)
{
    struct moment m = moment_of(t);
    return m.day * 24 + m.second_of_day / 3600;
}

static int64_t period_day(smar_time_ns t)
{
    return moment_of(t).day;
}

/* ISO 8601 week: Monday to Sunday; numbered by the year its Thursday is in. Any value that
 * names the week uniquely will do: the day number of its Monday. (1970-01-01 was a
 * Thursday: day 0 has weekday 3 counting Monday as 0.) */
static int64_t period_week(smar_time_ns t)
{
    int64_t day = moment_of(t).day;
    int64_t weekday = ((day + 3) % 7 + 7) % 7;
    return day - weekday;
}

static int64_t period_month(smar_time_ns t)
{
    struct civil c = civil_from_days(moment_of(t).day);
    return c.year * 12 + (c.month - 1);
}

static int64_t period_year(smar_time_ns t)
{
    return civil_from_days(moment_of(t).day).year;
}

/* ---- policy ---------------------------------------------------------------------------- */

const char *smar_prune_reason_name(unsigned reason)
{
    switch (reason) {
    case SMAR_PRUNE_LAST:
        return "last";
    case SMAR_PRUNE_HOURLY:
        return "hourly";
    case SMAR_PRUNE_DAILY:
        return "daily";
    case SMAR_PRUNE_WEEKLY:
        return "weekly";
    case SMAR_PRUNE_MONTHLY:
        return "monthly";
    case SMAR_PRUNE_YEARLY:
        return "yearly";
    case SMAR_PRUNE_WITHIN:
        return "within";
    default:
        return NULL;
    }
}

static int within_is_zero(const smar_prune_within *w)
{
    return w->years == 0 && w->months == 0 && w->days == 0 && w->hours == 0;
}

int smar_prune_policy_is_empty(const smar_prune_policy *p)
{
    return p->keep_last == 0 && p->keep_hourly == 0 && p->keep_daily == 0 && p->keep_weekly == 0 &&
           p->keep_monthly == 0 && p->keep_yearly == 0 && within_is_zero(&p->keep_within);
}

/* Bounded so that the calendar arithmetic below cannot overflow. */
#define WITHIN_NUMBER_MAX 100000u

int smar_prune_parse_within(const char *text, smar_prune_within *out)
{
    static const char units[] = "ymdh";
    if (text == NULL || out == NULL)
        return SMAR_E_INVALID;
    smar_prune_within w = {0, 0, 0, 0};
    uint32_t *fields[] = {&w.years, &w.months, &w.days, &w.hours};
    size_t next_unit = 0; /* units must come in order, each at most once */
    const char *p = text;
    if (*p == '\0')
        return SMAR_E_INVALID;
    while (*p != '\0') {
        uint32_t number = 0;
        const char *digits = p;
        while (*p >= '0' && *p <= '9') {
            number = number * 10 + (uint32_t)(*p - '0');
            if (number > WITHIN_NUMBER_MAX)
                return SMAR_E_INVALID;
            p++;
        }
        if (p == digits || *p == '\0')
            return SMAR_E_INVALID;
        const char *unit = strchr(units + next_unit, *p);
        if (unit == NULL)
            return SMAR_E_INVALID;
        next_unit = (size_t)(unit - units);
        *fields[next_unit++] = number;
        p++;
    }
    if (within_is_zero(&w))
        return SMAR_E_INVALID;
    *out = w;
    return SMAR_OK;
}

/* newest minus w, on the calendar: years and months first, then the day of the month
 * overflowing into the next month (as Go's AddDate), then days and hours. */
static smar_time_ns within_cutoff(smar_time_ns newest, const smar_prune_within *w)
{
    struct moment m = moment_of(newest);
    struct civil c = civil_from_days(m.day);
    int64_t months = c.year * 12 + (c.month - 1) - (int64_t)w->years * 12 - (int64_t)w->months;
    int64_t year = floor_div(months, 12);
    int64_t month = months - year * 12 + 1;
    int64_t day = days_from_civil(year, month, 1) + (c.day - 1) - (int64_t)w->days;
    int64_t seconds = day * SECONDS_PER_DAY + m.second_of_day - (int64_t)w->hours * 3600;
    return seconds * NS_PER_SECOND + m.ns_of_second;
}

/* One counting rule: keeps the newest snapshot of each new period until count is used. */
struct bucket_rule {
    unsigned reason;
    uint32_t count; /* left to keep; SMAR_PRUNE_UNLIMITED never runs out */
    int64_t (*period)(smar_time_ns t);
    int has_last;
    int64_t last;
};

static int bucket_keeps(struct bucket_rule *b, smar_time_ns t, size_t rank)
{
    if (b->count == 0)
        return 0;
    /* keep-last: every snapshot is its own period */
    int64_t period = b->period ? b->period(t) : (int64_t)rank;
    if (b->has_last && period == b->last)
        return 0;
    b->has_last = 1;
    b->last = period;
    if (b->count != SMAR_PRUNE_UNLIMITED)
        b->count--;
    return 1;
}

struct ranked {
    smar_time_ns t;
    size_t index;
};

/* Newest first; equal times in the order given. */
static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->t != y->t)
        return x->t > y->t ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

int smar_prune_apply(const smar_prune_policy *p, const smar_time_ns *times, size_t n,
                     unsigned *reasons)
{
    if (p == NULL || p->version != SMAR_PRUNE_POLICY_VERSION || smar_prune_policy_is_empty(p) ||
        (n > 0 && (times == NULL || reasons == NULL)))
        return SMAR_E_INVALID;
    for (size_t i = 0; i < n; i++)
        if (times[i] == SMAR_TIME_NONE)
            return SMAR_E_INVALID;
    if (n == 0)
        return SMAR_OK;
    struct ranked *order = calloc(n, sizeof *order);
    if (order == NULL)
        return SMAR_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = (struct ranked){times[i], i};
    qsort(order, n, sizeof *order, ranked_cmp);

    struct bucket_rule rules[] = {
        {SMAR_PRUNE_LAST, p->keep_last, NULL, 0, 0},
        {SMAR_PRUNE_HOURLY, p->keep_hourly, period_hour, 0, 0},
        {SMAR_PRUNE_DAILY, p->keep_daily, period_day, 0, 0},
        {SMAR_PRUNE_WEEKLY, p->keep_weekly, period_week, 0, 0},
        {SMAR_PRUNE_MONTHLY, p->keep_monthly, period_month, 0, 0},
        {SMAR_PRUNE_YEARLY, p->keep_yearly, period_year, 0, 0},
    };
    int use_within = !within_is_zero(&p->keep_within);
    smar_time_ns cutoff = use_within ? within_cutoff(order[0].t, &p->keep_within) : 0;

    for (size_t rank = 0; rank < n; rank++) {
        smar_time_ns t = order[rank].t;
        unsigned why = 0;
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
            if (bucket_keeps(&rules[r], t, rank))
                why |= rules[r].reason;
        if (use_within && t > cutoff)
            why |= SMAR_PRUNE_WITHIN;
        reasons[order[rank].index] = why;
    }
    free(order);
    return SMAR_OK;
}
