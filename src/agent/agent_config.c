/*
 * agent_config.c - agent.yaml (docs/AGENT.md).
 *
 * The file is small and flat (a few scalars and three sections of scalars),
 * so it is read with libyaml's document API and checked against a table of
 * keys per section: every unknown key, missing value and bad value is
 * reported as FILE:LINE:COL: message, and one problem fails the whole load.
 */
#include "agent/agent.h"

#include "keys/keys.h"
#include "util/error.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

struct loader {
    const char *display;
    const char *base_dir;
    yaml_document_t *doc;
    struct config_diags *diags;
    int failed;
    int oom;
};

static void report(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->failed = 1;
    if (config_diags_add(l->diags, l->display,
                         node != NULL ? (unsigned)node->start_mark.line + 1 : 0,
                         node != NULL ? (unsigned)node->start_mark.column + 1 : 0, "%s", msg) != 0)
        l->oom = 1;
}

static char *dup_or_oom(struct loader *l, const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        l->oom = 1;
    return p;
}

/* The scalar text of node, or NULL after reporting `what` needs a scalar. */
static const char *scalar(struct loader *l, const yaml_node_t *node, const char *what)
{
    const char *s;

    if (node->type != YAML_SCALAR_NODE) {
        report(l, node, "%s must be a single value, not a %s", what,
               node->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return NULL;
    }
    s = (const char *)node->data.scalar.value;
    if (node->data.scalar.length == 0 || (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                                          (strcmp(s, "~") == 0 || strcmp(s, "null") == 0))) {
        report(l, node, "%s needs a value", what);
        return NULL;
    }
    if (strlen(s) != node->data.scalar.length) {
        report(l, node, "%s contains a NUL byte", what);
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            report(l, node, "%s contains a control character", what);
            return NULL;
        }
    }
    return s;
}

static char *abs_path(struct loader *l, const char *path)
{
    size_t len;
    char *out;

    if (path[0] == '/' || l->base_dir == NULL)
        return dup_or_oom(l, path);
    len = strlen(l->base_dir) + strlen(path) + 2;
    out = malloc(len);
    if (out == NULL) {
        l->oom = 1;
        return NULL;
    }
    snprintf(out, len, "%s/%s", l->base_dir, path);
    return out;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (*s == '\0' || strlen(s) > 10)
        return OB_EINVAL;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return OB_EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < min || v > max)
        return OB_EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0)
        *out = 0;
    else
        return OB_EINVAL;
    return 0;
}

/* [a-z0-9.-], 1..AGENT_HOST_MAX, as the server's host groups name hosts. */
static int host_is_valid(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > AGENT_HOST_MAX)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == len;
}

/* An http:// or https:// URL without spaces, fragments or a query. */
static int url_is_valid(const char *s)
{
    size_t len = strlen(s);
    const char *rest;

    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return 0;
    if (len > AGENT_URL_MAX || *rest == '\0' || *rest == '/')
        return 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (isspace((unsigned char)*p) || *p == '?' || *p == '#' || (unsigned char)*p >= 0x7f)
            return 0;
    }
    return 1;
}

/* ---- sections ------------------------------------------------------------------- */

typedef void (*key_fn)(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                       const yaml_node_t *value);

struct key_def {
    const char *name;
    key_fn fn;
};

static void k_server(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                     const yaml_node_t *v)
{
    const char *s = scalar(l, v, "server");
    size_t len;

    if (s == NULL)
        return;
    if (!url_is_valid(s)) {
        report(l, v, "server '%s' is not an http:// or https:// URL (no query, no spaces)", s);
        return;
    }
    cfg->server = dup_or_oom(l, s);
    if (cfg->server != NULL) {
        len = strlen(cfg->server);
        while (len > 0 && cfg->server[len - 1] == '/')
            cfg->server[--len] = '\0';
    }
}

static void k_token(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                    const yaml_node_t *v)
{
    const char *s = scalar(l, v, "token");
    struct ob_error err;

    if (s == NULL)
        return;
    if ((strncmp(s, "env:", 4) != 0 && strncmp(s, "file:", 5) != 0) || !secret_ref_is_valid(s)) {
        report(l, v, "token must be a reference, env:NAME or file:PATH (never the token itself)");
        return;
    }
    ob_error_clear(&err);
    if (secret_resolve(s, l->base_dir, &cfg->token, &err) != 0) {
        report(l, v, "token: %s", err.msg);
        return;
    }
    if (cfg->token.len == 0 || cfg->token.len > 512) {
        report(l, v, "token: %s holds %s", s, cfg->token.len == 0 ? "nothing" : "over 512 bytes");
        return;
    }
    for (size_t i = 0; i < cfg->token.len; i++) {
        unsigned char c = (unsigned char)cfg->token.value[i];
        if (c <= 0x20 || c >= 0x7f) {
            /* It goes into an HTTP header: a space or a newline would split it. */
            report(l, v, "token: %s holds a space, a control character or non-ASCII", s);
            return;
        }
    }
}

static void k_host(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                   const yaml_node_t *v)
{
    const char *s = scalar(l, v, "host");

    if (s == NULL)
        return;
    if (!host_is_valid(s)) {
        report(l, v, "host '%s' must be 1..%d of a-z, 0-9, '.' and '-'", s, AGENT_HOST_MAX);
        return;
    }
    cfg->host = dup_or_oom(l, s);
}

static void k_state_dir(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                        const yaml_node_t *v)
{
    const char *s = scalar(l, v, "state_dir");

    if (s != NULL)
        cfg->state_dir = abs_path(l, s);
}

static void k_poll_interval(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                            const yaml_node_t *v)
{
    const char *s = scalar(l, v, "poll_interval");
    uint32_t secs;

    if (s == NULL)
        return;
    if (config_parse_duration(s, &secs) != 0 || secs < 1 || secs > 3600) {
        report(l, v, "poll_interval '%s' must be a duration from 1s to 1h (e.g. 15s)", s);
        return;
    }
    cfg->poll_interval_s = secs;
}

static void k_ca_file(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                      const yaml_node_t *v)
{
    const char *s = scalar(l, v, "ca_file");

    if (s != NULL)
        cfg->ca_file = abs_path(l, s);
}

static void k_log_level(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                        const yaml_node_t *v)
{
    const char *s = scalar(l, v, "log_level");

    if (s != NULL && log_level_parse(s, &cfg->log_level) != 0)
        report(l, v, "log_level '%s' must be debug, info, warn or error", s);
}

static void k_cache_dir(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                        const yaml_node_t *v)
{
    const char *s = scalar(l, v, "keys.cache_dir");

    if (s != NULL) {
        free(cfg->keys_cache_dir);
        cfg->keys_cache_dir = abs_path(l, s);
    }
}

static void k_trusted(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                      const yaml_node_t *v)
{
    const char *s = scalar(l, v, "ssh.trusted_user_ca_keys");

    if (s != NULL)
        cfg->trusted_user_ca_keys = abs_path(l, s);
}

static void k_revoked(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                      const yaml_node_t *v)
{
    const char *s = scalar(l, v, "ssh.revoked_keys");

    if (s != NULL)
        cfg->revoked_keys = abs_path(l, s);
}

static void k_nft_table(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                        const yaml_node_t *v)
{
    static const char ident[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    const char *s = scalar(l, v, "nftables.table");
    size_t len;

    if (s == NULL)
        return;
    len = strlen(s);
    if (len > 31 || strspn(s, ident) != len || (s[0] >= '0' && s[0] <= '9')) {
        report(l, v,
               "nftables table '%s' must be 1..31 letters, digits or _ (not starting with a "
               "digit)",
               s);
        return;
    }
    cfg->nftables.table = dup_or_oom(l, s);
}

static void k_nft_port(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                       const yaml_node_t *v)
{
    const char *s = scalar(l, v, "nftables.port");
    unsigned long n;

    if (s == NULL)
        return;
    if (parse_uint(s, 1, 65535, &n) != 0)
        report(l, v, "nftables port '%s' is not a number from 1 to 65535", s);
    else
        cfg->nftables.port = (uint16_t)n;
}

static void k_nft_drop(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                       const yaml_node_t *v)
{
    const char *s = scalar(l, v, "nftables.drop_others");

    if (s != NULL && parse_bool(s, &cfg->nftables.drop_others) != 0)
        report(l, v, "nftables drop_others '%s' is not true or false", s);
}

static void k_nft_v4(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                     const yaml_node_t *v)
{
    const char *s = scalar(l, v, "nftables.max_prefix_v4");
    unsigned long n;

    if (s == NULL)
        return;
    if (parse_uint(s, 8, 32, &n) != 0)
        report(l, v, "nftables max_prefix_v4 '%s' is not a prefix length from 8 to 32", s);
    else
        cfg->nftables.max_prefix_v4 = (unsigned)n;
}

static void k_nft_v6(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                     const yaml_node_t *v)
{
    const char *s = scalar(l, v, "nftables.max_prefix_v6");
    unsigned long n;

    if (s == NULL)
        return;
    if (parse_uint(s, 16, 128, &n) != 0)
        report(l, v, "nftables max_prefix_v6 '%s' is not a prefix length from 16 to 128", s);
    else
        cfg->nftables.max_prefix_v6 = (unsigned)n;
}

static const struct key_def keys_keys[] = {{"cache_dir", k_cache_dir}, {NULL, NULL}};
static const struct key_def ssh_keys[] = {
    {"trusted_user_ca_keys", k_trusted}, {"revoked_keys", k_revoked}, {NULL, NULL}};
static const struct key_def nft_keys[] = {{"table", k_nft_table},      {"port", k_nft_port},
                                          {"drop_others", k_nft_drop}, {"max_prefix_v4", k_nft_v4},
                                          {"max_prefix_v6", k_nft_v6}, {NULL, NULL}};

static void walk_mapping(struct loader *l, struct agent_config *cfg, const yaml_node_t *map,
                         const char *section, const struct key_def *defs);

static void k_keys(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                   const yaml_node_t *v)
{
    walk_mapping(l, cfg, v, "keys", keys_keys);
}

static void k_ssh(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                  const yaml_node_t *v)
{
    walk_mapping(l, cfg, v, "ssh", ssh_keys);
}

static void k_nftables(struct loader *l, struct agent_config *cfg, const yaml_node_t *key,
                       const yaml_node_t *v)
{
    cfg->nftables.enabled = 1;
    /* `nftables:` alone (null) means the defaults. */
    if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (v->data.scalar.length == 0 || strcmp((const char *)v->data.scalar.value, "~") == 0 ||
         strcmp((const char *)v->data.scalar.value, "null") == 0))
        return;
    walk_mapping(l, cfg, v, "nftables", nft_keys);
}

static const struct key_def top_keys[] = {{"server", k_server},
                                          {"token", k_token},
                                          {"host", k_host},
                                          {"state_dir", k_state_dir},
                                          {"poll_interval", k_poll_interval},
                                          {"ca_file", k_ca_file},
                                          {"log_level", k_log_level},
                                          {"keys", k_keys},
                                          {"ssh", k_ssh},
                                          {"nftables", k_nftables},
                                          {NULL, NULL}};

static void walk_mapping(struct loader *l, struct agent_config *cfg, const yaml_node_t *map,
                         const char *section, const struct key_def *defs)
{
    if (map->type != YAML_MAPPING_NODE) {
        if (section != NULL)
            report(l, map, "%s must be a mapping of keys", section);
        else
            report(l, map, "agent.yaml must be a mapping of keys (server:, token:, ...)");
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const struct key_def *d;
        const char *name;

        if (k == NULL || v == NULL)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            report(l, k, "a key must be a plain name");
            continue;
        }
        name = (const char *)k->data.scalar.value;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *prev = yaml_document_get_node(l->doc, q->key);
            if (prev != NULL && prev->type == YAML_SCALAR_NODE &&
                strcmp((const char *)prev->data.scalar.value, name) == 0) {
                report(l, k, "duplicate key '%s'%s%s", name, section ? " in " : "",
                       section ? section : "");
                name = NULL;
                break;
            }
        }
        if (name == NULL)
            continue;
        for (d = defs; d->name != NULL; d++) {
            if (strcmp(d->name, name) == 0)
                break;
        }
        if (d->name == NULL) {
            char known[256] = "";
            size_t used = 0;
            for (const struct key_def *e = defs; e->name != NULL && used < sizeof(known); e++)
                used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                                         e == defs ? "" : ", ", e->name);
            report(l, k, "unknown key '%s'%s%s (known: %s)", name, section ? " in " : "",
                   section ? section : "", known);
            continue;
        }
        d->fn(l, cfg, k, v);
    }
}

/* ---- loading -------------------------------------------------------------------------- */

static int default_host(struct loader *l, struct agent_config *cfg, const yaml_node_t *root)
{
    char name[HOST_NAME_MAX + 1];

    if (gethostname(name, sizeof(name)) != 0) {
        report(l, root, "host is not set and gethostname() failed: %s", strerror(errno));
        return OB_EINVAL;
    }
    name[sizeof(name) - 1] = '\0';
    for (char *p = name; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!host_is_valid(name)) {
        report(l, root,
               "host is not set and this machine's name '%s' is not a-z, 0-9, '.', '-': "
               "set host:",
               name);
        return OB_EINVAL;
    }
    cfg->host = dup_or_oom(l, name);
    return 0;
}

int agent_config_load_buffer(const char *data, size_t len, const char *display,
                             const char *base_dir, struct agent_config **out,
                             struct config_diags *diags)
{
    struct loader l = {.display = display, .base_dir = base_dir, .diags = diags};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    struct agent_config *cfg;
    yaml_node_t *root;
    int have_doc = 0, rc = 0;

    *out = NULL;
    if (len > AGENT_CONFIG_MAX) {
        config_diags_add(diags, display, 0, 0, "larger than %d bytes", AGENT_CONFIG_MAX);
        return OB_ETOOLARGE;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || !yaml_parser_initialize(&parser)) {
        free(cfg);
        return OB_ENOMEM;
    }
    cfg->poll_interval_s = AGENT_DEFAULT_POLL_S;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->nftables.port = 22;
    cfg->nftables.drop_others = 1;
    cfg->nftables.max_prefix_v4 = CIDR_DEFAULT_MAX_PREFIX_V4;
    cfg->nftables.max_prefix_v6 = CIDR_DEFAULT_MAX_PREFIX_V6;
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        config_diags_add(diags, display, (unsigned)parser.problem_mark.line + 1,
                         (unsigned)parser.problem_mark.column + 1, "YAML syntax error: %s%s%s",
                         parser.problem != NULL ? parser.problem : "malformed",
                         parser.context != NULL ? " " : "",
                         parser.context != NULL ? parser.context : "");
        rc = OB_EINVAL;
        goto out;
    }
    have_doc = 1;
    l.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        config_diags_add(diags, display, 1, 1, "empty file: server: and token: are required");
        rc = OB_EINVAL;
        goto out;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        config_diags_add(diags, display, (unsigned)parser.problem_mark.line + 1,
                         (unsigned)parser.problem_mark.column + 1, "YAML syntax error: %s",
                         parser.problem != NULL ? parser.problem : "malformed");
        rc = OB_EINVAL;
        goto out;
    } else {
        yaml_node_t *second = yaml_document_get_root_node(&extra);
        if (second != NULL)
            report(&l, second, "more than one YAML document");
        yaml_document_delete(&extra);
    }
    walk_mapping(&l, cfg, root, NULL, top_keys);
    if (root->type == YAML_MAPPING_NODE) {
        if (cfg->server == NULL && !l.failed)
            report(&l, root, "server: is required (the opsbell server's URL)");
        if (cfg->token.value == NULL && !l.failed)
            report(&l, root, "token: is required (env:NAME or file:PATH of an agent token)");
    }
    if (!l.failed && cfg->host == NULL)
        default_host(&l, cfg, root);
    if (cfg->state_dir == NULL)
        cfg->state_dir = dup_or_oom(&l, AGENT_DEFAULT_STATE_DIR);
    if (cfg->keys_cache_dir == NULL)
        cfg->keys_cache_dir = dup_or_oom(&l, KEYS_DEFAULT_CACHE_DIR);
    if (l.oom)
        rc = OB_ENOMEM;
    else if (l.failed)
        rc = OB_EINVAL;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0) {
        agent_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int agent_config_load(const char *path, struct agent_config **out, struct config_diags *diags)
{
    char *data = NULL, *copy = NULL, dir[PATH_MAX];
    size_t len = 0;
    FILE *fp;
    int rc;

    *out = NULL;
    fp = fopen(path, "rb");
    if (fp == NULL) {
        config_diags_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        return OB_EIO;
    }
    data = malloc(AGENT_CONFIG_MAX + 1);
    if (data == NULL) {
        fclose(fp);
        return OB_ENOMEM;
    }
    len = fread(data, 1, AGENT_CONFIG_MAX + 1, fp);
    if (ferror(fp)) {
        config_diags_add(diags, path, 0, 0, "cannot read: %s", strerror(errno));
        fclose(fp);
        free(data);
        return OB_EIO;
    }
    fclose(fp);
    copy = strdup(path);
    if (copy == NULL) {
        free(data);
        return OB_ENOMEM;
    }
    if (realpath(dirname(copy), dir) == NULL)
        snprintf(dir, sizeof(dir), ".");
    rc = agent_config_load_buffer(data, len, path, dir, out, diags);
    if (rc == 0) {
        (*out)->path = strdup(path);
        (*out)->base_dir = strdup(dir);
        if ((*out)->path == NULL || (*out)->base_dir == NULL) {
            agent_config_free(*out);
            *out = NULL;
            rc = OB_ENOMEM;
        }
    }
    free(copy);
    free(data);
    return rc;
}

void agent_config_free(struct agent_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->base_dir);
    free(cfg->server);
    secret_release(&cfg->token);
    free(cfg->host);
    free(cfg->state_dir);
    free(cfg->ca_file);
    free(cfg->keys_cache_dir);
    free(cfg->trusted_user_ca_keys);
    free(cfg->revoked_keys);
    free(cfg->nftables.table);
    free(cfg);
}

void agent_config_enforcer_view(const struct agent_config *cfg, struct config *out)
{
    memset(out, 0, sizeof(*out));
    out->enforcers.nftables = cfg->nftables;
}
