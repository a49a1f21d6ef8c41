"""Each ingestion door's wire format, against opsbell directly: the
Alertmanager v2 API (what Prometheus posts), the Alertmanager webhook
receiver (payload version 4), PagerDuty Events API v2, opsbell's generic
POST /api/v1/alerts and `opsbell alert send`."""

import re

from e2e_support import (AM_HOOK_KEY, PD_KEY, PD_KEY_UNKNOWN, iso_time, metric_value,
                         wait_for)


def only(items, what):
    assert len(items) == 1, "expected exactly one %s, got %d: %r" % (what, len(items), items)
    return items[0]


def pd_ok(r, dedup_key=None):
    """PagerDuty's success reply, exactly; returns the dedup key."""
    assert r.status == 202, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), dict(r.headers)
    assert set(r.body) == {"status", "message", "dedup_key"}, r.body
    assert r.body["status"] == "success" and r.body["message"] == "Event processed", r.body
    if dedup_key is not None:
        assert r.body["dedup_key"] == dedup_key, r.body
    return r.body["dedup_key"]


def pd_invalid(r):
    """PagerDuty's 400 reply; returns the errors."""
    assert r.status == 400, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), dict(r.headers)
    assert r.body["status"] == "invalid event", r.body
    assert r.body["message"] == "Event object is invalid", r.body
    errors = r.body["errors"]
    assert isinstance(errors, list) and errors and all(isinstance(e, str) and e for e in errors), \
        r.body
    return errors


# ---- Alertmanager v2 API: POST /api/v2/alerts ---------------------------------


def test_alertmanager_api_fires_dedups_and_resolves_by_ends_at(ingest):
    alert = {"labels": {"alertname": "DoorAmApi", "service_tag": "prom", "severity": "page",
                        "instance": "web-1"},
             "annotations": {"summary": "web-1 is down", "description": "long text"},
             "startsAt": iso_time(-30), "endsAt": iso_time(300),
             "generatorURL": "http://prometheus.example/graph?g0.expr=up"}
    r = ingest.am([alert])
    # Alertmanager answers an empty 200
    assert r.status == 200 and r.raw == b"", r
    inc = only(ingest.incidents(service="ops-prom"), "ops-prom incident")
    assert inc["status"] == "triggered" and inc["team"] == "ops", inc
    assert inc["summary"] == "web-1 is down", inc  # annotations.summary first
    assert inc["severity"] == "critical", inc  # severity="page" is critical
    assert inc["alert_count"] == 1 and inc["open_alerts"] == 1, inc

    # Prometheus re-sends the same alert: same incident, counted
    r = ingest.am([alert])
    assert r.status == 200 and r.raw == b"", r
    inc = only(ingest.incidents(service="ops-prom"), "ops-prom incident")
    assert inc["alert_count"] == 2 and inc["open_alerts"] == 1, inc
    shown = ingest.incident(inc["id"])
    a = only(shown["alerts"], "alert")
    assert a["status"] == "firing" and a["event_count"] == 2, a
    assert a["labels"] == alert["labels"], a
    assert a["source"] == "alertmanager-api", a

    listed = [x for x in ingest.active_alerts() if x["labels"].get("alertname") == "DoorAmApi"]
    x = only(listed, "active DoorAmApi alert")
    assert x["receivers"] == [{"name": "ops-prom"}], x
    assert x["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}, x
    assert x["annotations"] == alert["annotations"], x
    assert x["generatorURL"] == alert["generatorURL"], x
    assert re.fullmatch(r"[0-9a-f]{16}", x["fingerprint"]), x

    # endsAt in the past: resolved, and the incident auto-resolves
    resolved = dict(alert, endsAt=iso_time(-1))
    r = ingest.am([resolved])
    assert r.status == 200 and r.raw == b"", r
    inc = ingest.incident(inc["id"])
    assert inc["status"] == "resolved" and inc["open_alerts"] == 0, inc
    assert inc["resolved_by"] == "auto-resolve", inc
    assert only(inc["alerts"], "alert")["status"] == "resolved", inc
    assert not [x for x in ingest.active_alerts() if x["labels"].get("alertname") == "DoorAmApi"]


def test_alertmanager_api_batch_of_alerts(ingest):
    alerts = [{"labels": {"alertname": "Batch%d" % i, "service_tag": "prom"}} for i in range(5)]
    r = ingest.am(alerts)
    assert r.status == 200 and r.raw == b"", r
    incs = ingest.incidents(service="ops-prom")
    assert sorted(i["summary"] for i in incs) == ["Batch%d" % i for i in range(5)], incs
    # no annotations, no severity label: the alertname and "warning"
    assert {i["severity"] for i in incs} == {"warning"}, incs
    # an empty array is a valid (empty) post
    r = ingest.am([])
    assert r.status == 200, r
    assert len(ingest.incidents()) == 5


# ---- Alertmanager webhook receiver: POST /api/v1/integrations/alertmanager/KEY ----


def wh_alert(name, status="firing", **labels):
    labels = dict({"alertname": name}, **labels)
    return {"status": status, "labels": labels,
            "annotations": {"summary": "%s summary" % name},
            "startsAt": iso_time(-60),
            "endsAt": iso_time(-1) if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example/graph", "fingerprint": "0123456789abcdef"}


def test_webhook_v4_per_alert_results(ingest):
    r = ingest.webhook([wh_alert("HookA"), wh_alert("HookB", instance="i1"),
                        wh_alert("HookC", status="resolved")])
    assert r.status == 200, r
    assert r.body["status"] == "ok", r.body
    res = r.body["alerts"]
    assert [x["status"] for x in res] == ["created", "created", "ignored"], res
    assert res[0]["service"] == "ops-am" and res[1]["service"] == "ops-am", res
    assert res[0]["incident_id"] != res[1]["incident_id"], res
    assert "incident_id" not in res[2], res
    incs = ingest.incidents(service="ops-am")
    assert sorted(i["summary"] for i in incs) == ["HookA summary", "HookB summary"], incs
    a_id = res[0]["incident_id"]
    shown = ingest.incident(a_id)
    assert only(shown["alerts"], "alert")["source"] == "alertmanager-webhook", shown

    # the same group again: A repeats, B resolves
    r = ingest.webhook([wh_alert("HookA"), wh_alert("HookB", status="resolved", instance="i1")],
                       status="firing")
    assert r.status == 200, r
    res2 = r.body["alerts"]
    assert [x["status"] for x in res2] == ["deduplicated", "resolved"], res2
    assert res2[0]["incident_id"] == a_id and res2[1]["incident_id"] == res[1]["incident_id"]
    assert ingest.incident(a_id)["status"] == "triggered"
    assert ingest.incident(a_id)["alert_count"] == 2
    assert ingest.incident(res[1]["incident_id"])["status"] == "resolved"


def test_webhook_unknown_key_creates_nothing(ingest):
    r = ingest.webhook([wh_alert("HookX")], key="no-such-key-0001")
    assert 400 <= r.status < 500, r
    assert isinstance(r.body, dict) and "integration key" in r.body["error"], r
    assert ingest.incidents() == []
    assert ingest.active_alerts() == []


# ---- PagerDuty Events API v2: POST /v2/enqueue --------------------------------


def test_pagerduty_trigger_dedup_acknowledge_resolve(ingest):
    key = pd_ok(ingest.pd("trigger", dedup_key="pd-door-1", summary="CPU on fire",
                          severity="warning", source="db-7",
                          payload=None), "pd-door-1")
    inc = only(ingest.incidents(service="ops-pd"), "ops-pd incident")
    assert inc["incident_key"] == key and inc["summary"] == "CPU on fire", inc
    assert inc["severity"] == "warning" and inc["status"] == "triggered", inc

    # same key again: the same incident
    pd_ok(ingest.pd("trigger", dedup_key="pd-door-1", summary="CPU on fire"), "pd-door-1")
    inc = only(ingest.incidents(service="ops-pd"), "ops-pd incident")
    assert inc["alert_count"] == 2 and inc["open_alerts"] == 1, inc

    pd_ok(ingest.pd("acknowledge", dedup_key="pd-door-1"), "pd-door-1")
    inc = ingest.incident(inc["id"])
    assert inc["status"] == "acknowledged" and inc["acknowledged_by"], inc
    assert "incident.acknowledged" in [t["kind"] for t in inc["timeline"]], inc

    pd_ok(ingest.pd("resolve", dedup_key="pd-door-1"), "pd-door-1")
    inc = ingest.incident(inc["id"])
    assert inc["status"] == "resolved" and inc["open_alerts"] == 0, inc


def test_pagerduty_full_payload_is_kept(ingest):
    body_payload = {"summary": "Example alert on host1.example.com", "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
                    "severity": "info", "timestamp": "2015-07-17T08:42:58.315+0000",
                    "component": "postgres", "group": "prod-datapipe", "class": "deploy",
                    "custom_details": {"ping time": "1500ms", "load avg": 0.75}}
    r = ingest.pd("trigger", dedup_key="pd-full", payload=body_payload,
                  images=[{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                           "href": "https://example.com/", "alt": "Example text"}],
                  links=[{"href": "https://example.com/", "text": "Link text"}],
                  client="Sample Monitoring Service", client_url="https://monitoring.example.com")
    pd_ok(r, "pd-full")
    inc = only(ingest.incidents(service="ops-pd"), "incident")
    assert inc["severity"] == "info" and inc["summary"] == body_payload["summary"], inc
    a = only(ingest.incident(inc["id"])["alerts"], "alert")
    # component, group and class become labels (for routing matchers)
    assert a["labels"] == {"class": "deploy", "component": "postgres",
                           "group": "prod-datapipe"}, a
    assert a["dedup_key"] == "pd-full" and a["source"] == "pagerduty", a


def test_pagerduty_generated_dedup_key_resolves(ingest):
    key1 = pd_ok(ingest.pd("trigger"))
    key2 = pd_ok(ingest.pd("trigger"))
    assert key1 != key2 and re.fullmatch(r"[0-9a-f]{32}", key1), (key1, key2)
    incs = ingest.incidents(service="ops-pd")
    assert sorted(i["incident_key"] for i in incs) == sorted([key1, key2]), incs
    pd_ok(ingest.pd("resolve", dedup_key=key1), key1)
    by_key = {i["incident_key"]: i for i in ingest.incidents(service="ops-pd")}
    assert by_key[key1]["status"] == "resolved", by_key
    assert by_key[key2]["status"] == "triggered", by_key


def test_pagerduty_resolve_or_ack_for_unknown_key_changes_nothing(ingest):
    pd_ok(ingest.pd("trigger", dedup_key="pd-known"), "pd-known")
    before = ingest.incidents()
    ignored0 = metric_value(ingest.metrics(), "opsbell_ingest_events_total", {"outcome": "ignored"})
    pd_ok(ingest.pd("resolve", dedup_key="pd-never-seen"), "pd-never-seen")
    pd_ok(ingest.pd("acknowledge", dedup_key="pd-never-seen-2"), "pd-never-seen-2")
    assert ingest.incidents() == before
    ignored1 = metric_value(ingest.metrics(), "opsbell_ingest_events_total", {"outcome": "ignored"})
    assert ignored1 == ignored0 + 2, (ignored0, ignored1)


def test_pagerduty_invalid_events(ingest):
    good = {"routing_key": PD_KEY, "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "critical"}}

    def without(*path):
        import copy
        b = copy.deepcopy(good)
        obj = b
        for p in path[:-1]:
            obj = obj[p]
        del obj[path[-1]]
        return b

    cases = [
        (without("event_action"), "event_action"),
        (without("routing_key"), "routing_key"),
        (without("payload"), "payload"),
        (without("payload", "summary"), "payload.summary"),
        (without("payload", "source"), "payload.source"),
        (without("payload", "severity"), "payload.severity"),
        (dict(good, routing_key="short"), "routing_key"),
        (dict(good, routing_key=PD_KEY + "x"), "routing_key"),
        (dict(good, event_action="explode"), "event_action"),
        (dict(good, payload=dict(good["payload"], severity="fatal")), "payload.severity"),
        ({"routing_key": PD_KEY, "event_action": "resolve"}, "dedup_key"),
        ({"routing_key": PD_KEY, "event_action": "acknowledge"}, "dedup_key"),
        (dict(good, dedup_key="k" * 256), "dedup_key"),
    ]
    for body, needle in cases:
        r = ingest.d.request("POST", "/v2/enqueue", body)
        errors = pd_invalid(r)
        assert any(needle in e for e in errors), (body, errors)
    # every problem at once, as PagerDuty reports them
    r = ingest.d.request("POST", "/v2/enqueue", {"routing_key": "x", "payload": {}})
    errors = pd_invalid(r)
    assert len(errors) >= 2, errors
    # an unknown (but well-formed) routing key
    r = ingest.d.request("POST", "/v2/enqueue", dict(good, routing_key=PD_KEY_UNKNOWN))
    assert pd_invalid(r) == ["Invalid routing key"], r.body
    assert ingest.incidents() == []
    assert ingest.active_alerts() == []


# ---- generic: POST /api/v1/alerts and `opsbell alert send` ------------------------


def test_generic_door_needs_a_write_token(ingest):
    body = {"service": "ops-pd", "summary": "needs a token"}
    r = ingest.d.request("POST", "/api/v1/alerts", body)
    assert r.status == 401, r
    reader = ingest.env.token_secret(name="reader", scope="read")
    r = ingest.generic(body, token=reader)
    assert r.status == 403, r
    r = ingest.generic(body, token="obt_" + "x" * 43)
    assert r.status == 401, r
    assert ingest.incidents() == []
    writer = ingest.env.token_secret(name="writer", scope="write")
    r = ingest.generic(body, token=writer)
    assert r.status == 202, r


def test_generic_door_per_alert_results(ingest):
    r = ingest.generic([
        {"service": "ops-pd", "summary": "one", "severity": "critical", "dedup_key": "g-1",
         "labels": {"host": "h1"}, "annotations": {"runbook": "http://wiki/x"},
         "details": {"a": [1, 2]}, "source": "cron"},
        {"integration_key": AM_HOOK_KEY, "summary": "two", "labels": {"alertname": "Two"}},
        {"summary": "three", "labels": {"job": "postgres", "severity": "critical",
                                        "alertname": "PgDown", "cluster": "c1"}},
        {"summary": "four", "labels": {"alertname": "NobodysAlert"}},
    ])
    assert r.status == 202, r
    assert r.body["status"] == "accepted", r.body
    res = r.body["alerts"]
    assert [x["status"] for x in res] == ["created", "created", "created", "unroutable"], res
    assert [x.get("service") for x in res] == ["ops-pd", "ops-am", "ops-db", None], res
    assert res[0]["dedup_key"] == "g-1", res
    assert all(isinstance(x.get("incident_id"), int) for x in res[:3]), res
    assert "incident_id" not in res[3], res
    inc = ingest.incident(res[0]["incident_id"])
    assert inc["summary"] == "one" and inc["severity"] == "critical", inc
    assert inc["alerts"][0]["source"] == "generic", inc
    # default severity is error
    assert ingest.incident(res[1]["incident_id"])["severity"] == "error"

    # resolve and acknowledge by dedup key; one failing alert does not fail its neighbours
    r = ingest.generic([{"service": "ops-pd", "action": "acknowledge", "dedup_key": "g-1"},
                        {"service": "no-such-service", "summary": "x"},
                        {"service": "ops-pd", "action": "resolve", "dedup_key": "g-1"}])
    assert r.status == 202, r
    res = r.body["alerts"]
    assert [x["status"] for x in res] == ["acknowledged", "error", "resolved"], res
    assert "no-such-service" in res[1]["error"], res
    inc = ingest.incident(inc["id"])
    assert inc["status"] == "resolved" and inc["acknowledged_at_ms"], inc


def test_alert_send_cli(ingest):
    e, url, tok = ingest.env, ingest.url, ingest.token
    r = e.cli("alert", "send", "--service", "ops-pd", "--summary", "from the CLI",
              "--severity", "critical", "--dedup", "cli-1", "--label", "host=h1",
              "--label", "team=ops", url=url, token=tok)
    assert r.code == 0, r
    m = re.fullmatch(r"created: incident #(\d+) \(dedup key cli-1\)\n", r.stdout)
    assert m, r
    iid = int(m.group(1))
    inc = ingest.incident(iid)
    assert inc["service"] == "ops-pd" and inc["summary"] == "from the CLI", inc
    assert inc["severity"] == "critical", inc
    assert inc["alerts"][0]["labels"] == {"host": "h1", "team": "ops"}, inc

    r = e.cli("alert", "send", "--service", "ops-pd", "--summary", "from the CLI",
              "--dedup", "cli-1", "--json", url=url, token=tok)
    assert r.code == 0, r
    body = r.json()
    assert body["status"] == "accepted", body
    assert body["alerts"][0]["status"] == "deduplicated", body
    assert body["alerts"][0]["incident_id"] == iid, body

    r = e.cli("alert", "send", "--service", "ops-pd", "--resolve", "--dedup", "cli-1",
              url=url, token=tok)
    assert r.code == 0, r
    assert r.stdout.startswith("resolved: incident #%d" % iid), r
    assert ingest.incident(iid)["status"] == "resolved"

    # failures: a one-line reason and a non-zero exit, nothing created
    r = e.cli("alert", "send", "--service", "nope", "--summary", "x", url=url, token=tok)
    assert r.code != 0 and r.stdout == "", r
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr, r
    r = e.cli("alert", "send", "--summary", "x", url=url, token=tok)
    assert r.code != 0 and "--service" in r.stderr, r
    r = e.cli("alert", "send", "--service", "ops-pd", url=url, token=tok)
    assert r.code != 0 and "--summary" in r.stderr, r
    r = e.cli("alert", "send", "--service", "ops-pd", "--summary", "x", "--label", "novalue",
              url=url, token=tok)
    assert r.code != 0 and "NAME=VALUE" in r.stderr, r
    r = e.cli("alert", "send", "--service", "ops-pd", "--summary", "x", "--severity", "huge",
              url=url, token=tok)
    assert r.code != 0 and "severity" in r.stderr, r
    r = e.cli("alert", "send", "--service", "ops-pd", "--summary", "x", url=url)
    assert r.code != 0, r
    assert len(ingest.incidents()) == 1


def test_alertmanager_api_alert_resolves_when_its_ends_at_passes(ingest):
    """Alertmanager semantics: a sender that stops re-sending lets endsAt pass,
    and the alert (and its incident) resolve without any resolve message."""
    r = ingest.am([{"labels": {"alertname": "Expiring", "service_tag": "prom"},
                    "startsAt": iso_time(-5), "endsAt": iso_time(2)}])
    assert r.status == 200, r
    (inc,) = ingest.incidents(service="ops-prom")
    assert inc["status"] == "triggered", inc
    wait_for(lambda: ingest.incident(inc["id"])["status"] == "resolved", 8,
             "the alert to expire at its endsAt")
    shown = ingest.incident(inc["id"])
    assert shown["alerts"][0]["status"] == "resolved", shown
    assert ingest.active_alerts() == []
