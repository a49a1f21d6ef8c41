"""Storage: SQLite durability across restarts and kills, idempotent
migrations, and the same smoke flow on PostgreSQL (OPSBELL_TEST_PG_URL)."""

import subprocess
import threading
import uuid

import pytest

from e2e_support import Daemon, free_port, opsbell_bin, run_cli


def schema_of_binary():
    r = run_cli(["version", "--json"])
    assert r.code == 0, r
    return r.json()["schema_version"]


def smoke(e, d, admin, tag):
    """Create a token over the API, use it, find the audit event, revoke it.
    Returns (id, secret) of the revoked token."""
    rid = "e2e-smoke-" + tag
    r = d.request("POST", "/api/v1/tokens", {"name": "smoke-" + tag, "scope": "read"},
                  token=admin, headers={"X-Request-Id": rid})
    assert r.status == 201, r
    tid, secret = r.body["id"], r.body["token"]
    who = d.get("/api/v1/whoami", token=secret)
    assert who.status == 200 and who.body["name"] == "smoke-" + tag, who
    assert d.get("/api/v1/teams", token=secret).status == 200

    admin_name = d.get("/api/v1/whoami", token=admin).body["name"]
    ev = d.get("/api/v1/audit?action=token.create&actor=token:" + admin_name, token=admin)
    assert ev.status == 200, ev
    mine = [x for x in ev.body["events"] if x["request_id"] == rid]
    assert len(mine) == 1, ev.body
    assert mine[0]["target"] == "token:%d" % tid
    assert mine[0]["remote_addr"] == "127.0.0.1"

    r = d.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin)
    assert r.status == 200, r
    assert d.get("/api/v1/whoami", token=secret).status == 401
    ev = d.get("/api/v1/audit?action=token.revoke&actor=token:" + admin_name, token=admin)
    assert any(x["target"] == "token:%d" % tid for x in ev.body["events"]), ev.body
    return tid, secret


# ---- SQLite ---------------------------------------------------------------------------


def test_restart_keeps_tokens_and_audit(env, admin_token):
    d = env.daemon()
    schema = d.get("/healthz").body["schema_version"]
    tid, revoked = smoke(env, d, admin_token, "sqlite")
    r = d.request("POST", "/api/v1/tokens", {"name": "survivor", "scope": "write"},
                  token=admin_token)
    assert r.status == 201
    survivor = r.body["token"]
    events_before = d.get("/api/v1/audit", token=admin_token).body["events"]
    assert d.stop() == 0

    d2 = env.daemon()
    assert d2.get("/healthz").body["schema_version"] == schema == schema_of_binary()
    assert d2.get("/api/v1/whoami", token=survivor).status == 200
    assert d2.get("/api/v1/whoami", token=admin_token).status == 200
    r = d2.get("/api/v1/whoami", token=revoked)
    assert r.status == 401 and "revoked" in r.body["error"]
    assert d2.get("/api/v1/audit", token=admin_token).body["events"] == events_before
    assert d2.stop() == 0


def test_2xx_is_durable_even_after_sigkill(env, admin_token):
    d = env.daemon()
    secrets_ = []
    for i in range(3):
        r = d.request("POST", "/api/v1/tokens", {"name": "k%d" % i, "scope": "read"},
                      token=admin_token)
        assert r.status == 201
        secrets_.append(r.body["token"])
    d.kill()  # SIGKILL: no clean shutdown
    assert d.proc.returncode == -9

    d2 = env.daemon()
    for s in secrets_:
        assert d2.get("/api/v1/whoami", token=s).status == 200
    creates = d2.get("/api/v1/audit?action=token.create", token=admin_token).body["events"]
    assert len(creates) == 4


def test_migrations_are_idempotent(env):
    for _ in range(3):
        r = env.local("token", "list")
        assert r.code == 0, r
    info = env.create_token(name="kept", scope="admin")
    versions = []
    for _ in range(3):
        d = env.daemon()
        versions.append(d.get("/healthz").body["schema_version"])
        assert d.get("/api/v1/whoami", token=info["token"]).status == 200
        assert d.stop() == 0
        assert "level=error" not in d.log_text(), d.log_text()
    assert versions == [schema_of_binary()] * 3
    assert [t["name"] for t in env.local("token", "list", "--json").json()] == ["kept"]


def test_sqlite_path_is_relative_to_the_config_file(make_env, tmp_path):
    e = make_env(storage="sqlite:data/rel.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_cli(["token", "create", "--name", "rel", "--scope", "admin", "-c",
                 str(e.config_path)], cwd=str(elsewhere))
    assert r.code == 0, r
    assert (e.dir / "data" / "rel.db").exists()
    assert list(elsewhere.iterdir()) == []
    secret = r.stdout.strip()
    d = e.daemon()
    assert d.get("/api/v1/whoami", token=secret).status == 200


def test_cli_and_daemon_share_the_sqlite_store(env, admin_token):
    """Token commands on the machine while the daemon writes (last_used, audit)."""
    d = env.daemon()
    errors = []
    stop = threading.Event()

    def hammer():
        i = 0
        while not stop.is_set():
            i += 1
            r = d.request("POST", "/api/v1/tokens", {"name": "h%d" % i, "scope": "read"},
                          token=admin_token)
            if r.status != 201:
                errors.append(r)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        made = [env.create_token(name="cli%d" % i, scope="read") for i in range(5)]
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    for m in made:
        assert d.get("/api/v1/whoami", token=m["token"]).status == 200


def test_unusable_store_stops_serve(make_env):
    e = make_env(storage="sqlite:/proc/opsbell-e2e/forbidden.db")
    d = Daemon(e)
    with pytest.raises(AssertionError):
        d.start(timeout=5)
    assert d.proc.returncode not in (None, 0)
    assert "store" in d.log_text()


def test_unreachable_postgres_stops_serve_without_leaking_the_password(make_env):
    port = free_port()
    e = make_env(storage="postgres://opsbell:pw-SEKRIT-77@127.0.0.1:%d/opsbell" % port)
    r = e.local("check-config")
    assert r.code == 0, r
    assert "pw-SEKRIT-77" not in r.stdout + r.stderr
    p = subprocess.run([opsbell_bin(), "serve", "-c", str(e.config_path)],
                       capture_output=True, timeout=60, cwd=str(e.dir))
    assert p.returncode not in (0, None)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert "store" in out, out
    assert "pw-SEKRIT-77" not in out, out


# ---- PostgreSQL -------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_smoke(pg_url, make_env):
    tag = uuid.uuid4().hex[:10]
    e = make_env(storage=pg_url)
    r = e.local("check-config")
    assert r.code == 0, r
    admin = e.token_secret(name="pg-admin-" + tag, scope="admin")
    d = e.daemon()
    h = d.get("/healthz").body
    assert h["status"] == "ok" and h["store"] == "postgres", h
    assert h["schema_version"] == schema_of_binary()
    tid, revoked = smoke(e, d, admin, tag)
    listed = [t for t in e.local("token", "list", "--json").json() if t["id"] == tid]
    assert len(listed) == 1 and listed[0]["revoked_at_ms"] > 0
    assert d.stop() == 0

    # restart: migrations run again (idempotent), data is still there
    d2 = e.daemon()
    assert d2.get("/healthz").body["schema_version"] == h["schema_version"]
    assert d2.get("/api/v1/whoami", token=admin).status == 200
    assert d2.get("/api/v1/whoami", token=revoked).status == 401
    assert "level=error" not in d2.log_text(), d2.log_text()
    assert d2.stop() == 0


@pytest.mark.postgres
def test_postgres_two_nodes_share_one_database(pg_url, make_env):
    tag = uuid.uuid4().hex[:10]
    a = make_env("node-a", storage=pg_url)
    b = make_env("node-b", storage=pg_url)
    admin = a.token_secret(name="pg2-admin-" + tag, scope="admin")
    # start both at once: migrations must not trip over each other
    da, db = Daemon(a), Daemon(b)
    ta = threading.Thread(target=da.start)
    tb = threading.Thread(target=db.start)
    ta.start(), tb.start()
    ta.join(30), tb.join(30)
    assert da.alive() and db.alive()
    assert da.get("/healthz").status == 200 and db.get("/healthz").status == 200

    r = da.request("POST", "/api/v1/tokens", {"name": "pg2-" + tag, "scope": "read"},
                   token=admin)
    assert r.status == 201, r
    tid, secret = r.body["id"], r.body["token"]
    assert db.get("/api/v1/whoami", token=secret).status == 200
    assert db.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin).status == 200
    assert da.get("/api/v1/whoami", token=secret).status == 401
    ev = da.get("/api/v1/audit?action=token.revoke", token=admin).body["events"]
    assert any(x["target"] == "token:%d" % tid for x in ev)
    assert da.stop() == 0 and db.stop() == 0


@pytest.mark.postgres
def test_postgres_concurrent_writes(pg_url, make_env):
    tag = uuid.uuid4().hex[:10]
    e = make_env(storage=pg_url)
    admin = e.token_secret(name="pg3-admin-" + tag, scope="admin")
    d = e.daemon()
    results = []

    def worker(n):
        for i in range(10):
            r = d.request("POST", "/api/v1/tokens", {"name": "c%d-%d-%s" % (n, i, tag),
                                                      "scope": "read"}, token=admin)
            results.append(r.status)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [201] * 60
    names = {t["name"] for t in d.get("/api/v1/tokens", token=admin).body["tokens"]}
    assert {"c%d-%d-%s" % (n, i, tag) for n in range(6) for i in range(10)} <= names


# ---- the CLI and a running daemon on one SQLite file ------------------------------------
# `opsbell token create|revoke` work directly on the store named by the
# configuration (README: made while the server runs). The daemon must see
# those changes at once, and must not lose its own writes because of them.


def test_token_created_by_cli_while_daemon_runs_is_accepted(env, admin_token):
    d = env.daemon()
    assert d.get("/api/v1/whoami", token=admin_token).status == 200  # the daemon has read
    for i in range(3):
        info = env.create_token(name="late%d" % i, scope="read")
        r = d.get("/api/v1/whoami", token=info["token"])
        assert r.status == 200, \
            "token %d made with the CLI while the daemon runs is refused: %r" % (i, r)
    names = [t["name"] for t in d.get("/api/v1/tokens", token=admin_token).body["tokens"]]
    assert names == ["admin", "late0", "late1", "late2"], names


def test_token_revoked_by_cli_while_daemon_runs_is_refused(env, admin_token):
    info = env.create_token(name="victim", scope="read")
    d = env.daemon()
    assert d.get("/api/v1/whoami", token=info["token"]).status == 200
    assert env.local("token", "list").code == 0  # look first, as people do
    r = env.local("token", "revoke", str(info["id"]))
    assert r.code == 0, r
    r = d.get("/api/v1/whoami", token=info["token"])
    assert r.status == 401, "a token revoked with the CLI still works on the daemon: %r" % r


def test_daemon_writes_survive_sigkill_after_a_cli_command(env, admin_token):
    d = env.daemon()
    assert env.local("token", "list").code == 0  # any local command on the same store
    r = d.request("POST", "/api/v1/tokens", {"name": "acked", "scope": "read"},
                  token=admin_token)
    assert r.status == 201, r
    d.kill()
    d2 = env.daemon()
    r2 = d2.get("/api/v1/whoami", token=r.body["token"])
    assert r2.status == 200, "a token acknowledged with 201 was lost: %r" % r2
    names = [t["name"] for t in env.local("token", "list", "--json").json()]
    assert names == ["admin", "acked"], names
