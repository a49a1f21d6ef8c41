/*
 * test_smtp.c - the smtp provider's pure parts: the message (headers,
 * header injection, RFC 2047 subject, both parts), HTML escaping, the
 * outcome of each curl result and SMTP reply, and `require_tls`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "notify/notify.h"
#include "notify/notify_internal.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static struct config test_config(void)
{
    struct config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.public_url = "https://opsbell.example.com";
    cfg.providers.smtp.enabled = 1;
    cfg.providers.smtp.url = "smtp://127.0.0.1:25";
    cfg.providers.smtp.from_address = "pager@example.org";
    return cfg;
}

static struct incident test_incident(char *summary)
{
    struct incident inc;

    memset(&inc, 0, sizeof(inc));
    inc.id = 42;
    inc.service = "db";
    inc.team = "platform";
    inc.status = "triggered";
    inc.summary = summary;
    inc.severity = "critical";
    return inc;
}

/* The header block (up to the first empty line) of msg. */
static char *headers_of(const struct strbuf *msg)
{
    const char *end = strstr(msg->buf, "\r\n\r\n");
    size_t len = end != NULL ? (size_t)(end - msg->buf) + 2 : msg->len;
    char *h = malloc(len + 1);

    assert_non_null(h);
    memcpy(h, msg->buf, len);
    h[len] = '\0';
    return h;
}

static void test_message_headers(void **state)
{
    struct config cfg = test_config();
    struct incident inc = test_incident("disk full\r\nBcc: victim@example.net");
    struct outbox_row row = {.id = 7, .attempts = 2, .address = "ann@example.com"};
    struct strbuf msg = STRBUF_INIT;
    char *h;

    /* 2026-01-02 03:04:05 UTC, a Friday */
    smtp_message(&cfg, &row, &inc, 1767323045, "abc123", &msg);
    h = headers_of(&msg);
    assert_non_null(strstr(h, "From: opsbell <pager@example.org>\r\n"));
    assert_non_null(strstr(h, "To: <ann@example.com>\r\n"));
    /* CR and LF of the summary became spaces: no Bcc header was injected. */
    assert_non_null(strstr(h, "Subject: [opsbell] #42 disk full  Bcc: victim@example.net\r\n"));
    assert_null(strstr(h, "\r\nBcc:"));
    assert_non_null(strstr(h, "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n"));
    assert_non_null(strstr(h, "Message-ID: <opsbell.42.7.2.abc123@example.org>\r\n"));
    assert_non_null(strstr(h, "MIME-Version: 1.0\r\n"));
    assert_non_null(
        strstr(h, "Content-Type: multipart/alternative; boundary=\"opsbell-abc123\"\r\n"));
    /* Every line of the message ends in CRLF; none is longer than 998. */
    for (const char *p = msg.buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        assert_true(nl > p && nl[-1] == '\r');
        assert_true(nl - p <= 998);
    }
    assert_non_null(strstr(msg.buf, "\r\n--opsbell-abc123\r\nContent-Type: text/plain; "
                                    "charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"));
    assert_non_null(strstr(msg.buf, "\r\n--opsbell-abc123\r\nContent-Type: text/html; "
                                    "charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"));
    assert_non_null(strstr(msg.buf, "\r\n--opsbell-abc123--\r\n"));
    free(h);
    strbuf_release(&msg);
}

static void test_subject_non_ascii_is_encoded(void **state)
{
    struct config cfg = test_config();
    struct incident inc = test_incident("Fehler: Datenträger voll");
    struct outbox_row row = {.id = 1, .attempts = 1, .address = "ann@example.com"};
    struct strbuf msg = STRBUF_INIT;

    smtp_message(&cfg, &row, &inc, 0, "x", &msg);
    /* base64("[opsbell] #42 Fehler: Datentr\xc3\xa4ger voll") */
    assert_non_null(strstr(
        msg.buf, "Subject: =?UTF-8?B?W29wc2JlbGxdICM0MiBGZWhsZXI6IERhdGVudHLDpGdlciB2b2xs?=\r\n"));
    strbuf_release(&msg);
}

static void test_parts_carry_the_incident_and_escape_html(void **state)
{
    struct config cfg = test_config();
    struct incident inc = test_incident("<script>alert('x')</script> & \"more\"");
    struct strbuf text = STRBUF_INIT, html = STRBUF_INIT;

    smtp_text_part(&cfg, &inc, &text);
    assert_non_null(strstr(text.buf, "Incident #42: <script>"));
    assert_non_null(strstr(text.buf, "Status:   triggered\r\n"));
    assert_non_null(strstr(text.buf, "Severity: critical\r\n"));
    assert_non_null(strstr(text.buf, "Service:  db\r\n"));
    assert_non_null(strstr(text.buf, "Team:     platform\r\n"));
    assert_non_null(strstr(text.buf, "https://opsbell.example.com/api/v1/incidents/42\r\n"));

    smtp_html_part(&cfg, &inc, &html);
    assert_null(strstr(html.buf, "<script>"));
    assert_non_null(strstr(html.buf,
                           "Incident #42: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                           "&amp; &quot;more&quot;</h2>"));
    assert_non_null(strstr(html.buf, "<td>triggered</td>"));
    assert_non_null(strstr(html.buf, "<td>critical</td>"));
    assert_non_null(strstr(html.buf, "<td>db</td>"));
    assert_non_null(strstr(html.buf, "<td>platform</td>"));
    assert_non_null(
        strstr(html.buf, "<a href=\"https://opsbell.example.com/api/v1/incidents/42\">"));
    strbuf_release(&text);
    strbuf_release(&html);

    /* Without public_url the link is the listen address. */
    cfg.public_url = NULL;
    cfg.listen_host = "127.0.0.1";
    cfg.listen_port = 8080;
    smtp_text_part(&cfg, &inc, &text);
    assert_non_null(strstr(text.buf, "http://127.0.0.1:8080/api/v1/incidents/42"));
    strbuf_release(&text);
}

static void test_header_value_strips_controls(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    smtp_header_value(&sb, "a\rb\nc\td\x7f"
                           "e");
    assert_string_equal(sb.buf, "a b c d e");
    strbuf_release(&sb);
}

static void test_outcomes(void **state)
{
    assert_int_equal(smtp_outcome(CURLE_OK, 250), NOTIFY_DELIVERED);
    /* 550 mailbox unavailable on RCPT, 554 on DATA: permanent. */
    assert_int_equal(smtp_outcome(CURLE_SEND_ERROR, 550), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(smtp_outcome(CURLE_WEIRD_SERVER_REPLY, 554), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(smtp_outcome(CURLE_LOGIN_DENIED, 535), NOTIFY_FAILED_PERMANENT);
    assert_int_equal(smtp_outcome(CURLE_URL_MALFORMAT, 0), NOTIFY_FAILED_PERMANENT);
    /* 4xx: the server asks us to come back. */
    assert_int_equal(smtp_outcome(CURLE_SEND_ERROR, 451), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(smtp_outcome(CURLE_WEIRD_SERVER_REPLY, 421), NOTIFY_FAILED_TEMPORARY);
    /* Transport: temporary. */
    assert_int_equal(smtp_outcome(CURLE_COULDNT_CONNECT, 0), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(smtp_outcome(CURLE_OPERATION_TIMEDOUT, 0), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(smtp_outcome(CURLE_GOT_NOTHING, 0), NOTIFY_FAILED_TEMPORARY);
    assert_int_equal(smtp_outcome(CURLE_USE_SSL_FAILED, 0), NOTIFY_FAILED_TEMPORARY);
}

static void test_require_tls_config(void **state)
{
    static const char good[] = "providers:\n  smtp:\n    url: smtp://mail.example.com:587\n"
                               "    from_address: pager@example.org\n    require_tls: true\n";
    static const char bad[] = "providers:\n  smtp:\n    url: smtp://mail.example.com:587\n"
                              "    from_address: pager@example.org\n    require_tls: maybe\n";
    struct config_diags diags = {0};

    assert_int_equal(
        config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, good, strlen(good), &diags), 0);
    config_diags_release(&diags);
    assert_int_equal(
        config_check_buffer(CONFIG_DOC_MAIN, "opsbell.yaml", NULL, bad, strlen(bad), &diags),
        OB_EINVAL);
    assert_true(diags.count >= 1);
    assert_non_null(strstr(diags.items[0].message, "require_tls 'maybe' must be true or false"));
    config_diags_release(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_headers),
        cmocka_unit_test(test_subject_non_ascii_is_encoded),
        cmocka_unit_test(test_parts_carry_the_incident_and_escape_html),
        cmocka_unit_test(test_header_value_strips_controls),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_require_tls_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
