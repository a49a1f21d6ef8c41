/*
 * cmd_enforce_aws.c - `opsbell enforce aws authorize|revoke|list|sweep`: the AWS
 * security-group enforcer by hand, with the credentials of the local
 * configuration (enforcers.aws).  For operators and tests; the daemon's
 * grants call the same functions (src/enforce/aws.h).
 */
#include "cli/cli.h"

#include "config/config.h"
#include "enforce/aws.h"
#include "util/error.h"
#include "util/log.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_enforce_aws(int argc, char **argv);

#define CMD "enforce aws"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Load the configuration and open a context on its enforcers.aws. */
static int open_aws(const char *config, struct config **cfg, struct aws_ctx *ctx)
{
    struct config_diags diags = {0};
    const struct config_enforcer_aws *a;
    struct aws_params p;
    struct ob_error err = {0};
    const char *path = cli_config_path(config);

    if (config_load(path, cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return EXIT_FAIL;
    }
    config_diags_release(&diags);
    a = &(*cfg)->enforcers.aws;
    if (!a->enabled) {
        config_unref(*cfg);
        *cfg = NULL;
        return cli_fail("%s has no enforcers.aws section (see opsbell.yaml(5))", path);
    }
    memset(&p, 0, sizeof(p));
    p.region = a->region;
    p.security_group_id = a->security_group_id;
    p.endpoint = a->endpoint;
    p.access_key_id = a->access_key_id;
    p.secret_access_key = a->secret_access_key.value;
    p.secret_access_key_len = a->secret_access_key.len;
    p.session_token = a->session_token.value;
    p.port = a->port;
    if (aws_ctx_init(ctx, &p, &err) != 0) {
        config_unref(*cfg);
        *cfg = NULL;
        return cli_fail("%s", err.msg);
    }
    return EXIT_OK;
}

static int do_authorize(const char *config, const char *cidr_arg, const char *dur, const char *id)
{
    struct config *cfg = NULL;
    struct aws_ctx ctx;
    struct access_entry e;
    struct aws_authorize_result res;
    struct ob_error err = {0};
    char cidr[64], until[32];
    uint32_t secs = 0;
    int rc;

    if (dur == NULL)
        return cli_usage_error(CMD, "authorize needs --for DURATION (e.g. 30m)");
    if (config_parse_duration(dur, &secs) != 0 || secs == 0 || secs > 7 * 86400)
        return cli_usage_error(CMD, "--for '%s' is not a duration from 1s to 7d", dur);
    if (aws_cidr_normalise(cidr_arg, cidr, sizeof(cidr), &err) < 0)
        return cli_fail("%s", err.msg);
    memset(&e, 0, sizeof(e));
    if (id != NULL) {
        if (strlen(id) >= sizeof(e.id))
            return cli_fail("--id is longer than %zu characters", sizeof(e.id) - 1);
        snprintf(e.id, sizeof(e.id), "%s", id);
    } else {
        /* "cli:" + the longest IPv6 CIDR (43) fits in 64 */
        memcpy(e.id, "cli:", 4);
        memcpy(e.id + 4, cidr, strnlen(cidr, sizeof(e.id) - 5));
    }
    snprintf(e.cidr, sizeof(e.cidr), "%s", cidr);
    e.expires_at_ms = (now_ms() / 1000 + secs) * 1000;
    rc = open_aws(config, &cfg, &ctx);
    if (rc != EXIT_OK)
        return rc;
    rc = aws_authorize(&ctx, &e, &res, &err);
    rfc3339(res.expires_at_ms, until, sizeof(until));
    if (rc != 0) {
        rc = cli_fail("%s", err.msg);
    } else if (res.foreign) {
        printf("already open by a rule not opsbell's: %s on tcp/%u of %s, no expiry (rule %s)\n",
               cidr, ctx.p.port, ctx.p.security_group_id, res.rule_id);
        rc = EXIT_OK;
    } else {
        printf("%s %s on tcp/%u of %s until %s (%s%s)\n",
               res.extended          ? "already open, expiry extended:"
               : res.already_present ? "already open:"
                                     : "authorized",
               cidr, ctx.p.port, ctx.p.security_group_id, until,
               res.rule_id[0] != '\0' ? "rule " : "id ",
               res.rule_id[0] != '\0' ? res.rule_id : e.id);
        rc = EXIT_OK;
    }
    aws_ctx_release(&ctx);
    config_unref(cfg);
    return rc;
}

static int do_revoke(const char *config, const char *rule_id)
{
    struct config *cfg = NULL;
    struct aws_ctx ctx;
    struct ob_error err = {0};
    int rc = open_aws(config, &cfg, &ctx);

    if (rc != EXIT_OK)
        return rc;
    if (aws_revoke(&ctx, rule_id, &err) != 0)
        rc = cli_fail("%s", err.msg);
    else
        printf("revoked %s\n", rule_id);
    aws_ctx_release(&ctx);
    config_unref(cfg);
    return rc;
}

static int do_list(const char *config, int json)
{
    static const char *const headers[] = {"RULE", "CIDR", "PORTS", "EXPIRES", "DESCRIPTION"};
    struct config *cfg = NULL;
    struct aws_ctx ctx;
    struct aws_rule_list l;
    struct ob_error err = {0};
    struct table t;
    json_t *arr;
    int rc = open_aws(config, &cfg, &ctx);

    if (rc != EXIT_OK)
        return rc;
    if (aws_list(&ctx, &l, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    arr = json ? json_array() : NULL;
    table_init(&t, 5, headers);
    for (size_t i = 0; i < l.count; i++) {
        const struct aws_rule *r = &l.items[i];
        char ports[32], exp[32] = "-";
        int64_t ms;
        int opsbell = aws_description_parse(r->description, NULL, 0, &ms) == 0;

        if (opsbell)
            rfc3339(ms, exp, sizeof(exp));
        if (r->from_port == r->to_port)
            snprintf(ports, sizeof(ports), "%s/%d", r->protocol, r->from_port);
        else
            snprintf(ports, sizeof(ports), "%s/%d-%d", r->protocol, r->from_port, r->to_port);
        if (arr != NULL) {
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b}", "rule_id", r->rule_id, "cidr",
                          r->cidr, "protocol", r->protocol, "from_port", r->from_port, "to_port",
                          r->to_port, "description", r->description, "opsbell", opsbell);
            if (o != NULL && opsbell)
                json_object_set_new(o, "expires_at", json_string(exp));
            json_array_append_new(arr, o);
        } else {
            const char *cells[5] = {r->rule_id, r->cidr[0] ? r->cidr : "-", ports, exp,
                                    r->description[0] ? r->description : "-"};
            table_add_row(&t, cells);
        }
    }
    if (arr != NULL) {
        cli_print_json(arr);
        json_decref(arr);
    } else {
        table_print(&t, stdout);
    }
    table_release(&t);
    aws_rule_list_release(&l);
out:
    aws_ctx_release(&ctx);
    config_unref(cfg);
    return rc;
}

/* The sweeper in the foreground until SIGINT or SIGTERM (a service of its own). */
static int sweep_every(struct aws_ctx *ctx, const char *every, enum log_level level)
{
    struct aws_sweeper *sw = NULL;
    struct ob_error err = {0};
    uint32_t secs = 0;
    sigset_t set;
    int sig = 0;

    if (config_parse_duration(every, &secs) != 0 || secs < 1 || secs > 86400)
        return cli_usage_error(CMD, "--every '%s' is not a duration from 1s to 1d", every);
    log_set_level(level); /* a service now: the file's log level, not the CLI's */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the sweeper thread inherits it */
    if (aws_sweeper_start(&ctx->p, secs, &sw, &err) != 0)
        return cli_fail("%s", err.msg);
    log_info("aws", "sweeper started", "group", ctx->p.security_group_id, "every", every);
    sigwait(&set, &sig);
    aws_sweeper_stop(sw);
    log_info("aws", "sweeper stopped", "group", ctx->p.security_group_id);
    return EXIT_OK;
}

static int do_sweep(const char *config, const char *every)
{
    struct config *cfg = NULL;
    struct aws_ctx ctx;
    struct ob_error err = {0};
    unsigned revoked = 0;
    int rc = open_aws(config, &cfg, &ctx);

    if (rc != EXIT_OK)
        return rc;
    if (every != NULL) {
        rc = sweep_every(&ctx, every, cfg->log_level);
        aws_ctx_release(&ctx);
        config_unref(cfg);
        return rc;
    }
    if (aws_sweep(&ctx, now_ms(), &revoked, &err) != 0)
        rc = cli_fail("sweep: %s (%u expired rule%s revoked before that)", err.msg, revoked,
                      revoked == 1 ? "" : "s");
    else
        printf("swept %s: %u expired opsbell rule%s revoked\n", ctx.p.security_group_id, revoked,
               revoked == 1 ? "" : "s");
    aws_ctx_release(&ctx);
    config_unref(cfg);
    return rc;
}

int cmd_enforce_aws(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"for", required_argument, NULL, 'f'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"every", required_argument, NULL, 'e'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *dur = NULL, *id = NULL, *every = NULL, *sub;
    int json = 0, c;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "+c:f:i:h", opts, NULL)) != -1) {
        if (c == 'h') {
            cli_print_usage(cli_find("enforce", "aws"), stdout);
            return EXIT_OK;
        }
        if (c == 'c')
            config = optarg;
        else if (c == '?' || c == ':')
            return cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]);
        else
            return cli_usage_error(CMD, "option '%s' goes after the subcommand", argv[optind - 1]);
    }
    if (optind >= argc)
        return cli_usage_error(CMD, "missing subcommand (authorize, revoke, list or sweep)");
    sub = argv[optind++];
    argc -= optind - 1;
    argv += optind - 1;
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:f:i:e:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            dur = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'e':
            every = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("enforce", "aws"), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (strcmp(sub, "authorize") == 0) {
        if (optind + 1 != argc)
            return cli_usage_error(CMD, "authorize takes one CIDR");
        return do_authorize(config, argv[optind], dur, id);
    }
    if (dur != NULL || id != NULL)
        return cli_usage_error(CMD, "--for and --id belong to authorize");
    if (every != NULL && strcmp(sub, "sweep") != 0)
        return cli_usage_error(CMD, "--every belongs to sweep");
    if (strcmp(sub, "revoke") == 0) {
        if (optind + 1 != argc)
            return cli_usage_error(CMD, "revoke takes one rule id (sgr-...)");
        return do_revoke(config, argv[optind]);
    }
    if (optind != argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (strcmp(sub, "list") == 0)
        return do_list(config, json);
    if (strcmp(sub, "sweep") == 0)
        return do_sweep(config, every);
    return cli_usage_error(CMD, "unknown subcommand '%s' (authorize, revoke, list or sweep)", sub);
}
