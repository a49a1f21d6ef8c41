/*
 * provider.c - the provider table.  The first provider that handles a
 * contact type under the configuration in force delivers it.
 */
#include "notify/notify_internal.h"

const struct notify_provider *const notify_providers[] = {
    &notify_provider_log,
};
const size_t notify_provider_count = sizeof(notify_providers) / sizeof(notify_providers[0]);
