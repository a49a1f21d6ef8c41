/*
 * cmd_keys.c - `opsbell keys sync|list|authorized-keys` (docs/KEYS.md).
 *
 * `keys authorized-keys USER` is sshd's AuthorizedKeysCommand: it runs for
 * every login attempt, as an unprivileged user, and sshd waits for it with
 * no timeout.  So it reads only the local cache file (never the network,
 * the database or the full configuration), exits 0 with nothing printed
 * for an unknown user or a missing cache, and says why on stderr.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "keys/keys.h"
#include "util/error.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_keys_sync(int argc, char **argv);
int cmd_keys_list(int argc, char **argv);
int cmd_keys_authorized_keys(int argc, char **argv);

static void keys_reset_getopt(void)
{
    cli_reset_getopt();
}

/* The cache file: --cache, else the configuration's keys.cache_dir. */
static int keys_cache_path(const char *cache, const char *config, char *buf, size_t cap,
                           struct ob_error *err)
{
    if (cache != NULL) {
        if ((size_t)snprintf(buf, cap, "%s", cache) >= cap)
            return ob_fail(err, OB_EINVAL, "cache path too long");
        return 0;
    }
    return keys_cache_path_for(config, buf, cap, err);
}

int cmd_keys_authorized_keys(int argc, char **argv)
{
    return keys_authorized_keys_main(argc, argv);
}

static void keys_print_change(char sign, const struct keys_entry *e)
{
    struct keys_key k;

    if (keys_parse_line(e->key, strlen(e->key), &k, NULL) == 0) {
        printf("%c %s %s %s%s%s\n", sign, e->user, k.type, k.fingerprint,
               k.comment[0] != '\0' ? " " : "", k.comment);
        keys_key_release(&k);
    } else {
        printf("%c %s %s\n", sign, e->user, e->key);
    }
}

int cmd_keys_sync(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct config_diags diags = {0};
    struct keys_sync_report r;
    struct config *cfg = NULL;
    struct ob_error err = {0};
    const char *config = NULL;
    int c, quiet = 0, rc;

    keys_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("keys", "sync"), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("keys sync", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("keys sync", "unexpected argument '%s'", argv[optind]);
    config = cli_config_path(config);
    if (config_load(config, &cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return EXIT_FAIL;
    }
    config_diags_release(&diags);
    rc = keys_sync(cfg, &r, &err);
    if (rc != 0) {
        config_unref(cfg);
        keys_sync_report_release(&r);
        return cli_fail("keys sync failed: %s", err.msg);
    }
    for (size_t i = 0; i < r.problem_count; i++)
        fprintf(stderr, "opsbell: warning: %s\n", r.problems[i].message);
    for (size_t i = 0; !quiet && i < r.removed.count; i++)
        keys_print_change('-', &r.removed.items[i]);
    for (size_t i = 0; !quiet && i < r.added.count; i++)
        keys_print_change('+', &r.added.items[i]);
    if (!quiet)
        printf("synced %.12s: %zu users, %zu keys (%zu added, %zu removed, %zu problems)\n",
               r.commit, r.users, r.keys, r.added.count, r.removed.count, r.problem_count);
    keys_sync_report_release(&r);
    config_unref(cfg);
    return EXIT_OK;
}

int cmd_keys_list(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"cache", required_argument, NULL, 'C'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static const char *const headers[] = {"USER", "TYPE", "BITS", "FINGERPRINT", "COMMENT"};
    const char *config = NULL, *cache = NULL, *user = NULL;
    struct keys_entries e = {0};
    struct ob_error err = {0};
    struct table t;
    json_t *arr = NULL;
    char path[4096];
    int c, json = 0, rc;

    keys_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:C:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'C':
            cache = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("keys", "list"), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("keys list", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        user = argv[optind++];
    if (optind < argc)
        return cli_usage_error("keys list", "unexpected argument '%s'", argv[optind]);
    if (keys_cache_path(cache, config, path, sizeof(path), &err) != 0)
        return cli_fail("%s", err.msg);
    rc = keys_cache_read(path, &e, &err);
    if (rc != 0)
        return cli_fail("%s%s", err.msg,
                        rc == OB_ENOTFOUND ? " (run `opsbell keys sync` first)" : "");
    table_init(&t, 5, headers);
    if (json)
        arr = json_array();
    for (size_t i = 0; i < e.count; i++) {
        struct keys_key k;
        char bits[16];
        if (user != NULL && strcmp(e.items[i].user, user) != 0)
            continue;
        if (keys_parse_line(e.items[i].key, strlen(e.items[i].key), &k, NULL) != 0)
            continue; /* written by a sync, so valid; never print a broken line */
        snprintf(bits, sizeof(bits), "%u", k.bits);
        if (json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "user",
                                                 e.items[i].user, "type", k.type, "bits",
                                                 (int)k.bits, "fingerprint", k.fingerprint,
                                                 "comment", k.comment, "key", e.items[i].key));
        } else {
            const char *cells[] = {e.items[i].user, k.type, bits, k.fingerprint,
                                   k.comment[0] != '\0' ? k.comment : NULL};
            table_add_row(&t, cells);
        }
        keys_key_release(&k);
    }
    if (json)
        cli_print_json(arr);
    else
        table_print(&t, stdout);
    json_decref(arr);
    table_release(&t);
    keys_entries_release(&e);
    return EXIT_OK;
}
