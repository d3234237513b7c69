/*
 * cmd_verify.c - smar verify: check archives for damage and authenticity, without a key
 * (chunk hashes, root hash, signature) or with one (also every chunk's decryption and
 * every payload's hash), and report every problem found.
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char verify_usage[] =
    "usage: smar verify [--json] [--key FILE]... [--pubkey PUB]... [--no-signer-check]\n"
    "                   [--threads N] [-q] ARCHIVE...\n"
    "\n"
    "    ARCHIVE -        read one archive from standard input (spooled to $TMPDIR)\n"
    "    -k, --key FILE   also decrypt every chunk and check every payload (keyed)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                     the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB     require a valid signature by this producer public key\n"
    "                     (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-check\n"
    "                     with --key: accept an archive opened through a public-key\n"
    "                     recipient without a pinned producer (unsafe)\n"
    "    --threads N      read, hash and decrypt on N threads (default: all cores)\n"
    "    --json           machine-readable output (see smar(1))\n"
    "    -q, --quiet      no progress; report only archives with problems\n"
    "\n"
    "exit status 3 when any archive is damaged or not authentic\n";

struct problem {
    smar_problem_kind kind;
    uint64_t chunk;
    int section;
    char *secret_id;
    char *secret_name;
    char *version_id;
    char *detail;
};

/* One archive's outcome. */
struct report {
    const char *path;
    int spool_fd; /* standard input spooled to an unlinked file, or -1 */
    int exit_code;
    char *error; /* why it could not be checked, or NULL */
    int checked; /* smar_reader_verify ran */
    int keyed;
    smar_verify_result res;
    int is_signed;
    uint8_t signer_pk[SMAR_SIGN_PUBLIC_BYTES];
    char signer[33];
    /* opened through a public-key recipient with no producer pinned: not authentic */
    int untrusted_opener;
    struct problem *problems;
    size_t nproblems;
    cli_progress *progress;
};

struct verify_opts {
    cli_strlist keys;
    /* --pubkey/$SMAR_PUBKEY: npinned keys, SMAR_SIGN_PUBLIC_BYTES each; a signature by any
     * of them passes */
    uint8_t *pinned;
    size_t npinned;
    int json;
    int quiet;
    uint32_t threads;
    /* every archive named: an incremental one's bases are looked for among them */
    char **paths;
    int npaths;
};

static const char *section_name(int section)
{
    static const char *const names[] = {"?", "payload", "manifest", "index", "meta"};
    return section >= 1 && section <= 4 ? names[section] : names[0];
}

static const char *kind_name(smar_problem_kind kind)
{
    switch (kind) {
    case SMAR_PROBLEM_CHUNK_HASH:
        return "chunk_hash";
    case SMAR_PROBLEM_CHUNK_AUTH:
        return "chunk_auth";
    case SMAR_PROBLEM_PAYLOAD_HASH:
        return "payload_hash";
    case SMAR_PROBLEM_SECRET:
        return "secret";
    case SMAR_PROBLEM_INDEX:
        return "index";
    }
    return "other";
}

static char *dup_or_null(const char *s)
{
    return s ? cli_xstrdup(s) : NULL;
}

static void on_problem(const smar_problem *p, void *payload)
{
    struct report *rep = payload;
    rep->problems = cli_xrealloc(rep->problems, (rep->nproblems + 1) * sizeof *rep->problems);
    struct problem *q = &rep->problems[rep->nproblems++];
    q->kind = p->kind;
    q->chunk = p->chunk;
    q->section = p->section;
    q->secret_id = dup_or_null(p->secret_id);
    q->secret_name = dup_or_null(p->secret_name);
    q->version_id = dup_or_null(p->version_id);
    q->detail = dup_or_null(p->detail);
}

static void on_progress(uint64_t done, uint64_t total, void *payload)
{
    struct report *rep = payload;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
    cli_progress_show(rep->progress, "verify: %s %u%%", rep->path, pct);
}

static void report_free(struct report *rep)
{
    for (size_t i = 0; i < rep->nproblems; i++) {
        free(rep->problems[i].secret_id);
        free(rep->problems[i].secret_name);
        free(rep->problems[i].version_id);
        free(rep->problems[i].detail);
    }
    free(rep->problems);
    free(rep->error);
}

static void fail(struct report *rep, int exit_code, const char *msg)
{
    rep->exit_code = cli_exit_worst(rep->exit_code, exit_code);
    if (rep->error == NULL)
        rep->error = cli_xstrdup(msg);
}

/* With --pubkey a missing or foreign signature is as bad as damage. */
static void check_signature(struct report *rep, const struct verify_opts *o)
{
    if (o->npinned == 0 || !rep->checked)
        return;
    switch (rep->res.signature) {
    case SMAR_SIGNATURE_VALID:
        return;
    case SMAR_SIGNATURE_ABSENT:
        fail(rep, CLI_EXIT_DAMAGED, "the archive is not signed");
        return;
    case SMAR_SIGNATURE_OTHER_SIGNER:
        fail(rep, CLI_EXIT_DAMAGED, "the archive is signed by another key than the given ones");
        return;
    default:
        fail(rep, CLI_EXIT_DAMAGED, "the signature is not valid");
    }
}

/* ---- standard input -------------------------------------------------------------------- */

/* An unlinked file in $TMPDIR (O_TMPFILE where the file system has it). */
static int open_spool_file(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char tmpl[4096];
    if (snprintf(tmpl, sizeof tmpl, "%s/.smar-verify-XXXXXX", dir) >= (int)sizeof tmpl) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl);
    return fd;
}

/*
 * Standard input copied to an unlinked temporary file. The chunk table that holds every
 * chunk's hash comes last in an archive (spec/FORMAT.md §3) and chunks carry no length of
 * their own, so no chunk can be checked as it arrives; and stdin is never held in memory.
 */
static int spool_stdin(int *out)
{
    const char *dir = getenv("TMPDIR");
    char buf[65536];
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int fd = open_spool_file(dir);
    if (fd < 0) {
        cli_error("cannot make a temporary file in %s for standard input: %s", dir,
                  strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0 || cli_write_all(fd, buf, (size_t)n) != 0) {
            cli_error("%s standard input: %s", n < 0 ? "reading" : "spooling", strerror(errno));
            close(fd);
            return CLI_EXIT_FAILURE;
        }
    }
    *out = fd;
    return 0;
}

/* Open the report's archive: its file, or the spooled standard input. */
static int open_report_archive(const struct report *rep, smar_reader **out)
{
    if (rep->spool_fd < 0)
        return cli_open_archive(rep->path, out);
    int fd = dup(rep->spool_fd);
    if (fd < 0) {
        cli_error("%s: %s", rep->path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    smar_reader *r = NULL;
    if (smar_reader_new(&r) != SMAR_OK) {
        close(fd);
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int rc = smar_reader_open_fd(r, fd, rep->path);
    if (rc != SMAR_OK) {
        close(fd); /* on failure the descriptor stays the caller's */
        cli_error_lib(rep->path, smar_reader_error(r));
        smar_reader_free(r);
        return cli_exit_archive(rc);
    }
    *out = r;
    return 0;
}

/* ---- checking one archive ------------------------------------------------------------- */

static void note_signer(struct report *rep, smar_reader *r)
{
    smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
    if (smar_reader_info(r, &in) == SMAR_OK && in.is_signed) {
        rep->is_signed = 1;
        memcpy(rep->signer_pk, in.signer, sizeof rep->signer_pk);
        smar_signkey_fingerprint(in.signer, rep->signer);
    }
}

/* The pinned key to check the signature against: the one the archive names when it is
 * pinned, else the first (the result is then "other-signer" or "absent"); NULL when none is
 * pinned. */
static const uint8_t *required_key(const struct report *rep, const struct verify_opts *o)
{
    for (size_t i = 0; rep->is_signed && i < o->npinned; i++) {
        const uint8_t *pk = o->pinned + i * SMAR_SIGN_PUBLIC_BYTES;
        if (memcmp(pk, rep->signer_pk, SMAR_SIGN_PUBLIC_BYTES) == 0)
            return pk;
    }
    return o->npinned > 0 ? o->pinned : NULL;
}

static void run_verify(struct report *rep, const struct verify_opts *o, smar_reader *r)
{
    int rc = smar_reader_verify(r, rep->keyed ? SMAR_VERIFY_KEYED : 0, required_key(rep, o),
                                &rep->res, on_problem, on_progress, rep);
    cli_progress_done(rep->progress);
    rep->checked = 1;
    if (rc != SMAR_OK) {
        const char *msg = smar_reader_error(r);
        fail(rep, cli_exit_archive(rc), msg && *msg ? msg : smar_strerror(rc));
    }
}

/*
 * The keys did not open the archive. The keyless checks decide what that means: damage
 * found without a key is damage (exit 3, an altered key slot among the possibilities);
 * only on an intact file is it the keys' fault (cli_unlock_archive says which, and how).
 * A fresh handle: a failed unlock may have left the first one dead.
 */
static void keyless_after_failed_unlock(struct report *rep, const struct verify_opts *o,
                                        smar_keyring **keys, size_t nkeys)
{
    smar_reader *r = NULL;
    int ret = open_report_archive(rep, &r);
    if (ret != 0) {
        fail(rep, ret, "cannot open the archive (see the message above)");
        return;
    }
    smar_reader_set_threads(r, o->threads);
    run_verify(rep, o, r);
    if (rep->exit_code == CLI_EXIT_OK) {
        ret = cli_unlock_archive(rep->path, r, keys, nkeys);
        fail(rep, ret != 0 ? ret : CLI_EXIT_FAILURE,
             "cannot unlock the archive (see the message above)");
    }
    smar_reader_free(r);
}

/* The bases an incremental archive was opened with, freed after its verify. */
struct held_bases {
    smar_reader *r[64];
    size_t n;
};

static void held_free(struct held_bases *h)
{
    for (size_t i = 0; i < h->n; i++)
        smar_reader_free(h->r[i]);
    h->n = 0;
}

/* Open, unlock and attach base i of r from candidate path; 0 when it is not that base,
 * 1 when attached, -1 after fail(). */
static int try_base(struct report *rep, smar_reader *r, size_t i, const char *path,
                    smar_keyring **keys, size_t nkeys, struct held_bases *held)
{
    smar_base_info b = SMAR_BASE_INFO_INIT;
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    smar_reader *base = NULL;
    if (smar_reader_base(r, i, &b) != SMAR_OK || held->n == 64)
        return 0;
    if (cli_open_archive(path, &base) != 0)
        return 0;
    if (smar_reader_info(base, &info) != SMAR_OK ||
        memcmp(info.archive_id, b.archive_id, 16) != 0) {
        smar_reader_free(base);
        return 0;
    }
    int ret = cli_unlock_archive(path, base, keys, nkeys);
    int rc = ret == 0 ? smar_reader_attach_base(r, i, base) : SMAR_OK;
    if (ret != 0 || rc != SMAR_OK) {
        if (rc != SMAR_OK)
            fail(rep, cli_exit_archive(rc), smar_reader_error(r));
        else
            fail(rep, ret, "a base archive cannot be unlocked (see the message above)");
        smar_reader_free(base);
        return -1;
    }
    held->r[held->n++] = base;
    return 1;
}

/* Attach the bases of an incremental archive found among the archives named and beside
 * it. Those not found stay missing: the verify then says which (SMAR_E_NEEDBASE). */
static int attach_bases(struct report *rep, const struct verify_opts *o, smar_reader *r,
                        smar_keyring **keys, size_t nkeys, struct held_bases *held)
{
    cli_strlist siblings = {0};
    cli_sibling_bases(rep->path, r, &siblings);
    int found = 0;
    for (size_t i = 0; i < smar_reader_base_count(r) && found >= 0; i++) {
        found = 0;
        for (int p = 0; p < o->npaths && found == 0; p++)
            if (strcmp(o->paths[p], rep->path) != 0 && strcmp(o->paths[p], "-") != 0)
                found = try_base(rep, r, i, o->paths[p], keys, nkeys, held);
        for (size_t p = 0; p < siblings.n && found == 0; p++)
            found = try_base(rep, r, i, siblings.items[p], keys, nkeys, held);
    }
    for (size_t p = 0; p < siblings.n; p++)
        free((void *)(uintptr_t)siblings.items[p]);
    cli_strlist_free(&siblings);
    return found < 0 ? rep->exit_code : 0;
}

static void verify_one(struct report *rep, const struct verify_opts *o, smar_keyring **keys,
                       size_t nkeys)
{
    struct held_bases held = {.n = 0};
    smar_reader *r = NULL;
    int ret = open_report_archive(rep, &r);
    if (ret != 0) {
        fail(rep, ret, "cannot open the archive (see the message above)");
        return;
    }
    smar_reader_set_threads(r, o->threads);
    note_signer(rep, r);
    if (nkeys > 0 && smar_reader_unlock(r, keys, nkeys) != SMAR_OK) {
        smar_reader_free(r);
        keyless_after_failed_unlock(rep, o, keys, nkeys);
        check_signature(rep, o);
        return;
    }
    rep->keyed = nkeys > 0;
    /* Opened through a public-key recipient: only a pinned signer says who made it. */
    if (rep->keyed && cli_check_opener(rep->path, r, o->npinned > 0) != 0) {
        rep->untrusted_opener = 1;
        fail(rep, CLI_EXIT_DAMAGED,
             "refused: opened through a public-key recipient, no producer pinned (see the "
             "message above)");
        smar_reader_free(r);
        return;
    }
    if (rep->keyed && smar_reader_base_count(r) > 0 &&
        attach_bases(rep, o, r, keys, nkeys, &held)) {
        smar_reader_free(r);
        held_free(&held);
        return;
    }
    run_verify(rep, o, r);
    check_signature(rep, o);
    smar_reader_free(r);
    held_free(&held);
}

/* ---- output --------------------------------------------------------------------------- */

/* "not_authentic" when the bytes are intact but the signature is missing or wrong. */
static int only_signature_failed(const struct report *rep)
{
    return rep->checked && rep->res.chunks_bad == 0 && rep->res.root_ok && rep->nproblems == 0 &&
           rep->res.signature != SMAR_SIGNATURE_VALID;
}

static const char *status_word(const struct report *rep)
{
    if (rep->exit_code == CLI_EXIT_OK)
        return "ok";
    if (rep->exit_code != CLI_EXIT_DAMAGED)
        return "failed";
    return only_signature_failed(rep) || rep->untrusted_opener ? "not_authentic" : "damaged";
}

/* One of absent, valid, valid-unpinned, invalid, other-signer. Without --pubkey a signature
 * that verifies for the key it names is "valid-unpinned", never plain "valid": it shows the
 * archive is intact since signing, not who signed (anyone can re-sign a file). */
static const char *signature_word(const struct report *rep)
{
    switch (rep->res.signature) {
    case SMAR_SIGNATURE_VALID:
        return "valid";
    case SMAR_SIGNATURE_UNCHECKED:
        return "valid-unpinned";
    case SMAR_SIGNATURE_OTHER_SIGNER:
        return "other-signer";
    case SMAR_SIGNATURE_INVALID:
        return "invalid";
    default:
        return "absent";
    }
}

static void print_problem(const struct problem *q)
{
    char a[256], b[256];
    if (q->secret_id != NULL) {
        printf("  problem: secret %s", cli_printable(q->secret_id, a, sizeof a));
        if (q->secret_name != NULL && *q->secret_name)
            printf(" \"%s\"", cli_printable(q->secret_name, b, sizeof b));
        if (q->version_id != NULL)
            printf(" version %s", cli_printable(q->version_id, a, sizeof a));
        printf(" (chunk %llu): %s\n", (unsigned long long)q->chunk,
               q->detail ? q->detail : kind_name(q->kind));
        return;
    }
    printf("  problem: chunk %llu (%s section): %s\n", (unsigned long long)q->chunk,
           section_name(q->section), q->detail ? q->detail : kind_name(q->kind));
}

/* ", required signer A[ or B...]" */
static void print_required_signers(const struct verify_opts *o)
{
    for (size_t i = 0; i < o->npinned; i++) {
        char fp[33];
        smar_signkey_fingerprint(o->pinned + i * SMAR_SIGN_PUBLIC_BYTES, fp);
        printf("%s%s", i == 0 ? ", required signer " : " or ", fp);
    }
}

static void print_report_text(const struct report *rep, const struct verify_opts *o)
{
    char b[32];
    if (o->quiet && rep->exit_code == CLI_EXIT_OK)
        return;
    /* Upper case makes a failure stand out in a long listing. */
    const char *word = status_word(rep);
    if (strcmp(word, "not_authentic") == 0)
        word = "NOT AUTHENTIC";
    else if (strcmp(word, "ok") != 0)
        word = strcmp(word, "damaged") == 0 ? "DAMAGED" : "FAILED";
    printf("%s: %s\n", rep->path, word);
    if (rep->error != NULL)
        printf("  error: %s\n", rep->error);
    if (rep->checked) {
        printf("  chunks:     %llu checked, %llu bad (%s)\n",
               (unsigned long long)rep->res.chunks_checked, (unsigned long long)rep->res.chunks_bad,
               cli_bytes(b, rep->res.bytes_checked));
        printf("  root hash:  %s\n", rep->res.root_ok ? "ok" : "MISMATCH");
        printf("  signature:  %s", signature_word(rep));
        if (rep->res.signature == SMAR_SIGNATURE_UNCHECKED)
            printf(" (valid for the key it names; who signed is not checked without --pubkey)");
        if (rep->is_signed)
            printf(", signer %s", rep->signer);
        print_required_signers(o);
        printf("\n");
        /* the words and numbers of smar inspect: secrets, versions, (stored) payloads */
        if (rep->keyed)
            printf("  secrets:    %llu checked (%llu versions, %llu payloads), %llu bad\n",
                   (unsigned long long)rep->res.secrets_checked,
                   (unsigned long long)rep->res.versions_checked,
                   (unsigned long long)rep->res.payload_records_checked,
                   (unsigned long long)rep->res.secrets_bad);
        else
            printf("  secrets:    not checked (no --key)\n");
    }
    for (size_t i = 0; i < rep->nproblems; i++)
        print_problem(&rep->problems[i]);
}

static void add_string_or_null(cJSON *o, const char *name, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

/* required_signer_fingerprint: the pinned key the signature was checked against (the one
 * the archive names when it is pinned, else the first), or null; and every pinned key. */
static void add_required_signers(cJSON *j, const struct report *rep, const struct verify_opts *o)
{
    const uint8_t *req = required_key(rep, o);
    char fp[33];
    if (req != NULL)
        smar_signkey_fingerprint(req, fp);
    add_string_or_null(j, "required_signer_fingerprint", req != NULL ? fp : NULL);
    cJSON *all = cJSON_AddArrayToObject(j, "required_signer_fingerprints");
    for (size_t i = 0; i < o->npinned; i++) {
        smar_signkey_fingerprint(o->pinned + i * SMAR_SIGN_PUBLIC_BYTES, fp);
        cJSON_AddItemToArray(all, cJSON_CreateString(fp));
    }
}

static cJSON *report_json(const struct report *rep, const struct verify_opts *o)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "archive", rep->path);
    cJSON_AddStringToObject(j, "status", status_word(rep));
    add_string_or_null(j, "error", rep->error);
    cJSON_AddBoolToObject(j, "checked", rep->checked);
    cJSON_AddBoolToObject(j, "keyed", rep->keyed);
    cli_json_add_u64(j, "chunks_checked", rep->res.chunks_checked);
    cli_json_add_u64(j, "chunks_bad", rep->res.chunks_bad);
    cli_json_add_u64(j, "bytes_checked", rep->res.bytes_checked);
    cJSON_AddBoolToObject(j, "root_hash_ok", rep->checked && rep->res.root_ok);
    cJSON_AddStringToObject(j, "signature", signature_word(rep));
    cJSON_AddBoolToObject(j, "signer_checked",
                          rep->res.signature == SMAR_SIGNATURE_VALID ||
                              rep->res.signature == SMAR_SIGNATURE_OTHER_SIGNER);
    add_string_or_null(j, "signer_fingerprint", rep->is_signed ? rep->signer : NULL);
    add_required_signers(j, rep, o);
    cli_json_add_u64(j, "secrets_checked", rep->res.secrets_checked);
    cli_json_add_u64(j, "versions_checked", rep->res.versions_checked);
    cli_json_add_u64(j, "payloads_checked", rep->res.payload_records_checked);
    cli_json_add_u64(j, "secrets_bad", rep->res.secrets_bad);
    cJSON *probs = cJSON_AddArrayToObject(j, "problems");
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct problem *q = &rep->problems[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "kind", kind_name(q->kind));
        cli_json_add_u64(e, "chunk", q->chunk);
        cJSON_AddStringToObject(e, "section", section_name(q->section));
        add_string_or_null(e, "secret_id", q->secret_id);
        add_string_or_null(e, "secret_name", q->secret_name);
        add_string_or_null(e, "version_id", q->version_id);
        add_string_or_null(e, "detail", q->detail);
        cJSON_AddItemToArray(probs, e);
    }
    return j;
}

/* ---- command ------------------------------------------------------------------------- */

static int parse_verify_args(int argc, char **argv, struct verify_opts *o)
{
    enum { OPT_THREADS = 256 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"quiet", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    o->threads = cli_default_threads();
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->json = 1;
            break;
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, verify_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, verify_usage, &o->threads) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(verify_usage, c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(verify_usage, "at least one ARCHIVE is required");
    int from_stdin = 0;
    for (int i = optind; i < argc; i++)
        from_stdin += strcmp(argv[i], "-") == 0;
    if (from_stdin > 1)
        return cli_usage_error(verify_usage, "standard input ('-') can be read only once");
    return 0;
}

static int verify_all_listed(int n, char **paths, struct verify_opts *o)
{
    smar_keyring **keys = NULL;
    size_t nkeys = 0;
    int ret = cli_load_pubkeys(&o->pinned, &o->npinned);
    if (ret == 0 && o->keys.n > 0)
        ret = cli_load_keyrings(&o->keys, &keys, &nkeys);
    if (ret != 0)
        return ret;
    cli_progress progress;
    cli_progress_init(&progress, o->quiet);
    cJSON *list = o->json ? cJSON_CreateArray() : NULL;
    int worst = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        struct report rep = {.res = SMAR_VERIFY_RESULT_INIT};
        rep.path = paths[i];
        rep.spool_fd = -1;
        rep.progress = &progress;
        if (strcmp(paths[i], "-") == 0) {
            rep.path = "(stdin)";
            int sp = spool_stdin(&rep.spool_fd);
            if (sp != 0)
                fail(&rep, sp, "cannot read standard input (see the message above)");
        }
        if (rep.exit_code == CLI_EXIT_OK)
            verify_one(&rep, o, keys, nkeys);
        if (rep.spool_fd >= 0)
            close(rep.spool_fd);
        if (list != NULL)
            cJSON_AddItemToArray(list, report_json(&rep, o));
        else
            print_report_text(&rep, o);
        worst = cli_exit_worst(worst, rep.exit_code);
        report_free(&rep);
    }
    if (list != NULL) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddBoolToObject(root, "ok", worst == CLI_EXIT_OK);
        cJSON_AddItemToObject(root, "archives", list);
        int pr = cli_json_print(root);
        worst = cli_exit_worst(worst, pr);
    }
    fflush(stdout);
    cli_free_keyrings(keys, nkeys);
    return worst;
}

/* Each s3:// prefix stands for the archives under it. */
static int verify_all(int n, char **paths, struct verify_opts *o)
{
    cli_strlist owned = {0};
    char **all = paths;
    int ret = cli_s3_expand_prefixes(&n, &all, &owned);
    o->paths = all;
    o->npaths = n;
    if (ret == 0)
        ret = verify_all_listed(n, all, o);
    cli_s3_free_expanded(all, paths, &owned);
    return ret;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_opts o;
    memset(&o, 0, sizeof o);
    int ret = parse_verify_args(argc, argv, &o);
    if (ret == 0)
        ret = verify_all(argc - optind, argv + optind, &o);
    else if (ret < 0)
        ret = cli_help(verify_usage);
    cli_strlist_free(&o.keys);
    free(o.pinned);
    return ret;
}
