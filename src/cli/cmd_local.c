/*
 * cmd_local.c - commands that work on this machine's files and store, not
 * through the HTTP API: serve, check-config, version, token create|list|revoke.
 */
#include "cli/cli.h"
#include "opsbell_version.h"

#include "access/access.h"
#include "auth/auth.h"
#include "config/config.h"
#include "daemon/serve.h"
#include "store/store.h"
#include "util/error.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* getopt state is global: every command starts afresh. */
int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_token_create(int argc, char **argv);
int cmd_token_list(int argc, char **argv);
int cmd_token_revoke(int argc, char **argv);

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *listen = NULL;
    int c;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("serve", NULL), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("serve", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    return serve_run(cli_config_path(config), listen);
}

int cmd_check_config(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct config_diags diags = {0};
    struct config *cfg = NULL;
    const char *config = NULL;
    int quiet = 0, c;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("check-config", NULL), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("check-config", argv);
        }
    }
    if (optind < argc)
        config = argv[optind++];
    if (optind < argc)
        return cli_usage_error("check-config", "unexpected argument '%s'", argv[optind]);
    config = cli_config_path(config);
    if (config_load(config, &cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return EXIT_FAIL;
    }
    if (!quiet)
        printf("%s: ok (%u users, %u teams)\n", config, cfg->user_count, cfg->team_count);
    config_unref(cfg);
    config_diags_release(&diags);
    return EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_print_usage(cli_find("version", NULL), stdout);
        return EXIT_OK;
    }
    if (argc > 1 && strcmp(argv[1], "--json") == 0) {
        printf("{\"version\": \"%s\", \"commit\": \"%s\", \"schema_version\": %d}\n",
               OPSBELL_VERSION, OPSBELL_COMMIT, store_latest_schema_version());
        return EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("opsbell %s (commit %s, schema %d)\n", OPSBELL_VERSION, OPSBELL_COMMIT,
           store_latest_schema_version());
    return EXIT_OK;
}

/* Load the configuration quietly and open its store; prints errors itself. */
static int open_configured_store(const char *config_path, struct config **cfg_out,
                                 struct store **store_out)
{
    struct config_diags diags = {0};
    struct ob_error err = {0};

    if (config_load(config_path, cfg_out, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return cli_fail("configuration %s is invalid", config_path);
    }
    config_diags_release(&diags);
    if (store_open((*cfg_out)->storage_url, 1, store_out, &err) != 0) {
        config_unref(*cfg_out);
        *cfg_out = NULL;
        return cli_fail("cannot open the store: %s", err.msg);
    }
    return EXIT_OK;
}

static void local_origin(struct audit_origin *origin, char *actor, size_t cap)
{
    struct passwd *pw = getpwuid(geteuid());

    snprintf(actor, cap, "cli:%s", pw != NULL ? pw->pw_name : "unknown");
    origin->actor = actor;
    origin->remote_addr = "local";
    origin->request_id = NULL;
}

static void format_time_ms(int64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (ms == 0) {
        snprintf(out, cap, "-");
        return;
    }
    gmtime_r(&secs, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_token_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"name", required_argument, NULL, 'n'},
        {"scope", required_argument, NULL, 's'},   {"team", required_argument, NULL, 't'},
        {"expires", required_argument, NULL, 'e'}, {"user", required_argument, NULL, 'u'},
        {"agent", required_argument, NULL, 'a'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *config = NULL, *name = NULL, *scope_text = NULL, *team = NULL, *expires = NULL;
    const char *user = NULL, *agent = NULL;
    struct token_request treq = {0};
    struct audit_origin origin;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct store *store = NULL;
    char secret[TOKEN_SECRET_LEN + 1], actor[96];
    uint32_t expires_s = 0;
    int64_t id = 0;
    int json = 0, c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:n:s:t:e:u:a:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'a':
            agent = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            scope_text = optarg;
            break;
        case 't':
            team = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("token", "create"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("token create", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("token create", "unexpected argument '%s'", argv[optind]);
    if (user != NULL && agent != NULL)
        return cli_usage_error(
            "token create", "a token is for a user (--user) or for an agent (--agent), not both");
    /* An agent's token only reads its host's state: scope read, implied. */
    if (agent != NULL && scope_text == NULL)
        scope_text = "read";
    if (name == NULL || scope_text == NULL)
        return cli_usage_error("token create", "--name and --scope are required");
    if (token_scope_parse(scope_text, &treq.scope) != 0)
        return cli_usage_error("token create", "--scope must be read, write or admin, not '%s'",
                               scope_text);
    if (!token_name_is_valid(name))
        return cli_usage_error("token create",
                               "--name must be 1 to 64 characters of letters, digits, space "
                               "and ._:@-");
    if (expires != NULL && (config_parse_duration(expires, &expires_s) != 0 || expires_s == 0))
        return cli_usage_error("token create", "--expires must be a duration such as 90d or 12h");
    if (agent != NULL && treq.scope != SCOPE_READ)
        return cli_usage_error("token create", "an agent's token has scope read, not '%s'",
                               scope_text);

    rc = open_configured_store(cli_config_path(config), &cfg, &store);
    if (rc != EXIT_OK)
        return rc;
    if (team != NULL && config_find_team(cfg, team) == NULL) {
        rc = cli_fail("no team named '%s' in the configuration", team);
        goto out;
    }
    if (token_binding_check(cfg, team, user, agent, &err) != 0) {
        rc = cli_fail("cannot create the token: %s", err.msg);
        goto out;
    }
    treq.name = name;
    treq.team = team;
    treq.user = user;
    treq.agent_host = agent;
    treq.expires_at_ms = expires_s ? store_now_ms() + (int64_t)expires_s * 1000 : 0;
    local_origin(&origin, actor, sizeof(actor));
    if (token_create(store, &treq, &origin, secret, sizeof(secret), &id, &err) != 0) {
        rc = cli_fail("cannot create the token: %s", err.msg);
        goto out;
    }
    if (json) {
        json_t *obj = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", (json_int_t)id,
                                "name", name, "scope", token_scope_name(treq.scope), "team", team,
                                "user", user, "agent", agent, "token", secret);
        cli_print_json(obj);
        json_decref(obj);
    } else {
        fprintf(stderr,
                "created token %lld '%s' (scope %s%s%s%s%s%s%s); the secret is shown once:\n",
                (long long)id, name, token_scope_name(treq.scope), team ? ", team " : "",
                team ? team : "", user ? ", acts as user " : "", user ? user : "",
                agent ? ", agent of host " : "", agent ? agent : "");
        printf("%s\n", secret);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    rc = EXIT_OK;
out:
    store_close(store);
    config_unref(cfg);
    return rc;
}

int cmd_token_list(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char *const headers[] = {"ID",    "NAME",    "SCOPE",   "TEAM",      "USER",
                                          "AGENT", "CREATED", "EXPIRES", "LAST USED", "STATE"};
    const char *config = NULL;
    struct store_token *tokens = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct store *store = NULL;
    size_t count = 0;
    int json = 0, c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("token", "list"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("token list", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("token list", "unexpected argument '%s'", argv[optind]);
    rc = open_configured_store(cli_config_path(config), &cfg, &store);
    if (rc != EXIT_OK)
        return rc;
    if (store_acquire(store, &conn, &err) != 0 ||
        store_token_list(conn, &tokens, &count, &err) != 0) {
        rc = cli_fail("cannot list tokens: %s", err.msg);
        goto out;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < count; i++) {
            const struct store_token *t = &tokens[i];
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:I}", "id",
                               (json_int_t)t->id, "name", t->name, "scope", t->scope, "team",
                               t->team, "user", t->user_name, "agent", t->agent_host, "created_by",
                               t->created_by, "created_at_ms", (json_int_t)t->created_at_ms,
                               "expires_at_ms", (json_int_t)t->expires_at_ms, "revoked_at_ms",
                               (json_int_t)t->revoked_at_ms, "last_used_at_ms",
                               (json_int_t)t->last_used_at_ms));
        }
        cli_print_json(arr);
        json_decref(arr);
    } else {
        struct table table;
        int64_t now = store_now_ms();
        table_init(&table, 10, headers);
        for (size_t i = 0; i < count; i++) {
            const struct store_token *t = &tokens[i];
            char id[24], created[32], expiry[32], used[32];
            const char *state = t->revoked_at_ms                                ? "revoked"
                                : (t->expires_at_ms && t->expires_at_ms <= now) ? "expired"
                                                                                : "active";
            snprintf(id, sizeof(id), "%lld", (long long)t->id);
            format_time_ms(t->created_at_ms, created, sizeof(created));
            format_time_ms(t->expires_at_ms, expiry, sizeof(expiry));
            format_time_ms(t->last_used_at_ms, used, sizeof(used));
            const char *row[] = {id,           t->name,       t->scope, t->team ? t->team : "all",
                                 t->user_name, t->agent_host, created,  expiry,
                                 used,         state};
            table_add_row(&table, row);
        }
        table_print(&table, stdout);
        table_release(&table);
    }
    rc = EXIT_OK;
out:
    store_token_array_free(tokens, count);
    store_release(conn);
    store_close(store);
    config_unref(cfg);
    return rc;
}

int cmd_token_revoke(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    struct audit_origin origin;
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct store *store = NULL;
    char actor[96], *end = NULL;
    long long id;
    int c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("token", "revoke"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("token revoke", argv);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("token revoke", "exactly one token ID is required");
    errno = 0;
    id = strtoll(argv[optind], &end, 10);
    if (errno != 0 || end == argv[optind] || *end != '\0' || id <= 0)
        return cli_usage_error("token revoke", "token ID must be a positive integer, not '%s'",
                               argv[optind]);
    rc = open_configured_store(cli_config_path(config), &cfg, &store);
    if (rc != EXIT_OK)
        return rc;
    local_origin(&origin, actor, sizeof(actor));
    if (token_revoke(store, id, &origin, &err) != 0)
        rc = cli_fail("cannot revoke token %lld: %s", id, err.msg);
    else
        printf("revoked token %lld\n", id);
    store_close(store);
    config_unref(cfg);
    return rc;
}
