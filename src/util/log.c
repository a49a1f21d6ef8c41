#include "util/log.h"

#include "util/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(enum log_level level, int fd)
{
    min_level = level;
    log_fd = fd;
}

void log_set_level(enum log_level level)
{
    min_level = level;
}

enum log_level log_get_level(void)
{
    return min_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return OB_EINVAL;
}

static bool needs_quotes(const char *value)
{
    if (*value == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
    }
    return false;
}

/* Append one character to buf when it fits; always counts it. */
static void put(char *buf, size_t cap, size_t *len, char c)
{
    if (*len + 1 < cap)
        buf[*len] = c;
    (*len)++;
}

size_t log_format_pair(char *buf, size_t cap, const char *key, const char *value)
{
    size_t len = 0;
    bool quote;

    if (value == NULL)
        value = "";
    quote = needs_quotes(value);
    put(buf, cap, &len, ' ');
    for (const char *k = key; *k != '\0'; k++)
        put(buf, cap, &len, *k);
    put(buf, cap, &len, '=');
    if (quote)
        put(buf, cap, &len, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        switch (*p) {
        case '"':
        case '\\':
            put(buf, cap, &len, '\\');
            put(buf, cap, &len, (char)*p);
            break;
        case '\n':
            put(buf, cap, &len, '\\');
            put(buf, cap, &len, 'n');
            break;
        case '\r':
            put(buf, cap, &len, '\\');
            put(buf, cap, &len, 'r');
            break;
        case '\t':
            put(buf, cap, &len, '\\');
            put(buf, cap, &len, 't');
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char hex[8];
                snprintf(hex, sizeof(hex), "\\x%02x", *p);
                for (char *h = hex; *h != '\0'; h++)
                    put(buf, cap, &len, *h);
            } else {
                put(buf, cap, &len, (char)*p);
            }
        }
    }
    if (quote)
        put(buf, cap, &len, '"');
    if (cap > 0)
        buf[len < cap ? len : cap - 1] = '\0';
    return len;
}

void log_emit(enum log_level level, const char *subsystem, const char *request_id, const char *msg,
              ...)
{
    char line[8192];
    size_t len, room;
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len, ".%03ldZ level=%s",
                            now.tv_nsec / 1000000L, level_names[level]);

#define APPEND_PAIR(k, v)                                                                          \
    do {                                                                                           \
        room = sizeof(line) - len - 1; /* keep space for the newline */                            \
        size_t need = log_format_pair(line + len, room, (k), (v));                                 \
        len += need < room ? need : (room > 0 ? room - 1 : 0);                                     \
    } while (0)

    APPEND_PAIR("subsystem", subsystem);
    if (request_id != NULL)
        APPEND_PAIR("request_id", request_id);
    APPEND_PAIR("msg", msg);
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        const char *value;
        if (key == NULL)
            break;
        value = va_arg(ap, const char *);
        APPEND_PAIR(key, value);
    }
    va_end(ap);
#undef APPEND_PAIR
    line[len++] = '\n';
    /* One write per line: atomic for pipes up to PIPE_BUF, and never
     * interleaved mid-line with other threads' lines in practice. */
    ssize_t rc = write(log_fd, line, len);
    (void)rc;
}
