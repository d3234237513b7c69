/*
 * common.c - see common.h.
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"

void fz_init(void)
{
    static bool done;
    if (done)
        return;
    if (smar_init() != SMAR_OK) {
        fprintf(stderr, "fuzz: smar_init failed\n");
        abort();
    }
    done = true;
}

/* ---- temporary files ------------------------------------------------------------------ */

static char g_tmpdir[256];
static char g_path[512];

void fz_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            char sub[1024];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
                    fz_rmtree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void remove_tmpdir(void)
{
    if (g_tmpdir[0])
        fz_rmtree(g_tmpdir);
}

static bool usable_dir(const char *d)
{
    return d && *d && access(d, W_OK | X_OK) == 0;
}

const char *fz_tmpdir(void)
{
    if (g_tmpdir[0])
        return g_tmpdir;
    const char *base = getenv("TMPDIR");
    if (!usable_dir(base))
        base = usable_dir("/dev/shm") ? "/dev/shm" : "/tmp";
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/smar-fuzz-%ld", base, (long)getpid());
    fz_rmtree(g_tmpdir); /* a leftover of an earlier process with the same pid */
    if (mkdir(g_tmpdir, 0700) != 0) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", g_tmpdir, strerror(errno));
        abort();
    }
    atexit(remove_tmpdir);
    return g_tmpdir;
}

const char *fz_tmp_path(const char *name)
{
    snprintf(g_path, sizeof g_path, "%s/%s", fz_tmpdir(), name);
    return g_path;
}

int fz_write_file(const char *path, const void *p, size_t n, unsigned mode)
{
    unlink(path); /* so the mode is the one asked for */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -1;
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return close(fd);
}

/* ---- keys ----------------------------------------------------------------------------- */

static smar_keyring *g_keyring;
static smar_signkey *g_signkey;

static void free_keys(void)
{
    smar_keyring_free(g_keyring);
    smar_signkey_free(g_signkey);
    g_keyring = NULL;
    g_signkey = NULL;
}

static void make_keys(void)
{
    if (g_keyring)
        return;
    fz_init();
    if (smar_keyring_new(&g_keyring) || smar_keyring_generate(g_keyring, "fuzz-key") ||
        smar_signkey_new(&g_signkey) || smar_signkey_generate(g_signkey)) {
        fprintf(stderr, "fuzz: cannot make the test keys\n");
        abort();
    }
    atexit(free_keys);
}

smar_keyring *fz_keyring(void)
{
    make_keys();
    return g_keyring;
}

smar_signkey *fz_signkey(void)
{
    make_keys();
    return g_signkey;
}

/* ---- memory source -------------------------------------------------------------------- */

static smar_io_result mem_read_at(void *opaque, void *buf, size_t len, uint64_t offset,
                                  char err[SMAR_IO_ERROR_MAX])
{
    (void)err;
    const fz_mem *m = opaque;
    if (offset > m->n || len > m->n - offset)
        return SMAR_IO_FAILED;
    if (len)
        memcpy(buf, m->p + offset, len);
    return SMAR_IO_OK;
}

smar_source fz_mem_source(fz_mem *m)
{
    smar_source s = {SMAR_SOURCE_VERSION, m, m->n, mem_read_at, NULL};
    return s;
}

bool fz_json_valid(const char *p, size_t n)
{
    smar_span v;
    char err[128];
    smar_span text = {p, n};
    return smar_json_validate(text, SMAR_JSON_MAX_DEPTH, &v, err, sizeof err);
}

/* ---- exercising a reader -------------------------------------------------------------- */

#define FZ_MAX_SECRETS  24
#define FZ_MAX_PAYLOADS 16

typedef struct seen {
    char *ids[FZ_MAX_SECRETS];
    char *names[FZ_MAX_SECRETS];
    char *types[FZ_MAX_SECRETS];
    size_t n;
    size_t payloads;
} seen;

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ids[i]);
        free(s->names[i]);
        free(s->types[i]);
    }
    s->n = 0;
}

static void touch_secret(const smar_secret *s)
{
    size_t len;
    FZ_CHECK(smar_secret_id(s) != NULL && smar_secret_type(s) != NULL);
    FZ_CHECK(smar_secret_name(s) != NULL && smar_secret_group_id(s) != NULL);
    (void)smar_secret_created(s);
    (void)smar_secret_updated(s);
    for (size_t i = 0; i < smar_secret_label_count(s); i++)
        FZ_CHECK(smar_secret_label(s, i) != NULL);
    FZ_CHECK(smar_secret_label(s, smar_secret_label_count(s)) == NULL);
    /* metadata is checked by its accessor: NULL (and 0) when it is not a JSON object */
    FZ_CHECK(smar_secret_metadata_json(s, &len) != NULL || len == 0);
    size_t nv = smar_secret_version_count(s);
    for (size_t i = 0; i < nv; i++) {
        const smar_version *v = smar_secret_version(s, i);
        FZ_CHECK(v != NULL && smar_version_id(v) != NULL);
        FZ_CHECK(smar_version_metadata_json(v, &len) != NULL || len == 0);
        (void)smar_version_payload_size(v);
        FZ_CHECK(smar_secret_version_by_id(s, smar_version_id(v)) != NULL);
        const smar_version *at = smar_secret_version_at(s, smar_version_created(v));
        FZ_CHECK(at != NULL && smar_version_created(at) == smar_version_created(v));
    }
    FZ_CHECK(smar_secret_version(s, nv) == NULL);
    FZ_CHECK(smar_secret_version_at(s, INT64_MIN) == NULL ||
             smar_version_created(smar_secret_version_at(s, INT64_MIN)) == INT64_MIN);
    (void)smar_secret_version_at(s, INT64_MAX);
    FZ_CHECK(smar_secret_version_by_id(s, NULL) == NULL);
}

static void read_and_render(smar_reader *r, const smar_secret *s, seen *sn)
{
    char *out;
    size_t len;
    if (smar_secret_has_payload(s) && sn->payloads < FZ_MAX_PAYLOADS) {
        sn->payloads++;
        if (smar_reader_read_payload(r, s, NULL, &out, &len) == SMAR_OK) {
            FZ_CHECK(out[len] == '\0');
            smar_secret_buffer_free(out, len);
        }
    }
    for (size_t i = 0; i < smar_secret_version_count(s) && sn->payloads < FZ_MAX_PAYLOADS; i++) {
        const smar_version *v = smar_secret_version(s, i);
        if (!smar_version_has_payload(v))
            continue;
        sn->payloads++;
        if (smar_reader_read_payload(r, s, v, &out, &len) == SMAR_OK) {
            FZ_CHECK(len == smar_version_payload_size(v));
            smar_secret_buffer_free(out, len);
        }
    }
    /* a secret whose metadata (or a version's) is not a JSON object never renders */
    bool meta_ok = smar_secret_metadata_json(s, NULL) != NULL;
    for (size_t i = 0; i < smar_secret_version_count(s); i++)
        meta_ok = meta_ok && smar_version_metadata_json(smar_secret_version(s, i), NULL) != NULL;
    for (int with_payloads = 0; with_payloads <= 1; with_payloads++) {
        if (smar_reader_render_secret(r, s, NULL, 0, with_payloads, &out, &len) == SMAR_OK) {
            FZ_CHECK(meta_ok);
            FZ_CHECK(out[len] == '\0');
            smar_secret_buffer_free(out, len);
        }
    }
    if (smar_secret_version_count(s) > 0) {
        const smar_version *one = smar_secret_version(s, smar_secret_version_count(s) - 1);
        if (smar_reader_render_secret(r, s, &one, 1, 1, &out, &len) == SMAR_OK)
            smar_secret_buffer_free(out, len);
    }
}

static int visit(smar_reader *r, const smar_secret *s, void *payload)
{
    seen *sn = payload;
    touch_secret(s);
    smar_secret *copy = smar_secret_dup(s);
    FZ_CHECK(copy != NULL && strcmp(smar_secret_id(copy), smar_secret_id(s)) == 0);
    smar_secret_free(copy);
    if (sn->n < FZ_MAX_SECRETS) {
        sn->ids[sn->n] = strdup(smar_secret_id(s));
        sn->names[sn->n] = strdup(smar_secret_name(s));
        sn->types[sn->n] = strdup(smar_secret_type(s));
        sn->n++;
        read_and_render(r, s, sn);
    }
    return sn->n < FZ_MAX_SECRETS ? 0 : 1;
}

static int count_named(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    touch_secret(s);
    (*(size_t *)payload)++;
    return *(size_t *)payload < FZ_MAX_SECRETS ? 0 : 1;
}

void fz_exercise_unlocked(smar_reader *r)
{
    smar_snapshot_info si = SMAR_SNAPSHOT_INFO_INIT;
    const char *doc;
    size_t doclen, named = 0;
    seen sn = {0};
    (void)smar_reader_snapshot(r, &si);
    (void)smar_reader_document(r, &doc, &doclen);
    (void)smar_reader_foreach(r, visit, &sn);
    for (size_t i = 0; i < sn.n; i++) {
        smar_secret *s = NULL;
        if (smar_reader_find_id(r, sn.ids[i], &s) == SMAR_OK) {
            FZ_CHECK(strcmp(smar_secret_id(s), sn.ids[i]) == 0);
            touch_secret(s);
        }
        smar_secret_free(s);
        (void)smar_reader_find_name(r, sn.names[i], NULL, count_named, &named);
        (void)smar_reader_find_name(r, sn.names[i], sn.types[i], count_named, &named);
    }
    smar_secret *other = NULL;
    if (smar_reader_find_id(r, "no-such-secret-id", &other) == SMAR_OK)
        FZ_CHECK(strcmp(smar_secret_id(other), "no-such-secret-id") == 0);
    else
        FZ_CHECK(other == NULL);
    smar_secret_free(other);
    seen_free(&sn);
}

/* ---- series --------------------------------------------------------------------------- */

typedef struct series_ids {
    char *ids[8];
    size_t n;
} series_ids;

static int collect_id(const char *id, void *payload)
{
    series_ids *c = payload;
    if (c->n < SMAR_ARRAY_LEN(c->ids))
        c->ids[c->n++] = strdup(id);
    return c->n < SMAR_ARRAY_LEN(c->ids) ? 0 : 1;
}

void fz_exercise_series(smar_reader *const *readers, size_t n)
{
    smar_series *s;
    series_ids c = {{0}, 0};
    int rc = SMAR_OK;
    if (smar_series_new(&s) != SMAR_OK)
        return;
    for (size_t i = 0; i < n && rc == SMAR_OK; i++)
        rc = smar_series_add(s, readers[i]);
    if (rc == SMAR_OK) {
        smar_selection all = {0};
        (void)smar_series_select(s, &all, collect_id, &c);
        smar_time_ns latest = smar_series_latest(s);
        for (size_t i = 0; i < c.n; i++) {
            smar_time_ns times[] = {latest, latest - 1, INT64_MIN + 1, INT64_MAX, 0};
            for (size_t t = 0; t < SMAR_ARRAY_LEN(times); t++) {
                smar_at at = SMAR_AT_INIT;
                char *out;
                size_t len;
                if (smar_series_resolve(s, c.ids[i], times[t], &at) != SMAR_OK)
                    continue;
                if (at.status != SMAR_AT_FOUND)
                    continue;
                if (smar_series_read_payload(s, &at, &out, &len) == SMAR_OK)
                    smar_secret_buffer_free(out, len);
                for (int all_versions = 0; all_versions <= 1; all_versions++)
                    if (smar_series_render(s, &at, all_versions, &out, &len) == SMAR_OK)
                        smar_secret_buffer_free(out, len);
            }
        }
        if (c.n > 0) {
            const char *const ids[] = {c.ids[0]};
            const char *const labels[] = {"l1", "gdpr"};
            smar_selection sel = {0};
            sel.ids = ids;
            sel.nids = 1;
            series_ids c2 = {{0}, 0};
            (void)smar_series_select(s, &sel, collect_id, &c2);
            sel.nids = 0;
            sel.labels = labels;
            sel.nlabels = 2;
            sel.groups = ids;
            sel.ngroups = 1;
            (void)smar_series_select(s, &sel, collect_id, &c2);
            for (size_t i = 0; i < c2.n; i++)
                free(c2.ids[i]);
        }
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.ids[i]);
    smar_series_free(s);
}
