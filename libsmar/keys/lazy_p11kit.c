/*
 * lazy_p11kit.c - the keys layer's p11-kit table (lazy_p11kit.h).
 */
#define SMAR_LAZY_P11KIT_NO_REDIRECT
#include "lazy_p11kit.h"

struct smar_p11kit smar_p11kit;

static bool resolve(smar_lazy_lib *lib, void *handle)
{
#define RESOLVE_ONE(fn) SMAR_LAZY_RESOLVE(smar_p11kit, fn)
    SMAR_P11KIT_FUNCS(RESOLVE_ONE)
#undef RESOLVE_ONE
    return true;
}

static smar_lazy_lib p11kit = {
    .soname = "libp11-kit.so.0",
    .feature = "PKCS#11 keys (pkcs11: URIs)",
    .resolve = resolve,
    .once = PTHREAD_ONCE_INIT,
};

int smar_p11kit_load(smar_err *e)
{
    return smar_lazy_load(&p11kit, e);
}
