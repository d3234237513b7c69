/*
 * smar/keys.h - root keys (Key Protect style) and producer signing keys.
 *
 * A root key wraps each archive's data key (DEK). Like an IBM Key Protect root key it has
 * an id and numbered versions: wrapping always uses the newest version and the archive
 * records which; unwrapping works with any version still held; rotation adds a version.
 * The DEK itself never changes when a root key rotates: archives made before a rotation
 * still open with the rotated keyring.
 *
 * A keyring is a root key held by a key provider (smar/provider.h). libsmar ships one, the
 * "local" provider: a keyring file (JSON, mode 0600, optionally protected by a passphrase
 * through Argon2id), made by smar_keyring_generate/load and changed by rotate/save. An
 * application adds HSM or KMS keys with smar_keyring_from_provider; every call taking a
 * keyring works with either. Local key material lives in locked memory (sodium_malloc)
 * and is wiped on free.
 *
 *   smar_keyring *kr; smar_keyring_new(&kr);
 *   smar_keyring_generate(kr, NULL);             // root key, version 1
 *   smar_keyring_save(kr, "root.key", NULL, 0);  // 0600, refuses to overwrite
 *   ...
 *   smar_keyring_load(kr, "root.key", NULL);     // refused if group/other can read it
 *   smar_keyring_rotate(kr);                     // version 2 becomes the wrapping version
 */
#ifndef SMAR_KEYS_H
#define SMAR_KEYS_H

#include "smar/common.h"
#include "smar/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smar_keyring smar_keyring;
typedef struct smar_signkey smar_signkey;

/** Longest key id (bytes). Ids are printable ASCII, no spaces. */
#define SMAR_KEY_ID_MAX 64
/** Most versions a root key may hold. */
#define SMAR_KEY_VERSIONS_MAX 1000

/** Flags for the save calls. */
#define SMAR_SAVE_OVERWRITE 1u /**< replace an existing file (atomically) */

SMAR_API int smar_keyring_new(smar_keyring **out);
SMAR_API void smar_keyring_free(smar_keyring *kr);
SMAR_API const char *smar_keyring_error(const smar_keyring *kr);

/** Make a new local root key with version 1. key_id NULL picks a random id ("rk-" + 32
 *  hex). SMAR_E_INVALID when the keyring already holds a key or key_id is not valid. */
SMAR_API int smar_keyring_generate(smar_keyring *kr, const char *key_id);

/**
 * Make kr (new, empty) hold the root key of an application's key provider. provider is
 * copied; its version must be 1 or SMAR_PROVIDER_VERSION (2), name, key_id, current_version, wrap
 * and unwrap must be set and slot_id must not be SMAR_PROVIDER_SLOT_LOCAL (else
 * SMAR_E_INVALID). The provider's key id is asked now (its status is returned as it is,
 * e.g. SMAR_E_UNAVAILABLE) and must be a valid key id (else SMAR_E_INVALID). On SMAR_OK
 * the keyring owns ctx (provider->free(ctx) at smar_keyring_free); on failure ctx stays
 * the caller's. Such a keyring wraps and unwraps through the provider; it lists no
 * versions (smar_keyring_version_count() is 0), smar_keyring_current_version() asks the
 * provider, and rotate and save give SMAR_E_UNSUPPORTED (the provider manages its key).
 */
SMAR_API int smar_keyring_from_provider(smar_keyring *kr, const smar_provider *provider, void *ctx);

/* ---- Key Protect and Hyper Protect Crypto Services (REST) ---------------------------- */

/** The slot provider id of Key Protect / HPCS keys ("kms", archive format 2's id 4). */
#define SMAR_PROVIDER_SLOT_KMS 4

/** The smar_kms_options layout this header describes. */
#define SMAR_KMS_OPTIONS_VERSION 1

/**
 * How to reach Key Protect (or Hyper Protect Crypto Services, which has the same key API).
 * Start from SMAR_KMS_OPTIONS_INIT; later versions only append members. Strings are copied
 * by smar_keyring_open_kms (the API key into locked memory, wiped at smar_keyring_free).
 */
typedef struct smar_kms_options {
    int version;              /**< SMAR_KMS_OPTIONS_VERSION */
    const char *api_key;      /**< IBM Cloud API key (required); never logged or put in messages */
    const char *endpoint;     /**< base URL the /api/v2/... paths go under; NULL:
                               *   https://REGION.kms.cloud.ibm.com (REGION from the key URL) */
    const char *iam_endpoint; /**< base URL of the token service (/identity/token is
                               *   appended); NULL: https://iam.cloud.ibm.com */
    const char *ca_file;      /**< CA bundle for TLS; NULL: $CURL_CA_BUNDLE, $SSL_CERT_FILE,
                               *   else the system's. TLS is always verified. */
    unsigned timeout_ms;      /**< one HTTP attempt; 0: 30 s */
    unsigned max_attempts;    /**< attempts per call on 429, 5xx, connection errors; 0: 5 */
    unsigned retry_budget_ms; /**< all attempts and waits of one call; 0: 60 s */
} smar_kms_options;

#define SMAR_KMS_OPTIONS_INIT                                                                      \
    {                                                                                              \
        SMAR_KMS_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0                                  \
    }

/**
 * Make kr (new, empty) hold a Key Protect root key named by url:
 *   keyprotect://INSTANCE_ID/KEY_ID_OR_ALIAS?region=REGION
 * (region may be left out when opts->endpoint is given). Wrap, unwrap and rewrap are the
 * service's actions (POST /api/v2/keys/{id}/actions/wrap|unwrap|rewrap, header
 * bluemix-instance); the slot AAD goes in "aad" as lowercase hex, in strings of at most 255
 * characters; the service's ciphertext (base64 text) is the slot's wrapped key. The API key
 * is exchanged for a bearer token at {iam_endpoint}/identity/token when first needed and the
 * token is reused until shortly before it expires. Nothing is sent by this call: SMAR_OK,
 * or SMAR_E_INVALID for a malformed url or options (smar_keyring_error says what), or
 * SMAR_E_NOMEM. Later calls return the provider statuses of smar/provider.h: SMAR_E_DENIED
 * (HTTP 401/403, or the token service refused the API key), SMAR_E_NOTFOUND (no such key),
 * SMAR_E_UNAVAILABLE (5xx, 429, timeouts, connection and TLS failures after the retries).
 * The keyring's key id is KEY_ID_OR_ALIAS as written in url: open an archive with the
 * same spelling it was made with.
 */
SMAR_API int smar_keyring_open_kms(smar_keyring *kr, const char *url, const smar_kms_options *opts);

/**
 * Load a keyring file. Refused (SMAR_E_INVALID) when the file is readable or writable by
 * group or others, so a key never sits readable on a shared host. passphrase is needed
 * (else SMAR_E_PASSPHRASE) when the file was saved with one; a wrong one also gives
 * SMAR_E_PASSPHRASE. SMAR_E_FORMAT for a malformed file, SMAR_E_IO when unreadable.
 */
SMAR_API int smar_keyring_load(smar_keyring *kr, const char *path, const char *passphrase);

/**
 * Write the keyring to path atomically (temporary file in the same folder, mode 0600,
 * fsync, rename, fsync of the folder). Fails with SMAR_E_EXISTS when path exists (a
 * symbolic link included) unless flags has SMAR_SAVE_OVERWRITE. With SMAR_SAVE_OVERWRITE a
 * symbolic link is followed and the file it names is replaced in that file's folder (the
 * link stays); only a regular file (or nothing) is replaced: a folder, device, FIFO or
 * socket gives SMAR_E_INVALID. With a passphrase, key material is sealed with a key from
 * Argon2id (libsodium's crypto_pwhash, MODERATE limits). Local keyrings only
 * (SMAR_E_UNSUPPORTED for a provider's).
 */
SMAR_API int smar_keyring_save(const smar_keyring *kr, const char *path, const char *passphrase,
                               unsigned flags);

/** Add a new version; it becomes the one used to wrap. Older versions still unwrap.
 *  Local keyrings only (SMAR_E_UNSUPPORTED for a provider's). */
SMAR_API int smar_keyring_rotate(smar_keyring *kr);

/**
 * Destroy an old version of a local root key: its key material is wiped and, once the
 * keyring is saved, gone from the file, which keeps the version's number and creation
 * time with a "destroyed_at" time instead (spec/KEYRING.md, section 2). Archives whose only
 * slot of this key was wrapped with that version no longer open with it (unlock says the
 * version was destroyed); rewrap them first (smar/rewrap.h). SMAR_E_INVALID for the
 * current version (rotate first), SMAR_E_NOTFOUND for a version the key does not have,
 * SMAR_E_UNSUPPORTED for a provider's keyring. Destroying a destroyed version is SMAR_OK.
 */
SMAR_API int smar_keyring_destroy_version(smar_keyring *kr, uint32_t version);

/** 1 when the local keyring's version `version` was destroyed, else 0. */
SMAR_API int smar_keyring_version_destroyed(const smar_keyring *kr, uint32_t version);

/** The root key's id (borrowed). */
SMAR_API const char *smar_keyring_id(const smar_keyring *kr);
/** How many versions the keyring holds, and version i's number and creation time (local
 *  keyrings; 0 for a provider's, which does not list its versions). */
SMAR_API size_t smar_keyring_version_count(const smar_keyring *kr);
SMAR_API int smar_keyring_version_info(const smar_keyring *kr, size_t i, uint32_t *version,
                                       smar_time_ns *created);
/** The version new archives are wrapped with (the newest). A provider's keyring asks the
 *  provider; 0 when it cannot answer (smar_keyring_error() says why) or holds no key. */
SMAR_API uint32_t smar_keyring_current_version(const smar_keyring *kr);
/** Name of the provider holding the key: "local" for keyring files, else the name of the
 *  smar_provider given to smar_keyring_from_provider; "" while the keyring is empty. */
SMAR_API const char *smar_keyring_provider(const smar_keyring *kr);

/* ---- PKCS#11 root keys (an HSM or a token: "pkcs11" provider) ------------------------- */

/**
 * Defaults for smar_keyring_open_pkcs11, used only where the URI does not say: what a tool
 * takes from its environment (smar: SMAR_PKCS11_MODULE, SMAR_PKCS11_PIN_FILE). libsmar
 * itself never reads the environment. Declare with SMAR_PKCS11_OPTIONS_INIT.
 */
typedef struct smar_pkcs11_options {
    int version;             /**< SMAR_PKCS11_OPTIONS_VERSION */
    const char *module_path; /**< the PKCS#11 module (.so) when the URI has no module-path */
    const char *pin_file;    /**< a file holding the user PIN (one line) when the URI has
                                  neither pin-value nor pin-source; NULL: no login */
} smar_pkcs11_options;

#define SMAR_PKCS11_OPTIONS_VERSION 1
#define SMAR_PKCS11_OPTIONS_INIT                                                                   \
    {                                                                                              \
        SMAR_PKCS11_OPTIONS_VERSION, NULL, NULL                                                    \
    }

/**
 * Make kr (new, empty) hold a root key kept in a PKCS#11 token, named by an RFC 7512 URI:
 *   pkcs11:token=T;object=O?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p
 * object= is the key's CKA_LABEL (required); token= and the other token attributes pick
 * the token (the first that matches); module-path, pin-source (a file: URI or a path) and
 * pin-value win over opts (NULL: no defaults). Each key version is one AES-256 secret key
 * object with that label and CKA_ID = the version as a big-endian u32 (00000001 ...);
 * rotating the key is adding an object with a larger CKA_ID, and new archives use the
 * largest. Every version must be sensitive and not extractable, else it is refused.
 *
 * The module is loaded now (through p11-kit) and the token found; the session and login
 * wait for the first use (the PIN is kept in locked memory until then and wiped after it).
 * The keyring's id is the URI reduced to token and object ("pkcs11:token=T;object=O"),
 * never a module path or a PIN. Returns SMAR_OK, SMAR_E_INVALID (bad URI, no module),
 * SMAR_E_IO (unreadable PIN file), SMAR_E_UNAVAILABLE (module does not load, no such token
 * present) or SMAR_E_NOMEM; smar_keyring_error() says why, never with the PIN. Later calls
 * through the keyring add SMAR_E_DENIED (wrong or locked PIN), SMAR_E_NOTFOUND (no such
 * key or version), SMAR_E_UNAVAILABLE (device errors) and SMAR_E_AUTH (blob does not open).
 */
SMAR_API int smar_keyring_open_pkcs11(smar_keyring *kr, const char *uri,
                                      const smar_pkcs11_options *opts);

/**
 * The versions of kr's PKCS#11 key found on its token, ascending: up to cap of them to
 * versions, how many there are to *count (so a short array can be sized). Logs in when not
 * done yet. SMAR_E_INVALID when kr holds no PKCS#11 key; else as smar_keyring_open_pkcs11.
 */
SMAR_API int smar_keyring_pkcs11_versions(smar_keyring *kr, uint32_t *versions, size_t cap,
                                          size_t *count);

/** The kinds of smar key file (the "type" member, spec/KEYRING.md). */
typedef enum smar_keyfile_kind {
    SMAR_KEYFILE_UNKNOWN = 0, /**< unreadable, not JSON, or another "type" */
    SMAR_KEYFILE_KEYRING,     /**< "smar-keyring" */
    SMAR_KEYFILE_SIGNING_KEY, /**< "smar-signing-key" (the secret half) */
    SMAR_KEYFILE_PUBLIC_KEY,  /**< "smar-signing-public-key" */
    SMAR_KEYFILE_IDENTITY,    /**< "smar-recipient-identity" (X25519, the secret half) */
    SMAR_KEYFILE_RECIPIENT,   /**< "smar-recipient" (X25519, the public half) */
} smar_keyfile_kind;

/**
 * What kind of key file path claims to be, from its "type" alone: nothing else is checked
 * (not even the file mode), so this only serves messages such as "this is a signing key,
 * not a keyring". The text read is wiped.
 */
SMAR_API smar_keyfile_kind smar_keyfile_kind_of(const char *path);

/* ---- public-key recipients (X25519) ------------------------------------------------ */

/*
 * A recipient lets a producer encrypt archives it cannot open: the backup host holds only
 * the recipient file (the public half) and `create` wraps each archive's DEK to it; only
 * the identity file (the secret half) opens them. Both load into a keyring of provider
 * "x25519" (key slots of provider id 2, key version 0 "none": archive format 2). Anyone
 * holding the recipient file can make an archive that the identity opens, so a reader
 * that opened an archive through such a slot must check who produced it
 * (smar_reader_unlocked_by_public_key, smar_reader_check_signer).
 *
 *   smar_keyring_generate_identity(kr, NULL);             // id "x25519-" + 16 hex
 *   smar_keyring_save_identity(kr, "dr.key", NULL, 0);    // 0600: keep it offline
 *   smar_keyring_save_recipient(kr, "dr.key.pub", 0);     // 0644: for the backup host
 *   ...
 *   smar_keyring_load_recipient(kr2, "dr.key.pub");       // wraps; unwrap: SMAR_E_NOTFOUND
 */

/** X25519 public key bytes. */
#define SMAR_RECIPIENT_PUBLIC_BYTES 32

/** Make a new X25519 identity in kr (new, empty). key_id NULL: "x25519-" and the first 8
 *  bytes of the public key in hex. SMAR_E_INVALID when kr holds a key or key_id is not a
 *  valid key id (1..SMAR_KEY_ID_MAX printable ASCII bytes, no spaces). */
SMAR_API int smar_keyring_generate_identity(smar_keyring *kr, const char *key_id);

/** Load an identity file into kr (new, empty): same rules as smar_keyring_load (mode
 *  checked, passphrase when sealed: SMAR_E_PASSPHRASE). The keyring wraps and unwraps. */
SMAR_API int smar_keyring_load_identity(smar_keyring *kr, const char *path, const char *passphrase);

/** Load a recipient file (or the public half of an identity file, read without its
 *  secret) into kr (new, empty); the file mode is not checked. The keyring wraps; its
 *  unwrap fails with SMAR_E_NOTFOUND ("a recipient (public key) cannot open archives; use
 *  its identity file"), so a reader reports SMAR_E_KEY. SMAR_E_IO, SMAR_E_FORMAT (not a
 *  recipient file, malformed, or a low-order public key). */
SMAR_API int smar_keyring_load_recipient(smar_keyring *kr, const char *path);

/** Save an identity (0600, atomic, flags and passphrase as smar_keyring_save).
 *  SMAR_E_INVALID when kr holds no identity (a recipient, another provider's key). */
SMAR_API int smar_keyring_save_identity(const smar_keyring *kr, const char *path,
                                        const char *passphrase, unsigned flags);

/** Save the recipient (public half) of an identity or recipient keyring (0644, atomic). */
SMAR_API int smar_keyring_save_recipient(const smar_keyring *kr, const char *path, unsigned flags);

/** 1 when kr holds a recipient only (it wraps, never unwraps), else 0. */
SMAR_API int smar_keyring_is_recipient(const smar_keyring *kr);

/** The X25519 public key of an identity or recipient keyring: SMAR_OK, or SMAR_E_INVALID
 *  (another provider's keyring; pk is then zeroed). */
SMAR_API int smar_keyring_recipient_public(const smar_keyring *kr,
                                           uint8_t pk[SMAR_RECIPIENT_PUBLIC_BYTES]);

/* ---- producer signing keys (Ed25519) ------------------------------------------------ */

#define SMAR_SIGN_PUBLIC_BYTES 32

SMAR_API int smar_signkey_new(smar_signkey **out);
SMAR_API void smar_signkey_free(smar_signkey *sk);
SMAR_API const char *smar_signkey_error(const smar_signkey *sk);
/** Make a new Ed25519 key pair. */
SMAR_API int smar_signkey_generate(smar_signkey *sk);
/** Load a secret signing key file (same rules as smar_keyring_load). */
SMAR_API int smar_signkey_load(smar_signkey *sk, const char *path, const char *passphrase);
/** Save the secret key (0600, atomic, same rules as smar_keyring_save). */
SMAR_API int smar_signkey_save(const smar_signkey *sk, const char *path, const char *passphrase,
                               unsigned flags);
/** Save only the public key, for auditors (mode 0644, atomic). */
SMAR_API int smar_signkey_save_public(const smar_signkey *sk, const char *path, unsigned flags);
/** The public key (all zero bytes when the handle holds none). */
SMAR_API void smar_signkey_public(const smar_signkey *sk, uint8_t pk[SMAR_SIGN_PUBLIC_BYTES]);

/**
 * Load only the public key from a public key file written by smar_signkey_save_public() (or
 * from a secret key file, whose public half is used; no passphrase is needed, the file mode
 * is not checked), into a new, empty handle: smar_signkey_public() then gives it and
 * smar_signkey_save_public() writes it; signing, smar_signkey_save and
 * smar_writer_set_signer give SMAR_E_INVALID. Returns SMAR_OK, SMAR_E_IO (unreadable),
 * SMAR_E_FORMAT (not a signing key file, malformed) or SMAR_E_INVALID (path NULL, or the
 * handle holds a key already); smar_signkey_error() says why, naming the file.
 */
SMAR_API int smar_signkey_load_public(smar_signkey *sk, const char *path);

/** Lowercase hex fingerprint of a public key (first 16 bytes of BLAKE2b-256), written to
 *  out as 32 characters and a NUL. */
SMAR_API void smar_signkey_fingerprint(const uint8_t pk[SMAR_SIGN_PUBLIC_BYTES], char out[33]);

#ifdef __cplusplus
}
#endif
#endif
