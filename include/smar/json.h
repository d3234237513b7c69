/*
 * smar/json.h - taking apart the JSON text libsmar hands out, without changing it.
 *
 * Rendered secrets, payloads and stored export documents are JSON text whose values must
 * stay byte for byte as exported (12345678901234567890 stays that, "\u00e9" stays that).
 * These calls use the same strict scanner libsmar reads exports with (RFC 8259, UTF-8
 * checked, no duplicate member names) and hand out spans of the original text, so a
 * program never needs a JSON library of its own to split a secret into files or to find
 * one member. Every call checks the whole text first: nothing is returned from invalid
 * JSON. Spans point into the caller's text and live as long as it does.
 *
 *   const char *v; size_t n;
 *   if (smar_json_find_member(secret, len, "created_at", &v, &n) == SMAR_OK) ...
 */
#ifndef SMAR_JSON_PUBLIC_H
#define SMAR_JSON_PUBLIC_H

#include "smar/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One member of an object, as smar_json_each_member hands it out. */
typedef struct smar_json_member {
    const char *key; /**< decoded name, NUL-terminated; may hold NUL bytes (key_len counts) */
    size_t key_len;
    const char *member; /**< the raw text of the whole member: "name":value */
    size_t member_len;
    const char *value; /**< the raw text of its value */
    size_t value_len;
} smar_json_member;

/** Called for each member in order; m and its key are valid during the call only. Return
 *  0 to go on, a positive value (SMAR_STOP) to stop: the walking call then returns it. A
 *  negative return is refused: the walking call returns SMAR_E_INVALID. */
typedef int (*smar_json_member_cb)(const smar_json_member *m, void *payload);
/** Called for each element of an array with its raw text; same return rule. */
typedef int (*smar_json_element_cb)(const char *value, size_t len, void *payload);

/** Every member of the object text json. SMAR_OK, SMAR_E_INPUT (not one valid JSON object),
 *  SMAR_E_NOMEM, SMAR_E_INVALID (no callback, or it returned a negative value), or the
 *  callback's stop value. */
SMAR_API int smar_json_each_member(const char *json, size_t len, smar_json_member_cb cb,
                                   void *payload);

/** Every element of the array text json. SMAR_OK, SMAR_E_INPUT (not one valid JSON array),
 *  SMAR_E_INVALID (no callback, or it returned a negative value), or the callback's stop
 *  value. */
SMAR_API int smar_json_each_element(const char *json, size_t len, smar_json_element_cb cb,
                                    void *payload);

/** The raw value text of member name of the object text json. SMAR_OK, SMAR_E_NOTFOUND,
 *  SMAR_E_INPUT (not one valid JSON object). */
SMAR_API int smar_json_find_member(const char *json, size_t len, const char *name,
                                   const char **value, size_t *value_len);

/** Decode a JSON string value (its text with the quotes) to bytes: *out is allocated and
 *  NUL-terminated, *out_len excludes the NUL and counts any NUL bytes inside. Free with
 *  smar_secret_buffer_free(*out, *out_len) (it may hold a secret). SMAR_E_INPUT when the
 *  text is not one valid JSON string. */
SMAR_API int smar_json_unquote(const char *text, size_t len, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
