/*
 * fuzz_slots.c - the key slot area of format 2 (smar_slot_area_parse), parsed directly:
 * every field of every slot within the format's bounds, each slot's AAD within its
 * bound, and a round trip: an area that parses encodes back to exactly the same bytes
 * (smar_slot_area_encode), so the parser accepts nothing a writer would not write.
 */
#include <string.h>

#include "common.h"
#include "format.h"
#include "slots.h"

static void check_slot(const smar_slot2 *s)
{
    static const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES] = "smar-fuzz-archiv";
    uint8_t aad[SMAR_SLOT2_AAD_MAX];
    FZ_CHECK(s->provider != 0);
    FZ_CHECK(s->key_id_len >= 1 && strlen(s->key_id) == s->key_id_len);
    FZ_CHECK(smar_slot_text_ok(s->key_id, s->key_id_len));
    switch (s->version_kind) {
    case SMAR_VKIND_NONE:
        break;
    case SMAR_VKIND_NUMBER:
        FZ_CHECK(s->version_number >= 1);
        break;
    case SMAR_VKIND_STRING:
        FZ_CHECK(strlen(s->version_string) == s->version_string_len);
        FZ_CHECK(smar_slot_text_ok(s->version_string, s->version_string_len));
        break;
    default:
        FZ_CHECK(s->version_kind <= SMAR_VKIND_STRING); /* an unknown kind is refused */
    }
    FZ_CHECK(s->wrapped_len >= 1 && s->wrapped_len <= SMAR_SLOT_AREA_MAX && s->wrapped != NULL);
    size_t n = smar_slot2_aad(aad, archive_id, s);
    FZ_CHECK(n > SMAR_LABEL_BYTES + SMAR_MAGIC_BYTES + 2 + SMAR_ARCHIVE_ID_BYTES &&
             n <= sizeof aad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static smar_slot2 slots[SMAR_SLOTS2_MAX];
    unsigned count = 99;
    smar_err e = {0};
    fz_init();
    if (smar_slot_area_parse(slots, &count, data, size, &e) != SMAR_OK) {
        FZ_CHECK(count == 0 && e.code < 0 && e.msg[0] != '\0');
        return 0;
    }
    FZ_CHECK(size >= SMAR_SLOT_AREA_MIN && size <= SMAR_SLOT_AREA_MAX);
    FZ_CHECK(count >= 1 && count <= SMAR_SLOTS2_MAX);
    for (unsigned i = 0; i < count; i++) {
        check_slot(&slots[i]);
        FZ_CHECK(slots[i].wrapped >= data &&
                 slots[i].wrapped + slots[i].wrapped_len <= data + size);
    }
    /* round trip */
    smar_buf out = {0};
    FZ_CHECK(smar_slot_area_encode(slots, count, &out, &e) == SMAR_OK);
    FZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0);
    smar_buf_free(&out);
    return 0;
}
