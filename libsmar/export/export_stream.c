/*
 * export_stream.c - a JSON document or JSONL export, read as a stream.
 *
 * The top-level object is walked member by member. Members other than "secrets" are kept
 * (raw text) for the document; the elements of the "secrets" array are handed out one at a
 * time straight from the read window, so a 5 GB export.json needs one secret's worth of
 * memory. This walker only finds where each value ends; smar_json_validate() then checks
 * each value strictly before it is used.
 *
 * JSONL is recognised after the first object: if it had no "secrets" member and more lines
 * follow, every following non-blank line is one secret.
 */
#include "export_in.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef enum stream_state {
    ST_MEMBER_FIRST, /* after the document's '{' */
    ST_AFTER_MEMBER, /* expecting ',' or '}' */
    ST_ELEM_FIRST,   /* after the secrets array's '[' */
    ST_AFTER_ELEM,   /* expecting ',' or ']' */
    ST_TRAILER,      /* after the document's '}': the end, or JSONL lines */
    ST_LINES,        /* JSONL: one secret per line */
    ST_END,
} stream_state;

struct smar_export_stream {
    stream_state state;
    bool saw_secrets;
    uint64_t count; /* secrets found so far */
    smar_buf key;   /* the member name being read: the window may move on before its value */
};

/* ---- bytes ------------------------------------------------------------------------------ */

static bool is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The byte at pos, reading more if needed; -1 at the end of input. */
static int peek(smar_export *ex, int *c)
{
    smar_export_src *s = &ex->src;
    while (s->pos >= s->win.len) {
        int rc = smar_export_src_fill(ex);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *c = -1;
            return SMAR_OK;
        }
    }
    *c = s->win.data[s->pos];
    return SMAR_OK;
}

static void advance(smar_export_src *s)
{
    if (s->win.data[s->pos] == '\n')
        s->line++;
    s->pos++;
}

/* Skip blanks; everything before the next token is consumed. */
static int skip_blanks(smar_export *ex, int *c)
{
    for (;;) {
        ex->src.keep = ex->src.pos;
        int rc = peek(ex, c);
        if (rc != SMAR_OK || !is_blank(*c))
            return rc;
        advance(&ex->src);
    }
}

static int syntax_error(smar_export *ex, int c, const char *expected)
{
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: invalid JSON: %s", ex->name, ex->src.line,
                     c < 0 ? "unexpected end of input" : expected);
}

static smar_span kept_span(const smar_export_src *s)
{
    smar_span sp = {(const char *)s->win.data + s->keep, s->pos - s->keep};
    return sp;
}

/* ---- finding where a value ends ------------------------------------------------------- */

typedef struct value_scan {
    size_t depth;
    bool scalar; /* number or literal: ends before a delimiter */
    bool in_string;
    bool escaped;
} value_scan;

static bool ends_scalar(uint8_t c)
{
    return is_blank(c) || c == ',' || c == ']' || c == '}' || c == ':' || c == '[' || c == '{' ||
           c == '"';
}

/* Inside a string only '"', '\\' and '\n' (counted for line numbers; invalid there, but
 * the validator says so) matter: step over everything else 16 or 8 bytes at a time, since
 * payloads are kilobytes of base64 or PEM. Returns the offset of the next such byte before
 * end, or end. */
#if defined(__SSE2__)
static size_t next_string_special(const uint8_t *d, size_t pos, size_t end)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                  newline = _mm_set1_epi8('\n');
    while (end - pos >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(d + pos));
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                         _mm_cmpeq_epi8(x, newline));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask != 0)
            return pos + (size_t)__builtin_ctz(mask);
        pos += 16;
    }
    while (pos < end && d[pos] != '"' && d[pos] != '\\' && d[pos] != '\n')
        pos++;
    return pos;
}
#else
/* Whether any of the 8 bytes at p is '"', '\\' or '\n' (the "has a zero byte" trick). */
static bool word_has_special(const uint8_t *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
    uint64_t x;
    memcpy(&x, p, sizeof x);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), n = x ^ (ones * '\n');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((n - ones) & ~n)) & highs;
}

static size_t next_string_special(const uint8_t *d, size_t pos, size_t end)
{
    while (end - pos >= 8 && !word_has_special(d + pos))
        pos += 8;
    while (pos < end && d[pos] != '"' && d[pos] != '\\' && d[pos] != '\n')
        pos++;
    return pos;
}
#endif

/* Inside a string: up to and including its closing quote, or all of the window up to end.
 * True when the string closed. */
static bool scan_string(smar_export_src *s, value_scan *vs, size_t end)
{
    const uint8_t *d = s->win.data;
    if (vs->escaped && s->pos < end) {
        vs->escaped = false;
        if (d[s->pos] == '\n')
            s->line++;
        s->pos++;
    }
    while (s->pos < end) {
        s->pos = next_string_special(d, s->pos, end);
        if (s->pos >= end)
            break;
        uint8_t c = d[s->pos++];
        if (c == '\n') {
            s->line++;
        } else if (c == '"') {
            vs->in_string = false;
            return true;
        } else if (s->pos < end) { /* a backslash: the byte after it is escaped */
            if (d[s->pos] == '\n')
                s->line++;
            s->pos++;
        } else {
            vs->escaped = true;
        }
    }
    return false;
}

/* Walk the window up to `end`; true once the value's last byte was passed. Only quotes,
 * backslashes and brackets are looked at: brackets are counted, not matched, and nothing
 * is validated here (smar_json_validate does that, once). */
static bool scan_available(smar_export_src *s, value_scan *vs, size_t end)
{
    const uint8_t *d = s->win.data;
    while (s->pos < end) {
        if (vs->in_string) {
            if (!scan_string(s, vs, end))
                return false;
            if (vs->depth == 0)
                return true;
            continue;
        }
        uint8_t c = d[s->pos];
        if (vs->scalar) {
            if (ends_scalar(c))
                return true;
            s->pos++;
            continue;
        }
        s->pos++;
        if (c == '\n') {
            s->line++;
        } else if (c == '"') {
            vs->in_string = true;
        } else if (c == '{' || c == '[') {
            vs->depth++;
        } else if (c == '}' || c == ']') {
            if (vs->depth <= 1)
                return true;
            vs->depth--;
        }
    }
    return false;
}

/* Find the end of the value at pos, at most limit bytes; afterwards it is kept_span().
 * Returns SMAR_OK, SMAR_E_INPUT, SMAR_E_LIMIT (without a message: the caller knows what the
 * value is) or a read error. */
static int scan_value(smar_export *ex, size_t limit)
{
    smar_export_src *s = &ex->src;
    s->keep = s->pos;
    int c;
    int rc = peek(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    value_scan vs = {0, false, false, false};
    vs.scalar = c != '{' && c != '[' && c != '"';
    if (c < 0 || (vs.scalar && ends_scalar((uint8_t)c)))
        return syntax_error(ex, c, "expected a value");
    for (;;) {
        size_t avail = s->win.len - s->keep;
        size_t end = avail > limit ? s->keep + limit : s->win.len;
        if (scan_available(s, &vs, end))
            return SMAR_OK;
        if (s->pos - s->keep >= limit)
            return SMAR_E_LIMIT;
        rc = smar_export_src_fill(ex);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return vs.scalar ? SMAR_OK : syntax_error(ex, -1, NULL);
    }
}

/* ---- document members ------------------------------------------------------------------- */

static int member_too_large(smar_export *ex, size_t line)
{
    return smar_fail(&ex->err, SMAR_E_LIMIT,
                     "%s:%zu: a document member is larger than the limit of %zu bytes", ex->name,
                     line, ex->max_document);
}

/* At '"': read a member name into st->key, validated. */
static int read_key(smar_export *ex, smar_export_stream *st)
{
    size_t line = ex->src.line;
    int rc = scan_value(ex, ex->max_document);
    if (rc == SMAR_E_LIMIT)
        return member_too_large(ex, line);
    if (rc != SMAR_OK)
        return rc;
    smar_span key;
    rc = smar_export_validate(ex, kept_span(&ex->src), line, ex->name, &key);
    if (rc != SMAR_OK)
        return rc;
    smar_buf_reset(&st->key);
    if (smar_buf_append(&st->key, key.p, key.n) != SMAR_OK)
        return smar_export_nomem(ex);
    return SMAR_OK;
}

static int open_secrets_array(smar_export *ex, smar_export_stream *st)
{
    if (st->saw_secrets)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: invalid JSON: duplicate key \"secrets\"",
                         ex->name, ex->src.line);
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c != '[')
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: \"secrets\" is not an array", ex->name,
                         ex->src.line);
    advance(&ex->src);
    st->saw_secrets = true;
    st->state = ST_ELEM_FIRST;
    return SMAR_OK;
}

static int read_member_value(smar_export *ex, smar_export_stream *st)
{
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    size_t line = ex->src.line;
    rc = scan_value(ex, ex->max_document);
    if (rc == SMAR_E_LIMIT)
        return member_too_large(ex, line);
    if (rc != SMAR_OK)
        return rc;
    smar_span value;
    rc = smar_export_validate(ex, kept_span(&ex->src), line, ex->name, &value);
    if (rc != SMAR_OK)
        return rc;
    smar_span key = {(const char *)st->key.data, st->key.len};
    rc = smar_export_add_member(ex, key, value, ex->name);
    st->state = ST_AFTER_MEMBER;
    return rc;
}

/* One member: "name": value, or the start of the secrets array. */
static int read_member(smar_export *ex, smar_export_stream *st)
{
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c != '"')
        return syntax_error(ex, c, "expected a member name");
    rc = read_key(ex, st);
    if (rc != SMAR_OK)
        return rc;
    rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c != ':')
        return syntax_error(ex, c, "expected ':'");
    advance(&ex->src);
    smar_span key = {(const char *)st->key.data, st->key.len};
    if (smar_json_string_eq(key, "secrets"))
        return open_secrets_array(ex, st);
    return read_member_value(ex, st);
}

/* After '{' or a member: the next member or the end of the document object. */
static int step_members(smar_export *ex, smar_export_stream *st)
{
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c == '}') {
        advance(&ex->src);
        st->state = ST_TRAILER;
        return SMAR_OK;
    }
    if (st->state == ST_AFTER_MEMBER) {
        if (c != ',')
            return syntax_error(ex, c, "expected ',' or '}' after a member");
        advance(&ex->src);
    }
    return read_member(ex, st);
}

/* ---- secrets -------------------------------------------------------------------------- */

/* For a caller that validates each secret itself (smar_export_trust_caller_validation):
 * the text found, without its surrounding blanks and unchecked; the first byte still tells
 * an object from anything else. */
static int found_secret(smar_span text, smar_span *secret)
{
    while (text.n > 0 && is_blank((unsigned char)text.p[0])) {
        text.p++;
        text.n--;
    }
    while (text.n > 0 && is_blank((unsigned char)text.p[text.n - 1]))
        text.n--;
    *secret = text;
    return SMAR_OK;
}

/* ---- the secrets array -------------------------------------------------------------------- */

static int read_element(smar_export *ex, smar_export_stream *st, smar_span *secret)
{
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    smar_export_src *s = &ex->src;
    size_t line = s->line;
    uint64_t number = ++st->count;
    smar_export_set_location(ex, "%s: secret #%llu (line %zu, byte %llu)", ex->name,
                             (unsigned long long)number, line,
                             (unsigned long long)(s->base + s->pos));
    rc = scan_value(ex, ex->max_secret);
    if (rc == SMAR_E_LIMIT)
        return smar_fail(&ex->err, SMAR_E_LIMIT,
                         "%s:%zu: secret #%llu is larger than the limit of %zu bytes", ex->name,
                         line, (unsigned long long)number, ex->max_secret);
    if (rc != SMAR_OK)
        return rc;
    rc = ex->caller_validates ? found_secret(kept_span(s), secret)
                              : smar_export_validate(ex, kept_span(s), line, ex->name, secret);
    if (rc != SMAR_OK)
        return rc;
    if (smar_json_kind_of(*secret) != SMAR_JSON_OBJECT)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: secret #%llu is not a JSON object",
                         ex->name, line, (unsigned long long)number);
    st->state = ST_AFTER_ELEM;
    return SMAR_OK;
}

static int step_elements(smar_export *ex, smar_export_stream *st, smar_span *secret)
{
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c == ']') {
        advance(&ex->src);
        st->state = ST_AFTER_MEMBER;
        return SMAR_OK;
    }
    if (st->state == ST_AFTER_ELEM) {
        if (c != ',')
            return syntax_error(ex, c, "expected ',' or ']' after a secret");
        advance(&ex->src);
    }
    return read_element(ex, st, secret);
}

/* ---- after the first object: the end, or JSONL --------------------------------------------- */

static int step_trailer(smar_export *ex, smar_export_stream *st)
{
    size_t line = ex->src.line;
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c < 0) {
        st->state = ST_END;
        return SMAR_OK;
    }
    if (!st->saw_secrets && ex->src.line > line) {
        st->state = ST_LINES;
        return SMAR_OK;
    }
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: unexpected data after the JSON document",
                     ex->name, ex->src.line);
}

/* Find the end of the line at keep: *end is the offset of its '\n' (or of the end of input),
 * *found tells whether there was a '\n'. */
static int find_line_end(smar_export *ex, size_t *end, bool *found)
{
    smar_export_src *s = &ex->src;
    size_t scanned = 0; /* relative to keep, which fills may move */
    for (;;) {
        const uint8_t *from = s->win.data + s->keep + scanned;
        size_t n = s->win.len - s->keep - scanned;
        const uint8_t *nl = n > 0 ? memchr(from, '\n', n) : NULL;
        if (nl != NULL) {
            *end = (size_t)(nl - s->win.data);
            *found = true;
            return SMAR_OK;
        }
        scanned += n;
        /* One byte of slack for a CR before the LF. */
        if (scanned > ex->max_secret + 1)
            return SMAR_E_LIMIT;
        int rc = smar_export_src_fill(ex);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *end = s->win.len;
            *found = false;
            return SMAR_OK;
        }
    }
}

static bool all_blank(smar_span t)
{
    for (size_t i = 0; i < t.n; i++)
        if (!is_blank((unsigned char)t.p[i]))
            return false;
    return true;
}

/* The next non-blank JSONL line. */
static int step_line(smar_export *ex, smar_export_stream *st, smar_span *secret)
{
    smar_export_src *s = &ex->src;
    for (;;) {
        s->keep = s->pos;
        size_t line = s->line;
        size_t end;
        bool found;
        int rc = find_line_end(ex, &end, &found);
        if (rc == SMAR_E_LIMIT)
            return smar_fail(&ex->err, SMAR_E_LIMIT,
                             "%s:%zu: secret is larger than the limit of %zu bytes", ex->name, line,
                             ex->max_secret);
        if (rc != SMAR_OK)
            return rc;
        smar_span text = {(const char *)s->win.data + s->keep, end - s->keep};
        s->pos = found ? end + 1 : end;
        if (found)
            s->line++;
        if (text.n == 0 && !found) {
            st->state = ST_END;
            return SMAR_OK;
        }
        if (text.n > 0 && text.p[text.n - 1] == '\r')
            text.n--;
        if (all_blank(text))
            continue;
        st->count++;
        smar_export_set_location(ex, "%s:%zu", ex->name, line);
        if (text.n > ex->max_secret)
            return smar_fail(&ex->err, SMAR_E_LIMIT,
                             "%s:%zu: secret is larger than the limit of %zu bytes", ex->name, line,
                             ex->max_secret);
        rc = ex->caller_validates ? found_secret(text, secret)
                                  : smar_export_validate(ex, text, line, ex->name, secret);
        if (rc != SMAR_OK)
            return rc;
        if (smar_json_kind_of(*secret) != SMAR_JSON_OBJECT)
            return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: the line is not a JSON object",
                             ex->name, line);
        return SMAR_OK;
    }
}

/* ---- driver ------------------------------------------------------------------------------ */

/* One step of the walk; a step that finds a secret sets secret->p. */
static int step(smar_export *ex, smar_export_stream *st, smar_span *secret)
{
    switch (st->state) {
    case ST_MEMBER_FIRST:
    case ST_AFTER_MEMBER:
        return step_members(ex, st);
    case ST_ELEM_FIRST:
    case ST_AFTER_ELEM:
        return step_elements(ex, st, secret);
    case ST_TRAILER:
        return step_trailer(ex, st);
    case ST_LINES:
        return step_line(ex, st, secret);
    case ST_END:
        break;
    }
    return SMAR_OK;
}

static bool in_header(stream_state state)
{
    return state == ST_MEMBER_FIRST || state == ST_AFTER_MEMBER || state == ST_TRAILER;
}

/* Read the document's members up to the first secret (or the end), so that "exported_at"
 * is known early when it comes first, and JSONL is recognised. */
int smar_export_stream_open(smar_export *ex)
{
    smar_export_stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return smar_export_nomem(ex);
    ex->stream = st;
    int c;
    int rc = skip_blanks(ex, &c);
    if (rc != SMAR_OK)
        return rc;
    if (c != '{')
        return syntax_error(ex, c, "expected '{'");
    advance(&ex->src);
    st->state = ST_MEMBER_FIRST;
    smar_span none = {NULL, 0};
    while (rc == SMAR_OK && in_header(st->state))
        rc = step(ex, st, &none);
    return rc;
}

int smar_export_stream_next(smar_export *ex, smar_span *secret)
{
    smar_export_stream *st = ex->stream;
    secret->p = NULL;
    secret->n = 0;
    while (st->state != ST_END) {
        int rc = step(ex, st, secret);
        if (rc != SMAR_OK)
            return rc;
        if (secret->p != NULL)
            return SMAR_OK;
    }
    return SMAR_DONE;
}

void smar_export_stream_free(smar_export_stream *st)
{
    if (st == NULL)
        return;
    smar_buf_free(&st->key);
    free(st);
}
