"""Provider secrets are given as env:NAME or file:PATH; their values never
appear in logs, API responses or diagnostics, and inline secrets are refused."""

import signal

from e2e_support import diag_lines

SLACK_SIGNING = "sekrit-XYZ123-signing"
SLACK_BOT = "xoxb-sekrit-BOT-4455"
SMTP_PASSWORD = "sekrit-SMTP-pw-8812"
TWILIO_TOKEN = "sekrit-TWILIO-file-6677"
SIP_PASSWORD = "sekrit-SIP-file-9900"
ALL_SECRETS = (SLACK_SIGNING, SLACK_BOT, SMTP_PASSWORD, TWILIO_TOKEN, SIP_PASSWORD)

SECRET_ENV = {
    "OPSBELL_TEST_SECRET": SLACK_SIGNING,
    "OPSBELL_TEST_BOT_TOKEN": SLACK_BOT,
    "OPSBELL_TEST_SMTP_PASSWORD": SMTP_PASSWORD,
}


def providers_yaml(sip_password_path):
    return (
        "providers:\n"
        "  slack:\n"
        "    bot_token: env:OPSBELL_TEST_BOT_TOKEN\n"
        "    signing_secret: env:OPSBELL_TEST_SECRET\n"
        "  twilio:\n"
        "    account_sid: AC0123456789abcdef\n"
        "    auth_token: file:secrets/twilio-token\n"
        "    from_number: \"+4930111222\"\n"
        "  smtp:\n"
        "    url: smtp://127.0.0.1:2525\n"
        "    username: opsbell\n"
        "    password: env:OPSBELL_TEST_SMTP_PASSWORD\n"
        "    from_address: opsbell@example.com\n"
        "  sip:\n"
        "    from_uri: sip:opsbell@pbx.example.com\n"
        "    username: opsbell\n"
        "    password: file:%s\n" % sip_password_path
    )


def secret_env(make_env, tmp_path):
    sip = tmp_path / "sip-password"
    sip.write_text(SIP_PASSWORD + "\n")
    e = make_env(env_vars=SECRET_ENV, providers=providers_yaml(sip))
    e.write("secrets/twilio-token", TWILIO_TOKEN + "\n")
    e.write_main()
    return e


def assert_no_secret(text, where):
    for s in ALL_SECRETS:
        assert s not in text, "secret %r leaked into %s:\n%s" % (s, where, text[-3000:])


def test_secret_values_never_leak(make_env, tmp_path):
    e = secret_env(make_env, tmp_path)
    r = e.local("check-config")
    assert r.code == 0, r
    assert_no_secret(r.stdout + r.stderr, "check-config output")

    tok = e.token_secret(name="admin", scope="admin")
    d = e.daemon()
    seen = []

    def call(method, path, body=None, **kw):
        r = d.request(method, path, body, token=kw.pop("token", tok), **kw)
        seen.append((path, r))
        return r

    for path in ("/healthz", "/metrics", "/api/v1/whoami", "/api/v1/teams", "/api/v1/teams/alpha",
                 "/api/v1/services", "/api/v1/escalation-policies", "/api/v1/users",
                 "/api/v1/users/alice", "/api/v1/tokens", "/nope"):
        call("GET", path)
    call("GET", "/api/v1/whoami", token="obt_" + "A" * 43)
    call("POST", "/api/v1/tokens", b"{bad json")
    call("POST", "/api/v1/tokens", {"name": "x", "scope": "read"})
    assert call("POST", "/api/v1/config/reload").status == 200

    # an invalid reload (a missing variable) names the variable, never a value
    e.env_vars = {}
    main = e.read("opsbell.yaml").replace("env:OPSBELL_TEST_SECRET", "env:OPSBELL_TEST_UNSET")
    e.write("opsbell.yaml", main)
    r = call("POST", "/api/v1/config/reload")
    assert r.status == 422, r
    assert any("OPSBELL_TEST_UNSET" in x["message"] for x in r.body["errors"]), r.body
    d.sighup()
    d.wait_for_log("reload refused", count=2)
    call("GET", "/api/v1/audit")

    for path, r in seen:
        assert_no_secret(r.text, "the response of %s" % path)
        assert_no_secret(str(r.headers), "the headers of %s" % path)

    assert d.stop() == 0
    log = d.log_text()
    assert "level=debug" in log or "level=info" in log, "the daemon logged nothing?"
    assert_no_secret(log, "the daemon log")


def test_secrets_resolved_from_files_relative_to_the_config(make_env, tmp_path):
    e = secret_env(make_env, tmp_path)
    (e.dir / "secrets" / "twilio-token").unlink()
    r = e.local("check-config")
    assert r.code == 1, r
    diags = diag_lines(r.stderr)
    text = e.read("opsbell.yaml")
    want = [i for i, l in enumerate(text.splitlines(), 1) if "auth_token:" in l][0]
    assert [int(x.group("line")) for x in diags] == [want], r.stderr
    assert "secrets/twilio-token" in diags[0].group("msg")
    assert_no_secret(r.stderr, "check-config output")


def test_missing_env_secret_is_reported_by_name(make_env, tmp_path):
    e = secret_env(make_env, tmp_path)
    e.env_vars = {k: v for k, v in SECRET_ENV.items() if k != "OPSBELL_TEST_SECRET"}
    r = e.local("check-config")
    assert r.code == 1, r
    diags = diag_lines(r.stderr)
    assert len(diags) == 1
    assert "OPSBELL_TEST_SECRET" in diags[0].group("msg")
    assert_no_secret(r.stderr, "check-config output")
    # and serve does not start
    r = e.serve_must_fail()
    assert r.code == 1, r
    assert_no_secret(r.stdout + r.stderr, "serve output")


def test_inline_secret_is_refused(env):
    inline = "inline-sekrit-ABC987"
    env.providers = ("providers:\n"
                     "  slack:\n"
                     "    bot_token: env:OPSBELL_TEST_BOT_TOKEN\n"
                     "    signing_secret: %s\n" % inline)
    env.env_vars = {"OPSBELL_TEST_BOT_TOKEN": SLACK_BOT}
    env.write_main()
    text = env.read("opsbell.yaml")
    want = [i for i, l in enumerate(text.splitlines(), 1) if "signing_secret:" in l][0]

    r = env.local("check-config")
    assert r.code == 1, r
    diags = diag_lines(r.stderr)
    assert len(diags) == 1, r.stderr
    assert diags[0].group("file") == str(env.config_path)
    assert int(diags[0].group("line")) == want
    assert "env:" in diags[0].group("msg") and "file:" in diags[0].group("msg")
    assert inline not in r.stdout + r.stderr
    assert SLACK_BOT not in r.stdout + r.stderr

    r = env.serve_must_fail()
    assert r.code == 1, r
    assert inline not in r.stdout + r.stderr


def test_inline_secrets_of_every_provider_are_refused(env):
    values = ["inline-A-%d" % i for i in range(5)]
    env.providers = (
        "providers:\n"
        "  slack:\n"
        "    bot_token: %s\n"
        "    signing_secret: %s\n"
        "  twilio:\n"
        "    account_sid: AC0123456789abcdef\n"
        "    auth_token: %s\n"
        "    from_number: \"+4930111222\"\n"
        "  smtp:\n"
        "    url: smtp://127.0.0.1:2525\n"
        "    username: opsbell\n"
        "    password: %s\n"
        "    from_address: opsbell@example.com\n"
        "  sip:\n"
        "    from_uri: sip:opsbell@pbx.example.com\n"
        "    password: %s\n" % tuple(values))
    env.write_main()
    r = env.local("check-config")
    assert r.code == 1, r
    diags = diag_lines(r.stderr)
    text = env.read("opsbell.yaml")
    want = sorted(i for i, l in enumerate(text.splitlines(), 1) if "inline-A-" in l)
    assert sorted(int(x.group("line")) for x in diags) == want, r.stderr
    for v in values:
        assert v not in r.stderr + r.stdout


def test_secret_not_in_process_arguments(make_env, tmp_path):
    e = secret_env(make_env, tmp_path)
    d = e.daemon()
    cmdline = open("/proc/%d/cmdline" % d.proc.pid, "rb").read().decode()
    assert_no_secret(cmdline, "the command line")
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(10) == 0
    assert_no_secret(d.log_text(), "the daemon log")
