/*
 * agent_http.c - the agent's two requests (docs/AGENT.md, "The protocol"):
 * GET /api/v1/agent/state with If-None-Match, POST /api/v1/agent/report.
 *
 * A blocking libcurl easy handle per request: the agent is one thread and
 * has nothing else to do meanwhile.  Every request is bounded
 * (AGENT_CONNECT_TIMEOUT_S, AGENT_TRANSFER_TIMEOUT_S, AGENT_STATE_MAX bytes),
 * follows no redirect (the token must not travel elsewhere), speaks only
 * http and https, and gives up at once when SIGINT or SIGTERM is pending
 * (the progress callback looks, see agent.h).  The token goes only into the
 * Authorization header; curl's verbose output is never turned on.
 */
#include "agent/agent.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsbell_version.h"

struct reply {
    struct strbuf body;
    size_t cap;
    int too_large;
    char etag[AGENT_ETAG_MAX + 1];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;

    if (r->body.len + len > r->cap) {
        r->too_large = 1;
        return 0; /* abort the transfer */
    }
    strbuf_add(&r->body, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;

    if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        if (agent_etag_parse(data + 5, len - 5, r->etag, sizeof(r->etag)) != 0)
            r->etag[0] = '\0';
    } else if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        r->etag[0] = '\0'; /* a new response (after a 100 Continue): forget the old headers */
    }
    return len;
}

/* Give up a transfer when a stop signal waits (they are blocked: see agent.h). */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    sigset_t pending;

    if (sigpending(&pending) == 0 &&
        (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1))
        return 1;
    return 0;
}

/* The "error" member of a JSON error body, cut to one short line. */
static void server_reason(const struct strbuf *body, char *out, size_t cap)
{
    json_t *root = json_loadb(body->buf != NULL ? body->buf : "", body->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(root, "error"));

    snprintf(out, cap, "%s", msg != NULL ? msg : "");
    json_decref(root);
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    ob_utf8_sanitize(out);
    if (strlen(out) > 200)
        out[200] = '\0';
}

/* Append one header line; the list is kept when the copy fails. */
static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (l == NULL)
        return -1;
    *list = l;
    return 0;
}

/* Run one request.  0 with *code filled (0 when no answer: err says why),
 * 1 when a stop signal cut it short, or a negative code. */
static int perform(const struct agent_config *cfg, const char *method, const char *path,
                   const char *etag, const char *json_body, struct reply *r, long *code,
                   struct ob_error *err)
{
    char url[AGENT_URL_MAX + 64], curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct strbuf auth = STRBUF_INIT, inm = STRBUF_INIT;
    CURL *curl;
    CURLcode cc;
    int rc = 0;

    *code = 0;
    snprintf(url, sizeof(url), "%s%s", cfg->server, path);
    curl = curl_easy_init();
    if (curl == NULL)
        return ob_fail(err, OB_EINTERNAL, "cannot make a libcurl handle");
    strbuf_adds(&auth, "Authorization: Bearer ");
    strbuf_add(&auth, cfg->token.value, cfg->token.len);
    if (etag != NULL && etag[0] != '\0')
        strbuf_addf(&inm, "If-None-Match: %s", etag);
    if (add_header(&headers, strbuf_str(&auth)) != 0 ||
        add_header(&headers, "Accept: application/json") != 0 ||
        (inm.len > 0 && add_header(&headers, strbuf_str(&inm)) != 0) ||
        (json_body != NULL && add_header(&headers, "Content-Type: application/json") != 0) ||
        add_header(&headers, "Expect:") != 0) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)AGENT_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)AGENT_TRANSFER_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "opsbell-agent/" OPSBELL_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body != NULL ? json_body : "");
    }
    cc = curl_easy_perform(curl);
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = 1;
        goto out;
    }
    if (cc == CURLE_WRITE_ERROR && r->too_large) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
        rc = ob_fail(err, OB_ETOOLARGE, "%s %s: the answer is larger than %zu bytes", method, path,
                     r->cap);
        *code = -1;
        goto out;
    }
    if (cc != CURLE_OK) {
        ob_fail(err, OB_EUNAVAILABLE, "%s %s: %s", method, cfg->server,
                curl_err[0] != '\0' ? curl_err : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
out:
    curl_slist_free_all(headers);
    /* Our copy of the header held the token: wipe it before freeing. */
    if (auth.buf != NULL)
        memset(auth.buf, 0, auth.len);
    strbuf_release(&auth);
    strbuf_release(&inm);
    curl_easy_cleanup(curl);
    return rc;
}

void agent_fetch_release(struct agent_fetch *f)
{
    if (f == NULL)
        return;
    free(f->body);
    memset(f, 0, sizeof(*f));
}

int agent_http_fetch(const struct agent_config *cfg, const char *etag, struct agent_fetch *f,
                     struct ob_error *err)
{
    struct reply r = {.body = STRBUF_INIT, .cap = AGENT_STATE_MAX};
    char reason[256];
    long code = 0;
    int rc;

    memset(f, 0, sizeof(*f));
    rc = perform(cfg, "GET", "/api/v1/agent/state", etag, NULL, &r, &code, err);
    if (rc == 1) {
        f->status = AGENT_FETCH_STOPPED;
        rc = 0;
        goto out;
    }
    if (rc == OB_ETOOLARGE) {
        f->status = AGENT_FETCH_FAILED;
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    f->http_code = code;
    server_reason(&r.body, reason, sizeof(reason));
    if (code == 0) {
        f->status = AGENT_FETCH_UNAVAILABLE; /* err filled by perform() */
    } else if (code == 200) {
        f->status = AGENT_FETCH_NEW;
        snprintf(f->etag, sizeof(f->etag), "%s", r.etag);
        f->body_len = r.body.len;
        f->body = strbuf_detach(&r.body, NULL);
        if (f->body == NULL) {
            f->body = strdup("");
            if (f->body == NULL)
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
        }
    } else if (code == 304) {
        f->status = AGENT_FETCH_NOT_MODIFIED;
    } else if (code == 401 || code == 403) {
        f->status = AGENT_FETCH_UNAUTHORIZED;
        ob_fail(err, code == 401 ? OB_EUNAUTH : OB_EFORBIDDEN,
                "the server refused the agent token (HTTP %ld%s%s)%s", code,
                reason[0] != '\0' ? ": " : "", reason,
                code == 401 ? ": check `token` in agent.yaml (opsbell token create NAME --agent "
                              "HOST)"
                            : ": it is not an agent token for this host");
    } else if (code >= 500 || code == 429 || code == 408) {
        f->status = AGENT_FETCH_UNAVAILABLE;
        ob_fail(err, OB_EUNAVAILABLE, "the server answered HTTP %ld%s%s", code,
                reason[0] != '\0' ? ": " : "", reason);
    } else {
        f->status = AGENT_FETCH_FAILED;
        ob_fail(err, OB_EINVAL, "the server answered HTTP %ld%s%s", code,
                reason[0] != '\0' ? ": " : "", reason);
    }
out:
    strbuf_release(&r.body);
    return rc;
}

int agent_http_report(const struct agent_config *cfg, const char *etag, const char *const *applied,
                      size_t applied_count, const char *error, struct ob_error *err)
{
    struct reply r = {.body = STRBUF_INIT, .cap = 64 * 1024};
    json_t *body = json_object(), *ids = json_array();
    char *text = NULL, reason[256];
    long code = 0;
    int rc;

    if (body == NULL || ids == NULL) {
        json_decref(body);
        json_decref(ids);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < applied_count; i++)
        json_array_append_new(ids, json_string(applied[i]));
    json_object_set_new(body, "etag", json_string(etag != NULL ? etag : ""));
    json_object_set_new(body, "applied", ids);
    json_object_set_new(body, "error", error != NULL ? json_string(error) : json_null());
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = perform(cfg, "POST", "/api/v1/agent/report", NULL, text, &r, &code, err);
    free(text);
    if (rc == 1)
        rc = ob_fail(err, OB_EUNAVAILABLE, "stopping");
    else if (rc == 0 && code == 0)
        rc = OB_EUNAVAILABLE; /* err filled by perform() */
    else if (rc == 0 && (code < 200 || code > 299)) {
        server_reason(&r.body, reason, sizeof(reason));
        rc = ob_fail(err, code == 401 ? OB_EUNAUTH : OB_EIO,
                     "POST /api/v1/agent/report: HTTP %ld%s%s", code, reason[0] != '\0' ? ": " : "",
                     reason);
    }
    strbuf_release(&r.body);
    return rc;
}
