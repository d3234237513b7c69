/*
 * fuzz_export_dir.c - an instance export directory (export_tree.c): the input is split into
 * files, each introduced by a line "@<relative path>", e.g.
 *
 *   @instance.json
 *   {"instance":{"crn":"x"},"exported_at":"2026-11-20T02:00:00Z"}
 *   @secrets/abc.json
 *   {"id":"abc","secret_type":"arbitrary","versions":[]}
 *
 * A path ending in "/" makes a directory. Paths are restricted to [A-Za-z0-9._-] components
 * without "..", at most 4 deep; the tree is made afresh in the temporary directory for each
 * input, then read with the same calls as the other export harnesses (odd sizes with the
 * size limits lowered).
 */
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "export_read.h"

#define MAX_FILES 64

static bool safe_path(const char *p)
{
    int depth = 0;
    if (*p == '\0' || *p == '/')
        return false;
    for (const char *c = p; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' || *c == '/';
        if (!ok)
            return false;
        if (*c == '/' && ++depth > 4)
            return false;
    }
    return strstr(p, "..") == NULL && strstr(p, "//") == NULL;
}

/* Make every directory leading to rel (and rel itself when it ends in '/'). */
static void make_dirs(const char *root, const char *rel)
{
    char path[1024];
    size_t rootlen = strlen(root);
    if (rootlen + 1 + strlen(rel) >= sizeof path)
        return;
    memcpy(path, root, rootlen);
    path[rootlen] = '/';
    strcpy(path + rootlen + 1, rel);
    for (char *c = path + rootlen + 1; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            mkdir(path, 0700);
            *c = '/';
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    char root[512];
    snprintf(root, sizeof root, "%s", fz_tmp_path("export-dir"));
    fz_rmtree(root);
    if (mkdir(root, 0700) != 0)
        abort();
    const char *p = (const char *)data, *end = p + size;
    int files = 0;
    /* skip to the first "@" line */
    while (p < end && *p != '@') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end && files < MAX_FILES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *body = nl ? nl + 1 : end;
        size_t namelen = (size_t)((nl ? nl : end) - (p + 1));
        /* the body runs to the next line starting with '@' */
        const char *q = body, *next = end;
        while (q < end) {
            if (*q == '@' && (q == body || q[-1] == '\n')) {
                next = q;
                break;
            }
            const char *n2 = memchr(q, '\n', (size_t)(end - q));
            q = n2 ? n2 + 1 : end;
        }
        char rel[256];
        if (namelen > 0 && namelen < sizeof rel) {
            memcpy(rel, p + 1, namelen);
            rel[namelen] = '\0';
            if (safe_path(rel)) {
                make_dirs(root, rel);
                if (rel[namelen - 1] != '/') {
                    char path[1024];
                    snprintf(path, sizeof path, "%s/%s", root, rel);
                    fz_write_file(path, body, (size_t)(next - body), 0600);
                }
                files++;
            }
        }
        p = next;
    }
    fz_read_export(root, size & 1);
    fz_rmtree(root);
    return 0;
}
