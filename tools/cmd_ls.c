/*
 * cmd_ls.c - smar ls: list the secrets of archives from their manifests only (payload
 * chunks are never decrypted). Several archives are listed one after the other, each under
 * a header line; `smar extract --at` is the tool for a view across a series.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char ls_usage[] =
    "usage: smar ls [--key FILE]... [--pubkey PUB]... [--no-signer-check] [--json] [selection]\n"
    "               ARCHIVE...\n"
    "\n"
    "    -k, --key FILE   root keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                     the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB     refuse an archive not signed by this producer public key\n"
    "                     (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-checkread an archive opened through a public-key recipient\n"
    "                     without a pinned producer (unsafe: anyone can make one)\n"
    "    --json           machine-readable output (see smar(1))\n"
    "selection (each repeatable: any of; different options combine: all of):\n"
    "    --id ID  --name NAME  --type TYPE  --group GROUP (id or name)  --label LABEL\n";

struct ls_opts {
    cli_strlist keys;
    cli_sel sel;
    int json;
};

/* What is listed from one archive. */
struct ls_archive {
    const char *path;
    smar_reader *reader;
    int json;
    cJSON *rows;
    uint64_t count;
};

static const char *group_label(const struct ls_archive *la, const char *group_id)
{
    const char *name = smar_reader_group_name(la->reader, group_id);
    return name ? name : group_id;
}

static void add_row_json(struct ls_archive *la, const smar_secret *s)
{
    const char *gid = smar_secret_group_id(s);
    const char *gname = smar_reader_group_name(la->reader, gid);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", smar_secret_id(s));
    cJSON_AddStringToObject(e, "type", smar_secret_type(s));
    cJSON_AddStringToObject(e, "name", smar_secret_name(s));
    cJSON_AddStringToObject(e, "group_id", gid);
    if (gname != NULL)
        cJSON_AddStringToObject(e, "group_name", gname);
    else
        cJSON_AddNullToObject(e, "group_name");
    cli_json_add_u64(e, "versions", smar_secret_version_count(s));
    cli_json_add_time(e, "created", smar_secret_created(s));
    cli_json_add_time(e, "updated", smar_secret_updated(s));
    cJSON *labels = cJSON_AddArrayToObject(e, "labels");
    for (size_t i = 0; i < smar_secret_label_count(s); i++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(smar_secret_label(s, i)));
    cJSON_AddItemToArray(la->rows, e);
}

/* Whole seconds keep the table's columns straight; --json has the exact times. */
static const char *time_seconds(char buf[SMAR_TIME_BUFSIZE], smar_time_ns t)
{
    const smar_time_ns second = 1000000000;
    if (t != SMAR_TIME_NONE)
        t -= ((t % second) + second) % second;
    return cli_time(buf, t);
}

static void print_row(const struct ls_archive *la, const smar_secret *s)
{
    char id[80], type[64], group[128], name[512], t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE];
    printf("%-36s  %-19s  %-20s  %4zu  %-20s  %-20s  %s\n",
           cli_printable(smar_secret_id(s), id, sizeof id),
           cli_printable(smar_secret_type(s), type, sizeof type),
           cli_printable(group_label(la, smar_secret_group_id(s)), group, sizeof group),
           smar_secret_version_count(s), time_seconds(t1, smar_secret_created(s)),
           time_seconds(t2, smar_secret_updated(s)),
           cli_printable(smar_secret_name(s), name, sizeof name));
}

static int list_secret(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    struct ls_archive *la = payload;
    la->count++;
    if (la->json)
        add_row_json(la, s);
    else
        print_row(la, s);
    return 0;
}

static void print_header(const char *path, smar_reader *r, int several)
{
    smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
    char t[SMAR_TIME_BUFSIZE];
    if (several) {
        if (smar_reader_info(r, &in) == SMAR_OK)
            printf("==> %s (snapshot %s) <==\n", path, cli_time(t, in.snapshot));
        else
            printf("==> %s <==\n", path);
    }
    printf("%-36s  %-19s  %-20s  %4s  %-20s  %-20s  %s\n", "ID", "TYPE", "GROUP", "VERS", "CREATED",
           "UPDATED", "NAME");
}

static int ls_one(const char *path, const struct ls_opts *o, smar_keyring **keys, size_t nkeys,
                  int several, cJSON *archives)
{
    smar_reader *r = NULL;
    struct ls_archive la;
    memset(&la, 0, sizeof la);
    la.path = path;
    la.json = o->json;
    int ret = cli_open_archive(path, &r);
    if (ret != 0)
        return ret;
    smar_reader **bases = NULL; /* an incremental archive's, found beside it */
    size_t nbases = 0;
    if ((ret = cli_unlock_archive(path, r, keys, nkeys)) != 0 ||
        (ret = cli_attach_sibling_bases(path, r, keys, nkeys, 1, &bases, &nbases)) != 0)
        goto done;
    la.reader = r;
    if (o->json)
        la.rows = cJSON_CreateArray();
    else
        print_header(path, r, several);
    /* the library's selection rule, the one extract and cat follow */
    smar_selection sel;
    cli_sel_to_smar(&o->sel, &sel);
    int rc = smar_reader_select(r, &sel, list_secret, &la);
    if (rc != SMAR_OK) {
        cli_error_lib(path, smar_reader_error(r));
        ret = cli_exit_archive(rc);
    }
    if (o->json) {
        smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "archive", path);
        if (smar_reader_info(r, &in) == SMAR_OK)
            cli_json_add_time(a, "snapshot", in.snapshot);
        cJSON_AddItemToObject(a, "secrets", la.rows);
        cJSON_AddItemToArray(archives, a);
    }
done:
    smar_reader_free(r);
    for (size_t i = 0; i < nbases; i++)
        smar_reader_free(bases[i]);
    free(bases);
    return ret;
}

static int ls_all_listed(int n, char **paths, struct ls_opts *o)
{
    smar_keyring **keys = NULL;
    size_t nkeys = 0;
    int ret = cli_load_keyrings(&o->keys, &keys, &nkeys);
    if (ret != 0)
        return ret;
    cJSON *archives = o->json ? cJSON_CreateArray() : NULL;
    int worst = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        if (!o->json && i > 0)
            printf("\n");
        worst = cli_exit_worst(worst, ls_one(paths[i], o, keys, nkeys, n > 1, archives));
    }
    if (archives != NULL) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "archives", archives);
        worst = cli_exit_worst(worst, cli_json_print(root));
    }
    cli_free_keyrings(keys, nkeys);
    return worst;
}

/* Each s3:// prefix stands for the archives under it. */
static int ls_all(int n, char **paths, struct ls_opts *o)
{
    cli_strlist owned = {0};
    char **all = paths;
    int ret = cli_s3_expand_prefixes(&n, &all, &owned);
    if (ret == 0)
        ret = ls_all_listed(n, all, o);
    cli_s3_free_expanded(all, paths, &owned);
    return ret;
}

int cmd_ls(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        CLI_SELECTION_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct ls_opts o;
    memset(&o, 0, sizeof o);
    int c, ret = -1;
    cli_getopt_reset();
    while (ret == -1 && (c = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        if (cli_sel_option(&o.sel, c, optarg))
            continue;
        switch (c) {
        case 'k':
            cli_strlist_push(&o.keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, ls_usage) != 0)
                ret = CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case 'j':
            o.json = 1;
            break;
        case 'h':
            ret = cli_help(ls_usage);
            break;
        default:
            ret = cli_option_error(ls_usage, c, argv);
        }
    }
    if (ret == -1) {
        if (optind >= argc)
            ret = cli_usage_error(ls_usage, "at least one ARCHIVE is required");
        else if ((ret = cli_pin_producers()) == 0)
            ret = ls_all(argc - optind, argv + optind, &o);
    }
    cli_strlist_free(&o.keys);
    cli_sel_free(&o.sel);
    return ret;
}
