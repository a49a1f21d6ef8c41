/*
 * agent.h - `opsbell agent`: the host agent (docs/AGENT.md).
 *
 * The agent runs on each server.  It polls the opsbell server for what
 * applies to its host (GET /api/v1/agent/state with its own token and the
 * ETag it holds), keeps the last good state on disk, and applies it
 * declaratively: opsbell's nftables table (the entries, each with its
 * remaining time as the kernel timeout), the authorized-keys cache that
 * `opsbell keys authorized-keys` answers sshd from, the TrustedUserCAKeys
 * file and the RevokedKeys file.  Then it reports what it applied (POST
 * /api/v1/agent/report).  No port is opened on the host.
 *
 * Layers, each usable alone:
 *   agent_config.c  agent.yaml (libyaml; FILE:LINE:COL diagnostics);
 *   agent_state.c   the state document: parse and validate the whole of it,
 *                   ETag values, the on-disk cache (state_dir/state.json);
 *   agent_http.c    one GET of the state, one POST of a report (libcurl);
 *   agent_apply.c   apply a state: enforcer, keys cache, CA and KRL files;
 *   agent_run.c     the poll loop and the signals.
 *
 * Threads: the agent is one thread.  agent_run() blocks SIGINT and SIGTERM
 * in the calling thread and waits for them between polls with
 * sigtimedwait(); a transfer in progress checks for a pending signal in its
 * progress callback, so a stop is never held up by the network for more
 * than about a second.  No code runs in a signal handler.  Every other
 * function here is reentrant and touches no global state.
 *
 * Ownership: structures filled by a function (agent_config_load,
 * agent_state_parse, ...) own their memory and are released by the matching
 * _free/_release function, which accepts NULL and zeroed structures.
 * Nothing returned borrows from an argument unless said so.
 */
#ifndef OPSBELL_AGENT_AGENT_H
#define OPSBELL_AGENT_AGENT_H

#include "config/config.h"
#include "enforce/enforce.h"
#include "util/secret.h"

#include <stddef.h>
#include <stdint.h>

struct ob_error;

#define AGENT_CONFIG_MAX         (256 * 1024)      /* bytes of agent.yaml */
#define AGENT_STATE_MAX          (8 * 1024 * 1024) /* bytes of one state document */
#define AGENT_STATE_MAX_ENTRIES  10000             /* entries of one state */
#define AGENT_STATE_MAX_KEYS     100000            /* keys of one state */
#define AGENT_KRL_MAX            (1024 * 1024)     /* bytes of a decoded KRL */
#define AGENT_LOGIN_MAX          32                /* a Unix login name */
#define AGENT_HOST_MAX           253               /* a host name */
#define AGENT_ETAG_MAX           128               /* bytes of an ETag, quotes included */
#define AGENT_URL_MAX            1024              /* bytes of `server` */
#define AGENT_DEFAULT_STATE_DIR  "/var/lib/opsbell/agent"
#define AGENT_DEFAULT_POLL_S     15
#define AGENT_STATE_FILE         "state.json"
#define AGENT_CONNECT_TIMEOUT_S  5  /* libcurl's connect phase */
#define AGENT_TRANSFER_TIMEOUT_S 30 /* seconds for a whole request */

/* ---- agent.yaml (agent_config.c) ------------------------------------------- */

struct agent_config {
    char *path;                 /* the file as given */
    char *base_dir;             /* absolute directory of the file: relative paths start here */
    char *server;               /* "https://opsbell.example.com", no trailing '/' */
    struct secret token;        /* `token: env:NAME | file:PATH`; value never logged */
    char *host;                 /* `host`, default gethostname() in lower case */
    char *state_dir;            /* absolute; default AGENT_DEFAULT_STATE_DIR */
    uint32_t poll_interval_s;   /* `poll_interval`, default 15s, 1s .. 1h */
    char *ca_file;              /* `ca_file`: CA bundle for https (NULL: the system's) */
    enum log_level log_level;   /* `log_level`, default info */
    char *keys_cache_dir;       /* `keys.cache_dir`, absolute; default KEYS_DEFAULT_CACHE_DIR */
    char *trusted_user_ca_keys; /* `ssh.trusted_user_ca_keys`, absolute; NULL: not managed */
    char *revoked_keys;         /* `ssh.revoked_keys`, absolute; NULL: not managed */
    struct config_nftables nftables; /* `nftables:`; .enabled 0 when the section is absent */
};

/*
 * Load agent.yaml.  Every problem is appended to diags as FILE:LINE:COL:
 * message (unknown keys, bad values, a token that is not env:/file:, an
 * unresolvable token) and the load fails as a whole: OB_EINVAL (or OB_EIO
 * when the file cannot be read, OB_ENOMEM).  On success *out is the
 * caller's (agent_config_free).
 */
int agent_config_load(const char *path, struct agent_config **out, struct config_diags *diags);
/* The same from a buffer; `display` names it in diagnostics, base_dir is
 * where relative paths start (NULL: the current directory). */
int agent_config_load_buffer(const char *data, size_t len, const char *display,
                             const char *base_dir, struct agent_config **out,
                             struct config_diags *diags);
/* Wipes the token.  Accepts NULL. */
void agent_config_free(struct agent_config *cfg);
/* A struct config with only .enforcers.nftables filled from cfg, for
 * enforcer_nftables.create().  Borrows cfg's strings: keep cfg alive. */
void agent_config_enforcer_view(const struct agent_config *cfg, struct config *out);

/* ---- the state document (agent_state.c) ------------------------------------ */

/* One key line to publish under a Unix login. */
struct agent_key {
    char login[AGENT_LOGIN_MAX + 1];
    char *line; /* owned: the canonical "type blob comment" (keys_key_format) */
};

struct agent_state {
    char host[AGENT_HOST_MAX + 1];
    struct access_entry *entries; /* owned */
    size_t entry_count;
    struct agent_key *keys; /* owned; sorted by login, each login's keys in document order */
    size_t key_count;
    size_t keys_dropped; /* key lines keys_parse_line refused (left out, logged) */
    char *ssh_ca;        /* owned canonical CA line, or NULL ("ssh_ca": null) */
    unsigned char *krl;  /* owned decoded KRL, or NULL ("krl": null) */
    size_t krl_len;
    unsigned poll_seconds; /* 0 when the document does not say */
};

/*
 * Parse and validate a whole state document (len bytes).  Refused with one
 * line in err (OB_EINVAL, or OB_ETOOLARGE past a cap): not a JSON object,
 * duplicate keys, nesting deeper than 8, `host` missing or not want_host
 * (want_host NULL: any valid host), `entries` not a valid entries list
 * (access_entries_from_json), `keys` not a list of {"login", "key"} objects
 * with login names [a-z_][a-z0-9_.-]{0,31}, `ssh_ca` neither null nor a
 * valid public key line, `krl` neither null nor base64 of an OpenSSH KRL,
 * `poll_seconds` not an integer 1..3600.  A key line keys_parse_line
 * refuses is left out and counted in keys_dropped (the server validated it
 * already; the agent's own check only narrows).  Unknown members are
 * ignored (a newer server may send more).  On failure *out holds nothing.
 */
int agent_state_parse(const char *text, size_t len, const char *want_host, struct agent_state *out,
                      struct ob_error *err);
void agent_state_release(struct agent_state *s);

/* Refuse (OB_EINVAL, naming the entry) a state with a CIDR wider than the
 * policy (cidr_too_wide: any /0, shorter prefixes than max_v4 / max_v6):
 * the enforcer would refuse it at apply time, so the document is refused
 * whole before it replaces the state in force. */
int agent_state_check_policy(const struct agent_state *s, unsigned max_v4, unsigned max_v6,
                             struct ob_error *err);

/* 1 when s is a Unix login name opsbell publishes keys for. */
int agent_login_is_valid(const char *s);

/*
 * An ETag header value (len bytes, surrounding spaces and a trailing CRLF
 * ignored): a strong "..." or weak W/"..." entity tag of visible ASCII, at
 * most AGENT_ETAG_MAX bytes.  0 and the tag, as sent back in If-None-Match,
 * in out (cap >= AGENT_ETAG_MAX + 1); OB_EINVAL for anything else.
 */
int agent_etag_parse(const char *value, size_t len, char *out, size_t cap);

/*
 * The on-disk cache: state_dir/state.json holds {"etag": ..., "fetched_at":
 * ms, "state": {the document}} in one file, replaced atomically (temporary
 * file, fsync, rename, fsync of the directory; mode 0600), so the ETag and
 * the state it names can never disagree.
 *
 * agent_cache_store: text is a document agent_state_parse accepted; etag
 * may be "" (the server sent none).  agent_cache_load: 0 with *st and etag
 * filled, OB_ENOTFOUND when there is no cache, OB_EINVAL when it is not a
 * valid cache for want_host (it is then ignored: never half-trusted).
 */
int agent_cache_store(const char *state_dir, const char *text, size_t len, const char *etag,
                      int64_t now_ms, struct ob_error *err);
int agent_cache_load(const char *state_dir, const char *want_host, struct agent_state *st,
                     char *etag, size_t etag_cap, int64_t *fetched_at_ms, struct ob_error *err);

/* Write data to path atomically (path.tmp.PID, fchmod mode, fsync, rename,
 * fsync of the directory).  0 or OB_EIO with err. */
int agent_write_file(const char *path, const void *data, size_t len, unsigned mode,
                     struct ob_error *err);
/* 1 when path holds exactly data (len bytes), else 0. */
int agent_file_equals(const char *path, const void *data, size_t len);
/* mkdir -p with mode for the directories it makes.  0 or OB_EIO. */
int agent_mkdirs(const char *path, unsigned mode, struct ob_error *err);

/* ---- HTTP (agent_http.c) ----------------------------------------------------- */

enum agent_fetch_status {
    AGENT_FETCH_NEW,          /* 200: body and etag filled */
    AGENT_FETCH_NOT_MODIFIED, /* 304 */
    AGENT_FETCH_UNAUTHORIZED, /* 401 or 403: the token is refused (err says why) */
    AGENT_FETCH_UNAVAILABLE,  /* no connection, timeout, 5xx, 429 */
    AGENT_FETCH_FAILED,       /* another answer (err says which) */
    AGENT_FETCH_STOPPED       /* a stop signal arrived during the transfer */
};

struct agent_fetch {
    enum agent_fetch_status status;
    long http_code;                /* 0 when no answer */
    char etag[AGENT_ETAG_MAX + 1]; /* the new ETag ("" when none or malformed) */
    char *body;                    /* owned (200 only), NUL-terminated */
    size_t body_len;
};

/*
 * GET server/api/v1/agent/state with the Bearer token and, when etag is
 * not "", If-None-Match.  Never blocks longer than AGENT_TRANSFER_TIMEOUT_S.
 * Returns 0 when an outcome was reached (see f->status, with err filled for
 * the failures), OB_ENOMEM or OB_EINTERNAL otherwise.
 */
int agent_http_fetch(const struct agent_config *cfg, const char *etag, struct agent_fetch *f,
                     struct ob_error *err);
void agent_fetch_release(struct agent_fetch *f);

/* POST server/api/v1/agent/report {"etag", "applied": [ids], "error"}.
 * error NULL: success.  0 on a 2xx, else a negative code with err. */
int agent_http_report(const struct agent_config *cfg, const char *etag, const char *const *applied,
                      size_t applied_count, const char *error, struct ob_error *err);

/* ---- applying (agent_apply.c) ------------------------------------------------- */

struct agent_applier; /* the enforcer context and what was last written */

/* Make an applier for cfg (the nftables enforcer when cfg->nftables.enabled).
 * cfg is borrowed and must outlive it. */
int agent_applier_new(const struct agent_config *cfg, struct agent_applier **out,
                      struct ob_error *err);
void agent_applier_free(struct agent_applier *ap);

/*
 * Make the host match st as of now_ms: the enforcer's entries (expired ones
 * left out), the keys cache, the TrustedUserCAKeys file (the CA line, or
 * empty without a CA) and the RevokedKeys file (the KRL, or empty).  Files
 * already right are not rewritten.  Each part is tried even when an earlier
 * one failed; the first failure is returned (err names the part).  The ids
 * of the entries enforced are put in *applied (malloc'd array of pointers
 * into st: free the array only; NULL when none) and *applied_count.
 */
int agent_apply(struct agent_applier *ap, const struct agent_state *st, int64_t now_ms,
                const char ***applied, size_t *applied_count, struct ob_error *err);

/* ---- the loop (agent_run.c) ----------------------------------------------------- */

/*
 * Run the agent: apply the cached state, then poll every interval until
 * SIGINT or SIGTERM (never removing access on the way out).  With once:
 * one poll and apply.  Returns the process exit status: 0, or 1 after one
 * line "opsbell: ..." on stderr (once: the server refused the token or the
 * state, or nothing could be applied; an unreachable server with a usable
 * cache applies the cache, warns and returns 0).
 */
int agent_run(const struct agent_config *cfg, int once);

#endif
