"""The `slack` provider and Slack's buttons end to end, against the local
stand-in of tests/e2e/slack_standin.py (Web API + response_url + a client
that signs requests as Slack does):

* a page to a Slack contact method is a chat.postMessage with the incident
  and its buttons; the row is delivered with the message's ts;
* a signed Acknowledge / Resolve / Escalate press from the mapped Slack user
  acts on the incident as that user, the message is edited (chat.update of
  the same channel and ts) with the buttons that still apply, and the
  result is posted ephemerally to the response_url;
* an ack through the API edits the message too;
* forged, stale, unsigned, unmapped, malformed and replayed presses are
  refused without any effect, and the daemon stays up;
* Slack's errors: invalid_auth is permanent (the next contact method is
  paged), 429 and 500 are retried.

Deliveries to other contact types are observed through the `log` provider."""

import json
import time

import pytest

from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import notifications_settled as final
from e2e_support import trigger_incident
from e2e_support import wait_for
from slack_standin import BOT_TOKEN, SIGNING_SECRET, SlackStandin, block_actions_payload

ANN, BOB, CARL, DAN = "U0ANN0001", "U0BOB0001", "U0CARL001", "U0DAN0001"

USERS = """\
users:
  - name: ann
    chat_ids: [{provider: slack, id: %(ann)s}]
    contact_methods:
      - {type: slack, address: %(ann)s}
    notification_rules:
      - {type: slack, after: 0s}
  - name: bob
    chat_ids: [{provider: slack, id: %(bob)s}]
    contact_methods:
      - {type: slack, address: %(bob)s}
      - {type: voice, address: "+4930555000"}
    notification_rules:
      - {type: slack, after: 0s}
  - name: carl
    chat_ids: [{provider: slack, id: %(carl)s}]
    contact_methods:
      - {type: slack, address: %(carl)s}
    notification_rules:
      - {type: slack, after: 0s}
  - name: dan
    contact_methods:
      - {type: slack, address: %(dan)s}
    notification_rules:
      - {type: slack, after: 0s}
""" % {"ann": ANN, "bob": BOB, "carl": CARL, "dan": DAN}

TEAM = """\
team:
  description: Slack tests
  members: [ann, bob, carl, dan]
services:
  - {name: payments-api, escalation_policy: pol-ann}
  - {name: svc-bob, escalation_policy: pol-bob}
  - {name: svc-dan, escalation_policy: pol-dan}
escalation_policies:
  - name: pol-ann
    steps:
      - {delay: 1h, targets: {users: [ann]}}
      - {delay: 1h, targets: {users: [carl]}}
  - name: pol-bob
    steps: [{delay: 1h, targets: {users: [bob]}}]
  - name: pol-dan
    steps: [{delay: 1h, targets: {users: [dan]}}]
"""


@pytest.fixture
def slack():
    s = SlackStandin()
    yield s
    s.close()


def configure(env, slack):
    env.write("users.yaml", USERS)
    env.write("teams/chat/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_SLACK_TOKEN"] = BOT_TOKEN
    env.write("slack-signing-secret", SIGNING_SECRET + "\n")
    env.extra_main = ("engine:\n"
                      "  retry_base: 200ms\n"
                      "  max_attempts: 5\n"
                      "providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  slack:\n"
                      "    api_url: %s\n"
                      "    bot_token: env:OPSBELL_TEST_SLACK_TOKEN\n"
                      "    signing_secret: file:slack-signing-secret\n" % slack.api_url)
    env.write_main()
    return env.dir / "deliveries.jsonl"


def pages(rows):
    """The page rows (update rows have negative seq: -<page id>)."""
    return [r for r in rows if r["seq"] >= 0]


def updates(rows):
    return [r for r in rows if r["seq"] < 0]


def buttons(body):
    """{action_id: value} of the message's actions block ({} when none)."""
    out = {}
    for b in body.get("blocks", []):
        if b["type"] == "actions":
            for e in b["elements"]:
                out[e["action_id"]] = e["value"]
    return out


def page_and_wait(d, token, slack, service, key, channel):
    iid = trigger_incident(d, token, service, key, summary="error rate high on %s" % service,
                           severity="critical")
    wait_for(lambda: slack.api_calls("chat.postMessage", channel), 20, "the slack page")
    wait_for(lambda: final(pages(notifications(d, token, iid))), 20, "the page settled")
    return iid


def press(slack, d, user, action, iid, name="r1", **kw):
    payload = block_actions_payload(user, action, str(iid), slack.response_url(name))
    return payload, slack.send_interaction(d.url, payload, **kw)


def timeline_kinds(d, token, iid):
    r = d.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return [e["kind"] for e in r.body["timeline"]]


def test_page_is_a_message_with_buttons_delivered_with_its_ts(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-1", ANN)
    calls = slack.api_calls("chat.postMessage", ANN)
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["auth_ok"] and call["answer"]["ok"], call
    body = call["body"]
    assert body["text"] == ("\U0001F514 #%d [critical] error rate high on payments-api "
                            "\u2014 service payments-api" % iid), body["text"]
    assert buttons(body) == {"opsbell_ack": str(iid), "opsbell_resolve": str(iid),
                             "opsbell_escalate": str(iid)}, body
    actions = [b for b in body["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [e["text"]["text"] for e in actions] == ["Acknowledge", "Resolve", "Escalate"]
    assert actions[0]["style"] == "primary"
    section = body["blocks"][0]["text"]["text"]
    assert "%s/api/v1/incidents/%d" % (d.url, iid) in section, section
    for field in ("payments-api", "chat", "critical"):
        assert field in section, (field, section)

    rows = pages(notifications(d, admin_token, iid))
    assert len(rows) == 1, rows
    ts = call["answer"]["ts"]
    assert rows[0]["state"] == "delivered" and rows[0]["provider"] == "slack", rows
    assert rows[0]["attempts"] == 1 and ts in rows[0]["detail"], rows
    assert BOT_TOKEN not in d.log_text()


def test_ack_then_resolve_buttons_edit_the_message(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-2", ANN)
    posted = slack.api_calls("chat.postMessage", ANN)[0]["answer"]
    channel, ts = posted["channel"], posted["ts"]
    assert channel == "D" + ANN[1:]

    _, r = press(slack, d, ANN, "opsbell_ack", iid)
    assert r.status == 200, r
    inc = d.get("/api/v1/incidents/%d" % iid, token=admin_token).body
    assert inc["status"] == "acknowledged" and inc["acknowledged_by"] == "user:ann", inc
    wait_for(lambda: slack.api_calls("chat.update"), 20, "chat.update after the ack")
    up = slack.api_calls("chat.update")[0]
    assert up["auth_ok"] and up["answer"]["ok"], up
    assert (up["body"]["channel"], up["body"]["ts"]) == (channel, ts), up["body"]
    assert "Acknowledged by ann" in up["body"]["text"], up["body"]["text"]
    assert buttons(up["body"]) == {"opsbell_resolve": str(iid), "opsbell_escalate": str(iid)}
    wait_for(lambda: slack.replies("r1"), 10, "the ephemeral result")
    reply = slack.replies("r1")[0]["body"]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False, reply
    assert "#%d acknowledged by ann" % iid in reply["text"], reply

    _, r = press(slack, d, ANN, "opsbell_resolve", iid, name="r2")
    assert r.status == 200, r
    inc = d.get("/api/v1/incidents/%d" % iid, token=admin_token).body
    assert inc["status"] == "resolved" and inc["resolved_by"] == "user:ann", inc
    wait_for(lambda: len(slack.api_calls("chat.update")) >= 2, 20, "chat.update after resolve")
    up = slack.api_calls("chat.update")[1]
    assert (up["body"]["channel"], up["body"]["ts"]) == (channel, ts)
    assert "Resolved by ann" in up["body"]["text"], up["body"]
    assert buttons(up["body"]) == {}, up["body"]
    wait_for(lambda: final(notifications(d, admin_token, iid)), 20, "updates settled")
    ups = updates(notifications(d, admin_token, iid))
    assert ups and all(u["state"] == "delivered" and u["provider"] == "slack" for u in ups), ups
    kinds = timeline_kinds(d, admin_token, iid)
    assert kinds.count("incident.acknowledged") == 1 and kinds.count("incident.resolved") == 1
    assert "notification.updated" in kinds, kinds


def test_a_change_during_an_update_is_sent_too(env, admin_token, slack):
    """Resolved while the acknowledgement's chat.update is still on its way
    (Slack answering slowly): the message still ends up saying resolved."""
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-race", ANN)
    channel = slack.api_calls("chat.postMessage", ANN)[0]["answer"]["channel"]
    slack.fail_next("slow", channel=channel, delay=2.0)
    r = d.request("POST", "/api/v1/incidents/%d/ack" % iid, token=admin_token)
    assert r.status == 200, r
    wait_for(lambda: any(u["state"] == "sending" for u in updates(
        notifications(d, admin_token, iid))), 10, "the acknowledgement's update in flight")
    r = d.request("POST", "/api/v1/incidents/%d/resolve" % iid, token=admin_token)
    assert r.status == 200, r
    wait_for(lambda: len(slack.api_calls("chat.update")) >= 2, 20, "a second chat.update")
    last = slack.api_calls("chat.update")[-1]["body"]
    assert "Resolved by" in last["text"] and buttons(last) == {}, last
    wait_for(lambda: final(notifications(d, admin_token, iid)), 20, "updates settled")
    ups = updates(notifications(d, admin_token, iid))
    assert len(ups) == 1 and ups[0]["state"] == "delivered", ups


def test_ack_through_the_api_edits_the_message(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-3", ANN)
    posted = slack.api_calls("chat.postMessage", ANN)[0]["answer"]
    r = d.request("POST", "/api/v1/incidents/%d/ack" % iid, token=admin_token)
    assert r.status == 200, r
    wait_for(lambda: slack.api_calls("chat.update"), 20, "chat.update after the API ack")
    up = slack.api_calls("chat.update")[0]["body"]
    assert (up["channel"], up["ts"]) == (posted["channel"], posted["ts"])
    assert "Acknowledged by token:admin" in up["text"], up["text"]
    assert set(buttons(up)) == {"opsbell_resolve", "opsbell_escalate"}


def test_escalate_button_pages_the_next_step(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-4", ANN)
    assert slack.api_calls("chat.postMessage", CARL) == []
    _, r = press(slack, d, ANN, "opsbell_escalate", iid)
    assert r.status == 200, r
    wait_for(lambda: slack.api_calls("chat.postMessage", CARL), 20, "carl paged (step 2)")
    inc = d.get("/api/v1/incidents/%d" % iid, token=admin_token).body
    assert inc["status"] == "triggered", inc
    assert inc["escalation"]["next_step"] >= 2 or inc["escalation"]["steps_taken"] >= 2, inc
    wait_for(lambda: slack.replies("r1"), 10, "the ephemeral result")
    assert "escalated" in slack.replies("r1")[0]["body"]["text"]
    kinds = timeline_kinds(d, admin_token, iid)
    assert "escalation.requested" in kinds, kinds


def test_refusals_change_nothing(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    iid = page_and_wait(d, admin_token, slack, "payments-api", "slack-5", ANN)
    payload = block_actions_payload(ANN, "opsbell_ack", str(iid), slack.response_url("x"))

    def status():
        return d.get("/api/v1/incidents/%d" % iid, token=admin_token).body["status"]

    # forged signature, stale (6 min) and future timestamps, missing headers
    forged = "v0=" + "0" * 64
    r = slack.send_interaction(d.url, payload, signature=forged)
    assert r.status == 401 and "signature" in r.body["error"].lower(), r
    r = slack.send_interaction(d.url, payload, timestamp=time.time() - 360)
    assert r.status == 401 and "minutes" in r.body["error"], r
    r = slack.send_interaction(d.url, payload, timestamp=time.time() + 360)
    assert r.status == 401, r
    for header in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        r = slack.send_interaction(d.url, payload, drop=[header])
        assert r.status == 401 and header in r.body["error"], r
    other = SlackStandin(signing_secret="not-the-secret")
    try:
        r = other.send_interaction(d.url, payload)
        assert r.status == 401, r
    finally:
        other.close()
    assert status() == "triggered"

    # malformed payloads (signed correctly)
    for bad in ("{not json", "[1, 2]", json.dumps({"type": 7})):
        r = slack.send_interaction(d.url, bad)
        assert r.status == 400 and "error" in r.body, (bad, r)
    r = slack.post_signed(d.url, "/slack/interactions", "payload=%ZZ")
    assert r.status == 400, r
    r = slack.post_signed(d.url, "/slack/interactions", "nopayload=1")
    assert r.status == 400, r
    for action, value in (("opsbell_reboot", str(iid)), ("opsbell_ack", "12abc"),
                          ("opsbell_ack", "-1"), ("opsbell_ack", "")):
        p = block_actions_payload(ANN, action, value, slack.response_url("x"))
        r = slack.send_interaction(d.url, p)
        assert r.status == 400, (action, value, r)
    p = block_actions_payload(ANN, "opsbell_ack", "999999", slack.response_url("x"))
    r = slack.send_interaction(d.url, p)
    assert r.status == 400 and "999999" in r.body["error"], r
    # other interaction types are ignored
    r = slack.send_interaction(d.url, {"type": "view_closed", "user": {"id": ANN}})
    assert r.status == 200, r
    assert status() == "triggered"

    # an unmapped Slack user: an ephemeral hint, nothing done
    _, r = press(slack, d, "U0NOBODY9", "opsbell_ack", iid, name="unmapped")
    assert r.status == 200, r
    wait_for(lambda: slack.replies("unmapped"), 10, "the hint to the unmapped user")
    hint = slack.replies("unmapped")[0]["body"]
    assert hint["response_type"] == "ephemeral", hint
    assert "chat_ids" in hint["text"] and "U0NOBODY9" in hint["text"], hint
    assert status() == "triggered"

    # a response_url on another host is never posted to
    elsewhere = SlackStandin()
    try:
        p = block_actions_payload("U0NOBODY9", "opsbell_ack", str(iid),
                                  elsewhere.response_url("ssrf"))
        r = slack.send_interaction(d.url, p)
        assert r.status == 200, r
        d.wait_for_log("response_url refused")
        assert elsewhere.replies() == []
    finally:
        elsewhere.close()

    # the real press, then the same request replayed: refused as a replay
    ts = str(int(time.time()))
    r = slack.send_interaction(d.url, payload, timestamp=ts)
    assert r.status == 200, r
    assert status() == "acknowledged"
    r = slack.send_interaction(d.url, payload, timestamp=ts)
    assert r.status == 401 and "replayed request" in r.body["error"], r
    # a second, genuine press (a new trigger_id): already acknowledged
    again = dict(payload, trigger_id="second-press")
    r = slack.send_interaction(d.url, again)
    assert r.status == 200, r
    wait_for(lambda: len(slack.replies("x")) >= 2, 10, "both ephemeral replies")
    texts = [x["body"]["text"] for x in slack.replies("x")]
    assert "already acknowledged" in texts[-1], texts
    kinds = timeline_kinds(d, admin_token, iid)
    assert kinds.count("incident.acknowledged") == 1, kinds
    assert d.alive()
    assert d.get("/healthz").status == 200


def test_invalid_auth_is_permanent_and_the_next_contact_method_is_paged(env, admin_token,
                                                                         slack):
    log = configure(env, slack)
    slack.channel_error(BOB, "invalid_auth")
    d = env.daemon()
    iid = trigger_incident(d, admin_token, "svc-bob", "slack-6", summary="bob's page",
                           severity="warning")
    wait_for(lambda: len(deliveries(log, iid)) >= 1, 20, "the next contact method paged")
    wait_for(lambda: final(notifications(d, admin_token, iid)), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 2, rows
    assert rows[0]["type"] == "slack" and rows[0]["state"] == "failed-permanent", rows
    assert rows[0]["attempts"] == 1 and "invalid_auth" in rows[0]["detail"], rows
    assert rows[1]["type"] == "voice" and rows[1]["state"] == "delivered", rows
    assert len(slack.api_calls("chat.postMessage", BOB)) == 1
    assert BOT_TOKEN not in d.log_text()


def test_429_and_500_are_retried_until_delivered(env, admin_token, slack):
    configure(env, slack)
    slack.fail_next("429", channel=DAN, retry_after=1)
    slack.fail_next("500", channel=DAN)
    slack.fail_next("ratelimited", channel=DAN)
    d = env.daemon()
    iid = trigger_incident(d, admin_token, "svc-dan", "slack-7", summary="dan's page",
                           severity="error")
    wait_for(lambda: any(n["state"] == "delivered" for n in notifications(d, admin_token, iid)),
             30, "delivered after the retries")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1, rows
    assert rows[0]["state"] == "delivered" and rows[0]["attempts"] == 4, rows
    calls = slack.api_calls("chat.postMessage", DAN)
    assert [c["status"] for c in calls] == [429, 500, 200, 200], calls
    assert [c["answer"]["ok"] for c in calls] == [False, False, False, True]
    kinds = timeline_kinds(d, admin_token, iid)
    assert kinds.count("notification.retry") == 3, kinds
    assert kinds.count("notification.delivered") == 1, kinds
