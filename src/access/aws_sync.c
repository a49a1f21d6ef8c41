/*
 * aws_sync.c - the AWS security group follows the grants (aws_sync.h): a
 * periodic thread that plans (aws_sync_plan, pure) and applies the rule
 * changes one run at a time, woken early by aws_sync_kick().
 */
#include "access/aws_sync.h"

#include "access/access.h"
#include "config/config.h"
#include "enforce/aws.h"
#include "enforce/enforce.h"
#include "util/error.h"
#include "util/log.h"
#include "util/periodic.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct aws_sync {
    struct store *store;
    aws_sync_config_fn get_config;
    void *ctx;
    unsigned interval_s;

    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    int kicked;          /* under lock */
    int stopping;        /* under lock */
    unsigned runs;       /* under lock */

    struct periodic *thread;
};

/* The one sync of the process, for aws_sync_kick(). */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aws_sync *current;

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the plan (pure) ------------------------------------------------------------- */

int aws_sync_managed_id(const char *id)
{
    return id != NULL && (strncmp(id, "grant:", 6) == 0 || strncmp(id, "allow:", 6) == 0);
}

static int rule_on_port(const struct aws_rule *r, unsigned port)
{
    return strcmp(r->protocol, "tcp") == 0 && r->from_port == (int)port && r->to_port == (int)port;
}

void aws_sync_plan_release(struct aws_sync_plan *p)
{
    if (p == NULL)
        return;
    free(p->revoke);
    free(p->authorize);
    memset(p, 0, sizeof(*p));
}

int aws_sync_plan(const struct access_entry *wanted, size_t n, const struct aws_rule *rules,
                  size_t nrules, unsigned port, int64_t now_ms, struct aws_sync_plan *out)
{
    char(*rule_cidr)[CIDR_TEXT_MAX] = NULL, (*want_cidr)[CIDR_TEXT_MAX] = NULL;
    int *revoking = NULL, *usable = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->revoke = calloc(nrules + 1, sizeof(*out->revoke));
    out->authorize = calloc(n + 1, sizeof(*out->authorize));
    rule_cidr = calloc(nrules + 1, sizeof(*rule_cidr));
    want_cidr = calloc(n + 1, sizeof(*want_cidr));
    revoking = calloc(nrules + 1, sizeof(*revoking));
    usable = calloc(n + 1, sizeof(*usable));
    if (out->revoke == NULL || out->authorize == NULL || rule_cidr == NULL || want_cidr == NULL ||
        revoking == NULL || usable == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < n; j++)
        usable[j] = wanted[j].expires_at_ms > now_ms &&
                    aws_cidr_normalise(wanted[j].cidr, want_cidr[j], CIDR_TEXT_MAX, NULL) > 0;
    for (size_t i = 0; i < nrules; i++) {
        char id[AWS_DESC_MAX + 1];
        int64_t expires;
        int keep = 0;

        if (aws_cidr_normalise(rules[i].cidr, rule_cidr[i], CIDR_TEXT_MAX, NULL) <= 0)
            rule_cidr[i][0] = '\0';
        if (aws_description_parse(rules[i].description, id, sizeof(id), &expires) != 0 ||
            !aws_sync_managed_id(id))
            continue; /* someone else's, or an operator's: never ours to close */
        /* Wanted: the same id for the same address. */
        for (size_t j = 0; j < n && !keep; j++)
            keep = usable[j] && strcmp(wanted[j].id, id) == 0 &&
                   strcmp(want_cidr[j], rule_cidr[i]) == 0;
        if (!keep) {
            revoking[i] = 1;
            out->revoke[out->revoke_count++] = i;
        }
    }
    for (size_t j = 0; j < n; j++) {
        int64_t want_s = wanted[j].expires_at_ms / 1000 * 1000, have_s;
        const struct aws_rule *found = NULL;
        int best = usable[j];

        /* One rule per address: the entry that expires last (first on a tie) opens it. */
        for (size_t k = 0; k < n && best; k++) {
            if (k == j || !usable[k] || strcmp(want_cidr[k], want_cidr[j]) != 0)
                continue;
            if (wanted[k].expires_at_ms / 1000 > wanted[j].expires_at_ms / 1000 ||
                (k < j && wanted[k].expires_at_ms / 1000 == wanted[j].expires_at_ms / 1000))
                best = 0;
        }
        if (!best)
            continue;
        for (size_t i = 0; i < nrules && found == NULL; i++) {
            if (!revoking[i] && rule_on_port(&rules[i], port) &&
                strcmp(rule_cidr[i], want_cidr[j]) == 0)
                found = &rules[i];
        }
        if (found != NULL && (aws_description_parse(found->description, NULL, 0, &have_s) != 0 ||
                              have_s >= want_s)) {
            out->in_place++; /* someone else's rule opens it anyway, or ours lasts long enough */
            continue;
        }
        out->authorize[out->authorize_count++] = j; /* missing, or ours expires too early */
    }
out:
    free(rule_cidr);
    free(want_cidr);
    free(revoking);
    free(usable);
    if (rc != 0)
        aws_sync_plan_release(out);
    return rc;
}

/* ---- one run ------------------------------------------------------------------------ */

/* Has aws_sync_stop() begun?  Checked between EC2 calls, so that a stop
 * waits for one call at most (each is bounded by the context's timeout). */
static int sync_stopping(struct aws_sync *s)
{
    int stop;

    pthread_mutex_lock(&s->lock);
    stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static void params_from_config(const struct config_enforcer_aws *a, struct aws_params *p)
{
    memset(p, 0, sizeof(*p));
    p->region = a->region;
    p->security_group_id = a->security_group_id;
    p->endpoint = a->endpoint;
    p->access_key_id = a->access_key_id;
    p->secret_access_key = a->secret_access_key.value;
    p->secret_access_key_len = a->secret_access_key.len;
    p->session_token = a->session_token.value;
    p->port = a->port;
}

static void apply_revokes(struct aws_sync *s, struct aws_ctx *ctx,
                          const struct aws_rule_list *rules, const struct aws_sync_plan *plan)
{
    const char *group = ctx->p.security_group_id;

    for (size_t k = 0; k < plan->revoke_count && !sync_stopping(s); k++) {
        const struct aws_rule *r = &rules->items[plan->revoke[k]];
        struct ob_error err = {0};
        int rc = aws_revoke(ctx, r->rule_id, &err);

        if (rc == 0 || rc == OB_ENOTFOUND)
            log_info("aws", "rule revoked: no longer granted", "group", group, "rule", r->rule_id,
                     "cidr", r->cidr, "description", r->description);
        else
            log_warn("aws", "cannot revoke a rule no longer granted", "group", group, "rule",
                     r->rule_id, "cidr", r->cidr, "error", err.msg);
    }
}

/* Returns the number of entries the rules quota left closed. */
static size_t apply_authorizes(struct aws_sync *s, struct aws_ctx *ctx,
                               const struct access_entry *wanted, const struct aws_sync_plan *plan)
{
    const char *group = ctx->p.security_group_id;

    for (size_t k = 0; k < plan->authorize_count && !sync_stopping(s); k++) {
        const struct access_entry *e = &wanted[plan->authorize[k]];
        struct aws_authorize_result res;
        struct ob_error err = {0};
        char until[32], left[24];
        time_t secs = (time_t)(e->expires_at_ms / 1000);
        struct tm tm;
        int rc = aws_authorize(ctx, e, &res, &err);

        gmtime_r(&secs, &tm);
        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (rc == OB_ETOOLARGE) {
            /* The group is full: nothing more opens until rules go. */
            snprintf(left, sizeof(left), "%zu", plan->authorize_count - k);
            log_error("aws",
                      "security group rules quota reached: SSH not opened for the grants and "
                      "allowlist entries left (revoke rules or raise the quota)",
                      "group", group, "entry", e->id, "cidr", e->cidr, "not_opened", left, "error",
                      err.msg);
            return plan->authorize_count - k;
        }
        if (rc != 0)
            log_warn("aws", "cannot open SSH for an entry", "group", group, "entry", e->id, "cidr",
                     e->cidr, "error", err.msg);
        else if (res.foreign)
            log_info("aws", "already open by a rule that is not opsbell's", "group", group, "entry",
                     e->id, "cidr", e->cidr, "rule", res.rule_id);
        else
            log_info("aws", res.extended ? "rule extended" : "rule authorized", "group", group,
                     "entry", e->id, "cidr", e->cidr, "until", until, "rule", res.rule_id);
    }
    return 0;
}

static void sync_once(struct aws_sync *s)
{
    struct config *cfg = s->get_config(s->ctx);
    const struct config_enforcer_aws *a;
    struct access_entry *wanted = NULL;
    struct aws_rule_list rules = {0};
    struct aws_sync_plan plan = {0};
    struct aws_params params;
    struct aws_ctx ctx;
    struct ob_error err = {0};
    int64_t now = wall_ms();
    size_t n = 0;
    int have_ctx = 0;

    if (cfg == NULL)
        return;
    a = &cfg->enforcers.aws;
    if (!a->enabled)
        goto out;
    if (access_entries_for_group(s->store, cfg, a->host_group, now, &wanted, &n, &err) != 0) {
        log_warn("aws", "sync: cannot read the grants in force", "group", a->security_group_id,
                 "host_group", a->host_group, "error", err.msg);
        goto out;
    }
    params_from_config(a, &params);
    if (aws_ctx_init(&ctx, &params, &err) != 0) {
        log_warn("aws", "sync failed", "group", a->security_group_id, "error", err.msg);
        goto out;
    }
    have_ctx = 1;
    if (aws_list(&ctx, &rules, &err) != 0) {
        log_warn("aws", "sync: cannot list the group's rules", "group", a->security_group_id,
                 "error", err.msg);
        goto out;
    }
    if (aws_sync_plan(wanted, n, rules.items, rules.count, a->port, now, &plan) != 0) {
        log_warn("aws", "sync: out of memory", "group", a->security_group_id);
        goto out;
    }
    if (plan.revoke_count == 0 && plan.authorize_count == 0) {
        char count[24];
        snprintf(count, sizeof(count), "%zu", plan.in_place);
        log_debug("aws", "sync: in step", "group", a->security_group_id, "open", count);
        goto out;
    }
    apply_revokes(s, &ctx, &rules, &plan);
    apply_authorizes(s, &ctx, wanted, &plan);
out:
    aws_sync_plan_release(&plan);
    aws_rule_list_release(&rules);
    if (have_ctx)
        aws_ctx_release(&ctx);
    free(wanted);
    config_unref(cfg);
}

/* ---- the thread ---------------------------------------------------------------------- */

static int passed(const struct timespec *until)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > until->tv_sec ||
           (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

/*
 * One run, then wait here (not in periodic) so that a kick cuts the wait
 * short; 0 asks periodic for the next run at once.  Once aws_sync_stop()
 * began, return a long wait instead: periodic's own stop ends it.
 */
static unsigned sync_run(void *arg, const volatile int *stopping)
{
    struct aws_sync *s = arg;
    struct timespec until;
    int stop;

    if (!sync_stopping(s) && !*stopping)
        sync_once(s);
    pthread_mutex_lock(&s->lock);
    s->runs++;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->interval_s;
    while (!s->kicked && !s->stopping && !passed(&until))
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
    s->kicked = 0;
    stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop ? 3600 : 0;
}

static void sync_free(struct aws_sync *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int aws_sync_start(struct store *store, aws_sync_config_fn get_config, void *ctx,
                   unsigned interval_s, struct aws_sync **out, struct ob_error *err)
{
    struct aws_sync *s;
    pthread_condattr_t attr;
    int rc;

    *out = NULL;
    if (store == NULL || get_config == NULL || interval_s == 0)
        return ob_fail(err, OB_EINVAL, "aws sync: incomplete settings");
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    s->store = store;
    s->get_config = get_config;
    s->ctx = ctx;
    s->interval_s = interval_s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);

    pthread_mutex_lock(&current_lock);
    if (current != NULL) {
        pthread_mutex_unlock(&current_lock);
        sync_free(s);
        return ob_fail(err, OB_ECONFLICT, "an AWS sync thread runs already");
    }
    rc = periodic_start(sync_run, s, "aws sync", &s->thread, err);
    if (rc == 0)
        current = s;
    pthread_mutex_unlock(&current_lock);
    if (rc != 0) {
        sync_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void aws_sync_kick(void)
{
    pthread_mutex_lock(&current_lock);
    if (current != NULL) {
        pthread_mutex_lock(&current->lock);
        current->kicked = 1;
        pthread_cond_signal(&current->wake);
        pthread_mutex_unlock(&current->lock);
    }
    pthread_mutex_unlock(&current_lock);
}

unsigned aws_sync_runs(struct aws_sync *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->runs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void aws_sync_stop(struct aws_sync *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&current_lock);
    if (current == s)
        current = NULL;
    pthread_mutex_unlock(&current_lock);
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    periodic_stop(s->thread); /* waits for the run in progress */
    sync_free(s);
}
