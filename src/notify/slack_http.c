/*
 * slack_http.c - the two ways opsbell talks to Slack: a blocking JSON POST
 * (the provider's Web API calls, on dispatcher workers) and replies to a
 * response_url, queued by HTTP handlers and posted by one background thread
 * so that a handler never waits on Slack.
 */
#include "notify/slack.h"

#include "config/config.h"
#include "notify/chatops.h"
#include "util/error.h"

#include "util/log.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SLACK_REPLY_BODY_MAX  (64 * 1024)
#define SLACK_CONNECT_MS      5000L
#define SLACK_RESPOND_TIMEOUT 5000L
#define SLACK_RESPOND_QUEUE   64

/* ---- one POST ---------------------------------------------------------------- */

struct collect {
    struct slack_http_reply *reply;
    size_t cap;
    size_t max; /* bytes kept */
};

static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct collect *c = userdata;
    struct slack_http_reply *r = c->reply;
    size_t n = size * nmemb, room;

    if (r->body_len >= c->max) {
        r->truncated |= n > 0;
        return n; /* keep reading, drop the rest */
    }
    room = c->max - r->body_len;
    if (n < room)
        room = n;
    else if (n > room)
        r->truncated = 1;
    if (r->body_len + room + 1 > c->cap) {
        size_t cap = c->cap == 0 ? 1024 : c->cap;
        char *grown;
        while (cap < r->body_len + room + 1)
            cap *= 2;
        grown = realloc(r->body, cap);
        if (grown == NULL)
            return 0; /* curl reports a write error: no answer */
        r->body = grown;
        c->cap = cap;
    }
    memcpy(r->body + r->body_len, ptr, room);
    r->body_len += room;
    r->body[r->body_len] = '\0';
    return n;
}

static size_t collect_header(char *buffer, size_t size, size_t nitems, void *userdata)
{
    struct slack_http_reply *r = userdata;
    size_t n = size * nitems, i = 12, j = 0;

    if (n > 12 && strncasecmp(buffer, "Retry-After:", 12) == 0) {
        while (i < n && (buffer[i] == ' ' || buffer[i] == '\t'))
            i++;
        while (i < n && buffer[i] >= '0' && buffer[i] <= '9' && j + 1 < sizeof(r->retry_after))
            r->retry_after[j++] = buffer[i++];
        r->retry_after[j] = '\0';
    }
    return n;
}

/* One request: a POST of json, or a GET when json is NULL. */
static int slack_perform(const char *url, const char *bearer, const char *json, long timeout_ms,
                         size_t max_body, struct slack_http_reply *reply)
{
    struct collect c = {.reply = reply, .cap = 0, .max = max_body};
    struct curl_slist *headers = NULL, *h;
    char errbuf[CURL_ERROR_SIZE] = "";
    char *auth = NULL;
    CURL *curl = NULL;
    CURLcode cc;
    int rc = -1;

    memset(reply, 0, sizeof(*reply));
    h = curl_slist_append(NULL, json != NULL ? "Content-Type: application/json; charset=utf-8"
                                             : "Accept: application/json");
    headers = h;
    if (h != NULL && bearer != NULL) {
        size_t len = strlen(bearer) + sizeof("Authorization: Bearer ");
        auth = malloc(len);
        if (auth == NULL)
            goto out;
        snprintf(auth, len, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(headers, auth);
    }
    h = h != NULL ? curl_slist_append(headers, "User-Agent: opsbell") : NULL;
    curl = h != NULL ? curl_easy_init() : NULL;
    if (curl == NULL)
        goto out;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (json != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < SLACK_CONNECT_MS ? timeout_ms : SLACK_CONNECT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        reply->transport_ok = 1;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    } else {
        snprintf(reply->errbuf, sizeof(reply->errbuf), "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    }
    rc = 0;
out:
    if (auth != NULL) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(headers); /* curl copied nothing secret elsewhere */
    curl_easy_cleanup(curl);
    return rc;
}

int slack_post_json(const char *url, const char *bearer, const char *json, long timeout_ms,
                    struct slack_http_reply *reply)
{
    return slack_perform(url, bearer, json != NULL ? json : "{}", timeout_ms, SLACK_REPLY_BODY_MAX,
                         reply);
}

int slack_get(const char *url, const char *bearer, long timeout_ms, size_t max_body,
              struct slack_http_reply *reply)
{
    return slack_perform(url, bearer, NULL, timeout_ms, max_body, reply);
}

void slack_http_reply_release(struct slack_http_reply *reply)
{
    if (reply == NULL)
        return;
    free(reply->body);
    reply->body = NULL;
    reply->body_len = 0;
}

/* ---- replies to response_url --------------------------------------------------- */

struct respond_job {
    struct respond_job *next;
    char *url;
    char *body;
    char *bearer; /* a Web API call (wiped when done); NULL: a response_url reply */
};

/* The queue is process-wide: response_urls outlive configurations and
 * requests, and one thread posting in order is all Slack's volume needs. */
static pthread_mutex_t respond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t respond_cond = PTHREAD_COND_INITIALIZER;
static struct respond_job *respond_head, *respond_tail;
static size_t respond_queued, api_queued;
static int respond_started;

static void job_free(struct respond_job *job)
{
    if (job == NULL)
        return;
    if (job->bearer != NULL)
        OPENSSL_cleanse(job->bearer, strlen(job->bearer));
    free(job->bearer);
    free(job->url);
    free(job->body);
    free(job);
}

/* A queued Web API call: its outcome is logged (the method, never the token). */
static void api_call(const struct respond_job *job)
{
    struct slack_http_reply reply;
    char eid[128], detail[160];
    const char *method = strrchr(job->url, '/');

    if (slack_post_json(job->url, job->bearer, job->body, SLACK_RESPOND_TIMEOUT, &reply) != 0)
        return;
    if (slack_api_result(reply.transport_ok, reply.status, reply.retry_after, reply.body,
                         reply.body_len, eid, sizeof(eid), detail,
                         sizeof(detail)) == NOTIFY_DELIVERED)
        log_debug("slack", "api call done", "method", method != NULL ? method + 1 : "?", "detail",
                  detail);
    else
        log_warn("slack", "api call failed", "method", method != NULL ? method + 1 : "?", "detail",
                 reply.transport_ok ? detail : reply.errbuf);
    slack_http_reply_release(&reply);
}

static void *respond_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct slack_http_reply reply;
        struct respond_job *job;
        char status[16];

        pthread_mutex_lock(&respond_lock);
        while (respond_head == NULL)
            pthread_cond_wait(&respond_cond, &respond_lock);
        job = respond_head;
        respond_head = job->next;
        if (respond_head == NULL)
            respond_tail = NULL;
        if (job->bearer != NULL)
            api_queued--;
        else
            respond_queued--;
        pthread_mutex_unlock(&respond_lock);

        if (job->bearer != NULL) {
            api_call(job);
        } else if (slack_post_json(job->url, NULL, job->body, SLACK_RESPOND_TIMEOUT, &reply) == 0) {
            /* A response_url is a capability: it is never logged. */
            snprintf(status, sizeof(status), "%ld", reply.status);
            if (!reply.transport_ok || reply.status < 200 || reply.status >= 300)
                log_warn("slack", "reply to response_url failed", "status",
                         reply.transport_ok ? status : reply.errbuf);
            else
                log_debug("slack", "reply posted to response_url", "status", status);
            slack_http_reply_release(&reply);
        }
        job_free(job);
    }
    return NULL;
}

/* Queue job on the background thread (started on first use); job is
 * freed on failure. */
static int job_enqueue(struct respond_job *job)
{
    int api = job->bearer != NULL;
    pthread_t tid;

    pthread_mutex_lock(&respond_lock);
    if (!respond_started) {
        if (pthread_create(&tid, NULL, respond_main, NULL) != 0) {
            pthread_mutex_unlock(&respond_lock);
            log_warn("slack", "cannot start the background thread");
            goto fail;
        }
        pthread_detach(tid);
        respond_started = 1;
    }
    if (api ? api_queued >= SLACK_API_QUEUE : respond_queued >= SLACK_RESPOND_QUEUE) {
        pthread_mutex_unlock(&respond_lock);
        log_warn("slack", api ? "api call dropped: too many queued"
                              : "reply dropped: too many replies queued");
        goto fail;
    }
    if (respond_tail != NULL)
        respond_tail->next = job;
    else
        respond_head = job;
    respond_tail = job;
    if (api)
        api_queued++;
    else
        respond_queued++;
    pthread_cond_signal(&respond_cond);
    pthread_mutex_unlock(&respond_lock);
    return 0;
fail:
    job_free(job);
    return -1;
}

/* Queue text for response_url (already allowed) on the background thread. */
static int respond_enqueue(const char *response_url, const char *text)
{
    struct respond_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return -1;
    job->url = strdup(response_url);
    job->body = slack_ephemeral_json(text);
    if (job->url == NULL || job->body == NULL) {
        job_free(job);
        return -1;
    }
    return job_enqueue(job);
}

int slack_api_enqueue(const char *url, const char *bearer, const char *json)
{
    struct respond_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return -1;
    job->url = strdup(url);
    job->body = strdup(json);
    job->bearer = strdup(bearer != NULL ? bearer : "");
    if (job->url == NULL || job->body == NULL || job->bearer == NULL) {
        log_warn("slack", "api call dropped: out of memory");
        job_free(job);
        return -1;
    }
    return job_enqueue(job);
}

int slack_respond(const char *api_url, const char *response_url, const char *text)
{
    if (!slack_response_url_allowed(api_url, response_url)) {
        log_warn("slack", "response_url refused: not Slack's nor the api_url's host");
        return -1;
    }
    return respond_enqueue(response_url, text);
}

int chat_respond(const struct config *cfg, const char *response_url, const char *text)
{
    if (!slack_response_url_allowed(cfg->providers.slack.api_url, response_url) &&
        !chatops_mattermost_url_allowed(cfg->providers.mattermost.api_url, response_url)) {
        log_warn("chat", "response_url refused: neither Slack's nor Mattermost's api_url host");
        return -1;
    }
    return respond_enqueue(response_url, text);
}

static pthread_mutex_t replay_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slack_replay_guard replay_guard;

int slack_verify_fresh(const unsigned char *secret, size_t secret_len, const char *timestamp,
                       const char *signature, const char *body, size_t body_len, int64_t now_s,
                       struct ob_error *err)
{
    int rc =
        slack_verify_request(secret, secret_len, timestamp, signature, body, body_len, now_s, err);
    int seen;

    if (rc != 0)
        return rc;
    pthread_mutex_lock(&replay_lock);
    seen = slack_replay_check(&replay_guard, signature, now_s);
    pthread_mutex_unlock(&replay_lock);
    if (seen)
        return ob_fail(err, OB_EUNAUTH, "replayed request: this signature was already accepted");
    return 0;
}
