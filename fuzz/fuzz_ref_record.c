/*
 * fuzz_ref_record.c - the manifest records of format 2.1 (incremental archives, spec/FORMAT.md
 * section 26.2) with the archive's base count fuzzed too:
 *   - a type 3 "same as in base" body (smar_ref_decode): field bounds, base < base_count,
 *     strictly increasing patch members, exact consumption, and an encode round trip;
 *   - its patches applied to a metadata object (smar_meta_patch): on success the result is
 *     a JSON object with the same member names in the same order, each patched member
 *     holding exactly its patch value and every other member its old value;
 *   - the same body as a type 1 record of format 2 with present = 2 (external) locators
 *     allowed below the base count (smar_record_decode_bases), smar_secret_dup and an
 *     encode round trip (external locators are written back as external).
 *
 * Input: base_count (1 byte, taken modulo 66: 0 is a 2.0 archive, 65 is over the limit),
 * the metadata length (u16 little-endian, clamped to what is left), the metadata text, and
 * the record body (without its u32 length prefix).
 */
#include <string.h>

#include "common.h"
#include "json.h"
#include "manifest.h"

#define MEMBERS_MAX 4096 /* members compared one by one; a bigger object is only patched */

typedef struct member_list {
    size_t n;
    smar_span key[MEMBERS_MAX], value[MEMBERS_MAX];
} member_list;

static bool span_eq(smar_span a, smar_span b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* The top-level members of an object; false when it has more than MEMBERS_MAX. */
static bool members_of(smar_span object, member_list *m)
{
    smar_json_iter it;
    smar_span key, value;
    m->n = 0;
    smar_json_iter_init(&it, object);
    while (smar_json_next_member(&it, &key, &value)) {
        if (m->n == MEMBERS_MAX)
            return false;
        m->key[m->n] = key;
        m->value[m->n++] = value;
    }
    return true;
}

static void check_patched(smar_span meta, const smar_ref *ref, const smar_buf *out)
{
    static member_list before, after;
    smar_span patched = {(const char *)out->data, out->len};
    FZ_CHECK(fz_json_valid(patched.p, patched.n));
    FZ_CHECK(patched.n >= 2 && patched.p[0] == '{' && patched.p[patched.n - 1] == '}');
    if (!members_of(meta, &before))
        return;
    FZ_CHECK(members_of(patched, &after));
    FZ_CHECK(before.n == after.n);
    size_t next = 0;
    for (size_t i = 0; i < before.n; i++) {
        FZ_CHECK(span_eq(before.key[i], after.key[i]));
        if (next < ref->npatches && ref->patches[next].member == i)
            FZ_CHECK(span_eq(after.value[i], ref->patches[next++].value));
        else
            FZ_CHECK(span_eq(after.value[i], before.value[i]));
    }
    FZ_CHECK(next == ref->npatches);
}

static void type3(const uint8_t *body, size_t n, unsigned nbases, smar_span meta)
{
    smar_ref ref;
    smar_err e = {0};
    if (smar_ref_decode(&ref, body, n, nbases, &e) != SMAR_OK) {
        FZ_CHECK(ref.patches == NULL && e.code == SMAR_E_FORMAT && e.msg[0] != '\0');
        return;
    }
    FZ_CHECK(smar_record_type(body, n) == SMAR_RECORD_SAME_AS_BASE);
    FZ_CHECK(ref.base < nbases && ref.length > 4);
    for (size_t i = 0; i < ref.npatches; i++) {
        const smar_patch *p = &ref.patches[i];
        FZ_CHECK(p->value.n >= 1);
        FZ_CHECK((const uint8_t *)p->value.p >= body &&
                 (const uint8_t *)p->value.p + p->value.n <= body + n);
        FZ_CHECK(i == 0 || p->member > ref.patches[i - 1].member);
    }
    smar_buf out = {0};
    FZ_CHECK(smar_ref_encode(&ref, &out, &e) == SMAR_OK);
    FZ_CHECK(out.len == n + 4 && smar_load_u32(out.data) == n);
    FZ_CHECK(memcmp(out.data + 4, body, n) == 0);
    if (smar_meta_patch(meta, ref.patches, ref.npatches, &out, &e) == SMAR_OK)
        check_patched(meta, &ref, &out);
    else
        FZ_CHECK(e.code == SMAR_E_FORMAT && e.msg[0] != '\0');
    smar_buf_free(&out);
    free(ref.patches);
}

static void check_locator(const smar_locator *l, unsigned nbases)
{
    FZ_CHECK(l->base <= nbases);
    FZ_CHECK(l->plain_len <= SMAR_MAX_PAYLOAD_BYTES);
    FZ_CHECK(l->coding == SMAR_CODING_RAW || l->coding == SMAR_CODING_ZSTD);
}

static void type1(const uint8_t *body, size_t n, unsigned nbases)
{
    smar_secret *s = NULL;
    smar_err e = {0};
    if (smar_record_decode_bases(&s, SMAR_FORMAT_V2, nbases, body, n, &e) != SMAR_OK) {
        FZ_CHECK(s == NULL && e.code < 0 && e.msg[0] != '\0');
        return;
    }
    FZ_CHECK(s->nbases == nbases && s->stored_type == 1);
    if (s->has_payload)
        check_locator(&s->payload, nbases);
    for (size_t i = 0; i < s->nversions; i++)
        if (s->versions[i].has_payload)
            check_locator(&s->versions[i].payload, nbases);
    smar_secret *copy = smar_secret_dup(s);
    FZ_CHECK(copy != NULL && copy->raw_len == n && copy->payload.base == s->payload.base);
    smar_secret_free(copy);

    smar_srec rec;
    smar_vrec *vr = calloc(s->nversions ? s->nversions : 1, sizeof *vr);
    smar_span *labels = calloc(s->nlabels ? s->nlabels : 1, sizeof *labels);
    FZ_CHECK(vr && labels);
    smar_record_view(s, &rec, vr, labels);
    smar_buf out = {0};
    FZ_CHECK(smar_record_encode_format(&rec, SMAR_FORMAT_V2, &out, &e) == SMAR_OK);
    FZ_CHECK(out.len >= 4 && smar_load_u32(out.data) == out.len - 4);
    if (out.len - 4 == n) /* shorter only when a string held a NUL byte */
        FZ_CHECK(memcmp(out.data + 4, body, n) == 0);
    else
        FZ_CHECK(out.len - 4 < n);
    smar_buf_free(&out);
    free(vr);
    free(labels);
    smar_secret_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size < 3)
        return 0;
    unsigned nbases = data[0] % 66;
    size_t meta_len = smar_load_u16(data + 1);
    data += 3;
    size -= 3;
    if (meta_len > size)
        meta_len = size;
    smar_span meta = {(const char *)data, meta_len};
    type3(data + meta_len, size - meta_len, nbases, meta);
    type1(data + meta_len, size - meta_len, nbases);
    return 0;
}
