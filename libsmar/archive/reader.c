/*
 * reader.c - opening an archive, unlocking it, and finding secrets (spec/FORMAT.md,
 * "Reading").
 *
 * Open reads the trailer (one suffix read), the header and the chunk table, and checks
 * their structure against the file before allocating anything they declare. Unlock opens a
 * key slot and authenticates the header and the root, which covers the chunk table; from
 * then on each chunk read is authenticated by its AEAD tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "json.h"
#include "reader_internal.h"
#include "keyring_internal.h"
#include "readahead.h"

int smar_reader_new(smar_reader **out)
{
    smar_reader *r = calloc(1, sizeof *r);
    *out = r;
    if (!r)
        return SMAR_E_NOMEM;
    for (int s = 0; s < SMAR_SEC_COUNT; s++)
        r->cache[s][0].seq = r->cache[s][1].seq = r->last_miss[s] = -1;
    return SMAR_OK;
}

static void drop_cache(smar_reader *r)
{
    smar_readahead_free(r->ra); /* its workers read the tables and use the keys */
    r->ra = NULL;
    if (r->index_chunks) {
        for (size_t i = 0; r->index_lens && i < r->counts[SMAR_SEC_INDEX]; i++)
            smar_wipe_free(r->index_chunks[i], r->index_lens[i]);
        free(r->index_chunks);
        free(r->index_lens);
        r->index_chunks = NULL;
        r->index_lens = NULL;
    }
    for (int s = 0; s < SMAR_SEC_COUNT; s++) {
        for (int k = 0; k < 2; k++) {
            smar_plain_free(&r->cache[s][k].plain);
            r->cache[s][k].seq = -1;
        }
    }
}

void smar_reader_free(smar_reader *r)
{
    if (!r)
        return;
    drop_cache(r);
    smar_wipe_free_str(r->name_hit_id);
    if (r->src.close)
        r->src.close(r->src.opaque);
    if (r->have_ck)
        smar_chunker_free(&r->ck);
    smar_keys_free(r->keys);
    smar_meta_free(&r->meta);
    for (size_t i = 0; i < r->ngroups; i++) {
        smar_wipe_free_str(r->group_ids[i]);
        smar_wipe_free_str(r->group_names[i]);
    }
    free(r->group_ids);
    free(r->group_names);
    for (int s = 0; s < SMAR_SEC_COUNT; s++)
        free(r->section_chunks[s]);
    free(r->seq_of);
    free(r->plain_len);
    free(r->header_bytes);
    smar_secure_free(r->dek);
    free(r->slot_bytes);
    free(r->table_bytes);
    free(r->table);
    free(r->name);
    smar_buf_free(&r->stored);
    free(r);
}

const char *smar_reader_error(const smar_reader *r)
{
    return r ? smar_err_message(&r->err) : "no reader";
}

int smar_reader_die(smar_reader *r, int rc)
{
    if (r->chunk_damaged) {
        r->chunk_damaged = false;
        return rc;
    }
    if (rc == SMAR_E_AUTH || rc == SMAR_E_CORRUPT || rc == SMAR_E_FORMAT) {
        r->state = R_DEAD;
        drop_cache(r);
    }
    return rc;
}

int smar_reader_read_at(smar_reader *r, void *buf, size_t n, uint64_t offset)
{
    return smar_source_read(&r->src, buf, n, offset, &r->err);
}

int smar_reader_open_fd(smar_reader *r, int fd, const char *name)
{
    smar_source src;
    if (!r || fd < 0 || !name)
        return SMAR_E_INVALID;
    if (smar_fd_source(&src, fd) != SMAR_OK)
        return smar_fail(&r->err, SMAR_E_IO, "'%s' is not a regular file", name);
    return smar_reader_open_source(r, &src, name);
}

int smar_reader_open(smar_reader *r, const char *path)
{
    if (!r || !path)
        return SMAR_E_INVALID;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return smar_fail(&r->err, SMAR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    int rc = smar_reader_open_fd(r, fd, path);
    if (rc != SMAR_OK)
        close(fd);
    return rc;
}

/* ---- open: trailer, header, chunk table --------------------------------------------- */

static int read_trailer(smar_reader *r)
{
    uint8_t raw[SMAR_TRAILER_BYTES];
    uint64_t size = r->src.size;
    int rc;
    if (size < SMAR_HEADER_FIXED_BYTES + SMAR_TRAILER_BYTES)
        return smar_fail(&r->err, SMAR_E_FORMAT, "too short to be an smar archive");
    if ((rc = smar_reader_read_at(r, raw, sizeof raw, size - SMAR_TRAILER_BYTES)))
        return rc;
    if ((rc = smar_trailer_decode(&r->trailer, raw, &r->err)))
        return rc;
    /* format 2: the slot area lies between the table and the trailer */
    uint64_t table_len =
        (uint64_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES + r->trailer.slot_area_len;
    if (r->trailer.table_offset > size - SMAR_TRAILER_BYTES ||
        table_len != size - SMAR_TRAILER_BYTES - r->trailer.table_offset)
        return smar_fail(&r->err, SMAR_E_CORRUPT,
                         "the chunk table does not fit the file: truncated or extended");
    r->format = r->trailer.version_major;
    return SMAR_OK;
}

/* Format 1 slots as format 2 views, so that choosing and reporting slots is one path. */
static void view_v1_slots(smar_reader *r)
{
    r->nslots = r->hdr.slot_count;
    for (unsigned i = 0; i < r->nslots; i++) {
        const smar_slot *v1 = &r->hdr.slots[i];
        smar_slot2 *s = &r->slots[i];
        memset(s, 0, sizeof *s);
        s->provider = v1->provider;
        s->key_id_len = v1->key_id_len;
        memcpy(s->key_id, v1->key_id, (size_t)v1->key_id_len + 1);
        s->version_kind = SMAR_VKIND_NUMBER;
        s->version_number = v1->key_version;
        s->wrapped_len = v1->wrapped_len;
        s->wrapped = v1->wrapped;
    }
}

/* Seconds to the API's nanoseconds (format 2's created); absent stays absent. */
static int64_t seconds_to_ns(int64_t s)
{
    if (s == SMAR_TIME_NONE)
        return SMAR_TIME_NONE;
    if (s > INT64_MAX / 1000000000)
        return INT64_MAX;
    if (s < INT64_MIN / 1000000000 + 1)
        return INT64_MIN + 1;
    return s * 1000000000;
}

/* The shared fields of a format 2 header, where the rest of the reader reads them. */
static void share_v2_fields(smar_reader *r)
{
    const smar_header2 *h = &r->hdr2;
    r->hdr.version_major = h->version_major;
    r->hdr.version_minor = h->version_minor;
    r->hdr.header_len = h->header_len;
    r->hdr.suite = h->suite;
    r->hdr.compression = h->compression;
    r->hdr.chunk_size = h->chunk_size;
    memcpy(r->hdr.archive_id, h->archive_id, SMAR_ARCHIVE_ID_BYTES);
    r->hdr.created = seconds_to_ns(h->created);
    r->hdr.snapshot = h->snapshot;
}

static int read_header_bytes(smar_reader *r, uint32_t len)
{
    if (len != r->trailer.header_len || len > r->trailer.table_offset)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "header length disagrees with the trailer");
    if (!(r->header_bytes = malloc(len)))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    return smar_reader_read_at(r, r->header_bytes, len, 0);
}

static int read_header_v1(smar_reader *r, const uint8_t *fixed, size_t n)
{
    uint32_t len;
    int rc;
    if ((rc = smar_header_peek(fixed, n, &len, &r->err)) || (rc = read_header_bytes(r, len)) ||
        (rc = smar_header_parse(&r->hdr, r->header_bytes, len, &r->err)))
        return rc;
    view_v1_slots(r);
    return SMAR_OK;
}

static int read_header_v2(smar_reader *r, const uint8_t *fixed, size_t n)
{
    uint32_t len;
    int rc;
    if ((rc = smar_header2_peek(fixed, n, &len, &r->err)) || (rc = read_header_bytes(r, len)))
        return rc;
    rc = smar_header2_parse(&r->hdr2, r->header_bytes, len, &r->err);
    /* A bad base list is a clear-header value like a flag (FORMAT.md §26.1, §16.3): damaged
     * when the root hash no longer recomputes, else a producer's doing (unsupported). */
    if ((rc == SMAR_E_FORMAT || rc == SMAR_E_LIMIT) &&
        (smar_load_u32(r->header_bytes + 16) & SMAR_HEADER2_FLAG_INCREMENTAL))
        rc = SMAR_E_VERSION;
    if (rc)
        return rc;
    share_v2_fields(r);
    return SMAR_OK;
}

/* The header, by the major version it states (it must be the trailer's). */
static int read_header(smar_reader *r)
{
    uint8_t fixed[SMAR_HEADER2_BYTES];
    size_t n = r->src.size < sizeof fixed ? (size_t)r->src.size : sizeof fixed;
    int rc;
    if ((rc = smar_reader_read_at(r, fixed, n, 0)))
        return rc;
    if (n < SMAR_HEADER_FIXED_BYTES || memcmp(fixed, SMAR_MAGIC, SMAR_MAGIC_BYTES) != 0)
        return smar_fail(&r->err, SMAR_E_FORMAT, "not an smar archive (bad magic)");
    uint16_t major = smar_load_u16(fixed + 8);
    if (major != SMAR_FORMAT_V1 && major != SMAR_FORMAT_V2)
        return smar_fail(&r->err, SMAR_E_VERSION,
                         "unsupported archive format version %u (this smar reads versions 1 "
                         "and 2)",
                         major);
    if (major != r->format)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "header and trailer disagree on the version");
    rc = major == SMAR_FORMAT_V1 ? read_header_v1(r, fixed, n) : read_header_v2(r, fixed, n);
    if (rc)
        return rc;
    if (r->hdr.version_minor != r->trailer.version_minor)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "header and trailer disagree on the version");
    if (memcmp(r->hdr.archive_id, r->trailer.archive_id, SMAR_ARCHIVE_ID_BYTES) != 0)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "header and trailer name different archives");
    return SMAR_OK;
}

/* Format 2: the key slot area after the chunk table. */
static int read_slots(smar_reader *r)
{
    if (r->format != SMAR_FORMAT_V2)
        return SMAR_OK;
    uint32_t n = r->trailer.slot_area_len; /* 4..65536, fits the file (read_trailer) */
    uint64_t at =
        r->trailer.table_offset + (uint64_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES;
    int rc;
    if (!(r->slot_bytes = malloc(n)))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if ((rc = smar_reader_read_at(r, r->slot_bytes, n, at)) ||
        (rc = smar_slot_area_parse(r->slots, &r->nslots, r->slot_bytes, n, &r->err)))
        return rc;
    r->hdr.slot_count = (uint16_t)r->nslots;
    return SMAR_OK;
}

/* AES-256-GCM archives hold at most 2^36 bytes of sealed plaintext (format 2). */
static int check_gcm_cap(smar_reader *r)
{
    if (r->format != SMAR_FORMAT_V2 || r->hdr.suite != SMAR_SUITE_AES256GCM_ID ||
        (uint64_t)r->trailer.chunk_count * r->hdr.chunk_size <= SMAR_GCM_PLAINTEXT_CAP)
        return SMAR_OK;
    return smar_fail(&r->err, SMAR_E_LIMIT,
                     "%u chunks of %u bytes exceed what AES-256-GCM may seal under one key",
                     r->trailer.chunk_count, r->hdr.chunk_size);
}

static int map_sections(smar_reader *r)
{
    uint32_t fill[SMAR_SEC_COUNT] = {0};
    for (int s = 1; s < SMAR_SEC_COUNT; s++)
        if (!(r->section_chunks[s] = malloc((r->counts[s] + 1) * sizeof(uint32_t))))
            return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (!(r->seq_of = malloc(((size_t)r->trailer.chunk_count + 1) * sizeof(uint32_t))) ||
        !(r->plain_len = calloc((size_t)r->trailer.chunk_count + 1, sizeof(uint32_t))))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        uint8_t s = r->table[i].section;
        r->seq_of[i] = fill[s];
        r->section_chunks[s][fill[s]++] = i;
    }
    return SMAR_OK;
}

static int read_table(smar_reader *r)
{
    uint32_t n = r->trailer.chunk_count;
    size_t len = (size_t)n * SMAR_TABLE_ENTRY_BYTES; /* checked against the file size */
    int rc;
    if (!(r->table_bytes = malloc(len)) || !(r->table = calloc(n, sizeof *r->table)))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory for %u chunk table entries", n);
    if ((rc = smar_reader_read_at(r, r->table_bytes, len, r->trailer.table_offset)))
        return rc;
    /* the digests section (2.2) exists exactly when the header announces it: an entry of
     * section 5 in another archive is as malformed as an unknown section */
    bool digests =
        r->format == SMAR_FORMAT_V2 && (r->hdr2.flags & SMAR_HEADER2_FLAG_EXPORT_DIGESTS);
    for (uint32_t i = 0; i < n; i++)
        if (!smar_table_entry_decode(&r->table[i], r->table_bytes + (size_t)i * 48) ||
            (r->table[i].section == SMAR_SEC_DIGESTS && !digests))
            return smar_fail(&r->err, SMAR_E_FORMAT, "chunk table entry %u is malformed", i);
    rc = smar_table_check(r->table, n, r->trailer.header_len, r->trailer.table_offset,
                          smar_chunk_stored_max_format(r->format, r->hdr.chunk_size), r->counts,
                          r->bytes, &r->err);
    if (rc == SMAR_OK && digests && r->counts[SMAR_SEC_DIGESTS] == 0)
        rc = smar_fail(&r->err, SMAR_E_CORRUPT,
                       "'%s': the header announces export digests, the table has none", r->name);
    return rc ? rc : map_sections(r);
}

/* ---- damage or a newer format? (spec/FORMAT.md §16, "Unknown value or damage?") ----- */

/* Whether a trailer's positions are sound enough to recompute the root hash from it. */
static bool root_is_checkable(const uint8_t t[SMAR_TRAILER_BYTES], uint64_t size)
{
    uint64_t table_offset = smar_load_u64(t), count = smar_load_u32(t + 8);
    uint64_t header_len = smar_load_u32(t + 32), slots = smar_load_u32(t + 36);
    bool v2 = smar_load_u16(t + 200) == SMAR_FORMAT_V2;
    uint64_t header_min = v2 ? SMAR_HEADER2_BYTES : SMAR_HEADER_FIXED_BYTES + SMAR_HEADER_MAC_BYTES;
    uint64_t header_max = v2 ? SMAR_HEADER2_MAX : SMAR_HEADER_MAX_BYTES;
    if (!v2)
        slots = 0;
    return memcmp(t + 208, SMAR_TAIL_MAGIC, 8) == 0 &&
           smar_load_u32(t + 204) == SMAR_TRAILER_BYTES && count >= 1 && count <= SMAR_MAX_CHUNKS &&
           slots <= SMAR_SLOT_AREA_MAX && table_offset <= size - SMAR_TRAILER_BYTES &&
           count * SMAR_TABLE_ENTRY_BYTES + slots == size - SMAR_TRAILER_BYTES - table_offset &&
           header_len >= header_min && header_len <= header_max && header_len <= table_offset;
}

/* The file is damaged where it seemed to be of a newer format: say why, with what the
 * reader met first when keep_what_was_met (an unknown flag or suite). */
static int damaged_not_newer(smar_reader *r, bool keep_what_was_met, const char *why)
{
    char met[SMAR_ERRMSG_MAX];
    snprintf(met, sizeof met, "%s", keep_what_was_met ? r->err.msg : "");
    return smar_fail(&r->err, SMAR_E_CORRUPT, "damaged, not a newer format: %s%s%s", met,
                     *met ? ", and " : "", why);
}

/* A read for the root check of classify_unknown, which only needs to know it failed. */
static int raw_read(void *opaque, void *buf, size_t n, uint64_t offset)
{
    smar_err scratch;
    return smar_source_read(opaque, buf, n, offset, &scratch) == SMAR_OK ? 0 : -1;
}

/* The root hash recomputed from the raw bytes, by the trailer's major version. */
static int raw_root_matches(smar_reader *r, const uint8_t t[SMAR_TRAILER_BYTES], bool *intact)
{
    uint64_t header_len = smar_load_u32(t + 32), table_offset = smar_load_u64(t);
    uint64_t table_len = (uint64_t)smar_load_u32(t + 8) * SMAR_TABLE_ENTRY_BYTES;
    if (smar_load_u16(t + 200) == SMAR_FORMAT_V2)
        return smar_root2_matches_raw(t, header_len, table_offset, table_len, smar_load_u32(t + 36),
                                      raw_read, &r->src, intact);
    return smar_root_matches_raw(t, header_len, table_offset, table_len, raw_read, &r->src, intact);
}

/*
 * An unknown value in the clear header or trailer (SMAR_E_VERSION) was either written by a
 * newer producer (unsupported: the user needs a newer smar) or is damage. The file tells:
 * its two ends disagreeing on the major version means one end is format 1 and the other
 * was changed; with both ends at format 1, the header, table and trailer must still hash
 * to the root hash the trailer records, or they are not the bytes their producer wrote.
 * Both ends at another major version, or a file too broken to tell, stay unsupported.
 */
static int classify_unknown(smar_reader *r, int rc)
{
    uint8_t t[SMAR_TRAILER_BYTES], fixed[SMAR_HEADER_FIXED_BYTES];
    uint64_t size = r->src.size;
    bool intact = true;
    if (rc != SMAR_E_VERSION || size < SMAR_HEADER_FIXED_BYTES + SMAR_TRAILER_BYTES ||
        raw_read(&r->src, t, sizeof t, size - sizeof t) != 0 ||
        raw_read(&r->src, fixed, sizeof fixed, 0) != 0 ||
        memcmp(fixed, SMAR_MAGIC, SMAR_MAGIC_BYTES) != 0)
        return rc;
    unsigned header_major = smar_load_u16(fixed + 8), trailer_major = smar_load_u16(t + 200);
    bool header_known = header_major == SMAR_FORMAT_V1 || header_major == SMAR_FORMAT_V2;
    bool trailer_known = trailer_major == SMAR_FORMAT_V1 || trailer_major == SMAR_FORMAT_V2;
    if (header_major != trailer_major && (header_known || trailer_known)) {
        char why[96];
        snprintf(why, sizeof why, "the header says format version %u, the trailer %u", header_major,
                 trailer_major);
        return damaged_not_newer(r, false, why);
    }
    if (!header_known || !root_is_checkable(t, size) || raw_root_matches(r, t, &intact) != 0 ||
        intact)
        return rc;
    return damaged_not_newer(r, true,
                             "the header, chunk table and trailer no longer hash to the root "
                             "hash the trailer records");
}

int smar_reader_open_source(smar_reader *r, const smar_source *src, const char *name)
{
    int rc;
    if (!r || !smar_source_usable(src))
        return SMAR_E_INVALID;
    if (r->state != R_NEW)
        return smar_fail(&r->err, SMAR_E_INVALID, "reader already opened");
    r->src = *src;
    r->name = strdup(name ? name : "archive");
    if ((rc = read_trailer(r)) || (rc = read_header(r)) || (rc = read_table(r)) ||
        (rc = read_slots(r)) || (rc = check_gcm_cap(r))) {
        rc = classify_unknown(r, rc);
        smar_err_prefix(&r->err, "'%s': ", r->name ? r->name : "archive");
        r->state = R_DEAD;
        r->src.close = NULL; /* on failure the caller keeps the source */
        return rc;
    }
    r->state = R_OPEN;
    return SMAR_OK;
}

int smar_reader_set_threads(smar_reader *r, unsigned threads)
{
    if (!r)
        return SMAR_E_INVALID;
    r->threads = threads == 0 ? 1 : threads > 64 ? 64 : threads;
    return SMAR_OK;
}

/* Bytes of each version of the filled structs (SMAR_VERSIONED_SIZE): each version appends
 * members, and its size is the offset of the next version's first member. */
static const size_t archive_info_sizes[] = {offsetof(smar_archive_info, incremental),
                                            offsetof(smar_archive_info, digests_chunks),
                                            sizeof(smar_archive_info)};
static const size_t slot_info_sizes[] = {offsetof(smar_slot_info, version_kind),
                                         sizeof(smar_slot_info)};

static int check_open(smar_reader *r, const void *out)
{
    if (!r || !out || r->state == R_NEW)
        return r && out ? smar_fail(&r->err, SMAR_E_INVALID, "no archive is open") : SMAR_E_INVALID;
    return SMAR_OK;
}

int smar_reader_info(smar_reader *r, smar_archive_info *out)
{
    int rc = check_open(r, out);
    if (rc == SMAR_OK)
        rc = smar_check_version(&r->err, out->version, SMAR_ARCHIVE_INFO_VERSION,
                                "smar_archive_info");
    if (rc != SMAR_OK)
        return rc;
    smar_archive_info info = {.version = out->version};
    info.version_major = r->hdr.version_major;
    info.version_minor = r->hdr.version_minor;
    memcpy(info.archive_id, r->hdr.archive_id, SMAR_ARCHIVE_ID_BYTES);
    info.created = r->hdr.created;
    info.snapshot = r->hdr.snapshot;
    info.suite = smar_suite_name(r->hdr.suite);
    info.compression = "zstd";
    info.chunk_size = r->hdr.chunk_size;
    info.slot_count = r->nslots;
    info.chunk_count = r->trailer.chunk_count;
    /* the public arrays stop at the meta section (their size is ABI): the digests section
     * (2.2) has its own members, version 3 */
    memcpy(info.section_chunks, r->counts, sizeof info.section_chunks);
    memcpy(info.section_bytes, r->bytes, sizeof info.section_bytes);
    info.digests_chunks = r->counts[SMAR_SEC_DIGESTS];
    info.digests_bytes = r->bytes[SMAR_SEC_DIGESTS];
    info.file_size = r->src.size;
    info.header_size = r->hdr.header_len;
    info.is_signed = (r->trailer.flags & SMAR_TRAILER_SIGNED) != 0;
    memcpy(info.signer, r->trailer.signer, 32);
    info.incremental = smar_reader_is_incremental(r);
    info.base_count = smar_reader_base_count(r);
    memcpy(out, &info, SMAR_VERSIONED_SIZE(archive_info_sizes, out->version));
    return SMAR_OK;
}

int smar_reader_slot(smar_reader *r, size_t i, smar_slot_info *out)
{
    int rc = check_open(r, out);
    if (rc == SMAR_OK)
        rc = smar_check_version(&r->err, out->version, SMAR_SLOT_INFO_VERSION, "smar_slot_info");
    if (rc != SMAR_OK)
        return rc;
    if (i >= r->nslots)
        return smar_fail(&r->err, SMAR_E_INVALID, "there is no key slot %zu (the archive has %zu)",
                         i, (size_t)r->nslots);
    static const char *const providers[] = {"unknown", "local", "x25519", "pkcs11", "kms"};
    const smar_slot2 *s = &r->slots[i];
    smar_slot_info slot = {.version = out->version};
    slot.key_id = s->key_id;
    slot.key_version = s->version_kind == SMAR_VKIND_NUMBER ? s->version_number : 0;
    slot.provider = s->provider < SMAR_ARRAY_LEN(providers) ? providers[s->provider] : "unknown";
    slot.version_kind = s->version_kind;
    slot.version_string = s->version_kind == SMAR_VKIND_STRING ? s->version_string : NULL;
    slot.provider_id = s->provider;
    slot.flags = s->flags;
    memcpy(out, &slot, SMAR_VERSIONED_SIZE(slot_info_sizes, out->version));
    return SMAR_OK;
}

void smar_archive_id_hex(const uint8_t id[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[32] = '\0';
}

/* ---- unlock ------------------------------------------------------------------------- */

/* A key provider that refused or could not be reached says nothing about the archive. */
static bool provider_problem(int rc)
{
    return rc == SMAR_E_DENIED || rc == SMAR_E_UNAVAILABLE;
}

/* Try every slot against every keyring holding its key id. When none opens, a provider
 * that refused or was unreachable is reported as such (the slot it held was not tried), not
 * as a key that does not fit. */
/* A slot's AAD, by the archive's format. */
static size_t slot_aad(const smar_reader *r, unsigned i, uint8_t aad[SMAR_SLOT2_AAD_MAX])
{
    _Static_assert(SMAR_SLOT_AAD_MAX <= SMAR_SLOT2_AAD_MAX, "AAD buffer");
    if (r->format == SMAR_FORMAT_V1)
        return smar_slot_aad(aad, &r->hdr, &r->hdr.slots[i]);
    return smar_slot2_aad(aad, r->hdr.archive_id, &r->slots[i]);
}

/* Whether this reader can try slot s with keyring kr: same provider and key id, flags it
 * understands (none for local and x25519: a slot with others is skipped, never fatal). Any
 * version kind: a string version (kind 2) goes to unwrap as version 0, like kind 0, since
 * a provider that records text keeps the version inside its blob (smar/provider.h). */
static bool slot_fits(const smar_slot2 *s, const smar_keyring *kr)
{
    return kr && s->provider == smar_keyring_provider_id(kr) && s->flags == 0 &&
           strcmp(smar_keyring_id(kr), s->key_id) == 0;
}

/* Format 2: the unwrapped DEK must be the one the header commits to (constant time). */
static int check_commit(const smar_reader *r, const uint8_t *dek)
{
    return r->format != SMAR_FORMAT_V2 || smar_dek_commit_ok(dek, &r->hdr2) ? SMAR_OK : SMAR_E_AUTH;
}

/* Try every slot against every keyring holding its key id. When none opens, a provider
 * that refused or was unreachable is reported as such (the slot it held was not tried), not
 * as a key that does not fit. */
static int open_slot(smar_reader *r, smar_keyring *const *keys, size_t nkeys, uint8_t *dek)
{
    uint8_t aad[SMAR_SLOT2_AAD_MAX];
    bool id_matched = false, auth_failed = false, not_found = false;
    int provider_rc = SMAR_OK;
    smar_err scratch = {0}, provider_err = {0}, notfound_err = {0};
    for (unsigned i = 0; i < r->nslots; i++) {
        const smar_slot2 *s = &r->slots[i];
        size_t aadlen = slot_aad(r, i, aad);
        for (size_t k = 0; k < nkeys; k++) {
            if (!slot_fits(s, keys[k]))
                continue;
            id_matched = true;
            int rc = smar_keyring_unwrap(keys[k], s->version_number, aad, aadlen, s->wrapped,
                                         s->wrapped_len, dek, &scratch);
            if (rc == SMAR_OK && (rc = check_commit(r, dek)) != SMAR_OK) {
                sodium_memzero(dek, SMAR_DEK_BYTES);
                return smar_fail(&r->err, SMAR_E_AUTH,
                                 "'%s': key slot %u opens to another data key than the header "
                                 "commits to: the slot or header was altered",
                                 r->name, i);
            }
            if (rc == SMAR_OK) {
                smar_reader_note_opener(r, i, keys[k]);
                return SMAR_OK;
            }
            if (provider_problem(rc) && provider_rc == SMAR_OK) {
                provider_rc = rc;
                provider_err = scratch;
            } else if (rc == SMAR_E_NOTFOUND && !not_found) {
                /* the provider's words ("key 'x' was deleted", "version 1 is not on token
                 * 'T'") say what the user must fix: kept for the "no key" message */
                not_found = true;
                notfound_err = scratch;
            } else if (!provider_problem(rc) && rc != SMAR_E_NOTFOUND) {
                auth_failed = true;
            }
        }
    }
    if (provider_rc != SMAR_OK)
        return smar_fail(&r->err, provider_rc, "'%s': %s", r->name,
                         smar_err_message(&provider_err));
    if (auth_failed)
        return smar_fail(&r->err, SMAR_E_AUTH,
                         "'%s': the key does not open this archive (wrong key material, or the "
                         "key slot was altered)",
                         r->name);
    if (not_found)
        return smar_fail(&r->err, SMAR_E_KEY, "'%s': no given key opens a key slot: %s", r->name,
                         smar_err_message(&notfound_err));
    if (id_matched)
        return smar_fail(&r->err, SMAR_E_KEY,
                         "'%s': the keyring lacks the key version this archive was wrapped with",
                         r->name);
    return smar_fail(&r->err, SMAR_E_KEY, "'%s': no given key matches a key slot (needs '%s'%s)",
                     r->name, r->slots[0].key_id, r->nslots > 1 ? " or another" : "");
}

/* The root hash of format 1 (body) or 2 (content) recomputed from the bytes as opened;
 * *content receives the body or content hash. */
static void recompute_root(const smar_reader *r, uint8_t content[SMAR_HASH_BYTES],
                           uint8_t root[SMAR_HASH_BYTES])
{
    size_t table_len = (size_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES;
    if (r->format == SMAR_FORMAT_V1) {
        smar_body_hash(content, &r->trailer, r->header_bytes, r->hdr.header_len, r->table_bytes,
                       table_len);
        smar_root_hash(root, content, &r->trailer);
        return;
    }
    uint8_t t[SMAR_TRAILER_BYTES];
    smar_trailer_encode(t, &r->trailer);
    smar_content_hash(content, t, r->header_bytes, r->hdr.header_len, r->table_bytes, table_len);
    smar_root2_hash(root, content, t, r->slot_bytes, r->trailer.slot_area_len);
}

void smar_reader_content(smar_reader *r, uint8_t out[SMAR_HASH_BYTES])
{
    uint8_t root[SMAR_HASH_BYTES];
    if (!r->have_content) {
        recompute_root(r, r->content, root);
        r->have_content = true;
    }
    memcpy(out, r->content, SMAR_HASH_BYTES);
}

bool smar_reader_root_recomputes(const smar_reader *r)
{
    uint8_t content[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    recompute_root(r, content, root);
    return smar_equal32(root, r->trailer.root_hash);
}

bool smar_reader_signature_ok(const smar_reader *r)
{
    uint8_t content[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    if (r->format == SMAR_FORMAT_V1)
        return smar_signature_ok(&r->trailer, r->trailer.signer);
    recompute_root(r, content, root);
    return smar_signature2_ok(&r->trailer, content, r->trailer.signer);
}

/* The root MAC (keyed) of the bytes as opened. */
static void recompute_mac(const smar_reader *r, const uint8_t content[SMAR_HASH_BYTES],
                          uint8_t mac[SMAR_HASH_BYTES])
{
    if (r->format == SMAR_FORMAT_V1) {
        smar_root_mac(mac, r->keys->root_mac, content);
        return;
    }
    uint8_t t[SMAR_TRAILER_BYTES];
    smar_trailer_encode(t, &r->trailer);
    smar_root2_mac(mac, r->keys->root_mac, content, t, r->slot_bytes, r->trailer.slot_area_len);
}

static int authenticate(smar_reader *r)
{
    uint8_t content[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES], mac[SMAR_HASH_BYTES];
    if (r->format == SMAR_FORMAT_V1 &&
        !smar_header_mac_ok(r->header_bytes, r->hdr.header_len, r->keys->header_mac))
        return smar_fail(&r->err, SMAR_E_AUTH, "'%s': header authentication failed", r->name);
    recompute_root(r, content, root);
    memcpy(r->content, content, sizeof content); /* kept for smar_reader_content */
    r->have_content = true;
    recompute_mac(r, content, mac);
    if (!smar_equal32(mac, r->trailer.root_mac) || !smar_equal32(root, r->trailer.root_hash))
        return smar_fail(&r->err, SMAR_E_AUTH,
                         "'%s': the chunk table or trailer failed authentication", r->name);
    /* A signed archive whose signature does not verify is refused even when no signer is
     * pinned: the root MAC leaves the signature out (a rewrap keeps it), so without this a
     * changed signature would go unnoticed by every command but verify. */
    if ((r->trailer.flags & SMAR_TRAILER_SIGNED) && !smar_reader_signature_ok(r)) {
        char fp[33];
        smar_signkey_fingerprint(r->trailer.signer, fp);
        return smar_fail(&r->err, SMAR_E_AUTH,
                         "'%s': the producer's signature does not verify (signer %s)", r->name, fp);
    }
    return SMAR_OK;
}

/*
 * A key that matches no slot (id, version, provider) and a suite this machine lacks are the
 * user's problem only if the header is what its producer wrote: an altered key id, key
 * version, provider or suite looks exactly like them. The root hash covers the header, so
 * it tells them apart without a key: rc stands when it matches, else the file is damaged.
 */
static int key_problem_or_damage(smar_reader *r, int rc)
{
    if (smar_reader_root_recomputes(r))
        return rc;
    return smar_fail(&r->err, SMAR_E_CORRUPT,
                     "'%s' is damaged: its header, chunk table or trailer no longer hash to the "
                     "root hash it records, so its key slots cannot be trusted",
                     r->name);
}

/*
 * A slot that does not open, or a root MAC that does not match, is forgery or storage
 * damage. The root hash (keyless) decides as it does for a damaged chunk (FORMAT.md §17):
 * a file whose header, table, slot area or trailer no longer hash to the root hash it
 * records was changed after it was written, and "damaged" (restore from another copy) is
 * the true answer; one that still hashes was made that way, by someone who recomputed the
 * root hash: "not authentic" stands. Both refuse the archive.
 */
static int auth_failure_or_damage(smar_reader *r, int rc)
{
    if (smar_reader_root_recomputes(r))
        return rc;
    char why[SMAR_ERRMSG_MAX];
    (void)snprintf(why, sizeof why, "%s", smar_err_message(&r->err));
    return smar_fail(&r->err, SMAR_E_CORRUPT,
                     "'%s' is damaged: its header, chunk table, key slots or trailer no longer "
                     "hash to the root hash it records (%s)",
                     r->name, why);
}

static int check_meta(smar_reader *r)
{
    const smar_meta *m = &r->meta;
    for (int s = SMAR_SEC_PAYLOAD; s <= SMAR_SEC_INDEX; s++)
        if (m->section_chunks[s] != r->counts[s])
            return smar_fail(&r->err, SMAR_E_CORRUPT,
                             "'%s': section %d has %llu chunks, the archive wrote %u: chunks "
                             "are missing",
                             r->name, s, (unsigned long long)r->counts[s], m->section_chunks[s]);
    const smar_index_desc *byid = &m->tables[0], *byname = &m->tables[1];
    if (byid->first_seq != 0 || byname->first_seq != byid->nchunks ||
        byid->nchunks + byname->nchunks != r->counts[SMAR_SEC_INDEX] ||
        byid->nentries != m->secret_count)
        return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': the index does not match the meta section",
                         r->name);
    return SMAR_OK;
}

static bool document_ok(const char *p, size_t n)
{
    smar_span v;
    char why[8];
    return smar_json_validate((smar_span){p, n}, SMAR_JSON_MAX_DEPTH, &v, why, sizeof why) &&
           smar_json_kind_of(v) == SMAR_JSON_OBJECT && v.n == n;
}

static int load_meta(smar_reader *r)
{
    smar_buf all = {.secure = true}; /* holds the document */
    int rc = SMAR_OK;
    for (uint32_t seq = 0; seq < r->counts[SMAR_SEC_META] && rc == SMAR_OK; seq++) {
        const uint8_t *raw = NULL;
        size_t len = 0;
        if ((rc = smar_reader_load_chunk(r, SMAR_SEC_META, seq, &raw, &len)) != SMAR_OK)
            break;
        if (len > SMAR_MAX_META_BYTES - all.len)
            rc =
                smar_fail(&r->err, SMAR_E_LIMIT, "meta section over %u bytes", SMAR_MAX_META_BYTES);
        else if (smar_buf_append(&all, raw, len))
            rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    }
    if (rc == SMAR_OK && (rc = smar_meta_decode(&r->meta, all.data, all.len, &r->err)) == SMAR_OK)
        rc = check_meta(r);
    if (rc == SMAR_OK && !document_ok(r->meta.document, r->meta.document_len))
        rc = smar_fail(&r->err, SMAR_E_FORMAT,
                       "'%s': the stored export document is not a JSON "
                       "object",
                       r->name);
    smar_buf_free(&all);
    return rc;
}

/* ---- the DEK while a reader unlocks ----------------------------------------------------- */

/* A reader holds its DEK only while it unlocks (the subkeys replace it), but a lookup in an
 * incremental unlocks a reader per base, and a block of its own from sodium_malloc costs
 * about ten system calls (guard pages, mlock, madvise; munlock, munmap to free it). So the
 * DEKs borrow slots of one locked block, made on the first unlock and kept for the process:
 * a slot is wiped when it is returned, so between unlocks the block holds only zeros. When
 * every slot is out (more unlocks at once than slots) a DEK gets a block of its own. */
#define DEK_SLOTS 64
_Static_assert(DEK_SLOTS <= 64, "dek_slots_out has a bit per slot");

static pthread_mutex_t dek_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *dek_slots;     /* DEK_SLOTS * SMAR_DEK_BYTES, locked memory; never freed */
static uint64_t dek_slots_out; /* bit i: slot i is lent */

static uint8_t *borrow_dek_slot(void)
{
    uint8_t *dek = NULL;
    pthread_mutex_lock(&dek_slots_lock);
    if (dek_slots == NULL)
        dek_slots = smar_secure_alloc((size_t)DEK_SLOTS * SMAR_DEK_BYTES);
    for (unsigned i = 0; dek_slots != NULL && i < DEK_SLOTS; i++) {
        if (!(dek_slots_out & ((uint64_t)1 << i))) {
            dek_slots_out |= (uint64_t)1 << i;
            dek = dek_slots + (size_t)i * SMAR_DEK_BYTES;
            break;
        }
    }
    pthread_mutex_unlock(&dek_slots_lock);
    return dek != NULL ? dek : smar_secure_alloc(SMAR_DEK_BYTES);
}

static void return_dek_slot(uint8_t *dek)
{
    pthread_mutex_lock(&dek_slots_lock);
    uint8_t *slots = dek_slots;
    bool lent = slots != NULL && dek >= slots && dek < slots + DEK_SLOTS * SMAR_DEK_BYTES;
    if (lent) {
        sodium_memzero(dek, SMAR_DEK_BYTES);
        dek_slots_out &= ~((uint64_t)1 << ((size_t)(dek - slots) / SMAR_DEK_BYTES));
    }
    pthread_mutex_unlock(&dek_slots_lock);
    if (!lent)
        smar_secure_free(dek);
}

int smar_reader_unlock(smar_reader *r, smar_keyring *const *keys, size_t nkeys)
{
    uint8_t *dek;
    int rc;
    if (!r || (!keys && nkeys))
        return SMAR_E_INVALID;
    if (r->state != R_OPEN)
        return smar_fail(&r->err, SMAR_E_INVALID, "unlock: the archive is not open%s",
                         r->state == R_UNLOCKED ? " (already unlocked)" : "");
    /* libsodium runs AES-NI instructions unconditionally: never reach them without it */
    if (!smar_suite_available(r->hdr.suite))
        return key_problem_or_damage(
            r, smar_fail(&r->err, SMAR_E_UNSUPPORTED,
                         "'%s': cipher suite %s is not available on this machine", r->name,
                         smar_suite_name(r->hdr.suite)));
    /* smar_rewrap keeps the DEK after the unlock and frees it itself: a block of its own */
    if (!(dek = r->keep_dek ? smar_secure_alloc(SMAR_DEK_BYTES) : borrow_dek_slot()))
        return smar_fail(&r->err, SMAR_E_NOMEM, "cannot allocate locked memory");
    rc = open_slot(r, keys, nkeys, dek);
    /* the DEK is wiped as soon as the subkeys exist (its commitment was checked), unless
     * smar_rewrap asked to keep it until its new slots exist */
    if (rc == SMAR_OK && !(r->keys = smar_keys_derive_format(r->format, dek)))
        rc = smar_fail(&r->err, SMAR_E_NOMEM, "cannot allocate locked memory");
    if (r->keep_dek && rc == SMAR_OK)
        r->dek = dek; /* for smar_rewrap, which wipes it (reader_internal.h) */
    else if (r->keep_dek)
        smar_secure_free(dek);
    else
        return_dek_slot(dek);
    if (rc == SMAR_E_KEY)
        return key_problem_or_damage(r, rc);
    if (rc == SMAR_E_AUTH || (rc == SMAR_OK && (rc = authenticate(r)) != SMAR_OK))
        return smar_reader_die(r, auth_failure_or_damage(r, rc));
    if (rc)
        return rc;
    if (smar_chunker_init_format(&r->ck, r->format, r->hdr.suite, 0, r->hdr.chunk_size,
                                 r->keys->chunk, r->hdr.archive_id))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    r->have_ck = true;
    r->state = R_UNLOCKED;
    if ((rc = load_meta(r)))
        return smar_reader_die(r, rc);
    return SMAR_OK;
}

/* ---- chunks and streams ------------------------------------------------------------- */

static int load_index_chunk_cached(smar_reader *r, uint32_t seq, const uint8_t **raw, size_t *len)
{
    size_t n = r->counts[SMAR_SEC_INDEX];
    if (!r->index_chunks && (!(r->index_chunks = calloc(n, sizeof *r->index_chunks)) ||
                             !(r->index_lens = calloc(n, sizeof *r->index_lens))))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (!r->index_chunks[seq]) {
        const uint8_t *p;
        size_t plen;
        int rc = smar_reader_load_chunk_uncached(r, SMAR_SEC_INDEX, seq, &p, &plen);
        if (rc)
            return rc;
        if (!(r->index_chunks[seq] = malloc(plen ? plen : 1)))
            return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
        memcpy(r->index_chunks[seq], p, plen);
        r->index_lens[seq] = plen;
    }
    *raw = r->index_chunks[seq];
    *len = r->index_lens[seq];
    return SMAR_OK;
}

int smar_reader_load_chunk(smar_reader *r, uint8_t section, uint32_t seq, const uint8_t **raw,
                           size_t *len)
{
    r->chunk_damaged = false;
    if (seq >= r->counts[section])
        return smar_fail(&r->err, SMAR_E_CORRUPT, "'%s': section %u has no chunk #%u", r->name,
                         section, seq);
    if (section == SMAR_SEC_INDEX)
        return load_index_chunk_cached(r, seq, raw, len);
    return smar_reader_load_chunk_uncached(r, section, seq, raw, len);
}

static void swap_slots(chunk_cache slots[2])
{
    chunk_cache t = slots[0];
    slots[0] = slots[1];
    slots[1] = t;
}

/* Fetch a chunk the reader itself opens. A chunk damaged in storage (its bytes do not
 * match the chunk table, authenticated by the root MAC at unlock) is confined to itself:
 * chunk_damaged keeps the handle usable for the others (smar_reader_die). */
static int fetch_into(smar_reader *r, uint32_t number, smar_plain *plain)
{
    smar_fetch_fault fault;
    int rc = smar_chunk_fetch(r, number, 0, &r->ck, &r->stored, plain, &fault, &r->err);
    r->chunk_damaged = fault == SMAR_FETCH_DAMAGED;
    return rc;
}

/* Payloads and records are read front to back by extract and verify: when a chunk of
 * theirs is the one after the last missed, start (or keep) opening the next ones ahead. */
static bool read_in_order(smar_reader *r, uint8_t section, uint32_t seq)
{
    bool in_order = (section == SMAR_SEC_PAYLOAD || section == SMAR_SEC_MANIFEST) &&
                    r->last_miss[section] >= 0 && (int64_t)seq == r->last_miss[section] + 1;
    r->last_miss[section] = seq;
    if (in_order && r->threads > 1 && !r->ra)
        (void)smar_readahead_new(&r->ra, r, r->threads); /* a hint: none is fine */
    return in_order;
}

/* Open chunk seq of a section into c: taken from the read-ahead when it has it. */
static int load_missed_chunk(smar_reader *r, uint8_t section, uint32_t seq, chunk_cache *c)
{
    uint32_t number = r->section_chunks[section][seq];
    int rc;
    if (smar_plain_alloc(&c->plain, r->hdr.chunk_size))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    c->seq = -1;
    bool in_order = read_in_order(r, section, seq);
    bool ahead = r->ra && smar_readahead_take(r->ra, section, seq, &c->plain);
    if (!ahead && (rc = fetch_into(r, number, &c->plain)))
        return rc;
    c->seq = seq;
    r->plain_len[number] = (uint32_t)c->plain.len;
    if (r->ra && (ahead || in_order))
        smar_readahead_after(r->ra, section, seq);
    return SMAR_OK;
}

/* Decrypt a chunk through the section's two-chunk cache. */
int smar_reader_load_chunk_uncached(smar_reader *r, uint8_t section, uint32_t seq,
                                    const uint8_t **raw, size_t *len)
{
    chunk_cache *slots = r->cache[section], *c = &slots[0];
    int rc;
    r->chunk_damaged = false;
    if (slots[1].seq == (int64_t)seq)
        swap_slots(slots); /* back to the chunk before: no read */
    if (c->seq != (int64_t)seq) {
        swap_slots(slots); /* the current chunk becomes the one before; reuse the older buffer */
        if ((rc = load_missed_chunk(r, section, seq, c)))
            return rc;
    }
    *raw = c->plain.raw;
    *len = c->plain.len;
    return SMAR_OK;
}

int smar_reader_read_stream(smar_reader *r, uint8_t section, uint32_t seq, uint32_t offset,
                            size_t len, smar_buf *out)
{
    smar_buf_reset(out);
    /* The rest of the section holds at most chunk_size bytes a chunk: a length declared
     * past that (a record or payload of up to 160 MiB in a small archive) is refused
     * before it is allocated. */
    uint64_t room =
        seq < r->counts[section] ? (r->counts[section] - seq) * (uint64_t)r->hdr.chunk_size : 0;
    if (len > 0 && (uint64_t)offset + len > room)
        return smar_fail(&r->err, SMAR_E_FORMAT,
                         "'%s': %zu bytes declared at chunk #%u of section %u run past the end "
                         "of the section",
                         r->name, len, seq, section);
    if (smar_buf_reserve(out, len + 1))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    while (len > 0) {
        const uint8_t *raw = NULL;
        size_t n = 0;
        int rc = smar_reader_load_chunk(r, section, seq, &raw, &n);
        if (rc)
            return rc;
        if (offset >= n)
            return smar_fail(&r->err, SMAR_E_FORMAT,
                             "'%s': a locator points past the end of chunk #%u of section %u",
                             r->name, seq, section);
        size_t take = len < n - offset ? len : n - offset;
        smar_buf_append(out, raw + offset, take); /* reserved above */
        len -= take;
        seq++;
        offset = 0;
    }
    return SMAR_OK;
}

/* The plaintext length of chunk seq of a section: remembered, or learnt by opening it. */
static int chunk_length(smar_reader *r, uint8_t section, uint32_t seq, size_t *len)
{
    const uint8_t *raw = NULL;
    if (seq < r->counts[section] && r->plain_len[r->section_chunks[section][seq]] > 0) {
        *len = r->plain_len[r->section_chunks[section][seq]];
        return SMAR_OK;
    }
    return smar_reader_load_chunk(r, section, seq, &raw, len);
}

/* Step over n bytes of a section's stream from (seq, offset). Reaching the exact end of
 * the section leaves *seq == the section's chunk count. */
static int advance(smar_reader *r, uint8_t section, uint32_t *seq, uint32_t *offset, size_t n)
{
    for (;;) {
        size_t len = 0;
        int rc = chunk_length(r, section, *seq, &len);
        if (rc)
            return rc;
        if (*offset > len)
            return smar_fail(&r->err, SMAR_E_FORMAT, "'%s': a locator points past its chunk",
                             r->name);
        size_t room = len - *offset;
        if (n < room) {
            *offset += (uint32_t)n;
            return SMAR_OK;
        }
        n -= room;
        (*seq)++;
        *offset = 0;
        if (*seq == r->counts[section])
            return n == 0 ? SMAR_OK
                          : smar_fail(&r->err, SMAR_E_FORMAT, "'%s': record runs past its section",
                                      r->name);
    }
}

static int decode_record(smar_reader *r, bool resolve, const uint8_t *body, size_t n,
                         smar_secret **out)
{
    if (!smar_reader_is_incremental(r))
        return smar_record_decode_format(out, r->format, body, n, &r->err);
    if (smar_record_type(body, n) == SMAR_RECORD_SAME_AS_BASE && !resolve)
        return smar_fail(&r->err, SMAR_E_FORMAT,
                         "'%s': a reference points to a \"same as in base\" record", r->name);
    return smar_reader_decode_incremental(r, body, n, out);
}

static int fetch_record(smar_reader *r, bool resolve, uint32_t seq, uint32_t offset,
                        smar_secret **out, uint32_t *next_seq, uint32_t *next_offset);

int smar_reader_fetch_record(smar_reader *r, uint32_t seq, uint32_t offset, smar_secret **out,
                             uint32_t *next_seq, uint32_t *next_offset)
{
    return fetch_record(r, true, seq, offset, out, next_seq, next_offset);
}

int smar_reader_fetch_stored_record(smar_reader *r, uint32_t seq, uint32_t offset,
                                    smar_secret **out)
{
    return fetch_record(r, false, seq, offset, out, NULL, NULL);
}

static int fetch_record(smar_reader *r, bool resolve, uint32_t seq, uint32_t offset,
                        smar_secret **out, uint32_t *next_seq, uint32_t *next_offset)
{
    smar_buf buf = {.secure = true}; /* the record: metadata */
    uint32_t body_len;
    *out = NULL;
    int rc = smar_reader_read_stream(r, SMAR_SEC_MANIFEST, seq, offset, 4, &buf);
    if (rc)
        goto done;
    body_len = smar_load_u32(buf.data);
    if (body_len == 0 || body_len > SMAR_MAX_RECORD_BYTES) {
        rc = smar_fail(&r->err, SMAR_E_LIMIT, "'%s': manifest record of %u bytes", r->name,
                       body_len);
        goto done;
    }
    uint32_t s = seq, o = offset;
    if ((rc = advance(r, SMAR_SEC_MANIFEST, &s, &o, 4)) ||
        (rc = smar_reader_read_stream(r, SMAR_SEC_MANIFEST, s, o, body_len, &buf)) ||
        (rc = decode_record(r, resolve, buf.data, body_len, out)))
        goto done;
    (*out)->where =
        (smar_locator){seq, offset, body_len + 4, {0}, SMAR_CODING_RAW, body_len + 4, 0};
    if (next_seq && (rc = advance(r, SMAR_SEC_MANIFEST, &s, &o, body_len)) == SMAR_OK) {
        *next_seq = s;
        *next_offset = o;
    }
done:
    smar_buf_free(&buf);
    if (rc && *out) {
        smar_secret_free(*out);
        *out = NULL;
    }
    return rc;
}

int smar_reader_decode_payload(smar_reader *r, smar_chunker *ck, const smar_locator *loc,
                               smar_buf *buf)
{
    smar_buf plain = {.secure = true};
    int rc =
        smar_payload_decode(ck, buf->data, buf->len, loc->coding, loc->plain_len, &plain, &r->err);
    if (rc) {
        smar_buf_free(&plain);
        return rc;
    }
    smar_buf_free(buf);
    *buf = plain; /* reserved plain_len + 1 bytes: room for a NUL */
    return SMAR_OK;
}
