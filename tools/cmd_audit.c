/*
 * cmd_audit.c - smar audit: is this series of archives a usable backup history? Without a
 * key: every archive intact and signed by a pinned producer, and no gap between
 * consecutive snapshots longer than --every (the RPO achieved is the worst gap). With
 * --key the archives are unlocked and their documents must name one instance.
 */
#define _GNU_SOURCE /* strdup, dirent d_type */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const char audit_usage[] =
    "usage: smar audit [--pubkey PUB]... [--every DURATION] [--since T] [--key FILE]...\n"
    "                  [--json] [-q] SERIES...\n"
    "\n"
    "    SERIES           an archive, a folder (every *.smar in it), an s3://BUCKET/KEY\n"
    "                     object or an s3://BUCKET/PREFIX/ (every object under it)\n"
    "    --pubkey PUB     the pinned producer public key (repeatable: any of them;\n"
    "                     default: $SMAR_PUBKEY; one is required)\n"
    "    --every DURATION the longest allowed gap between consecutive snapshots\n"
    "                     (a number with s, m, h, d or w, e.g. 1h, 26h, 1d12h; bare: seconds)\n"
    "    --since T        leave out archives whose snapshot is before T\n"
    "    -k, --key FILE   also unlock every archive and check that all are of one instance\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                     the passphrase of KEYFILE is in PASSFILE\n"
    "    --json           machine-readable output (see smar(1))\n"
    "    -q, --quiet      only the summary and the archives with problems\n"
    "\n"
    "Every base an incremental archive lists must be in the series, intact and signed,\n"
    "with the archive id and content digest its header names.\n"
    "\n"
    "exit status 3 when an archive is damaged or not authentic (or a base altered), 4 when\n"
    "a gap is longer than --every or a base is missing, 1 when an archive or a listing\n"
    "could not be read\n";

struct audit_opts {
    cli_strlist keys;
    smar_time_ns every; /* 0: not checked */
    smar_time_ns since; /* SMAR_TIME_NONE: all */
    int json;
    int quiet;
};

#define NS_PER_SEC 1000000000LL

/* "1h", "26h", "1d12h", "90m", "3600" (seconds): 0, or -1 when not a positive duration
 * below a century. */
static int parse_duration(const char *text, smar_time_ns *out)
{
    const long long max_seconds = 100LL * 366 * 86400;
    long long total = 0;
    const char *p = text;
    if (*p == '\0')
        return -1;
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            return -1;
        long long n = 0;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (*p++ - '0');
            if (n > max_seconds)
                return -1;
        }
        long long unit = 1;
        switch (*p) {
        case 's':
            unit = 1;
            p++;
            break;
        case 'm':
            unit = 60;
            p++;
            break;
        case 'h':
            unit = 3600;
            p++;
            break;
        case 'd':
            unit = 86400;
            p++;
            break;
        case 'w':
            unit = 7 * 86400;
            p++;
            break;
        case '\0':
            if (p == text || total != 0)
                return -1;
            break; /* bare: seconds, alone */
        default:
            return -1;
        }
        if (n > max_seconds / unit || (total += n * unit) > max_seconds)
            return -1;
    }
    if (total <= 0)
        return -1;
    *out = total * NS_PER_SEC;
    return 0;
}

static int parse_audit_args(int argc, char **argv, struct audit_opts *o)
{
    enum { OPT_EVERY = 1, OPT_SINCE, OPT_JSON };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"every", required_argument, NULL, OPT_EVERY},
        {"since", required_argument, NULL, OPT_SINCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            cli_strlist_push(&o->keys, optarg);
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, audit_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case OPT_EVERY:
            if (parse_duration(optarg, &o->every) != 0)
                return cli_usage_error(audit_usage,
                                       "--every '%s' is not a duration (e.g. 1h, 26h, 1d)", optarg);
            break;
        case OPT_SINCE:
            if (cli_parse_time(optarg, &o->since) != 0)
                return cli_usage_error(audit_usage, "--since '%s' is not an RFC 3339 time", optarg);
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            return -1;
        default:
            return cli_option_error(audit_usage, c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(audit_usage, "at least one SERIES (archive or folder) is required");
    return 0;
}

/* Everything the audit holds, released in one place. */
struct audit_state {
    const struct audit_opts *o;
    smar_audit *audit;
    uint8_t *pinned;
    size_t npinned;
    smar_keyring **keys;
    size_t nkeys;
};

static int audit_failed(struct audit_state *st)
{
    cli_error("audit: %s", smar_audit_error(st->audit));
    return CLI_EXIT_FAILURE;
}

/* Open (and with --key unlock) one archive and audit it. An archive that cannot be opened
 * or unlocked is recorded with why, not fatal: the audit reports every archive. */
static int audit_one(struct audit_state *st, const char *path)
{
    smar_reader *r = NULL;
    if (smar_reader_new(&r) != SMAR_OK)
        return CLI_EXIT_FAILURE;
    char s3err[SMAR_IO_ERROR_MAX] = "";
    int rc = cli_s3_is_url(path) ? cli_s3_reader_open(r, path, s3err) : smar_reader_open(r, path);
    const char *why = s3err[0] != '\0' ? s3err : smar_reader_error(r);
    if (rc != SMAR_OK) {
        int damaged = cli_exit_archive(rc) == CLI_EXIT_DAMAGED;
        rc = smar_audit_add_failed(st->audit, path,
                                   damaged ? SMAR_AUDIT_DAMAGED : SMAR_AUDIT_UNREADABLE, why);
    } else if (st->nkeys > 0 && smar_reader_unlock(r, st->keys, st->nkeys) != SMAR_OK) {
        rc = smar_audit_add_failed(st->audit, path, SMAR_AUDIT_UNREADABLE, "no --key unlocks it");
    } else {
        rc = smar_audit_add(st->audit, r, path, NULL, NULL);
    }
    smar_reader_free(r);
    return rc == SMAR_OK ? 0 : audit_failed(st);
}

static int ends_with_smar(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".smar") == 0 && name[0] != '.';
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.smar regular file of a folder (not hidden: a writer's temporary files are),
 * by name. */
static int audit_folder(struct audit_state *st, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cli_error("%s: cannot read the folder: %s", dir, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!ends_with_smar(de->d_name))
            continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *full = cli_xmalloc(len);
        snprintf(full, len, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            names = cli_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = full;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        if (ret == 0)
            ret = audit_one(st, names[i]); /* the audit keeps a copy of the name */
        free(names[i]);
    }
    free(names);
    return ret;
}

/* Every archive (an object whose last name is "*.smar", not hidden: as in a folder) under an
 * s3:// prefix, from one (paginated) listing, in key order. A listing
 * that fails (network, permission, no such bucket) is a failure, exit 1: nothing could be
 * audited, which says nothing about the archives. Each object is then read as verify
 * reads one: range reads, every chunk streamed once. */
static int audit_prefix(struct audit_state *st, const char *prefix)
{
    cli_strlist urls = {0};
    int ret = cli_s3_list(prefix, &urls);
    for (size_t i = 0; i < urls.n; i++) {
        const char *name = strrchr(urls.items[i], '/');
        if (ret == 0 && name != NULL && ends_with_smar(name + 1))
            ret = audit_one(st, urls.items[i]); /* the audit keeps a copy of the name */
        free((void *)(uintptr_t)urls.items[i]); /* strdup'ed by the listing */
    }
    cli_strlist_free(&urls);
    return ret;
}

static int audit_inputs(struct audit_state *st, int n, char **paths)
{
    for (int i = 0; i < n; i++) {
        struct stat sb;
        int ret = cli_s3_is_prefix(paths[i]) ? audit_prefix(st, paths[i])
                  : !cli_s3_is_url(paths[i]) && stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)
                      ? audit_folder(st, paths[i])
                      : audit_one(st, paths[i]);
        if (ret != 0)
            return ret;
    }
    return 0;
}

static double seconds(smar_time_ns t)
{
    return (double)t / (double)NS_PER_SEC;
}

/* "3d 4h 05m 10s" style, for the human report. */
static const char *human_duration(char buf[48], smar_time_ns t)
{
    long long s = t / NS_PER_SEC;
    long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
    if (d > 0)
        snprintf(buf, 48, "%lldd %02lldh %02lldm", d, h, m);
    else if (h > 0)
        snprintf(buf, 48, "%lldh %02lldm %02llds", h, m, sec);
    else
        snprintf(buf, 48, "%lldm %02llds", m, sec);
    return buf;
}

static smar_time_ns now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (smar_time_ns)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* 3 for damage, a wrong signer or an altered base, else 1 for an archive that could not be
 * read, else 4 for a gap or a missing base, else 0. */
static int audit_exit(const struct audit_state *st, const smar_audit_summary *sum)
{
    int unreadable = 0, missing = 0;
    for (size_t i = 0; i < smar_audit_count(st->audit); i++) {
        smar_audit_entry e = SMAR_AUDIT_ENTRY_INIT;
        smar_audit_entry_at(st->audit, i, &e);
        if (e.status != SMAR_AUDIT_OK && e.status != SMAR_AUDIT_UNREADABLE &&
            e.status != SMAR_AUDIT_MISSING_BASE)
            return CLI_EXIT_DAMAGED;
        unreadable |= e.status == SMAR_AUDIT_UNREADABLE;
        missing |= e.status == SMAR_AUDIT_MISSING_BASE;
    }
    if (unreadable || (sum->good == 0 && !missing))
        return CLI_EXIT_FAILURE;
    return sum->gaps_over > 0 || sum->missing_bases > 0 ? CLI_EXIT_GAP : CLI_EXIT_OK;
}

/* "full", or "incremental of N bases, parent <id>". */
static void print_chain_text(const smar_audit_entry *e)
{
    char hex[33];
    if (e->snapshot == SMAR_TIME_NONE)
        return; /* never opened: its shape is unknown */
    if (!e->incremental) {
        fputs("  full", stdout);
        return;
    }
    smar_archive_id_hex(e->parent_id, hex);
    printf("  incremental of %zu base%s, parent %s", e->base_count, e->base_count == 1 ? "" : "s",
           hex);
}

static void print_entry_text(const smar_audit_entry *e, const struct audit_opts *o)
{
    char tb[SMAR_TIME_BUFSIZE], db[48], pb[256], fp[33];
    if (o->quiet && e->status == SMAR_AUDIT_OK && !e->exceeds_every)
        return;
    printf("%-8s %s  %s",
           e->status == SMAR_AUDIT_OK ? (e->exceeds_every ? "GAP" : "ok")
                                      : smar_audit_status_word(e->status),
           cli_time(tb, e->snapshot), cli_printable(e->name, pb, sizeof pb));
    print_chain_text(e);
    if (e->is_signed) {
        smar_signkey_fingerprint(e->signer, fp);
        printf("  signer %s", fp);
    }
    if (e->gap_before > 0)
        printf("  gap %s%s", human_duration(db, e->gap_before),
               e->exceeds_every ? " (longer than --every)" : "");
    if (e->detail[0] != '\0')
        printf("  (%s)", cli_printable(e->detail, pb, sizeof pb));
    putchar('\n');
}

static void print_text(const struct audit_state *st, const smar_audit_summary *sum, int code)
{
    char t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE], db[48], eb[48];
    for (size_t i = 0; i < smar_audit_count(st->audit); i++) {
        smar_audit_entry e = SMAR_AUDIT_ENTRY_INIT;
        smar_audit_entry_at(st->audit, i, &e);
        print_entry_text(&e, st->o);
    }
    printf("archives: %zu (%zu good, %zu with problems)\n", sum->archives, sum->good, sum->bad);
    printf("first snapshot: %s\nlast snapshot:  %s", cli_time(t1, sum->first),
           cli_time(t2, sum->last));
    smar_time_ns age = sum->last != SMAR_TIME_NONE ? now_ns() - sum->last : 0;
    if (sum->last != SMAR_TIME_NONE && age >= 0)
        printf(" (%s ago)", human_duration(db, age));
    else if (sum->last != SMAR_TIME_NONE)
        fputs(" (in the future)", stdout);
    printf("\nworst gap (RPO achieved): %s", human_duration(db, sum->worst_gap));
    if (sum->worst_gap_to != SMAR_TIME_NONE)
        printf(", %s to %s", cli_time(t1, sum->worst_gap_from), cli_time(t2, sum->worst_gap_to));
    if (st->o->every > 0)
        printf("; allowed %s, %zu gap(s) longer", human_duration(eb, st->o->every), sum->gaps_over);
    printf("\nincremental: %zu; missing base archives: %zu", sum->incremental, sum->missing_bases);
    printf("\ninstance: %s\nresult: %s\n",
           st->nkeys > 0 ? "checked (--key)" : "not checked (needs --key)",
           code == CLI_EXIT_OK        ? "ok"
           : code == CLI_EXIT_GAP     ? (sum->missing_bases > 0 ? "missing base" : "gap")
           : code == CLI_EXIT_DAMAGED ? "damaged or not authentic"
                                      : "failed");
}

/* "chain": {"kind": "full"} or {"kind": "incremental", "parent": id, "bases": [{archive_id,
 * snapshot, state}]}; null when the archive could not be opened. */
static cJSON *chain_json(const smar_audit *a, size_t i, const smar_audit_entry *e)
{
    static const char *const states[] = {"ok", "missing", "altered", "bad"};
    char hex[33];
    if (e->snapshot == SMAR_TIME_NONE)
        return cJSON_CreateNull();
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", e->incremental ? "incremental" : "full");
    if (!e->incremental)
        return j;
    smar_archive_id_hex(e->parent_id, hex);
    cJSON_AddStringToObject(j, "parent", hex);
    cli_json_add_u64(j, "missing_bases", e->missing_bases);
    cJSON *list = cJSON_AddArrayToObject(j, "bases");
    for (size_t k = 0; k < e->base_count; k++) {
        smar_base_info b = SMAR_BASE_INFO_INIT;
        smar_audit_base_state state = SMAR_AUDIT_BASE_OK;
        if (smar_audit_entry_base(a, i, k, &b, &state) != SMAR_OK)
            continue;
        cJSON *o = cJSON_CreateObject();
        smar_archive_id_hex(b.archive_id, hex);
        cJSON_AddStringToObject(o, "archive_id", hex);
        cli_json_add_time(o, "snapshot", b.snapshot);
        cJSON_AddStringToObject(o, "state", (unsigned)state < 4 ? states[state] : "unknown");
        cJSON_AddItemToArray(list, o);
    }
    return j;
}

static cJSON *entry_json(const smar_audit_entry *e)
{
    char hex[33], fp[33];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "archive", e->name);
    cJSON_AddStringToObject(j, "status", smar_audit_status_word(e->status));
    if (e->detail[0] != '\0')
        cJSON_AddStringToObject(j, "detail", e->detail);
    else
        cJSON_AddNullToObject(j, "detail");
    if (e->snapshot != SMAR_TIME_NONE) {
        smar_archive_id_hex(e->archive_id, hex);
        cJSON_AddStringToObject(j, "archive_id", hex);
    } else
        cJSON_AddNullToObject(j, "archive_id");
    cli_json_add_time(j, "snapshot", e->snapshot);
    if (e->is_signed) {
        smar_signkey_fingerprint(e->signer, fp);
        cJSON_AddStringToObject(j, "signer_fingerprint", fp);
    } else
        cJSON_AddNullToObject(j, "signer_fingerprint");
    if (e->instance != NULL)
        cJSON_AddStringToObject(j, "instance", e->instance);
    else
        cJSON_AddNullToObject(j, "instance");
    cJSON_AddNumberToObject(j, "gap_before_seconds", seconds(e->gap_before));
    cJSON_AddBoolToObject(j, "gap_exceeds_every", e->exceeds_every);
    return j;
}

static int print_json(const struct audit_state *st, const smar_audit_summary *sum, int code)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "ok", code == CLI_EXIT_OK);
    cJSON_AddNumberToObject(root, "exit_code", code);
    cJSON *list = cJSON_AddArrayToObject(root, "archives");
    for (size_t i = 0; i < smar_audit_count(st->audit); i++) {
        smar_audit_entry e = SMAR_AUDIT_ENTRY_INIT;
        smar_audit_entry_at(st->audit, i, &e);
        cJSON *j = entry_json(&e);
        cJSON_AddItemToObject(j, "chain", chain_json(st->audit, i, &e));
        cJSON_AddItemToArray(list, j);
    }
    cJSON *s = cJSON_AddObjectToObject(root, "summary");
    cli_json_add_u64(s, "archives", sum->archives);
    cli_json_add_u64(s, "good", sum->good);
    cli_json_add_u64(s, "bad", sum->bad);
    cli_json_add_time(s, "first_snapshot", sum->first);
    cli_json_add_time(s, "last_snapshot", sum->last);
    if (sum->last != SMAR_TIME_NONE)
        cJSON_AddNumberToObject(s, "last_snapshot_age_seconds",
                                (double)((now_ns() - sum->last) / NS_PER_SEC));
    else
        cJSON_AddNullToObject(s, "last_snapshot_age_seconds");
    cJSON_AddNumberToObject(s, "worst_gap_seconds", seconds(sum->worst_gap));
    cli_json_add_time(s, "worst_gap_from", sum->worst_gap_from);
    cli_json_add_time(s, "worst_gap_to", sum->worst_gap_to);
    if (st->o->every > 0)
        cJSON_AddNumberToObject(s, "every_seconds", seconds(st->o->every));
    else
        cJSON_AddNullToObject(s, "every_seconds");
    cli_json_add_u64(s, "gaps_over_every", sum->gaps_over);
    cli_json_add_u64(s, "incremental", sum->incremental);
    cli_json_add_u64(s, "missing_bases", sum->missing_bases);
    cJSON_AddBoolToObject(s, "instance_checked", st->nkeys > 0);
    return cli_json_print(root);
}

static int run_audit(struct audit_state *st, int n, char **paths)
{
    const struct audit_opts *o = st->o;
    int ret = cli_load_pubkeys(&st->pinned, &st->npinned);
    if (ret != 0)
        return ret;
    if (st->npinned == 0)
        return cli_usage_error(audit_usage, "a pinned producer is required: --pubkey PUB or "
                                            "$SMAR_PUBKEY");
    if (o->keys.n > 0 && (ret = cli_load_keyrings(&o->keys, &st->keys, &st->nkeys)) != 0)
        return ret;
    if (smar_audit_new(&st->audit) != SMAR_OK ||
        smar_audit_set_trusted(st->audit, st->pinned, st->npinned) != SMAR_OK ||
        smar_audit_set_every(st->audit, o->every) != SMAR_OK ||
        smar_audit_set_since(st->audit, o->since) != SMAR_OK)
        return CLI_EXIT_FAILURE;
    if ((ret = audit_inputs(st, n, paths)) != 0)
        return ret;
    smar_audit_summary sum = SMAR_AUDIT_SUMMARY_INIT;
    if (smar_audit_finish(st->audit, &sum) != SMAR_OK)
        return audit_failed(st);
    if (sum.archives == 0) {
        cli_error("no archive to audit (no *.smar in the folders, or all before --since)");
        return CLI_EXIT_FAILURE;
    }
    int code = audit_exit(st, &sum);
    if (o->json) {
        int pr = print_json(st, &sum, code);
        return pr != 0 ? pr : code;
    }
    print_text(st, &sum, code);
    return fflush(stdout) == 0 ? code : CLI_EXIT_FAILURE;
}

int cmd_audit(int argc, char **argv)
{
    struct audit_opts o = {.since = SMAR_TIME_NONE};
    struct audit_state st = {.o = &o};
    int ret = parse_audit_args(argc, argv, &o);
    if (ret == 0)
        ret = run_audit(&st, argc - optind, argv + optind);
    else if (ret < 0)
        ret = cli_help(audit_usage);
    cli_free_keyrings(st.keys, st.nkeys);
    smar_audit_free(st.audit);
    free(st.pinned);
    cli_strlist_free(&o.keys);
    return ret;
}
