/* metrics.c - lock-free counters and histograms, rendered for Prometheus. */
#include "metrics/metrics.h"
#include "opsbell_version.h"

#include "http/http.h"
#include "util/strbuf.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define STATUS_CODES 600

static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
#define BUCKET_COUNT (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

struct route_metrics {
    _Atomic uint64_t by_status[STATUS_CODES];
    _Atomic uint64_t buckets[BUCKET_COUNT]; /* non-cumulative; summed when rendered */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

struct metrics {
    const struct router *router;
    size_t slots; /* routes + 1 for "unmatched" */
    struct route_metrics *routes;
    double start_time;
    _Atomic uint64_t reloads_ok;
    _Atomic uint64_t reloads_failed;
    _Atomic int64_t last_reload_ok_time;
};

struct metrics *metrics_new(const struct router *router)
{
    struct metrics *m = calloc(1, sizeof(*m));
    struct timespec now;

    if (m == NULL)
        return NULL;
    m->router = router;
    m->slots = router_route_count(router) + 1;
    m->routes = calloc(m->slots, sizeof(*m->routes));
    if (m->routes == NULL) {
        free(m);
        return NULL;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    m->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    atomic_store(&m->last_reload_ok_time, (int64_t)now.tv_sec);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->routes);
    free(m);
}

void metrics_observe_request(struct metrics *m, size_t route_index, int status, double seconds)
{
    struct route_metrics *rm;

    if (m == NULL)
        return;
    if (route_index >= m->slots)
        route_index = m->slots - 1;
    rm = &m->routes[route_index];
    if (status < 0 || status >= STATUS_CODES)
        status = 0;
    atomic_fetch_add_explicit(&rm->by_status[status], 1, memory_order_relaxed);
    for (size_t b = 0; b < BUCKET_COUNT; b++) {
        if (seconds <= latency_buckets[b]) {
            atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&rm->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void metrics_observe_config_reload(struct metrics *m, bool success)
{
    if (m == NULL)
        return;
    if (success) {
        atomic_fetch_add(&m->reloads_ok, 1);
        atomic_store(&m->last_reload_ok_time, (int64_t)time(NULL));
    } else {
        atomic_fetch_add(&m->reloads_failed, 1);
    }
}

static void route_labels(struct metrics *m, size_t index, const char **pattern, const char **method)
{
    const struct route *r = router_route_at(m->router, index);

    *pattern = r != NULL ? r->pattern : "unmatched";
    *method = r != NULL ? r->method : "any";
}

static void render_requests(struct metrics *m, struct strbuf *out)
{
    strbuf_adds(out, "# HELP opsbell_http_requests_total HTTP requests by route pattern, method "
                     "and status code.\n# TYPE opsbell_http_requests_total counter\n");
    for (size_t i = 0; i < m->slots; i++) {
        const char *pattern, *method;
        route_labels(m, i, &pattern, &method);
        for (int code = 0; code < STATUS_CODES; code++) {
            uint64_t n = atomic_load_explicit(&m->routes[i].by_status[code], memory_order_relaxed);
            if (n == 0)
                continue;
            strbuf_addf(out,
                        "opsbell_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} "
                        "%llu\n",
                        pattern, method, code, (unsigned long long)n);
        }
    }
}

static void render_latency(struct metrics *m, struct strbuf *out)
{
    strbuf_adds(out, "# HELP opsbell_http_request_duration_seconds Time from the request "
                     "line to the response, by route pattern.\n"
                     "# TYPE opsbell_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->slots; i++) {
        struct route_metrics *rm = &m->routes[i];
        const char *pattern, *method;
        uint64_t cumulative = 0, count = atomic_load(&rm->count);
        if (count == 0)
            continue;
        route_labels(m, i, &pattern, &method);
        for (size_t b = 0; b < BUCKET_COUNT; b++) {
            cumulative += atomic_load(&rm->buckets[b]);
            strbuf_addf(out,
                        "opsbell_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                        "le=\"%g\"} %llu\n",
                        pattern, method, latency_buckets[b], (unsigned long long)cumulative);
        }
        strbuf_addf(out,
                    "opsbell_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                    "le=\"+Inf\"} %llu\n",
                    pattern, method, (unsigned long long)count);
        strbuf_addf(out,
                    "opsbell_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.9f\n",
                    pattern, method, (double)atomic_load(&rm->sum_ns) / 1e9);
        strbuf_addf(out,
                    "opsbell_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
                    "%llu\n",
                    pattern, method, (unsigned long long)count);
    }
}

void metrics_render(struct metrics *m, struct strbuf *out)
{
    strbuf_addf(out,
                "# HELP opsbell_build_info Build information; the value is always 1.\n"
                "# TYPE opsbell_build_info gauge\n"
                "opsbell_build_info{version=\"%s\",commit=\"%s\"} 1\n",
                OPSBELL_VERSION, OPSBELL_COMMIT);
    strbuf_addf(out,
                "# HELP opsbell_process_start_time_seconds Start time of the process since "
                "the Unix epoch.\n"
                "# TYPE opsbell_process_start_time_seconds gauge\n"
                "opsbell_process_start_time_seconds %.3f\n",
                m->start_time);
    strbuf_addf(out,
                "# HELP opsbell_config_reloads_total Configuration reloads by result.\n"
                "# TYPE opsbell_config_reloads_total counter\n"
                "opsbell_config_reloads_total{result=\"success\"} %llu\n"
                "opsbell_config_reloads_total{result=\"failure\"} %llu\n"
                "# HELP opsbell_config_last_reload_success_timestamp_seconds Time of the last "
                "successful configuration load.\n"
                "# TYPE opsbell_config_last_reload_success_timestamp_seconds gauge\n"
                "opsbell_config_last_reload_success_timestamp_seconds %lld\n",
                (unsigned long long)atomic_load(&m->reloads_ok),
                (unsigned long long)atomic_load(&m->reloads_failed),
                (long long)atomic_load(&m->last_reload_ok_time));
    render_requests(m, out);
    render_latency(m, out);
}
