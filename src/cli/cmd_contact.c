/*
 * cmd_contact.c - `opsbell contact list|verify|confirm|trust`: contact
 * methods and their verification (phone numbers and SIP URIs are paged
 * only once verified), through the HTTP API.
 */
#include "cli/cli.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_contact_list(int argc, char **argv);
int cmd_contact_verify(int argc, char **argv);
int cmd_contact_confirm(int argc, char **argv);
int cmd_contact_trust(int argc, char **argv);

/*
 * Parse `[--json] ARG...` with exactly n positional arguments into args.
 * Returns -1 when the command is done (help printed, or a usage error with
 * *status set).
 */
static int contact_args(int argc, char **argv, const char *name, int n, const char **args,
                        int *json, int *status)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;

    *json = 0;
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') {
            *json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find("contact", name), stdout);
            *status = EXIT_OK;
            return -1;
        } else {
            *status = cli_usage_error(argv[0], "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (argc - optind != n) {
        *status = cli_usage_error(argv[0], "expected %d argument%s", n, n == 1 ? "" : "s");
        return -1;
    }
    for (int i = 0; i < n; i++)
        args[i] = argv[optind + i];
    return 0;
}

static int user_path(const char *user, const char *suffix, char *out, size_t cap)
{
    char escaped[512];

    client_escape(user, escaped, sizeof(escaped));
    snprintf(out, cap, "/api/v1/users/%s%s", escaped, suffix);
    return 0;
}

/* POST body to the user's path; print "<address> is verified<how>" or the JSON reply. */
static int post_and_print(const char *user, const char *suffix, json_t *body, int json,
                          const char *address, const char *how)
{
    struct ob_error err = {0};
    json_t *reply = NULL;
    char path[640];
    int rc;

    user_path(user, suffix, path, sizeof(path));
    rc = client_call("POST", path, body, &reply, &err);
    json_decref(body);
    if (rc != 0)
        return cli_fail("%s", err.msg);
    if (json)
        cli_print_json(reply);
    else
        printf("%s is verified%s\n", address, how);
    json_decref(reply);
    return EXIT_OK;
}

int cmd_contact_list(int argc, char **argv)
{
    const char *args[1];
    struct ob_error err = {0};
    json_t *reply = NULL, *item;
    char path[640];
    int json, status;
    size_t i;

    if (contact_args(argc, argv, "list", 1, args, &json, &status) != 0)
        return status;
    user_path(args[0], "/contact-methods", path, sizeof(path));
    if (client_call("GET", path, NULL, &reply, &err) != 0)
        return cli_fail("%s", err.msg);
    if (json) {
        cli_print_json(reply);
    } else {
        static const char *const headers[] = {"TYPE", "ADDRESS", "PROVIDER", "VERIFIED"};
        struct table t;

        table_init(&t, 4, headers);
        json_array_foreach(json_object_get(reply, "contact_methods"), i, item)
        {
            const char *row[4];
            int needs = json_is_true(json_object_get(item, "needs_verification"));
            int verified = json_is_true(json_object_get(item, "verified"));

            row[0] = json_string_value(json_object_get(item, "type"));
            row[1] = json_string_value(json_object_get(item, "address"));
            row[2] = json_string_value(json_object_get(item, "provider"));
            row[3] = verified ? "yes" : needs ? "no (not paged)" : "not needed";
            table_add_row(&t, row);
        }
        table_print(&t, stdout);
        table_release(&t);
    }
    json_decref(reply);
    return EXIT_OK;
}

int cmd_contact_verify(int argc, char **argv)
{
    const char *args[3];
    struct ob_error err = {0};
    json_t *reply = NULL, *body;
    char path[640];
    int json, status, rc;

    if (contact_args(argc, argv, "verify", 3, args, &json, &status) != 0)
        return status;
    user_path(args[0], "/verifications", path, sizeof(path));
    body = json_pack("{s:s, s:s}", "type", args[1], "address", args[2]);
    rc = client_call("POST", path, body, &reply, &err);
    json_decref(body);
    if (rc != 0)
        return cli_fail("%s", err.msg);
    if (json)
        cli_print_json(reply);
    else
        printf("code sent to %s via %s (%s); type it with: opsbell contact confirm %s %s CODE\n",
               args[2], json_string_value(json_object_get(reply, "provider")),
               json_string_value(json_object_get(reply, "detail")), args[0], args[2]);
    json_decref(reply);
    return EXIT_OK;
}

int cmd_contact_confirm(int argc, char **argv)
{
    const char *args[3];
    int json, status;

    if (contact_args(argc, argv, "confirm", 3, args, &json, &status) != 0)
        return status;
    return post_and_print(args[0], "/verifications/confirm",
                          json_pack("{s:s, s:s}", "address", args[1], "code", args[2]), json,
                          args[1], "");
}

int cmd_contact_trust(int argc, char **argv)
{
    const char *args[2];
    int json, status;

    if (contact_args(argc, argv, "trust", 2, args, &json, &status) != 0)
        return status;
    return post_and_print(args[0], "/verifications/trust", json_pack("{s:s}", "address", args[1]),
                          json, args[1], " (vouched for by an admin)");
}
