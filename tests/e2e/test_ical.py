"""iCalendar feeds of shifts: `opsbell ical create|list|revoke`,
/api/v1/ical-feeds and the token-addressed GET /ical/<token>.ics.

Python has no libical binding in Debian's standard library, so the feed is
checked by a minimal RFC 5545 reader: CRLF line ends, lines of at most 75
octets, folding, one VCALENDAR with VERSION:2.0 and PRODID, VEVENTs with
DTSTART/DTEND/UID/DTSTAMP in UTC."""

import re
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from e2e_support import iso_utc, setup_oncall_env

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


@pytest.fixture
def oc(env, admin_token):
    setup_oncall_env(env)
    env.extra_main = "ical:\n  horizon: 3d\n"
    env.write_main()
    d = env.daemon()
    return SimpleNamespace(env=env, d=d, token=admin_token)


def cli(oc, *args, token=None):
    return oc.env.cli(*args, url=oc.d.url, token=token or oc.token)


def fetch(url):
    """(status, content type, body bytes) of a GET with urllib (no token)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type"), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def ical_time(text):
    """20260308T130000Z -> milliseconds."""
    import calendar
    assert re.fullmatch(r"\d{8}T\d{6}Z", text), text
    return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ")) * 1000


def parse_ical(raw):
    """Check the framing and return (calendar properties, [event properties]),
    each a dict name -> value (parameters dropped)."""
    assert raw.endswith(b"\r\n"), raw[-20:]
    physical = raw[:-2].split(b"\r\n")
    for line in physical:
        assert b"\n" not in line and b"\r" not in line, line
        assert len(line) <= 75, (len(line), line)
    text = raw.decode("utf-8")
    logical = []
    for line in text[:-2].split("\r\n"):
        if line.startswith((" ", "\t")):
            assert logical, "a continuation line first"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR", logical
    cal, events, current, depth = {}, [], None, 0
    for line in logical[1:-1]:
        name, _, value = line.partition(":")
        name = name.split(";")[0].upper()
        if name == "BEGIN":
            depth += 1
            if value == "VEVENT":
                current = {}
            continue
        if name == "END":
            depth -= 1
            if value == "VEVENT":
                events.append(current)
                current = None
            continue
        if current is not None:
            current[name] = value
        elif depth == 0:
            cal[name] = value
    return cal, events


def check_calendar(raw):
    cal, events = parse_ical(raw)
    assert cal.get("VERSION") == "2.0", cal
    assert cal.get("PRODID"), cal
    uids = set()
    for ev in events:
        for prop in ("DTSTART", "DTEND", "UID", "DTSTAMP", "SUMMARY"):
            assert prop in ev, (prop, ev)
        assert ical_time(ev["DTSTART"]) < ical_time(ev["DTEND"]), ev
        ical_time(ev["DTSTAMP"])
        assert ev["UID"] not in uids, ev
        uids.add(ev["UID"])
    return cal, events


def test_schedule_feed(oc):
    r = cli(oc, "ical", "create", "--schedule", "ny-primary")
    assert r.code == 0, r
    url = r.stdout.strip()
    assert r.stdout == url + "\n", r
    m = re.fullmatch(r"http://127\.0\.0\.1:%d/ical/(obi_[A-Za-z0-9_-]{43})\.ics" % oc.d.port, url)
    assert m, url
    token = m.group(1)

    before = int(time.time() * 1000)
    status, ctype, raw = fetch(url)
    after = int(time.time() * 1000)
    assert status == 200, raw
    assert ctype == "text/calendar; charset=utf-8", ctype
    cal, events = check_calendar(raw)
    assert "ny-primary" in cal.get("X-WR-CALNAME", ""), cal
    # The shifts from a day ago to the 3-day horizon, whole (a calendar sees
    # each shift under one UID however the window moves), in order, back to back.
    starts = [ical_time(e["DTSTART"]) for e in events]
    ends = [ical_time(e["DTEND"]) for e in events]
    assert 4 <= len(events) <= 6, events
    assert starts == sorted(starts) and starts[1:] == ends[:-1], events
    assert starts[0] <= before - DAY_MS and ends[0] > after - DAY_MS, events
    assert starts[-1] < before + 3 * DAY_MS and ends[-1] >= after + 3 * DAY_MS, events
    for e in events:  # 09:00 New York time: 23 to 25 hours
        assert 23 * HOUR_MS <= ical_time(e["DTEND"]) - ical_time(e["DTSTART"]) <= 25 * HOUR_MS
        assert re.fullmatch(r"On call: ny-primary \((alice|bob|carol)\)", e["SUMMARY"]), e
    time.sleep(1.1)
    status, _, raw2 = fetch(url)
    assert status == 200
    assert [e["UID"] for e in check_calendar(raw2)[1]] == [e["UID"] for e in events]
    # The current shift agrees with `opsbell oncall`.
    r = cli(oc, "oncall", "ny-primary", "--json")
    now_shift = r.json()[0]["oncall"]
    cur = [e for e in events if ical_time(e["DTSTART"]) <= before < ical_time(e["DTEND"])]
    assert len(cur) == 1 and now_shift["user"] in cur[0]["SUMMARY"], (cur, now_shift)

    # Listed (never with its URL), revoked, gone.
    r = cli(oc, "ical", "list", "--json")
    assert r.code == 0, r
    (f,) = r.json()
    assert f["kind"] == "schedule" and f["subject"] == "ny-primary" and f["state"] == "active"
    assert token not in r.stdout and "url" not in f and "token" not in f, f
    r = cli(oc, "ical", "list")
    assert r.code == 0 and re.search(r"^%d\s+schedule\s+ny-primary\s+active\s" % f["id"],
                                     r.stdout, re.M), r.stdout
    r = cli(oc, "ical", "revoke", str(f["id"]))
    assert r.code == 0 and r.stdout == "iCal feed %d revoked\n" % f["id"], r
    status, _, raw = fetch(url)
    assert status == 404, raw
    r = cli(oc, "ical", "revoke", str(f["id"]))
    assert r.code == 1 and r.stderr.count("\n") == 1, r
    r = cli(oc, "ical", "list", "--json")
    assert [x["state"] for x in r.json()] == ["revoked"], r

    # A wrong method on the feed's URL is refused without logging the path.
    r = oc.d.request("POST", "/ical/%s.ics" % token, {})
    assert r.status == 405 and r.headers.get("Allow") == "GET", r
    # The secret is nowhere in the log or the audit trail.
    assert token not in oc.d.log_text()
    assert "/ical/{token}" in oc.d.log_text()
    r = oc.d.get("/api/v1/audit", token=oc.token)
    assert token not in r.text
    actions = [e["action"] for e in r.body["events"]]
    assert "ical_feed.create" in actions and "ical_feed.revoke" in actions, actions


def test_user_feed_spans_schedules_and_overrides(oc):
    t1, t2 = (int(time.time() * 1000) // HOUR_MS + 30) * HOUR_MS, 0
    t2 = t1 + 2 * HOUR_MS
    r = oc.d.request("POST", "/api/v1/schedules/berlin-weekly/overrides",
                     {"user": "alice", "from": iso_utc(t1), "until": iso_utc(t2)},
                     token=oc.token)
    assert r.status == 201, r
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"user": "alice"}, token=oc.token)
    assert r.status == 201, r
    assert r.body["kind"] == "user" and r.body["subject"] == "alice", r.body
    assert r.body["token"].startswith("obi_") and r.body["url"].endswith(r.body["token"] + ".ics")
    status, ctype, raw = fetch(r.body["url"])
    assert status == 200 and ctype.startswith("text/calendar"), raw
    cal, events = check_calendar(raw)
    summaries = {e["SUMMARY"] for e in events}
    assert all(s.endswith("(alice)") for s in summaries), summaries
    # Daily in New York and Tokyo, and the Berlin override.
    assert any("ny-primary" in s for s in summaries), summaries
    assert any("tokyo-primary" in s for s in summaries), summaries
    berlin = [e for e in events if "berlin-weekly" in e["SUMMARY"]]
    assert [(ical_time(e["DTSTART"]), ical_time(e["DTEND"])) for e in berlin] == [(t1, t2)], \
        berlin


def test_feed_refusals_and_tokens(oc):
    bad = [({}, 400), ({"user": "alice", "schedule": "ny-primary"}, 400),
           ({"user": "zed"}, 404), ({"schedule": "nope"}, 404), ({"team": "alpha"}, 400)]
    for body, status in bad:
        r = oc.d.request("POST", "/api/v1/ical-feeds", body, token=oc.token)
        assert r.status == status, (body, r)
    r = cli(oc, "ical", "create")
    assert r.code == 2 and r.stderr.count("\n") == 1, r
    r = cli(oc, "ical", "create", "--user", "zed")
    assert r.code == 1 and r.stderr.count("\n") == 1 and "zed" in r.stderr, r

    reader = oc.env.token_secret(name="reader", scope="read")
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"user": "alice"}, token=reader)
    assert r.status == 403, r
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"user": "alice"})
    assert r.status == 401, r

    # Team tokens: their own schedules only; a user's feed spans every team.
    alpha = oc.env.token_secret(name="alpha-writer", scope="write", team="alpha")
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"schedule": "tokyo-primary"}, token=alpha)
    assert r.status == 403, r
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"user": "alice"}, token=alpha)
    assert r.status == 403, r
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"schedule": "ny-primary"}, token=alpha)
    assert r.status == 201, r
    mine = r.body["id"]
    r = oc.d.request("POST", "/api/v1/ical-feeds", {"schedule": "tokyo-primary"},
                     token=oc.token)
    assert r.status == 201, r
    theirs = r.body["id"]
    r = oc.d.get("/api/v1/ical-feeds", token=alpha)
    assert [f["id"] for f in r.body["ical_feeds"]] == [mine], r
    r = oc.d.request("DELETE", "/api/v1/ical-feeds/%d" % theirs, token=alpha)
    assert r.status == 403, r
    r = oc.d.request("DELETE", "/api/v1/ical-feeds/%d" % mine, token=alpha)
    assert r.status == 200 and r.body["state"] == "revoked", r

    # Unknown, malformed and API-token-shaped feed URLs: all the same 404.
    base = oc.d.url + "/ical/"
    for tail in ("obi_" + "A" * 43 + ".ics", "obi_short.ics", "x.ics", oc.token + ".ics",
                 "obi_" + "A" * 43, "obi_" + "A" * 43 + ".ics.ics"):
        status, ctype, raw = fetch(base + tail)
        assert status == 404 and ctype.startswith("application/json"), (tail, raw)
    # A bearer token is not needed, and not a substitute.
    status, _, _ = fetch(base + "anything.ics")
    assert status == 404
