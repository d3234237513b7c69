/*
 * root.c - the root of an archive: body hash, root MAC, root hash and the producer's
 * signature over it (spec/FORMAT.md, "Root and signature").
 */
#include "root.h"

#include <sodium.h>

#include "crypto.h"

/* Trailer bytes covered by the body hash: table_offset .. reserved, and the tail (versions,
 * trailer length, magic). The hashes and the signature between them are covered by the
 * root hash and the signature itself. */
#define TRAILER_FIXED_BYTES 40
#define TRAILER_TAIL_OFFSET 200

static void body_begin(crypto_generichash_state *st, const uint8_t trailer[SMAR_TRAILER_BYTES])
{
    crypto_generichash_init(st, NULL, 0, SMAR_HASH_BYTES);
    crypto_generichash_update(st, (const uint8_t *)SMAR_LABEL_ROOT, SMAR_LABEL_BYTES);
    crypto_generichash_update(st, trailer, TRAILER_FIXED_BYTES);
    crypto_generichash_update(st, trailer + TRAILER_TAIL_OFFSET,
                              SMAR_TRAILER_BYTES - TRAILER_TAIL_OFFSET);
}

void smar_body_hash(uint8_t out[SMAR_HASH_BYTES], const smar_trailer *t, const uint8_t *header,
                    size_t header_len, const uint8_t *table, size_t table_len)
{
    uint8_t fixed[SMAR_TRAILER_BYTES];
    crypto_generichash_state st;
    smar_trailer_encode(fixed, t);
    body_begin(&st, fixed);
    crypto_generichash_update(&st, header, header_len);
    crypto_generichash_update(&st, table, table_len);
    crypto_generichash_final(&st, out, SMAR_HASH_BYTES);
}

/* Hash len bytes of the source at offset into st, a piece at a time. */
static int hash_range(crypto_generichash_state *st, smar_raw_read_fn read_at, void *opaque,
                      uint64_t offset, uint64_t len)
{
    uint8_t piece[16384];
    while (len > 0) {
        size_t n = len < sizeof piece ? (size_t)len : sizeof piece;
        if (read_at(opaque, piece, n, offset) != 0)
            return -1;
        crypto_generichash_update(st, piece, n);
        offset += n;
        len -= n;
    }
    return 0;
}

int smar_root_matches_raw(const uint8_t trailer[SMAR_TRAILER_BYTES], uint64_t header_len,
                          uint64_t table_offset, uint64_t table_len, smar_raw_read_fn read_at,
                          void *opaque, bool *matches)
{
    crypto_generichash_state st;
    uint8_t body[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    body_begin(&st, trailer);
    if (hash_range(&st, read_at, opaque, 0, header_len) != 0 ||
        hash_range(&st, read_at, opaque, table_offset, table_len) != 0)
        return -1;
    crypto_generichash_final(&st, body, SMAR_HASH_BYTES);
    /* root = H(L_ROOT || body || root_mac || signer), the last two as stored */
    crypto_generichash_init(&st, NULL, 0, SMAR_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)SMAR_LABEL_ROOT, SMAR_LABEL_BYTES);
    crypto_generichash_update(&st, body, SMAR_HASH_BYTES);
    crypto_generichash_update(&st, trailer + 72, SMAR_HASH_BYTES + 32);
    crypto_generichash_final(&st, root, SMAR_HASH_BYTES);
    *matches = smar_equal32(root, trailer + 40);
    return 0;
}

void smar_root_mac(uint8_t out[SMAR_HASH_BYTES], const uint8_t key[32],
                   const uint8_t body[SMAR_HASH_BYTES])
{
    uint8_t msg[SMAR_LABEL_BYTES + SMAR_HASH_BYTES];
    memcpy(msg, SMAR_LABEL_ROOTMAC, SMAR_LABEL_BYTES);
    memcpy(msg + SMAR_LABEL_BYTES, body, SMAR_HASH_BYTES);
    smar_hash(out, key, msg, sizeof msg);
}

void smar_root_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t body[SMAR_HASH_BYTES],
                    const smar_trailer *t)
{
    uint8_t msg[SMAR_LABEL_BYTES + 2 * SMAR_HASH_BYTES + 32];
    memcpy(msg, SMAR_LABEL_ROOT, SMAR_LABEL_BYTES);
    memcpy(msg + SMAR_LABEL_BYTES, body, SMAR_HASH_BYTES);
    memcpy(msg + SMAR_LABEL_BYTES + SMAR_HASH_BYTES, t->root_mac, SMAR_HASH_BYTES);
    memcpy(msg + SMAR_LABEL_BYTES + 2 * SMAR_HASH_BYTES, t->signer, 32);
    smar_hash(out, NULL, msg, sizeof msg);
}

void smar_signed_message(uint8_t out[SMAR_SIGNED_MSG_BYTES], const smar_trailer *t)
{
    memcpy(out, SMAR_LABEL_SIGN, SMAR_LABEL_BYTES);
    memcpy(out + SMAR_LABEL_BYTES, t->archive_id, SMAR_ARCHIVE_ID_BYTES);
    memcpy(out + SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES, t->root_hash, SMAR_HASH_BYTES);
}

bool smar_signature_ok(const smar_trailer *t, const uint8_t pk[32])
{
    uint8_t msg[SMAR_SIGNED_MSG_BYTES];
    if (!(t->flags & SMAR_TRAILER_SIGNED))
        return false;
    smar_signed_message(msg, t);
    return crypto_sign_verify_detached(t->signature, msg, sizeof msg, pk) == 0;
}
