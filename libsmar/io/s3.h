/*
 * s3.h - the pieces of the S3 client that tests check on their own: object URLs and the
 * canonical request URLs libcurl signs as written (io layer; smar/s3.h is the public API).
 */
#ifndef SMAR_S3_INTERNAL_H
#define SMAR_S3_INTERNAL_H

#include "internal.h"
#include "smar/s3.h"

/* One query parameter; value NULL is a bare name ("?uploads"), written "uploads=". */
typedef struct smar_s3_param {
    const char *name;
    const char *value;
} smar_s3_param;

#define SMAR_S3_BUCKET_MAX 63
#define SMAR_S3_KEY_MAX    1024

/* Split "s3://BUCKET/KEY" into bucket and key (bounded, checked; the key is not decoded). */
int smar_s3_parse_url(const char *url, char bucket[SMAR_S3_BUCKET_MAX + 1],
                      char key[SMAR_S3_KEY_MAX + 1], smar_err *e);

/* Whether buckets under endpoint ("https://HOST[:PORT]") must be addressed path style:
 * HOST is an IP address or localhost. */
bool smar_s3_endpoint_wants_path_style(const char *endpoint);

/*
 * The request URL in the canonical form SigV4 signs: the key percent-encoded as RFC 3986
 * says (unreserved characters and '/' kept, every other byte %XX in upper case), the
 * parameters sorted by name then value, each written name=value with both encoded ('/'
 * too). Path style: ENDPOINT/BUCKET/KEY; else https://BUCKET.HOST[:PORT]/KEY. key may be
 * NULL (a bucket request). out is reset first. SMAR_OK or SMAR_E_NOMEM / SMAR_E_INVALID.
 */
int smar_s3_request_url(smar_buf *out, const char *endpoint, bool path_style, const char *bucket,
                        const char *key, const smar_s3_param *params, size_t n_params);

/* The headers of an UploadPartCopy (PUT ?partNumber=N&uploadId=U) of bytes first..last
 * of the object s3://bucket/key: "x-amz-copy-source: /BUCKET/KEY" (the key percent-encoded
 * as in request URLs), "x-amz-copy-source-range: bytes=FIRST-LAST", and, when etag is
 * neither NULL nor "", "x-amz-copy-source-if-match: ETAG" (the copy is refused with 412 if
 * the object changed). *n is set to the number of lines in lines[] (2 or 3); they point
 * into out, which is reset first. SMAR_OK, SMAR_E_NOMEM, or SMAR_E_INVALID. */
int smar_s3_copy_part_headers(smar_buf *out, const char *lines[3], size_t *n, const char *bucket,
                              const char *key, uint64_t first, uint64_t last, const char *etag);

#endif
