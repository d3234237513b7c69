/*
 * keyprov_pkcs11.h - inside the keys layer: the parts of the PKCS#11 provider
 * (keyprov_pkcs11.c) that need no token, shared with its unit tests: what a URI says, the
 * key id a slot records, and how a PKCS#11 return value is classed.
 */
#ifndef SMAR_KEYPROV_PKCS11_H
#define SMAR_KEYPROV_PKCS11_H

#include "keyprov.h"

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

/* The slot provider id of a PKCS#11 key (archive format 2 assigns 3 to pkcs11). */
#define SMAR_PROVIDER_SLOT_PKCS11 3

/* Longest CKA_LABEL (bytes) smar looks keys up by. */
#define SMAR_P11_LABEL_MAX 255
/* Longest PIN (bytes) read from a PIN file or the URI. */
#define SMAR_P11_PIN_MAX 256

/* Blob layouts: a mechanism tag byte, then the mechanism's output. */
#define SMAR_P11_TAG_GCM         1 /* iv(12) || ciphertext(32) || tag(16) */
#define SMAR_P11_TAG_KWP         2 /* CKM_AES_KEY_WRAP_PAD(DEK || BLAKE2b-256(aad)) (72) */
#define SMAR_P11_GCM_IV_BYTES    12
#define SMAR_P11_GCM_TAG_BYTES   16
#define SMAR_P11_GCM_BLOB_BYTES  (1 + SMAR_P11_GCM_IV_BYTES + 32 + SMAR_P11_GCM_TAG_BYTES)
#define SMAR_P11_KWP_PLAIN_BYTES (32 + 32)
#define SMAR_P11_KWP_BLOB_BYTES  (1 + SMAR_P11_KWP_PLAIN_BYTES + 8)

/* What an RFC 7512 URI names, after p11-kit parsed it. */
typedef struct smar_p11_uri {
    P11KitUri *uri;                      /* the token attributes, for matching tokens */
    char object[SMAR_P11_LABEL_MAX + 1]; /* the key's CKA_LABEL (object=) */
    char *module_path;                   /* module-path=, or NULL */
    char *pin_file;                      /* pin-source= without "file:", or NULL */
    char *pin_value;                     /* pin-value= (smar_secure_alloc), or NULL */
} smar_p11_uri;

/* Parse text (SMAR_E_INVALID with a message that never repeats a pin-value). On success
 * *out owns what it points to: smar_p11_uri_clear() releases it (wiping the PIN). */
int smar_p11_uri_parse(const char *text, smar_p11_uri *out, smar_err *e);
void smar_p11_uri_clear(smar_p11_uri *u);

/* The key id a slot records: "pkcs11:token=T;object=O" as p11-kit writes it (escaping
 * included), token the token's label without padding. SMAR_E_INVALID when it does not fit
 * out or is no valid key id. */
int smar_p11_key_id(const char *token, const char *object, char *out, size_t out_len, smar_err *e);

/* The provider status (smar/provider.h) for a PKCS#11 return value; opening: the value came
 * from decrypting a blob, where a token's generic failure means "does not open". */
int smar_p11_status(CK_RV rv, bool opening);

#endif
