/*
 * cli_pkcs11.c - --key pkcs11:URI: a root key kept in a PKCS#11 token (HSM, smart card,
 * SoftHSM2), opened through libsmar's smar_keyring_open_pkcs11. The tool's part is the
 * environment (libsmar never reads it) and keeping the URI's query, which may carry a PIN
 * (pin-value=), out of every message.
 */
#include "cli_pkcs11.h"

#include <stdlib.h>
#include <string.h>

int cli_is_pkcs11_uri(const char *key)
{
    return key != NULL && strncmp(key, "pkcs11:", 7) == 0;
}

/* The URI as messages show it: up to its query (module-path, pin-source, pin-value). */
static void redacted(const char *uri, char *out, size_t out_len)
{
    size_t n = strcspn(uri, "?");
    (void)snprintf(out, out_len, "%.*s%s", (int)n, uri, uri[n] != '\0' ? "?..." : "");
}

int cli_load_pkcs11_keyring(const char *uri, smar_keyring *kr)
{
    smar_pkcs11_options opts = SMAR_PKCS11_OPTIONS_INIT;
    const char *module = getenv("SMAR_PKCS11_MODULE");
    const char *pin_file = getenv("SMAR_PKCS11_PIN_FILE");
    opts.module_path = module != NULL && *module != '\0' ? module : NULL;
    opts.pin_file = pin_file != NULL && *pin_file != '\0' ? pin_file : NULL;
    if (smar_keyring_open_pkcs11(kr, uri, &opts) != SMAR_OK) {
        char shown[512];
        redacted(uri, shown, sizeof shown);
        cli_error_lib(shown, smar_keyring_error(kr));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

static int show_json(const smar_keyring *kr, const uint32_t *versions, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "root_key");
    cJSON_AddStringToObject(o, "id", smar_keyring_id(kr));
    cJSON_AddStringToObject(o, "provider", smar_keyring_provider(kr));
    cli_json_add_u64(o, "current_version", versions[n - 1]);
    cJSON *list = cJSON_AddArrayToObject(o, "versions");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cli_json_add_u64(e, "version", versions[i]);
        cJSON_AddItemToArray(list, e);
    }
    return cli_json_print(o);
}

static int show_text(const smar_keyring *kr, const uint32_t *versions, size_t n)
{
    printf("kind:      root key in a PKCS#11 token\n");
    printf("id:        %s\n", smar_keyring_id(kr));
    printf("provider:  %s\n", smar_keyring_provider(kr));
    printf("current:   version %u\n", versions[n - 1]);
    printf("versions:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-6u CKA_ID %08x\n", versions[i], versions[i]);
    return 0;
}

int cli_pkcs11_show(const char *uri, int json)
{
    smar_keyring *kr = NULL;
    if (smar_keyring_new(&kr) != SMAR_OK) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int ret = cli_load_pkcs11_keyring(uri, kr);
    uint32_t versions[SMAR_KEY_VERSIONS_MAX];
    size_t n = 0;
    if (ret == 0 && smar_keyring_pkcs11_versions(kr, versions, SMAR_KEY_VERSIONS_MAX, &n) != 0) {
        cli_error("%s", smar_keyring_error(kr));
        ret = CLI_EXIT_FAILURE;
    }
    if (ret == 0)
        ret = json ? show_json(kr, versions, n) : show_text(kr, versions, n);
    smar_keyring_free(kr);
    return ret;
}
