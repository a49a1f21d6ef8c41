"""Break-glass grants from the command line (`opsbell breakglass ...`,
`opsbell allowlist list`, `opsbell cert sign --grant`, `opsbell token create
--user/--agent`) against the real server: self-approval, approval by an
approver, deny, revoke, expiry by itself, the audit trail, certificates
read back with ssh-keygen, and every refusal as one line with exit 1."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from e2e_support import base_env, wait_for

SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"

USERS = """\
users:
  - name: alice
    logins: [alice, deploy]
    contact_methods:
      - {type: email, address: alice@example.com}
  - name: bob
    contact_methods:
      - {type: email, address: bob@example.com}
  - name: carol
    contact_methods:
      - {type: email, address: carol@example.com}
  - name: dave
    contact_methods:
      - {type: email, address: dave@example.com}
"""

# alpha: every member opens a grant by themselves, for at most 2h.
ALPHA = """\
team:
  members: [alice, bob]
  chat_channel: "#alpha"
  breakglass:
    self_approve: [members]
    max_duration: 2h
host_groups:
  - name: alpha-web
    hosts: [web1, web2]
"""

# beta: nobody approves their own request; bob approves.
BETA = """\
team:
  members: [bob, carol]
  breakglass:
    self_approve: []
    approvers: [bob]
    max_duration: 1h
    pending_ttl: 30m
host_groups:
  - name: beta-db
    hosts: [db1]
"""

IP = "198.51.100.7"
CIDR = IP + "/32"


def keygen(path, comment="e2e"):
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return path.parent / (path.name + ".pub")


class Site:
    """A running server with teams alpha and beta and a token per person."""

    def __init__(self, env):
        self.env = env
        env.write("users.yaml", USERS)
        (env.dir / "teams" / "alpha" / "team.yaml").unlink()
        (env.dir / "teams" / "beta" / "team.yaml").unlink()
        env.write("teams/alpha/team.yaml", ALPHA)
        env.write("teams/beta/team.yaml", BETA)
        self.ca_key = env.dir / "ca_key"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f",
                        str(self.ca_key)], check=True, capture_output=True)
        env.extra_main = "ssh_ca:\n  key: file:%s\n  max_validity: 1h\n" % self.ca_key
        env.write_main()
        self.tokens = {}
        for user in ("alice", "bob", "carol", "dave"):
            self.tokens[user] = self.token(user, "write", "--user", user)
        self.tokens["admin"] = self.token("admin", "admin")
        self.tokens["admin-alice"] = self.token("admin-alice", "admin", "--user", "alice")
        self.tokens["plain"] = self.token("plain", "write")
        r = env.local("token", "create", "--name", "agent-web1", "--agent", "web1", "--json")
        assert r.code == 0, r
        self.tokens["agent"] = r.json()["token"]
        self.d = env.daemon()

    def token(self, name, scope, *extra):
        r = self.env.local("token", "create", "--name", name, "--scope", scope, "--json", *extra)
        assert r.code == 0, r
        return r.json()["token"]

    def cli(self, who, *args):
        return self.env.cli(*args, url=self.d.url, token=self.tokens[who])

    def request(self, who, *args):
        """A request that must succeed; the grant as JSON."""
        r = self.cli(who, "breakglass", "request", *(list(args) + ["--json"]))
        assert r.code == 0, r
        return r.json()

    def show(self, gid, who="admin"):
        r = self.cli(who, "breakglass", "show", str(gid), "--json")
        assert r.code == 0, r
        return r.json()

    def audit(self, action):
        r = self.d.get("/api/v1/audit?action=%s&limit=1000" % action,
                       token=self.tokens["admin"])
        assert r.status == 200, r
        return r.body["events"]


@pytest.fixture
def site(env):
    return Site(env)


def one_line_failure(r, code=1):
    assert r.code == code, r
    assert r.stdout == "", r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, "want one line on stderr, got:\n" + r.stderr
    assert lines[0].startswith("opsbell: "), lines[0]
    return lines[0]


def table(stdout):
    lines = stdout.splitlines()
    return lines[0].split(), [l.split() for l in lines[1:]]


# ---- requests and their states ---------------------------------------------------


def test_self_approved_request_is_active_at_once(site):
    g = site.request("alice", "--host", "web1", "--for", "30m", "--reason", "disk full",
                     "--ip", IP)
    assert g["state"] == "active", g
    assert g["user"] == "alice" and g["team"] == "alpha" and g["host"] == "web1"
    assert g["hosts"] == ["web1"] and g["cidr"] == CIDR
    assert g["approved_by"] == "alice" and g["reason"] == "disk full"
    assert g["expires_at_ms"] == g["starts_at_ms"] + 1800 * 1000
    assert g["requested_by"] == "user:alice"

    r = site.cli("alice", "breakglass", "request", "--group", "alpha-web", "--for", "1h",
                 "--reason", "deploy stuck", "--ip", IP)
    assert r.code == 0, r
    m = re.fullmatch(r"grant #(\d+) active: alice on group:alpha-web from %s until "
                     r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n" % re.escape(CIDR), r.stdout)
    assert m, r.stdout
    g2 = site.show(int(m.group(1)))
    assert g2["state"] == "active" and g2["hosts"] == ["web1", "web2"]
    assert g2["group"] == "alpha-web"


def test_pending_request_needs_an_approver_who_is_not_the_requester(site):
    g = site.request("carol", "--host", "db1", "--for", "20m", "--reason", "replica lag",
                     "--ip", IP)
    assert g["state"] == "pending", g
    assert g["approved_by"] is None and g["expires_at_ms"] is None
    gid = str(g["id"])

    line = one_line_failure(site.cli("carol", "breakglass", "approve", gid))
    assert "403" in line, line
    assert site.show(g["id"])["state"] == "pending"

    r = site.cli("bob", "breakglass", "approve", gid)
    assert r.code == 0, r
    assert r.stdout.startswith("grant #%s approved: carol on db1 from %s until " % (gid, CIDR))
    g = site.show(g["id"])
    assert g["state"] == "active" and g["approved_by"] == "bob"
    assert g["expires_at_ms"] == g["approved_at_ms"] + 20 * 60 * 1000

    # Approving twice is a conflict, not a second approval.
    one_line_failure(site.cli("bob", "breakglass", "approve", gid))


def test_deny(site):
    g = site.request("carol", "--host", "db1", "--for", "20m", "--reason", "curious", "--ip", IP)
    gid = str(g["id"])
    r = site.cli("bob", "breakglass", "deny", gid, "--reason", "not needed", "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["state"] == "denied" and d["end_reason"] == "not needed"
    assert d["ended_by"] == "user:bob"
    # Denied is final.
    one_line_failure(site.cli("bob", "breakglass", "approve", gid))
    assert site.show(g["id"])["state"] == "denied"


def test_revoke(site):
    g = site.request("alice", "--host", "web2", "--for", "30m", "--reason", "hotfix", "--ip", IP)
    gid = str(g["id"])
    r = site.cli("alice", "breakglass", "revoke", gid, "--reason", "done early")
    assert r.code == 0, r
    assert r.stdout == "grant #%s revoked: alice on web2 from %s (revoked)\n" % (gid, CIDR)
    g = site.show(g["id"])
    assert g["state"] == "revoked" and g["end_reason"] == "done early"
    one_line_failure(site.cli("alice", "breakglass", "revoke", gid))
    # Someone who is neither the user nor an approver may not revoke.
    g2 = site.request("alice", "--host", "web1", "--for", "30m", "--reason", "x", "--ip", IP)
    line = one_line_failure(site.cli("carol", "breakglass", "revoke", str(g2["id"])))
    assert "403" in line
    assert site.show(g2["id"])["state"] == "active"


def test_list_and_show_as_tables_and_json(site):
    a = site.request("alice", "--host", "web1", "--for", "30m", "--reason", "disk full",
                     "--ip", IP)
    c = site.request("carol", "--host", "db1", "--for", "10m", "--reason", "lag", "--ip",
                     "203.0.113.9")
    b = site.request("bob", "--group", "alpha-web", "--for", "5m", "--reason", "gone",
                     "--ip", "203.0.113.0/24")
    assert site.cli("bob", "breakglass", "revoke", str(b["id"])).code == 0

    r = site.cli("alice", "breakglass", "list")
    assert r.code == 0, r
    head, rows = table(r.stdout)
    assert head == ["ID", "USER", "TARGET", "CIDR", "STATE", "EXPIRES", "APPROVED-BY", "REASON"]
    # Live grants only by default, newest first.
    assert [row[:5] for row in rows] == [
        [str(c["id"]), "carol", "db1", "203.0.113.9/32", "pending"],
        [str(a["id"]), "alice", "web1", CIDR, "active"],
    ]
    assert rows[0][5:] == ["-", "-", "lag"]
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(a["expires_at_ms"] // 1000))
    assert rows[1][5:] == [expires, "alice", "disk", "full"]

    r = site.cli("alice", "breakglass", "list", "--state", "all", "--json")
    assert r.code == 0, r
    data = r.json()
    assert [x["id"] for x in data] == [b["id"], c["id"], a["id"]]
    assert data[0]["state"] == "revoked" and data[0]["group"] == "alpha-web"

    r = site.cli("alice", "breakglass", "list", "--state", "revoked")
    head, rows = table(r.stdout)
    assert [row[:5] for row in rows] == [[str(b["id"]), "bob", "group:alpha-web",
                                          "203.0.113.0/24", "revoked"]]
    r = site.cli("alice", "breakglass", "list", "--user", "carol", "--state", "all", "--json")
    assert [x["id"] for x in r.json()] == [c["id"]]
    line = one_line_failure(site.cli("alice", "breakglass", "list", "--state", "bogus"))
    assert "400" in line

    r = site.cli("alice", "breakglass", "show", str(a["id"]))
    assert r.code == 0, r
    fields = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(": ")
        fields[k.strip()] = v.strip()
    assert fields["grant"] == "#%d" % a["id"]
    assert fields["state"] == "active" and fields["user"] == "alice"
    assert fields["team"] == "alpha" and fields["target"] == "web1"
    assert fields["cidr"] == CIDR and fields["reason"] == "disk full"
    assert fields["expires"] == expires
    assert fields["approved"].endswith(" by alice")
    one_line_failure(site.cli("alice", "breakglass", "show", "999999"))
    one_line_failure(site.cli("alice", "breakglass", "show", "abc"), code=2)


# ---- refusals ------------------------------------------------------------------------


def test_refusals_are_one_line(site):
    def refused(who, *args):
        before = len(site.cli("admin", "breakglass", "list", "--state", "all", "--json").json())
        line = one_line_failure(site.cli(who, "breakglass", "request", *args))
        after = len(site.cli("admin", "breakglass", "list", "--state", "all", "--json").json())
        assert after == before, "a refused request made a grant"
        return line

    base = ["--reason", "why not", "--ip", IP]
    line = refused("alice", "--host", "web1", "--for", "3h", *base)
    assert "max_duration 2h" in line and "3h" in line, line
    line = refused("alice", "--host", "web1", "--for", "10m", "--reason", "x", "--ip",
                   "0.0.0.0/0")
    assert "too wide" in line, line
    line = refused("alice", "--host", "web1", "--for", "10m", "--reason", "x", "--ip",
                   "198.51.0.0/16")
    assert "too wide" in line, line
    line = refused("alice", "--host", "nosuchhost", "--for", "10m", *base)
    assert "nosuchhost" in line, line
    line = refused("alice", "--group", "nosuchgroup", "--for", "10m", *base)
    assert "nosuchgroup" in line, line
    line = refused("dave", "--host", "web1", "--for", "10m", *base)
    assert "dave" in line and "403" in line, line
    line = refused("alice", "--host", "db1", "--for", "10m", *base)  # beta's host
    assert "403" in line, line
    line = refused("plain", "--host", "web1", "--for", "10m", *base)
    assert "403" in line and "--user" in line, line
    line = refused("agent", "--host", "web1", "--for", "10m", *base)
    assert "403" in line and "agent" in line, line
    # A person's token acts only as its own user.
    line = refused("alice", "--host", "web1", "--for", "10m", "--user", "bob", *base)
    assert "403" in line, line
    # The agent's token reads nothing else either.
    one_line_failure(site.cli("agent", "breakglass", "list"))
    one_line_failure(site.cli("agent", "allowlist", "list"))

    # Usage errors: exit 2, nothing sent.
    for args in (["--host", "web1", "--group", "alpha-web", "--for", "1m", "--reason", "x"],
                 ["--for", "1m", "--reason", "x"],
                 ["--host", "web1", "--reason", "x"],
                 ["--host", "web1", "--for", "soon", "--reason", "x"],
                 ["--host", "web1", "--for", "10m"],
                 ["--host", "web1", "--for", "10m", "--reason", "x", "extra"]):
        one_line_failure(site.cli("alice", "breakglass", "request", *args), code=2)
    for sub in ("approve", "deny", "revoke", "show"):
        one_line_failure(site.cli("alice", "breakglass", sub), code=2)
        one_line_failure(site.cli("alice", "breakglass", sub, "0"), code=2)
        one_line_failure(site.cli("alice", "breakglass", sub, "1", "2"), code=2)


def test_admin_tokens(site):
    g = site.request("admin", "--host", "web1", "--for", "10m", "--reason", "for alice",
                     "--ip", IP, "--user", "alice")
    assert g["user"] == "alice" and g["state"] == "active"
    line = one_line_failure(site.cli("admin", "breakglass", "request", "--host", "web1", "--for",
                                     "10m", "--reason", "x", "--ip", IP))
    assert "user" in line and "400" in line, line

    g = site.request("admin-alice", "--host", "web2", "--for", "10m", "--reason", "mine",
                     "--ip", IP)
    assert g["user"] == "alice" and g["requested_by"] == "user:alice"
    assert g["state"] == "active" and g["approved_by"] == "alice"

    # An admin token without a user approves anything (the policy binds people).
    p = site.request("carol", "--host", "db1", "--for", "10m", "--reason", "x", "--ip", IP)
    r = site.cli("admin", "breakglass", "approve", str(p["id"]), "--json")
    assert r.code == 0, r
    assert r.json()["state"] == "active" and r.json()["approved_by"] == "token:admin"


# ---- expiry and the audit trail ----------------------------------------------------


def test_grants_expire_by_themselves_and_everything_is_audited(site):
    g = site.request("alice", "--host", "web1", "--for", "3s", "--reason", "short", "--ip", IP)
    assert g["state"] == "active"
    gone = site.request("alice", "--host", "web2", "--for", "10m", "--reason", "to revoke",
                        "--ip", IP)
    assert site.cli("alice", "breakglass", "revoke", str(gone["id"])).code == 0
    p = site.request("carol", "--host", "db1", "--for", "10m", "--reason", "approve me",
                     "--ip", IP)
    assert site.cli("bob", "breakglass", "approve", str(p["id"])).code == 0

    wait_for(lambda: site.show(g["id"])["state"] == "expired", 30,
             "grant %d to expire" % g["id"], interval=0.2)
    e = site.show(g["id"])
    assert e["ended_by"] == "system"
    r = site.cli("alice", "breakglass", "list")
    assert str(g["id"]) not in [row[0] for row in table(r.stdout)[1]]

    def targets(action):
        return {ev["target"] for ev in site.audit(action)}

    assert {"grant:%d" % x for x in (g["id"], gone["id"], p["id"])} <= \
        targets("breakglass.request")
    assert {"grant:%d" % x for x in (g["id"], p["id"])} <= targets("breakglass.approve")
    assert targets("breakglass.revoke") == {"grant:%d" % gone["id"]}
    assert targets("breakglass.expire") == {"grant:%d" % g["id"]}
    expire = site.audit("breakglass.expire")[0]
    assert expire["actor"] == "system"
    approve = [ev for ev in site.audit("breakglass.approve") if ev["target"] == "grant:%d" % p["id"]]
    assert approve[0]["actor"] == "user:bob"


# ---- certificates --------------------------------------------------------------------


def keygen_fields(cert):
    p = subprocess.run([SSH_KEYGEN, "-L", "-f", str(cert)], capture_output=True,
                       env=base_env({"TZ": "UTC"}))
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode()
    principals = re.search(r"Principals:\s*\n((?:\s{16,}\S.*\n)+)", text)
    valid = re.search(r"Valid: from (\S+) to (\S+)", text)
    source = re.search(r"source-address (\S+)", text)
    return {
        "text": text,
        "principals": principals.group(1).split() if principals else [],
        "valid_to": valid.group(2) if valid else None,
        "source": source.group(1) if source else None,
    }


def test_cert_sign_for_a_grant(site, tmp_path):
    pub = keygen(tmp_path / "id_ed25519", comment="alice@laptop")
    g = site.request("alice", "--host", "web1", "--for", "20m", "--reason", "cert", "--ip", IP)
    r = site.cli("alice", "cert", "sign", "--grant", str(g["id"]), "--pubkey", str(pub))
    assert r.code == 0, r
    cert = tmp_path / "id_ed25519-cert.pub"
    assert r.stdout == "%s: certificate for grant #%d\n" % (cert, g["id"])
    assert (os.stat(cert).st_mode & 0o777) & 0o022 == 0
    f = keygen_fields(cert)
    assert f["principals"] == ["alice", "deploy"], f["text"]
    assert f["source"] == CIDR, f["text"]
    want_to = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(g["expires_at_ms"] // 1000))
    assert f["valid_to"] == want_to, f["text"]
    assert "user certificate" in f["text"]

    out = tmp_path / "elsewhere.cert"
    r = site.cli("alice", "cert", "sign", "--grant", str(g["id"]), "--pubkey", str(pub), "-o",
                 str(out), "--json")
    assert r.code == 0, r
    assert r.json()["path"] == str(out) and r.json()["grant"] == g["id"]
    assert out.read_text() == r.json()["certificate"] + "\n"
    assert keygen_fields(out)["principals"] == ["alice", "deploy"]

    def refused(who, gid, pubkey=pub):
        target = tmp_path / "refused-cert.pub"
        r = site.cli(who, "cert", "sign", "--grant", str(gid), "--pubkey", str(pubkey), "-o",
                     str(target))
        line = one_line_failure(r)
        assert not target.exists()
        return line

    # Another user's grant.
    line = refused("bob", g["id"])
    assert "403" in line, line
    # A pending grant.
    p = site.request("carol", "--host", "db1", "--for", "10m", "--reason", "x", "--ip", IP)
    line = refused("carol", p["id"])
    assert "not active" in line and "pending" in line, line
    # A revoked grant.
    assert site.cli("alice", "breakglass", "revoke", str(g["id"])).code == 0
    line = refused("alice", g["id"])
    assert "not active" in line and "revoked" in line, line
    # Not a key.
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-ed25519 not-base64!\n")
    g2 = site.request("alice", "--host", "web1", "--for", "20m", "--reason", "cert", "--ip", IP)
    refused("alice", g2["id"], pubkey=bad)
    # --grant does not mix with the local options.
    one_line_failure(site.cli("alice", "cert", "sign", "--grant", str(g2["id"]), "--pubkey",
                              str(pub), "--principal", "root"), code=2)
    events = [ev for ev in site.audit("breakglass.certificate")
              if ev["target"] == "grant:%d" % g["id"]]
    assert len(events) == 2


# ---- tokens for people and agents, the allowlist ----------------------------------------


def test_token_create_for_users_and_agents(env):
    env.write("teams/alpha/hosts.yaml", "host_groups:\n  - name: alpha-web\n    hosts: [web1]\n")
    r = env.local("token", "create", "--name", "alice-cli", "--scope", "write", "--user", "alice",
                  "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["user"] == "alice" and d["agent"] is None and d["scope"] == "write"
    r = env.local("token", "create", "--name", "web1-agent", "--agent", "web1", "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["agent"] == "web1" and d["user"] is None and d["scope"] == "read"
    r = env.local("token", "create", "--name", "human", "--scope", "read", "--user", "bob")
    assert r.code == 0, r
    assert "acts as user bob" in r.stderr

    line = one_line_failure(env.local("token", "create", "--name", "x", "--scope", "read",
                                      "--user", "nobody"))
    assert "nobody" in line
    line = one_line_failure(env.local("token", "create", "--name", "x", "--agent", "Bad_Host"))
    assert "Bad_Host" in line
    line = one_line_failure(env.local("token", "create", "--name", "x", "--scope", "read",
                                      "--team", "beta", "--user", "alice"))
    assert "not a member" in line
    one_line_failure(env.local("token", "create", "--name", "x", "--agent", "web1", "--scope",
                               "write"), code=2)
    one_line_failure(env.local("token", "create", "--name", "x", "--scope", "read", "--user",
                               "alice", "--agent", "web1"), code=2)
    one_line_failure(env.local("token", "create", "--name", "x", "--user", "alice"), code=2)

    r = env.local("token", "list")
    assert r.code == 0, r
    head, rows = table(r.stdout)
    assert head == ["ID", "NAME", "SCOPE", "TEAM", "USER", "AGENT", "CREATED", "EXPIRES",
                    "LAST", "USED", "STATE"]
    assert [row[1:6] for row in rows] == [["alice-cli", "write", "all", "alice", "-"],
                                          ["web1-agent", "read", "all", "-", "web1"],
                                          ["human", "read", "all", "bob", "-"]]
    listing = {t["name"]: t for t in env.local("token", "list", "--json").json()}
    assert listing["alice-cli"]["user"] == "alice" and listing["alice-cli"]["agent"] is None
    assert listing["web1-agent"]["agent"] == "web1"


def test_allowlist_list(site):
    r = site.cli("alice", "allowlist", "list")
    assert r.code == 0, r
    assert r.stdout.split() == ["USER", "CIDR", "SOURCE", "LAST-SEEN", "EXPIRES", "DETAIL"]
    r = site.cli("alice", "allowlist", "list", "--user", "alice", "--json")
    assert r.code == 0, r
    assert r.json() == []
    one_line_failure(site.cli("alice", "allowlist", "list", "extra"), code=2)
