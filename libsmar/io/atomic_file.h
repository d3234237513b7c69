/*
 * atomic_file.h - a file written so that it is never half-written under its final name.
 * The one implementation is the public file sink (smar/io.h, file_sink.c).
 */
#ifndef SMAR_ATOMIC_FILE_H
#define SMAR_ATOMIC_FILE_H

#include "internal.h"
#include "smar/io.h"

/* Write data to path atomically through a file sink: mode set whatever the umask, no
 * existing path replaced unless overwrite; with overwrite a symbolic link is followed and
 * its target replaced in the target's folder; only a regular file is ever replaced
 * (SMAR_E_INVALID otherwise, checked before writing and again right before the rename).
 * Shared by the keyring and signing-key savers. */
int smar_atomic_write_file(const char *path, const void *data, size_t len, unsigned mode,
                           bool overwrite, smar_err *e);

#endif
