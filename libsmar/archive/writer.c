/*
 * writer.c - writing a format 2 archive in one forward pass (spec/FORMAT.md, "Writing").
 *
 * Two byte streams fill as secrets arrive: payloads and manifest records. Each becomes
 * chunks as it fills, so the two sections interleave in the file; a stream keeps its last
 * full chunk until more bytes come, so that the chunk which ends a section is known when
 * it is sealed. Index entries (28 bytes a secret and table) stay in memory until finish,
 * when they are sorted and written, followed by the meta section, the chunk table, the key
 * slot area and the trailer. Memory: a chunk per stream, the index and the chunk table.
 *
 * Each payload record is stored on its own (its own zstd frame, or raw): no compression
 * context ever holds bytes of two secrets. The last chunk of each section and of each index
 * table is padded (smar_pad_len), which needs the sealed sizes of the group's earlier
 * chunks: the pipeline is drained before such a chunk is queued (a few times an archive).
 */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chunk.h"
#include "subkeys.h"
#include "pipeline.h"
#include "splitq.h"
#include "header2.h"
#include "slots.h"
#include "root2.h"
#include "keyring_internal.h"
#include "index.h"
#include "meta.h"
#include "manifest.h"
#include "split.h"
#include "table.h"
#include "root.h"
#include "basemap.h"
#include "digests.h"
#include "toplevel.h"
#include "reader_internal.h"
#include "smar/reader.h"
#include "smar/writer.h"

/* The format's limits are the API's. */
_Static_assert(SMAR_SLOTS_MAX == SMAR_MAX_KEY_SLOTS, "slot limit");
_Static_assert(SMAR_CHUNK_MIN == SMAR_CHUNK_SIZE_MIN && SMAR_CHUNK_MAX == SMAR_CHUNK_SIZE_MAX,
               "chunk size limits");
_Static_assert(SMAR_SUITE_XCHACHA20POLY1305_ID == SMAR_SUITE_XCHACHA20POLY1305 &&
                   SMAR_SUITE_AES256GCM_ID == SMAR_SUITE_AES256GCM,
               "suite ids");
_Static_assert(SMAR_SLOT_KEY_ID_MAX == SMAR_KEY_ID_MAX, "key id limit");
_Static_assert((int)SMAR_SEC_PAYLOAD == (int)SMAR_SECTION_PAYLOAD &&
                   (int)SMAR_SEC_MANIFEST == (int)SMAR_SECTION_MANIFEST &&
                   (int)SMAR_SEC_INDEX == (int)SMAR_SECTION_INDEX &&
                   (int)SMAR_SEC_META == (int)SMAR_SECTION_META,
               "section ids");

enum writer_state { W_NEW, W_OPEN, W_STREAMING, W_DONE, W_DEAD };

typedef struct index_list {
    smar_index_entry *v;
    size_t n, cap;
} index_list;

struct smar_writer {
    smar_err err;
    enum writer_state state;
    smar_keyring *keyrings[SMAR_MAX_KEY_SLOTS];
    size_t nkeyrings;
    const smar_signkey *signer;
    smar_sink out;
    bool out_ended; /* commit or abort was called: the sink is done with */
    /* smar_writer_open_fd and smar_writer_open_cb: what their sinks write to */
    struct fd_out {
        int fd;
        bool writeback; /* false once the fd refused sync_file_range (a pipe, say) */
        uint64_t written, kicked;
    } fd_out;
    struct cb_out {
        smar_write_fn fn;
        void *opaque;
    } cb_out;
    int zstd_level;

    uint8_t *dek; /* wiped once the subkeys and the key slots exist */
    smar_keys *keys;
    smar_header2 hdr;
    smar_slot2 slots[SMAR_MAX_KEY_SLOTS];
    uint8_t wrapped[SMAR_MAX_KEY_SLOTS][SMAR_WRAPPED_MAX];
    unsigned nslots;
    smar_buf header_bytes;
    smar_chunker coder; /* codes payload records (format 2: their own zstd frames) */
    bool have_coder;
    smar_pipeline *pipeline;
    unsigned threads;
    uint64_t next_chunk; /* chunk numbers are given at submission, written in that order */
    uint64_t offset;

    smar_table_entry *table;
    size_t ntable, cap_table;
    uint32_t seq[SMAR_SEC_COUNT];
    uint64_t sealed_plain[SMAR_SEC_COUNT]; /* per section: sealed-plaintext bytes written */
    uint64_t index_table_start; /* sealed_plain[INDEX] when the current index table began */
    smar_buf stream[SMAR_SEC_COUNT];
    smar_buf payload_stored; /* a payload record as stored (maybe compressed) */
    smar_buf sealed;

    index_list index[SMAR_INDEX_TABLES];
    uint32_t *idset; /* open addressing over index[BY_ID]: position + 1, 0 = empty */
    size_t idset_cap;

    uint64_t secrets, versions, payloads;
    uint64_t payload_bytes; /* plaintext bytes of the stored payload records */
    int64_t oldest, newest;
    /* smar_writer_refuse_later_versions: the latest version or secret creation placed so
     * far, and whose, to refuse a snapshot time before it. */
    bool refuse_later;
    int64_t latest;
    char *latest_secret;
    char *latest_version;  /* NULL: the secret's own created_at */
    smar_split split;      /* the secret being split and placed, with one thread */
    smar_splitq *splitq;   /* with more: secrets split by workers, placed in order */
    const smar_split *cur; /* the secret being placed */
    uint64_t added;        /* smar_writer_add_secret calls that queued a secret */
    uint64_t placed;       /* secrets placed (or failed) in the streams, in order */
    uint64_t failed;       /* the add_secret call whose secret failed (1-based), 0: none */
    smar_buf record;
    smar_buf document;
    /* incremental: the parent (borrowed) and what it holds by secret id */
    smar_reader *base;
    smar_basemap *basemap;
    uint64_t same_as_base, payloads_referenced;
    /* format 2.2 (incremental archives): the digests section, one entry per record placed,
     * and which of a digests parent's records a digest hit (the others are counted out of
     * the parent's meta counts at finish) */
    bool digests;
    uint8_t *dg;
    uint16_t *dg_members;
    size_t dg_cap;
    uint8_t *parent_hit;
    uint64_t digest_hits;
};

static void end_output(smar_writer *w, bool committed);
static void split_against_base(smar_split *sp, void *vw);
static bool scan_secret(smar_split *sp, const char *json, size_t len, void *vw);

/* The split workers' hooks of an incremental writer: digest before the split, compare
 * the payloads with the base's after it. */
static void install_hooks(smar_writer *w)
{
    if (!w->splitq || !w->basemap)
        return;
    smar_splitq_set_hook(w->splitq, split_against_base, w);
    smar_splitq_set_scan(w->splitq, scan_secret, w);
}

int smar_writer_new(smar_writer **out)
{
    smar_writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w)
        return SMAR_E_NOMEM;
    w->fd_out.fd = -1;
    w->oldest = w->newest = w->latest = SMAR_TIME_NONE;
    /* Every buffer that holds plaintext is wiped: payloads, manifest records (metadata) and
     * the document (configurations hold credentials). Sealed chunks are not secret. */
    for (int s = 0; s < (int)(sizeof w->stream / sizeof w->stream[0]); s++)
        w->stream[s].secure = true;
    w->record.secure = true;
    w->document.secure = true;
    w->sealed.secure = false;
    w->split.payload.secure = true;
    w->payload_stored.secure = true;
    return SMAR_OK;
}

void smar_writer_free(smar_writer *w)
{
    if (!w)
        return;
    end_output(w, false); /* unfinished: the sink discards what it has */
    smar_splitq_free(w->splitq);
    smar_pipeline_free(w->pipeline); /* joins the workers before the keys go */
    smar_keys_free(w->keys);
    smar_secure_free(w->dek);
    if (w->have_coder)
        smar_chunker_free(&w->coder);
    smar_buf_free(&w->payload_stored);
    smar_buf_free(&w->header_bytes);
    for (int s = 0; s < SMAR_SEC_COUNT; s++)
        smar_buf_free(&w->stream[s]);
    free(w->dg);
    free(w->dg_members);
    free(w->parent_hit);
    smar_buf_free(&w->sealed);
    smar_buf_free(&w->record);
    smar_buf_free(&w->document);
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        free(w->index[t].v);
    free(w->idset);
    free(w->table);
    smar_split_free(&w->split);
    free(w->latest_secret);
    free(w->latest_version);
    smar_basemap_free(w->basemap);
    free(w);
}

const char *smar_writer_error(const smar_writer *w)
{
    return w ? smar_err_message(&w->err) : "no writer";
}

/* Abort the sink once, unless it was committed (which ends it too). */
static void end_output(smar_writer *w, bool committed)
{
    if (w->out.write == NULL || w->out_ended)
        return;
    w->out_ended = true;
    if (!committed && w->out.abort != NULL)
        w->out.abort(w->out.opaque);
}

/* Any failure after open kills the handle: a half-written archive must not be finished,
 * and the sink is told at once to discard it. */
static int die(smar_writer *w, int rc)
{
    if (rc != SMAR_OK && w->state != W_NEW)
        w->state = W_DEAD;
    if (rc != SMAR_OK && w->state == W_DEAD)
        end_output(w, false);
    return rc;
}

static int require_state(smar_writer *w, enum writer_state a, enum writer_state b, const char *call)
{
    if (w->state == a || w->state == b)
        return SMAR_OK;
    if (w->state == W_DEAD)
        return smar_fail(&w->err, SMAR_E_INVALID, "%s: the writer failed earlier: %s", call,
                         "discard this archive");
    return smar_fail(&w->err, SMAR_E_INVALID, "%s called in the wrong state", call);
}

int smar_writer_add_key(smar_writer *w, smar_keyring *kr)
{
    if (!w || !kr)
        return SMAR_E_INVALID;
    if (w->state != W_NEW)
        return smar_fail(&w->err, SMAR_E_INVALID, "keys must be added before open");
    if (w->nkeyrings == SMAR_MAX_KEY_SLOTS)
        return smar_fail(&w->err, SMAR_E_LIMIT, "at most %u key slots", SMAR_MAX_KEY_SLOTS);
    for (size_t i = 0; i < w->nkeyrings; i++)
        if (strcmp(smar_keyring_id(w->keyrings[i]), smar_keyring_id(kr)) == 0)
            return smar_fail(&w->err, SMAR_E_INVALID, "key '%s' given twice", smar_keyring_id(kr));
    w->keyrings[w->nkeyrings++] = kr;
    return SMAR_OK;
}

/* The header's base list: the parent, then the parent's own list (the whole chain). */
static int list_bases(smar_writer *w, smar_reader *base)
{
    size_t inherited = smar_reader_base_count(base);
    if (inherited + 1 > SMAR_BASES_MAX)
        return smar_fail(&w->err, SMAR_E_LIMIT,
                         "the base's chain already has %zu archives: an incremental archive "
                         "lists at most %u bases; make a full archive",
                         inherited + 1, SMAR_BASES_MAX);
    smar_base_ref *parent = &w->hdr.bases[0];
    memcpy(parent->archive_id, base->hdr.archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_reader_content(base, parent->content);
    parent->snapshot = base->hdr.snapshot;
    memcpy(&w->hdr.bases[1], base->hdr2.bases, inherited * sizeof w->hdr.bases[0]);
    w->hdr.base_count = (uint16_t)(inherited + 1);
    /* libsmar's incrementals carry export digests (2.2) */
    w->hdr.version_minor = SMAR_HEADER2_MINOR_DIGESTS;
    w->hdr.flags = SMAR_HEADER2_FLAG_EXPORT_DIGESTS;
    return SMAR_OK;
}

int smar_writer_set_base(smar_writer *w, smar_reader *base)
{
    if (!w || !base)
        return SMAR_E_INVALID;
    int rc = require_state(w, W_NEW, W_OPEN, "set_base");
    if (rc)
        return rc;
    if (w->added > 0 || w->base)
        return smar_fail(&w->err, SMAR_E_INVALID, "set_base: call it once, before any secret");
    if (base->state != R_UNLOCKED || base->format != SMAR_FORMAT_V2)
        return smar_fail(&w->err, SMAR_E_INVALID,
                         "set_base: the base must be an unlocked format 2 archive");
    for (size_t i = 0; i < smar_reader_base_count(base); i++) {
        smar_reader *b = NULL; /* every base: the new archive's list names them all */
        if ((rc = smar_reader_get_base(base, i, &b)))
            return smar_fail(&w->err, rc, "%s", smar_reader_error(base));
    }
    if ((rc = list_bases(w, base)) || (rc = smar_basemap_build(&w->basemap, base, &w->err))) {
        w->hdr.base_count = 0;
        w->hdr.version_minor = 0;
        w->hdr.flags = 0;
        return rc;
    }
    size_t nrec = smar_basemap_records(w->basemap);
    if (nrec && !(w->parent_hit = calloc(nrec, 1)))
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    w->base = base;
    w->digests = true;
    install_hooks(w);
    return SMAR_OK;
}

int smar_writer_set_signer(smar_writer *w, const smar_signkey *sk)
{
    if (!w || !sk || w->state != W_NEW)
        return w ? smar_fail(&w->err, SMAR_E_INVALID, "set the signer before open")
                 : SMAR_E_INVALID;
    if (!smar_signkey_can_sign(sk))
        return smar_fail(&w->err, SMAR_E_INVALID,
                         "the signer holds no secret key (a public key cannot sign)");
    w->signer = sk;
    return SMAR_OK;
}

/* ---- output ------------------------------------------------------------------------- */

/* Batches of secrets in flight with the split workers: enough to keep them busy while
 * the writer places a batch; at most SMAR_WRITER_MAX_IN_FLIGHT secrets (writer.h). */
#define SMAR_WRITER_SPLIT_DEPTH(threads) (2 * (size_t)(threads))
#define SMAR_WRITER_MAX_THREADS          64
_Static_assert(SMAR_WRITER_SPLIT_DEPTH(SMAR_WRITER_MAX_THREADS) * SMAR_SPLITQ_BATCH_MAX <=
                   SMAR_WRITER_MAX_IN_FLIGHT,
               "writer.h promises at most SMAR_WRITER_MAX_IN_FLIGHT secrets held back");

/* Bytes between two early-writeback requests. */
#define WRITEBACK_STEP (8u << 20)

/* Ask the kernel to start writing what is already written, without waiting for it. The
 * caller's final fsync then has little left to flush, instead of the whole archive: on a
 * slow disk that fsync was most of the wall time of `smar create`. Only a hint; errors
 * just turn it off (pipes, file systems without it). */
static void fd_writeback(struct fd_out *s)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (s->writeback && s->written - s->kicked >= WRITEBACK_STEP) {
        if (sync_file_range(s->fd, (off_t)s->kicked, (off_t)(s->written - s->kicked),
                            SYNC_FILE_RANGE_WRITE) != 0)
            s->writeback = false;
        s->kicked = s->written;
    }
#else
    (void)s;
#endif
}

static smar_io_result fd_out_write(void *opaque, const void *buf, size_t len,
                                   char err[SMAR_IO_ERROR_MAX])
{
    struct fd_out *s = opaque;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s",
                           n == 0 ? "the output took no data" : strerror(errno));
            return SMAR_IO_FAILED;
        }
        p += n;
        len -= (size_t)n;
        s->written += (uint64_t)n;
    }
    fd_writeback(s);
    return SMAR_IO_OK;
}

static smar_io_result cb_out_write(void *opaque, const void *buf, size_t len,
                                   char err[SMAR_IO_ERROR_MAX])
{
    struct cb_out *c = opaque;
    errno = 0;
    if (c->fn(c->opaque, buf, len) == 0)
        return SMAR_IO_OK;
    (void)snprintf(err, SMAR_IO_ERROR_MAX, "%s", errno ? strerror(errno) : "");
    return SMAR_IO_FAILED;
}

/* The fd and callback outputs are the caller's to finish (sync, rename, close). */
static smar_io_result caller_commits(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    (void)opaque;
    (void)err;
    return SMAR_IO_OK;
}

/* "what failed: why", with the sink's reason when it gave one. */
static int output_failed(smar_writer *w, smar_io_result res, const char *what,
                         const char why[SMAR_IO_ERROR_MAX])
{
    if (res == SMAR_IO_CANCELLED)
        return smar_fail(&w->err, SMAR_E_CANCELLED, "%s was cancelled", what);
    return smar_fail(&w->err, SMAR_E_IO, "%s failed: %.*s", what, SMAR_IO_ERROR_MAX - 1,
                     why[0] ? why : "the output refused the data");
}

static int emit(smar_writer *w, const void *p, size_t n)
{
    char why[SMAR_IO_ERROR_MAX] = "";
    smar_io_result res = w->out.write(w->out.opaque, p, n, why);
    if (res != SMAR_IO_OK)
        return output_failed(w, res, "writing the archive", why);
    w->offset += n;
    return SMAR_OK;
}

/* The archive is complete: the sink publishes it. Commit ends the sink even when it
 * fails (a failed commit discards the output itself). */
static int commit_output(smar_writer *w)
{
    char why[SMAR_IO_ERROR_MAX] = "";
    smar_io_result res = w->out.commit(w->out.opaque, why);
    end_output(w, true);
    return res == SMAR_IO_OK ? SMAR_OK : output_failed(w, res, "committing the archive", why);
}

static int emit_header(smar_writer *w)
{
    if (w->state == W_STREAMING)
        return SMAR_OK;
    if (w->hdr.snapshot == SMAR_TIME_NONE)
        return smar_fail(&w->err, SMAR_E_INVALID,
                         "the snapshot time is not known yet (the export's exported_at comes "
                         "too late in the input): give it explicitly");
    if (w->hdr.base_count > 0 && w->hdr.bases[0].snapshot >= w->hdr.snapshot)
        return smar_fail(&w->err, SMAR_E_INPUT,
                         "the base's snapshot is not older than this archive's: an incremental "
                         "archive is made against an earlier snapshot");
    int rc = smar_header2_encode(&w->hdr, &w->header_bytes);
    if (rc)
        return smar_fail(&w->err, rc, "out of memory");
    w->state = W_STREAMING;
    return emit(w, w->header_bytes.data, w->header_bytes.len);
}

static int table_push(smar_writer *w, const smar_table_entry *t)
{
    if (w->ntable == SMAR_MAX_CHUNKS)
        return smar_fail(&w->err, SMAR_E_LIMIT, "archive would exceed %u chunks", SMAR_MAX_CHUNKS);
    if (w->ntable == w->cap_table) {
        size_t cap = w->cap_table ? w->cap_table * 2 : 64;
        smar_table_entry *nt = realloc(w->table, cap * sizeof *nt);
        if (!nt)
            return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
        w->table = nt;
        w->cap_table = cap;
    }
    w->table[w->ntable++] = *t;
    return SMAR_OK;
}

/* Called by the pipeline, in chunk order, with each sealed chunk. */
static int chunk_sealed(void *ctx, const smar_chunk_pos *pos, const uint8_t *stored, size_t n,
                        const uint8_t hash[SMAR_HASH_BYTES])
{
    smar_writer *w = ctx;
    smar_table_entry t = {0};
    int rc;
    if (pos->number != w->ntable)
        return smar_fail(&w->err, SMAR_E_INVALID, "chunks out of order");
    t.offset = w->offset;
    t.stored_len = (uint32_t)n;
    w->sealed_plain[pos->section] += n - SMAR_TAG_BYTES;
    t.section = pos->section;
    t.flags = pos->flags;
    memcpy(t.hash, hash, SMAR_HASH_BYTES);
    if ((rc = emit(w, stored, n)))
        return rc;
    return table_push(w, &t);
}

/* AES-256-GCM: at most 2^36 bytes of sealed plaintext under one key (chunk_count x
 * chunk_size), so that its distinguishing bound stays negligible. */
static int check_gcm_cap(smar_writer *w)
{
    if (w->hdr.suite != SMAR_SUITE_AES256GCM_ID ||
        (w->next_chunk + 1) * (uint64_t)w->hdr.chunk_size <= SMAR_GCM_PLAINTEXT_CAP)
        return SMAR_OK;
    return smar_fail(&w->err, SMAR_E_LIMIT,
                     "an AES-256-GCM archive holds at most %llu chunks of %u bytes (64 GiB): "
                     "use XChaCha20-Poly1305",
                     (unsigned long long)(SMAR_GCM_PLAINTEXT_CAP / w->hdr.chunk_size),
                     w->hdr.chunk_size);
}

/* The padding base of a group's last chunk: the sealed-plaintext bytes of its earlier
 * chunks, known once every queued chunk is sealed. */
static int pad_base(smar_writer *w, uint8_t section, uint64_t *base)
{
    int rc = smar_pipeline_drain(w->pipeline, &w->err);
    if (rc)
        return rc;
    *base = w->sealed_plain[section] - (section == SMAR_SEC_INDEX ? w->index_table_start : 0);
    return SMAR_OK;
}

/* Queue raw bytes as the next chunk of a section; pad: it ends its padding group. */
/* own: NULL, or a buffer whose bytes (not raw) the pipeline takes over without a copy */
static int write_chunk_from(smar_writer *w, uint8_t section, bool last, bool pad,
                            const uint8_t *raw, size_t n, smar_buf *own)
{
    uint64_t base = SMAR_NO_PADDING;
    int rc = emit_header(w);
    if (rc)
        return rc;
    if (w->next_chunk == SMAR_MAX_CHUNKS)
        return smar_fail(&w->err, SMAR_E_LIMIT, "archive would exceed %u chunks", SMAR_MAX_CHUNKS);
    if ((rc = check_gcm_cap(w)) || (pad && (rc = pad_base(w, section, &base))))
        return rc;
    smar_chunk_pos pos = {w->next_chunk, section, last ? SMAR_CHUNK_LAST : 0, w->seq[section]};
    if ((rc = own ? smar_pipeline_submit_buf(w->pipeline, &pos, base, own, &w->err)
                  : smar_pipeline_submit(w->pipeline, &pos, base, raw, n, &w->err)))
        return rc;
    w->next_chunk++;
    w->seq[section]++;
    return SMAR_OK;
}

static int write_chunk_padded(smar_writer *w, uint8_t section, bool last, bool pad,
                              const uint8_t *raw, size_t n)
{
    return write_chunk_from(w, section, last, pad, raw, n, NULL);
}

/* A section's last chunk is its padding group's last. */
static int write_chunk(smar_writer *w, uint8_t section, bool last, const uint8_t *raw, size_t n)
{
    return write_chunk_padded(w, section, last, last, raw, n);
}

/* A whole section written at once (meta, digests): cut into chunks, the last one marked. */
static int write_in_chunks(smar_writer *w, uint8_t section, const smar_buf *b)
{
    int rc = SMAR_OK;
    for (size_t off = 0; off < b->len && rc == SMAR_OK; off += w->hdr.chunk_size) {
        size_t n = b->len - off < w->hdr.chunk_size ? b->len - off : w->hdr.chunk_size;
        rc = write_chunk(w, section, off + n == b->len, b->data + off, n);
    }
    return rc;
}

static int stream_flush(smar_writer *w, uint8_t section, bool last)
{
    smar_buf *b = &w->stream[section];
    if (b->len == 0)
        return SMAR_OK;
    int rc = write_chunk_from(w, section, last, last, NULL, 0, b);
    smar_buf_reset(b); /* empty unless the chunk was refused */
    return rc;
}

/* Append bytes to a section's stream; *seq and *offset receive where the first byte lands. A
 * full chunk is only sealed once more bytes arrive, so the last one can be marked. */
static int stream_append(smar_writer *w, uint8_t section, const uint8_t *p, size_t n, uint32_t *seq,
                         uint32_t *offset)
{
    smar_buf *b = &w->stream[section];
    size_t cs = w->hdr.chunk_size;
    int rc;
    if (b->len == cs && n > 0 && (rc = stream_flush(w, section, false)))
        return rc;
    *seq = w->seq[section];
    *offset = (uint32_t)b->len;
    while (n > 0) {
        if (b->len == cs && (rc = stream_flush(w, section, false)))
            return rc;
        size_t take = n < cs - b->len ? n : cs - b->len;
        if (smar_buf_append(b, p, take))
            return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
        p += take;
        n -= take;
    }
    return SMAR_OK;
}

/* ---- opening ------------------------------------------------------------------------ */

/* The slot of keyring i: provider, key id and the version the wrap will use. */
static int slot_describe(smar_writer *w, size_t i, smar_slot2 *s)
{
    const char *id = smar_keyring_id(w->keyrings[i]);
    uint32_t version;
    int rc = smar_keyring_wrap_version(w->keyrings[i], &version, &w->err);
    if (rc)
        return smar_err_prefix(&w->err, "key '%s': ", id);
    memset(s, 0, sizeof *s);
    s->provider = smar_keyring_provider_id(w->keyrings[i]);
    if (strlen(id) > SMAR_KEY_ID2_MAX || !smar_slot_text_ok(id, strlen(id)))
        return smar_fail(&w->err, SMAR_E_INVALID, "key id '%s' cannot be stored in a key slot", id);
    s->key_id_len = (uint8_t)strlen(id);
    memcpy(s->key_id, id, s->key_id_len);
    /* a provider that keeps its version inside the blob gives version 0 */
    s->version_kind = version ? SMAR_VKIND_NUMBER : SMAR_VKIND_NONE;
    s->version_number = version;
    return SMAR_OK;
}

static int make_slots(smar_writer *w)
{
    uint8_t aad[SMAR_SLOT2_AAD_MAX];
    for (size_t i = 0; i < w->nkeyrings; i++) {
        smar_slot2 *s = &w->slots[i];
        size_t wlen;
        uint32_t used;
        int rc = slot_describe(w, i, s);
        if (rc)
            return rc;
        size_t aadlen = smar_slot2_aad(aad, w->hdr.archive_id, s);
        rc = smar_keyring_wrap(w->keyrings[i], aad, aadlen, w->dek, w->wrapped[i], &wlen, &used,
                               &w->err);
        if (rc)
            return smar_err_prefix(&w->err, "key '%s': ", s->key_id);
        if (used != s->version_number)
            return smar_fail(&w->err, SMAR_E_INVALID, "key '%s' wrapped with another version",
                             s->key_id);
        if ((rc = smar_keyring_record_version(w->keyrings[i], s, &w->err)))
            return smar_err_prefix(&w->err, "key '%s': ", s->key_id);
        s->wrapped = w->wrapped[i];
        s->wrapped_len = (uint32_t)wlen;
    }
    w->nslots = (unsigned)w->nkeyrings;
    return SMAR_OK;
}

static smar_time_ns now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (smar_time_ns)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int check_options(smar_writer *w, const smar_writer_options *o)
{
    if (o->version != SMAR_WRITER_OPTIONS_VERSION)
        return smar_fail(&w->err, SMAR_E_INVALID, "unknown writer options version %d", o->version);
    int suite = o->suite ? o->suite : SMAR_SUITE_XCHACHA20POLY1305;
    if (!smar_suite_available(suite))
        return smar_fail(&w->err, SMAR_E_UNSUPPORTED,
                         "cipher suite %d is not available on this machine", suite);
    uint32_t cs = o->chunk_size ? o->chunk_size : SMAR_CHUNK_SIZE_DEFAULT;
    if (cs < SMAR_CHUNK_SIZE_MIN || cs > SMAR_CHUNK_SIZE_MAX)
        return smar_fail(&w->err, SMAR_E_LIMIT, "chunk size %u outside %u..%u", cs,
                         SMAR_CHUNK_SIZE_MIN, SMAR_CHUNK_SIZE_MAX);
    if (o->zstd_level < 0 || o->zstd_level > 19)
        return smar_fail(&w->err, SMAR_E_INVALID, "zstd level %d outside 1..19", o->zstd_level);
    w->hdr.version_major = SMAR_FORMAT_V2;
    w->hdr.version_minor = w->hdr.base_count ? SMAR_HEADER2_MINOR_DIGESTS : 0;
    w->hdr.flags = w->hdr.base_count ? SMAR_HEADER2_FLAG_EXPORT_DIGESTS : 0;
    w->hdr.suite = (uint16_t)suite;
    w->hdr.compression = SMAR_COMPRESSION_ZSTD;
    w->hdr.chunk_size = cs;
    w->hdr.snapshot = o->snapshot_time;
    /* format 2 keeps the creation time to the second (floor) */
    smar_time_ns created = o->created_time == SMAR_TIME_NONE ? now_ns() : o->created_time;
    w->hdr.created = created / 1000000000 - (created % 1000000000 < 0);
    w->zstd_level = o->zstd_level ? o->zstd_level : 3;
    w->threads = o->threads > SMAR_WRITER_MAX_THREADS ? SMAR_WRITER_MAX_THREADS : o->threads;
    return SMAR_OK;
}

static int open_common(smar_writer *w, const smar_writer_options *opts)
{
    smar_writer_options defaults = SMAR_WRITER_OPTIONS_INIT;
    int rc;
    if (w->state != W_NEW)
        return smar_fail(&w->err, SMAR_E_INVALID, "writer already opened");
    if (w->nkeyrings == 0)
        return smar_fail(&w->err, SMAR_E_INVALID, "no key: add at least one key slot");
    if ((rc = check_options(w, opts ? opts : &defaults)))
        return rc;
    if (!(w->dek = smar_secure_alloc(SMAR_DEK_BYTES)))
        return smar_fail(&w->err, SMAR_E_NOMEM, "cannot allocate locked memory for the DEK");
    randombytes_buf(w->dek, SMAR_DEK_BYTES);
    randombytes_buf(w->hdr.archive_id, SMAR_ARCHIVE_ID_BYTES);
    smar_dek_commit(w->hdr.dek_commit, w->dek, w->hdr.archive_id);
    if (!(w->keys = smar_keys_derive_format(SMAR_FORMAT_V2, w->dek)))
        return smar_fail(&w->err, SMAR_E_NOMEM, "cannot allocate locked memory for keys");
    if ((rc = make_slots(w)))
        return rc;
    /* the subkeys and the slots exist: the DEK itself is no longer needed */
    smar_secure_free(w->dek);
    w->dek = NULL;
    if (smar_chunker_init_format(&w->coder, SMAR_FORMAT_V2, w->hdr.suite, w->zstd_level,
                                 w->hdr.chunk_size, w->keys->chunk, w->hdr.archive_id))
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    w->have_coder = true;
    if (smar_pipeline_new(&w->pipeline, w->threads, SMAR_FORMAT_V2, w->hdr.suite, w->zstd_level,
                          w->hdr.chunk_size, w->keys->chunk, w->hdr.archive_id, chunk_sealed, w))
        return smar_fail(&w->err, SMAR_E_NOMEM, "cannot start the sealing workers");
    if (w->threads > 1 &&
        smar_splitq_new(&w->splitq, w->threads, SMAR_WRITER_SPLIT_DEPTH(w->threads),
                        w->keys->payload_hash, w->zstd_level))
        return smar_fail(&w->err, SMAR_E_NOMEM, "cannot start the splitting workers");
    install_hooks(w);
    w->state = W_OPEN;
    return SMAR_OK;
}

static bool sink_usable(const smar_sink *sink)
{
    return sink != NULL && sink->version >= 1 && sink->version <= SMAR_SINK_VERSION &&
           sink->write != NULL && sink->commit != NULL;
}

int smar_writer_open_sink(smar_writer *w, const smar_sink *sink, const smar_writer_options *opts)
{
    if (!w || !sink_usable(sink))
        return SMAR_E_INVALID;
    if (w->state != W_NEW || w->out.write != NULL)
        return smar_fail(&w->err, SMAR_E_INVALID, "writer already opened");
    w->out = *sink;
    int rc = open_common(w, opts);
    if (rc != SMAR_OK) {
        end_output(w, false); /* the sink was given: it hears of the failure */
        w->out = (smar_sink){0};
        w->out_ended = false;
    }
    return rc;
}

int smar_writer_open_cb(smar_writer *w, const smar_writer_options *opts, smar_write_fn fn,
                        void *opaque)
{
    if (!w || !fn)
        return SMAR_E_INVALID;
    w->cb_out = (struct cb_out){fn, opaque};
    smar_sink sink = {SMAR_SINK_VERSION, &w->cb_out, cb_out_write, caller_commits, NULL, NULL};
    return smar_writer_open_sink(w, &sink, opts);
}

int smar_writer_open_fd(smar_writer *w, int fd, const smar_writer_options *opts)
{
    if (!w || fd < 0)
        return SMAR_E_INVALID;
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR); /* the archive may start inside the file */
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0;
    uint64_t start = regular ? (uint64_t)at : 0;
    w->fd_out = (struct fd_out){fd, regular, start, start};
    smar_sink sink = {SMAR_SINK_VERSION, &w->fd_out, fd_out_write, caller_commits, NULL, NULL};
    return smar_writer_open_sink(w, &sink, opts);
}

/* "secret S: version V was created at C, after the snapshot time T" (version NULL: the
 * secret itself). Not about one secret: the caller says which, if any. */
static int later_than_snapshot(smar_writer *w, const char *secret, const char *version,
                               int64_t created)
{
    char cbuf[SMAR_TIME_BUFSIZE], sbuf[SMAR_TIME_BUFSIZE];
    smar_time_format(created, cbuf);
    smar_time_format(w->hdr.snapshot, sbuf);
    if (version == NULL)
        return smar_fail(&w->err, SMAR_E_INPUT,
                         "secret %s was created at %s, after the snapshot time %s", secret, cbuf,
                         sbuf);
    return smar_fail(&w->err, SMAR_E_INPUT,
                     "secret %s: version %s was created at %s, after the snapshot time %s", secret,
                     version, cbuf, sbuf);
}

int smar_writer_refuse_later_versions(smar_writer *w)
{
    if (!w)
        return SMAR_E_INVALID;
    if (w->state != W_NEW && w->state != W_OPEN)
        return smar_fail(&w->err, SMAR_E_INVALID,
                         "refuse_later_versions: call it before the first secret");
    w->refuse_later = true;
    return SMAR_OK;
}

int smar_writer_set_snapshot_time(smar_writer *w, smar_time_ns t)
{
    if (!w)
        return SMAR_E_INVALID;
    if (w->state != W_OPEN)
        return smar_fail(&w->err, SMAR_E_INVALID,
                         "the snapshot time can only be set before the header is written");
    if (t == SMAR_TIME_NONE)
        return smar_fail(&w->err, SMAR_E_INVALID, "no snapshot time given");
    w->hdr.snapshot = t;
    if (w->refuse_later && w->latest != SMAR_TIME_NONE && w->latest > t) {
        w->failed = 0; /* about a secret placed earlier, not the last one added */
        return die(w, later_than_snapshot(w, w->latest_secret, w->latest_version, w->latest));
    }
    return SMAR_OK;
}

/* ---- adding secrets ----------------------------------------------------------------- */

static int index_push(smar_writer *w, int table, const char *s, uint32_t seq, uint32_t offset,
                      uint32_t length)
{
    index_list *l = &w->index[table];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        smar_index_entry *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory for the index");
        l->v = nv;
        l->cap = cap;
    }
    smar_index_entry *x = &l->v[l->n++];
    smar_index_key(x->key, w->keys->index, table, s, strlen(s));
    x->seq = seq;
    x->offset = offset;
    x->length = length;
    return SMAR_OK;
}

static size_t idset_slot(const smar_writer *w, const uint8_t key[SMAR_INDEX_KEY_BYTES])
{
    return (size_t)smar_load_u64(key) & (w->idset_cap - 1);
}

static int idset_grow(smar_writer *w)
{
    size_t cap = w->idset_cap ? w->idset_cap * 2 : 4096;
    uint32_t *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory for the id set");
    free(w->idset);
    w->idset = ns;
    w->idset_cap = cap;
    const index_list *ids = &w->index[SMAR_INDEX_BY_ID];
    for (size_t i = 0; i < ids->n; i++) {
        size_t s = idset_slot(w, ids->v[i].key);
        while (w->idset[s])
            s = (s + 1) & (cap - 1);
        w->idset[s] = (uint32_t)(i + 1);
    }
    return SMAR_OK;
}

/* A secret id seen before? Keys are keyed 128-bit hashes of the id: equal keys mean equal
 * ids (a collision is as unlikely as guessing the key). */
static int check_new_id(smar_writer *w, const char *id)
{
    uint8_t key[SMAR_INDEX_KEY_BYTES];
    const index_list *ids = &w->index[SMAR_INDEX_BY_ID];
    int rc;
    if ((ids->n + 1) * 2 > w->idset_cap && (rc = idset_grow(w)))
        return rc;
    smar_index_key(key, w->keys->index, SMAR_INDEX_BY_ID, id, strlen(id));
    for (size_t s = idset_slot(w, key); w->idset[s]; s = (s + 1) & (w->idset_cap - 1))
        if (memcmp(ids->v[w->idset[s] - 1].key, key, SMAR_INDEX_KEY_BYTES) == 0)
            return smar_fail(&w->err, SMAR_E_INPUT, "secret %s appears twice in the export", id);
    return SMAR_OK;
}

static void idset_add_last(smar_writer *w)
{
    const index_list *ids = &w->index[SMAR_INDEX_BY_ID];
    size_t s = idset_slot(w, ids->v[ids->n - 1].key);
    while (w->idset[s])
        s = (s + 1) & (w->idset_cap - 1);
    w->idset[s] = (uint32_t)ids->n;
}

/* hash: the payload's keyed hash, made where the secret was split */
/* version: the payload's version, whose split worker may have encoded it already */
static int write_payload(smar_writer *w, const smar_buf *payload,
                         const uint8_t hash[SMAR_HASH_BYTES], smar_split_version *version,
                         smar_locator *loc)
{
    if (payload->len > SMAR_MAX_PAYLOAD_BYTES)
        return smar_fail(&w->err, SMAR_E_LIMIT, "secret %s: a payload is over %u bytes", w->cur->id,
                         SMAR_MAX_PAYLOAD_BYTES);
    if (version && version->encoded) { /* take the worker's record (both buffers are wiped) */
        smar_buf t = w->payload_stored;
        w->payload_stored = version->stored;
        version->stored = t;
        loc->coding = version->coding;
    }
    int rc = version && version->encoded
                 ? SMAR_OK
                 : smar_payload_encode(&w->coder, payload->data, payload->len, &w->payload_stored,
                                       &loc->coding, &w->err);
    if (rc)
        return rc;
    memcpy(loc->hash, hash, SMAR_HASH_BYTES);
    loc->length = (uint32_t)w->payload_stored.len;
    loc->plain_len = (uint32_t)payload->len;
    w->payloads++;
    w->payload_bytes += payload->len;
    rc = stream_append(w, SMAR_SEC_PAYLOAD, w->payload_stored.data, w->payload_stored.len,
                       &loc->seq, &loc->offset);
    smar_buf_reset(&w->payload_stored);
    return rc;
}

static void note_time(smar_writer *w, int64_t t)
{
    if (w->oldest == SMAR_TIME_NONE || t < w->oldest)
        w->oldest = t;
    if (w->newest == SMAR_TIME_NONE || t > w->newest)
        w->newest = t;
}

/* A snapshot holds what existed at its time: with refuse_later, nothing created after it.
 * When the snapshot time is not known yet, the latest creation is kept for
 * smar_writer_set_snapshot_time to check. */
static int check_not_after_snapshot(smar_writer *w, const char *version, int64_t created)
{
    if (!w->refuse_later || created == SMAR_TIME_NONE)
        return SMAR_OK;
    if (w->hdr.snapshot != SMAR_TIME_NONE) {
        if (created > w->hdr.snapshot)
            return later_than_snapshot(w, w->cur->id, version, created);
        return SMAR_OK;
    }
    if (w->latest != SMAR_TIME_NONE && created <= w->latest)
        return SMAR_OK;
    char *secret_copy = strdup(w->cur->id);
    char *version_copy = version ? strdup(version) : NULL;
    if (!secret_copy || (version && !version_copy)) {
        free(secret_copy);
        free(version_copy);
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    }
    free(w->latest_secret);
    free(w->latest_version);
    w->latest_secret = secret_copy;
    w->latest_version = version_copy;
    w->latest = created;
    return SMAR_OK;
}

/* ---- incremental: what the base already holds ------------------------------------- */

/* What the base holds of the secret being placed: per version, the base's locator of a
 * payload with the same bytes (base > 0), else a zeroed one; the same for the secret's own
 * payload; whether the record equals the base's but for metadata values. */
typedef struct base_match {
    const smar_base_secret *b;
    smar_locator *versions;
    smar_locator secret;
    bool same;
} base_match;

/* Whether payload has the bytes of the base's payload at loc: same length, and the same
 * keyed hash under the key of the archive that holds it. */
static bool same_payload(const smar_basemap *m, const smar_buf *payload, bool base_has,
                         const smar_locator *loc)
{
    if (!base_has || payload->len == 0 || loc->plain_len != payload->len)
        return false;
    const uint8_t *key = smar_basemap_payload_key(m, loc->base);
    uint8_t hash[SMAR_HASH_BYTES];
    if (!key)
        return false;
    smar_hash(hash, key, payload->data, payload->len);
    return smar_equal32(hash, loc->hash);
}

static const smar_base_version *base_version(const smar_base_secret *b, const char *id)
{
    for (size_t i = 0; i < b->nversions; i++)
        if (strcmp(b->versions[i].id, id) == 0)
            return &b->versions[i];
    return NULL;
}

/* Where the secret is split (a worker thread, or the writer's with one thread): each
 * payload the base holds for the same version id (same bytes) is marked in_base; only the
 * others get this archive's keyed hash. Reads the base map and the subkeys only. */
static void split_against_base(smar_split *sp, void *vw)
{
    const smar_writer *w = vw;
    const smar_base_secret *b = smar_basemap_find(w->basemap, sp->id);
    for (size_t i = 0; i < sp->nversions; i++) {
        smar_split_version *v = &sp->versions[i];
        const smar_base_version *bv = b && v->payload.len ? base_version(b, v->id) : NULL;
        v->in_base = bv && same_payload(w->basemap, &v->payload, bv->has_payload, &bv->payload);
        if (!v->in_base && v->payload.len > 0)
            smar_hash(v->payload_hash, w->keys->payload_hash, v->payload.data, v->payload.len);
    }
    sp->payload_in_base = b && same_payload(w->basemap, &sp->payload, b->has_payload, &b->payload);
    if (!sp->payload_in_base && sp->payload.len > 0)
        smar_hash(sp->payload_hash, w->keys->payload_hash, sp->payload.data, sp->payload.len);
}

/* A split secret as a manifest record: its versions vr, its own payload at *payload. */
static smar_srec split_record(const smar_split *sp, const smar_span *labels, const smar_vrec *vr,
                              const smar_locator *payload)
{
    return (smar_srec){sp->had_versions ? SMAR_RECORD_HAS_VERSIONS : 0,
                       {sp->id, strlen(sp->id)},
                       {sp->type, strlen(sp->type)},
                       {sp->name, strlen(sp->name)},
                       {sp->group, strlen(sp->group)},
                       sp->created,
                       sp->updated,
                       sp->nlabels,
                       labels,
                       {(const char *)sp->meta.data, sp->meta.len},
                       sp->payload.len > 0,
                       *payload,
                       sp->nversions,
                       vr};
}

/* The split secret as a record for its fingerprint: payloads by presence and length. */
static void split_view(const smar_split *sp, const smar_span *labels, smar_vrec *vr, smar_srec *rec)
{
    for (size_t i = 0; i < sp->nversions; i++) {
        const smar_split_version *v = &sp->versions[i];
        vr[i] = (smar_vrec){{v->id, strlen(v->id)},
                            v->created,
                            v->payload.len > 0,
                            {.plain_len = (uint32_t)v->payload.len},
                            {(const char *)v->meta.data, v->meta.len}};
    }
    *rec = split_record(sp, labels, vr, &(smar_locator){.plain_len = (uint32_t)sp->payload.len});
}

static void match_base(smar_writer *w, const smar_span *labels, smar_vrec *vr, base_match *m)
{
    const smar_split *sp = w->cur;
    bool all = true;
    if (!w->basemap || !(m->b = smar_basemap_find(w->basemap, sp->id)))
        return;
    /* which payloads the base holds was found where the secret was split */
    for (size_t i = 0; i < sp->nversions; i++) {
        const smar_split_version *v = &sp->versions[i];
        const smar_base_version *bv = v->in_base ? base_version(m->b, v->id) : NULL;
        if (bv)
            m->versions[i] = bv->payload;
        else if (v->payload.len)
            all = false;
    }
    if (sp->payload_in_base)
        m->secret = m->b->payload;
    else if (sp->payload.len > 0)
        all = false;
    if (!all || m->b->nmembers > SMAR_PATCHES_MAX)
        return;
    smar_srec rec;
    uint8_t fp[32];
    split_view(sp, labels, vr, &rec);
    smar_basemap_fingerprint(w->basemap, &rec, fp);
    m->same = memcmp(fp, m->b->fingerprint, sizeof fp) == 0;
}

/* A "same as in base" record: the base's type 1 record with the metadata values that
 * differ. */
static int write_same_as_base(smar_writer *w, const smar_base_secret *b)
{
    const smar_split *sp = w->cur;
    smar_patch *patches = calloc(b->nmembers + 1, sizeof *patches);
    smar_json_iter it;
    smar_span key, value;
    size_t n = 0;
    uint32_t seq, offset;
    int rc;
    if (!patches)
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    smar_json_iter_init(&it, (smar_span){(const char *)sp->meta.data, sp->meta.len});
    for (size_t i = 0; i < b->nmembers && smar_json_next_member(&it, &key, &value); i++) {
        uint8_t h[16];
        smar_basemap_member_hash(w->basemap, value, h);
        if (memcmp(h, b->member_hash + i * 16, sizeof h) != 0)
            patches[n++] = (smar_patch){(uint16_t)i, value};
    }
    smar_ref ref = {b->ref_base, b->seq, b->offset, b->length, n, patches};
    smar_buf_reset(&w->record);
    rc = smar_ref_encode(&ref, &w->record, &w->err);
    free(patches);
    if (rc ||
        (rc = stream_append(w, SMAR_SEC_MANIFEST, w->record.data, w->record.len, &seq, &offset)))
        return rc;
    /* the name table holds type 1 records only: names are found through the chain */
    if ((rc = index_push(w, SMAR_INDEX_BY_ID, sp->id, seq, offset, (uint32_t)w->record.len)))
        return rc;
    idset_add_last(w);
    w->same_as_base++;
    return SMAR_OK;
}

/* ---- export digests (format 2.2) -------------------------------------------------- */

/* The key of the digests this archive writes: its parent's table's (kept along the
 * chain, so that one hash pass per secret serves both the lookup and the new table), or
 * its own for the first table of a chain. */
static const uint8_t *digest_key(const smar_writer *w, uint8_t *key_base)
{
    if (smar_basemap_has_digests(w->basemap))
        return smar_basemap_digest_key(w->basemap, key_base);
    *key_base = SMAR_DIGESTS_KEY_OWN;
    return w->keys->export_digest;
}

/* Before the split, on the worker: the secret's export digest, and whether the parent
 * holds it. On a hit only the id and the retrieved_at value are kept and the secret is not
 * split (true). Reads the scan's text, the base map's digests and the key only. */
static bool scan_secret(smar_split *sp, const char *json, size_t len, void *vw)
{
    const smar_writer *w = vw;
    smar_toplevel t;
    uint8_t key_base;
    memset(&sp->dg, 0, sizeof sp->dg);
    if (!smar_toplevel_scan(json, len, &t))
        return false; /* unsure: parsed, compared, and its table entry says "no digest" */
    smar_export_digest(sp->dg.digest, digest_key(w, &key_base), json, len, &t);
    sp->dg.known = true;
    int64_t hit = smar_basemap_digest_hit(w->basemap, sp->dg.digest);
    char *id = hit >= 0 ? strndup(t.id.p, t.id.n) : NULL;
    if (!id)
        return false; /* a miss (or no memory: the slow path reports it) */
    smar_wipe_free_str(sp->id);
    sp->id = id;
    if (t.has_retrieved) {
        memcpy(sp->dg.retrieved, json + t.retrieved_at, t.retrieved_len);
        sp->dg.retrieved_len = (uint8_t)t.retrieved_len;
        sp->dg.has_retrieved = true;
    }
    sp->dg.is_hit = true;
    sp->dg.hit = (uint64_t)hit;
    return true;
}

static int digest_push(smar_writer *w, const uint8_t digest[SMAR_DIGEST_BYTES], uint16_t member)
{
    size_t n = (size_t)w->secrets; /* this record's place: before secrets is counted */
    if (n == w->dg_cap) {
        size_t cap = w->dg_cap ? w->dg_cap * 2 : 1024;
        uint8_t *d = realloc(w->dg, cap * SMAR_DIGEST_BYTES);
        if (d)
            w->dg = d;
        uint16_t *m = d ? realloc(w->dg_members, cap * sizeof *m) : NULL;
        if (!m)
            return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory for the digests");
        w->dg_members = m;
        w->dg_cap = cap;
    }
    memcpy(w->dg + n * SMAR_DIGEST_BYTES, digest, SMAR_DIGEST_BYTES);
    w->dg_members[n] = member;
    return SMAR_OK;
}

/* Where a split secret's top-level retrieved_at is among its record's metadata members. */
static uint16_t retrieved_member(const smar_split *sp)
{
    smar_json_iter it;
    smar_span key, value;
    smar_json_iter_init(&it, (smar_span){(const char *)sp->meta.data, sp->meta.len});
    for (uint16_t i = 0; i < SMAR_DIGEST_NO_MEMBER && smar_json_next_member(&it, &key, &value); i++)
        if (key.n == 14 && memcmp(key.p, "\"retrieved_at\"", 14) == 0)
            return i;
    return SMAR_DIGEST_NO_MEMBER;
}

/* A secret whose digest the parent holds: its text is the parent record's but for the
 * retrieved_at value, so its record is a reference to what the parent's resolves to, with
 * that one member patched. Nothing of it was parsed. */
static int place_hit(smar_writer *w, const smar_split *sp)
{
    smar_ref ref;
    uint32_t seq, offset;
    uint16_t member = smar_basemap_retrieved_member(w->basemap, sp->dg.hit);
    int rc;
    w->cur = sp;
    if ((rc = check_new_id(w, sp->id)))
        return rc;
    if ((member == SMAR_DIGEST_NO_MEMBER) == sp->dg.has_retrieved)
        return smar_fail(&w->err, SMAR_E_FORMAT,
                         "the base's export digests disagree with secret %s's text", sp->id);
    smar_span value = {sp->dg.retrieved, sp->dg.retrieved_len};
    if ((rc = smar_basemap_hit_ref(w->basemap, sp->dg.hit, member, value, &ref, &w->err)))
        return rc;
    smar_buf_reset(&w->record);
    rc = smar_ref_encode(&ref, &w->record, &w->err);
    free(ref.patches);
    if (rc ||
        (rc = stream_append(w, SMAR_SEC_MANIFEST, w->record.data, w->record.len, &seq, &offset)) ||
        (rc = index_push(w, SMAR_INDEX_BY_ID, sp->id, seq, offset, (uint32_t)w->record.len)) ||
        (rc = digest_push(w, sp->dg.digest, member)))
        return rc;
    idset_add_last(w);
    w->parent_hit[sp->dg.hit] = 1;
    w->digest_hits++;
    w->same_as_base++;
    w->secrets++;
    return SMAR_OK;
}

/* The versions of a parent's record: counted out of the parent's totals when no digest
 * hit it (changed or deleted); *extreme when one held the parent's oldest or newest. */
static int count_out(smar_writer *w, size_t i, uint64_t *versions, bool *extreme)
{
    const smar_meta *pm = &w->base->meta;
    smar_secret *s = NULL;
    size_t known;
    bool held;
    if (smar_basemap_counted(w->basemap, i, &known, &held)) { /* a miss resolved it */
        if (known > *versions)
            return smar_fail(&w->err, SMAR_E_FORMAT,
                             "'%s': its meta section counts fewer "
                             "versions than its records hold",
                             w->base->name);
        *versions -= known;
        *extreme = *extreme || held;
        return SMAR_OK;
    }
    int rc = smar_basemap_resolve(w->basemap, i, &s, &w->err);
    if (rc)
        return rc;
    if (s->nversions > *versions) {
        smar_secret_free(s);
        return smar_fail(&w->err, SMAR_E_FORMAT,
                         "'%s': its meta section counts fewer versions "
                         "than its records hold",
                         w->base->name);
    }
    *versions -= s->nversions;
    for (size_t v = 0; v < s->nversions; v++)
        if (s->versions[v].created == pm->oldest || s->versions[v].created == pm->newest)
            *extreme = true;
    smar_secret_free(s);
    return SMAR_OK;
}

/* The times of a parent's record a digest hit (the exact recount). */
static int count_in(smar_writer *w, size_t i)
{
    smar_secret *s = NULL;
    int rc = smar_basemap_resolve(w->basemap, i, &s, &w->err);
    if (rc)
        return rc;
    for (size_t v = 0; v < s->nversions; v++)
        note_time(w, s->versions[v].created);
    smar_secret_free(s);
    return SMAR_OK;
}

/* The meta counts of the secrets placed by digest (never parsed): the parent's totals
 * less its records no digest hit (resolved: about as many as changed), so that they equal
 * a full archive's. The oldest and newest times are recounted over every hit record only
 * when a record counted out held one of them. */
static int count_hits(smar_writer *w)
{
    const smar_meta *pm = &w->base->meta;
    uint64_t versions = pm->version_count;
    bool extreme = false;
    size_t n = smar_basemap_records(w->basemap);
    int rc = SMAR_OK;
    if (!smar_basemap_has_digests(w->basemap))
        return SMAR_OK;
    for (size_t i = 0; i < n && rc == SMAR_OK; i++)
        if (!w->parent_hit[i])
            rc = count_out(w, i, &versions, &extreme);
    if (rc)
        return rc;
    w->versions += versions;
    if (!extreme) {
        if (pm->oldest != SMAR_TIME_NONE && versions > 0)
            note_time(w, pm->oldest);
        if (pm->newest != SMAR_TIME_NONE && versions > 0)
            note_time(w, pm->newest);
        return SMAR_OK;
    }
    for (size_t i = 0; i < n && rc == SMAR_OK; i++)
        if (w->parent_hit[i])
            rc = count_in(w, i);
    return rc;
}

static int write_digests(smar_writer *w)
{
    smar_buf out = {0};
    uint8_t key_base;
    int rc;
    if (!w->digests)
        return SMAR_OK;
    (void)digest_key(w, &key_base);
    if (smar_digests_encode(key_base, w->secrets, w->dg, w->dg_members, &out)) {
        smar_buf_free(&out);
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    }
    rc = write_in_chunks(w, SMAR_SEC_DIGESTS, &out);
    smar_buf_free(&out);
    return rc;
}

/* ---- type 1 records ---------------------------------------------------------------- */

/* in_base[i]: the base's locator of version i's payload bytes (base > 0), or none */
static int write_versions(smar_writer *w, smar_vrec *vr, const smar_locator *in_base)
{
    const smar_split *sp = w->cur;
    int rc;
    for (size_t i = 0; i < sp->nversions; i++) {
        const smar_split_version *v = &sp->versions[i];
        vr[i] = (smar_vrec){{v->id, strlen(v->id)},
                            v->created,
                            v->payload.len > 0,
                            {0},
                            {(const char *)v->meta.data, v->meta.len}};
        if (vr[i].has_payload && in_base[i].base > 0) {
            vr[i].payload = in_base[i];
            w->payloads_referenced++;
        } else if (vr[i].has_payload && (rc = write_payload(w, &v->payload, v->payload_hash,
                                                            &sp->versions[i], &vr[i].payload))) {
            return rc;
        }
    }
    return SMAR_OK;
}

/* The secret object repeats its current version's payload: store it once (or refer to
 * the base's copy). */
static int write_secret_payload(smar_writer *w, const smar_vrec *vr, const smar_locator *in_base,
                                smar_locator *loc)
{
    const smar_split *sp = w->cur;
    /* bytes compared, not hashes: a payload the base holds has no hash of this archive */
    for (size_t i = sp->nversions; i-- > 0;)
        if (vr[i].has_payload && sp->versions[i].payload.len == sp->payload.len &&
            memcmp(sp->versions[i].payload.data, sp->payload.data, sp->payload.len) == 0) {
            *loc = vr[i].payload;
            return SMAR_OK;
        }
    if (in_base->base > 0) {
        *loc = *in_base;
        w->payloads_referenced++;
        return SMAR_OK;
    }
    return write_payload(w, &sp->payload, sp->payload_hash, NULL, loc);
}

static int write_record(smar_writer *w, const smar_vrec *vr, const smar_span *labels,
                        const smar_locator *secret_payload)
{
    const smar_split *sp = w->cur;
    smar_srec rec = split_record(sp, labels, vr, secret_payload);
    uint32_t seq, offset;
    int rc;
    smar_buf_reset(&w->record);
    if ((rc = smar_record_encode_format(&rec, SMAR_FORMAT_V2, &w->record, &w->err)))
        return rc;
    if ((rc = stream_append(w, SMAR_SEC_MANIFEST, w->record.data, w->record.len, &seq, &offset)))
        return rc;
    uint32_t len = (uint32_t)w->record.len;
    if ((rc = index_push(w, SMAR_INDEX_BY_ID, sp->id, seq, offset, len)))
        return rc;
    idset_add_last(w);
    if (sp->name[0] && (rc = index_push(w, SMAR_INDEX_BY_NAME, sp->name, seq, offset, len)))
        return rc;
    return SMAR_OK;
}

/* Every version's time: checked against the snapshot and counted in the meta section. */
static int note_versions(smar_writer *w)
{
    const smar_split *sp = w->cur;
    int rc = check_not_after_snapshot(w, NULL, sp->created);
    for (size_t i = 0; rc == SMAR_OK && i < sp->nversions; i++) {
        rc = check_not_after_snapshot(w, sp->versions[i].id, sp->versions[i].created);
        note_time(w, sp->versions[i].created);
    }
    return rc;
}

static int place_record(smar_writer *w, smar_vrec *vr, const smar_span *labels, base_match *m)
{
    const smar_split *sp = w->cur;
    smar_locator secret_payload = {0};
    int rc;
    match_base(w, labels, vr, m);
    if (m->same)
        return write_same_as_base(w, m->b);
    if ((rc = write_versions(w, vr, m->versions)))
        return rc;
    if (sp->payload.len > 0 && (rc = write_secret_payload(w, vr, &m->secret, &secret_payload)))
        return rc;
    return write_record(w, vr, labels, &secret_payload);
}

/* Put a split secret into the streams and the index: on the writer's thread, in order. */
static int place_secret(smar_writer *w, const smar_split *sp)
{
    base_match m = {0};
    smar_vrec *vr = NULL;
    smar_span *labels = NULL;
    int rc;
    if (sp->dg.is_hit)
        return place_hit(w, sp);
    if (w->basemap && (rc = smar_basemap_error(w->basemap, &w->err)))
        return rc; /* the base could not be read where this secret was compared */
    w->cur = sp;
    if ((rc = check_new_id(w, sp->id)))
        return rc;
    vr = calloc(sp->nversions + 1, sizeof *vr);
    labels = calloc(sp->nlabels + 1, sizeof *labels);
    m.versions = calloc(sp->nversions + 1, sizeof *m.versions);
    if (!vr || !labels || !m.versions) {
        rc = smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sp->nlabels; i++)
        labels[i] = (smar_span){sp->labels[i], strlen(sp->labels[i])};
    if ((rc = note_versions(w)) || (rc = place_record(w, vr, labels, &m)))
        goto done;
    static const uint8_t none[SMAR_DIGEST_BYTES];
    if (w->digests &&
        (rc = digest_push(w, sp->dg.known ? sp->dg.digest : none, retrieved_member(sp))))
        goto done;
    w->secrets++;
    w->versions += sp->nversions;
done:
    free(vr);
    free(labels);
    free(m.versions);
    return rc;
}

/* Place the oldest secret the split workers hold (waiting for it). */
static int place_oldest(smar_writer *w)
{
    smar_split *sp;
    int rc = smar_splitq_pop(w->splitq, &sp, &w->err);
    if (rc == SMAR_OK)
        rc = place_secret(w, sp);
    smar_splitq_release(w->splitq);
    w->placed++;
    if (rc && rc != SMAR_E_IO)
        w->failed = w->placed;
    return rc;
}

static int add_secret(smar_writer *w, const char *json, size_t len)
{
    int rc;
    if (!w->splitq) {
        w->added++;
        w->placed++;
        if (w->basemap && scan_secret(&w->split, json, len, w))
            rc = SMAR_OK; /* the parent holds its digest: not split */
        else if ((rc = smar_split_secret(&w->split, json, len, &w->err)) == SMAR_OK && w->basemap)
            split_against_base(&w->split, w);
        else if (rc == SMAR_OK)
            smar_split_hash_payloads(&w->split, w->keys->payload_hash);
        if (rc || (rc = place_secret(w, &w->split)))
            w->failed = rc == SMAR_E_IO ? 0 : w->placed;
        return rc;
    }
    while (smar_splitq_full(w->splitq))
        if ((rc = place_oldest(w)))
            return rc;
    if (smar_splitq_push(w->splitq, json, len))
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    w->added++;
    return SMAR_OK;
}

/* Place every secret still with the split workers. */
static int place_all(smar_writer *w)
{
    int rc = SMAR_OK;
    while (rc == SMAR_OK && w->splitq && smar_splitq_pending(w->splitq) > 0)
        rc = place_oldest(w);
    return rc;
}

int smar_writer_add_secret(smar_writer *w, const char *json, size_t len)
{
    if (!w || !json)
        return SMAR_E_INVALID;
    int rc = require_state(w, W_OPEN, W_STREAMING, "add_secret");
    if (rc)
        return rc;
    rc = add_secret(w, json, len);
    /* a bad secret is reported but leaves the stream consistent only if nothing of it was
     * written; payloads may have been, so the archive is dead either way */
    return die(w, rc);
}

int smar_writer_drain(smar_writer *w)
{
    if (!w)
        return SMAR_E_INVALID;
    int rc = require_state(w, W_OPEN, W_STREAMING, "drain");
    return rc ? rc : die(w, place_all(w));
}

uint64_t smar_writer_failed_secret(const smar_writer *w)
{
    return w ? w->failed : 0;
}

/* An incremental archive continues its base's chain: both must be of one instance (a
 * series never joins two; the references would be matched by secret ids of another). */
static int check_base_instance(smar_writer *w, smar_span doc)
{
    const char *base_doc = NULL;
    size_t base_len = 0;
    smar_span base_value;
    char why[128], *mine = NULL, *theirs = NULL;
    int rc = smar_reader_document(w->base, &base_doc, &base_len);
    if (rc)
        return smar_fail(&w->err, rc, "%s", smar_reader_error(w->base));
    if (!smar_json_validate((smar_span){base_doc, base_len}, SMAR_JSON_MAX_DEPTH, &base_value, why,
                            sizeof why))
        return smar_fail(&w->err, SMAR_E_CORRUPT, "the base archive's document: %s", why);
    if (!smar_json_document_instance(doc, &mine) ||
        !smar_json_document_instance(base_value, &theirs))
        rc = smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    else if (mine && theirs && strcmp(mine, theirs) != 0)
        rc = smar_fail(&w->err, SMAR_E_INPUT,
                       "the export is of instance %s, the base archive of %s: an incremental "
                       "archive continues the chain of one instance",
                       mine, theirs);
    free(mine);
    free(theirs);
    return rc;
}

int smar_writer_set_document(smar_writer *w, const char *json, size_t len)
{
    smar_span doc;
    char why[128];
    if (!w || !json)
        return SMAR_E_INVALID;
    int rc = require_state(w, W_OPEN, W_STREAMING, "set_document");
    if (rc)
        return rc;
    if (len > SMAR_MAX_META_BYTES / 2)
        return die(w, smar_fail(&w->err, SMAR_E_LIMIT, "export document over %u bytes",
                                SMAR_MAX_META_BYTES / 2));
    if (!smar_json_validate((smar_span){json, len}, SMAR_JSON_MAX_DEPTH, &doc, why, sizeof why))
        return die(w, smar_fail(&w->err, SMAR_E_INPUT, "export document: %s", why));
    if (smar_json_kind_of(doc) != SMAR_JSON_OBJECT)
        return die(w, smar_fail(&w->err, SMAR_E_INPUT, "export document is not an object"));
    if (w->base && (rc = check_base_instance(w, doc)))
        return die(w, rc);
    smar_buf_reset(&w->document);
    if (smar_buf_append(&w->document, doc.p, doc.n))
        return die(w, smar_fail(&w->err, SMAR_E_NOMEM, "out of memory"));
    return SMAR_OK;
}

void smar_writer_progress(const smar_writer *w, uint64_t *secrets, uint64_t *bytes)
{
    if (secrets)
        *secrets = w ? w->secrets : 0;
    if (bytes)
        *bytes = w ? w->offset : 0;
}

int smar_writer_stats_get(const smar_writer *w, smar_writer_stats *out)
{
    static const size_t sizes[] = {offsetof(smar_writer_stats, base_count),
                                   sizeof(smar_writer_stats)};
    if (w == NULL || out == NULL || out->version < 1 || out->version > SMAR_WRITER_STATS_VERSION ||
        w->keys == NULL)
        return SMAR_E_INVALID;
    smar_writer_stats st = {.version = out->version,
                            .snapshot = w->hdr.snapshot,
                            .secrets = w->secrets,
                            .versions = w->versions,
                            .payload_records = w->payloads,
                            .payload_bytes = w->payload_bytes,
                            .stored_bytes = w->offset,
                            .base_count = w->hdr.base_count,
                            .same_as_base = w->same_as_base,
                            .payloads_referenced = w->payloads_referenced};
    memcpy(st.archive_id, w->hdr.archive_id, sizeof st.archive_id);
    memcpy(out, &st, SMAR_VERSIONED_SIZE(sizes, out->version));
    return SMAR_OK;
}

/* ---- finishing ---------------------------------------------------------------------- */

static void swap_entries(smar_index_entry *a, smar_index_entry *b)
{
    smar_index_entry t = *a;
    *a = *b;
    *b = t;
}

/*
 * Sorts index entries in place. Not qsort: glibc's merge sort mallocs a copy of the whole
 * array (28 MB at a million secrets), at the moment the writer holds the most. Keys are
 * keyed hashes, so a median-of-three quicksort meets no adversarial order; recursing into
 * the smaller side keeps the stack at log2(n) frames.
 */
static void sort_entries(smar_index_entry *v, size_t n)
{
    while (n > 16) {
        size_t mid = n / 2, last = n - 1;
        if (smar_index_entry_cmp(&v[mid], &v[0]) < 0)
            swap_entries(&v[mid], &v[0]);
        if (smar_index_entry_cmp(&v[last], &v[0]) < 0)
            swap_entries(&v[last], &v[0]);
        if (smar_index_entry_cmp(&v[last], &v[mid]) < 0)
            swap_entries(&v[last], &v[mid]);
        swap_entries(&v[mid], &v[last - 1]); /* the pivot, out of the way */
        size_t i = 0, j = last - 1;
        for (;;) {
            while (smar_index_entry_cmp(&v[++i], &v[last - 1]) < 0)
                ;
            while (smar_index_entry_cmp(&v[--j], &v[last - 1]) > 0)
                ;
            if (i >= j)
                break;
            swap_entries(&v[i], &v[j]);
        }
        swap_entries(&v[i], &v[last - 1]);
        if (i < n - i - 1) {
            sort_entries(v, i);
            v += i + 1;
            n -= i + 1;
        } else {
            sort_entries(v + i + 1, n - i - 1);
            n = i;
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && smar_index_entry_cmp(&v[k], &v[k - 1]) < 0; k--)
            swap_entries(&v[k], &v[k - 1]);
}

/* Once written, a table's entries are needed no more: freed, so that the next table's
 * sort does not sit on top of them. */
static void drop_index_table(smar_writer *w, int table)
{
    free(w->index[table].v);
    w->index[table] = (index_list){0};
}

static int write_index_table(smar_writer *w, int table, smar_index_desc *d, bool last_table)
{
    index_list *l = &w->index[table];
    uint8_t *raw = NULL;
    int rc = SMAR_OK;
    sort_entries(l->v, l->n);
    /* each table is its own padding group: its base is what the index held before it */
    if ((rc = smar_pipeline_drain(w->pipeline, &w->err)))
        return rc;
    w->index_table_start = w->sealed_plain[SMAR_SEC_INDEX];
    d->first_seq = w->seq[SMAR_SEC_INDEX];
    d->nentries = l->n;
    d->nchunks = (uint32_t)((l->n + SMAR_INDEX_PER_CHUNK - 1) / SMAR_INDEX_PER_CHUNK);
    d->fences = malloc((size_t)d->nchunks * SMAR_INDEX_KEY_BYTES + 1);
    raw = malloc(SMAR_INDEX_PER_CHUNK * SMAR_INDEX_ENTRY_BYTES);
    if (!d->fences || !raw) {
        free(raw);
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    }
    for (uint32_t c = 0; c < d->nchunks && rc == SMAR_OK; c++) {
        size_t first = (size_t)c * SMAR_INDEX_PER_CHUNK;
        size_t n = l->n - first < SMAR_INDEX_PER_CHUNK ? l->n - first : SMAR_INDEX_PER_CHUNK;
        for (size_t i = 0; i < n; i++)
            smar_index_entry_encode(raw + i * SMAR_INDEX_ENTRY_BYTES, &l->v[first + i]);
        memcpy(d->fences + (size_t)c * SMAR_INDEX_KEY_BYTES, l->v[first].key, SMAR_INDEX_KEY_BYTES);
        bool table_end = c + 1 == d->nchunks;
        rc = write_chunk_padded(w, SMAR_SEC_INDEX, last_table && table_end, table_end, raw,
                                n * SMAR_INDEX_ENTRY_BYTES);
    }
    free(raw);
    drop_index_table(w, table);
    return rc;
}

static int write_meta(smar_writer *w, smar_meta *m)
{
    smar_buf meta = {.secure = true}; /* holds the document */
    int rc;
    m->secret_count = w->secrets;
    m->version_count = w->versions;
    m->payload_count = w->payloads;
    m->oldest = w->oldest;
    m->newest = w->newest;
    for (int s = SMAR_SEC_PAYLOAD; s <= SMAR_SEC_INDEX; s++)
        m->section_chunks[s] = w->seq[s];
    m->document = w->document.len ? (char *)w->document.data : (char *)"{}";
    m->document_len = w->document.len ? w->document.len : 2;
    if (smar_meta_encode(m, &meta)) {
        smar_buf_free(&meta);
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    }
    rc = write_in_chunks(w, SMAR_SEC_META, &meta);
    smar_buf_free(&meta);
    return rc;
}

/* The trailer's roots, in the order each needs the others (root2.h): content (over the
 * positions, signer, header and table), signature over the content, root MAC over the
 * content and the slots, root hash over all of it. */
static int seal_trailer(smar_writer *w, smar_trailer *t, const smar_buf *table,
                        const smar_buf *slots, uint8_t out[SMAR_TRAILER_BYTES])
{
    uint8_t content[SMAR_HASH_BYTES];
    if (w->signer)
        smar_signkey_public(w->signer, t->signer);
    smar_trailer_encode(out, t);
    smar_content_hash(content, out, w->header_bytes.data, w->header_bytes.len, table->data,
                      table->len);
    if (w->signer) {
        uint8_t msg[SMAR_SIGNED2_MSG_BYTES];
        smar_signed2_message(msg, t->archive_id, content);
        if (smar_signkey_sign(w->signer, msg, sizeof msg, t->signature) != SMAR_OK)
            return smar_fail(&w->err, SMAR_E_INVALID, "signing the archive failed");
    }
    smar_root2_mac(t->root_mac, w->keys->root_mac, content, out, slots->data, slots->len);
    smar_trailer_encode(out, t);
    smar_root2_hash(t->root_hash, content, out, slots->data, slots->len);
    smar_trailer_encode(out, t);
    return SMAR_OK;
}

static int write_table_and_trailer(smar_writer *w)
{
    smar_buf table = {0}, slots = {0};
    smar_trailer t = {0};
    uint8_t out[SMAR_TRAILER_BYTES];
    int rc = smar_buf_reserve(&table, w->ntable * SMAR_TABLE_ENTRY_BYTES);
    if (rc)
        return smar_fail(&w->err, SMAR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < w->ntable; i++) {
        smar_table_entry_encode(table.data + table.len, &w->table[i]);
        table.len += SMAR_TABLE_ENTRY_BYTES;
    }
    if ((rc = smar_slot_area_encode(w->slots, w->nslots, &slots, &w->err)))
        goto done;
    t.table_offset = w->offset;
    t.chunk_count = (uint32_t)w->ntable;
    t.flags = w->signer ? SMAR_TRAILER_SIGNED : 0;
    memcpy(t.archive_id, w->hdr.archive_id, SMAR_ARCHIVE_ID_BYTES);
    t.header_len = (uint32_t)w->header_bytes.len;
    t.slot_area_len = (uint32_t)slots.len;
    t.version_major = SMAR_FORMAT_V2;
    t.version_minor = w->hdr.version_minor;
    if ((rc = seal_trailer(w, &t, &table, &slots, out)) || (rc = emit(w, table.data, table.len)) ||
        (rc = emit(w, slots.data, slots.len)))
        goto done;
    rc = emit(w, out, sizeof out);
done:
    smar_buf_free(&table);
    smar_buf_free(&slots);
    return rc;
}

static int finish(smar_writer *w)
{
    smar_meta m = {0};
    int rc;
    if ((rc = place_all(w)) || (w->base && (rc = count_hits(w))) || (rc = emit_header(w)) ||
        (rc = stream_flush(w, SMAR_SEC_PAYLOAD, true)) ||
        (rc = stream_flush(w, SMAR_SEC_MANIFEST, true)))
        return rc;
    /* every secret is placed: no id is checked again, and the id set points into the
     * by-id table about to be sorted and freed */
    free(w->idset);
    w->idset = NULL;
    w->idset_cap = 0;
    bool names = w->index[SMAR_INDEX_BY_NAME].n > 0;
    if ((rc = write_index_table(w, SMAR_INDEX_BY_ID, &m.tables[SMAR_INDEX_BY_ID], !names)) ||
        (rc = write_index_table(w, SMAR_INDEX_BY_NAME, &m.tables[SMAR_INDEX_BY_NAME], true)))
        goto done;
    if ((rc = write_digests(w)) || (rc = write_meta(w, &m)) ||
        (rc = smar_pipeline_drain(w->pipeline, &w->err)) || (rc = write_table_and_trailer(w)))
        goto done;
    rc = commit_output(w);
done:
    for (int t = 0; t < SMAR_INDEX_TABLES; t++)
        free(m.tables[t].fences);
    return rc;
}

int smar_writer_finish(smar_writer *w)
{
    if (!w)
        return SMAR_E_INVALID;
    int rc = require_state(w, W_OPEN, W_STREAMING, "finish");
    if (rc)
        return rc;
    rc = die(w, finish(w));
    if (rc == SMAR_OK)
        w->state = W_DONE;
    return rc;
}
