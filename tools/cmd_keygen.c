/*
 * cmd_keygen.c - smar keygen: a new local root keyring, a producer signing key pair, or an
 * X25519 identity and its recipient (public key) for hosts that must not open archives.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char keygen_usage[] =
    "usage: smar keygen -o FILE [--id ID] [--passphrase-env VAR] [--force]\n"
    "   or: smar keygen --sign -o FILE [--passphrase-env VAR] [--force]\n"
    "   or: smar keygen --recipient -o FILE [--id ID] [--passphrase-env VAR] [--force]\n"
    "\n"
    "    -o, --output FILE       where to write the key (mode 0600)\n"
    "    --id ID                 root key id (default: rk- and 32 random hex digits), or\n"
    "                            recipient id (default: x25519- and 16 hex digits of its key)\n"
    "    --sign                  make an Ed25519 signing key pair: FILE and FILE.pub (0644)\n"
    "    --recipient             make an X25519 identity (FILE, opens archives) and its\n"
    "                            recipient FILE.pub (0644, for `create --key`: wraps only)\n"
    "    --passphrase-env VAR    protect the key with the passphrase in environment VAR\n"
    "    -f, --force             replace existing files\n";

struct keygen_opts {
    const char *output;
    const char *id;
    const char *passphrase_env;
    int sign;
    int recipient;
    int force;
};

/* The passphrase to save with, from the variable named by --passphrase-env (or none). */
static int keygen_passphrase(const struct keygen_opts *o, const char **out)
{
    *out = NULL;
    if (o->passphrase_env == NULL)
        return 0;
    const char *v = getenv(o->passphrase_env);
    if (v == NULL || *v == '\0') {
        cli_error("environment variable %s is not set or empty", o->passphrase_env);
        return CLI_EXIT_FAILURE;
    }
    *out = v;
    return 0;
}

static int save_error(const char *path, int rc, const char *libmsg)
{
    if (rc == SMAR_E_EXISTS)
        cli_error("'%s' exists (use --force to replace it)", path);
    else
        cli_error_lib(path, libmsg);
    return CLI_EXIT_FAILURE;
}

static int keygen_root(const struct keygen_opts *o, const char *passphrase)
{
    smar_keyring *kr = NULL;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int ret = 0;
    int rc = smar_keyring_generate(kr, o->id);
    if (rc != SMAR_OK) {
        cli_error("cannot make a root key: %s", smar_keyring_error(kr));
        ret = rc == SMAR_E_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto done;
    }
    rc = smar_keyring_save(kr, o->output, passphrase, o->force ? SMAR_SAVE_OVERWRITE : 0);
    if (rc != SMAR_OK) {
        ret = save_error(o->output, rc, smar_keyring_error(kr));
        goto done;
    }
    printf("root key %s version %u written to %s\n", smar_keyring_id(kr),
           smar_keyring_current_version(kr), o->output);
done:
    smar_keyring_free(kr);
    return ret;
}

/* Whether a and b name one existing file, after following links: with --force the public
 * key would then replace the secret key just written (FILE.pub a link to FILE). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int refuse_same_file(const char *output, const char *pub)
{
    cli_error("'%s' and '%s' are the same file: the public key would replace the secret key",
              output, pub);
    return CLI_EXIT_FAILURE;
}

/* FILE.pub, for a key pair written to FILE (free() it). */
static char *public_name(const char *output)
{
    size_t publen = strlen(output) + 5;
    char *pub = cli_xmalloc(publen);
    snprintf(pub, publen, "%s.pub", output);
    return pub;
}

/* Before a key pair is made: both names are free (or --force) and distinct. Checked
 * first so a refusal never leaves half a key pair behind. Returns 0 or an exit code. */
static int check_pair_names(const struct keygen_opts *o, const char *pub)
{
    if (!o->force && (cli_path_exists(o->output) || cli_path_exists(pub))) {
        cli_error("'%s' exists (use --force to replace it)",
                  cli_path_exists(o->output) ? o->output : pub);
        return CLI_EXIT_FAILURE;
    }
    if (same_file(o->output, pub))
        return refuse_same_file(o->output, pub);
    return 0;
}

static int keygen_sign(const struct keygen_opts *o, const char *passphrase)
{
    char *pub = public_name(o->output);
    smar_signkey *sk = NULL;
    int ret = check_pair_names(o, pub);
    if (ret != 0)
        goto done;
    if (smar_signkey_new(&sk) != SMAR_OK || smar_signkey_generate(sk) != SMAR_OK) {
        cli_error("cannot make a signing key: %s", sk ? smar_signkey_error(sk) : "out of memory");
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    unsigned flags = o->force ? SMAR_SAVE_OVERWRITE : 0;
    int rc = smar_signkey_save(sk, o->output, passphrase, flags);
    if (rc != SMAR_OK) {
        ret = save_error(o->output, rc, smar_signkey_error(sk));
        goto done;
    }
    /* Checked again: FILE.pub may be a link to FILE, which did not exist until now. */
    if (same_file(o->output, pub)) {
        ret = refuse_same_file(o->output, pub);
        goto done;
    }
    rc = smar_signkey_save_public(sk, pub, flags);
    if (rc != SMAR_OK) {
        ret = save_error(pub, rc, smar_signkey_error(sk));
        goto done;
    }
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    char fp[33];
    smar_signkey_public(sk, pk);
    smar_signkey_fingerprint(pk, fp);
    printf("signing key written to %s, public key to %s\nfingerprint %s\n", o->output, pub, fp);
done:
    smar_signkey_free(sk);
    free(pub);
    return ret;
}

/* An X25519 identity to FILE (0600) and its recipient to FILE.pub (0644). */
static int keygen_recipient(const struct keygen_opts *o, const char *passphrase)
{
    char *pub = public_name(o->output);
    smar_keyring *kr = NULL;
    int ret = check_pair_names(o, pub);
    if (ret != 0)
        goto done;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    int rc = smar_keyring_generate_identity(kr, o->id);
    if (rc != SMAR_OK) {
        cli_error("cannot make a recipient: %s", smar_keyring_error(kr));
        ret = rc == SMAR_E_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto done;
    }
    unsigned flags = o->force ? SMAR_SAVE_OVERWRITE : 0;
    rc = smar_keyring_save_identity(kr, o->output, passphrase, flags);
    if (rc != SMAR_OK) {
        ret = save_error(o->output, rc, smar_keyring_error(kr));
        goto done;
    }
    /* Checked again: FILE.pub may be a link to FILE, which did not exist until now. */
    if (same_file(o->output, pub)) {
        ret = refuse_same_file(o->output, pub);
        goto done;
    }
    rc = smar_keyring_save_recipient(kr, pub, flags);
    if (rc != SMAR_OK) {
        ret = save_error(pub, rc, smar_keyring_error(kr));
        goto done;
    }
    printf("identity %s written to %s (keep it off the backup host), recipient to %s\n",
           smar_keyring_id(kr), o->output, pub);
done:
    smar_keyring_free(kr);
    free(pub);
    return ret;
}

int cmd_keygen(int argc, char **argv)
{
    enum { OPT_ID = 256, OPT_SIGN, OPT_RECIPIENT, OPT_PASSENV };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, OPT_ID},
        {"sign", no_argument, NULL, OPT_SIGN},
        {"recipient", no_argument, NULL, OPT_RECIPIENT},
        {"passphrase-env", required_argument, NULL, OPT_PASSENV},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct keygen_opts o = {0};
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.output = optarg;
            break;
        case OPT_ID:
            o.id = optarg;
            break;
        case OPT_SIGN:
            o.sign = 1;
            break;
        case OPT_RECIPIENT:
            o.recipient = 1;
            break;
        case OPT_PASSENV:
            o.passphrase_env = optarg;
            break;
        case 'f':
            o.force = 1;
            break;
        case 'h':
            return cli_help(keygen_usage);
        default:
            return cli_option_error(keygen_usage, c, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(keygen_usage, "unexpected argument '%s'", argv[optind]);
    if (o.output == NULL)
        return cli_usage_error(keygen_usage, "-o FILE is required");
    if (o.sign && o.recipient)
        return cli_usage_error(keygen_usage, "--sign and --recipient make different keys: "
                                             "choose one");
    if (o.sign && o.id != NULL)
        return cli_usage_error(keygen_usage,
                               "--id applies to root keys and recipients, not to --sign");
    if (strcmp(o.output, "-") == 0)
        return cli_usage_error(keygen_usage, "a key is never written to standard output");
    const char *passphrase = NULL;
    int rc = keygen_passphrase(&o, &passphrase);
    if (rc != 0)
        return rc;
    if (o.recipient)
        return keygen_recipient(&o, passphrase);
    return o.sign ? keygen_sign(&o, passphrase) : keygen_root(&o, passphrase);
}
