"""Dedup and grouping: an alert storm with one dedup key is one incident;
dedup_labels group several label sets into one incident; auto_resolve; a
re-trigger after resolve (automatic or by a person) opens a new incident."""

import re
import threading

from e2e_support import PD_KEY, PD_KEY_MANUAL, KeepAlive

STORM = 10000
BATCH = 500

# Timeline entries of the on-call engine (test_engine.py covers them).
ENGINE_KINDS = ("escalation.", "notification.")


def test_storm_of_10000_alerts_with_one_dedup_key_is_one_incident(ingest):
    """20 generic batches of 500, sent by 4 threads at once."""
    batches = [[{"service": "ops-pd", "summary": "storm %d" % (b * BATCH + i),
                 "dedup_key": "the-storm", "severity": "critical"} for i in range(BATCH)]
               for b in range(STORM // BATCH)]
    statuses, problems = [], []
    lock = threading.Lock()

    def worker(mine):
        c = KeepAlive(ingest.url, timeout=60)
        try:
            for body in mine:
                r = c.request("POST", "/api/v1/alerts", body, token=ingest.token)
                with lock:
                    if r.status != 202:
                        problems.append(r)
                    else:
                        statuses.extend(a["status"] for a in r.body["alerts"])
        except Exception as exc:  # reported below, with the counts
            with lock:
                problems.append(repr(exc))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(batches[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "storm senders hung"
    assert not problems, problems[:3]
    assert len(statuses) == STORM
    assert statuses.count("created") == 1, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count("deduplicated") == STORM - 1
    incs = ingest.incidents()
    assert len(incs) == 1, "a storm of %d alerts with one dedup key made %d incidents" % (
        STORM, len(incs))
    inc = incs[0]
    assert inc["alert_count"] == STORM and inc["open_alerts"] == 1, inc
    assert inc["incident_key"] == "the-storm", inc
    shown = ingest.incident(inc["id"])
    assert len(shown["alerts"]) == 1 and shown["alerts"][0]["event_count"] == STORM, shown
    # a repeat adds no timeline entry: one "incident.triggered"
    kinds = [t["kind"] for t in shown["timeline"] if not t["kind"].startswith(ENGINE_KINDS)]
    assert kinds == ["incident.triggered"], shown["timeline"]


def test_concurrent_pagerduty_triggers_with_one_dedup_key(ingest):
    n_threads, per_thread = 8, 100
    codes, lock = [], threading.Lock()

    def worker():
        c = KeepAlive(ingest.url)
        body = {"routing_key": PD_KEY, "event_action": "trigger", "dedup_key": "pd-storm",
                "payload": {"summary": "pd storm", "source": "h", "severity": "error"}}
        try:
            for _ in range(per_thread):
                r = c.request("POST", "/v2/enqueue", body)
                with lock:
                    codes.append(r.status)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [202] * (n_threads * per_thread), {c: codes.count(c) for c in set(codes)}
    incs = ingest.incidents()
    assert len(incs) == 1, incs
    assert incs[0]["alert_count"] == n_threads * per_thread, incs[0]


def db_alert(instance, cluster="c1", alertname="PgReplicaLag", ends_at=None):
    a = {"labels": {"alertname": alertname, "cluster": cluster, "instance": instance,
                    "job": "postgres", "severity": "critical"},
         "annotations": {"summary": "%s lagging on %s" % (alertname, instance)}}
    if ends_at:
        a["endsAt"] = ends_at
    return a


def test_dedup_labels_group_label_sets_into_one_incident(ingest):
    # ops-db groups by [alertname, cluster]: three instances of c1 are one incident
    r = ingest.am([db_alert("db-1"), db_alert("db-2"), db_alert("db-3"),
                   db_alert("db-9", cluster="c2"), db_alert("db-1", alertname="PgDown")])
    assert r.status == 200, r
    incs = ingest.incidents(service="ops-db")
    assert len(incs) == 3, incs
    c1 = [i for i in incs if i["summary"].startswith("PgReplicaLag") and
          i["alert_count"] == 3]
    assert len(c1) == 1, incs
    c1 = c1[0]
    assert c1["open_alerts"] == 3, c1
    shown = ingest.incident(c1["id"])
    assert sorted(a["labels"]["instance"] for a in shown["alerts"]) == ["db-1", "db-2", "db-3"]
    kinds = [t["kind"] for t in shown["timeline"] if not t["kind"].startswith(ENGINE_KINDS)]
    assert kinds == ["incident.triggered", "alert.attached", "alert.attached"], kinds

    # resolving two of three keeps the incident open; the third resolves it
    r = ingest.am([db_alert("db-1", ends_at="2001-01-01T00:00:00Z"),
                   db_alert("db-2", ends_at="2001-01-01T00:00:00Z")])
    assert r.status == 200, r
    inc = ingest.incident(c1["id"])
    assert inc["status"] == "triggered" and inc["open_alerts"] == 1, inc
    r = ingest.am([db_alert("db-3", ends_at="2001-01-01T00:00:00Z")])
    assert r.status == 200, r
    inc = ingest.incident(c1["id"])
    assert inc["status"] == "resolved" and inc["open_alerts"] == 0, inc
    assert inc["timeline"][-1]["kind"] == "incident.resolved", inc["timeline"]
    assert inc["timeline"][-1]["actor"] == "auto-resolve", inc["timeline"]
    # the other two incidents are untouched
    others = [i for i in ingest.incidents(service="ops-db") if i["id"] != c1["id"]]
    assert [i["status"] for i in others] == ["triggered", "triggered"], others


def test_auto_resolve_true_and_false(ingest):
    for key in (PD_KEY, PD_KEY_MANUAL):
        assert ingest.pd("trigger", dedup_key="ar-1", routing_key=key).status == 202
        assert ingest.pd("resolve", dedup_key="ar-1", routing_key=key).status == 202
    auto = ingest.incidents(service="ops-pd")
    manual = ingest.incidents(service="ops-pd-manual")
    assert len(auto) == 1 and len(manual) == 1, (auto, manual)
    assert auto[0]["status"] == "resolved" and auto[0]["resolved_by"] == "auto-resolve", auto
    # auto_resolve: false - every alert resolved, but a person resolves the incident
    assert manual[0]["status"] == "triggered", manual
    assert manual[0]["open_alerts"] == 0, manual
    shown = ingest.incident(manual[0]["id"])
    assert [a["status"] for a in shown["alerts"]] == ["resolved"], shown
    assert "incident.resolved" not in [t["kind"] for t in shown["timeline"]], shown["timeline"]
    r = ingest.action(manual[0]["id"], "resolve")
    assert r.status == 200 and r.body["status"] == "resolved", r


def test_retrigger_after_auto_resolve_opens_a_new_incident(ingest):
    assert ingest.pd("trigger", dedup_key="again").status == 202
    first = ingest.incidents(service="ops-pd")
    assert ingest.pd("resolve", dedup_key="again").status == 202
    assert ingest.pd("trigger", dedup_key="again").status == 202
    incs = ingest.incidents(service="ops-pd")
    assert len(incs) == 2, incs
    new, old = incs  # newest first
    assert old["id"] == first[0]["id"] and old["status"] == "resolved", old
    assert new["id"] > old["id"] and new["status"] == "triggered", new
    assert new["incident_key"] == old["incident_key"] == "again"

    # the same through the Alertmanager API: endsAt in the past, then firing again
    alert = {"labels": {"alertname": "Flappy", "service_tag": "prom"}}
    assert ingest.am([alert]).status == 200
    assert ingest.am([dict(alert, endsAt="2001-01-01T00:00:00Z")]).status == 200
    assert ingest.am([alert]).status == 200
    incs = ingest.incidents(service="ops-prom")
    assert [i["status"] for i in incs] == ["triggered", "resolved"], incs


def test_retrigger_after_a_person_resolved_opens_a_new_incident_pagerduty(ingest):
    """PagerDuty: once a person resolved the incident, the next trigger with
    the same dedup key (the monitor still sees the problem) is a new
    incident - it must page again, not vanish into the resolved one."""
    assert ingest.pd("trigger", dedup_key="still-broken").status == 202
    (inc,) = ingest.incidents(service="ops-pd")
    r = ingest.env.cli("incident", "resolve", str(inc["id"]), url=ingest.url, token=ingest.token)
    assert r.code == 0, r
    assert ingest.incident(inc["id"])["status"] == "resolved"

    r = ingest.pd("trigger", dedup_key="still-broken")
    assert r.status == 202, r
    incs = ingest.incidents(service="ops-pd")
    open_ = [i for i in incs if i["status"] != "resolved"]
    assert len(incs) == 2 and len(open_) == 1, (
        "a trigger after a person resolved incident #%d must open a new incident; "
        "incidents now: %r" % (inc["id"], [(i["id"], i["status"], i["alert_count"])
                                           for i in incs]))
    assert open_[0]["id"] != inc["id"] and open_[0]["incident_key"] == "still-broken"
    assert ingest.incident(inc["id"])["status"] == "resolved"


def test_retrigger_after_a_person_resolved_opens_a_new_incident_prometheus(ingest):
    """Prometheus re-sends a still-firing alert every resend interval: after
    `opsbell incident resolve`, the next re-send must open a new incident."""
    alert = {"labels": {"alertname": "StillFiring", "service_tag": "prom"}}
    assert ingest.am([alert]).status == 200
    (inc,) = ingest.incidents(service="ops-prom")
    r = ingest.env.cli("incident", "resolve", "#%d" % inc["id"], url=ingest.url,
                       token=ingest.token)
    assert r.code == 0, r
    assert re.match(r"incident #%d resolved \(now resolved\)" % inc["id"], r.stdout), r

    assert ingest.am([alert]).status == 200  # the re-send
    incs = ingest.incidents(service="ops-prom")
    assert [i["status"] for i in incs] == ["triggered", "resolved"], (
        "the re-send of a still-firing alert after a person resolved incident #%d must open a "
        "new incident; incidents now: %r"
        % (inc["id"], [(i["id"], i["status"], i["alert_count"]) for i in incs]))
    # and the resolved incident is left alone
    old = ingest.incident(inc["id"])
    assert old["status"] == "resolved" and old["alert_count"] == 1, old
