/*
 * basemap.c - the parent archive by secret id, for the incremental writer (basemap.h).
 */
#include "basemap.h"

#include <pthread.h>
#include <stdlib.h>

#include <sodium.h>

#include "reader_internal.h"

/* A record of the parent as stored: where it is, and its body in the loaded stream. */
typedef struct parent_rec {
    uint32_t seq, offset, length; /* length: with its u32 prefix */
    size_t body;                  /* offset of the body in manifest */
} parent_rec;

struct smar_basemap {
    smar_reader *parent;
    uint8_t member_key[crypto_generichash_KEYBYTES]; /* random: fingerprints nobody can steer */
    uint8_t slot_key[crypto_shorthash_KEYBYTES];
    uint8_t value_key[crypto_shorthash_siphashx24_KEYBYTES];
    smar_base_secret **v; /* each allocated alone: lazy entries stay where they are */
    size_t n, cap;
    size_t *slots; /* index + 1 into v; 0 empty; a power of two, at least 2n */
    size_t nslots;
    bool oom;
    /* lazy (the parent has digests): the map fills as the writer asks */
    bool lazy;
    pthread_mutex_t lock;
    int lazy_rc;
    smar_err lazy_err;
    smar_buf manifest; /* the parent's manifest stream */
    parent_rec *rec;
    size_t nrec;
    smar_buf table; /* the parent's digests stream */
    smar_digests_view dv;
    /* per record: what a lazy resolve by id learnt of it, so that finishing does not
     * resolve it a second time (versions + 1, 0: not resolved; whether one of its versions
     * has the parent's oldest or newest time) */
    uint32_t *rec_versions;
    bool *rec_extreme;
    size_t *dslots; /* digest -> record index + 1; 0 empty; a power of two */
    size_t ndslots;
    const uint8_t *digest_key;
    uint8_t key_base;
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
        size_t s = slot_of(m, m->v[i]->id);
        while (m->slots[s])
            s = (s + 1) & (nslots - 1);
        m->slots[s] = i + 1;
    }
    return SMAR_OK;
}

static const smar_base_secret *find_known(const smar_basemap *m, const char *id, bool *known)
{
    *known = false;
    if (!m || m->nslots == 0)
        return NULL;
    for (size_t s = slot_of(m, id); m->slots[s]; s = (s + 1) & (m->nslots - 1))
        if (strcmp(m->v[m->slots[s] - 1]->id, id) == 0) {
            *known = true;
            return m->v[m->slots[s] - 1]->absent ? NULL : m->v[m->slots[s] - 1];
        }
    return NULL;
}

static int resolve_lazily(smar_basemap *m, const char *id);

const smar_base_secret *smar_basemap_find(smar_basemap *m, const char *id)
{
    bool known;
    if (!m || !m->lazy)
        return find_known(m, id, &known);
    pthread_mutex_lock(&m->lock);
    const smar_base_secret *b = find_known(m, id, &known);
    if (!known && m->lazy_rc == SMAR_OK && resolve_lazily(m, id) == SMAR_OK)
        b = find_known(m, id, &known);
    pthread_mutex_unlock(&m->lock);
    return b;
}

int smar_basemap_error(smar_basemap *m, smar_err *e)
{
    if (!m || !m->lazy)
        return SMAR_OK;
    pthread_mutex_lock(&m->lock);
    int rc = m->lazy_rc;
    if (rc)
        *e = m->lazy_err;
    pthread_mutex_unlock(&m->lock);
    return rc;
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

/* A new entry at the end of v, in the slots once its id is set (insert_entry). */
static smar_base_secret *new_entry(smar_basemap *m)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        smar_base_secret **nv = realloc(m->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        m->v = nv;
        m->cap = cap;
    }
    if ((m->n + 1) * 2 > m->nslots && rehash(m))
        return NULL;
    smar_base_secret *b = calloc(1, sizeof *b);
    if (b)
        m->v[m->n++] = b; /* counted before filling: smar_basemap_free frees a half-filled one */
    return b;
}

static void insert_entry(smar_basemap *m, const smar_base_secret *b)
{
    size_t slot = slot_of(m, b->id);
    while (m->slots[slot])
        slot = (slot + 1) & (m->nslots - 1);
    m->slots[slot] = m->n;
}

static int add_secret(smar_reader *r, const smar_secret *s, void *vm)
{
    smar_basemap *m = vm;
    (void)r;
    /* the parent's metadata texts are checked where they are used: here (a referenced
     * record's text was checked when its patches were applied) */
    if (!smar_secret_metadata_json(s, NULL))
        return SMAR_STOP;
    smar_base_secret *b = new_entry(m);
    if (!b || fill_entry(m, s, b)) {
        m->oom = true;
        return SMAR_STOP;
    }
    insert_entry(m, b);
    return 0;
}

static int compare_place(const parent_rec *r, uint32_t seq, uint32_t offset)
{
    return r->seq != seq         ? (r->seq < seq ? -1 : 1)
           : r->offset != offset ? (r->offset < offset ? -1 : 1)
                                 : 0;
}

/* Remember the versions of the parent's record s (found by its place: records are in
 * stream order) for smar_basemap_counted. */
static void note_resolved(smar_basemap *m, const smar_secret *s)
{
    size_t lo = 0, hi = m->nrec;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_place(&m->rec[mid], s->where.seq, s->where.offset);
        if (c == 0) {
            const smar_meta *pm = &m->parent->meta;
            m->rec_versions[mid] = (uint32_t)s->nversions + 1;
            for (size_t v = 0; v < s->nversions; v++)
                if (s->versions[v].created == pm->oldest || s->versions[v].created == pm->newest)
                    m->rec_extreme[mid] = true;
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
}

/* Lazy maps: the parent's secret id, resolved through its reader (under m->lock). An id
 * the parent lacks gets an "absent" entry, so that it is looked up once. */
static int resolve_lazily(smar_basemap *m, const char *id)
{
    smar_secret *s = NULL;
    int rc = smar_reader_find_id(m->parent, id, &s);
    if (rc && rc != SMAR_E_NOTFOUND) {
        smar_fail(&m->lazy_err, rc, "%s", smar_reader_error(m->parent));
        return m->lazy_rc = rc;
    }
    if (s && !smar_secret_metadata_json(s, NULL)) {
        smar_secret_free(s);
        smar_fail(&m->lazy_err, SMAR_E_FORMAT, "'%s': a secret's metadata is not a JSON object",
                  m->parent->name);
        return m->lazy_rc = SMAR_E_FORMAT;
    }
    if (s)
        note_resolved(m, s);
    smar_base_secret *b = new_entry(m);
    rc = !b  ? SMAR_E_NOMEM
         : s ? fill_entry(m, s, b)
             : ((b->id = strdup(id)) ? SMAR_OK : SMAR_E_NOMEM);
    if (b && !s)
        b->absent = true;
    smar_secret_free(s);
    if (rc) {
        smar_fail(&m->lazy_err, rc, "out of memory reading the base");
        return m->lazy_rc = rc;
    }
    insert_entry(m, b);
    return SMAR_OK;
}

/* ---- a parent with export digests: its records as stored and its table ------------- */

/* A section's whole stream into out; start[seq] (may be NULL): where chunk seq begins. */
static int load_stream(smar_reader *r, uint8_t section, smar_buf *out, size_t *start)
{
    for (uint32_t seq = 0; seq < r->counts[section]; seq++) {
        const uint8_t *raw;
        size_t len;
        int rc = smar_reader_load_chunk(r, section, seq, &raw, &len);
        if (rc)
            return rc;
        if (start)
            start[seq] = out->len;
        if (smar_buf_append(out, raw, len))
            return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

/* Cut the parent's manifest stream into records (bodies not decoded: a type 3 record's
 * reference is decoded when a digest hits it). */
static int index_records(smar_basemap *m, const size_t *start, uint32_t nchunks, smar_err *e)
{
    const smar_reader *r = m->parent;
    uint64_t want = r->meta.secret_count;
    if (want > m->manifest.len / 5 || !(m->rec = calloc(want + 1, sizeof *m->rec)) ||
        !(m->rec_versions = calloc(want + 1, sizeof *m->rec_versions)) ||
        !(m->rec_extreme = calloc(want + 1, sizeof *m->rec_extreme)))
        return smar_fail(e, want > m->manifest.len / 5 ? SMAR_E_FORMAT : SMAR_E_NOMEM,
                         "'%s': the manifest cannot hold %llu records", r->name,
                         (unsigned long long)want);
    size_t pos = 0;
    uint32_t seq = 0;
    while (pos < m->manifest.len) {
        if (m->nrec == want || m->manifest.len - pos < 5)
            return smar_fail(e, SMAR_E_FORMAT, "'%s': the manifest holds more than its records",
                             r->name);
        uint32_t body_len = smar_load_u32(m->manifest.data + pos);
        if (body_len == 0 || body_len > m->manifest.len - pos - 4)
            return smar_fail(e, SMAR_E_FORMAT, "'%s': record runs past its section", r->name);
        while (seq + 1 < nchunks && start[seq + 1] <= pos)
            seq++;
        m->rec[m->nrec++] = (parent_rec){seq, (uint32_t)(pos - start[seq]), body_len + 4, pos + 4};
        pos += 4 + (size_t)body_len;
    }
    if (m->nrec != want)
        return smar_fail(e, SMAR_E_FORMAT,
                         "'%s': the manifest holds %zu secrets, the meta section "
                         "says %llu",
                         r->name, m->nrec, (unsigned long long)want);
    return SMAR_OK;
}

static size_t dslot_of(const smar_basemap *m, const uint8_t *digest)
{
    return (size_t)smar_load_u64(digest) & (m->ndslots - 1);
}

/* digest -> record; zero digests (the writer was unsure of the text) are never looked up,
 * and a digest held twice (the same text twice: the writer refused that export) keeps its
 * first record */
static int index_digests(smar_basemap *m, smar_err *e)
{
    static const uint8_t zero[SMAR_DIGEST_BYTES];
    m->ndslots = 4096;
    while (m->ndslots < 2 * m->nrec)
        m->ndslots *= 2;
    if (!(m->dslots = calloc(m->ndslots, sizeof *m->dslots)))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < m->nrec; i++) {
        const uint8_t *d = m->dv.digests + i * SMAR_DIGEST_BYTES;
        if (memcmp(d, zero, sizeof zero) == 0 || smar_basemap_digest_hit(m, d) >= 0)
            continue;
        size_t s = dslot_of(m, d);
        while (m->dslots[s])
            s = (s + 1) & (m->ndslots - 1);
        m->dslots[s] = i + 1;
    }
    return SMAR_OK;
}

/* The key the parent's table was made with: its own, or the one of the base it names. */
static int digest_key_of(smar_basemap *m, smar_err *e)
{
    smar_reader *holder = m->parent;
    if (m->dv.key_base == SMAR_DIGESTS_KEY_OWN) {
        m->key_base = 0;
    } else {
        if (m->dv.key_base >= smar_reader_base_count(m->parent))
            return smar_fail(e, SMAR_E_FORMAT, "'%s': the digests section names base %u of %zu",
                             m->parent->name, m->dv.key_base, smar_reader_base_count(m->parent));
        int rc = smar_reader_get_base(m->parent, m->dv.key_base, &holder);
        if (rc)
            return smar_fail(e, rc, "%s", smar_reader_error(m->parent));
        m->key_base = (uint8_t)(m->dv.key_base + 1);
    }
    m->digest_key = holder->keys->export_digest;
    return SMAR_OK;
}

static int open_lazy(smar_basemap *m, smar_err *e)
{
    smar_reader *r = m->parent;
    uint32_t nchunks = (uint32_t)r->counts[SMAR_SEC_MANIFEST];
    size_t *start = calloc((size_t)nchunks + 1, sizeof *start);
    int rc;
    m->lazy = true;
    m->manifest.secure = true; /* metadata of every record */
    if (!start)
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    if ((rc = load_stream(r, SMAR_SEC_MANIFEST, &m->manifest, start)) ||
        (rc = load_stream(r, SMAR_SEC_DIGESTS, &m->table, NULL))) {
        free(start);
        return rc == SMAR_E_NOMEM ? smar_fail(e, rc, "out of memory")
                                  : smar_fail(e, rc, "%s", smar_reader_error(r));
    }
    rc = index_records(m, start, nchunks, e);
    free(start);
    /* From here on the parent and its bases are read a record at a time (the secrets that
     * changed), in export order: reading ahead would open every manifest chunk of the
     * chain's full archive, which is what this map avoids. */
    smar_reader_set_threads(r, 1);
    for (size_t i = 0; rc == SMAR_OK && i < smar_reader_base_count(r); i++) {
        smar_reader *b = NULL;
        if (smar_reader_get_base(r, i, &b) == SMAR_OK)
            smar_reader_set_threads(b, 1);
    }
    if (rc || (rc = smar_digests_parse(m->table.data, m->table.len, m->nrec, &m->dv, e)) ||
        (rc = digest_key_of(m, e)))
        return rc;
    return index_digests(m, e);
}

bool smar_basemap_has_digests(const smar_basemap *m)
{
    return m && m->lazy;
}

const uint8_t *smar_basemap_digest_key(const smar_basemap *m, uint8_t *key_base)
{
    *key_base = m->key_base;
    return m->digest_key;
}

int64_t smar_basemap_digest_hit(const smar_basemap *m, const uint8_t digest[SMAR_DIGEST_BYTES])
{
    if (!m || !m->lazy || !m->dslots)
        return -1;
    for (size_t s = dslot_of(m, digest); m->dslots[s]; s = (s + 1) & (m->ndslots - 1)) {
        size_t i = m->dslots[s] - 1;
        if (sodium_memcmp(m->dv.digests + i * SMAR_DIGEST_BYTES, digest, SMAR_DIGEST_BYTES) == 0)
            return (int64_t)i;
    }
    return -1;
}

uint16_t smar_basemap_retrieved_member(const smar_basemap *m, size_t i)
{
    return smar_digests_member(&m->dv, i);
}

size_t smar_basemap_records(const smar_basemap *m)
{
    return m && m->lazy ? m->nrec : 0;
}

bool smar_basemap_counted(const smar_basemap *m, size_t i, size_t *versions, bool *extreme)
{
    if (!m->rec_versions[i])
        return false;
    *versions = m->rec_versions[i] - 1;
    *extreme = m->rec_extreme[i];
    return true;
}

int smar_basemap_resolve(smar_basemap *m, size_t i, smar_secret **out, smar_err *e)
{
    int rc = smar_reader_fetch_record(m->parent, m->rec[i].seq, m->rec[i].offset, out, NULL, NULL);
    return rc ? smar_fail(e, rc, "%s", smar_reader_error(m->parent)) : SMAR_OK;
}

/* patches with member := value, in member order (one more than given at most) */
static size_t put_patch(const smar_patch *old, size_t n, uint16_t member, smar_span value,
                        smar_patch *out)
{
    size_t k = 0, i = 0;
    for (; i < n && old[i].member < member; i++)
        out[k++] = old[i];
    if (member != SMAR_DIGEST_NO_MEMBER)
        out[k++] = (smar_patch){member, value};
    if (i < n && old[i].member == member)
        i++;
    for (; i < n; i++)
        out[k++] = old[i];
    return k;
}

int smar_basemap_hit_ref(const smar_basemap *m, size_t i, uint16_t member, smar_span value,
                         smar_ref *ref, smar_err *e)
{
    const parent_rec *p = &m->rec[i];
    const uint8_t *body = m->manifest.data + p->body;
    size_t n = p->length - 4;
    smar_ref old = {0};
    int rc;
    memset(ref, 0, sizeof *ref);
    if (smar_record_type(body, n) == SMAR_RECORD_SAME_AS_BASE) {
        if ((rc = smar_ref_decode(&old, body, n, (unsigned)smar_reader_base_count(m->parent), e)))
            return rc;
        /* references are flattened: name what the parent's record names, one base on */
        *ref = (smar_ref){(uint8_t)(old.base + 1), old.seq, old.offset, old.length, 0, NULL};
    } else {
        *ref = (smar_ref){0, p->seq, p->offset, p->length, 0, NULL};
    }
    if (!(ref->patches = calloc(old.npatches + 2, sizeof *ref->patches))) {
        free(old.patches);
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    }
    ref->npatches = put_patch(old.patches, old.npatches, member, value, ref->patches);
    free(old.patches);
    return SMAR_OK;
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
    pthread_mutex_init(&m->lock, NULL);
    if (parent->hdr2.flags & SMAR_HEADER2_FLAG_EXPORT_DIGESTS) {
        int rc = open_lazy(m, e);
        if (rc) {
            smar_basemap_free(m);
            return rc;
        }
        *out = m;
        return SMAR_OK;
    }
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
        smar_base_secret *b = m->v[i];
        smar_wipe_free_str(b->id); /* ids are kept out of freed memory, as everywhere */
        free(b->member_hash);
        for (size_t j = 0; b->versions && j < b->nversions; j++)
            smar_wipe_free_str(b->versions[j].id);
        free(b->versions);
        free(b);
    }
    free(m->v);
    smar_buf_free(&m->manifest);
    smar_buf_free(&m->table);
    free(m->rec);
    free(m->rec_versions);
    free(m->rec_extreme);
    free(m->dslots);
    pthread_mutex_destroy(&m->lock);
    free(m->slots);
    sodium_memzero(m->member_key, sizeof m->member_key);
    sodium_memzero(m->value_key, sizeof m->value_key);
    free(m);
}
