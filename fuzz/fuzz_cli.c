/*
 * fuzz_cli.c - what the smar tool reads from archives' text: the public JSON calls
 * (smar/json.h: smar_json_each_member, smar_json_each_element, smar_json_unquote,
 * smar_json_find_member) that `inspect`, `create` and `extract` use on rendered secrets and
 * documents, the path components `extract` makes from secret names and types
 * (cli_path_folder, cli_path_secret), and the --at parser (cli_parse_time; the selection options
 * only collect strings). Oracles: on strictly valid JSON the public calls agree exactly with the
 * library's internal scanner (json.h); on anything else they refuse it; a path component is never
 * empty, ".", "..", hidden, or holds '/' or a control byte, and percent-decodes back to what it
 * encodes (the id whole).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "json.h"

typedef struct expect_member {
    smar_json_iter it;
    size_t n;
} expect_member;

/* Each member the public call hands out is the next one the scanner sees, key decoded
 * exactly (NUL bytes included) and the member text running from the key to the value. */
static int member_cb(const smar_json_member *m, void *payload)
{
    expect_member *x = payload;
    smar_span k, v;
    FZ_CHECK(smar_json_next_member(&x->it, &k, &v));
    FZ_CHECK(v.p == m->value && v.n == m->value_len);
    FZ_CHECK(m->member == k.p && m->member + m->member_len == v.p + v.n);
    size_t n;
    char *lib = malloc(k.n);
    FZ_CHECK(lib != NULL);
    FZ_CHECK(smar_json_string_decode(k, lib, k.n, &n));
    FZ_CHECK(m->key_len == n && memcmp(m->key, lib, n) == 0 && m->key[n] == '\0');
    free(lib);
    x->n++;
    return 0;
}

static int element_cb(const char *value, size_t value_len, void *payload)
{
    expect_member *x = payload;
    smar_span v;
    FZ_CHECK(smar_json_next_element(&x->it, &v));
    FZ_CHECK(v.p == value && v.n == value_len);
    x->n++;
    return 0;
}

static void compare_string(smar_span tok)
{
    char *out = NULL;
    size_t len = 0, n = 0;
    FZ_CHECK(smar_json_unquote(tok.p, tok.n, &out, &len) == SMAR_OK);
    FZ_CHECK(out[len] == '\0');
    char *lib = malloc(tok.n);
    FZ_CHECK(lib != NULL);
    FZ_CHECK(smar_json_string_decode(tok, lib, tok.n, &n));
    FZ_CHECK(n == len && memcmp(lib, out, n) == 0);
    free(lib);
    free(out);
}

static void compare(smar_span v, unsigned depth)
{
    expect_member x;
    smar_span key, val;
    if (depth > 8)
        return;
    switch (smar_json_kind_of(v)) {
    case SMAR_JSON_OBJECT:
        smar_json_iter_init(&x.it, v);
        x.n = 0;
        FZ_CHECK(smar_json_each_member(v.p, v.n, member_cb, &x) == SMAR_OK);
        FZ_CHECK(!smar_json_next_member(&x.it, &key, &val)); /* the call saw them all */
        smar_json_iter_init(&x.it, v);
        while (smar_json_next_member(&x.it, &key, &val)) {
            compare_string(key);
            compare(val, depth + 1);
        }
        break;
    case SMAR_JSON_ARRAY:
        smar_json_iter_init(&x.it, v);
        x.n = 0;
        FZ_CHECK(smar_json_each_element(v.p, v.n, element_cb, &x) == SMAR_OK);
        FZ_CHECK(!smar_json_next_element(&x.it, &val));
        smar_json_iter_init(&x.it, v);
        while (smar_json_next_element(&x.it, &val))
            compare(val, depth + 1);
        break;
    case SMAR_JSON_STRING:
        compare_string(v);
        break;
    default:
        break;
    }
}

static int count_member(const smar_json_member *m, void *payload)
{
    (void)m;
    return ++*(size_t *)payload > 10000;
}

static int count_element(const char *value, size_t value_len, void *payload)
{
    (void)value;
    (void)value_len;
    return ++*(size_t *)payload > 10000;
}

/* A path component: not empty, hidden, "." or "..", no '/', no control byte. */
static void check_safe_component(const char *out)
{
    size_t n = strlen(out);
    FZ_CHECK(n >= 1 && n <= CLI_NAME_MAX);
    FZ_CHECK(out[0] != '.');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FZ_CHECK(c > 0x20 && c != 0x7f && c != '/' && c != '\\');
    }
}

/* Percent-decoding gives the string back: the encoding is injective. */
static void check_decodes_to(const char *enc, size_t len, const char *want)
{
    char dec[CLI_NAME_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (enc[i] == '%' && i + 2 < len && sscanf(enc + i + 1, "%2x", &v) == 1) {
            dec[n++] = (char)v;
            i += 2;
        } else {
            dec[n++] = enc[i];
        }
    }
    dec[n] = '\0';
    FZ_CHECK(strcmp(dec, want) == 0);
}

static void check_component(const char *name, const char *keep)
{
    char out[CLI_NAME_MAX + 1];
    if (cli_path_folder(out, name, 0) == 0) {
        check_safe_component(out);
        if (*name)
            check_decodes_to(out, strlen(out), name);
    }
    if (keep && *keep && cli_path_secret(out, name, keep) == 0) {
        check_safe_component(out);
        /* the id is whole after the last "--" (or is the whole name) */
        const char *sep = NULL;
        for (const char *p = out; (p = strstr(p, "--")) != NULL; p++)
            sep = p;
        const char *id = sep ? sep + 2 : out;
        check_decodes_to(id, strlen(id), keep);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *text = (const char *)data;
    /* the public calls on anything: no crash, bounded, and nothing from invalid JSON */
    smar_span any;
    char why[128];
    bool valid =
        smar_json_validate((smar_span){text, size}, SMAR_JSON_MAX_DEPTH, &any, why, sizeof why);
    size_t count = 0;
    int rc = smar_json_each_member(text, size, count_member, &count);
    FZ_CHECK(valid || (rc == SMAR_E_INPUT && count == 0));
    count = 0;
    rc = smar_json_each_element(text, size, count_element, &count);
    FZ_CHECK(valid || (rc == SMAR_E_INPUT && count == 0));
    char *s = NULL;
    size_t slen;
    if (smar_json_unquote(text, size, &s, &slen) == SMAR_OK)
        FZ_CHECK(valid && slen < size && s[slen] == '\0');
    free(s);
    const char *value;
    size_t vlen;
    if (smar_json_find_member(text, size, "secret_groups", &value, &vlen) == SMAR_OK)
        FZ_CHECK(valid && value >= text && value + vlen <= text + size);

    /* on valid JSON, the tool and the library agree */
    smar_span v;
    char err[128];
    if (smar_json_validate((smar_span){text, size}, SMAR_JSON_MAX_DEPTH, &v, err, sizeof err))
        compare(v, 0);

    /* path components and --at, on the bytes as C strings */
    char *str = malloc(size + 1);
    FZ_CHECK(str != NULL);
    memcpy(str, data, size);
    str[size] = '\0';
    char *sep = memchr(str, '|', size);
    if (sep)
        *sep = '\0';
    check_component(str, sep ? sep + 1 : NULL);
    check_component(str, "0b5f6d2e-1c1a-4f3e-9a55-1f0f3a6b7c01");
    smar_time_ns t;
    if (cli_parse_time(str, &t) == 0 && strcmp(str, "now") != 0)
        FZ_CHECK(smar_time_parse(str, strlen(str), 1, &t) == SMAR_OK);
    uint32_t u;
    if (cli_parse_u32(str, 1, 64, &u) == 0)
        FZ_CHECK(u >= 1 && u <= 64);
    free(str);
    return 0;
}
