/*
 * internal.h - what the files of src/config/ share; not for other subsystems.
 *
 * Loading runs in three steps over every file:
 *   1. yamlpos_build(): YAML syntax and a position index (yamlpos.c);
 *   2. schema_load(): libcyaml against the file's schema (schema.c);
 *   3. checks that turn raw documents into the model, reporting every
 *      problem with the position of its node (mainfile.c, users.c, teams.c,
 *      access.c).
 * Step 3 runs only on files that passed steps 1 and 2; references between
 * files are checked only when every file they need loaded.
 */
#ifndef OPSBELL_CONFIG_INTERNAL_H
#define OPSBELL_CONFIG_INTERNAL_H

#include "config/config.h"
#include "config/schema.h"

#include <stdint.h>

struct yamlpos;

/* One loaded file. */
struct cfgfile {
    char *display;  /* owned: the name printed in diagnostics */
    char *team;     /* owned: owning team (team files), else NULL */
    char *team_dir; /* owned: "teams/<team>/" as shown in messages, else NULL */
    enum config_doc_kind kind;
    struct yamlpos *pos; /* owned; NULL when the file could not be parsed */
    void *raw;           /* owned (schema_free); NULL when it failed to load */
};

/* What one load (or one config_check_buffer) is doing. */
struct cfgctx {
    struct config_diags *diags;
    const char *base_dir; /* absolute directory of the main file; NULL: check only */
    int resolve_secrets;  /* 0 in config_check_buffer: only the reference syntax */
    int failed;           /* a diagnostic was added */
    int oom;              /* an allocation failed */
};

/* ---- diag.c ---- */

/* strdup that accepts NULL (returning NULL) and sets c->oom when it fails. */
char *cfgctx_dup(struct cfgctx *c, const char *s);

/*
 * Report a problem at the node `path` of f (its nearest ancestor when the
 * node is absent).  diag_report_key points at the key instead of the value.
 * Both set c->failed (and c->oom when the entry could not be stored).
 */
void diag_report(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_report_key(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
/* Order the entries from index start on by file (in order of first
 * appearance), line and column, so that a long report reads top to bottom. */
void diag_sort(struct config_diags *d, size_t start);
/* "FILE:LINE:COL" of a node, for messages that point at a second place. */
void diag_where(const struct cfgfile *f, const char *path, int want_key, char *buf, size_t cap);

/* ---- value.c: checks of single values (pure; no diagnostics) ---- */

#define CONFIG_NAME_MAX 63

int value_is_name(const char *s);      /* [a-z0-9][a-z0-9._-]{0,62} */
int value_is_nickname(const char *s);  /* [A-Za-z0-9._-]{1,63} */
int value_is_login(const char *s);     /* [a-z_][a-z0-9_.-]{0,31} */
int value_is_host_name(const char *s); /* [a-z0-9][a-z0-9.-]{0,252} */
int value_is_e164(const char *s);      /* + and 8..15 digits */
int value_is_email(const char *s);
int value_is_sip_uri(const char *s);
int value_is_http_url(const char *s);
int value_is_token(const char *s, size_t min, size_t max); /* [A-Za-z0-9._~-] */
int value_has_space(const char *s);                        /* any whitespace or control character */
int value_time_zone_exists(const char *name);
int value_parse_contact_type(const char *s, enum contact_type *out);
/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, at most ALERT_LABEL_NAME_MAX bytes. */
int value_is_label_name(const char *s);
/* "true" -> 1, "false" -> 0 (exactly these). 0 or OB_EINVAL. */
int value_parse_bool(const char *s, int *out);
/* "critical", "error", "warning" or "info" in any case -> the lower-case
 * static name; NULL for anything else. */
const char *value_severity_name(const char *s);
/* Decimal digits only, value in [min, max]. 0 or OB_EINVAL. */
int value_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "HOST:PORT" or "[IPv6]:PORT"; *host is malloc'd. 0, OB_EINVAL or OB_ENOMEM. */
int value_parse_listen(const char *s, char **host, uint16_t *port);

/* "HH:MM" (H:MM too), 00:00 .. 23:59, to seconds after midnight. 0 or OB_EINVAL. */
int value_parse_clock(const char *s, uint32_t *seconds);
/* "YYYY-MM-DD", a real date in 1970 .. 2999 (checked with libical). */
int value_is_date(const char *s);
/* "mon" .. "sun" to its bit (bit 0 = Monday). 0 or OB_EINVAL. */
int value_parse_weekday(const char *s, uint8_t *bit);

/* ---- mainfile.c ---- */

/* Check raw (opsbell.yaml) and fill the top-level fields of cfg. */
void mainfile_convert(struct cfgctx *c, const struct cfgfile *f, const struct raw_main *raw,
                      struct config *cfg);

/*
 * A secret field at path: "env:NAME" or "file:PATH", resolved into *out when
 * c->resolve_secrets (else only its reference is kept).  label starts the
 * messages; they never hold the secret.  ref NULL: nothing to do.
 */
void mainfile_secret(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *label,
                     const char *ref, struct secret *out);

/* ---- users.c ---- */

/* Check raw (users.yaml) and fill cfg->users. */
void users_convert(struct cfgctx *c, const struct cfgfile *f, const struct raw_users *raw,
                   struct config *cfg);

/*
 * Check and convert a notification_rules: list at `prefix` ("notification_rules"
 * or "users.3.notification_rules"); `who` starts the messages.  *out is
 * malloc'd (never NULL, even when empty), *count its length.
 */
void users_convert_rules(struct cfgctx *c, const struct cfgfile *f, const char *prefix,
                         const char *who, const struct raw_notification_rule *raw, unsigned n,
                         struct config_notification_rule **out, unsigned *count);

/* ---- teams.c ---- */

/* The name of entry i of list ("services") must be a valid name; what
 * ("service") starts the message. */
void teams_check_name(struct cfgctx *c, const struct cfgfile *f, const char *what, const char *list,
                      unsigned i, const char *name);
/* An object may name its team (`team:`), but only the team of its directory. */
void teams_check_owner(struct cfgctx *c, const struct cfgfile *f, const char *what,
                       const char *list, unsigned i, const char *name, const char *team);

/* Checks that need only this team file. */
void teams_check_file(struct cfgctx *c, const struct cfgfile *f);

/*
 * Checks across team files: duplicate names and keys, one team: section per
 * team, and (when all_files) each service's policy, and (when users is not
 * NULL) user references.  files holds only team files that loaded.
 */
void teams_check_cross(struct cfgctx *c, struct cfgfile *const *files, unsigned nfiles,
                       int all_files, const struct config *users);

/*
 * Build cfg->teams from team_names (sorted) and the files that define them.
 * Call only when every check passed. 0 or OB_ENOMEM.
 */
int teams_build(struct config *cfg, char **team_names, unsigned team_count,
                struct cfgfile *const *files, unsigned nfiles);

/* ---- access.c: host groups, break-glass policies, the allowlist section ---- */

/* host_groups: and team: breakglass: of one team file, on their own
 * (called by teams_check_file). */
void access_check_file(struct cfgctx *c, const struct cfgfile *f);
/* breakglass self_approve and approvers name known users; names is sorted
 * (strcmp) and holds n user names (called by teams_check_cross). */
void access_check_user_refs(struct cfgctx *c, const struct cfgfile *f, const char *const *names,
                            size_t n);
/* enforcers.aws.host_group (may be NULL) names a host group of one of the
 * team files; call only when every team file loaded. */
void access_check_aws_group(struct cfgctx *c, const struct cfgfile *main_file,
                            const char *host_group, struct cfgfile *const *files, unsigned nfiles);
/* team->host_groups and team->breakglass (defaults when absent) from the
 * team's files (called by teams_build). 0, OB_ENOMEM or OB_EINTERNAL. */
int access_build_team(struct config_team *team, struct cfgfile *const *files, unsigned nfiles);
/* opsbell.yaml allowlist: (raw may be NULL: the defaults) into out. */
void access_convert_allowlist(struct cfgctx *c, const struct cfgfile *f,
                              const struct raw_allowlist *raw, struct config_allowlist *out);

/* ---- config.c ---- */

/* Free everything cfg owns (not cfg itself). Accepts a half-built cfg. */
void config_free_model(struct config *cfg);

#endif
