/* smar-gen-export: writes a deterministic sample IBM Cloud Secrets Manager instance export
 * (json, jsonl or directory layout), optionally one snapshot of an evolving series, plus an
 * optional plain-text manifest for tests. See usage() for the rules. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "gen.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define EXIT_USAGE 2
#define EXIT_IO    1

#define MAX_SECRETS       UINT64_C(100000000)
#define MAX_PAYLOAD_BYTES UINT64_C(300000)
#define MAX_CHURN         UINT64_C(10000)

static const char USAGE[] =
    "Usage: smar-gen-export [OPTIONS]\n"
    "\n"
    "Writes a deterministic, realistic sample IBM Cloud Secrets Manager instance export\n"
    "(the API v2 JSON of secret groups, secrets with all their versions, configurations)\n"
    "for smar's demo, tests and benchmarks. Same arguments => byte-identical output.\n"
    "\n"
    "Options:\n"
    "  --seed N             PRNG seed (unsigned 64-bit; default 1). Everything derives from it.\n"
    "  --secrets N          number of secrets in the export (default 40; at most 100000000).\n"
    "  --groups N           number of secret groups besides \"default\" (default 4; 0..200).\n"
    "                       Each secret is in one of them or in \"default\".\n"
    "  --payload-bytes N    approximate average payload size per version of arbitrary and kv\n"
    "                       secrets (default 64; 0..300000; 0 empties the random part).\n"
    "                       Each payload is 0.5N..1.5N characters of random base64/hex. The\n"
    "                       current payload appears twice (secret level and current version),\n"
    "                       the previous version's once: an arbitrary or kv secret carries about\n"
    "                       3*N payload bytes. Other types have realistic fixed-size material\n"
    "                       (certificates ~1-2 KB per PEM).\n"
    "  --layout L           json (default): one document {instance, exported_at, secret_groups,\n"
    "                       secrets, configurations}, one secret per line.\n"
    "                       jsonl: first line the document without \"secrets\", then one\n"
    "                       secret object (with its versions) per line.\n"
    "                       dir: a directory with instance.json {instance, exported_at},\n"
    "                       secret_groups.json {secret_groups, total_count},\n"
    "                       configurations.json {configurations, total_count} and\n"
    "                       secrets/<secret id>.json. The directory must be new or empty.\n"
    "  -o, --output PATH    output file (json, jsonl; \"-\" or absent: standard output) or\n"
    "                       directory (dir layout: required).\n"
    "  --exported-at T      exported_at of the last snapshot, RFC 3339 (default\n"
    "                       2026-11-20T02:00:00Z; written back in UTC with Z).\n"
    "  --instance-region R  region of the instance, 1-32 of [a-z0-9-] (default us-south).\n"
    "  --snapshot K         write snapshot K (1..M) of a series of M snapshots\n"
    "  --of M               (1 <= M <= 100; default K = M = 1; --of alone means K = M).\n"
    "  --rotate-permille P  series: slot s is rotated at snapshot k when a hash of (seed, s, k)\n"
    "                       mod 1000 < P (0..1000; 10 rotates about 1%). Default: the rule\n"
    "                       (s + k) % 3 == 0 (a third of the secrets).\n"
    "  --churn C            series: C slots deleted and C created per snapshot (0..10000;\n"
    "                       default 1). 50 on 100000: 0.1% created or deleted.\n"
    "  --move-permille P    series: a slot moves to another secret group at snapshot k when a\n"
    "                       hash of (seed, s, k) mod 1000 < P (0..1000; default 0: never;\n"
    "                       no moves with --groups 0).\n"
    "  --manifest-out FILE  also write a plain-text manifest of this snapshot (format below).\n"
    "  --all-states         also write, after the slots, one secret of every state and shape\n"
    "                       real exports hold (below), and two configurations that hold\n"
    "                       credentials (an IAM API key; a root CA's certificate and key).\n"
    "  -h, --help           this text.\n"
    "Options take their value as the next argument; long ones also after '=' (--seed=7).\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error.\n"
    "\n"
    "Slots. Secrets are slots 0, 1, 2, ...; everything about slot s (id, name, type, group,\n"
    "times, versions, payloads) depends only on (seed, s) and, for times, on the snapshot\n"
    "times; so the same slot is the same secret in every snapshot. Slots 0..11 have fixed\n"
    "roles (with --secrets >= 12 every type and edge case is present):\n"
    "   0 arbitrary \"app-config\": custom_metadata with 12345678901234567890,\n"
    "     0.1000000000000000055511151231257827, -0.0, 6.02214076E+23, \\u00e9 escapes and the\n"
    "     NFD form e\\u0301; the payload is JSON text (escapes inside a string)\n"
    "   1 username_password \"datenbank-passw\xc3\xb6rt\": description and custom_metadata with\n"
    "     \\u00e9, e\\u0301, a raw UTF-8 and a surrogate-pair escape\n"
    "   2 kv \"\xe5\xaf\x86\xe7\xa0\x81\": data with exact big numbers, Unicode keys, nested "
    "values\n"
    "   3 iam_credentials     4 service_credentials     5 custom_credentials\n"
    "   6 imported_cert (with intermediate, private key and a managed CSR)\n"
    "   7 public_cert         8 private_cert (issuing_ca, ca_chain)\n"
    "   9 arbitrary whose payload is \"\" in every version\n"
    "  10 \"quantum_key\": an unknown future secret type with unknown payload-like fields\n"
    "  11 kv \"app-config\": the same name as slot 0, another type\n"
    "Slots >= 12 get a type from a fixed mix (mostly arbitrary, username_password, kv).\n"
    "Slots in snapshot 1 start with 1-4 versions (slots 0, 1, 6: 4; slot 9: 2) created over\n"
    "the months before T_1 (all at least 1 h before T_1); the current one is recent enough\n"
    "that TTLs, rotation dates and certificates have not run out at T_1.\n"
    "Only the current and the previous version have payload_available true, an alias\n"
    "(\"current\"/\"previous\") and payload fields; the secret object also carries the current\n"
    "version's payload fields. Versions are listed oldest first.\n"
    "\n"
    "Series (--snapshot K --of M; N = --secrets; C = --churn, default 1). Snapshot k is\n"
    "exported at T_k = exported_at - (M-k) days. Snapshot k contains:\n"
    "  - base slots 0 .. N-1-C*(k-1) (with C = 1: those with s + k <= N), and\n"
    "  - created slots N .. N+C*(k-1)-1 (slot N+j appears at snapshot j/C+2).\n"
    "So from snapshot k-1 to k (k >= 2):\n"
    "  - base slots N-C*(k-1) .. N-C*(k-2)-1 (those >= 0) are deleted: the last base slots\n"
    "    go first (C = 1: slot N-k+1);\n"
    "  - slots N+C*(k-2) .. N+C*(k-1)-1 are created (C = 1: slot N+k-2), each with 1\n"
    "    version created 2-22 h before T_k;\n"
    "  - every slot s present in both snapshots that the rotation rule picks ((s + k) % 3 == 0,\n"
    "    or --rotate-permille) is rotated: one new version created 2-22 h before T_k becomes\n"
    "    current, the old current becomes previous, the old previous loses its payload\n"
    "    (payload_available false, no alias);\n"
    "  - with --move-permille, every slot s present in both snapshots that the move rule picks\n"
    "    moves from its group to another one (groups and \"default\" in a ring, a step of\n"
    "    1..G from a hash): its secret_group_id and its versions' change, and its updated_at\n"
    "    becomes a time 2-22 h before T_k (if later). A slot may move and rotate at once.\n"
    "Between snapshots a secret neither rotated nor moved changes only its retrieved_at;\n"
    "a rotated one also its updated_at, versions_total, current payload and\n"
    "version_custom_metadata, and type fields that follow the current version\n"
    "(expiration_date, next_rotation_date, serial_number, validity, api_key_id,\n"
    "resource_key, ...). Instance, groups and configurations are the same in every snapshot.\n"
    "Every snapshot has N secrets while N >= C*(k-1). Edge-case slots 0..11 survive all M\n"
    "snapshots when N >= 12 + C*(M-1). A single export (M = 1) is snapshot 1 of 1.\n"
    "\n"
    "All states (--all-states): 12 secrets in group \"default\", the same in every snapshot,\n"
    "ids from the seed; versions listed oldest first, one week apart, all before T_1:\n"
    "  public_cert state 0 pre_activation, \"versions\": [], versions_total 0, no payload;\n"
    "  username_password without a \"versions\" member (versions_total 2), no payload;\n"
    "  arbitrary state 5 destroyed: 2 versions, payload_available false, no alias, no payload;\n"
    "  imported_cert state 5, expired (expiration_date and validity in the past), no payload;\n"
    "  username_password state 2 suspended and arbitrary state 3 deactivated, with payloads;\n"
    "  arbitrary with its payload at secret level only (2 versions, payload_available true,\n"
    "    no payload fields); kv with its payload at secret level and no \"versions\" member;\n"
    "  \"hsm_wrapped_key\": an unknown type with unknown payload fields (wrapped_key,\n"
    "    kek_material) and unknown metadata;\n"
    "  arbitrary with versions_total 50 and 2 versions listed; arbitrary with 2 \"locks\";\n"
    "  kv \"cafe\\u0301-values-\\ud83d\\udd11\" (raw NFD and emoji in the name) whose\n"
    "    custom_metadata, version_custom_metadata and data hold 12345678901234567890, 0.1,\n"
    "    0.10, 1e400, -0, -0.0, -1.5e-300, 6.02214076E+23 and strings with \\u0000, \\u00e9,\n"
    "    raw and escaped NFD, raw and escaped emoji, escaped slashes \\/ and control escapes.\n"
    "In the manifest their slot is \"state:<row>\" (0..11), version ids \"-\" when there is\n"
    "no current or previous version (destroyed secrets have no alias).\n"
    "\n"
    "Manifest (--manifest-out): UTF-8 text, one record per line, fields separated by one\n"
    "space; names never contain spaces and come last on their line. Lines:\n"
    "  # comment lines (first: \"# smar-gen-export manifest 1\")\n"
    "  snapshot <K> <M> <exported_at> <seed> <number of secrets>\n"
    "  instance <guid> <region> <crn>\n"
    "  group <group id> <name>                      (one per secret group)\n"
    "  secret <slot> <secret id> <secret_type> <secret_group_id> <versions_total>\n"
    "         <current version id> <previous version id or -> <name>   (one line)\n"
    "  version <secret id> <index from 0, oldest first> <version id> <created_at>\n"
    "         <current|previous|-> <payload_available true|false>       (one line)\n"
    "  deleted <slot> <secret id>         (changes since snapshot K-1, for K >= 2)\n"
    "  created <slot> <secret id>\n"
    "  rotated <slot> <secret id> <new current version id>\n"
    "  moved <slot> <secret id> <old secret_group_id> <new secret_group_id>\n"
    "Change lines come in this order: deleted, created, rotated, moved; each kind by slot.\n"
    "secret/version lines come in export order; timestamps are exactly as in the export.\n";

typedef struct {
    gen_ctx c;
    int layout;
    const char *output;
    const char *manifest;
    int snapshot_given;
    int of_given;
} options;

static void usage_error(const char *msg, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "smar-gen-export: %s: %s\n", msg, arg);
    else
        fprintf(stderr, "smar-gen-export: %s\n", msg);
    fprintf(stderr, "Try 'smar-gen-export --help'.\n");
    exit(EXIT_USAGE);
}

static uint64_t parse_num(const char *opt, const char *v, uint64_t max)
{
    uint64_t n = 0;
    if (*v == '\0')
        usage_error("empty number for", opt);
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            usage_error("not a non-negative decimal number", v);
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            usage_error("number too large", v);
        n = n * 10 + d;
    }
    if (n > max) {
        fprintf(stderr, "smar-gen-export: %s: %s is above the maximum %llu\n", opt, v,
                (unsigned long long)max);
        exit(EXIT_USAGE);
    }
    return n;
}

static int valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 32)
        return 0;
    for (const char *p = r; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

static void parse_args(int argc, char **argv, options *op)
{
    memset(op, 0, sizeof(*op));
    op->c.seed = 1;
    op->c.nsecrets = 40;
    op->c.ngroups = 4;
    op->c.payload_bytes = 64;
    op->c.snapshot = 1;
    op->c.of = 1;
    op->c.rotate_permille = -1; /* the (s + k) % 3 rule */
    op->c.churn = 1;
    op->c.region = "us-south";
    op->layout = LAYOUT_JSON;
    if (ts_parse("2026-11-20T02:00:00Z", &op->c.t_end) != 0)
        abort();

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            exit(fflush(stdout) == 0 ? 0 : EXIT_IO);
        }
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL) {
            size_t n = (size_t)(eq - a);
            if (n >= sizeof(name))
                usage_error("unknown option", a);
            memcpy(name, a, n);
            name[n] = '\0';
            val = eq + 1;
        } else {
            if (strlen(a) >= sizeof(name))
                usage_error("unknown option", a);
            strcpy(name, a);
        }
        static const char *const known[] = {
            "--seed",
            "--secrets",
            "--groups",
            "--payload-bytes",
            "--layout",
            "-o",
            "--output",
            "--exported-at",
            "--instance-region",
            "--snapshot",
            "--of",
            "--manifest-out",
            "--all-states",
            "--rotate-permille",
            "--churn",
            "--move-permille",
        };
        int found = 0;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            if (strcmp(name, known[k]) == 0)
                found = 1;
        if (!found)
            usage_error("unknown option", a);
        if (strcmp(name, "--all-states") == 0) {
            if (val != NULL)
                usage_error("--all-states takes no value", a);
            op->c.all_states = 1;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                usage_error("missing value for", name);
            val = argv[++i];
        }
        if (strcmp(name, "--seed") == 0) {
            op->c.seed = parse_num(name, val, UINT64_MAX);
        } else if (strcmp(name, "--secrets") == 0) {
            op->c.nsecrets = parse_num(name, val, MAX_SECRETS);
        } else if (strcmp(name, "--groups") == 0) {
            op->c.ngroups = (unsigned)parse_num(name, val, GEN_MAX_GROUPS);
        } else if (strcmp(name, "--payload-bytes") == 0) {
            op->c.payload_bytes = parse_num(name, val, MAX_PAYLOAD_BYTES);
        } else if (strcmp(name, "--layout") == 0) {
            if (strcmp(val, "json") == 0)
                op->layout = LAYOUT_JSON;
            else if (strcmp(val, "jsonl") == 0)
                op->layout = LAYOUT_JSONL;
            else if (strcmp(val, "dir") == 0)
                op->layout = LAYOUT_DIR;
            else
                usage_error("--layout must be json, jsonl or dir, not", val);
        } else if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
            if (*val == '\0')
                usage_error("empty output path", NULL);
            op->output = val;
        } else if (strcmp(name, "--exported-at") == 0) {
            if (ts_parse(val, &op->c.t_end) != 0)
                usage_error("--exported-at is not an RFC 3339 timestamp (1971..2200)", val);
        } else if (strcmp(name, "--instance-region") == 0) {
            if (!valid_region(val))
                usage_error("--instance-region must be 1-32 characters of [a-z0-9-]", val);
            op->c.region = val;
        } else if (strcmp(name, "--snapshot") == 0) {
            op->c.snapshot = (unsigned)parse_num(name, val, GEN_MAX_SNAPSHOTS);
            op->snapshot_given = 1;
        } else if (strcmp(name, "--of") == 0) {
            op->c.of = (unsigned)parse_num(name, val, GEN_MAX_SNAPSHOTS);
            op->of_given = 1;
        } else if (strcmp(name, "--rotate-permille") == 0) {
            op->c.rotate_permille = (int)parse_num(name, val, 1000);
        } else if (strcmp(name, "--churn") == 0) {
            op->c.churn = parse_num(name, val, MAX_CHURN);
        } else if (strcmp(name, "--move-permille") == 0) {
            op->c.move_permille = (unsigned)parse_num(name, val, 1000);
        } else if (strcmp(name, "--manifest-out") == 0) {
            if (*val == '\0')
                usage_error("empty manifest path", NULL);
            op->manifest = val;
        }
    }
    if (op->snapshot_given && !op->of_given)
        usage_error("--snapshot needs --of", NULL);
    if (op->of_given && !op->snapshot_given)
        op->c.snapshot = op->c.of;
    if (op->c.of < 1 || op->c.snapshot < 1 || op->c.snapshot > op->c.of)
        usage_error("need 1 <= --snapshot <= --of <= 100", NULL);
    if (op->layout == LAYOUT_DIR && (op->output == NULL || strcmp(op->output, "-") == 0))
        usage_error("--layout dir needs -o DIRECTORY", NULL);
}

/* ---- layouts ---- */

static void write_groups_array(out_t *o, const gen_ctx *c, int newlines)
{
    out_char(o, '[');
    for (unsigned g = 0; g < c->ngroups; g++) {
        if (g > 0)
            out_char(o, ',');
        if (newlines)
            out_char(o, '\n');
        gen_write_group(o, c, g);
    }
    out_char(o, ']');
}

static void write_exported_at(out_t *o, const gen_ctx *c)
{
    OUT_LIT(o, "\"exported_at\":");
    out_ts(o, gen_snapshot_time(c, c->snapshot));
}

static int write_secrets_stream(out_t *o, const gen_ctx *c, int jsonl)
{
    unsigned k = c->snapshot;
    uint64_t limit = gen_slot_limit(c, k);
    int first = 1;
    gen_secret *sec = malloc(sizeof(*sec));
    if (sec == NULL) {
        fprintf(stderr, "smar-gen-export: out of memory\n");
        return -1;
    }
    for (uint64_t s = 0; s < limit; s++) {
        if (!gen_slot_exists(c, s, k))
            continue;
        gen_secret_build(c, s, k, sec);
        if (jsonl) {
            gen_secret_write(o, c, sec, k);
            out_char(o, '\n');
        } else {
            if (!first)
                out_char(o, ',');
            out_char(o, '\n');
            gen_secret_write(o, c, sec, k);
        }
        first = 0;
        if (o->err != 0)
            break; /* reported by out_close */
    }
    for (unsigned row = 0; row < gen_states_count(c) && o->err == 0; row++) {
        if (!jsonl) {
            if (!first)
                out_char(o, ',');
            out_char(o, '\n');
        }
        gen_states_write(o, c, row, k);
        if (jsonl)
            out_char(o, '\n');
        first = 0;
    }
    free(sec);
    return 0;
}

static int write_json(const options *op)
{
    const gen_ctx *c = &op->c;
    out_t o;
    if (out_init(&o) != 0)
        return -1;
    if (out_open(&o, op->output) != 0) {
        out_free(&o);
        return -1;
    }
    int jsonl = op->layout == LAYOUT_JSONL;
    OUT_LIT(&o, "{\"instance\":");
    gen_write_instance(&o, c);
    out_char(&o, ',');
    write_exported_at(&o, c);
    OUT_LIT(&o, ",\"secret_groups\":");
    write_groups_array(&o, c, !jsonl);
    if (jsonl) {
        OUT_LIT(&o, ",\"configurations\":");
        gen_write_configurations_array(&o, c);
        OUT_LIT(&o, "}\n");
        write_secrets_stream(&o, c, 1);
    } else {
        OUT_LIT(&o, ",\n\"secrets\":[");
        write_secrets_stream(&o, c, 0);
        OUT_LIT(&o, "],\n\"configurations\":");
        gen_write_configurations_array(&o, c);
        OUT_LIT(&o, "}\n");
    }
    int rc = out_close(&o);
    out_free(&o);
    return rc;
}

static char *path_join(const char *dir, const char *a, const char *b)
{
    size_t n = strlen(dir) + 1 + strlen(a) + (b != NULL ? 1 + strlen(b) : 0) + 1;
    char *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "smar-gen-export: out of memory\n");
        exit(EXIT_IO);
    }
    strcpy(p, dir);
    strcat(p, "/");
    strcat(p, a);
    if (b != NULL) {
        strcat(p, "/");
        strcat(p, b);
    }
    return p;
}

static int ensure_empty_dir(const char *path)
{
    if (mkdir(path, 0777) == 0)
        return 0;
    if (errno != EEXIST) {
        fprintf(stderr, "smar-gen-export: cannot create directory %s: %s\n", path, strerror(errno));
        return -1;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "smar-gen-export: cannot open directory %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    if (!empty) {
        fprintf(stderr, "smar-gen-export: directory %s is not empty\n", path);
        return -1;
    }
    return 0;
}

static int write_dir(const options *op)
{
    const gen_ctx *c = &op->c;
    const char *dir = op->output;
    if (ensure_empty_dir(dir) != 0)
        return -1;
    char *sdir = path_join(dir, "secrets", NULL);
    if (mkdir(sdir, 0777) != 0) {
        fprintf(stderr, "smar-gen-export: cannot create directory %s: %s\n", sdir, strerror(errno));
        free(sdir);
        return -1;
    }
    free(sdir);
    out_t o;
    if (out_init(&o) != 0)
        return -1;
    int rc = 0;
    char *p = path_join(dir, "instance.json", NULL);
    if (out_open(&o, p) == 0) {
        OUT_LIT(&o, "{\"instance\":");
        gen_write_instance(&o, c);
        out_char(&o, ',');
        write_exported_at(&o, c);
        OUT_LIT(&o, "}\n");
        rc = out_close(&o);
    } else {
        rc = -1;
    }
    free(p);
    if (rc == 0) {
        p = path_join(dir, "secret_groups.json", NULL);
        if (out_open(&o, p) == 0) {
            OUT_LIT(&o, "{\"secret_groups\":");
            write_groups_array(&o, c, 1);
            OUT_LIT(&o, ",\"total_count\":");
            out_u64(&o, c->ngroups);
            OUT_LIT(&o, "}\n");
            rc = out_close(&o);
        } else {
            rc = -1;
        }
        free(p);
    }
    if (rc == 0) {
        p = path_join(dir, "configurations.json", NULL);
        if (out_open(&o, p) == 0) {
            OUT_LIT(&o, "{\"configurations\":");
            gen_write_configurations_array(&o, c);
            OUT_LIT(&o, ",\"total_count\":");
            out_u64(&o, gen_configurations_count() + gen_states_configurations_count(c));
            OUT_LIT(&o, "}\n");
            rc = out_close(&o);
        } else {
            rc = -1;
        }
        free(p);
    }
    gen_secret *sec = malloc(sizeof(*sec));
    if (sec == NULL) {
        fprintf(stderr, "smar-gen-export: out of memory\n");
        rc = -1;
    }
    unsigned k = c->snapshot;
    uint64_t limit = gen_slot_limit(c, k);
    for (uint64_t s = 0; rc == 0 && s < limit; s++) {
        if (!gen_slot_exists(c, s, k))
            continue;
        gen_secret_build(c, s, k, sec);
        char fname[48];
        strcpy(fname, sec->id);
        strcat(fname, ".json");
        p = path_join(dir, "secrets", fname);
        if (out_open(&o, p) == 0) {
            gen_secret_write(&o, c, sec, k);
            out_char(&o, '\n');
            rc = out_close(&o);
        } else {
            rc = -1;
        }
        free(p);
    }
    for (unsigned row = 0; rc == 0 && row < gen_states_count(c); row++) {
        char fname[48];
        gen_states_secret_id(c, row, fname);
        strcat(fname, ".json");
        p = path_join(dir, "secrets", fname);
        if (out_open(&o, p) == 0) {
            gen_states_write(&o, c, row, k);
            out_char(&o, '\n');
            rc = out_close(&o);
        } else {
            rc = -1;
        }
        free(p);
    }
    free(sec);
    out_free(&o);
    return rc;
}

/* ---- manifest ---- */

static void man_sp(out_t *o)
{
    out_char(o, ' ');
}

static void man_ts(out_t *o, int64_t ns)
{
    char buf[48];
    out_raw(o, buf, ts_format(buf, ns));
}

static void man_slot_line(out_t *o, const gen_ctx *c, const char *what, uint64_t s)
{
    char id[37];
    gen_secret_id(c, s, id);
    out_cstr(o, what);
    man_sp(o);
    out_u64(o, s);
    man_sp(o);
    out_cstr(o, id);
}

static void man_group(out_t *o, const gen_ctx *c, int g)
{
    char id[37];
    if (g < 0) {
        OUT_LIT(o, "default");
        return;
    }
    gen_group_id(c, (unsigned)g, id);
    out_cstr(o, id);
}

/* The change log from snapshot K-1 to K (K >= 2): deleted, created, rotated, moved lines. */
static void write_manifest_changes(out_t *o, const gen_ctx *c, gen_secret *sec)
{
    unsigned k = c->snapshot;
    uint64_t limit = gen_slot_limit(c, k);
    for (uint64_t d = gen_base_alive(c, k); d < gen_base_alive(c, k - 1); d++) {
        man_slot_line(o, c, "deleted", d);
        out_char(o, '\n');
    }
    for (uint64_t cr = gen_slot_limit(c, k - 1); cr < limit; cr++) {
        man_slot_line(o, c, "created", cr);
        out_char(o, '\n');
    }
    for (uint64_t s = 0; s < limit && o->err == 0; s++) {
        if (!gen_slot_rotates(c, s, k))
            continue;
        gen_secret_build(c, s, k, sec);
        char vid[37];
        gen_version_id(c, s, sec->nver - 1, vid);
        man_slot_line(o, c, "rotated", s);
        man_sp(o);
        out_cstr(o, vid);
        out_char(o, '\n');
    }
    for (uint64_t s = 0; s < limit && o->err == 0; s++) {
        if (!gen_slot_moves(c, s, k))
            continue;
        man_slot_line(o, c, "moved", s);
        man_sp(o);
        man_group(o, c, gen_slot_group_at(c, s, k - 1));
        man_sp(o);
        man_group(o, c, gen_slot_group_at(c, s, k));
        out_char(o, '\n');
    }
}

/* Writes the manifest to O (already open) and closes it. */
static int write_manifest(const options *op, out_t *mo)
{
    const gen_ctx *c = &op->c;
    unsigned k = c->snapshot;
    out_t o = *mo;
    uint64_t count = 0, limit = gen_slot_limit(c, k);
    for (uint64_t s = 0; s < limit; s++)
        count += (uint64_t)gen_slot_exists(c, s, k);
    count += gen_states_count(c);
    OUT_LIT(&o, "# smar-gen-export manifest 1\n");
    OUT_LIT(&o, "# see smar-gen-export --help for the format and the series rules\n");
    OUT_LIT(&o, "snapshot ");
    out_u64(&o, k);
    man_sp(&o);
    out_u64(&o, c->of);
    man_sp(&o);
    man_ts(&o, gen_snapshot_time(c, k));
    man_sp(&o);
    out_u64(&o, c->seed);
    man_sp(&o);
    out_u64(&o, count);
    OUT_LIT(&o, "\ninstance ");
    out_cstr(&o, c->guid);
    man_sp(&o);
    out_cstr(&o, c->region);
    man_sp(&o);
    OUT_LIT(&o, "crn:v1:bluemix:public:secrets-manager:");
    out_cstr(&o, c->region);
    OUT_LIT(&o, ":a/");
    out_cstr(&o, c->account);
    out_char(&o, ':');
    out_cstr(&o, c->guid);
    OUT_LIT(&o, "::\n");
    for (unsigned g = 0; g < c->ngroups; g++) {
        char id[37], name[64];
        gen_group_id(c, g, id);
        gen_group_name(g, name, sizeof(name));
        OUT_LIT(&o, "group ");
        out_cstr(&o, id);
        man_sp(&o);
        out_cstr(&o, name);
        out_char(&o, '\n');
    }
    gen_secret *sec = malloc(sizeof(*sec));
    if (sec == NULL) {
        fprintf(stderr, "smar-gen-export: out of memory\n");
        out_close(&o);
        *mo = o;
        return -1;
    }
    for (uint64_t s = 0; s < limit && o.err == 0; s++) {
        if (!gen_slot_exists(c, s, k))
            continue;
        gen_secret_build(c, s, k, sec);
        int cur = sec->nver - 1;
        char vid[37];
        OUT_LIT(&o, "secret ");
        out_u64(&o, s);
        man_sp(&o);
        out_cstr(&o, sec->id);
        man_sp(&o);
        out_cstr(&o, gen_type_names[sec->type]);
        man_sp(&o);
        out_cstr(&o, sec->group);
        man_sp(&o);
        out_i64(&o, sec->nver);
        man_sp(&o);
        gen_version_id(c, s, cur, vid);
        out_cstr(&o, vid);
        man_sp(&o);
        if (cur > 0) {
            gen_version_id(c, s, cur - 1, vid);
            out_cstr(&o, vid);
        } else {
            out_char(&o, '-');
        }
        man_sp(&o);
        out_cstr(&o, sec->name);
        out_char(&o, '\n');
        for (int v = 0; v < sec->nver; v++) {
            OUT_LIT(&o, "version ");
            out_cstr(&o, sec->id);
            man_sp(&o);
            out_i64(&o, v);
            man_sp(&o);
            gen_version_id(c, s, v, vid);
            out_cstr(&o, vid);
            man_sp(&o);
            man_ts(&o, sec->vtime[v]);
            if (v == cur)
                OUT_LIT(&o, " current true\n");
            else if (v == cur - 1)
                OUT_LIT(&o, " previous true\n");
            else
                OUT_LIT(&o, " - false\n");
        }
    }
    for (unsigned row = 0; row < gen_states_count(c); row++)
        gen_states_manifest(&o, c, row);
    if (k >= 2)
        write_manifest_changes(&o, c, sec);
    free(sec);
    int rc = out_close(&o);
    *mo = o;
    return rc;
}

int main(int argc, char **argv)
{
    options op;
    parse_args(argc, argv, &op);
    gen_ctx_init(&op.c);
    /* Open the manifest first: a bad path fails before any export is written. */
    out_t mo;
    if (op.manifest != NULL) {
        if (out_init(&mo) != 0)
            return EXIT_IO;
        if (out_open(&mo, op.manifest) != 0) {
            out_free(&mo);
            return EXIT_IO;
        }
    }
    int rc = op.layout == LAYOUT_DIR ? write_dir(&op) : write_json(&op);
    if (op.manifest != NULL) {
        if (rc == 0)
            rc = write_manifest(&op, &mo);
        else
            (void)out_close(&mo);
        out_free(&mo);
    }
    return rc == 0 ? 0 : EXIT_IO;
}
