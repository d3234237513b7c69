/*
 * cmd_create.c - smar create: an instance export in, one encrypted archive out.
 *
 * The archive goes to a temporary file beside its final name and is renamed only after
 * the writer's trailer is down and synced: on any error nothing is left behind.
 */
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char create_usage[] =
    "usage: smar create [--key FILE]... [--sign KEY] [--snapshot-time T] [--chunk-size N]\n"
    "                   [--threads N] [--force] [-q] [--retain-until T] [--json]\n"
    "                   [--metrics-file FILE] [--base SERIES]... [--full-every N]\n"
    "                   -o ARCHIVE INPUT\n"
    "\n"
    "    INPUT                  an instance export: JSON or JSONL (plain or compressed),\n"
    "                           a directory, a tar (plain, gzip, zstd, xz, bzip2) or\n"
    "                           zip of one, or -\n"
    "    -o, --output ARCHIVE   the archive to write (- for standard output)\n"
    "    -k, --key FILE         root keyring wrapping the data key; repeat for one key\n"
    "                           slot per keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                           the passphrase of KEYFILE is in PASSFILE\n"
    "    --sign KEY             sign the archive with this producer signing key\n"
    "    --snapshot-time T      snapshot time (RFC 3339, a date or now), not before the\n"
    "                           export's newest version; default: its exported_at\n"
    "    --chunk-size N         plaintext bytes per chunk, k and m suffixes allowed\n"
    "                           (64k..16m, default 1m)\n"
    "    --threads N            threads splitting secrets and sealing chunks (default: all cores)\n"
    "    -f, --force            replace ARCHIVE if it exists\n"
    "    --retain-until T       s3:// ARCHIVE: Object Lock retention (COMPLIANCE) until T\n"
    "    --json                 the summary as one JSON object on standard output\n"
    "    --metrics-file FILE    write Prometheus textfile-collector metrics to FILE\n"
    "    --base SERIES          make an incremental archive against the newest earlier\n"
    "                           archive of SERIES (archives, a folder or an s3:// prefix;\n"
    "                           unlocked with the --key keys)\n"
    "    --full-every N         with --base: a full archive when the chain would exceed N\n"
    "                           archives (1..64, default 24)\n"
    "                           (replaced atomically) once the archive is made\n"
    "    -q, --quiet            no progress and no summary\n";

struct create_opts {
    cli_strlist keys;
    const char *sign;
    const char *output;
    const char *input;
    smar_time_ns snapshot;
    smar_time_ns retain_until; /* 0: none */
    uint32_t chunk_size;
    uint32_t threads;
    int force;
    int quiet;
    int json;
    const char *metrics_file;
    cli_strlist bases; /* --base: the series the new archive is made against */
    unsigned full_every;
};

/* Everything create holds, released in one place. */
struct create_state {
    const struct create_opts *o;
    smar_keyring **keys;
    size_t nkeys;
    smar_signkey *signer;
    smar_export *ex;
    smar_writer *w;
    cli_out out;
    int snapshot_set;
    cli_progress progress;
    char *instance; /* the export's instance CRN (else guid), for the metrics; or NULL */
    double started; /* CLOCK_MONOTONIC seconds at the start */
    /* Where the last secrets came from: the writer may report a secret's error a few
     * secrets later (smar_writer_failed_secret), and the message must name the right one. */
    char *origin[SMAR_WRITER_MAX_IN_FLIGHT + 1];
    uint64_t added;
    char *named_output; /* -o s3://BUCKET/PREFIX/: the object's URL, named from the export */
    /* --base: the series, and the archive the new one is made against (NULL: full) */
    cli_series base_series;
    int have_base_series;
    smar_reader *parent;
    const char *base_path;
    char full_why[160]; /* why a full archive was made although --base was given */
};

#define ORIGINS (SMAR_WRITER_MAX_IN_FLIGHT + 1)

/* "64k", "1m" or plain bytes. */
static int parse_size(const char *text, uint32_t *out)
{
    char buf[32];
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len + 1);
    uint32_t mult = 1;
    char last = buf[len - 1];
    if (last == 'k' || last == 'K')
        mult = 1024;
    else if (last == 'm' || last == 'M')
        mult = 1024 * 1024;
    if (mult != 1)
        buf[len - 1] = '\0';
    uint32_t v;
    if (cli_parse_u32(buf, 1, UINT32_MAX / mult, &v) != 0)
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_create_args(int argc, char **argv, struct create_opts *o)
{
    enum {
        OPT_SIGN = 256,
        OPT_SNAPSHOT,
        OPT_CHUNK,
        OPT_THREADS,
        OPT_RETAIN,
        OPT_JSON,
        OPT_METRICS,
        OPT_BASE,
        OPT_FULL_EVERY
    };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"sign", required_argument, NULL, OPT_SIGN},
        {"snapshot-time", required_argument, NULL, OPT_SNAPSHOT},
        {"chunk-size", required_argument, NULL, OPT_CHUNK},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"retain-until", required_argument, NULL, OPT_RETAIN},
        {"json", no_argument, NULL, OPT_JSON},
        {"metrics-file", required_argument, NULL, OPT_METRICS},
        {"base", required_argument, NULL, OPT_BASE},
        {"full-every", required_argument, NULL, OPT_FULL_EVERY},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:o:fqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, create_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_SIGN:
            o->sign = optarg;
            break;
        case OPT_SNAPSHOT:
            if (cli_parse_time(optarg, &o->snapshot) != 0)
                return cli_usage_error(create_usage,
                                       "--snapshot-time '%s' is not an RFC 3339 "
                                       "time or a date",
                                       optarg);
            break;
        case OPT_CHUNK:
            if (parse_size(optarg, &o->chunk_size) != 0 || o->chunk_size < SMAR_CHUNK_SIZE_MIN ||
                o->chunk_size > SMAR_CHUNK_SIZE_MAX)
                return cli_usage_error(create_usage,
                                       "--chunk-size '%s' is not a size from %uk to %um", optarg,
                                       SMAR_CHUNK_SIZE_MIN >> 10, SMAR_CHUNK_SIZE_MAX >> 20);
            break;
        case OPT_THREADS:
            if (cli_parse_threads(optarg, create_usage, &o->threads) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_RETAIN:
            if (cli_retain_until_option(optarg, create_usage, &o->retain_until) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_METRICS:
            o->metrics_file = optarg;
            break;
        case OPT_BASE:
            cli_strlist_push(&o->bases, optarg);
            break;
        case OPT_FULL_EVERY: {
            char *end = NULL;
            unsigned long n = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || n < 1 || n > 64)
                return cli_usage_error(create_usage,
                                       "--full-every '%s' is not a number from 1 to 64", optarg);
            o->full_every = (unsigned)n;
            break;
        }
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
            return cli_option_error(create_usage, c, argv);
        }
    }
    if (o->output == NULL)
        return cli_usage_error(create_usage, "-o ARCHIVE is required");
    if (optind + 1 != argc)
        return cli_usage_error(create_usage, "exactly one INPUT is required");
    o->input = argv[optind];
    if (o->json && cli_out_is_stdout(o->output))
        return cli_usage_error(create_usage,
                               "--json needs -o ARCHIVE to name a file: standard output holds "
                               "the archive");
    if (o->metrics_file != NULL && cli_out_is_stdout(o->metrics_file))
        return cli_usage_error(create_usage, "--metrics-file needs a file name");
    return cli_retain_until_check(o->retain_until, o->output, create_usage);
}

/* The "id" of a secret's JSON text, for messages ("" when it has none). */
static char *secret_id_of(const char *json, size_t len)
{
    const char *v;
    size_t vlen;
    char *id = NULL;
    size_t idlen = 0;
    if (smar_json_find_member(json, len, "id", &v, &vlen) != SMAR_OK ||
        smar_json_unquote(v, vlen, &id, &idlen) != SMAR_OK)
        return cli_xstrdup("");
    return id;
}

/* The input, and where in it a secret came from. */
static void describe_origin(struct create_state *st, const char *loc, char *where, size_t cap)
{
    const char *input = st->o->input;
    if (loc == NULL || *loc == '\0')
        snprintf(where, cap, "%s", input);
    else if (strstr(loc, input) == loc)
        snprintf(where, cap, "%s", loc);
    else
        snprintf(where, cap, "%s: %s", input, loc);
}

/* A message naming the input, where in it, and which secret. json is the secret just
 * added; the writer may be reporting an earlier one. */
static void report_secret_error(struct create_state *st, const char *json, size_t len,
                                const char *libmsg)
{
    uint64_t failed = smar_writer_failed_secret(st->w);
    char where[1024];
    if (failed == 0 || failed > st->added || st->added - failed >= ORIGINS) {
        cli_error_lib(st->o->input, libmsg); /* not about one secret we can place */
        return;
    }
    describe_origin(st, st->origin[(failed - 1) % ORIGINS], where, sizeof where);
    /* an earlier secret's message names it by id whenever it has one */
    char *id = json && failed == st->added ? secret_id_of(json, len) : cli_xstrdup("");
    char idbuf[160];
    cli_printable(id, idbuf, sizeof idbuf);
    if (*id == '\0' || strstr(libmsg, id) != NULL)
        cli_error("%s: %s", where, libmsg);
    else
        cli_error("%s: secret %s: %s", where, idbuf, libmsg);
    free(id);
}

/* Remember where the secret about to be added came from. */
static void note_origin(struct create_state *st)
{
    const char *loc = smar_export_location(st->ex);
    char **slot = &st->origin[st->added % ORIGINS];
    free(*slot);
    *slot = cli_xstrdup(loc ? loc : "");
    st->added++;
}

/* Set the snapshot time from exported_at as soon as the export reader has seen it. */
static int take_exported_at(struct create_state *st)
{
    smar_time_ns t;
    if (st->snapshot_set)
        return 0;
    int rc = smar_export_exported_at(st->ex, &t);
    if (rc == SMAR_E_NOTFOUND)
        return 0;
    if (rc != SMAR_OK) {
        cli_error("%s: exported_at is not an RFC 3339 time: give --snapshot-time", st->o->input);
        return CLI_EXIT_FAILURE;
    }
    if (smar_writer_set_snapshot_time(st->w, t) != SMAR_OK) {
        cli_error("%s: exported_at comes too late in the export to be the snapshot time: "
                  "give --snapshot-time",
                  st->o->input);
        return CLI_EXIT_FAILURE;
    }
    st->snapshot_set = 1;
    return 0;
}

static int writer_error(struct create_state *st, int rc)
{
    const char *msg = smar_writer_error(st->w);
    if (rc == SMAR_E_IO)
        cli_error("cannot write '%s': %s", st->out.display, msg);
    else
        report_secret_error(st, NULL, 0, msg); /* or the input alone, when not a secret's */
    return CLI_EXIT_FAILURE;
}

static int open_writer(struct create_state *st)
{
    const struct create_opts *o = st->o;
    if (smar_writer_new(&st->w) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < st->nkeys; i++) {
        int rc = smar_writer_add_key(st->w, st->keys[i]);
        if (rc != SMAR_OK)
            return writer_error(st, rc);
    }
    if (st->signer != NULL) {
        int rc = smar_writer_set_signer(st->w, st->signer);
        if (rc != SMAR_OK)
            return writer_error(st, rc);
    }
    if (st->parent != NULL) {
        int rc = smar_writer_set_base(st->w, st->parent);
        if (rc != SMAR_OK) {
            cli_error("cannot make an incremental archive against '%s': %s",
                      st->base_path ? st->base_path : "the base", smar_writer_error(st->w));
            return cli_exit_archive(rc);
        }
    }
    /* A snapshot time the user gives must not be before anything the export holds. */
    if (o->snapshot != SMAR_TIME_NONE) {
        int rc = smar_writer_refuse_later_versions(st->w);
        if (rc != SMAR_OK)
            return writer_error(st, rc);
    }
    smar_writer_options wo = SMAR_WRITER_OPTIONS_INIT;
    wo.chunk_size = o->chunk_size;
    wo.threads = o->threads;
    wo.snapshot_time = o->snapshot;
    st->snapshot_set = o->snapshot != SMAR_TIME_NONE;
    smar_sink upload;
    int rc = cli_s3_out_sink(&st->out, &upload) ? smar_writer_open_sink(st->w, &upload, &wo)
                                                : smar_writer_open_fd(st->w, st->out.fd, &wo);
    return rc == SMAR_OK ? 0 : writer_error(st, rc);
}

static int add_all_secrets(struct create_state *st)
{
    const char *json;
    size_t len;
    int rc, ret;
    while ((rc = smar_export_next_secret(st->ex, &json, &len)) == SMAR_OK) {
        if ((ret = take_exported_at(st)) != 0)
            return ret;
        note_origin(st);
        rc = smar_writer_add_secret(st->w, json, len);
        if (rc == SMAR_E_IO)
            return writer_error(st, rc);
        if (rc != SMAR_OK) {
            report_secret_error(st, json, len, smar_writer_error(st->w));
            return CLI_EXIT_FAILURE;
        }
        uint64_t secrets, bytes;
        char bbuf[32];
        smar_writer_progress(st->w, &secrets, &bytes);
        cli_progress_show(&st->progress, "create: %llu secrets, %s written",
                          (unsigned long long)secrets, cli_bytes(bbuf, bytes));
    }
    if (rc != SMAR_DONE) {
        /* a secret before the reader's error may be bad too: it is the first to report */
        if ((rc = smar_writer_drain(st->w)) != SMAR_OK)
            return writer_error(st, rc);
        cli_error_lib(st->o->input, smar_export_error(st->ex));
        return CLI_EXIT_FAILURE;
    }
    if ((ret = take_exported_at(st)) != 0)
        return ret;
    if (!st->snapshot_set) {
        cli_error("%s: the export has no exported_at: give --snapshot-time", st->o->input);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* A string member of the object text json, decoded; NULL when absent or not a string. */
static char *string_member(const char *json, size_t len, const char *name)
{
    const char *v;
    size_t vlen;
    char *out = NULL;
    size_t outlen;
    if (smar_json_find_member(json, len, name, &v, &vlen) != SMAR_OK || vlen == 0 || v[0] != '"' ||
        smar_json_unquote(v, vlen, &out, &outlen) != SMAR_OK)
        return NULL;
    char *copy = cli_xstrdup(out);
    smar_secret_buffer_free(out, outlen);
    return copy;
}

/* The export document's "instance": its crn, else its guid, else NULL. Only these two
 * members are read (the document also carries configurations, which hold credentials). */
static char *instance_of(const char *doc, size_t len)
{
    const char *inst;
    size_t ilen;
    if (smar_json_find_member(doc, len, "instance", &inst, &ilen) != SMAR_OK || ilen == 0 ||
        inst[0] != '{')
        return NULL;
    char *id = string_member(inst, ilen, "crn");
    return id != NULL ? id : string_member(inst, ilen, "guid");
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int finish_archive(struct create_state *st)
{
    const char *doc;
    size_t doclen;
    int rc = smar_export_document(st->ex, &doc, &doclen);
    if (rc != SMAR_OK) {
        cli_error_lib(st->o->input, smar_export_error(st->ex));
        return CLI_EXIT_FAILURE;
    }
    st->instance = instance_of(doc, doclen);
    if ((rc = smar_writer_set_document(st->w, doc, doclen)) != SMAR_OK)
        return writer_error(st, rc);
    if ((rc = smar_writer_finish(st->w)) != SMAR_OK)
        return writer_error(st, rc);
    cli_progress_done(&st->progress);
    return cli_out_commit(&st->out);
}

static void print_summary(struct create_state *st)
{
    uint64_t secrets, bytes;
    char bbuf[32];
    smar_writer_progress(st->w, &secrets, &bytes);
    fprintf(stderr, "created %s: %llu secrets, %s\n",
            st->out.is_stdout  ? "archive on standard output"
            : st->named_output ? st->named_output
                               : st->o->output,
            (unsigned long long)secrets, cli_bytes(bbuf, bytes));
    if (st->parent != NULL) {
        smar_writer_stats ws = SMAR_WRITER_STATS_INIT;
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        char hex[33];
        smar_writer_stats_get(st->w, &ws);
        smar_reader_info(st->parent, &info);
        smar_archive_id_hex(info.archive_id, hex);
        fprintf(stderr,
                "incremental against %s (%s; chain of %zu archives): %llu secrets unchanged, "
                "%llu payloads referenced\n",
                st->base_path, hex, ws.base_count + 1, (unsigned long long)ws.same_as_base,
                (unsigned long long)ws.payloads_referenced);
    } else if (st->full_why[0]) {
        fprintf(stderr, "full archive: %s\n", st->full_why);
    }
}

/* create --json: one object on standard output. */
static int print_json_summary(struct create_state *st, const smar_writer_stats *ws, double secs)
{
    char hex[33];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "output", st->named_output ? st->named_output : st->o->output);
    smar_archive_id_hex(ws->archive_id, hex);
    cJSON_AddStringToObject(j, "archive_id", hex);
    cli_json_add_time(j, "snapshot", ws->snapshot);
    cli_json_add_u64(j, "secrets", ws->secrets);
    cli_json_add_u64(j, "versions", ws->versions);
    cli_json_add_u64(j, "payload_records", ws->payload_records);
    cli_json_add_u64(j, "payload_bytes", ws->payload_bytes);
    cli_json_add_u64(j, "stored_bytes", ws->stored_bytes);
    cJSON_AddBoolToObject(j, "full", ws->base_count == 0);
    cJSON_AddBoolToObject(j, "incremental", ws->base_count > 0);
    cJSON *bases = cJSON_AddArrayToObject(j, "base_ids");
    for (size_t i = 0; st->parent && i < ws->base_count; i++) {
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        smar_base_info b = SMAR_BASE_INFO_INIT;
        if (i == 0 && smar_reader_info(st->parent, &info) == SMAR_OK)
            smar_archive_id_hex(info.archive_id, hex);
        else if (i > 0 && smar_reader_base(st->parent, i - 1, &b) == SMAR_OK)
            smar_archive_id_hex(b.archive_id, hex);
        else
            continue;
        cJSON_AddItemToArray(bases, cJSON_CreateString(hex));
    }
    if (st->full_why[0])
        cJSON_AddStringToObject(j, "full_because", st->full_why);
    cJSON_AddBoolToObject(j, "signed", st->signer != NULL);
    cJSON_AddNumberToObject(j, "seconds", (double)(long long)(secs * 1000.0 + 0.5) / 1000.0);
    return cli_json_print(j);
}

/* A Prometheus label value, quoted: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *name, const char *v, const char *sep)
{
    fprintf(f, "%s%s=\"", sep, name);
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

/* The metrics text (Prometheus text exposition format), in a memory buffer. */
static char *metrics_text(const struct create_state *st, const smar_writer_stats *ws, double secs,
                          size_t *len)
{
    static const struct {
        const char *name, *help;
    } m[] = {
        {"smar_backup_last_success_timestamp", "Unix time of the last archive made (seconds)"},
        {"smar_backup_secrets", "Secrets in the last archive"},
        {"smar_backup_bytes", "Size of the last archive (bytes)"},
        {"smar_backup_duration_seconds", "How long making the last archive took (seconds)"},
    };
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        return NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double values[] = {(double)now.tv_sec, (double)ws->secrets, (double)ws->stored_bytes, secs};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{", m[i].name, m[i].help, m[i].name,
                m[i].name);
        put_label(f, "instance", st->instance != NULL ? st->instance : "", "");
        put_label(f, "output", st->named_output ? st->named_output : st->o->output, ",");
        fprintf(f, "} %.17g\n", values[i]);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* --metrics-file: replaced atomically (cli_out: libsmar's file sink), only ever a regular
 * file. */
static int write_metrics(const struct create_state *st, const smar_writer_stats *ws, double secs)
{
    size_t len = 0;
    char *text = metrics_text(st, ws, secs, &len);
    if (text == NULL) {
        cli_error("%s: cannot build the metrics", st->o->metrics_file);
        return CLI_EXIT_FAILURE;
    }
    cli_out out = {.fd = -1, .slot = -1};
    int ret = cli_out_open(&out, st->o->metrics_file, 1);
    /* No secret in it, and the exporter reading it runs as another user. */
    if (ret == 0 && fchmod(out.fd, 0644) != 0) {
        cli_error("%s: cannot set its mode: %s", st->o->metrics_file, strerror(errno));
        ret = CLI_EXIT_FAILURE;
    }
    if (ret == 0)
        ret = cli_out_write(&out, text, len);
    if (ret == 0)
        ret = cli_out_commit(&out);
    cli_out_abort(&out);
    free(text);
    return ret;
}

/* The --json summary and the --metrics-file, once the archive is in place. */
static int report_archive(struct create_state *st)
{
    smar_writer_stats ws = SMAR_WRITER_STATS_INIT;
    if (smar_writer_stats_get(st->w, &ws) != SMAR_OK) {
        cli_error("%s: no summary of the archive", st->o->output);
        return CLI_EXIT_FAILURE;
    }
    double secs = monotonic_seconds() - st->started;
    int ret = 0;
    if (st->o->metrics_file != NULL)
        ret = write_metrics(st, &ws, secs);
    if (ret == 0 && st->o->json)
        ret = print_json_summary(st, &ws, secs);
    return ret;
}

static int open_inputs(struct create_state *st)
{
    const struct create_opts *o = st->o;
    int ret = cli_load_keyrings(&o->keys, &st->keys, &st->nkeys);
    if (ret != 0)
        return ret;
    if (o->sign != NULL) {
        if (smar_signkey_new(&st->signer) != SMAR_OK)
            return CLI_EXIT_FAILURE;
        if ((ret = cli_load_signkey(o->sign, st->signer)) != 0)
            return ret;
    }
    if (strcmp(o->input, "-") == 0 && isatty(STDIN_FILENO)) {
        cli_error("refusing to read an export from a terminal");
        return CLI_EXIT_USAGE;
    }
    /* the writer validates each secret on its workers: the reader only finds them */
    if (smar_export_new(&st->ex) != SMAR_OK || smar_export_trust_caller_validation(st->ex))
        return CLI_EXIT_FAILURE;
    if (smar_export_open(st->ex, o->input) != SMAR_OK) {
        cli_error_lib(o->input, smar_export_error(st->ex));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* The snapshot time the new archive will have, if known before its secrets are read: the
 * one given, or the export's exported_at when it comes before the secrets. */
static smar_time_ns snapshot_known(struct create_state *st)
{
    smar_time_ns t;
    if (st->o->snapshot != SMAR_TIME_NONE)
        return st->o->snapshot;
    return smar_export_exported_at(st->ex, &t) == SMAR_OK ? t : SMAR_TIME_NONE;
}

/* --base: open the series and pick the parent, the newest archive older than the new
 * snapshot (the newest of all when that is not known yet: the writer then checks it is
 * older). --full-every bounds the chain: a full archive instead when the parent's chain
 * already holds full_every archives. */
/* Whether path is a local folder holding no .smar file (the first run of a series). */
static int empty_folder(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = d != NULL;
    while (empty && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        empty = !(e->d_name[0] != '.' && len > 5 && strcmp(e->d_name + len - 5, ".smar") == 0);
    }
    if (d != NULL)
        closedir(d);
    return empty;
}

static int choose_parent(struct create_state *st)
{
    const struct create_opts *o = st->o;
    cli_series *cs = &st->base_series;
    const char *json;
    size_t len;
    size_t empty = 0;
    for (size_t i = 0; i < o->bases.n; i++)
        empty += empty_folder(o->bases.items[i]) != 0;
    if (empty == o->bases.n) {
        snprintf(st->full_why, sizeof st->full_why, "--base holds no archive yet");
        return 0;
    }
    int ret = cli_series_open(cs, &o->keys, o->threads, 0, (int)o->bases.n,
                              (char **)(uintptr_t)o->bases.items);
    st->have_base_series = 1;
    if (ret != 0)
        return ret;
    smar_time_ns t = snapshot_known(st);
    smar_time_ns before = t == SMAR_TIME_NONE ? INT64_MAX : t - 1;
    /* opens the newest archive at or before `before` (and the bases it needs) */
    if (smar_series_document(cs->series, before, &json, &len) != SMAR_OK) {
        cli_error("--base: %s", smar_series_error(cs->series));
        return CLI_EXIT_FAILURE;
    }
    smar_time_ns best = SMAR_TIME_NONE;
    for (size_t i = 0; i < cs->n; i++) {
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        if (cs->readers[i] == NULL || smar_reader_info(cs->readers[i], &info) != SMAR_OK ||
            info.snapshot > before || (best != SMAR_TIME_NONE && info.snapshot <= best))
            continue;
        best = info.snapshot;
        st->parent = cs->readers[i];
        st->base_path = cs->paths[i];
    }
    unsigned full_every = o->full_every ? o->full_every : 24;
    if (st->parent == NULL) {
        snprintf(st->full_why, sizeof st->full_why, "no archive of --base is older");
    } else if (smar_reader_base_count(st->parent) + 2 > full_every) {
        snprintf(st->full_why, sizeof st->full_why,
                 "the chain of '%s' already holds %zu archives (--full-every %u)", st->base_path,
                 smar_reader_base_count(st->parent) + 1, full_every);
        st->parent = NULL;
    }
    return 0;
}

static int run_create(struct create_state *st)
{
    const struct create_opts *o = st->o;
    if (cli_out_is_stdout(o->output) && isatty(STDOUT_FILENO)) {
        cli_error("refusing to write an archive to a terminal");
        return CLI_EXIT_USAGE;
    }
    /* Refuse a destination that could never be written before reading anything. */
    cli_note_input(o->input);
    st->started = monotonic_seconds();
    int ret = cli_out_check(o->output, o->force);
    if (ret == 0 && cli_s3_is_prefix(o->output)) { /* named from the export (cli_s3.c) */
        ret = cli_s3_series_key(o->input, o->snapshot, o->output, &st->named_output);
    }
    if (ret == 0 && o->metrics_file != NULL)
        ret = cli_out_check(o->metrics_file, 1);
    if (ret == 0)
        ret = open_inputs(st);
    if (ret == 0 && o->bases.n > 0)
        ret = choose_parent(st);
    if (ret == 0)
        ret = cli_out_open(&st->out, st->named_output ? st->named_output : o->output, o->force);
    if (ret != 0)
        return ret;
    cli_progress_init(&st->progress, o->quiet);
    if ((ret = open_writer(st)) == 0 && (ret = add_all_secrets(st)) == 0)
        ret = finish_archive(st);
    cli_progress_done(&st->progress);
    if (ret != 0)
        return ret;
    if (!o->quiet && !o->json)
        print_summary(st);
    return o->json || o->metrics_file != NULL ? report_archive(st) : 0;
}

int cmd_create(int argc, char **argv)
{
    struct create_opts o;
    memset(&o, 0, sizeof o);
    o.snapshot = SMAR_TIME_NONE;
    o.threads = cli_default_threads();
    int ret = parse_create_args(argc, argv, &o);
    if (ret != 0) {
        cli_strlist_free(&o.keys);
        return ret < 0 ? cli_help(create_usage) : ret;
    }
    struct create_state st;
    memset(&st, 0, sizeof st);
    st.o = &o;
    st.out.fd = -1;
    st.out.slot = -1;
    ret = run_create(&st);
    cli_out_abort(&st.out); /* removes the temporary file unless committed */
    smar_export_free(st.ex);
    free(st.named_output);
    for (size_t i = 0; i < ORIGINS; i++)
        free(st.origin[i]);
    smar_writer_free(st.w); /* before the base series whose readers it borrows */
    st.w = NULL;
    if (st.have_base_series)
        cli_series_close(&st.base_series);
    cli_strlist_free(&o.bases);
    smar_signkey_free(st.signer);
    free(st.instance);
    cli_free_keyrings(st.keys, st.nkeys);
    cli_strlist_free(&o.keys);
    return ret;
}
