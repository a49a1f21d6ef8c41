/*
 * fuzz_slack_interaction.c - libFuzzer target for what POST
 * /slack/interactions does before it acts (src/notify/slack.c): the
 * signature check and the payload parsing, plus the response_url check.
 *
 * Input: "<timestamp> <signature>\n<body>" (no newline: all body, no
 * headers).  Checked: the verification never accepts a signature other
 * than the one computed here, and always accepts the right one; a parsed
 * block_actions press has one of our buttons, a positive incident id and a
 * Slack user id; a refusal leaves no button and a one-line message; an
 * allowed response_url is http(s).
 *
 * Build: make fuzz; run: build/fuzz/fuzz_slack_interaction fuzz/corpus/fuzz_slack_interaction
 */
#include "notify/slack.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET "fuzz-signing-secret"
#define NOW    1712345678

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_signature(const char *ts, const char *sig, const char *body, size_t len)
{
    const unsigned char *key = (const unsigned char *)SECRET;
    char right[SLACK_SIGNATURE_LEN + 1];
    struct ob_error err = {0};
    int rc = slack_verify_request(key, strlen(SECRET), ts, sig, body, len, NOW, &err);

    if (rc != 0 && (rc != OB_EUNAUTH || err.msg[0] == '\0' || strchr(err.msg, '\n')))
        abort();
    if (rc == 0) {
        if (slack_signature(key, strlen(SECRET), ts, body, len, right) != 0 ||
            strcmp(right, sig) != 0)
            abort();
    }
    /* The right signature at an acceptable time always verifies. */
    if (slack_signature(key, strlen(SECRET), "1712345600", body, len, right) != 0)
        abort();
    if (slack_verify_request(key, strlen(SECRET), "1712345600", right, body, len, NOW, &err) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    char header[256] = "", *sig = NULL;
    const char *body = text;
    size_t len = size;
    struct slack_interaction in;
    struct ob_error err = {0};
    int rc;

    if (nl != NULL && (size_t)(nl - text) < sizeof(header)) {
        memcpy(header, text, (size_t)(nl - text));
        header[nl - text] = '\0';
        if (strlen(header) == (size_t)(nl - text)) {
            sig = strchr(header, ' ');
            if (sig != NULL)
                *sig++ = '\0';
        }
        body = nl + 1;
        len = size - (size_t)(nl - text) - 1;
    }
    check_signature(sig != NULL ? header : NULL, sig, body, len);

    rc = slack_interaction_parse(body, len, &in, &err);
    if (rc != 0) {
        if ((rc != OB_EINVAL && rc != OB_ENOMEM) || in.button != SLACK_BUTTON_NONE ||
            err.msg[0] == '\0' || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    if (strcmp(in.type, "block_actions") == 0) {
        if (in.button == SLACK_BUTTON_NONE || in.incident_id <= 0 ||
            slack_address_kind(in.user_id) == NULL)
            abort();
    } else if (in.button != SLACK_BUTTON_NONE) {
        abort();
    }
    if (slack_response_url_allowed("http://127.0.0.1:9000/api", in.response_url) &&
        strncasecmp(in.response_url, "http", 4) != 0) /* schemes are case-insensitive */
        abort();
    return 0;
}
