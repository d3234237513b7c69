/*
 * p11-nogcm.c - a PKCS#11 module for tests: a token without CKM_AES_GCM, so smar's
 * CKM_AES_KEY_WRAP_PAD fallback can be tested on SoftHSM2 (which offers GCM, and AES key
 * wrap only as C_WrapKey). It forwards everything to the real module named by
 * $SMAR_TEST_P11_REAL except:
 *   - C_GetMechanismInfo: no CKM_AES_GCM; CKM_AES_KEY_WRAP_PAD can encrypt and decrypt;
 *   - C_EncryptInit/C_Encrypt and C_DecryptInit/C_Decrypt with CKM_AES_KEY_WRAP_PAD:
 *     RFC 5649 computed here, every AES block through the real token's CKM_AES_ECB, so the
 *     key stays sensitive in the real token.
 * One pending key wrap per session is enough for smar (one call at a time). Not a product.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define MAX_SESSIONS 64

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;

/* A CKM_AES_KEY_WRAP_PAD operation begun by C_EncryptInit / C_DecryptInit. */
typedef struct pending {
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int active;
} pending;
static pending ops[MAX_SESSIONS];

static pending *op_for(CK_SESSION_HANDLE session, int create)
{
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (ops[i].active && ops[i].session == session)
            return &ops[i];
    for (int i = 0; create && i < MAX_SESSIONS; i++)
        if (!ops[i].active)
            return &ops[i];
    return NULL;
}

/* One AES block (16 bytes in place) with the real token's CKM_AES_ECB. */
static CK_RV aes_block(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int encrypt, uint8_t block[16])
{
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    uint8_t out[16];
    CK_ULONG len = sizeof out;
    CK_RV rv = encrypt ? real->C_EncryptInit(s, &ecb, key) : real->C_DecryptInit(s, &ecb, key);
    if (rv == CKR_OK)
        rv = encrypt ? real->C_Encrypt(s, block, 16, out, &len)
                     : real->C_Decrypt(s, block, 16, out, &len);
    if (rv == CKR_OK)
        memcpy(block, out, 16);
    return rv;
}

static void xor_counter(uint8_t a[8], uint64_t t)
{
    for (int b = 7; b >= 0; b--, t >>= 8)
        a[b] ^= (uint8_t)t;
}

/* RFC 5649 wrap of in (any length 1..512) into out (padded length + 8). */
static CK_RV kwp_wrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const uint8_t *in, size_t len,
                      uint8_t *out, CK_ULONG *out_len)
{
    size_t padded = (len + 7) / 8 * 8, n = padded / 8;
    if (len == 0 || len > 512 || *out_len < padded + 8)
        return CKR_DATA_LEN_RANGE;
    uint8_t a[8] = {0xa6,
                    0x59,
                    0x59,
                    0xa6,
                    (uint8_t)(len >> 24),
                    (uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len};
    uint8_t r[512 + 8] = {0};
    memcpy(r, in, len);
    uint8_t b[16];
    CK_RV rv = CKR_OK;
    if (n == 1) {
        memcpy(b, a, 8);
        memcpy(b + 8, r, 8);
        rv = aes_block(s, key, 1, b);
        memcpy(out, b, 16);
    } else {
        for (uint64_t j = 0; j < 6 && rv == CKR_OK; j++)
            for (size_t i = 0; i < n && rv == CKR_OK; i++) {
                memcpy(b, a, 8);
                memcpy(b + 8, r + 8 * i, 8);
                rv = aes_block(s, key, 1, b);
                memcpy(a, b, 8);
                xor_counter(a, n * j + i + 1);
                memcpy(r + 8 * i, b + 8, 8);
            }
        memcpy(out, a, 8);
        memcpy(out + 8, r, padded);
    }
    *out_len = (CK_ULONG)(padded + 8);
    return rv;
}

static CK_RV kwp_unwrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const uint8_t *in, size_t len,
                        uint8_t *out, CK_ULONG *out_len)
{
    if (len < 16 || len % 8 != 0 || len > 520)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t n = len / 8 - 1;
    uint8_t a[8], r[512], b[16];
    CK_RV rv = CKR_OK;
    if (n == 1) {
        memcpy(b, in, 16);
        rv = aes_block(s, key, 0, b);
        memcpy(a, b, 8);
        memcpy(r, b + 8, 8);
    } else {
        memcpy(a, in, 8);
        memcpy(r, in + 8, 8 * n);
        for (uint64_t j = 6; j-- > 0 && rv == CKR_OK;)
            for (size_t i = n; i-- > 0 && rv == CKR_OK;) {
                xor_counter(a, n * j + i + 1);
                memcpy(b, a, 8);
                memcpy(b + 8, r + 8 * i, 8);
                rv = aes_block(s, key, 0, b);
                memcpy(a, b, 8);
                memcpy(r + 8 * i, b + 8, 8);
            }
    }
    if (rv != CKR_OK)
        return rv;
    size_t mli = (size_t)a[4] << 24 | (size_t)a[5] << 16 | (size_t)a[6] << 8 | a[7];
    if (a[0] != 0xa6 || a[1] != 0x59 || a[2] != 0x59 || a[3] != 0xa6 || mli > 8 * n ||
        mli <= 8 * (n - 1))
        return CKR_ENCRYPTED_DATA_INVALID;
    for (size_t i = mli; i < 8 * n; i++)
        if (r[i] != 0)
            return CKR_ENCRYPTED_DATA_INVALID;
    if (*out_len < mli)
        return CKR_BUFFER_TOO_SMALL;
    memcpy(out, r, mli);
    *out_len = (CK_ULONG)mli;
    return CKR_OK;
}

static CK_RV shim_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                   CK_MECHANISM_INFO_PTR info)
{
    if (type == CKM_AES_GCM)
        return CKR_MECHANISM_INVALID;
    if (type == CKM_AES_KEY_WRAP_PAD) {
        info->ulMinKeySize = 16;
        info->ulMaxKeySize = 32;
        info->flags = CKF_ENCRYPT | CKF_DECRYPT;
        return CKR_OK;
    }
    return real->C_GetMechanismInfo(slot, type, info);
}

static CK_RV begin(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key, int encrypt)
{
    if (mech->mechanism == CKM_AES_GCM)
        return CKR_MECHANISM_INVALID;
    if (mech->mechanism != CKM_AES_KEY_WRAP_PAD)
        return encrypt ? real->C_EncryptInit(s, mech, key) : real->C_DecryptInit(s, mech, key);
    pending *p = op_for(s, 1);
    if (p == NULL)
        return CKR_SESSION_COUNT;
    *p = (pending){s, key, 1};
    return CKR_OK;
}

static CK_RV shim_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    return begin(s, mech, key, 1);
}

static CK_RV shim_DecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    return begin(s, mech, key, 0);
}

static CK_RV shim_Encrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    pending *p = op_for(s, 0);
    if (p == NULL)
        return real->C_Encrypt(s, in, in_len, out, out_len);
    p->active = 0;
    return kwp_wrap(s, p->key, in, in_len, out, out_len);
}

static CK_RV shim_Decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    pending *p = op_for(s, 0);
    if (p == NULL)
        return real->C_Decrypt(s, in, in_len, out, out_len);
    p->active = 0;
    return kwp_unwrap(s, p->key, in, in_len, out, out_len);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (real == NULL) {
        const char *path = getenv("SMAR_TEST_P11_REAL");
        void *lib = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_C_GetFunctionList get = NULL;
        if (lib != NULL)
            *(void **)&get = dlsym(lib, "C_GetFunctionList");
        if (get == NULL || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        shim = *real;
        shim.C_GetFunctionList = C_GetFunctionList;
        shim.C_GetMechanismInfo = shim_GetMechanismInfo;
        shim.C_EncryptInit = shim_EncryptInit;
        shim.C_DecryptInit = shim_DecryptInit;
        shim.C_Encrypt = shim_Encrypt;
        shim.C_Decrypt = shim_Decrypt;
    }
    *list = &shim;
    return CKR_OK;
}
