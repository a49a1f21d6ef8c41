/*
 * breakglass_chat.h - break-glass grants in the team's Slack channel
 * (docs/CHATOPS.md, "Break-glass in the channel").
 *
 * The notifier (access_set_notifier, installed by serve.c) posts one
 * chat.postMessage to the grant's team `chat_channel` for every event: a
 * request waiting for an approver carries Approve / Deny buttons (action_ids
 * breakglass_approve / breakglass_deny, value = the grant id), the others
 * (opened, denied, revoked, expired, applied on HOST) are text.  Nothing is
 * posted when providers.slack is not enabled or the team has no channel.
 * It never blocks: the message is queued for slack_http.c's background
 * thread (slack_api_enqueue), so a grant's change never waits on Slack.
 *
 * A button press is answered by api/handlers_slack.c, which calls
 * access_grant_approve/deny as the presser and edits the message with
 * breakglass_chat_update() so that the buttons disappear once decided.
 *
 * breakglass_message_json() is pure (unit-tested); the rest reads the
 * configuration in force through the app.
 */
#ifndef OPSBELL_NOTIFY_BREAKGLASS_CHAT_H
#define OPSBELL_NOTIFY_BREAKGLASS_CHAT_H

#include "access/access.h"

#include <jansson.h>
#include <stdint.h>

struct app;
struct config;
struct grant_row;

/* The event a grant's current state shows: pending -> REQUESTED, active ->
 * OPENED, denied, revoked, expired. */
enum access_event_kind breakglass_state_kind(const struct grant_row *g);

/*
 * The chat.postMessage (ts NULL) or chat.update (ts set) body for an event
 * of grant g in channel: channel, [ts], text (the whole message as plain
 * fallback text), blocks: a mrkdwn section and, for ACCESS_EV_REQUESTED
 * only, an actions block with the Approve and Deny buttons.  actor
 * ("user:bob", "system") and host (APPLIED) may be NULL.  Times are shown
 * as "14:30 UTC" on now_ms's day, else with the date.  User text (the
 * reason) is escaped for mrkdwn.  A new reference, or NULL (out of memory).
 */
json_t *breakglass_message_json(enum access_event_kind kind, const struct grant_row *g,
                                const char *actor, const char *host, const char *channel,
                                const char *ts, int64_t now_ms);

/* "until 14:30 UTC" / "until 2026-11-26 14:30 UTC" for expires_ms seen at now_ms. */
void breakglass_until_text(int64_t expires_ms, int64_t now_ms, char *out, size_t cap);

/* Install the notifier (before threads start); ctx is the app, which must
 * outlive it.  breakglass_chat_uninstall() clears it (at stop). */
void breakglass_chat_install(struct app *app);
void breakglass_chat_uninstall(void);

/* Queue chat.update of the message channel/ts to show g's current state
 * (no buttons once decided).  0, or -1 (Slack not enabled, bad ids, queue
 * full: logged). */
int breakglass_chat_update(const struct config *cfg, const struct grant_row *g, const char *actor,
                           const char *channel, const char *ts);

#endif
