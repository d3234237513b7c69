/*
 * export_tree.c - the directory layout of an instance export, and that directory packed
 * as a tar (plain, gzip, bzip2, xz, zstd) or zip, read through libarchive without
 * unpacking anything to disk.
 *
 *   instance.json        {"instance": ..., "exported_at": ...}   required
 *   secret_groups.json   {"secret_groups": [...], "total_count": N}
 *   configurations.json  {"configurations": [...]} or the value itself
 *   secrets/<id>.json    one secret with its versions
 *
 * The files may sit under one top folder. Files with other names are ignored, as is the
 * junk of desktop archivers (._*, .DS_Store, __MACOSX/); anything under secrets/ that is not
 * <id>.json is an error, since it could be a secret that would silently go missing.
 */
#include "export_in.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum entry_kind {
    ENTRY_IGNORE = 0,
    ENTRY_INSTANCE,
    ENTRY_GROUPS,
    ENTRY_CONFIGURATIONS,
    ENTRY_SECRET,
} entry_kind;

/* The archive entry being looked at. */
typedef struct tree_entry {
    char *name; /* full path inside the archive */
    entry_kind kind;
    char *stem; /* ENTRY_SECRET: the file name without ".json", which must be the id */
} tree_entry;

struct smar_export_tree {
    smar_buf file; /* the file or entry being read; secure: secrets pass through */
    /* directory */
    char *root;   /* the directory holding instance.json */
    char **names; /* secrets/ file names, sorted */
    size_t count;
    size_t cap;
    size_t next;
    /* archive */
    struct archive *ar;
    bool seekable;        /* a regular file: a first pass reads instance.json */
    bool have_instance;   /* instance.json was loaded */
    bool passed_instance; /* second pass: the instance.json of the first pass went by */
    bool pending;         /* cur is a secret whose header was read but not its data */
    bool at_end;
    bool read_failed; /* the read callback already recorded an error */
    size_t headers;   /* entries read in this pass */
    char *top;        /* "" or "<folder>/": where the export's files are */
    tree_entry cur;
    struct archive_entry *cur_ae; /* owned by ar, valid until the next header */
};

static const char *const SECRETS_DIR = "secrets/";
static const char *const JSON_SUFFIX = ".json";

/* ---- names ------------------------------------------------------------------------------ */

static bool is_junk_name(const char *base, size_t n)
{
    return (n >= 2 && base[0] == '.' && base[1] == '_') ||
           (n == strlen(".DS_Store") && memcmp(base, ".DS_Store", n) == 0) ||
           (n == strlen("__MACOSX") && memcmp(base, "__MACOSX", n) == 0);
}

/* True when any component of path is desktop-archiver junk. */
static bool is_junk_path(const char *path)
{
    while (*path != '\0') {
        const char *slash = strchr(path, '/');
        size_t n = slash != NULL ? (size_t)(slash - path) : strlen(path);
        if (is_junk_name(path, n))
            return true;
        path += n;
        if (*path == '/')
            path++;
    }
    return false;
}

static bool has_json_stem(const char *name, size_t n)
{
    size_t sfx = strlen(JSON_SUFFIX);
    return n > sfx && memcmp(name + n - sfx, JSON_SUFFIX, sfx) == 0;
}

/* A path (relative to the export's folder) that belongs to the layout. */
static bool is_layout_path(const char *rel)
{
    return strcmp(rel, "instance.json") == 0 || strcmp(rel, "secret_groups.json") == 0 ||
           strcmp(rel, "configurations.json") == 0 || strcmp(rel, "secrets") == 0 ||
           strncmp(rel, SECRETS_DIR, strlen(SECRETS_DIR)) == 0;
}

static entry_kind kind_of_document_file(const char *rel)
{
    if (strcmp(rel, "instance.json") == 0)
        return ENTRY_INSTANCE;
    if (strcmp(rel, "secret_groups.json") == 0)
        return ENTRY_GROUPS;
    if (strcmp(rel, "configurations.json") == 0)
        return ENTRY_CONFIGURATIONS;
    return ENTRY_IGNORE;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    bool slash = n > 0 && dir[n - 1] == '/';
    size_t len = n + (slash ? 0 : 1) + strlen(name) + 1;
    char *p = malloc(len);
    if (p != NULL)
        (void)snprintf(p, len, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

/* ---- what the files hold ------------------------------------------------------------------ */

static int load_instance(smar_export *ex, smar_span text, const char *where)
{
    smar_span value, key, member;
    int rc = smar_export_validate(ex, text, 1, where, &value);
    if (rc != SMAR_OK)
        return rc;
    if (smar_json_kind_of(value) != SMAR_JSON_OBJECT)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: not a JSON object", where);
    smar_json_iter it;
    smar_json_iter_init(&it, value);
    while (smar_json_next_member(&it, &key, &member)) {
        if (smar_json_string_eq(key, "secrets"))
            return smar_fail(&ex->err, SMAR_E_INPUT,
                             "%s: has a \"secrets\" member; secrets belong in secrets/<id>.json",
                             where);
        rc = smar_export_add_member(ex, key, member, where);
        if (rc != SMAR_OK)
            return rc;
    }
    return SMAR_OK;
}

/* secret_groups.json and configurations.json: their named member, else the whole value
 * (an array is also accepted for the groups). */
static int load_part(smar_export *ex, entry_kind kind, smar_span text, const char *where)
{
    const char *member = kind == ENTRY_GROUPS ? "secret_groups" : "configurations";
    smar_span value, inner;
    int rc = smar_export_validate(ex, text, 1, where, &value);
    if (rc != SMAR_OK)
        return rc;
    if (smar_json_kind_of(value) == SMAR_JSON_OBJECT && smar_json_get(value, member, &inner))
        value = inner;
    else if (kind == ENTRY_GROUPS && smar_json_kind_of(value) != SMAR_JSON_ARRAY)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: no \"secret_groups\" member", where);
    if (kind == ENTRY_GROUPS)
        return smar_export_set_part(ex, &ex->groups, &ex->have_groups, value, where);
    return smar_export_set_part(ex, &ex->configurations, &ex->have_configurations, value, where);
}

static int load_document_file(smar_export *ex, entry_kind kind, smar_span text, const char *where)
{
    if (kind == ENTRY_INSTANCE)
        return load_instance(ex, text, where);
    return load_part(ex, kind, text, where);
}

/* A secrets/<stem>.json file: one object whose "id" is the stem. */
static int check_secret(smar_export *ex, smar_span text, const char *stem, const char *where,
                        smar_span *secret)
{
    int rc = smar_export_validate(ex, text, 1, where, secret);
    if (rc != SMAR_OK)
        return rc;
    if (smar_json_kind_of(*secret) != SMAR_JSON_OBJECT)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: not a JSON object", where);
    smar_span id;
    if (!smar_json_get(*secret, "id", &id) || smar_json_kind_of(id) != SMAR_JSON_STRING)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: the secret has no \"id\" string", where);
    if (!smar_json_string_eq(id, stem))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: the secret's \"id\" does not match the file name", where);
    return SMAR_OK;
}

static int too_large(smar_export *ex, const char *where, size_t limit)
{
    return smar_fail(&ex->err, SMAR_E_LIMIT, "%s: larger than the limit of %zu bytes", where,
                     limit);
}

static int document_too_large(smar_export *ex, const char *where)
{
    return smar_fail(&ex->err, SMAR_E_LIMIT,
                     "%s: the document members (all but the secrets) are larger than %zu bytes",
                     where, ex->max_document);
}

/* ---- the directory layout ------------------------------------------------------------------ */

/* What a file that should be a regular one is instead, for messages. */
static const char *special_file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "a special file";
}

/* Open a file of the export for reading without ever blocking: O_NONBLOCK, so a FIFO (or a
 * device) planted in the folder cannot hang the open, and O_NOFOLLOW, so a link planted
 * there cannot make smar read (and archive) a file from elsewhere on the system. Anything
 * but a regular file is refused before a byte is read. Returns the descriptor, -1 when the
 * file does not exist and is optional (*rc SMAR_OK), or -1 with *rc set. */
static int open_regular_file(smar_export *ex, const char *path, bool optional, off_t *size, int *rc)
{
    *rc = SMAR_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        if (optional && errno == ENOENT)
            return -1;
        *rc = errno == ELOOP
                  ? smar_fail(
                        &ex->err, SMAR_E_INPUT,
                        "%s: not a regular file (a symbolic link, not followed in a folder export)",
                        path)
                  : smar_fail(&ex->err, SMAR_E_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        *rc = smar_fail(&ex->err, SMAR_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        *rc = smar_fail(&ex->err, SMAR_E_INPUT, "%s: not a regular file (%s)", path,
                        special_file_kind(st.st_mode));
    /* A regular file reads the same either way; blocking reads keep the loop below simple. */
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        *rc = smar_fail(&ex->err, SMAR_E_IO, "%s: cannot read: %s", path, strerror(errno));
    if (*rc != SMAR_OK) {
        (void)close(fd);
        return -1;
    }
    *size = st.st_size;
    return fd;
}

/* Read a whole regular file into tr->file, at most limit bytes. *found is false (and the
 * result SMAR_OK) when the file does not exist and it is optional. */
static int read_disk_file(smar_export *ex, smar_export_tree *tr, const char *path, size_t limit,
                          bool optional, bool *found)
{
    int rc = SMAR_OK;
    *found = false;
    smar_buf_reset(&tr->file);
    off_t size = 0;
    int fd = open_regular_file(ex, path, optional, &size, &rc);
    if (fd < 0)
        return rc;
    if ((uint64_t)size > limit) {
        rc = too_large(ex, path, limit);
        goto done;
    }
    /* Read what fstat() announced plus one byte, so a file that grew after fstat() is
     * seen (and still caught by the limit); only what is asked for can be written, and
     * only that is wiped afterwards. */
    size_t ask = (size_t)size + 1;
    for (;;) {
        if (smar_buf_reserve(&tr->file, ask) != SMAR_OK) {
            rc = smar_export_nomem(ex);
            goto done;
        }
        smar_export_note_buffer(ex, tr->file.cap);
        ssize_t n = read(fd, tr->file.data + tr->file.len, ask);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = smar_fail(&ex->err, SMAR_E_IO, "%s: read error: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        tr->file.len += (size_t)n;
        if (tr->file.len > limit) {
            rc = too_large(ex, path, limit);
            goto done;
        }
        ask = (size_t)n < ask ? ask - (size_t)n : SMAR_EXPORT_READ_CHUNK;
    }
    *found = true;
done:
    (void)close(fd);
    return rc;
}

static bool file_exists(const char *dir, const char *name)
{
    char *path = path_join(dir, name);
    struct stat st;
    bool ok = path != NULL && stat(path, &st) == 0;
    free(path);
    return ok;
}

/* The directory itself, or its one sub-directory, must hold instance.json. */
static int find_dir_root(smar_export *ex, smar_export_tree *tr, const char *path)
{
    if (file_exists(path, "instance.json")) {
        tr->root = strdup(path);
        return tr->root != NULL ? SMAR_OK : smar_export_nomem(ex);
    }
    DIR *d = opendir(path);
    if (d == NULL)
        return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot read: %s", path, strerror(errno));
    char *only = NULL;
    size_t entries = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || is_junk_name(n, strlen(n)))
            continue;
        if (++entries == 1)
            only = path_join(path, n);
    }
    (void)closedir(d);
    if (entries == 1 && only != NULL && file_exists(only, "instance.json")) {
        tr->root = only;
        return SMAR_OK;
    }
    free(only);
    if (entries == 1 && only == NULL)
        return smar_export_nomem(ex);
    return smar_fail(&ex->err, SMAR_E_INPUT, "%s: no instance.json: not an instance export", path);
}

static int load_dir_file(smar_export *ex, smar_export_tree *tr, const char *name, entry_kind kind)
{
    char *path = path_join(tr->root, name);
    if (path == NULL)
        return smar_export_nomem(ex);
    bool found;
    int rc = read_disk_file(ex, tr, path, ex->max_document, kind != ENTRY_INSTANCE, &found);
    if (rc == SMAR_E_LIMIT)
        rc = document_too_large(ex, path);
    if (rc == SMAR_OK && found) {
        smar_span text = {(const char *)tr->file.data, tr->file.len};
        rc = load_document_file(ex, kind, text, path);
    }
    smar_buf_reset(&tr->file);
    free(path);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_secret_name(smar_export *ex, smar_export_tree *tr, const char *dir, const char *name)
{
    if (!has_json_stem(name, strlen(name)))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s/%s: unexpected file: only <id>.json files belong in secrets/", dir,
                         name);
    if (tr->count == tr->cap) {
        size_t cap = tr->cap == 0 ? 64 : tr->cap * 2;
        char **grown =
            cap < SIZE_MAX / sizeof *grown ? realloc(tr->names, cap * sizeof *grown) : NULL;
        if (grown == NULL)
            return smar_export_nomem(ex);
        tr->names = grown;
        tr->cap = cap;
    }
    tr->names[tr->count] = strdup(name);
    if (tr->names[tr->count] == NULL)
        return smar_export_nomem(ex);
    tr->count++;
    return SMAR_OK;
}

/* List secrets/ in name order, so that every run reads the secrets in the same order. */
static int list_secrets_dir(smar_export *ex, smar_export_tree *tr)
{
    int rc = SMAR_OK;
    char *dir = path_join(tr->root, "secrets");
    if (dir == NULL)
        return smar_export_nomem(ex);
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT)
            rc = smar_fail(&ex->err, errno == ENOTDIR ? SMAR_E_INPUT : SMAR_E_IO,
                           "%s: cannot read: %s", dir, strerror(errno));
        goto done;
    }
    struct dirent *de;
    while (rc == SMAR_OK && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || is_junk_name(n, strlen(n)))
            continue;
        rc = add_secret_name(ex, tr, dir, n);
    }
    (void)closedir(d);
    if (rc == SMAR_OK && tr->count > 1)
        qsort(tr->names, tr->count, sizeof *tr->names, compare_names);
done:
    free(dir);
    return rc;
}

int smar_export_tree_open_dir(smar_export *ex, const char *path)
{
    smar_export_tree *tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        return smar_export_nomem(ex);
    tr->file.secure = true;
    ex->tree = tr;
    int rc = find_dir_root(ex, tr, path);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "instance.json", ENTRY_INSTANCE);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "secret_groups.json", ENTRY_GROUPS);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "configurations.json", ENTRY_CONFIGURATIONS);
    if (rc == SMAR_OK)
        rc = list_secrets_dir(ex, tr);
    return rc;
}

static int dir_next(smar_export *ex, smar_export_tree *tr, smar_span *secret)
{
    if (tr->next >= tr->count)
        return SMAR_DONE;
    int rc = SMAR_OK;
    const char *name = tr->names[tr->next++];
    char *stem = strndup(name, strlen(name) - strlen(JSON_SUFFIX));
    char *dir = path_join(tr->root, "secrets");
    char *path = dir != NULL ? path_join(dir, name) : NULL;
    if (stem == NULL || path == NULL) {
        rc = smar_export_nomem(ex);
        goto done;
    }
    smar_export_set_location(ex, "%s", path);
    bool found;
    rc = read_disk_file(ex, tr, path, ex->max_secret, false, &found);
    if (rc == SMAR_OK) {
        smar_span text = {(const char *)tr->file.data, tr->file.len};
        rc = check_secret(ex, text, stem, path, secret);
    }
done:
    free(stem);
    free(dir);
    free(path);
    return rc;
}

/* ---- archives ------------------------------------------------------------------------------- */

/* Non-seekable input: the bytes already peeked at come first, then the descriptor. */
static la_ssize_t read_window(struct archive *a, void *data, const void **buf)
{
    smar_export *ex = data;
    smar_export_src *s = &ex->src;
    s->keep = s->pos;
    if (s->pos >= s->win.len) {
        int rc = smar_export_src_fill(ex);
        if (rc < 0) {
            ex->tree->read_failed = true;
            archive_set_error(a, EIO, "read error");
            return ARCHIVE_FATAL;
        }
        if (rc == 0)
            return 0;
    }
    *buf = s->win.data + s->pos;
    size_t n = s->win.len - s->pos;
    s->pos = s->win.len;
    return (la_ssize_t)n;
}

static int archive_failure(smar_export *ex, smar_export_tree *tr, const char *what)
{
    if (tr->read_failed)
        return ex->err.code;
    const char *msg = archive_error_string(tr->ar);
    int code = archive_errno(tr->ar) == EIO ? SMAR_E_IO : SMAR_E_INPUT;
    return smar_fail(&ex->err, code, "%s: %s: %s", ex->name, what,
                     msg != NULL ? msg : "unreadable archive");
}

static void close_archive(smar_export_tree *tr)
{
    if (tr->ar != NULL)
        (void)archive_read_free(tr->ar);
    tr->ar = NULL;
}

/* Only tar and zip, and only decompressors built into libarchive or run as fixed programs:
 * formats like mtree could make libarchive read other files from disk. */
static int start_archive(smar_export *ex, smar_export_tree *tr)
{
    close_archive(tr);
    tr->ar = archive_read_new();
    if (tr->ar == NULL)
        return smar_export_nomem(ex);
    int (*const setup[])(struct archive *) = {
        archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz,   archive_read_support_filter_lzma,
        archive_read_support_filter_zstd, archive_read_support_format_tar,
        archive_read_support_format_zip,
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(setup); i++)
        if (setup[i](tr->ar) < ARCHIVE_WARN)
            return archive_failure(ex, tr, "cannot set up the archive reader");
    int r;
    if (tr->seekable) {
        if (lseek(ex->src.fd, 0, SEEK_SET) != 0)
            return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot seek: %s", ex->name, strerror(errno));
        r = archive_read_open_fd(tr->ar, ex->src.fd, SMAR_EXPORT_READ_CHUNK);
    } else {
        r = archive_read_open(tr->ar, ex, NULL, read_window, NULL);
    }
    if (r < ARCHIVE_WARN)
        return archive_failure(ex, tr, "not a recognisable export (neither JSON nor tar/zip)");
    tr->headers = 0;
    tr->cur_ae = NULL;
    return SMAR_OK;
}

static void clear_entry(tree_entry *e)
{
    free(e->name);
    free(e->stem);
    e->name = NULL;
    e->stem = NULL;
    e->kind = ENTRY_IGNORE;
}

/* Where the layout starts in path: 0, or after a top folder. SIZE_MAX: not the layout. */
static size_t layout_start(const char *path)
{
    if (is_layout_path(path))
        return 0;
    const char *slash = strchr(path, '/');
    if (slash != NULL && is_layout_path(slash + 1))
        return (size_t)(slash + 1 - path);
    return SIZE_MAX;
}

/* Every file of the export must sit under the same top folder. */
static int check_top(smar_export *ex, smar_export_tree *tr, const char *path, size_t top_len)
{
    if (tr->top == NULL) {
        tr->top = strndup(path, top_len);
        return tr->top != NULL ? SMAR_OK : smar_export_nomem(ex);
    }
    if (strlen(tr->top) != top_len || memcmp(tr->top, path, top_len) != 0)
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: %s: the archive holds files of more than one export folder", ex->name,
                         path);
    return SMAR_OK;
}

static int classify_secret(smar_export *ex, tree_entry *e, const char *rel)
{
    const char *file = rel + strlen(SECRETS_DIR);
    size_t n = strlen(file);
    if (strchr(file, '/') != NULL || !has_json_stem(file, n))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: %s: unexpected entry: only <id>.json files belong in secrets/",
                         ex->name, e->name);
    e->stem = strndup(file, n - strlen(JSON_SUFFIX));
    if (e->stem == NULL)
        return smar_export_nomem(ex);
    e->kind = ENTRY_SECRET;
    return SMAR_OK;
}

/* Decide what an entry is, in tr->cur. */
static int classify_entry(smar_export *ex, smar_export_tree *tr, struct archive_entry *ae)
{
    tree_entry *e = &tr->cur;
    clear_entry(e);
    const char *raw = archive_entry_pathname(ae);
    if (raw == NULL)
        raw = archive_entry_pathname_utf8(ae);
    if (raw == NULL)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: an entry has an unreadable name", ex->name);
    e->name = strdup(raw);
    if (e->name == NULL)
        return smar_export_nomem(ex);
    /* tar(1) writes "./x"; some tools write "/x". */
    const char *path = e->name;
    while (path[0] == '/' || (path[0] == '.' && path[1] == '/'))
        path += path[0] == '/' ? 1 : 2;
    if (archive_entry_filetype(ae) == AE_IFDIR || is_junk_path(path))
        return SMAR_OK;
    size_t start = layout_start(path);
    if (start == SIZE_MAX)
        return SMAR_OK;
    int rc = check_top(ex, tr, path, start);
    if (rc != SMAR_OK)
        return rc;
    const char *rel = path + start;
    if (archive_entry_filetype(ae) != AE_IFREG)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: %s: not a regular file", ex->name, e->name);
    if (strncmp(rel, SECRETS_DIR, strlen(SECRETS_DIR)) == 0)
        return classify_secret(ex, e, rel);
    e->kind = kind_of_document_file(rel);
    if (e->kind == ENTRY_IGNORE) /* a plain file named "secrets" */
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: %s: unexpected entry", ex->name, e->name);
    return SMAR_OK;
}

/* Read the current entry's data into tr->file, at most limit bytes. */
static int read_entry(smar_export *ex, smar_export_tree *tr, struct archive_entry *ae, size_t limit,
                      const char *where)
{
    smar_buf_reset(&tr->file);
    if (archive_entry_size_is_set(ae) && (uint64_t)archive_entry_size(ae) > limit)
        return too_large(ex, where, limit);
    for (;;) {
        if (smar_buf_reserve(&tr->file, SMAR_EXPORT_READ_CHUNK) != SMAR_OK)
            return smar_export_nomem(ex);
        smar_export_note_buffer(ex, tr->file.cap);
        size_t room = smar_buf_room(&tr->file);
        size_t left = limit + 1 - tr->file.len; /* one more than allowed shows an excess */
        la_ssize_t n =
            archive_read_data(tr->ar, tr->file.data + tr->file.len, room < left ? room : left);
        if (n < 0)
            return archive_failure(ex, tr, where);
        if (n == 0)
            return SMAR_OK;
        tr->file.len += (size_t)n;
        if (tr->file.len > limit)
            return too_large(ex, where, limit);
    }
}

/* Read the next header; SMAR_DONE at the end of the archive. */
static int next_entry(smar_export *ex, smar_export_tree *tr, struct archive_entry **ae)
{
    int r = archive_read_next_header(tr->ar, ae);
    if (r == ARCHIVE_EOF)
        return SMAR_DONE;
    if (r < ARCHIVE_WARN)
        return archive_failure(ex, tr,
                               tr->headers == 0
                                   ? "not a recognisable export (neither JSON nor tar/zip)"
                                   : "cannot read the archive");
    tr->headers++;
    tr->cur_ae = *ae;
    return SMAR_OK;
}

/* The document files of the current entry. The instance.json loaded by a first pass is
 * passed over once in the second. */
static int take_document_file(smar_export *ex, smar_export_tree *tr, struct archive_entry *ae)
{
    tree_entry *e = &tr->cur;
    char where[SMAR_ERRMSG_MAX];
    (void)snprintf(where, sizeof where, "%s: %s", ex->name, e->name);
    if (e->kind == ENTRY_INSTANCE && tr->have_instance) {
        if (tr->seekable && !tr->passed_instance) {
            tr->passed_instance = true;
            return SMAR_OK;
        }
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: appears twice in the export", where);
    }
    int rc = read_entry(ex, tr, ae, ex->max_document, where);
    if (rc == SMAR_E_LIMIT)
        rc = document_too_large(ex, where);
    if (rc == SMAR_OK) {
        smar_span text = {(const char *)tr->file.data, tr->file.len};
        rc = load_document_file(ex, e->kind, text, where);
    }
    if (rc == SMAR_OK && e->kind == ENTRY_INSTANCE)
        tr->have_instance = true;
    smar_buf_reset(&tr->file);
    return rc;
}

/* Go through entries, loading document files, until a secret's header (left pending) or
 * the end of the archive. */
static int advance_to_secret(smar_export *ex, smar_export_tree *tr)
{
    for (;;) {
        struct archive_entry *ae;
        int rc = next_entry(ex, tr, &ae);
        if (rc == SMAR_DONE) {
            tr->at_end = true;
            return SMAR_OK;
        }
        if (rc == SMAR_OK)
            rc = classify_entry(ex, tr, ae);
        if (rc != SMAR_OK)
            return rc;
        if (tr->cur.kind == ENTRY_SECRET) {
            tr->pending = true;
            return SMAR_OK;
        }
        if (tr->cur.kind != ENTRY_IGNORE) {
            rc = take_document_file(ex, tr, ae);
            if (rc != SMAR_OK)
                return rc;
        }
    }
}

/* First pass over a regular file: only instance.json is read, so "exported_at" is known
 * before any secret. Entries are classified as in the second pass, so the top folder and
 * the errors are the same as when reading in one pass. */
static int first_pass(smar_export *ex, smar_export_tree *tr)
{
    int rc = start_archive(ex, tr);
    while (rc == SMAR_OK && !tr->have_instance) {
        struct archive_entry *ae;
        rc = next_entry(ex, tr, &ae);
        if (rc == SMAR_DONE)
            return smar_fail(&ex->err, SMAR_E_INPUT, "%s: no instance.json in the archive",
                             ex->name);
        if (rc == SMAR_OK)
            rc = classify_entry(ex, tr, ae);
        if (rc == SMAR_OK && tr->cur.kind == ENTRY_INSTANCE)
            rc = take_document_file(ex, tr, ae);
    }
    return rc;
}

int smar_export_tree_open_archive(smar_export *ex, bool seekable)
{
    smar_export_tree *tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        return smar_export_nomem(ex);
    tr->file.secure = true;
    tr->seekable = seekable;
    ex->tree = tr;
    int rc = seekable ? first_pass(ex, tr) : SMAR_OK;
    if (rc == SMAR_OK)
        rc = start_archive(ex, tr);
    if (rc == SMAR_OK)
        rc = advance_to_secret(ex, tr);
    return rc;
}

static int archive_next(smar_export *ex, smar_export_tree *tr, smar_span *secret)
{
    if (!tr->pending && !tr->at_end) {
        int rc = advance_to_secret(ex, tr);
        if (rc != SMAR_OK)
            return rc;
    }
    if (tr->at_end) {
        if (!tr->have_instance)
            return smar_fail(&ex->err, SMAR_E_INPUT, "%s: no instance.json in the archive",
                             ex->name);
        return SMAR_DONE;
    }
    tr->pending = false;
    char where[SMAR_ERRMSG_MAX];
    (void)snprintf(where, sizeof where, "%s: %s", ex->name, tr->cur.name);
    smar_export_set_location(ex, "%s", where);
    int rc = read_entry(ex, tr, tr->cur_ae, ex->max_secret, where);
    if (rc != SMAR_OK)
        return rc;
    smar_span text = {(const char *)tr->file.data, tr->file.len};
    return check_secret(ex, text, tr->cur.stem, where, secret);
}

int smar_export_tree_next(smar_export *ex, smar_span *secret)
{
    smar_export_tree *tr = ex->tree;
    if (ex->layout == SMAR_LAYOUT_DIRECTORY)
        return dir_next(ex, tr, secret);
    return archive_next(ex, tr, secret);
}

void smar_export_tree_free(smar_export_tree *tr)
{
    if (tr == NULL)
        return;
    close_archive(tr);
    for (size_t i = 0; i < tr->count; i++)
        free(tr->names[i]);
    free(tr->names);
    free(tr->root);
    free(tr->top);
    clear_entry(&tr->cur);
    smar_buf_free(&tr->file);
    free(tr);
}
