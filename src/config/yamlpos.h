/*
 * yamlpos.h - positions of YAML nodes, found with one libyaml event pass.
 *
 * libcyaml reports where a schema problem is only in its log, and says
 * nothing about nodes it accepted; semantic checks (dangling references,
 * duplicate names) still need to point at the offending node.  So before
 * libcyaml sees a file, yamlpos_build() parses it once with libyaml and
 * records, for every node, its path and where it starts:
 *
 *   ""                              the root mapping
 *   "services"                      the value of the top-level key services
 *   "services.2.escalation_policy"  a value inside the third list entry
 *
 * Keys are recorded too (yamlpos_find_key), so that "unknown key" and
 * "duplicate key" errors point at the key rather than at its value.
 *
 * The same pass refuses what libcyaml handles badly or not at all, each with
 * its position: YAML syntax errors, aliases, non-scalar keys, duplicate keys,
 * more than one document, and nesting deeper than YAMLPOS_MAX_DEPTH.
 *
 * Lines and columns are 1-based.  A key containing '.' makes its path
 * ambiguous; such keys are never valid in opsbell's schemas anyway.
 */
#ifndef OPSBELL_CONFIG_YAMLPOS_H
#define OPSBELL_CONFIG_YAMLPOS_H

#include <stddef.h>

struct config_diags;
struct yamlpos;

#define YAMLPOS_MAX_DEPTH 32

/*
 * Parse data (len bytes, need not be NUL-terminated) and build its index.
 * Returns 0 and *out (free it with yamlpos_free), OB_EINVAL after appending
 * one diagnostic per problem (named `file`) to diags, or OB_ENOMEM.
 * On failure *out is NULL.
 */
int yamlpos_build(const char *data, size_t len, const char *file, struct yamlpos **out,
                  struct config_diags *diags);

/* Find the node at path (value) or the key that names it. 0 or OB_ENOTFOUND. */
int yamlpos_find(const struct yamlpos *pos, const char *path, unsigned *line, unsigned *col);
int yamlpos_find_key(const struct yamlpos *pos, const char *path, unsigned *line, unsigned *col);

/*
 * Position of path, or of its nearest recorded ancestor when path itself is
 * absent (an optional key that was left out).  0:0 when nothing matches
 * (an empty document).  pos may be NULL.
 */
void yamlpos_locate(const struct yamlpos *pos, const char *path, int want_key, unsigned *line,
                    unsigned *col);

/* Accepts NULL. */
void yamlpos_free(struct yamlpos *pos);

#endif
