/*
 * fuzz_keyring.c - key files (keyring.c, signkey.c, keyfile.c): the bytes as a file of mode
 * 0600 loaded as a keyring (smar_keyring_load), a signing key (smar_signkey_load) and a
 * public key (smar_signkey_load_public), without a passphrase and with "x".
 *
 * A sealed file names its own Argon2id cost, bounded by the library to 16 passes and 1 GiB;
 * running that on every input would only measure Argon2id, so the passphrase is given only
 * when the file asks for at most 3 passes and 1 MiB (seeds from fuzz/make_seeds.c do).
 * Files asking for more still go through every check up to the key derivation.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "common.h"

#define CHEAP_OPSLIMIT 3
#define CHEAP_MEMLIMIT (1 << 20)

static bool kdf_is_cheap(const uint8_t *data, size_t size)
{
    bool cheap = true;
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    const cJSON *prot = cJSON_GetObjectItemCaseSensitive(root, "protection");
    if (cJSON_IsObject(prot)) {
        const cJSON *ops = cJSON_GetObjectItemCaseSensitive(prot, "opslimit");
        const cJSON *mem = cJSON_GetObjectItemCaseSensitive(prot, "memlimit");
        if (!cJSON_IsNumber(ops) || ops->valuedouble > CHEAP_OPSLIMIT || !cJSON_IsNumber(mem) ||
            mem->valuedouble > CHEAP_MEMLIMIT)
            cheap = false;
    }
    cJSON_Delete(root);
    return cheap;
}

static void load_keyring(const char *path, const char *passphrase)
{
    smar_keyring *kr;
    if (smar_keyring_new(&kr) != SMAR_OK)
        return;
    int rc = smar_keyring_load(kr, path, passphrase);
    if (rc == SMAR_OK) {
        size_t n = smar_keyring_version_count(kr);
        FZ_CHECK(n >= 1 && n <= SMAR_KEY_VERSIONS_MAX);
        FZ_CHECK(strlen(smar_keyring_id(kr)) <= SMAR_KEY_ID_MAX);
        for (size_t i = 0; i < n; i++) {
            uint32_t version;
            smar_time_ns created;
            FZ_CHECK(smar_keyring_version_info(kr, i, &version, &created) == SMAR_OK);
            FZ_CHECK(version == i + 1);
        }
        FZ_CHECK(smar_keyring_current_version(kr) == n);
        FZ_CHECK(smar_keyring_provider(kr) != NULL);
    } else {
        FZ_CHECK(rc < 0 && smar_keyring_error(kr)[0] != '\0');
    }
    smar_keyring_free(kr);
}

static void load_signkey(const char *path, const char *passphrase)
{
    smar_signkey *sk;
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    char fp[33];
    if (smar_signkey_new(&sk) != SMAR_OK)
        return;
    if (smar_signkey_load(sk, path, passphrase) == SMAR_OK) {
        smar_signkey_public(sk, pk);
        smar_signkey_fingerprint(pk, fp);
    } else {
        FZ_CHECK(smar_signkey_error(sk)[0] != '\0');
    }
    smar_signkey_free(sk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pk[SMAR_SIGN_PUBLIC_BYTES];
    fz_init();
    const char *path = fz_tmp_path("key");
    if (fz_write_file(path, data, size, 0600) != 0)
        abort();
    bool cheap = kdf_is_cheap(data, size);
    load_keyring(path, NULL);
    if (cheap)
        load_keyring(path, "x");
    load_signkey(path, NULL);
    if (cheap)
        load_signkey(path, "x");
    smar_signkey *pub = NULL;
    FZ_CHECK(smar_signkey_new(&pub) == SMAR_OK);
    if (smar_signkey_load_public(pub, path) == SMAR_OK)
        smar_signkey_public(pub, pk);
    else
        FZ_CHECK(smar_signkey_error(pub)[0] != '\0');
    smar_signkey_free(pub);
    return 0;
}
