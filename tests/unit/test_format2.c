/*
 * test_format2.c - the format 2 layer: header, slot area, trailer, roots, sealed-plaintext
 * framing and padding, payload records, locators and dek_commit. Each codec gets a round
 * trip and a bad byte in every field it checks, with the exact status it must give.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "chunk.h"
#include "crypto.h"
#include "format.h"
#include "header2.h"
#include "manifest.h"
#include "root2.h"
#include "slots.h"
#include "subkeys.h"
#include "table.h"
#include "smar/common.h"

static const uint8_t g_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static smar_header2 sample_header(void)
{
    smar_header2 h = {0};
    h.version_major = 2;
    h.suite = SMAR_SUITE_XCHACHA20POLY1305_ID;
    h.compression = SMAR_COMPRESSION_ZSTD;
    h.chunk_size = 1u << 20;
    memcpy(h.archive_id, g_id, 16);
    h.created = 1700000000;
    h.snapshot = 1700000000123456789LL;
    memset(h.dek_commit, 0xab, 32);
    return h;
}

static void test_header_round_trip(void **state)
{
    (void)state;
    smar_header2 h = sample_header(), back;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_header2_encode(&h, &b), SMAR_OK);
    assert_int_equal(b.len, SMAR_HEADER2_BYTES);
    assert_int_equal(smar_load_u16(b.data + 8), 2);
    assert_int_equal(smar_load_u32(b.data + 12), 96);
    assert_int_equal(smar_header2_parse(&back, b.data, b.len, &e), SMAR_OK);
    assert_int_equal(back.header_len, 96);
    assert_int_equal(back.chunk_size, h.chunk_size);
    assert_int_equal(back.created, h.created);
    assert_int_equal(back.snapshot, h.snapshot);
    assert_memory_equal(back.archive_id, g_id, 16);
    assert_memory_equal(back.dek_commit, h.dek_commit, 32);
    smar_buf_free(&b);
}

/* Parse a header with byte `at` set to v; returns the status. */
static int parse_with(size_t at, uint8_t v)
{
    smar_header2 h = sample_header(), back;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_header2_encode(&h, &b), SMAR_OK);
    b.data[at] = v;
    int rc = smar_header2_parse(&back, b.data, b.len, &e);
    smar_buf_free(&b);
    return rc;
}

static void test_header_bad_fields(void **state)
{
    (void)state;
    assert_int_equal(parse_with(0, 0x88), SMAR_E_FORMAT); /* magic */
    assert_int_equal(parse_with(8, 3), SMAR_E_VERSION);   /* major */
    assert_int_equal(parse_with(12, 95), SMAR_E_LIMIT);   /* header_len below 96 */
    assert_int_equal(parse_with(12, 97), SMAR_E_CORRUPT); /* header_len != bytes given */
    assert_int_equal(parse_with(16, 4), SMAR_E_VERSION);  /* flags (bit 0: 2.1, test_incremental) */
    assert_int_equal(parse_with(16, 2), SMAR_E_FORMAT);   /* EXPORT_DIGESTS (2.2) without bit 0 */
    assert_int_equal(parse_with(16, 1), SMAR_E_FORMAT);   /* INCREMENTAL without a base list */
    assert_int_equal(parse_with(20, 3), SMAR_E_VERSION);  /* suite */
    assert_int_equal(parse_with(22, 2), SMAR_E_VERSION);  /* compression */
    assert_int_equal(parse_with(27, 0x7f), SMAR_E_LIMIT); /* chunk size */
    assert_int_equal(parse_with(92, 1), SMAR_E_VERSION);  /* reserved */
    assert_int_equal(parse_with(10, 7), SMAR_OK);         /* a later minor version */
}

static void test_header_longer_minor(void **state)
{
    (void)state;
    smar_header2 h = sample_header(), back;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_header2_encode(&h, &b), SMAR_OK);
    uint8_t longer[200] = {0};
    memcpy(longer, b.data, 96);
    memset(longer + 96, 0x5a, sizeof longer - 96); /* a 2.x addition, ignored */
    smar_store_u32(longer + 12, sizeof longer);
    assert_int_equal(smar_header2_parse(&back, longer, sizeof longer, &e), SMAR_OK);
    assert_int_equal(back.header_len, 200);
    smar_store_u32(longer + 12, 4097);
    assert_int_equal(smar_header2_parse(&back, longer, sizeof longer, &e), SMAR_E_LIMIT);
    smar_buf_free(&b);
}

static void test_dek_commit(void **state)
{
    (void)state;
    uint8_t dek[32], other[32];
    memset(dek, 7, 32);
    memset(other, 8, 32);
    smar_header2 h = sample_header();
    smar_dek_commit(h.dek_commit, dek, h.archive_id);
    assert_true(smar_dek_commit_ok(dek, &h));
    assert_false(smar_dek_commit_ok(other, &h));
    h.archive_id[0] ^= 1;
    assert_false(smar_dek_commit_ok(dek, &h));
    /* keyed with the DEK itself, labelled */
    uint8_t msg[32], want[32];
    memcpy(msg, "smar/v2 dek-comm", 16);
    memcpy(msg + 16, g_id, 16);
    crypto_generichash(want, 32, msg, 32, dek, 32);
    smar_dek_commit(h.dek_commit, dek, g_id);
    assert_memory_equal(h.dek_commit, want, 32);
}

/* ---- slot area ------------------------------------------------------------------------ */

static const uint8_t g_blob[72] = {0x11};

static unsigned sample_slots(smar_slot2 s[3])
{
    memset(s, 0, 3 * sizeof *s);
    s[0].provider = SMAR_PROVIDER_LOCAL;
    s[0].key_id_len = 4;
    memcpy(s[0].key_id, "rk-1", 4);
    s[0].version_kind = SMAR_VKIND_NUMBER;
    s[0].version_number = 3;
    s[0].wrapped_len = sizeof g_blob;
    s[0].wrapped = g_blob;
    s[1].provider = 4; /* kms: a version string */
    s[1].flags = 0x80;
    s[1].key_id_len = 6;
    memcpy(s[1].key_id, "kms-\xc3\xa9", 6); /* UTF-8 */
    s[1].version_kind = SMAR_VKIND_STRING;
    s[1].version_string_len = 2;
    memcpy(s[1].version_string, "v9", 2);
    s[1].wrapped_len = 5;
    s[1].wrapped = g_blob;
    s[2].provider = SMAR_PROVIDER_X25519;
    s[2].key_id_len = 255;
    memset(s[2].key_id, 'a', 255);
    s[2].version_kind = SMAR_VKIND_NONE;
    s[2].wrapped_len = 80;
    s[2].wrapped =
        (const uint8_t *)"0123456789012345678901234567890123456789012345678901234567890123456789"
                         "0123456789";
    return 3;
}

static void test_slots_round_trip(void **state)
{
    (void)state;
    smar_slot2 s[3], back[SMAR_SLOTS2_MAX];
    unsigned n = sample_slots(s), count;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_slot_area_encode(s, n, &b, &e), SMAR_OK);
    assert_int_equal(b.len, 4 + (3 + 4 + 1 + 4 + 4 + 72) + (3 + 6 + 1 + 3 + 4 + 5) +
                                (3 + 255 + 1 + 4 + 80));
    assert_int_equal(smar_slot_area_parse(back, &count, b.data, b.len, &e), SMAR_OK);
    assert_int_equal(count, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(back[i].provider, s[i].provider);
        assert_int_equal(back[i].flags, s[i].flags);
        assert_int_equal(back[i].key_id_len, s[i].key_id_len);
        assert_memory_equal(back[i].key_id, s[i].key_id, s[i].key_id_len);
        assert_int_equal(back[i].version_kind, s[i].version_kind);
        assert_int_equal(back[i].wrapped_len, s[i].wrapped_len);
        assert_memory_equal(back[i].wrapped, s[i].wrapped, s[i].wrapped_len);
        /* the AAD is the slot's own bytes up to its key id, not its version */
        uint8_t aad[SMAR_SLOT2_AAD_MAX];
        size_t len = smar_slot2_aad(aad, g_id, &back[i]);
        assert_memory_equal(aad, "smar/v2 key-slot\x89SMAR\r\n\x1a\x02\x00", 26);
        assert_memory_equal(aad + 26, g_id, 16);
        assert_int_equal(len, 42 + 3 + s[i].key_id_len);
        assert_int_equal(aad[42], s[i].provider);
        assert_int_equal(aad[43], s[i].flags);
        assert_int_equal(aad[44], s[i].key_id_len);
        assert_memory_equal(aad + 45, s[i].key_id, s[i].key_id_len);
    }
    assert_int_equal(back[0].version_number, 3);
    assert_memory_equal(back[1].version_string, "v9", 3);
    uint8_t aad[SMAR_SLOT2_AAD_MAX];
    assert_int_equal(smar_slot2_aad(aad, g_id, &back[2]), 16 + 8 + 2 + 16 + 3 + 255);
    assert_int_equal(SMAR_SLOT2_AAD_MAX, 16 + 8 + 2 + 16 + 3 + 255);
    smar_buf_free(&b);
}

/* The version does not enter the AAD: a KMS that keeps the AAD across a rewrap (Key
 * Protect) can rewrap a slot whose recorded version changes (none -> number -> string). */
static void test_slot_aad_ignores_version(void **state)
{
    (void)state;
    smar_slot2 s[3];
    sample_slots(s);
    uint8_t a[SMAR_SLOT2_AAD_MAX], b[SMAR_SLOT2_AAD_MAX];
    size_t na = smar_slot2_aad(a, g_id, &s[0]);
    smar_slot2 other = s[0];
    other.version_kind = SMAR_VKIND_STRING;
    other.version_string_len = 3;
    memcpy(other.version_string, "v42", 4);
    assert_int_equal(smar_slot2_aad(b, g_id, &other), na);
    assert_memory_equal(a, b, na);
    other.version_kind = SMAR_VKIND_NONE;
    assert_int_equal(smar_slot2_aad(b, g_id, &other), na);
    assert_memory_equal(a, b, na);
    other.version_kind = SMAR_VKIND_NUMBER;
    other.version_number = 4;
    assert_int_equal(smar_slot2_aad(b, g_id, &other), na);
    assert_memory_equal(a, b, na);
    /* the key id still does */
    other.key_id[0] ^= 1;
    smar_slot2_aad(b, g_id, &other);
    assert_memory_not_equal(a, b, na);
}

/* The area of sample_slots with byte `at` set to v, parsed. */
static int slots_with(size_t at, uint8_t v)
{
    smar_slot2 s[3], back[SMAR_SLOTS2_MAX];
    unsigned n = sample_slots(s), count;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_slot_area_encode(s, n, &b, &e), SMAR_OK);
    b.data[at] = v;
    int rc = smar_slot_area_parse(back, &count, b.data, b.len, &e);
    smar_buf_free(&b);
    return rc;
}

static void test_slots_bad_fields(void **state)
{
    (void)state;
    /* area: count, reserved */
    assert_int_equal(slots_with(0, 0), SMAR_E_LIMIT);
    assert_int_equal(slots_with(0, 33), SMAR_E_LIMIT);
    assert_int_equal(slots_with(0, 2), SMAR_E_FORMAT);  /* bytes left after two slots */
    assert_int_equal(slots_with(0, 4), SMAR_E_CORRUPT); /* a fourth slot is not there */
    assert_int_equal(slots_with(2, 1), SMAR_E_VERSION);
    /* slot 0 at 4: provider, flags, key_id_len, key id, kind, version, wrapped_len */
    assert_int_equal(slots_with(4, 0), SMAR_E_FORMAT);
    assert_int_equal(slots_with(4, 9), SMAR_OK);    /* unknown provider: parsed, skipped later */
    assert_int_equal(slots_with(5, 0x40), SMAR_OK); /* flags are the provider's */
    assert_int_equal(slots_with(6, 0), SMAR_E_FORMAT);
    assert_int_equal(slots_with(7, 0x1f), SMAR_E_FORMAT); /* control character */
    assert_int_equal(slots_with(7, 0x7f), SMAR_E_FORMAT);
    assert_int_equal(slots_with(7, 0xc0), SMAR_E_FORMAT); /* not UTF-8 */
    assert_int_equal(slots_with(11, 3), SMAR_E_FORMAT);   /* version kind */
    assert_int_equal(slots_with(12, 0), SMAR_E_FORMAT);   /* version number 0 */
    assert_int_equal(slots_with(16, 0), SMAR_E_FORMAT);   /* wrapped_len 0 */
    assert_int_equal(slots_with(18, 1), SMAR_E_CORRUPT);  /* wrapped runs past the area */
    /* slot 1 starts at 4 + 88 = 92: its version string length */
    assert_int_equal(slots_with(92 + 10, 0), SMAR_E_FORMAT);
    assert_int_equal(slots_with(92 + 11, 0x0a), SMAR_E_FORMAT);
}

static void test_slots_version_zero(void **state)
{
    (void)state;
    smar_slot2 s[3], back[SMAR_SLOTS2_MAX];
    unsigned n = sample_slots(s), count;
    smar_buf b = {0};
    smar_err e;
    assert_int_equal(smar_slot_area_encode(s, n, &b, &e), SMAR_OK);
    memset(b.data + 12, 0, 4);
    assert_int_equal(smar_slot_area_parse(back, &count, b.data, b.len, &e), SMAR_E_FORMAT);
    assert_int_equal(smar_slot_area_parse(back, &count, b.data, 3, &e), SMAR_E_LIMIT);
    s[0].version_number = 0;
    assert_int_equal(smar_slot_area_encode(s, n, &b, &e), SMAR_E_LIMIT);
    smar_buf_free(&b);
}

/* ---- trailer and roots ------------------------------------------------------------------- */

static smar_trailer sample_trailer(void)
{
    smar_trailer t = {0};
    t.table_offset = 1000;
    t.chunk_count = 3;
    memcpy(t.archive_id, g_id, 16);
    t.header_len = 96;
    t.slot_area_len = 100;
    t.version_major = 2;
    return t;
}

static void test_trailer_v2(void **state)
{
    (void)state;
    smar_trailer t = sample_trailer(), back;
    uint8_t raw[SMAR_TRAILER_BYTES];
    smar_err e;
    smar_trailer_encode(raw, &t);
    assert_int_equal(smar_load_u32(raw + 36), 100);
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_OK);
    assert_int_equal(back.slot_area_len, 100);
    assert_int_equal(back.version_major, 2);
    smar_store_u32(raw + 36, 3);
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_E_LIMIT);
    smar_store_u32(raw + 36, 65537);
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_E_LIMIT);
    smar_store_u32(raw + 36, 100);
    raw[200] = 3;
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_E_VERSION);
    /* format 1 keeps bytes 36..40 reserved */
    raw[200] = 1;
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_E_VERSION);
    smar_store_u32(raw + 36, 0);
    assert_int_equal(smar_trailer_decode(&back, raw, &e), SMAR_OK);
}

static int raw_read(void *opaque, void *buf, size_t len, uint64_t offset)
{
    memcpy(buf, (const uint8_t *)opaque + offset, len);
    return 0;
}

static void test_roots(void **state)
{
    (void)state;
    /* a fake file: header 96 || (no chunks) table 48 at 96 || slots 8 || trailer */
    uint8_t file[96 + 48 + 8 + SMAR_TRAILER_BYTES];
    for (size_t i = 0; i < sizeof file; i++)
        file[i] = (uint8_t)(i * 7);
    smar_trailer t = sample_trailer();
    t.table_offset = 96;
    t.chunk_count = 1;
    t.slot_area_len = 8;
    uint8_t *T = file + 96 + 48 + 8;
    uint8_t key[32] = {9}, content[32], mac[32], root[32];
    smar_trailer_encode(T, &t);
    smar_content_hash(content, T, file, 96, file + 96, 48);
    smar_root2_mac(t.root_mac, key, content, T, file + 144, 8);
    smar_trailer_encode(T, &t);
    smar_root2_hash(t.root_hash, content, T, file + 144, 8);
    smar_trailer_encode(T, &t);
    bool matches = false;
    assert_int_equal(smar_root2_matches_raw(T, 96, 96, 48, 8, raw_read, file, &matches), 0);
    assert_true(matches);
    /* the content covers neither slots nor root fields; root_mac covers slots */
    uint8_t content2[32];
    file[144] ^= 1;
    smar_content_hash(content2, T, file, 96, file + 96, 48);
    assert_memory_equal(content, content2, 32);
    smar_root2_mac(mac, key, content, T, file + 144, 8);
    assert_memory_not_equal(mac, t.root_mac, 32);
    assert_int_equal(smar_root2_matches_raw(T, 96, 96, 48, 8, raw_read, file, &matches), 0);
    assert_false(matches);
    file[144] ^= 1;
    /* any byte of header, table, positions, signer changes the content */
    size_t covered[] = {0, 95, 96, 143};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(covered); i++) {
        file[covered[i]] ^= 1;
        smar_content_hash(content2, T, file, 96, file + 96, 48);
        assert_memory_not_equal(content, content2, 32);
        file[covered[i]] ^= 1;
    }
    size_t in_trailer[] = {0, 35, 104, 135, 200, 215};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(in_trailer); i++) {
        T[in_trailer[i]] ^= 1;
        smar_content_hash(content2, T, file, 96, file + 96, 48);
        assert_memory_not_equal(content, content2, 32);
        T[in_trailer[i]] ^= 1;
    }
    /* the signature's bytes are under the root hash, not the content */
    T[150] ^= 1;
    smar_content_hash(content2, T, file, 96, file + 96, 48);
    assert_memory_equal(content, content2, 32);
    smar_root2_hash(root, content, T, file + 144, 8);
    assert_memory_not_equal(root, t.root_hash, 32);
    T[150] ^= 1;
    uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
    smar_signed2_message(msg, g_id, content);
    assert_memory_equal(msg, "smar/v2 signatur", 16);
    assert_memory_equal(msg + 32, content, 32);
}

static void test_signature2(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], content[32] = {5};
    crypto_sign_keypair(pk, sk);
    smar_trailer t = sample_trailer();
    uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
    smar_signed2_message(msg, t.archive_id, content);
    crypto_sign_detached(t.signature, NULL, msg, sizeof msg, sk);
    assert_false(smar_signature2_ok(&t, content, pk)); /* not flagged as signed */
    t.flags = SMAR_TRAILER_SIGNED;
    assert_true(smar_signature2_ok(&t, content, pk));
    content[0] ^= 1;
    assert_false(smar_signature2_ok(&t, content, pk));
}

/* ---- chunks: framing, padding ------------------------------------------------------------ */

static void test_pad_rule(void **state)
{
    (void)state;
    assert_int_equal(smar_pad_granule(1), 4096);
    assert_int_equal(smar_pad_granule(32767), 4096);
    assert_int_equal(smar_pad_granule(32768), 4096);
    assert_int_equal(smar_pad_granule(65536), 8192);
    assert_int_equal(smar_pad_granule((1u << 20) + 5), 1u << 17);
    assert_int_equal(smar_pad_len(0, 100, 65536), 3996);
    assert_int_equal(smar_pad_len(4000, 96, 65536), 0);
    assert_int_equal(smar_pad_len(65536, 1, 1u << 20), 8191);
    /* clamped to the largest sealed plaintext */
    size_t max = smar_sealed_max(65536);
    assert_int_equal(smar_pad_len((1u << 20) + 1 - (max - 100), max - 100, 65536), 100);
    assert_int_equal(smar_pad_len((1u << 20) + 1, max - 3, 65536), 3);
}

static void test_sealed_body(void **state)
{
    (void)state;
    uint8_t p[16] = {3, 0, 0, 0, 'a', 'b', 'c'};
    const uint8_t *body;
    size_t len;
    smar_err e;
    assert_int_equal(smar_sealed_body(p, sizeof p, &body, &len, &e), SMAR_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(body, "abc", 3);
    p[15] = 1; /* padding */
    assert_int_equal(smar_sealed_body(p, sizeof p, &body, &len, &e), SMAR_E_FORMAT);
    p[15] = 0;
    p[0] = 13; /* body_len = |P| - 4 - ... */
    assert_int_equal(smar_sealed_body(p, sizeof p, &body, &len, &e), SMAR_E_FORMAT);
    p[0] = 12;
    assert_int_equal(smar_sealed_body(p, sizeof p, &body, &len, &e), SMAR_OK);
    assert_int_equal(smar_sealed_body(p, 3, &body, &len, &e), SMAR_E_FORMAT);
}

static void test_chunk_v2_round_trip(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, raw[65536], plain[65536];
    smar_chunker ck;
    smar_buf out = {0};
    smar_err e;
    size_t n;
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i % 13);
    assert_int_equal(smar_chunker_init_format(&ck, SMAR_FORMAT_V2, SMAR_SUITE_XCHACHA20POLY1305_ID,
                                              3, 65536, key, g_id),
                     SMAR_OK);
    /* payload: raw body, padded to 4096 */
    smar_chunk_pos pos = {0, SMAR_SEC_PAYLOAD, SMAR_CHUNK_LAST, 0};
    assert_int_equal(smar_chunk_seal_padded(&ck, &pos, 0, raw, 1000, &out, &e), SMAR_OK);
    assert_int_equal(out.len, 4096 + SMAR_TAG_BYTES);
    assert_int_equal(smar_chunk_open(&ck, &pos, out.data, out.len, plain, &n, &e), SMAR_OK);
    assert_int_equal(n, 1000);
    assert_memory_equal(plain, raw, 1000);
    /* manifest: a compressed body, unpadded */
    pos = (smar_chunk_pos){1, SMAR_SEC_MANIFEST, 0, 0};
    assert_int_equal(smar_chunk_seal(&ck, &pos, raw, sizeof raw, &out, &e), SMAR_OK);
    assert_true(out.len < 2000);
    assert_int_equal(smar_chunk_open(&ck, &pos, out.data, out.len, plain, &n, &e), SMAR_OK);
    assert_int_equal(n, sizeof raw);
    assert_memory_equal(plain, raw, sizeof raw);
    /* a v1 chunker does not open it (another label) */
    smar_chunker v1;
    assert_int_equal(smar_chunker_init(&v1, SMAR_SUITE_XCHACHA20POLY1305_ID, 3, 65536, key, g_id),
                     SMAR_OK);
    assert_int_equal(smar_chunk_open(&v1, &pos, out.data, out.len, plain, &n, &e), SMAR_E_AUTH);
    assert_int_equal(smar_chunk_stored_max_format(2, 65536), smar_sealed_max(65536) + 16);
    smar_chunker_free(&v1);
    smar_chunker_free(&ck);
    smar_buf_free(&out);
}

/* The zstd contexts come on first use: opening a raw (index or payload) chunk makes none,
 * a compressed one makes the decompression context only, sealing one the other. A chain
 * lookup opens a reader per base and used to make and wipe both every time. */
static void test_chunker_contexts_on_first_use(void **state)
{
    (void)state;
    uint8_t key[32] = {2}, raw[4096], plain[4096];
    smar_chunker writer, reader;
    smar_buf index = {0}, meta = {0};
    smar_err e;
    size_t n;
    memset(raw, 'i', sizeof raw);
    assert_int_equal(smar_chunker_init_format(&writer, SMAR_FORMAT_V2,
                                              SMAR_SUITE_XCHACHA20POLY1305_ID, 3, 4096, key, g_id),
                     SMAR_OK);
    assert_int_equal(smar_chunker_init_format(&reader, SMAR_FORMAT_V2,
                                              SMAR_SUITE_XCHACHA20POLY1305_ID, 3, 4096, key, g_id),
                     SMAR_OK);
    assert_null(reader.cctx);
    assert_null(reader.dctx);
    smar_chunk_pos ipos = {0, SMAR_SEC_INDEX, SMAR_CHUNK_LAST, 0};
    smar_chunk_pos mpos = {1, SMAR_SEC_META, SMAR_CHUNK_LAST, 0};
    assert_int_equal(smar_chunk_seal(&writer, &ipos, raw, sizeof raw, &index, &e), SMAR_OK);
    assert_null(writer.cctx); /* raw body: nothing to compress */
    assert_int_equal(smar_chunk_seal(&writer, &mpos, raw, sizeof raw, &meta, &e), SMAR_OK);
    assert_non_null(writer.cctx);
    assert_null(writer.dctx);
    assert_int_equal(smar_chunk_open(&reader, &ipos, index.data, index.len, plain, &n, &e),
                     SMAR_OK);
    assert_null(reader.dctx);
    assert_int_equal(smar_chunk_open(&reader, &mpos, meta.data, meta.len, plain, &n, &e), SMAR_OK);
    assert_int_equal(n, sizeof raw);
    assert_memory_equal(plain, raw, sizeof raw);
    assert_non_null(reader.dctx);
    assert_null(reader.cctx);
    smar_chunker_free(&writer);
    smar_chunker_free(&reader);
    smar_buf_free(&index);
    smar_buf_free(&meta);
}

/* Seal P (already framed) directly, to show what the reader does with bad framing. */
static void test_chunk_v2_bad_frame(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, plain[65536], p[64] = {0};
    uint8_t nonce[24] = {0}, aad[16 + 16 + 8 + 1 + 1 + 4], out[64 + 16];
    smar_chunker ck;
    smar_err e;
    size_t n;
    assert_int_equal(smar_chunker_init_format(&ck, SMAR_FORMAT_V2, SMAR_SUITE_XCHACHA20POLY1305_ID,
                                              3, 65536, key, g_id),
                     SMAR_OK);
    memcpy(aad, "smar/v2 chunk\0\0\0", 16);
    memcpy(aad + 16, g_id, 16);
    memset(aad + 32, 0, 14);
    aad[40] = SMAR_SEC_INDEX; /* chunk 0 of the index section, seq 0, not last */
    nonce[8] = SMAR_SEC_INDEX;
    smar_chunk_pos pos = {0, SMAR_SEC_INDEX, 0, 0};
    struct {
        uint32_t body_len;
        size_t nonzero_at; /* 0: none */
        int want;
    } cases[] = {
        {28, 0, SMAR_OK}, {61, 0, SMAR_E_FORMAT}, {28, 40, SMAR_E_FORMAT}, {0, 0, SMAR_E_LIMIT}};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        memset(p, 0, sizeof p);
        smar_store_u32(p, cases[i].body_len);
        memset(p + 4, 0x42, cases[i].body_len <= 60 ? cases[i].body_len : 0);
        if (cases[i].nonzero_at)
            p[cases[i].nonzero_at] = 1;
        smar_aead_seal(SMAR_SUITE_XCHACHA20POLY1305_ID, out, p, sizeof p, aad, sizeof aad, nonce,
                       key);
        assert_int_equal(smar_chunk_open(&ck, &pos, out, sizeof out, plain, &n, &e), cases[i].want);
    }
    smar_chunker_free(&ck);
}

/* ---- payload records and locators ------------------------------------------------------- */

static void test_payload_coding(void **state)
{
    (void)state;
    uint8_t key[32] = {1};
    smar_chunker ck;
    smar_buf stored = {.secure = true}, plain = {.secure = true};
    smar_err e;
    uint8_t coding;
    char text[4000];
    memset(text, 'x', sizeof text);
    assert_int_equal(smar_chunker_init_format(&ck, SMAR_FORMAT_V2, SMAR_SUITE_XCHACHA20POLY1305_ID,
                                              3, 65536, key, g_id),
                     SMAR_OK);
    assert_int_equal(
        smar_payload_encode(&ck, (const uint8_t *)text, sizeof text, &stored, &coding, &e),
        SMAR_OK);
    assert_int_equal(coding, SMAR_CODING_ZSTD);
    assert_true(stored.len < 100);
    assert_int_equal(
        smar_payload_decode(&ck, stored.data, stored.len, coding, sizeof text, &plain, &e),
        SMAR_OK);
    assert_int_equal(plain.len, sizeof text);
    assert_memory_equal(plain.data, text, sizeof text);
    /* declared size must equal plain_len, checked before decompressing */
    assert_int_equal(
        smar_payload_decode(&ck, stored.data, stored.len, coding, sizeof text - 1, &plain, &e),
        SMAR_E_FORMAT);
    /* trailing bytes after the frame */
    smar_buf_append(&stored, "z", 1);
    assert_int_equal(
        smar_payload_decode(&ck, stored.data, stored.len, coding, sizeof text, &plain, &e),
        SMAR_E_FORMAT);
    assert_int_equal(smar_payload_decode(&ck, stored.data, stored.len, 2, sizeof text, &plain, &e),
                     SMAR_E_FORMAT);
    /* short: raw */
    assert_int_equal(
        smar_payload_encode(&ck, (const uint8_t *)"{\"a\":1}", 7, &stored, &coding, &e), SMAR_OK);
    assert_int_equal(coding, SMAR_CODING_RAW);
    assert_int_equal(stored.len, 7);
    assert_int_equal(smar_payload_decode(&ck, stored.data, 7, SMAR_CODING_RAW, 7, &plain, &e),
                     SMAR_OK);
    assert_int_equal(smar_payload_decode(&ck, stored.data, 7, SMAR_CODING_RAW, 6, &plain, &e),
                     SMAR_E_FORMAT);
    assert_int_equal(
        smar_payload_decode(&ck, stored.data, 7, SMAR_CODING_RAW, (64u << 20) + 1, &plain, &e),
        SMAR_E_LIMIT);
    smar_chunker_free(&ck);
    smar_buf_free(&stored);
    smar_buf_free(&plain);
}

/* A record with one payload locator (the secret's), encoded in format 2. */
static void encode_record(smar_buf *out, const smar_locator *loc)
{
    smar_srec r = {0};
    smar_err e;
    r.id = (smar_span){"id-1", 4};
    r.type = (smar_span){"arbitrary", 9};
    r.name = (smar_span){"n", 1};
    r.group = (smar_span){"default", 7};
    r.meta = (smar_span){"{}", 2};
    r.has_payload = true;
    r.payload = *loc;
    smar_buf_reset(out);
    assert_int_equal(smar_record_encode_format(&r, SMAR_FORMAT_V2, out, &e), SMAR_OK);
}

static void test_locator_v2(void **state)
{
    (void)state;
    smar_locator loc = {7, 9, 100, {0x33}, SMAR_CODING_ZSTD, 5000, 0};
    smar_buf b = {0};
    smar_secret *s;
    smar_err e;
    encode_record(&b, &loc);
    assert_int_equal(smar_record_decode_format(&s, 2, b.data + 4, b.len - 4, &e), SMAR_OK);
    assert_int_equal(s->payload.seq, 7);
    assert_int_equal(s->payload.offset, 9);
    assert_int_equal(s->payload.length, 100);
    assert_int_equal(s->payload.coding, SMAR_CODING_ZSTD);
    assert_int_equal(s->payload.plain_len, 5000);
    assert_int_equal(s->payload.hash[0], 0x33);
    smar_secret *dup = smar_secret_dup(s);
    assert_non_null(dup);
    assert_int_equal(dup->payload.plain_len, 5000);
    smar_secret_free(dup);
    smar_secret_free(s);
    /* the v1 decoder does not read it */
    assert_int_not_equal(smar_record_decode(&s, b.data + 4, b.len - 4, &e), SMAR_OK);
    /* the locator sits before the u32 version count at the end: find it from the end */
    size_t at = b.len - 4 - 32 - 4 - 1 - 4 - 4 - 4 - 1; /* present */
    assert_int_equal(b.data[at], 1);
    struct {
        size_t off;
        uint8_t v;
        int want;
    } bad[] = {{0, 2, SMAR_E_FORMAT},     /* present */
               {13, 2, SMAR_E_FORMAT},    /* coding */
               {12, 0x40, SMAR_E_LIMIT},  /* stored_len over the bound */
               {17, 0x40, SMAR_E_LIMIT}}; /* plain_len over 64 MiB */
    for (size_t i = 0; i < SMAR_ARRAY_LEN(bad); i++) {
        uint8_t old = b.data[at + bad[i].off];
        b.data[at + bad[i].off] = bad[i].v;
        int rc = smar_record_decode_format(&s, 2, b.data + 4, b.len - 4, &e);
        assert_int_equal(rc, bad[i].want);
        b.data[at + bad[i].off] = old;
    }
    /* raw with stored_len != plain_len, and stored_len 0 */
    loc.coding = SMAR_CODING_RAW;
    encode_record(&b, &loc);
    assert_int_equal(smar_record_decode_format(&s, 2, b.data + 4, b.len - 4, &e), SMAR_E_FORMAT);
    loc.plain_len = 100;
    encode_record(&b, &loc);
    assert_int_equal(smar_record_decode_format(&s, 2, b.data + 4, b.len - 4, &e), SMAR_OK);
    smar_secret_free(s);
    loc.length = loc.plain_len = 0;
    encode_record(&b, &loc);
    assert_int_equal(smar_record_decode_format(&s, 2, b.data + 4, b.len - 4, &e), SMAR_E_FORMAT);
    smar_buf_free(&b);
}

static void test_subkeys_v2(void **state)
{
    (void)state;
    uint8_t dek[32] = {4}, want[32];
    smar_keys *k1 = smar_keys_derive(dek), *k2 = smar_keys_derive_format(2, dek);
    assert_non_null(k1);
    assert_non_null(k2);
    crypto_kdf_derive_from_key(want, 32, 2, "smar-v2\0", dek);
    assert_memory_equal(k2->chunk, want, 32);
    assert_memory_not_equal(k1->chunk, k2->chunk, 32);
    uint8_t zero[32] = {0};
    assert_memory_equal(k2->header_mac, zero, 32);
    smar_keys_free(k1);
    smar_keys_free(k2);
}

int main(void)
{
    if (smar_init())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_bad_fields),
        cmocka_unit_test(test_header_longer_minor),
        cmocka_unit_test(test_dek_commit),
        cmocka_unit_test(test_slots_round_trip),
        cmocka_unit_test(test_slot_aad_ignores_version),
        cmocka_unit_test(test_slots_bad_fields),
        cmocka_unit_test(test_slots_version_zero),
        cmocka_unit_test(test_trailer_v2),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_signature2),
        cmocka_unit_test(test_pad_rule),
        cmocka_unit_test(test_sealed_body),
        cmocka_unit_test(test_chunk_v2_round_trip),
        cmocka_unit_test(test_chunker_contexts_on_first_use),
        cmocka_unit_test(test_chunk_v2_bad_frame),
        cmocka_unit_test(test_payload_coding),
        cmocka_unit_test(test_locator_v2),
        cmocka_unit_test(test_subkeys_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
