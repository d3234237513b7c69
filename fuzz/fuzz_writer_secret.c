/*
 * fuzz_writer_secret.c - secrets as smar_writer_add_secret takes them (split.c: the checks
 * on ids, types, times, labels and versions, and the split into metadata and payload),
 * written to an archive in memory and read back. Secrets are separated by the byte 0x1e;
 * a part starting with 0x1d is the document instead. Oracle: every secret the writer
 * accepted comes back from the archive, by id and by name, and renders to an object with
 * exactly the original members (same key and value text) and the same versions.
 */
#include <string.h>

#include "common.h"
#include "internal.h"
#include "format.h"
#include "json.h"

#define MAX_PARTS    16
#define SEP_SECRET   0x1e
#define SEP_DOCUMENT 0x1d

typedef struct part {
    const char *p;
    size_t n;
} part;

static int mem_write(void *opaque, const void *buf, size_t len)
{
    return smar_buf_append(opaque, buf, len) == SMAR_OK ? 0 : -1;
}

/* ---- canonical form of a secret object: sorted "key:value" member texts ------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Members of an object as one string of sorted "key:value\n" texts, without "versions";
 * the versions array's elements in canonical form, sorted, go to *versions. */
static char *canonical(smar_span obj, char **versions, bool *has_versions)
{
    char *members[4096];
    size_t n = 0, total = 1;
    smar_json_iter it;
    smar_span key, value;
    smar_buf vers = {0};
    *has_versions = false;
    smar_json_iter_init(&it, obj);
    while (smar_json_next_member(&it, &key, &value) && n < SMAR_ARRAY_LEN(members)) {
        if (versions && smar_json_string_eq(key, "versions")) {
            char *vlist[SMAR_MAX_VERSIONS];
            size_t nv = 0;
            smar_json_iter vit;
            smar_span v;
            *has_versions = true;
            smar_json_iter_init(&vit, value);
            while (smar_json_next_element(&vit, &v) && nv < SMAR_ARRAY_LEN(vlist)) {
                bool unused;
                vlist[nv++] = canonical(v, NULL, &unused);
            }
            qsort(vlist, nv, sizeof *vlist, cmp_str);
            for (size_t i = 0; i < nv; i++) {
                smar_buf_append_str(&vers, vlist[i]);
                smar_buf_append(&vers, "|", 1);
                free(vlist[i]);
            }
            continue;
        }
        char *m = malloc(key.n + value.n + 3);
        FZ_CHECK(m != NULL);
        memcpy(m, key.p, key.n);
        m[key.n] = ':';
        memcpy(m + key.n + 1, value.p, value.n);
        m[key.n + 1 + value.n] = '\n';
        m[key.n + 2 + value.n] = '\0';
        total += key.n + value.n + 2;
        members[n++] = m;
    }
    qsort(members, n, sizeof *members, cmp_str);
    char *out = malloc(total);
    FZ_CHECK(out != NULL);
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(members[i]);
        memcpy(out + len, members[i], l + 1);
        len += l;
        free(members[i]);
    }
    if (versions) {
        smar_buf_append(&vers, "", 1);
        *versions = strdup((const char *)vers.data);
    }
    smar_buf_free(&vers);
    return out;
}

static void same_secret(const part *orig, const char *rendered, size_t len)
{
    smar_span a, b;
    char err[128], *va, *vb;
    bool ha, hb;
    FZ_CHECK(smar_json_validate((smar_span){orig->p, orig->n}, SMAR_JSON_MAX_DEPTH, &a, err,
                                sizeof err));
    FZ_CHECK(
        smar_json_validate((smar_span){rendered, len}, SMAR_JSON_MAX_DEPTH, &b, err, sizeof err));
    char *ca = canonical(a, &va, &ha), *cb = canonical(b, &vb, &hb);
    if (strcmp(ca, cb) != 0 || strcmp(va, vb) != 0 || ha != hb) {
        fprintf(stderr, "original:\n%s\n%s\nrendered:\n%s\n%s\n", ca, va, cb, vb);
        FZ_FAIL("a secret renders as it was written");
    }
    free(ca);
    free(cb);
    free(va);
    free(vb);
}

static int count_cb(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    (void)s;
    (*(size_t *)payload)++;
    return 0;
}

static void read_back(const smar_buf *archive, const part *added, size_t nadded)
{
    smar_keyring *kr = fz_keyring();
    fz_mem mem = {archive->data, archive->len};
    smar_source src = fz_mem_source(&mem);
    smar_reader *r;
    if (smar_reader_new(&r) != SMAR_OK)
        return;
    FZ_CHECK(smar_reader_open_source(r, &src, "fuzz") == SMAR_OK);
    FZ_CHECK(smar_reader_unlock(r, &kr, 1) == SMAR_OK);
    for (size_t i = 0; i < nadded; i++) {
        smar_span obj, id;
        char err[128];
        FZ_CHECK(smar_json_validate((smar_span){added[i].p, added[i].n}, SMAR_JSON_MAX_DEPTH, &obj,
                                    err, sizeof err));
        FZ_CHECK(smar_json_get(obj, "id", &id));
        char *ids = smar_json_string_dup(id);
        FZ_CHECK(ids != NULL);
        smar_secret *s = NULL;
        FZ_CHECK(smar_reader_find_id(r, ids, &s) == SMAR_OK);
        char *out;
        size_t len;
        FZ_CHECK(smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len) == SMAR_OK);
        same_secret(&added[i], out, len);
        smar_secret_buffer_free(out, len);
        if (smar_secret_name(s)[0] != '\0') {
            size_t found = 0;
            FZ_CHECK(smar_reader_find_name(r, smar_secret_name(s), smar_secret_type(s), count_cb,
                                           &found) == SMAR_OK);
            FZ_CHECK(found >= 1);
        }
        smar_secret_free(s);
        free(ids);
    }
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    FZ_CHECK(smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL) == SMAR_OK);
    FZ_CHECK(res.secrets_checked == nadded);
    smar_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    part parts[MAX_PARTS], added[MAX_PARTS];
    size_t nparts = 0, nadded = 0;
    fz_init();
    const char *p = (const char *)data, *end = p + size;
    while (p <= end && nparts < MAX_PARTS) {
        const char *sep = memchr(p, SEP_SECRET, (size_t)(end - p));
        const char *stop = sep ? sep : end;
        parts[nparts].p = p;
        parts[nparts].n = (size_t)(stop - p);
        nparts++;
        if (!sep)
            break;
        p = sep + 1;
    }
    smar_writer *w;
    smar_buf archive = {0};
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.chunk_size = SMAR_CHUNK_SIZE_MIN;
    o.zstd_level = 1;
    o.snapshot_time = o.created_time = 1780000000000000000LL;
    if (smar_writer_new(&w) != SMAR_OK)
        return 0;
    int rc = smar_writer_add_key(w, fz_keyring());
    if (rc == SMAR_OK)
        rc = smar_writer_open_cb(w, &o, mem_write, &archive);
    FZ_CHECK(rc == SMAR_OK);
    for (size_t i = 0; i < nparts && rc == SMAR_OK; i++) {
        if (parts[i].n > 0 && parts[i].p[0] == SEP_DOCUMENT) {
            rc = smar_writer_set_document(w, parts[i].p + 1, parts[i].n - 1);
        } else {
            rc = smar_writer_add_secret(w, parts[i].p, parts[i].n);
            if (rc == SMAR_OK)
                added[nadded++] = parts[i];
        }
        if (rc != SMAR_OK) {
            FZ_CHECK(rc < 0 && smar_writer_error(w)[0] != '\0');
            /* any error kills the writer */
            FZ_CHECK(smar_writer_add_secret(w, "{}", 2) == SMAR_E_INVALID);
        }
    }
    if (rc == SMAR_OK && smar_writer_finish(w) == SMAR_OK)
        read_back(&archive, added, nadded);
    smar_writer_free(w);
    smar_buf_free(&archive);
    return 0;
}
