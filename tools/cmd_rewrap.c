/*
 * cmd_rewrap.c - smar rewrap: a copy of an archive with its key slots rewrapped to the
 * current versions of their root keys, added or removed; chunks copied, not re-encrypted,
 * the producer's signature unchanged (smar_rewrap, smar/rewrap.h).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char rewrap_usage[] =
    "usage: smar rewrap [--key FILE]... [--add-key FILE]... [--remove-key KEY-ID]...\n"
    "                   [--pubkey PUB]... [--no-signer-check] [--force] [--retain-until T]\n"
    "                   -o OUT ARCHIVE\n"
    "\n"
    "    -k, --key FILE       a key that opens ARCHIVE; its slot is rewrapped to the key's\n"
    "                         current version (unless removed). Default: $SMAR_KEY_FILE\n"
    "    --add-key FILE       give this key (a keyring, or a recipient FILE.pub) a new slot\n"
    "    --remove-key KEY-ID  remove every slot of this key id\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                         the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB         refuse ARCHIVE unless signed by this producer (repeatable:\n"
    "                         any of them; default: $SMAR_PUBKEY), before anything is written\n"
    "    --no-signer-check    rewrap an archive opened through a public-key recipient\n"
    "                         without a pinned producer (unsafe: anyone can make one)\n"
    "    -o, --output OUT     the new archive (never ARCHIVE itself)\n"
    "    -f, --force          replace OUT if it is a regular file (or an object)\n"
    "    --retain-until T     s3:// OUT: Object Lock retention (COMPLIANCE) until T\n"
    "\n"
    "chunks are copied unchanged and checked on the way; the signature stays valid\n";

enum { OPT_ADD_KEY = 1, OPT_REMOVE_KEY, OPT_RETAIN };

struct rewrap_opts {
    cli_strlist keys, add_keys, remove_ids;
    const char *output;
    smar_time_ns retain_until; /* 0: none */
    int force, no_signer_check;
};

static int parse_rewrap_args(int argc, char **argv, struct rewrap_opts *o)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"add-key", required_argument, NULL, OPT_ADD_KEY},
        {"remove-key", required_argument, NULL, OPT_REMOVE_KEY},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"retain-until", required_argument, NULL, OPT_RETAIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case OPT_ADD_KEY:
            cli_strlist_push(&o->add_keys, optarg);
            break;
        case OPT_REMOVE_KEY:
            cli_strlist_push(&o->remove_ids, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, rewrap_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            o->no_signer_check = 1;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case OPT_RETAIN:
            if (cli_retain_until_option(optarg, rewrap_usage, &o->retain_until) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(rewrap_usage, c, argv);
        }
    }
    if (o->output == NULL)
        return cli_usage_error(rewrap_usage, "-o OUT is required");
    if (cli_out_is_stdout(o->output))
        return cli_usage_error(rewrap_usage, "-o needs a file: an archive is not written to "
                                             "standard output");
    if (optind + 1 != argc)
        return cli_usage_error(rewrap_usage, "exactly one ARCHIVE is required");
    return cli_retain_until_check(o->retain_until, o->output, rewrap_usage);
}

/* The output as a libsmar sink over cli_out (atomic publish, signal cleanup, the recheck
 * of the name before it is replaced). Its commit first refuses an archive opened through a
 * public-key recipient without a pinned producer: that is known only once smar_rewrap
 * has unlocked the archive, and nothing is published then. */
struct rewrap_sink {
    cli_out out;
    smar_reader *r;
    const char *path;
    int pinned;
    int exit_code; /* the exit code of a failed write or commit, reported already */
};

/* An s3:// OUT is the upload's own sink (cli_out buffers only files); its errors are
 * reported by smar_rewrap. */
static smar_io_result sink_write(void *opaque, const void *buf, size_t len,
                                 char err[SMAR_IO_ERROR_MAX])
{
    struct rewrap_sink *s = opaque;
    smar_sink upload;
    if (cli_s3_out_sink(&s->out, &upload))
        return upload.write(upload.opaque, buf, len, err);
    if ((s->exit_code = cli_out_write(&s->out, buf, len)) != 0) {
        snprintf(err, SMAR_IO_ERROR_MAX, "(reported above)");
        return SMAR_IO_FAILED;
    }
    return SMAR_IO_OK;
}

static smar_io_result sink_commit(void *opaque, char err[SMAR_IO_ERROR_MAX])
{
    struct rewrap_sink *s = opaque;
    smar_sink upload;
    if ((s->exit_code = cli_check_opener(s->path, s->r, s->pinned)) != 0) {
        cli_out_abort(&s->out);
        snprintf(err, SMAR_IO_ERROR_MAX, "(reported above)");
        return SMAR_IO_FAILED;
    }
    if (cli_s3_out_sink(&s->out, &upload)) {
        smar_io_result res = upload.commit(upload.opaque, err); /* completes the upload */
        if (res != SMAR_IO_OK)
            return res;
    }
    if ((s->exit_code = cli_out_commit(&s->out)) != 0) {
        cli_out_abort(&s->out);
        snprintf(err, SMAR_IO_ERROR_MAX, "(reported above)");
        return SMAR_IO_FAILED;
    }
    return SMAR_IO_OK;
}

/* An s3:// OUT copies header .. table server-side where it can (UploadPartCopy). */
static smar_io_result sink_copy(void *opaque, const smar_source *src, uint64_t offset, uint64_t len,
                                char err[SMAR_IO_ERROR_MAX])
{
    struct rewrap_sink *s = opaque;
    smar_sink upload;
    if (!cli_s3_out_sink(&s->out, &upload) || upload.version < 2 || upload.copy == NULL)
        return SMAR_IO_UNSUPPORTED;
    return upload.copy(upload.opaque, src, offset, len, err); /* smar_rewrap reports err */
}

static void sink_abort(void *opaque)
{
    cli_out_abort(&((struct rewrap_sink *)opaque)->out);
}

/* The --key keyrings to rewrap: those whose ids are not removed. */
static size_t rewrap_list(smar_keyring **keys, size_t n, const cli_strlist *remove_ids,
                          smar_keyring **out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!cli_strlist_contains(remove_ids, smar_keyring_id(keys[i])))
            out[m++] = keys[i];
    return m;
}

static void print_summary(const char *out, const smar_rewrap_result *res)
{
    char size[32];
    printf("%s: slots %u -> %u (%u rewrapped, %u added, %u removed, %u kept), %s copied "
           "unchanged\n",
           out, res->slots_before, res->slots_after, res->rewrapped, res->added, res->removed,
           res->kept, cli_bytes(size, res->bytes_copied));
}

static int do_rewrap(const char *path, const struct rewrap_opts *o, smar_keyring **keys,
                     size_t nkeys, smar_keyring **add, size_t nadd, int pinned)
{
    struct rewrap_sink s = {.path = path, .pinned = pinned};
    smar_keyring **again = cli_xmalloc((nkeys ? nkeys : 1) * sizeof *again);
    smar_rewrap_options opts = SMAR_REWRAP_OPTIONS_INIT;
    smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
    smar_sink sink = {SMAR_SINK_VERSION, &s, sink_write, sink_commit, sink_abort, sink_copy};
    int ret = cli_open_archive(path, &s.r); /* notes ARCHIVE as an input; pins */
    if (ret == 0 && (ret = cli_out_check(o->output, o->force)) == 0)
        ret = cli_out_open(&s.out, o->output, o->force);
    if (ret != 0)
        goto done;
    opts.rewrap_keys = again;
    opts.rewrap_count = rewrap_list(keys, nkeys, &o->remove_ids, again);
    opts.add_keys = add;
    opts.add_count = nadd;
    opts.remove_ids = o->remove_ids.items;
    opts.remove_count = o->remove_ids.n;
    int rc = smar_rewrap(s.r, keys, nkeys, &opts, &sink, &res);
    if (rc == SMAR_OK)
        print_summary(o->output, &res);
    else if (s.exit_code != 0)
        ret = s.exit_code; /* the output's own failure, reported */
    else {
        cli_error_lib(path, smar_reader_error(s.r));
        ret =
            rc == SMAR_E_INVALID || rc == SMAR_E_NOTFOUND ? CLI_EXIT_FAILURE : cli_exit_archive(rc);
    }
done:
    smar_reader_free(s.r);
    free(again);
    return ret;
}

static int run_rewrap(const char *path, const struct rewrap_opts *o)
{
    smar_keyring **keys = NULL, **add = NULL;
    size_t nkeys = 0, nadd = 0;
    uint8_t *pubkeys = NULL;
    size_t npub = 0;
    int ret = cli_load_pubkeys(&pubkeys, &npub); /* only to know whether one is pinned */
    free(pubkeys);
    if (ret == 0)
        ret = cli_load_keyrings(&o->keys, &keys, &nkeys);
    if (ret == 0 && o->add_keys.n > 0)
        ret = cli_load_keyrings(&o->add_keys, &add, &nadd);
    if (ret == 0)
        ret = do_rewrap(path, o, keys, nkeys, add, nadd, npub > 0);
    cli_free_keyrings(keys, nkeys);
    cli_free_keyrings(add, nadd);
    return ret;
}

int cmd_rewrap(int argc, char **argv)
{
    struct rewrap_opts o;
    memset(&o, 0, sizeof o);
    int ret = parse_rewrap_args(argc, argv, &o);
    if (ret == 0 && (ret = cli_pin_producers()) == 0)
        ret = run_rewrap(argv[optind], &o);
    cli_strlist_free(&o.keys);
    cli_strlist_free(&o.add_keys);
    cli_strlist_free(&o.remove_ids);
    return ret < 0 ? cli_help(rewrap_usage) : ret;
}
