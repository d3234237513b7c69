/*
 * file_sink.c - the one atomic publish (smar/io.h, smar_file_sink): a file appears complete
 * under its name or not at all, and survives a crash once committed. Used by the writer's
 * callers (the smar tool's outputs) and by the key savers (smar_atomic_write_file).
 *
 *   1. REPLACE|FOLLOW_LINKS: a symbolic link is followed to the file it names, so a keyring
 *      kept behind a link is replaced where it really lives and the link stays a link.
 *      Otherwise nothing is followed at the name;
 *   2. open the destination's folder once; every later step is relative to that
 *      descriptor, so swapping a folder in the path midway cannot redirect the file;
 *   3. refuse at once a name that exists (without REPLACE) or holds anything but a regular
 *      file: nothing is written for an output that cannot be published;
 *   4. create ".<base>.tmp-XXXXXX" there with O_EXCL | O_NOFOLLOW, mode 0600 (same file
 *      system, so the final step is a rename; the data is never exposed), fchmod to the
 *      requested mode when one is given (explicit, so the umask does not matter);
 *   5. commit: fsync, close; REPLACE: check again, right before renameat(), that the name
 *      holds a regular file or nothing (a device, FIFO, socket, folder or a link planted
 *      meanwhile is never replaced). Otherwise renameat2(RENAME_NOREPLACE), or linkat()
 *      where the file system lacks it: both fail with EEXIST instead of replacing, never a
 *      check-then-rename, which would race with another writer;
 *   6. fsync the folder so the new name itself is durable.
 * The temporary file is removed on every failure, by abort and by free before commit.
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

struct smar_file_sink {
    smar_err err;
    unsigned flags;
    unsigned mode;
    int dirfd;     /* the destination's folder, ours */
    int fd;        /* the temporary file while it is open */
    char *display; /* the name in messages */
    char *base;    /* the name in dirfd */
    char tmp[TMP_BASE_MAX + 32];
    bool tmp_exists;
};

int smar_file_sink_new(smar_file_sink **out)
{
    smar_file_sink *fs = calloc(1, sizeof *fs);
    *out = fs;
    if (fs == NULL)
        return SMAR_E_NOMEM;
    fs->dirfd = fs->fd = -1;
    return SMAR_OK;
}

const char *smar_file_sink_error(const smar_file_sink *fs)
{
    return fs ? smar_err_message(&fs->err) : "no file sink";
}

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

static bool names_a_file(const char *base)
{
    return *base != '\0' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0 &&
           strchr(base, '/') == NULL;
}

/* The name may receive the file: nothing there, or (REPLACE) a regular file. Checked when
 * the sink opens and again right before a replacing rename, without following a link. */
static int check_name(smar_file_sink *fs)
{
    struct stat st;
    if (fstatat(fs->dirfd, fs->base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return SMAR_OK;
        return smar_fail(&fs->err, SMAR_E_IO, "cannot check '%s': %s", fs->display,
                         strerror(errno));
    }
    if (!(fs->flags & SMAR_FILE_SINK_REPLACE))
        return smar_fail(&fs->err, SMAR_E_EXISTS, "'%s' already exists", fs->display);
    if (!S_ISREG(st.st_mode))
        return smar_fail(&fs->err, SMAR_E_INVALID,
                         "'%s' is %s: only a regular file is ever replaced", fs->display,
                         smar_file_kind(st.st_mode));
    return SMAR_OK;
}

/* A new temporary file in the destination's folder, never an existing one. */
static int create_tmp(smar_file_sink *fs)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t r[6];
        char suffix[sizeof r + 1];
        randombytes_buf(r, sizeof r);
        for (size_t i = 0; i < sizeof r; i++)
            suffix[i] = set[r[i] % (sizeof set - 1)];
        suffix[sizeof r] = '\0';
        (void)snprintf(fs->tmp, sizeof fs->tmp, ".%.*s.tmp-%s", TMP_BASE_MAX, fs->base, suffix);
        fs->fd =
            openat(fs->dirfd, fs->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fs->fd >= 0) {
            fs->tmp_exists = true;
            break;
        }
        if (errno != EEXIST)
            break;
    }
    if (fs->fd < 0)
        return smar_fail(&fs->err, SMAR_E_IO, "cannot create a temporary file beside '%s': %s",
                         fs->display, strerror(errno));
    if (fs->mode != 0 && fchmod(fs->fd, (mode_t)fs->mode) != 0)
        return smar_fail(&fs->err, SMAR_E_IO, "cannot set the mode of '%s': %s", fs->display,
                         strerror(errno));
    return SMAR_OK;
}

/* dirfd (ours now) and base are set: check the name, make the temporary file. */
static int open_in_folder(smar_file_sink *fs)
{
    int rc = check_name(fs);
    if (rc == SMAR_OK)
        rc = create_tmp(fs);
    if (rc != SMAR_OK)
        smar_file_sink_abort(fs);
    return rc;
}

static int take_options(smar_file_sink *fs, const char *display, const smar_file_sink_options *o)
{
    smar_file_sink_options defaults = SMAR_FILE_SINK_OPTIONS_INIT;
    if (o == NULL)
        o = &defaults;
    if (fs->dirfd >= 0 || fs->display != NULL)
        return smar_fail(&fs->err, SMAR_E_INVALID, "the file sink is open already");
    if (o->version != SMAR_FILE_SINK_OPTIONS_VERSION)
        return smar_fail(&fs->err, SMAR_E_INVALID, "unknown file sink options version %d",
                         o->version);
    fs->flags = o->flags;
    fs->mode = o->mode;
    if ((fs->display = strdup(display)) == NULL)
        return smar_fail(&fs->err, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

int smar_file_sink_openat(smar_file_sink *fs, int dirfd, const char *name, const char *display,
                          const smar_file_sink_options *opts)
{
    if (fs == NULL || name == NULL || dirfd < 0)
        return SMAR_E_INVALID;
    int rc = take_options(fs, display ? display : name, opts);
    if (rc != SMAR_OK)
        return rc;
    if (!names_a_file(name))
        return smar_fail(&fs->err, SMAR_E_INVALID, "'%s' does not name a file", fs->display);
    if ((fs->base = strdup(name)) == NULL)
        return smar_fail(&fs->err, SMAR_E_NOMEM, "out of memory");
    if ((fs->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
        return smar_fail(&fs->err, SMAR_E_IO, "cannot keep the folder of '%s' open: %s",
                         fs->display, strerror(errno));
    return open_in_folder(fs);
}

/* Open the folder of target (a path after links were followed) and keep the name in it. */
static int open_folder(smar_file_sink *fs, const char *target)
{
    size_t dir_len = folder_len(target);
    if (!names_a_file(target + dir_len))
        return smar_fail(&fs->err, SMAR_E_INVALID, "'%s' does not name a file", fs->display);
    if ((fs->base = strdup(target + dir_len)) == NULL)
        return smar_fail(&fs->err, SMAR_E_NOMEM, "out of memory");
    char *dir = dir_len == 0 ? strdup(".") : strndup(target, dir_len);
    if (dir == NULL)
        return smar_fail(&fs->err, SMAR_E_NOMEM, "out of memory");
    fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fs->dirfd >= 0 ? SMAR_OK
                            : smar_fail(&fs->err, SMAR_E_IO, "cannot open the folder of '%s': %s",
                                        fs->display, strerror(errno));
    free(dir);
    return rc;
}

int smar_file_sink_open(smar_file_sink *fs, const char *path, const smar_file_sink_options *opts)
{
    if (fs == NULL || path == NULL)
        return SMAR_E_INVALID;
    int rc = take_options(fs, path, opts);
    if (rc != SMAR_OK)
        return rc;
    const unsigned follow = SMAR_FILE_SINK_REPLACE | SMAR_FILE_SINK_FOLLOW_LINKS;
    char *target = NULL;
    if ((fs->flags & follow) == follow)
        rc = follow_links(path, &target, &fs->err);
    else if ((target = strdup(path)) == NULL)
        rc = smar_fail(&fs->err, SMAR_E_NOMEM, "out of memory");
    if (rc == SMAR_OK)
        rc = open_folder(fs, target);
    free(target);
    return rc != SMAR_OK ? rc : open_in_folder(fs);
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

/* Fail with code and message and drop the temporary file: a failed sink is finished. */
__attribute__((format(printf, 3, 4))) static int fail_abort(smar_file_sink *fs, int code,
                                                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[SMAR_ERRMSG_MAX];
    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    smar_file_sink_abort(fs);
    return smar_fail(&fs->err, code, "%s", msg);
}

int smar_file_sink_write(smar_file_sink *fs, const void *buf, size_t len)
{
    if (fs == NULL || (buf == NULL && len > 0))
        return SMAR_E_INVALID;
    if (fs->fd < 0)
        return smar_fail(&fs->err, SMAR_E_INVALID, "'%s' is not open for writing",
                         fs->display ? fs->display : "file sink");
    if (write_all(fs->fd, buf, len) != 0)
        return fail_abort(fs, SMAR_E_IO, "cannot write '%s': %s", fs->display, strerror(errno));
    return SMAR_OK;
}

static int close_tmp(smar_file_sink *fs, bool sync)
{
    if (fs->fd < 0)
        return smar_fail(&fs->err, SMAR_E_INVALID, "'%s' is not open for writing",
                         fs->display ? fs->display : "file sink");
    int err = sync && fsync(fs->fd) != 0 ? errno : 0;
    if (close(fs->fd) != 0 && err == 0)
        err = errno;
    fs->fd = -1;
    if (err != 0)
        return fail_abort(fs, SMAR_E_IO, "cannot write '%s': %s", fs->display, strerror(err));
    return SMAR_OK;
}

int smar_file_sink_close_unsynced(smar_file_sink *fs)
{
    return fs == NULL ? SMAR_E_INVALID : close_tmp(fs, false);
}

static int rename_noreplace(smar_file_sink *fs)
{
#if defined(__linux__) && defined(SYS_renameat2)
    if (syscall(SYS_renameat2, fs->dirfd, fs->tmp, fs->dirfd, fs->base, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
#endif
    /* No renameat2 here: a hard link fails with EEXIST instead of replacing too. The
     * destination is complete; a leftover temporary link would only cost space. */
    if (linkat(fs->dirfd, fs->tmp, fs->dirfd, fs->base, 0) != 0)
        return -1;
    (void)unlinkat(fs->dirfd, fs->tmp, 0);
    return 0;
}

int smar_file_sink_publish(smar_file_sink *fs)
{
    if (fs == NULL)
        return SMAR_E_INVALID;
    if (!fs->tmp_exists || fs->fd >= 0)
        return smar_fail(&fs->err, SMAR_E_INVALID, "'%s': nothing closed to publish",
                         fs->display ? fs->display : "file sink");
    bool replace = fs->flags & SMAR_FILE_SINK_REPLACE;
    /* The check just before the rename leaves no room for a planted device, FIFO or link
     * to be replaced between two steps of this process. */
    int rc = replace ? check_name(fs) : SMAR_OK;
    if (rc != SMAR_OK) {
        smar_file_sink_abort(fs);
        return rc;
    }
    if ((replace ? renameat(fs->dirfd, fs->tmp, fs->dirfd, fs->base) : rename_noreplace(fs)) != 0) {
        if (errno == EEXIST)
            return fail_abort(fs, SMAR_E_EXISTS, "'%s' already exists", fs->display);
        return fail_abort(fs, SMAR_E_IO, "cannot rename into '%s': %s", fs->display,
                          strerror(errno));
    }
    fs->tmp_exists = false;
    return SMAR_OK;
}

int smar_file_sink_commit(smar_file_sink *fs)
{
    if (fs == NULL)
        return SMAR_E_INVALID;
    int rc = close_tmp(fs, true);
    if (rc == SMAR_OK)
        rc = smar_file_sink_publish(fs);
    /* Some file systems cannot sync a folder (EINVAL); there is nothing more to do. */
    if (rc == SMAR_OK && fsync(fs->dirfd) != 0 && errno != EINVAL)
        rc = smar_fail(&fs->err, SMAR_E_IO, "'%s' was written but its folder cannot be synced: %s",
                       fs->display, strerror(errno));
    return rc;
}

void smar_file_sink_abort(smar_file_sink *fs)
{
    if (fs == NULL)
        return;
    if (fs->fd >= 0)
        (void)close(fs->fd);
    fs->fd = -1;
    if (fs->tmp_exists)
        (void)unlinkat(fs->dirfd, fs->tmp, 0);
    fs->tmp_exists = false;
}

void smar_file_sink_free(smar_file_sink *fs)
{
    if (fs == NULL)
        return;
    smar_file_sink_abort(fs);
    if (fs->dirfd >= 0)
        (void)close(fs->dirfd);
    free(fs->display);
    free(fs->base);
    free(fs);
}

int smar_file_sink_temp_dirfd(const smar_file_sink *fs)
{
    return fs != NULL && fs->tmp_exists ? fs->dirfd : -1;
}

const char *smar_file_sink_temp_name(const smar_file_sink *fs)
{
    return fs != NULL && fs->tmp_exists ? fs->tmp : NULL;
}

int smar_file_sink_fd(const smar_file_sink *fs)
{
    return fs != NULL ? fs->fd : -1;
}

/* ---- as an smar_sink ---------------------------------------------------------------- */

static smar_io_result sink_failed(smar_file_sink *fs, char err[SMAR_IO_ERROR_MAX])
{
    (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s", smar_file_sink_error(fs));
    return SMAR_IO_FAILED;
}

static smar_io_result sink_write(void *opaque, const void *buf, size_t len,
                                 char err[SMAR_IO_ERROR_MAX])
{
    smar_file_sink *fs = opaque;
    return smar_file_sink_write(fs, buf, len) == SMAR_OK ? SMAR_IO_OK : sink_failed(fs, err);
}

static smar_io_result sink_commit(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    smar_file_sink *fs = opaque;
    return smar_file_sink_commit(fs) == SMAR_OK ? SMAR_IO_OK : sink_failed(fs, err);
}

static void sink_abort(void *opaque)
{
    smar_file_sink_abort(opaque);
}

void smar_file_sink_as_sink(smar_file_sink *fs, smar_sink *out)
{
    *out = (smar_sink){SMAR_SINK_VERSION, fs, sink_write, sink_commit, sink_abort, NULL};
}

/* ---- whole files -------------------------------------------------------------------- */

int smar_atomic_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           bool overwrite, smar_err *e)
{
    if (path == NULL || (data == NULL && len > 0))
        return smar_fail(e, SMAR_E_INVALID, "no path or data to write");
    smar_file_sink_options o = SMAR_FILE_SINK_OPTIONS_INIT;
    o.mode = mode;
    o.flags = overwrite ? SMAR_FILE_SINK_REPLACE | SMAR_FILE_SINK_FOLLOW_LINKS : 0;
    smar_file_sink *fs;
    if (smar_file_sink_new(&fs) != SMAR_OK)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    int rc = smar_file_sink_open(fs, path, &o);
    if (rc == SMAR_OK)
        rc = smar_file_sink_write(fs, data, len);
    if (rc == SMAR_OK)
        rc = smar_file_sink_commit(fs);
    if (rc != SMAR_OK)
        (void)smar_fail(e, rc, "%s", smar_file_sink_error(fs));
    smar_file_sink_free(fs);
    return rc;
}
