/*
 * fuzz_header.c - the public header and its key slots, parsed directly
 * (smar_header_peek, smar_header_parse), with a round trip: a header that parses encodes
 * back to exactly the same bytes (the MAC aside), so the parser accepts nothing the
 * writer would not write.
 */
#include <string.h>

#include "common.h"
#include "header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smar_header h;
    smar_err e = {0};
    uint32_t len;
    fz_init();
    if (smar_header_peek(data, size, &len, &e) == SMAR_OK)
        FZ_CHECK(len >= SMAR_HEADER_FIXED_BYTES + SMAR_HEADER_MAC_BYTES &&
                 len <= SMAR_HEADER_MAX_BYTES);
    if (smar_header_parse(&h, data, size, &e) != SMAR_OK) {
        FZ_CHECK(e.code < 0 && e.msg[0] != '\0');
        return 0;
    }
    FZ_CHECK(h.header_len == size);
    FZ_CHECK(h.slot_count >= 1 && h.slot_count <= SMAR_MAX_KEY_SLOTS);
    for (unsigned i = 0; i < h.slot_count; i++) {
        uint8_t aad[SMAR_SLOT_AAD_MAX];
        const smar_slot *s = &h.slots[i];
        FZ_CHECK(s->wrapped_len >= 1 && s->wrapped_len <= SMAR_WRAPPED_MAX);
        FZ_CHECK(strlen(s->key_id) == s->key_id_len);
        FZ_CHECK(smar_slot_aad(aad, &h, s) <= SMAR_SLOT_AAD_MAX);
    }
    /* round trip */
    static const uint8_t zero_key[32];
    smar_header again = h;
    smar_buf out = {0};
    FZ_CHECK(smar_header_encode(&again, zero_key, &out) == SMAR_OK);
    FZ_CHECK(out.len == size);
    FZ_CHECK(memcmp(out.data, data, size - SMAR_HEADER_MAC_BYTES) == 0);
    FZ_CHECK(smar_header_mac_ok(out.data, out.len, zero_key));
    smar_buf_free(&out);
    return 0;
}
