"""`opsbell agent` end to end: the real binary runs in the "server" network
namespace (tests/e2e/netns_support.py) with real nftables, polls a stand-in
for the opsbell server (tests/e2e/agent_standin.py, speaking the agent
protocol: Bearer token, ETag, 304, reports) running in the same namespace,
and a client namespace connects to a stand-in for sshd on port 22.

Shown: entries open the port from the client, expired ones do not; the
ETag comes back as If-None-Match; an `nft flush ruleset` is repaired from
the cache, also with the server down; a stop leaves access in place and a
restart with the server down (a reboot) applies the cache; keys appear in
`opsbell keys authorized-keys -c agent.yaml USER` and a key removed from the
state disappears; the CA and KRL files; bad state documents are refused
and the previous state stays in force; a 401 is reported clearly (and the
token is never printed); agent.yaml errors have positions.
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from e2e_support import assert_no_sanitizer_report, diag_lines, opsbell_bin, run_cli
from netns_support import Topology

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "agent_standin.py"
TOKEN = "obt_" + "A" * 39 + "agnt"
HOST = "web1"
LIMIT = 20.0  # seconds any wait may take before the test fails


def now_ms():
    return int(time.time() * 1000)


def wait_for(pred, what, limit=LIMIT):
    deadline = time.monotonic() + limit
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def state(entries=(), keys=(), ssh_ca=None, krl=None, host=HOST, poll=1):
    return {"host": host, "entries": list(entries), "keys": list(keys), "ssh_ca": ssh_ca,
            "krl": krl, "poll_seconds": poll}


def entry(id_, cidr, seconds):
    return {"id": id_, "cidr": cidr, "expires_at": now_ms() + int(seconds * 1000),
            "description": "test " + id_}


def etag_of(body):
    return '"%s"' % hashlib.sha256(body).hexdigest()


class AgentHost:
    """One agent, its stand-in server and their files, in topo's server namespace."""

    def __init__(self, topo, root):
        self.topo = topo
        self.root = root
        self.sdir = root / "standin"
        self.sdir.mkdir()
        (self.sdir / "token").write_text(TOKEN)
        (root / "token").write_text(TOKEN + "\n")
        self.config = root / "agent.yaml"
        self.state_dir = root / "state"
        self.cache = root / "keys" / "authorized_keys.cache"
        self.ca_file = root / "ssh" / "opsbell_ca.pub"
        self.krl_file = root / "ssh" / "opsbell_revoked_keys"
        (root / "ssh").mkdir()
        self.standin = None
        self.agent = None
        self.port = None
        self.runs = 0
        self.etag = None

    # ---- the stand-in ----
    def start_standin(self):
        self.standin = subprocess.Popen(
            ["ip", "netns", "exec", self.topo.server, sys.executable, str(STANDIN),
             str(self.sdir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.standin.stdout.readline().decode()
        assert line.startswith("listening "), "the stand-in did not start: %r" % line
        self.port = int(line.split()[1])

    def stop_standin(self):
        if self.standin is not None:
            self.standin.kill()
            self.standin.wait()
            self.standin = None

    def serve(self, doc):
        """Serve doc (a dict, or raw bytes); returns its ETag."""
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        tmp = self.sdir / "state.json.tmp"
        tmp.write_bytes(body)
        os.rename(tmp, self.sdir / "state.json")
        self.etag = etag_of(body)
        return self.etag

    def force_status(self, code):
        p = self.sdir / "status"
        if code is None:
            p.unlink(missing_ok=True)
        else:
            p.write_text(str(code))

    def set_token(self, token):
        (self.sdir / "token").write_text(token)

    def lines(self, name):
        p = self.sdir / name
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def reports(self):
        return self.lines("reports.jsonl")

    def report_for(self, etag):
        return [r for r in self.reports() if r.get("etag") == etag]

    def wait_report(self, etag, error=False):
        def find():
            for r in self.report_for(etag):
                if (r["error"] is not None) == error:
                    return r
            return None
        return wait_for(find, "a report for %s (error=%s); got %r; agent stderr:\n%s" % (
            etag, error, self.reports(), self.stderr_text()))

    # ---- the agent ----
    def write_config(self, extra="", port=None):
        self.config.write_text(
            "# agent.yaml of an e2e test\n"
            "server: http://127.0.0.1:%d\n"
            "token: file:token\n"
            "host: %s\n"
            "state_dir: state\n"
            "poll_interval: 1s\n"
            "keys:\n"
            "  cache_dir: keys\n"
            "ssh:\n"
            "  trusted_user_ca_keys: ssh/opsbell_ca.pub\n"
            "  revoked_keys: ssh/opsbell_revoked_keys\n"
            "nftables:\n"
            "  table: opsbell\n"
            "  port: %d\n"
            "  drop_others: true\n%s" % (port or self.port, HOST, self.topo.port, extra))

    def start_agent(self):
        self.runs += 1
        self.out = open(self.root / ("agent%d.out" % self.runs), "wb")
        self.err_path = self.root / ("agent%d.err" % self.runs)
        self.err = open(self.err_path, "wb")
        self.agent = subprocess.Popen(
            ["ip", "netns", "exec", self.topo.server, opsbell_bin(), "agent", "-c",
             str(self.config)], stdout=self.out, stderr=self.err, cwd=self.root)

    def stderr_text(self):
        if self.agent is None and not getattr(self, "err_path", None):
            return ""
        return self.err_path.read_text(errors="replace")

    def stop_agent(self):
        """SIGTERM; returns the exit status (the test fails when it does not stop)."""
        self.agent.send_signal(signal.SIGTERM)
        try:
            code = self.agent.wait(timeout=LIMIT)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            self.agent.wait()
            raise AssertionError("the agent did not stop on SIGTERM")
        self.agent = None
        self.out.close()
        self.err.close()
        text = self.stderr_text()
        assert_no_sanitizer_report(text, "the agent's stderr")
        assert TOKEN not in text, "the token was logged"
        return code

    def once(self):
        p = subprocess.run(["ip", "netns", "exec", self.topo.server, opsbell_bin(), "agent",
                            "-c", str(self.config), "--once"], capture_output=True,
                           timeout=60, cwd=self.root)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        assert_no_sanitizer_report(err, "opsbell agent --once")
        assert TOKEN not in out + err, "the token was printed"
        return p.returncode, out, err

    def authorized_keys(self, user):
        r = run_cli(["keys", "authorized-keys", "-c", str(self.config), user])
        assert r.code == 0, r
        return r.stdout.splitlines()

    def cached_etag(self):
        p = self.state_dir / "state.json"
        return json.loads(p.read_text())["etag"] if p.exists() else None

    # ---- the kernel ----
    def elements(self, setname="host4"):
        p = self.topo.in_server("nft", "-j", "list", "set", "inet", "opsbell", setname,
                                check=False)
        if p.returncode != 0:
            return None
        elems = []
        for item in json.loads(p.stdout)["nftables"]:
            if "set" in item:
                elems += item["set"].get("elem", [])
        return elems

    def element_ips(self, setname="host4"):
        elems = self.elements(setname)
        if elems is None:
            return None
        out = []
        for e in elems:
            val = e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e
            if isinstance(val, dict) and "prefix" in val:
                val = "%s/%d" % (val["prefix"]["addr"], val["prefix"]["len"])
            out.append(val)
        return out

    def close(self):
        if self.agent is not None:
            self.agent.kill()
            self.agent.wait()
            self.agent = None
        self.stop_standin()


@pytest.fixture
def topo():
    if os.geteuid() != 0:
        pytest.fail("the agent tests need root (network namespaces); CI runs them as root")
    t = Topology()
    try:
        t.start_listener()
        yield t
    finally:
        t.close()


@pytest.fixture
def host(topo, tmp_path):
    h = AgentHost(topo, tmp_path)
    try:
        h.start_standin()
        h.write_config()
        yield h
    finally:
        h.close()


def keygen(tmp_path, name, kind="ed25519"):
    path = tmp_path / name
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name + "@test", "-f", str(path)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048"]
    subprocess.run(args, check=True, capture_output=True, timeout=30)
    return (tmp_path / (name + ".pub")).read_text().strip()


def key_material(line):
    return " ".join(line.split()[:2])


# ---------------------------------------------------------------------------


def test_entries_open_the_port_and_expired_ones_do_not(host, topo):
    tag = host.serve(state([entry("grant:7", topo.client_ip, 120),
                            entry("grant:8", topo.client_ip6, -5)]))
    host.start_agent()
    rep = host.wait_report(tag)
    assert rep["applied"] == ["grant:7"], rep
    assert topo.probe() == "open"
    assert topo.probe(v6=True) == "dropped", "an expired entry opens nothing"
    assert host.element_ips() == [topo.client_ip]
    assert host.element_ips("host6") == []
    # The next polls carry the ETag back (and get 304).
    wait_for(lambda: any(r["if_none_match"] == tag and r["auth_ok"]
                         for r in host.lines("requests.jsonl")), "If-None-Match: " + tag)
    assert all(r["authorization_present"] for r in host.lines("requests.jsonl"))
    assert host.cached_etag() == tag
    assert len(host.report_for(tag)) == 1, "one report per state, not per poll"
    # A new state replaces the old one: the client's entry is gone.
    tag2 = host.serve(state([entry("allow:bob:198.51.100.7/32", "198.51.100.7/32", 120)]))
    assert host.wait_report(tag2)["applied"] == ["allow:bob:198.51.100.7/32"]
    assert topo.wait_probe("dropped") == "dropped"
    assert host.stop_agent() == 0


def test_flush_ruleset_is_repaired_from_the_cache(host, topo):
    tag = host.serve(state([entry("allow:other", "198.51.100.7", 300)]))
    host.start_agent()
    host.wait_report(tag)
    assert topo.probe() == "dropped"

    def repaired():
        return host.element_ips() == ["198.51.100.7"]

    topo.in_server("nft", "flush", "ruleset")
    wait_for(repaired, "the table to come back after nft flush ruleset (304 path)")
    assert topo.probe() == "dropped", "the drop rule is back too"
    # With the server gone too: the cached state is applied again.
    host.stop_standin()
    topo.in_server("nft", "flush", "ruleset")
    wait_for(repaired, "the table to come back with the server down")
    assert topo.probe() == "dropped"
    assert "unreachable" in host.stderr_text()
    assert host.stop_agent() == 0


def test_stop_keeps_access_and_a_restart_without_the_server_applies_the_cache(host, topo):
    tag = host.serve(state([entry("grant:1", topo.client_ip, 300)]))
    host.start_agent()
    host.wait_report(tag)
    assert topo.probe() == "open"
    assert host.stop_agent() == 0
    assert host.element_ips() == [topo.client_ip], "a stop removes nothing"
    assert topo.probe() == "open"

    # A reboot: the kernel forgot everything and the server is unreachable.
    host.stop_standin()
    topo.in_server("nft", "flush", "ruleset")
    code, out, err = host.once()
    assert code == 0, (code, out, err)
    assert err.startswith("opsbell: warning: the server is unreachable") and \
        len(err.splitlines()) == 1, err
    assert host.element_ips() == [topo.client_ip]

    topo.in_server("nft", "flush", "ruleset")
    host.start_agent()
    wait_for(lambda: host.element_ips() == [topo.client_ip], "the cached entry after restart")
    assert topo.probe() == "open"
    assert topo.probe(v6=True) == "dropped"
    wait_for(lambda: "unreachable" in host.stderr_text(), "the unreachable warning")
    assert "applied the cached state" in host.stderr_text()
    assert host.stop_agent() == 0


def test_once_without_server_and_without_cache_fails_in_one_line(host, topo):
    host.stop_standin()
    code, out, err = host.once()
    assert code == 1, (code, out, err)
    assert len(err.splitlines()) == 1 and "no state is cached" in err, err
    assert err.startswith("opsbell: "), err


def test_keys_follow_the_state(host, topo, tmp_path):
    k1, k2, k3 = (keygen(tmp_path, n) for n in ("alice1", "alice2", "bob1"))
    weak = keygen(tmp_path, "weak", "rsa")  # 2048 bits: the agent drops it
    tag = host.serve(state(keys=[{"login": "alice", "key": k1}, {"login": "bob", "key": k3},
                                 {"login": "alice", "key": weak},
                                 {"login": "alice", "key": k2}]))
    host.start_agent()
    host.wait_report(tag)
    assert [key_material(x) for x in host.authorized_keys("alice")] == \
        [key_material(k1), key_material(k2)]
    assert [key_material(x) for x in host.authorized_keys("bob")] == [key_material(k3)]
    assert host.authorized_keys("carol") == []
    assert "left out" in host.stderr_text()
    assert oct(host.cache.stat().st_mode & 0o777) == "0o644"

    tag2 = host.serve(state(keys=[{"login": "alice", "key": k2}]))
    host.wait_report(tag2)
    assert [key_material(x) for x in host.authorized_keys("alice")] == [key_material(k2)]
    assert host.authorized_keys("bob") == [], "a key removed from the state disappears"
    assert host.stop_agent() == 0


def test_ca_and_revoked_keys_files(host, topo, tmp_path):
    ca = keygen(tmp_path, "ca")
    keygen(tmp_path, "user")
    krl_path = tmp_path / "made.krl"
    subprocess.run(["ssh-keygen", "-q", "-k", "-f", str(krl_path), str(tmp_path / "user.pub")],
                   check=True, capture_output=True, timeout=30)
    krl = krl_path.read_bytes()
    tag = host.serve(state(ssh_ca=ca, krl=base64.b64encode(krl).decode()))
    host.start_agent()
    host.wait_report(tag)
    assert host.ca_file.read_text() == ca + "\n"
    assert oct(host.ca_file.stat().st_mode & 0o777) == "0o644"
    assert host.krl_file.read_bytes() == krl
    q = subprocess.run(["ssh-keygen", "-Q", "-f", str(host.krl_file), str(tmp_path / "user.pub")],
                       capture_output=True, timeout=30)
    assert q.returncode != 0 and b"REVOKED" in q.stdout, q

    tag2 = host.serve(state(ssh_ca=None, krl=None))
    host.wait_report(tag2)
    assert host.ca_file.read_bytes() == b"", "no CA on the server: nothing trusted"
    assert host.krl_file.exists() and host.krl_file.read_bytes() == b"", \
        "the RevokedKeys file is always written"
    # (sshd reads a file without the KRL magic as a list of public keys, so an
    # empty one revokes nothing; `ssh-keygen -Q` wants a KRL and says so.)
    assert host.stop_agent() == 0


BAD_STATES = [
    (b"{not json", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"host": "web1", "host": "web1"}', "not JSON"),
    (dict(state(), host="web2"), 'for host "web2"'),
    (dict(state(), entries=[{"id": "grant:1", "cidr": "300.1.1.1", "expires_at": 1}]),
     "entries"),
    (dict(state(), entries=[{"id": "grant 1; flush ruleset", "cidr": "10.1.1.1",
                             "expires_at": 4102444800000}]), "entries"),
    (dict(state(), entries=[{"id": "grant:wide", "cidr": "0.0.0.0/0",
                             "expires_at": 4102444800000}]), "too wide"),
    (dict(state(), keys=[{"login": "Alice;rm", "key": "ssh-ed25519 AAAA"}]), "login"),
    (dict(state(), keys=[{"login": "a" * 33, "key": "ssh-ed25519 AAAA"}]), "login"),
    (dict(state(), keys="alice"), '"keys" must be a list'),
    (dict(state(), ssh_ca="ssh-ed25519 notbase64!"), "ssh_ca"),
    (dict(state(), krl="!!!"), "not base64"),
    (dict(state(), krl=base64.b64encode(b"hello, this is not a KRL").decode()), "not an OpenSSH KRL"),
    (dict(state(), poll_seconds=0), "poll_seconds"),
    ({"host": "web1", "entries": [], "keys": []}, "ssh_ca"),
]


def test_bad_states_are_refused_and_the_previous_state_stays(host, topo, tmp_path):
    k1 = keygen(tmp_path, "alice1")
    good = host.serve(state([entry("grant:1", topo.client_ip, 300)],
                            keys=[{"login": "alice", "key": k1}]))
    host.start_agent()
    host.wait_report(good)
    assert topo.probe() == "open"
    for doc, reason in BAD_STATES:
        tag = host.serve(doc)
        rep = host.wait_report(tag, error=True)
        assert reason in rep["error"], (doc, rep)
        assert "previous state stays in force" in rep["error"], rep
        assert rep["applied"] == []
        assert host.cached_etag() == good, "the refused state was not stored"
        assert host.element_ips() == [topo.client_ip], (doc, "the previous entries stay")
        assert [key_material(x) for x in host.authorized_keys("alice")] == [key_material(k1)]
    assert topo.probe() == "open"
    err = host.stderr_text()
    assert "the server's state was refused" in err
    # Back to a good state: taken again.
    again = host.serve(state([entry("grant:2", topo.client_ip, 300)]))
    assert host.wait_report(again)["applied"] == ["grant:2"]
    assert host.stop_agent() == 0


def test_a_401_is_reported_clearly_and_the_cache_stays(host, topo):
    tag = host.serve(state([entry("grant:1", topo.client_ip, 300)]))
    host.start_agent()
    host.wait_report(tag)
    host.set_token("obt_" + "B" * 43)  # the server no longer knows our token
    wait_for(lambda: "HTTP 401" in host.stderr_text(), "the 401 in the log")
    line = [x for x in host.stderr_text().splitlines() if "HTTP 401" in x][0]
    assert "level=error" in line and "refused the agent token" in line, line
    assert "unknown or revoked token" in line, "the server's reason is shown"
    assert "cached state stays in force" in line
    assert topo.probe() == "open", "a refused token does not remove access"
    assert host.stop_agent() == 0

    code, out, err = host.once()
    assert code == 1, (code, out, err)
    assert len(err.splitlines()) == 1 and "HTTP 401" in err and "token" in err, err

    host.force_status(403)
    code, out, err = host.once()
    assert code == 1 and "HTTP 403" in err and "not an agent token" in err, err


def test_once_and_server_errors(host, topo):
    host.force_status(500)
    code, out, err = host.once()
    assert code == 1 and "HTTP 500" in err, (code, err)
    host.force_status(None)
    tag = host.serve(state([entry("grant:1", topo.client_ip, 300)]))
    code, out, err = host.once()
    assert code == 0 and err == "", (code, out, err)
    assert tag in out
    assert host.wait_report(tag)["applied"] == ["grant:1"]
    # The server fails now: --once applies the cache and warns.
    host.force_status(503)
    code, out, err = host.once()
    assert code == 0 and err.startswith("opsbell: warning:") and "HTTP 503" in err, err
    assert topo.probe() == "open"


def test_real_sshd_logins_follow_the_agent(tmp_path):
    """A real OpenSSH sshd in the server namespace on port 22, configured as
    docs/AGENT.md says (AuthorizedKeysCommand opsbell keys authorized-keys -c
    agent.yaml %u, TrustedUserCAKeys, RevokedKeys from the agent), and ssh
    from the client namespace: a key from the state logs in while the grant
    is in force; a certificate of the state's CA logs in; a KRL in the state
    shuts the key out; without the grant nothing gets through.  (The login
    is root, a system account that exists everywhere tests run;
    AuthorizedKeysCommandUser is root because pytest's temporary directories
    are private to root.)"""
    if os.geteuid() != 0:
        pytest.fail("the agent tests need root (network namespaces); CI runs them as root")
    topo = Topology()
    h = AgentHost(topo, tmp_path)
    bin_dir = tempfile.mkdtemp(prefix="opsbell-agent-test-", dir="/run")
    sshd = log = None
    try:
        h.start_standin()
        h.write_config()
        keys_dir = tmp_path / "userkeys"
        keys_dir.mkdir()
        login = keygen(keys_dir, "login")
        ca = keygen(keys_dir, "ca")
        keygen(keys_dir, "certkey")
        subprocess.run(["ssh-keygen", "-q", "-s", str(keys_dir / "ca"), "-I", "test-cert",
                        "-n", "root", "-V", "-1m:+1h", str(keys_dir / "certkey.pub")],
                       check=True, capture_output=True, timeout=30)
        krl_path = keys_dir / "login.krl"
        subprocess.run(["ssh-keygen", "-q", "-k", "-f", str(krl_path),
                        str(keys_dir / "login.pub")], check=True, capture_output=True, timeout=30)
        grant = entry("grant:1", topo.client_ip, 600)
        tag = h.serve(state([grant], keys=[{"login": "root", "key": login}], ssh_ca=ca))
        h.start_agent()
        h.wait_report(tag)

        # sshd wants its AuthorizedKeysCommand in root-owned 0755 directories.
        os.chmod(bin_dir, 0o755)
        front = os.path.join(bin_dir, "opsbell")
        shutil.copy2(opsbell_bin(), front)
        shutil.copy2(os.path.join(os.path.dirname(opsbell_bin()), "opsbell-core"),
                     os.path.join(bin_dir, "opsbell-core"))
        sshd_dir = tmp_path / "sshd"
        sshd_dir.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(sshd_dir / "host_key")], check=True, timeout=60)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        (sshd_dir / "sshd_config").write_text(
            "Port 22\nListenAddress %s\nHostKey %s\nPidFile %s\n"
            "AuthorizedKeysFile none\n"
            "AuthorizedKeysCommand %s keys authorized-keys -c %s %%u\n"
            "AuthorizedKeysCommandUser root\n"
            "TrustedUserCAKeys %s\nRevokedKeys %s\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "UsePAM no\nStrictModes no\nLogLevel VERBOSE\n"
            % (topo.server_ip, sshd_dir / "host_key", sshd_dir / "sshd.pid", front, h.config,
               h.ca_file, h.krl_file))
        log = open(sshd_dir / "sshd.log", "w")
        sshd = subprocess.Popen(["ip", "netns", "exec", topo.server, "/usr/sbin/sshd", "-D", "-e",
                                 "-f", str(sshd_dir / "sshd_config")],
                                stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: topo.probe() == "open", "sshd in the server namespace")

        def ssh_with(name):
            r = subprocess.run(
                ["ip", "netns", "exec", topo.client, "ssh", "-i", str(keys_dir / name),
                 "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ConnectTimeout=3", "root@" + topo.server_ip, "echo", "logged-in"],
                capture_output=True, text=True, timeout=60)
            return r.returncode == 0 and "logged-in" in r.stdout, r.stderr

        ok, why = ssh_with("login")
        assert ok, why + (sshd_dir / "sshd.log").read_text()
        ok, why = ssh_with("certkey")
        assert ok, "the CA's certificate: " + why + (sshd_dir / "sshd.log").read_text()

        tag = h.serve(state([grant], keys=[{"login": "root", "key": login}], ssh_ca=ca,
                            krl=base64.b64encode(krl_path.read_bytes()).decode()))
        h.wait_report(tag)
        ok, why = ssh_with("login")
        assert not ok and "Permission denied" in why, "a key in the KRL is refused"
        assert "revoked" in (sshd_dir / "sshd.log").read_text().lower()
        assert ssh_with("certkey")[0], "the certificate is not revoked"

        tag = h.serve(state([], keys=[{"login": "root", "key": login}], ssh_ca=ca))
        h.wait_report(tag)
        assert topo.probe() == "dropped"
        ok, why = ssh_with("certkey")
        assert not ok and "Permission denied" not in why, "without the grant: no connection"
        assert h.stop_agent() == 0
    finally:
        if sshd is not None:
            sshd.send_signal(signal.SIGTERM)
            sshd.wait(timeout=10)
        if log is not None:
            log.close()
        h.close()
        topo.close()
        shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_poll_in_progress(host, topo, sig):
    tag = host.serve(state([entry("grant:1", topo.client_ip, 300)]))
    host.start_agent()
    host.wait_report(tag)
    host.force_status("hang")
    seen = len(host.lines("requests.jsonl"))
    wait_for(lambda: len(host.lines("requests.jsonl")) > seen, "a poll the server never answers")
    # The transfer timeout is 30 s and stop_agent waits 20 s: only giving up
    # the transfer on the signal stops the agent in time.
    host.agent.send_signal(sig)
    try:
        code = host.agent.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("the agent did not stop during a poll")
    host.agent = None
    host.out.close()
    host.err.close()
    assert code == 0, code
    assert_no_sanitizer_report(host.stderr_text(), "the agent's stderr")
    assert "agent stopping" in host.stderr_text()
    assert host.element_ips() == [topo.client_ip], "a stop removes nothing"


def test_config_errors_have_positions(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("server: ftp://x\n"       # line 1
                   "token: obt_literal\n"    # line 2
                   "poll_interval: 2d\n"     # line 3
                   "nftables:\n"
                   "  port: 99999\n"         # line 5
                   "  colour: blue\n"        # line 6
                   "hots: web1\n")           # line 7
    r = run_cli(["agent", "-c", str(cfg), "--check"])
    assert r.code == 1, r
    got = {(int(m["line"]), int(m["col"])): m["msg"] for m in diag_lines(r.stderr)}
    assert all(m["file"] == str(cfg) for m in diag_lines(r.stderr))
    assert "http:// or https://" in got[(1, 9)]
    assert "env:NAME or file:PATH" in got[(2, 8)] and "obt_literal" not in r.stderr
    assert "poll_interval" in got[(3, 16)]
    assert "65535" in got[(5, 9)]
    assert "unknown key 'colour' in nftables" in got[(6, 3)]
    assert "unknown key 'hots'" in got[(7, 1)]

    os.environ.pop("OPSBELL_TEST_AGENT_TOKEN", None)
    cfg.write_text("server: https://opsbell.example.com\ntoken: env:OPSBELL_TEST_AGENT_TOKEN\n")
    r = run_cli(["agent", "-c", str(cfg), "--check"])
    assert r.code == 1 and "OPSBELL_TEST_AGENT_TOKEN" in r.stderr, r
    diag_lines(r.stderr)
    r = run_cli(["agent", "-c", str(cfg), "--check"], env={"OPSBELL_TEST_AGENT_TOKEN": TOKEN})
    assert r.code == 0 and r.stderr == "", r
