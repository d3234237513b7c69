/*
 * cmd_extract.c - smar extract: selected secrets as they were at a time T, from one
 * archive or a series, written as an instance export (which `smar create` takes back), a
 * folder tree or a tar stream.
 *
 * Every output to a file or folder is dropped whole when the run is refused (an export,
 * JSONL or tar file is written under a temporary name, a folder tree is built hidden), so
 * each secret is resolved and written at once (extract_folded). Standard output cannot be
 * taken back: there a first pass resolves every selected secret at T and reports those that
 * cannot be restored, so that a refused run writes nothing, and a second renders and writes.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char extract_usage[] =
    "usage: smar extract [--key FILE]... [--pubkey PUB]... [--verify] [selection] [--at T] "
    "[--all-versions]\n"
    "                    [--skip-missing] [--skip-damaged] [--configurations] [--no-signer-check]\n"
    "                    [--format export|jsonl|dir|tar] [--threads N] -o OUT\n"
    "                    [--force] [-q]\n"
    "                    ARCHIVE...\n"
    "\n"
    "    -k, --key FILE         root keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                           the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB           refuse an archive not signed by this producer public key\n"
    "                           (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-check      read an archive opened through a public-key recipient\n"
    "                           without a pinned producer (unsafe: anyone can make one)\n"
    "    --verify               check every archive whole (as smar verify --key) before\n"
    "                           writing anything; a damaged one: nothing written, exit 3\n"
    "    --at T                 as the secrets were at T (RFC 3339 or date), across all\n"
    "                           ARCHIVEs; default: the latest snapshot\n"
    "    --all-versions         every version known at T, not only the one current at T\n"
    "    --skip-missing         leave out secrets that cannot be restored, exit 0\n"
    "    --skip-damaged         write every intact secret, list the damaged ones, exit 3\n"
    "    --configurations       also write the export's configurations (credentials) on a\n"
    "                           selective restore (a full restore always has them)\n"
    "    --format F             export (default): an instance export document;\n"
    "                           jsonl: the same as JSONL (document line, then a secret a line);\n"
    "                           dir: one folder per secret; tar: that tree as a tar stream\n"
    "    --threads N            decrypt chunks ahead on N threads (default: all cores)\n"
    "    -o, --output OUT       file (export, tar; - for standard output) or folder (dir)\n"
    "    -f, --force            replace existing files\n"
    "    -q, --quiet            no progress and no summary\n"
    "selection (each repeatable: any of; different options combine: all of):\n"
    "    --id ID  --name NAME  --type TYPE  --group GROUP (id or name)  --label LABEL\n";

enum extract_format { FORMAT_EXPORT, FORMAT_JSONL, FORMAT_DIR, FORMAT_TAR };

struct extract_opts {
    cli_strlist keys;
    cli_sel sel;
    smar_time_ns at;
    int all_versions;
    int skip_missing;
    int skip_damaged;
    int configurations;
    int verify_first;
    enum extract_format format;
    const char *output;
    int force;
    int quiet;
    uint32_t threads;
};

/* A selected secret and what resolving it at T said. */
struct pick {
    const char *id; /* in the picks' id blocks */
    char *name;     /* only when names were selected: what is_missing compares */
    smar_at_status status;
    int damaged; /* could not be read (--skip-damaged) */
};

/* The picks' ids, packed: a full extract of a million secrets keeps every id until it is
 * written, and a malloc per id cost 48 B where the id is 37. Blocks are never moved, so
 * pointers into them stay valid. */
struct id_block {
    struct id_block *next;
    size_t used, cap;
    char data[];
};

enum { ID_BLOCK_BYTES = 64 * 1024 };

struct picks {
    struct pick *items;
    size_t n, cap;
    struct id_block *ids;
};

static const char *keep_id(struct picks *p, const char *id)
{
    size_t len = strlen(id) + 1;
    struct id_block *b = p->ids;
    if (b == NULL || b->cap - b->used < len) {
        size_t cap = len > ID_BLOCK_BYTES ? len : ID_BLOCK_BYTES;
        b = cli_xmalloc(sizeof *b + cap);
        b->next = p->ids;
        b->used = 0;
        b->cap = cap;
        p->ids = b;
    }
    char *kept = b->data + b->used;
    memcpy(kept, id, len);
    b->used += len;
    return kept;
}

static int collect_pick(const char *id, void *payload)
{
    struct picks *p = payload;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->items = cli_xrealloc(p->items, p->cap * sizeof *p->items);
    }
    p->items[p->n].id = keep_id(p, id);
    p->items[p->n].name = NULL;
    p->items[p->n].status = SMAR_AT_NOT_CREATED;
    p->items[p->n].damaged = 0;
    p->n++;
    return 0;
}

static void free_picks(struct picks *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].name);
    free(p->items);
    while (p->ids != NULL) {
        struct id_block *next = p->ids->next;
        free(p->ids);
        p->ids = next;
    }
}

static int series_failed(cli_series *cs, int rc)
{
    cli_error("%s", smar_series_error(cs->series));
    return cli_exit_archive(rc);
}

/* ---- pass 1: what can be restored ---------------------------------------------------- */

static int exists_at(smar_at_status s)
{
    return s == SMAR_AT_FOUND || s == SMAR_AT_NO_PAYLOAD || s == SMAR_AT_NO_PAYLOAD_RECORDED;
}

/* Written as the snapshot recorded it: with its payload, or without one the service did
 * not have (destroyed, expired, pre-activation, no versions). */
static int restorable_at(smar_at_status s)
{
    return s == SMAR_AT_FOUND || s == SMAR_AT_NO_PAYLOAD_RECORDED;
}

/*
 * Which non-restorable secrets are errors: a version without payload always is; a secret
 * that did not exist at T only when it was asked for by --id, or by --name with no other
 * secret of that name existing at T. A broad selection (all, --type, --group, --label)
 * naturally leaves out what did not exist at T.
 */
static int is_missing(const struct extract_opts *o, const struct picks *p, const struct pick *k)
{
    if (restorable_at(k->status))
        return 0;
    if (k->status == SMAR_AT_NO_PAYLOAD || cli_strlist_contains(&o->sel.ids, k->id))
        return 1;
    if (k->name == NULL || !cli_strlist_contains(&o->sel.names, k->name))
        return 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].name && strcmp(p->items[i].name, k->name) == 0 &&
            exists_at(p->items[i].status))
            return 0;
    return 1;
}

/* Requested ids and names that matched nothing at all. */
static size_t report_unmatched(const struct extract_opts *o, const struct picks *p)
{
    size_t missing = 0;
    for (size_t i = 0; i < o->sel.ids.n; i++) {
        int found = 0;
        for (size_t k = 0; k < p->n && !found; k++)
            found = strcmp(p->items[k].id, o->sel.ids.items[i]) == 0;
        if (!found) {
            cli_error("no secret with id '%s' matches the selection", o->sel.ids.items[i]);
            missing++;
        }
    }
    for (size_t i = 0; i < o->sel.names.n; i++) {
        int found = 0;
        for (size_t k = 0; k < p->n && !found; k++)
            found = p->items[k].name && strcmp(p->items[k].name, o->sel.names.items[i]) == 0;
        if (!found) {
            cli_error("no secret named '%s' matches the selection", o->sel.names.items[i]);
            missing++;
        }
    }
    return missing;
}

/* The folder a secret goes in (dir, tar): its group's name, else its id. */
static const char *group_folder(const smar_at *at)
{
    const char *gid = smar_secret_group_id(at->secret);
    const char *gname = smar_reader_group_name(at->reader, gid);
    return gname ? gname : (*gid ? gid : "no-group");
}

/* dir and tar: a secret whose folders cannot be named is refused before anything is
 * written. */
static int unnamable(const struct extract_opts *o, const smar_at *at)
{
    if ((o->format != FORMAT_DIR && o->format != FORMAT_TAR) || !restorable_at(at->status))
        return 0;
    return cli_tree_check_secret(group_folder(at), smar_secret_type(at->secret),
                                 smar_secret_name(at->secret), smar_secret_id(at->secret));
}

/* Resolve one pick at T into at: its status and name; reported when it is missing so far.
 * With --skip-damaged, a secret only a damaged archive held is marked damaged. */
static int resolve_pick(cli_series *cs, const struct extract_opts *o, smar_time_ns t,
                        struct picks *p, struct pick *k, smar_at *at)
{
    int rc = smar_series_resolve(cs->series, k->id, t, at);
    if (rc == SMAR_E_NOTFOUND && o->skip_damaged && at->damaged_archives > 0) {
        k->damaged = 1; /* only a damaged archive held it */
        return 0;
    }
    if (rc != SMAR_OK)
        return series_failed(cs, rc);
    k->status = at->status;
    if (at->secret != NULL && o->sel.names.n > 0 && k->name == NULL)
        k->name = cli_xstrdup(smar_secret_name(at->secret));
    if (is_missing(o, p, k))
        cli_report_unavailable(k->id, at);
    return 0;
}

static int check_missing(const struct extract_opts *o, const struct picks *p, size_t *restorable);

static int refuse_unnamable(size_t refused)
{
    if (refused == 0)
        return 0;
    cli_error("%zu secret%s cannot be written as folders; nothing written", refused,
              refused == 1 ? "" : "s");
    return CLI_EXIT_FAILURE;
}

/* Every selected id, in the order first met. */
static int select_picks(cli_series *cs, const struct extract_opts *o, struct picks *p)
{
    smar_selection sel;
    cli_sel_to_smar(&o->sel, &sel);
    int rc = smar_series_select(cs->series, &sel, collect_pick, p);
    return rc == SMAR_OK ? 0 : series_failed(cs, rc);
}

static int resolve_all(cli_series *cs, const struct extract_opts *o, smar_time_ns t,
                       struct picks *p, size_t *restorable)
{
    size_t refused = 0;
    int sret = select_picks(cs, o, p);
    if (sret != 0)
        return sret;
    for (size_t i = 0; i < p->n; i++) {
        smar_at at = SMAR_AT_INIT;
        int ret = resolve_pick(cs, o, t, p, &p->items[i], &at);
        if (ret != 0)
            return ret;
        if (!p->items[i].damaged)
            refused += (size_t)unnamable(o, &at);
    }
    int ret = refuse_unnamable(refused);
    return ret != 0 ? ret : check_missing(o, p, restorable);
}

/* After every pick is resolved: requested secrets that cannot be restored at T. */
static int check_missing(const struct extract_opts *o, const struct picks *p, size_t *restorable)
{
    size_t missing = report_unmatched(o, p);
    *restorable = 0;
    for (size_t i = 0; i < p->n; i++) {
        missing += is_missing(o, p, &p->items[i]) ? 1 : 0;
        *restorable += restorable_at(p->items[i].status) ? 1 : 0;
    }
    if (!cli_sel_is_empty(&o->sel) && p->n == 0 && missing == 0) {
        cli_error("no secret matches the selection");
        missing++;
    }
    if (missing > 0 && !o->skip_missing) {
        cli_error("%zu selected secret%s cannot be restored at that time; nothing written "
                  "(use --skip-missing to write the others)",
                  missing, missing == 1 ? "" : "s");
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* ---- pass 2: writing ------------------------------------------------------------------ */

struct sink {
    enum extract_format format;
    cli_out out;                /* export, jsonl */
    smar_export_writer *writer; /* export, jsonl */
    cli_tree *tree;             /* dir, tar */
    size_t written;
};

static int sink_write(void *opaque, const void *buf, size_t len)
{
    return cli_out_write(opaque, buf, len) == 0 ? 0 : -1;
}

/* An export writer error after cli_out already said what failed is not repeated. */
static int writer_failed(struct sink *k, int rc)
{
    if (rc != SMAR_E_IO)
        cli_error("%s", smar_export_writer_error(k->writer));
    return rc == SMAR_E_IO ? CLI_EXIT_FAILURE : cli_exit_other(rc);
}

static int sink_secret(struct sink *k, const smar_at *at, const char *json, size_t len)
{
    if (k->writer != NULL) {
        int rc = smar_export_writer_add(k->writer, json, len);
        if (rc != SMAR_OK)
            return writer_failed(k, rc);
        k->written++;
        return 0;
    }
    const smar_secret *s = at->secret;
    k->written++;
    return cli_tree_add_secret(k->tree, group_folder(at), smar_secret_type(s), smar_secret_name(s),
                               smar_secret_id(s), json, len);
}

/* A full restore (no selection) gives back the configurations; a selective one only when
 * asked: they hold credentials the selected secrets do not need. */
static int with_configurations(const struct extract_opts *o)
{
    return o->configurations || cli_sel_is_empty(&o->sel);
}

static int sink_open(struct sink *k, const struct extract_opts *o, const char *doc, size_t len,
                     smar_time_ns t)
{
    k->format = o->format;
    if (o->format == FORMAT_DIR)
        return cli_tree_open_dir(&k->tree, o->output, o->force, doc, len, with_configurations(o));
    if (o->format == FORMAT_TAR)
        return cli_tree_open_tar(&k->tree, o->output, o->force, t, doc, len,
                                 with_configurations(o));
    unsigned flags = (o->format == FORMAT_JSONL ? SMAR_EXPORT_JSONL : 0) |
                     (with_configurations(o) ? SMAR_EXPORT_CONFIGURATIONS : 0);
    int ret = cli_out_open(&k->out, o->output, o->force);
    if (ret != 0)
        return ret;
    if (smar_export_writer_new(&k->writer, flags, sink_write, &k->out) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int rc = smar_export_writer_begin(k->writer, doc, len);
    return rc == SMAR_OK ? 0 : writer_failed(k, rc);
}

static int sink_close(struct sink *k)
{
    if (k->writer == NULL) {
        cli_tree *t = k->tree;
        k->tree = NULL;
        return cli_tree_close(t);
    }
    int rc = smar_export_writer_finish(k->writer);
    if (rc != SMAR_OK)
        return writer_failed(k, rc);
    return cli_out_commit(&k->out);
}

static void sink_free(struct sink *k)
{
    cli_tree_abort(k->tree);
    cli_out_abort(&k->out);
    smar_export_writer_free(k->writer);
}

/* Damage is left out with --skip-damaged (the secret is listed at the end); anything else
 * stops the restore. */
static int secret_failed(cli_series *cs, const struct extract_opts *o, struct pick *k, int rc)
{
    int ret = series_failed(cs, rc);
    if (ret == CLI_EXIT_DAMAGED && o->skip_damaged) {
        k->damaged = 1;
        return 0;
    }
    return ret;
}

/* Render and write one secret. */
static int write_one(cli_series *cs, const struct extract_opts *o, smar_time_ns t, struct pick *k,
                     struct sink *sk)
{
    smar_at at = SMAR_AT_INIT;
    char *json = NULL;
    size_t len = 0;
    int rc = smar_series_resolve(cs->series, k->id, t, &at);
    if (rc == SMAR_OK && !restorable_at(at.status)) {
        /* an archive left out as damaged since pass 1 changed the answer */
        cli_report_unavailable(k->id, &at);
        k->damaged = 1;
        return o->skip_damaged ? 0 : CLI_EXIT_DAMAGED;
    }
    if (rc == SMAR_OK)
        rc = smar_series_render(cs->series, &at, o->all_versions, &json, &len);
    if (rc != SMAR_OK)
        return secret_failed(cs, o, k, rc);
    int ret = sink_secret(sk, &at, json, len);
    smar_secret_buffer_free(json, len);
    return ret;
}

static size_t report_damaged_secrets(const struct picks *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->items[i].damaged)
            continue;
        char ibuf[128];
        cli_error("secret %s: damaged, not restored",
                  cli_printable(p->items[i].id, ibuf, sizeof ibuf));
        n++;
    }
    return n;
}

static int write_all(cli_series *cs, const struct extract_opts *o, smar_time_ns t, struct picks *p,
                     size_t restorable)
{
    struct sink k;
    memset(&k, 0, sizeof k);
    k.out.fd = k.out.dirfd = k.out.slot = -1;
    const char *doc;
    size_t doclen;
    int rc = smar_series_document(cs->series, t, &doc, &doclen);
    if (rc != SMAR_OK)
        return series_failed(cs, rc);
    cli_progress progress;
    cli_progress_init(&progress, o->quiet);
    int ret = sink_open(&k, o, doc, doclen, t);
    for (size_t i = 0; i < p->n && ret == 0; i++) {
        if (!restorable_at(p->items[i].status))
            continue;
        ret = write_one(cs, o, t, &p->items[i], &k);
        cli_progress_show(&progress, "extract: %zu of %zu secrets", k.written, restorable);
    }
    cli_progress_done(&progress);
    if (ret == 0)
        ret = sink_close(&k);
    sink_free(&k);
    if (ret == 0 && !o->quiet) {
        char tb[SMAR_TIME_BUFSIZE];
        fprintf(stderr, "extracted %zu secret%s as of %s to %s\n", k.written,
                k.written == 1 ? "" : "s", cli_time(tb, t),
                cli_out_is_stdout(o->output) ? "standard output" : o->output);
    }
    return ret;
}

/*
 * Whether the output can be dropped whole after it was begun, so that a refused run still
 * writes nothing without a first pass: a file (export, JSONL, tar), written under a
 * temporary name and renamed at the end, or a folder, whose tree is built under a hidden
 * name (beside a new folder, inside an existing one) and named at the end (extract_dir.c).
 * Such an extract resolves and writes in one pass (folded) and walks the manifest twice
 * (select, then resolve), not three times.
 */
static int can_fold(const struct extract_opts *o)
{
    return o->format == FORMAT_DIR || !cli_out_is_stdout(o->output);
}

/* A pick that makes the run fail whatever the later picks say: nothing more is rendered. */
static int surely_missing(const struct extract_opts *o, const struct pick *k)
{
    return !o->skip_missing && !restorable_at(k->status) && !k->damaged &&
           (k->status == SMAR_AT_NO_PAYLOAD || cli_strlist_contains(&o->sel.ids, k->id));
}

/* Resolve each pick and, when it can be restored, render and write it at once. */
static int resolve_and_write(cli_series *cs, const struct extract_opts *o, smar_time_ns t,
                             struct picks *p, struct sink *k, cli_progress *progress)
{
    int ret = 0, doomed = 0;
    size_t refused = 0;
    for (size_t i = 0; i < p->n && ret == 0; i++) {
        struct pick *pk = &p->items[i];
        smar_at at = SMAR_AT_INIT;
        char *json = NULL;
        size_t len = 0;
        if ((ret = resolve_pick(cs, o, t, p, pk, &at)) != 0)
            break;
        if (!pk->damaged && unnamable(o, &at)) {
            refused++; /* every one is named before the run fails */
            doomed = 1;
            continue;
        }
        doomed |= surely_missing(o, pk);
        if (doomed || pk->damaged || !restorable_at(pk->status))
            continue;
        int rc = smar_series_render(cs->series, &at, o->all_versions, &json, &len);
        if (rc != SMAR_OK) {
            ret = secret_failed(cs, o, pk, rc);
            continue;
        }
        ret = sink_secret(k, &at, json, len);
        smar_secret_buffer_free(json, len);
        cli_progress_show(progress, "extract: %zu of %zu secrets", k->written, p->n);
    }
    return ret == 0 ? refuse_unnamable(refused) : ret;
}

static int extract_folded(cli_series *cs, const struct extract_opts *o, smar_time_ns t,
                          struct picks *p)
{
    struct sink k;
    memset(&k, 0, sizeof k);
    k.out.fd = k.out.dirfd = k.out.slot = -1;
    const char *doc;
    size_t doclen, restorable = 0;
    int ret = select_picks(cs, o, p);
    if (ret != 0)
        return ret;
    int rc = smar_series_document(cs->series, t, &doc, &doclen);
    if (rc != SMAR_OK)
        return series_failed(cs, rc);
    cli_progress progress;
    cli_progress_init(&progress, o->quiet);
    ret = sink_open(&k, o, doc, doclen, t);
    if (ret == 0)
        ret = resolve_and_write(cs, o, t, p, &k, &progress);
    cli_progress_done(&progress);
    if (ret == 0)
        ret = check_missing(o, p, &restorable); /* on failure the file begun is deleted */
    if (ret == 0)
        ret = sink_close(&k);
    sink_free(&k);
    if (ret == 0 && !o->quiet) {
        char tb[SMAR_TIME_BUFSIZE];
        fprintf(stderr, "extracted %zu secret%s as of %s to %s\n", k.written,
                k.written == 1 ? "" : "s", cli_time(tb, t), o->output);
    }
    return ret;
}

/* --verify: every archive of the series checked whole, keyless and keyed (chunk hashes,
 * root, signature, every chunk's decryption and every payload's hash), before anything is
 * written: verify and restore in one command read the same bytes, so an object cannot be
 * swapped between them. */
static int verify_series(const cli_series *cs)
{
    int ret = 0;
    for (size_t i = 0; i < cs->n; i++) {
        if (cs->readers[i] == NULL) /* listed under a prefix, not needed by this query */
            continue;
        int rc =
            smar_reader_verify(cs->readers[i], SMAR_VERIFY_KEYED, NULL, NULL, NULL, NULL, NULL);
        if (rc != SMAR_OK) {
            cli_error_lib(cs->paths[i], smar_reader_error(cs->readers[i]));
            ret = cli_exit_worst(ret, cli_exit_archive(rc));
        }
    }
    if (ret != 0)
        cli_error("--verify: nothing written");
    return ret;
}

static int run_extract(int n, char **paths, const struct extract_opts *o)
{
    if (o->format != FORMAT_DIR) {
        int ret = cli_out_check(o->output, o->force);
        if (ret != 0)
            return ret;
    }
    if (o->format == FORMAT_TAR && cli_out_is_stdout(o->output) && isatty(STDOUT_FILENO)) {
        cli_error("refusing to write a tar stream to a terminal");
        return CLI_EXIT_USAGE;
    }
    cli_series cs;
    struct picks p = {0};
    size_t restorable = 0;
    int ret = cli_series_open(&cs, &o->keys, o->threads, o->skip_damaged, n, paths);
    if (ret == 0 && o->verify_first)
        ret = verify_series(&cs);
    if (ret == 0) {
        smar_time_ns t = o->at != SMAR_TIME_NONE ? o->at : smar_series_latest(cs.series);
        if (can_fold(o))
            ret = extract_folded(&cs, o, t, &p);
        else if ((ret = resolve_all(&cs, o, t, &p, &restorable)) == 0)
            ret = write_all(&cs, o, t, &p, restorable);
        size_t damaged = report_damaged_secrets(&p) + cli_series_report_damaged(&cs);
        if (damaged > 0)
            ret = cli_exit_worst(ret, CLI_EXIT_DAMAGED);
    }
    free_picks(&p);
    cli_series_close(&cs);
    return ret;
}

/* ---- options ----------------------------------------------------------------------- */

static int parse_format(const char *text, enum extract_format *out)
{
    if (strcmp(text, "export") == 0)
        *out = FORMAT_EXPORT;
    else if (strcmp(text, "jsonl") == 0)
        *out = FORMAT_JSONL;
    else if (strcmp(text, "dir") == 0)
        *out = FORMAT_DIR;
    else if (strcmp(text, "tar") == 0)
        *out = FORMAT_TAR;
    else
        return -1;
    return 0;
}

static int parse_extract_args(int argc, char **argv, struct extract_opts *o)
{
    enum {
        OPT_AT = 256,
        OPT_ALL,
        OPT_SKIP,
        OPT_SKIP_DAMAGED,
        OPT_CONFIGURATIONS,
        OPT_FORMAT,
        OPT_THREADS,
        OPT_VERIFY
    };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"at", required_argument, NULL, OPT_AT},
        {"all-versions", no_argument, NULL, OPT_ALL},
        {"skip-missing", no_argument, NULL, OPT_SKIP},
        {"skip-damaged", no_argument, NULL, OPT_SKIP_DAMAGED},
        {"configurations", no_argument, NULL, OPT_CONFIGURATIONS},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_SELECTION_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:o:fqh", longopts, NULL)) != -1) {
        if (cli_sel_option(&o->sel, c, optarg))
            continue;
        switch (c) {
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, extract_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case OPT_VERIFY:
            o->verify_first = 1;
            break;
        case OPT_AT:
            if (cli_parse_time(optarg, &o->at) != 0)
                return cli_usage_error(extract_usage, "--at '%s' is not an RFC 3339 time or a date",
                                       optarg);
            break;
        case OPT_ALL:
            o->all_versions = 1;
            break;
        case OPT_SKIP:
            o->skip_missing = 1;
            break;
        case OPT_SKIP_DAMAGED:
            o->skip_damaged = 1;
            break;
        case OPT_CONFIGURATIONS:
            o->configurations = 1;
            break;
        case OPT_FORMAT:
            if (parse_format(optarg, &o->format) != 0)
                return cli_usage_error(
                    extract_usage, "--format '%s' is not one of export, jsonl, dir, tar", optarg);
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, extract_usage, &o->threads) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(extract_usage, c, argv);
        }
    }
    if (o->output == NULL)
        return cli_usage_error(extract_usage, "-o OUT is required");
    if (o->format == FORMAT_DIR && strcmp(o->output, "-") == 0)
        return cli_usage_error(extract_usage, "--format dir needs a folder, not -");
    if (optind >= argc)
        return cli_usage_error(extract_usage, "at least one ARCHIVE is required");
    return 0;
}

int cmd_extract(int argc, char **argv)
{
    struct extract_opts o;
    memset(&o, 0, sizeof o);
    o.at = SMAR_TIME_NONE;
    o.threads = cli_default_threads();
    int ret = parse_extract_args(argc, argv, &o);
    if (ret == 0 && (ret = cli_pin_producers()) == 0)
        ret = run_extract(argc - optind, argv + optind, &o);
    else if (ret < 0)
        ret = cli_help(extract_usage);
    cli_strlist_free(&o.keys);
    cli_sel_free(&o.sel);
    return ret;
}
