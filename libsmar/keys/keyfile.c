/*
 * keyfile.c - reading, field access, writing helpers and passphrase sealing shared by the
 * keyring and signing-key files (see keyfile.h, spec/KEYRING.md).
 *
 * Where key material can end up:
 *  - The file is read with read(2) (no stdio buffer keeping a copy) into a secure smar_buf,
 *    wiped when freed or grown.
 *  - The text is validated strictly (smar_json_validate) and then read in place: members
 *    are spans of it (json.h), so parsing copies nothing. Short values that are never
 *    secret (names, ids, times) are decoded into small buffers of the caller.
 *  - Base64 key material is decoded from the text straight into locked memory supplied by
 *    the caller (sodium_base642bin), and on save encoded straight into the secure buffer.
 */
#include "keyfile.h"
#include "crypto.h" /* smar_secure_alloc */
#include "smar/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define B64_VARIANT      sodium_base64_VARIANT_ORIGINAL
#define SEAL_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_KEY_BYTES   crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* Key files nest at most three levels; anything deeper is not one of ours. */
#define KEYFILE_JSON_DEPTH 8

/* Test-only Argon2id limits for sealing (0 = MODERATE); see keyfile.h. */
static unsigned long long g_test_opslimit;
static size_t g_test_memlimit;

int smar_keyfile_fail(const smar_keyfile *kf, int code, const char *fmt, ...)
{
    char msg[SMAR_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    if (kf->where != NULL)
        return smar_fail(kf->e, code, "%s file '%s': %s: %s", kf->kind, kf->path, kf->where, msg);
    return smar_fail(kf->e, code, "%s file '%s': %s", kf->kind, kf->path, msg);
}

/* ---- reading -------------------------------------------------------------------------- */

static int check_stat(const smar_keyfile *kf, int fd, bool private_file)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return smar_keyfile_fail(kf, SMAR_E_IO, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return smar_keyfile_fail(kf, SMAR_E_IO, "not a regular file");
    /* Checked on the open descriptor, so the file cannot be swapped after the check. */
    if (private_file && (st.st_mode & 077) != 0)
        return smar_keyfile_fail(kf, SMAR_E_INVALID,
                                 "group or others have access to it (mode %04o); "
                                 "run chmod 600 on it",
                                 (unsigned)(st.st_mode & 07777));
    if (st.st_size > SMAR_KEYFILE_MAX_BYTES)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "larger than %d bytes: not a key file",
                                 SMAR_KEYFILE_MAX_BYTES);
    return SMAR_OK;
}

/* Read fd to its end, never holding more than the size bound (the file may grow after
 * fstat). One spare byte keeps the buffer NUL-terminated. */
static int read_all(const smar_keyfile *kf, int fd, smar_buf *text)
{
    for (;;) {
        if (smar_buf_reserve(text, 4096 + 1) != SMAR_OK)
            return smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
        ssize_t got = read(fd, text->data + text->len, smar_buf_room(text) - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return smar_keyfile_fail(kf, SMAR_E_IO, "cannot read: %s", strerror(errno));
        if (got == 0)
            break;
        text->len += (size_t)got;
        if (text->len > SMAR_KEYFILE_MAX_BYTES)
            return smar_keyfile_fail(kf, SMAR_E_FORMAT, "larger than %d bytes: not a key file",
                                     SMAR_KEYFILE_MAX_BYTES);
    }
    text->data[text->len] = '\0';
    return SMAR_OK;
}

int smar_keyfile_read(const smar_keyfile *kf, bool private_file, smar_buf *text)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a
     * regular file. On regular files the flag changes nothing. */
    int fd = open(kf->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return smar_keyfile_fail(kf, SMAR_E_IO, "cannot open: %s", strerror(errno));
    int rc = check_stat(kf, fd, private_file);
    if (rc == SMAR_OK)
        rc = read_all(kf, fd, text);
    (void)close(fd);
    return rc;
}

int smar_keyfile_parse(const smar_keyfile *kf, const smar_buf *text, smar_span *root)
{
    *root = (smar_span){NULL, 0};
    char why[128];
    smar_span span = {(const char *)text->data, text->len}, value;
    if (text->data == NULL ||
        !smar_json_validate(span, KEYFILE_JSON_DEPTH, &value, why, sizeof why))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "not valid JSON (%s)",
                                 text->data == NULL ? "empty" : why);
    if (smar_json_kind_of(value) != SMAR_JSON_OBJECT)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "not a JSON object");
    *root = value;
    return SMAR_OK;
}

/* Member names are only echoed when short printable ASCII: a file must not be able to put
 * arbitrary bytes (or a pasted key) into our messages. */
static bool echoable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

static bool is_allowed(smar_span key, const char *const *allowed)
{
    for (size_t i = 0; allowed[i] != NULL; i++)
        if (smar_json_string_eq(key, allowed[i]))
            return true;
    return false;
}

int smar_keyfile_check_members(const smar_keyfile *kf, smar_span obj, const char *const *allowed,
                               const char *where)
{
    smar_json_iter it;
    smar_span key, value;
    smar_json_iter_init(&it, obj);
    while (smar_json_next_member(&it, &key, &value)) {
        if (is_allowed(key, allowed))
            continue;
        char name[33];
        size_t len = 0;
        if (smar_json_string_decode(key, name, sizeof name - 1, &len) && echoable(name, len)) {
            name[len] = '\0';
            return smar_keyfile_fail(kf, SMAR_E_FORMAT, "unknown member \"%s\" in %s", name, where);
        }
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "unknown member in %s", where);
    }
    return SMAR_OK;
}

bool smar_keyfile_has(smar_span obj, const char *name, smar_span *value)
{
    smar_span ignored;
    return smar_json_get(obj, name, value != NULL ? value : &ignored);
}

/* The member's value when it is present and of the kind wanted. */
static int get_member(const smar_keyfile *kf, smar_span obj, const char *name, smar_json_kind kind,
                      const char *what, smar_span *value)
{
    if (!smar_json_get(obj, name, value))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"%s\" is missing", name);
    if (smar_json_kind_of(*value) != kind)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"%s\" must be %s", name, what);
    return SMAR_OK;
}

int smar_keyfile_get_string(const smar_keyfile *kf, smar_span obj, const char *name, char *out,
                            size_t cap)
{
    smar_span token;
    int rc = get_member(kf, obj, name, SMAR_JSON_STRING, "a string", &token);
    if (rc != SMAR_OK)
        return rc;
    size_t len = 0;
    if (!smar_json_string_decode(token, out, cap - 1, &len) || memchr(out, '\0', len) != NULL)
        len = 0;
    out[len] = '\0';
    return SMAR_OK;
}

/* A validated JSON number as value = digits * 10^exp10, digits without leading or trailing
 * zeros (no digits: the value is zero). Zeros are held back until a non-zero digit follows,
 * so 1.000...0 of any length stays short. */
typedef struct decimal {
    bool negative;
    char digits[24]; /* more significant digits than this is no integer we accept */
    size_t n;
    size_t zeros; /* zeros seen since the last non-zero digit */
    long exp10;
    bool too_long;
} decimal;

static void decimal_digit(decimal *d, char c)
{
    if (c == '0') {
        if (d->n > 0)
            d->zeros++;
        return;
    }
    if (d->n + d->zeros + 1 > sizeof d->digits) {
        d->too_long = true;
        return;
    }
    for (; d->zeros > 0; d->zeros--)
        d->digits[d->n++] = '0';
    d->digits[d->n++] = c;
}

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Split number into digits and exponent (spec/KEYRING.md: 1, 1.0 and 1e0 are the same
 * integer). The text was validated, so it follows the JSON grammar. */
static void decimal_parse(smar_span number, decimal *d)
{
    const char *p = number.p, *end = number.p + number.n;
    memset(d, 0, sizeof *d);
    if (p < end && *p == '-') {
        d->negative = true;
        p++;
    }
    for (; is_digit(p, end); p++)
        decimal_digit(d, *p);
    if (p < end && *p == '.')
        for (p++; is_digit(p, end); p++, d->exp10--)
            decimal_digit(d, *p);
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool neg = ++p < end && *p == '-';
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        long e = 0;
        for (; is_digit(p, end); p++)
            if (e < 100000) /* far beyond any value we accept, and no overflow */
                e = e * 10 + (*p - '0');
        d->exp10 += neg ? -e : e;
    }
    d->exp10 += (long)d->zeros; /* trailing zeros scale the digits */
}

/* The number's value when it is a non-negative integer that fits in 64 bits. */
static bool number_to_uint(smar_span number, uint64_t *out)
{
    decimal d;
    decimal_parse(number, &d);
    if (d.n == 0) {
        *out = 0; /* 0, -0, 0.0, 0e5 */
        return true;
    }
    if (d.negative || d.too_long || d.exp10 < 0 || d.exp10 > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < d.n + (size_t)d.exp10; i++) {
        unsigned digit = i < d.n ? (unsigned)(d.digits[i] - '0') : 0;
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

int smar_keyfile_get_uint(const smar_keyfile *kf, smar_span obj, const char *name, uint64_t min,
                          uint64_t max, uint64_t *out)
{
    smar_span number;
    uint64_t v = 0;
    if (!smar_json_get(obj, name, &number))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"%s\" is missing", name);
    if (smar_json_kind_of(number) != SMAR_JSON_NUMBER || !number_to_uint(number, &v) || v < min ||
        v > max)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"%s\" must be an integer from %llu to %llu",
                                 name, (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return SMAR_OK;
}

int smar_keyfile_get_time(const smar_keyfile *kf, smar_span obj, const char *name,
                          smar_time_ns *out)
{
    char text[64];
    int rc = smar_keyfile_get_string(kf, obj, name, text, sizeof text);
    if (rc != SMAR_OK)
        return rc;
    if (smar_time_parse(text, strlen(text), 0, out) != SMAR_OK)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"%s\" is not an RFC 3339 timestamp", name);
    return SMAR_OK;
}

int smar_keyfile_check_type(const smar_keyfile *kf, smar_span root, const char *want)
{
    char type[64];
    uint64_t format = 0;
    int rc = smar_keyfile_get_string(kf, root, "type", type, sizeof type);
    if (rc != SMAR_OK)
        return rc;
    if (strcmp(type, want) != 0)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "not a %s file (\"type\" is not \"%s\")",
                                 kf->kind, want);
    rc = smar_keyfile_get_uint(kf, root, "format", 0, UINT32_MAX, &format);
    if (rc != SMAR_OK)
        return rc;
    if (format != 1)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "format %llu is not supported (this version reads format 1)",
                                 (unsigned long long)format);
    return SMAR_OK;
}

int smar_keyfile_get_b64(const smar_keyfile *kf, smar_span obj, const char *name, uint8_t *out,
                         size_t n)
{
    smar_span token;
    int rc = get_member(kf, obj, name, SMAR_JSON_STRING, "a string", &token);
    if (rc != SMAR_OK)
        return rc;
    /* Decoded from the token's text in place (base64 needs no JSON escapes; one written
     * with them is refused). Padded base64 of n bytes has one exact length; checking it
     * first also bounds what sodium_base642bin may write (never more than n bytes). One
     * message for every way the text can be wrong: it must never quote the text, which may
     * be key material. */
    const char *b64 = token.p + 1;
    size_t len = token.n - 2;
    size_t bin_len = 0;
    if (len != sodium_base64_ENCODED_LEN(n, B64_VARIANT) - 1 ||
        sodium_base642bin(out, n, b64, len, NULL, &bin_len, NULL, B64_VARIANT) != 0 || bin_len != n)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "\"%s\" is not the base64 (with padding) of %zu bytes", name, n);
    return SMAR_OK;
}

/* ---- writing -------------------------------------------------------------------------- */

int smar_keyfile_put_string(smar_buf *b, const char *s)
{
    return smar_json_quote(b, s, strlen(s)) == 0 ? SMAR_OK : SMAR_E_NOMEM;
}

int smar_keyfile_put_b64(smar_buf *b, const uint8_t *bin, size_t n)
{
    size_t enc = sodium_base64_ENCODED_LEN(n, B64_VARIANT); /* includes the NUL */
    int rc = smar_buf_reserve(b, enc + 2);
    if (rc != SMAR_OK)
        return rc;
    b->data[b->len++] = '"';
    sodium_bin2base64((char *)b->data + b->len, enc, bin, n, B64_VARIANT);
    b->len += enc - 1;
    b->data[b->len++] = '"';
    return SMAR_OK;
}

int smar_keyfile_put_time(smar_buf *b, smar_time_ns t)
{
    char text[SMAR_TIME_BUFSIZE];
    return smar_keyfile_put_string(b, smar_time_format(t, text));
}

smar_time_ns smar_keyfile_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (smar_time_ns)ts.tv_sec * INT64_C(1000000000);
}

/* ---- passphrase sealing -------------------------------------------------------------- */

void smar_keyfile_set_pwhash_limits_for_tests(unsigned long long opslimit, size_t memlimit)
{
    g_test_opslimit = opslimit;
    g_test_memlimit = memlimit;
}

/* Argon2id into locked memory. Only fails for lack of memory (the limits are in range). */
static int derive_key(const smar_keyfile *kf, uint8_t key[SEAL_KEY_BYTES], const char *passphrase,
                      const uint8_t salt[crypto_pwhash_SALTBYTES], unsigned long long opslimit,
                      size_t memlimit)
{
    if (crypto_pwhash(key, SEAL_KEY_BYTES, passphrase, strlen(passphrase), salt, opslimit, memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return smar_keyfile_fail(kf, SMAR_E_NOMEM,
                                 "not enough memory to derive the key from the passphrase "
                                 "(Argon2id memlimit %zu bytes)",
                                 memlimit);
    return SMAR_OK;
}

static int put_protection(smar_buf *b, const uint8_t *salt, unsigned long long opslimit,
                          size_t memlimit, const uint8_t *sealed, size_t sealed_len)
{
    int rc =
        smar_buf_printf(b, ",\n  \"protection\": {\"kdf\": \"%s\", \"salt\": ", SMAR_KEYFILE_KDF);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(b, salt, crypto_pwhash_SALTBYTES);
    if (rc == SMAR_OK)
        rc = smar_buf_printf(
            b, ", \"opslimit\": %llu, \"memlimit\": %zu},\n  \"sealed\": ", opslimit, memlimit);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(b, sealed, sealed_len);
    return rc;
}

int smar_keyfile_seal(const smar_keyfile *kf, smar_buf *b, const char *passphrase,
                      const uint8_t *aad, size_t aad_len, const uint8_t *plain, size_t plain_len)
{
    if (passphrase == NULL || passphrase[0] == '\0')
        return smar_keyfile_fail(kf, SMAR_E_INVALID, "the passphrase is empty");
    unsigned long long opslimit =
        g_test_opslimit ? g_test_opslimit : crypto_pwhash_OPSLIMIT_MODERATE;
    size_t memlimit = g_test_memlimit ? g_test_memlimit : crypto_pwhash_MEMLIMIT_MODERATE;
    uint8_t salt[crypto_pwhash_SALTBYTES];
    size_t sealed_len = SEAL_NONCE_BYTES + plain_len + SEAL_TAG_BYTES;
    uint8_t *sealed = malloc(sealed_len); /* nonce || ciphertext || tag: nothing secret */
    uint8_t *key = smar_secure_alloc(SEAL_KEY_BYTES);
    int rc = SMAR_OK;
    if (sealed == NULL || key == NULL) {
        rc = smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    randombytes_buf(salt, sizeof salt);
    rc = derive_key(kf, key, passphrase, salt, opslimit, memlimit);
    if (rc != SMAR_OK)
        goto done;
    randombytes_buf(sealed, SEAL_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + SEAL_NONCE_BYTES, NULL, plain, plain_len,
                                               aad, aad_len, NULL, sealed, key);
    rc = put_protection(b, salt, opslimit, memlimit, sealed, sealed_len);
    if (rc != SMAR_OK)
        rc = smar_keyfile_fail(kf, rc, "out of memory");
done:
    sodium_free(key);
    free(sealed);
    return rc;
}

bool smar_keyfile_is_sealed(smar_span root)
{
    return smar_keyfile_has(root, "protection", NULL) || smar_keyfile_has(root, "sealed", NULL);
}

/* Check "protection" and read its parameters. Nothing here costs more than parsing, so a
 * hostile file is rejected before Argon2id runs with its parameters. */
static int read_protection(const smar_keyfile *kf, smar_span root,
                           uint8_t salt[crypto_pwhash_SALTBYTES], uint64_t *opslimit,
                           uint64_t *memlimit)
{
    static const char *const allowed[] = {"kdf", "salt", "opslimit", "memlimit", NULL};
    smar_keyfile sub = *kf;
    sub.where = "protection";
    smar_span prot;
    if (!smar_keyfile_has(root, "protection", &prot))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"sealed\" without \"protection\"");
    if (smar_json_kind_of(prot) != SMAR_JSON_OBJECT)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT, "\"protection\" must be an object");
    char kdf[32];
    int rc = smar_keyfile_check_members(kf, prot, allowed, "\"protection\"");
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_string(&sub, prot, "kdf", kdf, sizeof kdf);
    if (rc == SMAR_OK && strcmp(kdf, SMAR_KEYFILE_KDF) != 0)
        rc = smar_keyfile_fail(&sub, SMAR_E_FORMAT, "unknown \"kdf\" (this version knows \"%s\")",
                               SMAR_KEYFILE_KDF);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_b64(&sub, prot, "salt", salt, crypto_pwhash_SALTBYTES);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_uint(&sub, prot, "opslimit", crypto_pwhash_OPSLIMIT_MIN,
                                   SMAR_KEYFILE_OPSLIMIT_MAX, opslimit);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_uint(&sub, prot, "memlimit", crypto_pwhash_MEMLIMIT_MIN,
                                   SMAR_KEYFILE_MEMLIMIT_MAX, memlimit);
    return rc;
}

int smar_keyfile_unseal(const smar_keyfile *kf, smar_span root, const char *passphrase,
                        const uint8_t *aad, size_t aad_len, uint8_t *plain, size_t plain_len)
{
    uint8_t salt[crypto_pwhash_SALTBYTES];
    uint64_t opslimit = 0, memlimit = 0;
    size_t sealed_len = SEAL_NONCE_BYTES + plain_len + SEAL_TAG_BYTES;
    uint8_t *sealed = NULL;
    uint8_t *key = NULL;
    int rc = read_protection(kf, root, salt, &opslimit, &memlimit);
    if (rc != SMAR_OK)
        goto done;
    sealed = malloc(sealed_len);
    key = smar_secure_alloc(SEAL_KEY_BYTES);
    if (sealed == NULL || key == NULL) {
        rc = smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
        goto done;
    }
    rc = smar_keyfile_get_b64(kf, root, "sealed", sealed, sealed_len);
    if (rc != SMAR_OK)
        goto done;
    if (passphrase == NULL || passphrase[0] == '\0') {
        rc = smar_keyfile_fail(kf, SMAR_E_PASSPHRASE,
                               "protected by a passphrase: a passphrase is needed to load it");
        goto done;
    }
    rc = derive_key(kf, key, passphrase, salt, opslimit, (size_t)memlimit);
    if (rc != SMAR_OK)
        goto done;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, sealed + SEAL_NONCE_BYTES,
                                                   sealed_len - SEAL_NONCE_BYTES, aad, aad_len,
                                                   sealed, key) != 0)
        rc = smar_keyfile_fail(kf, SMAR_E_PASSPHRASE, "wrong passphrase (or the file was altered)");
done:
    sodium_free(key);
    free(sealed);
    return rc;
}

/* ---- what a file is ------------------------------------------------------------------- */

smar_keyfile_kind smar_keyfile_kind_of(const char *path)
{
    static const struct {
        const char *type;
        smar_keyfile_kind kind;
    } kinds[] = {
        {"smar-keyring", SMAR_KEYFILE_KEYRING},
        {"smar-signing-key", SMAR_KEYFILE_SIGNING_KEY},
        {"smar-signing-public-key", SMAR_KEYFILE_PUBLIC_KEY},
        {"smar-recipient-identity", SMAR_KEYFILE_IDENTITY},
        {"smar-recipient", SMAR_KEYFILE_RECIPIENT},
    };
    if (path == NULL)
        return SMAR_KEYFILE_UNKNOWN;
    smar_err e = {0};
    smar_keyfile kf = {"key", path, NULL, &e};
    smar_buf text = {.secure = true};
    smar_span root, type;
    smar_keyfile_kind kind = SMAR_KEYFILE_UNKNOWN;
    /* Not as a private file: a public key is 0644, and only its type is looked at. */
    if (smar_keyfile_read(&kf, false, &text) == SMAR_OK &&
        smar_keyfile_parse(&kf, &text, &root) == SMAR_OK && smar_json_get(root, "type", &type) &&
        smar_json_kind_of(type) == SMAR_JSON_STRING) {
        for (size_t i = 0; i < SMAR_ARRAY_LEN(kinds); i++)
            if (smar_json_string_eq(type, kinds[i].type))
                kind = kinds[i].kind;
    }
    smar_buf_free(&text);
    return kind;
}
