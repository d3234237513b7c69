/*
 * test_s3.c - the S3 client's pieces that need no server: object URLs, the canonical
 * request URLs libcurl signs as written (Debian's libcurl 7.88 neither sorts nor encodes:
 * curl issue #9717), path-style detection, and MD5 (RFC 1321's own test suite). That the
 * signatures of these URLs are right is checked against botocore by tests/e2e/t_s3.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "md5.h"
#include "s3.h"

static void url_is(const char *endpoint, bool path_style, const char *bucket, const char *key,
                   const smar_s3_param *params, size_t n, const char *want)
{
    smar_buf b = {0};
    assert_int_equal(smar_s3_request_url(&b, endpoint, path_style, bucket, key, params, n),
                     SMAR_OK);
    assert_string_equal((const char *)b.data, want);
    smar_buf_free(&b);
}

static void test_canonical_paths(void **state)
{
    (void)state;
    url_is("https://127.0.0.1:9000", true, "b", "nightly/a.smar", NULL, 0,
           "https://127.0.0.1:9000/b/nightly/a.smar");
    url_is("https://s3.eu-de.example", false, "backups", "a b+c=d~e_f.g-h", NULL, 0,
           "https://backups.s3.eu-de.example/a%20b%2Bc%3Dd~e_f.g-h");
    /* UTF-8 bytes, '%', '?', '#', '*', '&' and ':' all escaped, upper-case hex; '/' kept */
    url_is("https://h", true, "b", "d\xc3\xa9j\xc3\xa0/100%?#*&:", NULL, 0,
           "https://h/b/d%C3%A9j%C3%A0/100%25%3F%23%2A%26%3A");
}

static void test_canonical_queries(void **state)
{
    (void)state;
    /* a bare name is written name= (SigV4's canonical query string), never ?uploads */
    smar_s3_param create[] = {{"uploads", NULL}};
    url_is("https://h", true, "b", "k", create, 1, "https://h/b/k?uploads=");
    /* sorted by name whatever the order given; values encoded, '/' and '=' too */
    smar_s3_param part[] = {{"uploadId", "a/b=c+d"}, {"partNumber", "12"}};
    url_is("https://h", true, "b", "k", part, 2,
           "https://h/b/k?partNumber=12&uploadId=a%2Fb%3Dc%2Bd");
    /* byte order: upper case sorts before lower case, as SigV4 sorts */
    smar_s3_param list[] = {
        {"prefix", "p/"}, {"list-type", "2"}, {"continuation-token", "x y"}, {"Z", "1"}};
    url_is("https://h", true, "b", NULL, list, 4,
           "https://h/b/?Z=1&continuation-token=x%20y&list-type=2&prefix=p%2F");
}

static void test_path_style(void **state)
{
    (void)state;
    assert_true(smar_s3_endpoint_wants_path_style("https://127.0.0.1:4568"));
    assert_true(smar_s3_endpoint_wants_path_style("https://localhost"));
    assert_true(smar_s3_endpoint_wants_path_style("https://[::1]:9000"));
    assert_false(smar_s3_endpoint_wants_path_style("https://s3.us-east-1.amazonaws.com"));
    assert_false(smar_s3_endpoint_wants_path_style("https://10.example.com"));
}

static void test_parse_url(void **state)
{
    (void)state;
    char bucket[SMAR_S3_BUCKET_MAX + 1], key[SMAR_S3_KEY_MAX + 1];
    smar_err e = {0};
    assert_int_equal(smar_s3_parse_url("s3://my-bucket/a/b.smar", bucket, key, &e), SMAR_OK);
    assert_string_equal(bucket, "my-bucket");
    assert_string_equal(key, "a/b.smar");
    const char *bad[] = {
        "s3://",          "s3://ab/k",        "s3://bucket",      "s3://bucket/",
        "s3://buc ket/k", "s3://bucket/a\nb", "https://bucket/k", "s3://bucket/prefix/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(smar_s3_parse_url(bad[i], bucket, key, &e), SMAR_E_INVALID);
    char longkey[1100] = "s3://bucket/";
    memset(longkey + 12, 'k', 1025);
    longkey[12 + 1025] = '\0';
    assert_int_equal(smar_s3_parse_url(longkey, bucket, key, &e), SMAR_E_INVALID);
}

static void md5_is(const char *text, const char *want)
{
    uint8_t d[SMAR_MD5_BYTES];
    char hex[2 * SMAR_MD5_BYTES + 1];
    smar_md5(text, strlen(text), d);
    for (int i = 0; i < SMAR_MD5_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, want);
}

static void test_md5(void **state)
{
    (void)state;
    md5_is("", "d41d8cd98f00b204e9800998ecf8427e");
    md5_is("a", "0cc175b9c0f1b6a831c399e269772661");
    md5_is("abc", "900150983cd24fb0d6963f7d28e17f72");
    md5_is("message digest", "f96b697d7cb7938d525a2f31aaf161d0");
    md5_is("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b");
    md5_is("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
           "d174ab98d277d9f5a5611c2c9f419d9f");
    md5_is("1234567890123456789012345678901234567890123456789012345678901234567890123456789"
           "0",
           "57edf4a22be3c955ac49da2e2107b67a");
}

/* UploadPartCopy: the source named as the canonical path names it, the range inclusive,
 * the source pinned by its ETag when one is known. */
static void test_copy_part_headers(void **state)
{
    (void)state;
    smar_buf b = {0};
    const char *lines[3];
    size_t n = 0;
    assert_int_equal(smar_s3_copy_part_headers(&b, lines, &n, "bkt", "dir with space/ü+=&.smar",
                                               5242880, 10485759, "\"0123abcd-2\""),
                     SMAR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(lines[0],
                        "x-amz-copy-source: /bkt/dir%20with%20space/%C3%BC%2B%3D%26.smar");
    assert_string_equal(lines[1], "x-amz-copy-source-range: bytes=5242880-10485759");
    assert_string_equal(lines[2], "x-amz-copy-source-if-match: \"0123abcd-2\"");
    assert_int_equal(smar_s3_copy_part_headers(&b, lines, &n, "bkt", "k", 0, 0, ""), SMAR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], "x-amz-copy-source: /bkt/k");
    assert_string_equal(lines[1], "x-amz-copy-source-range: bytes=0-0");
    assert_int_equal(smar_s3_copy_part_headers(&b, lines, &n, "bkt", "k", 9, 8, NULL),
                     SMAR_E_INVALID);
    assert_int_equal(smar_s3_copy_part_headers(&b, lines, &n, "bkt", "k", 0, 8, "\"x\r\nX: y\""),
                     SMAR_E_INVALID);
    smar_buf_free(&b);
    /* the part's URL: partNumber and uploadId sorted, as SigV4 signs them */
    smar_s3_param params[2] = {{"uploadId", "u/1+"}, {"partNumber", "2"}};
    url_is("https://127.0.0.1:9000", true, "b", "new.smar", params, 2,
           "https://127.0.0.1:9000/b/new.smar?partNumber=2&uploadId=u%2F1%2B");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_paths),
        cmocka_unit_test(test_canonical_queries),
        cmocka_unit_test(test_path_style),
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_copy_part_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
