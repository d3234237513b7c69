/*
 * fuzz_time.c - RFC 3339 times (rfc3339.c): what `--at` and every time in an export or key
 * file go through. Both modes of smar_time_parse, and the round trips: a parsed time
 * formats to text that parses back to it, and any time formats to text that parses back
 * to it whenever the year is one the parser accepts.
 */
#include <string.h>

#include "common.h"
#include "internal.h"

static void round_trip(smar_time_ns t, bool must_parse)
{
    char buf[SMAR_TIME_BUFSIZE];
    smar_time_ns back = 0;
    const char *text = smar_time_format(t, buf);
    FZ_CHECK(text == buf && strlen(buf) < SMAR_TIME_BUFSIZE);
    int rc = smar_time_parse(buf, strlen(buf), 0, &back);
    if (must_parse)
        FZ_CHECK(rc == SMAR_OK);
    if (rc == SMAR_OK)
        FZ_CHECK(back == t);
}

/* The instants whose UTC text has a year the parser accepts: 1678-01-01T00:00:00Z up to
 * 2261-12-31T23:59:59.999999999Z. Text with an offset may name instants just outside
 * (1678-01-01T00:00:00+23:59 is in 1677, tests/unit/test_time.c wants it accepted); their
 * UTC text then does not parse, which is why the round trip is only required inside. */
static const smar_time_ns year_lo = -9214560000LL * 1000000000LL;
static const smar_time_ns year_hi = 9214646399999999999LL;

static bool in_years(smar_time_ns t)
{
    return t >= year_lo && t <= year_hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smar_time_ns t;
    fz_init();
    for (int allow_date = 0; allow_date <= 1; allow_date++) {
        if (smar_time_parse((const char *)data, size, allow_date, &t) == SMAR_OK) {
            FZ_CHECK(t != SMAR_TIME_NONE);
            /* at most a day (the largest offset) outside the accepted years */
            FZ_CHECK(t >= year_lo - 86400LL * 1000000000LL &&
                     t <= year_hi + 86400LL * 1000000000LL);
            round_trip(t, in_years(t));
            /* a date-time accepted without dates is accepted with them, to the same time */
            smar_time_ns t2;
            if (!allow_date)
                FZ_CHECK(smar_time_parse((const char *)data, size, 1, &t2) == SMAR_OK && t2 == t);
        } else {
            FZ_CHECK(smar_time_parse((const char *)data, size, allow_date, &t) != SMAR_OK);
        }
    }
    /* the bytes as a time value */
    if (size >= 8) {
        t = (smar_time_ns)smar_load_u64(data);
        round_trip(t, in_years(t));
    }
    return 0;
}
