/*
 * archive_builder.c - see archive_builder.h. Mirrors writer.c's open_common, make_slots,
 * chunk_sealed and write_table_and_trailer (format 2; and the format 1 writer they
 * replaced), without the writer's checks on content.
 */
#include "archive_builder.h"

#include <sodium.h>

#include "chunk.h"
#include "crypto.h"
#include "subkeys.h"
#include "header.h"
#include "header2.h"
#include "keyring_internal.h"
#include "slots.h"
#include "table.h"
#include "root.h"
#include "root2.h"

#define FZ_ARCHIVE_ID "smar-fuzz-archiv"

static int make_header(smar_header *h, smar_keyring *kr, const uint8_t *dek, int suite,
                       uint32_t chunk_size, int64_t snapshot, smar_err *e)
{
    uint8_t aad[SMAR_SLOT_AAD_MAX];
    size_t wlen;
    uint32_t used;
    memset(h, 0, sizeof *h);
    h->version_major = SMAR_FORMAT_V1;
    h->version_minor = 0;
    h->suite = (uint16_t)suite;
    h->compression = SMAR_COMPRESSION_ZSTD;
    h->chunk_size = chunk_size;
    memcpy(h->archive_id, FZ_ARCHIVE_ID, SMAR_ARCHIVE_ID_BYTES);
    h->created = FZ_TIME;
    h->snapshot = snapshot ? snapshot : FZ_TIME;
    h->slot_count = 1;
    smar_slot *s = &h->slots[0];
    const char *id = smar_keyring_id(kr);
    s->provider = smar_keyring_provider_id(kr);
    s->key_id_len = (uint8_t)strlen(id);
    memcpy(s->key_id, id, s->key_id_len);
    s->key_version = smar_keyring_current_version(kr);
    size_t aadlen = smar_slot_aad(aad, h, s);
    int rc = smar_keyring_wrap(kr, aad, aadlen, dek, s->wrapped, &wlen, &used, e);
    if (rc)
        return rc;
    s->wrapped_len = (uint16_t)wlen;
    return SMAR_OK;
}

static bool is_last_of_section(const fz_chunk *chunks, size_t n, size_t i)
{
    for (size_t j = i + 1; j < n; j++)
        if (chunks[j].section == chunks[i].section)
            return false;
    return true;
}

/* Seal a format 2 sealed plaintext P exactly as given: chunk.c's nonce and AAD (spec: chunk
 * nonce as format 1, AAD behind L2_CHUNK), without its framing. */
static int seal_plain_as_is(const smar_chunker *ck, const smar_chunk_pos *pos, const uint8_t *p,
                            size_t n, smar_buf *out)
{
    uint8_t nonce[SMAR_NONCE_MAX] = {0};
    uint8_t aad[SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES + 8 + 1 + 1 + 4];
    smar_store_u64(nonce, pos->number);
    nonce[8] = pos->section;
    nonce[9] = pos->flags;
    memcpy(aad, SMAR_LABEL2_CHUNK, SMAR_LABEL_BYTES);
    memcpy(aad + SMAR_LABEL_BYTES, ck->archive_id, SMAR_ARCHIVE_ID_BYTES);
    uint8_t *q = aad + SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES;
    smar_store_u64(q, pos->number);
    q[8] = pos->section;
    q[9] = pos->flags;
    smar_store_u32(q + 10, pos->seq);
    smar_buf_reset(out);
    if (smar_buf_reserve(out, n + SMAR_TAG_BYTES))
        return SMAR_E_NOMEM;
    smar_aead_seal(ck->suite, out->data, p, n, aad, sizeof aad, nonce, ck->key);
    out->len = n + SMAR_TAG_BYTES;
    return SMAR_OK;
}

/* One chunk's stored bytes, as the format (and for format 2 the chunk's FZ_CHUNK_* flags)
 * say. */
static int seal_one(smar_chunker *ck, const smar_chunk_pos *pos, const fz_chunk *c, uint8_t flags,
                    smar_buf *stored, smar_err *e)
{
    bool as_is = ck->format == SMAR_FORMAT_V2 && (flags & FZ_CHUNK_SEALED_PLAIN);
    size_t max = as_is ? smar_sealed_max(ck->chunk_size) : ck->chunk_size;
    if (c->len == 0 || c->len > max)
        return smar_fail(e, SMAR_E_INVALID, "chunk %llu: %zu bytes",
                         (unsigned long long)pos->number, c->len);
    if (as_is)
        return seal_plain_as_is(ck, pos, c->raw, c->len, stored)
                   ? smar_fail(e, SMAR_E_NOMEM, "out of memory")
                   : SMAR_OK;
    uint64_t base = ck->format == SMAR_FORMAT_V2 && (flags & FZ_CHUNK_PAD) ? 0 : SMAR_NO_PADDING;
    return smar_chunk_seal_padded(ck, pos, base, c->raw, c->len, stored, e);
}

static int seal_chunks(smar_buf *out, smar_buf *table, smar_chunker *ck, const fz_chunk *chunks,
                       size_t n, const fz_build_opts *o, smar_err *e)
{
    smar_buf stored = {0};
    uint32_t seq[256] = {0};
    int rc = SMAR_OK;
    for (size_t i = 0; i < n && rc == SMAR_OK; i++) {
        smar_table_entry t = {0};
        uint8_t enc[SMAR_TABLE_ENTRY_BYTES];
        smar_chunk_pos pos = {i, chunks[i].section,
                              is_last_of_section(chunks, n, i) ? SMAR_CHUNK_LAST : 0u,
                              seq[chunks[i].section]++};
        uint8_t flags = o->chunk_flags ? o->chunk_flags[i] : 0;
        if ((rc = seal_one(ck, &pos, &chunks[i], flags, &stored, e)))
            break;
        if ((long)i == o->corrupt) {
            if (!o->corrupt_rehash)
                smar_hash(t.hash, NULL, stored.data, stored.len);
            stored.data[stored.len / 2] ^= 0x40;
            if (o->corrupt_rehash)
                smar_hash(t.hash, NULL, stored.data, stored.len);
        } else {
            smar_hash(t.hash, NULL, stored.data, stored.len);
        }
        t.offset = out->len;
        t.stored_len = (uint32_t)stored.len;
        t.section = pos.section;
        t.flags = pos.flags;
        smar_table_entry_encode(enc, &t);
        if (smar_buf_append(out, stored.data, stored.len) ||
            smar_buf_append(table, enc, sizeof enc))
            rc = smar_fail(e, SMAR_E_NOMEM, "out of memory");
    }
    smar_buf_free(&stored);
    return rc;
}

static int finish(smar_buf *out, const smar_buf *table, const smar_header *h, const uint8_t *header,
                  size_t n, const smar_keys *keys, const fz_build_opts *o, smar_err *e)
{
    smar_trailer t = {0};
    uint8_t enc[SMAR_TRAILER_BYTES], body[SMAR_HASH_BYTES];
    t.table_offset = out->len;
    t.chunk_count = (uint32_t)n;
    t.flags = o->signer ? SMAR_TRAILER_SIGNED : 0;
    memcpy(t.archive_id, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    t.header_len = h->header_len;
    t.version_major = SMAR_FORMAT_V1;
    t.version_minor = 0;
    smar_body_hash(body, &t, header, h->header_len, table->data, table->len);
    smar_root_mac(t.root_mac, keys->root_mac, body);
    if (o->signer)
        smar_signkey_public(o->signer, t.signer);
    smar_root_hash(t.root_hash, body, &t);
    if (o->signer) {
        uint8_t msg[SMAR_SIGNED_MSG_BYTES];
        smar_signed_message(msg, &t);
        if (smar_signkey_sign(o->signer, msg, sizeof msg, t.signature) != SMAR_OK)
            return smar_fail(e, SMAR_E_INVALID, "signing failed");
    }
    smar_trailer_encode(enc, &t);
    if (smar_buf_append(out, table->data, table->len) || smar_buf_append(out, enc, sizeof enc))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

static int build_v1(smar_buf *out, smar_keyring *kr, const fz_chunk *chunks, size_t n,
                    const fz_build_opts *o, smar_err *e)
{
    uint8_t dek[SMAR_DEK_BYTES];
    smar_header h;
    smar_buf table = {0};
    smar_chunker ck;
    int rc;
    int suite = o->suite ? o->suite : SMAR_SUITE_XCHACHA20POLY1305;
    uint32_t chunk_size = o->chunk_size ? o->chunk_size : SMAR_CHUNK_SIZE_MIN;
    memset(dek, FZ_DEK_BYTE, sizeof dek);
    smar_keys *keys = smar_keys_derive(dek);
    if (!keys)
        return smar_fail(e, SMAR_E_NOMEM, "cannot allocate locked memory");
    if ((rc = make_header(&h, kr, dek, suite, chunk_size, o->snapshot, e)))
        goto done;
    if ((rc = smar_header_encode(&h, keys->header_mac, out))) {
        rc = smar_fail(e, rc, "out of memory");
        goto done;
    }
    if (smar_chunker_init(&ck, suite, 1, chunk_size, keys->chunk, h.archive_id)) {
        rc = smar_fail(e, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    rc = seal_chunks(out, &table, &ck, chunks, n, o, e);
    smar_chunker_free(&ck);
    if (rc == SMAR_OK) {
        /* the header may have moved when out grew: hash it where it is now */
        rc = finish(out, &table, &h, out->data, n, keys, o, e);
    }
done:
    smar_buf_free(&table);
    smar_keys_free(keys);
    return rc;
}

/* ---- format 2 ------------------------------------------------------------------------ */

/* The slot area: optionally a slot of a provider no reader knows (skipped at unlock), then
 * the keyring's slot, as writer.c's make_slots makes it. */
static int make_slot_area(smar_buf *area, smar_keyring *kr, const uint8_t *dek,
                          const uint8_t archive_id[SMAR_ARCHIVE_ID_BYTES], bool foreign,
                          smar_err *e)
{
    static const uint8_t foreign_blob[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
    uint8_t wrapped[SMAR_WRAPPED_MAX], aad[SMAR_SLOT2_AAD_MAX];
    smar_slot2 s[2];
    unsigned n = 0;
    uint32_t version, used;
    size_t wlen;
    memset(s, 0, sizeof s);
    if (foreign) {
        s[0].provider = 0xee;
        s[0].flags = 0x80;
        s[0].key_id_len = (uint8_t)strlen("elsewhere");
        memcpy(s[0].key_id, "elsewhere", s[0].key_id_len);
        s[0].version_kind = SMAR_VKIND_STRING;
        s[0].version_string_len = 3;
        memcpy(s[0].version_string, "v-9", 3);
        s[0].wrapped = foreign_blob;
        s[0].wrapped_len = sizeof foreign_blob;
        n = 1;
    }
    smar_slot2 *k = &s[n++];
    const char *id = smar_keyring_id(kr);
    int rc = smar_keyring_wrap_version(kr, &version, e);
    if (rc)
        return rc;
    k->provider = smar_keyring_provider_id(kr);
    k->key_id_len = (uint8_t)strlen(id);
    memcpy(k->key_id, id, k->key_id_len);
    k->version_kind = version ? SMAR_VKIND_NUMBER : SMAR_VKIND_NONE;
    k->version_number = version;
    size_t aadlen = smar_slot2_aad(aad, archive_id, k);
    if ((rc = smar_keyring_wrap(kr, aad, aadlen, dek, wrapped, &wlen, &used, e)))
        return rc;
    k->wrapped = wrapped;
    k->wrapped_len = (uint32_t)wlen;
    rc = smar_slot_area_encode(s, n, area, e);
    sodium_memzero(wrapped, sizeof wrapped);
    return rc;
}

/* Table, slot area and trailer: writer.c's seal_trailer and write_table_and_trailer. */
static int finish_v2(smar_buf *out, const smar_buf *table, const smar_buf *slots,
                     const smar_header2 *h, size_t n, const smar_keys *keys, const fz_build_opts *o,
                     smar_err *e)
{
    smar_trailer t = {0};
    uint8_t enc[SMAR_TRAILER_BYTES], content[SMAR_HASH_BYTES];
    t.table_offset = out->len;
    t.chunk_count = (uint32_t)n;
    t.flags = o->signer ? SMAR_TRAILER_SIGNED : 0;
    memcpy(t.archive_id, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    t.header_len = h->header_len;
    t.slot_area_len = (uint32_t)slots->len;
    t.version_major = SMAR_FORMAT_V2;
    t.version_minor = h->version_minor;
    if (o->signer)
        smar_signkey_public(o->signer, t.signer);
    smar_trailer_encode(enc, &t);
    /* the header is the first header_len bytes of out, wherever out now is */
    smar_content_hash(content, enc, out->data, h->header_len, table->data, table->len);
    if (o->signer) {
        uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
        smar_signed2_message(msg, t.archive_id, content);
        if (smar_signkey_sign(o->signer, msg, sizeof msg, t.signature) != SMAR_OK)
            return smar_fail(e, SMAR_E_INVALID, "signing failed");
    }
    smar_root2_mac(t.root_mac, keys->root_mac, content, enc, slots->data, slots->len);
    smar_trailer_encode(enc, &t);
    smar_root2_hash(t.root_hash, content, enc, slots->data, slots->len);
    smar_trailer_encode(enc, &t);
    if (smar_buf_append(out, table->data, table->len) ||
        smar_buf_append(out, slots->data, slots->len) || smar_buf_append(out, enc, sizeof enc))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

static void make_header2(smar_header2 *h, const uint8_t *dek, int suite, uint32_t chunk_size,
                         const fz_build_opts *o)
{
    int64_t snapshot = o->snapshot;
    memset(h, 0, sizeof *h);
    h->version_major = SMAR_FORMAT_V2;
    h->version_minor = 0;
    h->header_len = SMAR_HEADER2_BYTES;
    h->suite = (uint16_t)suite;
    h->compression = SMAR_COMPRESSION_ZSTD;
    h->chunk_size = chunk_size;
    memcpy(h->archive_id, FZ_ARCHIVE_ID, SMAR_ARCHIVE_ID_BYTES);
    h->created = FZ_TIME / 1000000000; /* format 2 keeps seconds */
    h->snapshot = snapshot ? snapshot : FZ_TIME;
    smar_dek_commit(h->dek_commit, dek, h->archive_id);
    if (o->base_count > 0 && o->base_count <= SMAR_BASES_MAX) { /* format 2.1 */
        h->version_minor = SMAR_HEADER2_MINOR_INCREMENTAL;
        h->base_count = (uint16_t)o->base_count;
        memcpy(h->bases, o->bases, o->base_count * sizeof *h->bases);
        h->header_len = smar_header2_len(o->base_count);
    }
}

static int build_v2(smar_buf *out, smar_keyring *kr, const fz_chunk *chunks, size_t n,
                    const fz_build_opts *o, smar_err *e)
{
    uint8_t dek[SMAR_DEK_BYTES];
    smar_header2 h;
    smar_buf table = {0}, slots = {0};
    smar_chunker ck;
    int rc;
    int suite = o->suite ? o->suite : SMAR_SUITE_XCHACHA20POLY1305;
    uint32_t chunk_size = o->chunk_size ? o->chunk_size : SMAR_CHUNK_SIZE_MIN;
    memset(dek, FZ_DEK_BYTE, sizeof dek);
    smar_keys *keys = smar_keys_derive_format(SMAR_FORMAT_V2, dek);
    if (!keys)
        return smar_fail(e, SMAR_E_NOMEM, "cannot allocate locked memory");
    make_header2(&h, dek, suite, chunk_size, o);
    if ((rc = make_slot_area(&slots, kr, dek, h.archive_id, o->foreign_slot, e)))
        goto done;
    if (smar_header2_encode(&h, out)) {
        rc = smar_fail(e, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    if (smar_chunker_init_format(&ck, SMAR_FORMAT_V2, suite, 1, chunk_size, keys->chunk,
                                 h.archive_id)) {
        rc = smar_fail(e, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    rc = seal_chunks(out, &table, &ck, chunks, n, o, e);
    smar_chunker_free(&ck);
    if (rc == SMAR_OK)
        rc = finish_v2(out, &table, &slots, &h, n, keys, o, e);
done:
    smar_buf_free(&table);
    smar_buf_free(&slots);
    smar_keys_free(keys);
    return rc;
}

int fz_build_archive(smar_buf *out, smar_keyring *kr, const fz_chunk *chunks, size_t n,
                     const fz_build_opts *o, smar_err *e)
{
    static const fz_build_opts defaults = FZ_BUILD_OPTS_INIT;
    if (!o)
        o = &defaults;
    if (n == 0 || n > SMAR_MAX_CHUNKS)
        return smar_fail(e, SMAR_E_INVALID, "%zu chunks", n);
    smar_buf_reset(out);
    return o->format == SMAR_FORMAT_V2 ? build_v2(out, kr, chunks, n, o, e)
                                       : build_v1(out, kr, chunks, n, o, e);
}
