/*
 * twilio.c - the Twilio provider's pure parts (see twilio.h).
 */
#include "notify/twilio.h"

#include "config/config.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/form.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- text ------------------------------------------------------------------------ */

void twilio_url_encode(struct strbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            strbuf_addch(out, (char)ch);
        } else {
            strbuf_addch(out, '%');
            strbuf_addch(out, hex[ch >> 4]);
            strbuf_addch(out, hex[ch & 15]);
        }
    }
}

void twilio_form_add(struct strbuf *out, const char *name, const char *value)
{
    if (out->len > 0)
        strbuf_addch(out, '&');
    twilio_url_encode(out, name);
    strbuf_addch(out, '=');
    twilio_url_encode(out, value);
}

void twilio_plain(struct strbuf *out, const char *s, size_t max)
{
    size_t len = s != NULL ? strlen(s) : 0, n = len;

    if (len > max) {
        n = max;
        /* Never cut a UTF-8 character in two. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        strbuf_addch(out, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
    if (n < len)
        strbuf_adds(out, "...");
}

void twilio_base_url(const struct config *cfg, struct strbuf *out)
{
    if (cfg->public_url != NULL) {
        size_t len = strlen(cfg->public_url);

        while (len > 0 && cfg->public_url[len - 1] == '/')
            len--;
        strbuf_add(out, cfg->public_url, len);
    } else if (cfg->listen_host != NULL && strchr(cfg->listen_host, ':') != NULL) {
        strbuf_addf(out, "http://[%s]:%u", cfg->listen_host, (unsigned)cfg->listen_port);
    } else {
        strbuf_addf(out, "http://%s:%u", cfg->listen_host != NULL ? cfg->listen_host : "127.0.0.1",
                    (unsigned)cfg->listen_port);
    }
}

/* ---- signatures ------------------------------------------------------------------ */

static int field_cmp(const void *a, const void *b)
{
    const struct form_field *x = *(const struct form_field *const *)a;
    const struct form_field *y = *(const struct form_field *const *)b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->value, y->value);
}

int twilio_signature(const unsigned char *key, size_t key_len, const char *url,
                     const struct form *params, char out[TWILIO_SIGNATURE_LEN + 1])
{
    size_t count = params != NULL ? params->count : 0;
    const struct form_field **sorted = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    struct strbuf msg = STRBUF_INIT;
    int rc = -1;

    out[0] = '\0';
    if (count > 0) {
        sorted = calloc(count, sizeof(*sorted));
        if (sorted == NULL)
            return -1;
        for (size_t i = 0; i < count; i++)
            sorted[i] = &params->fields[i];
        qsort(sorted, count, sizeof(*sorted), field_cmp);
    }
    strbuf_adds(&msg, url);
    for (size_t i = 0; i < count; i++) {
        strbuf_adds(&msg, sorted[i]->name);
        strbuf_adds(&msg, sorted[i]->value);
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, key_len,
                  (const unsigned char *)(msg.buf != NULL ? msg.buf : ""), msg.len, mac,
                  sizeof(mac), &mac_len) == NULL ||
        mac_len != 20)
        goto out;
    if (EVP_EncodeBlock((unsigned char *)out, mac, 20) != TWILIO_SIGNATURE_LEN)
        goto out;
    out[TWILIO_SIGNATURE_LEN] = '\0';
    rc = 0;
out:
    strbuf_release(&msg);
    free(sorted);
    return rc;
}

int twilio_signature_valid(const unsigned char *key, size_t key_len, const char *url,
                           const struct form *params, const char *header)
{
    char want[TWILIO_SIGNATURE_LEN + 1];

    if (header == NULL || strlen(header) != TWILIO_SIGNATURE_LEN)
        return 0;
    if (twilio_signature(key, key_len, url, params, want) != 0)
        return 0;
    return CRYPTO_memcmp(want, header, TWILIO_SIGNATURE_LEN) == 0;
}

/* ---- outcomes -------------------------------------------------------------------- */

int twilio_call_status(const char *status, enum notify_outcome *out)
{
    static const struct {
        const char *name;
        enum notify_outcome outcome;
    } finals[] = {
        {"completed", NOTIFY_ANSWERED},        {"busy", NOTIFY_BUSY},
        {"no-answer", NOTIFY_NO_ANSWER},       {"failed", NOTIFY_FAILED_PERMANENT},
        {"canceled", NOTIFY_FAILED_TEMPORARY},
    };
    static const char *const on_the_way[] = {"queued", "initiated", "ringing", "in-progress",
                                             "answered"};

    if (status == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        if (strcmp(status, finals[i].name) == 0) {
            *out = finals[i].outcome;
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof(on_the_way) / sizeof(on_the_way[0]); i++) {
        if (strcmp(status, on_the_way[i]) == 0)
            return 0;
    }
    return -1;
}

enum notify_outcome twilio_api_outcome(int transport_ok, long status)
{
    if (!transport_ok)
        return NOTIFY_FAILED_TEMPORARY;
    if (status >= 200 && status < 300)
        return NOTIFY_DELIVERED;
    if (status == 429)
        return NOTIFY_FAILED_TEMPORARY;
    if (status >= 400 && status < 500)
        return NOTIFY_FAILED_PERMANENT;
    return NOTIFY_FAILED_TEMPORARY;
}

static void copy_printable(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    if (cap == 0)
        return;
    for (; s != NULL && *s != '\0' && n + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;

        out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

int twilio_parse_answer(const char *body, size_t len, char *sid, size_t sid_cap, long *code,
                        char *message, size_t message_cap)
{
    json_t *root, *v;

    if (sid_cap > 0)
        sid[0] = '\0';
    if (message_cap > 0)
        message[0] = '\0';
    *code = 0;
    root = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    v = json_object_get(root, "sid");
    if (json_is_string(v))
        copy_printable(sid, sid_cap, json_string_value(v));
    v = json_object_get(root, "code");
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 1000000000)
        *code = (long)json_integer_value(v);
    v = json_object_get(root, "message");
    if (json_is_string(v))
        copy_printable(message, message_cap, json_string_value(v));
    json_decref(root);
    return 0;
}

/* ---- SMS replies ----------------------------------------------------------------- */

static int parse_number(const char *word, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (*word == '#')
        word++;
    if (!isdigit((unsigned char)*word))
        return -1;
    errno = 0;
    v = strtoll(word, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_verb(const char *word, enum incident_action *out)
{
    if (strcasecmp(word, "ack") == 0 || strcasecmp(word, "acknowledge") == 0)
        *out = INCIDENT_ACK;
    else if (strcasecmp(word, "resolve") == 0)
        *out = INCIDENT_RESOLVE;
    else if (strcasecmp(word, "escalate") == 0)
        *out = INCIDENT_ESCALATE;
    else
        return -1;
    return 0;
}

int twilio_sms_command(const char *body, int64_t *incident_id, enum incident_action *action)
{
    char words[2][24];
    size_t count = 0;
    const char *p = body;

    if (body == NULL)
        return -1;
    for (;;) {
        size_t n = 0;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            break;
        if (count == 2)
            return -1; /* a third word */
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (n + 1 >= sizeof(words[0]))
                return -1;
            words[count][n++] = *p++;
        }
        words[count][n] = '\0';
        count++;
    }
    if (count != 2)
        return -1;
    if (parse_number(words[0], incident_id) == 0 && parse_verb(words[1], action) == 0)
        return 0;
    if (parse_verb(words[0], action) == 0 && parse_number(words[1], incident_id) == 0)
        return 0;
    return -1;
}

/* ---- messages and TwiML ---------------------------------------------------------- */

void twilio_sms_text(const struct incident *inc, struct strbuf *out)
{
    long long id = (long long)inc->id;

    strbuf_addf(out, "opsbell #%lld [%s] ", id, inc->severity != NULL ? inc->severity : "");
    twilio_plain(out, inc->summary, TWILIO_SUMMARY_MAX);
    strbuf_addf(out, ". Reply \"%lld ack\" to acknowledge, \"%lld resolve\" to resolve.", id, id);
}

void twilio_twiml_menu(const char *base, int64_t notification_id, int64_t attempt, int64_t loop,
                       const struct incident *inc, const char *prefix, struct strbuf *out)
{
    struct strbuf url = STRBUF_INIT, summary = STRBUF_INIT;
    long long id = (long long)notification_id, n = (long long)attempt;

    strbuf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    if (loop >= TWILIO_MENU_LOOPS) {
        strbuf_adds(out, "<Say>Goodbye</Say><Hangup/></Response>");
        return;
    }
    if (prefix != NULL) {
        strbuf_adds(out, "<Say>");
        strbuf_add_markup_escaped(out, prefix);
        strbuf_adds(out, "</Say>");
    }
    strbuf_addf(&url, "%s/twilio/voice/%lld/gather?attempt=%lld", base, id, n);
    strbuf_adds(out, "<Gather numDigits=\"1\" action=\"");
    strbuf_add_markup_escaped(out, url.buf);
    strbuf_addf(out, "\" method=\"POST\" timeout=\"%d\"><Say>opsbell alert, incident %lld, ",
                TWILIO_GATHER_WAIT_S, (long long)inc->id);
    twilio_plain(&summary, inc->summary, TWILIO_SUMMARY_MAX);
    strbuf_add_markup_escaped(out, summary.buf);
    strbuf_adds(out, ". Press 1 to acknowledge, 2 to escalate, 9 to repeat.</Say></Gather>");
    strbuf_reset(&url);
    strbuf_addf(&url, "%s/twilio/voice/%lld?attempt=%lld&loop=%lld", base, id, n,
                (long long)loop + 1);
    strbuf_adds(out, "<Redirect method=\"POST\">");
    strbuf_add_markup_escaped(out, url.buf);
    strbuf_adds(out, "</Redirect></Response>");
    strbuf_release(&url);
    strbuf_release(&summary);
}

void twilio_twiml_say_hangup(const char *text, struct strbuf *out)
{
    strbuf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>");
    strbuf_add_markup_escaped(out, text);
    strbuf_adds(out, "</Say><Hangup/></Response>");
}

void twilio_twiml_message(const char *text, struct strbuf *out)
{
    strbuf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>");
    strbuf_add_markup_escaped(out, text);
    strbuf_adds(out, "</Message></Response>");
}

void twilio_twiml_verify(const char *message, struct strbuf *out)
{
    strbuf_adds(out, "<Response><Say>");
    strbuf_add_markup_escaped(out, message);
    strbuf_adds(out, "</Say><Pause length=\"1\"/><Say>");
    strbuf_add_markup_escaped(out, message);
    strbuf_adds(out, "</Say></Response>");
}
