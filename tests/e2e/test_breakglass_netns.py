"""Break-glass SSH end to end, with every real part (docs/BREAKGLASS.md):

    client ns  10.200.N.2 (and .3)  ssh ──────────────┐
    server ns  10.200.N.1           nftables (inet opsbell), OpenSSH sshd on :22
                                    (AuthorizedKeysCommand = `opsbell keys
                                    authorized-keys -c agent.yaml`, TrustedUserCAKeys,
                                    RevokedKeys), `opsbell agent`, `opsbell serve`
                                    on its loopback, the keys repository (git)

SSH is refused before a grant; a grant for the client's address lets the key
from git in; the kernel closes it at the grant's expiry even with the opsbell
server stopped (and the agent repairs an `nft flush ruleset` from its cache
meanwhile); a key removed from git stops working; a certificate signed for a
grant works only from the grant's address and only until the grant ends.

The opsbell user logs in as root (logins: [root]): a system account that
exists wherever the tests run.  Needs root (CI runs the suite as root).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from e2e_support import assert_no_sanitizer_report, free_port, opsbell_bin, run_cli
from netns_support import Topology, sh
from test_keys import Keygen, KeysRepo

SSHD = "/usr/sbin/sshd"


def wait_until(what, fn, limit=30.0, step=0.25):
    deadline = time.monotonic() + limit
    last = fn()
    while not last and time.monotonic() < deadline:
        time.sleep(step)
        last = fn()
    assert last, "timed out waiting for " + what
    return last


class Lab:
    """The two namespaces, the keys repository, opsbell serve, the agent and sshd."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.topo = Topology(port=22)
        self.procs = {}
        self.logs = {}
        self.bin_dir = None
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # ---- set-up ----

    def _build(self):
        t = self.tmp
        self.repo = KeysRepo(t / "git")
        self.keygen = Keygen(t / "keygen")
        self.alice_key, _ = self.keygen.make("alice")
        self.repo.put("keys/alice.pub", self.alice_key + "\n")
        self.repo.push()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "opsbell-ca",
                        "-f", str(t / "ca")], check=True, timeout=60)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        (t / "teams" / "ops").mkdir(parents=True)
        (t / "opsbell.yaml").write_text(
            "listen: 127.0.0.1:%d\nstorage: sqlite:%s\npublic_url: %s\nlog:\n  level: debug\n"
            "engine:\n  poll_interval: 1s\n"
            "ssh_ca:\n  key: file:%s\n"
            "keys:\n  repository: %s\n  branch: main\n  cache_dir: %s\n  sync_interval: 10s\n"
            % (self.port, t / "opsbell.db", self.url, t / "ca", self.repo.bare,
               t / "server-keys"))
        (t / "users.yaml").write_text(
            "users:\n  - name: alice\n    logins: [root]\n  - name: bob\n")
        (t / "teams" / "ops" / "team.yaml").write_text(
            "team:\n  members: [alice, bob]\n"
            "  breakglass:\n    self_approve: [members]\n    max_duration: 1h\n"
            "host_groups:\n  - name: lab\n    hosts: [srv1]\n")
        self.config = t / "opsbell.yaml"
        r = run_cli(["keys", "sync", "-c", str(self.config)])
        assert r.code == 0, r
        self.start_server()
        admin = run_cli(["token", "create", "-c", str(self.config), "--name", "admin",
                         "--scope", "admin"])
        assert admin.code == 0, admin
        self.admin = admin.stdout.strip()
        self.alice = self.make_token({"name": "alice", "scope": "write", "user": "alice"})
        agent_token = self.make_token({"name": "srv1", "agent": "srv1"})
        (t / "agent-token").write_text(agent_token + "\n")
        os.chmod(t / "agent-token", 0o600)
        self.agent_config = t / "agent.yaml"
        self.agent_config.write_text(
            "server: %s\ntoken: file:%s\nhost: srv1\nstate_dir: %s\npoll_interval: 1s\n"
            "keys:\n  cache_dir: %s\n"
            "ssh:\n  trusted_user_ca_keys: %s\n  revoked_keys: %s\n"
            "nftables:\n  table: opsbell\n  port: 22\n  drop_others: true\n"
            % (self.url, t / "agent-token", t / "agent-state", t / "agent-keys",
               t / "trusted_ca.pub", t / "revoked_keys"))
        self.start_agent()
        wait_until("the agent's first state",
                   lambda: (t / "trusted_ca.pub").exists() and (t / "revoked_keys").exists())
        self.start_sshd()

    def _spawn(self, name, argv):
        log = open(self.tmp / ("%s.log" % name), "w")
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(["ip", "netns", "exec", self.topo.server] + argv,
                                            stdout=log, stderr=subprocess.STDOUT)

    def log(self, name):
        return (self.tmp / ("%s.log" % name)).read_text(errors="replace")

    def _stop(self, name):
        p = self.procs.pop(name, None)
        if p is None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        self.logs.pop(name).close()
        if name in ("serve", "agent"):
            assert_no_sanitizer_report(self.log(name), "opsbell " + name)

    def start_server(self):
        self._spawn("serve", [opsbell_bin(), "serve", "-c", str(self.config)])
        wait_until("opsbell serve", lambda: self.api("GET", "/healthz")[0] == 200)

    def stop_server(self):
        self._stop("serve")

    def start_agent(self):
        self._spawn("agent", [opsbell_bin(), "agent", "-c", str(self.agent_config)])

    def start_sshd(self):
        t = self.tmp
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(t / "host_key")], check=True, timeout=60)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        # sshd runs the keys command only from a root-owned directory (not /tmp).
        self.bin_dir = tempfile.mkdtemp(prefix="opsbell-bg-test-", dir="/run")
        os.chmod(self.bin_dir, 0o755)
        front = os.path.join(self.bin_dir, "opsbell")
        shutil.copy2(opsbell_bin(), front)
        shutil.copy2(os.path.join(os.path.dirname(opsbell_bin()), "opsbell-core"),
                     os.path.join(self.bin_dir, "opsbell-core"))
        (t / "sshd_config").write_text(
            "Port 22\nListenAddress %s\nHostKey %s\nPidFile %s\n"
            "AuthorizedKeysFile none\n"
            "AuthorizedKeysCommand %s keys authorized-keys -c %s %%u\n"
            "AuthorizedKeysCommandUser root\n"
            "TrustedUserCAKeys %s\nRevokedKeys %s\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "UsePAM no\nStrictModes no\nLogLevel VERBOSE\n"
            % (self.topo.server_ip, t / "host_key", t / "sshd.pid", front, self.agent_config,
               t / "trusted_ca.pub", t / "revoked_keys"))
        self._spawn("sshd", [SSHD, "-D", "-e", "-f", str(t / "sshd_config")])
        # Closed by default: sshd listens, but nobody may reach it yet.
        time.sleep(0.5)
        assert self.procs["sshd"].poll() is None, self.log("sshd")

    def close(self):
        for name in list(self.procs):
            try:
                self._stop(name)
            except AssertionError:
                raise
            except Exception:
                pass
        if self.bin_dir:
            shutil.rmtree(self.bin_dir, ignore_errors=True)
        self.topo.close()

    # ---- talking to opsbell (inside the server namespace) ----

    def api(self, method, path, body=None, token=None):
        argv = ["ip", "netns", "exec", self.topo.server, "curl", "-s", "-m", "10", "-X", method,
                "-o", "-", "-w", "\n%{http_code}", self.url + path]
        if token:
            argv += ["-H", "Authorization: Bearer " + token]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if p.returncode != 0:
            return 0, None
        text, _, code = p.stdout.rpartition("\n")
        try:
            return int(code), json.loads(text) if text.strip() else None
        except ValueError:
            return int(code), text

    def make_token(self, body):
        code, reply = self.api("POST", "/api/v1/tokens", body, token=self.admin)
        assert code == 201, reply
        return reply["token"]

    def grant(self, cidr, duration, token=None):
        code, reply = self.api("POST", "/api/v1/breakglass",
                               {"group": "lab", "duration": duration, "reason": "e2e",
                                "ip": cidr}, token=token or self.alice)
        assert code == 201 and reply["state"] == "active", (code, reply)
        return reply

    def agent_has(self, entry_id):
        state = self.tmp / "agent-state" / "state.json"
        try:
            doc = json.loads(state.read_text())
        except (OSError, ValueError):
            return False
        doc = doc.get("state", doc)  # {"etag", "fetched_at", "state": {...}}
        return any(e["id"] == entry_id for e in doc.get("entries", []))

    def nft_has(self, addr):
        p = sh("ip", "netns", "exec", self.topo.server, "nft", "list", "table", "inet", "opsbell",
               check=False)
        return p.returncode == 0 and addr in p.stdout.decode()

    # ---- the client ----

    def ssh(self, key, source=None, cert=None):
        argv = ["ip", "netns", "exec", self.topo.client, "ssh", "-i", str(key), "-F", "/dev/null",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=3"]
        if cert:
            argv += ["-o", "CertificateFile=%s" % cert]
        if source:
            argv += ["-b", source]
        argv += ["root@" + self.topo.server_ip, "echo", "logged-in"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return p.returncode == 0 and "logged-in" in p.stdout, p.stderr

    def add_client_address(self, addr):
        dev = sh("ip", "-n", self.topo.client, "-o", "link", "show", "type", "veth").stdout.decode()
        dev = dev.split(":")[1].strip().split("@")[0]
        sh("ip", "-n", self.topo.client, "addr", "add", addr + "/24", "dev", dev)


@pytest.fixture
def lab(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the break-glass tests need root (network namespaces); CI runs them as root")
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


def test_grant_opens_ssh_then_the_kernel_closes_it_with_opsbell_down(lab):
    key = lab.keygen.root / "alice"
    ok, err = lab.ssh(key)
    assert not ok and ("timed out" in err or "Connection" in err), err  # dropped: no grant

    g = lab.grant(lab.topo.client_ip, "40s")
    gid = "grant:%d" % g["id"]
    wait_until("the agent applying the grant", lambda: lab.agent_has(gid))
    wait_until("nftables holding the client", lambda: lab.nft_has(lab.topo.client_ip))
    ok, err = lab.ssh(key)
    assert ok, err + lab.log("sshd")
    # The agent reported it: audited as applied on srv1.
    code, audit = lab.api("GET", "/api/v1/audit", token=lab.admin)
    assert code == 200
    actions = [(e["action"], e["actor"]) for e in audit["events"]]
    assert ("breakglass.apply", "agent:srv1") in actions, actions
    assert ("breakglass.request", "user:alice") in actions, actions

    # The server goes away; the agent keeps its cache and repairs a flushed ruleset.
    lab.stop_server()
    sh("ip", "netns", "exec", lab.topo.server, "nft", "flush", "ruleset")
    assert not lab.nft_has(lab.topo.client_ip)
    wait_until("the agent re-applying from its cache", lambda: lab.nft_has(lab.topo.client_ip))
    ok, err = lab.ssh(key)
    assert ok, err

    # The agent stops too: only the kernel's element timeout is left to close it.
    lab._stop("agent")
    remaining = g["expires_at_ms"] / 1000.0 - time.time()
    assert remaining > 0, "the grant expired before the test got here: %s" % g
    time.sleep(max(0.0, remaining) + 1.0)
    assert not lab.nft_has(lab.topo.client_ip)
    ok, err = lab.ssh(key)
    assert not ok, "still logged in after the grant's expiry"


def test_key_removed_from_git_stops_working(lab):
    key = lab.keygen.root / "alice"
    lab.grant(lab.topo.client_ip, "10m")
    wait_until("nftables holding the client", lambda: lab.nft_has(lab.topo.client_ip))
    wait_until("alice's key on the host", lambda: lab.alice_key.split()[1] in run_cli(
        ["keys", "authorized-keys", "-c", str(lab.agent_config), "root"]).stdout)
    ok, err = lab.ssh(key)
    assert ok, err + lab.log("sshd")

    lab.repo.remove("keys/alice.pub")
    lab.repo.push("alice's key revoked")
    r = run_cli(["keys", "sync", "-c", str(lab.config)])
    assert r.code == 0, r
    wait_until("the key gone from the host", lambda: run_cli(
        ["keys", "authorized-keys", "-c", str(lab.agent_config), "root"]).stdout.strip() == "")
    ok, err = lab.ssh(key)
    assert not ok and "Permission denied" in err, err


def test_certificate_only_from_its_address_and_until_the_grant_ends(lab):
    second = lab.topo.client_ip.rsplit(".", 1)[0] + ".3"
    net = lab.topo.client_ip.rsplit(".", 1)[0] + ".0/24"
    lab.add_client_address(second)
    # A key that is not in git: only a certificate lets it in.
    lab.keygen.make("laptop")
    key = lab.keygen.root / "laptop"
    ok, _ = lab.ssh(key)
    assert not ok

    short = lab.grant(net, "30s")        # the whole lab network, briefly
    mine = lab.grant(lab.topo.client_ip, "10m")  # .2 only, for longer
    lab.grant(second, "10m")             # .3 reaches sshd too

    def certify(grant, name):
        code, reply = lab.api("POST", "/api/v1/breakglass/%d/certificate" % grant["id"],
                              {"public_key": (lab.keygen.root / "laptop.pub").read_text()},
                              token=lab.alice)
        assert code == 201, reply
        path = lab.tmp / name
        path.write_text(reply["certificate"] + "\n")
        return path

    for g in (short, mine):
        wait_until("grant %d applied" % g["id"], lambda g=g: lab.agent_has("grant:%d" % g["id"]))
    wait_until("nftables holding .3", lambda: lab.nft_has(second))

    cert_mine = certify(mine, "mine-cert.pub")
    ok, err = lab.ssh(key, source=lab.topo.client_ip, cert=cert_mine)
    assert ok, err + lab.log("sshd")
    ok, err = lab.ssh(key, source=second, cert=cert_mine)  # the firewall lets .3 in
    assert not ok and "Permission denied" in err, err

    cert_short = certify(short, "short-cert.pub")
    ok, err = lab.ssh(key, source=second, cert=cert_short)
    assert ok, err + lab.log("sshd")
    remaining = short["expires_at_ms"] / 1000.0 - time.time()
    time.sleep(max(0.0, remaining) + 1.5)
    # .3 still reaches sshd (its own grant); the certificate has expired.
    ok, err = lab.ssh(key, source=second, cert=cert_short)
    assert not ok and "Permission denied" in err, err

    # Revoking the grant revokes its certificate (the KRL the agent installs).
    ok, err = lab.ssh(key, source=lab.topo.client_ip, cert=cert_mine)
    assert ok, err
    code, reply = lab.api("POST", "/api/v1/breakglass/%d/revoke" % mine["id"], {},
                          token=lab.alice)
    assert code == 200 and reply["state"] == "revoked", reply
    lab.grant(lab.topo.client_ip, "10m")  # the firewall stays open for .2
    wait_until("the KRL on the host",
               lambda: subprocess.run(["ssh-keygen", "-Q", "-f", str(lab.tmp / "revoked_keys"),
                                       str(cert_mine)], capture_output=True).returncode != 0)
    ok, err = lab.ssh(key, source=lab.topo.client_ip, cert=cert_mine)
    assert not ok, "a revoked grant's certificate still logs in"
