/*
 * agent_run.c - the agent's loop (docs/AGENT.md, "What the agent does").
 *
 *   start:  apply the cached state (after a reboot: the kernel lost every
 *           element; each comes back with its remaining time)
 *   poll:   GET with If-None-Match
 *     200   validate the whole document -> store it (with its ETag) -> apply
 *           -> report.  A refused document is reported and the previous
 *           state stays in force.
 *     304, unreachable, 5xx, 401/403
 *           re-apply the cached state (repairs an `nft flush ruleset`)
 *   wait:   poll_interval, or the state's poll_seconds when shorter; SIGINT/SIGTERM
 *           end the wait (and a transfer) at once.
 *
 * Exit never removes access: entries close by the kernel's timeouts.
 */
#include "agent/agent.h"

#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUB "agent"

struct runner {
    const struct agent_config *cfg;
    struct agent_applier *ap;
    int once;
    struct agent_state state; /* the state in force (valid when have_state) */
    int have_state;
    char etag[AGENT_ETAG_MAX + 1]; /* its ETag; "" sends no If-None-Match */
    int64_t fetched_at_ms;
    /* The last report the server took: not sent again until the outcome changes. */
    char reported_etag[AGENT_ETAG_MAX + 1];
    int reported_ok;
    int reported;
    /* The last problem logged, so that a server down for an hour is one line. */
    char last_problem[OB_ERROR_MSG_MAX];
    /* once: the line to print. */
    char failure[OB_ERROR_MSG_MAX + 64];
    int warning_only;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339(int64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&secs, &tm) == NULL)
        snprintf(out, cap, "-");
    else
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A failure: the daemon logs it once until it changes or clears; --once
 * keeps it for its one line. */
static void problem(struct runner *r, enum log_level level, const char *msg)
{
    if (r->once) {
        if (r->failure[0] == '\0' || (level == LOG_LEVEL_ERROR && r->warning_only)) {
            snprintf(r->failure, sizeof(r->failure), "%s", msg);
            r->warning_only = level != LOG_LEVEL_ERROR;
        }
        return;
    }
    if (strcmp(r->last_problem, msg) == 0)
        return;
    snprintf(r->last_problem, sizeof(r->last_problem), "%s", msg);
    log_emit(level, SUB, NULL, msg, (const char *)NULL);
}

static void problem_cleared(struct runner *r)
{
    if (r->last_problem[0] != '\0' && !r->once)
        log_info(SUB, "the server answers again");
    r->last_problem[0] = '\0';
}

static void report(struct runner *r, const char *etag, const char *const *applied, size_t n,
                   const char *error)
{
    struct ob_error err;
    int ok = error == NULL;

    if (r->reported && r->reported_ok == ok && strcmp(r->reported_etag, etag) == 0)
        return;
    ob_error_clear(&err);
    if (agent_http_report(r->cfg, etag, applied, n, error, &err) != 0) {
        log_warn(SUB, "the report was not taken; sent again after the next poll", "error", err.msg);
        return;
    }
    snprintf(r->reported_etag, sizeof(r->reported_etag), "%s", etag);
    r->reported_ok = ok;
    r->reported = 1;
}

/* Apply the state in force.  0 or the apply's code (err filled); *applied
 * (free the array) for the report. */
static int apply_state(struct runner *r, const char ***applied, size_t *n, struct ob_error *err)
{
    int rc;

    *applied = NULL;
    *n = 0;
    if (!r->have_state)
        return 0;
    rc = agent_apply(r->ap, &r->state, wall_ms(), applied, n, err);
    if (rc != 0) {
        char msg[OB_ERROR_MSG_MAX + 32];
        snprintf(msg, sizeof(msg), "apply failed: %s", err->msg);
        problem(r, LOG_LEVEL_ERROR, msg);
    }
    return rc;
}

/* Re-apply the state in force (after 304, an unreachable server, ...). */
static int reapply(struct runner *r, int report_it)
{
    const char **applied = NULL;
    struct ob_error err;
    size_t n = 0;
    int rc;

    ob_error_clear(&err);
    rc = apply_state(r, &applied, &n, &err);
    if (report_it && r->have_state)
        report(r, r->etag, applied, n, rc == 0 ? NULL : err.msg);
    free(applied);
    return rc;
}

static void log_applied(struct runner *r, const char *what, size_t applied)
{
    char entries[32], live[32], keys[32], krl[32], when[32];

    snprintf(entries, sizeof(entries), "%zu", r->state.entry_count);
    snprintf(live, sizeof(live), "%zu", applied);
    snprintf(keys, sizeof(keys), "%zu", r->state.key_count);
    snprintf(krl, sizeof(krl), "%zu", r->state.krl_len);
    rfc3339(r->fetched_at_ms, when, sizeof(when));
    log_info(SUB, what, "etag", r->etag, "fetched_at", when, "entries", entries, "in_force", live,
             "keys", keys, "ssh_ca", r->state.ssh_ca != NULL ? "yes" : "no", "krl_bytes", krl);
}

/* A 200: take the new document or refuse it whole. */
static int take_new(struct runner *r, struct agent_fetch *f)
{
    struct agent_state next;
    const char **applied = NULL;
    struct ob_error err;
    size_t n = 0;
    int rc;

    ob_error_clear(&err);
    rc = agent_state_parse(f->body, f->body_len, r->cfg->host, &next, &err);
    if (rc == 0)
        rc = agent_state_check_policy(&next, r->cfg->nftables.max_prefix_v4,
                                      r->cfg->nftables.max_prefix_v6, &err);
    if (rc != 0) {
        agent_state_release(&next);
        char msg[OB_ERROR_MSG_MAX + 96];

        snprintf(msg, sizeof(msg), "the server's state was refused (%s); %s", err.msg,
                 r->have_state ? "the previous state stays in force" : "nothing is applied");
        problem(r, LOG_LEVEL_ERROR, msg);
        reapply(r, 0);
        report(r, f->etag, NULL, 0, msg);
        return OB_EINVAL;
    }
    if (next.keys_dropped > 0) {
        char dropped[32];
        snprintf(dropped, sizeof(dropped), "%zu", next.keys_dropped);
        log_warn(SUB, "key lines this agent does not accept were left out", "count", dropped);
    }
    ob_error_clear(&err);
    if (agent_cache_store(r->cfg->state_dir, f->body, f->body_len, f->etag, wall_ms(), &err) != 0)
        log_error(SUB, "cannot store the state (applied anyway)", "error", err.msg);
    agent_state_release(&r->state);
    r->state = next;
    r->have_state = 1;
    r->fetched_at_ms = wall_ms();
    snprintf(r->etag, sizeof(r->etag), "%s", f->etag);
    ob_error_clear(&err);
    rc = apply_state(r, &applied, &n, &err);
    if (rc == 0)
        log_applied(r, "applied a new state", n);
    report(r, r->etag, applied, n, rc == 0 ? NULL : err.msg);
    free(applied);
    return rc;
}

/* One poll and what follows.  0 when the host holds the state it should
 * (new or unchanged), 1 when the poll was cut short by a stop signal, or a
 * negative code (the problem was recorded). */
static int poll_once(struct runner *r)
{
    struct agent_fetch f;
    struct ob_error err;
    char msg[OB_ERROR_MSG_MAX + 128];
    int rc;

    ob_error_clear(&err);
    rc = agent_http_fetch(r->cfg, r->etag, &f, &err);
    if (rc != 0) {
        problem(r, LOG_LEVEL_ERROR, err.msg);
        return rc;
    }
    switch (f.status) {
    case AGENT_FETCH_STOPPED:
        rc = 1;
        break;
    case AGENT_FETCH_NEW:
        problem_cleared(r);
        rc = take_new(r, &f);
        break;
    case AGENT_FETCH_NOT_MODIFIED:
        problem_cleared(r);
        if (!r->have_state) {
            /* Our ETag names nothing we hold: ask for the whole state next time. */
            r->etag[0] = '\0';
            problem(r, LOG_LEVEL_ERROR, "the server answered 304 but no state is cached");
            rc = OB_EINVAL;
            break;
        }
        log_debug(SUB, "state unchanged", "etag", r->etag);
        rc = reapply(r, 1);
        break;
    case AGENT_FETCH_UNAUTHORIZED:
    case AGENT_FETCH_FAILED:
        snprintf(msg, sizeof(msg), "%s; %s", err.msg,
                 r->have_state ? "the cached state stays in force" : "no cached state");
        problem(r, LOG_LEVEL_ERROR, msg);
        reapply(r, 0);
        rc = f.status == AGENT_FETCH_UNAUTHORIZED ? OB_EUNAUTH : OB_EIO;
        break;
    case AGENT_FETCH_UNAVAILABLE:
    default:
        if (r->have_state) {
            char when[32];
            rfc3339(r->fetched_at_ms, when, sizeof(when));
            snprintf(msg, sizeof(msg),
                     "the server is %s (%s); the cached state of %s stays in force",
                     f.http_code == 0 ? "unreachable" : "failing", err.msg, when);
            problem(r, LOG_LEVEL_WARN, msg);
            rc = reapply(r, 0) == 0 ? OB_EUNAVAILABLE : OB_EIO;
        } else {
            snprintf(msg, sizeof(msg), "the server is %s (%s) and no state is cached",
                     f.http_code == 0 ? "unreachable" : "failing", err.msg);
            problem(r, LOG_LEVEL_ERROR, msg);
            rc = OB_EIO;
        }
        break;
    }
    agent_fetch_release(&f);
    return rc;
}

/* The server's poll_seconds may ask for more frequent polls than the
 * configured poll_interval, never for fewer. */
static unsigned interval_of(const struct runner *r)
{
    if (r->have_state && r->state.poll_seconds > 0 &&
        r->state.poll_seconds < r->cfg->poll_interval_s)
        return r->state.poll_seconds;
    return r->cfg->poll_interval_s;
}

/* Wait up to secs for SIGINT/SIGTERM: 1 when one came. */
static int wait_for_stop(const sigset_t *set, unsigned secs)
{
    struct timespec end, now, left;

    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += secs;
    for (;;) {
        int sig;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            return 0;
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        sig = sigtimedwait(set, NULL, &left);
        if (sig == SIGINT || sig == SIGTERM)
            return 1;
        if (sig < 0 && errno != EINTR && errno != EAGAIN)
            return 0;
    }
}

static void load_cache(struct runner *r)
{
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = agent_cache_load(r->cfg->state_dir, r->cfg->host, &r->state, r->etag, sizeof(r->etag),
                          &r->fetched_at_ms, &err);
    if (rc == 0) {
        const char **applied = NULL;
        size_t n = 0;

        r->have_state = 1;
        ob_error_clear(&err);
        if (apply_state(r, &applied, &n, &err) == 0)
            log_applied(r, "applied the cached state", n);
        free(applied);
    } else if (rc == OB_ENOTFOUND) {
        log_info(SUB, "no cached state yet", "state_dir", r->cfg->state_dir);
    } else {
        log_warn(SUB, "ignoring the cached state", "error", err.msg);
    }
}

int agent_run(const struct agent_config *cfg, int once)
{
    struct runner r;
    struct ob_error err;
    sigset_t set;
    char secs[16];
    int rc, status = 0;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.once = once;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* --once speaks in one line at the end (log_level: debug shows more). */
    log_init(once && cfg->log_level != LOG_LEVEL_DEBUG ? LOG_LEVEL_ERROR : cfg->log_level, 2);
    ob_error_clear(&err);
    if (agent_applier_new(cfg, &r.ap, &err) != 0) {
        fprintf(stderr, "opsbell: %s\n", err.msg);
        return 1;
    }
    snprintf(secs, sizeof(secs), "%u", cfg->poll_interval_s);
    log_info(SUB, "agent starting", "server", cfg->server, "host", cfg->host, "state_dir",
             cfg->state_dir, "poll_interval_s", secs, "nftables",
             cfg->nftables.enabled ? "yes" : "no");
    if (strncmp(cfg->server, "http://", 7) == 0 && strncmp(cfg->server, "http://127.", 11) != 0 &&
        strncmp(cfg->server, "http://localhost", 16) != 0 &&
        strncmp(cfg->server, "http://[::1]", 12) != 0)
        log_warn(SUB, "the server is plain http: the agent token travels unencrypted");
    load_cache(&r);
    for (;;) {
        rc = poll_once(&r);
        if (rc == 1) {
            if (once) {
                fprintf(stderr, "opsbell: interrupted\n");
                status = 1;
            }
            break;
        }
        if (once) {
            if (rc == 0) {
                printf("applied state %s: %zu entries, %zu keys\n",
                       r.etag[0] != '\0' ? r.etag : "(no etag)", r.state.entry_count,
                       r.state.key_count);
            } else if (rc == OB_EUNAVAILABLE && r.have_state) {
                fprintf(stderr, "opsbell: warning: %s\n", r.failure);
            } else {
                fprintf(stderr, "opsbell: %s\n",
                        r.failure[0] != '\0' ? r.failure : "the state could not be applied");
                status = 1;
            }
            break;
        }
        if (wait_for_stop(&set, interval_of(&r)))
            break;
    }
    log_info(SUB, "agent stopping; access stays as applied (the kernel's timeouts close it)");
    agent_state_release(&r.state);
    agent_applier_free(r.ap);
    return status;
}
