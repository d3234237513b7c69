/*
 * lookup.c - finding secrets through the index, walking the manifest, reading payloads
 * and rendering secrets back into export form.
 */
#include <stdlib.h>

#include "crypto.h"
#include "json.h"
#include "render.h"
#include "reader_internal.h"
#include "strset.h"

static int require_unlocked(smar_reader *r)
{
    if (!r)
        return SMAR_E_INVALID;
    if (r->state == R_UNLOCKED)
        return SMAR_OK;
    return smar_fail(&r->err, SMAR_E_INVALID, "%s",
                     r->state == R_DEAD ? "the archive failed authentication earlier"
                                        : "the archive is not unlocked");
}

/* Bytes of each version of smar_snapshot_info (SMAR_VERSIONED_SIZE). */
static const size_t snapshot_info_sizes[] = {sizeof(smar_snapshot_info)};

int smar_reader_snapshot(smar_reader *r, smar_snapshot_info *out)
{
    int rc = require_unlocked(r);
    if (rc || !out)
        return rc ? rc : SMAR_E_INVALID;
    rc =
        smar_check_version(&r->err, out->version, SMAR_SNAPSHOT_INFO_VERSION, "smar_snapshot_info");
    if (rc != SMAR_OK)
        return rc;
    smar_snapshot_info snap = {.version = out->version};
    snap.secret_count = r->meta.secret_count;
    snap.version_count = r->meta.version_count;
    snap.payload_count = r->meta.payload_count;
    snap.oldest_version = r->meta.oldest;
    snap.newest_version = r->meta.newest;
    memcpy(out, &snap, SMAR_VERSIONED_SIZE(snapshot_info_sizes, out->version));
    return SMAR_OK;
}

int smar_reader_document(smar_reader *r, const char **json, size_t *len)
{
    int rc = require_unlocked(r);
    if (rc || !json || !len)
        return rc ? rc : SMAR_E_INVALID;
    *json = r->meta.document;
    *len = r->meta.document_len;
    return SMAR_OK;
}

/* Read the document's "secret_groups" into the id -> name table, once. Groups without a
 * string id and name are passed over: the table only names folders and listings. */
static int read_groups(smar_reader *r)
{
    smar_span doc, list, item, id, name;
    char why[8];
    r->groups_read = true;
    if (!smar_json_validate((smar_span){r->meta.document, r->meta.document_len},
                            SMAR_JSON_MAX_DEPTH, &doc, why, sizeof why) ||
        !smar_json_get(doc, "secret_groups", &list) || smar_json_kind_of(list) != SMAR_JSON_ARRAY)
        return SMAR_OK;
    size_t n = 0;
    smar_json_iter it;
    smar_json_iter_init(&it, list);
    while (smar_json_next_element(&it, &item))
        n++;
    if (n == 0)
        return SMAR_OK;
    if (!(r->group_ids = calloc(n, sizeof *r->group_ids)) ||
        !(r->group_names = calloc(n, sizeof *r->group_names)))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    smar_json_iter_init(&it, list);
    while (smar_json_next_element(&it, &item) && r->ngroups < n) {
        if (smar_json_kind_of(item) != SMAR_JSON_OBJECT || !smar_json_get(item, "id", &id) ||
            !smar_json_get(item, "name", &name) || smar_json_kind_of(id) != SMAR_JSON_STRING ||
            smar_json_kind_of(name) != SMAR_JSON_STRING)
            continue;
        char *gid = smar_json_string_dup(id), *gname = smar_json_string_dup(name);
        if (!gid || !gname) {
            smar_wipe_free_str(gid);
            smar_wipe_free_str(gname);
            continue; /* out of memory or a NUL in the text: no name for it */
        }
        r->group_ids[r->ngroups] = gid;
        r->group_names[r->ngroups] = gname;
        r->ngroups++;
    }
    return SMAR_OK;
}

const char *smar_reader_group_name(smar_reader *r, const char *group_id)
{
    if (require_unlocked(r) != SMAR_OK || group_id == NULL)
        return NULL;
    if (!r->groups_read && read_groups(r) != SMAR_OK)
        return NULL;
    for (size_t i = 0; i < r->ngroups; i++) {
        if (strcmp(r->group_ids[i], group_id) == 0)
            return r->group_names[i];
    }
    return NULL;
}

/* ---- index lookups ------------------------------------------------------------------ */

typedef int (*entry_fn)(smar_reader *r, const smar_index_entry *x, void *ctx);

static int load_index_chunk(smar_reader *r, const smar_index_desc *d, uint32_t c,
                            const uint8_t **raw, size_t *n)
{
    size_t len = 0;
    int rc = smar_reader_load_chunk(r, SMAR_SEC_INDEX, d->first_seq + c, raw, &len);
    if (rc)
        return rc;
    uint64_t before = (uint64_t)c * SMAR_INDEX_PER_CHUNK;
    uint64_t expect =
        d->nentries - before < SMAR_INDEX_PER_CHUNK ? d->nentries - before : SMAR_INDEX_PER_CHUNK;
    if (len != expect * SMAR_INDEX_ENTRY_BYTES)
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': index chunk %u has the wrong size", r->name,
                         c);
    *n = (size_t)expect;
    return SMAR_OK;
}

/* Call fn for every entry of table with this key. */
static int index_scan(smar_reader *r, int table, const uint8_t key[SMAR_INDEX_KEY_BYTES],
                      entry_fn fn, void *ctx)
{
    const smar_index_desc *d = &r->meta.tables[table];
    uint32_t from, to;
    smar_index_candidates(d, key, &from, &to);
    for (uint32_t c = from; c < to; c++) {
        const uint8_t *raw = NULL;
        size_t n = 0, lo = 0, hi;
        int rc = load_index_chunk(r, d, c, &raw, &n);
        if (rc)
            return rc;
        hi = n;
        while (lo < hi) { /* first entry >= key */
            size_t mid = lo + (hi - lo) / 2;
            if (memcmp(raw + mid * SMAR_INDEX_ENTRY_BYTES, key, SMAR_INDEX_KEY_BYTES) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < n; i++) {
            smar_index_entry x;
            smar_index_entry_decode(&x, raw + i * SMAR_INDEX_ENTRY_BYTES);
            if (memcmp(x.key, key, SMAR_INDEX_KEY_BYTES) != 0)
                break;
            if ((rc = fn(r, &x, ctx)) != SMAR_OK)
                return rc;
            /* fn may have evicted the cached index chunk: reload it */
            if ((rc = load_index_chunk(r, d, c, &raw, &n)))
                return rc;
        }
    }
    return SMAR_OK;
}

static int fetch_entry(smar_reader *r, const smar_index_entry *x, smar_secret **s)
{
    int rc = smar_reader_fetch_record(r, x->seq, x->offset, s, NULL, NULL);
    if (rc == SMAR_OK && (*s)->where.length != x->length) {
        smar_secret_free(*s);
        *s = NULL;
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': index entry disagrees with its record",
                         r->name);
    }
    return rc;
}

typedef struct find_id_ctx {
    const char *id;
    smar_secret *found;
} find_id_ctx;

static int match_id(smar_reader *r, const smar_index_entry *x, void *vctx)
{
    find_id_ctx *ctx = vctx;
    smar_secret *s;
    int rc = fetch_entry(r, x, &s);
    if (rc)
        return rc;
    if (strcmp(s->id, ctx->id) == 0) {
        ctx->found = s;
        return SMAR_DONE;
    }
    smar_secret_free(s);
    return SMAR_OK;
}

/* The record the last lookup by name found, when it is the one asked by id. */
static bool found_by_name(smar_reader *r, const char *id, smar_secret **out)
{
    if (r->name_hit_id == NULL || strcmp(r->name_hit_id, id) != 0)
        return false;
    find_id_ctx ctx = {id, NULL};
    if (match_id(r, &r->name_hit, &ctx) != SMAR_DONE) {
        smar_err_clear(&r->err); /* the index decides, as if nothing was remembered */
        return false;
    }
    *out = ctx.found;
    return true;
}

/* Remember a record found by name (full archives: in an incremental one, a name may lead
 * to a base's record). */
static void remember_name_hit(smar_reader *r, const smar_index_entry *x, const char *id)
{
    if (smar_reader_is_incremental(r))
        return;
    char *copy = strdup(id);
    if (copy == NULL)
        return; /* only a lost shortcut */
    smar_wipe_free_str(r->name_hit_id);
    r->name_hit_id = copy;
    r->name_hit = *x;
}

int smar_reader_find_id(smar_reader *r, const char *id, smar_secret **out)
{
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    find_id_ctx ctx = {id, NULL};
    int rc = require_unlocked(r);
    if (rc || !id || !out)
        return rc ? rc : SMAR_E_INVALID;
    *out = NULL;
    if (found_by_name(r, id, out))
        return SMAR_OK;
    smar_index_key(key, r->keys->index, SMAR_INDEX_BY_ID, id, strlen(id));
    rc = index_scan(r, SMAR_INDEX_BY_ID, key, match_id, &ctx);
    if (rc == SMAR_DONE) {
        *out = ctx.found;
        return SMAR_OK;
    }
    if (rc)
        return smar_reader_die(r, rc);
    return smar_fail(&r->err, SMAR_E_NOTFOUND, "'%s': no secret with id %s", r->name, id);
}

typedef struct place_ctx {
    uint32_t seq, offset, length;
    bool found;
} place_ctx;

static int match_place(smar_reader *r, const smar_index_entry *x, void *vctx)
{
    (void)r;
    place_ctx *ctx = vctx;
    if (x->seq != ctx->seq || x->offset != ctx->offset || x->length != ctx->length)
        return SMAR_OK;
    ctx->found = true;
    return SMAR_DONE;
}

int smar_reader_index_names(smar_reader *r, int table, const char *text, uint32_t seq,
                            uint32_t offset, uint32_t length, bool *yes)
{
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    place_ctx ctx = {seq, offset, length, false};
    smar_index_key(key, r->keys->index, table, text, strlen(text));
    int rc = index_scan(r, table, key, match_place, &ctx);
    *yes = ctx.found;
    return rc == SMAR_DONE ? SMAR_OK : rc;
}

typedef struct find_name_ctx {
    const char *name, *type;
    smar_secret_cb cb;
    void *payload;
} find_name_ctx;

static int match_name(smar_reader *r, const smar_index_entry *x, void *vctx)
{
    find_name_ctx *ctx = vctx;
    smar_secret *s;
    int rc = fetch_entry(r, x, &s);
    if (rc)
        return rc;
    if (strcmp(s->name, ctx->name) == 0 && (!ctx->type || strcmp(s->type, ctx->type) == 0)) {
        remember_name_hit(r, x, s->id);
        rc = smar_callback_result(&r->err, ctx->cb(r, s, ctx->payload));
    }
    smar_secret_free(s);
    return rc;
}

/* ---- names in an incremental archive ------------------------------------------------ */

/* An incremental archive's name table holds its type 1 records only; a secret stored as
 * "same as in base" is named in the table of the archive holding its type 1 record. So
 * the chain's tables are walked (this archive, then base 0, 1, ...) and a base's candidate
 * counts only if this archive's id lookup gives a record of that name (and type): right
 * across renames and deletions. Each id is reported once. */
typedef struct chain_name_ctx {
    smar_reader *top;
    find_name_ctx *find;
    strset seen;
} chain_name_ctx;

static int report_once(chain_name_ctx *c, const smar_secret *s)
{
    bool added = false;
    if (strcmp(s->name, c->find->name) != 0 ||
        (c->find->type && strcmp(s->type, c->find->type) != 0))
        return SMAR_OK;
    if (strset_add(&c->seen, s->id, &added))
        return smar_fail(&c->top->err, SMAR_E_NOMEM, "out of memory");
    if (!added)
        return SMAR_OK;
    return smar_callback_result(&c->top->err, c->find->cb(c->top, s, c->find->payload));
}

static int match_own_name(smar_reader *r, const smar_index_entry *x, void *vctx)
{
    chain_name_ctx *c = vctx;
    smar_secret *s;
    int rc = fetch_entry(r, x, &s);
    if (rc)
        return rc;
    rc = report_once(c, s);
    smar_secret_free(s);
    return rc;
}

/* At most this many id lookups before a base's record is read for its id. */
#define REPORTED_CHECKS_MAX 8

/* Whether the base's name entry x is the record of a secret reported already: the base's
 * id table says so for one of them (an id-table chunk, already cached after the first,
 * instead of the manifest chunk the record is in). A secret changed in several snapshots
 * has an entry in the name table of each archive that changed it. */
static int reported_already(chain_name_ctx *c, smar_reader *base, const smar_index_entry *x,
                            bool *yes)
{
    *yes = false;
    if (c->seen.count > REPORTED_CHECKS_MAX)
        return SMAR_OK; /* a name many secrets share: reading the record costs less */
    for (size_t i = 0; i < c->seen.count && !*yes; i++) {
        int rc = smar_reader_index_names(base, SMAR_INDEX_BY_ID, c->seen.keys[i], x->seq, x->offset,
                                         x->length, yes);
        if (rc)
            return rc;
    }
    return SMAR_OK;
}

static int match_base_name(smar_reader *base, const smar_index_entry *x, void *vctx)
{
    chain_name_ctx *c = vctx;
    smar_secret *in_base = NULL, *now = NULL;
    bool skip = false;
    int rc = reported_already(c, base, x, &skip);
    if (rc || skip)
        return rc ? smar_fail(&c->top->err, rc, "%s", smar_reader_error(base)) : SMAR_OK;
    rc = smar_reader_fetch_stored_record(base, x->seq, x->offset, &in_base);
    if (rc)
        return smar_fail(&c->top->err, rc, "%s", smar_reader_error(base));
    if (strset_has(&c->seen, in_base->id)) {
        smar_secret_free(in_base);
        return SMAR_OK;
    }
    rc = smar_reader_find_id(c->top, in_base->id, &now);
    smar_secret_free(in_base);
    if (rc == SMAR_E_NOTFOUND)
        return SMAR_OK; /* deleted since */
    if (rc == SMAR_OK)
        rc = report_once(c, now);
    smar_secret_free(now);
    return rc;
}

static int find_name_in_chain(smar_reader *r, find_name_ctx *ctx)
{
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    chain_name_ctx c = {r, ctx, {0}};
    const char *name = ctx->name;
    smar_index_key(key, r->keys->index, SMAR_INDEX_BY_NAME, name, strlen(name));
    int rc = index_scan(r, SMAR_INDEX_BY_NAME, key, match_own_name, &c);
    for (size_t i = 0; rc == SMAR_OK && i < smar_reader_base_count(r); i++) {
        smar_reader *base = NULL;
        if ((rc = smar_reader_get_base(r, i, &base)))
            break;
        smar_index_key(key, base->keys->index, SMAR_INDEX_BY_NAME, name, strlen(name));
        rc = index_scan(base, SMAR_INDEX_BY_NAME, key, match_base_name, &c);
    }
    strset_free(&c.seen);
    return rc;
}

int smar_reader_find_name(smar_reader *r, const char *name, const char *type, smar_secret_cb cb,
                          void *payload)
{
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    find_name_ctx ctx = {name, type, cb, payload};
    int rc = require_unlocked(r);
    if (rc || !name || !cb)
        return rc ? rc : SMAR_E_INVALID;
    if (smar_reader_is_incremental(r)) {
        rc = find_name_in_chain(r, &ctx);
        return rc < 0 ? smar_reader_die(r, rc) : rc;
    }
    smar_index_key(key, r->keys->index, SMAR_INDEX_BY_NAME, name, strlen(name));
    rc = index_scan(r, SMAR_INDEX_BY_NAME, key, match_name, &ctx);
    return rc < 0 ? smar_reader_die(r, rc) : rc;
}

int smar_reader_foreach(smar_reader *r, smar_secret_cb cb, void *payload)
{
    uint32_t seq = 0, offset = 0;
    uint64_t seen = 0;
    int rc = require_unlocked(r);
    if (rc || !cb)
        return rc ? rc : SMAR_E_INVALID;
    while (seq < r->counts[SMAR_SEC_MANIFEST]) {
        smar_secret *s;
        if ((rc = smar_reader_fetch_record(r, seq, offset, &s, &seq, &offset)))
            return smar_reader_die(r, rc);
        seen++;
        rc = smar_callback_result(&r->err, cb(r, s, payload));
        smar_secret_free(s);
        if (rc)
            return rc;
    }
    if (seen != r->meta.secret_count)
        return smar_reader_die(r, smar_fail(&r->err, SMAR_E_CORRUPT,
                                            "'%s': the manifest holds %llu secrets, the meta "
                                            "section says %llu",
                                            r->name, (unsigned long long)seen,
                                            (unsigned long long)r->meta.secret_count));
    return SMAR_OK;
}

/* ---- payloads ----------------------------------------------------------------------- */

/* Format 2: the stored record (raw, or its own zstd frame) in out becomes the record. */
static int decode_stored_payload(smar_reader *r, const smar_secret *s, const smar_locator *loc,
                                 smar_buf *out)
{
    int rc = smar_reader_decode_payload(r, &r->ck, loc, out);
    return rc ? smar_err_prefix(&r->err, "'%s': secret %s: ", r->name, s->id) : SMAR_OK;
}

static int read_locator(smar_reader *r, const smar_secret *s, const smar_locator *loc,
                        smar_buf *out)
{
    uint8_t hash[SMAR_HASH_BYTES];
    int rc = smar_reader_read_stream(r, SMAR_SEC_PAYLOAD, loc->seq, loc->offset, loc->length, out);
    if (rc)
        return rc;
    if (r->format == SMAR_FORMAT_V2 && (rc = decode_stored_payload(r, s, loc, out)))
        return rc;
    smar_hash(hash, r->keys->payload_hash, out->data, out->len);
    if (!smar_equal32(hash, loc->hash))
        return smar_fail(&r->err, SMAR_E_CORRUPT,
                         "'%s': secret %s: payload does not match its manifest hash", r->name,
                         s->id);
    out->data[out->len] = '\0'; /* read_stream reserved one more byte */
    smar_span v;
    char why[8];
    if (!smar_json_validate((smar_span){(const char *)out->data, out->len}, SMAR_JSON_MAX_DEPTH, &v,
                            why, sizeof why) ||
        smar_json_kind_of(v) != SMAR_JSON_OBJECT || v.n != out->len)
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': secret %s: payload is not a JSON object",
                         r->name, s->id);
    return SMAR_OK;
}

int smar_reader_read_payload(smar_reader *r, const smar_secret *s, const smar_version *v,
                             char **out, size_t *len)
{
    smar_buf buf = {0};
    int rc = require_unlocked(r);
    if (rc || !s || !out || !len)
        return rc ? rc : SMAR_E_INVALID;
    *out = NULL;
    *len = 0;
    bool present = v ? v->has_payload : s->has_payload;
    if (!present)
        return smar_fail(&r->err, SMAR_E_NOTFOUND,
                         "'%s': secret %s%s%s: no payload in this archive", r->name, s->id,
                         v ? " version " : "", v ? v->id : "");
    buf.secure = true;
    smar_reader *holder;
    smar_locator local;
    if ((rc = smar_reader_payload_holder(r, v ? &v->payload : &s->payload, &holder, &local)))
        return smar_reader_die(r, rc);
    rc = read_locator(holder, s, &local, &buf);
    if (rc && holder != r)
        rc = smar_reader_base_failed(r, holder, rc);
    if (rc) {
        smar_buf_free(&buf);
        return smar_reader_die(r, rc);
    }
    *out = (char *)buf.data;
    *len = buf.len;
    return SMAR_OK;
}

int smar_payload_value(const char *type, const char *json, size_t len, char **out, size_t *out_len)
{
    smar_span obj, value;
    char why[8];
    if (!out || !out_len || !type || !json)
        return SMAR_E_INVALID;
    *out = NULL;
    *out_len = 0;
    if (!smar_json_validate((smar_span){json, len}, SMAR_JSON_MAX_DEPTH, &obj, why, sizeof why) ||
        smar_json_kind_of(obj) != SMAR_JSON_OBJECT)
        return SMAR_E_INVALID;
    bool is_string = strcmp(type, "arbitrary") == 0 && smar_json_get(obj, "payload", &value) &&
                     smar_json_kind_of(value) == SMAR_JSON_STRING;
    size_t n = obj.n;
    if (is_string)
        (void)smar_json_string_decode(value, NULL, 0, &n);
    char *buf = malloc(n + 1);
    if (!buf)
        return SMAR_E_NOMEM;
    if (is_string)
        (void)smar_json_string_decode(value, buf, n, &n);
    else
        memcpy(buf, obj.p, n);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return SMAR_OK;
}

/* ---- rendering ---------------------------------------------------------------------- */

static int add_payload(smar_reader *r, const smar_secret *s, const smar_version *v, smar_render *o)
{
    char *p;
    size_t n = 0;
    int rc = smar_reader_read_payload(r, s, v, &p, &n);
    if (rc)
        return rc;
    rc = smar_render_members(o, p, n, NULL);
    smar_secret_buffer_free(p, n);
    return rc;
}

static int render_version(smar_reader *r, const smar_secret *s, const smar_version *v,
                          int include_payloads, smar_render *versions)
{
    size_t n;
    const char *meta = smar_version_metadata_json(v, &n);
    if (!meta)
        return smar_fail(&r->err, SMAR_E_CORRUPT,
                         "'%s': secret %s, version %s: metadata is not a JSON object", r->name,
                         s->id, v->id);
    smar_render o;
    int rc = smar_render_element(versions, &o);
    if (!rc)
        rc = smar_render_members(&o, meta, n, NULL);
    if (!rc && include_payloads && v->has_payload)
        rc = add_payload(r, s, v, &o);
    return rc ? rc : smar_render_end(&o);
}

static int render_into(smar_reader *r, const smar_secret *s, const smar_version *const *versions,
                       size_t count, int include_payloads, smar_buf *buf)
{
    size_t metalen;
    const char *meta = smar_secret_metadata_json(s, &metalen);
    if (!meta)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "'%s': secret %s: metadata is not a JSON object",
                         r->name, s->id);
    smar_render o;
    int rc = smar_render_begin(&o, buf);
    if (!rc)
        rc = smar_render_members(&o, meta, metalen, NULL);
    if (!rc && include_payloads && s->has_payload)
        rc = add_payload(r, s, NULL, &o);
    bool list = count > 0 || smar_secret_lists_versions(s);
    if (!rc && list)
        rc = smar_render_array(&o, "versions");
    for (size_t i = 0; i < count && rc == SMAR_OK; i++)
        rc = render_version(r, s, versions ? versions[i] : &s->versions[i], include_payloads, &o);
    if (!rc && list)
        rc = smar_render_array_end(&o);
    return rc ? rc : smar_render_end(&o);
}

int smar_reader_render_secret(smar_reader *r, const smar_secret *s,
                              const smar_version *const *versions, size_t nversions,
                              int include_payloads, char **out, size_t *len)
{
    smar_buf buf = {0};
    int rc = require_unlocked(r);
    if (rc || !s || !out || !len)
        return rc ? rc : SMAR_E_INVALID;
    buf.secure = true;
    rc = render_into(r, s, versions, versions ? nversions : s->nversions, include_payloads, &buf);
    if (!rc)
        rc = smar_buf_append(&buf, "", 1); /* the NUL */
    if (rc) {
        smar_buf_free(&buf);
        return rc < 0 && rc != SMAR_E_NOMEM ? rc
                                            : smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    }
    *out = (char *)buf.data;
    *len = buf.len - 1;
    return SMAR_OK;
}
