/*
 * cmd_oncall.c - `opsbell oncall`, `opsbell override add|list|delete`,
 * `opsbell schedule list|show`, `opsbell policy list|show` and `opsbell
 * ical create|list|revoke`, through the HTTP API.
 *
 * Times given on the command line (--at, --from, --until) are sent as
 * written: the server reads them (RFC 3339, a local time in the schedule's
 * zone, "now", "+2h") and its one-line reason is what a bad one prints.
 */
#include "cli/cli.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_oncall(int argc, char **argv);
int cmd_override_add(int argc, char **argv);
int cmd_override_list(int argc, char **argv);
int cmd_override_delete(int argc, char **argv);
int cmd_schedule_list(int argc, char **argv);
int cmd_schedule_show(int argc, char **argv);
int cmd_policy_list(int argc, char **argv);
int cmd_policy_show(int argc, char **argv);
int cmd_ical_create(int argc, char **argv);
int cmd_ical_list(int argc, char **argv);
int cmd_ical_revoke(int argc, char **argv);

/* ---- helpers ------------------------------------------------------------------ */

static long long int_of(json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

/* One column of a table of JSON objects: member `member` of each object, as
 * text, as an integer, or as the length of an array. */
enum column_kind { COLUMN_TEXT, COLUMN_INTEGER, COLUMN_COUNT };

struct column {
    const char *header;
    const char *member;
    enum column_kind kind;
};

/* Print reply[key], an array of objects, as a table of n_cols columns. */
static void print_objects(json_t *reply, const char *key, const struct column *cols, size_t n_cols)
{
    const char *headers[TABLE_MAX_COLS], *row[TABLE_MAX_COLS];
    char numbers[TABLE_MAX_COLS][24];
    struct table table;
    json_t *item;
    size_t i;

    for (size_t c = 0; c < n_cols; c++)
        headers[c] = cols[c].header;
    table_init(&table, n_cols, headers);
    json_array_foreach(json_object_get(reply, key), i, item)
    {
        for (size_t c = 0; c < n_cols; c++) {
            json_t *v = json_object_get(item, cols[c].member);

            row[c] = numbers[c];
            if (cols[c].kind == COLUMN_INTEGER)
                snprintf(numbers[c], sizeof(numbers[c]), "%lld", (long long)json_integer_value(v));
            else if (cols[c].kind == COLUMN_COUNT)
                snprintf(numbers[c], sizeof(numbers[c]), "%zu", json_array_size(v));
            else
                row[c] = json_is_string(v) ? json_string_value(v) : NULL;
        }
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

static void add_query(struct strbuf *sb, const char *name, const char *value)
{
    char esc[768];

    if (value == NULL)
        return;
    client_escape(value, esc, sizeof(esc));
    strbuf_addf(sb, "%c%s=%s", strchr(sb->buf, '?') != NULL ? '&' : '?', name, esc);
}

static void add_segment(struct strbuf *sb, const char *value)
{
    char esc[768];

    client_escape(value, esc, sizeof(esc));
    strbuf_adds(sb, esc);
}

/* GET path; on success print it as JSON (member `key` only, when not NULL)
 * or hand it to print. */
static int get_and_print(const char *path, int json, const char *key, void (*print)(json_t *))
{
    struct ob_error err = {0};
    json_t *reply = NULL;

    if (client_call("GET", path, NULL, &reply, &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json)
        cli_print_json(key != NULL ? json_object_get(reply, key) : reply);
    else
        print(reply);
    json_decref(reply);
    return EXIT_OK;
}

/*
 * The common shape "COMMAND [--json] [ARG]": options -j/--json and
 * -h/--help only; *arg receives the one positional argument (required when
 * arg_name is not NULL).  Returns -1 to go on, else the exit status.
 */
static int simple_args(int argc, char **argv, const char *group, const char *name,
                       const char *arg_name, int *json, const char **arg)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char display[48];
    int c;

    snprintf(display, sizeof(display), "%s %s", group, name);
    *json = 0;
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') {
            *json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find(group, name), stdout);
            return EXIT_OK;
        } else {
            return cli_unknown_option(display, argv);
        }
    }
    if (arg_name != NULL) {
        if (optind >= argc)
            return cli_usage_error(display, "%s is required", arg_name);
        *arg = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(display, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int positive_id(const char *display, const char *what, const char *text, long long *out)
{
    char *end = NULL;

    *out = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || *out <= 0)
        return cli_usage_error(display, "%s ID must be a positive integer, not '%s'", what, text);
    return -1;
}

/* "GROUP list [--team TEAM] [--json]": GET path, ?team=TEAM when given, and
 * print member `key` of the reply as JSON or hand the reply to print. */
static int list_by_team(int argc, char **argv, const char *group, const char *path, const char *key,
                        void (*print)(json_t *))
{
    static const struct option opts[] = {{"team", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct strbuf url = STRBUF_INIT;
    const char *team = NULL;
    char display[48];
    int json = 0, c, rc;

    snprintf(display, sizeof(display), "%s list", group);
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "t:jh", opts, NULL)) != -1) {
        if (c == 't') {
            team = optarg;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find(group, "list"), stdout);
            return EXIT_OK;
        } else {
            return cli_unknown_option(display, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(display, "unexpected argument '%s'", argv[optind]);
    strbuf_adds(&url, path);
    add_query(&url, "team", team);
    rc = get_and_print(url.buf, json, key, print);
    strbuf_release(&url);
    return rc;
}

/* A command "GROUP NAME ID [--json]" that deletes one object by its ID. */
struct delete_command {
    const char *group, *name; /* "override", "delete" */
    const char *arg_name;     /* what a missing argument is called: "an override ID" */
    const char *id_of;        /* "override": "override ID must be a positive integer" */
    const char *collection;   /* DELETE collection/ID */
    const char *noun, *verb;  /* printed on success: "override 7 deleted" */
};

static int delete_by_id(int argc, char **argv, const struct delete_command *cmd)
{
    struct ob_error err = {0};
    const char *arg = NULL;
    json_t *reply = NULL;
    char display[48], path[96];
    long long id;
    int json, rc = simple_args(argc, argv, cmd->group, cmd->name, cmd->arg_name, &json, &arg);

    if (rc >= 0)
        return rc;
    snprintf(display, sizeof(display), "%s %s", cmd->group, cmd->name);
    rc = positive_id(display, cmd->id_of, arg, &id);
    if (rc >= 0)
        return rc;
    snprintf(path, sizeof(path), "%s/%lld", cmd->collection, id);
    if (client_call("DELETE", path, NULL, &reply, &err) != 0) {
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (json)
        cli_print_json(reply);
    else
        printf("%s %lld %s\n", cmd->noun, id, cmd->verb);
    json_decref(reply);
    return EXIT_OK;
}

/* ---- opsbell oncall --------------------------------------------------------------- */

/* /api/v1/oncall?<by>=<name>&at=<at>, each query only when not NULL. */
static void oncall_path(struct strbuf *path, const char *by, const char *name, const char *at)
{
    strbuf_reset(path);
    strbuf_adds(path, "/api/v1/oncall");
    add_query(path, by, name);
    add_query(path, "at", at);
}

static void print_oncall_table(json_t *reply)
{
    static const char *const headers[] = {"SCHEDULE", "TEAM", "ONCALL", "FROM", "UNTIL", "NEXT"};
    struct table table;
    json_t *entry;
    size_t i;

    table_init(&table, 6, headers);
    json_array_foreach(json_object_get(reply, "oncall"), i, entry)
    {
        json_t *now = json_object_get(entry, "oncall"), *next = json_object_get(entry, "next");
        const char *row[] = {cli_json_str(entry, "schedule"),
                             cli_json_str(entry, "team"),
                             now != NULL ? cli_json_str(now, "user") : NULL,
                             now != NULL ? cli_json_str(now, "start") : NULL,
                             now != NULL ? cli_json_str(now, "end") : NULL,
                             next != NULL ? cli_json_str(next, "user") : NULL};
        if (!json_is_object(now)) /* nobody on call */
            row[2] = "(nobody)";
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_oncall(int argc, char **argv)
{
    static const struct option opts[] = {{"at", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct strbuf path = STRBUF_INIT;
    struct ob_error err = {0};
    const char *at = NULL, *name = NULL;
    json_t *reply = NULL;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "a:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            at = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("oncall", NULL), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("oncall", argv);
        }
    }
    if (optind < argc)
        name = argv[optind++];
    if (optind < argc)
        return cli_usage_error("oncall", "unexpected argument '%s'", argv[optind]);
    if (at != NULL && at[0] == '\0')
        return cli_usage_error("oncall", "--at needs a time");

    /* NAME is a team or a schedule: ask for the team first. */
    oncall_path(&path, "team", name, at);
    rc = client_call("GET", path.buf, NULL, &reply, &err);
    if (rc == OB_ENOTFOUND && name != NULL) {
        oncall_path(&path, "schedule", name, at);
        rc = client_call("GET", path.buf, NULL, &reply, &err);
        if (rc == OB_ENOTFOUND)
            ob_fail(&err, OB_ENOTFOUND, "no team or schedule named '%s'", name);
    }
    if (rc != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(json_object_get(reply, "oncall"));
    else
        print_oncall_table(reply);
    rc = EXIT_OK;
out:
    json_decref(reply);
    strbuf_release(&path);
    return rc;
}

/* ---- opsbell override ---------------------------------------------------------------- */

static void overrides_path(struct strbuf *path, const char *schedule)
{
    strbuf_adds(path, "/api/v1/schedules/");
    add_segment(path, schedule);
    strbuf_adds(path, "/overrides");
}

static void print_overrides(json_t *reply)
{
    static const struct column cols[] = {
        {"ID", "id", COLUMN_INTEGER},      {"USER", "user", COLUMN_TEXT},
        {"FROM", "from", COLUMN_TEXT},     {"UNTIL", "until", COLUMN_TEXT},
        {"BY", "created_by", COLUMN_TEXT}, {"REASON", "reason", COLUMN_TEXT},
    };

    print_objects(reply, "overrides", cols, sizeof(cols) / sizeof(cols[0]));
}

int cmd_override_add(int argc, char **argv)
{
    static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"until", required_argument, NULL, 't'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct strbuf path = STRBUF_INIT;
    struct ob_error err = {0};
    json_t *body = json_object(), *reply = NULL;
    const char *schedule = NULL;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "u:f:t:r:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            json_object_set_new(body, "user", json_string(optarg));
            break;
        case 'f':
            json_object_set_new(body, "from", json_string(optarg));
            break;
        case 't':
            json_object_set_new(body, "until", json_string(optarg));
            break;
        case 'r':
            json_object_set_new(body, "reason", json_string(optarg));
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("override", "add"), stdout);
            goto out;
        default:
            rc = cli_unknown_option("override add", argv);
            goto out;
        }
    }
    if (optind < argc)
        schedule = argv[optind++];
    if (optind < argc) {
        rc = cli_usage_error("override add", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (schedule == NULL) {
        rc = cli_usage_error("override add", "SCHEDULE is required");
        goto out;
    }
    if (json_object_get(body, "user") == NULL || json_object_get(body, "until") == NULL) {
        rc = cli_usage_error("override add", "--user and --until are required");
        goto out;
    }
    if (json_object_get(body, "from") == NULL)
        json_object_set_new(body, "from", json_string("now"));
    overrides_path(&path, schedule);
    if (client_call("POST", path.buf, body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json)
        cli_print_json(reply);
    else
        printf("override %lld: %s is on call for %s from %s until %s\n", int_of(reply, "id"),
               cli_json_str(reply, "user"), cli_json_str(reply, "schedule"),
               cli_json_str(reply, "from"), cli_json_str(reply, "until"));
out:
    json_decref(reply);
    json_decref(body);
    strbuf_release(&path);
    return rc;
}

int cmd_override_list(int argc, char **argv)
{
    struct strbuf path = STRBUF_INIT;
    const char *schedule = NULL;
    int json, rc = simple_args(argc, argv, "override", "list", "SCHEDULE", &json, &schedule);

    if (rc >= 0)
        return rc;
    overrides_path(&path, schedule);
    rc = get_and_print(path.buf, json, "overrides", print_overrides);
    strbuf_release(&path);
    return rc;
}

int cmd_override_delete(int argc, char **argv)
{
    static const struct delete_command cmd = {.group = "override",
                                              .name = "delete",
                                              .arg_name = "an override ID",
                                              .id_of = "override",
                                              .collection = "/api/v1/overrides",
                                              .noun = "override",
                                              .verb = "deleted"};

    return delete_by_id(argc, argv, &cmd);
}

/* ---- opsbell schedule ---------------------------------------------------------------- */

static void print_schedules(json_t *reply)
{
    static const struct column cols[] = {{"NAME", "name", COLUMN_TEXT},
                                         {"TEAM", "team", COLUMN_TEXT},
                                         {"TIME_ZONE", "time_zone", COLUMN_TEXT},
                                         {"LAYERS", "layers", COLUMN_INTEGER},
                                         {"DESCRIPTION", "description", COLUMN_TEXT}};

    print_objects(reply, "schedules", cols, sizeof(cols) / sizeof(cols[0]));
}

int cmd_schedule_list(int argc, char **argv)
{
    return list_by_team(argc, argv, "schedule", "/api/v1/schedules", "schedules", print_schedules);
}

static void join_strings(json_t *arr, struct strbuf *out)
{
    json_t *v;
    size_t i;

    json_array_foreach(arr, i, v)
    {
        strbuf_addf(out, "%s%s", i > 0 ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
    }
}

static void print_schedule(json_t *reply)
{
    static const char *const headers[] = {"FROM", "UNTIL", "ONCALL", "LAYER"};
    json_t *layer, *shift, *timeline = json_object_get(reply, "timeline");
    struct table table;
    size_t i;

    printf("schedule %s (team %s, time zone %s)\n", cli_json_str(reply, "name"),
           cli_json_str(reply, "team"), cli_json_str(reply, "time_zone"));
    if (cli_json_str(reply, "description") != NULL)
        printf("%s\n", cli_json_str(reply, "description"));
    printf("\nlayers (a later layer wins where it has somebody):\n");
    json_array_foreach(json_object_get(reply, "layers"), i, layer)
    {
        struct strbuf users = STRBUF_INIT, limits = STRBUF_INIT;
        json_t *r;
        size_t k;

        join_strings(json_object_get(layer, "users"), &users);
        json_array_foreach(json_object_get(layer, "restrictions"), k, r)
        {
            struct strbuf days = STRBUF_INIT;
            join_strings(json_object_get(r, "days"), &days);
            strbuf_addf(&limits, "%s%s %s-%s", k > 0 ? "; " : "", days.buf != NULL ? days.buf : "",
                        cli_json_str(r, "from"), cli_json_str(r, "to"));
            strbuf_release(&days);
        }
        printf("  %zu. %s: %s from %s, handoff %s %s\n     users: %s\n", i + 1,
               cli_json_str(layer, "name"), cli_json_str(layer, "rrule"),
               cli_json_str(layer, "start"), cli_json_str(layer, "handoff"),
               cli_json_str(layer, "time_zone"), users.buf != NULL ? users.buf : "-");
        if (limits.len > 0)
            printf("     only: %s\n", limits.buf);
        strbuf_release(&users);
        strbuf_release(&limits);
    }
    printf("\ntimeline %s .. %s (overrides applied):\n", cli_json_str(timeline, "from"),
           cli_json_str(timeline, "until"));
    table_init(&table, 4, headers);
    json_array_foreach(json_object_get(timeline, "shifts"), i, shift)
    {
        char origin[48];
        json_t *ovr = json_object_get(shift, "override_id");
        if (json_is_integer(ovr))
            snprintf(origin, sizeof(origin), "override %lld", (long long)json_integer_value(ovr));
        else
            snprintf(origin, sizeof(origin), "%s",
                     cli_json_str(shift, "layer") != NULL ? cli_json_str(shift, "layer") : "-");
        const char *row[] = {
            cli_json_str(shift, "start"), cli_json_str(shift, "end"),
            cli_json_str(shift, "user") != NULL ? cli_json_str(shift, "user") : "(nobody)", origin};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_schedule_show(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"until", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct strbuf path = STRBUF_INIT;
    const char *from = NULL, *until = NULL, *name = NULL;
    int json = 0, c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "f:t:jh", opts, NULL)) != -1) {
        if (c == 'f') {
            from = optarg;
        } else if (c == 't') {
            until = optarg;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'h') {
            cli_print_usage(cli_find("schedule", "show"), stdout);
            return EXIT_OK;
        } else {
            return cli_unknown_option("schedule show", argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("schedule show", "a schedule NAME is required");
    name = argv[optind++];
    if (optind < argc)
        return cli_usage_error("schedule show", "unexpected argument '%s'", argv[optind]);
    strbuf_adds(&path, "/api/v1/schedules/");
    add_segment(&path, name);
    add_query(&path, "from", from);
    add_query(&path, "until", until);
    rc = get_and_print(path.buf, json, NULL, print_schedule);
    strbuf_release(&path);
    return rc;
}

/* ---- opsbell policy ------------------------------------------------------------------ */

static void print_policies(json_t *reply)
{
    static const struct column cols[] = {{"NAME", "name", COLUMN_TEXT},
                                         {"TEAM", "team", COLUMN_TEXT},
                                         {"STEPS", "steps", COLUMN_COUNT},
                                         {"REPEAT", "repeat", COLUMN_INTEGER},
                                         {"DESCRIPTION", "description", COLUMN_TEXT}};

    print_objects(reply, "escalation_policies", cols, sizeof(cols) / sizeof(cols[0]));
}

int cmd_policy_list(int argc, char **argv)
{
    return list_by_team(argc, argv, "policy", "/api/v1/escalation-policies", "escalation_policies",
                        print_policies);
}

static void print_duration(long long secs, char *out, size_t cap)
{
    if (secs % 3600 == 0 && secs > 0)
        snprintf(out, cap, "%lldh", secs / 3600);
    else if (secs % 60 == 0)
        snprintf(out, cap, "%lldm", secs / 60);
    else
        snprintf(out, cap, "%llds", secs);
}

static void print_policy(json_t *reply)
{
    json_t *step;
    size_t i;

    printf("escalation policy %s (team %s), repeat %lld\n", cli_json_str(reply, "name"),
           cli_json_str(reply, "team"), int_of(reply, "repeat"));
    if (cli_json_str(reply, "description") != NULL)
        printf("%s\n", cli_json_str(reply, "description"));
    json_array_foreach(json_object_get(reply, "steps"), i, step)
    {
        struct strbuf users = STRBUF_INIT;
        char delay[32];
        json_t *oc;
        size_t k;

        print_duration(int_of(step, "delay_seconds"), delay, sizeof(delay));
        join_strings(json_object_get(step, "users"), &users);
        printf("\nstep %zu (then wait %s)\n", i + 1, delay);
        if (users.len > 0)
            printf("  users:    %s\n", users.buf);
        json_array_foreach(json_object_get(step, "oncall"), k, oc)
        {
            json_t *now = json_object_get(oc, "oncall");
            if (json_is_object(now))
                printf("  schedule: %s (on call now: %s until %s)\n", cli_json_str(oc, "schedule"),
                       cli_json_str(now, "user"), cli_json_str(now, "end"));
            else
                printf("  schedule: %s (nobody on call now)\n", cli_json_str(oc, "schedule"));
        }
        if (json_object_get(step, "oncall") == NULL) {
            struct strbuf scheds = STRBUF_INIT;
            join_strings(json_object_get(step, "schedules"), &scheds);
            if (scheds.len > 0)
                printf("  schedules: %s\n", scheds.buf);
            strbuf_release(&scheds);
        }
        strbuf_release(&users);
    }
}

int cmd_policy_show(int argc, char **argv)
{
    struct strbuf path = STRBUF_INIT;
    const char *name = NULL;
    int json, rc = simple_args(argc, argv, "policy", "show", "a policy NAME", &json, &name);

    if (rc >= 0)
        return rc;
    strbuf_adds(&path, "/api/v1/escalation-policies/");
    add_segment(&path, name);
    rc = get_and_print(path.buf, json, NULL, print_policy);
    strbuf_release(&path);
    return rc;
}

/* ---- opsbell ical -------------------------------------------------------------------- */

int cmd_ical_create(int argc, char **argv)
{
    static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
                                         {"schedule", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ob_error err = {0};
    json_t *body = json_object(), *reply = NULL;
    int json = 0, c, rc = EXIT_OK;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "u:s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            json_object_set_new(body, "user", json_string(optarg));
            break;
        case 's':
            json_object_set_new(body, "schedule", json_string(optarg));
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("ical", "create"), stdout);
            goto out;
        default:
            rc = cli_unknown_option("ical create", argv);
            goto out;
        }
    }
    if (optind < argc) {
        rc = cli_usage_error("ical create", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (json_object_size(body) != 1) {
        rc = cli_usage_error("ical create", "give exactly one of --user USER or --schedule NAME");
        goto out;
    }
    if (client_call("POST", "/api/v1/ical-feeds", body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    if (json) {
        cli_print_json(reply);
    } else {
        /* The URL is the secret: shown once, on stdout, alone on its line. */
        fprintf(stderr, "iCal feed %lld of %s %s (the URL is shown once; keep it secret):\n",
                int_of(reply, "id"), cli_json_str(reply, "kind"), cli_json_str(reply, "subject"));
        printf("%s\n", cli_json_str(reply, "url"));
    }
out:
    json_decref(reply);
    json_decref(body);
    return rc;
}

static void print_feeds(json_t *reply)
{
    static const struct column cols[] = {
        {"ID", "id", COLUMN_INTEGER},           {"KIND", "kind", COLUMN_TEXT},
        {"SUBJECT", "subject", COLUMN_TEXT},    {"STATE", "state", COLUMN_TEXT},
        {"CREATED", "created_at", COLUMN_TEXT}, {"BY", "created_by", COLUMN_TEXT},
    };

    print_objects(reply, "ical_feeds", cols, sizeof(cols) / sizeof(cols[0]));
}

int cmd_ical_list(int argc, char **argv)
{
    const char *unused = NULL;
    int json, rc = simple_args(argc, argv, "ical", "list", NULL, &json, &unused);

    if (rc >= 0)
        return rc;
    return get_and_print("/api/v1/ical-feeds", json, "ical_feeds", print_feeds);
}

int cmd_ical_revoke(int argc, char **argv)
{
    static const struct delete_command cmd = {.group = "ical",
                                              .name = "revoke",
                                              .arg_name = "a feed ID",
                                              .id_of = "feed",
                                              .collection = "/api/v1/ical-feeds",
                                              .noun = "iCal feed",
                                              .verb = "revoked"};

    return delete_by_id(argc, argv, &cmd);
}
