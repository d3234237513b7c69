/*
 * subkeys.c - deriving an archive's subkeys from its DEK (subkeys.h).
 */
#include "subkeys.h"

#include <stddef.h>

#include "format.h"

smar_keys *smar_keys_derive(const uint8_t dek[SMAR_KEY_BYTES])
{
    return smar_keys_derive_format(SMAR_FORMAT_V1, dek);
}

smar_keys *smar_keys_derive_format(int format, const uint8_t dek[SMAR_KEY_BYTES])
{
    smar_keys *k = (smar_keys *)smar_secure_alloc(sizeof *k);
    if (!k)
        return NULL;
    bool v2 = format == SMAR_FORMAT_V2;
    memset(k, 0, sizeof *k);
    static const struct {
        uint64_t id;
        size_t off;
    } plan[] = {
        {SMAR_SUBKEY_HEADER_MAC, offsetof(smar_keys, header_mac)},
        {SMAR_SUBKEY_CHUNK, offsetof(smar_keys, chunk)},
        {SMAR_SUBKEY_ROOT_MAC, offsetof(smar_keys, root_mac)},
        {SMAR_SUBKEY_INDEX, offsetof(smar_keys, index)},
        {SMAR_SUBKEY_PAYLOAD_HASH, offsetof(smar_keys, payload_hash)},
        {SMAR_SUBKEY_EXPORT_DIGEST, offsetof(smar_keys, export_digest)},
    };
    /* format 2 has no header MAC: its subkey id 1 is unused */
    /* format 1 has no export digests: its plan stops before them */
    size_t end = v2 ? SMAR_ARRAY_LEN(plan) : SMAR_ARRAY_LEN(plan) - 1;
    for (size_t i = v2 ? 1 : 0; i < end; i++)
        smar_kdf_derive((uint8_t *)k + plan[i].off, plan[i].id,
                        v2 ? SMAR_KDF_CONTEXT2 : SMAR_KDF_CONTEXT, dek);
    return k;
}

void smar_keys_free(smar_keys *k)
{
    smar_secure_free(k);
}
