/*
 * fuzz_archive_incr.c - incremental archives (format 2.1, spec/FORMAT.md section 26) end to
 * end: the fuzzer's bytes are the plaintext of an incremental archive's chunks, sealed
 * (archive_builder.h, fixed test DEK) under a header that lists one fixed, valid base: the
 * committed vector spec/vectors/v2/incr-base.smar, opened once and unlocked with its
 * keyring (keyring-a.json). The archive is unlocked, the base attached, and every secret is
 * read the way the tools read (fz_exercise_unlocked: records, "same as in base" references
 * resolved against the base's manifest with their metadata patches, external payloads read
 * from the base's payload stream and checked with its key, renderings, lookups by id and
 * by name across the chain), then verified with the key. So type 3 records and present = 2
 * locators that point anywhere into the base are fuzzed past authentication.
 *
 * Input layout (seeds: fuzz-make-seeds writes incremental archives against incr-base with
 * the real writer, whose data key is then the fixed one):
 *   mode:u8 then chunks, each  section:u8 len:u16le data[len + 1]
 *   section: 1 payload, 2 manifest, 3 index, 4 meta (its low 2 bits, plus 1);
 *            bit 6: data is the chunk's whole sealed plaintext; bit 5: pad it
 *   mode bit 0: fix the meta section's chunk counts to the real ones
 *        bit 1: do not attach the base (every read needing it must fail cleanly)
 *        bit 2: list a second base that is never attached (references into it fail)
 *        bit 3: verify on 3 threads
 */
#include <string.h>

#include "archive_builder.h"
#include "common.h"

#ifndef SMAR_FUZZ_VECTORS
#define SMAR_FUZZ_VECTORS "spec/vectors/v2"
#endif

#define MAX_CHUNKS         64
#define META_COUNTS_OFFSET 44 /* format u32, 5 x u64, then payload/manifest/index u32 */
#define INCR_SNAPSHOT      1795140000000000000LL /* incr-1's: a day after the base's */

static struct {
    uint8_t *bytes;
    fz_mem mem;
    smar_reader *r;
    smar_base_ref ref;
} g_base;

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)len)) && fread(p, 1, (size_t)len, f) == (size_t)len)
        *n = (size_t)len;
    else {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* The base, opened and unlocked once per process (not an input problem when it fails). */
static void open_base(void)
{
    size_t n = 0, keylen = 0;
    smar_keyring *kr;
    if (g_base.r)
        return;
    uint8_t *key = read_all(SMAR_FUZZ_VECTORS "/keyring-a.json", &keylen);
    g_base.bytes = read_all(SMAR_FUZZ_VECTORS "/incr-base.smar", &n);
    if (!key || !g_base.bytes)
        FZ_FAIL("cannot read " SMAR_FUZZ_VECTORS "/incr-base.smar and keyring-a.json");
    const char *keypath = fz_tmp_path("keyring-a.json"); /* the loader wants mode 0600 */
    FZ_CHECK(fz_write_file(keypath, key, keylen, 0600) == 0);
    free(key);
    g_base.mem = (fz_mem){g_base.bytes, n};
    smar_source src = fz_mem_source(&g_base.mem);
    FZ_CHECK(smar_keyring_new(&kr) == SMAR_OK && smar_keyring_load(kr, keypath, NULL) == SMAR_OK);
    FZ_CHECK(smar_reader_new(&g_base.r) == SMAR_OK);
    FZ_CHECK(smar_reader_open_source(g_base.r, &src, "incr-base.smar") == SMAR_OK);
    FZ_CHECK(smar_reader_unlock(g_base.r, &kr, 1) == SMAR_OK);
    smar_keyring_free(kr);
    smar_archive_info ai = SMAR_ARCHIVE_INFO_INIT;
    FZ_CHECK(smar_reader_info(g_base.r, &ai) == SMAR_OK);
    memcpy(g_base.ref.archive_id, ai.archive_id, sizeof g_base.ref.archive_id);
    g_base.ref.snapshot = ai.snapshot;
    FZ_CHECK(smar_reader_content_digest(g_base.r, g_base.ref.content) == SMAR_OK);
}

typedef struct chunk_list {
    fz_chunk c[MAX_CHUNKS];
    uint8_t flags[MAX_CHUNKS];
    size_t n;
    uint32_t counts[5];
} chunk_list;

static void parse_chunks(uint8_t *copy, size_t size, chunk_list *l)
{
    size_t pos = 1;
    memset(l, 0, sizeof *l);
    while (pos + 3 <= size && l->n < MAX_CHUNKS) {
        uint8_t section = (uint8_t)(copy[pos] % 4 + 1);
        size_t len = (size_t)smar_load_u16(copy + pos + 1) + 1;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (len == 0)
            break;
        l->c[l->n] = (fz_chunk){section, copy + pos, len};
        l->flags[l->n] = (uint8_t)(((copy[pos - 3] & 0x40) ? FZ_CHUNK_SEALED_PLAIN : 0) |
                                   ((copy[pos - 3] & 0x20) ? FZ_CHUNK_PAD : 0));
        l->counts[section]++;
        l->n++;
        pos += len;
    }
}

static void fix_meta_counts(const chunk_list *l, uint8_t *copy)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->c[i].section != SMAR_SECTION_META)
            continue;
        if (l->c[i].len >= META_COUNTS_OFFSET + 12) {
            uint8_t *p = copy + (l->c[i].raw - copy) + META_COUNTS_OFFSET;
            for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_INDEX; s++)
                smar_store_u32(p + 4 * (s - 1), l->counts[s]);
        }
        return;
    }
}

static void on_problem(const smar_problem *p, void *payload)
{
    (void)payload;
    FZ_CHECK(p->detail != NULL);
}

/* The base is authentic and intact: nothing an archive referring to it says (a wrong place,
 * a wrong hash) may make it unusable for the others that share it (a series). */
static void check_base_usable(void)
{
    smar_secret *s = NULL;
    char *payload = NULL;
    size_t len = 0;
    FZ_CHECK(smar_reader_find_id(g_base.r, "incr-same", &s) == SMAR_OK);
    FZ_CHECK(smar_reader_read_payload(g_base.r, s, NULL, &payload, &len) == SMAR_OK);
    smar_secret_buffer_free(payload, len);
    smar_secret_free(s);
}

static void read_incremental(const smar_buf *archive, uint8_t mode, unsigned nbases)
{
    fz_mem mem = {archive->data, archive->len};
    smar_source src = fz_mem_source(&mem);
    smar_keyring *kr = fz_keyring();
    smar_reader *r;
    if (smar_reader_new(&r) != SMAR_OK)
        return;
    FZ_CHECK(smar_reader_open_source(r, &src, "fuzz-incr") == SMAR_OK);
    FZ_CHECK(smar_reader_base_count(r) == nbases);
    if (smar_reader_unlock(r, &kr, 1) != SMAR_OK) {
        smar_reader_free(r);
        return;
    }
    bool attached = !(mode & 2);
    if (attached)
        FZ_CHECK(smar_reader_attach_base(r, 0, g_base.r) == SMAR_OK);
    fz_exercise_unlocked(r);
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    if (mode & 8)
        smar_reader_set_threads(r, 3);
    int rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, on_problem, NULL, NULL);
    if (rc == SMAR_OK)
        FZ_CHECK(res.chunks_bad == 0 && res.root_ok && res.secrets_bad == 0);
    if (!attached) /* a keyed verify of an incremental archive needs its bases */
        FZ_CHECK(rc != SMAR_OK);
    smar_reader_free(r);
    check_base_usable();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static chunk_list list;
    uint8_t *copy;
    fz_init();
    open_base();
    if (size < 1 || !(copy = malloc(size)))
        return 0;
    memcpy(copy, data, size);
    uint8_t mode = copy[0];
    parse_chunks(copy, size, &list);
    if (list.counts[SMAR_SECTION_META] == 0) { /* the reader requires a meta section */
        free(copy);
        return 0;
    }
    if (mode & 1)
        fix_meta_counts(&list, copy);
    smar_base_ref bases[2] = {g_base.ref, g_base.ref};
    memcpy(bases[1].archive_id, "phantom-base-0001", sizeof bases[1].archive_id);
    bases[1].snapshot = g_base.ref.snapshot - 1;
    fz_build_opts o = FZ_BUILD_OPTS_INIT;
    o.format = SMAR_FORMAT_V2;
    o.chunk_flags = list.flags;
    o.snapshot = INCR_SNAPSHOT;
    o.base_count = (mode & 4) ? 2 : 1;
    o.bases = bases;
    smar_buf archive = {0};
    smar_err e = {0};
    FZ_CHECK(fz_build_archive(&archive, fz_keyring(), list.c, list.n, &o, &e) == SMAR_OK);
    read_incremental(&archive, mode, o.base_count);
    smar_buf_free(&archive);
    free(copy);
    return 0;
}
