/*
 * chatops.h - slash commands from Slack and Mattermost (POST /slack/commands,
 * docs/CHATOPS.md): the pure parts, unit-tested and fuzzed.  The handler
 * (api/handlers_commands.c) authenticates, then calls these to read the form
 * and the command line, and does the work.
 *
 * A command line is the form's `command` ("/tel", "/opsbell") and `text`
 * ("bob wake up").  The aliases /tel /oncall /page /ack /resolve /escalate
 * /incidents /note /breakglass /allowme name their subcommand; any other command (the main
 * "/opsbell", or whatever a team named it) takes the subcommand as the first
 * word of text.
 *
 * Everything here is pure (no I/O, no globals) and thread-safe.  Output
 * structs hold their strings inline; returned strings are the caller's
 * to free where said.
 */
#ifndef OPSBELL_NOTIFY_CHATOPS_H
#define OPSBELL_NOTIFY_CHATOPS_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct config_user;
struct ob_error;

#define CHATOPS_COMMAND_MAX 64   /* "/opsbell" */
#define CHATOPS_TEXT_MAX    4000 /* what follows the command: Slack allows 4000 characters */
#define CHATOPS_ID_MAX      64   /* user, team, channel ids (Slack U…, Mattermost 26 chars) */
#define CHATOPS_URL_MAX     1024
#define CHATOPS_TOKEN_MAX   256
#define CHATOPS_ARG_MAX     128 /* a nickname, team, service or incident id */
#define CHATOPS_LIST_MAX    20  /* /incidents shows at most this many */

enum chatops_provider { CHATOPS_SLACK, CHATOPS_MATTERMOST };

/* "slack" | "mattermost": the chat_ids provider and the remote_addr prefix. */
const char *chatops_provider_name(enum chatops_provider provider);

/* The form fields of one slash command (Slack's and Mattermost's are alike). */
struct chatops_form {
    char command[CHATOPS_COMMAND_MAX + 1];  /* "/tel": starts with '/' */
    char text[CHATOPS_TEXT_MAX + 1];        /* "" when absent */
    char user_id[CHATOPS_ID_MAX + 1];       /* required: letters and digits */
    char team_id[CHATOPS_ID_MAX + 1];       /* "" when absent */
    char channel_id[CHATOPS_ID_MAX + 1];    /* "" when absent */
    char response_url[CHATOPS_URL_MAX + 1]; /* "" when absent */
    char token[CHATOPS_TOKEN_MAX + 1];      /* Mattermost's command token; "" when absent */
};

/*
 * Parse a form body into *out.  OB_EINVAL (the message says why, never
 * echoing the body or the token): not a form (util/form.h), no `command` or
 * one that does not start with '/' or holds a space, no `user_id` or one
 * that is not letters and digits, a field over its cap, text that is not
 * UTF-8.  OB_ENOMEM.  On failure *out is zeroed.
 */
int chatops_form_parse(const char *body, size_t len, struct chatops_form *out,
                       struct ob_error *err);

/* Slack's certificate check of a command URL: a form with ssl_check=1 and
 * no command (answered 200, nothing done).  1 when it is one. */
int chatops_is_ssl_check(const char *body, size_t len);

/*
 * Is token one of the configured Mattermost command tokens?  Mattermost
 * gives each slash command its own token, so the secret is a list: tokens
 * separated by spaces, commas or newlines (a file: secret with one per
 * line).  Each is compared in constant time, over SHA-256 digests (so that
 * lengths do not show either), and all are compared whichever matches.
 * 0 when the secret holds no token or token is NULL or "".  1 when it is.
 */
int chatops_token_ok(const unsigned char *secret, size_t secret_len, const char *token);

/* ---- command lines ------------------------------------------------------------ */

enum chatops_verb {
    CHATOPS_HELP,
    CHATOPS_TEL,
    CHATOPS_ONCALL,
    CHATOPS_PAGE,
    CHATOPS_ACK,
    CHATOPS_RESOLVE,
    CHATOPS_ESCALATE,
    CHATOPS_NOTE,
    CHATOPS_INCIDENTS,
    CHATOPS_BREAKGLASS, /* break-glass SSH: request, list, revoke, approve, deny */
    CHATOPS_ALLOWME,    /* a one-time link that records the opener's address */
    CHATOPS_UNKNOWN     /* an unknown subcommand: answered with the help */
};

/* What a /breakglass line asks for. */
enum chatops_bg_op {
    CHATOPS_BG_REQUEST, /* HOST|GROUP DURATION REASON... */
    CHATOPS_BG_LIST,
    CHATOPS_BG_REVOKE, /* ID */
    CHATOPS_BG_APPROVE,
    CHATOPS_BG_DENY
};

/* "help", "tel", ... ("unknown" for CHATOPS_UNKNOWN). */
const char *chatops_verb_name(enum chatops_verb verb);

struct chatops_command {
    enum chatops_verb verb;
    /* tel: the nickname (a leading '@' dropped); page: the team or service;
     * oncall, incidents: the team or ""; unknown: the word given; else "". */
    char arg[CHATOPS_ARG_MAX + 1];
    /* tel written as a mention ("<@U024BE7LH|bob>", "<@U024BE7LH>"): the
     * chat user id; then arg is the name shown after '|' (or the id). */
    char mention_id[CHATOPS_ID_MAX + 1];
    int64_t incident_id; /* ack, resolve, escalate, note: > 0 ("42" or "#42") */
    /* tel (optional), page and note (required): the rest of the line,
     * trimmed; when it is wholly in matching quotes ("…", '…', “…”), they
     * are dropped. */
    char message[CHATOPS_TEXT_MAX + 1];
    /* breakglass: the operation; request: arg = the host or group, duration_s
     * (> 0, as written: the policy's maximum is checked later) and message =
     * the reason (required); revoke, approve, deny: grant_id > 0 ("7" or "#7"). */
    enum chatops_bg_op bg_op;
    uint32_t duration_s;
    int64_t grant_id;
};

/*
 * Read command and text (both NUL-terminated) into *out.  Words are split
 * on spaces and tabs; the message keeps its inner spacing.  OB_EINVAL with
 * a usage line as the message ("Usage: /ack ID — for example /ack 42"):
 * a missing or malformed argument, an argument or message over its cap, an
 * incident id that is not a positive number, extra words after an id
 * (except for note) or after the team of oncall/incidents.
 * The usage line names the subcommand as the user reached it: "/ack", or
 * "/opsbell ack".  On failure out->verb is still set (the rest is zeroed).
 */
int chatops_parse_command(const char *command, const char *text, struct chatops_command *out,
                          struct ob_error *err);

/* The command reference with examples, as chat text (mrkdwn: `code`).
 * main_command: what to show for the main command ("/opsbell").  Caller frees;
 * NULL when out of memory. */
char *chatops_help_text(const char *main_command);

/* ---- identity and replies -------------------------------------------------------- */

/* The user whose chat_ids has this provider and id, or NULL.  Borrows from cfg. */
const struct config_user *chatops_find_user(const struct config *cfg,
                                            enum chatops_provider provider, const char *user_id);

/*
 * May opsbell post to this Mattermost response_url?  Only when api_url is
 * set and the URL is http(s) on api_url's scheme, host and port, without a
 * user or password part.  (Slack's rule is slack_response_url_allowed.)
 */
int chatops_mattermost_url_allowed(const char *api_url, const char *response_url);

/*
 * Text from a user or the configuration made safe for a chat message:
 * Slack's mrkdwn control characters &, <, > become &amp; &lt; &gt; (so that
 * "<!channel>" cannot ping everyone); for Mattermost the text is kept as
 * is.  Truncated to fit cap (at a UTF-8 boundary); always NUL-terminated.
 */
void chatops_escape(enum chatops_provider provider, const char *in, char *out, size_t cap);

/* The JSON reply body: {"response_type": "ephemeral"|"in_channel", "text": text}.
 * Caller frees; NULL when out of memory. */
char *chatops_reply_json(int in_channel, const char *text);

#endif
