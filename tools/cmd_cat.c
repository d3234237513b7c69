/*
 * cmd_cat.c - smar cat: one secret's payload on standard output, for piping. Nothing is
 * written to standard output unless the whole payload was found and authenticated.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char cat_usage[] =
    "usage: smar cat [--key FILE]... (--id ID | --name NAME [--type TYPE])\n"
    "                [--at T | --version VERSION_ID] ARCHIVE...\n"
    "\n"
    "    -k, --key FILE       root keyring (default: $SMAR_KEY_FILE)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                         the passphrase of KEYFILE is in PASSFILE\n"
    "    --id ID              the secret's id\n"
    "    --name NAME          the secret's name (names are unique per type only)\n"
    "    --type TYPE          the secret type, when NAME is used by several types\n"
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
    const char *version;
    smar_time_ns at;
};

/* ---- output ------------------------------------------------------------------------- */

/* For arbitrary secrets the payload string itself, else the payload object's text. */
static int print_payload(const char *type, const char *json, size_t len)
{
    const char *v;
    size_t vlen;
    char *decoded = NULL;
    size_t dlen = 0;
    int r;
    if (strcmp(type, "arbitrary") == 0 && cli_json_member(json, len, "payload", &v, &vlen) == 0 &&
        vlen >= 2 && v[0] == '"' && cli_json_decode_string(v, vlen, &decoded, &dlen) == 0) {
        r = cli_write_all(STDOUT_FILENO, decoded, dlen);
        cli_wipe_free(decoded, dlen + 1);
    } else {
        r = cli_write_all(STDOUT_FILENO, json, len);
    }
    if (r != 0) {
        cli_error("cannot write standard output");
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* ---- --name to an id ------------------------------------------------------------------ */

struct candidate {
    char *id;
    char *type;
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
    c->items[c->n].status = SMAR_AT_NOT_CREATED;
    c->n++;
    return 0;
}

static void free_candidates(struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].id);
        free(c->items[i].type);
    }
    free(c->items);
}

/* Types differ among the candidates: a usage error that lists them. */
static int ambiguous_types(const struct cat_opts *o, const struct candidates *c)
{
    char list[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < c->n && used < sizeof list; i++) {
        char type[64], id[128];
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s (%s)", i ? ", " : "",
                                 cli_printable(c->items[i].type, type, sizeof type),
                                 cli_printable(c->items[i].id, id, sizeof id));
    }
    return cli_usage_error(cat_usage,
                           "name '%s' is used by secrets of several types: %s; "
                           "add --type",
                           o->name, list);
}

/* Resolve each candidate at t to learn its type and whether it exists then. */
static int classify(cli_series *cs, smar_time_ns t, struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++) {
        smar_at at;
        int rc = smar_series_resolve(cs->series, c->items[i].id, t, &at);
        if (rc != SMAR_OK) {
            cli_error("%s", smar_series_error(cs->series));
            return cli_exit_archive(rc);
        }
        c->items[i].type = cli_xstrdup(at.secret ? smar_secret_type(at.secret) : "?");
        c->items[i].status = at.status;
    }
    return 0;
}

/* The id a --name (and --type) means at t: among the secrets with that name, the one that
 * existed at t (secrets can be deleted and made again under the same name). */
static int id_for_name(cli_series *cs, const struct cat_opts *o, smar_time_ns t, char **id_out)
{
    struct candidates c = {NULL, 0};
    const char *names[1] = {o->name};
    const char *types[1] = {o->type};
    smar_selection sel;
    memset(&sel, 0, sizeof sel);
    sel.names = names;
    sel.nnames = 1;
    sel.types = types;
    sel.ntypes = o->type ? 1 : 0;
    int ret = 0;
    int rc = smar_series_select(cs->series, &sel, collect_candidate, &c);
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
    if ((ret = classify(cs, t, &c)) != 0)
        goto done;
    for (size_t i = 1; i < c.n; i++)
        if (strcmp(c.items[i].type, c.items[0].type) != 0) {
            ret = ambiguous_types(o, &c);
            goto done;
        }
    /* Prefer the one that existed at t; else the newest, whose error message explains. */
    size_t pick = c.n - 1;
    for (size_t i = 0; i < c.n; i++)
        if (c.items[i].status == SMAR_AT_FOUND || c.items[i].status == SMAR_AT_NO_PAYLOAD)
            pick = i;
    *id_out = cli_xstrdup(c.items[pick].id);
done:
    free_candidates(&c);
    return ret;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int cat_at(cli_series *cs, const char *id, smar_time_ns t)
{
    smar_at at;
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
    char *payload = NULL;
    size_t len = 0;
    rc = smar_series_read_payload(cs->series, &at, &payload, &len);
    if (rc != SMAR_OK) {
        cli_error("%s", smar_series_error(cs->series));
        return cli_exit_archive(rc);
    }
    int ret = print_payload(smar_secret_type(at.secret), payload, len);
    smar_secret_buffer_free(payload, len);
    return ret;
}

/* --version: the newest archive first, the first one holding the payload wins. */
static int cat_version(cli_series *cs, const char *id, const char *version_id)
{
    int known = 0, seen_secret = 0;
    size_t *order = cli_xmalloc(cs->n * sizeof *order);
    for (size_t i = 0; i < cs->n; i++)
        order[i] = i;
    for (size_t i = 1; i < cs->n; i++)
        for (size_t j = i; j > 0 && cs->snapshots[order[j]] > cs->snapshots[order[j - 1]]; j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    int ret = -1;
    for (size_t k = 0; k < cs->n && ret == -1; k++) {
        smar_reader *r = cs->readers[order[k]];
        smar_secret *s = NULL;
        int rc = smar_reader_find_id(r, id, &s);
        if (rc == SMAR_E_NOTFOUND)
            continue;
        if (rc != SMAR_OK) {
            cli_error_lib(cs->paths[order[k]], smar_reader_error(r));
            ret = cli_exit_archive(rc);
            break;
        }
        seen_secret = 1;
        const smar_version *v = smar_secret_version_by_id(s, version_id);
        if (v != NULL) {
            known = 1;
            if (smar_version_has_payload(v)) {
                char *payload = NULL;
                size_t len = 0;
                rc = smar_reader_read_payload(r, s, v, &payload, &len);
                if (rc != SMAR_OK) {
                    cli_error_lib(cs->paths[order[k]], smar_reader_error(r));
                    ret = cli_exit_archive(rc);
                } else {
                    ret = print_payload(smar_secret_type(s), payload, len);
                    smar_secret_buffer_free(payload, len);
                }
            }
        }
        smar_secret_free(s);
    }
    free(order);
    if (ret != -1)
        return ret;
    if (!seen_secret)
        cli_error("no secret with id '%s' in the given archives", id);
    else if (!known)
        cli_error("secret %s has no version '%s' in the given archives", id, version_id);
    else
        cli_error("secret %s version %s is known but no given archive holds its payload", id,
                  version_id);
    return CLI_EXIT_FAILURE;
}

static int run_cat(int n, char **paths, const struct cat_opts *o)
{
    cli_series cs;
    char *id = NULL;
    int ret = cli_series_open(&cs, &o->keys, 1, n, paths); /* one secret: no read-ahead */
    if (ret != 0)
        goto done;
    smar_time_ns t = o->at != SMAR_TIME_NONE ? o->at : smar_series_latest(cs.series);
    if (o->name != NULL && (ret = id_for_name(&cs, o, t, &id)) != 0)
        goto done;
    const char *which = id ? id : o->id;
    ret = o->version ? cat_version(&cs, which, o->version) : cat_at(&cs, which, t);
done:
    free(id);
    cli_series_close(&cs);
    return ret;
}

static int parse_cat_args(int argc, char **argv, struct cat_opts *o)
{
    enum { OPT_AT = 256, OPT_VERSION };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"id", required_argument, NULL, CLI_OPT_ID},
        {"name", required_argument, NULL, CLI_OPT_NAME},
        {"type", required_argument, NULL, CLI_OPT_TYPE},
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
        case CLI_OPT_ID:
            o->id = optarg;
            break;
        case CLI_OPT_NAME:
            o->name = optarg;
            break;
        case CLI_OPT_TYPE:
            o->type = optarg;
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
    if (o->type != NULL && o->name == NULL)
        return cli_usage_error(cat_usage, "--type goes with --name");
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
    if (ret == 0)
        ret = run_cat(argc - optind, argv + optind, &o);
    else if (ret < 0)
        ret = cli_help(cat_usage);
    cli_strlist_free(&o.keys);
    return ret;
}
