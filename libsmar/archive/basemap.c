/*
 * basemap.c - the parent archive by secret id, for the incremental writer (basemap.h).
 */
#include "basemap.h"

#include <stdlib.h>

#include <sodium.h>

#include "reader_internal.h"

struct smar_basemap {
    smar_reader *parent;
    uint8_t member_key[crypto_generichash_KEYBYTES]; /* random: fingerprints nobody can steer */
    uint8_t slot_key[crypto_shorthash_KEYBYTES];
    uint8_t value_key[crypto_shorthash_siphashx24_KEYBYTES];
    smar_base_secret *v;
    size_t n, cap;
    size_t *slots; /* index + 1 into v; 0 empty; a power of two, at least 2n */
    size_t nslots;
    bool oom;
};

static size_t slot_of(const smar_basemap *m, const char *id)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)id, strlen(id), m->slot_key);
    return (size_t)smar_load_u64(h) & (m->nslots - 1);
}

static int rehash(smar_basemap *m)
{
    size_t nslots = m->nslots ? m->nslots * 2 : 4096;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return SMAR_E_NOMEM;
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    for (size_t i = 0; i < m->n; i++) {
        size_t s = slot_of(m, m->v[i].id);
        while (m->slots[s])
            s = (s + 1) & (nslots - 1);
        m->slots[s] = i + 1;
    }
    return SMAR_OK;
}

const smar_base_secret *smar_basemap_find(const smar_basemap *m, const char *id)
{
    if (!m || m->nslots == 0)
        return NULL;
    for (size_t s = slot_of(m, id); m->slots[s]; s = (s + 1) & (m->nslots - 1))
        if (strcmp(m->v[m->slots[s] - 1].id, id) == 0)
            return &m->v[m->slots[s] - 1];
    return NULL;
}

const uint8_t *smar_basemap_payload_key(const smar_basemap *m, uint8_t base)
{
    if (base == 1)
        return m->parent->keys->payload_hash;
    if (base < 2 || base - 2 >= (int)smar_reader_base_count(m->parent) ||
        !m->parent->bases[base - 2])
        return NULL;
    return m->parent->bases[base - 2]->keys->payload_hash;
}

/* SipHash-2-4 with a 128-bit output, keyed with a random key of this run: a PRF, so
 * nobody who does not know the key can make two values collide (a pair collides with
 * probability 2^-128), at a fraction of BLAKE2b's cost per call (two calls per metadata
 * member of every secret). */
void smar_basemap_member_hash(const smar_basemap *m, smar_span value, uint8_t out[16])
{
    crypto_shorthash_siphashx24(out, (const unsigned char *)value.p, value.n, m->value_key);
}

static void absorb(crypto_generichash_state *st, const void *p, size_t n)
{
    uint8_t len[8];
    smar_store_u64(len, n);
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, p, n);
}

static void absorb_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    smar_store_u64(b, v);
    crypto_generichash_update(st, b, sizeof b);
}

static void absorb_payload(crypto_generichash_state *st, bool present, const smar_locator *l)
{
    absorb_u64(st, present ? 1u + (uint64_t)l->plain_len : 0);
}

void smar_basemap_fingerprint(const smar_basemap *m, const smar_srec *rec, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, m->member_key, sizeof m->member_key, 32);
    absorb_u64(&st, rec->flags);
    absorb(&st, rec->id.p, rec->id.n);
    absorb(&st, rec->type.p, rec->type.n);
    absorb(&st, rec->name.p, rec->name.n);
    absorb(&st, rec->group.p, rec->group.n);
    absorb_u64(&st, (uint64_t)rec->created);
    absorb_u64(&st, (uint64_t)rec->updated);
    absorb_u64(&st, rec->nlabels);
    for (size_t i = 0; i < rec->nlabels; i++)
        absorb(&st, rec->labels[i].p, rec->labels[i].n);
    /* the metadata's member names and their order; the values may be patched */
    smar_json_iter it;
    smar_span key, value;
    smar_json_iter_init(&it, rec->meta);
    while (smar_json_next_member(&it, &key, &value))
        absorb(&st, key.p, key.n);
    absorb_payload(&st, rec->has_payload, &rec->payload);
    absorb_u64(&st, rec->nversions);
    for (size_t i = 0; i < rec->nversions; i++) {
        const smar_vrec *v = &rec->versions[i];
        absorb(&st, v->id.p, v->id.n);
        absorb_u64(&st, (uint64_t)v->created);
        absorb(&st, v->meta.p, v->meta.n);
        absorb_payload(&st, v->has_payload, &v->payload);
    }
    crypto_generichash_final(&st, out, 32);
}

static smar_locator in_new_terms(smar_locator l)
{
    l.base = (uint8_t)(l.base + 1);
    return l;
}

static int fill_entry(smar_basemap *m, const smar_secret *s, smar_base_secret *b)
{
    smar_srec rec;
    smar_vrec *vr = calloc(s->nversions + 1, sizeof *vr);
    smar_span *labels = calloc(s->nlabels + 1, sizeof *labels);
    int rc = SMAR_E_NOMEM;
    if (!vr || !labels || !(b->id = strdup(s->id)))
        goto done;
    smar_record_view(s, &rec, vr, labels);
    smar_basemap_fingerprint(m, &rec, b->fingerprint);
    bool ref = s->stored_type == SMAR_RECORD_SAME_AS_BASE;
    b->ref_base = ref ? (uint8_t)(s->ref_base + 1) : 0;
    const smar_locator *at = ref ? &s->ref_where : &s->where;
    b->seq = at->seq;
    b->offset = at->offset;
    b->length = at->length;
    /* the referenced record's own values: a patch replaces one of those */
    smar_span meta = ref ? (smar_span){s->ref_meta, s->ref_meta_len} : rec.meta;
    smar_span key, value;
    smar_json_iter it;
    smar_json_iter_init(&it, meta);
    while (smar_json_next_member(&it, &key, &value))
        b->nmembers++;
    if (!(b->member_hash = malloc(b->nmembers * 16 + 1)))
        goto done;
    smar_json_iter_init(&it, meta);
    for (size_t i = 0; smar_json_next_member(&it, &key, &value); i++)
        smar_basemap_member_hash(m, value, b->member_hash + i * 16);
    b->has_payload = s->has_payload;
    b->payload = in_new_terms(s->payload);
    if (!(b->versions = calloc(s->nversions + 1, sizeof *b->versions)))
        goto done;
    b->nversions = s->nversions;
    for (size_t i = 0; i < s->nversions; i++) {
        if (!(b->versions[i].id = strdup(s->versions[i].id)))
            goto done;
        b->versions[i].has_payload = s->versions[i].has_payload;
        b->versions[i].payload = in_new_terms(s->versions[i].payload);
    }
    rc = SMAR_OK;
done:
    free(vr);
    free(labels);
    return rc;
}

static int add_secret(smar_reader *r, const smar_secret *s, void *vm)
{
    smar_basemap *m = vm;
    (void)r;
    /* the parent's metadata texts are checked where they are used: here (a referenced
     * record's text was checked when its patches were applied) */
    if (!smar_secret_metadata_json(s, NULL))
        return SMAR_STOP;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        smar_base_secret *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv) {
            m->oom = true;
            return SMAR_STOP;
        }
        m->v = nv;
        m->cap = cap;
    }
    if ((m->n + 1) * 2 > m->nslots && rehash(m)) {
        m->oom = true;
        return SMAR_STOP;
    }
    smar_base_secret *b = &m->v[m->n];
    memset(b, 0, sizeof *b);
    m->n++; /* counted before filling, so that smar_basemap_free frees a half-filled one */
    if (fill_entry(m, s, b)) {
        m->oom = true;
        return SMAR_STOP;
    }
    size_t slot = slot_of(m, b->id);
    while (m->slots[slot])
        slot = (slot + 1) & (m->nslots - 1);
    m->slots[slot] = m->n;
    return 0;
}

int smar_basemap_build(smar_basemap **out, smar_reader *parent, smar_err *e)
{
    smar_basemap *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    m->parent = parent;
    randombytes_buf(m->member_key, sizeof m->member_key);
    randombytes_buf(m->slot_key, sizeof m->slot_key);
    randombytes_buf(m->value_key, sizeof m->value_key);
    int rc = smar_reader_foreach(parent, add_secret, m);
    if (rc == SMAR_STOP)
        rc = m->oom ? smar_fail(e, SMAR_E_NOMEM, "out of memory reading the base")
                    : smar_fail(e, SMAR_E_FORMAT, "'%s': a secret's metadata is not a JSON object",
                                parent->name);
    else if (rc)
        rc = smar_fail(e, rc, "%s", smar_reader_error(parent));
    if (rc) {
        smar_basemap_free(m);
        return rc;
    }
    *out = m;
    return SMAR_OK;
}

void smar_basemap_free(smar_basemap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        smar_base_secret *b = &m->v[i];
        smar_wipe_free_str(b->id); /* ids are kept out of freed memory, as everywhere */
        free(b->member_hash);
        for (size_t j = 0; b->versions && j < b->nversions; j++)
            smar_wipe_free_str(b->versions[j].id);
        free(b->versions);
    }
    free(m->v);
    free(m->slots);
    sodium_memzero(m->member_key, sizeof m->member_key);
    sodium_memzero(m->value_key, sizeof m->value_key);
    free(m);
}
