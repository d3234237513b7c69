/*
 * cmd_diff.c - smar diff: what changed between two snapshots of an instance (two archives,
 * or two times of a series), by id, type, group and name. Only names are printed: ids,
 * version ids and times, and the NAMES of metadata members that changed, never a payload
 * nor a metadata value, so a diff can go to a ticket or a change review.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char diff_usage[] =
    "usage: smar diff [--key FILE]... [--pubkey PUB]... [--json] OLD NEW\n"
    "       smar diff [--key FILE]... [--pubkey PUB]... [--json] --at T1 --at T2 SERIES...\n"
    "\n"
    "    -k, --key FILE       root keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                         the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB         refuse an archive not signed by this producer public key\n"
    "                         (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-check    read an archive opened through a public-key recipient\n"
    "                         without a pinned producer (unsafe: anyone can make one)\n"
    "    --at T               twice: compare the series as it was at the first T with\n"
    "                         the second (RFC 3339 or date); SERIES is archives, folders\n"
    "                         of *.smar archives or s3://BUCKET/PREFIX/ prefixes\n"
    "    --json               one JSON object (smar(1), JSON OUTPUT)\n"
    "\n"
    "One line per change, in id order: CHANGE ID TYPE GROUP NAME [DETAIL], tab-separated;\n"
    "CHANGE is created, deleted, rotated (DETAIL: the new versions, VERSION_ID@CREATED),\n"
    "metadata (DETAIL: the names of the members that changed) or moved (DETAIL: the old\n"
    "group). Payloads and metadata values are never printed.\n";

/* A folder of archives holds at most this many (the same bound as a command line). */
#define DIFF_FOLDER_MAX 100000

struct diff_opts {
    cli_strlist keys;
    smar_time_ns at[2];
    int nat;
    int json;
};

/* ---- output ------------------------------------------------------------------------------ */

static const char *const change_words[] = {
    [SMAR_CHANGE_CREATED] = "created", [SMAR_CHANGE_DELETED] = "deleted",
    [SMAR_CHANGE_ROTATED] = "rotated", [SMAR_CHANGE_METADATA] = "metadata",
    [SMAR_CHANGE_MOVED] = "moved",
};

struct diff_out {
    int json;
    cJSON *changes;    /* --json */
    uint64_t count[6]; /* per smar_change_kind */
};

static void print_text_detail(const smar_change *c)
{
    char buf[256], stamp[SMAR_TIME_BUFSIZE];
    for (size_t i = 0; i < c->nversions; i++)
        printf("%s%s@%s", i ? " " : "\t", cli_printable(c->versions[i].id, buf, sizeof buf),
               cli_time(stamp, c->versions[i].created));
    for (size_t i = 0; i < c->nfields; i++)
        printf("%s%s", i ? "," : "\t", cli_printable(c->fields[i], buf, sizeof buf));
    if (c->kind == SMAR_CHANGE_MOVED)
        printf("\t%s", *c->old_group_id ? cli_printable(c->old_group_id, buf, sizeof buf) : "-");
}

static void print_text(const smar_change *c)
{
    char id[256], type[64], group[256], name[512];
    printf("%s\t%s\t%s\t%s\t%s", change_words[c->kind], cli_printable(c->id, id, sizeof id),
           cli_printable(c->type, type, sizeof type),
           *c->group_id ? cli_printable(c->group_id, group, sizeof group) : "-",
           *c->name ? cli_printable(c->name, name, sizeof name) : "-");
    print_text_detail(c);
    putchar('\n');
}

static cJSON *change_json(const smar_change *c)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "change", change_words[c->kind]);
    cJSON_AddStringToObject(e, "id", c->id);
    cJSON_AddStringToObject(e, "type", c->type);
    cJSON_AddStringToObject(e, "group_id", c->group_id);
    cJSON_AddStringToObject(e, "name", c->name);
    if (c->kind == SMAR_CHANGE_ROTATED) {
        cJSON *versions = cJSON_AddArrayToObject(e, "versions");
        for (size_t i = 0; i < c->nversions; i++) {
            cJSON *v = cJSON_CreateObject();
            cJSON_AddStringToObject(v, "id", c->versions[i].id);
            cli_json_add_time(v, "created_at", c->versions[i].created);
            cJSON_AddItemToArray(versions, v);
        }
    }
    if (c->kind == SMAR_CHANGE_METADATA) {
        cJSON *fields = cJSON_AddArrayToObject(e, "fields");
        for (size_t i = 0; i < c->nfields; i++)
            cJSON_AddItemToArray(fields, cJSON_CreateString(c->fields[i]));
    }
    if (c->kind == SMAR_CHANGE_MOVED)
        cJSON_AddStringToObject(e, "old_group_id", c->old_group_id);
    return e;
}

static int on_change(const smar_change *c, void *payload)
{
    struct diff_out *out = payload;
    if (c->kind < SMAR_CHANGE_CREATED || c->kind > SMAR_CHANGE_MOVED)
        return 0; /* a kind this tool does not know yet */
    out->count[c->kind]++;
    if (out->json)
        cJSON_AddItemToArray(out->changes, change_json(c));
    else
        print_text(c);
    return 0;
}

/* Text: a last line with the counts. JSON: the whole object with "summary". */
static int finish_output(struct diff_out *out, cJSON *old_side, cJSON *new_side)
{
    if (!out->json) {
        printf("summary: %llu created, %llu deleted, %llu rotated, %llu metadata, %llu moved\n",
               (unsigned long long)out->count[SMAR_CHANGE_CREATED],
               (unsigned long long)out->count[SMAR_CHANGE_DELETED],
               (unsigned long long)out->count[SMAR_CHANGE_ROTATED],
               (unsigned long long)out->count[SMAR_CHANGE_METADATA],
               (unsigned long long)out->count[SMAR_CHANGE_MOVED]);
        cJSON_Delete(old_side);
        cJSON_Delete(new_side);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error("cannot write standard output");
            return CLI_EXIT_FAILURE;
        }
        return 0;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "old", old_side);
    cJSON_AddItemToObject(root, "new", new_side);
    cJSON_AddItemToObject(root, "changes", out->changes);
    out->changes = NULL;
    cJSON *summary = cJSON_AddObjectToObject(root, "summary");
    for (int k = SMAR_CHANGE_CREATED; k <= SMAR_CHANGE_MOVED; k++)
        cli_json_add_u64(summary, change_words[k], out->count[k]);
    return cli_json_print(root);
}

/* ---- two archives ------------------------------------------------------------------------ */

static cJSON *archive_side(const char *path, smar_reader *r)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    char hex[33];
    cJSON *side = cJSON_CreateObject();
    cJSON_AddStringToObject(side, "archive", path);
    if (smar_reader_info(r, &info) == SMAR_OK) {
        smar_archive_id_hex(info.archive_id, hex);
        cJSON_AddStringToObject(side, "archive_id", hex);
        cli_json_add_time(side, "snapshot", info.snapshot);
    }
    return side;
}

static int open_unlocked(const char *path, smar_keyring **keys, size_t nkeys, smar_reader **out)
{
    int ret = cli_open_archive(path, out);
    if (ret == 0 && (ret = cli_unlock_archive(path, *out, keys, nkeys)) != 0) {
        smar_reader_free(*out);
        *out = NULL;
    }
    return ret;
}

static int diff_two_archives(const struct diff_opts *o, char **paths)
{
    smar_keyring **keys = NULL;
    size_t nkeys = 0;
    smar_reader *r[2] = {NULL, NULL};
    struct diff_out out = {o->json, o->json ? cJSON_CreateArray() : NULL, {0}};
    int ret = cli_load_keyrings(&o->keys, &keys, &nkeys);
    for (int i = 0; ret == 0 && i < 2; i++)
        ret = open_unlocked(paths[i], keys, nkeys, &r[i]);
    if (ret != 0)
        goto done;
    int rc = smar_diff_archives(r[0], r[1], on_change, &out);
    if (rc != SMAR_OK) {
        /* which archive failed: the one whose reader has a message */
        const char *msg = smar_reader_error(r[1]);
        int which = msg != NULL && *msg ? 1 : 0;
        cli_error_lib(paths[which], smar_reader_error(r[which]));
        ret = cli_exit_archive(rc);
        goto done;
    }
    ret = finish_output(&out, archive_side(paths[0], r[0]), archive_side(paths[1], r[1]));
done:
    cJSON_Delete(out.changes);
    smar_reader_free(r[0]);
    smar_reader_free(r[1]);
    cli_free_keyrings(keys, nkeys);
    return ret;
}

/* ---- two times of a series --------------------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.smar files of a folder (not hidden), sorted, appended to list (owned: free). */
static int add_folder(const char *dir, char ***list, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cli_error("%s: cannot read the folder", dir);
        return CLI_EXIT_FAILURE;
    }
    size_t first = *n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".smar") != 0)
            continue;
        if (*n - first >= DIFF_FOLDER_MAX) {
            closedir(d);
            cli_error("%s: more than %d archives", dir, DIFF_FOLDER_MAX);
            return CLI_EXIT_FAILURE;
        }
        char *path = cli_xmalloc(strlen(dir) + len + 2);
        sprintf(path, "%s/%s", dir, e->d_name);
        *list = cli_xrealloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = path;
    }
    closedir(d);
    qsort(*list + first, *n - first, sizeof **list, compare_names);
    return 0;
}

/* SERIES arguments: archives as given, folders as the archives they hold. */
static int expand_series(int argc, char **argv, char ***list, size_t *n)
{
    for (int i = 0; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            int ret = add_folder(argv[i], list, n);
            if (ret != 0)
                return ret;
            continue;
        }
        *list = cli_xrealloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = cli_xstrdup(argv[i]);
    }
    if (*n == 0) {
        cli_error("no archive in the given folders");
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

static cJSON *time_side(smar_time_ns t)
{
    cJSON *side = cJSON_CreateObject();
    cli_json_add_time(side, "at", t);
    return side;
}

static int diff_series_times(const struct diff_opts *o, int argc, char **argv)
{
    char **paths = NULL;
    size_t n = 0;
    cli_series cs;
    memset(&cs, 0, sizeof cs);
    struct diff_out out = {o->json, o->json ? cJSON_CreateArray() : NULL, {0}};
    int ret = expand_series(argc, argv, &paths, &n);
    if (ret == 0)
        ret = cli_series_open(&cs, &o->keys, 1, 0, (int)n, paths);
    if (ret != 0)
        goto done;
    int rc = smar_diff_series(cs.series, o->at[0], o->at[1], on_change, &out);
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs.series));
        ret = cli_exit_archive(rc);
        goto done;
    }
    ret = finish_output(&out, time_side(o->at[0]), time_side(o->at[1]));
done:
    cJSON_Delete(out.changes);
    cli_series_close(&cs);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return ret;
}

/* ---- command line ------------------------------------------------------------------------ */

static int parse_diff_args(int argc, char **argv, struct diff_opts *o)
{
    enum { OPT_AT = 256, OPT_JSON };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"at", required_argument, NULL, OPT_AT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, diff_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case OPT_AT:
            if (o->nat == 2)
                return cli_usage_error(diff_usage, "--at is given twice, not more");
            if (cli_parse_time(optarg, &o->at[o->nat]) != 0)
                return cli_usage_error(diff_usage, "--at '%s' is not an RFC 3339 time or a date",
                                       optarg);
            o->nat++;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(diff_usage, c, argv);
        }
    }
    int left = argc - optind;
    if (o->nat == 1)
        return cli_usage_error(diff_usage, "--at is given twice: the old time and the new one");
    if (o->nat == 0 && left != 2)
        return cli_usage_error(diff_usage, "give two archives, OLD and NEW");
    for (int i = optind; o->nat == 0 && i < argc; i++)
        if (cli_s3_is_prefix(argv[i]))
            return cli_usage_error(diff_usage,
                                   "'%s' is a series (an s3:// prefix): compare two of its "
                                   "times with --at T1 --at T2, or name two objects",
                                   argv[i]);
    if (o->nat == 2 && left < 1)
        return cli_usage_error(diff_usage, "at least one archive or folder is required");
    return 0;
}

int cmd_diff(int argc, char **argv)
{
    struct diff_opts o;
    memset(&o, 0, sizeof o);
    int ret = parse_diff_args(argc, argv, &o);
    if (ret == 0 && (ret = cli_pin_producers()) == 0)
        ret = o.nat == 2 ? diff_series_times(&o, argc - optind, argv + optind)
                         : diff_two_archives(&o, argv + optind);
    else if (ret < 0)
        ret = cli_help(diff_usage);
    cli_strlist_free(&o.keys);
    return ret;
}
