/*
 * export_read.c - see export_read.h.
 */
#include "export_read.h"

#include <string.h>

#include "common.h"
#include "json.h"

#define MAX_SECRETS 5000

void fz_read_export(const char *path)
{
    smar_export *ex;
    const char *json;
    size_t len;
    smar_time_ns t;
    int rc;
    if (smar_export_new(&ex) != SMAR_OK)
        return;
    rc = smar_export_open(ex, path);
    if (rc == SMAR_OK) {
        for (size_t i = 0; i < MAX_SECRETS; i++) {
            rc = smar_export_next_secret(ex, &json, &len);
            if (rc != SMAR_OK)
                break;
            /* promised: one strict JSON object */
            smar_span text = {json, len}, value;
            char err[128];
            FZ_CHECK(smar_json_validate(text, SMAR_JSON_MAX_DEPTH, &value, err, sizeof err));
            FZ_CHECK(smar_json_kind_of(value) == SMAR_JSON_OBJECT);
            FZ_CHECK(smar_export_location(ex) != NULL);
        }
        if (rc == SMAR_DONE) {
            FZ_CHECK(smar_export_document(ex, &json, &len) == SMAR_OK);
            smar_span text = {json, len}, value;
            char err[128];
            FZ_CHECK(smar_json_validate(text, SMAR_JSON_MAX_DEPTH, &value, err, sizeof err));
            FZ_CHECK(smar_json_kind_of(value) == SMAR_JSON_OBJECT);
            FZ_CHECK(smar_export_next_secret(ex, &json, &len) == SMAR_DONE);
        } else if (rc != SMAR_OK) {
            FZ_CHECK(rc < 0 && smar_export_error(ex)[0] != '\0');
            FZ_CHECK(smar_export_next_secret(ex, &json, &len) == rc); /* the error sticks */
            FZ_CHECK(smar_export_document(ex, &json, &len) != SMAR_OK);
        }
    } else {
        FZ_CHECK(rc < 0 && smar_export_error(ex)[0] != '\0');
    }
    (void)smar_export_exported_at(ex, &t);
    smar_export_free(ex);
}
