/*
 * test_config.c - unit tests of src/config/: the example configuration loads
 * cleanly; each bad input in tests/unit/fixtures/config/<case>/ is refused
 * with exactly the expected "FILE:LINE:COL: message" lines and no config;
 * libcyaml's schema errors land on the right node; durations, caps and the
 * reference count behave; routing (match, dedup_labels, auto_resolve,
 * fallback_service) and heartbeats load into the model, and the look-ups by
 * key find exactly the right object.
 *
 * Run from the repository root (fixture paths are relative to it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/error.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURES "tests/unit/fixtures/config"
/* matcher_parse()'s reasons (src/ingest/matcher.c) for the bad matchers of
 * fixture bad_matcher; config adds only "<what> '<name>' has an invalid
 * matcher: " and the position of the list entry. */
#define MSG_BAD_REGEX                                                                              \
    "invalid regular expression for label \"env\" at position 6: Unmatched ( or \\("
#define MSG_BAD_OP                                                                                 \
    "expected an operator (=, !=, =~ or !~) after label \"severity\" at position 9: "              \
    "\"!!\"info\"\""
#define MSG_BAD_NAME                                                                               \
    "invalid label name at position 1: \"1abc=\"x\"\" (names are [a-zA-Z_][a-zA-Z0-9_]*)"
#define EXAMPLE "examples/opsbell.yaml"

/* ---- helpers ---- */

/* "FILE:LINE:COL: message" of one entry, as config_diags_print writes it. */
static void diag_line(const struct config_diag *d, char *buf, size_t cap)
{
    if (d->line == 0)
        snprintf(buf, cap, "%s:1:1: %s", d->file, d->message);
    else
        snprintf(buf, cap, "%s:%u:%u: %s", d->file, d->line, d->col, d->message);
}

static void dump_diags(const struct config_diags *d)
{
    char line[1024];

    for (size_t i = 0; i < d->count; i++) {
        diag_line(&d->items[i], line, sizeof(line));
        print_message("  got: %s\n", line);
    }
}

/* Replace every "@/" in pattern by prefix (the fixture directory). */
static void expand(const char *pattern, const char *prefix, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (const char *p = pattern; *p != '\0' && len + 1 < cap; p++) {
        if (p[0] == '@' && p[1] == '/') {
            int n = snprintf(out + len, cap - len, "%s/", prefix);
            len += n > 0 ? (size_t)n : 0;
            p++;
        } else {
            out[len++] = *p;
            out[len] = '\0';
        }
    }
}

static void assert_diags(const struct config_diags *d, size_t from, const char *prefix,
                         const char *const *expected, size_t n)
{
    char want[1024], got[1024];

    if (d->count - from != n)
        dump_diags(d);
    assert_int_equal(d->count - from, n);
    for (size_t i = 0; i < n; i++) {
        expand(expected[i], prefix, want, sizeof(want));
        diag_line(&d->items[from + i], got, sizeof(got));
        if (strcmp(want, got) != 0)
            print_message("want: %s\n got: %s\n", want, got);
        assert_string_equal(got, want);
    }
}

/* Load fixture `name`; it must fail with exactly the expected lines. */
static void expect_load_fails(const char *name, const char *const *expected, size_t n)
{
    char dir[256], path[300];
    struct config_diags d = {0};
    struct config *cfg = (struct config *)&d; /* must be reset to NULL */
    int rc;

    snprintf(dir, sizeof(dir), "%s/%s", FIXTURES, name);
    snprintf(path, sizeof(path), "%s/opsbell.yaml", dir);
    rc = config_load(path, &cfg, &d);
    assert_int_equal(rc, OB_EINVAL);
    assert_null(cfg);
    assert_diags(&d, 0, dir, expected, n);
    config_diags_release(&d);
}

#define EXPECT_LOAD_FAILS(name, ...)                                                               \
    do {                                                                                           \
        static const char *const lines_[] = {__VA_ARGS__};                                         \
        expect_load_fails(name, lines_, sizeof(lines_) / sizeof(lines_[0]));                       \
    } while (0)

/* Check one in-memory document; it must fail with exactly the expected lines. */
static void expect_buffer_fails(enum config_doc_kind kind, const char *yaml,
                                const char *const *expected, size_t n)
{
    struct config_diags d = {0};
    int rc = config_check_buffer(kind, "doc.yaml", "ops", yaml, strlen(yaml), &d);

    assert_int_equal(rc, OB_EINVAL);
    assert_diags(&d, 0, "", expected, n);
    config_diags_release(&d);
}

#define EXPECT_BUFFER_FAILS(kind, yaml, ...)                                                       \
    do {                                                                                           \
        static const char *const lines_[] = {__VA_ARGS__};                                         \
        expect_buffer_fails(kind, yaml, lines_, sizeof(lines_) / sizeof(lines_[0]));               \
    } while (0)

static int diags_mention(const struct config_diags *d, const char *needle)
{
    for (size_t i = 0; i < d->count; i++) {
        if (strstr(d->items[i].message, needle) != NULL || strstr(d->items[i].file, needle))
            return 1;
    }
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;

    assert_non_null(fp);
    buf = malloc(1024 * 1024);
    assert_non_null(buf);
    *len = fread(buf, 1, 1024 * 1024 - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* ---- the example configuration ---- */

static void test_example_loads(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_user *ann, *bob;
    const struct config_service *svc;
    const struct config_escalation_policy *pol;
    const struct config_team *team;
    const char *suffix = "/examples/data/opsbell.db";
    size_t len;

    (void)state;
    assert_int_equal(config_load(EXAMPLE, &cfg, &d), 0);
    if (d.count != 0)
        dump_diags(&d);
    assert_int_equal(d.count, 0);
    assert_non_null(cfg);

    assert_string_equal(cfg->path, EXAMPLE);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8080);
    /* sqlite path made absolute from the main file's directory */
    len = strlen(cfg->storage_url);
    assert_true(strncmp(cfg->storage_url, "sqlite:/", 8) == 0);
    assert_true(len > strlen(suffix));
    assert_string_equal(cfg->storage_url + len - strlen(suffix), suffix);
    assert_true(cfg->base_dir[0] == '/');
    assert_null(cfg->public_url);
    assert_int_equal(cfg->max_body_bytes, 1048576);
    assert_int_equal(cfg->http_threads, 4);
    assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
    assert_false(cfg->providers.slack.enabled);
    assert_false(cfg->providers.twilio.enabled);
    assert_false(cfg->providers.smtp.enabled);
    assert_false(cfg->providers.sip.enabled);

    assert_int_equal(cfg->user_count, 4);
    ann = config_find_user(cfg, "ann");
    assert_non_null(ann);
    assert_string_equal(ann->nickname, "Ann");
    assert_string_equal(ann->time_zone, "Europe/Berlin");
    assert_ptr_equal(config_find_user_by_nickname(cfg, "ann"), ann);
    assert_ptr_equal(config_find_user_by_nickname(cfg, "ANN"), ann);
    assert_int_equal(ann->chat_id_count, 1);
    assert_string_equal(ann->chat_ids[0].provider, "slack");
    assert_string_equal(ann->chat_ids[0].id, "U024BE7LH");
    assert_int_equal(ann->contact_method_count, 3);
    assert_int_equal(ann->contact_methods[1].type, CONTACT_VOICE);
    assert_string_equal(ann->contact_methods[1].address, "+4930901820");
    bob = config_find_user(cfg, "bob");
    assert_non_null(bob);
    assert_string_equal(bob->nickname, "bob"); /* defaults to name */
    assert_int_equal(bob->contact_methods[1].type, CONTACT_SIP);
    assert_null(config_find_user(cfg, "nobody"));
    assert_null(config_find_user(cfg, NULL));

    assert_int_equal(cfg->team_count, 2);
    assert_string_equal(cfg->teams[0].name, "payments"); /* sorted */
    assert_string_equal(cfg->teams[1].name, "platform");
    team = config_find_team(cfg, "platform");
    assert_ptr_equal(team, &cfg->teams[1]);
    assert_int_equal(team->member_count, 3);
    assert_string_equal(team->chat_channel, "#platform");
    assert_int_equal(team->service_count, 3);
    assert_int_equal(team->policy_count, 2);

    svc = config_find_service(cfg, "kubernetes");
    assert_non_null(svc);
    assert_ptr_equal(svc->team, team);
    assert_string_equal(svc->integration_key, "pl-k8s-5f2c9a71d3e04b88");
    pol = config_find_policy(cfg, "platform-default");
    assert_non_null(pol);
    assert_ptr_equal(svc->policy, pol);
    assert_ptr_equal(pol->team, team);
    assert_int_equal(pol->repeat, 2);
    assert_int_equal(pol->step_count, 2);
    assert_int_equal(pol->steps[0].delay_seconds, 300);
    assert_int_equal(pol->steps[1].delay_seconds, 600);
    assert_int_equal(pol->steps[1].user_count, 2);
    assert_string_equal(pol->steps[1].users[0], "bob");
    assert_int_equal(pol->steps[1].schedule_count, 0);
    assert_null(config_find_service(cfg, "edge")->integration_key);
    assert_string_equal(config_find_service(cfg, "billing-jobs")->policy->name,
                        "payments-business-hours");
    assert_null(config_find_policy(cfg, "nope"));
    assert_null(config_find_team(cfg, "nope"));

    /* routing and heartbeats of the example */
    assert_int_equal(team->match.count, 1);
    assert_string_equal(team->match.items[0].name, "team");
    assert_ptr_equal(team->fallback_service, config_find_service(cfg, "edge"));
    assert_int_equal(svc->match.count, 2);
    assert_int_equal(svc->match.items[0].op, MATCH_REGEX);
    assert_string_equal(svc->match.items[0].value, "Kube.*");
    assert_int_equal(svc->dedup_label_count, 3);
    assert_string_equal(svc->dedup_labels[2], "namespace");
    assert_true(svc->auto_resolve);
    assert_false(config_find_service(cfg, "postgres")->auto_resolve);
    assert_int_equal(config_find_service(cfg, "edge")->match.count, 0);
    assert_int_equal(cfg->teams[0].heartbeat_count, 1);
    assert_string_equal(cfg->teams[0].heartbeats[0].name, "nightly-invoicing");
    assert_int_equal(cfg->teams[0].heartbeats[0].interval_seconds, 86400);
    assert_int_equal(cfg->teams[0].heartbeats[0].grace_seconds, 3600);
    assert_ptr_equal(config_find_heartbeat_by_key(cfg, "hb-invoicing-3e7a91c4d05b"),
                     &cfg->teams[0].heartbeats[0]);
    assert_ptr_equal(config_find_service_by_key(cfg, "pl-k8s-5f2c9a71d3e04b88"), svc);

    config_unref(cfg);
    config_diags_release(&d);
}

/* Every example file also passes config_check_buffer on its own. */
static void test_example_files_check(void **state)
{
    static const struct {
        enum config_doc_kind kind;
        const char *path;
        const char *team;
    } files[] = {
        {CONFIG_DOC_MAIN, "examples/opsbell.yaml", NULL},
        {CONFIG_DOC_USERS, "examples/users.yaml", NULL},
        {CONFIG_DOC_TEAM, "examples/teams/platform/team.yaml", "platform"},
        {CONFIG_DOC_TEAM, "examples/teams/platform/services.yaml", "platform"},
        {CONFIG_DOC_TEAM, "examples/teams/platform/escalation.yaml", "platform"},
        {CONFIG_DOC_TEAM, "examples/teams/platform/schedules.yaml", "platform"},
        {CONFIG_DOC_TEAM, "examples/teams/platform/hosts.yaml", "platform"},
        {CONFIG_DOC_TEAM, "examples/teams/payments/payments.yaml", "payments"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct config_diags d = {0};
        size_t len;
        char *data = read_all(files[i].path, &len);
        int rc = config_check_buffer(files[i].kind, files[i].path, files[i].team, data, len, &d);
        if (rc != 0)
            dump_diags(&d);
        assert_int_equal(rc, 0);
        assert_int_equal(d.count, 0);
        free(data);
        config_diags_release(&d);
    }
}

/* ---- schedules and notification rules ---- */

static void test_schedules_load(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_schedule *s;
    const struct config_schedule_layer *l;
    const struct config_escalation_policy *p;
    const struct config_user *u;
    char want[PATH_MAX + 64], cwd[PATH_MAX];

    (void)state;
    assert_int_equal(config_load(FIXTURES "/schedules_ok/opsbell.yaml", &cfg, &d), 0);
    assert_int_equal(d.count, 0);
    assert_int_equal(cfg->ical_horizon_seconds, 60 * 86400);
    assert_int_equal(cfg->engine_poll_ms, 250);
    assert_true(cfg->providers.log.enabled);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/%s/schedules_ok/out/deliveries.jsonl", cwd, FIXTURES);
    assert_string_equal(cfg->providers.log.path, want);
    assert_int_equal(cfg->default_notification_rule_count, 2);

    s = config_find_schedule(cfg, "payments-primary");
    assert_non_null(s);
    assert_null(config_find_schedule(cfg, "nope"));
    assert_string_equal(s->team->name, "payments");
    assert_string_equal(s->description, "Payments on call");
    assert_string_equal(s->time_zone, "Europe/Berlin");
    assert_int_equal(s->layer_count, 2);
    l = &s->layers[0];
    assert_string_equal(l->name, "weekly");
    assert_string_equal(l->time_zone, "Europe/Berlin"); /* the schedule's */
    assert_int_equal(l->handoff_seconds, 9 * 3600);
    assert_int_equal(l->user_count, 2);
    assert_non_null(l->rotation);
    assert_int_equal(l->restriction_count, 0);
    l = &s->layers[1];
    assert_string_equal(l->time_zone, "America/New_York");
    assert_int_equal(l->restriction_count, 2);
    assert_int_equal(l->restrictions[0].days, 0x1f);
    assert_int_equal(l->restrictions[0].from_seconds, 9 * 3600);
    assert_int_equal(l->restrictions[0].to_seconds, 17 * 3600);
    assert_int_equal(l->restrictions[1].days, 0x7f); /* no days: every day */
    assert_int_equal(l->restrictions[1].to_seconds, 2 * 3600);
    s = config_find_schedule(cfg, "platform-primary");
    assert_non_null(s);
    assert_string_equal(s->time_zone, "UTC");
    assert_int_equal(s->layers[0].handoff_seconds, 0);

    p = config_find_policy(cfg, "payments-default");
    assert_non_null(p);
    assert_int_equal(p->steps[0].schedule_count, 2);
    assert_ptr_equal(p->steps[0].schedule_refs[0], config_find_schedule(cfg, "payments-primary"));
    assert_ptr_equal(p->steps[0].schedule_refs[1], config_find_schedule(cfg, "platform-primary"));
    assert_int_equal(p->steps[1].user_count, 1);
    assert_ptr_equal(p->steps[1].user_refs[0], config_find_user(cfg, "bob"));

    /* ann's own rules; bob gets the defaults he can use (slack, not voice);
     * carol has no contact method, so no rule. */
    u = config_find_user(cfg, "ann");
    assert_int_equal(u->notification_rule_count, 2);
    assert_int_equal(u->notification_rules[0].type, CONTACT_EMAIL);
    assert_int_equal(u->notification_rules[1].type, CONTACT_VOICE);
    assert_int_equal(u->notification_rules[1].after_seconds, 300);
    u = config_find_user(cfg, "bob");
    assert_int_equal(u->notification_rule_count, 1);
    assert_int_equal(u->notification_rules[0].type, CONTACT_SLACK);
    u = config_find_user(cfg, "carol");
    assert_int_equal(u->notification_rule_count, 0);
    config_unref(cfg);
    config_diags_release(&d);
}

static void test_default_rules_and_settings(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_user *u;

    (void)state;
    /* No notification_rules, ical or engine in opsbell.yaml: built-in defaults. */
    assert_int_equal(config_load(FIXTURES "/routing_ok/opsbell.yaml", &cfg, &d), 0);
    assert_int_equal(cfg->ical_horizon_seconds, 30 * 86400);
    assert_int_equal(cfg->engine_poll_ms, 1000);
    assert_false(cfg->providers.log.enabled);
    for (unsigned i = 0; i < cfg->user_count; i++) {
        u = &cfg->users[i];
        for (unsigned k = 0; k < u->notification_rule_count; k++) {
            enum contact_type t = u->notification_rules[k].type;
            uint32_t want = (t == CONTACT_SMS || t == CONTACT_VOICE || t == CONTACT_SIP) ? 60 : 0;
            assert_int_equal(u->notification_rules[k].after_seconds, want);
        }
    }
    config_unref(cfg);
    config_diags_release(&d);
}

static void test_bad_schedules(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "bad_schedules",
        "@/opsbell.yaml:4:12: default notification rule 1 has type 'pager' (expected one of "
        "voice, sms, sip, email, slack, webhook)",
        "@/opsbell.yaml:5:24: default notification rule 2 has after '2d' outside 0s to 1d",
        "@/opsbell.yaml:7:12: ical horizon '2y' is not a duration from 1d to 366d (e.g. 30d)",
        "@/opsbell.yaml:9:18: engine poll_interval '10ms' is not a duration from 100ms to 60s "
        "(e.g. 500ms or 1s)",
        "@/users.yaml:6:16: user 'ann' notification rule 1 is for voice but the user has no "
        "voice contact method",
        "@/users.yaml:7:30: user 'ann' notification rule 2 has after 'soon' that is not a "
        "duration (use e.g. 0m, 90s or 5m)",
        "@/teams/payments/team.yaml:3:16: schedule 'primary' has unknown time zone "
        "'Mars/Olympus_Mons' (use an IANA name such as Europe/Berlin)",
        "@/teams/payments/team.yaml:8:22: schedule 'primary' layer 'weekly' names unknown user "
        "'zed'",
        "@/teams/payments/team.yaml:9:15: duplicate layer name 'weekly' in schedule 'primary' "
        "(first defined at @/teams/payments/team.yaml:5:15)",
        "@/teams/payments/team.yaml:10:16: schedule 'primary' layer 'weekly' has invalid start "
        "'2026-13-01' (use the date of the first handoff, YYYY-MM-DD)",
        "@/teams/payments/team.yaml:11:18: schedule 'primary' layer 'weekly' has invalid handoff "
        "'25:00' (use a local time HH:MM)",
        "@/teams/payments/team.yaml:13:20: schedule 'primary' layer 'weekly' has unknown time "
        "zone 'Europe/Nowhere' (use an IANA name such as Europe/Berlin)",
        "@/teams/payments/team.yaml:14:16: schedule 'primary' layer 'weekly' has an empty "
        "rotation (list at least one user)",
        "@/teams/payments/team.yaml:19:16: schedule 'secondary' layer 'odd' has an invalid "
        "rrule: libical cannot parse RRULE 'FREQ=FORTNIGHTLY' (MALFORMEDDATA: An input string "
        "was not correctly formed or a component has missing or extra properties)",
        "@/teams/payments/team.yaml:23:16: schedule 'secondary' layer 'fine' has an invalid "
        "rrule: RRULE 'FREQ=MINUTELY' is finer than hourly (use HOURLY or coarser)",
        "@/teams/payments/team.yaml:26:25: schedule 'secondary' layer 'fine' restriction 1 has "
        "unknown day 'funday' (expected mon, tue, wed, thu, fri, sat or sun)",
        "@/teams/payments/team.yaml:27:19: schedule 'secondary' layer 'fine' restriction 1 has "
        "invalid from '9am' (use a local time HH:MM)",
        "@/teams/payments/team.yaml:29:5: schedule 'empty' has no layers",
        "@/teams/payments/team.yaml:35:32: escalation policy 'payments-default' step 1 names "
        "unknown schedule 'no-such-schedule'",
        "@/teams/platform/team.yaml:2:11: duplicate schedule name 'primary' (first defined at "
        "@/teams/payments/team.yaml:2:11)");
}

static void test_check_buffer_schedules(void **state)
{
    (void)state;
    /* A single team file: the schedule's own checks, no references. */
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "schedules:\n"
                        "  - name: s\n"
                        "    layers:\n"
                        "      - name: l\n"
                        "        start: \"2026-01-05\"\n"
                        "        handoff: \"9:7\"\n"
                        "        rrule: FREQ=WEEKLY\n"
                        "        users: [ann]\n"
                        "        restrictions:\n"
                        "          - {from: \"09:00\", to: \"24:00\"}\n",
                        "doc.yaml:6:18: schedule 's' layer 'l' has invalid handoff '9:7' (use a "
                        "local time HH:MM)",
                        "doc.yaml:10:33: schedule 's' layer 'l' restriction 1 has invalid to "
                        "'24:00' (use a local time HH:MM)");
}

/* ---- bad inputs, one fixture each ---- */

static void test_malformed_yaml(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("malformed_yaml",
                      "@/users.yaml:5:3: invalid YAML: did not find expected ',' or ']' (while "
                      "parsing a flow sequence that starts at line 3, column 22)");
}

static void test_unknown_key(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("unknown_key",
                      "@/teams/platform/services.yaml:4:5: unknown key 'escalation' (expected one "
                      "of: name, team, description, escalation_policy, integration_key, match, "
                      "dedup_labels, auto_resolve)");
}

static void test_wrong_type(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("wrong_type",
                      "@/teams/platform/team.yaml:3:12: 'members' must be a list, not a single "
                      "value");
}

static void test_duplicate_names(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "duplicate_names",
        "@/users.yaml:4:11: duplicate user name 'ann' (first defined at @/users.yaml:2:11)",
        "@/teams/alpha/team.yaml:2:1: team 'alpha' is described twice; keep one team: section "
        "(the other is at @/teams/alpha/alpha.yaml:1:1)",
        "@/teams/beta/beta.yaml:2:11: duplicate service name 'api' (first defined at "
        "@/teams/alpha/alpha.yaml:4:11)",
        "@/teams/beta/beta.yaml:6:22: service 'worker' has the same integration_key as service "
        "'api' at @/teams/alpha/alpha.yaml:6:22",
        "@/teams/beta/beta.yaml:13:11: duplicate escalation policy name 'alpha-default' (first "
        "defined at @/teams/alpha/alpha.yaml:8:11)");
}

static void test_cross_team_definition(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("cross_team", "@/teams/a/a.yaml:4:11: service 'x' declares team 'b' but "
                                    "@/teams/a/ may define only team 'a' objects");
}

static void test_dangling_policy(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("dangling_policy",
                      "@/teams/a/services.yaml:3:24: service 'web' names unknown escalation "
                      "policy 'no-such-policy'",
                      "@/teams/a/services.yaml:5:24: service 'db' names escalation policy "
                      "'b-default' of team 'b'; a service may use only policies of its own team "
                      "'a'");
}

static void test_dangling_user(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "dangling_user",
        "@/teams/ops/ops.yaml:2:18: team 'ops' lists unknown user 'zed' as a member",
        "@/teams/ops/ops.yaml:8:24: escalation policy 'ops-default' step 1 names unknown user "
        "'yan'");
}

static void test_inline_secret(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    setenv("OPSBELL_TEST_SIGNING_SECRET", "s3cr3t", 1);
    EXPECT_LOAD_FAILS("inline_secret", "@/opsbell.yaml:5:16: slack bot_token must be a "
                                       "reference env:NAME or file:PATH, not an inline secret");
    /* The inline value itself must appear nowhere. */
    assert_int_equal(config_load(FIXTURES "/inline_secret/opsbell.yaml", &cfg, &d), OB_EINVAL);
    assert_false(diags_mention(&d, "xoxb-not-a-reference"));
    config_diags_release(&d);
    unsetenv("OPSBELL_TEST_SIGNING_SECRET");
}

static void test_missing_env_secret(void **state)
{
    (void)state;
    unsetenv("OPSBELL_TEST_SURELY_UNSET");
    EXPECT_LOAD_FAILS("missing_env_secret",
                      "@/opsbell.yaml:6:17: cannot resolve twilio auth_token: environment "
                      "variable OPSBELL_TEST_SURELY_UNSET (from env:OPSBELL_TEST_SURELY_UNSET) is "
                      "not set");
}

static void test_bad_time_zone(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_time_zone",
                      "@/users.yaml:3:16: user 'ann' has unknown time zone 'Mars/Olympus_Mons' "
                      "(use an IANA name such as Europe/Berlin)",
                      "@/users.yaml:5:16: user 'bob' has unknown time zone '../../../etc/passwd' "
                      "(use an IANA name such as Europe/Berlin)");
}

static void test_bad_e164(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_e164",
                      "@/users.yaml:5:18: user 'ann' has voice address '030 1234567' that is not "
                      "an E.164 number (+ and 8 to 15 digits, e.g. +4930123456)",
                      "@/users.yaml:7:18: user 'ann' has sms address '+49' that is not an E.164 "
                      "number (+ and 8 to 15 digits, e.g. +4930123456)");
}

static void test_bad_duration(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_duration",
                      "@/teams/ops/ops.yaml:4:16: escalation policy 'ops-default' step 1 has "
                      "invalid delay '5 minutes' (use a duration such as 90s, 5m or 1h30m)",
                      "@/teams/ops/ops.yaml:7:16: escalation policy 'ops-default' step 2 has "
                      "invalid delay '30m1h' (use a duration such as 90s, 5m or 1h30m)");
}

static void test_bad_listen(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_listen", "@/opsbell.yaml:1:9: invalid listen address 'localhost:http' "
                                    "(expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080)");
}

static void test_bad_storage(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    EXPECT_LOAD_FAILS("bad_storage", "@/opsbell.yaml:2:10: unsupported storage scheme 'mysql' "
                                     "(use sqlite:PATH or postgres://...)");
    /* A database URL can carry a password: it is never echoed. */
    assert_int_equal(config_load(FIXTURES "/bad_storage/opsbell.yaml", &cfg, &d), OB_EINVAL);
    assert_false(diags_mention(&d, "hunter2"));
    config_diags_release(&d);
}

static void test_missing_users_file(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("missing_users_file",
                      "@/opsbell.yaml:3:13: @/people.yaml: cannot read: No such file or directory");
}

static void test_stray_team_files(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "stray_team_file",
        "@/teams/services.yaml:1:1: team files belong in @/teams/<team>/; this file is "
        "not part of any team",
        "@/teams/Bad Name:1:1: team directory name 'Bad Name' is not a valid team name "
        "(use 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)");
}

/* ---- routing and heartbeats: bad inputs ---- */

static void test_bad_matcher(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "bad_matcher",
        "@/teams/ops/ops.yaml:4:7: team 'ops' has an invalid matcher: " MSG_BAD_REGEX,
        "@/teams/ops/ops.yaml:10:9: service 'api' has an invalid matcher: " MSG_BAD_OP,
        "@/teams/ops/ops.yaml:11:9: service 'api' has an invalid matcher: " MSG_BAD_NAME);
}

static void test_bad_dedup_label(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_dedup_label",
                      "@/teams/ops/ops.yaml:4:41: service 'api' has invalid dedup label 'my-label' "
                      "(use a label name: a letter or '_', then letters, digits or '_', at most "
                      "128)",
                      "@/teams/ops/ops.yaml:4:53: service 'api' lists dedup label 'alertname' "
                      "twice (first at @/teams/ops/ops.yaml:4:20)",
                      "@/teams/ops/ops.yaml:4:64: service 'api' has invalid dedup label '9lives' "
                      "(use a label name: a letter or '_', then letters, digits or '_', at most "
                      "128)");
}

static void test_bad_auto_resolve(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "bad_auto_resolve",
        "@/teams/ops/ops.yaml:4:19: service 'api' has auto_resolve 'yes' (expected true or false)",
        "@/teams/ops/ops.yaml:7:19: service 'web' has auto_resolve 'False' (expected true or "
        "false)");
}

static void test_fallback_dangling(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("fallback_dangling", "@/teams/ops/team.yaml:3:21: team 'ops' names unknown "
                                           "fallback_service 'no-such-service'");
}

static void test_fallback_other_team(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("fallback_other_team",
                      "@/teams/a/a.yaml:2:21: team 'a' names fallback_service 'b-web' of team "
                      "'b'; a team's fallback_service must be a service of its own team 'a'");
}

static void test_heartbeat_dangling_service(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("heartbeat_dangling_service",
                      "@/teams/a/a.yaml:6:14: heartbeat 'a-backup' names unknown service "
                      "'no-such-service'",
                      "@/teams/a/a.yaml:10:14: heartbeat 'a-cron' names service 'b-web' of team "
                      "'b'; a heartbeat may use only services of its own team 'a'");
}

static void test_duplicate_heartbeat(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("duplicate_heartbeat",
                      "@/teams/b/b.yaml:5:11: duplicate heartbeat name 'nightly' (first defined "
                      "at @/teams/a/a.yaml:5:11)");
}

static void test_duplicate_heartbeat_key(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    EXPECT_LOAD_FAILS("duplicate_heartbeat_key",
                      "@/teams/b/b.yaml:8:10: heartbeat 'b-nightly' has the same key as heartbeat "
                      "'a-nightly' at @/teams/a/a.yaml:8:10");
    /* A key is a credential: never in a message. */
    assert_int_equal(config_load(FIXTURES "/duplicate_heartbeat_key/opsbell.yaml", &cfg, &d),
                     OB_EINVAL);
    assert_false(diags_mention(&d, "hb-shared-key-0001"));
    config_diags_release(&d);
}

static void test_heartbeat_key_is_integration_key(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    EXPECT_LOAD_FAILS("heartbeat_key_is_integration_key",
                      "@/teams/b/b.yaml:8:10: heartbeat 'b-nightly' has the same key as the "
                      "integration_key of service 'a-web' at @/teams/a/a.yaml:4:22");
    assert_int_equal(
        config_load(FIXTURES "/heartbeat_key_is_integration_key/opsbell.yaml", &cfg, &d),
        OB_EINVAL);
    assert_false(diags_mention(&d, "a-web-key-7f3e9c21"));
    config_diags_release(&d);
}

static void test_bad_heartbeat_interval(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "bad_heartbeat_interval",
        "@/teams/ops/ops.yaml:7:15: heartbeat 'too-often' has interval '5s' outside 10s to 30d",
        "@/teams/ops/ops.yaml:11:15: heartbeat 'too-rare' has interval '31d' outside 10s to 30d",
        "@/teams/ops/ops.yaml:15:15: heartbeat 'garbled' has invalid interval 'every hour' (use a "
        "duration such as 90s, 5m or 1h30m)",
        "@/teams/ops/ops.yaml:20:12: heartbeat 'long-grace' has grace '1d1s' outside 0s to 1d");
}

static void test_bad_heartbeat_severity(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS("bad_heartbeat_severity",
                      "@/teams/ops/ops.yaml:9:15: heartbeat 'backup' has severity 'urgent' "
                      "(expected one of critical, error, warning, info)");
}

/* ---- routing and heartbeats: a valid tree ---- */

static void test_routing_loads(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_team *pay, *pl;
    const struct config_service *checkout, *catchall, *k8s;
    const struct config_heartbeat *hb, *queue, *backup;
    char buf[256];

    (void)state;
    assert_int_equal(config_load(FIXTURES "/routing_ok/opsbell.yaml", &cfg, &d), 0);
    if (d.count != 0)
        dump_diags(&d);
    assert_int_equal(d.count, 0);
    pay = config_find_team(cfg, "payments");
    pl = config_find_team(cfg, "platform");
    assert_non_null(pay);
    assert_non_null(pl);

    /* the team: match and fallback */
    assert_int_equal(pay->match.count, 2);
    assert_string_equal(pay->match.items[0].name, "team");
    assert_int_equal(pay->match.items[0].op, MATCH_EQUAL);
    assert_string_equal(pay->match.items[0].value, "payments");
    assert_string_equal(pay->match.items[1].name, "env");
    assert_int_equal(pay->match.items[1].op, MATCH_REGEX);
    assert_string_equal(pay->match.items[1].value, "prod|staging");
    assert_true(pay->match.items[1].has_re);
    assert_string_equal(pay->fallback_service_name, "payments-catchall");
    catchall = config_find_service(cfg, "payments-catchall");
    assert_ptr_equal(pay->fallback_service, catchall);
    assert_ptr_equal(catchall->team, pay);
    assert_int_equal(pl->match.count, 0);
    assert_null(pl->match.items);
    assert_null(pl->fallback_service_name);
    assert_null(pl->fallback_service);

    /* services */
    checkout = config_find_service(cfg, "checkout");
    assert_non_null(checkout);
    assert_int_equal(checkout->match.count, 2);
    assert_string_equal(checkout->match.items[0].name, "alertname");
    assert_int_equal(checkout->match.items[0].op, MATCH_REGEX);
    assert_string_equal(checkout->match.items[0].value, "Checkout.*");
    assert_string_equal(checkout->match.items[1].name, "severity");
    assert_int_equal(checkout->match.items[1].op, MATCH_NOT_EQUAL);
    assert_string_equal(checkout->match.items[1].value, "info");
    matcher_format(&checkout->match.items[1], buf, sizeof(buf));
    assert_string_equal(buf, "severity!=\"info\"");
    assert_int_equal(checkout->dedup_label_count, 2);
    assert_string_equal(checkout->dedup_labels[0], "alertname");
    assert_string_equal(checkout->dedup_labels[1], "instance");
    assert_false(checkout->auto_resolve);
    /* defaults */
    assert_int_equal(catchall->match.count, 0);
    assert_int_equal(catchall->dedup_label_count, 0);
    assert_null(catchall->dedup_labels);
    assert_true(catchall->auto_resolve);
    assert_null(catchall->integration_key);

    /* heartbeats */
    assert_int_equal(pay->heartbeat_count, 2);
    hb = &pay->heartbeats[0];
    assert_string_equal(hb->name, "nightly-settlement");
    assert_ptr_equal(hb->team, pay);
    assert_string_equal(hb->service_name, "checkout");
    assert_ptr_equal(hb->service, checkout);
    assert_int_equal(hb->interval_seconds, 86400);
    assert_int_equal(hb->grace_seconds, 1800);
    assert_string_equal(hb->key, "hb-settlement-9a8b7c6d");
    assert_string_equal(hb->summary, "The nightly settlement job did not report");
    assert_string_equal(hb->severity, "warning"); /* "Warning" in the file */
    queue = &pay->heartbeats[1];
    assert_string_equal(queue->name, "queue-worker");
    assert_ptr_equal(queue->service, catchall);
    assert_int_equal(queue->interval_seconds, 90);
    assert_int_equal(queue->grace_seconds, 0);
    assert_string_equal(queue->summary, "heartbeat 'queue-worker' missed its check-in");
    assert_string_equal(queue->severity, "critical");
    assert_int_equal(pl->heartbeat_count, 1);
    backup = &pl->heartbeats[0];
    k8s = config_find_service(cfg, "k8s");
    assert_ptr_equal(backup->service, k8s);
    assert_ptr_equal(backup->team, pl);

    /* look-ups by name */
    assert_ptr_equal(config_find_heartbeat(cfg, "nightly-settlement"), hb);
    assert_ptr_equal(config_find_heartbeat(cfg, "backup"), backup);
    assert_null(config_find_heartbeat(cfg, "checkout"));
    assert_null(config_find_heartbeat(cfg, NULL));
    assert_null(config_find_heartbeat(NULL, "backup"));

    /* look-ups by key: exact match only, whatever the length or prefix */
    assert_ptr_equal(config_find_service_by_key(cfg, "pay-checkout-key-01"), checkout);
    assert_ptr_equal(config_find_service_by_key(cfg, "pl-k8s-key-000001"), k8s);
    assert_null(config_find_service_by_key(cfg, "pay-checkout-key-0"));
    assert_null(config_find_service_by_key(cfg, "pay-checkout-key-011"));
    assert_null(config_find_service_by_key(cfg, "pay-checkout-key-02"));
    assert_null(config_find_service_by_key(cfg, "PAY-CHECKOUT-KEY-01"));
    assert_null(config_find_service_by_key(cfg, ""));
    assert_null(config_find_service_by_key(cfg, NULL));
    assert_null(config_find_service_by_key(NULL, "pay-checkout-key-01"));
    assert_null(config_find_service_by_key(cfg, "hb-settlement-9a8b7c6d")); /* a heartbeat's */
    assert_ptr_equal(config_find_heartbeat_by_key(cfg, "hb-settlement-9a8b7c6d"), hb);
    assert_ptr_equal(config_find_heartbeat_by_key(cfg, "hb-queue-worker-00000001"), queue);
    assert_ptr_equal(config_find_heartbeat_by_key(cfg, "hb-pl-backup-0001"), backup);
    assert_null(config_find_heartbeat_by_key(cfg, "hb-settlement-9a8b7c6"));
    assert_null(config_find_heartbeat_by_key(cfg, "hb-settlement-9a8b7c6e"));
    assert_null(config_find_heartbeat_by_key(cfg, "pay-checkout-key-01")); /* a service's */
    assert_null(config_find_heartbeat_by_key(cfg, ""));
    assert_null(config_find_heartbeat_by_key(cfg, NULL));
    assert_null(config_find_heartbeat_by_key(NULL, "hb-pl-backup-0001"));

    config_unref(cfg);
    config_diags_release(&d);
}

/* What config_check_buffer finds in one team file with routing and heartbeats. */
static void test_check_buffer_routing(void **state)
{
    struct config_diags d = {0};
    char yaml[4096];
    size_t n = 0;
    static const char ok[] = "team:\n  match: [team=\"ops\"]\n  fallback_service: elsewhere\n"
                             "heartbeats:\n  - {name: hb, service: in-another-file, interval: 10s,"
                             " grace: 1d, key: abcdefgh, severity: INFO}\n";

    (void)state;
    /* References to services (which may be in another file) are not checked. */
    assert_int_equal(config_check_buffer(CONFIG_DOC_TEAM, "t.yaml", "ops", ok, strlen(ok), &d), 0);
    assert_int_equal(d.count, 0);

    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "heartbeats:\n  - name: hb\n    service: api\n    interval: 1m\n",
                        "doc.yaml:2:5: missing required key 'key'");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "heartbeats:\n  - name: hb\n    service: api\n    interval: 1m\n"
                        "    key: abcdefgh\n    every: 1m\n",
                        "doc.yaml:6:5: unknown key 'every' (expected one of: name, team, service, "
                        "interval, grace, key, summary, severity)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "services:\n  - name: api\n    escalation_policy: p\n"
                        "    match: '{team=\"payments\"}'\n",
                        "doc.yaml:4:12: 'match' must be a list, not a single value");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "services:\n  - name: api\n    escalation_policy: p\n"
                        "    auto_resolve: [true]\n",
                        "doc.yaml:4:19: 'auto_resolve' must be a single value, not a list");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, "team:\n  fallback_service: \"\"\n",
                        "doc.yaml:2:21: team 'ops' has an empty fallback_service");
    /* Values of one heartbeat, and keys never printed; duplicates within a file. */
    EXPECT_BUFFER_FAILS(
        CONFIG_DOC_TEAM,
        "heartbeats:\n"
        "  - name: Bad\n    team: web\n    service: \"\"\n    interval: 1m\n"
        "    key: short\n    summary: \"  \"\n"
        "  - name: hb2\n    service: api\n    interval: 1m\n    key: \"has space 123\"\n"
        "  - name: hb3\n    service: api\n    interval: 1m\n    key: same-key-1234\n"
        "  - name: hb3\n    service: api\n    interval: 1m\n    key: same-key-1234\n",
        "doc.yaml:2:11: heartbeat name 'Bad' is invalid (use 1 to 63 of a-z, 0-9, '.', '_', '-', "
        "starting with a letter or digit)",
        "doc.yaml:3:11: heartbeat 'Bad' declares team 'web' but teams/ops/ may define only team "
        "'ops' objects",
        "doc.yaml:4:14: heartbeat 'Bad' has an empty service",
        "doc.yaml:6:10: heartbeat 'Bad' has an invalid key (use 8 to 128 of A-Z, a-z, 0-9, '.', "
        "'_', '~', '-')",
        "doc.yaml:7:14: heartbeat 'Bad' has an empty summary",
        "doc.yaml:11:10: heartbeat 'hb2' has an invalid key (use 8 to 128 of A-Z, a-z, 0-9, '.', "
        "'_', '~', '-')",
        "doc.yaml:16:11: duplicate heartbeat name 'hb3' (first defined at doc.yaml:12:11)",
        "doc.yaml:19:10: heartbeat 'hb3' has the same key as heartbeat 'hb3' at doc.yaml:15:10");
    /* A heartbeat key equal to an integration key of the same file. */
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "services:\n  - name: api\n    escalation_policy: p\n"
                        "    integration_key: shared-key-99\n"
                        "heartbeats:\n  - name: hb\n    service: api\n    interval: 1m\n"
                        "    key: shared-key-99\n",
                        "doc.yaml:9:10: heartbeat 'hb' has the same key as the integration_key "
                        "of service 'api' at doc.yaml:4:22");
    /* A summary becomes an alert's summary: at most 1024 bytes. */
    n = (size_t)snprintf(yaml, sizeof(yaml),
                         "heartbeats:\n  - name: hb\n    service: api\n    interval: 1m\n"
                         "    key: abcdefgh\n    summary: ");
    for (int i = 0; i < 1025; i++)
        yaml[n++] = 'x';
    yaml[n++] = '\n';
    yaml[n] = '\0';
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, yaml,
                        "doc.yaml:6:14: heartbeat 'hb' has a summary longer than 1024 bytes");
    /* At most 64 matchers in one match: list. */
    n = (size_t)snprintf(yaml, sizeof(yaml), "team:\n  match:\n");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "    - a%d=\"b\"\n", i);
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, yaml,
                        "doc.yaml:67:7: 'match' has too many entries (at most 64)");
    config_diags_release(&d);
}

/* Semantic problems in several files are all reported, in file order. */
static void test_many_errors_at_once(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "many_errors",
        "@/users.yaml:5:15: user 'bob' has nickname 'ANN' already used by user 'ann' at "
        "@/users.yaml:3:15 (nicknames are unique regardless of case)",
        "@/teams/core/policies.yaml:6:24: escalation policy 'core-default' step 1 names unknown "
        "user 'ghost'",
        "@/teams/core/policies.yaml:7:23: escalation policy 'core-default' step 1 names unknown "
        "schedule 'core-primary'",
        "@/teams/core/policies.yaml:8:9: escalation policy 'core-default' step 2 has no targets",
        "@/teams/core/policies.yaml:9:5: escalation policy 'core-empty' has no steps",
        "@/teams/core/services.yaml:5:24: service 'cache' names unknown escalation policy "
        "'missing-policy'");
}

/* config_load appends to diags that already hold entries. */
static void test_diags_are_appended(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    assert_int_equal(config_diags_add(&d, "earlier.yaml", 1, 2, "earlier %s", "problem"), 0);
    assert_int_equal(config_load(FIXTURES "/bad_listen/opsbell.yaml", &cfg, &d), OB_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.items[0].message, "earlier problem");
    assert_string_equal(d.items[1].file, FIXTURES "/bad_listen/opsbell.yaml");
    config_diags_release(&d);
    assert_int_equal(d.count, 0);
    config_diags_release(&d);
    config_diags_release(NULL);
}

static void test_diags_print(void **state)
{
    struct config_diags d = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *fp;

    (void)state;
    assert_int_equal(config_diags_add(&d, "a.yaml", 3, 7, "bad %d", 1), 0);
    assert_int_equal(config_diags_add(&d, "b.yaml", 0, 0, "cannot read"), 0);
    assert_int_equal(config_diags_add(&d, "c.yaml", 1, 1, "two\nlines"), 0);
    fp = open_memstream(&text, &len);
    assert_non_null(fp);
    config_diags_print(&d, fp);
    fclose(fp);
    assert_string_equal(text,
                        "a.yaml:3:7: bad 1\nb.yaml:1:1: cannot read\nc.yaml:1:1: two?lines\n");
    free(text);
    config_diags_release(&d);
}

/* ---- valid providers and secrets ---- */

static void test_secrets_resolve(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_providers *p;

    (void)state;
    setenv("OPSBELL_TEST_SLACK_TOKEN", "xoxb-test-token", 1);
    assert_int_equal(config_load(FIXTURES "/secrets_ok/opsbell.yaml", &cfg, &d), 0);
    if (d.count != 0)
        dump_diags(&d);
    assert_non_null(cfg);
    p = &cfg->providers;
    assert_true(p->slack.enabled);
    assert_string_equal(p->slack.api_url, "https://slack.com/api");
    assert_string_equal(p->slack.bot_token.ref, "env:OPSBELL_TEST_SLACK_TOKEN");
    assert_string_equal(p->slack.bot_token.value, "xoxb-test-token");
    /* file: relative to the main file's directory, trailing newline dropped */
    assert_string_equal(p->slack.signing_secret.value, "signing-secret-from-file");
    assert_int_equal(p->slack.signing_secret.len, strlen("signing-secret-from-file"));
    assert_true(p->sip.enabled);
    assert_string_equal(p->sip.from_uri, "sip:opsbell@pbx.example.internal");
    assert_null(p->sip.username);
    assert_null(p->sip.password.value);
    assert_false(p->twilio.enabled);
    assert_string_equal(cfg->listen_host, "::1");
    assert_int_equal(cfg->listen_port, 0);
    assert_string_equal(cfg->public_url, "https://opsbell.example.com");
    assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(cfg->http_threads, 2);
    assert_int_equal(cfg->max_body_bytes, 65536);
    assert_non_null(strstr(cfg->storage_url, "/secrets_ok/state/opsbell.db"));
    assert_int_equal(cfg->user_count, 0); /* no users.yaml: allowed when not named */
    assert_int_equal(cfg->team_count, 0);
    config_unref(cfg);
    config_diags_release(&d);
    unsetenv("OPSBELL_TEST_SLACK_TOKEN");
}

/* ---- enforcers.aws ---- */

static void test_enforcer_aws(void **state)
{
    struct config_diags d = {0};
    const char *good = "enforcers:\n"
                       "  aws:\n"
                       "    region: eu-central-1\n"
                       "    security_group_id: sg-0123456789abcdef0\n"
                       "    access_key_id: AKIAIOSFODNN7EXAMPLE\n"
                       "    secret_access_key: env:AWS_SECRET\n"
                       "    session_token: file:token\n";

    (void)state;
    assert_int_equal(config_check_buffer(CONFIG_DOC_MAIN, "doc.yaml", NULL, good, strlen(good), &d),
                     0);
    config_diags_release(&d);
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN,
                        "enforcers:\n"
                        "  aws:\n"
                        "    region: EU\n"
                        "    security_group_id: sg-12\n"
                        "    endpoint: ftp://x\n"
                        "    access_key_id: short\n"
                        "    secret_access_key: AbCdEf123\n"
                        "    port: 0\n"
                        "    sweep_interval: 2d\n",
                        "doc.yaml:3:13: aws region 'EU' is not a region name such as eu-central-1",
                        "doc.yaml:4:24: aws security_group_id 'sg-12' is not sg- and 8 or 17 "
                        "lower-case hex digits",
                        "doc.yaml:5:15: aws endpoint 'ftp://x' must be an http:// or https:// URL "
                        "without user info",
                        "doc.yaml:6:20: aws access_key_id must be 16 to 128 upper-case letters and "
                        "digits (AKIA... or ASIA...)",
                        "doc.yaml:7:24: aws secret_access_key must be a reference env:NAME or "
                        "file:PATH, not an inline secret",
                        "doc.yaml:8:11: aws port '0' is not a number from 1 to 65535",
                        "doc.yaml:9:21: aws sweep_interval '2d' is not a duration from 10s to 1d "
                        "(e.g. 5m)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "enforcers:\n  aws:\n    region: eu-central-1\n",
                        "doc.yaml:3:5: missing required key 'security_group_id'");
}

/* ---- libcyaml schema errors land on the offending node ---- */

static void test_schema_positions(void **state)
{
    (void)state;
    /* libcyaml's own mark here is the last value read (line 4), not the key. */
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "escalation_policies:\n"
                        "  - name: p\n"
                        "    steps:\n"
                        "      - delay: 1m\n"
                        "    delay: 5m\n",
                        "doc.yaml:5:5: unknown key 'delay' (expected one of: name, team, "
                        "description, repeat, steps)");
    EXPECT_BUFFER_FAILS(
        CONFIG_DOC_MAIN, "listen: 127.0.0.1:1\nbogus: 1\n",
        "doc.yaml:2:1: unknown key 'bogus' (expected one of: listen, storage, "
        "public_url, http, log, providers, users_file, teams_dir, "
        "notification_rules, ical, engine, notification_limits, ssh_ca, enforcers, keys, "
        "allowlist)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_USERS, "users:\n  - full_name: Ann\n    email: a@b.c\n",
                        "doc.yaml:2:5: missing required key 'name'");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, "services:\n  - {}\n",
                        "doc.yaml:2:5: missing required key 'name'");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "http:\n  threads: [4]\n",
                        "doc.yaml:2:12: 'threads' must be a single value, not a list");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "http: 4\n",
                        "doc.yaml:1:7: 'http' must be a mapping, not a single value");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, "team:\n  members: [ann, [bob]]\n",
                        "doc.yaml:2:18: entries of 'members' must be a single value, not a list");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "- listen\n",
                        "doc.yaml:1:1: the document must be a mapping, not a list");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_USERS,
                        "users:\n  - name: a\n    chat_ids:\n"
                        "      [{provider: slack, id: A}, {provider: slack, id: B},\n"
                        "       {provider: slack, id: C}, {provider: slack, id: D},\n"
                        "       {provider: slack, id: E}, {provider: slack, id: F},\n"
                        "       {provider: slack, id: G}, {provider: slack, id: H},\n"
                        "       {provider: slack, id: I}, {provider: slack, id: J},\n"
                        "       {provider: slack, id: K}, {provider: slack, id: L},\n"
                        "       {provider: slack, id: M}, {provider: slack, id: N},\n"
                        "       {provider: slack, id: O}, {provider: slack, id: P},\n"
                        "       {provider: slack, id: Q}]\n",
                        "doc.yaml:12:8: 'chat_ids' has too many entries (at most 16)");
}

/* What the libyaml pass refuses before libcyaml sees the document. */
static void test_yaml_level_errors(void **state)
{
    char deep[200];
    size_t n = 0;

    (void)state;
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: a:1\nlog: {level: info}\nlisten: b:2\n",
                        "doc.yaml:3:1: duplicate key 'listen' (first given at line 1)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: &l 127.0.0.1:1\npublic_url: *l\n",
                        "doc.yaml:2:13: aliases (*l) are not supported in opsbell configuration; "
                        "write the value out");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: a:1\n---\nlisten: b:2\n",
                        "doc.yaml:2:1: only one YAML document per file is supported");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "? [a]\n: b\n",
                        "doc.yaml:1:3: mapping keys must be plain strings, not lists, mappings "
                        "or aliases");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: \"\xff\"\n",
                        "doc.yaml:1:10: invalid YAML: invalid leading UTF-8 octet");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: 'a\n",
                        "doc.yaml:2:1: invalid YAML: found unexpected end of stream (while "
                        "scanning a quoted scalar that starts at line 1, column 9)");
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, deep,
                        "doc.yaml:1:33: nesting deeper than 32 levels is not supported");
}

/* ---- config_check_buffer on single documents ---- */

static void test_check_buffer(void **state)
{
    struct config_diags d = {0};
    const char *empty = "";

    (void)state;
    /* Empty documents are valid: everything has a default. */
    assert_int_equal(config_check_buffer(CONFIG_DOC_MAIN, "m.yaml", NULL, empty, 0, &d), 0);
    assert_int_equal(config_check_buffer(CONFIG_DOC_USERS, "u.yaml", NULL, empty, 0, &d), 0);
    assert_int_equal(config_check_buffer(CONFIG_DOC_TEAM, "t.yaml", "ops", "# only\n", 7, &d), 0);
    assert_int_equal(d.count, 0);

    /* Secret references are checked for shape only; nothing is resolved. */
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN,
                        "providers:\n  smtp:\n    url: smtp://mail:25\n    password: hunter2\n"
                        "    username: ops\n    from_address: ops@example.com\n",
                        "doc.yaml:4:15: smtp password must be a reference env:NAME or "
                        "file:PATH, not an inline secret");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "listen: \"[::1:80\"\nstorage: \"sqlite:\"\n",
                        "doc.yaml:1:9: invalid listen address '[::1:80' (expected HOST:PORT such "
                        "as 127.0.0.1:8080 or [::1]:8080)",
                        "doc.yaml:2:10: storage 'sqlite:' needs a path, e.g. sqlite:opsbell.db");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "log:\n  level: loud\nhttp:\n  threads: 12abc\n",
                        "doc.yaml:2:10: log level 'loud' is not one of debug, info, warn, error",
                        "doc.yaml:4:12: http threads '12abc' is not a number from 1 to 256");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_USERS,
                        "users:\n  - name: Ann\n    contact_methods:\n"
                        "      - {type: fax, address: x}\n"
                        "      - {type: sip, address: bob@pbx}\n"
                        "      - {type: email, address: a@b@c}\n",
                        "doc.yaml:2:11: user name 'Ann' is invalid (use 1 to 63 of a-z, 0-9, '.', "
                        "'_', '-', starting with a letter or digit)",
                        "doc.yaml:4:16: user 'Ann' has contact method type 'fax' (expected one "
                        "of voice, sms, sip, email, slack, webhook)",
                        "doc.yaml:5:30: user 'Ann' has sip address 'bob@pbx' that is not a sip: "
                        "or sips: URI",
                        "doc.yaml:6:32: user 'Ann' has email address 'a@b@c' that is not an "
                        "e-mail address");
    /* A team file may name only its own team; references to other files
     * (policies, users) are not checked here. */
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "services:\n  - name: api\n    team: web\n    escalation_policy: x\n"
                        "escalation_policies:\n  - name: p\n    repeat: many\n    steps:\n"
                        "      - delay: 0s\n        targets: {users: [ann]}\n",
                        "doc.yaml:3:11: service 'api' declares team 'web' but teams/ops/ may "
                        "define only team 'ops' objects",
                        "doc.yaml:7:13: escalation policy 'p' has repeat 'many' (expected 0 to "
                        "100)",
                        "doc.yaml:9:16: escalation policy 'p' step 1 has delay '0s' outside 1s to "
                        "7d");
    config_diags_release(&d);
}

/* ---- caps ---- */

/* ---- SSH access: logins, host groups, breakglass, allowlist ---- */

static void test_access_loads(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_user *ann, *bob;
    const struct config_team *ops, *dev, *lab;
    const struct config_host_group *g;
    const struct config_allowlist *al;

    (void)state;
    setenv("OPSBELL_TEST_ADMIN_TOKEN", "xoxp-admin", 1);
    assert_int_equal(config_load(FIXTURES "/access_ok/opsbell.yaml", &cfg, &d), 0);
    if (d.count != 0)
        dump_diags(&d);
    assert_non_null(cfg);

    ann = config_find_user(cfg, "ann");
    bob = config_find_user(cfg, "bob");
    assert_int_equal(ann->login_count, 2);
    assert_string_equal(ann->logins[0], "ann");
    assert_string_equal(ann->logins[1], "deploy");
    assert_int_equal(bob->login_count, 1); /* default: [name] */
    assert_string_equal(bob->logins[0], "bob");

    ops = config_find_team(cfg, "ops");
    dev = config_find_team(cfg, "dev");
    lab = config_find_team(cfg, "lab");
    assert_int_equal(ops->host_group_count, 1);
    g = config_find_host_group(cfg, "web-prod");
    assert_ptr_equal(g, &ops->host_groups[0]);
    assert_ptr_equal(g->team, ops);
    assert_int_equal(g->host_count, 2);
    assert_string_equal(g->hosts[0], "web1");
    assert_string_equal(g->hosts[1], "web2.example.com");
    assert_true(g->allowlist);
    assert_int_equal(dev->host_group_count, 2);
    g = config_find_host_group(cfg, "dev-db");
    assert_ptr_equal(g->team, dev);
    assert_false(g->allowlist);
    assert_false(config_find_host_group(cfg, "dev-boxes")->allowlist); /* default */
    assert_null(config_find_host_group(cfg, "nope"));
    assert_null(config_find_host_group(cfg, NULL));

    /* written: exactly what is listed */
    assert_false(ops->breakglass.self_approve_oncall);
    assert_true(ops->breakglass.self_approve_members);
    assert_int_equal(ops->breakglass.self_approve_user_count, 1);
    assert_string_equal(ops->breakglass.self_approve_users[0], "cid");
    assert_int_equal(ops->breakglass.approver_count, 1);
    assert_string_equal(ops->breakglass.approvers[0], "bob");
    assert_int_equal(ops->breakglass.max_duration_seconds, 7200);
    assert_int_equal(ops->breakglass.pending_ttl_seconds, 1800);
    /* self_approve: [] = nobody approves their own request */
    assert_false(dev->breakglass.self_approve_oncall);
    assert_false(dev->breakglass.self_approve_members);
    assert_int_equal(dev->breakglass.self_approve_user_count, 0);
    assert_int_equal(dev->breakglass.approver_count, 0);
    assert_int_equal(dev->breakglass.max_duration_seconds, 3600);
    /* no team: section at all: the defaults */
    assert_true(lab->breakglass.self_approve_oncall);
    assert_false(lab->breakglass.self_approve_members);
    assert_int_equal(lab->breakglass.self_approve_user_count, 0);
    assert_int_equal(lab->breakglass.max_duration_seconds, 3600);
    assert_int_equal(lab->breakglass.pending_ttl_seconds, 3600);

    al = &cfg->allowlist;
    assert_int_equal(al->freshness_seconds, 6 * 3600);
    assert_int_equal(al->max_per_user, 3);
    assert_int_equal(al->link_ttl_seconds, 900);
    assert_int_equal(al->trusted_proxy_count, 3);
    assert_string_equal(al->trusted_proxies[0], "127.0.0.1/32");
    assert_string_equal(al->trusted_proxies[1], "10.0.0.0/8");
    assert_string_equal(al->trusted_proxies[2], "2001:db8::/64");
    assert_true(al->access_logs_enabled);
    assert_string_equal(al->access_logs_token.value, "xoxp-admin");
    assert_int_equal(al->access_logs_interval_seconds, 60);
    assert_string_equal(cfg->enforcers.aws.host_group, "web-prod");
    config_unref(cfg);
    config_diags_release(&d);
    unsetenv("OPSBELL_TEST_ADMIN_TOKEN");
}

/* Absent sections: the defaults of config.h. */
static void test_access_defaults(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;
    const struct config_team *team;

    (void)state;
    assert_int_equal(config_load(EXAMPLE, &cfg, &d), 0);
    assert_non_null(cfg);
    assert_int_equal(cfg->allowlist.freshness_seconds, 12 * 3600);
    assert_int_equal(cfg->allowlist.max_per_user, 5);
    assert_int_equal(cfg->allowlist.link_ttl_seconds, 600);
    assert_int_equal(cfg->allowlist.trusted_proxy_count, 1); /* the example's */
    assert_false(cfg->allowlist.access_logs_enabled);
    assert_int_equal(cfg->allowlist.access_logs_interval_seconds, 300);
    assert_null(cfg->enforcers.aws.host_group);
    /* the example's host groups and break-glass policy */
    assert_true(config_find_host_group(cfg, "platform-edge")->allowlist);
    assert_false(config_find_host_group(cfg, "platform-db")->allowlist);
    team = config_find_team(cfg, "platform");
    assert_int_equal(team->breakglass.max_duration_seconds, 7200);
    assert_int_equal(team->breakglass.approver_count, 2);
    team = config_find_team(cfg, "payments");
    assert_non_null(team);
    assert_true(team->breakglass.self_approve_oncall);
    assert_false(team->breakglass.self_approve_members);
    assert_int_equal(team->breakglass.approver_count, 0);
    assert_int_equal(team->breakglass.max_duration_seconds, 3600);
    assert_int_equal(team->breakglass.pending_ttl_seconds, 3600);
    for (unsigned i = 0; i < cfg->user_count; i++)
        assert_true(cfg->users[i].login_count >= 1);
    config_unref(cfg);
    config_diags_release(&d);
}

static void test_access_cross_file(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILS(
        "access_bad",
        "@/teams/ops/ops.yaml:4:28: team 'ops' lists unknown user 'zed' in breakglass "
        "self_approve",
        "@/teams/ops/ops.yaml:5:22: team 'ops' lists unknown user 'yan' as a breakglass approver",
        "@/teams/ops/ops.yaml:7:11: duplicate host group name 'web-prod' (first defined at "
        "@/teams/dev/dev.yaml:4:11)",
        "@/opsbell.yaml:9:17: aws host_group 'web-staging' is not a host group of any team "
        "(host_groups: in a team file)");
}

static void test_logins_refused(void **state)
{
    (void)state;
    EXPECT_BUFFER_FAILS(
        CONFIG_DOC_USERS,
        "users:\n"
        "  - name: ann\n"
        "    logins: [ann, Root, ann, -x]\n"
        "  - name: bob\n"
        "    logins: []\n"
        "  - name: 1cid\n"
        "  - name: dan\n"
        "    logins: [dan, _svc, a.b-c_d, abcdefghijklmnopqrstuvwxyz012345]\n",
        "doc.yaml:3:19: user 'ann' has login 'Root' that is invalid (use 1 to 32 "
        "of a-z, 0-9, '_', '.', '-', starting with a letter or '_')",
        "doc.yaml:3:25: user 'ann' lists login 'ann' twice (first at doc.yaml:3:14)",
        "doc.yaml:3:30: user 'ann' has login '-x' that is invalid (use 1 to 32 of "
        "a-z, 0-9, '_', '.', '-', starting with a letter or '_')",
        "doc.yaml:5:13: user 'bob' has an empty logins list (list at least one, or "
        "leave logins out for [bob])");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_USERS,
                        "users:\n"
                        "  - name: dan\n"
                        "    logins: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]\n",
                        "doc.yaml:3:62: 'logins' has too many entries (at most 16)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_USERS,
                        "users:\n  - name: ed\n    logins: [abcdefghijklmnopqrstuvwxyz0123456]\n",
                        "doc.yaml:3:14: user 'ed' has login 'abcdefghijklmnopqrstuvwxyz0123456' "
                        "that is invalid (use 1 to 32 of a-z, 0-9, '_', '.', '-', starting with a "
                        "letter or '_')");
}

static void test_host_groups_refused(void **state)
{
    (void)state;
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "host_groups:\n"
                        "  - name: Web\n"
                        "    team: other\n"
                        "    hosts: [web1, Web_2, web1, -x]\n"
                        "    allowlist: yes\n"
                        "  - name: db\n"
                        "    hosts: []\n"
                        "  - name: db\n"
                        "    hosts: [db1]\n",
                        "doc.yaml:2:11: host group name 'Web' is invalid (use 1 to 63 of a-z, 0-9, "
                        "'.', '_', '-', starting with a letter or digit)",
                        "doc.yaml:3:11: host group 'Web' declares team 'other' but teams/ops/ may "
                        "define only team 'ops' objects",
                        "doc.yaml:4:19: host group 'Web' has invalid host name 'Web_2' (use 1 to "
                        "253 of a-z, 0-9, '.', '-', starting with a letter or digit)",
                        "doc.yaml:4:26: host group 'Web' lists host 'web1' twice (first at "
                        "doc.yaml:4:13)",
                        "doc.yaml:4:32: host group 'Web' has invalid host name '-x' (use 1 to 253 "
                        "of a-z, 0-9, '.', '-', starting with a letter or digit)",
                        "doc.yaml:5:16: host group 'Web' has allowlist 'yes' (expected true or "
                        "false)",
                        "doc.yaml:7:12: host group 'db' has no hosts (list at least one)",
                        "doc.yaml:8:11: duplicate host group name 'db' (first defined at "
                        "doc.yaml:6:11)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, "host_groups:\n  - name: x\n    host: [a]\n",
                        "doc.yaml:3:5: unknown key 'host' (expected one of: name, team, hosts, "
                        "allowlist)");
}

static void test_breakglass_refused(void **state)
{
    (void)state;
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM,
                        "team:\n"
                        "  breakglass:\n"
                        "    self_approve: [oncall, everyone!, Ann]\n"
                        "    approvers: [bob, \"\"]\n"
                        "    max_duration: 2x\n"
                        "    pending_ttl: 25h\n",
                        "doc.yaml:3:28: team 'ops' breakglass self_approve entry 'everyone!' is "
                        "not oncall, members or a user name",
                        "doc.yaml:3:39: team 'ops' breakglass self_approve entry 'Ann' is not "
                        "oncall, members or a user name",
                        "doc.yaml:4:22: team 'ops' breakglass approver '' is not a user name",
                        "doc.yaml:5:19: team 'ops' breakglass max_duration '2x' is not a duration "
                        "from 1m to 24h (e.g. 1h)",
                        "doc.yaml:6:18: team 'ops' breakglass pending_ttl '25h' is not a duration "
                        "from 1m to 24h (e.g. 1h)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_TEAM, "team:\n  breakglass:\n    max_duration: 30s\n",
                        "doc.yaml:3:19: team 'ops' breakglass max_duration '30s' is not a "
                        "duration from 1m to 24h (e.g. 1h)");
}

static void test_allowlist_refused(void **state)
{
    struct config_diags d = {0};
    const char *good = "allowlist:\n"
                       "  freshness: 30d\n"
                       "  max_per_user: 100\n"
                       "  link_ttl: 1m\n"
                       "  trusted_proxies: [\"::1\"]\n"
                       "  slack_access_logs: {token: file:admin-token}\n";

    (void)state;
    assert_int_equal(config_check_buffer(CONFIG_DOC_MAIN, "doc.yaml", NULL, good, strlen(good), &d),
                     0);
    config_diags_release(&d);
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN,
                        "allowlist:\n"
                        "  freshness: 31d\n"
                        "  max_per_user: 0\n"
                        "  link_ttl: soon\n"
                        "  trusted_proxies: [10.0.0.1, 300.1.1.1, 10.0.0.0/33]\n"
                        "  slack_access_logs:\n"
                        "    token: xoxp-inline\n"
                        "    interval: 10s\n"
                        "enforcers:\n"
                        "  aws:\n"
                        "    region: eu-central-1\n"
                        "    security_group_id: sg-0123456789abcdef0\n"
                        "    access_key_id: AKIAIOSFODNN7EXAMPLE\n"
                        "    secret_access_key: env:AWS_SECRET\n"
                        "    host_group: Web Prod\n",
                        "doc.yaml:2:14: allowlist freshness '31d' is not a duration from 1m to 30d "
                        "(e.g. 12h)",
                        "doc.yaml:3:17: allowlist max_per_user '0' is not a number from 1 to 100",
                        "doc.yaml:4:13: allowlist link_ttl 'soon' is not a duration from 1m to 1d "
                        "(e.g. 10m)",
                        "doc.yaml:5:31: allowlist trusted_proxies entry '300.1.1.1' is not an "
                        "address or CIDR: not an IPv4 address",
                        "doc.yaml:5:42: allowlist trusted_proxies entry '10.0.0.0/33' is not an "
                        "address or CIDR: bad prefix length (0..32)",
                        "doc.yaml:7:12: allowlist slack_access_logs token must be a reference "
                        "env:NAME or file:PATH, not an inline secret",
                        "doc.yaml:8:15: allowlist slack_access_logs interval '10s' is not a "
                        "duration from 30s to 1d (e.g. 5m)",
                        "doc.yaml:15:17: aws host_group 'Web Prod' is not a valid host group name "
                        "(use 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or "
                        "digit)");
    EXPECT_BUFFER_FAILS(CONFIG_DOC_MAIN, "allowlist:\n  slack_access_logs:\n    interval: 5m\n",
                        "doc.yaml:3:5: missing required key 'token'");
}

static char *make_temp_dir(void)
{
    char *dir = strdup("/tmp/opsbell-test-config-XXXXXX");

    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_temp_dir(char *dir, const char *const *files, size_t n)
{
    char path[512];

    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    free(dir);
}

static void test_file_too_large(void **state)
{
    static const char *const files[] = {"opsbell.yaml"};
    char *dir = make_temp_dir();
    char path[512], want[600];
    struct config_diags d = {0};
    struct config *cfg = NULL;
    FILE *fp;

    (void)state;
    snprintf(path, sizeof(path), "%s/opsbell.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (size_t i = 0; i <= CONFIG_FILE_MAX / 64; i++)
        fputs("# ........................................................... #\n", fp);
    fclose(fp);
    assert_int_equal(config_load(path, &cfg, &d), OB_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.count, 1);
    snprintf(want, sizeof(want), "%s", path);
    assert_string_equal(d.items[0].file, want);
    assert_int_equal(d.items[0].line, 0);
    assert_string_equal(d.items[0].message, "file is larger than 4194304 bytes");
    config_diags_release(&d);
    remove_temp_dir(dir, files, 1);
}

static void test_too_many_users(void **state)
{
    static const char *const files[] = {"opsbell.yaml", "users.yaml"};
    char *dir = make_temp_dir();
    char path[512];
    struct config_diags d = {0};
    struct config *cfg = NULL;
    FILE *fp;

    (void)state;
    snprintf(path, sizeof(path), "%s/users.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("users:\n", fp);
    for (int i = 0; i <= 10000; i++)
        fprintf(fp, "  - name: u%d\n", i);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/opsbell.yaml", dir);
    write_file(path, "storage: \"sqlite::memory:\"\n");
    assert_int_equal(config_load(path, &cfg, &d), OB_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].line, 10002); /* the 10001st entry */
    assert_int_equal(d.items[0].col, 5);
    assert_string_equal(d.items[0].message, "'users' has too many entries (at most 10000)");
    config_diags_release(&d);
    remove_temp_dir(dir, files, 2);
}

static void test_missing_main_file(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL;

    (void)state;
    assert_int_equal(config_load(FIXTURES "/no_such_dir/opsbell.yaml", &cfg, &d), OB_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].message, "cannot read: No such file or directory");
    config_diags_release(&d);
    assert_int_equal(config_load(FIXTURES "/many_errors/nope.yaml", &cfg, &d), OB_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].file, FIXTURES "/many_errors/nope.yaml");
    config_diags_release(&d);
}

/* ---- durations ---- */

static void test_parse_duration(void **state)
{
    static const struct {
        const char *text;
        uint32_t seconds;
    } good[] = {
        {"0", 0},        {"90", 90},
        {"90s", 90},     {"5m", 300},
        {"2h", 7200},    {"1d", 86400},
        {"1h30m", 5400}, {"1d2h3m4s", 93784},
        {"0s", 0},       {"4294967295", UINT32_MAX},
    };
    static const char *const bad[] = {
        NULL,
        "",
        "m",
        "5x",
        "-5m",
        "+5m",
        " 5m",
        "5m ",
        "5 m",
        "1h30",
        "30m1h",
        "1m1m",
        "5M",
        "1.5h",
        "4294967296",
        "49711d",
        "99999999999999999999s",
        "0x10",
    };
    uint32_t s;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        s = 12345;
        if (config_parse_duration(good[i].text, &s) != 0)
            print_message("rejected: %s\n", good[i].text);
        assert_int_equal(config_parse_duration(good[i].text, &s), 0);
        assert_int_equal(s, good[i].seconds);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = 12345;
        if (config_parse_duration(bad[i], &s) == 0)
            print_message("accepted: %s\n", bad[i]);
        assert_int_equal(config_parse_duration(bad[i], &s), OB_EINVAL);
        assert_int_equal(s, 12345); /* untouched on failure */
    }
}

static void test_contact_type_name(void **state)
{
    (void)state;
    assert_string_equal(contact_type_name(CONTACT_VOICE), "voice");
    assert_string_equal(contact_type_name(CONTACT_SMS), "sms");
    assert_string_equal(contact_type_name(CONTACT_SIP), "sip");
    assert_string_equal(contact_type_name(CONTACT_EMAIL), "email");
    assert_string_equal(contact_type_name(CONTACT_SLACK), "slack");
    assert_string_equal(contact_type_name(CONTACT_WEBHOOK), "webhook");
    assert_string_equal(contact_type_name((enum contact_type)99), "unknown");
}

/* ---- reference count ---- */

static void *refcount_worker(void *arg)
{
    struct config *cfg = arg;

    for (int i = 0; i < 20000; i++) {
        struct config *mine = config_ref(cfg);
        assert_ptr_equal(mine, cfg);
        assert_string_equal(mine->listen_host, "127.0.0.1");
        config_unref(mine);
    }
    return NULL;
}

static void test_refcount(void **state)
{
    struct config_diags d = {0};
    struct config *cfg = NULL, *extra;
    pthread_t threads[4];

    (void)state;
    assert_null(config_ref(NULL));
    config_unref(NULL);
    assert_int_equal(config_load(EXAMPLE, &cfg, &d), 0);
    extra = config_ref(cfg);
    assert_ptr_equal(extra, cfg);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, refcount_worker, cfg), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    config_unref(cfg);
    /* Still alive through `extra` (ASan would catch a use after free). */
    assert_string_equal(extra->teams[0].name, "payments");
    config_unref(extra);
    config_diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_loads),
        cmocka_unit_test(test_example_files_check),
        cmocka_unit_test(test_schedules_load),
        cmocka_unit_test(test_default_rules_and_settings),
        cmocka_unit_test(test_bad_schedules),
        cmocka_unit_test(test_check_buffer_schedules),
        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_cross_team_definition),
        cmocka_unit_test(test_dangling_policy),
        cmocka_unit_test(test_dangling_user),
        cmocka_unit_test(test_inline_secret),
        cmocka_unit_test(test_missing_env_secret),
        cmocka_unit_test(test_bad_time_zone),
        cmocka_unit_test(test_bad_e164),
        cmocka_unit_test(test_bad_duration),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_bad_storage),
        cmocka_unit_test(test_missing_users_file),
        cmocka_unit_test(test_stray_team_files),
        cmocka_unit_test(test_bad_matcher),
        cmocka_unit_test(test_bad_dedup_label),
        cmocka_unit_test(test_bad_auto_resolve),
        cmocka_unit_test(test_fallback_dangling),
        cmocka_unit_test(test_fallback_other_team),
        cmocka_unit_test(test_heartbeat_dangling_service),
        cmocka_unit_test(test_duplicate_heartbeat),
        cmocka_unit_test(test_duplicate_heartbeat_key),
        cmocka_unit_test(test_heartbeat_key_is_integration_key),
        cmocka_unit_test(test_bad_heartbeat_interval),
        cmocka_unit_test(test_bad_heartbeat_severity),
        cmocka_unit_test(test_routing_loads),
        cmocka_unit_test(test_check_buffer_routing),
        cmocka_unit_test(test_many_errors_at_once),
        cmocka_unit_test(test_diags_are_appended),
        cmocka_unit_test(test_diags_print),
        cmocka_unit_test(test_secrets_resolve),
        cmocka_unit_test(test_schema_positions),
        cmocka_unit_test(test_enforcer_aws),
        cmocka_unit_test(test_yaml_level_errors),
        cmocka_unit_test(test_check_buffer),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_too_many_users),
        cmocka_unit_test(test_missing_main_file),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_contact_type_name),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_access_loads),
        cmocka_unit_test(test_access_defaults),
        cmocka_unit_test(test_access_cross_file),
        cmocka_unit_test(test_logins_refused),
        cmocka_unit_test(test_host_groups_refused),
        cmocka_unit_test(test_breakglass_refused),
        cmocka_unit_test(test_allowlist_refused),
    };
    struct stat st;

    if (stat(FIXTURES, &st) != 0) {
        fprintf(stderr, "test_config: run me from the repository root (%s not found)\n", FIXTURES);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
