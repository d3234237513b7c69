/*
 * test_vectors_v2.c - the format 2 test vectors of spec/vectors/v2 (see
 * spec/vectors/README.md; format 1's are checked by test_vectors.c).
 *
 * SMAR_WRITE_VECTORS=1 ./test_vectors_v2   (re)generates every file of spec/vectors/v2 with
 * the writer API (random DEKs, archive ids and keys: the files are generated once and
 * committed) and builds the damaged and forged variants at the format level, then checks
 * them like the normal run does.
 *
 * The normal run (ctest) checks the committed files three ways:
 *  1. through the library's public API: the clear information (key slots included),
 *     unlocking with every key that should open each archive, every secret rendered with its
 *     payloads, lookups by id and by name, keyless and keyed verification - byte for byte
 *     against <archive>.info.txt and <archive>.secrets.jsonl (or .secrets.sha256);
 *  2. through an independent reader written from spec/FORMAT.md alone (vectors_sr2.c), which
 *     must render the same bytes and reproduce <archive>.internals.txt;
 *  3. every negative vector fails with its documented status at its documented stage, and
 *     the independent reader rejects it at the same stage.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "archive_fixture.h"
#include "smar.h"
#include "testutil.h"
#include "vectors_sr2.h"

static bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* ---- files --------------------------------------------------------------------------- */

static bool g_write; /* SMAR_WRITE_VECTORS=1 */
static char *g_tmp;  /* private copies of the key files (mode 0600) */

static char *vpath(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "spec/vectors/v2/%s", name);
    return tu_source_path(rel);
}

static uint8_t *vread(const char *name, size_t *n)
{
    char *path = vpath(name);
    uint8_t *d = (uint8_t *)tu_read_file(path, n);
    if (d == NULL)
        fail_msg("cannot read %s (regenerate with SMAR_WRITE_VECTORS=1)", path);
    free(path);
    return d;
}

static void vwrite(const char *name, const void *p, size_t n)
{
    char *path = vpath(name);
    if (tu_write_file(path, p, n) != 0)
        fail_msg("cannot write %s", path);
    free(path);
}

/* Compare generated text with a committed file (or write it in generation mode). */
static void vexpect(const char *name, const sb *got)
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

static char *key_text(const char *file)
{
    size_t n;
    return (char *)vread(file, &n);
}

/* ==== through the library ============================================================== */

#define NKEYS 9
static const char *const KEY_FILES[NKEYS] = {
    "keyring-a.json", "keyring-a-v1.json",    "keyring-a-v2.json",
    "keyring-b.json", "keyring-a-wrong.json", "keyring-other.json",
    "recipient.key",  "recipient.key.pub",    NULL};
static smar_keyring *g_keys[NKEYS];

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A keyring, an x25519 identity (*.key) or a recipient (*.key.pub), loaded once. */
static smar_keyring *keyring(const char *file)
{
    for (int i = 0; i < NKEYS && KEY_FILES[i]; i++) {
        if (strcmp(KEY_FILES[i], file) != 0)
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

static void load_pk(const char *file, uint8_t pk[32])
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

typedef struct rendered {
    sb text;
    char **ids, **names;
    size_t n;
} rendered;

static int render_cb(smar_reader *r, const smar_secret *s, void *p)
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

static void rendered_free(rendered *rd)
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

static void describe_slots(smar_reader *r, size_t n, sb *o)
{
    for (size_t i = 0; i < n; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        assert_int_equal(smar_reader_slot(r, i, &si), SMAR_OK);
        sb_printf(o, "key_slot %zu: provider %s (%u), flags %u, key_id %s, version_kind %d", i,
                  si.provider, si.provider_id, si.flags, si.key_id, si.version_kind);
        if (si.version_kind == 1)
            sb_printf(o, ", key_version %u", si.key_version);
        if (si.version_kind == 2)
            sb_printf(o, ", version %s", si.version_string);
        sb_str(o, "\n");
    }
}

static void describe_clear(smar_reader *r, const char *file, sb *o)
{
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
    describe_slots(r, in.slot_count, o);
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
                  SR2_SECTION_NAME[s], in.section_chunks[s], in.section_bytes[s]);
}

/* The clear information, verification results and snapshot of an archive, as text; the
 * renderings of its secrets into rd. */
static void lib_describe(const char *file, const char *key_file, const uint8_t *pk, sb *o,
                         rendered *rd)
{
    smar_reader *r;
    smar_verify_result vr = SMAR_VERIFY_RESULT_INIT;
    char *path = vpath(file);
    assert_int_equal(smar_reader_new(&r), SMAR_OK);
    if (smar_reader_open(r, path) != SMAR_OK)
        fail_msg("%s: %s", file, smar_reader_error(r));
    free(path);
    describe_clear(r, file, o);
    if (smar_reader_verify(r, 0, pk, &vr, NULL, NULL, NULL) != SMAR_OK)
        fail_msg("%s: keyless verify: %s", file, smar_reader_error(r));
    sb_printf(o,
              "keyless_verify%s: ok, root_ok %d, signature %d, chunks %" PRIu64 ", bytes %" PRIu64
              "\n",
              pk ? " (with signer.pub.json)" : "", vr.root_ok, vr.signature, vr.chunks_checked,
              vr.bytes_checked);
    if (pk && smar_reader_check_signer(r, pk, 1) != SMAR_OK)
        fail_msg("%s: pinned signer: %s", file, smar_reader_error(r));

    smar_keyring *kr = keyring(key_file);
    if (smar_reader_unlock(r, &kr, 1) != SMAR_OK)
        fail_msg("%s: unlock with %s: %s", file, key_file, smar_reader_error(r));
    sb_printf(o, "unlocked_with: %s, by_public_key %d\n", key_file,
              smar_reader_unlocked_by_public_key(r));
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
    smar_reader_free(r);
}

/* Hashes instead of text, for archives whose secrets are too large to commit as text. */
static void sha256_lines(const sb *text, const rendered *rd, sb *o)
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

/* ==== the positive vectors ============================================================== */

typedef struct vector {
    const char *file;
    const char *keys[3]; /* each opens it; the first is used for the description */
    const char *pubkey;  /* signer's public key file, when signed */
    bool hashed;         /* secrets as .secrets.sha256 instead of .secrets.jsonl */
    bool aes;
} vector;

static const vector VECTORS[] = {
    {"v2-basic.smar", {"keyring-a.json", "keyring-a-v2.json", NULL}, NULL, false, false},
    {"v2-two-slots.smar", {"keyring-a.json", "keyring-b.json", NULL}, NULL, false, false},
    {"v2-signed.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    {"v2-empty.smar", {"keyring-b.json", NULL, NULL}, NULL, false, false},
    {"v2-aes.smar", {"keyring-b.json", NULL, NULL}, NULL, false, true},
    {"v2-multi.smar", {"keyring-a.json", NULL, NULL}, NULL, true, false},
    {"v2-recipient.smar",
     {"recipient.key", "keyring-b.json", NULL},
     "signer.pub.json",
     false,
     false},
    {"v2-rewrapped.smar", {"keyring-a.json", NULL, NULL}, "signer.pub.json", false, false},
    /* an unknown provider's slot is skipped: the archive opens with its other slot */
    {"neg2-unknown-provider.smar", {"keyring-a.json", NULL, NULL}, NULL, false, false},
};

static void base_name(char *out, size_t cap, const char *file, const char *suffix)
{
    size_t n = strlen(file) - strlen(".smar");
    snprintf(out, cap, "%.*s%s", (int)n, file, suffix);
}

/* Without AES-NI a suite 2 vector is checked only as far as no decryption goes. */
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

/* The independent reader must reach the same renderings with every key listed, and the
 * recorded intermediate values with the first. */
static void check_independent(const vector *v, const uint8_t *pk, const rendered *rd)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    for (int k = 0; k < 3 && v->keys[k]; k++) {
        char *kt = key_text(v->keys[k]);
        sb spec = {0};
        sr2 r;
        if (sr2_open(&r, d, n) || sr2_keyless(&r, pk) || sr2_unlock(&r, kt) || sr2_read(&r, &spec))
            fail_msg("%s with %s: independent reader: %s", v->file, v->keys[k], r.why);
        assert_true(same_bytes(spec.p, spec.n, rd->text.p, rd->text.n));
        if (k == 0) {
            char name[128];
            sb internals = {0};
            sr2_internals(&r, v->file, &internals);
            base_name(name, sizeof name, v->file, ".internals.txt");
            vexpect(name, &internals);
            sb_free(&internals);
        }
        sr2_free(&r);
        sb_free(&spec);
        free(kt);
    }
    free(d);
}

static void check_vector(const vector *v)
{
    char name[128];
    uint8_t pk[32];
    sb info = {0}, out = {0};
    rendered rd = {{0}, NULL, NULL, 0};
    if (v->pubkey)
        load_pk(v->pubkey, pk);
    if (v->aes && !crypto_aead_aes256gcm_is_available()) {
        check_without_aes(v);
        return;
    }
    lib_describe(v->file, v->keys[0], v->pubkey ? pk : NULL, &info, &rd);
    base_name(name, sizeof name, v->file, ".info.txt");
    vexpect(name, &info);
    if (v->hashed) {
        sha256_lines(&rd.text, &rd, &out);
        base_name(name, sizeof name, v->file, ".secrets.sha256");
    } else {
        sb_add(&out, rd.text.p, rd.text.n);
        base_name(name, sizeof name, v->file, ".secrets.jsonl");
    }
    vexpect(name, &out);
    check_other_keys(v, &rd);
    check_independent(v, v->pubkey ? pk : NULL, &rd);
    sb_free(&info);
    sb_free(&out);
    rendered_free(&rd);
}

static void test_positive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++)
        check_vector(&VECTORS[i]);
}

/* ==== the negative vectors ============================================================= */

#define NA 99 /* stage not run: an earlier one fails */

typedef struct negative {
    const char *file, *key, *pubkey;
    int open, keyless, unlock, read, keyed;
} negative;

/* Kept in step with the table in spec/vectors/README.md. */
static const negative NEGATIVES[] = {
    {"neg2-resigned.smar", "keyring-a.json", "signer.pub.json", SMAR_OK, SMAR_E_AUTH, SMAR_OK,
     SMAR_OK, SMAR_OK},
    {"neg2-signer-swapped.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-slot-altered.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-bitflip-slot.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_E_CORRUPT, SMAR_E_CORRUPT, NA,
     NA},
    {"neg2-dek-commit.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"neg2-unknown-provider.smar", "keyring-a.json", NULL, SMAR_OK, SMAR_OK, SMAR_OK, SMAR_OK,
     SMAR_OK},
    {"neg2-truncated.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg2-extended.smar", "keyring-a.json", NULL, SMAR_E_CORRUPT, NA, NA, NA, NA},
    {"neg2-version3.smar", "keyring-a.json", NULL, SMAR_E_VERSION, NA, NA, NA, NA},
    {"neg2-aes-over-cap.smar", "keyring-b.json", NULL, SMAR_E_LIMIT, NA, NA, NA, NA},
    {"v2-basic.smar", "keyring-a-wrong.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_AUTH, NA, NA},
    {"v2-basic.smar", "keyring-other.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-two-slots.smar", "keyring-a-v1.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-rewrapped.smar", "keyring-a-v2.json", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
    {"v2-signed.smar", "keyring-a.json", "other-signer.pub.json", SMAR_OK, SMAR_E_AUTH, SMAR_OK,
     SMAR_OK, SMAR_OK},
    {"v2-recipient.smar", "recipient.key.pub", NULL, SMAR_OK, SMAR_OK, SMAR_E_KEY, NA, NA},
};

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

static int open_file(smar_reader **r, const char *file)
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

static int spec_stage(const negative *v, int stage, const uint8_t *pk)
{
    size_t n;
    uint8_t *d = vread(v->file, &n);
    char *kt = key_text(v->key);
    sb out = {0};
    sr2 r;
    int rc = sr2_open(&r, d, n);
    if (rc == 0 && stage == 1)
        rc = sr2_keyless(&r, pk);
    if (rc == 0 && stage >= 2)
        rc = sr2_unlock(&r, kt);
    if (rc == 0 && stage >= 3)
        rc = sr2_read(&r, &out);
    sr2_free(&r);
    sb_free(&out);
    free(kt);
    free(d);
    return rc;
}

static void test_negative(void **state)
{
    static const char *const stage_name[5] = {"open", "keyless verify", "unlock",
                                              "read every secret", "keyed verify"};
    (void)state;
    for (size_t i = 0; i < sizeof NEGATIVES / sizeof NEGATIVES[0]; i++) {
        const negative *v = &NEGATIVES[i];
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

/* ==== properties the tables do not show ================================================== */

/* A pinned reader refuses the re-signed archive before any key is used; v2-signed and its
 * rewrapped copy pass; the recipient archive opened through its x25519 slot says so. */
static void test_pinning(void **state)
{
    uint8_t pk[32];
    smar_reader *r;
    (void)state;
    load_pk("signer.pub.json", pk);
    assert_int_equal(open_file(&r, "neg2-resigned.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_E_AUTH);
    assert_non_null(strstr(smar_reader_error(r), "not signed by a trusted producer"));
    smar_reader_free(r);
    assert_int_equal(open_file(&r, "neg2-signer-swapped.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_E_AUTH);
    smar_reader_free(r);
    assert_int_equal(open_file(&r, "v2-rewrapped.smar"), SMAR_OK);
    assert_int_equal(smar_reader_check_signer(r, pk, 1), SMAR_OK);
    smar_reader_free(r);
    smar_keyring *id = keyring("recipient.key");
    assert_int_equal(open_file(&r, "v2-recipient.smar"), SMAR_OK);
    assert_int_equal(smar_reader_unlock(r, &id, 1), SMAR_OK);
    assert_int_equal(smar_reader_unlocked_by_public_key(r), 1);
    smar_reader_free(r);
}

/* A rewrap changes only the slot area and the trailer's slot area length, root MAC and root
 * hash: header, chunks and table are the same bytes, and so is the signature (§14.2). */
static void test_rewrapped_keeps_content(void **state)
{
    size_t n1, n2;
    (void)state;
    uint8_t *a = vread("v2-signed.smar", &n1), *b = vread("v2-rewrapped.smar", &n2);
    sr2 ra, rb;
    assert_int_equal(sr2_open(&ra, a, n1), 0);
    assert_int_equal(sr2_open(&rb, b, n2), 0);
    size_t kept = ra.table_offset + (size_t)ra.count * 48;
    assert_true(rb.table_offset + (size_t)rb.count * 48 == kept && memcmp(a, b, kept) == 0);
    assert_memory_equal(ra.trailer, rb.trailer, 36);
    assert_memory_equal(ra.trailer + 104, rb.trailer + 104, 112); /* signer .. tail magic */
    assert_true(rb.slot[0].version_kind == 1 && rb.slot[0].version == 3);
    assert_true(ra.slot[0].version == 2);
    sr2_free(&ra);
    sr2_free(&rb);
    free(a);
    free(b);
}

/* The unknown provider's slot is listed, not used. */
static void test_unknown_provider_listed(void **state)
{
    smar_reader *r;
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    (void)state;
    assert_int_equal(open_file(&r, "neg2-unknown-provider.smar"), SMAR_OK);
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_int_equal(si.provider_id, 200);
    assert_string_equal(si.provider, "unknown");
    assert_int_equal(strlen(si.key_id), 255);
    smar_reader_free(r);
}

/* The KDF of the spec (BLAKE2b salt/personal) is libsodium's crypto_kdf_derive_from_key. */
static void test_kdf(void **state)
{
    uint8_t dek[32], a[32], b[32], salt[16] = {0}, personal[16] = {0};
    (void)state;
    for (int i = 0; i < 32; i++)
        dek[i] = (uint8_t)i;
    memcpy(personal, "smar-v2\0", 8);
    for (uint64_t id = 2; id <= 5; id++) {
        put64(salt, id);
        crypto_kdf_derive_from_key(a, 32, id, "smar-v2\0", dek);
        crypto_generichash_blake2b_salt_personal(b, 32, NULL, 0, dek, 32, salt, personal);
        assert_memory_equal(a, b, 32);
    }
}

/* ==== generation ======================================================================= */

static const char *const BASIC[] = {
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

static const char *const TWO_SLOTS[] = {
    "{\"id\":\"two-slots-1\",\"name\":\"shared\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"opened by a or b\",\"versions\":[{\"id\":\"two-slots-1-v1\","
    "\"created_at\":\"2026-06-01T00:00:00Z\",\"payload\":\"opened by a or b\"}]}",
    "{\"id\":\"two-slots-2\",\"name\":\"tls\",\"secret_type\":\"public_cert\","
    "\"common_name\":\"example.com\",\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n"
    "-----END CERTIFICATE-----\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n"
    "-----END PRIVATE KEY-----\",\"intermediate\":\"\",\"created_at\":\"2026-06-02T00:00:00Z\"}",
};

static const char *const SIGNED[] = {
    "{\"id\":\"signed-1\",\"name\":\"api\",\"secret_type\":\"iam_credentials\","
    "\"api_key\":\"key-123\",\"service_id\":\"ServiceId-1\",\"ttl\":\"1d\",\"versions\":[{"
    "\"id\":\"signed-1-v1\",\"created_at\":\"2026-07-01T00:00:00Z\",\"api_key\":\"key-123\"}]}",
    "{\"id\":\"signed-2\",\"name\":\"svc\",\"secret_type\":\"service_credentials\","
    "\"credentials\":{\"apikey\":\"abc\",\"iam_apikey_name\":\"n\"},"
    "\"source_service\":{\"instance\":{\"crn\":\"crn:v1:x\"}}}",
};

static const char *const AES[] = {
    "{\"id\":\"aes-1\",\"name\":\"ca\",\"secret_type\":\"private_cert\",\"certificate\":\"cert\","
    "\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"],\"serial_number\":\"01\","
    "\"versions\":[{\"id\":\"aes-1-v1\",\"created_at\":\"2026-08-01T00:00:00Z\","
    "\"certificate\":\"cert\",\"private_key\":\"key\",\"issuing_ca\":\"ca\",\"ca_chain\":[\"ca\"]}]"
    "}",
    "{\"id\":\"aes-2\",\"name\":\"custom\",\"secret_type\":\"custom_credentials\","
    "\"credentials_content\":{\"token\":\"t\"},\"configuration\":\"cfg\"}",
};

static const char DOCUMENT[] =
    "{\"instance\":{\"crn\":\"crn:v1:bluemix:public:secrets-manager:us-south:a/0123:4567::\","
    "\"name\":\"vectors\"},\"exported_at\":\"2026-11-20T02:00:00Z\",\"secret_groups\":["
    "{\"id\":\"default\",\"name\":\"default\"},{\"id\":\"1b2c3d4e-group\",\"name\":\"databases\"}]"
    "}";

#define SNAPSHOT 1795140000000000000LL /* 2026-11-20T02:00:00Z */
#define CREATED  1795140005000000000LL /* five seconds later */

static void pattern(sb *b, const char *unit, size_t n)
{
    size_t u = strlen(unit);
    for (size_t i = 0; i < n; i++)
        sb_add(b, unit + i % u, 1);
}

/* Text zstd cannot shrink much (xorshift64 from seed, letters, digits, '+' and '/'): each
 * payload record is compressed alone, so only such text makes records span chunks. */
static void noise(sb *b, uint64_t seed, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sb_add(b, &alphabet[x & 63], 1);
    }
}

/* v2-multi: 64 KiB chunks; payloads and a record spanning chunks (README describes them). */
static void multi_secrets(sb s[3])
{
    sb_str(&s[0],
           "{\"id\":\"multi-1\",\"name\":\"big\",\"secret_type\":\"arbitrary\",\"payload\":\"");
    noise(&s[0], 1, 180000);
    sb_str(&s[0], "\",\"versions\":[{\"id\":\"multi-1-v1\",\"created_at\":\"2026-09-01T00:00:00Z\","
                  "\"payload\":\"");
    noise(&s[0], 2, 40000);
    sb_str(&s[0],
           "\"},{\"id\":\"multi-1-v2\",\"created_at\":\"2026-10-01T00:00:00Z\",\"payload\":\"");
    noise(&s[0], 1, 180000);
    sb_str(&s[0], "\"}]}");
    sb_str(&s[1], "{\"id\":\"multi-2\",\"name\":\"long-description\",\"secret_type\":\"arbitrary\","
                  "\"description\":\"");
    pattern(&s[1], "lorem ipsum dolor sit amet ", 70000);
    sb_str(&s[1], "\",\"payload\":\"short\"}");
    sb_str(&s[2], "{\"id\":\"multi-3\",\"name\":\"big\",\"secret_type\":\"username_password\","
                  "\"username\":\"u\",\"password\":\"p\"}");
}

static const char *const RECIPIENT[] = {
    "{\"id\":\"recipient-1\",\"name\":\"dr\",\"secret_type\":\"arbitrary\","
    "\"payload\":\"opened by the identity or by b\",\"versions\":[{\"id\":\"recipient-1-v1\","
    "\"created_at\":\"2026-10-10T00:00:00Z\",\"payload\":\"opened by the identity or by b\"}]}",
};

static void make_archive(mem_archive *out, smar_keyring **keys, size_t nkeys,
                         const smar_signkey *signer, int suite, uint32_t chunk_size,
                         const char *const *secrets, size_t n, const char *doc)
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

/* An archive taken apart at the format level (§3) and put back together the way an
 * attacker without a key would: fresh offsets, chunk hashes and root hash; the root MAC and
 * the signature are kept, or recomputed when their keys are given. */
typedef struct parts {
    sb header, slots;
    uint8_t trailer[SR2_TRAILER];
    size_t n;
    sb *chunk;
    uint8_t *section, *flags;
} parts;

static void parts_split(parts *p, const uint8_t *d, size_t n)
{
    sr2 r;
    memset(p, 0, sizeof *p);
    if (sr2_open(&r, d, n))
        fail_msg("parts_split: %s", r.why);
    sb_add(&p->header, r.header, r.hlen);
    sb_add(&p->slots, r.slots, r.slot_area_len);
    memcpy(p->trailer, r.trailer, SR2_TRAILER);
    p->n = r.count;
    p->chunk = calloc(r.count, sizeof *p->chunk);
    p->section = calloc(r.count, 1);
    p->flags = calloc(r.count, 1);
    for (uint32_t i = 0; i < r.count; i++) {
        sb_add(&p->chunk[i], r.c[i].bytes, r.c[i].len);
        p->section[i] = r.c[i].section;
        p->flags[i] = r.c[i].flags;
    }
    sr2_free(&r);
}

static void parts_free(parts *p)
{
    sb_free(&p->header);
    sb_free(&p->slots);
    for (size_t i = 0; i < p->n; i++)
        sb_free(&p->chunk[i]);
    free(p->chunk);
    free(p->section);
    free(p->flags);
}

/* The file, the trailer's positions, root hash and (when their keys are given) signature
 * and root MAC updated in p. sign_sk: re-sign (the trailer's signer field must hold its
 * public key); mac_key: the root-MAC subkey, to recompute the root MAC as a DEK holder would. */
static void parts_join(parts *p, const uint8_t *sign_sk, const uint8_t *mac_key, sb *out)
{
    sb table = {0};
    uint8_t *tr = p->trailer, content[32], msg[64];
    memset(out, 0, sizeof *out);
    sb_add(out, p->header.p, p->header.n);
    for (size_t i = 0; i < p->n; i++) {
        uint8_t e[48] = {0};
        put64(e, out->n);
        put32(e + 8, (uint32_t)p->chunk[i].n);
        e[12] = p->section[i];
        e[13] = p->flags[i];
        crypto_generichash(e + 16, 32, p->chunk[i].p, p->chunk[i].n, NULL, 0);
        sb_add(&table, e, sizeof e);
        sb_add(out, p->chunk[i].p, p->chunk[i].n);
    }
    put64(tr, out->n);
    put32(tr + 8, (uint32_t)p->n);
    put32(tr + 36, (uint32_t)p->slots.n);
    sr2_content(tr, p->header.p, p->header.n, table.p, table.n, content);
    if (sign_sk) {
        sr2_sign_message(tr + 16, content, msg);
        crypto_sign_detached(tr + 136, NULL, msg, sizeof msg, sign_sk);
    }
    if (mac_key)
        sr2_root_mac(mac_key, content, tr, p->slots.p, p->slots.n, tr + 72);
    sr2_root_hash(content, tr, p->slots.p, p->slots.n, tr + 40);
    sb_add(out, table.p, table.n);
    sb_add(out, p->slots.p, p->slots.n);
    sb_add(out, tr, SR2_TRAILER);
    sb_free(&table);
}

static void save_parts(const char *file, parts *p, const uint8_t *sign_sk, const uint8_t *mac_key)
{
    sb out;
    parts_join(p, sign_sk, mac_key, &out);
    vwrite(file, out.p, out.n);
    sb_free(&out);
}

/* The DEK and root-MAC subkey of an archive, through the independent reader. */
static void archive_keys(const mem_archive *a, const char *key_file, uint8_t dek[32],
                         uint8_t mac_key[32])
{
    sr2 r;
    char *kt = key_text(key_file);
    if (sr2_open(&r, a->data, a->len) || sr2_unlock(&r, kt))
        fail_msg("archive_keys: %s", r.why);
    memcpy(dek, r.dek, 32);
    memcpy(mac_key, r.sub[3], 32);
    sr2_free(&r);
    free(kt);
}

/* A local slot (§5.2) appended to a slot area: the DEK wrapped with the keyring file's
 * key version, bound to archive_id. */
static void add_local_slot(sb *area, const char *key_file, const char *kid, uint32_t version,
                           const uint8_t dek[32], const uint8_t archive_id[16])
{
    uint8_t key[32], aad[600], wrapped[72];
    sb prefix = {0};
    char *kt = key_text(key_file);
    uint8_t head[3] = {1, 0, (uint8_t)strlen(kid)}, kind = 1, v[4], wlen[4];
    assert_true(sr2_keyring_key(kt, kid, strlen(kid), version, key));
    free(kt);
    put32(v, version);
    sb_add(&prefix, head, 3);
    sb_str(&prefix, kid);
    sb_add(&prefix, &kind, 1);
    sb_add(&prefix, v, 4);
    sr2_slot s = {.start = prefix.p, .aad_tail = prefix.n};
    size_t alen = sr2_slot_aad(archive_id, &s, aad);
    randombytes_buf(wrapped, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + 24, NULL, dek, 32, aad, alen, NULL,
                                               wrapped, key);
    sodium_memzero(key, sizeof key);
    put32(wlen, sizeof wrapped);
    sb_add(area, prefix.p, prefix.n);
    sb_add(area, wlen, 4);
    sb_add(area, wrapped, sizeof wrapped);
    sb_free(&prefix);
}

static void area_header(sb *area, uint16_t count)
{
    uint8_t h[4] = {0};
    put16(h, count);
    memset(area, 0, sizeof *area);
    sb_add(area, h, 4);
}

/* The slot of provider 200 of neg2-unknown-provider: a 255-byte UTF-8 key id, a 1120-byte
 * blob, version kind 2 (a string). */
static void add_unknown_slot(sb *area)
{
    uint8_t head[3] = {200, 0, 255}, kind = 2, vlen = 4, wlen[4], blob[1120];
    sb kid = {0};
    sb_str(&kid, "provider-200-");
    while (kid.n + 3 <= 253)
        sb_str(&kid, "\xe7\xa7\x98"); /* U+79D8 */
    sb_str(&kid, "-k");
    assert_int_equal(kid.n, 255);
    sb_add(area, head, 3);
    sb_add(area, kid.p, kid.n);
    sb_add(area, &kind, 1);
    sb_add(area, &vlen, 1);
    sb_str(area, "v-42");
    put32(wlen, sizeof blob);
    randombytes_buf(blob, sizeof blob);
    sb_add(area, wlen, 4);
    sb_add(area, blob, sizeof blob);
    sb_free(&kid);
}

static void save_keyring(smar_keyring *kr, const char *file)
{
    char *path = vpath(file);
    if (smar_keyring_save(kr, path, NULL, SMAR_SAVE_OVERWRITE) != SMAR_OK)
        fail_msg("%s: %s", file, smar_keyring_error(kr));
    free(path);
}

static smar_keyring *new_keyring(const char *kid, int rotations)
{
    smar_keyring *kr;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_generate(kr, kid), SMAR_OK);
    for (int i = 0; i < rotations; i++)
        assert_int_equal(smar_keyring_rotate(kr), SMAR_OK);
    return kr;
}

/* The recipient's identity and recipient files; the producer wraps with the recipient
 * file alone. */
static smar_keyring *make_recipient(void)
{
    smar_keyring *id, *rcpt;
    char *idp = vpath("recipient.key"), *pubp = vpath("recipient.key.pub");
    assert_int_equal(smar_keyring_new(&id), SMAR_OK);
    assert_int_equal(smar_keyring_generate_identity(id, "vectors-recipient"), SMAR_OK);
    assert_int_equal(smar_keyring_save_identity(id, idp, NULL, SMAR_SAVE_OVERWRITE), SMAR_OK);
    assert_int_equal(smar_keyring_save_recipient(id, pubp, SMAR_SAVE_OVERWRITE), SMAR_OK);
    smar_keyring_free(id);
    assert_int_equal(smar_keyring_new(&rcpt), SMAR_OK);
    assert_int_equal(smar_keyring_load_recipient(rcpt, pubp), SMAR_OK);
    free(idp);
    free(pubp);
    return rcpt;
}

/* other-signer: made with libsodium so that the generator can re-sign with it; its public
 * key file is written in the format of smar_signkey_save_public (KEYRING.md). */
static void make_stranger(uint8_t sk[64])
{
    uint8_t pk[32];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sb f = {0};
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    sb_printf(&f,
              "{\n  \"type\": \"smar-signing-public-key\",\n  \"format\": 1,\n"
              "  \"public_key\": \"%s\"\n}\n",
              b64);
    vwrite("other-signer.pub.json", f.p, f.n);
    sb_free(&f);
}

typedef struct made {
    mem_archive basic, signed_archive, aes;
} made;

static void generate_positive(made *m, smar_keyring *a, smar_keyring *b, smar_keyring *rcpt,
                              smar_signkey *signer)
{
    mem_archive x;
    smar_keyring *ab[2] = {a, b}, *rb[2] = {rcpt, b};
    make_archive(&m->basic, ab, 1, NULL, 0, 0, BASIC, 5, DOCUMENT);
    vwrite("v2-basic.smar", m->basic.data, m->basic.len);
    make_archive(&x, ab, 2, NULL, 0, 0, TWO_SLOTS, 2, DOCUMENT);
    vwrite("v2-two-slots.smar", x.data, x.len);
    free(x.data);
    make_archive(&m->signed_archive, ab, 1, signer, 0, 0, SIGNED, 2, DOCUMENT);
    vwrite("v2-signed.smar", m->signed_archive.data, m->signed_archive.len);
    make_archive(&x, &b, 1, NULL, 0, 0, NULL, 0, NULL);
    vwrite("v2-empty.smar", x.data, x.len);
    free(x.data);
    if (crypto_aead_aes256gcm_is_available()) {
        make_archive(&m->aes, &b, 1, NULL, SMAR_SUITE_AES256GCM, 0, AES, 2, DOCUMENT);
        vwrite("v2-aes.smar", m->aes.data, m->aes.len);
    } else {
        fail_msg("AES-256-GCM unavailable: generate the vectors on a host that has it");
    }
    sb ms[3] = {{0}, {0}, {0}};
    multi_secrets(ms);
    const char *mtext[3] = {(const char *)ms[0].p, (const char *)ms[1].p, (const char *)ms[2].p};
    make_archive(&x, ab, 1, NULL, 0, 64u << 10, mtext, 3, DOCUMENT);
    vwrite("v2-multi.smar", x.data, x.len);
    free(x.data);
    for (int i = 0; i < 3; i++)
        sb_free(&ms[i]);
    make_archive(&x, rb, 2, signer, 0, 0, RECIPIENT, 1, DOCUMENT);
    vwrite("v2-recipient.smar", x.data, x.len);
    free(x.data);
}

/* v2-rewrapped: v2-signed's slot rewrapped to keyring-a's current version 3 by smar_rewrap
 * (§14.2): header, chunks, table and signature kept; new slot area, root MAC, root hash. */
static void generate_rewrapped(const mem_archive *signed_archive, smar_keyring *a)
{
    smar_reader *r;
    smar_file_sink *fs;
    smar_sink sink;
    smar_rewrap_options o = SMAR_REWRAP_OPTIONS_INIT;
    smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
    smar_file_sink_options fo = SMAR_FILE_SINK_OPTIONS_INIT;
    char *path = vpath("v2-rewrapped.smar");
    o.rewrap_keys = &a;
    o.rewrap_count = 1;
    assert_int_equal(fx_open_mem(&r, signed_archive->data, signed_archive->len), SMAR_OK);
    assert_int_equal(smar_file_sink_new(&fs), SMAR_OK);
    fo.flags = SMAR_FILE_SINK_REPLACE;
    fo.mode = 0644;
    assert_int_equal(smar_file_sink_open(fs, path, &fo), SMAR_OK);
    smar_file_sink_as_sink(fs, &sink);
    if (smar_rewrap(r, &a, 1, &o, &sink, &res) != SMAR_OK)
        fail_msg("rewrap: %s", smar_reader_error(r));
    assert_int_equal(res.rewrapped, 1);
    smar_file_sink_free(fs);
    smar_reader_free(r);
    free(path);
}

/* Slot forgeries on v2-basic. */
static void generate_slot_negatives(const mem_archive *basic)
{
    parts p;
    uint8_t dek[32], mac_key[32], other[32];
    sr2 r;
    archive_keys(basic, "keyring-a.json", dek, mac_key);
    assert_int_equal(sr2_open(&r, basic->data, basic->len), 0);
    size_t wrapped_at = (size_t)(r.slot[0].wrapped - r.slots);
    size_t slots_at = (size_t)(r.slots - basic->data);
    sr2_free(&r);

    /* a byte of the wrapped DEK changed, root hash recomputed (no key needed) */
    parts_split(&p, basic->data, basic->len);
    p.slots.p[wrapped_at + 40] ^= 0xff;
    save_parts("neg2-slot-altered.smar", &p, NULL, NULL);
    parts_free(&p);

    /* one bit flipped, nothing recomputed */
    sb d = {0};
    sb_add(&d, basic->data, basic->len);
    d.p[slots_at + wrapped_at + 30] ^= 0x01;
    vwrite("neg2-bitflip-slot.smar", d.p, d.n);
    sb_free(&d);

    /* a slot wrapping another DEK, with the root MAC that DEK gives: only dek_commit stops it */
    parts_split(&p, basic->data, basic->len);
    sb_free(&p.slots);
    area_header(&p.slots, 1);
    randombytes_buf(other, sizeof other);
    add_local_slot(&p.slots, "keyring-a.json", "rk-vectors-a", 2, other, p.trailer + 16);
    uint8_t other_mac_key[32];
    crypto_kdf_derive_from_key(other_mac_key, 32, 3, "smar-v2\0", other);
    save_parts("neg2-dek-commit.smar", &p, NULL, other_mac_key);
    parts_free(&p);

    /* an extra slot of an unknown provider first, the archive's own slot kept byte for byte */
    parts_split(&p, basic->data, basic->len);
    sb own = p.slots;
    area_header(&p.slots, 2);
    add_unknown_slot(&p.slots);
    sb_add(&p.slots, own.p + 4, own.n - 4);
    sb_free(&own);
    save_parts("neg2-unknown-provider.smar", &p, NULL, mac_key);
    parts_free(&p);
    sodium_memzero(dek, sizeof dek);
}

/* Signer forgeries on v2-signed. */
static void generate_signer_negatives(const mem_archive *signed_archive, const uint8_t sk[64])
{
    parts p;
    uint8_t dek[32], mac_key[32];
    archive_keys(signed_archive, "keyring-a.json", dek, mac_key);
    sodium_memzero(dek, sizeof dek);
    /* re-signed by other-signer, root MAC recomputed by a DEK holder */
    parts_split(&p, signed_archive->data, signed_archive->len);
    crypto_sign_ed25519_sk_to_pk(p.trailer + 104, sk);
    save_parts("neg2-resigned.smar", &p, sk, mac_key);
    parts_free(&p);
    /* the same without the DEK: the root MAC still covers the first signer */
    parts_split(&p, signed_archive->data, signed_archive->len);
    crypto_sign_ed25519_sk_to_pk(p.trailer + 104, sk);
    save_parts("neg2-signer-swapped.smar", &p, sk, NULL);
    parts_free(&p);
}

/* Damage and versions on v2-basic; the AES-256-GCM cap on v2-aes's header. */
static void generate_file_negatives(const mem_archive *basic, const mem_archive *aes)
{
    sb d = {0};
    sb_add(&d, basic->data, basic->len);
    vwrite("neg2-truncated.smar", d.p, d.n - 1);
    sb_add(&d, "", 1);
    vwrite("neg2-extended.smar", d.p, d.n);
    d.n--;
    d.p[8] = 3;                       /* header major */
    d.p[d.n - SR2_TRAILER + 200] = 3; /* trailer major */
    vwrite("neg2-version3.smar", d.p, d.n);
    sb_free(&d);

    /* 4097 chunks of 16 MiB declared: one over 2^36. The cap is checked at open, after the
     * table (a well-formed one is needed) and before any chunk is read: the chunks are
     * 21 zero bytes each, the smallest stored size. */
    parts p, src;
    parts_split(&src, aes->data, aes->len);
    memset(&p, 0, sizeof p);
    sb_add(&p.header, src.header.p, src.header.n);
    put32(p.header.p + 24, 16u << 20);
    sb_add(&p.slots, src.slots.p, src.slots.n);
    memcpy(p.trailer, src.trailer, SR2_TRAILER);
    p.n = 4097;
    p.chunk = calloc(p.n, sizeof *p.chunk);
    p.section = calloc(p.n, 1);
    p.flags = calloc(p.n, 1);
    static const uint8_t zero[21];
    for (size_t i = 0; i < p.n; i++) {
        sb_add(&p.chunk[i], zero, sizeof zero);
        p.section[i] = i + 1 < p.n ? 1 : 4;
        p.flags[i] = i + 2 >= p.n ? 1 : 0;
    }
    save_parts("neg2-aes-over-cap.smar", &p, NULL, NULL);
    parts_free(&p);
    parts_free(&src);
}

static void generate(void)
{
    /* keyrings: a has versions 1, 2 (archives are wrapped with 2) and 3 (v2-rewrapped) */
    smar_keyring *a = new_keyring("rk-vectors-a", 0), *b = new_keyring("rk-vectors-b", 0);
    smar_keyring *wrong = new_keyring("rk-vectors-a", 1),
                 *other = new_keyring("rk-vectors-other", 0);
    save_keyring(a, "keyring-a-v1.json");
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    save_keyring(a, "keyring-a-v2.json");
    save_keyring(b, "keyring-b.json");
    save_keyring(wrong, "keyring-a-wrong.json");
    save_keyring(other, "keyring-other.json");
    smar_keyring *rcpt = make_recipient();
    smar_signkey *signer;
    uint8_t stranger[64];
    assert_int_equal(smar_signkey_new(&signer), SMAR_OK);
    assert_int_equal(smar_signkey_generate(signer), SMAR_OK);
    char *path = vpath("signer.pub.json");
    assert_int_equal(smar_signkey_save_public(signer, path, SMAR_SAVE_OVERWRITE), SMAR_OK);
    free(path);
    make_stranger(stranger);

    made m;
    memset(&m, 0, sizeof m);
    generate_positive(&m, a, b, rcpt, signer);
    assert_int_equal(smar_keyring_rotate(a), SMAR_OK);
    save_keyring(a, "keyring-a.json");
    generate_rewrapped(&m.signed_archive, a);
    generate_slot_negatives(&m.basic);
    generate_signer_negatives(&m.signed_archive, stranger);
    generate_file_negatives(&m.basic, &m.aes);

    sodium_memzero(stranger, sizeof stranger);
    free(m.basic.data);
    free(m.signed_archive.data);
    free(m.aes.data);
    smar_keyring_free(a);
    smar_keyring_free(b);
    smar_keyring_free(wrong);
    smar_keyring_free(other);
    smar_keyring_free(rcpt);
    smar_signkey_free(signer);
}

static void test_generate(void **state)
{
    (void)state;
    if (!g_write) {
        skip();
        return;
    }
    generate();
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("SMAR_WRITE_VECTORS");
    g_write = env != NULL && strcmp(env, "1") == 0;
    if (smar_init() != SMAR_OK)
        return -1;
    g_tmp = tu_tmpdir();
    return g_tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++)
        smar_keyring_free(g_keys[i]);
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_pinning),
        cmocka_unit_test(test_rewrapped_keeps_content),
        cmocka_unit_test(test_unknown_provider_listed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
