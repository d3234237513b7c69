/*
 * extract_dir.c - the selected secrets as a folder tree on disk or as a tar stream, in a
 * layout that `smar create` takes back (libsmar/export/export_tree.c reads it):
 *
 *   instance.json                       {"instance": ..., "exported_at": ...}: every member
 *                                       of the export document but the two below
 *   secret_groups.json                  {"secret_groups": [...]}, when the document has it
 *   configurations.json                 {"configurations": ...}, when the restore includes
 *                                       them (a full restore or an explicit request)
 *   <group>/<type>/<name>--<id>/secret.json
 *                                       the secret object without "versions", its members'
 *                                       text exactly as stored (payload at T included)
 *   <group>/<type>/<name>--<id>/versions/<NNNN>--<created>--<version id>.json
 *                                       each version object, NNNN its 1-based position in
 *                                       "versions" (4 digits or more), created in ISO 8601
 *                                       basic form (no ':'), or "undated"
 *
 * A secret without a "versions" member has no versions/ folder; one with "versions": []
 * has an empty one. Names are percent-encoded (paths.c): two different ids, names, groups
 * or types never share a path, the id is always whole in its folder's name, and a secret
 * whose id (or group or type) does not fit in one path component is refused before any of
 * its files is written. The group folder is the group's name when the document names it,
 * else its id.
 *
 * On disk every folder is made and opened relative to its parent's descriptor with
 * O_NOFOLLOW, so neither a crafted name nor a symlink planted in the output folder can lead
 * outside it. Files are 0600, folders 0700, each file written atomically and never over an
 * existing one without --force. The tar form holds the same tree (pax, same modes), the
 * root files first, then each secret's files one after the other.
 */
#define _GNU_SOURCE /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lazy_tar.h"

/* group/type/<secret folder> is 3 components; with versions/<file> 5. */
#define REL_MAX         (3 * (CLI_NAME_MAX + 1))
#define PATH_MAX_TREE   (REL_MAX + sizeof "versions/" + CLI_NAME_MAX + 1)
#define TAR_DEEP_LEVELS 2  /* <name>--<id>/ and its versions/ */
#define TYPE_DIRS_MAX   64 /* group/type folders kept open (dir form) */
/* An open group/type folder. Secrets come in archive order, not by folder: entering both
 * folders again for every secret was a third of the system calls of a restore. */
struct type_dir {
    char rel[2 * (CLI_NAME_MAX + 1)];
    int fd;
};

struct cli_tree {
    int is_tar;
    int force;
    /* dir */
    int rootfd;
    char *root; /* the output folder's path, as messages name it */
    /* The tree is built whole under a hidden name and named at the end, after one sync:
     * then no file needs a name of its own before its data is on disk (no temporary file,
     * rename or check per file), and a failed or refused run removes the hidden folder and
     * leaves nothing. A new output folder is built beside its name and renamed whole; in an
     * existing one (merge) the hidden folder is made inside it, and at the end every path
     * is checked against what is there before anything is moved into place. */
    int merge;
    int parentfd;              /* the folder holding the hidden one */
    char *base;                /* new folder: the output's name in parentfd */
    char hidden[NAME_MAX + 1]; /* the hidden folder's name, "" once published */
    struct type_dir type_dirs[TYPE_DIRS_MAX];
    size_t ntype_dirs;
    /* tar */
    cli_out out;
    struct archive *tar;
    smar_time_ns mtime;
    locale_t utf8;       /* for libarchive's name conversion, or (locale_t)0 */
    int write_errno;     /* the first failed write of the stream (0: none) */
    char **dirs_written; /* group and type folders emitted */
    size_t ndirs;
    char last_deep[TAR_DEEP_LEVELS][PATH_MAX_TREE]; /* last secret and versions folder */
};

/* A growable text buffer for the files' contents. */
struct text {
    char *p;
    size_t n, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *p = cli_xmalloc(cap);
        if (t->p != NULL)
            memcpy(p, t->p, t->n);
        /* The old buffer may hold payload bytes: wipe it rather than realloc it. */
        cli_wipe_free(t->p, t->cap);
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void text_adds(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static void text_free(struct text *t)
{
    cli_wipe_free(t->p, t->cap);
    memset(t, 0, sizeof *t);
}

/* ---- members as they are ---------------------------------------------------------- */

/*
 * Each member of an object text with its raw text, from the key's opening quote to the
 * value's end (smar_json_each_member): keys are copied as written, never decoded and
 * written again (a key holding \u0000 came out cut at the NUL, two keys became one), and
 * values keep every byte.
 */
typedef int (*raw_member_fn)(const char *key, const char *member, size_t member_len,
                             const char *value, size_t value_len, void *payload);

struct raw_walk {
    raw_member_fn fn;
    void *payload;
};

static int raw_member_cb(const smar_json_member *m, void *payload)
{
    struct raw_walk *w = payload;
    return w->fn(m->key, m->member, m->member_len, m->value, m->value_len, w->payload);
}

static int raw_members(const char *json, size_t len, raw_member_fn fn, void *payload)
{
    struct raw_walk w = {fn, payload};
    return smar_json_each_member(json, len, raw_member_cb, &w);
}

/* A string member of an object text, decoded; NULL when absent, not a string, or holding a
 * NUL byte. Free with free(). */
static char *string_member(const char *json, size_t len, const char *name)
{
    const char *v;
    size_t vlen, n = 0;
    char *out = NULL;
    if (smar_json_find_member(json, len, name, &v, &vlen) != SMAR_OK ||
        smar_json_unquote(v, vlen, &out, &n) != SMAR_OK)
        return NULL;
    if (strlen(out) != n) {
        free(out);
        return NULL;
    }
    return out;
}

/* Append one raw member to an object being built ("{" written by the first). */
static void object_add(struct text *obj, const char *member, size_t len)
{
    text_adds(obj, obj->n == 0 ? "{\n  " : ",\n  ");
    text_add(obj, member, len);
}

static void object_end(struct text *obj)
{
    text_adds(obj, obj->n == 0 ? "{}\n" : "\n}\n");
}

/* ---- creating the tree -------------------------------------------------------------- */

/* Make (or enter) one folder below parent without following a symlink. */
static int enter_dir(int parent, const char *name, const char *display)
{
    if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot make folder '%s': %s", display, strerror(errno));
        return -1;
    }
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        struct stat st;
        int is_link = fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        cli_error("cannot enter folder '%s': %s", display,
                  is_link ? "it is a symbolic link (not followed)" : strerror(err));
    }
    return fd;
}

/* A file of the hidden tree: created (never over anything), written, closed; synced with
 * the whole tree before the tree (or, in an existing folder, the file) gets its name. */
static int write_new_file(int dirfd, const char *name, const char *display, const struct text *body)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error("cannot create '%s': %s", display, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    int err = cli_write_all(fd, body->p, body->n) != 0 ? errno : 0;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err != 0) {
        cli_error("cannot write '%s': %s", display, strerror(err));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* ---- tar entries -------------------------------------------------------------------- */

/*
 * The tar stream's bytes go out here. A failed write is remembered and reported by us, and
 * libarchive is told it succeeded: a libarchive handle that saw a write fail goes FATAL and
 * then never frees its output buffer (a leak ASan reports on a full disk).
 */
static la_ssize_t tar_write(struct archive *a, void *client, const void *buf, size_t len)
{
    (void)a;
    cli_tree *t = client;
    if (t->write_errno == 0 && cli_write_all(t->out.fd, buf, len) != 0)
        t->write_errno = errno != 0 ? errno : EIO;
    return (la_ssize_t)len;
}

/* After a write: 0, or an exit code after saying why the stream could not be written. */
static int tar_written(const cli_tree *t)
{
    if (t->write_errno == 0)
        return 0;
    cli_error("cannot write '%s': %s", t->out.display, strerror(t->write_errno));
    return CLI_EXIT_FAILURE;
}

static int tar_fail(cli_tree *t)
{
    /* libarchive's "Write error" alone does not say why: the errno does (disk full...). */
    int err = archive_errno(t->tar);
    if (err > 0)
        cli_error("cannot write '%s': %s (%s)", t->out.display, strerror(err),
                  archive_error_string(t->tar));
    else
        cli_error("cannot write '%s': %s", t->out.display, archive_error_string(t->tar));
    return CLI_EXIT_FAILURE;
}

static int tar_entry(cli_tree *t, const char *path, int is_dir, const struct text *body)
{
    struct archive_entry *e = archive_entry_new();
    if (e == NULL)
        return tar_fail(t);
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, is_dir ? 0700 : 0600);
    archive_entry_set_size(e, is_dir ? 0 : (la_int64_t)body->n);
    archive_entry_set_mtime(e, (time_t)(t->mtime / 1000000000), 0);
    /* pax headers hold UTF-8 names, converted from the locale's charset: in the C locale
     * every non-ASCII name fails. The names are valid UTF-8 already (paths.c encodes
     * anything else), so this thread converts them in a UTF-8 locale. */
    locale_t caller = t->utf8 != (locale_t)0 ? uselocale(t->utf8) : (locale_t)0;
    int r = archive_write_header(t->tar, e);
    if (caller != (locale_t)0)
        uselocale(caller);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return tar_fail(t);
    if (!is_dir && archive_write_data(t->tar, body->p, body->n) != (la_ssize_t)body->n)
        return tar_fail(t);
    return tar_written(t);
}

/* Whether folder `dir` (at depth 1, 2, ...) was emitted already. Group and type folders
 * repeat across secrets and are looked up in a list as long as groups times types; deeper
 * folders hold the secret id, and a secret's files come one after the other, so comparing
 * with the last folder emitted at that depth is enough. */
static int tar_dir_seen(cli_tree *t, const char *dir, int depth)
{
    if (depth > 2)
        return depth - 3 < TAR_DEEP_LEVELS && strcmp(t->last_deep[depth - 3], dir) == 0;
    for (size_t i = 0; i < t->ndirs; i++)
        if (strcmp(t->dirs_written[i], dir) == 0)
            return 1;
    return 0;
}

static void tar_dir_remember(cli_tree *t, const char *dir, int depth)
{
    if (depth > 2) {
        if (depth - 3 < TAR_DEEP_LEVELS)
            snprintf(t->last_deep[depth - 3], sizeof t->last_deep[0], "%s", dir);
        return;
    }
    t->dirs_written = cli_xrealloc(t->dirs_written, (t->ndirs + 1) * sizeof(char *));
    t->dirs_written[t->ndirs++] = cli_xstrdup(dir);
}

/* Emit each folder of path (up to its last '/') once, parents first. */
static int tar_dirs(cli_tree *t, const char *path)
{
    char buf[PATH_MAX_TREE];
    int depth = 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        depth++;
        if (!tar_dir_seen(t, buf, depth)) {
            int ret = tar_entry(t, buf, 1, NULL);
            if (ret != 0)
                return ret;
            tar_dir_remember(t, buf, depth);
        }
        *p = '/';
    }
    return 0;
}

/* ---- the root files ------------------------------------------------------------------- */

static int put_root_file(cli_tree *t, const char *name, const struct text *body)
{
    if (t->is_tar)
        return tar_entry(t, name, 0, body);
    char display[4096];
    snprintf(display, sizeof display, "%s/%s", t->root, name);
    return write_new_file(t->rootfd, name, display, body);
}

struct doc_parts {
    struct text instance; /* every member but the two below */
    const char *groups, *configurations;
    size_t groups_len, configurations_len;
};

static int doc_member(const char *key, const char *member, size_t member_len, const char *value,
                      size_t value_len, void *payload)
{
    struct doc_parts *d = payload;
    if (strcmp(key, "secret_groups") == 0) {
        d->groups = value;
        d->groups_len = value_len;
    } else if (strcmp(key, "configurations") == 0) {
        d->configurations = value;
        d->configurations_len = value_len;
    } else {
        object_add(&d->instance, member, member_len);
    }
    return 0;
}

/* {"<member>": value}: secret_groups.json and configurations.json. */
static int put_part_file(cli_tree *t, const char *file, const char *member, const char *value,
                         size_t len)
{
    struct text body = {0};
    text_adds(&body, "{\"");
    text_adds(&body, member);
    text_adds(&body, "\": ");
    text_add(&body, value, len);
    text_adds(&body, "}\n");
    int ret = put_root_file(t, file, &body);
    text_free(&body); /* configurations hold credentials */
    return ret;
}

static int put_root_files(cli_tree *t, const char *doc, size_t len, int with_configurations)
{
    struct doc_parts d;
    memset(&d, 0, sizeof d);
    if (raw_members(doc, len, doc_member, &d) != 0) {
        cli_error("the stored export document is not a JSON object");
        text_free(&d.instance);
        return CLI_EXIT_FAILURE;
    }
    object_end(&d.instance);
    int ret = put_root_file(t, "instance.json", &d.instance);
    text_free(&d.instance);
    if (ret == 0 && d.groups != NULL)
        ret = put_part_file(t, "secret_groups.json", "secret_groups", d.groups, d.groups_len);
    if (ret == 0 && d.configurations != NULL && with_configurations)
        ret = put_part_file(t, "configurations.json", "configurations", d.configurations,
                            d.configurations_len);
    return ret;
}

/* Remove what the hidden tree still holds (all of it after a failure; after a merge the
 * folders that were merged into), then the folder itself: only what this run made, in a
 * 0700 folder of its own; nothing is followed (a folder is opened O_NOFOLLOW). */
static void remove_tree(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || (errno != EISDIR && errno != EPERM) || depth > 8)
        return;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree(fd, e->d_name, depth + 1);
    closedir(d);
    (void)unlinkat(parent, name, AT_REMOVEDIR);
}

/* The output folder's parent and name; *base points into path. -1 after a message. */
static int open_parent(const char *path, char **base)
{
    char *copy = cli_xstrdup(path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    *base = cli_xstrdup(slash ? slash + 1 : copy);
    if (slash != NULL)
        *slash = '\0';
    int fd = open(slash == NULL ? "." : (*copy ? copy : "/"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cli_error("cannot open the folder of '%s': %s", path, strerror(errno));
    free(copy);
    return fd;
}

/* Make the hidden folder ".<stem>.tmp-XXXXXX" (0700) in t->parentfd and open it as the
 * tree's root. 0, or -1 after a message naming path. */
static int make_hidden(cli_tree *t, const char *stem, const char *path)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    int err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; attempt++) {
        unsigned char r[6];
        char suffix[sizeof r + 1];
        if (getentropy(r, sizeof r) != 0) {
            err = errno;
            break;
        }
        for (size_t i = 0; i < sizeof r; i++)
            suffix[i] = set[r[i] % (sizeof set - 1)];
        suffix[sizeof r] = '\0';
        snprintf(t->hidden, sizeof t->hidden, ".%.200s.tmp-%s", stem, suffix);
        err = mkdirat(t->parentfd, t->hidden, 0700) == 0 ? 0 : errno;
    }
    if (err != 0) {
        t->hidden[0] = '\0';
        cli_error("cannot make a folder in '%s': %s", path, strerror(err));
        return -1;
    }
    t->rootfd = openat(t->parentfd, t->hidden, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (t->rootfd < 0) {
        cli_error("cannot open folder '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A new output folder: the output does not exist; the tree is built hidden beside it. 1
 * when begun, 0 when the output exists (or is not a name a folder can be made under), -1
 * after a message. */
static int open_fresh(cli_tree *t, const char *path)
{
    t->parentfd = open_parent(path, &t->base);
    if (t->parentfd < 0)
        return -1;
    struct stat st;
    if (t->base[0] == '\0' || strcmp(t->base, ".") == 0 || strcmp(t->base, "..") == 0 ||
        strcmp(t->base, "/") == 0 || fstatat(t->parentfd, t->base, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
        errno != ENOENT) {
        close(t->parentfd);
        t->parentfd = -1;
        return 0;
    }
    return make_hidden(t, t->base, path) == 0 ? 1 : -1;
}

/* The whole new tree on disk, then under its name (never over anything), then the name on
 * disk. */
static int publish_fresh(cli_tree *t)
{
    if (syncfs(t->rootfd) != 0) {
        cli_error("cannot sync folder '%s': %s", t->root, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (renameat2(t->parentfd, t->hidden, t->parentfd, t->base, RENAME_NOREPLACE) != 0) {
        cli_error(errno == EEXIST || errno == ENOTEMPTY
                      ? "'%s' appeared while it was being extracted: not replaced"
                      : "cannot name folder '%s': %s",
                  t->root, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    t->hidden[0] = '\0'; /* published: nothing to remove */
    if (fsync(t->parentfd) != 0 && errno != EINVAL) {
        cli_error("cannot sync the folder of '%s': %s", t->root, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* An existing output folder: the tree is built in a hidden folder inside it (the same file
 * system, so that each piece can be moved into place by a rename at the end). */
static int open_merge(cli_tree *t, const char *path)
{
    t->parentfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->parentfd < 0) {
        cli_error("cannot open folder '%s': %s", path, strerror(errno));
        return -1;
    }
    if (cli_out_check_folder(t->parentfd, path) != 0)
        return -1;
    t->merge = 1;
    return make_hidden(t, "smar-extract", path);
}

/* ---- merging into an existing folder ------------------------------------------------ */

/* What one merge step knows: the built tree's folder, the output's folder, the path below
 * the output (for messages), and whether the second walk moves (else it checks). */
struct merge_walk {
    cli_tree *t;
    int moving;
};

static int merge_dir(struct merge_walk *w, int from, int to, const char *rel, int depth);

static int is_dir_entry(int dirfd, const struct dirent *e)
{
    struct stat st;
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    return fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Both folders named name, opened without following a link, and merged. */
static int merge_into_dir(struct merge_walk *w, int from, int to, const char *name,
                          const char *display, const char *rel, int depth)
{
    int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int ret = 0;
    if (sub_from < 0 || sub_to < 0) {
        int err = errno;
        struct stat st;
        int is_link = fstatat(to, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        cli_error("cannot enter folder '%s': %s", display,
                  is_link ? "it is a symbolic link (not followed)" : strerror(err));
        ret = CLI_EXIT_FAILURE;
    } else {
        char sub_rel[PATH_MAX_TREE];
        snprintf(sub_rel, sizeof sub_rel, "%s%s/", rel, name);
        ret = merge_dir(w, sub_from, sub_to, sub_rel, depth + 1);
    }
    if (sub_from >= 0)
        close(sub_from);
    if (sub_to >= 0)
        close(sub_to);
    return ret;
}

/* One entry of the built tree. Checking: what is already at its place must be a folder
 * where it is a folder (merged into, never followed if a link), and a regular file that
 * --force lets us replace where it is a file. Moving: a piece with nothing at its place is
 * renamed there whole (a new secret's folder in one rename); else folders are merged and
 * files replace what the check allowed. */
static int merge_entry(struct merge_walk *w, int from, int to, const struct dirent *e,
                       const char *rel, int depth)
{
    char display[PATH_MAX_TREE + PATH_MAX + 2];
    snprintf(display, sizeof display, "%s/%s%s", w->t->root, rel, e->d_name);
    if (w->moving) {
        if (renameat2(from, e->d_name, to, e->d_name, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EEXIST) {
            cli_error("cannot name '%s': %s", display, strerror(errno));
            return CLI_EXIT_FAILURE;
        }
    } else {
        struct stat st;
        if (fstatat(to, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                return 0; /* nothing there: the move renames it whole */
            cli_error("cannot check '%s': %s", display, strerror(errno));
            return CLI_EXIT_FAILURE;
        }
    }
    if (is_dir_entry(from, e))
        return merge_into_dir(w, from, to, e->d_name, display, rel, depth);
    int ret = cli_out_check_at(to, e->d_name, display, w->t->force);
    if (ret != 0 || !w->moving)
        return ret;
    if (renameat(from, e->d_name, to, e->d_name) != 0) {
        cli_error("cannot replace '%s': %s", display, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Every entry of the built folder from against the output's folder to. Entries renamed
 * away while the folder is read are ones readdir has already returned. */
static int merge_dir(struct merge_walk *w, int from, int to, const char *rel, int depth)
{
    if (depth > 8) /* the tree is 5 levels deep at most */
        return 0;
    /* A descriptor of its own: a dup would share from's read position, and the second walk
     * would find the folder already read to its end. */
    int fd = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        cli_error("cannot read the folder being extracted to '%s': %s", w->t->root,
                  strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    int ret = 0;
    for (struct dirent *e; ret == 0 && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ret = merge_entry(w, from, to, e, rel, depth);
    closedir(d);
    return ret;
}

/* The built tree on disk; every path checked against what the folder holds, so that a
 * refused run moves nothing; then each piece moved into place and the names synced. A run
 * killed while moving leaves whole files only (each was on disk before it was named) and
 * the hidden folder with what was not moved yet. */
static int publish_merge(cli_tree *t)
{
    if (syncfs(t->rootfd) != 0) {
        cli_error("cannot sync folder '%s': %s", t->root, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    struct merge_walk check = {t, 0}, move = {t, 1};
    int ret = merge_dir(&check, t->rootfd, t->parentfd, "", 0);
    if (ret != 0) {
        cli_error("nothing written to '%s'", t->root);
        return ret;
    }
    if ((ret = merge_dir(&move, t->rootfd, t->parentfd, "", 0)) != 0)
        return ret;
    if (syncfs(t->parentfd) != 0) {
        cli_error("cannot sync folder '%s': %s", t->root, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_tree_open_dir(cli_tree **out, const char *path, int force, const char *doc, size_t len,
                      int with_configurations)
{
    *out = NULL;
    cli_tree *t = cli_xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->rootfd = t->parentfd = -1;
    t->root = cli_xstrdup(path);
    t->force = force;
    int fresh = open_fresh(t, path);
    if (fresh < 0 || (fresh == 0 && open_merge(t, path) != 0)) {
        cli_tree_abort(t);
        return CLI_EXIT_FAILURE;
    }
    int ret = put_root_files(t, doc, len, with_configurations);
    if (ret != 0) {
        cli_tree_abort(t);
        return ret;
    }
    *out = t;
    return 0;
}

int cli_tree_open_tar(cli_tree **out, const char *path, int force, smar_time_ns mtime,
                      const char *doc, size_t len, int with_configurations)
{
    *out = NULL;
    if (cli_tar_load() != 0) /* before the output exists: libarchive is opened on first use */
        return CLI_EXIT_FAILURE;
    cli_tree *t = cli_xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->is_tar = 1;
    t->rootfd = t->parentfd = -1;
    t->mtime = mtime;
    int ret = cli_out_open(&t->out, path, force);
    if (ret != 0) {
        free(t);
        return ret;
    }
    t->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    t->tar = archive_write_new();
    /* No padding of the last block: the same bytes whether it goes to a file or a pipe. */
    if (t->tar == NULL || archive_write_set_format_pax_restricted(t->tar) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t->tar, 1) != ARCHIVE_OK ||
        archive_write_open2(t->tar, t, NULL, tar_write, NULL, NULL) != ARCHIVE_OK) {
        cli_error("cannot start the tar stream: %s",
                  t->tar ? archive_error_string(t->tar) : "out of memory");
        cli_tree_abort(t);
        return CLI_EXIT_FAILURE;
    }
    /* First in the stream, so a reader knows exported_at before any secret. */
    ret = put_root_files(t, doc, len, with_configurations);
    if (ret != 0) {
        cli_tree_abort(t);
        return ret;
    }
    *out = t;
    return 0;
}

/* ---- names ------------------------------------------------------------------------ */

/* The folder names of a secret: group, type, <name>--<id>. */
struct secret_names {
    char comps[3][CLI_NAME_MAX + 1];
};

static int name_failed(const char *id, const char *what, const char *value)
{
    char idbuf[1024], valbuf[1024]; /* ids are at most 256 bytes: named whole */
    cli_error("secret '%s': its %s%s%s does not fit in a path component (%d bytes once "
              "encoded), and it is never cut; nothing of this secret written",
              cli_printable(id, idbuf, sizeof idbuf), what, value ? " " : "",
              value ? cli_printable(value, valbuf, sizeof valbuf) : "", CLI_NAME_MAX);
    return CLI_EXIT_FAILURE;
}

static int secret_names(struct secret_names *sn, const char *group, const char *type,
                        const char *name, const char *id)
{
    if (cli_path_folder(sn->comps[0], group, 1) != 0)
        return name_failed(id, "group", group);
    if (cli_path_folder(sn->comps[1], type, 0) != 0)
        return name_failed(id, "type", type);
    if (cli_path_secret(sn->comps[2], name, id) != 0)
        return name_failed(id, "id", NULL);
    return 0;
}

int cli_tree_check_secret(const char *group, const char *type, const char *name, const char *id)
{
    struct secret_names sn;
    return secret_names(&sn, group, type, name, id);
}

/* A version's "created_at" in ISO 8601 basic form ("20261120T020000Z"), which sorts and is
 * portable (no ':'), or "undated". */
static void version_stamp(char stamp[SMAR_TIME_BUFSIZE], const char *json, size_t len)
{
    char *created = string_member(json, len, "created_at");
    snprintf(stamp, SMAR_TIME_BUFSIZE, "undated");
    if (created != NULL) {
        smar_time_ns t;
        if (smar_time_parse(created, strlen(created), 0, &t) == SMAR_OK) {
            char full[SMAR_TIME_BUFSIZE];
            size_t k = 0;
            smar_time_format(t, full);
            for (const char *p = full; *p; p++)
                if (*p != '-' && *p != ':')
                    stamp[k++] = *p;
            stamp[k] = '\0';
        }
    }
    free(created);
}

/* "<position>--<created>--<version id>.json"; -1 after a message when it does not fit. */
static int version_file_name(char out[CLI_NAME_MAX + 1], size_t position, const char *json,
                             size_t len, const char *secret_id)
{
    char stamp[SMAR_TIME_BUFSIZE];
    version_stamp(stamp, json, len);
    char *id = string_member(json, len, "id");
    if (id == NULL || id[0] == '\0') {
        free(id);
        id = cli_xstrdup("unknown"); /* the position alone keeps the name unique */
    }
    int ret = 0;
    if (cli_path_version(out, position, stamp, id) != 0)
        ret = name_failed(secret_id, "version id", id);
    free(id);
    return ret;
}

/* ---- splitting a rendered secret --------------------------------------------------- */

struct version_text {
    const char *p;
    size_t n;
    char file[CLI_NAME_MAX + 1];
};

struct split {
    struct text secret; /* members other than "versions" */
    int has_versions;
    const char *versions; /* the "versions" array text */
    size_t versions_len;
    struct version_text *items;
    size_t nitems;
};

static int split_member(const char *key, const char *member, size_t member_len, const char *value,
                        size_t value_len, void *payload)
{
    struct split *s = payload;
    if (strcmp(key, "versions") == 0) {
        s->has_versions = 1;
        s->versions = value;
        s->versions_len = value_len;
        return 0;
    }
    object_add(&s->secret, member, member_len);
    return 0;
}

static int collect_version(const char *value, size_t len, void *payload)
{
    struct split *s = payload;
    s->items = cli_xrealloc(s->items, (s->nitems + 1) * sizeof *s->items);
    s->items[s->nitems].p = value;
    s->items[s->nitems].n = len;
    s->items[s->nitems].file[0] = '\0';
    s->nitems++;
    return 0;
}

/* Take the rendered secret apart and name every version file: all before any write. */
static int split_secret(struct split *sp, const char *id, const char *rendered, size_t len)
{
    if (raw_members(rendered, len, split_member, sp) != 0) {
        cli_error("secret '%s': unexpected rendering", id);
        return CLI_EXIT_FAILURE;
    }
    object_end(&sp->secret);
    if (sp->has_versions &&
        (sp->versions[0] != '[' ||
         smar_json_each_element(sp->versions, sp->versions_len, collect_version, sp) != 0)) {
        cli_error("secret '%s': unexpected versions rendering", id);
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < sp->nitems; i++)
        if (version_file_name(sp->items[i].file, i + 1, sp->items[i].p, sp->items[i].n, id) != 0)
            return CLI_EXIT_FAILURE;
    return 0;
}

static void split_free(struct split *sp)
{
    text_free(&sp->secret);
    free(sp->items);
}

/* ---- writing a secret -------------------------------------------------------------- */

struct place {
    cli_tree *t;
    char rel[REL_MAX]; /* group/type/name--id */
    int dirfd;         /* the secret's folder (dir form) */
    int versions_fd;
};

static int put_file(struct place *pl, int in_versions, const char *name, const struct text *body)
{
    char path[PATH_MAX_TREE];
    snprintf(path, sizeof path, "%s/%s%s", pl->rel, in_versions ? "versions/" : "", name);
    if (pl->t->is_tar) {
        int ret = tar_dirs(pl->t, path);
        return ret ? ret : tar_entry(pl->t, path, 0, body);
    }
    char display[sizeof path + 256];
    snprintf(display, sizeof display, "%s/%s", pl->t->root, path);
    return write_new_file(in_versions ? pl->versions_fd : pl->dirfd, name, display, body);
}

/* The versions/ folder, also when it stays empty ("versions": [] is not no "versions"). */
static int make_versions_dir(struct place *pl)
{
    if (pl->t->is_tar) {
        char path[PATH_MAX_TREE];
        snprintf(path, sizeof path, "%s/versions/", pl->rel);
        return tar_dirs(pl->t, path);
    }
    char display[sizeof pl->rel + 256 + 16];
    snprintf(display, sizeof display, "%s/%s/versions", pl->t->root, pl->rel);
    pl->versions_fd = enter_dir(pl->dirfd, "versions", display);
    return pl->versions_fd < 0 ? CLI_EXIT_FAILURE : 0;
}

/* The open group/type folder (made when new): kept in t->type_dirs while there is room,
 * else *owned is set and the caller closes it. -1 on failure (reported). */
static int open_type_dir(cli_tree *t, const struct secret_names *sn, int *owned)
{
    char rel[sizeof t->type_dirs[0].rel];
    char display[sizeof rel + 256];
    snprintf(rel, sizeof rel, "%s/%s", sn->comps[0], sn->comps[1]);
    *owned = 0;
    for (size_t i = 0; i < t->ntype_dirs; i++)
        if (strcmp(t->type_dirs[i].rel, rel) == 0)
            return t->type_dirs[i].fd;
    snprintf(display, sizeof display, "%s/%s", t->root, sn->comps[0]);
    int group = enter_dir(t->rootfd, sn->comps[0], display);
    if (group < 0)
        return -1;
    snprintf(display, sizeof display, "%s/%s", t->root, rel);
    int fd = enter_dir(group, sn->comps[1], display);
    close(group);
    if (fd < 0)
        return -1;
    if (t->ntype_dirs == TYPE_DIRS_MAX) {
        *owned = 1;
        return fd;
    }
    memcpy(t->type_dirs[t->ntype_dirs].rel, rel, sizeof rel);
    t->type_dirs[t->ntype_dirs++].fd = fd;
    return fd;
}

/* Open group/type/name--id/ below the root (dir form). */
static int open_place(struct place *pl, const struct secret_names *sn)
{
    char display[sizeof pl->rel + 256];
    int owned;
    int type_fd = open_type_dir(pl->t, sn, &owned);
    if (type_fd < 0)
        return CLI_EXIT_FAILURE;
    snprintf(display, sizeof display, "%s/%s", pl->t->root, pl->rel);
    pl->dirfd = enter_dir(type_fd, sn->comps[2], display);
    if (owned)
        close(type_fd);
    return pl->dirfd < 0 ? CLI_EXIT_FAILURE : 0;
}

static int put_version(struct place *pl, const struct version_text *v)
{
    struct text body = {0};
    text_add(&body, v->p, v->n);
    text_adds(&body, "\n");
    int ret = put_file(pl, 1, v->file, &body);
    text_free(&body);
    return ret;
}

int cli_tree_add_secret(cli_tree *t, const char *group, const char *type, const char *name,
                        const char *id, const char *rendered, size_t len)
{
    struct secret_names sn;
    struct split sp;
    memset(&sp, 0, sizeof sp);
    struct place pl;
    memset(&pl, 0, sizeof pl);
    pl.t = t;
    pl.dirfd = pl.versions_fd = -1;
    int ret = secret_names(&sn, group, type, name, id);
    if (ret == 0)
        ret = split_secret(&sp, id, rendered, len);
    if (ret != 0)
        goto done;
    snprintf(pl.rel, sizeof pl.rel, "%s/%s/%s", sn.comps[0], sn.comps[1], sn.comps[2]);
    if (!t->is_tar && (ret = open_place(&pl, &sn)) != 0)
        goto done;
    if ((ret = put_file(&pl, 0, "secret.json", &sp.secret)) != 0)
        goto done;
    if (sp.has_versions && (ret = make_versions_dir(&pl)) != 0)
        goto done;
    for (size_t i = 0; i < sp.nitems && ret == 0; i++)
        ret = put_version(&pl, &sp.items[i]);
done:
    if (pl.dirfd >= 0)
        close(pl.dirfd);
    if (pl.versions_fd >= 0)
        close(pl.versions_fd);
    split_free(&sp);
    return ret;
}

int cli_tree_close(cli_tree *t)
{
    int ret = 0;
    if (t->is_tar) {
        if (archive_write_close(t->tar) != ARCHIVE_OK)
            ret = tar_fail(t);
        else
            ret = tar_written(t);
        archive_write_free(t->tar);
        t->tar = NULL;
        if (ret == 0)
            ret = cli_out_commit(&t->out);
    } else {
        ret = t->merge ? publish_merge(t) : publish_fresh(t);
    }
    cli_tree_abort(t);
    return ret;
}

void cli_tree_abort(cli_tree *t)
{
    if (t == NULL)
        return;
    if (t->tar != NULL)
        archive_write_free(t->tar);
    if (t->is_tar)
        cli_out_abort(&t->out);
    if (t->rootfd >= 0)
        close(t->rootfd);
    if (t->parentfd >= 0 && t->hidden[0] != '\0')
        remove_tree(t->parentfd, t->hidden, 0);
    if (t->parentfd >= 0)
        close(t->parentfd);
    free(t->base);
    for (size_t i = 0; i < t->ntype_dirs; i++)
        close(t->type_dirs[i].fd);
    for (size_t i = 0; i < t->ndirs; i++)
        free(t->dirs_written[i]);
    free(t->dirs_written);
    if (t->utf8 != (locale_t)0)
        freelocale(t->utf8);
    free(t->root);
    free(t);
}
