/*
 * chatops.c - slash commands: form, token, command line, help, replies
 * (see chatops.h).
 */
#include "notify/chatops.h"
#include "notify/slack.h"

#include "config/config.h"
#include "util/error.h"
#include "util/form.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A reason's bytes with the NUL (access.h's ACCESS_REASON_MAX, 500). */
#define ACCESS_REASON_CAP 501

const char *chatops_provider_name(enum chatops_provider provider)
{
    return provider == CHATOPS_MATTERMOST ? "mattermost" : "slack";
}

/* ---- the form ------------------------------------------------------------------ */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n = ob_utf8_sequence_len(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

/* Copy field name of f into out (cap bytes with the NUL); "" when absent. */
static int copy_field(const struct form *f, const char *name, char *out, size_t cap, int required,
                      struct ob_error *err)
{
    const char *v = form_get(f, name);
    size_t len;

    out[0] = '\0';
    if (v == NULL || v[0] == '\0') {
        if (required)
            return ob_fail(err, OB_EINVAL, "slash command: no '%s' field", name);
        return 0;
    }
    len = strlen(v);
    if (len >= cap)
        return ob_fail(err, OB_EINVAL, "slash command: '%s' is longer than %zu bytes", name,
                       cap - 1);
    memcpy(out, v, len + 1);
    return 0;
}

static int check_form(const struct chatops_form *out, struct ob_error *err)
{
    if (out->command[0] != '/' || out->command[1] == '\0' || strpbrk(out->command, " \t\r\n"))
        return ob_fail(err, OB_EINVAL, "slash command: 'command' must be like /opsbell");
    if (!utf8_valid(out->command) || !utf8_valid(out->text))
        return ob_fail(err, OB_EINVAL, "slash command: 'command' and 'text' must be UTF-8");
    for (const char *p = out->user_id; *p != '\0'; p++) {
        if (!is_alnum(*p))
            return ob_fail(err, OB_EINVAL, "slash command: 'user_id' is not a chat user id");
    }
    return 0;
}

int chatops_is_ssl_check(const char *body, size_t len)
{
    struct form f = {0};
    int yes = 0;

    if (form_parse(body, len, &f, NULL) == 0) {
        const char *v = form_get(&f, "ssl_check");
        yes = v != NULL && strcmp(v, "1") == 0 && form_get(&f, "command") == NULL;
    }
    form_release(&f);
    return yes;
}

static int is_token_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',';
}

int chatops_form_parse(const char *body, size_t len, struct chatops_form *out, struct ob_error *err)
{
    struct form f = {0};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = form_parse(body, len, &f, err);
    if (rc != 0)
        goto out;
    rc = copy_field(&f, "command", out->command, sizeof(out->command), 1, err);
    if (rc == 0)
        rc = copy_field(&f, "user_id", out->user_id, sizeof(out->user_id), 1, err);
    if (rc == 0)
        rc = copy_field(&f, "text", out->text, sizeof(out->text), 0, err);
    if (rc == 0)
        rc = copy_field(&f, "team_id", out->team_id, sizeof(out->team_id), 0, err);
    if (rc == 0)
        rc = copy_field(&f, "channel_id", out->channel_id, sizeof(out->channel_id), 0, err);
    if (rc == 0)
        rc = copy_field(&f, "response_url", out->response_url, sizeof(out->response_url), 0, err);
    if (rc == 0)
        rc = copy_field(&f, "token", out->token, sizeof(out->token), 0, err);
    if (rc == 0)
        rc = check_form(out, err);
out:
    form_release(&f);
    if (rc != 0) {
        OPENSSL_cleanse(out->token, sizeof(out->token));
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* Is token (its SHA-256 in got) the one in secret[0..len)? */
static int token_equal(const unsigned char *secret, size_t len, const unsigned char *got)
{
    unsigned char want[SHA256_DIGEST_LENGTH];
    int equal;

    SHA256(secret, len, want);
    equal = CRYPTO_memcmp(want, got, sizeof(want)) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return equal;
}

int chatops_token_ok(const unsigned char *secret, size_t secret_len, const char *token)
{
    unsigned char got[SHA256_DIGEST_LENGTH];
    size_t i = 0;
    int ok = 0;

    if (secret == NULL || token == NULL || token[0] == '\0')
        return 0;
    SHA256((const unsigned char *)token, strlen(token), got);
    /* Every token of the list is compared, whichever matches. */
    while (i < secret_len) {
        size_t start;
        while (i < secret_len && is_token_space(secret[i]))
            i++;
        start = i;
        while (i < secret_len && !is_token_space(secret[i]))
            i++;
        if (i > start)
            ok |= token_equal(secret + start, i - start, got);
    }
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

/* ---- command lines ------------------------------------------------------------- */

static const char *const verb_names[] = {
    [CHATOPS_HELP] = "help",
    [CHATOPS_TEL] = "tel",
    [CHATOPS_ONCALL] = "oncall",
    [CHATOPS_PAGE] = "page",
    [CHATOPS_ACK] = "ack",
    [CHATOPS_RESOLVE] = "resolve",
    [CHATOPS_ESCALATE] = "escalate",
    [CHATOPS_NOTE] = "note",
    [CHATOPS_INCIDENTS] = "incidents",
    [CHATOPS_BREAKGLASS] = "breakglass",
    [CHATOPS_ALLOWME] = "allowme",
    [CHATOPS_UNKNOWN] = "unknown",
};

/* Usage of each verb after its prefix, and an example's arguments. */
static const char *const verb_usage[][2] = {
    [CHATOPS_HELP] = {"", ""},
    [CHATOPS_TEL] = {"NICKNAME [message]", "bob the database is on fire"},
    [CHATOPS_ONCALL] = {"[team]", "payments"},
    [CHATOPS_PAGE] = {"TEAM|SERVICE message", "payments-api checkout fails for every user"},
    [CHATOPS_ACK] = {"ID", "42"},
    [CHATOPS_RESOLVE] = {"ID", "42"},
    [CHATOPS_ESCALATE] = {"ID", "42"},
    [CHATOPS_NOTE] = {"ID text", "42 rolled back to v1.4.2"},
    [CHATOPS_INCIDENTS] = {"[team]", "payments"},
    [CHATOPS_BREAKGLASS] = {"HOST|GROUP DURATION REASON | list | revoke ID | approve ID | deny ID",
                            "web1 30m disk full on /var"},
    [CHATOPS_ALLOWME] = {"", ""},
    [CHATOPS_UNKNOWN] = {"", ""},
};

const char *chatops_verb_name(enum chatops_verb verb)
{
    return verb <= CHATOPS_UNKNOWN ? verb_names[verb] : "unknown";
}

/* The verb called name (case-insensitive), or CHATOPS_UNKNOWN ("help" included). */
static enum chatops_verb verb_lookup(const char *name, size_t len)
{
    for (int v = CHATOPS_HELP; v < CHATOPS_UNKNOWN; v++) {
        if (strlen(verb_names[v]) == len && strncasecmp(verb_names[v], name, len) == 0)
            return (enum chatops_verb)v;
    }
    return CHATOPS_UNKNOWN;
}

/* The longest prefix of s (len bytes of valid UTF-8) of at most max bytes
 * that ends on a character boundary. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
    size_t n = 0;

    while (n < len) {
        size_t k = ob_utf8_sequence_len((const unsigned char *)s + n);
        if (k == 0 || n + k > len || n + k > max)
            break;
        n += k;
    }
    return n;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* The next word of *pp (its start and length); *pp moves past it. 0 when none. */
static size_t next_word(const char **pp, const char **word)
{
    const char *p = skip_space(*pp);
    const char *start = p;

    while (*p != '\0' && !is_space(*p))
        p++;
    *word = start;
    *pp = p;
    return (size_t)(p - start);
}

static int usage(struct ob_error *err, const char *prefix, enum chatops_verb verb)
{
    return ob_fail(err, OB_EINVAL, "Usage: %s %s (for example: %s %s)", prefix, verb_usage[verb][0],
                   prefix, verb_usage[verb][1]);
}

/* Does s (len bytes) start with the UTF-8 sequence q? */
static int starts_with(const char *s, size_t len, const char *q)
{
    size_t n = strlen(q);
    return len >= n && memcmp(s, q, n) == 0;
}

static int ends_with(const char *s, size_t len, const char *q)
{
    size_t n = strlen(q);
    return len >= n && memcmp(s + len - n, q, n) == 0;
}

/* Does needle occur in s[0..len)? */
static int contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n > 0 && i + n <= len; i++) {
        if (memcmp(s + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

/* The rest of the line, trimmed, without the quotes that enclose all of it. */
static int take_message(const char *p, char *out, size_t cap, struct ob_error *err)
{
    static const char *const quotes[][2] = {
        {"\"", "\""},
        {"'", "'"},
        {"\xe2\x80\x9c", "\xe2\x80\x9d"}, /* “ ” */
        {"\xe2\x80\x98", "\xe2\x80\x99"}, /* ‘ ’ */
    };
    size_t len;

    p = skip_space(p);
    len = strlen(p);
    while (len > 0 && is_space(p[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
        size_t ol = strlen(quotes[i][0]), cl = strlen(quotes[i][1]);
        if (len >= ol + cl && starts_with(p, len, quotes[i][0]) &&
            ends_with(p, len, quotes[i][1]) && !contains(p + ol, len - ol - cl, quotes[i][1])) {
            p += ol;
            len -= ol + cl;
            break;
        }
    }
    if (len >= cap)
        return ob_fail(err, OB_EINVAL, "the message is longer than %zu bytes", cap - 1);
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

static int parse_incident_id(const char *w, size_t len, int64_t *out)
{
    int64_t v = 0;

    if (len > 0 && w[0] == '#') {
        w++;
        len--;
    }
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        v = v * 10 + (w[i] - '0');
    }
    if (v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* "<@U024BE7LH|bob>" or "<@U024BE7LH>": the id and the name into out. */
static int parse_mention(const char *w, size_t len, struct chatops_command *out)
{
    const char *bar;
    size_t id_len;

    if (len < 4 || len > CHATOPS_ARG_MAX || w[0] != '<' || w[1] != '@' || w[len - 1] != '>')
        return -1;
    bar = memchr(w, '|', len);
    id_len = (size_t)((bar != NULL ? bar : w + len - 1) - (w + 2));
    if (id_len == 0 || id_len > CHATOPS_ID_MAX)
        return -1;
    for (size_t i = 0; i < id_len; i++) {
        if (!is_alnum(w[2 + i]))
            return -1;
    }
    memcpy(out->mention_id, w + 2, id_len);
    out->mention_id[id_len] = '\0';
    if (bar != NULL && (size_t)(w + len - 1 - (bar + 1)) > 0) {
        size_t n = (size_t)(w + len - 1 - (bar + 1));
        memcpy(out->arg, bar + 1, n); /* n < len <= CHATOPS_ARG_MAX */
        out->arg[n] = '\0';
    } else {
        memcpy(out->arg, out->mention_id, id_len + 1);
    }
    return 0;
}

static int copy_arg(const char *w, size_t len, char *out)
{
    if (len > CHATOPS_ARG_MAX)
        return -1;
    memcpy(out, w, len);
    out[len] = '\0';
    return 0;
}

static const struct {
    const char *name;
    enum chatops_bg_op op;
} bg_ops[] = {
    {"list", CHATOPS_BG_LIST},
    {"revoke", CHATOPS_BG_REVOKE},
    {"approve", CHATOPS_BG_APPROVE},
    {"deny", CHATOPS_BG_DENY},
};

/* "30m", "2h", "1h30m", "90s" (config_parse_duration, but never a bare
 * number: "/breakglass web1 30 ..." is more likely a mistake). */
static int parse_bg_duration(const char *w, size_t len, uint32_t *out)
{
    char buf[24];

    if (len == 0 || len >= sizeof(buf) || w[len - 1] < 'a' || w[len - 1] > 'z')
        return -1;
    memcpy(buf, w, len);
    buf[len] = '\0';
    if (config_parse_duration(buf, out) != 0 || *out == 0)
        return -1;
    return 0;
}

/* /breakglass: w[0..len) is the first word, p the rest. */
static int parse_breakglass(const char *prefix, const char *w, size_t len, const char *p,
                            struct chatops_command *out, struct ob_error *err)
{
    const char *rest = p, *w2;
    size_t len2;

    if (len == 0)
        return usage(err, prefix, CHATOPS_BREAKGLASS);
    for (size_t i = 0; i < sizeof(bg_ops) / sizeof(bg_ops[0]); i++) {
        if (strlen(bg_ops[i].name) != len || strncasecmp(bg_ops[i].name, w, len) != 0)
            continue;
        out->bg_op = bg_ops[i].op;
        len2 = next_word(&rest, &w2);
        if (out->bg_op == CHATOPS_BG_LIST) {
            if (len2 != 0)
                return ob_fail(err, OB_EINVAL, "Usage: %s list", prefix);
            return 0;
        }
        if (len2 == 0 || parse_incident_id(w2, len2, &out->grant_id) != 0)
            return ob_fail(err, OB_EINVAL, "Usage: %s %s ID (for example: %s %s 7)", prefix,
                           bg_ops[i].name, prefix, bg_ops[i].name);
        /* deny and revoke take an optional reason */
        if (out->bg_op == CHATOPS_BG_APPROVE) {
            if (next_word(&rest, &w2) != 0)
                return ob_fail(err, OB_EINVAL, "Usage: %s approve ID (for example: %s approve 7)",
                               prefix, prefix);
            return 0;
        }
        return take_message(rest, out->message, ACCESS_REASON_CAP, err);
    }
    out->bg_op = CHATOPS_BG_REQUEST;
    if (copy_arg(w, len, out->arg) != 0)
        return usage(err, prefix, CHATOPS_BREAKGLASS);
    len2 = next_word(&rest, &w2);
    if (len2 == 0 || parse_bg_duration(w2, len2, &out->duration_s) != 0) {
        out->arg[0] = '\0';
        return ob_fail(err, OB_EINVAL,
                       "Usage: %s HOST|GROUP DURATION REASON, the duration like 30m or 1h (for "
                       "example: %s web1 30m disk full on /var)",
                       prefix, prefix);
    }
    if (take_message(rest, out->message, ACCESS_REASON_CAP, err) != 0)
        return OB_EINVAL;
    if (out->message[0] == '\0')
        return ob_fail(err, OB_EINVAL,
                       "Usage: %s HOST|GROUP DURATION REASON: a reason is required (for "
                       "example: %s web1 30m disk full on /var)",
                       prefix, prefix);
    return 0;
}

/* The arguments of verb from p on. */
static int parse_args(enum chatops_verb verb, const char *prefix, const char *p,
                      struct chatops_command *out, struct ob_error *err)
{
    const char *w, *rest;
    size_t len = next_word(&p, &w);

    switch (verb) {
    case CHATOPS_HELP:
    case CHATOPS_UNKNOWN:
        return 0;
    case CHATOPS_ALLOWME:
        return len != 0 ? ob_fail(err, OB_EINVAL, "Usage: %s (it takes no arguments)", prefix) : 0;
    case CHATOPS_BREAKGLASS:
        return parse_breakglass(prefix, w, len, p, out, err);
    case CHATOPS_TEL:
        if (len == 0)
            return usage(err, prefix, verb);
        if (parse_mention(w, len, out) != 0) {
            if (w[0] == '@') {
                w++;
                len--;
            }
            if (len == 0 || copy_arg(w, len, out->arg) != 0)
                return usage(err, prefix, verb);
        }
        return take_message(p, out->message, sizeof(out->message), err);
    case CHATOPS_ONCALL:
    case CHATOPS_INCIDENTS:
        if (len > 0 && copy_arg(w, len, out->arg) != 0)
            return usage(err, prefix, verb);
        rest = p;
        if (next_word(&rest, &w) != 0)
            return usage(err, prefix, verb);
        return 0;
    case CHATOPS_PAGE:
        if (len == 0 || copy_arg(w, len, out->arg) != 0)
            return usage(err, prefix, verb);
        if (take_message(p, out->message, sizeof(out->message), err) != 0)
            return OB_EINVAL;
        return out->message[0] == '\0' ? usage(err, prefix, verb) : 0;
    case CHATOPS_ACK:
    case CHATOPS_RESOLVE:
    case CHATOPS_ESCALATE:
    case CHATOPS_NOTE:
        if (len == 0 || parse_incident_id(w, len, &out->incident_id) != 0)
            return usage(err, prefix, verb);
        if (verb != CHATOPS_NOTE) {
            rest = p;
            return next_word(&rest, &w) != 0 ? usage(err, prefix, verb) : 0;
        }
        if (take_message(p, out->message, sizeof(out->message), err) != 0)
            return OB_EINVAL;
        return out->message[0] == '\0' ? usage(err, prefix, verb) : 0;
    }
    return usage(err, prefix, verb);
}

int chatops_parse_command(const char *command, const char *text, struct chatops_command *out,
                          struct ob_error *err)
{
    const char *name = command != NULL && command[0] == '/' ? command + 1 : "";
    const char *p = text != NULL ? text : "";
    char prefix[CHATOPS_COMMAND_MAX + 32];
    enum chatops_verb verb = verb_lookup(name, strlen(name));
    int rc;

    memset(out, 0, sizeof(*out));
    if (verb != CHATOPS_UNKNOWN && verb != CHATOPS_HELP) { /* an alias: /tel, /ack, ... */
        snprintf(prefix, sizeof(prefix), "/%s", verb_names[verb]);
    } else { /* the main command: the subcommand is the first word */
        const char *w;
        size_t len = next_word(&p, &w);
        verb = len == 0 ? CHATOPS_HELP : verb_lookup(w, len);
        if (verb == CHATOPS_UNKNOWN) { /* kept (at most 32 bytes) to say what was unknown */
            size_t n = utf8_prefix(w, len, 32);
            memcpy(out->arg, w, n);
            out->arg[n] = '\0';
        }
        snprintf(prefix, sizeof(prefix), "%.*s %s", CHATOPS_COMMAND_MAX,
                 command != NULL ? command : "/opsbell", verb_names[verb]);
    }
    out->verb = verb;
    rc = parse_args(verb, prefix, p, out, err);
    if (rc != 0) {
        enum chatops_verb keep = out->verb;
        memset(out, 0, sizeof(*out));
        out->verb = keep;
    }
    return rc;
}

char *chatops_help_text(const char *main_command)
{
    struct strbuf sb = STRBUF_INIT;
    const char *m = main_command != NULL ? main_command : "/opsbell";

    strbuf_adds(&sb, "*opsbell commands* (each also as `");
    strbuf_adds(&sb, m);
    strbuf_adds(&sb, " <command> …`, for example `");
    strbuf_adds(&sb, m);
    strbuf_adds(&sb, " tel bob wake up`):\n");
    strbuf_adds(&sb, "• `/tel NICKNAME [message]` — ring that person's phone now "
                     "(`/tel bob the database is on fire`)\n"
                     "• `/oncall [team]` — who is on call now and next (`/oncall payments`)\n"
                     "• `/page TEAM|SERVICE message` — open an incident and start its "
                     "escalation (`/page payments-api checkout fails`)\n"
                     "• `/ack ID` — acknowledge an incident (`/ack 42`)\n"
                     "• `/resolve ID` — resolve it (`/resolve 42`)\n"
                     "• `/escalate ID` — page the next escalation step now (`/escalate 42`)\n"
                     "• `/note ID text` — add a note to its timeline "
                     "(`/note 42 rolled back to v1.4.2`)\n"
                     "• `/incidents [team]` — open incidents, newest first (`/incidents`)\n"
                     "• `/breakglass HOST|GROUP DURATION REASON` — SSH to a host or host group "
                     "from your address for a while (`/breakglass web1 30m disk full`); "
                     "`/breakglass list`, `/breakglass revoke ID`, `/breakglass approve ID`, "
                     "`/breakglass deny ID [reason]`\n"
                     "• `/allowme` — a one-time link: open it in your browser to allow your "
                     "address (SSH from where you are)\n");
    strbuf_adds(&sb, "• `");
    strbuf_adds(&sb, m);
    strbuf_adds(&sb, " help` — this list\n"
                     "Your chat account must be linked to your opsbell user "
                     "(`chat_ids` in users.yaml).");
    return strbuf_detach(&sb, NULL);
}

/* ---- identity and replies -------------------------------------------------------- */

const struct config_user *chatops_find_user(const struct config *cfg,
                                            enum chatops_provider provider, const char *user_id)
{
    const char *pname = chatops_provider_name(provider);

    for (unsigned i = 0; user_id != NULL && user_id[0] != '\0' && i < cfg->user_count; i++) {
        const struct config_user *u = &cfg->users[i];
        for (unsigned j = 0; j < u->chat_id_count; j++) {
            if (strcmp(u->chat_ids[j].provider, pname) == 0 &&
                strcmp(u->chat_ids[j].id, user_id) == 0)
                return u;
        }
    }
    return NULL;
}

int chatops_mattermost_url_allowed(const char *api_url, const char *response_url)
{
    return url_same_origin(api_url, response_url);
}

void chatops_escape(enum chatops_provider provider, const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)(in != NULL ? in : "");
    size_t o = 0;

    if (cap == 0)
        return;
    while (*p != '\0') {
        size_t n = ob_utf8_sequence_len(p);
        const char *rep = (const char *)p;
        size_t rep_len = n;

        if (n == 0) { /* not UTF-8: shown as '?' */
            rep = "?";
            rep_len = n = 1;
        } else if (provider == CHATOPS_SLACK && (*p == '&' || *p == '<' || *p == '>')) {
            rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : "&gt;";
            rep_len = strlen(rep);
        }
        if (o + rep_len >= cap)
            break;
        memcpy(out + o, rep, rep_len);
        o += rep_len;
        p += n;
    }
    out[o] = '\0';
}

char *chatops_reply_json(int in_channel, const char *text)
{
    json_t *obj = json_pack("{s:s, s:s}", "response_type", in_channel ? "in_channel" : "ephemeral",
                            "text", text != NULL ? text : "");
    char *out = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    return out;
}
