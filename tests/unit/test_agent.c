/*
 * test_agent.c - the host agent's pure parts (src/agent/): agent.yaml with
 * its FILE:LINE:COL diagnostics, the state document (accepted and refused
 * documents, each with its reason), ETag values, and the on-disk cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ED25519                                                                                    \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL0lPeCbzzpXy1NKu7x5UhHIP1MTZV5knemwdO6eU5Th "            \
    "test-ed25519@opsbell"
/* "SSHKRL\n\0" + 4 bytes: enough of a KRL for the agent's check. */
#define KRL_B64 "U1NIS1JMCgAAAAAB"
#define TOKEN   "obt_unit_test_token_value"

/* ---- agent.yaml ------------------------------------------------------------------ */

static struct agent_config *load_ok(const char *yaml)
{
    struct config_diags diags = {0};
    struct agent_config *cfg = NULL;
    int rc =
        agent_config_load_buffer(yaml, strlen(yaml), "agent.yaml", "/etc/opsbell", &cfg, &diags);

    if (rc != 0)
        config_diags_print(&diags, stderr);
    assert_int_equal(rc, 0);
    assert_int_equal(diags.count, 0);
    config_diags_release(&diags);
    return cfg;
}

/* Load must fail with a diagnostic at line:col whose message contains want. */
static void load_fails_at(const char *yaml, unsigned line, unsigned col, const char *want)
{
    struct config_diags diags = {0};
    struct agent_config *cfg = NULL;
    int rc =
        agent_config_load_buffer(yaml, strlen(yaml), "agent.yaml", "/etc/opsbell", &cfg, &diags);
    int found = 0;

    assert_int_not_equal(rc, 0);
    assert_null(cfg);
    for (size_t i = 0; i < diags.count; i++) {
        assert_string_equal(diags.items[i].file, "agent.yaml");
        assert_null(strstr(diags.items[i].message, TOKEN)); /* never the secret */
        if (diags.items[i].line == line && diags.items[i].col == col &&
            strstr(diags.items[i].message, want) != NULL)
            found = 1;
    }
    if (!found) {
        fprintf(stderr, "wanted %u:%u '%s', got:\n", line, col, want);
        config_diags_print(&diags, stderr);
    }
    assert_true(found);
    config_diags_release(&diags);
}

static int setup_env(void **state)
{
    setenv("OPSBELL_UNIT_AGENT_TOKEN", TOKEN, 1);
    setenv("OPSBELL_UNIT_AGENT_SPACE", "obt_a b", 1);
    unsetenv("OPSBELL_UNIT_AGENT_MISSING");
    return 0;
}

static void test_config_defaults(void **state)
{
    struct agent_config *cfg = load_ok("server: https://opsbell.example.com/\n"
                                       "token: env:OPSBELL_UNIT_AGENT_TOKEN\n"
                                       "host: web1\n");

    assert_string_equal(cfg->server, "https://opsbell.example.com");
    assert_int_equal(cfg->token.len, strlen(TOKEN));
    assert_string_equal(cfg->host, "web1");
    assert_string_equal(cfg->state_dir, AGENT_DEFAULT_STATE_DIR);
    assert_string_equal(cfg->keys_cache_dir, "/var/lib/opsbell/keys");
    assert_int_equal(cfg->poll_interval_s, 15);
    assert_null(cfg->trusted_user_ca_keys);
    assert_null(cfg->revoked_keys);
    assert_int_equal(cfg->nftables.enabled, 0);
    agent_config_free(cfg);
}

static void test_config_full(void **state)
{
    struct agent_config *cfg;
    struct config view;

    cfg = load_ok("server: http://127.0.0.1:8080\n"
                  "token: env:OPSBELL_UNIT_AGENT_TOKEN\n"
                  "host: web1.example.com\n"
                  "state_dir: state\n"
                  "poll_interval: 2m\n"
                  "log_level: debug\n"
                  "keys:\n  cache_dir: /var/cache/k\n"
                  "ssh:\n  trusted_user_ca_keys: /etc/ssh/ca.pub\n  revoked_keys: krl\n"
                  "nftables:\n  table: obt\n  port: 2222\n  drop_others: false\n"
                  "  max_prefix_v4: 16\n  max_prefix_v6: 64\n");
    assert_string_equal(cfg->state_dir, "/etc/opsbell/state");
    assert_int_equal(cfg->poll_interval_s, 120);
    assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(cfg->keys_cache_dir, "/var/cache/k");
    assert_string_equal(cfg->trusted_user_ca_keys, "/etc/ssh/ca.pub");
    assert_string_equal(cfg->revoked_keys, "/etc/opsbell/krl");
    agent_config_enforcer_view(cfg, &view);
    assert_int_equal(view.enforcers.nftables.enabled, 1);
    assert_string_equal(view.enforcers.nftables.table, "obt");
    assert_int_equal(view.enforcers.nftables.port, 2222);
    assert_int_equal(view.enforcers.nftables.drop_others, 0);
    assert_int_equal(view.enforcers.nftables.max_prefix_v4, 16);
    assert_int_equal(view.enforcers.nftables.max_prefix_v6, 64);
    agent_config_free(cfg);

    /* `nftables:` alone: enforce with the defaults. */
    cfg = load_ok("server: https://o.example\ntoken: env:OPSBELL_UNIT_AGENT_TOKEN\nhost: h\n"
                  "nftables:\n");
    assert_int_equal(cfg->nftables.enabled, 1);
    assert_null(cfg->nftables.table);
    assert_int_equal(cfg->nftables.port, 22);
    assert_int_equal(cfg->nftables.drop_others, 1);
    assert_int_equal(cfg->nftables.max_prefix_v4, 24);
    agent_config_free(cfg);
}

#define BASE "server: https://o.example\ntoken: env:OPSBELL_UNIT_AGENT_TOKEN\nhost: h\n"

static void test_config_errors(void **state)
{
    load_fails_at(BASE "colour: blue\n", 4, 1, "unknown key 'colour'");
    load_fails_at(BASE "ssh:\n  revoked: x\n", 5, 3, "unknown key 'revoked' in ssh");
    load_fails_at(BASE "nftables:\n  port: 0\n", 5, 9, "from 1 to 65535");
    load_fails_at(BASE "nftables:\n  port: 22x\n", 5, 9, "from 1 to 65535");
    load_fails_at(BASE "nftables:\n  table: 1bad\n", 5, 10, "nftables table");
    load_fails_at(BASE "nftables:\n  drop_others: yes\n", 5, 16, "true or false");
    load_fails_at(BASE "nftables:\n  max_prefix_v4: 4\n", 5, 18, "8 to 32");
    load_fails_at(BASE "nftables: [1]\n", 4, 11, "nftables must be a mapping");
    load_fails_at(BASE "poll_interval: 0s\n", 4, 16, "1s to 1h");
    load_fails_at(BASE "poll_interval: 2h\n", 4, 16, "1s to 1h");
    load_fails_at(BASE "poll_interval: soon\n", 4, 16, "1s to 1h");
    load_fails_at(BASE "log_level: loud\n", 4, 12, "debug, info");
    load_fails_at(BASE "host: h2\n", 4, 1, "duplicate key 'host'");
    load_fails_at(BASE "keys: /x\n", 4, 7, "keys must be a mapping");
    load_fails_at(BASE "state_dir:\n", 4, 11, "state_dir needs a value");
    load_fails_at(BASE "state_dir: [a, b]\n", 4, 12, "single value");
    load_fails_at("server: https://o.example\ntoken: " TOKEN "\nhost: h\n", 2, 8,
                  "env:NAME or file:PATH");
    load_fails_at("server: https://o.example\ntoken: env:OPSBELL_UNIT_AGENT_MISSING\nhost: h\n", 2,
                  8, "OPSBELL_UNIT_AGENT_MISSING");
    load_fails_at("server: https://o.example\ntoken: env:OPSBELL_UNIT_AGENT_SPACE\nhost: h\n", 2, 8,
                  "space");
    load_fails_at("server: https://o.example\ntoken: file:/nonexistent/token\nhost: h\n", 2, 8,
                  "/nonexistent/token");
    load_fails_at("server: ftp://o.example\ntoken: env:OPSBELL_UNIT_AGENT_TOKEN\nhost: h\n", 1, 9,
                  "http:// or https://");
    load_fails_at("server: https://o.example/?a=b\ntoken: env:OPSBELL_UNIT_AGENT_TOKEN\n", 1, 9,
                  "no query");
    load_fails_at("server: https://o.example\ntoken: env:OPSBELL_UNIT_AGENT_TOKEN\nhost: Web_1\n",
                  3, 7, "host 'Web_1'");
    load_fails_at("token: env:OPSBELL_UNIT_AGENT_TOKEN\nhost: h\n", 1, 1, "server: is required");
    load_fails_at("server: https://o.example\nhost: h\n", 1, 1, "token: is required");
    load_fails_at("", 1, 1, "empty file");
    load_fails_at("- a\n- b\n", 1, 1, "must be a mapping");
    load_fails_at(BASE "---\nhost: x\n", 5, 1, "more than one YAML document");
    load_fails_at(BASE "ssh: {trusted_user_ca_keys: [}\n", 4, 30, "YAML syntax error");
    load_fails_at(BASE "state_dir: \"a\\x01\"\n", 4, 12, "control character");
}

static void test_config_file(void **state)
{
    char dir[] = "/tmp/opsbell-agent-unit-XXXXXX", path[256], tok[256];
    struct config_diags diags = {0};
    struct agent_config *cfg = NULL;
    FILE *fp;

    assert_non_null(mkdtemp(dir));
    snprintf(tok, sizeof(tok), "%s/token", dir);
    fp = fopen(tok, "w");
    assert_non_null(fp);
    fputs(TOKEN "\n", fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/agent.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("server: https://o.example\ntoken: file:token\nhost: h\nkeys:\n  cache_dir: k\n", fp);
    fclose(fp);
    assert_int_equal(agent_config_load(path, &cfg, &diags), 0);
    assert_int_equal(cfg->token.len, strlen(TOKEN)); /* the trailing newline is dropped */
    assert_string_equal(cfg->base_dir, dir);
    snprintf(tok, sizeof(tok), "%s/k", dir);
    assert_string_equal(cfg->keys_cache_dir, tok);
    agent_config_free(cfg);
    unlink(path);
    snprintf(tok, sizeof(tok), "%s/token", dir);
    unlink(tok);
    rmdir(dir);
    assert_int_equal(agent_config_load(path, &cfg, &diags), OB_EIO);
    assert_int_equal(diags.count, 1);
    config_diags_release(&diags);
}

/* ---- the state document ------------------------------------------------------------- */

static const char *good_state =
    "{\"host\": \"web1\", \"poll_seconds\": 15, \"future\": {\"x\": 1},"
    " \"entries\": [{\"id\": \"grant:7\", \"cidr\": \"198.51.100.7\", \"expires_at\": "
    "1764043200000, \"description\": \"breakglass #7 alice\"},"
    " {\"id\": \"allow:bob:2001:db8::7/128\", \"cidr\": \"2001:db8::7/128\", \"expires_at\": "
    "1764086400000}],"
    " \"keys\": [{\"login\": \"zed\", \"key\": \"" ED25519 "\"},"
    "  {\"login\": \"alice\", \"key\": \"" ED25519 " first\"},"
    "  {\"login\": \"alice\", \"key\": \"ssh-rsa AAAAB3NzaC1yc2E= bad\"},"
    "  {\"login\": \"alice\", \"key\": \"" ED25519 " second\"}],"
    " \"ssh_ca\": \"" ED25519 "\", \"krl\": \"" KRL_B64 "\"}";

static void test_state_accepts(void **state)
{
    struct agent_state st;
    struct ob_error err = {0};

    assert_int_equal(agent_state_parse(good_state, strlen(good_state), "web1", &st, &err), 0);
    assert_string_equal(st.host, "web1");
    assert_int_equal(st.poll_seconds, 15);
    assert_int_equal(st.entry_count, 2);
    assert_string_equal(st.entries[0].id, "grant:7");
    assert_string_equal(st.entries[0].cidr, "198.51.100.7/32");
    assert_true(st.entries[0].expires_at_ms == 1764043200000LL);
    assert_string_equal(st.entries[0].description, "breakglass #7 alice");
    assert_string_equal(st.entries[1].cidr, "2001:db8::7/128");
    /* By login, each login's keys in document order; the bad line is left out. */
    assert_int_equal(st.key_count, 3);
    assert_int_equal(st.keys_dropped, 1);
    assert_string_equal(st.keys[0].login, "alice");
    assert_non_null(strstr(st.keys[0].line, " first"));
    assert_string_equal(st.keys[1].login, "alice");
    assert_non_null(strstr(st.keys[1].line, " second"));
    assert_string_equal(st.keys[2].login, "zed");
    assert_string_equal(st.keys[2].line, ED25519);
    assert_string_equal(st.ssh_ca, ED25519);
    assert_int_equal(st.krl_len, 12);
    assert_memory_equal(st.krl, "SSHKRL\n\0", 8);
    assert_int_equal(agent_state_check_policy(&st, 24, 48, &err), 0);
    agent_state_release(&st);
    agent_state_release(&st); /* released twice: harmless */

    /* Nulls and empty lists; no poll_seconds. */
    {
        const char *doc = "{\"host\":\"web1\",\"entries\":[],\"keys\":[],\"ssh_ca\":null,"
                          "\"krl\":null}";
        assert_int_equal(agent_state_parse(doc, strlen(doc), NULL, &st, &err), 0);
        assert_int_equal(st.entry_count, 0);
        assert_int_equal(st.key_count, 0);
        assert_null(st.ssh_ca);
        assert_null(st.krl);
        assert_int_equal(st.poll_seconds, 0);
        agent_state_release(&st);
    }
}

static void refused(const char *doc, const char *want)
{
    struct agent_state st;
    struct ob_error err = {0};
    int rc = agent_state_parse(doc, strlen(doc), "web1", &st, &err);

    if (rc == 0) {
        rc = agent_state_check_policy(&st, 24, 48, &err);
        agent_state_release(&st);
    }
    if (rc == 0 || strstr(err.msg, want) == NULL)
        fprintf(stderr, "document %s: rc %d, '%s' (wanted '%s')\n", doc, rc, err.msg, want);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err.msg, want));
    assert_null(strchr(err.msg, '\n'));
    assert_null(st.entries);
    assert_null(st.keys);
}

#define S(rest) "{\"host\":\"web1\"," rest "}"
#define OK_REST "\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":null"

static void test_state_refuses(void **state)
{
    refused("", "not JSON");
    refused("{", "not JSON");
    refused("[]", "not a JSON object");
    refused("\"web1\"", "not JSON"); /* jansson refuses a bare string without JSON_DECODE_ANY */
    refused("{\"host\":\"web1\",\"host\":\"web1\"}", "duplicate");
    refused("{\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":null}", "\"host\"");
    refused("{\"host\":7," OK_REST "}", "\"host\"");
    refused("{\"host\":\"web2\"," OK_REST "}", "for host \"web2\"");
    refused("{\"host\":\"web\\u00001\"," OK_REST "}", "not JSON");
    refused(S("\"entries\":{},\"keys\":[],\"ssh_ca\":null,\"krl\":null"), "\"entries\" must be");
    refused(S("\"keys\":[],\"ssh_ca\":null,\"krl\":null"), "\"entries\" must be");
    refused(S("\"entries\":[],\"keys\":null,\"ssh_ca\":null,\"krl\":null"), "\"keys\" must be");
    refused(S("\"entries\":[],\"keys\":[]"), "\"ssh_ca\" and \"krl\" must be present");
    refused(S("\"entries\":[{\"id\":\"g\",\"cidr\":\"300.1.1.1\",\"expires_at\":1}],\"keys\":[],"
              "\"ssh_ca\":null,\"krl\":null"),
            "\"entries\": entry 0");
    refused(S("\"entries\":[{\"id\":\"g 1\",\"cidr\":\"10.1.1.1\",\"expires_at\":1}],\"keys\":[],"
              "\"ssh_ca\":null,\"krl\":null"),
            "\"entries\": entry 0");
    refused(S("\"entries\":[{\"id\":\"g\",\"cidr\":\"10.1.1.1\",\"expires_at\":\"soon\"}],"
              "\"keys\":[],\"ssh_ca\":null,\"krl\":null"),
            "expires_at");
    refused(S("\"entries\":[{\"id\":\"g\",\"cidr\":\"0.0.0.0/0\",\"expires_at\":1}],\"keys\":[],"
              "\"ssh_ca\":null,\"krl\":null"),
            "too wide");
    refused(S("\"entries\":[{\"id\":\"g\",\"cidr\":\"2001:db8::/32\",\"expires_at\":1}],"
              "\"keys\":[],\"ssh_ca\":null,\"krl\":null"),
            "too wide");
    refused(S("\"entries\":[],\"keys\":[1],\"ssh_ca\":null,\"krl\":null"), "not an object");
    refused(S("\"entries\":[],\"keys\":[{\"login\":\"alice\"}],\"ssh_ca\":null,\"krl\":null"),
            "must be strings");
    refused(S("\"entries\":[],\"keys\":[{\"login\":\"Alice\",\"key\":\"x\"}],\"ssh_ca\":null,"
              "\"krl\":null"),
            "login");
    refused(S("\"entries\":[],\"keys\":[{\"login\":\"9lives\",\"key\":\"x\"}],\"ssh_ca\":null,"
              "\"krl\":null"),
            "login");
    refused(S("\"entries\":[],\"keys\":[{\"login\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
              "\"key\":\"x\"}],\"ssh_ca\":null,\"krl\":null"),
            "login");
    refused(S(OK_REST ",\"poll_seconds\":0"), "poll_seconds");
    refused(S(OK_REST ",\"poll_seconds\":3601"), "poll_seconds");
    refused(S(OK_REST ",\"poll_seconds\":1.5"), "poll_seconds");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":7,\"krl\":null"), "ssh_ca");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":\"ssh-ed25519 AAAA\",\"krl\":null"), "ssh_ca");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":\"command=\\\"x\\\" " ED25519 "\","
              "\"krl\":null"),
            "ssh_ca");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":\"!!!!\""), "not base64");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":\"\""), "not base64");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":\"aGVsbG8gd29ybGQh\""),
            "not an OpenSSH KRL");
    refused(S("\"entries\":[],\"keys\":[],\"ssh_ca\":null,\"krl\":1"), "krl");
    refused(S(OK_REST ",\"x\":[[[[[[[[[[1]]]]]]]]]]"), "nested deeper");
}

static void test_state_caps(void **state)
{
    struct agent_state st;
    struct ob_error err = {0};
    size_t n = AGENT_STATE_MAX_ENTRIES + 1, cap = n * 80 + 200, len = 0;
    char *doc = malloc(cap);

    assert_non_null(doc);
    len += (size_t)snprintf(doc + len, cap - len, "{\"host\":\"web1\",\"entries\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len,
                                "%s{\"id\":\"g%zu\",\"cidr\":\"10.0.0.1\",\"expires_at\":1}",
                                i ? "," : "", i);
    len += (size_t)snprintf(doc + len, cap - len, "],\"keys\":[],\"ssh_ca\":null,\"krl\":null}");
    assert_int_equal(agent_state_parse(doc, len, "web1", &st, &err), OB_ETOOLARGE);
    assert_non_null(strstr(err.msg, "entries"));
    assert_int_equal(agent_state_parse(doc, (size_t)AGENT_STATE_MAX + 1, "web1", &st, &err),
                     OB_ETOOLARGE);
    free(doc);
}

static void test_logins(void **state)
{
    assert_true(agent_login_is_valid("alice"));
    assert_true(agent_login_is_valid("_svc"));
    assert_true(agent_login_is_valid("deploy-1.x_y"));
    assert_true(agent_login_is_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_false(agent_login_is_valid("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(agent_login_is_valid(""));
    assert_false(agent_login_is_valid("Alice"));
    assert_false(agent_login_is_valid("-x"));
    assert_false(agent_login_is_valid("1x"));
    assert_false(agent_login_is_valid("a b"));
    assert_false(agent_login_is_valid("a/b"));
    assert_false(agent_login_is_valid("a:b"));
}

/* ---- ETags ------------------------------------------------------------------------ */

static void etag_ok(const char *value, const char *want)
{
    char out[AGENT_ETAG_MAX + 1];

    assert_int_equal(agent_etag_parse(value, strlen(value), out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void etag_bad(const char *value)
{
    char out[AGENT_ETAG_MAX + 1];

    assert_int_equal(agent_etag_parse(value, strlen(value), out, sizeof(out)), OB_EINVAL);
}

static void test_etags(void **state)
{
    char big[AGENT_ETAG_MAX + 8];

    etag_ok("\"abc\"", "\"abc\"");
    etag_ok(" \"718b24e9\"\r\n", "\"718b24e9\"");
    etag_ok("W/\"v1\"", "W/\"v1\"");
    etag_ok("\"\"", "\"\"");
    etag_bad("");
    etag_bad("abc");
    etag_bad("\"abc");
    etag_bad("\"a\"b\"");
    etag_bad("\"a b\"");
    etag_bad("\"a\x01\"");
    etag_bad("\"caf\xc3\xa9\"");
    etag_bad("w/\"v1\"");
    etag_bad("\"a\"\r\nSet-Cookie: x");
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '"';
    big[AGENT_ETAG_MAX] = '"';
    big[AGENT_ETAG_MAX + 1] = '\0';
    etag_bad(big); /* 129 bytes */
    big[AGENT_ETAG_MAX - 1] = '"';
    big[AGENT_ETAG_MAX] = '\0';
    etag_ok(big, big); /* 128 bytes */
}

/* ---- the cache ------------------------------------------------------------------------ */

static void test_cache(void **state)
{
    char dir[] = "/tmp/opsbell-agent-cache-XXXXXX", sub[128], path[256], etag[AGENT_ETAG_MAX + 1];
    struct agent_state st;
    struct ob_error err = {0};
    struct stat sb;
    int64_t at;
    FILE *fp;

    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err),
                     OB_ENOTFOUND);
    assert_int_equal(agent_cache_store(sub, good_state, strlen(good_state), "\"e1\"", 1234, &err),
                     0);
    snprintf(path, sizeof(path), "%s/" AGENT_STATE_FILE, sub);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err), 0);
    assert_string_equal(etag, "\"e1\"");
    assert_true(at == 1234);
    assert_int_equal(st.entry_count, 2);
    assert_int_equal(st.key_count, 3);
    agent_state_release(&st);

    /* Another host's cache is never applied. */
    assert_int_equal(agent_cache_load(sub, "web2", &st, etag, sizeof(etag), &at, &err), OB_EINVAL);
    assert_string_equal(etag, "");
    assert_non_null(strstr(err.msg, "web2"));

    /* No ETag (the server sent none): the state is kept, no If-None-Match. */
    assert_int_equal(agent_cache_store(sub, good_state, strlen(good_state), "", 5, &err), 0);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err), 0);
    assert_string_equal(etag, "");
    agent_state_release(&st);

    /* A damaged cache is ignored whole. */
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"etag\":\"\\\"e\\\"\",\"fetched_at\":1,\"state\":{\"host\":\"web1\"}}", fp);
    fclose(fp);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err), OB_EINVAL);
    assert_string_equal(etag, "");
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"etag\":", fp);
    fclose(fp);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err), OB_EINVAL);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"etag\":\"no quotes\",\"fetched_at\":1,\"state\":{}}", fp);
    fclose(fp);
    assert_int_equal(agent_cache_load(sub, "web1", &st, etag, sizeof(etag), &at, &err), OB_EINVAL);

    /* agent_write_file / agent_file_equals. */
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_false(agent_file_equals(path, "", 0));
    assert_int_equal(agent_write_file(path, "", 0, 0644, &err), 0);
    assert_true(agent_file_equals(path, "", 0));
    assert_false(agent_file_equals(path, "x", 1));
    assert_int_equal(agent_write_file(path, "abc", 3, 0644, &err), 0);
    assert_true(agent_file_equals(path, "abc", 3));
    assert_false(agent_file_equals(path, "ab", 2));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    snprintf(path, sizeof(path), "%s/missing/f", dir);
    assert_int_equal(agent_write_file(path, "abc", 3, 0644, &err), OB_EIO);
    assert_non_null(strstr(err.msg, "cannot create"));

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_config_defaults, setup_env),
        cmocka_unit_test_setup(test_config_full, setup_env),
        cmocka_unit_test_setup(test_config_errors, setup_env),
        cmocka_unit_test_setup(test_config_file, setup_env),
        cmocka_unit_test(test_state_accepts),
        cmocka_unit_test(test_state_refuses),
        cmocka_unit_test(test_state_caps),
        cmocka_unit_test(test_logins),
        cmocka_unit_test(test_etags),
        cmocka_unit_test(test_cache),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
