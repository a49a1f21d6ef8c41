/*
 * aws.h - the AWS security-group enforcer: SSH ingress rules in one EC2
 * security group, opened for an access_entry until its expiry and closed by
 * a sweeper (docs/AWS.md).
 *
 * Wire: the EC2 Query API (Version 2016-11-15), POST form bodies signed with
 * Signature Version 4 by our own signer (aws_sigv4_sign, tested against
 * AWS's documented vectors), XML answers parsed with libxml2 (aws_xml_*).
 *
 * Every rule opsbell creates carries the description
 *   "opsbell <entry id> until <RFC 3339 UTC expiry>"
 * so that the sweeper can find and close expired rules without any local
 * state: after a crash, at start-up, on any host.  Rules whose description
 * does not start with "opsbell " are never touched.
 *
 * Threads: a struct aws_ctx is used by one thread at a time; its calls
 * block on the network (libcurl easy handle, connect 5 s, total 20 s), so
 * run them on a worker thread, never on an event loop or HTTP thread.
 * Errors follow util/error.h; messages never contain a credential.
 */
#ifndef OPSBELL_ENFORCE_AWS_H
#define OPSBELL_ENFORCE_AWS_H

#include "enforce/enforce.h"

#include <stddef.h>
#include <stdint.h>

struct ob_error;

#define AWS_EC2_VERSION  "2016-11-15"
#define AWS_DESC_PREFIX  "opsbell "
#define AWS_DESC_MAX     255       /* EC2's limit on a rule description */
#define AWS_RESPONSE_MAX (1 << 20) /* cap on one response body */
#define AWS_RULES_MAX    10000     /* cap on the rules one list returns */

/* ---- Signature Version 4 (aws_sigv4.c; pure) -------------------------------- */

struct aws_sigv4_header {
    const char *name;  /* any case; signed lower-cased */
    const char *value; /* trimmed, inner runs of spaces collapsed when signed */
};

struct aws_sigv4_input {
    const char *method; /* "POST" */
    const char *path;   /* URI-encoded absolute path, "/" */
    const char *query;  /* raw query string without '?' ("" or NULL: none); sorted when signed */
    const struct aws_sigv4_header *headers; /* must include host and x-amz-date */
    size_t header_count;
    const void *payload;
    size_t payload_len;
    const char *amz_date; /* "20150830T123600Z" */
    const char *region;   /* "us-east-1" */
    const char *service;  /* "ec2" */
    const char *access_key_id;
    const unsigned char *secret; /* the secret access key */
    size_t secret_len;
};

struct aws_sigv4_result {
    char *canonical_request; /* owned */
    char *string_to_sign;    /* owned */
    char signature[65];      /* lower-case hex */
    char *authorization;     /* owned: the Authorization header's value */
};

/* Sign in. Returns 0, OB_EINVAL (missing field, > 32 headers) or OB_ENOMEM;
 * on success release out with aws_sigv4_result_release. */
int aws_sigv4_sign(const struct aws_sigv4_input *in, struct aws_sigv4_result *out);
void aws_sigv4_result_release(struct aws_sigv4_result *r);

/* RFC 3986 percent-encoding (unreserved A-Z a-z 0-9 - _ . ~ kept), appended
 * to a malloc'd string; NULL when out of memory. */
char *aws_uri_encode(const char *s);

/* ---- XML answers (aws_xml.c; pure) ------------------------------------------- */

struct aws_xml_error {
    char code[128];       /* "InvalidPermission.Duplicate" */
    char message[512];    /* EC2's text, sanitised to printable UTF-8 */
    char request_id[128]; /* may be empty */
};

struct aws_rule {
    char rule_id[64]; /* "sgr-0123456789abcdef0" */
    char group_id[64];
    int is_egress;
    char protocol[16]; /* "tcp", "-1" ... */
    int from_port;     /* -1 when absent */
    int to_port;
    char cidr[64]; /* cidrIpv4 or cidrIpv6; empty for group or prefix-list rules */
    char description[AWS_DESC_MAX + 1];
};

struct aws_rule_list {
    struct aws_rule *items; /* owned */
    size_t count;
    char next_token[1024]; /* empty: no further page */
};

/*
 * An EC2 error document (<Response><Errors><Error><Code>...).  Returns 0
 * with *out filled, OB_ENOTFOUND when body is well-formed XML but not an
 * error document, OB_EINVAL when it is not XML (or too large, or has a DTD).
 */
int aws_xml_parse_error(const char *body, size_t len, struct aws_xml_error *out);

/*
 * The securityGroupRuleSet of an AuthorizeSecurityGroupIngress or
 * DescribeSecurityGroupRules answer (and nextToken).  Returns 0 (an absent
 * set is an empty list), OB_EINVAL with a message in err for anything
 * malformed, OB_ETOOLARGE past AWS_RULES_MAX, OB_ENOMEM.  On failure out
 * is empty.  Release with aws_rule_list_release.
 */
int aws_xml_parse_rules(const char *body, size_t len, struct aws_rule_list *out,
                        struct ob_error *err);

/* <return>true|false</return> of a Revoke... or Update... answer: 0 and
 * *ok (1 true, 0 false), or OB_EINVAL. */
int aws_xml_parse_return(const char *body, size_t len, int *ok);

void aws_rule_list_release(struct aws_rule_list *l); /* accepts NULL */

/* ---- descriptions and addresses (aws.c; pure) -------------------------------- */

/* "opsbell <id> until 2026-11-25T01:50:00Z" into buf. 0, or OB_EINVAL when the id
 * has characters EC2 refuses in a description (or spaces), or it does not fit. */
int aws_description_format(const char *id, int64_t expires_at_ms, char *buf, size_t cap);
/* Parse what aws_description_format wrote: 0 with the id (may be NULL) and
 * expiry, or OB_EINVAL when desc is not an opsbell description. */
int aws_description_parse(const char *desc, char *id, size_t id_cap, int64_t *expires_at_ms);

/* Normalise "203.0.113.7", "203.0.113.0/24", "2001:DB8::1" to
 * "203.0.113.7/32", "203.0.113.0/24", "2001:db8::1/128" (host bits cleared).
 * Returns 4 or 6, or OB_EINVAL (with a reason in err) for anything else and
 * for a /0 (it would open SSH to everybody). */
int aws_cidr_normalise(const char *in, char *out, size_t cap, struct ob_error *err);

/* ---- the enforcer (aws.c) -------------------------------------------------------- */

struct aws_params {
    const char *region;            /* "eu-central-1" */
    const char *security_group_id; /* "sg-..." */
    const char *endpoint;          /* "https://ec2.eu-central-1.amazonaws.com" */
    const char *access_key_id;
    const char *secret_access_key; /* never logged */
    size_t secret_access_key_len;
    const char *session_token; /* NULL: long-term keys */
    unsigned port;             /* SSH port, default 22 */
    long timeout_ms;           /* whole request; 0: 20 s */
};

/* Borrows every string of params: they must outlive the context. */
struct aws_ctx {
    struct aws_params p;
    void *curl; /* CURL *, owned */
};

int aws_ctx_init(struct aws_ctx *ctx, const struct aws_params *params, struct ob_error *err);
void aws_ctx_release(struct aws_ctx *ctx); /* accepts NULL */

struct aws_authorize_result {
    char rule_id[64];      /* may be empty when EC2 did not say */
    int already_present;   /* EC2 answered InvalidPermission.Duplicate */
    int extended;          /* ... and the rule was opsbell's with an earlier expiry: moved */
    int foreign;           /* ... and the rule is not opsbell's: left alone, never swept */
    int64_t expires_at_ms; /* the rule's expiry now (a later existing one wins); 0 when foreign */
};

/*
 * Open TCP port p.port from entry->cidr until entry->expires_at_ms.  A rule
 * that already exists for that address (InvalidPermission.Duplicate) is
 * success, with already_present set; when it is opsbell's and expires
 * earlier, its description is updated to the later expiry (extended; needs
 * ec2:UpdateSecurityGroupRuleDescriptionsIngress), never shortened.  Errors: OB_EUNAUTH
 * (AuthFailure and other credential errors), OB_EFORBIDDEN (UnauthorizedOperation), OB_ETOOLARGE
 * (RulesPerSecurityGroupLimitExceeded: the group's rule quota, 60 inbound rules by default),
 * OB_ENOTFOUND (InvalidGroup.NotFound), OB_EUNAVAILABLE (RequestLimitExceeded, 5xx, transport),
 * OB_EINVAL.
 */
int aws_authorize(struct aws_ctx *ctx, const struct access_entry *entry,
                  struct aws_authorize_result *res, struct ob_error *err);

/* Revoke one ingress rule by id. OB_ENOTFOUND when it is already gone. */
int aws_revoke(struct aws_ctx *ctx, const char *rule_id, struct ob_error *err);

/* Every ingress rule of the group (all pages), opsbell's and others'. */
int aws_list(struct aws_ctx *ctx, struct aws_rule_list *out, struct ob_error *err);

/*
 * Revoke opsbell's ingress rules whose expiry (from their description) is
 * at or before now_ms; rules of others and unexpired ones are left alone.
 * Run it at start-up and every sweep_interval.  *revoked (may be NULL) counts
 * what was closed (a rule already gone counts).  Returns 0, or the first
 * error (the sweep goes on past a rule it could not revoke).
 */
int aws_sweep(struct aws_ctx *ctx, int64_t now_ms, unsigned *revoked, struct ob_error *err);

/* ---- the sweeper thread (aws_sweeper.c) ------------------------------------------ */

struct aws_sweeper;

/*
 * Start a thread that runs aws_sweep at once and then every interval_s
 * seconds (monotonic clock), logging each outcome (subsystem "aws";
 * revoked rules at info, failures at warn) until aws_sweeper_stop.  The
 * sweeper copies what it needs from params (the secret too, wiped on stop),
 * so params may be released afterwards.  Returns 0 and *out, or a code.
 */
int aws_sweeper_start(const struct aws_params *params, uint32_t interval_s,
                      struct aws_sweeper **out, struct ob_error *err);
/* Sweeps finished so far (successful or not); for tests and metrics. */
unsigned aws_sweeper_runs(struct aws_sweeper *s);
/* Stop and join the thread (an ongoing sweep finishes first), free s. Accepts NULL. */
void aws_sweeper_stop(struct aws_sweeper *s);

#endif
