/*
 * strset.c - a set of strings that remembers insertion order (strset.h).
 */
#include "strset.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t str_hash(const char *k)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)k; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    return h;
}

/* The slot holding key, or the empty slot where it would go. nslots must be > 0. */
static size_t strset_slot(const strset *set, const char *key)
{
    size_t mask = set->nslots - 1;
    size_t i = (size_t)str_hash(key) & mask;
    while (set->slots[i] != 0 && strcmp(set->keys[set->slots[i] - 1], key) != 0)
        i = (i + 1) & mask;
    return i;
}

bool strset_has(const strset *set, const char *key)
{
    if (set->nslots == 0)
        return false;
    return set->slots[strset_slot(set, key)] != 0;
}

static int strset_rehash(strset *set)
{
    size_t n = set->nslots == 0 ? 16 : set->nslots;
    while (n / 2 < set->count + 1) {
        if (n > SIZE_MAX / (2 * sizeof(size_t)))
            return SMAR_E_NOMEM;
        n *= 2;
    }
    size_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return SMAR_E_NOMEM;
    free(set->slots);
    set->slots = slots;
    set->nslots = n;
    for (size_t k = 0; k < set->count; k++)
        set->slots[strset_slot(set, set->keys[k])] = k + 1;
    return SMAR_OK;
}

static int strset_push_key(strset *set, const char *key)
{
    if (set->count == set->keys_cap) {
        size_t cap = set->keys_cap == 0 ? 16 : set->keys_cap * 2;
        if (cap > SIZE_MAX / sizeof(char *))
            return SMAR_E_NOMEM;
        char **grown = realloc(set->keys, cap * sizeof *grown);
        if (grown == NULL)
            return SMAR_E_NOMEM;
        set->keys = grown;
        set->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (copy == NULL)
        return SMAR_E_NOMEM;
    set->keys[set->count++] = copy;
    return SMAR_OK;
}

/* Add key unless present; *added (may be NULL) says which. SMAR_OK or SMAR_E_NOMEM. */
int strset_add(strset *set, const char *key, bool *added)
{
    if (added != NULL)
        *added = false;
    if (set->nslots / 2 < set->count + 1) {
        int rc = strset_rehash(set);
        if (rc != SMAR_OK)
            return rc;
    }
    size_t i = strset_slot(set, key);
    if (set->slots[i] != 0)
        return SMAR_OK;
    int rc = strset_push_key(set, key);
    if (rc != SMAR_OK)
        return rc;
    set->slots[i] = set->count;
    if (added != NULL)
        *added = true;
    return SMAR_OK;
}

void strset_free(strset *set)
{
    for (size_t k = 0; k < set->count; k++)
        smar_wipe_free_str(set->keys[k]); /* ids and names are kept out of freed memory */
    free(set->keys);
    free(set->slots);
    memset(set, 0, sizeof *set);
}
