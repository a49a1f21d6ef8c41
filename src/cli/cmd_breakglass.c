/*
 * cmd_breakglass.c - `opsbell breakglass request|approve|deny|revoke|list|show`,
 * `opsbell allowlist list` and the remote half of `opsbell cert sign --grant`,
 * through the HTTP API (docs/BREAKGLASS.md):
 *
 *   POST /api/v1/breakglass                       request
 *   POST /api/v1/breakglass/{id}/approve|deny|revoke
 *   GET  /api/v1/breakglass[?state=&user=], GET /api/v1/breakglass/{id}
 *   POST /api/v1/breakglass/{id}/certificate      cert sign --grant
 *   GET  /api/v1/allowlist[?user=]
 *
 * The server decides everything (policy, approvers, CIDR width, durations);
 * the CLI checks only what it can check alone (option forms) and prints the
 * server's one-line reason otherwise.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "util/error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_breakglass_request(int argc, char **argv);
int cmd_breakglass_approve(int argc, char **argv);
int cmd_breakglass_deny(int argc, char **argv);
int cmd_breakglass_revoke(int argc, char **argv);
int cmd_breakglass_list(int argc, char **argv);
int cmd_breakglass_show(int argc, char **argv);
int cmd_allowlist_list(int argc, char **argv);

/* A grant id on the command line: a positive integer. */
static int parse_grant_id(const char *command, const char *text, long long *id)
{
    char *end = NULL;

    errno = 0;
    *id = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || *id <= 0)
        return cli_usage_error(command, "a grant ID is a positive integer, not '%s'", text);
    return EXIT_OK;
}

/* "web1" for a host, "group:web-prod" for a host group. */
static void grant_target(json_t *g, char *out, size_t cap)
{
    const char *group = cli_json_str(g, "group");

    if (group != NULL)
        snprintf(out, cap, "group:%s", group);
    else
        snprintf(out, cap, "%s", cli_json_str(g, "host") != NULL ? cli_json_str(g, "host") : "-");
}

/* One line about a grant after a change: "grant #7 active: alice on web1 from
 * 198.51.100.7/32 until 2026-11-25T02:00:00Z". */
static void print_grant_line(json_t *g, const char *verb)
{
    char target[320], until[32];
    const char *state = cli_json_str(g, "state");

    grant_target(g, target, sizeof(target));
    printf("grant #%lld %s: %s on %s from %s",
           (long long)json_integer_value(json_object_get(g, "id")), verb,
           cli_json_str(g, "user") ? cli_json_str(g, "user") : "?", target,
           cli_json_str(g, "cidr") ? cli_json_str(g, "cidr") : "?");
    if (state != NULL && strcmp(state, "active") == 0) {
        cli_format_ms(json_object_get(g, "expires_at_ms"), until, sizeof(until));
        printf(" until %s\n", until);
    } else if (state != NULL && strcmp(state, "pending") == 0) {
        cli_format_ms(json_object_get(g, "pending_until_ms"), until, sizeof(until));
        printf("; waiting for an approver until %s\n", until);
    } else {
        printf(" (%s)\n", state != NULL ? state : "?");
    }
}

int cmd_breakglass_request(int argc, char **argv)
{
    static const char *const cmd = "breakglass request";
    static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                         {"group", required_argument, NULL, 'g'},
                                         {"for", required_argument, NULL, 'f'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"ip", required_argument, NULL, 'i'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *host = NULL, *group = NULL, *dur = NULL, *reason = NULL, *ip = NULL, *user = NULL;
    struct ob_error err = {0};
    json_t *body = NULL, *reply = NULL;
    uint32_t secs = 0;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "H:g:f:r:i:u:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            host = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'f':
            dur = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'i':
            ip = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("breakglass", "request"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option(cmd, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if ((host == NULL) == (group == NULL))
        return cli_usage_error(cmd, "give --host HOST or --group GROUP (one of the two)");
    if (dur == NULL)
        return cli_usage_error(cmd, "--for DURATION is required (e.g. 30m)");
    if (config_parse_duration(dur, &secs) != 0 || secs == 0)
        return cli_usage_error(cmd, "--for '%s' is not a duration such as 30m or 1h", dur);
    if (reason == NULL || reason[0] == '\0')
        return cli_usage_error(cmd, "--reason TEXT is required");

    body = json_pack("{s:s, s:s}", "duration", dur, "reason", reason);
    if (body == NULL)
        return cli_fail("out of memory");
    json_object_set_new(body, host != NULL ? "host" : "group",
                        json_string(host != NULL ? host : group));
    if (ip != NULL)
        json_object_set_new(body, "ip", json_string(ip));
    if (user != NULL)
        json_object_set_new(body, "user", json_string(user));
    if (client_call("POST", "/api/v1/breakglass", body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(reply);
    else
        print_grant_line(reply, cli_json_str(reply, "state") != NULL &&
                                        strcmp(cli_json_str(reply, "state"), "active") == 0
                                    ? "active"
                                    : "requested");
out:
    json_decref(reply);
    json_decref(body);
    return rc;
}

enum grant_action { ACT_APPROVE, ACT_DENY, ACT_REVOKE };

static int breakglass_act(int argc, char **argv, enum grant_action action)
{
    static const char *const names[] = {"approve", "deny", "revoke"};
    static const char *const done[] = {"approved", "denied", "revoked"};
    static const struct option with_reason[] = {{"reason", required_argument, NULL, 'r'},
                                                {"json", no_argument, NULL, 'j'},
                                                {"help", no_argument, NULL, 'h'},
                                                {NULL, 0, NULL, 0}};
    static const struct option without_reason[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct option *opts = action == ACT_APPROVE ? without_reason : with_reason;
    const char *reason = NULL;
    struct ob_error err = {0};
    json_t *body = NULL, *reply = NULL;
    char command[32], path[96];
    long long id;
    int json = 0, c, rc;

    snprintf(command, sizeof(command), "breakglass %s", names[action]);
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, action == ACT_APPROVE ? "jh" : "r:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            reason = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("breakglass", names[action]), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option(command, argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(command, "exactly one grant ID is required");
    rc = parse_grant_id(command, argv[optind], &id);
    if (rc != EXIT_OK)
        return rc;
    if (reason != NULL)
        body = json_pack("{s:s}", "reason", reason);
    snprintf(path, sizeof(path), "/api/v1/breakglass/%lld/%s", id, names[action]);
    if (client_call("POST", path, body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(reply);
    else
        print_grant_line(reply, done[action]);
out:
    json_decref(reply);
    json_decref(body);
    return rc;
}

int cmd_breakglass_approve(int argc, char **argv)
{
    return breakglass_act(argc, argv, ACT_APPROVE);
}

int cmd_breakglass_deny(int argc, char **argv)
{
    return breakglass_act(argc, argv, ACT_DENY);
}

int cmd_breakglass_revoke(int argc, char **argv)
{
    return breakglass_act(argc, argv, ACT_REVOKE);
}

static void print_grant_table(json_t *grants)
{
    static const char *const headers[] = {"ID",    "USER",    "TARGET",      "CIDR",
                                          "STATE", "EXPIRES", "APPROVED-BY", "REASON"};
    struct table table;
    json_t *g;
    size_t i;

    table_init(&table, 8, headers);
    json_array_foreach(grants, i, g)
    {
        char id[24], target[320], expires[32];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(g, "id")));
        grant_target(g, target, sizeof(target));
        cli_format_ms(json_object_get(g, "expires_at_ms"), expires, sizeof(expires));
        const char *row[] = {id,
                             cli_json_str(g, "user"),
                             target,
                             cli_json_str(g, "cidr"),
                             cli_json_str(g, "state"),
                             expires,
                             cli_json_str(g, "approved_by"),
                             cli_json_str(g, "reason")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_breakglass_list(int argc, char **argv)
{
    static const char *const cmd = "breakglass list";
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *state = NULL, *user = NULL;
    struct ob_error err = {0};
    json_t *reply = NULL, *grants;
    char path[512], esc[200];
    size_t used;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "s:u:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("breakglass", "list"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option(cmd, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    used = (size_t)snprintf(path, sizeof(path), "/api/v1/breakglass");
    if (state != NULL) {
        client_escape(state, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "?state=%s", esc);
    }
    if (user != NULL) {
        client_escape(user, esc, sizeof(esc));
        snprintf(path + used, sizeof(path) - used, "%suser=%s", state != NULL ? "&" : "?", esc);
    }
    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    grants = json_object_get(reply, "grants");
    if (!json_is_array(grants)) {
        rc = cli_fail("the server's answer has no list of grants");
        goto out;
    }
    if (json)
        cli_print_json(grants);
    else
        print_grant_table(grants);
out:
    json_decref(reply);
    return rc;
}

static void show_field(const char *name, const char *value)
{
    printf("%-12s %s\n", name, value != NULL && value[0] != '\0' ? value : "-");
}

/* "2026-11-25T01:30:00Z by alice" or "-". */
static void show_when_by(const char *name, json_t *g, const char *ms_key, const char *by_key)
{
    char when[32], line[400];
    const char *by = cli_json_str(g, by_key);

    if (!json_is_integer(json_object_get(g, ms_key))) {
        show_field(name, NULL);
        return;
    }
    cli_format_ms(json_object_get(g, ms_key), when, sizeof(when));
    snprintf(line, sizeof(line), "%s%s%s", when, by != NULL ? " by " : "", by != NULL ? by : "");
    show_field(name, line);
}

static void print_grant(json_t *g)
{
    char text[600], when[32];
    json_t *hosts = json_object_get(g, "hosts"), *h;
    size_t i, used = 0;

    snprintf(text, sizeof(text), "#%lld", (long long)json_integer_value(json_object_get(g, "id")));
    show_field("grant:", text);
    show_field("state:", cli_json_str(g, "state"));
    show_field("user:", cli_json_str(g, "user"));
    show_field("team:", cli_json_str(g, "team"));
    grant_target(g, text, sizeof(text));
    show_field("target:", text);
    text[0] = '\0';
    json_array_foreach(hosts, i, h)
    {
        if (json_is_string(h) && used + 2 < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i ? "," : "",
                                     json_string_value(h));
    }
    show_field("hosts:", text);
    show_field("cidr:", cli_json_str(g, "cidr"));
    snprintf(text, sizeof(text), "%llds",
             (long long)json_integer_value(json_object_get(g, "duration_seconds")));
    show_field("duration:", text);
    show_field("reason:", cli_json_str(g, "reason"));
    show_when_by("requested:", g, "requested_at_ms", "requested_by");
    if (json_is_integer(json_object_get(g, "pending_until_ms"))) {
        cli_format_ms(json_object_get(g, "pending_until_ms"), when, sizeof(when));
        show_field("pending to:", when);
    }
    show_when_by("approved:", g, "approved_at_ms", "approved_by");
    cli_format_ms(json_object_get(g, "starts_at_ms"), when, sizeof(when));
    show_field("starts:", when);
    cli_format_ms(json_object_get(g, "expires_at_ms"), when, sizeof(when));
    show_field("expires:", when);
    show_when_by("ended:", g, "ended_at_ms", "ended_by");
    if (cli_json_str(g, "end_reason") != NULL)
        show_field("end reason:", cli_json_str(g, "end_reason"));
}

int cmd_breakglass_show(int argc, char **argv)
{
    static const char *const cmd = "breakglass show";
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct ob_error err = {0};
    json_t *reply = NULL;
    char path[64];
    long long id;
    int json = 0, c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("breakglass", "show"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option(cmd, argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(cmd, "exactly one grant ID is required");
    rc = parse_grant_id(cmd, argv[optind], &id);
    if (rc != EXIT_OK)
        return rc;
    snprintf(path, sizeof(path), "/api/v1/breakglass/%lld", id);
    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(reply);
    else
        print_grant(reply);
out:
    json_decref(reply);
    return rc;
}

int cmd_allowlist_list(int argc, char **argv)
{
    static const char *const cmd = "allowlist list";
    static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char *const headers[] = {"USER",      "CIDR",    "SOURCE",
                                          "LAST-SEEN", "EXPIRES", "DETAIL"};
    const char *user = NULL;
    struct ob_error err = {0};
    json_t *reply = NULL, *rows, *a;
    char path[256], esc[200];
    size_t i;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "u:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            user = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("allowlist", "list"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option(cmd, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (user != NULL) {
        client_escape(user, esc, sizeof(esc));
        snprintf(path, sizeof(path), "/api/v1/allowlist?user=%s", esc);
    } else {
        snprintf(path, sizeof(path), "/api/v1/allowlist");
    }
    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    rows = json_object_get(reply, "allowlist");
    if (!json_is_array(rows)) {
        rc = cli_fail("the server's answer has no allowlist");
        goto out;
    }
    if (json) {
        cli_print_json(rows);
    } else {
        struct table table;
        table_init(&table, 6, headers);
        json_array_foreach(rows, i, a)
        {
            char seen[32], expires[32];
            cli_format_ms(json_object_get(a, "last_seen_ms"), seen, sizeof(seen));
            cli_format_ms(json_object_get(a, "expires_at_ms"), expires, sizeof(expires));
            const char *row[] = {cli_json_str(a, "user"),
                                 cli_json_str(a, "cidr"),
                                 cli_json_str(a, "source"),
                                 seen,
                                 expires,
                                 cli_json_str(a, "detail")};
            table_add_row(&table, row);
        }
        table_print(&table, stdout);
        table_release(&table);
    }
out:
    json_decref(reply);
    return rc;
}
