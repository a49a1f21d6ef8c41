/*
 * chat_access.h - the break-glass slash commands (/breakglass, /allowme;
 * docs/CHATOPS.md), run by api/handlers_commands.c once the request is
 * authenticated, the line parsed and the chat user mapped.
 *
 * Each appends one answer to *text (the HTTP response of the command:
 * local database work only) and never leaks internals: a store or
 * internal error is logged and answered with a fixed sentence.  The
 * struct borrows everything for the call.
 */
#ifndef OPSBELL_API_CHAT_ACCESS_H
#define OPSBELL_API_CHAT_ACCESS_H

#include "notify/chatops.h"

struct app;
struct config;
struct config_user;
struct strbuf;

struct chat_access_cmd {
    struct app *app;
    const struct config *cfg;
    enum chatops_provider provider;
    const struct chatops_form *form;
    const struct chatops_command *line; /* verb CHATOPS_BREAKGLASS or CHATOPS_ALLOWME */
    const struct config_user *user;     /* mapped through chat_ids */
    const char *actor;                  /* "user:ann" */
    const char *remote;                 /* "slack:U024BE7LH" */
    const char *request_id;
    struct strbuf *text;
};

/* /breakglass HOST|GROUP DURATION REASON | list | revoke ID | approve ID | deny ID [reason] */
void chat_access_breakglass(const struct chat_access_cmd *c);
/* /allowme: the one-time link (the answer is always ephemeral). */
void chat_access_allowme(const struct chat_access_cmd *c);

#endif
