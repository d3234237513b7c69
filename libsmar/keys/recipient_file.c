/*
 * recipient_file.c - X25519 identity and recipient files, and the public keyring calls
 * that make, load and save them (smar/keys.h, "public-key recipients").
 *
 * Identity (secret, 0600), like the signing key files:
 *   {"type": "smar-recipient-identity", "format": 1, "created_at": RFC 3339, "id": KEY_ID,
 *    "public_key": base64(32), "secret_key": base64(32)}
 * or, with a passphrase, "protection" and "sealed" instead of "secret_key" (keyfile.h's
 * sealing; the AAD binds type, format, id, public key and creation time).
 * Recipient (public, 0644):
 *   {"type": "smar-recipient", "format": 1, "id": KEY_ID, "public_key": base64(32)}
 * The id is the key id the archive's key slot records; reader and writer match on it.
 */
#include "keyfile.h"
#include "keyprov_x25519.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "atomic_file.h"

#define IDENTITY_TYPE  "smar-recipient-identity"
#define RECIPIENT_TYPE "smar-recipient"

_Static_assert(SMAR_RECIPIENT_PUBLIC_BYTES == SMAR_X25519_KEY_BYTES, "recipient key size");

static const char *const identity_members[] = {
    "type", "format", "created_at", "id", "public_key", "secret_key", "protection", "sealed", NULL};
static const char *const recipient_members[] = {"type", "format", "id", "public_key", NULL};

/* ---- sealing AAD ---------------------------------------------------------------------- */

/* type with its NUL || u32 format 1 || u8 id length || id || public key || u64 created_at */
#define AAD_MAX (sizeof IDENTITY_TYPE + 4 + 1 + SMAR_KEY_ID_MAX + SMAR_X25519_KEY_BYTES + 8)

static size_t build_aad(uint8_t aad[AAD_MAX], const char *key_id, const uint8_t *pk,
                        smar_time_ns created_at)
{
    size_t id_len = strlen(key_id), n = 0;
    memcpy(aad, IDENTITY_TYPE, sizeof IDENTITY_TYPE);
    n += sizeof IDENTITY_TYPE;
    smar_store_u32(aad + n, 1);
    n += 4;
    aad[n++] = (uint8_t)id_len;
    memcpy(aad + n, key_id, id_len);
    n += id_len;
    memcpy(aad + n, pk, SMAR_X25519_KEY_BYTES);
    n += SMAR_X25519_KEY_BYTES;
    smar_store_u64(aad + n, (uint64_t)created_at);
    return n + 8;
}

/* ---- keyring calls -------------------------------------------------------------------- */

static int require_empty(smar_keyring *kr)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(smar_keyring_err(kr));
    return smar_keyring_require_empty(kr);
}

/* Hand xk to kr, or free it. */
static int install(smar_keyring *kr, smar_x25519_key *xk)
{
    int rc = smar_keyring_install_x25519(kr, xk);
    if (rc != SMAR_OK)
        smar_x25519_key_free(xk);
    return rc;
}

int smar_keyring_generate_identity(smar_keyring *kr, const char *key_id)
{
    int rc = require_empty(kr);
    if (rc != SMAR_OK)
        return rc;
    smar_x25519_key *xk = NULL;
    rc = smar_x25519_key_generate(&xk, key_id, smar_keyring_err(kr));
    return rc == SMAR_OK ? install(kr, xk) : rc;
}

int smar_keyring_is_recipient(const smar_keyring *kr)
{
    const smar_x25519_key *xk = smar_keyring_x25519_key(kr);
    return xk != NULL && smar_x25519_key_secret(xk) == NULL;
}

int smar_keyring_recipient_public(const smar_keyring *kr, uint8_t pk[SMAR_RECIPIENT_PUBLIC_BYTES])
{
    const smar_x25519_key *xk = smar_keyring_x25519_key(kr);
    if (pk == NULL)
        return SMAR_E_INVALID;
    if (xk == NULL) {
        memset(pk, 0, SMAR_RECIPIENT_PUBLIC_BYTES);
        return kr != NULL ? smar_fail(smar_keyring_err(kr), SMAR_E_INVALID,
                                      "the keyring holds no recipient or identity")
                          : SMAR_E_INVALID;
    }
    memcpy(pk, smar_x25519_key_public(xk), SMAR_RECIPIENT_PUBLIC_BYTES);
    return SMAR_OK;
}

/* ---- loading -------------------------------------------------------------------------- */

/* "id" (a valid key id) and "public_key" of a parsed file. */
static int get_id_and_public(const smar_keyfile *kf, smar_span root, char id[SMAR_KEY_ID_MAX + 1],
                             uint8_t pk[SMAR_X25519_KEY_BYTES])
{
    int rc = smar_keyfile_get_string(kf, root, "id", id, SMAR_KEY_ID_MAX + 1);
    if (rc == SMAR_OK && !smar_key_id_valid(id))
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "\"id\" must be 1 to %d printable ASCII characters without spaces",
                               SMAR_KEY_ID_MAX);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_b64(kf, root, "public_key", pk, SMAR_X25519_KEY_BYTES);
    return rc;
}

/* The secret key of a parsed identity file, into secret (locked memory). */
static int get_secret(const smar_keyfile *kf, smar_span root, const char *passphrase,
                      const char *id, const uint8_t *pk, smar_time_ns created_at, uint8_t *secret)
{
    bool has_secret = smar_keyfile_has(root, "secret_key", NULL);
    if (!smar_keyfile_is_sealed(root))
        return smar_keyfile_get_b64(kf, root, "secret_key", secret, SMAR_X25519_KEY_BYTES);
    if (has_secret)
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "has a \"secret_key\" although the key is sealed");
    uint8_t aad[AAD_MAX];
    size_t aad_len = build_aad(aad, id, pk, created_at);
    return smar_keyfile_unseal(kf, root, passphrase, aad, aad_len, secret, SMAR_X25519_KEY_BYTES);
}

static int parse_identity(const smar_keyfile *kf, smar_span root, const char *passphrase,
                          smar_x25519_key **out)
{
    char id[SMAR_KEY_ID_MAX + 1];
    uint8_t pk[SMAR_X25519_KEY_BYTES];
    smar_time_ns created_at = 0;
    uint8_t *secret = NULL;
    int rc = smar_keyfile_check_members(kf, root, identity_members, "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, IDENTITY_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_get_time(kf, root, "created_at", &created_at);
    if (rc == SMAR_OK)
        rc = get_id_and_public(kf, root, id, pk);
    if (rc == SMAR_OK && (rc = smar_x25519_key_new(out, id, pk, created_at, &secret, kf->e)) != 0)
        rc = smar_keyfile_fail(kf, rc, "%s", smar_err_message(kf->e));
    if (rc == SMAR_OK)
        rc = get_secret(kf, root, passphrase, id, pk, created_at, secret);
    if (rc == SMAR_OK && smar_x25519_key_seal(*out, kf->e) != SMAR_OK)
        rc = smar_keyfile_fail(kf, SMAR_E_FORMAT,
                               "\"secret_key\" does not belong to "
                               "\"public_key\"");
    if (rc != SMAR_OK) {
        smar_x25519_key_free(*out);
        *out = NULL;
    }
    return rc;
}

int smar_keyring_load_identity(smar_keyring *kr, const char *path, const char *passphrase)
{
    int rc = require_empty(kr);
    if (rc != SMAR_OK)
        return rc;
    if (path == NULL)
        return smar_fail(smar_keyring_err(kr), SMAR_E_INVALID, "no identity file given");
    smar_keyfile kf = {"identity", path, NULL, smar_keyring_err(kr)};
    smar_buf text = {.secure = true};
    smar_span root;
    smar_x25519_key *xk = NULL;
    rc = smar_keyfile_read(&kf, true, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_identity(&kf, root, passphrase, &xk);
    smar_buf_free(&text);
    return rc == SMAR_OK ? install(kr, xk) : rc;
}

/* The public half of a parsed recipient or identity file. */
static int parse_recipient(const smar_keyfile *kf, smar_span root, smar_x25519_key **out)
{
    smar_span type;
    bool is_string =
        smar_keyfile_has(root, "type", &type) && smar_json_kind_of(type) == SMAR_JSON_STRING;
    bool identity = is_string && smar_json_string_eq(type, IDENTITY_TYPE);
    if (!identity && !(is_string && smar_json_string_eq(type, RECIPIENT_TYPE)))
        return smar_keyfile_fail(kf, SMAR_E_FORMAT,
                                 "not a recipient file (\"type\" is neither \"%s\" nor \"%s\")",
                                 RECIPIENT_TYPE, IDENTITY_TYPE);
    char id[SMAR_KEY_ID_MAX + 1];
    uint8_t pk[SMAR_X25519_KEY_BYTES];
    int rc = smar_keyfile_check_members(kf, root, identity ? identity_members : recipient_members,
                                        "the top-level object");
    if (rc == SMAR_OK)
        rc = smar_keyfile_check_type(kf, root, identity ? IDENTITY_TYPE : RECIPIENT_TYPE);
    if (rc == SMAR_OK)
        rc = get_id_and_public(kf, root, id, pk);
    if (rc == SMAR_OK && (rc = smar_x25519_key_new(out, id, pk, 0, NULL, kf->e)) != SMAR_OK)
        rc = smar_keyfile_fail(kf, rc, "%s", smar_err_message(kf->e));
    return rc;
}

int smar_keyring_load_recipient(smar_keyring *kr, const char *path)
{
    int rc = require_empty(kr);
    if (rc != SMAR_OK)
        return rc;
    if (path == NULL)
        return smar_fail(smar_keyring_err(kr), SMAR_E_INVALID, "no recipient file given");
    /* An identity file may be read here too; its text is wiped like any key file's. */
    smar_keyfile kf = {"recipient", path, NULL, smar_keyring_err(kr)};
    smar_buf text = {.secure = true};
    smar_span root;
    smar_x25519_key *xk = NULL;
    rc = smar_keyfile_read(&kf, false, &text);
    if (rc == SMAR_OK)
        rc = smar_keyfile_parse(&kf, &text, &root);
    if (rc == SMAR_OK)
        rc = parse_recipient(&kf, root, &xk);
    smar_buf_free(&text);
    return rc == SMAR_OK ? install(kr, xk) : rc;
}

/* ---- saving --------------------------------------------------------------------------- */

static int build_identity_file(const smar_x25519_key *xk, const smar_keyfile *kf,
                               const char *passphrase, smar_buf *text)
{
    const uint8_t *pk = smar_x25519_key_public(xk), *sk = smar_x25519_key_secret(xk);
    int rc = smar_buf_printf(
        text, "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"created_at\": ", IDENTITY_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_time(text, smar_x25519_key_created(xk));
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(text, ",\n  \"id\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(text, smar_x25519_key_id(xk));
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(text, ",\n  \"public_key\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(text, pk, SMAR_X25519_KEY_BYTES);
    if (rc == SMAR_OK && passphrase == NULL) {
        rc = smar_buf_append_str(text, ",\n  \"secret_key\": ");
        if (rc == SMAR_OK)
            rc = smar_keyfile_put_b64(text, sk, SMAR_X25519_KEY_BYTES);
    }
    if (rc != SMAR_OK)
        return smar_keyfile_fail(kf, rc, "out of memory");
    if (passphrase != NULL) {
        uint8_t aad[AAD_MAX];
        size_t aad_len = build_aad(aad, smar_x25519_key_id(xk), pk, smar_x25519_key_created(xk));
        rc = smar_keyfile_seal(kf, text, passphrase, aad, aad_len, sk, SMAR_X25519_KEY_BYTES);
        if (rc != SMAR_OK)
            return rc;
    }
    if (smar_buf_append_str(text, "\n}\n") != SMAR_OK)
        return smar_keyfile_fail(kf, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

/* The keyring's x25519 key for saving; with want_secret it must be an identity. */
static int key_to_save(const smar_keyring *kr, const char *path, unsigned flags, bool want_secret,
                       const smar_x25519_key **out)
{
    if (kr == NULL)
        return SMAR_E_INVALID;
    smar_err_clear(smar_keyring_err(kr));
    const smar_x25519_key *xk = smar_keyring_x25519_key(kr);
    if (path == NULL || (flags & ~SMAR_SAVE_OVERWRITE) != 0)
        return smar_fail(smar_keyring_err(kr), SMAR_E_INVALID, "invalid argument to save");
    if (xk == NULL || (want_secret && smar_x25519_key_secret(xk) == NULL))
        return smar_fail(smar_keyring_err(kr), SMAR_E_INVALID, "the keyring holds no %s",
                         want_secret ? "identity (only a recipient, or another key)"
                                     : "recipient or identity");
    *out = xk;
    return SMAR_OK;
}

int smar_keyring_save_identity(const smar_keyring *kr, const char *path, const char *passphrase,
                               unsigned flags)
{
    const smar_x25519_key *xk = NULL;
    int rc = key_to_save(kr, path, flags, true, &xk);
    if (rc != SMAR_OK)
        return rc;
    smar_keyfile kf = {"identity", path, NULL, smar_keyring_err(kr)};
    smar_buf text = {.secure = true};
    rc = build_identity_file(xk, &kf, passphrase, &text);
    if (rc == SMAR_OK)
        rc = smar_atomic_write_file(path, text.data, text.len, 0600,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, smar_keyring_err(kr));
    smar_buf_free(&text);
    return rc;
}

int smar_keyring_save_recipient(const smar_keyring *kr, const char *path, unsigned flags)
{
    const smar_x25519_key *xk = NULL;
    int rc = key_to_save(kr, path, flags, false, &xk);
    if (rc != SMAR_OK)
        return rc;
    smar_buf text = {0};
    rc = smar_buf_printf(&text,
                         "{\n  \"type\": \"%s\",\n  \"format\": 1,\n  \"id\": ", RECIPIENT_TYPE);
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_string(&text, smar_x25519_key_id(xk));
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(&text, ",\n  \"public_key\": ");
    if (rc == SMAR_OK)
        rc = smar_keyfile_put_b64(&text, smar_x25519_key_public(xk), SMAR_X25519_KEY_BYTES);
    if (rc == SMAR_OK)
        rc = smar_buf_append_str(&text, "\n}\n");
    if (rc != SMAR_OK)
        rc = smar_fail(smar_keyring_err(kr), SMAR_E_NOMEM, "out of memory");
    else
        rc = smar_atomic_write_file(path, text.data, text.len, 0644,
                                    (flags & SMAR_SAVE_OVERWRITE) != 0, smar_keyring_err(kr));
    smar_buf_free(&text);
    return rc;
}
