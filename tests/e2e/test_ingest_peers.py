"""Real peers: Prometheus (Debian `prometheus`) posting an always-firing
rule straight to opsbell's /api/v2/alerts, amtool querying opsbell as if it
were an Alertmanager, and a real Alertmanager (Debian
`prometheus-alertmanager`) whose webhook receiver points at opsbell."""

import json
import os
import shutil
import subprocess
import time

import pytest

from e2e_support import AM_HOOK_KEY, Peer, free_port, http_request, iso_time, wait_for

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
AMTOOL = "/usr/bin/amtool"


def need(path):
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not installed (Debian packages prometheus, "
                    "prometheus-alertmanager)" % path)


RULES = """\
groups:
  - name: opsbell-e2e
    interval: 1s
    rules:
      - alert: OpsbellE2EAlwaysFiring
        expr: vector(1)
        for: 0s
        labels:
          severity: critical
          service_tag: prom
        annotations:
          summary: the e2e rule that always fires
"""

PROMETHEUS_YML = """\
global:
  scrape_interval: 1m
  evaluation_interval: 1s
rule_files:
  - rules.yml
alerting:
  alertmanagers:
    - api_version: v2
      static_configs:
        - targets: ["127.0.0.1:%d"]
"""


def test_prometheus_always_firing_rule_is_exactly_one_incident(ingest):
    need(PROMETHEUS)
    e = ingest.env
    port = ingest.d.port
    pdir = e.dir / "prometheus"
    (pdir / "data").mkdir(parents=True)
    (pdir / "rules.yml").write_text(RULES)
    (pdir / "prometheus.yml").write_text(PROMETHEUS_YML % port)
    prom_port = free_port()
    prom = Peer(e, "prometheus", [
        PROMETHEUS, "--config.file=%s" % (pdir / "prometheus.yml"),
        "--storage.tsdb.path=%s" % (pdir / "data"),
        "--web.listen-address=127.0.0.1:%d" % prom_port,
        "--rules.alert.resend-delay=1s", "--log.level=info"])
    prom.wait_ready("http://127.0.0.1:%d/-/ready" % prom_port)

    def incidents():
        return [i for i in ingest.incidents(service="ops-prom")
                if i["summary"] == "the e2e rule that always fires"]

    first = wait_for(incidents, 30, "the incident of Prometheus's always-firing rule")
    assert len(first) == 1, first
    inc = first[0]
    assert inc["severity"] == "critical" and inc["status"] == "triggered", inc
    count0 = inc["alert_count"]

    # a few resend cycles later: still exactly one incident, more alerts counted
    time.sleep(5)
    assert prom.alive(), prom.log_text()[-3000:]
    now = incidents()
    assert len(now) == 1, "Prometheus re-sends made %d incidents: %r" % (len(now), now)
    assert now[0]["id"] == inc["id"] and now[0]["status"] == "triggered", now
    assert now[0]["alert_count"] >= count0 + 2, (count0, now[0])
    assert now[0]["open_alerts"] == 1, now[0]
    shown = ingest.incident(inc["id"])
    assert len(shown["alerts"]) == 1, shown["alerts"]
    a = shown["alerts"][0]
    assert a["labels"] == {"alertname": "OpsbellE2EAlwaysFiring", "severity": "critical",
                           "service_tag": "prom"}, a
    assert a["source"] == "alertmanager-api" and a["event_count"] == now[0]["alert_count"], a
    # Prometheus saw no errors sending
    assert "Error sending alert" not in prom.log_text(), prom.log_text()[-3000:]

    # amtool, as against an Alertmanager; GET /api/v2/alerts needs a token
    if os.access(AMTOOL, os.X_OK):
        hc = e.dir / "amtool-http.yml"
        hc.write_text("authorization:\n  type: Bearer\n  credentials: %s\n" % ingest.token)
        base = [AMTOOL, "--alertmanager.url=http://127.0.0.1:%d" % port]
        p = subprocess.run(base + ["--http.config.file=%s" % hc, "alert", "query", "-o", "json"],
                           capture_output=True, timeout=30, text=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        listed = json.loads(p.stdout)
        mine = [x for x in listed if x["labels"].get("alertname") == "OpsbellE2EAlwaysFiring"]
        assert len(mine) == 1, listed
        assert mine[0]["receivers"] == [{"name": "ops-prom"}], mine
        assert mine[0]["status"]["state"] == "active", mine
        p = subprocess.run(base + ["--http.config.file=%s" % hc, "alert", "query",
                                   "alertname=OpsbellE2EAlwaysFiring"],
                           capture_output=True, timeout=30, text=True)
        assert p.returncode == 0 and "OpsbellE2EAlwaysFiring" in p.stdout, (p.stdout, p.stderr)
        # without the token: refused
        p = subprocess.run(base + ["alert", "query"], capture_output=True, timeout=30, text=True)
        assert p.returncode != 0, (p.stdout, p.stderr)

    # Prometheus goes away: the alert's endsAt passes and the incident resolves
    prom.proc.terminate()
    prom.proc.wait(15)
    resolved = wait_for(lambda: ingest.incident(inc["id"])["status"] == "resolved", 30,
                        "the incident to resolve once Prometheus stopped re-sending")
    assert resolved


ALERTMANAGER_YML = """\
route:
  receiver: opsbell
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1m
receivers:
  - name: opsbell
    webhook_configs:
      - url: http://127.0.0.1:%d/api/v1/integrations/alertmanager/%s
        send_resolved: true
"""


def test_alertmanager_webhook_receiver(ingest):
    need(ALERTMANAGER)
    e = ingest.env
    adir = e.dir / "alertmanager"
    (adir / "data").mkdir(parents=True)
    (adir / "alertmanager.yml").write_text(ALERTMANAGER_YML % (ingest.d.port, AM_HOOK_KEY))
    am_port = free_port()
    am = Peer(e, "alertmanager", [
        ALERTMANAGER, "--config.file=%s" % (adir / "alertmanager.yml"),
        "--storage.path=%s" % (adir / "data"), "--cluster.listen-address=",
        "--web.listen-address=127.0.0.1:%d" % am_port, "--log.level=debug"])
    am_url = "http://127.0.0.1:%d" % am_port
    am.wait_ready(am_url + "/-/ready")

    labels = {"alertname": "ViaAlertmanager", "instance": "web-7", "severity": "warning",
              "job": "postgres"}  # ops-db's matchers would claim it: the key must win
    alert = {"labels": labels, "annotations": {"summary": "web-7 via Alertmanager"},
             "startsAt": iso_time(-10), "endsAt": iso_time(600),
             "generatorURL": "http://prometheus.example/graph"}
    r = http_request(am_url, "POST", "/api/v2/alerts", [alert])
    assert r.status == 200, r

    got = wait_for(lambda: ingest.incidents(service="ops-am"), 30,
                   "the incident of the alert sent through Alertmanager")
    assert len(got) == 1, got
    inc = got[0]
    assert inc["summary"] == "web-7 via Alertmanager" and inc["status"] == "triggered", inc
    assert inc["severity"] == "warning", inc
    assert ingest.incidents(service="ops-db") == []
    shown = ingest.incident(inc["id"])
    assert shown["alerts"][0]["source"] == "alertmanager-webhook", shown
    assert shown["alerts"][0]["labels"] == labels, shown

    # the same alert again does not make a second incident
    r = http_request(am_url, "POST", "/api/v2/alerts", [alert])
    assert r.status == 200, r
    time.sleep(2.5)
    assert len(ingest.incidents()) == 1, ingest.incidents()

    # resolved at Alertmanager: it sends "resolved" and the incident auto-resolves
    r = http_request(am_url, "POST", "/api/v2/alerts", [dict(alert, endsAt=iso_time(-1))])
    assert r.status == 200, r
    wait_for(lambda: ingest.incident(inc["id"])["status"] == "resolved", 30,
             "the incident to resolve after Alertmanager sent the resolved alert")
    final = ingest.incident(inc["id"])
    assert final["resolved_by"] == "auto-resolve" and final["open_alerts"] == 0, final
    assert len(ingest.incidents()) == 1
    assert "level=error" not in am.log_text(), am.log_text()[-3000:]


def test_amtool_alert_query_filters(ingest):
    """amtool sends its matchers and "silenced=false" as query parameters of
    GET /api/v2/alerts (Alertmanager filters on the server): `amtool alert
    query alertname=X` must list only X, and silenced alerts only with -s."""
    need(AMTOOL)
    r = ingest.am([{"labels": {"alertname": "QueryMe", "service_tag": "prom"}},
                   {"labels": {"alertname": "NotMe", "service_tag": "prom"}},
                   {"labels": {"alertname": "Hushed", "service_tag": "prom"}}])
    assert r.status == 200, r
    r = ingest.d.request("POST", "/api/v1/silences",
                         {"matchers": ['alertname="Hushed"'], "duration": "1h",
                          "comment": "amtool test"}, token=ingest.token)
    assert r.status == 201, r
    r = ingest.am([{"labels": {"alertname": "Hushed", "service_tag": "prom"}}])
    assert r.status == 200, r
    hc = ingest.env.dir / "amtool-http.yml"
    hc.write_text("authorization:\n  type: Bearer\n  credentials: %s\n" % ingest.token)

    def query(*args):
        p = subprocess.run([AMTOOL, "--alertmanager.url=%s" % ingest.url,
                            "--http.config.file=%s" % hc, "alert", "query", "-o", "json"]
                           + list(args), capture_output=True, timeout=30, text=True)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return sorted(a["labels"]["alertname"] for a in json.loads(p.stdout))

    assert query("alertname=QueryMe") == ["QueryMe"]
    assert query('alertname=~"Query.*|NotMe"') == ["NotMe", "QueryMe"]
    # amtool's default: active, not silenced (as against an Alertmanager)
    assert query() == ["NotMe", "QueryMe"]
    # -s alone asks for silenced alerts only (active=false&silenced=true); -a -s for both
    assert query("--silenced") == ["Hushed"]
    assert query("--active", "--silenced") == ["Hushed", "NotMe", "QueryMe"]
