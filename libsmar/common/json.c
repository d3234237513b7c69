/*
 * json.c - strict RFC 8259 validation and span-based access (see json.h).
 *
 * The validator is a recursive-descent parser whose recursion is bounded by max_depth
 * (itself capped at SMAR_JSON_MAX_DEPTH), so stack use is small and fixed. Duplicate
 * object keys are found by sorting each object's keys by (hash, decoded bytes): the cost
 * is O(k log k) per object of k keys even when an attacker makes the hashes collide.
 *
 * The accessors (iterators, decode, get) run on spans the validator accepted, so they
 * only need to find token boundaries; they still bound every read by the span's end.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal.h"

/* ---- decoded bytes of a string token ----------------------------------------------- */

/* Produces the decoded UTF-8 bytes of a string token one at a time, so keys can be hashed
 * and compared without allocating. Works on unvalidated text without reading outside
 * [p, end): malformed escapes decode to U+FFFD. */
typedef struct str_decoder {
    const char *p;
    const char *end; /* the closing quote */
    uint8_t pending[4];
    unsigned npending;
    unsigned ipending;
} str_decoder;

static void decoder_init(str_decoder *d, smar_span token)
{
    d->npending = d->ipending = 0;
    if (token.p == NULL || token.n < 2 || token.p[0] != '"') {
        d->p = d->end = token.p;
        return;
    }
    d->p = token.p + 1;
    d->end = token.p + token.n - 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at p as a code unit, or -1 when there are fewer than 4 or a non-hex. */
static long read_hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static bool is_high_surrogate(long u)
{
    return u >= 0xD800 && u <= 0xDBFF;
}

static bool is_low_surrogate(long u)
{
    return u >= 0xDC00 && u <= 0xDFFF;
}

static unsigned utf8_encode(unsigned long cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the \uXXXX escape whose digits start at d->p (a surrogate pair takes the
 * following \uXXXX too) into d->pending. */
static void decode_u_escape(str_decoder *d)
{
    long unit = read_hex4(d->p, d->end);
    unsigned long cp = 0xFFFD;
    if (unit >= 0) {
        d->p += 4;
        if (!is_high_surrogate(unit) && !is_low_surrogate(unit)) {
            cp = (unsigned long)unit;
        } else if (is_high_surrogate(unit) && d->end - d->p >= 6 && d->p[0] == '\\' &&
                   d->p[1] == 'u') {
            long low = read_hex4(d->p + 2, d->end);
            if (is_low_surrogate(low)) {
                cp = 0x10000 + ((unsigned long)(unit - 0xD800) << 10) +
                     (unsigned long)(low - 0xDC00);
                d->p += 6;
            }
        }
    }
    d->npending = utf8_encode(cp, d->pending);
    d->ipending = 0;
}

static uint8_t simple_escape_value(char e)
{
    switch (e) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default: /* '"', '\\', '/' stand for themselves */
        return (uint8_t)e;
    }
}

static bool decoder_next(str_decoder *d, uint8_t *out)
{
    if (d->ipending < d->npending) {
        *out = d->pending[d->ipending++];
        return true;
    }
    if (d->p >= d->end)
        return false;
    char c = *d->p++;
    if (c != '\\') {
        *out = (uint8_t)c;
        return true;
    }
    if (d->p >= d->end)
        return false;
    char e = *d->p++;
    if (e != 'u') {
        *out = simple_escape_value(e);
        return true;
    }
    decode_u_escape(d);
    *out = d->pending[d->ipending++];
    return true;
}

/* ---- duplicate key detection -------------------------------------------------------- */

typedef struct key_entry {
    uint64_t hash;
    const char *p; /* the key token with quotes */
    size_t n;
    size_t offset; /* byte offset of the token, for the error message */
} key_entry;

/* A stack shared by all open objects: each object's keys sit above its parent's. */
typedef struct key_stack {
    key_entry *v;
    size_t len;
    size_t cap;
} key_stack;

/* FNV-1a over the decoded bytes, so "a" and "\u0061" hash alike. escaped: whether the
 * token has a backslash (the validator knows it from reading the token). */
static uint64_t key_hash(smar_span token, bool escaped)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    if (token.n >= 2 && !escaped) {
        /* no escapes (nearly every key): the bytes between the quotes are the key */
        for (size_t i = 1; i + 1 < token.n; i++) {
            h ^= (uint8_t)token.p[i];
            h *= UINT64_C(0x100000001b3);
        }
        return h;
    }
    str_decoder d;
    decoder_init(&d, token);
    uint8_t b;
    while (decoder_next(&d, &b)) {
        h ^= b;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Order by hash, then by decoded bytes; 0 means the decoded keys are equal. */
static int key_entry_cmp(const void *a, const void *b)
{
    const key_entry *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    str_decoder dx, dy;
    decoder_init(&dx, (smar_span){x->p, x->n});
    decoder_init(&dy, (smar_span){y->p, y->n});
    for (;;) {
        uint8_t bx, by;
        bool hx = decoder_next(&dx, &bx);
        bool hy = decoder_next(&dy, &by);
        if (!hx || !hy)
            return (int)hx - (int)hy;
        if (bx != by)
            return bx < by ? -1 : 1;
    }
}

static bool key_stack_push(key_stack *ks, const char *p, size_t n, size_t offset, bool escaped)
{
    if (ks->len == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof(key_entry))
            return false;
        key_entry *v = realloc(ks->v, cap * sizeof(key_entry));
        if (v == NULL)
            return false;
        ks->v = v;
        ks->cap = cap;
    }
    smar_span token = {p, n};
    ks->v[ks->len++] = (key_entry){key_hash(token, escaped), p, n, offset};
    return true;
}

/* Up to this many keys an object's keys are checked pair by pair (at most 1,128 hash
 * comparisons: cheaper than sorting them), above it by sorting. Secret objects of an
 * export have 20 to 40 members. */
#define KEYS_PAIRWISE_MAX 48

/* Check the keys pushed since base for duplicates and pop them. On a duplicate returns
 * false with *dup_offset = offset of the later of the two keys. */
static bool key_stack_check_pop(key_stack *ks, size_t base, size_t *dup_offset)
{
    size_t count = ks->len - base;
    key_entry *keys = ks->v + base;
    bool unique = true;
    if (count > 1 && count <= KEYS_PAIRWISE_MAX) {
        /* small objects (nearly all): compare pairs, hashes first; cheaper than a sort. A
         * key whose hash's top 7 bits no earlier key had cannot equal an earlier key, so
         * only the few others are compared (a 30-key object: ~3 scans, not 435 pairs). */
        uint64_t seen[2] = {0, 0};
        for (size_t i = 0; i < count && unique; i++) {
            unsigned bit = (unsigned)(keys[i].hash >> 57); /* FNV mixes its top bits best */
            uint64_t mask = UINT64_C(1) << (bit & 63);
            if ((seen[bit >> 6] & mask) == 0) {
                seen[bit >> 6] |= mask;
                continue;
            }
            for (size_t j = 0; j < i; j++) {
                if (keys[i].hash == keys[j].hash && key_entry_cmp(&keys[i], &keys[j]) == 0) {
                    *dup_offset = keys[i].offset; /* i comes after j in the text */
                    unique = false;
                    break;
                }
            }
        }
    } else if (count > 1) {
        qsort(keys, count, sizeof *keys, key_entry_cmp);
        for (size_t i = 1; i < count; i++) {
            if (key_entry_cmp(&keys[i - 1], &keys[i]) == 0) {
                size_t a = keys[i - 1].offset, b = keys[i].offset;
                *dup_offset = a > b ? a : b;
                unique = false;
                break;
            }
        }
    }
    ks->len = base;
    return unique;
}

/* ---- validator ---------------------------------------------------------------------- */

typedef struct parser {
    const uint8_t *s;
    size_t n;
    size_t pos;
    unsigned max_depth;
    key_stack keys;
    bool string_escaped;   /* the last string parse_string read had a backslash */
    smar_json_fields *top; /* NULL, or where the top-level object's members are recorded */
    char *err;
    size_t errlen;
} parser;

static bool fail_at(parser *ps, const char *reason, size_t offset)
{
    if (ps->err != NULL && ps->errlen > 0)
        (void)snprintf(ps->err, ps->errlen, "%s at byte %zu", reason, offset);
    return false;
}

static bool fail(parser *ps, const char *reason)
{
    return fail_at(ps, ps->pos < ps->n ? reason : "unexpected end of input", ps->pos);
}

static bool at_end(const parser *ps)
{
    return ps->pos >= ps->n;
}

static int peek(const parser *ps)
{
    return ps->pos < ps->n ? ps->s[ps->pos] : -1;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->n) {
        uint8_t c = ps->s[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        ps->pos++;
    }
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 when it is
 * invalid: overlong, a surrogate, above U+10FFFF, truncated or a stray continuation. */
static size_t utf8_sequence_len(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

/* \uXXXX at ps->pos (pointing at the backslash); a high surrogate must be followed by a
 * \u low surrogate. */
static bool parse_u_escape(parser *ps)
{
    const char *text = (const char *)ps->s;
    long unit = read_hex4(text + ps->pos + 2, text + ps->n);
    if (unit < 0)
        return fail_at(ps, "invalid \\u escape", ps->pos);
    if (is_low_surrogate(unit))
        return fail_at(ps, "unpaired surrogate escape", ps->pos);
    if (!is_high_surrogate(unit)) {
        ps->pos += 6;
        return true;
    }
    size_t next = ps->pos + 6;
    if (ps->n - next < 6 || ps->s[next] != '\\' || ps->s[next + 1] != 'u' ||
        !is_low_surrogate(read_hex4(text + next + 2, text + ps->n)))
        return fail_at(ps, "unpaired surrogate escape", ps->pos);
    ps->pos += 12;
    return true;
}

static bool parse_escape(parser *ps)
{
    if (ps->pos + 1 >= ps->n)
        return fail_at(ps, "unterminated string", ps->n);
    switch (ps->s[ps->pos + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        ps->pos += 2;
        return true;
    case 'u':
        return parse_u_escape(ps);
    default:
        return fail_at(ps, "invalid escape", ps->pos);
    }
}

/* Bytes that stand for themselves inside a string: printable ASCII but '"' and '\\'. */
static bool plain_string_byte(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if !defined(__SSE2__)
/* Whether all 8 bytes at p are plain, tested together (the "has a byte less than n"
 * bit tricks: exact for "any byte", which is all that is asked here). */
static bool plain_string_word(const uint8_t *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
    uint64_t x;
    memcpy(&x, p, sizeof x);
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t control = (x - ones * 0x20) & ~x;
    quote = (quote - ones) & ~quote;
    backslash = (backslash - ones) & ~backslash;
    return ((x | control | quote | backslash) & highs) == 0;
}
#endif

/* The offset of the first byte at or after pos that is not plain (or n): payloads are long
 * runs of plain bytes (PEM, base64), stepped over 16 bytes at a time where SSE2 is there,
 * else 8 at a time. */
static size_t skip_plain_string_bytes(const uint8_t *s, size_t pos, size_t n)
{
#if defined(__SSE2__)
    /* signed compare: bytes >= 0x80 are negative, so "greater than 0x1F" is 0x20..0x7F */
    const __m128i space_minus_one = _mm_set1_epi8(0x1F), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    while (n - pos >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + pos));
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash));
        __m128i plain = _mm_andnot_si128(special, _mm_cmpgt_epi8(x, space_minus_one));
        unsigned mask = (unsigned)_mm_movemask_epi8(plain) ^ 0xFFFFu;
        if (mask != 0)
            return pos + (size_t)__builtin_ctz(mask);
        pos += 16;
    }
#else
    while (n - pos >= 8 && plain_string_word(s + pos))
        pos += 8;
#endif
    while (pos < n && plain_string_byte(s[pos]))
        pos++;
    return pos;
}

/* A string token starting at the opening quote; leaves pos after the closing quote. */
static bool parse_string(parser *ps)
{
    ps->pos++; /* opening quote */
    ps->string_escaped = false;
    while (ps->pos < ps->n) {
        ps->pos = skip_plain_string_bytes(ps->s, ps->pos, ps->n);
        if (ps->pos >= ps->n)
            break;
        uint8_t c = ps->s[ps->pos];
        if (c == '"') {
            ps->pos++;
            return true;
        }
        if (c == '\\') {
            ps->string_escaped = true;
            if (!parse_escape(ps))
                return false;
        } else if (c < 0x20) {
            return fail(ps, "control character in string");
        } else if (c < 0x80) {
            ps->pos++;
        } else {
            size_t len = utf8_sequence_len(ps->s + ps->pos, ps->n - ps->pos);
            if (len == 0)
                return fail(ps, "invalid UTF-8");
            ps->pos += len;
        }
    }
    return fail_at(ps, "unterminated string", ps->n);
}

/* One or more digits; false (without a message) when there are none. */
static bool skip_digits(parser *ps)
{
    size_t start = ps->pos;
    while (is_digit(peek(ps)))
        ps->pos++;
    return ps->pos > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool parse_number(parser *ps)
{
    if (peek(ps) == '-')
        ps->pos++;
    if (peek(ps) == '0') {
        ps->pos++;
        if (is_digit(peek(ps)))
            return fail(ps, "leading zero in number");
    } else if (!skip_digits(ps)) {
        return fail(ps, "invalid number");
    }
    if (peek(ps) == '.') {
        ps->pos++;
        if (!skip_digits(ps))
            return fail(ps, "invalid number");
    }
    if (peek(ps) == 'e' || peek(ps) == 'E') {
        ps->pos++;
        if (peek(ps) == '+' || peek(ps) == '-')
            ps->pos++;
        if (!skip_digits(ps))
            return fail(ps, "invalid number");
    }
    return true;
}

static bool parse_literal(parser *ps, const char *word, size_t len)
{
    if (ps->n - ps->pos < len || memcmp(ps->s + ps->pos, word, len) != 0)
        return fail(ps, "invalid literal");
    ps->pos += len;
    return true;
}

static bool parse_value(parser *ps, unsigned depth);

/* The member of the top-level object that ends at pos: what smar_json_fields_init would
 * find walking the object again afterwards, found while validating instead. */
static void record_top_member(parser *ps, smar_span key, size_t value_start)
{
    smar_json_fields *f = ps->top;
    if (f->overflow)
        return;
    if (f->n == SMAR_JSON_FIELDS_MAX) {
        f->overflow = true; /* smar_json_fields_get walks the object then, as there */
        return;
    }
    f->key[f->n] = key;
    f->value[f->n++] = (smar_span){(const char *)ps->s + value_start, ps->pos - value_start};
}

static bool parse_members(parser *ps, unsigned depth)
{
    for (;;) {
        skip_ws(ps);
        if (peek(ps) != '"')
            return fail(ps, "expected string key");
        size_t key_start = ps->pos;
        if (!parse_string(ps))
            return false;
        smar_span key = {(const char *)ps->s + key_start, ps->pos - key_start};
        if (!key_stack_push(&ps->keys, key.p, key.n, key_start, ps->string_escaped))
            return fail_at(ps, "out of memory", key_start);
        skip_ws(ps);
        if (peek(ps) != ':')
            return fail(ps, "expected ':'");
        ps->pos++;
        skip_ws(ps);
        size_t value_start = ps->pos;
        if (!parse_value(ps, depth))
            return false;
        if (depth == 1 && ps->top != NULL)
            record_top_member(ps, key, value_start);
        skip_ws(ps);
        if (peek(ps) == '}')
            return true;
        if (peek(ps) != ',')
            return fail(ps, "expected ',' or '}'");
        ps->pos++;
    }
}

static bool parse_object(parser *ps, unsigned depth)
{
    ps->pos++; /* '{' */
    skip_ws(ps);
    if (peek(ps) == '}') {
        ps->pos++;
        return true;
    }
    size_t base = ps->keys.len;
    if (!parse_members(ps, depth))
        return false;
    ps->pos++; /* '}' */
    size_t dup_offset = 0;
    if (!key_stack_check_pop(&ps->keys, base, &dup_offset))
        return fail_at(ps, "duplicate object key", dup_offset);
    return true;
}

static bool parse_array(parser *ps, unsigned depth)
{
    ps->pos++; /* '[' */
    skip_ws(ps);
    if (peek(ps) == ']') {
        ps->pos++;
        return true;
    }
    for (;;) {
        if (!parse_value(ps, depth))
            return false;
        skip_ws(ps);
        if (peek(ps) == ']') {
            ps->pos++;
            return true;
        }
        if (peek(ps) != ',')
            return fail(ps, "expected ',' or ']'");
        ps->pos++;
    }
}

/* A value after optional whitespace; depth counts the containers around it. */
static bool parse_value(parser *ps, unsigned depth)
{
    skip_ws(ps);
    int c = peek(ps);
    switch (c) {
    case '{':
    case '[':
        if (depth + 1 > ps->max_depth)
            return fail(ps, "nesting too deep");
        return c == '{' ? parse_object(ps, depth + 1) : parse_array(ps, depth + 1);
    case '"':
        return parse_string(ps);
    case 't':
        return parse_literal(ps, "true", 4);
    case 'f':
        return parse_literal(ps, "false", 5);
    case 'n':
        return parse_literal(ps, "null", 4);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps);
        return fail(ps, "unexpected character");
    }
}

static bool validate_text(parser *ps, smar_span *value)
{
    skip_ws(ps);
    if (at_end(ps))
        return fail_at(ps, "empty input", ps->pos);
    size_t start = ps->pos;
    if (!parse_value(ps, 0))
        return false;
    size_t end = ps->pos;
    skip_ws(ps);
    if (!at_end(ps))
        return fail(ps, "unexpected data after value");
    if (value != NULL)
        *value = (smar_span){(const char *)ps->s + start, end - start};
    return true;
}

static bool validate(smar_span text, unsigned max_depth, smar_span *value, smar_json_fields *top,
                     char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    parser ps = {
        (const uint8_t *)text.p, text.n, 0, max_depth, {NULL, 0, 0}, false, top, err, errlen};
    if (text.p == NULL) {
        ps.n = 0;
        if (text.n != 0)
            return fail_at(&ps, "invalid argument", 0);
    }
    /* The recursion depth is what bounds stack use, so never exceed the documented cap. */
    if (ps.max_depth > SMAR_JSON_MAX_DEPTH)
        ps.max_depth = SMAR_JSON_MAX_DEPTH;
    smar_span found = {NULL, 0};
    bool ok = validate_text(&ps, &found);
    free(ps.keys.v);
    if (value != NULL && ok)
        *value = found;
    if (top != NULL) {
        top->object = found;
        if (!ok || smar_json_kind_of(found) != SMAR_JSON_OBJECT) {
            top->n = 0;
            top->overflow = false;
        }
    }
    return ok;
}

bool smar_json_validate(smar_span text, unsigned max_depth, smar_span *value, char *err,
                        size_t errlen)
{
    return validate(text, max_depth, value, NULL, err, errlen);
}

bool smar_json_validate_fields(smar_span text, unsigned max_depth, smar_span *value,
                               smar_json_fields *fields, char *err, size_t errlen)
{
    fields->n = 0;
    fields->overflow = false;
    return validate(text, max_depth, value, fields, err, errlen);
}

/* ---- accessors on validated spans ---------------------------------------------------- */

smar_json_kind smar_json_kind_of(smar_span value)
{
    if (value.p == NULL || value.n == 0)
        return SMAR_JSON_INVALID;
    switch (value.p[0]) {
    case '{':
        return SMAR_JSON_OBJECT;
    case '[':
        return SMAR_JSON_ARRAY;
    case '"':
        return SMAR_JSON_STRING;
    case 't':
        return SMAR_JSON_TRUE;
    case 'f':
        return SMAR_JSON_FALSE;
    case 'n':
        return SMAR_JSON_NULL;
    default:
        if (value.p[0] == '-' || is_digit(value.p[0]))
            return SMAR_JSON_NUMBER;
        return SMAR_JSON_INVALID;
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws_to(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* p at an opening quote; returns the position after the closing quote (or end). Jumps
 * from quote to quote with memchr: strings here are payloads of kilobytes. */
static const char *skip_string_token(const char *p, const char *end)
{
    p++;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (q == NULL)
            return end;
        /* the quote closes the string unless an odd run of backslashes escapes it (the
         * byte before p is the opening quote or an escaped one: never a backslash) */
        const char *b = q;
        while (b > p && b[-1] == '\\')
            b--;
        if ((q - b) % 2 == 0)
            return q + 1;
        p = q + 1;
    }
    return end;
}

/* p at an opening bracket; returns the position after its matching bracket (or end). */
static const char *skip_container(const char *p, const char *end)
{
    size_t depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = skip_string_token(p, end);
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return end;
}

/* p at the first byte of a value; returns the position just after it. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return end;
    if (*p == '"')
        return skip_string_token(p, end);
    if (*p == '{' || *p == '[')
        return skip_container(p, end);
    /* number or literal: runs until a delimiter */
    while (p < end && !is_ws(*p) && *p != ',' && *p != ']' && *p != '}' && *p != ':')
        p++;
    return p;
}

void smar_json_iter_init(smar_json_iter *it, smar_span container)
{
    smar_json_kind kind = smar_json_kind_of(container);
    if (container.n < 2 || (kind != SMAR_JSON_OBJECT && kind != SMAR_JSON_ARRAY)) {
        it->p = it->end = container.p;
        return;
    }
    it->p = container.p + 1;
    it->end = container.p + container.n - 1; /* the closing bracket */
}

/* Move to the next item: past whitespace and a separating comma. False at the end. */
static bool iter_advance(smar_json_iter *it)
{
    it->p = skip_ws_to(it->p, it->end);
    if (it->p < it->end && *it->p == ',')
        it->p = skip_ws_to(it->p + 1, it->end);
    return it->p < it->end;
}

static bool iter_take_value(smar_json_iter *it, smar_span *value)
{
    const char *start = it->p;
    it->p = skip_value(it->p, it->end);
    if (it->p == start)
        return false;
    *value = (smar_span){start, (size_t)(it->p - start)};
    return true;
}

bool smar_json_next_member(smar_json_iter *it, smar_span *key, smar_span *value)
{
    if (!iter_advance(it) || *it->p != '"')
        return false;
    const char *key_start = it->p;
    it->p = skip_string_token(it->p, it->end);
    *key = (smar_span){key_start, (size_t)(it->p - key_start)};
    it->p = skip_ws_to(it->p, it->end);
    if (it->p >= it->end || *it->p != ':')
        return false;
    it->p = skip_ws_to(it->p + 1, it->end);
    return iter_take_value(it, value);
}

bool smar_json_next_element(smar_json_iter *it, smar_span *value)
{
    if (!iter_advance(it))
        return false;
    return iter_take_value(it, value);
}

/* The members of the object at it->p, up to and after its closing brace. */
static const char *walk_object_fields(const char *p, const char *end, smar_json_fields *f)
{
    smar_json_iter members = {p + 1, end};
    smar_span key, value;
    while (iter_advance(&members) && *members.p == '"') {
        if (!smar_json_next_member(&members, &key, &value))
            break;
        if (f->n == SMAR_JSON_FIELDS_MAX) {
            f->overflow = true; /* walked on, not recorded: smar_json_fields_get walks */
            continue;
        }
        f->key[f->n] = key;
        f->value[f->n++] = value;
    }
    return members.p < end && *members.p == '}' ? members.p + 1 : end;
}

bool smar_json_next_element_fields(smar_json_iter *it, smar_span *value, smar_json_fields *f)
{
    f->n = 0;
    f->overflow = false;
    f->object = (smar_span){NULL, 0};
    if (!iter_advance(it))
        return false;
    if (*it->p != '{') {
        if (!iter_take_value(it, value))
            return false;
        f->object = *value;
        return true;
    }
    const char *start = it->p;
    it->p = walk_object_fields(start, it->end, f);
    *value = (smar_span){start, (size_t)(it->p - start)};
    f->object = *value;
    return true;
}

bool smar_json_get(smar_span object, const char *name, smar_span *value)
{
    if (smar_json_kind_of(object) != SMAR_JSON_OBJECT || name == NULL)
        return false;
    smar_json_iter it;
    smar_json_iter_init(&it, object);
    smar_span key, v;
    while (smar_json_next_member(&it, &key, &v)) {
        if (smar_json_string_eq(key, name)) {
            if (value != NULL)
                *value = v;
            return true;
        }
    }
    return false;
}

void smar_json_fields_init(smar_json_fields *f, smar_span object)
{
    smar_json_iter it;
    smar_span key, value;
    f->object = object;
    f->n = 0;
    f->overflow = false;
    if (smar_json_kind_of(object) != SMAR_JSON_OBJECT)
        return;
    smar_json_iter_init(&it, object);
    while (smar_json_next_member(&it, &key, &value)) {
        if (f->n == SMAR_JSON_FIELDS_MAX) {
            f->overflow = true;
            return;
        }
        f->key[f->n] = key;
        f->value[f->n++] = value;
    }
}

bool smar_json_fields_get(const smar_json_fields *f, const char *name, smar_span *value)
{
    if (f->overflow)
        return smar_json_get(f->object, name, value);
    for (size_t i = 0; i < f->n; i++) {
        const char *k = f->key[i].p;
        /* the first byte decides for most keys (smar_json_string_eq does the same, after
         * a call: this is the loop every field lookup spends its time in) */
        if (f->key[i].n > 2 && k[1] != '\\' && k[1] != name[0])
            continue;
        if (smar_json_string_eq(f->key[i], name)) {
            if (value != NULL)
                *value = f->value[i];
            return true;
        }
    }
    return false;
}

void smar_json_fields_iter_init(smar_json_fields_iter *it, const smar_json_fields *f)
{
    it->f = f;
    it->i = 0;
    smar_json_iter_init(&it->walk, f->object);
}

bool smar_json_fields_next(smar_json_fields_iter *it, smar_span *key, smar_span *value)
{
    if (it->f->overflow)
        return smar_json_next_member(&it->walk, key, value);
    if (it->i >= it->f->n)
        return false;
    *key = it->f->key[it->i];
    *value = it->f->value[it->i++];
    return true;
}

static bool is_string_token(smar_span token)
{
    return token.p != NULL && token.n >= 2 && token.p[0] == '"';
}

bool smar_json_string_decode(smar_span token, char *out, size_t cap, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (!is_string_token(token))
        return false;
    if (memchr(token.p, '\\', token.n) == NULL) {
        /* no escapes (nearly every string): the bytes between the quotes */
        size_t n = token.n - 2;
        if (out != NULL)
            memcpy(out, token.p + 1, n < cap ? n : cap);
        if (len != NULL)
            *len = n;
        return out == NULL || n <= cap;
    }
    str_decoder d;
    decoder_init(&d, token);
    size_t total = 0;
    uint8_t b;
    while (decoder_next(&d, &b)) {
        if (out != NULL && total < cap)
            out[total] = (char)b;
        total++;
    }
    if (len != NULL)
        *len = total;
    /* Measuring (out == NULL) always succeeds. */
    return out == NULL || total <= cap;
}

char *smar_json_string_dup(smar_span token)
{
    size_t len;
    if (!smar_json_string_decode(token, NULL, 0, &len) || len == SIZE_MAX)
        return NULL;
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    (void)smar_json_string_decode(token, s, len, &len);
    if (memchr(s, '\0', len) != NULL) {
        free(s);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

bool smar_json_string_eq(smar_span token, const char *s)
{
    if (!is_string_token(token) || s == NULL)
        return false;
    if (token.n == 2)
        return s[0] == '\0';
    /* A first byte that is not a backslash is the first decoded byte: most names looked
     * for differ from most keys right there (a secret has some 30 fields, each found by
     * name), so answer without measuring anything. */
    if (token.p[1] != '\\' && token.p[1] != s[0])
        return false;
    size_t raw = token.n - 2, want_len = strlen(s);
    /* An escape always decodes to fewer bytes than it takes, so a key can only match a
     * name as long as its raw text by being that text, and never one longer: most
     * comparisons (field lookups by name) end here without looking for escapes. */
    if (raw <= want_len)
        return raw == want_len && memcmp(token.p + 1, s, raw) == 0 &&
               memchr(s, '\\', want_len) == NULL;
    if (memchr(token.p + 1, '\\', raw) == NULL)
        return false;
    str_decoder d;
    decoder_init(&d, token);
    const uint8_t *want = (const uint8_t *)s;
    uint8_t b;
    /* A decoded NUL never matches: s ends at its first NUL. */
    while (decoder_next(&d, &b)) {
        if (*want == '\0' || b != *want)
            return false;
        want++;
    }
    return *want == '\0';
}

/* ---- quoting ------------------------------------------------------------------------- */

static bool needs_escape(uint8_t c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static int append_escape(smar_buf *buf, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"':
    case '\\':
        esc[1] = (char)c;
        break;
    case '\n':
        esc[1] = 'n';
        break;
    case '\t':
        esc[1] = 't';
        break;
    case '\r':
        esc[1] = 'r';
        break;
    case '\b':
        esc[1] = 'b';
        break;
    case '\f':
        esc[1] = 'f';
        break;
    default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xF];
        n = 6;
        break;
    }
    return smar_buf_append(buf, esc, n);
}

int smar_json_quote(struct smar_buf *buf, const char *s, size_t n)
{
    if (s == NULL && n > 0)
        return -1;
    if (n > SIZE_MAX - 2 || smar_buf_reserve(buf, n + 2) != SMAR_OK)
        return -1;
    if (smar_buf_append(buf, "\"", 1) != SMAR_OK)
        return -1;
    if (n == 0)
        return smar_buf_append(buf, "\"", 1) == SMAR_OK ? 0 : -1;
    const uint8_t *u = (const uint8_t *)s;
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n; i++) {
        if (!needs_escape(u[i]))
            continue;
        if (smar_buf_append(buf, u + run, i - run) != SMAR_OK ||
            append_escape(buf, u[i]) != SMAR_OK)
            return -1;
        run = i + 1;
    }
    if (smar_buf_append(buf, u + run, n - run) != SMAR_OK ||
        smar_buf_append(buf, "\"", 1) != SMAR_OK)
        return -1;
    return 0;
}

bool smar_json_document_instance(smar_span document, char **out)
{
    smar_span instance, id;
    *out = NULL;
    if (!smar_json_get(document, "instance", &instance) ||
        smar_json_kind_of(instance) != SMAR_JSON_OBJECT)
        return true;
    if ((smar_json_get(instance, "crn", &id) && smar_json_kind_of(id) == SMAR_JSON_STRING) ||
        (smar_json_get(instance, "guid", &id) && smar_json_kind_of(id) == SMAR_JSON_STRING))
        return (*out = smar_json_string_dup(id)) != NULL;
    return true;
}
