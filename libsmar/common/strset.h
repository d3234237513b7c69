/*
 * strset.h - a set of strings in insertion order: open addressing over indexes into the
 * list of keys, so selecting among a million secrets stays linear and the keys come back
 * in the order they were first added. Keys are copied.
 */
#ifndef SMAR_STRSET_H
#define SMAR_STRSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strset {
    char **keys; /* owned copies, insertion order */
    size_t count;
    size_t keys_cap;
    size_t *slots; /* index + 1 into keys; 0 = empty */
    size_t nslots; /* a power of two, or 0 */
} strset;

bool strset_has(const strset *set, const char *key);
/* Add key unless present; *added (may be NULL) says which. SMAR_OK or SMAR_E_NOMEM. */
int strset_add(strset *set, const char *key, bool *added);
void strset_free(strset *set);

#endif
