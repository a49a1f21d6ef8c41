/*
 * log.h - structured log lines in logfmt.
 *
 *   ts=2026-11-24T19:00:00.123Z level=info subsystem=http request_id=ab12 msg="listening" url=...
 *
 * Lines go to stderr (or the fd given to log_init) with one write(2) each, so
 * lines from different threads never interleave.  Values are quoted and
 * escaped as logfmt requires.  Never pass a secret as a value: secrets live
 * in `struct secret` (util/secret.h), which has no string accessor meant for
 * logging.
 */
#ifndef OPSBELL_UTIL_LOG_H
#define OPSBELL_UTIL_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Set the minimum level and the destination fd (2 = stderr). Not thread-safe:
 * call before starting threads, or accept a racy level change. */
void log_init(enum log_level min_level, int fd);
void log_set_level(enum log_level min_level);
enum log_level log_get_level(void);

/* Parse "debug" | "info" | "warn" | "error". Returns 0 or OB_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

/*
 * Emit one line. request_id may be NULL. The variadic part is a list of
 * (const char *key, const char *value) pairs ended by a single NULL key;
 * a NULL value is printed as an empty string.
 */
void log_emit(enum log_level level, const char *subsystem, const char *request_id, const char *msg,
              ...);

#define log_debug(sub, msg, ...)                                                                   \
    log_emit(LOG_LEVEL_DEBUG, sub, NULL, msg, ##__VA_ARGS__, (const char *)NULL)
#define log_info(sub, msg, ...)                                                                    \
    log_emit(LOG_LEVEL_INFO, sub, NULL, msg, ##__VA_ARGS__, (const char *)NULL)
#define log_warn(sub, msg, ...)                                                                    \
    log_emit(LOG_LEVEL_WARN, sub, NULL, msg, ##__VA_ARGS__, (const char *)NULL)
#define log_error(sub, msg, ...)                                                                   \
    log_emit(LOG_LEVEL_ERROR, sub, NULL, msg, ##__VA_ARGS__, (const char *)NULL)

/*
 * Append `key=value` to buf in logfmt (with a leading space), quoting when
 * needed. Returns the number of bytes the full text needs (like snprintf);
 * used by log_emit and exposed for unit tests.
 */
size_t log_format_pair(char *buf, size_t cap, const char *key, const char *value);

#endif
