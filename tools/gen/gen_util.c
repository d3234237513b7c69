/* smar-gen-export: PRNG, buffered JSON output, timestamps and ids. */
#include "gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG ---- */

uint64_t gen_mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t gen_hash4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = gen_mix64(a ^ UINT64_C(0x5bd1e9955bd1e995));
    h = gen_mix64(h ^ b);
    h = gen_mix64(h ^ c);
    return gen_mix64(h ^ d);
}

void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        r->s[i] = gen_mix64(x);
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    if (n == 0)
        return 0;
    return rng_next(r) % n; /* the bias is irrelevant here */
}

int64_t rng_range(rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    return (int64_t)((uint64_t)lo + (span == 0 ? rng_next(r) : rng_below(r, span)));
}

int rng_chance(rng_t *r, unsigned num, unsigned den)
{
    return rng_below(r, den) < num;
}

/* ---- Output ---- */

int out_init(out_t *o)
{
    memset(o, 0, sizeof(*o));
    o->buf = malloc(OUT_BUF_SIZE);
    if (o->buf == NULL) {
        fprintf(stderr, "smar-gen-export: out of memory\n");
        return -1;
    }
    return 0;
}

void out_free(out_t *o)
{
    free(o->buf);
    o->buf = NULL;
}

int out_open(out_t *o, const char *path)
{
    o->len = 0;
    o->err = 0;
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fp = stdout;
        o->path = "(standard output)";
        o->owns_file = 0;
    } else {
        o->fp = fopen(path, "wb");
        o->path = path;
        if (o->fp == NULL) {
            fprintf(stderr, "smar-gen-export: cannot open %s for writing: %s\n", path,
                    strerror(errno));
            return -1;
        }
        o->owns_file = 1;
    }
    /* Our own buffer does the batching; stdio's would only add a copy. */
    setvbuf(o->fp, NULL, _IONBF, 0);
    return 0;
}

void out_flush(out_t *o)
{
    if (o->len == 0)
        return;
    if (o->err == 0) {
        size_t w = fwrite(o->buf, 1, o->len, o->fp);
        if (w != o->len)
            o->err = errno != 0 ? errno : -1;
    }
    o->len = 0;
}

int out_close(out_t *o)
{
    int rc = 0;
    out_flush(o);
    if (o->err == 0 && fflush(o->fp) != 0)
        o->err = errno != 0 ? errno : -1;
    if (o->owns_file) {
        if (fclose(o->fp) != 0 && o->err == 0)
            o->err = errno != 0 ? errno : -1;
    }
    if (o->err != 0) {
        fprintf(stderr, "smar-gen-export: write error on %s: %s\n", o->path,
                o->err > 0 ? strerror(o->err) : "unknown error");
        rc = -1;
    }
    o->fp = NULL;
    o->owns_file = 0;
    return rc;
}

char *out_take(out_t *o, size_t n)
{
    if (OUT_BUF_SIZE - o->len < n)
        out_flush(o);
    char *p = o->buf + o->len;
    o->len += n;
    return p;
}

void out_raw(out_t *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == OUT_BUF_SIZE)
            out_flush(o);
        size_t room = OUT_BUF_SIZE - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void out_char(out_t *o, char c)
{
    if (o->len == OUT_BUF_SIZE)
        out_flush(o);
    o->buf[o->len++] = c;
}

void out_cstr(out_t *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

void out_jstr(out_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    out_char(o, '"');
    const char *run = s;
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        out_raw(o, run, (size_t)(s - run));
        run = s + 1;
        switch (ch) {
        case '"':
            OUT_LIT(o, "\\\"");
            break;
        case '\\':
            OUT_LIT(o, "\\\\");
            break;
        case '\n':
            OUT_LIT(o, "\\n");
            break;
        case '\t':
            OUT_LIT(o, "\\t");
            break;
        case '\r':
            OUT_LIT(o, "\\r");
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            out_raw(o, e, sizeof(e));
            break;
        }
        }
    }
    out_raw(o, run, (size_t)(s - run));
    out_char(o, '"');
}

void out_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    out_raw(o, tmp + i, sizeof(tmp) - i);
}

void out_i64(out_t *o, int64_t v)
{
    if (v < 0) {
        out_char(o, '-');
        out_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        out_u64(o, (uint64_t)v);
    }
}

void out_bool(out_t *o, int v)
{
    if (v)
        OUT_LIT(o, "true");
    else
        OUT_LIT(o, "false");
}

void out_ts(out_t *o, int64_t ns)
{
    char buf[48];
    buf[0] = '"';
    size_t n = ts_format(buf + 1, ns);
    buf[n + 1] = '"';
    out_raw(o, buf, n + 2);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char HEX[] = "0123456789abcdef";
/* 64 characters: none of them needs escaping in JSON. */
static const char PWCHARS[] =
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-.:=?@^_~";

static void fill_6bit(rng_t *r, char *p, size_t n, const char *alpha)
{
    while (n >= 10) {
        uint64_t x = rng_next(r);
        for (int i = 0; i < 10; i++) {
            p[i] = alpha[x & 63];
            x >>= 6;
        }
        p += 10;
        n -= 10;
    }
    if (n > 0) {
        uint64_t x = rng_next(r);
        while (n-- > 0) {
            *p++ = alpha[x & 63];
            x >>= 6;
        }
    }
}

static void fill_alpha(rng_t *r, char *p, size_t n, const char *alpha, uint64_t alen)
{
    /* 8 draws of 8 bits from each word; modulo bias is fine for sample data. */
    while (n > 0) {
        uint64_t x = rng_next(r);
        for (int i = 0; i < 8 && n > 0; i++, n--) {
            *p++ = alpha[(x & 255) % alen];
            x >>= 8;
        }
    }
}

#define FILL_CHUNK ((size_t)65536)

void out_rand_b64(out_t *o, rng_t *r, size_t n, int url)
{
    while (n > 0) {
        size_t k = n < FILL_CHUNK ? n : FILL_CHUNK;
        fill_6bit(r, out_take(o, k), k, url ? B64URL : B64);
        n -= k;
    }
}

void out_rand_hex(out_t *o, rng_t *r, size_t n)
{
    while (n > 0) {
        size_t k = n < FILL_CHUNK ? n : FILL_CHUNK;
        char *p = out_take(o, k);
        size_t left = k;
        while (left > 0) {
            uint64_t x = rng_next(r);
            for (int i = 0; i < 16 && left > 0; i++, left--) {
                *p++ = HEX[x & 15];
                x >>= 4;
            }
        }
        n -= k;
    }
}

void out_rand_password(out_t *o, rng_t *r, size_t n)
{
    while (n > 0) {
        size_t k = n < FILL_CHUNK ? n : FILL_CHUNK;
        fill_alpha(r, out_take(o, k), k, PWCHARS, sizeof(PWCHARS) - 1);
        n -= k;
    }
}

void out_pem_body(out_t *o, rng_t *r, const char *label, size_t body)
{
    OUT_LIT(o, "-----BEGIN ");
    out_cstr(o, label);
    OUT_LIT(o, "-----\\n");
    size_t done = 0;
    /* Real PEM bodies are whole base64 quads, with 0-2 '=' of padding at the end; lines are
     * 64 characters (a multiple of 4), so the last line has at least 4 characters. */
    body = (body + 3) / 4 * 4;
    size_t pad = body >= 8 ? (body / 4) % 3 : 0;
    while (done < body) {
        size_t line = body - done < 64 ? body - done : 64;
        char *p = out_take(o, line + 2);
        fill_6bit(r, p, line, B64);
        if (done == 0 && body > 3) {
            p[0] = 'M';
            p[1] = 'I';
            p[2] = 'I';
        }
        if (done + line == body)
            for (size_t i = 0; i < pad; i++)
                p[line - 1 - i] = '=';
        p[line] = '\\';
        p[line + 1] = 'n';
        done += line;
    }
    OUT_LIT(o, "-----END ");
    out_cstr(o, label);
    OUT_LIT(o, "-----");
}

/* ---- Time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + (int)(v % 10));
        v /= 10;
    }
}

size_t ts_format(char *buf, int64_t ns)
{
    int64_t secs = floor_div(ns, NS_PER_SEC);
    unsigned frac = (unsigned)(ns - secs * NS_PER_SEC);
    int64_t days = floor_div(secs, 86400);
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    put_digits(buf, (unsigned)y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = 'T';
    put_digits(buf + 11, sod / 3600, 2);
    buf[13] = ':';
    put_digits(buf + 14, sod / 60 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, sod % 60, 2);
    size_t n = 19;
    if (frac != 0) {
        int digits = 9;
        unsigned v = frac;
        if (frac % 1000000 == 0) {
            digits = 3;
            v = frac / 1000000;
        } else if (frac % 1000 == 0) {
            digits = 6;
            v = frac / 1000;
        }
        buf[n++] = '.';
        put_digits(buf + n, v, digits);
        n += (size_t)digits;
    }
    buf[n++] = 'Z';
    buf[n] = '\0';
    return n;
}

static int parse_uint(const char **sp, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*sp)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (unsigned)(ch - '0');
    }
    *sp += n;
    *out = v;
    return 0;
}

int ts_parse(const char *s, int64_t *ns)
{
    unsigned y, mo, d, h, mi, se;
    if (parse_uint(&s, 4, &y) || *s++ != '-' || parse_uint(&s, 2, &mo) || *s++ != '-' ||
        parse_uint(&s, 2, &d))
        return -1;
    if (*s != 'T' && *s != 't')
        return -1;
    s++;
    if (parse_uint(&s, 2, &h) || *s++ != ':' || parse_uint(&s, 2, &mi) || *s++ != ':' ||
        parse_uint(&s, 2, &se))
        return -1;
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1971 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || se > 59)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    int64_t frac = 0;
    if (*s == '.') {
        s++;
        int nd = 0;
        int64_t scale = NS_PER_SEC;
        while (*s >= '0' && *s <= '9') {
            if (nd >= 9)
                return -1;
            scale /= 10;
            frac += (int64_t)(*s - '0') * scale;
            nd++;
            s++;
        }
        if (nd == 0)
            return -1;
    }
    int64_t offset = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int neg = *s == '-';
        s++;
        unsigned oh, om;
        if (parse_uint(&s, 2, &oh) || *s++ != ':' || parse_uint(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = ((int64_t)oh * 3600 + (int64_t)om * 60) * (neg ? -1 : 1);
    } else {
        return -1;
    }
    if (*s != '\0')
        return -1;
    int64_t days = days_from_civil((int64_t)y, mo, d);
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)se - offset;
    *ns = secs * NS_PER_SEC + frac;
    return 0;
}

int64_t ts_rand_precision(rng_t *r, int64_t ns)
{
    switch (rng_below(r, 3)) {
    case 0:
        return ns - (ns % NS_PER_SEC);
    case 1:
        return ns - (ns % INT64_C(1000000));
    default:
        return ns - (ns % INT64_C(1000));
    }
}

/* ---- Ids ---- */

void uuid_format(char out[37], uint64_t h1, uint64_t h2)
{
    uint8_t b[16];
    /* h1 fills bytes 0-5 and 10-11, which the version and variant do not touch. */
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(h1 >> (8 * i));
    b[10] = (uint8_t)(h1 >> 48);
    b[11] = (uint8_t)(h1 >> 56);
    for (int i = 0; i < 4; i++)
        b[6 + i] = (uint8_t)(h2 >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[12 + i] = (uint8_t)(h2 >> (32 + 8 * i));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = HEX[b[i] >> 4];
        out[j++] = HEX[b[i] & 15];
    }
    out[j] = '\0';
}
