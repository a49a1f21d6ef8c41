"""Configuration: check-config diagnostics (FILE:LINE:COL), reload by SIGHUP
and by the API, refusal of an invalid configuration (the old one stays)."""

import json
import time
from pathlib import Path

import pytest

from e2e_support import ALPHA_YAML, BETA_YAML, GAMMA_YAML, USERS_YAML, diag_lines, run_cli


def line_of(text, needle, nth=1):
    """1-based number of the nth line of text containing needle."""
    found = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            found += 1
            if found == nth:
                return i
    raise AssertionError("%r not in text" % needle)


def alpha_db_policy(policy):
    """ALPHA_YAML with service alpha-db naming another escalation policy."""
    old = "    description: Alpha database\n    escalation_policy: alpha-default\n"
    assert old in ALPHA_YAML
    return ALPHA_YAML.replace(old, old.replace("alpha-default", policy))


def same_file(a, b):
    return Path(a).resolve() == Path(b).resolve()


def check_fails(env, cwd=None):
    """Run check-config; it must exit 1, print nothing on stdout and only
    FILE:LINE:COL: message lines on stderr. Returns the parsed lines."""
    r = env.local("check-config")
    assert r.code == 1, r
    assert r.stdout == "", r
    diags = diag_lines(r.stderr)
    assert diags, r
    return diags


def find_diag(diags, file, line, *words):
    hits = [d for d in diags if same_file(d.group("file"), file) and int(d.group("line")) == line
            and all(w in d.group("msg") for w in words)]
    assert hits, "no diagnostic at %s:%d mentioning %r; got:\n%s" % (
        file, line, words, "\n".join(d.group(0) for d in diags))
    assert int(hits[0].group("col")) >= 1
    return hits[0]


# ---- check-config -------------------------------------------------------------


def test_check_config_accepts_the_good_configuration(env):
    r = env.local("check-config")
    assert r.code == 0, r
    assert r.stderr == ""
    assert r.stdout == "%s: ok (3 users, 2 teams)\n" % env.config_path
    r = env.local("check-config", "-q")
    assert r.code == 0 and r.stdout == "" and r.stderr == "", r
    # positional FILE and $OPSBELL_CONFIG work as well
    r = run_cli(["check-config", str(env.config_path)])
    assert r.code == 0, r
    r = run_cli(["check-config"], env={"OPSBELL_CONFIG": str(env.config_path)})
    assert r.code == 0, r
    # ./opsbell.yaml is the default in the current directory
    r = env.cli("check-config")
    assert r.code == 0 and r.stdout == "opsbell.yaml: ok (3 users, 2 teams)\n", r


def test_unknown_key_in_main_file(env):
    env.extra_main = "storage_engine: fast\n"
    env.write_main()
    diags = check_fails(env)
    text = env.read("opsbell.yaml")
    find_diag(diags, env.config_path, line_of(text, "storage_engine"), "storage_engine")
    assert len(diags) == 1


def test_unknown_key_in_nested_mapping(env):
    env.extra_main = "providers:\n  slack:\n    bot_token: env:X\n    signing_secret: env:Y\n" \
                     "    colour: blue\n"
    env.write_main()
    diags = check_fails(env)
    text = env.read("opsbell.yaml")
    find_diag(diags, env.config_path, line_of(text, "colour"), "colour")


def test_duplicate_service_name(env):
    beta = BETA_YAML.replace("services:\n", "services:\n  - name: alpha-api\n"
                             "    escalation_policy: beta-default\n", 1)
    p = env.write("teams/beta/team.yaml", beta)
    diags = check_fails(env)
    d = find_diag(diags, p, line_of(beta, "name: alpha-api"), "alpha-api")
    assert "duplicate" in d.group("msg")
    # it points at the first definition too
    assert "alpha/team.yaml:%d" % line_of(ALPHA_YAML, "name: alpha-api") in d.group("msg")


def test_dangling_escalation_policy(env):
    alpha = alpha_db_policy("no-such-policy")
    assert alpha != ALPHA_YAML
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    find_diag(diags, p, line_of(alpha, "no-such-policy"), "no-such-policy")
    assert len(diags) == 1


def test_policy_of_another_team_is_refused(env):
    alpha = alpha_db_policy("beta-default")
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    find_diag(diags, p, line_of(alpha, "escalation_policy: beta-default"), "beta-default")


def test_object_of_another_team_is_refused(env):
    alpha = ALPHA_YAML.replace("  - name: alpha-db\n", "  - name: alpha-db\n    team: beta\n")
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    d = find_diag(diags, p, line_of(alpha, "team: beta"), "beta")
    assert "alpha-db" in d.group("msg")
    assert len(diags) == 1


def test_policy_declaring_another_team_is_refused(env):
    beta = BETA_YAML.replace("  - name: beta-default\n", "  - name: beta-default\n    team: alpha\n")
    p = env.write("teams/beta/team.yaml", beta)
    diags = check_fails(env)
    find_diag(diags, p, line_of(beta, "team: alpha"), "alpha")


def test_malformed_yaml_bad_indentation(env):
    alpha = "team:\n  description: Team Alpha\n members: [alice, bob]\n"
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    hits = [d for d in diags if same_file(d.group("file"), p)]
    assert len(hits) == 1, diags
    assert int(hits[0].group("line")) == 3, hits[0].group(0)


def test_malformed_yaml_unclosed_quote(env):
    users = USERS_YAML + '  - name: "dave\n    full_name: Dave\n'
    p = env.write("users.yaml", users)
    diags = check_fails(env)
    hits = [d for d in diags if same_file(d.group("file"), p)]
    assert len(hits) == 1, diags
    # the stream ends inside the scalar: the error is at the end, and names where it started
    assert int(hits[0].group("line")) == len(users.splitlines()) + 1, hits[0].group(0)
    assert "line %d" % line_of(users, '"dave') in hits[0].group("msg"), hits[0].group(0)


def test_duplicate_yaml_key(env):
    beta = BETA_YAML.replace('  chat_channel: "#beta"\n',
                             '  chat_channel: "#beta"\n  description: again\n')
    p = env.write("teams/beta/team.yaml", beta)
    diags = check_fails(env)
    d = find_diag(diags, p, line_of(beta, "description: again"), "description")
    assert "duplicate" in d.group("msg")
    assert len(diags) == 1


def test_example_configuration_is_valid():
    example = Path(__file__).resolve().parents[2] / "examples" / "opsbell.yaml"
    if not example.exists():
        pytest.fail("examples/opsbell.yaml is missing")
    r = run_cli(["check-config", "-c", str(example)])
    assert r.code == 0, r
    assert r.stdout.startswith("%s: ok (" % example)


def test_malformed_yaml_tab_indentation(env):
    beta = BETA_YAML.replace("  description: Team Beta\n", "\tdescription: Team Beta\n")
    p = env.write("teams/beta/team.yaml", beta)
    diags = check_fails(env)
    hits = [d for d in diags if same_file(d.group("file"), p)]
    assert len(hits) == 1, diags
    assert int(hits[0].group("line")) == line_of(beta, "\tdescription"), hits[0].group(0)


def test_unknown_key_in_team_file(env):
    alpha = ALPHA_YAML + "servicez:\n  - name: typo\n"
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    d = find_diag(diags, p, line_of(alpha, "servicez"), "servicez")
    assert int(d.group("col")) == 1


def test_unknown_key_in_service(env):
    alpha = ALPHA_YAML.replace("    description: Alpha database\n",
                               "    description: Alpha database\n    owner: nobody\n")
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    d = find_diag(diags, p, line_of(alpha, "owner: nobody"), "owner")
    assert int(d.group("col")) == 5


def test_unknown_member_and_target(env):
    alpha = ALPHA_YAML.replace("members: [alice, bob]", "members: [alice, bob, zed]") \
        .replace("users: [bob]", "users: [yves]")
    p = env.write("teams/alpha/team.yaml", alpha)
    diags = check_fails(env)
    find_diag(diags, p, line_of(alpha, "zed"), "zed")
    find_diag(diags, p, line_of(alpha, "yves"), "yves")


def test_bad_user_values(env):
    users = USERS_YAML.replace('"+4930654321"', '"12345"').replace("America/New_York",
                                                                   "Mars/Olympus_Mons")
    p = env.write("users.yaml", users)
    diags = check_fails(env)
    find_diag(diags, p, line_of(users, '"12345"'), "12345")
    find_diag(diags, p, line_of(users, "Mars/Olympus_Mons"), "Mars/Olympus_Mons")


def test_bad_main_values(env):
    env.storage = "mysql://db/opsbell"
    env.write_main()
    text = env.read("opsbell.yaml")
    text = text.replace("level: debug", "level: chatty")
    env.write("opsbell.yaml", text)
    diags = check_fails(env)
    find_diag(diags, env.config_path, line_of(text, "storage:"), "mysql")
    find_diag(diags, env.config_path, line_of(text, "level: chatty"), "chatty")


def test_every_error_is_reported_at_once(env):
    alpha = alpha_db_policy("no-such-policy") \
        .replace("  - name: alpha-db\n", "  - name: alpha-db\n    team: beta\n")
    beta = BETA_YAML.replace("services:\n", "services:\n  - name: alpha-db\n"
                             "    escalation_policy: beta-default\n", 1)
    pa = env.write("teams/alpha/team.yaml", alpha)
    pb = env.write("teams/beta/team.yaml", beta)
    diags = check_fails(env)
    find_diag(diags, pa, line_of(alpha, "no-such-policy"), "no-such-policy")
    find_diag(diags, pa, line_of(alpha, "team: beta"), "beta")
    find_diag(diags, pb, line_of(beta, "name: alpha-db"), "alpha-db")
    assert len(diags) == 3, "\n".join(d.group(0) for d in diags)


def test_diagnostics_name_files_as_the_user_typed_them(env):
    alpha = ALPHA_YAML + "bogus: 1\n"
    env.write("teams/alpha/team.yaml", alpha)
    r = env.cli("check-config", "-c", "opsbell.yaml")
    assert r.code == 1, r
    diags = diag_lines(r.stderr)
    assert [d.group("file") for d in diags] == ["teams/alpha/team.yaml"], r.stderr
    assert int(diags[0].group("line")) == line_of(alpha, "bogus")


def test_missing_main_file(env, tmp_path):
    missing = tmp_path / "nowhere" / "opsbell.yaml"
    r = run_cli(["check-config", "-c", str(missing)])
    assert r.code == 1, r
    assert r.stdout == ""
    diags = diag_lines(r.stderr)
    assert len(diags) == 1, r.stderr
    assert diags[0].group("file") == str(missing)


def test_stray_team_file_is_refused(env):
    p = env.write("teams/stray.yaml", "services: []\n")
    diags = check_fails(env)
    assert any(same_file(d.group("file"), p) for d in diags), diags


def test_serve_refuses_an_invalid_configuration(env):
    alpha = ALPHA_YAML + "bogus: 1\n"
    p = env.write("teams/alpha/team.yaml", alpha)
    r = env.serve_must_fail()
    assert r.code == 1, r
    lines = r.stderr.splitlines()
    assert lines[-1].startswith("opsbell: ") and "not starting" in lines[-1], r.stderr
    diags = diag_lines("\n".join(lines[:-1]))
    find_diag(diags, p, line_of(alpha, "bogus"), "bogus")


# ---- reload: SIGHUP ----------------------------------------------------------------


def team_names(d, tok):
    r = d.get("/api/v1/teams", token=tok)
    assert r.status == 200, r
    return [t["name"] for t in r.body["teams"]]


def wait_until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def metric(d, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    prefix = "%s{%s} " % (name, want) if labels else name + " "
    for line in d.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


def test_sighup_applies_a_valid_change(env, daemon, admin_token):
    assert team_names(daemon, admin_token) == ["alpha", "beta"]
    env.write("teams/gamma/team.yaml", GAMMA_YAML)
    daemon.sighup()
    wait_until(lambda: "gamma" in team_names(daemon, admin_token), what="team gamma")
    assert team_names(daemon, admin_token) == ["alpha", "beta", "gamma"]
    r = daemon.get("/api/v1/teams/gamma", token=admin_token)
    assert r.status == 200 and [s["name"] for s in r.body["services"]] == ["gamma-batch"]
    daemon.wait_for_log(r"configuration reloaded")
    assert metric(daemon, "opsbell_config_reloads_total", result="success") == 1.0

    ev = daemon.get("/api/v1/audit?action=config.reload", token=admin_token).body["events"]
    assert len(ev) == 1
    assert ev[0]["actor"] == "signal:SIGHUP"
    assert ev[0]["details"]["result"] == "applied"
    assert daemon.alive()


def test_sighup_with_invalid_config_keeps_the_old_one(env, daemon, admin_token):
    before = daemon.get("/api/v1/teams/alpha", token=admin_token).body
    # gamma is valid on its own, but alpha now has an error: nothing may change
    env.write("teams/gamma/team.yaml", GAMMA_YAML)
    alpha = alpha_db_policy("no-such-policy") \
        .replace("Team Alpha", "Team Alpha (edited)")
    p = env.write("teams/alpha/team.yaml", alpha)
    daemon.sighup()
    lines = daemon.wait_for_log(r"reload refused")
    assert "previous configuration stays in force" in lines[0] or "refused" in lines[0]
    err = [l for l in daemon.log_text().splitlines() if "no-such-policy" in l]
    assert err, daemon.log_text()
    assert "level=error" in err[0]
    assert str(p) in err[0] or "teams/alpha/team.yaml" in err[0], err[0]
    want_line = line_of(alpha, "no-such-policy")
    assert ("position=%d:" % want_line) in err[0] or (":%d:" % want_line) in err[0], err[0]

    assert daemon.alive()
    assert daemon.get("/healthz").status == 200
    assert team_names(daemon, admin_token) == ["alpha", "beta"]
    assert daemon.get("/api/v1/teams/alpha", token=admin_token).body == before
    # the refusal is logged first, then counted and audited: wait for the audit event
    audit = lambda: daemon.get("/api/v1/audit?action=config.reload",
                               token=admin_token).body["events"]
    wait_until(lambda: audit(), what="the config.reload audit event")
    ev = audit()
    assert len(ev) == 1 and ev[0]["details"]["result"] == "refused"
    assert ev[0]["actor"] == "signal:SIGHUP" and ev[0]["details"]["errors"] == 1
    assert metric(daemon, "opsbell_config_reloads_total", result="failure") == 1.0
    assert metric(daemon, "opsbell_config_reloads_total", result="success") == 0.0

    # once fixed, the next SIGHUP applies everything
    env.write("teams/alpha/team.yaml", ALPHA_YAML.replace("Team Alpha", "Team Alpha (edited)"))
    daemon.sighup()
    wait_until(lambda: "gamma" in team_names(daemon, admin_token), what="team gamma")
    assert daemon.get("/api/v1/teams/alpha", token=admin_token).body["description"] == \
        "Team Alpha (edited)"


def test_sighup_with_malformed_main_file(env, daemon, admin_token):
    env.write("opsbell.yaml", env.read("opsbell.yaml") + "listen: [\n")
    daemon.sighup()
    daemon.wait_for_log(r"reload refused")
    assert daemon.alive()
    assert team_names(daemon, admin_token) == ["alpha", "beta"]
    assert daemon.get("/healthz").status == 200


def test_repeated_sighups_under_load(env, daemon, admin_token):
    """Reloads swap the configuration while requests read it."""
    import threading
    errors = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                r = daemon.get("/api/v1/teams/alpha", token=admin_token)
                if r.status != 200:
                    errors.append(r)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            daemon.sighup()
            daemon.wait_for_log(r"configuration reloaded", count=i + 1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:3]
    assert daemon.alive()
    assert metric(daemon, "opsbell_config_reloads_total", result="success") == 10.0


# ---- reload: API and CLI ---------------------------------------------------------


def test_api_reload_refuses_invalid_then_applies_valid(env, daemon, admin_token):
    alpha = ALPHA_YAML.replace("  - name: alpha-db\n", "  - name: alpha-db\n    team: beta\n")
    p = env.write("teams/alpha/team.yaml", alpha)
    env.write("teams/gamma/team.yaml", GAMMA_YAML)
    r = daemon.request("POST", "/api/v1/config/reload", token=admin_token,
                       headers={"X-Request-Id": "e2e-reload-bad"})
    assert r.status == 422, r
    assert isinstance(r.body["error"], str) and r.body["error"]
    errors = r.body["errors"]
    assert len(errors) == 1, errors
    e = errors[0]
    assert same_file(e["file"], p)
    assert e["line"] == line_of(alpha, "team: beta") and e["column"] >= 1
    assert "beta" in e["message"]
    assert team_names(daemon, admin_token) == ["alpha", "beta"]

    env.write("teams/alpha/team.yaml", ALPHA_YAML)
    r = daemon.request("POST", "/api/v1/config/reload", token=admin_token,
                       headers={"X-Request-Id": "e2e-reload-good"})
    assert r.status == 200, r
    assert r.body == {"status": "reloaded"}
    assert team_names(daemon, admin_token) == ["alpha", "beta", "gamma"]

    ev = daemon.get("/api/v1/audit?action=config.reload", token=admin_token).body["events"]
    assert [(x["request_id"], x["details"]["result"]) for x in ev] == [
        ("e2e-reload-good", "applied"), ("e2e-reload-bad", "refused")]
    for x in ev:
        assert x["actor"] == "token:admin" and x["remote_addr"] == "127.0.0.1"


def test_cli_config_reload(env, daemon, admin_token):
    r = env.cli("config", "reload", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    assert r.stdout == "configuration reloaded\n"
    r = env.cli("config", "reload", "--json", url=daemon.url, token=admin_token)
    assert r.code == 0, r
    assert r.json() == {"status": "reloaded"}

    alpha = ALPHA_YAML + "bogus: 1\n"
    p = env.write("teams/alpha/team.yaml", alpha)
    r = env.cli("config", "reload", url=daemon.url, token=admin_token)
    assert r.code == 1, r
    lines = r.stderr.splitlines()
    assert lines[-1].startswith("opsbell: ") and "422" in lines[-1], r.stderr
    diags = diag_lines("\n".join(lines[:-1]))
    find_diag(diags, p, line_of(alpha, "bogus"), "bogus")


def test_yaml_aliases_are_refused(env):
    users = USERS_YAML.replace("  - name: bob\n", "  - &b\n    name: bob\n") + "  - *b\n"
    p = env.write("users.yaml", users)
    diags = check_fails(env)
    find_diag(diags, p, line_of(users, "*b"), "alias")


@pytest.mark.parametrize("bad,words", [(b"\xff\xfe", ("UTF-8",)), (b"\x00", ("control",))],
                         ids=["invalid-utf8", "nul"])
def test_bytes_that_are_not_yaml_text(env, bad, words):
    data = BETA_YAML.encode().replace(b"Page carol", b"Page " + bad + b" carol")
    p = env.dir / "teams" / "beta" / "team.yaml"
    p.write_bytes(data)
    diags = check_fails(env)
    find_diag(diags, p, line_of(BETA_YAML, "Page carol"), *words)


def test_crlf_and_bom_are_accepted(env):
    p = env.dir / "teams" / "beta" / "team.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + BETA_YAML.replace("\n", "\r\n").encode())
    r = env.local("check-config")
    assert r.code == 0, r


def test_more_semantic_checks(env):
    users = USERS_YAML.replace("nickname: caro", "nickname: ALI")
    pu = env.write("users.yaml", users)
    beta = BETA_YAML.replace("delay: 90s", "delay: 8d")
    pb = env.write("teams/beta/team.yaml", beta)
    pd = env.write("teams/Bad_Team/x.yaml", "services: []\n")
    diags = check_fails(env)
    find_diag(diags, pu, line_of(users, "nickname: ALI"), "ALI", "alice")
    find_diag(diags, pb, line_of(beta, "delay: 8d"), "8d")
    assert any(same_file(d.group("file"), pd.parent) and "Bad_Team" in d.group("msg")
               for d in diags), diags
    assert len(diags) == 3


# ---- SSH access: host groups, break-glass policies, logins, the allowlist ----

HOSTS_YAML = """\
host_groups:
  - name: alpha-web
    hosts: [web1, web2.example.com]
    allowlist: true
"""

ALLOWLIST_MAIN = """\
allowlist:
  freshness: 6h
  max_per_user: 3
  link_ttl: 15m
  trusted_proxies: [127.0.0.1, 10.1.2.3/8]
enforcers:
  aws:
    region: eu-central-1
    security_group_id: sg-0123456789abcdef0
    access_key_id: AKIAIOSFODNN7EXAMPLE
    secret_access_key: file:aws_secret
    host_group: %s
"""


def test_access_configuration_is_accepted(env):
    env.write("teams/alpha/hosts.yaml", HOSTS_YAML)
    env.write("teams/alpha/team.yaml", ALPHA_YAML.replace(
        '  chat_channel: "#alpha"\n',
        '  chat_channel: "#alpha"\n  breakglass:\n    self_approve: [oncall, carol]\n'
        '    approvers: [alice]\n    max_duration: 2h\n    pending_ttl: 30m\n'))
    env.write("users.yaml", USERS_YAML.replace("    nickname: ali\n",
                                               "    nickname: ali\n    logins: [alice, deploy]\n"))
    env.write("aws_secret", "not-a-real-secret\n")
    env.extra_main = ALLOWLIST_MAIN % "alpha-web"
    env.write_main()
    r = env.local("check-config")
    assert r.code == 0, r
    assert r.stderr == ""


def test_bad_host_groups_are_reported_at_their_place(env):
    env.write("teams/alpha/hosts.yaml", HOSTS_YAML)
    beta_hosts = ("host_groups:\n"
                  "  - name: beta-db\n"
                  "    hosts: [db1, Bad_Host]\n"
                  "  - name: alpha-web\n"
                  "    hosts: [web3]\n")
    pb = env.write("teams/beta/hosts.yaml", beta_hosts)
    beta = BETA_YAML.replace('  chat_channel: "#beta"\n',
                             '  chat_channel: "#beta"\n  breakglass:\n    approvers: [zed]\n'
                             '    max_duration: 25h\n')
    pt = env.write("teams/beta/team.yaml", beta)
    env.write("aws_secret", "not-a-real-secret\n")
    env.extra_main = ALLOWLIST_MAIN % "no-such-group"
    env.write_main()
    diags = check_fails(env)
    text = env.read("opsbell.yaml")
    d = find_diag(diags, pb, line_of(beta_hosts, "name: alpha-web"), "duplicate host group",
                  "alpha-web")
    assert "alpha/hosts.yaml:%d:" % line_of(HOSTS_YAML, "name: alpha-web") in d.group("msg")
    d = find_diag(diags, pb, line_of(beta_hosts, "Bad_Host"), "Bad_Host")
    assert int(d.group("col")) == beta_hosts.splitlines()[2].index("Bad_Host") + 1
    find_diag(diags, pt, line_of(beta, "approvers: [zed]"), "unknown user 'zed'")
    find_diag(diags, pt, line_of(beta, "max_duration: 25h"), "25h")
    find_diag(diags, env.config_path, line_of(text, "host_group: no-such-group"),
              "no-such-group")
    assert len(diags) == 5
