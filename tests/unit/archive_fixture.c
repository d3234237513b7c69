/*
 * archive_fixture.c - see archive_fixture.h.
 */
#include "archive_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
