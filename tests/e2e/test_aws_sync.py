"""The AWS security group follows the grants (src/access/aws_sync.c): with
enforcers.aws configured, `opsbell serve` opens an inbound rule for each grant
of the configured host group, closes it when the grant is revoked, never
touches rules that are not its own (nor an operator's `enforce aws` rules),
sweeps expired opsbell rules at start-up, and reports a full group (the
rules quota) in its log.  Against tests/e2e/ec2_standin.py, which checks
every request's SigV4 signature."""

import re
import time

import pytest

from e2e_support import wait_for
from ec2_standin import Standin

KEY = "AKIAOPSBELLTEST0002"
SECRET = "sekrit/AWS+sync-KEY-0123456789abcdef"
GROUP = "sg-0123456789abcdef0"
REGION = "eu-central-1"
SYNC_WAIT = 45  # seconds: a sync runs every 15 s

USERS = """\
users:
  - name: alice
    contact_methods:
      - {type: email, address: alice@example.com}
  - name: bob
    contact_methods:
      - {type: email, address: bob@example.com}
"""

ALPHA = """\
team:
  members: [alice, bob]
  breakglass:
    self_approve: [members]
    max_duration: 2h
host_groups:
  - name: alpha-web
    hosts: [web1, web2]
  - name: alpha-db
    hosts: [db1]
"""


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


class Site:
    def __init__(self, env, ec2):
        self.env = env
        self.ec2 = ec2
        env.write("users.yaml", USERS)
        (env.dir / "teams" / "alpha" / "team.yaml").unlink()
        (env.dir / "teams" / "beta" / "team.yaml").unlink()
        env.write("teams/alpha/team.yaml", ALPHA)
        env.env_vars["OB_TEST_AWS_SECRET"] = SECRET
        env.extra_main = ("enforcers:\n"
                          "  aws:\n"
                          "    region: %s\n"
                          "    security_group_id: %s\n"
                          "    endpoint: %s\n"
                          "    access_key_id: %s\n"
                          "    secret_access_key: env:OB_TEST_AWS_SECRET\n"
                          "    port: 22\n"
                          "    sweep_interval: 10m\n"
                          "    host_group: alpha-web\n" % (REGION, GROUP, ec2.endpoint, KEY))
        env.write_main()
        r = env.local("token", "create", "--name", "alice", "--scope", "write", "--user", "alice",
                      "--json")
        assert r.code == 0, r
        self.token = r.json()["token"]
        self.d = None

    def start(self):
        self.d = self.env.daemon()
        return self

    def cli(self, *args):
        return self.env.cli(*args, url=self.d.url, token=self.token)

    def grant(self, host, ip, duration="30m"):
        r = self.cli("breakglass", "request", "--host", host, "--for", duration, "--reason",
                     "e2e", "--ip", ip, "--json")
        assert r.code == 0, r
        return r.json()

    def rules_for(self, cidr):
        return [r for r in self.ec2.ingress(GROUP) if r["cidr"] == cidr]


@pytest.fixture
def ec2():
    s = Standin(KEY, SECRET, region=REGION, groups=(GROUP,))
    yield s
    s.close()


def test_grants_open_and_close_rules_and_leave_others_alone(env, ec2):
    site = Site(env, ec2)
    later = rfc3339(int(time.time() * 1000) + 3600 * 1000)
    foreign = ec2.add_rule(GROUP, "10.9.9.9/32", "office VPN")
    operator = ec2.add_rule(GROUP, "10.8.8.8/32", "opsbell cli:10.8.8.8/32 until %s" % later)
    stale = ec2.add_rule(GROUP, "10.7.7.7/32", "opsbell grant:999 until 2020-01-01T00:00:00Z")
    site.start()
    # Expired opsbell rules close at start-up (the sweeper; the sync too).
    wait_for(lambda: not site.rules_for("10.7.7.7/32"), SYNC_WAIT, "the stale rule to close")

    other = site.grant("db1", "203.0.113.20")  # not in the group this security group guards
    g = site.grant("web1", "198.51.100.7")
    assert g["state"] == "active"
    want = "opsbell grant:%d until %s" % (g["id"], rfc3339(g["expires_at_ms"]))
    rule = wait_for(lambda: site.rules_for("198.51.100.7/32"), SYNC_WAIT,
                    "the grant's rule")[0]
    assert rule["description"] == want
    assert (rule["proto"], rule["from"], rule["to"]) == ("tcp", 22, 22)
    d = site.d
    d.wait_for_log(r"subsystem=aws .*msg=\"rule authorized\" .*entry=grant:%d " % g["id"])
    # The run that opened it saw the other grant too, and left it out.
    assert site.rules_for("203.0.113.20/32") == []
    assert other["state"] == "active"

    r = site.cli("breakglass", "revoke", str(g["id"]))
    assert r.code == 0, r
    wait_for(lambda: not site.rules_for("198.51.100.7/32"), SYNC_WAIT,
             "the revoked grant's rule to close")
    d.wait_for_log(r"subsystem=aws .*rule revoked.* rule=%s" % rule["id"])

    left = {r["id"]: r for r in ec2.ingress(GROUP)}
    assert set(left) == {foreign, operator}, left
    assert left[foreign]["description"] == "office VPN"
    assert left[operator]["description"] == "opsbell cli:10.8.8.8/32 until %s" % later
    revoked = [r for r in ec2.requests if r[0] == "RevokeSecurityGroupIngress"]
    assert all(foreign not in str(r[2]) and operator not in str(r[2]) for r in revoked)
    assert d.stop() == 0


def test_an_address_already_open_by_someone_else_is_left_as_it_is(env, ec2):
    site = Site(env, ec2)
    foreign = ec2.add_rule(GROUP, "198.51.100.8/32", "bastion")
    site.start()
    g = site.grant("web2", "198.51.100.8")
    marker = site.grant("web1", "198.51.100.9")
    wait_for(lambda: site.rules_for("198.51.100.9/32"), SYNC_WAIT, "the second grant's rule")
    rules = site.rules_for("198.51.100.8/32")
    assert [(r["id"], r["description"]) for r in rules] == [(foreign, "bastion")]
    assert g["state"] == "active" and marker["state"] == "active"


def test_a_full_group_is_reported_and_retried(env):
    ec2 = Standin(KEY, SECRET, region=REGION, groups=(GROUP,), quota=3)
    try:
        site = Site(env, ec2)
        fillers = [ec2.add_rule(GROUP, "10.1.0.%d/32" % i, "other %d" % i) for i in range(3)]
        site.start()
        g = site.grant("web1", "198.51.100.7")
        lines = site.d.wait_for_log(r"level=error subsystem=aws .*quota", timeout=SYNC_WAIT)
        line = lines[0]
        assert "entry=grant:%d" % g["id"] in line, line
        assert "RulesPerSecurityGroupLimitExceeded" in line and GROUP in line, line
        assert site.rules_for("198.51.100.7/32") == []
        assert len(ec2.ingress(GROUP)) == 3
        assert SECRET not in site.d.log_text()

        # Room again: the next run opens it.
        with ec2.lock:
            ec2.groups[GROUP] = [r for r in ec2.groups[GROUP] if r["id"] != fillers[0]]
        rule = wait_for(lambda: site.rules_for("198.51.100.7/32"), SYNC_WAIT,
                        "the grant's rule once there is room")[0]
        assert re.fullmatch(r"opsbell grant:%d until \S+Z" % g["id"], rule["description"])
    finally:
        ec2.close()
