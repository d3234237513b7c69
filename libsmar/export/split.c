/*
 * split.c - splitting export secrets into metadata and payload, and merging them back.
 */
#include "split.h"

#include <stdio.h>
#include <stdlib.h>

#include "chunk.h"
#include "format.h"
#include "manifest.h"

typedef struct type_fields {
    const char *type;
    const char *fields[5];
} type_fields;

/* The payload fields of each secret type of the Secrets Manager API v2. */
static const type_fields payload_fields[] = {
    {"arbitrary", {"payload"}},
    {"username_password", {"username", "password"}},
    {"kv", {"data"}},
    {"iam_credentials", {"api_key"}},
    {"service_credentials", {"credentials"}},
    {"custom_credentials", {"credentials_content"}},
    {"imported_cert", {"certificate", "intermediate", "private_key", "csr"}},
    {"public_cert", {"certificate", "intermediate", "private_key"}},
    {"private_cert", {"certificate", "private_key", "issuing_ca", "ca_chain"}},
};

/* For unknown types: what is known to be metadata; everything else counts as payload. */
static const char *const known_secret_meta[] = {"id",
                                                "name",
                                                "crn",
                                                "secret_type",
                                                "secret_group_id",
                                                "description",
                                                "labels",
                                                "custom_metadata",
                                                "created_by",
                                                "created_at",
                                                "updated_at",
                                                "state",
                                                "state_description",
                                                "versions_total",
                                                "locks_total",
                                                "downloaded",
                                                "retrieved_at",
                                                "referenced_by",
                                                "expiration_date",
                                                "versions",
                                                NULL};
static const char *const known_version_meta[] = {"id",
                                                 "secret_id",
                                                 "secret_name",
                                                 "secret_type",
                                                 "secret_group_id",
                                                 "created_at",
                                                 "created_by",
                                                 "auto_rotated",
                                                 "downloaded",
                                                 "payload_available",
                                                 "alias",
                                                 "version_custom_metadata",
                                                 "expiration_date",
                                                 NULL};

static bool key_in(smar_span key, const char *const *names, size_t max)
{
    for (size_t i = 0; i < max && names[i]; i++)
        if (smar_json_string_eq(key, names[i]))
            return true;
    return false;
}

/* The payload fields of a type, or NULL for a type this version does not know. */
static const type_fields *payload_fields_of(const char *type)
{
    for (size_t i = 0; i < SMAR_ARRAY_LEN(payload_fields); i++)
        if (strcmp(type, payload_fields[i].type) == 0)
            return &payload_fields[i];
    return NULL;
}

static bool is_payload_key(const type_fields *known_type, smar_span key, bool is_version)
{
    if (known_type != NULL)
        return key_in(key, known_type->fields, SMAR_ARRAY_LEN(known_type->fields));
    const char *const *known = is_version ? known_version_meta : known_secret_meta;
    return !key_in(key, known, SIZE_MAX);
}

bool smar_is_payload_field(const char *type, smar_span key, bool is_version)
{
    return is_payload_key(payload_fields_of(type), key, is_version);
}

/* ---- building member lists ---------------------------------------------------------- */

/* One reservation and two copies per member: with some 30 members a secret and 13 a
 * version, appending the four pieces one by one cost more than copying them. */
static int add_member(smar_buf *obj, smar_span key, smar_span value)
{
    if (key.n > SIZE_MAX / 2 - 2 || value.n > SIZE_MAX / 2)
        return SMAR_E_NOMEM;
    size_t need = 1 + key.n + 1 + value.n;
    if (smar_buf_reserve(obj, need))
        return SMAR_E_NOMEM;
    uint8_t *p = obj->data + obj->len;
    *p++ = obj->len ? ',' : '{';
    memcpy(p, key.p, key.n);
    p += key.n;
    *p++ = ':';
    memcpy(p, value.p, value.n);
    obj->len += need;
    return SMAR_OK;
}

static int close_object(smar_buf *obj, bool keep_empty)
{
    if (obj->len)
        return smar_buf_append(obj, "}", 1);
    return keep_empty ? smar_buf_append(obj, "{}", 2) : SMAR_OK;
}

/* ---- field checks ------------------------------------------------------------------- */

/* Whose field is checked, for messages: put into words only when a check fails, as
 * formatting it for every secret and version cost more than most checks. */
typedef struct subject {
    const char *secret_id;  /* NULL: the secret's id is not known yet */
    size_t version_number;  /* 0: the secret itself; else its version #n in the export */
    const char *version_id; /* NULL: the version's id is not known yet */
} subject;

/* The words for who, as the messages have always said them. */
static const char *subject_text(const subject *who, char *buf, size_t cap)
{
    if (who->secret_id == NULL)
        return "secret";
    if (who->version_number == 0)
        snprintf(buf, cap < SMAR_MAX_ID_BYTES + 16 ? cap : SMAR_MAX_ID_BYTES + 16, "secret %s",
                 who->secret_id);
    else if (who->version_id == NULL)
        snprintf(buf, cap, "secret %s: version #%zu", who->secret_id, who->version_number);
    else
        snprintf(buf, cap, "secret %s: version %s", who->secret_id, who->version_id);
    return buf;
}

#define SUBJECT_TEXT_BYTES (SMAR_MAX_ID_BYTES + 64)

static int get_string(char **out, const smar_json_fields *obj, const char *field, bool required,
                      const subject *who, smar_err *e)
{
    char what[SUBJECT_TEXT_BYTES];
    smar_span v;
    *out = NULL;
    if (!smar_json_fields_get(obj, field, &v)) {
        if (required)
            return smar_fail(e, SMAR_E_INPUT, "%s has no \"%s\"",
                             subject_text(who, what, sizeof what), field);
        *out = strdup("");
        return *out ? SMAR_OK : SMAR_E_NOMEM;
    }
    if (smar_json_kind_of(v) != SMAR_JSON_STRING)
        return smar_fail(e, SMAR_E_INPUT, "%s: \"%s\" is not a string",
                         subject_text(who, what, sizeof what), field);
    if (!(*out = smar_json_string_dup(v)))
        return smar_fail(e, SMAR_E_INPUT, "%s: \"%s\" contains a NUL character",
                         subject_text(who, what, sizeof what), field);
    if (strlen(*out) > SMAR_MAX_STRING)
        return smar_fail(e, SMAR_E_LIMIT, "%s: \"%s\" is over %u bytes",
                         subject_text(who, what, sizeof what), field, SMAR_MAX_STRING);
    return SMAR_OK;
}

/* Timestamps the export marks as RFC 3339: absent is fine, anything else must parse. */
static int get_time(int64_t *out, const smar_json_fields *obj, const char *field, bool required,
                    const subject *who, smar_err *e)
{
    char what[SUBJECT_TEXT_BYTES];
    smar_span v;
    char text[64];
    size_t len;
    *out = SMAR_TIME_NONE;
    if (!smar_json_fields_get(obj, field, &v))
        return required ? smar_fail(e, SMAR_E_INPUT, "%s has no \"%s\"",
                                    subject_text(who, what, sizeof what), field)
                        : SMAR_OK;
    if (smar_json_kind_of(v) != SMAR_JSON_STRING ||
        !smar_json_string_decode(v, text, sizeof text, &len) ||
        smar_time_parse(text, len, 0, out) != SMAR_OK)
        return smar_fail(e, SMAR_E_INPUT, "%s: \"%s\" is not an RFC 3339 timestamp",
                         subject_text(who, what, sizeof what), field);
    return SMAR_OK;
}

static int check_other_times(const smar_json_fields *obj, const subject *who, smar_err *e)
{
    static const char *const fields[] = {"expiration_date", "next_rotation_date"};
    int64_t t;
    for (size_t i = 0; i < SMAR_ARRAY_LEN(fields); i++) {
        int rc = get_time(&t, obj, fields[i], false, who, e);
        if (rc)
            return rc;
    }
    return SMAR_OK;
}

/* ---- secrets and versions ----------------------------------------------------------- */

static void version_reset(smar_split_version *v)
{
    smar_wipe_free_str(v->id);
    v->id = NULL;
    smar_buf_reset(&v->meta);
    smar_buf_reset(&v->payload);
    smar_buf_reset(&v->stored);
    v->encoded = false;
}

static int split_members(const smar_json_fields *obj, const char *type, bool is_version,
                         smar_buf *meta, smar_buf *payload, smar_span *versions)
{
    smar_json_fields_iter it;
    smar_span key, value;
    int rc = SMAR_OK;
    const type_fields *known_type = payload_fields_of(type); /* once, not once a member */
    smar_json_fields_iter_init(&it, obj);
    while (rc == SMAR_OK && smar_json_fields_next(&it, &key, &value)) {
        if (!is_version && versions && smar_json_string_eq(key, "versions"))
            *versions = value;
        else if (is_payload_key(known_type, key, is_version))
            rc = add_member(payload, key, value);
        else
            rc = add_member(meta, key, value);
    }
    if (!rc)
        rc = close_object(meta, true);
    return rc ? rc : close_object(payload, false);
}

/* fields: the version's members, found while walking the versions array */
static int split_version(smar_split *s, smar_split_version *v, const smar_json_fields *fields,
                         size_t index, smar_err *e)
{
    char what[SUBJECT_TEXT_BYTES];
    subject who = {s->id, index + 1, NULL};
    char *secret_id = NULL;
    int rc;
    if (smar_json_kind_of(fields->object) != SMAR_JSON_OBJECT)
        return smar_fail(e, SMAR_E_INPUT, "%s is not an object",
                         subject_text(&who, what, sizeof what));
    if ((rc = get_string(&v->id, fields, "id", true, &who, e)))
        return rc;
    if (!smar_id_is_valid(v->id, strlen(v->id)))
        return smar_fail(e, SMAR_E_INPUT, "%s: \"id\" is empty, too long or not printable",
                         subject_text(&who, what, sizeof what));
    who.version_id = v->id;
    if ((rc = get_time(&v->created, fields, "created_at", true, &who, e)) ||
        (rc = check_other_times(fields, &who, e)))
        return rc;
    if (smar_json_fields_get(fields, "secret_id", NULL)) {
        if ((rc = get_string(&secret_id, fields, "secret_id", true, &who, e)))
            return rc;
        bool same = strcmp(secret_id, s->id) == 0;
        free(secret_id);
        if (!same)
            return smar_fail(e, SMAR_E_INPUT, "%s: \"secret_id\" names another secret",
                             subject_text(&who, what, sizeof what));
    }
    v->meta.secure = true; /* the manifest record's metadata */
    v->payload.secure = true;
    v->stored.secure = true; /* a compressed payload is still the secret */
    if (split_members(fields, s->type, true, &v->meta, &v->payload, NULL))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    return SMAR_OK;
}

static int grow_versions(smar_split *s, size_t n)
{
    if (n <= s->cap_versions)
        return SMAR_OK;
    smar_split_version *nv = realloc(s->versions, n * sizeof *nv);
    if (!nv)
        return SMAR_E_NOMEM;
    memset(nv + s->cap_versions, 0, (n - s->cap_versions) * sizeof *nv);
    s->versions = nv;
    s->cap_versions = n;
    return SMAR_OK;
}

static int cmp_version_created(const void *a, const void *b)
{
    const smar_split_version *x = a, *y = b;
    return (x->created > y->created) - (x->created < y->created);
}

static int check_unique_version_ids(const smar_split *s, smar_err *e)
{
    /* versions are few (the service keeps at most 50): a quadratic check is fine */
    for (size_t i = 0; i < s->nversions; i++)
        for (size_t j = i + 1; j < s->nversions; j++)
            if (strcmp(s->versions[i].id, s->versions[j].id) == 0)
                return smar_fail(e, SMAR_E_INPUT, "secret %s: version %s appears twice", s->id,
                                 s->versions[i].id);
    return SMAR_OK;
}

static int split_versions(smar_split *s, smar_span arr, smar_err *e)
{
    smar_json_iter it;
    smar_span v;
    smar_json_fields fields;
    size_t n = 0;
    int rc;
    if (smar_json_kind_of(arr) != SMAR_JSON_ARRAY)
        return smar_fail(e, SMAR_E_INPUT, "secret %s: \"versions\" is not an array", s->id);
    smar_json_iter_init(&it, arr);
    while (smar_json_next_element_fields(&it, &v, &fields)) {
        if (n == SMAR_MAX_VERSIONS)
            return smar_fail(e, SMAR_E_LIMIT, "secret %s has over %u versions", s->id,
                             SMAR_MAX_VERSIONS);
        if (grow_versions(s, n + 1))
            return smar_fail(e, SMAR_E_NOMEM, "out of memory");
        s->nversions = n + 1;
        if ((rc = split_version(s, &s->versions[n], &fields, n, e)))
            return rc;
        n++;
    }
    /* qsort is not stable: break ties in input order by a stable insertion sort instead */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_version_created(&s->versions[j - 1], &s->versions[j]) > 0;
             j--) {
            smar_split_version t = s->versions[j];
            s->versions[j] = s->versions[j - 1];
            s->versions[j - 1] = t;
        }
    return check_unique_version_ids(s, e);
}

static int get_labels(smar_split *s, const smar_json_fields *obj, smar_err *e)
{
    smar_span arr, v;
    smar_json_iter it;
    if (!smar_json_fields_get(obj, "labels", &arr))
        return SMAR_OK;
    if (smar_json_kind_of(arr) != SMAR_JSON_ARRAY)
        return smar_fail(e, SMAR_E_INPUT, "secret %s: \"labels\" is not an array", s->id);
    smar_json_iter_init(&it, arr);
    while (smar_json_next_element(&it, &v)) {
        if (s->nlabels == SMAR_MAX_LABELS)
            return smar_fail(e, SMAR_E_LIMIT, "secret %s has over %u labels", s->id,
                             SMAR_MAX_LABELS);
        if (smar_json_kind_of(v) != SMAR_JSON_STRING)
            return smar_fail(e, SMAR_E_INPUT, "secret %s: a label is not a string", s->id);
        char **nl = realloc(s->labels, (s->nlabels + 1) * sizeof *nl);
        if (!nl)
            return smar_fail(e, SMAR_E_NOMEM, "out of memory");
        s->labels = nl;
        if (!(s->labels[s->nlabels] = smar_json_string_dup(v)))
            return smar_fail(e, SMAR_E_INPUT, "secret %s: a label contains a NUL", s->id);
        s->nlabels++;
    }
    return SMAR_OK;
}

static void split_reset(smar_split *s)
{
    smar_wipe_free_str(s->id);
    smar_wipe_free_str(s->type);
    smar_wipe_free_str(s->name);
    smar_wipe_free_str(s->group);
    s->id = s->type = s->name = s->group = NULL;
    for (size_t i = 0; i < s->nlabels; i++)
        smar_wipe_free_str(s->labels[i]);
    free(s->labels);
    s->labels = NULL;
    s->nlabels = 0;
    s->meta.secure = true; /* the manifest record's metadata */
    smar_buf_reset(&s->meta);
    s->payload.secure = true;
    smar_buf_reset(&s->payload);
    /* slots past nversions were reset when last used: wiping them again for every secret
     * cost more than parsing it */
    for (size_t i = 0; i < s->nversions; i++)
        version_reset(&s->versions[i]);
    s->nversions = 0;
}

void smar_split_free(smar_split *s)
{
    split_reset(s);
    for (size_t i = 0; i < s->cap_versions; i++) {
        smar_buf_free(&s->versions[i].meta);
        smar_buf_free(&s->versions[i].payload);
        smar_buf_free(&s->versions[i].stored);
    }
    free(s->versions);
    smar_buf_free(&s->meta);
    smar_buf_free(&s->payload);
    memset(s, 0, sizeof *s);
}

static int split_identity(smar_split *s, const smar_json_fields *obj, smar_err *e)
{
    int rc;
    subject who = {NULL, 0, NULL};
    if ((rc = get_string(&s->id, obj, "id", true, &who, e)))
        return rc;
    if (!smar_id_is_valid(s->id, strlen(s->id)))
        return smar_fail(e, SMAR_E_INPUT, "secret with an empty, too long or unprintable id");
    char what[SUBJECT_TEXT_BYTES];
    who.secret_id = s->id;
    if ((rc = get_string(&s->type, obj, "secret_type", true, &who, e)))
        return rc;
    if (s->type[0] == '\0' || strlen(s->type) > 64)
        return smar_fail(e, SMAR_E_INPUT, "%s: \"secret_type\" is empty or too long",
                         subject_text(&who, what, sizeof what));
    if ((rc = get_string(&s->name, obj, "name", false, &who, e)) ||
        (rc = get_string(&s->group, obj, "secret_group_id", false, &who, e)) ||
        (rc = get_time(&s->created, obj, "created_at", false, &who, e)) ||
        (rc = get_time(&s->updated, obj, "updated_at", false, &who, e)) ||
        (rc = check_other_times(obj, &who, e)))
        return rc;
    return get_labels(s, obj, e);
}

void smar_split_hash_payloads(smar_split *s, const uint8_t key[SMAR_KEY_BYTES])
{
    s->payload_in_base = false;
    for (size_t i = 0; i < s->nversions; i++)
        s->versions[i].in_base = false;
    for (size_t i = 0; i < s->nversions; i++)
        if (s->versions[i].payload.len > 0)
            smar_hash(s->versions[i].payload_hash, key, s->versions[i].payload.data,
                      s->versions[i].payload.len);
    if (s->payload.len > 0)
        smar_hash(s->payload_hash, key, s->payload.data, s->payload.len);
}

int smar_split_encode_payloads(smar_split *s, struct ZSTD_CCtx_s *cctx, int level, smar_err *e)
{
    for (size_t i = 0; i < s->nversions; i++) {
        smar_split_version *v = &s->versions[i];
        /* an empty payload has no record; an oversized one is refused by the writer; one
         * the base holds is referred to, not stored */
        if (v->payload.len == 0 || v->payload.len > SMAR_MAX_PAYLOAD_BYTES || v->in_base)
            continue;
        int rc = smar_payload_encode_with(cctx, level, v->payload.data, v->payload.len, &v->stored,
                                          &v->coding, e);
        if (rc != SMAR_OK)
            return rc;
        v->encoded = true;
    }
    return SMAR_OK;
}

int smar_split_secret(smar_split *s, const char *json, size_t len, smar_err *e)
{
    smar_span obj, versions = {NULL, 0};
    smar_json_fields fields;
    char why[128];
    int rc;
    split_reset(s);
    /* one walk validates the secret and finds its members */
    if (!smar_json_validate_fields((smar_span){json, len}, SMAR_JSON_MAX_DEPTH, &obj, &fields, why,
                                   sizeof why))
        return smar_fail(e, SMAR_E_INPUT, "secret is not valid JSON (invalid JSON: %s of its text)",
                         why);
    if (smar_json_kind_of(obj) != SMAR_JSON_OBJECT)
        return smar_fail(e, SMAR_E_INPUT, "secret is not a JSON object");
    if ((rc = split_identity(s, &fields, e)))
        return rc;
    if (split_members(&fields, s->type, false, &s->meta, &s->payload, &versions))
        return smar_fail(e, SMAR_E_NOMEM, "out of memory");
    s->had_versions = versions.p != NULL;
    if (versions.p && (rc = split_versions(s, versions, e)))
        return rc;
    return SMAR_OK;
}
