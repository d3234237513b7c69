/*
 * vectors_sr2.c - an independent reader of archive format 2 (see vectors_sr2.h). Section
 * numbers (§) are spec/FORMAT.md's.
 */
#include "vectors_sr2.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <zstd.h>

/* ---- §2 labels -------------------------------------------------------------------------- */

#define L2_SLOT    "smar/v2 key-slot"
#define L2_CHUNK   "smar/v2 chunk\0\0\0"
#define L2_COMMIT  "smar/v2 dek-comm"
#define L2_CONTENT "smar/v2 content\0"
#define L2_ROOTMAC "smar/v2 root-mac"
#define L2_ROOT    "smar/v2 root\0\0\0\0"
#define L2_SIGN    "smar/v2 signatur"
#define L2_X25519  "smar/v2 x25519\0\0"

const uint8_t SR2_MAGIC[8] = {0x89, 'S', 'M', 'A', 'R', '\r', '\n', 0x1a};
const char *const SR2_SECTION_NAME[6] = {"?", "payload", "manifest", "index", "meta", "digests"};

#define MAX_PLAIN_LEN  (64u << 20)  /* §11.4 */
#define MAX_STORED_LEN 67371008u    /* ZSTD_COMPRESSBOUND(64 MiB) */
#define MAX_RECORD     (160u << 20) /* §11.4 */
#define MAX_META       (128u << 20) /* §15 */

static int sr_fail(sr2 *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sr_fail(sr2 *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return -1;
}

void sr2_free(sr2 *r)
{
    free(r->c);
    for (int s = 0; s < SR2_SECTIONS; s++) {
        free(r->bysec[s]);
        sb_free(&r->stream[s]);
    }
    for (size_t i = 0; i < r->nrec; i++) {
        free(r->rec[i].v);
        sb_free(&r->rec[i].patched);
    }
    free(r->rec);
    sodium_memzero(r->dek, sizeof r->dek);
    sodium_memzero(r->sub, sizeof r->sub);
}

/* §2 */
static uint64_t compress_bound(uint64_t s)
{
    return s + (s >> 8) + (s < 131072 ? (131072 - s) >> 11 : 0);
}

/* ---- §5.2 key id and version strings ------------------------------------------------------ */

/* Valid UTF-8 (RFC 3629: no overlong form, no surrogate), no byte below 0x20, no 0x7F. */
static bool slot_text_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x20 || b == 0x7f)
            return false;
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        uint32_t cp = b >= 0xf0 ? b & 0x07u : b >= 0xe0 ? b & 0x0fu : b & 0x1fu;
        if (b < 0xc2 || b > 0xf4 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* §5.2: the whole slot area, without a key. */
static int parse_slots(sr2 *r)
{
    const uint8_t *a = r->slots;
    size_t n = r->slot_area_len, p = 4;
    r->nslots = le16(a);
    if (r->nslots == 0 || r->nslots > SR2_MAX_SLOTS)
        return sr_fail(r, "slot count %u", r->nslots);
    if (le16(a + 2) != 0)
        return sr_fail(r, "slot area reserved");
    for (unsigned i = 0; i < r->nslots; i++) {
        sr2_slot *s = &r->slot[i];
        s->start = a + p;
        if (n - p < 3)
            return sr_fail(r, "slot %u runs past the slot area", i);
        s->provider = a[p];
        s->flags = a[p + 1];
        s->kid_len = a[p + 2];
        p += 3;
        if (s->provider == 0 || s->kid_len == 0)
            return sr_fail(r, "slot %u provider or key id length", i);
        if (n - p < (size_t)s->kid_len + 1)
            return sr_fail(r, "slot %u runs past the slot area", i);
        s->kid = a + p;
        if (!slot_text_ok(s->kid, s->kid_len))
            return sr_fail(r, "slot %u key id", i);
        p += s->kid_len;
        s->aad_tail = (size_t)(a + p - s->start); /* the AAD ends with the key id (§5.2) */
        s->version_kind = a[p++];
        if (s->version_kind == 1) {
            if (n - p < 4)
                return sr_fail(r, "slot %u runs past the slot area", i);
            s->version = le32(a + p);
            p += 4;
            if (s->version == 0)
                return sr_fail(r, "slot %u version 0", i);
        } else if (s->version_kind == 2) {
            if (n - p < 1 || (s->vstr_len = a[p]) == 0 || n - p - 1 < s->vstr_len)
                return sr_fail(r, "slot %u version string", i);
            s->vstr = a + p + 1;
            if (!slot_text_ok(s->vstr, s->vstr_len))
                return sr_fail(r, "slot %u version string", i);
            p += 1 + (size_t)s->vstr_len;
        } else if (s->version_kind != 0) {
            return sr_fail(r, "slot %u version kind %u", i, s->version_kind);
        }
        if (n - p < 4)
            return sr_fail(r, "slot %u runs past the slot area", i);
        s->wlen = le32(a + p);
        p += 4;
        if (s->wlen == 0 || s->wlen > n - p)
            return sr_fail(r, "slot %u wrapped length", i);
        s->wrapped = a + p;
        p += s->wlen;
    }
    if (p != n)
        return sr_fail(r, "bytes after the last slot");
    return 0;
}

/* ---- §9 trailer, §5.1 header, §8 table -------------------------------------------------- */

static int parse_trailer(sr2 *r)
{
    const uint8_t *t = r->trailer = r->d + r->n - SR2_TRAILER;
    if (memcmp(t + 208, "SMAR-END", 8) != 0)
        return sr_fail(r, "no tail magic");
    if (le16(t + 200) != 2 || le16(r->d + 8) != 2)
        return sr_fail(r, "not format 2 at both ends");
    if (le32(t + 204) != SR2_TRAILER)
        return sr_fail(r, "trailer length");
    r->table_offset = le64(t);
    r->count = le32(t + 8);
    r->tflags = le32(t + 12);
    r->id = t + 16;
    r->hlen = le32(t + 32);
    r->slot_area_len = le32(t + 36);
    if ((r->tflags & ~1u) != 0)
        return sr_fail(r, "trailer flags");
    if (!(r->tflags & 1) && !all_zero(t + 104, 96))
        return sr_fail(r, "unsigned with signature bytes");
    if (r->count == 0 || r->count > (1u << 24))
        return sr_fail(r, "chunk count");
    if (r->slot_area_len < 4 || r->slot_area_len > 65536)
        return sr_fail(r, "slot area length");
    uint64_t tail = (uint64_t)r->count * 48 + r->slot_area_len + SR2_TRAILER;
    if (r->table_offset > r->n || r->n - r->table_offset != tail)
        return sr_fail(r, "table and slot area do not fit the file");
    return 0;
}

/* §26.1: the base list after the 96 bytes of §5.1. */
static int parse_bases(sr2 *r)
{
    const uint8_t *h = r->header;
    if (r->minor < 1 || r->hlen < 100)
        return sr_fail(r, "INCREMENTAL flag without a base list");
    r->nbases = le16(h + 96);
    if (r->nbases < 1 || r->nbases > SR2_MAX_BASES || le16(h + 98) != 0)
        return sr_fail(r, "base count or reserved");
    if (r->hlen < 100 + 56 * r->nbases)
        return sr_fail(r, "header too short for its base list");
    for (unsigned i = 0; i < r->nbases; i++) {
        const uint8_t *e = r->base_entry[i] = h + 100 + 56 * i;
        if ((int64_t)le64(e + 48) >= r->snapshot || memcmp(e, r->id, 16) == 0)
            return sr_fail(r, "base %u: not older, or this archive", i);
        for (unsigned k = 0; k < i; k++)
            if (memcmp(e, r->base_entry[k], 16) == 0)
                return sr_fail(r, "base %u listed twice", i);
    }
    return 0;
}

static int parse_header(sr2 *r)
{
    const uint8_t *h = r->header = r->d;
    if (memcmp(h, SR2_MAGIC, 8) != 0)
        return sr_fail(r, "header magic");
    uint32_t hl = le32(h + 12);
    if (hl != r->hlen || hl < 96 || hl > 4096 || hl > r->table_offset)
        return sr_fail(r, "header length");
    r->minor = le16(h + 10);
    if (r->minor != le16(r->trailer + 202) || memcmp(h + 28, r->id, 16) != 0)
        return sr_fail(r, "header and trailer disagree");
    r->suite = le16(h + 20);
    r->chunk_size = le32(h + 24);
    r->created_s = (int64_t)le64(h + 44);
    r->snapshot = (int64_t)le64(h + 52);
    memcpy(r->dek_commit, h + 60, 32);
    uint32_t flags = le32(h + 16);
    if ((flags & ~3u) != 0 || le32(h + 92) != 0 || (r->suite != 1 && r->suite != 2) ||
        le16(h + 22) != 1 || r->chunk_size < (64u << 10) || r->chunk_size > (16u << 20))
        return sr_fail(r, "header fields");
    /* §5.1, §26.6: EXPORT_DIGESTS only with INCREMENTAL, from minor version 2 */
    r->digests = (flags & 2) != 0;
    if (r->digests && (!(flags & 1) || r->minor < 2))
        return sr_fail(r, "EXPORT_DIGESTS without INCREMENTAL or below 2.2");
    return (flags & 1) ? parse_bases(r) : 0;
}

static int parse_table(sr2 *r)
{
    uint64_t expect = r->hlen, stored_max = compress_bound(r->chunk_size) + 20;
    bool closed[SR2_SECTIONS] = {false};
    r->table = r->d + r->table_offset;
    r->c = calloc(r->count, sizeof *r->c);
    for (uint32_t i = 0; i < r->count; i++) {
        const uint8_t *e = r->table + (size_t)i * 48;
        sr2_chunk *c = &r->c[i];
        c->offset = le64(e);
        c->len = le32(e + 8);
        c->section = e[12];
        c->flags = e[13];
        c->hash = e + 16;
        if (e[14] != 0 || e[15] != 0 || (c->flags & ~1u) != 0 || c->section < 1 || c->section > 5)
            return sr_fail(r, "table entry %u", i);
        if (c->section == 5 && !r->digests) /* §26.6: malformed, as an unknown section */
            return sr_fail(r, "table entry %u: digests chunk without EXPORT_DIGESTS", i);
        if (c->offset != expect || c->len < 21 || c->len > stored_max ||
            c->len > r->table_offset - expect)
            return sr_fail(r, "chunk %u place or size", i);
        if (closed[c->section])
            return sr_fail(r, "chunk %u after its section's last", i);
        c->seq = r->nsec[c->section]++;
        if (c->flags & 1)
            closed[c->section] = true;
        c->bytes = r->d + c->offset;
        expect += c->len;
    }
    if (expect != r->table_offset)
        return sr_fail(r, "gap before the table");
    for (int s = 1; s < SR2_SECTIONS; s++)
        if (r->nsec[s] > 0 && !closed[s])
            return sr_fail(r, "section %d has no last chunk", s);
    if (r->nsec[4] == 0)
        return sr_fail(r, "no meta section");
    if (r->digests && r->nsec[5] == 0) /* §26.6: the flag without the section is damage */
        return sr_fail(r, "EXPORT_DIGESTS without a digests section");
    for (int s = 1; s < SR2_SECTIONS; s++)
        r->bysec[s] = calloc(r->nsec[s] + 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < r->count; i++)
        r->bysec[r->c[i].section][r->c[i].seq] = i;
    return 0;
}

int sr2_open(sr2 *r, const uint8_t *d, size_t n)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->n = n;
    r->used_slot = -1;
    if (n < 96 + SR2_TRAILER)
        return sr_fail(r, "too short");
    if (parse_trailer(r) || parse_header(r) || parse_table(r))
        return -1;
    r->slots = r->table + (size_t)r->count * 48;
    if (parse_slots(r))
        return -1;
    /* §6.2, §20: the AES-256-GCM cap */
    if (r->suite == 2 && (uint64_t)r->count * r->chunk_size > (1ull << 36))
        return sr_fail(r, "AES-256-GCM over the cap");
    return 0;
}

/* ---- §10 root and signature --------------------------------------------------------------- */

void sr2_content(const uint8_t *trailer, const uint8_t *header, size_t hlen, const uint8_t *table,
                 size_t tlen, uint8_t content[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)L2_CONTENT, 16);
    crypto_generichash_update(&st, trailer, 36);
    crypto_generichash_update(&st, trailer + 200, 16);
    crypto_generichash_update(&st, trailer + 104, 32);
    crypto_generichash_update(&st, header, hlen);
    crypto_generichash_update(&st, table, tlen);
    crypto_generichash_final(&st, content, 32);
}

void sr2_root_mac(const uint8_t key[32], const uint8_t content[32], const uint8_t *trailer,
                  const uint8_t *slots, size_t slen, uint8_t mac[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)L2_ROOTMAC, 16);
    crypto_generichash_update(&st, content, 32);
    crypto_generichash_update(&st, trailer + 36, 4);
    crypto_generichash_update(&st, slots, slen);
    crypto_generichash_final(&st, mac, 32);
}

void sr2_root_hash(const uint8_t content[32], const uint8_t *trailer, const uint8_t *slots,
                   size_t slen, uint8_t root[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)L2_ROOT, 16);
    crypto_generichash_update(&st, content, 32);
    crypto_generichash_update(&st, trailer + 36, 4);
    crypto_generichash_update(&st, slots, slen);
    crypto_generichash_update(&st, trailer + 72, 32);  /* root_mac */
    crypto_generichash_update(&st, trailer + 136, 64); /* signature */
    crypto_generichash_final(&st, root, 32);
}

void sr2_sign_message(const uint8_t archive_id[16], const uint8_t content[32], uint8_t msg[64])
{
    memcpy(msg, L2_SIGN, 16);
    memcpy(msg + 16, archive_id, 16);
    memcpy(msg + 32, content, 32);
}

static void own_content(sr2 *r)
{
    sr2_content(r->trailer, r->header, r->hlen, r->table, (size_t)r->count * 48, r->content);
}

int sr2_keyless(sr2 *r, const uint8_t *pk)
{
    uint8_t h[32], root[32], msg[64];
    for (uint32_t i = 0; i < r->count; i++) {
        crypto_generichash(h, 32, r->c[i].bytes, r->c[i].len, NULL, 0);
        if (memcmp(h, r->c[i].hash, 32) != 0)
            return sr_fail(r, "chunk %u does not match its hash", i);
    }
    own_content(r);
    sr2_root_hash(r->content, r->trailer, r->slots, r->slot_area_len, root);
    if (memcmp(root, r->trailer + 40, 32) != 0)
        return sr_fail(r, "root hash");
    if (!(r->tflags & 1))
        return pk ? sr_fail(r, "not signed") : 0;
    if (pk && memcmp(pk, r->trailer + 104, 32) != 0)
        return sr_fail(r, "signed by another key");
    sr2_sign_message(r->id, r->content, msg);
    if (crypto_sign_verify_detached(r->trailer + 136, msg, sizeof msg, r->trailer + 104))
        return sr_fail(r, "signature");
    return 0;
}

/* ---- §5.2 slots, §4 keys ------------------------------------------------------------------ */

size_t sr2_slot_aad(const uint8_t archive_id[16], const sr2_slot *s, uint8_t *aad)
{
    memcpy(aad, L2_SLOT, 16);
    memcpy(aad + 16, SR2_MAGIC, 8);
    put16(aad + 24, 2);
    memcpy(aad + 26, archive_id, 16);
    memcpy(aad + 42, s->start, s->aad_tail);
    return 42 + s->aad_tail;
}

void sr2_dek_commit(const uint8_t dek[32], const uint8_t archive_id[16], uint8_t out[32])
{
    uint8_t m[32];
    memcpy(m, L2_COMMIT, 16);
    memcpy(m + 16, archive_id, 16);
    crypto_generichash(out, 32, m, sizeof m, dek, 32);
}

/* An x25519 identity file (KEYRING.md §9): its id and key pair, or false. */
static bool identity_keys(const char *text, const sr2_slot *s, uint8_t pk[32], uint8_t sk[32])
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "public_key");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "secret_key");
    size_t plen = 0, slen = 0;
    uint8_t derived[32];
    bool ok = cJSON_IsString(type) && strcmp(type->valuestring, "smar-recipient-identity") == 0 &&
              cJSON_IsString(id) && strlen(id->valuestring) == s->kid_len &&
              memcmp(id->valuestring, s->kid, s->kid_len) == 0 && cJSON_IsString(p) &&
              cJSON_IsString(k) &&
              sodium_base642bin(pk, 32, p->valuestring, strlen(p->valuestring), NULL, &plen, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              plen == 32 &&
              sodium_base642bin(sk, 32, k->valuestring, strlen(k->valuestring), NULL, &slen, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              slen == 32 && crypto_scalarmult_base(derived, sk) == 0 &&
              memcmp(derived, pk, 32) == 0;
    cJSON_Delete(root);
    return ok;
}

/* 0 opened, 1 not this key's slot, -1 failed (r->why). */
static int unwrap_local(sr2 *r, unsigned i, const char *text)
{
    const sr2_slot *s = &r->slot[i];
    uint8_t key[32], aad[600];
    if (s->flags != 0 || !keyring_file_key(text, (const char *)s->kid, s->kid_len, s->version, key))
        return 1;
    if (s->version_kind != 1 || s->wlen != 72)
        return sr_fail(r, "local slot %u layout", i);
    size_t alen = sr2_slot_aad(r->id, s, aad);
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(r->dek, NULL, NULL, s->wrapped + 24, 48,
                                                        aad, alen, s->wrapped, key);
    sodium_memzero(key, sizeof key);
    return rc == 0 ? 0 : sr_fail(r, "slot %u does not open", i);
}

static int unwrap_x25519(sr2 *r, unsigned i, const char *text)
{
    const sr2_slot *s = &r->slot[i];
    uint8_t pk[32], sk[32], shared[32], wk[32], aad[600], nonce[24] = {0};
    if (s->flags != 0 || !identity_keys(text, s, pk, sk))
        return 1;
    if (s->version_kind != 0 || s->wlen != 80)
        return sr_fail(r, "x25519 slot %u layout", i);
    int rc = crypto_scalarmult(shared, sk, s->wrapped);
    sodium_memzero(sk, sizeof sk);
    if (rc != 0 || all_zero(shared, 32))
        return sr_fail(r, "x25519 slot %u: all-zero shared secret", i);
    crypto_generichash_state st;
    crypto_generichash_init(&st, shared, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)L2_X25519, 16);
    crypto_generichash_update(&st, s->wrapped, 32);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, wk, 32);
    sodium_memzero(shared, sizeof shared);
    size_t alen = sr2_slot_aad(r->id, s, aad);
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(r->dek, NULL, NULL, s->wrapped + 32, 48, aad,
                                                    alen, nonce, wk);
    sodium_memzero(wk, sizeof wk);
    return rc == 0 ? 0 : sr_fail(r, "slot %u does not open", i);
}

/* ---- §6 chunks ------------------------------------------------------------------------------ */

void sr2_nonce_aad(const sr2 *r, uint32_t i, uint8_t nonce[24], uint8_t aad[46])
{
    const sr2_chunk *c = &r->c[i];
    memset(nonce, 0, 24);
    put64(nonce, i);
    nonce[8] = c->section;
    nonce[9] = c->flags;
    memcpy(aad, L2_CHUNK, 16);
    memcpy(aad + 16, r->id, 16);
    put64(aad + 32, i);
    aad[40] = c->section;
    aad[41] = c->flags;
    put32(aad + 42, c->seq);
}

/* The decoded body of a manifest or meta chunk: exactly one zstd frame (§6.1). */
static int decode_frame(sr2 *r, uint32_t i, const uint8_t *z, size_t zlen, sb *s)
{
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return sr_fail(r, "chunk %u: not a zstd frame with its size", i);
    if (size == 0 || size > r->chunk_size)
        return sr_fail(r, "chunk %u: declared size %llu", i, size);
    if (ZSTD_findFrameCompressedSize(z, zlen) != zlen)
        return sr_fail(r, "chunk %u: bytes after the frame", i);
    uint8_t *out = malloc(size);
    size_t got = ZSTD_decompress(out, size, z, zlen);
    if (ZSTD_isError(got) || got != size) {
        free(out);
        return sr_fail(r, "chunk %u: decompression", i);
    }
    sb_add(s, out, got);
    free(out);
    return 0;
}

/* Open chunk i and append its decoded body to its section's stream. */
static int chunk_open(sr2 *r, uint32_t i)
{
    sr2_chunk *c = &r->c[i];
    uint8_t nonce[24], aad[46];
    unsigned long long plen;
    int rc;
    sr2_nonce_aad(r, i, nonce, aad);
    uint8_t *P = malloc(c->len);
    if (r->suite == 1)
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(P, &plen, NULL, c->bytes, c->len, aad,
                                                        sizeof aad, nonce, r->sub[2]);
    else if (crypto_aead_aes256gcm_is_available())
        rc = crypto_aead_aes256gcm_decrypt(P, &plen, NULL, c->bytes, c->len, aad, sizeof aad, nonce,
                                           r->sub[2]);
    else
        rc = -2;
    if (rc != 0) {
        free(P);
        return sr_fail(r, rc == -2 ? "AES-256-GCM unavailable" : "chunk %u does not open", i);
    }
    uint32_t body_len = plen >= 4 ? le32(P) : 0;
    if (plen < 4 || body_len > plen - 4 || !all_zero(P + 4 + body_len, plen - 4 - body_len)) {
        free(P);
        return sr_fail(r, "chunk %u: sealed plaintext framing or padding", i);
    }
    c->sealed_len = (size_t)plen;
    c->body_len = body_len;
    sb *s = &r->stream[c->section];
    c->sofs = s->n;
    const uint8_t *body = P + 4;
    if (c->section == 2 || c->section == 4 || c->section == 5) /* §26.6: like the manifest's */
        rc = decode_frame(r, i, body, body_len, s);
    else if (body_len == 0 || body_len > r->chunk_size)
        rc = sr_fail(r, "chunk %u: raw body of %u bytes", i, body_len);
    else if (c->section == 3 && body_len % 28 != 0)
        rc = sr_fail(r, "index chunk %u: %u bytes", i, body_len);
    else
        sb_add(s, body, body_len);
    free(P);
    if (rc)
        return -1;
    c->plen = s->n - c->sofs;
    c->opened = true;
    return 0;
}

/* ---- §11 sections --------------------------------------------------------------------------- */

static sr2_str tstr(cur *c, bool wide)
{
    size_t n = wide ? t32(c) : t16(c);
    const uint8_t *q = take(c, n);
    return (sr2_str){(const char *)q, q ? n : 0};
}

/* §11.4 locator */
static sr2_loc tloc(cur *c, unsigned nbases)
{
    sr2_loc l = {false, -1, NULL, 0, 0, 0, 0, 0, NULL};
    uint8_t present = t8(c);
    if (present > 2 || (present == 2 && nbases == 0))
        c->ok = false;
    if (present == 2) { /* §26.2: external, in base `base` */
        l.base = t8(c);
        if ((unsigned)l.base >= nbases)
            c->ok = false;
    }
    if (present >= 1) {
        l.present = true;
        l.seq = t32(c);
        l.off = t32(c);
        l.stored_len = t32(c);
        l.coding = t8(c);
        l.plain_len = t32(c);
        l.hash = take(c, 32);
        if (l.coding > 1 || l.stored_len == 0 || l.stored_len > MAX_STORED_LEN ||
            l.plain_len > MAX_PLAIN_LEN || (l.coding == 0 && l.stored_len != l.plain_len))
            c->ok = false;
    }
    return l;
}

/* §11.6 */
static int parse_meta(sr2 *r)
{
    if (r->stream[4].n > MAX_META)
        return sr_fail(r, "meta section too large");
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
        uint64_t n = r->tab[t].n;
        if (!c.ok || n > r->nsec[3])
            return sr_fail(r, "index table %d", t);
        r->tab[t].fences = take(&c, (size_t)n * 16);
        if (r->tab[t].entries > n * SR2_INDEX_FULL ||
            (n > 0 && r->tab[t].entries <= (n - 1) * SR2_INDEX_FULL) ||
            (n == 0 && r->tab[t].entries != 0))
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

int sr2_unlock(sr2 *r, const char *text)
{
    uint8_t commit[32], mac[32], root[32];
    for (unsigned i = 0; i < r->nslots && r->used_slot < 0; i++) {
        int rc = 1;
        if (r->slot[i].provider == 1)
            rc = unwrap_local(r, i, text);
        else if (r->slot[i].provider == 2)
            rc = unwrap_x25519(r, i, text);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue;
        /* §4.3: right after the unwrap, before the DEK is used */
        sr2_dek_commit(r->dek, r->id, commit);
        if (sodium_memcmp(commit, r->dek_commit, 32) != 0)
            return sr_fail(r, "slot %u: the DEK does not match dek_commit", i);
        r->used_slot = (int)i;
    }
    if (r->used_slot < 0)
        return sr_fail(r, "no slot for this key");
    for (uint64_t id = 2; id <= 6; id++) /* 6: K_digest (2.2), derived whether used or not */
        crypto_kdf_derive_from_key(r->sub[id], 32, id, "smar-v2\0", r->dek);
    own_content(r);
    sr2_root_mac(r->sub[3], r->content, r->trailer, r->slots, r->slot_area_len, mac);
    if (sodium_memcmp(mac, r->trailer + 72, 32) != 0)
        return sr_fail(r, "root MAC");
    sr2_root_hash(r->content, r->trailer, r->slots, r->slot_area_len, root);
    if (memcmp(root, r->trailer + 40, 32) != 0)
        return sr_fail(r, "root hash");
    for (uint32_t q = 0; q < r->nsec[4]; q++)
        if (chunk_open(r, r->bysec[4][q]))
            return -1;
    return parse_meta(r);
}

/* §26.2 type 3 body after record_type: the reference and its patches, kept for resolving. */
static int parse_reference(sr2 *r, cur *c, sr2_rec *x)
{
    x->flags = t8(c);
    x->ref_base = t8(c);
    x->ref_seq = t32(c);
    x->ref_off = t32(c);
    x->ref_len = t32(c);
    x->npatch = t16(c);
    x->patches = c->p;
    int last = -1;
    for (unsigned i = 0; i < x->npatch && c->ok; i++) {
        int member = t16(c);
        uint32_t vlen = t32(c);
        if (member <= last || vlen == 0)
            return sr_fail(r, "type 3 record: patch %u member %d or length", i, member);
        take(c, vlen);
        last = member;
    }
    if (!c->ok || c->left != 0 || x->flags != 0 || x->ref_base >= r->nbases)
        return sr_fail(r, "type 3 record fields");
    return 0;
}

/* §11.4 manifest record body; type 3 (§26.2) only where allow_ref. */
static int parse_record(sr2 *r, cur *c, sr2_rec *x, bool allow_ref)
{
    x->rtype = t8(c);
    if (x->rtype == 3 && allow_ref && r->nbases > 0)
        return parse_reference(r, c, x);
    if (x->rtype != 1)
        return sr_fail(r, "record type %u", x->rtype);
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
    if (nl > 1000)
        return sr_fail(r, "label count");
    for (unsigned i = 0; i < nl; i++)
        tstr(c, false);
    x->meta = tstr(c, true);
    x->pay = tloc(c, r->nbases);
    x->nver = t32(c);
    if (!c->ok || x->id.n == 0 || x->type.n == 0 || x->nver > 10000)
        return sr_fail(r, "record fields");
    x->v = calloc(x->nver + 1, sizeof *x->v);
    for (uint32_t i = 0; i < x->nver; i++) {
        sr2_ver *v = &x->v[i];
        v->id = tstr(c, false);
        v->created = (int64_t)t64(c);
        v->pay = tloc(c, r->nbases);
        v->meta = tstr(c, true);
        if (!c->ok || v->id.n == 0 || (i > 0 && v->created < x->v[i - 1].created))
            return sr_fail(r, "version %u", i);
    }
    if (!c->ok || c->left != 0)
        return sr_fail(r, "record length");
    return 0;
}

/* Stream position of locator (seq, offset) in a section (§11.1). */
static int stream_pos(sr2 *r, int section, uint32_t seq, uint32_t off, uint64_t *pos)
{
    if (seq >= r->nsec[section])
        return sr_fail(r, "no chunk %u in section %d", seq, section);
    const sr2_chunk *c = &r->c[r->bysec[section][seq]];
    if (off >= c->plen)
        return sr_fail(r, "offset past chunk");
    *pos = c->sofs + off;
    return 0;
}

static void stream_where(const sr2 *r, int section, uint64_t pos, uint32_t *seq, uint32_t *off)
{
    for (uint32_t q = 0; q < r->nsec[section]; q++) {
        const sr2_chunk *c = &r->c[r->bysec[section][q]];
        if (pos >= c->sofs && pos < c->sofs + c->plen) {
            *seq = q;
            *off = (uint32_t)(pos - c->sofs);
            return;
        }
    }
    *seq = *off = UINT32_MAX;
}

/* §11.2: a payload record, decoded into out (the caller frees out->p), hash checked. */
static int read_payload(sr2 *r, const sr2_loc *l, sb *out)
{
    uint64_t pos = 0;
    uint8_t hash[32];
    sr2 *h = l->holder ? l->holder : r; /* §26.3: an external payload is read in its base */
    if (stream_pos(h, 1, l->seq, l->off, &pos))
        return sr_fail(r, "payload locator: %s", h->why);
    if (l->stored_len > h->stream[1].n - pos)
        return sr_fail(r, "payload runs past its section");
    const uint8_t *stored = h->stream[1].p + pos;
    memset(out, 0, sizeof *out);
    if (l->coding == 0) {
        sb_add(out, stored, l->stored_len);
    } else {
        unsigned long long size = ZSTD_getFrameContentSize(stored, l->stored_len);
        if (size != l->plain_len ||
            ZSTD_findFrameCompressedSize(stored, l->stored_len) != l->stored_len)
            return sr_fail(r, "payload frame");
        uint8_t *plain = malloc(size + 1);
        size_t got = ZSTD_decompress(plain, size, stored, l->stored_len);
        if (ZSTD_isError(got) || got != size) {
            free(plain);
            return sr_fail(r, "payload decompression");
        }
        sb_add(out, plain, got);
        free(plain);
    }
    crypto_generichash(hash, 32, out->p, out->n, h->sub[5], 32);
    if (memcmp(hash, l->hash, 32) != 0) {
        sb_free(out);
        return sr_fail(r, "payload hash");
    }
    return 0;
}

/* §12: the members of an object text ("{" members "}") appended to out. */
static int members(sr2 *r, sb *out, const char *p, size_t n, bool *any)
{
    if (n < 2 || p[0] != '{' || p[n - 1] != '}')
        return sr_fail(r, "not an object text");
    if (n == 2)
        return 0;
    if (*any)
        sb_str(out, ",");
    sb_add(out, p + 1, n - 2);
    *any = true;
    return 0;
}

static int payload_members(sr2 *r, sb *out, const sr2_loc *l, bool *any)
{
    sb p = {0};
    if (!l->present)
        return 0;
    if (read_payload(r, l, &p))
        return -1;
    int rc = members(r, out, (const char *)p.p, p.n, any);
    sodium_memzero(p.p, p.n);
    sb_free(&p);
    return rc;
}

static int render(sr2 *r, const sr2_rec *x, sb *out)
{
    bool any = false;
    sb_str(out, "{");
    if (members(r, out, x->meta.p, x->meta.n, &any) || payload_members(r, out, &x->pay, &any))
        return -1;
    if (x->nver > 0 || (x->flags & 1)) {
        sb_str(out, any ? ",\"versions\":[" : "\"versions\":[");
        for (uint32_t i = 0; i < x->nver; i++) {
            bool vany = false;
            sb_str(out, i ? ",{" : "{");
            if (members(r, out, x->v[i].meta.p, x->v[i].meta.n, &vany) ||
                payload_members(r, out, &x->v[i].pay, &vany))
                return -1;
            sb_str(out, "}");
        }
        sb_str(out, "]");
    }
    sb_str(out, "}\n");
    return 0;
}

/* §11.5 */
static void index_key(const sr2 *r, int table, sr2_str s, uint8_t key[16])
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

/* Binary search of the fences (§11.5 "Lookup"): the entry for key k of table t, which
 * must point at record x. */
static bool lookup_finds(const sr2 *r, int t, const uint8_t k[16], const sr2_rec *x)
{
    uint32_t lo = 0, hi = r->tab[t].n; /* first chunk whose fence is >= k */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(r->tab[t].fences + (size_t)mid * 16, k, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint32_t q = lo > 0 ? lo - 1 : 0; q < r->tab[t].n; q++) {
        if (q > lo && memcmp(r->tab[t].fences + (size_t)q * 16, k, 16) != 0)
            break;
        const sr2_chunk *c = &r->c[r->bysec[3][r->tab[t].first + q]];
        const uint8_t *e = r->stream[3].p + c->sofs;
        for (size_t j = 0; j < c->plen / 28; j++) {
            uint32_t seq, off;
            stream_where(r, 2, x->pos, &seq, &off);
            if (memcmp(e + j * 28, k, 16) == 0 && le32(e + j * 28 + 16) == seq &&
                le32(e + j * 28 + 20) == off && le32(e + j * 28 + 24) == x->total)
                return true;
        }
    }
    return false;
}

/* Both index tables must be exactly what the records imply, sorted, with their fences,
 * and every record must be found by a lookup. */
static int check_index(sr2 *r)
{
    for (int t = 0; t < 2; t++) {
        uint8_t *want = calloc(r->nrec + 1, 28);
        size_t n = 0;
        for (size_t i = 0; i < r->nrec; i++) {
            const sr2_rec *x = &r->rec[i];
            if (t == 1 && (x->name.n == 0 || x->rtype == 3))
                continue; /* §26.2: a type 3 record's name is in its base's name table */
            uint8_t *e = want + n++ * 28;
            uint32_t seq, off;
            index_key(r, t, t == 0 ? x->id : x->name, e);
            stream_where(r, 2, x->pos, &seq, &off);
            put32(e + 16, seq);
            put32(e + 20, off);
            put32(e + 24, x->total);
            if (!lookup_finds(r, t, e, x)) {
                free(want);
                return sr_fail(r, "table %d: no entry finds record %zu", t, i);
            }
        }
        qsort(want, n, 28, entry_cmp);
        sb got = {0};
        for (uint32_t k = 0; k < r->tab[t].n; k++) {
            const sr2_chunk *c = &r->c[r->bysec[3][r->tab[t].first + k]];
            const uint8_t *raw = r->stream[3].p + c->sofs;
            size_t expect = (size_t)(r->tab[t].entries - (uint64_t)k * SR2_INDEX_FULL);
            if (expect > SR2_INDEX_FULL)
                expect = SR2_INDEX_FULL;
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

/* ---- §26.2 type 3 records -------------------------------------------------------------- */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Index after the string starting at p[i] ('"'), or 0. */
static size_t string_end(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return 0;
}

/* Index after the JSON value starting at p[i], or 0. */
static size_t value_end(const char *p, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (p[i] == '"')
        return string_end(p, n, i);
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        while (i < n) {
            if (p[i] == '"') {
                if ((i = string_end(p, n, i)) == 0)
                    return 0;
                continue;
            }
            if (p[i] == '{' || p[i] == '[')
                depth++;
            else if ((p[i] == '}' || p[i] == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && skip_ws(p, n, i) == i)
        i++;
    return i > start ? i : 0;
}

/* A patch value: exactly one JSON value, no surrounding whitespace. */
static bool one_json_value(const uint8_t *v, size_t n)
{
    const char *end = NULL;
    if (n == 0 || value_end((const char *)v, n, 0) != n)
        return false;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)v, n, &end, false);
    bool ok = j != NULL && end == (const char *)v + n;
    cJSON_Delete(j);
    return ok;
}

/* Step 3: meta with member k's value replaced by each patch (member k, value). */
static int apply_patches(sr2 *r, const sr2_rec *x, sr2_str meta, sb *out)
{
    const char *p = meta.p;
    size_t n = meta.n, from = 0, i = skip_ws(p, n, 1);
    cur c = {x->patches, SIZE_MAX, true};
    unsigned done = 0, member = 0, want = x->npatch ? t16(&c) : 0;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}')
        return sr_fail(r, "patched metadata is not an object");
    while (i < n - 1 && done < x->npatch) {
        size_t colon = skip_ws(p, n, string_end(p, n, i));
        if (p[i] != '"' || colon >= n || p[colon] != ':')
            return sr_fail(r, "metadata member %u", member);
        size_t vs = skip_ws(p, n, colon + 1), ve = value_end(p, n, vs);
        if (ve == 0)
            return sr_fail(r, "metadata member %u value", member);
        if (member == want) {
            uint32_t vlen = t32(&c);
            const uint8_t *v = take(&c, vlen);
            if (!one_json_value(v, vlen))
                return sr_fail(r, "patch of member %u: not one JSON value", member);
            sb_add(out, p + from, vs - from);
            sb_add(out, v, vlen);
            from = ve;
            if (++done < x->npatch)
                want = t16(&c);
        }
        i = skip_ws(p, n, ve);
        if (i < n && p[i] == ',')
            i = skip_ws(p, n, i + 1);
        member++;
    }
    if (done < x->npatch)
        return sr_fail(r, "patch member %u not below the member count %u", want, member);
    sb_add(out, p + from, n - from);
    return 0;
}

/* Step 4: which archive holds a locator of a record stored in owner, seen from a. */
static int map_locator(sr2 *a, sr2 *owner, sr2_loc *l)
{
    if (!l->present)
        return 0;
    if (owner != a && l->base < 0) { /* local to the base the reference names */
        l->holder = owner;
        return 0;
    }
    if (l->base < 0) {
        l->holder = a;
        return 0;
    }
    int j = l->base;
    if (owner != a) { /* the base's base k: the base of a with the same id and content */
        j = -1;
        for (unsigned q = 0; q < a->nbases && j < 0; q++)
            if (memcmp(a->base_entry[q], owner->base_entry[l->base], 48) == 0)
                j = (int)q;
        if (j < 0)
            return sr_fail(a, "an external locator of a base names an archive not listed");
        l->base = j;
    }
    if (!a->base[j])
        return sr_fail(a, "base %d is not attached", j);
    l->holder = a->base[j];
    return 0;
}

static int map_locators(sr2 *a, sr2 *owner, sr2_rec *x)
{
    if (map_locator(a, owner, &x->pay))
        return -1;
    for (uint32_t i = 0; i < x->nver; i++)
        if (map_locator(a, owner, &x->v[i].pay))
            return -1;
    return 0;
}

/* Resolving a type 3 record x of a (§26.2 steps 1-5). */
static int resolve(sr2 *a, sr2_rec *x)
{
    sr2 *b = a->base[x->ref_base];
    uint64_t pos = 0;
    sr2_rec y;
    if (!b)
        return sr_fail(a, "base %u is not attached", x->ref_base);
    if (stream_pos(b, 2, x->ref_seq, x->ref_off, &pos))
        return sr_fail(a, "type 3 record: %s", b->why);
    const sb *m = &b->stream[2];
    if (m->n - pos < 4 || x->ref_len < 5 || (uint64_t)le32(m->p + pos) + 4 != x->ref_len ||
        x->ref_len > m->n - pos)
        return sr_fail(a, "type 3 record: length");
    memset(&y, 0, sizeof y);
    cur c = {m->p + pos + 4, x->ref_len - 4, true};
    if (parse_record(b, &c, &y, false)) {
        free(y.v);
        return sr_fail(a, "type 3 record: the referenced %s", b->why);
    }
    x->flags = y.flags;
    x->id = y.id;
    x->type = y.type;
    x->rtype = 3;
    x->name = y.name;
    x->group = y.group;
    x->created = y.created;
    x->updated = y.updated;
    x->pay = y.pay;
    x->nver = y.nver;
    x->v = y.v;
    if (apply_patches(a, x, y.meta, &x->patched))
        return -1;
    x->meta = (sr2_str){(const char *)x->patched.p, x->patched.n};
    return map_locators(a, b, x);
}

static int walk_manifest(sr2 *r)
{
    const sb *m = &r->stream[2];
    uint64_t pos = 0, versions = 0;
    int64_t oldest = INT64_MIN, newest = INT64_MIN;
    while (pos < m->n) {
        if (m->n - pos < 4)
            return sr_fail(r, "manifest tail");
        uint32_t len = le32(m->p + pos);
        if (len == 0 || len > MAX_RECORD || len > m->n - pos - 4)
            return sr_fail(r, "record length");
        r->rec = realloc(r->rec, (r->nrec + 1) * sizeof *r->rec);
        sr2_rec *x = &r->rec[r->nrec++];
        memset(x, 0, sizeof *x);
        x->pos = pos;
        x->total = len + 4;
        cur c = {m->p + pos + 4, len, true};
        if (parse_record(r, &c, x, true))
            return -1;
        if (x->rtype == 3 ? resolve(r, x) : map_locators(r, r, x))
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
    return 0;
}

/* Stored payload records, each counted once (shared records: one locator place). */
static uint64_t distinct_payloads(const sr2 *r)
{
    uint64_t distinct = 0, *seen = calloc(r->nrec * 2 + r->nversions + 1, sizeof *seen);
    for (size_t i = 0; i < r->nrec; i++)
        for (int64_t k = -1; k < (int64_t)r->rec[i].nver; k++) {
            const sr2_loc *l = k < 0 ? &r->rec[i].pay : &r->rec[i].v[k].pay;
            uint64_t key = ((uint64_t)l->seq << 32) | l->off;
            bool dup = false;
            if (!l->present || (l->holder && l->holder != r))
                continue; /* §26.2: payload_count counts this archive's own records */
            for (uint64_t j = 0; j < distinct && !dup; j++)
                dup = seen[j] == key;
            if (!dup)
                seen[distinct++] = key;
        }
    free(seen);
    return distinct;
}

/* ---- §26.6 the digests section ------------------------------------------------------------ */

/* The top-level member named "retrieved_at" of a JSON object: its index (0xFFFF when there
 * is none) and the byte range [*vs, *ve) of its value token. */
typedef struct member_at {
    uint32_t index;
    size_t vs, ve;
} member_at;

static int retrieved_at_member(sr2 *r, sr2_str obj, member_at *at)
{
    static const char name[] = "\"retrieved_at\"";
    const char *p = obj.p;
    size_t n = obj.n, i = n >= 2 ? skip_ws(p, n, 1) : 0;
    at->index = 0xFFFF;
    if (n < 2 || p[0] != '{' || p[n - 1] != '}')
        return sr_fail(r, "metadata is not an object");
    for (uint32_t member = 0; i < n - 1; member++) {
        size_t name_end = string_end(p, n, i);
        size_t colon = skip_ws(p, n, name_end);
        if (p[i] != '"' || name_end == 0 || colon >= n || p[colon] != ':')
            return sr_fail(r, "metadata member %u", member);
        size_t vs = skip_ws(p, n, colon + 1), ve = value_end(p, n, vs);
        if (ve == 0)
            return sr_fail(r, "metadata member %u value", member);
        if (name_end - i == sizeof name - 1 && memcmp(p + i, name, sizeof name - 1) == 0 &&
            at->index == 0xFFFF)
            *at = (member_at){member, vs, ve};
        i = skip_ws(p, n, ve);
        if (i < n && p[i] == ',')
            i = skip_ws(p, n, i + 1);
    }
    return 0;
}

/* The table's shape (§26.6): format 1, key_base a base or 0xFF, reserved 0, count =
 * secret_count, the stream consumed exactly; and each retrieved_member names the record's
 * retrieved_at member as resolved. Called after walk_manifest (records resolved). */
static int check_digests(sr2 *r)
{
    const sb *d = &r->stream[5];
    cur c = {d->p, d->n, true};
    if (!r->digests)
        return 0;
    uint8_t format = t8(&c);
    r->key_base = t8(&c);
    uint16_t reserved = t16(&c);
    uint64_t count = t64(&c);
    if (!c.ok || format != 1 || reserved != 0 || (r->key_base != 0xFF && r->key_base >= r->nbases))
        return sr_fail(r, "digests: format, key_base or reserved");
    if (count != r->nsecrets || c.left != count * 18)
        return sr_fail(r, "digests: count %" PRIu64 " for %" PRIu64 " secrets, %zu bytes", count,
                       r->nsecrets, c.left);
    r->digest = take(&c, (size_t)count * 16);
    r->retrieved_at = take(&c, (size_t)count * 2);
    for (size_t i = 0; i < r->nrec; i++) {
        member_at at;
        if (retrieved_at_member(r, r->rec[i].meta, &at))
            return -1;
        if (le16(r->retrieved_at + 2 * i) != at.index)
            return sr_fail(r, "digests: record %zu retrieved_member %u, its metadata says %u", i,
                           le16(r->retrieved_at + 2 * i), at.index);
    }
    return 0;
}

void sr2_export_digest(const uint8_t k_digest[32], const char *t, size_t n, uint8_t out[16])
{
    static const char label[] = "smar/v2 exp-dgst";
    uint64_t cut = UINT64_MAX;
    size_t vs = n, ve = n; /* V = t[vs..ve), empty when there is no retrieved_at */
    member_at at;
    sr2 *scratch = calloc(1, sizeof *scratch); /* a parse failure: no V, as for any text */
    if (retrieved_at_member(scratch, (sr2_str){t, n}, &at) == 0 && at.index != 0xFFFF) {
        vs = at.vs;
        ve = at.ve;
        cut = vs;
    }
    free(scratch);
    uint8_t le[16];
    for (int b = 0; b < 8; b++) {
        le[b] = (uint8_t)(cut >> (8 * b));
        le[8 + b] = (uint8_t)((uint64_t)(n - (ve - vs)) >> (8 * b));
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, k_digest, 32, 16);
    crypto_generichash_update(&st, (const uint8_t *)label, 16);
    crypto_generichash_update(&st, le, 16);
    crypto_generichash_update(&st, (const uint8_t *)t, vs);
    crypto_generichash_update(&st, (const uint8_t *)t + ve, n - ve);
    crypto_generichash_final(&st, out, 16);
}

int sr2_decode_all(sr2 *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        if (!r->c[i].opened && chunk_open(r, i))
            return -1;
    return 0;
}

/* §26.1 "Attaching" a base. */
int sr2_attach(sr2 *r, unsigned i, sr2 *b)
{
    if (i >= r->nbases || b->used_slot < 0)
        return sr_fail(r, "base %u: not listed, or not unlocked", i);
    if (memcmp(b->id, r->base_entry[i], 16) != 0 ||
        memcmp(b->content, r->base_entry[i] + 16, 32) != 0)
        return sr_fail(r, "base %u: not the base this archive was made from", i);
    if (sr2_decode_all(b))
        return sr_fail(r, "base %u: %s", i, b->why);
    r->base[i] = b;
    return 0;
}

int sr2_read(sr2 *r, sb *out)
{
    for (uint32_t i = 0; i < r->count; i++)
        if (!r->c[i].opened && chunk_open(r, i))
            return -1;
    if (walk_manifest(r))
        return -1;
    if (distinct_payloads(r) != r->npayloads)
        return sr_fail(r, "payload count");
    if (check_digests(r))
        return -1;
    for (size_t i = 0; i < r->nrec; i++)
        if (render(r, &r->rec[i], out))
            return -1;
    return check_index(r);
}

/* ---- the internals file --------------------------------------------------------------------- */

static void put_hex_line(sb *o, const char *label, const uint8_t *p, size_t n)
{
    sb_str(o, label);
    sb_hex(o, p, n);
    sb_str(o, "\n");
}

static void internals_slots(const sr2 *r, sb *o)
{
    uint8_t aad[600];
    for (unsigned i = 0; i < r->nslots; i++) {
        const sr2_slot *s = &r->slot[i];
        size_t alen = sr2_slot_aad(r->id, s, aad);
        sb_printf(o, "slot %u: provider %u flags %u key_id %.*s version_kind %u", i, s->provider,
                  s->flags, (int)s->kid_len, (const char *)s->kid, s->version_kind);
        if (s->version_kind == 1)
            sb_printf(o, " version %u", s->version);
        if (s->version_kind == 2)
            sb_printf(o, " version %.*s", (int)s->vstr_len, (const char *)s->vstr);
        sb_printf(o, " wrapped %u bytes%s\n", s->wlen, (int)i == r->used_slot ? " (opened)" : "");
        put_hex_line(o, "  aad: ", aad, alen);
        if (s->wlen <= 128)
            put_hex_line(o, "  wrapped: ", s->wrapped, s->wlen);
    }
}

static void internals_chunks(const sr2 *r, sb *o)
{
    uint8_t nonce[24], caad[46];
    size_t total = 0;
    for (int s = 1; s <= 4; s++)
        total += r->stream[s].n;
    for (uint32_t i = 0; i < r->count; i++) {
        const sr2_chunk *c = &r->c[i];
        sr2_nonce_aad(r, i, nonce, caad);
        sb_printf(o,
                  "chunk %u: section %u (%s) seq %u flags %u offset %" PRIu64
                  " stored %u sealed %zu body_len %u padding %zu decoded %zu\n",
                  i, c->section, SR2_SECTION_NAME[c->section], c->seq, c->flags, c->offset, c->len,
                  c->sealed_len, c->body_len, c->sealed_len - 4 - c->body_len, c->plen);
        put_hex_line(o, "  table entry: ", r->table + (size_t)i * 48, 48);
        put_hex_line(o, "  nonce: ", nonce, r->suite == 1 ? 24 : 12);
        put_hex_line(o, "  aad: ", caad, sizeof caad);
        const uint8_t *plain = r->stream[c->section].p + c->sofs;
        if (total <= 16384) {
            for (size_t k = 0; k < c->plen; k += 64) {
                sb_str(o, k == 0 ? "  decoded body: " : "                ");
                sb_hex(o, plain + k, c->plen - k < 64 ? c->plen - k : 64);
                sb_str(o, "\n");
            }
        } else {
            uint8_t h[32];
            crypto_hash_sha256(h, plain, c->plen);
            put_hex_line(o, "  decoded body sha256: ", h, 32);
        }
    }
}

static void internals_locator(const sr2 *r, sb *o, const char *what, const sr2_loc *l)
{
    if (!l->present)
        return;
    if (l->base >= 0) /* §26.2 external: the base it names, and the base's keyed hash */
        sb_printf(o, "  %s: external, base %d: ", what, l->base);
    else
        sb_printf(o, "  %s: ", what);
    sb_printf(o, "seq %u offset %u coding %s stored_len %u plain_len %u\n", l->seq, l->off,
              l->coding ? "zstd" : "raw", l->stored_len, l->plain_len);
    if (l->base >= 0) {
        put_hex_line(o, "    base archive_id: ", r->base_entry[l->base], 16);
        put_hex_line(o, "    base content: ", r->base_entry[l->base] + 16, 32);
        put_hex_line(o, "    hash: ", l->hash, 32);
    }
}

/* §26.2 type 3: the reference, each patch and the patched metadata. */
static void internals_reference(sb *o, const sr2_rec *x)
{
    cur c = {x->patches, SIZE_MAX, true};
    sb_printf(o, "  type 3: base %u seq %u offset %u length %u patch_count %u\n", x->ref_base,
              x->ref_seq, x->ref_off, x->ref_len, x->npatch);
    for (unsigned i = 0; i < x->npatch; i++) {
        unsigned member = t16(&c);
        uint32_t vlen = t32(&c);
        const uint8_t *v = take(&c, vlen);
        sb_printf(o, "    patch member %u value %.*s\n", member, (int)vlen, (const char *)v);
    }
    sb_printf(o, "  patched metadata: %.*s\n", (int)x->meta.n, x->meta.p);
}

static void internals_bases(const sr2 *r, sb *o)
{
    if (r->nbases == 0)
        return;
    sb_printf(o, "base list (%u bases): ", r->nbases);
    sb_hex(o, r->header + 96, 4 + 56 * (size_t)r->nbases);
    sb_str(o, "\n");
    for (unsigned i = 0; i < r->nbases; i++) {
        sb_printf(o, "base %u: snapshot %" PRId64 "\n", i, (int64_t)le64(r->base_entry[i] + 48));
        put_hex_line(o, "  archive_id: ", r->base_entry[i], 16);
        put_hex_line(o, "  content: ", r->base_entry[i] + 16, 32);
    }
}

static void internals_records(const sr2 *r, sb *o)
{
    for (size_t i = 0; i < r->nrec; i++) {
        const sr2_rec *x = &r->rec[i];
        uint8_t key[16];
        sb_printf(o, "record %zu: %.*s\n", i, (int)x->id.n, x->id.p);
        if (x->rtype == 3)
            internals_reference(o, x);
        internals_locator(r, o, "payload", &x->pay);
        for (uint32_t v = 0; v < x->nver; v++) {
            char what[300];
            snprintf(what, sizeof what, "version %.*s payload", (int)x->v[v].id.n, x->v[v].id.p);
            internals_locator(r, o, what, &x->v[v].pay);
        }
        index_key(r, 0, x->id, key);
        put_hex_line(o, "  index key i||id: ", key, 16);
        if (x->name.n) {
            index_key(r, 1, x->name, key);
            put_hex_line(o, "  index key n||name: ", key, 16);
        }
    }
}

void sr2_internals(const sr2 *r, const char *name, sb *o)
{
    static const char *const what[6] = {"", "", "K_chunk", "K_rootmac", "K_index", "K_payload"};
    sb_printf(o, "# %s: intermediate values of an independent reader (hex)\n", name);
    put_hex_line(o, "dek: ", r->dek, 32);
    put_hex_line(o, "dek_commit: ", r->dek_commit, 32);
    for (int k = 2; k <= 5; k++) {
        sb_printf(o, "subkey %d (%s): ", k, what[k]);
        sb_hex(o, r->sub[k], 32);
        sb_str(o, "\n");
    }
    sb_printf(o, "header (%u bytes): ", r->hlen);
    sb_hex(o, r->header, r->hlen);
    sb_printf(o, "\nslot area (%u bytes), %u slots\n", r->slot_area_len, r->nslots);
    internals_slots(r, o);
    internals_bases(r, o);
    put_hex_line(o, "content: ", r->content, 32);
    put_hex_line(o, "root MAC: ", r->trailer + 72, 32);
    put_hex_line(o, "root hash: ", r->trailer + 40, 32);
    put_hex_line(o, "trailer: ", r->trailer, SR2_TRAILER);
    internals_chunks(r, o);
    internals_records(r, o);
}
