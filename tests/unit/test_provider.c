/*
 * test_provider.c - the key provider seam (smar/provider.h), proved with a provider that
 * exists only here and is registered through the public API alone: archives written with
 * its keyring open with it; each error class it returns reaches the caller as that
 * status; a provider outage at unlock is not reported as damage, and unlock can be retried.
 *
 * The test provider's "wrap" is a toy (a keystream XOR and a 64-bit FNV tag over key, AAD
 * and DEK): enough to tell a right key from a wrong one, not cryptography.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archive_fixture.h"
#include "cli.h" /* the tools' exit codes: cli_exit_archive, cli_exit_other */
#include "smar.h"

#define TEST_SLOT_ID 0xfe /* not assigned by format 1: a deployment-local provider id */
#define TOY_BLOB     (8 + SMAR_PROVIDER_DEK_BYTES)
#define TOY_VERSIONS 4

/* The provider's state: a key per version, and the statuses the test wants it to give. */
typedef struct toy {
    const char *key_id;
    uint32_t current;
    uint8_t keys[TOY_VERSIONS][16];
    int fail_key_id, fail_current, fail_wrap, fail_unwrap;
    int wrap_calls, unwrap_calls;
    /* text mode (a KMS's version ids): versions 0 at the API, the text by version_text */
    bool text_mode;
    const char *vtext; /* what version_text writes (copied with memcpy, vtext_len bytes) */
    size_t vtext_len;
    int fail_vtext, vtext_calls;
} toy;

static int toy_frees;

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t toy_tag(const uint8_t key[16], const uint8_t *aad, size_t aad_len,
                        const uint8_t *dek)
{
    uint64_t h = fnv(UINT64_C(0xcbf29ce484222325), key, 16);
    h = fnv(h, aad, aad_len);
    return fnv(h, dek, SMAR_PROVIDER_DEK_BYTES);
}

static void toy_xor(const uint8_t key[16], const uint8_t *in, uint8_t *out)
{
    for (size_t i = 0; i < SMAR_PROVIDER_DEK_BYTES; i++)
        out[i] = in[i] ^ key[i % 16] ^ (uint8_t)(i * 37);
}

static int say(char *msg, size_t msg_len, int status, const char *what)
{
    snprintf(msg, msg_len, "toy service: %s (%s)", what, smar_strerror(status));
    return status;
}

static int toy_key_id(void *ctx, const char **key_id, char *msg, size_t msg_len)
{
    toy *t = ctx;
    if (t->fail_key_id)
        return say(msg, msg_len, t->fail_key_id, "key id");
    *key_id = t->key_id;
    return SMAR_OK;
}

static int toy_current(void *ctx, uint32_t *version, char *msg, size_t msg_len)
{
    toy *t = ctx;
    if (t->fail_current)
        return say(msg, msg_len, t->fail_current, "current version");
    *version = t->text_mode ? 0 : t->current;
    return SMAR_OK;
}

static int toy_wrap(void *ctx, const uint8_t *aad, size_t aad_len,
                    const uint8_t dek[SMAR_PROVIDER_DEK_BYTES], uint8_t *out, size_t out_cap,
                    size_t *out_len, uint32_t *version, char *msg, size_t msg_len)
{
    toy *t = ctx;
    t->wrap_calls++;
    if (t->fail_wrap)
        return say(msg, msg_len, t->fail_wrap, "wrap");
    if (out_cap < TOY_BLOB)
        return say(msg, msg_len, SMAR_E_NOMEM, "no room");
    const uint8_t *key = t->keys[t->current - 1];
    uint64_t tag = toy_tag(key, aad, aad_len, dek);
    memcpy(out, &tag, 8);
    toy_xor(key, dek, out + 8);
    *out_len = TOY_BLOB;
    *version = t->text_mode ? 0 : t->current;
    return SMAR_OK;
}

static int toy_unwrap(void *ctx, uint32_t version, const uint8_t *aad, size_t aad_len,
                      const uint8_t *wrapped, size_t wrapped_len,
                      uint8_t dek[SMAR_PROVIDER_DEK_BYTES], char *msg, size_t msg_len)
{
    toy *t = ctx;
    t->unwrap_calls++;
    if (t->fail_unwrap)
        return say(msg, msg_len, t->fail_unwrap, "unwrap");
    if (wrapped_len != TOY_BLOB)
        return say(msg, msg_len, SMAR_E_FORMAT, "blob length");
    if (t->text_mode && version == 0) /* "inside the blob": the toy knows it */
        version = t->current;
    if (version < 1 || version > t->current)
        return say(msg, msg_len, SMAR_E_NOTFOUND, "no such version");
    uint8_t plain[SMAR_PROVIDER_DEK_BYTES];
    uint64_t tag;
    toy_xor(t->keys[version - 1], wrapped + 8, plain);
    memcpy(&tag, wrapped, 8);
    if (tag != toy_tag(t->keys[version - 1], aad, aad_len, plain))
        return say(msg, msg_len, SMAR_E_AUTH, "does not open");
    memcpy(dek, plain, sizeof plain);
    return SMAR_OK;
}

static int toy_version_text(void *ctx, char *out, size_t out_cap, char *msg, size_t msg_len)
{
    toy *t = ctx;
    t->vtext_calls++;
    if (t->fail_vtext)
        return say(msg, msg_len, t->fail_vtext, "version text");
    if (t->vtext_len + 1 > out_cap)
        return say(msg, msg_len, SMAR_E_NOMEM, "no room");
    memcpy(out, t->vtext, t->vtext_len);
    out[t->vtext_len] = '\0';
    return SMAR_OK;
}

static void toy_free(void *ctx)
{
    (void)ctx;
    toy_frees++;
}

static const smar_provider toy_provider = {
    .version = SMAR_PROVIDER_VERSION,
    .name = "toy",
    .slot_id = TEST_SLOT_ID,
    .key_id = toy_key_id,
    .current_version = toy_current,
    .wrap = toy_wrap,
    .unwrap = toy_unwrap,
    .free = toy_free,
};

/* ---- helpers -------------------------------------------------------------------------- */

static void toy_init(toy *t, const char *key_id, uint8_t seed)
{
    memset(t, 0, sizeof *t);
    t->key_id = key_id;
    t->current = 1;
    for (size_t v = 0; v < TOY_VERSIONS; v++)
        for (size_t i = 0; i < 16; i++)
            t->keys[v][i] = (uint8_t)(seed + 16 * v + i);
}

static smar_keyring *toy_keyring(toy *t)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    int rc = smar_keyring_from_provider(kr, &toy_provider, t);
    if (rc != SMAR_OK)
        fail_msg("smar_keyring_from_provider: %s", smar_keyring_error(kr));
    return kr;
}

/* Write a small archive with the given keyrings; the writer's status, its message in msg. */
static int write_archive(mem_archive *out, smar_keyring **keys, size_t nkeys, char *msg,
                         size_t msg_len)
{
    smar_writer *w = NULL;
    smar_writer_options o = SMAR_WRITER_OPTIONS_INIT;
    o.snapshot_time = 1780000000000000000LL;
    memset(out, 0, sizeof *out);
    assert_int_equal(smar_writer_new(&w), SMAR_OK);
    int rc = SMAR_OK;
    for (size_t k = 0; k < nkeys && rc == SMAR_OK; k++)
        rc = smar_writer_add_key(w, keys[k]);
    if (rc == SMAR_OK)
        rc = smar_writer_open_cb(w, &o, fx_mem_write, out);
    char secret[1024];
    for (size_t i = 0; i < 3 && rc == SMAR_OK; i++) {
        fx_secret_json(secret, sizeof secret, i);
        rc = smar_writer_add_secret(w, secret, strlen(secret));
    }
    const char *doc =
        "{\"instance\":{\"crn\":\"crn:v1:x\"},\"exported_at\":\"2026-11-20T02:00:00Z\"}";
    if (rc == SMAR_OK)
        rc = smar_writer_set_document(w, doc, strlen(doc));
    if (rc == SMAR_OK)
        rc = smar_writer_finish(w);
    snprintf(msg, msg_len, "%s", rc == SMAR_OK ? "" : smar_writer_error(w));
    smar_writer_free(w);
    return rc;
}

static void write_ok(mem_archive *out, smar_keyring **keys, size_t nkeys)
{
    char msg[1024];
    int rc = write_archive(out, keys, nkeys, msg, sizeof msg);
    if (rc != SMAR_OK)
        fail_msg("writing the archive: %s", msg);
}

static int unlock_rc(smar_reader *r, smar_keyring **keys, size_t nkeys)
{
    return smar_reader_unlock(r, keys, nkeys);
}

static int group_setup(void **state)
{
    (void)state;
    return smar_init() == SMAR_OK ? 0 : -1;
}

/* ---- the seam works ------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-1", 1);
    toy_frees = 0;
    smar_keyring *kr = toy_keyring(&t);
    assert_string_equal(smar_keyring_provider(kr), "toy");
    assert_string_equal(smar_keyring_id(kr), "kms-key-1");
    assert_int_equal(smar_keyring_current_version(kr), 1);
    assert_int_equal(smar_keyring_version_count(kr), 0);

    mem_archive a;
    write_ok(&a, &kr, 1);
    assert_int_equal(t.wrap_calls, 1);
    smar_reader *r = NULL;
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_string_equal(si.key_id, "kms-key-1");
    assert_int_equal(si.key_version, 1);
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    assert_int_equal(smar_reader_info(r, &info), SMAR_OK);
    smar_reader_free(r);

    /* The provider rotates: new archives record version 2, the old one still opens. */
    t.current = 2;
    assert_int_equal(smar_keyring_current_version(kr), 2);
    mem_archive b;
    write_ok(&b, &kr, 1);
    assert_int_equal(fx_open_unlocked(&r, &b, kr), SMAR_OK);
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_int_equal(si.key_version, 2);
    smar_reader_free(r);
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    smar_reader_free(r);

    /* Other key material under the same id and version: AUTH, as for a local key. */
    toy other;
    toy_init(&other, "kms-key-1", 99);
    other.current = 2;
    smar_keyring *wrong = toy_keyring(&other);
    assert_int_equal(fx_open_mem(&r, b.data, b.len), SMAR_OK);
    assert_int_equal(unlock_rc(r, &wrong, 1), SMAR_E_AUTH);
    smar_reader_free(r);

    assert_int_equal(toy_frees, 0);
    smar_keyring_free(wrong);
    smar_keyring_free(kr);
    assert_int_equal(toy_frees, 2);
    free(a.data);
    free(b.data);
}

/* The write status with a text-mode toy provider of struct version `version`; on SMAR_OK
 * the archive is opened with the same keyring and its slot described in si. */
static int write_text_mode(toy *t, int version, smar_slot_info *si)
{
    smar_provider p = toy_provider;
    p.version = version;
    p.version_text = toy_version_text;
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    assert_int_equal(smar_keyring_from_provider(kr, &p, t), SMAR_OK);
    assert_int_equal(smar_keyring_current_version(kr), 0);
    mem_archive a;
    char msg[1024];
    int rc = write_archive(&a, &kr, 1, msg, sizeof msg);
    if (rc == SMAR_OK) {
        smar_reader *r = NULL;
        /* a string version goes to unwrap as version 0: the provider keeps its version */
        assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
        assert_int_equal(smar_reader_slot(r, 0, si), SMAR_OK);
        /* si's strings belong to the reader: keep a copy past smar_reader_free */
        static char version_copy[256];
        if (si->version_string != NULL) {
            (void)snprintf(version_copy, sizeof version_copy, "%s", si->version_string);
            si->version_string = version_copy;
        }
        smar_reader_free(r);
    }
    free(a.data);
    smar_keyring_free(kr);
    return rc;
}

/* Provider struct version 2: version_text, asked right after a wrap that gave version 0,
 * is recorded as a string version (kind 2), and such a slot opens; version 1 structs are
 * still taken and their (absent) version_text is never called. */
static void test_version_text(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-vt", 21);
    t.text_mode = true;
    t.current = 2;
    t.vtext = "5c1b2f0e-7d3a-4b8e-9f10-kv2";
    t.vtext_len = strlen(t.vtext);
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    assert_int_equal(write_text_mode(&t, 2, &si), SMAR_OK);
    assert_int_equal(t.vtext_calls, 1);
    assert_int_equal(t.wrap_calls, 1);
    assert_int_equal(si.version_kind, 2);
    assert_int_equal(si.key_version, 0);
    assert_string_equal(si.version_string, "5c1b2f0e-7d3a-4b8e-9f10-kv2");

    /* a version 1 struct: its callbacks end before version_text, which is not used */
    t.vtext_calls = 0;
    assert_int_equal(write_text_mode(&t, 1, &si), SMAR_OK);
    assert_int_equal(t.vtext_calls, 0);
    assert_int_equal(si.version_kind, 0);
    assert_null(si.version_string);

    /* no text for this call: "none", as before */
    t.vtext_len = 0;
    assert_int_equal(write_text_mode(&t, 2, &si), SMAR_OK);
    assert_int_equal(si.version_kind, 0);

    /* a text out of the slot rules is a provider bug; a failure keeps its class */
    t.vtext = "kv\t2";
    t.vtext_len = 4;
    assert_int_equal(write_text_mode(&t, 2, &si), SMAR_E_INVALID);
    char big[SMAR_PROVIDER_VERSION_TEXT_MAX + 1];
    memset(big, 'v', sizeof big);
    t.vtext = big;
    t.vtext_len = SMAR_PROVIDER_VERSION_TEXT_MAX;
    assert_int_equal(write_text_mode(&t, 2, &si), SMAR_OK);
    assert_int_equal(si.version_kind, 2);
    assert_int_equal(strlen(si.version_string), SMAR_PROVIDER_VERSION_TEXT_MAX);
    t.fail_vtext = SMAR_E_UNAVAILABLE;
    assert_int_equal(write_text_mode(&t, 2, &si), SMAR_E_UNAVAILABLE);
}

/* A provider keyring and a local one in one archive: either opens it. */
static void test_with_local_key(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-2", 3);
    smar_keyring *keys[2] = {toy_keyring(&t), NULL};
    assert_int_equal(smar_keyring_new(&keys[1]), SMAR_OK);
    assert_int_equal(smar_keyring_generate(keys[1], NULL), SMAR_OK);
    mem_archive a;
    write_ok(&a, keys, 2);
    smar_reader *r = NULL;
    assert_int_equal(fx_open_unlocked(&r, &a, keys[1]), SMAR_OK);
    smar_reader_free(r);
    /* The provider is down, but the local key opens the archive. */
    t.fail_unwrap = SMAR_E_UNAVAILABLE;
    assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
    assert_int_equal(unlock_rc(r, keys, 2), SMAR_OK);
    smar_reader_free(r);
    smar_keyring_free(keys[0]);
    smar_keyring_free(keys[1]);
    free(a.data);
}

/* ---- error classes --------------------------------------------------------------------- */

static const int classes[] = {SMAR_E_NOTFOUND, SMAR_E_DENIED, SMAR_E_UNAVAILABLE, SMAR_E_AUTH};

/* Writing: whatever current_version or wrap says is what the writer returns, with the
 * provider's message and the key id. */
static void test_write_errors_keep_their_class(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        for (int where = 0; where < 2; where++) {
            toy t;
            toy_init(&t, "kms-key-3", 5);
            smar_keyring *kr = toy_keyring(&t);
            if (where == 0)
                t.fail_current = classes[i];
            else
                t.fail_wrap = classes[i];
            mem_archive a;
            char msg[1024];
            assert_int_equal(write_archive(&a, &kr, 1, msg, sizeof msg), classes[i]);
            assert_non_null(strstr(msg, "kms-key-3"));
            assert_non_null(strstr(msg, "toy service"));
            free(a.data);
            smar_keyring_free(kr);
        }
    }
}

/* Unlocking: DENIED and UNAVAILABLE come back as they are and leave the reader usable (the
 * same reader unlocks once the provider is back); NOTFOUND is "no usable key" and AUTH is
 * "not authentic", as for local keys. */
static void test_unlock_errors_keep_their_class(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-4", 7);
    smar_keyring *kr = toy_keyring(&t);
    mem_archive a;
    write_ok(&a, &kr, 1);
    static const struct {
        int from_provider, from_unlock;
        bool retry_works;
    } cases[] = {
        {SMAR_E_UNAVAILABLE, SMAR_E_UNAVAILABLE, true},
        {SMAR_E_DENIED, SMAR_E_DENIED, true},
        {SMAR_E_NOTFOUND, SMAR_E_KEY, true},
        {SMAR_E_AUTH, SMAR_E_AUTH, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smar_reader *r = NULL;
        assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
        t.fail_unwrap = cases[i].from_provider;
        int rc = unlock_rc(r, &kr, 1);
        if (rc != cases[i].from_unlock)
            fail_msg("provider %d: unlock gave %d (%s)", cases[i].from_provider, rc,
                     smar_reader_error(r));
        if (cases[i].retry_works && cases[i].from_provider != SMAR_E_NOTFOUND)
            assert_non_null(strstr(smar_reader_error(r), "toy service"));
        t.fail_unwrap = 0;
        rc = unlock_rc(r, &kr, 1);
        if (cases[i].retry_works)
            assert_int_equal(rc, SMAR_OK);
        else
            assert_int_not_equal(rc, SMAR_OK);
        smar_reader_free(r);
    }
    smar_keyring_free(kr);
    free(a.data);
}

/* From the provider to smar's exit code and message, through the tools' own mapping: an
 * outage or a refusal is a failure (1) that names the provider, never "damaged" (3); "no
 * such key" is a failure too; only a slot that a matching key does not open is "not
 * authentic" (3). Writing never says "damaged". */
static void test_classes_reach_exit_codes(void **state)
{
    (void)state;
    static const struct {
        int from_provider;
        int unlock_exit, write_exit;
        const char *unlock_says, *write_says;
    } cases[] = {
        {SMAR_E_UNAVAILABLE, CLI_EXIT_FAILURE, CLI_EXIT_FAILURE,
         "key provider 'toy', root key 'kms-key-5': unavailable, try again later: toy service",
         "key provider 'toy', root key 'kms-key-5': unavailable, try again later: toy service"},
        {SMAR_E_DENIED, CLI_EXIT_FAILURE, CLI_EXIT_FAILURE,
         "key provider 'toy', root key 'kms-key-5': access denied: toy service",
         "key provider 'toy', root key 'kms-key-5': access denied: toy service"},
        {SMAR_E_NOTFOUND, CLI_EXIT_FAILURE, CLI_EXIT_FAILURE, NULL,
         "key provider 'toy', root key 'kms-key-5': no such key: toy service"},
        {SMAR_E_AUTH, CLI_EXIT_DAMAGED, CLI_EXIT_FAILURE, "does not open this archive",
         "key provider 'toy', root key 'kms-key-5': authentication failed: toy service"},
    };
    toy t;
    toy_init(&t, "kms-key-5", 9);
    smar_keyring *kr = toy_keyring(&t);
    mem_archive a;
    write_ok(&a, &kr, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smar_reader *r = NULL;
        assert_int_equal(fx_open_mem(&r, a.data, a.len), SMAR_OK);
        t.fail_unwrap = cases[i].from_provider;
        int rc = unlock_rc(r, &kr, 1);
        if (cli_exit_archive(rc) != cases[i].unlock_exit)
            fail_msg("provider %d: unlock %d exits %d", cases[i].from_provider, rc,
                     cli_exit_archive(rc));
        if (cases[i].unlock_says && !strstr(smar_reader_error(r), cases[i].unlock_says))
            fail_msg("provider %d: unlock says '%s'", cases[i].from_provider, smar_reader_error(r));
        t.fail_unwrap = 0;
        smar_reader_free(r);

        mem_archive b;
        char msg[1024];
        t.fail_wrap = cases[i].from_provider;
        rc = write_archive(&b, &kr, 1, msg, sizeof msg);
        t.fail_wrap = 0;
        assert_int_equal(rc, cases[i].from_provider);
        assert_int_equal(cli_exit_other(rc), cases[i].write_exit);
        if (!strstr(msg, cases[i].write_says))
            fail_msg("provider %d: the writer says '%s'", cases[i].from_provider, msg);
        free(b.data);
    }
    smar_keyring_free(kr);
    free(a.data);
}

/* A status outside the documented classes is a provider bug: SMAR_E_INVALID, never a
 * status that reads as damage. */
static void test_unknown_status_is_invalid(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-5", 9);
    smar_keyring *kr = toy_keyring(&t);
    mem_archive a;
    char msg[1024];
    t.fail_wrap = SMAR_E_CORRUPT;
    assert_int_equal(write_archive(&a, &kr, 1, msg, sizeof msg), SMAR_E_INVALID);
    free(a.data);
    t.fail_wrap = 42;
    assert_int_equal(write_archive(&a, &kr, 1, msg, sizeof msg), SMAR_E_INVALID);
    free(a.data);
    smar_keyring_free(kr);
}

/* ---- registration ---------------------------------------------------------------------- */

static int from_provider_rc(const smar_provider *p, toy *t)
{
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    int rc = smar_keyring_from_provider(kr, p, t);
    if (rc != SMAR_OK)
        assert_true(strlen(smar_keyring_error(kr)) > 0);
    smar_keyring_free(kr);
    return rc;
}

static void test_registration_checks(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-6", 11);
    toy_frees = 0;
    smar_provider p = toy_provider;
    p.version = SMAR_PROVIDER_VERSION + 1;
    assert_int_equal(from_provider_rc(&p, &t), SMAR_E_INVALID);
    p = toy_provider;
    p.slot_id = SMAR_PROVIDER_SLOT_LOCAL;
    assert_int_equal(from_provider_rc(&p, &t), SMAR_E_INVALID);
    p = toy_provider;
    p.unwrap = NULL;
    assert_int_equal(from_provider_rc(&p, &t), SMAR_E_INVALID);
    p = toy_provider;
    p.name = "two words";
    assert_int_equal(from_provider_rc(&p, &t), SMAR_E_INVALID);
    assert_int_equal(from_provider_rc(NULL, &t), SMAR_E_INVALID);
    /* The key id is asked at once: its status comes back, and ctx stays the caller's. */
    t.fail_key_id = SMAR_E_UNAVAILABLE;
    assert_int_equal(from_provider_rc(&toy_provider, &t), SMAR_E_UNAVAILABLE);
    t.fail_key_id = SMAR_E_DENIED;
    assert_int_equal(from_provider_rc(&toy_provider, &t), SMAR_E_DENIED);
    t.fail_key_id = 0;
    t.key_id = "has\ttab";
    assert_int_equal(from_provider_rc(&toy_provider, &t), SMAR_E_INVALID);
    assert_int_equal(toy_frees, 0);

    /* A keyring that holds a key takes no other. */
    t.key_id = "kms-key-6";
    smar_keyring *kr = toy_keyring(&t);
    assert_int_equal(smar_keyring_from_provider(kr, &toy_provider, &t), SMAR_E_INVALID);
    assert_int_equal(smar_keyring_generate(kr, NULL), SMAR_E_INVALID);
    smar_keyring_free(kr);
    assert_int_equal(toy_frees, 1);
}

/* A provider's key id: 1..255 bytes of UTF-8 without control bytes (format 2's rule), not
 * the local keyrings' 64 printable ASCII bytes. A 255-byte id is written and read back. */
static void test_provider_key_ids(void **state)
{
    (void)state;
    char id[SMAR_PROVIDER_KEY_ID_MAX + 2];
    for (size_t i = 0; i + 2 <= 254; i += 2)
        memcpy(id + i, "\xc3\xa9", 2); /* U+00E9, two bytes */
    id[254] = 'k';
    id[255] = '\0';
    toy t;
    toy_init(&t, id, 21);
    smar_keyring *kr = toy_keyring(&t);
    assert_string_equal(smar_keyring_id(kr), id);
    mem_archive a;
    write_ok(&a, &kr, 1);
    smar_reader *r = NULL;
    assert_int_equal(fx_open_unlocked(&r, &a, kr), SMAR_OK);
    smar_slot_info si = SMAR_SLOT_INFO_INIT;
    assert_int_equal(smar_reader_slot(r, 0, &si), SMAR_OK);
    assert_string_equal(si.key_id, id);
    smar_reader_free(r);
    smar_keyring_free(kr);
    free(a.data);

    t.key_id = "pkcs11:token=HSM A;object=root key"; /* spaces are text */
    kr = toy_keyring(&t);
    smar_keyring_free(kr);
    static const char *const refused[] = {"",
                                          "ctl\x01"
                                          "byte",
                                          "del\x7f",
                                          "bad\xc3(utf8",
                                          "overlong\xc0\xaf",
                                          "surrogate\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        t.key_id = refused[i];
        assert_int_equal(from_provider_rc(&toy_provider, &t), SMAR_E_INVALID);
    }
    memset(id, 'k', SMAR_PROVIDER_KEY_ID_MAX + 1);
    id[SMAR_PROVIDER_KEY_ID_MAX + 1] = '\0';
    t.key_id = id;
    assert_int_equal(from_provider_rc(&toy_provider, &t), SMAR_E_INVALID);
    id[SMAR_PROVIDER_KEY_ID_MAX] = '\0';
    kr = toy_keyring(&t);
    smar_keyring_free(kr);
}

/* What only local keyrings do is refused for a provider's; a provider without a format-1
 * slot id cannot write archives. */
static void test_local_only_calls_and_slot_id(void **state)
{
    (void)state;
    toy t;
    toy_init(&t, "kms-key-7", 13);
    smar_keyring *kr = toy_keyring(&t);
    assert_int_equal(smar_keyring_rotate(kr), SMAR_E_UNSUPPORTED);
    assert_int_equal(smar_keyring_save(kr, "/nonexistent/x.key", NULL, 0), SMAR_E_UNSUPPORTED);
    uint32_t v;
    assert_int_equal(smar_keyring_version_info(kr, 0, &v, NULL), SMAR_E_INVALID);
    smar_keyring_free(kr);

    smar_provider p = toy_provider;
    p.slot_id = SMAR_PROVIDER_SLOT_NONE;
    smar_keyring *none = NULL;
    assert_int_equal(smar_keyring_new(&none), SMAR_OK);
    assert_int_equal(smar_keyring_from_provider(none, &p, &t), SMAR_OK);
    mem_archive a;
    char msg[1024];
    assert_int_equal(write_archive(&a, &none, 1, msg, sizeof msg), SMAR_E_UNSUPPORTED);
    assert_non_null(strstr(msg, "slot id"));
    assert_int_equal(t.wrap_calls, 0);
    free(a.data);
    smar_keyring_free(none);
}

static void test_status_texts(void **state)
{
    (void)state;
    assert_int_equal(SMAR_E_DENIED, -15);
    assert_int_equal(SMAR_E_UNAVAILABLE, -16);
    assert_string_equal(smar_strerror(SMAR_E_DENIED), "the key provider denied access");
    assert_string_equal(smar_strerror(SMAR_E_UNAVAILABLE), "the key provider is unavailable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_with_local_key),
        cmocka_unit_test(test_version_text),
        cmocka_unit_test(test_write_errors_keep_their_class),
        cmocka_unit_test(test_unlock_errors_keep_their_class),
        cmocka_unit_test(test_classes_reach_exit_codes),
        cmocka_unit_test(test_unknown_status_is_invalid),
        cmocka_unit_test(test_registration_checks),
        cmocka_unit_test(test_provider_key_ids),
        cmocka_unit_test(test_local_only_calls_and_slot_id),
        cmocka_unit_test(test_status_texts),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
