/*
 * provider_log.c - the `log` provider: when `providers.log.path` is set it
 * delivers every contact type by appending one JSON line per notification
 * to that file (O_APPEND, one write(2) per line, so concurrent nodes on one
 * host never interleave).  For tests and dry runs: who would have been
 * reached, how, and when.
 */
#include "notify/notify_internal.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_handles(const struct config *cfg, const char *type)
{
    (void)type;
    return cfg->providers.log.enabled && cfg->providers.log.path != NULL;
}

static enum notify_outcome log_deliver(struct notify_attempt *a)
{
    const struct config *cfg = a->cfg;
    const struct outbox_row *row = a->row;
    const struct incident *inc = a->inc;
    char *detail = a->detail;
    size_t cap = sizeof(a->detail);
    json_t *line = json_pack(
        "{s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "notification",
        (json_int_t)row->id, "incident", (json_int_t)row->incident_id, "user", row->user_name,
        "type", row->contact_type, "address", row->address, "rule", (json_int_t)row->rule_index,
        "step_seq", (json_int_t)row->seq, "due_at_ms", (json_int_t)row->due_at_ms, "summary",
        inc->summary, "service", inc->service, "severity", inc->severity);
    char *text = NULL;
    size_t len;
    ssize_t written;
    int fd;

    if (line == NULL)
        goto fail_temp;
    text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(line);
    if (text == NULL)
        goto fail_temp;
    len = strlen(text);
    text[len++] = '\n'; /* json_dumps leaves room: the NUL becomes the newline */
    fd = open(cfg->providers.log.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(detail, cap, "cannot open %s: %s", cfg->providers.log.path, strerror(errno));
        free(text);
        return NOTIFY_FAILED_TEMPORARY;
    }
    written = write(fd, text, len);
    close(fd);
    free(text);
    if (written != (ssize_t)len) {
        snprintf(detail, cap, "short write to %s", cfg->providers.log.path);
        return NOTIFY_FAILED_TEMPORARY;
    }
    snprintf(detail, cap, "appended to %s", cfg->providers.log.path);
    return NOTIFY_DELIVERED;
fail_temp:
    snprintf(detail, cap, "out of memory");
    return NOTIFY_FAILED_TEMPORARY;
}

const struct notify_provider notify_provider_log = {
    .name = "log",
    .handles = log_handles,
    .deliver = log_deliver,
};
