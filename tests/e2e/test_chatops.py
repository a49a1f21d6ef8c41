"""Slash commands end to end (POST /slack/commands, docs/CHATOPS.md), with
the Slack stand-in's client (tests/e2e/slack_standin.py) signing commands as
Slack does and posting Mattermost's unsigned, token-carrying ones:

* /oncall names the people a schedule has on call now and next;
* /page opens an incident through the ingest pipeline that starts
  notifying (the `log` provider records the page), audited as the chat user;
* /ack, /resolve, /escalate and /note act as the mapped user, from
  slack:<U…> (timeline and audit say so); /incidents lists open ones;
* /tel rings the callee through the Twilio stand-in and the outcome reaches
  the command's response_url; unknown nicknames get close matches;
* help and unknown subcommands answer the command list;
* Mattermost commands with the configured token work, a wrong token is 401;
* forged signatures, stale timestamps, unmapped users, usage errors and
  malformed bodies are refused without any effect, and the daemon stays up.
"""

import datetime
import json
import time
import urllib.parse

import pytest

from e2e_support import log_deliveries as deliveries
from e2e_support import wait_for
from slack_standin import SIGNING_SECRET, SlackStandin, send_mattermost_command
from twilio_standin import Standin as TwilioStandin

ANN, BOB, CARL = "U0ANN0001", "U0BOB0001", "U0CARL001"
BOB_PHONE = "+4930555000"
TWILIO_ACCOUNT = "AC" + "0a1b2c3d4e5f6789" * 2
TWILIO_TOKEN = "twilio-chatops-token-0123456789"
MM_ANN = "mmann0000000000000000000001"[:26]
MM_TOKEN = "mm-command-token-0123456789abcdef"
MM_TOKEN_2 = "mm-second-command-token-fedcba98"  # Mattermost gives each command its own

# A weekly rotation that began at 00:00 UTC three days ago: ann now, bob next,
# whatever the time of day the test runs (no handoff within the next 4 days).
START = (datetime.datetime.now(datetime.timezone.utc).date()
         - datetime.timedelta(days=3)).isoformat()

USERS = """\
users:
  - name: ann
    full_name: Ann Example
    chat_ids:
      - {provider: slack, id: %(ann)s}
      - {provider: mattermost, id: %(mm_ann)s}
    contact_methods:
      - {type: email, address: ann@example.com}
    notification_rules:
      - {type: email, after: 0s}
  - name: bob
    full_name: Bob Builder
    nickname: bob
    chat_ids: [{provider: slack, id: %(bob)s}]
    contact_methods:
      - {type: voice, address: "%(bob_phone)s"}
      - {type: email, address: bob@example.com}
    notification_rules:
      - {type: email, after: 0s}
  - name: carl
    chat_ids: [{provider: slack, id: %(carl)s}]
    contact_methods:
      - {type: email, address: carl@example.com}
    notification_rules:
      - {type: email, after: 0s}
  - name: bo
    contact_methods:
      - {type: email, address: bo@example.com}
""" % {"ann": ANN, "bob": BOB, "carl": CARL, "mm_ann": MM_ANN, "bob_phone": BOB_PHONE}

PAYMENTS = """\
team:
  description: Payments
  members: [ann, bob, carl]
  fallback_service: payments-general
services:
  - {name: payments-api, escalation_policy: pay-policy}
  - {name: payments-general, escalation_policy: pay-policy}
escalation_policies:
  - name: pay-policy
    steps:
      - {delay: 1h, targets: {schedules: [pay-primary]}}
      - {delay: 1h, targets: {users: [carl]}}
schedules:
  - name: pay-primary
    time_zone: UTC
    layers:
      - name: weekly
        start: "%(start)s"
        handoff: "00:00"
        rrule: FREQ=WEEKLY
        users: [ann, bob]
""" % {"start": START}

SEARCH = """\
team:
  description: Search
  members: [carl]
services:
  - {name: search-web, escalation_policy: search-policy}
escalation_policies:
  - name: search-policy
    steps:
      - {delay: 1h, targets: {users: [carl]}}
"""


@pytest.fixture
def slack():
    s = SlackStandin()
    yield s
    s.close()


def configure(env, slack, mattermost=True, slack_enabled=True, twilio=None):
    env.write("users.yaml", USERS)
    env.write("teams/payments/team.yaml", PAYMENTS)
    env.write("teams/search/team.yaml", SEARCH)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_SLACK_TOKEN"] = "xoxb-e2e-chatops"
    env.env_vars["OPSBELL_TEST_MM_TOKEN"] = "%s,\n%s" % (MM_TOKEN, MM_TOKEN_2)
    env.write("slack-signing-secret", SIGNING_SECRET + "\n")
    text = "providers:\n  log:\n    path: deliveries.jsonl\n"
    if slack_enabled:
        text += ("  slack:\n"
                 "    api_url: %s\n"
                 "    bot_token: env:OPSBELL_TEST_SLACK_TOKEN\n"
                 "    signing_secret: file:slack-signing-secret\n" % slack.api_url)
    if twilio is not None:
        env.env_vars["OPSBELL_TEST_TWILIO_TOKEN"] = TWILIO_TOKEN
        text += ("  twilio:\n"
                 "    api_url: %s\n"
                 "    account_sid: %s\n"
                 "    auth_token: env:OPSBELL_TEST_TWILIO_TOKEN\n"
                 "    from_number: \"+15005550006\"\n" % (twilio.url, TWILIO_ACCOUNT))
    if mattermost:
        text += ("  mattermost:\n"
                 "    command_token: env:OPSBELL_TEST_MM_TOKEN\n"
                 "    api_url: %s\n" % slack.base)
    env.extra_main = text
    env.write_main()
    return env.dir / "deliveries.jsonl"


def cmd(slack, d, command, text, user=ANN, **kw):
    """A signed Slack command; the reply's JSON body (asserting 200)."""
    r = slack.send_command(d.url, command, text, user, **kw)
    assert r.status == 200, r
    assert r.body["response_type"] in ("ephemeral", "in_channel"), r.body
    return r.body


def incident(d, token, iid):
    r = d.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body


def audit(d, token, action):
    r = d.get("/api/v1/audit?action=%s" % action, token=token)
    assert r.status == 200, r
    return r.body["events"]


def page(slack, d, target, message, user=ANN):
    body = cmd(slack, d, "/page", "%s %s" % (target, message), user=user)
    assert body["response_type"] == "in_channel", body
    assert body["text"].startswith("Paged "), body
    return int(body["text"].split("incident #")[1].split(" ")[0]), body


def test_oncall_names_who_is_on_call_now_and_next(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    for command, text in (("/oncall", ""), ("/oncall", "payments"), ("/opsbell", "oncall"),
                          ("/opsbell", "oncall payments")):
        body = cmd(slack, d, command, text)
        assert body["response_type"] == "ephemeral", body
        lines = [l for l in body["text"].splitlines() if "pay-primary" in l]
        assert len(lines) == 1, body
        assert "now *ann* until" in lines[0] and "next *bob* until" in lines[0], lines
        assert "(payments)" in lines[0], lines
    # the same answer as the API's
    api = d.get("/api/v1/oncall?team=payments", token=admin_token).body["oncall"][0]
    assert api["oncall"]["user"] == "ann" and api["next"]["user"] == "bob", api
    end = api["oncall"]["end"]
    assert "until %s %s UTC" % (end[:10], end[11:16]) in cmd(slack, d, "/oncall", "")["text"]
    # a team without schedules, and one that does not exist
    assert "has no schedules" in cmd(slack, d, "/oncall", "search")["text"]
    body = cmd(slack, d, "/oncall", "nosuchteam")
    assert "No team is called 'nosuchteam'" in body["text"], body
    body = cmd(slack, d, "/oncall", "payments extra words")
    assert body["text"].startswith("Usage: /oncall [team]"), body


def test_page_opens_an_incident_that_notifies_and_is_audited(env, admin_token, slack):
    log = configure(env, slack)
    d = env.daemon()
    iid, body = page(slack, d, "payments-api", "checkout fails for every user")
    assert body["text"] == ("Paged payments-api: incident #%d \u2014 checkout fails for every "
                            "user (paged by ann)" % iid), body
    inc = incident(d, admin_token, iid)
    assert inc["service"] == "payments-api" and inc["status"] == "triggered", inc
    assert inc["summary"] == "checkout fails for every user", inc
    assert inc["severity"] == "critical", inc
    # it starts its escalation like any incident: the schedule's ann is paged
    wait_for(lambda: deliveries(log, iid), 20, "the page's first notification")
    assert deliveries(log, iid)[0]["user"] == "ann", deliveries(log, iid)
    # labels say it came from chat and who
    r = d.get("/api/v2/alerts", token=admin_token)
    labels = [a["labels"] for a in r.body if a["labels"].get("paged_by") == "ann"]
    assert labels and labels[0]["chat"] == "slack" and labels[0]["chat_user"] == ANN, r.body
    ev = [e for e in audit(d, admin_token, "incident.page") if e["target"] == "incident:%d" % iid]
    assert ev and ev[0]["actor"] == "user:ann" and ev[0]["remote_addr"] == "slack:" + ANN, ev
    assert ev[0]["details"]["service"] == "payments-api", ev

    # the same words again are a second incident (a dedup key per page)
    iid2, _ = page(slack, d, "payments-api", "checkout fails for every user")
    assert iid2 != iid
    # a team pages its fallback service; quotes around the message are dropped
    iid3, body = page(slack, d, "payments", '"card terminal offline"')
    inc = incident(d, admin_token, iid3)
    assert inc["service"] == "payments-general" and inc["summary"] == "card terminal offline"
    # a team without a fallback pages its first service
    iid4, _ = page(slack, d, "search", "search is down", user=CARL)
    assert incident(d, admin_token, iid4)["service"] == "search-web"
    # refusals: unknown target, no message
    body = cmd(slack, d, "/page", "nosuch thing broke")
    assert "No service or team is called 'nosuch'" in body["text"], body
    body = cmd(slack, d, "/page", "payments-api")
    assert body["text"].startswith("Usage: /page TEAM|SERVICE message"), body
    body = cmd(slack, d, "/opsbell", "page")
    assert body["text"].startswith("Usage: /opsbell page TEAM|SERVICE message"), body


def test_ack_resolve_escalate_note_as_the_chat_user(env, admin_token, slack):
    log = configure(env, slack)
    d = env.daemon()
    iid, _ = page(slack, d, "payments-api", "latency high")
    wait_for(lambda: deliveries(log, iid), 20, "the first page")

    body = cmd(slack, d, "/note", "%d looking at the load balancer" % iid, user=BOB)
    assert body["text"] == "Note added to incident #%d by bob." % iid, body
    body = cmd(slack, d, "/ack", "#%d" % iid, user=BOB)
    assert body["response_type"] == "in_channel", body
    assert body["text"] == "Incident #%d acknowledged by bob: latency high" % iid, body
    inc = incident(d, admin_token, iid)
    assert inc["status"] == "acknowledged" and inc["acknowledged_by"] == "user:bob", inc
    body = cmd(slack, d, "/ack", str(iid), user=BOB)
    assert "already acknowledged" in body["text"] and body["response_type"] == "ephemeral"

    # escalate: re-triggered, carl (step 2) is paged
    body = cmd(slack, d, "/opsbell", "escalate %d" % iid, user=CARL)
    assert "escalated to the next step by carl" in body["text"], body
    wait_for(lambda: any(x["user"] == "carl" for x in deliveries(log, iid)), 20, "carl paged")

    body = cmd(slack, d, "/resolve", str(iid))
    assert body["text"] == "Incident #%d resolved by ann: latency high" % iid, body
    inc = incident(d, admin_token, iid)
    assert inc["status"] == "resolved" and inc["resolved_by"] == "user:ann", inc

    timeline = {e["kind"]: e for e in inc["timeline"]}
    assert timeline["incident.acknowledged"]["actor"] == "user:bob", timeline
    assert timeline["escalation.requested"]["actor"] == "user:carl", timeline
    assert timeline["incident.resolved"]["actor"] == "user:ann", timeline
    assert timeline["note"]["actor"] == "user:bob", timeline
    assert timeline["note"]["message"] == "looking at the load balancer", timeline
    for action, user, chat_id in (("incident.acknowledged", "bob", BOB),
                                  ("escalation.requested", "carl", CARL),
                                  ("incident.resolved", "ann", ANN), ("note", "bob", BOB)):
        ev = [e for e in audit(d, admin_token, action) if e["target"] == "incident:%d" % iid]
        assert len(ev) == 1, (action, ev)
        assert ev[0]["actor"] == "user:" + user, ev
        assert ev[0]["remote_addr"] == "slack:" + chat_id, ev

    # refusals
    body = cmd(slack, d, "/ack", "999999")
    assert body["text"] == "No incident #999999.", body
    for command, text, usage in (("/ack", "", "Usage: /ack ID"), ("/ack", "abc", "Usage: /ack ID"),
                                 ("/resolve", "-3", "Usage: /resolve ID"),
                                 ("/ack", "%d extra" % iid, "Usage: /ack ID"),
                                 ("/note", str(iid), "Usage: /note ID text"),
                                 ("/escalate", "#", "Usage: /escalate ID")):
        body = cmd(slack, d, command, text)
        assert body["text"].startswith(usage), (command, text, body)
        assert body["response_type"] == "ephemeral"
    assert incident(d, admin_token, iid)["status"] == "resolved"


def test_incidents_lists_open_ones_newest_first(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    assert cmd(slack, d, "/incidents", "")["text"] == "No open incidents."
    a, _ = page(slack, d, "payments-api", "first <!channel> & more")
    b, _ = page(slack, d, "search-web", "second")
    c, _ = page(slack, d, "payments-api", "third")
    cmd(slack, d, "/ack", str(b))
    cmd(slack, d, "/resolve", str(c))
    text = cmd(slack, d, "/incidents", "")["text"]
    lines = text.splitlines()
    assert lines[0] == "*Open incidents*", text
    assert [l.split()[1] for l in lines[1:]] == ["#%d" % b, "#%d" % a], text
    assert "acknowledged" in lines[1] and "acknowledged by ann" in lines[1], text
    # text from people is escaped for Slack: no @channel ping
    assert "first &lt;!channel&gt; &amp; more" in lines[2], text
    text = cmd(slack, d, "/opsbell", "incidents payments")["text"]
    assert "#%d" % a in text and "#%d" % b not in text, text
    assert cmd(slack, d, "/incidents", "search")["text"].count("\n\u2022") == 1
    assert "No team is called 'x'" in cmd(slack, d, "/incidents", "x")["text"]


@pytest.fixture
def twilio():
    s = TwilioStandin(TWILIO_ACCOUNT, TWILIO_TOKEN)
    yield s
    s.close()


def test_tel_calls_and_posts_the_outcome(env, admin_token, slack, twilio):
    configure(env, slack, twilio=twilio)
    d = env.daemon()
    r = d.request("POST", "/api/v1/users/bob/verifications/trust", {"address": BOB_PHONE},
                  token=admin_token)
    assert r.status == 201, r
    twilio.script(BOB_PHONE, "silent")  # picks up
    body = cmd(slack, d, "/tel", "bob wake up", response_url=slack.response_url("tel1"))
    assert body["response_type"] == "ephemeral", body
    assert body["text"] == ("Calling Bob Builder (bob)\u2026 The outcome will be posted "
                            "here."), body
    wait_for(lambda: slack.replies("tel1"), 20, "the call's outcome on the response_url")
    outcome = slack.replies("tel1")[0]["body"]["text"]
    assert "answered" in outcome, outcome
    with twilio.lock:
        calls = [c for c in twilio.calls if c["To"] == BOB_PHONE and "Twiml" in c]
    assert len(calls) == 1 and "via opsbell: wake up." in calls[0]["Twiml"], calls
    ev = [e for e in d.get("/api/v1/audit", token=admin_token).body["events"]
          if e["action"] == "tel.request"]
    assert ev and ev[0]["actor"] == "user:ann" and ev[0]["remote_addr"] == "slack:" + ANN, ev

    # by Slack mention; a response_url elsewhere is not passed on
    elsewhere = SlackStandin()
    try:
        body = cmd(slack, d, "/opsbell", "tel <@%s|bobby-the-builder> again" % BOB,
                   response_url=elsewhere.response_url("x"))
        assert body["text"] == "Calling Bob Builder (bob)\u2026", body
    finally:
        elsewhere.close()

    # unknown nicknames get close matches; other refusals their reason
    body = cmd(slack, d, "/tel", "bbo wake up")
    assert body["text"] == "No one is called 'bbo'. Did you mean: bo, bob?", body
    body = cmd(slack, d, "/tel", "zzzzzz")
    assert body["text"] == "No one is called 'zzzzzz'.", body
    body = cmd(slack, d, "/tel", "bo hello")
    assert body["text"].startswith("Bo has no phone"), body
    body = cmd(slack, d, "/tel", "bob " + "x" * 301)
    assert body["response_type"] == "ephemeral" and "Calling" not in body["text"], body
    assert cmd(slack, d, "/tel", "")["text"].startswith("Usage: /tel NICKNAME [message]")
    assert d.alive()


def test_help_and_unknown_subcommands(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    for command, text in (("/opsbell", ""), ("/opsbell", "help"), ("/opsbell", "HELP me")):
        body = cmd(slack, d, command, text)
        assert body["response_type"] == "ephemeral", body
        for example in ("/tel NICKNAME", "/oncall [team]", "/page TEAM|SERVICE message",
                        "/ack ID", "/resolve ID", "/escalate ID", "/note ID text",
                        "/incidents [team]", "/opsbell help", "/opsbell tel bob wake up"):
            assert example in body["text"], (example, body["text"])
    body = cmd(slack, d, "/opsbell", "reboot everything")
    assert body["text"].startswith("Unknown command 'reboot'."), body
    assert "/tel NICKNAME" in body["text"]
    # the main command under another name shows that name
    body = cmd(slack, d, "/ob", "reboot")
    assert "`/ob help`" in body["text"] and "`/ob tel bob wake up`" in body["text"], body
    assert cmd(slack, d, "/ob", "ack 1")["text"] == "No incident #1."
    # help needs no mapping
    body = cmd(slack, d, "/opsbell", "help", user="U0NOBODY9")
    assert "/tel NICKNAME" in body["text"], body


def test_mattermost_commands_with_the_token(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    r = send_mattermost_command(d.url, MM_TOKEN, "/oncall", "", MM_ANN)
    assert r.status == 200, r
    assert "now ann until" not in r.body["text"]  # markdown bold kept, as for Slack
    assert "now *ann* until" in r.body["text"], r.body
    r = send_mattermost_command(d.url, MM_TOKEN, "/page", "payments-api <b>mm page</b>", MM_ANN)
    assert r.status == 200 and r.body["response_type"] == "in_channel", r
    # Mattermost text is not Slack-escaped
    assert "<b>mm page</b>" in r.body["text"], r.body
    iid = int(r.body["text"].split("incident #")[1].split(" ")[0])
    r = send_mattermost_command(d.url, MM_TOKEN_2, "/ack", str(iid), MM_ANN)
    assert r.status == 200 and "acknowledged by ann" in r.body["text"], r
    ev = [e for e in audit(d, admin_token, "incident.acknowledged")
          if e["target"] == "incident:%d" % iid]
    assert ev[0]["remote_addr"] == "mattermost:" + MM_ANN and ev[0]["actor"] == "user:ann", ev

    # a wrong, empty or missing token: 401, nothing done
    for token in ("wrong-token", MM_TOKEN + "x", MM_TOKEN[:-1], "", MM_TOKEN + "," + MM_TOKEN_2):
        r = send_mattermost_command(d.url, token, "/resolve", str(iid), MM_ANN)
        assert r.status == 401 and "error" in r.body, (token, r)
    r = send_mattermost_command(d.url, None, "/resolve", str(iid), MM_ANN,
                                body="command=%2Fresolve&text=1&user_id=" + MM_ANN)
    assert r.status == 401, r
    # a Mattermost id known only as a Slack id is unmapped
    r = send_mattermost_command(d.url, MM_TOKEN, "/resolve", str(iid), ANN)
    assert r.status == 200 and "{provider: mattermost, id: %s}" % ANN in r.body["text"], r
    assert incident(d, admin_token, iid)["status"] == "acknowledged"


def test_refusals_change_nothing(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid, _ = page(slack, d, "payments-api", "refusals")

    def status():
        return incident(d, admin_token, iid)["status"]

    # forged signature, stale and future timestamps, missing headers, another secret
    r = slack.send_command(d.url, "/ack", str(iid), ANN, signature="v0=" + "0" * 64)
    assert r.status == 401 and "signature" in r.body["error"].lower(), r
    r = slack.send_command(d.url, "/ack", str(iid), ANN, timestamp=time.time() - 360)
    assert r.status == 401 and "minutes" in r.body["error"], r
    r = slack.send_command(d.url, "/ack", str(iid), ANN, timestamp=time.time() + 360)
    assert r.status == 401, r
    for header in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        r = slack.send_command(d.url, "/ack", str(iid), ANN, drop=[header])
        assert r.status == 401 and header in r.body["error"], r
    other = SlackStandin(signing_secret="not-the-secret")
    try:
        r = other.send_command(d.url, "/ack", str(iid), ANN)
        assert r.status == 401, r
    finally:
        other.close()
    # a Slack-signed body does not pass as a Mattermost one (no token) and vice versa
    r = slack.send_command(d.url, "/ack", str(iid), ANN, drop=["X-Slack-Signature",
                                                                "X-Slack-Request-Timestamp"])
    assert r.status == 401, r
    assert status() == "triggered"

    # malformed form bodies, signed correctly: 400
    for bad in ("command=%ZZ&user_id=" + ANN, "text=1&user_id=" + ANN,
                "command=ack&user_id=" + ANN, "command=%2Fack&text=1",
                "command=%2Fack&text=1&user_id=U%3Cx%3E", "command=%2Fack&user_id=%00",
                "command=%2Fack&text=%FF%FE&user_id=" + ANN,
                "command=%2Fack&user_id=" + ANN + "&text=" + "x" * 5000, "", "&&&", "=x"):
        r = slack.post_signed(d.url, "/slack/commands", bad)
        assert r.status == 400 and "error" in r.body, (bad, r)
    # Slack's certificate check, signed: 200, nothing done
    r = slack.post_signed(d.url, "/slack/commands", "ssl_check=1&token=deprecated")
    assert r.status == 200, r
    # malformed and unsigned: 401
    r = send_mattermost_command(d.url, None, "/ack", "", ANN, body="%ZZ")
    assert r.status == 401, r
    assert status() == "triggered"

    # an unmapped user: a hint, nothing done, for every command but help
    for command, text in (("/ack", str(iid)), ("/resolve", str(iid)), ("/page", "payments x"),
                          ("/tel", "bob hi"), ("/oncall", ""), ("/incidents", ""),
                          ("/note", "%d hi" % iid), ("/ack", "")):
        body = cmd(slack, d, command, text, user="U0NOBODY9")
        assert body["response_type"] == "ephemeral", body
        assert "{provider: slack, id: U0NOBODY9}" in body["text"], body
        assert "chat_ids" in body["text"], body
    assert status() == "triggered"
    r = d.get("/api/v1/incidents?status=open", token=admin_token)
    assert len(r.body["incidents"]) == 1, r.body

    # a replayed, correctly signed ack: the second is refused by state
    ts = str(int(time.time()))
    assert "acknowledged by ann" in cmd(slack, d, "/ack", str(iid), timestamp=ts)["text"]
    assert "already acknowledged" in cmd(slack, d, "/ack", str(iid), timestamp=ts)["text"]
    # wrong method, and the daemon is still up
    r = d.request("GET", "/slack/commands")
    assert r.status == 405, r
    assert d.alive() and d.get("/healthz").status == 200


def test_only_mattermost_configured(env, admin_token, slack):
    configure(env, slack, slack_enabled=False)
    d = env.daemon()
    r = slack.send_command(d.url, "/oncall", "", ANN)
    assert r.status == 401 and "providers.slack" in r.body["error"], r
    r = send_mattermost_command(d.url, MM_TOKEN, "/oncall", "", MM_ANN)
    assert r.status == 200 and "pay-primary" in r.body["text"], r


def test_only_slack_configured(env, admin_token, slack):
    configure(env, slack, mattermost=False)
    d = env.daemon()
    r = send_mattermost_command(d.url, MM_TOKEN, "/oncall", "", MM_ANN)
    assert r.status == 401 and "providers.mattermost" in r.body["error"], r
    assert cmd(slack, d, "/oncall", "")["text"].startswith("*On call*")


def test_mattermost_config_errors(env, slack):
    configure(env, slack)
    env.extra_main = ("providers:\n"
                      "  mattermost:\n"
                      "    command_token: inline-secret\n"
                      "    api_url: ftp://chat.example.com\n")
    env.write_main()
    r = env.local("check-config")
    assert r.code == 1, r
    out = r.stdout + r.stderr
    assert "opsbell.yaml:" in out and "command_token must be a reference" in out, out
    assert "api_url 'ftp://chat.example.com' must start with http" in out, out
    env.extra_main = "providers:\n  mattermost:\n    api_url: https://chat.example.com\n"
    env.write_main()
    r = env.local("check-config")
    assert r.code == 1 and "command_token" in (r.stdout + r.stderr), r


# ---- /tel to a real SIP phone -----------------------------------------------------

def test_tel_rings_a_real_sip_phone_and_posts_the_outcome(env, admin_token, slack):
    """A signed `/tel bob wake up` places a real SIP call to a baresip phone
    that is bob's; it answers; the outcome reaches the response_url."""
    from baresip_support import Baresip

    phone = Baresip(env, answermode="auto")
    try:
        env.write("users.yaml", "users:\n"
                  "  - name: ann\n    chat_ids: [{provider: slack, id: %s}]\n"
                  "    contact_methods: [{type: email, address: ann@example.com}]\n"
                  "  - name: bob\n    full_name: Bob Builder\n"
                  "    contact_methods: [{type: sip, address: \"%s\"}]\n" % (ANN, phone.uri))
        env.write("teams/ops/team.yaml", "team:\n  members: [ann, bob]\n")
        (env.dir / "teams" / "alpha" / "team.yaml").unlink()
        (env.dir / "teams" / "beta" / "team.yaml").unlink()
        env.env_vars["OPSBELL_TEST_SLACK_TOKEN"] = "xoxb-e2e-chatops"
        env.write("slack-signing-secret", SIGNING_SECRET + "\n")
        env.extra_main = ("providers:\n"
                          "  slack:\n"
                          "    api_url: %s\n"
                          "    bot_token: env:OPSBELL_TEST_SLACK_TOKEN\n"
                          "    signing_secret: file:slack-signing-secret\n"
                          "  sip:\n"
                          "    listen: 127.0.0.1:0\n"
                          "    from_uri: sip:opsbell@127.0.0.1\n"
                          "    ring_timeout: 5s\n"
                          "    max_call: 30s\n"
                          "    rtp_ports: 32000-32999\n" % slack.api_url)
        env.write_main()
        d = env.daemon()
        r = d.request("POST", "/api/v1/users/bob/verifications/trust", {"address": phone.uri},
                      token=admin_token)
        assert r.status == 201, r
        body = cmd(slack, d, "/tel", "bob wake up", response_url=slack.response_url("sip1"))
        assert body["text"].startswith("Calling Bob Builder (bob)"), body
        phone.wait_event("CALL_ESTABLISHED")
        wait_for(lambda: slack.replies("sip1"), 40, "the call's outcome on the response_url")
        outcome = slack.replies("sip1")[0]["body"]["text"]
        assert outcome.startswith("bob answered (sip:"), outcome
        ev = [e["action"] for e in d.get("/api/v1/audit", token=admin_token).body["events"]]
        assert "tel.request" in ev and "tel.answered" in ev, ev
    finally:
        phone.close()
