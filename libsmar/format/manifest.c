/*
 * manifest.c - encoding and decoding secret records (spec/FORMAT.md, "Manifest records").
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "json.h"

static int put_str16(smar_buf *b, smar_span s)
{
    if (s.n > SMAR_MAX_STRING)
        return SMAR_E_LIMIT;
    int rc = smar_buf_put_u16(b, (uint16_t)s.n);
    return rc ? rc : smar_buf_append(b, s.p, s.n);
}

static int put_blob32(smar_buf *b, smar_span s)
{
    int rc = smar_buf_put_u32(b, (uint32_t)s.n);
    return rc ? rc : smar_buf_append(b, s.p, s.n);
}

/* Format 1: present || seq || offset || length || hash. Format 2: present || seq ||
 * offset || stored_len || coding || plain_len || hash. */
static int put_locator(smar_buf *b, int format, bool present, const smar_locator *l)
{
    bool external = present && l->base > 0;
    int rc = smar_buf_put_u8(b, external ? SMAR_LOCATOR_EXTERNAL : present ? 1 : 0);
    if (rc || !present)
        return rc;
    if (external && (rc = smar_buf_put_u8(b, (uint8_t)(l->base - 1))))
        return rc;
    if ((rc = smar_buf_put_u32(b, l->seq)) || (rc = smar_buf_put_u32(b, l->offset)) ||
        (rc = smar_buf_put_u32(b, l->length)))
        return rc;
    if (format == SMAR_FORMAT_V2 &&
        ((rc = smar_buf_put_u8(b, l->coding)) || (rc = smar_buf_put_u32(b, l->plain_len))))
        return rc;
    return smar_buf_append(b, l->hash, SMAR_HASH_BYTES);
}

static int encode_version(smar_buf *b, int format, const smar_vrec *v)
{
    int rc;
    if ((rc = put_str16(b, v->id)) || (rc = smar_buf_put_u64(b, (uint64_t)v->created)) ||
        (rc = put_locator(b, format, v->has_payload, &v->payload)))
        return rc;
    return put_blob32(b, v->meta);
}

static int encode_body(const smar_srec *r, int format, smar_buf *b)
{
    int rc;
    if ((rc = smar_buf_put_u8(b, SMAR_RECORD_SECRET)) || (rc = smar_buf_put_u8(b, r->flags)) ||
        (rc = put_str16(b, r->id)) || (rc = put_str16(b, r->type)) ||
        (rc = put_str16(b, r->name)) || (rc = put_str16(b, r->group)) ||
        (rc = smar_buf_put_u64(b, (uint64_t)r->created)) ||
        (rc = smar_buf_put_u64(b, (uint64_t)r->updated)) ||
        (rc = smar_buf_put_u16(b, (uint16_t)r->nlabels)))
        return rc;
    for (size_t i = 0; i < r->nlabels; i++)
        if ((rc = put_str16(b, r->labels[i])))
            return rc;
    if ((rc = put_blob32(b, r->meta)) ||
        (rc = put_locator(b, format, r->has_payload, &r->payload)) ||
        (rc = smar_buf_put_u32(b, (uint32_t)r->nversions)))
        return rc;
    for (size_t i = 0; i < r->nversions; i++)
        if ((rc = encode_version(b, format, &r->versions[i])))
            return rc;
    return SMAR_OK;
}

int smar_record_encode(const smar_srec *r, smar_buf *out, smar_err *e)
{
    return smar_record_encode_format(r, SMAR_FORMAT_V1, out, e);
}

int smar_record_encode_format(const smar_srec *r, int format, smar_buf *out, smar_err *e)
{
    size_t start = out->len;
    if (r->nlabels > SMAR_MAX_LABELS || r->nversions > SMAR_MAX_VERSIONS)
        return smar_fail(e, SMAR_E_LIMIT, "secret %.*s has too many labels or versions",
                         (int)r->id.n, r->id.p);
    int rc = smar_buf_put_u32(out, 0);
    if (!rc)
        rc = encode_body(r, format, out);
    if (rc == SMAR_E_LIMIT)
        return smar_fail(e, rc, "secret %.*s has a field over %u bytes", (int)r->id.n, r->id.p,
                         SMAR_MAX_STRING);
    if (rc)
        return smar_fail(e, rc, "out of memory");
    size_t body = out->len - start - 4;
    if (body > SMAR_MAX_RECORD_BYTES)
        return smar_fail(e, SMAR_E_LIMIT, "secret %.*s: metadata over %u bytes", (int)r->id.n,
                         r->id.p, SMAR_MAX_RECORD_BYTES);
    smar_store_u32(out->data + start, (uint32_t)body);
    return SMAR_OK;
}

/* ---- decoding: every length checked against what is left before use ---------------- */

typedef struct decoder {
    smar_cursor c;
    char *arena;
    size_t arena_used;
    int format;
    unsigned nbases; /* external locators allowed below this base index */
    char over[96];   /* which limit the record goes over, for the message; "" when none */
} decoder;

static const char *take_str(decoder *d, size_t width, size_t *len)
{
    uint32_t n = 0;
    if (width == 2) {
        uint16_t n16;
        if (!smar_take_u16(&d->c, &n16))
            return NULL;
        n = n16;
    } else if (!smar_take_u32(&d->c, &n)) {
        return NULL;
    }
    const uint8_t *p;
    if (!smar_take_ptr(&d->c, &p, n))
        return NULL;
    char *dst = d->arena + d->arena_used;
    memcpy(dst, p, n);
    dst[n] = '\0';
    d->arena_used += (size_t)n + 1;
    if (len)
        *len = n;
    return dst;
}

/* What the writer guarantees, checked again on read so that no caller ever sees an id
 * that is not printable ASCII, a string cut short by a NUL, or metadata that is not a
 * JSON object. */
bool smar_id_is_valid(const char *s, size_t n)
{
    if (n == 0 || n > SMAR_MAX_ID_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool text_ok(const char *s, size_t n)
{
    return memchr(s, '\0', n) == NULL;
}

static bool json_object_ok(const char *s, size_t n)
{
    smar_span v;
    char why[8];
    return smar_json_validate((smar_span){s, n}, SMAR_JSON_MAX_DEPTH, &v, why, sizeof why) &&
           smar_json_kind_of(v) == SMAR_JSON_OBJECT && v.n == n;
}

static const char *take_text(decoder *d, size_t width, size_t *len)
{
    size_t n;
    const char *s = take_str(d, width, &n);
    if (!s || !text_ok(s, n))
        return NULL;
    if (len)
        *len = n;
    return s;
}

static bool take_locator(decoder *d, bool *present, smar_locator *l)
{
    uint8_t flag;
    if (!smar_take_u8(&d->c, &flag) || flag > SMAR_LOCATOR_EXTERNAL)
        return false;
    *present = flag != 0;
    l->base = 0;
    if (!*present)
        return true;
    if (flag == SMAR_LOCATOR_EXTERNAL) { /* format 2.1: a payload stored in a base */
        uint8_t base;
        if (d->format != SMAR_FORMAT_V2 || !smar_take_u8(&d->c, &base) || base >= d->nbases)
            return false;
        l->base = (uint8_t)(base + 1);
    }
    smar_take_u32(&d->c, &l->seq);
    smar_take_u32(&d->c, &l->offset);
    smar_take_u32(&d->c, &l->length);
    l->coding = SMAR_CODING_RAW;
    if (d->format == SMAR_FORMAT_V2) {
        smar_take_u8(&d->c, &l->coding);
        smar_take_u32(&d->c, &l->plain_len);
    }
    smar_take(&d->c, l->hash, SMAR_HASH_BYTES);
    if (d->format != SMAR_FORMAT_V2)
        l->plain_len = l->length;
    if (d->c.ok && l->plain_len > SMAR_MAX_PAYLOAD_BYTES) {
        snprintf(d->over, sizeof d->over, "a payload of %u bytes (limit %u)", l->plain_len,
                 SMAR_MAX_PAYLOAD_BYTES);
        return false;
    }
    if (d->c.ok && l->length > SMAR_PAYLOAD_STORED_MAX) {
        snprintf(d->over, sizeof d->over, "a stored payload of %u bytes (limit %u)", l->length,
                 (unsigned)SMAR_PAYLOAD_STORED_MAX);
        return false;
    }
    /* coding: raw stores the record as is; anything else than the two codings is FORMAT */
    if (d->format != SMAR_FORMAT_V2)
        return d->c.ok;
    return d->c.ok && l->length > 0 && l->coding <= SMAR_CODING_ZSTD &&
           (l->coding != SMAR_CODING_RAW || l->length == l->plain_len);
}

static bool take_version(decoder *d, struct smar_version *v)
{
    size_t idlen;
    if (!(v->id = take_str(d, 2, &idlen)) || !smar_id_is_valid(v->id, idlen) ||
        !smar_take_i64(&d->c, &v->created))
        return false;
    if (!take_locator(d, &v->has_payload, &v->payload))
        return false;
    /* the metadata JSON is checked where it is used (smar_version_metadata_json) */
    return (v->meta = take_str(d, 4, &v->meta_len)) != NULL;
}

static bool take_labels(decoder *d, smar_secret *s)
{
    uint16_t n;
    if (!smar_take_u16(&d->c, &n))
        return false;
    if (n > SMAR_MAX_LABELS) {
        snprintf(d->over, sizeof d->over, "%u labels (limit %u)", n, SMAR_MAX_LABELS);
        return false;
    }
    if ((size_t)n * 2 > d->c.left)
        return false;
    s->nlabels = n;
    s->labels = calloc(n ? n : 1, sizeof *s->labels);
    if (!s->labels)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s->labels[i] = take_text(d, 2, NULL)))
            return false;
    return true;
}

static bool take_versions(decoder *d, smar_secret *s)
{
    uint32_t n;
    /* a version takes at least 2+8+1+4 bytes: bound n by what is left before allocating */
    if (!smar_take_u32(&d->c, &n))
        return false;
    if (n > SMAR_MAX_VERSIONS) {
        snprintf(d->over, sizeof d->over, "%u versions (limit %u)", n, SMAR_MAX_VERSIONS);
        return false;
    }
    if ((size_t)n * 15 > d->c.left)
        return false;
    s->nversions = n;
    s->versions = calloc(n ? n : 1, sizeof *s->versions);
    if (!s->versions)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!take_version(d, &s->versions[i]))
            return false;
        if (i > 0 && s->versions[i].created < s->versions[i - 1].created)
            return false; /* versions are stored oldest first */
    }
    return true;
}

static bool take_body(decoder *d, smar_secret *s)
{
    uint8_t type;
    size_t idlen, typelen;
    if (!smar_take_u8(&d->c, &type) || type != SMAR_RECORD_SECRET ||
        !smar_take_u8(&d->c, &s->flags) || (s->flags & ~SMAR_RECORD_HAS_VERSIONS) != 0)
        return false;
    if (!(s->id = take_str(d, 2, &idlen)) || !smar_id_is_valid(s->id, idlen) ||
        !(s->type = take_text(d, 2, &typelen)) || typelen == 0 ||
        !(s->name = take_text(d, 2, NULL)) || !(s->group = take_text(d, 2, NULL)))
        return false;
    if (!smar_take_i64(&d->c, &s->created) || !smar_take_i64(&d->c, &s->updated))
        return false;
    /* the metadata JSON is checked where it is used (smar_secret_metadata_json): lookups
     * and listings decode every record they pass, extract decoded each one three times,
     * and validating it each time was 40% of an extract */
    if (!take_labels(d, s) || !(s->meta = take_str(d, 4, &s->meta_len)))
        return false;
    if (!take_locator(d, &s->has_payload, &s->payload) || !take_versions(d, s))
        return false;
    return d->c.left == 0;
}

void smar_secret_free(smar_secret *s)
{
    if (!s)
        return;
    if (s->raw == (uint8_t *)(s + 1)) { /* decoded: raw and arena follow s in its block */
        sodium_memzero(s->raw, s->raw_len);
        sodium_memzero(s->arena, s->arena_used);
    } else {
        smar_wipe_free(s->raw, s->raw_len);
        smar_wipe_free(s->arena, s->arena_used);
    }
    smar_wipe_free(s->ref_meta, s->ref_meta_len);
    free(s->labels);
    free(s->versions);
    free(s);
}

int smar_record_decode(smar_secret **out, const uint8_t *body, size_t n, smar_err *e)
{
    return smar_record_decode_format(out, SMAR_FORMAT_V1, body, n, e);
}

int smar_record_decode_format(smar_secret **out, int format, const uint8_t *body, size_t n,
                              smar_err *e)
{
    return smar_record_decode_bases(out, format, 0, body, n, e);
}

int smar_record_decode_bases(smar_secret **out, int format, unsigned nbases, const uint8_t *body,
                             size_t n, smar_err *e)
{
    *out = NULL;
    if (n == 0 || n > SMAR_MAX_RECORD_BYTES)
        return smar_fail(e, SMAR_E_LIMIT, "manifest record of %zu bytes", n);
    /* one block: the secret, the record body and the arena (every string gets one NUL: the
     * arena never needs more than body + one byte each); one allocation per record, as
     * verify and extract decode every record */
    smar_secret *s = malloc(sizeof *s + n + n + n / 2 + 16);
    if (!s)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory decoding a manifest record");
    memset(s, 0, sizeof *s);
    s->raw = (uint8_t *)(s + 1);
    s->arena = (char *)s->raw + n;
    memcpy(s->raw, body, n);
    s->raw_len = n;
    s->format = (uint8_t)format;
    s->nbases = (uint8_t)nbases;
    s->stored_type = SMAR_RECORD_SECRET;
    decoder d = {smar_cursor_make(s->raw, n), s->arena, 0, format, nbases, ""};
    bool ok = take_body(&d, s);
    s->arena_used = d.arena_used;
    if (!ok) {
        smar_secret_free(s);
        if (d.over[0])
            return smar_fail(e, SMAR_E_LIMIT, "manifest record declares %s", d.over);
        return smar_fail(e, SMAR_E_FORMAT, "malformed manifest record");
    }
    *out = s;
    return SMAR_OK;
}

static smar_span span_of(const char *s)
{
    return (smar_span){s, strlen(s)};
}

void smar_record_view(const smar_secret *s, smar_srec *rec, smar_vrec *vr, smar_span *labels)
{
    for (size_t i = 0; i < s->nlabels; i++)
        labels[i] = span_of(s->labels[i]);
    for (size_t i = 0; i < s->nversions; i++) {
        const struct smar_version *v = &s->versions[i];
        vr[i] = (smar_vrec){span_of(v->id), v->created, v->has_payload, v->payload,
                            (smar_span){v->meta, v->meta_len}};
    }
    *rec = (smar_srec){s->flags,
                       span_of(s->id),
                       span_of(s->type),
                       span_of(s->name),
                       span_of(s->group),
                       s->created,
                       s->updated,
                       s->nlabels,
                       labels,
                       (smar_span){s->meta, s->meta_len},
                       s->has_payload,
                       s->payload,
                       s->nversions,
                       vr};
}

/* ---- type 3 records: "same as in base" (format 2.1) -------------------------------- */

uint8_t smar_record_type(const uint8_t *body, size_t n)
{
    return n > 0 ? body[0] : 0;
}

int smar_ref_encode(const smar_ref *ref, smar_buf *out, smar_err *e)
{
    size_t start = out->len;
    int rc = SMAR_OK;
    if (ref->npatches > SMAR_PATCHES_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "more than %u metadata patches", SMAR_PATCHES_MAX);
    smar_buf_put_u32(out, 0);
    smar_buf_put_u8(out, SMAR_RECORD_SAME_AS_BASE);
    smar_buf_put_u8(out, 0); /* flags */
    smar_buf_put_u8(out, ref->base);
    smar_buf_put_u32(out, ref->seq);
    smar_buf_put_u32(out, ref->offset);
    smar_buf_put_u32(out, ref->length);
    rc = smar_buf_put_u16(out, (uint16_t)ref->npatches);
    for (size_t i = 0; rc == SMAR_OK && i < ref->npatches; i++) {
        smar_buf_put_u16(out, ref->patches[i].member);
        rc = put_blob32(out, ref->patches[i].value);
    }
    if (rc)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    size_t body = out->len - start - 4;
    if (body > SMAR_MAX_RECORD_BYTES)
        return smar_fail(e, SMAR_E_LIMIT, "metadata patches over %u bytes", SMAR_MAX_RECORD_BYTES);
    smar_store_u32(out->data + start, (uint32_t)body);
    return SMAR_OK;
}

static bool take_patches(smar_cursor *c, smar_ref *ref)
{
    uint16_t n;
    /* a patch takes at least 6 bytes: bound the count by what is left before allocating */
    if (!smar_take_u16(c, &n) || (size_t)n * 6 > c->left)
        return false;
    ref->npatches = n;
    if (n == 0)
        return true;
    if (!(ref->patches = calloc(n, sizeof *ref->patches)))
        return false;
    for (size_t i = 0; i < n; i++) {
        smar_patch *p = &ref->patches[i];
        uint32_t len;
        const uint8_t *v;
        if (!smar_take_u16(c, &p->member) || !smar_take_u32(c, &len) ||
            !smar_take_ptr(c, &v, len) || len == 0)
            return false;
        if (i > 0 && p->member <= ref->patches[i - 1].member)
            return false; /* strictly increasing */
        p->value = (smar_span){(const char *)v, len};
    }
    return true;
}

int smar_ref_decode(smar_ref *ref, const uint8_t *body, size_t n, unsigned nbases, smar_err *e)
{
    smar_cursor c = smar_cursor_make(body, n);
    uint8_t type = 0, flags = 0;
    memset(ref, 0, sizeof *ref);
    bool ok = smar_take_u8(&c, &type) && type == SMAR_RECORD_SAME_AS_BASE &&
              smar_take_u8(&c, &flags) && flags == 0 && smar_take_u8(&c, &ref->base) &&
              ref->base < nbases && smar_take_u32(&c, &ref->seq) &&
              smar_take_u32(&c, &ref->offset) && smar_take_u32(&c, &ref->length) &&
              ref->length > 4 && take_patches(&c, ref) && c.left == 0;
    if (!ok) {
        free(ref->patches);
        ref->patches = NULL;
        return smar_fail(e, SMAR_E_FORMAT, "malformed \"same as in base\" record");
    }
    return SMAR_OK;
}

/* A patch value: exactly one JSON value, no surrounding whitespace. */
static bool json_value_ok(smar_span s)
{
    smar_span v;
    char why[8];
    return smar_json_validate(s, SMAR_JSON_MAX_DEPTH, &v, why, sizeof why) && v.n == s.n;
}

int smar_meta_patch(smar_span meta, const smar_patch *patches, size_t npatches, smar_buf *out,
                    smar_err *e)
{
    smar_json_iter it;
    smar_span key, value;
    size_t member = 0, next = 0;
    int rc = SMAR_OK;
    smar_buf_reset(out);
    if (!json_object_ok(meta.p, meta.n))
        return smar_fail(e, SMAR_E_FORMAT, "referenced record's metadata is not a JSON object");
    smar_json_iter_init(&it, meta);
    rc = smar_buf_put_u8(out, '{');
    for (; rc == SMAR_OK && smar_json_next_member(&it, &key, &value); member++) {
        if (next < npatches && patches[next].member == member) {
            if (!json_value_ok(patches[next].value))
                return smar_fail(e, SMAR_E_FORMAT, "a metadata patch is not one JSON value");
            value = patches[next++].value;
        }
        if (member > 0)
            smar_buf_put_u8(out, ',');
        smar_buf_append(out, key.p, key.n);
        smar_buf_put_u8(out, ':');
        rc = smar_buf_append(out, value.p, value.n);
    }
    if (rc == SMAR_OK)
        rc = smar_buf_put_u8(out, '}');
    if (rc)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    if (next < npatches)
        return smar_fail(e, SMAR_E_FORMAT,
                         "a metadata patch names member %u of an object of %zu members",
                         patches[next].member, member);
    return SMAR_OK;
}

/* ---- public accessors --------------------------------------------------------------- */

smar_secret *smar_secret_dup(const smar_secret *s)
{
    smar_secret *copy = NULL;
    smar_err scratch;
    if (!s || smar_record_decode_bases(&copy, s->format, s->nbases, s->raw, s->raw_len, &scratch) !=
                  SMAR_OK)
        return NULL;
    copy->where = s->where;
    copy->stored_type = s->stored_type;
    return copy;
}

const char *smar_secret_id(const smar_secret *s)
{
    return s->id;
}
const char *smar_secret_type(const smar_secret *s)
{
    return s->type;
}
const char *smar_secret_name(const smar_secret *s)
{
    return s->name;
}
const char *smar_secret_group_id(const smar_secret *s)
{
    return s->group;
}
smar_time_ns smar_secret_created(const smar_secret *s)
{
    return s->created;
}
smar_time_ns smar_secret_updated(const smar_secret *s)
{
    return s->updated;
}
size_t smar_secret_label_count(const smar_secret *s)
{
    return s->nlabels;
}
const char *smar_secret_label(const smar_secret *s, size_t i)
{
    return i < s->nlabels ? s->labels[i] : NULL;
}
/* Check a stored text once: later calls read the answer. The record is the caller's (one
 * handle, one thread), so filling the cache through a const accessor is safe. */
static bool checked_once(smar_meta_check *check, const char *text, size_t n)
{
    if (*check == SMAR_META_UNCHECKED)
        *check = json_object_ok(text, n) ? SMAR_META_OK : SMAR_META_BAD;
    return *check == SMAR_META_OK;
}

const char *smar_secret_metadata_json(const smar_secret *s, size_t *len)
{
    bool ok = checked_once((smar_meta_check *)(uintptr_t)&s->meta_check, s->meta, s->meta_len);
    if (len)
        *len = ok ? s->meta_len : 0;
    return ok ? s->meta : NULL;
}
int smar_secret_has_payload(const smar_secret *s)
{
    return s->has_payload;
}
int smar_secret_lists_versions(const smar_secret *s)
{
    return s->nversions > 0 || (s->flags & SMAR_RECORD_HAS_VERSIONS) != 0;
}
size_t smar_secret_version_count(const smar_secret *s)
{
    return s->nversions;
}
const smar_version *smar_secret_version(const smar_secret *s, size_t i)
{
    return i < s->nversions ? &s->versions[i] : NULL;
}

const smar_version *smar_secret_version_at(const smar_secret *s, smar_time_ns t)
{
    /* versions are sorted oldest first: the last one created at or before t */
    const smar_version *found = NULL;
    for (size_t i = 0; i < s->nversions && s->versions[i].created <= t; i++)
        found = &s->versions[i];
    return found;
}

const smar_version *smar_secret_version_by_id(const smar_secret *s, const char *id)
{
    for (size_t i = 0; id && i < s->nversions; i++)
        if (strcmp(s->versions[i].id, id) == 0)
            return &s->versions[i];
    return NULL;
}

const char *smar_version_id(const smar_version *v)
{
    return v->id;
}
smar_time_ns smar_version_created(const smar_version *v)
{
    return v->created;
}
int smar_version_has_payload(const smar_version *v)
{
    return v->has_payload;
}
uint64_t smar_version_payload_size(const smar_version *v)
{
    /* the record's own size: a format 2 record may be stored as a zstd frame (length) */
    return v->has_payload ? v->payload.plain_len : 0;
}
const char *smar_version_metadata_json(const smar_version *v, size_t *len)
{
    bool ok = checked_once((smar_meta_check *)(uintptr_t)&v->meta_check, v->meta, v->meta_len);
    if (len)
        *len = ok ? v->meta_len : 0;
    return ok ? v->meta : NULL;
}

static int8_t read_payload_available(const smar_version *v)
{
    smar_span value;
    size_t len = 0;
    const char *meta = smar_version_metadata_json(v, &len);
    if (meta == NULL || !smar_json_get((smar_span){meta, len}, "payload_available", &value))
        return -1;
    switch (smar_json_kind_of(value)) {
    case SMAR_JSON_TRUE:
        return 1;
    case SMAR_JSON_FALSE:
        return 0;
    default:
        return -1;
    }
}

int smar_version_payload_available(const smar_version *v)
{
    if (v->available == 0)
        ((smar_version *)(uintptr_t)v)->available = (int8_t)(read_payload_available(v) + 2);
    return v->available - 2;
}
