/*
 * keys.h - SSH public keys from a git repository (docs/KEYS.md).
 *
 * Three layers, each usable alone:
 *   parse.c  pure functions: one authorized_keys-style line, one key file;
 *   sync.c   libgit2: clone or fetch the keys repository into a cache
 *            directory, read keys/<user>/ *.pub and keys/<user>.pub at the
 *            fetched commit, validate, and write the local cache file;
 *   cache.c  the cache file: atomic write, and the look-up that sshd's
 *            AuthorizedKeysCommand runs (no network, no database, no config).
 *
 * Accepted keys: ssh-ed25519, ecdsa-sha2-nistp256/384/521, and ssh-rsa with
 * a modulus of at least KEYS_RSA_MIN_BITS.  Refused: options before the type
 * (command=, from=, ...), certificates, sk-* (security keys), ssh-dss, more
 * than one key on a line, comments with control characters or invalid UTF-8.
 *
 * Threads: every function here is reentrant; nothing is global.
 */
#ifndef OPSBELL_KEYS_KEYS_H
#define OPSBELL_KEYS_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;

#define KEYS_RSA_MIN_BITS 3072
#define KEYS_RSA_MAX_BITS 16384
#define KEYS_LINE_MAX     8192        /* bytes of one line, newline excluded */
#define KEYS_COMMENT_MAX  1024        /* bytes of a comment */
#define KEYS_FILE_MAX     (64 * 1024) /* bytes of one .pub file */
#define KEYS_PER_FILE_MAX 100         /* keys in one .pub file */
#define KEYS_FP_MAX       64          /* "SHA256:" + 43 characters + NUL fits */
#define KEYS_USER_MAX     63          /* a user name, as config's value_is_name */
#define KEYS_CACHE_NAME   "authorized_keys.cache"

/* One validated public key.  Strings are owned; release with keys_key_release. */
struct keys_key {
    const char *type;              /* static: "ssh-ed25519", "ssh-rsa", ... */
    char *blob_b64;                /* the base64 blob, as written (canonical, padded) */
    char *comment;                 /* never NULL; "" when there is none */
    unsigned bits;                 /* 256 for ed25519, the curve size, the RSA modulus */
    char fingerprint[KEYS_FP_MAX]; /* "SHA256:..." as ssh-keygen -lf prints it */
};

/*
 * Parse and validate one line (len bytes, need not be NUL-terminated; a
 * trailing "\n" or "\r\n" is ignored).  Returns 0 and fills *out, or
 * OB_EINVAL with the reason in err ("ssh-rsa key of 2048 bits (at least
 * 3072)"), OB_ETOOLARGE for an over-long line, OB_ENOMEM.  On failure *out
 * holds nothing to release.
 */
int keys_parse_line(const char *line, size_t len, struct keys_key *out, struct ob_error *err);

/* Free what k owns and zero it.  Accepts NULL and a zeroed key. */
void keys_key_release(struct keys_key *k);

/* "type blob comment" (or "type blob"), malloc'd; NULL on OOM. */
char *keys_key_format(const struct keys_key *k);

/* One problem in a key file: "FILE:LINE: reason" (LINE 0 for the whole file). */
struct keys_problem {
    unsigned line;
    char *message; /* owned */
};

/* The keys of one file, and its problems. */
struct keys_file {
    struct keys_key *keys; /* owned array */
    size_t count;
    struct keys_problem *problems; /* owned array */
    size_t problem_count;
};

/*
 * Parse a whole key file: one key per line; blank lines and lines starting
 * with '#' are ignored.  A file is all or nothing: when any line is bad (or
 * the file is too large, has no key, has too many), every problem is listed
 * and out->count is 0, so a file is never half-applied.  Returns 0 (check
 * out->problem_count) or OB_ENOMEM.  Release out with keys_file_release.
 */
int keys_parse_file(const char *data, size_t len, struct keys_file *out);
void keys_file_release(struct keys_file *f);

/* ---- the cache file (cache.c) ---------------------------------------------- */

/* One line of the cache: a user and one key line ("type blob comment"). */
struct keys_entry {
    char *user; /* owned */
    char *key;  /* owned */
};

struct keys_entries {
    struct keys_entry *items; /* owned */
    size_t count, cap;
};

int keys_entries_add(struct keys_entries *e, const char *user, const char *key);
void keys_entries_release(struct keys_entries *e);

/*
 * Write entries to path atomically: sorted by user (keeping each user's
 * order), to "path.tmp.PID", fsync, rename, fsync the directory; mode 0644.
 * Sorts e in place.  Returns 0 or OB_EIO with err.
 */
int keys_cache_write(const char *path, struct keys_entries *e, struct ob_error *err);

/* Read the whole cache into e (for `keys list` and sync's diff).
 * 0, OB_ENOTFOUND (no file), OB_EIO or OB_EINVAL (a malformed line). */
int keys_cache_read(const char *path, struct keys_entries *e, struct ob_error *err);

/*
 * Write user's key lines to fd (one per line) by binary search over the
 * sorted cache (mmap).  Returns the number of keys written (0 for an unknown
 * user), OB_ENOTFOUND when the file does not exist, OB_EIO otherwise.
 */
int keys_cache_lookup(const char *path, const char *user, int fd, struct ob_error *err);

/*
 * The cache file named by a main configuration file, without loading the
 * configuration: top-level keys.cache_dir (relative to the file's directory)
 * + "/" KEYS_CACHE_NAME, or KEYS_DEFAULT_CACHE_DIR when the file has no
 * keys.cache_dir.  0, OB_EIO (unreadable file) or OB_EINVAL (bad YAML).
 */
#define KEYS_DEFAULT_CACHE_DIR "/var/lib/opsbell/keys"
int keys_cache_path_from_config(const char *config_path, char *buf, size_t cap,
                                struct ob_error *err);

/*
 * The cache file of a command line: the configuration named by config_arg
 * (-c; else $OPSBELL_CONFIG, ./opsbell.yaml, /etc/opsbell/opsbell.yaml)
 * through keys_cache_path_from_config; when no configuration file exists
 * and none was named, the default directory's.
 */
int keys_cache_path_for(const char *config_arg, char *buf, size_t cap, struct ob_error *err);

/* ---- `opsbell keys authorized-keys` (authkeys.c) ----------------------------- */

#define KEYS_AUTHORIZED_KEYS_USAGE                                                                 \
    "usage: opsbell keys authorized-keys [--cache FILE | -c FILE] USER\n\n"                        \
    "Print USER's keys from the local cache, one per line, for sshd_config's\n"                    \
    "  AuthorizedKeysCommand /usr/bin/opsbell keys authorized-keys %u\n"                           \
    "  AuthorizedKeysCommandUser nobody\n"                                                         \
    "Reads only the cache file (never the network, the database or the rest of the\n"              \
    "configuration). An unknown user or a missing cache prints nothing and exits 0.\n\n"           \
    "  -c, --config FILE   main configuration file, for keys.cache_dir (default:\n"                \
    "                      $OPSBELL_CONFIG, ./opsbell.yaml, /etc/opsbell/opsbell.yaml)\n"          \
    "      --cache FILE    the cache file (default: keys.cache_dir/" KEYS_CACHE_NAME ")\n"

/*
 * The whole command (argv[0] is the command's name): exit status 0 (keys
 * printed, or none: unknown user, missing cache), 1 (the cache could not be
 * read or stdout written), 2 (usage).  Needs only libc, libyaml and
 * cache.c, so that the small front binary (src/front.c) runs it without
 * loading the rest of opsbell's libraries.
 */
int keys_authorized_keys_main(int argc, char **argv);

/* ---- sync (sync.c) ----------------------------------------------------------- */

struct config;

/* What one sync found. */
struct keys_sync_report {
    char commit[41];               /* hex id of the commit read */
    size_t users, keys;            /* in the new cache */
    struct keys_entries added;     /* keys in the new cache and not in the old */
    struct keys_entries removed;   /* keys in the old cache and not in the new */
    struct keys_problem *problems; /* "FILE:LINE: reason" lines (line 0: none) */
    size_t problem_count;
};

void keys_sync_report_release(struct keys_sync_report *r);

/*
 * One sync with cfg's keys: section: clone or fetch the repository into
 * cache_dir/repo, read the configured branch's tip, validate every file,
 * and replace cache_dir/authorized_keys.cache.  Bad files and keys of
 * unknown users are reported in r->problems and skipped.  On failure (the
 * repository cannot be fetched, no such branch, the cache cannot be
 * written) returns a negative code with one line in err and leaves the
 * previous cache as it was.  Serialised by a lock file in cache_dir, so a
 * CLI sync and the daemon's never interleave.
 */
int keys_sync(const struct config *cfg, struct keys_sync_report *r, struct ob_error *err);

/* The same; a transfer in progress is abandoned (OB_EUNAVAILABLE) once
 * *cancel (may be NULL) becomes non-zero.  libgit2 1.5 has no connect
 * timeout: a connection attempt itself is not interrupted. */
int keys_sync_cancelable(const struct config *cfg, const volatile int *cancel,
                         struct keys_sync_report *r, struct ob_error *err);

/* ---- the daemon's sync thread (syncer.c) ------------------------------------ */

struct keys_syncer;

/* Returns a new reference to the configuration in force (config_unref it). */
typedef struct config *(*keys_config_fn)(void *ctx);

/*
 * Start the thread that runs keys_sync every keys.sync_interval of the
 * configuration in force (read anew before each sync, so a reload takes
 * effect at the next one; without a keys: section it looks again every
 * 30 s).  The first sync runs at once.  Outcomes are logged (subsystem
 * "keys"): changes at info, problems at warn, failures at error.
 * Returns 0 and *out, or a negative code with err.
 */
int keys_syncer_start(keys_config_fn get_config, void *ctx, struct keys_syncer **out,
                      struct ob_error *err);
/* Stop and join the thread (a transfer in progress is abandoned) and free
 * it.  Accepts NULL. */
void keys_syncer_stop(struct keys_syncer *s);

#endif
