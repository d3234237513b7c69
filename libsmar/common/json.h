/*
 * json.h - strict RFC 8259 JSON scanning that keeps the original text.
 *
 * smar must give back every value of an instance export exactly as it was written
 * (12345678901234567890 stays that, "\u00e9" stays that), so values are never converted:
 * callers work with spans of the original text. cJSON is used elsewhere only where that
 * does not matter (keyrings, --json output).
 *
 * json_validate() must succeed on a text before any other call is used on spans within it;
 * the iterators then trust well-formedness and never read outside the span.
 */
#ifndef SMAR_JSON_H
#define SMAR_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef struct smar_span {
    const char *p;
    size_t n;
} smar_span;

typedef enum smar_json_kind {
    SMAR_JSON_INVALID = 0,
    SMAR_JSON_OBJECT,
    SMAR_JSON_ARRAY,
    SMAR_JSON_STRING,
    SMAR_JSON_NUMBER,
    SMAR_JSON_TRUE,
    SMAR_JSON_FALSE,
    SMAR_JSON_NULL,
} smar_json_kind;

#define SMAR_JSON_MAX_DEPTH 64

/*
 * Check that text holds exactly one JSON value (surrounding whitespace allowed), strictly:
 * UTF-8 must be valid (no overlongs, no surrogates encoded directly), strings contain no
 * raw control characters, escapes are the RFC's, \u surrogates come in valid pairs
 * (a lone \ud800 is rejected), numbers follow the RFC grammar, nesting <= max_depth,
 * objects have no duplicate keys. On success *value is the value without the whitespace.
 * On failure returns false and writes a short reason with the byte offset into err
 * (e.g. "invalid escape at byte 1234"); never echoes the input text.
 */
bool smar_json_validate(smar_span text, unsigned max_depth, smar_span *value, char *err,
                        size_t errlen);

/* Kind of a validated value span (looks at its first byte). */
smar_json_kind smar_json_kind_of(smar_span value);

/* Iterate the members of a validated object or elements of a validated array. */
typedef struct smar_json_iter {
    const char *p;
    const char *end;
} smar_json_iter;

void smar_json_iter_init(smar_json_iter *it, smar_span container);
/* Next object member: key is the raw string token including its quotes, value is the raw
 * value. Returns false at the end. */
bool smar_json_next_member(smar_json_iter *it, smar_span *key, smar_span *value);
/* Next array element. Returns false at the end. */
bool smar_json_next_element(smar_json_iter *it, smar_span *value);

/* Find member `name` (compared after unescaping the key) of a validated object. */
bool smar_json_get(smar_span object, const char *name, smar_span *value);

/*
 * The members of a validated object, found in one walk, for reading several fields of
 * it: smar_json_get walks the object's text up to the member each time (stepping over
 * every value before it: versions, payloads), which made field lookups the largest cost
 * of reading an export. An object with more members than fit falls back to
 * smar_json_get; the answers are the same either way.
 */
#define SMAR_JSON_FIELDS_MAX 64
typedef struct smar_json_fields {
    smar_span object;
    size_t n;
    bool overflow;
    smar_span key[SMAR_JSON_FIELDS_MAX];
    smar_span value[SMAR_JSON_FIELDS_MAX];
} smar_json_fields;

void smar_json_fields_init(smar_json_fields *f, smar_span object);
/* smar_json_next_element that also fills *f as smar_json_fields_init would on the element
 * (no members when it is not an object), walking it once instead of twice. */
bool smar_json_next_element_fields(smar_json_iter *it, smar_span *value, smar_json_fields *f);
/* smar_json_validate that also fills *fields, as smar_json_fields_init would on the value
 * found, in the same walk: for a caller that validates an object to read its fields. On
 * failure fields holds nothing. */
bool smar_json_validate_fields(smar_span text, unsigned max_depth, smar_span *value,
                               smar_json_fields *fields, char *err, size_t errlen);
bool smar_json_fields_get(const smar_json_fields *f, const char *name, smar_span *value);

/* Every member in order, from the table (walking the object when it overflowed). */
typedef struct smar_json_fields_iter {
    const smar_json_fields *f;
    size_t i;
    smar_json_iter walk;
} smar_json_fields_iter;

void smar_json_fields_iter_init(smar_json_fields_iter *it, const smar_json_fields *f);
bool smar_json_fields_next(smar_json_fields_iter *it, smar_span *key, smar_span *value);

/*
 * Decode a validated string token (with quotes) into UTF-8. out may be NULL to measure.
 * Writes at most cap bytes, sets *len to the full decoded length, and returns false when
 * cap is too small. The output is not NUL-terminated and may contain NUL bytes (\u0000).
 */
bool smar_json_string_decode(smar_span token, char *out, size_t cap, size_t *len);

/* Decode a string token into a new NUL-terminated malloc'd string; NULL if the decoded
 * text contains a NUL byte or memory runs out. */
char *smar_json_string_dup(smar_span token);

/* The instance an export document (a validated object) names: "instance"."crn", else
 * "instance"."guid", decoded into *out (malloc'ed), or *out NULL when it names neither.
 * false when out of memory. */
bool smar_json_document_instance(smar_span document, char **out);

/* True when the decoded string token equals s exactly. */
bool smar_json_string_eq(smar_span token, const char *s);

/* Append s (n bytes of UTF-8, may contain any byte) to buf as a JSON string token with
 * quotes, escaping ", \ and control characters. Returns 0 or -1 (no memory). */
struct smar_buf;
int smar_json_quote(struct smar_buf *buf, const char *s, size_t n);

#endif
