/*
 * notify_internal.h - the providers, for the table in provider.c, and the
 * webhook and smtp providers' pure parts (unit-tested).
 */
#ifndef OPSBELL_NOTIFY_NOTIFY_INTERNAL_H
#define OPSBELL_NOTIFY_NOTIFY_INTERNAL_H

#include "notify/notify.h"

#include <stddef.h>
#include <stdint.h>

struct strbuf;

extern const struct notify_provider notify_provider_log;
extern const struct notify_provider notify_provider_sip;
extern const struct notify_provider notify_provider_slack;
extern const struct notify_provider notify_provider_twilio;
extern const struct notify_provider notify_provider_smtp;
extern const struct notify_provider notify_provider_webhook;

/* hex(HMAC-SHA256(key, timestamp "." body)) into out (65 bytes with the NUL).
 * Returns 0, or -1 when OpenSSL fails. */
int webhook_signature(const unsigned char *key, size_t key_len, const char *timestamp,
                      const char *body, size_t body_len, char out[65]);

/* The outcome of one POST: transport_ok 0 (connection refused, timeout)
 * or a status other than 2xx and 4xx is temporary; 2xx delivered; 4xx
 * permanent (408 and 429 are temporary: the receiver asks us to retry). */
enum notify_outcome webhook_outcome(int transport_ok, long status);

/* The outcome of one SMTP attempt: curl_code is the CURLcode, smtp_code the
 * last reply (CURLINFO_RESPONSE_CODE, 0 when none).  5xx, a malformed URL
 * and rejected credentials are permanent; 4xx, connection errors and
 * timeouts temporary; CURLE_OK delivered. */
enum notify_outcome smtp_outcome(int curl_code, long smtp_code);

/* Append s with every control character (CR and LF included) as a space. */
void smtp_header_value(struct strbuf *out, const char *s);
/* The two bodies (before base64): the incident's id, summary, status,
 * severity, service, team and link (<public_url>/api/v1/incidents/<id>). */
void smtp_text_part(const struct config *cfg, const struct incident *inc, struct strbuf *out);
void smtp_html_part(const struct config *cfg, const struct incident *inc, struct strbuf *out);
/* The whole message (RFC 5322 headers, CRLF line ends, multipart/alternative
 * body) to row->address from providers.smtp.from_address, dated now_s;
 * unique (hex) makes the Message-ID and the MIME boundary. */
void smtp_message(const struct config *cfg, const struct outbox_row *row,
                  const struct incident *inc, int64_t now_s, const char *unique,
                  struct strbuf *out);

#endif
