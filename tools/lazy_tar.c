/*
 * lazy_tar.c - libarchive's tar writer, loaded on first use (lazy_tar.h says why).
 */
#define CLI_LAZY_TAR_NO_REDIRECT
#include "lazy_tar.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

struct cli_tar_lib cli_tar_lib;

static pthread_once_t tar_once = PTHREAD_ONCE_INIT;
static bool tar_loaded;
static char tar_why[256];

static bool resolve(void *handle)
{
    void *sym;
#define RESOLVE_ONE(fn)                                                                            \
    if ((sym = dlsym(handle, #fn)) == NULL)                                                        \
        return false;                                                                              \
    cli_tar_lib.fn = (__typeof__(cli_tar_lib.fn))sym;
    CLI_TAR_FUNCS(RESOLVE_ONE)
#undef RESOLVE_ONE
    return true;
}

static void load(void)
{
    void *handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    tar_loaded = handle != NULL && resolve(handle);
    if (!tar_loaded) {
        const char *why = dlerror();
        snprintf(tar_why, sizeof tar_why, "%s", why != NULL ? why : "cannot be loaded");
    }
}

int cli_tar_load(void)
{
    (void)pthread_once(&tar_once, load);
    if (tar_loaded)
        return 0;
    cli_error("--format tar needs libarchive.so.13: %s", tar_why);
    return CLI_EXIT_FAILURE;
}
