/*
 * paths.c - path components for `smar extract --format dir|tar`, made so that two
 * different strings never give one component and the id is always there whole.
 *
 * Secret names, types, group names and ids come from the archive and may hold anything:
 * '/', "..", control characters, a leading dot, invalid UTF-8, hundreds of bytes. They are
 * percent-encoded, never cut or replaced (replacing or cutting made `a/b`, `a_b` and `a:b`
 * one folder, so one secret overwrote another):
 *
 *   - A-Z a-z 0-9 . _ - are kept, except a leading '.' (no hidden names, never . or ..);
 *   - every other byte is %XX (upper-case hex), '%' itself included;
 *   - in names (group, type, secret name) a valid UTF-8 sequence of a printable character
 *     is kept as it is, so "日本" or "café" stay readable; controls (C1, bidi, line
 *     separators) and invalid UTF-8 are encoded byte by byte;
 *   - in ids only ASCII is kept, and a '-' that starts the id or follows another '-' is
 *     encoded, so an encoded id never holds "--": a secret folder "<name>--<id>" splits at
 *     its last "--", whatever the name holds.
 *
 * Decoding (%XX back to its byte, anything else as is) gives the original string, which is
 * what makes the encoding injective. Only the readable name part of a secret folder is ever
 * shortened; a folder that cannot hold the whole id is refused. A version file is named
 * first by its position, which is unique in its folder: its version id part may be
 * shortened.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The output being built: bytes beyond cap are counted but not written. */
struct enc {
    char *out;
    size_t cap;  /* room for bytes, without the NUL */
    size_t n;    /* bytes the whole encoding takes */
    size_t kept; /* bytes written: the whole units before the first that did not fit */
    int cut;     /* a unit did not fit: nothing more is written */
};

static void put_unit(struct enc *e, const char *unit, size_t len)
{
    if (!e->cut && e->n + len <= e->cap) {
        memcpy(e->out + e->n, unit, len);
        e->kept = e->n + len;
    } else {
        e->cut = 1;
    }
    e->n += len;
}

static void put_escaped(struct enc *e, unsigned char c)
{
    char unit[4];
    snprintf(unit, sizeof unit, "%%%02X", c);
    put_unit(e, unit, 3);
}

static int is_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Code points that are invisible or reorder text on a terminal: encoded, not kept. */
static int is_unprintable(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
           (cp >= 0xfff0 && cp <= 0xffff) || (cp & 0xfffe) == 0xfffe;
}

/* Length (2..4) of a valid, printable UTF-8 sequence at s, or 0. Overlong forms,
 * surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_char_len(const unsigned char *s)
{
    size_t len;
    unsigned cp, min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2, cp = s[0] & 0x1fu, min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3, cp = s[0] & 0x0fu, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || is_unprintable(cp))
        return 0;
    return len;
}

static void encode(struct enc *e, const char *text, int is_id)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; s[i] != '\0';) {
        unsigned char c = s[i];
        size_t u8 = is_id || c < 0x80 ? 0 : utf8_char_len(s + i);
        int plain = is_plain(c) && !(i == 0 && c == '.') &&
                    !(is_id && c == '-' && (i == 0 || s[i - 1] == '-'));
        if (u8 > 0) {
            put_unit(e, text + i, u8);
            i += u8;
            continue;
        }
        if (plain)
            put_unit(e, text + i, 1);
        else
            put_escaped(e, c);
        i++;
    }
}

/* Names that the folder tree's root holds itself: a group must never take one. */
static const char *const ROOT_RESERVED[] = {"instance.json", "secret_groups.json",
                                            "configurations.json", "secrets"};

int cli_path_folder(char out[CLI_NAME_MAX + 1], const char *name, int at_root)
{
    struct enc e = {out, CLI_NAME_MAX, 0, 0, 0};
    if (name[0] == '\0') {
        put_unit(&e, "%00", 3); /* never the encoding of a real name (no NUL in one) */
    } else {
        int reserved = 0;
        for (size_t i = 0; at_root && i < sizeof ROOT_RESERVED / sizeof *ROOT_RESERVED; i++)
            reserved |= strcmp(name, ROOT_RESERVED[i]) == 0;
        if (reserved) /* "%73ecrets": a plain 's' is never encoded otherwise */
            put_escaped(&e, (unsigned char)name[0]);
        encode(&e, name + reserved, 0);
    }
    out[e.cut ? 0 : e.n] = '\0';
    return e.cut ? -1 : 0;
}

int cli_path_secret(char out[CLI_NAME_MAX + 1], const char *name, const char *id)
{
    char id_part[CLI_NAME_MAX + 1];
    struct enc e = {id_part, CLI_NAME_MAX, 0, 0, 0};
    encode(&e, id, 1);
    if (e.cut || e.n == 0) {
        out[0] = '\0';
        return -1;
    }
    id_part[e.n] = '\0';
    size_t sep = strlen("--");
    size_t n = 0;
    if (name[0] != '\0' && e.n + sep < CLI_NAME_MAX) {
        /* The readable part gets what the id leaves, cut on a unit boundary. */
        struct enc name_enc = {out, CLI_NAME_MAX - sep - e.n, 0, 0, 0};
        encode(&name_enc, name, 0);
        n = name_enc.kept;
    }
    if (n > 0) {
        memcpy(out + n, "--", sep);
        n += sep;
    }
    memcpy(out + n, id_part, e.n + 1); /* n + e.n <= CLI_NAME_MAX, checked above */
    return 0;
}

int cli_path_version(char out[CLI_NAME_MAX + 1], size_t position, const char *stamp,
                     const char *version_id)
{
    static const char suffix[] = ".json";
    int n = snprintf(out, CLI_NAME_MAX + 1, "%04zu--%.*s--", position, SMAR_TIME_BUFSIZE, stamp);
    if (n < 0 || (size_t)n + sizeof suffix > CLI_NAME_MAX) {
        out[0] = '\0';
        return -1;
    }
    /* The position alone makes the name unique in versions/, and the version's id is in
     * the file: a version id too long for the rest is shortened, not refused. */
    struct enc e = {out + n, CLI_NAME_MAX - (size_t)n - (sizeof suffix - 1), 0, 0, 0};
    encode(&e, version_id, 1);
    memcpy(out + (size_t)n + e.kept, suffix, sizeof suffix);
    return 0;
}
