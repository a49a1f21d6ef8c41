/*
 * notify_internal.h - the providers, for the table in provider.c.
 */
#ifndef OPSBELL_NOTIFY_NOTIFY_INTERNAL_H
#define OPSBELL_NOTIFY_NOTIFY_INTERNAL_H

#include "notify/notify.h"

extern const struct notify_provider notify_provider_log;

#endif
