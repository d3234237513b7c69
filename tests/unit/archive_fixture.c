/*
 * archive_fixture.c - see archive_fixture.h.
 */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyring_internal.h" /* smar_signkey_sign */
#include "reader_internal.h"
#include "root2.h"
#include "table.h"

unsigned fx_writer_threads;

int fx_mem_write(void *opaque, const void *buf, size_t len)
{
    mem_archive *m = opaque;
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2;
        uint8_t *p = realloc(m->data, cap);
        if (!p)
            return -1;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

typedef struct mem_src {
    uint8_t *data;
    size_t len;
} mem_src;

atomic_ullong fx_bytes_read;

static smar_io_result mem_read_at(void *opaque, void *buf, size_t len, uint64_t offset,
                                  char err[SMAR_IO_ERROR_MAX])
{
    (void)err;
    mem_src *m = opaque;
    if (offset > m->len || len > m->len - offset)
        return SMAR_IO_FAILED;
    memcpy(buf, m->data + offset, len);
    atomic_fetch_add(&fx_bytes_read, len);
    return SMAR_IO_OK;
}

static void mem_close(void *opaque)
{
    mem_src *m = opaque;
    free(m->data);
    free(m);
}

int fx_open_mem(smar_reader **r, const uint8_t *data, size_t len)
{
    mem_src *m = calloc(1, sizeof *m);
    m->data = malloc(len ? len : 1);
    memcpy(m->data, data, len);
    m->len = len;
    smar_source src = {SMAR_SOURCE_VERSION, m, len, mem_read_at, mem_close};
    if (smar_reader_new(r) != SMAR_OK) {
        mem_close(m);
        return SMAR_E_NOMEM;
    }
    int rc = smar_reader_open_source(*r, &src, "mem");
    if (rc != SMAR_OK)
        mem_close(m);
    return rc;
}

const char *fx_secret_json(char *buf, size_t cap, size_t i)
{
    snprintf(
        buf, cap,
        "{\"id\":\"00000000-0000-4000-8000-%012zx\",\"name\":\"secret-%zu\","
        "\"secret_type\":\"arbitrary\",\"secret_group_id\":\"default\","
        "\"labels\":[\"l%zu\"],\"created_at\":\"2026-01-01T00:00:00Z\","
        "\"custom_metadata\":{\"n\":12345678901234567890},"
        "\"payload\":\"value-%zu-2\",\"versions\":["
        "{\"id\":\"v1-%zu\",\"created_at\":\"2026-01-01T00:00:00Z\",\"payload\":\"value-%zu-1\"},"
        "{\"id\":\"v2-%zu\",\"created_at\":\"2026-02-01T00:00:00.5Z\",\"payload\":\"value-%zu-2\"}]"
        "}",
        i, i, i % 7, i, i, i, i, i);
    return buf;
}

int fx_make_archive(mem_archive *out, size_t n, smar_keyring *const *keys, size_t nkeys,
                    const smar_signkey *signer, uint32_t chunk_size)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    char buf[1024];
    int rc;
    memset(out, 0, sizeof *out);
    o.snapshot_time = 1780000000000000000LL;
    o.created_time = 1780000000000000000LL;
    o.chunk_size = chunk_size;
    o.threads = fx_writer_threads;
    if ((rc = smar_writer_new(&w)))
        return rc;
    for (size_t k = 0; k < nkeys && !rc; k++)
        rc = smar_writer_add_key(w, keys[k]);
    if (!rc && signer)
        rc = smar_writer_set_signer(w, signer);
    if (!rc)
        rc = smar_writer_open_cb(w, &o, fx_mem_write, out);
    for (size_t i = 0; i < n && !rc; i++) {
        fx_secret_json(buf, sizeof buf, i);
        rc = smar_writer_add_secret(w, buf, strlen(buf));
    }
    const char *doc =
        "{\"instance\":{\"crn\":\"crn:v1:x\"},\"exported_at\":\"2026-11-20T02:00:00Z\"}";
    if (!rc)
        rc = smar_writer_set_document(w, doc, strlen(doc));
    if (!rc)
        rc = smar_writer_finish(w);
    if (rc)
        fprintf(stderr, "fx_make_archive: %s\n", smar_writer_error(w));
    smar_writer_free(w);
    return rc;
}

int fx_open_unlocked(smar_reader **r, const mem_archive *a, smar_keyring *key)
{
    int rc = fx_open_mem(r, a->data, a->len);
    if (rc)
        return rc;
    return smar_reader_unlock(*r, &key, 1);
}

int fx_v2_layout_of(fx_v2_layout *l, const mem_archive *a)
{
    /* from the raw trailer bytes: positions only, so a value this reader does not know
     * (an unknown flag, say) does not stop the surgery */
    if (a->len < SMAR_TRAILER_BYTES)
        return -1;
    const uint8_t *T = a->data + a->len - SMAR_TRAILER_BYTES;
    if (smar_load_u16(T + 200) != SMAR_FORMAT_V2)
        return -1;
    l->table_offset = (size_t)smar_load_u64(T);
    l->chunk_count = smar_load_u32(T + 8);
    l->header_len = smar_load_u32(T + 32);
    l->slots_len = smar_load_u32(T + 36);
    l->slots_offset = l->table_offset + l->chunk_count * SMAR_TABLE_ENTRY_BYTES;
    l->trailer_offset = a->len - SMAR_TRAILER_BYTES;
    return l->table_offset <= l->trailer_offset && l->header_len <= l->table_offset &&
                   l->slots_offset + l->slots_len == l->trailer_offset
               ? 0
               : -1;
}

/* The content hash of a as it stands (trailer bytes T as encoded in the file). */
static void content_of(const mem_archive *a, const fx_v2_layout *l, uint8_t out[32])
{
    smar_content_hash(out, a->data + l->trailer_offset, a->data, l->header_len,
                      a->data + l->table_offset, l->chunk_count * SMAR_TABLE_ENTRY_BYTES);
}

/* Trailer field offsets (format 2). */
enum { T_FLAGS = 12, T_ARCHIVE_ID = 16, T_ROOT = 40, T_MAC = 72, T_SIGNER = 104, T_SIG = 136 };

int fx_v2_reroot(mem_archive *a, const smar_signkey *signer, const uint8_t *rootmac_key)
{
    fx_v2_layout l;
    uint8_t content[SMAR_HASH_BYTES];
    if (fx_v2_layout_of(&l, a) != 0)
        return -1;
    uint8_t *T = a->data + l.trailer_offset;
    if (signer) { /* the signer's key is under the content: set it first */
        smar_store_u32(T + T_FLAGS, smar_load_u32(T + T_FLAGS) | SMAR_TRAILER_SIGNED);
        smar_signkey_public(signer, T + T_SIGNER);
    }
    content_of(a, &l, content);
    if (signer) {
        uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
        smar_signed2_message(msg, T + T_ARCHIVE_ID, content);
        if (smar_signkey_sign(signer, msg, sizeof msg, T + T_SIG) != SMAR_OK)
            return -1;
    }
    if (rootmac_key)
        smar_root2_mac(T + T_MAC, rootmac_key, content, T, a->data + l.slots_offset, l.slots_len);
    /* the root hash covers the root MAC and the signature as they now stand */
    uint8_t root[SMAR_HASH_BYTES];
    smar_root2_hash(root, content, T, a->data + l.slots_offset, l.slots_len);
    memcpy(T + T_ROOT, root, sizeof root);
    return 0;
}

int fx_v2_rootmac_key(const mem_archive *a, smar_keyring *key, uint8_t out[32])
{
    smar_reader *r;
    int rc = fx_open_unlocked(&r, a, key);
    if (rc == SMAR_OK)
        memcpy(out, r->keys->root_mac, 32);
    smar_reader_free(r);
    return rc;
}
