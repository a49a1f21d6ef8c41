/*
 * provider.c - the provider table.  The first provider that handles a
 * contact type under the configuration in force delivers it: real
 * providers first, the catch-all `log` last.
 */
#include "notify/notify_internal.h"

const struct notify_provider *const notify_providers[] = {
    &notify_provider_sip,     &notify_provider_twilio, &notify_provider_slack,
    &notify_provider_webhook, &notify_provider_smtp,   &notify_provider_log,
};
const size_t notify_provider_count = sizeof(notify_providers) / sizeof(notify_providers[0]);
