/*
 * source.c - the file-descriptor source (smar_fd_source) and the one checked read through
 * any source (smar_source_read).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

bool smar_source_usable(const smar_source *src)
{
    return src != NULL && src->version == SMAR_SOURCE_VERSION && src->read_at != NULL;
}

int smar_source_read(const smar_source *src, void *buf, size_t len, uint64_t offset, smar_err *e)
{
    if (offset > src->size || len > src->size - offset)
        return smar_fail(e, SMAR_E_CORRUPT, "read past the end of the archive");
    char why[SMAR_IO_ERROR_MAX] = "";
    switch (src->read_at(src->opaque, buf, len, offset, why)) {
    case SMAR_IO_OK:
        return SMAR_OK;
    case SMAR_IO_CANCELLED:
        return smar_fail(e, SMAR_E_CANCELLED, "reading was cancelled");
    case SMAR_IO_FAILED:
    default:
        why[SMAR_IO_ERROR_MAX - 1] = '\0'; /* the callback's text, however it ended */
        return smar_fail(e, SMAR_E_IO, "reading %zu bytes at offset %llu failed%s%s", len,
                         (unsigned long long)offset, why[0] ? ": " : "", why);
    }
}

/* ---- the file-descriptor source ----------------------------------------------------- */

static smar_io_result fd_read_at(void *opaque, void *buf, size_t len, uint64_t offset,
                                 char err[SMAR_IO_ERROR_MAX])
{
    int fd = (int)(intptr_t)opaque;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s",
                           n == 0 ? "the file ended early" : strerror(errno));
            return SMAR_IO_FAILED;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return SMAR_IO_OK;
}

static void fd_close(void *opaque)
{
    (void)close((int)(intptr_t)opaque);
}

int smar_fd_source(smar_source *out, int fd)
{
    struct stat st;
    if (out == NULL || fd < 0)
        return SMAR_E_INVALID;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return SMAR_E_IO;
    *out = (smar_source){SMAR_SOURCE_VERSION, (void *)(intptr_t)fd, (uint64_t)st.st_size,
                         fd_read_at, fd_close};
    return SMAR_OK;
}
