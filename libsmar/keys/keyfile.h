/*
 * keyfile.h - what the keyring and signing-key files share (spec/KEYRING.md): bounded,
 * permission-checked reading; strict JSON field access that never echoes values; base64
 * straight into and out of locked memory; and the passphrase sealing (Argon2id +
 * XChaCha20-Poly1305) of the key material inside such a file.
 *
 * Key files hold key material in their JSON text, so that text only ever lives in secure
 * smar_bufs (wiped on free). It is read in place with libsmar's strict scanner (json.h):
 * values are spans of the text, base64 is decoded from the text straight into locked
 * memory, and no other copy of a value that may be secret is ever made.
 */
#ifndef SMAR_KEYFILE_H
#define SMAR_KEYFILE_H

#include "internal.h"
#include "json.h"

/* Largest key file read: a keyring at SMAR_KEY_VERSIONS_MAX versions is ~150 KiB. */
#define SMAR_KEYFILE_MAX_BYTES (1024 * 1024)

/* The passphrase KDF's name in files, and the bounds a file's parameters must respect
 * before we run it: a file must not make us spend minutes or allocate gigabytes. */
#define SMAR_KEYFILE_KDF          "argon2id13"
#define SMAR_KEYFILE_OPSLIMIT_MAX 16ULL
#define SMAR_KEYFILE_MEMLIMIT_MAX ((size_t)1 << 30)

/* Where errors about one file go: "<kind> file '<path>': <problem>". */
typedef struct smar_keyfile {
    const char *kind; /* "keyring", "signing key", "public key" */
    const char *path;
    const char *where; /* NULL, or the part of the file concerned: "versions[2]" */
    smar_err *e;
} smar_keyfile;

/* Record an error about the file (printf-style) and return code. */
int smar_keyfile_fail(const smar_keyfile *kf, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- reading -------------------------------------------------------------------------- */

/* Read the whole file into text (which must be a secure buffer). With private_file, refuse
 * (SMAR_E_INVALID) a file whose mode grants any group/other permission. SMAR_E_IO when
 * unreadable or not a regular file, SMAR_E_FORMAT over SMAR_KEYFILE_MAX_BYTES. */
int smar_keyfile_read(const smar_keyfile *kf, bool private_file, smar_buf *text);

/* Validate text strictly (smar_json_validate) and set *root to its top-level object: a
 * span of text, valid while text is. SMAR_E_FORMAT for malformed text or a non-object.
 * Every call below takes objects found this way (root, or a member of it). */
int smar_keyfile_parse(const smar_keyfile *kf, const smar_buf *text, smar_span *root);

/* Fail (SMAR_E_FORMAT) unless every member of obj is named in allowed (NULL-terminated).
 * where names the object in the message, e.g. "the file" or "versions[2]". */
int smar_keyfile_check_members(const smar_keyfile *kf, smar_span obj, const char *const *allowed,
                               const char *where);

/* True when obj has a member called name (its value to *value when value is not NULL). */
bool smar_keyfile_has(smar_span obj, const char *name, smar_span *value);

/* Required members: SMAR_E_FORMAT when absent or of the wrong kind. */
/* A string, decoded into out (cap bytes, NUL-terminated). A value of cap bytes or more, or
 * one holding a NUL, reads as "": every caller rejects that with its own message. Only for
 * values that are never secret (names, ids, times): base64 goes through get_b64. */
int smar_keyfile_get_string(const smar_keyfile *kf, smar_span obj, const char *name, char *out,
                            size_t cap);
/* An integer in [min, max], written as JSON digits (no fraction, no exponent). */
int smar_keyfile_get_uint(const smar_keyfile *kf, smar_span obj, const char *name, uint64_t min,
                          uint64_t max, uint64_t *out);
/* An RFC 3339 timestamp. */
int smar_keyfile_get_time(const smar_keyfile *kf, smar_span obj, const char *name,
                          smar_time_ns *out);
/* "type" equals want and "format" is 1. */
int smar_keyfile_check_type(const smar_keyfile *kf, smar_span root, const char *want);

/* Decode member `name` of obj (base64, original variant with padding) into exactly n bytes
 * at out, which may be locked memory: the bytes go from the file's text to out, nowhere
 * else. */
int smar_keyfile_get_b64(const smar_keyfile *kf, smar_span obj, const char *name, uint8_t *out,
                         size_t n);

/* ---- writing -------------------------------------------------------------------------- */

/* Append s as a JSON string token (quotes added, " \ and controls escaped). */
int smar_keyfile_put_string(smar_buf *b, const char *s);
/* Append the base64 of n bytes as a JSON string token, encoding straight into b. */
int smar_keyfile_put_b64(smar_buf *b, const uint8_t *bin, size_t n);
/* Append a timestamp as a JSON string token. */
int smar_keyfile_put_time(smar_buf *b, smar_time_ns t);

/* The current time, whole seconds (for created_at). */
smar_time_ns smar_keyfile_now(void);

/* ---- passphrase sealing -------------------------------------------------------------- */

/* Seal plain (plain_len bytes of key material, e.g. locked memory) under a key derived
 * from passphrase with Argon2id and a fresh salt, binding aad; append to b the members
 * `,\n  "protection": {...},\n  "sealed": "..."` of the file's top-level object. */
int smar_keyfile_seal(const smar_keyfile *kf, smar_buf *b, const char *passphrase,
                      const uint8_t *aad, size_t aad_len, const uint8_t *plain, size_t plain_len);

/* True when root has "protection" or "sealed": the key material is sealed. */
bool smar_keyfile_is_sealed(smar_span root);

/* Open the file's "sealed" member into plain (exactly plain_len bytes; locked memory).
 * The protection parameters are checked against the bounds above before Argon2id runs.
 * SMAR_E_PASSPHRASE when passphrase is NULL/empty or wrong (or aad does not match);
 * SMAR_E_FORMAT for malformed protection or a sealed blob of the wrong length. */
int smar_keyfile_unseal(const smar_keyfile *kf, smar_span root, const char *passphrase,
                        const uint8_t *aad, size_t aad_len, uint8_t *plain, size_t plain_len);

/* TEST ONLY: make smar_keyfile_seal use these Argon2id limits instead of MODERATE, so
 * tests run in milliseconds. (0, 0) restores the defaults. Global and not thread-safe;
 * never called by the library or the tools. */
void smar_keyfile_set_pwhash_limits_for_tests(unsigned long long opslimit, size_t memlimit);

#endif
