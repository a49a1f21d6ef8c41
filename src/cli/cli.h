/*
 * cli.h - the `opsbell` command line: subcommand table, an HTTP client for
 * the commands that talk to a server, and output as tables or JSON.
 *
 * Exit status: 0 success, 1 the operation failed (one line on stderr:
 * "opsbell: <reason>"), 2 usage error.
 */
#ifndef OPSBELL_CLI_CLI_H
#define OPSBELL_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ob_error;

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Entry point used by main(). */
int cli_main(int argc, char **argv);

/* One command: "token create" is group "token", name "create". */
struct cli_command {
    const char *group;
    const char *name;                  /* NULL for one-word commands */
    int (*run)(int argc, char **argv); /* argv[0] is the command's display name */
    const char *summary;
    const char *usage; /* full --help text */
};

extern const struct cli_command cli_commands[];
extern const size_t cli_command_count;

/* Print a command's usage to fp. */
void cli_print_usage(const struct cli_command *cmd, FILE *fp);
const struct cli_command *cli_find(const char *group, const char *name);

/* The configuration file: -c value, else $OPSBELL_CONFIG, else ./opsbell.yaml
 * when it exists, else /etc/opsbell/opsbell.yaml. */
const char *cli_config_path(const char *given);

/* Print "opsbell: <msg>" to stderr. Returns EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "opsbell: <msg>" and a hint to run --help. Returns EXIT_USAGE. */
/* Before a command's getopt_long loop: start at argv[1], print nothing. */
void cli_reset_getopt(void);
/* The usage error for the option getopt_long just refused (EXIT_USAGE). */
int cli_unknown_option(const char *command, char **argv);
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- HTTP client (client.c) -------------------------------------------------- */

/*
 * Call the server at $OPSBELL_URL (default http://127.0.0.1:8080) with
 * $OPSBELL_TOKEN as the bearer token. body (may be NULL) is sent as JSON.
 * On a 2xx reply returns 0 and *out (parsed JSON, new reference, or NULL for
 * an empty body). On failure returns a negative code with the server's
 * "error" text (or the transport failure) in err.
 */
int client_call(const char *method, const char *path, json_t *body, json_t **out,
                struct ob_error *err);
/* Percent-encode one path segment or query value into out. */
void client_escape(const char *in, char *out, size_t cap);

/* ---- output (table.c) ------------------------------------------------------------ */

#define TABLE_MAX_COLS 12

struct table {
    size_t cols;
    const char *headers[TABLE_MAX_COLS];
    char **cells; /* rows * cols owned strings */
    size_t rows, cap;
};

void table_init(struct table *t, size_t cols, const char *const *headers);
/* Add a row of cols strings (copied; NULL prints as "-"). */
void table_add_row(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *fp);
void table_release(struct table *t);

/* Print a JSON value, indented, to stdout. */
void cli_print_json(json_t *value);
/* Member key of a JSON object when it is a string, else NULL (borrowed). */
const char *cli_json_str(json_t *obj, const char *key);
/* Epoch milliseconds (a JSON integer) as RFC 3339 UTC ("2026-11-25T04:00:00Z")
 * into out; "-" when v is not an integer. */
void cli_format_ms(json_t *v, char *out, size_t cap);

#endif
