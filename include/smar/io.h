/*
 * smar/io.h - where archives are read from and written to: sources and sinks.
 *
 * The reader reads an archive only through a source (random-access reads); the writer
 * writes one only through a sink (forward writes, then commit or abort). Both are small
 * versioned tables of callbacks, so an archive in object storage, in memory or behind any
 * transport needs no change to the library. libsmar brings the file implementations: a
 * source over a file descriptor (smar_reader_open_fd) and a file sink that publishes its
 * file atomically (smar_file_sink_*), which the smar tool and the key savers use too.
 *
 * Callbacks return an smar_io_result, never an smar_status: SMAR_IO_OK, SMAR_IO_FAILED
 * (the library fails the call with SMAR_E_IO and the text the callback wrote into err) or
 * SMAR_IO_CANCELLED (the library stops the call with SMAR_E_CANCELLED). err points to
 * SMAR_IO_ERROR_MAX bytes, an empty string on entry; a failing callback writes why there
 * (NUL-terminated; it is shown to users, so no secret goes in it).
 *
 *   smar_file_sink *fs; smar_file_sink_new(&fs);
 *   smar_file_sink_options fo = SMAR_FILE_SINK_OPTIONS_INIT;
 *   smar_file_sink_open(fs, "nightly.smar", &fo);   // ".nightly.smar.tmp-XXXXXX"
 *   smar_sink sink; smar_file_sink_as_sink(fs, &sink);
 *   smar_writer_open_sink(w, &sink, &opts);
 *   ... smar_writer_finish(w);                     // commits: the name appears complete
 *   smar_file_sink_free(fs);
 */
#ifndef SMAR_IO_H
#define SMAR_IO_H

#include "smar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a source or sink callback reports. Not status codes: see above. */
typedef enum smar_io_result {
    SMAR_IO_OK = 0,
    SMAR_IO_FAILED = 1,    /**< the operation failed; err says why */
    SMAR_IO_CANCELLED = 2, /**< stop the library call: the caller cancelled it */
    /** A sink's copy cannot copy from that source: nothing was written, the caller copies
     *  the bytes itself. */
    SMAR_IO_UNSUPPORTED = 3,
} smar_io_result;

/** Room for a callback's error text, NUL included. */
#define SMAR_IO_ERROR_MAX 256

/* ---- sources ------------------------------------------------------------------------ */

/**
 * Random-access input, e.g. a file (pread) or an object-storage client doing range reads.
 *
 * read_at is called from several threads at once when the reader uses threads
 * (smar_reader_set_threads): it must allow that, and so must error. Returning
 * SMAR_IO_CANCELLED from read_at is how a long read or verify is cancelled: the reader call
 * under way returns SMAR_E_CANCELLED (the reader stays usable; nothing read is trusted
 * more than before).
 */
typedef struct smar_source {
    int version;   /**< SMAR_SOURCE_VERSION */
    void *opaque;  /**< passed to every callback */
    uint64_t size; /**< total size of the archive in bytes */
    /** Read exactly len bytes at offset into buf (offset + len <= size, checked by the
     *  library). A short read is SMAR_IO_FAILED. */
    smar_io_result (*read_at)(void *opaque, void *buf, size_t len, uint64_t offset,
                              char err[SMAR_IO_ERROR_MAX]);
    /** Called once by smar_reader_free() when the reader owns the source; may be NULL. */
    void (*close)(void *opaque);
} smar_source;

#define SMAR_SOURCE_VERSION 1
#define SMAR_SOURCE_INIT                                                                           \
    {                                                                                              \
        SMAR_SOURCE_VERSION, NULL, 0, NULL, NULL                                                   \
    }

/**
 * A source reading the regular file fd with pread (so the reader's threads may share it),
 * its size taken now. Its close callback closes fd. SMAR_OK, or SMAR_E_IO when fd is not a
 * regular file (out is then untouched and fd stays the caller's).
 */
SMAR_API int smar_fd_source(smar_source *out, int fd);

/* ---- sinks -------------------------------------------------------------------------- */

/**
 * Forward-only output, e.g. a file written atomically or a multipart upload.
 *
 * The writer calls write with the archive's bytes in order, then exactly one of commit
 * (the archive is complete: make it visible, durable) or abort (it failed, or was freed
 * unfinished: discard what was written). After commit or abort no callback is called
 * again. All calls come from the thread calling the writer.
 */
typedef struct smar_sink {
    int version;  /**< SMAR_SINK_VERSION */
    void *opaque; /**< passed to every callback */
    /** Write all len bytes. */
    smar_io_result (*write)(void *opaque, const void *buf, size_t len, char err[SMAR_IO_ERROR_MAX]);
    /** Everything is written: publish it. A failure fails smar_writer_finish. */
    smar_io_result (*commit)(void *opaque, char err[SMAR_IO_ERROR_MAX]);
    /** Discard what was written. May be NULL. */
    void (*abort)(void *opaque);
    /* version 2 */
    /** Append bytes [offset, offset + len) of src without their passing through the
     *  caller, e.g. copied by the storage server itself (S3 UploadPartCopy). Returns
     *  SMAR_IO_UNSUPPORTED, having written nothing, when it cannot copy from that source;
     *  the caller then reads and writes the bytes itself. May be NULL: never. */
    smar_io_result (*copy)(void *opaque, const smar_source *src, uint64_t offset, uint64_t len,
                           char err[SMAR_IO_ERROR_MAX]);
} smar_sink;

/* Version 1 sinks (without copy) are still accepted. */
#define SMAR_SINK_VERSION 2
#define SMAR_SINK_INIT                                                                             \
    {                                                                                              \
        SMAR_SINK_VERSION, NULL, NULL, NULL, NULL, NULL                                            \
    }

/* ---- the file sink: one atomic publish ---------------------------------------------- */

/**
 * A file that appears complete under its name or not at all. It is written as a new
 * temporary file ".NAME.tmp-XXXXXX" in the destination's folder (created with O_EXCL and
 * O_NOFOLLOW, mode 0600: the data is never readable by others on the way); commit syncs
 * it, gives it its name and syncs the folder. Without SMAR_FILE_SINK_REPLACE an existing
 * name is never replaced, not even by a race (renameat2 RENAME_NOREPLACE, or link where
 * the file system lacks it); with it, only a regular file is ever replaced, checked when
 * the sink opens and again right before the rename, never following a link at the name.
 * The temporary file is removed by abort, by free before commit, and on every failure.
 *
 * A handle is used from one thread at a time.
 */
typedef struct smar_file_sink smar_file_sink;

/** Replace an existing regular file of that name. */
#define SMAR_FILE_SINK_REPLACE 1u
/** With REPLACE: a symbolic link at the name is followed (a chain of them too) and the
 *  file it ends at is replaced in its own folder; the link stays a link. */
#define SMAR_FILE_SINK_FOLLOW_LINKS 2u

typedef struct smar_file_sink_options {
    int version;    /**< SMAR_FILE_SINK_OPTIONS_VERSION */
    unsigned flags; /**< SMAR_FILE_SINK_* */
    unsigned mode;  /**< final permission bits, set whatever the umask; 0: 0600 as created */
} smar_file_sink_options;

#define SMAR_FILE_SINK_OPTIONS_VERSION 1
#define SMAR_FILE_SINK_OPTIONS_INIT                                                                \
    {                                                                                              \
        SMAR_FILE_SINK_OPTIONS_VERSION, 0, 0                                                       \
    }

/** A new file sink, not open yet. SMAR_OK or SMAR_E_NOMEM. */
SMAR_API int smar_file_sink_new(smar_file_sink **out);

/**
 * Start writing path (opts NULL: the defaults). Returns SMAR_OK, SMAR_E_EXISTS (the name
 * exists, REPLACE not asked), SMAR_E_INVALID (path names no file, the name holds something
 * other than a regular file, or the sink is open already), SMAR_E_IO or SMAR_E_NOMEM.
 */
SMAR_API int smar_file_sink_open(smar_file_sink *fs, const char *path,
                                 const smar_file_sink_options *opts);

/**
 * The same for name inside the folder dirfd (the sink keeps its own copy of the
 * descriptor; the caller's may be closed at once). name must not contain '/'. display
 * names the file in messages (NULL: name).
 */
SMAR_API int smar_file_sink_openat(smar_file_sink *fs, int dirfd, const char *name,
                                   const char *display, const smar_file_sink_options *opts);

/** The last error's message. */
SMAR_API const char *smar_file_sink_error(const smar_file_sink *fs);

/** Write all len bytes to the temporary file. SMAR_OK or SMAR_E_IO (the sink is then
 *  aborted). */
SMAR_API int smar_file_sink_write(smar_file_sink *fs, const void *buf, size_t len);

/** fsync and close the file, give it its name, fsync the folder. SMAR_OK, SMAR_E_EXISTS,
 *  SMAR_E_INVALID (the name now holds something that is not a regular file) or SMAR_E_IO;
 *  on failure the temporary file is removed. */
SMAR_API int smar_file_sink_commit(smar_file_sink *fs);

/**
 * Commit in two steps, for many small files: close_unsynced closes the temporary file
 * without syncing it; once the caller has synced the file system (one syncfs for a whole
 * batch), publish gives it its name. The name never holds data not yet on disk. publish
 * does not sync the folder: sync the file system once more after the batch. Same returns
 * as commit.
 */
SMAR_API int smar_file_sink_close_unsynced(smar_file_sink *fs);
SMAR_API int smar_file_sink_publish(smar_file_sink *fs);

/** Remove the temporary file (nothing after a commit). Idempotent. */
SMAR_API void smar_file_sink_abort(smar_file_sink *fs);

/** Abort unless committed, and release the handle. Accepts NULL. */
SMAR_API void smar_file_sink_free(smar_file_sink *fs);

/**
 * Where the temporary file is, for a program that removes it from a signal handler: its
 * folder's descriptor (owned by the sink) and its name there. Both stay valid until the
 * sink is committed, aborted or freed. -1 and NULL when there is no temporary file.
 */
SMAR_API int smar_file_sink_temp_dirfd(const smar_file_sink *fs);
SMAR_API const char *smar_file_sink_temp_name(const smar_file_sink *fs);

/** The open temporary file's descriptor (for fstat, say; write through the sink), or -1. */
SMAR_API int smar_file_sink_fd(const smar_file_sink *fs);

/** Fill out with callbacks that use fs (borrowed: fs must outlive every use of out). */
SMAR_API void smar_file_sink_as_sink(smar_file_sink *fs, smar_sink *out);

#ifdef __cplusplus
}
#endif
#endif
