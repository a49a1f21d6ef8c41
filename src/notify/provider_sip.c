/*
 * provider_sip.c - the `sip` provider (being written: delivers nothing yet).
 */
#include "notify/notify_internal.h"

static int sip_handles(const struct config *cfg, const char *type)
{
    (void)cfg;
    (void)type;
    return 0;
}

static enum notify_outcome sip_deliver(struct notify_attempt *a)
{
    (void)a;
    return NOTIFY_FAILED_PERMANENT;
}

const struct notify_provider notify_provider_sip = {
    .name = "sip",
    .handles = sip_handles,
    .deliver = sip_deliver,
};
