/*
 * cmd_agent.c - `opsbell agent -c agent.yaml [--once] [--check]`: the host
 * agent (src/agent/agent.h, docs/AGENT.md).
 */
#include "cli/cli.h"

#include "agent/agent.h"
#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define AGENT_DEFAULT_CONFIG "/etc/opsbell/agent.yaml"

int cmd_agent(int argc, char **argv);

int cmd_agent(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"once", no_argument, NULL, 'o'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = AGENT_DEFAULT_CONFIG;
    struct config_diags diags = {0};
    struct agent_config *cfg = NULL;
    int c, once = 0, check = 0, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:okh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'o':
            once = 1;
            break;
        case 'k':
            check = 1;
            break;
        case 'h':
            cli_print_usage(cli_find("agent", NULL), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("agent", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error("agent", "unexpected argument '%s'", argv[optind]);
    rc = agent_config_load(path, &cfg, &diags);
    if (rc != 0) {
        if (diags.count > 0)
            config_diags_print(&diags, stderr);
        else
            fprintf(stderr, "opsbell: %s: %s\n", path, ob_strerror(rc));
        config_diags_release(&diags);
        return EXIT_FAIL;
    }
    config_diags_release(&diags);
    if (check) {
        agent_config_free(cfg);
        return EXIT_OK;
    }
    rc = agent_run(cfg, once);
    agent_config_free(cfg);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
