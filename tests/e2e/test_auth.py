"""Authentication (Bearer tokens) and authorization (scope, team)."""

import secrets
import time

import pytest


def assert_401(r):
    assert r.status == 401, r
    assert isinstance(r.body, dict) and isinstance(r.body.get("error"), str) and r.body["error"], r
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(r.headers)


def assert_403(r):
    assert r.status == 403, r
    assert isinstance(r.body, dict) and isinstance(r.body.get("error"), str) and r.body["error"], r


def test_whoami_without_token_is_401(daemon):
    r = daemon.get("/api/v1/whoami")
    assert_401(r)
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="opsbell"'
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("authorization", [
    "Bearer",
    "Bearer ",
    "Bearer nope",
    "Bearer obt_short",
    "Bearer obt_" + "!" * 43,
    "Bearer xyz_" + "A" * 43,
    "Basic YWRtaW46YWRtaW4=",
    "obt_" + "A" * 43,
    "Bearer obt_" + "A" * 44,
])
def test_malformed_authorization_is_401(daemon, authorization):
    r = daemon.get("/api/v1/whoami", headers={"Authorization": authorization})
    assert_401(r)


def test_unknown_token_is_401_and_not_echoed(daemon):
    fake = "obt_" + secrets.token_urlsafe(32)[:43]
    assert len(fake) == 47
    r = daemon.get("/api/v1/whoami", token=fake)
    assert_401(r)
    assert "unknown" in r.body["error"]
    assert fake not in r.text and fake[4:] not in r.text
    assert fake not in daemon.log_text()


def test_valid_tokens_and_scopes(env):
    made = {scope: env.create_token(name="tok-" + scope, scope=scope)
            for scope in ("read", "write", "admin")}
    daemon = env.daemon()
    for scope, info in made.items():
        r = daemon.get("/api/v1/whoami", token=info["token"])
        assert r.status == 200, r
        assert r.body["name"] == "tok-" + scope
        assert r.body["scope"] == scope
        assert r.body["token_id"] == info["id"]
        assert r.body.get("team") is None


def test_revoked_token_is_401(env):
    """`opsbell token revoke` on the machine while the daemon runs."""
    info = env.create_token(name="soon-revoked", scope="read")
    daemon = env.daemon()
    assert daemon.get("/api/v1/whoami", token=info["token"]).status == 200
    r = env.local("token", "revoke", str(info["id"]))
    assert r.code == 0, r
    assert r.stdout.strip() == "revoked token %d" % info["id"]
    r = daemon.get("/api/v1/whoami", token=info["token"])
    assert_401(r)
    assert "revoked" in r.body["error"]


def test_expired_token_is_401(env):
    info = env.create_token(name="short-lived", scope="read", expires="1s")
    daemon = env.daemon()
    # Wait until it has expired for certain (the shortest the CLI accepts is 1s).
    time.sleep(1.5)
    r = daemon.get("/api/v1/whoami", token=info["token"])
    assert_401(r)
    assert "expired" in r.body["error"]
    listing = env.local("token", "list")
    assert listing.code == 0, listing
    row = [l for l in listing.stdout.splitlines() if "short-lived" in l]
    assert len(row) == 1 and row[0].split()[-1] == "expired", listing.stdout


def test_bearer_scheme_is_case_insensitive(daemon, admin_token):
    r = daemon.get("/api/v1/whoami", headers={"Authorization": "bearer " + admin_token})
    assert r.status == 200, r


def test_read_token_cannot_use_admin_routes(env):
    read = env.token_secret(name="reader", scope="read")
    write = env.token_secret(name="writer", scope="write")
    daemon = env.daemon()
    for tok in (read, write):
        assert_403(daemon.request("POST", "/api/v1/tokens", {"name": "x", "scope": "read"},
                                  token=tok))
        assert_403(daemon.get("/api/v1/tokens", token=tok))
        assert_403(daemon.request("DELETE", "/api/v1/tokens/1", token=tok))
        assert_403(daemon.get("/api/v1/audit", token=tok))
        assert_403(daemon.request("POST", "/api/v1/config/reload", token=tok))
    # ... and nothing was created.
    listing = env.local("token", "list", "--json").json()
    assert sorted(t["name"] for t in listing) == ["reader", "writer"]


def test_team_token_sees_only_its_team(env):
    tok = env.token_secret(name="alpha-reader", scope="read", team="alpha")
    daemon = env.daemon()

    r = daemon.get("/api/v1/whoami", token=tok)
    assert r.status == 200 and r.body["team"] == "alpha"

    r = daemon.get("/api/v1/teams/alpha", token=tok)
    assert r.status == 200, r
    assert r.body["name"] == "alpha"
    assert_403(daemon.get("/api/v1/teams/beta", token=tok))
    assert_403(daemon.get("/api/v1/teams/beta/services", token=tok))
    assert daemon.get("/api/v1/teams/alpha/services", token=tok).status == 200

    r = daemon.get("/api/v1/teams", token=tok)
    assert r.status == 200
    assert [t["name"] for t in r.body["teams"]] == ["alpha"]

    r = daemon.get("/api/v1/services", token=tok)
    assert r.status == 200
    assert sorted(s["name"] for s in r.body["services"]) == ["alpha-api", "alpha-db"]
    assert {s["team"] for s in r.body["services"]} == {"alpha"}
    r = daemon.get("/api/v1/services?team=beta", token=tok)
    assert r.status == 200 and r.body["services"] == []
    assert daemon.get("/api/v1/services/alpha-api", token=tok).status == 200
    assert_403(daemon.get("/api/v1/services/beta-web", token=tok))

    r = daemon.get("/api/v1/escalation-policies", token=tok)
    assert r.status == 200
    assert [p["name"] for p in r.body["escalation_policies"]] == ["alpha-default"]
    assert_403(daemon.get("/api/v1/escalation-policies/beta-default", token=tok))

    # users are a shared directory
    r = daemon.get("/api/v1/users", token=tok)
    assert r.status == 200 and len(r.body["users"]) == 3


def test_team_admin_is_limited_to_its_team(env):
    tok = env.token_secret(name="alpha-admin", scope="admin", team="alpha")
    other = env.create_token(name="beta-bot", scope="read", team="beta")
    daemon = env.daemon()

    assert_403(daemon.get("/api/v1/audit", token=tok))
    assert_403(daemon.request("POST", "/api/v1/config/reload", token=tok))

    r = daemon.request("POST", "/api/v1/tokens", {"name": "evil", "scope": "admin",
                                                   "team": "beta"}, token=tok)
    assert_403(r)

    r = daemon.request("POST", "/api/v1/tokens", {"name": "alpha-bot", "scope": "read"},
                       token=tok)
    assert r.status == 201, r
    assert r.body["team"] == "alpha", "a team admin's new token must be limited to its team"
    r = daemon.request("POST", "/api/v1/tokens", {"name": "alpha-bot2", "scope": "write",
                                                   "team": "alpha"}, token=tok)
    assert r.status == 201, r

    r = daemon.get("/api/v1/tokens", token=tok)
    assert r.status == 200
    assert {t["team"] for t in r.body["tokens"]} == {"alpha"}
    assert "beta-bot" not in {t["name"] for t in r.body["tokens"]}

    assert_403(daemon.request("DELETE", "/api/v1/tokens/%d" % other["id"], token=tok))
    assert daemon.get("/api/v1/whoami", token=other["token"]).status == 200

    names = sorted(t["name"] for t in env.local("token", "list", "--json").json())
    assert names == ["alpha-admin", "alpha-bot", "alpha-bot2", "beta-bot"]


def test_team_token_for_unknown_team_is_refused_by_cli(env):
    r = env.local("token", "create", "--name", "x", "--scope", "read", "--team", "nope")
    assert r.code == 1, r
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("opsbell: "), r
