/* response.c - building HTTP responses (bodies, JSON errors, extra headers). */
#include "http/http.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_response_take(struct http_response *resp, int status, const char *content_type,
                        char *body, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
}

void http_response_set(struct http_response *resp, int status, const char *content_type,
                       const char *body, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        ob_die(70, "out of memory");
    if (len > 0)
        memcpy(copy, body, len);
    copy[len] = '\0';
    http_response_take(resp, status, content_type, copy, len);
}

void http_response_error(struct http_response *resp, int status, const char *fmt, ...)
{
    char message[1024];
    json_t *obj;
    char *text;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    ob_utf8_sanitize(message);
    obj = json_pack("{s:s}", "error", message);
    /* json_pack fails only on invalid UTF-8 in message; fall back to a fixed text. */
    text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text == NULL) {
        static const char fallback[] = "{\"error\":\"request rejected\"}";
        http_response_set(resp, status, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    http_response_take(resp, status, "application/json", text, strlen(text));
}

void http_response_from_error(struct http_response *resp, const struct ob_error *err)
{
    int code = err->code != 0 ? err->code : OB_EINTERNAL;
    const char *msg = err->msg[0] != '\0' ? err->msg : ob_strerror(code);

    http_response_error(resp, ob_code_http_status(code), "%s", msg);
}

void http_response_add_header(struct http_response *resp, const char *name, const char *value)
{
    if (resp->header_count >= HTTP_MAX_EXTRA_HEADERS)
        OB_BUG("too many response headers");
    resp->header_names[resp->header_count] = strdup(name);
    resp->header_values[resp->header_count] = strdup(value);
    if (resp->header_names[resp->header_count] == NULL ||
        resp->header_values[resp->header_count] == NULL)
        ob_die(70, "out of memory");
    resp->header_count++;
}

void http_response_release(struct http_response *resp)
{
    free(resp->body);
    for (size_t i = 0; i < resp->header_count; i++) {
        free(resp->header_names[i]);
        free(resp->header_values[i]);
    }
    memset(resp, 0, sizeof(*resp));
}
