/* smar-gen-export: the deterministic evolving instance (slots, versions, groups) and the JSON
 * of secrets, versions, groups, the instance and configurations. */
#include "gen.h"

#include <string.h>

enum {
    TAG_SECRET = 1,
    TAG_SECRET_ID,
    TAG_VERSION_ID,
    TAG_VMETA,
    TAG_PAYLOAD,
    TAG_ROTATION,
    TAG_GROUP,
    TAG_GROUP_ID,
    TAG_RETRIEVED,
    TAG_INSTANCE,
    TAG_CA,
    TAG_AUX_ID,
    /* Tags of the churn options; new ones go last so that every other value keeps its tag. */
    TAG_ROTATE_PICK,
    TAG_MOVE_PICK,
    TAG_MOVE_STEP,
    TAG_MOVE_TIME,
};

#define ID2_XOR UINT64_C(0x6a09e667f3bcc909)

const char *const gen_type_names[T_COUNT] = {
    "arbitrary",       "username_password",   "kv",
    "iam_credentials", "service_credentials", "custom_credentials",
    "imported_cert",   "public_cert",         "private_cert",
    "quantum_key",
};

/* Roles of slots 0..11: every type and every edge case is present once N >= 12. */
#define N_ROLES 12
static const int role_types[N_ROLES] = {
    T_ARBITRARY,           /* 0: "app-config", exact numbers in custom_metadata, JSON-ish payload */
    T_USERNAME_PASSWORD,   /* 1: "datenbank-passwört", \u00e9 and NFD e\u0301 escapes */
    T_KV,                  /* 2: "密码", kv data with exact numbers and Unicode */
    T_IAM_CREDENTIALS,     /* 3 */
    T_SERVICE_CREDENTIALS, /* 4 */
    T_CUSTOM_CREDENTIALS,  /* 5 */
    T_IMPORTED_CERT,       /* 6: with a managed CSR */
    T_PUBLIC_CERT,         /* 7 */
    T_PRIVATE_CERT,        /* 8 */
    T_ARBITRARY,           /* 9: empty payload "" */
    T_QUANTUM_KEY,         /* 10: unknown future type */
    T_KV,                  /* 11: "app-config" again (same name as slot 0, other type) */
};

/* Type mix of ordinary slots (weights out of 20). */
static const int mix_types[20] = {
    T_ARBITRARY,
    T_ARBITRARY,
    T_ARBITRARY,
    T_ARBITRARY,
    T_ARBITRARY,
    T_USERNAME_PASSWORD,
    T_USERNAME_PASSWORD,
    T_USERNAME_PASSWORD,
    T_USERNAME_PASSWORD,
    T_KV,
    T_KV,
    T_KV,
    T_KV,
    T_IAM_CREDENTIALS,
    T_IAM_CREDENTIALS,
    T_SERVICE_CREDENTIALS,
    T_CUSTOM_CREDENTIALS,
    T_IMPORTED_CERT,
    T_PUBLIC_CERT,
    T_PRIVATE_CERT,
};

static const char *const name_prefixes[T_COUNT][4] = {
    {"api-token", "webhook-secret", "ssh-deploy-key", "license-key"},
    {"db-admin", "postgres-app", "ldap-bind", "smtp-relay"},
    {"app-settings", "feature-flags", "oauth-client", "payment-gateway"},
    {"ci-deployer", "log-shipper", "backup-agent", "terraform-runner"},
    {"cos-writer", "cos-reader", "event-streams-producer", "cloudant-app"},
    {"artifactory-token", "pagerduty-key", "github-app-token", "jira-bot"},
    {"cert-legacy-portal", "cert-partner-gateway", "cert-vpn", "cert-sso"},
    {"cert-www", "cert-api", "cert-shop", "cert-status"},
    {"mtls-service", "internal-api-cert", "grpc-backend", "kafka-client-cert"},
    {"qkd-link-key", "qkd-session-key", "qkd-backbone", "qkd-edge"},
};

static const char *const label_pool[12] = {
    "env:prod", "env:staging", "env:dev",          "team-payments", "team-identity", "pci-dss",
    "gdpr",     "tier-1",      "rotation-managed", "owner:sre",     "region-us",     "critical",
};

static const char *const group_words[10] = {
    "payments",      "identity", "platform",    "data-lake", "ci-cd",
    "observability", "mobile",   "partner-api", "billing",   "search",
};

static const char *const domains[3] = {"example.com", "example.org", "example.net"};

/* ---- small helpers ---- */

static uint64_t slot_hash(const gen_ctx *c, uint64_t tag, uint64_t a, uint64_t b)
{
    return gen_hash4(c->seed, tag, a, b);
}

static void slot_rng(rng_t *r, const gen_ctx *c, uint64_t tag, uint64_t a, uint64_t b)
{
    rng_seed(r, slot_hash(c, tag, a, b));
}

static void make_id(const gen_ctx *c, uint64_t tag, uint64_t a, uint64_t b, char out[37])
{
    uint64_t h1 = slot_hash(c, tag, a, b);
    uint64_t h2 = slot_hash(c, tag ^ ID2_XOR, a, b);
    uuid_format(out, h1, h2);
}

static void u64_to_str(char *buf, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    memcpy(buf, tmp + i, sizeof(tmp) - i);
    buf[sizeof(tmp) - i] = '\0';
}

static void str_append(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst);
    size_t m = strlen(src);
    if (n + m + 1 > cap)
        m = cap - n - 1;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

static void key(out_t *o, const char *k)
{
    out_char(o, ',');
    out_char(o, '"');
    out_cstr(o, k);
    out_char(o, '"');
    out_char(o, ':');
}

static void key_ts(out_t *o, const char *k, int64_t ns)
{
    key(o, k);
    out_ts(o, ns);
}

static void key_str(out_t *o, const char *k, const char *v)
{
    key(o, k);
    out_jstr(o, v);
}

/* ---- the series ---- */

int64_t gen_snapshot_time(const gen_ctx *c, unsigned k)
{
    return c->t_end - (int64_t)(c->of - k) * NS_PER_DAY;
}

uint64_t gen_slot_limit(const gen_ctx *c, unsigned k)
{
    return c->nsecrets + c->churn * ((uint64_t)k - 1);
}

uint64_t gen_base_alive(const gen_ctx *c, unsigned k)
{
    uint64_t gone = c->churn * ((uint64_t)k - 1);
    return gone >= c->nsecrets ? 0 : c->nsecrets - gone;
}

/* Base slots go from the last one down, C per snapshot; created slots N, N+1, ... come C per
 * snapshot from snapshot 2 on. With C = 1 this is "s + k <= N" and "s - N + 2 <= k". */
int gen_slot_exists(const gen_ctx *c, uint64_t s, unsigned k)
{
    if (s < c->nsecrets)
        return s < gen_base_alive(c, k);
    return s < gen_slot_limit(c, k);
}

static unsigned slot_first_snapshot(const gen_ctx *c, uint64_t s)
{
    if (s < c->nsecrets || c->churn == 0)
        return 1u;
    return (unsigned)((s - c->nsecrets) / c->churn + 2);
}

/* The rotation rule alone (the caller checks that the slot exists at K-1 and K). */
static int rotation_picks(const gen_ctx *c, uint64_t s, unsigned k)
{
    if (c->rotate_permille < 0)
        return (s + k) % 3 == 0;
    return slot_hash(c, TAG_ROTATE_PICK, s, k) % 1000 < (uint64_t)c->rotate_permille;
}

int gen_slot_rotates(const gen_ctx *c, uint64_t s, unsigned k)
{
    return k >= 2 && rotation_picks(c, s, k) && gen_slot_exists(c, s, k) &&
           gen_slot_exists(c, s, k - 1);
}

/* The move rule alone; a move needs another group to go to. */
static int move_picks(const gen_ctx *c, uint64_t s, unsigned k)
{
    return c->move_permille > 0 && c->ngroups > 0 &&
           slot_hash(c, TAG_MOVE_PICK, s, k) % 1000 < c->move_permille;
}

int gen_slot_moves(const gen_ctx *c, uint64_t s, unsigned k)
{
    return k >= 2 && move_picks(c, s, k) && gen_slot_exists(c, s, k) &&
           gen_slot_exists(c, s, k - 1);
}

int gen_slot_group_at(const gen_ctx *c, uint64_t s, unsigned k)
{
    int g = gen_slot_group(c, s);
    /* A slot exists over one interval of snapshots: every j after its first is a step. */
    for (unsigned j = slot_first_snapshot(c, s) + 1; j <= k; j++) {
        if (!move_picks(c, s, j))
            continue;
        /* Groups 0 .. G-1 and "default" as G, in a ring: a step of 1 .. G never stays. */
        uint64_t ring = (uint64_t)c->ngroups + 1;
        uint64_t cur = g < 0 ? c->ngroups : (uint64_t)g;
        cur = (cur + 1 + slot_hash(c, TAG_MOVE_STEP, s, j) % c->ngroups) % ring;
        g = cur == c->ngroups ? -1 : (int)cur;
    }
    return g;
}

void gen_secret_id(const gen_ctx *c, uint64_t s, char out[37])
{
    make_id(c, TAG_SECRET_ID, s, 0, out);
}

void gen_version_id(const gen_ctx *c, uint64_t s, int v, char out[37])
{
    make_id(c, TAG_VERSION_ID, s, (uint64_t)v, out);
}

int gen_slot_group(const gen_ctx *c, uint64_t s)
{
    uint64_t h = slot_hash(c, TAG_GROUP, s, 0) % ((uint64_t)c->ngroups + 1);
    return h == c->ngroups ? -1 : (int)h;
}

void gen_group_id(const gen_ctx *c, unsigned g, char out[37])
{
    make_id(c, TAG_GROUP_ID, g, 0, out);
}

void gen_group_name(unsigned g, char *out, size_t cap)
{
    out[0] = '\0';
    str_append(out, cap, group_words[g % 10]);
    if (g >= 10) {
        char num[24];
        u64_to_str(num, g / 10 + 1);
        str_append(out, cap, "-");
        str_append(out, cap, num);
    }
}

void gen_ctx_init(gen_ctx *c)
{
    static const char hexd[] = "0123456789abcdef";
    uint64_t a1 = slot_hash(c, TAG_INSTANCE, 1, 0), a2 = slot_hash(c, TAG_INSTANCE, 2, 0);
    for (int i = 0; i < 16; i++)
        c->account[i] = hexd[(a1 >> (4 * i)) & 15];
    for (int i = 0; i < 16; i++)
        c->account[16 + i] = hexd[(a2 >> (4 * i)) & 15];
    c->account[32] = '\0';
    make_id(c, TAG_INSTANCE, 3, 0, c->guid);
    make_id(c, TAG_INSTANCE, 4, 0, c->cos_guid);
    c->crn_prefix[0] = '\0';
    str_append(c->crn_prefix, sizeof(c->crn_prefix), "crn:v1:bluemix:public:secrets-manager:");
    str_append(c->crn_prefix, sizeof(c->crn_prefix), c->region);
    str_append(c->crn_prefix, sizeof(c->crn_prefix), ":a/");
    str_append(c->crn_prefix, sizeof(c->crn_prefix), c->account);
    str_append(c->crn_prefix, sizeof(c->crn_prefix), ":");
    str_append(c->crn_prefix, sizeof(c->crn_prefix), c->guid);
    str_append(c->crn_prefix, sizeof(c->crn_prefix), ":");
    for (unsigned i = 0; i < GEN_N_PRINCIPALS; i++) {
        char id[37];
        make_id(c, TAG_INSTANCE, 10 + i, 0, id);
        c->principals[i][0] = '\0';
        if (i == GEN_N_PRINCIPALS - 1) {
            /* One human user. */
            str_append(c->principals[i], sizeof(c->principals[i]), "IBMid-6650");
            id[6] = '\0';
            for (int j = 0; j < 6; j++)
                if (id[j] >= 'a' && id[j] <= 'f')
                    id[j] = (char)(id[j] - 'a' + 'A');
            str_append(c->principals[i], sizeof(c->principals[i]), id);
        } else {
            str_append(c->principals[i], sizeof(c->principals[i]), "iam-ServiceId-");
            str_append(c->principals[i], sizeof(c->principals[i]), id);
        }
    }
}

/* ---- building a slot ---- */

static void secret_name(gen_secret *s, rng_t *r)
{
    unsigned pick = (unsigned)rng_below(r, 4);
    switch (s->role) {
    case 0:
    case 11:
        strcpy(s->name, "app-config");
        return;
    case 1:
        strcpy(s->name, "datenbank-passw\xc3\xb6rt");
        return;
    case 2:
        strcpy(s->name, "\xe5\xaf\x86\xe7\xa0\x81");
        return;
    default:
        break;
    }
    char num[24];
    u64_to_str(num, s->slot);
    s->name[0] = '\0';
    str_append(s->name, sizeof(s->name), name_prefixes[s->type][pick]);
    str_append(s->name, sizeof(s->name), "-");
    str_append(s->name, sizeof(s->name), num);
}

static int64_t ttl_secs(const gen_secret *s)
{
    switch (s->type) {
    case T_IAM_CREDENTIALS: {
        static const int64_t t[3] = {604800, 2592000, 7776000};
        return t[s->attr_bits % 3];
    }
    case T_SERVICE_CREDENTIALS:
        return 2592000;
    case T_CUSTOM_CREDENTIALS:
        return 864000;
    default:
        return 0;
    }
}

/* How old the current version of a slot may be at T_1 (ns). */
static int64_t max_age_at_t1(const gen_secret *s)
{
    int64_t days = 200;
    if (s->auto_rotate && s->type != T_ARBITRARY && s->type != T_KV)
        days = s->rot_month ? 24 * (int64_t)s->rot_interval : s->rot_interval * 8 / 10;
    int64_t ttl = ttl_secs(s) / 86400;
    if (ttl > 0 && ttl * 8 / 10 < days)
        days = ttl * 8 / 10;
    switch (s->type) {
    case T_IMPORTED_CERT:
        days = days < 300 ? days : 300;
        break;
    case T_PUBLIC_CERT:
        days = days < 55 ? days : 55;
        break;
    case T_PRIVATE_CERT:
        days = days < 24 ? days : 24;
        break;
    default:
        break;
    }
    return days > 1 ? days * NS_PER_DAY : 20 * NS_PER_HOUR;
}

void gen_secret_build(const gen_ctx *c, uint64_t slot, unsigned k, gen_secret *s)
{
    rng_t r;
    slot_rng(&r, c, TAG_SECRET, slot, 0);
    memset(s, 0, sizeof(*s));
    s->slot = slot;
    s->role = slot < N_ROLES ? (int)slot : -1;
    uint64_t tpick = rng_below(&r, 20);
    s->type = s->role >= 0 ? role_types[s->role] : mix_types[tpick];
    gen_secret_id(c, slot, s->id);
    int g = gen_slot_group_at(c, slot, k);
    if (g < 0)
        strcpy(s->group, "default");
    else
        gen_group_id(c, (unsigned)g, s->group);
    secret_name(s, &r);

    s->first_snapshot = slot_first_snapshot(c, slot);
    int64_t t1 = gen_snapshot_time(c, 1);
    int64_t tfirst = gen_snapshot_time(c, s->first_snapshot);
    int64_t back = rng_range(&r, 10 * NS_PER_DAY, 410 * NS_PER_DAY);
    int64_t jitter = rng_range(&r, 2 * NS_PER_HOUR, 22 * NS_PER_HOUR - 1);
    int v0 = 1 + (int)rng_below(&r, 4);
    if (s->role == 0 || s->role == 1 || s->role == 6)
        v0 = 4; /* some versions without payload for sure */
    if (s->role == 9)
        v0 = 2;
    s->principal = (int)rng_below(&r, GEN_N_PRINCIPALS);
    s->locks = rng_chance(&r, 1, 10) ? 1 + (int)rng_below(&r, 3) : 0;
    s->auto_rotate = rng_chance(&r, 2, 3);
    s->rot_month = rng_chance(&r, 1, 3);
    s->rot_interval = s->rot_month ? 1 + (int)rng_below(&r, 3) : 30 + 30 * (int)rng_below(&r, 3);
    s->has_exp = rng_chance(&r, 1, 3);
    s->exp_fixed =
        ts_rand_precision(&r, c->t_end + rng_range(&r, 60 * NS_PER_DAY, 700 * NS_PER_DAY));
    s->attr_bits = (unsigned)(rng_next(&r) >> 32);
    s->key_ec = rng_chance(&r, 1, 3);
    s->pw_len = 16 + 4 * (int)rng_below(&r, 5);
    uint64_t upd_frac = rng_below(&r, 1000);
    uint64_t vrand[8];
    for (int i = 0; i < 8; i++)
        vrand[i] = rng_next(&r);

    if (s->first_snapshot == 1) {
        /* Version 0 at creation; the last base version no older than max_age_at_t1() (so
         * that TTLs, rotation dates and certificates are not already past at T_1); the others
         * evenly in between. */
        int64_t max_age = max_age_at_t1(s);
        if (v0 == 1 && back > max_age)
            back = NS_PER_HOUR + max_age / 2 + (int64_t)(vrand[1] % (uint64_t)(max_age / 2));
        if (max_age > back / 2)
            max_age = back / 2;
        s->created = ts_rand_precision(&r, t1 - back);
        int64_t last = t1 - NS_PER_HOUR - (int64_t)(vrand[0] % (uint64_t)max_age);
        s->vtime[0] = s->created;
        for (int v = 1; v < v0; v++) {
            int64_t step = (last - s->created) / (v0 - 1);
            int64_t t = s->created + step * v;
            if (v < v0 - 1)
                t += (int64_t)(vrand[v] % (uint64_t)(step / 4 + 1));
            rng_t tr;
            rng_seed(&tr, vrand[v]);
            s->vtime[v] = ts_rand_precision(&tr, t);
        }
        s->nver = v0;
        s->nver_first = v0;
        s->meta_updated =
            s->created + (int64_t)((uint64_t)(t1 - NS_PER_HOUR - s->created) / 1000 * upd_frac);
        s->meta_updated = ts_rand_precision(&r, s->meta_updated);
    } else {
        s->created = ts_rand_precision(&r, tfirst - jitter);
        s->vtime[0] = s->created;
        s->vsnap[0] = s->first_snapshot;
        s->nver = 1;
        s->nver_first = 1;
        s->meta_updated = s->created;
    }
    for (unsigned j = s->first_snapshot + 1; j <= k; j++) {
        if (move_picks(c, slot, j)) {
            /* A move updates the secret's metadata (updated_at) a few hours before T_j. */
            rng_t mr;
            slot_rng(&mr, c, TAG_MOVE_TIME, slot, j);
            int64_t t = gen_snapshot_time(c, j) - rng_range(&mr, 2 * NS_PER_HOUR, 22 * NS_PER_HOUR);
            t = ts_rand_precision(&mr, t);
            if (t > s->meta_updated)
                s->meta_updated = t;
        }
        if (!rotation_picks(c, slot, j) || s->nver >= GEN_MAX_VERSIONS)
            continue;
        rng_t rr;
        slot_rng(&rr, c, TAG_ROTATION, slot, j);
        int64_t t = gen_snapshot_time(c, j) - rng_range(&rr, 2 * NS_PER_HOUR, 22 * NS_PER_HOUR);
        s->vtime[s->nver] = ts_rand_precision(&rr, t);
        s->vsnap[s->nver] = j;
        s->nver++;
    }
}

/* ---- per-version derived values ---- */

typedef struct {
    char id[37];
    char aux[37]; /* api key / resource key / task id of the version */
    int64_t t;
    int64_t nb, na; /* certificate validity */
    uint64_t serial[2];
    int auto_rotated;
    int downloaded;
    int principal;
    unsigned vcm; /* version_custom_metadata variant */
    unsigned build;
} vinfo;

static void vinfo_build(const gen_ctx *c, const gen_secret *s, int v, vinfo *vi)
{
    rng_t r;
    slot_rng(&r, c, TAG_VMETA, s->slot, (uint64_t)v);
    gen_version_id(c, s->slot, v, vi->id);
    make_id(c, TAG_AUX_ID, s->slot, (uint64_t)v, vi->aux);
    vi->t = s->vtime[v];
    vi->auto_rotated = v > 0 && s->auto_rotate && rng_chance(&r, 3, 4);
    /* Versions that had their payload in an export of the series were downloaded by it; so
     * the flag never goes back to false from one snapshot to the next. */
    vi->downloaded = rng_chance(&r, 3, 4) || s->vsnap[v] > 0 || v >= s->nver_first - 2;
    vi->principal = vi->auto_rotated ? s->principal : (int)rng_below(&r, GEN_N_PRINCIPALS);
    vi->vcm = (unsigned)rng_below(&r, 4);
    vi->build = 1000 + (unsigned)rng_below(&r, 9000);
    vi->serial[0] = rng_next(&r);
    vi->serial[1] = rng_next(&r);
    int64_t base = vi->t - vi->t % NS_PER_SEC;
    switch (s->type) {
    case T_IMPORTED_CERT:
        vi->nb = base - rng_range(&r, 0, 20) * NS_PER_DAY - rng_range(&r, 0, 86399) * NS_PER_SEC;
        vi->na = vi->nb + 397 * NS_PER_DAY;
        break;
    case T_PUBLIC_CERT:
        vi->nb = base - rng_range(&r, 60, 3600) * NS_PER_SEC;
        vi->na = vi->nb + 90 * NS_PER_DAY - NS_PER_SEC;
        break;
    case T_PRIVATE_CERT:
        vi->nb = base - 30 * NS_PER_SEC;
        vi->na = vi->nb + (int64_t)(30 + 30 * (s->attr_bits % 12)) * NS_PER_DAY;
        break;
    default:
        vi->nb = vi->na = 0;
        break;
    }
}

static int64_t version_expiration(const gen_secret *s, const vinfo *vi, int *has)
{
    *has = 1;
    switch (s->type) {
    case T_ARBITRARY:
    case T_USERNAME_PASSWORD:
    case T_QUANTUM_KEY:
        *has = s->has_exp;
        return s->exp_fixed;
    case T_IAM_CREDENTIALS:
    case T_SERVICE_CREDENTIALS:
    case T_CUSTOM_CREDENTIALS:
        return vi->t + ttl_secs(s) * NS_PER_SEC;
    case T_IMPORTED_CERT:
    case T_PUBLIC_CERT:
    case T_PRIVATE_CERT:
        return vi->na;
    default:
        *has = 0;
        return 0;
    }
}

/* ---- JSON pieces ---- */

static void write_serial(out_t *o, const vinfo *vi)
{
    static const char hexd[] = "0123456789abcdef";
    char buf[16 * 3];
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        unsigned b = (unsigned)(vi->serial[i / 8] >> (8 * (i % 8))) & 255;
        if (i == 0)
            b &= 0x7f;
        if (i > 0)
            buf[n++] = ':';
        buf[n++] = hexd[b >> 4];
        buf[n++] = hexd[b & 15];
    }
    out_char(o, '"');
    out_raw(o, buf, n);
    out_char(o, '"');
}

static void write_rotation(out_t *o, const gen_secret *s, int with_keys)
{
    key(o, "rotation");
    if (s->auto_rotate) {
        OUT_LIT(o, "{\"auto_rotate\":true,\"interval\":");
        out_i64(o, s->rot_interval);
        if (s->rot_month)
            OUT_LIT(o, ",\"unit\":\"month\"");
        else
            OUT_LIT(o, ",\"unit\":\"day\"");
    } else {
        OUT_LIT(o, "{\"auto_rotate\":false");
    }
    if (with_keys)
        OUT_LIT(o, ",\"rotate_keys\":false");
    out_char(o, '}');
}

static void write_next_rotation(out_t *o, const gen_secret *s, const vinfo *cur)
{
    if (!s->auto_rotate)
        return;
    int64_t step = s->rot_month ? (int64_t)s->rot_interval * 30 * NS_PER_DAY
                                : (int64_t)s->rot_interval * NS_PER_DAY;
    int64_t t = cur->t + step;
    key_ts(o, "next_rotation_date", t - t % NS_PER_SEC);
}

static void common_name(const gen_secret *s, char *out, size_t cap)
{
    char num[24];
    u64_to_str(num, s->slot);
    out[0] = '\0';
    switch (s->type) {
    case T_IMPORTED_CERT:
        str_append(out, cap, "portal");
        break;
    case T_PUBLIC_CERT:
        str_append(out, cap, "www");
        break;
    default:
        str_append(out, cap, "svc");
        break;
    }
    str_append(out, cap, num);
    str_append(out, cap, ".");
    if (s->type == T_PRIVATE_CERT)
        str_append(out, cap, "internal.");
    str_append(out, cap, domains[s->attr_bits % 3]);
}

static int cert_intermediate_included(const gen_secret *s)
{
    return s->type != T_IMPORTED_CERT || s->role == 6 || (s->attr_bits & 8) != 0;
}

static int cert_private_key_included(const gen_secret *s)
{
    return s->type != T_IMPORTED_CERT || s->role == 6 || (s->attr_bits & 16) != 0;
}

static void write_cert_fields(out_t *o, const gen_secret *s, const vinfo *vi)
{
    char cn[96];
    common_name(s, cn, sizeof(cn));
    key_str(o, "common_name", cn);
    OUT_LIT(o, ",\"alt_names\":[");
    out_jstr(o, cn);
    if (s->type != T_PRIVATE_CERT) {
        char alt[100] = "api.";
        str_append(alt, sizeof(alt), cn);
        out_char(o, ',');
        out_jstr(o, alt);
    }
    out_char(o, ']');
    key_str(o, "key_algorithm", s->key_ec ? "EC256" : "RSA2048");
    key_str(o, "signing_algorithm", "SHA256-RSA");
    switch (s->type) {
    case T_IMPORTED_CERT:
        key_str(o, "issuer", "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US");
        break;
    case T_PUBLIC_CERT:
        key_str(o, "issuer", "CN=R11,O=Let's Encrypt,C=US");
        break;
    default:
        key_str(o, "issuer", "Example Internal Intermediate CA");
        break;
    }
    key(o, "serial_number");
    write_serial(o, vi);
    OUT_LIT(o, ",\"validity\":{\"not_before\":");
    out_ts(o, vi->nb);
    OUT_LIT(o, ",\"not_after\":");
    out_ts(o, vi->na);
    out_char(o, '}');
    key(o, "intermediate_included");
    out_bool(o, cert_intermediate_included(s));
    key(o, "private_key_included");
    out_bool(o, cert_private_key_included(s));
}

static void write_labels(out_t *o, const gen_secret *s)
{
    unsigned n = (s->attr_bits >> 28) & 3; /* 0..3 labels */
    if (s->role >= 0 && s->role < N_ROLES)
        n = 2;
    OUT_LIT(o, ",\"labels\":[");
    unsigned start = (s->attr_bits >> 20) % 12;
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            out_char(o, ',');
        out_jstr(o, label_pool[(start + 5 * i) % 12]);
    }
    if (s->role == 1)
        OUT_LIT(o, ",\"\xc3\xa9quipe-donn\xc3\xa9"
                   "es\"");
    out_char(o, ']');
}

static void write_description(out_t *o, const gen_secret *s)
{
    static const char *const what[T_COUNT] = {
        "Opaque secret used by ",        "Database login for ",
        "Configuration values for ",     "IAM API key for ",
        "Service credentials for ",      "Third-party token for ",
        "Imported TLS certificate of ",  "Let's Encrypt certificate of ",
        "Internal mTLS certificate of ", "Quantum-distributed key of ",
    };
    if (s->role == 1) {
        /* Escapes on purpose: NFC \u00e9 and NFD e\u0301 must survive byte for byte. */
        OUT_LIT(o, ",\"description\":\"Mot de passe de la base de donn\\u00e9es \\u2014 caf\\u00e9 "
                   "(NFC) vs cafe\\u0301 (NFD), \\\"quoted\\\" and a back\\\\slash\"");
        return;
    }
    if ((s->attr_bits & 3) == 0 && s->role < 0)
        return; /* no description: the field is absent */
    static const char *const teams[5] = {"the checkout service", "the nightly batch",
                                         "the mobile backend", "the data pipeline",
                                         "the partner integration"};
    key(o, "description");
    out_char(o, '"');
    out_cstr(o, what[s->type]);
    out_cstr(o, teams[(s->attr_bits >> 2) % 5]);
    out_char(o, '"');
}

static void write_custom_metadata(out_t *o, const gen_secret *s)
{
    if (s->role == 0) {
        OUT_LIT(o, ",\"custom_metadata\":{\"owner\":\"platform\",\"big_integer\":"
                   "12345678901234567890,\"decimal\":0.1000000000000000055511151231257827,"
                   "\"negative_zero\":-0.0,\"exponent\":6.02214076E+23,\"small\":1e-7,"
                   "\"nested\":{\"list\":[1,\"two\",3.50,null,true,false,[],{}]},"
                   "\"caf\\u00e9\":\"caf\\u00e9\",\"nfd\":\"cafe\\u0301\"}");
        return;
    }
    if (s->role == 1) {
        OUT_LIT(o, ",\"custom_metadata\":{\"nfc\":\"caf\\u00e9\",\"nfd\":\"cafe\\u0301\","
                   "\"raw_utf8\":\"caf\xc3\xa9 \xe5\xaf\x86\xe7\xa0\x81\",\"emoji\":"
                   "\"\\ud83d\\udd10\",\"controls\":\"tab\\tnewline\\n\","
                   "\"slash\":\"a\\/b\"}");
        return;
    }
    switch ((s->attr_bits >> 5) % 6) {
    case 0:
        return; /* absent */
    case 1:
        OUT_LIT(o, ",\"custom_metadata\":{}");
        return;
    case 2:
        OUT_LIT(o,
                ",\"custom_metadata\":{\"compliance\":{\"pci\":true,\"reviewed\":\"2026-03-01\"},"
                "\"owner\":\"team-");
        out_cstr(o, group_words[(s->attr_bits >> 8) % 10]);
        OUT_LIT(o, "\"}");
        return;
    default:
        OUT_LIT(o, ",\"custom_metadata\":{\"owner\":\"team-");
        out_cstr(o, group_words[(s->attr_bits >> 8) % 10]);
        OUT_LIT(o, "\",\"cost_center\":");
        out_u64(o, 1000 + (s->attr_bits >> 12) % 9000);
        OUT_LIT(o, ",\"ticket\":\"SEC-");
        out_u64(o, s->slot + 100);
        OUT_LIT(o, "\"}");
        return;
    }
}

static void write_vcm(out_t *o, const gen_secret *s, const vinfo *vi)
{
    OUT_LIT(o, ",\"version_custom_metadata\":");
    if (s->role == 0) {
        OUT_LIT(o,
                "{\"rollout\":{\"percent\":12.5,\"canary\":true},\"build\":12345678901234567890}");
        return;
    }
    switch (vi->vcm) {
    case 0:
    case 1:
        OUT_LIT(o, "{}");
        break;
    case 2:
        OUT_LIT(o, "{\"build\":\"");
        out_u64(o, vi->build);
        OUT_LIT(o, "\",\"pipeline\":\"deploy\"}");
        break;
    default:
        OUT_LIT(o, "{\"change\":\"CHG");
        out_u64(o, vi->build * 7);
        OUT_LIT(o, "\",\"approved\":true}");
        break;
    }
}

static void cos_crn(out_t *o, const gen_ctx *c)
{
    OUT_LIT(o, "crn:v1:bluemix:public:cloud-object-storage:global:a/");
    out_cstr(o, c->account);
    out_char(o, ':');
    out_cstr(o, c->cos_guid);
    out_char(o, ':');
}

static void serviceid_crn(out_t *o, const gen_ctx *c, const char *sid)
{
    OUT_LIT(o, "\"crn:v1:bluemix:public:iam-identity::a/");
    out_cstr(o, c->account);
    OUT_LIT(o, "::serviceid:ServiceId-");
    out_cstr(o, sid);
    out_char(o, '"');
}

static void resource_key(out_t *o, const gen_ctx *c, const gen_secret *s, const vinfo *vi)
{
    OUT_LIT(o, "{\"crn\":\"");
    cos_crn(o, c);
    OUT_LIT(o, "resource-key:");
    out_cstr(o, vi->aux);
    OUT_LIT(o, "\",\"name\":");
    out_jstr(o, s->name);
    out_char(o, '}');
}

/* Type-specific metadata at the secret level (not payload). */
static void write_type_meta(out_t *o, const gen_ctx *c, const gen_secret *s, const vinfo *cur)
{
    int has_exp;
    int64_t exp = version_expiration(s, cur, &has_exp);
    char sid[37];
    switch (s->type) {
    case T_ARBITRARY:
        break;
    case T_USERNAME_PASSWORD:
        write_rotation(o, s, 0);
        write_next_rotation(o, s, cur);
        OUT_LIT(o, ",\"password_generation_policy\":{\"length\":");
        out_i64(o, s->pw_len);
        OUT_LIT(o, ",\"include_digits\":true,\"include_symbols\":");
        out_bool(o, (s->attr_bits & 64) == 0);
        OUT_LIT(o, ",\"include_uppercase\":true}");
        break;
    case T_KV:
        break;
    case T_IAM_CREDENTIALS:
        key(o, "ttl");
        out_char(o, '"');
        out_i64(o, ttl_secs(s));
        out_char(o, '"');
        make_id(c, TAG_AUX_ID, s->slot, 1000000, sid);
        OUT_LIT(o, ",\"access_groups\":[\"AccessGroupId-");
        out_cstr(o, sid);
        OUT_LIT(o, "\"],\"api_key_id\":\"ApiKey-");
        out_cstr(o, cur->aux);
        OUT_LIT(o, "\",\"service_id\":\"ServiceId-");
        make_id(c, TAG_AUX_ID, s->slot, 1000001, sid);
        out_cstr(o, sid);
        OUT_LIT(o, "\",\"account_id\":\"");
        out_cstr(o, c->account);
        OUT_LIT(o, "\",\"service_id_is_static\":");
        out_bool(o, (s->attr_bits & 128) != 0);
        OUT_LIT(o, ",\"reuse_api_key\":");
        out_bool(o, (s->attr_bits & 256) != 0);
        write_rotation(o, s, 0);
        write_next_rotation(o, s, cur);
        break;
    case T_SERVICE_CREDENTIALS:
        key(o, "ttl");
        out_char(o, '"');
        out_i64(o, ttl_secs(s));
        out_char(o, '"');
        write_rotation(o, s, 0);
        write_next_rotation(o, s, cur);
        make_id(c, TAG_AUX_ID, s->slot, 1000001, sid);
        OUT_LIT(o, ",\"source_service\":{\"instance\":{\"crn\":\"");
        cos_crn(o, c);
        OUT_LIT(o, ":\",\"name\":\"cos-backups\"},\"role\":{\"crn\":"
                   "\"crn:v1:bluemix:public:iam::::serviceRole:Writer\"},\"iam\":{\"apikey\":{"
                   "\"description\":\"Generated by Secrets Manager\",\"name\":");
        out_jstr(o, s->name);
        OUT_LIT(o, "},\"role\":{\"name\":\"Writer\"},\"serviceid\":{\"crn\":");
        serviceid_crn(o, c, sid);
        OUT_LIT(o, ",\"name\":\"sm-generated-");
        out_u64(o, s->slot);
        OUT_LIT(o, "\"}},\"resource_key\":");
        resource_key(o, c, s, cur);
        OUT_LIT(o, ",\"parameters\":{\"HMAC\":");
        out_bool(o, (s->attr_bits & 512) != 0);
        OUT_LIT(o, "}}");
        break;
    case T_CUSTOM_CREDENTIALS:
        key(o, "ttl");
        out_char(o, '"');
        out_i64(o, ttl_secs(s));
        out_char(o, '"');
        write_rotation(o, s, 0);
        write_next_rotation(o, s, cur);
        OUT_LIT(o, ",\"configuration\":\"custom-config-artifactory\",\"parameters\":{"
                   "\"integer_values\":{\"token_ttl_days\":30},\"string_values\":{\"scope\":"
                   "\"member-of-groups:readers\"},\"boolean_values\":{\"refreshable\":true}}"
                   ",\"processing_status\":{\"task_id\":\"");
        out_cstr(o, cur->aux);
        OUT_LIT(o, "\",\"task_status\":\"credentials_created\"}");
        break;
    case T_IMPORTED_CERT:
        write_cert_fields(o, s, cur);
        key(o, "managed_csr");
        out_bool(o, s->role == 6);
        break;
    case T_PUBLIC_CERT:
        write_cert_fields(o, s, cur);
        OUT_LIT(o, ",\"issuance_info\":{\"auto_rotated\":");
        out_bool(o, cur->auto_rotated);
        OUT_LIT(o, ",\"challenges\":[],\"dns_challenge_validation_time\":");
        out_ts(o, cur->t + 41 * NS_PER_SEC);
        OUT_LIT(o, ",\"ordered_on\":");
        out_ts(o, cur->t);
        OUT_LIT(o, ",\"state\":1,\"state_description\":\"active\"}");
        OUT_LIT(o, ",\"rotation\":{\"auto_rotate\":");
        out_bool(o, s->auto_rotate);
        OUT_LIT(o, ",\"rotate_keys\":false},\"bundle_certs\":true,\"ca\":\"letsencrypt-prod\","
                   "\"dns\":\"cis-dns\"");
        break;
    case T_PRIVATE_CERT:
        write_cert_fields(o, s, cur);
        OUT_LIT(o, ",\"certificate_authority\":\"intermediate-ca-internal\","
                   "\"certificate_template\":\"internal-server\"");
        write_rotation(o, s, 1);
        write_next_rotation(o, s, cur);
        break;
    case T_QUANTUM_KEY:
        OUT_LIT(o, ",\"qkd_protocol\":\"BB84\",\"key_length_bits\":256,\"link\":{\"node_a\":"
                   "\"zrh-qn-01\",\"node_b\":\"fra-qn-02\",\"fidelity\":0.9731,\"qber\":1.42e-2}");
        break;
    default:
        break;
    }
    if (has_exp)
        key_ts(o, "expiration_date", exp);
}

/* Version-level non-payload extras (certificates, IAM, service credentials). */
static void write_version_extras(out_t *o, const gen_ctx *c, const gen_secret *s, const vinfo *vi)
{
    int has_exp;
    int64_t exp = version_expiration(s, vi, &has_exp);
    if (has_exp)
        key_ts(o, "expiration_date", exp);
    char sid[37];
    switch (s->type) {
    case T_IMPORTED_CERT:
    case T_PUBLIC_CERT:
    case T_PRIVATE_CERT:
        key(o, "serial_number");
        write_serial(o, vi);
        OUT_LIT(o, ",\"validity\":{\"not_before\":");
        out_ts(o, vi->nb);
        OUT_LIT(o, ",\"not_after\":");
        out_ts(o, vi->na);
        out_char(o, '}');
        break;
    case T_IAM_CREDENTIALS:
        OUT_LIT(o, ",\"api_key_id\":\"ApiKey-");
        out_cstr(o, vi->aux);
        OUT_LIT(o, "\",\"service_id\":\"ServiceId-");
        make_id(c, TAG_AUX_ID, s->slot, 1000001, sid);
        out_cstr(o, sid);
        out_char(o, '"');
        break;
    case T_SERVICE_CREDENTIALS:
        key(o, "resource_key");
        resource_key(o, c, s, vi);
        break;
    case T_QUANTUM_KEY:
        key(o, "link_epoch");
        out_u64(o, (uint64_t)vi->build);
        break;
    default:
        break;
    }
}

static size_t payload_len(const gen_ctx *c, rng_t *r, size_t fixed)
{
    uint64_t p = c->payload_bytes;
    if (p == 0)
        return 0;
    uint64_t target = p > fixed + 8 ? p - fixed : 8;
    return (size_t)rng_range(r, (int64_t)(target / 2), (int64_t)(target + target / 2));
}

static void write_ca_pem(out_t *o, const gen_ctx *c, unsigned which)
{
    rng_t r;
    slot_rng(&r, c, TAG_CA, which, 0);
    out_char(o, '"');
    out_pem_body(o, &r, "CERTIFICATE", (size_t)rng_range(&r, 1500, 1900));
    out_char(o, '"');
}

/* The payload fields of version V (leading commas). */
static void write_payload(out_t *o, const gen_ctx *c, const gen_secret *s, int v)
{
    rng_t r;
    slot_rng(&r, c, TAG_PAYLOAD, s->slot, (uint64_t)v);
    switch (s->type) {
    case T_ARBITRARY:
        OUT_LIT(o, ",\"payload\":\"");
        if (s->role == 9) {
            /* the empty payload */
        } else if (s->role == 0) {
            /* JSON text stored as a string: escapes inside escapes. */
            OUT_LIT(o, "{\\\"user\\\":\\\"app\\\",\\\"password\\\":\\\"");
            out_rand_password(o, &r, 24);
            OUT_LIT(o, "\\\",\\\"note\\\":\\\"line1\\\\nline2\\\\ttab \\\\\\\\ back\\\\\\\\slash "
                       "caf\\u00e9\\\",\\\"blob\\\":\\\"");
            out_rand_b64(o, &r, payload_len(c, &r, 120), 0);
            OUT_LIT(o, "\\\"}");
        } else if (s->attr_bits & 1024) {
            out_rand_hex(o, &r, payload_len(c, &r, 0));
        } else {
            out_rand_b64(o, &r, payload_len(c, &r, 0), 0);
        }
        out_char(o, '"');
        break;
    case T_USERNAME_PASSWORD:
        OUT_LIT(o, ",\"username\":\"");
        if (s->role == 1)
            OUT_LIT(o, "d\\u00e9ploiement");
        else {
            OUT_LIT(o, "svc_");
            out_u64(o, s->slot);
        }
        OUT_LIT(o, "\",\"password\":\"");
        out_rand_password(o, &r, (size_t)s->pw_len);
        out_char(o, '"');
        break;
    case T_KV:
        if (s->role == 2) {
            OUT_LIT(o,
                    ",\"data\":{\"schl\xc3\xbcssel\":\"wert\",\"caf\\u00e9\":\"cafe\\u0301\","
                    "\"big\":12345678901234567890,\"precise\":0.1000000000000000055511151231257827,"
                    "\"neg\":-1.5e-300,\"nested\":{\"a\":[1,2.5,-3e-7,true,false,null],"
                    "\"empty_object\":{},\"empty_array\":[]},\"emoji\":\"\\ud83d\\udd11\","
                    "\"\xe5\xaf\x86\xe7\xa0\x81\":\"");
            out_rand_password(o, &r, 20);
            OUT_LIT(o, "\",\"token\":\"");
            out_rand_b64(o, &r, payload_len(c, &r, 300), 0);
            OUT_LIT(o, "\"}");
        } else {
            OUT_LIT(o, ",\"data\":{\"host\":\"db");
            out_u64(o, s->slot);
            OUT_LIT(o, ".internal\",\"port\":");
            out_u64(o, 5432 + (s->attr_bits >> 16) % 100);
            OUT_LIT(o, ",\"user\":\"svc_");
            out_u64(o, s->slot);
            OUT_LIT(o, "\",\"tls\":true,\"token\":\"");
            out_rand_b64(o, &r, payload_len(c, &r, 80), 0);
            OUT_LIT(o, "\"}");
        }
        break;
    case T_IAM_CREDENTIALS:
        OUT_LIT(o, ",\"api_key\":\"");
        out_rand_b64(o, &r, 44, 1);
        out_char(o, '"');
        break;
    case T_SERVICE_CREDENTIALS: {
        vinfo vi;
        char sid[37];
        vinfo_build(c, s, v, &vi);
        make_id(c, TAG_AUX_ID, s->slot, 1000001, sid);
        OUT_LIT(o, ",\"credentials\":{\"apikey\":\"");
        out_rand_b64(o, &r, 44, 1);
        out_char(o, '"');
        if (s->attr_bits & 512) {
            OUT_LIT(o, ",\"cos_hmac_keys\":{\"access_key_id\":\"");
            out_rand_hex(o, &r, 32);
            OUT_LIT(o, "\",\"secret_access_key\":\"");
            out_rand_hex(o, &r, 48);
            OUT_LIT(o, "\"}");
        }
        OUT_LIT(o, ",\"endpoints\":\"https://control.cloud-object-storage.cloud.ibm.com/v2/"
                   "endpoints\",\"iam_apikey_description\":\"Auto-generated for key crn:v1:bluemix:"
                   "public:cloud-object-storage:global:a/");
        out_cstr(o, c->account);
        out_char(o, ':');
        out_cstr(o, c->cos_guid);
        OUT_LIT(o, ":resource-key:");
        out_cstr(o, vi.aux);
        OUT_LIT(o, "\",\"iam_apikey_id\":\"ApiKey-");
        out_cstr(o, vi.aux);
        OUT_LIT(o, "\",\"iam_apikey_name\":");
        out_jstr(o, s->name);
        OUT_LIT(o, ",\"iam_role_crn\":\"crn:v1:bluemix:public:iam::::serviceRole:Writer\","
                   "\"iam_serviceid_crn\":");
        serviceid_crn(o, c, sid);
        OUT_LIT(o, ",\"resource_instance_id\":\"");
        cos_crn(o, c);
        OUT_LIT(o, ":\"}");
        break;
    }
    case T_CUSTOM_CREDENTIALS:
        OUT_LIT(o, ",\"credentials_content\":{\"integer_values\":{\"expires_in_seconds\":864000},"
                   "\"string_values\":{\"token\":\"");
        out_rand_b64(o, &r, 64, 0);
        OUT_LIT(o, "\",\"username\":\"svc-");
        out_u64(o, s->slot);
        OUT_LIT(o, "\"},\"boolean_values\":{\"read_only\":true}}");
        break;
    case T_IMPORTED_CERT:
    case T_PUBLIC_CERT:
    case T_PRIVATE_CERT: {
        OUT_LIT(o, ",\"certificate\":\"");
        out_pem_body(o, &r, "CERTIFICATE",
                     (size_t)(s->key_ec ? rng_range(&r, 700, 900) : rng_range(&r, 1200, 1700)));
        out_char(o, '"');
        if (s->type == T_PUBLIC_CERT ||
            (s->type == T_IMPORTED_CERT && cert_intermediate_included(s))) {
            OUT_LIT(o, ",\"intermediate\":");
            write_ca_pem(o, c, s->type == T_PUBLIC_CERT ? 2 : 3);
        }
        if (cert_private_key_included(s)) {
            OUT_LIT(o, ",\"private_key\":\"");
            if (s->key_ec)
                out_pem_body(o, &r, "EC PRIVATE KEY", 164);
            else
                out_pem_body(o, &r, "RSA PRIVATE KEY", (size_t)rng_range(&r, 1588, 1708));
            out_char(o, '"');
        }
        if (s->type == T_IMPORTED_CERT && s->role == 6) {
            OUT_LIT(o, ",\"csr\":\"");
            out_pem_body(o, &r, "CERTIFICATE REQUEST", (size_t)rng_range(&r, 900, 1100));
            out_char(o, '"');
        }
        if (s->type == T_PRIVATE_CERT) {
            OUT_LIT(o, ",\"issuing_ca\":");
            write_ca_pem(o, c, 1);
            OUT_LIT(o, ",\"ca_chain\":[");
            write_ca_pem(o, c, 1);
            out_char(o, ',');
            write_ca_pem(o, c, 4);
            out_char(o, ']');
        }
        break;
    }
    case T_QUANTUM_KEY:
        OUT_LIT(o, ",\"quantum_key_material\":\"");
        out_rand_b64(o, &r, 44, 0);
        OUT_LIT(o, "\",\"basis_reconciliation\":{\"sifted_bits\":1024,\"parity\":\"");
        out_rand_hex(o, &r, 32);
        OUT_LIT(o, "\"}");
        break;
    default:
        break;
    }
}

static void write_version(out_t *o, const gen_ctx *c, const gen_secret *s, int v)
{
    vinfo vi;
    vinfo_build(c, s, v, &vi);
    int cur = s->nver - 1;
    int has_payload = v >= cur - 1;
    OUT_LIT(o, "{\"id\":\"");
    out_cstr(o, vi.id);
    OUT_LIT(o, "\",\"secret_id\":\"");
    out_cstr(o, s->id);
    OUT_LIT(o, "\",\"secret_name\":");
    out_jstr(o, s->name);
    OUT_LIT(o, ",\"secret_type\":\"");
    out_cstr(o, gen_type_names[s->type]);
    OUT_LIT(o, "\",\"secret_group_id\":\"");
    out_cstr(o, s->group);
    OUT_LIT(o, "\",\"created_at\":");
    out_ts(o, vi.t);
    OUT_LIT(o, ",\"created_by\":");
    out_jstr(o, c->principals[vi.principal]);
    OUT_LIT(o, ",\"auto_rotated\":");
    out_bool(o, vi.auto_rotated);
    OUT_LIT(o, ",\"downloaded\":");
    out_bool(o, has_payload || vi.downloaded);
    OUT_LIT(o, ",\"payload_available\":");
    out_bool(o, has_payload);
    if (v == cur)
        OUT_LIT(o, ",\"alias\":\"current\"");
    else if (v == cur - 1)
        OUT_LIT(o, ",\"alias\":\"previous\"");
    write_vcm(o, s, &vi);
    write_version_extras(o, c, s, &vi);
    if (has_payload)
        write_payload(o, c, s, v);
    out_char(o, '}');
}

void gen_secret_write(out_t *o, const gen_ctx *c, const gen_secret *s, unsigned k)
{
    int cur = s->nver - 1;
    vinfo cv;
    vinfo_build(c, s, cur, &cv);
    OUT_LIT(o, "{\"id\":\"");
    out_cstr(o, s->id);
    OUT_LIT(o, "\",\"name\":");
    out_jstr(o, s->name);
    OUT_LIT(o, ",\"crn\":\"");
    out_cstr(o, c->crn_prefix);
    OUT_LIT(o, "secret:");
    out_cstr(o, s->id);
    OUT_LIT(o, "\",\"secret_type\":\"");
    out_cstr(o, gen_type_names[s->type]);
    OUT_LIT(o, "\",\"secret_group_id\":\"");
    out_cstr(o, s->group);
    out_char(o, '"');
    write_description(o, s);
    write_labels(o, s);
    write_custom_metadata(o, s);
    key(o, "created_by");
    out_jstr(o, c->principals[s->principal]);
    key_ts(o, "created_at", s->created);
    key_ts(o, "updated_at", s->meta_updated > cv.t ? s->meta_updated : cv.t);
    OUT_LIT(o, ",\"state\":1,\"state_description\":\"active\",\"versions_total\":");
    out_i64(o, s->nver);
    OUT_LIT(o, ",\"locks_total\":");
    out_i64(o, s->locks);
    OUT_LIT(o, ",\"downloaded\":true");
    {
        rng_t r;
        slot_rng(&r, c, TAG_RETRIEVED, s->slot, k);
        int64_t t = gen_snapshot_time(c, k) - rng_range(&r, NS_PER_SEC, 3599 * NS_PER_SEC);
        key_ts(o, "retrieved_at", t - t % INT64_C(1000000));
    }
    write_type_meta(o, c, s, &cv);
    write_vcm(o, s, &cv);
    write_payload(o, c, s, cur);
    OUT_LIT(o, ",\"versions\":[");
    for (int v = 0; v < s->nver; v++) {
        if (v > 0)
            out_char(o, ',');
        write_version(o, c, s, v);
    }
    OUT_LIT(o, "]}");
}

/* ---- groups, instance, configurations ---- */

void gen_write_group(out_t *o, const gen_ctx *c, unsigned g)
{
    char id[37], name[64];
    rng_t r;
    slot_rng(&r, c, TAG_GROUP, g, 1);
    gen_group_id(c, g, id);
    gen_group_name(g, name, sizeof(name));
    int64_t t1 = gen_snapshot_time(c, 1);
    int64_t created = ts_rand_precision(&r, t1 - 500 * NS_PER_DAY + (int64_t)g * 3 * NS_PER_HOUR +
                                                (int64_t)rng_below(&r, (uint64_t)NS_PER_HOUR));
    int64_t updated =
        rng_chance(&r, 1, 2)
            ? created
            : ts_rand_precision(&r, created + rng_range(&r, NS_PER_DAY, 80 * NS_PER_DAY));
    OUT_LIT(o, "{\"id\":\"");
    out_cstr(o, id);
    OUT_LIT(o, "\",\"name\":");
    out_jstr(o, name);
    OUT_LIT(o, ",\"description\":\"Secrets owned by the ");
    out_cstr(o, name);
    OUT_LIT(o, " team\",\"created_at\":");
    out_ts(o, created);
    OUT_LIT(o, ",\"created_by\":");
    out_jstr(o, c->principals[g % GEN_N_PRINCIPALS]);
    OUT_LIT(o, ",\"updated_at\":");
    out_ts(o, updated);
    out_char(o, '}');
}

void gen_write_instance(out_t *o, const gen_ctx *c)
{
    OUT_LIT(o, "{\"crn\":\"crn:v1:bluemix:public:secrets-manager:");
    out_cstr(o, c->region);
    OUT_LIT(o, ":a/");
    out_cstr(o, c->account);
    out_char(o, ':');
    out_cstr(o, c->guid);
    OUT_LIT(o, "::\",\"guid\":\"");
    out_cstr(o, c->guid);
    OUT_LIT(o, "\",\"region\":\"");
    out_cstr(o, c->region);
    OUT_LIT(o, "\",\"name\":\"secrets-manager-");
    out_cstr(o, c->region);
    OUT_LIT(o, "\"}");
}

#define N_CONFIGS 6u

unsigned gen_configurations_count(void)
{
    return N_CONFIGS;
}

void gen_write_configurations_array(out_t *o, const gen_ctx *c)
{
    int64_t t1 = gen_snapshot_time(c, 1);
    int64_t base = t1 - 480 * NS_PER_DAY;
    char id[37];
    out_char(o, '[');
    for (unsigned i = 0; i < N_CONFIGS; i++) {
        int64_t created =
            base + (int64_t)i * 86399 * INT64_C(1000000) * 1000 + (int64_t)i * INT64_C(123456000);
        if (i > 0)
            out_char(o, ',');
        switch (i) {
        case 0:
            OUT_LIT(o, "{\"name\":\"letsencrypt-prod\",\"config_type\":"
                       "\"public_cert_configuration_ca_lets_encrypt\",\"secret_type\":"
                       "\"public_cert\",\"lets_encrypt_environment\":\"production\","
                       "\"lets_encrypt_preferred_chain\":\"ISRG Root X1\"");
            break;
        case 1:
            make_id(c, TAG_INSTANCE, 40, 0, id);
            OUT_LIT(o, "{\"name\":\"cis-dns\",\"config_type\":"
                       "\"public_cert_configuration_dns_cloud_internet_services\",\"secret_type\":"
                       "\"public_cert\",\"cloud_internet_services_crn\":\"crn:v1:bluemix:public:"
                       "internet-svcs:global:a/");
            out_cstr(o, c->account);
            out_char(o, ':');
            out_cstr(o, id);
            OUT_LIT(o, "::\"");
            break;
        case 2:
            OUT_LIT(o, "{\"name\":\"root-ca-internal\",\"config_type\":"
                       "\"private_cert_configuration_root_ca\",\"secret_type\":\"private_cert\","
                       "\"common_name\":\"Example Internal Root CA\",\"max_ttl_seconds\":315360000,"
                       "\"key_type\":\"rsa\",\"key_bits\":4096,\"crl_disable\":false,"
                       "\"status\":\"configured\"");
            break;
        case 3:
            OUT_LIT(o, "{\"name\":\"intermediate-ca-internal\",\"config_type\":"
                       "\"private_cert_configuration_intermediate_ca\",\"secret_type\":"
                       "\"private_cert\",\"common_name\":\"Example Internal Intermediate CA\","
                       "\"issuer\":\"root-ca-internal\",\"signing_method\":\"internal\","
                       "\"max_ttl_seconds\":94608000,\"key_type\":\"rsa\",\"key_bits\":2048,"
                       "\"status\":\"configured\"");
            break;
        case 4:
            OUT_LIT(o,
                    "{\"name\":\"internal-server\",\"config_type\":"
                    "\"private_cert_configuration_template\",\"secret_type\":\"private_cert\","
                    "\"certificate_authority\":\"intermediate-ca-internal\",\"allowed_domains\":"
                    "[\"internal.example.com\",\"internal.example.org\",\"internal.example.net\"],"
                    "\"allow_subdomains\":true,\"max_ttl_seconds\":31536000,\"key_type\":\"rsa\","
                    "\"key_bits\":2048,\"server_flag\":true,\"client_flag\":true");
            break;
        default:
            make_id(c, TAG_INSTANCE, 41, 0, id);
            OUT_LIT(o,
                    "{\"name\":\"custom-config-artifactory\",\"config_type\":"
                    "\"custom_credentials_configuration\",\"secret_type\":\"custom_credentials\","
                    "\"code_engine\":{\"job_name\":\"artifactory-provider\",\"project_id\":\"");
            out_cstr(o, id);
            OUT_LIT(o, "\",\"region\":\"");
            out_cstr(o, c->region);
            OUT_LIT(o, "\"},\"task_timeout\":\"10m\",\"schema\":{\"parameters\":[{\"name\":"
                       "\"token_ttl_days\",\"format\":\"required:true\",\"type\":\"integer\","
                       "\"env_variable_name\":\"SMPARAM_TOKEN_TTL_DAYS\"}],\"credentials\":[{"
                       "\"name\":\"token\",\"format\":\"required:true\",\"type\":\"string\"}]}");
            break;
        }
        OUT_LIT(o, ",\"created_by\":");
        out_jstr(o, c->principals[i % GEN_N_PRINCIPALS]);
        OUT_LIT(o, ",\"created_at\":");
        out_ts(o, created);
        OUT_LIT(o, ",\"updated_at\":");
        out_ts(o, created + (int64_t)(i % 3) * 7 * NS_PER_DAY);
        out_char(o, '}');
    }
    gen_states_write_configurations(o, c);
    out_char(o, ']');
}
