/*
 * fuzz_toplevel.c - the top-level member scan of a secret's export text (toplevel.c) and
 * the export digest over it (digests.c, format 2.2): what an incremental create runs on
 * every secret of an untrusted export before any parse. A scan that is sure of a text it
 * misread would make two different secrets share a digest (a silent wrong restore), so the
 * oracles compare it with the strict parser:
 *   - whatever the input, the spans the scan reports lie inside it, `retrieved_at` is a
 *     quoted token of printable ASCII of at most SMAR_TOPLEVEL_MAX_VALUE bytes (quotes
 *     included); on valid JSON, the scan is sure exactly when toplevel.h says it must be;
 *   - when the input is also valid JSON (smar_json_validate), the scan's `id` and
 *     `retrieved_at` are exactly the top-level members the parser finds under those names;
 *   - the digest does not depend on the `retrieved_at` value, and does depend on the byte
 *     right after it (the text the digest must cover).
 */
#include <string.h>

#include "common.h"
#include "internal.h"
#include "json.h"
#include "toplevel.h"

static const uint8_t key[32] = {7};

static void check_spans(const char *text, size_t size, const smar_toplevel *t)
{
    FZ_CHECK(t->id.p >= text && t->id.p + t->id.n <= text + size);
    if (!t->has_retrieved)
        return;
    FZ_CHECK(t->retrieved_at < size && t->retrieved_len >= 2 &&
             t->retrieved_len <= size - t->retrieved_at);
    FZ_CHECK(t->retrieved_len <= SMAR_TOPLEVEL_MAX_VALUE);
    const char *v = text + t->retrieved_at;
    FZ_CHECK(v[0] == '"' && v[t->retrieved_len - 1] == '"');
    for (size_t i = 1; i + 1 < t->retrieved_len; i++)
        FZ_CHECK(v[i] >= 0x20 && v[i] <= 0x7E && v[i] != '\\' && v[i] != '"');
}

/* Valid JSON: the parser's own view of the top-level members must agree with the scan. */
static void check_against_parser(const char *text, smar_span object, const smar_toplevel *t)
{
    smar_span id, retrieved;
    FZ_CHECK(smar_json_get(object, "id", &id)); /* the scan is sure only with an id */
    FZ_CHECK(id.n == t->id.n + 2 && id.p + 1 == t->id.p);
    bool has = smar_json_get(object, "retrieved_at", &retrieved);
    FZ_CHECK(has == t->has_retrieved);
    if (has)
        FZ_CHECK(retrieved.p == text + t->retrieved_at && retrieved.n == t->retrieved_len);
}

/* Another retrieved_at value gives the same digest; another byte after it does not. */
static void check_digest(const char *text, size_t size, const smar_toplevel *t)
{
    uint8_t a[SMAR_DIGEST_BYTES], b[SMAR_DIGEST_BYTES];
    smar_export_digest(a, key, text, size, t);
    if (!t->has_retrieved || size > 4096)
        return;
    char copy[4096];
    memcpy(copy, text, size);
    if (t->retrieved_len > 2) { /* a non-empty value: change its first character */
        char *c = &copy[t->retrieved_at + 1];
        *c = *c == 'A' ? 'B' : 'A';
        smar_export_digest(b, key, copy, size, t);
        FZ_CHECK(memcmp(a, b, sizeof a) == 0);
        memcpy(copy, text, size);
    }
    size_t after = t->retrieved_at + t->retrieved_len;
    if (after < size) {
        copy[after] ^= 1;
        smar_export_digest(b, key, copy, size, t);
        FZ_CHECK(memcmp(a, b, sizeof a) != 0);
    }
}

/* On a valid object, whether the scan must be sure (toplevel.h's list, from the parser). */
static bool must_be_sure(smar_span object)
{
    smar_json_iter it;
    smar_span k, v;
    size_t members = 0;
    bool id_ok = false, retrieved_ok = true;
    smar_json_iter_init(&it, object);
    while (smar_json_next_member(&it, &k, &v)) {
        if (++members > SMAR_TOPLEVEL_MAX_MEMBERS || memchr(k.p, '\\', k.n))
            return false;
        bool plain = smar_json_kind_of(v) == SMAR_JSON_STRING && !memchr(v.p, '\\', v.n);
        if (k.n == 4 && memcmp(k.p, "\"id\"", 4) == 0)
            id_ok = plain && v.n > 2; /* not empty */
        if (k.n == 14 && memcmp(k.p, "\"retrieved_at\"", 14) == 0) {
            retrieved_ok = plain && v.n <= SMAR_TOPLEVEL_MAX_VALUE; /* the token, quoted */
            for (size_t i = 1; retrieved_ok && i + 1 < v.n; i++)
                retrieved_ok = v.p[i] >= 0x20 && v.p[i] <= 0x7E;
        }
    }
    return id_ok && retrieved_ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *text = (const char *)data;
    smar_toplevel t;
    bool sure = smar_toplevel_scan(text, size, &t);
    smar_span value;
    char err[128];
    bool valid = smar_json_validate((smar_span){text, size}, 64, &value, err, sizeof err) &&
                 smar_json_kind_of(value) == SMAR_JSON_OBJECT;
    if (valid) /* the fail-safe direction too: an unsure scan costs a parse for nothing */
        FZ_CHECK(sure == must_be_sure(value));
    if (!sure)
        return 0;
    check_spans(text, size, &t);
    if (valid)
        check_against_parser(text, value, &t);
    check_digest(text, size, &t);
    return 0;
}
