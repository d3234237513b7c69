/*
 * export_in.h - what the instance export reader's files share (smar/export.h is the API).
 *
 *   export_in.c      the handle, layout detection, document members, the public calls
 *   export_stream.c  a JSON document or JSONL read as a stream through a byte window
 *   export_tree.c    the directory layout and its tar/zip form (libarchive)
 *
 * Memory stays bounded by one secret plus the document members: the stream layouts hand
 * out secrets straight from the read window, the tree layouts read one file at a time.
 */
#ifndef SMAR_EXPORT_IN_H
#define SMAR_EXPORT_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "json.h"
#include "smar/export.h"

/* Bytes asked of read(2) at a time. */
#define SMAR_EXPORT_READ_CHUNK (64u * 1024u)

typedef enum smar_export_layout {
    SMAR_LAYOUT_NONE = 0,
    SMAR_LAYOUT_STREAM,    /* a JSON document or JSONL (decided while reading) */
    SMAR_LAYOUT_DIRECTORY, /* instance.json, secret_groups.json, secrets/<id>.json */
    SMAR_LAYOUT_ARCHIVE,   /* that directory as a tar or zip */
} smar_export_layout;

typedef enum smar_export_state {
    SMAR_EXPORT_NEW = 0,
    SMAR_EXPORT_OPEN,   /* secrets may be read */
    SMAR_EXPORT_DONE,   /* all secrets read, the document is built */
    SMAR_EXPORT_FAILED, /* an error ended the reading; every later call repeats it */
} smar_export_state;

/*
 * The input byte stream: a file descriptor (or, for a compressed JSON document or JSONL,
 * its decompressed text) read into a window that keeps every byte from
 * `keep` on. Bytes before `keep` are consumed and may be dropped at the next fill, which
 * moves the kept bytes to the front (so offsets, not pointers, survive a fill).
 */
typedef struct smar_export_unzip smar_export_unzip; /* export_input.c */

typedef struct smar_export_src {
    int fd;
    bool own_fd;
    bool eof;
    smar_export_unzip *unzip; /* a compressed JSON or JSONL: the window holds its text */
    smar_buf win;  /* win.len = bytes read and not dropped; secure: secrets pass through */
    size_t keep;   /* first byte still needed */
    size_t pos;    /* scan position, keep <= pos <= win.len */
    uint64_t base; /* input offset of win.data[0] */
    size_t line;   /* 1-based line number at pos */
} smar_export_src;

typedef struct smar_export_stream smar_export_stream; /* export_stream.c */
typedef struct smar_export_tree smar_export_tree;     /* export_tree.c */

struct smar_export {
    smar_err err;
    smar_export_state state;
    smar_export_layout layout;
    char *name; /* the path as given, or "stdin", for messages */
    size_t max_secret;
    size_t max_document;
    bool caller_validates; /* smar_export_trust_caller_validation(): secrets found, not checked */
    size_t peak_buffer;    /* largest capacity any input buffer reached (a test statistic) */
    smar_export_src src;
    smar_export_stream *stream;
    smar_export_tree *tree;
    /* Document members other than the secrets: "key":value pairs joined by ',', and for the
     * directory layout the values of secret_groups.json and configurations.json. */
    smar_buf members;
    smar_buf groups;
    smar_buf configurations;
    bool have_groups;
    bool have_configurations;
    smar_buf document;  /* built when the secrets are done */
    int exported_at_rc; /* SMAR_E_NOTFOUND until seen, then SMAR_OK or SMAR_E_INPUT */
    smar_time_ns exported_at;
    char location[SMAR_ERRMSG_MAX];
};

/* ---- export_input.c: the input window ---------------------------------------------- */

/* Read more input into the window. Returns 1 (more bytes), 0 (end of input) or an error. */
int smar_export_src_fill(smar_export *ex);
/* Whether the window starts with n bytes of magic. */
bool smar_export_has_prefix(const smar_buf *b, const void *magic, size_t n);
/* Whether the window starts like a gzip, zstd, xz or bzip2 stream. */
bool smar_export_looks_compressed(const smar_buf *b);
/* Decompress the input from here on (the window's bytes first), recording every
 * compressed byte until smar_export_unzip_keep_going (it is JSON) or smar_export_unzip_undo
 * (it is not: the window gets the compressed bytes back for libarchive). */
int smar_export_unzip_start(smar_export *ex);
void smar_export_unzip_keep_going(smar_export *ex);
int smar_export_unzip_undo(smar_export *ex);
void smar_export_unzip_free(smar_export_unzip *u);

/* ---- export_doc.c: the document and messages, shared by the layouts ------------------ */
/* Note a buffer capacity for the peak statistic. */
void smar_export_note_buffer(smar_export *ex, size_t cap);
/* Append one document member (a validated key token and value). Checks the document limit
 * and picks up "exported_at". `where` names the source for messages. */
int smar_export_add_member(smar_export *ex, smar_span key, smar_span value, const char *where);
/* Record the value of secret_groups.json or configurations.json (validated). */
int smar_export_set_part(smar_export *ex, smar_buf *part, bool *have, smar_span value,
                         const char *where);
/* Validate a JSON text; on failure report "<where>:<line>: invalid JSON: <reason>" with the
 * line computed from first_line and the reason's byte offset. */
int smar_export_validate(smar_export *ex, smar_span text, size_t first_line, const char *where,
                         smar_span *value);
void smar_export_set_location(smar_export *ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Record "out of memory" and return SMAR_E_NOMEM. */
int smar_export_nomem(smar_export *ex);

/* ---- export_stream.c --------------------------------------------------------------- */

/* Start reading a JSON document or JSONL whose first bytes are in the window. */
int smar_export_stream_open(smar_export *ex);
int smar_export_stream_next(smar_export *ex, smar_span *secret);
void smar_export_stream_free(smar_export_stream *st);

/* ---- export_tree.c ----------------------------------------------------------------- */

int smar_export_tree_open_dir(smar_export *ex, const char *path);
/* The input is not JSON: read it as a tar or zip. seekable: src.fd is a regular file that
 * may be read twice (instance.json first); else the window's bytes come first. */
int smar_export_tree_open_archive(smar_export *ex, bool seekable);
int smar_export_tree_next(smar_export *ex, smar_span *secret);
void smar_export_tree_free(smar_export_tree *tr);

/* ---- for tests --------------------------------------------------------------------- */

/* Lower the size limits (before smar_export_open) so limit handling can be tested. */
void smar_export_set_limits(smar_export *ex, size_t max_secret, size_t max_document);
/* Largest capacity an input buffer reached so far. */
size_t smar_export_peak_buffer(const smar_export *ex);

#endif
