/*
 * cli_kms.c - `--key keyprotect://INSTANCE_ID/KEY_ID_OR_ALIAS?region=REGION`: a Key Protect
 * (or Hyper Protect Crypto Services) root key, opened with settings from the environment
 * (smar(1), "Key Protect"):
 *   IBMCLOUD_API_KEY            the API key, or
 *   SMAR_IBMCLOUD_API_KEY_FILE  a file holding it (not readable by group or others)
 *   SMAR_KP_URL                 the service's base URL (HPCS, tests); default from region
 *   SMAR_IAM_URL                the token service's base URL; default https://iam.cloud.ibm.com
 * The API key is never taken from the command line (it would show in ps and shell history).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_KEY_FILE_MAX 1024

static const char kms_scheme[] = "keyprotect://";

int cli_is_kms_key(const char *arg)
{
    return strncmp(arg, kms_scheme, sizeof kms_scheme - 1) == 0;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

int cli_read_api_key_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cli_error("%s: cannot read the API key file: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CLI_EXIT_FAILURE;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        cli_error("%s: the API key file must be a regular file that group and others cannot "
                  "read or write (chmod 600)",
                  path);
        close(fd);
        return CLI_EXIT_FAILURE;
    }
    size_t n = 0;
    ssize_t got;
    while (n < cap && (got = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)got;
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0 || n >= cap) {
        explicit_bzero(buf, cap);
        cli_error("%s: the API key file must hold one API key (1 to %d characters)", path,
                  API_KEY_FILE_MAX);
        return CLI_EXIT_FAILURE;
    }
    buf[n] = '\0';
    return 0;
}

int cli_load_kms_keyring(const char *url, smar_keyring *kr)
{
    char from_file[API_KEY_FILE_MAX + 2];
    smar_kms_options opts = SMAR_KMS_OPTIONS_INIT;
    opts.endpoint = env_or_null("SMAR_KP_URL");
    opts.iam_endpoint = env_or_null("SMAR_IAM_URL");
    const char *key_file = env_or_null("SMAR_IBMCLOUD_API_KEY_FILE");
    if (key_file != NULL) {
        if (cli_read_api_key_file(key_file, from_file, sizeof from_file) != 0)
            return CLI_EXIT_FAILURE;
        opts.api_key = from_file;
    } else {
        opts.api_key = env_or_null("IBMCLOUD_API_KEY");
    }
    if (opts.api_key == NULL) {
        cli_error("%s: no API key: set IBMCLOUD_API_KEY or SMAR_IBMCLOUD_API_KEY_FILE", url);
        return CLI_EXIT_FAILURE;
    }
    int rc = smar_keyring_open_kms(kr, url, &opts);
    explicit_bzero(from_file, sizeof from_file);
    if (rc != SMAR_OK) {
        cli_error_lib(url, smar_keyring_error(kr));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}
