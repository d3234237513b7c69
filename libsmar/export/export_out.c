/*
 * export_out.c - writing an instance export, the inverse of the export reader
 * (smar/export.h): the stored document's members, then the rendered secrets.
 *
 * Texts are copied, never re-serialised, so every value keeps its bytes. JSONL needs each
 * object on one line: a valid JSON text holds raw CR and LF only as whitespace between
 * tokens (never inside a string), so turning them into spaces changes no value.
 */
#include "smar/export.h"

#include <sodium.h>
#include <stdlib.h>

#include "internal.h"
#include "json.h"

enum { W_NEW, W_BEGUN, W_DONE, W_FAILED };

struct smar_export_writer {
    smar_err err;
    unsigned flags;
    smar_write_fn write;
    void *opaque;
    int state;
    uint64_t count;
};

int smar_export_writer_new(smar_export_writer **out, unsigned flags, smar_write_fn write,
                           void *opaque)
{
    if (out == NULL || write == NULL ||
        (flags & ~(SMAR_EXPORT_JSONL | SMAR_EXPORT_CONFIGURATIONS)) != 0)
        return SMAR_E_INVALID;
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return SMAR_E_NOMEM;
    (*out)->flags = flags;
    (*out)->write = write;
    (*out)->opaque = opaque;
    return SMAR_OK;
}

void smar_export_writer_free(smar_export_writer *w)
{
    free(w);
}

const char *smar_export_writer_error(const smar_export_writer *w)
{
    return smar_err_message(w != NULL ? &w->err : NULL);
}

uint64_t smar_export_writer_count(const smar_export_writer *w)
{
    return w != NULL ? w->count : 0;
}

static int put(smar_export_writer *w, const char *p, size_t n)
{
    if (n > 0 && w->write(w->opaque, p, n) != 0) {
        w->state = W_FAILED;
        return smar_fail(&w->err, SMAR_E_IO, "writing the export failed");
    }
    return SMAR_OK;
}

static int put_str(smar_export_writer *w, const char *s)
{
    return put(w, s, strlen(s));
}

/* Copy text, with line breaks turned into spaces for JSONL. The staging buffer may hold
 * payload bytes: it is wiped. */
static int put_text(smar_export_writer *w, const char *p, size_t n)
{
    if (!(w->flags & SMAR_EXPORT_JSONL) ||
        (memchr(p, '\n', n) == NULL && memchr(p, '\r', n) == NULL))
        return put(w, p, n);
    char stage[4096];
    int rc = SMAR_OK;
    while (n > 0 && rc == SMAR_OK) {
        size_t take = n < sizeof stage ? n : sizeof stage;
        for (size_t i = 0; i < take; i++)
            stage[i] = p[i] == '\n' || p[i] == '\r' ? ' ' : p[i];
        rc = put(w, stage, take);
        p += take;
        n -= take;
    }
    sodium_memzero(stage, sizeof stage);
    return rc;
}

static bool object_of(const char *text, size_t len, smar_span *obj)
{
    char why[96];
    return text != NULL &&
           smar_json_validate((smar_span){text, len}, SMAR_JSON_MAX_DEPTH, obj, why, sizeof why) &&
           smar_json_kind_of(*obj) == SMAR_JSON_OBJECT;
}

/* Whether a document member is written: never "secrets" (they follow), and the
 * configurations only when asked for. */
static bool keep_member(const smar_export_writer *w, smar_span key)
{
    if (smar_json_string_eq(key, "secrets"))
        return false;
    return (w->flags & SMAR_EXPORT_CONFIGURATIONS) || !smar_json_string_eq(key, "configurations");
}

int smar_export_writer_begin(smar_export_writer *w, const char *doc, size_t len)
{
    smar_span obj, key, value;
    if (w == NULL)
        return SMAR_E_INVALID;
    if (w->state != W_NEW)
        return smar_fail(&w->err, SMAR_E_INVALID, "the export was begun already");
    if (!object_of(doc, len, &obj))
        return smar_fail(&w->err, SMAR_E_INPUT, "the stored export document is not a JSON object");
    bool jsonl = (w->flags & SMAR_EXPORT_JSONL) != 0, first = true;
    int rc = put_str(w, "{");
    smar_json_iter it;
    smar_json_iter_init(&it, obj);
    while (rc == SMAR_OK && smar_json_next_member(&it, &key, &value)) {
        if (keep_member(w, key))
            rc = jsonl ? put_str(w, first ? "" : ",") : put_str(w, first ? "\n" : ",\n");
        if (rc == SMAR_OK && keep_member(w, key)) {
            first = false;
            if ((rc = put(w, key.p, key.n)) == SMAR_OK && (rc = put_str(w, ":")) == SMAR_OK)
                rc = put_text(w, value.p, value.n);
        }
    }
    if (rc == SMAR_OK)
        rc = jsonl ? put_str(w, "}\n") : put_str(w, first ? "\"secrets\": [" : ",\n\"secrets\": [");
    if (rc == SMAR_OK)
        w->state = W_BEGUN;
    return rc;
}

/* The object text without outer blanks, when it is braced. Rendered secrets are valid
 * JSON by construction: parsing each again would double the cost of a full restore. */
static bool braced(const char *text, size_t len, smar_span *obj)
{
    size_t a = 0, z = len;
    while (text != NULL && a < z && strchr(" \t\r\n", text[a]) != NULL)
        a++;
    while (text != NULL && z > a && strchr(" \t\r\n", text[z - 1]) != NULL)
        z--;
    if (text == NULL || z - a < 2 || text[a] != '{' || text[z - 1] != '}')
        return false;
    *obj = (smar_span){text + a, z - a};
    return true;
}

int smar_export_writer_add(smar_export_writer *w, const char *secret, size_t len)
{
    smar_span obj;
    if (w == NULL)
        return SMAR_E_INVALID;
    if (w->state != W_BEGUN)
        return smar_fail(&w->err, SMAR_E_INVALID, "add: the export is not begun or has failed");
    if (!braced(secret, len, &obj))
        return smar_fail(&w->err, SMAR_E_INPUT, "a secret to write is not a JSON object");
    bool jsonl = (w->flags & SMAR_EXPORT_JSONL) != 0;
    int rc = jsonl ? SMAR_OK : put_str(w, w->count > 0 ? ",\n" : "\n");
    if (rc == SMAR_OK)
        rc = put_text(w, obj.p, obj.n);
    if (rc == SMAR_OK && jsonl)
        rc = put_str(w, "\n");
    if (rc == SMAR_OK)
        w->count++;
    return rc;
}

int smar_export_writer_finish(smar_export_writer *w)
{
    if (w == NULL)
        return SMAR_E_INVALID;
    if (w->state != W_BEGUN)
        return smar_fail(&w->err, SMAR_E_INVALID, "finish: the export is not begun or has failed");
    int rc = (w->flags & SMAR_EXPORT_JSONL) ? SMAR_OK : put_str(w, "\n]}\n");
    if (rc == SMAR_OK)
        w->state = W_DONE;
    return rc;
}
