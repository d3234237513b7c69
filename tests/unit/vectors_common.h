/*
 * vectors_common.h - what test_vectors.c (format 1) and test_vectors_v2.c (format 2, with
 * its reader in vectors_sr2.c) share: the generic pieces both independent readers stand on,
 * and the harness that drives libsmar's public API over spec/vectors/v1 or v2.
 *
 * Where the line is drawn: the independent readers exist to catch a libsmar that misreads
 * spec/FORMAT.md, so each must read the spec and write its format logic on its own - labels,
 * field layouts, the key schedule, nonces, locators, records, rendering, the index. Nothing of
 * that is here. Only what has no format in it is shared: a byte buffer, little-endian fields
 * and a bounds-checked cursor over them, a keyring file's key (JSON, spec/KEYRING.md), hex,
 * the vector files and the cmocka glue around libsmar's public API (describing, rendering,
 * lookups, the stage table of the negative vectors, the generators' inputs). The reader part
 * (up to "the harness") calls libc, libsodium and cJSON only, never libsmar.
 */
#ifndef SMAR_VECTORS_COMMON_H
#define SMAR_VECTORS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libsmar's public types, declared rather than included: the readers include this header
 * and never see libsmar (C11 allows the typedefs again where smar.h is included). */
typedef struct smar_reader smar_reader;
typedef struct smar_secret smar_secret;
typedef struct smar_keyring smar_keyring;
typedef struct smar_signkey smar_signkey;
typedef struct mem_archive mem_archive;

/* ---- a growable byte buffer, always NUL-terminated ------------------------------------ */

typedef struct sb {
    uint8_t *p;
    size_t n, cap;
} sb;

void sb_add(sb *b, const void *p, size_t n);
void sb_str(sb *b, const char *s);
void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_hex(sb *b, const uint8_t *p, size_t n);
void sb_free(sb *b);
/* Equal byte strings (either may be NULL when empty). */
bool same_bytes(const void *a, size_t an, const void *b, size_t bn);
bool all_zero(const uint8_t *p, size_t n);

/* ---- little-endian fields, and a cursor that reads them within bounds ------------------ */

uint16_t le16(const uint8_t *p);
uint32_t le32(const uint8_t *p);
uint64_t le64(const uint8_t *p);
void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
void put64(uint8_t *p, uint64_t v);

/* Reading past the end clears ok and yields NULL or 0 from then on. */
typedef struct cur {
    const uint8_t *p;
    size_t left;
    bool ok;
} cur;

const uint8_t *take(cur *c, size_t n);
uint8_t t8(cur *c);
uint16_t t16(cur *c);
uint32_t t32(cur *c);
uint64_t t64(cur *c);

/* The version's 32-byte key from a keyring file's text (spec/KEYRING.md), or false. */
bool keyring_file_key(const char *text, const char *kid, size_t kid_len, uint32_t version,
                      uint8_t key[32]);

/* ==== the harness: vector files and libsmar's public API ================================ */

extern bool g_write; /* SMAR_WRITE_VECTORS=1 */

/* Whether SMAR_WRITE_VECTORS=1 asks to (re)generate the vectors. */
bool vectors_write_mode(void);
/* dir: "spec/vectors/v1" or "v2"; key_files: the key files keyring() may load, NULL-ended. */
int vectors_setup(const char *dir, const char *const *key_files);
void vectors_teardown(void);

char *vpath(const char *name);
uint8_t *vread(const char *name, size_t *n);
void vwrite(const char *name, const void *p, size_t n);
/* Compare generated text with a committed file (or write it in generation mode). */
void vexpect(const char *name, const sb *got);
/* A key file's text, for the independent readers. */
char *key_text(const char *file);
/* A keyring, an x25519 identity (*.key) or a recipient (*.key.pub), loaded once. */
smar_keyring *keyring(const char *file);
void load_pk(const char *file, uint8_t pk[32]);
void save_keyring(smar_keyring *kr, const char *file);
void base_name(char *out, size_t cap, const char *file, const char *suffix);

/* The renderings of every secret, one a line, with their ids and names. */
typedef struct rendered {
    sb text;
    char **ids, **names;
    size_t n;
} rendered;

int render_cb(smar_reader *r, const smar_secret *s, void *p);
void rendered_free(rendered *rd);
/* Hashes instead of text, for archives whose secrets are too large to commit as text. */
void sha256_lines(const sb *text, const rendered *rd, sb *o);

/* The parts of an <archive>.info.txt: the clear information (the key slots by the format's
 * own describer), keyless verification, and after unlocking the snapshot, document,
 * renderings (into rd, lookups checked) and keyed verification. */
typedef void slot_describer(smar_reader *r, size_t n, sb *o);
smar_reader *open_vector(const char *file);
void describe_clear(smar_reader *r, const char *file, slot_describer *slots, sb *o);
void describe_keyless(smar_reader *r, const char *file, const uint8_t *pk, sb *o);
void unlock_with(smar_reader *r, const char *file, const char *key_file);
void describe_unlocked(smar_reader *r, const char *file, const uint8_t *pk, sb *o, rendered *rd);

/* ---- the positive vectors ---- */

typedef struct vector {
    const char *file;
    const char *keys[3]; /* each opens it; the first is used for the description */
    const char *pubkey;  /* signer's public key file, when signed */
    bool hashed;         /* secrets as .secrets.sha256 instead of .secrets.jsonl */
    bool aes;
} vector;

typedef void lib_describer(const char *file, const char *key_file, const uint8_t *pk, sb *o,
                           rendered *rd);
/* The independent reader's renderings (rd: the library's) and internals of a vector. */
typedef void independent_checker(const vector *v, const uint8_t *pk, const rendered *rd);
/* One positive vector: the library's description and renderings against the committed
 * files, every other key listed opening it to the same secrets, then the independent reader.
 * Without AES-NI a suite 2 vector is checked only as far as no decryption goes. */
void check_vector(const vector *v, lib_describer *describe, independent_checker *independent);

/* ---- the negative vectors ---- */

#define NA 99 /* stage not run: an earlier one fails */

typedef struct negative {
    const char *file, *key, *pubkey;
    int open, keyless, unlock, read, keyed;
} negative;

int open_file(smar_reader **r, const char *file);
/* The independent reader's result (0 or -1) at a stage: 0 open, 1 keyless, 2 unlock,
 * 3 read. */
typedef int spec_stager(const negative *v, int stage, const uint8_t *pk);
/* Every negative vector fails with its status at its stage in libsmar, and the independent
 * reader accepts or rejects it at the same stages. */
void check_negatives(const negative *negs, size_t n, spec_stager *spec_stage);

/* ---- what the generators write ---- */

#define SNAPSHOT 1795140000000000000LL /* 2026-11-20T02:00:00Z */
#define CREATED  1795140005000000000LL /* five seconds later */

extern const char *const BASIC[5];
extern const char *const TWO_SLOTS[2];
extern const char *const SIGNED[2];
extern const char *const AES[2];
extern const char DOCUMENT[];

void pattern(sb *b, const char *unit, size_t n);
void make_archive(mem_archive *out, smar_keyring **keys, size_t nkeys, const smar_signkey *signer,
                  int suite, uint32_t chunk_size, const char *const *secrets, size_t n,
                  const char *doc);

#endif
