/*
 * fuzz_archive_open.c - a whole file as an archive, without a key, in either format: the
 * trailer, the header, the key slots (format 1: in the header; format 2: the slot area
 * before the trailer), the chunk table (smar_reader_open_source), what open reports, a
 * keyless verify (every chunk hash, the root, the signature) and an unlock attempt with the
 * test keyring (slot matching and unwrapping of a forged slot). Seeds of both formats:
 * v1-*.smar (frozen: writers no longer write format 1) and v2-*.smar (fuzz/make_seeds.c).
 */
#include <string.h>

#include "common.h"
#include "format.h" /* SMAR_SLOTS2_MAX, SMAR_KEY_ID2_MAX */

static int g_problems;

static void on_problem(const smar_problem *p, void *payload)
{
    (void)payload;
    FZ_CHECK(p->detail != NULL);
    g_problems++;
}

static void inspect(smar_reader *r)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    smar_slot_info slot = SMAR_SLOT_INFO_INIT;
    char hex[33];
    FZ_CHECK(smar_reader_info(r, &info) == SMAR_OK);
    FZ_CHECK(info.suite != NULL && info.compression != NULL);
    bool v2 = info.version_major == 2;
    FZ_CHECK(info.version_major == 1 || v2);
    FZ_CHECK(info.slot_count >= 1 &&
             info.slot_count <= (v2 ? SMAR_SLOTS2_MAX : SMAR_MAX_KEY_SLOTS));
    FZ_CHECK(info.chunk_size >= SMAR_CHUNK_SIZE_MIN && info.chunk_size <= SMAR_CHUNK_SIZE_MAX);
    uint64_t chunks = 0;
    for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_META; s++)
        chunks += info.section_chunks[s];
    FZ_CHECK(chunks == info.chunk_count && info.section_chunks[SMAR_SECTION_META] > 0);
    smar_archive_id_hex(info.archive_id, hex);
    for (size_t i = 0; i < info.slot_count; i++) {
        FZ_CHECK(smar_reader_slot(r, i, &slot) == SMAR_OK);
        FZ_CHECK(strlen(slot.key_id) >= 1 &&
                 strlen(slot.key_id) <= (v2 ? SMAR_KEY_ID2_MAX : SMAR_KEY_ID_MAX));
        FZ_CHECK(slot.provider != NULL && slot.provider_id != 0);
        FZ_CHECK((slot.key_version > 0) == (slot.version_kind == 1));
        FZ_CHECK((slot.version_string != NULL) == (slot.version_kind == 2));
        FZ_CHECK(v2 || (slot.version_kind == 1 && slot.flags == 0));
    }
    FZ_CHECK(smar_reader_slot(r, info.slot_count, &slot) == SMAR_E_INVALID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    smar_keyring *kr = fz_keyring();
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    smar_signkey_public(fz_signkey(), pk);

    fz_mem mem = {data, size};
    smar_source src = fz_mem_source(&mem);
    smar_reader *r;
    if (smar_reader_new(&r) != SMAR_OK)
        return 0;
    int rc = smar_reader_open_source(r, &src, "fuzz");
    if (rc == SMAR_OK) {
        smar_verify_result res = SMAR_VERIFY_RESULT_INIT;
        inspect(r);
        rc = smar_reader_verify(r, 0, NULL, &res, on_problem, NULL, NULL);
        FZ_CHECK(res.chunks_bad <= res.chunks_checked);
        smar_reader_set_threads(r, size % 8 == 0 ? 2 : 1); /* sometimes the parallel scan */
        (void)smar_reader_verify(r, 0, pk, &res, on_problem, NULL, NULL);
        (void)smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, &res, NULL, NULL, NULL);
        if (smar_reader_unlock(r, &kr, 1) == SMAR_OK)
            fz_exercise_unlocked(r); /* only with a slot this process made: not expected */
    } else {
        FZ_CHECK(rc < 0 && smar_reader_error(r) != NULL);
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        (void)smar_reader_info(r, &info); /* a failed open still answers */
    }
    smar_reader_free(r);
    return 0;
}
