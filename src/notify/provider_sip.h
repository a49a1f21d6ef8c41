/*
 * provider_sip.h - start and stop what the `sip` provider needs besides
 * the provider table entry: the SIP user agent (app->sip_agent) and the
 * worker thread that acts on keys pressed during calls (app->sip_voice).
 *
 * Both are started once at start-up when providers.sip is configured; the
 * agent's settings (listen, rtp_ports, credentials ...) need a restart to
 * change.  serve.c starts them before the dispatcher, stops them after the
 * engine and before the dispatcher (so that every call's outcome still
 * reaches notify_complete()), and frees them after the dispatcher.
 */
#ifndef OPSBELL_NOTIFY_PROVIDER_SIP_H
#define OPSBELL_NOTIFY_PROVIDER_SIP_H

struct app;
struct ob_error;

/* Nothing (0) when app->config has no providers.sip; else start the agent
 * and the worker.  Returns 0 or a negative code with err filled. */
int provider_sip_start(struct app *app, struct ob_error *err);

/* Stop the worker (after the action in progress), then the agent (its
 * calls end and report through notify_complete(), so before the
 * dispatcher stops).  Both stay allocated: a dispatcher worker still in
 * deliver() gets "stopping" rather than freed memory.  Safe when not
 * started. */
void provider_sip_stop(struct app *app);

/* Free both (after dispatcher_stop(): nobody calls deliver() any more).
 * Safe when not started; stops first if needed. */
void provider_sip_free(struct app *app);

#endif
