/*
 * provider_sip.c - the `sip` provider: phone calls through the SIP user
 * agent (sip/sip.h).  Contact type `sip` (the address is a sip:/sips: URI)
 * when providers.sip is configured, and `voice` (an E.164 number, called
 * as sip:+NUMBER@trunk) when providers.sip.trunk is set too.
 *
 * deliver() places the call and returns NOTIFY_PENDING with the Call-ID as
 * the row's external_id; the call says
 *
 *   "opsbell alert, incident 42, <summary>. Press 1 to acknowledge,
 *    2 to escalate, 9 to repeat."
 *
 * (three times at most), and the outcome comes later through
 * notify_complete(): acknowledged (key 1 acknowledged the incident),
 * answered (answered without an acknowledgement: the escalation goes on),
 * busy (486/600/603), no-answer (408/480/ring timeout), failed-temporary
 * (5xx, no response), failed-permanent (404, 484, no usable audio ...).
 * A "verify" row says its message twice and ends answered.
 *
 * Keys arrive on the SIP thread, which must never wait on the database:
 * they go to this provider's own worker thread (struct sip_voice), which
 * runs incident_act() and answers on the call with sip_call_say():
 *   1 -> acknowledge ("Incident 42 acknowledged. Goodbye.", hang up)
 *   2 -> escalate ("Incident 42 escalated. Goodbye.", hang up)
 *   9 -> the prompt again; anything else -> "Sorry, that key is not in
 *   the menu." and the menu.
 * A call that ends while one of its keys is still being acted on reports
 * its outcome after the action, so an acknowledgement is never lost from
 * the notification's outcome.
 */
#include "notify/notify_internal.h"
#include "notify/provider_sip.h"

#include "config/config.h"
#include "daemon/app.h"
#include "engine/action.h"
#include "sip/sip.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIP_MENU         "Press 1 to acknowledge, 2 to escalate, 9 to repeat."
#define SIP_SUMMARY_MAX  300 /* bytes of the summary spoken */
#define SIP_PROMPT_PLAYS 3

/* One placed call. Guarded by sip_voice.lock: refs, jobs, done, acked. */
struct sip_page {
    struct sip_voice *voice;
    int64_t notification_id;
    int64_t attempt;
    int64_t incident_id;
    int verify;
    char call_id[128]; /* set under the lock by deliver() or on_done */
    char user[128];
    char remote[600]; /* the URI called: the remote_addr of actions */
    char prompt[800];
    unsigned refs; /* the agent's (until on_done) + one per queued job */
    unsigned jobs; /* keys queued or being acted on */
    int done;      /* on_done came: result holds the outcome */
    int acked;     /* key 1 acknowledged the incident */
    int completed; /* notify_complete() was called */
    struct sip_call_result result;
};

struct sip_job {
    struct sip_job *next;
    struct sip_page *page; /* one reference */
    uint64_t call;
    char key;
};

struct sip_voice {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sip_job *head, *tail;
    int stopping;
    int joined; /* provider_sip_stop() ran (main thread only) */
};

static enum notify_outcome sip_notify_outcome(const struct sip_page *p)
{
    switch (p->result.outcome) {
    case SIP_OUTCOME_ANSWERED:
        return p->acked ? NOTIFY_ACKNOWLEDGED : NOTIFY_ANSWERED;
    case SIP_OUTCOME_BUSY:
        return NOTIFY_BUSY;
    case SIP_OUTCOME_NO_ANSWER:
        return NOTIFY_NO_ANSWER;
    case SIP_OUTCOME_FAILED_PERMANENT:
        return p->acked ? NOTIFY_ACKNOWLEDGED : NOTIFY_FAILED_PERMANENT;
    case SIP_OUTCOME_TIMEOUT:
    case SIP_OUTCOME_FAILED_TEMPORARY:
        break;
    }
    return p->acked ? NOTIFY_ACKNOWLEDGED : NOTIFY_FAILED_TEMPORARY;
}

/* Under voice->lock: report the outcome once the call is over and no key
 * is still being acted on.  Returns 1 when the caller must complete. */
static int sip_page_ready(struct sip_page *p)
{
    if (!p->done || p->jobs > 0 || p->completed)
        return 0;
    p->completed = 1;
    return 1;
}

static void sip_page_complete(struct sip_page *p)
{
    enum notify_outcome outcome = sip_notify_outcome(p);
    char detail[256];

    snprintf(detail, sizeof(detail), "%s%s", p->result.detail,
             p->acked ? "; acknowledged with key 1" : "");
    log_info("sip", "call outcome", "call_id", p->call_id, "outcome", notify_outcome_state(outcome),
             "detail", detail);
    notify_complete(p->voice->app, p->notification_id, p->attempt, outcome, detail);
}

/* Under voice->lock. Returns 1 when the last reference went (free it
 * after unlocking). */
static int sip_page_unref_locked(struct sip_page *p)
{
    return --p->refs == 0;
}

/* One of a page's two halves (the call's end, a key's action) is done:
 * complete the page when it was the last (complete), drop its reference. */
static void sip_page_step_done(struct sip_voice *v, struct sip_page *p, int complete)
{
    int last;

    if (complete)
        sip_page_complete(p);
    pthread_mutex_lock(&v->lock);
    last = sip_page_unref_locked(p);
    pthread_mutex_unlock(&v->lock);
    if (last)
        free(p);
}

/* ---- the worker: keys to actions ---- */

/* p->call_id may still be written by deliver(): copy it under the lock. */
static void sip_page_call_id(struct sip_page *p, char *out, size_t cap)
{
    pthread_mutex_lock(&p->voice->lock);
    snprintf(out, cap, "%s", p->call_id);
    pthread_mutex_unlock(&p->voice->lock);
}

static void sip_say(struct sip_page *p, uint64_t call, const char *text, int hang_up)
{
    struct sip_agent *agent = p->voice->app->sip_agent;
    int rc = agent != NULL ? sip_call_say(agent, call, text, hang_up) : OB_EUNAVAILABLE;
    char call_id[128];

    if (rc != 0) {
        sip_page_call_id(p, call_id, sizeof(call_id));
        log_warn("sip", "cannot speak on the call", "call_id", call_id, "error", ob_strerror(rc));
    }
}

static void sip_act(struct sip_page *p, uint64_t call, enum incident_action action)
{
    struct incident_action_request req;
    struct ob_error err;
    char actor[160], text[200], call_id[128];
    const char *done_word = action == INCIDENT_ACK ? "acknowledged" : "escalated";
    int rc;

    memset(&req, 0, sizeof(req));
    snprintf(actor, sizeof(actor), "user:%s", p->user);
    req.incident_id = p->incident_id;
    req.action = action;
    req.actor = actor;
    req.remote_addr = p->remote;
    ob_error_clear(&err);
    sip_page_call_id(p, call_id, sizeof(call_id));
    rc = incident_act(p->voice->app, &req, NULL, &err);
    if (rc == 0) {
        if (action == INCIDENT_ACK) {
            pthread_mutex_lock(&p->voice->lock);
            p->acked = 1;
            pthread_mutex_unlock(&p->voice->lock);
        }
        log_info("sip", "incident action from a phone key", "call_id", call_id, "action",
                 incident_action_kind(action), "actor", actor);
        snprintf(text, sizeof(text), "Incident %lld %s. Goodbye.", (long long)p->incident_id,
                 done_word);
        sip_say(p, call, text, 1);
        return;
    }
    log_warn("sip", "incident action from a phone key failed", "call_id", call_id, "action",
             incident_action_kind(action), "error", err.msg);
    if (rc == OB_ECONFLICT || rc == OB_ENOTFOUND) {
        snprintf(text, sizeof(text), "Incident %lld cannot be %s: it is %s. Goodbye.",
                 (long long)p->incident_id, done_word,
                 rc == OB_ENOTFOUND                ? "gone"
                 : strstr(err.msg, "resolved")     ? "already resolved"
                 : strstr(err.msg, "acknowledged") ? "already acknowledged"
                                                   : "not in a state that allows it");
        sip_say(p, call, text, 1);
    } else {
        sip_say(p, call, "Sorry, that did not work. Please try again. " SIP_MENU, 0);
    }
}

static void sip_job_run(struct sip_job *j)
{
    struct sip_page *p = j->page;

    switch (j->key) {
    case '1':
        sip_act(p, j->call, INCIDENT_ACK);
        break;
    case '2':
        sip_act(p, j->call, INCIDENT_ESCALATE);
        break;
    case '9':
        sip_say(p, j->call, p->prompt, 0);
        break;
    default:
        sip_say(p, j->call, "Sorry, that key is not in the menu. " SIP_MENU, 0);
        break;
    }
}

/* A job is over (run or dropped): release what it held. */
static void sip_job_finish(struct sip_voice *v, struct sip_job *j)
{
    struct sip_page *p = j->page;
    int complete;

    pthread_mutex_lock(&v->lock);
    p->jobs--;
    complete = sip_page_ready(p);
    pthread_mutex_unlock(&v->lock);
    sip_page_step_done(v, p, complete);
    free(j);
}

static void *sip_worker(void *arg)
{
    struct sip_voice *v = arg;

    for (;;) {
        struct sip_job *j;

        pthread_mutex_lock(&v->lock);
        while (v->head == NULL && !v->stopping)
            pthread_cond_wait(&v->cond, &v->lock);
        if (v->head == NULL) {
            pthread_mutex_unlock(&v->lock);
            return NULL;
        }
        j = v->head;
        v->head = j->next;
        if (v->head == NULL)
            v->tail = NULL;
        pthread_mutex_unlock(&v->lock);
        sip_job_run(j);
        sip_job_finish(v, j);
    }
}

/* ---- callbacks from the SIP thread (never block) ---- */

static void sip_on_key(void *arg, uint64_t call, char key)
{
    struct sip_page *p = arg;
    struct sip_voice *v = p->voice;
    struct sip_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return;
    j->page = p;
    j->call = call;
    j->key = key;
    pthread_mutex_lock(&v->lock);
    if (v->stopping || p->verify) {
        pthread_mutex_unlock(&v->lock);
        free(j);
        return;
    }
    p->refs++;
    p->jobs++;
    if (v->tail != NULL)
        v->tail->next = j;
    else
        v->head = j;
    v->tail = j;
    pthread_cond_signal(&v->cond);
    pthread_mutex_unlock(&v->lock);
}

static void sip_on_done(void *arg, uint64_t call, const struct sip_call_result *r)
{
    struct sip_page *p = arg;
    struct sip_voice *v = p->voice;
    int complete;

    pthread_mutex_lock(&v->lock);
    p->result = *r;
    snprintf(p->call_id, sizeof(p->call_id), "%s", r->call_id);
    p->done = 1;
    complete = sip_page_ready(p);
    pthread_mutex_unlock(&v->lock);
    sip_page_step_done(v, p, complete);
}

/* ---- the provider ---- */

static int sip_handles(const struct config *cfg, const char *type)
{
    const struct config_sip *s = &cfg->providers.sip;

    if (!s->enabled)
        return 0;
    return strcmp(type, "sip") == 0 || (strcmp(type, "voice") == 0 && s->trunk != NULL);
}

/* Append text to out (cap bytes) with control characters as spaces. */
static void sip_clean(char *out, size_t cap, const char *text, size_t max)
{
    size_t n = 0;

    for (; text != NULL && *text != '\0' && n + 1 < cap && n < max; text++)
        out[n++] = (unsigned char)*text < 0x20 || *text == 0x7f ? ' ' : *text;
    out[n] = '\0';
}

static enum notify_outcome sip_deliver(struct notify_attempt *a)
{
    const struct outbox_row *row = a->row;
    struct sip_agent *agent = a->app != NULL ? a->app->sip_agent : NULL;
    struct sip_voice *voice = a->app != NULL ? a->app->sip_voice : NULL;
    struct sip_call_request req;
    struct sip_page *p;
    struct ob_error err;
    char summary[SIP_SUMMARY_MAX + 1], call_id[128];
    uint64_t call;
    int rc, last;

    if (agent == NULL || voice == NULL) {
        snprintf(a->detail, sizeof(a->detail),
                 "the SIP agent is not running (providers.sip takes effect at restart)");
        return NOTIFY_FAILED_TEMPORARY;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(a->detail, sizeof(a->detail), "out of memory");
        return NOTIFY_FAILED_TEMPORARY;
    }
    p->voice = voice;
    p->notification_id = row->id;
    p->attempt = row->attempts;
    p->verify = a->inc == NULL || (row->kind != NULL && strcmp(row->kind, "verify") == 0);
    p->incident_id = a->inc != NULL ? a->inc->id : 0;
    snprintf(p->user, sizeof(p->user), "%s", row->user_name != NULL ? row->user_name : "");
    rc = sip_target_uri(row->address, a->cfg->providers.sip.trunk, p->remote, sizeof(p->remote));
    if (rc != 0) {
        snprintf(a->detail, sizeof(a->detail), "'%.200s' is not a SIP URI%s", row->address,
                 a->cfg->providers.sip.trunk != NULL ? " or an E.164 number"
                                                     : " (no providers.sip.trunk for numbers)");
        free(p);
        return NOTIFY_FAILED_PERMANENT;
    }
    if (p->verify) {
        sip_clean(p->prompt, sizeof(p->prompt), a->message != NULL ? a->message : "", 600);
    } else {
        sip_clean(summary, sizeof(summary), a->inc->summary, SIP_SUMMARY_MAX);
        snprintf(p->prompt, sizeof(p->prompt), "opsbell alert, incident %lld, %s. " SIP_MENU,
                 (long long)a->inc->id, summary);
    }
    memset(&req, 0, sizeof(req));
    req.to_uri = p->remote;
    req.prompt = p->prompt[0] != '\0' ? p->prompt : "opsbell.";
    req.prompt_plays = p->verify ? 2 : SIP_PROMPT_PLAYS;
    req.on_key = p->verify ? NULL : sip_on_key;
    req.on_done = sip_on_done;
    req.arg = p;
    /* The agent's reference (dropped in on_done, which may run on the SIP
     * thread before sip_call_place() returns) and ours, until we are done
     * with p here. */
    p->refs = 2;
    ob_error_clear(&err);
    rc = sip_call_place(agent, &req, &call, call_id, sizeof(call_id), &err);
    if (rc != 0) {
        snprintf(a->detail, sizeof(a->detail), "%s", err.msg);
        free(p); /* no callback will come */
        return rc == OB_EINVAL ? NOTIFY_FAILED_PERMANENT : NOTIFY_FAILED_TEMPORARY;
    }
    snprintf(a->external_id, sizeof(a->external_id), "%s", call_id);
    snprintf(a->detail, sizeof(a->detail), "calling %.400s", p->remote);
    pthread_mutex_lock(&voice->lock);
    if (p->call_id[0] == '\0')
        snprintf(p->call_id, sizeof(p->call_id), "%s", call_id);
    last = sip_page_unref_locked(p);
    pthread_mutex_unlock(&voice->lock);
    if (last)
        free(p);
    return NOTIFY_PENDING;
}

const struct notify_provider notify_provider_sip = {
    .name = "sip",
    .handles = sip_handles,
    .deliver = sip_deliver,
    .verifies = 1,
};

/* ---- start and stop (provider_sip.h) ---- */

int provider_sip_start(struct app *app, struct ob_error *err)
{
    const struct config_sip *s = &app->config->providers.sip;
    struct sip_agent_config ac;
    struct sip_voice *v;
    int rc;

    if (!s->enabled)
        return 0;
    memset(&ac, 0, sizeof(ac));
    ac.listen_host = s->listen_host;
    ac.listen_port = s->listen_port;
    ac.from_uri = s->from_uri;
    ac.outbound_proxy = s->outbound_proxy;
    ac.username = s->username;
    ac.password = s->password.value;
    ac.password_len = s->password.len;
    ac.ring_timeout_ms = s->ring_timeout_ms;
    ac.max_call_ms = s->max_call_ms;
    ac.rtp_port_min = s->rtp_port_min;
    ac.rtp_port_max = s->rtp_port_max;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    v->app = app;
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    if (pthread_create(&v->thread, NULL, sip_worker, v) != 0) {
        pthread_mutex_destroy(&v->lock);
        pthread_cond_destroy(&v->cond);
        free(v);
        return ob_fail(err, OB_EINTERNAL, "cannot start the SIP key worker");
    }
    app->sip_voice = v;
    rc = sip_agent_start(&ac, &app->sip_agent, err);
    if (rc != 0)
        provider_sip_free(app);
    return rc;
}

void provider_sip_stop(struct app *app)
{
    struct sip_voice *v = app->sip_voice;
    struct sip_job *j;

    if (v != NULL && !v->joined) {
        pthread_mutex_lock(&v->lock);
        v->stopping = 1;
        j = v->head; /* keys not acted on: dropped */
        v->head = v->tail = NULL;
        pthread_cond_broadcast(&v->cond);
        pthread_mutex_unlock(&v->lock);
        pthread_join(v->thread, NULL);
        v->joined = 1;
        while (j != NULL) {
            struct sip_job *next = j->next;
            sip_job_finish(v, j);
            j = next;
        }
    }
    /* Calls still up end now; their on_done reports through the dispatcher. */
    sip_agent_stop(app->sip_agent);
}

void provider_sip_free(struct app *app)
{
    struct sip_voice *v = app->sip_voice;

    provider_sip_stop(app);
    sip_agent_free(app->sip_agent);
    app->sip_agent = NULL;
    if (v != NULL) {
        pthread_mutex_destroy(&v->lock);
        pthread_cond_destroy(&v->cond);
        free(v);
        app->sip_voice = NULL;
    }
}
