/*
 * test_vectors.c - the test vectors of spec/vectors (see spec/vectors/README.md).
 *
 * The format 1 vectors (spec/vectors/v1) are frozen: libsmar writes format 2 only, so
 * they can no longer be regenerated (their generator is in the history of this file, up to
 * the format 2 merge) and every reader must keep reading them as they are.
 *
 * The normal run (ctest) checks the committed files three ways:
 *  1. through the library's public API: the clear information, unlocking with every keyring
 *     that should open each archive, every secret rendered with its payloads, lookups by id
 *     and by name, keyless and keyed verification - byte for byte against the committed
 *     <archive>.info.txt and <archive>.secrets.jsonl (or .secrets.sha256);
 *  2. through an independent reader written from spec/FORMAT.md alone ("sr_" below: only
 *     libsodium, zstd, cJSON and the generic helpers of vectors_common.h, none of libsmar's
 *     format code), which must render the same bytes and reproduce the intermediate
 *     values recorded in <archive>.internals.txt;
 *  3. every negative vector fails with its documented status at its documented stage (and
 *     the independent reader rejects it at the same stage).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <zstd.h>

#include "archive_fixture.h"
#include "smar.h"
#include "testutil.h"
#include "vectors_common.h"

/* ==== an independent reader, written from spec/FORMAT.md ============================== */

#define L_SLOT    "smar/v1 key-slot"
#define L_CHUNK   "smar/v1 chunk\0\0\0"
#define L_ROOT    "smar/v1 root\0\0\0\0"
#define L_ROOTMAC "smar/v1 root-mac"
#define L_SIGN    "smar/v1 signatur"
static const uint8_t MAGIC[8] = {0x89, 'S', 'M', 'A', 'R', '\r', '\n', 0x1a};
static const char *const SECTION_NAME[5] = {"?", "payload", "manifest", "index", "meta"};

typedef struct sr_chunk {
    uint64_t offset;
    uint32_t len;
    uint8_t section, flags;
    uint32_t seq;
    const uint8_t *hash, *bytes;
    uint64_t sofs; /* where its plaintext starts in its section's stream */
    size_t plen;
    bool opened;
} sr_chunk;

typedef struct sr_slot {
    uint8_t provider;
    char kid[65];
    uint32_t version;
    const uint8_t *wrapped;
    uint16_t wlen;
} sr_slot;

typedef struct sr_str {
    const char *p;
    size_t n;
} sr_str;

typedef struct sr_loc {
    bool present;
    uint32_t seq, off, len;
    const uint8_t *hash;
} sr_loc;

typedef struct sr_ver {
    sr_str id, meta;
    int64_t created;
    sr_loc pay;
} sr_ver;

typedef struct sr_rec {
    uint64_t pos; /* stream offset of its length prefix */
    uint32_t total;
    uint8_t flags;
    sr_str id, type, name, group, meta;
    int64_t created, updated;
    sr_loc pay;
    uint32_t nver;
    sr_ver *v;
} sr_rec;

typedef struct sr {
    const uint8_t *d, *trailer, *header, *table, *id;
    size_t n;
    uint64_t table_offset;
    uint32_t count, tflags, hlen, chunk_size;
    uint16_t minor, suite, nslots;
    int64_t created, snapshot;
    sr_slot slot[16];
    sr_chunk *c;
    uint32_t nsec[5];
    uint32_t *bysec[5]; /* seq -> chunk number */
    int used_slot;
    uint8_t dek[32], sub[6][32];
    sb stream[5];
    /* meta section */
    uint64_t nsecrets, nversions, npayloads;
    int64_t oldest, newest;
    uint32_t mchunks[4];
    struct {
        uint32_t first, n;
        uint64_t entries;
        const uint8_t *fences;
    } tab[2];
    sr_str doc;
    sr_rec *rec;
    size_t nrec;
    char why[256];
} sr;

static int sr_fail(sr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sr_fail(sr *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return -1;
}

static void sr_free(sr *r)
{
    free(r->c);
    for (int s = 0; s < 5; s++) {
        free(r->bysec[s]);
        sb_free(&r->stream[s]);
    }
    for (size_t i = 0; i < r->nrec; i++)
        free(r->rec[i].v);
    free(r->rec);
    sodium_memzero(r->dek, sizeof r->dek);
    sodium_memzero(r->sub, sizeof r->sub);
}

/* Largest stored chunk: ZSTD_COMPRESSBOUND(chunk_size) + 16. */
static uint64_t stored_max(uint32_t cs)
{
    uint64_t b = (uint64_t)cs + (cs >> 8);
    if (cs < (128u << 10))
        b += ((128u << 10) - cs) >> 11;
    return b + 16;
}

/* Stage 1: trailer, header and chunk table, structure only. */
static int sr_open(sr *r, const uint8_t *d, size_t n)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->n = n;
    r->used_slot = -1;
    if (n < 64 + 216)
        return sr_fail(r, "too short");
    const uint8_t *t = r->trailer = d + n - 216;
    if (memcmp(t + 208, "SMAR-END", 8) != 0)
        return sr_fail(r, "no tail magic");
    if (le16(t + 200) != 1 || le32(t + 204) != 216)
        return sr_fail(r, "trailer version or length");
    r->table_offset = le64(t);
    r->count = le32(t + 8);
    r->tflags = le32(t + 12);
    r->id = t + 16;
    r->hlen = le32(t + 32);
    if ((r->tflags & ~1u) != 0 || !all_zero(t + 36, 4))
        return sr_fail(r, "trailer flags");
    if (!(r->tflags & 1) && !all_zero(t + 104, 96))
        return sr_fail(r, "unsigned with signature bytes");
    if (r->count == 0 || r->count > (1u << 24))
        return sr_fail(r, "chunk count");
    if (r->table_offset > n - 216 || (uint64_t)r->count * 48 != n - 216 - r->table_offset)
        return sr_fail(r, "table does not fit");

    const uint8_t *h = r->header = d;
    if (memcmp(h, MAGIC, 8) != 0 || le16(h + 8) != 1)
        return sr_fail(r, "header magic or major");
    uint32_t hl = le32(h + 12);
    if (hl != r->hlen || hl < 96 || hl > 16384 || hl > r->table_offset)
        return sr_fail(r, "header length");
    r->minor = le16(h + 10);
    if (r->minor != le16(t + 202) || memcmp(h + 28, r->id, 16) != 0)
        return sr_fail(r, "header and trailer disagree");
    r->suite = le16(h + 20);
    r->chunk_size = le32(h + 24);
    r->created = (int64_t)le64(h + 44);
    r->snapshot = (int64_t)le64(h + 52);
    r->nslots = le16(h + 60);
    if (le32(h + 16) != 0 || le16(h + 62) != 0 || (r->suite != 1 && r->suite != 2) ||
        le16(h + 22) != 1 || r->chunk_size < (64u << 10) || r->chunk_size > (16u << 20) ||
        r->nslots == 0 || r->nslots > 16)
        return sr_fail(r, "header fields");
    size_t p = 64, end = hl - 32;
    for (unsigned i = 0; i < r->nslots; i++) {
        sr_slot *s = &r->slot[i];
        if (p + 2 > end)
            return sr_fail(r, "slot truncated");
        s->provider = h[p];
        size_t kl = h[p + 1];
        p += 2;
        if (s->provider != 1 || kl == 0 || kl > 64 || p + kl + 6 > end)
            return sr_fail(r, "slot %u", i);
        for (size_t k = 0; k < kl; k++)
            if (h[p + k] < 0x21 || h[p + k] > 0x7e)
                return sr_fail(r, "slot key id");
        memcpy(s->kid, h + p, kl);
        s->kid[kl] = 0;
        p += kl;
        s->version = le32(h + p);
        s->wlen = le16(h + p + 4);
        p += 6;
        if (s->version == 0 || s->wlen == 0 || s->wlen > 512 || p + s->wlen > end)
            return sr_fail(r, "slot %u version or wrapped key", i);
        s->wrapped = h + p;
        p += s->wlen;
    }
    if (p != end)
        return sr_fail(r, "bytes after the key slots");

    r->table = d + r->table_offset;
    r->c = calloc(r->count, sizeof *r->c);
    uint64_t expect = hl;
    bool closed[5] = {false};
    for (uint32_t i = 0; i < r->count; i++) {
        const uint8_t *e = r->table + (size_t)i * 48;
        sr_chunk *c = &r->c[i];
        c->offset = le64(e);
        c->len = le32(e + 8);
        c->section = e[12];
        c->flags = e[13];
        c->hash = e + 16;
        if (e[14] != 0 || e[15] != 0 || (c->flags & ~1u) != 0 || c->section < 1 || c->section > 4)
            return sr_fail(r, "table entry %u", i);
        if (c->offset != expect || c->len <= 16 || c->len > stored_max(r->chunk_size) ||
            c->len > r->table_offset - expect)
            return sr_fail(r, "chunk %u place or size", i);
        if (closed[c->section])
            return sr_fail(r, "chunk %u after its section's last", i);
        c->seq = r->nsec[c->section]++;
        if (c->flags & 1)
            closed[c->section] = true;
        c->bytes = d + c->offset;
        expect += c->len;
    }
    if (expect != r->table_offset)
        return sr_fail(r, "gap before the table");
    for (int s = 1; s <= 4; s++)
        if (r->nsec[s] > 0 && !closed[s])
            return sr_fail(r, "section %d has no last chunk", s);
    if (r->nsec[4] == 0)
        return sr_fail(r, "no meta section");
    for (int s = 1; s <= 4; s++)
        r->bysec[s] = calloc(r->nsec[s] + 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < r->count; i++)
        r->bysec[r->c[i].section][r->c[i].seq] = i;
    return 0;
}

static void body_hash(const uint8_t *trailer, const uint8_t *header, size_t hlen,
                      const uint8_t *table, size_t tlen, uint8_t body[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)L_ROOT, 16);
    crypto_generichash_update(&st, trailer, 40);
    crypto_generichash_update(&st, trailer + 200, 16);
    crypto_generichash_update(&st, header, hlen);
    crypto_generichash_update(&st, table, tlen);
    crypto_generichash_final(&st, body, 32);
}

static void sr_body(const sr *r, uint8_t body[32])
{
    body_hash(r->trailer, r->header, r->hlen, r->table, (size_t)r->count * 48, body);
}

static void sr_root(const uint8_t body[32], const uint8_t mac[32], const uint8_t signer[32],
                    uint8_t root[32])
{
    uint8_t m[16 + 96];
    memcpy(m, L_ROOT, 16);
    memcpy(m + 16, body, 32);
    memcpy(m + 48, mac, 32);
    memcpy(m + 80, signer, 32);
    crypto_generichash(root, 32, m, sizeof m, NULL, 0);
}

static void sr_rootmac(const uint8_t key[32], const uint8_t body[32], uint8_t mac[32])
{
    uint8_t m[48];
    memcpy(m, L_ROOTMAC, 16);
    memcpy(m + 16, body, 32);
    crypto_generichash(mac, 32, m, sizeof m, key, 32);
}

/* Stage 2 (no key): chunk hashes, root hash, signature (with pk, or the key it names). */
static int sr_keyless(sr *r, const uint8_t *pk)
{
    uint8_t h[32], body[32], root[32], msg[64];
    for (uint32_t i = 0; i < r->count; i++) {
        crypto_generichash(h, 32, r->c[i].bytes, r->c[i].len, NULL, 0);
        if (memcmp(h, r->c[i].hash, 32) != 0)
            return sr_fail(r, "chunk %u does not match its hash", i);
    }
    sr_body(r, body);
    sr_root(body, r->trailer + 72, r->trailer + 104, root);
    if (memcmp(root, r->trailer + 40, 32) != 0)
        return sr_fail(r, "root hash");
    if (!(r->tflags & 1))
        return pk ? sr_fail(r, "not signed") : 0;
    memcpy(msg, L_SIGN, 16);
    memcpy(msg + 16, r->id, 16);
    memcpy(msg + 32, root, 32);
    if (crypto_sign_verify_detached(r->trailer + 136, msg, sizeof msg, pk ? pk : r->trailer + 104))
        return sr_fail(r, "signature");
    return 0;
}

static size_t sr_slot_aad(const sr *r, const sr_slot *s, uint8_t *aad)
{
    size_t kl = strlen(s->kid), p = 0;
    memcpy(aad, L_SLOT, 16);
    memcpy(aad + 16, MAGIC, 8);
    put16(aad + 24, 1);
    memcpy(aad + 26, r->id, 16);
    aad[42] = s->provider;
    aad[43] = (uint8_t)kl;
    memcpy(aad + 44, s->kid, kl);
    p = 44 + kl;
    put32(aad + p, s->version);
    return p + 4;
}

static void sr_nonce_aad(const sr *r, uint32_t i, uint8_t nonce[24], uint8_t aad[46])
{
    const sr_chunk *c = &r->c[i];
    memset(nonce, 0, 24);
    put64(nonce, i);
    nonce[8] = c->section;
    nonce[9] = c->flags;
    memcpy(aad, L_CHUNK, 16);
    memcpy(aad + 16, r->id, 16);
    put64(aad + 32, i);
    aad[40] = c->section;
    aad[41] = c->flags;
    put32(aad + 42, c->seq);
}

/* Decrypt and decompress chunk i onto the end of its section's stream. */
static int sr_chunk_open(sr *r, uint32_t i)
{
    sr_chunk *c = &r->c[i];
    uint8_t nonce[24], aad[46];
    unsigned long long zlen;
    int rc;
    sr_nonce_aad(r, i, nonce, aad);
    uint8_t *z = malloc(c->len);
    if (r->suite == 1)
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(z, &zlen, NULL, c->bytes, c->len, aad,
                                                        sizeof aad, nonce, r->sub[2]);
    else if (crypto_aead_aes256gcm_is_available())
        rc = crypto_aead_aes256gcm_decrypt(z, &zlen, NULL, c->bytes, c->len, aad, sizeof aad, nonce,
                                           r->sub[2]);
    else
        rc = -2;
    if (rc != 0) {
        free(z);
        return sr_fail(r, rc == -2 ? "AES-256-GCM unavailable" : "chunk %u does not open", i);
    }
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size == 0 ||
        size > r->chunk_size || ZSTD_findFrameCompressedSize(z, zlen) != zlen) {
        free(z);
        return sr_fail(r, "chunk %u: bad zstd frame", i);
    }
    sb *s = &r->stream[c->section];
    c->sofs = s->n;
    uint8_t *out = malloc(size);
    size_t got = ZSTD_decompress(out, size, z, zlen);
    free(z);
    if (ZSTD_isError(got) || got != size) {
        free(out);
        return sr_fail(r, "chunk %u: decompression", i);
    }
    sb_add(s, out, got);
    free(out);
    c->plen = got;
    c->opened = true;
    return 0;
}

static sr_str tstr(cur *c, bool wide)
{
    size_t n = wide ? t32(c) : t16(c);
    const uint8_t *q = take(c, n);
    return (sr_str){(const char *)q, q ? n : 0};
}
static sr_loc tloc(cur *c)
{
    sr_loc l = {false, 0, 0, 0, NULL};
    uint8_t f = t8(c);
    if (f > 1)
        c->ok = false;
    if (f == 1) {
        l.present = true;
        l.seq = t32(c);
        l.off = t32(c);
        l.len = t32(c);
        l.hash = take(c, 32);
        if (l.len > (64u << 20))
            c->ok = false;
    }
    return l;
}

static int sr_meta(sr *r)
{
    cur c = {r->stream[4].p, r->stream[4].n, true};
    if (t32(&c) != 1)
        return sr_fail(r, "meta format");
    r->nsecrets = t64(&c);
    r->nversions = t64(&c);
    r->npayloads = t64(&c);
    r->oldest = (int64_t)t64(&c);
    r->newest = (int64_t)t64(&c);
    for (int s = 1; s <= 3; s++)
        r->mchunks[s] = t32(&c);
    for (int t = 0; t < 2; t++) {
        r->tab[t].first = t32(&c);
        r->tab[t].n = t32(&c);
        r->tab[t].entries = t64(&c);
        r->tab[t].fences = take(&c, (size_t)r->tab[t].n * 16);
        uint64_t n = r->tab[t].n;
        if (r->tab[t].entries > n * 2340 || (n > 0 && r->tab[t].entries <= (n - 1) * 2340))
            return sr_fail(r, "index table %d size", t);
    }
    r->doc = tstr(&c, true);
    if (!c.ok || c.left != 0)
        return sr_fail(r, "meta section malformed");
    for (int s = 1; s <= 3; s++)
        if (r->mchunks[s] != r->nsec[s])
            return sr_fail(r, "section %d chunk count", s);
    if (r->tab[0].first != 0 || r->tab[1].first != r->tab[0].n ||
        r->tab[0].n + r->tab[1].n != r->nsec[3] || r->tab[0].entries != r->nsecrets)
        return sr_fail(r, "index layout");
    return 0;
}

/* Stage 3: unwrap a slot with a keyring file, derive the subkeys, check the header MAC and
 * the root MAC, open the meta section. */
static int sr_unlock(sr *r, const char *keyring_text)
{
    uint8_t aad[128], key[32], mac[32], body[32];
    for (unsigned i = 0; i < r->nslots && r->used_slot < 0; i++) {
        const sr_slot *s = &r->slot[i];
        if (!keyring_file_key(keyring_text, s->kid, strlen(s->kid), s->version, key))
            continue;
        size_t alen = sr_slot_aad(r, s, aad);
        if (s->wlen != 72)
            return sr_fail(r, "local wrapped key is not 72 bytes");
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(r->dek, NULL, NULL, s->wrapped + 24, 48, aad,
                                                       alen, s->wrapped, key) != 0)
            return sr_fail(r, "slot %u does not open", i);
        r->used_slot = (int)i;
    }
    sodium_memzero(key, sizeof key);
    if (r->used_slot < 0)
        return sr_fail(r, "no slot for this keyring");
    for (uint64_t id = 1; id <= 5; id++) {
        uint8_t salt[16] = {0}, personal[16] = {0};
        put64(salt, id);
        memcpy(personal, "smar-v1\0", 8);
        crypto_generichash_blake2b_salt_personal(r->sub[id], 32, NULL, 0, r->dek, 32, salt,
                                                 personal);
    }
    crypto_generichash(mac, 32, r->header, r->hlen - 32, r->sub[1], 32);
    if (memcmp(mac, r->header + r->hlen - 32, 32) != 0)
        return sr_fail(r, "header MAC");
    sr_body(r, body);
    sr_rootmac(r->sub[3], body, mac);
    if (memcmp(mac, r->trailer + 72, 32) != 0)
        return sr_fail(r, "root MAC");
    for (uint32_t q = 0; q < r->nsec[4]; q++)
        if (sr_chunk_open(r, r->bysec[4][q]))
            return -1;
    return sr_meta(r);
}

static int sr_record(sr *r, cur *c, sr_rec *x)
{
    if (t8(c) != 1)
        return sr_fail(r, "record type");
    x->flags = t8(c);
    if (x->flags & ~1u)
        return sr_fail(r, "record flags");
    x->id = tstr(c, false);
    x->type = tstr(c, false);
    x->name = tstr(c, false);
    x->group = tstr(c, false);
    x->created = (int64_t)t64(c);
    x->updated = (int64_t)t64(c);
    uint16_t nl = t16(c);
    for (unsigned i = 0; i < nl; i++)
        tstr(c, false);
    x->meta = tstr(c, true);
    x->pay = tloc(c);
    x->nver = t32(c);
    if (!c->ok || x->id.n == 0 || x->type.n == 0 || nl > 1000 || x->nver > 10000)
        return sr_fail(r, "record fields");
    x->v = calloc(x->nver + 1, sizeof *x->v);
    for (uint32_t i = 0; i < x->nver; i++) {
        sr_ver *v = &x->v[i];
        v->id = tstr(c, false);
        v->created = (int64_t)t64(c);
        v->pay = tloc(c);
        v->meta = tstr(c, true);
        if (!c->ok || v->id.n == 0 || (i > 0 && v->created < x->v[i - 1].created))
            return sr_fail(r, "version %u", i);
    }
    if (!c->ok || c->left != 0)
        return sr_fail(r, "record length");
    return 0;
}

/* Stream position of (seq, offset) in a section. */
static int sr_pos(sr *r, int section, uint32_t seq, uint32_t off, uint64_t *pos)
{
    if (seq >= r->nsec[section])
        return sr_fail(r, "no chunk %u in section %d", seq, section);
    const sr_chunk *c = &r->c[r->bysec[section][seq]];
    if (off >= c->plen)
        return sr_fail(r, "offset past chunk");
    *pos = c->sofs + off;
    return 0;
}

/* (seq, offset) of a stream position. */
static void sr_where(const sr *r, int section, uint64_t pos, uint32_t *seq, uint32_t *off)
{
    for (uint32_t q = 0; q < r->nsec[section]; q++) {
        const sr_chunk *c = &r->c[r->bysec[section][q]];
        if (pos >= c->sofs && pos < c->sofs + c->plen) {
            *seq = q;
            *off = (uint32_t)(pos - c->sofs);
            return;
        }
    }
    *seq = *off = UINT32_MAX;
}

static int sr_payload(sr *r, const sr_loc *l, sr_str *out)
{
    uint64_t pos = 0;
    uint8_t h[32];
    if (sr_pos(r, 1, l->seq, l->off, &pos))
        return -1;
    if (pos + l->len > r->stream[1].n)
        return sr_fail(r, "payload runs past its section");
    crypto_generichash(h, 32, r->stream[1].p + pos, l->len, r->sub[5], 32);
    if (memcmp(h, l->hash, 32) != 0)
        return sr_fail(r, "payload hash");
    *out = (sr_str){(const char *)r->stream[1].p + pos, l->len};
    return 0;
}

/* Members of a JSON object text written by a v1 writer ("{" members "}", no whitespace
 * outside values) appended to out. */
static int sr_members(sr *r, sb *out, sr_str obj, bool *any)
{
    if (obj.n < 2 || obj.p[0] != '{' || obj.p[obj.n - 1] != '}')
        return sr_fail(r, "not an object text");
    if (obj.n == 2)
        return 0;
    if (*any)
        sb_str(out, ",");
    sb_add(out, obj.p + 1, obj.n - 2);
    *any = true;
    return 0;
}

static int sr_render(sr *r, const sr_rec *x, sb *out)
{
    bool any = false;
    sr_str p;
    sb_str(out, "{");
    if (sr_members(r, out, x->meta, &any))
        return -1;
    if (x->pay.present && (sr_payload(r, &x->pay, &p) || sr_members(r, out, p, &any)))
        return -1;
    if (x->nver > 0 || (x->flags & 1)) {
        sb_str(out, any ? ",\"versions\":[" : "\"versions\":[");
        for (uint32_t i = 0; i < x->nver; i++) {
            bool vany = false;
            sb_str(out, i ? ",{" : "{");
            if (sr_members(r, out, x->v[i].meta, &vany))
                return -1;
            if (x->v[i].pay.present &&
                (sr_payload(r, &x->v[i].pay, &p) || sr_members(r, out, p, &vany)))
                return -1;
            sb_str(out, "}");
        }
        sb_str(out, "]");
    }
    sb_str(out, "}\n");
    return 0;
}

static void sr_index_key(const sr *r, int table, sr_str s, uint8_t key[16])
{
    uint8_t prefix = table == 0 ? 'i' : 'n';
    crypto_generichash_state st;
    crypto_generichash_init(&st, r->sub[4], 32, 16);
    crypto_generichash_update(&st, &prefix, 1);
    crypto_generichash_update(&st, (const uint8_t *)s.p, s.n);
    crypto_generichash_final(&st, key, 16);
}

static int entry_cmp(const void *a, const void *b)
{
    const uint8_t *x = a, *y = b;
    int c = memcmp(x, y, 16);
    if (c)
        return c;
    if (le32(x + 16) != le32(y + 16))
        return le32(x + 16) < le32(y + 16) ? -1 : 1;
    return (le32(x + 20) > le32(y + 20)) - (le32(x + 20) < le32(y + 20));
}

/* Both index tables must be exactly what the records imply, sorted, with their fences. */
static int sr_index(sr *r)
{
    for (int t = 0; t < 2; t++) {
        uint8_t *want = calloc(r->nrec + 1, 28);
        size_t n = 0;
        for (size_t i = 0; i < r->nrec; i++) {
            const sr_rec *x = &r->rec[i];
            if (t == 1 && x->name.n == 0)
                continue;
            uint8_t *e = want + n++ * 28;
            uint32_t seq, off;
            sr_index_key(r, t, t == 0 ? x->id : x->name, e);
            sr_where(r, 2, x->pos, &seq, &off);
            put32(e + 16, seq);
            put32(e + 20, off);
            put32(e + 24, x->total);
        }
        qsort(want, n, 28, entry_cmp);
        sb got = {0};
        for (uint32_t k = 0; k < r->tab[t].n; k++) {
            const sr_chunk *c = &r->c[r->bysec[3][r->tab[t].first + k]];
            const uint8_t *raw = r->stream[3].p + c->sofs;
            size_t expect = (size_t)(r->tab[t].entries - (uint64_t)k * 2340);
            if (expect > 2340)
                expect = 2340;
            if (c->plen != expect * 28 || memcmp(raw, r->tab[t].fences + (size_t)k * 16, 16) != 0) {
                sb_free(&got);
                free(want);
                return sr_fail(r, "index chunk %u of table %d", k, t);
            }
            sb_add(&got, raw, c->plen);
        }
        bool same = got.n == n * 28 && (n == 0 || memcmp(got.p, want, n * 28) == 0);
        sb_free(&got);
        free(want);
        if (!same)
            return sr_fail(r, "index table %d is not what the records imply", t);
    }
    return 0;
}

/* Stage 4: every chunk, every record, payload and index entry; the rendering of every
 * secret into out. */
static int sr_read(sr *r, sb *out)
{
    for (uint32_t i = 0; i < r->count; i++)
        if (!r->c[i].opened && sr_chunk_open(r, i))
            return -1;
    const sb *m = &r->stream[2];
    uint64_t pos = 0, versions = 0;
    int64_t oldest = INT64_MIN, newest = INT64_MIN;
    while (pos < m->n) {
        if (m->n - pos < 4)
            return sr_fail(r, "manifest tail");
        uint32_t len = le32(m->p + pos);
        if (len == 0 || len > (160u << 20) || len > m->n - pos - 4)
            return sr_fail(r, "record length");
        r->rec = realloc(r->rec, (r->nrec + 1) * sizeof *r->rec);
        sr_rec *x = &r->rec[r->nrec++];
        memset(x, 0, sizeof *x);
        x->pos = pos;
        x->total = len + 4;
        cur c = {m->p + pos + 4, len, true};
        if (sr_record(r, &c, x))
            return -1;
        versions += x->nver;
        for (uint32_t i = 0; i < x->nver; i++) {
            int64_t t = x->v[i].created;
            if (oldest == INT64_MIN || t < oldest)
                oldest = t;
            if (newest == INT64_MIN || t > newest)
                newest = t;
        }
        pos += 4 + (uint64_t)len;
    }
    if (r->nrec != r->nsecrets || versions != r->nversions || oldest != r->oldest ||
        newest != r->newest)
        return sr_fail(r, "counts disagree with the meta section");
    /* distinct payload records */
    uint64_t distinct = 0, *seen = calloc(r->nrec * 2 + versions + 1, sizeof *seen);
    for (size_t i = 0; i < r->nrec; i++)
        for (int64_t k = -1; k < (int64_t)r->rec[i].nver; k++) {
            const sr_loc *l = k < 0 ? &r->rec[i].pay : &r->rec[i].v[k].pay;
            uint64_t key = ((uint64_t)l->seq << 32) | l->off;
            bool dup = false;
            if (!l->present)
                continue;
            for (uint64_t j = 0; j < distinct && !dup; j++)
                dup = seen[j] == key;
            if (!dup)
                seen[distinct++] = key;
        }
    free(seen);
    if (distinct != r->npayloads)
        return sr_fail(r, "payload count");
    for (size_t i = 0; i < r->nrec; i++)
        if (sr_render(r, &r->rec[i], out))
            return -1;
    return sr_index(r);
}

/* Everything an implementer may want to compare against, as text. */
static void sr_internals(const sr *r, const char *name, sb *o)
{
    uint8_t body[32], aad[128], nonce[24], caad[46];
    static const char *const what[6] = {"",         "header MAC", "chunk AEAD",
                                        "root MAC", "index keys", "payload hashes"};
    size_t total = 0;
    for (int s = 1; s <= 4; s++)
        total += r->stream[s].n;
    sb_printf(o, "# %s: intermediate values of an independent reader (hex)\n", name);
    sb_str(o, "dek: ");
    sb_hex(o, r->dek, 32);
    sb_str(o, "\n");
    for (int k = 1; k <= 5; k++) {
        sb_printf(o, "subkey %d (%s): ", k, what[k]);
        sb_hex(o, r->sub[k], 32);
        sb_str(o, "\n");
    }
    for (unsigned i = 0; i < r->nslots; i++) {
        const sr_slot *s = &r->slot[i];
        size_t alen = sr_slot_aad(r, s, aad);
        sb_printf(o, "slot %u: provider %u key_id %s version %u wrapped %u bytes\n", i, s->provider,
                  s->kid, s->version, s->wlen);
        sb_str(o, "  aad: ");
        sb_hex(o, aad, alen);
        sb_str(o, "\n  wrapped: ");
        sb_hex(o, s->wrapped, s->wlen);
        sb_str(o, "\n");
    }
    sb_printf(o, "header (%u bytes): ", r->hlen);
    sb_hex(o, r->header, r->hlen);
    sb_str(o, "\nheader MAC: ");
    sb_hex(o, r->header + r->hlen - 32, 32);
    sr_body(r, body);
    sb_str(o, "\nbody hash: ");
    sb_hex(o, body, 32);
    sb_str(o, "\nroot MAC: ");
    sb_hex(o, r->trailer + 72, 32);
    sb_str(o, "\nroot hash: ");
    sb_hex(o, r->trailer + 40, 32);
    sb_str(o, "\ntrailer: ");
    sb_hex(o, r->trailer, 216);
    sb_str(o, "\n");
    for (uint32_t i = 0; i < r->count; i++) {
        const sr_chunk *c = &r->c[i];
        sr_nonce_aad(r, i, nonce, caad);
        sb_printf(o,
                  "chunk %u: section %u (%s) seq %u flags %u offset %" PRIu64
                  " stored %u plaintext %zu\n",
                  i, c->section, SECTION_NAME[c->section], c->seq, c->flags, c->offset, c->len,
                  c->plen);
        sb_str(o, "  table entry: ");
        sb_hex(o, r->table + (size_t)i * 48, 48);
        sb_str(o, "\n  nonce: ");
        sb_hex(o, nonce, r->suite == 1 ? 24 : 12);
        sb_str(o, "\n  aad: ");
        sb_hex(o, caad, sizeof caad);
        sb_str(o, "\n");
        const uint8_t *plain = r->stream[c->section].p + c->sofs;
        if (total <= 16384) {
            for (size_t k = 0; k < c->plen; k += 64) {
                sb_str(o, k == 0 ? "  plaintext: " : "             ");
                sb_hex(o, plain + k, c->plen - k < 64 ? c->plen - k : 64);
                sb_str(o, "\n");
            }
        } else {
            uint8_t h[32];
            crypto_hash_sha256(h, plain, c->plen);
            sb_str(o, "  plaintext sha256: ");
            sb_hex(o, h, 32);
            sb_str(o, "\n");
        }
    }
    for (size_t i = 0; i < r->nrec; i++) {
        uint8_t key[16];
        sr_index_key(r, 0, r->rec[i].id, key);
        sb_printf(o, "index key i||%.*s: ", (int)r->rec[i].id.n, r->rec[i].id.p);
        sb_hex(o, key, 16);
        sb_str(o, "\n");
        if (r->rec[i].name.n) {
            sr_index_key(r, 1, r->rec[i].name, key);
            sb_printf(o, "index key n||%.*s: ", (int)r->rec[i].name.n, r->rec[i].name.p);
            sb_hex(o, key, 16);
            sb_str(o, "\n");
        }
    }
}

/* ==== through the library ============================================================== */

static const char *const KEY_FILES[] = {"keyring-a.json",     "keyring-a-v1.json",
                                        "keyring-b.json",     "keyring-a-wrong.json",
                                        "keyring-other.json", NULL};

/* Format 1's key slots: a local keyring's id and version each. */
static void describe_slots(smar_reader *r, size_t n, sb *o)
{
    for (size_t i = 0; i < n; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        assert_int_equal(smar_reader_slot(r, i, &si), SMAR_OK);
        sb_printf(o, "key_slot %zu: provider %s, key_id %s, key_version %u\n", i, si.provider,
                  si.key_id, si.key_version);
    }
}

/* The clear information, verification results and snapshot of an archive, as text; the
 * renderings of its secrets into rd. */
static void lib_describe(const char *file, const char *keyring_file, const uint8_t *pk, sb *o,
                         rendered *rd)
{
    smar_reader *r = open_vector(file);
    describe_clear(r, file, describe_slots, o);
    describe_keyless(r, file, pk, o);
    unlock_with(r, file, keyring_file);
    describe_unlocked(r, file, pk, o, rd);
    smar_reader_free(r);
}

/* ==== the positive vectors ============================================================== */

static const vector VECTORS[] = {
    {"v1-basic.smar", {"keyring-a.json", NULL, NULL}, NULL, false, false},
    {"v1-two-slots.smar", {"keyring-a.json", "keyring-b.json", NULL}, NULL, false, false},
    {"v1-signed.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    {"v1-empty.smar", {"keyring-b.json", NULL, NULL}, NULL, false, false},
    {"v1-aes.smar", {"keyring-b.json", NULL, NULL}, NULL, false, true},
    {"v1-multi.smar", {"keyring-a.json", NULL, NULL}, NULL, true, false},
};

/* The independent reader reaches the same renderings and the recorded intermediate
 * values. */
static void check_independent(const vector *v, const uint8_t *pk, const rendered *rd)
{
    char name[128];
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = key_text(v->keys[0]);
    sb spec = {0}, internals = {0};
    sr r;
    if (sr_open(&r, d, n) || sr_keyless(&r, pk) || sr_unlock(&r, kt) || sr_read(&r, &spec))
        fail_msg("%s: independent reader: %s", v->file, r.why);
    assert_true(same_bytes(spec.p, spec.n, rd->text.p, rd->text.n));
    sr_internals(&r, v->file, &internals);
    base_name(name, sizeof name, v->file, ".internals.txt");
    vexpect(name, &internals);
    sr_free(&r);
    free(kt);
    free(d);
    sb_free(&spec);
    sb_free(&internals);
}

static void test_positive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++)
        check_vector(&VECTORS[i], lib_describe, check_independent);
}

/* ==== the negative vectors ============================================================= */

/* Kept in step with the table in spec/vectors/README.md. */
static const negative NEGATIVES[] = {
    {"neg-short.smar", "keyring-a.json", NULL, SMAR_E_FORMAT, NA, NA, NA, NA},
    {"neg-truncated.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg-extended.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    /* format 2 exists now: a format 1 body claiming it fails format 2's trailer checks */
    {"neg-version2.smar", "keyring-a.json", NULL, SMAR_E_LIMIT, NA, NA, NA, NA},
    {"neg-unsigned-with-signature.smar", "keyring-a.json", NULL, SMAR_E_FORMAT, NA, NA, NA, NA},
    {"neg-reordered.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg-bitflip.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_E_CORRUPT, SMAR_OK, SMAR_E_CORRUPT,
     SMAR_E_CORRUPT},
    {"neg-header-rewritten.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg-swapped.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg-swapped-remac.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_OK, SMAR_E_AUTH,
     SMAR_E_CORRUPT},
    {"neg-spliced.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg-spliced-remac.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_OK, SMAR_E_AUTH,
     SMAR_E_CORRUPT},
    {"neg-signature-stripped.smar", "keyring-a.json", "signer.pub.json", SMAR_OK, SMAR_E_AUTH,
     SMAR_E_AUTH, NA, NA},
    {"v1-basic.smar", "keyring-a-wrong.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"v1-basic.smar", "keyring-other.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v1-two-slots.smar", "keyring-a-v1.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v1-signed.smar", "keyring-a.json", "other-signer.pub.json", SMAR_OK, SMAR_E_AUTH, SMAR_OK,
     SMAR_OK, SMAR_OK},
};

static int spec_stage(const negative *v, int stage, const uint8_t *pk)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = key_text(v->key);
    sb out = {0};
    sr r;
    int rc = sr_open(&r, d, n);
    if (rc == 0 && stage == 1)
        rc = sr_keyless(&r, pk);
    if (rc == 0 && stage >= 2)
        rc = sr_unlock(&r, kt);
    if (rc == 0 && stage >= 3)
        rc = sr_read(&r, &out);
    sr_free(&r);
    sb_free(&out);
    free(kt);
    free(d);
    return rc;
}

static void test_negative(void **state)
{
    (void)state;
    check_negatives(NEGATIVES, sizeof NEGATIVES / sizeof NEGATIVES[0], spec_stage);
}

/* The KDF of the spec (BLAKE2b salt/personal) is libsodium's crypto_kdf_derive_from_key. */
static void test_kdf(void **state)
{
    uint8_t dek[32], a[32], b[32], salt[16] = {0}, personal[16] = {0};
    (void)state;
    for (int i = 0; i < 32; i++)
        dek[i] = (uint8_t)i;
    memcpy(personal, "smar-v1\0", 8);
    for (uint64_t id = 1; id <= 5; id++) {
        put64(salt, id);
        crypto_kdf_derive_from_key(a, 32, id, "smar-v1\0", dek);
        crypto_generichash_blake2b_salt_personal(b, 32, NULL, 0, dek, 32, salt, personal);
        assert_memory_equal(a, b, 32);
    }
}

static int setup(void **state)
{
    (void)state;
    if (vectors_write_mode()) { /* the writer writes format 2: the v1 vectors are frozen */
        fprintf(stderr, "the format 1 vectors are frozen: libsmar no longer writes format 1\n");
        return -1;
    }
    return vectors_setup("spec/vectors/v1", KEY_FILES);
}

static int teardown(void **state)
{
    (void)state;
    vectors_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_negative),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
