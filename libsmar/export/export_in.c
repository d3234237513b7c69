/*
 * export_in.c - reading instance exports: the handle, layout detection and the public
 * calls of smar/export.h. The layouts (export_stream.c, export_tree.c) read through the
 * input window (export_input.c) and report into the document (export_doc.c); nothing
 * below calls back up here.
 *
 * The layout is decided by content: a directory is a directory; a file (or stdin) whose
 * first non-blank byte is '{' is JSON (a document or JSONL, told apart while reading, see
 * export_stream.c); so is a gzip, zstd, xz or bzip2 stream whose text starts that way (it
 * is decompressed on the fly); anything else is handed to libarchive (export_tree.c). An
 * smar archive or a JSON value that is not an object is refused here by name.
 */
#include "export_in.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

/* How far to look for the first non-blank byte before deciding the input is not JSON. */
#define PEEK_MAX SMAR_EXPORT_READ_CHUNK

/* ---- the document, once the secrets are read ------------------------------------------ */

static int append_part(smar_buf *doc, const char *name, const smar_buf *part)
{
    if (doc->len > 1 && smar_buf_append(doc, ",", 1) != SMAR_OK)
        return SMAR_E_NOMEM;
    if (smar_buf_append_str(doc, name) != SMAR_OK ||
        smar_buf_append(doc, part->data, part->len) != SMAR_OK)
        return SMAR_E_NOMEM;
    return SMAR_OK;
}

static int assemble_document(smar_export *ex)
{
    smar_buf *doc = &ex->document;
    if (smar_buf_append(doc, "{", 1) != SMAR_OK ||
        smar_buf_append(doc, ex->members.data, ex->members.len) != SMAR_OK)
        return SMAR_E_NOMEM;
    if (ex->have_groups && append_part(doc, "\"secret_groups\":", &ex->groups) != SMAR_OK)
        return SMAR_E_NOMEM;
    if (ex->have_configurations &&
        append_part(doc, "\"configurations\":", &ex->configurations) != SMAR_OK)
        return SMAR_E_NOMEM;
    /* The terminator is a convenience for callers; it stays outside len. */
    if (smar_buf_append(doc, "}", 2) != SMAR_OK)
        return SMAR_E_NOMEM;
    doc->len--;
    return SMAR_OK;
}

/* Each member was checked on its own; the whole also needs unique keys. */
static int build_document(smar_export *ex)
{
    if (assemble_document(ex) != SMAR_OK)
        return smar_export_nomem(ex);
    char reason[128];
    smar_span text = {(const char *)ex->document.data, ex->document.len};
    if (smar_json_validate(text, SMAR_JSON_MAX_DEPTH, NULL, reason, sizeof reason))
        return SMAR_OK;
    /* The offset would point into the assembled text, which the user never saw. */
    char *at = strstr(reason, " at byte ");
    if (at != NULL)
        *at = '\0';
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s: invalid document members: %s", ex->name, reason);
}

/* ---- opening ---------------------------------------------------------------------------- */

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Read until the first non-blank byte is in the window (keeping every byte read, since an
 * archive needs them all). *first is that byte, or -1 when there is none in the input or in
 * its first PEEK_MAX bytes. */
static int peek_first_byte(smar_export *ex, int *first)
{
    smar_export_src *s = &ex->src;
    size_t i = 0;
    for (;;) {
        for (; i < s->win.len; i++) {
            if (!is_blank(s->win.data[i])) {
                *first = s->win.data[i];
                return SMAR_OK;
            }
        }
        if (s->win.len >= PEEK_MAX) {
            *first = -1;
            return SMAR_OK;
        }
        int rc = smar_export_src_fill(ex);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *first = -1;
            return SMAR_OK;
        }
    }
}

/* Read until the window holds at least n bytes or the whole input. */
static int fill_at_least(smar_export *ex, size_t n)
{
    while (ex->src.win.len < n) {
        int rc = smar_export_src_fill(ex);
        if (rc <= 0)
            return rc;
    }
    return SMAR_OK;
}

/* A tar header's "ustar" magic, or a zip's local header: a file tree, not JSON. */
static bool looks_like_tree(const smar_buf *b)
{
    return (b->len >= 262 && memcmp(b->data + 257, "ustar", 5) == 0) ||
           smar_export_has_prefix(b, "PK\x03\x04", 4) || smar_export_has_prefix(b, "PK\x05\x06", 4);
}

/* What a JSON value starting with byte c is, or NULL when c starts none but an object. */
static const char *json_kind_name(int c)
{
    switch (c) {
    case '[':
        return "a JSON array";
    case '"':
        return "a JSON string";
    case 'n':
        return "JSON null";
    case 't':
    case 'f':
        return "a JSON boolean";
    default:
        return (c >= '0' && c <= '9') || c == '-' ? "a JSON number" : NULL;
    }
}

/* An input that is plainly something else than an export gets a message saying what it is:
 * an smar archive, or a JSON value that is not an object (null, [], 42...). */
static int refuse_known_non_export(smar_export *ex, int first, const char *compressed)
{
    smar_export_src *s = &ex->src;
    if (smar_export_has_prefix(&s->win, SMAR_MAGIC, SMAR_MAGIC_BYTES))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: this is %san smar archive, not an instance export (smar extract "
                         "gives back the export it holds)",
                         ex->name, compressed);
    const char *kind = json_kind_name(first);
    if (kind == NULL)
        return SMAR_OK;
    int rc = fill_at_least(ex, 512); /* room for a tar header's magic */
    if (rc < 0)
        return rc;
    if (looks_like_tree(&s->win))
        return SMAR_OK;
    smar_span text = {(const char *)s->win.data, s->win.len};
    bool whole_value = s->eof && smar_json_validate(text, SMAR_JSON_MAX_DEPTH, NULL, NULL, 0);
    if (!whole_value && first != '[')
        return SMAR_OK; /* not JSON after all: let the archive reader say what it is */
    return smar_fail(&ex->err, SMAR_E_INPUT,
                     "%s: %s %s, not a JSON object: an instance export is one object "
                     "{\"instance\": ..., \"secrets\": [...]}, JSONL, a folder, or a tar or "
                     "zip of that folder",
                     ex->name, whole_value ? "the export is" : "the export starts like", kind);
}

/* JSON, or (when compressed) the decompressed text is: the stream layout. */
static int open_stream(smar_export *ex)
{
    ex->layout = SMAR_LAYOUT_STREAM;
    return smar_export_stream_open(ex);
}

/* A compressed input: JSON or JSONL inside is read through the decompressor; anything else
 * (a compressed tar) goes to the archive reader from its first compressed byte. */
static int open_compressed(smar_export *ex, bool seekable)
{
    int rc = smar_export_unzip_start(ex);
    int first = -1;
    if (rc == SMAR_OK)
        rc = peek_first_byte(ex, &first);
    if (rc != SMAR_OK)
        return rc;
    if (first < 0 && ex->src.eof)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: the export is empty (once decompressed)",
                         ex->name);
    if (first == '{' || first < 0) {
        smar_export_unzip_keep_going(ex);
        return open_stream(ex);
    }
    if ((rc = refuse_known_non_export(ex, first, "a compressed ")) != SMAR_OK)
        return rc;
    if ((rc = smar_export_unzip_undo(ex)) != SMAR_OK)
        return rc;
    ex->layout = SMAR_LAYOUT_ARCHIVE;
    return smar_export_tree_open_archive(ex, seekable);
}

static int open_by_content(smar_export *ex, bool seekable)
{
    int first;
    int rc = fill_at_least(ex, SMAR_MAGIC_BYTES); /* every magic looked for below */
    if (rc >= 0)
        rc = peek_first_byte(ex, &first);
    if (rc != SMAR_OK)
        return rc;
    if (first < 0 && ex->src.eof)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: the export is empty", ex->name);
    /* A long blank prefix cannot start a tar or zip (their magic comes early): JSON. */
    if (first == '{' || first < 0)
        return open_stream(ex);
    if (first == 0xEF && ex->src.win.len >= 3 && memcmp(ex->src.win.data, "\xEF\xBB\xBF", 3) == 0)
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: starts with a UTF-8 byte order mark, which JSON does not allow",
                         ex->name);
    if (smar_export_looks_compressed(&ex->src.win))
        return open_compressed(ex, seekable);
    if ((rc = refuse_known_non_export(ex, first, "")) != SMAR_OK)
        return rc;
    ex->layout = SMAR_LAYOUT_ARCHIVE;
    return smar_export_tree_open_archive(ex, seekable);
}

static int open_input(smar_export *ex, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    ex->name = strdup(is_stdin ? "stdin" : path);
    if (ex->name == NULL)
        return smar_fail(&ex->err, SMAR_E_NOMEM, "out of memory");
    if (is_stdin) {
        ex->src.fd = STDIN_FILENO;
        return open_by_content(ex, false);
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        ex->layout = SMAR_LAYOUT_DIRECTORY;
        return smar_export_tree_open_dir(ex, path);
    }
    ex->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ex->src.fd < 0)
        return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ex->src.own_fd = true;
    /* Judge the descriptor, not the path: it is what will be read. */
    if (fstat(ex->src.fd, &st) != 0)
        return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return smar_fail(&ex->err, SMAR_E_IO, "%s: changed while being opened", path);
    return open_by_content(ex, S_ISREG(st.st_mode));
}

/* ---- public API ------------------------------------------------------------------------- */

SMAR_API int smar_export_new(smar_export **out)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    *out = NULL;
    smar_export *ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return SMAR_E_NOMEM;
    ex->src.fd = -1;
    ex->src.line = 1;
    ex->src.win.secure = true;
    /* Configurations can hold credentials (e.g. DNS provider API keys). */
    ex->members.secure = true;
    ex->configurations.secure = true;
    ex->document.secure = true;
    ex->max_secret = SMAR_EXPORT_MAX_SECRET_JSON;
    ex->max_document = SMAR_EXPORT_MAX_DOCUMENT_JSON;
    ex->exported_at_rc = SMAR_E_NOTFOUND;
    ex->exported_at = SMAR_TIME_NONE;
    *out = ex;
    return SMAR_OK;
}

SMAR_API void smar_export_free(smar_export *ex)
{
    if (ex == NULL)
        return;
    smar_export_stream_free(ex->stream);
    smar_export_tree_free(ex->tree);
    smar_export_unzip_free(ex->src.unzip);
    if (ex->src.own_fd && ex->src.fd >= 0)
        (void)close(ex->src.fd);
    smar_buf_free(&ex->src.win);
    smar_buf_free(&ex->members);
    smar_buf_free(&ex->groups);
    smar_buf_free(&ex->configurations);
    smar_buf_free(&ex->document);
    free(ex->name);
    free(ex);
}

SMAR_API const char *smar_export_error(const smar_export *ex)
{
    if (ex == NULL)
        return smar_strerror(SMAR_E_INVALID);
    return smar_err_message(&ex->err);
}

SMAR_API int smar_export_open(smar_export *ex, const char *path)
{
    if (ex == NULL)
        return SMAR_E_INVALID;
    if (path == NULL || path[0] == '\0')
        return smar_fail(&ex->err, SMAR_E_INVALID, "no export path given");
    if (ex->state != SMAR_EXPORT_NEW)
        return smar_fail(&ex->err, SMAR_E_INVALID, "the export handle was opened already");
    smar_err_clear(&ex->err);
    int rc = open_input(ex, path);
    ex->state = rc == SMAR_OK ? SMAR_EXPORT_OPEN : SMAR_EXPORT_FAILED;
    return rc;
}

SMAR_API int smar_export_next_secret(smar_export *ex, const char **json, size_t *len)
{
    if (ex == NULL)
        return SMAR_E_INVALID;
    if (json == NULL || len == NULL)
        return smar_fail(&ex->err, SMAR_E_INVALID, "no output for the secret");
    *json = NULL;
    *len = 0;
    switch (ex->state) {
    case SMAR_EXPORT_NEW:
        return smar_fail(&ex->err, SMAR_E_INVALID, "the export is not open");
    case SMAR_EXPORT_FAILED:
        return ex->err.code;
    case SMAR_EXPORT_DONE:
        return SMAR_DONE;
    case SMAR_EXPORT_OPEN:
        break;
    }
    smar_span secret = {NULL, 0};
    int rc = ex->layout == SMAR_LAYOUT_STREAM ? smar_export_stream_next(ex, &secret)
                                              : smar_export_tree_next(ex, &secret);
    if (rc == SMAR_OK) {
        *json = secret.p;
        *len = secret.n;
        return SMAR_OK;
    }
    if (rc == SMAR_DONE) {
        rc = build_document(ex);
        if (rc == SMAR_OK) {
            ex->state = SMAR_EXPORT_DONE;
            return SMAR_DONE;
        }
    }
    ex->state = SMAR_EXPORT_FAILED;
    return rc;
}

SMAR_API const char *smar_export_location(const smar_export *ex)
{
    return ex == NULL ? "" : ex->location;
}

SMAR_API int smar_export_exported_at(const smar_export *ex, smar_time_ns *out)
{
    if (ex == NULL || out == NULL)
        return SMAR_E_INVALID;
    *out = ex->exported_at_rc == SMAR_OK ? ex->exported_at : SMAR_TIME_NONE;
    return ex->exported_at_rc;
}

SMAR_API int smar_export_document(smar_export *ex, const char **json, size_t *len)
{
    if (ex == NULL || json == NULL || len == NULL)
        return SMAR_E_INVALID;
    *json = NULL;
    *len = 0;
    if (ex->state == SMAR_EXPORT_FAILED)
        return SMAR_E_INVALID; /* keep the message of the error that ended the reading */
    if (ex->state != SMAR_EXPORT_DONE)
        return smar_fail(&ex->err, SMAR_E_INVALID,
                         "the document is available once every secret was read");
    *json = (const char *)ex->document.data;
    *len = ex->document.len;
    return SMAR_OK;
}

SMAR_API int smar_export_trust_caller_validation(smar_export *ex)
{
    if (ex == NULL)
        return SMAR_E_INVALID;
    if (ex->state != SMAR_EXPORT_NEW)
        return smar_fail(&ex->err, SMAR_E_INVALID, "the export handle was opened already");
    ex->caller_validates = true;
    return SMAR_OK;
}

/* ---- for tests -------------------------------------------------------------------------- */

void smar_export_set_limits(smar_export *ex, size_t max_secret, size_t max_document)
{
    ex->max_secret = max_secret;
    ex->max_document = max_document;
}

size_t smar_export_peak_buffer(const smar_export *ex)
{
    return ex->peak_buffer;
}
