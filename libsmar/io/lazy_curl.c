/*
 * lazy_curl.c - the io layer's libcurl table (lazy_curl.h).
 */
#define SMAR_LAZY_CURL_NO_REDIRECT
#include "lazy_curl.h"

struct smar_libcurl smar_libcurl;

static bool resolve(smar_lazy_lib *lib, void *handle)
{
#define RESOLVE_ONE(fn) SMAR_LAZY_RESOLVE(smar_libcurl, fn)
    SMAR_LIBCURL_FUNCS(RESOLVE_ONE)
#undef RESOLVE_ONE
    return true;
}

static smar_lazy_lib libcurl = {
    .soname = "libcurl.so.4",
    .feature = "HTTPS (s3:// and key services)",
    .resolve = resolve,
    .once = PTHREAD_ONCE_INIT,
};

int smar_libcurl_load(smar_err *e)
{
    return smar_lazy_load(&libcurl, e);
}
