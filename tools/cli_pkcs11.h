/*
 * cli_pkcs11.h - --key pkcs11:URI: root keys kept in a PKCS#11 token (cli_pkcs11.c).
 */
#ifndef SMAR_CLI_PKCS11_H
#define SMAR_CLI_PKCS11_H

#include "cli.h"

/* Whether a --key value is a PKCS#11 URI rather than a key file. */
int cli_is_pkcs11_uri(const char *key);
/* Open the token key uri names into kr (new, empty), SMAR_PKCS11_MODULE and
 * SMAR_PKCS11_PIN_FILE filling in what the URI lacks. Returns 0, or an exit code after a
 * message that names the URI without its query (which may hold a PIN). */
int cli_load_pkcs11_keyring(const char *uri, smar_keyring *kr);
/* smar key show pkcs11:URI: id, provider and the versions found on the token. */
int cli_pkcs11_show(const char *uri, int json);

#endif
