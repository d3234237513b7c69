/*
 * atomic_file.c - smar_atomic_write_file (keyring_internal.h): a file appears complete or
 * not at all, with its final mode from the first byte, and survives a crash once we return.
 *
 *   1. mkstemp ".<base>.tmp-XXXXXX" in the destination's folder (same file system, so the
 *      final step is a rename; mkstemp creates it 0600, so secrets are never exposed);
 *   2. fchmod to the requested mode (explicit, so the umask does not matter);
 *   3. write everything, fsync, close;
 *   4. overwrite: rename(). Otherwise link() (fails with EEXIST instead of replacing),
 *      or where hard links are not supported renameat2(RENAME_NOREPLACE); never a
 *      check-then-rename, which would race with another writer;
 *   5. fsync the folder so the new name itself is durable.
 * The temporary file is removed on every failure.
 */
#include "keyring_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1u /* linux/fs.h */
#endif

/* The destination's folder ("." when path has no slash) and the temporary file's name. */
typedef struct target {
    char *dir;
    char *tmp;
} target;

static int target_init(target *t, const char *path, smar_err *e)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t dir_len = (size_t)(base - path); /* keeps the slash */
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return smar_fail(e, SMAR_E_INVALID, "'%s' does not name a file", path);
    static const char suffix[] = ".tmp-XXXXXX";
    t->tmp = malloc(dir_len + 1 + strlen(base) + sizeof suffix);
    t->dir = malloc(dir_len + 2);
    if (t->tmp == NULL || t->dir == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    (void)sprintf(t->tmp, "%.*s.%s%s", (int)dir_len, path, base, suffix);
    if (dir_len == 0)
        strcpy(t->dir, ".");
    else if (dir_len == 1)
        strcpy(t->dir, "/");
    else
        (void)sprintf(t->dir, "%.*s", (int)(dir_len - 1), path);
    return SMAR_OK;
}

static void target_free(target *t)
{
    free(t->dir);
    free(t->tmp);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Create the temporary file with its contents and mode, synced and closed. *created tells
 * whether it exists (and so must be removed if anything fails). */
static int write_tmp(const char *path, target *t, const void *data, size_t len, unsigned mode,
                     bool *created, smar_err *e)
{
    int fd = mkstemp(t->tmp);
    if (fd < 0)
        return smar_fail(e, SMAR_E_IO, "cannot create a temporary file for '%s': %s", path,
                         strerror(errno));
    *created = true;
    int rc = SMAR_OK;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        rc = smar_fail(e, SMAR_E_IO, "cannot write '%s': %s", t->tmp, strerror(errno));
    if (close(fd) != 0 && rc == SMAR_OK)
        rc = smar_fail(e, SMAR_E_IO, "cannot write '%s': %s", t->tmp, strerror(errno));
    return rc;
}

static int rename_noreplace(const char *from, const char *to)
{
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
#else
    (void)from;
    (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

/* Give the temporary file its final name without ever replacing an existing file. On
 * success the temporary name is gone (or harmlessly left as a second link, see below). */
static int publish_new(const char *path, const target *t, smar_err *e)
{
    if (link(t->tmp, path) == 0) {
        /* The destination is complete; a leftover temporary link would only cost space. */
        (void)unlink(t->tmp);
        return SMAR_OK;
    }
    if (errno == EEXIST)
        return smar_fail(e, SMAR_E_EXISTS, "'%s' already exists", path);
    int link_errno = errno;
    if (rename_noreplace(t->tmp, path) == 0)
        return SMAR_OK;
    if (errno == EEXIST)
        return smar_fail(e, SMAR_E_EXISTS, "'%s' already exists", path);
    /* Neither call is supported here: report the link() error, the more telling one. */
    int err = (errno == ENOSYS || errno == EINVAL) ? link_errno : errno;
    return smar_fail(e, SMAR_E_IO, "cannot create '%s': %s", path, strerror(err));
}

static int sync_dir(const char *path, const char *dir, smar_err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return smar_fail(e, SMAR_E_IO, "'%s' was written but its folder cannot be opened: %s", path,
                         strerror(errno));
    int rc = SMAR_OK;
    /* Some file systems cannot sync a directory (EINVAL); there is nothing more to do. */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = smar_fail(e, SMAR_E_IO, "'%s' was written but its folder cannot be synced: %s", path,
                       strerror(errno));
    (void)close(fd);
    return rc;
}

int smar_atomic_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           bool overwrite, smar_err *e)
{
    if (path == NULL || (data == NULL && len > 0))
        return smar_fail(e, SMAR_E_INVALID, "no path or data to write");
    target t = {NULL, NULL};
    bool tmp_exists = false;
    int rc = target_init(&t, path, e);
    if (rc != SMAR_OK)
        goto done;
    rc = write_tmp(path, &t, data, len, mode, &tmp_exists, e);
    if (rc != SMAR_OK)
        goto done;
    if (overwrite) {
        if (rename(t.tmp, path) != 0)
            rc = smar_fail(e, SMAR_E_IO, "cannot replace '%s': %s", path, strerror(errno));
    } else {
        rc = publish_new(path, &t, e);
    }
    if (rc != SMAR_OK)
        goto done;
    tmp_exists = false;
    rc = sync_dir(path, t.dir, e);
done:
    if (tmp_exists)
        (void)unlink(t.tmp);
    target_free(&t);
    return rc;
}
