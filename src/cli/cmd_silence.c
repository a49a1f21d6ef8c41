/* cmd_silence.c - `opsbell silence add|list|expire` through the HTTP API. */
#include "cli/cli.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_silence_add(int argc, char **argv);
int cmd_silence_list(int argc, char **argv);
int cmd_silence_expire(int argc, char **argv);

static void matchers_text(json_t *matchers, char *out, size_t cap)
{
    size_t i, used = 0;
    json_t *m;

    out[0] = '\0';
    json_array_foreach(matchers, i, m)
    {
        int n = snprintf(out + used, cap - used, "%s%s%s\"%s\"", i ? "," : "",
                         cli_json_str(m, "name"), cli_json_str(m, "op"), cli_json_str(m, "value"));
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

static void print_silence_table(json_t *silences)
{
    static const char *const headers[] = {"ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"};
    struct table table;
    json_t *s;
    size_t i;

    table_init(&table, 6, headers);
    json_array_foreach(silences, i, s)
    {
        char id[24], ends[32], matchers[512];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(s, "id")));
        cli_format_ms(json_object_get(s, "ends_at_ms"), ends, sizeof(ends));
        matchers_text(json_object_get(s, "matchers"), matchers, sizeof(matchers));
        const char *row[] = {id,   cli_json_str(s, "state"),      matchers,
                             ends, cli_json_str(s, "created_by"), cli_json_str(s, "comment")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_silence_add(int argc, char **argv)
{
    static const struct option opts[] = {{"for", required_argument, NULL, 'f'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"from", required_argument, NULL, 's'},
                                         {"comment", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_object(), *matchers = json_array(), *reply = NULL;
    struct ob_error err = {0};
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "f:u:s:m:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            json_object_set_new(body, "duration", json_string(optarg));
            break;
        case 'u':
            json_object_set_new(body, "ends_at", json_string(optarg));
            break;
        case 's':
            json_object_set_new(body, "starts_at", json_string(optarg));
            break;
        case 'm':
            json_object_set_new(body, "comment", json_string(optarg));
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("silence", "add"), stdout);
            goto out;
        default:
            rc = cli_usage_error("silence add", "unknown or incomplete option '%s'",
                                 argv[optind - 1]);
            goto out;
        }
    }
    for (; optind < argc; optind++)
        json_array_append_new(matchers, json_string(argv[optind]));
    if (json_array_size(matchers) == 0) {
        rc = cli_usage_error("silence add", "at least one matcher such as alertname=\"X\" is "
                                            "required");
        goto out;
    }
    if (json_object_get(body, "comment") == NULL) {
        rc = cli_usage_error("silence add", "--comment is required");
        goto out;
    }
    if (json_object_get(body, "duration") == NULL && json_object_get(body, "ends_at") == NULL) {
        rc = cli_usage_error("silence add", "--for DURATION or --until TIME is required");
        goto out;
    }
    json_object_set(body, "matchers", matchers);
    if (client_call("POST", "/api/v1/silences", body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(reply);
    else
        printf("silence %lld created\n",
               (long long)json_integer_value(json_object_get(reply, "id")));
out:
    json_decref(reply);
    json_decref(matchers);
    json_decref(body);
    return rc;
}

int cmd_silence_list(int argc, char **argv)
{
    struct ob_error err = {0};
    json_t *reply = NULL;
    int json = 0, all = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_usage(cli_find("silence", "list"), stdout);
            return EXIT_OK;
        } else {
            return cli_usage_error("silence list", "unexpected argument '%s'", argv[i]);
        }
    }
    if (client_call("GET", all ? "/api/v1/silences?state=all" : "/api/v1/silences", NULL, &reply,
                    &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json)
        cli_print_json(json_object_get(reply, "silences"));
    else
        print_silence_table(json_object_get(reply, "silences"));
    json_decref(reply);
    return EXIT_OK;
}

int cmd_silence_expire(int argc, char **argv)
{
    struct ob_error err = {0};
    json_t *reply = NULL;
    char path[96], *end = NULL;
    long long id;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_print_usage(cli_find("silence", "expire"), stdout);
        return EXIT_OK;
    }
    if (argc != 2)
        return cli_usage_error("silence expire", "exactly one silence ID is required");
    id = strtoll(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || id <= 0)
        return cli_usage_error("silence expire", "silence ID must be a positive integer, not '%s'",
                               argv[1]);
    snprintf(path, sizeof(path), "/api/v1/silences/%lld", id);
    if (client_call("DELETE", path, NULL, &reply, &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    printf("silence %lld expired\n", id);
    json_decref(reply);
    return EXIT_OK;
}
