/*
 * enforce.h - enforcers: what makes "these addresses may reach SSH until
 * then" true on a firewall (nftables on this host, an AWS security group).
 *
 * An enforcer is a `const struct enforcer` in a table (enforcer.c), like the
 * notification providers: adding one is a file and one line.  Every enforcer
 * is declarative: apply() is given the whole wanted state and makes the
 * firewall equal to it (adds what is missing, deletes what is not listed,
 * replaces what changed).  Expiry is the firewall's own business wherever it
 * can be (nftables element timeouts), so that access closes on time even when
 * opsbell is not running.
 *
 * Ownership and threads: an enforcer context (create()/destroy()) belongs to
 * its creator; its calls are serialised inside the context (a mutex), so one
 * context may be shared by threads, but every call may block on the kernel or
 * the network: never call it from an event loop or an HTTP request thread.
 * Entry arrays passed in are borrowed for the call; arrays handed out are
 * malloc'd and freed by the caller with free().
 *
 * Also here: CIDR parsing and the too-wide policy check (cidr.c, pure and
 * thread-safe).
 */
#ifndef OPSBELL_ENFORCE_ENFORCE_H
#define OPSBELL_ENFORCE_ENFORCE_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;
struct config;

/* One address that may reach SSH until an absolute time. */
struct access_entry {
    char id[64];           /* stable id: "grant:42" or "allow:alice:203.0.113.7" */
    char cidr[64];         /* normalised: "203.0.113.7/32", "2001:db8::1/128" */
    int64_t expires_at_ms; /* absolute (wall clock) */
    char description[128]; /* shown where the enforcer can show it */
};

/* ---- CIDRs (cidr.c) -------------------------------------------------------- */

#define CIDR_TEXT_MAX 64 /* enough for any normalised CIDR ("…:ffff/128" is 44) */

struct cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes; host bits are 0 */
    unsigned prefix;  /* 0..32 or 0..128 */
};

/*
 * Parse an address ("203.0.113.7", "2001:db8::1") or CIDR ("10.0.0.0/8") and
 * normalise it: a bare address is a /32 or /128, host bits are cleared
 * ("10.1.2.3/8" is 10.0.0.0/8).  Refuses anything else (leading zeros in the
 * prefix, zone ids, spaces, more than CIDR_TEXT_MAX bytes) with OB_EINVAL.
 */
int cidr_parse(const char *text, struct cidr *out, struct ob_error *err);
/* Write the canonical text of c ("203.0.113.7/32") into out (cap >= CIDR_TEXT_MAX). */
void cidr_format(const struct cidr *c, char *out, size_t cap);
/* cidr_parse then cidr_format. */
int cidr_normalise(const char *text, char *out, size_t cap, struct ob_error *err);

/* Policy defaults for grants and allowlist entries: nothing wider than these. */
#define CIDR_DEFAULT_MAX_PREFIX_V4 24
#define CIDR_DEFAULT_MAX_PREFIX_V6 48

/*
 * 1 when c is too wide to be granted: any /0 always (0.0.0.0/0, ::/0), and any
 * prefix shorter than max_prefix_v4 (IPv4) or max_prefix_v6 (IPv6); else 0.
 */
int cidr_too_wide(const struct cidr *c, unsigned max_prefix_v4, unsigned max_prefix_v6);
/* 1 when outer contains inner (same family, outer no longer, same network bits). */
int cidr_contains(const struct cidr *outer, const struct cidr *inner);
/* 1 when a and b share at least one address. */
int cidr_overlaps(const struct cidr *a, const struct cidr *b);

/*
 * outer minus inner as disjoint CIDRs, written to out[0..cap) and counted in
 * *n: at most inner->prefix - outer->prefix pieces.  When they do not
 * overlap: outer itself; when inner contains outer: nothing.  Returns 0, or
 * OB_ETOOLARGE when cap is too small.
 */
int cidr_subtract(const struct cidr *outer, const struct cidr *inner, struct cidr *out, size_t cap,
                  size_t *n);

/* An entry id is 1..63 bytes of [A-Za-z0-9:._@/+=-]: safe in any firewall's
 * comment or description.  Returns 0 or OB_EINVAL. */
int access_entry_check_id(const char *id, struct ob_error *err);

/*
 * Parse a JSON list of entries [{"id": "...", "cidr": "...", "expires_at": T,
 * "description": "..."}] (T: epoch milliseconds as an integer, or an RFC 3339
 * UTC string "2026-11-25T01:00:00Z"; description optional).  CIDRs are
 * normalised.  At most max entries.  On success *out (malloc'd, caller frees)
 * and *n; on failure OB_EINVAL/OB_ETOOLARGE with the first problem in err.
 */
int access_entries_from_json(const char *text, size_t len, size_t max, struct access_entry **out,
                             size_t *n, struct ob_error *err);

/* ---- enforcers (enforcer.c) ------------------------------------------------- */

struct enforcer {
    const char *name; /* "nftables" */
    /* Make a context from the configuration (cfg may be NULL: defaults). */
    int (*create)(const struct config *cfg, void **ctx, struct ob_error *err);
    /* Accepts NULL. */
    void (*destroy)(void *ctx);
    /*
     * Make the enforced state exactly entries[0..n): add missing ones with
     * their remaining time (now_ms is the wall clock), delete the ones not
     * listed, replace the ones whose expiry changed.  Entries already expired
     * are left out.  All or nothing: on failure nothing changed.
     */
    int (*apply)(void *ctx, const struct access_entry *entries, size_t n, int64_t now_ms,
                 struct ob_error *err);
    /* What is enforced now (*out malloc'd, caller frees; *n may be 0). */
    int (*list)(void *ctx, struct access_entry **out, size_t *n, struct ob_error *err);
    /* Remove everything this enforcer put in place. */
    int (*flush)(void *ctx, struct ob_error *err);
};

extern const struct enforcer enforcer_nftables;

extern const struct enforcer *const enforcers[];
extern const size_t enforcer_count;
/* The enforcer called name, or NULL. */
const struct enforcer *enforcer_find(const char *name);

#endif
