/*
 * test_time.c - RFC 3339 parsing and formatting (libsmar/rfc3339.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

#define NS INT64_C(1000000000)

static int parse(const char *s, int allow_date, smar_time_ns *out)
{
    return smar_time_parse(s, strlen(s), allow_date, out);
}

static void expect_time(const char *s, int allow_date, int64_t want)
{
    smar_time_ns t = 0;
    int rc = parse(s, allow_date, &t);
    if (rc != SMAR_OK || t != want)
        fail_msg("'%s': rc %d, got %lld, want %lld", s, rc, (long long)t, (long long)want);
}

static void expect_invalid(const char *s, int allow_date)
{
    smar_time_ns t = 0;
    int rc = parse(s, allow_date, &t);
    if (rc != SMAR_E_INVALID)
        fail_msg("'%s' (allow_date %d) accepted as %lld", s, allow_date, (long long)t);
}

static void expect_format(int64_t t, const char *want)
{
    char buf[SMAR_TIME_BUFSIZE];
    assert_string_equal(smar_time_format(t, buf), want);
}

static void test_parse_known_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:01Z", NS},
        {"1969-12-31T23:59:59Z", -NS},
        {"1969-12-31T23:59:59.999999999Z", -1},
        {"2000-01-01T00:00:00Z", 946684800 * NS},
        {"2038-01-19T03:14:07Z", 2147483647 * NS},
        {"2026-11-20T02:00:00Z", INT64_C(1795140000) * NS},
        {"2000-02-29T12:34:56Z", INT64_C(951827696) * NS},
        {"1900-03-01T00:00:00Z", INT64_C(-2203891200) * NS},
        {"1678-01-01T00:00:00Z", INT64_C(-9214560000) * NS},
        {"2261-12-31T23:59:59.999999999Z", INT64_C(9214646399) * NS + 999999999},
        {"2026-11-20t02:00:00z", INT64_C(1795140000) * NS},
        {"2026-11-20T02:00:00.5Z", INT64_C(1795140000) * NS + 500000000},
        {"1970-01-01T00:00:00.000000001Z", 1},
        {"1970-01-01T00:00:00.000000000Z", 0},
        {"1970-01-01T00:00:00.1Z", 100000000},
        {"1970-01-01T00:00:00.12Z", 120000000},
        {"1970-01-01T00:00:00.123Z", 123000000},
        {"1970-01-01T00:00:00.1234Z", 123400000},
        {"1970-01-01T00:00:00.12345Z", 123450000},
        {"1970-01-01T00:00:00.123456Z", 123456000},
        {"1970-01-01T00:00:00.1234567Z", 123456700},
        {"1970-01-01T00:00:00.12345678Z", 123456780},
        {"1970-01-01T00:00:00.123456789Z", 123456789},
        {"1970-01-01T23:59:59Z", 86399 * NS},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        expect_time(cases[i].text, 0, cases[i].ns);
        expect_time(cases[i].text, 1, cases[i].ns);
    }
}

static void test_parse_offsets_convert_to_utc(void **state)
{
    (void)state;
    int64_t base = INT64_C(1795140000) * NS; /* 2026-11-20T02:00:00Z */
    expect_time("2026-11-20T02:00:00+00:00", 0, base);
    expect_time("2026-11-20T02:00:00-00:00", 0, base);
    expect_time("2026-11-20T07:30:00+05:30", 0, base);
    expect_time("2026-11-19T20:00:00-06:00", 0, base);
    expect_time("2026-11-21T01:59:00+23:59", 0, base);
    expect_time("2026-11-19T02:01:00-23:59", 0, base);
    expect_time("2026-11-20T02:00:00.25+01:00", 0, base - 3600 * NS + 250000000);
    /* Offsets may cross a year boundary and the epoch. */
    expect_time("1970-01-01T01:00:00+01:00", 0, 0);
    expect_time("1969-12-31T19:00:00-05:00", 0, 0);
    /* Offsets that move an instant out of the UTC year range are refused: every parsed
     * time must format to UTC text the parser accepts again. */
    expect_invalid("1678-01-01T00:00:00+23:59", 0);
    expect_invalid("2261-12-31T23:59:59.999999999-23:59", 0);
    expect_time("1678-01-01T23:59:00+23:59", 0, INT64_C(-9214560000) * NS);
    expect_time("2261-12-31T00:00:59.999999999-23:59", 0, INT64_C(9214646399) * NS + 999999999);
}

static void test_parse_date_only(void **state)
{
    (void)state;
    expect_time("2026-11-20", 1, INT64_C(1795132800) * NS);
    expect_time("1970-01-01", 1, 0);
    expect_time("1678-01-01", 1, INT64_C(-9214560000) * NS);
    expect_invalid("2026-11-20", 0);
    expect_invalid("2026-11-2", 1);
    expect_invalid("2026-11-20T", 1);
    expect_invalid("2026-11-20 ", 1);
    expect_invalid("2026-11-20Z", 1);
    expect_invalid("2026-02-30", 1);
    expect_invalid("1677-12-31", 1);
}

/* A user may type a space instead of the 'T' (RFC 3339 section 5.6 allows it "for the
 * sake of readability"); exports and key files keep the strict form. */
static void test_parse_space_for_user_input_only(void **state)
{
    (void)state;
    expect_time("2026-11-20 02:00:00Z", 1, INT64_C(1795140000) * NS);
    expect_time("2026-11-20 02:00:00.5z", 1, INT64_C(1795140000) * NS + 500000000);
    expect_time("2026-11-20 03:30:00+01:30", 1, INT64_C(1795140000) * NS);
    expect_invalid("2026-11-20 02:00:00Z", 0);
    expect_invalid("2026-11-20  02:00:00Z", 1); /* one space only */
    expect_invalid("2026-11-20\t02:00:00Z", 1);
    expect_invalid("2026-11-20 02:00:00", 1); /* still needs its offset */
    expect_invalid("2026-11-20 ", 1);
    expect_invalid(" 2026-11-20 02:00:00Z", 1);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11-20T02:00Z",               /* missing seconds */
        "2026-11-20T02:00:00",             /* missing offset */
        "2026-11-20T02:00:00 Z",           /* space before zone */
        " 2026-11-20T02:00:00Z",           /* leading space */
        "2026-11-20T02:00:00Z ",           /* trailing space */
        "2026-11-20T02:00:00ZZ",           /* trailing data */
        "2026-11-20T02:00:00.Z",           /* empty fraction */
        "2026-11-20T02:00:00.1234567890Z", /* 10 fraction digits */
        "2026-11-20T02:00:00,5Z",          /* comma fraction */
        "2026-13-01T00:00:00Z",            /* month 13 */
        "2026-00-01T00:00:00Z",            /* month 0 */
        "2026-01-00T00:00:00Z",            /* day 0 */
        "2026-01-32T00:00:00Z",            /* day 32 */
        "2026-04-31T00:00:00Z",            /* April has 30 days */
        "2026-06-31T00:00:00Z",
        "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* century, not a leap year */
        "2100-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2026-11-20T24:00:00Z",      /* hour 24 */
        "2026-11-20T23:60:00Z",      /* minute 60 */
        "2026-11-20T23:59:60Z",      /* leap seconds are not accepted */
        "2016-12-31T23:59:60Z",      /* even a real one */
        "2026-11-20T02:00:00+24:00", /* offset hour > 23 */
        "2026-11-20T02:00:00+05:60", /* offset minute > 59 */
        "2026-11-20T02:00:00+0530",  /* offset without colon */
        "2026-11-20T02:00:00+05",    /* short offset */
        "2026-11-20T02:00:00+5:30",
        "2026-11-20T02:00:00UTC",
        "2026-11-20T02:00:00X",
        "2026-11-20X02:00:00Z",
        "2026/11/20T02:00:00Z",
        "2026-1-20T02:00:00Z",
        "26-11-20T02:00:00Z",
        "+2026-11-20T02:00:00Z",
        "02026-11-20T02:00:00Z",
        "2026-11-20T2:00:00Z",
        "2026-11-20T02:0:00Z",
        "2026-11-20T02:00:0Z",
        "2026-11-20T-2:00:00Z",
        "1677-12-31T23:59:59Z", /* year range */
        "1600-01-01T00:00:00Z",
        "2262-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-11-20T02:00:00.+01:00",
        "2026-11-20T02:00:00.5.5Z",
        "2026-11-20T02:00:00.5e1Z",
        "2026-11-20T02:00:00Z\n",
        "２026-11-20T02:00:00Z",
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(bad); i++) {
        expect_invalid(bad[i], 0);
        expect_invalid(bad[i], 1);
    }
}

static void test_parse_respects_length(void **state)
{
    (void)state;
    /* Only len bytes are looked at: a longer buffer or an embedded NUL must not matter. */
    const char text[] = "2026-11-20T02:00:00Zjunk";
    smar_time_ns t;
    assert_int_equal(smar_time_parse(text, 20, 0, &t), SMAR_OK);
    assert_true(t == INT64_C(1795140000) * NS);
    assert_int_equal(smar_time_parse(text, 19, 0, &t), SMAR_E_INVALID);
    assert_int_equal(smar_time_parse(text, 10, 1, &t), SMAR_OK);
    assert_int_equal(smar_time_parse(text, 21, 0, &t), SMAR_E_INVALID);
    const char with_nul[] = "2026-11-20T02:00:00Z\0";
    assert_int_equal(smar_time_parse(with_nul, sizeof with_nul - 1, 0, &t), SMAR_E_INVALID);
    assert_int_equal(smar_time_parse("", 0, 1, &t), SMAR_E_INVALID);
    assert_int_equal(smar_time_parse(text, 20, 0, NULL), SMAR_E_INVALID);
    assert_int_equal(smar_time_parse(NULL, 0, 0, &t), SMAR_E_INVALID);
}

static void test_format_fraction_widths(void **state)
{
    (void)state;
    expect_format(0, "1970-01-01T00:00:00Z");
    expect_format(520000000, "1970-01-01T00:00:00.520Z");
    expect_format(143896000, "1970-01-01T00:00:00.143896Z");
    expect_format(1, "1970-01-01T00:00:00.000000001Z");
    expect_format(1000, "1970-01-01T00:00:00.000001Z");
    expect_format(1000000, "1970-01-01T00:00:00.001Z");
    expect_format(100000000, "1970-01-01T00:00:00.100Z");
    expect_format(123456789, "1970-01-01T00:00:00.123456789Z");
    expect_format(123456780, "1970-01-01T00:00:00.123456780Z");
    expect_format(-1, "1969-12-31T23:59:59.999999999Z");
    expect_format(-NS, "1969-12-31T23:59:59Z");
    expect_format(-NS / 2, "1969-12-31T23:59:59.500Z");
    expect_format(INT64_C(1795140000) * NS, "2026-11-20T02:00:00Z");
}

static void test_format_extremes(void **state)
{
    (void)state;
    /* The whole int64 range formats without overflow (even SMAR_TIME_NONE). */
    expect_format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    expect_format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect_format(INT64_C(-9214560000) * NS, "1678-01-01T00:00:00Z");
    expect_format(INT64_C(9214646399) * NS + 999999999, "2261-12-31T23:59:59.999999999Z");
    char buf[SMAR_TIME_BUFSIZE];
    assert_ptr_equal(smar_time_format(0, buf), buf);
}

static void test_round_trip_canonical(void **state)
{
    (void)state;
    static const char *const canonical[] = {
        "1970-01-01T00:00:00Z",        "2026-11-20T02:00:00.520Z",
        "2026-11-20T02:00:00.143896Z", "2026-11-20T02:00:00.000000001Z",
        "1678-01-01T00:00:00Z",        "2261-12-31T23:59:59.999999999Z",
        "2000-02-29T00:00:00Z",        "2024-02-29T23:59:59.999Z",
        "1969-07-20T20:17:40Z",        "1999-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",        "2100-03-01T12:00:00.000001Z",
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(canonical); i++) {
        smar_time_ns t;
        assert_int_equal(parse(canonical[i], 0, &t), SMAR_OK);
        expect_format(t, canonical[i]);
    }
}

static void test_round_trip_normalises(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"2026-11-20T07:30:00+05:30", "2026-11-20T02:00:00Z"},
        {"2026-11-20t02:00:00z", "2026-11-20T02:00:00Z"},
        {"2026-11-20T02:00:00.5Z", "2026-11-20T02:00:00.500Z"},
        {"2026-11-20T02:00:00.1200Z", "2026-11-20T02:00:00.120Z"},
        {"2026-11-20T02:00:00.1234Z", "2026-11-20T02:00:00.123400Z"},
        {"2026-11-20T02:00:00.1234567Z", "2026-11-20T02:00:00.123456700Z"},
        {"2026-11-20T02:00:00.000000000Z", "2026-11-20T02:00:00Z"},
        {"2000-01-01T00:30:00+01:00", "1999-12-31T23:30:00Z"},
        {"2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00Z"},
        {"2023-02-28T23:00:00-01:00", "2023-03-01T00:00:00Z"},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        smar_time_ns t;
        assert_int_equal(parse(cases[i].in, 0, &t), SMAR_OK);
        expect_format(t, cases[i].out);
    }
}

/* Walk every day of the supported range with a naive calendar and compare both
 * directions: checks days_from_civil/civil_from_days and the leap year rules. */
static void test_every_day_of_range(void **state)
{
    (void)state;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t expected = INT64_C(-9214560000) * NS; /* 1678-01-01 */
    for (int y = 1678; y <= 2261; y++) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for (int m = 1; m <= 12; m++) {
            int last = mdays[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= last; d++) {
                char date[32];
                snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, d);
                smar_time_ns t;
                if (parse(date, 1, &t) != SMAR_OK || t != expected)
                    fail_msg("%s: got %lld want %lld", date, (long long)t, (long long)expected);
                char buf[SMAR_TIME_BUFSIZE];
                smar_time_format(t, buf);
                if (strncmp(buf, date, 10) != 0 || strcmp(buf + 10, "T00:00:00Z") != 0)
                    fail_msg("%s formatted as %s", date, buf);
                expected += 86400 * NS;
            }
            char past_end[32];
            snprintf(past_end, sizeof past_end, "%04d-%02d-%02d", y, m, last + 1);
            expect_invalid(past_end, 1);
        }
    }
    assert_true(expected == INT64_C(9214646400) * NS); /* 2262-01-01 */
}

/* Pseudo-random instants across the range survive format -> parse exactly. */
static void test_random_round_trip(void **state)
{
    (void)state;
    const int64_t lo = INT64_C(-9214560000) * NS;
    const uint64_t span = (uint64_t)(INT64_C(9214646400) * NS - 1) + (uint64_t)(-lo);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t offset = x % span; /* may exceed INT64_MAX: add it in two halves */
        int64_t t = lo + (int64_t)(offset / 2) + (int64_t)(offset - offset / 2);
        switch (i % 4) { /* exercise every fraction width */
        case 0:
            t -= t % NS;
            break;
        case 1:
            t -= t % 1000000;
            break;
        case 2:
            t -= t % 1000;
            break;
        default:
            break;
        }
        if (t < lo)
            t += NS;
        char buf[SMAR_TIME_BUFSIZE];
        smar_time_format(t, buf);
        smar_time_ns back;
        if (parse(buf, 0, &back) != SMAR_OK || back != t)
            fail_msg("%lld -> %s -> %lld", (long long)t, buf, (long long)back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_known_values),
        cmocka_unit_test(test_parse_offsets_convert_to_utc),
        cmocka_unit_test(test_parse_date_only),
        cmocka_unit_test(test_parse_space_for_user_input_only),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_respects_length),
        cmocka_unit_test(test_format_fraction_widths),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_round_trip_canonical),
        cmocka_unit_test(test_round_trip_normalises),
        cmocka_unit_test(test_every_day_of_range),
        cmocka_unit_test(test_random_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
