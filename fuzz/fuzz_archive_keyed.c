/*
 * fuzz_archive_keyed.c - past authentication: the fuzzer's bytes are the plaintext of an
 * archive's chunks, sealed into an authentic archive with the fixed test DEK
 * (archive_builder.h), then unlocked with the test keyring and read the way the tools
 * read: snapshot, document, every record (manifest parser), payloads, renderings, lookups
 * by id and name (index and meta parsers), keyed verify, and a series over it.
 *
 * Input layout (seeds from fuzz/make_seeds.c turn real writer output into it):
 *   mode:u8 corrupt:u8 then chunks, each  section:u8 len:u16le data[len + 1]
 *   section: 1 payload, 2 manifest, 3 index, 4 meta (its low 2 bits, plus 1); format 2:
 *            bit 6: data is the chunk's whole sealed plaintext (u32 body_len || body ||
 *                   padding), sealed as it is: the reader's framing checks see it
 *            bit 5: pad the chunk as a group's last (writers pad those)
 *   mode bit 0: fix the meta section's chunk counts to the real ones (else unlock would
 *               refuse most inputs before the interesting parsers run)
 *        bit 1: sign the archive;  bit 2: flip a bit in chunk `corrupt % count`
 *        bit 3: ... and fix its table hash (only the AEAD catches it)
 *        bit 4: AES-256-GCM when the machine has it;  bit 5: verify on 3 threads
 *        bit 6: the first chunk whose section byte has bit 7 set starts a second archive
 *               (a later snapshot, never corrupted); the two then make a series
 *        bit 7: format 2 (what writers write now), else format 1 (still read)
 *   corrupt bit 7, format 2: an unknown provider's key slot comes before the real one
 */
#include <string.h>

#include "archive_builder.h"
#include "common.h"
#include "crypto.h"
#include "format.h"

#define MAX_CHUNKS         64
#define META_COUNTS_OFFSET 44 /* format u32, 5 x u64, then payload/manifest/index u32 */

static int g_problems;

static void on_problem(const smar_problem *p, void *payload)
{
    (void)payload;
    FZ_CHECK(p->detail != NULL);
    g_problems++;
}

static smar_reader *open_unlocked(const smar_buf *archive, fz_mem *mem)
{
    smar_keyring *kr = fz_keyring();
    smar_reader *r;
    mem->p = archive->data;
    mem->n = archive->len;
    smar_source src = fz_mem_source(mem);
    if (smar_reader_new(&r) != SMAR_OK)
        return NULL;
    int rc = smar_reader_open_source(r, &src, "fuzz");
    FZ_CHECK(rc == SMAR_OK); /* the builder's structure is always valid */
    if (smar_reader_unlock(r, &kr, 1) != SMAR_OK) {
        smar_reader_free(r);
        return NULL;
    }
    return r;
}

/* The chunks of one archive in the input. */
typedef struct chunk_list {
    fz_chunk c[MAX_CHUNKS];
    uint8_t flags[MAX_CHUNKS]; /* FZ_CHUNK_* (format 2) */
    size_t n;
    uint32_t counts[5];
} chunk_list;

/* Fix the meta section's chunk counts (in its first chunk) to the list's real ones. */
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

static void verify_keyed(const smar_buf *archive, uint8_t mode, long corrupt)
{
    fz_mem mem;
    smar_reader *r = open_unlocked(archive, &mem);
    if (!r)
        return;
    smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    smar_signkey_public(fz_signkey(), pk);
    if (mode & 32)
        smar_reader_set_threads(r, 3); /* the parallel scan */
    int rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, (mode & 2) ? pk : NULL, &res, on_problem,
                                NULL, NULL);
    if (rc == SMAR_OK)
        FZ_CHECK(res.chunks_bad == 0 && res.root_ok && res.secrets_bad == 0);
    if (corrupt >= 0)
        FZ_CHECK(rc != SMAR_OK);
    smar_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static chunk_list lists[2];
    uint8_t *copy;
    fz_init();
    if (size < 2 || !(copy = malloc(size)))
        return 0;
    memcpy(copy, data, size);
    uint8_t mode = copy[0], corrupt = copy[1];
    size_t pos = 2, which = 0;
    memset(lists, 0, sizeof lists);
    while (pos + 3 <= size) {
        if ((mode & 64) && (copy[pos] & 0x80) && which == 0)
            which = 1; /* the second archive of a series starts here */
        chunk_list *l = &lists[which];
        if (l->n == MAX_CHUNKS)
            break;
        uint8_t section = (uint8_t)(copy[pos] % 4 + 1);
        size_t len = (size_t)smar_load_u16(copy + pos + 1) + 1;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (len == 0)
            break;
        l->c[l->n].section = section;
        l->flags[l->n] = (uint8_t)(((copy[pos - 3] & 0x40) ? FZ_CHUNK_SEALED_PLAIN : 0) |
                                   ((copy[pos - 3] & 0x20) ? FZ_CHUNK_PAD : 0));
        l->c[l->n].raw = copy + pos;
        l->c[l->n].len = len;
        l->counts[section]++;
        l->n++;
        pos += len;
    }
    if (lists[0].counts[SMAR_SECTION_META] == 0) { /* the reader requires a meta section */
        free(copy);
        return 0;
    }
    bool two = lists[1].counts[SMAR_SECTION_META] > 0;
    if (mode & 1) {
        fix_meta_counts(&lists[0], copy);
        fix_meta_counts(&lists[1], copy);
    }
    int format = (mode & 128) ? SMAR_FORMAT_V2 : SMAR_FORMAT_V1;
    fz_build_opts o = FZ_BUILD_OPTS_INIT;
    o.format = format;
    o.chunk_flags = lists[0].flags;
    o.foreign_slot = (corrupt & 128) != 0;
    o.signer = (mode & 2) ? fz_signkey() : NULL;
    o.corrupt = (mode & 4) ? (long)(corrupt % lists[0].n) : -1;
    o.corrupt_rehash = (mode & 8) != 0;
    o.suite = (mode & 16) && smar_suite_available(SMAR_SUITE_AES256GCM)
                  ? SMAR_SUITE_AES256GCM
                  : SMAR_SUITE_XCHACHA20POLY1305;
    smar_buf archive = {0}, second = {0};
    smar_err e = {0};
    FZ_CHECK(fz_build_archive(&archive, fz_keyring(), lists[0].c, lists[0].n, &o, &e) == SMAR_OK);
    if (two) { /* a later snapshot (1 to 8 days), sound */
        fz_build_opts o2 = FZ_BUILD_OPTS_INIT;
        o2.format = format;
        o2.chunk_flags = lists[1].flags;
        o2.snapshot = FZ_TIME + (int64_t)(1 + corrupt % 8) * 86400 * 1000000000LL;
        FZ_CHECK(fz_build_archive(&second, fz_keyring(), lists[1].c, lists[1].n, &o2, &e) ==
                 SMAR_OK);
    }

    fz_mem mem, mem2;
    smar_reader *r = open_unlocked(&archive, &mem);
    if (r) {
        fz_exercise_unlocked(r);
        smar_reader_free(r);
    }
    verify_keyed(&archive, mode, o.corrupt);
    smar_reader *rs[2] = {open_unlocked(&archive, &mem),
                          two ? open_unlocked(&second, &mem2) : NULL};
    if (rs[0] && (!two || rs[1]))
        fz_exercise_series(rs, two ? 2 : 1);
    smar_reader_free(rs[0]);
    smar_reader_free(rs[1]);
    smar_buf_free(&archive);
    smar_buf_free(&second);
    free(copy);
    return 0;
}
