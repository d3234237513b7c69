/*
 * vectors_common.c - the generic pieces and harness the format 1 and format 2 vector tests
 * share (see vectors_common.h for where the line to the format logic is drawn).
 */
#include "vectors_common.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "archive_fixture.h"
#include "smar.h"
#include "testutil.h"

/* ---- buffers and little-endian fields ------------------------------------------------- */

void sb_add(sb *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_str(sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp)
        abort();
    sb_add(b, tmp, (size_t)k);
}

void sb_hex(sb *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        sb_add(b, c, 2);
    }
}

bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

void sb_free(sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}
void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- a cursor over little-endian fields ----------------------------------------------- */

const uint8_t *take(cur *c, size_t n)
{
    if (!c->ok || c->left < n) {
        c->ok = false;
        return NULL;
    }
    const uint8_t *q = c->p;
    c->p += n;
    c->left -= n;
    return q;
}
uint8_t t8(cur *c)
{
    const uint8_t *q = take(c, 1);
    return q ? q[0] : 0;
}
uint16_t t16(cur *c)
{
    const uint8_t *q = take(c, 2);
    return q ? le16(q) : 0;
}
uint32_t t32(cur *c)
{
    const uint8_t *q = take(c, 4);
    return q ? le32(q) : 0;
}
uint64_t t64(cur *c)
{
    const uint8_t *q = take(c, 8);
    return q ? le64(q) : 0;
}

/* ---- a keyring file's key (spec/KEYRING.md) -------------------------------------------- */

bool keyring_file_key(const char *text, const char *kid, size_t kid_len, uint32_t version,
                      uint8_t key[32])
{
    cJSON *root = cJSON_Parse(text);
    bool found = false;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "key_id");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(root, "versions");
    const cJSON *v;
    if (cJSON_IsString(id) && strlen(id->valuestring) == kid_len &&
        memcmp(id->valuestring, kid, kid_len) == 0) {
        cJSON_ArrayForEach(v, vs)
        {
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "key");
            size_t len = 0;
            if (cJSON_IsNumber(num) && num->valuedouble == (double)version && cJSON_IsString(k) &&
                sodium_base642bin(key, 32, k->valuestring, strlen(k->valuestring), NULL, &len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 &&
                len == 32)
                found = true;
        }
    }
    cJSON_Delete(root);
    return found;
}

/* ==== the harness: vector files and libsmar's public API ================================ */

#define MAX_KEY_FILES 16

bool g_write;
static const char *g_dir; /* spec/vectors/v1 or v2, relative to the source tree */
static char *g_tmp;       /* private copies of the key files (mode 0600) */
static const char *const *g_key_files;
static smar_keyring *g_keys[MAX_KEY_FILES];

bool vectors_write_mode(void)
{
    const char *env = getenv("SMAR_WRITE_VECTORS");
    return env != NULL && strcmp(env, "1") == 0;
}

int vectors_setup(const char *dir, const char *const *key_files)
{
    g_dir = dir;
    g_key_files = key_files;
    g_write = vectors_write_mode();
    if (smar_init() != SMAR_OK)
        return -1;
    g_tmp = tu_tmpdir();
    return g_tmp ? 0 : -1;
}

void vectors_teardown(void)
{
    for (int i = 0; i < MAX_KEY_FILES; i++) {
        smar_keyring_free(g_keys[i]);
        g_keys[i] = NULL;
    }
    tu_rmtree(g_tmp);
    free(g_tmp);
    g_tmp = NULL;
}

/* ---- files --------------------------------------------------------------------------- */

char *vpath(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s", g_dir, name);
    return tu_source_path(rel);
}

uint8_t *vread(const char *name, size_t *n)
{
    char *path = vpath(name);
    uint8_t *d = (uint8_t *)tu_read_file(path, n);
    if (d == NULL)
        fail_msg("cannot read %s (regenerate with SMAR_WRITE_VECTORS=1)", path);
    free(path);
    return d;
}

void vwrite(const char *name, const void *p, size_t n)
{
    char *path = vpath(name);
    if (tu_write_file(path, p, n) != 0)
        fail_msg("cannot write %s", path);
    free(path);
}

/* Compare generated text with a committed file (or write it in generation mode). */
void vexpect(const char *name, const sb *got)
{
    size_t n;
    if (g_write)
        vwrite(name, got->p, got->n);
    uint8_t *want = vread(name, &n);
    if (!same_bytes(want, n, got->p, got->n)) {
        size_t i = 0;
        while (i < n && i < got->n && want[i] == got->p[i])
            i++;
        fail_msg("%s differs from what was computed (first difference at byte %zu of %zu/%zu)",
                 name, i, n, got->n);
    }
    free(want);
}

char *key_text(const char *file)
{
    size_t n;
    return (char *)vread(file, &n);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A keyring, an x25519 identity (*.key) or a recipient (*.key.pub), loaded once. */
smar_keyring *keyring(const char *file)
{
    for (int i = 0; i < MAX_KEY_FILES && g_key_files[i]; i++) {
        if (strcmp(g_key_files[i], file) != 0)
            continue;
        if (g_keys[i] == NULL) {
            /* secret key files must be mode 0600 to load: git does not keep that, so copy */
            size_t n;
            uint8_t *text = vread(file, &n);
            char *copy = tu_path_join(g_tmp, file);
            int rc;
            assert_int_equal(tu_write_file(copy, text, n), 0);
            assert_int_equal(smar_keyring_new(&g_keys[i]), SMAR_OK);
            if (ends_with(file, ".key.pub"))
                rc = smar_keyring_load_recipient(g_keys[i], copy);
            else if (ends_with(file, ".key"))
                rc = smar_keyring_load_identity(g_keys[i], copy, NULL);
            else
                rc = smar_keyring_load(g_keys[i], copy, NULL);
            if (rc != SMAR_OK)
                fail_msg("%s: %s", file, smar_keyring_error(g_keys[i]));
            free(text);
            free(copy);
        }
        return g_keys[i];
    }
    fail_msg("unknown key file %s", file);
    return NULL;
}

void load_pk(const char *file, uint8_t pk[32])
{
    char *path = vpath(file);
    smar_signkey *pub = NULL;
    assert_int_equal(smar_signkey_new(&pub), SMAR_OK);
    if (smar_signkey_load_public(pub, path) != SMAR_OK)
        fail_msg("%s: %s", file, smar_signkey_error(pub));
    smar_signkey_public(pub, pk);
    smar_signkey_free(pub);
    free(path);
}

static void put_time(sb *o, const char *label, smar_time_ns t)
{
    char buf[SMAR_TIME_BUFSIZE];
    if (t == SMAR_TIME_NONE)
        sb_printf(o, "%s: none\n", label);
    else
        sb_printf(o, "%s: %s (%" PRId64 " ns)\n", label, smar_time_format(t, buf), t);
}

int render_cb(smar_reader *r, const smar_secret *s, void *p)
{
    rendered *rd = p;
    char *out;
    size_t len;
    int rc = smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len);
    if (rc != SMAR_OK)
        return SMAR_STOP; /* the caller reports the reader's error */
    sb_add(&rd->text, out, len);
    sb_str(&rd->text, "\n");
    smar_secret_buffer_free(out, len);
    rd->ids = realloc(rd->ids, (rd->n + 1) * sizeof *rd->ids);
    rd->names = realloc(rd->names, (rd->n + 1) * sizeof *rd->names);
    rd->ids[rd->n] = strdup(smar_secret_id(s));
    rd->names[rd->n] = strdup(smar_secret_name(s));
    rd->n++;
    return 0;
}

void rendered_free(rendered *rd)
{
    for (size_t i = 0; i < rd->n; i++) {
        free(rd->ids[i]);
        free(rd->names[i]);
    }
    free(rd->ids);
    free(rd->names);
    sb_free(&rd->text);
}

typedef struct name_hits {
    char **ids;
    size_t n;
} name_hits;

static int name_cb(smar_reader *r, const smar_secret *s, void *p)
{
    name_hits *h = p;
    (void)r;
    h->ids = realloc(h->ids, (h->n + 1) * sizeof *h->ids);
    h->ids[h->n++] = strdup(smar_secret_id(s));
    return 0;
}

/* Lookups by id and by name must find exactly what the manifest walk found. */
static void check_lookups(smar_reader *r, const rendered *rd)
{
    const char *line = (const char *)rd->text.p;
    for (size_t i = 0; i < rd->n; i++) {
        smar_secret *s;
        char *out;
        size_t len;
        const char *eol = strchr(line, '\n');
        if (smar_reader_find_id(r, rd->ids[i], &s) != SMAR_OK)
            fail_msg("find_id %s: %s", rd->ids[i], smar_reader_error(r));
        assert_int_equal(smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len), SMAR_OK);
        assert_true(eol != NULL && len == (size_t)(eol - line) && memcmp(out, line, len) == 0);
        smar_secret_buffer_free(out, len);
        smar_secret_free(s);
        line = eol + 1;
        if (rd->names[i][0] == '\0')
            continue;
        name_hits h = {NULL, 0};
        size_t k = 0;
        assert_int_equal(smar_reader_find_name(r, rd->names[i], NULL, name_cb, &h), SMAR_OK);
        for (size_t j = 0; j < rd->n; j++)
            if (strcmp(rd->names[j], rd->names[i]) == 0) {
                if (k >= h.n || strcmp(h.ids[k], rd->ids[j]) != 0)
                    fail_msg("find_name '%s' misses %s", rd->names[i], rd->ids[j]);
                k++;
            }
        assert_int_equal(k, h.n);
        for (size_t j = 0; j < h.n; j++)
            free(h.ids[j]);
        free(h.ids);
    }
    smar_secret *none = NULL;
    assert_int_equal(smar_reader_find_id(r, "no-such-secret", &none), SMAR_E_NOTFOUND);
}

/* ---- describing an archive ----------------------------------------------------------------- */

smar_reader *open_vector(const char *file)
{
    smar_reader *r;
    char *path = vpath(file);
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    if (smar_reader_open(r, path) != SMAR_OK)
        fail_msg("%s: %s", file, smar_reader_error(r));
    free(path);
    return r;
}

void describe_clear(smar_reader *r, const char *file, slot_describer *slots, sb *o)
{
    static const char *const section_name[5] = {"?", "payload", "manifest", "index", "meta"};
    smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
    char hex[65];
    assert_int_equal(smar_reader_info(r, &in), SMAR_OK);
    sb_printf(o, "archive: %s\n", file);
    sb_printf(o, "file_size: %" PRIu64 "\n", in.file_size);
    sb_printf(o, "format_version: %u.%u\n", in.version_major, in.version_minor);
    smar_archive_id_hex(in.archive_id, hex);
    sb_printf(o, "archive_id: %s\n", hex);
    put_time(o, "created", in.created);
    put_time(o, "snapshot", in.snapshot);
    sb_printf(o, "suite: %s\ncompression: %s\nchunk_size: %u\nheader_size: %u\n", in.suite,
              in.compression, in.chunk_size, in.header_size);
    sb_printf(o, "key_slots: %zu\n", in.slot_count);
    slots(r, in.slot_count, o);
    sb_printf(o, "signed: %s\n", in.is_signed ? "yes" : "no");
    if (in.is_signed) {
        sb_str(o, "signer: ");
        sb_hex(o, in.signer, 32);
        smar_signkey_fingerprint(in.signer, hex);
        sb_printf(o, "\nsigner_fingerprint: %s\n", hex);
    }
    sb_printf(o, "chunk_count: %" PRIu64 "\n", in.chunk_count);
    for (int s = 1; s <= 4; s++)
        sb_printf(o, "section %d %s: %" PRIu64 " chunks, %" PRIu64 " stored bytes\n", s,
                  section_name[s], in.section_chunks[s], in.section_bytes[s]);
}

void describe_keyless(smar_reader *r, const char *file, const uint8_t *pk, sb *o)
{
    smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
    if (smar_reader_verify(r, 0, pk, &vr, NULL, NULL, NULL) != SMAR_OK)
        fail_msg("%s: keyless verify: %s", file, smar_reader_error(r));
    sb_printf(o,
              "keyless_verify%s: ok, root_ok %d, signature %d, chunks %" PRIu64 ", bytes %" PRIu64
              "\n",
              pk ? " (with signer.pub.json)" : "", vr.root_ok, vr.signature, vr.chunks_checked,
              vr.bytes_checked);
}

void unlock_with(smar_reader *r, const char *file, const char *key_file)
{
    smar_keyring *kr = keyring(key_file);
    if (smar_reader_unlock(r, &kr, 1) != SMAR_OK)
        fail_msg("%s: unlock with %s: %s", file, key_file, smar_reader_error(r));
}

void describe_unlocked(smar_reader *r, const char *file, const uint8_t *pk, sb *o, rendered *rd)
{
    smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
    smar_snapshot_info sn = SMAR_SNAPSHOT_INFO_INIT;
    assert_int_equal(smar_reader_snapshot(r, &sn), SMAR_OK);
    sb_printf(o,
              "secret_count: %" PRIu64 "\nversion_count: %" PRIu64 "\npayload_count: %" PRIu64 "\n",
              sn.secret_count, sn.version_count, sn.payload_count);
    put_time(o, "oldest_version", sn.oldest_version);
    put_time(o, "newest_version", sn.newest_version);
    const char *doc;
    size_t doclen;
    assert_int_equal(smar_reader_document(r, &doc, &doclen), SMAR_OK);
    sb_str(o, "document: ");
    sb_add(o, doc, doclen);
    sb_str(o, "\n");

    if (smar_reader_foreach(r, render_cb, rd) != SMAR_OK)
        fail_msg("%s: foreach: %s", file, smar_reader_error(r));
    check_lookups(r, rd);
    if (smar_reader_verify(r, SMAR_VERIFY_KEYED, pk, &vr, NULL, NULL, NULL) != SMAR_OK)
        fail_msg("%s: keyed verify: %s", file, smar_reader_error(r));
    sb_printf(o, "keyed_verify: ok, secrets %" PRIu64 ", payloads %" PRIu64 "\n",
              vr.secrets_checked, vr.payloads_checked);
}

void sha256_lines(const sb *text, const rendered *rd, sb *o)
{
    const char *line = (const char *)text->p;
    for (size_t i = 0; i < rd->n; i++) {
        const char *eol = strchr(line, '\n');
        uint8_t h[32];
        crypto_hash_sha256(h, (const uint8_t *)line, (unsigned long long)(eol - line));
        sb_hex(o, h, 32);
        sb_printf(o, " %zu %s\n", (size_t)(eol - line), rd->ids[i]);
        line = eol + 1;
    }
}

void base_name(char *out, size_t cap, const char *file, const char *suffix)
{
    size_t n = strlen(file) - strlen(".smar");
    snprintf(out, cap, "%.*s%s", (int)n, file, suffix);
}

/* ---- the positive vectors ------------------------------------------------------------------- */

/* What needs no decryption: opening and keyless verification. */
static void check_without_aes(const vector *v)
{
    smar_reader *r;
    char *path = vpath(v->file);
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    assert_int_equal(smar_reader_open(r, path), SMAR_OK);
    assert_int_equal(smar_reader_verify(r, 0, NULL, NULL, NULL, NULL, NULL), SMAR_OK);
    smar_reader_free(r);
    free(path);
    print_message("%s: AES-256-GCM unavailable here: decryption not checked\n", v->file);
}

/* Every other key listed opens it too, to the same secrets. */
static void check_other_keys(const vector *v, const rendered *rd)
{
    for (int k = 1; k < 3 && v->keys[k]; k++) {
        smar_reader *r;
        char *path = vpath(v->file);
        smar_keyring *kr = keyring(v->keys[k]);
        rendered other = {{0}, NULL, NULL, 0};
        assert_int_equal(smar_reader_new(&r), SMAR_OK);
        assert_int_equal(smar_reader_open(r, path), SMAR_OK);
        assert_int_equal(smar_reader_unlock(r, &kr, 1), SMAR_OK);
        assert_int_equal(smar_reader_foreach(r, render_cb, &other), SMAR_OK);
        assert_true(same_bytes(other.text.p, other.text.n, rd->text.p, rd->text.n));
        rendered_free(&other);
        smar_reader_free(r);
        free(path);
    }
}

static void check_library(const vector *v, const uint8_t *pk, lib_describer *describe, rendered *rd)
{
    char name[128];
    sb info = {0}, out = {0};
    describe(v->file, v->keys[0], pk, &info, rd);
    base_name(name, sizeof name, v->file, ".info.txt");
    vexpect(name, &info);
    if (v->hashed) {
        sha256_lines(&rd->text, rd, &out);
        base_name(name, sizeof name, v->file, ".secrets.sha256");
    } else {
        sb_add(&out, rd->text.p, rd->text.n);
        base_name(name, sizeof name, v->file, ".secrets.jsonl");
    }
    vexpect(name, &out);
    check_other_keys(v, rd);
    sb_free(&info);
    sb_free(&out);
}

void check_vector(const vector *v, lib_describer *describe, independent_checker *independent)
{
    uint8_t pk[32];
    rendered rd = {{0}, NULL, NULL, 0};
    if (v->pubkey)
        load_pk(v->pubkey, pk);
    if (v->aes && !crypto_aead_aes256gcm_is_available()) {
        check_without_aes(v);
        return;
    }
    check_library(v, v->pubkey ? pk : NULL, describe, &rd);
    independent(v, v->pubkey ? pk : NULL, &rd);
    rendered_free(&rd);
}

/* ---- the negative vectors ------------------------------------------------------------------- */

/* Callbacks return stop values, not statuses: the error goes to *(int *)p. */
static int read_all_cb(smar_reader *r, const smar_secret *s, void *p)
{
    char *out;
    size_t len;
    int rc = smar_reader_render_secret(r, s, NULL, 0, 1, &out, &len);
    if (rc == SMAR_OK)
        smar_secret_buffer_free(out, len);
    else
        *(int *)p = rc;
    return rc == SMAR_OK ? 0 : SMAR_STOP;
}

int open_file(smar_reader **r, const char *file)
{
    char *path = vpath(file);
    assert_int_equal(smar_reader_new(r), SMAR_OK);
    int rc = smar_reader_open(*r, path);
    free(path);
    return rc;
}

/* The status of one stage, each on a fresh reader. */
static int lib_stage(const negative *v, int stage, const uint8_t *pk)
{
    smar_reader *r;
    int rc = open_file(&r, v->file);
    smar_keyring *kr = keyring(v->key);
    if (rc == SMAR_OK && stage == 1)
        rc = smar_reader_verify(r, 0, pk, NULL, NULL, NULL, NULL);
    if (rc == SMAR_OK && stage >= 2)
        rc = smar_reader_unlock(r, &kr, 1);
    int failed = SMAR_OK;
    if (rc == SMAR_OK && stage == 3 &&
        (rc = smar_reader_foreach(r, read_all_cb, &failed)) == SMAR_STOP)
        rc = failed;
    if (rc == SMAR_OK && stage == 4)
        rc = smar_reader_verify(r, SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL);
    smar_reader_free(r);
    return rc;
}

void check_negatives(const negative *negs, size_t n, spec_stager *spec_stage)
{
    static const char *const stage_name[5] = {"open", "keyless verify", "unlock",
                                              "read every secret", "keyed verify"};
    for (size_t i = 0; i < n; i++) {
        const negative *v = &negs[i];
        const int want[5] = {v->open, v->keyless, v->unlock, v->read, v->keyed};
        uint8_t pk[32];
        if (v->pubkey)
            load_pk(v->pubkey, pk);
        for (int st = 0; st < 5; st++) {
            if (want[st] == NA)
                continue;
            int got = lib_stage(v, st, v->pubkey ? pk : NULL);
            if (got != want[st])
                fail_msg("%s with %s: %s gave %d (%s), the README says %d", v->file, v->key,
                         stage_name[st], got, smar_strerror(got), want[st]);
            if (st == 4)
                continue; /* the independent reader's "read" already checks everything */
            int spec = spec_stage(v, st, v->pubkey ? pk : NULL);
            if ((spec == 0) != (want[st] == SMAR_OK))
                fail_msg("%s with %s: the independent reader %s at %s", v->file, v->key,
                         spec == 0 ? "accepts it" : "rejects it", stage_name[st]);
        }
    }
}

/* ---- what the generators write -------------------------------------------------------------- */

const char *const BASIC[5] = {
    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000001\",\"name\":\"café ☕ 秘密\","
    "\"secret_type\":\"arbitrary\",\"secret_group_id\":\"default\",\"labels\":[\"prod\","
    "\"ünïcödé\"],\"description\":\"caf\\u00e9 \\\"quoted\\\" \\ud83d\\udd11\","
    "\"custom_metadata\":{\"big\":123456789012345678901234567890,\"tiny\":-1e-400,"
    "\"exact\":0.30000000000000004},\"created_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-11-19T10:00:00.123456789Z\",\"payload\":\"s3cr3t ✓\","
    "\"versions_total\":2,\"versions\":[{\"id\":\"0b5f1e8a-aaaa-4000-8000-000000000001\","
    "\"created_at\":\"2026-01-01T00:00:00Z\",\"payload\":\"\"},"
    "{\"id\":\"0b5f1e8a-aaaa-4000-8000-000000000002\",\"payload\":\"s3cr3t ✓\","
    "\"created_at\":\"2026-11-19T10:00:00.123456789Z\","
    "\"version_custom_metadata\":{\"rotated_by\":\"ops\"}}]}",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000002\",\"name\":\"db-login\","
    "\"secret_type\":\"username_password\",\"secret_group_id\":\"1b2c3d4e-group\","
    "\"created_at\":\"2026-03-01T12:00:00Z\",\"username\":\"admin\","
    "\"password\":\"p\\u00e4ss\\\"word\",\"versions\":[{\"id\":"
    "\"0b5f1e8a-bbbb-4000-8000-000000000001\",\"created_at\":\"2026-03-01T12:00:00Z\","
    "\"username\":\"admin\",\"password\":\"p\\u00e4ss\\\"word\"}]}",

    "{ \"id\" : \"0b5f1e8a-0000-4000-8000-000000000003\" , \"name\" : \"db-login\" , "
    "\"secret_type\" : \"kv\" , \"data\" : {\"host\": \"db.internal\", \"port\": 5432, "
    "\"tls\": true, \"nested\": {\"a\": [1, 2, {\"b\": null}]}} , \"versions\" : [ ] }",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000004\",\"name\":\"quantum\","
    "\"secret_type\":\"quantum_key\",\"description\":\"an unknown secret type\","
    "\"qk_material\":\"q-bits\",\"qk_params\":{\"n\":256},"
    "\"created_at\":\"2026-05-05T05:05:05+02:00\",\"locks_total\":0}",

    "{\"id\":\"0b5f1e8a-0000-4000-8000-000000000005\",\"secret_type\":\"imported_cert\","
    "\"labels\":[],\"expiration_date\":\"2027-01-01T00:00:00Z\",\"state\":1}",
};

const char *const TWO_SLOTS[2] = {
    "{\"id\":\"two-slots-1\",\"name\":\"shared\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"opened by a or b\",\"versions\":[{\"id\":\"two-slots-1-v1\","
    "\"created_at\":\"2026-06-01T00:00:00Z\",\"payload\":\"opened by a or b\"}]}",
    "{\"id\":\"two-slots-2\",\"name\":\"tls\",\"secret_type\":\"public_cert\","
    "\"common_name\":\"example.com\",\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n"
    "-----END CERTIFICATE-----\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n"
    "-----END PRIVATE KEY-----\",\"intermediate\":\"\",\"created_at\":\"2026-06-02T00:00:00Z\"}",
};

const char *const SIGNED[2] = {
    "{\"id\":\"signed-1\",\"name\":\"api\",\"secret_type\":\"iam_credentials\","
    "\"api_key\":\"key-123\",\"service_id\":\"ServiceId-1\",\"ttl\":\"1d\",\"versions\":[{"
    "\"id\":\"signed-1-v1\",\"created_at\":\"2026-07-01T00:00:00Z\",\"api_key\":\"key-123\"}]}",
    "{\"id\":\"signed-2\",\"name\":\"svc\",\"secret_type\":\"service_credentials\","
    "\"credentials\":{\"apikey\":\"abc\",\"iam_apikey_name\":\"n\"},"
    "\"source_service\":{\"instance\":{\"crn\":\"crn:v1:x\"}}}",
};

const char *const AES[2] = {
    "{\"id\":\"aes-1\",\"name\":\"ca\",\"secret_type\":\"private_cert\",\"certificate\":\"cert\","
    "\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"],\"serial_number\":\"01\","
    "\"versions\":[{\"id\":\"aes-1-v1\",\"created_at\":\"2026-08-01T00:00:00Z\","
    "\"certificate\":\"cert\",\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"]}]"
    "}",
    "{\"id\":\"aes-2\",\"name\":\"custom\",\"secret_type\":\"custom_credentials\","
    "\"credentials_content\":{\"token\":\"t\"},\"configuration\":\"cfg\"}",
};

const char DOCUMENT[] =
    "{\"instance\":{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/0123:4567::\","
    "\"name\":\"vectors\"},\"exported_at\":\"2026-11-20T02:00:00Z\",\"secret_groups\":["
    "{\"id\":\"default\",\"name\":\"default\"},{\"id\":\"1b2c3d4e-group\",\"name\":\"databases\"}]"
    "}";

void pattern(sb *b, const char *unit, size_t n)
{
    size_t u = strlen(unit);
    for (size_t i = 0; i < n; i++)
        sb_add(b, unit + i % u, 1);
}

void make_archive(mem_archive *out, smar_keyring **keys, size_t nkeys, const smar_signkey *signer,
                  int suite, uint32_t chunk_size, const char *const *secrets, size_t n,
                  const char *doc)
{
    smar_writer *w;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = SNAPSHOT;
    o.created_time = CREATED;
    o.suite = suite;
    o.chunk_size = chunk_size;
    memset(out, 0, sizeof *out);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    for (size_t k = 0; k < nkeys; k++)
        assert_int_equal(smar_writer_add_key(w, keys[k]), SMAR_OK);
    if (signer)
        assert_int_equal(smar_writer_set_signer(w, signer), SMAR_OK);
    assert_int_equal(smar_writer_open_cb(w, &o, fx_mem_write, out), SMAR_OK);
    for (size_t i = 0; i < n; i++)
        if (smar_writer_add_secret(w, secrets[i], strlen(secrets[i])) != SMAR_OK)
            fail_msg("secret %zu: %s", i, smar_writer_error(w));
    if (doc)
        assert_int_equal(smar_writer_set_document(w, doc, strlen(doc)), SMAR_OK);
    if (smar_writer_finish(w) != SMAR_OK)
        fail_msg("finish: %s", smar_writer_error(w));
    smar_writer_free(w);
}

void save_keyring(smar_keyring *kr, const char *file)
{
    char *path = vpath(file);
    if (smar_keyring_save(kr, path, NULL, SMAR_SAVE_OVERWRITE) != SMAR_OK)
        fail_msg("%s: %s", file, smar_keyring_error(kr));
    free(path);
}
