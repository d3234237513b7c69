/* smar-gen-export: shared declarations of the sample instance export generator.
 *
 * The generator is a standalone C11 program (libc only). It writes strict JSON text itself
 * through a large output buffer; every value is derived from a seeded PRNG so that the same
 * arguments always give byte-identical output. */
#ifndef SMAR_GEN_H
#define SMAR_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- PRNG: splitmix64 for hashing/seeding, xoshiro256** for streams ---- */

typedef struct {
    uint64_t s[4];
} rng_t;

uint64_t gen_mix64(uint64_t x);
/* A keyed hash of four words; for fixed a, b, c it is a bijection of d (and of c for fixed
 * a, b, d), which keeps ids derived from (seed, tag, slot, version) unique. */
uint64_t gen_hash4(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_next(rng_t *r);
/* Uniform-ish in [0, n) for n > 0 (n == 0 returns 0). */
uint64_t rng_below(rng_t *r, uint64_t n);
/* Uniform-ish in [lo, hi] (inclusive). */
int64_t rng_range(rng_t *r, int64_t lo, int64_t hi);
/* True with probability num/den. */
int rng_chance(rng_t *r, unsigned num, unsigned den);

/* ---- Buffered output ---- */

#define OUT_BUF_SIZE ((size_t)4 << 20)

typedef struct {
    FILE *fp;
    const char *path; /* for messages; "-" is standard output */
    char *buf;
    size_t len;
    int err;       /* errno of the first write error, or -1 for an unknown one */
    int owns_file; /* fclose on out_close */
} out_t;

/* Allocates the buffer. Returns 0 or -1 (message printed). */
int out_init(out_t *o);
void out_free(out_t *o);
/* Opens PATH for writing ("-" or NULL: standard output). Returns 0 or -1 (message printed). */
int out_open(out_t *o, const char *path);
/* Flushes and closes the file (the buffer stays for the next out_open). Returns 0, or -1 after
 * printing a message if any write failed. */
int out_close(out_t *o);
void out_flush(out_t *o);
void out_raw(out_t *o, const char *s, size_t n);
/* Returns a pointer to N bytes (N <= OUT_BUF_SIZE) appended to the output; the caller must
 * fill all of them. */
char *out_take(out_t *o, size_t n);
void out_char(out_t *o, char c);
void out_cstr(out_t *o, const char *s);
/* A JSON string value: quotes and escapes S (UTF-8 is passed through). */
void out_jstr(out_t *o, const char *s);
void out_u64(out_t *o, uint64_t v);
void out_i64(out_t *o, int64_t v);
void out_bool(out_t *o, int v);
/* A quoted RFC 3339 UTC timestamp; fractional digits: 0, 3, 6 or 9 (the fewest exact ones). */
void out_ts(out_t *o, int64_t ns);
/* N random characters of the base64 alphabet (or base64url if URL is set). */
void out_rand_b64(out_t *o, rng_t *r, size_t n, int url);
/* N random lowercase hex digits. */
void out_rand_hex(out_t *o, rng_t *r, size_t n);
/* N random characters from the password alphabet (no character needs JSON escaping). */
void out_rand_password(out_t *o, rng_t *r, size_t n);
/* A PEM block as the inside of a JSON string (no quotes): "-----BEGIN LABEL-----\n" + base64
 * body of BODY characters (rounded up to a multiple of 4) in lines of 64 (starting with "MII" when
 * BODY > 3) + "\n-----END LABEL-----", newlines written as the JSON escape \n. */
void out_pem_body(out_t *o, rng_t *r, const char *label, size_t body);

#define OUT_LIT(o, lit) out_raw((o), (lit), sizeof(lit) - 1)

/* ---- Time: nanoseconds since 1970-01-01T00:00:00Z ---- */

#define NS_PER_SEC  INT64_C(1000000000)
#define NS_PER_HOUR (INT64_C(3600) * NS_PER_SEC)
#define NS_PER_DAY  (INT64_C(86400) * NS_PER_SEC)

/* Parses an RFC 3339 timestamp (Z or a numeric offset, 0-9 fractional digits).
 * Returns 0 or -1. */
int ts_parse(const char *s, int64_t *ns);
/* Writes the timestamp (no quotes) into BUF (at least 40 bytes); returns its length. */
size_t ts_format(char *buf, int64_t ns);
/* Truncates NS to a random precision: whole seconds, milliseconds or microseconds. */
int64_t ts_rand_precision(rng_t *r, int64_t ns);

/* ---- Ids ---- */

/* Formats a lowercase RFC 4122 version-4 UUID (36 chars + NUL) from two words; H1 goes into
 * bits that the version/variant fields do not touch, so distinct H1 give distinct UUIDs. */
void uuid_format(char out[37], uint64_t h1, uint64_t h2);

/* ---- Generator ---- */

enum gen_layout { LAYOUT_JSON, LAYOUT_JSONL, LAYOUT_DIR };

#define GEN_MAX_GROUPS    200
#define GEN_MAX_SNAPSHOTS 100
#define GEN_MAX_VERSIONS  128 /* 4 before the series + a rotation at each of 99 snapshots */
#define GEN_N_PRINCIPALS  5

typedef struct {
    uint64_t seed;
    uint64_t nsecrets; /* N: secrets per snapshot */
    unsigned ngroups;
    uint64_t payload_bytes;
    unsigned snapshot; /* K, 1-based */
    unsigned of;       /* M */
    int64_t t_end;     /* exported_at of snapshot M */
    const char *region;
    int all_states; /* --all-states: add the secrets of gen_states.c */
    /* Churn of a series (see usage()). */
    int rotate_permille;    /* --rotate-permille 0..1000, or -1: the rule (s + k) % 3 == 0 */
    uint64_t churn;         /* --churn: slots deleted and slots created per snapshot */
    unsigned move_permille; /* --move-permille: slots moved to another group per snapshot */

    /* derived */
    char account[33];
    char guid[37];
    char crn_prefix[160]; /* crn:v1:bluemix:public:secrets-manager:<region>:a/<acct>:<guid>: */
    char principals[GEN_N_PRINCIPALS][64];
    char cos_guid[37];
} gen_ctx;

/* Secret types; the first nine are the API's, the last is an unknown future type. */
enum gen_type {
    T_ARBITRARY,
    T_USERNAME_PASSWORD,
    T_KV,
    T_IAM_CREDENTIALS,
    T_SERVICE_CREDENTIALS,
    T_CUSTOM_CREDENTIALS,
    T_IMPORTED_CERT,
    T_PUBLIC_CERT,
    T_PRIVATE_CERT,
    T_QUANTUM_KEY,
    T_COUNT
};

extern const char *const gen_type_names[T_COUNT];

typedef struct {
    uint64_t slot;
    int type;
    int role; /* the slot's special role (slot index) when slot < 12, else -1 */
    char id[37];
    char group[37];
    char name[96];
    int64_t created;
    int64_t meta_updated;
    int nver;
    int nver_first; /* versions when the slot first appeared in the series */
    int64_t vtime[GEN_MAX_VERSIONS];
    unsigned vsnap[GEN_MAX_VERSIONS]; /* snapshot that created the version; 0: before the series */
    unsigned first_snapshot;
    /* attributes drawn once per secret */
    int auto_rotate;
    int rot_interval;
    int rot_month;
    int has_exp;
    int64_t exp_fixed;
    int principal;
    int locks;
    unsigned attr_bits; /* assorted per-secret boolean choices */
    int key_ec;         /* certificates: ECDSA key instead of RSA */
    int pw_len;
} gen_secret;

/* Snapshot time T_k = t_end - (M - k) days. */
int64_t gen_snapshot_time(const gen_ctx *c, unsigned k);
void gen_ctx_init(gen_ctx *c);
/* Does slot S exist at snapshot K? */
int gen_slot_exists(const gen_ctx *c, uint64_t s, unsigned k);
/* Does slot S get a new version at snapshot K (K >= 2)? */
int gen_slot_rotates(const gen_ctx *c, uint64_t s, unsigned k);
/* Number of slots ever used by the series up to snapshot K: N + C * (K - 1) (C: --churn). */
uint64_t gen_slot_limit(const gen_ctx *c, unsigned k);
/* Number of base slots (0 .. N-1) still present at snapshot K: max(0, N - C * (K - 1)). */
uint64_t gen_base_alive(const gen_ctx *c, unsigned k);
/* Is slot S moved to another group at snapshot K (K >= 2; present at K-1 and K)? */
int gen_slot_moves(const gen_ctx *c, uint64_t s, unsigned k);
/* Group index of slot S at snapshot K (after its moves), or -1 for the default group. */
int gen_slot_group_at(const gen_ctx *c, uint64_t s, unsigned k);
/* Builds the description of slot S as of snapshot K (S must exist at K). */
void gen_secret_build(const gen_ctx *c, uint64_t s, unsigned k, gen_secret *sec);
void gen_version_id(const gen_ctx *c, uint64_t s, int v, char out[37]);
void gen_secret_id(const gen_ctx *c, uint64_t s, char out[37]);
/* Writes the secret object (with its versions) as one line of compact JSON, no newline. */
void gen_secret_write(out_t *o, const gen_ctx *c, const gen_secret *sec, unsigned k);
/* Group index of slot S when it first appears, or -1 for the default group. */
int gen_slot_group(const gen_ctx *c, uint64_t s);
void gen_group_id(const gen_ctx *c, unsigned g, char out[37]);
void gen_group_name(unsigned g, char *out, size_t cap);
void gen_write_group(out_t *o, const gen_ctx *c, unsigned g);
void gen_write_instance(out_t *o, const gen_ctx *c);
void gen_write_configurations_array(out_t *o, const gen_ctx *c);
unsigned gen_configurations_count(void);

/* ---- --all-states (gen_states.c): one secret of every state and shape ---- */

/* Number of such secrets (0 without --all-states); they are written after the slots. */
unsigned gen_states_count(const gen_ctx *c);
void gen_states_secret_id(const gen_ctx *c, unsigned row, char out[37]);
/* Writes secret ROW (< gen_states_count) as of snapshot K as one line, no newline. */
void gen_states_write(out_t *o, const gen_ctx *c, unsigned row, unsigned k);
/* Its manifest lines ("secret state:<row> ..." and its "version" lines). */
void gen_states_manifest(out_t *o, const gen_ctx *c, unsigned row);
/* Configurations holding credentials, each with a leading comma (none without --all-states). */
void gen_states_write_configurations(out_t *o, const gen_ctx *c);
unsigned gen_states_configurations_count(const gen_ctx *c);

#endif
