/*
 * provider_slack.c - the `slack` provider (being written: delivers nothing yet).
 */
#include "notify/notify_internal.h"

static int slack_handles(const struct config *cfg, const char *type)
{
    (void)cfg;
    (void)type;
    return 0;
}

static enum notify_outcome slack_deliver(struct notify_attempt *a)
{
    (void)a;
    return NOTIFY_FAILED_PERMANENT;
}

const struct notify_provider notify_provider_slack = {
    .name = "slack",
    .handles = slack_handles,
    .deliver = slack_deliver,
};
