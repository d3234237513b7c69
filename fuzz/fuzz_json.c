/*
 * fuzz_json.c - the strict JSON scanner (json.c) that every export, secret and document
 * goes through: smar_json_validate, then every iterator and decoder over the validated
 * value, with these oracles:
 *   - validating with a smaller depth limit never accepts what a larger one refuses;
 *   - iterating a container visits values that are themselves valid JSON, and each key
 *     token is found again by smar_json_get;
 *   - decoding a string measures and writes the same length, smar_json_string_eq agrees,
 *     and quoting the decoded bytes gives a token that validates and decodes back to them.
 */
#include <string.h>

#include "common.h"
#include "internal.h"
#include "json.h"

#define MAX_VISITS 2000

static size_t g_visits;

static void check_string(smar_span tok)
{
    size_t need = 0, got = 0;
    FZ_CHECK(smar_json_string_decode(tok, NULL, 0, &need)); /* measuring always works */
    char *buf = malloc(need + 1);
    FZ_CHECK(buf != NULL);
    FZ_CHECK(smar_json_string_decode(tok, buf, need, &got) && got == need);
    if (need > 0) /* one byte short must fail and still measure */
        FZ_CHECK(!smar_json_string_decode(tok, buf, need - 1, &got) && got == need);
    buf[need] = '\0';
    char *dup = smar_json_string_dup(tok);
    if (memchr(buf, '\0', need) == NULL) {
        FZ_CHECK(dup != NULL && strcmp(dup, buf) == 0);
        FZ_CHECK(smar_json_string_eq(tok, buf));
    } else {
        FZ_CHECK(dup == NULL);
    }
    free(dup);
    /* quote and decode again */
    smar_buf q = {0};
    FZ_CHECK(smar_json_quote(&q, buf, need) == 0);
    smar_span qs = {(const char *)q.data, q.len}, v;
    char err[128];
    FZ_CHECK(smar_json_validate(qs, 1, &v, err, sizeof err));
    FZ_CHECK(smar_json_kind_of(v) == SMAR_JSON_STRING && v.n == q.len);
    char *back = malloc(need + 1);
    FZ_CHECK(back != NULL);
    FZ_CHECK(smar_json_string_decode(v, back, need, &got) && got == need);
    FZ_CHECK(memcmp(back, buf, need) == 0);
    free(back);
    smar_buf_free(&q);
    free(buf);
}

static void visit(smar_span v, smar_span whole_doc, unsigned depth)
{
    if (++g_visits > MAX_VISITS)
        return;
    char err[128];
    smar_span again;
    /* every value inside a valid document is itself a valid document */
    FZ_CHECK(smar_json_validate(v, SMAR_JSON_MAX_DEPTH, &again, err, sizeof err));
    FZ_CHECK(again.p == v.p && again.n == v.n);
    (void)whole_doc;
    smar_json_iter it;
    smar_span key, val;
    switch (smar_json_kind_of(v)) {
    case SMAR_JSON_OBJECT:
        smar_json_iter_init(&it, v);
        while (smar_json_next_member(&it, &key, &val)) {
            FZ_CHECK(smar_json_kind_of(key) == SMAR_JSON_STRING);
            check_string(key);
            char *name = smar_json_string_dup(key);
            if (name) {
                smar_span found;
                FZ_CHECK(smar_json_get(v, name, &found));
                FZ_CHECK(found.p == val.p && found.n == val.n); /* keys are unique */
                free(name);
            }
            visit(val, whole_doc, depth + 1);
        }
        break;
    case SMAR_JSON_ARRAY:
        smar_json_iter_init(&it, v);
        while (smar_json_next_element(&it, &val))
            visit(val, whole_doc, depth + 1);
        break;
    case SMAR_JSON_STRING:
        check_string(v);
        break;
    case SMAR_JSON_INVALID:
        FZ_FAIL("a validated value has a kind");
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smar_span text = {(const char *)data, size}, value, shallow;
    char err[128];
    fz_init();
    bool ok = smar_json_validate(text, SMAR_JSON_MAX_DEPTH, &value, err, sizeof err);
    if (!ok)
        FZ_CHECK(err[0] != '\0' && strlen(err) < sizeof err);
    for (unsigned d = 0; d <= 3; d++)
        if (smar_json_validate(text, d, &shallow, err, sizeof err))
            FZ_CHECK(ok && shallow.p == value.p && shallow.n == value.n);
    if (!ok)
        return 0;
    g_visits = 0;
    visit(value, value, 0);
    return 0;
}
