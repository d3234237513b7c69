/*
 * smar/common.h - status codes, library initialisation, version.
 *
 * Conventions used by every smar call:
 *  - Functions that can fail return an int: SMAR_OK (0) on success or one of the negative
 *    smar_status values below. A few iterator calls also return SMAR_DONE (1) at the end.
 *  - Objects are opaque handles made by smar_<type>_new() and released by smar_<type>_free().
 *    free() accepts NULL. A handle keeps the message of its last error, retrievable with
 *    smar_<type>_error(); the message names the file, chunk or secret id concerned and never
 *    contains secret values, key material or a data key. Calls without a handle
 *    (smar_time_parse, smar_payload_value, smar_json_*, smar_keyfile_kind_of, ...) report a
 *    status code only; whatever needs a message (a file that failed to load) is done
 *    through a handle (e.g. smar_signkey_load_public).
 *  - Parameter order. Constructors (smar_<type>_new, smar_export_writer_new,
 *    smar_fd_source) take the address of what they make first. Every other call takes its
 *    handle first (the keyring being filled, for smar_keyring_from_provider), then its
 *    inputs, then its output parameters, then a callback and its payload last (several
 *    callbacks share the one payload after them). Callback types follow their own
 *    documented order (ctx or opaque first).
 *  - Iteration callbacks (smar_secret_cb, smar_id_cb, smar_json_member_cb,
 *    smar_json_element_cb) return 0 to go on or a positive value to stop, conventionally
 *    SMAR_STOP; the iterating call then returns that value. Stop values and status codes
 *    never meet: a callback that returns a negative value is refused, and the call returns
 *    SMAR_E_INVALID ("callback returned a status code"), so a stop can never look like,
 *    say, SMAR_E_IO. A callback that failed keeps its own status in its payload and stops.
 *  - Versioned structs: a struct the caller fills for the library (options, a source, a
 *    provider) or hands to the library to fill (smar_archive_info, smar_slot_info,
 *    smar_snapshot_info, smar_verify_result, smar_at) begins with `int version`. Declare it
 *    with its macro, e.g. `smar_archive_info info = SMAR_ARCHIVE_INFO_INIT;`, which sets the
 *    version this header describes (SMAR_ARCHIVE_INFO_VERSION). A later library appends
 *    members and a new version; it still fills only the members of the version the caller
 *    set, so a program built against an older header keeps working. A version the library
 *    does not know (0 included: a struct not made with its _INIT macro) is refused with
 *    SMAR_E_INVALID and a message naming the struct, before anything is written to it.
 *  - Strings returned by accessors are borrowed from the handle and stay valid until the
 *    handle is freed, unless the call's comment says otherwise.
 *  - The library never prints, never calls exit() and never aborts on bad input.
 *  - Handles are not thread-safe; distinct handles may be used from distinct threads.
 */
#ifndef SMAR_COMMON_H
#define SMAR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SMAR_BUILDING_LIBRARY)
#define SMAR_API __attribute__((visibility("default")))
#else
#define SMAR_API
#endif
#define SMAR_NODISCARD __attribute__((warn_unused_result))

/** Status codes. Values are stable: they are part of the ABI. */
typedef enum smar_status {
    SMAR_OK = 0,
    SMAR_DONE = 1,            /**< an iterator reached its end (not an error) */
    SMAR_E_INVALID = -1,      /**< bad argument, or a call made in the wrong state */
    SMAR_E_NOMEM = -2,        /**< out of memory (or locked memory) */
    SMAR_E_IO = -3,           /**< read, write, open or sync failed */
    SMAR_E_FORMAT = -4,       /**< not an smar archive, or malformed structure */
    SMAR_E_VERSION = -5,      /**< unsupported format version or feature */
    SMAR_E_LIMIT = -6,        /**< a size or count is over a documented limit */
    SMAR_E_CORRUPT = -7,      /**< damaged: truncated, hash mismatch, missing chunk */
    SMAR_E_AUTH = -8,         /**< authentication failed: MAC, AEAD tag or signature */
    SMAR_E_KEY = -9,          /**< no key slot can be opened with the given keys */
    SMAR_E_NOTFOUND = -10,    /**< no such secret, version or key */
    SMAR_E_INPUT = -11,       /**< an instance export is invalid */
    SMAR_E_EXISTS = -12,      /**< the destination exists and overwriting was not asked */
    SMAR_E_UNSUPPORTED = -13, /**< e.g. AES-256-GCM without hardware support */
    SMAR_E_PASSPHRASE = -14,  /**< the keyring needs a passphrase, or the passphrase is wrong */
    SMAR_E_DENIED = -15,      /**< a key provider refused: no permission for that key or use */
    SMAR_E_UNAVAILABLE = -16, /**< a key provider cannot be reached (network, service, HSM
                                   absent): nothing is wrong with the data; try again */
    SMAR_E_CANCELLED = -17,   /**< a source or sink callback cancelled the call (smar/io.h) */
    SMAR_E_NEEDBASE = -18,    /**< an incremental archive needs a base archive that is not
                                   attached (smar_reader_attach_base); the message lists every
                                   missing base by archive id and snapshot time */
} smar_status;

/** The conventional value an iteration callback returns to stop early (see above). */
#define SMAR_STOP 1

/**
 * Initialise the library (libsodium and its CPU feature detection). Call once before any
 * other call; later calls are harmless. Thread-safe. Returns SMAR_OK or SMAR_E_NOMEM.
 */
SMAR_API int smar_init(void);

/** A short constant English description of a status code, e.g. "authentication failed". */
SMAR_API const char *smar_strerror(int status);

/**
 * 1 while every piece of key memory the library allocated so far in this process could be
 * locked into RAM (mlock), 0 once one could not (RLIMIT_MEMLOCK too low, see ulimit -l):
 * keys then work but may be written to swap. Not an error; the library never prints it,
 * an application may warn once. Thread-safe.
 */
SMAR_API int smar_memory_locked(void);

/** The library version, e.g. "0.1.0". */
SMAR_API const char *smar_version_string(void);

/** Highest archive format major version this library reads and the one it writes. */
#define SMAR_FORMAT_VERSION_MAJOR 2
#define SMAR_FORMAT_VERSION_MINOR 0

/**
 * Wipe and free a buffer holding secret material returned by smar (payloads, rendered
 * secrets). Accepts NULL. len is the length returned with the buffer.
 */
SMAR_API void smar_secret_buffer_free(void *buf, size_t len);

/** An output callback (archives, instance exports): called with the bytes in order; must
 *  write all len bytes. Return 0, or -1 (the caller then fails with SMAR_E_IO; set errno
 *  for a useful message). */
typedef int (*smar_write_fn)(void *opaque, const void *buf, size_t len);

/** Times are signed nanoseconds since 1970-01-01T00:00:00Z (UTC). */
typedef int64_t smar_time_ns;
#define SMAR_TIME_NONE INT64_MIN /**< "no time": the field was absent */

/**
 * Parse an RFC 3339 timestamp ("2026-11-20T02:00:00Z", 0 to 9 fractional digits, "Z" or a
 * numeric offset). allow_date non-zero is for times a user types: it also takes a bare date
 * "2026-11-20" meaning 00:00:00Z and a space instead of the "T" ("2026-11-20 02:00:00Z").
 * Returns SMAR_OK or SMAR_E_INVALID. Rejects out-of-range fields and years outside 1678..2261.
 */
SMAR_API int smar_time_parse(const char *text, size_t len, int allow_date, smar_time_ns *out);

/**
 * Format a time as RFC 3339 UTC with "Z", with the fractional part only as long as needed
 * (0, 3, 6 or 9 digits). buf must hold SMAR_TIME_BUFSIZE bytes. Returns buf.
 */
#define SMAR_TIME_BUFSIZE 40
SMAR_API char *smar_time_format(smar_time_ns t, char buf[SMAR_TIME_BUFSIZE]);

#ifdef __cplusplus
}
#endif
#endif
