/*
 * slots.c - the format 2 key slot area (slots.h).
 */
#include "slots.h"

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), 0 when invalid: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    uint8_t b = s[0];
    size_t n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
    if (n == 0 || b > 0xf4 || n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((b == 0xe0 && s[1] < 0xa0) || (b == 0xed && s[1] > 0x9f) || (b == 0xf0 && s[1] < 0x90) ||
        (b == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

bool smar_slot_text_ok(const char *text, size_t n)
{
    const uint8_t *s = (const uint8_t *)text;
    if (n == 0 || n > SMAR_KEY_ID2_MAX)
        return false;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
        size_t len = s[i] < 0x80 ? 1 : utf8_len(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

/* The slot's encoding up to its key id: the AAD's tail. The version is left out of the AAD
 * (spec/FORMAT.md §5.2): it only names which key material to try, the root MAC covers it,
 * and a KMS that keeps the AAD across a rewrap can then record the new version. */
static size_t slot_binding(uint8_t *out, const smar_slot2 *s)
{
    uint8_t *p = out;
    *p++ = s->provider;
    *p++ = s->flags;
    *p++ = s->key_id_len;
    memcpy(p, s->key_id, s->key_id_len);
    p += s->key_id_len;
    return (size_t)(p - out);
}

/* The slot's encoding up to (not including) wrapped_len. */
static size_t slot_head(uint8_t *out, const smar_slot2 *s)
{
    uint8_t *p = out + slot_binding(out, s);
    *p++ = s->version_kind;
    if (s->version_kind == SMAR_VKIND_NUMBER) {
        smar_store_u32(p, s->version_number);
        p += 4;
    } else if (s->version_kind == SMAR_VKIND_STRING) {
        *p++ = s->version_string_len;
        memcpy(p, s->version_string, s->version_string_len);
        p += s->version_string_len;
    }
    return (size_t)(p - out);
}

#define SLOT_HEAD_MAX (3 + SMAR_KEY_ID2_MAX + 1 + 1 + SMAR_VERSION_STR_MAX)

static bool slot_encodable(const smar_slot2 *s)
{
    if (s->provider == 0 || !smar_slot_text_ok(s->key_id, s->key_id_len) || s->wrapped_len == 0)
        return false;
    switch (s->version_kind) {
    case SMAR_VKIND_NONE:
        return true;
    case SMAR_VKIND_NUMBER:
        return s->version_number >= 1;
    case SMAR_VKIND_STRING:
        return smar_slot_text_ok(s->version_string, s->version_string_len);
    default:
        return false;
    }
}

int smar_slot_area_encode(const smar_slot2 *slots, unsigned n, smar_buf *out, smar_err *e)
{
    uint8_t head[SLOT_HEAD_MAX];
    size_t start = out->len, total = 4;
    if (n == 0 || n > SMAR_SLOTS2_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "%u key slots (allowed 1..%u)", n, SMAR_SLOTS2_MAX);
    for (unsigned i = 0; i < n; i++) {
        if (!slot_encodable(&slots[i]))
            return smar_fail(e, SMAR_E_LIMIT, "key slot %u: a field is out of the format's bounds",
                             i);
        total += slot_head(head, &slots[i]) + 4 + (size_t)slots[i].wrapped_len;
        if (total > SMAR_SLOT_AREA_MAX)
            return smar_fail(e, SMAR_E_LIMIT, "the key slots take over %u bytes",
                             SMAR_SLOT_AREA_MAX);
    }
    if (smar_buf_reserve(out, total))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    smar_buf_put_u16(out, (uint16_t)n);
    smar_buf_put_u16(out, 0);
    for (unsigned i = 0; i < n; i++) {
        smar_buf_append(out, head, slot_head(head, &slots[i]));
        smar_buf_put_u32(out, slots[i].wrapped_len);
        smar_buf_append(out, slots[i].wrapped, slots[i].wrapped_len);
    }
    return out->len - start == total ? SMAR_OK : smar_fail(e, SMAR_E_NOMEM, "out of memory");
}

/* A u8-length text (key id or version string) into out (NUL-terminated). */
static int take_text(smar_cursor *c, uint8_t *len, char *out, unsigned index, const char *what,
                     smar_err *e)
{
    const uint8_t *p;
    if (!smar_take_u8(c, len) || !smar_take_ptr(c, &p, *len))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    if (!smar_slot_text_ok((const char *)p, *len))
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has an invalid %s", index, what);
    memcpy(out, p, *len);
    out[*len] = '\0';
    return SMAR_OK;
}

static int take_version(smar_cursor *c, smar_slot2 *s, unsigned index, smar_err *e)
{
    if (!smar_take_u8(c, &s->version_kind))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    switch (s->version_kind) {
    case SMAR_VKIND_NONE:
        return SMAR_OK;
    case SMAR_VKIND_NUMBER:
        if (!smar_take_u32(c, &s->version_number))
            return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
        return s->version_number >= 1
                   ? SMAR_OK
                   : smar_fail(e, SMAR_E_FORMAT, "key slot %u has key version 0", index);
    case SMAR_VKIND_STRING:
        return take_text(c, &s->version_string_len, s->version_string, index, "version string", e);
    default:
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has unknown version kind %u", index,
                         s->version_kind);
    }
}

static int parse_slot(smar_slot2 *s, smar_cursor *c, unsigned index, smar_err *e)
{
    int rc;
    memset(s, 0, sizeof *s);
    if (!smar_take_u8(c, &s->provider) || !smar_take_u8(c, &s->flags))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    /* a provider this reader does not know is skipped at unlock, not refused here: the
     * slot is self-delimiting */
    if (s->provider == 0)
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has provider 0", index);
    if ((rc = take_text(c, &s->key_id_len, s->key_id, index, "key id", e)) ||
        (rc = take_version(c, s, index, e)))
        return rc;
    if (!smar_take_u32(c, &s->wrapped_len))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u is truncated", index);
    if (s->wrapped_len == 0)
        return smar_fail(e, SMAR_E_FORMAT, "key slot %u has an empty wrapped key", index);
    if (!smar_take_ptr(c, &s->wrapped, s->wrapped_len))
        return smar_fail(e, SMAR_E_CORRUPT, "key slot %u runs past the slot area", index);
    return SMAR_OK;
}

int smar_slot_area_parse(smar_slot2 *slots, unsigned *count, const uint8_t *p, size_t n,
                         smar_err *e)
{
    uint16_t nslots, reserved;
    int rc;
    *count = 0;
    if (n < SMAR_SLOT_AREA_MIN || n > SMAR_SLOT_AREA_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "slot area of %zu bytes (allowed %u..%u)", n,
                         SMAR_SLOT_AREA_MIN, SMAR_SLOT_AREA_MAX);
    smar_cursor c = smar_cursor_make(p, n);
    smar_take_u16(&c, &nslots);
    smar_take_u16(&c, &reserved);
    if (reserved != 0)
        return smar_fail(e, SMAR_E_VERSION, "slot area uses fields this version does not know");
    if (nslots == 0 || nslots > SMAR_SLOTS2_MAX)
        return smar_fail(e, SMAR_E_LIMIT, "%u key slots (allowed 1..%u)", nslots, SMAR_SLOTS2_MAX);
    for (unsigned i = 0; i < nslots; i++)
        if ((rc = parse_slot(&slots[i], &c, i, e)) != SMAR_OK)
            return rc;
    if (c.left != 0)
        return smar_fail(e, SMAR_E_FORMAT, "slot area has %zu unexpected bytes after its slots",
                         c.left);
    *count = nslots;
    return SMAR_OK;
}

size_t smar_slot2_aad(uint8_t out[SMAR_SLOT2_AAD_MAX], const uint8_t archive_id[16],
                      const smar_slot2 *s)
{
    uint8_t *p = out;
    memcpy(p, SMAR_LABEL2_SLOT, SMAR_LABEL_BYTES);
    p += SMAR_LABEL_BYTES;
    memcpy(p, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    p += SMAR_MAGIC_BYTES;
    smar_store_u16(p, SMAR_FORMAT_V2);
    p += 2;
    memcpy(p, archive_id, SMAR_ARCHIVE_ID_BYTES);
    p += SMAR_ARCHIVE_ID_BYTES;
    p += slot_binding(p, s);
    return (size_t)(p - out);
}
