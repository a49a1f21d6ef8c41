/*
 * enforce.h - what every enforcer (nftables, AWS security group) takes: a
 * list of addresses that may reach SSH, each until an absolute time.
 *
 * Plain data: copy it freely; nothing inside is owned elsewhere.
 */
#ifndef OPSBELL_ENFORCE_ENFORCE_H
#define OPSBELL_ENFORCE_ENFORCE_H

#include <stdint.h>

/* One address that may reach SSH until an absolute time. */
struct access_entry {
    char id[64];           /* stable id: "grant:42" or "allow:alice:203.0.113.7" */
    char cidr[64];         /* normalised: "203.0.113.7/32", "2001:db8::1/128" */
    int64_t expires_at_ms; /* absolute (wall clock) */
    char description[128]; /* shown where the enforcer can show it */
};

#endif
