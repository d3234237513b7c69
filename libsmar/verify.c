/*
 * verify.c - checking a whole archive, with or without the key (spec/FORMAT.md,
 * "Verification").
 *
 * Keyless: every chunk's BLAKE2b against the chunk table, the root hash over header, table
 * and trailer, and the producer's signature over the root. Keyed, in addition: every chunk
 * decrypts, the manifest walks from start to end with the count the meta section gives,
 * the index tables are sorted and complete, and every payload matches its hash. Damage is
 * reported chunk by chunk, with the secrets it touches, and checking goes on past it so
 * one report shows everything a restore would miss.
 */
#include <stdlib.h>

#include "crypto.h"
#include "reader_internal.h"

typedef struct verify_run {
    smar_reader *r;
    unsigned flags;
    smar_verify_result *res;
    smar_problem_cb cb;
    smar_progress_cb progress;
    void *payload;
    uint8_t *bad; /* per chunk: 1 when damaged */
    uint64_t done, total;
} verify_run;

static void report(verify_run *v, smar_problem_kind kind, uint64_t chunk, int section,
                   const smar_secret *s, const smar_version *ver, const char *detail)
{
    smar_problem p = {kind,          chunk,  section, s ? s->id : NULL, s ? s->name : NULL,
                      ver ? ver->id : NULL, detail};
    if (v->cb)
        v->cb(&p, v->payload);
}

static void tick(verify_run *v, uint64_t bytes)
{
    v->done += bytes;
    if (v->progress)
        v->progress(v->done, v->total, v->payload);
}

static int check_chunk_hashes(verify_run *v)
{
    smar_reader *r = v->r;
    uint8_t hash[SMAR_HASH_BYTES];
    int rc;
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        const smar_table_entry *t = &r->table[i];
        smar_buf_reset(&r->stored);
        if (smar_buf_reserve(&r->stored, t->stored_len))
            return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
        if ((rc = smar_reader_read_at(r, r->stored.data, t->stored_len, t->offset)))
            return rc;
        smar_hash(hash, NULL, r->stored.data, t->stored_len);
        v->res->chunks_checked++;
        v->res->bytes_checked += t->stored_len;
        if (!smar_equal32(hash, t->hash)) {
            v->bad[i] = 1;
            v->res->chunks_bad++;
            report(v, SMAR_PROBLEM_CHUNK_HASH, i, t->section, NULL, NULL,
                   "chunk bytes do not match the chunk table");
        }
        tick(v, t->stored_len);
    }
    return SMAR_OK;
}

static void check_root_and_signature(verify_run *v, const uint8_t *pubkey)
{
    smar_reader *r = v->r;
    uint8_t body[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    smar_body_hash(body, &r->trailer, r->header_bytes, r->hdr.header_len, r->table_bytes,
                   (size_t)r->trailer.chunk_count * SMAR_TABLE_ENTRY_BYTES);
    smar_root_hash(root, body, &r->trailer);
    v->res->root_ok = smar_equal32(root, r->trailer.root_hash);
    bool is_signed = (r->trailer.flags & SMAR_TRAILER_SIGNED) != 0;
    if (!is_signed)
        v->res->signature = pubkey ? -1 : 0;
    else if (pubkey)
        v->res->signature = v->res->root_ok && smar_signature_ok(&r->trailer, pubkey) ? 1 : -1;
    else
        v->res->signature = v->res->root_ok && smar_signature_ok(&r->trailer, r->trailer.signer)
                                ? 2
                                : -1;
}

/* Keyed: decrypt every chunk (the cache is bypassed by loading each one in turn). */
static void check_chunk_decryption(verify_run *v)
{
    smar_reader *r = v->r;
    for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_META; s++)
        for (uint32_t seq = 0; seq < r->counts[s]; seq++) {
            uint32_t number = r->section_chunks[s][seq];
            const uint8_t *raw;
            size_t len;
            if (smar_reader_load_chunk(r, (uint8_t)s, seq, &raw, &len) != SMAR_OK) {
                if (!v->bad[number])
                    v->res->chunks_bad++;
                v->bad[number] = 1;
                report(v, SMAR_PROBLEM_CHUNK_AUTH, number, s, NULL, NULL,
                       smar_err_message(&r->err));
            }
        }
}

static bool locator_touches_bad(const verify_run *v, uint8_t section, uint32_t seq,
                                uint32_t offset, uint64_t length)
{
    const smar_reader *r = v->r;
    uint64_t end = (uint64_t)offset + length;
    for (uint32_t s = seq; s < r->counts[section]; s++) {
        if (v->bad[r->section_chunks[section][s]])
            return true;
        /* a chunk holds at most chunk_size bytes: stop once the locator must have ended */
        uint64_t span = (uint64_t)(s - seq + 1) * r->hdr.chunk_size;
        if (span >= end)
            break;
    }
    return false;
}

static void check_payload(verify_run *v, const smar_secret *s, const smar_version *ver,
                          const smar_locator *loc)
{
    smar_reader *r = v->r;
    smar_buf buf = {0};
    if (locator_touches_bad(v, SMAR_SECTION_PAYLOAD, loc->seq, loc->offset, loc->length)) {
        v->res->secrets_bad++;
        report(v, SMAR_PROBLEM_SECRET, r->section_chunks[SMAR_SECTION_PAYLOAD][loc->seq],
               SMAR_SECTION_PAYLOAD, s, ver, "payload lies in a damaged chunk");
        return;
    }
    buf.secure = true;
    int rc = smar_reader_read_stream(r, SMAR_SECTION_PAYLOAD, loc->seq, loc->offset, loc->length,
                                     &buf);
    uint8_t hash[SMAR_HASH_BYTES];
    if (rc == SMAR_OK)
        smar_hash(hash, r->keys->payload_hash, buf.data, buf.len);
    if (rc != SMAR_OK || !smar_equal32(hash, loc->hash)) {
        v->res->secrets_bad++;
        report(v, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SECTION_PAYLOAD, s, ver,
               "payload does not match its manifest hash");
    }
    v->res->payloads_checked++;
    smar_buf_free(&buf);
}

static int check_secret(smar_reader *r, const smar_secret *s, void *vv)
{
    verify_run *v = vv;
    (void)r;
    v->res->secrets_checked++;
    if (s->has_payload)
        check_payload(v, s, NULL, &s->payload);
    for (size_t i = 0; i < s->nversions; i++)
        if (s->versions[i].has_payload)
            check_payload(v, s, &s->versions[i], &s->versions[i].payload);
    return SMAR_OK;
}

static bool any_bad_in(const verify_run *v, int section)
{
    for (uint32_t seq = 0; seq < v->r->counts[section]; seq++)
        if (v->bad[v->r->section_chunks[section][seq]])
            return true;
    return false;
}

static int check_index_order(verify_run *v)
{
    smar_reader *r = v->r;
    for (int t = 0; t < SMAR_INDEX_TABLES; t++) {
        const smar_index_desc *d = &r->meta.tables[t];
        uint8_t prev[SMAR_INDEX_KEY_BYTES] = {0};
        for (uint32_t c = 0; c < d->nchunks; c++) {
            const uint8_t *raw;
            size_t len;
            int rc = smar_reader_load_chunk(r, SMAR_SECTION_INDEX, d->first_seq + c, &raw, &len);
            if (rc)
                return rc;
            if (len % SMAR_INDEX_ENTRY_BYTES || memcmp(raw, d->fences + (size_t)c * 16, 16))
                return smar_fail(&r->err, SMAR_E_CORRUPT, "index chunk %u is inconsistent", c);
            for (size_t i = 0; i < len; i += SMAR_INDEX_ENTRY_BYTES) {
                if ((c > 0 || i > 0) && memcmp(prev, raw + i, 16) > 0)
                    return smar_fail(&r->err, SMAR_E_CORRUPT, "index table %d is not sorted", t);
                memcpy(prev, raw + i, 16);
            }
        }
    }
    return SMAR_OK;
}

static int verify_keyed(verify_run *v)
{
    smar_reader *r = v->r;
    check_chunk_decryption(v);
    if (any_bad_in(v, SMAR_SECTION_META))
        return smar_fail(&r->err, SMAR_E_CORRUPT, "the meta section is damaged");
    if (!any_bad_in(v, SMAR_SECTION_INDEX) && check_index_order(v) != SMAR_OK)
        report(v, SMAR_PROBLEM_CHUNK_AUTH, 0, SMAR_SECTION_INDEX, NULL, NULL,
               smar_err_message(&r->err));
    if (any_bad_in(v, SMAR_SECTION_MANIFEST)) {
        /* records behind a damaged manifest chunk cannot be read: name the chunks */
        for (uint32_t seq = 0; seq < r->counts[SMAR_SECTION_MANIFEST]; seq++) {
            uint32_t n = r->section_chunks[SMAR_SECTION_MANIFEST][seq];
            if (v->bad[n])
                report(v, SMAR_PROBLEM_SECRET, n, SMAR_SECTION_MANIFEST, NULL, NULL,
                       "manifest chunk damaged: the secrets recorded in it cannot be listed");
        }
        return smar_fail(&r->err, SMAR_E_CORRUPT, "the manifest is damaged");
    }
    /* foreach kills the handle on damage; keep it alive for the report by checking here */
    return smar_reader_foreach(r, check_secret, v);
}

int smar_reader_verify(smar_reader *r, unsigned flags, const uint8_t *pubkey,
                       smar_verify_result *result, smar_problem_cb cb,
                       smar_progress_cb progress, void *payload)
{
    smar_verify_result scratch;
    if (!r || (r->state != R_OPEN && r->state != R_UNLOCKED))
        return r ? smar_fail(&r->err, SMAR_E_INVALID, "verify: the archive is not open")
                 : SMAR_E_INVALID;
    if ((flags & SMAR_VERIFY_KEYED) && r->state != R_UNLOCKED)
        return smar_fail(&r->err, SMAR_E_INVALID, "keyed verify needs the archive unlocked");
    verify_run v = {r, flags, result ? result : &scratch, cb, progress, payload, NULL, 0,
                    r->src.size};
    memset(v.res, 0, sizeof *v.res);
    if (!(v.bad = calloc(r->trailer.chunk_count, 1)))
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    int rc = check_chunk_hashes(&v);
    if (rc == SMAR_OK) {
        check_root_and_signature(&v, pubkey);
        if (flags & SMAR_VERIFY_KEYED)
            rc = verify_keyed(&v);
    }
    free(v.bad);
    if (rc)
        return rc;
    if (v.res->chunks_bad || !v.res->root_ok || v.res->secrets_bad)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "'%s' is damaged: %llu bad chunk(s)%s", r->name,
                         (unsigned long long)v.res->chunks_bad,
                         v.res->root_ok ? "" : ", root hash mismatch");
    if (v.res->signature < 0)
        return smar_fail(&r->err, SMAR_E_AUTH, "'%s': %s", r->name,
                         (r->trailer.flags & SMAR_TRAILER_SIGNED)
                             ? "the signature is not valid for the given public key"
                             : "the archive is not signed");
    return SMAR_OK;
}
