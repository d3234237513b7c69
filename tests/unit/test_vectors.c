/*
 * test_vectors.c - the test vectors of spec/vectors (see spec/vectors/README.md).
 *
 * SMAR_WRITE_VECTORS=1 ./test_vectors   (re)generates every vector file into spec/vectors
 * with the writer API (random DEKs, archive ids and keys: the files are generated once and
 * committed), then checks them like the normal run does.
 *
 * The normal run (ctest) checks the committed files three ways:
 *  1. through the library's public API: the clear information, unlocking with every keyring
 *     that should open each archive, every secret rendered with its payloads, lookups by id
 *     and by name, keyless and keyed verification - byte for byte against the committed
 *     <archive>.info.txt and <archive>.secrets.jsonl (or .secrets.sha256);
 *  2. through an independent reader written from spec/FORMAT.md alone ("sr_" below: only
 *     libsodium, zstd and cJSON, none of libsmar's format code), which must render the same
 *     bytes and reproduce the intermediate values recorded in <archive>.internals.txt;
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

/* ---- growable buffer ------------------------------------------------------------------- */

typedef struct sb {
    uint8_t *p;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0; /* always NUL-terminated, for text */
}

static void sb_str(sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp)
        abort();
    sb_add(b, tmp, (size_t)k);
}

static void sb_hex(sb *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        sb_add(b, c, 2);
    }
}

/* Equal byte strings (either may be NULL when empty). */
static bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void sb_free(sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- files --------------------------------------------------------------------------- */

static bool g_write; /* SMAR_WRITE_VECTORS=1 */
static char *g_tmp;  /* private copies of the keyrings (mode 0600) */

static char *vpath(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "spec/vectors/v1/%s", name);
    return tu_source_path(rel);
}

static uint8_t *vread(const char *name, size_t *n)
{
    char *path = vpath(name);
    uint8_t *d = (uint8_t *)tu_read_file(path, n);
    if (d == NULL)
        fail_msg("cannot read %s (regenerate with SMAR_WRITE_VECTORS=1)", path);
    free(path);
    return d;
}

static void vwrite(const char *name, const void *p, size_t n)
{
    char *path = vpath(name);
    if (tu_write_file(path, p, n) != 0)
        fail_msg("cannot write %s", path);
    free(path);
}

/* Compare generated text with a committed file (or write it in generation mode). */
static void vexpect(const char *name, const sb *got)
{
    size_t n;
    if (g_write)
        vwrite(name, got->p, got->n);
    uint8_t *want = vread(name, &n);
    if (!same_bytes(want, n, got->p, got->n)) {
        size_t i = 0;
        while (i < n && i < got->n && want[i] == got->p[i])
            i++;
        fail_msg("%s differs from what was computed (first difference at byte %zu of %zu/%zu)",
                 name, i, n, got->n);
    }
    free(want);
}

/* ---- little-endian fields --------------------------------------------------------------- */

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

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

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
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

/* The version's 32-byte key from a keyring file (spec/KEYRING.md), or false. */
static bool keyring_key(const char *text, const char *kid, uint32_t version, uint8_t key[32])
{
    cJSON *root = cJSON_Parse(text);
    bool found = false;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "key_id");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(root, "versions");
    const cJSON *v;
    if (cJSON_IsString(id) && strcmp(id->valuestring, kid) == 0) {
        cJSON_ArrayForEach(v, vs)
        {
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "key");
            size_t len = 0;
            if (cJSON_IsNumber(num) && (uint32_t)num->valuedouble == version && cJSON_IsString(k) &&
                sodium_base642bin(key, 32, k->valuestring, strlen(k->valuestring), NULL, &len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 &&
                len == 32)
                found = true;
        }
    }
    cJSON_Delete(root);
    return found;
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

typedef struct cur {
    const uint8_t *p;
    size_t left;
    bool ok;
} cur;

static const uint8_t *take(cur *c, size_t n)
{
    if (!c->ok || c->left < n) {
        c->ok = false;
        return NULL;
    }
    const uint8_t *q = c->p;
    c->p += n;
    c->left -= n;
    return q;
}
static uint8_t t8(cur *c)
{
    const uint8_t *q = take(c, 1);
    return q ? q[0] : 0;
}
static uint16_t t16(cur *c)
{
    const uint8_t *q = take(c, 2);
    return q ? le16(q) : 0;
}
static uint32_t t32(cur *c)
{
    const uint8_t *q = take(c, 4);
    return q ? le32(q) : 0;
}
static uint64_t t64(cur *c)
{
    const uint8_t *q = take(c, 8);
    return q ? le64(q) : 0;
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
        if (!keyring_key(keyring_text, s->kid, s->version, key))
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

#define NKEYRINGS 6
static const char *const KEYRING_FILES[NKEYRINGS] = {"keyring-a.json",     "keyring-a-v1.json",
                                                     "keyring-b.json",     "keyring-a-wrong.json",
                                                     "keyring-other.json", NULL};
static smar_keyring *g_keyrings[NKEYRINGS];

static smar_keyring *keyring(const char *file)
{
    for (int i = 0; i < NKEYRINGS && KEYRING_FILES[i]; i++) {
        if (strcmp(KEYRING_FILES[i], file) != 0)
            continue;
        if (g_keyrings[i] == NULL) {
            /* keyring files must be mode 0600 to load: git does not keep that, so copy */
            size_t n;
            uint8_t *text = vread(file, &n);
            char *copy = tu_path_join(g_tmp, file);
            assert_int_equal(tu_write_file(copy, text, n), 0);
            assert_int_equal(smar_keyring_new(&g_keyrings[i]), SMAR_OK);
            if (smar_keyring_load(g_keyrings[i], copy, NULL) != SMAR_OK)
                fail_msg("%s: %s", file, smar_keyring_error(g_keyrings[i]));
            free(text);
            free(copy);
        }
        return g_keyrings[i];
    }
    fail_msg("unknown keyring %s", file);
    return NULL;
}

static char *keyring_text(const char *file)
{
    size_t n;
    return (char *)vread(file, &n);
}

static void load_pk(const char *file, uint8_t pk[32])
{
    char *path = vpath(file);
    smar_signkey *pub = NULL;
    assert_int_equal(smar_signkey_new(&pub), SMAR_OK);
    if (smar_signkey_load_public(pub, path) != SMAR_OK)
        fail_msg("%s: %s", file, smar_signkey_error(pub));
    smar_signkey_public(pub, pk);
    smar_signkey_free(pub);
    free(path);
}

static void put_time(sb *o, const char *label, smar_time_ns t)
{
    char buf[SMAR_TIME_BUFSIZE];
    if (t == SMAR_TIME_NONE)
        sb_printf(o, "%s: none\n", label);
    else
        sb_printf(o, "%s: %s (%" PRId64 " ns)\n", label, smar_time_format(t, buf), t);
}

typedef struct rendered {
    sb text;
    char **ids, **names;
    size_t n;
} rendered;

static int render_cb(smar_reader *r, const smar_secret *s, void *p)
{
    rendered *rd = p;
    char *out;
    size_t len;
    int rc = smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len);
    if (rc != SMAR_OK)
        return SMAR_STOP; /* the caller reports the reader's error */
    sb_add(&rd->text, out, len);
    sb_str(&rd->text, "\n");
    smar_secret_buffer_free(out, len);
    rd->ids = realloc(rd->ids, (rd->n + 1) * sizeof *rd->ids);
    rd->names = realloc(rd->names, (rd->n + 1) * sizeof *rd->names);
    rd->ids[rd->n] = strdup(smar_secret_id(s));
    rd->names[rd->n] = strdup(smar_secret_name(s));
    rd->n++;
    return 0;
}

static void rendered_free(rendered *rd)
{
    for (size_t i = 0; i < rd->n; i++) {
        free(rd->ids[i]);
        free(rd->names[i]);
    }
    free(rd->ids);
    free(rd->names);
    sb_free(&rd->text);
}

typedef struct name_hits {
    char **ids;
    size_t n;
} name_hits;

static int name_cb(smar_reader *r, const smar_secret *s, void *p)
{
    name_hits *h = p;
    (void)r;
    h->ids = realloc(h->ids, (h->n + 1) * sizeof *h->ids);
    h->ids[h->n++] = strdup(smar_secret_id(s));
    return 0;
}

/* Lookups by id and by name must find exactly what the manifest walk found. */
static void check_lookups(smar_reader *r, const rendered *rd)
{
    const char *line = (const char *)rd->text.p;
    for (size_t i = 0; i < rd->n; i++) {
        smar_secret *s;
        char *out;
        size_t len;
        const char *eol = strchr(line, '\n');
        if (smar_reader_find_id(r, rd->ids[i], &s) != SMAR_OK)
            fail_msg("find_id %s: %s", rd->ids[i], smar_reader_error(r));
        assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len), SMAR_OK);
        assert_true(eol != NULL && len == (size_t)(eol - line) && memcmp(out, line, len) == 0);
        smar_secret_buffer_free(out, len);
        smar_secret_free(s);
        line = eol + 1;
        if (rd->names[i][0] == '\0')
            continue;
        name_hits h = {NULL, 0};
        size_t k = 0;
        assert_int_equal(smar_reader_find_name(r, rd->names[i], NULL, name_cb, &h), SMAR_OK);
        for (size_t j = 0; j < rd->n; j++)
            if (strcmp(rd->names[j], rd->names[i]) == 0) {
                if (k >= h.n || strcmp(h.ids[k], rd->ids[j]) != 0)
                    fail_msg("find_name '%s' misses %s", rd->names[i], rd->ids[j]);
                k++;
            }
        assert_int_equal(k, h.n);
        for (size_t j = 0; j < h.n; j++)
            free(h.ids[j]);
        free(h.ids);
    }
    smar_secret *none = NULL;
    assert_int_equal(smar_reader_find_id(r, "no-such-secret", &none), SMAR_E_NOTFOUND);
}

/* The clear information, verification results and snapshot of an archive, as text; the
 * renderings of its secrets into rd. */
static void lib_describe(const char *file, const char *keyring_file, const uint8_t *pk, sb *o,
                         rendered *rd)
{
    smar_reader *r;
    smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
    smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
    char hex[65];
    char *path = vpath(file);
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    if (smar_reader_open(r, path) != SMAR_OK)
        fail_msg("%s: %s", file, smar_reader_error(r));
    free(path);
    assert_int_equal(smar_reader_info(r, &in), SMAR_OK);
    sb_printf(o, "archive: %s\n", file);
    sb_printf(o, "file_size: %" PRIu64 "\n", in.file_size);
    sb_printf(o, "format_version: %u.%u\n", in.version_major, in.version_minor);
    smar_archive_id_hex(in.archive_id, hex);
    sb_printf(o, "archive_id: %s\n", hex);
    put_time(o, "created", in.created);
    put_time(o, "snapshot", in.snapshot);
    sb_printf(o, "suite: %s\ncompression: %s\nchunk_size: %u\nheader_size: %u\n", in.suite,
              in.compression, in.chunk_size, in.header_size);
    sb_printf(o, "key_slots: %zu\n", in.slot_count);
    for (size_t i = 0; i < in.slot_count; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        assert_int_equal(smar_reader_slot(r, i, &si), SMAR_OK);
        sb_printf(o, "key_slot %zu: provider %s, key_id %s, key_version %u\n", i, si.provider,
                  si.key_id, si.key_version);
    }
    sb_printf(o, "signed: %s\n", in.is_signed ? "yes" : "no");
    if (in.is_signed) {
        sb_str(o, "signer: ");
        sb_hex(o, in.signer, 32);
        smar_signkey_fingerprint(in.signer, hex);
        sb_printf(o, "\nsigner_fingerprint: %s\n", hex);
    }
    sb_printf(o, "chunk_count: %" PRIu64 "\n", in.chunk_count);
    for (int s = 1; s <= 4; s++)
        sb_printf(o, "section %d %s: %" PRIu64 " chunks, %" PRIu64 " stored bytes\n", s,
                  SECTION_NAME[s], in.section_chunks[s], in.section_bytes[s]);
    if (smar_reader_verify(r, 0, pk, &vr, NULL, NULL, NULL) != SMAR_OK)
        fail_msg("%s: keyless verify: %s", file, smar_reader_error(r));
    sb_printf(o,
              "keyless_verify%s: ok, root_ok %d, signature %d, chunks %" PRIu64 ", bytes %" PRIu64
              "\n",
              pk ? " (with signer.pub.json)" : "", vr.root_ok, vr.signature, vr.chunks_checked,
              vr.bytes_checked);

    smar_keyring *kr = keyring(keyring_file);
    if (smar_reader_unlock(r, &kr, 1) != SMAR_OK)
        fail_msg("%s: unlock with %s: %s", file, keyring_file, smar_reader_error(r));
    smar_snapshot_info sn = SMAR_SNAPSHOT_INFO_INIT;
    assert_int_equal(smar_reader_snapshot(r, &sn), SMAR_OK);
    sb_printf(o,
              "secret_count: %" PRIu64 "\nversion_count: %" PRIu64 "\npayload_count: %" PRIu64 "\n",
              sn.secret_count, sn.version_count, sn.payload_count);
    put_time(o, "oldest_version", sn.oldest_version);
    put_time(o, "newest_version", sn.newest_version);
    const char *doc;
    size_t doclen;
    assert_int_equal(smar_reader_document(r, &doc, &doclen), SMAR_OK);
    sb_str(o, "document: ");
    sb_add(o, doc, doclen);
    sb_str(o, "\n");

    if (smar_reader_foreach(r, render_cb, rd) != SMAR_OK)
        fail_msg("%s: foreach: %s", file, smar_reader_error(r));
    check_lookups(r, rd);
    if (smar_reader_verify(r, SMAR_VERIFY_KEYED, pk, &vr, NULL, NULL, NULL) != SMAR_OK)
        fail_msg("%s: keyed verify: %s", file, smar_reader_error(r));
    sb_printf(o, "keyed_verify: ok, secrets %" PRIu64 ", payloads %" PRIu64 "\n",
              vr.secrets_checked, vr.payloads_checked);
    smar_reader_free(r);
}

/* Hashes instead of text, for archives whose secrets are too large to commit as text. */
static void sha256_lines(const sb *text, const rendered *rd, sb *o)
{
    const char *line = (const char *)text->p;
    for (size_t i = 0; i < rd->n; i++) {
        const char *eol = strchr(line, '\n');
        uint8_t h[32];
        crypto_hash_sha256(h, (const uint8_t *)line, (unsigned long long)(eol - line));
        sb_hex(o, h, 32);
        sb_printf(o, " %zu %s\n", (size_t)(eol - line), rd->ids[i]);
        line = eol + 1;
    }
}

/* ==== the positive vectors ============================================================== */

typedef struct vector {
    const char *file;
    const char *keyrings[3]; /* each opens it; the first is used for the description */
    const char *pubkey;      /* signer's public key file, when signed */
    bool hashed;             /* secrets as .secrets.sha256 instead of .secrets.jsonl */
    bool aes;
} vector;

static const vector VECTORS[] = {
    {"v1-basic.smar", {"keyring-a.json", NULL, NULL}, NULL, false, false},
    {"v1-two-slots.smar", {"keyring-a.json", "keyring-b.json", NULL}, NULL, false, false},
    {"v1-signed.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    {"v1-empty.smar", {"keyring-b.json", NULL, NULL}, NULL, false, false},
    {"v1-aes.smar", {"keyring-b.json", NULL, NULL}, NULL, false, true},
    {"v1-multi.smar", {"keyring-a.json", NULL, NULL}, NULL, true, false},
};

static void base_name(char *out, size_t cap, const char *file, const char *suffix)
{
    size_t n = strlen(file) - strlen(".smar");
    snprintf(out, cap, "%.*s%s", (int)n, file, suffix);
}

static void check_vector(const vector *v)
{
    char name[128];
    uint8_t pk[32];
    sb info = {0}, out = {0}, spec = {0}, internals = {0};
    rendered rd = {{0}, NULL, NULL, 0};
    if (v->pubkey)
        load_pk(v->pubkey, pk);
    if (v->aes && !crypto_aead_aes256gcm_is_available()) {
        /* still checks what needs no decryption */
        smar_reader *r;
        char *path = vpath(v->file);
        assert_int_equal(smar_reader_new(&r), SMAR_OK);
        assert_int_equal(smar_reader_open(r, path), SMAR_OK);
        assert_int_equal(smar_reader_verify(r, 0, NULL, NULL, NULL, NULL, NULL), SMAR_OK);
        smar_reader_free(r);
        free(path);
        print_message("%s: AES-256-GCM unavailable here: decryption not checked\n", v->file);
        return;
    }
    lib_describe(v->file, v->keyrings[0], v->pubkey ? pk : NULL, &info, &rd);
    base_name(name, sizeof name, v->file, ".info.txt");
    vexpect(name, &info);
    if (v->hashed) {
        sha256_lines(&rd.text, &rd, &out);
        base_name(name, sizeof name, v->file, ".secrets.sha256");
    } else {
        sb_add(&out, rd.text.p, rd.text.n);
        base_name(name, sizeof name, v->file, ".secrets.jsonl");
    }
    vexpect(name, &out);

    /* every other keyring listed opens it too, to the same secrets */
    for (int k = 1; k < 3 && v->keyrings[k]; k++) {
        smar_reader *r;
        char *path = vpath(v->file);
        smar_keyring *kr = keyring(v->keyrings[k]);
        rendered other = {{0}, NULL, NULL, 0};
        assert_int_equal(smar_reader_new(&r), SMAR_OK);
        assert_int_equal(smar_reader_open(r, path), SMAR_OK);
        assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
        assert_int_equal(smar_reader_foreach(r, render_cb, &other), SMAR_OK);
        assert_true(same_bytes(other.text.p, other.text.n, rd.text.p, rd.text.n));
        rendered_free(&other);
        smar_reader_free(r);
        free(path);
    }

    /* the independent reader reaches the same bytes */
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = keyring_text(v->keyrings[0]);
    sr r;
    if (sr_open(&r, d, n) || sr_keyless(&r, v->pubkey ? pk : NULL) || sr_unlock(&r, kt) ||
        sr_read(&r, &spec))
        fail_msg("%s: independent reader: %s", v->file, r.why);
    assert_true(same_bytes(spec.p, spec.n, rd.text.p, rd.text.n));
    sr_internals(&r, v->file, &internals);
    base_name(name, sizeof name, v->file, ".internals.txt");
    vexpect(name, &internals);
    sr_free(&r);
    free(kt);
    free(d);
    sb_free(&info);
    sb_free(&out);
    sb_free(&spec);
    sb_free(&internals);
    rendered_free(&rd);
}

static void test_positive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++)
        check_vector(&VECTORS[i]);
}

/* ==== the negative vectors ============================================================= */

#define NA 99 /* stage not run: an earlier one fails */

typedef struct negative {
    const char *file, *keyring, *pubkey;
    int open, keyless, unlock, read, keyed;
} negative;

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

/* Callbacks return stop values, not statuses: the error goes to *(int *)p. */
static int read_all_cb(smar_reader *r, const smar_secret *s, void *p)
{
    char *out;
    size_t len;
    int rc = smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len);
    if (rc == SMAR_OK)
        smar_secret_buffer_free(out, len);
    else
        *(int *)p = rc;
    return rc == SMAR_OK ? 0 : SMAR_STOP;
}

static int open_file(smar_reader **r, const char *file)
{
    char *path = vpath(file);
    assert_int_equal(smar_reader_new(r), SMAR_OK);
    int rc = smar_reader_open(*r, path);
    free(path);
    return rc;
}

/* The status of one stage, each on a fresh reader. */
static int lib_stage(const negative *v, int stage, const uint8_t *pk)
{
    smar_reader *r;
    int rc = open_file(&r, v->file);
    smar_keyring *kr = keyring(v->keyring);
    if (rc == SMAR_OK && stage == 1)
        rc = smar_reader_verify(r, 0, pk, NULL, NULL, NULL, NULL);
    if (rc == SMAR_OK && stage >= 2)
        rc = smar_reader_unlock(r, &kr, 1);
    int failed = SMAR_OK;
    if (rc == SMAR_OK && stage == 3 &&
        (rc = smar_reader_foreach(r, read_all_cb, &failed)) == SMAR_STOP)
        rc = failed;
    if (rc == SMAR_OK && stage == 4)
        rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL);
    smar_reader_free(r);
    return rc;
}

static int spec_stage(const negative *v, int stage, const uint8_t *pk)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = keyring_text(v->keyring);
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
    static const char *const stage_name[5] = {"open", "keyless verify", "unlock",
                                              "read every secret", "keyed verify"};
    (void)state;
    for (size_t i = 0; i < sizeof NEGATIVES / sizeof NEGATIVES[0]; i++) {
        const negative *v = &NEGATIVES[i];
        const int want[5] = {v->open, v->keyless, v->unlock, v->read, v->keyed};
        uint8_t pk[32];
        if (v->pubkey)
            load_pk(v->pubkey, pk);
        for (int st = 0; st < 5; st++) {
            if (want[st] == NA)
                continue;
            int got = lib_stage(v, st, v->pubkey ? pk : NULL);
            if (got != want[st])
                fail_msg("%s with %s: %s gave %d (%s), the README says %d", v->file, v->keyring,
                         stage_name[st], got, smar_strerror(got), want[st]);
            if (st == 4)
                continue; /* the independent reader's "read" already checks everything */
            int spec = spec_stage(v, st, v->pubkey ? pk : NULL);
            if ((spec == 0) != (want[st] == SMAR_OK))
                fail_msg("%s with %s: the independent reader %s at %s", v->file, v->keyring,
                         spec == 0 ? "accepts it" : "rejects it", stage_name[st]);
        }
    }
}

/* ==== generation ======================================================================= */

static const char *const BASIC[] = {
    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000001\",\"name\":\"café ☕ 秘密\","
    "\"secret_type\":\"arbitrary\",\"secret_group_id\":\"default\",\"labels\":[\"prod\","
    "\"ünïcödé\"],\"description\":\"caf\\u00e9 \\\"quoted\\\" \\ud83d\\udd11\","
    "\"custom_metadata\":{\"big\":123456789012345678901234567890,\"tiny\":-1e-400,"
    "\"exact\":0.30000000000000004},\"created_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-11-19T10:00:00.123456789Z\",\"payload\":\"s3cr3t ✓\","
    "\"versions_total\":2,\"versions\":[{\"id\":\"0b5f1e8a-aaaa-4000-8000-000000000001\","
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"payload\":\"\"},"
    "{\"id\":\"0b5f1e8a-aaaa-4000-8000-000000000002\",\"payload\":\"s3cr3t ✓\","
    "\"created_at\":\"2026-11-19T10:00:00.123456789Z\","
    "\"version_custom_metadata\":{\"rotated_by\":\"ops\"}}]}",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000002\",\"name\":\"db-login\","
    "\"secret_type\":\"username_password\",\"secret_group_id\":\"1b2c3d4e-group\","
    "\"created_at\":\"2026-03-01T12:00:00Z\",\"username\":\"admin\","
    "\"password\":\"p\\u00e4ss\\\"word\",\"versions\":[{\"id\":"
    "\"0b5f1e8a-bbbb-4000-8000-000000000001\",\"created_at\":\"2026-03-01T12:00:00Z\","
    "\"username\":\"admin\",\"password\":\"p\\u00e4ss\\\"word\"}]}",

    "{ \"id\" : \"0b5f1e8a-0000-4000-8000-000000000003\" , \"name\" : \"db-login\" , "
    "\"secret_type\" : \"kv\" , \"data\" : {\"host\": \"db.internal\", \"port\": 5432, "
    "\"tls\": true, \"nested\": {\"a\": [1, 2, {\"b\": null}]}} , \"versions\" : [ ] }",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000004\",\"name\":\"quantum\","
    "\"secret_type\":\"quantum_key\",\"description\":\"an unknown secret type\","
    "\"qk_material\":\"q-bits\",\"qk_params\":{\"n\":256},"
    "\"created_at\":\"2026-05-05T05:05:05+02:00\",\"locks_total\":0}",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000005\",\"secret_type\":\"imported_cert\","
    "\"labels\":[],\"expiration_date\":\"2027-01-01T00:00:00Z\",\"state\":1}",
};

static const char *const TWO_SLOTS[] = {
    "{\"id\":\"two-slots-1\",\"name\":\"shared\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"opened by a or b\",\"versions\":[{\"id\":\"two-slots-1-v1\","
    "\"created_at\":\"2026-06-01T00:00:00Z\",\"payload\":\"opened by a or b\"}]}",
    "{\"id\":\"two-slots-2\",\"name\":\"tls\",\"secret_type\":\"public_cert\","
    "\"common_name\":\"example.com\",\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n"
    "-----END CERTIFICATE-----\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n"
    "-----END PRIVATE KEY-----\",\"intermediate\":\"\",\"created_at\":\"2026-06-02T00:00:00Z\"}",
};

static const char *const SIGNED[] = {
    "{\"id\":\"signed-1\",\"name\":\"api\",\"secret_type\":\"iam_credentials\","
    "\"api_key\":\"key-123\",\"service_id\":\"ServiceId-1\",\"ttl\":\"1d\",\"versions\":[{"
    "\"id\":\"signed-1-v1\",\"created_at\":\"2026-07-01T00:00:00Z\",\"api_key\":\"key-123\"}]}",
    "{\"id\":\"signed-2\",\"name\":\"svc\",\"secret_type\":\"service_credentials\","
    "\"credentials\":{\"apikey\":\"abc\",\"iam_apikey_name\":\"n\"},"
    "\"source_service\":{\"instance\":{\"crn\":\"crn:v1:x\"}}}",
};

static const char *const AES[] = {
    "{\"id\":\"aes-1\",\"name\":\"ca\",\"secret_type\":\"private_cert\",\"certificate\":\"cert\","
    "\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"],\"serial_number\":\"01\","
    "\"versions\":[{\"id\":\"aes-1-v1\",\"created_at\":\"2026-08-01T00:00:00Z\","
    "\"certificate\":\"cert\",\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"]}]"
    "}",
    "{\"id\":\"aes-2\",\"name\":\"custom\",\"secret_type\":\"custom_credentials\","
    "\"credentials_content\":{\"token\":\"t\"},\"configuration\":\"cfg\"}",
};

static const char DOCUMENT[] =
    "{\"instance\":{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/0123:4567::\","
    "\"name\":\"vectors\"},\"exported_at\":\"2026-11-20T02:00:00Z\",\"secret_groups\":["
    "{\"id\":\"default\",\"name\":\"default\"},{\"id\":\"1b2c3d4e-group\",\"name\":\"databases\"}]"
    "}";

#define SNAPSHOT 1795140000000000000LL /* 2026-11-20T02:00:00Z */
#define CREATED  1795140005000000000LL /* five seconds later */

static void pattern(sb *b, const char *unit, size_t n)
{
    size_t u = strlen(unit);
    for (size_t i = 0; i < n; i++)
        sb_add(b, unit + i % u, 1);
}

/* v1-multi: 64 KiB chunks; payloads and a record spanning chunks (README describes them). */
static void multi_secrets(sb s[3])
{
    sb_str(&s[0],
           "{\"id\":\"multi-1\",\"name\":\"big\",\"secret_type\":\"arbitrary\",\"payload\":\"");
    pattern(&s[0], "0123456789abcdef", 100000);
    sb_str(&s[0], "\",\"versions\":[{\"id\":\"multi-1-v1\",\"created_at\":\"2026-09-01T00:00:00Z\","
                  "\"payload\":\"");
    pattern(&s[0], "fedcba9876543210", 40000);
    sb_str(&s[0],
           "\"},{\"id\":\"multi-1-v2\",\"created_at\":\"2026-10-01T00:00:00Z\",\"payload\":\"");
    pattern(&s[0], "0123456789abcdef", 100000);
    sb_str(&s[0], "\"}]}");
    sb_str(&s[1], "{\"id\":\"multi-2\",\"name\":\"long-description\",\"secret_type\":\"arbitrary\","
                  "\"description\":\"");
    pattern(&s[1], "lorem ipsum dolor sit amet ", 70000);
    sb_str(&s[1], "\",\"payload\":\"short\"}");
    sb_str(&s[2], "{\"id\":\"multi-3\",\"name\":\"big\",\"secret_type\":\"username_password\","
                  "\"username\":\"u\",\"password\":\"p\"}");
}

static void make_archive(mem_archive *out, smar_keyring **keys, size_t nkeys,
                         const smar_signkey *signer, int suite, uint32_t chunk_size,
                         const char *const *secrets, size_t n, const char *doc)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = SNAPSHOT;
    o.created_time = CREATED;
    o.suite = suite;
    o.chunk_size = chunk_size;
    memset(out, 0, sizeof *out);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    for (size_t k = 0; k < nkeys; k++)
        assert_int_equal(smar_writer_add_key(w, keys[k]), SMAR_OK);
    if (signer)
        assert_int_equal(smar_writer_set_signer(w, signer), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, out), SMAR_OK);
    for (size_t i = 0; i < n; i++)
        if (smar_writer_add_secret(w, secrets[i], strlen(secrets[i])) != SMAR_OK)
            fail_msg("secret %zu: %s", i, smar_writer_error(w));
    if (doc)
        assert_int_equal(smar_writer_set_document(w, doc, strlen(doc)), SMAR_OK);
    if (smar_writer_finish(w) != SMAR_OK)
        fail_msg("finish: %s", smar_writer_error(w));
    smar_writer_free(w);
}

/* An archive taken apart at the format level and put back together the way an attacker
 * without the key would: fresh offsets, chunk hashes and root hash; the root MAC is kept,
 * or recomputed when its key is given (as only a key holder could). */
typedef struct parts {
    sb header;
    uint8_t trailer[216];
    size_t n;
    sb chunk[32];
    uint8_t section[32], flags[32];
} parts;

static void parts_split(parts *p, const uint8_t *d, size_t n)
{
    sr r;
    memset(p, 0, sizeof *p);
    assert_int_equal(sr_open(&r, d, n), 0);
    assert_true(r.count <= 32);
    sb_add(&p->header, r.header, r.hlen);
    memcpy(p->trailer, r.trailer, 216);
    p->n = r.count;
    for (uint32_t i = 0; i < r.count; i++) {
        sb_add(&p->chunk[i], r.c[i].bytes, r.c[i].len);
        p->section[i] = r.c[i].section;
        p->flags[i] = r.c[i].flags;
    }
    sr_free(&r);
}

static void parts_free(parts *p)
{
    sb_free(&p->header);
    for (size_t i = 0; i < p->n; i++)
        sb_free(&p->chunk[i]);
}

static void parts_join(const parts *p, const uint8_t *rootmac_key, sb *out)
{
    sb table = {0};
    uint8_t tr[216], body[32], root[32];
    memset(out, 0, sizeof *out);
    sb_add(out, p->header.p, p->header.n);
    for (size_t i = 0; i < p->n; i++) {
        uint8_t e[48] = {0};
        put64(e, out->n);
        put32(e + 8, (uint32_t)p->chunk[i].n);
        e[12] = p->section[i];
        e[13] = p->flags[i];
        crypto_generichash(e + 16, 32, p->chunk[i].p, p->chunk[i].n, NULL, 0);
        sb_add(&table, e, sizeof e);
        sb_add(out, p->chunk[i].p, p->chunk[i].n);
    }
    memcpy(tr, p->trailer, 216);
    put64(tr, out->n);
    put32(tr + 8, (uint32_t)p->n);
    sb_add(out, table.p, table.n);
    sb_add(out, tr, 216);
    /* recompute the root over the new bytes */
    body_hash(tr, p->header.p, p->header.n, table.p, table.n, body);
    if (rootmac_key)
        sr_rootmac(rootmac_key, body, tr + 72);
    sr_root(body, tr + 72, tr + 104, root);
    memcpy(tr + 40, root, 32);
    memcpy(out->p + out->n - 216, tr, 216);
    sb_free(&table);
}

static void save_parts(const char *file, const parts *p, const uint8_t *rootmac_key)
{
    sb out;
    parts_join(p, rootmac_key, &out);
    vwrite(file, out.p, out.n);
    sb_free(&out);
}

/* The root-MAC subkey of an archive, through the independent reader. */
static void rootmac_key(const mem_archive *a, const char *keyring_file, uint8_t key[32])
{
    sr r;
    char *kt = keyring_text(keyring_file);
    if (sr_open(&r, a->data, a->len) || sr_unlock(&r, kt))
        fail_msg("rootmac_key: %s", r.why);
    memcpy(key, r.sub[3], 32);
    sr_free(&r);
    free(kt);
}

static size_t nth_in_section(const parts *p, uint8_t section, size_t k)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->section[i] == section && k-- == 0)
            return i;
    fail_msg("no chunk %zu in section %u", k, section);
    return 0;
}

static void swap_sb(sb *a, sb *b)
{
    sb t = *a;
    *a = *b;
    *b = t;
}

static void save_keyring(smar_keyring *kr, const char *file)
{
    char *path = vpath(file);
    if (smar_keyring_save(kr, path, NULL, SMAR_SAVE_OVERWRITE) != SMAR_OK)
        fail_msg("%s: %s", file, smar_keyring_error(kr));
    free(path);
}

static void save_public(smar_signkey *sk, const char *file)
{
    char *path = vpath(file);
    assert_int_equal(smar_signkey_save_public(sk, path, SMAR_SAVE_OVERWRITE), SMAR_OK);
    free(path);
}

static void generate(void)
{
    smar_keyring *a, *b, *wrong, *other;
    smar_signkey *signer, *stranger;
    mem_archive m;

    /* keyrings: a has two versions (archives use version 2); a-v1 is a before rotation */
    assert_int_equal(smar_keyring_new(&a), SMAR_OK);
    assert_int_equal(smar_keyring_generate(a, "rk-vectors-a"), SMAR_OK);
    save_keyring(a, "keyring-a-v1.json");
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    save_keyring(a, "keyring-a.json");
    assert_int_equal(smar_keyring_new(&b), SMAR_OK);
    assert_int_equal(smar_keyring_generate(b, "rk-vectors-b"), SMAR_OK);
    save_keyring(b, "keyring-b.json");
    assert_int_equal(smar_keyring_new(&wrong), SMAR_OK);
    assert_int_equal(smar_keyring_generate(wrong, "rk-vectors-a"), SMAR_OK);
    assert_int_equal(smar_keyring_rotate(wrong), SMAR_OK);
    save_keyring(wrong, "keyring-a-wrong.json");
    assert_int_equal(smar_keyring_new(&other), SMAR_OK);
    assert_int_equal(smar_keyring_generate(other, "rk-vectors-other"), SMAR_OK);
    save_keyring(other, "keyring-other.json");
    assert_int_equal(smar_signkey_new(&signer), SMAR_OK);
    assert_int_equal(smar_signkey_generate(signer), SMAR_OK);
    save_public(signer, "signer.pub.json");
    assert_int_equal(smar_signkey_new(&stranger), SMAR_OK);
    assert_int_equal(smar_signkey_generate(stranger), SMAR_OK);
    save_public(stranger, "other-signer.pub.json");

    smar_keyring *ab[2] = {a, b};
    make_archive(&m, ab, 1, NULL, 0, 0, BASIC, 5, DOCUMENT);
    vwrite("v1-basic.smar", m.data, m.len);
    mem_archive basic = m;
    make_archive(&m, ab, 2, NULL, 0, 0, TWO_SLOTS, 2, DOCUMENT);
    vwrite("v1-two-slots.smar", m.data, m.len);
    free(m.data);
    make_archive(&m, ab, 1, signer, 0, 0, SIGNED, 2, DOCUMENT);
    vwrite("v1-signed.smar", m.data, m.len);
    mem_archive signed_archive = m;
    make_archive(&m, &b, 1, NULL, 0, 0, NULL, 0, NULL);
    vwrite("v1-empty.smar", m.data, m.len);
    free(m.data);
    if (crypto_aead_aes256gcm_is_available()) {
        make_archive(&m, &b, 1, NULL, SMAR_SUITE_AES256GCM, 0, AES, 2, DOCUMENT);
        vwrite("v1-aes.smar", m.data, m.len);
        free(m.data);
    } else {
        print_message("AES-256-GCM unavailable: v1-aes.smar not regenerated\n");
    }
    sb ms[3] = {{0}, {0}, {0}};
    multi_secrets(ms);
    const char *mtext[3] = {(const char *)ms[0].p, (const char *)ms[1].p, (const char *)ms[2].p};
    mem_archive multi, sibling;
    make_archive(&multi, ab, 1, NULL, 0, 64u << 10, mtext, 3, DOCUMENT);
    vwrite("v1-multi.smar", multi.data, multi.len);
    make_archive(&sibling, ab, 1, NULL, 0, 64u << 10, mtext, 3, DOCUMENT);
    for (int i = 0; i < 3; i++)
        sb_free(&ms[i]);

    /* ---- negative vectors ---- */
    uint8_t *d = malloc(basic.len + 1);
    memcpy(d, basic.data, basic.len);
    vwrite("neg-short.smar", d, 100);
    vwrite("neg-truncated.smar", d, basic.len - 1);
    d[basic.len] = 0;
    vwrite("neg-extended.smar", d, basic.len + 1);
    d[8] = 2;                     /* header major */
    d[basic.len - 216 + 200] = 2; /* trailer major */
    vwrite("neg-version2.smar", d, basic.len);
    memcpy(d, basic.data, basic.len);
    sr r;
    assert_int_equal(sr_open(&r, d, basic.len), 0);
    assert_int_equal(r.c[0].section, 1);
    d[r.c[0].offset + r.c[0].len / 2] ^= 0x01;
    sr_free(&r);
    vwrite("neg-bitflip.smar", d, basic.len);
    free(d);

    parts p, q;
    uint8_t key[32];
    parts_split(&p, basic.data, basic.len);
    put64(p.header.p + 52, (uint64_t)(SNAPSHOT + 365LL * 86400 * 1000000000LL));
    save_parts("neg-header-rewritten.smar", &p, NULL);
    parts_free(&p);

    d = malloc(signed_archive.len);
    memcpy(d, signed_archive.data, signed_archive.len);
    put32(d + signed_archive.len - 216 + 12, 0);
    vwrite("neg-unsigned-with-signature.smar", d, signed_archive.len);
    free(d);
    parts_split(&p, signed_archive.data, signed_archive.len);
    put32(p.trailer + 12, 0);
    memset(p.trailer + 104, 0, 96);
    save_parts("neg-signature-stripped.smar", &p, NULL);
    parts_free(&p);

    rootmac_key(&multi, "keyring-a.json", key);
    parts_split(&p, multi.data, multi.len);
    {
        /* the last payload chunk (LAST) moved before the one preceding it */
        size_t i = nth_in_section(&p, 1, 1), j = nth_in_section(&p, 1, 2);
        assert_true(p.flags[j] == 1 && p.flags[i] == 0);
        swap_sb(&p.chunk[i], &p.chunk[j]);
        uint8_t f = p.flags[i];
        p.flags[i] = p.flags[j];
        p.flags[j] = f;
        save_parts("neg-reordered.smar", &p, NULL);
    }
    parts_free(&p);
    parts_split(&p, multi.data, multi.len);
    swap_sb(&p.chunk[nth_in_section(&p, 1, 0)], &p.chunk[nth_in_section(&p, 1, 1)]);
    save_parts("neg-swapped.smar", &p, NULL);
    save_parts("neg-swapped-remac.smar", &p, key);
    parts_free(&p);
    parts_split(&p, multi.data, multi.len);
    parts_split(&q, sibling.data, sibling.len);
    {
        size_t i = nth_in_section(&p, 2, 0);
        assert_int_equal(p.n, q.n);
        assert_true(q.section[i] == 2 && q.flags[i] == p.flags[i]);
        swap_sb(&p.chunk[i], &q.chunk[i]);
        save_parts("neg-spliced.smar", &p, NULL);
        save_parts("neg-spliced-remac.smar", &p, key);
    }
    parts_free(&p);
    parts_free(&q);

    free(basic.data);
    free(signed_archive.data);
    free(multi.data);
    free(sibling.data);
    smar_keyring_free(a);
    smar_keyring_free(b);
    smar_keyring_free(wrong);
    smar_keyring_free(other);
    smar_signkey_free(signer);
    smar_signkey_free(stranger);
}

static void test_generate(void **state)
{
    (void)state;
    if (!g_write) {
        skip();
        return;
    }
    generate();
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
    const char *env = getenv("SMAR_WRITE_VECTORS");
    g_write = env != NULL && strcmp(env, "1") == 0;
    if (g_write) { /* the writer writes format 2: the v1 vectors are frozen */
        fprintf(stderr, "the format 1 vectors are frozen: libsmar no longer writes format 1\n");
        return -1;
    }
    if (smar_init() != SMAR_OK)
        return -1;
    g_tmp = tu_tmpdir();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYRINGS; i++)
        smar_keyring_free(g_keyrings[i]);
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_negative),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
