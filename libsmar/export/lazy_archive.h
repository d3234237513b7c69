/*
 * lazy_archive.h - libarchive, loaded on first use (common/lazylib.h): the export layer
 * includes this instead of <archive.h>. Call sites keep libarchive's names and types; the
 * macros at the end send each call through the table, so smar_libarchive_load must have
 * succeeded before the first call (the two places that start a libarchive reader do it).
 */
#ifndef SMAR_LAZY_ARCHIVE_H
#define SMAR_LAZY_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "lazylib.h"

/* Every libarchive function the export layer calls. */
#define SMAR_LIBARCHIVE_FUNCS(X)                                                                   \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_pathname_utf8)                                                                 \
    X(archive_entry_size)                                                                          \
    X(archive_entry_size_is_set)                                                                   \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_read_data)                                                                           \
    X(archive_read_free)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_next_header)                                                                    \
    X(archive_read_open)                                                                           \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_support_filter_bzip2)                                                           \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_lzma)                                                            \
    X(archive_read_support_filter_xz)                                                              \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_raw)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_support_format_zip)                                                             \
    X(archive_set_error)

struct smar_libarchive {
    SMAR_LIBARCHIVE_FUNCS(SMAR_LAZY_FIELD)
};
extern struct smar_libarchive smar_libarchive;

/* Load libarchive.so.13 once: SMAR_OK, or SMAR_E_UNSUPPORTED with the reason in e. */
int smar_libarchive_load(smar_err *e);

#ifndef SMAR_LAZY_ARCHIVE_NO_REDIRECT
#define archive_entry_filetype            (smar_libarchive.archive_entry_filetype)
#define archive_entry_pathname            (smar_libarchive.archive_entry_pathname)
#define archive_entry_pathname_utf8       (smar_libarchive.archive_entry_pathname_utf8)
#define archive_entry_size                (smar_libarchive.archive_entry_size)
#define archive_entry_size_is_set         (smar_libarchive.archive_entry_size_is_set)
#define archive_errno                     (smar_libarchive.archive_errno)
#define archive_error_string              (smar_libarchive.archive_error_string)
#define archive_read_data                 (smar_libarchive.archive_read_data)
#define archive_read_free                 (smar_libarchive.archive_read_free)
#define archive_read_new                  (smar_libarchive.archive_read_new)
#define archive_read_next_header          (smar_libarchive.archive_read_next_header)
#define archive_read_open                 (smar_libarchive.archive_read_open)
#define archive_read_open_fd              (smar_libarchive.archive_read_open_fd)
#define archive_read_support_filter_bzip2 (smar_libarchive.archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip  (smar_libarchive.archive_read_support_filter_gzip)
#define archive_read_support_filter_lzma  (smar_libarchive.archive_read_support_filter_lzma)
#define archive_read_support_filter_xz    (smar_libarchive.archive_read_support_filter_xz)
#define archive_read_support_filter_zstd  (smar_libarchive.archive_read_support_filter_zstd)
#define archive_read_support_format_raw   (smar_libarchive.archive_read_support_format_raw)
#define archive_read_support_format_tar   (smar_libarchive.archive_read_support_format_tar)
#define archive_read_support_format_zip   (smar_libarchive.archive_read_support_format_zip)
#define archive_set_error                 (smar_libarchive.archive_set_error)
#endif

#endif
