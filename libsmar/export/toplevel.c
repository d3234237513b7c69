/*
 * toplevel.c - the top-level member scan of a secret object (toplevel.h).
 */
#include "toplevel.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && is_ws(p[i]))
        i++;
    return i;
}

/* p[*i] is a quote: step past the string; *escaped tells whether it held a backslash.
 * memchr finds each candidate closing quote; it closes the string when the run of
 * backslashes right before it is even (each pair is one escaped backslash). Strings with
 * escapes every few bytes (PEM text: "\n" every 64) stay at memchr speed. */
static bool skip_string(const char *p, size_t n, size_t *i, bool *escaped)
{
    size_t first = *i + 1, k = first;
    *escaped = false;
    while (k < n) {
        const char *q = memchr(p + k, '"', n - k);
        if (!q)
            return false;
        size_t at = (size_t)(q - p), b = at;
        if (!*escaped)
            *escaped = memchr(p + k, '\\', at - k) != NULL;
        while (b > first && p[b - 1] == '\\')
            b--;
        if ((at - b) % 2 == 0) {
            *i = at + 1;
            return true;
        }
        k = at + 1;
    }
    return false;
}

/* The bytes a container walk stops at: quotes and brackets. */
static bool structural(unsigned char c)
{
    return c == '"' || c == '{' || c == '}' || c == '[' || c == ']';
}

/* Step past one value: a string, an object or array (nesting and strings tracked), or a
 * scalar (up to the next delimiter). */
static bool skip_value(const char *p, size_t n, size_t *i)
{
    bool escaped;
    if (*i >= n)
        return false;
    if (p[*i] == '"')
        return skip_string(p, n, i, &escaped);
    if (p[*i] == '{' || p[*i] == '[') {
        size_t depth = 0;
        for (size_t k = *i; k < n;) {
            while (k < n && !structural((unsigned char)p[k]))
                k++;
            if (k == n)
                return false;
            if (p[k] == '"') {
                if (!skip_string(p, n, &k, &escaped))
                    return false;
                continue;
            }
            if (p[k] == '{' || p[k] == '[')
                depth++;
            else if ((p[k] == '}' || p[k] == ']') && --depth == 0) {
                *i = k + 1;
                return true;
            }
            k++;
        }
        return false;
    }
    size_t k = *i;
    while (k < n && !is_ws(p[k]) && p[k] != ',' && p[k] != '}' && p[k] != ']')
        k++;
    if (k == *i)
        return false;
    *i = k;
    return true;
}

static bool key_is(const char *p, size_t at, size_t end, const char *name)
{
    size_t len = strlen(name);
    return end - at == len + 2 && memcmp(p + at + 1, name, len) == 0;
}

static bool printable_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7E)
            return false;
    return true;
}

typedef struct member {
    size_t key, key_end, value, value_end;
} member;

static bool duplicate_key(const char *p, const member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = m[i].key_end - m[i].key;
        if (len == m[n].key_end - m[n].key && memcmp(p + m[i].key, p + m[n].key, len) == 0)
            return true;
    }
    return false;
}

/* What the digest needs of the members: the id and the retrieved_at value. */
static bool note_members(const char *p, const member *m, size_t n, smar_toplevel *out)
{
    bool escaped;
    for (size_t i = 0; i < n; i++) {
        size_t k = m[i].value;
        if (key_is(p, m[i].key, m[i].key_end, "id")) {
            if (p[k] != '"' || !skip_string(p, m[i].value_end, &k, &escaped) || escaped ||
                m[i].value_end - m[i].value < 3)
                return false;
            out->id = (smar_span){p + m[i].value + 1, m[i].value_end - m[i].value - 2};
        } else if (key_is(p, m[i].key, m[i].key_end, "retrieved_at")) {
            size_t len = m[i].value_end - m[i].value;
            if (p[k] != '"' || len > SMAR_TOPLEVEL_MAX_VALUE || !printable_ascii(p + k, len) ||
                !skip_string(p, m[i].value_end, &k, &escaped) || escaped)
                return false;
            out->has_retrieved = true;
            out->retrieved_at = m[i].value;
            out->retrieved_len = len;
        }
    }
    return out->id.p != NULL;
}

bool smar_toplevel_scan(const char *p, size_t n, smar_toplevel *out)
{
    member m[SMAR_TOPLEVEL_MAX_MEMBERS];
    size_t count = 0, i = skip_ws(p, n, 0);
    bool escaped;
    memset(out, 0, sizeof *out);
    if (i >= n || p[i] != '{')
        return false;
    i = skip_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return false; /* no id */
    for (;;) {
        if (count == SMAR_TOPLEVEL_MAX_MEMBERS || i >= n || p[i] != '"')
            return false;
        m[count].key = i;
        if (!skip_string(p, n, &i, &escaped) || escaped)
            return false; /* an escaped key might decode to "id" or "retrieved_at" */
        m[count].key_end = i;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return false;
        i = skip_ws(p, n, i + 1);
        m[count].value = i;
        if (!skip_value(p, n, &i))
            return false;
        m[count].value_end = i;
        if (duplicate_key(p, m, count))
            return false;
        count++;
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',') {
            i = skip_ws(p, n, i + 1);
            continue;
        }
        if (i >= n || p[i] != '}')
            return false;
        break;
    }
    if (skip_ws(p, n, i + 1) != n)
        return false;
    return note_members(p, m, count, out);
}
