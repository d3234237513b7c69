/*
 * export_doc.c - what the layouts share while reading: the document-level members (with
 * their size limit and exported_at), validation with line numbers in messages, and where
 * the last secret came from.
 */
#include "export_in.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

/* Room for the member names and punctuation the directory layout's document adds. */
#define DOCUMENT_OVERHEAD 64u

/* ---- services for the layouts --------------------------------------------------------- */

int smar_export_nomem(smar_export *ex)
{
    return smar_fail(&ex->err, SMAR_E_NOMEM, "%s: out of memory", ex->name ? ex->name : "export");
}

void smar_export_note_buffer(smar_export *ex, size_t cap)
{
    if (cap > ex->peak_buffer)
        ex->peak_buffer = cap;
}

void smar_export_set_location(smar_export *ex, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ex->location, sizeof ex->location, fmt, ap);
    va_end(ap);
    if (n < 0)
        ex->location[0] = '\0';
}

static bool reason_offset(const char *reason, size_t *offset)
{
    const char *at = strstr(reason, " at byte ");
    if (at == NULL)
        return false;
    size_t v = 0;
    const char *p = at + strlen(" at byte ");
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *offset = v;
    return true;
}

static size_t count_newlines(const char *p, size_t n)
{
    size_t lines = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

int smar_export_validate(smar_export *ex, smar_span text, size_t first_line, const char *where,
                         smar_span *value)
{
    char reason[128];
    if (smar_json_validate(text, SMAR_JSON_MAX_DEPTH, value, reason, sizeof reason))
        return SMAR_OK;
    size_t line = first_line;
    size_t offset;
    if (reason_offset(reason, &offset))
        line += count_newlines(text.p, offset < text.n ? offset : text.n);
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s:%zu: invalid JSON: %s", where, line, reason);
}

static size_t document_size(const smar_export *ex)
{
    return ex->members.len + ex->groups.len + ex->configurations.len + DOCUMENT_OVERHEAD;
}

static int check_document_room(smar_export *ex, size_t more, const char *where)
{
    if (more > ex->max_document || document_size(ex) > ex->max_document - more)
        return smar_fail(&ex->err, SMAR_E_LIMIT,
                         "%s: the document members (all but the secrets) are larger than %zu "
                         "bytes",
                         where, ex->max_document);
    return SMAR_OK;
}

/* "exported_at" is kept as a status: a bad value only matters to whoever asks for it. */
static void note_exported_at(smar_export *ex, smar_span value)
{
    char text[64];
    size_t len;
    ex->exported_at_rc = SMAR_E_INPUT;
    if (smar_json_kind_of(value) != SMAR_JSON_STRING)
        return;
    if (!smar_json_string_decode(value, text, sizeof text, &len))
        return;
    if (smar_time_parse(text, len, 0, &ex->exported_at) == SMAR_OK)
        ex->exported_at_rc = SMAR_OK;
}

int smar_export_add_member(smar_export *ex, smar_span key, smar_span value, const char *where)
{
    int rc = check_document_room(ex, key.n + value.n + 2, where);
    if (rc != SMAR_OK)
        return rc;
    if ((ex->members.len > 0 && smar_buf_append(&ex->members, ",", 1) != SMAR_OK) ||
        smar_buf_append(&ex->members, key.p, key.n) != SMAR_OK ||
        smar_buf_append(&ex->members, ":", 1) != SMAR_OK ||
        smar_buf_append(&ex->members, value.p, value.n) != SMAR_OK)
        return smar_export_nomem(ex);
    if (smar_json_string_eq(key, "exported_at"))
        note_exported_at(ex, value);
    return SMAR_OK;
}

int smar_export_set_part(smar_export *ex, smar_buf *part, bool *have, smar_span value,
                         const char *where)
{
    if (*have)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: appears twice in the export", where);
    int rc = check_document_room(ex, value.n, where);
    if (rc != SMAR_OK)
        return rc;
    if (smar_buf_append(part, value.p, value.n) != SMAR_OK)
        return smar_export_nomem(ex);
    *have = true;
    return SMAR_OK;
}
