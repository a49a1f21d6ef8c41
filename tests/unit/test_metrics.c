/*
 * test_metrics.c - the Prometheus exposition: request counters by route
 * pattern/method/code, cumulative latency histograms, build info and
 * configuration reload counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "opsbell_version.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void h_dummy(void *app, struct http_request *req, struct http_response *resp)
{
}

static const struct route routes[] = {
    {"GET", "/healthz", h_dummy, 0, NULL, 0},
    {"GET", "/api/v1/teams/{team}", h_dummy, 1, "team", 0},
    {"POST", "/api/v1/tokens", h_dummy, 3, NULL, 0},
};
#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

struct fixture {
    struct router *router;
    struct metrics *metrics;
    struct strbuf out;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->router = router_new(routes, ROUTE_COUNT);
    f->metrics = f->router != NULL ? metrics_new(f->router) : NULL;
    if (f->metrics == NULL)
        return -1;
    strbuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    metrics_free(f->metrics);
    router_free(f->router);
    strbuf_release(&f->out);
    free(f);
    return 0;
}

/* The exposition must hold this exact line (with its newline), once. */
static void expect_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);
    const char *hit;

    assert_non_null(want);
    want[0] = '\n';
    strcpy(want + 1, line);
    strcat(want, "\n");
    hit = strstr(text, want);
    if (hit == NULL) {
        free(want);
        fail_msg("missing line: %s\n--- exposition ---\n%s", line, text);
    }
    assert_null(strstr(hit + 1, want));
    free(want);
}

static void expect_no_substring(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("unexpected text: %s\n--- exposition ---\n%s", part, text);
}

static void observe_sample(struct metrics *m)
{
    /* /healthz: two 200s, fast. 0.25 and 0.5 are exact in binary. */
    metrics_observe_request(m, 0, 200, 0.25);
    metrics_observe_request(m, 0, 200, 0.5);
    /* /api/v1/teams/{team}: one 200, one 404, one 403. */
    metrics_observe_request(m, 1, 200, 0.0625);
    metrics_observe_request(m, 1, 404, 0.0005); /* on a bucket boundary: counts as le=0.0005 */
    metrics_observe_request(m, 1, 403, 0.003);
    /* POST /api/v1/tokens: one slower than the last bucket. */
    metrics_observe_request(m, 2, 201, 0.75);
    metrics_observe_request(m, 2, 201, 12.0);
    /* No route: index == count, and anything past it is clamped there. */
    metrics_observe_request(m, ROUTE_COUNT, 404, 0.001);
    metrics_observe_request(m, ROUTE_COUNT + 5, 404, 0.001);
    metrics_observe_request(m, ROUTE_COUNT, 405, 0.001);
}

static void test_request_counters(void **state)
{
    struct fixture *f = *state;
    const char *text;

    observe_sample(f->metrics);
    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);

    expect_line(text, "# TYPE opsbell_http_requests_total counter");
    expect_line(text,
                "opsbell_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 2");
    expect_line(text, "opsbell_http_requests_total{route=\"/api/v1/teams/{team}\",method=\"GET\","
                      "code=\"200\"} 1");
    expect_line(text, "opsbell_http_requests_total{route=\"/api/v1/teams/{team}\",method=\"GET\","
                      "code=\"404\"} 1");
    expect_line(text, "opsbell_http_requests_total{route=\"/api/v1/teams/{team}\",method=\"GET\","
                      "code=\"403\"} 1");
    expect_line(text, "opsbell_http_requests_total{route=\"/api/v1/tokens\",method=\"POST\","
                      "code=\"201\"} 2");
    expect_line(text,
                "opsbell_http_requests_total{route=\"unmatched\",method=\"any\",code=\"404\"} 2");
    expect_line(text,
                "opsbell_http_requests_total{route=\"unmatched\",method=\"any\",code=\"405\"} 1");
    /* Codes never seen are not rendered. */
    expect_no_substring(text, "route=\"/healthz\",method=\"GET\",code=\"404\"");
    expect_no_substring(text, "route=\"/api/v1/tokens\",method=\"POST\",code=\"200\"");
}

static void test_histogram(void **state)
{
    struct fixture *f = *state;
    const char *text;
    static const char *const les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                      "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                      "1",      "2.5",   "5",      "10",    "+Inf"};
    /* Cumulative counts for /api/v1/teams/{team}: 0.0005, 0.003, 0.0625. */
    static const unsigned teams_cum[] = {1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    /* /healthz: 0.25, 0.5. */
    static const unsigned health_cum[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2};
    /* POST /api/v1/tokens: 0.75 and 12 (above every finite bucket). */
    static const unsigned tokens_cum[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2};
    char line[256];

    observe_sample(f->metrics);
    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);

    expect_line(text, "# TYPE opsbell_http_request_duration_seconds histogram");
    for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
        snprintf(line, sizeof(line),
                 "opsbell_http_request_duration_seconds_bucket{route=\"/api/v1/teams/{team}\","
                 "method=\"GET\",le=\"%s\"} %u",
                 les[i], teams_cum[i]);
        expect_line(text, line);
        snprintf(line, sizeof(line),
                 "opsbell_http_request_duration_seconds_bucket{route=\"/healthz\","
                 "method=\"GET\",le=\"%s\"} %u",
                 les[i], health_cum[i]);
        expect_line(text, line);
        snprintf(line, sizeof(line),
                 "opsbell_http_request_duration_seconds_bucket{route=\"/api/v1/tokens\","
                 "method=\"POST\",le=\"%s\"} %u",
                 les[i], tokens_cum[i]);
        expect_line(text, line);
    }
    /* +Inf equals _count. */
    expect_line(text, "opsbell_http_request_duration_seconds_count{route=\"/healthz\","
                      "method=\"GET\"} 2");
    expect_line(text, "opsbell_http_request_duration_seconds_count{route=\"/api/v1/teams/{team}\","
                      "method=\"GET\"} 3");
    expect_line(text, "opsbell_http_request_duration_seconds_count{route=\"/api/v1/tokens\","
                      "method=\"POST\"} 2");
    expect_line(text, "opsbell_http_request_duration_seconds_count{route=\"unmatched\","
                      "method=\"any\"} 3");
    expect_line(text, "opsbell_http_request_duration_seconds_bucket{route=\"unmatched\","
                      "method=\"any\",le=\"+Inf\"} 3");
    expect_line(text, "opsbell_http_request_duration_seconds_sum{route=\"/healthz\","
                      "method=\"GET\"} 0.750000000");
    expect_line(text, "opsbell_http_request_duration_seconds_sum{route=\"/api/v1/tokens\","
                      "method=\"POST\"} 12.750000000");
}

/* A route without requests renders no series at all. */
static void test_idle_route_absent(void **state)
{
    struct fixture *f = *state;
    const char *text;

    metrics_observe_request(f->metrics, 0, 200, 0.01);
    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);
    expect_no_substring(text, "route=\"/api/v1/tokens\"");
    expect_no_substring(text, "route=\"unmatched\"");
    expect_line(text,
                "opsbell_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1");
}

/* Out-of-range status codes are counted under code "0" rather than lost. */
static void test_odd_status(void **state)
{
    struct fixture *f = *state;
    const char *text;

    metrics_observe_request(f->metrics, 0, 600, 0.01);
    metrics_observe_request(f->metrics, 0, -1, 0.01);
    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);
    expect_line(text,
                "opsbell_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"0\"} 2");
    expect_line(text, "opsbell_http_request_duration_seconds_count{route=\"/healthz\","
                      "method=\"GET\"} 2");
}

static void test_build_info_and_start_time(void **state)
{
    struct fixture *f = *state;
    const char *text, *p;
    double start;
    time_t now = time(NULL);

    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);
    /* The exposition starts with build info. */
    assert_true(strncmp(text, "# HELP opsbell_build_info ", 26) == 0);
    expect_line(text, "# TYPE opsbell_build_info gauge");
    expect_line(text, "opsbell_build_info{version=\"" OPSBELL_VERSION "\",commit=\"" OPSBELL_COMMIT
                      "\"} 1");
    expect_line(text, "# TYPE opsbell_process_start_time_seconds gauge");
    p = strstr(text, "\nopsbell_process_start_time_seconds ");
    assert_non_null(p);
    assert_int_equal(sscanf(p + strlen("\nopsbell_process_start_time_seconds "), "%lf", &start), 1);
    assert_true(start > (double)now - 60.0);
    assert_true(start < (double)now + 60.0);
    /* The text ends with a newline (Prometheus needs the last line ended). */
    assert_int_equal(text[strlen(text) - 1], '\n');
}

static void test_config_reloads(void **state)
{
    struct fixture *f = *state;
    const char *text, *p;
    long long ts;
    time_t before = time(NULL);

    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);
    expect_line(text, "# TYPE opsbell_config_reloads_total counter");
    expect_line(text, "opsbell_config_reloads_total{result=\"success\"} 0");
    expect_line(text, "opsbell_config_reloads_total{result=\"failure\"} 0");

    metrics_observe_config_reload(f->metrics, true);
    metrics_observe_config_reload(f->metrics, false);
    metrics_observe_config_reload(f->metrics, false);
    strbuf_reset(&f->out);
    metrics_render(f->metrics, &f->out);
    text = strbuf_str(&f->out);
    expect_line(text, "opsbell_config_reloads_total{result=\"success\"} 1");
    expect_line(text, "opsbell_config_reloads_total{result=\"failure\"} 2");
    expect_line(text, "# TYPE opsbell_config_last_reload_success_timestamp_seconds gauge");
    p = strstr(text, "\nopsbell_config_last_reload_success_timestamp_seconds ");
    assert_non_null(p);
    assert_int_equal(
        sscanf(p + strlen("\nopsbell_config_last_reload_success_timestamp_seconds "), "%lld", &ts),
        1);
    assert_true(ts >= (long long)before);
    assert_true(ts <= (long long)time(NULL));
}

/* NULL metrics are ignored by the observers (a server without metrics). */
static void test_null_metrics(void **state)
{
    metrics_observe_request(NULL, 0, 200, 0.1);
    metrics_observe_config_reload(NULL, true);
    metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_route_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_info_and_start_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_reloads, setup, teardown),
        cmocka_unit_test(test_null_metrics),
    };

    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
