"""Helpers for the opsbell end-to-end tests: a per-test configuration tree,
the daemon as a subprocess, an HTTP client (standard library only) and a
runner for the CLI.

Only the standard library is used: these tests run with Debian's
/usr/bin/python3 and python3-pytest, nothing else.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

# Where a diagnostic line of check-config (and friends) must look like this.
DIAG_RE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")

START_TIMEOUT = 10.0  # seconds for the daemon to answer /healthz
STOP_TIMEOUT = 10.0  # seconds for the daemon to exit after SIGTERM
CLI_TIMEOUT = 30.0

# Variables of the caller's environment that must not leak into the processes
# we start (they would change which server or configuration the CLI uses).
_SCRUB = ("OPSBELL_URL", "OPSBELL_TOKEN", "OPSBELL_CONFIG")


def opsbell_bin():
    """Absolute path of the binary under test ($OPSBELL_BIN)."""
    path = os.environ.get("OPSBELL_BIN", "")
    if not path:
        here = Path(__file__).resolve().parents[2] / "build" / "dev" / "opsbell"
        path = str(here)
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["LC_ALL"] = "C"
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


def diag_lines(text):
    """Non-empty lines of text, each checked to be FILE:LINE:COL: message."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = DIAG_RE.match(line)
        assert m, "not a FILE:LINE:COL: message line: %r\n--- full output ---\n%s" % (line, text)
        out.append(m)
    return out


# ---------------------------------------------------------------------------
# the configuration tree
# ---------------------------------------------------------------------------

USERS_YAML = """\
# people of the e2e test configuration
users:
  - name: alice
    full_name: Alice Example
    nickname: ali
    time_zone: Europe/Berlin
    email: alice@example.com
    chat_ids:
      - provider: slack
        id: U0ALICE01
    contact_methods:
      - type: voice
        address: "+4930123456"
      - type: email
        address: alice@example.com
  - name: bob
    full_name: Bob Example
    time_zone: UTC
    contact_methods:
      - type: sms
        address: "+4930654321"
  - name: carol
    full_name: Carol Example
    nickname: caro
    time_zone: America/New_York
    contact_methods:
      - type: sip
        address: sip:carol@pbx.example.com
"""

ALPHA_YAML = """\
team:
  description: Team Alpha
  members: [alice, bob]
  chat_channel: "#alpha"
services:
  - name: alpha-api
    description: Alpha public API
    escalation_policy: alpha-default
    integration_key: alphakey0001
  - name: alpha-db
    description: Alpha database
    escalation_policy: alpha-default
escalation_policies:
  - name: alpha-default
    description: Page alice, then bob
    repeat: 2
    steps:
      - delay: 5m
        targets:
          users: [alice]
      - delay: 10m
        targets:
          users: [bob]
"""

BETA_YAML = """\
team:
  description: Team Beta
  members: [carol]
  chat_channel: "#beta"
services:
  - name: beta-web
    description: Beta web shop
    escalation_policy: beta-default
    integration_key: betakey00001
escalation_policies:
  - name: beta-default
    description: Page carol
    steps:
      - delay: 90s
        targets:
          users: [carol]
"""

GAMMA_YAML = """\
team:
  description: Team Gamma
  members: [bob]
services:
  - name: gamma-batch
    escalation_policy: gamma-default
escalation_policies:
  - name: gamma-default
    steps:
      - delay: 1m
        targets:
          users: [bob]
"""


class Reply:
    """One HTTP reply: status, headers (case-insensitive), body (parsed JSON
    when the server says application/json, else text) and the raw bytes.
    Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        ctype = headers.get("Content-Type", "") or ""
        self.text = raw.decode("utf-8", errors="replace")
        if ctype.startswith("application/json") and raw:
            try:
                self.body = json.loads(self.text)
            except ValueError as e:
                raise AssertionError("server sent invalid JSON (%s): %r" % (e, self.text[:500]))
        else:
            self.body = self.text

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "Reply(%d, %r)" % (self.status, self.text[:300])


def http_request(url, method, path, body=None, headers=None, token=None, timeout=10.0,
                 content_type="application/json"):
    """Send one request on a fresh connection. body: dict/list (sent as JSON),
    str or bytes (sent as is), or None."""
    m = re.match(r"^http://([^:/]+):(\d+)$", url)
    assert m, url
    host, port = m.group(1), int(m.group(2))
    hdrs = {}
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        if content_type is not None:
            hdrs["Content-Type"] = content_type
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) before reading the whole body.
            pass
        resp = conn.getresponse()
        raw = resp.read()
        return Reply(resp.status, resp.headers, raw)
    finally:
        conn.close()


class CliResult:
    def __init__(self, args, code, stdout, stderr):
        self.args = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    def __iter__(self):
        return iter((self.code, self.stdout, self.stderr))

    def __repr__(self):
        return "CliResult(%r, code=%d, stdout=%r, stderr=%r)" % (
            self.args, self.code, self.stdout[-2000:], self.stderr[-2000:])

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError("stdout is not JSON (%s): %r" % (e, self.stdout))


# What AddressSanitizer / UndefinedBehaviorSanitizer print (an asan build may be
# tested with OPSBELL_BIN=build/asan/opsbell): always a failure.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: ")


def assert_no_sanitizer_report(text, what):
    m = SANITIZER_RE.search(text)
    assert not m, "sanitizer report in %s:\n%s" % (what, text[max(0, m.start() - 200):][:4000])


def run_cli(args, env=None, cwd=None, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL):
    argv = [opsbell_bin()] + [str(a) for a in args]
    p = subprocess.run(argv, env=base_env(env), cwd=cwd, stdin=stdin, capture_output=True,
                       timeout=timeout)
    res = CliResult(argv[1:], p.returncode, p.stdout.decode("utf-8", "replace"),
                    p.stderr.decode("utf-8", "replace"))
    assert_no_sanitizer_report(res.stderr, "the stderr of opsbell %s" % " ".join(res.args))
    return res


class Daemon:
    """`opsbell serve -c FILE` as a subprocess; its stderr (the log) goes to a file."""

    def __init__(self, env, extra_args=(), env_vars=None, log_name=None):
        self.env = env
        self.extra_args = list(extra_args)
        self.env_vars = dict(env.env_vars)
        if env_vars:
            self.env_vars.update(env_vars)
        self.proc = None
        self.port = None
        env.daemon_count += 1
        self.log_path = env.dir / (log_name or "daemon-%d.log" % env.daemon_count)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=START_TIMEOUT, port=None):
        """Start and wait until /healthz answers 200. Retries on another port
        when the one picked was taken in the meantime."""
        for attempt in range(5):
            if port is None and self.env.fixed_port is None:
                self.env.port = free_port()
                self.env.write_main()
            self.port = port or self.env.port
            if self._start_once(timeout):
                return self
            log = self.log_text()
            if "cannot listen" in log and "in use" in log and attempt < 4 and port is None \
                    and self.env.fixed_port is None:
                continue
            raise AssertionError("opsbell serve did not become healthy (exit %r); log:\n%s"
                                 % (self.proc.returncode if self.proc else None, log))
        raise AssertionError("opsbell serve could not bind a port")

    def _start_once(self, timeout):
        argv = [opsbell_bin(), "serve", "-c", str(self.env.config_path)] + self.extra_args
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, cwd=str(self.env.dir),
                                         env=base_env(self.env_vars), start_new_session=True)
        finally:
            logf.close()
        self.env.processes.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = http_request(self.url, "GET", "/healthz", timeout=2.0)
                if r.status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        self.kill()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, token=None, **kw):
        return http_request(self.url, method, path, body=body, headers=headers, token=token,
                            **kw)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status (kills and fails on a hang)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("opsbell serve did not exit within %ss of SIGTERM; log:\n%s"
                                 % (timeout, self.log_text()))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, count=1, timeout=10.0):
        """Wait until `pattern` (regex) matches at least `count` log lines."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.log_text().splitlines() if rx.search(l)]
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise AssertionError("log never matched %r %d time(s); log:\n%s"
                                     % (pattern, count, self.log_text()))
            if not self.alive():
                raise AssertionError("daemon exited (%r) while waiting for %r; log:\n%s"
                                     % (self.proc.returncode, pattern, self.log_text()))
            time.sleep(0.05)


class Env:
    """A complete configuration in a fresh directory: opsbell.yaml, users.yaml,
    teams/alpha, teams/beta. Every test gets its own (and its own port)."""

    def __init__(self, directory, storage=None, max_body_bytes=65536, threads=4,
                 providers=None, env_vars=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "opsbell.yaml"
        self.port = free_port()
        self.fixed_port = None
        self.storage = storage or "sqlite:%s" % (self.dir / "opsbell.db")
        self.max_body_bytes = max_body_bytes
        self.threads = threads
        self.providers = providers  # YAML text of the providers: section, or None
        self.extra_main = ""  # appended verbatim to opsbell.yaml
        self.env_vars = dict(env_vars or {})
        self.processes = []
        self.daemon_count = 0
        self.write_main()
        self.write("users.yaml", USERS_YAML)
        self.write("teams/alpha/team.yaml", ALPHA_YAML)
        self.write("teams/beta/team.yaml", BETA_YAML)

    # ---- files ----

    def write(self, rel, text):
        p = self.dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def read(self, rel):
        return (self.dir / rel).read_text()

    def main_yaml(self):
        lines = [
            "# opsbell.yaml for one e2e test",
            "listen: 127.0.0.1:%d" % self.port,
            "storage: %s" % self.storage,
            "public_url: http://127.0.0.1:%d" % self.port,
            "http:",
            "  max_body_bytes: %d" % self.max_body_bytes,
            "  threads: %d" % self.threads,
            "log:",
            "  level: debug",
            "users_file: users.yaml",
            "teams_dir: teams",
        ]
        text = "\n".join(lines) + "\n"
        if self.providers:
            text += self.providers
        text += self.extra_main
        return text

    def write_main(self):
        self.config_path.write_text(self.main_yaml())

    # ---- processes ----

    def daemon(self, start=True, **kw):
        d = Daemon(self, **kw)
        if start:
            d.start()
        return d

    def cli_env(self, url=None, token=None, extra=None):
        env = dict(self.env_vars)
        if url is not None:
            env["OPSBELL_URL"] = url
        if token is not None:
            env["OPSBELL_TOKEN"] = token
        if extra:
            env.update(extra)
        return env

    def cli(self, *args, url=None, token=None, env=None, timeout=CLI_TIMEOUT):
        """Run the CLI in the configuration directory."""
        return run_cli(args, env=self.cli_env(url, token, env), cwd=str(self.dir),
                       timeout=timeout)

    def local(self, *args, env=None, timeout=CLI_TIMEOUT):
        """A local command (token create|list|revoke, check-config, serve) with -c."""
        return self.cli(*(list(args) + ["-c", str(self.config_path)]), env=env, timeout=timeout)

    def serve_must_fail(self, *args):
        """`opsbell serve` that is expected to refuse to start: (code, stdout, stderr).
        A daemon that starts anyway is killed after 10 s and reported."""
        try:
            return self.local("serve", *args, timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("opsbell serve %s started although it must refuse to"
                                 % " ".join(args))

    def create_token(self, name="admin", scope="admin", team=None, expires=None):
        args = ["token", "create", "--name", name, "--scope", scope, "--json"]
        if team:
            args += ["--team", team]
        if expires:
            args += ["--expires", expires]
        r = self.local(*args)
        assert r.code == 0, r
        info = r.json()
        assert info["token"].startswith("obt_"), info
        return info

    def token_secret(self, **kw):
        return self.create_token(**kw)["token"]

    def cleanup(self):
        """Stop every daemon still running (SIGTERM, then SIGKILL), then fail if
        any of their logs holds a sanitizer report."""
        for d in self.processes:
            if d.alive():
                d.proc.send_signal(signal.SIGTERM)
                try:
                    d.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    d.kill()
        for d in self.processes:
            assert_no_sanitizer_report(d.log_text(), str(d.log_path))


# ---------------------------------------------------------------------------
# alert ingestion (tests/e2e/test_ingest_*.py)
# ---------------------------------------------------------------------------

# PagerDuty routing keys are exactly 32 characters.
PD_KEY = "opspd0000000000000000000000000aa"
PD_KEY_MANUAL = "opspdmanual000000000000000000bbb"
PD_KEY_UNKNOWN = "nosuchkey0000000000000000000zzzz"
AM_HOOK_KEY = "ops-am-hook-0001"
DB_HOOK_KEY = "ops-db-hook-0001"
HB_KEY = "hb-ops-cron-0001"
HB_SUMMARY = "The ops cron job did not check in"

assert len(PD_KEY) == len(PD_KEY_MANUAL) == len(PD_KEY_UNKNOWN) == 32

OPS_YAML = """\
# the ingestion test team: one service per routing rule under test
team:
  description: Team Ops (ingestion tests)
  members: [alice, bob]
  match:
    - team="ops"
  fallback_service: ops-fallback
services:
  - name: ops-pd
    description: PagerDuty senders
    escalation_policy: ops-default
    integration_key: %(pd)s
  - name: ops-pd-manual
    description: PagerDuty senders, resolved by people only
    escalation_policy: ops-default
    integration_key: %(pd_manual)s
    auto_resolve: false
  - name: ops-am
    description: Alertmanager webhook receiver
    escalation_policy: ops-default
    integration_key: %(am)s
  - name: ops-prom
    description: Prometheus posting straight to /api/v2/alerts
    escalation_policy: ops-default
    match:
      - service_tag="prom"
      - env!~"dev|test"
  - name: ops-db
    description: Databases, grouped by alertname and cluster
    escalation_policy: ops-default
    integration_key: %(db)s
    match:
      - 'job=~"postgres|pgbouncer"'
      - severity!="info"
    dedup_labels: [alertname, cluster]
  - name: ops-hb
    description: Heartbeats
    escalation_policy: ops-default
  - name: ops-fallback
    description: What no other service of the team claimed
    escalation_policy: ops-default
escalation_policies:
  - name: ops-default
    steps:
      - delay: 5m
        targets:
          users: [alice]
""" % {"pd": PD_KEY, "pd_manual": PD_KEY_MANUAL, "am": AM_HOOK_KEY, "db": DB_HOOK_KEY}

OPS_HEARTBEAT_YAML = """\
heartbeats:
  - name: ops-cron
    service: ops-hb
    interval: 10s
    grace: 0s
    key: %s
    summary: %s
    severity: warning
""" % (HB_KEY, HB_SUMMARY)


def wait_for(predicate, timeout, what, interval=0.1):
    """Poll predicate() until it returns a true value (returned) or timeout
    seconds pass (AssertionError naming `what` and the last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


class KeepAlive:
    """One persistent HTTP/1.1 connection (for load); reconnects once when the
    server closed an idle connection."""

    def __init__(self, url, timeout=10.0):
        m = re.match(r"^http://([^:/]+):(\d+)$", url)
        assert m, url
        self.host, self.port, self.timeout = m.group(1), int(m.group(2)), timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, token=None, retry=True):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return Reply(resp.status, resp.headers, raw)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 1 or not retry:
                    raise
            except Exception:
                self.close()
                raise


class Peer:
    """A third-party process (prometheus, alertmanager) started by a test; it
    joins env.processes so that env.cleanup() stops it like a daemon."""

    def __init__(self, env, name, argv):
        self.env = env
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = env.dir / ("%s.log" % name)
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, cwd=str(env.dir),
                                         env=base_env(), start_new_session=True)
        finally:
            logf.close()
        env.processes.append(self)

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, url, timeout=30.0):
        """Wait until GET url answers 200 (e.g. /-/ready)."""
        m = re.match(r"^(http://[^/]+)(/.*)$", url)
        base, path = m.group(1), m.group(2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("%s exited (%r) before it was ready; log:\n%s"
                                     % (self.name, self.proc.returncode, self.log_text()[-4000:]))
            try:
                if http_request(base, "GET", path, timeout=2.0).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise AssertionError("%s not ready within %ss; log:\n%s"
                             % (self.name, timeout, self.log_text()[-4000:]))


def metric_value(text, name, labels=None):
    """Value of one sample of the Prometheus text exposition, or None."""
    want = name
    if labels:
        want += "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = line.rsplit(" ", 1)
        if len(parts) == 2 and parts[0] == want:
            return float(parts[1])
    return None


def iso_time(offset_seconds=0.0):
    """RFC 3339 UTC time now + offset, with milliseconds."""
    t = time.time() + offset_seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class Ingest:
    """A running daemon with the ingestion teams, and shortcuts for its doors
    and incident API. token: an admin token's secret."""

    def __init__(self, env, daemon, token, token_name=None):
        self.env = env
        self.d = daemon
        self.token = token
        self.token_name = token_name  # its audit actor is "token:" + token_name

    @property
    def url(self):
        return self.d.url

    # ---- doors ----

    def pd(self, action="trigger", dedup_key=None, routing_key=PD_KEY, summary="disk full",
           source="host-1", severity="critical", payload=None, **extra):
        body = {"routing_key": routing_key, "event_action": action}
        if dedup_key is not None:
            body["dedup_key"] = dedup_key
        if action == "trigger" and payload is None:
            payload = {"summary": summary, "source": source, "severity": severity}
        if payload is not None:
            body["payload"] = payload
        body.update(extra)
        return self.d.request("POST", "/v2/enqueue", body)

    def am(self, alerts):
        return self.d.request("POST", "/api/v2/alerts", alerts)

    def webhook(self, alerts, key=AM_HOOK_KEY, status=None, group_key="{}:{}"):
        status = status or ("firing" if any(a.get("status") == "firing" for a in alerts)
                            else "resolved")
        body = {"version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status,
                "receiver": "opsbell", "groupLabels": {}, "commonLabels": {},
                "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
                "alerts": alerts}
        return self.d.request("POST", "/api/v1/integrations/alertmanager/%s" % key, body)

    def generic(self, body, token=None):
        return self.d.request("POST", "/api/v1/alerts", body,
                              token=self.token if token is None else token)

    # ---- reading ----

    def incidents(self, token=None, **filters):
        """Every incident matching filters (all pages, newest first)."""
        out, before = [], None
        while True:
            q = dict(filters)
            q.setdefault("limit", 500)
            if before is not None:
                q["before"] = before
            path = "/api/v1/incidents?" + "&".join("%s=%s" % kv for kv in q.items())
            r = self.d.get(path, token=self.token if token is None else token)
            assert r.status == 200, r
            out.extend(r.body["incidents"])
            before = r.body.get("next_before")
            if before is None or not r.body["incidents"]:
                return out

    def incident(self, iid, token=None):
        r = self.d.get("/api/v1/incidents/%s" % iid, token=self.token if token is None else token)
        assert r.status == 200, r
        return r.body

    def incident_count(self):
        return len(self.incidents())

    def active_alerts(self):
        r = self.d.get("/api/v2/alerts", token=self.token)
        assert r.status == 200, r
        return r.body

    def metrics(self):
        r = self.d.get("/metrics")
        assert r.status == 200, r
        return r.body if isinstance(r.body, str) else r.text

    def action(self, iid, what, body=None, token=None):
        return self.d.request("POST", "/api/v1/incidents/%s/%s" % (iid, what), body,
                              token=self.token if token is None else token)


def setup_ingest_env(env, heartbeat=False):
    """Add the ingestion team (teams/ops) to env; with heartbeat, also the
    10 s heartbeat ops-cron."""
    text = OPS_YAML + (OPS_HEARTBEAT_YAML if heartbeat else "")
    env.write("teams/ops/team.yaml", text)
    return env


# ---------------------------------------------------------------------------
# on call: schedules in three time zones (tests/e2e/test_oncall.py, test_ical.py)
# ---------------------------------------------------------------------------

# Team alpha: New York (US daylight saving: 2026-03-08, 2026-11-01), a daily
# 09:00 handoff; Berlin (EU: 2026-03-29, 2026-10-25), a weekly Sunday 12:00
# handoff.  Team beta: Tokyo (no daylight saving), a daily 09:00 handoff.
ONCALL_ALPHA_YAML = """\
# on-call schedules of team alpha
schedules:
  - name: ny-primary
    description: New York, daily at 09:00 local
    time_zone: America/New_York
    layers:
      - name: daily
        start: "2026-01-01"
        handoff: "09:00"
        rrule: FREQ=DAILY
        users: [alice, bob, carol]
  - name: berlin-weekly
    description: Berlin, weekly on Sundays at 12:00 local
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        start: "2026-01-04"
        handoff: "12:00"
        rrule: FREQ=WEEKLY
        users: [bob, carol]
escalation_policies:
  - name: alpha-oncall
    description: whoever is on call, here and in Tokyo
    steps:
      - delay: 5m
        targets:
          schedules: [ny-primary, tokyo-primary]
      - delay: 10m
        targets:
          users: [alice]
          schedules: [berlin-weekly]
"""

ONCALL_BETA_YAML = """\
# on-call schedules of team beta
schedules:
  - name: tokyo-primary
    description: Tokyo, daily at 09:00 local
    time_zone: Asia/Tokyo
    layers:
      - name: daily
        start: "2026-01-01"
        handoff: "09:00"
        rrule: FREQ=DAILY
        users: [carol, alice]
"""

# (first handoff date, handoff hour, period in days, users) of each schedule,
# for computing the expected answers independently of the server.
ONCALL_ROTATIONS = {
    "ny-primary": ("2026-01-01", 9, 1, ["alice", "bob", "carol"], "America/New_York"),
    "berlin-weekly": ("2026-01-04", 12, 7, ["bob", "carol"], "Europe/Berlin"),
    "tokyo-primary": ("2026-01-01", 9, 1, ["carol", "alice"], "Asia/Tokyo"),
}


def setup_oncall_env(env):
    """Add the schedules of ONCALL_*_YAML to env's teams alpha and beta."""
    env.write("teams/alpha/schedules.yaml", ONCALL_ALPHA_YAML)
    env.write("teams/beta/schedules.yaml", ONCALL_BETA_YAML)


def iso_utc(ms):
    """Milliseconds since the epoch -> "2026-03-08T13:00:00Z" (whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def parse_utc(text):
    """"2026-03-08T13:00:00Z" -> milliseconds since the epoch."""
    import calendar
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


# ---------------------------------------------------------------------------
# paging: incidents, their notifications, and the `log` provider's file
# ---------------------------------------------------------------------------

def log_deliveries(path, incident=None):
    """The JSON lines the `log` provider appended to path (of one incident)."""
    if not path.exists():
        return []
    out = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [d for d in out if incident is None or d["incident"] == incident]


def trigger_incident(daemon, token, service, key, summary=None, **extra):
    """Open (or join) an incident through the generic door; its id."""
    body = dict({"service": service, "summary": summary or key, "dedup_key": key}, **extra)
    r = daemon.request("POST", "/api/v1/alerts", body, token=token)
    assert r.status == 202, r
    return r.body["alerts"][0]["incident_id"]


def incident_notifications(daemon, token, iid):
    """The outbox rows of an incident, as `GET /api/v1/incidents/{id}` shows them."""
    r = daemon.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body["notifications"]


def notifications_settled(rows):
    """True when there are rows and none is still queued or being sent."""
    return bool(rows) and all(n["state"] not in ("queued", "sending") for n in rows)
