/*
 * fuzz_manifest_record.c - one manifest record body, decoded as format 1 and as format 2
 * (smar_record_decode_format: the formats differ in the payload locators; format 2's
 * carry the record's coding, raw or its own zstd frame, and its plain length), every
 * accessor on the result, smar_secret_dup, and an encode round trip in the same format: a
 * record that decodes encodes back to the same bytes (unless a string holds a NUL byte,
 * which the C strings of the decoded form cannot carry).
 */
#include <string.h>

#include "common.h"
#include "manifest.h"

static smar_span str_of(const char *s)
{
    smar_span v = {s, strlen(s)};
    return v;
}

static void check_locator(const smar_locator *l, int format)
{
    if (format == SMAR_FORMAT_V1) {
        FZ_CHECK(l->length <= SMAR_MAX_PAYLOAD_BYTES);
        return;
    }
    FZ_CHECK(l->plain_len <= SMAR_MAX_PAYLOAD_BYTES);
    FZ_CHECK(l->length >= 1 && l->length <= SMAR_PAYLOAD_STORED_MAX);
    FZ_CHECK(l->coding == SMAR_CODING_RAW || l->coding == SMAR_CODING_ZSTD);
    if (l->coding == SMAR_CODING_RAW)
        FZ_CHECK(l->length == l->plain_len);
}

static void round_trip(const smar_secret *s, int format, const uint8_t *data, size_t size)
{
    smar_span *labels = calloc(s->nlabels ? s->nlabels : 1, sizeof *labels);
    smar_vrec *versions = calloc(s->nversions ? s->nversions : 1, sizeof *versions);
    FZ_CHECK(labels && versions);
    for (size_t i = 0; i < s->nlabels; i++)
        labels[i] = str_of(s->labels[i]);
    for (size_t i = 0; i < s->nversions; i++) {
        const struct smar_version *v = &s->versions[i];
        versions[i].id = str_of(v->id);
        versions[i].created = v->created;
        versions[i].has_payload = v->has_payload;
        versions[i].payload = v->payload;
        versions[i].meta.p = v->meta;
        versions[i].meta.n = v->meta_len;
    }
    smar_srec rec = {.flags = s->flags,
                     .id = str_of(s->id),
                     .type = str_of(s->type),
                     .name = str_of(s->name),
                     .group = str_of(s->group),
                     .created = s->created,
                     .updated = s->updated,
                     .nlabels = s->nlabels,
                     .labels = labels,
                     .meta = {s->meta, s->meta_len},
                     .has_payload = s->has_payload,
                     .payload = s->payload,
                     .nversions = s->nversions,
                     .versions = versions};
    smar_buf out = {0};
    smar_err e = {0};
    FZ_CHECK(smar_record_encode_format(&rec, format, &out, &e) == SMAR_OK);
    FZ_CHECK(out.len >= 4 && smar_load_u32(out.data) == out.len - 4);
    if (out.len - 4 == size) /* shorter only when a string held a NUL byte */
        FZ_CHECK(memcmp(out.data + 4, data, size) == 0);
    else
        FZ_CHECK(out.len - 4 < size);
    smar_buf_free(&out);
    free(labels);
    free(versions);
}

static void decode(const uint8_t *data, size_t size, int format)
{
    smar_secret *s = NULL;
    smar_err e = {0};
    if (smar_record_decode_format(&s, format, data, size, &e) != SMAR_OK) {
        FZ_CHECK(s == NULL && e.code < 0 && e.msg[0] != '\0');
        return;
    }
    FZ_CHECK(s->format == format);
    FZ_CHECK(s->nlabels <= SMAR_MAX_LABELS && s->nversions <= SMAR_MAX_VERSIONS);
    FZ_CHECK(strlen(s->id) > 0 || s->id[0] == '\0');
    for (size_t i = 1; i < s->nversions; i++)
        FZ_CHECK(s->versions[i - 1].created <= s->versions[i].created);
    if (s->has_payload)
        check_locator(&s->payload, format);
    for (size_t i = 0; i < s->nversions; i++)
        if (s->versions[i].has_payload)
            check_locator(&s->versions[i].payload, format);
    smar_secret *copy = smar_secret_dup(s);
    FZ_CHECK(copy != NULL && copy->raw_len == s->raw_len);
    FZ_CHECK(smar_secret_version_count(copy) == smar_secret_version_count(s));
    for (size_t i = 0; i < s->nversions; i++) {
        FZ_CHECK(strcmp(smar_version_id(&copy->versions[i]), s->versions[i].id) == 0);
        FZ_CHECK(smar_secret_version_at(s, s->versions[i].created) != NULL);
    }
    smar_secret_free(copy);
    round_trip(s, format, data, size);
    smar_secret_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    decode(data, size, SMAR_FORMAT_V1);
    decode(data, size, SMAR_FORMAT_V2);
    return 0;
}
