"""On call: `opsbell oncall`, schedules, overrides and escalation policies
with schedule targets, through the CLI and /api/v1.

The schedules (e2e_support.ONCALL_*_YAML) hand over at a fixed local time in
New York, Berlin and Tokyo; the expected answers are computed here with
Python's zoneinfo, independently of the server, and checked right around
the 2026 daylight-saving transitions (US: 2026-03-08 and 2026-11-01; EU:
2026-03-29 and 2026-10-25), where a "daily" shift lasts 23 or 25 hours."""

import datetime
import re
import time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from e2e_support import ONCALL_ROTATIONS, free_port, iso_utc, parse_utc, setup_oncall_env

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


@pytest.fixture
def oc(env, admin_token):
    setup_oncall_env(env)
    d = env.daemon()
    return SimpleNamespace(env=env, d=d, token=admin_token)


def cli(oc, *args, token=None):
    return oc.env.cli(*args, url=oc.d.url, token=token or oc.token)


def one_line_failure(r):
    """A refused command: non-zero exit, nothing on stdout, one line on stderr."""
    assert r.code != 0, r
    assert r.stdout == "", r
    assert r.stderr.startswith("opsbell: ") and r.stderr.endswith("\n"), r
    assert r.stderr.count("\n") == 1, r
    return r.stderr


def expected(schedule, at_ms):
    """(user, start_ms, end_ms) on call for a one-layer schedule of
    ONCALL_ROTATIONS at at_ms, computed with zoneinfo."""
    start, hour, period, users, tz = ONCALL_ROTATIONS[schedule]
    zone = ZoneInfo(tz)
    first = datetime.date.fromisoformat(start)

    def handoff(k):
        day = first + datetime.timedelta(days=k * period)
        local = datetime.datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        return int(local.timestamp() * 1000)

    at_day = datetime.datetime.fromtimestamp(at_ms / 1000, zone).date()
    k = max(0, (at_day - first).days // period - 1)
    while handoff(k + 1) <= at_ms:
        k += 1
    while k > 0 and handoff(k) > at_ms:
        k -= 1
    return users[k % len(users)], handoff(k), handoff(k + 1)


def parse_at(text):
    """An `at` of an answer, possibly with milliseconds, -> milliseconds."""
    m = re.fullmatch(r"(\S{19})(?:\.(\d{3}))?Z", text)
    assert m, text
    return parse_utc(m.group(1) + "Z") + int(m.group(2) or 0)


def check_answer(entry, schedule, at_ms):
    user, start, end = expected(schedule, at_ms)
    assert entry["schedule"] == schedule, entry
    assert parse_at(entry["at"]) == at_ms, entry
    assert entry["oncall"] == {"user": user, "start": iso_utc(start), "end": iso_utc(end)}, \
        (entry, iso_utc(at_ms))
    nuser, nstart, nend = expected(schedule, end)
    assert entry["next"] == {"user": nuser, "start": iso_utc(nstart), "end": iso_utc(nend)}, entry


def oncall_json(oc, *args, token=None):
    r = cli(oc, "oncall", *args, "--json", token=token)
    assert r.code == 0, r
    return r.json()


# ---- who is on call, across daylight-saving changes -------------------------------

def test_expected_model_matches_known_shifts():
    """The model itself, against shifts worked out by hand."""
    at = parse_utc("2026-03-08T12:59:59Z")
    assert expected("ny-primary", at) == ("carol", parse_utc("2026-03-07T14:00:00Z"),
                                          parse_utc("2026-03-08T13:00:00Z"))
    at = parse_utc("2026-11-01T13:30:00Z")
    assert expected("ny-primary", at)[1:] == (parse_utc("2026-10-31T13:00:00Z"),
                                              parse_utc("2026-11-01T14:00:00Z"))
    at = parse_utc("2026-03-29T09:59:59Z")
    assert expected("berlin-weekly", at)[1:] == (parse_utc("2026-03-22T11:00:00Z"),
                                                 parse_utc("2026-03-29T10:00:00Z"))


DST_INSTANTS = [
    # US spring forward (02:00 EST -> 03:00 EDT): the 09:00 handoff moves from 14:00Z to 13:00Z
    ("ny-primary", "2026-03-08T06:59:59Z"),  # 01:59:59 EST
    ("ny-primary", "2026-03-08T07:00:00Z"),  # 03:00:00 EDT
    ("ny-primary", "2026-03-08T12:59:59Z"),  # last second of a 23-hour shift
    ("ny-primary", "2026-03-08T13:00:00Z"),  # the handoff, 09:00 EDT
    ("ny-primary", "2026-03-09T12:59:59Z"),
    ("ny-primary", "2026-03-09T13:00:00Z"),
    # US fall back (02:00 EDT -> 01:00 EST): a 25-hour shift
    ("ny-primary", "2026-11-01T05:30:00Z"),  # 01:30 EDT
    ("ny-primary", "2026-11-01T06:30:00Z"),  # 01:30 EST, the same wall time again
    ("ny-primary", "2026-11-01T13:00:00Z"),  # 08:00 EST: no handoff yet
    ("ny-primary", "2026-11-01T13:59:59Z"),
    ("ny-primary", "2026-11-01T14:00:00Z"),  # the handoff, 09:00 EST
    # EU spring forward (02:00 CET -> 03:00 CEST): the Sunday 12:00 handoff at 10:00Z
    ("berlin-weekly", "2026-03-29T00:59:59Z"),
    ("berlin-weekly", "2026-03-29T01:00:00Z"),
    ("berlin-weekly", "2026-03-29T09:59:59Z"),
    ("berlin-weekly", "2026-03-29T10:00:00Z"),
    # EU fall back (03:00 CEST -> 02:00 CET): the handoff at 11:00Z
    ("berlin-weekly", "2026-10-25T00:30:00Z"),
    ("berlin-weekly", "2026-10-25T01:30:00Z"),
    ("berlin-weekly", "2026-10-25T10:00:00Z"),
    ("berlin-weekly", "2026-10-25T10:59:59Z"),
    ("berlin-weekly", "2026-10-25T11:00:00Z"),
    # Tokyo has no daylight saving: 09:00 JST is 00:00Z all year
    ("tokyo-primary", "2026-03-08T13:00:00Z"),
    ("tokyo-primary", "2026-03-29T23:59:59Z"),
    ("tokyo-primary", "2026-03-30T00:00:00Z"),
    ("tokyo-primary", "2026-11-01T06:30:00Z"),
]


def test_oncall_around_dst_transitions(oc):
    for schedule, at in DST_INSTANTS:
        (entry,) = oncall_json(oc, schedule, "--at", at)
        check_answer(entry, schedule, parse_utc(at))


def test_dst_shift_lengths(oc):
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-03-08T12:00:00Z")
    assert parse_utc(e["oncall"]["end"]) - parse_utc(e["oncall"]["start"]) == 23 * HOUR_MS, e
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-11-01T12:00:00Z")
    assert parse_utc(e["oncall"]["end"]) - parse_utc(e["oncall"]["start"]) == 25 * HOUR_MS, e
    (e,) = oncall_json(oc, "berlin-weekly", "--at", "2026-03-25T12:00:00Z")
    assert parse_utc(e["oncall"]["end"]) - parse_utc(e["oncall"]["start"]) == 167 * HOUR_MS, e
    (e,) = oncall_json(oc, "berlin-weekly", "--at", "2026-10-20T12:00:00Z")
    assert parse_utc(e["oncall"]["end"]) - parse_utc(e["oncall"]["start"]) == 169 * HOUR_MS, e


def test_at_forms(oc):
    # A local time without offset is read in the schedule's zone.
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-03-08T09:30")
    assert e["at"] == "2026-03-08T13:30:00Z", e
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-03-07 09:30")
    assert e["at"] == "2026-03-07T14:30:00Z", e
    (e,) = oncall_json(oc, "berlin-weekly", "--at", "2026-03-29T12:00")
    assert e["at"] == "2026-03-29T10:00:00Z", e
    check_answer(e, "berlin-weekly", parse_utc("2026-03-29T10:00:00Z"))
    (e,) = oncall_json(oc, "tokyo-primary", "--at", "2026-01-01T09:00")
    assert e["at"] == "2026-01-01T00:00:00Z" and e["oncall"]["user"] == "carol", e
    # RFC 3339 with an offset, with fractions, and relative times.
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-03-08T01:30:00-05:00")
    assert e["at"] == "2026-03-08T06:30:00Z", e
    (e,) = oncall_json(oc, "ny-primary", "--at", "2026-03-08T06:30:00.250Z")
    assert e["at"] == "2026-03-08T06:30:00.250Z", e
    before = int(time.time() * 1000)
    (e,) = oncall_json(oc, "ny-primary", "--at", "+2h")
    at = parse_at(e["at"])
    assert before + 2 * HOUR_MS <= at <= int(time.time() * 1000) + 2 * HOUR_MS, e
    check_answer(e, "ny-primary", at)
    # Without --at: now.
    (e,) = oncall_json(oc, "tokyo-primary")
    at = parse_at(e["at"])
    assert abs(at - int(time.time() * 1000)) < 60000, e
    assert e["oncall"]["user"] == expected("tokyo-primary", at)[0], e


def test_oncall_team_all_and_table(oc):
    at = "2026-03-08T13:00:00Z"
    entries = oncall_json(oc, "alpha", "--at", at)
    assert [e["schedule"] for e in entries] == ["ny-primary", "berlin-weekly"], entries
    assert {e["team"] for e in entries} == {"alpha"}
    for e in entries:
        check_answer(e, e["schedule"], parse_utc(at))
    entries = oncall_json(oc, "--at", at)
    assert sorted(e["schedule"] for e in entries) == \
        ["berlin-weekly", "ny-primary", "tokyo-primary"], entries

    r = cli(oc, "oncall", "ny-primary", "--at", "2026-03-08T12:59:59Z")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert re.match(r"^SCHEDULE\s+TEAM\s+ONCALL\s+FROM\s+UNTIL\s+NEXT$", lines[0]), r.stdout
    assert re.match(r"^ny-primary\s+alpha\s+carol\s+2026-03-07T14:00:00Z\s+"
                    r"2026-03-08T13:00:00Z\s+alice$", lines[1]), r.stdout
    assert len(lines) == 2, r.stdout

    # The API answers the same.
    r = oc.d.get("/api/v1/oncall?schedule=ny-primary&at=2026-03-08T12:59:59Z", token=oc.token)
    assert r.status == 200, r
    check_answer(r.body["oncall"][0], "ny-primary", parse_utc("2026-03-08T12:59:59Z"))
    r = oc.d.get("/api/v1/oncall?team=beta&at=2026-03-08T13:00:00Z", token=oc.token)
    assert r.status == 200 and [e["schedule"] for e in r.body["oncall"]] == ["tokyo-primary"], r


def test_oncall_refusals(oc):
    err = one_line_failure(cli(oc, "oncall", "ny-primary", "--at", "next tuesday"))
    assert "at" in err, err
    one_line_failure(cli(oc, "oncall", "ny-primary", "--at", "2026-02-30T10:00:00Z"))
    one_line_failure(cli(oc, "oncall", "--at", "yesterday-ish"))
    err = one_line_failure(cli(oc, "oncall", "nope"))
    assert "nope" in err, err
    r = cli(oc, "oncall", "ny-primary", "extra")
    assert r.code == 2 and r.stderr.count("\n") == 1, r

    for path in ("/api/v1/schedules/nope", "/api/v1/oncall?schedule=nope",
                 "/api/v1/oncall?team=nope", "/api/v1/schedules/nope/overrides"):
        r = oc.d.get(path, token=oc.token)
        assert r.status == 404 and "nope" in r.body["error"], (path, r)
    r = oc.d.get("/api/v1/oncall?schedule=ny-primary&at=garbage", token=oc.token)
    assert r.status == 400 and isinstance(r.body["error"], str), r
    r = oc.d.get("/api/v1/oncall?schedule=ny-primary&team=alpha", token=oc.token)
    assert r.status == 400, r
    r = oc.d.get("/api/v1/schedules/ny-primary?from=2026-03-09T00:00:00Z"
                 "&until=2026-03-08T00:00:00Z", token=oc.token)
    assert r.status == 400, r
    r = oc.d.get("/api/v1/schedules/ny-primary?from=2026-01-01T00:00:00Z"
                 "&until=2028-01-01T00:00:00Z", token=oc.token)
    assert r.status == 400, r
    r = oc.d.get("/api/v1/oncall")
    assert r.status == 401, r


# ---- schedules ------------------------------------------------------------------

def test_schedule_list_and_show(oc):
    r = cli(oc, "schedule", "list", "--json")
    assert r.code == 0, r
    assert [(s["name"], s["team"], s["time_zone"], s["layers"]) for s in r.json()] == [
        ("ny-primary", "alpha", "America/New_York", 1),
        ("berlin-weekly", "alpha", "Europe/Berlin", 1),
        ("tokyo-primary", "beta", "Asia/Tokyo", 1)], r.json()
    r = cli(oc, "schedule", "list")
    assert r.code == 0 and re.match(r"NAME\s+TEAM\s+TIME_ZONE\s+LAYERS", r.stdout), r

    r = cli(oc, "schedule", "show", "ny-primary", "--from", "2026-03-07T00:00:00Z",
            "--until", "2026-03-09T00:00:00Z", "--json")
    assert r.code == 0, r
    s = r.json()
    (layer,) = s["layers"]
    assert layer == {"name": "daily", "rrule": "FREQ=DAILY", "start": "2026-01-01",
                     "handoff": "09:00", "time_zone": "America/New_York",
                     "users": ["alice", "bob", "carol"], "restrictions": []}, layer
    shifts = s["timeline"]["shifts"]
    assert [(x["user"], x["start"], x["end"]) for x in shifts] == [
        ("bob", "2026-03-07T00:00:00Z", "2026-03-07T14:00:00Z"),
        ("carol", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"),
        ("alice", "2026-03-08T13:00:00Z", "2026-03-09T00:00:00Z")], shifts
    assert all(x["layer"] == "daily" for x in shifts), shifts

    r = cli(oc, "schedule", "show", "berlin-weekly", "--from", "2026-03-29T12:00",
            "--until", "2026-03-29T14:00")
    assert r.code == 0, r
    assert "schedule berlin-weekly (team alpha, time zone Europe/Berlin)" in r.stdout, r.stdout
    assert re.search(r"^2026-03-29T10:00:00Z\s+2026-03-29T12:00:00Z\s+\w+\s+weekly$",
                     r.stdout, re.M), r.stdout
    one_line_failure(cli(oc, "schedule", "show", "nope"))
    one_line_failure(cli(oc, "schedule", "show", "ny-primary", "--from", "soon"))


def test_policy_show_with_schedule_targets(oc):
    r = cli(oc, "policy", "show", "alpha-oncall", "--json")
    assert r.code == 0, r
    p = r.json()
    now = int(time.time() * 1000)
    step1, step2 = p["steps"]
    assert step1["schedules"] == ["ny-primary", "tokyo-primary"], p
    assert [o["schedule"] for o in step1["oncall"]] == ["ny-primary", "tokyo-primary"], p
    for o in step1["oncall"] + step2["oncall"]:
        at = parse_at(o["at"])
        assert abs(at - now) < 60000, o
        user, start, end = expected(o["schedule"], at)
        if start <= at - 1000 and end > at + 60000:  # not right at a handoff
            assert o["oncall"]["user"] == user, o
    assert step2["users"] == ["alice"] and step2["oncall"][0]["schedule"] == "berlin-weekly"

    r = cli(oc, "policy", "show", "alpha-oncall")
    assert r.code == 0, r
    assert re.search(r"schedule: ny-primary \(on call now: \w+ until \S+Z\)", r.stdout), r.stdout
    r = cli(oc, "policy", "list", "--json")
    assert r.code == 0 and "alpha-oncall" in [x["name"] for x in r.json()], r
    r = cli(oc, "policy", "list", "--team", "beta")
    assert r.code == 0 and "alpha-oncall" not in r.stdout and "beta-default" in r.stdout, r
    one_line_failure(cli(oc, "policy", "show", "nope"))


# ---- overrides --------------------------------------------------------------------

def audit_events(oc, action):
    r = oc.d.get("/api/v1/audit?action=" + action, token=oc.token)
    assert r.status == 200, r
    return r.body["events"]


def hour_from_now(hours):
    now = int(time.time() * 1000)
    return (now // HOUR_MS + hours) * HOUR_MS


def test_overrides_cli_and_api(oc):
    t1, t2 = hour_from_now(24), hour_from_now(30)
    r = cli(oc, "override", "add", "ny-primary", "--user", "bob", "--from", iso_utc(t1),
            "--until", iso_utc(t2), "--reason", "swap with alice")
    assert r.code == 0, r
    m = re.fullmatch(r"override (\d+): bob is on call for ny-primary from (\S+) until (\S+)\n",
                     r.stdout)
    assert m and m.group(2) == iso_utc(t1) and m.group(3) == iso_utc(t2), r.stdout
    oid = int(m.group(1))

    # Who is on call inside the override: bob, for exactly its time.
    (e,) = oncall_json(oc, "ny-primary", "--at", iso_utc(t1 + HOUR_MS))
    assert e["oncall"] == {"user": "bob", "start": iso_utc(t1), "end": iso_utc(t2)}, e
    (e,) = oncall_json(oc, "ny-primary", "--at", iso_utc(t1 - 1000))
    assert e["next"]["user"] == "bob" or e["oncall"]["user"] == "bob", e
    assert e["oncall"]["end"] == iso_utc(t1) or e["oncall"]["user"] == "bob", e

    # Listed (CLI table and JSON, API) and in the timeline.
    r = cli(oc, "override", "list", "ny-primary", "--json")
    assert r.code == 0, r
    (o,) = r.json()
    assert o["id"] == oid and o["user"] == "bob" and o["schedule"] == "ny-primary", o
    assert o["from"] == iso_utc(t1) and o["until"] == iso_utc(t2), o
    assert o["reason"] == "swap with alice" and o["created_by"] == "token:admin", o
    r = cli(oc, "override", "list", "ny-primary")
    assert r.code == 0 and re.match(r"ID\s+USER\s+FROM\s+UNTIL\s+BY\s+REASON\n", r.stdout), r
    assert re.search(r"^%d\s+bob\s+%s\s+%s\s+token:admin\s+swap with alice$"
                     % (oid, iso_utc(t1), iso_utc(t2)), r.stdout, re.M), r.stdout
    r = oc.d.get("/api/v1/schedules/ny-primary?from=%s&until=%s"
                 % (iso_utc(t1 - HOUR_MS), iso_utc(t2 + HOUR_MS)), token=oc.token)
    assert r.status == 200, r
    ov = [x for x in r.body["timeline"]["shifts"] if x.get("override_id") == oid]
    assert [(x["user"], x["start"], x["end"]) for x in ov] == \
        [("bob", iso_utc(t1), iso_utc(t2))], r.body["timeline"]

    # The API: add one to Berlin, see it, delete it.
    r = oc.d.request("POST", "/api/v1/schedules/berlin-weekly/overrides",
                     {"user": "alice", "from": iso_utc(t1), "until": iso_utc(t2)},
                     token=oc.token, headers={"X-Request-Id": "e2e-override-1"})
    assert r.status == 201, r
    bid = r.body["id"]
    assert r.body["user"] == "alice" and r.body["reason"] is None, r.body
    r = oc.d.get("/api/v1/schedules/berlin-weekly/overrides", token=oc.token)
    assert r.status == 200 and [x["id"] for x in r.body["overrides"]] == [bid], r
    r = oc.d.request("DELETE", "/api/v1/overrides/%d" % bid, token=oc.token)
    assert r.status == 200 and r.body["deleted_by"] == "token:admin", r
    r = oc.d.request("DELETE", "/api/v1/overrides/%d" % bid, token=oc.token)
    assert r.status == 409, r
    r = oc.d.request("DELETE", "/api/v1/overrides/999999", token=oc.token)
    assert r.status == 404, r

    # The CLI deletes; the rotation applies again.
    r = cli(oc, "override", "delete", str(oid))
    assert r.code == 0 and r.stdout == "override %d deleted\n" % oid, r
    r = cli(oc, "override", "list", "ny-primary", "--json")
    assert r.code == 0 and r.json() == [], r
    (e,) = oncall_json(oc, "ny-primary", "--at", iso_utc(t1 + HOUR_MS))
    check_answer(e, "ny-primary", t1 + HOUR_MS)
    one_line_failure(cli(oc, "override", "delete", str(oid)))

    # Audited: who, what, from where.
    creates = audit_events(oc, "override.create")
    assert [e["target"] for e in creates] == ["override:%d" % bid, "override:%d" % oid], creates
    c = creates[0]
    assert c["actor"] == "token:admin" and c["remote_addr"] == "127.0.0.1", c
    assert c["request_id"] == "e2e-override-1", c
    assert c["details"]["schedule"] == "berlin-weekly" and c["details"]["user"] == "alice", c
    deletes = audit_events(oc, "override.delete")
    assert [e["target"] for e in deletes] == ["override:%d" % oid, "override:%d" % bid], deletes
    assert all(e["actor"] == "token:admin" for e in deletes), deletes


def test_override_refusals(oc):
    t1, t2 = hour_from_now(48), hour_from_now(52)
    err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "bob",
                               "--from", iso_utc(t2), "--until", iso_utc(t1)))
    assert "inverted" in err, err
    err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "bob",
                               "--from", iso_utc(t1), "--until", iso_utc(t1)))
    assert "inverted" in err, err
    r = cli(oc, "override", "add", "ny-primary", "--user", "bob", "--from", iso_utc(t1),
            "--until", iso_utc(t2), "--json")
    assert r.code == 0, r
    first = r.json()["id"]
    # Overlapping on either side, or inside: refused, naming the other override.
    for a, b in ((t1 - HOUR_MS, t1 + HOUR_MS), (t2 - HOUR_MS, t2 + HOUR_MS),
                 (t1 + HOUR_MS, t2 - HOUR_MS), (t1 - HOUR_MS, t2 + HOUR_MS)):
        err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "carol",
                                   "--from", iso_utc(a), "--until", iso_utc(b)))
        assert "override %d" % first in err and "409" in err, err
    r = oc.d.request("POST", "/api/v1/schedules/ny-primary/overrides",
                     {"user": "carol", "from": iso_utc(t1), "until": iso_utc(t2)},
                     token=oc.token)
    assert r.status == 409 and "override %d" % first in r.body["error"], r
    # Touching is fine; another schedule is another timeline.
    r = cli(oc, "override", "add", "ny-primary", "--user", "carol", "--from", iso_utc(t2),
            "--until", iso_utc(t2 + HOUR_MS))
    assert r.code == 0, r
    r = cli(oc, "override", "add", "berlin-weekly", "--user", "carol", "--from", iso_utc(t1),
            "--until", iso_utc(t2))
    assert r.code == 0, r
    # In the past, unknown user, unknown schedule, unreadable times, missing options.
    err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "bob",
                               "--from", "-3h", "--until", "-1h"))
    assert "past" in err, err
    err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "zed",
                               "--from", "+100d", "--until", "+101d"))
    assert "zed" in err, err
    err = one_line_failure(cli(oc, "override", "add", "nope", "--user", "bob",
                               "--from", "+100d", "--until", "+101d"))
    assert "nope" in err and "404" in err, err
    err = one_line_failure(cli(oc, "override", "add", "ny-primary", "--user", "bob",
                               "--from", "tomorrow", "--until", "+101d"))
    assert "from" in err, err
    r = cli(oc, "override", "add", "ny-primary", "--user", "bob")
    assert r.code == 2 and r.stderr.count("\n") == 1, r
    r = oc.d.request("POST", "/api/v1/schedules/ny-primary/overrides",
                     {"user": "bob", "from": "+200d", "until": "+201d", "extra": 1},
                     token=oc.token)
    assert r.status == 400, r
    # Nothing of that was stored.
    r = cli(oc, "override", "list", "ny-primary", "--json")
    assert [o["user"] for o in r.json()] == ["bob", "carol"], r


# ---- team-limited tokens -------------------------------------------------------------

def test_team_token_sees_only_its_schedules(oc):
    reader = oc.env.token_secret(name="alpha-reader", scope="read", team="alpha")
    writer = oc.env.token_secret(name="alpha-writer", scope="write", team="alpha")

    r = oc.d.get("/api/v1/schedules", token=reader)
    assert r.status == 200, r
    assert [s["name"] for s in r.body["schedules"]] == ["ny-primary", "berlin-weekly"], r
    r = oc.d.get("/api/v1/schedules/tokyo-primary", token=reader)
    assert r.status == 403, r
    r = oc.d.get("/api/v1/oncall?schedule=tokyo-primary", token=reader)
    assert r.status == 403, r
    r = oc.d.get("/api/v1/oncall?team=beta", token=reader)
    assert r.status == 403, r
    r = oc.d.get("/api/v1/oncall", token=reader)
    assert r.status == 200, r
    assert [e["schedule"] for e in r.body["oncall"]] == ["ny-primary", "berlin-weekly"], r
    r = oc.d.get("/api/v1/schedules/tokyo-primary/overrides", token=reader)
    assert r.status == 403, r

    entries = oncall_json(oc, token=reader)
    assert "tokyo-primary" not in [e["schedule"] for e in entries], entries
    one_line_failure(cli(oc, "oncall", "tokyo-primary", token=reader))
    one_line_failure(cli(oc, "oncall", "beta", token=reader))
    r = cli(oc, "schedule", "list", token=reader)
    assert r.code == 0 and "tokyo-primary" not in r.stdout and "ny-primary" in r.stdout, r

    # Changes: only its own team's schedules, and only with write scope.
    t1, t2 = hour_from_now(72), hour_from_now(73)
    body = {"user": "bob", "from": iso_utc(t1), "until": iso_utc(t2)}
    r = oc.d.request("POST", "/api/v1/schedules/tokyo-primary/overrides", body, token=writer)
    assert r.status == 403, r
    r = oc.d.request("POST", "/api/v1/schedules/ny-primary/overrides", body, token=reader)
    assert r.status == 403, r
    r = oc.d.request("POST", "/api/v1/schedules/ny-primary/overrides", body, token=writer)
    assert r.status == 201 and r.body["created_by"] == "token:alpha-writer", r
    r = oc.d.request("POST", "/api/v1/schedules/tokyo-primary/overrides", body, token=oc.token)
    assert r.status == 201, r
    tokyo_id = r.body["id"]
    r = oc.d.request("DELETE", "/api/v1/overrides/%d" % tokyo_id, token=writer)
    assert r.status == 403, r
    r = oc.d.get("/api/v1/schedules/tokyo-primary/overrides", token=oc.token)
    assert [o["id"] for o in r.body["overrides"]] == [tokyo_id], r


def test_overrides_survive_restart_and_reload(oc):
    t1, t2 = hour_from_now(5), hour_from_now(7)
    r = cli(oc, "override", "add", "tokyo-primary", "--user", "bob", "--from", iso_utc(t1),
            "--until", iso_utc(t2), "--json")
    assert r.code == 0, r
    assert oc.d.stop() == 0
    oc.d.start()
    (e,) = oncall_json(oc, "tokyo-primary", "--at", iso_utc(t1 + 60000))
    assert e["oncall"] == {"user": "bob", "start": iso_utc(t1), "end": iso_utc(t2)}, e
    r = cli(oc, "config", "reload")
    assert r.code == 0, r
    (e,) = oncall_json(oc, "tokyo-primary", "--at", iso_utc(t1 + 60000))
    assert e["oncall"]["user"] == "bob", e


def test_readme_on_call_commands_on_the_example_configuration(make_env):
    """The README's "On call" commands, on a copy of examples/."""
    import shutil
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "examples"
    e = make_env("example")
    for child in list(e.dir.iterdir()):
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    shutil.copytree(example, e.dir, dirs_exist_ok=True)
    shutil.rmtree(e.dir / "data", ignore_errors=True)
    tok = e.local("token", "create", "--name", "me", "--scope", "admin")
    assert tok.code == 0, tok
    secret = tok.stdout.strip()
    port = free_port()
    d = e.daemon(start=False, extra_args=["--listen", "127.0.0.1:%d" % port])
    d.start(port=port)
    for args in (["oncall"], ["oncall", "platform", "--at", "2026-03-08 09:30"],
                 ["schedule", "list"], ["schedule", "show", "platform-primary", "--until", "+14d"],
                 ["policy", "show", "platform-default"],
                 ["override", "add", "platform-primary", "--user", "ann", "--from", "+1d",
                  "--until", "+3d", "--reason", "covering for bob"],
                 ["override", "list", "platform-primary"],
                 ["ical", "create", "--user", "ann"], ["ical", "list"], ["ical", "revoke", "1"],
                 ["override", "delete", "1"]):
        r = e.cli(*args, url=d.url, token=secret)
        assert r.code == 0, r
        assert r.stdout.strip(), r
    assert d.stop() == 0
