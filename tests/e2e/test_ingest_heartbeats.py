"""Heartbeats: POST (or GET) /api/v1/heartbeats/KEY checks in; a heartbeat
that misses interval + grace raises an alert on its service (summary and
severity from the configuration); the next check-in resolves it."""

import time

from e2e_support import AM_HOOK_KEY, HB_KEY, HB_SUMMARY, PD_KEY, wait_for


def test_heartbeat_missed_then_back(make_ingest):
    ig = make_ingest(heartbeat=True)  # ops-cron: interval 10s, grace 0s
    r = ig.d.request("POST", "/api/v1/heartbeats/" + HB_KEY)
    assert r.status == 200 and r.body == {"status": "ok", "heartbeat": "ops-cron"}, r
    time.sleep(4)
    r = ig.d.get("/api/v1/heartbeats/" + HB_KEY)  # a bare curl in a cron job
    assert r.status == 200 and r.body["heartbeat"] == "ops-cron", r
    checked_in = time.monotonic()
    # the key is a credential: unknown keys are 404 and change nothing
    for bad in ("hb-nope-00000001", HB_KEY + "x", HB_KEY[:-1]):
        r = ig.d.request("POST", "/api/v1/heartbeats/" + bad)
        assert r.status == 404 and isinstance(r.body.get("error"), str), (bad, r)
    assert ig.incidents() == []

    # not yet overdue 8 s after the check-in
    time.sleep(max(0.0, 8 - (time.monotonic() - checked_in)))
    assert ig.incidents(service="ops-hb") == []

    inc = wait_for(lambda: ig.incidents(service="ops-hb"), 10, "the missed heartbeat's incident")
    overdue_after = time.monotonic() - checked_in
    assert 9.5 <= overdue_after <= 14, overdue_after
    assert len(inc) == 1, inc
    inc = inc[0]
    assert inc["summary"] == HB_SUMMARY and inc["severity"] == "warning", inc
    assert inc["status"] == "triggered" and inc["team"] == "ops", inc
    shown = ig.incident(inc["id"])
    assert shown["alerts"][0]["source"] == "heartbeat", shown
    assert shown["alerts"][0]["labels"] == {"heartbeat": "ops-cron"}, shown
    # still missing: no second incident, no flood
    time.sleep(2)
    assert len(ig.incidents(service="ops-hb")) == 1

    r = ig.d.request("POST", "/api/v1/heartbeats/" + HB_KEY)
    assert r.status == 200, r
    inc = ig.incident(inc["id"])
    assert inc["status"] == "resolved" and inc["resolved_by"] == "auto-resolve", inc


def test_path_keys_are_never_logged(make_ingest):
    """Heartbeat keys and integration keys work as passwords and are "never
    printed in messages" (opsbell.yaml(5)); both travel in the URL path."""
    ig = make_ingest(heartbeat=True)
    assert ig.d.request("POST", "/api/v1/heartbeats/" + HB_KEY).status == 200
    assert ig.d.get("/api/v1/heartbeats/" + HB_KEY).status == 200
    r = ig.webhook([{"status": "firing", "labels": {"alertname": "LogCheck"}}], key=AM_HOOK_KEY)
    assert r.status == 200, r
    assert ig.pd("trigger", dedup_key="log-check").status == 202
    ig.d.stop()
    log = ig.d.log_text()
    leaked = [name for name, key in (("heartbeat key", HB_KEY), ("integration key", AM_HOOK_KEY),
                                     ("PagerDuty routing key", PD_KEY)) if key in log]
    lines = [line for line in log.splitlines() if HB_KEY in line or AM_HOOK_KEY in line]
    assert not leaked, "credentials in the daemon log (%s):\n%s" % (
        ", ".join(leaked), "\n".join(lines[:4]))
