/*
 * cli.h - what the smar subcommands share: exit codes, messages, option helpers, atomic
 * output files, key loading, progress, --json output (cJSON). Only the public libsmar API is
 * used here and in every cmd_*.c: the tools know instance exports, never the archive format.
 */
#ifndef SMAR_CLI_H
#define SMAR_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "smar.h"

/* ---- exit codes (documented in smar(1) and README.md) -------------------------------- */

#define CLI_EXIT_OK      0
#define CLI_EXIT_FAILURE 1 /* missing file, I/O, wrong key, bad export, secret not found */
#define CLI_EXIT_USAGE   2 /* bad command line */
#define CLI_EXIT_DAMAGED 3 /* archive damaged or not authentic */
#define CLI_EXIT_GAP     4 /* smar audit: a gap between snapshots longer than --every */

/* ---- the subcommands ----------------------------------------------------------------- */

int cmd_keygen(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_rewrap(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* ---- messages ------------------------------------------------------------------------ */

/* The command named in messages ("create", "key rotate"). */
void cli_set_command(const char *name);
/* "smar: <cmd>: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A library message about subject (a file name): the subject is added unless the library
 * message already names it. */
void cli_error_lib(const char *subject, const char *libmsg);
/* Print usage text to stderr after an error message and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print usage text to stdout and return CLI_EXIT_OK (for --help). */
int cli_help(const char *usage);

/* Exit code for a status from opening, unlocking, verifying or reading an archive:
 * FORMAT, LIMIT, CORRUPT and AUTH mean damaged or not authentic. */
int cli_exit_archive(int status);
/* Exit code for any other failed call. */
int cli_exit_other(int status);
/* The worse of two exit codes (3 beats 1 beats 0; 2 never mixes). */
int cli_exit_worst(int a, int b);

/* ---- options ------------------------------------------------------------------------- */

/* A repeatable option's values (borrowed from argv). */
typedef struct cli_strlist {
    const char **items;
    size_t n;
    size_t cap;
} cli_strlist;

void cli_strlist_push(cli_strlist *l, const char *s);
void cli_strlist_free(cli_strlist *l);
int cli_strlist_contains(const cli_strlist *l, const char *s);

/* Reset getopt for a subcommand's argv (argv[0] is the subcommand). Option strings start
 * with ':' so a missing argument is told apart from an unknown option. */
void cli_getopt_reset(void);
/* Report getopt's '?' or ':' for argv as a usage error; returns CLI_EXIT_USAGE. */
int cli_option_error(const char *usage, int c, char **argv);
/* Parse an unsigned decimal within [min, max]. 0 on success, -1 otherwise. */
int cli_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);

/* The default for --threads: the number of online cores (at least 1, at most 64). */
uint32_t cli_default_threads(void);
/* Parse --threads N (1..256); a usage error (exit 2) with the command's usage otherwise. */
int cli_parse_threads(const char *arg, const char *usage, uint32_t *out);
/* Parse a time a user gave: RFC 3339 (a space may stand for the 'T'), a date, or "now"
 * (the current time). 0 on success, -1 otherwise. */
int cli_parse_time(const char *text, smar_time_ns *out);
/* Format a time for output ("-" for SMAR_TIME_NONE). buf holds SMAR_TIME_BUFSIZE bytes. */
const char *cli_time(char buf[SMAR_TIME_BUFSIZE], smar_time_ns t);

/* Allocation that exits on failure: the tools have nothing sensible to do without memory. */
void *cli_xmalloc(size_t n);
void *cli_xrealloc(void *p, size_t n);
char *cli_xstrdup(const char *s);
/* Wipe and free memory that held secret material. */
void cli_wipe_free(void *p, size_t n);

/* Copy text for display on a terminal: control characters become '?'. Returns buf. */
const char *cli_printable(const char *s, char *buf, size_t cap);

/* ---- output files written atomically ------------------------------------------------- */

/*
 * An output file is written through libsmar's file sink (smar/io.h): under a temporary
 * name in its final folder (".NAME.tmp-XXXXXX", mode 0600), then fsync'd and renamed. Without force
 * an existing destination is never replaced (checked before the work and again by the rename). Even
 * with force only a regular file is replaced, never a device, FIFO, socket, folder or
 * symbolic link (not followed), and never one of the command's inputs (cli_note_input), nor
 * is anything written inside an input folder: checked before the work and again right
 * before the rename. The temporary file is removed on failure and on
 * SIGINT/SIGTERM/SIGHUP. "-", /dev/stdout, /dev/fd/1 and /proc/self/fd/1 mean stdout.
 */
typedef struct cli_out {
    smar_file_sink *sink; /* libsmar's atomic publish; NULL for standard output */
    smar_s3_sink *s3;     /* an s3:// output: a multipart upload (cli_s3.c), else NULL */
    int fd;               /* where the bytes go: stdout, or the sink's temporary file */
    int dirfd;            /* the output's folder (the sink's descriptor), or -1 */
    int is_stdout;
    int force;
    int slot; /* entry in the signal handler's list, or -1 */
    char *name;
    char *display;
    /* small writes are gathered here (wiped after each flush: it may hold secrets) */
    char *buf;
    size_t blen, bcap;
} cli_out;

void cli_install_signal_handlers(void);

/* ---- s3://BUCKET/KEY archives (cli_s3.c) --------------------------------------------- */
int cli_s3_is_url(const char *path);
/* Open the object url in r (configuration from AWS_*): an smar status; err holds the
 * reason when the object could not be reached, else it is left empty. */
int cli_s3_reader_open(smar_reader *r, const char *url, char err[SMAR_IO_ERROR_MAX]);
/* s3://BUCKET/PREFIX/: a series. cli_s3_list fills urls with every object under it (owned
 * copies: free each). 0, or an exit code after a message. */
int cli_s3_is_prefix(const char *path);
int cli_s3_list(const char *url, cli_strlist *urls);
/* Whether url's last name is one `create -o s3://B/P/` makes (INSTANCE/YYYYMMDDTHHMMSSZ-
 * ID8.smar): 1 with the snapshot time and INSTANCE (bounded by cap), else 0. */
int cli_s3_series_name(const char *url, smar_time_ns *snapshot, char *instance, size_t cap);
/* For commands that read archives one by one (ls, verify): replace each s3:// prefix in
 * paths by the objects under it, in listing order. 0, or an exit code after a message;
 * then cli_s3_free_expanded(*paths, the paths given, owned). */
/* create -o s3://BUCKET/PREFIX/: *out (malloc'ed) the object URL PREFIX/INSTANCE/
 * YYYYMMDDTHHMMSSZ-TAG8.smar, from a first read of the export (its instance name, else
 * guid; snapshot, else its exported_at) and a random tag. 0, or an exit code after a message. */
int cli_s3_series_key(const char *input, smar_time_ns snapshot, const char *prefix, char **out);
int cli_s3_expand_prefixes(int *n, char ***paths, cli_strlist *owned);
void cli_s3_free_expanded(char **paths, char **given, cli_strlist *owned);
/* prune: the object's Object Lock retention (smar_s3_get_retention: *until, 0 for none;
 * SMAR_E_UNSUPPORTED when the server cannot say) and its deletion (smar_s3_delete). An smar
 * status; err says why when not SMAR_OK. */
int cli_s3_retention(const char *url, smar_time_ns *until, char err[SMAR_IO_ERROR_MAX]);
int cli_s3_delete(const char *url, char err[SMAR_IO_ERROR_MAX]);
/* Start the upload to url (cli_out_open's branch). The upload stops (is cancelled, then
 * aborted) once *interrupt_flag is set. 0, or an exit code after a message. */
int cli_s3_out_open(cli_out *o, const char *url, int force, volatile sig_atomic_t *interrupt_flag);
/* When o is an upload: fill out with its sink (the writer commits it) and return 1. */
int cli_s3_out_sink(cli_out *o, smar_sink *out);
/* Abort the upload unless it completed, and release it. */
void cli_s3_out_close(cli_out *o);
/* --retain-until T of create and rewrap: parse it (0, or CLI_EXIT_USAGE after a message),
 * then check it against the output (Object Lock needs an s3:// output: else a usage
 * error) and keep it for the upload cli_out_open starts. */
int cli_retain_until_option(const char *text, const char *usage, smar_time_ns *out);
int cli_retain_until_check(smar_time_ns t, const char *output, const char *usage);
void cli_s3_set_retain_until(smar_time_ns t);
/* Whether path names standard output ("-", /dev/stdout, /dev/fd/1, /proc/self/fd/1). */
int cli_out_is_stdout(const char *path);
/* Record a file (or folder) the command reads, so that no output replaces it or is written
 * inside it. cli_open_archive and the key loaders note theirs. "-" is standard input (noted
 * when it is a regular file); a missing file is ignored. */
void cli_note_input(const char *path);
/* Refuse early, before long work, an output that cli_out_open would refuse (exists without
 * force, not a regular file, an input noted so far). Returns 0, or an exit code after a
 * message. */
int cli_out_check(const char *path, int force);
/* Open path ("-": stdout) for writing. Returns 0, or an exit code after a message. */
int cli_out_open(cli_out *o, const char *path, int force);
/* Open name inside dirfd (not followed if a symlink); display is used in messages. */
int cli_out_openat(cli_out *o, int dirfd, const char *name, const char *display, int force);
/* Write all bytes (buffered; commit and close_pending flush). Returns 0, or an exit code
 * after a message. */
int cli_out_write(cli_out *o, const void *buf, size_t len);
/* fsync, rename into place, fsync the folder. Returns 0, or an exit code after a message
 * (the temporary file is then removed). */
int cli_out_commit(cli_out *o);

/* Whether name in dirfd may be written over (display names it in messages): 0 when nothing
 * is there, or a regular file that is no input of this command and force is set; else an
 * exit code after a message. */
int cli_out_check_at(int dirfd, const char *name, const char *display, int force);
/* 0 unless the folder dirfd is an input folder of this command or lies inside one (then an
 * exit code after a message): an output written there could change what is being read. */
int cli_out_check_folder(int dirfd, const char *display);
/* Drop the temporary file (no-op after commit). */
void cli_out_abort(cli_out *o);
/* Whether path (standard output never) exists already; used to fail before long work. */
int cli_path_exists(const char *path);

/* Write all bytes to fd. 0 or -1 (errno set). */
int cli_write_all(int fd, const void *buf, size_t len);

/* ---- keys ------------------------------------------------------------------------------ */

/* A passphrase for key file subject, from the first of: its --passphrase-file, the file
 * named by $SMAR_PASSPHRASE_FILE, $SMAR_PASSPHRASE, /dev/tty (asked without echo).
 * Returns 0, or -1 after a message. Wipe buf after use. */
int cli_get_passphrase(const char *subject, char *buf, size_t cap);
#define CLI_PASSPHRASE_MAX 1024

/* --passphrase-file KEYFILE=PASSFILE (repeatable), the same in every command that loads
 * keys: {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE} in the option
 * table, and cli_passphrase_file_option for it. Returns 0, or CLI_EXIT_USAGE after a message. */
#define CLI_OPT_PASSPHRASE_FILE 400
int cli_passphrase_file_option(const char *arg, const char *usage);

/* Load the keyrings named by --key options, or env SMAR_KEY_FILE when there are none.
 * Returns 0, or an exit code after a message. */
int cli_load_keyrings(const cli_strlist *paths, smar_keyring ***out, size_t *n);
void cli_free_keyrings(smar_keyring **keys, size_t n);
/* Load one keyring, asking for its passphrase when it has one. *passphrase_out (may be
 * NULL) receives a copy of the passphrase used (or NULL) for saving it back. */
int cli_load_keyring(const char *path, smar_keyring *kr, char **passphrase_out);
/* Key Protect keys (cli_kms.c): whether a --key value is a keyprotect:// URL, and opening
 * one into an empty keyring. Returns 0, or an exit code after a message. */
int cli_is_kms_key(const char *arg);
int cli_load_kms_keyring(const char *url, smar_keyring *kr);
/* Read the IBM Cloud API key file (SMAR_IBMCLOUD_API_KEY_FILE) into buf (cap bytes), without
 * its trailing newline. 0, or CLI_EXIT_FAILURE after a message naming the file (never its
 * content). Also used for object storage (cli_s3.c). */
int cli_read_api_key_file(const char *path, char *buf, size_t cap);
/* Load a secret signing key the same way. */
int cli_load_signkey(const char *path, smar_signkey *sk);

/* ---- pinned producers ------------------------------------------------------------------ */

/* --pubkey FILE (repeatable: any of them) on every command that reads archives:
 * {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY} in the option table, and
 * cli_pubkey_option for it. Without one, $SMAR_PUBKEY (one file, or several separated by
 * ':') is the default. */
#define CLI_OPT_PUBKEY 401
void cli_pubkey_option(const char *path);
/* Read the public key file path (or a secret key file's public half) into pk: 0, or an
 * error naming the file and CLI_EXIT_FAILURE. */
int cli_load_public_key(const char *path, uint8_t pk[SMAR_SIGN_PUBLIC_BYTES]);
/* Load the public keys named by --pubkey or $SMAR_PUBKEY (SMAR_SIGN_PUBLIC_BYTES each, one
 * after the other; *keys NULL and *n 0 when none is named). Returns 0, or an exit code
 * after a message naming the file. Free *keys with free(). */
int cli_load_pubkeys(uint8_t **keys, size_t *n);
/* Pin the producers for this command: from now on cli_open_archive refuses (exit 3) an
 * archive not signed by one of the keys cli_load_pubkeys finds. Nothing is pinned when none
 * is named. Returns 0, or an exit code after a message. */
int cli_pin_producers(void);

/* --no-signer-check on every command that reads archives: {"no-signer-check", no_argument,
 * NULL, CLI_OPT_NO_SIGNER_CHECK} and cli_no_signer_check_option for it. Unsafe: it lets an
 * archive opened through a public-key recipient (which anyone can encrypt to) be read
 * without knowing who made it. */
#define CLI_OPT_NO_SIGNER_CHECK 402
void cli_no_signer_check_option(void);
/* After unlock: an archive opened through a public-key recipient is refused (exit 3, after
 * a message) unless the producer is pinned (producer_pinned: its signature is or will be
 * checked against --pubkey/$SMAR_PUBKEY) or --no-signer-check was given. Returns 0 or 3.
 * cli_unlock_archive calls it. */
int cli_check_opener(const char *path, smar_reader *r, int producer_pinned);

/* ---- archives ------------------------------------------------------------------------- */

/* Open an archive; on failure print a message and return an exit code (*out NULL). With
 * producers pinned (cli_pin_producers), an archive not signed by one of them is refused
 * here, before anything of it is read or printed: exit 3. */
int cli_open_archive(const char *path, smar_reader **out);
/* Unlock an opened archive with the keyrings; message and exit code on failure. */
int cli_unlock_archive(const char *path, smar_reader *r, smar_keyring **keys, size_t n);

/* Every archive opened and unlocked, as one series (cat, extract). */
typedef struct cli_series {
    smar_keyring **keys;
    size_t nkeys;
    smar_reader **readers; /* the archives in the series; NULL: a source not opened (yet) */
    const char **paths;
    size_t n;
    size_t cap;
    size_t damaged; /* archives left out at open (skip_damaged) */
    smar_series *series;
    /* Archives listed under an s3:// prefix, opened when a query needs them. */
    uint32_t threads;
    int skip_damaged;
    cli_strlist listed;              /* their URLs (owned) */
    struct cli_lazy_source **lazies; /* their openers' contexts (owned) */
    size_t nlazies;
    /* One local incremental archive given alone: its bases found beside it, attached to
     * it (not members of the series: the answers are the one archive's). */
    smar_reader **bases;
    size_t nbases;
} cli_series;

/* Returns 0, or an exit code after a message. With skip_damaged, an archive that is damaged
 * (exit 3) is reported and left out, here and when it turns out damaged later. */
int cli_series_open(cli_series *cs, const cli_strlist *keypaths, uint32_t threads, int skip_damaged,
                    int n, char **paths);
void cli_series_close(cli_series *cs);
/* The .smar files beside a local incremental archive r (opened from path) that are its
 * bases by archive id (read keyless), appended to out as paths the caller frees. */
void cli_sibling_bases(const char *path, smar_reader *r, cli_strlist *out);
/* Open, unlock (keys) and attach to r every base of r found beside it; the base readers
 * are appended to *held (*nheld of them; the caller frees them after r). 0, or an exit
 * code after a message (3: a base there is not the one r was made from). */
int cli_attach_sibling_bases(const char *path, smar_reader *r, smar_keyring **keys, size_t nkeys,
                             uint32_t threads, smar_reader ***held, size_t *nheld);
/* Report every archive left out as damaged; returns how many. */
size_t cli_series_report_damaged(const cli_series *cs);
/* Why secret id is not available at->at (status not FOUND), on stderr. */
void cli_report_unavailable(const char *id, const smar_at *at);

/* ---- progress on stderr ------------------------------------------------------------- */

typedef struct cli_progress {
    int enabled;
    uint64_t last_ms;
    int shown;
} cli_progress;

/* Enabled only when stderr is a terminal and not quiet. */
void cli_progress_init(cli_progress *p, int quiet);
/* Show a line (printf-style) at most every 200 ms. */
void cli_progress_show(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Erase the line. */
void cli_progress_done(cli_progress *p);
/* "12.3 MiB" style sizes. */
const char *cli_bytes(char buf[32], uint64_t n);

/* ---- JSON ------------------------------------------------------------------------------ */

/* Print a cJSON tree to stdout, indented, with a final newline; frees it. Returns 0 or an
 * exit code when out of memory / stdout fails. */
int cli_json_print(cJSON *root);
/* Add a time as an RFC 3339 string, or null for SMAR_TIME_NONE. */
void cli_json_add_time(cJSON *obj, const char *name, smar_time_ns t);
/* Add an unsigned count as a number (exact up to 2^53). */
void cli_json_add_u64(cJSON *obj, const char *name, uint64_t v);

/* ---- selections (--id, --name, --type, --group, --label) -------------------------- */

enum { CLI_OPT_ID = 1000, CLI_OPT_NAME, CLI_OPT_TYPE, CLI_OPT_GROUP, CLI_OPT_LABEL };
#define CLI_SELECTION_LONGOPTS                                                                     \
    {"id", required_argument, NULL, CLI_OPT_ID}, {"name", required_argument, NULL, CLI_OPT_NAME},  \
        {"type", required_argument, NULL, CLI_OPT_TYPE},                                           \
        {"group", required_argument, NULL, CLI_OPT_GROUP},                                         \
    {                                                                                              \
        "label", required_argument, NULL, CLI_OPT_LABEL                                            \
    }

typedef struct cli_sel {
    cli_strlist ids, names, types, groups, labels;
} cli_sel;

/* Take a selection option; returns 1 when c was one. */
int cli_sel_option(cli_sel *s, int c, const char *arg);
int cli_sel_is_empty(const cli_sel *s);
/* The library's view of it (borrows the lists). */
void cli_sel_to_smar(const cli_sel *s, smar_selection *out);
void cli_sel_free(cli_sel *s);

/* ---- extract --------------------------------------------------------------------------- */

/* tools/paths.c: path components for the folder tree, injective (different strings give
 * different components: bytes are percent-encoded, never replaced or cut) and never empty,
 * hidden, "." or "..", holding '/' or a control byte. Each returns 0, or -1 (out = "")
 * when the component would be longer than CLI_NAME_MAX. */
#define CLI_NAME_MAX 255 /* NAME_MAX */
/* A group or type folder; at_root: a group, which never takes a name the root uses
 * (instance.json, secret_groups.json, configurations.json, secrets). */
int cli_path_folder(char out[CLI_NAME_MAX + 1], const char *name, int at_root);
/* A secret folder: "<name>--<id>", the name part shortened to fit, the id whole (or just
 * "<id>" when the name is empty or there is no room); -1 when the id alone is too long. */
int cli_path_secret(char out[CLI_NAME_MAX + 1], const char *name, const char *id);
/* A version file: "<position, 4 digits or more>--<stamp>--<version id>.json", the version
 * id part shortened when it does not fit (the position keeps the name unique). */
int cli_path_version(char out[CLI_NAME_MAX + 1], size_t position, const char *stamp,
                     const char *version_id);

/* tools/extract_dir.c: writing one rendered secret as a folder tree or tar entries. */
typedef struct cli_tree cli_tree;
/* Open the tree and write its root files from the export document (doc, len): instance.json
 * (every member but secret_groups and configurations), secret_groups.json, and
 * configurations.json when with_configurations (they hold credentials: only a full restore
 * or an explicit request writes them). `smar create` takes the tree back. */
int cli_tree_open_dir(cli_tree **out, const char *path, int force, const char *doc, size_t len,
                      int with_configurations);
int cli_tree_open_tar(cli_tree **out, const char *path, int force, smar_time_ns mtime,
                      const char *doc, size_t len, int with_configurations);
/* Add a secret rendered as an instance-export object (smar_series_render) under
 * group/type/name--id/: secret.json and versions/NNNN--created--vid.json. Every name is
 * checked before anything of the secret is written. Returns 0, or an exit code after a
 * message (1 when a name cannot hold the whole id). */
int cli_tree_add_secret(cli_tree *t, const char *group, const char *type, const char *name,
                        const char *id, const char *rendered, size_t len);
/* Whether a secret's folders can be named (id, group and type each fit in one component):
 * 0, or 1 after a message naming the secret. For a first pass that must refuse before
 * anything is written. */
int cli_tree_check_secret(const char *group, const char *type, const char *name, const char *id);
/* Finish (tar trailer, atomic rename). Returns 0 or an exit code. */
int cli_tree_close(cli_tree *t);
/* Drop what can be dropped after a failure (temporary files). */
void cli_tree_abort(cli_tree *t);

#endif
