/*
 * test_prune.c - the retention policy (smar/prune.h) against hand-computed tables.
 *
 * Each case lists snapshot times (in the order given to smar_prune_apply, not sorted) and,
 * for each, the reasons it must be kept with (0: deleted). The expectations were worked out
 * by hand from the rules in prune.h; the first case is restic's own documentation example.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smar/prune.h"

#define MAX_SNAPSHOTS 16

enum {
    L = SMAR_PRUNE_LAST,
    H = SMAR_PRUNE_HOURLY,
    D = SMAR_PRUNE_DAILY,
    W = SMAR_PRUNE_WEEKLY,
    M = SMAR_PRUNE_MONTHLY,
    Y = SMAR_PRUNE_YEARLY,
    IN = SMAR_PRUNE_WITHIN,
};

struct prune_case {
    const char *name;
    uint32_t last, hourly, daily, weekly, monthly, yearly;
    const char *within; /* NULL: off */
    const char *times[MAX_SNAPSHOTS];
    unsigned expect[MAX_SNAPSHOTS];
};

static const struct prune_case cases[] = {
    {"restic doc: 12 Sundays, --keep-daily 4", .daily = 4,
     .times = {"2019-09-01T11:00:00Z", "2019-09-08T11:00:00Z", "2019-09-15T11:00:00Z",
               "2019-09-22T11:00:00Z", "2019-09-29T11:00:00Z", "2019-10-06T11:00:00Z",
               "2019-10-13T11:00:00Z", "2019-10-20T11:00:00Z", "2019-10-27T11:00:00Z",
               "2019-11-03T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"},
     .expect = {0, 0, 0, 0, 0, 0, 0, 0, D, D, D, D}},
    {"keep-last 3, input not sorted", .last = 3,
     .times = {"2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z", "2024-01-01T00:00:00Z",
               "2024-01-04T00:00:00Z", "2024-01-02T00:00:00Z"},
     .expect = {L, L, 0, L, 0}},
    {"keep-hourly 2: the newest of each hour", .hourly = 2,
     .times = {"2024-05-01T10:05:00Z", "2024-05-01T10:50:00Z", "2024-05-01T11:10:00Z",
               "2024-05-01T11:40:00Z", "2024-05-01T12:00:00Z"},
     .expect = {0, 0, 0, H, H}},
    {"keep-daily 2: days without snapshots do not count", .daily = 2,
     .times = {"2024-01-01T10:00:00Z", "2024-01-01T20:00:00Z", "2024-01-05T08:00:00Z",
               "2024-01-09T23:59:59Z"},
     .expect = {0, 0, D, D}},
    {"keep-weekly 2: ISO weeks start on Monday 00:00 UTC", .weekly = 2,
     .times = {"2023-12-31T12:00:00Z", "2024-01-06T12:00:00Z", "2024-01-07T23:00:00Z",
               "2024-01-08T00:00:00Z"},
     .expect = {0, 0, W, W}},
    {"keep-weekly 2: ISO week 1 of 2021 starts 2021-01-04 (Jan 1-3 are week 53 of 2020)",
     .weekly = 2, .times = {"2020-12-28T00:00:00Z", "2021-01-03T23:59:59Z", "2021-01-04T00:00:00Z"},
     .expect = {0, W, W}},
    {"keep-monthly 3 across a year end", .monthly = 3,
     .times = {"2023-11-30T00:00:00Z", "2023-12-01T00:00:00Z", "2023-12-31T23:59:00Z",
               "2024-01-01T00:00:00Z", "2024-02-15T00:00:00Z"},
     .expect = {0, 0, M, M, M}},
    {"keep-yearly 2", .yearly = 2,
     .times = {"2021-06-01T00:00:00Z", "2022-12-31T23:00:00Z", "2022-01-01T00:00:00Z",
               "2024-03-01T00:00:00Z"},
     .expect = {0, Y, 0, Y}},
    {"keep-within 2d: strictly newer than newest minus 2 days", .within = "2d",
     .times = {"2024-03-10T12:00:00Z", "2024-03-09T00:00:00Z", "2024-03-08T12:00:00Z",
               "2024-03-08T12:00:01Z", "2024-03-01T00:00:00Z"},
     .expect = {IN, IN, 0, IN, 0}},
    {"keep-within 1m: March 31 minus a month is 'February 31' = March 2 (2024)", .within = "1m",
     .times = {"2024-03-31T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-02T00:00:01Z",
               "2024-03-01T00:00:00Z"},
     .expect = {IN, 0, IN, 0}},
    {"keep-within 1y2h", .within = "1y2h",
     .times = {"2024-02-29T12:00:00Z", "2023-03-01T10:00:00Z", "2023-03-01T10:00:01Z"},
     .expect = {IN, 0, IN}},
    {"reasons combine: last 1, daily 2, weekly 1", .last = 1, .daily = 2, .weekly = 1,
     .times = {"2024-01-08T09:00:00Z", "2024-01-08T18:00:00Z", "2024-01-09T10:00:00Z"},
     .expect = {0, D, L | D | W}},
    {"every rule at once over hourly snapshots", .last = 2, .hourly = 3, .daily = 2, .weekly = 1,
     .monthly = 2, .within = "3h",
     .times = {"2024-04-30T22:00:00Z", "2024-04-30T23:00:00Z", "2024-05-01T00:00:00Z",
               "2024-05-01T01:00:00Z", "2024-05-01T02:00:00Z", "2024-05-01T03:00:00Z"},
     /* newest 03:00, cutoff 00:00 (not kept by within); Apr 30 is a Tuesday, same week */
     .expect = {0, D | M, 0, H | IN, L | H | IN, L | H | D | W | M | IN}},
    {"equal times: the one given first counts as newer", .last = 1, .daily = 1,
     .times = {"2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"}, .expect = {L | D, 0}},
    {"unlimited daily", .daily = SMAR_PRUNE_UNLIMITED,
     .times = {"2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z", "2024-01-02T01:00:00Z",
               "2024-01-02T02:00:00Z", "2024-01-03T01:00:00Z"},
     .expect = {0, D, 0, D, D}},
    {"before 1970: days still split at midnight UTC", .daily = 2,
     .times = {"1969-12-31T01:00:00Z", "1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z"},
     .expect = {0, D, D}},
    {"more kept than there are snapshots", .last = 10,
     .times = {"2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"}, .expect = {L, L}},
};

static void run_case(const struct prune_case *c)
{
    smar_prune_policy p = SMAR_PRUNE_POLICY_INIT;
    p.keep_last = c->last;
    p.keep_hourly = c->hourly;
    p.keep_daily = c->daily;
    p.keep_weekly = c->weekly;
    p.keep_monthly = c->monthly;
    p.keep_yearly = c->yearly;
    if (c->within != NULL)
        assert_int_equal(smar_prune_parse_within(c->within, &p.keep_within), SMAR_OK);
    smar_time_ns times[MAX_SNAPSHOTS];
    size_t n = 0;
    for (; n < MAX_SNAPSHOTS && c->times[n] != NULL; n++)
        assert_int_equal(smar_time_parse(c->times[n], strlen(c->times[n]), 0, &times[n]), SMAR_OK);
    unsigned got[MAX_SNAPSHOTS];
    memset(got, 0xa5, sizeof got);
    assert_int_equal(smar_prune_apply(&p, times, n, got), SMAR_OK);
    for (size_t i = 0; i < n; i++) {
        if (got[i] != c->expect[i])
            fail_msg("%s: %s: reasons 0x%x, expected 0x%x", c->name, c->times[i], got[i],
                     c->expect[i]);
    }
}

static void test_policy_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

static void test_parse_within(void **state)
{
    (void)state;
    smar_prune_within w;
    assert_int_equal(smar_prune_parse_within("1y5m7d2h", &w), SMAR_OK);
    assert_int_equal(w.years, 1);
    assert_int_equal(w.months, 5);
    assert_int_equal(w.days, 7);
    assert_int_equal(w.hours, 2);
    assert_int_equal(smar_prune_parse_within("36h", &w), SMAR_OK);
    assert_int_equal(w.years + w.months + w.days, 0);
    assert_int_equal(w.hours, 36);
    const char *bad[] = {"",   "d",    "7",   "7x",  "2h1d",    "1d1d",
                         "0d", "0y0h", "-1d", "1 d", "100001d", "99999999999999999999d",
                         "1w"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (smar_prune_parse_within(bad[i], &w) != SMAR_E_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
}

static void test_refusals(void **state)
{
    (void)state;
    smar_time_ns t[2] = {0, SMAR_TIME_NONE};
    unsigned why[2];
    smar_prune_policy p = SMAR_PRUNE_POLICY_INIT;
    /* an empty policy would delete everything */
    assert_true(smar_prune_policy_is_empty(&p));
    assert_int_equal(smar_prune_apply(&p, t, 1, why), SMAR_E_INVALID);
    p.keep_last = 1;
    assert_int_equal(smar_prune_apply(&p, t, 2, why), SMAR_E_INVALID);
    assert_int_equal(smar_prune_apply(&p, t, 0, NULL), SMAR_OK);
    assert_int_equal(smar_prune_apply(NULL, t, 1, why), SMAR_E_INVALID);
    p.version = 99;
    assert_int_equal(smar_prune_apply(&p, t, 1, why), SMAR_E_INVALID);
    assert_string_equal(smar_prune_reason_name(SMAR_PRUNE_WEEKLY), "weekly");
    assert_null(smar_prune_reason_name(SMAR_PRUNE_LAST | SMAR_PRUNE_DAILY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_table),
        cmocka_unit_test(test_parse_within),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
