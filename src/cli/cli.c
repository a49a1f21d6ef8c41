/* cli.c - subcommand dispatch, usage texts and shared CLI helpers. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("opsbell: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;

    fputs("opsbell: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'opsbell %s --help')\n", command);
    return EXIT_USAGE;
}

const char *cli_config_path(const char *given)
{
    const char *env = getenv("OPSBELL_CONFIG");

    if (given != NULL)
        return given;
    if (env != NULL && env[0] != '\0')
        return env;
    if (access("opsbell.yaml", F_OK) == 0)
        return "opsbell.yaml";
    return "/etc/opsbell/opsbell.yaml";
}

const struct cli_command *cli_find(const char *group, const char *name)
{
    for (size_t i = 0; i < cli_command_count; i++) {
        const struct cli_command *c = &cli_commands[i];
        if (strcmp(c->group, group) != 0)
            continue;
        if (c->name == NULL || (name != NULL && strcmp(c->name, name) == 0))
            return c;
    }
    return NULL;
}

static int group_exists(const char *group)
{
    for (size_t i = 0; i < cli_command_count; i++) {
        if (strcmp(cli_commands[i].group, group) == 0)
            return 1;
    }
    return 0;
}

void cli_print_usage(const struct cli_command *cmd, FILE *fp)
{
    fputs(cmd->usage, fp);
}

static void print_overview(FILE *fp)
{
    fputs("usage: opsbell COMMAND [OPTIONS]\n\n"
          "opsbell turns alerts into incidents and rings the people on call.\n\n"
          "Commands:\n",
          fp);
    for (size_t i = 0; i < cli_command_count; i++) {
        const struct cli_command *c = &cli_commands[i];
        char name[48];
        snprintf(name, sizeof(name), "%s%s%s", c->group, c->name ? " " : "",
                 c->name ? c->name : "");
        fprintf(fp, "  %-22s %s\n", name, c->summary);
    }
    fputs("\nClient commands use OPSBELL_URL (default http://127.0.0.1:8080) and "
          "OPSBELL_TOKEN.\n"
          "Run 'opsbell COMMAND --help' for a command's options; see opsbell(1).\n",
          fp);
}

static void print_group(const char *group, FILE *fp)
{
    fprintf(fp, "usage: opsbell %s SUBCOMMAND [OPTIONS]\n\nSubcommands:\n", group);
    for (size_t i = 0; i < cli_command_count; i++) {
        const struct cli_command *c = &cli_commands[i];
        if (strcmp(c->group, group) == 0 && c->name != NULL)
            fprintf(fp, "  %-10s %s\n", c->name, c->summary);
    }
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

int cli_main(int argc, char **argv)
{
    const struct cli_command *cmd;
    const char *group, *name;
    char display[64];

    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    group = argv[1];
    if (is_help(group)) {
        if (argc >= 3 && (cmd = cli_find(argv[2], argc >= 4 ? argv[3] : NULL)) != NULL &&
            (cmd->name == NULL || argc >= 4)) {
            cli_print_usage(cmd, stdout);
        } else if (argc >= 3 && group_exists(argv[2])) {
            print_group(argv[2], stdout);
        } else {
            print_overview(stdout);
        }
        return EXIT_OK;
    }
    if (strcmp(group, "--version") == 0)
        group = "version";
    if (!group_exists(group)) {
        fprintf(stderr, "opsbell: unknown command '%s' (see 'opsbell --help')\n", group);
        return EXIT_USAGE;
    }
    cmd = cli_find(group, NULL);
    if (cmd != NULL && cmd->name == NULL) {
        /* One-word command: its argv starts at the command itself. */
        return cmd->run(argc - 1, argv + 1);
    }
    name = argc >= 3 ? argv[2] : NULL;
    if (name == NULL || is_help(name)) {
        print_group(group, name == NULL ? stderr : stdout);
        return name == NULL ? EXIT_USAGE : EXIT_OK;
    }
    cmd = cli_find(group, name);
    if (cmd == NULL) {
        fprintf(stderr, "opsbell: unknown subcommand '%s %s' (see 'opsbell %s --help')\n", group,
                name, group);
        return EXIT_USAGE;
    }
    snprintf(display, sizeof(display), "%s %s", group, name);
    argv[2] = display;
    return cmd->run(argc - 2, argv + 2);
}

void cli_reset_getopt(void)
{
    optind = 0;
    opterr = 0;
}

int cli_unknown_option(const char *command, char **argv)
{
    return cli_usage_error(command, "unknown or incomplete option '%s'", argv[optind - 1]);
}
