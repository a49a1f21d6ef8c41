"""The server side of break-glass and of the host agents (docs/BREAKGLASS.md,
docs/AGENT.md): what `GET /api/v1/agent/state` holds for each host (grants
that open it, allowlist addresses of the teams whose `allowlist: true`
groups hold it, the keys of those teams' members and of the grants' users
under their logins, the CA and the KRL), its ETag and 304, agent reports
(audited once per grant and host), person and agent tokens kept apart, and
bad input everywhere answered with a 4xx and a JSON reason.
"""

import base64
import json
import sqlite3
import subprocess
import time

import pytest

from e2e_support import run_cli

TEAM_ALPHA_ACCESS = """\
host_groups:
  - name: alpha-web
    hosts: [web1, web2]
    allowlist: true
  - name: alpha-db
    hosts: [db1]
"""

TEAM_BETA_ACCESS = """\
host_groups:
  - name: beta-box
    hosts: [web2, box1]
"""

BREAKGLASS_ALPHA = """\
  breakglass:
    self_approve: [members]
    max_duration: 1h
"""


@pytest.fixture
def bg(env, tmp_path):
    """alice and bob in alpha (self-approve), carol in beta (the default policy:
    on call only); an SSH CA and a keys repository with everybody's keys."""
    from test_keys import Keygen, KeysRepo
    repo = KeysRepo(tmp_path / "git")
    gen = Keygen(tmp_path / "keygen")
    keys = {}
    for user in ("alice", "bob", "carol"):
        keys[user], _ = gen.make(user)
        repo.put("keys/%s.pub" % user, keys[user] + "\n")
    repo.push()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ca")],
                   check=True, timeout=60)
    alpha = env.read("teams/alpha/team.yaml").replace(
        "  chat_channel: \"#alpha\"\n", "  chat_channel: \"#alpha\"\n" + BREAKGLASS_ALPHA)
    env.write("teams/alpha/team.yaml", alpha)
    env.write("teams/alpha/hosts.yaml", TEAM_ALPHA_ACCESS)
    env.write("teams/beta/hosts.yaml", TEAM_BETA_ACCESS)
    users = env.read("users.yaml").replace("  - name: alice\n",
                                           "  - name: alice\n    logins: [alice, deploy]\n", 1)
    env.write("users.yaml", users)
    env.extra_main = ("ssh_ca:\n  key: file:%s\nkeys:\n  repository: %s\n  cache_dir: %s\n"
                      % (tmp_path / "ca", repo.bare, tmp_path / "keys-cache"))
    env.write_main()
    r = run_cli(["keys", "sync", "-c", str(env.config_path)])
    assert r.code == 0, r
    d = env.daemon()
    admin = env.local("token", "create", "--name", "admin", "--scope", "admin").stdout.strip()

    def token(body):
        reply = d.request("POST", "/api/v1/tokens", body, token=admin)
        assert reply.status == 201, reply
        return reply.body["token"]

    t = {
        "admin": admin,
        "alice": token({"name": "alice", "scope": "write", "user": "alice"}),
        "bob": token({"name": "bob", "scope": "write", "user": "bob"}),
        "web1": token({"name": "web1", "agent": "web1"}),
        "web2": token({"name": "web2", "agent": "web2"}),
        "db1": token({"name": "db1", "agent": "db1"}),
        "plain": token({"name": "plain", "scope": "write"}),
    }
    return env, d, t, keys


def state(d, token, etag=None):
    headers = {"If-None-Match": '"%s"' % etag} if etag else None
    return d.request("GET", "/api/v1/agent/state", headers=headers, token=token)


def grant(d, token, **body):
    body.setdefault("duration", "30m")
    body.setdefault("reason", "e2e")
    return d.request("POST", "/api/v1/breakglass", body, token=token)


def test_state_of_each_host(bg):
    env, d, t, keys = bg
    r = grant(d, t["alice"], group="alpha-web", ip="198.51.100.7")
    assert r.status == 201 and r.body["state"] == "active", r
    gid = r.body["id"]

    web1 = state(d, t["web1"])
    assert web1.status == 200, web1
    doc = web1.body
    assert doc["host"] == "web1"
    assert [(e["id"], e["cidr"]) for e in doc["entries"]] == [("grant:%d" % gid,
                                                               "198.51.100.7/32")]
    assert doc["entries"][0]["expires_at"] == r.body["expires_at_ms"]
    # alpha's members' keys, alice under both her logins; not carol's (beta).
    pairs = {(k["login"], k["key"]) for k in doc["keys"]}
    assert ("alice", keys["alice"]) in pairs and ("deploy", keys["alice"]) in pairs
    assert ("bob", keys["bob"]) in pairs
    assert not any(k["key"] == keys["carol"] for k in doc["keys"])
    assert doc["ssh_ca"].startswith("ssh-ed25519 ")
    assert base64.b64decode(doc["krl"]).startswith(b"SSHKRL\n\0")

    # web2 is in alpha-web and beta-box: both teams' people, the grant too.
    doc2 = state(d, t["web2"]).body
    assert any(k["key"] == keys["carol"] for k in doc2["keys"])
    assert [e["id"] for e in doc2["entries"]] == ["grant:%d" % gid]
    # db1 is alpha's too, but the grant was for alpha-web only.
    doc3 = state(d, t["db1"]).body
    assert doc3["entries"] == []
    assert any(k["key"] == keys["alice"] for k in doc3["keys"])


def test_etag_and_not_modified(bg):
    env, d, t, _ = bg
    first = state(d, t["web1"])
    etag = first.headers["etag"].strip('"')
    assert len(etag) == 64
    again = state(d, t["web1"], etag)
    assert again.status == 304 and again.raw == b""
    assert grant(d, t["alice"], host="web1", ip="198.51.100.8").status == 201
    changed = state(d, t["web1"], etag)
    assert changed.status == 200
    assert changed.headers["etag"].strip('"') != etag


def test_allowlist_entries_only_where_a_group_says_so(bg):
    env, d, t, _ = bg
    now = int(time.time() * 1000)
    db = sqlite3.connect(str(env.dir / "opsbell.db"))
    with db:
        for user, cidr in (("alice", "203.0.113.5/32"), ("carol", "203.0.113.6/32")):
            db.execute("INSERT INTO allowlist (user_name, cidr, source, first_seen, last_seen,"
                       " expires_at) VALUES (?, ?, 'slack', ?, ?, ?)",
                       (user, cidr, now, now, now + 3600000))
        db.execute("INSERT INTO allowlist (user_name, cidr, source, first_seen, last_seen,"
                   " expires_at) VALUES ('bob', '203.0.113.9/32', 'slack', ?, ?, ?)",
                   (now - 7200000, now - 7200000, now - 3600000))
    db.close()
    ids = [e["id"] for e in state(d, t["web1"]).body["entries"]]
    assert ids == ["allow:alice:203.0.113.5/32"]  # bob's is stale, carol is not alpha
    assert state(d, t["db1"]).body["entries"] == []  # alpha-db: allowlist false
    listed = d.get("/api/v1/allowlist", token=t["admin"])
    assert listed.status == 200
    assert {(a["user"], a["cidr"]) for a in listed.body["allowlist"]} == {
        ("alice", "203.0.113.5/32"), ("carol", "203.0.113.6/32")}
    # Without --ip, a grant takes the freshest allowlist address.
    r = grant(d, t["alice"], host="web1")
    assert r.status == 201 and r.body["cidr"] == "203.0.113.5/32", r


def test_reports_are_audited_once_per_grant_and_host(bg):
    env, d, t, _ = bg
    gid = grant(d, t["alice"], host="web1", ip="198.51.100.7").body["id"]
    for _ in range(2):
        r = d.request("POST", "/api/v1/agent/report",
                      {"etag": "x", "applied": ["grant:%d" % gid, "allow:x:1.2.3.4/32"]},
                      token=t["web1"])
        assert r.status == 204, r
    # Another host claiming the grant is not believed: it does not open db1.
    assert d.request("POST", "/api/v1/agent/report", {"applied": ["grant:%d" % gid]},
                     token=t["db1"]).status == 204
    r = d.request("POST", "/api/v1/agent/report", {"etag": "y", "applied": [],
                                                   "error": "nft: permission denied"},
                  token=t["web1"])
    assert r.status == 204
    events = d.get("/api/v1/audit", token=t["admin"]).body["events"]
    applied = [e for e in events if e["action"] == "breakglass.apply"]
    assert len(applied) == 1 and applied[0]["actor"] == "agent:web1", applied
    assert json.loads(applied[0]["details"])["host"] == "web1" \
        if isinstance(applied[0]["details"], str) else applied[0]["details"]["host"] == "web1"
    assert any(e["action"] == "agent.apply_failed" for e in events)


def test_tokens_are_kept_apart(bg):
    env, d, t, _ = bg
    # An agent token reads its own state only.
    r = d.get("/api/v1/breakglass", token=t["web1"])
    assert r.status == 403 and "agent" in r.body["error"]
    r = d.get("/api/v1/incidents", token=t["web1"])
    assert r.status == 403
    # Person and admin tokens are not agents.
    r = state(d, t["alice"])
    assert r.status == 403 and "not an agent" in r.body["error"]
    r = d.get("/api/v1/agent/state")
    assert r.status == 401
    r = state(d, "obt_" + "A" * 43)
    assert r.status == 401
    # A token of nobody cannot ask for a grant; an admin names the person.
    r = grant(d, t["plain"], host="web1", ip="198.51.100.7")
    assert r.status == 403 and "--user" in r.body["error"]
    r = grant(d, t["admin"], host="web1", ip="198.51.100.7")
    assert r.status == 400 and "user" in r.body["error"]
    r = grant(d, t["admin"], host="web1", ip="198.51.100.7", user="bob")
    assert r.status == 201 and r.body["user"] == "bob"
    # A person's token cannot act for someone else.
    r = grant(d, t["alice"], host="web1", ip="198.51.100.7", user="bob")
    assert r.status == 403
    # Token bindings are checked.
    r = d.request("POST", "/api/v1/tokens", {"name": "x", "scope": "write", "user": "nobody"},
                  token=t["admin"])
    assert r.status == 400
    r = d.request("POST", "/api/v1/tokens", {"name": "x", "agent": "Not A Host"},
                  token=t["admin"])
    assert r.status == 400
    r = d.request("POST", "/api/v1/tokens", {"name": "x", "agent": "h1", "scope": "admin"},
                  token=t["admin"])
    assert r.status == 400


@pytest.mark.parametrize("body, status, words", [
    ({"host": "web1", "duration": "2h", "reason": "x", "ip": "198.51.100.7"}, 400,
     "longer than team alpha allows"),
    ({"host": "web1", "duration": "0s", "reason": "x", "ip": "198.51.100.7"}, 400, "duration"),
    ({"host": "web1", "duration": "soon", "reason": "x"}, 400, "duration"),
    ({"host": "web1", "duration": "30m", "reason": "x", "ip": "0.0.0.0/0"}, 400, "too wide"),
    ({"host": "web1", "duration": "30m", "reason": "x", "ip": "10.0.0.0/8"}, 400, "too wide"),
    ({"host": "web1", "duration": "30m", "reason": "x", "ip": "::/0"}, 400, "too wide"),
    ({"host": "web1", "duration": "30m", "reason": "x", "ip": "1.2.3"}, 400, ""),
    ({"host": "web1", "duration": "30m", "reason": "", "ip": "198.51.100.7"}, 400, "reason"),
    ({"host": "web1", "duration": "30m", "reason": "a\u0007b", "ip": "198.51.100.7"}, 400,
     "control"),
    ({"host": "nowhere", "duration": "30m", "reason": "x", "ip": "198.51.100.7"}, 404,
     "no host group"),
    ({"host": "box1", "duration": "30m", "reason": "x", "ip": "198.51.100.7"}, 403,
     "not a member of team beta"),
    ({"host": "web1", "group": "alpha-web", "duration": "30m", "reason": "x"}, 400, "one of"),
    ({"duration": "30m", "reason": "x"}, 400, "host or a group"),
    ({"host": "web1", "duration": "30m", "reason": "x", "extra": 1}, 400, "extra"),
    ({"host": "web1", "duration": "30m", "reason": "x"}, 400, "no source address"),
])
def test_bad_requests(bg, body, status, words):
    env, d, t, _ = bg
    r = d.request("POST", "/api/v1/breakglass", body, token=t["alice"])
    assert r.status == status, r
    assert words in r.body["error"], r.body
    # Nothing was half-applied.
    assert d.get("/api/v1/breakglass?state=all", token=t["admin"]).body["grants"] == []


def test_bad_agent_reports_and_links(bg):
    env, d, t, _ = bg
    for body, words in (({"applied": "grant:1"}, "list"), ({"applied": [1]}, "strings"),
                        ({"nope": 1}, "nope")):
        r = d.request("POST", "/api/v1/agent/report", body, token=t["web1"])
        assert r.status == 400 and words in r.body["error"], r
    r = d.request("POST", "/api/v1/agent/report", "[", token=t["web1"])
    assert r.status == 400
    for path in ("/allowme/short", "/allowme/" + "ab" * 24):
        r = d.get(path)
        assert r.status == 404, r
    for path in ("/api/v1/breakglass/0", "/api/v1/breakglass/x", "/api/v1/breakglass/99"):
        r = d.get(path, token=t["admin"])
        assert r.status in (400, 404), r


def test_certificate_and_krl(bg, tmp_path):
    env, d, t, _ = bg
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")],
                   check=True, timeout=60)
    pub = (tmp_path / "k.pub").read_text()
    gid = grant(d, t["alice"], host="web1", ip="198.51.100.7").body["id"]
    r = d.request("POST", "/api/v1/breakglass/%d/certificate" % gid, {"public_key": pub},
                  token=t["bob"])
    assert r.status == 403, r  # another person's grant
    r = d.request("POST", "/api/v1/breakglass/%d/certificate" % gid,
                  {"public_key": 'command="sh" ' + pub}, token=t["alice"])
    assert r.status == 400, r
    r = d.request("POST", "/api/v1/breakglass/%d/certificate" % gid, {"public_key": pub},
                  token=t["alice"])
    assert r.status == 201, r
    cert = tmp_path / "k-cert.pub"
    cert.write_text(r.body["certificate"] + "\n")
    listing = subprocess.run(["ssh-keygen", "-L", "-f", str(cert)], capture_output=True,
                             text=True, check=True).stdout
    assert "alice" in listing and "deploy" in listing
    assert "source-address 198.51.100.7/32" in listing

    before = state(d, t["web1"]).body["krl"]
    r = d.request("POST", "/api/v1/breakglass/%d/revoke" % gid, {"reason": "done"},
                  token=t["alice"])
    assert r.status == 200 and r.body["state"] == "revoked"
    krl = tmp_path / "krl"
    krl.write_bytes(base64.b64decode(state(d, t["web1"]).body["krl"]))
    assert state(d, t["web1"]).body["krl"] != before
    q = subprocess.run(["ssh-keygen", "-Q", "-f", str(krl), str(cert)], capture_output=True,
                       text=True)
    assert q.returncode != 0 and "REVOKED" in q.stdout + q.stderr, q
    # No certificate for a grant that is over.
    r = d.request("POST", "/api/v1/breakglass/%d/certificate" % gid, {"public_key": pub},
                  token=t["alice"])
    assert r.status == 409, r


def test_example_agent_configuration_is_valid():
    """examples/agent.yaml, which docs/AGENT.md points new users at, loads."""
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "examples" / "agent.yaml"
    r = run_cli(["agent", "-c", str(example), "--check"],
                env={"OPSBELL_AGENT_TOKEN": "obt_" + "A" * 43})
    assert r.code == 0, r
    r = run_cli(["agent", "-c", str(example), "--check"], env={"OPSBELL_AGENT_TOKEN": ""})
    assert r.code != 0


def test_team_limited_tokens_stay_in_their_team(bg, tmp_path):
    env, d, t, _ = bg
    r = d.request("POST", "/api/v1/tokens", {"name": "beta-admin", "scope": "admin",
                                             "team": "beta"}, token=t["admin"])
    assert r.status == 201, r
    beta = r.body["token"]
    r = grant(d, beta, host="web1", ip="198.51.100.7", user="alice")
    assert r.status == 403 and "limited to team beta" in r.body["error"], r
    gid = grant(d, t["alice"], host="web1", ip="198.51.100.7").body["id"]
    for path in ("/api/v1/breakglass/%d/revoke" % gid, "/api/v1/breakglass/%d/certificate" % gid):
        r = d.request("POST", path, {"public_key": "x"} if "certificate" in path else {},
                      token=beta)
        assert r.status == 404, r
    assert d.get("/api/v1/breakglass", token=beta).body["grants"] == []
    assert d.get("/api/v1/breakglass/%d" % gid, token=t["admin"]).body["state"] == "active"
