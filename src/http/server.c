/*
 * server.c - libmicrohttpd glue: listening socket, body collection with a
 * size cap, request ids, dispatch through the router, metrics and the access
 * log.
 */
#include "http/http.h"

#include "metrics/metrics.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct http_server_options opts;
    struct MHD_Daemon *daemon;
    int listen_fd;
    uint16_t port;
};

/* Per-request state, kept in MHD's per-request pointer. */
struct request_ctx {
    struct http_request req;
    struct strbuf body;
    struct timespec started;
    size_t declared_len; /* Content-Length, when given */
    int too_large;
    int responded_early;
    /* Set by http_request_suspend(): the response comes later, from cont. */
    http_continuation_fn cont;
    void *cont_data;
    int suspended;
};

/* The request is the first member of its context. */
static struct request_ctx *ctx_of(struct http_request *req)
{
    return (struct request_ctx *)(void *)req;
}

void http_request_suspend(struct http_request *req, http_continuation_fn cont, void *data)
{
    struct request_ctx *ctx = ctx_of(req);

    ctx->cont = cont;
    ctx->cont_data = data;
    ctx->suspended = 1;
    /* Suspended before any other thread can learn of the request, so a
     * resume can never come first. */
    MHD_suspend_connection(req->conn);
}

void http_request_resume(struct http_request *req)
{
    MHD_resume_connection(req->conn);
}

static double elapsed_seconds(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    if (req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    if (req->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_collect {
    const char *name;
    const char **out;
    size_t max;
    size_t count;
};

static enum MHD_Result collect_query_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    struct query_collect *qc = cls;

    if (key != NULL && strcmp(key, qc->name) == 0 && qc->count < qc->max)
        qc->out[qc->count++] = value != NULL ? value : "";
    return MHD_YES;
}

size_t http_request_query_values(const struct http_request *req, const char *name, const char **out,
                                 size_t max)
{
    struct query_collect qc = {name, out, max, 0};

    if (req->conn == NULL)
        return 0;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_query_value, &qc);
    return qc.count;
}

static int request_id_is_acceptable(const char *id)
{
    size_t len = 0;

    for (const char *p = id; *p != '\0'; p++, len++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return len > 0 && len < HTTP_REQUEST_ID_MAX;
}

static void assign_request_id(struct http_request *req)
{
    const char *given = http_request_header(req, "X-Request-Id");
    unsigned char raw[8];

    if (given != NULL && request_id_is_acceptable(given)) {
        snprintf(req->request_id, sizeof(req->request_id), "%s", given);
        return;
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        /* Uniqueness matters, secrecy does not: fall back to time and address. */
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)req;
        memcpy(raw, &t, sizeof(raw));
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(req->request_id + 2 * i, 3, "%02x", raw[i]);
}

static void assign_remote_addr(struct http_request *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;

    snprintf(req->remote_addr, sizeof(req->remote_addr), "unknown");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  req->remote_addr, sizeof(req->remote_addr));
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  req->remote_addr, sizeof(req->remote_addr));
    }
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct request_ctx *ctx,
                                     struct http_response *resp)
{
    struct MHD_Response *mresp;
    enum MHD_Result ret;
    size_t len;
    char *body;

    if (resp->status == 0)
        http_response_error(resp, 500, "handler produced no response");
    if (resp->body == NULL)
        http_response_set(resp, resp->status, "application/json", "", 0);
    body = resp->body;
    len = resp->body_len;
    resp->body = NULL; /* MHD frees it with free() */
    mresp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (mresp == NULL) {
        free(body);
        return MHD_NO;
    }
    if (resp->content_type != NULL)
        MHD_add_response_header(mresp, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    MHD_add_response_header(mresp, "X-Request-Id", ctx->req.request_id);
    MHD_add_response_header(mresp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < resp->header_count; i++)
        MHD_add_response_header(mresp, resp->header_names[i], resp->header_values[i]);
    ret = MHD_queue_response(conn, (unsigned int)resp->status, mresp);
    MHD_destroy_response(mresp);
    return ret;
}

/* A path whose route carries a credential ({key}, {token}) is shown as its pattern. */
static const char *path_for_log(const struct http_request *req)
{
    if (req->route != NULL && (strstr(req->route->pattern, "{key}") != NULL ||
                               strstr(req->route->pattern, "{token}") != NULL))
        return req->route->pattern;
    return req->path;
}

static void finish_request(struct http_server *server, struct request_ctx *ctx, int status)
{
    const struct router *router = server->opts.router;
    double secs = elapsed_seconds(&ctx->started);
    char status_text[8], duration[32], bytes[32];

    metrics_observe_request(server->opts.metrics, router_route_index(router, ctx->req.route),
                            status, secs);
    snprintf(status_text, sizeof(status_text), "%d", status);
    snprintf(duration, sizeof(duration), "%.3f", secs * 1000.0);
    snprintf(bytes, sizeof(bytes), "%zu", ctx->req.body_len);
    log_emit(LOG_LEVEL_INFO, "http", ctx->req.request_id, "request", "method", ctx->req.method,
             "path", path_for_log(&ctx->req), "route",
             ctx->req.route != NULL ? ctx->req.route->pattern : "-", "status", status_text,
             "duration_ms", duration, "request_bytes", bytes, "remote", ctx->req.remote_addr,
             (const char *)NULL);
}

static enum MHD_Result handle_complete_request(struct http_server *server,
                                               struct MHD_Connection *conn, struct request_ctx *ctx)
{
    struct http_response resp = {0};
    const struct route *route = NULL;
    char allow[128];
    enum router_match match;
    enum MHD_Result ret;
    int status;

    ctx->req.body = strbuf_str(&ctx->body);
    ctx->req.body_len = ctx->body.len;
    if (ctx->too_large) {
        http_response_error(&resp, 413, "request body larger than %zu bytes",
                            server->opts.max_body_bytes);
    } else {
        match = router_match(server->opts.router, ctx->req.method, ctx->req.path, &ctx->req, &route,
                             allow, sizeof(allow));
        if (match == ROUTER_FOUND) {
            ctx->req.route = route;
            server->opts.dispatch(server->opts.app, route, &ctx->req, &resp);
        } else if (match == ROUTER_METHOD_NOT_ALLOWED) {
            /* The route of an allowed method names the pattern, so that a
             * credential in the path is masked in the log here too. */
            char first[16];
            size_t n = strcspn(allow, ", ");
            snprintf(first, sizeof(first), "%.*s", (int)(n < sizeof(first) ? n : 0), allow);
            if (router_match(server->opts.router, first, ctx->req.path, &ctx->req, &route, NULL,
                             0) == ROUTER_FOUND)
                ctx->req.route = route;
            http_response_error(&resp, 405, "method %s not allowed on %s", ctx->req.method,
                                path_for_log(&ctx->req));
            http_response_add_header(&resp, "Allow", allow);
        } else {
            http_response_error(&resp, 404, "no such endpoint: %s", ctx->req.path);
        }
    }
    if (ctx->suspended && resp.status == 0) {
        /* The handler will answer through its continuation after a resume. */
        http_response_release(&resp);
        return MHD_YES;
    }
    status = resp.status != 0 ? resp.status : 500;
    ret = send_response(conn, ctx, &resp);
    finish_request(server, ctx, status);
    http_response_release(&resp);
    return ret;
}

/* Called again by MHD after http_request_resume(): produce the response. */
static enum MHD_Result handle_resumed_request(struct http_server *server,
                                              struct MHD_Connection *conn, struct request_ctx *ctx)
{
    struct http_response resp = {0};
    enum MHD_Result ret;
    int status;

    ctx->suspended = 0;
    ctx->cont(server->opts.app, &ctx->req, &resp, ctx->cont_data);
    status = resp.status != 0 ? resp.status : 500;
    ret = send_response(conn, ctx, &resp);
    finish_request(server, ctx, status);
    http_response_release(&resp);
    return ret;
}

static enum MHD_Result begin_request(struct http_server *server, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **req_cls)
{
    struct request_ctx *ctx = calloc(1, sizeof(*ctx));
    const char *clen;

    if (ctx == NULL)
        return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &ctx->started);
    ctx->req.method = method;
    ctx->req.path = url;
    ctx->req.body = "";
    ctx->req.conn = conn;
    strbuf_init(&ctx->body);
    assign_request_id(&ctx->req);
    assign_remote_addr(&ctx->req);
    *req_cls = ctx;

    clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen != NULL) {
        char *end = NULL;
        unsigned long long n;
        errno = 0;
        n = strtoull(clen, &end, 10);
        if (errno != 0 || end == clen || n > server->opts.max_body_bytes) {
            /* Refuse before reading a byte of an oversized body. */
            struct http_response resp = {0};
            enum MHD_Result ret;
            http_response_error(&resp, 413, "request body larger than %zu bytes",
                                server->opts.max_body_bytes);
            ctx->responded_early = 1;
            ret = send_response(conn, ctx, &resp);
            finish_request(server, ctx, 413);
            http_response_release(&resp);
            return ret;
        }
        ctx->declared_len = (size_t)n;
    }
    return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct http_server *server = cls;
    struct request_ctx *ctx = *req_cls;

    if (ctx == NULL)
        return begin_request(server, conn, url, method, req_cls);
    if (ctx->suspended)
        return handle_resumed_request(server, conn, ctx);
    if (ctx->responded_early) {
        *upload_data_size = 0; /* discard; the connection is closed after the reply */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ctx->too_large) {
            if (ctx->body.len + *upload_data_size > server->opts.max_body_bytes) {
                ctx->too_large = 1; /* keep reading, keep nothing, answer 413 at the end */
                strbuf_release(&ctx->body);
            } else {
                strbuf_add(&ctx->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return handle_complete_request(server, conn, ctx);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct request_ctx *ctx = *req_cls;

    if (ctx == NULL)
        return;
    http_request_release_params(&ctx->req);
    strbuf_release(&ctx->body);
    free(ctx);
    *req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t len;

    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    log_warn("http", "libmicrohttpd", "detail", line);
}

static int open_listen_socket(const char *host, uint16_t port, int *family_out, uint16_t *bound,
                              struct ob_error *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port_text[8];
    int fd = -1, one = 1, rc;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port_text, sizeof(port_text), "%u", (unsigned)port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0)
        return ob_fail(err, OB_EIO, "cannot resolve listen address %s: %s", host, gai_strerror(rc));
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        rc = ob_fail(err, OB_EIO, "socket: %s", strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        rc = ob_fail(err, OB_EIO, "cannot listen on %s port %u: %s", host, (unsigned)port,
                     strerror(errno));
        goto out;
    }
    if (listen(fd, 512) != 0) {
        rc = ob_fail(err, OB_EIO, "listen: %s", strerror(errno));
        goto out;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        rc = ob_fail(err, OB_EIO, "getsockname: %s", strerror(errno));
        goto out;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    *family_out = res->ai_family;
    rc = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

int http_server_start(const struct http_server_options *opts, struct http_server **out,
                      struct ob_error *err)
{
    struct http_server *server;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME;
    int family = AF_INET;
    int fd;

    *out = NULL;
    server = calloc(1, sizeof(*server));
    if (server == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    server->opts = *opts;
    fd = open_listen_socket(opts->host, opts->port, &family, &server->port, err);
    if (fd < 0) {
        free(server);
        return fd;
    }
    server->listen_fd = fd;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    {
        /* A pool of one thread draws a warning from libmicrohttpd: with one
         * thread, leave the pool option out (the polling thread serves). */
        struct MHD_OptionItem pool[] = {
            {opts->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
             (intptr_t)opts->threads, NULL},
            {MHD_OPTION_END, 0, NULL},
        };
        server->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, access_handler, server, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
            server, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_ARRAY, pool,
            MHD_OPTION_NOTIFY_COMPLETED, request_completed, server, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_END);
    }
    if (server->daemon == NULL) {
        close(fd);
        free(server);
        return ob_fail(err, OB_EIO, "cannot start the HTTP server on %s port %u", opts->host,
                       (unsigned)opts->port);
    }
    *out = server;
    return 0;
}

uint16_t http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_quiesce(struct http_server *server)
{
    if (server != NULL)
        MHD_quiesce_daemon(server->daemon);
}

void http_server_stop(struct http_server *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    /* MHD does not close a socket it was given. */
    close(server->listen_fd);
    free(server);
}
