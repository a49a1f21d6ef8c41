"""The nftables enforcer against the real kernel, in network namespaces
(tests/e2e/netns_support.py): `opsbell enforce nft apply|list|flush` runs in
the "server" namespace, a stand-in for sshd listens on port 22 there, and the
"client" namespace connects to it.

Shown: closed before any entry; open for the client's address once applied;
closed again when the kernel's timeout ends with no opsbell process running;
`nft flush ruleset` then apply restores everything; unlisted entries go and
changed expiries are replaced; too-wide CIDRs and garbage are refused without
touching what is in force; IPv6; not root; the configuration section.
"""

import json
import os
import subprocess
import time

import pytest

from e2e_support import opsbell_bin, assert_no_sanitizer_report, diag_lines
from netns_support import Topology, sh


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture
def topo():
    if os.geteuid() != 0:
        pytest.fail("the nftables tests need root (network namespaces); CI runs them as root")
    t = Topology()
    try:
        t.start_listener()
        yield t
    finally:
        t.close()


class Run:
    def __init__(self, p):
        self.code = p.returncode
        self.stdout = p.stdout.decode(errors="replace")
        self.stderr = p.stderr.decode(errors="replace")
        assert_no_sanitizer_report(self.stderr, "opsbell enforce nft")

    def __repr__(self):
        return "Run(code=%d, stdout=%r, stderr=%r)" % (self.code, self.stdout, self.stderr)


def opsbell(topo, *args, entries=None, tmp=None, config=None):
    """Run `opsbell enforce nft ARGS` in the server namespace."""
    argv = ["ip", "netns", "exec", topo.server, opsbell_bin(), "enforce", "nft"]
    if config is not None:
        argv += ["-c", str(config)]
    argv += list(args)
    data = None
    if entries is not None:
        argv.append("-")
        data = json.dumps(entries).encode()
    p = subprocess.run(argv, capture_output=True, input=data, timeout=30)
    return Run(p)


def apply_ok(topo, entries, **kw):
    r = opsbell(topo, "apply", entries=entries, **kw)
    assert r.code == 0, r
    assert r.stderr == "", r
    return r


def listed(topo):
    r = opsbell(topo, "list", "--json")
    assert r.code == 0, r
    return json.loads(r.stdout)


def kernel_elements(topo, setname="host4"):
    p = topo.in_server("nft", "-j", "list", "set", "inet", "opsbell", setname, check=False)
    if p.returncode != 0:
        return None
    elems = []
    for item in json.loads(p.stdout)["nftables"]:
        if "set" in item:
            elems += item["set"].get("elem", [])
    return elems


def entry(id_, cidr, seconds):
    return {"id": id_, "cidr": cidr, "expires_at": now_ms() + int(seconds * 1000)}


def test_grant_opens_and_the_kernel_closes_it_without_opsbell(topo):
    # Without opsbell's table the stand-in answers: the probe itself works.
    assert topo.probe() == "open"
    apply_ok(topo, [])
    assert topo.probe() == "dropped", "closed by default once the table exists"

    apply_ok(topo, [entry("grant:1", topo.client_ip, 3)])
    assert topo.probe() == "open"
    got = listed(topo)
    assert [(e["id"], e["cidr"]) for e in got] == [("grant:1", topo.client_ip + "/32")]

    # No opsbell process is running now (every CLI call has exited and none
    # is started below): only the kernel's element timeout can close it.
    assert topo.wait_probe("dropped", limit=15.0) == "dropped"
    assert kernel_elements(topo) == [], "the kernel removed the element"
    assert listed(topo) == []


def test_flush_ruleset_then_apply_restores_everything(topo):
    entries = [entry("grant:7", topo.client_ip, 120), entry("allow:team", "198.51.100.0/24", 120)]
    apply_ok(topo, entries)
    assert topo.probe() == "open"
    topo.in_server("nft", "flush", "ruleset")
    assert kernel_elements(topo) is None, "the table is gone"

    apply_ok(topo, entries)
    table = topo.in_server("nft", "list", "table", "inet", "opsbell").stdout.decode()
    for needle in ("set host4", "set host6", "set allow4", "set allow6", "flags interval,timeout",
                   "hook input priority filter - 1", "tcp dport 22 ip saddr @host4 accept",
                   "tcp dport 22 ip6 saddr @host6 accept", "tcp dport 22 ip saddr @allow4 accept",
                   "tcp dport 22 ip6 saddr @allow6 accept", "tcp dport 22 drop"):
        assert needle in table, (needle, table)
    assert sorted(e["id"] for e in listed(topo)) == ["allow:team", "grant:7"]
    assert topo.probe() == "open"
    # The drop rule is back too: without the client's entry it is closed.
    apply_ok(topo, entries[1:])
    assert topo.probe() == "dropped"


def test_exactly_the_listed_entries_are_enforced(topo):
    a = entry("grant:1", topo.client_ip, 120)
    b = entry("allow:bob", "198.51.100.7", 120)
    c = entry("allow:carol", "2001:db8::5", 120)
    apply_ok(topo, [a, b, c])
    assert sorted(e["id"] for e in listed(topo)) == ["allow:bob", "allow:carol", "grant:1"]
    assert topo.probe() == "open"

    # a is gone; b's expiry changed (replaced: delete then add); c unchanged.
    b2 = dict(b, expires_at=b["expires_at"] + 600000)
    apply_ok(topo, [b2, c])
    got = {e["id"]: e for e in listed(topo)}
    assert sorted(got) == ["allow:bob", "allow:carol"]
    assert got["allow:bob"]["expires_at"] == b2["expires_at"]
    assert got["allow:carol"]["expires_at"] == c["expires_at"]
    timeouts = [e["elem"]["timeout"] for e in kernel_elements(topo)]
    assert timeouts and min(timeouts) > 600, "the kernel timeout is the new remaining time"
    assert topo.probe() == "dropped"

    # Applying the same state again changes nothing and succeeds.
    apply_ok(topo, [b2, c])
    assert sorted(e["id"] for e in listed(topo)) == ["allow:bob", "allow:carol"]

    # Entries already expired are not added.
    apply_ok(topo, [b2, entry("grant:old", topo.client_ip, -5)])
    assert [e["id"] for e in listed(topo)] == ["allow:bob"]
    assert topo.probe() == "dropped"

    apply_ok(topo, [])
    assert listed(topo) == []


def test_overlapping_entries_each_keep_their_own_expiry(topo):
    # The client's /32 outlives the /24 around it: both are enforced (the
    # /24 as the pieces around the /32) and the client stays in after the
    # /24 has expired.
    subnet = topo.client_ip.rsplit(".", 1)[0] + ".0/24"
    apply_ok(topo, [entry("allow:office", subnet, 2), entry("grant:9", topo.client_ip, 120)])
    got = listed(topo)
    assert {e["id"] for e in got} == {"allow:office", "grant:9"}
    assert len([e for e in got if e["id"] == "allow:office"]) == 8
    assert topo.probe() == "open"
    deadline = time.monotonic() + 15
    while any(e["id"] == "allow:office" for e in listed(topo)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [e["id"] for e in listed(topo)] == ["grant:9"]
    assert topo.probe() == "open"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.0.0.0/8", "192.0.2.0/23",
                                  "2001:db8::/32"])
def test_too_wide_cidrs_are_refused_and_nothing_changes(topo, cidr):
    apply_ok(topo, [entry("grant:1", topo.client_ip, 120)])
    r = opsbell(topo, "apply", entries=[entry("grant:2", "203.0.113.9", 60),
                                        entry("grant:wide", cidr, 60)])
    assert r.code == 1, r
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r
    assert "too wide" in r.stderr and "grant:wide" in r.stderr, r
    assert [e["id"] for e in listed(topo)] == ["grant:1"], "never half-applied"
    assert topo.probe() == "open"


def test_garbage_is_refused(topo, tmp_path):
    apply_ok(topo, [])
    for bad in ([{"id": "g", "cidr": "10.0.0.300", "expires_at": now_ms() + 1000}],
                [{"id": "g; flush ruleset", "cidr": "10.0.0.3", "expires_at": now_ms() + 1000}],
                [{"id": "g", "cidr": "10.0.0.3"}],
                {"id": "g"}):
        r = opsbell(topo, "apply", entries=bad)
        assert r.code == 1 and len(r.stderr.splitlines()) == 1, (bad, r)
    f = tmp_path / "broken.json"
    f.write_text("[{")
    r = opsbell(topo, "apply", str(f))
    assert r.code == 1 and r.stderr.startswith("opsbell: %s: not JSON" % f), r
    r = opsbell(topo, "apply", str(tmp_path / "missing.json"))
    assert r.code == 1 and r.stderr.endswith(": No such file or directory\n"), r
    assert listed(topo) == []


def test_configured_prefix_limits_port_and_table(topo, tmp_path):
    cfg = tmp_path / "opsbell.yaml"
    cfg.write_text("storage: sqlite:%s\nenforcers:\n  nftables:\n    table: obtest\n"
                   "    port: 2222\n    max_prefix_v4: 8\n" % (tmp_path / "db.sqlite"))
    apply_ok(topo, [entry("allow:lab", "10.0.0.0/8", 60)], config=cfg)
    table = topo.in_server("nft", "list", "table", "inet", "obtest").stdout.decode()
    assert "tcp dport 2222 ip saddr @allow4 accept" in table and "10.0.0.0/8" in table, table
    assert kernel_elements(topo) is None, "the default table was never made"
    r = opsbell(topo, "apply", entries=[entry("x", "0.0.0.0/0", 60)], config=cfg)
    assert r.code == 1 and "too wide" in r.stderr, r
    assert opsbell(topo, "flush", config=cfg).code == 0
    p = topo.in_server("nft", "list", "table", "inet", "obtest", check=False)
    assert p.returncode != 0


def test_ipv6(topo):
    apply_ok(topo, [])
    assert topo.probe(v6=True) == "dropped"
    apply_ok(topo, [entry("grant:6", topo.client_ip6, 120)])
    assert topo.probe(v6=True) == "open"
    assert topo.probe(v6=False) == "dropped"
    got = listed(topo)
    assert [(e["id"], e["cidr"]) for e in got] == [("grant:6", topo.client_ip6 + "/128")]
    assert [e["elem"]["val"] for e in kernel_elements(topo, "host6")] == [topo.client_ip6]


def test_flush_removes_only_opsbells_table(topo):
    topo.in_server("nft", "add table inet other; add chain inet other c; "
                   "add rule inet other c tcp dport 80 accept")
    apply_ok(topo, [entry("grant:1", topo.client_ip, 60)])
    r = opsbell(topo, "flush")
    assert r.code == 0 and r.stdout == "" and r.stderr == "", r
    ruleset = topo.in_server("nft", "list", "ruleset").stdout.decode()
    assert "table inet opsbell" not in ruleset
    assert "tcp dport 80 accept" in ruleset
    assert opsbell(topo, "flush").code == 0, "flushing nothing succeeds"
    assert opsbell(topo, "list").stdout.splitlines()[1:] == []


def test_not_root_is_one_line(tmp_path):
    for args in (["apply", "-"], ["list"], ["flush"]):
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            opsbell_bin(), "enforce", "nft"] + args,
                           capture_output=True, timeout=30, input=b"[]")
        err = p.stderr.decode()
        assert p.returncode == 1, (args, p)
        assert err == "opsbell: nftables: Operation not permitted\n", (args, err)


def test_config_errors_have_positions(tmp_path):
    cfg = tmp_path / "opsbell.yaml"
    cfg.write_text("storage: sqlite:%s\nenforcers:\n  nftables:\n    table: 'a b'\n"
                   "    port: 0\n    drop_others: maybe\n    max_prefix_v4: 33\n"
                   "    max_prefix_v6: 8\n" % (tmp_path / "db.sqlite"))
    p = subprocess.run([opsbell_bin(), "check-config", str(cfg)], capture_output=True, timeout=30)
    assert p.returncode == 1
    lines = diag_lines(p.stderr.decode())
    where = [(int(m.group("line")), int(m.group("col"))) for m in lines]
    assert where == [(4, 12), (5, 11), (6, 18), (7, 20), (8, 20)], p.stderr


def test_many_changes_at_once(topo):
    # More than 32 deletes in a set take the flush-and-add-back path: the
    # result is the same exact state, kept elements included.
    old = [entry("allow:old:%d" % i, "198.51.100.%d" % i, 120) for i in range(1, 61)]
    keep = entry("grant:1", topo.client_ip, 120)
    apply_ok(topo, old + [keep])
    assert len(listed(topo)) == 61
    new = [entry("allow:new:%d" % i, "203.0.113.%d" % i, 120) for i in range(1, 51)]
    new6 = [entry("allow:v6:%d" % i, "2001:db8::%x" % i, 120) for i in range(1, 41)]
    apply_ok(topo, new + new6 + [keep])
    got = listed(topo)
    assert sorted(e["id"] for e in got) == sorted(e["id"] for e in new + new6 + [keep])
    assert topo.probe() == "open"
    apply_ok(topo, new6)
    assert sorted(e["id"] for e in listed(topo)) == sorted(e["id"] for e in new6)
    assert topo.probe() == "dropped"
