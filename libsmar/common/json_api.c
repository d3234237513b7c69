/*
 * json_api.c - the public face of the strict JSON scanner (smar/json.h): validate the whole
 * text once, then hand out spans of it.
 */
#include "smar/json.h"

#include <stdlib.h>

#include "internal.h"
#include "json.h"

static bool valid_kind(const char *json, size_t len, smar_json_kind kind, smar_span *value)
{
    char why[96];
    if (json == NULL)
        return false;
    return smar_json_validate((smar_span){json, len}, SMAR_JSON_MAX_DEPTH, value, why,
                              sizeof why) &&
           smar_json_kind_of(*value) == kind;
}

/* A member name decoded into *buf (grown as needed), NUL-terminated. */
static int decode_key(smar_span token, char **buf, size_t *cap, size_t *len)
{
    (void)smar_json_string_decode(token, NULL, 0, len);
    if (*len + 1 > *cap) {
        char *grown = realloc(*buf, *len + 1);
        if (grown == NULL)
            return SMAR_E_NOMEM;
        *buf = grown;
        *cap = *len + 1;
    }
    (void)smar_json_string_decode(token, *buf, *len, len);
    (*buf)[*len] = '\0';
    return SMAR_OK;
}

int smar_json_each_member(const char *json, size_t len, smar_json_member_cb cb, void *payload)
{
    smar_span obj, key, value;
    if (cb == NULL)
        return SMAR_E_INVALID;
    if (!valid_kind(json, len, SMAR_JSON_OBJECT, &obj))
        return SMAR_E_INPUT;
    char *name = NULL;
    size_t cap = 0;
    int rc = SMAR_OK;
    smar_json_iter it;
    smar_json_iter_init(&it, obj);
    while (rc == SMAR_OK && smar_json_next_member(&it, &key, &value)) {
        smar_json_member m = {NULL,    0,      key.p, (size_t)(value.p + value.n - key.p),
                              value.p, value.n};
        rc = decode_key(key, &name, &cap, &m.key_len);
        m.key = name;
        if (rc == SMAR_OK)
            rc = smar_callback_result(NULL, cb(&m, payload));
    }
    free(name);
    return rc;
}

int smar_json_each_element(const char *json, size_t len, smar_json_element_cb cb, void *payload)
{
    smar_span arr, value;
    if (cb == NULL)
        return SMAR_E_INVALID;
    if (!valid_kind(json, len, SMAR_JSON_ARRAY, &arr))
        return SMAR_E_INPUT;
    int rc = SMAR_OK;
    smar_json_iter it;
    smar_json_iter_init(&it, arr);
    while (rc == SMAR_OK && smar_json_next_element(&it, &value))
        rc = smar_callback_result(NULL, cb(value.p, value.n, payload));
    return rc;
}

int smar_json_find_member(const char *json, size_t len, const char *name, const char **value,
                          size_t *value_len)
{
    smar_span obj, v;
    if (name == NULL || value == NULL || value_len == NULL)
        return SMAR_E_INVALID;
    if (!valid_kind(json, len, SMAR_JSON_OBJECT, &obj))
        return SMAR_E_INPUT;
    if (!smar_json_get(obj, name, &v))
        return SMAR_E_NOTFOUND;
    *value = v.p;
    *value_len = v.n;
    return SMAR_OK;
}

int smar_json_unquote(const char *text, size_t len, char **out, size_t *out_len)
{
    smar_span token;
    if (out == NULL || out_len == NULL)
        return SMAR_E_INVALID;
    *out = NULL;
    *out_len = 0;
    if (!valid_kind(text, len, SMAR_JSON_STRING, &token))
        return SMAR_E_INPUT;
    size_t n = 0;
    (void)smar_json_string_decode(token, NULL, 0, &n);
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return SMAR_E_NOMEM;
    (void)smar_json_string_decode(token, buf, n, &n);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return SMAR_OK;
}
