/*
 * render.h - building the export form of a secret (spec/FORMAT.md section 12) from the
 * stored texts: the one place that writes "{", members, "versions":[...] and "}". Member
 * texts are copied, never re-serialised, so every value keeps its bytes. The reader
 * (one archive: archive/lookup.c) and the series (an answer at T: series/series.c) decide
 * what goes in; this writes it.
 *
 *   smar_render o; smar_render_begin(&o, &buf);
 *   smar_render_members(&o, meta, metalen, NULL);      // then payload members
 *   smar_render_array(&o, "versions");
 *   for each version: smar_render_element(&o, &v); ... smar_render_end(&v);
 *   smar_render_array_end(&o); smar_render_end(&o);
 */
#ifndef SMAR_RENDER_H
#define SMAR_RENDER_H

#include "internal.h"

/* One object being written into out. */
typedef struct smar_render {
    smar_buf *out;
    bool first;   /* no member written yet */
    size_t items; /* elements written into the open array */
} smar_render;

/* Start an object: "{". SMAR_OK or SMAR_E_NOMEM. */
int smar_render_begin(smar_render *o, smar_buf *out);
/* Add every member of the object text obj, leaving out the member named skip (NULL: none).
 * obj must be exactly one object that smar_json_validate accepted (the record accessors and
 * payload reads check that before handing it out); SMAR_E_CORRUPT when it is not braced. */
int smar_render_members(smar_render *o, const char *obj, size_t len, const char *skip);
/* Open an array member named name: ,"name":[ */
int smar_render_array(smar_render *o, const char *name);
/* Start the next object element of the open array into *item. */
int smar_render_element(smar_render *o, smar_render *item);
/* Close the open array: "]". */
int smar_render_array_end(smar_render *o);
/* Close the object: "}". */
int smar_render_end(smar_render *o);

#endif
