/*
 * lazylib.c - dlopen on first use (lazylib.h says why).
 */
#include "lazylib.h"

#include <dlfcn.h>
#include <stdio.h>

void *smar_lazy_sym(smar_lazy_lib *lib, void *handle, const char *name)
{
    (void)dlerror();
    void *sym = dlsym(handle, name);
    if (sym == NULL) {
        const char *why = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s", why != NULL ? why : name);
    }
    return sym;
}

static void load(smar_lazy_lib *lib)
{
    /* RTLD_LOCAL: the library's symbols serve this table only, never another library's
     * lookups (the program may link a copy of its own). */
    void *handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s", why != NULL ? why : "cannot be loaded");
        return;
    }
    /* On a missing symbol the handle stays open: unloading a library whose constructors
     * ran is not always safe, and the table is never used (loaded stays false). */
    lib->loaded = lib->resolve(lib, handle);
}

/* pthread_once passes no argument; the library being loaded travels in a thread-local, as
 * the once routine runs on the calling thread. */
static _Thread_local smar_lazy_lib *loading;

static void load_current(void)
{
    load(loading);
}

int smar_lazy_load(smar_lazy_lib *lib, smar_err *e)
{
    loading = lib;
    (void)pthread_once(&lib->once, load_current);
    loading = NULL;
    if (lib->loaded)
        return SMAR_OK;
    if (e == NULL)
        return SMAR_E_UNSUPPORTED;
    return smar_fail(e, SMAR_E_UNSUPPORTED, "%s needs %s: %s", lib->feature, lib->soname, lib->why);
}
