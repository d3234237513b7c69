/*
 * extract_dir.c - one rendered secret as files: a folder tree on disk or a tar stream.
 *
 *   <group>/<type>/<name>--<id>/secret.json                       the secret without versions
 *   <group>/<type>/<name>--<id>/versions/<created>--<vid>.json    each version with payload
 *
 * On disk every folder is made and opened relative to its parent's descriptor with
 * O_NOFOLLOW, so neither a crafted name nor a symlink planted in the output folder can lead
 * outside it. Files are 0600, folders 0700, each file written atomically and never over an
 * existing one without --force. The tar form holds the same tree (pax, same modes).
 */
#define _GNU_SOURCE /* syncfs */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* group/type/name--id is at most 3 components; with versions/<file> at most 5. */
#define REL_MAX         (3 * (CLI_COMPONENT_MAX + 1) + 1)
#define PATH_MAX_TREE   (REL_MAX + 10 + CLI_COMPONENT_MAX + 1)
#define TAR_DEEP_LEVELS 2  /* <name>--<id>/ and its versions/ */
#define TYPE_DIRS_MAX   64 /* group/type folders kept open (dir form) */

/* An open group/type folder. Secrets come in archive order, not by folder: entering both
 * folders again for every secret was a third of the system calls of a restore. */
struct type_dir {
    char rel[2 * (CLI_COMPONENT_MAX + 1)];
    int fd;
};

struct cli_tree {
    int is_tar;
    int force;
    /* dir */
    int rootfd;
    char *root;
    cli_out pending[CLI_PENDING_MAX]; /* written, closed, waiting for the batch's sync */
    size_t npending;
    struct type_dir type_dirs[TYPE_DIRS_MAX];
    size_t ntype_dirs;
    /* tar */
    cli_out out;
    struct archive *tar;
    smar_time_ns mtime;
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

/* A decoded member name back as a JSON string literal. */
static void text_add_key(struct text *t, const char *key)
{
    text_adds(t, "\"");
    for (const char *p = key; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            text_add(t, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            text_adds(t, esc);
        } else {
            text_add(t, p, 1);
        }
    }
    text_adds(t, "\"");
}

/* ---- creating the tree -------------------------------------------------------------- */

int cli_tree_open_dir(cli_tree **out, const char *path, int force)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot make folder '%s': %s", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("cannot open folder '%s': %s", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    cli_tree *t = cli_xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->rootfd = fd;
    t->root = cli_xstrdup(path);
    t->force = force;
    *out = t;
    return 0;
}

int cli_tree_open_tar(cli_tree **out, const char *path, int force, smar_time_ns mtime)
{
    cli_tree *t = cli_xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->is_tar = 1;
    t->rootfd = -1;
    t->mtime = mtime;
    int ret = cli_out_open(&t->out, path, force);
    if (ret != 0) {
        free(t);
        return ret;
    }
    t->tar = archive_write_new();
    /* No padding of the last block: the same bytes whether it goes to a file or a pipe. */
    if (t->tar == NULL || archive_write_set_format_pax_restricted(t->tar) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t->tar, 1) != ARCHIVE_OK ||
        archive_write_open_fd(t->tar, t->out.fd) != ARCHIVE_OK) {
        cli_error("cannot start the tar stream: %s",
                  t->tar ? archive_error_string(t->tar) : "out of memory");
        cli_tree_abort(t);
        return CLI_EXIT_FAILURE;
    }
    *out = t;
    return 0;
}

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

/* Sync the file system once for the whole batch, then give each file its final name. */
static int flush_pending(cli_tree *t)
{
    int ret = 0;
    if (t->npending > 0 && syncfs(t->rootfd) != 0) {
        cli_error("cannot sync folder '%s': %s", t->root, strerror(errno));
        ret = CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < t->npending; i++) {
        if (ret == 0)
            ret = cli_out_publish(&t->pending[i]);
        else
            cli_out_abort(&t->pending[i]);
    }
    t->npending = 0;
    return ret;
}

static int write_file_at(cli_tree *t, int dirfd, const char *name, const char *display,
                         const struct text *body)
{
    cli_out *o = &t->pending[t->npending];
    int ret = cli_out_openat(o, dirfd, name, display, t->force);
    if (ret == 0 && (ret = cli_out_write(o, body->p, body->n)) != 0)
        cli_out_abort(o);
    if (ret == 0 && (ret = cli_out_close_pending(o)) == 0 && ++t->npending == CLI_PENDING_MAX)
        ret = flush_pending(t);
    return ret;
}

/* ---- tar entries -------------------------------------------------------------------- */

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
    int r = archive_write_header(t->tar, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return tar_fail(t);
    if (!is_dir && archive_write_data(t->tar, body->p, body->n) != (la_ssize_t)body->n)
        return tar_fail(t);
    return 0;
}

/* Emit each folder of path once, parents first. */
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

/* Emit each folder of path once, parents first. */
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

/* ---- splitting a rendered secret --------------------------------------------------- */

struct split {
    struct text secret;   /* members other than "versions" */
    const char *versions; /* the "versions" array text */
    size_t versions_len;
    int first;
};

static int split_member(const char *key, const char *value, size_t len, void *payload)
{
    struct split *s = payload;
    if (strcmp(key, "versions") == 0) {
        s->versions = value;
        s->versions_len = len;
        return 0;
    }
    text_adds(&s->secret, s->first ? "\n  " : ",\n  ");
    text_add_key(&s->secret, key);
    text_adds(&s->secret, ": ");
    text_add(&s->secret, value, len);
    s->first = 0;
    return 0;
}

/* "<created>--<version id>.json": the time in ISO 8601 basic form, which sorts and is
 * portable (no ':'). */
static void version_file_name(char out[CLI_COMPONENT_MAX + 1], const char *json, size_t len)
{
    const char *v;
    size_t vlen;
    char *id = NULL, *created = NULL;
    size_t n;
    char stamp[SMAR_TIME_BUFSIZE] = "";
    if (cli_json_member(json, len, "created_at", &v, &vlen) == 0 && v[0] == '"' &&
        cli_json_decode_string(v, vlen, &created, &n) == 0) {
        smar_time_ns t;
        if (smar_time_parse(&t, created, n, 0) == SMAR_OK) {
            char full[SMAR_TIME_BUFSIZE];
            size_t k = 0;
            smar_time_format(full, t);
            for (const char *p = full; *p; p++)
                if (*p != '-' && *p != ':')
                    stamp[k++] = *p;
            stamp[k] = '\0';
        }
    }
    if (cli_json_member(json, len, "id", &v, &vlen) != 0 || v[0] != '"' ||
        cli_json_decode_string(v, vlen, &id, &n) != 0)
        id = cli_xstrdup("unknown");
    size_t keeplen = strlen(id) + 8;
    char *keep = cli_xmalloc(keeplen);
    snprintf(keep, keeplen, "--%s.json", id);
    cli_path_component(out, stamp[0] ? stamp : "undated", keep);
    free(keep);
    free(id);
    free(created);
}

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
    return write_file_at(pl->t, in_versions ? pl->versions_fd : pl->dirfd, name, display, body);
}

static int put_version(const char *value, size_t len, void *payload)
{
    struct place *pl = payload;
    char name[CLI_COMPONENT_MAX + 1];
    struct text body = {0};
    version_file_name(name, value, len);
    text_add(&body, value, len);
    text_adds(&body, "\n");
    int ret = put_file(pl, 1, name, &body);
    text_free(&body);
    return ret;
}

/* The open group/type folder (made when new): kept in t->type_dirs while there is room,
 * else *owned is set and the caller closes it. -1 on failure (reported). */
static int open_type_dir(cli_tree *t, char comps[3][CLI_COMPONENT_MAX + 1], int *owned)
{
    char rel[sizeof t->type_dirs[0].rel];
    char display[sizeof rel + 256];
    snprintf(rel, sizeof rel, "%.*s/%.*s", CLI_COMPONENT_MAX, comps[0], CLI_COMPONENT_MAX,
             comps[1]);
    *owned = 0;
    for (size_t i = 0; i < t->ntype_dirs; i++)
        if (strcmp(t->type_dirs[i].rel, rel) == 0)
            return t->type_dirs[i].fd;
    snprintf(display, sizeof display, "%s/%s", t->root, comps[0]);
    int group = enter_dir(t->rootfd, comps[0], display);
    if (group < 0)
        return -1;
    snprintf(display, sizeof display, "%s/%s", t->root, rel);
    int fd = enter_dir(group, comps[1], display);
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

/* Open group/type/name--id/ and its versions/ below the root (dir form). */
static int open_place(struct place *pl, char comps[3][CLI_COMPONENT_MAX + 1])
{
    char display[sizeof pl->rel + 256];
    int owned;
    int type_fd = open_type_dir(pl->t, comps, &owned);
    if (type_fd < 0)
        return CLI_EXIT_FAILURE;
    snprintf(pl->rel, sizeof pl->rel, "%.*s/%.*s/%.*s", CLI_COMPONENT_MAX, comps[0],
             CLI_COMPONENT_MAX, comps[1], CLI_COMPONENT_MAX, comps[2]);
    snprintf(display, sizeof display, "%s/%s", pl->t->root, pl->rel);
    pl->dirfd = enter_dir(type_fd, comps[2], display);
    if (owned)
        close(type_fd);
    if (pl->dirfd < 0)
        return CLI_EXIT_FAILURE;
    snprintf(display, sizeof display, "%s/%s/versions", pl->t->root, pl->rel);
    pl->versions_fd = enter_dir(pl->dirfd, "versions", display);
    return pl->versions_fd < 0 ? CLI_EXIT_FAILURE : 0;
}

int cli_tree_add_secret(cli_tree *t, const char *group, const char *type, const char *name,
                        const char *id, const char *rendered, size_t len)
{
    char comps[3][CLI_COMPONENT_MAX + 1];
    size_t keeplen = strlen(id) + 3;
    char *keep = cli_xmalloc(keeplen);
    snprintf(keep, keeplen, "--%s", id);
    cli_path_component(comps[0], group, NULL);
    cli_path_component(comps[1], type, NULL);
    if (*name != '\0')
        cli_path_component(comps[2], name, keep);
    else
        cli_path_component(comps[2], id, NULL);
    free(keep);

    struct place pl;
    memset(&pl, 0, sizeof pl);
    pl.t = t;
    pl.dirfd = pl.versions_fd = -1;
    struct split sp;
    memset(&sp, 0, sizeof sp);
    sp.first = 1;
    text_adds(&sp.secret, "{");
    int ret = 0;
    if (cli_json_members(rendered, len, split_member, &sp) != 0) {
        cli_error("secret %s: unexpected rendering", id);
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    text_adds(&sp.secret, sp.first ? "}\n" : "\n}\n");
    if (t->is_tar)
        snprintf(pl.rel, sizeof pl.rel, "%s/%s/%s", comps[0], comps[1], comps[2]);
    else if ((ret = open_place(&pl, comps)) != 0)
        goto done;
    if ((ret = put_file(&pl, 0, "secret.json", &sp.secret)) != 0)
        goto done;
    if (sp.versions != NULL) {
        ret = cli_json_elements(sp.versions, sp.versions_len, put_version, &pl);
        if (ret < 0) {
            cli_error("secret %s: unexpected versions rendering", id);
            ret = CLI_EXIT_FAILURE;
        }
    }
done:
    if (pl.dirfd >= 0)
        close(pl.dirfd);
    if (pl.versions_fd >= 0)
        close(pl.versions_fd);
    text_free(&sp.secret);
    return ret;
}

int cli_tree_close(cli_tree *t)
{
    int ret = 0;
    if (t->is_tar) {
        if (archive_write_close(t->tar) != ARCHIVE_OK)
            ret = tar_fail(t);
        archive_write_free(t->tar);
        t->tar = NULL;
        if (ret == 0)
            ret = cli_out_commit(&t->out);
    } else if ((ret = flush_pending(t)) == 0 && syncfs(t->rootfd) != 0) {
        cli_error("cannot sync folder '%s': %s", t->root, strerror(errno));
        ret = CLI_EXIT_FAILURE;
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
    for (size_t i = 0; i < t->npending; i++)
        cli_out_abort(&t->pending[i]);
    if (t->rootfd >= 0)
        close(t->rootfd);
    for (size_t i = 0; i < t->ntype_dirs; i++)
        close(t->type_dirs[i].fd);
    for (size_t i = 0; i < t->ndirs; i++)
        free(t->dirs_written[i]);
    free(t->dirs_written);
    free(t->root);
    free(t);
}
