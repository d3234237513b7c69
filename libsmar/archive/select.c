/*
 * select.c - which secrets of one archive a selection names (smar_reader_select): the one
 * copy of the selection rule, used by the series (smar_series_select) and by `smar ls`.
 *
 * Ids and names go through the index when that is cheaper than walking the manifest;
 * every other criterion then only filters. Each list matches any of its entries, lists
 * combine as all-of, and an empty list matches everything.
 */
#include "smar/reader.h"

#include <stdlib.h>

#include "internal.h"
#include "json.h"
#include "reader_internal.h" /* the reader's error record, for a refused callback value */
#include "strset.h"

/* The selection's lists as sets, so matching a secret costs the same for 1 or 10,000
 * entries. An empty set means "any". group_ids: ids of the groups whose name the selection
 * gives, in this archive's document (names are unique per instance, but an id is only
 * valid in the archive that names it). */
typedef struct sel_sets {
    strset ids, names, types, groups, labels;
    strset group_ids;
} sel_sets;

static void sel_sets_free(sel_sets *ss)
{
    strset_free(&ss->ids);
    strset_free(&ss->names);
    strset_free(&ss->types);
    strset_free(&ss->groups);
    strset_free(&ss->labels);
    strset_free(&ss->group_ids);
}

static int fill_set(strset *set, const char *const *list, size_t n)
{
    if (n > 0 && list == NULL)
        return SMAR_E_INVALID;
    for (size_t k = 0; k < n; k++) {
        if (list[k] == NULL)
            return SMAR_E_INVALID;
        if (strset_add(set, list[k], NULL) != SMAR_OK)
            return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

static int sel_sets_make(const smar_selection *sel, sel_sets *ss)
{
    memset(ss, 0, sizeof *ss);
    if (sel == NULL)
        return SMAR_OK;
    int rc = fill_set(&ss->ids, sel->ids, sel->nids);
    if (rc == SMAR_OK)
        rc = fill_set(&ss->names, sel->names, sel->nnames);
    if (rc == SMAR_OK)
        rc = fill_set(&ss->types, sel->types, sel->ntypes);
    if (rc == SMAR_OK)
        rc = fill_set(&ss->groups, sel->groups, sel->ngroups);
    if (rc == SMAR_OK)
        rc = fill_set(&ss->labels, sel->labels, sel->nlabels);
    return rc;
}

static int named_group_ids(smar_reader *r, sel_sets *ss)
{
    const char *doc = NULL;
    size_t len = 0;
    int rc = smar_reader_document(r, &doc, &len);
    if (rc != SMAR_OK)
        return rc;
    smar_span value, list, item, name, id;
    char why[8];
    if (!smar_json_validate((smar_span){doc, len}, SMAR_JSON_MAX_DEPTH, &value, why, sizeof why))
        return SMAR_E_CORRUPT;
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
        char *gid = n != NULL && strset_has(&ss->groups, n) ? smar_json_string_dup(id) : NULL;
        rc = gid != NULL ? strset_add(&ss->group_ids, gid, NULL) : SMAR_OK;
        free(n);
        free(gid);
        if (rc != SMAR_OK)
            return rc;
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

static bool matches(const sel_sets *ss, const smar_secret *rec)
{
    if (ss->ids.count > 0 && !strset_has(&ss->ids, smar_secret_id(rec)))
        return false;
    if (ss->names.count > 0 && !strset_has(&ss->names, smar_secret_name(rec)))
        return false;
    if (ss->types.count > 0 && !strset_has(&ss->types, smar_secret_type(rec)))
        return false;
    if (ss->groups.count > 0) {
        const char *gid = smar_secret_group_id(rec);
        if (!strset_has(&ss->groups, gid) && !strset_has(&ss->group_ids, gid))
            return false;
    }
    return ss->labels.count == 0 || labels_match(rec, &ss->labels);
}

/* What one walk needs. */
typedef struct select_walk {
    const sel_sets *sets;
    smar_secret_cb cb;
    void *payload;
} select_walk;

static int filter_cb(smar_reader *r, const smar_secret *rec, void *payload)
{
    select_walk *w = payload;
    return matches(w->sets, rec) ? w->cb(r, rec, w->payload) : 0;
}

/* The selected ids looked up in the index, in the selection's order. */
static int walk_ids(smar_reader *r, select_walk *w)
{
    const strset *ids = &w->sets->ids;
    for (size_t k = 0; k < ids->count; k++) {
        smar_secret *rec = NULL;
        if (ids->keys[k][0] == '\0')
            continue; /* no secret has an empty id */
        int rc = smar_reader_find_id(r, ids->keys[k], &rec);
        if (rc == SMAR_E_NOTFOUND)
            continue;
        if (rc != SMAR_OK)
            return rc;
        rc = smar_callback_result(&r->err, filter_cb(r, rec, w));
        smar_secret_free(rec);
        if (rc != 0)
            return rc;
    }
    return SMAR_OK;
}

static int walk_names(smar_reader *r, select_walk *w)
{
    const strset *names = &w->sets->names;
    for (size_t k = 0; k < names->count; k++) {
        int rc = smar_reader_find_name(r, names->keys[k], NULL, filter_cb, w);
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
static bool index_pays(smar_reader *r, size_t lookups)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    if (lookups <= SELECT_INDEX_LOOKUPS || smar_reader_info(r, &info) != SMAR_OK)
        return true;
    return lookups <= info.section_chunks[SMAR_SECTION_MANIFEST];
}

int smar_reader_select(smar_reader *r, const smar_selection *sel, smar_secret_cb cb, void *payload)
{
    if (r == NULL || cb == NULL)
        return SMAR_E_INVALID;
    sel_sets sets;
    int rc = sel_sets_make(sel, &sets);
    if (rc == SMAR_OK && sets.groups.count > 0)
        rc = named_group_ids(r, &sets);
    select_walk w = {&sets, cb, payload};
    const strset *ids = &sets.ids, *names = &sets.names;
    if (rc != SMAR_OK)
        ; /* a bad selection or no memory: nothing walked */
    else if (ids->count > 0 && index_pays(r, ids->count))
        rc = walk_ids(r, &w);
    else if (ids->count == 0 && names->count > 0 && index_pays(r, names->count))
        rc = walk_names(r, &w);
    else
        rc = smar_reader_foreach(r, filter_cb, &w);
    sel_sets_free(&sets);
    return rc;
}
