/*
 * root2.c - content hash, root MAC, root hash and signed message of format 2 (root2.h).
 */
#include "root2.h"

#include <sodium.h>

#include "crypto.h"

/* Trailer ranges: positions and flags [0..36), the slot area's length [36..40), root hash
 * [40..72), root MAC [72..104), signer [104..136), signature [136..200), tail [200..216). */
#define T_POSITIONS 36
#define T_SLOTS_LEN 36
#define T_ROOT_MAC  72
#define T_SIGNER    104
#define T_SIGNATURE 136
#define T_TAIL      200

static void content_begin(crypto_generichash_state *st, const uint8_t t[SMAR_TRAILER_BYTES])
{
    crypto_generichash_init(st, NULL, 0, SMAR_HASH_BYTES);
    crypto_generichash_update(st, (const uint8_t *)SMAR_LABEL2_CONTENT, SMAR_LABEL_BYTES);
    crypto_generichash_update(st, t, T_POSITIONS);
    crypto_generichash_update(st, t + T_TAIL, SMAR_TRAILER_BYTES - T_TAIL);
    crypto_generichash_update(st, t + T_SIGNER, 32);
}

void smar_content_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t trailer[SMAR_TRAILER_BYTES],
                       const uint8_t *header, size_t header_len, const uint8_t *table,
                       size_t table_len)
{
    crypto_generichash_state st;
    content_begin(&st, trailer);
    crypto_generichash_update(&st, header, header_len);
    crypto_generichash_update(&st, table, table_len);
    crypto_generichash_final(&st, out, SMAR_HASH_BYTES);
}

void smar_root2_mac(uint8_t out[SMAR_HASH_BYTES], const uint8_t key[32],
                    const uint8_t content[SMAR_HASH_BYTES],
                    const uint8_t trailer[SMAR_TRAILER_BYTES], const uint8_t *slots,
                    size_t slots_len)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, SMAR_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)SMAR_LABEL2_ROOTMAC, SMAR_LABEL_BYTES);
    crypto_generichash_update(&st, content, SMAR_HASH_BYTES);
    crypto_generichash_update(&st, trailer + T_SLOTS_LEN, 4);
    crypto_generichash_update(&st, slots, slots_len);
    crypto_generichash_final(&st, out, SMAR_HASH_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* H(L2_ROOT || content || T[36..40) || ...): the slot area goes in between. */
static void root_begin(crypto_generichash_state *st, const uint8_t content[SMAR_HASH_BYTES],
                       const uint8_t t[SMAR_TRAILER_BYTES])
{
    crypto_generichash_init(st, NULL, 0, SMAR_HASH_BYTES);
    crypto_generichash_update(st, (const uint8_t *)SMAR_LABEL2_ROOT, SMAR_LABEL_BYTES);
    crypto_generichash_update(st, content, SMAR_HASH_BYTES);
    crypto_generichash_update(st, t + T_SLOTS_LEN, 4);
}

/* ... || root_mac || signature). */
static void root_end(crypto_generichash_state *st, const uint8_t t[SMAR_TRAILER_BYTES],
                     uint8_t out[SMAR_HASH_BYTES])
{
    crypto_generichash_update(st, t + T_ROOT_MAC, SMAR_HASH_BYTES);
    crypto_generichash_update(st, t + T_SIGNATURE, SMAR_SIGNATURE_BYTES);
    crypto_generichash_final(st, out, SMAR_HASH_BYTES);
}

void smar_root2_hash(uint8_t out[SMAR_HASH_BYTES], const uint8_t content[SMAR_HASH_BYTES],
                     const uint8_t trailer[SMAR_TRAILER_BYTES], const uint8_t *slots,
                     size_t slots_len)
{
    crypto_generichash_state st;
    root_begin(&st, content, trailer);
    crypto_generichash_update(&st, slots, slots_len);
    root_end(&st, trailer, out);
}

void smar_signed2_message(uint8_t out[SMAR_SIGNED2_MSG_BYTES],
                          const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES],
                          const uint8_t content[SMAR_HASH_BYTES])
{
    memcpy(out, SMAR_LABEL2_SIGN, SMAR_LABEL_BYTES);
    memcpy(out + SMAR_LABEL_BYTES, archive_id, SMAR_ARCHIVE_ID_BYTES);
    memcpy(out + SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES, content, SMAR_HASH_BYTES);
}

bool smar_signature2_ok(const smar_trailer *t, const uint8_t content[SMAR_HASH_BYTES],
                        const uint8_t pk[32])
{
    uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
    if (!(t->flags & SMAR_TRAILER_SIGNED))
        return false;
    smar_signed2_message(msg, t->archive_id, content);
    return crypto_sign_verify_detached(t->signature, msg, sizeof msg, pk) == 0;
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

int smar_root2_matches_raw(const uint8_t trailer[SMAR_TRAILER_BYTES], uint64_t header_len,
                           uint64_t table_offset, uint64_t table_len, uint64_t slots_len,
                           smar_raw_read_fn read_at, void *opaque, bool *matches)
{
    crypto_generichash_state st;
    uint8_t content[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    content_begin(&st, trailer);
    if (hash_range(&st, read_at, opaque, 0, header_len) != 0 ||
        hash_range(&st, read_at, opaque, table_offset, table_len) != 0)
        return -1;
    crypto_generichash_final(&st, content, SMAR_HASH_BYTES);
    root_begin(&st, content, trailer);
    if (hash_range(&st, read_at, opaque, table_offset + table_len, slots_len) != 0)
        return -1;
    root_end(&st, trailer, root);
    *matches = smar_equal32(root, trailer + 40);
    return 0;
}
