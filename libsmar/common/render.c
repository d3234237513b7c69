/*
 * render.c - the export form of a secret, written from stored texts (render.h).
 */
#include "render.h"

#include "json.h"

int smar_render_begin(smar_render *o, smar_buf *out)
{
    *o = (smar_render){out, true, 0};
    return smar_buf_append(out, "{", 1);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* All members at once: the text between the braces, without its outer blanks, is the
 * members joined by commas already. One copy, no scan: this is every secret and payload of
 * a full restore. */
static int copy_all_members(smar_render *o, const char *obj, size_t len)
{
    size_t a = 1, z = len - 1;
    while (a < z && is_blank(obj[a]))
        a++;
    while (z > a && is_blank(obj[z - 1]))
        z--;
    if (a == z)
        return SMAR_OK;
    if ((!o->first && smar_buf_append(o->out, ",", 1) != SMAR_OK) ||
        smar_buf_append(o->out, obj + a, z - a) != SMAR_OK)
        return SMAR_E_NOMEM;
    o->first = false;
    return SMAR_OK;
}

int smar_render_members(smar_render *o, const char *obj, size_t len, const char *skip)
{
    smar_span key, member;
    if (obj == NULL || len < 2 || obj[0] != '{' || obj[len - 1] != '}')
        return SMAR_E_CORRUPT;
    if (skip == NULL)
        return copy_all_members(o, obj, len);
    smar_json_iter it;
    smar_json_iter_init(&it, (smar_span){obj, len});
    while (smar_json_next_member(&it, &key, &member)) {
        if (skip != NULL && smar_json_string_eq(key, skip))
            continue;
        if ((!o->first && smar_buf_append(o->out, ",", 1) != SMAR_OK) ||
            smar_buf_append(o->out, key.p, (size_t)(member.p + member.n - key.p)) != SMAR_OK)
            return SMAR_E_NOMEM;
        o->first = false;
    }
    return SMAR_OK;
}

int smar_render_array(smar_render *o, const char *name)
{
    o->items = 0;
    if ((!o->first && smar_buf_append(o->out, ",", 1) != SMAR_OK) ||
        smar_buf_printf(o->out, "\"%s\":[", name) != SMAR_OK)
        return SMAR_E_NOMEM;
    o->first = false;
    return SMAR_OK;
}

int smar_render_element(smar_render *o, smar_render *item)
{
    if (o->items++ > 0 && smar_buf_append(o->out, ",", 1) != SMAR_OK)
        return SMAR_E_NOMEM;
    return smar_render_begin(item, o->out);
}

int smar_render_array_end(smar_render *o)
{
    return smar_buf_append(o->out, "]", 1);
}

int smar_render_end(smar_render *o)
{
    return smar_buf_append(o->out, "}", 1);
}
