/*
 * testutil.h - small helpers shared by the unit test programs (linked into each one).
 * Every helper returns NULL / -1 on failure instead of aborting, so the test decides
 * how to report it (usually assert_non_null / assert_int_equal).
 */
#ifndef SMAR_TESTUTIL_H
#define SMAR_TESTUTIL_H

#include <stddef.h>

/* Read a whole file into a new NUL-terminated buffer (the NUL is not counted in *len).
 * len may be NULL. Free with free(). */
char *tu_read_file(const char *path, size_t *len);

/* Create or truncate path with mode 0600 and write n bytes to it. Returns 0 or -1. */
int tu_write_file(const char *path, const void *p, size_t n);

/* Make a fresh private directory under $TMPDIR (or /tmp). Free the returned path with
 * free(); remove the directory with tu_rmtree(). */
char *tu_tmpdir(void);

/* Remove path and, if it is a directory, everything below it (symlinks are not
 * followed). Returns 0 or -1. */
int tu_rmtree(const char *path);

/* dir + "/" + name in a new string (free() it). */
char *tu_path_join(const char *dir, const char *name);

/* Path of a file in the source tree (relative to the project root), e.g. test fixtures. */
char *tu_source_path(const char *relative);

/* Monotonic clock in seconds, for coarse performance checks. */
double tu_now(void);

#endif
