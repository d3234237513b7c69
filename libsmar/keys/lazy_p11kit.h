/*
 * lazy_p11kit.h - p11-kit, loaded on first use (common/lazylib.h): keyprov_pkcs11.c
 * includes this after keyprov_pkcs11.h (which keeps p11-kit's types). Call sites keep
 * p11-kit's names; the macros at the end send each call through the table, so
 * smar_p11kit_load must have succeeded before the first call (the two entry points that
 * make a P11KitUri do it). The token's own functions (CK_FUNCTION_LIST) were never linked.
 */
#ifndef SMAR_LAZY_P11KIT_H
#define SMAR_LAZY_P11KIT_H

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "lazylib.h"

/* Every p11-kit function the keys layer calls. */
#define SMAR_P11KIT_FUNCS(X)                                                                       \
    X(p11_kit_message)                                                                             \
    X(p11_kit_module_finalize)                                                                     \
    X(p11_kit_module_initialize)                                                                   \
    X(p11_kit_module_load)                                                                         \
    X(p11_kit_module_release)                                                                      \
    X(p11_kit_space_strlen)                                                                        \
    X(p11_kit_strerror)                                                                            \
    X(p11_kit_uri_any_unrecognized)                                                                \
    X(p11_kit_uri_format)                                                                          \
    X(p11_kit_uri_free)                                                                            \
    X(p11_kit_uri_get_attribute)                                                                   \
    X(p11_kit_uri_get_module_path)                                                                 \
    X(p11_kit_uri_get_pin_source)                                                                  \
    X(p11_kit_uri_get_pin_value)                                                                   \
    X(p11_kit_uri_get_slot_id)                                                                     \
    X(p11_kit_uri_get_token_info)                                                                  \
    X(p11_kit_uri_match_module_info)                                                               \
    X(p11_kit_uri_match_slot_info)                                                                 \
    X(p11_kit_uri_match_token_info)                                                                \
    X(p11_kit_uri_message)                                                                         \
    X(p11_kit_uri_new)                                                                             \
    X(p11_kit_uri_parse)                                                                           \
    X(p11_kit_uri_set_attribute)                                                                   \
    X(p11_kit_uri_set_pin_value)

struct smar_p11kit {
    SMAR_P11KIT_FUNCS(SMAR_LAZY_FIELD)
};
extern struct smar_p11kit smar_p11kit;

/* Load libp11-kit.so.0 once: SMAR_OK, or SMAR_E_UNSUPPORTED with the reason in e. */
int smar_p11kit_load(smar_err *e);

#ifndef SMAR_LAZY_P11KIT_NO_REDIRECT
#define p11_kit_message               (smar_p11kit.p11_kit_message)
#define p11_kit_module_finalize       (smar_p11kit.p11_kit_module_finalize)
#define p11_kit_module_initialize     (smar_p11kit.p11_kit_module_initialize)
#define p11_kit_module_load           (smar_p11kit.p11_kit_module_load)
#define p11_kit_module_release        (smar_p11kit.p11_kit_module_release)
#define p11_kit_space_strlen          (smar_p11kit.p11_kit_space_strlen)
#define p11_kit_strerror              (smar_p11kit.p11_kit_strerror)
#define p11_kit_uri_any_unrecognized  (smar_p11kit.p11_kit_uri_any_unrecognized)
#define p11_kit_uri_format            (smar_p11kit.p11_kit_uri_format)
#define p11_kit_uri_free              (smar_p11kit.p11_kit_uri_free)
#define p11_kit_uri_get_attribute     (smar_p11kit.p11_kit_uri_get_attribute)
#define p11_kit_uri_get_module_path   (smar_p11kit.p11_kit_uri_get_module_path)
#define p11_kit_uri_get_pin_source    (smar_p11kit.p11_kit_uri_get_pin_source)
#define p11_kit_uri_get_pin_value     (smar_p11kit.p11_kit_uri_get_pin_value)
#define p11_kit_uri_get_slot_id       (smar_p11kit.p11_kit_uri_get_slot_id)
#define p11_kit_uri_get_token_info    (smar_p11kit.p11_kit_uri_get_token_info)
#define p11_kit_uri_match_module_info (smar_p11kit.p11_kit_uri_match_module_info)
#define p11_kit_uri_match_slot_info   (smar_p11kit.p11_kit_uri_match_slot_info)
#define p11_kit_uri_match_token_info  (smar_p11kit.p11_kit_uri_match_token_info)
#define p11_kit_uri_message           (smar_p11kit.p11_kit_uri_message)
#define p11_kit_uri_new               (smar_p11kit.p11_kit_uri_new)
#define p11_kit_uri_parse             (smar_p11kit.p11_kit_uri_parse)
#define p11_kit_uri_set_attribute     (smar_p11kit.p11_kit_uri_set_attribute)
#define p11_kit_uri_set_pin_value     (smar_p11kit.p11_kit_uri_set_pin_value)
#endif

#endif
