/*
 * test_limits.c - every size and count limit of the format, declared over the limit by an
 * archive, and refused before anything of that size is allocated, with an error that says
 * which limit: the header length (format 2: 96..4096), the slot area's length and slot count
 * (readers 32, writers 16), key ids and version strings (u8 lengths, 255 allowed), the
 * wrapped key length (bounded by the slot area), chunk size, chunk count (and a chunk table
 * that cannot fit the file), a chunk's stored size, the AES-256-GCM cap (chunk count x chunk
 * size <= 2^36), format 1's header limits (readers read format 1 forever), the meta section's size
 * and index, a manifest record's length and counts, a record or payload longer than the rest of its
 * section, and a chunk whose zstd frame declares or holds more than a chunk (a decompression bomb).
 *
 * How "before allocation" is checked: each limit case runs under an allocation guard that
 * makes any single allocation of more than GUARD_MB fail. Every declared size here is far
 * above that (usually 4 GiB), so a reader that allocated what the file declares before
 * checking it would get NULL and report SMAR_E_NOMEM (or crash) instead of the limit
 * error these tests expect. The guard is:
 *  - under AddressSanitizer (the SMAR_SANITIZE build): __asan_default_options() below sets
 *    max_allocation_size_mb and allocator_may_return_null for this program, so ASan fails
 *    oversized allocations with NULL instead of aborting the test;
 *  - otherwise: RLIMIT_AS lowered to the current address space plus GUARD_MB while a case
 *    runs (and restored after), so malloc of a huge size fails.
 * test_guard_works checks that the guard really refuses a 1 GiB allocation. Archives whose
 * encrypted sections declare too much are built with fuzz/archive_builder.c (a fixed key,
 * any plaintext sealed as the writer would), included below.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include <zstd.h>

#include "archive_fixture.h"
#include "chunk.h"
#include "crypto.h"
#include "format.h"
#include "header.h"
#include "index.h"
#include "meta.h"
#include "manifest.h"
#include "table.h"
#include "root.h"
#include "slots.h"

/* The builder the fuzz harnesses use (a second translation unit would need a CMake
 * change; including it keeps this test self-contained). */
#include "../../fuzz/archive_builder.h"
#include "../../fuzz/archive_builder.c"

#define GUARD_MB 64

#if defined(__SANITIZE_ADDRESS__)
#define LIMITS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIMITS_ASAN 1
#endif
#endif

#ifdef LIMITS_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}
#endif

static struct rlimit g_saved_as;
static bool g_guarded;

static void guard_on(void)
{
#ifndef LIMITS_ASAN
    long pages = 0, page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    assert_int_equal(getrlimit(RLIMIT_AS, &g_saved_as), 0);
    struct rlimit r = g_saved_as;
    rlim_t want = (rlim_t)pages * (rlim_t)page + ((rlim_t)GUARD_MB << 20);
    if (r.rlim_max == RLIM_INFINITY || want < r.rlim_max)
        r.rlim_cur = want;
    assert_int_equal(setrlimit(RLIMIT_AS, &r), 0);
    g_guarded = true;
#endif
}

static void guard_off(void)
{
    if (g_guarded)
        assert_int_equal(setrlimit(RLIMIT_AS, &g_saved_as), 0);
    g_guarded = false;
}

static smar_keyring *g_key;

static int setup(void **state)
{
    (void)state;
    if (smar_init() || smar_keyring_new(&g_key) || smar_keyring_generate(g_key, "rk-limits"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    smar_keyring_free(g_key);
    return 0;
}

static void assert_msg(const char *msg, const char *needle)
{
    if (!msg || !strstr(msg, needle)) {
        print_error("message \"%s\" does not mention \"%s\"\n", msg ? msg : "(null)", needle);
        fail();
    }
}

static void test_guard_works(void **state)
{
    (void)state;
    void *(*volatile alloc)(size_t) = malloc;
    guard_on();
    void *p = alloc((size_t)1 << 30);
    guard_off();
    assert_null(p);
    free(p);
}

/* ---- structure: header, key slots, trailer, chunk table (no key needed) ------------- */

/* A small valid archive (two secrets, 64 KiB chunks). */
static void small_archive(mem_archive *a)
{
    assert_int_equal(fx_make_archive(a, 2, &g_key, 1, NULL, SMAR_CHUNK_SIZE_MIN), SMAR_OK);
}

/* Open a copy of a with bytes patched; returns the status, *msg the reader's message. */
static int open_patched(const mem_archive *a, size_t off, const void *bytes, size_t n,
                        char msg[SMAR_ERRMSG_MAX])
{
    uint8_t *copy = malloc(a->len);
    assert_non_null(copy);
    memcpy(copy, a->data, a->len);
    memcpy(copy + off, bytes, n);
    smar_reader *r;
    guard_on();
    int rc = fx_open_mem(&r, copy, a->len);
    guard_off();
    snprintf(msg, SMAR_ERRMSG_MAX, "%s", smar_reader_error(r));
    smar_reader_free(r);
    free(copy);
    return rc;
}

static int open_patched_u32(const mem_archive *a, size_t off, uint32_t v, char *msg)
{
    uint8_t b[4];
    smar_store_u32(b, v);
    return open_patched(a, off, b, 4, msg);
}

static int open_patched_u16(const mem_archive *a, size_t off, uint16_t v, char *msg)
{
    uint8_t b[2];
    smar_store_u16(b, v);
    return open_patched(a, off, b, 2, msg);
}

#define HDR_LEN_OFF        12
#define HDR_CHUNK_SIZE_OFF 24
#define HDR_SUITE_OFF      20
#define V1_HDR_SLOTS_OFF   60
#define TRL_COUNT_OFF      8
#define TRL_SLOT_AREA_OFF  36

/* Where the parts of a (format 2) archive lie. */
static fx_v2_layout layout(const mem_archive *a)
{
    fx_v2_layout l;
    assert_int_equal(fx_v2_layout_of(&l, a), 0);
    return l;
}

static void test_header_length(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    assert_int_equal(smar_load_u32(a.data + HDR_LEN_OFF), SMAR_HEADER2_BYTES);
    assert_int_equal(open_patched_u32(&a, HDR_LEN_OFF, UINT32_MAX, msg), SMAR_E_LIMIT);
    assert_msg(msg, "header length 4294967295 outside 96..4096");
    assert_int_equal(open_patched_u32(&a, HDR_LEN_OFF, SMAR_HEADER2_MAX + 1, msg), SMAR_E_LIMIT);
    assert_msg(msg, "header length 4097 outside 96..4096");
    assert_int_equal(open_patched_u32(&a, HDR_LEN_OFF, SMAR_HEADER2_BYTES - 1, msg), SMAR_E_LIMIT);
    assert_msg(msg, "header length 95 outside 96..4096");
    /* within the range (a later minor version's longer header), but not this file's */
    assert_int_equal(open_patched_u32(&a, HDR_LEN_OFF, SMAR_HEADER2_MAX, msg), SMAR_E_CORRUPT);
    assert_msg(msg, "header length disagrees with the trailer");
    free(a.data);
}

/* The slot area's length (trailer bytes 36..40): 4..65536, LIMIT outside. */
static void test_slot_area_length(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    size_t at = layout(&a).trailer_offset + TRL_SLOT_AREA_OFF;
    static const uint32_t over[] = {0, SMAR_SLOT_AREA_MIN - 1, SMAR_SLOT_AREA_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(over); i++) {
        char want[64];
        assert_int_equal(open_patched_u32(&a, at, over[i], msg), SMAR_E_LIMIT);
        snprintf(want, sizeof want, "slot area of %u bytes (allowed 4..65536)", over[i]);
        assert_msg(msg, want);
    }
    free(a.data);
}

/* The slot count of a real archive's slot area: 1..32 for readers. */
static void test_key_slots(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    size_t at = layout(&a).slots_offset;
    assert_int_equal(smar_load_u16(a.data + at), 1);
    assert_int_equal(open_patched_u16(&a, at, SMAR_SLOTS2_MAX + 1, msg), SMAR_E_LIMIT);
    assert_msg(msg, "33 key slots (allowed 1..32)");
    assert_int_equal(open_patched_u16(&a, at, UINT16_MAX, msg), SMAR_E_LIMIT);
    assert_msg(msg, "65535 key slots (allowed 1..32)");
    assert_int_equal(open_patched_u16(&a, at, 0, msg), SMAR_E_LIMIT);
    assert_msg(msg, "0 key slots (allowed 1..32)");
    /* 2 slots declared, 1 there: the second runs past the area */
    assert_int_equal(open_patched_u16(&a, at, 2, msg), SMAR_E_CORRUPT);
    assert_msg(msg, "key slot 1 is truncated");
    free(a.data);
}

/* One local slot: provider, flags, key id (u8 length), version kind, version u32,
 * wrapped (u32 length); key id and version string filled to their lengths. */
static void put_slot(smar_buf *b, uint8_t id_len, uint8_t kind, uint8_t vstr_len, char c)
{
    uint8_t wrapped[SMAR_LOCAL_WRAPPED_BYTES] = {0};
    smar_buf_put_u8(b, SMAR_PROVIDER_LOCAL);
    smar_buf_put_u8(b, 0);
    smar_buf_put_u8(b, id_len);
    for (unsigned i = 0; i < id_len; i++)
        smar_buf_put_u8(b, (uint8_t)c);
    smar_buf_put_u8(b, kind);
    if (kind == SMAR_VKIND_NUMBER)
        smar_buf_put_u32(b, 1);
    if (kind == SMAR_VKIND_STRING) {
        smar_buf_put_u8(b, vstr_len);
        for (unsigned i = 0; i < vstr_len; i++)
            smar_buf_put_u8(b, 'v');
    }
    smar_buf_put_u32(b, sizeof wrapped);
    smar_buf_append(b, wrapped, sizeof wrapped);
}

static int parse_area(const smar_buf *b, unsigned *count, smar_err *e)
{
    static smar_slot2 slots[SMAR_SLOTS2_MAX];
    return smar_slot_area_parse(slots, count, b->data, b->len, e);
}

/* A slot area that really carries n well-formed slots, parsed directly: readers accept 32
 * (writers write at most 16: test_writer_key_slots), 33 is LIMIT. */
static void test_key_slots_parsed(void **state)
{
    (void)state;
    for (unsigned n = SMAR_SLOTS2_MAX; n <= SMAR_SLOTS2_MAX + 1; n++) {
        smar_buf b = {0};
        smar_err e = {0};
        unsigned count = 0;
        smar_buf_put_u16(&b, (uint16_t)n);
        smar_buf_put_u16(&b, 0);
        for (unsigned i = 0; i < n; i++)
            put_slot(&b, 2, SMAR_VKIND_NUMBER, 0, (char)('a' + i % 26));
        int rc = parse_area(&b, &count, &e);
        if (n == SMAR_SLOTS2_MAX) {
            assert_int_equal(rc, SMAR_OK);
            assert_int_equal(count, SMAR_SLOTS2_MAX);
        } else {
            assert_int_equal(rc, SMAR_E_LIMIT);
            assert_msg(e.msg, "33 key slots (allowed 1..32)");
        }
        smar_buf_free(&b);
    }
}

/* Key ids and version strings have u8 lengths: 255 bytes are allowed, 0 is FORMAT. */
static void test_key_id_and_version_string(void **state)
{
    static const struct {
        uint8_t id_len, kind, vstr_len;
        int want;
        const char *msg;
    } cases[] = {
        {255, SMAR_VKIND_NUMBER, 0, SMAR_OK, NULL},
        {255, SMAR_VKIND_STRING, 255, SMAR_OK, NULL},
        {0, SMAR_VKIND_NUMBER, 0, SMAR_E_FORMAT, "key slot 0 has an invalid key id"},
        {3, SMAR_VKIND_STRING, 0, SMAR_E_FORMAT, "key slot 0 has an invalid version string"},
        {3, 3, 0, SMAR_E_FORMAT, "key slot 0 has unknown version kind 3"},
    };
    (void)state;
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        smar_buf b = {0};
        smar_err e = {0};
        unsigned count = 0;
        smar_buf_put_u16(&b, 1);
        smar_buf_put_u16(&b, 0);
        put_slot(&b, cases[i].id_len, cases[i].kind, cases[i].vstr_len, 'k');
        if (cases[i].kind == 3) { /* unknown kind: nothing of a version follows */
            smar_buf_free(&b);
            smar_buf_put_u16(&b, 1);
            smar_buf_put_u16(&b, 0);
            uint8_t head[] = {SMAR_PROVIDER_LOCAL, 0, 3, 'k', 'e', 'y', 3, 0, 0, 0, 1, 0xaa};
            smar_buf_append(&b, head, sizeof head);
        }
        assert_int_equal(parse_area(&b, &count, &e), cases[i].want);
        if (cases[i].msg)
            assert_msg(e.msg, cases[i].msg);
        smar_buf_free(&b);
    }
}

/* A format 1 header that really carries 17 well-formed key slots, parsed directly:
 * format 1's limit (1..16) holds for format 1 files forever. */
static void test_v1_key_slots_parsed(void **state)
{
    smar_buf b = {0};
    smar_header h;
    smar_err e = {0};
    (void)state;
    uint8_t fixed[SMAR_HEADER_FIXED_BYTES] = {0};
    memcpy(fixed, SMAR_MAGIC, SMAR_MAGIC_BYTES);
    smar_store_u16(fixed + 8, 1);
    smar_store_u16(fixed + 20, SMAR_SUITE_XCHACHA20POLY1305);
    smar_store_u16(fixed + 22, SMAR_COMPRESSION_ZSTD);
    smar_store_u32(fixed + 24, SMAR_CHUNK_SIZE_MIN);
    smar_store_u16(fixed + V1_HDR_SLOTS_OFF, 17);
    smar_buf_append(&b, fixed, sizeof fixed);
    for (int i = 0; i < 17; i++) {
        uint8_t wrapped[SMAR_LOCAL_WRAPPED_BYTES] = {0};
        smar_buf_put_u8(&b, SMAR_PROVIDER_LOCAL);
        smar_buf_put_u8(&b, 2);
        smar_buf_printf(&b, "k%c", 'a' + i);
        smar_buf_put_u32(&b, 1);
        smar_buf_put_u16(&b, sizeof wrapped);
        smar_buf_append(&b, wrapped, sizeof wrapped);
    }
    uint8_t mac[SMAR_HEADER_MAC_BYTES] = {0};
    smar_buf_append(&b, mac, sizeof mac);
    smar_store_u32(b.data + HDR_LEN_OFF, (uint32_t)b.len);
    assert_int_equal(smar_header_parse(&h, b.data, b.len, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "17 key slots (allowed 1..16)");
    smar_buf_free(&b);
}

static void meta_plain(smar_buf *out, uint32_t manifest);

/* A small format 1 archive (the fuzz builder writes format 1): one meta chunk. */
static void v1_archive(mem_archive *a)
{
    smar_buf meta = {0}, file = {0};
    smar_err e = {0};
    meta_plain(&meta, 0);
    fz_chunk chunks[] = {{SMAR_SECTION_META, meta.data, meta.len}};
    assert_int_equal(fz_build_archive(&file, g_key, chunks, 1, NULL, &e), SMAR_OK);
    assert_int_equal(smar_load_u16(file.data + 8), 1);
    *a = (mem_archive){file.data, file.len, file.len};
    smar_buf_free(&meta);
}

/* Format 1's header limits, read from a format 1 file: header length 96..16384, slot count
 * 1..16, wrapped key 1..512. */
static void test_v1_header_limits(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    v1_archive(&a);
    assert_int_equal(open_patched_u32(&a, HDR_LEN_OFF, SMAR_HEADER_MAX_BYTES + 1, msg),
                     SMAR_E_LIMIT);
    assert_msg(msg, "header length 16385 outside 96..16384");
    assert_int_equal(open_patched_u16(&a, V1_HDR_SLOTS_OFF, SMAR_MAX_KEY_SLOTS + 1, msg),
                     SMAR_E_LIMIT);
    assert_msg(msg, "17 key slots (allowed 1..16)");
    /* slot 0: provider, key id length, key id, key version (u32), wrapped length (u16) */
    size_t off = SMAR_HEADER_FIXED_BYTES + 2 + a.data[SMAR_HEADER_FIXED_BYTES + 1] + 4;
    assert_int_equal(smar_load_u16(a.data + off), SMAR_LOCAL_WRAPPED_BYTES);
    assert_int_equal(open_patched_u16(&a, off, SMAR_WRAPPED_MAX + 1, msg), SMAR_E_LIMIT);
    assert_msg(msg, "key slot 0 wrapped key length 513 outside 1..512");
    free(a.data);
}

static void test_writer_key_slots(void **state)
{
    smar_keyring *keys[SMAR_MAX_KEY_SLOTS + 1];
    smar_writer *w;
    (void)state;
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    for (int i = 0; i <= SMAR_MAX_KEY_SLOTS; i++) {
        char id[16];
        snprintf(id, sizeof id, "rk-%d", i);
        assert_int_equal(smar_keyring_new(&keys[i]), SMAR_OK);
        assert_int_equal(smar_keyring_generate(keys[i], id), SMAR_OK);
        int rc = smar_writer_add_key(w, keys[i]);
        assert_int_equal(rc, i < SMAR_MAX_KEY_SLOTS ? SMAR_OK : SMAR_E_LIMIT);
    }
    assert_msg(smar_writer_error(w), "at most 16 key slots");
    smar_writer_free(w);
    for (int i = 0; i <= SMAR_MAX_KEY_SLOTS; i++)
        smar_keyring_free(keys[i]);
}

/* The wrapped key length (u32) is bounded by the slot area it sits in: past it is CORRUPT
 * (a truncated slot), 0 is FORMAT, shorter leaves bytes after the last slot (FORMAT). */
static void test_wrapped_key_length(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    fx_v2_layout l = layout(&a);
    /* slot 0 after count and reserved: provider, flags, key id (u8 length), version kind 1,
     * version u32, wrapped length u32 */
    size_t slot = l.slots_offset + 4, id_len = a.data[slot + 2];
    size_t off = slot + 3 + id_len + 1 + 4;
    assert_int_equal(a.data[slot + 3 + id_len], SMAR_VKIND_NUMBER);
    assert_int_equal(smar_load_u32(a.data + off), SMAR_LOCAL_WRAPPED_BYTES);
    assert_int_equal(off + 4 + SMAR_LOCAL_WRAPPED_BYTES, l.trailer_offset);
    static const uint32_t past[] = {SMAR_LOCAL_WRAPPED_BYTES + 1, SMAR_SLOT_AREA_MAX, UINT32_MAX};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(past); i++) {
        assert_int_equal(open_patched_u32(&a, off, past[i], msg), SMAR_E_CORRUPT);
        assert_msg(msg, "key slot 0 runs past the slot area");
    }
    assert_int_equal(open_patched_u32(&a, off, 0, msg), SMAR_E_FORMAT);
    assert_msg(msg, "key slot 0 has an empty wrapped key");
    assert_int_equal(open_patched_u32(&a, off, SMAR_LOCAL_WRAPPED_BYTES - 1, msg), SMAR_E_FORMAT);
    assert_msg(msg, "slot area has 1 unexpected bytes after its slots");
    free(a.data);
}

static void test_chunk_size(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    assert_int_equal(open_patched_u32(&a, HDR_CHUNK_SIZE_OFF, UINT32_MAX, msg), SMAR_E_LIMIT);
    assert_msg(msg, "chunk size 4294967295 outside 65536..16777216");
    assert_int_equal(open_patched_u32(&a, HDR_CHUNK_SIZE_OFF, SMAR_CHUNK_SIZE_MAX + 1, msg),
                     SMAR_E_LIMIT);
    assert_msg(msg, "chunk size 16777217 outside 65536..16777216");
    free(a.data);
}

static void test_chunk_count(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    size_t trailer = a.len - SMAR_TRAILER_BYTES;
    assert_int_equal(open_patched_u32(&a, trailer + TRL_COUNT_OFF, SMAR_MAX_CHUNKS + 1, msg),
                     SMAR_E_LIMIT);
    assert_msg(msg, "chunk count 16777217 outside 1..16777216");
    assert_int_equal(open_patched_u32(&a, trailer + TRL_COUNT_OFF, UINT32_MAX, msg), SMAR_E_LIMIT);
    assert_msg(msg, "chunk count 4294967295 outside 1..16777216");
    /* within the limit, but 2^24 entries (768 MiB) cannot be in this file: refused before
     * the table is allocated (the guard would fail that allocation) */
    assert_int_equal(open_patched_u32(&a, trailer + TRL_COUNT_OFF, SMAR_MAX_CHUNKS, msg),
                     SMAR_E_CORRUPT);
    assert_msg(msg, "the chunk table does not fit the file");
    free(a.data);
}

static void test_chunk_stored_size(void **state)
{
    mem_archive a;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    size_t trailer = a.len - SMAR_TRAILER_BYTES;
    size_t table = (size_t)smar_load_u64(a.data + trailer);
    assert_int_equal(open_patched_u32(&a, table + 8, UINT32_MAX, msg), SMAR_E_LIMIT);
    assert_msg(msg, "chunk 0 has impossible size 4294967295");
    uint32_t over = (uint32_t)smar_chunk_stored_max_format(SMAR_FORMAT_V2, SMAR_CHUNK_SIZE_MIN) + 1;
    assert_int_equal(open_patched_u32(&a, table + 8, over, msg), SMAR_E_LIMIT);
    assert_msg(msg, "impossible size");
    free(a.data);
}

/* A format 2 file of `count` tiny chunks (payload, then one meta chunk) under a header of
 * suite and chunk size given, with a's slot area and trailer: enough to open, not to unlock
 * (open checks structure and limits; the chunks are never read). */
static void many_chunk_file(mem_archive *out, const mem_archive *a, uint16_t suite,
                            uint32_t chunk_size, uint32_t count)
{
    enum { STORED = SMAR_TAG_BYTES + 1 };
    fx_v2_layout l = layout(a);
    uint8_t header[SMAR_HEADER2_BYTES], chunk[STORED] = {0}, entry[SMAR_TABLE_ENTRY_BYTES];
    uint8_t trailer[SMAR_TRAILER_BYTES];
    memcpy(header, a->data, sizeof header);
    smar_store_u16(header + HDR_SUITE_OFF, suite);
    smar_store_u32(header + HDR_CHUNK_SIZE_OFF, chunk_size);
    memset(out, 0, sizeof *out);
    fx_mem_write(out, header, sizeof header);
    for (uint32_t i = 0; i < count; i++)
        fx_mem_write(out, chunk, sizeof chunk);
    for (uint32_t i = 0; i < count; i++) {
        smar_table_entry te = {0};
        te.offset = sizeof header + (uint64_t)i * STORED;
        te.stored_len = STORED;
        te.section = i + 1 < count ? SMAR_SECTION_PAYLOAD : SMAR_SECTION_META;
        te.flags = i + 2 >= count ? SMAR_CHUNK_LAST : 0;
        smar_table_entry_encode(entry, &te);
        fx_mem_write(out, entry, sizeof entry);
    }
    fx_mem_write(out, a->data + l.slots_offset, l.slots_len);
    memcpy(trailer, a->data + l.trailer_offset, sizeof trailer);
    smar_store_u64(trailer, sizeof header + (uint64_t)count * STORED);
    smar_store_u32(trailer + TRL_COUNT_OFF, count);
    fx_mem_write(out, trailer, sizeof trailer);
}

static int open_status(const mem_archive *a, char msg[SMAR_ERRMSG_MAX])
{
    smar_reader *r;
    guard_on();
    int rc = fx_open_mem(&r, a->data, a->len);
    guard_off();
    snprintf(msg, SMAR_ERRMSG_MAX, "%s", smar_reader_error(r));
    smar_reader_free(r);
    return rc;
}

/* AES-256-GCM seals at most 2^36 bytes under one key: chunk_count x chunk_size above that
 * is refused at open (LIMIT), exactly at it accepted; XChaCha20-Poly1305 has no such cap. */
static void test_gcm_cap(void **state)
{
    mem_archive a, f;
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    small_archive(&a);
    const uint32_t at_cap = (uint32_t)(SMAR_GCM_PLAINTEXT_CAP / SMAR_CHUNK_SIZE_MAX); /* 4096 */
    many_chunk_file(&f, &a, SMAR_SUITE_AES256GCM, SMAR_CHUNK_SIZE_MAX, at_cap + 1);
    assert_int_equal(open_status(&f, msg), SMAR_E_LIMIT);
    assert_msg(msg, "4097 chunks of 16777216 bytes exceed what AES-256-GCM may seal");
    free(f.data);
    many_chunk_file(&f, &a, SMAR_SUITE_AES256GCM, SMAR_CHUNK_SIZE_MAX, at_cap);
    assert_int_equal(open_status(&f, msg), SMAR_OK);
    free(f.data);
    many_chunk_file(&f, &a, SMAR_SUITE_XCHACHA20POLY1305, SMAR_CHUNK_SIZE_MAX, at_cap + 1);
    assert_int_equal(open_status(&f, msg), SMAR_OK);
    free(f.data);
    free(a.data);
}

/* ---- sealed sections: meta, index, manifest records ----------------------------------- */

/* The meta section of an archive with `manifest` manifest chunks and no index. */
static void meta_plain(smar_buf *out, uint32_t manifest)
{
    smar_meta m = {0};
    m.oldest = m.newest = SMAR_TIME_NONE;
    m.section_chunks[SMAR_SECTION_MANIFEST] = manifest;
    m.document = (char *)"{}";
    m.document_len = 2;
    assert_int_equal(smar_meta_encode(&m, out), SMAR_OK);
}

#define META_T0_NCHUNKS_OFF  60
#define META_T0_NENTRIES_OFF 64
#define META_DOCLEN_OFF      88

/* Build an archive of the given plaintext chunks, open it and unlock it (under the guard).
 * Returns the reader (unlock's status in *rc). */
static smar_reader *open_built(const fz_chunk *chunks, size_t n, int *rc, smar_buf *file)
{
    smar_err e = {0};
    smar_reader *r;
    assert_int_equal(fz_build_archive(file, g_key, chunks, n, NULL, &e), SMAR_OK);
    mem_archive a = {file->data, file->len, file->len};
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    guard_on();
    *rc = smar_reader_unlock(r, &g_key, 1);
    guard_off();
    return r;
}

static void test_meta_huge_index(void **state)
{
    smar_buf meta = {0}, file = {0};
    uint8_t manifest[1] = {0};
    int rc;
    (void)state;
    meta_plain(&meta, 1);
    smar_store_u32(meta.data + META_T0_NCHUNKS_OFF, UINT32_MAX);
    smar_store_u64(meta.data + META_T0_NENTRIES_OFF, UINT64_MAX);
    fz_chunk chunks[] = {{SMAR_SECTION_MANIFEST, manifest, 1},
                         {SMAR_SECTION_META, meta.data, meta.len}};
    smar_reader *r = open_built(chunks, 2, &rc, &file);
    assert_int_equal(rc, SMAR_E_FORMAT);
    assert_msg(smar_reader_error(r), "impossible index: 4294967295 chunks");
    assert_msg(smar_reader_error(r), "index section of 0 chunks");
    smar_reader_free(r);
    smar_buf_free(&file);
    smar_buf_free(&meta);
}

/* A meta section of 9 chunks of 16 MiB (144 MiB of plaintext, a few KiB stored) is
 * refused at the 128 MiB limit while it is gathered, not after. Not under the guard: the
 * reader does hold up to the limit (128 MiB) before it can tell. So it cannot run in the
 * ASan build, whose allocator refuses anything over GUARD_MB for the whole program; the
 * normal build runs it. */
static void test_meta_over_limit(void **state)
{
    (void)state;
#ifdef LIMITS_ASAN
    skip();
#endif
    const size_t big = SMAR_CHUNK_SIZE_MAX;
    smar_buf meta = {0}, file = {0};
    uint8_t manifest[1] = {0};
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    meta_plain(&meta, 1);
    fz_chunk chunks[11] = {{SMAR_SECTION_MANIFEST, manifest, 1},
                           {SMAR_SECTION_META, meta.data, meta.len}};
    for (size_t i = 2; i < 11; i++)
        chunks[i] = (fz_chunk){SMAR_SECTION_META, zeros, big};
    fz_build_opts o = FZ_BUILD_OPTS_INIT;
    o.chunk_size = (uint32_t)big;
    smar_err e = {0};
    smar_reader *r;
    assert_int_equal(fz_build_archive(&file, g_key, chunks, 11, &o, &e), SMAR_OK);
    assert_int_equal(fx_open_mem(&r, file.data, file.len), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &g_key, 1), SMAR_E_LIMIT);
    assert_msg(smar_reader_error(r), "meta section over 134217728 bytes");
    smar_reader_free(r);
    smar_buf_free(&file);
    smar_buf_free(&meta);
    free(zeros);
}

static void test_meta_decode_limits(void **state)
{
    smar_buf meta = {0};
    smar_meta m;
    smar_err e = {0};
    (void)state;
    /* 2^32-1 fences (64 GiB) declared in a section of a few bytes */
    meta_plain(&meta, 0);
    smar_store_u32(meta.data + 52, UINT32_MAX); /* the index section's chunk count */
    smar_store_u32(meta.data + META_T0_NCHUNKS_OFF, UINT32_MAX);
    smar_store_u64(meta.data + META_T0_NENTRIES_OFF, (uint64_t)UINT32_MAX * SMAR_INDEX_PER_CHUNK);
    guard_on();
    int rc = smar_meta_decode(&m, meta.data, meta.len, &e);
    guard_off();
    assert_int_equal(rc, SMAR_E_FORMAT);
    assert_msg(e.msg, "meta section is truncated");
    /* a document of 4 GiB declared */
    smar_buf_reset(&meta);
    meta_plain(&meta, 0);
    smar_store_u32(meta.data + META_DOCLEN_OFF, UINT32_MAX);
    guard_on();
    rc = smar_meta_decode(&m, meta.data, meta.len, &e);
    guard_off();
    assert_int_equal(rc, SMAR_E_FORMAT);
    assert_msg(e.msg, "meta section is malformed");
    smar_buf_free(&meta);
}

static int count_secret(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    (void)s;
    (*(int *)payload)++;
    return 0;
}

/* A manifest whose only record declares body_len bytes, read by smar_reader_foreach. */
static int foreach_manifest(const uint8_t *manifest, size_t n, char msg[SMAR_ERRMSG_MAX])
{
    smar_buf meta = {0}, file = {0};
    int rc, seen = 0;
    meta_plain(&meta, 1);
    fz_chunk chunks[] = {{SMAR_SECTION_MANIFEST, manifest, n},
                         {SMAR_SECTION_META, meta.data, meta.len}};
    smar_reader *r = open_built(chunks, 2, &rc, &file);
    assert_int_equal(rc, SMAR_OK);
    guard_on();
    rc = smar_reader_foreach(r, count_secret, &seen);
    guard_off();
    assert_int_equal(seen, 0);
    snprintf(msg, SMAR_ERRMSG_MAX, "%s", smar_reader_error(r));
    smar_reader_free(r);
    smar_buf_free(&file);
    smar_buf_free(&meta);
    return rc;
}

static void test_record_length(void **state)
{
    uint8_t manifest[16] = {0};
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    smar_store_u32(manifest, UINT32_MAX);
    assert_int_equal(foreach_manifest(manifest, sizeof manifest, msg), SMAR_E_LIMIT);
    assert_msg(msg, "manifest record of 4294967295 bytes");
    smar_store_u32(manifest, SMAR_MAX_RECORD_BYTES + 1);
    assert_int_equal(foreach_manifest(manifest, sizeof manifest, msg), SMAR_E_LIMIT);
    assert_msg(msg, "manifest record of 167772161 bytes");
    /* the direct decoder, for a body said to be over the limit */
    smar_secret *s;
    smar_err e = {0};
    assert_int_equal(smar_record_decode(&s, manifest, (size_t)SMAR_MAX_RECORD_BYTES + 1, &e),
                     SMAR_E_LIMIT);
    assert_null(s);
    assert_msg(e.msg, "manifest record of 167772161 bytes");
}

/* A record body up to its label count: type, flags, id "a", type "t", no name or group,
 * created and updated. */
static void record_head(smar_buf *b)
{
    smar_buf_put_u8(b, SMAR_RECORD_SECRET);
    smar_buf_put_u8(b, 0);
    smar_buf_put_u16(b, 1);
    smar_buf_append(b, "a", 1);
    smar_buf_put_u16(b, 1);
    smar_buf_append(b, "t", 1);
    smar_buf_put_u16(b, 0);
    smar_buf_put_u16(b, 0);
    smar_buf_put_u64(b, 0);
    smar_buf_put_u64(b, 0);
}

/* ... then no labels, metadata "{}", no payload: up to the version count. */
static void record_to_versions(smar_buf *b)
{
    record_head(b);
    smar_buf_put_u16(b, 0);
    smar_buf_put_u32(b, 2);
    smar_buf_append(b, "{}", 2);
    smar_buf_put_u8(b, 0);
}

static int decode(const smar_buf *b, smar_err *e)
{
    smar_secret *s;
    guard_on();
    int rc = smar_record_decode(&s, b->data, b->len, e);
    guard_off();
    smar_secret_free(s);
    return rc;
}

static void test_record_counts(void **state)
{
    smar_buf b = {0};
    smar_err e = {0};
    (void)state;
    /* versions: 2^32-1 and one over the limit */
    record_to_versions(&b);
    smar_buf_put_u32(&b, UINT32_MAX);
    assert_int_equal(decode(&b, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "manifest record declares 4294967295 versions (limit 10000)");
    smar_buf_reset(&b);
    record_to_versions(&b);
    smar_buf_put_u32(&b, SMAR_MAX_VERSIONS + 1);
    assert_int_equal(decode(&b, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "10001 versions (limit 10000)");
    /* within the limit but more than the record's bytes can hold: refused before calloc */
    smar_buf_reset(&b);
    record_to_versions(&b);
    smar_buf_put_u32(&b, SMAR_MAX_VERSIONS);
    assert_int_equal(decode(&b, &e), SMAR_E_FORMAT);
    assert_msg(e.msg, "malformed manifest record");
    /* labels */
    smar_buf_reset(&b);
    record_head(&b);
    smar_buf_put_u16(&b, UINT16_MAX);
    assert_int_equal(decode(&b, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "65535 labels (limit 1000)");
    smar_buf_reset(&b);
    record_head(&b);
    smar_buf_put_u16(&b, SMAR_MAX_LABELS + 1);
    assert_int_equal(decode(&b, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "1001 labels (limit 1000)");
    /* a payload locator over 64 MiB */
    smar_buf_reset(&b);
    record_head(&b);
    smar_buf_put_u16(&b, 0);
    smar_buf_put_u32(&b, 2);
    smar_buf_append(&b, "{}", 2);
    smar_buf_put_u8(&b, 1);
    smar_buf_put_u32(&b, 0);
    smar_buf_put_u32(&b, 0);
    smar_buf_put_u32(&b, SMAR_MAX_PAYLOAD_BYTES + 1);
    uint8_t hash[SMAR_HASH_BYTES] = {0};
    smar_buf_append(&b, hash, sizeof hash);
    smar_buf_put_u32(&b, 0);
    assert_int_equal(decode(&b, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "a payload of 67108865 bytes (limit 67108864)");
    /* a 4 GiB metadata string in a short record */
    smar_buf_reset(&b);
    record_head(&b);
    smar_buf_put_u16(&b, 0);
    smar_buf_put_u32(&b, UINT32_MAX);
    assert_int_equal(decode(&b, &e), SMAR_E_FORMAT);
    assert_msg(e.msg, "malformed manifest record");
    smar_buf_free(&b);
}

/* The same version count, through the reader. */
static void test_record_counts_read(void **state)
{
    smar_buf b = {0};
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    smar_buf_put_u32(&b, 0);
    record_to_versions(&b);
    smar_buf_put_u32(&b, UINT32_MAX);
    smar_store_u32(b.data, (uint32_t)(b.len - 4));
    assert_int_equal(foreach_manifest(b.data, b.len, msg), SMAR_E_LIMIT);
    assert_msg(msg, "4294967295 versions (limit 10000)");
    smar_buf_free(&b);
}

/* Within the limits but more than the archive holds: a record of exactly 160 MiB, and a
 * payload of exactly 64 MiB, declared in an archive of a few hundred bytes. The reader
 * must find out from the chunk table (at most chunk_size bytes a chunk) before it
 * allocates the buffer, which the guard would refuse. */
static void test_record_past_section(void **state)
{
    uint8_t manifest[16] = {0};
    char msg[SMAR_ERRMSG_MAX];
    (void)state;
    smar_store_u32(manifest, SMAR_MAX_RECORD_BYTES);
    assert_int_equal(foreach_manifest(manifest, sizeof manifest, msg), SMAR_E_FORMAT);
    assert_msg(msg, "167772160 bytes declared at chunk #0 of section 2 run past the end");
}

typedef struct payload_probe {
    int rc;
    char msg[SMAR_ERRMSG_MAX];
} payload_probe;

static int read_first_payload(smar_reader *r, const smar_secret *s, void *payload)
{
    payload_probe *p = payload;
    char *out = NULL;
    size_t len = 0;
    guard_on();
    p->rc = smar_reader_read_payload(r, s, NULL, &out, &len);
    guard_off();
    snprintf(p->msg, sizeof p->msg, "%s", smar_reader_error(r));
    smar_secret_buffer_free(out, len);
    return 1;
}

static void test_payload_past_section(void **state)
{
    smar_buf rec = {0}, meta = {0}, file = {0};
    uint8_t payload[8] = "payload";
    int rc;
    (void)state;
    smar_buf_put_u32(&rec, 0);
    record_head(&rec);
    smar_buf_put_u16(&rec, 0);
    smar_buf_put_u32(&rec, 2);
    smar_buf_append(&rec, "{}", 2);
    smar_buf_put_u8(&rec, 1); /* a payload at payload chunk 0, offset 0, of 64 MiB */
    smar_buf_put_u32(&rec, 0);
    smar_buf_put_u32(&rec, 0);
    smar_buf_put_u32(&rec, SMAR_MAX_PAYLOAD_BYTES);
    uint8_t hash[SMAR_HASH_BYTES] = {0};
    smar_buf_append(&rec, hash, sizeof hash);
    smar_buf_put_u32(&rec, 0);
    smar_store_u32(rec.data, (uint32_t)(rec.len - 4));
    meta_plain(&meta, 1);
    smar_store_u32(meta.data + 44, 1); /* one payload chunk */
    fz_chunk chunks[] = {{SMAR_SECTION_PAYLOAD, payload, sizeof payload},
                         {SMAR_SECTION_MANIFEST, rec.data, rec.len},
                         {SMAR_SECTION_META, meta.data, meta.len}};
    smar_reader *r = open_built(chunks, 3, &rc, &file);
    assert_int_equal(rc, SMAR_OK);
    payload_probe probe = {0, ""};
    assert_int_equal(smar_reader_foreach(r, read_first_payload, &probe), 1);
    assert_int_equal(probe.rc, SMAR_E_FORMAT);
    assert_msg(probe.msg, "67108864 bytes declared at chunk #0 of section 1 run past the end");
    smar_reader_free(r);
    smar_buf_free(&file);
    smar_buf_free(&meta);
    smar_buf_free(&rec);
}

/* ---- chunks: stored size and decompression bombs -------------------------------------- */

static const uint8_t g_chunk_key[32] = {1, 2, 3};
static const uint8_t g_archive_id[16] = {9, 8, 7};

/* Seal an arbitrary zstd frame the way smar_chunk_seal seals its own (nonce and AAD as in
 * spec/FORMAT.md, "Chunks"), so a crafted frame passes authentication. */
static void seal_frame(const smar_chunk_pos *pos, const uint8_t *frame, size_t n, smar_buf *out)
{
    uint8_t nonce[SMAR_NONCE_MAX] = {0}, aad[SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES + 14];
    smar_store_u64(nonce, pos->number);
    nonce[8] = pos->section;
    nonce[9] = pos->flags;
    memcpy(aad, SMAR_LABEL_CHUNK, SMAR_LABEL_BYTES);
    memcpy(aad + SMAR_LABEL_BYTES, g_archive_id, SMAR_ARCHIVE_ID_BYTES);
    uint8_t *p = aad + SMAR_LABEL_BYTES + SMAR_ARCHIVE_ID_BYTES;
    smar_store_u64(p, pos->number);
    p[8] = pos->section;
    p[9] = pos->flags;
    smar_store_u32(p + 10, pos->seq);
    smar_buf_reset(out);
    assert_int_equal(smar_buf_reserve(out, n + SMAR_TAG_BYTES), SMAR_OK);
    smar_aead_seal(SMAR_SUITE_XCHACHA20POLY1305, out->data, frame, n, aad, sizeof aad, nonce,
                   g_chunk_key);
    out->len = n + SMAR_TAG_BYTES;
}

/* A zstd frame by hand: magic, a single-segment header declaring `declared` bytes (4-byte
 * field), then `content` bytes of 'x' in RLE blocks no bigger than the window (the
 * declared size) allows, so a frame holding far more than it declares stays a few bytes.
 * With declared == UINT64_MAX no size is declared (and the window is 8 MiB). */
static void rle_frame(smar_buf *f, uint64_t declared, size_t content)
{
    size_t block = 128u << 10;
    smar_buf_reset(f);
    smar_buf_put_u32(f, 0xFD2FB528u);
    if (declared == UINT64_MAX) {
        smar_buf_put_u8(f, 0x00); /* no content size, not single segment */
        smar_buf_put_u8(f, 0x58); /* window descriptor: 8 MiB */
    } else {
        smar_buf_put_u8(f, 0xA0); /* 4-byte content size, single segment */
        smar_buf_put_u32(f, (uint32_t)declared);
        if (declared > 0 && declared < block)
            block = (size_t)declared;
    }
    do {
        size_t n = content < block ? content : block;
        content -= n;
        uint32_t bh = (uint32_t)(n << 3) | (1u << 1) | (content == 0 ? 1u : 0u); /* RLE */
        uint8_t h[4] = {(uint8_t)bh, (uint8_t)(bh >> 8), (uint8_t)(bh >> 16), 'x'};
        smar_buf_append(f, h, 4);
    } while (content > 0);
}

/* Open a sealed chunk with a 64 KiB chunker into a buffer of exactly 64 KiB. */
static int open_small(const smar_chunk_pos *pos, const smar_buf *stored, smar_err *e)
{
    smar_chunker ck;
    size_t len = 0;
    assert_int_equal(smar_chunker_init(&ck, SMAR_SUITE_XCHACHA20POLY1305, 1, SMAR_CHUNK_SIZE_MIN,
                                       g_chunk_key, g_archive_id),
                     SMAR_OK);
    uint8_t *raw = malloc(SMAR_CHUNK_SIZE_MIN);
    assert_non_null(raw);
    guard_on();
    int rc = smar_chunk_open(&ck, pos, stored->data, stored->len, raw, &len, e);
    guard_off();
    if (rc == SMAR_OK)
        assert_true(len <= SMAR_CHUNK_SIZE_MIN);
    free(raw);
    smar_chunker_free(&ck);
    return rc;
}

static void test_chunk_declares_more(void **state)
{
    smar_chunker big;
    smar_buf stored = {0};
    smar_err e = {0};
    smar_chunk_pos pos = {3, SMAR_SECTION_PAYLOAD, 0, 3};
    (void)state;
    /* a real 1 MiB chunk (of zeros: a few hundred bytes stored) opened where chunks are
     * 64 KiB */
    assert_int_equal(smar_chunker_init(&big, SMAR_SUITE_XCHACHA20POLY1305, 1, 1u << 20, g_chunk_key,
                                       g_archive_id),
                     SMAR_OK);
    uint8_t *zeros = calloc(1, 1u << 20);
    assert_non_null(zeros);
    assert_int_equal(smar_chunk_seal(&big, &pos, zeros, 1u << 20, &stored, &e), SMAR_OK);
    assert_true(stored.len < 1024);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "chunk 3 declares 1048576 bytes (chunk size is 65536)");
    free(zeros);
    smar_chunker_free(&big);
    /* a frame declaring 4 GiB, holding 10 bytes */
    smar_buf frame = {0};
    rle_frame(&frame, UINT32_MAX, 10);
    seal_frame(&pos, frame.data, frame.len, &stored);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "chunk 3 declares 4294967295 bytes (chunk size is 65536)");
    smar_buf_free(&frame);
    smar_buf_free(&stored);
}

static void test_chunk_holds_more(void **state)
{
    smar_buf frame = {0}, stored = {0};
    smar_err e = {0};
    smar_chunk_pos pos = {0, SMAR_SECTION_MANIFEST, SMAR_CHUNK_LAST, 0};
    (void)state;
    /* the frame says 100 bytes, its blocks hold 5000 */
    rle_frame(&frame, 100, 5000);
    seal_frame(&pos, frame.data, frame.len, &stored);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_FORMAT);
    assert_msg(e.msg, "decompression failed");
    /* the frame says exactly a chunk, its blocks hold more than a chunk */
    rle_frame(&frame, SMAR_CHUNK_SIZE_MIN, SMAR_CHUNK_SIZE_MIN + 4000);
    seal_frame(&pos, frame.data, frame.len, &stored);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_FORMAT);
    assert_msg(e.msg, "decompression failed");
    /* no declared size at all (a streamed frame) */
    rle_frame(&frame, UINT64_MAX, 5000);
    seal_frame(&pos, frame.data, frame.len, &stored);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_FORMAT);
    assert_msg(e.msg, "malformed compressed data");
    /* the hand-made frames are valid zstd: the exact size opens */
    rle_frame(&frame, 5000, 5000);
    seal_frame(&pos, frame.data, frame.len, &stored);
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_OK);
    smar_buf_free(&frame);
    smar_buf_free(&stored);
}

static void test_chunk_stored_max(void **state)
{
    smar_buf stored = {0};
    smar_err e = {0};
    smar_chunk_pos pos = {0, SMAR_SECTION_META, SMAR_CHUNK_LAST, 0};
    (void)state;
    size_t max = smar_chunk_stored_max(SMAR_CHUNK_SIZE_MIN);
    assert_int_equal(smar_buf_reserve(&stored, max + 1), SMAR_OK);
    memset(stored.data, 0, max + 1);
    stored.len = max + 1;
    assert_int_equal(open_small(&pos, &stored, &e), SMAR_E_LIMIT);
    assert_msg(e.msg, "impossible size");
    smar_buf_free(&stored);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_works),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_slot_area_length),
        cmocka_unit_test(test_key_slots),
        cmocka_unit_test(test_key_slots_parsed),
        cmocka_unit_test(test_key_id_and_version_string),
        cmocka_unit_test(test_v1_key_slots_parsed),
        cmocka_unit_test(test_v1_header_limits),
        cmocka_unit_test(test_writer_key_slots),
        cmocka_unit_test(test_wrapped_key_length),
        cmocka_unit_test(test_chunk_size),
        cmocka_unit_test(test_chunk_count),
        cmocka_unit_test(test_chunk_stored_size),
        cmocka_unit_test(test_gcm_cap),
        cmocka_unit_test(test_meta_huge_index),
        cmocka_unit_test(test_meta_over_limit),
        cmocka_unit_test(test_meta_decode_limits),
        cmocka_unit_test(test_record_length),
        cmocka_unit_test(test_record_counts),
        cmocka_unit_test(test_record_counts_read),
        cmocka_unit_test(test_record_past_section),
        cmocka_unit_test(test_payload_past_section),
        cmocka_unit_test(test_chunk_declares_more),
        cmocka_unit_test(test_chunk_holds_more),
        cmocka_unit_test(test_chunk_stored_max),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, setup, teardown);
}
