/*
 * cli_s3.c - s3://BUCKET/KEY wherever the tool opens an archive or an output archive
 * (cli_open_archive, cli_out_open): the configuration from the environment, as the AWS
 * tools read it, and the cancellation of an upload by SIGINT/SIGTERM/SIGHUP.
 *
 * Credentials come only from the environment (never the command line, where other users
 * see them): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. The region is
 * AWS_REGION, else AWS_DEFAULT_REGION; the endpoint AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL; SMAR_S3_PATH_STYLE=1 asks for path-style addressing.
 *
 * IBM Cloud Object Storage also takes an IAM API key instead of HMAC keys: IBMCLOUD_API_KEY,
 * or SMAR_IBMCLOUD_API_KEY_FILE (a file holding it), with the token service at SMAR_IAM_URL
 * (default https://iam.cloud.ibm.com), the same settings as for Key Protect keys. It is used
 * only when AWS_ACCESS_KEY_ID is not set: HMAC keys, when given, win.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smar/s3.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static const char *env_either(const char *first, const char *second)
{
    const char *v = env(first);
    return v != NULL ? v : env(second);
}

/* --retain-until of create and rewrap (0: none), for the next upload. */
static smar_time_ns retain_until;

void cli_s3_set_retain_until(smar_time_ns t)
{
    retain_until = t;
}

int cli_retain_until_option(const char *text, const char *usage, smar_time_ns *out)
{
    if (cli_parse_time(text, out) != 0 || *out <= 0)
        return cli_usage_error(usage, "--retain-until '%s' is not an RFC 3339 time or a date",
                               text);
    return 0;
}

int cli_retain_until_check(smar_time_ns t, const char *output, const char *usage)
{
    if (t == 0)
        return 0;
    if (!smar_s3_is_url(output))
        return cli_usage_error(usage, "--retain-until needs an s3:// output (Object Lock)");
    cli_s3_set_retain_until(t);
    return 0;
}

/* The signal that interrupted an upload, or 0 (set by cli.c's signal handler). */
static volatile sig_atomic_t *interrupted;

static bool upload_interrupted(void *ctx)
{
    (void)ctx;
    return interrupted != NULL && *interrupted != 0;
}

/* Room for an API key read from SMAR_IBMCLOUD_API_KEY_FILE (wiped by the caller). */
#define API_KEY_BUF (1024 + 2)

/* The IAM API key, when HMAC keys are not given. 0, or an exit code after a message. */
static int iam_options(smar_s3_options *o, char key_buf[API_KEY_BUF])
{
    o->ibm_iam.endpoint = env("SMAR_IAM_URL");
    const char *key_file = env("SMAR_IBMCLOUD_API_KEY_FILE");
    if (key_file == NULL) {
        o->ibm_iam.api_key = env("IBMCLOUD_API_KEY");
        return 0;
    }
    if (cli_read_api_key_file(key_file, key_buf, API_KEY_BUF) != 0)
        return CLI_EXIT_FAILURE;
    o->ibm_iam.api_key = key_buf;
    return 0;
}

/* Options from the environment; key_buf may receive an API key. 0, or an exit code after a
 * message. */
static int s3_options(smar_s3_options *o, const char *url, char key_buf[API_KEY_BUF])
{
    *o = (smar_s3_options)SMAR_S3_OPTIONS_INIT;
    o->access_key_id = env("AWS_ACCESS_KEY_ID");
    o->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    o->session_token = env("AWS_SESSION_TOKEN");
    o->region = env_either("AWS_REGION", "AWS_DEFAULT_REGION");
    o->endpoint = env_either("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    const char *path_style = env("SMAR_S3_PATH_STYLE");
    if (path_style != NULL && strcmp(path_style, "1") == 0)
        o->flags |= SMAR_S3_PATH_STYLE;
    if (o->access_key_id == NULL) {
        int ret = iam_options(o, key_buf);
        if (ret != 0 || o->ibm_iam.api_key != NULL)
            return ret;
    }
    if (o->access_key_id == NULL || o->secret_access_key == NULL) {
        cli_error("%s: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or, "
                  "for IBM Cloud Object Storage, IBMCLOUD_API_KEY)",
                  url);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

int cli_s3_is_url(const char *path)
{
    return smar_s3_is_url(path);
}

int cli_s3_reader_open(smar_reader *r, const char *url, char err[SMAR_IO_ERROR_MAX])
{
    smar_s3_options o;
    char key_buf[API_KEY_BUF];
    if (s3_options(&o, url, key_buf) != 0) {
        explicit_bzero(key_buf, sizeof key_buf);
        snprintf(err, SMAR_IO_ERROR_MAX, "no S3 credentials in the environment");
        return SMAR_E_INVALID;
    }
    smar_source src;
    int rc = smar_s3_source_open(&src, url, &o, err); /* copies the key */
    explicit_bzero(key_buf, sizeof key_buf);
    if (rc != SMAR_OK)
        return rc;
    /* The reader owns the source once it opened; on failure it is still ours. */
    rc = smar_reader_open_source(r, &src, url);
    if (rc != SMAR_OK && src.close != NULL)
        src.close(src.opaque);
    return rc;
}

int cli_s3_out_open(cli_out *o, const char *url, int force, volatile sig_atomic_t *interrupt_flag)
{
    smar_s3_options so;
    char key_buf[API_KEY_BUF];
    int ret = s3_options(&so, url, key_buf);
    if (ret != 0) {
        explicit_bzero(key_buf, sizeof key_buf);
        return ret;
    }
    interrupted = interrupt_flag;
    so.cancelled = upload_interrupted;
    so.retain_until = retain_until;
    if (force)
        so.flags |= SMAR_S3_REPLACE;
    const char *part_mib = env("SMAR_S3_PART_SIZE_MIB");
    if (part_mib != NULL) {
        uint32_t v;
        if (cli_parse_u32(part_mib, 5, 512, &v) != 0) {
            cli_error("SMAR_S3_PART_SIZE_MIB must be 5..512");
            explicit_bzero(key_buf, sizeof key_buf);
            return CLI_EXIT_USAGE;
        }
        so.part_size_mib = v;
    }
    smar_s3_sink *s = NULL;
    int rc = smar_s3_sink_open(&s, url, &so); /* copies the key */
    explicit_bzero(key_buf, sizeof key_buf);
    if (rc != SMAR_OK) {
        cli_error("%s", s != NULL ? smar_s3_sink_error(s) : "out of memory");
        smar_s3_sink_free(s);
        return CLI_EXIT_FAILURE;
    }
    o->s3 = s;
    o->display = cli_xstrdup(url);
    return 0;
}

int cli_s3_out_sink(cli_out *o, smar_sink *out)
{
    if (o->s3 == NULL)
        return 0;
    smar_s3_sink_as_sink(o->s3, out);
    return 1;
}

void cli_s3_out_close(cli_out *o)
{
    smar_s3_sink_free(o->s3); /* aborts the upload unless it completed */
    o->s3 = NULL;
}
