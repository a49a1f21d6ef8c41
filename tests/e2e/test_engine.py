"""The on-call engine end to end: an incident walks the steps of its policy
(users, then a schedule) with the right people at the right times; an ack
stops it and cancels what was queued; `incident escalate` jumps ahead; a
kill -9 mid-escalation resumes without skipping or repeating a step; a
silenced incident pages nobody; and on PostgreSQL two nodes share the work,
never take one step twice, and one carries on when the other is killed.

Deliveries are observed through the `log` provider (one JSON line per
notification) and the incident's timeline. Times are checked only as lower
bounds (a step is never taken before it is due) and as order, never as
speed."""

import json
import subprocess
import time

import pytest

from e2e_support import log_deliveries as deliveries
from e2e_support import trigger_incident as trigger
from e2e_support import wait_for

USERS = """\
users:
  - name: dave
    contact_methods:
      - type: email
        address: dave@example.com
      - type: voice
        address: "+4930111111"
    notification_rules:
      - {type: email, after: 0s}
      - {type: voice, after: 1s}
  - name: erin
    contact_methods:
      - type: sms
        address: "+4930222222"
    notification_rules:
      - {type: sms, after: 0s}
  - name: frank
    contact_methods:
      - type: email
        address: frank@example.com
"""

TEAM = """\
team:
  description: Escalation tests
  members: [dave, erin, frank]
services:
  - name: esc-api
    escalation_policy: esc-three
  - name: esc-slow
    escalation_policy: esc-slow
  - name: esc-loop
    escalation_policy: esc-loop
schedules:
  - name: esc-oncall
    time_zone: UTC
    layers:
      - name: everyone
        start: "2020-01-01"
        handoff: "00:00"
        rrule: "FREQ=DAILY"
        users: [frank]
escalation_policies:
  - name: esc-three
    steps:
      - delay: %(d1)s
        targets:
          users: [dave]
      - delay: %(d2)s
        targets:
          users: [erin]
      - delay: 1s
        targets:
          schedules: [esc-oncall]
  - name: esc-loop
    repeat: 1
    steps:
      - delay: 1s
        targets:
          users: [erin]
      - delay: 1s
        targets:
          users: [frank]
  - name: esc-slow
    steps:
      - delay: 1h
        targets:
          users: [dave]
      - delay: 1h
        targets:
          users: [erin]
"""


def configure(env, d1="2s", d2="2s"):
    env.write("users.yaml", USERS)
    env.write("teams/esc/team.yaml", TEAM % {"d1": d1, "d2": d2})
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.extra_main = "providers:\n  log:\n    path: deliveries.jsonl\n"
    env.write_main()
    return env.dir / "deliveries.jsonl"


def timeline(daemon, token, iid, kind=None):
    r = daemon.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    events = r.body["timeline"]
    return [e for e in events if kind is None or e["kind"] == kind]


def step_events(daemon, token, iid):
    out = []
    for e in timeline(daemon, token, iid, "escalation.step"):
        data = e["data"] if isinstance(e["data"], dict) else json.loads(e["data"])
        out.append(data)
    return out


def who(lines):
    return [(d["user"], d["type"]) for d in lines]


def test_incident_walks_three_steps_with_the_right_people(env, admin_token):
    log = configure(env)
    d = env.daemon()
    t0 = time.time() * 1000
    iid = trigger(d, admin_token, "esc-api", "walk-1")

    wait_for(lambda: len(deliveries(log, iid)) >= 4, 20, "four deliveries")
    wait_for(lambda: any(e["kind"] == "escalation.exhausted"
                         for e in timeline(d, admin_token, iid)), 10, "escalation exhausted")
    lines = deliveries(log, iid)
    # Step 1: dave by email at once, by voice 1 s later; step 2: erin by
    # sms; step 3: whoever is on call on esc-oncall (frank), by email (the
    # default rules: he wrote none).
    assert who(lines) == [("dave", "email"), ("dave", "voice"), ("erin", "sms"),
                          ("frank", "email")], lines
    steps = step_events(d, admin_token, iid)
    assert [s["step"] for s in steps] == [1, 2, 3], steps
    assert [s["users"] for s in steps] == [["dave"], ["erin"], ["frank"]], steps
    assert steps[2]["schedules"] == {"esc-oncall": "frank"}, steps
    # Never early: each step is due delay after the one before, and rules
    # are relative to the step.
    assert steps[0]["due_at_ms"] >= t0 - 1000
    assert steps[1]["due_at_ms"] >= steps[0]["due_at_ms"] + 2000, steps
    assert steps[2]["due_at_ms"] >= steps[1]["due_at_ms"] + 2000, steps
    assert lines[1]["due_at_ms"] - lines[0]["due_at_ms"] == 1000, lines
    for s in steps:
        assert s["lateness_ms"] >= 0, s
    # Exactly one step per position, nothing more after exhaustion.
    time.sleep(2.0)
    assert len(deliveries(log, iid)) == 4
    inc = d.get("/api/v1/incidents/%d" % iid, token=admin_token).body
    assert inc["status"] == "triggered"


def test_ack_stops_the_escalation_and_cancels_queued_pages(env, admin_token):
    log = configure(env, d1="3s")
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-api", "ack-1")
    wait_for(lambda: len(deliveries(log, iid)) >= 1, 10, "the first delivery")
    # dave's voice rule (1 s) may be queued right now: the ack cancels it.
    r = d.request("POST", "/api/v1/incidents/%d/ack" % iid, {}, token=admin_token)
    assert r.status == 200, r
    n = len(deliveries(log, iid))
    time.sleep(5.0)  # step 2 would have been due 3 s after step 1
    assert len(deliveries(log, iid)) == n, deliveries(log, iid)
    assert len(step_events(d, admin_token, iid)) == 1
    assert all(u == "dave" for u, _ in who(deliveries(log, iid)))


def test_escalate_now_jumps_to_the_next_step(env, admin_token):
    log = configure(env)
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-slow", "jump-1")
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 1, 10, "step 1")
    r = env.cli("incident", "escalate", str(iid), url=d.url, token=admin_token)
    assert r.code == 0, r
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 2, 10, "step 2 taken at once")
    steps = step_events(d, admin_token, iid)
    assert steps[1]["users"] == ["erin"], steps
    # The hour-long delay was skipped on request, not by the engine.
    assert steps[1]["due_at_ms"] - steps[0]["due_at_ms"] < 3600 * 1000
    wait_for(lambda: ("erin", "sms") in who(deliveries(log, iid)), 10, "erin paged")


def test_escalating_an_acknowledged_incident_retriggers_it(env, admin_token):
    configure(env)
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-slow", "reack-1")
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 1, 10, "step 1")
    assert d.request("POST", "/api/v1/incidents/%d/ack" % iid, {},
                     token=admin_token).status == 200
    r = d.request("POST", "/api/v1/incidents/%d/escalate" % iid, {}, token=admin_token)
    assert r.status in (200, 202), r
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 2, 10, "step 2")
    inc = d.get("/api/v1/incidents/%d" % iid, token=admin_token).body
    assert inc["status"] == "triggered", inc


def test_resolve_then_retrigger_starts_over(env, admin_token):
    log = configure(env)
    d = env.daemon()
    first = trigger(d, admin_token, "esc-slow", "again-1")
    wait_for(lambda: len(step_events(d, admin_token, first)) == 1, 10, "step 1")
    assert d.request("POST", "/api/v1/incidents/%d/resolve" % first, {},
                     token=admin_token).status == 200
    second = trigger(d, admin_token, "esc-slow", "again-1")
    assert second != first
    wait_for(lambda: len(step_events(d, admin_token, second)) == 1, 10, "step 1 again")
    assert step_events(d, admin_token, second)[0]["users"] == ["dave"]
    # The step queues the page; a dispatcher worker delivers it soon after.
    wait_for(lambda: ("dave", "email") in who(deliveries(log, second)), 10,
             "dave's email for the new incident")


def test_silenced_incident_pages_nobody(env, admin_token):
    log = configure(env)
    d = env.daemon()
    r = d.request("POST", "/api/v1/silences", {
        "matchers": ['opsbell_service="esc-api"'],
        "duration": "1h", "comment": "maintenance"}, token=admin_token)
    assert r.status == 201, r
    iid = trigger(d, admin_token, "esc-api", "quiet-1")
    time.sleep(3.0)
    assert deliveries(log, iid) == []
    assert step_events(d, admin_token, iid) == []


def test_incident_pages_once_its_silence_ends(env, admin_token):
    log = configure(env)
    d = env.daemon()
    r = d.request("POST", "/api/v1/silences", {
        "matchers": ['opsbell_service="esc-api"'],
        "duration": "3s", "comment": "short maintenance"}, token=admin_token)
    assert r.status == 201, r
    held = trigger(d, admin_token, "esc-api", "held-1")
    # A second silence, expired by hand, holds another service's incident.
    r2 = d.request("POST", "/api/v1/silences", {
        "matchers": ['opsbell_service="esc-slow"'],
        "duration": "1h", "comment": "until we say so"}, token=admin_token)
    assert r2.status == 201, r2
    held2 = trigger(d, admin_token, "esc-slow", "held-2")
    time.sleep(1.0)
    assert deliveries(log, held) == [] and deliveries(log, held2) == []
    t_end = r.body["ends_at_ms"]
    wait_for(lambda: len(step_events(d, admin_token, held)) >= 1, 15, "paging after the end")
    kinds = [e["kind"] for e in timeline(d, admin_token, held)]
    assert "incident.unsilenced" in kinds, kinds
    steps = step_events(d, admin_token, held)
    assert steps[0]["users"] == ["dave"] and steps[0]["due_at_ms"] >= t_end, steps
    assert step_events(d, admin_token, held2) == []  # still silenced
    assert d.request("DELETE", "/api/v1/silences/%d" % r2.body["id"],
                     token=admin_token).status in (200, 204)
    wait_for(lambda: len(step_events(d, admin_token, held2)) >= 1, 15, "paging after expiry")
    assert d.get("/api/v1/incidents/%d" % held2, token=admin_token).body["silenced"] is False


def test_restart_mid_escalation_resumes_exactly(env, admin_token):
    log = configure(env, d1="3s", d2="3s")
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-api", "crash-1")
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 1, 10, "step 1")
    d.kill()  # SIGKILL: no shutdown code runs
    time.sleep(4.0)  # step 2 falls due while nobody runs
    d2 = env.daemon()
    wait_for(lambda: len(step_events(d2, admin_token, iid)) == 3, 20, "steps 2 and 3")
    time.sleep(1.5)
    steps = step_events(d2, admin_token, iid)
    assert [s["step"] for s in steps] == [1, 2, 3], steps
    assert [u for u, _ in who(deliveries(log, iid))].count("erin") == 1
    assert [u for u, _ in who(deliveries(log, iid))].count("frank") == 1
    # Step 2 was overdue at the restart: taken late, never skipped.
    assert steps[1]["lateness_ms"] >= 0


@pytest.mark.postgres
def test_two_postgres_nodes_share_the_engine_and_survive_a_kill(pg_url, make_env):
    a = make_env("node-a", storage=pg_url)
    b = make_env("node-b", storage=pg_url)
    log_a = configure(a, d1="2s", d2="2s")
    log_b = configure(b, d1="2s", d2="2s")
    # Both nodes write their deliveries to one file, as one host would. A
    # notification node A was handing to the log when it died is retried by
    # node B once its lease runs out (short here), as a new attempt.
    # Twelve incidents page dave's phone twelve times: lift the per-address
    # rate limits (the database is shared with earlier tests, too).
    engine = ("engine:\n  send_lease: 2s\n  retry_base: 1s\n"
              "notification_limits:\n  voice: {max: 0, per: 1m}\n  sms: {max: 0, per: 1m}\n")
    a.extra_main += engine
    a.write_main()
    b.extra_main = "providers:\n  log:\n    path: %s\n" % log_a + engine
    b.write_main()
    token = a.token_secret()
    # Escalations left active by earlier tests on this shared database would
    # be walked too (with policies this configuration does not know): stop
    # them, so that this test sees only its own.
    subprocess.run(["psql", pg_url, "-q", "-c",
                    "UPDATE escalations SET state = 'stopped', next_at = NULL "
                    "WHERE state = 'active'; "
                    "UPDATE outbox SET state = 'cancelled' WHERE state = 'queued'"],
                   check=True, stdout=subprocess.DEVNULL, timeout=30)
    na = a.daemon(env_vars={"OPSBELL_NODE_ID": "node-a"})
    nb = b.daemon(env_vars={"OPSBELL_NODE_ID": "node-b"})
    ids = []
    for i in range(12):
        node = na if i % 2 == 0 else nb
        ids.append(trigger(node, token, "esc-api", "pg-%d-%f" % (i, time.time())))
    # Let both take some first steps, then kill node A while steps are due.
    wait_for(lambda: all(len(step_events(nb, token, i)) >= 1 for i in ids), 20, "first steps")
    na.kill()
    wait_for(lambda: all(len(step_events(nb, token, i)) == 3 for i in ids), 40,
             "every step of every incident, on node B after node A died")
    wait_for(lambda: all(len(deliveries(log_a, i)) >= 4 for i in ids), 20,
             "every notification, interrupted ones retried by node B")
    time.sleep(1.5)
    nodes = set()
    for iid in ids:
        steps = step_events(nb, token, iid)
        assert [s["step"] for s in steps] == [1, 2, 3], (iid, steps)
        lines = deliveries(log_a, iid)
        # Exactly once each; an attempt retried after node A died may come
        # after the next step's.
        assert sorted(who(lines)) == [("dave", "email"), ("dave", "voice"), ("erin", "sms"),
                                      ("frank", "email")], (iid, lines)
        nodes.update(s["node"] for s in steps)
        # Steps due after node A was killed were taken by node B.
        assert steps[2]["node"] == "node-b", (iid, steps)
    assert not log_b.exists()
    assert nodes == {"node-a", "node-b"}, nodes


def test_reload_that_deletes_a_paged_schedule_is_refused(env, admin_token):
    """A policy that still names a schedule the new files no longer define:
    the reload is refused with FILE:LINE:COL, and the engine keeps paging
    with the configuration in force."""
    log = configure(env)
    d = env.daemon()
    team = env.dir / "teams" / "esc" / "team.yaml"
    text = team.read_text()
    start = text.index("schedules:")
    end = text.index("escalation_policies:")
    team.write_text(text[:start] + text[end:])
    r = env.cli("config", "reload", url=d.url, token=admin_token)
    assert r.code != 0, r
    assert "esc-oncall" in r.stderr and "team.yaml:" in r.stderr, r
    # Nothing of the new files applied: the schedule still answers, and an
    # incident still reaches whoever is on call on it at step 3.
    r = d.get("/api/v1/oncall?schedule=esc-oncall", token=admin_token)
    assert r.status == 200 and r.body["oncall"][0]["oncall"]["user"] == "frank", r
    iid = trigger(d, admin_token, "esc-api", "after-refused-reload")
    wait_for(lambda: ("frank", "email") in who(deliveries(log, iid)), 20, "step 3 via the schedule")


def test_engine_metrics(env, admin_token):
    configure(env)
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-slow", "metrics-1")
    wait_for(lambda: len(step_events(d, admin_token, iid)) == 1, 10, "step 1")
    text = d.get("/metrics").text
    for name in ("opsbell_engine_steps_total", "opsbell_engine_notifications_total",
                 "opsbell_engine_rounds_failed_total",
                 'opsbell_engine_step_lateness_seconds_bucket{le="+Inf"}',
                 "opsbell_engine_step_lateness_seconds_count"):
        assert name in text, name
    steps = [line for line in text.splitlines()
             if line.startswith("opsbell_engine_steps_total ")]
    assert steps and int(float(steps[0].split()[1])) >= 1, steps


def test_policy_repeats_then_is_exhausted(env, admin_token):
    log = configure(env)
    d = env.daemon()
    iid = trigger(d, admin_token, "esc-loop", "loop-1")
    wait_for(lambda: any(e["kind"] == "escalation.exhausted"
                         for e in timeline(d, admin_token, iid)), 20, "exhausted")
    steps = step_events(d, admin_token, iid)
    # repeat: 1 = the policy walked twice, then nothing more.
    assert [(s["pass"], s["step"]) for s in steps] == [(1, 1), (1, 2), (2, 1), (2, 2)], steps
    assert [s["users"] for s in steps] == [["erin"], ["frank"], ["erin"], ["frank"]], steps
    wait_for(lambda: len(deliveries(log, iid)) == 4, 10, "the last step's page")
    assert who(deliveries(log, iid)) == [("erin", "sms"), ("frank", "email")] * 2
    r = d.get("/api/v1/incidents/%d" % iid, token=admin_token)
    assert r.body["escalation"]["state"] == "exhausted", r.body["escalation"]
    # An explicit escalation starts one more pass.
    assert d.request("POST", "/api/v1/incidents/%d/escalate" % iid, {},
                     token=admin_token).status == 202
    wait_for(lambda: len(step_events(d, admin_token, iid)) >= 5, 10, "a third pass")
    assert step_events(d, admin_token, iid)[4]["pass"] == 3
