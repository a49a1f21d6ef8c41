/*
 * cmd_incident.c - `opsbell alert send` and `opsbell incident
 * list|show|ack|resolve|escalate|note`, through the HTTP API.
 */
#include "cli/cli.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_alert_send(int argc, char **argv);
int cmd_incident_list(int argc, char **argv);
int cmd_incident_show(int argc, char **argv);
int cmd_incident_ack(int argc, char **argv);
int cmd_incident_resolve(int argc, char **argv);
int cmd_incident_escalate(int argc, char **argv);
int cmd_incident_note(int argc, char **argv);

int cmd_alert_send(int argc, char **argv)
{
    static const struct option opts[] = {{"service", required_argument, NULL, 's'},
                                         {"summary", required_argument, NULL, 'm'},
                                         {"severity", required_argument, NULL, 'S'},
                                         {"dedup", required_argument, NULL, 'd'},
                                         {"label", required_argument, NULL, 'l'},
                                         {"resolve", no_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *labels = json_object(), *reply = NULL, *first;
    struct ob_error err = {0};
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "s:m:S:d:l:rjh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            json_object_set_new(body, "service", json_string(optarg));
            break;
        case 'm':
            json_object_set_new(body, "summary", json_string(optarg));
            break;
        case 'S':
            json_object_set_new(body, "severity", json_string(optarg));
            break;
        case 'd':
            json_object_set_new(body, "dedup_key", json_string(optarg));
            break;
        case 'l': {
            const char *eq = strchr(optarg, '=');
            char name[256];
            if (eq == NULL || eq == optarg || (size_t)(eq - optarg) >= sizeof(name)) {
                rc = cli_usage_error("alert send", "--label must be NAME=VALUE, not '%s'", optarg);
                goto out;
            }
            snprintf(name, sizeof(name), "%.*s", (int)(eq - optarg), optarg);
            json_object_set_new(labels, name, json_string(eq + 1));
            break;
        }
        case 'r':
            json_object_set_new(body, "action", json_string("resolve"));
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("alert", "send"), stdout);
            goto out;
        default:
            rc = cli_unknown_option("alert send", argv);
            goto out;
        }
    }
    if (optind < argc) {
        rc = cli_usage_error("alert send", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (json_object_get(body, "service") == NULL) {
        rc = cli_usage_error("alert send", "--service is required");
        goto out;
    }
    if (json_object_get(body, "summary") == NULL && json_object_get(body, "action") == NULL) {
        rc = cli_usage_error("alert send", "--summary is required");
        goto out;
    }
    if (json_object_size(labels) > 0)
        json_object_set(body, "labels", labels);
    if (client_call("POST", "/api/v1/alerts", body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    first = json_array_get(json_object_get(reply, "alerts"), 0);
    if (json) {
        cli_print_json(reply);
    } else if (first != NULL) {
        json_t *id = json_object_get(first, "incident_id");
        printf("%s",
               cli_json_str(first, "status") != NULL ? cli_json_str(first, "status") : "accepted");
        if (json_is_integer(id))
            printf(": incident #%lld", (long long)json_integer_value(id));
        printf(" (dedup key %s)\n",
               cli_json_str(first, "dedup_key") ? cli_json_str(first, "dedup_key") : "-");
    }
out:
    json_decref(reply);
    json_decref(labels);
    json_decref(body);
    return rc;
}

static void print_incident_table(json_t *incidents)
{
    static const char *const headers[] = {"ID",      "STATUS", "SEVERITY", "SERVICE",
                                          "CREATED", "ALERTS", "SUMMARY"};
    struct table table;
    json_t *inc;
    size_t i;

    table_init(&table, 7, headers);
    json_array_foreach(incidents, i, inc)
    {
        char id[24], created[32], alerts[48], status[48];
        snprintf(id, sizeof(id), "#%lld",
                 (long long)json_integer_value(json_object_get(inc, "id")));
        cli_format_ms(json_object_get(inc, "created_at_ms"), created, sizeof(created));
        snprintf(alerts, sizeof(alerts), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(inc, "open_alerts")),
                 (long long)json_integer_value(json_object_get(inc, "alert_count")));
        snprintf(status, sizeof(status), "%s%s",
                 cli_json_str(inc, "status") ? cli_json_str(inc, "status") : "?",
                 json_is_true(json_object_get(inc, "silenced")) ? " (silenced)" : "");
        const char *row[] = {
            id,      status, cli_json_str(inc, "severity"), cli_json_str(inc, "service"),
            created, alerts, cli_json_str(inc, "summary")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_incident_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'},  {"team", required_argument, NULL, 't'},
        {"service", required_argument, NULL, 'S'}, {"limit", required_argument, NULL, 'l'},
        {"all", no_argument, NULL, 'a'},           {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *status = "open", *team = NULL, *service = NULL, *limit = NULL;
    char path[512], esc[192];
    struct ob_error err = {0};
    json_t *reply = NULL;
    size_t used;
    int json = 0, c;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "s:t:S:l:ajh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            status = optarg;
            break;
        case 't':
            team = optarg;
            break;
        case 'S':
            service = optarg;
            break;
        case 'l':
            limit = optarg;
            break;
        case 'a':
            status = NULL;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("incident", "list"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("incident list", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("incident list", "unexpected argument '%s'", argv[optind]);
    used = (size_t)snprintf(path, sizeof(path), "/api/v1/incidents?limit=");
    client_escape(limit != NULL ? limit : "50", esc, sizeof(esc));
    used += (size_t)snprintf(path + used, sizeof(path) - used, "%s", esc);
    if (status != NULL) {
        client_escape(status, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "&status=%s", esc);
    }
    if (team != NULL) {
        client_escape(team, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "&team=%s", esc);
    }
    if (service != NULL) {
        client_escape(service, esc, sizeof(esc));
        snprintf(path + used, sizeof(path) - used, "&service=%s", esc);
    }
    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json)
        cli_print_json(json_object_get(reply, "incidents"));
    else
        print_incident_table(json_object_get(reply, "incidents"));
    json_decref(reply);
    return EXIT_OK;
}

/* Parse "[--json] ID [TEXT]" for the single-incident commands. */
static int parse_incident_args(int argc, char **argv, const char *name, int wants_text, int *json,
                               const char **id, const char **text)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char display[48];
    int c;

    snprintf(display, sizeof(display), "incident %s", name);
    *json = 0;
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') {
            *json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find("incident", name), stdout);
            return EXIT_OK;
        } else {
            return cli_unknown_option(display, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(display, "an incident ID is required");
    *id = argv[optind++];
    if (*id[0] == '#')
        (*id)++;
    if (wants_text) {
        if (optind >= argc)
            return cli_usage_error(display, "the note's text is required");
        *text = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(display, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static void print_escalation(json_t *esc)
{
    if (!json_is_object(esc)) {
        printf("\nescalation: none\n");
        return;
    }
    printf("\nescalation: policy %s, %s", cli_json_str(esc, "policy"), cli_json_str(esc, "state"));
    if (cli_json_str(esc, "state") != NULL && strcmp(cli_json_str(esc, "state"), "active") == 0)
        printf(", step %lld of pass %lld due %s",
               (long long)json_integer_value(json_object_get(esc, "next_step")),
               (long long)json_integer_value(json_object_get(esc, "pass")),
               cli_json_str(esc, "next_at") != NULL ? cli_json_str(esc, "next_at") : "-");
    printf(", %lld step(s) taken",
           (long long)json_integer_value(json_object_get(esc, "steps_taken")));
    if (cli_json_str(esc, "stop_reason") != NULL)
        printf(" (%s)", cli_json_str(esc, "stop_reason"));
    printf("\n");
}

static void print_notifications(json_t *rows)
{
    static const char *const headers[] = {"ID",    "USER",     "TYPE",     "ADDRESS",
                                          "STATE", "PROVIDER", "DUE/SENT", "DETAIL"};
    struct table table;
    json_t *n;
    size_t i;

    if (json_array_size(rows) == 0) {
        printf("\nnotifications: none\n");
        return;
    }
    printf("\nnotifications:\n");
    table_init(&table, 8, headers);
    json_array_foreach(rows, i, n)
    {
        char id[24];
        const char *when = cli_json_str(n, "sent_at") != NULL ? cli_json_str(n, "sent_at")
                                                              : cli_json_str(n, "due_at");
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(n, "id")));
        const char *row[] = {id,
                             cli_json_str(n, "user"),
                             cli_json_str(n, "type"),
                             cli_json_str(n, "address"),
                             cli_json_str(n, "state"),
                             cli_json_str(n, "provider"),
                             when,
                             cli_json_str(n, "detail")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_incident_show(int argc, char **argv)
{
    const char *id = NULL, *text = NULL;
    struct ob_error err = {0};
    json_t *reply = NULL, *ev, *alert;
    char path[128], esc[64], when[32];
    size_t i;
    int json, rc = parse_incident_args(argc, argv, "show", 0, &json, &id, &text);

    if (rc >= 0)
        return rc;
    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/incidents/%s", esc);
    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json) {
        cli_print_json(reply);
        json_decref(reply);
        return EXIT_OK;
    }
    cli_format_ms(json_object_get(reply, "created_at_ms"), when, sizeof(when));
    printf("incident #%lld  %s  [%s]\n",
           (long long)json_integer_value(json_object_get(reply, "id")),
           cli_json_str(reply, "status"), cli_json_str(reply, "severity"));
    printf("summary:  %s\nservice:  %s (team %s)\ncreated:  %s\nalerts:   %lld firing, %lld "
           "received\n",
           cli_json_str(reply, "summary"), cli_json_str(reply, "service"),
           cli_json_str(reply, "team"), when,
           (long long)json_integer_value(json_object_get(reply, "open_alerts")),
           (long long)json_integer_value(json_object_get(reply, "alert_count")));
    if (json_is_true(json_object_get(reply, "silenced")))
        printf("silenced: yes (nobody is paged)\n");
    printf("\nalerts:\n");
    json_array_foreach(json_object_get(reply, "alerts"), i, alert)
    {
        printf("  %-8s %s  %s\n", cli_json_str(alert, "status"), cli_json_str(alert, "fingerprint"),
               cli_json_str(alert, "summary"));
    }
    print_escalation(json_object_get(reply, "escalation"));
    print_notifications(json_object_get(reply, "notifications"));
    printf("\ntimeline:\n");
    json_array_foreach(json_object_get(reply, "timeline"), i, ev)
    {
        cli_format_ms(json_object_get(ev, "at_ms"), when, sizeof(when));
        printf("  %s  %-22s %s%s%s\n", when, cli_json_str(ev, "kind"),
               cli_json_str(ev, "actor") ? cli_json_str(ev, "actor") : "",
               cli_json_str(ev, "message") ? ": " : "",
               cli_json_str(ev, "message") ? cli_json_str(ev, "message") : "");
    }
    json_decref(reply);
    return EXIT_OK;
}

static int incident_post(int argc, char **argv, const char *name, const char *action,
                         int wants_text, const char *done_verb)
{
    const char *id = NULL, *text = NULL;
    struct ob_error err = {0};
    json_t *reply = NULL, *body = NULL;
    char path[160], esc[64];
    int json, rc = parse_incident_args(argc, argv, name, wants_text, &json, &id, &text);

    if (rc >= 0)
        return rc;
    client_escape(id, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/api/v1/incidents/%s/%s", esc, action);
    if (text != NULL)
        body = json_pack("{s:s}", "text", text);
    rc = client_call("POST", path, body, &reply, &err);
    json_decref(body);
    if (rc != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json)
        cli_print_json(reply);
    else
        printf("incident #%s %s (now %s)\n", id, done_verb,
               cli_json_str(reply, "status") ? cli_json_str(reply, "status") : "?");
    json_decref(reply);
    return EXIT_OK;
}

int cmd_incident_ack(int argc, char **argv)
{
    return incident_post(argc, argv, "ack", "ack", 0, "acknowledged");
}

int cmd_incident_resolve(int argc, char **argv)
{
    return incident_post(argc, argv, "resolve", "resolve", 0, "resolved");
}

int cmd_incident_escalate(int argc, char **argv)
{
    return incident_post(argc, argv, "escalate", "escalate", 0, "escalated");
}

int cmd_incident_note(int argc, char **argv)
{
    return incident_post(argc, argv, "note", "notes", 1, "note added");
}
