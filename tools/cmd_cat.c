/*
 * cmd_cat.c - smar cat: one secret's payload on standard output, for piping. Nothing is
 * written to standard output unless the whole payload was found and authenticated.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char cat_usage[] =
    "usage: smar cat [--key FILE]... [--pubkey PUB]... (--id ID | --name NAME [--type TYPE] "
    "[--group GROUP])\n"
    "                [--at T | --version VERSION_ID] [--skip-damaged] [--no-signer-check] "
    "ARCHIVE...\n"
    "\n"
    "    -k, --key FILE       root keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                         the passphrase of KEYFILE is in PASSFILE\n"
    "    --pubkey PUB         refuse an archive not signed by this producer public key\n"
    "                         (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-check    read an archive opened through a public-key recipient\n"
    "                         without a pinned producer (unsafe: anyone can make one)\n"
    "    --id ID              the secret's id\n"
    "    --name NAME          the secret's name (names are unique per type only)\n"
    "    --type TYPE          the secret type, when NAME is used by several types\n"
    "    --group GROUP        the secret group (id or name), when NAME is used in several\n"
    "    --skip-damaged       leave damaged archives out of the series and answer from the\n"
    "                         others (exit 3 if any was left out)\n"
    "    --at T               as it was at T (RFC 3339 or date), across all ARCHIVEs;\n"
    "                         default: the latest snapshot\n"
    "    --version ID         that version, from any ARCHIVE holding its payload\n"
    "\n"
    "An arbitrary secret prints its payload string exactly; other types print the JSON\n"
    "object of their payload fields.\n";

struct cat_opts {
    cli_strlist keys;
    const char *id;
    const char *name;
    const char *type;
    const char *group;
    const char *version;
    smar_time_ns at;
    int skip_damaged;
};

/* ---- output ------------------------------------------------------------------------- */

/* The payload's value (smar_payload_value): an arbitrary secret's string exactly, else
 * the JSON object of its payload fields. */
static int print_payload(const char *type, const char *json, size_t len)
{
    char *value = NULL;
    size_t vlen = 0;
    int rc = smar_payload_value(type, json, len, &value, &vlen);
    if (rc != SMAR_OK) {
        cli_error("the payload is not a JSON object");
        return CLI_EXIT_DAMAGED;
    }
    int r = cli_write_all(STDOUT_FILENO, value, vlen);
    smar_secret_buffer_free(value, vlen);
    if (r != 0) {
        cli_error("cannot write standard output: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* ---- --name to an id ------------------------------------------------------------------ */

struct candidate {
    char *id;
    char *type;
    char *group;
    smar_at_status status;
};

struct candidates {
    struct candidate *items;
    size_t n;
};

static int collect_candidate(const char *id, void *payload)
{
    struct candidates *c = payload;
    c->items = cli_xrealloc(c->items, (c->n + 1) * sizeof *c->items);
    c->items[c->n].id = cli_xstrdup(id);
    c->items[c->n].type = NULL;
    c->items[c->n].group = NULL;
    c->items[c->n].status = SMAR_AT_NOT_CREATED;
    c->n++;
    return 0;
}

static void free_candidates(struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].id);
        free(c->items[i].type);
        free(c->items[i].group);
    }
    free(c->items);
}

static int exists_at(smar_at_status st)
{
    return st == SMAR_AT_FOUND || st == SMAR_AT_NO_PAYLOAD || st == SMAR_AT_NO_PAYLOAD_RECORDED;
}

/* Several secrets answer to the name: a usage error that lists each (id, type, group). */
static int ambiguous_name(const struct cat_opts *o, const struct candidates *c, int only_existing)
{
    char list[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < c->n && used < sizeof list; i++) {
        char type[64], id[128], group[128];
        if (only_existing && !exists_at(c->items[i].status))
            continue;
        used += (size_t)snprintf(list + used, sizeof list - used, "\n    id %s, type %s, group %s",
                                 cli_printable(c->items[i].id, id, sizeof id),
                                 cli_printable(c->items[i].type, type, sizeof type),
                                 cli_printable(c->items[i].group, group, sizeof group));
    }
    return cli_usage_error(cat_usage,
                           "name '%s' is used by several secrets:%s\n"
                           "use --id, or narrow with --type and --group",
                           o->name, list);
}

/* Resolve each candidate at t to learn its type and whether it exists then. */
static int classify(cli_series *cs, smar_time_ns t, struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++) {
        smar_at at = SMAR_AT_INIT;
        int rc = smar_series_resolve(cs->series, c->items[i].id, t, &at);
        if (rc != SMAR_OK) {
            cli_error("%s", smar_series_error(cs->series));
            return cli_exit_archive(rc);
        }
        c->items[i].type = cli_xstrdup(at.secret ? smar_secret_type(at.secret) : "?");
        const char *gid = at.secret ? smar_secret_group_id(at.secret) : "";
        c->items[i].group = cli_xstrdup(*gid ? gid : "(none)");
        c->items[i].status = at.status;
    }
    return 0;
}

/* Whether every candidate has the same type and group (one secret deleted and made again). */
static int same_kind(const struct candidates *c)
{
    for (size_t i = 1; i < c->n; i++) {
        if (strcmp(c->items[i].type, c->items[0].type) != 0 ||
            strcmp(c->items[i].group, c->items[0].group) != 0)
            return 0;
    }
    return 1;
}

static size_t count_existing(const struct candidates *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += exists_at(c->items[i].status) != 0;
    return n;
}

/* The id a --name (and --type) means at t: among the secrets with that name, the one that
 * existed at t (secrets can be deleted and made again under the same name). Asked first of
 * the archives around t only (smar_series_select_near): every secret that existed at t is
 * there, so a long series is read whole only when none did (to say why). */
static int id_for_name(cli_series *cs, const struct cat_opts *o, smar_time_ns t, char **id_out)
{
    struct candidates c = {NULL, 0};
    const char *names[1] = {o->name};
    const char *types[1] = {o->type};
    const char *groups[1] = {o->group};
    smar_selection sel;
    memset(&sel, 0, sizeof sel);
    sel.names = names;
    sel.nnames = 1;
    sel.types = types;
    sel.ntypes = o->type ? 1 : 0;
    sel.groups = groups;
    sel.ngroups = o->group ? 1 : 0;
    int ret = 0;
    int rc = smar_series_select_near(cs->series, &sel, t, collect_candidate, &c);
    if (rc == SMAR_OK && c.n > 0 && (ret = classify(cs, t, &c)) != 0)
        goto done;
    if (rc == SMAR_OK && count_existing(&c) == 0) { /* ask them all */
        free_candidates(&c);
        c = (struct candidates){NULL, 0};
        if ((rc = smar_series_select(cs->series, &sel, collect_candidate, &c)) == SMAR_OK &&
            c.n > 0 && (ret = classify(cs, t, &c)) != 0)
            goto done;
    }
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs->series));
        ret = cli_exit_archive(rc);
        goto done;
    }
    if (c.n == 0) {
        cli_error("no secret named '%s'%s%s in the given archives", o->name,
                  o->type ? " of type " : "", o->type ? o->type : "");
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    /* Secrets can be deleted and made again under the same name: the one that existed at
     * t is meant. Two that existed at t (other types or groups) are ambiguous; when none
     * did, the newest explains why in its error message. */
    size_t pick = c.n - 1, existing = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (exists_at(c.items[i].status)) {
            pick = i;
            existing++;
        }
    }
    if (existing > 1 || (existing == 0 && c.n > 1 && !same_kind(&c))) {
        ret = ambiguous_name(o, &c, existing > 1);
        goto done;
    }
    *id_out = cli_xstrdup(c.items[pick].id);
done:
    free_candidates(&c);
    return ret;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Read the payload a resolve found and print its value. */
static int print_found(cli_series *cs, const smar_at *at)
{
    char *payload = NULL;
    size_t len = 0;
    int rc = smar_series_read_payload(cs->series, at, &payload, &len);
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs->series));
        return cli_exit_archive(rc);
    }
    int ret = print_payload(smar_secret_type(at->secret), payload, len);
    smar_secret_buffer_free(payload, len);
    return ret;
}

static int cat_at(cli_series *cs, const char *id, smar_time_ns t)
{
    smar_at at = SMAR_AT_INIT;
    int rc = smar_series_resolve(cs->series, id, t, &at);
    if (rc == SMAR_E_NOTFOUND) {
        cli_error("no secret with id '%s' in the given archives", id);
        return CLI_EXIT_FAILURE;
    }
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs->series));
        return cli_exit_archive(rc);
    }
    if (at.status != SMAR_AT_FOUND) {
        cli_report_unavailable(id, &at);
        return CLI_EXIT_FAILURE;
    }
    return print_found(cs, &at);
}

/* --version: that version, from any archive holding its payload. */
static int cat_version(cli_series *cs, const char *id, const char *version_id)
{
    smar_at at = SMAR_AT_INIT;
    int rc = smar_series_resolve_version(cs->series, id, version_id, &at);
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs->series));
        return rc == SMAR_E_NOTFOUND ? CLI_EXIT_FAILURE : cli_exit_archive(rc);
    }
    if (at.status != SMAR_AT_FOUND) {
        cli_error("secret %s version %s is known but no given archive holds its payload", id,
                  version_id);
        return CLI_EXIT_FAILURE;
    }
    return print_found(cs, &at);
}

static int run_cat(int n, char **paths, const struct cat_opts *o)
{
    cli_series cs;
    char *id = NULL;
    /* one secret: no read-ahead */
    int ret = cli_series_open(&cs, &o->keys, 1, o->skip_damaged, n, paths);
    if (ret != 0)
        goto done;
    smar_time_ns t = o->at != SMAR_TIME_NONE ? o->at : smar_series_latest(cs.series);
    if (o->name != NULL && (ret = id_for_name(&cs, o, t, &id)) != 0)
        goto done;
    const char *which = id ? id : o->id;
    ret = o->version ? cat_version(&cs, which, o->version) : cat_at(&cs, which, t);
    if (cli_series_report_damaged(&cs) > 0)
        ret = cli_exit_worst(ret, CLI_EXIT_DAMAGED);
done:
    free(id);
    cli_series_close(&cs);
    return ret;
}

static int parse_cat_args(int argc, char **argv, struct cat_opts *o)
{
    enum { OPT_AT = 256, OPT_VERSION, OPT_SKIP_DAMAGED };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"id", required_argument, NULL, CLI_OPT_ID},
        {"name", required_argument, NULL, CLI_OPT_NAME},
        {"type", required_argument, NULL, CLI_OPT_TYPE},
        {"group", required_argument, NULL, CLI_OPT_GROUP},
        {"skip-damaged", no_argument, NULL, OPT_SKIP_DAMAGED},
        {"at", required_argument, NULL, OPT_AT},
        {"version", required_argument, NULL, OPT_VERSION},
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
            if (cli_passphrase_file_option(optarg, cat_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case CLI_OPT_ID:
            o->id = optarg;
            break;
        case CLI_OPT_NAME:
            o->name = optarg;
            break;
        case CLI_OPT_TYPE:
            o->type = optarg;
            break;
        case CLI_OPT_GROUP:
            o->group = optarg;
            break;
        case OPT_SKIP_DAMAGED:
            o->skip_damaged = 1;
            break;
        case OPT_AT:
            if (cli_parse_time(optarg, &o->at) != 0)
                return cli_usage_error(cat_usage, "--at '%s' is not an RFC 3339 time or a date",
                                       optarg);
            break;
        case OPT_VERSION:
            o->version = optarg;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(cat_usage, c, argv);
        }
    }
    if ((o->id == NULL) == (o->name == NULL))
        return cli_usage_error(cat_usage, "give exactly one of --id and --name");
    if ((o->type != NULL || o->group != NULL) && o->name == NULL)
        return cli_usage_error(cat_usage, "--type and --group go with --name");
    if (o->version != NULL && o->at != SMAR_TIME_NONE)
        return cli_usage_error(cat_usage, "--at and --version exclude each other");
    if (optind >= argc)
        return cli_usage_error(cat_usage, "at least one ARCHIVE is required");
    return 0;
}

int cmd_cat(int argc, char **argv)
{
    struct cat_opts o;
    memset(&o, 0, sizeof o);
    o.at = SMAR_TIME_NONE;
    int ret = parse_cat_args(argc, argv, &o);
    if (ret == 0 && (ret = cli_pin_producers()) == 0)
        ret = run_cat(argc - optind, argv + optind, &o);
    else if (ret < 0)
        ret = cli_help(cat_usage);
    cli_strlist_free(&o.keys);
    return ret;
}
