/*
 * format.h - the constants of archive formats 1 and 2, exactly as spec/FORMAT.md gives
 * them (format 2: the design in the spec's format 2 sections). Any change here changes
 * bytes on disk: change the spec and its test vectors with it.
 */
#ifndef SMAR_FORMAT_H
#define SMAR_FORMAT_H

#include <stdint.h>

#include "crypto.h" /* SMAR_HASH_BYTES, SMAR_TAG_BYTES, SMAR_KEY_BYTES, suite ids */

/* Header: 0x89 'S' 'M' 'A' 'R' '\r' '\n' 0x1a, like PNG's, to catch text-mode damage. */
#define SMAR_MAGIC       "\x89SMAR\r\n\x1a"
#define SMAR_MAGIC_BYTES 8
/* Trailer: its last 8 bytes. */
#define SMAR_TAIL_MAGIC "SMAR-END"

#define SMAR_HEADER_FIXED_BYTES 64 /* fixed part before the key slots */
#define SMAR_HEADER_MAC_BYTES   32
#define SMAR_HEADER_MAX_BYTES   16384
#define SMAR_TRAILER_BYTES      216
#define SMAR_TABLE_ENTRY_BYTES  48
#define SMAR_ARCHIVE_ID_BYTES   16
#define SMAR_SIGNATURE_BYTES    64

/* Limits a reader enforces before allocating or doing expensive work. */
#define SMAR_MAX_CHUNKS        (1u << 24)
#define SMAR_MAX_META_BYTES    (128u << 20)
#define SMAR_MAX_RECORD_BYTES  (160u << 20) /* one manifest record */
#define SMAR_MAX_PAYLOAD_BYTES (64u << 20)  /* one payload record */
#define SMAR_MAX_VERSIONS      10000        /* versions of one secret */
#define SMAR_MAX_LABELS        1000
#define SMAR_MAX_STRING        65535 /* ids, names, types, labels: u16 length */
#define SMAR_MAX_ID_BYTES      256
#define SMAR_INDEX_CHUNK_BYTES (64u << 10) /* raw size of one index chunk */
#define SMAR_MAX_SECRETS       (1ull << 32)

/* Chunk flags (table entry, nonce and AAD). */
#define SMAR_CHUNK_LAST 1u
/* Trailer flags. */
#define SMAR_TRAILER_SIGNED 1u

/* Domain-separation labels, 16 bytes each (NUL padded). */
#define SMAR_LABEL_SLOT    "smar/v1 key-slot"
#define SMAR_LABEL_CHUNK   "smar/v1 chunk\0\0\0"
#define SMAR_LABEL_ROOT    "smar/v1 root\0\0\0\0"
#define SMAR_LABEL_ROOTMAC "smar/v1 root-mac"
#define SMAR_LABEL_SIGN    "smar/v1 signatur"
#define SMAR_LABEL_BYTES   16

/* Sections of an archive (the chunk table's section field; the public enum smar_section
 * has the same values). */
enum smar_section_id {
    SMAR_SEC_PAYLOAD = 1,
    SMAR_SEC_MANIFEST = 2,
    SMAR_SEC_INDEX = 3,
    SMAR_SEC_META = 4,
    SMAR_SEC_DIGESTS = 5, /* format 2.2: export digests of an incremental archive (§26.6) */
};
#define SMAR_SEC_COUNT 6 /* ids are 1..5: arrays indexed by section have 6 entries */

/* Key slots: at most this many (the public SMAR_MAX_KEY_SLOTS), a data key of this size,
 * provider ids as stored, and the largest wrapped-DEK blob any provider may produce
 * (bounded before allocation). */
#define SMAR_SLOTS_MAX 16
/* Chunk sizes a header may declare (the public SMAR_CHUNK_SIZE_MIN/MAX). */
#define SMAR_CHUNK_MIN       (64u << 10)
#define SMAR_CHUNK_MAX       (16u << 20)
#define SMAR_DEK_BYTES       32
#define SMAR_PROVIDER_LOCAL  1
#define SMAR_WRAPPED_MAX     512
#define SMAR_SLOT_KEY_ID_MAX 64 /* the public SMAR_KEY_ID_MAX */

/* crypto_kdf context and subkey ids derived from the DEK. */
#define SMAR_KDF_CONTEXT "smar-v1\0"
enum smar_subkey {
    SMAR_SUBKEY_HEADER_MAC = 1,
    SMAR_SUBKEY_CHUNK = 2,
    SMAR_SUBKEY_ROOT_MAC = 3,
    SMAR_SUBKEY_INDEX = 4,
    SMAR_SUBKEY_PAYLOAD_HASH = 5,
    SMAR_SUBKEY_EXPORT_DIGEST = 6, /* format 2.2: export digests (§26.6) */
};

#define SMAR_COMPRESSION_ZSTD 1
#define SMAR_META_FORMAT      1
#define SMAR_RECORD_SECRET    1

/* Index entries: key (16) || manifest chunk seq (u32) || offset (u32) || length (u32). */
#define SMAR_INDEX_KEY_BYTES   16
#define SMAR_INDEX_ENTRY_BYTES 28
/* Payload locator in a manifest record: seq (u32) || offset (u32) || length (u32) || hash. */
#define SMAR_LOCATOR_BYTES 44

/* ---- format 2 ------------------------------------------------------------------------ */

/* Major versions: readers read both, writers write format 2 only. */
#define SMAR_FORMAT_V1 1
#define SMAR_FORMAT_V2 2

#define SMAR_HEADER2_BYTES    96   /* the fixed header of 2.0 (header_len written) */
#define SMAR_HEADER2_MAX      4096 /* header_len a 2.x reader accepts (bytes 96.. ignored) */
#define SMAR_SLOT_AREA_MIN    4
#define SMAR_SLOT_AREA_MAX    65536
#define SMAR_SLOTS2_MAX       32
#define SMAR_KEY_ID2_MAX      255 /* key ids and version strings: u8 length */
#define SMAR_VERSION_STR_MAX  255
#define SMAR_DEK_COMMIT_BYTES 32

/* Slot version kinds. */
enum smar_version_kind {
    SMAR_VKIND_NONE = 0,   /* inside the wrapped blob */
    SMAR_VKIND_NUMBER = 1, /* u32 >= 1 */
    SMAR_VKIND_STRING = 2, /* u8 length + UTF-8 */
};
#define SMAR_PROVIDER_X25519 2

#define SMAR_LABEL2_SLOT    "smar/v2 key-slot"
#define SMAR_LABEL2_CHUNK   "smar/v2 chunk\0\0\0"
#define SMAR_LABEL2_COMMIT  "smar/v2 dek-comm"
#define SMAR_LABEL2_CONTENT "smar/v2 content\0"
#define SMAR_LABEL2_ROOTMAC "smar/v2 root-mac"
#define SMAR_LABEL2_ROOT    "smar/v2 root\0\0\0\0"
#define SMAR_LABEL2_SIGN    "smar/v2 signatur"
#define SMAR_LABEL2_X25519  "smar/v2 x25519\0\0"

#define SMAR_KDF_CONTEXT2 "smar-v2\0"

/* The sealed plaintext of a v2 chunk: u32 body_len || body || zero padding. */
#define SMAR_BODY_LEN_BYTES 4

/* Payload coding in a v2 locator. */
enum smar_payload_coding {
    SMAR_CODING_RAW = 0,
    SMAR_CODING_ZSTD = 1,
};

/* AES-256-GCM: at most 2^36 bytes of sealed plaintext (chunk_count x chunk_size) a key. */
#define SMAR_GCM_PLAINTEXT_CAP (1ull << 36)

#endif
