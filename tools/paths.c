/*
 * paths.c - safe, readable path components for `smar extract --format dir|tar`.
 *
 * Secret names, types and group names come from the archive and may hold anything: '/',
 * "..", control characters, a leading dot, thousands of bytes. Each component keeps only
 * the POSIX portable filename characters (plus a few harmless ones), never starts with a
 * dot, and is capped in length while the part that makes it unique (the id) is kept whole.
 */
#include <string.h>

#include "cli.h"

static int is_safe_byte(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("._-+@=,", c) != NULL;
}

/* Copy at most cap bytes of s, replacing unsafe bytes; returns the length written. */
static size_t sanitize_into(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < cap; n++)
        out[n] = is_safe_byte((unsigned char)s[n]) ? s[n] : '_';
    return n;
}

void cli_path_component(char out[CLI_COMPONENT_MAX + 1], const char *name, const char *keep)
{
    char tail[CLI_COMPONENT_MAX + 1];
    size_t tlen = keep ? sanitize_into(tail, CLI_COMPONENT_MAX, keep) : 0;
    size_t n = sanitize_into(out, CLI_COMPONENT_MAX - tlen, name ? name : "");
    memcpy(out + n, tail, tlen);
    n += tlen;
    out[n] = '\0';
    if (n == 0) {
        strcpy(out, "_");
        return;
    }
    /* No hidden files, and so never "." or "..". */
    if (out[0] == '.')
        out[0] = '_';
}
