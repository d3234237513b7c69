/*
 * cli.c - helpers shared by the smar subcommands (see cli.h).
 */
#include "cli.h"
#include "cli_pkcs11.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- messages ------------------------------------------------------------------------ */

static const char *current_command = NULL;

void cli_set_command(const char *name)
{
    current_command = name;
}

__attribute__((format(printf, 1, 0))) static void vprint_error(const char *fmt, va_list ap)
{
    fputs("smar: ", stderr);
    if (current_command != NULL)
        fprintf(stderr, "%s: ", current_command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
}

void cli_error_lib(const char *subject, const char *libmsg)
{
    if (libmsg == NULL || *libmsg == '\0')
        libmsg = "unknown error";
    if (subject == NULL || strstr(libmsg, subject) != NULL)
        cli_error("%s", libmsg);
    else
        cli_error("%s: %s", subject, libmsg);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
    fputs(usage, stderr);
    return CLI_EXIT_USAGE;
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return CLI_EXIT_OK;
}

int cli_exit_archive(int status)
{
    switch (status) {
    case SMAR_OK:
        return CLI_EXIT_OK;
    case SMAR_E_FORMAT:
    case SMAR_E_LIMIT:
    case SMAR_E_CORRUPT:
    case SMAR_E_AUTH: /* a MAC, tag or signature, or a slot a matching key does not open */
        return CLI_EXIT_DAMAGED;
    case SMAR_E_KEY:         /* no given key opens a slot (a provider: "no such key") */
    case SMAR_E_NOTFOUND:    /* no such secret or version */
    case SMAR_E_DENIED:      /* a key provider refused: a permission to fix */
    case SMAR_E_UNAVAILABLE: /* a KMS or HSM outage: try again; the archive is fine */
    case SMAR_E_NEEDBASE:    /* an incremental archive given without its bases */
        return CLI_EXIT_FAILURE;
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_exit_other(int status)
{
    /* Everything but success is a failure here, SMAR_E_DENIED and SMAR_E_UNAVAILABLE from
     * a key provider included: never "damaged". */
    return status == SMAR_OK ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_exit_worst(int a, int b)
{
    if (a == CLI_EXIT_DAMAGED || b == CLI_EXIT_DAMAGED)
        return CLI_EXIT_DAMAGED;
    if (a != CLI_EXIT_OK)
        return a;
    return b;
}

/* ---- options and small values ------------------------------------------------------- */

void cli_strlist_push(cli_strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->items = cli_xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = s;
}

void cli_strlist_free(cli_strlist *l)
{
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

int cli_strlist_contains(const cli_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

void cli_getopt_reset(void)
{
    /* glibc: 0 also resets its internal state between subcommands. */
    optind = 0;
    opterr = 0;
}

int cli_option_error(const char *usage, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "?";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    if (optopt > ' ' && optopt < 127 && strncmp(opt, "--", 2) != 0)
        opt = shortopt;
    if (c == ':')
        return cli_usage_error(usage, "option '%s' needs a value", opt);
    return cli_usage_error(usage, "unknown option '%s'", opt);
}

uint32_t cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (uint32_t)n;
}

int cli_parse_threads(const char *arg, const char *usage, uint32_t *out)
{
    if (cli_parse_u32(arg, 1, 256, out) != 0)
        return cli_usage_error(usage, "--threads '%s' is not a number from 1 to 256", arg);
    return 0;
}

int cli_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int cli_parse_time(const char *text, smar_time_ns *out)
{
    if (strcmp(text, "now") == 0) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
            return -1;
        *out = (smar_time_ns)ts.tv_sec * 1000000000 + ts.tv_nsec;
        return 0;
    }
    /* The library's user-input mode: also a date, or a space instead of the 'T'. */
    return smar_time_parse(text, strlen(text), 1, out) == SMAR_OK ? 0 : -1;
}

const char *cli_time(char buf[SMAR_TIME_BUFSIZE], smar_time_ns t)
{
    if (t == SMAR_TIME_NONE) {
        strcpy(buf, "-");
        return buf;
    }
    return smar_time_format(t, buf);
}

static void out_of_memory(void)
{
    cli_error("out of memory");
    exit(CLI_EXIT_FAILURE);
}

void *cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

void *cli_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        out_of_memory();
    return q;
}

char *cli_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        out_of_memory();
    return p;
}

void cli_wipe_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    explicit_bzero(p, n);
    free(p);
}

const char *cli_printable(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

/* ---- signals: temporary files to remove, a terminal to restore ---------------------- */

#define TEMP_SLOTS    64 /* temporary output files open at once (a command has one or two) */
#define TEMP_NAME_MAX 256

static struct temp_slot {
    volatile sig_atomic_t used;
    int dirfd;
    char name[TEMP_NAME_MAX];
} temp_slots[TEMP_SLOTS];

static volatile sig_atomic_t tty_saved = 0;
static int tty_fd = -1;
static struct termios tty_saved_mode;

/* An s3:// upload under way (cli_s3.c): a signal then only sets upload_interrupt, the
 * upload sees it, stops and is aborted (no object appears), and cli_out_abort dies of the
 * signal. A second signal kills at once (SA_RESETHAND): still nothing appears. */
static volatile sig_atomic_t uploading = 0;
static volatile sig_atomic_t upload_interrupt = 0;

static void on_fatal_signal(int sig)
{
    /* Only async-signal-safe calls here: unlinkat, tcsetattr, raise. */
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (temp_slots[i].used)
            unlinkat(temp_slots[i].dirfd, temp_slots[i].name, 0);
    if (tty_saved)
        tcsetattr(tty_fd, TCSANOW, &tty_saved_mode);
    if (uploading) {
        upload_interrupt = sig;
        return;
    }
    raise(sig); /* SA_RESETHAND restored the default action: die of the signal */
}

void cli_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int temp_register(int dirfd, const char *name)
{
    for (int i = 0; i < TEMP_SLOTS; i++) {
        if (!temp_slots[i].used) {
            temp_slots[i].dirfd = dirfd;
            snprintf(temp_slots[i].name, sizeof temp_slots[i].name, "%s", name);
            temp_slots[i].used = 1; /* last: the handler only reads complete slots */
            return i;
        }
    }
    return -1; /* not fatal: the file is still removed on ordinary failures */
}

static void temp_unregister(int slot)
{
    if (slot >= 0)
        temp_slots[slot].used = 0;
}

/* ---- atomic output files ------------------------------------------------------------ */

int cli_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_out_is_stdout(const char *path)
{
    static const char *const names[] = {"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(path, names[i]) == 0)
            return 1;
    return 0;
}

int cli_path_exists(const char *path)
{
    struct stat st;
    return !cli_out_is_stdout(path) && lstat(path, &st) == 0;
}

/* ---- inputs, which no output may replace -------------------------------------------- */

/* Every file the command reads, identified by device and inode (after following links, as
 * the file is opened), so an output that is one of them under any name is refused. */
static struct input_file {
    dev_t dev;
    ino_t ino;
    int is_dir;
    char *path;
} * inputs;
static size_t ninputs, inputs_cap;

void cli_note_input(const char *path)
{
    struct stat st;
    int is_stdin = path != NULL && strcmp(path, "-") == 0;
    /* Standard input counts when it is a file ("-o X - <X"); a missing file is the
     * reader's to report. */
    if (path == NULL || (is_stdin ? fstat(STDIN_FILENO, &st) : stat(path, &st)) != 0)
        return;
    if (is_stdin && !S_ISREG(st.st_mode))
        return;
    if (is_stdin)
        path = "standard input";
    if (ninputs == inputs_cap) {
        inputs_cap = inputs_cap ? 2 * inputs_cap : 8;
        inputs = cli_xrealloc(inputs, inputs_cap * sizeof *inputs);
    }
    inputs[ninputs].dev = st.st_dev;
    inputs[ninputs].ino = st.st_ino;
    inputs[ninputs].is_dir = S_ISDIR(st.st_mode);
    inputs[ninputs].path = cli_xstrdup(path);
    ninputs++;
}

static const struct input_file *input_matching(const struct stat *st)
{
    for (size_t i = 0; i < ninputs; i++)
        if (inputs[i].dev == st->st_dev && inputs[i].ino == st->st_ino)
            return &inputs[i];
    return NULL;
}

/* The input folder that dirfd is, or is somewhere below, or NULL. Walks up through ".."
 * to the root: a file written there could replace or add to what is being read. */
static const struct input_file *input_folder_holding(int dirfd)
{
    int has_folders = 0;
    for (size_t i = 0; i < ninputs; i++)
        has_folders |= inputs[i].is_dir;
    if (!has_folders)
        return NULL;
    const struct input_file *found = NULL;
    int fd = dup(dirfd);
    for (int depth = 0; fd >= 0 && found == NULL && depth < 4096; depth++) {
        struct stat here, up;
        int parent = -1;
        if (fstat(fd, &here) == 0) {
            found = input_matching(&here);
            parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        close(fd);
        fd = parent;
        if (fd >= 0 && fstat(fd, &up) == 0 && up.st_dev == here.st_dev && up.st_ino == here.st_ino)
            break; /* the root is its own parent */
    }
    if (fd >= 0)
        close(fd);
    return found; /* a folder, so one of the input folders */
}

/* What an existing file that is not a regular one is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    return "not a regular file";
}

/*
 * Whether name in dirfd may receive an output: nothing there, or (with force) a regular
 * file that is none of the inputs. A link there is not followed and not replaced. Checked
 * before the work and again right before the rename. Returns 0, or an exit code after a
 * message.
 */
static int out_check_name(int dirfd, const char *name, const char *display, int force)
{
    const struct input_file *in = input_folder_holding(dirfd);
    if (in != NULL) {
        cli_error("'%s' would be written inside the input folder '%s'", display, in->path);
        return CLI_EXIT_FAILURE;
    }
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        cli_error("cannot check '%s': %s", display, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (!S_ISREG(st.st_mode)) {
        cli_error("'%s' is %s: only a regular file is ever replaced", display,
                  file_kind(st.st_mode));
        return CLI_EXIT_FAILURE;
    }
    if ((in = input_matching(&st)) != NULL) {
        if (strcmp(in->path, display) == 0)
            cli_error("'%s' is an input of this command: it is never replaced", display);
        else
            cli_error("'%s' is an input of this command (as '%s'): it is never replaced", display,
                      in->path);
        return CLI_EXIT_FAILURE;
    }
    if (!force) {
        cli_error("'%s' exists (use --force to replace it)", display);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_out_check_at(int dirfd, const char *name, const char *display, int force)
{
    return out_check_name(dirfd, name, display, force);
}

int cli_out_check_folder(int dirfd, const char *display)
{
    const struct input_file *in = input_folder_holding(dirfd);
    if (in == NULL)
        return 0;
    cli_error("'%s' is the input folder '%s' or inside it: nothing is written there", display,
              in->path);
    return CLI_EXIT_FAILURE;
}

static void out_reset(cli_out *o)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->dirfd = -1;
    o->slot = -1;
}

int cli_out_openat(cli_out *o, int dirfd, const char *name, const char *display, int force)
{
    out_reset(o);
    o->force = force;
    o->display = cli_xstrdup(display);
    o->name = cli_xstrdup(name);
    int ret = out_check_name(dirfd, name, display, force);
    if (ret != 0) {
        cli_out_abort(o);
        return ret;
    }
    /* libsmar's file sink makes ".NAME.tmp-XXXXXX" (mode 0600) and publishes it. */
    smar_file_sink_options so = SMAR_FILE_SINK_OPTIONS_INIT;
    so.flags = force ? SMAR_FILE_SINK_REPLACE : 0;
    if (smar_file_sink_new(&o->sink) != SMAR_OK)
        out_of_memory();
    if (smar_file_sink_openat(o->sink, dirfd, name, display, &so) != SMAR_OK) {
        cli_error("%s", smar_file_sink_error(o->sink));
        cli_out_abort(o);
        return CLI_EXIT_FAILURE;
    }
    o->fd = smar_file_sink_fd(o->sink);
    o->dirfd = smar_file_sink_temp_dirfd(o->sink); /* the sink's own: valid until it is freed */
    o->slot = temp_register(o->dirfd, smar_file_sink_temp_name(o->sink));
    return 0;
}

/* Open the folder of path (a file name, not standard output); *base is the name in it.
 * Returns the folder's descriptor, or -1 after a message. */
static int out_open_folder(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (**base == '\0' || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) {
        cli_error("'%s' is not a file name", path);
        return -1;
    }
    char *dir = slash ? strndup(path, (size_t)(slash - path)) : cli_xstrdup(".");
    if (dir == NULL)
        out_of_memory();
    int dirfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        cli_error("cannot open the folder of '%s': %s", path, strerror(errno));
    free(dir);
    return dirfd;
}

int cli_out_check(const char *path, int force)
{
    if (cli_out_is_stdout(path) || cli_s3_is_url(path))
        return 0; /* an object's existence is checked when the upload starts */
    const char *base;
    int dirfd = out_open_folder(path, &base);
    if (dirfd < 0)
        return CLI_EXIT_FAILURE;
    int ret = out_check_name(dirfd, base, path, force);
    close(dirfd);
    return ret;
}

int cli_out_open(cli_out *o, const char *path, int force)
{
    out_reset(o);
    if (cli_out_is_stdout(path)) {
        o->fd = STDOUT_FILENO;
        o->is_stdout = 1;
        o->display = cli_xstrdup("standard output");
        return 0;
    }
    if (cli_s3_is_url(path)) {
        int rc = cli_s3_out_open(o, path, force, &upload_interrupt);
        uploading = rc == 0;
        return rc;
    }
    const char *base;
    int dirfd = out_open_folder(path, &base);
    if (dirfd < 0)
        return CLI_EXIT_FAILURE;
    int rc = cli_out_openat(o, dirfd, base, path, force);
    close(dirfd); /* the sink keeps its own */
    return rc;
}

/* Writes up to this size are gathered: an export extract otherwise made two write(2)
 * calls a secret. The buffer starts small (an extracted folder is many small files). */
#define OUT_BUFFER_MAX (256u << 10)
#define OUT_BUFFER_MIN (16u << 10)

static int out_write_now(cli_out *o, const void *buf, size_t len)
{
    if (o->is_stdout && cli_write_all(o->fd, buf, len) != 0) {
        cli_error("cannot write '%s': %s", o->display, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (!o->is_stdout && smar_file_sink_write(o->sink, buf, len) != SMAR_OK) {
        cli_error("%s", smar_file_sink_error(o->sink)); /* "cannot write 'NAME': why" */
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

static int out_flush(cli_out *o)
{
    if (o->blen == 0)
        return 0;
    int ret = out_write_now(o, o->buf, o->blen);
    explicit_bzero(o->buf, o->blen);
    o->blen = 0;
    return ret;
}

static void out_drop_buffer(cli_out *o)
{
    if (o->buf != NULL) {
        explicit_bzero(o->buf, o->blen);
        free(o->buf);
    }
    o->buf = NULL;
    o->blen = o->bcap = 0;
}

int cli_out_write(cli_out *o, const void *buf, size_t len)
{
    int ret;
    if (o->blen + len > o->bcap && o->bcap < OUT_BUFFER_MAX && len < OUT_BUFFER_MAX) {
        size_t cap = o->bcap ? o->bcap : OUT_BUFFER_MIN;
        while (cap < o->blen + len && cap < OUT_BUFFER_MAX)
            cap *= 2;
        char *grown = malloc(cap); /* not realloc: the old bytes must be wiped */
        if (grown == NULL)
            out_of_memory();
        if (o->blen)
            memcpy(grown, o->buf, o->blen);
        size_t keep = o->blen;
        out_drop_buffer(o);
        o->buf = grown;
        o->blen = keep;
        o->bcap = cap;
    }
    if (o->blen + len > o->bcap && (ret = out_flush(o)) != 0)
        return ret;
    if (len > o->bcap)
        return out_write_now(o, buf, len);
    memcpy(o->buf + o->blen, buf, len);
    o->blen += len;
    return 0;
}

/* With --force the name is checked again before it is replaced: an input, or a device,
 * FIFO, socket, folder or link put there while the output was being written, is not
 * replaced (the sink checks the kind once more right before its rename). */
static int out_recheck(cli_out *o)
{
    if (o->force && out_check_name(o->dirfd, o->name, o->display, o->force) != 0) {
        cli_out_abort(o);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Report a failed commit or publish of the sink (which removed its temporary file). */
static int out_publish_failed(cli_out *o, int rc)
{
    if (rc == SMAR_E_EXISTS)
        cli_error("'%s' exists (use --force to replace it)", o->display);
    else
        cli_error("%s", smar_file_sink_error(o->sink));
    cli_out_abort(o);
    return CLI_EXIT_FAILURE;
}

int cli_out_commit(cli_out *o)
{
    if (out_flush(o) != 0) {
        cli_out_abort(o);
        return CLI_EXIT_FAILURE;
    }
    if (o->s3 != NULL) { /* the writer completed the upload (smar_writer_finish) */
        cli_out_abort(o);
        return 0;
    }
    if (o->is_stdout) {
        /* A pipe cannot be synced; a regular file can and should be. */
        if (fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS) {
            cli_error("cannot sync standard output: %s", strerror(errno));
            return CLI_EXIT_FAILURE;
        }
        cli_out_abort(o);
        return 0;
    }
    if (out_recheck(o) != 0)
        return CLI_EXIT_FAILURE;
    /* fsync, rename into place, fsync the folder (the rename itself must survive a crash) */
    int rc = smar_file_sink_commit(o->sink);
    if (rc != SMAR_OK)
        return out_publish_failed(o, rc);
    cli_out_abort(o);
    return 0;
}

void cli_out_abort(cli_out *o)
{
    out_drop_buffer(o);
    /* Out of the signal handler's list before the sink closes the folder it names. */
    temp_unregister(o->slot);
    smar_file_sink_free(o->sink); /* removes the temporary file unless it was published */
    if (o->s3 != NULL) {
        cli_s3_out_close(o); /* aborts the upload unless it completed */
        uploading = 0;
        if (upload_interrupt != 0) {
            signal(upload_interrupt, SIG_DFL);
            raise(upload_interrupt); /* die of the signal, as without an upload */
        }
    }
    free(o->name);
    free(o->display);
    out_reset(o);
}

/* ---- passphrases and keys ---------------------------------------------------------- */

static int read_tty_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

/* --passphrase-file KEYFILE=PASSFILE, in the order given (the last one for a key wins). */
static cli_strlist passphrase_keys, passphrase_files;

int cli_passphrase_file_option(const char *arg, const char *usage)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return cli_usage_error(usage, "--passphrase-file takes KEYFILE=PASSFILE, not '%s'", arg);
    char *key = cli_xstrdup(arg); /* kept for the rest of the run, like the argument */
    key[eq - arg] = '\0';
    cli_strlist_push(&passphrase_keys, key);
    cli_strlist_push(&passphrase_files, eq + 1);
    return 0;
}

/* Whether a and b name the same file (the same inode), or failing that the same text. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

/* The passphrase file given for key file subject: its --passphrase-file, else
 * $SMAR_PASSPHRASE_FILE, else NULL. *from names the source for messages. */
static const char *passphrase_file_for(const char *subject, const char **from)
{
    for (size_t i = passphrase_keys.n; i-- > 0;) {
        if (same_file(passphrase_keys.items[i], subject)) {
            *from = "--passphrase-file";
            return passphrase_files.items[i];
        }
    }
    const char *env = getenv("SMAR_PASSPHRASE_FILE");
    *from = "SMAR_PASSPHRASE_FILE";
    return env != NULL && *env != '\0' ? env : NULL;
}

/* Read up to cap - 1 bytes of fd into buf, NUL-terminated; *len the count. -1 when the file
 * holds more (or a read fails, errno set). */
static int read_bounded(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            errno = EFBIG;
            return -1;
        }
    }
    buf[n] = '\0';
    *len = n;
    return 0;
}

/* The passphrase in file path, like a key file: a regular file that neither group nor
 * others may read or write (refused otherwise, never just warned about), one line (its
 * newline, LF or CRLF, is not part of it), not empty. buf is wiped on failure too. */
static int read_passphrase_file(const char *path, const char *from, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        cli_error("cannot open passphrase file '%s' (%s): %s", path, from, strerror(errno));
        return -1;
    }
    struct stat st;
    size_t len = 0;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((st.st_mode & 077) != 0)
        why = "group or others may read or write it (chmod 600 it)";
    else if (read_bounded(fd, buf, cap, &len) != 0)
        why = errno == EFBIG ? "too long for a passphrase" : strerror(errno);
    close(fd);
    if (why == NULL) {
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (len == 0)
            why = "it is empty";
        else if (strlen(buf) != len || strchr(buf, '\n') != NULL)
            why = "it holds more than one line, or a NUL byte";
    }
    if (why != NULL) {
        explicit_bzero(buf, cap);
        cli_error("passphrase file '%s' (%s): %s", path, from, why);
        return -1;
    }
    return 0;
}

int cli_get_passphrase(const char *subject, char *buf, size_t cap)
{
    const char *from;
    const char *file = passphrase_file_for(subject, &from);
    if (file != NULL)
        return read_passphrase_file(file, from, buf, cap);
    const char *env = getenv("SMAR_PASSPHRASE");
    if (env != NULL && *env != '\0') {
        if (strlen(env) >= cap) {
            cli_error("SMAR_PASSPHRASE is too long");
            return -1;
        }
        strcpy(buf, env);
        return 0;
    }
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("'%s' needs a passphrase: give --passphrase-file %s=FILE, set "
                  "SMAR_PASSPHRASE_FILE or SMAR_PASSPHRASE, or run on a terminal",
                  subject, subject);
        return -1;
    }
    char prompt[512];
    snprintf(prompt, sizeof prompt, "passphrase for '%s': ", subject);
    cli_write_all(fd, prompt, strlen(prompt));
    struct termios mode;
    int have_mode = tcgetattr(fd, &mode) == 0;
    if (have_mode) {
        tty_saved_mode = mode;
        tty_fd = fd;
        tty_saved = 1;
        mode.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSANOW, &mode); /* keep what was typed ahead */
    }
    read_tty_line(fd, buf, cap);
    if (have_mode) {
        tcsetattr(fd, TCSANOW, &tty_saved_mode);
        tty_saved = 0;
    }
    cli_write_all(fd, "\n", 1);
    close(fd);
    if (*buf == '\0') {
        cli_error("no passphrase entered for '%s'", subject);
        return -1;
    }
    return 0;
}

/* A key file of the wrong kind gets a message saying which option takes it. Returns 1
 * after that message, 0 when the file is not a signing key of either half. */
static int explain_wrong_key_kind(const char *path)
{
    switch (smar_keyfile_kind_of(path)) {
    case SMAR_KEYFILE_SIGNING_KEY:
        cli_error("%s: this is a signing key, not a keyring; use it with --sign", path);
        return 1;
    case SMAR_KEYFILE_PUBLIC_KEY:
        cli_error("%s: this is a producer public key, not a keyring; use it with --pubkey", path);
        return 1;
    case SMAR_KEYFILE_KEYRING:
    case SMAR_KEYFILE_IDENTITY:
    case SMAR_KEYFILE_RECIPIENT:
    case SMAR_KEYFILE_UNKNOWN:
        break;
    }
    return 0;
}

/* An X25519 identity (opens and wraps) or recipient (wraps only) given as --key. */
static int load_recipient_key(const char *path, smar_keyfile_kind kind, smar_keyring *kr)
{
    int rc = kind == SMAR_KEYFILE_RECIPIENT ? smar_keyring_load_recipient(kr, path)
                                            : smar_keyring_load_identity(kr, path, NULL);
    if (rc == SMAR_E_PASSPHRASE) {
        char pass[CLI_PASSPHRASE_MAX];
        if (cli_get_passphrase(path, pass, sizeof pass) != 0)
            return CLI_EXIT_FAILURE;
        rc = smar_keyring_load_identity(kr, path, pass);
        explicit_bzero(pass, sizeof pass);
    }
    if (rc != SMAR_OK) {
        cli_error_lib(path, smar_keyring_error(kr));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_load_keyring(const char *path, smar_keyring *kr, char **passphrase_out)
{
    if (passphrase_out != NULL)
        *passphrase_out = NULL;
    if (cli_is_pkcs11_uri(path))
        return cli_load_pkcs11_keyring(path, kr);
    if (cli_is_kms_key(path))
        return cli_load_kms_keyring(path, kr);
    cli_note_input(path);
    smar_keyfile_kind kind = smar_keyfile_kind_of(path);
    if (kind == SMAR_KEYFILE_IDENTITY || kind == SMAR_KEYFILE_RECIPIENT)
        return load_recipient_key(path, kind, kr);
    int rc = smar_keyring_load(kr, path, NULL);
    if (rc == SMAR_E_PASSPHRASE) {
        char pass[CLI_PASSPHRASE_MAX];
        if (cli_get_passphrase(path, pass, sizeof pass) != 0)
            return CLI_EXIT_FAILURE;
        rc = smar_keyring_load(kr, path, pass);
        if (rc == SMAR_OK && passphrase_out != NULL)
            *passphrase_out = cli_xstrdup(pass);
        explicit_bzero(pass, sizeof pass);
    }
    if (rc != SMAR_OK) {
        if ((rc == SMAR_E_FORMAT || rc == SMAR_E_INVALID) && explain_wrong_key_kind(path))
            return CLI_EXIT_FAILURE;
        cli_error_lib(path, smar_keyring_error(kr));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* What the reader said a provider answered for a slot it did not find (reader.c open_slot:
 * "...: no given key opens a key slot: PROVIDER TEXT"), or NULL. */
static const char *provider_not_found_text(smar_reader *r)
{
    static const char marker[] = "no given key opens a key slot: ";
    const char *at = strstr(smar_reader_error(r), marker);
    return at != NULL ? at + sizeof marker - 1 : NULL;
}

/* A slot as the user names the key it needs: "key ID version N" for a local keyring (as
 * key show prints it), with the provider for others, the version only when the slot has
 * one. */
static size_t describe_slot(char *out, size_t cap, const smar_slot_info *si, const char *id)
{
    bool local = si->provider_id == 1;
    int n;
    if (si->version_kind == 1)
        n = snprintf(out, cap, "key %s version %u", id, si->key_version);
    else if (si->version_kind == 2 && si->version_string != NULL)
        n = snprintf(out, cap, "key %s version %s", id, si->version_string);
    else
        n = snprintf(out, cap, "key %s", id);
    if (n >= 0 && (size_t)n < cap && !local)
        n += snprintf(out + n, cap - (size_t)n, " (%s)", si->provider);
    return n < 0 ? 0 : (size_t)n;
}

/* What a given keyring of the slot's key id holds, or why it did not open the slot. A
 * local keyring's versions are always 1 to N (spec/KEYRING.md); another provider's are
 * known to the provider only, so its own answer is quoted. */
static size_t describe_held(char *out, size_t cap, smar_reader *r, const smar_keyring *kr,
                            const smar_slot_info *si, const char *id)
{
    if (strcmp(smar_keyring_provider(kr), "local") != 0) {
        const char *why = provider_not_found_text(r);
        int n = why != NULL ? snprintf(out, cap, "; %s", why)
                            : snprintf(out, cap, "; the given %s key %s does not open it",
                                       smar_keyring_provider(kr), id);
        return n < 0 ? 0 : (size_t)n;
    }
    size_t count = smar_keyring_version_count(kr);
    char versions[48] = "version 1";
    if (count > 1)
        snprintf(versions, sizeof versions, "versions 1 to %zu", count);
    int n = smar_keyring_version_destroyed(kr, si->key_version)
                ? snprintf(out, cap, "; version %u of key %s was destroyed", si->key_version, id)
                : snprintf(out, cap, "; the given keyring of key %s holds %s only", id, versions);
    return n < 0 ? 0 : (size_t)n;
}

/* Why no keyring opened a slot: each slot's key, and what the given keys of that id hold
 * (a local keyring) or what their provider answered (any other). */
static void explain_no_slot(const char *path, smar_reader *r, smar_keyring *const *keys, size_t n)
{
    char needs[1024] = "", held[1024] = "";
    size_t nl = 0, hl = 0;
    bool quoted = false; /* a provider's answer is given once */
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    size_t slots = smar_reader_info(r, &info) == SMAR_OK ? info.slot_count : 0;
    for (size_t i = 0; i < slots; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        if (smar_reader_slot(r, i, &si) != SMAR_OK)
            continue;
        char id[160];
        cli_printable(si.key_id, id, sizeof id);
        if (nl < sizeof needs) {
            if (i > 0)
                nl += (size_t)snprintf(needs + nl, sizeof needs - nl, " or ");
            if (nl < sizeof needs)
                nl += describe_slot(needs + nl, sizeof needs - nl, &si, id);
        }
        for (size_t k = 0; k < n; k++) {
            if (strcmp(smar_keyring_id(keys[k]), si.key_id) != 0 || hl >= sizeof held)
                continue;
            bool local = strcmp(smar_keyring_provider(keys[k]), "local") == 0;
            if (!local && quoted)
                continue;
            quoted |= !local;
            hl += describe_held(held + hl, sizeof held - hl, r, keys[k], &si, id);
        }
    }
    cli_error("%s: none of the given keys opens a key slot of this archive: it needs %s%s", path,
              needs, *held ? held : " (no given keyring has that key id)");
}

/* A recipient given for a slot it was made for cannot open it: say so, and what can.
 * Returns 1 after that message, else 0. */
static int explain_recipient_only(const char *path, smar_reader *r, smar_keyring *const *keys,
                                  size_t n)
{
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    size_t slots = smar_reader_info(r, &info) == SMAR_OK ? info.slot_count : 0;
    for (size_t i = 0; i < slots; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        if (smar_reader_slot(r, i, &si) != SMAR_OK)
            continue;
        for (size_t k = 0; k < n; k++) {
            if (!smar_keyring_is_recipient(keys[k]) || strcmp(smar_keyring_id(keys[k]), si.key_id))
                continue;
            char id[160];
            cli_error("%s: key %s: a recipient (public key) cannot open archives; use its "
                      "identity file",
                      path, cli_printable(si.key_id, id, sizeof id));
            return 1;
        }
    }
    return 0;
}

int cli_load_signkey(const char *path, smar_signkey *sk)
{
    cli_note_input(path);
    int rc = smar_signkey_load(sk, path, NULL);
    if (rc == SMAR_E_PASSPHRASE) {
        char pass[CLI_PASSPHRASE_MAX];
        if (cli_get_passphrase(path, pass, sizeof pass) != 0)
            return CLI_EXIT_FAILURE;
        rc = smar_signkey_load(sk, path, pass);
        explicit_bzero(pass, sizeof pass);
    }
    if (rc != SMAR_OK) {
        cli_error_lib(path, smar_signkey_error(sk));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_load_keyrings(const cli_strlist *paths, smar_keyring ***out, size_t *n)
{
    cli_strlist fallback = {0};
    const cli_strlist *use = paths;
    *out = NULL;
    *n = 0;
    if (paths->n == 0) {
        const char *env = getenv("SMAR_KEY_FILE");
        if (env == NULL || *env == '\0') {
            cli_error("no key given: use --key FILE or set SMAR_KEY_FILE");
            return CLI_EXIT_USAGE;
        }
        cli_strlist_push(&fallback, env);
        use = &fallback;
    }
    smar_keyring **keys = cli_xmalloc(use->n * sizeof *keys);
    size_t loaded = 0;
    int rc = 0;
    for (size_t i = 0; i < use->n && rc == 0; i++) {
        if (smar_keyring_new(&keys[i]) != SMAR_OK)
            out_of_memory();
        loaded++;
        rc = cli_load_keyring(use->items[i], keys[i], NULL);
    }
    cli_strlist_free(&fallback);
    if (rc != 0) {
        cli_free_keyrings(keys, loaded);
        return rc;
    }
    *out = keys;
    *n = loaded;
    return 0;
}

void cli_free_keyrings(smar_keyring **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        smar_keyring_free(keys[i]);
    free(keys);
}

/* ---- pinned producers ------------------------------------------------------------------ */

static cli_strlist pubkey_paths;    /* --pubkey, in the order given */
static uint8_t *pinned_keys = NULL; /* cli_pin_producers: trusted signers, 32 bytes each */
static size_t npinned = 0;
/* The last cli_open_archive refused its archive's signer: not damage that --skip-damaged may
 * pass over, but a file nobody trusted (the whole command is refused). */
static int signer_refused = 0;

void cli_pubkey_option(const char *path)
{
    cli_strlist_push(&pubkey_paths, path);
}

int cli_load_public_key(const char *path, uint8_t pk[SMAR_SIGN_PUBLIC_BYTES])
{
    smar_signkey *pub = NULL;
    int rc = smar_signkey_new(&pub);
    if (rc == SMAR_OK)
        rc = smar_signkey_load_public(pub, path);
    if (rc == SMAR_OK)
        smar_signkey_public(pub, pk);
    else
        cli_error_lib(path, pub ? smar_signkey_error(pub) : smar_strerror(rc));
    smar_signkey_free(pub);
    return rc == SMAR_OK ? 0 : CLI_EXIT_FAILURE;
}

static int load_pubkey(const char *path, uint8_t *keys, size_t *n)
{
    cli_note_input(path);
    if (cli_load_public_key(path, keys + *n * SMAR_SIGN_PUBLIC_BYTES) != 0)
        return CLI_EXIT_FAILURE;
    (*n)++;
    return 0;
}

/* $SMAR_PUBKEY split at ':' into paths (pointing into a copy the caller frees). */
static char *pubkeys_from_env(cli_strlist *paths)
{
    const char *env = getenv("SMAR_PUBKEY");
    if (env == NULL || *env == '\0')
        return NULL;
    char *copy = cli_xstrdup(env);
    for (char *p = copy, *next; p != NULL; p = next) {
        next = strchr(p, ':');
        if (next != NULL)
            *next++ = '\0';
        if (*p != '\0')
            cli_strlist_push(paths, p);
    }
    return copy;
}

int cli_load_pubkeys(uint8_t **keys, size_t *n)
{
    cli_strlist env_paths = {0};
    char *env_copy = pubkey_paths.n ? NULL : pubkeys_from_env(&env_paths);
    const cli_strlist *use = pubkey_paths.n ? &pubkey_paths : &env_paths;
    int rc = 0;
    *keys = NULL;
    *n = 0;
    if (use->n > 0)
        *keys = cli_xmalloc(use->n * SMAR_SIGN_PUBLIC_BYTES);
    for (size_t i = 0; i < use->n && rc == 0; i++)
        rc = load_pubkey(use->items[i], *keys, n);
    cli_strlist_free(&env_paths);
    free(env_copy);
    if (rc != 0) {
        free(*keys);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

int cli_pin_producers(void)
{
    free(pinned_keys);
    return cli_load_pubkeys(&pinned_keys, &npinned);
}

static int no_signer_check = 0; /* --no-signer-check */

void cli_no_signer_check_option(void)
{
    no_signer_check = 1;
}

int cli_check_opener(const char *path, smar_reader *r, int producer_pinned)
{
    if (producer_pinned || no_signer_check || smar_reader_unlocked_by_public_key(r) != 1)
        return 0;
    signer_refused = 1; /* not damage: --skip-damaged does not pass over it */
    cli_error("%s: opened with a public-key recipient, which anyone can encrypt to: pin the "
              "producer with --pubkey (or --no-signer-check)",
              path);
    return CLI_EXIT_DAMAGED;
}

/* ---- archives ------------------------------------------------------------------------ */

int cli_open_archive(const char *path, smar_reader **out)
{
    smar_reader *r = NULL;
    *out = NULL;
    if (smar_reader_new(&r) != SMAR_OK)
        out_of_memory();
    cli_note_input(path);
    char s3err[SMAR_IO_ERROR_MAX] = "";
    int rc = cli_s3_is_url(path) ? cli_s3_reader_open(r, path, s3err) : smar_reader_open(r, path);
    if (rc != SMAR_OK) {
        /* The library's message says "unsupported archive format version N". */
        cli_error_lib(path, s3err[0] != '\0' ? s3err : smar_reader_error(r));
        smar_reader_free(r);
        return cli_exit_archive(rc);
    }
    /* The one place every reading command passes: a pinned producer is checked here. */
    if (npinned > 0 && (rc = smar_reader_check_signer(r, pinned_keys, npinned)) != SMAR_OK) {
        signer_refused = 1;
        cli_error_lib(path, smar_reader_error(r));
        smar_reader_free(r);
        return cli_exit_archive(rc);
    }
    *out = r;
    return 0;
}

int cli_unlock_archive(const char *path, smar_reader *r, smar_keyring **keys, size_t n)
{
    int rc = smar_reader_unlock(r, keys, n);
    if (rc == SMAR_OK)
        return cli_check_opener(path, r, npinned > 0);
    if (rc == SMAR_E_KEY) {
        if (explain_recipient_only(path, r, keys, n))
            return CLI_EXIT_FAILURE;
        explain_no_slot(path, r, keys, n);
        return CLI_EXIT_FAILURE;
    }
    cli_error_lib(path, smar_reader_error(r));
    return cli_exit_archive(rc);
}

/* A slot for one more archive in cs. */
static size_t series_slot(cli_series *cs, const char *path)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap != 0 ? cs->cap * 2 : 8;
        cs->readers = cli_xrealloc(cs->readers, cs->cap * sizeof *cs->readers);
        cs->paths = cli_xrealloc(cs->paths, cs->cap * sizeof *cs->paths);
    }
    cs->readers[cs->n] = NULL;
    cs->paths[cs->n] = path;
    return cs->n++;
}

/* Unlock one archive r opened (and owned, freed on failure). Returns 0, or an exit code
 * after a message. */
static int series_unlock_reader(cli_series *cs, uint32_t threads, const char *path, smar_reader *r,
                                smar_reader **out)
{
    int ret;
    smar_reader_set_threads(r, threads);
    if ((ret = cli_unlock_archive(path, r, cs->keys, cs->nkeys)) != 0) {
        smar_reader_free(r);
        return ret;
    }
    *out = r;
    return 0;
}

/* Open and unlock one archive. Returns 0, or an exit code after a message. */
static int series_open_reader(cli_series *cs, uint32_t threads, const char *path, smar_reader **out)
{
    smar_reader *r = NULL;
    int ret = cli_open_archive(path, &r);
    return ret != 0 ? ret : series_unlock_reader(cs, threads, path, r, out);
}

/* Open, unlock and add one archive. Returns 0, or an exit code after a message. */
static int series_add_one(cli_series *cs, uint32_t threads, const char *path)
{
    smar_reader *r = NULL;
    int ret = series_open_reader(cs, threads, path, &r);
    if (ret != 0)
        return ret;
    int rc = smar_series_add(cs->series, r);
    if (rc != SMAR_OK) {
        cli_error_lib(path, smar_series_error(cs->series));
        smar_reader_free(r);
        return rc == SMAR_E_INVALID ? CLI_EXIT_FAILURE : cli_exit_archive(rc);
    }
    size_t slot = series_slot(cs, path); /* may move cs->readers */
    cs->readers[slot] = r;
    return 0;
}

/* An archive listed under a prefix, whose name gave its snapshot time: opened by the
 * series when a query first needs it. */
typedef struct cli_lazy_source {
    cli_series *cs;
    size_t slot;
    smar_reader *opened; /* opened keyless when it was added (its header read), or NULL */
} cli_lazy_source;

static int open_lazy_source(void *ctx, smar_reader **out)
{
    cli_lazy_source *ls = ctx;
    cli_series *cs = ls->cs;
    const char *path = cs->paths[ls->slot];
    smar_reader *opened = ls->opened;
    int ret;
    ls->opened = NULL; /* unlocked or freed below, never twice */
    signer_refused = 0;
    if (opened != NULL) /* the signer, if pinned, was checked when it was opened */
        ret = series_unlock_reader(cs, cs->threads, path, opened, &cs->readers[ls->slot]);
    else
        ret = series_open_reader(cs, cs->threads, path, &cs->readers[ls->slot]);
    if (ret == CLI_EXIT_DAMAGED && cs->skip_damaged && !signer_refused) {
        cli_error("%s: damaged, left out of the series (--skip-damaged)", path);
        cs->damaged++;
        return SMAR_E_CORRUPT;
    }
    if (ret == CLI_EXIT_DAMAGED && signer_refused) /* never passed over as damage: exit 3 */
        return cs->skip_damaged ? SMAR_E_DENIED : SMAR_E_AUTH;
    if (ret != 0) /* the message is out */
        return ret == CLI_EXIT_DAMAGED ? SMAR_E_CORRUPT : SMAR_E_IO;
    *out = cs->readers[ls->slot];
    return SMAR_OK;
}

/* Add url to the series as a source opened when a query first needs it; opened (owned,
 * may be NULL) is the archive already opened keyless, kept so it is not read twice. */
static int add_lazy_source(cli_series *cs, const char *url, smar_time_ns snapshot,
                           smar_reader *opened)
{
    cli_lazy_source *ls = cli_xmalloc(sizeof *ls);
    *ls = (cli_lazy_source){cs, series_slot(cs, url), opened};
    cs->lazies = cli_xrealloc(cs->lazies, (cs->nlazies + 1) * sizeof *cs->lazies);
    cs->lazies[cs->nlazies++] = ls;
    if (smar_series_add_source(cs->series, snapshot, open_lazy_source, ls) != SMAR_OK)
        out_of_memory();
    return 0;
}

/*
 * Every archive under an s3:// prefix, from one listing. Names `create -o s3://B/P/` made
 * give the snapshot time, so those archives are opened only when a query needs them; any
 * other object is opened now (its header says its time). Names of two instances under one
 * prefix are refused: the series would mix them.
 */
static int series_add_prefix(cli_series *cs, const char *prefix)
{
    size_t first = cs->listed.n;
    int ret = cli_s3_list(prefix, &cs->listed);
    char instance[256] = "", other[256];
    for (size_t i = first; i < cs->listed.n && ret == 0; i++) {
        const char *url = cs->listed.items[i];
        smar_time_ns snapshot;
        if (!cli_s3_series_name(url, &snapshot, other, sizeof other)) {
            ret = series_add_one(cs, cs->threads, url);
            if (ret == CLI_EXIT_DAMAGED && cs->skip_damaged && !signer_refused) {
                cli_error("%s: damaged, left out of the series (--skip-damaged)", url);
                cs->damaged++;
                ret = 0;
            }
            continue;
        }
        if (instance[0] != '\0' && strcmp(instance, other) != 0) {
            cli_error("%s holds archives of more than one instance (%s/ and %s/): name one, as "
                      "in %s%s/",
                      prefix, instance, other, prefix, instance);
            return CLI_EXIT_FAILURE;
        }
        memcpy(instance, other, sizeof instance);
        ret = add_lazy_source(cs, url, snapshot, NULL);
    }
    return ret;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* At most this many archives of a folder are kept open, keyless, until a query needs them. */
#define SERIES_KEPT_OPEN_MAX 256

/* A local archive added to the series by its snapshot time (read keyless from its header):
 * unlocked only when a query needs it, like an archive under an s3:// prefix, so a restore
 * from a folder of many archives unwraps the keys of the one or two it reads. */
static int series_add_local_source(cli_series *cs, const char *path)
{
    smar_reader *r = NULL;
    int ret = cli_open_archive(path, &r);
    if (ret != 0)
        return ret;
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    int rc = smar_reader_info(r, &info);
    if (rc != SMAR_OK) {
        smar_reader_free(r);
        cli_error_lib(path, "cannot read the archive's header");
        return CLI_EXIT_FAILURE;
    }
    /* Kept for the first query that needs it (one open, one read of its header and chunk
     * table, instead of two); past a bound, freed and opened again then, so a folder of
     * thousands of archives does not hold a file descriptor for each. */
    if (cs->nlazies >= SERIES_KEPT_OPEN_MAX) {
        smar_reader_free(r);
        r = NULL;
    }
    return add_lazy_source(cs, path, info.snapshot != SMAR_TIME_NONE ? info.snapshot : info.created,
                           r);
}

/* A local folder given as a series: its *.smar files, in name order (the series orders
 * them by snapshot anyway; the order only fixes which message comes first), each opened
 * when a query first needs it. */
static int series_add_folder(cli_series *cs, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cli_error("%s: cannot read the folder: %s", dir, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    cli_strlist names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 5 && strcmp(e->d_name + len - 5, ".smar") == 0) {
            size_t cap = strlen(dir) + len + 2;
            char *path = cli_xmalloc(cap);
            snprintf(path, cap, "%s/%s", dir, e->d_name);
            cli_strlist_push(&names, path);
        }
    }
    closedir(d);
    if (names.n > 1)
        qsort((void *)(uintptr_t)names.items, names.n, sizeof *names.items, compare_strings);
    int ret = 0;
    for (size_t i = 0; i < names.n; i++) {
        /* the series keeps the path for its messages: cs->listed owns it */
        cli_strlist_push(&cs->listed, names.items[i]);
        if (ret == 0)
            ret = series_add_local_source(cs, names.items[i]);
    }
    cli_strlist_free(&names);
    return ret;
}

static int is_local_folder(const char *path)
{
    struct stat st;
    return !cli_s3_is_url(path) && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The archive id of a local file, read keyless; 0 when it is not an archive. */
static int local_archive_id(const char *path, uint8_t id[16])
{
    smar_reader *r = NULL;
    smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;
    int ok = smar_reader_new(&r) == SMAR_OK && smar_reader_open(r, path) == SMAR_OK &&
             smar_reader_info(r, &info) == SMAR_OK;
    if (ok)
        memcpy(id, info.archive_id, 16);
    smar_reader_free(r);
    return ok;
}

static int is_base_of(smar_reader *r, const uint8_t id[16])
{
    for (size_t i = 0; i < smar_reader_base_count(r); i++) {
        smar_base_info b = SMAR_BASE_INFO_INIT;
        if (smar_reader_base(r, i, &b) == SMAR_OK && memcmp(b.archive_id, id, 16) == 0)
            return 1;
    }
    return 0;
}

void cli_sibling_bases(const char *path, smar_reader *r, cli_strlist *out)
{
    if (smar_reader_base_count(r) == 0 || cli_s3_is_url(path) || strcmp(path, "-") == 0)
        return;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 1;
    char *dir = cli_xmalloc(dirlen + 1);
    memcpy(dir, slash ? path : ".", dirlen);
    dir[dirlen] = '\0';
    DIR *d = opendir(dir[0] ? dir : "/");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".smar") != 0)
            continue;
        size_t cap = dirlen + len + 2;
        char *sibling = cli_xmalloc(cap);
        uint8_t id[16];
        snprintf(sibling, cap, "%s/%s", dir, e->d_name);
        if (local_archive_id(sibling, id) && is_base_of(r, id))
            cli_strlist_push(out, sibling);
        else
            free(sibling);
    }
    if (d != NULL)
        closedir(d);
    free(dir);
}

/* What the sibling base opener needs: the archive's path, the keys, and where the bases it
 * opens are kept (the caller's list, freed with r). Lives until the process ends (one per
 * incremental archive given alone; freed at exit). */
struct sibling_opener {
    struct sibling_opener *next;
    const char *path;
    smar_keyring **keys;
    size_t nkeys;
    uint32_t threads;
    smar_reader ***held;
    size_t *nheld;
    int scanned;       /* the folder's headers are read once, when a base is first needed */
    cli_strlist found; /* the siblings that are bases of r */
};

static struct sibling_opener *sibling_openers;

static void free_sibling_openers(void)
{
    while (sibling_openers) {
        struct sibling_opener *o = sibling_openers;
        sibling_openers = o->next;
        for (size_t i = 0; i < o->found.n; i++)
            free((void *)(uintptr_t)o->found.items[i]);
        cli_strlist_free(&o->found);
        free(o);
    }
}

/* A sibling's unlock failed with exit code ret (the message is printed): the status the
 * library fails the read with, so that the exit code stays the same. */
static int unlock_status(int ret)
{
    return ret == CLI_EXIT_DAMAGED ? SMAR_E_AUTH : SMAR_E_KEY;
}

/* The library's base opener (smar_reader_set_base_opener): base i of r from the siblings
 * of r's file, opened and unlocked now. Only the base asked is unlocked: a key unwrap can
 * be a round trip to a key service. */
static int open_sibling_base(void *ctx, smar_reader *r, size_t i, smar_reader **out)
{
    struct sibling_opener *o = ctx;
    smar_base_info want = SMAR_BASE_INFO_INIT;
    if (smar_reader_base(r, i, &want) != SMAR_OK)
        return SMAR_E_NOTFOUND;
    if (!o->scanned) {
        cli_sibling_bases(o->path, r, &o->found);
        o->scanned = 1;
    }
    for (size_t k = 0; k < o->found.n; k++) {
        const char *at = o->found.items[k];
        uint8_t id[16];
        if (!local_archive_id(at, id) || memcmp(id, want.archive_id, 16) != 0)
            continue;
        smar_reader *base = NULL;
        int ret = cli_open_archive(at, &base);
        if (ret != 0)
            return unlock_status(ret);
        smar_reader_set_threads(base, o->threads);
        if ((ret = cli_unlock_archive(at, base, o->keys, o->nkeys)) != 0) {
            smar_reader_free(base);
            return unlock_status(ret);
        }
        *o->held = cli_xrealloc(*o->held, (*o->nheld + 1) * sizeof **o->held);
        (*o->held)[(*o->nheld)++] = base;
        *out = base;
        return SMAR_OK;
    }
    return SMAR_E_NOTFOUND;
}

int cli_attach_sibling_bases(const char *path, smar_reader *r, smar_keyring **keys, size_t nkeys,
                             uint32_t threads, smar_reader ***held, size_t *nheld)
{
    if (smar_reader_base_count(r) == 0 || cli_s3_is_url(path) || strcmp(path, "-") == 0)
        return 0;
    struct sibling_opener *o = cli_xmalloc(sizeof *o);
    *o = (struct sibling_opener){.next = sibling_openers,
                                 .path = path,
                                 .keys = keys,
                                 .nkeys = nkeys,
                                 .threads = threads,
                                 .held = held,
                                 .nheld = nheld};
    if (sibling_openers == NULL)
        atexit(free_sibling_openers);
    sibling_openers = o;
    smar_reader_set_base_opener(r, open_sibling_base, o);
    return 0;
}

int cli_series_open(cli_series *cs, const cli_strlist *keypaths, uint32_t threads, int skip_damaged,
                    int n, char **paths)
{
    memset(cs, 0, sizeof *cs);
    int ret = cli_load_keyrings(keypaths, &cs->keys, &cs->nkeys);
    if (ret != 0)
        return ret;
    size_t count = (size_t)n;
    cs->threads = threads;
    cs->skip_damaged = skip_damaged;
    if (smar_series_new(&cs->series) != SMAR_OK)
        out_of_memory();
    smar_series_set_skip_damaged(cs->series, skip_damaged);
    for (size_t i = 0; i < count; i++) {
        signer_refused = 0;
        ret = cli_s3_is_prefix(paths[i])  ? series_add_prefix(cs, paths[i])
              : is_local_folder(paths[i]) ? series_add_folder(cs, paths[i])
                                          : series_add_one(cs, threads, paths[i]);
        if (ret == CLI_EXIT_DAMAGED && skip_damaged && !signer_refused) {
            cli_error("%s: damaged, left out of the series (--skip-damaged)", paths[i]);
            cs->damaged++;
            continue;
        }
        if (ret != 0)
            return ret;
    }
    if (cs->n == 0) {
        cli_error("no archive could be read");
        return CLI_EXIT_DAMAGED;
    }
    /* One local incremental archive: its bases are looked for beside it. */
    if (n == 1 && cs->n == 1 && cs->readers[0] != NULL)
        return cli_attach_sibling_bases(cs->paths[0], cs->readers[0], cs->keys, cs->nkeys, threads,
                                        &cs->bases, &cs->nbases);
    return 0;
}

size_t cli_series_report_damaged(const cli_series *cs)
{
    size_t n = cs->damaged;
    for (size_t i = 0; i < cs->n; i++) {
        const char *why = NULL;
        if (cs->readers[i] == NULL) /* never opened, or left out when opened (counted) */
            continue;
        if (smar_series_archive_status(cs->series, cs->readers[i], &why) == SMAR_OK)
            continue;
        cli_error_lib(cs->paths[i], why);
        cli_error("%s: damaged; with --skip-damaged the answers came from the other archives "
                  "where they could",
                  cs->paths[i]);
        n++;
    }
    return n;
}

void cli_series_close(cli_series *cs)
{
    smar_series_free(cs->series); /* before the readers it borrows */
    for (size_t i = 0; i < cs->n; i++)
        smar_reader_free(cs->readers[i]);
    free(cs->readers);
    for (size_t i = 0; i < cs->nbases; i++)
        smar_reader_free(cs->bases[i]);
    free(cs->bases);
    free(cs->paths);
    for (size_t i = 0; i < cs->listed.n; i++)
        free((void *)(uintptr_t)cs->listed.items[i]); /* ours: strdup'ed */
    cli_strlist_free(&cs->listed);
    for (size_t i = 0; i < cs->nlazies; i++) {
        smar_reader_free(cs->lazies[i]->opened); /* never needed by a query */
        free(cs->lazies[i]);
    }
    free(cs->lazies);
    cli_free_keyrings(cs->keys, cs->nkeys);
    memset(cs, 0, sizeof *cs);
}

/* "secret <id> ("name")" for messages. */
static const char *secret_words(char *who, size_t cap, const char *id, const smar_at *at)
{
    char nbuf[256], ibuf[128];
    const char *name = at->secret ? smar_secret_name(at->secret) : "";
    cli_printable(id, ibuf, sizeof ibuf);
    if (*name)
        snprintf(who, cap, "secret %s (\"%s\")", ibuf, cli_printable(name, nbuf, sizeof nbuf));
    else
        snprintf(who, cap, "secret %s", ibuf);
    return who;
}

static void report_not_created(const char *who, const smar_at *at)
{
    char t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE];
    cli_time(t1, at->at);
    if (at->created != SMAR_TIME_NONE && at->created > at->at)
        cli_error("%s did not exist at %s: it was created at %s", who, t1,
                  cli_time(t2, at->created));
    else if (at->snapshot != SMAR_TIME_NONE)
        cli_error("%s did not exist at %s: the snapshot of %s (the newest at or before it) does "
                  "not hold it",
                  who, t1, cli_time(t2, at->snapshot));
    else
        cli_error("%s did not exist at %s: it was created later", who, t1);
}

static void report_no_payload(const char *who, const smar_at *at)
{
    char vbuf[256], t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE], t3[SMAR_TIME_BUFSIZE];
    cli_printable(at->version_at ? smar_version_id(at->version_at) : "?", vbuf, sizeof vbuf);
    cli_time(t1, at->at);
    if (at->payload_until == SMAR_TIME_NONE)
        cli_error("%s: version %s was current at %s but no given archive holds its payload; "
                  "an archive with a snapshot time from %s on would hold it",
                  who, vbuf, t1, cli_time(t2, at->payload_from));
    else
        cli_error("%s: version %s was current at %s but no given archive holds its payload; "
                  "an archive with a snapshot time from %s until %s would have held it",
                  who, vbuf, t1, cli_time(t2, at->payload_from), cli_time(t3, at->payload_until));
}

static void report_recorded(const char *who, const smar_at *at)
{
    char vbuf[256], t1[SMAR_TIME_BUFSIZE];
    cli_time(t1, at->at);
    if (at->version_at == NULL) {
        cli_error("%s had no version and no payload at %s (as exported)", who, t1);
        return;
    }
    cli_printable(smar_version_id(at->version_at), vbuf, sizeof vbuf);
    if (at->payload_available == 0)
        cli_error("%s: version %s had no payload at %s: the service had none "
                  "(\"payload_available\": false; destroyed or expired)",
                  who, vbuf, t1);
    else
        cli_error("%s: version %s: the snapshot holds no payload for it (the export did not "
                  "carry one)",
                  who, vbuf);
}

void cli_report_unavailable(const char *id, const smar_at *at)
{
    char who[512], t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE];
    secret_words(who, sizeof who, id, at);
    switch (at->status) {
    case SMAR_AT_NOT_CREATED:
        report_not_created(who, at);
        break;
    case SMAR_AT_DELETED:
        cli_error("%s did not exist at %s: it was deleted (the snapshot of %s no longer has it)",
                  who, cli_time(t1, at->at), cli_time(t2, at->deleted_seen));
        break;
    case SMAR_AT_NO_PAYLOAD:
        report_no_payload(who, at);
        break;
    case SMAR_AT_NO_PAYLOAD_RECORDED:
        report_recorded(who, at);
        break;
    case SMAR_AT_FOUND:
        break;
    }
}

/* ---- progress --------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cli_progress_init(cli_progress *p, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->last_ms = 0;
    p->shown = 0;
}

void cli_progress_show(cli_progress *p, const char *fmt, ...)
{
    if (!p->enabled)
        return;
    uint64_t t = now_ms();
    if (p->shown && t - p->last_ms < 200)
        return;
    p->last_ms = t;
    p->shown = 1;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

const char *cli_bytes(char buf[32], uint64_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, 32, "%.1f %s", v, units[u]);
    return buf;
}

/* ---- JSON output -------------------------------------------------------------------- */

int cli_json_print(cJSON *root)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    cJSON_free(text);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write standard output: %s", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

void cli_json_add_time(cJSON *obj, const char *name, smar_time_ns t)
{
    char buf[SMAR_TIME_BUFSIZE];
    if (t == SMAR_TIME_NONE)
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddStringToObject(obj, name, smar_time_format(t, buf));
}

void cli_json_add_u64(cJSON *obj, const char *name, uint64_t v)
{
    cJSON_AddNumberToObject(obj, name, (double)v);
}

/* ---- selections ---------------------------------------------------------------------- */

int cli_sel_option(cli_sel *s, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_ID:
        cli_strlist_push(&s->ids, arg);
        return 1;
    case CLI_OPT_NAME:
        cli_strlist_push(&s->names, arg);
        return 1;
    case CLI_OPT_TYPE:
        cli_strlist_push(&s->types, arg);
        return 1;
    case CLI_OPT_GROUP:
        cli_strlist_push(&s->groups, arg);
        return 1;
    case CLI_OPT_LABEL:
        cli_strlist_push(&s->labels, arg);
        return 1;
    default:
        return 0;
    }
}

int cli_sel_is_empty(const cli_sel *s)
{
    return s->ids.n + s->names.n + s->types.n + s->groups.n + s->labels.n == 0;
}

void cli_sel_to_smar(const cli_sel *s, smar_selection *out)
{
    memset(out, 0, sizeof *out);
    out->ids = s->ids.items;
    out->nids = s->ids.n;
    out->names = s->names.items;
    out->nnames = s->names.n;
    out->types = s->types.items;
    out->ntypes = s->types.n;
    out->groups = s->groups.items;
    out->ngroups = s->groups.n;
    out->labels = s->labels.items;
    out->nlabels = s->labels.n;
}

void cli_sel_free(cli_sel *s)
{
    cli_strlist_free(&s->ids);
    cli_strlist_free(&s->names);
    cli_strlist_free(&s->types);
    cli_strlist_free(&s->groups);
    cli_strlist_free(&s->labels);
}
