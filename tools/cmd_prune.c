/*
 * cmd_prune.c - smar prune: delete the archives of a series that no retention rule keeps
 * (restic's `forget` semantics, smar/prune.h). Keyless: an archive's snapshot time is in
 * clear in its header. Nothing is deleted unless every archive of the series opened (a
 * damaged or, with --pubkey, unsigned one stops the command first: its time is unknown or
 * not to be trusted, and a forged newer archive must not push good ones out of a policy).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char prune_usage[] =
    "usage: smar prune [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N]\n"
    "                  [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]\n"
    "                  [--pubkey PUB]... (--dry-run | --yes) SERIES...\n"
    "\n"
    "SERIES: archive files, or folders whose *.smar files are the archives.\n"
    "    --keep-last N     keep the N newest archives\n"
    "    --keep-hourly N   keep the newest archive of each of the last N hours that have\n"
    "                      one (likewise --keep-daily, --keep-weekly (ISO weeks),\n"
    "                      --keep-monthly, --keep-yearly; UTC); N may be 'unlimited'\n"
    "    --keep-within D   keep every archive newer than the newest minus D (e.g. 7d, 1y6m,\n"
    "                      2d12h: y years, m months, d days, h hours)\n"
    "    --pubkey PUB      refuse (delete nothing) when an archive is not signed by this\n"
    "                      producer public key (repeatable; default: $SMAR_PUBKEY)\n"
    "    --dry-run         print what would be kept (and why) and deleted; delete nothing\n"
    "    --yes             delete the archives no rule keeps\n";

/* Counts above this are surely a typo; 'unlimited' says "every period". */
#define KEEP_COUNT_MAX 1000000u

struct prune_opts {
    smar_prune_policy policy;
    int dry_run;
    int yes;
};

struct prune_entry {
    char *path;
    smar_time_ns snapshot;
    dev_t dev;
    ino_t ino;
    unsigned reasons;
};

struct prune_list {
    struct prune_entry *items;
    size_t n, cap;
};

static void list_push(struct prune_list *l, const char *path, const struct stat *st)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].dev == st->st_dev && l->items[i].ino == st->st_ino)
            return; /* the same file named twice (a folder and one of its files) */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->items = cli_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] =
        (struct prune_entry){cli_xstrdup(path), SMAR_TIME_NONE, st->st_dev, st->st_ino, 0};
}

static void list_free(struct prune_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].path);
    free(l->items);
}

static int has_archive_suffix(const char *name)
{
    size_t len = strlen(name);
    return len > 5 && strcmp(name + len - 5, ".smar") == 0 && name[0] != '.';
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular *.smar files of a folder (symbolic links and hidden files are not archives of
 * the series: a temporary file of a running create is hidden). */
static int add_folder(struct prune_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cli_error("cannot read the folder '%s': %s", dir, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_archive_suffix(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = cli_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = cli_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = cli_xmalloc(len);
        snprintf(path, len, "%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            list_push(l, path, &st);
        free(path);
        free(names[i]);
    }
    free(names);
    return ret;
}

static int add_operand(struct prune_list *l, const char *arg)
{
    if (cli_s3_is_url(arg)) {
        cli_error("'%s': s3:// series are not supported by prune yet (local archives and "
                  "folders only)",
                  arg);
        return CLI_EXIT_FAILURE;
    }
    struct stat st;
    if (lstat(arg, &st) != 0) {
        cli_error("cannot open '%s': %s", arg, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (S_ISDIR(st.st_mode))
        return add_folder(l, arg);
    if (!S_ISREG(st.st_mode)) {
        cli_error("'%s' is not a regular file or a folder (a symbolic link is not followed)", arg);
        return CLI_EXIT_FAILURE;
    }
    list_push(l, arg, &st);
    return 0;
}

/* Every archive's snapshot time, from its header (no key). The first failure stops. */
static int read_snapshots(struct prune_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        smar_reader *r = NULL;
        int ret = cli_open_archive(l->items[i].path, &r);
        if (ret != 0)
            return ret;
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        int rc = smar_reader_info(r, &info);
        smar_reader_free(r);
        if (rc != SMAR_OK || info.snapshot == SMAR_TIME_NONE) {
            cli_error("'%s': the archive has no snapshot time", l->items[i].path);
            return CLI_EXIT_DAMAGED;
        }
        l->items[i].snapshot = info.snapshot;
    }
    return 0;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct prune_entry *x = a, *y = b;
    if (x->snapshot != y->snapshot)
        return x->snapshot > y->snapshot ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void print_reasons(unsigned reasons)
{
    const char *sep = "";
    fputs("(", stdout);
    for (unsigned bit = 1; bit != 0 && bit <= reasons; bit <<= 1) {
        if ((reasons & bit) && smar_prune_reason_name(bit) != NULL) {
            printf("%s%s", sep, smar_prune_reason_name(bit));
            sep = ", ";
        }
    }
    fputs(")", stdout);
}

static void print_entry(const struct prune_entry *e, const char *action)
{
    char tbuf[SMAR_TIME_BUFSIZE], pbuf[4096];
    printf("%-12s %-24s %s", action, cli_time(tbuf, e->snapshot),
           cli_printable(e->path, pbuf, sizeof pbuf));
    if (e->reasons != 0) {
        fputs("  ", stdout);
        print_reasons(e->reasons);
    }
    fputs("\n", stdout);
}

/* fsync the folder holding path, so that the deletion is durable. */
static void sync_folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path)) : cli_xstrdup(".");
    if (dir == NULL)
        return;
    int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Delete one archive, only when the name still holds the regular file that was read. */
static int delete_archive(const struct prune_entry *e)
{
    struct stat st;
    if (lstat(e->path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != e->dev ||
        st.st_ino != e->ino) {
        cli_error("'%s' changed since it was read: not deleted", e->path);
        return CLI_EXIT_FAILURE;
    }
    if (unlink(e->path) != 0) {
        cli_error("cannot delete '%s': %s", e->path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    sync_folder_of(e->path);
    return 0;
}

static int prune_run(int n, char **operands, const struct prune_opts *o)
{
    struct prune_list l = {NULL, 0, 0};
    int ret = 0;
    for (int i = 0; i < n && ret == 0; i++)
        ret = add_operand(&l, operands[i]);
    if (ret == 0 && l.n == 0) {
        cli_error("no archive (*.smar) in the series given");
        ret = CLI_EXIT_FAILURE;
    }
    if (ret == 0)
        ret = read_snapshots(&l);
    if (ret != 0) {
        list_free(&l);
        return ret; /* nothing deleted */
    }
    smar_time_ns *times = cli_xmalloc(l.n * sizeof *times);
    unsigned *reasons = cli_xmalloc(l.n * sizeof *reasons);
    for (size_t i = 0; i < l.n; i++)
        times[i] = l.items[i].snapshot;
    int rc = smar_prune_apply(&o->policy, times, l.n, reasons);
    if (rc != SMAR_OK) {
        cli_error("cannot apply the policy (status %d)", rc);
        ret = cli_exit_other(rc);
    } else {
        for (size_t i = 0; i < l.n; i++)
            l.items[i].reasons = reasons[i];
    }
    free(times);
    free(reasons);
    if (ret != 0) {
        list_free(&l);
        return ret;
    }
    qsort(l.items, l.n, sizeof *l.items, cmp_newest_first);
    size_t kept = 0, deleted = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct prune_entry *e = &l.items[i];
        if (e->reasons != 0) {
            kept++;
            print_entry(e, "keep");
        } else if (o->dry_run) {
            deleted++;
            print_entry(e, "would-delete");
        } else {
            int one = delete_archive(e);
            if (one == 0) {
                deleted++;
                print_entry(e, "deleted");
            }
            ret = cli_exit_worst(ret, one);
        }
    }
    printf("%zu kept, %zu %s\n", kept, deleted, o->dry_run ? "would be deleted" : "deleted");
    list_free(&l);
    return ret;
}

/* N, or "unlimited". */
static int keep_count_option(const char *name, const char *arg, uint32_t *out)
{
    if (strcmp(arg, "unlimited") == 0) {
        *out = SMAR_PRUNE_UNLIMITED;
        return 0;
    }
    if (cli_parse_u32(arg, 0, KEEP_COUNT_MAX, out) != 0)
        return cli_usage_error(prune_usage, "--%s: '%s' is not a count (0..%u or unlimited)", name,
                               arg, KEEP_COUNT_MAX);
    return 0;
}

enum {
    OPT_KEEP_LAST = 2000,
    OPT_KEEP_HOURLY,
    OPT_KEEP_DAILY,
    OPT_KEEP_WEEKLY,
    OPT_KEEP_MONTHLY,
    OPT_KEEP_YEARLY,
    OPT_KEEP_WITHIN,
    OPT_DRY_RUN,
    OPT_YES,
};

static int take_option(struct prune_opts *o, int c, char **argv)
{
    smar_prune_policy *p = &o->policy;
    switch (c) {
    case OPT_KEEP_LAST:
        return keep_count_option("keep-last", optarg, &p->keep_last);
    case OPT_KEEP_HOURLY:
        return keep_count_option("keep-hourly", optarg, &p->keep_hourly);
    case OPT_KEEP_DAILY:
        return keep_count_option("keep-daily", optarg, &p->keep_daily);
    case OPT_KEEP_WEEKLY:
        return keep_count_option("keep-weekly", optarg, &p->keep_weekly);
    case OPT_KEEP_MONTHLY:
        return keep_count_option("keep-monthly", optarg, &p->keep_monthly);
    case OPT_KEEP_YEARLY:
        return keep_count_option("keep-yearly", optarg, &p->keep_yearly);
    case OPT_KEEP_WITHIN:
        if (smar_prune_parse_within(optarg, &p->keep_within) != SMAR_OK)
            return cli_usage_error(
                prune_usage, "--keep-within: '%s' is not a duration (e.g. 7d, 1y6m, 36h)", optarg);
        return 0;
    case OPT_DRY_RUN:
        o->dry_run = 1;
        return 0;
    case OPT_YES:
        o->yes = 1;
        return 0;
    case CLI_OPT_PUBKEY:
        cli_pubkey_option(optarg);
        return 0;
    case 'h':
        return cli_help(prune_usage) == CLI_EXIT_OK ? -2 : CLI_EXIT_USAGE;
    default:
        return cli_option_error(prune_usage, c, argv);
    }
}

int cmd_prune(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"keep-last", required_argument, NULL, OPT_KEEP_LAST},
        {"keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY},
        {"keep-daily", required_argument, NULL, OPT_KEEP_DAILY},
        {"keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY},
        {"keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY},
        {"keep-yearly", required_argument, NULL, OPT_KEEP_YEARLY},
        {"keep-within", required_argument, NULL, OPT_KEEP_WITHIN},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"yes", no_argument, NULL, OPT_YES},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct prune_opts o;
    memset(&o, 0, sizeof o);
    o.policy = (smar_prune_policy)SMAR_PRUNE_POLICY_INIT;
    int c, ret = 0;
    cli_getopt_reset();
    while (ret == 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
        ret = take_option(&o, c, argv);
    if (ret == -2)
        return CLI_EXIT_OK; /* --help */
    if (ret != 0)
        return ret;
    if (optind >= argc)
        return cli_usage_error(prune_usage, "a SERIES (archives or folders) is required");
    if (smar_prune_policy_is_empty(&o.policy))
        return cli_usage_error(prune_usage, "no --keep-* rule given: that would delete every "
                                            "archive");
    if (o.dry_run && o.yes)
        return cli_usage_error(prune_usage, "--dry-run and --yes exclude each other");
    if (!o.dry_run && !o.yes)
        return cli_usage_error(prune_usage, "deleting needs --yes (or see what would be "
                                            "deleted with --dry-run)");
    if ((ret = cli_pin_producers()) != 0)
        return ret;
    return prune_run(argc - optind, argv + optind, &o);
}
