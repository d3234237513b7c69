/*
 * export_read.h - the instance-export harnesses' shared loop: open an export, read every
 * secret and the document, checking what the reader promises about its output.
 */
#ifndef SMAR_FUZZ_EXPORT_READ_H
#define SMAR_FUZZ_EXPORT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read the export at path to the end (bounded to a few thousand secrets). With
 * small_limits, the reader's secret and document size limits are lowered to a few hundred
 * bytes first, so the limit paths run too. */
void fz_read_export(const char *path, bool small_limits);

/* The same with the bytes arriving on standard input ("-") through a socket that hands
 * them over `packet` bytes per read(2): the reader's window then fills at every possible
 * boundary, deterministically, and the non-seekable paths (a tar or zip read in one pass)
 * run. Standard input is restored afterwards. */
void fz_read_export_stream(const uint8_t *data, size_t size, size_t packet, bool small_limits);

#endif
