"""The AWS security-group enforcer (`opsbell enforce aws ...`) against a local
EC2 stand-in that verifies Signature Version 4 and speaks EC2's XML: rules
opened with an expiring description, duplicates, listing, the sweeper, the
rules quota, bad credentials, throttling and session tokens."""

import calendar
import time

import pytest

from ec2_standin import Standin, sigv4_signature

KEY = "AKIAOPSBELLTEST0001"
SECRET = "sekrit/AWS+secret-KEY-0123456789abcdef"
TOKEN = "FwoGZXIvYXdzEXAMPLE//sekrit-session-token=="
GROUP = "sg-0123456789abcdef0"
REGION = "eu-central-1"


def enforcer_yaml(endpoint, token=False, group=GROUP):
    text = ("enforcers:\n"
            "  aws:\n"
            "    region: %s\n"
            "    security_group_id: %s\n"
            "    endpoint: %s\n"
            "    access_key_id: %s\n"
            "    secret_access_key: env:OB_TEST_AWS_SECRET\n"
            "    port: 22\n"
            "    sweep_interval: 5m\n" % (REGION, group, endpoint, KEY))
    if token:
        text += "    session_token: file:aws-token\n"
    return text


@pytest.fixture
def ec2():
    s = Standin(KEY, SECRET, region=REGION, groups=(GROUP,))
    yield s
    s.close()


def configure(env, ec2, secret=SECRET, token=False, group=GROUP):
    env.env_vars["OB_TEST_AWS_SECRET"] = secret
    env.extra_main = enforcer_yaml(ec2.endpoint, token=token, group=group)
    if token:
        env.write("aws-token", TOKEN + "\n")
    env.write_main()


def aws(env, *args):
    return env.local("enforce", "aws", *args)


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def assert_no_secret(res):
    for text in (res.stdout, res.stderr):
        assert SECRET not in text and TOKEN not in text


def test_standin_verifies_documented_sigv4_vector():
    """The stand-in's verifier reproduces AWS's get-vanilla test vector, so it
    checks real SigV4 signatures, not just opsbell's own idea of them."""
    _, sts, sig = sigv4_signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "GET", "/", "",
        [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
        ["host", "x-amz-date"], b"", "20150830T123600Z", "us-east-1", "service")
    assert sig == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    _, _, sig = sigv4_signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "POST", "/", "",
        [("Content-Type", "application/x-www-form-urlencoded"),
         ("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
        ["content-type", "host", "x-amz-date"], b"Param1=value1", "20150830T123600Z",
        "us-east-1", "service")
    assert sig == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"


def test_authorize_duplicate_list(env, ec2):
    configure(env, ec2)
    before = int(time.time())
    res = aws(env, "authorize", "203.0.113.7", "--for", "30m", "--id", "grant:42")
    after = int(time.time())
    assert res.code == 0, res
    assert "authorized 203.0.113.7/32 on tcp/22 of %s" % GROUP in res.stdout
    rules = ec2.ingress(GROUP)
    assert len(rules) == 1
    r = rules[0]
    assert (r["cidr"], r["proto"], r["from"], r["to"]) == ("203.0.113.7/32", "tcp", 22, 22)
    assert r["description"] in ["opsbell grant:42 until %s" % rfc3339(t + 1800)
                                for t in range(before, after + 1)]
    assert r["id"] in res.stdout

    # Again (for less time, so that the rule's expiry, already later, is
    # left as it is whatever second this runs in): EC2 says
    # InvalidPermission.Duplicate; that is success, one rule stays.
    res = aws(env, "authorize", "203.0.113.7/32", "--for", "20m", "--id", "grant:42")
    assert res.code == 0, res
    assert res.stdout.startswith("already open: 203.0.113.7/32")
    assert len(ec2.ingress(GROUP)) == 1
    assert [r[4] for r in ec2.requests if r[0] == "AuthorizeSecurityGroupIngress"] == \
        [None, "InvalidPermission.Duplicate"]

    # IPv6 goes into Ipv6Ranges.
    res = aws(env, "authorize", "2001:DB8::1", "--for", "1h")
    assert res.code == 0, res
    v6 = [x for x in ec2.ingress(GROUP) if x["v6"]]
    assert [x["cidr"] for x in v6] == ["2001:db8::1/128"]
    assert v6[0]["description"].startswith("opsbell cli:2001:db8::1/128 until ")

    res = aws(env, "list", "--json")
    assert res.code == 0, res
    rows = res.json()
    assert {x["cidr"] for x in rows} == {"203.0.113.7/32", "2001:db8::1/128"}  # no egress rule
    g42 = [x for x in rows if x["cidr"] == "203.0.113.7/32"][0]
    assert g42["rule_id"] == r["id"] and g42["opsbell"] is True
    assert g42["description"] == r["description"]
    assert g42["expires_at"] == r["description"].split(" until ")[1]
    res = aws(env, "list")
    assert res.code == 0 and r["id"] in res.stdout and "tcp/22" in res.stdout
    assert_no_secret(res)


def test_sweep_revokes_only_expired_opsbell_rules(env, ec2):
    configure(env, ec2)
    now = int(time.time())
    expired = ec2.add_rule(GROUP, "198.51.100.1/32", "opsbell grant:1 until %s" % rfc3339(now - 60))
    expired6 = ec2.add_rule(GROUP, "2001:db8::5/128",
                            "opsbell allow:bob:2001:db8::5 until %s" % rfc3339(now - 1))
    live = ec2.add_rule(GROUP, "198.51.100.2/32", "opsbell grant:2 until %s" % rfc3339(now + 3600))
    foreign = ec2.add_rule(GROUP, "192.0.2.0/24", "office VPN")
    lookalike = ec2.add_rule(GROUP, "192.0.2.9/32", "opsbellish until 2001-01-01T00:00:00Z")
    nodesc = ec2.add_rule(GROUP, "192.0.2.10/32", "")
    res = aws(env, "sweep")
    assert res.code == 0, res
    assert "2 expired opsbell rules revoked" in res.stdout
    left = {r["id"] for r in ec2.ingress(GROUP)}
    assert left == {live, foreign, lookalike, nodesc}
    assert expired not in left and expired6 not in left
    # Nothing left to sweep.
    res = aws(env, "sweep")
    assert res.code == 0 and "0 expired opsbell rules revoked" in res.stdout


def test_list_follows_next_token(env, ec2):
    ec2.page_size = 3
    configure(env, ec2)
    for i in range(7):
        ec2.add_rule(GROUP, "10.0.0.%d/32" % i, "r%d" % i)
    res = aws(env, "list", "--json")
    assert res.code == 0, res
    assert sorted(x["description"] for x in res.json()) == ["r%d" % i for i in range(7)]
    assert ec2.actions().count("DescribeSecurityGroupRules") == 3  # 8 rules, 3 per page


def test_rules_quota_reported(env, ec2):
    configure(env, ec2)
    for i in range(59):
        ec2.add_rule(GROUP, "10.1.0.%d/32" % i, "other %d" % i)
    res = aws(env, "authorize", "203.0.113.60", "--for", "5m")
    assert res.code == 0, res
    res = aws(env, "authorize", "203.0.113.61", "--for", "5m")
    assert res.code == 1
    assert res.stdout == ""
    line = res.stderr.strip()
    assert "\n" not in line
    assert "RulesPerSecurityGroupLimitExceeded" in line and GROUP in line and "60" in line
    assert len(ec2.ingress(GROUP)) == 60


def test_wrong_secret_is_auth_failure(env, ec2):
    configure(env, ec2, secret="not-the-right-secret-0000000000000000")
    res = aws(env, "authorize", "203.0.113.7", "--for", "30m")
    assert res.code == 1
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("opsbell: ")
    assert "AuthFailure" in line and "HTTP 401" in line
    assert "not-the-right-secret" not in res.stderr + res.stdout
    assert ec2.ingress(GROUP) == []
    # The stand-in did refuse on the signature, not on anything else.
    assert ec2.requests[-1][3] == 401


def test_throttling_reported(env, ec2):
    configure(env, ec2)
    ec2.throttle(1)
    res = aws(env, "sweep")
    assert res.code == 1
    assert "RequestLimitExceeded" in res.stderr and "HTTP 503" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    # The next call goes through.
    res = aws(env, "sweep")
    assert res.code == 0, res


def test_unknown_group_and_rule(env, ec2):
    configure(env, ec2, group="sg-0fffffffffffffff0")
    res = aws(env, "authorize", "203.0.113.7", "--for", "30m")
    assert res.code == 1 and "InvalidGroup.NotFound" in res.stderr
    configure(env, ec2)
    res = aws(env, "revoke", "sgr-0123456789abcdef0")
    assert res.code == 1 and "InvalidSecurityGroupRuleId.NotFound" in res.stderr
    rid = ec2.add_rule(GROUP, "10.9.9.9/32", "x")
    res = aws(env, "revoke", rid)
    assert res.code == 0 and res.stdout.strip() == "revoked %s" % rid
    assert ec2.ingress(GROUP) == []


def test_session_token_sent_and_checked(env, ec2):
    ec2.session_token = TOKEN
    configure(env, ec2)  # no session_token configured: refused
    res = aws(env, "list")
    assert res.code == 1 and "AuthFailure" in res.stderr
    configure(env, ec2, token=True)
    res = aws(env, "authorize", "203.0.113.9", "--for", "10m")
    assert res.code == 0, res
    hdrs = ec2.requests[-1][1]
    assert hdrs["x-amz-security-token"] == TOKEN
    assert "x-amz-security-token" in hdrs["authorization"]  # signed, too
    assert_no_secret(res)
    # A token with a line break would smuggle a header in: refused before any request.
    sent = len(ec2.requests)
    env.write("aws-token", TOKEN + "\nX-Evil: 1\n")
    res = aws(env, "list")
    assert res.code == 1 and "printable ASCII" in res.stderr, res
    assert "X-Evil" not in res.stderr and TOKEN not in res.stderr
    assert len(ec2.requests) == sent


def test_bad_input_refused_before_any_call(env, ec2):
    configure(env, ec2)
    for args, why in ((["authorize", "0.0.0.0/0", "--for", "5m"], "every address"),
                      (["authorize", "::/0", "--for", "5m"], "every address"),
                      (["authorize", "example.com", "--for", "5m"], "not an IP"),
                      (["authorize", "10.0.0.1", "--for", "5m", "--id", "has space"],
                       "description"),
                      (["revoke", "rule-1"], "sgr-")):
        res = aws(env, *args)
        assert res.code == 1, res
        assert why in res.stderr
    res = aws(env, "authorize", "10.0.0.1")
    assert res.code == 2 and "--for" in res.stderr
    res = aws(env, "authorize", "10.0.0.1", "--for", "forever")
    assert res.code == 2
    assert ec2.requests == []


def test_config_errors_have_positions(env, ec2):
    env.env_vars["OB_TEST_AWS_SECRET"] = SECRET
    env.extra_main = ("enforcers:\n"
                      "  aws:\n"
                      "    region: Mars\n"
                      "    security_group_id: group-1\n"
                      "    access_key_id: akia\n"
                      "    secret_access_key: inline-secret\n"
                      "    port: 70000\n"
                      "    sweep_interval: 1s\n")
    env.write_main()
    res = env.local("check-config")
    assert res.code == 1
    text = res.stderr
    lines = env.read("opsbell.yaml").splitlines()
    for key, why in (("region", "region"), ("security_group_id", "sg-"),
                     ("access_key_id", "access_key_id"),
                     ("secret_access_key", "env:NAME or file:PATH"), ("port", "65535"),
                     ("sweep_interval", "10s")):
        line_no = [i + 1 for i, l in enumerate(lines) if l.strip().startswith(key + ":")][0]
        assert any(":%d:" % line_no in d and why in d for d in text.splitlines()), (key, text)
    assert "inline-secret" not in text
    # Without the section the commands say so.
    env.extra_main = ""
    env.write_main()
    res = aws(env, "list")
    assert res.code == 1 and "no enforcers.aws section" in res.stderr


def test_expiry_of_description_is_utc_rfc3339(env, ec2):
    configure(env, ec2)
    res = aws(env, "authorize", "192.0.2.77", "--for", "2h", "--id", "allow:alice:192.0.2.77")
    assert res.code == 0, res
    desc = ec2.ingress(GROUP)[0]["description"]
    until = desc.split(" until ")[1]
    epoch = calendar.timegm(time.strptime(until, "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(epoch - (time.time() + 7200)) < 120


def test_duplicate_extends_only_opsbell_rules_and_never_shortens(env, ec2):
    configure(env, ec2)
    now = int(time.time())
    soon = "opsbell grant:7 until %s" % rfc3339(now + 60)
    rid = ec2.add_rule(GROUP, "203.0.113.7/32", soon)
    # A later expiry for the same address moves the rule's expiry.
    res = aws(env, "authorize", "203.0.113.7", "--for", "1h", "--id", "grant:8")
    assert res.code == 0, res
    assert res.stdout.startswith("already open, expiry extended: 203.0.113.7/32")
    rules = ec2.ingress(GROUP)
    assert [r["id"] for r in rules] == [rid]
    assert rules[0]["description"].startswith("opsbell grant:8 until ")
    extended = rules[0]["description"]
    # An earlier one leaves it alone (and says until when it really is open).
    res = aws(env, "authorize", "203.0.113.7", "--for", "5m", "--id", "grant:9")
    assert res.code == 0 and res.stdout.startswith("already open: "), res
    assert "until %s " % extended.split(" until ")[1] in res.stdout
    assert ec2.ingress(GROUP)[0]["description"] == extended
    # Somebody else's rule for the address is never taken over.
    other = ec2.add_rule(GROUP, "198.51.100.9/32", "bastion of the night shift")
    res = aws(env, "authorize", "198.51.100.9", "--for", "5m")
    assert res.code == 0 and "not opsbell's" in res.stdout and "no expiry" in res.stdout, res
    assert [r["description"] for r in ec2.ingress(GROUP) if r["id"] == other] == \
        ["bastion of the night shift"]
    assert "UpdateSecurityGroupRuleDescriptionsIngress" in ec2.actions()


def test_sweeper_runs_at_start_and_periodically(env, ec2):
    """`sweep --every` sweeps at once (what expired while nobody ran), then
    again on its interval (what expires later), until SIGTERM."""
    import signal
    import subprocess

    from e2e_support import assert_no_sanitizer_report, base_env, opsbell_bin, wait_for

    configure(env, ec2)
    now = int(time.time())
    old = ec2.add_rule(GROUP, "198.51.100.1/32", "opsbell grant:1 until %s" % rfc3339(now - 600))
    keep = ec2.add_rule(GROUP, "192.0.2.0/24", "office VPN")
    log = open(env.dir / "sweeper.log", "wb")
    proc = subprocess.Popen([opsbell_bin(), "enforce", "aws", "sweep", "--every", "1s", "-c",
                             str(env.config_path)], env=base_env(env.env_vars), stdout=log,
                            stderr=subprocess.STDOUT, cwd=str(env.dir))
    try:
        wait_for(lambda: old not in {r["id"] for r in ec2.ingress(GROUP)}, 10,
                 "the start-up sweep")
        # A rule that expires while the sweeper runs is closed by a later sweep.
        later = ec2.add_rule(GROUP, "198.51.100.2/32",
                             "opsbell grant:2 until %s" % rfc3339(int(time.time()) - 1))
        wait_for(lambda: later not in {r["id"] for r in ec2.ingress(GROUP)}, 10,
                 "a periodic sweep")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        log.close()
    text = (env.dir / "sweeper.log").read_text()
    assert_no_sanitizer_report(text, "the sweeper's output")
    assert code == 0, text
    assert {r["id"] for r in ec2.ingress(GROUP)} == {keep}
    assert "expired rules revoked" in text and "sweeper stopped" in text
    assert SECRET not in text


@pytest.mark.parametrize("kind,why", [("html500", "HTTP 500 without an EC2 error document"),
                                      ("truncated", "not well-formed XML"),
                                      ("huge", "larger than 1048576 bytes"),
                                      ("dtd", "HTTP 400 without an EC2 error document")])
def test_garbage_answers_are_one_clear_line(env, ec2, kind, why):
    configure(env, ec2)
    ec2.corrupt(kind)
    res = aws(env, "list")
    assert res.code == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and why in lines[0], res
    assert res.stdout == ""
    res = aws(env, "list")  # the next answer is fine again
    assert res.code == 0, res
