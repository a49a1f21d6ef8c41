/*
 * accesslogs.c - Slack team.accessLogs into the allowlist (accesslogs.h):
 * the pure parser of one page, and the poller thread.
 */
#include "access/accesslogs.h"

#include "access/access.h"
#include "config/config.h"
#include "daemon/app.h"
#include "enforce/enforce.h"
#include "notify/chatops.h"
#include "notify/slack.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/periodic.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCESSLOGS_IDLE_S 60 /* without the section (after a reload), look again this often */

/* ---- the parser ------------------------------------------------------------------ */

void accesslogs_page_release(struct accesslogs_page *page)
{
    if (page == NULL)
        return;
    free(page->items);
    memset(page, 0, sizeof(*page));
}

/* Copy at most cap - 1 bytes of s, printable ASCII kept, others as '?'. */
static void copy_printable(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    for (; s != NULL && s[n] != '\0' && n + 1 < cap; n++)
        out[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    out[n] = '\0';
}

static int nonneg_integer(json_t *v, int64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int parse_login(json_t *o, size_t i, struct accesslogs_sighting *s, struct ob_error *err)
{
    const char *user = json_string_value(json_object_get(o, "user_id"));
    const char *ip = json_string_value(json_object_get(o, "ip"));
    json_t *ua = json_object_get(o, "user_agent");
    const char *kind = user != NULL ? slack_address_kind(user) : NULL;
    struct cidr c;

    if (!json_is_object(o))
        return ob_fail(err, OB_EINVAL, "logins[%zu] is not an object", i);
    if (kind == NULL || strcmp(kind, "user") != 0 || strlen(user) > ACCESSLOGS_ID_MAX)
        return ob_fail(err, OB_EINVAL, "logins[%zu].user_id is not a slack user id", i);
    if (ip == NULL || ip[0] == '\0' || strlen(ip) > ACCESSLOGS_IP_MAX || strchr(ip, '/') != NULL ||
        cidr_parse(ip, &c, NULL) != 0 || (c.family == AF_INET ? c.prefix != 32 : c.prefix != 128))
        return ob_fail(err, OB_EINVAL, "logins[%zu].ip is not an IP address", i);
    if (nonneg_integer(json_object_get(o, "date_first"), &s->date_first) != 0 ||
        nonneg_integer(json_object_get(o, "date_last"), &s->date_last) != 0)
        return ob_fail(err, OB_EINVAL, "logins[%zu]: date_first / date_last are not times", i);
    if (ua != NULL && !json_is_null(ua) && !json_is_string(ua))
        return ob_fail(err, OB_EINVAL, "logins[%zu].user_agent is not a string", i);
    memcpy(s->user_id, user, strlen(user) + 1);
    memcpy(s->ip, ip, strlen(ip) + 1);
    copy_printable(s->user_agent, sizeof(s->user_agent), json_string_value(ua));
    return 0;
}

static int cursor_ok(const char *s)
{
    static const char allowed[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-.:";
    size_t n = strlen(s);

    return n <= ACCESSLOGS_CURSOR_MAX && strspn(s, allowed) == n;
}

static int parse_root(json_t *root, struct accesslogs_page *out, struct ob_error *err)
{
    json_t *ok = json_object_get(root, "ok"), *logins, *meta, *paging, *cur;
    size_t n;

    if (!json_is_object(root))
        return ob_fail(err, OB_EINVAL, "the answer is not a JSON object");
    if (!json_is_boolean(ok))
        return ob_fail(err, OB_EINVAL, "the answer has no boolean 'ok'");
    if (json_is_false(ok)) {
        json_t *e = json_object_get(root, "error");
        copy_printable(out->error, sizeof(out->error),
                       json_is_string(e) && json_string_length(e) > 0 ? json_string_value(e)
                                                                      : "unknown_error");
        return 0;
    }
    out->ok = 1;
    logins = json_object_get(root, "logins");
    if (!json_is_array(logins))
        return ob_fail(err, OB_EINVAL, "the answer has no 'logins' array");
    n = json_array_size(logins);
    if (n > ACCESSLOGS_PAGE_COUNT)
        return ob_fail(err, OB_EINVAL, "a page of more than %d logins", ACCESSLOGS_PAGE_COUNT);
    out->items = calloc(n > 0 ? n : 1, sizeof(*out->items));
    if (out->items == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = parse_login(json_array_get(logins, i), i, &out->items[i], err);
        if (rc != 0)
            return rc;
    }
    out->count = n;
    meta = json_object_get(root, "response_metadata");
    if (meta != NULL && !json_is_null(meta)) {
        if (!json_is_object(meta))
            return ob_fail(err, OB_EINVAL, "response_metadata is not an object");
        cur = json_object_get(meta, "next_cursor");
        if (cur != NULL && !json_is_null(cur)) {
            if (!json_is_string(cur) || json_string_length(cur) != strlen(json_string_value(cur)) ||
                !cursor_ok(json_string_value(cur)))
                return ob_fail(err, OB_EINVAL, "response_metadata.next_cursor is not a cursor");
            memcpy(out->next_cursor, json_string_value(cur), json_string_length(cur) + 1);
        }
    }
    paging = json_object_get(root, "paging");
    if (paging != NULL && !json_is_null(paging)) {
        json_t *p = json_object_get(paging, "page"), *ps = json_object_get(paging, "pages");
        if (!json_is_object(paging) || (p != NULL && nonneg_integer(p, &out->page) != 0) ||
            (ps != NULL && nonneg_integer(ps, &out->pages) != 0))
            return ob_fail(err, OB_EINVAL, "paging is not page / pages numbers");
    }
    return 0;
}

int accesslogs_parse(const char *json, size_t len, struct accesslogs_page *out,
                     struct ob_error *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(out, 0, sizeof(*out));
    if (json == NULL)
        return ob_fail(err, OB_EINVAL, "no answer");
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ob_fail(err, OB_EINVAL, "the answer is not JSON (line %d)", jerr.line);
    rc = parse_root(root, out, err);
    json_decref(root);
    if (rc != 0)
        accesslogs_page_release(out);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------- */

enum run_result { RUN_OK, RUN_SLACK_ERROR, RUN_RATELIMITED, RUN_MALFORMED, RUN_HTTP, RUN_COUNT };

static const char *const run_result_names[RUN_COUNT] = {
    [RUN_OK] = "ok",
    [RUN_SLACK_ERROR] = "slack_error",
    [RUN_RATELIMITED] = "ratelimited",
    [RUN_MALFORMED] = "malformed",
    [RUN_HTTP] = "http_error",
};

static atomic_ullong metric_runs[RUN_COUNT];
static atomic_ullong metric_applied;
static atomic_uint metric_wait_s;

void accesslogs_render_metrics(struct strbuf *out)
{
    strbuf_adds(out, "# HELP opsbell_slack_access_logs_runs_total Slack team.accessLogs polls by "
                     "result.\n# TYPE opsbell_slack_access_logs_runs_total counter\n");
    for (int i = 0; i < RUN_COUNT; i++)
        strbuf_addf(out, "opsbell_slack_access_logs_runs_total{result=\"%s\"} %llu\n",
                    run_result_names[i], (unsigned long long)atomic_load(&metric_runs[i]));
    strbuf_addf(out,
                "# HELP opsbell_slack_access_logs_sightings_total Logins of mapped users "
                "applied to the allowlist.\n"
                "# TYPE opsbell_slack_access_logs_sightings_total counter\n"
                "opsbell_slack_access_logs_sightings_total %llu\n"
                "# HELP opsbell_slack_access_logs_next_poll_seconds The wait chosen after the "
                "last poll (at least Retry-After after a 429).\n"
                "# TYPE opsbell_slack_access_logs_next_poll_seconds gauge\n"
                "opsbell_slack_access_logs_next_poll_seconds %u\n",
                (unsigned long long)atomic_load(&metric_applied), atomic_load(&metric_wait_s));
}

/* ---- the poller ------------------------------------------------------------------- */

struct accesslogs_poller {
    struct app *app;
    struct periodic *thread;
    char last_problem[96]; /* the last failure logged ("" after a success): logged once */
};

/* One login to apply: an opsbell user's address. */
struct sighting {
    const char *user; /* borrowed from the run's configuration */
    char ip[ACCESSLOGS_IP_MAX + 1];
    int64_t seen_ms;
    char user_agent[ACCESSLOGS_UA_MAX + 1];
};

struct run {
    struct config *cfg;
    struct sighting *list;
    size_t count, cap;
    int64_t cutoff_s; /* logins last seen before this are stale */
    int done;         /* a stale login was seen, or the last page */
};

static int run_add(struct run *r, const char *user, const struct accesslogs_sighting *s)
{
    if (r->count == r->cap) {
        size_t cap = r->cap == 0 ? 64 : r->cap * 2;
        struct sighting *grown = realloc(r->list, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        r->list = grown;
        r->cap = cap;
    }
    r->list[r->count].user = user;
    memcpy(r->list[r->count].ip, s->ip, sizeof(s->ip));
    r->list[r->count].seen_ms = s->date_last * 1000;
    memcpy(r->list[r->count].user_agent, s->user_agent, sizeof(s->user_agent));
    r->count++;
    return 0;
}

/* Keep the page's fresh logins of mapped users. */
static int run_take(struct run *r, const struct accesslogs_page *page)
{
    for (size_t i = 0; i < page->count; i++) {
        const struct accesslogs_sighting *s = &page->items[i];
        const struct config_user *u;

        if (s->date_last < r->cutoff_s) {
            r->done = 1; /* newest first: the rest is older still */
            continue;
        }
        u = chatops_find_user(r->cfg, CHATOPS_SLACK, s->user_id);
        if (u != NULL && run_add(r, u->name, s) != 0)
            return -1;
    }
    return 0;
}

/* Log a failure at warn when it differs from the last one; count it. */
static void problem(struct accesslogs_poller *p, enum run_result result, const char *what,
                    const char *detail)
{
    char key[96];

    atomic_fetch_add(&metric_runs[result], 1);
    snprintf(key, sizeof(key), "%s:%s", what, detail);
    if (strcmp(key, p->last_problem) == 0) {
        log_debug("allowlist", "slack access logs: still failing", "error", detail);
        return;
    }
    snprintf(p->last_problem, sizeof(p->last_problem), "%s", key);
    log_warn("allowlist", what, "error", detail);
}

/* base?count=1000[&cursor=...|&page=N] */
static int page_url(const char *base, const char *cursor, int64_t page, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    struct strbuf sb = STRBUF_INIT;
    int rc = -1;

    strbuf_addf(&sb, "%s?count=%d", base, ACCESSLOGS_PAGE_COUNT);
    if (cursor[0] != '\0') {
        strbuf_adds(&sb, "&cursor=");
        for (const char *c = cursor; *c != '\0'; c++) {
            if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                *c == '-' || *c == '_' || *c == '.') {
                strbuf_addch(&sb, *c);
            } else {
                strbuf_addch(&sb, '%');
                strbuf_addch(&sb, hex[(unsigned char)*c >> 4]);
                strbuf_addch(&sb, hex[(unsigned char)*c & 15]);
            }
        }
    } else if (page > 1) {
        strbuf_addf(&sb, "&page=%lld", (long long)page);
    }
    if (sb.len < cap) {
        memcpy(out, strbuf_str(&sb), sb.len + 1);
        rc = 0;
    }
    strbuf_release(&sb);
    return rc;
}

/* Seconds of a Retry-After header (digits), capped at a day; 0 when absent. */
static unsigned retry_after_s(const char *h)
{
    unsigned long v = 0;

    for (size_t i = 0; h[i] >= '0' && h[i] <= '9' && i < 9; i++)
        v = v * 10 + (unsigned long)(h[i] - '0');
    return v > 86400 ? 86400 : (unsigned)v;
}

/* Fetch the pages into r; the wait before the next run (>= interval). */
static unsigned run_fetch(struct accesslogs_poller *p, struct run *r, int *apply,
                          const volatile int *stopping)
{
    const struct config_allowlist *al = &r->cfg->allowlist;
    unsigned wait_s = al->access_logs_interval_seconds;
    char base[1100], url[2048], status[16];
    char cursor[ACCESSLOGS_CURSOR_MAX + 1] = "";
    int64_t page_no = 1;
    struct ob_error err = {0};

    *apply = 0;
    if (slack_method_url(r->cfg, "team.accessLogs", base, sizeof(base)) != 0) {
        problem(p, RUN_HTTP, "slack access logs: api_url too long", "api_url");
        return wait_s;
    }
    for (int n = 0; n < ACCESSLOGS_MAX_PAGES && !r->done && !*stopping; n++) {
        struct slack_http_reply reply;
        struct accesslogs_page page;
        int rc;

        if (page_url(base, cursor, page_no, url, sizeof(url)) != 0 ||
            slack_get(url, al->access_logs_token.value, ACCESSLOGS_TIMEOUT_MS, ACCESSLOGS_BODY_MAX,
                      &reply) != 0) {
            problem(p, RUN_HTTP, "slack access logs: cannot build the request", "out of memory");
            return wait_s;
        }
        snprintf(status, sizeof(status), "HTTP %ld", reply.status);
        if (!reply.transport_ok) {
            problem(p, RUN_HTTP, "slack access logs: no answer", reply.errbuf);
            slack_http_reply_release(&reply);
            return wait_s;
        }
        if (reply.status == 429) {
            unsigned ra = retry_after_s(reply.retry_after);
            char ra_text[16];
            if (ra > wait_s)
                wait_s = ra;
            snprintf(ra_text, sizeof(ra_text), "%u", ra);
            problem(p, RUN_RATELIMITED, "slack access logs: rate limited (429), waiting",
                    "ratelimited");
            log_info("allowlist", "slack access logs: rate limited", "retry_after", ra_text,
                     "pages_applied", n > 0 ? "yes" : "none");
            slack_http_reply_release(&reply);
            *apply = 1; /* the complete pages before it */
            return wait_s;
        }
        if (reply.status < 200 || reply.status >= 300) {
            problem(p, RUN_HTTP, "slack access logs: HTTP error", status);
            slack_http_reply_release(&reply);
            return wait_s;
        }
        rc = reply.truncated ? ob_fail(&err, OB_EINVAL, "the answer is too large")
                             : accesslogs_parse(reply.body, reply.body_len, &page, &err);
        slack_http_reply_release(&reply);
        if (rc != 0) {
            problem(p, RUN_MALFORMED, "slack access logs: malformed page refused", err.msg);
            accesslogs_page_release(&page);
            return wait_s;
        }
        if (!page.ok) {
            problem(p, RUN_SLACK_ERROR, "slack access logs: slack refused", page.error);
            accesslogs_page_release(&page);
            return wait_s;
        }
        rc = run_take(r, &page);
        if (page.next_cursor[0] != '\0') {
            memcpy(cursor, page.next_cursor, sizeof(cursor));
        } else if (page.pages > page.page && page.page > 0 && page.count > 0) {
            page_no = page.page + 1;
            cursor[0] = '\0';
        } else {
            r->done = 1;
        }
        accesslogs_page_release(&page);
        if (rc != 0) {
            problem(p, RUN_HTTP, "slack access logs: out of memory", "out of memory");
            return wait_s;
        }
    }
    *apply = 1;
    atomic_fetch_add(&metric_runs[RUN_OK], 1);
    if (p->last_problem[0] != '\0')
        log_info("allowlist", "slack access logs: polling works again");
    p->last_problem[0] = '\0';
    return wait_s;
}

static unsigned poller_run(void *arg, const volatile int *stopping)
{
    struct accesslogs_poller *p = arg;
    struct run r = {0};
    unsigned wait_s = ACCESSLOGS_IDLE_S;
    size_t applied = 0;
    int apply = 0;

    r.cfg = app_config_get(p->app);
    if (!r.cfg->allowlist.access_logs_enabled)
        goto out;
    r.cutoff_s = store_now_ms() / 1000 - (int64_t)r.cfg->allowlist.freshness_seconds;
    wait_s = run_fetch(p, &r, &apply, stopping);
    for (size_t i = 0; apply && i < r.count && !*stopping; i++) {
        struct ob_error err = {0};
        const struct sighting *s = &r.list[i];
        if (access_allow_seen(p->app->store, r.cfg, s->user, s->ip, "slack", s->seen_ms,
                              s->user_agent[0] != '\0' ? s->user_agent : NULL, NULL, &err) == 0)
            applied++;
        else
            log_warn("allowlist", "slack access logs: sighting not recorded", "user", s->user,
                     "error", err.msg);
    }
    atomic_fetch_add(&metric_applied, applied);
    if (applied > 0) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", applied);
        log_debug("allowlist", "slack access logs applied", "sightings", n);
    }
out:
    atomic_store(&metric_wait_s, wait_s);
    free(r.list);
    config_unref(r.cfg);
    return wait_s;
}

int accesslogs_start(struct app *app, struct accesslogs_poller **out, struct ob_error *err)
{
    struct config *cfg = app_config_get(app);
    struct accesslogs_poller *p = NULL;
    int enabled = cfg->allowlist.access_logs_enabled, rc = 0;

    config_unref(cfg);
    *out = NULL;
    if (!enabled)
        return 0;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    p->app = app;
    rc = periodic_start(poller_run, p, "slack access logs poller", &p->thread, err);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void accesslogs_stop(struct accesslogs_poller *p)
{
    if (p == NULL)
        return;
    periodic_stop(p->thread);
    free(p);
}
