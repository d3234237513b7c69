/*
 * digests.c - the digests section of format 2.2 and the export digest (digests.h).
 */
#include "digests.h"

#include <sodium.h>

void smar_export_digest(uint8_t out[SMAR_DIGEST_BYTES], const uint8_t key[32], const char *json,
                        size_t len, const smar_toplevel *t)
{
    crypto_generichash_state st;
    uint8_t head[16 + 8 + 8];
    size_t cut = t->has_retrieved ? t->retrieved_at : len;
    size_t skip = t->has_retrieved ? t->retrieved_len : 0;
    memcpy(head, SMAR_DIGEST_LABEL, 16);
    /* where the value was cut out, so that no two texts meet by moving bytes across it */
    smar_store_u64(head + 16, t->has_retrieved ? (uint64_t)cut : UINT64_MAX);
    smar_store_u64(head + 24, (uint64_t)(len - skip));
    crypto_generichash_init(&st, key, 32, SMAR_DIGEST_BYTES);
    crypto_generichash_update(&st, head, sizeof head);
    crypto_generichash_update(&st, (const unsigned char *)json, cut);
    crypto_generichash_update(&st, (const unsigned char *)json + cut + skip, len - cut - skip);
    crypto_generichash_final(&st, out, SMAR_DIGEST_BYTES);
    sodium_memzero(&st, sizeof st);
}

int smar_digests_encode(uint8_t key_base, uint64_t count, const uint8_t *digests,
                        const uint16_t *members, smar_buf *out)
{
    int rc = smar_buf_reserve(out, SMAR_DIGESTS_HEADER_BYTES + count * (SMAR_DIGEST_BYTES + 2));
    if (rc)
        return rc;
    uint8_t head[SMAR_DIGESTS_HEADER_BYTES] = {SMAR_DIGESTS_FORMAT, key_base, 0, 0};
    smar_store_u64(head + 4, count);
    smar_buf_append(out, head, sizeof head);
    smar_buf_append(out, digests, count * SMAR_DIGEST_BYTES);
    for (uint64_t i = 0; i < count && rc == SMAR_OK; i++)
        rc = smar_buf_put_u16(out, members[i]);
    return rc;
}

int smar_digests_parse(const uint8_t *p, size_t n, uint64_t expect, smar_digests_view *v,
                       smar_err *e)
{
    if (n < SMAR_DIGESTS_HEADER_BYTES)
        return smar_fail(e, SMAR_E_FORMAT, "the digests section is truncated");
    if (p[0] != SMAR_DIGESTS_FORMAT || p[2] != 0 || p[3] != 0)
        return smar_fail(e, SMAR_E_FORMAT, "the digests section has an unknown format");
    v->key_base = p[1];
    v->count = smar_load_u64(p + 4);
    if (v->count != expect)
        return smar_fail(e, SMAR_E_FORMAT, "the digests section has %llu entries for %llu secrets",
                         (unsigned long long)v->count, (unsigned long long)expect);
    /* count equals the secret count, bounded by the meta section: no overflow here */
    if ((n - SMAR_DIGESTS_HEADER_BYTES) / (SMAR_DIGEST_BYTES + 2) != v->count ||
        (n - SMAR_DIGESTS_HEADER_BYTES) % (SMAR_DIGEST_BYTES + 2) != 0)
        return smar_fail(e, SMAR_E_FORMAT, "the digests section's length does not match its count");
    v->digests = p + SMAR_DIGESTS_HEADER_BYTES;
    v->members = v->digests + v->count * SMAR_DIGEST_BYTES;
    return SMAR_OK;
}

uint16_t smar_digests_member(const smar_digests_view *v, uint64_t i)
{
    return smar_load_u16(v->members + 2 * i);
}
