/*
 * provider_smtp.c - the `smtp` provider: contact type `email`, the address
 * is an e-mail address.  One message per attempt through libcurl's SMTP
 * (`providers.smtp.url`, smtp:// with STARTTLS when offered, or required
 * with `require_tls: true`; smtps:// is TLS from the start; AUTH with
 * `username` / `password` when given; connect 10 s, total 30 s).
 *
 * The message: From, To, Subject "[opsbell] #<id> <summary>", Date,
 * Message-ID, MIME-Version, and a multipart/alternative body with a
 * text/plain and a text/html part (base64, so no line is too long and no
 * byte is 8-bit), each with the incident and its link.  Header values have
 * CR, LF and other control characters replaced by spaces (no header
 * injection); a non-ASCII subject is RFC 2047 encoded.
 *
 * Outcome: delivered when the server accepted the message; an SMTP 5xx
 * reply (550 mailbox unavailable, 535 bad credentials ...) is
 * failed-permanent; 4xx, connection errors and timeouts are
 * failed-temporary.  Runs on the dispatcher thread.
 */
#include "notify/notify_internal.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SMTP_CONNECT_TIMEOUT_MS 10000L
#define SMTP_TOTAL_TIMEOUT_MS   30000L

enum notify_outcome smtp_outcome(int curl_code, long smtp_code)
{
    if (smtp_code >= 500 && smtp_code < 600)
        return NOTIFY_FAILED_PERMANENT;
    if (curl_code == CURLE_URL_MALFORMAT || curl_code == CURLE_UNSUPPORTED_PROTOCOL ||
        curl_code == CURLE_LOGIN_DENIED)
        return NOTIFY_FAILED_PERMANENT;
    if (curl_code == CURLE_OK && (smtp_code == 0 || (smtp_code >= 200 && smtp_code < 400)))
        return NOTIFY_DELIVERED;
    return NOTIFY_FAILED_TEMPORARY;
}

void smtp_header_value(struct strbuf *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        strbuf_addch(out, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
}

/* base64 of data[0..len) in lines of 76 characters, each ending in CRLF. */
static void smtp_base64(struct strbuf *out, const char *data, size_t len)
{
    unsigned char line[80];

    for (size_t off = 0; off < len; off += 57) {
        size_t n = len - off < 57 ? len - off : 57;
        int w = EVP_EncodeBlock(line, (const unsigned char *)data + off, (int)n);

        strbuf_add(out, line, (size_t)w);
        strbuf_adds(out, "\r\n");
    }
}

/* The subject, control characters replaced; RFC 2047 (UTF-8, base64) when
 * it is not plain ASCII. */
static void smtp_subject(struct strbuf *out, const struct incident *inc)
{
    struct strbuf raw;
    int ascii = 1;

    strbuf_init(&raw);
    strbuf_addf(&raw, "[opsbell] #%lld ", (long long)inc->id);
    smtp_header_value(&raw, inc->summary);
    for (size_t i = 0; i < raw.len; i++)
        if ((unsigned char)raw.buf[i] >= 0x80)
            ascii = 0;
    strbuf_adds(out, "Subject: ");
    if (ascii) {
        strbuf_add(out, raw.buf, raw.len);
    } else {
        /* Encoded words of at most 45 input bytes, cut between UTF-8 characters. */
        size_t off = 0;

        while (off < raw.len) {
            unsigned char word[80];
            size_t n = raw.len - off < 45 ? raw.len - off : 45;
            int w;

            while (n > 1 && off + n < raw.len && ((unsigned char)raw.buf[off + n] & 0xc0) == 0x80)
                n--;
            w = EVP_EncodeBlock(word, (const unsigned char *)raw.buf + off, (int)n);
            strbuf_adds(out, off == 0 ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
            strbuf_add(out, word, (size_t)w);
            strbuf_adds(out, "?=");
            off += n;
        }
    }
    strbuf_adds(out, "\r\n");
    strbuf_release(&raw);
}

static void smtp_link(const struct config *cfg, const struct incident *inc, char *out, size_t cap)
{
    if (cfg->public_url != NULL)
        snprintf(out, cap, "%s/api/v1/incidents/%lld", cfg->public_url, (long long)inc->id);
    else
        snprintf(out, cap, "http://%s:%u/api/v1/incidents/%lld", cfg->listen_host,
                 (unsigned)cfg->listen_port, (long long)inc->id);
}

void smtp_text_part(const struct config *cfg, const struct incident *inc, struct strbuf *out)
{
    char link[512];

    smtp_link(cfg, inc, link, sizeof(link));
    strbuf_addf(out,
                "Incident #%lld: %s\r\n\r\n"
                "Status:   %s\r\nSeverity: %s\r\nService:  %s\r\nTeam:     %s\r\n\r\n%s\r\n",
                (long long)inc->id, inc->summary, inc->status, inc->severity, inc->service,
                inc->team != NULL ? inc->team : "-", link);
}

void smtp_html_part(const struct config *cfg, const struct incident *inc, struct strbuf *out)
{
    static const char *const labels[] = {"Status", "Severity", "Service", "Team"};
    const char *values[] = {inc->status, inc->severity, inc->service,
                            inc->team != NULL ? inc->team : "-"};
    char link[512];

    smtp_link(cfg, inc, link, sizeof(link));
    strbuf_adds(out, "<!DOCTYPE html>\r\n<html><body>\r\n");
    strbuf_addf(out, "<h2>Incident #%lld: ", (long long)inc->id);
    strbuf_add_markup_escaped(out, inc->summary);
    strbuf_adds(out, "</h2>\r\n<table>\r\n");
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        strbuf_addf(out, "<tr><th align=\"left\">%s</th><td>", labels[i]);
        strbuf_add_markup_escaped(out, values[i]);
        strbuf_adds(out, "</td></tr>\r\n");
    }
    strbuf_adds(out, "</table>\r\n<p><a href=\"");
    strbuf_add_markup_escaped(out, link);
    strbuf_adds(out, "\">");
    strbuf_add_markup_escaped(out, link);
    strbuf_adds(out, "</a></p>\r\n</body></html>\r\n");
}

void smtp_message(const struct config *cfg, const struct outbox_row *row,
                  const struct incident *inc, int64_t now_s, const char *unique, struct strbuf *out)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *from = cfg->providers.smtp.from_address;
    const char *domain = strchr(from, '@');
    time_t t = (time_t)now_s;
    struct strbuf part;
    struct tm tm;

    gmtime_r(&t, &tm);
    strbuf_adds(out, "From: opsbell <");
    smtp_header_value(out, from);
    strbuf_adds(out, ">\r\nTo: <");
    smtp_header_value(out, row->address);
    strbuf_adds(out, ">\r\n");
    smtp_subject(out, inc);
    strbuf_addf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
    strbuf_addf(out, "Message-ID: <opsbell.%lld.%lld.%lld.%s@", (long long)inc->id,
                (long long)row->id, (long long)row->attempts, unique);
    smtp_header_value(out, domain != NULL ? domain + 1 : "opsbell");
    strbuf_adds(out, ">\r\nMIME-Version: 1.0\r\n");
    strbuf_addf(out, "X-Opsbell-Incident: %lld\r\n", (long long)inc->id);
    strbuf_addf(out, "Content-Type: multipart/alternative; boundary=\"opsbell-%s\"\r\n\r\n",
                unique);
    strbuf_init(&part);
    smtp_text_part(cfg, inc, &part);
    strbuf_addf(out,
                "--opsbell-%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n",
                unique);
    smtp_base64(out, part.buf, part.len);
    strbuf_reset(&part);
    smtp_html_part(cfg, inc, &part);
    strbuf_addf(out,
                "--opsbell-%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n",
                unique);
    smtp_base64(out, part.buf, part.len);
    strbuf_addf(out, "--opsbell-%s--\r\n", unique);
    strbuf_release(&part);
}

static void smtp_curl_options(const struct config *cfg, CURL *curl)
{
    const struct config_smtp *s = &cfg->providers.smtp;

    curl_easy_setopt(curl, CURLOPT_URL, s->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     s->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
    if (s->username != NULL) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, s->username);
        if (s->password.value != NULL)
            curl_easy_setopt(curl, CURLOPT_PASSWORD, s->password.value);
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, SMTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, SMTP_TOTAL_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
}

static int smtp_handles(const struct config *cfg, const char *type)
{
    return cfg->providers.smtp.enabled && strcmp(type, "email") == 0;
}

struct smtp_reader {
    const char *data;
    size_t len, off;
};

static size_t smtp_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct smtp_reader *r = userdata;
    size_t n = size * nitems;

    if (n > r->len - r->off)
        n = r->len - r->off;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return n;
}

static enum notify_outcome smtp_deliver(struct notify_attempt *a)
{
    const struct config *cfg = a->cfg;
    const struct outbox_row *row = a->row;
    const struct incident *inc = a->inc;
    char *detail = a->detail;
    size_t cap = sizeof(a->detail);
    char from[512], rcpt[512], unique[33], errbuf[CURL_ERROR_SIZE] = "";
    unsigned char rnd[16];
    struct curl_slist *rcpts = NULL;
    struct smtp_reader reader;
    struct strbuf msg;
    CURL *curl;
    CURLcode cc;
    long code = 0;
    enum notify_outcome outcome;

    if (strpbrk(row->address, "\r\n<>") != NULL) {
        snprintf(detail, cap, "invalid e-mail address");
        return NOTIFY_FAILED_PERMANENT;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    for (unsigned i = 0; i < sizeof(rnd); i++)
        snprintf(unique + 2 * i, 3, "%02x", rnd[i]);
    strbuf_init(&msg);
    smtp_message(cfg, row, inc, (int64_t)time(NULL), unique, &msg);
    snprintf(from, sizeof(from), "<%s>", cfg->providers.smtp.from_address);
    snprintf(rcpt, sizeof(rcpt), "<%s>", row->address);
    curl = curl_easy_init();
    rcpts = curl != NULL ? curl_slist_append(NULL, rcpt) : NULL;
    if (rcpts == NULL) {
        snprintf(detail, cap, "out of memory");
        outcome = NOTIFY_FAILED_TEMPORARY;
        goto out;
    }
    reader.data = msg.buf;
    reader.len = msg.len;
    reader.off = 0;
    smtp_curl_options(cfg, curl);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    outcome = smtp_outcome((int)cc, code);
    if (cc != CURLE_OK)
        snprintf(detail, cap, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    else
        snprintf(detail, cap, "SMTP %ld", code);
out:
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(curl);
    strbuf_release(&msg);
    return outcome;
}

const struct notify_provider notify_provider_smtp = {
    .name = "smtp",
    .handles = smtp_handles,
    .deliver = smtp_deliver,
};
