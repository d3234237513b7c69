/*
 * cmd_prune.c - smar prune: delete the archives of a series that no retention rule keeps
 * (restic's `forget` semantics, smar/prune.h). Keyless: an archive's snapshot time is in
 * clear in its header. Nothing is deleted unless every archive of the series opened (a
 * damaged or, with --pubkey, unsigned one stops the command first: its time is unknown or
 * not to be trusted, and a forged newer archive must not push good ones out of a policy).
 * An incremental archive's header lists every base it needs: when it is kept, they are.
 *
 * On s3:// (an object, or every object under a prefix) archives are objects, deleted with
 * DeleteObject; an object the policy lets go is first asked for its Object Lock retention
 * (GetObjectRetention), and one retained until a future time is kept. One whose retention
 * cannot be read (the server does not implement it, or the request failed) is kept too and
 * reported, and the command then exits 1: a retention nobody could read is not absent.
 * --ignore-retention-unknown deletes such objects when the server said it does not
 * implement the request (never after a failed one). Locally, only regular files are
 * deleted (a symbolic link or anything else is not an archive of the series).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char prune_usage[] =
    "usage: smar prune [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N]\n"
    "                  [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]\n"
    "                  [--pubkey PUB]... [--ignore-retention-unknown] (--dry-run | --yes)\n"
    "                  SERIES...\n"
    "\n"
    "SERIES: archive files, folders whose *.smar files are the archives, s3://BUCKET/KEY\n"
    "objects, or s3://BUCKET/PREFIX/ (every object under it).\n"
    "    --keep-last N     keep the N newest archives\n"
    "    --keep-hourly N   keep the newest archive of each of the last N hours that have\n"
    "                      one (likewise --keep-daily, --keep-weekly (ISO weeks),\n"
    "                      --keep-monthly, --keep-yearly; UTC); N may be 'unlimited'\n"
    "    --keep-within D   keep every archive newer than the newest minus D (e.g. 7d, 1y6m,\n"
    "                      2d12h: y years, m months, d days, h hours)\n"
    "    --pubkey PUB      refuse (delete nothing) when an archive is not signed by this\n"
    "                      producer public key (repeatable; default: $SMAR_PUBKEY)\n"
    "    --dry-run         print what would be kept (and why) and deleted; delete nothing\n"
    "    --yes             delete the archives no rule keeps\n"
    "    --ignore-retention-unknown\n"
    "                      s3://: delete an object whose Object Lock retention the server\n"
    "                      cannot tell (it does not implement GetObjectRetention); without\n"
    "                      it such an object is kept, reported, and the exit status is 1\n"
    "\n"
    "An archive that a kept incremental archive lists as a base is kept too (\"base of\").\n"
    "An s3:// object under Object Lock retention (until a future time) is always kept.\n";

/* Counts above this are surely a typo; 'unlimited' says "every period". */
#define KEEP_COUNT_MAX 1000000u

struct prune_opts {
    smar_prune_policy policy;
    int dry_run;
    int yes;
    int ignore_retention_unknown;
};

struct prune_entry {
    char *path;
    smar_time_ns snapshot;
    dev_t dev; /* a file: the one that was read, checked again before it is deleted */
    ino_t ino;
    unsigned reasons;
    int is_object;               /* an s3:// object, not a file */
    smar_time_ns retained_until; /* an object under Object Lock retention until then, or 0 */
    char *retention_unknown;     /* why its retention could not be read, or NULL */
    uint8_t archive_id[16];
    uint8_t (*base_ids)[16]; /* an incremental's bases (its whole chain), from its header */
    size_t base_count;
    const char *base_of;           /* kept as a base of this kept archive (its path), or NULL */
    smar_time_ns base_of_snapshot; /* that archive's snapshot: the newest one is named */
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
    l->items[l->n++] = (struct prune_entry){.path = cli_xstrdup(path),
                                            .snapshot = SMAR_TIME_NONE,
                                            .dev = st->st_dev,
                                            .ino = st->st_ino};
}

static void list_push_object(struct prune_list *l, const char *url)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].is_object && strcmp(l->items[i].path, url) == 0)
            return; /* named twice (a prefix and one of its objects) */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->items = cli_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] =
        (struct prune_entry){.path = cli_xstrdup(url), .snapshot = SMAR_TIME_NONE, .is_object = 1};
}

static void list_free(struct prune_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].retention_unknown);
        free(l->items[i].base_ids);
    }
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

/* Whether an object's last name is an archive's, as in a folder: "*.smar", not hidden. */
static int object_is_archive(const char *url)
{
    const char *name = strrchr(url, '/');
    return name != NULL && has_archive_suffix(name + 1);
}

/* Every archive (*.smar) under an s3:// prefix, from one listing; other objects are left
 * alone. Names `create -o s3://B/P/` makes carry the instance: names of two instances under
 * one prefix are refused (one policy over two instances' archives would delete one's
 * backups for the other's). */
static int add_prefix(struct prune_list *l, const char *prefix)
{
    cli_strlist urls = {0};
    int ret = cli_s3_list(prefix, &urls);
    char instance[256] = "", other[256];
    for (size_t i = 0; i < urls.n; i++) {
        smar_time_ns named;
        if (ret == 0 && cli_s3_series_name(urls.items[i], &named, other, sizeof other)) {
            if (instance[0] != '\0' && strcmp(instance, other) != 0) {
                cli_error("%s holds archives of more than one instance (%s/ and %s/): name one, "
                          "as in %s%s/",
                          prefix, instance, other, prefix, instance);
                ret = CLI_EXIT_FAILURE;
            }
            memcpy(instance, other, sizeof instance);
        }
        if (ret == 0 && object_is_archive(urls.items[i]))
            list_push_object(l, urls.items[i]);
        free((void *)(uintptr_t)urls.items[i]); /* strdup'ed by the listing */
    }
    cli_strlist_free(&urls);
    return ret;
}

static int add_operand(struct prune_list *l, const char *arg)
{
    if (cli_s3_is_prefix(arg))
        return add_prefix(l, arg);
    if (cli_s3_is_url(arg)) {
        list_push_object(l, arg);
        return 0;
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

/* The base list of an incremental archive (the whole chain it needs), from its header. */
static int read_base_ids(struct prune_entry *e, smar_reader *r)
{
    size_t n = smar_reader_base_count(r);
    if (n == 0)
        return 0;
    e->base_ids = cli_xmalloc(n * sizeof *e->base_ids);
    for (size_t j = 0; j < n; j++) {
        smar_base_info b = SMAR_BASE_INFO_INIT;
        if (smar_reader_base(r, j, &b) != SMAR_OK) {
            cli_error("'%s': %s", e->path, smar_reader_error(r));
            return CLI_EXIT_DAMAGED;
        }
        memcpy(e->base_ids[j], b.archive_id, sizeof e->base_ids[j]);
    }
    e->base_count = n;
    return 0;
}

/* Every archive's snapshot time, id and bases, from its header (no key). The first failure
 * stops. */
static int read_snapshots(struct prune_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        smar_reader *r = NULL;
        int ret = cli_open_archive(l->items[i].path, &r);
        if (ret != 0)
            return ret;
        smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
        int rc = smar_reader_info(r, &info);
        if (rc != SMAR_OK || info.snapshot == SMAR_TIME_NONE) {
            smar_reader_free(r);
            cli_error("'%s': the archive has no snapshot time", l->items[i].path);
            return CLI_EXIT_DAMAGED;
        }
        l->items[i].snapshot = info.snapshot;
        memcpy(l->items[i].archive_id, info.archive_id, sizeof l->items[i].archive_id);
        ret = read_base_ids(&l->items[i], r);
        smar_reader_free(r);
        if (ret != 0)
            return ret;
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
    } else if (e->base_of != NULL) {
        printf("  (base of %s)", cli_printable(e->base_of, pbuf, sizeof pbuf));
    } else if (e->retained_until != 0) {
        printf("  (retained until %s)", cli_time(tbuf, e->retained_until));
    } else if (e->retention_unknown != NULL) {
        printf("  (retention unknown: %s)", cli_printable(e->retention_unknown, pbuf, sizeof pbuf));
    }
    fputs("\n", stdout);
}

static smar_time_ns now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (smar_time_ns)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int kept(const struct prune_entry *e)
{
    return e->reasons != 0 || e->retained_until != 0 || e->retention_unknown != NULL ||
           e->base_of != NULL;
}

/* Keep every archive a kept incremental names as a base, so that nothing a kept snapshot
 * needs is deleted. Its header lists its whole chain, so one pass over the kept ones is
 * transitive. A base names the newest kept archive that needs it. A base the series
 * does not hold is not ours to worry about here (smar audit reports it). */
static void keep_bases(struct prune_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct prune_entry *e = &l->items[i];
        if (!kept(e))
            continue;
        for (size_t j = 0; j < e->base_count; j++) {
            for (size_t k = 0; k < l->n; k++) {
                struct prune_entry *b = &l->items[k];
                if (b->reasons != 0 || b->retained_until != 0 || b->retention_unknown != NULL ||
                    memcmp(b->archive_id, e->base_ids[j], 16) != 0)
                    continue; /* kept anyway, or not this base */
                if (b->base_of == NULL || e->snapshot > b->base_of_snapshot) {
                    b->base_of = e->path;
                    b->base_of_snapshot = e->snapshot;
                }
            }
        }
    }
}

/* An object no rule keeps: is it under Object Lock retention? Kept when retained until a
 * future time, or when that cannot be read (unless the server says it does not implement
 * the request and --ignore-retention-unknown was given). Also for --dry-run, which must
 * say what a real run would do. */
static void check_retention(struct prune_entry *e, const struct prune_opts *o, smar_time_ns now)
{
    char err[SMAR_IO_ERROR_MAX] = "";
    smar_time_ns until = 0;
    int rc = cli_s3_retention(e->path, &until, err);
    if (rc == SMAR_OK) {
        if (until > now)
            e->retained_until = until;
        return;
    }
    if (rc == SMAR_E_UNSUPPORTED && o->ignore_retention_unknown)
        return;
    e->retention_unknown = cli_xstrdup(err[0] != '\0' ? err : "no answer");
}

/* Which objects that no rule keeps stay for their retention; how many are unknown. */
static size_t check_retentions(struct prune_list *l, const struct prune_opts *o)
{
    size_t unknown = 0;
    smar_time_ns now = now_ns();
    for (size_t i = 0; i < l->n; i++) {
        struct prune_entry *e = &l->items[i];
        if (kept(e) || !e->is_object)
            continue;
        check_retention(e, o, now);
        unknown += e->retention_unknown != NULL;
    }
    return unknown;
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

/* Delete one object. A retention set since it was read makes the server refuse: 1. */
static int delete_object(const struct prune_entry *e)
{
    char err[SMAR_IO_ERROR_MAX] = "";
    if (cli_s3_delete(e->path, err) != SMAR_OK) {
        cli_error("cannot delete: %s", err);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Delete one archive, only when the name still holds the regular file that was read. */
static int delete_archive(const struct prune_entry *e)
{
    if (e->is_object)
        return delete_object(e);
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
    keep_bases(&l);
    size_t unknown = check_retentions(&l, o), retained = 0, bases = 0; /* in listing order */
    keep_bases(&l); /* and the bases of those kept for their retention */
    qsort(l.items, l.n, sizeof *l.items, cmp_newest_first);
    size_t nkept = 0, deleted = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct prune_entry *e = &l.items[i];
        if (kept(e)) {
            nkept++;
            bases += e->reasons == 0 && e->base_of != NULL;
            retained += e->reasons == 0 && e->base_of == NULL && e->retained_until != 0;
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
    printf("%zu kept, %zu %s", nkept, deleted, o->dry_run ? "would be deleted" : "deleted");
    if (bases > 0)
        printf("; %zu kept as bases of kept incremental archives", bases);
    if (retained > 0)
        printf("; %zu kept for their Object Lock retention", retained);
    if (unknown > 0)
        printf("; %zu kept as their retention is unknown", unknown);
    putchar('\n');
    list_free(&l);
    if (unknown > 0) {
        cli_error("%zu object(s) kept because their Object Lock retention could not be read "
                  "(--ignore-retention-unknown deletes them where the server does not implement "
                  "GetObjectRetention)",
                  unknown);
        ret = cli_exit_worst(ret, CLI_EXIT_FAILURE);
    }
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
    OPT_IGNORE_RETENTION_UNKNOWN,
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
    case OPT_IGNORE_RETENTION_UNKNOWN:
        o->ignore_retention_unknown = 1;
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
        {"ignore-retention-unknown", no_argument, NULL, OPT_IGNORE_RETENTION_UNKNOWN},
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
