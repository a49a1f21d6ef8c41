/*
 * accesslogs.h - the Slack team.accessLogs poller (docs/ALLOWLIST.md): the
 * addresses people were seen at in Slack feed the allowlist.
 *
 * With opsbell.yaml `allowlist.slack_access_logs`, `opsbell serve` runs a
 * util/periodic thread that, every `interval`, GETs
 *   {providers.slack.api_url or https://slack.com/api}/team.accessLogs?count=1000
 *   Authorization: Bearer <slack_access_logs.token>   (a user token with admin scope)
 * and follows the pages (response_metadata.next_cursor, else paging.page /
 * pages; at most ACCESSLOGS_MAX_PAGES) until a page holds logins last seen
 * before now - allowlist.freshness.  Each fresh login of a Slack user
 * mapped through chat_ids becomes access_allow_seen(user, ip, "slack",
 * date_last, user_agent); unmapped users are ignored.
 *
 * Failures keep the allowlist as it is: an answer with ok:false (e.g.
 * not_allowed_token_type, paid_only, invalid_auth), a non-2xx status or no
 * answer ends the run without applying anything; a page that is not a
 * well-formed answer is refused as a whole and so is the run; HTTP 429
 * ends the run (the complete pages before it are applied) and the next run
 * waits at least Retry-After.  Each kind of failure is logged at warn once
 * per change (the error's name, never the token) and counted in
 * opsbell_slack_access_logs_runs_total{result}.
 *
 * accesslogs_parse() is pure (unit-tested and fuzzed: fuzz/fuzz_access_logs.c).
 */
#ifndef OPSBELL_ACCESS_ACCESSLOGS_H
#define OPSBELL_ACCESS_ACCESSLOGS_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct ob_error;
struct strbuf;

#define ACCESSLOGS_PAGE_COUNT 1000 /* count= per page: Slack's maximum */
#define ACCESSLOGS_MAX_PAGES  100  /* Slack refuses more (over_pagination_limit) */
#define ACCESSLOGS_ID_MAX     32
#define ACCESSLOGS_IP_MAX     63
#define ACCESSLOGS_UA_MAX     255
#define ACCESSLOGS_CURSOR_MAX 511
#define ACCESSLOGS_BODY_MAX   (16 * 1024 * 1024) /* bytes of one page's JSON */
#define ACCESSLOGS_TIMEOUT_MS 30000L

/* One login of a Slack user from one address. */
struct accesslogs_sighting {
    char user_id[ACCESSLOGS_ID_MAX + 1];    /* U…/W…: a Slack user id */
    char ip[ACCESSLOGS_IP_MAX + 1];         /* one IPv4 or IPv6 address, as Slack wrote it */
    int64_t date_first;                     /* epoch seconds */
    int64_t date_last;                      /* epoch seconds, >= 0 */
    char user_agent[ACCESSLOGS_UA_MAX + 1]; /* printable ASCII ('?' for others), clipped; "" */
};

/* One page of the answer. */
struct accesslogs_page {
    int ok;                            /* Slack's "ok" */
    char error[64];                    /* ok false: Slack's error code, printable */
    struct accesslogs_sighting *items; /* malloc'd; count entries */
    size_t count;
    char next_cursor[ACCESSLOGS_CURSOR_MAX + 1]; /* "" when none */
    int64_t page, pages;                         /* paging.page / pages; 0 when absent */
};

/*
 * Read one team.accessLogs answer (json: len bytes, need not be
 * NUL-terminated).  0 with *out filled: ok true (items, cursor, paging) or
 * ok false (error; no items).  OB_EINVAL, the message says what (never the
 * text itself), and *out empty: not a JSON object, "ok" not a boolean, no
 * `logins` array or one longer than ACCESSLOGS_PAGE_COUNT, a login that is
 * not an object with a Slack user id, an address (no network) as `ip` and
 * integer date_first / date_last >= 0, a user_agent that is not a string,
 * a cursor that is not base64-like text of at most ACCESSLOGS_CURSOR_MAX
 * bytes, paging numbers that are not non-negative integers.  OB_ENOMEM.
 * Release with accesslogs_page_release (also after a failure).
 */
int accesslogs_parse(const char *json, size_t len, struct accesslogs_page *out,
                     struct ob_error *err);
void accesslogs_page_release(struct accesslogs_page *page);

/* ---- the poller ---------------------------------------------------------------- */

struct accesslogs_poller;

/*
 * Start the poller for app (which must outlive it) when the configuration
 * has `allowlist.slack_access_logs`; else *out = NULL and 0.  Each run
 * reads the configuration in force (a reload may change the interval,
 * token or freshness; removing the section idles the thread).
 */
int accesslogs_start(struct app *app, struct accesslogs_poller **out, struct ob_error *err);
/* Stop and free (waits for a run in progress).  Accepts NULL. */
void accesslogs_stop(struct accesslogs_poller *p);

/* Append the poller's metrics (Prometheus text): runs by result, logins
 * applied, and the wait chosen after the last run. */
void accesslogs_render_metrics(struct strbuf *out);

#endif
