/*
 * router.c - matches "METHOD /path" against a table of route patterns.
 *
 * Patterns are literal segments and "{name}" segments, which capture exactly
 * one non-empty path segment. Routes are tried in table order; a table is
 * small (tens of routes), so a linear scan is both simple and fast enough.
 */
#include "http/http.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct router {
    const struct route *routes;
    size_t count;
};

struct router *router_new(const struct route *routes, size_t count)
{
    struct router *router = calloc(1, sizeof(*router));

    if (router == NULL)
        return NULL;
    router->routes = routes;
    router->count = count;
    return router;
}

void router_free(struct router *router)
{
    free(router);
}

void http_request_release_params(struct http_request *req)
{
    for (size_t i = 0; i < req->param_count; i++) {
        free(req->param_values[i]);
        req->param_values[i] = NULL;
        req->param_names[i] = NULL;
    }
    req->param_count = 0;
}

/* Length of the segment starting at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
    const char *slash = strchr(s, '/');

    return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

/*
 * Does path match pattern? When req is not NULL, captured parameters are
 * stored in it (and released again if the match fails half-way).
 */
static int pattern_match(const char *pattern, const char *path, struct http_request *req)
{
    const char *p = pattern;
    const char *s = path;

    while (*p != '\0' && *s != '\0') {
        size_t plen, slen;
        if (*p == '/' || *s == '/') {
            if (*p != *s)
                goto fail;
            p++;
            s++;
            continue;
        }
        plen = segment_len(p);
        slen = segment_len(s);
        if (p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0)
                goto fail;
            if (req != NULL) {
                size_t i = req->param_count;
                if (i >= HTTP_MAX_PATH_PARAMS)
                    OB_BUG("route %s has too many parameters", pattern);
                /* The name is borrowed from the pattern: "{team}" -> "team}" trimmed below. */
                req->param_values[i] = strndup(s, slen);
                if (req->param_values[i] == NULL)
                    ob_die(70, "out of memory");
                req->param_names[i] = p + 1;
                req->param_count++;
            }
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            goto fail;
        }
        p += plen;
        s += slen;
    }
    if (*p == '\0' && *s == '\0')
        return 1;
fail:
    if (req != NULL)
        http_request_release_params(req);
    return 0;
}

enum router_match router_match(const struct router *router, const char *method, const char *path,
                               struct http_request *req, const struct route **route, char *allow,
                               size_t cap)
{
    int path_seen = 0;
    size_t used = 0;

    *route = NULL;
    if (cap > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < router->count; i++) {
        const struct route *r = &router->routes[i];
        if (!pattern_match(r->pattern, path, NULL))
            continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            pattern_match(r->pattern, path, req);
            *route = r;
            return ROUTER_FOUND;
        }
        path_seen = 1;
        if (cap > 0 && used + strlen(r->method) + (used > 0 ? 2 : 0) < cap) {
            if (used > 0) {
                memcpy(allow + used, ", ", 2);
                used += 2;
            }
            memcpy(allow + used, r->method, strlen(r->method));
            used += strlen(r->method);
            allow[used] = '\0';
        }
    }
    return path_seen ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < req->param_count; i++) {
        /* param_names[i] points into the pattern just after '{'. */
        if (strncmp(req->param_names[i], name, len) == 0 && req->param_names[i][len] == '}')
            return req->param_values[i];
    }
    return NULL;
}

size_t router_route_index(const struct router *router, const struct route *route)
{
    if (route == NULL)
        return router->count;
    return (size_t)(route - router->routes);
}

size_t router_route_count(const struct router *router)
{
    return router->count;
}

const struct route *router_route_at(const struct router *router, size_t index)
{
    return index < router->count ? &router->routes[index] : NULL;
}
