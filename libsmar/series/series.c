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
#include "render.h"
#include "strset.h"

#include <stdlib.h>

/* ---- the handle ----------------------------------------------------------------------- */

typedef struct series_archive {
    smar_reader *reader;      /* borrowed; NULL for a source not opened yet */
    smar_series_open_cb open; /* a source opened when first needed, else NULL */
    void *open_ctx;
    smar_time_ns snapshot;
    char *instance; /* the instance's CRN (else guid) from the stored document, or NULL */
    int damage;     /* SMAR_OK, or the status of the first damage met when skipping damage */
    bool left_out;  /* damaged where every answer needs it (index, records): not asked again */
    /* opened for a query (or added open), not only as the base of an incremental archive:
     * an archive opened as a base answers through that archive, and asking it on its own
     * as well would cost its chain's lookups a second time */
    bool queried;
    char *why; /* the reader's message for that damage */
} series_archive;

struct smar_series {
    smar_err err;
    series_archive *archives; /* ascending snapshot time; equal times keep the add order */
    size_t count;
    size_t cap;
    bool skip_damaged;
    bool has_sources; /* some archives were added as sources: resolve opens what it needs */
    /* The last resolve: each archive's record of the secret (NULL where it lacks it or is
     * left out as damaged), nfound long, and the usable archives in describing order. */
    smar_secret **found;
    size_t *order;
    size_t norder;
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
    s->nfound = s->norder = 0;
}

void smar_series_free(smar_series *s)
{
    if (s == NULL)
        return;
    release_records(s);
    for (size_t i = 0; i < s->count; i++) {
        if (s->archives[i].reader) /* it outlives the series: no opener pointing here */
            smar_reader_set_base_opener(s->archives[i].reader, NULL, NULL);
        free(s->archives[i].instance);
        free(s->archives[i].why);
    }
    free(s->archives);
    free(s);
}

const char *smar_series_error(const smar_series *s)
{
    return smar_err_message(s != NULL ? &s->err : NULL);
}

int smar_series_set_skip_damaged(smar_series *s, int skip)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    s->skip_damaged = skip != 0;
    return SMAR_OK;
}

static const series_archive *archive_of(const smar_series *s, const smar_reader *r)
{
    for (size_t i = 0; i < s->count; i++) {
        if (s->archives[i].reader == r)
            return &s->archives[i];
    }
    return NULL;
}

int smar_series_archive_status(const smar_series *s, const smar_reader *r, const char **why)
{
    const series_archive *a = s != NULL ? archive_of(s, r) : NULL;
    if (why != NULL)
        *why = a != NULL && a->why != NULL ? a->why : "";
    if (a == NULL)
        return SMAR_E_INVALID;
    return a->damage;
}

/* The instance an archive belongs to: "instance"."crn" of its stored document, else
 * "instance"."guid"; NULL when the document names neither (an export without them). */
static int instance_of(smar_series *s, smar_reader *r, char **out)
{
    const char *doc = NULL;
    size_t len = 0;
    smar_span value;
    char why[128];
    *out = NULL;
    int rc = smar_reader_document(r, &doc, &len);
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    if (!smar_json_validate((smar_span){doc, len}, SMAR_JSON_MAX_DEPTH, &value, why, sizeof why))
        return smar_fail(&s->err, SMAR_E_CORRUPT, "archive document: %s", why);
    if (!smar_json_document_instance(value, out))
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory reading the instance");
    return SMAR_OK;
}

/* Archives of two instances never answer together: their secrets would be taken for
 * each other's deletions. */
static int check_same_instance(smar_series *s, const char *instance)
{
    for (size_t i = 0; instance != NULL && i < s->count; i++) {
        const char *other = s->archives[i].instance;
        if (other != NULL && strcmp(other, instance) != 0)
            return smar_fail(&s->err, SMAR_E_INVALID,
                             "archives of two different instances in one series: %s and %s", other,
                             instance);
    }
    return SMAR_OK;
}

/* Keep the archives in ascending snapshot order; equal times keep the add order. */
static int insert_archive(smar_series *s, series_archive a)
{
    if (s->count == s->cap) {
        size_t cap = s->cap == 0 ? 8 : s->cap * 2;
        series_archive *grown = realloc(s->archives, cap * sizeof *grown);
        if (grown == NULL)
            return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory adding an archive");
        s->archives = grown;
        s->cap = cap;
    }
    size_t i = s->count;
    while (i > 0 && s->archives[i - 1].snapshot > a.snapshot) {
        s->archives[i] = s->archives[i - 1];
        i--;
    }
    s->archives[i] = a;
    s->count++;
    return SMAR_OK;
}

/* ---- incremental archives: their bases come from the series itself ----------------- */

static int open_source(smar_series *s, size_t i);

static bool same_id(smar_reader *r, const uint8_t id[16])
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    return smar_reader_info(r, &info) == SMAR_OK && memcmp(info.archive_id, id, 16) == 0;
}

/* The series' open archive with this id, else SIZE_MAX. */
static size_t open_archive_with_id(smar_series *s, const uint8_t id[16])
{
    for (size_t j = 0; j < s->count; j++)
        if (s->archives[j].reader && same_id(s->archives[j].reader, id))
            return j;
    return SIZE_MAX;
}

/* The series' archive for base b: the one with its archive id, else the one with its
 * snapshot time (a source is opened for that; attaching then refuses an archive that is
 * not the base, as SMAR_E_AUTH), else none (SIZE_MAX). */
static size_t archive_for_base(smar_series *s, const smar_base_info *b, int *rc)
{
    *rc = SMAR_OK;
    size_t open = open_archive_with_id(s, b->archive_id);
    if (open != SIZE_MAX)
        return open;
    for (size_t j = 0; j < s->count; j++) {
        /* a source's snapshot comes from its name, to the second */
        if (s->archives[j].snapshot / 1000000000 != b->snapshot / 1000000000 ||
            s->archives[j].left_out)
            continue;
        if ((*rc = open_source(s, j)) != SMAR_OK)
            return SIZE_MAX;
        if (s->archives[j].reader)
            return j;
    }
    return SIZE_MAX;
}

/* The base opener of the series' incremental archives (smar_reader_set_base_opener):
 * base i of r from the series (an open archive, or the source with its snapshot time,
 * opened now), SMAR_E_NOTFOUND when the series lacks it. */
static int series_base_opener(void *ctx, smar_reader *r, size_t i, smar_reader **base)
{
    smar_series *s = ctx;
    smar_base_info info = SMAR_BASE_INFO_INIT;
    int rc = smar_reader_base(r, i, &info);
    if (rc != SMAR_OK)
        return rc;
    size_t j = archive_for_base(s, &info, &rc);
    if (rc != SMAR_OK)
        return rc;
    if (j == SIZE_MAX)
        return SMAR_E_NOTFOUND;
    *base = s->archives[j].reader;
    return SMAR_OK;
}

/* Attach the bases of archive i that are open already; the others are opened when a read
 * first needs them (a base can cost a key unwrap: a read that needs the newest archive
 * and the full one opens only those). A base the series lacks stays unattached: what
 * needs it fails with SMAR_E_NEEDBASE, naming it. */
static int attach_bases(smar_series *s, size_t i)
{
    smar_reader *r = s->archives[i].reader;
    if (r == NULL || smar_reader_base_count(r) == 0)
        return SMAR_OK;
    smar_reader_set_base_opener(r, series_base_opener, s);
    for (size_t b = 0; b < smar_reader_base_count(r); b++) {
        smar_base_info info = SMAR_BASE_INFO_INIT;
        int rc;
        if (smar_reader_base_attached(r, b) || smar_reader_base(r, b, &info) != SMAR_OK)
            continue;
        size_t j = open_archive_with_id(s, info.archive_id);
        if (j != SIZE_MAX && (rc = smar_reader_attach_base(r, b, s->archives[j].reader)) != SMAR_OK)
            return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    }
    return SMAR_OK;
}

/* Detach reader `base` from every archive of the series it was attached to. */
static void withdraw_base(smar_series *s, smar_reader *base)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    if (smar_reader_info(base, &info) != SMAR_OK)
        return;
    for (size_t j = 0; j < s->count; j++) {
        smar_reader *r = s->archives[j].reader;
        for (size_t b = 0; r && r != base && b < smar_reader_base_count(r); b++) {
            smar_base_info bi = SMAR_BASE_INFO_INIT;
            if (smar_reader_base(r, b, &bi) == SMAR_OK &&
                memcmp(bi.archive_id, info.archive_id, 16) == 0)
                smar_reader_attach_base(r, b, NULL);
        }
    }
}

/* Archive i as a base of the incremental archives opened before it. On failure (an
 * archive with a listed base's id but other content) nothing stays attached to it. */
static int offer_as_base(smar_series *s, size_t i)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    if (smar_reader_info(s->archives[i].reader, &info) != SMAR_OK)
        return SMAR_OK;
    for (size_t j = 0; j < s->count; j++) {
        smar_reader *r = s->archives[j].reader;
        for (size_t b = 0; r && j != i && b < smar_reader_base_count(r); b++) {
            smar_base_info base = SMAR_BASE_INFO_INIT;
            if (smar_reader_base_attached(r, b) || smar_reader_base(r, b, &base) != SMAR_OK ||
                memcmp(base.archive_id, info.archive_id, 16) != 0)
                continue;
            if (smar_reader_attach_base(r, b, s->archives[i].reader) != SMAR_OK) {
                smar_fail(&s->err, SMAR_E_AUTH, "%s", smar_reader_error(r));
                withdraw_base(s, s->archives[i].reader);
                return SMAR_E_AUTH;
            }
        }
    }
    return SMAR_OK;
}

static size_t index_of_reader(const smar_series *s, const smar_reader *r)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->archives[i].reader == r)
            return i;
    return SIZE_MAX;
}

static int link_archive(smar_series *s, const smar_reader *r)
{
    size_t i = index_of_reader(s, r);
    int rc = i == SIZE_MAX ? SMAR_OK : offer_as_base(s, i);
    if (rc == SMAR_OK && (i = index_of_reader(s, r)) != SIZE_MAX)
        rc = attach_bases(s, i);
    return rc;
}

static bool is_damage(int rc);

int smar_series_add(smar_series *s, smar_reader *r)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (r == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "no reader given");
    if (archive_of(s, r) != NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "reader added to the series twice");
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    int rc = smar_reader_info(r, &info);
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    char *instance = NULL;
    if ((rc = instance_of(s, r, &instance)) != SMAR_OK ||
        (rc = check_same_instance(s, instance)) != SMAR_OK) {
        free(instance);
        return rc;
    }
    /* An archive without a snapshot time is dated by when it was made. */
    smar_time_ns snap = info.snapshot != SMAR_TIME_NONE ? info.snapshot : info.created;
    rc = insert_archive(
        s, (series_archive){.reader = r, .snapshot = snap, .instance = instance, .queried = true});
    if (rc != SMAR_OK) {
        free(instance);
        return rc;
    }
    if ((rc = link_archive(s, r)) != SMAR_OK) { /* the caller keeps r: take it out again */
        withdraw_base(s, r);
        smar_reader_set_base_opener(r, NULL, NULL);
        size_t i = index_of_reader(s, r);
        free(s->archives[i].instance);
        memmove(&s->archives[i], &s->archives[i + 1], (s->count - i - 1) * sizeof *s->archives);
        s->count--;
    }
    return rc;
}

int smar_series_add_source(smar_series *s, smar_time_ns snapshot, smar_series_open_cb open,
                           void *ctx)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (open == NULL || snapshot == SMAR_TIME_NONE)
        return smar_fail(&s->err, SMAR_E_INVALID, "a source needs an opener and a snapshot time");
    int rc =
        insert_archive(s, (series_archive){.open = open, .open_ctx = ctx, .snapshot = snapshot});
    if (rc == SMAR_OK)
        s->has_sources = true;
    return rc;
}

/* Open source i if it is not yet: SMAR_OK (also when it is left out as damaged: callers
 * check usable()), or why it could not be opened. The snapshot time its name promised is
 * checked against the archive's own: the series was ordered by it. */
static int open_source(smar_series *s, size_t i)
{
    series_archive *a = &s->archives[i];
    if (a->reader != NULL || a->left_out)
        return SMAR_OK;
    smar_reader *r = NULL;
    int rc = a->open(a->open_ctx, &r);
    if (rc != SMAR_OK && s->skip_damaged && is_damage(rc)) {
        a->left_out = true;
        a->damage = rc;
        return SMAR_OK;
    }
    if (rc != SMAR_OK)
        return smar_fail(&s->err, rc, "an archive of the series could not be opened");
    if (r == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "a source's opener gave no reader");
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    if ((rc = smar_reader_info(r, &info)) != SMAR_OK)
        return smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    smar_time_ns snap = info.snapshot != SMAR_TIME_NONE ? info.snapshot : info.created;
    if (snap / 1000000000 != a->snapshot / 1000000000)
        return smar_fail(&s->err, SMAR_E_CORRUPT,
                         "an archive's snapshot time is not the one its name gives: the series "
                         "cannot be ordered by its names");
    char *instance = NULL;
    if ((rc = instance_of(s, r, &instance)) != SMAR_OK ||
        (rc = check_same_instance(s, instance)) != SMAR_OK) {
        free(instance);
        return rc;
    }
    a->instance = instance;
    a->reader = r;
    return link_archive(s, r);
}

/* Open source i for a query (see series_archive.queried). */
static int ensure_open(smar_series *s, size_t i)
{
    int rc = open_source(s, i);
    if (rc == SMAR_OK)
        s->archives[i].queried = true;
    return rc;
}

static int open_all(smar_series *s)
{
    int rc = SMAR_OK;
    for (size_t i = 0; i < s->count && rc == SMAR_OK; i++)
        rc = ensure_open(s, i);
    return rc;
}

int smar_series_document(smar_series *s, smar_time_ns t, const char **json, size_t *len)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (json == NULL || len == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "document needs a result");
    size_t pick = SIZE_MAX;
    int rc = SMAR_OK;
    do { /* a source that turns out damaged when opened is left out: pick again */
        pick = SIZE_MAX;
        for (size_t i = 0; i < s->count; i++) {
            if (!s->archives[i].left_out && (pick == SIZE_MAX || s->archives[i].snapshot <= t))
                pick = i;
        }
        if (pick == SIZE_MAX)
            return smar_fail(&s->err, SMAR_E_NOTFOUND, "the series has no usable archive");
        if ((rc = ensure_open(s, pick)) != SMAR_OK)
            return rc;
    } while (s->archives[pick].left_out);
    smar_reader *r = s->archives[pick].reader;
    rc = smar_reader_document(r, json, len);
    return rc == SMAR_OK ? SMAR_OK : smar_fail(&s->err, rc, "%s", smar_reader_error(r));
}

smar_time_ns smar_series_latest(const smar_series *s)
{
    if (s == NULL || s->count == 0)
        return SMAR_TIME_NONE;
    return s->archives[s->count - 1].snapshot;
}

/* ---- resolve -------------------------------------------------------------------------- */

static bool usable(const smar_series *s, size_t i)
{
    return !s->archives[i].left_out;
}

static size_t damaged_count(const smar_series *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++)
        n += s->archives[i].damage != SMAR_OK ? 1 : 0;
    return n;
}

/* Damage, as opposed to a missing file, a wrong key or no memory. */
static bool is_damage(int rc)
{
    return rc == SMAR_E_CORRUPT || rc == SMAR_E_AUTH || rc == SMAR_E_FORMAT || rc == SMAR_E_LIMIT;
}

/* Remember the first damage met in archive i (and why); with left_out, leave it out of
 * every answer from now on. */
static void note_damage(smar_series *s, size_t i, int rc, bool left_out)
{
    series_archive *a = &s->archives[i];
    a->left_out = a->left_out || left_out;
    if (a->damage != SMAR_OK)
        return;
    a->damage = rc;
    a->why = strdup(smar_reader_error(a->reader));
}

static void set_damaged(smar_series *s, size_t i, int rc)
{
    note_damage(s, i, rc, true);
}

/* The usable archives with snapshot at or before t newest first, then those after t
 * oldest first. */
static void build_order(smar_series *s, smar_time_ns t)
{
    size_t k = 0;
    while (k < s->nfound && s->archives[k].snapshot <= t)
        k++;
    size_t j = 0;
    for (size_t i = k; i > 0; i--) {
        if (usable(s, i - 1))
            s->order[j++] = i - 1;
    }
    for (size_t i = k; i < s->nfound; i++) {
        if (usable(s, i))
            s->order[j++] = i;
    }
    s->norder = j;
}

/* Ask every usable archive for id (with narrow, only those narrow marks). *held counts the
 * archives that have it. */
static int load_records(smar_series *s, const char *id, const bool *narrow, size_t *held)
{
    size_t n = s->count > 0 ? s->count : 1;
    s->found = calloc(n, sizeof *s->found);
    s->order = calloc(n, sizeof *s->order);
    if (s->found == NULL || s->order == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory resolving secret '%s'", id);
    s->nfound = s->count;
    *held = 0;
    for (size_t i = 0; i < s->count; i++) {
        smar_secret *rec = NULL;
        if (narrow != NULL && !narrow[i])
            continue;
        int rc = ensure_open(s, i);
        if (rc != SMAR_OK)
            return rc;
        if (!usable(s, i))
            continue;
        smar_reader *r = s->archives[i].reader;
        rc = smar_reader_find_id(r, id, &rec);
        if (rc == SMAR_E_NOTFOUND)
            continue;
        if (rc != SMAR_OK && s->skip_damaged && is_damage(rc)) {
            set_damaged(s, i, rc);
            continue;
        }
        if (rc != SMAR_OK)
            return smar_fail(&s->err, rc, "secret '%s': %s", id, smar_reader_error(r));
        s->found[i] = rec;
        (*held)++;
    }
    return SMAR_OK;
}

/* The archive whose snapshot decides what existed at t: the newest usable one at or
 * before t (so the last one for t after every snapshot); SIZE_MAX when t is earlier than
 * every snapshot. */
static size_t deciding_archive(const smar_series *s, smar_time_ns t)
{
    size_t d = SIZE_MAX;
    for (size_t i = 0; i < s->nfound && s->archives[i].snapshot <= t; i++) {
        if (usable(s, i))
            d = i;
    }
    return d;
}

/* When the secret came to be: the describing record's created_at, else its oldest known
 * version's. */
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

/*
 * Whether the secret existed at t. The deciding snapshot holds it: it existed. It lacks it
 * but an earlier snapshot held it: it was deleted (*gone: the first snapshot after the
 * last one holding it). Otherwise no snapshot at or before t saw it: it existed at t only
 * if it was created after the deciding snapshot (or before t when no snapshot is that
 * old), as a later archive's record tells.
 */
static smar_at_status existence(const smar_series *s, size_t d, smar_time_ns t,
                                smar_time_ns created, smar_time_ns *gone)
{
    if (d != SIZE_MAX) {
        if (s->found[d] != NULL)
            return SMAR_AT_FOUND;
        size_t last = SIZE_MAX;
        for (size_t i = 0; i < d; i++) {
            if (s->found[i] != NULL)
                last = i;
        }
        if (last != SIZE_MAX) {
            for (size_t i = last + 1; i <= d && *gone == SMAR_TIME_NONE; i++) {
                if (usable(s, i))
                    *gone = s->archives[i].snapshot;
            }
            return SMAR_AT_DELETED;
        }
        if (created != SMAR_TIME_NONE && created <= s->archives[d].snapshot)
            return SMAR_AT_NOT_CREATED; /* not in the snapshot taken after its creation */
    }
    return created != SMAR_TIME_NONE && created <= t ? SMAR_AT_FOUND : SMAR_AT_NOT_CREATED;
}

/* The newest version created at or before t in any record (the union by version id has
 * the same newest element as the newest of each record's newest). Ties keep the record
 * met first in describing order. */
static const smar_version *newest_version(const smar_series *s, smar_time_ns t,
                                          const smar_secret **holder)
{
    const smar_version *best = NULL;
    for (size_t j = 0; j < s->norder; j++) {
        const smar_secret *rec = s->found[s->order[j]];
        const smar_version *v = rec != NULL ? smar_secret_version_at(rec, t) : NULL;
        if (v != NULL && (best == NULL || smar_version_created(v) > smar_version_created(best))) {
            best = v;
            *holder = rec;
        }
    }
    return best;
}

static bool any_versions(const smar_series *s)
{
    for (size_t i = 0; i < s->nfound; i++) {
        if (s->found[i] != NULL && smar_secret_version_count(s->found[i]) > 0)
            return true;
    }
    return false;
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
    for (size_t j = 0; j < s->norder; j++) {
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
    for (size_t j = 0; j < s->norder; j++) {
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

static void set_payload(smar_at *out, const payload_loc *loc)
{
    out->status = SMAR_AT_FOUND;
    out->payload_reader = loc->reader;
    out->payload_secret = loc->secret;
    out->payload_version = loc->version;
}

/* A secret that had no version at T: its payload, if any, is the secret-level one of the
 * record describing it. */
static void decide_versionless(smar_at *out)
{
    if (smar_secret_has_payload(out->secret)) {
        payload_loc loc = {out->reader, out->secret, NULL};
        set_payload(out, &loc);
    } else {
        out->status = SMAR_AT_NO_PAYLOAD_RECORDED;
    }
}

/*
 * The payload of the version at T. The deciding snapshot's own word comes first: a version
 * it recorded with "payload_available": false had no payload at T (the service had none),
 * whatever an older archive holds. Otherwise any archive holding the payload answers. A
 * version the deciding snapshot recorded without a payload, which no archive holds, is
 * restored as recorded; one it did not record (T before every snapshot, or a version made
 * after it) had a payload nobody kept.
 */
static void decide_payload(const smar_series *s, size_t d, smar_at *out)
{
    const smar_version *v = out->version_at;
    const smar_secret *snap = d != SIZE_MAX ? s->found[d] : NULL;
    const smar_version *recorded =
        snap ? smar_secret_version_by_id(snap, smar_version_id(v)) : NULL;
    payload_loc loc;
    out->payload_available =
        recorded ? smar_version_payload_available(recorded) : smar_version_payload_available(v);
    if (recorded != NULL && smar_version_has_payload(recorded)) {
        loc = (payload_loc){s->archives[d].reader, snap, recorded};
        set_payload(out, &loc);
    } else if (recorded != NULL && out->payload_available == 0) {
        out->status = SMAR_AT_NO_PAYLOAD_RECORDED;
    } else if (locate_payload(s, smar_version_id(v), &loc)) {
        set_payload(out, &loc);
    } else if (recorded != NULL) {
        out->status = SMAR_AT_NO_PAYLOAD_RECORDED;
    } else {
        out->status = SMAR_AT_NO_PAYLOAD;
        payload_window(s, v, out);
    }
}

static void decide_status(const smar_series *s, smar_time_ns t, smar_at *out)
{
    size_t d = deciding_archive(s, t);
    out->snapshot = d != SIZE_MAX ? s->archives[d].snapshot : SMAR_TIME_NONE;
    out->created = secret_created(s, out->secret);
    out->status = existence(s, d, t, out->created, &out->deleted_seen);
    if (out->status != SMAR_AT_FOUND)
        return;
    const smar_secret *holder = NULL;
    const smar_version *v = newest_version(s, t, &holder);
    if (v == NULL) {
        /* versions exist, all made after t, and no snapshot at or before t saw the secret */
        if (any_versions(s) && (d == SIZE_MAX || s->found[d] == NULL))
            out->status = SMAR_AT_NOT_CREATED;
        else
            decide_versionless(out);
        return;
    }
    out->version_secret = holder;
    out->version_at = v;
    decide_payload(s, d, out);
}

/* The describing record: the first in describing order that holds the secret. */
static void pick_describing(smar_series *s, smar_at *out)
{
    for (size_t j = 0; j < s->norder && out->secret == NULL; j++) {
        size_t i = s->order[j];
        if (s->found[i] != NULL) {
            out->reader = s->archives[i].reader;
            out->secret = s->found[i];
        }
    }
}

static void at_reset(smar_at *out, smar_time_ns t)
{
    int version = out->version;
    memset(out, 0, sizeof *out);
    out->version = version;
    out->at = t;
    out->snapshot = out->created = out->deleted_seen = SMAR_TIME_NONE;
    out->payload_from = out->payload_until = SMAR_TIME_NONE;
    out->payload_available = -1;
}

/* Bytes of each version of smar_at (SMAR_VERSIONED_SIZE). */
static const size_t at_sizes[] = {sizeof(smar_at)};

/* An smar_at the caller hands in or back: its version must be one this library knows. */
static int check_at(smar_series *s, const smar_at *at)
{
    return smar_check_version(&s->err, at->version, SMAR_AT_VERSION, "smar_at");
}

/* Give the caller the members of *full that its version of smar_at has. */
static void at_copy_out(smar_at *out, const smar_at *full)
{
    memcpy(out, full, SMAR_VERSIONED_SIZE(at_sizes, out->version));
}

/*
 * The archives a query at t usually needs, marked in narrow (s->count long): the deciding
 * snapshot and the first one after t, which knows a version made between the two. False
 * when there is none to mark (every archive is left out).
 */
static bool mark_narrow(const smar_series *s, smar_time_ns t, bool *narrow)
{
    size_t d = SIZE_MAX, next = SIZE_MAX;
    for (size_t i = 0; i < s->count; i++) {
        narrow[i] = false;
        if (!usable(s, i))
            continue;
        if (s->archives[i].snapshot <= t)
            d = i;
        else if (next == SIZE_MAX)
            next = i;
    }
    if (d != SIZE_MAX)
        narrow[d] = true;
    if (next != SIZE_MAX)
        narrow[next] = true;
    return d != SIZE_MAX || next != SIZE_MAX;
}

/* Whether an answer from the narrow set is the one every archive gives: the deciding
 * snapshot holds the secret (so it existed, as that record says), and the payload is
 * found or recorded absent there. Anything else needs the older and later archives. */
static bool narrow_answer_holds(const smar_series *s, smar_time_ns t, const smar_at *out)
{
    size_t d = deciding_archive(s, t);
    if (d == SIZE_MAX || s->found[d] == NULL)
        return false;
    return out->status == SMAR_AT_FOUND || out->status == SMAR_AT_NO_PAYLOAD_RECORDED;
}

static int resolve_loaded(smar_series *s, const char *id, smar_time_ns t, size_t held, smar_at *out)
{
    if (held == 0)
        return smar_fail(&s->err, SMAR_E_NOTFOUND, "secret '%s' is in no archive of the series",
                         id);
    build_order(s, t);
    pick_describing(s, out);
    decide_status(s, t, out);
    return SMAR_OK;
}

/* With sources not opened yet, first ask only the archives a query usually needs: a
 * series in object storage then reads one or two archives, not all. 1 when that answered,
 * 0 when every archive must be asked, or an error. */
static int resolve_narrow(smar_series *s, const char *id, smar_time_ns t, smar_at *out)
{
    bool *narrow = calloc(s->count > 0 ? s->count : 1, sizeof *narrow);
    if (narrow == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory resolving secret '%s'", id);
    size_t held = 0, damaged_before = damaged_count(s);
    int rc = mark_narrow(s, t, narrow) ? load_records(s, id, narrow, &held) : SMAR_OK;
    free(narrow);
    if (rc != SMAR_OK)
        return rc;
    /* An archive found damaged just now may have been the deciding one: ask them all. */
    if (held > 0 && damaged_count(s) == damaged_before &&
        resolve_loaded(s, id, t, held, out) == SMAR_OK && narrow_answer_holds(s, t, out))
        return 1;
    release_records(s);
    at_reset(out, t);
    smar_err_clear(&s->err);
    return 0;
}

/* Whether every archive was opened for a query (or is left out): asking them all then
 * costs no I/O, and every answer (smar_series_render's all_versions too) sees every
 * record. Archives opened only as bases do not count: asking them would repeat, archive
 * by archive, the chain lookups the incremental archive that needs them already does. */
static bool all_opened(const smar_series *s)
{
    for (size_t i = 0; i < s->count; i++) {
        if (!s->archives[i].queried && !s->archives[i].left_out)
            return false;
    }
    return true;
}

/* The resolve itself, into the library's own full smar_at. */
static int resolve_into(smar_series *s, const char *id, smar_time_ns t, bool narrow, smar_at *out)
{
    release_records(s);
    at_reset(out, t);

    if (narrow && s->has_sources && !all_opened(s)) {
        int got = resolve_narrow(s, id, t, out);
        if (got != 0) {
            out->damaged_archives = damaged_count(s);
            return got == 1 ? SMAR_OK : got;
        }
    }
    size_t held = 0;
    int rc = load_records(s, id, NULL, &held);
    out->damaged_archives = damaged_count(s);
    if (rc != SMAR_OK)
        goto done;
    rc = resolve_loaded(s, id, t, held, out);
done:
    if (rc != SMAR_OK)
        release_records(s);
    return rc;
}

int smar_series_resolve(smar_series *s, const char *id, smar_time_ns t, smar_at *out)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (id == NULL || out == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "resolve needs a secret id and a result");
    int rc = check_at(s, out);
    if (rc != SMAR_OK)
        return rc;
    smar_at full = {.version = out->version};
    rc = resolve_into(s, id, t, true, &full);
    if (rc == SMAR_OK)
        at_copy_out(out, &full);
    return rc;
}

/* After a resolve of id at the end of time: the answer for one version of it. */
static int resolve_version_into(smar_series *s, const char *id, const char *version_id,
                                smar_at *out)
{
    const smar_secret *holder = NULL;
    const smar_version *v = NULL;
    for (size_t j = 0; j < s->norder && v == NULL; j++) {
        holder = s->found[s->order[j]];
        v = holder != NULL ? smar_secret_version_by_id(holder, version_id) : NULL;
    }
    if (v == NULL)
        return smar_fail(&s->err, SMAR_E_NOTFOUND,
                         "secret '%s' has no version '%s' in any archive of the series", id,
                         version_id);
    at_reset(out, smar_version_created(v));
    pick_describing(s, out);
    out->version_secret = holder;
    out->version_at = v;
    out->payload_available = smar_version_payload_available(v);
    out->damaged_archives = damaged_count(s);
    payload_loc loc;
    if (locate_payload(s, version_id, &loc)) {
        set_payload(out, &loc);
    } else {
        out->status = SMAR_AT_NO_PAYLOAD;
        payload_window(s, v, out);
    }
    return SMAR_OK;
}

int smar_series_resolve_version(smar_series *s, const char *id, const char *version_id,
                                smar_at *out)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (id == NULL || version_id == NULL || out == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID,
                         "resolve_version needs a secret id, a version id and a result");
    int rc = check_at(s, out);
    if (rc != SMAR_OK)
        return rc;
    smar_at full = {.version = out->version};
    rc = resolve_into(s, id, INT64_MAX, false, &full);
    if (rc == SMAR_OK)
        rc = resolve_version_into(s, id, version_id, &full);
    if (rc == SMAR_OK)
        at_copy_out(out, &full);
    return rc;
}

/* ---- payloads and rendering ----------------------------------------------------------- */

static size_t archive_index(const smar_series *s, const smar_reader *r)
{
    for (size_t i = 0; i < s->count; i++) {
        if (s->archives[i].reader == r)
            return i;
    }
    return SIZE_MAX;
}

/* The id of the version whose payload loc holds (a secret-level payload: the record's
 * newest version's), or NULL for a secret without versions. */
static const char *loc_version_id(const payload_loc *loc)
{
    if (loc->version != NULL)
        return smar_version_id(loc->version);
    size_t nv = smar_secret_version_count(loc->secret);
    return nv > 0 ? smar_version_id(smar_secret_version(loc->secret, nv - 1)) : NULL;
}

/* Another archive, not yet tried, whose record holds the same version's payload. */
static bool locate_elsewhere(const smar_series *s, const char *vid, const bool *tried,
                             payload_loc *loc)
{
    for (size_t j = 0; vid != NULL && j < s->norder; j++) {
        size_t i = s->order[j];
        const smar_secret *rec = s->found[i];
        const smar_version *v = rec != NULL ? smar_secret_version_by_id(rec, vid) : NULL;
        if (tried[i] || v == NULL)
            continue;
        if (smar_version_has_payload(v)) {
            *loc = (payload_loc){s->archives[i].reader, rec, v};
            return true;
        }
        size_t nv = smar_secret_version_count(rec);
        if (smar_secret_has_payload(rec) && smar_secret_version(rec, nv - 1) == v) {
            *loc = (payload_loc){s->archives[i].reader, rec, NULL};
            return true;
        }
    }
    return false;
}

static int payload_failed(smar_series *s, const payload_loc *loc, int rc)
{
    if (loc->version != NULL)
        return smar_fail(&s->err, rc, "secret '%s', version '%s': %s", smar_secret_id(loc->secret),
                         smar_version_id(loc->version), smar_reader_error(loc->reader));
    return smar_fail(&s->err, rc, "secret '%s': %s", smar_secret_id(loc->secret),
                     smar_reader_error(loc->reader));
}

/*
 * Read the payload at loc. When damaged archives are skipped, a payload whose chunk is
 * damaged is taken from another archive that holds the same version, and the damage is
 * remembered for smar_series_archive_status (the archive stays in use for the rest).
 */
static int read_payload_at(smar_series *s, const payload_loc *loc, char **out, size_t *len)
{
    int rc = smar_reader_read_payload(loc->reader, loc->secret, loc->version, out, len);
    if (rc == SMAR_OK)
        return SMAR_OK;
    *out = NULL;
    *len = 0;
    size_t i = archive_index(s, loc->reader);
    if (!s->skip_damaged || !is_damage(rc) || i == SIZE_MAX)
        return payload_failed(s, loc, rc);
    bool *tried = calloc(s->count, sizeof *tried);
    if (tried == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory reading a payload");
    payload_loc at = *loc;
    int first_rc = rc;
    while (rc != SMAR_OK && is_damage(rc) && (i = archive_index(s, at.reader)) != SIZE_MAX) {
        note_damage(s, i, rc, false);
        tried[i] = true;
        if (!locate_elsewhere(s, loc_version_id(&at), tried, &at))
            break;
        rc = smar_reader_read_payload(at.reader, at.secret, at.version, out, len);
    }
    free(tried);
    if (rc == SMAR_OK)
        return SMAR_OK;
    *out = NULL;
    *len = 0;
    return payload_failed(s, loc, first_rc);
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
    if (check_at(s, at) != SMAR_OK)
        return SMAR_E_INVALID;
    if (at->status != SMAR_AT_FOUND || at->payload_reader == NULL || at->payload_secret == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "no payload to read for this result");
    payload_loc loc = {at->payload_reader, at->payload_secret, at->payload_version};
    return read_payload_at(s, &loc, out, len);
}

/* A render step's status with the series' message: rendering fails only on memory or on
 * a stored text that is not an object. */
static int render_failed(smar_series *s, int rc, const smar_secret *rec, const char *what)
{
    if (rc == SMAR_E_NOMEM)
        return smar_fail(&s->err, rc, "out of memory rendering");
    return smar_fail(&s->err, rc, "secret '%s': %s is not a JSON object", smar_secret_id(rec),
                     what);
}

/* Add the payload members held at loc; the temporary copy is wiped. */
static int add_payload(smar_series *s, smar_render *o, const payload_loc *loc)
{
    char *p = NULL;
    size_t n = 0;
    int rc = read_payload_at(s, loc, &p, &n);
    if (rc == SMAR_OK && (rc = smar_render_members(o, p, n, NULL)) != SMAR_OK)
        rc = render_failed(s, rc, loc->secret, "a payload");
    smar_secret_buffer_free(p, n);
    return rc;
}

static smar_reader *reader_of(const smar_series *s, const smar_secret *rec)
{
    for (size_t i = 0; i < s->nfound; i++) {
        if (s->found[i] == rec)
            return s->archives[i].reader;
    }
    return NULL;
}

/* One version object (stale_alias: without "alias", see smar_series_render). */
static int render_version(smar_series *s, smar_render *versions, const smar_secret *rec,
                          const smar_version *v, bool stale_alias)
{
    payload_loc loc = {reader_of(s, rec), rec, v};
    bool held = smar_version_has_payload(v);
    if (!held && smar_version_payload_available(v) != 0)
        held = locate_version_payload(s, smar_version_id(v), &loc);
    size_t n = 0;
    const char *meta = smar_version_metadata_json(v, &n);
    smar_render o;
    int rc = smar_render_element(versions, &o);
    if (rc == SMAR_OK)
        rc = smar_render_members(&o, meta, n, stale_alias ? "alias" : NULL);
    if (rc != SMAR_OK)
        return render_failed(s, rc, rec, "a version's metadata");
    if (held && (rc = add_payload(s, &o, &loc)) != SMAR_OK)
        return rc;
    rc = smar_render_end(&o);
    return rc == SMAR_OK ? SMAR_OK : render_failed(s, rc, rec, "a version");
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

typedef struct version_list {
    version_ref *refs;
    size_t n, cap;
    strset seen;
} version_list;

/* Add rec's version v unless a version with its id is listed already. */
static int list_version(version_list *l, const smar_secret *rec, const smar_version *v)
{
    bool added = false;
    int rc = strset_add(&l->seen, smar_version_id(v), &added);
    if (rc != SMAR_OK || !added)
        return rc;
    if (l->n == l->cap) {
        size_t c = l->cap == 0 ? 16 : l->cap * 2;
        version_ref *grown = realloc(l->refs, c * sizeof *grown);
        if (grown == NULL)
            return SMAR_E_NOMEM;
        l->refs = grown;
        l->cap = c;
    }
    l->refs[l->n] = (version_ref){rec, v, l->n};
    l->n++;
    return SMAR_OK;
}

static int list_record_versions(version_list *l, const smar_secret *rec, smar_time_ns t)
{
    size_t nv = smar_secret_version_count(rec);
    int rc = SMAR_OK;
    for (size_t k = 0; k < nv && rc == SMAR_OK; k++) {
        const smar_version *v = smar_secret_version(rec, k);
        if (smar_version_created(v) <= t)
            rc = list_version(l, rec, v);
    }
    return rc;
}

/*
 * The versions of the secret at T: those the describing record lists (created at or
 * before T), the version at T when a later archive alone knows it, and with all_versions
 * every other version created at or before T that any archive knows (described by the
 * first record in describing order that lists it). Oldest first.
 */
static int collect_versions(smar_series *s, const smar_at *at, int all_versions, version_list *l)
{
    int rc = list_record_versions(l, at->secret, at->at);
    if (rc == SMAR_OK && at->version_at != NULL)
        rc = list_version(l, at->version_secret, at->version_at);
    for (size_t j = 0; all_versions && j < s->norder && rc == SMAR_OK; j++) {
        const smar_secret *rec = s->found[s->order[j]];
        if (rec != NULL)
            rc = list_record_versions(l, rec, at->at);
    }
    if (rc != SMAR_OK)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory listing versions");
    if (l->n > 1)
        qsort(l->refs, l->n, sizeof *l->refs, version_ref_cmp);
    return SMAR_OK;
}

static int render_versions(smar_series *s, smar_render *o, const smar_at *at, int all_versions)
{
    version_list l = {0};
    int rc = collect_versions(s, at, all_versions, &l);
    if (rc == SMAR_OK && l.n == 0 && !smar_secret_lists_versions(at->secret))
        goto done; /* exported without a "versions" member */
    if (rc == SMAR_OK && (rc = smar_render_array(o, "versions")) != SMAR_OK)
        rc = render_failed(s, rc, at->secret, "versions");
    for (size_t k = 0; k < l.n && rc == SMAR_OK; k++)
        rc = render_version(s, o, l.refs[k].rec, l.refs[k].v,
                            l.refs[k].rec != at->secret && l.refs[k].v != at->version_at);
    if (rc == SMAR_OK && (rc = smar_render_array_end(o)) != SMAR_OK)
        rc = render_failed(s, rc, at->secret, "versions");
done:
    free(l.refs);
    strset_free(&l.seen);
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

/*
 * The secret-level payload members: as the describing record carried them (its own
 * current payload), or, when the version at T is newer than anything that record knows,
 * that version's payload, so a restore into a new instance has the value at T.
 */
static int render_secret_payload(smar_series *s, smar_render *o, const smar_at *at)
{
    if (at->status != SMAR_AT_FOUND)
        return SMAR_OK;
    payload_loc loc = {at->payload_reader, at->payload_secret, at->payload_version};
    if (at->version_at != NULL) {
        bool described = smar_secret_version_by_id(at->secret, smar_version_id(at->version_at));
        if (described && !smar_secret_has_payload(at->secret))
            return SMAR_OK;
        (void)locate_secret_payload(s, smar_version_id(at->version_at), &loc);
    }
    return add_payload(s, o, &loc);
}

static int render_secret(smar_series *s, smar_buf *b, const smar_at *at, int all_versions)
{
    size_t n = 0;
    const char *meta = smar_secret_metadata_json(at->secret, &n);
    smar_render o;
    int rc = smar_render_begin(&o, b);
    if (rc == SMAR_OK)
        rc = smar_render_members(&o, meta, n, NULL);
    if (rc != SMAR_OK)
        return render_failed(s, rc, at->secret, "the secret's metadata");
    rc = render_secret_payload(s, &o, at);
    if (rc == SMAR_OK)
        rc = render_versions(s, &o, at, all_versions);
    if (rc == SMAR_OK && smar_render_end(&o) != SMAR_OK)
        rc = render_failed(s, SMAR_E_NOMEM, at->secret, "");
    return rc;
}

static bool renderable(smar_at_status st)
{
    return st == SMAR_AT_FOUND || st == SMAR_AT_NO_PAYLOAD_RECORDED || st == SMAR_AT_NO_PAYLOAD;
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
    if (check_at(s, at) != SMAR_OK)
        return SMAR_E_INVALID;
    if (!renderable(at->status) || at->secret == NULL || !is_current(s, at))
        return smar_fail(&s->err, SMAR_E_INVALID,
                         "only a secret that existed at T, from the last resolve, can be "
                         "rendered");

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

static int collect_id(smar_reader *r, const smar_secret *rec, void *payload)
{
    (void)r;
    return strset_add(payload, smar_secret_id(rec), NULL) == SMAR_OK ? 0 : 1;
}

/*
 * The ids are gathered from every archive before the first callback: the callback may
 * well resolve or render through this series, which asks the same readers, and a reader
 * is not to be re-entered from its own iteration.
 */
/* Select in the archives marked in which (NULL: every archive), each opened already. */
static int select_in(smar_series *s, const bool *which, const smar_selection *sel, smar_id_cb cb,
                     void *payload)
{
    strset hits = {0};
    int rc = SMAR_OK;
    for (size_t i = 0; i < s->count && rc == SMAR_OK; i++) {
        smar_reader *r = s->archives[i].reader;
        if ((which && !which[i]) || !usable(s, i))
            continue;
        rc = smar_reader_select(r, sel, collect_id, &hits);
        if (rc == 1)
            rc = smar_fail(&s->err, SMAR_E_NOMEM, "out of memory selecting secrets");
        else if (rc != SMAR_OK && s->skip_damaged && is_damage(rc)) {
            set_damaged(s, i, rc);
            rc = SMAR_OK;
        } else if (rc != SMAR_OK)
            rc = smar_fail(&s->err, rc, "%s", smar_reader_error(r));
    }
    /* the lookup slots are not needed while calling back, and each id not once the
     * callback has it: a caller that keeps the ids (extract) then does not hold two copies */
    free(hits.slots);
    hits.slots = NULL;
    for (size_t k = 0; k < hits.count && rc == SMAR_OK; k++) {
        rc = smar_callback_result(&s->err, cb(hits.keys[k], payload));
        free(hits.keys[k]);
        hits.keys[k] = NULL;
    }
    strset_free(&hits);
    return rc;
}

int smar_series_select(smar_series *s, const smar_selection *sel, smar_id_cb cb, void *payload)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (cb == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "select needs a callback");
    int rc = open_all(s); /* a selection other than by id may match in any archive */
    return rc == SMAR_OK ? select_in(s, NULL, sel, cb, payload) : rc;
}

int smar_series_select_near(smar_series *s, const smar_selection *sel, smar_time_ns t,
                            smar_id_cb cb, void *payload)
{
    if (s == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(&s->err);
    if (cb == NULL)
        return smar_fail(&s->err, SMAR_E_INVALID, "select needs a callback");
    bool *near = calloc(s->count > 0 ? s->count : 1, sizeof *near);
    if (near == NULL)
        return smar_fail(&s->err, SMAR_E_NOMEM, "out of memory selecting secrets");
    int rc = SMAR_OK;
    mark_narrow(s, t, near);
    for (size_t i = 0; i < s->count && rc == SMAR_OK; i++)
        if (near[i])
            rc = ensure_open(s, i);
    if (rc == SMAR_OK)
        rc = select_in(s, near, sel, cb, payload);
    free(near);
    return rc;
}
