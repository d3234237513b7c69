/*
 * fuzz_header.c - the public header, parsed directly, in both formats:
 *   format 1: the header and its key slots (smar_header_peek, smar_header_parse), with a
 *             round trip: a header that parses encodes back to exactly the same bytes (the
 *             MAC aside), so the parser accepts nothing the writer would not write;
 *   format 2: the header of 96..4096 bytes (smar_header2_peek, smar_header2_parse), with
 *             a round trip of its first 96 bytes (header_len aside: a later minor
 *             version's bytes 96.. are ignored), and the dek_commit check;
 *   format 2.1: the incremental header (spec/FORMAT.md section 26.1): flag INCREMENTAL
 *             only with version_minor >= 1, base_count 1..64, reserved 0, header_len at
 *             least 100 + 56 x base_count, every base strictly older than the archive,
 *             listed once and not the archive itself; the round trip then covers the base
 *             list too (bytes past it are a later minor version's, ignored).
 * Every input goes through both parsers (each refuses the other's major version).
 */
#include <string.h>

#include "common.h"
#include "header.h"
#include "header2.h"

/* What a parsed incremental header promises its readers (section 26.1). */
static void check_bases(const smar_header2 *h)
{
    FZ_CHECK(h->version_minor >= SMAR_HEADER2_MINOR_INCREMENTAL);
    FZ_CHECK(h->base_count >= 1 && h->base_count <= SMAR_BASES_MAX);
    FZ_CHECK(h->header_len >= smar_header2_len(h->base_count));
    for (unsigned i = 0; i < h->base_count; i++) {
        FZ_CHECK(h->bases[i].snapshot < h->snapshot);
        FZ_CHECK(memcmp(h->bases[i].archive_id, h->archive_id, SMAR_ARCHIVE_ID_BYTES) != 0);
        for (unsigned j = 0; j < i; j++)
            FZ_CHECK(
                memcmp(h->bases[i].archive_id, h->bases[j].archive_id, SMAR_ARCHIVE_ID_BYTES) != 0);
    }
}

static void header2(const uint8_t *data, size_t size)
{
    smar_header2 h;
    smar_err e = {0};
    uint32_t len;
    if (smar_header2_peek(data, size, &len, &e) == SMAR_OK)
        FZ_CHECK(len >= SMAR_HEADER2_BYTES && len <= SMAR_HEADER2_MAX);
    if (smar_header2_parse(&h, data, size, &e) != SMAR_OK) {
        FZ_CHECK(e.code < 0 && e.msg[0] != '\0');
        return;
    }
    FZ_CHECK(h.header_len == size && h.version_major == SMAR_FORMAT_V2);
    FZ_CHECK(h.chunk_size >= SMAR_CHUNK_MIN && h.chunk_size <= SMAR_CHUNK_MAX);
    if (h.flags & SMAR_HEADER2_FLAG_INCREMENTAL)
        check_bases(&h);
    else
        FZ_CHECK(h.flags == 0 && h.base_count == 0);
    size_t want = smar_header2_len(h.base_count);
    FZ_CHECK(want <= size);
    smar_buf out = {0};
    FZ_CHECK(smar_header2_encode(&h, &out) == SMAR_OK && out.len == want);
    FZ_CHECK(memcmp(out.data, data, 12) == 0);
    FZ_CHECK(smar_load_u32(out.data + 12) == want);
    FZ_CHECK(memcmp(out.data + 16, data + 16, want - 16) == 0);
    smar_buf_free(&out);
    /* the fixed DEK opens only its own commitment */
    uint8_t dek[32];
    memset(dek, 0x5a, sizeof dek);
    uint8_t commit[SMAR_DEK_COMMIT_BYTES];
    smar_dek_commit(commit, dek, h.archive_id);
    FZ_CHECK(smar_dek_commit_ok(dek, &h) == (memcmp(commit, h.dek_commit, sizeof commit) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smar_header h;
    smar_err e = {0};
    uint32_t len;
    fz_init();
    header2(data, size);
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
