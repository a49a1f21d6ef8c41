"""The `opsbell` command line: help, usage errors, version, client commands."""

import json
import re

import pytest

from e2e_support import free_port, run_cli

# Every command of src/cli/commands.c. test_overview_lists_every_command keeps
# this list and the binary in step.
COMMANDS = [
    ["serve"], ["check-config"], ["version"],
    ["token", "create"], ["token", "list"], ["token", "revoke"],
    ["whoami"], ["team", "list"], ["team", "show"], ["service", "list"], ["user", "list"],
    ["audit", "list"],
    ["alert", "send"], ["incident", "list"], ["incident", "show"], ["incident", "ack"],
    ["incident", "resolve"], ["incident", "escalate"], ["incident", "note"],
    ["silence", "add"], ["silence", "list"], ["silence", "expire"],
    ["oncall"], ["schedule", "list"], ["schedule", "show"],
    ["override", "add"], ["override", "list"], ["override", "delete"],
    ["policy", "list"], ["policy", "show"],
    ["ical", "create"], ["ical", "list"], ["ical", "revoke"],
    ["tel"], ["contact", "list"], ["contact", "verify"], ["contact", "confirm"], ["contact", "trust"],
    ["keys", "sync"], ["keys", "list"], ["keys", "authorized-keys"], ["agent"],
    ["config", "reload"],
    ["breakglass", "request"], ["breakglass", "approve"], ["breakglass", "deny"],
    ["breakglass", "revoke"], ["breakglass", "list"], ["breakglass", "show"],
    ["allowlist", "list"],
    ["cert", "ca-pubkey"], ["cert", "sign"], ["cert", "krl"], ["enforce", "aws"], ["enforce", "nft"],
]
CLIENT_COMMANDS = [c for c in COMMANDS if c[0] in ("whoami", "team", "service", "user", "audit",
                                                  "contact", "tel", "config", "breakglass",
                                                  "allowlist")]


def overview_commands(text):
    out = []
    in_list = False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            in_list = True
            continue
        if in_list:
            if not line.startswith("  "):
                break
            # "  token create           create an API token ..." -> name is 1 or 2 words
            name = line[2:24].split()
            out.append(name)
    return out


def one_line_error(r, code):
    assert r.code == code, r
    assert r.stdout == "", r
    lines = r.stderr.splitlines()
    assert len(lines) == 1, "want one line on stderr, got:\n" + r.stderr
    assert lines[0].startswith("opsbell: "), lines[0]
    return lines[0]


# ---- help ----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_overview_help(args):
    r = run_cli(args)
    assert r.code == 0, r
    assert r.stdout.startswith("usage: opsbell ")
    assert r.stderr == ""


def test_overview_lists_every_command():
    r = run_cli(["--help"])
    assert overview_commands(r.stdout) == COMMANDS, r.stdout


def test_no_arguments_is_a_usage_error():
    r = run_cli([])
    assert r.code == 2, r
    assert r.stdout == ""
    assert r.stderr.startswith("usage: opsbell")


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_command_help(cmd):
    for args in (cmd + ["--help"], cmd + ["-h"], ["help"] + cmd):
        r = run_cli(args)
        assert r.code == 0, r
        assert r.stderr == "", r
        assert r.stdout.startswith("usage: opsbell %s" % " ".join(cmd)), r
        assert len(r.stdout.splitlines()) >= 2


@pytest.mark.parametrize("group", ["token", "team", "service", "user", "audit", "config"])
def test_group_help(group):
    r = run_cli([group, "--help"])
    assert r.code == 0, r
    assert r.stdout.startswith("usage: opsbell %s SUBCOMMAND" % group)
    subs = [c[1] for c in COMMANDS if c[0] == group]
    for s in subs:
        assert re.search(r"^  %s\s" % re.escape(s), r.stdout, re.M), r.stdout
    r = run_cli([group])
    assert r.code == 2, r
    assert r.stdout == "" and r.stderr.startswith("usage: opsbell %s" % group)


# ---- usage errors ----------------------------------------------------------------


@pytest.mark.parametrize("args", [["frobnicate"], ["--frob"], ["tokens"], ["-x"]])
def test_unknown_command(args):
    line = one_line_error(run_cli(args), 2)
    assert args[0] in line


def test_unknown_subcommand():
    line = one_line_error(run_cli(["token", "frob"]), 2)
    assert "token frob" in line


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_unknown_option(cmd, tmp_path):
    r = run_cli(cmd + ["--no-such-option"], cwd=str(tmp_path))
    line = one_line_error(r, 2)
    assert "--no-such-option" in line
    # the hint names a command that exists
    m = re.search(r"see '(opsbell [^']*) --help'", line)
    assert m, line
    hint = m.group(1).split()[1:]
    assert hint == cmd, "the hint names %r, not the command %r: %s" % (hint, cmd, line)
    assert run_cli(hint + ["--help"]).code == 0


@pytest.mark.parametrize("args", [
    ["version", "extra"],
    ["serve", "extra"],
    ["check-config", "a.yaml", "b.yaml"],
    ["token", "create", "--name", "x"],
    ["token", "create", "--scope", "read"],
    ["token", "create", "--name", "x", "--scope", "root"],
    ["token", "create", "--name", "bad/name", "--scope", "read"],
    ["token", "create", "--name", "x", "--scope", "read", "--expires", "soon"],
    ["token", "create", "--name", "x", "--scope", "read", "--expires", "0s"],
    ["token", "create", "--name"],
    ["token", "revoke"],
    ["token", "revoke", "abc"],
    ["token", "revoke", "0"],
    ["token", "revoke", "1", "2"],
    ["team", "show"],
    ["team", "show", "a", "b"],
    ["team", "list", "extra"],
    ["whoami", "--team", "alpha"],
    ["user", "list", "--limit", "3"],
    ["service", "list", "--actor", "x"],
])
def test_bad_arguments_are_usage_errors(args, tmp_path):
    one_line_error(run_cli(args, cwd=str(tmp_path)), 2)


@pytest.mark.parametrize("args,option", [
    (["whoami", "--team", "alpha"], "--team"),
    (["user", "list", "--limit", "3"], "--limit"),
    (["service", "list", "--actor", "x"], "--actor"),
    (["team", "list", "-t", "alpha"], "-t"),
    (["team", "show", "alpha", "--before", "7"], "--before"),
])
def test_option_that_does_not_apply_is_named(args, option):
    line = one_line_error(run_cli(args), 2)
    assert "'%s'" % option in line, "the message must name the option: " + line


# ---- version ---------------------------------------------------------------------


def test_version():
    r = run_cli(["version"])
    assert r.code == 0 and r.stderr == "", r
    m = re.fullmatch(r"opsbell (\d+\.\d+\.\d+\S*) \(commit (\S+), schema (\d+)\)\n", r.stdout)
    assert m, r.stdout
    r2 = run_cli(["--version"])
    assert r2.code == 0 and r2.stdout == r.stdout
    j = run_cli(["version", "--json"])
    assert j.code == 0, j
    data = j.json()
    assert data == {"version": m.group(1), "commit": m.group(2),
                    "schema_version": int(m.group(3))}
    assert data["schema_version"] >= 1


# ---- client commands ---------------------------------------------------------------


@pytest.fixture
def client(env, admin_token):
    env.team_token = env.token_secret(name="alpha-ro", scope="read", team="alpha")
    daemon = env.daemon()

    def cli(*args, token=admin_token):
        return env.cli(*args, url=daemon.url, token=token)
    return cli


def table(stdout):
    lines = stdout.splitlines()
    assert lines, "empty table"
    return lines[0].split(), [l.split() for l in lines[1:]]


def test_whoami(client, env):
    r = client("whoami")
    assert r.code == 0, r
    assert re.fullmatch(r"token \d+ 'admin', scope admin, team all\n", r.stdout), r.stdout
    r = client("whoami", "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["name"] == "admin" and d["scope"] == "admin" and isinstance(d["token_id"], int)
    r = client("whoami", token=env.team_token)
    assert r.code == 0 and r.stdout.endswith("scope read, team alpha\n"), r


def test_team_list(client):
    r = client("team", "list")
    assert r.code == 0, r
    head, rows = table(r.stdout)
    assert head == ["TEAM", "MEMBERS", "SERVICES", "POLICIES", "CHANNEL", "DESCRIPTION"]
    assert [row[:5] for row in rows] == [
        ["alpha", "alice,bob", "2", "1", "#alpha"],
        ["beta", "carol", "1", "1", "#beta"],
    ]
    assert rows[0][5:] == ["Team", "Alpha"]
    r = client("team", "list", "--json")
    assert r.code == 0, r
    data = r.json()
    assert [t["name"] for t in data] == ["alpha", "beta"]
    assert data[0]["members"] == ["alice", "bob"]
    assert data[0]["service_count"] == 2 and data[0]["policy_count"] == 1


def test_team_show(client):
    r = client("team", "show", "alpha")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["team:", "alpha"]
    assert lines[1].split() == ["description:", "Team", "Alpha"]
    assert lines[2].split() == ["channel:", "#alpha"]
    assert lines[3].split() == ["members:", "alice,bob"]
    head, rows = table("\n".join(lines[5:]))
    assert head == ["SERVICE", "TEAM", "POLICY", "DESCRIPTION"]
    assert [row[:3] for row in rows] == [["alpha-api", "alpha", "alpha-default"],
                                         ["alpha-db", "alpha", "alpha-default"]]
    r = client("team", "show", "alpha", "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["name"] == "alpha"
    assert [s["name"] for s in d["services"]] == ["alpha-api", "alpha-db"]
    pol = d["escalation_policies"][0]
    assert pol["name"] == "alpha-default" and pol["repeat"] == 2
    assert [(s["delay_seconds"], s["users"]) for s in pol["steps"]] == [(300, ["alice"]),
                                                                       (600, ["bob"])]
    # integration keys are credentials: only whether there is one
    assert "alphakey0001" not in r.stdout
    assert d["services"][0]["has_integration_key"] is True
    assert d["services"][1]["has_integration_key"] is False

    line = one_line_error(client("team", "show", "nope"), 1)
    assert "nope" in line and "404" in line


def test_service_list(client):
    r = client("service", "list")
    assert r.code == 0, r
    head, rows = table(r.stdout)
    assert head == ["SERVICE", "TEAM", "POLICY", "DESCRIPTION"]
    assert [row[:3] for row in rows] == [["alpha-api", "alpha", "alpha-default"],
                                         ["alpha-db", "alpha", "alpha-default"],
                                         ["beta-web", "beta", "beta-default"]]
    r = client("service", "list", "--team", "beta", "--json")
    assert r.code == 0, r
    assert [s["name"] for s in r.json()] == ["beta-web"]
    r = client("service", "list", "--json")
    assert len(r.json()) == 3
    assert "betakey00001" not in r.stdout and "alphakey0001" not in r.stdout


def test_user_list(client):
    r = client("user", "list")
    assert r.code == 0, r
    head, rows = table(r.stdout)
    assert head == ["USER", "NICKNAME", "NAME", "TIME", "ZONE", "CONTACT"]
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"alice", "bob", "carol"}
    assert by_name["alice"][1] == "ali" and by_name["alice"][-1] == "voice,email"
    assert by_name["alice"][-2] == "Europe/Berlin"
    assert by_name["bob"][1] == "bob", "nickname defaults to the name"
    assert by_name["carol"][-1] == "sip"
    r = client("user", "list", "--json")
    assert r.code == 0, r
    users = {u["name"]: u for u in r.json()}
    assert users["alice"]["contact_methods"][0] == {"type": "voice", "address": "+4930123456"}
    assert users["alice"]["chat_ids"] == [{"provider": "slack", "id": "U0ALICE01"}]
    assert users["bob"]["time_zone"] == "UTC"


def test_json_output_is_json_for_every_client_command(client):
    for args in (["whoami"], ["team", "list"], ["team", "show", "beta"], ["service", "list"],
                 ["user", "list"], ["audit", "list"], ["config", "reload"]):
        r = client(*(args + ["--json"]))
        assert r.code == 0, r
        json.loads(r.stdout)


@pytest.mark.parametrize("cmd", [["whoami"], ["team", "list"], ["team", "show", "alpha"],
                                 ["service", "list"], ["user", "list"], ["audit", "list"],
                                 ["config", "reload"]])
def test_client_cannot_reach_server(env, cmd):
    port = free_port()
    r = env.cli(*cmd, url="http://127.0.0.1:%d" % port, token="obt_" + "A" * 43)
    line = one_line_error(r, 1)
    assert line.startswith("opsbell: cannot reach "), line
    assert str(port) in line


def test_client_without_token(env, daemon):
    line = one_line_error(env.cli("whoami", url=daemon.url), 1)
    assert "401" in line


def test_client_with_bad_token(env, daemon):
    line = one_line_error(env.cli("team", "list", url=daemon.url, token="obt_" + "B" * 43), 1)
    assert "401" in line and "obt_" not in line


def test_client_url_with_trailing_slash(env, daemon, admin_token):
    r = env.cli("whoami", url=daemon.url + "/", token=admin_token)
    assert r.code == 0, r


def test_client_against_non_opsbell_server(env, tmp_path):
    """A server that answers something else is a one-line failure."""
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = env.cli("team", "list", url="http://127.0.0.1:%d" % srv.server_address[1],
                    token="obt_" + "A" * 43)
    finally:
        srv.shutdown()
        srv.server_close()
    one_line_error(r, 1)


# ---- local token commands ------------------------------------------------------------


def test_token_create_outputs(env):
    r = env.local("token", "create", "--name", "plain", "--scope", "read")
    assert r.code == 0, r
    secret = r.stdout.strip()
    assert re.fullmatch(r"obt_[A-Za-z0-9_-]{43}", secret)
    assert secret not in r.stderr
    assert "plain" in r.stderr  # the human note goes to stderr

    r = env.local("token", "create", "-n", "js", "-s", "write", "-t", "beta", "-e", "90d",
                  "--json")
    assert r.code == 0, r
    d = r.json()
    assert d["name"] == "js" and d["scope"] == "write" and d["team"] == "beta"
    assert d["token"].startswith("obt_") and isinstance(d["id"], int)

    listing = env.local("token", "list", "--json").json()
    by = {t["name"]: t for t in listing}
    assert by["js"]["expires_at_ms"] > by["js"]["created_at_ms"] + 89 * 86400 * 1000
    assert by["plain"]["expires_at_ms"] == 0 and by["plain"]["team"] is None
    head, rows = table(env.local("token", "list").stdout)
    assert [r_[1:4] for r_ in rows] == [["plain", "read", "all"], ["js", "write", "beta"]]
    assert [r_[-1] for r_ in rows] == ["active", "active"]


def test_token_revoke_errors(env):
    one_line_error(env.local("token", "revoke", "12345"), 1)
    info = env.create_token(name="once", scope="read")
    assert env.local("token", "revoke", str(info["id"])).code == 0
    one_line_error(env.local("token", "revoke", str(info["id"])), 1)


def test_local_commands_with_an_invalid_config(env):
    env.write("teams/alpha/team.yaml", "bogus: 1\n")
    r = env.local("token", "create", "--name", "x", "--scope", "read")
    assert r.code == 1, r
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[-1].startswith("opsbell: ")


def test_serve_listen_override(env):
    port = free_port()
    d = env.daemon(start=False, extra_args=["--listen", "127.0.0.1:%d" % port])
    d.start(port=port)
    assert d.get("/healthz").status == 200
    d.wait_for_log(r"msg=listening .*127\.0\.0\.1:%d" % port)
    assert d.stop() == 0


@pytest.mark.parametrize("listen", ["nocolon", "127.0.0.1:99999", "127.0.0.1:abc"])
def test_serve_bad_listen_override(env, listen):
    r = env.serve_must_fail("--listen", listen)
    assert r.code != 0, r
    assert r.stderr.strip(), r


def test_serve_stops_cleanly_on_sigterm_and_sigint(env):
    import signal
    d = env.daemon()
    assert d.stop() == 0
    assert "shutting down" in d.log_text()
    d2 = env.daemon()
    d2.proc.send_signal(signal.SIGINT)
    assert d2.proc.wait(10) == 0


def test_readme_tour_on_the_example_configuration(make_env):
    """The commands of the README's five-minute tour, on a copy of examples/."""
    import shutil
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "examples"
    e = make_env("example")
    for child in list(e.dir.iterdir()):
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    shutil.copytree(example, e.dir, dirs_exist_ok=True)
    for leftover in ("data",):  # never reuse a store that may sit in the repository
        shutil.rmtree(e.dir / leftover, ignore_errors=True)
    r = e.local("check-config")
    assert r.code == 0, r
    tok = e.local("token", "create", "--name", "me", "--scope", "admin")
    assert tok.code == 0, tok
    secret = tok.stdout.strip()
    port = free_port()
    d = e.daemon(start=False, extra_args=["--listen", "127.0.0.1:%d" % port])
    d.start(port=port)
    assert (e.dir / "data" / "opsbell.db").exists()
    h = d.get("/healthz")
    assert h.status == 200 and h.body["store"] == "sqlite"
    for args in (["whoami"], ["team", "list"], ["team", "show", "platform"],
                 ["service", "list", "--json"], ["user", "list"], ["audit", "list"],
                 ["config", "reload"]):
        r = e.cli(*args, url=d.url, token=secret)
        assert r.code == 0, r
        assert r.stdout.strip(), r
    teams = e.cli("team", "list", "--json", url=d.url, token=secret).json()
    assert [t["name"] for t in teams] == ["payments", "platform"]
    assert d.stop() == 0
