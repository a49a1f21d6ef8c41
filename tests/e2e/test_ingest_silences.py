"""Silences (maintenance windows): `opsbell silence add|list|expire` and
/api/v1/silences. A silenced alert is stored and visible (Alertmanager state
"suppressed"), its incident marked silenced; bad silences are refused
whole; only tokens for every team may set them."""

import re

import pytest

from e2e_support import iso_time


def cli(ingest, *args, token=None):
    return ingest.env.cli(*args, url=ingest.url, token=token or ingest.token)


def all_silences(ingest):
    r = ingest.d.get("/api/v1/silences?state=all", token=ingest.token)
    assert r.status == 200, r
    return r.body["silences"]


def post_maint(ingest, **labels):
    r = ingest.am([{"labels": dict({"alertname": "Maint", "service_tag": "prom"}, **labels)}])
    assert r.status == 200, r


def test_silence_add_silences_matching_alerts_until_expired(ingest):
    actor = "token:" + ingest.token_name
    r = cli(ingest, "silence", "add", 'alertname="Maint"', "--for", "1h",
            "--comment", "database maintenance")
    assert r.code == 0, r
    m = re.fullmatch(r"silence (\d+) created\n", r.stdout)
    assert m, r
    sid = int(m.group(1))

    r = cli(ingest, "silence", "list", "--json")
    assert r.code == 0, r
    (s,) = r.json()
    assert s["id"] == sid and s["state"] == "active", s
    assert s["matchers"] == [{"name": "alertname", "op": "=", "value": "Maint"}], s
    assert s["comment"] == "database maintenance" and s["created_by"] == actor, s
    assert 3590 * 1000 <= s["ends_at_ms"] - s["starts_at_ms"] <= 3610 * 1000, s
    r = cli(ingest, "silence", "list")
    assert r.code == 0, r
    assert re.match(r"ID\s+STATE\s+MATCHERS\s+ENDS\s+BY\s+COMMENT\n", r.stdout), r.stdout
    assert re.search(r'^%d\s+active\s+alertname="Maint"\s+\S+Z\s+%s\s+database maintenance$'
                     % (sid, re.escape(actor)), r.stdout, re.M), r.stdout

    post_maint(ingest, instance="i1")
    post_maint(ingest, instance="i1")  # a repeat stays silenced
    post_maint(ingest, alertname="NotMaint", instance="i1")
    incs = {i["summary"]: i for i in ingest.incidents(service="ops-prom")}
    assert incs["Maint"]["silenced"] is True, incs
    assert incs["NotMaint"]["silenced"] is False, incs
    # stored and visible: an incident like any other, status triggered
    assert incs["Maint"]["status"] == "triggered" and incs["Maint"]["alert_count"] == 2
    shown = ingest.incident(incs["Maint"]["id"])
    assert shown["silenced"] is True
    alerts = {a["labels"]["alertname"]: a for a in ingest.active_alerts()}
    assert alerts["Maint"]["status"] == {"state": "suppressed", "silencedBy": [str(sid)],
                                         "inhibitedBy": []}, alerts["Maint"]
    assert alerts["NotMaint"]["status"]["state"] == "active", alerts["NotMaint"]
    # the generic door says so in its result
    r = ingest.generic({"summary": "maint too", "labels": {"alertname": "Maint", "team": "ops"}})
    assert r.status == 202 and r.body["alerts"][0].get("silenced") is True, r
    # CLI shows it
    r = cli(ingest, "incident", "list", "--service", "ops-prom")
    assert re.search(r"^#%d\s+triggered \(silenced\)" % incs["Maint"]["id"], r.stdout, re.M), \
        r.stdout

    r = cli(ingest, "silence", "expire", str(sid))
    assert r.code == 0 and r.stdout == "silence %d expired\n" % sid, r
    r = cli(ingest, "silence", "list", "--json")
    assert r.code == 0 and r.json() == [], r
    r = cli(ingest, "silence", "list", "--all", "--json")
    assert [(s["id"], s["state"]) for s in r.json()] == [(sid, "expired")], r
    assert r.json()[0]["expired_at_ms"] > 0

    # after expiry new alerts are not silenced
    post_maint(ingest, instance="i2")
    new = [i for i in ingest.incidents(service="ops-prom") if i["summary"] == "Maint" and
           i["id"] != incs["Maint"]["id"]]
    assert len(new) == 1 and new[0]["silenced"] is False, new
    alerts = [a for a in ingest.active_alerts() if a["labels"].get("instance") == "i2"]
    assert alerts[0]["status"]["state"] == "active", alerts

    # audited with the actor
    r = ingest.d.get("/api/v1/audit?actor=" + actor, token=ingest.token)
    acts = [(ev["action"], ev.get("target")) for ev in r.body["events"]]
    assert ("silence.create", "silence:%d" % sid) in acts, acts
    assert ("silence.expire", "silence:%d" % sid) in acts, acts


def test_silence_by_service_and_regex(ingest):
    r = ingest.d.request("POST", "/api/v1/silences",
                         {"matchers": ['opsbell_service="ops-pd"'], "duration": "30m",
                          "comment": "pd noise"}, token=ingest.token)
    assert r.status == 201 and r.body["state"] == "active", r
    r = ingest.d.request("POST", "/api/v1/silences",
                         {"matchers": '{alertname=~"Disk.*", instance!="keep"}',
                          "ends_at": iso_time(600), "comment": "disks"}, token=ingest.token)
    assert r.status == 201, r
    assert ingest.pd("trigger", dedup_key="pd-silenced").status == 202
    assert ingest.am([{"labels": {"alertname": "DiskFull", "instance": "x",
                                  "service_tag": "prom"}},
                      {"labels": {"alertname": "DiskFull", "instance": "keep",
                                  "service_tag": "prom"}},
                      {"labels": {"alertname": "NoDisk", "service_tag": "prom"}}]).status == 200
    got = {(i["service"], i["incident_key"] if i["service"] == "ops-pd" else i["summary"],
            i["silenced"]) for i in ingest.incidents()}
    silenced = sorted(i["silenced"] for i in ingest.incidents(service="ops-prom"))
    assert ("ops-pd", "pd-silenced", True) in got, got
    assert silenced == [False, False, True], ingest.incidents()


def test_pending_silence_does_not_silence_yet(ingest):
    r = ingest.d.request("POST", "/api/v1/silences",
                         {"matchers": ['alertname="Later"'], "starts_at": iso_time(3600),
                          "duration": "1h", "comment": "tomorrow"}, token=ingest.token)
    assert r.status == 201 and r.body["state"] == "pending", r
    post_maint(ingest, alertname="Later")
    (inc,) = ingest.incidents()
    assert inc["silenced"] is False, inc


BAD_SILENCES = [
    ("no-matchers", {"matchers": [], "duration": "1h", "comment": "x"}),
    ("matchers-missing", {"duration": "1h", "comment": "x"}),
    ("empty-brace-matchers", {"matchers": "{}", "duration": "1h", "comment": "x"}),
    ("bad-regex", {"matchers": ['alertname=~"("'], "duration": "1h", "comment": "x"}),
    ("no-operator", {"matchers": ["alertname"], "duration": "1h", "comment": "x"}),
    ("matcher-not-string", {"matchers": [5], "duration": "1h", "comment": "x"}),
    ("matchers-number", {"matchers": 5, "duration": "1h", "comment": "x"}),
    ("no-comment", {"matchers": ['a="b"'], "duration": "1h"}),
    ("empty-comment", {"matchers": ['a="b"'], "duration": "1h", "comment": ""}),
    ("comment-not-string", {"matchers": ['a="b"'], "duration": "1h", "comment": 7}),
    ("no-end", {"matchers": ['a="b"'], "comment": "x"}),
    ("zero-duration", {"matchers": ['a="b"'], "duration": "0s", "comment": "x"}),
    ("bad-duration", {"matchers": ['a="b"'], "duration": "banana", "comment": "x"}),
    ("duration-and-end", {"matchers": ['a="b"'], "duration": "1h", "ends_at": "2999-01-01T00:00:00Z",
                          "comment": "x"}),
    ("ends-before-starts", {"matchers": ['a="b"'], "starts_at": "2030-01-02T00:00:00Z",
                            "ends_at": "2030-01-01T00:00:00Z", "comment": "x"}),
    ("ends-equal-starts", {"matchers": ['a="b"'], "starts_at": "2030-01-02T00:00:00Z",
                           "ends_at": "2030-01-02T00:00:00Z", "comment": "x"}),
    ("ends-in-the-past", {"matchers": ['a="b"'], "ends_at": "2001-01-01T00:00:00Z",
                          "comment": "x"}),
    ("bad-time", {"matchers": ['a="b"'], "ends_at": "tomorrow", "comment": "x"}),
    ("over-a-year", {"matchers": ['a="b"'], "duration": "400d", "comment": "x"}),
    ("unknown-field", {"matchers": ['a="b"'], "duration": "1h", "comment": "x", "colour": "red"}),
    ("not-an-object", ["a"]),
]


@pytest.mark.parametrize("case", BAD_SILENCES, ids=[c[0] for c in BAD_SILENCES])
def test_bad_silences_are_refused(ingest, case):
    _, body = case
    before = all_silences(ingest)
    r = ingest.d.request("POST", "/api/v1/silences", body, token=ingest.token)
    assert r.status == 400, r
    assert isinstance(r.body, dict) and isinstance(r.body.get("error"), str) and r.body["error"]
    assert all_silences(ingest) == before


def test_bad_silences_from_the_cli(ingest):
    for args in ((["--for", "1h", "--comment", "x"]),
                 (['alertname=~"("', "--for", "1h", "--comment", "x"]),
                 (['alertname="X"', "--for", "1h"]),
                 (['alertname="X"', "--comment", "x"]),
                 (['alertname="X"', "--until", "2001-01-01T00:00:00Z", "--comment", "x"]),
                 (['alertname="X"', "--from", "2030-01-02T00:00:00Z",
                   "--until", "2030-01-01T00:00:00Z", "--comment", "x"])):
        r = cli(ingest, "silence", "add", *args)
        assert r.code != 0 and r.stdout == "", (args, r)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r)
    assert all_silences(ingest) == []
    for bad in ("0", "x", "999"):
        r = cli(ingest, "silence", "expire", bad)
        assert r.code != 0, (bad, r)


def test_only_tokens_for_every_team_may_set_silences(ingest):
    e = ingest.env
    team_writer = e.token_secret(name="alpha-writer", scope="write", team="alpha")
    reader = e.token_secret(name="reader", scope="read")
    writer = e.token_secret(name="writer", scope="write")
    body = {"matchers": ['alertname="X"'], "duration": "1h", "comment": "x"}
    r = ingest.d.request("POST", "/api/v1/silences", body, token=team_writer)
    assert r.status == 403, r
    r = ingest.d.request("POST", "/api/v1/silences", body, token=reader)
    assert r.status == 403, r
    r = cli(ingest, "silence", "add", 'alertname="X"', "--for", "1h", "--comment", "x",
            token=team_writer)
    assert r.code != 0, r
    assert all_silences(ingest) == []
    r = ingest.d.request("POST", "/api/v1/silences", body, token=writer)
    assert r.status == 201 and r.body["created_by"] == "token:writer", r
    sid = r.body["id"]
    r = ingest.d.request("DELETE", "/api/v1/silences/%d" % sid, token=team_writer)
    assert r.status == 403, r
    assert all_silences(ingest)[0]["state"] == "active"
    r = ingest.d.request("DELETE", "/api/v1/silences/%d" % sid, token=writer)
    assert r.status == 200 and r.body["state"] == "expired", r
