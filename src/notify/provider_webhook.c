/*
 * provider_webhook.c - the `webhook` provider: contact type `webhook`, the
 * address is a URL.  One JSON POST per attempt, signed:
 *
 *   X-Opsbell-Timestamp: <unix seconds>
 *   X-Opsbell-Signature: v1=<hex HMAC-SHA256(signing_secret, timestamp "." body)>
 *
 * The incident's later changes of state go to the same URL as events
 * "incident.acknowledged", "incident.resolved", "incident.triggered".
 *
 * 2xx: delivered; 4xx (but 408, 429): failed-permanent; anything else, and
 * connection errors and timeouts (connect 5 s, total 10 s): failed-temporary.
 * Runs on a dispatcher worker thread (a blocking libcurl easy handle is
 * fine there).
 */
#include "notify/notify_internal.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WEBHOOK_CONNECT_TIMEOUT_MS 5000L
#define WEBHOOK_TOTAL_TIMEOUT_MS   10000L

int webhook_signature(const unsigned char *key, size_t key_len, const char *timestamp,
                      const char *body, size_t body_len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t ts_len = strlen(timestamp), mac_len = 0;
    unsigned char *msg = malloc(ts_len + 1 + body_len + 1);
    unsigned char *ok;

    out[0] = '\0';
    if (msg == NULL)
        return -1;
    memcpy(msg, timestamp, ts_len);
    msg[ts_len] = '.';
    memcpy(msg + ts_len + 1, body, body_len);
    ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, ts_len + 1 + body_len,
                   mac, sizeof(mac), &mac_len);
    free(msg);
    if (ok == NULL || mac_len != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

enum notify_outcome webhook_outcome(int transport_ok, long status)
{
    if (!transport_ok)
        return NOTIFY_FAILED_TEMPORARY;
    if (status >= 200 && status < 300)
        return NOTIFY_DELIVERED;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return NOTIFY_FAILED_PERMANENT;
    return NOTIFY_FAILED_TEMPORARY;
}

static int webhook_handles(const struct config *cfg, const char *type)
{
    return cfg->providers.webhook.enabled && strcmp(type, "webhook") == 0;
}

static uint32_t webhook_max_attempts(const struct config *cfg)
{
    return cfg->providers.webhook.max_attempts;
}

static uint32_t webhook_retry_base_ms(const struct config *cfg)
{
    return cfg->providers.webhook.retry_base_ms;
}

/* Discard the receiver's body: only its status matters. */
static size_t webhook_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static char *webhook_body(const struct config *cfg, const struct outbox_row *row,
                          const struct incident *inc, const char *event)
{
    char link[512];
    json_t *body;
    char *text;

    if (cfg->public_url != NULL)
        snprintf(link, sizeof(link), "%s/api/v1/incidents/%lld", cfg->public_url,
                 (long long)inc->id);
    else
        snprintf(link, sizeof(link), "http://%s:%u/api/v1/incidents/%lld", cfg->listen_host,
                 (unsigned)cfg->listen_port, (long long)inc->id);
    body = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "event", event,
                     "incident_id", (json_int_t)inc->id, "status", inc->status, "summary",
                     inc->summary, "service", inc->service, "team",
                     inc->team != NULL ? inc->team : "", "severity", inc->severity, "user",
                     row->user_name, "notification", (json_int_t)row->id, "attempt",
                     (json_int_t)row->attempts, "step_seq", (json_int_t)row->seq, "link", link);
    if (body == NULL)
        return NULL;
    text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    return text;
}

/* POST event about a->inc to a->row->address. */
static enum notify_outcome webhook_post(struct notify_attempt *a, const char *event)
{
    const struct config *cfg = a->cfg;
    const struct outbox_row *row = a->row;
    const struct incident *inc = a->inc;
    char *detail = a->detail;
    size_t cap = sizeof(a->detail);
    const struct secret *key = &cfg->providers.webhook.signing_secret;
    struct curl_slist *headers = NULL, *h;
    char ts[32], sig[65], line[128], errbuf[CURL_ERROR_SIZE] = "";
    enum notify_outcome outcome = NOTIFY_FAILED_TEMPORARY;
    char *body = webhook_body(cfg, row, inc, event);
    CURL *curl = NULL;
    CURLcode cc;
    long status = 0;

    if (body == NULL || key->value == NULL) {
        snprintf(detail, cap, body == NULL ? "out of memory" : "no signing secret");
        goto out;
    }
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    if (webhook_signature((const unsigned char *)key->value, key->len, ts, body, strlen(body),
                          sig) != 0) {
        snprintf(detail, cap, "cannot sign the request");
        goto out;
    }
    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(detail, cap, "out of memory");
        goto out;
    }
    h = curl_slist_append(headers, "Content-Type: application/json");
    headers = h;
    snprintf(line, sizeof(line), "X-Opsbell-Timestamp: %s", ts);
    h = h != NULL ? curl_slist_append(headers, line) : NULL;
    snprintf(line, sizeof(line), "X-Opsbell-Signature: v1=%s", sig);
    h = h != NULL ? curl_slist_append(headers, line) : NULL;
    h = h != NULL ? curl_slist_append(headers, "User-Agent: opsbell") : NULL;
    if (h == NULL) {
        snprintf(detail, cap, "out of memory");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, row->address);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, WEBHOOK_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, WEBHOOK_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, webhook_discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    outcome = webhook_outcome(cc == CURLE_OK, status);
    if (cc != CURLE_OK)
        snprintf(detail, cap, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    else
        snprintf(detail, cap, "HTTP %ld", status);
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(body);
    return outcome;
}

static enum notify_outcome webhook_deliver(struct notify_attempt *a)
{
    enum notify_outcome outcome = webhook_post(a, "incident.notification");

    /* An id, so that the incident's later changes of state are posted too. */
    if (outcome == NOTIFY_DELIVERED)
        snprintf(a->external_id, sizeof(a->external_id), "%lld", (long long)a->row->id);
    return outcome;
}

/* "incident.acknowledged", "incident.resolved", "incident.triggered" (again). */
static enum notify_outcome webhook_update(struct notify_attempt *a)
{
    char event[48];

    snprintf(event, sizeof(event), "incident.%s", a->inc->status);
    return webhook_post(a, event);
}

const struct notify_provider notify_provider_webhook = {
    .name = "webhook",
    .handles = webhook_handles,
    .deliver = webhook_deliver,
    .update = webhook_update,
    .max_attempts = webhook_max_attempts,
    .retry_base_ms = webhook_retry_base_ms,
};
