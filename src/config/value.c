/*
 * value.c - checks and parsers for single configuration values: names,
 * phone numbers, addresses, time zones, listen addresses, numbers and
 * durations.  Pure functions: they report nothing, the callers do.
 */
#include "config/internal.h"

#include "util/error.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <libical/ical.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"

static int value_is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int value_is_alnum(char c)
{
    return value_is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int value_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int value_is_name(const char *s)
{
    size_t len;

    if (s == NULL || !value_is_lower_alnum(s[0]))
        return 0;
    for (len = 1; s[len] != '\0'; len++) {
        char c = s[len];
        if (!value_is_lower_alnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return len <= CONFIG_NAME_MAX;
}

/* A Unix login name as opsbell publishes keys under: [a-z_][a-z0-9_.-]{0,31}. */
int value_is_login(const char *s)
{
    size_t len;

    if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (len = 1; s[len] != '\0'; len++) {
        char c = s[len];
        if (!value_is_lower_alnum(c) && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return len <= 32;
}

/* A host name as an agent names itself: [a-z0-9][a-z0-9.-]{0,252}. */
int value_is_host_name(const char *s)
{
    size_t len;

    if (s == NULL || !value_is_lower_alnum(s[0]))
        return 0;
    for (len = 1; s[len] != '\0'; len++) {
        char c = s[len];
        if (!value_is_lower_alnum(c) && c != '.' && c != '-')
            return 0;
    }
    return len <= 253;
}

int value_is_nickname(const char *s)
{
    size_t len;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (len = 0; s[len] != '\0'; len++) {
        char c = s[len];
        if (!value_is_alnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return len <= CONFIG_NAME_MAX;
}

int value_is_e164(const char *s)
{
    size_t digits = 0;

    if (s == NULL || s[0] != '+')
        return 0;
    for (const char *p = s + 1; *p != '\0'; p++) {
        if (!value_is_digit(*p))
            return 0;
        digits++;
    }
    /* E.164 allows at most 15 digits; fewer than 8 is no reachable number. */
    return digits >= 8 && digits <= 15 && s[1] != '0';
}

int value_has_space(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return 1;
    }
    return 0;
}

int value_is_email(const char *s)
{
    const char *at;

    if (s == NULL || value_has_space(s))
        return 0;
    at = strchr(s, '@');
    /* No whitespace: an address goes into mail headers, where a newline
     * would let a value add headers of its own. */
    return at != NULL && at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL;
}

int value_is_sip_uri(const char *s)
{
    if (s == NULL || value_has_space(s))
        return 0;
    if (strncmp(s, "sip:", 4) == 0)
        return s[4] != '\0';
    if (strncmp(s, "sips:", 5) == 0)
        return s[5] != '\0';
    return 0;
}

int value_is_http_url(const char *s)
{
    if (s == NULL || value_has_space(s))
        return 0;
    if (strncmp(s, "http://", 7) == 0)
        return s[7] != '\0';
    if (strncmp(s, "https://", 8) == 0)
        return s[8] != '\0';
    return 0;
}

int value_is_token(const char *s, size_t min, size_t max)
{
    size_t len;

    if (s == NULL)
        return 0;
    for (len = 0; s[len] != '\0'; len++) {
        char c = s[len];
        if (!value_is_alnum(c) && c != '.' && c != '_' && c != '~' && c != '-')
            return 0;
    }
    return len >= min && len <= max;
}

/*
 * A zone exists when /usr/share/zoneinfo/NAME is a TZif file.  The name is
 * user input turned into a path: refuse anything but plain components, so
 * that "../../etc/passwd" or "/etc/shadow" never reaches open(2), and check
 * the magic so that zoneinfo's own tables (zone.tab, tzdata.zi) are refused.
 */
int value_time_zone_exists(const char *name)
{
    char path[sizeof(ZONEINFO_DIR) + CONFIG_NAME_MAX + 2];
    char magic[4];
    struct stat st;
    size_t len;
    ssize_t n;
    int fd;

    if (name == NULL)
        return 0;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        return 1; /* always valid, even without tzdata installed */
    len = strlen(name);
    if (len == 0 || len > CONFIG_NAME_MAX || name[0] == '/' || name[0] == '.' ||
        name[len - 1] == '/' || strstr(name, "//") != NULL || strstr(name, "/.") != NULL)
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        if (!value_is_alnum(*p) && *p != '/' && *p != '_' && *p != '-' && *p != '+' && *p != '.')
            return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, name);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    n = read(fd, magic, sizeof(magic));
    close(fd);
    return n == (ssize_t)sizeof(magic) && memcmp(magic, "TZif", 4) == 0;
}

static const char *const contact_type_names[] = {
    [CONTACT_VOICE] = "voice", [CONTACT_SMS] = "sms",     [CONTACT_SIP] = "sip",
    [CONTACT_EMAIL] = "email", [CONTACT_SLACK] = "slack", [CONTACT_WEBHOOK] = "webhook",
};

const char *contact_type_name(enum contact_type type)
{
    if ((unsigned)type >= sizeof(contact_type_names) / sizeof(contact_type_names[0]))
        return "unknown";
    return contact_type_names[type];
}

int value_parse_contact_type(const char *s, enum contact_type *out)
{
    for (unsigned i = 0; i < sizeof(contact_type_names) / sizeof(contact_type_names[0]); i++) {
        if (strcmp(s, contact_type_names[i]) == 0) {
            *out = (enum contact_type)i;
            return 0;
        }
    }
    return OB_EINVAL;
}

int value_is_label_name(const char *s)
{
    size_t len;

    if (s == NULL || !(value_is_alnum(s[0]) || s[0] == '_') || value_is_digit(s[0]))
        return 0;
    for (len = 1; s[len] != '\0'; len++) {
        if (!value_is_alnum(s[len]) && s[len] != '_')
            return 0;
    }
    return len <= ALERT_LABEL_NAME_MAX;
}

int value_parse_bool(const char *s, int *out)
{
    if (s != NULL && strcmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (s != NULL && strcmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return OB_EINVAL;
}

const char *value_severity_name(const char *s)
{
    static const char *const names[] = {"critical", "error", "warning", "info"};

    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0)
            return names[i];
    }
    return NULL;
}

int value_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || s[0] == '\0' || strlen(s) > 20)
        return OB_EINVAL;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned d;
        if (!value_is_digit(*p))
            return OB_EINVAL;
        d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return OB_EINVAL;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return OB_EINVAL;
    *out = v;
    return 0;
}

/* A DNS name: letters, digits, '-' and '.', not starting with '-'. */
static int value_is_hostname(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > 253 || s[0] == '-' || s[0] == '.')
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (!value_is_alnum(*p) && *p != '-' && *p != '.')
            return 0;
    }
    return 1;
}

int value_parse_listen(const char *s, char **host, uint16_t *port)
{
    char buf[300];
    const char *port_text;
    char *h;
    uint64_t p;
    unsigned char addr[16];

    *host = NULL;
    if (s == NULL || strlen(s) >= sizeof(buf))
        return OB_EINVAL;
    snprintf(buf, sizeof(buf), "%s", s);
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || close[1] != ':')
            return OB_EINVAL;
        *close = '\0';
        h = buf + 1;
        port_text = close + 2;
        if (inet_pton(AF_INET6, h, addr) != 1)
            return OB_EINVAL;
    } else {
        char *colon = strrchr(buf, ':');
        if (colon == NULL)
            return OB_EINVAL;
        *colon = '\0';
        h = buf;
        port_text = colon + 1;
        /* An IPv6 address needs brackets, or its port would be ambiguous. */
        if (strchr(h, ':') != NULL || !value_is_hostname(h))
            return OB_EINVAL;
    }
    if (strlen(port_text) > 5 || value_parse_uint(port_text, 0, 65535, &p) != 0)
        return OB_EINVAL;
    *host = strdup(h);
    if (*host == NULL)
        return OB_ENOMEM;
    *port = (uint16_t)p;
    return 0;
}

/* Units in the order they must appear: "1d2h3m4s". */
static int value_unit_seconds(char unit, unsigned *rank, uint64_t *mult)
{
    static const char units[] = "dhms";
    static const uint64_t mults[] = {86400, 3600, 60, 1};
    const char *u = unit != '\0' ? strchr(units, unit) : NULL;

    if (u == NULL)
        return OB_EINVAL;
    *rank = (unsigned)(u - units);
    *mult = mults[*rank];
    return 0;
}

int config_parse_duration(const char *text, uint32_t *seconds)
{
    uint64_t total = 0;
    unsigned last_rank = 0;
    int have_unit = 0;
    const char *p = text;

    if (text == NULL || text[0] == '\0')
        return OB_EINVAL;
    while (*p != '\0') {
        uint64_t value = 0, mult;
        unsigned rank;
        const char *start = p;
        while (value_is_digit(*p)) {
            value = value * 10 + (uint64_t)(*p - '0');
            if (value > UINT32_MAX)
                return OB_EINVAL;
            p++;
        }
        if (p == start)
            return OB_EINVAL;
        if (*p == '\0' && !have_unit) {
            total = value; /* a bare number of seconds */
            break;
        }
        if (value_unit_seconds(*p, &rank, &mult) != 0)
            return OB_EINVAL;
        /* Each unit at most once, largest first: "30m1h" is a typo. */
        if (have_unit && rank <= last_rank)
            return OB_EINVAL;
        have_unit = 1;
        last_rank = rank;
        total += value * mult;
        if (total > UINT32_MAX)
            return OB_EINVAL;
        p++;
    }
    *seconds = (uint32_t)total;
    return 0;
}

int value_parse_clock(const char *s, uint32_t *seconds)
{
    unsigned h = 0, m = 0;
    const char *p = s;
    int digits = 0;

    if (s == NULL)
        return OB_EINVAL;
    while (value_is_digit(*p) && digits < 3) {
        h = h * 10 + (unsigned)(*p++ - '0');
        digits++;
    }
    if (digits < 1 || digits > 2 || *p++ != ':')
        return OB_EINVAL;
    if (!value_is_digit(p[0]) || !value_is_digit(p[1]) || p[2] != '\0')
        return OB_EINVAL;
    m = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
    if (h > 23 || m > 59)
        return OB_EINVAL;
    *seconds = h * 3600 + m * 60;
    return 0;
}

int value_parse_weekday(const char *s, uint8_t *bit)
{
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

    for (unsigned i = 0; s != NULL && i < 7; i++) {
        if (strcmp(s, days[i]) == 0) {
            *bit = (uint8_t)(1U << i);
            return 0;
        }
    }
    return OB_EINVAL;
}

int value_is_date(const char *s)
{
    int v[3] = {0, 0, 0};
    static const int widths[3] = {4, 2, 2};
    const char *p = s;

    if (s == NULL)
        return 0;
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < widths[k]; i++, p++) {
            if (!value_is_digit(*p))
                return 0;
            v[k] = v[k] * 10 + (*p - '0');
        }
        if (k < 2 && *p++ != '-')
            return 0;
    }
    return *p == '\0' && v[0] >= 1970 && v[0] <= 2999 && v[1] >= 1 && v[1] <= 12 && v[2] >= 1 &&
           v[2] <= icaltime_days_in_month(v[1], v[0]);
}
