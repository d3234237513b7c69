/*
 * common.h - what the fuzz harnesses share: one-time initialisation, a private temporary
 * directory per process, fixed test keys, an in-memory archive source, and the calls that
 * exercise an opened archive the way the tools do.
 *
 * Every harness is built twice: as a libFuzzer target (fuzz/CMakeLists.txt, clang,
 * -DSMAR_FUZZ=ON) and as a plain program replaying its checked-in corpus and regression
 * inputs (fuzz/replay.cmake, the normal build and test suite). Nothing here depends on
 * libFuzzer.
 */
#ifndef SMAR_FUZZ_COMMON_H
#define SMAR_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "smar.h"

/* The entry point every harness defines (libFuzzer's name). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the library, checked on fuzzer input: a failure is a bug, so abort and
 * let libFuzzer (or the sanitizer in the replay build) record the input. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FZ_FAIL(what)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, __FILE__, __LINE__);          \
        abort();                                                                                   \
    } while (0)

/* smar_init() once; aborts when the library cannot start (not an input problem). */
void fz_init(void);

/* A private directory for this process ($TMPDIR, else /dev/shm, else /tmp), made on first
 * use and removed at exit. */
const char *fz_tmpdir(void);

/* tmpdir + "/" + name in a static buffer (valid until the next call). */
const char *fz_tmp_path(const char *name);

/* Create or truncate path with the given mode and write n bytes. Returns 0 or -1. */
int fz_write_file(const char *path, const void *p, size_t n, unsigned mode);

/* Remove path and everything below it (no symlinks followed). */
void fz_rmtree(const char *path);

/* The process's keyring (id "fuzz-key", one version) and signing key, made once. */
smar_keyring *fz_keyring(void);
smar_signkey *fz_signkey(void);

/* A source reading from bytes the caller keeps alive (no copy, close is NULL). */
typedef struct fz_mem {
    const uint8_t *p;
    size_t n;
} fz_mem;
smar_source fz_mem_source(fz_mem *m);

/* Exercise an unlocked reader the way `ls`, `cat` and `extract` do: every record's
 * accessors, payloads and renderings (rendered JSON must be valid JSON), then lookups by
 * the ids and names found. Bounded: at most a few dozen secrets are looked at. */
void fz_exercise_unlocked(smar_reader *r);

/* Exercise a series over unlocked readers: resolve, select, render (when the library has
 * series.c). */
void fz_exercise_series(smar_reader *const *readers, size_t n);

/* Strict JSON check used as an oracle on library output. */
bool fz_json_valid(const char *p, size_t n);

#endif
