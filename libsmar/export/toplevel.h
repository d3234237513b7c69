/*
 * toplevel.h - a quick scan of a secret object's top-level members, without parsing it.
 *
 * An incremental writer (format 2.2) digests each secret's export text before any parse
 * and skips the parse when its parent holds the same digest. The scan finds what the
 * digest needs: the top-level `retrieved_at` value (left out of the digest) and the `id`.
 * It honours strings and escapes and tracks nesting, but validates nothing else: a hit
 * means the text equals one that was parsed and accepted before, but for that value.
 */
#ifndef SMAR_TOPLEVEL_H
#define SMAR_TOPLEVEL_H

#include "digests.h"

/* true when the scan is sure of what it found: one object, keys without escapes and
 * unique, a non-empty `id` string without escapes, a `retrieved_at` (if any) a string of
 * printable ASCII without escapes, its token (quotes included) at most
 * SMAR_TOPLEVEL_MAX_VALUE bytes, at most SMAR_TOPLEVEL_MAX_MEMBERS members. Else false: the secret
 * takes the slow path (parsed and compared). */
#define SMAR_TOPLEVEL_MAX_MEMBERS 128
#define SMAR_TOPLEVEL_MAX_VALUE   64 /* longest retrieved_at value kept for a patch */
bool smar_toplevel_scan(const char *json, size_t len, smar_toplevel *out);

#endif
