/*
 * entries.c - a JSON list of access entries (the `opsbell enforce ... apply`
 * file, and later the agent's cache).
 */
#include "enforce/enforce.h"

#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int entry_from_json(json_t *obj, size_t i, struct access_entry *e, struct ob_error *err)
{
    json_t *id = json_object_get(obj, "id"), *cidr = json_object_get(obj, "cidr");
    json_t *exp = json_object_get(obj, "expires_at"), *desc = json_object_get(obj, "description");
    struct ob_error sub;
    int rc;

    if (!json_is_object(obj))
        return ob_fail(err, OB_EINVAL, "entry %zu: not an object", i);
    if (!json_is_string(id) || !json_is_string(cidr))
        return ob_fail(err, OB_EINVAL, "entry %zu: \"id\" and \"cidr\" must be strings", i);
    if (!json_is_integer(exp) || json_integer_value(exp) <= 0)
        return ob_fail(err, OB_EINVAL,
                       "entry %zu: \"expires_at\" must be epoch milliseconds (an integer)", i);
    if (desc != NULL && !json_is_string(desc))
        return ob_fail(err, OB_EINVAL, "entry %zu: \"description\" must be a string", i);
    memset(e, 0, sizeof(*e));
    ob_error_clear(&sub);
    if (strlen(json_string_value(id)) != json_string_length(id) ||
        access_entry_check_id(json_string_value(id), &sub) != 0)
        return ob_fail(err, OB_EINVAL, "entry %zu: %s", i, sub.msg[0] != '\0' ? sub.msg : "bad id");
    snprintf(e->id, sizeof(e->id), "%s", json_string_value(id));
    rc = cidr_normalise(json_string_value(cidr), e->cidr, sizeof(e->cidr), &sub);
    if (rc != 0 || strlen(json_string_value(cidr)) != json_string_length(cidr))
        return ob_fail(err, OB_EINVAL, "entry %zu: %s", i,
                       sub.msg[0] != '\0' ? sub.msg : "bad cidr");
    e->expires_at_ms = json_integer_value(exp);
    if (desc != NULL) {
        snprintf(e->description, sizeof(e->description), "%s", json_string_value(desc));
        ob_utf8_sanitize(e->description);
    }
    return 0;
}

int access_entries_from_json(const char *text, size_t len, size_t max, struct access_entry **out,
                             size_t *n, struct ob_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    struct access_entry *arr = NULL;
    size_t count;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (root == NULL)
        return ob_fail(err, OB_EINVAL, "not JSON: %s (line %d)", jerr.text, jerr.line);
    if (!json_is_array(root)) {
        rc = ob_fail(err, OB_EINVAL, "expected a JSON list of entries");
        goto out;
    }
    count = json_array_size(root);
    if (count > max) {
        rc = ob_fail(err, OB_ETOOLARGE, "%zu entries, at most %zu", count, max);
        goto out;
    }
    if (count > 0) {
        arr = calloc(count, sizeof(*arr));
        if (arr == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        rc = entry_from_json(json_array_get(root, i), i, &arr[i], err);
        if (rc != 0)
            goto out;
    }
    *out = arr;
    *n = count;
    arr = NULL;
out:
    free(arr);
    json_decref(root);
    return rc;
}
