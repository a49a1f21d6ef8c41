/*
 * http.h - the HTTP server (libmicrohttpd), its request/response types and
 * the router.
 *
 * The server owns its listening socket and a pool of libmicrohttpd threads;
 * handlers run on those threads, one request at a time per thread, and must
 * not wait on the outside world (the database is ours and allowed).
 *
 * A request body is read completely (up to the server's cap) before the
 * handler is called; a larger body is answered 413 without calling any
 * handler.  Every response carries X-Request-Id.  Every request is counted
 * in the metrics (by route pattern, method, code) and written to the access
 * log.
 */
#ifndef OPSBELL_HTTP_HTTP_H
#define OPSBELL_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ob_error;
struct MHD_Connection;
struct route;
struct metrics;

#define HTTP_MAX_PATH_PARAMS 4
#define HTTP_REQUEST_ID_MAX  65

/* ---- request ----------------------------------------------------------------- */

struct http_request {
    const char *method;        /* borrowed from the server */
    const char *path;          /* URL path, without the query string; decoded by MHD */
    const struct route *route; /* the matched route, NULL when none */
    const char *body;          /* NUL-terminated; "" when there is none */
    size_t body_len;
    char request_id[HTTP_REQUEST_ID_MAX];
    char remote_addr[64];
    const char *param_names[HTTP_MAX_PATH_PARAMS];
    char *param_values[HTTP_MAX_PATH_PARAMS]; /* owned by the server */
    size_t param_count;
    void *auth;                  /* set by the dispatcher (struct auth_principal *), borrowed */
    struct MHD_Connection *conn; /* NULL in unit tests */
};

/* A request header (case-insensitive name), or NULL. Borrowed for the request. */
const char *http_request_header(const struct http_request *req, const char *name);
/* A decoded query argument, or NULL. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Every value of a repeated query argument (?filter=a&filter=b), at most max,
 * in order; returns how many. Values borrow from the request. */
size_t http_request_query_values(const struct http_request *req, const char *name, const char **out,
                                 size_t max);
/* A path parameter captured by "{name}" in the route, or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);

/* ---- response ---------------------------------------------------------------- */

#define HTTP_MAX_EXTRA_HEADERS 8

struct http_response {
    int status; /* 0 until set */
    char *body; /* owned (malloc) */
    size_t body_len;
    const char *content_type;                   /* static string */
    char *header_names[HTTP_MAX_EXTRA_HEADERS]; /* owned */
    char *header_values[HTTP_MAX_EXTRA_HEADERS];
    size_t header_count;
};

/* Set the body (copied). Replaces any earlier body. */
void http_response_set(struct http_response *resp, int status, const char *content_type,
                       const char *body, size_t len);
/* Take ownership of a malloc'd body. */
void http_response_take(struct http_response *resp, int status, const char *content_type,
                        char *body, size_t len);
/* {"error": "<message>"} with the given status. */
void http_response_error(struct http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The status that reports err->code, and err->msg as the error text. */
void http_response_from_error(struct http_response *resp, const struct ob_error *err);
void http_response_add_header(struct http_response *resp, const char *name, const char *value);
/* Free what resp owns and zero it. */
void http_response_release(struct http_response *resp);

/* ---- answering later ----------------------------------------------------------- */

/* Produces the response of a suspended request (on an HTTP thread). */
typedef void (*http_continuation_fn)(void *app, struct http_request *req,
                                     struct http_response *resp, void *data);

/*
 * Called by a handler that answers later, instead of setting resp: the
 * connection is suspended (no thread waits), and once someone calls
 * http_request_resume(req) - from any thread, exactly once - cont(app, req,
 * resp, data) runs on an HTTP thread to produce the response. req and its
 * body and parameters stay valid until then; req->auth does not.
 */
void http_request_suspend(struct http_request *req, http_continuation_fn cont, void *data);
void http_request_resume(struct http_request *req);

/* ---- router ------------------------------------------------------------------ */

struct http_request;
typedef void (*http_handler_fn)(void *app, struct http_request *req, struct http_response *resp);

/*
 * One route: method + pattern ("/api/v1/teams/{team}"), a handler and data
 * the dispatcher interprets (the API layer keeps the required scope there).
 * Route tables are `const` arrays owned by their subsystem.
 */
struct route {
    const char *method;
    const char *pattern;
    http_handler_fn handler;
    int required_scope;     /* 0 = no authentication; else enum token_scope */
    const char *team_param; /* name of the path parameter that names a team, or NULL */
    int global_only;        /* 1 = refused to team-limited tokens */
};

struct router;

/* Create a router over `count` routes (the array is borrowed; it must outlive
 * the router). Returns NULL on out of memory. */
struct router *router_new(const struct route *routes, size_t count);
void router_free(struct router *router);

enum router_match { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/*
 * Match method and path. On ROUTER_FOUND, *route is set and req's path
 * parameters are filled (owned by req, freed by http_request_release_params).
 * On ROUTER_METHOD_NOT_ALLOWED, allow (cap bytes) receives "GET, POST".
 */
enum router_match router_match(const struct router *router, const char *method, const char *path,
                               struct http_request *req, const struct route **route, char *allow,
                               size_t cap);
void http_request_release_params(struct http_request *req);

/* Index of a route in the table (for per-route metrics), or count when NULL. */
size_t router_route_index(const struct router *router, const struct route *route);
size_t router_route_count(const struct router *router);
const struct route *router_route_at(const struct router *router, size_t index);

/* ---- server ------------------------------------------------------------------ */

/*
 * The dispatcher is called for every matched route; it authenticates, then
 * calls route->handler. (The API layer provides it.)
 */
typedef void (*http_dispatch_fn)(void *app, const struct route *route, struct http_request *req,
                                 struct http_response *resp);

struct http_server_options {
    const char *host;            /* numeric address or name, e.g. "127.0.0.1", "::" */
    uint16_t port;               /* 0 = any free port */
    unsigned threads;            /* >= 1 */
    size_t max_body_bytes;       /* larger bodies get 413 */
    const struct router *router; /* borrowed */
    http_dispatch_fn dispatch;
    void *app;
    struct metrics *metrics; /* borrowed */
};

struct http_server;

/* Bind, listen and start serving. Returns 0 or OB_EIO (with the reason). */
int http_server_start(const struct http_server_options *opts, struct http_server **out,
                      struct ob_error *err);
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *server);
/* Stop accepting new connections (the ones open are still served). Accepts NULL. */
void http_server_quiesce(struct http_server *server);
/* Stop accepting, finish nothing more, free. Accepts NULL. Every suspended
 * request must have been resumed. */
void http_server_stop(struct http_server *server);

#endif
