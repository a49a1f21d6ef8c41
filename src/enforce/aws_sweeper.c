/*
 * aws_sweeper.c - a thread that runs aws_sweep at start and then every
 * interval, so that expired opsbell rules close even when nothing else
 * happens (aws.h, docs/AWS.md).
 */
#include "enforce/aws.h"

#include "util/error.h"
#include "util/log.h"
#include "util/periodic.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct aws_sweeper {
    /* Owned copies of the settings. */
    char *region, *group, *endpoint, *key_id, *secret, *token;
    size_t secret_len;
    unsigned port;
    uint32_t interval_s;

    struct periodic *thread;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sweep_once(struct aws_sweeper *s)
{
    struct aws_params p;
    struct aws_ctx ctx;
    struct ob_error err = {0};
    unsigned revoked = 0;
    char count[16];

    memset(&p, 0, sizeof(p));
    p.region = s->region;
    p.security_group_id = s->group;
    p.endpoint = s->endpoint;
    p.access_key_id = s->key_id;
    p.secret_access_key = s->secret;
    p.secret_access_key_len = s->secret_len;
    p.session_token = s->token;
    p.port = s->port;
    if (aws_ctx_init(&ctx, &p, &err) != 0) {
        log_warn("aws", "sweep failed", "group", s->group, "error", err.msg);
        return;
    }
    if (aws_sweep(&ctx, wall_ms(), &revoked, &err) != 0) {
        snprintf(count, sizeof(count), "%u", revoked);
        log_warn("aws", "sweep failed", "group", s->group, "revoked", count, "error", err.msg);
    } else if (revoked > 0) {
        snprintf(count, sizeof(count), "%u", revoked);
        log_info("aws", "expired rules revoked", "group", s->group, "revoked", count);
    } else {
        log_debug("aws", "sweep: nothing expired", "group", s->group);
    }
    aws_ctx_release(&ctx);
}

static unsigned sweeper_run(void *arg, const volatile int *stopping)
{
    struct aws_sweeper *s = arg;

    (void)stopping;
    sweep_once(s);
    return s->interval_s;
}

static void sweeper_free(struct aws_sweeper *s)
{
    if (s->secret != NULL)
        OPENSSL_cleanse(s->secret, s->secret_len);
    if (s->token != NULL)
        OPENSSL_cleanse(s->token, strlen(s->token));
    free(s->region);
    free(s->group);
    free(s->endpoint);
    free(s->key_id);
    free(s->secret);
    free(s->token);
    free(s);
}

static char *dup_or_null(const char *v, int *oom)
{
    char *d;

    if (v == NULL)
        return NULL;
    d = strdup(v);
    if (d == NULL)
        *oom = 1;
    return d;
}

int aws_sweeper_start(const struct aws_params *params, uint32_t interval_s,
                      struct aws_sweeper **out, struct ob_error *err)
{
    struct aws_sweeper *s = calloc(1, sizeof(*s));
    int oom = 0, rc;

    *out = NULL;
    if (s == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    if (params->region == NULL || params->security_group_id == NULL || params->endpoint == NULL ||
        params->access_key_id == NULL || params->secret_access_key == NULL || interval_s == 0) {
        free(s);
        return ob_fail(err, OB_EINVAL, "aws sweeper: incomplete settings");
    }
    s->region = dup_or_null(params->region, &oom);
    s->group = dup_or_null(params->security_group_id, &oom);
    s->endpoint = dup_or_null(params->endpoint, &oom);
    s->key_id = dup_or_null(params->access_key_id, &oom);
    s->token = dup_or_null(params->session_token, &oom);
    s->secret = malloc(params->secret_access_key_len + 1);
    if (s->secret == NULL) {
        oom = 1;
    } else {
        memcpy(s->secret, params->secret_access_key, params->secret_access_key_len);
        s->secret[params->secret_access_key_len] = '\0';
        s->secret_len = params->secret_access_key_len;
    }
    if (oom) {
        sweeper_free(s);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    s->port = params->port;
    s->interval_s = interval_s;
    rc = periodic_start(sweeper_run, s, "aws sweeper", &s->thread, err);
    if (rc != 0) {
        sweeper_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

unsigned aws_sweeper_runs(struct aws_sweeper *s)
{
    return periodic_runs(s->thread);
}

void aws_sweeper_stop(struct aws_sweeper *s)
{
    if (s == NULL)
        return;
    periodic_stop(s->thread);
    sweeper_free(s);
}
