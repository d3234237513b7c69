/*
 * smar/s3.h - archives in S3-compatible object storage (AWS S3, IBM Cloud Object Storage,
 * MinIO, Ceph): an smar_source over range reads and an smar_sink over a multipart upload.
 *
 * An archive is one object, named s3://BUCKET/KEY. Requests are HTTPS (TLS always
 * verified) signed with AWS Signature V4 by libcurl (or, for IBM Cloud Object Storage with
 * an IAM API key, carrying an IAM bearer token), through the library's one HTTP client:
 * timeouts, and retries with backoff and jitter on 429, 5xx and connection failures.
 * libsmar reads no environment variable here: the program gives the endpoint, region and
 * credentials (the smar tool takes them from AWS_* as the AWS tools do; see smar(1)).
 *
 *   smar_s3_options o = SMAR_S3_OPTIONS_INIT;
 *   o.region = "eu-de"; o.endpoint = "https://s3.eu-de.cloud-object-storage.appdomain.cloud";
 *   o.access_key_id = ...; o.secret_access_key = ...;
 *   smar_source src; char err[SMAR_IO_ERROR_MAX];
 *   smar_s3_source_open(&src, "s3://backups/nightly.smar", &o, err);
 *   smar_reader_open_source(r, &src, "s3://backups/nightly.smar");  // owns src if OK
 *
 *   smar_s3_sink *s; smar_s3_sink_open(&s, "s3://backups/new.smar", &o);
 *   smar_sink sink; smar_s3_sink_as_sink(s, &sink);
 *   smar_writer_open_sink(w, &sink, &wo); ... smar_writer_finish(w);  // completes the upload
 *   smar_s3_sink_free(s);
 *
 * Reading: opening costs at most two sequential requests: one suffix range read of the
 * object's last 64 KiB (the trailer, chunk table and metadata of most archives are served
 * from it), or, where the server does not honour suffix ranges (it answers 200, or with a
 * Content-Range other than the one asked for), a HEAD for the size and an explicit range
 * read instead. Every later read is one range GET whose Content-Range is checked.
 *
 * Writing: a multipart upload. Parts are sent by several threads while the writer goes on
 * (parts_in_flight of them at most, so memory is at most parts_in_flight x part size); each
 * part carries Content-MD5 and its SHA-256 as the signed payload hash, which the server
 * checks. Parts 1..1000 are part_size_mib MiB, and every next 1000 parts twice the size of
 * the last (at most 4 GiB), so the format's largest archive fits in S3's 10,000 parts. The
 * object appears only when commit completes the upload; abort, any failure and free before
 * commit abort it (an abort the server refuses leaves an upload that was never completed:
 * invisible, removed by the bucket's lifecycle rule for incomplete uploads). Without
 * SMAR_S3_REPLACE an existing object is never replaced: the sink checks with HEAD when it
 * opens and completes with If-None-Match: * (a server that supports it refuses a race).
 */
#ifndef SMAR_S3_H
#define SMAR_S3_H

#include <stdbool.h>

#include "smar/common.h"
#include "smar/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Address buckets as https://ENDPOINT/BUCKET/KEY (path style) even when the endpoint is a
 *  host name. Path style is used anyway for an IP address or localhost. */
#define SMAR_S3_PATH_STYLE 1u
/** The sink may replace an existing object. */
#define SMAR_S3_REPLACE 2u

#define SMAR_S3_OPTIONS_VERSION 3

/** Where and as whom. Start from SMAR_S3_OPTIONS_INIT; later versions only append. The
 *  strings are copied by the open calls (the secret and the token into locked memory,
 *  wiped when the source or sink is freed); none is ever put in a message. */
typedef struct smar_s3_options {
    int version;               /**< SMAR_S3_OPTIONS_VERSION */
    const char *endpoint;      /**< https://HOST[:PORT]; NULL: https://s3.REGION.amazonaws.com */
    const char *region;        /**< signing region; NULL: us-east-1 */
    const char *access_key_id; /**< required, unless ibm_iam.api_key is given */
    const char *secret_access_key; /**< required, unless ibm_iam.api_key is given */
    const char *session_token;     /**< temporary credentials' token; NULL: none */
    const char *ca_file;           /**< NULL: $CURL_CA_BUNDLE, $SSL_CERT_FILE, the system's */
    unsigned flags;                /**< SMAR_S3_* */
    unsigned parts_in_flight;      /**< sink: parts sent at once; 0: 4 (1..16) */
    unsigned part_size_mib;        /**< sink: size of parts 1..1000; 0: 8 (5..512) */
    unsigned timeout_ms;           /**< one HTTP attempt; 0: 60 s */
    unsigned max_attempts;         /**< per request; 0: 8 */
    /** Polled while requests run; true stops the work (reads return SMAR_IO_CANCELLED, the
     *  sink aborts). For a program's SIGINT flag. NULL: never. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
    /* version 2 */
    /** sink: Object Lock retention in COMPLIANCE mode until this time (nanoseconds since
     *  the epoch, whole seconds used) on the new object: nobody, the root account included,
     *  can delete or overwrite that version before. The bucket must have Object Lock
     *  enabled (else the server refuses the upload). 0: none. */
    smar_time_ns retain_until;
    /* version 3 */
    /** IBM Cloud Object Storage with an IAM API key instead of HMAC keys: when api_key is
     *  set, every request carries "Authorization: Bearer TOKEN" (a token IAM exchanges for
     *  the key at ENDPOINT/identity/token, cached and renewed before it expires, shared by
     *  the upload's threads) and is not SigV4-signed; access_key_id, secret_access_key and
     *  session_token are then ignored. endpoint NULL: https://iam.cloud.ibm.com. Object
     *  operations need no ibm-service-instance-id (only bucket creation and listing do). */
    struct {
        const char *api_key;
        const char *endpoint;
    } ibm_iam;
} smar_s3_options;

#define SMAR_S3_OPTIONS_INIT                                                                       \
    {                                                                                              \
        SMAR_S3_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, 0, \
        {                                                                                          \
            NULL, NULL                                                                             \
        }                                                                                          \
    }

/** Whether text names an object: it starts with "s3://". */
SMAR_API int smar_s3_is_url(const char *text);

/**
 * A source reading the object at url ("s3://BUCKET/KEY"). Returns SMAR_OK, or:
 * SMAR_E_INVALID (a malformed url or options), SMAR_E_NOTFOUND (no such object or bucket),
 * SMAR_E_DENIED (403: credentials refused), SMAR_E_UNAVAILABLE (network, 5xx after the
 * retries), SMAR_E_CORRUPT (the server's answers contradict each other), SMAR_E_CANCELLED,
 * SMAR_E_NOMEM; err says why. out->close frees the source: the reader calls it once
 * smar_reader_open_source succeeded; before that, and when that call fails, call it yourself.
 */
SMAR_API int smar_s3_source_open(smar_source *out, const char *url, const smar_s3_options *opts,
                                 char err[SMAR_IO_ERROR_MAX]);

/** Whether text names a prefix, a series: "s3://BUCKET/" or "s3://BUCKET/PREFIX/". */
SMAR_API int smar_s3_is_prefix(const char *text);

/** One object of a listing: its s3:// URL and size. Return 0 to go on, a positive value
 *  to stop (the listing then returns SMAR_OK), a negative one to fail (SMAR_E_INVALID). */
typedef int (*smar_s3_key_cb)(const char *url, uint64_t size, void *ctx);

/**
 * Every object under url ("s3://BUCKET/PREFIX/"), in the server's order (ascending keys),
 * by ListObjectsV2: one request per 1000 keys, each next page asked for by its
 * continuation token (in the canonical, signed query). Nested "directories" are included
 * (no delimiter). Returns SMAR_OK or a status as for smar_s3_source_open; err says why.
 */
SMAR_API int smar_s3_list(const char *url, const smar_s3_options *opts, smar_s3_key_cb cb,
                          void *ctx, char err[SMAR_IO_ERROR_MAX]);

/**
 * The Object Lock retention of the object at url ("s3://BUCKET/KEY"), by
 * GetObjectRetention (GET ?retention): *until receives its RetainUntilDate (either mode,
 * GOVERNANCE or COMPLIANCE), or 0 when the object has none (the server answers
 * NoSuchObjectLockConfiguration, or the bucket has no Object Lock configuration). Returns
 * SMAR_OK; SMAR_E_UNSUPPORTED when the server does not implement the request (501, 405,
 * NotImplemented, or an answer that is not a Retention document: s3rver 3.7.1 serves the
 * object itself); else a status as for smar_s3_source_open. err says why.
 */
SMAR_API int smar_s3_get_retention(const char *url, const smar_s3_options *opts,
                                   smar_time_ns *until, char err[SMAR_IO_ERROR_MAX]);

/**
 * Delete the object at url (DeleteObject: DELETE without a version id; in a versioned
 * bucket that adds a delete marker, and a version under retention stays). Returns SMAR_OK
 * (S3 also answers so for a key that is not there), SMAR_E_DENIED (403: no permission, or
 * the object is under Object Lock retention), or a status as for smar_s3_source_open. err
 * says why.
 */
SMAR_API int smar_s3_delete(const char *url, const smar_s3_options *opts,
                            char err[SMAR_IO_ERROR_MAX]);

typedef struct smar_s3_sink smar_s3_sink;

/**
 * Start a multipart upload to url. Returns SMAR_OK, SMAR_E_EXISTS (an object is there and
 * SMAR_S3_REPLACE was not given), or a status as for smar_s3_source_open; with *out set in
 * every case but SMAR_E_NOMEM and SMAR_E_INVALID for a NULL out, so smar_s3_sink_error can
 * say why (free it after).
 */
SMAR_API int smar_s3_sink_open(smar_s3_sink **out, const char *url, const smar_s3_options *opts);

/** The last error's message ("" when none). */
SMAR_API const char *smar_s3_sink_error(const smar_s3_sink *s);

/** Callbacks that use s (borrowed: s must outlive every use of out). */
SMAR_API void smar_s3_sink_as_sink(smar_s3_sink *s, smar_sink *out);

/** Abort the upload unless it completed, and free everything. Accepts NULL. */
SMAR_API void smar_s3_sink_free(smar_s3_sink *s);

#ifdef __cplusplus
}
#endif
#endif
