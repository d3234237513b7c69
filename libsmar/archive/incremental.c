/*
 * incremental.c - reading incremental archives (format 2.1, spec/FORMAT.md section 26).
 *
 * An incremental archive lists its bases in its header. Its manifest holds one record per
 * secret of its snapshot: type 1 records whose payload locators may be external (the
 * payload is in a base's payload stream), and type 3 records, "the type 1 record at this
 * place of base b, with these metadata members replaced". The reader resolves a type 3
 * record into the type 1 record it stands for, in this archive's terms (locators local to
 * the base become external to it, locators external from the base are mapped through the
 * base lists by archive id), so that everything above the manifest decoder sees full
 * records. Bases are attached by the caller and checked against the header's list (id and
 * content digest): a swapped or altered base is refused, never used.
 */
#include <stdio.h>
#include <stdlib.h>

#include "reader_internal.h"

bool smar_reader_is_incremental(const smar_reader *r)
{
    return r && r->state != R_NEW && r->format == SMAR_FORMAT_V2 &&
           (r->hdr2.flags & SMAR_HEADER2_FLAG_INCREMENTAL) != 0;
}

int smar_reader_content_digest(smar_reader *r, uint8_t out[32])
{
    if (!r || !out)
        return SMAR_E_INVALID;
    if (r->state == R_NEW || r->format != SMAR_FORMAT_V2)
        return smar_fail(&r->err, SMAR_E_INVALID, "no format 2 archive is open");
    smar_reader_content(r, out);
    return SMAR_OK;
}

size_t smar_reader_base_count(const smar_reader *r)
{
    return smar_reader_is_incremental(r) ? r->hdr2.base_count : 0;
}

static const size_t base_info_sizes[] = {sizeof(smar_base_info)};

int smar_reader_base(smar_reader *r, size_t i, smar_base_info *out)
{
    if (!r || !out)
        return SMAR_E_INVALID;
    int rc = smar_check_version(&r->err, out->version, SMAR_BASE_INFO_VERSION, "smar_base_info");
    if (rc)
        return rc;
    if (i >= smar_reader_base_count(r))
        return smar_fail(&r->err, SMAR_E_INVALID, "'%s' has no base %zu", r->name ? r->name : "",
                         i);
    const smar_base_ref *b = &r->hdr2.bases[i];
    smar_base_info info = {.version = out->version};
    memcpy(info.archive_id, b->archive_id, sizeof info.archive_id);
    memcpy(info.content, b->content, sizeof info.content);
    info.snapshot = b->snapshot;
    memcpy(out, &info, SMAR_VERSIONED_SIZE(base_info_sizes, out->version));
    return SMAR_OK;
}

int smar_reader_base_attached(const smar_reader *r, size_t i)
{
    return i < smar_reader_base_count(r) && r->bases[i] != NULL;
}

int smar_reader_attach_base(smar_reader *r, size_t i, smar_reader *base)
{
    if (!r)
        return SMAR_E_INVALID;
    if (i >= smar_reader_base_count(r))
        return smar_fail(&r->err, SMAR_E_INVALID, "'%s' has no base %zu", r->name ? r->name : "",
                         i);
    if (!base) { /* detach */
        r->bases[i] = NULL;
        return SMAR_OK;
    }
    if (base->state != R_UNLOCKED || base->format != SMAR_FORMAT_V2)
        return smar_fail(&r->err, SMAR_E_INVALID,
                         "a base must be an unlocked format 2 archive ('%s' is not)",
                         base->name ? base->name : "");
    const smar_base_ref *want = &r->hdr2.bases[i];
    uint8_t content[SMAR_HASH_BYTES];
    smar_reader_content(base, content);
    if (memcmp(base->hdr.archive_id, want->archive_id, SMAR_ARCHIVE_ID_BYTES) != 0 ||
        !smar_equal32(content, want->content)) {
        char hex[33];
        smar_archive_id_hex(want->archive_id, hex);
        return smar_fail(&r->err, SMAR_E_AUTH,
                         "'%s' is not the base this archive was made from (base %zu is archive "
                         "%s%s)",
                         base->name ? base->name : "", i, hex,
                         memcmp(base->hdr.archive_id, want->archive_id, SMAR_ARCHIVE_ID_BYTES) == 0
                             ? ", whose content was altered"
                             : "");
    }
    r->bases[i] = base;
    return SMAR_OK;
}

int smar_reader_set_base_opener(smar_reader *r, smar_base_opener opener, void *ctx)
{
    if (!r)
        return SMAR_E_INVALID;
    r->base_opener = opener;
    r->base_opener_ctx = opener ? ctx : NULL;
    return SMAR_OK;
}

/* Ask the base opener for base i and attach what it gives. A failure of the opener's own
 * (not SMAR_E_NOTFOUND) is the read's failure, naming the base it was opening. */
static int open_base(smar_reader *r, size_t i)
{
    smar_reader *base = NULL;
    int rc = r->base_opener(r->base_opener_ctx, r, i, &base);
    if (rc == SMAR_E_NOTFOUND || (rc == SMAR_OK && base == NULL))
        return smar_reader_need_bases(r);
    if (rc == SMAR_OK) {
        rc = smar_reader_attach_base(r, i, base); /* its message names the base */
    } else {
        char hex[33];
        smar_archive_id_hex(r->hdr2.bases[i].archive_id, hex);
        smar_fail(&r->err, rc, "'%s': its base archive %s could not be opened",
                  r->name ? r->name : "", hex);
    }
    if (rc == SMAR_E_AUTH || rc == SMAR_E_CORRUPT || rc == SMAR_E_FORMAT)
        r->chunk_damaged = true; /* the base's failure, not r's: r lives on (spec 17) */
    return rc;
}

int smar_reader_get_base(smar_reader *r, size_t i, smar_reader **base)
{
    if (i >= smar_reader_base_count(r))
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': a record refers to an unknown base",
                         r->name ? r->name : "");
    if (!r->bases[i]) {
        if (!r->base_opener)
            return smar_reader_need_bases(r);
        int rc = open_base(r, i);
        if (rc)
            return rc;
    }
    *base = r->bases[i];
    return SMAR_OK;
}

int smar_reader_need_bases(smar_reader *r)
{
    char list[SMAR_ERRMSG_MAX] = "";
    size_t used = 0, missing = 0, shown = 0;
    for (size_t i = 0; i < smar_reader_base_count(r); i++) {
        if (r->bases[i])
            continue;
        missing++;
        char hex[33], when[SMAR_TIME_BUFSIZE];
        smar_archive_id_hex(r->hdr2.bases[i].archive_id, hex);
        smar_time_format(r->hdr2.bases[i].snapshot, when);
        int n = snprintf(list + used, sizeof list - used, "%s%s (snapshot %s)", shown ? ", " : "",
                         hex, when);
        if (n > 0 && used + (size_t)n < 320) { /* leave room for the rest of the message */
            used += (size_t)n;
            shown++;
        } else {
            list[used] = '\0';
        }
    }
    if (missing == 0)
        return smar_fail(&r->err, SMAR_E_INVALID, "'%s': every base is attached", r->name);
    char more[48] = "";
    if (shown < missing)
        snprintf(more, sizeof more, " and %zu more", missing - shown);
    return smar_fail(&r->err, SMAR_E_NEEDBASE,
                     "'%s' is an incremental archive; it needs base archive%s %s%s: give them "
                     "too (or the series they are in)",
                     r->name, missing > 1 ? "s" : "", list, more);
}

int smar_reader_base_failed(smar_reader *r, smar_reader *base, int rc)
{
    bool damaged = base->chunk_damaged;
    base->chunk_damaged = false; /* taken over by r below */
    /* The base is authentic (attached by its content digest) and may be shared (a series):
     * only a chunk of its own that fails authentication condemns it. A wrong place or hash
     * in a reference is this archive's damage. */
    if (rc == SMAR_E_AUTH && !damaged)
        smar_reader_die(base, rc);
    rc = smar_fail(&r->err, rc, "%s", smar_reader_error(base));
    if (damaged)
        r->chunk_damaged = true;
    return rc;
}

/* Base i, attached (now, if need be) and not dead since (a base that failed
 * authentication releases nothing more, through this archive either: spec section 17). */
static int usable_base(smar_reader *r, size_t i, smar_reader **out)
{
    smar_reader *b = NULL;
    int rc = smar_reader_get_base(r, i, &b);
    if (rc)
        return rc;
    if (b->state != R_UNLOCKED)
        return smar_fail(&r->err, SMAR_E_AUTH,
                         "'%s': its base '%s' failed authentication earlier: nothing more is "
                         "read from it",
                         r->name, b->name);
    *out = b;
    return SMAR_OK;
}

int smar_reader_payload_holder(smar_reader *r, const smar_locator *loc, smar_reader **holder,
                               smar_locator *local)
{
    *local = *loc;
    *holder = r;
    if (loc->base == 0)
        return SMAR_OK;
    if (loc->base > smar_reader_base_count(r))
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': a payload refers to an unknown base",
                         r->name);
    int rc = usable_base(r, loc->base - 1u, holder);
    if (rc)
        return rc;
    local->base = 0;
    return SMAR_OK;
}

/* A locator of a record stored in base b (index b_index of r's list), in r's terms. */
static int map_locator(smar_reader *r, const smar_reader *b, unsigned b_index, smar_locator *l)
{
    if (l->base == 0) {
        l->base = (uint8_t)(b_index + 1);
        return SMAR_OK;
    }
    const smar_base_ref *want = &b->hdr2.bases[l->base - 1];
    for (unsigned j = 0; j < r->hdr2.base_count; j++)
        if (memcmp(r->hdr2.bases[j].archive_id, want->archive_id, SMAR_ARCHIVE_ID_BYTES) == 0 &&
            smar_equal32(r->hdr2.bases[j].content, want->content)) {
            l->base = (uint8_t)(j + 1);
            return SMAR_OK;
        }
    return smar_fail(&r->err, SMAR_E_FORMAT,
                     "'%s': a referenced record's payload is in an archive this one does not "
                     "list",
                     r->name);
}

/* The referenced record bs (of base b_index) with the patches applied and its locators in
 * r's terms, encoded as a type 1 record and decoded again as r's. */
static int resolve(smar_reader *r, const smar_ref *ref, const smar_reader *b, const smar_secret *bs,
                   smar_secret **out)
{
    smar_buf meta = {.secure = true}, enc = {.secure = true};
    smar_vrec *vr = calloc(bs->nversions + 1, sizeof *vr);
    smar_span *labels = calloc(bs->nlabels + 1, sizeof *labels);
    smar_srec rec;
    int rc = SMAR_OK;
    if (!vr || !labels) {
        rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    smar_record_view(bs, &rec, vr, labels);
    if ((rc = smar_meta_patch(rec.meta, ref->patches, ref->npatches, &meta, &r->err))) {
        smar_err_prefix(&r->err, "'%s': secret %s: ", r->name, bs->id);
        goto done;
    }
    rec.meta = (smar_span){(const char *)meta.data, meta.len};
    if (rec.has_payload && (rc = map_locator(r, b, ref->base, &rec.payload)))
        goto done;
    for (size_t i = 0; i < rec.nversions; i++)
        if (vr[i].has_payload && (rc = map_locator(r, b, ref->base, &vr[i].payload)))
            goto done;
    if ((rc = smar_record_encode_format(&rec, SMAR_FORMAT_V2, &enc, &r->err)) ||
        (rc = smar_record_decode_bases(out, SMAR_FORMAT_V2, r->hdr2.base_count, enc.data + 4,
                                       enc.len - 4, &r->err)))
        goto done;
    smar_secret *o = *out;
    o->stored_type = SMAR_RECORD_SAME_AS_BASE;
    o->ref_base = ref->base;
    o->ref_where = (smar_locator){.seq = ref->seq, .offset = ref->offset, .length = ref->length};
    if (!(o->ref_meta = malloc(bs->meta_len + 1))) {
        smar_secret_free(o);
        *out = NULL;
        rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    memcpy(o->ref_meta, bs->meta, bs->meta_len);
    o->ref_meta_len = bs->meta_len;
done:
    smar_buf_free(&meta);
    smar_buf_free(&enc);
    free(vr);
    free(labels);
    return rc;
}

/* The place a type 3 record names must be a record boundary the base itself vouches for:
 * an entry of its index for the record found there names exactly that place. Bytes inside
 * another record (a metadata text, say) that happen to decode as a type 1 record are
 * refused, never taken for a secret of the base (review finding F3). The name table is
 * asked: it lists every type 1 record with a name, and an incremental base's is small (its
 * own changed records), where its id table lists every secret of its snapshot: asking
 * that would keep every id-table chunk of every base of a chain in memory during a full
 * extract (+64 MiB over 23 bases at 100,000 secrets). */
static int check_boundary(smar_reader *r, const smar_ref *ref, smar_reader *b,
                          const smar_secret *bs)
{
    bool vouched = false;
    int table = bs->name[0] ? SMAR_INDEX_BY_NAME : SMAR_INDEX_BY_ID;
    int rc = smar_reader_index_names(b, table, bs->name[0] ? bs->name : bs->id, ref->seq,
                                     ref->offset, ref->length, &vouched);
    if (rc)
        return smar_reader_base_failed(r, b, rc);
    if (vouched)
        return SMAR_OK;
    char hex[33];
    smar_archive_id_hex(r->hdr2.bases[ref->base].archive_id, hex);
    return smar_fail(&r->err, SMAR_E_FORMAT,
                     "'%s': secret %s: its \"same as in base\" record names a place in base "
                     "archive %s that is not a record of that base's index",
                     r->name, bs->id, hex);
}

int smar_reader_decode_incremental(smar_reader *r, const uint8_t *body, size_t n, smar_secret **out)
{
    unsigned nbases = r->hdr2.base_count;
    if (smar_record_type(body, n) != SMAR_RECORD_SAME_AS_BASE)
        return smar_record_decode_bases(out, r->format, nbases, body, n, &r->err);
    smar_ref ref;
    int rc = smar_ref_decode(&ref, body, n, nbases, &r->err);
    if (rc)
        return smar_err_prefix(&r->err, "'%s': ", r->name);
    smar_reader *b = NULL;
    smar_secret *bs = NULL;
    if ((rc = usable_base(r, ref.base, &b))) {
        /* the message is set */
    } else if ((rc = smar_reader_fetch_stored_record(b, ref.seq, ref.offset, &bs))) {
        rc = smar_reader_base_failed(r, b, rc);
    } else if (bs->where.length != ref.length) {
        rc = smar_fail(&r->err, SMAR_E_FORMAT,
                       "'%s': a \"same as in base\" record disagrees with the record it names",
                       r->name);
    } else if ((rc = check_boundary(r, &ref, b, bs))) {
        /* the message is set */
    } else {
        rc = resolve(r, &ref, b, bs, out);
    }
    smar_secret_free(bs);
    free(ref.patches);
    return rc;
}
