/*
 * access_internal.h - what the files of src/access/ share; not for other
 * subsystems.
 */
#ifndef OPSBELL_ACCESS_ACCESS_INTERNAL_H
#define OPSBELL_ACCESS_ACCESS_INTERNAL_H

#include "access/access.h"

#include <stddef.h>
#include <stdint.h>

struct config_host_group;
struct config_team;
struct store_conn;

/* The hosts a request opens and the team whose policy decides.  Borrows
 * from the configuration (and, for one host, from the request). */
struct access_target {
    const struct config_team *team;
    const char *const *hosts;
    size_t host_count;
    const char *single_host;
};

int access_group_has_host(const struct config_host_group *g, const char *host);
int access_resolve_target(const struct config *cfg, const char *user, const char *host,
                          const char *group, struct access_target *out, struct ob_error *err);
int access_may_self_approve(struct store_conn *conn, const struct config_team *team,
                            const char *user, int64_t now_ms, int *yes, struct ob_error *err);
int access_may_approve(const struct config_team *team, const char *approver, const char *requester,
                       struct ob_error *err);

/* allow.c: the same as access_allow_seen, inside the caller's transaction. */
int access_allow_seen_in(struct store_conn *conn, const struct config *cfg, const char *user,
                         const char *addr, const char *source, int64_t seen_ms, const char *detail,
                         const struct audit_origin *origin, struct ob_error *err);

#endif
