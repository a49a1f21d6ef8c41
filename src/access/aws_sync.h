/*
 * aws_sync.h - the AWS security group follows the grants (docs/AWS.md).
 *
 * With enforcers.aws configured, `opsbell serve` runs one aws_sync thread
 * (a util/periodic thread): every AWS_SYNC_INTERVAL_S seconds, and at once
 * after aws_sync_kick(), it computes the entries in force for
 * enforcers.aws.host_group (access_entries_for_group) and makes the group's
 * opsbell rules match them:
 *
 *   - an entry with no rule for its CIDR on the SSH port, or whose rule
 *     expires earlier, is authorized (aws_authorize: the rule's description
 *     is "opsbell <entry id> until <expiry>");
 *   - an opsbell rule of a grant or an allowlist entry ("opsbell grant:..." /
 *     "opsbell allow:...") whose id is no longer wanted (revoked, denied,
 *     expired, stale) is revoked by its rule id.
 *
 * Rules without the "opsbell " prefix are never touched, nor opsbell rules
 * with other ids (an operator's `opsbell enforce aws authorize --id ...`):
 * those expire through the sweeper (aws_sweeper_start, also started by
 * serve.c).  A full group (EC2's rules quota, OB_ETOOLARGE) is logged at
 * error level with the entries left closed, and retried every run.
 *
 * Threads: everything EC2 is done on the sync thread (blocking libcurl);
 * aws_sync_kick() only signals it, so an HTTP thread may call it.  The
 * configuration is taken anew for each run through get_config (a new
 * reference, released after the run), so a reload's credentials and
 * host_group apply from the next run; a configuration without
 * enforcers.aws makes a run do nothing.
 */
#ifndef OPSBELL_ACCESS_AWS_SYNC_H
#define OPSBELL_ACCESS_AWS_SYNC_H

#include <stddef.h>
#include <stdint.h>

struct access_entry;
struct aws_rule;
struct config;
struct ob_error;
struct store;

#define AWS_SYNC_INTERVAL_S 15

/* Returns a new reference to the configuration in force (config_unref). */
typedef struct config *(*aws_sync_config_fn)(void *ctx);

struct aws_sync;

/*
 * Start the sync thread: a run at once, then every interval_s seconds or
 * when kicked.  store and ctx are borrowed and must outlive the thread.
 * Only one sync may run per process (aws_sync_kick finds it): a second
 * start is OB_ECONFLICT.  Returns 0 and *out, or a code with err.
 */
int aws_sync_start(struct store *store, aws_sync_config_fn get_config, void *ctx,
                   unsigned interval_s, struct aws_sync **out, struct ob_error *err);
/* Ask the running sync (if any) for a run now, e.g. after a grant changed.
 * Never blocks on the network; safe from any thread. */
void aws_sync_kick(void);
/* Runs finished so far; for tests and metrics. */
unsigned aws_sync_runs(struct aws_sync *s);
/* Stop and join the thread (a run in progress finishes first), free s.
 * Accepts NULL. */
void aws_sync_stop(struct aws_sync *s);

/* ---- the plan of one run (pure) ---------------------------------------------- */

/* What one run is to do to make rules[] match wanted[]. */
struct aws_sync_plan {
    size_t *revoke; /* indexes into rules[] of opsbell rules to revoke */
    size_t revoke_count;
    size_t *authorize; /* indexes into wanted[] of entries to authorize */
    size_t authorize_count;
    size_t in_place; /* wanted entries already open (for the log) */
};

/*
 * Plan a run: rules[0..nrules) are the group's inbound rules (aws_list),
 * wanted[0..n) the entries in force; entries expiring at or before now_ms
 * are left out, and so are entries whose CIDR EC2 would refuse.  Per CIDR only
 * the entry expiring last is authorized (EC2 keeps one rule per address).
 * Revocations come first in a run: an address whose rule carries an unwanted
 * id but that another entry still wants is revoked and authorized again.
 * Returns 0 or OB_ENOMEM; release out with aws_sync_plan_release.
 */
int aws_sync_plan(const struct access_entry *wanted, size_t n, const struct aws_rule *rules,
                  size_t nrules, unsigned port, int64_t now_ms, struct aws_sync_plan *out);
void aws_sync_plan_release(struct aws_sync_plan *p); /* accepts NULL */

/* Is id one the sync manages ("grant:..." or "allow:...")? */
int aws_sync_managed_id(const char *id);

#endif
