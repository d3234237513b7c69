/*
 * util.c - error records, growable byte buffers and the bounds-checked read cursor
 * shared by every libsmar module (see internal.h).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <sodium.h>

/* ---- error records ------------------------------------------------------------------ */

int smar_fail(smar_err *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        e->msg[0] = '\0';
    return code;
}

int smar_check_version(smar_err *e, int version, int newest, const char *what)
{
    if (version >= 1 && version <= newest)
        return SMAR_OK;
    return smar_fail(e, SMAR_E_INVALID,
                     "%s has version %d, which this library does not know (1 to %d): "
                     "initialise it with its _INIT macro",
                     what, version, newest);
}

int smar_callback_result(smar_err *e, int rc)
{
    if (rc >= 0)
        return rc;
    return smar_fail(e, SMAR_E_INVALID,
                     "callback returned a status code (%d): return 0 to go on or a positive "
                     "value (SMAR_STOP) to stop",
                     rc);
}

/* Copy as much of src as fits in dst (size >= 1) with a terminator; returns the length. */
static size_t copy_truncated(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}

int smar_err_prefix(smar_err *e, const char *fmt, ...)
{
    if (e == NULL)
        return SMAR_E_INVALID;
    char prefix[SMAR_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return e->code;

    /* Build into a copy: the prefix goes first, so the old message cannot be written in
     * place. The combination is truncated to the record's size. */
    char old[SMAR_ERRMSG_MAX];
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    const char *rest = old[0] != '\0' ? old : smar_strerror(e->code);
    size_t used = copy_truncated(e->msg, sizeof e->msg, prefix);
    (void)copy_truncated(e->msg + used, sizeof e->msg - used, rest);
    return e->code;
}

void smar_err_clear(smar_err *e)
{
    if (e == NULL)
        return;
    e->code = SMAR_OK;
    e->msg[0] = '\0';
}

const char *smar_err_message(const smar_err *e)
{
    if (e == NULL)
        return smar_strerror(SMAR_E_INVALID);
    if (e->msg[0] != '\0')
        return e->msg;
    return smar_strerror(e->code);
}

/* ---- growable byte buffer ----------------------------------------------------------- */

#define SMAR_BUF_MIN_CAP 64

/* The bytes a secure buffer may hold. */
static size_t buf_written(const smar_buf *b)
{
    size_t n = b->hi > b->len ? b->hi : b->len;
    return n < b->cap ? n : b->cap;
}

/* Move a secure buffer to a new allocation so the old bytes can be wiped: realloc() might
 * leave a copy of them in freed memory. */
static int buf_move_secure(smar_buf *b, size_t new_cap)
{
    uint8_t *fresh = malloc(new_cap);
    if (fresh == NULL)
        return SMAR_E_NOMEM;
    if (b->data != NULL) {
        memcpy(fresh, b->data, b->len);
        sodium_memzero(b->data, buf_written(b));
        free(b->data);
    }
    b->data = fresh;
    b->cap = new_cap;
    return SMAR_OK;
}

int smar_buf_reserve(smar_buf *b, size_t extra)
{
    /* No object may exceed PTRDIFF_MAX bytes (malloc refuses them anyway). */
    if (extra > (size_t)PTRDIFF_MAX - b->len)
        return SMAR_E_NOMEM;
    size_t need = b->len + extra;
    if (need > b->hi)
        b->hi = need;
    if (need <= b->cap && b->data != NULL)
        return SMAR_OK;

    size_t new_cap = b->cap < SMAR_BUF_MIN_CAP ? SMAR_BUF_MIN_CAP : b->cap;
    while (new_cap < need) {
        if (new_cap > (size_t)PTRDIFF_MAX / 2) {
            new_cap = need;
            break;
        }
        new_cap *= 2;
    }
    if (b->secure)
        return buf_move_secure(b, new_cap);

    uint8_t *grown = realloc(b->data, new_cap);
    if (grown == NULL)
        return SMAR_E_NOMEM;
    b->data = grown;
    b->cap = new_cap;
    return SMAR_OK;
}

size_t smar_buf_room(smar_buf *b)
{
    b->hi = b->cap;
    return b->cap - b->len;
}

int smar_buf_append(smar_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return SMAR_OK;
    int rc = smar_buf_reserve(b, n);
    if (rc != SMAR_OK)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return SMAR_OK;
}

int smar_buf_append_str(smar_buf *b, const char *s)
{
    return smar_buf_append(b, s, strlen(s));
}

int smar_buf_printf(smar_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(again);
        return SMAR_E_INVALID;
    }
    /* +1 for the terminator vsnprintf writes; it stays outside len. */
    int rc = smar_buf_reserve(b, (size_t)n + 1);
    if (rc == SMAR_OK) {
        (void)vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int smar_buf_put_u8(smar_buf *b, uint8_t v)
{
    return smar_buf_append(b, &v, 1);
}

int smar_buf_put_u16(smar_buf *b, uint16_t v)
{
    uint8_t le[2];
    smar_store_u16(le, v);
    return smar_buf_append(b, le, sizeof le);
}

int smar_buf_put_u32(smar_buf *b, uint32_t v)
{
    uint8_t le[4];
    smar_store_u32(le, v);
    return smar_buf_append(b, le, sizeof le);
}

int smar_buf_put_u64(smar_buf *b, uint64_t v)
{
    uint8_t le[8];
    smar_store_u64(le, v);
    return smar_buf_append(b, le, sizeof le);
}

void smar_buf_reset(smar_buf *b)
{
    if (b->secure && b->data != NULL)
        sodium_memzero(b->data, buf_written(b));
    b->len = 0;
    b->hi = 0;
}

void smar_buf_free(smar_buf *b)
{
    if (b->data != NULL) {
        if (b->secure)
            sodium_memzero(b->data, buf_written(b));
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->hi = 0;
}

void smar_wipe_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    sodium_memzero(p, n);
    free(p);
}

void smar_wipe_free_str(char *s)
{
    if (s != NULL)
        smar_wipe_free(s, strlen(s));
}

/* ---- bounds-checked cursor ---------------------------------------------------------- */

/* On failure the output is zeroed, so a caller that forgets to check never sees
 * uninitialised memory; the cursor stays failed for every later take. */
bool smar_take_ptr(smar_cursor *c, const uint8_t **out, size_t n)
{
    if (!c->ok || n > c->left) {
        c->ok = false;
        *out = NULL;
        return false;
    }
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

bool smar_take(smar_cursor *c, void *out, size_t n)
{
    const uint8_t *src;
    if (!smar_take_ptr(c, &src, n)) {
        if (n > 0)
            memset(out, 0, n);
        return false;
    }
    if (n > 0)
        memcpy(out, src, n);
    return true;
}

bool smar_take_u8(smar_cursor *c, uint8_t *v)
{
    return smar_take(c, v, 1);
}

bool smar_take_u16(smar_cursor *c, uint16_t *v)
{
    const uint8_t *src;
    bool ok = smar_take_ptr(c, &src, 2);
    *v = ok ? smar_load_u16(src) : 0;
    return ok;
}

bool smar_take_u32(smar_cursor *c, uint32_t *v)
{
    const uint8_t *src;
    bool ok = smar_take_ptr(c, &src, 4);
    *v = ok ? smar_load_u32(src) : 0;
    return ok;
}

bool smar_take_u64(smar_cursor *c, uint64_t *v)
{
    const uint8_t *src;
    bool ok = smar_take_ptr(c, &src, 8);
    *v = ok ? smar_load_u64(src) : 0;
    return ok;
}

bool smar_take_i64(smar_cursor *c, int64_t *v)
{
    uint64_t u;
    bool ok = smar_take_u64(c, &u);
    /* Two's complement reinterpretation without the implementation-defined conversion. */
    if (u <= (uint64_t)INT64_MAX)
        *v = (int64_t)u;
    else
        *v = -(int64_t)(~u) - 1;
    return ok;
}

const char *smar_file_kind(unsigned mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a regular file";
}
