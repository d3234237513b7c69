/*
 * internal.h - what every libsmar module shares: the per-handle error record, growable
 * byte buffers and little-endian field encoding. Nothing here is public API.
 *
 * The layers of libsmar and which may use which are written once, in ARCHITECTURE.md,
 * and enforced by the build (CMakeLists.txt: each folder sees only the layers below it).
 */
#ifndef SMAR_INTERNAL_H
#define SMAR_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smar/common.h"

#define SMAR_ERRMSG_MAX 512

/* The error record each handle carries; internal modules report into the caller's. */
typedef struct smar_err {
    int code;
    char msg[SMAR_ERRMSG_MAX];
} smar_err;

/* Record an error (printf-style) and return code, so callers can `return smar_fail(...)`. */
int smar_fail(smar_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with context ("archive 'x': ") and return its code. */
int smar_err_prefix(smar_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smar_err_clear(smar_err *e);

/* A versioned struct the caller hands in (smar/common.h, "Versioned structs"): SMAR_OK
 * when version is 1..newest, else SMAR_E_INVALID with a message naming the struct. */
int smar_check_version(smar_err *e, int version, int newest, const char *what);

/* What an application's iteration callback returned (smar/common.h, "Callbacks"): 0 go on,
 * > 0 stop with that value; < 0 is refused with SMAR_E_INVALID, so a stop never reads as a
 * status code the library chose. */
int smar_callback_result(smar_err *e, int rc);

/* How many bytes of a versioned struct a caller of that version has: sizes[version],
 * where sizes lists, for each version from 1 on, where its last member ends. */
#define SMAR_VERSIONED_SIZE(sizes, version) ((sizes)[(version)-1])
/* The message to show for a handle's error record: the message, or the code's description. */
const char *smar_err_message(const smar_err *e);

/* Record that key memory could not be locked (smar_memory_locked() then returns 0). */
void smar_note_memory_unlocked(void);

/* ---- growable byte buffer ---------------------------------------------------------- */

/* A buffer whose contents may be secret is created with secure = true: it is wiped
 * whenever it is reset, freed or reallocated. Only the bytes that may have been written
 * are wiped (see hi): wiping the whole capacity of the export and payload buffers for
 * every secret took a fifth of `smar create`. */
typedef struct smar_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool secure;
    /* Bytes of data that may have been written since the last wipe: the end of every
     * reservation (callers write into data only where smar_buf_reserve made room, or into
     * what smar_buf_room returned). */
    size_t hi;
} smar_buf;

int smar_buf_reserve(smar_buf *b, size_t extra); /* SMAR_OK or SMAR_E_NOMEM */
/* cap - len, for writing into the spare capacity directly (read(2) into data + len). */
size_t smar_buf_room(smar_buf *b);
int smar_buf_append(smar_buf *b, const void *p, size_t n);
int smar_buf_append_str(smar_buf *b, const char *s);
int smar_buf_printf(smar_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int smar_buf_put_u8(smar_buf *b, uint8_t v);
int smar_buf_put_u16(smar_buf *b, uint16_t v);
int smar_buf_put_u32(smar_buf *b, uint32_t v);
int smar_buf_put_u64(smar_buf *b, uint64_t v);
void smar_buf_reset(smar_buf *b); /* len = 0 (wipes the old bytes if secure) */
void smar_buf_free(smar_buf *b);  /* wipes if secure; leaves an empty buffer */

/* What a file that is not a regular one is ("a folder", "a FIFO", "a symbolic link",
 * "a socket", "a device"), for messages. */
const char *smar_file_kind(unsigned mode);

/* Wipe then free heap memory that held secret material. Accepts NULL. */
void smar_wipe_free(void *p, size_t n);
/* The same for a NUL-terminated string (a secret's id, name, group or label: manifest
 * record fields, confidential like the rest of the record). Accepts NULL. */
void smar_wipe_free_str(char *s);

/* ---- little-endian fields ---------------------------------------------------------- */

static inline void smar_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void smar_store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void smar_store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t smar_load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t smar_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t smar_load_u64(const uint8_t *p)
{
    return (uint64_t)smar_load_u32(p) | ((uint64_t)smar_load_u32(p + 4) << 32);
}

/* A bounds-checked cursor over bytes read from an untrusted file. Every take fails
 * (returns false and sets ok = false) instead of reading past end. */
typedef struct smar_cursor {
    const uint8_t *p;
    size_t left;
    bool ok;
} smar_cursor;

static inline smar_cursor smar_cursor_make(const uint8_t *p, size_t n)
{
    smar_cursor c = {p, n, true};
    return c;
}
bool smar_take(smar_cursor *c, void *out, size_t n);
bool smar_take_ptr(smar_cursor *c, const uint8_t **out, size_t n);
bool smar_take_u8(smar_cursor *c, uint8_t *v);
bool smar_take_u16(smar_cursor *c, uint16_t *v);
bool smar_take_u32(smar_cursor *c, uint32_t *v);
bool smar_take_u64(smar_cursor *c, uint64_t *v);
bool smar_take_i64(smar_cursor *c, int64_t *v);

#define SMAR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
