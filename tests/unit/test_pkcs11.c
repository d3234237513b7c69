/*
 * test_pkcs11.c - the PKCS#11 provider where no token is needed: what a URI gives (p11-kit
 * parses it; smar refuses what it would otherwise ignore), the key id a slot records (token
 * and object only, never module or PIN), how PKCS#11 return values are classed, and the
 * failures of smar_keyring_open_pkcs11 before any token is reached. The token itself
 * (SoftHSM2) is tested end to end by tests/e2e/t_pkcs11.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyprov_pkcs11.h"
#include "smar.h"

static int parse(const char *text, smar_p11_uri *u, smar_err *e)
{
    memset(e, 0, sizeof *e);
    return smar_p11_uri_parse(text, u, e);
}

static void test_uri_parts(void **state)
{
    (void)state;
    smar_p11_uri u;
    smar_err e;
    assert_int_equal(parse("pkcs11:token=smar-test;object=root?module-path=/usr/lib/m.so"
                           "&pin-source=file:/run/pin",
                           &u, &e),
                     SMAR_OK);
    assert_string_equal(u.object, "root");
    assert_string_equal(u.module_path, "/usr/lib/m.so");
    assert_string_equal(u.pin_file, "/run/pin");
    assert_null(u.pin_value);
    smar_p11_uri_clear(&u);

    /* percent-encoding decoded by p11-kit; file:/// and a plain path as pin-source */
    assert_int_equal(parse("pkcs11:object=my%20key;type=secret-key?pin-source=file:///p", &u, &e),
                     SMAR_OK);
    assert_string_equal(u.object, "my key");
    assert_string_equal(u.pin_file, "/p");
    assert_null(u.module_path);
    smar_p11_uri_clear(&u);
    assert_int_equal(parse("pkcs11:object=k?pin-source=/etc/pin", &u, &e), SMAR_OK);
    assert_string_equal(u.pin_file, "/etc/pin");
    smar_p11_uri_clear(&u);

    assert_int_equal(parse("pkcs11:object=k?pin-value=12%2034", &u, &e), SMAR_OK);
    assert_string_equal(u.pin_value, "12 34");
    /* p11-kit's own copy of the PIN is wiped and dropped right after parsing */
    assert_null(p11_kit_uri_get_pin_value(u.uri));
    smar_p11_uri_clear(&u);
    assert_null(u.uri);
}

/* A URI smar cannot use is refused, naming what is wrong and never repeating a PIN. */
static void refused(const char *text, const char *why)
{
    smar_p11_uri u;
    smar_err e;
    assert_int_equal(parse(text, &u, &e), SMAR_E_INVALID);
    assert_int_equal(e.code, SMAR_E_INVALID);
    if (strstr(e.msg, why) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", text, e.msg, why);
    assert_null(strstr(e.msg, "s3cr3t"));
    assert_null(u.uri);
}

static void test_uri_refusals(void **state)
{
    (void)state;
    refused("pkcs12:object=k", "PKCS#11 URI");
    refused("object=k", "PKCS#11 URI");
    refused("pkcs11:token=t?pin-value=s3cr3t", "object=");
    refused("pkcs11:object=;token=t", "object=");
    refused("pkcs11:object=k;id=%00%00%00%01?pin-value=s3cr3t", "id=");
    refused("pkcs11:object=k;type=cert", "secret key");
    refused("pkcs11:object=k;colour=blue?pin-value=s3cr3t", "p11-kit does not know");
    refused("pkcs11:object=k?pin-source=https://example.com/pin", "not a file");
    refused("pkcs11:object=k?pin-source=file:", "names no file");
    refused("pkcs11:object=k?pin-value=", "pin-value");
    char long_label[400] = "pkcs11:object=";
    memset(long_label + strlen(long_label), 'a', 300);
    refused(long_label, "object=");
}

static void test_key_id(void **state)
{
    (void)state;
    char id[SMAR_KEY_ID_MAX + 1];
    smar_err e = {0};
    assert_int_equal(smar_p11_key_id("smar-test", "root", id, sizeof id, &e), SMAR_OK);
    assert_string_equal(id, "pkcs11:token=smar-test;object=root");
    /* escaped as p11-kit writes it, so the id stays printable ASCII without spaces */
    assert_int_equal(smar_p11_key_id("HSM A", "root key", id, sizeof id, &e), SMAR_OK);
    assert_string_equal(id, "pkcs11:token=HSM%20A;object=root%20key");
    /* whatever the archive format allows (64 bytes in format 1, 255 in format 2) */
    char label[SMAR_KEY_ID_MAX + 1];
    memset(label, 'k', SMAR_KEY_ID_MAX);
    label[SMAR_KEY_ID_MAX] = '\0';
    assert_int_equal(smar_p11_key_id("smar-test", label, id, sizeof id, &e), SMAR_E_INVALID);
    assert_non_null(strstr(e.msg, "longer than the"));
}

static void test_status_classes(void **state)
{
    (void)state;
    assert_int_equal(smar_p11_status(CKR_OK, false), SMAR_OK);
    assert_int_equal(smar_p11_status(CKR_PIN_INCORRECT, false), SMAR_E_DENIED);
    assert_int_equal(smar_p11_status(CKR_PIN_LOCKED, false), SMAR_E_DENIED);
    assert_int_equal(smar_p11_status(CKR_USER_NOT_LOGGED_IN, false), SMAR_E_DENIED);
    assert_int_equal(smar_p11_status(CKR_KEY_FUNCTION_NOT_PERMITTED, false), SMAR_E_DENIED);
    assert_int_equal(smar_p11_status(CKR_DEVICE_ERROR, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_DEVICE_REMOVED, true), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_DEVICE_MEMORY, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_TOKEN_NOT_PRESENT, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_SESSION_HANDLE_INVALID, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_ENCRYPTED_DATA_INVALID, true), SMAR_E_AUTH);
    assert_int_equal(smar_p11_status(CKR_ENCRYPTED_DATA_LEN_RANGE, true), SMAR_E_AUTH);
    assert_int_equal(smar_p11_status(0x35UL /* CKR_AEAD_DECRYPT_FAILED */, true), SMAR_E_AUTH);
    /* a generic failure is "does not open" only while opening a blob */
    assert_int_equal(smar_p11_status(CKR_FUNCTION_FAILED, true), SMAR_E_AUTH);
    assert_int_equal(smar_p11_status(CKR_FUNCTION_FAILED, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_GENERAL_ERROR, false), SMAR_E_UNAVAILABLE);
    assert_int_equal(smar_p11_status(CKR_HOST_MEMORY, false), SMAR_E_NOMEM);
    assert_int_equal(smar_p11_status(CKR_KEY_HANDLE_INVALID, true), SMAR_E_NOTFOUND);
    assert_int_equal(smar_p11_status(CKR_MECHANISM_INVALID, false), SMAR_E_UNSUPPORTED);
}

static void test_open_failures(void **state)
{
    (void)state;
    smar_keyring *kr = NULL;
    assert_int_equal(smar_keyring_new(&kr), SMAR_OK);
    /* no module anywhere: the URI lacks one and no default is given */
    assert_int_equal(smar_keyring_open_pkcs11(kr, "pkcs11:object=k?pin-value=s3cr3t", NULL),
                     SMAR_E_INVALID);
    assert_non_null(strstr(smar_keyring_error(kr), "module"));
    assert_null(strstr(smar_keyring_error(kr), "s3cr3t"));
    /* a module that does not load is an outage, not a bad argument */
    smar_pkcs11_options opts = SMAR_PKCS11_OPTIONS_INIT;
    opts.module_path = "/nonexistent/libnothing.so";
    assert_int_equal(smar_keyring_open_pkcs11(kr, "pkcs11:object=k?pin-value=s3cr3t", &opts),
                     SMAR_E_UNAVAILABLE);
    assert_non_null(strstr(smar_keyring_error(kr), "does not load"));
    assert_null(strstr(smar_keyring_error(kr), "s3cr3t"));
    /* the URI's module-path wins over the default */
    assert_int_equal(
        smar_keyring_open_pkcs11(kr, "pkcs11:object=k?module-path=/nonexistent/uri.so", &opts),
        SMAR_E_UNAVAILABLE);
    assert_non_null(strstr(smar_keyring_error(kr), "/nonexistent/uri.so"));
    /* a struct not made with its _INIT macro */
    smar_pkcs11_options zero = {0};
    assert_int_equal(smar_keyring_open_pkcs11(kr, "pkcs11:object=k", &zero), SMAR_E_INVALID);
    assert_non_null(strstr(smar_keyring_error(kr), "smar_pkcs11_options"));
    assert_int_equal(smar_keyring_open_pkcs11(kr, NULL, &opts), SMAR_E_INVALID);
    /* after all that, the keyring is still empty and usable */
    assert_string_equal(smar_keyring_id(kr), "");
    assert_int_equal(smar_keyring_generate(kr, "local-after"), SMAR_OK);
    size_t count = 7;
    uint32_t versions[4];
    assert_int_equal(smar_keyring_pkcs11_versions(kr, versions, 4, &count), SMAR_E_INVALID);
    assert_int_equal(count, 7);
    assert_int_equal(smar_keyring_open_pkcs11(kr, "pkcs11:object=k", &opts), SMAR_E_INVALID);
    smar_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_parts),     cmocka_unit_test(test_uri_refusals),
        cmocka_unit_test(test_key_id),        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_open_failures),
    };
    if (smar_init() != SMAR_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
