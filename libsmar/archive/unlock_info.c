/*
 * unlock_info.c - what opened an unlocked archive: which key slot, and whether the keyring
 * that opened it wraps to a public key (smar_reader_unlocked_by_public_key).
 *
 * A key slot made for a public-key recipient proves nothing about its maker: anyone holding
 * the recipient file can write a complete archive that the identity opens. Readers that
 * opened an archive that way must therefore check who signed it.
 */
#include "keyring_internal.h"
#include "reader_internal.h"

void smar_reader_note_opener(smar_reader *r, unsigned slot, const smar_keyring *kr)
{
    r->opened_by.slot = slot;
    /* Asked now: the keyrings are the caller's again once unlock returns. */
    r->opened_by.public_wrap = smar_keyring_public_wrap(kr);
}

int smar_reader_unlocked_by_public_key(smar_reader *r)
{
    if (r == NULL)
        return SMAR_E_INVALID;
    if (r->state != R_UNLOCKED)
        return smar_fail(&r->err, SMAR_E_INVALID,
                         "unlocked_by_public_key: the archive is not unlocked");
    return r->opened_by.public_wrap ? 1 : 0;
}
