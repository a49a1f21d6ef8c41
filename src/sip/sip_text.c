/*
 * sip_text.c - the SIP agent's hand-written parsing and mapping, kept
 * free of libre so that it can be unit-tested and fuzzed on its own.
 */
#include "sip/sip.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SIP_INFO_MAX_BODY 1024

enum sip_outcome sip_status_outcome(uint16_t status)
{
    switch (status) {
    case 486: /* Busy Here */
    case 600: /* Busy Everywhere */
    case 603: /* Decline */
        return SIP_OUTCOME_BUSY;
    case 408: /* Request Timeout */
    case 480: /* Temporarily Unavailable */
    case 487: /* Request Terminated (our own CANCEL) */
        return SIP_OUTCOME_NO_ANSWER;
    case 503: /* Service Unavailable */
    case 500:
    case 502:
    case 504:
    case 580:
        return SIP_OUTCOME_FAILED_TEMPORARY;
    default:
        break;
    }
    if (status >= 500 && status < 600)
        return SIP_OUTCOME_FAILED_TEMPORARY;
    /* 404 Not Found, 484 Address Incomplete, 403, 401/407 after our
     * credentials, 488 Not Acceptable Here, 3xx (we do not follow
     * redirects), 6xx other than 600/603: retrying cannot help. */
    return SIP_OUTCOME_FAILED_PERMANENT;
}

const char *sip_outcome_name(enum sip_outcome outcome)
{
    switch (outcome) {
    case SIP_OUTCOME_ANSWERED:
        return "answered";
    case SIP_OUTCOME_BUSY:
        return "busy";
    case SIP_OUTCOME_NO_ANSWER:
        return "no-answer";
    case SIP_OUTCOME_FAILED_TEMPORARY:
        return "failed-temporary";
    case SIP_OUTCOME_FAILED_PERMANENT:
        return "failed-permanent";
    case SIP_OUTCOME_TIMEOUT:
        return "timeout";
    }
    return "unknown";
}

/* One key from text [s, e) with surrounding spaces trimmed: a key character
 * or an event number 0-15. */
static int sip_dtmf_value(const char *s, const char *e, char *key)
{
    static const char events[] = "0123456789*#ABCD";

    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e - s == 1) {
        char c = *s;
        if (c >= 'a' && c <= 'd')
            c = (char)(c - 'a' + 'A');
        if (c != '\0' && strchr(events, c) != NULL) {
            *key = c;
            return 0;
        }
        return OB_EINVAL;
    }
    if (e - s == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5') {
        *key = events[10 + (s[1] - '0')];
        return 0;
    }
    return OB_EINVAL;
}

int sip_dtmf_info_parse(const char *subtype, const char *body, size_t len, char *key)
{
    const char *p, *end;

    if (subtype == NULL || body == NULL || len == 0 || len > SIP_INFO_MAX_BODY ||
        memchr(body, '\0', len) != NULL)
        return OB_EINVAL;
    end = body + len;
    if (strcasecmp(subtype, "dtmf") == 0)
        return sip_dtmf_value(body, end, key);
    if (strcasecmp(subtype, "dtmf-relay") != 0)
        return OB_EINVAL;
    for (p = body; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol != NULL ? eol : end;
        const char *eq = memchr(p, '=', (size_t)(line_end - p));
        const char *n = p, *ne = eq;

        if (eq != NULL) {
            while (n < ne && (*n == ' ' || *n == '\t'))
                n++;
            while (ne > n && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            if (ne - n == 6 && strncasecmp(n, "Signal", 6) == 0)
                return sip_dtmf_value(eq + 1, line_end, key);
        }
        p = eol != NULL ? eol + 1 : end;
    }
    return OB_EINVAL;
}

/* Characters allowed in the user or host part we build (no spaces, no <>,
 * no quotes, no CR/LF: the result goes into a Request-URI and To header). */
static int sip_uri_safe(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static int sip_is_e164(const char *s)
{
    size_t n = 0;

    if (s[0] != '+')
        return 0;
    for (s++; *s != '\0'; s++, n++)
        if (*s < '0' || *s > '9')
            return 0;
    return n >= 8 && n <= 15;
}

int sip_target_uri(const char *address, const char *trunk, char *out, size_t cap)
{
    int n;

    if (address == NULL || !sip_uri_safe(address))
        return OB_EINVAL;
    if (strncmp(address, "sip:", 4) == 0 || strncmp(address, "sips:", 5) == 0) {
        const char *rest = address + (address[3] == ':' ? 4 : 5);
        if (rest[0] == '\0' || rest[0] == '@')
            return OB_EINVAL;
        n = snprintf(out, cap, "%s", address);
    } else if (sip_is_e164(address)) {
        const char *host;
        size_t scheme;
        if (trunk == NULL || !sip_uri_safe(trunk) || strchr(trunk, '@') != NULL)
            return OB_EINVAL;
        if (strncmp(trunk, "sip:", 4) == 0)
            scheme = 4;
        else if (strncmp(trunk, "sips:", 5) == 0)
            scheme = 5;
        else
            return OB_EINVAL;
        host = trunk + scheme;
        if (host[0] == '\0')
            return OB_EINVAL;
        n = snprintf(out, cap, "%.*s%s@%s", (int)scheme, trunk, address, host);
    } else {
        return OB_EINVAL;
    }
    if (n < 0 || (size_t)n >= cap)
        return OB_ETOOLARGE;
    return 0;
}
