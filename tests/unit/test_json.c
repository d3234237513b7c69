/*
 * test_json.c - strict JSON validation, raw spans, string decoding and quoting
 * (libsmar/common/json.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "json.h"
#include "smar/json.h"
#include "testutil.h"

/* A span over a string literal; sizeof keeps embedded NUL bytes. */
#define SPAN(lit) ((smar_span){(lit), sizeof(lit) - 1})

static smar_span span_of(const char *s)
{
    return (smar_span){s, strlen(s)};
}

static bool span_is(smar_span sp, const char *want)
{
    return sp.n == strlen(want) && memcmp(sp.p, want, sp.n) == 0;
}

#define assert_span(sp, want)                                                                      \
    do {                                                                                           \
        smar_span sp_ = (sp);                                                                      \
        if (!span_is(sp_, (want)))                                                                 \
            fail_msg("span '%.*s' != '%s'", (int)sp_.n, sp_.p, (want));                            \
    } while (0)

/* Every reason the validator may give; the message must be one of these plus the offset,
 * which shows no input text leaks into it. */
static const char *const known_reasons[] = {
    "empty input",
    "unexpected end of input",
    "unexpected character",
    "unexpected data after value",
    "invalid literal",
    "invalid number",
    "leading zero in number",
    "unterminated string",
    "control character in string",
    "invalid UTF-8",
    "invalid escape",
    "invalid \\u escape",
    "unpaired surrogate escape",
    "expected string key",
    "expected ':'",
    "expected ',' or '}'",
    "expected ',' or ']'",
    "nesting too deep",
    "duplicate object key",
};

/* Checks err is "<known reason> at byte <N>" with N <= len; returns N. */
static size_t check_error_message(const char *err, size_t len)
{
    const char *at = strstr(err, " at byte ");
    if (at == NULL)
        fail_msg("error message without offset: '%s'", err);
    bool known = false;
    for (size_t i = 0; i < SMAR_ARRAY_LEN(known_reasons); i++) {
        size_t n = strlen(known_reasons[i]);
        if ((size_t)(at - err) == n && memcmp(err, known_reasons[i], n) == 0)
            known = true;
    }
    if (!known)
        fail_msg("unknown reason in '%s'", err);
    char *end;
    unsigned long long offset = strtoull(at + 9, &end, 10);
    if (*end != '\0' || end == at + 9 || offset > len)
        fail_msg("bad offset in '%s' (input length %zu)", err, len);
    return (size_t)offset;
}

static bool validate(smar_span text, smar_span *value, char *err, size_t errlen)
{
    return smar_json_validate(text, SMAR_JSON_MAX_DEPTH, value, err, errlen);
}

/* ---- accepted and rejected inputs ------------------------------------------------------ */

typedef struct json_case {
    const char *text;
    size_t len;
    const char *reason; /* for rejected inputs: expected reason, NULL = any */
} json_case;

#define OK(lit)                                                                                    \
    {                                                                                              \
        (lit), sizeof(lit) - 1, NULL                                                               \
    }
#define BAD(lit, reason)                                                                           \
    {                                                                                              \
        (lit), sizeof(lit) - 1, (reason)                                                           \
    }

static const json_case valid_cases[] = {
    OK("0"),
    OK("-0"),
    OK("1"),
    OK("-1"),
    OK("12345678901234567890"),
    OK("0.1000000000000000055511151231257827"),
    OK("1e10"),
    OK("1E+10"),
    OK("1e-10"),
    OK("-0.0e0"),
    OK("1.5E3"),
    OK("10"),
    OK("100e000"),
    OK("true"),
    OK("false"),
    OK("null"),
    OK("\"\""),
    OK("\"abc\""),
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    OK("\"\\u0000\""),
    OK("\"\\u001f\""),
    OK("\"\\uD83D\\uDE00\""),
    OK("\"\\ud83d\\ude00\""),
    OK("\"\\udbff\\udfff\""),
    OK("\"\\uFFFF\\uabcd\""),
    OK("\"\xc3\xa9\""),
    OK("\"\xc2\x80\""),
    OK("\"\xdf\xbf\""),
    OK("\"\xe0\xa0\x80\""),
    OK("\"\xe2\x82\xac\""),
    OK("\"\xed\x9f\xbf\""),
    OK("\"\xee\x80\x80\""),
    OK("\"\xef\xbf\xbf\""),
    OK("\"\xf0\x90\x80\x80\""),
    OK("\"\xf0\x9f\x98\x80\""),
    OK("\"\xf4\x8f\xbf\xbf\""),
    OK("\"\x7f\""),
    OK("\"\\u00e9\""),
    OK("[]"),
    OK("{}"),
    OK("[ ]"),
    OK("{ }"),
    OK("[1,2,3]"),
    OK(" \t\r\n[ 1 , {\"a\" : [ ] } ]\n "),
    OK("{\"a\":1,\"b\":2}"),
    OK("{\"a\":{\"a\":1}}"),
    OK("{\"a\":1,\"A\":2}"),
    OK("[{\"a\":1},{\"a\":2}]"),
    OK("{\"\":1}"),
    OK("{\"a\\u0000\":1,\"a\":2}"),
    OK("{\"a\":{\"x\":1,\"y\":2},\"b\":{\"x\":1},\"a2\":1}"),
    OK("[\"]\",\"}\",\"\\\"[\"]"),
    OK("{\"k\":[null,true,false,-1.5e-7,\"s\",{},[]]}"),
};

static const json_case invalid_cases[] = {
    /* empty and trailing data */
    BAD("", "empty input"),
    BAD("   ", "empty input"),
    BAD("[1] x", "unexpected data after value"),
    BAD("1 2", "unexpected data after value"),
    BAD("{} {}", "unexpected data after value"),
    BAD("{\"a\":1}}", "unexpected data after value"),
    BAD("[1]\0", "unexpected data after value"),
    BAD("\xef\xbb\xbf{}", "unexpected character"),
    BAD("\v1", "unexpected character"),
    BAD("\f1", "unexpected character"),
    BAD("[\"a\"\xc2\xa0]", "expected ',' or ']'"),
    BAD("/* c */ 1", "unexpected character"),
    /* numbers */
    BAD("01", "leading zero in number"),
    BAD("-01", "leading zero in number"),
    BAD("00", "leading zero in number"),
    BAD("+1", "unexpected character"),
    BAD(".5", "unexpected character"),
    BAD("1.", "unexpected end of input"),
    BAD("[1.]", "invalid number"),
    BAD("1.e5", "invalid number"),
    BAD("1e", "unexpected end of input"),
    BAD("1e+", "unexpected end of input"),
    BAD("[1e]", "invalid number"),
    BAD("-", "unexpected end of input"),
    BAD("--1", "invalid number"),
    BAD("-a", "invalid number"),
    BAD("0x10", "unexpected data after value"),
    BAD("1_000", "unexpected data after value"),
    BAD("NaN", "unexpected character"),
    BAD("Infinity", "unexpected character"),
    BAD("-Infinity", "invalid number"),
    /* literals */
    BAD("tru", "invalid literal"),
    BAD("True", "unexpected character"),
    BAD("nul", "invalid literal"),
    BAD("falsey", "unexpected data after value"),
    BAD("nulL", "invalid literal"),
    /* strings and escapes */
    BAD("'a'", "unexpected character"),
    BAD("\"abc", "unterminated string"),
    BAD("\"\\\"", "unterminated string"),
    BAD("\"\\", "unterminated string"),
    BAD("\"\\x41\"", "invalid escape"),
    BAD("\"\\U0041\"", "invalid escape"),
    BAD("\"\\a\"", "invalid escape"),
    BAD("\"\\'\"", "invalid escape"),
    BAD("\"\\u12\"", "invalid \\u escape"),
    BAD("\"\\u12G4\"", "invalid \\u escape"),
    BAD("\"\\u+123\"", "invalid \\u escape"),
    BAD("\"\\u", "invalid \\u escape"),
    BAD("\"\\ud800\"", "unpaired surrogate escape"),
    BAD("\"\\udc00\"", "unpaired surrogate escape"),
    BAD("\"\\udfff\"", "unpaired surrogate escape"),
    BAD("\"\\ud800\\u0041\"", "unpaired surrogate escape"),
    BAD("\"\\ud800\\ud800\"", "unpaired surrogate escape"),
    BAD("\"\\ude00\\ud83d\"", "unpaired surrogate escape"),
    BAD("\"\\ud800x\"", "unpaired surrogate escape"),
    BAD("\"\\ud800\\n\"", "unpaired surrogate escape"),
    BAD("\"\\ud800\\u", "unpaired surrogate escape"),
    /* UTF-8 */
    BAD("\"\xc0\xaf\"", "invalid UTF-8"),
    BAD("\"\xc1\xbf\"", "invalid UTF-8"),
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8"),
    BAD("\"\xe0\x9f\xbf\"", "invalid UTF-8"),
    BAD("\"\xf0\x80\x80\xaf\"", "invalid UTF-8"),
    BAD("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8"),
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8"),
    BAD("\"\xed\xbf\xbf\"", "invalid UTF-8"),
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8"),
    BAD("\"\xf5\x80\x80\x80\"", "invalid UTF-8"),
    BAD("\"\xff\"", "invalid UTF-8"),
    BAD("\"\xfe\"", "invalid UTF-8"),
    BAD("\"\x80\"", "invalid UTF-8"),
    BAD("\"\xbf\"", "invalid UTF-8"),
    BAD("\"\xc3\"", "invalid UTF-8"),
    BAD("\"\xc3", "invalid UTF-8"),
    BAD("\"\xe2\x82\"", "invalid UTF-8"),
    BAD("\"\xe2\x82", "invalid UTF-8"),
    BAD("\"\xf0\x9f\x98\"", "invalid UTF-8"),
    BAD("\"\xc3\xc3\xa9\"", "invalid UTF-8"),
    BAD("\"\xe2\x28\xa1\"", "invalid UTF-8"),
    /* raw control characters */
    BAD("\"a\x01\"", "control character in string"),
    BAD("\"a\nb\"", "control character in string"),
    BAD("\"a\tb\"", "control character in string"),
    BAD("\"a\0b\"", "control character in string"),
    BAD("\"\x1f\"", "control character in string"),
    /* structure */
    BAD("[1,]", "unexpected character"),
    BAD("[,1]", "unexpected character"),
    BAD("[1 2]", "expected ',' or ']'"),
    BAD("[1,2,3", "unexpected end of input"),
    BAD("[", "unexpected end of input"),
    BAD("]", "unexpected character"),
    BAD("{", "unexpected end of input"),
    BAD("{\"a\":1,}", "expected string key"),
    BAD("{,}", "expected string key"),
    BAD("{\"a\" 1}", "expected ':'"),
    BAD("{\"a\"}", "expected ':'"),
    BAD("{a:1}", "expected string key"),
    BAD("{1:1}", "expected string key"),
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
    BAD("{\"a\":1]", "expected ',' or '}'"),
    BAD("[1}", "expected ',' or ']'"),
    BAD("{\"a\":", "unexpected end of input"),
    BAD("{\"a\"::1}", "unexpected character"),
    /* duplicate keys, compared after decoding */
    BAD("{\"a\":1,\"a\":2}", "duplicate object key"),
    BAD("{\"a\":1,\"\\u0061\":2}", "duplicate object key"),
    BAD("{\"\\u0061\":1,\"\\u0061\":2}", "duplicate object key"),
    BAD("{\"\\u00e9\":1,\"\xc3\xa9\":2}", "duplicate object key"),
    BAD("{\"\\u00E9\":1,\"\\u00e9\":2}", "duplicate object key"),
    BAD("{\"\\/\":1,\"/\":2}", "duplicate object key"),
    BAD("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "duplicate object key"),
    BAD("{\"\":1,\"\":2}", "duplicate object key"),
    BAD("{\"a\\u0000\":1,\"a\\u0000\":2}", "duplicate object key"),
    BAD("{\"a\":{\"b\":1,\"b\":2}}", "duplicate object key"),
    BAD("{\"a\":{\"x\":1},\"b\":2,\"a\":3}", "duplicate object key"),
    BAD("[{\"k\":1,\"j\":2,\"k\":3}]", "duplicate object key"),
};

static void test_valid_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < SMAR_ARRAY_LEN(valid_cases); i++) {
        const json_case *c = &valid_cases[i];
        char err[128] = "untouched";
        smar_span value = {NULL, 0};
        if (!validate((smar_span){c->text, c->len}, &value, err, sizeof err))
            fail_msg("valid case %zu rejected: %s", i, err);
        assert_string_equal(err, "");
        assert_non_null(value.p);
        assert_true(value.n > 0);
        assert_int_not_equal(smar_json_kind_of(value), SMAR_JSON_INVALID);
    }
}

static void test_invalid_inputs(void **state)
{
    (void)state;
    assert_true(SMAR_ARRAY_LEN(invalid_cases) >= 40);
    for (size_t i = 0; i < SMAR_ARRAY_LEN(invalid_cases); i++) {
        const json_case *c = &invalid_cases[i];
        char err[128] = "";
        smar_span value = {"x", 1};
        if (validate((smar_span){c->text, c->len}, &value, err, sizeof err))
            fail_msg("invalid case %zu accepted", i);
        (void)check_error_message(err, c->len);
        if (c->reason != NULL && strncmp(err, c->reason, strlen(c->reason)) != 0)
            fail_msg("invalid case %zu: got '%s', want '%s'", i, err, c->reason);
    }
}

static void test_error_offsets(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        {"[1,]", "unexpected character at byte 3"},
        {"{\"a\":1,\"a\":2}", "duplicate object key at byte 7"},
        {"{\"b\":1,\"a\":2,\"\\u0062\":3}", "duplicate object key at byte 13"},
        {"\"\\ud800\"", "unpaired surrogate escape at byte 1"},
        {"01", "leading zero in number at byte 1"},
        {"  [1] x", "unexpected data after value at byte 6"},
        {"\"ab\xc0\xaf\"", "invalid UTF-8 at byte 3"},
        {"\"abc", "unterminated string at byte 4"},
        {"", "empty input at byte 0"},
        {"[1,2", "unexpected end of input at byte 4"},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        char err[128];
        assert_false(validate(span_of(cases[i].text), NULL, err, sizeof err));
        assert_string_equal(err, cases[i].err);
    }
}

static void test_error_never_echoes_input(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"hunter2\":1,\"hunter2\":2}",
        "[\"hunter2\" \"hunter2\"]",
        "{\"pw\":\"hunter2\\q\"}",
        "hunter2",
        "[1, hunter2]",
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(texts); i++) {
        char err[256];
        assert_false(validate(span_of(texts[i]), NULL, err, sizeof err));
        assert_null(strstr(err, "hunter"));
        (void)check_error_message(err, strlen(texts[i]));
    }
}

static void test_error_buffer_handling(void **state)
{
    (void)state;
    /* No error buffer, or a tiny one, is fine; the message is truncated, not overrun. */
    assert_false(smar_json_validate(SPAN("[1,]"), 64, NULL, NULL, 0));
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    assert_false(smar_json_validate(SPAN("[1,]"), 64, NULL, tiny, 5));
    assert_string_equal(tiny, "unex");
    assert_int_equal(tiny[5], 'x');
    char one[1] = {'x'};
    assert_false(smar_json_validate(SPAN("[1,]"), 64, NULL, one, 1));
    assert_int_equal(one[0], '\0');
    /* A NULL text is empty input (n == 0) or invalid (n > 0), never dereferenced. */
    char err[64];
    assert_false(smar_json_validate((smar_span){NULL, 0}, 64, NULL, err, sizeof err));
    assert_string_equal(err, "empty input at byte 0");
    assert_false(smar_json_validate((smar_span){NULL, 5}, 64, NULL, err, sizeof err));
}

static void test_value_span_strips_whitespace(void **state)
{
    (void)state;
    const char *text = " \n\t {\"a\" : [1, 2]} \r\n";
    smar_span value;
    assert_true(validate(span_of(text), &value, NULL, 0));
    assert_ptr_equal(value.p, text + 4);
    assert_span(value, "{\"a\" : [1, 2]}");
    assert_true(validate(SPAN("  -12.5e3  "), &value, NULL, 0));
    assert_span(value, "-12.5e3");
    assert_true(validate(SPAN("\"x\""), NULL, NULL, 0));
}

/* "[[[...]]]" or {"a":{"a":...}} nested `depth` deep. */
static char *nested(unsigned depth, bool objects)
{
    smar_buf b = {0};
    for (unsigned i = 0; i < depth; i++)
        assert_int_equal(smar_buf_append_str(&b, objects ? "{\"a\":" : "["), SMAR_OK);
    assert_int_equal(smar_buf_append_str(&b, "0"), SMAR_OK);
    for (unsigned i = 0; i < depth; i++)
        assert_int_equal(smar_buf_append_str(&b, objects ? "}" : "]"), SMAR_OK);
    assert_int_equal(smar_buf_put_u8(&b, 0), SMAR_OK);
    return (char *)b.data;
}

static void test_depth_limit(void **state)
{
    (void)state;
    for (int objects = 0; objects <= 1; objects++) {
        char *ok = nested(64, objects);
        char *deep = nested(65, objects);
        char err[128];
        assert_true(smar_json_validate(span_of(ok), 64, NULL, err, sizeof err));
        assert_false(smar_json_validate(span_of(deep), 64, NULL, err, sizeof err));
        assert_string_equal(err, objects ? "nesting too deep at byte 320"
                                         : "nesting too deep at byte 64");
        assert_false(smar_json_validate(span_of(ok), 63, NULL, err, sizeof err));
        /* A larger limit is capped at SMAR_JSON_MAX_DEPTH, which bounds the recursion. */
        assert_false(smar_json_validate(span_of(deep), 1000, NULL, err, sizeof err));
        free(ok);
        free(deep);
    }
    assert_true(smar_json_validate(SPAN("1"), 0, NULL, NULL, 0));
    assert_false(smar_json_validate(SPAN("[]"), 0, NULL, NULL, 0));
    assert_true(smar_json_validate(SPAN("[]"), 1, NULL, NULL, 0));
    assert_true(smar_json_validate(SPAN("[1,{}]"), 2, NULL, NULL, 0));
    assert_false(smar_json_validate(SPAN("[1,{}]"), 1, NULL, NULL, 0));
    assert_false(smar_json_validate(SPAN("[[[]]]"), 2, NULL, NULL, 0));
}

static void test_very_deep_input_is_rejected_quickly(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, '[', n);
    char err[128];
    assert_false(validate((smar_span){text, n}, NULL, err, sizeof err));
    assert_string_equal(err, "nesting too deep at byte 64");
    free(text);
}

/* ---- iteration with raw spans ------------------------------------------------------------ */

static void test_iterate_members_raw(void **state)
{
    (void)state;
    const char *text = " { \"n\" : 12345678901234567890 ,\n"
                       "\"f\":0.1000000000000000055511151231257827, \"s\":\"\\u00e9\","
                       "\"a\":[1, \"x]\", {\"k\":null}, [ ] ], \"o\":{},"
                       "\"t\":true,\"F\":false,\"z\":null, \"e\":-1.5E+07 } ";
    smar_span obj;
    assert_true(validate(span_of(text), &obj, NULL, 0));
    assert_int_equal(smar_json_kind_of(obj), SMAR_JSON_OBJECT);

    static const struct {
        const char *key, *value;
        smar_json_kind kind;
    } want[] = {
        {"\"n\"", "12345678901234567890", SMAR_JSON_NUMBER},
        {"\"f\"", "0.1000000000000000055511151231257827", SMAR_JSON_NUMBER},
        {"\"s\"", "\"\\u00e9\"", SMAR_JSON_STRING},
        {"\"a\"", "[1, \"x]\", {\"k\":null}, [ ] ]", SMAR_JSON_ARRAY},
        {"\"o\"", "{}", SMAR_JSON_OBJECT},
        {"\"t\"", "true", SMAR_JSON_TRUE},
        {"\"F\"", "false", SMAR_JSON_FALSE},
        {"\"z\"", "null", SMAR_JSON_NULL},
        {"\"e\"", "-1.5E+07", SMAR_JSON_NUMBER},
    };
    smar_json_iter it;
    smar_json_iter_init(&it, obj);
    smar_span key, value;
    size_t count = 0;
    while (smar_json_next_member(&it, &key, &value)) {
        assert_true(count < SMAR_ARRAY_LEN(want));
        assert_span(key, want[count].key);
        assert_span(value, want[count].value);
        assert_int_equal(smar_json_kind_of(value), want[count].kind);
        count++;
    }
    assert_int_equal(count, SMAR_ARRAY_LEN(want));
    /* The iterator stays at its end. */
    assert_false(smar_json_next_member(&it, &key, &value));
}

static void test_iterate_elements_raw(void **state)
{
    (void)state;
    const char *text = "[1, \"x]\\\"}\" ,{\"k\":[null,\"]\"]}, [ ],\t-0.0 ,true,\"\"]";
    static const char *const want[] = {
        "1", "\"x]\\\"}\"", "{\"k\":[null,\"]\"]}", "[ ]", "-0.0", "true", "\"\"",
    };
    smar_span arr;
    assert_true(validate(span_of(text), &arr, NULL, 0));
    smar_json_iter it;
    smar_json_iter_init(&it, arr);
    smar_span value;
    size_t count = 0;
    while (smar_json_next_element(&it, &value)) {
        assert_true(count < SMAR_ARRAY_LEN(want));
        assert_span(value, want[count]);
        count++;
    }
    assert_int_equal(count, SMAR_ARRAY_LEN(want));
}

static void test_iterate_empty_and_non_containers(void **state)
{
    (void)state;
    static const char *const empties[] = {"[]", "{}", "[ \n ]", "{\t}"};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(empties); i++) {
        smar_span c;
        assert_true(validate(span_of(empties[i]), &c, NULL, 0));
        smar_json_iter it;
        smar_json_iter_init(&it, c);
        smar_span k, v;
        assert_false(smar_json_next_member(&it, &k, &v));
        smar_json_iter_init(&it, c);
        assert_false(smar_json_next_element(&it, &v));
    }
    /* Scalars and empty spans iterate as empty. */
    static const char *const scalars[] = {"1", "\"s\"", "true", ""};
    for (size_t i = 0; i < SMAR_ARRAY_LEN(scalars); i++) {
        smar_json_iter it;
        smar_json_iter_init(&it, span_of(scalars[i]));
        smar_span v;
        assert_false(smar_json_next_element(&it, &v));
    }
}

static void test_nested_iteration(void **state)
{
    (void)state;
    const char *text = "{\"rows\":[{\"id\":1,\"tags\":[\"a\",\"b\"]},{\"id\":2,\"tags\":[]}]}";
    smar_span root, rows;
    assert_true(validate(span_of(text), &root, NULL, 0));
    assert_true(smar_json_get(root, "rows", &rows));
    smar_json_iter it;
    smar_json_iter_init(&it, rows);
    smar_span row, id, tags;
    size_t n = 0, ntags = 0;
    while (smar_json_next_element(&it, &row)) {
        assert_true(smar_json_get(row, "id", &id));
        assert_true(smar_json_get(row, "tags", &tags));
        assert_span(id, n == 0 ? "1" : "2");
        smar_json_iter ti;
        smar_json_iter_init(&ti, tags);
        smar_span tag;
        while (smar_json_next_element(&ti, &tag))
            ntags++;
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(ntags, 2);
}

static void test_kind_of(void **state)
{
    (void)state;
    assert_int_equal(smar_json_kind_of(SPAN("{}")), SMAR_JSON_OBJECT);
    assert_int_equal(smar_json_kind_of(SPAN("[]")), SMAR_JSON_ARRAY);
    assert_int_equal(smar_json_kind_of(SPAN("\"\"")), SMAR_JSON_STRING);
    assert_int_equal(smar_json_kind_of(SPAN("-1")), SMAR_JSON_NUMBER);
    assert_int_equal(smar_json_kind_of(SPAN("7")), SMAR_JSON_NUMBER);
    assert_int_equal(smar_json_kind_of(SPAN("true")), SMAR_JSON_TRUE);
    assert_int_equal(smar_json_kind_of(SPAN("false")), SMAR_JSON_FALSE);
    assert_int_equal(smar_json_kind_of(SPAN("null")), SMAR_JSON_NULL);
    assert_int_equal(smar_json_kind_of(SPAN("")), SMAR_JSON_INVALID);
    assert_int_equal(smar_json_kind_of((smar_span){NULL, 0}), SMAR_JSON_INVALID);
    assert_int_equal(smar_json_kind_of(SPAN(" 1")), SMAR_JSON_INVALID);
}

/* ---- get ------------------------------------------------------------------------------------ */

static void test_get(void **state)
{
    (void)state;
    const char *text = "{\"a\":1,\"\\u0062\":\"two\",\"c\":{\"a\":3},\"\\u00e9\":[],"
                       "\"nul\\u0000\":0,\"\":\"empty\"}";
    smar_span obj, v;
    assert_true(validate(span_of(text), &obj, NULL, 0));
    assert_true(smar_json_get(obj, "a", &v));
    assert_span(v, "1");
    assert_true(smar_json_get(obj, "b", &v));
    assert_span(v, "\"two\"");
    assert_true(smar_json_get(obj, "c", &v));
    assert_span(v, "{\"a\":3}");
    assert_true(smar_json_get(obj, "\xc3\xa9", &v));
    assert_span(v, "[]");
    assert_true(smar_json_get(obj, "", &v));
    assert_span(v, "\"empty\"");
    assert_true(smar_json_get(obj, "a", NULL));
    assert_false(smar_json_get(obj, "d", &v));
    assert_false(smar_json_get(obj, "nul", &v)); /* the key is "nul\0" */
    assert_false(smar_json_get(obj, "A", &v));
    assert_false(smar_json_get(SPAN("[\"a\",1]"), "a", &v));
    assert_false(smar_json_get(SPAN("\"a\""), "a", &v));
}

/* ---- string decoding ------------------------------------------------------------------------ */

static void expect_decode(smar_span token, const char *want, size_t want_len)
{
    char out[64];
    size_t len = 12345;
    assert_true(smar_json_string_decode(token, out, sizeof out, &len));
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    size_t measured = 0;
    assert_true(smar_json_string_decode(token, NULL, 0, &measured));
    assert_int_equal(measured, want_len);
}

static void test_string_decode(void **state)
{
    (void)state;
    expect_decode(SPAN("\"\""), "", 0);
    expect_decode(SPAN("\"abc\""), "abc", 3);
    expect_decode(SPAN("\"\\u0000\""), "\0", 1);
    expect_decode(SPAN("\"a\\u0000b\""), "a\0b", 3);
    expect_decode(SPAN("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80", 4);
    expect_decode(SPAN("\"\\uD83D\\uDE00\""), "\xf0\x9f\x98\x80", 4);
    expect_decode(SPAN("\"\\udbff\\udfff\""), "\xf4\x8f\xbf\xbf", 4);
    expect_decode(SPAN("\"\\ud800\\udc00\""), "\xf0\x90\x80\x80", 4);
    expect_decode(SPAN("\"\\u00e9\""), "\xc3\xa9", 2);
    expect_decode(SPAN("\"\\u0080\""), "\xc2\x80", 2);
    expect_decode(SPAN("\"\\u07ff\""), "\xdf\xbf", 2);
    expect_decode(SPAN("\"\\u0800\""), "\xe0\xa0\x80", 3);
    expect_decode(SPAN("\"\\u20AC\""), "\xe2\x82\xac", 3);
    expect_decode(SPAN("\"\\uffff\""), "\xef\xbf\xbf", 3);
    expect_decode(SPAN("\"\\u007f\""), "\x7f", 1);
    expect_decode(SPAN("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), "\"\\/\b\f\n\r\t", 8);
    expect_decode(SPAN("\"\xc3\xa9\xf0\x9f\x98\x80\""), "\xc3\xa9\xf0\x9f\x98\x80", 6);
    expect_decode(SPAN("\"x\\u0041\\u0042y\""), "xABy", 4);
}

static void test_string_decode_cap(void **state)
{
    (void)state;
    char out[8];
    size_t len = 0;
    memset(out, '#', sizeof out);
    assert_false(smar_json_string_decode(SPAN("\"hello\""), out, 3, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(out, "hel", 3);
    assert_int_equal(out[3], '#');

    memset(out, '#', sizeof out);
    assert_true(smar_json_string_decode(SPAN("\"hello\""), out, 5, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(out[5], '#');

    /* A multi-byte character is cut at the byte level, never written past cap. */
    memset(out, '#', sizeof out);
    assert_false(smar_json_string_decode(SPAN("\"\\ud83d\\ude00\""), out, 2, &len));
    assert_int_equal(len, 4);
    assert_int_equal(out[2], '#');

    assert_false(smar_json_string_decode(SPAN("\"a\""), out, 0, &len));
    assert_int_equal(len, 1);
    assert_true(smar_json_string_decode(SPAN("\"\""), out, 0, &len));
    assert_int_equal(len, 0);
    /* Not a string token. */
    assert_false(smar_json_string_decode(SPAN("12"), out, sizeof out, &len));
    assert_int_equal(len, 0);
}

static void test_string_dup_and_eq(void **state)
{
    (void)state;
    char *s = smar_json_string_dup(SPAN("\"caf\\u00e9 \\\"ok\\\"\""));
    assert_non_null(s);
    assert_string_equal(s, "caf\xc3\xa9 \"ok\"");
    free(s);
    s = smar_json_string_dup(SPAN("\"\""));
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_null(smar_json_string_dup(SPAN("\"a\\u0000b\"")));
    assert_null(smar_json_string_dup(SPAN("true")));

    assert_true(smar_json_string_eq(SPAN("\"a\""), "a"));
    assert_true(smar_json_string_eq(SPAN("\"\\u0061\""), "a"));
    assert_true(smar_json_string_eq(SPAN("\"\""), ""));
    assert_true(smar_json_string_eq(SPAN("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80"));
    assert_false(smar_json_string_eq(SPAN("\"a\""), "ab"));
    assert_false(smar_json_string_eq(SPAN("\"ab\""), "a"));
    assert_false(smar_json_string_eq(SPAN("\"a\\u0000\""), "a"));
    assert_false(smar_json_string_eq(SPAN("\"\""), "a"));
    assert_false(smar_json_string_eq(SPAN("\"A\""), "a"));
    assert_false(smar_json_string_eq(SPAN("1"), "1"));
}

/* ---- quoting --------------------------------------------------------------------------------- */

static void expect_quote(const char *s, size_t n, const char *want)
{
    smar_buf b = {0};
    assert_int_equal(smar_json_quote(&b, s, n), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("quote gave '%.*s', want '%s'", (int)b.len, (const char *)b.data, want);
    smar_buf_free(&b);
}

static void test_quote_exact(void **state)
{
    (void)state;
    expect_quote("", 0, "\"\"");
    expect_quote(NULL, 0, "\"\"");
    expect_quote("abc", 3, "\"abc\"");
    expect_quote("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
    expect_quote("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
    expect_quote("\0\x01\x1f\x7f", 4, "\"\\u0000\\u0001\\u001f\x7f\"");
    expect_quote("\x1b[0m", 4, "\"\\u001b[0m\"");
    expect_quote("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
}

static void test_quote_appends(void **state)
{
    (void)state;
    smar_buf b = {0};
    assert_int_equal(smar_buf_append_str(&b, "{\"k\":"), SMAR_OK);
    assert_int_equal(smar_json_quote(&b, "v\n", 2), 0);
    assert_int_equal(smar_buf_append_str(&b, "}"), SMAR_OK);
    smar_span out = {(const char *)b.data, b.len};
    assert_span(out, "{\"k\":\"v\\n\"}");
    assert_true(validate(out, NULL, NULL, 0));
    smar_buf_free(&b);
}

/* quote -> validate -> decode must give back the input bytes. */
static void expect_quote_round_trip(const char *s, size_t n)
{
    smar_buf b = {0};
    assert_int_equal(smar_json_quote(&b, s, n), 0);
    smar_span token = {(const char *)b.data, b.len}, value;
    char err[128];
    if (!validate(token, &value, err, sizeof err))
        fail_msg("quoted text rejected: %s", err);
    assert_int_equal(value.n, token.n);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t len = 0;
    assert_true(smar_json_string_decode(value, out, n + 1, &len));
    assert_int_equal(len, n);
    assert_memory_equal(out, s, n);
    free(out);
    smar_buf_free(&b);
}

static void test_quote_round_trip_single_bytes(void **state)
{
    (void)state;
    /* Every byte that is a complete UTF-8 sequence on its own, alone and all together. */
    char all[128];
    for (int c = 0; c < 128; c++) {
        char s[3] = {'a', (char)c, 'z'};
        expect_quote_round_trip(s + 1, 1);
        expect_quote_round_trip(s, 3);
        all[c] = (char)c;
    }
    expect_quote_round_trip(all, sizeof all);
}

static void test_quote_round_trip_every_code_point(void **state)
{
    (void)state;
    /* All Unicode scalar values, encoded as UTF-8 in one string. */
    smar_buf text = {0};
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        uint8_t u[4];
        size_t n;
        if (cp < 0x80) {
            u[0] = (uint8_t)cp;
            n = 1;
        } else if (cp < 0x800) {
            u[0] = (uint8_t)(0xC0 | (cp >> 6));
            u[1] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            u[0] = (uint8_t)(0xE0 | (cp >> 12));
            u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            u[0] = (uint8_t)(0xF0 | (cp >> 18));
            u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 4;
        }
        assert_int_equal(smar_buf_append(&text, u, n), SMAR_OK);
    }
    expect_quote_round_trip((const char *)text.data, text.len);
    smar_buf_free(&text);
}

/* Every \uXXXX escape (and surrogate pair) decodes to the UTF-8 of its code point,
 * checked against quoting that UTF-8 and decoding it again. */
static void test_u_escapes_match_utf8(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x10000 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char token[16];
        if (cp < 0x10000) {
            snprintf(token, sizeof token, "\"\\u%04X\"", (unsigned)cp);
        } else {
            uint32_t v = cp - 0x10000;
            snprintf(token, sizeof token, "\"\\u%04x\\u%04x\"", (unsigned)(0xD800 + (v >> 10)),
                     (unsigned)(0xDC00 + (v & 0x3FF)));
        }
        smar_span sp = span_of(token);
        if (!validate(sp, NULL, NULL, 0))
            fail_msg("escape for U+%04X rejected", (unsigned)cp);
        char out[4];
        size_t len;
        assert_true(smar_json_string_decode(sp, out, sizeof out, &len));
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        assert_int_equal(len, want);
        /* The decoded bytes must themselves be a valid string once quoted. */
        expect_quote_round_trip(out, len);
    }
}

/* ---- large inputs ---------------------------------------------------------------------------- */

static char *object_with_keys(size_t count, const char *prefix, const char *extra_member)
{
    smar_buf b = {0};
    assert_int_equal(smar_buf_append_str(&b, "{"), SMAR_OK);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(smar_buf_printf(&b, "%s\"%sk%zu\":%zu", i ? "," : "", prefix, i, i),
                         SMAR_OK);
    if (extra_member != NULL)
        assert_int_equal(smar_buf_printf(&b, ",%s", extra_member), SMAR_OK);
    assert_int_equal(smar_buf_append(&b, "}", 2), SMAR_OK);
    return (char *)b.data;
}

static void test_many_keys_fast(void **state)
{
    (void)state;
    char *text = object_with_keys(100000, "", NULL);
    smar_span obj;
    char err[128];
    double t0 = tu_now();
    assert_true(validate(span_of(text), &obj, err, sizeof err));
    double elapsed = tu_now() - t0;
    if (elapsed > 0.5)
        fail_msg("100k-key object took %.3f s", elapsed);
    smar_span v;
    assert_true(smar_json_get(obj, "k99999", &v));
    assert_span(v, "99999");
    free(text);

    /* One duplicate at the very end, spelled with an escape. */
    text = object_with_keys(100000, "", "\"\\u006b50000\":0");
    t0 = tu_now();
    assert_false(validate(span_of(text), NULL, err, sizeof err));
    elapsed = tu_now() - t0;
    assert_int_equal(strncmp(err, "duplicate object key", 20), 0);
    assert_int_equal(check_error_message(err, strlen(text)), strlen(text) - 16);
    if (elapsed > 0.5)
        fail_msg("100k-key object with a duplicate took %.3f s", elapsed);
    free(text);
}

static void test_many_keys_long_common_prefix(void **state)
{
    (void)state;
    char prefix[301];
    memset(prefix, 'p', 300);
    prefix[300] = '\0';
    char *text = object_with_keys(20000, prefix, NULL);
    double t0 = tu_now();
    assert_true(validate(span_of(text), NULL, NULL, 0));
    if (tu_now() - t0 > 0.5)
        fail_msg("long-prefix keys too slow");
    free(text);
}

static void test_many_small_objects_and_large_array(void **state)
{
    (void)state;
    smar_buf b = {0};
    assert_int_equal(smar_buf_append_str(&b, "["), SMAR_OK);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(smar_buf_printf(&b, "%s{\"id\":%d,\"v\":[%d,\"s\"]}", i ? "," : "", i, i),
                         SMAR_OK);
    assert_int_equal(smar_buf_append(&b, "]", 2), SMAR_OK);
    smar_span arr;
    double t0 = tu_now();
    assert_true(validate(span_of((const char *)b.data), &arr, NULL, 0));
    if (tu_now() - t0 > 0.5)
        fail_msg("100k small objects too slow");
    smar_json_iter it;
    smar_json_iter_init(&it, arr);
    smar_span el;
    size_t n = 0;
    while (smar_json_next_element(&it, &el))
        n++;
    assert_int_equal(n, 100000);
    smar_buf_free(&b);
}

/* ---- fast paths (8-byte string scan, memchr skip, raw key compare) -------------------- */

/* One special byte at every position of strings of every length around the 8-byte
 * stride: the word-at-a-time scan must stop exactly where the byte-at-a-time one would. */
static void test_string_scan_every_position(void **state)
{
    (void)state;
    static const struct {
        const char *bytes; /* how the special character is written inside the string */
        bool valid;
    } specials[] = {
        {"\\\"", true},     {"\\\\", true},  {"\\n", true},   {"\\u0041", true},
        {"\xc3\xa9", true}, {"\x01", false}, {"\x1f", false}, {"\x7f", true},
        {"\x80", false},    {"\xff", false}, {"\"", false}, /* an unescaped quote ends the string
                                                               early: what follows is junk */
    };
    char text[128], inner[64];
    for (size_t k = 0; k < SMAR_ARRAY_LEN(specials); k++) {
        for (size_t len = 0; len <= 20; len++) {
            for (size_t at = 0; at <= len; at++) {
                memset(inner, 'a', len);
                inner[len] = '\0';
                snprintf(text, sizeof text, "{\"k\":\"%.*s%s%s\",\"z\":7}", (int)at, inner,
                         specials[k].bytes, inner + at);
                smar_span obj, v;
                bool ok = validate(span_of(text), &obj, NULL, 0);
                if (ok != specials[k].valid)
                    fail_msg("special #%zu at %zu of %zu: validate gave %d", k, at, len, ok);
                if (!ok)
                    continue;
                /* the skipping accessors must find the member after the string */
                assert_true(smar_json_get(obj, "z", &v));
                assert_span(v, "7");
                smar_json_fields f;
                smar_json_fields_init(&f, obj);
                assert_int_equal(f.n, 2);
                assert_true(smar_json_fields_get(&f, "z", &v));
                assert_span(v, "7");
            }
        }
    }
}

/* Runs of backslashes before a quote: an even run leaves the quote closing the string. */
static void test_skip_backslash_runs(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"k\":\"\\\\\",\"z\":1}",           /* "\\"        */
        "{\"k\":\"\\\\\\\\\",\"z\":1}",       /* "\\\\"      */
        "{\"k\":\"\\\"\",\"z\":1}",           /* "\""        */
        "{\"k\":\"\\\\\\\"\",\"z\":1}",       /* "\\\""      */
        "{\"k\":\"a\\\"b\\\"\\\\\",\"z\":1}", /* "a\"b\"\\"  */
        "{\"\\\\\":\"\\\"\\\\\",\"z\":1}",    /* key "\\"    */
        "{\"k\":[\"]\\\"}\",{\"x\":\"}\"}],\"z\":1}",
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(texts); i++) {
        smar_span obj, v;
        assert_true(validate(span_of(texts[i]), &obj, NULL, 0));
        if (!smar_json_get(obj, "z", &v) || !span_is(v, "1"))
            fail_msg("text #%zu: member after the string not found", i);
    }
}

static void test_fields_match_get(void **state)
{
    (void)state;
    /* below and above SMAR_JSON_FIELDS_MAX members: the same answers either way */
    for (int members = 0; members <= SMAR_JSON_FIELDS_MAX + 6; members += 7) {
        smar_buf b = {0};
        assert_int_equal(smar_buf_append_str(&b, "{\"\\u0065sc\":\"e\""), SMAR_OK);
        for (int i = 0; i < members; i++)
            assert_int_equal(smar_buf_printf(&b, ",\"m%d\":[%d,\"x\\\"\"]", i, i), SMAR_OK);
        assert_int_equal(smar_buf_append(&b, "}", 2), SMAR_OK);
        smar_span obj, a, c;
        assert_true(validate(span_of((const char *)b.data), &obj, NULL, 0));
        smar_json_fields f;
        smar_json_fields_init(&f, obj);
        assert_int_equal(f.overflow, members + 1 > SMAR_JSON_FIELDS_MAX);
        char name[16];
        for (int i = -1; i <= members; i++) {
            snprintf(name, sizeof name, "m%d", i);
            bool in_get = smar_json_get(obj, name, &a),
                 in_fields = smar_json_fields_get(&f, name, &c);
            assert_int_equal(in_get, in_fields);
            assert_int_equal(in_get, i >= 0 && i < members);
            if (in_get)
                assert_true(a.p == c.p && a.n == c.n);
        }
        /* iterating the table gives the members of a walk, in order */
        smar_json_fields_iter fi;
        smar_json_iter wi;
        smar_span fk, wk;
        size_t count = 0;
        smar_json_fields_iter_init(&fi, &f);
        smar_json_iter_init(&wi, obj);
        while (smar_json_next_member(&wi, &wk, &a)) {
            assert_true(smar_json_fields_next(&fi, &fk, &c));
            assert_true(fk.p == wk.p && fk.n == wk.n && c.p == a.p && c.n == a.n);
            count++;
        }
        assert_false(smar_json_fields_next(&fi, &fk, &c));
        assert_int_equal(count, members + 1);
        assert_true(smar_json_fields_get(&f, "esc", &a)); /* an escaped key, decoded */
        assert_span(a, "\"e\"");
        assert_false(smar_json_fields_get(&f, "\\u0065sc", NULL));
        smar_buf_free(&b);
    }
    smar_json_fields f;
    smar_json_fields_init(&f, SPAN("[1,2]")); /* not an object: nothing found */
    assert_false(smar_json_fields_get(&f, "1", NULL));
}

/* Objects small enough for the pair-by-pair duplicate check (48 keys) and above it: the
 * duplicate is found wherever it is, also when spelled with an escape, and reported at
 * the later key. */
static void test_duplicate_keys_small_and_large(void **state)
{
    (void)state;
    for (int nkeys = 2; nkeys <= 54; nkeys++) {
        for (int dup = 1; dup < nkeys; dup++) {
            for (int escaped = 0; escaped < 2; escaped++) {
                smar_buf b = {0};
                size_t dup_at = 0;
                assert_int_equal(smar_buf_append_str(&b, "{"), SMAR_OK);
                for (int i = 0; i < nkeys; i++) {
                    if (i)
                        assert_int_equal(smar_buf_append_str(&b, ","), SMAR_OK);
                    if (i == dup) {
                        dup_at = b.len;
                        /* a repeat of key 0 ("k0"), maybe written as "\u006b0" */
                        assert_int_equal(
                            smar_buf_append_str(&b, escaped ? "\"\\u006b0\":1" : "\"k0\":1"),
                            SMAR_OK);
                    } else {
                        assert_int_equal(smar_buf_printf(&b, "\"k%d\":1", i), SMAR_OK);
                    }
                }
                assert_int_equal(smar_buf_append(&b, "}", 2), SMAR_OK);
                char err[128];
                const char *text = (const char *)b.data;
                assert_false(validate(span_of(text), NULL, err, sizeof err));
                assert_int_equal(strncmp(err, "duplicate object key", 20), 0);
                assert_int_equal(check_error_message(err, strlen(text)), dup_at);
                smar_buf_free(&b);
            }
        }
    }
    /* near misses are not duplicates */
    assert_true(
        validate(SPAN("{\"a\":1,\"a \":2,\"A\":3,\"\\u0061\\u0000\":4,\"aa\":5}"), NULL, NULL, 0));
}

static void test_string_eq_raw_and_escaped(void **state)
{
    (void)state;
    assert_true(smar_json_string_eq(SPAN("\"name\""), "name"));
    assert_true(smar_json_string_eq(SPAN("\"n\\u0061me\""), "name"));
    assert_false(smar_json_string_eq(SPAN("\"name\""), "nam"));
    assert_false(smar_json_string_eq(SPAN("\"nam\""), "name"));
    assert_false(smar_json_string_eq(SPAN("\"n\\\\ame\""), "name"));
    assert_true(smar_json_string_eq(SPAN("\"n\\\\ame\""), "n\\ame"));
    assert_true(smar_json_string_eq(SPAN("\"\""), ""));
    assert_false(smar_json_string_eq(SPAN("\"\\u0000\""), ""));
}

/* smar_json_validate_fields finds, in the validating walk, exactly the members that
 * smar_json_fields_init finds walking the validated object again: only the top level's,
 * whatever the spacing, nesting and escapes, and overflowing at the same count. */
static void expect_fields_as_init(const char *text)
{
    smar_span obj, again;
    smar_json_fields walked, found;
    char why[128];
    assert_true(validate(span_of(text), &obj, NULL, 0));
    smar_json_fields_init(&walked, obj);
    assert_true(smar_json_validate_fields(span_of(text), SMAR_JSON_MAX_DEPTH, &again, &found, why,
                                          sizeof why));
    assert_true(again.p == obj.p && again.n == obj.n);
    assert_true(found.object.p == obj.p && found.object.n == obj.n);
    assert_int_equal(found.overflow, walked.overflow);
    assert_int_equal(found.n, walked.n);
    for (size_t i = 0; i < walked.n; i++) {
        if (found.key[i].p != walked.key[i].p || found.key[i].n != walked.key[i].n ||
            found.value[i].p != walked.value[i].p || found.value[i].n != walked.value[i].n)
            fail_msg("member #%zu of %s differs", i, text);
    }
}

static void test_validate_fields_matches_init(void **state)
{
    (void)state;
    expect_fields_as_init("{}");
    expect_fields_as_init(" { } ");
    expect_fields_as_init("[{\"a\":1}]"); /* not an object: no members */
    expect_fields_as_init("\"s\"");
    expect_fields_as_init("{\"a\":1,\"b\":{\"c\":[1,{\"d\":2}],\"e\":\"}\"},\"f\":null}");
    expect_fields_as_init("\n{ \"a\" :\t\"x\\\"y\" ,\r\n\"\\u0062\": [ ] , \"c\":-1.5e3 }\n");
    for (int members = SMAR_JSON_FIELDS_MAX - 1; members <= SMAR_JSON_FIELDS_MAX + 1; members++) {
        smar_buf b = {0};
        assert_int_equal(smar_buf_append_str(&b, "{\"first\":{\"in\":1}"), SMAR_OK);
        for (int i = 1; i < members; i++)
            assert_int_equal(smar_buf_printf(&b, ", \"m%d\" : [%d]", i, i), SMAR_OK);
        assert_int_equal(smar_buf_append(&b, "}", 2), SMAR_OK);
        expect_fields_as_init((const char *)b.data);
        smar_buf_free(&b);
    }
    /* invalid text: false, the same reason, and no members */
    smar_json_fields f;
    char why[128], want[128];
    assert_false(validate(span_of("{\"a\":1,\"a\":2}"), NULL, want, sizeof want));
    assert_false(smar_json_validate_fields(span_of("{\"a\":1,\"a\":2}"), SMAR_JSON_MAX_DEPTH, NULL,
                                           &f, why, sizeof why));
    assert_string_equal(why, want);
    assert_int_equal(f.n, 0);
    assert_false(f.overflow);
}

/* The length shortcut: raw text equal to the name is a match only without escapes. */
static void test_string_eq_same_length_escaped(void **state)
{
    (void)state;
    assert_false(smar_json_string_eq(SPAN("\"a\\\\b\""), "a\\\\b")); /* decodes to a\b */
    assert_true(smar_json_string_eq(SPAN("\"a\\\\b\""), "a\\b"));
    assert_false(smar_json_string_eq(SPAN("\"\\u0061\""), "\\u0061"));
    assert_false(smar_json_string_eq(SPAN("\"abcdef\""), "a"));
    assert_false(smar_json_string_eq(SPAN("\"\\u0061bcdef\""), "abcdefg"));
    assert_true(smar_json_string_eq(SPAN("\"\\u0061bcdef\""), "abcdef"));
    /* the first-byte shortcut: only a byte that is not a backslash decides */
    assert_false(smar_json_string_eq(SPAN("\"b\""), ""));
    assert_true(smar_json_string_eq(SPAN("\"\\u0062\""), "b"));
    assert_false(smar_json_string_eq(SPAN("\"\\u0062\""), "c"));
    assert_true(smar_json_string_eq(SPAN("\"\\\\\""), "\\"));
}

/* The duplicate check's filter (only keys whose hash bits were seen are compared) finds
 * every duplicate: an escaped spelling first, a repeat of a middle key, and with two
 * repeats the one that comes first in the text is reported. */
static void test_duplicate_keys_any_pair(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } cases[] = {
        {"{\"a\":1,\"\\u006b\":2,\"b\":3,\"k\":4}", 24},
        {"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"c\":5,\"e\":6}", 25},
        {"{\"x\":1,\"y\":2,\"y\":3,\"x\":4}", 13},
    };
    for (size_t i = 0; i < SMAR_ARRAY_LEN(cases); i++) {
        char err[128];
        assert_false(validate(span_of(cases[i].text), NULL, err, sizeof err));
        assert_int_equal(strncmp(err, "duplicate object key", 20), 0);
        assert_int_equal(check_error_message(err, strlen(cases[i].text)), cases[i].at);
    }
}

/* smar_json_next_element_fields gives the elements smar_json_next_element gives, each with
 * the members smar_json_fields_init finds in it (none for a non-object), overflowing alike. */
static void test_element_fields_match_init(void **state)
{
    (void)state;
    smar_buf b = {0};
    assert_int_equal(smar_buf_append_str(&b, "[ {\"id\":\"a\",\"n\":{\"x\":[1,\"]\"]}} , 7,"
                                             "\"s\",[{\"q\":1}],{}, { \"\\u0069d\" : null }, {"),
                     SMAR_OK);
    for (int i = 0; i < SMAR_JSON_FIELDS_MAX + 3; i++)
        assert_int_equal(smar_buf_printf(&b, "%s\"m%d\":{\"i\":%d}", i ? "," : "", i, i), SMAR_OK);
    static const char tail[] = "},{\"last\":true} ]"; /* with its NUL: span_of reads a C string */
    assert_int_equal(smar_buf_append(&b, tail, sizeof tail), SMAR_OK);
    smar_span arr, a, c;
    assert_true(validate(span_of((const char *)b.data), &arr, NULL, 0));
    smar_json_iter walk, both;
    smar_json_fields f, g;
    size_t count = 0;
    smar_json_iter_init(&walk, arr);
    smar_json_iter_init(&both, arr);
    while (smar_json_next_element(&walk, &a)) {
        assert_true(smar_json_next_element_fields(&both, &c, &g));
        assert_true(a.p == c.p && a.n == c.n);
        smar_json_fields_init(&f, a);
        assert_true(g.object.p == a.p && g.object.n == a.n);
        assert_int_equal(g.n, f.n);
        assert_int_equal(g.overflow, f.overflow);
        for (size_t i = 0; i < f.n; i++)
            assert_true(g.key[i].p == f.key[i].p && g.key[i].n == f.key[i].n &&
                        g.value[i].p == f.value[i].p && g.value[i].n == f.value[i].n);
        if (++count == 8) /* the object after the overflowing one */
            assert_true(smar_json_fields_get(&g, "last", NULL));
    }
    assert_false(smar_json_next_element_fields(&both, &c, &g));
    assert_int_equal(count, 8);
    smar_buf_free(&b);
}

/* A secure buffer wipes what it held on reset, also bytes written into its spare room. */
static void test_secure_buffer_wipes_what_was_written(void **state)
{
    (void)state;
    smar_buf b = {.secure = true};
    assert_int_equal(smar_buf_reserve(&b, 4096), SMAR_OK);
    memset(b.data, 'S', 100); /* written into a reservation, len never set */
    smar_buf_reset(&b);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(b.data[i], 0);
    size_t room = smar_buf_room(&b);
    assert_int_equal(room, b.cap);
    memset(b.data, 'S', room); /* read(2) into the room */
    b.len = 10;
    smar_buf_reset(&b);
    for (size_t i = 0; i < room; i++)
        assert_int_equal(b.data[i], 0);
    assert_int_equal(smar_buf_append(&b, "secret", 6), SMAR_OK);
    smar_buf_reset(&b);
    assert_int_equal(b.hi, 0);
    assert_memory_equal(b.data, "\0\0\0\0\0\0", 6);
    smar_buf_free(&b);
}

static int member_returns(const smar_json_member *m, void *payload)
{
    (void)m;
    return *(const int *)payload;
}

static int element_returns(const char *value, size_t len, void *payload)
{
    (void)value;
    (void)len;
    return *(const int *)payload;
}

/* The public walkers (smar/json.h): a positive stop value comes back as it is, a negative
 * return (a status code) is refused with SMAR_E_INVALID. */
static void test_walk_callback_stop_values(void **state)
{
    (void)state;
    const char *obj = "{\"a\":1,\"b\":2}", *arr = "[1,2]";
    int status = -3, stop = 7, go_on = 0;
    assert_int_equal(smar_json_each_member(obj, strlen(obj), member_returns, &status),
                     SMAR_E_INVALID);
    assert_int_equal(smar_json_each_member(obj, strlen(obj), member_returns, &stop), 7);
    assert_int_equal(smar_json_each_member(obj, strlen(obj), member_returns, &go_on), SMAR_OK);
    assert_int_equal(smar_json_each_element(arr, strlen(arr), element_returns, &status),
                     SMAR_E_INVALID);
    assert_int_equal(smar_json_each_element(arr, strlen(arr), element_returns, &stop), 7);
    assert_int_equal(smar_json_each_element(arr, strlen(arr), element_returns, &go_on), SMAR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_inputs),
        cmocka_unit_test(test_invalid_inputs),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_error_never_echoes_input),
        cmocka_unit_test(test_error_buffer_handling),
        cmocka_unit_test(test_value_span_strips_whitespace),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_very_deep_input_is_rejected_quickly),
        cmocka_unit_test(test_iterate_members_raw),
        cmocka_unit_test(test_iterate_elements_raw),
        cmocka_unit_test(test_walk_callback_stop_values),
        cmocka_unit_test(test_iterate_empty_and_non_containers),
        cmocka_unit_test(test_nested_iteration),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_string_decode),
        cmocka_unit_test(test_string_decode_cap),
        cmocka_unit_test(test_string_dup_and_eq),
        cmocka_unit_test(test_quote_exact),
        cmocka_unit_test(test_quote_appends),
        cmocka_unit_test(test_quote_round_trip_single_bytes),
        cmocka_unit_test(test_quote_round_trip_every_code_point),
        cmocka_unit_test(test_u_escapes_match_utf8),
        cmocka_unit_test(test_many_keys_fast),
        cmocka_unit_test(test_many_keys_long_common_prefix),
        cmocka_unit_test(test_many_small_objects_and_large_array),
        cmocka_unit_test(test_string_scan_every_position),
        cmocka_unit_test(test_skip_backslash_runs),
        cmocka_unit_test(test_fields_match_get),
        cmocka_unit_test(test_duplicate_keys_small_and_large),
        cmocka_unit_test(test_string_eq_raw_and_escaped),
        cmocka_unit_test(test_secure_buffer_wipes_what_was_written),
        cmocka_unit_test(test_validate_fields_matches_init),
        cmocka_unit_test(test_string_eq_same_length_escaped),
        cmocka_unit_test(test_duplicate_keys_any_pair),
        cmocka_unit_test(test_element_fields_match_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
