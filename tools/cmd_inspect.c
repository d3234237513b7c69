/*
 * cmd_inspect.c - smar inspect: the public header of an archive, and with a key a summary
 * of the snapshot it holds.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char inspect_usage[] =
    "usage: smar inspect [--json] [--key FILE]... [--pubkey PUB]... [--no-signer-check] ARCHIVE\n"
    "\n"
    "    --json          machine-readable output (see smar(1))\n"
    "    -k, --key FILE  also unlock the archive and summarise the snapshot: instance,\n"
    "                    secrets by type and by group, version time range\n"
    "    --pubkey PUB    refuse an archive not signed by this producer public key\n"
    "                    (repeatable: any of them; default: $SMAR_PUBKEY)\n"
    "    --no-signer-check\n"
    "                    read an archive opened through a public-key recipient without a\n"
    "                    pinned producer (unsafe: anyone can make one)\n"
    "    --passphrase-file KEYFILE=PASSFILE\n"
    "                    the passphrase of KEYFILE is in PASSFILE\n";

static const char *const section_names[5] = {NULL, "payload", "manifest", "index", "meta"};

/* ---- key slots ------------------------------------------------------------------------ */

/* The provider ids spec/FORMAT.md §5.2 assigns; a reader lists any other as unknown. */
#define PROVIDER_ID_KNOWN_MAX 4

/* A slot's provider by name: "local", "x25519", "pkcs11", "kms", or "unknown (N)". */
static const char *slot_provider(const smar_slot_info *si, char *buf, size_t cap)
{
    if (si->provider_id >= 1 && si->provider_id <= PROVIDER_ID_KNOWN_MAX)
        return si->provider;
    snprintf(buf, cap, "unknown (%u)", si->provider_id);
    return buf;
}

static const char *version_kind_name(int kind)
{
    return kind == 0 ? "none" : kind == 1 ? "number" : "string";
}

/* A slot's key version as text: the number, the string (control bytes shown as '?': the
 * format refuses them, this is only defence), or "none" when the provider keeps it inside
 * the wrapped key (version kind 0). */
static const char *slot_version(const smar_slot_info *si, char *buf, size_t cap)
{
    if (si->version_kind == 1)
        snprintf(buf, cap, "%u", si->key_version);
    else if (si->version_kind == 2 && si->version_string != NULL)
        cli_printable(si->version_string, buf, cap);
    else
        snprintf(buf, cap, "none");
    return buf;
}

/* One slot: provider, key id and version, never the wrapped key. */
static cJSON *slot_json(const smar_slot_info *si)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "key_id", si->key_id);
    cli_json_add_u64(e, "key_version", si->key_version);
    /* "unknown" for ids this smar does not know, as before: provider_id says which */
    cJSON_AddStringToObject(e, "provider", si->provider);
    cli_json_add_u64(e, "provider_id", si->provider_id);
    cli_json_add_u64(e, "flags", si->flags);
    cJSON_AddStringToObject(e, "version_kind", version_kind_name(si->version_kind));
    if (si->version_kind == 1)
        cli_json_add_u64(e, "version", si->key_version);
    else if (si->version_kind == 2 && si->version_string != NULL)
        cJSON_AddStringToObject(e, "version", si->version_string);
    else
        cJSON_AddNullToObject(e, "version");
    return e;
}

static void print_slot(const smar_slot_info *si)
{
    char id[4 * 256], version[4 * 256], name[32];
    printf("  %s version %s (%s)\n", cli_printable(si->key_id, id, sizeof id),
           slot_version(si, version, sizeof version), slot_provider(si, name, sizeof name));
}

/* A count per distinct name, in first-seen order. */
struct tally {
    char **names;
    uint64_t *counts;
    size_t n;
};

static void tally_add(struct tally *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->names[i], name) == 0) {
            t->counts[i]++;
            return;
        }
    }
    t->names = cli_xrealloc(t->names, (t->n + 1) * sizeof *t->names);
    t->counts = cli_xrealloc(t->counts, (t->n + 1) * sizeof *t->counts);
    t->names[t->n] = cli_xstrdup(name);
    t->counts[t->n] = 1;
    t->n++;
}

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->counts);
}

struct summary {
    smar_snapshot_info snap;
    char *crn;
    char *region;
    smar_reader *reader; /* names the groups */
    struct tally by_type;
    struct tally by_group; /* by group id */
};

static int count_secret(smar_reader *r, const smar_secret *s, void *payload)
{
    (void)r;
    struct summary *sum = payload;
    const char *group = smar_secret_group_id(s);
    tally_add(&sum->by_type, smar_secret_type(s));
    tally_add(&sum->by_group, *group ? group : "(none)");
    return 0;
}

/* A string member of the document's "instance" object, or NULL. */
static char *instance_field(const char *doc, size_t len, const char *name)
{
    const char *inst, *v;
    size_t ilen, vlen;
    char *out = NULL;
    size_t n = 0;
    if (smar_json_find_member(doc, len, "instance", &inst, &ilen) != SMAR_OK ||
        smar_json_find_member(inst, ilen, name, &v, &vlen) != SMAR_OK ||
        smar_json_unquote(v, vlen, &out, &n) != SMAR_OK)
        return NULL;
    if (strlen(out) != n) { /* a NUL inside: not printable as a C string */
        smar_secret_buffer_free(out, n);
        return NULL;
    }
    return out;
}

static int load_summary(const char *path, smar_reader *r, struct summary *sum)
{
    int rc = smar_reader_snapshot(r, &sum->snap);
    const char *doc = "{}";
    size_t doclen = 2;
    if (rc == SMAR_OK)
        rc = smar_reader_document(r, &doc, &doclen);
    if (rc == SMAR_OK) {
        sum->crn = instance_field(doc, doclen, "crn");
        sum->region = instance_field(doc, doclen, "region");
        sum->reader = r;
        rc = smar_reader_foreach(r, count_secret, sum);
    }
    if (rc != SMAR_OK) {
        cli_error_lib(path, smar_reader_error(r));
        return cli_exit_archive(rc);
    }
    return 0;
}

static void free_summary(struct summary *sum)
{
    free(sum->crn);
    free(sum->region);
    tally_free(&sum->by_type);
    tally_free(&sum->by_group);
}

/* ---- JSON ---------------------------------------------------------------------------- */

static cJSON *info_json(const char *path, smar_reader *r, const smar_archive_info *in)
{
    char hex[33], fp[33], ver[16];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "archive", path);
    snprintf(ver, sizeof ver, "%u.%u", in->version_major, in->version_minor);
    cJSON_AddStringToObject(o, "format_version", ver);
    smar_archive_id_hex(in->archive_id, hex);
    cJSON_AddStringToObject(o, "archive_id", hex);
    cli_json_add_time(o, "created", in->created);
    cli_json_add_time(o, "snapshot", in->snapshot);
    cJSON_AddStringToObject(o, "suite", in->suite);
    cJSON_AddStringToObject(o, "compression", in->compression);
    cli_json_add_u64(o, "chunk_size", in->chunk_size);
    cli_json_add_u64(o, "file_size", in->file_size);
    cli_json_add_u64(o, "header_size", in->header_size);
    cli_json_add_u64(o, "chunk_count", in->chunk_count);
    cJSON *sections = cJSON_AddObjectToObject(o, "sections");
    for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_META; s++) {
        cJSON *e = cJSON_AddObjectToObject(sections, section_names[s]);
        cli_json_add_u64(e, "chunks", in->section_chunks[s]);
        cli_json_add_u64(e, "bytes", in->section_bytes[s]);
    }
    if (in->digests_chunks > 0) { /* format 2.2 (FORMAT.md §26.6) */
        cJSON *e = cJSON_AddObjectToObject(sections, "digests");
        cli_json_add_u64(e, "chunks", in->digests_chunks);
        cli_json_add_u64(e, "bytes", in->digests_bytes);
    }
    cJSON *slots = cJSON_AddArrayToObject(o, "key_slots");
    for (size_t i = 0; i < in->slot_count; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        if (smar_reader_slot(r, i, &si) != SMAR_OK)
            continue;
        cJSON_AddItemToArray(slots, slot_json(&si));
    }
    /* incremental archives: the chain, keyless (FORMAT.md §26) */
    cJSON_AddBoolToObject(o, "incremental", in->incremental);
    cJSON *bases = cJSON_AddArrayToObject(o, "bases");
    for (size_t i = 0; i < in->base_count; i++) {
        smar_base_info b = SMAR_BASE_INFO_INIT;
        char id[33];
        if (smar_reader_base(r, i, &b) != SMAR_OK)
            continue;
        cJSON *e = cJSON_CreateObject();
        smar_archive_id_hex(b.archive_id, id);
        cJSON_AddStringToObject(e, "archive_id", id);
        cli_json_add_time(e, "snapshot", b.snapshot);
        cJSON_AddItemToArray(bases, e);
    }
    cJSON_AddBoolToObject(o, "signed", in->is_signed);
    if (in->is_signed) {
        smar_signkey_fingerprint(in->signer, fp);
        cJSON_AddStringToObject(o, "signer_fingerprint", fp);
    } else {
        cJSON_AddNullToObject(o, "signer_fingerprint");
    }
    return o;
}

static cJSON *tally_json(const struct tally *t, smar_reader *groups)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < t->n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (groups != NULL) {
            const char *name = smar_reader_group_name(groups, t->names[i]);
            cJSON_AddStringToObject(e, "id", t->names[i]);
            if (name != NULL)
                cJSON_AddStringToObject(e, "name", name);
            else
                cJSON_AddNullToObject(e, "name");
        } else {
            cJSON_AddStringToObject(e, "type", t->names[i]);
        }
        cli_json_add_u64(e, "secrets", t->counts[i]);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static void add_summary_json(cJSON *o, const struct summary *sum)
{
    cJSON *s = cJSON_AddObjectToObject(o, "snapshot_summary");
    cJSON *inst = cJSON_AddObjectToObject(s, "instance");
    if (sum->crn)
        cJSON_AddStringToObject(inst, "crn", sum->crn);
    else
        cJSON_AddNullToObject(inst, "crn");
    if (sum->region)
        cJSON_AddStringToObject(inst, "region", sum->region);
    else
        cJSON_AddNullToObject(inst, "region");
    cli_json_add_u64(s, "secrets", sum->snap.secret_count);
    cli_json_add_u64(s, "versions", sum->snap.version_count);
    cli_json_add_u64(s, "payloads", sum->snap.payload_count);
    cli_json_add_time(s, "oldest_version", sum->snap.oldest_version);
    cli_json_add_time(s, "newest_version", sum->snap.newest_version);
    cJSON_AddItemToObject(s, "by_type", tally_json(&sum->by_type, NULL));
    cJSON_AddItemToObject(s, "by_group", tally_json(&sum->by_group, sum->reader));
}

/* ---- text ---------------------------------------------------------------------------- */

static void print_info(const char *path, smar_reader *r, const smar_archive_info *in)
{
    char hex[33], fp[33], t1[SMAR_TIME_BUFSIZE], b[32];
    smar_archive_id_hex(in->archive_id, hex);
    printf("archive:      %s\n", path);
    printf("format:       %u.%u\n", in->version_major, in->version_minor);
    printf("archive id:   %s\n", hex);
    printf("created:      %s\n", cli_time(t1, in->created));
    printf("snapshot:     %s\n", cli_time(t1, in->snapshot));
    printf("suite:        %s\n", in->suite);
    printf("compression:  %s\n", in->compression);
    printf("chunk size:   %u\n", in->chunk_size);
    printf("file size:    %llu bytes (%s)\n", (unsigned long long)in->file_size,
           cli_bytes(b, in->file_size));
    printf("chunks:       %llu\n", (unsigned long long)in->chunk_count);
    for (int s = SMAR_SECTION_PAYLOAD; s <= SMAR_SECTION_META; s++)
        printf("  %-10s  %llu chunks, %llu bytes\n", section_names[s],
               (unsigned long long)in->section_chunks[s], (unsigned long long)in->section_bytes[s]);
    if (in->digests_chunks > 0) /* format 2.2 (FORMAT.md §26.6) */
        printf("  %-10s  %llu chunks, %llu bytes\n", "digests",
               (unsigned long long)in->digests_chunks, (unsigned long long)in->digests_bytes);
    printf("key slots:    %zu\n", in->slot_count);
    for (size_t i = 0; i < in->slot_count; i++) {
        smar_slot_info si = SMAR_SLOT_INFO_INIT;
        if (smar_reader_slot(r, i, &si) == SMAR_OK)
            print_slot(&si);
    }
    for (size_t i = 0; i < in->base_count; i++) {
        smar_base_info base = SMAR_BASE_INFO_INIT;
        char id[33];
        if (smar_reader_base(r, i, &base) != SMAR_OK)
            continue;
        smar_archive_id_hex(base.archive_id, id);
        printf("%s %s (snapshot %s)\n", i == 0 ? "base:        " : "             ", id,
               cli_time(t1, base.snapshot));
    }
    if (in->is_signed) {
        smar_signkey_fingerprint(in->signer, fp);
        printf("signed:       yes, signer %s\n", fp);
    } else {
        printf("signed:       no\n");
    }
}

static void print_summary(const struct summary *sum)
{
    char t1[SMAR_TIME_BUFSIZE], t2[SMAR_TIME_BUFSIZE], pbuf[256];
    printf("instance:     %s\n", sum->crn ? cli_printable(sum->crn, pbuf, sizeof pbuf) : "-");
    printf("region:       %s\n", sum->region ? cli_printable(sum->region, pbuf, sizeof pbuf) : "-");
    printf("secrets:      %llu (%llu versions, %llu payloads)\n",
           (unsigned long long)sum->snap.secret_count, (unsigned long long)sum->snap.version_count,
           (unsigned long long)sum->snap.payload_count);
    printf("versions:     %s to %s\n", cli_time(t1, sum->snap.oldest_version),
           cli_time(t2, sum->snap.newest_version));
    printf("by type:\n");
    for (size_t i = 0; i < sum->by_type.n; i++)
        printf("  %-20s %llu\n", cli_printable(sum->by_type.names[i], pbuf, sizeof pbuf),
               (unsigned long long)sum->by_type.counts[i]);
    printf("by group:\n");
    for (size_t i = 0; i < sum->by_group.n; i++) {
        const char *id = sum->by_group.names[i];
        const char *name = smar_reader_group_name(sum->reader, id);
        char nbuf[256];
        if (name != NULL && strcmp(name, id) != 0)
            printf("  %s (%s) %llu\n", cli_printable(name, nbuf, sizeof nbuf),
                   cli_printable(id, pbuf, sizeof pbuf),
                   (unsigned long long)sum->by_group.counts[i]);
        else
            printf("  %s %llu\n", cli_printable(id, pbuf, sizeof pbuf),
                   (unsigned long long)sum->by_group.counts[i]);
    }
}

static int inspect_one(const char *path, const cli_strlist *keypaths, int json)
{
    smar_reader *r = NULL;
    smar_keyring **keys = NULL;
    size_t nkeys = 0;
    struct summary sum = {.snap = SMAR_SNAPSHOT_INFO_INIT};
    int ret = cli_open_archive(path, &r);
    if (ret != 0)
        return ret;
    smar_archive_info in = SMAR_ARCHIVE_INFO_INIT;
    if (smar_reader_info(r, &in) != SMAR_OK) {
        cli_error_lib(path, smar_reader_error(r));
        ret = CLI_EXIT_FAILURE;
        goto done;
    }
    int keyed = keypaths->n > 0;
    if (keyed) {
        if ((ret = cli_load_keyrings(keypaths, &keys, &nkeys)) != 0 ||
            (ret = cli_unlock_archive(path, r, keys, nkeys)) != 0 ||
            (ret = load_summary(path, r, &sum)) != 0)
            goto done;
    }
    if (json) {
        cJSON *o = info_json(path, r, &in);
        if (keyed)
            add_summary_json(o, &sum);
        ret = cli_json_print(o);
    } else {
        print_info(path, r, &in);
        if (keyed)
            print_summary(&sum);
    }
done:
    free_summary(&sum);
    cli_free_keyrings(keys, nkeys);
    smar_reader_free(r);
    return ret;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"key", required_argument, NULL, 'k'},
        {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
        {"no-signer-check", no_argument, NULL, CLI_OPT_NO_SIGNER_CHECK},
        {"passphrase-file", required_argument, NULL, CLI_OPT_PASSPHRASE_FILE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_strlist keys = {0};
    int json = 0, c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'k':
            cli_strlist_push(&keys, optarg);
            break;
        case CLI_OPT_PUBKEY:
            cli_pubkey_option(optarg);
            break;
        case CLI_OPT_NO_SIGNER_CHECK:
            cli_no_signer_check_option();
            break;
        case CLI_OPT_PASSPHRASE_FILE:
            if (cli_passphrase_file_option(optarg, inspect_usage) != 0) {
                cli_strlist_free(&keys);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            cli_strlist_free(&keys);
            return cli_help(inspect_usage);
        default:
            cli_strlist_free(&keys);
            return cli_option_error(inspect_usage, c, argv);
        }
    }
    int ret;
    if (optind + 1 != argc)
        ret = cli_usage_error(inspect_usage, "exactly one ARCHIVE is required");
    else if ((ret = cli_pin_producers()) == 0)
        ret = inspect_one(argv[optind], &keys, json);
    cli_strlist_free(&keys);
    return ret;
}
