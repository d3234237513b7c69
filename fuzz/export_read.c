/*
 * export_read.c - see export_read.h.
 */
#include "export_read.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "export_in.h"
#include "json.h"

#define MAX_SECRETS 5000

void fz_read_export(const char *path, bool small_limits)
{
    smar_export *ex;
    const char *json;
    size_t len;
    smar_time_ns t;
    int rc;
    if (smar_export_new(&ex) != SMAR_OK)
        return;
    if (small_limits)
        smar_export_set_limits(ex, 300, 200);
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

/* ---- standard input, a packet at a time ----------------------------------------------- */

typedef struct feeder {
    int fd;
    const uint8_t *p;
    size_t n, packet;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    for (size_t off = 0; off < f->n;) {
        size_t k = f->n - off < f->packet ? f->n - off : f->packet;
        ssize_t w = send(f->fd, f->p + off, k, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w != (ssize_t)k)
            break; /* the reader stopped early */
        off += k;
    }
    close(f->fd); /* end of input */
    return NULL;
}

void fz_read_export_stream(const uint8_t *data, size_t size, size_t packet, bool small_limits)
{
    int sv[2];
    pthread_t t;
    /* SOCK_SEQPACKET keeps message boundaries: each read(2) returns exactly one packet */
    if (packet == 0 || packet > 4096 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        abort();
    feeder f = {sv[1], data, size, packet};
    if (pthread_create(&t, NULL, feed, &f) != 0)
        abort();
    int saved = dup(STDIN_FILENO);
    if (saved < 0 || dup2(sv[0], STDIN_FILENO) < 0)
        abort();
    close(sv[0]);
    fz_read_export("-", small_limits);
    dup2(saved, STDIN_FILENO); /* closes the socket's reading end: the feeder stops */
    close(saved);
    pthread_join(t, NULL);
}
