/*
 * rfc3339.c - strict RFC 3339 timestamps <-> signed nanoseconds since the Unix epoch.
 *
 * Accepted: YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM), 'T' and 'Z' in either case.
 * Typed by a user (allow_date), also a bare YYYY-MM-DD and one space instead of the 'T'
 * (RFC 3339 section 5.6 lets applications take it "for the sake of readability"); times
 * read from exports and key files (allow_date 0) stay strict. Leap seconds (:60) are rejected:
 * smar_time_ns has no way to represent them and exports do not produce them. The calendar
 * arithmetic is done here (proleptic Gregorian) so results never depend on timegm, TZ or the
 * locale.
 */
#include "internal.h"

#define NS_PER_SEC  INT64_C(1000000000)
#define SEC_PER_DAY INT64_C(86400)

/* Years whose every instant (even with a +-23:59 offset) fits in int64 nanoseconds:
 * the int64 range is 1677-09-21T00:12:43Z .. 2262-04-11T23:47:16Z. */
#define YEAR_MIN 1678
/* 1678-01-01T00:00:00Z and 2261-12-31T23:59:59Z in seconds since the epoch. */
#define UTC_SECS_MIN INT64_C(-9214560000)
#define UTC_SECS_MAX INT64_C(9214646399)
#define YEAR_MAX     2261

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap_year(y))
        return 29;
    return days[m - 1];
}

/* ---- parsing ---------------------------------------------------------------------- */

/* A cursor over the input; every read is checked against the end. */
typedef struct tcur {
    const char *p;
    const char *end;
} tcur;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly `width` decimal digits. */
static bool take_digits(tcur *c, int width, int64_t *out)
{
    if (c->end - c->p < width)
        return false;
    int64_t v = 0;
    for (int i = 0; i < width; i++) {
        if (!is_digit(c->p[i]))
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += width;
    *out = v;
    return true;
}

static bool take_char(tcur *c, char want)
{
    if (c->p >= c->end || *c->p != want)
        return false;
    c->p++;
    return true;
}

/* Either case: RFC 3339 section 5.6 allows lowercase 't' and 'z'. */
static bool take_char_ci(tcur *c, char upper)
{
    return take_char(c, upper) || take_char(c, (char)(upper - 'A' + 'a'));
}

/* YYYY-MM-DD, range-checked; *days is days since the epoch. */
static bool parse_date(tcur *c, int64_t *days)
{
    int64_t y, m, d;
    if (!take_digits(c, 4, &y) || !take_char(c, '-') || !take_digits(c, 2, &m) ||
        !take_char(c, '-') || !take_digits(c, 2, &d))
        return false;
    if (y < YEAR_MIN || y > YEAR_MAX || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

/* HH:MM:SS with SS <= 59 (no leap seconds); *secs is seconds into the day. */
static bool parse_time_of_day(tcur *c, int64_t *secs)
{
    int64_t h, mi, s;
    if (!take_digits(c, 2, &h) || !take_char(c, ':') || !take_digits(c, 2, &mi) ||
        !take_char(c, ':') || !take_digits(c, 2, &s))
        return false;
    if (h > 23 || mi > 59 || s > 59)
        return false;
    *secs = h * 3600 + mi * 60 + s;
    return true;
}

/* Optional .f{1,9}; *ns is the fraction in nanoseconds (0 when absent). */
static bool parse_fraction(tcur *c, int64_t *ns)
{
    *ns = 0;
    if (!take_char(c, '.'))
        return true;
    int digits = 0;
    while (c->p < c->end && is_digit(*c->p)) {
        if (++digits > 9)
            return false;
        *ns = *ns * 10 + (*c->p - '0');
        c->p++;
    }
    if (digits == 0)
        return false;
    for (int i = digits; i < 9; i++)
        *ns *= 10;
    return true;
}

/* Z or +HH:MM / -HH:MM; *offset is local minus UTC in seconds. */
static bool parse_offset(tcur *c, int64_t *offset)
{
    if (take_char_ci(c, 'Z')) {
        *offset = 0;
        return true;
    }
    int64_t sign;
    if (take_char(c, '+'))
        sign = 1;
    else if (take_char(c, '-'))
        sign = -1;
    else
        return false;
    int64_t h, m;
    if (!take_digits(c, 2, &h) || !take_char(c, ':') || !take_digits(c, 2, &m))
        return false;
    if (h > 23 || m > 59)
        return false;
    *offset = sign * (h * 3600 + m * 60);
    return true;
}

int smar_time_parse(const char *text, size_t len, int allow_date, smar_time_ns *out)
{
    if (out == NULL || text == NULL)
        return SMAR_E_INVALID;
    tcur c = {text, text + len};
    int64_t days, secs = 0, frac = 0, offset = 0;
    if (!parse_date(&c, &days))
        return SMAR_E_INVALID;
    bool date_only = allow_date && c.p == c.end;
    if (!date_only) {
        bool separated = take_char_ci(&c, 'T') || (allow_date && take_char(&c, ' '));
        if (!separated || !parse_time_of_day(&c, &secs) || !parse_fraction(&c, &frac) ||
            !parse_offset(&c, &offset) || c.p != c.end)
            return SMAR_E_INVALID;
    }
    /* No overflow: |days| < 110000 and the year range keeps the total within int64 ns
     * even after applying a +-23:59 offset (see YEAR_MIN / YEAR_MAX). */
    int64_t utc_secs = days * SEC_PER_DAY + secs - offset;
    /* The instant itself must lie in the UTC year range too: an offset can move
     * 1678-01-01T00:00 local into 1677, whose UTC text this parser would then refuse, so a
     * time smar prints could not be given back to it. */
    if (utc_secs < UTC_SECS_MIN || utc_secs > UTC_SECS_MAX)
        return SMAR_E_INVALID;
    *out = utc_secs * NS_PER_SEC + frac;
    return SMAR_OK;
}

/* ---- formatting ------------------------------------------------------------------- */

/* Write v as exactly `width` zero-padded decimal digits (v < 10^width). */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Fraction digits needed: 0, 3, 6 or 9, the shortest that is exact. */
static int fraction_width(int64_t ns)
{
    if (ns == 0)
        return 0;
    if (ns % 1000000 == 0)
        return 3;
    if (ns % 1000 == 0)
        return 6;
    return 9;
}

char *smar_time_format(smar_time_ns t, char buf[SMAR_TIME_BUFSIZE])
{
    /* Floor division: the fraction is always in [0, 1e9) even before 1970. Safe for the
     * whole int64 range including INT64_MIN (which only yields a 1677 date). */
    int64_t secs = t / NS_PER_SEC;
    int64_t ns = t % NS_PER_SEC;
    if (ns < 0) {
        ns += NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / SEC_PER_DAY;
    int64_t sod = secs % SEC_PER_DAY;
    if (sod < 0) {
        sod += SEC_PER_DAY;
        days -= 1;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);

    char *p = buf;
    p = put_digits(p, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    int width = fraction_width(ns);
    if (width > 0) {
        *p++ = '.';
        int64_t scaled = ns;
        for (int i = width; i < 9; i++)
            scaled /= 10;
        p = put_digits(p, scaled, width);
    }
    *p++ = 'Z';
    *p = '\0';
    return buf;
}
