"""GET /healthz, GET /metrics and request ids."""

import re
import time

from e2e_support import run_cli

SAMPLE_RE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>[-+0-9.eEInfNa]+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> list of (name, labels dict, float value).
    Fails on any line that is neither a comment nor a sample."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("# TYPE"):
                assert re.match(r"^# TYPE \S+ (counter|gauge|histogram|summary|untyped)$", line), line
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = dict(LABEL_RE.findall(m.group("labels") or ""))
        samples.append((m.group("name"), labels, float(m.group("value"))))
    return samples


def find(samples, name, **labels):
    return [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]


def wait_for_samples(daemon, pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        samples = parse_metrics(daemon.get("/metrics").text)
        if pred(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_healthz_reports_ok_store_and_schema(daemon):
    status, headers, body = daemon.get("/healthz")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert body["status"] == "ok"
    assert body["store"] == "sqlite"
    assert isinstance(body["schema_version"], int) and body["schema_version"] >= 1
    assert isinstance(body["version"], str) and body["version"]
    assert isinstance(body["uptime_seconds"], int) and body["uptime_seconds"] >= 0


def test_healthz_agrees_with_version_command(daemon):
    body = daemon.get("/healthz").body
    r = run_cli(["version", "--json"])
    assert r.code == 0, r
    v = r.json()
    assert v["version"] == body["version"]
    assert v["schema_version"] == body["schema_version"]


def test_head_healthz_has_no_body(daemon):
    r = daemon.request("HEAD", "/healthz")
    assert r.status == 200
    assert r.raw == b""


def test_metrics_text_format(daemon):
    assert daemon.get("/healthz").status == 200
    wait_for_samples(daemon, lambda smp: find(smp, "opsbell_http_requests_total",
                                              route="/healthz", code="200"))
    r = daemon.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(r.text)
    names = {n for n, _, _ in samples}

    info = [(l, v) for n, l, v in samples if n == "opsbell_build_info"]
    assert len(info) == 1 and info[0][1] == 1.0, info
    assert info[0][0].get("version") == daemon.get("/healthz").body["version"]
    assert info[0][0].get("commit")

    ok = find(samples, "opsbell_http_requests_total", route="/healthz", method="GET", code="200")
    assert ok and ok[0] >= 1, r.text
    assert "# TYPE opsbell_http_requests_total counter" in r.text
    assert "# TYPE opsbell_http_request_duration_seconds histogram" in r.text
    assert {"opsbell_http_request_duration_seconds_bucket",
            "opsbell_http_request_duration_seconds_sum",
            "opsbell_http_request_duration_seconds_count"} <= names
    assert "opsbell_process_start_time_seconds" in names
    assert find(samples, "opsbell_config_reloads_total", result="success") == [0.0]
    assert find(samples, "opsbell_config_reloads_total", result="failure") == [0.0]


def test_metrics_counts_exactly_and_histogram_is_consistent(daemon):
    # /api/v1/whoami without a token: a route nobody else calls, so the
    # counts are exact (the readiness probe polls /healthz, not this).
    for _ in range(3):
        assert daemon.get("/api/v1/whoami").status == 401
    assert daemon.get("/no/such/endpoint").status == 404
    # A request is counted just after its response is queued: wait until all 4 are.
    samples = wait_for_samples(daemon, lambda smp: sum(
        v for n, l, v in smp if n == "opsbell_http_requests_total"
        and l.get("code") in ("401", "404")) >= 4)
    route = dict(route="/api/v1/whoami", method="GET")
    assert find(samples, "opsbell_http_requests_total", code="401", **route) == [3.0]
    assert find(samples, "opsbell_http_requests_total", code="200", **route) == []

    buckets = [(l["le"], v) for n, l, v in samples
               if n == "opsbell_http_request_duration_seconds_bucket"
               and l.get("route") == "/api/v1/whoami"]
    assert buckets and buckets[-1][0] == "+Inf"
    values = [v for _, v in buckets]
    assert values == sorted(values), "buckets must be cumulative: %r" % buckets
    assert values[-1] == 3.0
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds)
    assert find(samples, "opsbell_http_request_duration_seconds_count", **route) == [3.0]
    total = find(samples, "opsbell_http_request_duration_seconds_sum", **route)
    assert len(total) == 1 and total[0] >= 0

    # The 404 was counted too, under some route label, with its code.
    not_found = [v for n, l, v in samples
                 if n == "opsbell_http_requests_total" and l.get("code") == "404"]
    assert sum(not_found) == 1.0


def test_request_id_generated_unique_and_echoed(daemon):
    a = daemon.get("/healthz")
    b = daemon.get("/healthz")
    ida, idb = a.headers.get("X-Request-Id"), b.headers.get("X-Request-Id")
    assert ida and idb and ida != idb
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", ida)
    assert a.headers.get("X-Content-Type-Options") == "nosniff"

    given = "e2e-req.42_ABC"
    r = daemon.get("/healthz", headers={"X-Request-Id": given})
    assert r.headers.get("X-Request-Id") == given
    # Also on errors, and in the access log.
    r = daemon.get("/api/v1/whoami", headers={"X-Request-Id": "e2e-denied-1"})
    assert r.status == 401 and r.headers.get("X-Request-Id") == "e2e-denied-1"
    daemon.wait_for_log(r"request_id=e2e-denied-1\b.*status=401")


def test_request_id_length_limit(daemon):
    longest = "L" * 64
    assert daemon.get("/healthz", headers={"X-Request-Id": longest}).headers["X-Request-Id"] \
        == longest
    r = daemon.get("/healthz", headers={"X-Request-Id": "L" * 65})
    assert r.headers["X-Request-Id"] != "L" * 65


def test_unacceptable_request_id_is_replaced(daemon):
    for bad in ("has space", "x" * 200, "semi;colon", "quote\"d"):
        r = daemon.get("/healthz", headers={"X-Request-Id": bad})
        assert r.status == 200
        rid = r.headers.get("X-Request-Id")
        assert rid and rid != bad
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid), rid
    assert "has space" not in daemon.log_text()


LOG_LINE_RE = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
                         r'subsystem=\S+ (request_id=\S+ )?msg=("(?:[^"\\]|\\.)*"|\S+)( .*)?$')


def assert_logfmt(text):
    lines = text.splitlines()
    assert lines
    bad = [l for l in lines if not LOG_LINE_RE.match(l)]
    assert not bad, "log lines that are not logfmt:\n" + "\n".join(bad[:5])


def test_daemon_log_is_logfmt_and_clean(daemon, admin_token):
    daemon.get("/api/v1/whoami", token=admin_token)
    daemon.get("/nope")
    assert daemon.stop() == 0
    log = daemon.log_text()
    assert_logfmt(log)
    assert re.search(r"level=info subsystem=daemon msg=listening url=http://127\.0\.0\.1:%d "
                     % daemon.port, log), log
    # a normal start and stop has nothing to warn about
    warnings = [l for l in log.splitlines() if "level=warn" in l or "level=error" in l]
    assert not warnings, "\n".join(warnings)


def test_daemon_log_is_logfmt_with_one_http_thread(make_env):
    e = make_env(threads=1)
    d = e.daemon()
    assert d.get("/healthz").status == 200
    assert d.stop() == 0
    log = d.log_text()
    assert_logfmt(log)
    # http.threads: 1 is a valid setting: nothing to warn about
    warnings = [l for l in log.splitlines() if "level=warn" in l or "level=error" in l]
    assert not warnings, "\n".join(warnings)
