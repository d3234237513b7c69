/*
 * lazy_archive.c - the export layer's libarchive table (lazy_archive.h).
 */
#define SMAR_LAZY_ARCHIVE_NO_REDIRECT
#include "lazy_archive.h"

struct smar_libarchive smar_libarchive;

static bool resolve(smar_lazy_lib *lib, void *handle)
{
#define RESOLVE_ONE(fn) SMAR_LAZY_RESOLVE(smar_libarchive, fn)
    SMAR_LIBARCHIVE_FUNCS(RESOLVE_ONE)
#undef RESOLVE_ONE
    return true;
}

static smar_lazy_lib libarchive = {
    .soname = "libarchive.so.13",
    .feature = "reading a tar, zip or compressed export",
    .resolve = resolve,
    .once = PTHREAD_ONCE_INIT,
};

int smar_libarchive_load(smar_err *e)
{
    return smar_lazy_load(&libarchive, e);
}
