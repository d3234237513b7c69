/*
 * atomic_file.c - smar_atomic_write_file (keyring_internal.h): a file appears complete or
 * not at all, with its final mode from the first byte, and survives a crash once we return.
 *
 *   1. overwrite: a symbolic link is followed to the file it names, so a keyring kept
 *      behind a link is replaced where it really lives and the link stays a link. Without
 *      overwrite nothing is followed: any existing name, link or not, is refused;
 *   2. open the destination's folder once; every later step is relative to that
 *      descriptor, so swapping a folder in the path midway cannot redirect the file;
 *   3. create ".<base>.tmp-XXXXXX" there with O_EXCL | O_NOFOLLOW, mode 0600 (same file
 *      system, so the final step is a rename; secrets are never exposed), fchmod to the
 *      requested mode (explicit, so the umask does not matter), write, fsync, close;
 *   4. overwrite: check again, right before renameat(), that the name holds a regular file
 *      or nothing (a device, FIFO, socket, folder or a link planted meanwhile is never
 *      replaced). Otherwise linkat() (fails with EEXIST instead of replacing), or where hard
 *      links are not supported renameat2(RENAME_NOREPLACE); never a check-then-rename,
 *      which would race with another writer;
 *   5. fsync the folder so the new name itself is durable.
 * The temporary file is removed on every failure.
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1u /* linux/fs.h */
#endif

/* As many links as the kernel follows in one path lookup (MAXSYMLINKS). */
#define LINK_HOPS_MAX 40
/* Room for ".<base>.tmp-XXXXXX" within NAME_MAX: base is cut to this many bytes. */
#define TMP_BASE_MAX 200

/* Where the file goes: its folder, open, and its name in that folder. */
typedef struct target {
    char *path; /* the destination after following links (overwrite) */
    int dirfd;
    const char *base; /* inside path */
    char tmp[TMP_BASE_MAX + 32];
    bool tmp_exists;
} target;

/* path's folder part with its slash ("" when there is none). */
static size_t folder_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? (size_t)(slash - path) + 1 : 0;
}

/* The file a chain of symbolic links ends at: a relative link target is relative to the
 * link's own folder. Stops at the first name that is not a link (or does not exist). */
static int follow_links(const char *path, char **out, smar_err *e)
{
    char *cur = strdup(path);
    char link[PATH_MAX];
    for (int hops = 0; cur != NULL; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return SMAR_OK;
        }
        ssize_t n = hops < LINK_HOPS_MAX ? readlink(cur, link, sizeof link) : -1;
        int err = hops == LINK_HOPS_MAX ? ELOOP : n < 0 ? errno : ENAMETOOLONG;
        if (n < 0 || (size_t)n >= sizeof link) {
            free(cur);
            return smar_fail(e, SMAR_E_IO, "cannot follow the symbolic link '%s': %s", path,
                             strerror(err));
        }
        size_t keep = link[0] == '/' ? 0 : folder_len(cur);
        char *next = malloc(keep + (size_t)n + 1);
        if (next != NULL) {
            memcpy(next, cur, keep);
            memcpy(next + keep, link, (size_t)n);
            next[keep + (size_t)n] = '\0';
        }
        free(cur);
        cur = next;
    }
    return smar_fail(e, SMAR_E_NOMEM, "out of memory");
}

/* Open the destination's folder and find the file's name in it. */
static int target_open(target *t, const char *path, bool overwrite, smar_err *e)
{
    int rc = overwrite ? follow_links(path, &t->path, e) : SMAR_OK;
    if (rc != SMAR_OK)
        return rc;
    if (!overwrite && (t->path = strdup(path)) == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    size_t dir_len = folder_len(t->path);
    t->base = t->path + dir_len;
    if (*t->base == '\0' || strcmp(t->base, ".") == 0 || strcmp(t->base, "..") == 0)
        return smar_fail(e, SMAR_E_INVALID, "'%s' does not name a file", path);
    char *dir = dir_len == 0 ? strdup(".") : strndup(t->path, dir_len);
    if (dir == NULL)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->dirfd < 0)
        rc = smar_fail(e, SMAR_E_IO, "cannot open the folder '%s' of '%s': %s", dir, path,
                       strerror(errno));
    free(dir);
    return rc;
}

static void target_close(target *t)
{
    if (t->tmp_exists)
        (void)unlinkat(t->dirfd, t->tmp, 0);
    if (t->dirfd >= 0)
        (void)close(t->dirfd);
    free(t->path);
}

/* Only a regular file, or nothing, may be replaced. Checked before the work and again
 * right before the rename, without following a link at the final name. */
static int check_replaceable(const target *t, const char *path, smar_err *e)
{
    struct stat st;
    if (fstatat(t->dirfd, t->base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return SMAR_OK;
        return smar_fail(e, SMAR_E_IO, "cannot check '%s': %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return smar_fail(e, SMAR_E_INVALID, "'%s' is %s: only a regular file is replaced", path,
                         smar_file_kind(st.st_mode));
    return SMAR_OK;
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

/* A new temporary file in the destination's folder, never an existing one: *fd. */
static int create_tmp(target *t, const char *path, int *fd, smar_err *e)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t r[6];
        char suffix[sizeof r + 1];
        randombytes_buf(r, sizeof r);
        for (size_t i = 0; i < sizeof r; i++)
            suffix[i] = set[r[i] % (sizeof set - 1)];
        suffix[sizeof r] = '\0';
        (void)snprintf(t->tmp, sizeof t->tmp, ".%.*s.tmp-%s", TMP_BASE_MAX, t->base, suffix);
        *fd = openat(t->dirfd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (*fd >= 0) {
            t->tmp_exists = true;
            return SMAR_OK;
        }
        if (errno != EEXIST)
            break;
    }
    return smar_fail(e, SMAR_E_IO, "cannot create a temporary file for '%s': %s", path,
                     strerror(errno));
}

/* Create the temporary file with its contents and mode, synced and closed. */
static int write_tmp(target *t, const char *path, const void *data, size_t len, unsigned mode,
                     smar_err *e)
{
    int fd = -1;
    int rc = create_tmp(t, path, &fd, e);
    if (rc != SMAR_OK)
        return rc;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        rc = smar_fail(e, SMAR_E_IO, "cannot write '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == SMAR_OK)
        rc = smar_fail(e, SMAR_E_IO, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

static int rename_noreplace(const target *t)
{
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, t->dirfd, t->tmp, t->dirfd, t->base, RENAME_NOREPLACE);
#else
    (void)t;
    errno = ENOSYS;
    return -1;
#endif
}

/* Give the temporary file its final name without ever replacing an existing file. On
 * success the temporary name is gone (or harmlessly left as a second link, see below). */
static int publish_new(target *t, const char *path, smar_err *e)
{
    if (linkat(t->dirfd, t->tmp, t->dirfd, t->base, 0) == 0) {
        /* The destination is complete; a leftover temporary link would only cost space. */
        (void)unlinkat(t->dirfd, t->tmp, 0);
        t->tmp_exists = false;
        return SMAR_OK;
    }
    if (errno == EEXIST)
        return smar_fail(e, SMAR_E_EXISTS, "'%s' already exists", path);
    int link_errno = errno;
    if (rename_noreplace(t) == 0) {
        t->tmp_exists = false;
        return SMAR_OK;
    }
    if (errno == EEXIST)
        return smar_fail(e, SMAR_E_EXISTS, "'%s' already exists", path);
    /* Neither call is supported here: report the link() error, the more telling one. */
    int err = (errno == ENOSYS || errno == EINVAL) ? link_errno : errno;
    return smar_fail(e, SMAR_E_IO, "cannot create '%s': %s", path, strerror(err));
}

/* Replace a regular file (or take a free name). The check just before the rename leaves
 * no room for a planted device, FIFO or link to be replaced in between the two steps of
 * this process; only an attacker faster than two system calls could still win. */
static int publish_replace(target *t, const char *path, smar_err *e)
{
    int rc = check_replaceable(t, path, e);
    if (rc != SMAR_OK)
        return rc;
    if (renameat(t->dirfd, t->tmp, t->dirfd, t->base) != 0)
        return smar_fail(e, SMAR_E_IO, "cannot replace '%s': %s", path, strerror(errno));
    t->tmp_exists = false;
    return SMAR_OK;
}

static int sync_dir(const target *t, const char *path, smar_err *e)
{
    /* Some file systems cannot sync a directory (EINVAL); there is nothing more to do. */
    if (fsync(t->dirfd) != 0 && errno != EINVAL)
        return smar_fail(e, SMAR_E_IO, "'%s' was written but its folder cannot be synced: %s", path,
                         strerror(errno));
    return SMAR_OK;
}

int smar_atomic_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           bool overwrite, smar_err *e)
{
    if (path == NULL || (data == NULL && len > 0))
        return smar_fail(e, SMAR_E_INVALID, "no path or data to write");
    target t = {.path = NULL, .dirfd = -1};
    int rc = target_open(&t, path, overwrite, e);
    /* Refuse a device, FIFO or folder before writing anything. */
    if (rc == SMAR_OK && overwrite)
        rc = check_replaceable(&t, path, e);
    if (rc == SMAR_OK)
        rc = write_tmp(&t, path, data, len, mode, e);
    if (rc == SMAR_OK)
        rc = overwrite ? publish_replace(&t, path, e) : publish_new(&t, path, e);
    if (rc == SMAR_OK)
        rc = sync_dir(&t, path, e);
    target_close(&t);
    return rc;
}
