/*
 * metrics.h - the daemon's Prometheus metrics, rendered in the text
 * exposition format (version 0.0.4) for GET /metrics.
 *
 * Per route (the pattern, not the concrete path, so label cardinality stays
 * bounded): a request counter by method and status code, and a latency
 * histogram. Plus build info, process start time and configuration reloads.
 * All updates are lock-free atomics, safe from any thread.
 */
#ifndef OPSBELL_METRICS_METRICS_H
#define OPSBELL_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct router;
struct strbuf;
struct metrics;

/* Create counters for every route of router (borrowed; must outlive m). NULL on OOM. */
struct metrics *metrics_new(const struct router *router);
void metrics_free(struct metrics *m);

/* Count one request. route_index == router_route_count() means "no route matched". */
void metrics_observe_request(struct metrics *m, size_t route_index, int status, double seconds);
void metrics_observe_config_reload(struct metrics *m, bool success);

/* Append the whole exposition to out. */
void metrics_render(struct metrics *m, struct strbuf *out);

#endif
