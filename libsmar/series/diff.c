/*
 * diff.c - what changed between two snapshots, told by names only (smar/diff.h).
 *
 * Everything here goes through the public reader, series and JSON calls: a diff compares
 * manifest records, never reads a payload, and hands out member names, never values.
 * Metadata values are compared as JSON values (escapes decoded, white space and member
 * order ignored), numbers as written: an export re-indented by a tool is not a change.
 */
#include "smar/diff.h"
#include "smar/json.h"

#include <stdlib.h>
#include <string.h>

/* A callback's answer as the diffing call returns it: a stop value, never a status code. */
static int callback_result(int rc)
{
    return rc < 0 ? SMAR_E_INVALID : rc;
}

/* ---- metadata members ------------------------------------------------------------------ */

/* One member of a metadata object: its decoded name (copied) and raw value (borrowed from
 * the record's metadata text). */
struct member {
    char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

struct members {
    struct member *items;
    size_t n, cap;
    int nomem;
};

static void members_free(struct members *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->items[i].key);
    free(m->items);
    memset(m, 0, sizeof *m);
}

static int collect_member(const smar_json_member *jm, void *payload)
{
    struct members *m = payload;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        struct member *items = realloc(m->items, cap * sizeof *items);
        if (items == NULL)
            goto nomem;
        m->items = items;
        m->cap = cap;
    }
    char *key = malloc(jm->key_len + 1);
    if (key == NULL)
        goto nomem;
    memcpy(key, jm->key, jm->key_len + 1);
    m->items[m->n++] = (struct member){key, jm->key_len, jm->value, jm->value_len};
    return 0;
nomem:
    m->nomem = 1;
    return SMAR_STOP;
}

/* The members of the object text json (keys copied, values borrowed from json). */
static int load_object(const char *json, size_t len, struct members *out)
{
    memset(out, 0, sizeof *out);
    int rc = smar_json_each_member(json, len, collect_member, out);
    if (out->nomem)
        rc = SMAR_E_NOMEM;
    else if (rc != SMAR_OK)
        rc = SMAR_E_INVALID;
    if (rc != SMAR_OK)
        members_free(out);
    return rc;
}

static int load_members(const smar_secret *s, struct members *out)
{
    size_t len = 0;
    const char *json = smar_secret_metadata_json(s, &len);
    if (json == NULL) {
        memset(out, 0, sizeof *out);
        return SMAR_E_INVALID;
    }
    return load_object(json, len, out);
}

static int key_equal(const struct member *m, const char *key, size_t key_len)
{
    return m->key_len == key_len && memcmp(m->key, key, key_len) == 0;
}

static const struct member *find_member(const struct members *m, const char *key, size_t key_len)
{
    for (size_t i = 0; i < m->n; i++) {
        if (key_equal(&m->items[i], key, key_len))
            return &m->items[i];
    }
    return NULL;
}

/* ---- comparing values ------------------------------------------------------------------ */

/* Nesting deeper than this compares as different (the strict scanner bounds depth anyway). */
#define DIFF_DEPTH_MAX 64

static int values_equal(const char *a, size_t alen, const char *b, size_t blen, int depth);

static int strings_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    int equal = smar_json_unquote(a, alen, &x, &xl) == SMAR_OK &&
                smar_json_unquote(b, blen, &y, &yl) == SMAR_OK && xl == yl && memcmp(x, y, xl) == 0;
    /* metadata, but unquote's buffers are the kind that may hold a secret: wiped */
    if (x != NULL)
        smar_secret_buffer_free(x, xl);
    if (y != NULL)
        smar_secret_buffer_free(y, yl);
    return equal;
}

/* Objects are equal when they have the same member names with equal values, in any order. */
static int objects_equal(const char *a, size_t alen, const char *b, size_t blen, int depth)
{
    struct members x, y;
    if (load_object(a, alen, &x) != SMAR_OK)
        return 0;
    if (load_object(b, blen, &y) != SMAR_OK) {
        members_free(&x);
        return 0;
    }
    int equal = x.n == y.n;
    for (size_t i = 0; equal && i < x.n; i++) {
        const struct member *m = &x.items[i];
        const struct member *other = find_member(&y, m->key, m->key_len);
        equal = other != NULL &&
                values_equal(m->value, m->value_len, other->value, other->value_len, depth + 1);
    }
    members_free(&x);
    members_free(&y);
    return equal;
}

struct elements {
    const char **text;
    size_t *len;
    size_t n, cap;
    int nomem;
};

static int collect_element(const char *value, size_t len, void *payload)
{
    struct elements *e = payload;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        const char **text = realloc(e->text, cap * sizeof *text);
        if (text != NULL)
            e->text = text;
        size_t *lens = text ? realloc(e->len, cap * sizeof *lens) : NULL;
        if (lens == NULL) {
            e->nomem = 1;
            return SMAR_STOP;
        }
        e->len = lens;
        e->cap = cap;
    }
    e->text[e->n] = value;
    e->len[e->n++] = len;
    return 0;
}

static int arrays_equal(const char *a, size_t alen, const char *b, size_t blen, int depth)
{
    struct elements x = {0}, y = {0};
    int equal = smar_json_each_element(a, alen, collect_element, &x) == SMAR_OK &&
                smar_json_each_element(b, blen, collect_element, &y) == SMAR_OK && !x.nomem &&
                !y.nomem && x.n == y.n;
    for (size_t i = 0; equal && i < x.n; i++)
        equal = values_equal(x.text[i], x.len[i], y.text[i], y.len[i], depth + 1);
    free(x.text);
    free(x.len);
    free(y.text);
    free(y.len);
    return equal;
}

/*
 * Whether two JSON values say the same: the same text, or the same after decoding string
 * escapes and ignoring white space and member order. A re-indented or re-escaped export
 * is not a change; numbers are compared as written (1.0 and 1 differ: the text changed).
 */
static int values_equal(const char *a, size_t alen, const char *b, size_t blen, int depth)
{
    if (alen == blen && memcmp(a, b, alen) == 0)
        return 1;
    if (alen == 0 || blen == 0 || a[0] != b[0] || depth > DIFF_DEPTH_MAX)
        return 0;
    switch (a[0]) {
    case '"':
        return strings_equal(a, alen, b, blen);
    case '{':
        return objects_equal(a, alen, b, blen, depth);
    case '[':
        return arrays_equal(a, alen, b, blen, depth);
    default:
        return 0;
    }
}

/* The group is reported as a move of its own, not as a metadata change. */
static int is_group_member(const struct member *m)
{
    static const char group[] = "secret_group_id";
    return key_equal(m, group, sizeof group - 1);
}

static int compare_keys(const void *a, const void *b)
{
    const struct member *x = *(const struct member *const *)a;
    const struct member *y = *(const struct member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Reading a secret sets its retrieved_at, and making an export reads every secret: between
 * two snapshots it changes for all of them, which tells nothing about the secret. */
static int is_read_time(const struct member *m)
{
    static const char read_time[] = "retrieved_at";
    return key_equal(m, read_time, sizeof read_time - 1);
}

/* Members of a that b lacks or holds with another value, appended to out (pointers into a). */
static void changed_members(const struct members *a, const struct members *b,
                            const struct member **out, size_t *n)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct member *m = &a->items[i];
        if (is_group_member(m) || is_read_time(m))
            continue;
        const struct member *other = find_member(b, m->key, m->key_len);
        if (other == NULL ||
            !values_equal(m->value, m->value_len, other->value, other->value_len, 0))
            out[(*n)++] = m;
    }
}

/* Report METADATA when any member (other than the group and retrieved_at) was added, removed
 * or changed. */
static int report_metadata(smar_change *c, const smar_secret *old_s, const smar_secret *new_s,
                           smar_change_cb cb, void *payload)
{
    struct members a, b;
    int rc = load_members(old_s, &a);
    if (rc != SMAR_OK)
        return rc;
    if ((rc = load_members(new_s, &b)) != SMAR_OK) {
        members_free(&a);
        return rc;
    }
    const struct member **changed = malloc((a.n + b.n + 1) * sizeof *changed);
    const char **fields = malloc((a.n + b.n + 1) * sizeof *fields);
    size_t *lens = malloc((a.n + b.n + 1) * sizeof *lens);
    size_t n = 0;
    if (changed == NULL || fields == NULL || lens == NULL) {
        rc = SMAR_E_NOMEM;
        goto done;
    }
    changed_members(&b, &a, changed, &n); /* added or changed */
    const struct member **removed = changed + n;
    size_t nremoved = 0;
    changed_members(&a, &b, removed, &nremoved);
    for (size_t i = 0; i < nremoved; i++) { /* removed only: changed ones are listed */
        if (find_member(&b, removed[i]->key, removed[i]->key_len) == NULL)
            changed[n++] = removed[i];
    }
    if (n == 0)
        goto done;
    qsort(changed, n, sizeof *changed, compare_keys);
    for (size_t i = 0; i < n; i++) {
        fields[i] = changed[i]->key;
        lens[i] = changed[i]->key_len;
    }
    c->kind = SMAR_CHANGE_METADATA;
    c->fields = fields;
    c->field_lens = lens;
    c->nfields = n;
    rc = callback_result(cb(c, payload));
    c->fields = NULL;
    c->field_lens = NULL;
    c->nfields = 0;
done:
    free(changed);
    free(fields);
    free(lens);
    members_free(&a);
    members_free(&b);
    return rc;
}

/* ---- one secret ------------------------------------------------------------------------ */

/* Report ROTATED with the versions new_s lists (created at or before limit) that old_s
 * does not. */
static int report_rotated(smar_change *c, const smar_secret *old_s, const smar_secret *new_s,
                          smar_time_ns limit, smar_change_cb cb, void *payload)
{
    size_t total = smar_secret_version_count(new_s);
    if (total == 0)
        return SMAR_OK;
    smar_change_version *versions = malloc(total * sizeof *versions);
    if (versions == NULL)
        return SMAR_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        const smar_version *v = smar_secret_version(new_s, i);
        smar_time_ns created = smar_version_created(v);
        if (limit != SMAR_TIME_NONE && created != SMAR_TIME_NONE && created > limit)
            continue;
        if (old_s != NULL && smar_secret_version_by_id(old_s, smar_version_id(v)) != NULL)
            continue;
        versions[n++] = (smar_change_version){smar_version_id(v), created};
    }
    int rc = SMAR_OK;
    if (n > 0) {
        c->kind = SMAR_CHANGE_ROTATED;
        c->versions = versions;
        c->nversions = n;
        rc = callback_result(cb(c, payload));
        c->versions = NULL;
        c->nversions = 0;
    }
    free(versions);
    return rc;
}

int smar_diff_secrets(const smar_secret *old_s, const smar_secret *new_s, smar_time_ns new_limit,
                      smar_change_cb cb, void *payload)
{
    if ((old_s == NULL && new_s == NULL) || cb == NULL)
        return SMAR_E_INVALID;
    const smar_secret *shown = new_s ? new_s : old_s;
    smar_change c;
    memset(&c, 0, sizeof c);
    c.id = smar_secret_id(shown);
    c.type = smar_secret_type(shown);
    c.group_id = smar_secret_group_id(shown);
    c.name = smar_secret_name(shown);
    if (old_s == NULL || new_s == NULL) {
        c.kind = old_s == NULL ? SMAR_CHANGE_CREATED : SMAR_CHANGE_DELETED;
        return callback_result(cb(&c, payload));
    }
    int rc = report_rotated(&c, old_s, new_s, new_limit, cb, payload);
    if (rc == SMAR_OK)
        rc = report_metadata(&c, old_s, new_s, cb, payload);
    if (rc != SMAR_OK)
        return rc;
    if (strcmp(smar_secret_group_id(old_s), smar_secret_group_id(new_s)) != 0) {
        c.kind = SMAR_CHANGE_MOVED;
        c.old_group_id = smar_secret_group_id(old_s);
        rc = callback_result(cb(&c, payload));
    }
    return rc;
}

/* ---- two archives ------------------------------------------------------------------------ */

struct records {
    smar_secret **items;
    size_t n, cap;
    int nomem;
};

static void records_free(struct records *r)
{
    for (size_t i = 0; i < r->n; i++)
        smar_secret_free(r->items[i]);
    free(r->items);
    memset(r, 0, sizeof *r);
}

static int collect_record(smar_reader *reader, const smar_secret *s, void *payload)
{
    (void)reader;
    struct records *r = payload;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        smar_secret **items = realloc(r->items, cap * sizeof *items);
        if (items == NULL) {
            r->nomem = 1;
            return SMAR_STOP;
        }
        r->items = items;
        r->cap = cap;
    }
    smar_secret *copy = smar_secret_dup(s);
    if (copy == NULL) {
        r->nomem = 1;
        return SMAR_STOP;
    }
    r->items[r->n++] = copy;
    return 0;
}

static int compare_records(const void *a, const void *b)
{
    return strcmp(smar_secret_id(*(smar_secret *const *)a),
                  smar_secret_id(*(smar_secret *const *)b));
}

/* Every record of an archive, sorted by id. */
static int load_records(smar_reader *r, struct records *out)
{
    memset(out, 0, sizeof *out);
    int rc = smar_reader_foreach(r, collect_record, out);
    if (out->nomem)
        rc = SMAR_E_NOMEM;
    if (rc != SMAR_OK) {
        records_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->items, out->n, sizeof *out->items, compare_records);
    return SMAR_OK;
}

/* Walk both sorted lists as one merge, in id order. */
static int diff_sorted(const struct records *a, const struct records *b, smar_change_cb cb,
                       void *payload)
{
    size_t i = 0, j = 0;
    int rc = SMAR_OK;
    while (rc == SMAR_OK && (i < a->n || j < b->n)) {
        int order = i == a->n   ? 1
                    : j == b->n ? -1
                                : strcmp(smar_secret_id(a->items[i]), smar_secret_id(b->items[j]));
        const smar_secret *old_s = order <= 0 ? a->items[i++] : NULL;
        const smar_secret *new_s = order >= 0 ? b->items[j++] : NULL;
        rc = smar_diff_secrets(old_s, new_s, SMAR_TIME_NONE, cb, payload);
    }
    return rc;
}

int smar_diff_archives(smar_reader *old_r, smar_reader *new_r, smar_change_cb cb, void *payload)
{
    if (old_r == NULL || new_r == NULL || cb == NULL)
        return SMAR_E_INVALID;
    struct records a, b;
    int rc = load_records(old_r, &a);
    if (rc != SMAR_OK)
        return rc;
    if ((rc = load_records(new_r, &b)) != SMAR_OK) {
        records_free(&a);
        return rc;
    }
    rc = diff_sorted(&a, &b, cb, payload);
    records_free(&a);
    records_free(&b);
    return rc;
}

/* ---- two times of a series --------------------------------------------------------------- */

struct ids {
    char **items;
    size_t n, cap;
    int nomem;
};

static void ids_free(struct ids *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->items[i]);
    free(ids->items);
}

static int collect_id(const char *id, void *payload)
{
    struct ids *ids = payload;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        char **items = realloc(ids->items, cap * sizeof *items);
        if (items == NULL) {
            ids->nomem = 1;
            return SMAR_STOP;
        }
        ids->items = items;
        ids->cap = cap;
    }
    char *copy = strdup(id);
    if (copy == NULL) {
        ids->nomem = 1;
        return SMAR_STOP;
    }
    ids->items[ids->n++] = copy;
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int existed(const smar_at *at)
{
    return at->status == SMAR_AT_FOUND || at->status == SMAR_AT_NO_PAYLOAD ||
           at->status == SMAR_AT_NO_PAYLOAD_RECORDED;
}

/* One id: its record at t1 (copied: the next resolve invalidates it) and at t2. */
static int diff_one_id(smar_series *s, const char *id, smar_time_ns t1, smar_time_ns t2,
                       smar_change_cb cb, void *payload)
{
    smar_at at = SMAR_AT_INIT;
    int rc = smar_series_resolve(s, id, t1, &at);
    if (rc != SMAR_OK)
        return rc;
    smar_secret *old_s = NULL;
    if (existed(&at) && (old_s = smar_secret_dup(at.secret)) == NULL)
        return SMAR_E_NOMEM;
    rc = smar_series_resolve(s, id, t2, &at);
    if (rc == SMAR_OK) {
        const smar_secret *new_s = existed(&at) ? at.secret : NULL;
        if (old_s != NULL || new_s != NULL)
            rc = smar_diff_secrets(old_s, new_s, t2, cb, payload);
    }
    smar_secret_free(old_s);
    return rc;
}

int smar_diff_series(smar_series *s, smar_time_ns t1, smar_time_ns t2, smar_change_cb cb,
                     void *payload)
{
    if (s == NULL || cb == NULL)
        return SMAR_E_INVALID;
    struct ids ids = {NULL, 0, 0, 0};
    int rc = smar_series_select(s, NULL, collect_id, &ids);
    if (ids.nomem)
        rc = SMAR_E_NOMEM;
    if (rc == SMAR_OK && ids.n > 1)
        qsort(ids.items, ids.n, sizeof *ids.items, compare_ids);
    for (size_t i = 0; rc == SMAR_OK && i < ids.n; i++)
        rc = diff_one_id(s, ids.items[i], t1, t2, cb, payload);
    ids_free(&ids);
    return rc;
}
