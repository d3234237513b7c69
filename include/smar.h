/*
 * smar.h - encrypted point-in-time archives of secrets-manager instances.
 *
 * The API manual is in the module headers, read in this order:
 *   smar/common.h   status codes, init, times, conventions every call follows
 *   smar/keys.h     root keyrings (Key Protect style) and producer signing keys
 *   smar/provider.h key providers: HSM and KMS keys behind a keyring
 *   smar/export.h   reading and writing instance exports (JSON, JSONL, directory, tar, zip)
 *   smar/io.h       sources and sinks: where archives are read from and written to
 *   smar/s3.h       archives in S3-compatible object storage (a source and a sink)
 *   smar/writer.h   writing an archive in one forward pass
 *   smar/reader.h   opening, searching, reading and verifying archives
 *   smar/rewrap.h   new key slots for an archive, its chunks copied unchanged
 *   smar/series.h   "what was this secret at time T" across several archives
 *   smar/json.h     taking apart the JSON text smar hands out, without changing it
 *   smar/diff.h     what changed between two snapshots (names, never values)
 * The archive format itself is specified in spec/FORMAT.md.
 */
#ifndef SMAR_H
#define SMAR_H

#include "smar/common.h"
#include "smar/keys.h"
#include "smar/provider.h"
#include "smar/export.h"
#include "smar/io.h"
#include "smar/s3.h"
#include "smar/writer.h"
#include "smar/reader.h"
#include "smar/rewrap.h"
#include "smar/series.h"
#include "smar/prune.h"
#include "smar/audit.h"
#include "smar/json.h"
#include "smar/diff.h"

#endif
