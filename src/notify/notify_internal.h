/*
 * notify_internal.h - the providers, for the table in provider.c, and the
 * webhook provider's pure parts (unit-tested).
 */
#ifndef OPSBELL_NOTIFY_NOTIFY_INTERNAL_H
#define OPSBELL_NOTIFY_NOTIFY_INTERNAL_H

#include "notify/notify.h"

#include <stddef.h>

extern const struct notify_provider notify_provider_log;
extern const struct notify_provider notify_provider_webhook;

/* hex(HMAC-SHA256(key, timestamp "." body)) into out (65 bytes with the NUL).
 * Returns 0, or -1 when OpenSSL fails. */
int webhook_signature(const unsigned char *key, size_t key_len, const char *timestamp,
                      const char *body, size_t body_len, char out[65]);

/* The outcome of one POST: transport_ok 0 (connection refused, timeout)
 * or a status other than 2xx and 4xx is temporary; 2xx delivered; 4xx
 * permanent (408 and 429 are temporary: the receiver asks us to retry). */
enum notify_outcome webhook_outcome(int transport_ok, long status);

#endif
