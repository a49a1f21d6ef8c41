"""Incident lifecycle over /api/v1/incidents and `opsbell incident`: list
filters and pagination, show (alerts and timeline in order), ack, resolve,
escalate, notes, conflicts, audit with the token's actor, team tokens."""

import re

import pytest


# Timeline entries the on-call engine writes on its own (test_engine.py
# covers them); "escalation.requested" is a person's and stays.
ENGINE_KINDS = ("escalation.started", "escalation.step", "escalation.exhausted",
                "escalation.failed")


def people(timeline):
    """The timeline without the engine's own entries."""
    return [t for t in timeline
            if t["kind"] not in ENGINE_KINDS and not t["kind"].startswith("notification.")]


def open_incident(ingest, service, summary, **extra):
    body = dict({"service": service, "summary": summary, "dedup_key": summary}, **extra)
    r = ingest.generic(body)
    assert r.status == 202 and r.body["alerts"][0]["status"] == "created", r
    return r.body["alerts"][0]["incident_id"]


def ids(incs):
    return [i["id"] for i in incs]


def get_list(ingest, query, token=None):
    r = ingest.d.get("/api/v1/incidents" + query, token=token or ingest.token)
    return r


def test_list_filters(ingest):
    a = open_incident(ingest, "ops-pd", "f-a")
    b = open_incident(ingest, "ops-pd", "f-b")
    c = open_incident(ingest, "ops-fallback", "f-c")
    d = open_incident(ingest, "alpha-api", "f-d")
    e = open_incident(ingest, "beta-web", "f-e")
    assert ingest.action(b, "ack").status == 200
    assert ingest.action(c, "resolve").status == 200

    def q(**f):
        return ids(ingest.incidents(**f))

    assert q() == [e, d, c, b, a]  # newest first
    assert q(status="open") == [e, d, b, a]
    assert q(status="triggered") == [e, d, a]
    assert q(status="acknowledged") == [b]
    assert q(status="resolved") == [c]
    assert q(team="ops") == [c, b, a]
    assert q(team="alpha") == [d]
    assert q(service="ops-pd") == [b, a]
    assert q(service="ops-pd", status="triggered") == [a]
    assert q(team="ops", status="resolved") == [c]
    assert q(service="no-such-service") == []
    for bad in ("?status=closed", "?status=", "?limit=0", "?limit=501", "?limit=x",
                "?before=0", "?before=-3"):
        r = get_list(ingest, bad)
        assert r.status == 400 and isinstance(r.body.get("error"), str), (bad, r)
    inc = ingest.incidents(service="alpha-api")[0]
    assert inc["team"] == "alpha" and inc["summary"] == "f-d" and inc["severity"] == "error"
    for key in ("id", "service", "team", "incident_key", "status", "summary", "severity",
                "silenced", "alert_count", "open_alerts", "created_at_ms", "updated_at_ms",
                "acknowledged_at_ms", "acknowledged_by", "resolved_at_ms", "resolved_by"):
        assert key in inc, (key, inc)


def test_pagination(ingest):
    made = [open_incident(ingest, "ops-pd", "page-%d" % i) for i in range(7)]
    newest_first = made[::-1]
    r = get_list(ingest, "?limit=3")
    assert r.status == 200 and ids(r.body["incidents"]) == newest_first[:3], r
    assert r.body["next_before"] == newest_first[2], r.body
    r = get_list(ingest, "?limit=3&before=%d" % r.body["next_before"])
    assert ids(r.body["incidents"]) == newest_first[3:6], r
    r = get_list(ingest, "?limit=3&before=%d" % r.body["next_before"])
    assert ids(r.body["incidents"]) == newest_first[6:], r
    assert "next_before" not in r.body, r.body
    # filters and paging together
    assert ingest.action(made[1], "ack").status == 200
    assert ingest.action(made[4], "ack").status == 200
    r = get_list(ingest, "?limit=1&status=acknowledged")
    assert ids(r.body["incidents"]) == [made[4]], r
    r = get_list(ingest, "?limit=1&status=acknowledged&before=%d" % r.body["next_before"])
    assert ids(r.body["incidents"]) == [made[1]], r
    # default limit is 50
    r = get_list(ingest, "")
    assert len(r.body["incidents"]) == 7 and "next_before" not in r.body, r


def test_show_ack_note_escalate_resolve_timeline_and_audit(ingest):
    actor = "token:" + ingest.token_name
    labels = {"alertname": "PgDown", "cluster": "c9", "job": "postgres", "severity": "critical"}
    r = ingest.generic([{"service": "ops-db", "summary": "pg down i1",
                         "labels": dict(labels, instance="i1")},
                        {"service": "ops-db", "summary": "pg down i2",
                         "labels": dict(labels, instance="i2")}])
    assert r.status == 202, r
    assert [a["status"] for a in r.body["alerts"]] == ["created", "attached"], r.body
    iid = r.body["alerts"][0]["incident_id"]
    assert r.body["alerts"][1]["incident_id"] == iid

    r = ingest.action(iid, "ack")
    assert r.status == 200, r
    assert r.body["status"] == "acknowledged" and r.body["acknowledged_by"] == actor, r.body
    assert r.body["acknowledged_at_ms"] > 0
    r = ingest.action(iid, "ack")
    assert r.status == 409 and "acknowledged" in r.body["error"], r

    r = ingest.action(iid, "notes", {"text": "looking at the replica first"})
    assert r.status == 201 and r.body["id"] == iid, r
    # As in PagerDuty, escalating an acknowledged incident re-triggers it.
    r = ingest.action(iid, "escalate")
    assert r.status == 202 and r.body["status"] == "triggered", r
    r = ingest.action(iid, "resolve")
    assert r.status == 200 and r.body["status"] == "resolved", r
    assert r.body["resolved_by"] == actor and r.body["resolved_at_ms"] > 0, r.body
    for action in ("ack", "resolve"):
        r = ingest.action(iid, action)
        assert r.status == 409, (action, r)
        assert isinstance(r.body.get("error"), str) and "resolved" in r.body["error"], r
    r = ingest.action(iid, "notes", {"text": "post-mortem on Monday"})
    assert r.status == 201, r

    inc = ingest.incident(iid)
    assert inc["status"] == "resolved" and inc["alert_count"] == 2, inc
    assert sorted(a["labels"]["instance"] for a in inc["alerts"]) == ["i1", "i2"], inc
    for a in inc["alerts"]:
        assert a["source"] == "generic" and a["summary"].startswith("pg down"), a
    tl = people(inc["timeline"])
    assert [t["kind"] for t in people(tl)] == [
        "incident.triggered", "alert.attached", "incident.acknowledged", "note",
        "incident.retriggered", "escalation.requested", "incident.resolved", "note"], tl
    assert [t["id"] for t in tl] == sorted(t["id"] for t in tl), tl
    # (the engine stamps its entries with the start of its round, so only
    # the entries of people are in time order by construction)
    assert [t["at_ms"] for t in people(tl)] == sorted(t["at_ms"] for t in people(tl)), tl
    for t in tl[2:]:
        assert t["actor"] == actor, t
    assert tl[3]["message"] == "looking at the replica first", tl
    assert tl[4]["message"] == "escalated while acknowledged: triggered again", tl
    assert tl[0]["message"] == "pg down i1", tl

    # each action audited, with the token's actor and the incident as target
    r = ingest.d.get("/api/v1/audit?actor=" + actor, token=ingest.token)
    assert r.status == 200, r
    mine = [ev for ev in r.body["events"] if ev.get("target") == "incident:%d" % iid]
    got = sorted(ev["action"] for ev in mine)
    assert got == sorted(["incident.acknowledged", "note", "escalation.requested",
                          "incident.resolved", "note"]), mine
    # refused actions (409) are not audited as done
    assert len(mine) == 5


def test_escalate_is_recorded_on_the_timeline(ingest):
    iid = open_incident(ingest, "ops-pd", "esc-1")
    r = ingest.action(iid, "escalate")
    assert r.status == 202 and r.body["status"] == "triggered", r
    tl = people(ingest.incident(iid)["timeline"])
    assert tl[-1]["kind"] == "escalation.requested", tl


def test_not_found_and_bad_ids(ingest):
    for path in ("/api/v1/incidents/999", "/api/v1/incidents/999/ack"):
        method = "GET" if path.count("/") == 4 else "POST"
        r = ingest.d.request(method, path, token=ingest.token)
        assert r.status == 404 and "999" in r.body["error"], r
    for bad in ("abc", "0", "-1", "1x"):
        r = ingest.d.get("/api/v1/incidents/" + bad, token=ingest.token)
        assert r.status == 400, (bad, r)


@pytest.mark.parametrize("body, ctype", [
    ({"text": ""}, "application/json"),
    ({}, "application/json"),
    ({"text": 5}, "application/json"),
    ({"text": "x", "colour": "red"}, "application/json"),
    ({"text": "x" * 4097}, "application/json"),
    ("{not json", "application/json"),
    ({"text": "x"}, "text/plain"),
])
def test_bad_notes_are_refused(ingest, body, ctype):
    iid = open_incident(ingest, "ops-pd", "notes-1")
    before = people(ingest.incident(iid)["timeline"])
    r = ingest.d.request("POST", "/api/v1/incidents/%d/notes" % iid, body, token=ingest.token,
                         content_type=ctype)
    assert r.status in (400, 415), r
    assert isinstance(r.body, dict) and r.body.get("error"), r
    assert people(ingest.incident(iid)["timeline"]) == before


def test_team_tokens_see_and_act_only_on_their_team(ingest):
    e = ingest.env
    mine = open_incident(ingest, "alpha-api", "team-alpha")
    theirs = open_incident(ingest, "beta-web", "team-beta")
    ops = open_incident(ingest, "ops-pd", "team-ops")
    reader = e.token_secret(name="alpha-reader", scope="read", team="alpha")
    writer = e.token_secret(name="alpha-writer", scope="write", team="alpha")

    assert ids(ingest.incidents(token=reader)) == [mine]
    assert ids(ingest.incidents(token=reader, team="alpha")) == [mine]
    r = get_list(ingest, "?team=beta", token=reader)
    assert r.status == 403, r
    r = ingest.d.get("/api/v1/incidents/%d" % theirs, token=reader)
    assert r.status == 403 and "beta" in r.body["error"], r
    assert ingest.d.get("/api/v1/incidents/%d" % mine, token=reader).status == 200
    # read scope cannot act
    assert ingest.action(mine, "ack", token=reader).status == 403

    for other in (theirs, ops):
        for action, body in (("ack", None), ("resolve", None), ("escalate", None),
                             ("notes", {"text": "not mine"})):
            r = ingest.action(other, action, body, token=writer)
            assert r.status == 403, (other, action, r)
    assert ingest.incident(theirs)["status"] == "triggered"
    assert len(people(ingest.incident(theirs)["timeline"])) == 1
    r = ingest.action(mine, "ack", token=writer)
    assert r.status == 200 and r.body["acknowledged_by"] == "token:alpha-writer", r
    # a team token may send alerts only to its team
    r = ingest.generic({"service": "beta-web", "summary": "x"}, token=writer)
    assert r.status == 403, r
    r = ingest.generic({"service": "alpha-api", "summary": "x"}, token=writer)
    assert r.status == 202, r


def test_incident_cli(ingest):
    e, url, tok = ingest.env, ingest.url, ingest.token
    a = open_incident(ingest, "ops-pd", "cli incident A", severity="critical")
    b = open_incident(ingest, "alpha-api", "cli incident B")

    def cli(*args):
        return e.cli("incident", *args, url=url, token=tok)

    r = cli("list")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert re.match(r"ID\s+STATUS\s+SEVERITY\s+SERVICE\s+CREATED\s+ALERTS\s+SUMMARY$",
                    lines[0]), r.stdout
    assert len(lines) == 3, r.stdout
    assert re.match(r"#%d\s+triggered\s+error\s+alpha-api\s+\S+Z\s+1/1\s+cli incident B$" % b,
                    lines[1]), r.stdout
    assert re.match(r"#%d\s+triggered\s+critical\s+ops-pd\s+" % a, lines[2]), r.stdout

    r = cli("list", "--json")
    assert r.code == 0, r
    assert ids(r.json()) == [b, a], r.stdout

    r = cli("ack", "#%d" % a)
    assert r.code == 0 and r.stdout == "incident #%d acknowledged (now acknowledged)\n" % a, r
    r = cli("note", str(a), "rebooting the box")
    assert r.code == 0 and r.stdout.startswith("incident #%d note added" % a), r
    r = cli("note", str(a), "json note", "--json")
    assert r.code == 0 and r.json()["id"] == a, r
    r = cli("escalate", str(a))
    assert r.code == 0, r
    r = cli("list", "--status", "acknowledged", "--json")
    assert ids(r.json()) == [], r  # the escalation re-triggered it
    r = cli("list", "--status", "triggered", "--json")
    assert a in ids(r.json()), r
    r = cli("list", "--team", "alpha", "--json")
    assert ids(r.json()) == [b], r
    r = cli("list", "--service", "ops-pd", "--json")
    assert ids(r.json()) == [a], r

    r = cli("show", str(a))
    assert r.code == 0, r
    assert r.stdout.startswith("incident #%d  triggered  [critical]\n" % a), r.stdout
    assert "summary:  cli incident A" in r.stdout and "service:  ops-pd (team ops)" in r.stdout
    tl = r.stdout.split("timeline:\n", 1)[1].splitlines()
    kinds = [k for k in (line.split()[1] for line in tl if line.strip() and len(line.split()) > 1)
             if k not in ENGINE_KINDS and not k.startswith("notification.")]
    assert kinds == ["incident.triggered", "incident.acknowledged", "note", "note",
                     "incident.retriggered", "escalation.requested"], r.stdout
    assert "rebooting the box" in r.stdout
    r = cli("show", str(a), "--json")
    assert r.code == 0 and r.json()["id"] == a and len(people(r.json()["timeline"])) == 6, r

    r = cli("resolve", str(a), "--json")
    assert r.code == 0 and r.json()["status"] == "resolved", r
    r = cli("list", "--json")
    assert ids(r.json()) == [b], r  # open ones by default
    r = cli("list", "--all", "--json")
    assert ids(r.json()) == [b, a], r
    r = cli("list", "--status", "resolved")
    assert r.code == 0 and ("#%d" % a) in r.stdout and ("#%d" % b) not in r.stdout, r

    # failures: non-zero exit, one line on stderr, nothing on stdout
    for args in (("ack", str(a)), ("resolve", str(a)), ("show", "424242"),
                 ("ack", "banana"), ("list", "--status", "closed")):
        r = cli(*args)
        assert r.code != 0 and r.stdout == "", (args, r)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r)
    r = cli("note", str(a))
    assert r.code != 0 and "text" in r.stderr, r
    r = cli("show")
    assert r.code != 0, r
