/*
 * request.c - strict parsing of JSON request bodies: content type, size
 * (capped by the server), one object, no duplicate keys, bounded nesting,
 * no unknown keys, typed members with limits.
 */
#include "api/api.h"

#include "util/error.h"

#include <string.h>
#include <strings.h>

int api_content_type_is_json(const char *content_type)
{
    size_t len;

    if (content_type == NULL)
        return 0;
    len = strcspn(content_type, ";");
    while (len > 0 && content_type[len - 1] == ' ')
        len--;
    if (len != strlen("application/json") ||
        strncasecmp(content_type, "application/json", len) != 0)
        return 0;
    if (content_type[len] == '\0')
        return 1;
    /* Only a UTF-8 charset parameter is acceptable: JSON is UTF-8 (RFC 8259). */
    content_type += len;
    while (*content_type == ';' || *content_type == ' ')
        content_type++;
    return *content_type == '\0' || strcasecmp(content_type, "charset=utf-8") == 0 ||
           strcasecmp(content_type, "charset=\"utf-8\"") == 0;
}

/* Nesting depth of containers: 0 for a scalar, 1 for a flat object or array.
 * Stops counting past limit. */
static int json_depth(json_t *value, int limit)
{
    int deepest = 0;

    if (!json_is_object(value) && !json_is_array(value))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach(value, key, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *member;
        json_array_foreach(value, i, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    }
    return deepest + 1;
}

int api_parse_json_object(const char *content_type, const char *body, size_t len, json_t **out,
                          struct ob_error *err)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    if (!api_content_type_is_json(content_type))
        return ob_fail(err, OB_EUNSUPPORTED, "Content-Type must be application/json, not %s",
                       content_type != NULL ? content_type : "(none)");
    if (len == 0)
        return ob_fail(err, OB_EINVAL, "request body is empty; a JSON object is expected");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ob_fail(err, OB_EINVAL, "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return ob_fail(err, OB_EINVAL, "request body must be a JSON object");
    }
    if (json_depth(root, API_JSON_MAX_DEPTH + 1) > API_JSON_MAX_DEPTH) {
        json_decref(root);
        return ob_fail(err, OB_EINVAL, "JSON nested deeper than %d levels", API_JSON_MAX_DEPTH);
    }
    *out = root;
    return 0;
}

int api_json_only_keys(json_t *obj, const char *const *allowed, struct ob_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        int known = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            if (strcmp(*a, key) == 0) {
                known = 1;
                break;
            }
        }
        if (!known)
            return ob_fail(err, OB_EINVAL, "unknown field '%.64s'", key);
    }
    return 0;
}

int api_json_string(json_t *obj, const char *key, bool required, size_t max_len, const char **out,
                    struct ob_error *err)
{
    json_t *value = json_object_get(obj, key);

    *out = NULL;
    if (value == NULL || json_is_null(value)) {
        if (required)
            return ob_fail(err, OB_EINVAL, "field '%s' is required", key);
        return 0;
    }
    if (!json_is_string(value))
        return ob_fail(err, OB_EINVAL, "field '%s' must be a string", key);
    if (json_string_length(value) > max_len)
        return ob_fail(err, OB_EINVAL, "field '%s' is longer than %zu bytes", key, max_len);
    if (strlen(json_string_value(value)) != json_string_length(value))
        return ob_fail(err, OB_EINVAL, "field '%s' contains a NUL character", key);
    *out = json_string_value(value);
    return 0;
}

int api_json_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                 int64_t *out, struct ob_error *err)
{
    json_t *value = json_object_get(obj, key);
    json_int_t n;

    if (value == NULL || json_is_null(value)) {
        if (required)
            return ob_fail(err, OB_EINVAL, "field '%s' is required", key);
        return 0;
    }
    if (!json_is_integer(value))
        return ob_fail(err, OB_EINVAL, "field '%s' must be an integer", key);
    n = json_integer_value(value);
    if (n < min || n > max)
        return ob_fail(err, OB_EINVAL, "field '%s' must be between %lld and %lld", key,
                       (long long)min, (long long)max);
    *out = (int64_t)n;
    return 0;
}

int api_parse_token_create(const char *content_type, const char *body, size_t len,
                           struct token_create_input *out, struct ob_error *err)
{
    static const char *const allowed[] = {"name", "scope", "team", "expires_in_seconds",
                                          "user", "agent", NULL};
    const char *scope = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = api_parse_json_object(content_type, body, len, &out->root, err);
    if (rc != 0)
        return rc;
    rc = api_json_only_keys(out->root, allowed, err);
    if (rc == 0)
        rc = api_json_string(out->root, "name", true, TOKEN_NAME_MAX, &out->name, err);
    if (rc == 0 && !token_name_is_valid(out->name))
        rc = ob_fail(err, OB_EINVAL,
                     "field 'name' must be 1 to 64 characters of letters, digits, space and "
                     "._:@-");
    if (rc == 0)
        rc = api_json_string(out->root, "user", false, 63, &out->user, err);
    if (rc == 0)
        rc = api_json_string(out->root, "agent", false, 253, &out->agent, err);
    if (rc == 0 && out->agent != NULL && out->user != NULL)
        rc = ob_fail(err, OB_EINVAL, "a token is for a user or for an agent, not both");
    /* An agent's token reads its host's state: scope read, implied. */
    if (rc == 0)
        rc = api_json_string(out->root, "scope", out->agent == NULL, 16, &scope, err);
    if (rc == 0 && scope == NULL)
        scope = "read";
    if (rc == 0 && token_scope_parse(scope, &out->scope) != 0)
        rc = ob_fail(err, OB_EINVAL, "field 'scope' must be read, write or admin");
    if (rc == 0 && out->agent != NULL && out->scope != SCOPE_READ)
        rc = ob_fail(err, OB_EINVAL, "an agent's token has scope read");
    if (rc == 0)
        rc = api_json_string(out->root, "team", false, 64, &out->team, err);
    if (rc == 0)
        rc = api_json_int(out->root, "expires_in_seconds", false, 60, (int64_t)10 * 366 * 24 * 3600,
                          &out->expires_in_s, err);
    if (rc != 0)
        token_create_input_release(out);
    return rc;
}

void token_create_input_release(struct token_create_input *in)
{
    json_decref(in->root);
    memset(in, 0, sizeof(*in));
}
