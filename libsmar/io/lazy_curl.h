/*
 * lazy_curl.h - libcurl, loaded on first use (common/lazylib.h): io/http.c includes this
 * instead of <curl/curl.h>. Call sites keep libcurl's names and types; the macros at the
 * end send each call through the table, so smar_libcurl_load must have succeeded before
 * the first call (smar_http_do does it).
 *
 * curl.h's own curl_easy_setopt/getinfo macros (compile-time type checks under GCC) are
 * replaced by plain calls through the table: the option types are checked by review and
 * the tests, as with any other compiler.
 */
#ifndef SMAR_LAZY_CURL_H
#define SMAR_LAZY_CURL_H

#include <curl/curl.h>

#include "lazylib.h"

/* Every libcurl function the io layer calls. */
#define SMAR_LIBCURL_FUNCS(X)                                                                      \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_init)                                                                              \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_strerror)                                                                          \
    X(curl_global_init)

struct smar_libcurl {
    SMAR_LIBCURL_FUNCS(SMAR_LAZY_FIELD)
};
extern struct smar_libcurl smar_libcurl;

/* Load libcurl.so.4 once: SMAR_OK, or SMAR_E_UNSUPPORTED with the reason in e. */
int smar_libcurl_load(smar_err *e);

#ifndef SMAR_LAZY_CURL_NO_REDIRECT
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_cleanup  (smar_libcurl.curl_easy_cleanup)
#define curl_easy_getinfo  (smar_libcurl.curl_easy_getinfo)
#define curl_easy_init     (smar_libcurl.curl_easy_init)
#define curl_easy_perform  (smar_libcurl.curl_easy_perform)
#define curl_easy_reset    (smar_libcurl.curl_easy_reset)
#define curl_easy_setopt   (smar_libcurl.curl_easy_setopt)
#define curl_easy_strerror (smar_libcurl.curl_easy_strerror)
#define curl_global_init   (smar_libcurl.curl_global_init)
#endif

#endif
