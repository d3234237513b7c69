/*
 * smar/rewrap.h - key rotation without re-encryption: new key slots for an archive whose
 * chunks are copied unchanged (spec/FORMAT.md, "Rewrapping key slots").
 *
 * A format 2 archive keeps its key slots (the data key, DEK, wrapped by each root key) in
 * a slot area between the chunk table and the trailer, outside what the producer signs.
 * Whoever can open the archive can therefore write a copy of it with other slots: slots
 * rewrapped to the current version of their root key (after a rotation, so the old version
 * can be destroyed), slots added for new keys, slots removed. Nothing is decrypted or
 * re-encrypted, the producer's signing key is not needed and its signature stays valid:
 * the copy is the same archive (same archive id, content, chunk bytes at the same offsets)
 * that other keys open.
 *
 *   smar_reader *r; smar_reader_new(&r);
 *   smar_reader_open(r, "nightly.smar");
 *   // pin the producer first if it matters: smar_reader_check_signer(r, ...)
 *   smar_rewrap_options o = SMAR_REWRAP_OPTIONS_INIT;
 *   o.rewrap_keys = &root; o.rewrap_count = 1;          // root was rotated
 *   smar_file_sink *fs; smar_file_sink_new(&fs);
 *   smar_file_sink_open(fs, "nightly.rewrapped.smar", NULL);
 *   smar_sink sink; smar_file_sink_as_sink(fs, &sink);
 *   smar_rewrap_result res = SMAR_REWRAP_RESULT_INIT;
 *   if (smar_rewrap(r, &root, 1, &o, &sink, &res) != SMAR_OK)
 *       fprintf(stderr, "%s\n", smar_reader_error(r));   // nothing was published
 *   smar_file_sink_free(fs);
 *
 * What smar_rewrap does, in order:
 *  1. The archive must be format 2 (format 1 slots are covered by the signature: frozen).
 *  2. It unlocks the reader with keys (as smar_reader_unlock: the archive must be
 *     authentic) and keeps the DEK in locked memory for this call only.
 *  3. It reads the header, chunk table, slot area and trailer again and authenticates
 *     them with the DEK (dek_commit, root MAC): what it copies is what was authenticated.
 *  4. It makes the new slot list. Every slot not named below is kept byte for byte, in its
 *     place, slots of providers this library does not know included. A slot whose key id
 *     is that of a rewrap keyring is wrapped again with the keyring's current version
 *     (kept as it is when it already has that version); a provider with a rewrap callback
 *     (smar/provider.h) is given the old blob and never sees the DEK. Add keyrings get new
 *     slots, remove ids lose every slot of theirs. The result must have 1..32 slots.
 *  5. It wipes the DEK.
 *  6. It copies the header, every chunk and the chunk table to out in pieces (memory does
 *     not grow with the archive), checking each chunk's bytes against its table hash and
 *     the header and table against what was authenticated; then writes the new slot area
 *     and trailer (new slot area length, root MAC and root hash; same signer and
 *     signature: an unsigned archive stays unsigned) and commits out.
 * On any failure out is aborted: nothing is published.
 */
#ifndef SMAR_REWRAP_H
#define SMAR_REWRAP_H

#include "smar/common.h"
#include "smar/io.h"
#include "smar/keys.h"
#include "smar/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What to change. Arrays are borrowed for the call; a NULL array needs a count of 0. */
typedef struct smar_rewrap_options {
    int version; /**< SMAR_REWRAP_OPTIONS_VERSION */
    /** Slots of these keys' ids are wrapped again with each keyring's current version.
     *  Each must have a slot in the archive (else SMAR_E_NOTFOUND). */
    smar_keyring *const *rewrap_keys;
    size_t rewrap_count;
    /** New slots for these keys (recipients included). A key id that already has a slot
     *  is refused (SMAR_E_INVALID: rewrap it instead). */
    smar_keyring *const *add_keys;
    size_t add_count;
    /** Every slot of these key ids is removed. Each must have one (SMAR_E_NOTFOUND); an id
     *  may not also be rewrapped or added (SMAR_E_INVALID). */
    const char *const *remove_ids;
    size_t remove_count;
} smar_rewrap_options;

#define SMAR_REWRAP_OPTIONS_VERSION 1
#define SMAR_REWRAP_OPTIONS_INIT                                                                   \
    {                                                                                              \
        SMAR_REWRAP_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, 0                                     \
    }

/** What was done, filled by smar_rewrap on success (versioned: see smar/common.h). */
typedef struct smar_rewrap_result {
    int version;           /**< SMAR_REWRAP_RESULT_VERSION */
    unsigned slots_before; /**< slots of the source */
    unsigned slots_after;  /**< slots of the output */
    unsigned rewrapped;    /**< slots wrapped again (a newer key version) */
    unsigned added;        /**< new slots */
    unsigned removed;      /**< slots dropped */
    unsigned kept;         /**< slots copied byte for byte */
    /** Bytes copied unchanged: header, chunks and chunk table. */
    uint64_t bytes_copied;
} smar_rewrap_result;

#define SMAR_REWRAP_RESULT_VERSION 1
#define SMAR_REWRAP_RESULT_INIT                                                                    \
    {                                                                                              \
        .version = SMAR_REWRAP_RESULT_VERSION                                                      \
    }

/**
 * Write a copy of the archive open in r with its key slots changed as opts says (NULL: only
 * check that the archive can be rewrapped and copy it with its slots as they are) to out.
 * r must be opened and not yet unlocked; keys (nkeys of them) open it. A producer pin
 * (smar_reader_check_signer) is the caller's, before this call. result may be NULL.
 *
 * Returns SMAR_OK once out committed, or: SMAR_E_UNSUPPORTED (a format 1 archive); the
 * statuses of smar_reader_unlock (SMAR_E_KEY, SMAR_E_AUTH, ...); SMAR_E_NOTFOUND (a rewrap
 * key or remove id without a slot); SMAR_E_INVALID (bad options, a key both added and
 * present, no slot left); SMAR_E_LIMIT (more than 32 slots, or a slot area over 64 KiB);
 * a provider's status from wrap or rewrap; SMAR_E_CORRUPT (a chunk does not match its
 * hash, or the source changed while it was copied); SMAR_E_IO / SMAR_E_CANCELLED from the
 * source or the sink. smar_reader_error(r) says why. On failure out is aborted. After
 * the call r is unlocked (whatever the outcome of the copy) and can be read as usual.
 */
SMAR_API int smar_rewrap(smar_reader *r, smar_keyring *const *keys, size_t nkeys,
                         const smar_rewrap_options *opts, const smar_sink *out,
                         smar_rewrap_result *result);

#ifdef __cplusplus
}
#endif
#endif
