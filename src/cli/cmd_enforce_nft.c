/*
 * cmd_enforce_nft.c - `opsbell enforce nft apply FILE | list | flush`: drive an
 * enforcer by hand (operators, tests, the benchmark).  Runs on this host,
 * needs CAP_NET_ADMIN; no server involved.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "enforce/enforce.h"
#include "util/error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENFORCE_FILE_MAX    (16u * 1024 * 1024)
#define ENFORCE_ENTRIES_MAX 100000

int cmd_enforce_nft(int argc, char **argv);

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (fp == NULL)
        return -1;
    for (;;) {
        size_t got;

        if (n + 65536 > cap) {
            char *p;

            cap = cap ? cap * 2 : 65536;
            if (cap > ENFORCE_FILE_MAX + 65536 || (p = realloc(buf, cap + 1)) == NULL) {
                free(buf);
                if (fp != stdin)
                    fclose(fp);
                return -2;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (fp != stdin)
        fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int do_apply(const struct enforcer *enf, void *ctx, const char *file, int timed)
{
    struct access_entry *entries = NULL;
    struct ob_error err;
    char *text = NULL;
    size_t len = 0, n = 0;
    double t0;
    int rc;

    ob_error_clear(&err);
    rc = read_file(file, &text, &len);
    if (rc != 0)
        return cli_fail("%s: %s", file, rc == -2 ? "too large" : strerror(errno));
    rc = access_entries_from_json(text, len, ENFORCE_ENTRIES_MAX, &entries, &n, &err);
    free(text);
    if (rc != 0)
        return cli_fail("%s: %s", file, err.msg);
    t0 = mono_ms();
    rc = enf->apply(ctx, entries, n, wall_ms(), &err);
    if (rc == 0 && timed)
        printf("applied %zu entries in one transaction: %.3f ms\n", n, mono_ms() - t0);
    free(entries);
    return rc == 0 ? EXIT_OK : cli_fail("%s", err.msg);
}

static int do_list(const struct enforcer *enf, void *ctx, int json)
{
    static const char *const headers[] = {"ID", "CIDR", "EXPIRES (UTC)", "LEFT"};
    struct access_entry *entries = NULL;
    struct ob_error err;
    int64_t now = wall_ms();
    json_t *arr;
    struct table t;
    size_t n = 0;
    int rc;

    ob_error_clear(&err);
    rc = enf->list(ctx, &entries, &n, &err);
    if (rc != 0)
        return cli_fail("%s", err.msg);
    if (json) {
        arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "id", entries[i].id, "cidr",
                                                 entries[i].cidr, "expires_at",
                                                 (json_int_t)entries[i].expires_at_ms));
        cli_print_json(arr);
        json_decref(arr);
    } else {
        table_init(&t, 4, headers);
        for (size_t i = 0; i < n; i++) {
            char when[32] = "-", left[32] = "-";
            const char *cells[4];
            time_t secs = (time_t)(entries[i].expires_at_ms / 1000);
            struct tm tm;

            if (entries[i].expires_at_ms > 0 && gmtime_r(&secs, &tm) != NULL) {
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                snprintf(left, sizeof(left), "%llds",
                         (long long)((entries[i].expires_at_ms - now) / 1000));
            }
            cells[0] = entries[i].id;
            cells[1] = entries[i].cidr;
            cells[2] = when;
            cells[3] = left;
            table_add_row(&t, cells);
        }
        table_print(&t, stdout);
        table_release(&t);
    }
    free(entries);
    return EXIT_OK;
}

int cmd_enforce_nft(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"time", no_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const struct enforcer *enf = &enforcer_nftables;
    const char *config_path = NULL, *action;
    struct config *cfg = NULL;
    struct ob_error err;
    void *ctx = NULL;
    int c, json = 0, timed = 0, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:jth", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 't':
            timed = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("enforce", "nft"), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("enforce nft", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("enforce nft", "apply FILE, list or flush?");
    action = argv[optind++];
    if (strcmp(action, "apply") == 0 ? optind + 1 != argc : optind != argc)
        return cli_usage_error("enforce nft", "wrong number of arguments");
    if (strcmp(action, "apply") != 0 && strcmp(action, "list") != 0 && strcmp(action, "flush") != 0)
        return cli_usage_error("enforce nft", "unknown action '%s'", action);
    if (config_path != NULL) {
        struct config_diags diags = {0};

        if (config_load(config_path, &cfg, &diags) != 0) {
            config_diags_print(&diags, stderr);
            config_diags_release(&diags);
            return EXIT_FAIL;
        }
        config_diags_release(&diags);
    }
    ob_error_clear(&err);
    if (enf->create(cfg, &ctx, &err) != 0) {
        config_unref(cfg);
        return cli_fail("%s", err.msg);
    }
    if (strcmp(action, "apply") == 0)
        rc = do_apply(enf, ctx, argv[optind], timed);
    else if (strcmp(action, "list") == 0)
        rc = do_list(enf, ctx, json);
    else
        rc = enf->flush(ctx, &err) == 0 ? EXIT_OK : cli_fail("%s", err.msg);
    enf->destroy(ctx);
    config_unref(cfg);
    return rc;
}
