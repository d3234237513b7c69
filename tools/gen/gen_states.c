/* smar-gen-export --all-states: secrets of every state and shape that real instance exports
 * hold (pre-activation, destroyed, expired, without versions, payload only at secret level,
 * unknown types: the states listed in smar(1) under INPUTS and spec/FORMAT.md section 18),
 * written after the ordinary slots in every layout, plus configurations that hold
 * credentials. Each is described by one row of a table; its ids, times and random material
 * derive from (seed, row), so the output is deterministic and the same in every snapshot of
 * a series. */
#include "gen.h"

#include <string.h>

#define TAG_STATES UINT64_C(0x57a7e5)
#define ID2_XOR    UINT64_C(0x3c6ef372fe94f82b)

/* What a row's export holds for the secret's payload. */
enum payload_place {
    PAYLOAD_NONE,         /* no payload anywhere (destroyed, expired, pre-activation...) */
    PAYLOAD_EVERYWHERE,   /* secret level and the current and previous versions */
    PAYLOAD_SECRET_LEVEL, /* secret level only: versions listed without payload fields */
};

typedef struct {
    const char *name; /* raw UTF-8 */
    const char *type;
    int state;
    const char *state_description;
    int listed;         /* version objects listed; -1: no "versions" member at all */
    int versions_total; /* may exceed listed: the exporter listed fewer */
    int payload;        /* enum payload_place */
    int locks;          /* a "locks" array of this many locks */
    int expired;        /* expiration_date in the past */
    int values;         /* exact numbers and strings in metadata and payload */
} state_row;

/* NFD "e" + U+0301 and an emoji written raw: names keep every code point as given. */
static const state_row rows[] = {
    {"cert-being-ordered", "public_cert", 0, "pre_activation", 0, 0, PAYLOAD_NONE, 0, 0, 0},
    {"listed-without-versions", "username_password", 1, "active", -1, 2, PAYLOAD_NONE, 0, 0, 0},
    {"destroyed-token", "arbitrary", 5, "destroyed", 2, 2, PAYLOAD_NONE, 0, 0, 0},
    {"expired-portal-cert", "imported_cert", 5, "destroyed", 1, 1, PAYLOAD_NONE, 0, 1, 0},
    {"suspended-login", "username_password", 2, "suspended", 2, 2, PAYLOAD_EVERYWHERE, 0, 0, 0},
    {"deactivated-key", "arbitrary", 3, "deactivated", 1, 1, PAYLOAD_EVERYWHERE, 0, 0, 0},
    {"payload-at-secret-level", "arbitrary", 1, "active", 2, 2, PAYLOAD_SECRET_LEVEL, 0, 0, 0},
    {"kv-without-versions", "kv", 1, "active", -1, 1, PAYLOAD_SECRET_LEVEL, 0, 0, 0},
    {"hsm-wrapped-key", "hsm_wrapped_key", 1, "active", 2, 2, PAYLOAD_EVERYWHERE, 0, 0, 0},
    {"long-history", "arbitrary", 1, "active", 2, 50, PAYLOAD_EVERYWHERE, 0, 0, 0},
    {"locked-db-password", "arbitrary", 1, "active", 2, 2, PAYLOAD_EVERYWHERE, 2, 0, 0},
    {"cafe\xcc\x81-values-\xf0\x9f\x94\x91", "kv", 1, "active", 2, 2, PAYLOAD_EVERYWHERE, 0, 0, 1},
};

#define N_ROWS        (sizeof(rows) / sizeof(rows[0]))
#define N_CRED_CONFIG 2u

unsigned gen_states_count(const gen_ctx *c)
{
    return c->all_states ? (unsigned)N_ROWS : 0u;
}

static void state_id(const gen_ctx *c, unsigned row, uint64_t what, char out[37])
{
    uuid_format(out, gen_hash4(c->seed, TAG_STATES, row, what),
                gen_hash4(c->seed, TAG_STATES ^ ID2_XOR, row, what));
}

void gen_states_secret_id(const gen_ctx *c, unsigned row, char out[37])
{
    state_id(c, row, 0, out);
}

/* Version V's id (V from 0, oldest first). */
static void version_id(const gen_ctx *c, unsigned row, int v, char out[37])
{
    state_id(c, row, 1 + (uint64_t)v, out);
}

static void seed_rng(rng_t *r, const gen_ctx *c, unsigned row, uint64_t what)
{
    rng_seed(r, gen_hash4(c->seed, TAG_STATES + 1, row, what));
}

/* Creation time of the secret; its versions follow a week apart (all well before T_1). */
static int64_t created_at(const gen_ctx *c, unsigned row)
{
    return gen_snapshot_time(c, 1) - (200 - 7 * (int64_t)row) * NS_PER_DAY +
           (int64_t)row * 1234567 * INT64_C(1000);
}

static int64_t version_time(const gen_ctx *c, unsigned row, int v)
{
    return created_at(c, row) + (int64_t)v * 7 * NS_PER_DAY + (int64_t)v * NS_PER_HOUR;
}

static int version_has_payload(const state_row *s, int v)
{
    return s->payload == PAYLOAD_EVERYWHERE && v >= s->listed - 2;
}

static int version_available(const state_row *s, int v)
{
    return s->payload != PAYLOAD_NONE && v >= s->listed - 2;
}

/* The exact values: escapes and raw UTF-8 that must come back as they were. */
#define STRINGS_JSON                                                                               \
    "\"nul\":\"a\\u0000b\",\"nfc_escaped\":\"caf\\u00e9\",\"nfc_raw\":\"caf\xc3\xa9\","            \
    "\"nfd_escaped\":\"cafe\\u0301\",\"nfd_raw\":\"cafe\xcc\x81\",\"emoji_escaped\":"              \
    "\"\\ud83d\\ude80\",\"emoji_raw\":\"\xf0\x9f\x9a\x80\",\"slashes\":\"https:\\/\\/"             \
    "example.com\\/"                                                                               \
    "a\\/b\",\"controls\":\"\\b\\f\\n\\r\\t\\u001f\""
#define NUMBERS_JSON                                                                               \
    "\"big\":12345678901234567890,\"tenth\":0.1,\"huge\":1e400,\"negative_zero\":-0,"              \
    "\"negative_zero_float\":-0.0,\"tiny\":-1.5e-300,\"upper_exp\":6.02214076E+23,"                \
    "\"trailing_zero\":0.10"

/* The payload fields of version V (V < 0: the secret level), each with a leading comma. */
static void write_payload(out_t *o, const gen_ctx *c, unsigned row, int v)
{
    const state_row *s = &rows[row];
    rng_t r;
    seed_rng(&r, c, row, 100 + (uint64_t)(v + 1));
    if (s->values) {
        OUT_LIT(o, ",\"data\":{" NUMBERS_JSON "," STRINGS_JSON ",\"token\":\"");
        out_rand_b64(o, &r, 24, 0);
        OUT_LIT(o, "\"}");
    } else if (strcmp(s->type, "kv") == 0) {
        OUT_LIT(o, ",\"data\":{\"endpoint\":\"https:\\/\\/kv.example.com\",\"token\":\"");
        out_rand_b64(o, &r, 32, 0);
        OUT_LIT(o, "\"}");
    } else if (strcmp(s->type, "username_password") == 0) {
        OUT_LIT(o, ",\"username\":\"svc_state_");
        out_u64(o, row);
        OUT_LIT(o, "\",\"password\":\"");
        out_rand_password(o, &r, 20);
        out_char(o, '"');
    } else if (strcmp(s->type, "hsm_wrapped_key") == 0) {
        OUT_LIT(o, ",\"wrapped_key\":\"");
        out_rand_b64(o, &r, 48, 0);
        OUT_LIT(o, "\",\"kek_material\":{\"algorithm\":\"AES-KW\",\"bits\":256,\"blob\":\"");
        out_rand_hex(o, &r, 64);
        OUT_LIT(o, "\"}");
    } else {
        OUT_LIT(o, ",\"payload\":\"");
        out_rand_b64(o, &r, 40, 0);
        out_char(o, '"');
    }
}

static void write_locks(out_t *o, const gen_ctx *c, unsigned row, const char *sid)
{
    const state_row *s = &rows[row];
    char vid[37];
    OUT_LIT(o, ",\"locks\":[");
    for (int i = 0; i < s->locks; i++) {
        int v = s->listed - 1 - i; /* the current version, then the previous one */
        version_id(c, row, v, vid);
        if (i > 0)
            out_char(o, ',');
        OUT_LIT(o, "{\"name\":\"lock-");
        out_u64(o, (uint64_t)i + 1);
        OUT_LIT(o, "\",\"description\":\"held by the billing job\",\"attributes\":{\"job\":");
        out_u64(o, 4711 + (uint64_t)i);
        OUT_LIT(o, "},\"created_at\":");
        out_ts(o, version_time(c, row, v) + NS_PER_HOUR);
        OUT_LIT(o, ",\"updated_at\":");
        out_ts(o, version_time(c, row, v) + NS_PER_HOUR);
        OUT_LIT(o, ",\"created_by\":");
        out_jstr(o, c->principals[0]);
        OUT_LIT(o, ",\"secret_group_id\":\"default\",\"secret_id\":\"");
        out_cstr(o, sid);
        OUT_LIT(o, "\",\"secret_version_id\":\"");
        out_cstr(o, vid);
        OUT_LIT(o, "\",\"secret_version_alias\":\"");
        out_cstr(o, i == 0 ? "current" : "previous");
        OUT_LIT(o, "\"}");
    }
    out_char(o, ']');
}

static void write_version(out_t *o, const gen_ctx *c, unsigned row, int v, const char *sid)
{
    const state_row *s = &rows[row];
    char vid[37];
    version_id(c, row, v, vid);
    OUT_LIT(o, "{\"id\":\"");
    out_cstr(o, vid);
    OUT_LIT(o, "\",\"secret_id\":\"");
    out_cstr(o, sid);
    OUT_LIT(o, "\",\"secret_name\":");
    out_jstr(o, s->name);
    OUT_LIT(o, ",\"secret_type\":");
    out_jstr(o, s->type);
    OUT_LIT(o, ",\"secret_group_id\":\"default\",\"created_at\":");
    out_ts(o, version_time(c, row, v));
    OUT_LIT(o, ",\"created_by\":");
    out_jstr(o, c->principals[row % GEN_N_PRINCIPALS]);
    OUT_LIT(o, ",\"auto_rotated\":false,\"downloaded\":");
    out_bool(o, version_available(s, v));
    OUT_LIT(o, ",\"payload_available\":");
    out_bool(o, version_available(s, v));
    if (s->state != 5 && v == s->listed - 1)
        OUT_LIT(o, ",\"alias\":\"current\"");
    else if (s->state != 5 && v == s->listed - 2)
        OUT_LIT(o, ",\"alias\":\"previous\"");
    if (s->values)
        OUT_LIT(o, ",\"version_custom_metadata\":{" NUMBERS_JSON "}");
    else
        OUT_LIT(o, ",\"version_custom_metadata\":{}");
    if (version_has_payload(s, v))
        write_payload(o, c, row, v);
    out_char(o, '}');
}

/* Metadata of the types whose rows need it: certificates' fields, an expiry. */
static void write_type_meta(out_t *o, const gen_ctx *c, unsigned row)
{
    const state_row *s = &rows[row];
    int64_t t1 = gen_snapshot_time(c, 1);
    if (strcmp(s->type, "public_cert") == 0) {
        /* Still being ordered: no validity, serial or certificate yet. */
        OUT_LIT(o, ",\"common_name\":\"www-new.example.com\",\"alt_names\":[\"www-new.example."
                   "com\"],\"key_algorithm\":\"RSA2048\",\"ca\":\"letsencrypt-prod\",\"dns\":"
                   "\"cis-dns\",\"bundle_certs\":true,\"rotation\":{\"auto_rotate\":true,"
                   "\"rotate_keys\":false},\"issuance_info\":{\"auto_rotated\":false,"
                   "\"ordered_on\":");
        out_ts(o, t1 - 2 * NS_PER_HOUR);
        OUT_LIT(o, ",\"state\":0,\"state_description\":\"pre_activation\"}");
    } else if (strcmp(s->type, "imported_cert") == 0) {
        int64_t not_after = t1 - 5 * NS_PER_DAY;
        OUT_LIT(o, ",\"common_name\":\"old-portal.example.com\",\"issuer\":\"CN=Example CA\","
                   "\"key_algorithm\":\"RSA2048\",\"signing_algorithm\":\"SHA256-RSA\","
                   "\"serial_number\":\"0a:1b:2c:3d\",\"intermediate_included\":false,"
                   "\"private_key_included\":true,\"validity\":{\"not_before\":");
        out_ts(o, not_after - 397 * NS_PER_DAY);
        OUT_LIT(o, ",\"not_after\":");
        out_ts(o, not_after);
        OUT_LIT(o, "},\"expiration_date\":");
        out_ts(o, not_after);
    } else if (strcmp(s->type, "hsm_wrapped_key") == 0) {
        OUT_LIT(o, ",\"hsm_partition\":\"p-7\",\"key_usage\":[\"wrap\",\"unwrap\"]");
    }
}

static void write_custom_metadata(out_t *o, unsigned row)
{
    if (rows[row].values)
        OUT_LIT(o, ",\"custom_metadata\":{" NUMBERS_JSON "," STRINGS_JSON "}");
    else
        OUT_LIT(o, ",\"custom_metadata\":{\"state_case\":true}");
}

void gen_states_write(out_t *o, const gen_ctx *c, unsigned row, unsigned k)
{
    const state_row *s = &rows[row];
    char sid[37];
    gen_states_secret_id(c, row, sid);
    int last = s->listed > 0 ? s->listed - 1 : 0;
    OUT_LIT(o, "{\"id\":\"");
    out_cstr(o, sid);
    OUT_LIT(o, "\",\"name\":");
    out_jstr(o, s->name);
    OUT_LIT(o, ",\"crn\":\"");
    out_cstr(o, c->crn_prefix);
    OUT_LIT(o, "secret:");
    out_cstr(o, sid);
    OUT_LIT(o, "\",\"secret_type\":");
    out_jstr(o, s->type);
    OUT_LIT(o, ",\"secret_group_id\":\"default\",\"description\":");
    if (s->values)
        OUT_LIT(o, "\"NUL \\u0000, caf\\u00e9 vs cafe\\u0301, \\ud83d\\udd11 and a\\/b\"");
    else
        out_jstr(o, s->state_description);
    OUT_LIT(o, ",\"labels\":[\"state-case\"]");
    write_custom_metadata(o, row);
    OUT_LIT(o, ",\"created_by\":");
    out_jstr(o, c->principals[row % GEN_N_PRINCIPALS]);
    OUT_LIT(o, ",\"created_at\":");
    out_ts(o, created_at(c, row));
    OUT_LIT(o, ",\"updated_at\":");
    out_ts(o, version_time(c, row, last));
    OUT_LIT(o, ",\"state\":");
    out_i64(o, s->state);
    OUT_LIT(o, ",\"state_description\":");
    out_jstr(o, s->state_description);
    OUT_LIT(o, ",\"versions_total\":");
    out_i64(o, s->versions_total);
    OUT_LIT(o, ",\"locks_total\":");
    out_i64(o, s->locks);
    if (s->locks > 0)
        write_locks(o, c, row, sid);
    OUT_LIT(o, ",\"downloaded\":");
    out_bool(o, s->payload != PAYLOAD_NONE);
    OUT_LIT(o, ",\"retrieved_at\":");
    out_ts(o, gen_snapshot_time(c, k) - NS_PER_HOUR);
    write_type_meta(o, c, row);
    if (s->payload != PAYLOAD_NONE)
        write_payload(o, c, row, -1);
    if (s->listed >= 0) {
        OUT_LIT(o, ",\"versions\":[");
        for (int v = 0; v < s->listed; v++) {
            if (v > 0)
                out_char(o, ',');
            write_version(o, c, row, v, sid);
        }
        out_char(o, ']');
    }
    out_char(o, '}');
}

void gen_states_manifest(out_t *o, const gen_ctx *c, unsigned row)
{
    const state_row *s = &rows[row];
    char sid[37], vid[37];
    gen_states_secret_id(c, row, sid);
    OUT_LIT(o, "secret state:");
    out_u64(o, row);
    out_char(o, ' ');
    out_cstr(o, sid);
    out_char(o, ' ');
    out_cstr(o, s->type);
    OUT_LIT(o, " default ");
    out_i64(o, s->versions_total);
    for (int v = s->listed - 1; v >= s->listed - 2; v--) {
        out_char(o, ' ');
        if (v >= 0 && s->state != 5) {
            version_id(c, row, v, vid);
            out_cstr(o, vid);
        } else {
            out_char(o, '-');
        }
    }
    out_char(o, ' ');
    out_cstr(o, s->name);
    out_char(o, '\n');
    for (int v = 0; v < s->listed; v++) {
        char ts[48];
        version_id(c, row, v, vid);
        OUT_LIT(o, "version ");
        out_cstr(o, sid);
        out_char(o, ' ');
        out_i64(o, v);
        out_char(o, ' ');
        out_cstr(o, vid);
        out_char(o, ' ');
        out_raw(o, ts, ts_format(ts, version_time(c, row, v)));
        if (s->state != 5 && v == s->listed - 1)
            OUT_LIT(o, " current");
        else if (s->state != 5 && v == s->listed - 2)
            OUT_LIT(o, " previous");
        else
            OUT_LIT(o, " -");
        out_char(o, ' ');
        out_bool(o, version_available(s, v));
        out_char(o, '\n');
    }
}

unsigned gen_states_configurations_count(const gen_ctx *c)
{
    return c->all_states ? N_CRED_CONFIG : 0u;
}

/* Configurations that hold credentials (a private CA's key, an IAM API key): secret material
 * outside any secret. Each with a leading comma. */
void gen_states_write_configurations(out_t *o, const gen_ctx *c)
{
    if (!c->all_states)
        return;
    int64_t t = gen_snapshot_time(c, 1) - 300 * NS_PER_DAY;
    rng_t r;
    seed_rng(&r, c, 1000, 0);
    OUT_LIT(o, ",{\"name\":\"iam-credentials-engine\",\"config_type\":"
               "\"iam_credentials_configuration\",\"secret_type\":\"iam_credentials\","
               "\"api_key\":\"");
    out_rand_b64(o, &r, 44, 1);
    OUT_LIT(o, "\",\"disabled\":false,\"created_by\":");
    out_jstr(o, c->principals[0]);
    OUT_LIT(o, ",\"created_at\":");
    out_ts(o, t);
    OUT_LIT(o, ",\"updated_at\":");
    out_ts(o, t);
    OUT_LIT(o, "},{\"name\":\"imported-root-ca\",\"config_type\":"
               "\"private_cert_configuration_root_ca\",\"secret_type\":\"private_cert\","
               "\"common_name\":\"Example Imported Root CA\",\"status\":\"configured\","
               "\"data\":{\"certificate\":\"");
    out_pem_body(o, &r, "CERTIFICATE", 1200);
    OUT_LIT(o, "\",\"private_key\":\"");
    out_pem_body(o, &r, "RSA PRIVATE KEY", 1600);
    OUT_LIT(o, "\"},\"created_by\":");
    out_jstr(o, c->principals[1]);
    OUT_LIT(o, ",\"created_at\":");
    out_ts(o, t + NS_PER_DAY);
    OUT_LIT(o, ",\"updated_at\":");
    out_ts(o, t + NS_PER_DAY);
    out_char(o, '}');
}
