/*
 * make_seeds.c - writes the seed corpora of the fuzz harnesses that need real files:
 * archives made by the real writer (and their pieces: header, slot area, trailer + table,
 * manifest records, meta section, the plaintext chunk layout of fuzz_archive_keyed), key
 * files, incremental archives against the committed vector incr-base (fuzz_archive_incr),
 * and instance exports in every layout (JSON, JSONL, the "@path" directory form of
 * fuzz_export_dir, tar, tar.gz, tar.zst and zip).
 *
 *   fuzz-make-seeds fuzz/corpus      (then commit what changed)
 *
 * The writer writes format 2: its archive seeds are named v2-*. The v1-* seeds were made
 * by the format 1 writer and are kept as they are (readers read format 1 forever; nothing
 * writes it any more).
 *
 * libsodium's random generator is replaced by one that returns only FZ_DEK_BYTE, so the
 * writer's data key is the fixed key of archive_builder.h: the index keys and payload
 * hashes inside the seeds of fuzz_archive_keyed stay valid when it reseals them. Never do
 * this outside a seed generator. Key files still carry the current time.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "archive_builder.h"
#include "common.h"
#include "keyfile.h"
#include "reader_internal.h"

static const char *g_out;

/* ---- a random generator that is not random -------------------------------------------- */

static const char *fixed_name(void)
{
    return "smar-fuzz-seeds";
}
static uint32_t fixed_random(void)
{
    return 0x5a5a5a5au;
}
static void fixed_buf(void *buf, size_t n)
{
    memset(buf, FZ_DEK_BYTE, n);
}
static uint32_t fixed_uniform(uint32_t upper)
{
    return upper > 1 ? FZ_DEK_BYTE % upper : 0;
}
static randombytes_implementation fixed_rng = {fixed_name,    fixed_random, NULL,
                                               fixed_uniform, fixed_buf,    NULL};

/* ---- output --------------------------------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "fuzz-make-seeds: %s\n", what);
    exit(1);
}

static const char *out_path(const char *corpus, const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_out, corpus);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", g_out, corpus, name);
    return path;
}

static void put(const char *corpus, const char *name, const void *p, size_t n)
{
    if (fz_write_file(out_path(corpus, name), p, n, 0644) != 0)
        die(strerror(errno));
    printf("%-16s %-28s %7zu bytes\n", corpus, name, n);
}

/* ---- secrets -------------------------------------------------------------------------- */

static const char *const g_secrets[] = {
    "{\"id\":\"0b5f6d2e-1c1a-4f3e-9a55-1f0f3a6b7c01\",\"name\":\"db-password\","
    "\"secret_type\":\"username_password\",\"secret_group_id\":\"default\","
    "\"labels\":[\"prod\",\"db\"],\"created_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-03-01T10:00:00.123Z\",\"username\":\"app\",\"password\":"
    "\"s3cr\\u00e9t\","
    "\"versions\":[{\"id\":\"v1-db\",\"created_at\":\"2026-01-01T00:00:00Z\",\"username\":\"app\","
    "\"password\":\"old\"},{\"id\":\"v2-db\",\"secret_id\":\"0b5f6d2e-1c1a-4f3e-9a55-"
    "1f0f3a6b7c01\","
    "\"created_at\":\"2026-03-01T10:00:00.123Z\",\"username\":\"app\",\"password\":"
    "\"s3cr\\u00e9t\"}]}",

    "{\"id\":\"arb-1\",\"name\":\"app-config\",\"secret_type\":\"arbitrary\","
    "\"secret_group_id\":\"g-payments\",\"custom_metadata\":{\"n\":12345678901234567890,"
    "\"nested\":{\"list\":[1,\"two\",3.50,null,true,false,[],{}]}},"
    "\"created_at\":\"2026-02-28T09:50:38Z\",\"payload\":\"line1\\nline2\","
    "\"versions\":[{\"id\":\"a1\",\"created_at\":\"2026-02-28T09:50:38Z\",\"payload\":"
    "\"line1\\nline2\"}]}",

    "{\"id\":\"kv-1\",\"name\":\"flags\",\"secret_type\":\"kv\",\"data\":{\"a\":\"1\",\"b\":[true]}"
    ","
    "\"created_at\":\"2025-12-31T23:59:59.999999999+01:00\",\"versions\":[]}",

    "{\"id\":\"cert-1\",\"name\":\"tls\",\"secret_type\":\"imported_cert\","
    "\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\","
    "\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\","
    "\"expiration_date\":\"2027-01-01T00:00:00Z\",\"created_at\":\"2026-05-05T05:05:05Z\"}",

    "{\"id\":\"future-1\",\"secret_type\":\"quantum_key\",\"entangled\":\"\\ud83d\\ude00\","
    "\"description\":\"an unknown type keeps unknown members as payload\","
    "\"versions\":[{\"id\":\"q1\",\"created_at\":\"2026-06-01T00:00:00Z\",\"qubits\":[0,1]},"
    "{\"id\":\"q0\",\"created_at\":\"2026-05-01T00:00:00Z\",\"qubits\":[1,0],\"alias\":"
    "\"previous\"}]}",

    "{\"id\":\"iam-1\",\"name\":\"ci\",\"secret_type\":\"iam_credentials\",\"api_key\":null,"
    "\"labels\":[],\"created_at\":\"2026-07-07T07:07:07Z\",\"versions\":[{\"id\":\"i1\","
    "\"created_at\":\"2026-07-07T07:07:07Z\",\"payload_available\":false}]}",
};
#define NSECRETS (sizeof g_secrets / sizeof g_secrets[0])

static const char g_document[] =
    "{\"instance\":{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/1:2::\","
    "\"region\":\"us-south\"},\"exported_at\":\"2026-11-20T02:00:00Z\","
    "\"secret_groups\":[{\"id\":\"g-payments\",\"name\":\"payments\"}],"
    "\"configurations\":[]}";

/* A bigger secret whose payload does not compress much, for multi-chunk archives. */
static char *big_secret(size_t i, size_t payload_bytes)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *payload = malloc(payload_bytes + 1);
    uint32_t x = (uint32_t)(i * 2654435761u + 1);
    for (size_t k = 0; k < payload_bytes; k++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        payload[k] = b64[x & 63];
    }
    payload[payload_bytes] = '\0';
    size_t cap = payload_bytes * 2 + 512;
    char *s = malloc(cap);
    snprintf(s, cap,
             "{\"id\":\"big-%04zu\",\"name\":\"big-%zu\",\"secret_type\":\"arbitrary\","
             "\"labels\":[\"l%zu\"],\"created_at\":\"2026-01-01T00:00:00Z\",\"payload\":\"%s\","
             "\"versions\":[{\"id\":\"b%zu-1\",\"created_at\":\"2026-01-01T00:00:00Z\","
             "\"payload\":\"%s\"}]}",
             i, i % 5, i % 3, payload, i, payload);
    free(payload);
    return s;
}

/* ---- archives ------------------------------------------------------------------------- */

/* fuzz_archive_keyed: mode bit 7 builds format 2; section byte bit 6: the data is the
 * whole sealed plaintext, bit 5: pad the chunk; corrupt bit 7: an unknown provider's slot. */
#define FORMAT2_MODE 0x80
#define SEALED_PLAIN 0x40
#define PAD_CHUNK    0x20
#define FOREIGN_SLOT 0x80

static int mem_write(void *opaque, const void *buf, size_t len)
{
    return smar_buf_append(opaque, buf, len) == SMAR_OK ? 0 : -1;
}

static void write_archive(smar_buf *out, smar_keyring *const *keys, size_t nkeys,
                          const smar_signkey *signer, const char *const *small, size_t nsmall,
                          size_t nbig)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.chunk_size = SMAR_CHUNK_SIZE_MIN;
    o.snapshot_time = o.created_time = 1780000000000000000LL;
    int rc = smar_writer_new(&w);
    for (size_t k = 0; k < nkeys && !rc; k++)
        rc = smar_writer_add_key(w, keys[k]);
    if (!rc && signer)
        rc = smar_writer_set_signer(w, signer);
    if (!rc)
        rc = smar_writer_open_cb(w, &o, mem_write, out);
    for (size_t i = 0; i < nsmall && !rc; i++)
        rc = smar_writer_add_secret(w, small[i], strlen(small[i]));
    for (size_t i = 0; i < nbig && !rc; i++) {
        char *s = big_secret(i, 240);
        rc = smar_writer_add_secret(w, s, strlen(s));
        free(s);
    }
    if (!rc)
        rc = smar_writer_set_document(w, g_document, strlen(g_document));
    if (!rc)
        rc = smar_writer_finish(w);
    if (rc)
        die(smar_writer_error(w));
    smar_writer_free(w);
}

/* The pieces of an archive, for the harnesses that parse one piece. */
static void split_archive(const char *name, const smar_buf *a, smar_keyring *kr, bool records)
{
    char file[128];
    smar_reader *r;
    fz_mem mem = {a->data, a->len};
    smar_source src = fz_mem_source(&mem);
    if (smar_reader_new(&r) || smar_reader_open_source(r, &src, name) ||
        smar_reader_unlock(r, &kr, 1))
        die(smar_reader_error(r));
    snprintf(file, sizeof file, "%s.smar", name);
    put("archive_open", file, a->data, a->len);
    snprintf(file, sizeof file, "%s.header", name);
    put("header", file, r->header_bytes, r->trailer.header_len);
    snprintf(file, sizeof file, "%s.slots", name);
    put("slots", file, r->slot_bytes, r->trailer.slot_area_len);
    snprintf(file, sizeof file, "%s.trailer", name);
    smar_buf tt = {0};
    smar_buf_append(&tt, a->data + a->len - SMAR_TRAILER_BYTES, SMAR_TRAILER_BYTES);
    smar_buf_append(&tt, r->table_bytes, (size_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES);
    put("trailer_table", file, tt.data, tt.len);
    smar_buf_free(&tt);

    /* every chunk's plaintext, in table order: the archive_keyed layout, and the streams */
    smar_buf keyed = {0}, stream[5] = {{0}};
    uint32_t seq[5] = {0};
    uint8_t mode = 1 | FORMAT2_MODE, corrupt = 0;
    smar_buf_append(&keyed, &mode, 1);
    smar_buf_append(&keyed, &corrupt, 1);
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        uint8_t section = r->table[i].section;
        const uint8_t *raw;
        size_t len;
        if (smar_reader_load_chunk(r, section, seq[section]++, &raw, &len) || len == 0 ||
            len > 65536)
            die("cannot read back a chunk");
        uint8_t head[3] = {(uint8_t)(section - 1), 0, 0};
        smar_store_u16(head + 1, (uint16_t)(len - 1));
        smar_buf_append(&keyed, head, 3);
        smar_buf_append(&keyed, raw, len);
        smar_buf_append(&stream[section], raw, len);
    }
    snprintf(file, sizeof file, "%s.chunks", name);
    put("archive_keyed", file, keyed.data, keyed.len);
    smar_buf_free(&keyed);
    snprintf(file, sizeof file, "%s.meta", name);
    put("meta", file, stream[SMAR_SECTION_META].data, stream[SMAR_SECTION_META].len);
    if (records) {
        const smar_buf *m = &stream[SMAR_SECTION_MANIFEST];
        size_t off = 0, k = 0;
        while (off + 4 <= m->len) {
            uint32_t n = smar_load_u32(m->data + off);
            snprintf(file, sizeof file, "%s.record%zu", name, k++);
            put("manifest_record", file, m->data + off + 4, n);
            off += 4 + (size_t)n;
        }
    }
    for (int s = 0; s < 5; s++)
        smar_buf_free(&stream[s]);
    smar_reader_free(r);
}

/* Append one chunk in the archive_keyed layout. With SEALED_PLAIN in bits, raw (a raw body:
 * payload or index) goes in framed as writers frame it, with 3 bytes of zero padding. */
static void append_chunk(smar_buf *keyed, uint8_t section_byte, const uint8_t *raw, size_t len)
{
    uint8_t head[3] = {section_byte, 0, 0};
    if (section_byte & SEALED_PLAIN) {
        uint8_t body_len[4] = {0}, pad[3] = {0};
        smar_store_u16(head + 1, (uint16_t)(len + 4 + 3 - 1));
        smar_store_u32(body_len, (uint32_t)len);
        smar_buf_append(keyed, head, 3);
        smar_buf_append(keyed, body_len, 4);
        smar_buf_append(keyed, raw, len);
        smar_buf_append(keyed, pad, 3);
        return;
    }
    smar_store_u16(head + 1, (uint16_t)(len - 1));
    smar_buf_append(keyed, head, 3);
    smar_buf_append(keyed, raw, len);
}

/* Append the archive_keyed layout of a's chunks (without the mode bytes). With mark, the
 * first chunk's section byte gets bit 7: it starts a second archive. bits go into every
 * section byte (SEALED_PLAIN only into payload and index chunks, whose bodies are raw). */
static void append_chunks_with(smar_buf *keyed, const smar_buf *a, smar_keyring *kr, bool mark,
                               uint8_t bits)
{
    smar_reader *r;
    fz_mem mem = {a->data, a->len};
    smar_source src = fz_mem_source(&mem);
    uint32_t seq[5] = {0};
    if (smar_reader_new(&r) || smar_reader_open_source(r, &src, "v") ||
        smar_reader_unlock(r, &kr, 1))
        die(smar_reader_error(r));
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        uint8_t section = r->table[i].section;
        const uint8_t *raw;
        size_t len;
        if (smar_reader_load_chunk(r, section, seq[section]++, &raw, &len) || len == 0 ||
            len > 65536)
            die("cannot read back a chunk");
        uint8_t b = bits;
        if (section == SMAR_SECTION_MANIFEST || section == SMAR_SECTION_META || len + 7 > 65536)
            b &= (uint8_t)~SEALED_PLAIN;
        append_chunk(keyed, (uint8_t)((section - 1) | (mark && i == 0 ? 0x80 : 0) | b), raw, len);
    }
    smar_reader_free(r);
}

static void append_chunks(smar_buf *keyed, const smar_buf *a, smar_keyring *kr, bool mark)
{
    append_chunks_with(keyed, a, kr, mark, 0);
}

/* archive_keyed variants of one chunk layout: signed, corrupted chunk, AES-GCM, threads;
 * format 2's own: padded chunks, sealed plaintexts given whole, an unknown provider's slot. */
static void keyed_variants(const smar_buf *a, smar_keyring *kr)
{
    static const uint8_t modes[][3] = {
        {1 | 2, 0, 0},      {1 | 4, 1, 0},     {1 | 4 | 8, 0, 0},    {1 | 16, 0, 0},
        {1 | 4 | 32, 2, 0}, {1, 0, PAD_CHUNK}, {1, 0, SEALED_PLAIN}, {1 | 2, FOREIGN_SLOT, 0}};
    static const char *const names[] = {"signed",       "corrupt-hash",    "corrupt-aead",
                                        "aesgcm",       "threads-corrupt", "padded",
                                        "sealed-plain", "foreign-slot"};
    for (size_t v = 0; v < SMAR_ARRAY_LEN(modes); v++) {
        smar_buf keyed = {0};
        char file[64];
        uint8_t head[2] = {(uint8_t)(modes[v][0] | FORMAT2_MODE), modes[v][1]};
        smar_buf_append(&keyed, head, 2);
        append_chunks_with(&keyed, a, kr, false, modes[v][2]);
        snprintf(file, sizeof file, "v2-small-%s.chunks", names[v]);
        put("archive_keyed", file, keyed.data, keyed.len);
        smar_buf_free(&keyed);
    }
}

/* Two snapshots for a series: all secrets, then (days later) three of them, one with a
 * new version. */
static void series_seed(smar_keyring *kr)
{
    static const char later[] =
        "{\"id\":\"arb-1\",\"name\":\"app-config\",\"secret_type\":\"arbitrary\","
        "\"created_at\":\"2026-02-28T09:50:38Z\",\"payload\":\"rotated\","
        "\"versions\":[{\"id\":\"a1\",\"created_at\":\"2026-02-28T09:50:38Z\"},"
        "{\"id\":\"a2\",\"created_at\":\"2026-05-29T00:00:00Z\",\"payload\":\"rotated\"}]}";
    const char *second[3] = {g_secrets[0], later, g_secrets[2]};
    smar_buf a = {0}, keyed = {0};
    uint8_t mode[2] = {1 | 64 | FORMAT2_MODE, 2};
    smar_buf_append(&keyed, mode, 2);
    write_archive(&a, &kr, 1, NULL, g_secrets, NSECRETS, 0);
    append_chunks(&keyed, &a, kr, false);
    smar_buf_reset(&a);
    write_archive(&a, &kr, 1, NULL, second, 3, 0);
    append_chunks(&keyed, &a, kr, true);
    put("archive_keyed", "v2-series.chunks", keyed.data, keyed.len);
    smar_buf_free(&keyed);
    smar_buf_free(&a);
}

static void archives(smar_keyring *kr, smar_keyring *kr2, smar_signkey *sk)
{
    smar_buf a = {0};
    smar_keyring *both[] = {kr, kr2};
    write_archive(&a, &kr, 1, NULL, g_secrets, 0, 0);
    split_archive("v2-empty", &a, kr, false);
    smar_buf_reset(&a);
    write_archive(&a, &kr, 1, NULL, g_secrets, NSECRETS, 0);
    split_archive("v2-small", &a, kr, true);
    keyed_variants(&a, kr);
    smar_buf_reset(&a);
    write_archive(&a, both, 2, sk, g_secrets, NSECRETS, 0);
    split_archive("v2-signed-2keys", &a, kr, false);
    smar_buf_reset(&a);
    write_archive(&a, &kr, 1, NULL, g_secrets, 2, 280);
    split_archive("v2-multichunk", &a, kr, false);
    smar_buf_reset(&a); /* one secret whose payload records are stored as zstd frames */
    write_archive(&a, &kr, 1, NULL, g_secrets, 0, 1);
    split_archive("v2-zstd-payload", &a, kr, true);
    smar_buf_free(&a);
    series_seed(kr);
}

/* ---- incremental archives (format 2.1) ------------------------------------------------- */

#define INCR_SNAPSHOT 1795140000000000000LL /* fuzz_archive_incr's snapshot: after incr-base */

static size_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(strerror(errno));
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* The committed base of fuzz_archive_incr, unlocked with its keyring. */
static smar_reader *open_incr_base(smar_buf *bytes, fz_mem *mem)
{
    static char buf[1 << 16];
    smar_keyring *kr;
    smar_reader *r;
    size_t n = slurp(SMAR_FUZZ_VECTORS "/keyring-a.json", buf, sizeof buf);
    const char *keypath = fz_tmp_path("keyring-a.json");
    if (fz_write_file(keypath, buf, n, 0600) != 0)
        die(strerror(errno));
    FILE *f = fopen(SMAR_FUZZ_VECTORS "/incr-base.smar", "rb");
    if (!f)
        die(strerror(errno));
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        smar_buf_append(bytes, buf, n);
    fclose(f);
    mem->p = bytes->data;
    mem->n = bytes->len;
    smar_source src = fz_mem_source(mem);
    if (smar_keyring_new(&kr) || smar_keyring_load(kr, keypath, NULL) || smar_reader_new(&r) ||
        smar_reader_open_source(r, &src, "incr-base.smar") || smar_reader_unlock(r, &kr, 1))
        die("cannot open spec/vectors/v2/incr-base.smar");
    smar_keyring_free(kr);
    return r;
}

/* An incremental archive of the secrets of a vector's .secrets.jsonl against incr-base, as
 * fuzz_archive_incr's input (mode byte, then every chunk's plaintext in table order). */
static void incr_seed(smar_keyring *kr, smar_reader *base, const char *secrets, const char *name,
                      uint8_t mode)
{
    static char text[1 << 16];
    static const char document[] =
        "{\"instance\":{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/0123:4567::\","
        "\"name\":\"vectors\"},\"exported_at\":\"2026-11-20T02:00:00Z\"}";
    smar_buf a = {0}, seed = {0};
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.chunk_size = SMAR_CHUNK_SIZE_MIN;
    o.snapshot_time = o.created_time = INCR_SNAPSHOT;
    slurp(secrets, text, sizeof text);
    int rc = smar_writer_new(&w);
    if (!rc)
        rc = smar_writer_add_key(w, kr);
    if (!rc)
        rc = smar_writer_open_cb(w, &o, mem_write, &a);
    if (!rc)
        rc = smar_writer_set_base(w, base);
    for (char *line = strtok(text, "\n"); line && !rc; line = strtok(NULL, "\n"))
        rc = smar_writer_add_secret(w, line, strlen(line));
    if (!rc)
        rc = smar_writer_set_document(w, document, strlen(document));
    if (!rc)
        rc = smar_writer_finish(w);
    if (rc)
        die(smar_writer_error(w));
    smar_writer_free(w);

    smar_reader *r;
    fz_mem mem = {a.data, a.len};
    smar_source src = fz_mem_source(&mem);
    if (smar_reader_new(&r) || smar_reader_open_source(r, &src, name) ||
        smar_reader_unlock(r, &kr, 1))
        die(smar_reader_error(r));
    uint32_t seq[5] = {0};
    smar_buf_append(&seed, &mode, 1);
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        uint8_t section = r->table[i].section;
        const uint8_t *raw;
        size_t len;
        if (smar_reader_load_chunk(r, section, seq[section]++, &raw, &len) || len == 0 ||
            len > 65536)
            die("cannot read back a chunk");
        uint8_t head[3] = {(uint8_t)(section - 1), 0, 0};
        smar_store_u16(head + 1, (uint16_t)(len - 1));
        smar_buf_append(&seed, head, 3);
        smar_buf_append(&seed, raw, len);
    }
    put("archive_incr", name, seed.data, seed.len);
    smar_reader_free(r);
    smar_buf_free(&seed);
    smar_buf_free(&a);
}

static void incremental(smar_keyring *kr)
{
    smar_buf bytes = {0};
    fz_mem mem;
    smar_reader *base = open_incr_base(&bytes, &mem);
    incr_seed(kr, base, SMAR_FUZZ_VECTORS "/incr-1.secrets.jsonl", "incr-1.chunks", 1);
    incr_seed(kr, base, SMAR_FUZZ_VECTORS "/incr-2.secrets.jsonl", "incr-2.chunks", 1);
    incr_seed(kr, base, SMAR_FUZZ_VECTORS "/incr-base.secrets.jsonl", "incr-same.chunks", 1);
    incr_seed(kr, base, SMAR_FUZZ_VECTORS "/incr-1.secrets.jsonl", "incr-1-nobase.chunks", 1 | 2);
    incr_seed(kr, base, SMAR_FUZZ_VECTORS "/incr-2.secrets.jsonl", "incr-2-phantom.chunks",
              1 | 4 | 8);
    smar_reader_free(base);
    smar_buf_free(&bytes);
}

/* ---- key files ------------------------------------------------------------------------ */

static void copy_file(const char *from, const char *corpus, const char *name)
{
    FILE *f = fopen(from, "rb");
    char buf[65536];
    if (!f)
        die(strerror(errno));
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    put(corpus, name, buf, n);
}

static void key_files(smar_keyring *kr, smar_signkey *sk)
{
    const char *tmp = fz_tmp_path("k");
    /* sealed files with the cheapest Argon2id the library accepts, so fuzzing can open them */
    smar_keyfile_set_pwhash_limits_for_tests(1, 8192);
    if (smar_keyring_save(kr, tmp, NULL, SMAR_SAVE_OVERWRITE))
        die(smar_keyring_error(kr));
    copy_file(tmp, "keyring", "keyring.json");
    if (smar_keyring_rotate(kr) || smar_keyring_save(kr, tmp, "x", SMAR_SAVE_OVERWRITE))
        die(smar_keyring_error(kr));
    copy_file(tmp, "keyring", "keyring-sealed-x.json");
    if (smar_signkey_save(sk, tmp, NULL, SMAR_SAVE_OVERWRITE))
        die(smar_signkey_error(sk));
    copy_file(tmp, "keyring", "signkey.json");
    if (smar_signkey_save(sk, tmp, "x", SMAR_SAVE_OVERWRITE))
        die(smar_signkey_error(sk));
    copy_file(tmp, "keyring", "signkey-sealed-x.json");
    if (smar_signkey_save_public(sk, tmp, SMAR_SAVE_OVERWRITE))
        die(smar_signkey_error(sk));
    copy_file(tmp, "keyring", "signkey-public.json");
    smar_keyfile_set_pwhash_limits_for_tests(0, 0);
}

/* ---- instance exports ----------------------------------------------------------------- */

static void exports_json(void)
{
    smar_buf b = {0};
    /* the document with "secrets" in the middle */
    smar_buf_append(&b, g_document, strlen(g_document) - 1);
    smar_buf_append_str(&b, ",\"secrets\":[\n");
    for (size_t i = 0; i < NSECRETS; i++) {
        smar_buf_append_str(&b, g_secrets[i]);
        smar_buf_append_str(&b, i + 1 < NSECRETS ? ",\n" : "\n");
    }
    smar_buf_append_str(&b, "],\"extra\":{\"k\":[1,2]}}\n");
    put("export_json", "document.json", b.data, b.len);
    smar_buf_reset(&b);
    smar_buf_append_str(&b, g_document);
    smar_buf_append_str(&b, "\n");
    for (size_t i = 0; i < 3; i++) {
        smar_buf_append_str(&b, g_secrets[i]);
        smar_buf_append_str(&b, "\n");
    }
    put("export_json", "export.jsonl", b.data, b.len);
    smar_buf_free(&b);
}

typedef struct tree_file {
    char path[96];
    const char *data;
    size_t len;
} tree_file;

/* The directory layout of the export: instance.json, secret_groups.json, secrets/<id>.json. */
static size_t export_tree(tree_file *f, size_t nsecrets, const char *prefix)
{
    static const char instance[] = "{\"instance\":{\"crn\":\"crn:v1:x\",\"region\":\"us-south\"},"
                                   "\"exported_at\":\"2026-11-20T02:00:00Z\"}\n";
    static const char groups[] =
        "{\"secret_groups\":[{\"id\":\"g-payments\",\"name\":\"payments\"}],\"total_count\":1}\n";
    static const char configs[] = "{\"configurations\":[],\"total_count\":0}\n";
    static const char *const ids[] = {
        "0b5f6d2e-1c1a-4f3e-9a55-1f0f3a6b7c01", "arb-1", "kv-1", "cert-1", "future-1", "iam-1"};
    size_t n = 0;
    snprintf(f[n].path, sizeof f[n].path, "%sinstance.json", prefix);
    f[n].data = instance;
    f[n++].len = strlen(instance);
    snprintf(f[n].path, sizeof f[n].path, "%ssecret_groups.json", prefix);
    f[n].data = groups;
    f[n++].len = strlen(groups);
    snprintf(f[n].path, sizeof f[n].path, "%sconfigurations.json", prefix);
    f[n].data = configs;
    f[n++].len = strlen(configs);
    for (size_t i = 0; i < nsecrets; i++) {
        snprintf(f[n].path, sizeof f[n].path, "%ssecrets/%s.json", prefix, ids[i]);
        f[n].data = g_secrets[i];
        f[n++].len = strlen(g_secrets[i]);
    }
    return n;
}

static void exports_dir(void)
{
    tree_file f[16];
    smar_buf b = {0};
    size_t n = export_tree(f, NSECRETS, "");
    for (size_t i = 0; i < n; i++) {
        smar_buf_printf(&b, "@%s\n", f[i].path);
        smar_buf_append(&b, f[i].data, f[i].len);
        smar_buf_append_str(&b, "\n");
    }
    put("export_dir", "full.txt", b.data, b.len);
    smar_buf_reset(&b);
    n = export_tree(f, 1, "top/");
    smar_buf_append_str(&b, "@top/\n");
    for (size_t i = 0; i < n; i++) {
        smar_buf_printf(&b, "@%s\n", f[i].path);
        smar_buf_append(&b, f[i].data, f[i].len);
        smar_buf_append_str(&b, "\n");
    }
    smar_buf_append_str(&b, "@top/.DS_Store\njunk\n");
    put("export_dir", "top-folder.txt", b.data, b.len);
    smar_buf_free(&b);
}

static la_ssize_t la_write(struct archive *a, void *opaque, const void *buf, size_t len)
{
    (void)a;
    return smar_buf_append(opaque, buf, len) == SMAR_OK ? (la_ssize_t)len : -1;
}

static void export_archive(const char *name, bool zip, int filter, const char *prefix,
                           size_t nsecrets)
{
    tree_file f[16];
    smar_buf b = {0};
    size_t n = export_tree(f, nsecrets, prefix);
    struct archive *a = archive_write_new();
    if (zip)
        archive_write_set_format_zip(a);
    else
        archive_write_set_format_pax_restricted(a);
    if (filter)
        archive_write_add_filter(a, filter);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &b, NULL, la_write, NULL) != ARCHIVE_OK)
        die(archive_error_string(a));
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, f[i].path);
        archive_entry_set_size(e, (la_int64_t)f[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_mtime(e, 1780000000, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, f[i].data, f[i].len) != (la_ssize_t)f[i].len)
            die(archive_error_string(a));
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        die(archive_error_string(a));
    archive_write_free(a);
    put("export_archive", name, b.data, b.len);
    smar_buf_free(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-make-seeds CORPUS_DIR (normally fuzz/corpus)\n");
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out, 0755);
    if (randombytes_set_implementation(&fixed_rng) != 0)
        die("cannot replace the random generator");
    fz_init();
    smar_keyring *kr, *kr2;
    smar_signkey *sk;
    if (smar_keyring_new(&kr) || smar_keyring_generate(kr, "seed-key") || smar_keyring_new(&kr2) ||
        smar_keyring_generate(kr2, "seed-key-dr") || smar_signkey_new(&sk) ||
        smar_signkey_generate(sk))
        die("cannot make keys");
    archives(kr, kr2, sk);
    incremental(kr);
    key_files(kr, sk);
    exports_json();
    exports_dir();
    export_archive("export.tar", false, ARCHIVE_FILTER_NONE, "", NSECRETS);
    export_archive("export-top.tar.gz", false, ARCHIVE_FILTER_GZIP, "snapshot/", 2);
    export_archive("export.tar.zst", false, ARCHIVE_FILTER_ZSTD, "", 1);
    export_archive("export.zip", true, 0, "", 3);
    for (size_t i = 0; i < NSECRETS; i++) {
        char name[32];
        snprintf(name, sizeof name, "secret%zu.json", i);
        put("writer_secret", name, g_secrets[i], strlen(g_secrets[i]));
    }
    smar_buf two = {0};
    smar_buf_append_str(&two, g_secrets[0]);
    smar_buf_append(&two, "\x1e", 1);
    smar_buf_append_str(&two, g_secrets[4]);
    smar_buf_append(&two, "\x1e\x1d", 2);
    smar_buf_append_str(&two, g_document);
    put("writer_secret", "two-and-document.bin", two.data, two.len);
    smar_buf_free(&two);
    smar_keyring_free(kr);
    smar_keyring_free(kr2);
    smar_signkey_free(sk);
    return 0;
}
