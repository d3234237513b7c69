/*
 * audit.c - keyless audit of a series of archives (smar/audit.h).
 *
 * Only the public reader API: the keyless smar_reader_verify for the bytes and the
 * signature, smar_reader_info for what is in clear (snapshot time, signer), and for an
 * unlocked reader its document's instance. The gaps are measured between the good
 * archives only: a damaged or foreign archive restores nothing, so it closes no gap.
 *
 * The chains are checked at finish, once every archive is known: an incremental archive
 * lists (in its signed header) every base it needs by archive id and content digest; each
 * must be an archive of the series, intact, signed, with that very digest. An incremental
 * whose chain is broken restores nothing either, so it is not good and closes no gap.
 */
#include "smar/audit.h"
#include "smar/keys.h"

#include "internal.h"
#include "json.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct audit_entry {
    char *name;
    char *detail;
    char *instance;
    smar_audit_status status;
    uint8_t archive_id[16];
    smar_time_ns snapshot;
    int is_signed;
    uint8_t signer[32];
    smar_time_ns gap_before;
    bool exceeds;
    size_t seq;       /* add order, to keep the sort stable */
    bool has_content; /* content: the archive's own content digest (format 2) */
    uint8_t content[32];
    smar_base_info *bases; /* what its header lists (incremental archives) */
    uint8_t *base_states;  /* smar_audit_base_state of each, at finish */
    size_t base_count;
    size_t missing_bases;
} audit_entry;

/* An archive left out by the "since" time: still a base a later incremental may list. */
typedef struct known_archive {
    uint8_t archive_id[16];
    uint8_t content[32];
    bool has_content;
} known_archive;

struct smar_audit {
    smar_err err;
    uint8_t *trusted;
    size_t ntrusted;
    smar_time_ns every;
    smar_time_ns since;
    audit_entry *entries;
    size_t count, cap;
    known_archive *earlier; /* before the "since" time */
    size_t earlier_count, earlier_cap;
    bool finished;
};

int smar_audit_new(smar_audit **out)
{
    if (out == NULL)
        return SMAR_E_INVALID;
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return SMAR_E_NOMEM;
    (*out)->since = SMAR_TIME_NONE;
    return SMAR_OK;
}

void smar_audit_free(smar_audit *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->count; i++) {
        free(a->entries[i].name);
        free(a->entries[i].detail);
        free(a->entries[i].instance);
        free(a->entries[i].bases);
        free(a->entries[i].base_states);
    }
    free(a->entries);
    free(a->earlier);
    free(a->trusted);
    free(a);
}

const char *smar_audit_error(const smar_audit *a)
{
    return smar_err_message(a != NULL ? &a->err : NULL);
}

int smar_audit_set_trusted(smar_audit *a, const uint8_t *keys, size_t n)
{
    if (a == NULL || (n > 0 && keys == NULL) || n > SIZE_MAX / SMAR_SIGN_PUBLIC_BYTES)
        return SMAR_E_INVALID;
    uint8_t *copy = NULL;
    if (n > 0) {
        copy = malloc(n * SMAR_SIGN_PUBLIC_BYTES);
        if (copy == NULL)
            return SMAR_E_NOMEM;
        memcpy(copy, keys, n * SMAR_SIGN_PUBLIC_BYTES);
    }
    free(a->trusted);
    a->trusted = copy;
    a->ntrusted = n;
    return SMAR_OK;
}

int smar_audit_set_every(smar_audit *a, smar_time_ns every)
{
    if (a == NULL || every < 0)
        return SMAR_E_INVALID;
    a->every = every;
    return SMAR_OK;
}

int smar_audit_set_since(smar_audit *a, smar_time_ns t)
{
    if (a == NULL)
        return SMAR_E_INVALID;
    a->since = t;
    return SMAR_OK;
}

static int new_entry(smar_audit *a, const char *name, audit_entry **out)
{
    if (a->count == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        audit_entry *grown = realloc(a->entries, cap * sizeof *grown);
        if (grown == NULL)
            return smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
        a->entries = grown;
        a->cap = cap;
    }
    audit_entry *e = &a->entries[a->count];
    *e = (audit_entry){.snapshot = SMAR_TIME_NONE, .seq = a->count};
    e->name = strdup(name != NULL ? name : "");
    if (e->name == NULL)
        return smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
    a->count++;
    *out = e;
    return SMAR_OK;
}

static int set_outcome(smar_audit *a, audit_entry *e, smar_audit_status st, const char *detail)
{
    e->status = st;
    free(e->detail);
    e->detail = strdup(detail != NULL ? detail : "");
    return e->detail != NULL ? SMAR_OK : smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
}

int smar_audit_add_failed(smar_audit *a, const char *name, smar_audit_status status,
                          const char *detail)
{
    if (a == NULL || a->finished || status == SMAR_AUDIT_OK)
        return SMAR_E_INVALID;
    smar_err_clear(&a->err);
    audit_entry *e = NULL;
    int rc = new_entry(a, name, &e);
    return rc == SMAR_OK ? set_outcome(a, e, status, detail) : rc;
}

static bool is_trusted(const smar_audit *a, const uint8_t *pk)
{
    for (size_t i = 0; i < a->ntrusted; i++) {
        if (memcmp(a->trusted + i * SMAR_SIGN_PUBLIC_BYTES, pk, SMAR_SIGN_PUBLIC_BYTES) == 0)
            return true;
    }
    return false;
}

/* The document's instance CRN, else guid; NULL when locked or when it names neither. */
static int read_instance(smar_reader *r, char **out)
{
    smar_snapshot_info si = SMAR_SNAPSHOT_INFO_INIT;
    const char *doc = NULL;
    size_t len = 0;
    smar_span value, instance, id;
    char why[128];
    *out = NULL;
    if (smar_reader_snapshot(r, &si) != SMAR_OK)
        return SMAR_OK; /* not unlocked: the instance is encrypted */
    int rc = smar_reader_document(r, &doc, &len);
    if (rc != SMAR_OK)
        return rc;
    if (!smar_json_validate((smar_span){doc, len}, SMAR_JSON_MAX_DEPTH, &value, why, sizeof why))
        return SMAR_E_CORRUPT;
    if (!smar_json_get(value, "instance", &instance) ||
        smar_json_kind_of(instance) != SMAR_JSON_OBJECT)
        return SMAR_OK;
    if ((smar_json_get(instance, "crn", &id) && smar_json_kind_of(id) == SMAR_JSON_STRING) ||
        (smar_json_get(instance, "guid", &id) && smar_json_kind_of(id) == SMAR_JSON_STRING)) {
        *out = smar_json_string_dup(id);
        if (*out == NULL)
            return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

/* The signer check after an intact verify: valid and pinned, or why not. */
static int judge_signature(smar_audit *a, audit_entry *e, const smar_verify_result *res)
{
    switch (res->signature) {
    case SMAR_SIGNATURE_VALID:
    case SMAR_SIGNATURE_UNCHECKED:
        if (e->is_signed && is_trusted(a, e->signer))
            return set_outcome(a, e, SMAR_AUDIT_OK, "");
        return set_outcome(a, e, SMAR_AUDIT_OTHER_SIGNER, "signed by a producer not pinned");
    case SMAR_SIGNATURE_OTHER_SIGNER:
        return set_outcome(a, e, SMAR_AUDIT_OTHER_SIGNER, "signed by a producer not pinned");
    case SMAR_SIGNATURE_ABSENT:
        return set_outcome(a, e, SMAR_AUDIT_UNSIGNED, "not signed");
    case SMAR_SIGNATURE_INVALID:
    default:
        return set_outcome(a, e, SMAR_AUDIT_BAD_SIGNATURE, "the signature does not verify");
    }
}

/* The pinned key to verify against: the one the archive names when pinned (else the
 * first, so that the result says "other signer"); NULL when none is pinned. */
static const uint8_t *required_key(const smar_audit *a, const audit_entry *e)
{
    if (e->is_signed && is_trusted(a, e->signer))
        return e->signer;
    return a->ntrusted > 0 ? a->trusted : NULL;
}

static int check_archive(smar_audit *a, audit_entry *e, smar_reader *r, smar_progress_cb progress,
                         void *payload)
{
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    int rc = smar_reader_verify(r, 0, required_key(a, e), &res, NULL, progress, payload);
    if (rc == SMAR_E_CANCELLED || rc == SMAR_E_NOMEM)
        return smar_fail(&a->err, rc, "%s: %s", e->name, smar_reader_error(r));
    if (rc == SMAR_E_CORRUPT || !res.root_ok || res.chunks_bad > 0)
        return set_outcome(a, e, SMAR_AUDIT_DAMAGED,
                           !res.root_ok && res.chunks_bad == 0 ? "the root hash does not match"
                                                               : "damaged chunks");
    if (rc != SMAR_OK && rc != SMAR_E_AUTH)
        return set_outcome(a, e, SMAR_AUDIT_UNREADABLE, smar_reader_error(r));
    return judge_signature(a, e, &res);
}

/* An unlocked archive whose document names another instance than the first unlocked
 * one audited. */
static int check_instance(smar_audit *a, audit_entry *e, smar_reader *r)
{
    int rc = read_instance(r, &e->instance);
    if (rc == SMAR_E_NOMEM)
        return smar_fail(&a->err, rc, "out of memory");
    if (rc != SMAR_OK)
        return set_outcome(a, e, SMAR_AUDIT_DAMAGED, "the document cannot be read");
    for (size_t i = 0; e->instance != NULL && i + 1 < a->count; i++) {
        const char *other = a->entries[i].instance;
        if (other != NULL && strcmp(other, e->instance) != 0)
            return set_outcome(a, e, SMAR_AUDIT_OTHER_INSTANCE,
                               "its document names another instance");
    }
    return SMAR_OK;
}

/* What an archive is known by as a base: its id and content digest (format 2 only). */
static bool read_content(smar_reader *r, uint8_t content[32])
{
    return smar_reader_content_digest(r, content) == SMAR_OK;
}

static int remember_earlier(smar_audit *a, smar_reader *r, const uint8_t id[16])
{
    if (a->earlier_count == a->earlier_cap) {
        size_t cap = a->earlier_cap == 0 ? 16 : a->earlier_cap * 2;
        known_archive *grown = realloc(a->earlier, cap * sizeof *grown);
        if (grown == NULL)
            return smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
        a->earlier = grown;
        a->earlier_cap = cap;
    }
    known_archive *k = &a->earlier[a->earlier_count++];
    memcpy(k->archive_id, id, sizeof k->archive_id);
    k->has_content = read_content(r, k->content);
    return SMAR_OK;
}

/* The base list of an incremental archive, copied from its clear header. */
static int read_bases(smar_audit *a, audit_entry *e, smar_reader *r)
{
    size_t n = smar_reader_base_count(r);
    if (n == 0)
        return SMAR_OK;
    e->bases = calloc(n, sizeof *e->bases);
    e->base_states = calloc(n, sizeof *e->base_states);
    if (e->bases == NULL || e->base_states == NULL)
        return smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        e->bases[i] = (smar_base_info)SMAR_BASE_INFO_INIT;
        int rc = smar_reader_base(r, i, &e->bases[i]);
        if (rc != SMAR_OK)
            return smar_fail(&a->err, rc, "%s: %s", e->name, smar_reader_error(r));
    }
    e->base_count = n;
    return SMAR_OK;
}

int smar_audit_add(smar_audit *a, smar_reader *r, const char *name, smar_progress_cb progress,
                   void *payload)
{
    if (a == NULL || r == NULL || a->finished)
        return SMAR_E_INVALID;
    smar_err_clear(&a->err);
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    int rc = smar_reader_info(r, &info);
    if (rc != SMAR_OK)
        return smar_fail(&a->err, rc, "%s: %s", name, smar_reader_error(r));
    smar_time_ns snap = info.snapshot != SMAR_TIME_NONE ? info.snapshot : info.created;
    if (a->since != SMAR_TIME_NONE && snap < a->since)
        return remember_earlier(a, r, info.archive_id); /* before the audited window */
    audit_entry *e = NULL;
    if ((rc = new_entry(a, name, &e)) != SMAR_OK || (rc = read_bases(a, e, r)) != SMAR_OK)
        return rc;
    e->has_content = read_content(r, e->content);
    memcpy(e->archive_id, info.archive_id, sizeof e->archive_id);
    e->snapshot = snap;
    e->is_signed = info.is_signed;
    memcpy(e->signer, info.signer, sizeof e->signer);
    if ((rc = check_archive(a, e, r, progress, payload)) != SMAR_OK)
        return rc;
    if (e->status == SMAR_AUDIT_OK)
        return check_instance(a, e, r);
    return SMAR_OK;
}

/* Snapshot order; archives without a time (never opened) first, then add order. */
static int entry_cmp(const void *pa, const void *pb)
{
    const audit_entry *x = pa, *y = pb;
    if (x->snapshot != y->snapshot)
        return x->snapshot < y->snapshot ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

/* Good in itself (intact, signed by a pinned producer, one instance), whatever its own
 * chain: a base's own bases are checked through the list of the archive that needs it. */
static bool good_in_itself(const audit_entry *e)
{
    return e->status == SMAR_AUDIT_OK || e->status == SMAR_AUDIT_BAD_BASE ||
           e->status == SMAR_AUDIT_MISSING_BASE;
}

/* How a listed base is found in the series. Archives that could not be opened have no id
 * (snapshot NONE) and match nothing: an unreadable base is as good as missing. */
static smar_audit_base_state find_base(const smar_audit *a, const smar_base_info *b)
{
    for (size_t i = 0; i < a->count; i++) {
        const audit_entry *x = &a->entries[i];
        if (x->snapshot == SMAR_TIME_NONE || memcmp(x->archive_id, b->archive_id, 16) != 0)
            continue;
        if (!x->has_content || memcmp(x->content, b->content, 32) != 0)
            return SMAR_AUDIT_BASE_ALTERED;
        return good_in_itself(x) ? SMAR_AUDIT_BASE_OK : SMAR_AUDIT_BASE_BAD;
    }
    for (size_t i = 0; i < a->earlier_count; i++) {
        const known_archive *k = &a->earlier[i];
        if (memcmp(k->archive_id, b->archive_id, 16) != 0)
            continue;
        return k->has_content && memcmp(k->content, b->content, 32) == 0 ? SMAR_AUDIT_BASE_OK
                                                                         : SMAR_AUDIT_BASE_ALTERED;
    }
    return SMAR_AUDIT_BASE_MISSING;
}

/* "missing base <id> (snapshot T)", "base altered: <id> (snapshot T)", ... one per
 * base that is not OK, joined by "; ". */
static int describe_bases(smar_audit *a, audit_entry *e)
{
    static const char *const what[] = {"", "missing base ",
                                       "base altered: ", "base damaged or not authentic: "};
    size_t cap = 1, used = 0;
    for (size_t j = 0; j < e->base_count; j++)
        cap += e->base_states[j] != SMAR_AUDIT_BASE_OK ? 120 : 0;
    char *text = malloc(cap);
    if (text == NULL)
        return smar_fail(&a->err, SMAR_E_NOMEM, "out of memory");
    text[0] = '\0';
    for (size_t j = 0; j < e->base_count; j++) {
        if (e->base_states[j] == SMAR_AUDIT_BASE_OK)
            continue;
        char hex[33], when[SMAR_TIME_BUFSIZE];
        smar_archive_id_hex(e->bases[j].archive_id, hex);
        smar_time_format(e->bases[j].snapshot, when);
        int n = snprintf(text + used, cap - used, "%s%s%s (snapshot %s)", used > 0 ? "; " : "",
                         what[e->base_states[j]], hex, when);
        used += n > 0 && (size_t)n < cap - used ? (size_t)n : 0;
    }
    smar_audit_status st = SMAR_AUDIT_MISSING_BASE;
    for (size_t j = 0; j < e->base_count; j++)
        if (e->base_states[j] == SMAR_AUDIT_BASE_ALTERED ||
            e->base_states[j] == SMAR_AUDIT_BASE_BAD)
            st = SMAR_AUDIT_BAD_BASE; /* damage wins over absence */
    int rc = set_outcome(a, e, st, text);
    free(text);
    return rc;
}

/* The ids of the missing bases, each counted once for the summary. */
static bool listed_missing_before(const smar_audit *a, size_t upto_entry, size_t upto_base,
                                  const uint8_t id[16])
{
    for (size_t i = 0; i <= upto_entry; i++) {
        const audit_entry *x = &a->entries[i];
        size_t n = i == upto_entry ? upto_base : x->base_count;
        for (size_t j = 0; j < n; j++)
            if (x->base_states[j] == SMAR_AUDIT_BASE_MISSING &&
                memcmp(x->bases[j].archive_id, id, 16) == 0)
                return true;
    }
    return false;
}

static int check_chains(smar_audit *a, smar_audit_summary *sum)
{
    for (size_t i = 0; i < a->count; i++) {
        audit_entry *e = &a->entries[i];
        sum->incremental += e->base_count > 0;
        for (size_t j = 0; j < e->base_count; j++) {
            e->base_states[j] = (uint8_t)find_base(a, &e->bases[j]);
            if (e->base_states[j] != SMAR_AUDIT_BASE_MISSING)
                continue;
            e->missing_bases++;
            sum->missing_bases += !listed_missing_before(a, i, j, e->bases[j].archive_id);
        }
    }
    /* Only now: find_base judges a base by its own status, not by its chain's. */
    for (size_t i = 0; i < a->count; i++) {
        audit_entry *e = &a->entries[i];
        bool broken = false;
        for (size_t j = 0; j < e->base_count; j++)
            broken |= e->base_states[j] != SMAR_AUDIT_BASE_OK;
        int rc = broken && e->status == SMAR_AUDIT_OK ? describe_bases(a, e) : SMAR_OK;
        if (rc != SMAR_OK)
            return rc;
    }
    return SMAR_OK;
}

static void measure_gaps(smar_audit *a, smar_audit_summary *sum)
{
    const audit_entry *prev = NULL;
    for (size_t i = 0; i < a->count; i++) {
        audit_entry *e = &a->entries[i];
        if (e->status != SMAR_AUDIT_OK) {
            sum->bad++;
            continue;
        }
        sum->good++;
        if (prev == NULL)
            sum->first = e->snapshot;
        sum->last = e->snapshot;
        if (prev != NULL) {
            e->gap_before = e->snapshot - prev->snapshot;
            e->exceeds = a->every > 0 && e->gap_before > a->every;
            sum->gaps_over += e->exceeds ? 1 : 0;
            if (e->gap_before > sum->worst_gap || sum->worst_gap_to == SMAR_TIME_NONE) {
                sum->worst_gap = e->gap_before;
                sum->worst_gap_from = prev->snapshot;
                sum->worst_gap_to = e->snapshot;
            }
        }
        prev = e;
    }
}

int smar_audit_finish(smar_audit *a, smar_audit_summary *sum)
{
    if (a == NULL || sum == NULL || sum->version < 1 || sum->version > SMAR_AUDIT_SUMMARY_VERSION ||
        a->finished)
        return SMAR_E_INVALID;
    smar_err_clear(&a->err);
    a->finished = true;
    if (a->count > 1)
        qsort(a->entries, a->count, sizeof *a->entries, entry_cmp);
    smar_audit_summary full = {.version = sum->version,
                               .archives = a->count,
                               .first = SMAR_TIME_NONE,
                               .last = SMAR_TIME_NONE,
                               .worst_gap_from = SMAR_TIME_NONE,
                               .worst_gap_to = SMAR_TIME_NONE};
    int rc = check_chains(a, &full);
    if (rc != SMAR_OK)
        return rc;
    measure_gaps(a, &full);
    /* a version 1 caller's struct ends before the version 2 fields */
    memcpy(sum, &full, sum->version == 1 ? offsetof(smar_audit_summary, incremental) : sizeof full);
    return SMAR_OK;
}

size_t smar_audit_count(const smar_audit *a)
{
    return a != NULL ? a->count : 0;
}

int smar_audit_entry_at(const smar_audit *a, size_t i, smar_audit_entry *out)
{
    if (a == NULL || out == NULL || i >= a->count || out->version < 1 ||
        out->version > SMAR_AUDIT_ENTRY_VERSION)
        return SMAR_E_INVALID;
    const audit_entry *e = &a->entries[i];
    smar_audit_entry full = {.version = out->version,
                             .name = e->name,
                             .status = e->status,
                             .detail = e->detail != NULL ? e->detail : "",
                             .snapshot = e->snapshot,
                             .is_signed = e->is_signed,
                             .instance = e->instance,
                             .gap_before = e->gap_before,
                             .exceeds_every = e->exceeds,
                             .incremental = e->base_count > 0,
                             .base_count = e->base_count,
                             .missing_bases = e->missing_bases};
    memcpy(full.archive_id, e->archive_id, sizeof full.archive_id);
    memcpy(full.signer, e->signer, sizeof full.signer);
    if (e->base_count > 0)
        memcpy(full.parent_id, e->bases[0].archive_id, sizeof full.parent_id);
    /* a version 1 caller's struct ends before the version 2 fields */
    memcpy(out, &full, out->version == 1 ? offsetof(smar_audit_entry, incremental) : sizeof full);
    return SMAR_OK;
}

int smar_audit_entry_base(const smar_audit *a, size_t i, size_t j, smar_base_info *out,
                          smar_audit_base_state *state)
{
    if (a == NULL || out == NULL || !a->finished || i >= a->count ||
        j >= a->entries[i].base_count || out->version != SMAR_BASE_INFO_VERSION)
        return SMAR_E_INVALID;
    *out = a->entries[i].bases[j];
    if (state != NULL)
        *state = (smar_audit_base_state)a->entries[i].base_states[j];
    return SMAR_OK;
}

const char *smar_audit_status_word(smar_audit_status st)
{
    static const char *const words[] = {"ok",           "damaged",       "unsigned",
                                        "other-signer", "bad-signature", "other-instance",
                                        "unreadable",   "bad-base",      "missing-base"};
    return (unsigned)st < sizeof words / sizeof words[0] ? words[st] : "unknown";
}
