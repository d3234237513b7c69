/*
 * lazylib.h - optional shared libraries loaded on first use (dlopen), so a command only
 * pays the dynamic loader for what it uses (ARCHITECTURE.md, "Lazily loaded libraries").
 *
 * libarchive (tar and zip inputs), libcurl (HTTPS: s3://, key services) and p11-kit
 * (pkcs11: keys) pull in some forty libraries between them; `smar cat` of a local archive
 * needs none. Each layer that uses one keeps a table of the functions it calls, declared
 * with the library's own header types, and resolves it here once. A library that cannot be
 * loaded is an error the caller reports (SMAR_E_UNSUPPORTED), never a crash.
 */
#ifndef SMAR_LAZYLIB_H
#define SMAR_LAZYLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/* One library: the fields before `once` are constants; the rest is set by smar_lazy_load. */
typedef struct smar_lazy_lib {
    const char *soname;  /* "libcurl.so.4": the ABI the headers describe */
    const char *feature; /* what needs it, for messages: "s3:// and key services" */
    /* Fills the layer's table from an open handle with smar_lazy_sym; false if one is
     * missing (lib->why says which). */
    bool (*resolve)(struct smar_lazy_lib *lib, void *handle);
    pthread_once_t once;
    bool loaded;
    char why[256]; /* dlerror() text when not loaded */
} smar_lazy_lib;

/* Open lib and resolve every symbol, once per process (thread-safe). SMAR_OK, or
 * SMAR_E_UNSUPPORTED with "FEATURE needs SONAME: reason" recorded in e (may be NULL). */
int smar_lazy_load(smar_lazy_lib *lib, smar_err *e);

/* The address of name in handle, or NULL with lib->why set. For resolve functions. */
void *smar_lazy_sym(smar_lazy_lib *lib, void *handle, const char *name);

/* Helpers for a layer's table, listed once as an X-macro of function names:
 * SMAR_LAZY_FIELD declares a pointer with the function's own type (__typeof__ keeps the
 * header's prototype exact), SMAR_LAZY_RESOLVE(table, fn) fills one inside a resolve
 * function whose parameters are lib and handle. */
#define SMAR_LAZY_FIELD(fn) __typeof__(fn) *fn;
#define SMAR_LAZY_RESOLVE(table, fn)                                                               \
    do {                                                                                           \
        void *sym_ = smar_lazy_sym(lib, handle, #fn);                                              \
        if (sym_ == NULL)                                                                          \
            return false;                                                                          \
        (table).fn = (__typeof__((table).fn))sym_;                                                 \
    } while (0);

#endif
