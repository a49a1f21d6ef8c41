"""The tokens API and the audit log (API and CLI)."""

import hashlib
import json
import re


def test_create_token_over_api(env, daemon, admin_token):
    r = daemon.request("POST", "/api/v1/tokens", {"name": "ci-bot", "scope": "write"},
                       token=admin_token)
    assert r.status == 201, r
    body = r.body
    assert set(body) >= {"id", "name", "scope", "token"}
    assert body["name"] == "ci-bot" and body["scope"] == "write"
    assert body.get("team") is None
    secret = body["token"]
    assert secret.startswith("obt_") and len(secret) == 47
    assert re.fullmatch(r"obt_[A-Za-z0-9_-]{43}", secret)

    who = daemon.get("/api/v1/whoami", token=secret)
    assert who.status == 200, who
    assert who.body == {"token_id": body["id"], "name": "ci-bot", "scope": "write"} or (
        who.body["token_id"] == body["id"] and who.body["name"] == "ci-bot"
        and who.body["scope"] == "write" and who.body.get("team") is None)

    # Team and expiry are accepted too.
    r = daemon.request("POST", "/api/v1/tokens",
                       {"name": "beta dash", "scope": "read", "team": "beta",
                        "expires_in_seconds": 3600}, token=admin_token)
    assert r.status == 201, r
    assert r.body["team"] == "beta"
    listed = {t["name"]: t for t in daemon.get("/api/v1/tokens", token=admin_token).body["tokens"]}
    assert listed["beta dash"]["expires_at_ms"] is not None
    assert listed["beta dash"]["team"] == "beta"
    assert listed["ci-bot"]["expires_at_ms"] is None


def test_token_list_never_shows_secrets_or_hashes(env, daemon, admin_token):
    secrets_ = [admin_token]
    for i in range(3):
        r = daemon.request("POST", "/api/v1/tokens", {"name": "t%d" % i, "scope": "read"},
                           token=admin_token)
        assert r.status == 201, r
        secrets_.append(r.body["token"])
    # use them once so that last_used is set
    for s in secrets_:
        assert daemon.get("/api/v1/whoami", token=s).status == 200

    api = daemon.get("/api/v1/tokens", token=admin_token)
    assert api.status == 200
    cli_table = env.local("token", "list")
    cli_json = env.local("token", "list", "--json")
    assert cli_table.code == 0 and cli_json.code == 0
    for text in (api.text, cli_table.stdout, cli_json.stdout):
        for s in secrets_:
            assert s not in text
            assert s[4:] not in text
            assert hashlib.sha256(s.encode()).hexdigest() not in text
        assert not re.search(r"[0-9a-f]{64}", text), "something like a hash is listed"
    for t in api.body["tokens"]:
        assert not any("hash" in k or "secret" in k or k == "token" for k in t), t
        assert set(t) >= {"id", "name", "scope", "team", "created_at_ms", "expires_at_ms",
                          "revoked_at_ms", "last_used_at_ms"}
    assert len(api.body["tokens"]) == 4
    assert len(cli_json.json()) == 4
    assert cli_table.stdout.splitlines()[0].split() == [
        "ID", "NAME", "SCOPE", "TEAM", "USER", "AGENT", "CREATED", "EXPIRES", "LAST", "USED",
        "STATE"]
    assert len(cli_table.stdout.splitlines()) == 5
    # No log line holds a secret either.
    log = daemon.log_text()
    for s in secrets_:
        assert s not in log and s[4:] not in log


def test_revoke_over_api(env, daemon, admin_token):
    r = daemon.request("POST", "/api/v1/tokens", {"name": "victim", "scope": "read"},
                       token=admin_token)
    assert r.status == 201
    tid, secret = r.body["id"], r.body["token"]
    assert daemon.get("/api/v1/whoami", token=secret).status == 200

    r = daemon.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin_token)
    assert r.status == 200, r
    assert r.body == {"id": tid, "status": "revoked"}

    r = daemon.get("/api/v1/whoami", token=secret)
    assert r.status == 401 and "revoked" in r.body["error"]

    tokens = {t["id"]: t for t in daemon.get("/api/v1/tokens", token=admin_token).body["tokens"]}
    assert tokens[tid]["revoked_at_ms"] is not None

    # Revoking again is a conflict, an unknown id is 404, a bad id 400.
    r = daemon.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin_token)
    assert r.status == 409, r
    assert r.body["error"]
    r = daemon.request("DELETE", "/api/v1/tokens/999999", token=admin_token)
    assert r.status == 404, r
    for bad in ("abc", "0", "-1", "1x", "99999999999999999999999"):
        r = daemon.request("DELETE", "/api/v1/tokens/" + bad, token=admin_token)
        assert r.status == 400, (bad, r)
        assert r.body["error"]

    listing = env.local("token", "list")
    row = [l for l in listing.stdout.splitlines() if " victim " in l]
    assert len(row) == 1 and row[0].split()[-1] == "revoked", listing.stdout


def test_admin_can_revoke_itself(env, daemon, admin_token):
    me = daemon.get("/api/v1/whoami", token=admin_token).body["token_id"]
    r = daemon.request("DELETE", "/api/v1/tokens/%d" % me, token=admin_token)
    assert r.status == 200, r
    assert daemon.get("/api/v1/whoami", token=admin_token).status == 401


def test_audit_records_who_what_where(env, daemon, admin_token):
    r = daemon.request("POST", "/api/v1/tokens", {"name": "audited", "scope": "read"},
                       token=admin_token, headers={"X-Request-Id": "e2e-create-1"})
    assert r.status == 201
    tid = r.body["id"]
    r = daemon.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin_token,
                       headers={"X-Request-Id": "e2e-revoke-1"})
    assert r.status == 200

    r = daemon.get("/api/v1/audit", token=admin_token)
    assert r.status == 200, r
    events = r.body["events"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True), "newest first"

    revoke, create, bootstrap = events[0], events[1], events[-1]
    assert revoke["action"] == "token.revoke"
    assert revoke["actor"] == "token:admin"
    assert revoke["target"] == "token:%d" % tid
    assert revoke["remote_addr"] == "127.0.0.1"
    assert revoke["request_id"] == "e2e-revoke-1"

    assert create["action"] == "token.create"
    assert create["actor"] == "token:admin"
    assert create["target"] == "token:%d" % tid
    assert create["remote_addr"] == "127.0.0.1"
    assert create["request_id"] == "e2e-create-1"
    assert create["details"]["name"] == "audited"
    assert create["details"]["scope"] == "read"
    assert isinstance(create["at_ms"], int) and create["at_ms"] > 1_600_000_000_000

    # The bootstrap token was made on this machine with the CLI.
    assert bootstrap["action"] == "token.create"
    assert bootstrap["actor"].startswith("cli:")
    assert bootstrap["remote_addr"] == "local"
    assert bootstrap.get("request_id") is None

    # No secret in the audit log.
    assert "obt_" not in r.text


def test_audit_filters_and_paging(env, daemon, admin_token):
    made = []
    for i in range(4):
        r = daemon.request("POST", "/api/v1/tokens", {"name": "p%d" % i, "scope": "read"},
                           token=admin_token)
        assert r.status == 201
        made.append(r.body["id"])
    assert daemon.request("DELETE", "/api/v1/tokens/%d" % made[0], token=admin_token).status == 200

    get = lambda q: daemon.get("/api/v1/audit" + q, token=admin_token)
    r = get("?action=token.revoke")
    assert r.status == 200
    assert [e["action"] for e in r.body["events"]] == ["token.revoke"]
    r = get("?actor=token:admin")
    assert len(r.body["events"]) == 5
    assert all(e["actor"] == "token:admin" for e in r.body["events"])
    r = get("?action=no.such.action")
    assert r.status == 200 and r.body["events"] == []

    # paging: 6 events in all (bootstrap + 4 creates + 1 revoke)
    seen = []
    r = get("?limit=4")
    assert r.status == 200 and len(r.body["events"]) == 4
    seen += [e["id"] for e in r.body["events"]]
    nb = r.body["next_before"]
    assert nb == seen[-1]
    r = get("?limit=4&before=%d" % nb)
    assert r.status == 200 and len(r.body["events"]) == 2
    seen += [e["id"] for e in r.body["events"]]
    assert seen == sorted(set(seen), reverse=True) and len(seen) == 6

    for bad in ("?limit=0", "?limit=1001", "?limit=abc", "?before=0", "?before=-5",
                "?limit=", "?before=1e3"):
        r = get(bad)
        assert r.status == 400, (bad, r)
        assert r.body["error"]


def test_audit_cli_table_and_json(env, admin_token):
    reader = env.token_secret(name="reader", scope="read")
    daemon = env.daemon()
    r = daemon.request("POST", "/api/v1/tokens", {"name": "cli-seen", "scope": "read"},
                       token=admin_token)
    assert r.status == 201
    tid = r.body["id"]
    assert daemon.request("DELETE", "/api/v1/tokens/%d" % tid, token=admin_token).status == 200

    r = env.cli("audit", "list", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "TARGET", "FROM"]
    assert len(lines) == 5  # header + 2 CLI creates (admin, reader) + create + revoke
    first = lines[1].split()
    assert first[2:] == ["token:admin", "token.revoke", "token:%d" % tid, "127.0.0.1"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first[1])
    for line in lines[3:]:
        assert line.split()[3] == "token.create" and line.split()[5] == "local", line

    r = env.cli("audit", "list", "--json", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    data = r.json()
    assert [e["action"] for e in data["events"]] == ["token.revoke", "token.create",
                                                     "token.create", "token.create"]

    r = env.cli("audit", "list", "--json", "--action", "token.revoke", url=daemon.url,
                token=admin_token)
    assert r.code == 0, r
    assert [e["target"] for e in r.json()["events"]] == ["token:%d" % tid]

    r = env.cli("audit", "list", "--json", "--limit", "1", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    d = r.json()
    assert len(d["events"]) == 1 and d["next_before"] == d["events"][0]["id"]

    r = env.cli("audit", "list", "--json", "--limit", "2", "--before", str(d["next_before"]),
                url=daemon.url, token=admin_token)
    assert r.code == 0, r
    assert [e["action"] for e in r.json()["events"]] == ["token.create", "token.create"]

    r = env.cli("audit", "list", "--actor", "nobody", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    assert len(r.stdout.splitlines()) == 1

    r = env.cli("audit", "list", "--limit", "0", url=daemon.url, token=admin_token)
    assert r.code == 1, r
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("opsbell: ") and "400" in r.stderr

    # A read token is refused with a one-line reason.
    r = env.cli("audit", "list", url=daemon.url, token=reader)
    assert r.code == 1, r
    assert len(r.stderr.splitlines()) == 1 and "403" in r.stderr


def test_audit_json_is_valid_and_complete(env, daemon, admin_token):
    r = daemon.get("/api/v1/audit", token=admin_token)
    for e in r.body["events"]:
        assert set(e) >= {"id", "at_ms", "actor", "action"}
        if "details" in e and e["details"] is not None:
            assert isinstance(e["details"], dict)
    json.dumps(r.body)
