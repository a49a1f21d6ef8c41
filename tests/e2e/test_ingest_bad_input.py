"""Bad input for the ingestion doors: every case gets a 4xx with a JSON
reason, creates nothing (no incident, no alert) and the daemon keeps
serving. One daemon (http.max_body_bytes = 4 MiB) serves the whole module,
so that it also has to survive all of them in a row."""

import json

import pytest

from e2e_support import (AM_HOOK_KEY, PD_KEY, PD_KEY_UNKNOWN, Env, Ingest, setup_ingest_env,
                         iso_time)

MAX_BODY = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def bad(tmp_path_factory, binary):
    e = Env(tmp_path_factory.mktemp("ingest-bad"), max_body_bytes=MAX_BODY, threads=4)
    setup_ingest_env(e)
    token = e.token_secret(name="admin", scope="admin")
    d = e.daemon()
    yield Ingest(e, d, token, token_name="admin")
    e.cleanup()


@pytest.fixture
def nothing_created(bad):
    """Asserts, after the test, that the daemon still serves and that no
    incident and no alert exist."""
    yield bad
    assert bad.d.alive(), "the daemon died; log:\n" + bad.d.log_text()[-3000:]
    assert bad.d.get("/healthz").status == 200
    assert bad.incidents() == [], "a bad request created incidents"
    assert bad.active_alerts() == [], "a bad request created alerts"


def dumps(obj):
    return json.dumps(obj).encode()


def am_alert(**kw):
    return dict({"labels": {"alertname": "Bad", "service_tag": "prom"}}, **kw)


def many_labels(n):
    return {"l%06d" % i: "v" for i in range(n)}


TEN_MB = b"[" + b" " * (10 * 1024 * 1024) + b"]"
HUGE_VALUE = "x" * (1024 * 1024)
BAD_UTF8 = b"\xff\xfe\xc3\x28"

# (id, body bytes, expected status, text expected in the reason or None)
AM_API_CASES = [
    ("empty", b"", 400, None),
    ("malformed", b"not json", 400, "JSON"),
    ("truncated", dumps([am_alert()])[:-7], 400, "JSON"),
    ("trailing-garbage", dumps([am_alert()]) + b" ]", 400, None),
    ("object-not-array", dumps(am_alert()), 400, "array"),
    ("element-not-object", b"[1]", 400, "alerts[0]"),
    ("labels-missing", b"[{}]", 400, "labels"),
    ("labels-empty", dumps([{"labels": {}}]), 400, "labels"),
    ("labels-not-object", dumps([{"labels": ["a"]}]), 400, "labels"),
    ("label-value-number", dumps([{"labels": {"alertname": 5}}]), 400, "alertname"),
    ("label-name-invalid", dumps([{"labels": {"1bad": "x"}}]), 400, "1bad"),
    ("annotations-not-object", dumps([am_alert(annotations="x")]), 400, "annotations"),
    ("startsAt-not-time", dumps([am_alert(startsAt="yesterday")]), 400, "startsAt"),
    ("startsAt-number", dumps([am_alert(startsAt=1700000000)]), 400, "startsAt"),
    ("startsAt-far-future", dumps([am_alert(startsAt="2999-01-01T00:00:00Z")]), 400, "startsAt"),
    ("startsAt-25h-ahead", dumps([am_alert(startsAt=iso_time(25 * 3600))]), 400, "startsAt"),
    ("startsAt-far-past", dumps([am_alert(startsAt="1970-01-01T00:00:01Z")]), 400, "startsAt"),
    ("startsAt-year-99999", dumps([am_alert(startsAt="99999-01-01T00:00:00Z")]), 400,
     "startsAt"),
    ("endsAt-far-past", dumps([am_alert(endsAt="1990-01-01T00:00:00Z")]), 400, "endsAt"),
    ("endsAt-before-startsAt", dumps([am_alert(startsAt=iso_time(-60), endsAt=iso_time(-120))]),
     400, "endsAt"),
    ("generatorURL-number", dumps([am_alert(generatorURL=5)]), 400, "generatorURL"),
    ("100000-labels", dumps([{"labels": many_labels(100000)}]), 400, "labels"),
    ("1MB-label-value", dumps([{"labels": {"alertname": HUGE_VALUE}}]), 400, "alertname"),
    ("1MB-annotation", dumps([am_alert(annotations={"summary": HUGE_VALUE})]), 400,
     "annotations"),
    ("invalid-utf8", b'[{"labels": {"alertname": "' + BAD_UTF8 + b'"}}]', 400, None),
    ("nul-in-label", b'[{"labels": {"alertname": "a\\u0000b"}}]', 400, None),
    ("duplicate-label", b'[{"labels": {"alertname": "a", "alertname": "b"}}]', 400, None),
    ("deep-nesting", b'[{"labels": {"alertname": "x"}, "annotations": {"a": ' + b"[" * 50 +
     b"]" * 50 + b"}}]", 400, None),
    ("10001-alerts", dumps([am_alert()] * 10001), 400, "10000"),
    ("one-bad-alert-spoils-the-batch", dumps([am_alert(), {"labels": {"alertname": 1}}]), 400,
     "alerts[1]"),
    ("10MB-body", TEN_MB, 413, None),
]


def check_reason(r, status, needle):
    assert r.status == status, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), dict(r.headers)
    assert isinstance(r.body, dict), r
    reason = r.body.get("error")
    if reason is None and "errors" in r.body:  # PagerDuty's shape
        reason = " ".join(r.body["errors"])
    assert isinstance(reason, str) and reason.strip(), r
    if needle is not None:
        assert needle in reason, (needle, r)
    return reason


@pytest.mark.parametrize("case", AM_API_CASES, ids=[c[0] for c in AM_API_CASES])
def test_alertmanager_api_bad_input(nothing_created, case):
    _, body, status, needle = case
    r = nothing_created.d.request("POST", "/api/v2/alerts", body)
    check_reason(r, status, needle)


def wh(alerts, **top):
    body = {"version": "4", "groupKey": "{}", "status": "firing", "receiver": "opsbell",
            "alerts": alerts}
    body.update(top)
    return body


WH_ALERT = {"status": "firing", "labels": {"alertname": "BadHook"}}

WEBHOOK_CASES = [
    ("malformed", AM_HOOK_KEY, b"{", 400, "JSON"),
    ("truncated", AM_HOOK_KEY, dumps(wh([WH_ALERT]))[:-3], 400, "JSON"),
    ("array-not-object", AM_HOOK_KEY, dumps([WH_ALERT]), 400, "object"),
    ("version-missing", AM_HOOK_KEY, dumps({"alerts": [WH_ALERT]}), 400, "version"),
    ("version-3", AM_HOOK_KEY, dumps(wh([WH_ALERT], version="3")), 400, "version"),
    ("version-number", AM_HOOK_KEY, dumps(wh([WH_ALERT], version=4)), 400, "version"),
    ("alerts-missing", AM_HOOK_KEY, dumps({"version": "4"}), 400, "alerts"),
    ("alerts-not-array", AM_HOOK_KEY, dumps(wh({"a": 1})), 400, "alerts"),
    ("status-missing", AM_HOOK_KEY, dumps(wh([{"labels": {"alertname": "x"}}])), 400, "status"),
    ("status-bad", AM_HOOK_KEY, dumps(wh([dict(WH_ALERT, status="burning")])), 400, "status"),
    ("labels-missing", AM_HOOK_KEY, dumps(wh([{"status": "firing"}])), 400, "labels"),
    ("startsAt-far-future", AM_HOOK_KEY,
     dumps(wh([dict(WH_ALERT, startsAt="2999-01-01T00:00:00Z")])), 400, "startsAt"),
    ("invalid-utf8", AM_HOOK_KEY, b'{"version": "4", "alerts": [{"status": "firing", '
     b'"labels": {"alertname": "' + BAD_UTF8 + b'"}}]}', 400, None),
    ("100000-labels", AM_HOOK_KEY, dumps(wh([dict(WH_ALERT, labels=many_labels(100000))])), 400,
     "labels"),
    ("unknown-key", "no-such-key-0001", dumps(wh([WH_ALERT])), 404, "integration key"),
    ("10MB-body", AM_HOOK_KEY, TEN_MB, 413, None),
]


@pytest.mark.parametrize("case", WEBHOOK_CASES, ids=[c[0] for c in WEBHOOK_CASES])
def test_webhook_bad_input(nothing_created, case):
    _, key, body, status, needle = case
    r = nothing_created.d.request("POST", "/api/v1/integrations/alertmanager/" + key, body)
    check_reason(r, status, needle)


PD_GOOD = {"routing_key": PD_KEY, "event_action": "trigger", "dedup_key": "bad-pd",
           "payload": {"summary": "s", "source": "h", "severity": "critical"}}


def pd_with(**payload):
    return dumps(dict(PD_GOOD, payload=dict(PD_GOOD["payload"], **payload)))


PD_CASES = [
    ("empty", b"", 400, None),
    ("malformed", b"{routing_key: 1}", 400, "JSON"),
    ("truncated", dumps(PD_GOOD)[:-10], 400, "JSON"),
    ("array", dumps([PD_GOOD]), 400, "object"),
    ("routing-key-number", dumps(dict(PD_GOOD, routing_key=12345)), 400, "routing_key"),
    ("unknown-routing-key", dumps(dict(PD_GOOD, routing_key=PD_KEY_UNKNOWN)), 400,
     "Invalid routing key"),
    ("event-action-number", dumps(dict(PD_GOOD, event_action=1)), 400, "event_action"),
    ("payload-string", dumps(dict(PD_GOOD, payload="x")), 400, "payload"),
    ("summary-number", pd_with(summary=5), 400, "payload.summary"),
    ("summary-blank", pd_with(summary=""), 400, "payload.summary"),
    ("summary-1025-chars", pd_with(summary="é" * 1025), 400, "payload.summary"),
    ("timestamp-far-future", pd_with(timestamp="2999-01-01T00:00:00Z"), 400, "timestamp"),
    ("timestamp-far-past", pd_with(timestamp="1999-12-31T23:59:59Z"), 400, "timestamp"),
    ("timestamp-garbage", pd_with(timestamp="last tuesday"), 400, "timestamp"),
    ("custom-details-too-big", pd_with(custom_details={"x": "y" * 70000}), 400, None),
    ("1MB-component", pd_with(component=HUGE_VALUE), 400, "component"),
    ("links-not-array", dumps(dict(PD_GOOD, links="x")), 400, "links"),
    ("dedup-key-number", dumps(dict(PD_GOOD, dedup_key=7)), 400, "dedup_key"),
    ("invalid-utf8", dumps(PD_GOOD).replace(b'"s"', b'"' + BAD_UTF8 + b'"'), 400, None),
    ("deep-nesting", pd_with(custom_details=json.loads("[" * 60 + "]" * 60)), 400, None),
    ("10MB-body", TEN_MB, 413, None),
]


@pytest.mark.parametrize("case", PD_CASES, ids=[c[0] for c in PD_CASES])
def test_pagerduty_bad_input(nothing_created, case):
    _, body, status, needle = case
    r = nothing_created.d.request("POST", "/v2/enqueue", body)
    reason = check_reason(r, status, needle)
    if status == 400:  # PagerDuty's own error shape
        assert r.body["status"] == "invalid event", r.body
        assert r.body["message"] == "Event object is invalid", r.body
        assert isinstance(r.body["errors"], list) and r.body["errors"], r.body
        assert reason


G_GOOD = {"service": "ops-pd", "summary": "s"}

GENERIC_CASES = [
    ("empty", b"", 400, None),
    ("malformed", b"{{", 400, "JSON"),
    ("truncated", dumps(G_GOOD)[:-2], 400, "JSON"),
    ("empty-array", b"[]", 400, "array"),
    ("string", b'"alert"', 400, None),
    ("unknown-field", dumps(dict(G_GOOD, colour="red")), 400, "colour"),
    ("summary-missing", dumps({"service": "ops-pd"}), 400, "summary"),
    ("summary-number", dumps(dict(G_GOOD, summary=5)), 400, "summary"),
    ("severity-bad", dumps(dict(G_GOOD, severity="apocalyptic")), 400, "severity"),
    ("action-bad", dumps(dict(G_GOOD, action="explode")), 400, "action"),
    ("resolve-without-key", dumps({"service": "ops-pd", "action": "resolve"}), 400,
     "dedup_key"),
    ("labels-array", dumps(dict(G_GOOD, labels=["a"])), 400, "labels"),
    ("details-string", dumps(dict(G_GOOD, details="x")), 400, "details"),
    ("dedup-key-256", dumps(dict(G_GOOD, dedup_key="k" * 256)), 400, "dedup_key"),
    ("100000-labels", dumps(dict(G_GOOD, labels=many_labels(100000))), 400, "labels"),
    ("1MB-label-value", dumps(dict(G_GOOD, labels={"a": HUGE_VALUE})), 400, "labels"),
    ("invalid-utf8", b'{"service": "ops-pd", "summary": "' + BAD_UTF8 + b'"}', 400, None),
    ("second-element-bad", dumps([G_GOOD, dict(G_GOOD, severity=3)]), 400, "alerts[1]"),
    ("unknown-service", dumps(dict(G_GOOD, service="no-such-service")), 404, "no-such-service"),
    ("unknown-integration-key", dumps({"integration_key": "no-such-key", "summary": "s"}), 404,
     "integration key"),
    ("10MB-body", TEN_MB, 413, None),
]


@pytest.mark.parametrize("case", GENERIC_CASES, ids=[c[0] for c in GENERIC_CASES])
def test_generic_bad_input(nothing_created, case):
    _, body, status, needle = case
    ig = nothing_created
    r = ig.d.request("POST", "/api/v1/alerts", body, token=ig.token)
    check_reason(r, status, needle)


def test_generic_wrong_content_type(nothing_created):
    ig = nothing_created
    r = ig.d.request("POST", "/api/v1/alerts", dumps(G_GOOD), token=ig.token,
                     content_type="text/plain")
    check_reason(r, 415, "Content-Type")


def test_daemon_survived_everything(bad):
    """Last in the module: after every bad request, good ones still work."""
    assert bad.pd("trigger", dedup_key="after-all").status == 202
    r = bad.am([{"labels": {"alertname": "AfterAll", "service_tag": "prom"}}])
    assert r.status == 200, r
    assert sorted(i["service"] for i in bad.incidents()) == ["ops-pd", "ops-prom"]
