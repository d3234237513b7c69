/*
 * verify.c - checking a whole archive, with or without the key (spec/FORMAT.md,
 * "Verification").
 *
 * Keyless: every chunk's BLAKE2b against the chunk table, the root hash over header, table
 * and trailer, and the producer's signature over the root. Keyed, in addition: every chunk
 * decrypts, the manifest walks from start to end with the count the meta section gives,
 * the index tables are sorted and complete, and every payload matches its hash. Damage is
 * reported chunk by chunk, with the secrets it touches, and checking goes on past it so
 * one report shows everything a restore would miss. Both read each chunk once: keyed,
 * records, payloads and the index are checked from the chunks as the scan opens them.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "pool.h"
#include "reader_internal.h"
#include "digests.h"

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
    struct onepass *op; /* keyed: the checks done as the chunks go by (NULL: keyless) */
} verify_run;

static void onepass_chunk(verify_run *v, uint32_t chunk, const smar_plain *plain, bool ok);

/* Bench builds only (-DSMAR_BENCH_VERIFY_SCAN_ONLY, bench/RESULTS.md): the keyed scan
 * (every chunk read, hashed, decrypted and decompressed) without the per-secret checks,
 * to measure what decryption costs. Never set in a build that ships: it checks nothing. */
#ifdef SMAR_BENCH_VERIFY_SCAN_ONLY
enum { BENCH_SCAN_ONLY = 1 };
#else
enum { BENCH_SCAN_ONLY = 0 };
#endif

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

/* One pool worker's (keyed) chunker. */
typedef struct scanner {
    smar_chunker ck;
} scanner;

/* One chunk to scan: a job of the pool, with its own buffers, so that its plaintext is
 * still there when the job comes back (the worker has gone on to another job by then). */
typedef struct scan_job {
    smar_pool_job job;
    uint32_t chunk;
    smar_buf stored;
    smar_plain plain;
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
    scan_job *j = SMAR_POOL_ENTRY(job, scan_job, job);
    uint32_t i = j->chunk;
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
    int rc = smar_chunk_fetch(sc->v->r, i, SMAR_FETCH_HASH, sc->keyed ? &w->ck : NULL, &j->stored,
                              &j->plain, &fault, &scratch);
    if (rc == SMAR_E_CANCELLED)
        atomic_store(&sc->cancelled, true);
    sc->v->status[i] = rc == SMAR_E_CANCELLED ? CHUNK_CANCELLED : status_of[fault];
}

static void scanners_free(scan *sc, scan_job *jobs, size_t depth)
{
    for (unsigned i = 0; sc->scanners && i < sc->nscanners; i++)
        smar_chunker_free(&sc->scanners[i].ck); /* zeroed when never set up: fine */
    free(sc->scanners);
    for (size_t i = 0; jobs && i < depth; i++) {
        smar_buf_free(&jobs[i].stored);
        smar_plain_free(&jobs[i].plain);
    }
}

static int scanners_init(scan *sc, scan_job *jobs, size_t depth)
{
    smar_reader *r = sc->v->r;
    if (!(sc->scanners = calloc(sc->nscanners, sizeof *sc->scanners)))
        return SMAR_E_NOMEM;
    for (unsigned i = 0; sc->keyed && i < sc->nscanners; i++)
        if (smar_chunker_init_format(&sc->scanners[i].ck, r->format, r->hdr.suite, 0,
                                     r->hdr.chunk_size, r->keys->chunk, r->hdr.archive_id))
            return SMAR_E_NOMEM;
    for (size_t i = 0; sc->keyed && i < depth; i++)
        if (smar_plain_alloc(&jobs[i].plain, r->hdr.chunk_size))
            return SMAR_E_NOMEM;
    return SMAR_OK;
}

/* A scanned chunk is back: count its bytes, tell the progress callback and (keyed) check
 * what its plaintext holds before the job's buffers are used again. */
static void scanned(verify_run *v, smar_pool *pool)
{
    scan_job *j = SMAR_POOL_ENTRY(smar_pool_take(pool), scan_job, job);
    uint32_t i = j->chunk;
    if (v->status[i] != CHUNK_IO)
        v->scanned_bytes += v->r->table[i].stored_len;
    if (v->op)
        onepass_chunk(v, i, &j->plain, v->status[i] == CHUNK_OK);
    tick(v);
}

/* The order chunks are scanned in. Keyless: the file's. Keyed: the file's, except that
 * each manifest chunk is read two manifest chunks early (the first two before anything
 * else). The writer seals a manifest chunk only after the payloads of its records (and
 * of the first record of the next one) are in the stream, so in file order a manifest
 * chunk comes after the payload chunks it points to; read two early, its locators are
 * known before those payload chunks go by, and a payload is checked from the chunk as it
 * is scanned, without keeping payload chunks or reading them again. */
static int scan_order(const verify_run *v, bool keyed, uint32_t **out)
{
    const smar_reader *r = v->r;
    uint32_t n = r->trailer.chunk_count, k = 0;
    uint64_t nman = r->counts[SMAR_SEC_MANIFEST];
    const uint32_t *man = r->section_chunks[SMAR_SEC_MANIFEST];
    uint32_t *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!(*out = order))
        return SMAR_E_NOMEM;
    for (uint64_t j = 0; keyed && j < 2 && j < nman; j++)
        order[k++] = man[j];
    for (uint32_t i = 0; i < n; i++) {
        if (!keyed || r->table[i].section != SMAR_SEC_MANIFEST) {
            order[k++] = i;
            continue;
        }
        uint64_t lead = (uint64_t)r->seq_of[i] + 2;
        if (lead < nman)
            order[k++] = man[lead];
    }
    return SMAR_OK;
}

/* Submit every chunk to the pool, taking them back in order as the ring fills; after a
 * cancelled read the rest are marked cancelled, not sent. */
static void scan_all(scan *sc, smar_pool *pool, scan_job *jobs, size_t depth, const uint32_t *order)
{
    verify_run *v = sc->v;
    uint32_t n = v->r->trailer.chunk_count;
    for (uint32_t i = 0; i < n; i++) {
        if (smar_pool_full(pool))
            scanned(v, pool);
        if (atomic_load(&sc->cancelled)) {
            for (uint32_t k = i; k < n; k++)
                v->status[order[k]] = CHUNK_CANCELLED;
            break;
        }
        jobs[i % depth].chunk = order[i];
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
    uint32_t *order = NULL;
    scan_job *jobs = calloc(depth, sizeof *jobs);
    int rc = jobs ? scanners_init(&sc, jobs, depth) : SMAR_E_NOMEM;
    if (rc == SMAR_OK)
        rc = scan_order(v, sc.keyed, &order);
    if (rc == SMAR_OK)
        rc = smar_pool_new(&pool, workers, depth, scan_chunk, &sc);
    if (rc == SMAR_OK)
        scan_all(&sc, pool, jobs, depth, order);
    smar_pool_free(pool);
    scanners_free(&sc, jobs, depth);
    free(jobs);
    free(order);
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

/* ---- keyed: the manifest walked, payloads and index checked as the chunks go by --------
 *
 * The chunk scan hands every opened chunk to onepass_chunk, in scan order (scan_order:
 * file order, manifest chunks two early). Manifest chunks are parsed into records; each
 * record's payload locators become pending checks, settled when the payload chunks they
 * name go by (a record may span chunks: its bytes gather in the check). Index chunks are
 * compared with the entries the manifest implied once the manifest is complete. What
 * cannot be done in the pass (a locator behind the scan, index chunks before the manifest's
 * end: never in a writer's archive) is done after it, by reading again. Problems found
 * for secrets are kept and reported after the chunks' in manifest order, as the walk
 * found them before. Memory: the records of about three manifest chunks and their pending
 * checks, plus the expected index entries (as before). */

/* A secret whose payload checks are pending. */
typedef struct pending_secret {
    smar_secret *s;
    uint64_t ordinal;   /* its place in the manifest: the order its problems are reported in */
    size_t outstanding; /* payload checks not yet settled */
    bool bad;
} pending_secret;

/* One payload locator being checked. */
typedef struct payload_check {
    pending_secret *owner;
    const smar_version *ver;        /* NULL: the secret's own payload */
    const smar_locator *loc;        /* in owner->s */
    unsigned item;                  /* 1: the secret's payload, 2 + i: version i */
    uint32_t last_seq;              /* the last chunk a damaged-chunk check looks at */
    uint32_t next_seq, next_offset; /* where its next bytes are */
    size_t remaining;               /* bytes still to gather */
    bool damaged, failed, late;
    bool twin; /* the secret's own payload is this same stored record: settled with it,
                * counted and noted as item 1 too (its bytes are decoded and hashed once) */
    smar_buf buf;
    const uint8_t *direct; /* all its bytes, in the chunk being handed out (no copy in buf) */
    size_t direct_len;
} payload_check;

/* A problem of a secret, reported after the chunks' (copied: the secret is freed). */
typedef struct noted_problem {
    uint64_t ordinal;
    unsigned item;
    smar_problem_kind kind;
    uint64_t chunk;
    int section;
    char *id, *name, *version;
    const char *detail; /* static text */
} noted_problem;

/* A record framed from the manifest stream, checked on a worker (decoded, its metadata
 * JSON validated, its index keys computed), then taken in order by the main thread. */
typedef struct framed_record {
    const uint8_t *body; /* in the chunk's plaintext, or in onepass.spill */
    uint32_t len, seq, off;
    smar_secret *s; /* the worker's: decoded (NULL when it failed or was not reached) */
    int rc;
    unsigned part; /* the part that decoded it: where its error is */
    bool meta_ok;
    uint8_t key[SMAR_INDEX_TABLES][SMAR_INDEX_KEY_BYTES];
} framed_record;

/* A payload check whose bytes are all in (or that failed), settled on a worker. */
typedef struct settling_check {
    payload_check c;
    bool matches; /* the worker's: decodes and hashes to its locator */
} settling_check;

enum part_kind { PART_RECORDS, PART_PAYLOADS };

/* A slice of a batch (records or payloads) for one worker. Forked and joined within one
 * chunk's turn: the main thread waits for every part before it goes on. */
typedef struct part_job {
    smar_pool_job job;
    enum part_kind kind;
    size_t from, to;
    smar_err err; /* records: why the first failing one of the slice failed */
} part_job;

/* What a checking worker keeps: a chunker for payload decoding and a decode buffer. */
typedef struct check_worker {
    smar_chunker ck;
    smar_buf plain; /* secure: wiped after each payload */
} check_worker;

typedef struct onepass {
    /* the manifest stream: the record being gathered */
    smar_buf rec;
    size_t rec_need;            /* 4 for its length, then 4 + the body's */
    uint32_t rec_seq, rec_off;  /* where it starts */
    uint64_t next_manifest_seq; /* manifest chunks parsed so far */
    uint64_t seen;              /* records decoded */
    int walk_rc;                /* the walk stopped: why (walk_err) */
    smar_err walk_err;
    bool walk_done;
    /* payload checks */
    payload_check *checks;
    size_t nchecks, capchecks;
    uint64_t payload_seen; /* payload chunks scanned so far (they go by in seq order) */
    /* index tables compared as their chunks go by */
    bool index_streamed, index_late;
    bool index_ok[SMAR_INDEX_TABLES];
    size_t index_next[SMAR_INDEX_TABLES];
    uint32_t index_chunks[SMAR_INDEX_TABLES];
    /* problems of secrets */
    noted_problem *notes;
    size_t nnotes, capnotes;
    /* the per-secret checks on workers; batched: records too (an incremental archive
     * decodes its records through the bases, on this thread) */
    bool batched;
    smar_pool *pool;
    check_worker *workers; /* nworkers + 1: the last is this thread's */
    unsigned nworkers;
    part_job *parts;
    size_t nparts;
    framed_record *framed;
    size_t nframed, capframed;
    smar_buf spill; /* the body of a framed record that spanned chunks */
    settling_check *settling;
    size_t nsettling, capsettling;
} onepass;

static char *copy_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    *oom |= c == NULL;
    return c;
}

static void note(verify_run *v, const pending_secret *ps, unsigned item, smar_problem_kind kind,
                 uint64_t chunk, int section, const smar_version *ver, const char *detail)
{
    onepass *op = v->op;
    if (op->nnotes == op->capnotes) {
        size_t cap = op->capnotes ? 2 * op->capnotes : 64;
        noted_problem *n = realloc(op->notes, cap * sizeof *n);
        if (!n) {
            v->oom = true;
            return;
        }
        op->notes = n;
        op->capnotes = cap;
    }
    noted_problem *p = &op->notes[op->nnotes++];
    *p = (noted_problem){ps->ordinal, item, kind, chunk, section, NULL, NULL, NULL, detail};
    p->id = copy_or_null(ps->s->id, &v->oom);
    p->name = copy_or_null(ps->s->name, &v->oom);
    p->version = copy_or_null(ver ? ver->id : NULL, &v->oom);
}

static int note_cmp(const void *a, const void *b)
{
    const noted_problem *x = a, *y = b;
    if (x->ordinal != y->ordinal)
        return x->ordinal < y->ordinal ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Report the noted problems in manifest order; free them. emit false: free only. */
static void flush_notes(verify_run *v, bool emit)
{
    onepass *op = v->op;
    if (emit && op->nnotes > 1)
        qsort(op->notes, op->nnotes, sizeof *op->notes, note_cmp);
    for (size_t i = 0; i < op->nnotes; i++) {
        noted_problem *n = &op->notes[i];
        smar_problem p = {n->kind, n->chunk, n->section, n->id, n->name, n->version, n->detail};
        if (emit && v->cb)
            v->cb(&p, v->payload);
        free(n->id);
        free(n->name);
        free(n->version);
    }
    free(op->notes);
    op->notes = NULL;
    op->nnotes = op->capnotes = 0;
}

/* A secret whose checks are all settled: counted, and let go. */
static void secret_settled(verify_run *v, pending_secret *ps)
{
    if (ps->bad)
        v->res->secrets_bad++;
    smar_secret_free(ps->s);
    free(ps);
}

static void check_done(verify_run *v, payload_check *c)
{
    smar_buf_free(&c->buf);
    if (--c->owner->outstanding == 0)
        secret_settled(v, c->owner);
    c->owner = NULL;
}

/* Whether a payload's stored bytes decode (format 2) and hash to its locator. Thread-safe:
 * reads only the reader's keys and format; ck and plain are the caller's. */
static bool payload_matches(const smar_reader *r, smar_chunker *ck, smar_buf *plain,
                            const smar_locator *loc, const uint8_t *stored, size_t n)
{
    smar_err scratch;
    if (r->format == SMAR_FORMAT_V2) {
        if (smar_payload_decode(ck, stored, n, loc->coding, loc->plain_len, plain, &scratch)) {
            smar_buf_reset(plain);
            return false;
        }
        stored = plain->data;
        n = plain->len;
    }
    uint8_t hash[SMAR_HASH_BYTES];
    smar_hash(hash, r->keys->payload_hash, stored, n);
    smar_buf_reset(plain); /* secure: the secret's bytes are wiped */
    return smar_equal32(hash, loc->hash);
}

/* Whether a check with all its bytes in passes (on a worker: ck and plain are its own). */
static bool check_matches(const smar_reader *r, smar_chunker *ck, smar_buf *plain,
                          const payload_check *c)
{
    if (c->damaged || c->failed || c->remaining != 0)
        return false;
    if (c->direct)
        return payload_matches(r, ck, plain, c->loc, c->direct, c->direct_len);
    return payload_matches(r, ck, plain, c->loc, c->buf.data, c->buf.len);
}

static void settle_result(verify_run *v, payload_check *c, bool ok);

/* All the check's bytes are in (or it failed): a damaged chunk, a hash, or a pass. */
static void settle(verify_run *v, payload_check *c)
{
    smar_reader *r = v->r;
    smar_buf plain = {.secure = true};
    bool ok = !c->damaged && check_matches(r, &r->ck, &plain, c);
    smar_buf_free(&plain);
    settle_result(v, c, ok);
}

/* Count and note a settled check (ok: its payload matched). */
static void settle_result(verify_run *v, payload_check *c, bool ok)
{
    smar_reader *r = v->r;
    const smar_locator *loc = c->loc;
    if (c->damaged) {
        c->owner->bad = true;
        uint64_t chunk = r->section_chunks[SMAR_SEC_PAYLOAD][loc->seq];
        static const char damaged[] = "payload lies in a damaged chunk";
        if (c->twin)
            note(v, c->owner, 1, SMAR_PROBLEM_SECRET, chunk, SMAR_SEC_PAYLOAD, NULL, damaged);
        note(v, c->owner, c->item, SMAR_PROBLEM_SECRET, chunk, SMAR_SEC_PAYLOAD, c->ver, damaged);
        check_done(v, c);
        return;
    }
    if (!ok) {
        static const char mismatch[] = "payload does not match its manifest hash";
        c->owner->bad = true;
        if (c->twin)
            note(v, c->owner, 1, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SEC_PAYLOAD, NULL, mismatch);
        note(v, c->owner, c->item, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SEC_PAYLOAD, c->ver,
             mismatch);
    }
    v->res->payloads_checked += c->twin ? 2 : 1;
    check_done(v, c);
}

/* A check whose payload chunks went by before its record was read: read them again (as
 * the walk did before). The damaged-chunk test sees only chunks scanned so far: it runs
 * after the scan. */
static void settle_late(verify_run *v, payload_check *c)
{
    smar_reader *r = v->r;
    const smar_locator *loc = c->loc;
    uint64_t end = (uint64_t)loc->offset + loc->length;
    for (uint64_t s = loc->seq; s < r->counts[SMAR_SEC_PAYLOAD] && !c->damaged; s++) {
        c->damaged = v->bad[r->section_chunks[SMAR_SEC_PAYLOAD][s]];
        if ((s - loc->seq + 1) * r->hdr.chunk_size >= end)
            break;
    }
    if (!c->damaged) {
        c->buf.secure = true;
        c->failed = smar_reader_read_stream(r, SMAR_SEC_PAYLOAD, loc->seq, loc->offset, loc->length,
                                            &c->buf) != SMAR_OK;
        c->remaining = 0;
    }
    settle(v, c);
}

static int add_check(verify_run *v, pending_secret *ps, const smar_version *ver,
                     const smar_locator *loc, unsigned item, bool twin)
{
    onepass *op = v->op;
    const smar_reader *r = v->r;
    if (op->nchecks == op->capchecks) {
        size_t cap = op->capchecks ? 2 * op->capchecks : 256;
        payload_check *n = realloc(op->checks, cap * sizeof *n);
        if (!n)
            return SMAR_E_NOMEM;
        op->checks = n;
        op->capchecks = cap;
    }
    uint64_t count = r->counts[SMAR_SEC_PAYLOAD];
    uint64_t end = (uint64_t)loc->offset + loc->length;
    /* a chunk holds at most chunk_size bytes: the chunks a damaged-chunk check looks at */
    uint64_t last = loc->seq + (end ? (end - 1) / r->hdr.chunk_size : 0);
    /* as read_stream: bytes declared past what the rest of the section can hold fail */
    uint64_t room = loc->seq < count ? (count - loc->seq) * (uint64_t)r->hdr.chunk_size : 0;
    payload_check *c = &op->checks[op->nchecks++];
    *c = (payload_check){.owner = ps,
                         .ver = ver,
                         .loc = loc,
                         .item = item,
                         .last_seq = (uint32_t)(last < count ? last
                                                : count      ? count - 1
                                                             : 0),
                         .next_seq = loc->seq,
                         .next_offset = loc->offset,
                         .remaining = loc->length,
                         .failed = loc->length > 0 && end > room,
                         .late = loc->seq < op->payload_seen,
                         .twin = twin};
    c->buf.secure = true;
    ps->outstanding++;
    return SMAR_OK;
}

/* The secret's own payload is stored once when it is a version's payload (FORMAT.md
 * §11.2): both locators then name the same record, checked once and counted once, so the
 * count of payloads is the stored records' (payload_count, as inspect shows it). */
static const smar_version *version_sharing_record(const smar_secret *s)
{
    for (size_t i = 0; i < s->nversions; i++) {
        const smar_locator *l = &s->versions[i].payload;
        if (s->versions[i].has_payload && l->base == s->payload.base && l->seq == s->payload.seq &&
            l->offset == s->payload.offset && l->length == s->payload.length &&
            smar_equal32(l->hash, s->payload.hash))
            return &s->versions[i];
    }
    return NULL;
}

static bool shares_version_record(const smar_secret *s)
{
    return version_sharing_record(s) != NULL;
}

/* key: the index key a worker computed, or NULL to compute it here. */
static void expect_entry(verify_run *v, int table, const char *name, const smar_secret *s,
                         const uint8_t *key)
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
    if (key)
        memcpy(x->key, key, SMAR_INDEX_KEY_BYTES);
    else
        smar_index_key(x->key, v->r->keys->index, table, name, strlen(name));
    x->seq = s->where.seq;
    x->offset = s->where.offset;
    x->length = s->where.length;
}

/* An external payload (incremental archives, FORMAT.md §26): read and hash-checked now by
 * the base that holds it, with that base's key. SMAR_OK, or SMAR_E_NEEDBASE / SMAR_E_NOMEM
 * (in r's error), which end the walk. */
static int check_external_payload(verify_run *v, pending_secret *ps, const smar_version *ver,
                                  unsigned item)
{
    char *p = NULL;
    size_t n = 0;
    int rc = smar_reader_read_payload(v->r, ps->s, ver, &p, &n);
    smar_secret_buffer_free(p, n);
    if (rc == SMAR_E_NEEDBASE || rc == SMAR_E_NOMEM)
        return rc;
    if (rc == SMAR_E_CORRUPT) { /* a chunk of the base is damaged: the base's verify names it */
        ps->bad = true;
        note(v, ps, item, SMAR_PROBLEM_SECRET, 0, SMAR_SEC_PAYLOAD, ver,
             "payload lies in a damaged chunk of a base archive");
    } else if (rc != SMAR_OK) {
        ps->bad = true;
        note(v, ps, item, SMAR_PROBLEM_PAYLOAD_HASH, 0, SMAR_SEC_PAYLOAD, ver,
             "payload in the base archive does not match its manifest hash");
    }
    v->res->payloads_checked++;
    return SMAR_OK;
}

/* Queue the check of a payload of this archive, or check one a base holds now. */
static int check_payload(verify_run *v, pending_secret *ps, const smar_version *ver,
                         const smar_locator *loc, unsigned item, bool twin)
{
    if (loc->base > 0)
        return check_external_payload(v, ps, ver, item);
    return add_check(v, ps, ver, loc, item, twin);
}

/* Whether the record's metadata texts are JSON objects: records are decoded without
 * checking them. Thread-safe on a record only this thread holds. */
static bool metadata_ok(const smar_secret *s)
{
    bool ok = smar_secret_metadata_json(s, NULL) != NULL;
    for (size_t i = 0; i < s->nversions && ok; i++)
        ok = smar_version_metadata_json(&s->versions[i], NULL) != NULL;
    return ok;
}

/* Whether the record is listed in the name table: an incremental archive's name table
 * holds its type 1 records only (FORMAT.md §26). */
static bool has_name_entry(const smar_secret *s)
{
    return s->name[0] && s->stored_type == SMAR_RECORD_SECRET;
}

/* A record read from the manifest: its index entries and metadata checked now (or by the
 * worker that decoded it: f), its payloads queued (or, when a base holds them, checked
 * now). Takes s. */
static int check_secret(verify_run *v, smar_secret *s, const framed_record *f)
{
    pending_secret *ps = calloc(1, sizeof *ps);
    if (!ps) {
        smar_secret_free(s);
        return SMAR_E_NOMEM;
    }
    *ps = (pending_secret){.s = s, .ordinal = v->op->seen, .outstanding = 1};
    v->res->secrets_checked++;
    v->res->versions_checked += s->nversions;
    expect_entry(v, SMAR_INDEX_BY_ID, s->id, s, f ? f->key[SMAR_INDEX_BY_ID] : NULL);
    if (has_name_entry(s))
        expect_entry(v, SMAR_INDEX_BY_NAME, s->name, s, f ? f->key[SMAR_INDEX_BY_NAME] : NULL);
    if (!(f ? f->meta_ok : metadata_ok(s))) {
        ps->bad = true;
        note(v, ps, 0, SMAR_PROBLEM_SECRET, 0, SMAR_SEC_MANIFEST, NULL,
             "its metadata is not a JSON object");
    }
    int rc = SMAR_OK;
    /* a secret's own payload stored as a version's record of this archive is checked with
     * that version's: the same bytes against the same hash, decoded and hashed once */
    const smar_version *twin = s->has_payload ? version_sharing_record(s) : NULL;
    if (twin && (s->payload.base > 0 || twin->payload.coding != s->payload.coding ||
                 twin->payload.plain_len != s->payload.plain_len))
        twin = NULL; /* a base's, or decoded otherwise: checked on its own */
    if (s->has_payload) {
        if (!twin)
            rc = check_payload(v, ps, NULL, &s->payload, 1, false);
        if (!shares_version_record(s))
            v->res->payload_records_checked++;
    }
    for (size_t i = 0; i < s->nversions && rc == SMAR_OK; i++)
        if (s->versions[i].has_payload) {
            const smar_version *ver = &s->versions[i];
            rc = check_payload(v, ps, ver, &ver->payload, 2 + (unsigned)i, ver == twin);
            v->res->payload_records_checked++;
        }
    if (--ps->outstanding == 0) /* the hold taken above: no payload is pending */
        secret_settled(v, ps);
    return rc;
}

static void walk_fail(verify_run *v, int rc)
{
    onepass *op = v->op;
    if (op->walk_rc == SMAR_OK)
        op->walk_rc = rc;
    op->walk_done = true;
}

/* A decoded record, in manifest order: checked and counted. Takes s. */
static int record_checked(verify_run *v, smar_secret *s, const framed_record *f)
{
    onepass *op = v->op;
    int rc = check_secret(v, s, f);
    op->seen++;
    if (rc == SMAR_E_NEEDBASE)
        op->walk_err = v->r->err; /* names the bases it lacks */
    return rc == SMAR_E_NOMEM ? smar_fail(&op->walk_err, rc, "out of memory") : rc;
}

static smar_locator record_where(uint32_t seq, uint32_t off, uint32_t body_len)
{
    return (smar_locator){.seq = seq,
                          .offset = off,
                          .length = body_len + 4,
                          .coding = SMAR_CODING_RAW,
                          .plain_len = body_len + 4};
}

/* An incremental archive's record: type 3 records resolve through the bases, which
 * belong to this thread, so it is decoded and checked here, at once. */
static int record_now(verify_run *v, const uint8_t *body, uint32_t len, uint32_t seq, uint32_t off)
{
    smar_secret *s = NULL;
    int rc = smar_reader_decode_incremental(v->r, body, len, &s);
    if (rc) {
        v->op->walk_err = v->r->err;
        return rc;
    }
    s->where = record_where(seq, off, len);
    return record_checked(v, s, NULL);
}

/* The worker's part of a batch of records: decode each, validate its metadata and compute
 * its index keys; stop at the first that fails (the main thread stops there too). */
static void decode_records(const verify_run *v, part_job *p, unsigned part)
{
    const smar_reader *r = v->r;
    for (size_t i = p->from; i < p->to; i++) {
        framed_record *f = &v->op->framed[i];
        f->rc = smar_record_decode_format(&f->s, r->format, f->body, f->len, &p->err);
        if (f->rc) {
            f->part = part;
            return;
        }
        f->s->where = record_where(f->seq, f->off, f->len);
        f->meta_ok = metadata_ok(f->s);
        smar_index_key(f->key[SMAR_INDEX_BY_ID], r->keys->index, SMAR_INDEX_BY_ID, f->s->id,
                       strlen(f->s->id));
        if (has_name_entry(f->s))
            smar_index_key(f->key[SMAR_INDEX_BY_NAME], r->keys->index, SMAR_INDEX_BY_NAME,
                           f->s->name, strlen(f->s->name));
    }
}

/* The worker's part of a batch of settling payload checks: decode and hash each. */
static void match_payloads(const verify_run *v, check_worker *w, part_job *p)
{
    for (size_t i = p->from; i < p->to; i++) {
        settling_check *st = &v->op->settling[i];
        st->matches = check_matches(v->r, &w->ck, &w->plain, &st->c);
    }
}

static void run_part(verify_run *v, unsigned worker, part_job *p)
{
    unsigned part = (unsigned)(p - v->op->parts);
    if (p->kind == PART_RECORDS)
        decode_records(v, p, part);
    else
        match_payloads(v, &v->op->workers[worker], p);
}

/* The check pool's job function. */
static void check_part(void *ctx, unsigned worker, smar_pool_job *job)
{
    run_part(ctx, worker, SMAR_POOL_ENTRY(job, part_job, job));
}

/* Batches smaller than this are not worth waking the workers for. */
enum { SMALL_BATCH = 4 };

/* Run a batch of n items in slices: all but the last on the workers, the last on this
 * thread (a small batch: all of it); wait for them all. */
static void run_batch(verify_run *v, enum part_kind kind, size_t n)
{
    onepass *op = v->op;
    size_t nparts = n < SMALL_BATCH ? 1 : n < op->nparts ? n : op->nparts;
    for (size_t k = 0; k < nparts; k++) {
        part_job *p = &op->parts[k];
        p->kind = kind;
        p->from = n * k / nparts;
        p->to = n * (k + 1) / nparts;
        if (k + 1 < nparts)
            smar_pool_submit(op->pool, &p->job);
    }
    run_part(v, op->nworkers, &op->parts[nparts - 1]);
    for (size_t k = 0; k + 1 < nparts; k++)
        smar_pool_take(op->pool);
}

/* Check the records framed so far (decoded on the workers), then take them in manifest
 * order; after one fails, the rest are dropped, as a walk stops there. */
static int apply_records(verify_run *v)
{
    onepass *op = v->op;
    int rc = SMAR_OK;
    run_batch(v, PART_RECORDS, op->nframed);
    for (size_t i = 0; i < op->nframed; i++) {
        framed_record *f = &op->framed[i];
        if (rc == SMAR_OK && f->rc) {
            op->walk_err = op->parts[f->part].err;
            rc = f->rc;
        } else if (rc == SMAR_OK) {
            rc = record_checked(v, f->s, f);
        } else {
            smar_secret_free(f->s);
        }
        f->s = NULL;
    }
    op->nframed = 0;
    smar_buf_reset(&op->spill);
    return rc;
}

/* A whole record's body was framed: queue it for the workers (or, incremental, check it
 * now). in_rec: it was gathered in op->rec, which goes on to the next record. */
static int record_framed(verify_run *v, const uint8_t *body, uint32_t len, uint32_t seq,
                         uint32_t off, bool in_rec)
{
    onepass *op = v->op;
    if (!op->batched) {
        int rc = record_now(v, body, len, seq, off);
        if (in_rec)
            smar_buf_reset(&op->rec);
        return rc;
    }
    if (in_rec) { /* keep its bytes until the batch is applied: swap buffers */
        int rc = op->spill.len ? apply_records(v) : SMAR_OK;
        if (rc)
            return rc;
        smar_buf t = op->spill;
        op->spill = op->rec;
        op->rec = t;
        body = op->spill.data + 4;
    }
    if (op->nframed == op->capframed) {
        size_t cap = op->capframed ? 2 * op->capframed : 256;
        framed_record *n = realloc(op->framed, cap * sizeof *n);
        if (!n)
            return smar_fail(&op->walk_err, SMAR_E_NOMEM, "out of memory");
        op->framed = n;
        op->capframed = cap;
    }
    op->framed[op->nframed++] = (framed_record){.body = body, .len = len, .seq = seq, .off = off};
    return SMAR_OK;
}

static int record_length(verify_run *v, uint32_t body_len)
{
    if (body_len == 0 || body_len > SMAR_MAX_RECORD_BYTES)
        return smar_fail(&v->op->walk_err, SMAR_E_LIMIT, "'%s': manifest record of %u bytes",
                         v->r->name, body_len);
    return SMAR_OK;
}

/* Manifest chunk seq's plaintext: frame the records across it. A record inside the chunk
 * is framed where it lies; one that spans chunks is gathered in op->rec. */
static int frame_records(verify_run *v, uint32_t seq, const uint8_t *raw, size_t len)
{
    onepass *op = v->op;
    size_t at = 0;
    int rc;
    while (at < len) {
        if (op->rec.len == 0 && len - at >= 4) {
            uint32_t body_len = smar_load_u32(raw + at);
            if ((rc = record_length(v, body_len)))
                return rc;
            if (len - at - 4 >= body_len) {
                if ((rc = record_framed(v, raw + at + 4, body_len, seq, (uint32_t)at, false)))
                    return rc;
                at += 4 + (size_t)body_len;
                continue;
            }
        }
        if (op->rec.len == 0) {
            op->rec_seq = seq;
            op->rec_off = (uint32_t)at;
        }
        size_t take = op->rec_need - op->rec.len;
        take = take < len - at ? take : len - at;
        if (smar_buf_append(&op->rec, raw + at, take))
            return smar_fail(&op->walk_err, SMAR_E_NOMEM, "out of memory");
        at += take;
        if (op->rec.len < op->rec_need)
            break;
        if (op->rec_need == 4) {
            uint32_t body_len = smar_load_u32(op->rec.data);
            if ((rc = record_length(v, body_len)))
                return rc;
            op->rec_need = 4 + (size_t)body_len;
            continue;
        }
        op->rec_need = 4;
        rc = record_framed(v, op->rec.data + 4, (uint32_t)(op->rec.len - 4), op->rec_seq,
                           op->rec_off, true);
        if (rc)
            return rc;
    }
    return SMAR_OK;
}

/* Manifest chunk seq's plaintext: its records framed, checked and taken in order. Records
 * framed before a framing error are still taken: they come first in the manifest. */
static int manifest_chunk(verify_run *v, uint32_t seq, const uint8_t *raw, size_t len)
{
    int frame_rc = frame_records(v, seq, raw, len);
    int rc = v->op->batched ? apply_records(v) : SMAR_OK;
    return rc ? rc : frame_rc;
}

static void manifest_end(verify_run *v)
{
    onepass *op = v->op;
    smar_reader *r = v->r;
    if (op->walk_done)
        return;
    op->walk_done = true;
    if (op->rec.len > 0)
        walk_fail(v, smar_fail(&op->walk_err, SMAR_E_FORMAT, "'%s': record runs past its section",
                               r->name));
    else if (op->seen != r->meta.secret_count)
        walk_fail(v, smar_fail(&op->walk_err, SMAR_E_CORRUPT,
                               "'%s': the manifest holds %llu secrets, the meta section says %llu",
                               r->name, (unsigned long long)op->seen,
                               (unsigned long long)r->meta.secret_count));
}

static void on_manifest_chunk(verify_run *v, uint32_t seq, const smar_plain *plain, bool ok)
{
    onepass *op = v->op;
    if (op->walk_done)
        return;
    int rc = ok ? manifest_chunk(v, seq, plain->raw, plain->len) : SMAR_E_CORRUPT;
    if (rc) {
        walk_fail(v, rc); /* a damaged chunk: verify_keyed reports it; the walk stops */
        return;
    }
    if (++op->next_manifest_seq == v->r->counts[SMAR_SEC_MANIFEST])
        manifest_end(v);
}

/* Feed check c the bytes chunk seq holds for it. A check that takes all its bytes from
 * this chunk points at them (direct) instead of copying them, for as long as the chunk's
 * turn lasts: it is settled in that turn, or its bytes are copied after all. */
static void feed_check(verify_run *v, payload_check *c, uint32_t seq, const smar_plain *plain,
                       bool ok)
{
    bool gathering =
        !c->late && !c->damaged && !c->failed && c->remaining > 0 && c->next_seq == seq;
    if (!c->late && !ok && seq >= c->loc->seq && seq <= c->last_seq)
        c->damaged = true;
    else if (gathering && (!ok || c->next_offset >= plain->len))
        c->failed = true; /* as read_stream: damaged, or a locator past the chunk's end */
    else if (gathering) {
        size_t take = plain->len - c->next_offset;
        take = take < c->remaining ? take : c->remaining;
        if (c->buf.len == 0 && take == c->remaining) {
            c->direct = plain->raw + c->next_offset;
            c->direct_len = take;
        } else if (smar_buf_append(&c->buf, plain->raw + c->next_offset, take)) {
            v->oom = true;
        }
        c->remaining -= take;
        c->next_seq++;
        c->next_offset = 0;
    }
}

static bool check_settles(const payload_check *c, uint32_t seq)
{
    return !c->late && seq >= c->last_seq && (c->remaining == 0 || c->damaged || c->failed);
}

/* Payload chunk seq went by: feed the checks waiting for it; those complete are decoded
 * and hashed on the workers, then settled here in the order they were queued. */
static void on_payload_chunk(verify_run *v, uint32_t seq, const smar_plain *plain, bool ok)
{
    onepass *op = v->op;
    size_t keep = 0;
    op->payload_seen = (uint64_t)seq + 1;
    if (op->capsettling < op->nchecks) {
        settling_check *n = realloc(op->settling, op->nchecks * sizeof *n);
        if (!n) {
            v->oom = true;
            return;
        }
        op->settling = n;
        op->capsettling = op->nchecks;
    }
    op->nsettling = 0;
    for (size_t i = 0; i < op->nchecks; i++) {
        payload_check *c = &op->checks[i];
        feed_check(v, c, seq, plain, ok);
        if (check_settles(c, seq)) {
            op->settling[op->nsettling++].c = *c;
            continue;
        }
        if (c->direct) { /* not settled in this turn (a short chunk): keep a copy */
            v->oom |= smar_buf_append(&c->buf, c->direct, c->direct_len) != SMAR_OK;
            c->direct = NULL;
        }
        op->checks[keep++] = *c;
    }
    op->nchecks = keep;
    run_batch(v, PART_PAYLOADS, op->nsettling);
    for (size_t i = 0; i < op->nsettling; i++) {
        payload_check *c = &op->settling[i].c;
        c->direct = NULL; /* the chunk's turn ends */
        settle_result(v, c, op->settling[i].matches);
    }
    op->nsettling = 0;
}

/* Index chunk seq went by: compare it with the entries the manifest implied. */
static void on_index_chunk(verify_run *v, uint32_t seq, const smar_plain *plain, bool ok)
{
    onepass *op = v->op;
    smar_reader *r = v->r;
    if (!ok)
        return; /* verify_keyed: a damaged index is not complete */
    if (!op->walk_done || op->walk_rc || v->oom) {
        op->index_late = true; /* compared after the scan, if at all */
        return;
    }
    if (!op->index_streamed) {
        op->index_streamed = true;
        for (int t = 0; t < SMAR_INDEX_TABLES; t++) {
            op->index_ok[t] = r->meta.tables[t].nentries == v->nexpect[t];
            if (v->nexpect[t] > 1)
                qsort(v->expect[t], v->nexpect[t], sizeof(smar_index_entry), smar_index_entry_cmp);
        }
    }
    for (int t = 0; t < SMAR_INDEX_TABLES; t++) {
        const smar_index_desc *d = &r->meta.tables[t];
        if (seq < d->first_seq || seq - d->first_seq >= d->nchunks || !op->index_ok[t])
            continue;
        uint32_t c = seq - d->first_seq;
        const uint8_t *raw = plain->raw;
        size_t len = plain->len;
        if (c != op->index_chunks[t]++ || len % SMAR_INDEX_ENTRY_BYTES != 0 || len == 0 ||
            memcmp(raw, d->fences + (size_t)c * SMAR_INDEX_KEY_BYTES, SMAR_INDEX_KEY_BYTES) != 0) {
            op->index_ok[t] = false;
            continue;
        }
        for (size_t i = 0; i < len && op->index_ok[t]; i += SMAR_INDEX_ENTRY_BYTES) {
            uint8_t want[SMAR_INDEX_ENTRY_BYTES];
            if (op->index_next[t] == v->nexpect[t]) {
                op->index_ok[t] = false;
                break;
            }
            smar_index_entry_encode(want, &v->expect[t][op->index_next[t]++]);
            op->index_ok[t] = memcmp(raw + i, want, SMAR_INDEX_ENTRY_BYTES) == 0;
        }
    }
}

static void onepass_chunk(verify_run *v, uint32_t chunk, const smar_plain *plain, bool ok)
{
    const smar_reader *r = v->r;
    uint8_t section = r->table[chunk].section;
    uint32_t seq = r->seq_of[chunk];
    if (BENCH_SCAN_ONLY)
        return;
    if (v->status[chunk] == CHUNK_IO || v->status[chunk] == CHUNK_CANCELLED)
        return; /* the verify fails: report_chunks says why */
    if (!ok)
        v->bad[chunk] = 1;
    if (v->oom)
        return;
    if (section == SMAR_SEC_MANIFEST)
        on_manifest_chunk(v, seq, plain, ok);
    else if (section == SMAR_SEC_PAYLOAD)
        on_payload_chunk(v, seq, plain, ok);
    else if (section == SMAR_SEC_INDEX)
        on_index_chunk(v, seq, plain, ok);
}

/* The workers the per-secret checks run on: as many as the scan's, in a pool of their own
 * (a batch is forked and joined within one scanned chunk's turn, while the scan pool reads
 * ahead), plus this thread, which takes a slice of each batch. */
static int checkers_new(verify_run *v)
{
    onepass *op = v->op;
    const smar_reader *r = v->r;
    unsigned threads = v->nthreads > 1 ? v->nthreads : 0;
    op->nparts = threads ? 2 * (size_t)threads + 1 : 1; /* + 1: this thread's slice */
    if (!(op->parts = calloc(op->nparts, sizeof *op->parts)))
        return SMAR_E_NOMEM;
    if (smar_pool_new(&op->pool, threads, op->nparts, check_part, v))
        return SMAR_E_NOMEM;
    op->nworkers = smar_pool_workers(op->pool);
    if (!(op->workers = calloc((size_t)op->nworkers + 1, sizeof *op->workers)))
        return SMAR_E_NOMEM;
    for (unsigned i = 0; i <= op->nworkers; i++) {
        op->workers[i].plain.secure = true;
        if (smar_chunker_init_format(&op->workers[i].ck, r->format, r->hdr.suite, 0,
                                     r->hdr.chunk_size, r->keys->chunk, r->hdr.archive_id))
            return SMAR_E_NOMEM;
    }
    return SMAR_OK;
}

static void checkers_free(onepass *op)
{
    smar_pool_free(op->pool); /* first: no worker runs past here */
    for (unsigned i = 0; op->workers && i <= op->nworkers; i++) {
        smar_chunker_free(&op->workers[i].ck); /* zeroed when never set up: fine */
        smar_buf_free(&op->workers[i].plain);
    }
    free(op->workers);
    free(op->parts);
    for (size_t i = 0; i < op->nframed; i++)
        smar_secret_free(op->framed[i].s);
    free(op->framed);
    free(op->settling);
    smar_buf_free(&op->spill);
}

static int onepass_new(verify_run *v)
{
    if (!(v->op = calloc(1, sizeof *v->op)))
        return SMAR_E_NOMEM;
    v->op->rec.secure = true; /* records hold metadata */
    v->op->spill.secure = true;
    v->op->rec_need = 4;
    v->op->batched = !smar_reader_is_incremental(v->r);
    if (checkers_new(v))
        return SMAR_E_NOMEM;
    if (v->r->counts[SMAR_SEC_MANIFEST] == 0)
        manifest_end(v);
    return SMAR_OK;
}

static void onepass_free(verify_run *v)
{
    onepass *op = v->op;
    if (!op)
        return;
    for (size_t i = 0; i < op->nchecks; i++) /* several may share an owner: free once */
        if (op->checks[i].owner) {
            pending_secret *owner = op->checks[i].owner;
            for (size_t k = i; k < op->nchecks; k++)
                if (op->checks[k].owner == owner) {
                    smar_buf_free(&op->checks[k].buf);
                    op->checks[k].owner = NULL;
                }
            smar_secret_free(owner->s);
            free(owner);
        }
    free(op->checks);
    smar_buf_free(&op->rec);
    checkers_free(op);
    flush_notes(v, false);
    free(op);
    v->op = NULL;
}

/* After the scan: the checks the pass could not settle. */
static void settle_rest(verify_run *v)
{
    onepass *op = v->op;
    for (size_t i = 0; i < op->nchecks && !v->oom; i++) {
        payload_check *c = &op->checks[i];
        if (c->late)
            settle_late(v, c);
        else
            settle(v, c); /* its chunks never came: the locator runs past the section */
    }
    op->nchecks = 0;
}

static bool any_bad_in(const verify_run *v, int section)
{
    for (uint32_t seq = 0; seq < v->r->counts[section]; seq++)
        if (v->bad[v->r->section_chunks[section][seq]])
            return true;
    return false;
}

/* The stored index must hold exactly the entries the manifest implies, in order: every
 * secret findable by id and by name, and nothing else. Read again: the pass could not
 * compare it (index chunks before the manifest's end). */
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

/* Whether index table t matched: from the pass, or read again. */
static bool index_table_ok(verify_run *v, int t)
{
    onepass *op = v->op;
    if (op->index_streamed && !op->index_late)
        return op->index_ok[t] && op->index_chunks[t] == v->r->meta.tables[t].nchunks &&
               op->index_next[t] == v->nexpect[t];
    return index_table_matches(v, t);
}

static void check_index(verify_run *v)
{
    static const char *const what[] = {"the index by id does not match the manifest",
                                       "the index by name does not match the manifest"};
    v->res->index_ok = 1;
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        if (!index_table_ok(v, t)) {
            v->res->index_ok = 0;
            report(v, SMAR_PROBLEM_INDEX, 0, SMAR_SEC_INDEX, NULL, NULL, what[t]);
        }
}

/* Format 2.2: the digests section's shape (its chunks were authenticated with the rest):
 * one entry per record, a key_base the header can name. */
static int check_digests(verify_run *v)
{
    smar_reader *r = v->r;
    smar_buf stream = {0};
    smar_digests_view dv;
    int rc = SMAR_OK;
    if (r->counts[SMAR_SEC_DIGESTS] == 0)
        return SMAR_OK;
    if (any_bad_in(v, SMAR_SEC_DIGESTS)) /* its chunks were reported */
        return smar_fail(&r->err, SMAR_E_CORRUPT, "'%s': the digests section is damaged", r->name);
    for (uint32_t seq = 0; seq < r->counts[SMAR_SEC_DIGESTS] && rc == SMAR_OK; seq++) {
        const uint8_t *raw;
        size_t len;
        if ((rc = smar_reader_load_chunk(r, SMAR_SEC_DIGESTS, seq, &raw, &len)) == SMAR_OK &&
            smar_buf_append(&stream, raw, len))
            rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    }
    if (rc == SMAR_OK &&
        (rc = smar_digests_parse(stream.data, stream.len, r->meta.secret_count, &dv, &r->err)) ==
            SMAR_OK &&
        dv.key_base != SMAR_DIGESTS_KEY_OWN && dv.key_base >= smar_reader_base_count(r))
        rc = smar_fail(&r->err, SMAR_E_FORMAT, "'%s': the digests section names base %u of %zu",
                       r->name, dv.key_base, smar_reader_base_count(r));
    smar_buf_free(&stream);
    return rc;
}

static int verify_keyed(verify_run *v)
{
    smar_reader *r = v->r;
    onepass *op = v->op;
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
    settle_rest(v);
    flush_notes(v, true);
    if (v->oom)
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (op->walk_rc) {
        r->err = op->walk_err;
        /* a missing base is the caller's to supply, not damage: the reader lives on */
        return op->walk_rc == SMAR_E_NEEDBASE ? op->walk_rc : smar_reader_die(r, op->walk_rc);
    }
    if (!any_bad_in(v, SMAR_SEC_INDEX))
        check_index(v);
    else
        v->res->index_ok = 0;
    return check_digests(v);
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
    if (rc == SMAR_OK && (flags & SMAR_VERIFY_KEYED) && onepass_new(&v))
        rc = smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    if (rc == SMAR_OK && (rc = scan_chunks(&v)) == SMAR_OK && (rc = report_chunks(&v)) == SMAR_OK) {
        check_root_and_signature(&v, pubkey);
        if ((flags & SMAR_VERIFY_KEYED) && !BENCH_SCAN_ONLY)
            rc = verify_keyed(&v);
    }
    bool forged = false;
    for (uint32_t i = 0; v.status && i < r->trailer.chunk_count; i++)
        forged |= v.status[i] == CHUNK_AUTH;
    onepass_free(&v);
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
