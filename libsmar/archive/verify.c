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
#include <stdatomic.h>
#include <stdlib.h>

#include <sodium.h>

#include "crypto.h"
#include "pool.h"
#include "reader_internal.h"

typedef struct verify_run {
    smar_reader *r;
    unsigned flags;
    smar_verify_result *res;
    smar_problem_cb cb;
    smar_progress_cb progress;
    void *payload;
    uint8_t *bad;    /* per chunk: 1 when damaged */
    uint8_t *status; /* per chunk: enum chunk_status, written by the scanners */
    uint64_t total;
    unsigned nthreads;
    uint64_t scanned_bytes;
    /* keyed: the index entries the manifest implies, compared with the stored index */
    smar_index_entry *expect[SMAR_INDEX_TABLES];
    size_t nexpect[SMAR_INDEX_TABLES], capexpect[SMAR_INDEX_TABLES];
    bool oom;
    int fatal;       /* a status that ends the walk: a base not attached (SMAR_E_NEEDBASE) */
    bool secret_bad; /* the secret being checked has a problem: counted once */
} verify_run;

static void report(verify_run *v, smar_problem_kind kind, uint64_t chunk, int section,
                   const smar_secret *s, const smar_version *ver, const char *detail)
{
    smar_problem p = {
        kind, chunk, section, s ? s->id : NULL, s ? s->name : NULL, ver ? ver->id : NULL, detail};
    if (v->cb)
        v->cb(&p, v->payload);
}

static void tick(verify_run *v)
{
    if (v->progress)
        v->progress(v->scanned_bytes, v->total, v->payload);
}

/* ---- the chunk scan: every chunk read once, hashed, and (keyed) opened ------------- */

enum chunk_status { CHUNK_OK = 0, CHUNK_HASH, CHUNK_AUTH, CHUNK_IO, CHUNK_CANCELLED };

/* One pool worker's buffers and (keyed) chunker. */
typedef struct scanner {
    smar_buf stored;
    smar_plain plain;
    smar_chunker ck;
} scanner;

/* One chunk to scan: a job of the pool. */
typedef struct scan_job {
    smar_pool_job job;
    uint32_t chunk;
} scan_job;

typedef struct scan {
    verify_run *v;
    scanner *scanners; /* one per pool worker */
    unsigned nscanners;
    bool keyed;
    atomic_bool cancelled; /* a read was cancelled: no worker reads again, nothing more is sent */
} scan;

/* The pool's job: read one chunk, check its hash and (keyed) open it. */
static void scan_chunk(void *ctx, unsigned worker, smar_pool_job *job)
{
    scan *sc = ctx;
    scanner *w = &sc->scanners[worker];
    uint32_t i = SMAR_POOL_ENTRY(job, scan_job, job)->chunk;
    smar_fetch_fault fault;
    smar_err scratch;
    if (atomic_load(&sc->cancelled)) {
        sc->v->status[i] = CHUNK_CANCELLED;
        return;
    }
    static const uint8_t status_of[] = {[SMAR_FETCH_OK] = CHUNK_OK,
                                        [SMAR_FETCH_UNREAD] = CHUNK_IO,
                                        [SMAR_FETCH_DAMAGED] = CHUNK_HASH,
                                        [SMAR_FETCH_UNOPENED] = CHUNK_AUTH};
    int rc = smar_chunk_fetch(sc->v->r, i, SMAR_FETCH_HASH, sc->keyed ? &w->ck : NULL, &w->stored,
                              &w->plain, &fault, &scratch);
    if (rc == SMAR_E_CANCELLED)
        atomic_store(&sc->cancelled, true);
    sc->v->status[i] = rc == SMAR_E_CANCELLED ? CHUNK_CANCELLED : status_of[fault];
}

static void scanners_free(scan *sc)
{
    for (unsigned i = 0; sc->scanners && i < sc->nscanners; i++) {
        smar_buf_free(&sc->scanners[i].stored);
        smar_plain_free(&sc->scanners[i].plain);
        smar_chunker_free(&sc->scanners[i].ck); /* zeroed when never set up: fine */
    }
    free(sc->scanners);
}

static int scanners_init(scan *sc)
{
    smar_reader *r = sc->v->r;
    if (!(sc->scanners = calloc(sc->nscanners, sizeof *sc->scanners)))
        return SMAR_E_NOMEM;
    for (unsigned i = 0; sc->keyed && i < sc->nscanners; i++) {
        scanner *w = &sc->scanners[i];
        if (smar_plain_alloc(&w->plain, r->hdr.chunk_size) ||
            smar_chunker_init_format(&w->ck, r->format, r->hdr.suite, 0, r->hdr.chunk_size,
                                     r->keys->chunk, r->hdr.archive_id))
            return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

/* A scanned chunk is back: count its bytes, tell the progress callback. */
static void scanned(verify_run *v, smar_pool *pool)
{
    uint32_t i = SMAR_POOL_ENTRY(smar_pool_take(pool), scan_job, job)->chunk;
    if (v->status[i] != CHUNK_IO)
        v->scanned_bytes += v->r->table[i].stored_len;
    tick(v);
}

/* Submit every chunk to the pool, taking them back in order as the ring fills; after a
 * cancelled read the rest are marked cancelled, not sent. */
static void scan_all(scan *sc, smar_pool *pool, scan_job *jobs, size_t depth)
{
    verify_run *v = sc->v;
    uint32_t n = v->r->trailer.chunk_count;
    for (uint32_t i = 0; i < n; i++) {
        if (smar_pool_full(pool))
            scanned(v, pool);
        if (atomic_load(&sc->cancelled)) {
            for (uint32_t k = i; k < n; k++)
                v->status[k] = CHUNK_CANCELLED;
            break;
        }
        jobs[i % depth].chunk = i;
        smar_pool_submit(pool, &jobs[i % depth].job);
    }
    while (smar_pool_pending(pool) > 0)
        scanned(v, pool);
}

/* Scan every chunk on v->nthreads workers (none with one: inline). Source reads happen in
 * parallel: smar_reader_set_threads documents that read_at must allow it. Progress is
 * reported on this thread, in chunk order. */
static int scan_chunks(verify_run *v)
{
    unsigned workers = v->nthreads > 1 ? v->nthreads : 0;
    size_t depth = workers ? 2 * (size_t)workers : 1;
    scan sc = {
        .v = v, .nscanners = workers ? workers : 1, .keyed = (v->flags & SMAR_VERIFY_KEYED) != 0};
    smar_pool *pool = NULL;
    scan_job *jobs = calloc(depth, sizeof *jobs);
    int rc = jobs ? scanners_init(&sc) : SMAR_E_NOMEM;
    if (rc == SMAR_OK)
        rc = smar_pool_new(&pool, workers, depth, scan_chunk, &sc);
    if (rc == SMAR_OK)
        scan_all(&sc, pool, jobs, depth);
    smar_pool_free(pool);
    scanners_free(&sc);
    free(jobs);
    return rc ? smar_fail(&v->r->err, rc, "out of memory") : SMAR_OK;
}

static const char *const status_detail[] = {
    [CHUNK_HASH] = "chunk bytes do not match the chunk table",
    [CHUNK_AUTH] = "chunk fails authentication: altered, moved or from another archive",
};

/* Report the scan's findings in chunk order. */
static int report_chunks(verify_run *v)
{
    smar_reader *r = v->r;
    for (uint32_t i = 0; i < r->trailer.chunk_count; i++) {
        const smar_table_entry *t = &r->table[i];
        if (v->status[i] == CHUNK_IO)
            return smar_fail(&r->err, SMAR_E_IO, "'%s': reading chunk %u failed", r->name, i);
        if (v->status[i] == CHUNK_CANCELLED)
            return smar_fail(&r->err, SMAR_E_CANCELLED, "'%s': verify was cancelled", r->name);
        v->res->chunks_checked++;
        v->res->bytes_checked += t->stored_len;
        if (v->status[i] == CHUNK_OK)
            continue;
        v->bad[i] = 1;
        v->res->chunks_bad++;
        report(v, v->status[i] == CHUNK_HASH ? SMAR_PROBLEM_CHUNK_HASH : SMAR_PROBLEM_CHUNK_AUTH, i,
               t->section, NULL, NULL, status_detail[v->status[i]]);
    }
    return SMAR_OK;
}

/* The signature covers the root hash as stored: it vouches for this file only when the
 * file still hashes to that root. */
static smar_signature_status signature_status(const smar_reader *r, bool root_ok,
                                              const uint8_t *pubkey)
{
    const smar_trailer *t = &r->trailer;
    if (!(t->flags & SMAR_TRAILER_SIGNED))
        return SMAR_SIGNATURE_ABSENT;
    bool self_valid = root_ok && smar_reader_signature_ok(r);
    if (!self_valid)
        return SMAR_SIGNATURE_INVALID;
    if (!pubkey)
        return SMAR_SIGNATURE_UNCHECKED;
    return sodium_memcmp(pubkey, t->signer, 32) == 0 ? SMAR_SIGNATURE_VALID
                                                     : SMAR_SIGNATURE_OTHER_SIGNER;
}

/* Whether the header, chunk table and trailer as opened still hash to the root hash the
 * trailer records (the one the signature covers). */
static bool root_recomputes(const smar_reader *r)
{
    return smar_reader_root_recomputes(r);
}

static void check_root_and_signature(verify_run *v, const uint8_t *pubkey)
{
    v->res->root_ok = root_recomputes(v->r);
    v->res->signature = signature_status(v->r, v->res->root_ok, pubkey);
}

static bool locator_touches_bad(const verify_run *v, uint8_t section, uint32_t seq, uint32_t offset,
                                uint64_t length)
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

/* An external payload (incremental archives): read and hash-checked by the base that
 * holds it, with its own key. A base that is not attached fails the whole verify. */
static void check_external_payload(verify_run *v, const smar_secret *s, const smar_version *ver,
                                   const smar_locator *loc)
{
    char *p = NULL;
    size_t n = 0;
    int rc = smar_reader_read_payload(v->r, s, ver, &p, &n);
    smar_secret_buffer_free(p, n);
    if (rc == SMAR_E_NEEDBASE || rc == SMAR_E_NOMEM) {
        v->fatal = rc;
        return;
    }
    (void)loc;
    if (rc != SMAR_OK) {
        v->secret_bad = true;
        report(v, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SEC_PAYLOAD, s, ver,
               "payload in the base archive does not match its manifest hash");
    }
    v->res->payloads_checked++;
}

static void check_payload(verify_run *v, const smar_secret *s, const smar_version *ver,
                          const smar_locator *loc)
{
    smar_reader *r = v->r;
    smar_buf buf = {0};
    if (loc->base > 0) {
        check_external_payload(v, s, ver, loc);
        return;
    }
    if (locator_touches_bad(v, SMAR_SEC_PAYLOAD, loc->seq, loc->offset, loc->length)) {
        v->secret_bad = true;
        report(v, SMAR_PROBLEM_SECRET, r->section_chunks[SMAR_SEC_PAYLOAD][loc->seq],
               SMAR_SEC_PAYLOAD, s, ver, "payload lies in a damaged chunk");
        return;
    }
    buf.secure = true;
    int rc = smar_reader_read_stream(r, SMAR_SEC_PAYLOAD, loc->seq, loc->offset, loc->length, &buf);
    if (rc == SMAR_OK && r->format == SMAR_FORMAT_V2)
        rc = smar_reader_decode_payload(r, &r->ck, loc, &buf);
    uint8_t hash[SMAR_HASH_BYTES];
    if (rc == SMAR_OK)
        smar_hash(hash, r->keys->payload_hash, buf.data, buf.len);
    if (rc != SMAR_OK || !smar_equal32(hash, loc->hash)) {
        v->secret_bad = true;
        report(v, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SEC_PAYLOAD, s, ver,
               "payload does not match its manifest hash");
    }
    v->res->payloads_checked++;
    smar_buf_free(&buf);
}

static void expect_entry(verify_run *v, int table, const char *key, const smar_secret *s)
{
    if (v->nexpect[table] == v->capexpect[table]) {
        size_t cap = v->capexpect[table] ? 2 * v->capexpect[table] : 1024;
        smar_index_entry *n = realloc(v->expect[table], cap * sizeof *n);
        if (!n) {
            v->oom = true;
            return;
        }
        v->expect[table] = n;
        v->capexpect[table] = cap;
    }
    smar_index_entry *x = &v->expect[table][v->nexpect[table]++];
    smar_index_key(x->key, v->r->keys->index, table, key, strlen(key));
    x->seq = s->where.seq;
    x->offset = s->where.offset;
    x->length = s->where.length;
}

/* The secret's own payload is stored once when it is a version's payload (FORMAT.md
 * §11.2): both locators then name the same record, checked once and counted once, so the
 * count of payloads is the stored records' (payload_count, as inspect shows it). */
static bool shares_version_record(const smar_secret *s)
{
    for (size_t i = 0; i < s->nversions; i++) {
        const smar_locator *l = &s->versions[i].payload;
        if (s->versions[i].has_payload && l->base == s->payload.base && l->seq == s->payload.seq &&
            l->offset == s->payload.offset && l->length == s->payload.length &&
            smar_equal32(l->hash, s->payload.hash))
            return true;
    }
    return false;
}

static int check_secret(smar_reader *r, const smar_secret *s, void *vv)
{
    verify_run *v = vv;
    (void)r;
    v->res->secrets_checked++;
    v->res->versions_checked += s->nversions;
    v->secret_bad = false;
    expect_entry(v, SMAR_INDEX_BY_ID, s->id, s);
    /* an incremental archive's name table holds its type 1 records only (FORMAT.md §26) */
    if (s->name[0] && s->stored_type == SMAR_RECORD_SECRET)
        expect_entry(v, SMAR_INDEX_BY_NAME, s->name, s);
    /* records are decoded without checking their JSON texts: check them here */
    bool meta_ok = smar_secret_metadata_json(s, NULL) != NULL;
    for (size_t i = 0; i < s->nversions && meta_ok; i++)
        meta_ok = smar_version_metadata_json(&s->versions[i], NULL) != NULL;
    if (!meta_ok) {
        v->secret_bad = true;
        report(v, SMAR_PROBLEM_SECRET, 0, SMAR_SEC_MANIFEST, s, NULL,
               "its metadata is not a JSON object");
    }
    if (s->has_payload) {
        check_payload(v, s, NULL, &s->payload);
        if (!shares_version_record(s))
            v->res->payload_records_checked++;
    }
    for (size_t i = 0; i < s->nversions; i++)
        if (s->versions[i].has_payload) {
            check_payload(v, s, &s->versions[i], &s->versions[i].payload);
            v->res->payload_records_checked++;
        }
    if (v->secret_bad)
        v->res->secrets_bad++;
    return v->oom || v->fatal ? SMAR_STOP : 0;
}

static bool any_bad_in(const verify_run *v, int section)
{
    for (uint32_t seq = 0; seq < v->r->counts[section]; seq++)
        if (v->bad[v->r->section_chunks[section][seq]])
            return true;
    return false;
}

/* The stored index must hold exactly the entries the manifest implies, in order: every
 * secret findable by id and by name, and nothing else. */
static bool index_table_matches(verify_run *v, int table)
{
    smar_reader *r = v->r;
    const smar_index_desc *d = &r->meta.tables[table];
    size_t next = 0;
    if (d->nentries != v->nexpect[table])
        return false;
    if (v->nexpect[table] > 1)
        qsort(v->expect[table], v->nexpect[table], sizeof(smar_index_entry), smar_index_entry_cmp);
    for (uint32_t c = 0; c < d->nchunks; c++) {
        const uint8_t *raw = NULL;
        size_t len = 0;
        if (smar_reader_load_chunk(r, SMAR_SEC_INDEX, d->first_seq + c, &raw, &len) != SMAR_OK ||
            len % SMAR_INDEX_ENTRY_BYTES != 0 || len == 0 ||
            memcmp(raw, d->fences + (size_t)c * SMAR_INDEX_KEY_BYTES, SMAR_INDEX_KEY_BYTES) != 0)
            return false;
        for (size_t i = 0; i < len; i += SMAR_INDEX_ENTRY_BYTES) {
            uint8_t want[SMAR_INDEX_ENTRY_BYTES];
            if (next == v->nexpect[table])
                return false;
            smar_index_entry_encode(want, &v->expect[table][next++]);
            if (memcmp(raw + i, want, SMAR_INDEX_ENTRY_BYTES) != 0)
                return false;
        }
    }
    return next == v->nexpect[table];
}

static void check_index(verify_run *v)
{
    static const char *const what[] = {"the index by id does not match the manifest",
                                       "the index by name does not match the manifest"};
    v->res->index_ok = 1;
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        if (!index_table_matches(v, t)) {
            v->res->index_ok = 0;
            report(v, SMAR_PROBLEM_INDEX, 0, SMAR_SEC_INDEX, NULL, NULL, what[t]);
        }
}

static int verify_keyed(verify_run *v)
{
    smar_reader *r = v->r;
    if (any_bad_in(v, SMAR_SEC_META))
        return smar_fail(&r->err, SMAR_E_CORRUPT, "the meta section is damaged");
    if (any_bad_in(v, SMAR_SEC_MANIFEST)) {
        /* records behind a damaged manifest chunk cannot be read: name the chunks */
        for (uint32_t seq = 0; seq < r->counts[SMAR_SEC_MANIFEST]; seq++) {
            uint32_t n = r->section_chunks[SMAR_SEC_MANIFEST][seq];
            if (v->bad[n])
                report(v, SMAR_PROBLEM_SECRET, n, SMAR_SEC_MANIFEST, NULL, NULL,
                       "manifest chunk damaged: the secrets recorded in it cannot be listed");
        }
        return smar_fail(&r->err, SMAR_E_CORRUPT, "the manifest is damaged");
    }
    int rc = smar_reader_foreach(r, check_secret, v);
    if (rc == SMAR_STOP && v->fatal)
        rc = v->fatal; /* the message is in r->err already */
    else if (rc == SMAR_STOP)
        rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (rc == SMAR_OK && !any_bad_in(v, SMAR_SEC_INDEX))
        check_index(v);
    else if (rc == SMAR_OK)
        v->res->index_ok = 0;
    return rc;
}

/* Why a required signer was not met. */
static const char *signature_failure(smar_signature_status status)
{
    switch (status) {
    case SMAR_SIGNATURE_ABSENT:
        return "the archive is not signed";
    case SMAR_SIGNATURE_OTHER_SIGNER:
        return "the archive is signed by another key than the given public key";
    default:
        return "the signature is not valid";
    }
}

/* The whole check, into res (the library's own full struct). */
static int verify_into(smar_reader *r, unsigned flags, const uint8_t *pubkey,
                       smar_verify_result *res, smar_problem_cb cb, smar_progress_cb progress,
                       void *payload)
{
    verify_run v = {.r = r,
                    .flags = flags,
                    .res = res,
                    .cb = cb,
                    .progress = progress,
                    .payload = payload,
                    .total = r->src.size,
                    .nthreads = r->threads ? r->threads : 1};
    v.res->index_ok = -1;
    v.bad = calloc(r->trailer.chunk_count, 1);
    v.status = calloc(r->trailer.chunk_count, 1);
    int rc = v.bad && v.status ? SMAR_OK : smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (rc == SMAR_OK && (rc = scan_chunks(&v)) == SMAR_OK && (rc = report_chunks(&v)) == SMAR_OK) {
        check_root_and_signature(&v, pubkey);
        if (flags & SMAR_VERIFY_KEYED)
            rc = verify_keyed(&v);
    }
    bool forged = false;
    for (uint32_t i = 0; v.status && i < r->trailer.chunk_count; i++)
        forged |= v.status[i] == CHUNK_AUTH;
    free(v.bad);
    free(v.status);
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        free(v.expect[t]);
    if (rc)
        return rc;
    /* a chunk that matches the authenticated table yet fails its AEAD was forged by a key
     * holder: nothing more is released from this handle (spec §17) */
    if ((flags & SMAR_VERIFY_KEYED) && forged) {
        r->chunk_damaged = false;
        smar_reader_die(r, SMAR_E_AUTH);
    }
    if (v.res->chunks_bad || !v.res->root_ok || v.res->secrets_bad || v.res->index_ok == 0)
        return smar_fail(&r->err, SMAR_E_CORRUPT, "'%s' is damaged: %llu bad chunk(s)%s", r->name,
                         (unsigned long long)v.res->chunks_bad,
                         v.res->root_ok ? "" : ", root hash mismatch");
    if (pubkey && v.res->signature != SMAR_SIGNATURE_VALID)
        return smar_fail(&r->err, SMAR_E_AUTH, "'%s': %s", r->name,
                         signature_failure(v.res->signature));
    if (v.res->signature == SMAR_SIGNATURE_INVALID)
        return smar_fail(&r->err, SMAR_E_AUTH, "'%s': the signature is not valid", r->name);
    return SMAR_OK;
}

/* Bytes of each version of smar_verify_result (SMAR_VERSIONED_SIZE). */
static const size_t verify_result_sizes[] = {sizeof(smar_verify_result)};

int smar_reader_verify(smar_reader *r, unsigned flags, const uint8_t *pubkey,
                       smar_verify_result *result, smar_problem_cb cb, smar_progress_cb progress,
                       void *payload)
{
    if (!r || (r->state != R_OPEN && r->state != R_UNLOCKED))
        return r ? smar_fail(&r->err, SMAR_E_INVALID, "verify: the archive is not open")
                 : SMAR_E_INVALID;
    if ((flags & SMAR_VERIFY_KEYED) && r->state != R_UNLOCKED)
        return smar_fail(&r->err, SMAR_E_INVALID, "keyed verify needs the archive unlocked");
    if (result != NULL && smar_check_version(&r->err, result->version, SMAR_VERIFY_RESULT_VERSION,
                                             "smar_verify_result") != SMAR_OK)
        return SMAR_E_INVALID;
    smar_verify_result full = {.version = result ? result->version : SMAR_VERIFY_RESULT_VERSION};
    int rc = verify_into(r, flags, pubkey, &full, cb, progress, payload);
    if (result != NULL)
        memcpy(result, &full, SMAR_VERSIONED_SIZE(verify_result_sizes, result->version));
    return rc;
}

/* ---- pinning the producer ------------------------------------------------------------ */

static bool is_trusted(const uint8_t signer[SMAR_SIGN_PUBLIC_BYTES], const uint8_t *trusted,
                       size_t ntrusted)
{
    for (size_t i = 0; i < ntrusted; i++)
        if (sodium_memcmp(signer, trusted + i * SMAR_SIGN_PUBLIC_BYTES, SMAR_SIGN_PUBLIC_BYTES) ==
            0)
            return true;
    return false;
}

/* A refused signer makes the handle dead, whatever chunk damage was seen before. */
static int refuse_signer(smar_reader *r)
{
    r->chunk_damaged = false;
    return smar_reader_die(r, SMAR_E_AUTH);
}

int smar_reader_check_signer(smar_reader *r, const uint8_t *trusted, size_t ntrusted)
{
    if (!r || (r->state != R_OPEN && r->state != R_UNLOCKED))
        return r ? smar_fail(&r->err, SMAR_E_INVALID, "check signer: the archive is not open")
                 : SMAR_E_INVALID;
    if (!trusted || ntrusted == 0)
        return smar_fail(&r->err, SMAR_E_INVALID, "check signer: no trusted public key given");
    const smar_trailer *t = &r->trailer;
    if (!(t->flags & SMAR_TRAILER_SIGNED)) {
        smar_fail(&r->err, SMAR_E_AUTH, "'%s': not signed by a trusted producer: unsigned",
                  r->name);
        return refuse_signer(r);
    }
    char fp[33];
    smar_signkey_fingerprint(t->signer, fp);
    if (!is_trusted(t->signer, trusted, ntrusted)) {
        smar_fail(&r->err, SMAR_E_AUTH, "'%s': not signed by a trusted producer: signed by %s",
                  r->name, fp);
        return refuse_signer(r);
    }
    /* The signer is one we trust: its signature must cover these very bytes. */
    if (!root_recomputes(r) || !smar_reader_signature_ok(r)) {
        smar_fail(&r->err, SMAR_E_AUTH,
                  "'%s': not signed by a trusted producer: the signature of %s does not verify "
                  "over this file (altered)",
                  r->name, fp);
        return refuse_signer(r);
    }
    return SMAR_OK;
}
