/*
 * tel.c - calls on request (see tel.h): the request (checks, rate limits,
 * the first row, audit) and what happens when a row of a call is settled
 * (the next phone, the reply, audit).
 */
#include "notify/tel.h"

#include "auth/auth.h"
#include "config/config.h"
#include "daemon/app.h"
#include "notify/notify.h"
#include "notify/slack.h"
#include "store/engine.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_phone(enum contact_type t)
{
    return t == CONTACT_VOICE || t == CONTACT_SIP;
}

/* ---- close matches ------------------------------------------------------------------ */

/* Case-insensitive edit distance, capped at 99 (names are short). */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[65], prev, tmp;

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            unsigned best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb] > 99 ? 99 : row[lb];
}

size_t tel_close_matches(const struct config *cfg, const char *name, const char **out, size_t max)
{
    unsigned dist[16];
    size_t n = 0, len = strlen(name);
    unsigned limit = len < 6 ? 2 : (unsigned)(len / 3);

    if (max > 16)
        max = 16;
    for (unsigned u = 0; u < cfg->user_count && max > 0; u++) {
        const char *nick =
            cfg->users[u].nickname != NULL ? cfg->users[u].nickname : cfg->users[u].name;
        unsigned d = edit_distance(name, nick), d_name = edit_distance(name, cfg->users[u].name);
        size_t at;

        if (d_name < d)
            d = d_name; /* "bbo" for bob, nicknamed "bobby" */
        if (len > 0 && d > 1 &&
            (strncasecmp(nick, name, len) == 0 || strncasecmp(cfg->users[u].name, name, len) == 0))
            d = 1; /* "bo" for "bob" */
        if (d > limit)
            continue;
        at = n < max ? n++ : max;
        /* insertion into the sorted (distance, then config order) list */
        while (at > 0 && dist[at - 1] > d) {
            if (at < max) {
                dist[at] = dist[at - 1];
                out[at] = out[at - 1];
            }
            at--;
        }
        if (at < max) {
            dist[at] = d;
            out[at] = nick;
        }
    }
    return n;
}

/* ---- the request ---------------------------------------------------------------------- */

static const struct config_user *find_callee(const struct config *cfg, const char *who)
{
    const struct config_user *u = config_find_user_by_nickname(cfg, who);

    return u != NULL ? u : config_find_user(cfg, who);
}

static int not_found(const struct config *cfg, const char *who, struct ob_error *err)
{
    const char *matches[5];
    size_t n = tel_close_matches(cfg, who, matches, 5);
    char list[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "",
                                 matches[i]);
    if (n == 0)
        return ob_fail(err, OB_ENOTFOUND, "no one is called '%s'", who);
    return ob_fail(err, OB_ENOTFOUND, "no one is called '%s'; did you mean: %s?", who, list);
}

/* What the call says: "Call from Ann via opsbell: <message>." */
static void call_text(const char *caller, const char *message, char *out, size_t cap)
{
    char clean[TEL_MESSAGE_MAX + 1];
    size_t n = 0;

    for (size_t i = 0; message != NULL && message[i] != '\0' && n < TEL_MESSAGE_MAX; i++) {
        unsigned char c = (unsigned char)message[i];
        clean[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    clean[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "Call from %s via opsbell.", caller);
    else
        snprintf(out, cap, "Call from %s via opsbell: %s.", caller, clean);
}

static int check_rate(struct store_conn *conn, const char *column, const char *value, int64_t now,
                      unsigned max, const char *who, struct ob_error *err)
{
    int64_t count = 0;
    int rc = store_outbox_count_calls(conn, column, value, now - TEL_WINDOW_MS, &count, err);

    if (rc == 0 && count >= (int64_t)max)
        rc = ob_fail(err, OB_ECONFLICT,
                     "%s %lld calls in the last %d minutes: try again later, or page the team", who,
                     (long long)count, TEL_WINDOW_MS / 60000);
    return rc;
}

int tel_request(struct app *app, const struct tel_request *req, struct tel_placed *out,
                struct ob_error *err)
{
    struct config *cfg = app_config_get(app);
    const struct config_user *callee;
    const struct config_contact_method *cm = NULL;
    const struct notify_provider *p;
    struct store_conn *conn = NULL;
    char text[TEL_MESSAGE_MAX + 128], who[160], target[96];
    int64_t now = store_now_ms();
    unsigned idx = 0;
    json_t *details = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    callee = req->callee != NULL ? find_callee(cfg, req->callee) : NULL;
    if (callee == NULL) {
        rc = not_found(cfg, req->callee != NULL ? req->callee : "", err);
        goto out;
    }
    if (req->message != NULL && strlen(req->message) > TEL_MESSAGE_MAX) {
        rc = ob_fail(err, OB_EINVAL, "the message is longer than %d bytes", TEL_MESSAGE_MAX);
        goto out;
    }
    for (unsigned i = 0; i < callee->contact_method_count && cm == NULL; i++) {
        if (is_phone(callee->contact_methods[i].type)) {
            cm = &callee->contact_methods[i];
            idx = i;
        }
    }
    if (cm == NULL) {
        rc = ob_fail(err, OB_EINVAL, "%s has no phone (no voice or sip contact method)",
                     callee->name);
        goto out;
    }
    /* Phone providers are the ones that verify; `log` reaches nobody. */
    p = notify_provider_for(cfg, contact_type_name(cm->type));
    if (p == NULL || !p->verifies) {
        rc = ob_fail(err, OB_EUNAVAILABLE,
                     "no provider places %s calls (configure providers.sip or providers.twilio)",
                     contact_type_name(cm->type));
        goto out;
    }
    call_text(req->caller, req->message, text, sizeof(text));
    rc = store_acquire(app->store, &conn, err);
    if (rc == 0)
        rc = store_begin(conn, err);
    snprintf(who, sizeof(who), "you (%s) made", req->caller);
    if (rc == 0)
        rc = check_rate(conn, "requested_by", req->caller, now, TEL_CALLER_MAX, who, err);
    snprintf(who, sizeof(who), "%s got", callee->name);
    if (rc == 0)
        rc = check_rate(conn, "user_name", callee->name, now, TEL_CALLEE_MAX, who, err);
    if (rc == 0) {
        struct outbox_row row = {
            .user_name = callee->name,
            .contact_type = (char *)contact_type_name(cm->type),
            .address = cm->address,
            .rule_index = -1 - (int64_t)idx,
            .due_at_ms = now,
            .created_at_ms = now,
            .kind = "tel",
            .message = text,
            .reply_url =
                (char *)(req->reply_url != NULL && req->reply_url[0] != '\0' ? req->reply_url
                                                                             : NULL),
            .requested_by = (char *)req->caller,
        };
        rc = store_outbox_insert(conn, &row, err);
        out->id = row.id;
    }
    if (rc == 0) {
        snprintf(target, sizeof(target), "user:%s", callee->name);
        details = json_pack("{s:I, s:s, s:s, s:s}", "call", (json_int_t)out->id, "type",
                            contact_type_name(cm->type), "address", cm->address, "message", text);
        rc = details != NULL
                 ? audit_append(conn, req->origin, "tel.request", target, details, now, err)
                 : ob_fail(err, OB_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = store_commit(conn, err);
    if (rc != 0)
        goto out;
    dispatcher_hint(app->dispatcher, now);
    snprintf(out->callee, sizeof(out->callee), "%s", callee->name);
    snprintf(out->nickname, sizeof(out->nickname), "%s",
             callee->nickname != NULL ? callee->nickname : callee->name);
out:
    json_decref(details);
    store_release(conn); /* rolls back an unfinished transaction */
    config_unref(cfg);
    return rc;
}

/* ---- a row of a call settled ---------------------------------------------------------- */

void tel_outcome_text(const char *callee, const char *address, const char *state,
                      const char *detail, const char *next, char *out, size_t cap)
{
    size_t n;

    if (strcmp(state, "answered") == 0 || strcmp(state, "acknowledged") == 0 ||
        strcmp(state, "delivered") == 0)
        n = (size_t)snprintf(out, cap, "%s answered (%s).", callee, address);
    else if (strcmp(state, "busy") == 0)
        n = (size_t)snprintf(out, cap, "%s's line was busy (%s).", callee, address);
    else if (strcmp(state, "no-answer") == 0)
        n = (size_t)snprintf(out, cap, "%s did not answer (%s).", callee, address);
    else
        n = (size_t)snprintf(out, cap, "The call to %s (%s) failed: %s.", callee, address,
                             detail != NULL ? detail : state);
    if (n >= cap || strcmp(state, "answered") == 0 || strcmp(state, "acknowledged") == 0 ||
        strcmp(state, "delivered") == 0)
        return;
    if (next != NULL)
        snprintf(out + n, cap - n, " Trying %s.", next);
    else
        snprintf(out + n, cap - n, " No other phone to try.");
}

/* Queue the callee's next phone not yet tried in this call; *next its address. */
static int queue_next_phone(struct store_conn *conn, const struct config *cfg,
                            const struct outbox_row *row, int64_t now, const char **next,
                            struct ob_error *err)
{
    const struct config_user *u = config_find_user(cfg, row->user_name);
    int64_t call = row->seq != 0 ? row->seq : row->id;
    struct outbox_row *tried = NULL;
    size_t n = 0;
    int rc;

    *next = NULL;
    if (u == NULL)
        return 0;
    rc = store_outbox_call(conn, call, &tried, &n, err);
    for (unsigned i = 0; rc == 0 && i < u->contact_method_count; i++) {
        const struct config_contact_method *cm = &u->contact_methods[i];
        bool seen = false;

        const struct notify_provider *p = notify_provider_for(cfg, contact_type_name(cm->type));

        if (!is_phone(cm->type) || p == NULL || !p->verifies)
            continue;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(tried[j].address, cm->address) == 0 &&
                   strcmp(tried[j].contact_type, contact_type_name(cm->type)) == 0;
        if (seen)
            continue;
        {
            struct outbox_row again = {
                .seq = call,
                .user_name = row->user_name,
                .contact_type = (char *)contact_type_name(cm->type),
                .address = cm->address,
                .rule_index = -1 - (int64_t)i,
                .due_at_ms = now,
                .created_at_ms = now,
                .kind = "tel",
                .message = row->message,
                .reply_url = row->reply_url,
                .requested_by = row->requested_by,
            };
            rc = store_outbox_insert(conn, &again, err);
        }
        if (rc == 0)
            *next = cm->address;
        break;
    }
    outbox_row_array_free(tried, n);
    return rc;
}

int tel_settled(struct store_conn *conn, const struct config *cfg, const struct outbox_row *row,
                const char *state, const char *detail, int reached, int64_t now,
                struct ob_error *err)
{
    struct audit_origin origin = {.actor = "engine", .remote_addr = "local"};
    const struct config_user *u = config_find_user(cfg, row->user_name);
    const char *name = u != NULL && u->nickname != NULL ? u->nickname : row->user_name;
    const char *next = NULL;
    char action[48], target[96], text[900];
    json_t *details;
    int rc = 0;

    if (!reached)
        rc = queue_next_phone(conn, cfg, row, now, &next, err);
    if (rc != 0)
        return rc;
    snprintf(action, sizeof(action), "tel.%s", state);
    snprintf(target, sizeof(target), "user:%s", row->user_name);
    details = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?}", "call",
                        (json_int_t)(row->seq != 0 ? row->seq : row->id), "type", row->contact_type,
                        "address", row->address, "detail", detail != NULL ? detail : "",
                        "requested_by", row->requested_by, "next", next);
    if (details == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = audit_append(conn, &origin, action, target, details, now, err);
    json_decref(details);
    if (rc == 0 && row->reply_url != NULL) {
        tel_outcome_text(name, row->address, state, detail, next, text, sizeof(text));
        /* Queued for a background thread: never blocks the dispatcher. */
        if (chat_respond(cfg, row->reply_url, text) != 0)
            log_warn("tel", "the call's outcome could not be posted", "callee", row->user_name);
    }
    return rc;
}
