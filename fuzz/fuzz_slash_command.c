/*
 * fuzz_slash_command.c - libFuzzer target for what POST /slack/commands
 * does with a body before it acts (src/notify/chatops.c): the form, the
 * Mattermost token check and the command line, plus escaping and the reply.
 *
 * Input: a form body (as Slack or Mattermost posts it).  Checked: a parsed
 * form has a command starting with '/', a user id of letters and digits
 * and UTF-8 text; a refusal leaves the form empty with a one-line message;
 * a parsed command line has a known verb, a positive incident id for the
 * verbs that take one, a non-empty message for page and note, for
 * breakglass a target, a positive duration and a reason (request) or a
 * positive grant id (revoke, approve, deny), nothing for allowme, fields
 * within their caps; a usage error is one line starting "Usage: " (or
 * says the message is too long); the token check accepts only the right
 * token; the escaped text has no '<' or '>' for Slack; the reply is JSON.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_slash_command fuzz/corpus/fuzz_slash_command
 */
#include "notify/chatops.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "fuzz-mattermost-token"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const struct chatops_form *f)
{
    struct chatops_command c;
    struct ob_error err = {0};
    char *reply, escaped[256];
    json_t *obj;
    int rc = chatops_parse_command(f->command, f->text, &c, &err);

    if (c.verb > CHATOPS_UNKNOWN)
        abort();
    if (rc != 0) {
        if (rc != OB_EINVAL || strchr(err.msg, '\n') ||
            (strncmp(err.msg, "Usage: ", 7) != 0 && strstr(err.msg, "longer") == NULL))
            abort();
        if (c.incident_id != 0 || c.arg[0] != '\0' || c.message[0] != '\0' || c.grant_id != 0 ||
            c.duration_s != 0)
            abort();
        return;
    }
    switch (c.verb) {
    case CHATOPS_ACK:
    case CHATOPS_RESOLVE:
    case CHATOPS_ESCALATE:
        if (c.incident_id <= 0 || c.message[0] != '\0')
            abort();
        break;
    case CHATOPS_NOTE:
        if (c.incident_id <= 0 || c.message[0] == '\0')
            abort();
        break;
    case CHATOPS_PAGE:
        if (c.arg[0] == '\0' || c.message[0] == '\0' || c.incident_id != 0)
            abort();
        break;
    case CHATOPS_TEL:
        if (c.arg[0] == '\0')
            abort();
        break;
    case CHATOPS_BREAKGLASS:
        if (c.incident_id != 0)
            abort();
        if (c.bg_op == CHATOPS_BG_REQUEST &&
            (c.arg[0] == '\0' || c.duration_s == 0 || c.message[0] == '\0' || c.grant_id != 0 ||
             strlen(c.message) > 500))
            abort();
        if (c.bg_op == CHATOPS_BG_LIST && (c.grant_id != 0 || c.arg[0] != '\0'))
            abort();
        if ((c.bg_op == CHATOPS_BG_REVOKE || c.bg_op == CHATOPS_BG_APPROVE ||
             c.bg_op == CHATOPS_BG_DENY) &&
            (c.grant_id <= 0 || c.arg[0] != '\0' || c.duration_s != 0))
            abort();
        if (c.bg_op == CHATOPS_BG_APPROVE && c.message[0] != '\0')
            abort();
        break;
    case CHATOPS_ALLOWME:
        if (c.arg[0] != '\0' || c.message[0] != '\0' || c.incident_id != 0 || c.grant_id != 0)
            abort();
        break;
    default:
        if (c.incident_id != 0)
            abort();
        break;
    }
    if (strlen(c.arg) > CHATOPS_ARG_MAX || strlen(c.message) > CHATOPS_TEXT_MAX)
        abort();
    chatops_escape(CHATOPS_SLACK, c.message, escaped, sizeof(escaped));
    if (strchr(escaped, '<') || strchr(escaped, '>') || strlen(escaped) >= sizeof(escaped))
        abort();
    reply = chatops_reply_json(0, escaped);
    obj = reply != NULL ? json_loads(reply, 0, NULL) : NULL;
    if (reply != NULL && obj == NULL)
        abort();
    json_decref(obj);
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chatops_form *f = malloc(sizeof(*f));
    struct ob_error err = {0};
    int rc;

    if (f == NULL)
        return 0;
    rc = chatops_form_parse((const char *)data, size, f, &err);
    /* A certificate check has no command, so it never parses as a command. */
    if (chatops_is_ssl_check((const char *)data, size) && rc == 0)
        abort();
    if (rc != 0) {
        if ((rc != OB_EINVAL && rc != OB_ENOMEM) || f->command[0] != '\0' ||
            f->user_id[0] != '\0' || err.msg[0] == '\0' || strchr(err.msg, '\n'))
            abort();
        goto out;
    }
    if (f->command[0] != '/' || f->user_id[0] == '\0' || strchr(f->command, ' '))
        abort();
    for (const char *p = f->user_id; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            abort();
    }
    if (chatops_token_ok((const unsigned char *)TOKEN, strlen(TOKEN), f->token) !=
        (strcmp(f->token, TOKEN) == 0))
        abort();
    check_line(f);
out:
    free(f);
    return 0;
}
