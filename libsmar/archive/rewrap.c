/*
 * rewrap.c - new key slots for a format 2 archive, its chunks copied unchanged
 * (smar/rewrap.h; spec/FORMAT.md 14.2, "Rewrapping key slots").
 *
 * The copy is made from bytes this call reads itself and authenticates with the DEK (the
 * reader's unlock proves a key opens the archive; the header, table, slot area and
 * trailer read here are checked against dek_commit and the root MAC), so that what is
 * copied is exactly what was authenticated even if the source changes under us: every
 * chunk is checked against its table hash on the way, the header and table against the
 * bytes authenticated. The DEK lives in locked memory from unlock until the new slots are
 * made, then is wiped; the copy itself needs only the root MAC subkey.
 */
#include <sodium.h>
#include <stdlib.h>

#include "crypto.h"
#include "header2.h"
#include "keyring_internal.h"
#include "reader_internal.h"
#include "root2.h"
#include "slots.h"
#include "smar/rewrap.h"

/* Bytes copied at a time: memory does not grow with the archive. */
#define COPY_PIECE (256u * 1024u)

/* The source's structure as this call read it (see the top of the file). */
typedef struct source_view {
    uint8_t trailer_raw[SMAR_TRAILER_BYTES];
    smar_trailer trailer;
    uint8_t *header;
    smar_header2 hdr;
    uint8_t *table;
    size_t table_len;
    uint8_t *slot_bytes; /* slots[].wrapped point into it */
    smar_slot2 slots[SMAR_SLOTS2_MAX];
    unsigned nslots;
    uint8_t content[SMAR_HASH_BYTES];
} source_view;

/* What becomes of each source slot. */
enum slot_fate { SLOT_KEEP, SLOT_REWRAP, SLOT_REMOVE };

typedef struct rewrap_job {
    smar_reader *r;
    const smar_rewrap_options *o;
    const smar_sink *out;
    bool out_ended;
    source_view src;
    enum slot_fate fate[SMAR_SLOTS2_MAX];
    smar_keyring *rewrap_with[SMAR_SLOTS2_MAX]; /* SLOT_REWRAP: the keyring */
    smar_slot2 slots[SMAR_SLOTS2_MAX];          /* the new list */
    uint8_t wrapped[SMAR_SLOTS2_MAX][SMAR_WRAPPED_MAX];
    unsigned nslots;
    smar_keys *keys; /* K_rootmac for the new root MAC */
    smar_buf slot_area;
    smar_rewrap_result res;
    uint8_t *piece;
} rewrap_job;

/* ---- the source, read and checked ---------------------------------------------------- */

static int read_at(rewrap_job *j, void *buf, size_t n, uint64_t offset)
{
    return smar_source_read(&j->r->src, buf, n, offset, &j->r->err);
}

static int frozen_format1(rewrap_job *j)
{
    return smar_fail(&j->r->err, SMAR_E_UNSUPPORTED,
                     "format 1 slots are frozen: '%s' is a format 1 archive, whose key slots are "
                     "covered by the producer's signature; only format 2 archives can be "
                     "rewrapped (make a new archive to change its keys)",
                     j->r->name);
}

/* Trailer: positions within the file, format 2. */
static int read_trailer(rewrap_job *j)
{
    source_view *v = &j->src;
    uint64_t size = j->r->src.size;
    int rc;
    if (size < SMAR_HEADER2_BYTES + SMAR_TRAILER_BYTES)
        return smar_fail(&j->r->err, SMAR_E_FORMAT, "'%s' is too short to be an archive",
                         j->r->name);
    if ((rc = read_at(j, v->trailer_raw, SMAR_TRAILER_BYTES, size - SMAR_TRAILER_BYTES)) ||
        (rc = smar_trailer_decode(&v->trailer, v->trailer_raw, &j->r->err)))
        return rc;
    if (v->trailer.version_major == SMAR_FORMAT_V1)
        return frozen_format1(j);
    const smar_trailer *t = &v->trailer;
    v->table_len = (size_t)t->chunk_count * SMAR_TABLE_ENTRY_BYTES;
    if (t->version_major != SMAR_FORMAT_V2 || t->header_len < SMAR_HEADER2_BYTES ||
        t->header_len > SMAR_HEADER2_MAX || t->slot_area_len < SMAR_SLOT_AREA_MIN ||
        t->slot_area_len > SMAR_SLOT_AREA_MAX || t->table_offset < t->header_len ||
        t->table_offset > size ||
        size - t->table_offset != v->table_len + t->slot_area_len + SMAR_TRAILER_BYTES)
        return smar_fail(&j->r->err, SMAR_E_CORRUPT,
                         "'%s': the trailer's positions do not fit the file", j->r->name);
    return SMAR_OK;
}

/* Header, table and slot area, as the trailer places them. */
static int read_structure(rewrap_job *j)
{
    source_view *v = &j->src;
    const smar_trailer *t = &v->trailer;
    int rc;
    if (!(v->header = malloc(t->header_len)) || !(v->table = malloc(v->table_len)) ||
        !(v->slot_bytes = malloc(t->slot_area_len)))
        return smar_fail(&j->r->err, SMAR_E_NOMEM, "out of memory");
    if ((rc = read_at(j, v->header, t->header_len, 0)) ||
        (rc = smar_header2_parse(&v->hdr, v->header, t->header_len, &j->r->err)) ||
        (rc = read_at(j, v->table, v->table_len, t->table_offset)) ||
        (rc = read_at(j, v->slot_bytes, t->slot_area_len, t->table_offset + v->table_len)) ||
        (rc = smar_slot_area_parse(v->slots, &v->nslots, v->slot_bytes, t->slot_area_len,
                                   &j->r->err)))
        return smar_err_prefix(&j->r->err, "'%s': ", j->r->name);
    if (memcmp(v->hdr.archive_id, t->archive_id, SMAR_ARCHIVE_ID_BYTES) != 0 ||
        v->hdr.version_minor != t->version_minor)
        return smar_fail(&j->r->err, SMAR_E_CORRUPT, "'%s': header and trailer disagree",
                         j->r->name);
    return SMAR_OK;
}

/* With the DEK: the bytes read here are the producer's (dek_commit binds the header to
 * the DEK, the root MAC covers header, table, trailer and slots; the root hash all). */
static int authenticate_view(rewrap_job *j, const uint8_t *dek)
{
    source_view *v = &j->src;
    uint8_t mac[SMAR_HASH_BYTES], root[SMAR_HASH_BYTES];
    if (!smar_dek_commit_ok(dek, &v->hdr))
        return smar_fail(&j->r->err, SMAR_E_AUTH,
                         "'%s': the data key does not match the header's commitment", j->r->name);
    if (!(j->keys = smar_keys_derive_format(SMAR_FORMAT_V2, dek)))
        return smar_fail(&j->r->err, SMAR_E_NOMEM, "cannot allocate locked memory");
    smar_content_hash(v->content, v->trailer_raw, v->header, v->trailer.header_len, v->table,
                      v->table_len);
    smar_root2_mac(mac, j->keys->root_mac, v->content, v->trailer_raw, v->slot_bytes,
                   v->trailer.slot_area_len);
    smar_root2_hash(root, v->content, v->trailer_raw, v->slot_bytes, v->trailer.slot_area_len);
    if (!smar_equal32(mac, v->trailer.root_mac) || !smar_equal32(root, v->trailer.root_hash))
        return smar_fail(&j->r->err, SMAR_E_AUTH,
                         "'%s': the archive failed authentication when read again (it changed "
                         "since it was opened, or is damaged)",
                         j->r->name);
    return SMAR_OK;
}

/* ---- the plan: which slots stay, which are rewrapped, removed, added ------------------- */

static bool id_listed(const char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static smar_keyring *keyring_with_id(smar_keyring *const *keys, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(smar_keyring_id(keys[i]), id) == 0)
            return keys[i];
    return NULL;
}

/* Whether this library would hand slot s to keyring kr (as the reader does): same provider
 * and key id, no flags, a version kind the keyring API carries. */
static bool slot_of(const smar_slot2 *s, const smar_keyring *kr)
{
    return s->provider == smar_keyring_provider_id(kr) && s->flags == 0 &&
           s->version_kind != SMAR_VKIND_STRING && strcmp(s->key_id, smar_keyring_id(kr)) == 0;
}

static bool has_slot_id(const source_view *v, const char *id)
{
    for (unsigned i = 0; i < v->nslots; i++)
        if (strcmp(v->slots[i].key_id, id) == 0)
            return true;
    return false;
}

/* Ids named twice, or named for two things, are refused: the intent is unclear. */
static int check_lists(rewrap_job *j)
{
    const smar_rewrap_options *o = j->o;
    for (size_t i = 0; i < o->rewrap_count + o->add_count; i++) {
        smar_keyring *kr =
            i < o->rewrap_count ? o->rewrap_keys[i] : o->add_keys[i - o->rewrap_count];
        if (!kr || !*smar_keyring_id(kr))
            return smar_fail(&j->r->err, SMAR_E_INVALID, "rewrap: a key holds no root key");
        const char *id = smar_keyring_id(kr);
        for (size_t k = 0; k < i; k++) {
            smar_keyring *other =
                k < o->rewrap_count ? o->rewrap_keys[k] : o->add_keys[k - o->rewrap_count];
            if (strcmp(smar_keyring_id(other), id) == 0)
                return smar_fail(&j->r->err, SMAR_E_INVALID, "rewrap: key '%s' is given twice", id);
        }
        if (id_listed(o->remove_ids, o->remove_count, id))
            return smar_fail(&j->r->err, SMAR_E_INVALID,
                             "rewrap: key '%s' is both kept and removed", id);
    }
    for (size_t i = 0; i < o->remove_count; i++)
        if (!o->remove_ids[i] || id_listed(o->remove_ids, i, o->remove_ids[i]))
            return smar_fail(&j->r->err, SMAR_E_INVALID,
                             "rewrap: a key id to remove is missing or given twice");
    return SMAR_OK;
}

static int plan_source_slots(rewrap_job *j)
{
    const smar_rewrap_options *o = j->o;
    const source_view *v = &j->src;
    for (unsigned i = 0; i < v->nslots; i++) {
        const smar_slot2 *s = &v->slots[i];
        smar_keyring *kr = keyring_with_id(o->rewrap_keys, o->rewrap_count, s->key_id);
        j->fate[i] = SLOT_KEEP;
        if (id_listed(o->remove_ids, o->remove_count, s->key_id))
            j->fate[i] = SLOT_REMOVE;
        else if (kr && slot_of(s, kr)) {
            j->fate[i] = SLOT_REWRAP;
            j->rewrap_with[i] = kr;
        }
    }
    for (size_t k = 0; k < o->rewrap_count; k++) {
        bool found = false;
        for (unsigned i = 0; i < v->nslots; i++)
            found |= j->rewrap_with[i] == o->rewrap_keys[k];
        if (!found)
            return smar_fail(&j->r->err, SMAR_E_NOTFOUND,
                             "'%s' has no key slot of key '%s' to rewrap (add it instead)",
                             j->r->name, smar_keyring_id(o->rewrap_keys[k]));
    }
    for (size_t k = 0; k < o->remove_count; k++)
        if (!has_slot_id(v, o->remove_ids[k]))
            return smar_fail(&j->r->err, SMAR_E_NOTFOUND, "'%s' has no key slot of key '%s'",
                             j->r->name, o->remove_ids[k]);
    return SMAR_OK;
}

static int plan(rewrap_job *j)
{
    const smar_rewrap_options *o = j->o;
    int rc;
    if ((rc = check_lists(j)) || (rc = plan_source_slots(j)))
        return rc;
    for (size_t k = 0; k < o->add_count; k++)
        if (has_slot_id(&j->src, smar_keyring_id(o->add_keys[k])))
            return smar_fail(&j->r->err, SMAR_E_INVALID,
                             "'%s' already has a key slot of key '%s': rewrap it instead of "
                             "adding it",
                             j->r->name, smar_keyring_id(o->add_keys[k]));
    size_t after = o->add_count;
    for (unsigned i = 0; i < j->src.nslots; i++)
        after += j->fate[i] != SLOT_REMOVE;
    if (after == 0)
        return smar_fail(&j->r->err, SMAR_E_INVALID,
                         "rewrap would leave '%s' without a key slot: nobody could open it",
                         j->r->name);
    if (after > SMAR_SLOTS2_MAX)
        return smar_fail(&j->r->err, SMAR_E_LIMIT,
                         "rewrap would give '%s' %zu key slots (at most %u)", j->r->name, after,
                         SMAR_SLOTS2_MAX);
    return SMAR_OK;
}

/* ---- the new slots ------------------------------------------------------------------- */

/* A new slot of keyring kr (provider, key id, the version its wrap will use), as the
 * writer describes one. */
static int describe(rewrap_job *j, smar_keyring *kr, smar_slot2 *s)
{
    const char *id = smar_keyring_id(kr);
    uint32_t version;
    int rc = smar_keyring_wrap_version(kr, &version, &j->r->err);
    if (rc)
        return rc;
    memset(s, 0, sizeof *s);
    s->provider = smar_keyring_provider_id(kr);
    if (s->provider == 0 || strlen(id) > SMAR_KEY_ID2_MAX || !smar_slot_text_ok(id, strlen(id)))
        return smar_fail(&j->r->err, SMAR_E_INVALID, "key '%s' cannot be stored in a key slot", id);
    s->key_id_len = (uint8_t)strlen(id);
    memcpy(s->key_id, id, s->key_id_len);
    s->version_kind = version ? SMAR_VKIND_NUMBER : SMAR_VKIND_NONE;
    s->version_number = version;
    return SMAR_OK;
}

/* Wrap the DEK, or have the provider rewrap old's blob (old NULL: a new slot), into the
 * slot described in s, whose wrapped bytes go to buf. */
static int wrap_into(rewrap_job *j, smar_keyring *kr, const smar_slot2 *old, smar_slot2 *s,
                     uint8_t buf[SMAR_WRAPPED_MAX])
{
    uint8_t aad[SMAR_SLOT2_AAD_MAX], old_aad[SMAR_SLOT2_AAD_MAX];
    size_t aadlen = smar_slot2_aad(aad, j->src.hdr.archive_id, s), len = 0;
    uint32_t used = 0;
    int rc;
    if (old && smar_keyring_can_rewrap(kr)) {
        size_t old_len = smar_slot2_aad(old_aad, j->src.hdr.archive_id, old);
        rc = smar_keyring_rewrap(kr, old->version_number, old_aad, old_len, old->wrapped,
                                 old->wrapped_len, aad, aadlen, buf, &len, &used, &j->r->err);
    } else {
        rc = smar_keyring_wrap(kr, aad, aadlen, j->r->dek, buf, &len, &used, &j->r->err);
    }
    if (rc)
        return rc;
    if (used != s->version_number)
        return smar_fail(&j->r->err, SMAR_E_INVALID,
                         "key '%s' wrapped with another version than it announced (a rotation "
                         "raced with the rewrap: try again)",
                         s->key_id);
    s->wrapped = buf;
    s->wrapped_len = (uint32_t)len;
    return SMAR_OK;
}

/* A source slot to rewrap: kept as it is when it already has the current version. */
static int rewrap_one(rewrap_job *j, unsigned i, smar_slot2 *s, uint8_t buf[SMAR_WRAPPED_MAX])
{
    const smar_slot2 *old = &j->src.slots[i];
    int rc = describe(j, j->rewrap_with[i], s);
    if (rc)
        return rc;
    if (old->version_kind == SMAR_VKIND_NUMBER && s->version_kind == SMAR_VKIND_NUMBER &&
        old->version_number == s->version_number) {
        *s = *old;
        j->res.kept++;
        return SMAR_OK;
    }
    j->res.rewrapped++;
    return wrap_into(j, j->rewrap_with[i], old, s, buf);
}

static int make_slots(rewrap_job *j)
{
    unsigned n = 0;
    int rc;
    for (unsigned i = 0; i < j->src.nslots; i++) {
        if (j->fate[i] == SLOT_REMOVE) {
            j->res.removed++;
            continue;
        }
        if (j->fate[i] == SLOT_KEEP) {
            j->slots[n++] = j->src.slots[i]; /* re-encodes to the same bytes */
            j->res.kept++;
            continue;
        }
        if ((rc = rewrap_one(j, i, &j->slots[n], j->wrapped[n])))
            return smar_err_prefix(&j->r->err, "rewrap: ");
        n++;
    }
    for (size_t k = 0; k < j->o->add_count; k++, n++) {
        smar_keyring *kr = j->o->add_keys[k];
        if ((rc = describe(j, kr, &j->slots[n])) ||
            (rc = wrap_into(j, kr, NULL, &j->slots[n], j->wrapped[n])))
            return smar_err_prefix(&j->r->err, "adding a key slot: ");
        j->res.added++;
    }
    j->nslots = n;
    return smar_slot_area_encode(j->slots, n, &j->slot_area, &j->r->err);
}

/* ---- the copy ------------------------------------------------------------------------ */

static int emit(rewrap_job *j, const void *p, size_t n)
{
    char why[SMAR_IO_ERROR_MAX] = "";
    smar_io_result res = j->out->write(j->out->opaque, p, n, why);
    if (res == SMAR_IO_CANCELLED)
        return smar_fail(&j->r->err, SMAR_E_CANCELLED,
                         "writing the rewrapped archive was cancelled");
    if (res != SMAR_IO_OK)
        return smar_fail(&j->r->err, SMAR_E_IO, "writing the rewrapped archive failed: %.*s",
                         SMAR_IO_ERROR_MAX - 1, why[0] ? why : "the output refused the data");
    return SMAR_OK;
}

/* Copy [offset, offset + len) of the source to the output in pieces. Each piece must equal
 * expect (the authenticated bytes) when given, and goes into hash when given. */
static int copy_range(rewrap_job *j, uint64_t offset, uint64_t len, const uint8_t *expect,
                      crypto_generichash_state *hash)
{
    while (len > 0) {
        size_t n = len < COPY_PIECE ? (size_t)len : COPY_PIECE;
        int rc = read_at(j, j->piece, n, offset);
        if (rc)
            return rc;
        if (expect && memcmp(j->piece, expect, n) != 0)
            return smar_fail(&j->r->err, SMAR_E_CORRUPT,
                             "'%s' changed while it was copied (at byte %llu): nothing was "
                             "written",
                             j->r->name, (unsigned long long)offset);
        if (hash)
            crypto_generichash_update(hash, j->piece, n);
        if ((rc = emit(j, j->piece, n)))
            return rc;
        if (expect)
            expect += n;
        offset += n;
        len -= n;
        j->res.bytes_copied += n;
    }
    return SMAR_OK;
}

/* Chunk i, checked against its table hash as it is copied. */
static int copy_chunk(rewrap_job *j, uint32_t i, uint64_t *at)
{
    smar_table_entry e;
    crypto_generichash_state st;
    uint8_t hash[SMAR_HASH_BYTES];
    if (!smar_table_entry_decode(&e, j->src.table + (size_t)i * SMAR_TABLE_ENTRY_BYTES) ||
        e.offset != *at || e.stored_len == 0 || e.stored_len > j->src.trailer.table_offset - *at)
        return smar_fail(&j->r->err, SMAR_E_FORMAT, "'%s': chunk table entry %u is malformed",
                         j->r->name, i);
    crypto_generichash_init(&st, NULL, 0, SMAR_HASH_BYTES);
    int rc = copy_range(j, e.offset, e.stored_len, NULL, &st);
    if (rc)
        return rc;
    crypto_generichash_final(&st, hash, SMAR_HASH_BYTES);
    if (!smar_equal32(hash, e.hash))
        return smar_fail(&j->r->err, SMAR_E_CORRUPT,
                         "'%s' is damaged: chunk %u does not match its hash in the chunk table; "
                         "nothing was written",
                         j->r->name, i);
    *at += e.stored_len;
    return SMAR_OK;
}

/* Have the sink copy header .. end of the table itself (an object store's server-side
 * copy: the chunk bytes do not pass through here, so their hashes are not checked now; the
 * sink pins the source as it was authenticated, and readers check every chunk). *copied
 * false: the sink cannot, and the client-side copy follows. */
static int copy_by_sink(rewrap_job *j, bool *copied)
{
    const source_view *v = &j->src;
    uint64_t len = v->trailer.table_offset + v->table_len;
    char why[SMAR_IO_ERROR_MAX] = "";
    *copied = false;
    if (j->out->version < 2 || !j->out->copy)
        return SMAR_OK;
    smar_io_result res = j->out->copy(j->out->opaque, &j->r->src, 0, len, why);
    if (res == SMAR_IO_UNSUPPORTED)
        return SMAR_OK;
    if (res == SMAR_IO_CANCELLED)
        return smar_fail(&j->r->err, SMAR_E_CANCELLED, "copying the archive was cancelled");
    if (res != SMAR_IO_OK)
        return smar_fail(&j->r->err, SMAR_E_IO, "copying the archive failed: %.*s",
                         SMAR_IO_ERROR_MAX - 1, why[0] ? why : "the output refused it");
    *copied = true;
    j->res.bytes_copied = len;
    return SMAR_OK;
}

static int copy_body(rewrap_job *j)
{
    const source_view *v = &j->src;
    uint64_t at = v->trailer.header_len;
    bool copied;
    int rc = copy_by_sink(j, &copied);
    if (rc || copied)
        return rc;
    if (!(j->piece = malloc(COPY_PIECE)))
        return smar_fail(&j->r->err, SMAR_E_NOMEM, "out of memory");
    if ((rc = copy_range(j, 0, v->trailer.header_len, v->header, NULL)))
        return rc;
    for (uint32_t i = 0; i < v->trailer.chunk_count; i++)
        if ((rc = copy_chunk(j, i, &at)))
            return rc;
    if (at != v->trailer.table_offset)
        return smar_fail(&j->r->err, SMAR_E_FORMAT, "'%s': the chunks do not end at the table",
                         j->r->name);
    return copy_range(j, v->trailer.table_offset, v->table_len, v->table, NULL);
}

/* New slot area length, root MAC and root hash; everything else as it was (the signer
 * and signature too: the content they cover did not change). */
static int write_slots_and_trailer(rewrap_job *j)
{
    smar_trailer t = j->src.trailer;
    uint8_t raw[SMAR_TRAILER_BYTES];
    t.slot_area_len = (uint32_t)j->slot_area.len;
    smar_trailer_encode(raw, &t);
    smar_root2_mac(t.root_mac, j->keys->root_mac, j->src.content, raw, j->slot_area.data,
                   j->slot_area.len);
    smar_trailer_encode(raw, &t);
    smar_root2_hash(t.root_hash, j->src.content, raw, j->slot_area.data, j->slot_area.len);
    smar_trailer_encode(raw, &t);
    int rc = emit(j, j->slot_area.data, j->slot_area.len);
    return rc ? rc : emit(j, raw, sizeof raw);
}

static int commit(rewrap_job *j)
{
    char why[SMAR_IO_ERROR_MAX] = "";
    smar_io_result res = j->out->commit(j->out->opaque, why);
    j->out_ended = true; /* a failed commit discards the output itself */
    if (res == SMAR_IO_CANCELLED)
        return smar_fail(&j->r->err, SMAR_E_CANCELLED,
                         "committing the rewrapped archive was cancelled");
    if (res != SMAR_IO_OK)
        return smar_fail(&j->r->err, SMAR_E_IO, "committing the rewrapped archive failed: %.*s",
                         SMAR_IO_ERROR_MAX - 1, why[0] ? why : "the output refused it");
    return SMAR_OK;
}

/* ---- the call ------------------------------------------------------------------------ */

static bool sink_usable(const smar_sink *s)
{
    return s && s->version >= 1 && s->version <= SMAR_SINK_VERSION && s->write && s->commit;
}

static int check_args(smar_reader *r, const smar_rewrap_options *o, const smar_sink *out,
                      const smar_rewrap_result *result)
{
    if (o->version != SMAR_REWRAP_OPTIONS_VERSION)
        return smar_fail(&r->err, SMAR_E_INVALID, "unknown smar_rewrap_options version %d",
                         o->version);
    if (result && result->version != SMAR_REWRAP_RESULT_VERSION)
        return smar_fail(&r->err, SMAR_E_INVALID, "unknown smar_rewrap_result version %d",
                         result->version);
    if (!sink_usable(out) || (!o->rewrap_keys && o->rewrap_count) ||
        (!o->add_keys && o->add_count) || (!o->remove_ids && o->remove_count))
        return smar_fail(&r->err, SMAR_E_INVALID, "rewrap: invalid argument");
    if (r->state != R_OPEN)
        return smar_fail(&r->err, SMAR_E_INVALID,
                         "rewrap: the archive must be opened and not yet "
                         "unlocked");
    return SMAR_OK;
}

/* Unlock through the reader, keeping the DEK (reader_internal.h), and check what this
 * call read against it. */
static int unlock(rewrap_job *j, smar_keyring *const *keys, size_t nkeys)
{
    j->r->keep_dek = true;
    int rc = smar_reader_unlock(j->r, keys, nkeys);
    j->r->keep_dek = false;
    if (rc == SMAR_OK && !j->r->dek)
        rc = smar_fail(&j->r->err, SMAR_E_INVALID, "rewrap: unlock kept no data key");
    return rc ? rc : authenticate_view(j, j->r->dek);
}

static int rewrap(rewrap_job *j, smar_keyring *const *keys, size_t nkeys)
{
    int rc;
    if ((rc = read_trailer(j)) || (rc = read_structure(j)) || (rc = plan(j)) ||
        (rc = unlock(j, keys, nkeys)))
        return rc;
    rc = make_slots(j);
    /* the new slots exist (or failed): the DEK is not needed any more */
    smar_secure_free(j->r->dek);
    j->r->dek = NULL;
    if (rc || (rc = copy_body(j)) || (rc = write_slots_and_trailer(j)))
        return rc;
    return commit(j);
}

static void job_free(rewrap_job *j)
{
    smar_secure_free(j->r->dek);
    j->r->dek = NULL;
    if (!j->out_ended && j->out->abort)
        j->out->abort(j->out->opaque);
    smar_keys_free(j->keys);
    smar_buf_free(&j->slot_area);
    free(j->src.header);
    free(j->src.table);
    free(j->src.slot_bytes);
    free(j->piece);
    free(j);
}

int smar_rewrap(smar_reader *r, smar_keyring *const *keys, size_t nkeys,
                const smar_rewrap_options *opts, const smar_sink *out, smar_rewrap_result *result)
{
    smar_rewrap_options none = SMAR_REWRAP_OPTIONS_INIT;
    if (!r || (!keys && nkeys))
        return SMAR_E_INVALID;
    const smar_rewrap_options *o = opts ? opts : &none;
    int rc = check_args(r, o, out, result);
    if (rc) {
        if (sink_usable(out) && out->abort)
            out->abort(out->opaque);
        return rc;
    }
    rewrap_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (out->abort)
            out->abort(out->opaque);
        return smar_fail(&r->err, SMAR_E_NOMEM, "out of memory");
    }
    j->r = r;
    j->o = o;
    j->out = out;
    j->res.version = SMAR_REWRAP_RESULT_VERSION;
    rc = rewrap(j, keys, nkeys);
    if (rc == SMAR_OK) {
        j->res.slots_before = j->src.nslots;
        j->res.slots_after = j->nslots;
        if (result)
            *result = j->res;
    }
    job_free(j);
    return rc;
}
