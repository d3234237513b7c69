/*
 * common.c - library initialisation, status descriptions, version (smar/common.h).
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <sodium.h>

#ifndef SMAR_VERSION_STRING
#error "SMAR_VERSION_STRING must be defined by the build (see CMakeLists.txt)"
#endif

int smar_init(void)
{
    /* sodium_init() is thread-safe and returns 1 when it already ran. */
    return sodium_init() >= 0 ? SMAR_OK : SMAR_E_NOMEM;
}

/* Set once a lock of key memory failed; never cleared (the memory stays unlocked). */
static atomic_bool memory_unlocked;

void smar_note_memory_unlocked(void)
{
    atomic_store(&memory_unlocked, true);
}

int smar_memory_locked(void)
{
    return atomic_load(&memory_unlocked) ? 0 : 1;
}

const char *smar_strerror(int status)
{
    switch (status) {
    case SMAR_OK:
        return "success";
    case SMAR_DONE:
        return "no more items";
    case SMAR_E_INVALID:
        return "invalid argument";
    case SMAR_E_NOMEM:
        return "out of memory";
    case SMAR_E_IO:
        return "input/output error";
    case SMAR_E_FORMAT:
        return "not an smar archive or malformed structure";
    case SMAR_E_VERSION:
        return "unsupported format version or feature";
    case SMAR_E_LIMIT:
        return "limit exceeded";
    case SMAR_E_CORRUPT:
        return "archive is damaged";
    case SMAR_E_AUTH:
        return "authentication failed";
    case SMAR_E_KEY:
        return "no usable key";
    case SMAR_E_NOTFOUND:
        return "not found";
    case SMAR_E_INPUT:
        return "invalid instance export";
    case SMAR_E_EXISTS:
        return "destination exists";
    case SMAR_E_UNSUPPORTED:
        return "not supported on this system";
    case SMAR_E_CANCELLED:
        return "cancelled";
    case SMAR_E_PASSPHRASE:
        return "passphrase missing or wrong";
    case SMAR_E_DENIED:
        return "the key provider denied access";
    case SMAR_E_UNAVAILABLE:
        return "the key provider is unavailable";
    case SMAR_E_NEEDBASE:
        return "a base archive of this incremental archive is missing";
    default:
        return "unknown error";
    }
}

const char *smar_version_string(void)
{
    return SMAR_VERSION_STRING;
}

void smar_secret_buffer_free(void *buf, size_t len)
{
    if (buf == NULL)
        return;
    sodium_memzero(buf, len);
    free(buf);
}
