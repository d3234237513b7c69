/*
 * series.c - point-in-time answers from a series of archives (smar/series.h).
 *
 * Everything goes through the public reader API: the series adds only the rules that join
 * archives (spec/FORMAT.md, "Point-in-time queries") and never looks inside an archive.
 *
 * One resolve asks each archive for the secret once (smar_reader_find_id) and keeps the
 * records until the next resolve, because smar_at points into them. The archives are then
 * looked at in "describing" order: newest snapshot at or before T first, going back in
 * time, then those after T oldest first. That order picks the describing record, and it
 * is also the order in which versions and payloads are looked for, so an answer prefers
 * what the archive closest to T said.
 */
#include "smar/series.h"

#include "internal.h"
#include "json.h"

#include <stdlib.h>

/* ---- a set of strings, in insertion order --------------------------------------------- */

/* Open addressing over indexes into `keys`, so a selection over a million secrets stays
 * linear and the ids come back in the order they were first added. */
typedef struct strset {
    char **keys; /* owned copies, insertion order */
    size_t count;
    size_t keys_cap;
    size_t *slots; /* index + 1 into keys; 0 = empty */
    size_t nslots; /* a power of two, or 0 */
} strset;

static uint64_t str_hash(const char *k)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)k; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    return h;
}

/* The slot holding key, or the empty slot where it would go. nslots must be > 0. */
static size_t strset_slot(const strset *set, const char *key)
{
    size_t mask = set->nslots - 1;
    size_t i = (size_t)str_hash(key) & mask;
    while (set->slots[i] != 0 && strcmp(set->keys[set->slots[i] - 1], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool strset_has(const strset *set, const char *key)
{
    if (set->nslots == 0)
        return false;
    return set->slots[strset_slot(set, key)] != 0;
}

static int strset_rehash(strset *set)
{
    size_t n = set->nslots == 0 ? 16 : set->nslots;
    while (n / 2 < set->count + 1) {
        if (n > SIZE_MAX / (2 * sizeof(size_t)))
            return SMAR_E_NOMEM;
        n *= 2;
    }
    size_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return SMAR_E_NOMEM;
    free(set->slots);
    set->slots = slots;
    set->nslots = n;
    for (size_t k = 0; k < set->count; k++)
        set->slots[strset_slot(set, set->keys[k])] = k + 1;
    return SMAR_OK;
}

static int strset_push_key(strset *set, const char *key)
{
    if (set->count == set->keys_cap) {
        size_t cap = set->keys_cap == 0 ? 16 : set->keys_cap * 2;
        if (cap > SIZE_MAX / sizeof(char *))
            return SMAR_E_NOMEM;
        char **grown = realloc(set->keys, cap * sizeof *grown);
        if (grown == NULL)
            return SMAR_E_NOMEM;
        set->keys = grown;
        set->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (copy == NULL)
        return SMAR_E_NOMEM;
    set->keys[set->count++] = copy;
    return SMAR_OK;
}

/* Add key unless present; *added (may be NULL) says which. SMAR_OK or SMAR_E_NOMEM. */
static int strset_add(strset *set, const char *key, bool *added)
{
    if (added != NULL)
        *added = false;
    if (set->nslots / 2 < set->count + 1) {
        int rc = strset_rehash(set);
        if (rc != SMAR_OK)
            return rc;
    }
    size_t i = strset_slot(set, key);
    if (set->slots[i] != 0)
        return SMAR_OK;
    int rc = strset_push_key(set, key);
    if (rc != SMAR_OK)
        return rc;
    set->slots[i] = set->count;
    if (added != NULL)
        *added = true;
    return SMAR_OK;
}

static void strset_free(strset *set)
{
    for (size_t k = 0; k < set->count; k++)
        free(set->keys[k]);
    free(set->keys);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

/* ---- the handle ----------------------------------------------------------------------- */

typedef struct series_archive {
    smar_reader *reader; /* borrowed */
    smar_time_ns snapshot;
} series_archive;

struct smar_series {
    smar_err err;
    series_archive *archives; /* ascending snapshot time; equal times keep the add order */
    size_t count;
    size_t cap;
    /* The last resolve: each archive's record of the secret (NULL where it lacks it) and
     * the archives in describing order, both nfound long. */
    smar_secret **found;
    size_t *order;
    size_t nfound;
};

int smar_series_new(smar_series **out)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    *out = calloc(1, sizeof **out);
    return *out != NULL ? SMAR_OK : SMAR_E_NOMEM;
}

static void release_records(smar_series *s)
{
    for (size_t i = 0; i < s->nfound; i++)
        smar_secret_free(s->found[i]);
    free(s->found);
    free(s->order);
    s->found = NULL;
    s->order = NULL;
    s->nfound = 0;
}

void smar_series_free(smar_series *s)
{
    if (s == NULL)
        return;
    release_records(s);
    free(s->archives);
    free(s);
}

const char *smar_series_error(const smar_series *s)
{
    return smar_err_message(s != NULL ? &s->err : NULL);
}

int smar_series_add(smar_series *s, smar_reader *r)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (r == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "no reader given");
    for (size_t i = 0; i < s->count; i++) {
        if (s->archives[i].reader == r)
            return smar_fail(&s->err, SMAR_E_INVALID, "reader added to the series twice");
    }
    smar_archive_info info;
    int rc = smar_reader_info(r, &info);
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    if (s->count == s->cap) {
        size_t cap = s->cap == 0 ? 8 : s->cap * 2;
        series_archive *grown = realloc(s->archives, cap * sizeof *grown);
        if (grown == NULL)
            return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory adding an archive");
        s->archives = grown;
        s->cap = cap;
    }
    /* An archive without a snapshot time is dated by when it was made. */
    smar_time_ns snap = info.snapshot != SMAR_TIME_NONE ? info.snapshot : info.created;
    size_t i = s->count;
    while (i > 0 && s->archives[i - 1].snapshot > snap) {
        s->archives[i] = s->archives[i - 1];
        i--;
    }
    s->archives[i] = (series_archive){r, snap};
    s->count++;
    return SMAR_OK;
}

smar_time_ns smar_series_latest(const smar_series *s)
{
    if (s == NULL || s->count == 0)
        return SMAR_TIME_NONE;
    return s->archives[s->count - 1].snapshot;
}

/* ---- resolve -------------------------------------------------------------------------- */

/* Newest snapshot at or before t going back, then those after t going forward. */
static void build_order(smar_series *s, smar_time_ns t)
{
    size_t k = 0;
    while (k < s->nfound && s->archives[k].snapshot <= t)
        k++;
    size_t j = 0;
    for (size_t i = k; i > 0; i--)
        s->order[j++] = i - 1;
    for (size_t i = k; i < s->nfound; i++)
        s->order[j++] = i;
}

/* Ask every archive for id. *held counts the archives that have it. */
static int load_records(smar_series *s, const char *id, size_t *held)
{
    size_t n = s->count > 0 ? s->count : 1;
    s->found = calloc(n, sizeof *s->found);
    s->order = calloc(n, sizeof *s->order);
    if (s->found == NULL || s->order == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory resolving secret '%s'", id);
    s->nfound = s->count;
    *held = 0;
    for (size_t i = 0; i < s->count; i++) {
        smar_reader *r = s->archives[i].reader;
        smar_secret *rec = NULL;
        int rc = smar_reader_find_id(r, id, &rec);
        if (rc == SMAR_E_NOTFOUND)
            continue;
        if (rc != SMAR_OK)
            return smar_fail(&s->err, rc, "secret '%s': %s", id, smar_reader_error(r));
        s->found[i] = rec;
        (*held)++;
    }
    return SMAR_OK;
}

/* When the secret came to be: its created_at, else its oldest known version's. */
static smar_time_ns secret_created(const smar_series *s, const smar_secret *desc)
{
    smar_time_ns created = smar_secret_created(desc);
    if (created != SMAR_TIME_NONE)
        return created;
    for (size_t i = 0; i < s->nfound; i++) {
        if (s->found[i] == NULL || smar_secret_version_count(s->found[i]) == 0)
            continue;
        smar_time_ns c = smar_version_created(smar_secret_version(s->found[i], 0));
        if (c != SMAR_TIME_NONE && (created == SMAR_TIME_NONE || c < created))
            created = c;
    }
    return created;
}

/* The newest version created at or before t in any record (the union by version id has
 * the same newest element as the newest of each record's newest). Ties keep the record
 * met first in describing order. */
static const smar_version *newest_version(const smar_series *s, smar_time_ns t,
                                          const smar_secret **holder)
{
    const smar_version *best = NULL;
    for (size_t j = 0; j < s->nfound; j++) {
        const smar_secret *rec = s->found[s->order[j]];
        const smar_version *v = rec != NULL ? smar_secret_version_at(rec, t) : NULL;
        if (v != NULL && (best == NULL || smar_version_created(v) > smar_version_created(best))) {
            best = v;
            *holder = rec;
        }
    }
    return best;
}

/* The snapshot time of the first archive in [created, t] without the secret, or NONE. */
static smar_time_ns deletion_seen(const smar_series *s, smar_time_ns created, smar_time_ns t)
{
    for (size_t i = 0; i < s->nfound; i++) {
        smar_time_ns snap = s->archives[i].snapshot;
        if (snap > t)
            break;
        if (snap >= created && s->found[i] == NULL)
            return snap;
    }
    return SMAR_TIME_NONE;
}

/* Where a version's payload is kept. */
typedef struct payload_loc {
    smar_reader *reader;
    const smar_secret *secret;
    const smar_version *version; /* NULL: the secret-level (current) payload */
} payload_loc;

/*
 * The secret object's own payload members at T: kept by a record whose current (newest)
 * version is the version at T. For a type smar does not know they differ from the
 * version's payload members (everything unknown is payload); for known types they are the
 * same fields.
 */
static bool locate_secret_payload(const smar_series *s, const char *vid, payload_loc *loc)
{
    for (size_t j = 0; j < s->nfound; j++) {
        size_t i = s->order[j];
        const smar_secret *rec = s->found[i];
        size_t nv = rec != NULL ? smar_secret_version_count(rec) : 0;
        if (nv == 0 || !smar_secret_has_payload(rec))
            continue;
        if (strcmp(smar_version_id(smar_secret_version(rec, nv - 1)), vid) == 0) {
            *loc = (payload_loc){s->archives[i].reader, rec, NULL};
            return true;
        }
    }
    return false;
}

/* An archive whose record of version vid holds that version's payload. */
static bool locate_version_payload(const smar_series *s, const char *vid, payload_loc *loc)
{
    for (size_t j = 0; j < s->nfound; j++) {
        size_t i = s->order[j];
        const smar_secret *rec = s->found[i];
        const smar_version *v = rec != NULL ? smar_secret_version_by_id(rec, vid) : NULL;
        if (v != NULL && smar_version_has_payload(v)) {
            *loc = (payload_loc){s->archives[i].reader, rec, v};
            return true;
        }
    }
    return false;
}

/* Where the payload of version vid is: a version payload, else the secret-level payload of
 * a record whose current version it is (an export may carry payloads only there). */
static bool locate_payload(const smar_series *s, const char *vid, payload_loc *loc)
{
    return locate_version_payload(s, vid, loc) || locate_secret_payload(s, vid, loc);
}

/* The created_at of the two earliest distinct versions created after `after`, or
 * INT64_MAX. The same version listed by several records counts once (by id). */
static void next_two_versions(const smar_series *s, smar_time_ns after, smar_time_ns next[2])
{
    const char *ids[2] = {NULL, NULL};
    next[0] = next[1] = INT64_MAX;
    for (size_t i = 0; i < s->nfound; i++) {
        const smar_secret *rec = s->found[i];
        size_t nv = rec != NULL ? smar_secret_version_count(rec) : 0;
        for (size_t k = 0; k < nv; k++) {
            const smar_version *v = smar_secret_version(rec, k);
            smar_time_ns c = smar_version_created(v);
            const char *vid = smar_version_id(v);
            if (c <= after || (ids[0] != NULL && strcmp(ids[0], vid) == 0) ||
                (ids[1] != NULL && strcmp(ids[1], vid) == 0))
                continue;
            if (c < next[0]) {
                next[1] = next[0];
                ids[1] = ids[0];
                next[0] = c;
                ids[0] = vid;
            } else if (c < next[1]) {
                next[1] = c;
                ids[1] = vid;
            }
        }
    }
}

/* A version was current from its creation to the next version's and previous until the
 * one after: snapshots in that span held its payload. */
static void payload_window(const smar_series *s, const smar_version *v, smar_at *out)
{
    smar_time_ns next[2];
    out->payload_from = smar_version_created(v);
    next_two_versions(s, out->payload_from, next);
    out->payload_until = next[1] != INT64_MAX ? next[1] : SMAR_TIME_NONE;
}

static void decide_status(const smar_series *s, smar_time_ns t, smar_at *out)
{
    smar_time_ns created = secret_created(s, out->secret);
    const smar_secret *holder = NULL;
    const smar_version *v = NULL;
    if (created != SMAR_TIME_NONE && created <= t)
        v = newest_version(s, t, &holder);
    if (v == NULL) {
        out->status = SMAR_AT_NOT_CREATED;
        return;
    }
    smar_time_ns gone = deletion_seen(s, created, t);
    if (gone != SMAR_TIME_NONE) {
        out->status = SMAR_AT_DELETED;
        out->deleted_seen = gone;
        return;
    }
    out->version_secret = holder;
    out->version = v;
    payload_loc loc;
    if (locate_payload(s, smar_version_id(v), &loc)) {
        out->status = SMAR_AT_FOUND;
        out->payload_reader = loc.reader;
        out->payload_secret = loc.secret;
        out->payload_version = loc.version;
        return;
    }
    out->status = SMAR_AT_NO_PAYLOAD;
    payload_window(s, v, out);
}

int smar_series_resolve(smar_series *s, const char *id, smar_time_ns t, smar_at *out)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (id == NULL || out == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "resolve needs a secret id and a result");
    release_records(s);
    memset(out, 0, sizeof *out);
    out->at = t;
    out->deleted_seen = out->payload_from = out->payload_until = SMAR_TIME_NONE;

    size_t held = 0;
    int rc = load_records(s, id, &held);
    if (rc != SMAR_OK)
        goto done;
    if (held == 0) {
        rc = smar_fail(&s->err, SMAR_E_NOTFOUND, "secret '%s' is in no archive of the series", id);
        goto done;
    }
    build_order(s, t);
    for (size_t j = 0; j < s->nfound && out->secret == NULL; j++) {
        size_t i = s->order[j];
        if (s->found[i] != NULL) {
            out->reader = s->archives[i].reader;
            out->secret = s->found[i];
        }
    }
    decide_status(s, t, out);
done:
    if (rc != SMAR_OK)
        release_records(s);
    return rc;
}

/* ---- payloads and rendering ----------------------------------------------------------- */

static int read_payload_at(smar_series *s, const payload_loc *loc, char **out, size_t *len)
{
    int rc = smar_reader_read_payload(loc->reader, loc->secret, loc->version, out, len);
    if (rc == SMAR_OK)
        return SMAR_OK;
    *out = NULL;
    *len = 0;
    if (loc->version != NULL)
        return smar_fail(&s->err, rc, "secret '%s', version '%s': %s", smar_secret_id(loc->secret),
                         smar_version_id(loc->version), smar_reader_error(loc->reader));
    return smar_fail(&s->err, rc, "secret '%s': %s", smar_secret_id(loc->secret),
                     smar_reader_error(loc->reader));
}

int smar_series_read_payload(smar_series *s, const smar_at *at, char **out, size_t *len)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (out == NULL || len == NULL || at == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "read_payload needs a result and buffers");
    *out = NULL;
    *len = 0;
    if (at->status != SMAR_AT_FOUND || at->payload_reader == NULL || at->payload_secret == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "no payload to read for this result");
    payload_loc loc = {at->payload_reader, at->payload_secret, at->payload_version};
    return read_payload_at(s, &loc, out, len);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The member text of an object's JSON text, without braces and outer blanks ("" for {}).
 * The texts come from authenticated archives: only their shape is checked here. */
static bool object_members(const char *p, size_t n, smar_span *members)
{
    size_t a = 0, z = n;
    while (a < z && is_blank(p[a]))
        a++;
    while (z > a && is_blank(p[z - 1]))
        z--;
    if (z - a < 2 || p[a] != '{' || p[z - 1] != '}')
        return false;
    a++;
    z--;
    while (a < z && is_blank(p[a]))
        a++;
    while (z > a && is_blank(p[z - 1]))
        z--;
    *members = (smar_span){p + a, z - a};
    return true;
}

/* Splice an object's members into the object being built: the raw member texts are
 * copied, never re-serialised, so every value stays byte-exact. */
static int splice_members(smar_series *s, smar_buf *b, const char *obj, size_t n, bool *first,
                          const char *what)
{
    smar_span m;
    if (obj == NULL || !object_members(obj, n, &m))
        return smar_fail(&s->err, SMAR_E_CORRUPT, "%s is not a JSON object", what);
    if (m.n == 0)
        return SMAR_OK;
    if (!*first && smar_buf_append(b, ",", 1) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    *first = false;
    if (smar_buf_append(b, m.p, m.n) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    return SMAR_OK;
}

/* Splice the payload members held at loc; the temporary copy is wiped. */
static int splice_payload(smar_series *s, smar_buf *b, const payload_loc *loc, bool *first)
{
    char *p = NULL;
    size_t n = 0;
    int rc = read_payload_at(s, loc, &p, &n);
    if (rc == SMAR_OK) {
        rc = splice_members(s, b, p, n, first, "a payload");
        if (rc != SMAR_OK)
            smar_err_prefix(&s->err, "secret '%s': ", smar_secret_id(loc->secret));
    }
    smar_secret_buffer_free(p, n);
    return rc;
}

/*
 * One version object: its metadata, then its payload when some archive's record of the
 * version holds it. The metadata is then taken from that same record, so the pair is one
 * snapshot's view ("payload_available": true beside the payload, not a later snapshot's
 * false). A secret-level payload is not copied into a version that did not carry one.
 */
static int render_version(smar_series *s, smar_buf *b, const smar_secret *rec,
                          const smar_version *v)
{
    payload_loc loc;
    bool held = locate_version_payload(s, smar_version_id(v), &loc);
    if (held) {
        rec = loc.secret;
        v = loc.version;
    }
    size_t n = 0;
    const char *meta = smar_version_metadata_json(v, &n);
    bool first = true;
    if (smar_buf_append(b, "{", 1) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    int rc = splice_members(s, b, meta, n, &first, "a version's metadata");
    if (rc != SMAR_OK)
        return smar_err_prefix(&s->err, "secret '%s', version '%s': ", smar_secret_id(rec),
                               smar_version_id(v));
    if (held) {
        rc = splice_payload(s, b, &loc, &first);
        if (rc != SMAR_OK)
            return rc;
    }
    if (smar_buf_append(b, "}", 1) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    return SMAR_OK;
}

/* A version to render and the record whose metadata describes it. */
typedef struct version_ref {
    const smar_secret *rec;
    const smar_version *v;
    size_t seq; /* order met, to keep the sort stable */
} version_ref;

static int version_ref_cmp(const void *pa, const void *pb)
{
    const version_ref *a = pa, *b = pb;
    smar_time_ns ca = smar_version_created(a->v), cb = smar_version_created(b->v);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static int push_version(version_ref **refs, size_t *n, size_t *cap, version_ref ref)
{
    if (*n == *cap) {
        size_t c = *cap == 0 ? 16 : *cap * 2;
        version_ref *grown = realloc(*refs, c * sizeof *grown);
        if (grown == NULL)
            return SMAR_E_NOMEM;
        *refs = grown;
        *cap = c;
    }
    (*refs)[(*n)++] = ref;
    return SMAR_OK;
}

/* Every version created at or before t known to any record, once each (the record met
 * first in describing order describes it), oldest first. */
static int collect_versions(smar_series *s, smar_time_ns t, version_ref **refs, size_t *n)
{
    strset seen = {0};
    size_t cap = 0;
    int rc = SMAR_OK;
    *refs = NULL;
    *n = 0;
    for (size_t j = 0; j < s->nfound && rc == SMAR_OK; j++) {
        const smar_secret *rec = s->found[s->order[j]];
        size_t nv = rec != NULL ? smar_secret_version_count(rec) : 0;
        for (size_t k = 0; k < nv && rc == SMAR_OK; k++) {
            const smar_version *v = smar_secret_version(rec, k);
            bool added = false;
            if (smar_version_created(v) > t)
                continue;
            rc = strset_add(&seen, smar_version_id(v), &added);
            if (rc == SMAR_OK && added)
                rc = push_version(refs, n, &cap, (version_ref){rec, v, *n});
        }
    }
    strset_free(&seen);
    if (rc != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory listing versions");
    if (*n > 1)
        qsort(*refs, *n, sizeof **refs, version_ref_cmp);
    return SMAR_OK;
}

static int render_versions(smar_series *s, smar_buf *b, const smar_at *at, int all_versions)
{
    version_ref one = {at->version_secret, at->version, 0};
    version_ref *refs = &one;
    size_t n = 1;
    int rc = SMAR_OK;
    if (all_versions) {
        rc = collect_versions(s, at->at, &refs, &n);
        if (rc != SMAR_OK)
            return rc;
    }
    if (smar_buf_append_str(b, "\"versions\":[") != SMAR_OK)
        rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    for (size_t k = 0; k < n && rc == SMAR_OK; k++) {
        if (k > 0 && smar_buf_append(b, ",", 1) != SMAR_OK)
            rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
        else
            rc = render_version(s, b, refs[k].rec, refs[k].v);
    }
    if (rc == SMAR_OK && smar_buf_append(b, "]", 1) != SMAR_OK)
        rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    if (refs != &one)
        free(refs);
    return rc;
}

/* Whether at came from this series' last resolve (it points into its records). */
static bool is_current(const smar_series *s, const smar_at *at)
{
    for (size_t i = 0; i < s->nfound; i++) {
        if (s->found[i] != NULL && s->found[i] == at->secret)
            return true;
    }
    return false;
}

static int render_secret(smar_series *s, smar_buf *b, const smar_at *at, int all_versions)
{
    bool first = true;
    size_t n = 0;
    const char *meta = smar_secret_metadata_json(at->secret, &n);
    if (smar_buf_append(b, "{", 1) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    int rc = splice_members(s, b, meta, n, &first, "the secret's metadata");
    if (rc != SMAR_OK)
        return smar_err_prefix(&s->err, "secret '%s': ", smar_secret_id(at->secret));
    if (at->status == SMAR_AT_FOUND) {
        payload_loc loc = {at->payload_reader, at->payload_secret, at->payload_version};
        (void)locate_secret_payload(s, smar_version_id(at->version), &loc);
        rc = splice_payload(s, b, &loc, &first);
        if (rc != SMAR_OK)
            return rc;
    }
    if (!first && smar_buf_append(b, ",", 1) != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    rc = render_versions(s, b, at, all_versions);
    if (rc == SMAR_OK && smar_buf_append(b, "}", 1) != SMAR_OK)
        rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    return rc;
}

int smar_series_render(smar_series *s, const smar_at *at, int all_versions, char **out, size_t *len)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (out == NULL || len == NULL || at == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "render needs a result and buffers");
    *out = NULL;
    *len = 0;
    if ((at->status != SMAR_AT_FOUND && at->status != SMAR_AT_NO_PAYLOAD) || at->version == NULL ||
        at->version_secret == NULL || !is_current(s, at))
        return smar_fail(&s->err, SMAR_E_INVALID,
                         "only a found secret from the last resolve can be rendered");

    /* The output holds payloads: the buffer is wiped whenever it grows or is dropped. */
    smar_buf b = {.secure = true};
    int rc = render_secret(s, &b, at, all_versions);
    if (rc == SMAR_OK && smar_buf_append(&b, "", 1) != SMAR_OK)
        rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory rendering");
    if (rc != SMAR_OK) {
        smar_buf_free(&b);
        return rc;
    }
    *out = (char *)b.data;
    *len = b.len - 1;
    return SMAR_OK;
}

/* ---- select --------------------------------------------------------------------------- */

/* The selection's lists as sets, so matching a secret costs the same for 1 or 10,000
 * entries. An empty set means "any". */
typedef struct sel_sets {
    strset ids, names, types, groups, labels;
} sel_sets;

static void sel_sets_free(sel_sets *ss)
{
    strset_free(&ss->ids);
    strset_free(&ss->names);
    strset_free(&ss->types);
    strset_free(&ss->groups);
    strset_free(&ss->labels);
}

static int fill_set(smar_series *s, strset *set, const char *const *list, size_t n,
                    const char *what)
{
    if (n > 0 && list == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "selection: %s list missing", what);
    for (size_t k = 0; k < n; k++) {
        if (list[k] == NULL)
            return smar_fail(&s->err, SMAR_E_INVALID, "selection: empty entry in %s", what);
        if (strset_add(set, list[k], NULL) != SMAR_OK)
            return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory building the selection");
    }
    return SMAR_OK;
}

static int sel_sets_make(smar_series *s, const smar_selection *sel, sel_sets *ss)
{
    memset(ss, 0, sizeof *ss);
    if (sel == NULL)
        return SMAR_OK;
    int rc = fill_set(s, &ss->ids, sel->ids, sel->nids, "ids");
    if (rc == SMAR_OK)
        rc = fill_set(s, &ss->names, sel->names, sel->nnames, "names");
    if (rc == SMAR_OK)
        rc = fill_set(s, &ss->types, sel->types, sel->ntypes, "types");
    if (rc == SMAR_OK)
        rc = fill_set(s, &ss->groups, sel->groups, sel->ngroups, "groups");
    if (rc == SMAR_OK)
        rc = fill_set(s, &ss->labels, sel->labels, sel->nlabels, "labels");
    return rc;
}

/* Ids of the groups whose name the selection gives, from this archive's document (group
 * names are unique per instance, but an id is only valid in the archive that names it). */
static int named_group_ids(smar_series *s, smar_reader *r, const strset *groups, strset *ids)
{
    const char *doc = NULL;
    size_t len = 0;
    int rc = smar_reader_document(r, &doc, &len);
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    smar_span value, list, item, name, id;
    char why[128];
    if (!smar_json_validate((smar_span){doc, len}, SMAR_JSON_MAX_DEPTH, &value, why, sizeof why))
        return smar_fail(&s->err, SMAR_E_CORRUPT, "archive document: %s", why);
    if (!smar_json_get(value, "secret_groups", &list) || smar_json_kind_of(list) != SMAR_JSON_ARRAY)
        return SMAR_OK;
    smar_json_iter it;
    smar_json_iter_init(&it, list);
    while (smar_json_next_element(&it, &item)) {
        if (!smar_json_get(item, "name", &name) || !smar_json_get(item, "id", &id) ||
            smar_json_kind_of(name) != SMAR_JSON_STRING ||
            smar_json_kind_of(id) != SMAR_JSON_STRING)
            continue;
        char *n = smar_json_string_dup(name);
        char *gid = n != NULL && strset_has(groups, n) ? smar_json_string_dup(id) : NULL;
        rc = gid != NULL ? strset_add(ids, gid, NULL) : SMAR_OK;
        free(n);
        free(gid);
        if (rc != SMAR_OK)
            return smar_fail(&s->err, rc, "out of memory reading secret groups");
    }
    return SMAR_OK;
}

static bool labels_match(const smar_secret *rec, const strset *labels)
{
    size_t n = smar_secret_label_count(rec);
    for (size_t k = 0; k < n; k++) {
        const char *label = smar_secret_label(rec, k);
        if (label != NULL && strset_has(labels, label))
            return true;
    }
    return false;
}

/* What one archive's scan needs. */
typedef struct select_ctx {
    const sel_sets *sets;
    strset group_ids; /* ids of the selected group names in the archive being scanned */
    strset *hits;     /* matching ids, first met first */
    int rc;
} select_ctx;

static bool matches(const select_ctx *c, const smar_secret *rec)
{
    const sel_sets *ss = c->sets;
    if (ss->ids.count > 0 && !strset_has(&ss->ids, smar_secret_id(rec)))
        return false;
    if (ss->names.count > 0 && !strset_has(&ss->names, smar_secret_name(rec)))
        return false;
    if (ss->types.count > 0 && !strset_has(&ss->types, smar_secret_type(rec)))
        return false;
    if (ss->groups.count > 0) {
        const char *gid = smar_secret_group_id(rec);
        if (!strset_has(&ss->groups, gid) && !strset_has(&c->group_ids, gid))
            return false;
    }
    return ss->labels.count == 0 || labels_match(rec, &ss->labels);
}

static int collect_cb(smar_reader *r, const smar_secret *rec, void *payload)
{
    (void)r;
    select_ctx *c = payload;
    if (!matches(c, rec))
        return 0;
    c->rc = strset_add(c->hits, smar_secret_id(rec), NULL);
    return c->rc != SMAR_OK ? 1 : 0;
}

/* Look the selected ids up in the index of one archive. */
static int scan_ids(smar_reader *r, select_ctx *c)
{
    const strset *ids = &c->sets->ids;
    for (size_t k = 0; k < ids->count; k++) {
        smar_secret *rec = NULL;
        if (ids->keys[k][0] == '\0')
            continue; /* no secret has an empty id */
        int rc = smar_reader_find_id(r, ids->keys[k], &rec);
        if (rc == SMAR_E_NOTFOUND)
            continue;
        if (rc != SMAR_OK)
            return rc;
        (void)collect_cb(r, rec, c);
        smar_secret_free(rec);
        if (c->rc != SMAR_OK)
            return c->rc;
    }
    return SMAR_OK;
}

static int scan_names(smar_reader *r, select_ctx *c)
{
    const strset *names = &c->sets->names;
    for (size_t k = 0; k < names->count; k++) {
        int rc = smar_reader_find_name(r, names->keys[k], NULL, collect_cb, c);
        if (c->rc != SMAR_OK)
            return c->rc;
        if (rc != SMAR_OK)
            return rc;
    }
    return SMAR_OK;
}

/* Up to this many lookups always go through the index. */
#define SELECT_INDEX_LOOKUPS 64

/* A lookup through the index may decrypt an index and a manifest chunk; a walk decrypts
 * every manifest chunk once. Past as many lookups as there are manifest chunks, walking is
 * the cheaper way to the same secrets. */
static bool index_pays(const smar_reader *r, size_t lookups)
{
    smar_archive_info info;
    if (lookups <= SELECT_INDEX_LOOKUPS || smar_reader_info(r, &info) != SMAR_OK)
        return true;
    return lookups <= info.section_chunks[SMAR_SECTION_MANIFEST];
}

static int scan_archive(smar_series *s, smar_reader *r, select_ctx *c)
{
    c->rc = SMAR_OK;
    int rc = SMAR_OK;
    if (c->sets->groups.count > 0)
        rc = named_group_ids(s, r, &c->sets->groups, &c->group_ids);
    if (rc != SMAR_OK)
        return rc;
    /* Ids and names go through the indexes; other criteria then only filter. */
    const strset *ids = &c->sets->ids, *names = &c->sets->names;
    if (ids->count > 0 && index_pays(r, ids->count))
        rc = scan_ids(r, c);
    else if (ids->count == 0 && names->count > 0 && index_pays(r, names->count))
        rc = scan_names(r, c);
    else
        rc = smar_reader_foreach(r, collect_cb, c);
    if (c->rc != SMAR_OK)
        return smar_fail(&s->err, c->rc, "out of memory selecting secrets");
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    return SMAR_OK;
}

/*
 * The ids are gathered from every archive before the first callback: the callback may
 * well resolve or render through this series, which asks the same readers, and a reader
 * is not to be re-entered from its own iteration.
 */
int smar_series_select(smar_series *s, const smar_selection *sel, smar_id_cb cb, void *payload)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (cb == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "select needs a callback");
    sel_sets sets;
    strset hits = {0};
    select_ctx c = {.sets = &sets, .hits = &hits};
    int rc = sel_sets_make(s, sel, &sets);
    for (size_t i = 0; i < s->count && rc == SMAR_OK; i++) {
        rc = scan_archive(s, s->archives[i].reader, &c);
        strset_free(&c.group_ids);
    }
    for (size_t k = 0; k < hits.count && rc == SMAR_OK; k++)
        rc = cb(hits.keys[k], payload);
    strset_free(&hits);
    sel_sets_free(&sets);
    return rc;
}
