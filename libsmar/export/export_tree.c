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
 * and the folder tree that `smar extract --format dir|tar` writes (tools/extract_dir.c),
 * beside or instead of secrets/:
 *
 *   <group>/<type>/<name>--<id>/secret.json                    the secret without versions
 *   <group>/<type>/<name>--<id>/versions/<NNNN>--<...>.json    its versions, NNNN = position
 *
 * The files may sit under one top folder. Files with other names are ignored, as is the
 * junk of desktop archivers (._*, .DS_Store, __MACOSX/); anything under secrets/ that is not
 * <id>.json, and any file of the folder tree out of place, is an error, since it could be a
 * secret that would silently go missing. In a tar or zip, the entries of one secret folder
 * come one after the other (as tar(1) and zip(1) write a folder), in any order.
 */
#include "export_in.h"
#include "lazy_archive.h"

#include <ctype.h>
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
    ENTRY_TREE_META,         /* <folder>/secret.json */
    ENTRY_TREE_VERSION,      /* <folder>/versions/<position>--...json */
    ENTRY_TREE_VERSIONS_DIR, /* <folder>/versions itself */
} entry_kind;

/* The archive entry being looked at. */
typedef struct tree_entry {
    char *name; /* full path inside the archive */
    entry_kind kind;
    char *stem;      /* ENTRY_SECRET: the file name without ".json", which must be the id */
    char *folder;    /* ENTRY_TREE_*: the secret folder's path (with the top folder) */
    size_t position; /* ENTRY_TREE_VERSION: the position in the file name */
} tree_entry;

/* A file of the secret folder being read: secret.json (position 0) or a version. */
typedef struct tree_part {
    size_t position;
    size_t off, len; /* its validated JSON value in parts */
} tree_part;

struct smar_export_tree {
    smar_buf file; /* the file or entry being read; secure: secrets pass through */
    /* directory */
    char *root;   /* the directory holding instance.json */
    char **names; /* secrets/ file names, sorted */
    size_t count;
    size_t cap;
    size_t next;
    char **folders; /* the folder tree's secret folders, relative to root, sorted */
    size_t nfolders, folders_cap, next_folder;
    /* the secret folder being read (directory and archive) */
    smar_buf parts; /* its files' texts; secure: payloads */
    tree_part *part;
    size_t nparts, parts_cap;
    bool have_versions; /* versions/ exists: the secret has "versions" */
    smar_buf assembled; /* the secret object built from them; secure */
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
                        smar_file_kind(st.st_mode));
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

/* The members of a validated object value, without braces and outer blanks. */
static bool object_inner(smar_span object, smar_span *inner)
{
    size_t a = 0, z = object.n;
    if (z < 2 || object.p[0] != '{' || object.p[z - 1] != '}')
        return false;
    a++;
    z--;
    while (a < z && strchr(" \t\r\n", object.p[a]) != NULL)
        a++;
    while (z > a && strchr(" \t\r\n", object.p[z - 1]) != NULL)
        z--;
    *inner = (smar_span){object.p + a, z - a};
    return true;
}

/* ---- the folder tree of `smar extract --format dir|tar` ------------------------------------ */

/*
 * <group>/<type>/<secret folder>/secret.json and .../versions/<NNNN>--<anything>.json: the
 * secret object is secret.json's members, then "versions" with the version files in the
 * order of their position NNNN (when versions/ exists: an empty one is "versions": []).
 * The secret folder's name ends in its id, percent-encoded, after its last "--" (or is the
 * id alone); the "id" in secret.json must be that id, so a file moved to another secret's
 * folder is an error, not a quiet change.
 */
static const char *const TREE_META = "secret.json";
static const char *const TREE_VERSIONS = "versions";
#define TREE_POSITION_MAX 9999999u

static bool is_hidden_name(const char *name)
{
    return name[0] == '.' || is_junk_name(name, strlen(name));
}

/* "<position>--<anything>.json" with a position of 1 to TREE_POSITION_MAX. */
static bool parse_version_name(const char *name, size_t *position)
{
    size_t n = strlen(name), pos = 0, i = 0;
    for (; name[i] >= '0' && name[i] <= '9'; i++) {
        pos = pos * 10 + (size_t)(name[i] - '0');
        if (pos > TREE_POSITION_MAX)
            return false;
    }
    *position = pos;
    return i > 0 && pos > 0 && strncmp(name + i, "--", 2) == 0 && has_json_stem(name, n);
}

static void tree_reset(smar_export_tree *tr)
{
    smar_buf_reset(&tr->parts);
    tr->nparts = 0;
    tr->have_versions = false;
}

static bool tree_has_position(const smar_export_tree *tr, size_t position)
{
    for (size_t i = 0; i < tr->nparts; i++)
        if (tr->part[i].position == position)
            return true;
    return false;
}

/* Take one file of the secret folder (position 0: secret.json), validated, into tr->parts. */
static int tree_add_part(smar_export *ex, smar_export_tree *tr, size_t position, smar_span text,
                         const char *where)
{
    smar_span value, unused;
    int rc = smar_export_validate(ex, text, 1, where, &value);
    if (rc != SMAR_OK)
        return rc;
    if (smar_json_kind_of(value) != SMAR_JSON_OBJECT)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: not a JSON object", where);
    if (position == 0 && smar_json_get(value, "versions", &unused))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: has a \"versions\" member; versions belong in versions/", where);
    if (tree_has_position(tr, position))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         position == 0 ? "%s: a second secret.json for one secret folder"
                                       : "%s: a second version file with the same position",
                         where);
    if (value.n > ex->max_secret - tr->parts.len)
        return too_large(ex, where, ex->max_secret);
    if (tr->nparts == tr->parts_cap) {
        size_t cap = tr->parts_cap == 0 ? 16 : tr->parts_cap * 2;
        tree_part *grown = realloc(tr->part, cap * sizeof *grown);
        if (grown == NULL)
            return smar_export_nomem(ex);
        tr->part = grown;
        tr->parts_cap = cap;
    }
    tr->part[tr->nparts++] = (tree_part){position, tr->parts.len, value.n};
    if (smar_buf_append(&tr->parts, value.p, value.n) != SMAR_OK)
        return smar_export_nomem(ex);
    smar_export_note_buffer(ex, tr->parts.cap);
    return SMAR_OK;
}

static int compare_parts(const void *a, const void *b)
{
    size_t pa = ((const tree_part *)a)->position, pb = ((const tree_part *)b)->position;
    return pa < pb ? -1 : pa > pb;
}

/* Percent-decode the id part of a secret folder's name (after its last "--"). */
static char *folder_id(const char *folder)
{
    const char *base = strrchr(folder, '/');
    base = base != NULL ? base + 1 : folder;
    for (const char *p = base; (p = strstr(p, "--")) != NULL; p++)
        base = p + 2;
    char *id = malloc(strlen(base) + 1);
    if (id == NULL)
        return NULL;
    size_t n = 0;
    for (const char *p = base; *p != '\0'; p++) {
        unsigned v;
        if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
            sscanf(p + 1, "%2x", &v) == 1) {
            id[n++] = (char)v;
            p += 2;
        } else {
            id[n++] = *p;
        }
    }
    id[n] = '\0';
    return id;
}

static int check_folder_id(smar_export *ex, smar_span meta, const char *folder, const char *where)
{
    smar_span id;
    if (!smar_json_get(meta, "id", &id) || smar_json_kind_of(id) != SMAR_JSON_STRING)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: the secret has no \"id\" string", where);
    char *expected = folder_id(folder);
    if (expected == NULL)
        return smar_export_nomem(ex);
    bool same = smar_json_string_eq(id, expected);
    free(expected);
    if (!same)
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: the secret's \"id\" does not match its folder's name", where);
    return SMAR_OK;
}

static int append_all(smar_buf *b, const char *p, size_t n, int *rc)
{
    if (*rc == SMAR_OK && smar_buf_append(b, p, n) != SMAR_OK)
        *rc = SMAR_E_NOMEM;
    return *rc;
}

/* The secret object from the parts collected for folder: secret.json's members, then
 * "versions" in position order. */
static int tree_assemble(smar_export *ex, smar_export_tree *tr, const char *folder,
                         const char *where, smar_span *secret)
{
    if (tr->nparts > 1)
        qsort(tr->part, tr->nparts, sizeof *tr->part, compare_parts);
    if (tr->nparts == 0 || tr->part[0].position != 0)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: no secret.json in the secret folder", where);
    const char *base = (const char *)tr->parts.data;
    smar_span meta = {base + tr->part[0].off, tr->part[0].len};
    int rc = check_folder_id(ex, meta, folder, where);
    if (rc != SMAR_OK)
        return rc;
    smar_span inner; /* the members, without braces and blanks */
    if (!object_inner(meta, &inner))
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: not a JSON object", where);
    smar_buf *b = &tr->assembled;
    smar_buf_reset(b);
    append_all(b, "{", 1, &rc);
    append_all(b, inner.p, inner.n, &rc);
    if (tr->have_versions || tr->nparts > 1) {
        if (inner.n > 0)
            append_all(b, ",", 1, &rc);
        append_all(b, "\"versions\":[", strlen("\"versions\":["), &rc);
        for (size_t i = 1; i < tr->nparts; i++) {
            if (i > 1)
                append_all(b, ",", 1, &rc);
            append_all(b, base + tr->part[i].off, tr->part[i].len, &rc);
        }
        append_all(b, "]", 1, &rc);
    }
    append_all(b, "}", 1, &rc);
    if (rc != SMAR_OK)
        return smar_export_nomem(ex);
    smar_export_note_buffer(ex, b->cap);
    *secret = (smar_span){(const char *)b->data, b->len};
    return SMAR_OK;
}

/* ---- the folder tree on disk ---- */

static int push_folder(smar_export *ex, smar_export_tree *tr, char *rel)
{
    if (rel == NULL)
        return smar_export_nomem(ex);
    if (tr->nfolders == tr->folders_cap) {
        size_t cap = tr->folders_cap == 0 ? 64 : tr->folders_cap * 2;
        char **grown =
            cap < SIZE_MAX / sizeof *grown ? realloc(tr->folders, cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            free(rel);
            return smar_export_nomem(ex);
        }
        tr->folders = grown;
        tr->folders_cap = cap;
    }
    tr->folders[tr->nfolders++] = rel;
    return SMAR_OK;
}

/* Whether path/name is a folder (a symbolic link is not followed: it is not one). */
static int is_folder_at(smar_export *ex, const char *dir, const char *name, bool *is_dir)
{
    char *path = path_join(dir, name);
    if (path == NULL)
        return smar_export_nomem(ex);
    struct stat st;
    int rc = SMAR_OK;
    if (lstat(path, &st) != 0)
        rc = smar_fail(&ex->err, SMAR_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    *is_dir = rc == SMAR_OK && S_ISDIR(st.st_mode);
    free(path);
    return rc;
}

static int walk_tree(smar_export *ex, smar_export_tree *tr, const char *rel, int depth);

/* A folder met at depth: a group or type to walk, or (at depth 2) a secret folder. */
static int enter_tree_folder(smar_export *ex, smar_export_tree *tr, const char *rel,
                             const char *name, int depth)
{
    char *sub = depth == 0 ? strdup(name) : path_join(rel, name);
    if (depth == 2)
        return push_folder(ex, tr, sub);
    if (sub == NULL)
        return smar_export_nomem(ex);
    int rc = walk_tree(ex, tr, sub, depth + 1);
    free(sub);
    return rc;
}

/*
 * Collect the secret folders below rel (depth 0: the root, 1: a group, 2: a type). The
 * root's files are the document's (others are ignored, as is secrets/, the other layout);
 * a group or type folder holds only folders: a file there could be a secret put in the
 * wrong place, which must not go missing without a word.
 */
static int walk_tree(smar_export *ex, smar_export_tree *tr, const char *rel, int depth)
{
    char *dir = depth == 0 ? strdup(tr->root) : path_join(tr->root, rel);
    if (dir == NULL)
        return smar_export_nomem(ex);
    int rc = SMAR_OK;
    DIR *d = opendir(dir);
    if (d == NULL) {
        rc = smar_fail(&ex->err, SMAR_E_IO, "%s: cannot read: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    struct dirent *de;
    while (rc == SMAR_OK && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        bool is_dir = false;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || is_hidden_name(n) ||
            (depth == 0 && strcmp(n, "secrets") == 0))
            continue;
        rc = is_folder_at(ex, dir, n, &is_dir);
        if (rc != SMAR_OK || (!is_dir && depth == 0))
            continue;
        if (!is_dir)
            rc = smar_fail(&ex->err, SMAR_E_INPUT,
                           "%s/%s: unexpected file: the folder tree holds "
                           "<group>/<type>/<secret folder>/ only",
                           dir, n);
        else
            rc = enter_tree_folder(ex, tr, rel, n, depth);
    }
    (void)closedir(d);
    free(dir);
    return rc;
}

/* Read one file of the secret folder on disk into the parts. */
static int read_tree_file(smar_export *ex, smar_export_tree *tr, const char *dir, const char *name,
                          size_t position)
{
    char *path = path_join(dir, name);
    if (path == NULL)
        return smar_export_nomem(ex);
    bool found;
    int rc = read_disk_file(ex, tr, path, ex->max_secret, false, &found);
    if (rc == SMAR_OK) {
        smar_span text = {(const char *)tr->file.data, tr->file.len};
        rc = tree_add_part(ex, tr, position, text, path);
    }
    smar_buf_reset(&tr->file);
    free(path);
    return rc;
}

/* Every file of versions/, each named <position>--...json. */
static int read_versions_dir(smar_export *ex, smar_export_tree *tr, const char *folder)
{
    char *dir = path_join(folder, TREE_VERSIONS);
    if (dir == NULL)
        return smar_export_nomem(ex);
    int rc = SMAR_OK;
    DIR *d = opendir(dir);
    if (d == NULL) {
        rc = smar_fail(&ex->err, errno == ENOTDIR ? SMAR_E_INPUT : SMAR_E_IO, "%s: cannot read: %s",
                       dir, strerror(errno));
        free(dir);
        return rc;
    }
    tr->have_versions = true;
    struct dirent *de;
    while (rc == SMAR_OK && (de = readdir(d)) != NULL) {
        size_t position;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            is_hidden_name(de->d_name))
            continue;
        if (!parse_version_name(de->d_name, &position))
            rc = smar_fail(&ex->err, SMAR_E_INPUT,
                           "%s/%s: unexpected file: only <position>--...json files belong in "
                           "versions/",
                           dir, de->d_name);
        else
            rc = read_tree_file(ex, tr, dir, de->d_name, position);
    }
    (void)closedir(d);
    free(dir);
    return rc;
}

/* A secret folder holds secret.json and, when the secret has "versions", versions/. */
static int read_secret_folder(smar_export *ex, smar_export_tree *tr, const char *folder)
{
    DIR *d = opendir(folder);
    if (d == NULL)
        return smar_fail(&ex->err, SMAR_E_IO, "%s: cannot read: %s", folder, strerror(errno));
    int rc = SMAR_OK;
    bool versions = false;
    struct dirent *de;
    while (rc == SMAR_OK && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || is_hidden_name(n))
            continue;
        if (strcmp(n, TREE_VERSIONS) == 0)
            versions = true;
        else if (strcmp(n, TREE_META) != 0)
            rc = smar_fail(&ex->err, SMAR_E_INPUT,
                           "%s/%s: unexpected entry: a secret folder holds secret.json and "
                           "versions/ only",
                           folder, n);
    }
    (void)closedir(d);
    if (rc == SMAR_OK)
        rc = read_tree_file(ex, tr, folder, TREE_META, 0);
    if (rc == SMAR_OK && versions)
        rc = read_versions_dir(ex, tr, folder);
    return rc;
}

static int dir_next_folder(smar_export *ex, smar_export_tree *tr, smar_span *secret)
{
    const char *rel = tr->folders[tr->next_folder++];
    char *folder = path_join(tr->root, rel);
    if (folder == NULL)
        return smar_export_nomem(ex);
    smar_export_set_location(ex, "%s", folder);
    tree_reset(tr);
    int rc = read_secret_folder(ex, tr, folder);
    if (rc == SMAR_OK)
        rc = tree_assemble(ex, tr, folder, folder, secret);
    free(folder);
    return rc;
}

/* A new tree reader on ex: its buffers hold secrets, so they are wiped. */
static smar_export_tree *tree_new(smar_export *ex)
{
    smar_export_tree *tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        return NULL;
    tr->file.secure = true;
    tr->parts.secure = true;
    tr->assembled.secure = true;
    ex->tree = tr;
    return tr;
}

int smar_export_tree_open_dir(smar_export *ex, const char *path)
{
    smar_export_tree *tr = tree_new(ex);
    if (tr == NULL)
        return smar_export_nomem(ex);
    int rc = find_dir_root(ex, tr, path);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "instance.json", ENTRY_INSTANCE);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "secret_groups.json", ENTRY_GROUPS);
    if (rc == SMAR_OK)
        rc = load_dir_file(ex, tr, "configurations.json", ENTRY_CONFIGURATIONS);
    if (rc == SMAR_OK)
        rc = list_secrets_dir(ex, tr);
    if (rc == SMAR_OK)
        rc = walk_tree(ex, tr, "", 0);
    if (rc == SMAR_OK && tr->nfolders > 1)
        qsort(tr->folders, tr->nfolders, sizeof *tr->folders, compare_names);
    return rc;
}

static int dir_next(smar_export *ex, smar_export_tree *tr, smar_span *secret)
{
    if (tr->next >= tr->count && tr->next_folder < tr->nfolders)
        return dir_next_folder(ex, tr, secret);
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
    int loaded = smar_libarchive_load(&ex->err); /* opened on first use (lazy_archive.h) */
    if (loaded != SMAR_OK)
        return loaded;
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
    free(e->folder);
    e->name = NULL;
    e->stem = NULL;
    e->folder = NULL;
    e->position = 0;
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

/* ---- the folder tree in a tar or zip ---- */

static bool is_tree_kind(entry_kind k)
{
    return k == ENTRY_TREE_META || k == ENTRY_TREE_VERSION || k == ENTRY_TREE_VERSIONS_DIR;
}

static const char *component_before(const char *path, const char *end)
{
    while (end > path && end[-1] != '/')
        end--;
    return end;
}

/*
 * A folder-tree entry: [top/]<group>/<type>/<folder>/secret.json, .../versions/<file> or the
 * folder .../versions itself. The top folder, when not known yet, is told by the depth.
 * Anything else is left as it was (SMAR_OK, kind unchanged).
 */
static int classify_tree_entry(smar_export *ex, smar_export_tree *tr, tree_entry *e,
                               const char *path, bool is_dir)
{
    size_t ncomp = 1;
    for (const char *p = path; *p != '\0'; p++)
        ncomp += *p == '/';
    const char *last = component_before(path, path + strlen(path));
    const char *prev = last > path ? component_before(path, last - 1) : NULL;
    bool in_versions = prev != NULL && (size_t)(last - 1 - prev) == strlen(TREE_VERSIONS) &&
                       memcmp(prev, TREE_VERSIONS, strlen(TREE_VERSIONS)) == 0;
    entry_kind kind;
    size_t need; /* components below the top folder */
    if (is_dir && strcmp(last, TREE_VERSIONS) == 0)
        kind = ENTRY_TREE_VERSIONS_DIR, need = 4;
    else if (!is_dir && strcmp(last, TREE_META) == 0)
        kind = ENTRY_TREE_META, need = 4;
    else if (!is_dir && in_versions)
        kind = ENTRY_TREE_VERSION, need = 5;
    else
        return SMAR_OK;
    size_t top_len, top_comps;
    if (tr->top != NULL) {
        top_len = strlen(tr->top);
        top_comps = top_len > 0 ? 1 : 0;
    } else {
        if (is_dir) /* a bare folder does not tell where the top is */
            return SMAR_OK;
        top_comps = ncomp == need + 1 ? 1 : 0;
        top_len = top_comps ? (size_t)(strchr(path, '/') + 1 - path) : 0;
    }
    if (ncomp != need + top_comps) {
        if (is_dir)
            return SMAR_OK;
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: %s: unexpected entry: folder-tree files are "
                         "<group>/<type>/<secret folder>/secret.json and .../versions/<file>",
                         ex->name, e->name);
    }
    int rc = check_top(ex, tr, path, top_len);
    if (rc != SMAR_OK)
        return rc;
    if (kind == ENTRY_TREE_VERSION && !parse_version_name(last, &e->position))
        return smar_fail(&ex->err, SMAR_E_INPUT,
                         "%s: %s: unexpected entry: only <position>--...json files belong in "
                         "versions/",
                         ex->name, e->name);
    /* the secret folder: top and three components */
    const char *end = path + top_len;
    for (int i = 0; i < 3; i++)
        end = strchr(end, '/') + (i < 2 ? 1 : 0);
    e->folder = strndup(path, (size_t)(end - path));
    if (e->folder == NULL)
        return smar_export_nomem(ex);
    e->kind = kind;
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
    if (is_junk_path(path))
        return SMAR_OK;
    if (archive_entry_filetype(ae) == AE_IFDIR) {
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
            e->name[path - e->name + --n] = '\0';
        return classify_tree_entry(ex, tr, e, path, true);
    }
    /* The folder tree first: a type folder may be named "secrets". */
    int rc = classify_tree_entry(ex, tr, e, path, false);
    if (rc != SMAR_OK || e->kind != ENTRY_IGNORE) {
        if (rc == SMAR_OK && archive_entry_filetype(ae) != AE_IFREG)
            rc = smar_fail(&ex->err, SMAR_E_INPUT, "%s: %s: not a regular file", ex->name, e->name);
        return rc;
    }
    size_t start = layout_start(path);
    if (start == SIZE_MAX)
        return SMAR_OK;
    rc = check_top(ex, tr, path, start);
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

/* The current entry, part of the secret folder being collected. */
static int take_tree_entry(smar_export *ex, smar_export_tree *tr)
{
    tree_entry *e = &tr->cur;
    if (e->kind != ENTRY_TREE_META)
        tr->have_versions = true;
    if (e->kind == ENTRY_TREE_VERSIONS_DIR)
        return SMAR_OK;
    if (archive_entry_filetype(tr->cur_ae) != AE_IFREG)
        return smar_fail(&ex->err, SMAR_E_INPUT, "%s: %s: not a regular file", ex->name, e->name);
    char where[SMAR_ERRMSG_MAX];
    (void)snprintf(where, sizeof where, "%s: %s", ex->name, e->name);
    int rc = read_entry(ex, tr, tr->cur_ae, ex->max_secret, where);
    if (rc == SMAR_OK) {
        smar_span text = {(const char *)tr->file.data, tr->file.len};
        rc = tree_add_part(ex, tr, e->kind == ENTRY_TREE_META ? 0 : e->position, text, where);
    }
    smar_buf_reset(&tr->file);
    return rc;
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

/* An entry outside the secret being read: the first entry of a secret is left pending, a
 * document file is loaded. */
static int take_outside_entry(smar_export *ex, smar_export_tree *tr, struct archive_entry *ae)
{
    if (tr->cur.kind == ENTRY_SECRET || is_tree_kind(tr->cur.kind)) {
        tr->pending = true;
        return SMAR_OK;
    }
    if (tr->cur.kind != ENTRY_IGNORE)
        return take_document_file(ex, tr, ae);
    return SMAR_OK;
}

/* Go through entries, loading document files, until a secret's header (left pending) or
 * the end of the archive. */
static int advance_to_secret(smar_export *ex, smar_export_tree *tr)
{
    while (!tr->pending) {
        struct archive_entry *ae;
        int rc = next_entry(ex, tr, &ae);
        if (rc == SMAR_DONE) {
            tr->at_end = true;
            return SMAR_OK;
        }
        if (rc == SMAR_OK)
            rc = classify_entry(ex, tr, ae);
        if (rc == SMAR_OK)
            rc = take_outside_entry(ex, tr, ae);
        if (rc != SMAR_OK)
            return rc;
    }
    return SMAR_OK;
}

/* Read every entry of the secret folder whose first entry is pending, up to the first entry
 * of anything else (taken or left pending), and build the secret. */
static int archive_next_folder(smar_export *ex, smar_export_tree *tr, smar_span *secret)
{
    char *folder = strdup(tr->cur.folder);
    if (folder == NULL)
        return smar_export_nomem(ex);
    char where[SMAR_ERRMSG_MAX];
    (void)snprintf(where, sizeof where, "%s: %s", ex->name, folder);
    smar_export_set_location(ex, "%s", where);
    tree_reset(tr);
    int rc = take_tree_entry(ex, tr);
    while (rc == SMAR_OK) {
        struct archive_entry *ae;
        rc = next_entry(ex, tr, &ae);
        if (rc == SMAR_DONE) {
            tr->at_end = true;
            rc = SMAR_OK;
            break;
        }
        if (rc == SMAR_OK)
            rc = classify_entry(ex, tr, ae);
        if (rc != SMAR_OK || tr->cur.kind == ENTRY_IGNORE)
            continue;
        if (!is_tree_kind(tr->cur.kind) || strcmp(tr->cur.folder, folder) != 0) {
            rc = take_outside_entry(ex, tr, ae);
            break;
        }
        rc = take_tree_entry(ex, tr);
    }
    if (rc == SMAR_OK)
        rc = tree_assemble(ex, tr, folder, where, secret);
    free(folder);
    return rc;
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
    smar_export_tree *tr = tree_new(ex);
    if (tr == NULL)
        return smar_export_nomem(ex);
    tr->seekable = seekable;
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
    if (is_tree_kind(tr->cur.kind))
        return archive_next_folder(ex, tr, secret);
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
    for (size_t i = 0; i < tr->nfolders; i++)
        free(tr->folders[i]);
    free(tr->folders);
    free(tr->part);
    smar_buf_free(&tr->parts);
    smar_buf_free(&tr->assembled);
    free(tr->root);
    free(tr->top);
    clear_entry(&tr->cur);
    smar_buf_free(&tr->file);
    free(tr);
}
