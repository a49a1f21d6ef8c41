/*
 * migrations.c - the versioned schema, written once for both drivers.
 *
 * Each migration's `sql` runs on every driver after the tokens {{ID}} (a
 * surrogate key column) and {{BLOB}} are replaced; `sqlite` / `postgres`
 * hold the few statements where the dialects truly differ (triggers).
 * Migrations are append-only: never edit one that has shipped, add the
 * next version instead.  schema_migrations records what was applied.
 */
#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

struct migration {
    int version;
    const char *name;
    const char *sql;      /* every driver, with {{TOKENS}} */
    const char *sqlite;   /* SQLite only, may be NULL */
    const char *postgres; /* PostgreSQL only, may be NULL */
};

/* ---- migration 1: API tokens and the audit log ---------------------------- */

static const char m1_sql[] =
    "CREATE TABLE api_tokens (\n"
    "    id {{ID}},\n"
    "    name TEXT NOT NULL,\n"
    "    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),\n"
    "    team TEXT,\n" /* NULL = every team */
    "    token_hash TEXT NOT NULL UNIQUE,\n"
    "    created_by TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    expires_at BIGINT,\n" /* NULL = never */
    "    revoked_at BIGINT,\n"
    "    last_used_at BIGINT\n"
    ");\n"
    "CREATE TABLE audit_events (\n"
    "    id {{ID}},\n"
    "    at BIGINT NOT NULL,\n"
    "    actor TEXT NOT NULL,\n"
    "    action TEXT NOT NULL,\n"
    "    target TEXT,\n"
    "    remote_addr TEXT,\n"
    "    request_id TEXT,\n"
    "    details TEXT\n"
    ");\n"
    /* Listing is newest-first by id, optionally for one actor or action. */
    "CREATE INDEX audit_events_at ON audit_events (at);\n"
    "CREATE INDEX audit_events_actor ON audit_events (actor, id);\n"
    "CREATE INDEX audit_events_action ON audit_events (action, id);\n";

/* The audit log is evidence: the schema itself refuses to rewrite it. */
static const char m1_sqlite[] =
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events\n"
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;\n"
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events\n"
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;\n";

static const char m1_postgres[] =
    "CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    RAISE EXCEPTION 'audit_events is append-only';\n"
    "END;\n"
    "$$;\n"
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events\n"
    "    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();\n"
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events\n"
    "    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();\n";

/* ---- migration 2: alerts, incidents, timeline, silences, heartbeats ------- */

/*
 * "One open incident per key" and "one firing alert per key" are unique
 * indexes on an open_key column that is NULL once the row is closed: NULLs
 * are distinct in a unique index on both databases, so this needs no
 * partial index.  The CHECKs tie open_key to the status, so that a closed
 * row can never hold a key (and block a re-trigger) and an open one always
 * does.
 */
static const char m2_sql[] =
    "CREATE TABLE incidents (\n"
    "    id {{ID}},\n"
    "    service TEXT NOT NULL,\n"
    "    team TEXT NOT NULL,\n"
    "    incident_key TEXT NOT NULL,\n"
    "    status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),\n"
    "    summary TEXT NOT NULL,\n"
    "    severity TEXT NOT NULL,\n"
    "    silenced INTEGER NOT NULL DEFAULT 0 CHECK (silenced IN (0, 1)),\n"
    "    alert_count BIGINT NOT NULL DEFAULT 0,\n"
    "    open_alerts BIGINT NOT NULL DEFAULT 0,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    acknowledged_at BIGINT,\n" /* NULL = never */
    "    acknowledged_by TEXT,\n"
    "    resolved_at BIGINT,\n"
    "    resolved_by TEXT,\n"
    "    open_key TEXT,\n" /* NULL once resolved */
    "    CHECK ((status = 'resolved' AND open_key IS NULL)\n"
    "        OR (status <> 'resolved' AND open_key IS NOT NULL))\n"
    ");\n"
    "CREATE UNIQUE INDEX incidents_open_key ON incidents (open_key);\n"
    "CREATE INDEX incidents_status ON incidents (status, id);\n"
    "CREATE INDEX incidents_team ON incidents (team, id);\n"
    "CREATE INDEX incidents_service ON incidents (service, id);\n"
    "CREATE TABLE incident_events (\n"
    "    id {{ID}},\n"
    "    incident_id BIGINT NOT NULL REFERENCES incidents (id),\n"
    "    at BIGINT NOT NULL,\n"
    "    kind TEXT NOT NULL,\n"
    "    actor TEXT,\n"
    "    message TEXT,\n"
    "    data TEXT\n" /* JSON object */
    ");\n"
    "CREATE INDEX incident_events_incident ON incident_events (incident_id, id);\n"
    "CREATE TABLE alerts (\n"
    "    id {{ID}},\n"
    "    incident_id BIGINT REFERENCES incidents (id),\n" /* NULL = unroutable */
    "    service TEXT,\n"                                 /* NULL = unroutable */
    "    source TEXT NOT NULL,\n"
    "    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),\n"
    "    fingerprint TEXT NOT NULL,\n"
    "    dedup_key TEXT,\n"
    "    summary TEXT NOT NULL,\n"
    "    severity TEXT NOT NULL,\n"
    "    labels TEXT NOT NULL,\n"      /* JSON object */
    "    annotations TEXT NOT NULL,\n" /* JSON object */
    "    details TEXT,\n"              /* JSON object */
    "    source_name TEXT,\n"
    "    generator_url TEXT,\n"
    "    starts_at BIGINT NOT NULL,\n"
    "    ends_at BIGINT,\n" /* NULL = open-ended */
    "    received_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    event_count BIGINT NOT NULL DEFAULT 1,\n"
    "    silenced_by BIGINT,\n" /* silence id */
    "    open_key TEXT,\n"      /* NULL once resolved */
    "    CHECK ((status = 'resolved' AND open_key IS NULL)\n"
    "        OR (status = 'firing' AND open_key IS NOT NULL))\n"
    ");\n"
    "CREATE UNIQUE INDEX alerts_open_key ON alerts (open_key);\n"
    "CREATE INDEX alerts_incident ON alerts (incident_id, id);\n"
    "CREATE INDEX alerts_status ON alerts (status, id);\n"
    "CREATE INDEX alerts_status_ends ON alerts (status, ends_at);\n" /* the expiry sweep */
    "CREATE INDEX alerts_service ON alerts (service, id);\n"
    "CREATE TABLE silences (\n"
    "    id {{ID}},\n"
    "    matchers TEXT NOT NULL,\n" /* JSON array */
    "    starts_at BIGINT NOT NULL,\n"
    "    ends_at BIGINT NOT NULL,\n"
    "    comment TEXT NOT NULL,\n"
    "    created_by TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    expired_at BIGINT,\n" /* NULL = not expired by hand */
    "    CHECK (ends_at >= starts_at)\n"
    ");\n"
    "CREATE INDEX silences_ends ON silences (ends_at);\n"
    "CREATE TABLE heartbeats (\n"
    "    name TEXT PRIMARY KEY,\n"
    "    last_seen_at BIGINT,\n" /* NULL = never */
    "    state TEXT NOT NULL CHECK (state IN ('waiting', 'ok', 'missed')),\n"
    "    updated_at BIGINT NOT NULL\n"
    ");\n";

/* ---- migration 3: the on-call engine ----------------------------------------
 *
 * escalations: one row per incident that walks a policy; next_at is the
 * absolute due time of the next step (the engine's durable timer), NULL
 * once stopped.  escalation_steps: every step taken, unique per (incident,
 * seq) so that a step can never be taken twice.  outbox: one notification
 * attempt per (step, user, rule, address), due at due_at; the dispatcher
 * moves it from queued to a final state.  schedule_overrides: "Ann covers
 * the schedule from t1 to t2" (deleted ones are kept, marked).  ical_feeds:
 * revocable feed tokens, stored hashed like API tokens.
 */
static const char m3_sql[] =
    "CREATE TABLE escalations (\n"
    "    incident_id BIGINT PRIMARY KEY REFERENCES incidents (id),\n"
    "    policy TEXT NOT NULL,\n"
    "    state TEXT NOT NULL CHECK (state IN ('active', 'stopped', 'exhausted')),\n"
    "    next_step INTEGER NOT NULL,\n"     /* 0-based index of the step to take next */
    "    next_pass INTEGER NOT NULL,\n"     /* 0-based pass over the policy */
    "    seq INTEGER NOT NULL DEFAULT 0,\n" /* steps taken so far */
    "    next_at BIGINT,\n"                 /* due time of the next step; NULL unless active */
    "    started_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    stop_reason TEXT,\n"
    "    CHECK ((state = 'active') = (next_at IS NOT NULL))\n"
    ");\n"
    "CREATE INDEX escalations_due ON escalations (next_at);\n"
    "CREATE TABLE escalation_steps (\n"
    "    id {{ID}},\n"
    "    incident_id BIGINT NOT NULL REFERENCES incidents (id),\n"
    "    seq INTEGER NOT NULL,\n"
    "    step INTEGER NOT NULL,\n"
    "    pass INTEGER NOT NULL,\n"
    "    due_at BIGINT NOT NULL,\n"
    "    taken_at BIGINT NOT NULL,\n"
    "    node TEXT NOT NULL,\n"
    "    targets TEXT NOT NULL,\n" /* JSON array of user names notified */
    "    UNIQUE (incident_id, seq)\n"
    ");\n"
    "CREATE TABLE outbox (\n"
    "    id {{ID}},\n"
    "    incident_id BIGINT NOT NULL REFERENCES incidents (id),\n"
    "    seq INTEGER NOT NULL,\n" /* the escalation step (escalation_steps.seq); 0 = direct */
    "    user_name TEXT NOT NULL,\n"
    "    contact_type TEXT NOT NULL,\n"
    "    address TEXT NOT NULL,\n"
    "    rule_index INTEGER NOT NULL,\n"
    "    due_at BIGINT NOT NULL,\n"
    "    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'answered',\n"
    "        'acknowledged', 'busy', 'no-answer', 'failed-temporary', 'failed-permanent',\n"
    "        'cancelled')),\n"
    "    attempts INTEGER NOT NULL DEFAULT 0,\n"
    "    provider TEXT,\n"
    "    detail TEXT,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    sent_at BIGINT,\n"
    "    UNIQUE (incident_id, seq, user_name, rule_index, address)\n"
    ");\n"
    /* The engine's claims and next-due look-ups see only queued rows. */
    "CREATE INDEX outbox_due ON outbox (due_at, id) WHERE state = 'queued';\n"
    "CREATE INDEX outbox_incident ON outbox (incident_id, id);\n"
    /* The engine's look for incidents whose silence ended, every round. */
    "CREATE INDEX alerts_silenced ON alerts (silenced_by)\n"
    "    WHERE status = 'firing' AND silenced_by IS NOT NULL;\n"
    "CREATE TABLE schedule_overrides (\n"
    "    id {{ID}},\n"
    "    schedule TEXT NOT NULL,\n"
    "    user_name TEXT NOT NULL,\n"
    "    starts_at BIGINT NOT NULL,\n"
    "    ends_at BIGINT NOT NULL,\n"
    "    reason TEXT,\n"
    "    created_by TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    deleted_at BIGINT,\n"
    "    deleted_by TEXT,\n"
    "    CHECK (ends_at > starts_at)\n"
    ");\n"
    "CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule, ends_at);\n"
    "CREATE TABLE ical_feeds (\n"
    "    id {{ID}},\n"
    "    kind TEXT NOT NULL CHECK (kind IN ('user', 'schedule')),\n"
    "    subject TEXT NOT NULL,\n"
    "    token_hash TEXT NOT NULL UNIQUE,\n"
    "    created_by TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    revoked_at BIGINT\n"
    ");\n";

/* ---- migration 4: the dispatcher's guarantees --------------------------------
 *
 * outbox.sending_at / node: when and by which node the current attempt was
 * handed to a provider (committed before the call), so that a crash mid-send
 * is found and the attempt counted, never repeated.  The indexes serve the
 * look for stale `sending` rows and the per-address rate limit.
 */
static const char m4_sql[] = "ALTER TABLE outbox ADD COLUMN sending_at BIGINT;\n"
                             "ALTER TABLE outbox ADD COLUMN node TEXT;\n"
                             "CREATE INDEX outbox_sending ON outbox (sending_at)\n"
                             "    WHERE state = 'sending';\n"
                             "CREATE INDEX outbox_address ON outbox (contact_type, address, "
                             "sending_at);\n";

/* ---- migration 5: messages that follow the incident --------------------------
 *
 * outbox.kind: 'page' (a notification) or 'update' (the incident changed
 * state: edit the message a page sent, e.g. Slack chat.update).
 * outbox.external_id: the provider's id of what an attempt sent (Slack
 * channel:ts, Twilio call SID, SIP Call-ID).  An update row is keyed by
 * seq = -(the page's id), so each message has at most one, re-queued on
 * every change of state.
 */
static const char m5_sql[] = "ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'page';\n"
                             "ALTER TABLE outbox ADD COLUMN external_id TEXT;\n";

/* ---- migration 6: contact-method verification ----------------------------------
 *
 * A phone number or SIP URI is paged only once its owner proved it is
 * theirs: a code sent to it and typed back (or an admin vouching: code_hash
 * NULL).  Keyed by user and address, so that one number verified by SMS is
 * verified for calls too.
 */
static const char m6_sql[] = "CREATE TABLE contact_verifications (\n"
                             "    id {{ID}},\n"
                             "    user_name TEXT NOT NULL,\n"
                             "    address TEXT NOT NULL,\n"
                             "    contact_type TEXT NOT NULL,\n"
                             "    code_hash TEXT,\n"
                             "    expires_at BIGINT NOT NULL,\n"
                             "    failures INTEGER NOT NULL DEFAULT 0,\n"
                             "    verified_at BIGINT,\n"
                             "    created_at BIGINT NOT NULL,\n"
                             "    created_by TEXT NOT NULL\n"
                             ");\n"
                             "CREATE INDEX contact_verifications_address\n"
                             "    ON contact_verifications (user_name, address, id);\n";

/* ---- migration 7: calls on request (/tel) ----------------------------------------
 *
 * A call on request is an outbox row of kind 'tel' that belongs to no
 * incident: incident_id becomes nullable, and the row carries what is said
 * (message), where the outcome goes (reply_url) and who asked
 * (requested_by).  SQLite cannot drop a NOT NULL: the table is rebuilt
 * (same ids, same indexes).
 */
static const char m7_sqlite[] =
    "CREATE TABLE outbox_v7 (\n"
    "    id {{ID}},\n"
    "    incident_id BIGINT REFERENCES incidents (id),\n"
    "    seq INTEGER NOT NULL,\n"
    "    user_name TEXT NOT NULL,\n"
    "    contact_type TEXT NOT NULL,\n"
    "    address TEXT NOT NULL,\n"
    "    rule_index INTEGER NOT NULL,\n"
    "    due_at BIGINT NOT NULL,\n"
    "    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'answered',\n"
    "        'acknowledged', 'busy', 'no-answer', 'failed-temporary', 'failed-permanent',\n"
    "        'cancelled')),\n"
    "    attempts INTEGER NOT NULL DEFAULT 0,\n"
    "    provider TEXT,\n"
    "    detail TEXT,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    sent_at BIGINT,\n"
    "    sending_at BIGINT,\n"
    "    node TEXT,\n"
    "    kind TEXT NOT NULL DEFAULT 'page',\n"
    "    external_id TEXT,\n"
    "    message TEXT,\n"
    "    reply_url TEXT,\n"
    "    requested_by TEXT,\n"
    "    UNIQUE (incident_id, seq, user_name, rule_index, address)\n"
    ");\n"
    "INSERT INTO outbox_v7 (id, incident_id, seq, user_name, contact_type, address, rule_index,\n"
    "    due_at, state, attempts, provider, detail, created_at, updated_at, sent_at, sending_at,\n"
    "    node, kind, external_id)\n"
    "SELECT id, incident_id, seq, user_name, contact_type, address, rule_index, due_at, state,\n"
    "    attempts, provider, detail, created_at, updated_at, sent_at, sending_at, node, kind,\n"
    "    external_id FROM outbox;\n"
    "DROP TABLE outbox;\n"
    "ALTER TABLE outbox_v7 RENAME TO outbox;\n"
    "CREATE INDEX outbox_due ON outbox (due_at, id) WHERE state = 'queued';\n"
    "CREATE INDEX outbox_incident ON outbox (incident_id, id);\n"
    "CREATE INDEX outbox_sending ON outbox (sending_at) WHERE state = 'sending';\n"
    "CREATE INDEX outbox_address ON outbox (contact_type, address, sending_at);\n"
    "CREATE INDEX outbox_tel ON outbox (kind, created_at) WHERE kind = 'tel';\n";

static const char m7_postgres[] =
    "ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;\n"
    "ALTER TABLE outbox ADD COLUMN message TEXT;\n"
    "ALTER TABLE outbox ADD COLUMN reply_url TEXT;\n"
    "ALTER TABLE outbox ADD COLUMN requested_by TEXT;\n"
    "CREATE INDEX outbox_tel ON outbox (kind, created_at) WHERE kind = 'tel';\n";

/* ---- migration 8: emergency access (break-glass grants, the allowlist) -----------
 *
 * A grant opens SSH on some hosts (grant_hosts, resolved when it was asked
 * for) from one CIDR until expires_at.  grant_certs are the SSH
 * certificates signed for a grant (their serials go into the KRL once the
 * grant is revoked); grant_applied records the first time an agent reported
 * a grant in force on its host.  allowlist holds the addresses people were
 * seen at (Slack team.accessLogs, /allowme links); allow_links the one-time
 * links, by the SHA-256 of their secret.  kv keeps small named values (a
 * poller's cursor).  A token may belong to a person (user_name) or to a
 * host's agent (agent_host).
 */
static const char m8_sql[] =
    "CREATE TABLE grants (\n"
    "    id {{ID}},\n"
    "    user_name TEXT NOT NULL,\n"
    "    team TEXT NOT NULL,\n"
    "    target_kind TEXT NOT NULL CHECK (target_kind IN ('host', 'group')),\n"
    "    target TEXT NOT NULL,\n"
    "    cidr TEXT NOT NULL,\n"
    "    reason TEXT NOT NULL,\n"
    "    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'denied', 'revoked',\n"
    "        'expired')),\n"
    "    duration_s BIGINT NOT NULL,\n"
    "    requested_by TEXT NOT NULL,\n"
    "    requested_from TEXT,\n"
    "    requested_at BIGINT NOT NULL,\n"
    "    pending_until BIGINT,\n"
    "    approved_by TEXT,\n"
    "    approved_at BIGINT,\n"
    "    starts_at BIGINT,\n"
    "    expires_at BIGINT,\n"
    "    ended_by TEXT,\n"
    "    ended_at BIGINT,\n"
    "    end_reason TEXT\n"
    ");\n"
    "CREATE INDEX grants_state ON grants (state, expires_at);\n"
    "CREATE TABLE grant_hosts (\n"
    "    grant_id BIGINT NOT NULL REFERENCES grants (id),\n"
    "    host TEXT NOT NULL,\n"
    "    PRIMARY KEY (grant_id, host)\n"
    ");\n"
    "CREATE INDEX grant_hosts_host ON grant_hosts (host, grant_id);\n"
    "CREATE TABLE grant_certs (\n"
    "    serial TEXT PRIMARY KEY,\n"
    "    grant_id BIGINT NOT NULL REFERENCES grants (id),\n"
    "    key_fingerprint TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    valid_before BIGINT NOT NULL\n"
    ");\n"
    "CREATE INDEX grant_certs_grant ON grant_certs (grant_id);\n"
    "CREATE TABLE grant_applied (\n"
    "    grant_id BIGINT NOT NULL REFERENCES grants (id),\n"
    "    host TEXT NOT NULL,\n"
    "    applied_at BIGINT NOT NULL,\n"
    "    PRIMARY KEY (grant_id, host)\n"
    ");\n"
    "CREATE TABLE allowlist (\n"
    "    user_name TEXT NOT NULL,\n"
    "    cidr TEXT NOT NULL,\n"
    "    source TEXT NOT NULL CHECK (source IN ('slack', 'link', 'manual')),\n"
    "    first_seen BIGINT NOT NULL,\n"
    "    last_seen BIGINT NOT NULL,\n"
    "    expires_at BIGINT NOT NULL,\n"
    "    detail TEXT,\n"
    "    PRIMARY KEY (user_name, cidr)\n"
    ");\n"
    "CREATE INDEX allowlist_expiry ON allowlist (expires_at);\n"
    "CREATE TABLE allow_links (\n"
    "    token_hash TEXT PRIMARY KEY,\n"
    "    user_name TEXT NOT NULL,\n"
    "    created_by TEXT NOT NULL,\n"
    "    created_at BIGINT NOT NULL,\n"
    "    expires_at BIGINT NOT NULL,\n"
    "    used_at BIGINT,\n"
    "    used_addr TEXT\n"
    ");\n"
    "CREATE TABLE kv (\n"
    "    name TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL\n"
    ");\n"
    "ALTER TABLE api_tokens ADD COLUMN user_name TEXT;\n"
    "ALTER TABLE api_tokens ADD COLUMN agent_host TEXT;\n";

static const struct migration migrations[] = {
    {1, "api tokens and audit log", m1_sql, m1_sqlite, m1_postgres},
    {2, "alerts, incidents, timeline, silences, heartbeats", m2_sql, NULL, NULL},
    {3, "escalations, outbox, schedule overrides, ical feeds", m3_sql, NULL, NULL},
    {4, "outbox attempts in flight: sending_at, node", m4_sql, NULL, NULL},
    {5, "outbox kinds (page, update) and provider ids", m5_sql, NULL, NULL},
    {6, "contact-method verification", m6_sql, NULL, NULL},
    {7, "calls on request: outbox rows without an incident", "", m7_sqlite, m7_postgres},
    {8, "emergency access: grants, certificates, the allowlist, links, agent tokens", m8_sql, NULL,
     NULL},
};

#define MIGRATIONS_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char schema_migrations_ddl[] = "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                                            "    version INTEGER PRIMARY KEY,\n"
                                            "    name TEXT NOT NULL,\n"
                                            "    applied_at BIGINT NOT NULL\n"
                                            ")";

int store_latest_schema_version(void)
{
    return migrations[MIGRATIONS_COUNT - 1].version;
}

int migrations_render(const struct store_driver *driver, const char *sql, struct strbuf *out,
                      struct ob_error *err)
{
    const char *p = sql;

    while (*p != '\0') {
        const char *open = strstr(p, "{{");
        const char *close;
        size_t name_len;

        if (open == NULL) {
            strbuf_adds(out, p);
            break;
        }
        strbuf_add(out, p, (size_t)(open - p));
        close = strstr(open + 2, "}}");
        if (close == NULL)
            return ob_fail(err, OB_EINTERNAL, "migration: unterminated {{ token");
        name_len = (size_t)(close - open - 2);
        if (name_len == 2 && strncmp(open + 2, "ID", 2) == 0)
            strbuf_adds(out, driver->ddl_id);
        else if (name_len == 4 && strncmp(open + 2, "BLOB", 4) == 0)
            strbuf_adds(out, driver->ddl_blob);
        else
            return ob_fail(err, OB_EINTERNAL, "migration: unknown token {{%.*s}}", (int)name_len,
                           open + 2);
        p = close + 2;
    }
    return 0;
}

int migrations_current(struct store_conn *conn, int *version, struct ob_error *err)
{
    struct db_result *res = NULL;
    int rc;

    *version = 0;
    rc = store_exec(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &res,
                    NULL, err);
    if (rc == 0)
        *version = (int)db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

/* Apply one migration in its own transaction, unless another process
 * applied it while we waited for the lock. */
static int migrations_apply_one(struct store_conn *conn, const struct migration *m,
                                struct ob_error *err)
{
    const char *extra = conn->driver->dialect == STORE_DIALECT_SQLITE ? m->sqlite : m->postgres;
    struct strbuf sql = STRBUF_INIT;
    struct db_result *res = NULL;
    struct db_param params[3];
    struct ob_error e;
    char version_str[16];
    int rc;

    ob_error_clear(&e);
    rc = migrations_render(conn->driver, m->sql, &sql, &e);
    if (rc == 0 && extra != NULL)
        rc = migrations_render(conn->driver, extra, &sql, &e);
    if (rc != 0)
        goto out;
    rc = store_begin(conn, &e);
    if (rc != 0)
        goto out;
    params[0] = DB_P_INT(m->version);
    rc = store_exec(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", params, 1, &res,
                    NULL, &e);
    if (rc != 0 || db_result_rows(res) > 0)
        goto out;
    rc = conn->driver->exec_script(conn, strbuf_str(&sql), &e);
    if (rc != 0)
        goto out;
    params[1] = DB_P_TEXT(m->name);
    params[2] = DB_P_INT(store_now_ms());
    rc = store_exec(conn,
                    "INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES ($1, $2, $3)",
                    params, 3, NULL, NULL, &e);
    if (rc == 0)
        rc = store_commit(conn, &e);
    if (rc == 0) {
        snprintf(version_str, sizeof(version_str), "%d", m->version);
        log_info("store", "schema migration applied", "driver", conn->driver->name, "version",
                 version_str, "name", m->name);
    }
out:
    if (conn->in_tx)
        store_rollback(conn);
    if (rc != 0)
        ob_fail(err, rc, "schema migration %d (%s): %s", m->version, m->name, e.msg);
    db_result_free(res);
    strbuf_release(&sql);
    return rc;
}

int migrations_apply(struct store_conn *conn, struct ob_error *err)
{
    int current = 0;
    int rc;

    rc = conn->driver->lock_schema(conn, err);
    if (rc != 0)
        return rc;
    rc = conn->driver->exec_script(conn, schema_migrations_ddl, err);
    if (rc == 0)
        rc = migrations_current(conn, &current, err);
    if (rc != 0)
        goto out;
    /* An older binary must not write to a schema it does not understand
     * (say, after a rollback of the deployment on one of several nodes). */
    if (current > store_latest_schema_version()) {
        rc = ob_fail(err, OB_ESTORE,
                     "database schema version %d is newer than this opsbell knows (%d); "
                     "run a newer opsbell",
                     current, store_latest_schema_version());
        goto out;
    }
    for (int i = 0; i < MIGRATIONS_COUNT; i++) {
        if (migrations[i].version != i + 1)
            OB_BUG("migration %d is numbered %d", i + 1, migrations[i].version);
        if (migrations[i].version <= current)
            continue;
        rc = migrations_apply_one(conn, &migrations[i], err);
        if (rc != 0)
            goto out;
    }
out:
    conn->driver->unlock_schema(conn);
    return rc;
}
