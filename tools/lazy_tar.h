/*
 * lazy_tar.h - libarchive's tar writer for `extract --format tar`, loaded on first use, as
 * libsmar loads its own libraries (ARCHITECTURE.md, "Lazily loaded libraries"): no other
 * command pays for libarchive and the forty libraries it pulls in. The tools may not use
 * libsmar's internal loader, hence this small copy. extract_dir.c includes this instead of
 * <archive.h>; call sites keep libarchive's names and types through the macros below, valid
 * once cli_tar_load has succeeded.
 */
#ifndef SMAR_CLI_LAZY_TAR_H
#define SMAR_CLI_LAZY_TAR_H

#include <archive.h>
#include <archive_entry.h>

#define CLI_TAR_FUNCS(X)                                                                           \
    X(archive_entry_free)                                                                          \
    X(archive_entry_new)                                                                           \
    X(archive_entry_set_filetype)                                                                  \
    X(archive_entry_set_mtime)                                                                     \
    X(archive_entry_set_pathname)                                                                  \
    X(archive_entry_set_perm)                                                                      \
    X(archive_entry_set_size)                                                                      \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_write_close)                                                                         \
    X(archive_write_data)                                                                          \
    X(archive_write_free)                                                                          \
    X(archive_write_header)                                                                        \
    X(archive_write_new)                                                                           \
    X(archive_write_open2)                                                                         \
    X(archive_write_set_bytes_in_last_block)                                                       \
    X(archive_write_set_format_pax_restricted)

#define CLI_TAR_FIELD(fn) __typeof__(fn) *fn;
struct cli_tar_lib {
    CLI_TAR_FUNCS(CLI_TAR_FIELD)
};
#undef CLI_TAR_FIELD
extern struct cli_tar_lib cli_tar_lib;

/* Load libarchive.so.13 once: 0, or CLI_EXIT_FAILURE after saying why on stderr. */
int cli_tar_load(void);

#ifndef CLI_LAZY_TAR_NO_REDIRECT
#define archive_entry_free                    (cli_tar_lib.archive_entry_free)
#define archive_entry_new                     (cli_tar_lib.archive_entry_new)
#define archive_entry_set_filetype            (cli_tar_lib.archive_entry_set_filetype)
#define archive_entry_set_mtime               (cli_tar_lib.archive_entry_set_mtime)
#define archive_entry_set_pathname            (cli_tar_lib.archive_entry_set_pathname)
#define archive_entry_set_perm                (cli_tar_lib.archive_entry_set_perm)
#define archive_entry_set_size                (cli_tar_lib.archive_entry_set_size)
#define archive_errno                         (cli_tar_lib.archive_errno)
#define archive_error_string                  (cli_tar_lib.archive_error_string)
#define archive_write_close                   (cli_tar_lib.archive_write_close)
#define archive_write_data                    (cli_tar_lib.archive_write_data)
#define archive_write_free                    (cli_tar_lib.archive_write_free)
#define archive_write_header                  (cli_tar_lib.archive_write_header)
#define archive_write_new                     (cli_tar_lib.archive_write_new)
#define archive_write_open2                   (cli_tar_lib.archive_write_open2)
#define archive_write_set_bytes_in_last_block (cli_tar_lib.archive_write_set_bytes_in_last_block)
#define archive_write_set_format_pax_restricted                                                    \
    (cli_tar_lib.archive_write_set_format_pax_restricted)
#endif

#endif
