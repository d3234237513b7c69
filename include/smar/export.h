/*
 * smar/export.h - reading instance exports (the input of `smar create`).
 *
 * An instance export is the JSON that Secrets Manager's API returns, gathered in one place
 * (its layouts are in smar(1), under "create"). This reader accepts every layout and hands
 * out one secret at a time as the original JSON text, so nothing is converted or lost, and
 * a huge export is read as a stream: memory holds one secret plus the small document-level
 * members.
 *
 *   smar_export *ex; smar_export_new(&ex);
 *   if (smar_export_open(ex, "export.tar.zst") != SMAR_OK) report(smar_export_error(ex));
 *   while ((rc = smar_export_next_secret(ex, &json, &len)) == SMAR_OK) use(json, len);
 *   if (rc == SMAR_DONE) smar_export_document(ex, &doc, &doclen);
 *   smar_export_free(ex);
 */
#ifndef SMAR_EXPORT_H
#define SMAR_EXPORT_H

#include "smar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_export smar_export;

/** Largest accepted JSON text of one secret (with its versions), and of the document
 *  members other than the secrets (instance, groups, configurations...). */
#define SMAR_EXPORT_MAX_SECRET_JSON   (64u << 20)
#define SMAR_EXPORT_MAX_DOCUMENT_JSON (64u << 20)

SMAR_API int smar_export_new(smar_export **out);
SMAR_API void smar_export_free(smar_export *ex);
/** Message of the handle's last error: names the file (and line or entry) and the problem. */
SMAR_API const char *smar_export_error(const smar_export *ex);

/**
 * Open an export. path is one of:
 *  - a JSON document  {"instance":..., "exported_at":..., "secret_groups":[...],
 *    "secrets":[...], "configurations":[...]}  (members in any order);
 *  - a JSONL file: first line the document without "secrets", then one secret per line;
 *  - a directory with instance.json, secret_groups.json, secrets/<id>.json and optional
 *    configurations.json;
 *  - a tar (plain, gzip, zstd, xz, bzip2) or zip of that directory, possibly under one top
 *    folder, read through libarchive and never unpacked to disk;
 *  - "-": any of the above but the directory, on standard input.
 * The layout is detected from the content, not the file name.
 * Returns SMAR_OK, SMAR_E_IO (cannot open/read), SMAR_E_INPUT (not a recognisable export).
 */
SMAR_API int smar_export_open(smar_export *ex, const char *path);

/**
 * The next secret: *json and *len receive one secret object's exact JSON text, already
 * checked to be strict, valid JSON and an object. The text is borrowed until the next call.
 * Returns SMAR_OK, SMAR_DONE after the last secret, or an error (SMAR_E_INPUT, SMAR_E_LIMIT,
 * SMAR_E_IO) whose message names the file and the line/entry. Semantic checks of a secret
 * (ids, types, versions, times) are the writer's job.
 */
SMAR_API int smar_export_next_secret(smar_export *ex, const char **json, size_t *len);

/**
 * Before smar_export_open(): from a JSON document or JSONL, hand out each secret as found by
 * its structure alone (an object whose brackets balance and whose strings close), without
 * validating its text, for a caller that validates every secret itself:
 * smar_writer_add_secret() does, on its worker threads, so that `smar create` reads each
 * byte of a secret once on the reading thread instead of twice. The other layouts, the
 * document members and every size limit are checked as before. SMAR_OK or SMAR_E_INVALID.
 */
SMAR_API int smar_export_trust_caller_validation(smar_export *ex);

/** Where the last secret came from, for messages: "export.jsonl:12", "secrets/<id>.json". */
SMAR_API const char *smar_export_location(const smar_export *ex);

/**
 * The export's "exported_at" time, when it has been read already (it may come late in a
 * stream). Returns SMAR_OK, SMAR_E_NOTFOUND (not seen yet / absent) or SMAR_E_INPUT (not
 * RFC 3339).
 */
SMAR_API int smar_export_exported_at(const smar_export *ex, smar_time_ns *out);

/**
 * After smar_export_next_secret() returned SMAR_DONE: the document without its secrets, as
 * the JSON text of one object whose members are, in input order, every member of the
 * document except "secrets" (instance, exported_at, secret_groups, configurations and any
 * unknown ones). For the directory layout: the members of instance.json, then
 * "secret_groups" from secret_groups.json, then "configurations" (configurations.json's
 * "configurations" member if it has one, else its whole value) when present.
 * Borrowed until smar_export_free(). Returns SMAR_OK or SMAR_E_INVALID (called too early).
 */
SMAR_API int smar_export_document(smar_export *ex, const char **json, size_t *len);

/* ---- writing instance exports (the output of `smar extract`) ------------------------ */

/**
 * The inverse of the reader above: an instance export written as one JSON document or as
 * JSONL, from a stored document (smar_reader_document, smar_series_document) and rendered
 * secrets (smar_series_render, smar_reader_render_secret). Every value is copied as text,
 * never re-serialised, so it comes back byte for byte; only whitespace between tokens may
 * change. Nothing is buffered: the bytes go to the write callback as they are made.
 *
 *   smar_export_writer *w; smar_export_writer_new(&w, 0, write_fn, fd);
 *   smar_export_writer_begin(w, doc, doclen);
 *   for each secret: smar_export_writer_add(w, json, len);
 *   smar_export_writer_finish(w); smar_export_writer_free(w);
 */
typedef struct smar_export_writer smar_export_writer;

/** JSONL: the document without "secrets" on the first line, then one secret per line. */
#define SMAR_EXPORT_JSONL 1u
/** Keep the document's "configurations" member. They hold credentials (a private CA's key,
 *  an IAM API key): a selective restore leaves them out unless asked. */
#define SMAR_EXPORT_CONFIGURATIONS 2u

/** flags: SMAR_EXPORT_* bits. write is called with the output bytes; opaque is its
 *  argument (borrowed until free). */
SMAR_API int smar_export_writer_new(smar_export_writer **out, unsigned flags, smar_write_fn write,
                                    void *opaque);
SMAR_API void smar_export_writer_free(smar_export_writer *w);
SMAR_API const char *smar_export_writer_error(const smar_export_writer *w);

/** Start with the document's members (every member but "secrets", and "configurations"
 *  only with SMAR_EXPORT_CONFIGURATIONS). SMAR_E_INPUT when doc is not a JSON object,
 *  SMAR_E_IO when write fails. */
SMAR_API int smar_export_writer_begin(smar_export_writer *w, const char *doc, size_t len);

/** Add one secret object: its JSON text as smar_series_render or smar_reader_render_secret
 *  give it. Only its outer braces are checked (SMAR_E_INPUT without them): the renderers'
 *  output is valid by construction, and parsing it again would double a restore's cost. */
SMAR_API int smar_export_writer_add(smar_export_writer *w, const char *secret, size_t len);

/** Close the document. After it, only free. */
SMAR_API int smar_export_writer_finish(smar_export_writer *w);

/** Secrets added so far. */
SMAR_API uint64_t smar_export_writer_count(const smar_export_writer *w);

#ifdef __cplusplus
}
#endif
#endif
