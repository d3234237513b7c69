/*
 * archive_builder.c - see archive_builder.h. Mirrors writer.c's open_common, make_slots,
 * chunk_sealed and write_table_and_trailer, without the writer's checks on content.
 */
#include "archive_builder.h"

#include "chunk.h"
#include "crypto.h"
#include "subkeys.h"
#include "header.h"
#include "keyring_internal.h"
#include "table.h"
#include "root.h"

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
        if (chunks[i].len == 0 || chunks[i].len > ck->chunk_size) {
            rc = smar_fail(e, SMAR_E_INVALID, "chunk %zu: %zu bytes", i, chunks[i].len);
            break;
        }
        if ((rc = smar_chunk_seal(ck, &pos, chunks[i].raw, chunks[i].len, &stored, e)))
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

int fz_build_archive(smar_buf *out, smar_keyring *kr, const fz_chunk *chunks, size_t n,
                     const fz_build_opts *o, smar_err *e)
{
    static const fz_build_opts defaults = FZ_BUILD_OPTS_INIT;
    uint8_t dek[SMAR_DEK_BYTES];
    smar_header h;
    smar_buf table = {0};
    smar_chunker ck;
    int rc;
    if (!o)
        o = &defaults;
    int suite = o->suite ? o->suite : SMAR_SUITE_XCHACHA20POLY1305;
    uint32_t chunk_size = o->chunk_size ? o->chunk_size : SMAR_CHUNK_SIZE_MIN;
    if (n == 0 || n > SMAR_MAX_CHUNKS)
        return smar_fail(e, SMAR_E_INVALID, "%zu chunks", n);
    smar_buf_reset(out);
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
