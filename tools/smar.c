/*
 * smar.c - the smar command: dispatch to one cmd_<name>() per subcommand (git style).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"keygen", cmd_keygen, "make a root keyring or a producer signing key"},
    {"key", cmd_key, "rotate a root keyring, show a key file"},
    {"create", cmd_create, "make an encrypted archive from an instance export"},
    {"inspect", cmd_inspect, "show what an archive says about itself"},
    {"verify", cmd_verify, "check archives for damage and authenticity"},
    {"ls", cmd_ls, "list the secrets of archives (metadata only)"},
    {"cat", cmd_cat, "print one secret's payload, now or at a past time"},
    {"extract", cmd_extract, "write secrets out as an export, a folder tree or a tar"},
    {"rewrap", cmd_rewrap, "new key slots for an archive (key rotation), chunks copied"},
    {"prune", cmd_prune, "delete the archives of a series no retention rule keeps"},
    {"diff", cmd_diff, "what changed between two snapshots (names, never values)"},
    {"audit", cmd_audit, "check a series: intact, signed, no gap longer than --every"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
    fputs("usage: smar [--version] [--help] <command> [<args>]\n"
          "       smar help <command>\n\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "   %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nexit codes: 0 success, 1 failure, 2 usage error, 3 archive damaged or not "
          "authentic,\n4 (audit) a gap in the series longer than --every, or a missing base\n"
          "see smar(1) and smar(5)\n",
          f);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* "smar help CMD" is "smar CMD --help". */
static int run_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    const struct command *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "smar: '%s' is not a smar command (see smar --help)\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    char help[] = "--help";
    char *help_argv[] = {argv[1], help, NULL};
    return cmd->fn(2, help_argv);
}

/* Once per process, at exit: the library only records that key memory was not locked. */
static void warn_if_memory_unlocked(void)
{
    if (!smar_memory_locked()) {
        fflush(stdout); /* after what the command printed, when both go to a terminal */
        fputs("smar: warning: cannot lock key memory (RLIMIT_MEMLOCK): keys may be swapped to "
              "disk\n",
              stderr);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("smar %s (archive format %d.%d)\n", smar_version_string(), SMAR_FORMAT_VERSION_MAJOR,
               SMAR_FORMAT_VERSION_MINOR);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "help") == 0)
        return run_help(argc - 1, argv + 1);
    const struct command *cmd = find_command(name);
    if (cmd == NULL) {
        fprintf(stderr, "smar: '%s' is not a smar command (see smar --help)\n", name);
        return CLI_EXIT_USAGE;
    }
    if (smar_init() != SMAR_OK) {
        fputs("smar: cannot initialise the crypto library\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    (void)atexit(warn_if_memory_unlocked); /* C11 guarantees room for 32 handlers */
    cli_install_signal_handlers();
    cli_set_command(cmd->name);
    return cmd->fn(argc - 1, argv + 1);
}
