/*
 * md5.h - MD5 (RFC 1321), only for S3's Content-MD5 part checksum: an integrity check the
 * server verifies, not a security function (the SigV4-signed SHA-256 payload hash is that).
 */
#ifndef SMAR_MD5_H
#define SMAR_MD5_H

#include <stddef.h>
#include <stdint.h>

#define SMAR_MD5_BYTES 16

void smar_md5(const void *data, size_t len, uint8_t out[SMAR_MD5_BYTES]);

#endif
