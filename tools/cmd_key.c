/*
 * cmd_key.c - smar key rotate | destroy-version | show: manage existing key files.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char key_usage[] = "usage: smar key rotate FILE\n"
                                "   or: smar key destroy-version --version N --yes FILE\n"
                                "   or: smar key show [--json] FILE\n"
                                "\n"
                                "    rotate      add a version to a root keyring; new archives\n"
                                "                are wrapped with it, old ones still open\n"
                                "    destroy-version\n"
                                "                wipe an old version's key from a root\n"
                                "                keyring (never the current one); archives\n"
                                "                wrapped only with it no longer open: rewrap\n"
                                "                them first (smar rewrap). Needs --yes\n"
                                "    show        id, provider, versions and their dates of a\n"
                                "                keyring, or the fingerprint of a signing key;\n"
                                "                never key material\n"
                                "    --json      machine-readable output (see smar(1))\n"
                                "    --passphrase-file KEYFILE=PASSFILE\n"
                                "                the passphrase of KEYFILE is in PASSFILE\n";

static int key_rotate(const char *path)
{
    smar_keyring *kr = NULL;
    char *passphrase = NULL;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int ret = cli_load_keyring(path, kr, &passphrase);
    if (ret != 0)
        goto done;
    if (smar_keyring_rotate(kr) != SMAR_OK) {
        cli_error_lib(path, smar_keyring_error(kr));
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    /* The same passphrase protects the rotated file; the save replaces it atomically. */
    if (smar_keyring_save(kr, path, passphrase, SMAR_SAVE_OVERWRITE) != SMAR_OK) {
        cli_error_lib(path, smar_keyring_error(kr));
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    printf("root key %s: version %u added; new archives are wrapped with it\n", smar_keyring_id(kr),
           smar_keyring_current_version(kr));
done:
    if (passphrase != NULL)
        cli_wipe_free(passphrase, strlen(passphrase));
    smar_keyring_free(kr);
    return ret;
}

static int key_destroy_version(const char *path, uint32_t version)
{
    smar_keyring *kr = NULL;
    char *passphrase = NULL;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int ret = cli_load_keyring(path, kr, &passphrase);
    if (ret == 0 && (smar_keyring_destroy_version(kr, version) != SMAR_OK ||
                     smar_keyring_save(kr, path, passphrase, SMAR_SAVE_OVERWRITE) != SMAR_OK)) {
        cli_error_lib(path, smar_keyring_error(kr));
        ret = CLI_EXIT_FAILURE;
    }
    if (ret == 0)
        printf("root key %s: version %u destroyed; archives wrapped only with it no longer "
               "open\n",
               smar_keyring_id(kr), version);
    if (passphrase != NULL)
        cli_wipe_free(passphrase, strlen(passphrase));
    smar_keyring_free(kr);
    return ret;
}

/* A signing key file holds a secret key when the secret loader takes it (or asks for its
 * passphrase); public key files are refused by it. */
static int is_secret_signkey(const char *path)
{
    smar_signkey *sk = NULL;
    if (smar_signkey_new(&sk) != SMAR_OK)
        return 0;
    int rc = smar_signkey_load(sk, path, NULL);
    smar_signkey_free(sk);
    return rc == SMAR_OK || rc == SMAR_E_PASSPHRASE;
}

static int show_signkey(const char *path, const uint8_t pk[SMAR_SIGN_PUBLIC_BYTES], int json)
{
    char fp[33];
    smar_signkey_fingerprint(pk, fp);
    int secret = is_secret_signkey(path);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddStringToObject(o, "kind", secret ? "signing_key" : "signing_public_key");
        cJSON_AddStringToObject(o, "algorithm", "ed25519");
        cJSON_AddStringToObject(o, "fingerprint", fp);
        return cli_json_print(o);
    }
    printf("file:        %s\n", path);
    printf("kind:        %s\n",
           secret ? "signing key (Ed25519, secret and public)" : "signing public key (Ed25519)");
    printf("fingerprint: %s\n", fp);
    return 0;
}

static int show_keyring_json(const char *path, const smar_keyring *kr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "kind", "root_keyring");
    cJSON_AddStringToObject(o, "id", smar_keyring_id(kr));
    cJSON_AddStringToObject(o, "provider", smar_keyring_provider(kr));
    cli_json_add_u64(o, "current_version", smar_keyring_current_version(kr));
    cJSON *versions = cJSON_AddArrayToObject(o, "versions");
    for (size_t i = 0; i < smar_keyring_version_count(kr); i++) {
        uint32_t v = 0;
        smar_time_ns created = SMAR_TIME_NONE;
        smar_keyring_version_info(kr, i, &v, &created);
        cJSON *e = cJSON_CreateObject();
        cli_json_add_u64(e, "version", v);
        cli_json_add_time(e, "created", created);
        if (smar_keyring_version_destroyed(kr, v))
            cJSON_AddBoolToObject(e, "destroyed", 1);
        cJSON_AddItemToArray(versions, e);
    }
    return cli_json_print(o);
}

static int show_keyring_text(const char *path, const smar_keyring *kr)
{
    printf("file:      %s\n", path);
    printf("kind:      root keyring\n");
    printf("id:        %s\n", smar_keyring_id(kr));
    printf("provider:  %s\n", smar_keyring_provider(kr));
    printf("current:   version %u\n", smar_keyring_current_version(kr));
    printf("versions:\n");
    for (size_t i = 0; i < smar_keyring_version_count(kr); i++) {
        uint32_t v = 0;
        smar_time_ns created = SMAR_TIME_NONE;
        char tbuf[SMAR_TIME_BUFSIZE];
        smar_keyring_version_info(kr, i, &v, &created);
        printf("  %-6u created %s%s\n", v, cli_time(tbuf, created),
               smar_keyring_version_destroyed(kr, v) ? " (destroyed)" : "");
    }
    return 0;
}

static int key_show(const char *path, int json)
{
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    smar_signkey *pub = NULL;
    int rc = smar_signkey_new(&pub);
    if (rc == SMAR_OK && (rc = smar_signkey_load_public(pub, path)) == SMAR_OK)
        smar_signkey_public(pub, pk);
    if (rc == SMAR_E_IO || rc == SMAR_E_NOMEM)
        cli_error_lib(path, pub ? smar_signkey_error(pub) : smar_strerror(rc));
    smar_signkey_free(pub);
    if (rc == SMAR_OK)
        return show_signkey(path, pk, json);
    if (rc == SMAR_E_IO || rc == SMAR_E_NOMEM)
        return CLI_EXIT_FAILURE;
    smar_keyring *kr = NULL;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int ret = cli_load_keyring(path, kr, NULL);
    if (ret == 0)
        ret = json ? show_keyring_json(path, kr) : show_keyring_text(path, kr);
    smar_keyring_free(kr);
    return ret;
}

int cmd_key(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"version", required_argument, NULL, 'V'},
        {"yes", no_argument, NULL, 'y'},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return cli_usage_error(key_usage,
                               "a subcommand is required: rotate, destroy-version or show");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_help(key_usage);
    const char *sub = argv[1];
    int is_rotate = strcmp(sub, "rotate") == 0, is_destroy = strcmp(sub, "destroy-version") == 0;
    if (!is_rotate && !is_destroy && strcmp(sub, "show") != 0)
        return cli_usage_error(key_usage, "unknown subcommand '%s'", sub);
    cli_set_command(is_rotate ? "key rotate" : is_destroy ? "key destroy-version" : "key show");
    int json = 0, yes = 0, c;
    uint32_t version = 0;
    cli_getopt_reset();
    while ((c = getopt_long(argc - 1, argv + 1, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (is_rotate || is_destroy)
                return cli_usage_error(key_usage, "--json applies to key show");
            json = 1;
            break;
        case 'V':
            if (!is_destroy)
                return cli_usage_error(key_usage, "--version applies to key destroy-version");
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &version) != 0)
                return cli_usage_error(key_usage, "--version '%s' is not a version number", optarg);
            break;
        case 'y':
            if (!is_destroy)
                return cli_usage_error(key_usage, "--yes applies to key destroy-version");
            yes = 1;
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, key_usage) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            return cli_help(key_usage);
        default:
            return cli_option_error(key_usage, c, argv + 1);
        }
    }
    if (optind + 1 != argc - 1)
        return cli_usage_error(key_usage, "exactly one key FILE is required");
    const char *path = argv[1 + optind];
    if (is_destroy && version == 0)
        return cli_usage_error(key_usage, "--version N is required");
    if (is_destroy && !yes)
        return cli_usage_error(key_usage, "destroying a key version cannot be undone: add --yes");
    if (is_destroy)
        return key_destroy_version(path, version);
    return is_rotate ? key_rotate(path) : key_show(path, json);
}
