/*
 * cmd_tel.c - `opsbell tel NICKNAME [MESSAGE...]`: ring someone's phone now
 * through the server (POST /api/v1/tel), then wait for how the call went
 * (GET /api/v1/tel/{id}) unless --no-wait.
 *
 * Exit status: 0 when the call was answered (or, with --no-wait, placed);
 * 1 when nobody answered on any phone, or on an error.
 */
#include "cli/cli.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEL_WAIT_S  300 /* longest a call and its fallbacks may take */
#define TEL_POLL_MS 500

int cmd_tel(int argc, char **argv);

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The last phone tried, for the closing line. */
static void describe(json_t *call, char *out, size_t cap)
{
    json_t *phones = json_object_get(call, "phones");
    json_t *last = json_array_get(phones, json_array_size(phones) - 1);
    const char *detail = json_string_value(json_object_get(last, "detail"));

    snprintf(out, cap, "%s on %s%s%s", json_string_value(json_object_get(call, "state")),
             json_string_value(json_object_get(last, "address")), detail != NULL ? ": " : "",
             detail != NULL ? detail : "");
}

int cmd_tel(int argc, char **argv)
{
    static const struct option opts[] = {{"no-wait", no_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct strbuf message = STRBUF_INIT;
    struct ob_error err = {0};
    json_t *reply = NULL, *call = NULL, *body;
    int json = 0, wait = 1, c, rc = EXIT_OK;
    char path[64], what[600];
    long long id;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "+njh", opts, NULL)) != -1) {
        if (c == 'n') {
            wait = 0;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find("tel", NULL), stdout);
            return EXIT_OK;
        } else {
            return cli_usage_error(argv[0], "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(argv[0], "whom to call? (a nickname)");
    for (int i = optind + 1; i < argc; i++) {
        if (message.len > 0)
            strbuf_addch(&message, ' ');
        strbuf_adds(&message, argv[i]);
    }
    body = json_pack("{s:s}", "callee", argv[optind]);
    if (message.len > 0)
        json_object_set_new(body, "message", json_string(strbuf_str(&message)));
    strbuf_release(&message);
    if (client_call("POST", "/api/v1/tel", body, &reply, &err) != 0) {
        json_decref(body);
        return cli_fail("%s", err.msg);
    }
    json_decref(body);
    id = (long long)json_integer_value(json_object_get(reply, "id"));
    if (!json)
        printf("calling %s (%s)...\n", json_string_value(json_object_get(reply, "nickname")),
               json_string_value(json_object_get(reply, "callee")));
    fflush(stdout);
    if (!wait) {
        if (json)
            cli_print_json(reply);
        json_decref(reply);
        return EXIT_OK;
    }
    snprintf(path, sizeof(path), "/api/v1/tel/%lld", id);
    for (long waited = 0; waited <= TEL_WAIT_S * 1000L; waited += TEL_POLL_MS) {
        json_decref(call);
        call = NULL;
        if (client_call("GET", path, NULL, &call, &err) != 0) {
            rc = cli_fail("%s", err.msg);
            goto out;
        }
        if (json_is_true(json_object_get(call, "done")))
            break;
        sleep_ms(TEL_POLL_MS);
    }
    if (!json_is_true(json_object_get(call, "done"))) {
        rc = cli_fail("no outcome after %d s (call %lld)", TEL_WAIT_S, id);
        goto out;
    }
    if (json)
        cli_print_json(call);
    describe(call, what, sizeof(what));
    if (strcmp(json_string_value(json_object_get(call, "state")), "answered") != 0)
        rc = json ? EXIT_FAIL : cli_fail("%s", what);
    else if (!json)
        printf("%s\n", what);
out:
    json_decref(reply);
    json_decref(call);
    return rc;
}
