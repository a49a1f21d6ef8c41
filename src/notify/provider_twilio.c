/*
 * provider_twilio.c - the `twilio` provider (being written: delivers nothing yet).
 */
#include "notify/notify_internal.h"

static int twilio_handles(const struct config *cfg, const char *type)
{
    (void)cfg;
    (void)type;
    return 0;
}

static enum notify_outcome twilio_deliver(struct notify_attempt *a)
{
    (void)a;
    return NOTIFY_FAILED_PERMANENT;
}

const struct notify_provider notify_provider_twilio = {
    .name = "twilio",
    .handles = twilio_handles,
    .deliver = twilio_deliver,
};
