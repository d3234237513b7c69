/*
 * source.h - reading through an smar_source (smar/io.h) with the library's error record.
 */
#ifndef SMAR_SOURCE_H
#define SMAR_SOURCE_H

#include "internal.h"
#include "smar/io.h"

/* Whether src is a source this library can use (its version known, read_at set). */
bool smar_source_usable(const smar_source *src);

/*
 * Read exactly len bytes at offset: SMAR_OK; SMAR_E_CORRUPT when the range is past the
 * source's end (the archive says more than the file holds); SMAR_E_IO with the source's
 * reason; SMAR_E_CANCELLED when the source cancelled. e gets the message. Safe from
 * several threads at once when the source is (each with its own e).
 */
int smar_source_read(const smar_source *src, void *buf, size_t len, uint64_t offset, smar_err *e);

#endif
