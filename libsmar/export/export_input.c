/*
 * export_input.c - the input window of an export: bytes read from the file or standard
 * input, decompressed on the fly when a compressed JSON document or JSONL comes in.
 */
#include "export_in.h"
#include "lazy_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a compressed JSON document or JSONL ----------------------------------------------- */

/* libarchive's "raw" format behind its decompression filters gives the text of a gzip, zstd,
 * xz or bzip2 stream. Until the text is known to be JSON every compressed byte read is also
 * kept (`raw`), so that a compressed tar can still be handed whole to export_tree.c. */
struct smar_export_unzip {
    struct archive *ar;
    smar_buf raw;     /* compressed bytes: those peeked at before, then (recording) all read */
    size_t raw_pos;   /* next byte of raw to hand to libarchive */
    bool recording;   /* keep every compressed byte in raw */
    bool fd_eof;      /* the descriptor has no more bytes */
    bool read_failed; /* the descriptor failed: ex->err says why */
};

bool smar_export_has_prefix(const smar_buf *b, const void *magic, size_t n)
{
    return b->len >= n && memcmp(b->data, magic, n) == 0;
}

/* gzip, zstd, xz, bzip2 (the compressions the tar layout takes too). */
bool smar_export_looks_compressed(const smar_buf *b)
{
    return smar_export_has_prefix(b, "\x1f\x8b", 2) ||
           smar_export_has_prefix(b, "\x28\xb5\x2f\xfd", 4) ||
           smar_export_has_prefix(b, "\xfd\x37\x7a\x58\x5a\x00", 6) ||
           (smar_export_has_prefix(b, "BZh", 3) && b->len > 3 && b->data[3] >= '1' &&
            b->data[3] <= '9');
}

/* libarchive's read callback: the compressed bytes kept in raw first, then the descriptor. */
static la_ssize_t unzip_feed(struct archive *a, void *data, const void **buf)
{
    smar_export *ex = data;
    smar_export_unzip *u = ex->src.unzip;
    if (u->raw_pos == u->raw.len && !u->recording) {
        smar_buf_reset(&u->raw);
        u->raw_pos = 0;
    }
    if (u->raw_pos == u->raw.len && !u->fd_eof) {
        if (smar_buf_reserve(&u->raw, SMAR_EXPORT_READ_CHUNK) != SMAR_OK) {
            u->read_failed = true;
            smar_export_nomem(ex);
            archive_set_error(a, ENOMEM, "out of memory");
            return ARCHIVE_FATAL;
        }
        ssize_t n;
        do {
            n = read(ex->src.fd, u->raw.data + u->raw.len, SMAR_EXPORT_READ_CHUNK);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            u->read_failed = true;
            smar_fail(&ex->err, SMAR_E_IO, "%s: read error: %s", ex->name, strerror(errno));
            archive_set_error(a, EIO, "read error");
            return ARCHIVE_FATAL;
        }
        u->fd_eof = n == 0;
        u->raw.len += (size_t)n;
        smar_export_note_buffer(ex, u->raw.cap);
    }
    *buf = u->raw.data + u->raw_pos;
    size_t n = u->raw.len - u->raw_pos;
    u->raw_pos = u->raw.len;
    return (la_ssize_t)n;
}

static int unzip_failure(smar_export *ex, const char *what)
{
    smar_export_unzip *u = ex->src.unzip;
    if (u->read_failed)
        return ex->err.code;
    const char *msg = archive_error_string(u->ar);
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s: %s: %s", ex->name, what,
                     msg != NULL ? msg : "damaged compressed data");
}

/* Up to cap bytes of decompressed text into dst; *n = 0 at its end. */
static int unzip_read(smar_export *ex, uint8_t *dst, size_t cap, ssize_t *n)
{
    la_ssize_t r = archive_read_data(ex->src.unzip->ar, dst, cap);
    if (r < 0)
        return unzip_failure(ex, "cannot decompress");
    *n = (ssize_t)r;
    return SMAR_OK;
}

void smar_export_unzip_free(smar_export_unzip *u)
{
    if (u == NULL)
        return;
    if (u->ar != NULL)
        (void)archive_read_free(u->ar);
    smar_buf_free(&u->raw);
    free(u);
}

/* From now on the window holds decompressed text; the compressed bytes peeked at so far
 * move to the decompressor's own buffer. */
int smar_export_unzip_start(smar_export *ex)
{
    smar_export_src *s = &ex->src;
    smar_export_unzip *u = calloc(1, sizeof *u);
    if (u == NULL)
        return smar_export_nomem(ex);
    s->unzip = u;
    u->raw.secure = true; /* compressed secrets are secrets too */
    u->recording = true;
    u->fd_eof = s->eof;
    if (smar_buf_append(&u->raw, s->win.data, s->win.len) != SMAR_OK)
        return smar_export_nomem(ex);
    smar_buf_reset(&s->win);
    s->eof = false;
    s->keep = s->pos = 0;
    int loaded = smar_libarchive_load(&ex->err); /* opened on first use (lazy_archive.h) */
    if (loaded != SMAR_OK)
        return loaded;
    u->ar = archive_read_new();
    if (u->ar == NULL)
        return smar_export_nomem(ex);
    int (*const setup[])(struct archive *) = {
        archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz,   archive_read_support_filter_lzma,
        archive_read_support_filter_zstd, archive_read_support_format_raw,
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(setup); i++)
        if (setup[i](u->ar) < ARCHIVE_WARN)
            return unzip_failure(ex, "cannot set up the decompressor");
    struct archive_entry *ae;
    if (archive_read_open(u->ar, ex, NULL, unzip_feed, NULL) < ARCHIVE_WARN ||
        archive_read_next_header(u->ar, &ae) < ARCHIVE_WARN)
        return unzip_failure(ex, "cannot decompress");
    return SMAR_OK;
}

/* The text is JSON: compressed bytes need not be kept any more. */
void smar_export_unzip_keep_going(smar_export *ex)
{
    ex->src.unzip->recording = false;
}

/* Not JSON (a compressed tar, say): give back the compressed bytes read so far, as if
 * only peeked at, and read the descriptor directly again. */
int smar_export_unzip_undo(smar_export *ex)
{
    smar_export_src *s = &ex->src;
    smar_export_unzip *u = s->unzip;
    smar_buf_reset(&s->win);
    if (smar_buf_append(&s->win, u->raw.data, u->raw.len) != SMAR_OK)
        return smar_export_nomem(ex);
    s->eof = u->fd_eof;
    s->keep = s->pos = 0;
    s->unzip = NULL;
    smar_export_unzip_free(u);
    return SMAR_OK;
}

/* Drop the consumed bytes, then read at least a little more into the free space. */
int smar_export_src_fill(smar_export *ex)
{
    smar_export_src *s = &ex->src;
    if (s->eof)
        return 0;
    if (s->keep > 0) {
        memmove(s->win.data, s->win.data + s->keep, s->win.len - s->keep);
        s->win.len -= s->keep;
        s->pos -= s->keep;
        s->base += s->keep;
        s->keep = 0;
    }
    if (s->win.cap - s->win.len < SMAR_EXPORT_READ_CHUNK / 4) {
        if (smar_buf_reserve(&s->win, SMAR_EXPORT_READ_CHUNK) != SMAR_OK)
            return smar_export_nomem(ex);
        smar_export_note_buffer(ex, s->win.cap);
    }
    ssize_t n = 0;
    if (s->unzip != NULL) {
        int rc = unzip_read(ex, s->win.data + s->win.len, smar_buf_room(&s->win), &n);
        if (rc != SMAR_OK)
            return rc;
    } else {
        do {
            n = read(s->fd, s->win.data + s->win.len, smar_buf_room(&s->win));
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return smar_fail(&ex->err, SMAR_E_IO, "%s: read error: %s", ex->name, strerror(errno));
    }
    if (n == 0) {
        s->eof = true;
        return 0;
    }
    s->win.len += (size_t)n;
    return 1;
}

/* The byte offset smar_json_validate() put in its reason ("... at byte 123"), if any. */
