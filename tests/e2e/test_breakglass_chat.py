"""Break-glass and the allowlist from the chat, end to end (docs/CHATOPS.md,
docs/ALLOWLIST.md), with the Slack stand-in (tests/e2e/slack_standin.py)
signing commands and button presses as Slack does and serving
team.accessLogs and the channel's Web API:

* /allowme answers a one-time link; opening it (through a trusted proxy, so
  the address is the X-Forwarded-For one) records the address, a replay is 410;
* /breakglass with `self_approve: [members]` opens a grant from that address,
  shown by GET /api/v1/breakglass and posted to the team's channel;
  list and revoke work; durations beyond the policy, a missing address,
  unknown hosts and malformed lines are refused with one clear line;
* with an approver policy the request waits, the channel gets Approve / Deny
  buttons; the requester's own click and a non-approver's are refused, another
  approver's opens it and the message loses its buttons (chat.update);
* forged, stale and unsigned requests are refused and change nothing;
* the team.accessLogs poller puts the stand-in's addresses of mapped users into
  GET /api/v1/allowlist (cursor pages, Bearer admin token), honours a 429's
  Retry-After, keeps what it had through Slack errors and malformed pages,
  and never logs the token.
"""

import json
import re
import time
import urllib.parse

import pytest

from e2e_support import http_request, metric_value, wait_for
from slack_standin import (ADMIN_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackStandin, access_login,
                           block_actions_payload)

ANN, BOB, CARL, DORA = "U0ANN0001", "U0BOB0001", "U0CARL001", "U0DORA001"
NOBODY = "U0NOBODY1"
CHANNEL = "C0PLAT001"
ANN_IP = "198.51.100.7"

USERS = """\
users:
  - name: ann
    chat_ids: [{provider: slack, id: %s}]
    contact_methods: [{type: email, address: ann@example.com}]
  - name: bob
    chat_ids: [{provider: slack, id: %s}]
    contact_methods: [{type: email, address: bob@example.com}]
  - name: carl
    chat_ids: [{provider: slack, id: %s}]
    contact_methods: [{type: email, address: carl@example.com}]
  - name: dora
    chat_ids: [{provider: slack, id: %s}]
    contact_methods: [{type: email, address: dora@example.com}]
""" % (ANN, BOB, CARL, DORA)

TEAM = """\
team:
  description: Platform
  members: [ann, bob, carl]
  chat_channel: %(channel)s
  breakglass:
%(policy)s
    max_duration: 2h
services:
  - {name: platform-api, escalation_policy: plat}
escalation_policies:
  - name: plat
    steps:
      - {delay: 1h, targets: {users: [bob]}}
"""

HOSTS = """\
host_groups:
  - name: web-prod
    hosts: [web1, web2]
    allowlist: true
"""

SELF_APPROVE = "    self_approve: [members]"
APPROVERS = "    self_approve: [dora]\n    approvers: [ann, bob]"


@pytest.fixture
def slack():
    s = SlackStandin()
    yield s
    s.close()


def configure(env, slack, policy=SELF_APPROVE, channel=CHANNEL, access_logs=None):
    env.write("users.yaml", USERS)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink(missing_ok=True)
    (env.dir / "teams" / "beta" / "team.yaml").unlink(missing_ok=True)
    env.write("teams/platform/team.yaml", TEAM % {"channel": channel, "policy": policy})
    env.write("teams/platform/hosts.yaml", HOSTS)
    env.write("slack-signing-secret", SIGNING_SECRET + "\n")
    env.env_vars["OPSBELL_TEST_SLACK_TOKEN"] = BOT_TOKEN
    env.env_vars["OPSBELL_TEST_SLACK_ADMIN"] = ADMIN_TOKEN
    text = ("providers:\n"
            "  log:\n    path: deliveries.jsonl\n"
            "  slack:\n"
            "    api_url: %s\n"
            "    bot_token: env:OPSBELL_TEST_SLACK_TOKEN\n"
            "    signing_secret: file:slack-signing-secret\n"
            "allowlist:\n"
            "  trusted_proxies: [127.0.0.1/32]\n" % slack.api_url)
    if access_logs is not None:
        text += ("  slack_access_logs:\n"
                 "    token: env:OPSBELL_TEST_SLACK_ADMIN\n"
                 "    interval: %s\n" % access_logs)
    env.extra_main = text
    env.write_main()


def cmd(slack, d, command, text, user=ANN):
    """A signed Slack command; the reply's JSON body (asserting 200, one answer)."""
    r = slack.send_command(d.url, command, text, user)
    assert r.status == 200, r
    assert r.body["response_type"] in ("ephemeral", "in_channel"), r.body
    return r.body


def grants(d, token):
    r = d.get("/api/v1/breakglass?state=all", token=token)
    assert r.status == 200, r
    return r.body["grants"]


def grant(d, token, gid):
    r = d.get("/api/v1/breakglass/%d" % gid, token=token)
    assert r.status == 200, r
    return r.body


def allowlist(d, token):
    r = d.get("/api/v1/allowlist", token=token)
    assert r.status == 200, r
    return {(e["user"], e["cidr"]): e for e in r.body["allowlist"]}


def allow_me(slack, d, user=ANN, ip=ANN_IP):
    """/allowme, then open the link from ip (through the trusted proxy)."""
    body = cmd(slack, d, "/allowme", "", user=user)
    assert body["response_type"] == "ephemeral", body
    m = re.search(r"(http://127\.0\.0\.1:\d+)(/allowme/\S+)", body["text"])
    assert m, body
    assert m.group(1) == d.url, body
    path = m.group(2)
    r = http_request(d.url, "GET", path, headers={"X-Forwarded-For": ip,
                                                  "User-Agent": "Mozilla/5.0 (X11; Linux)"})
    assert r.status == 200, r
    return path


def channel_posts(slack, method="chat.postMessage"):
    return [c for c in slack.api_calls(method, CHANNEL) if c["status"] == 200]


def wait_post(slack, needle, method="chat.postMessage"):
    def found():
        return [c for c in channel_posts(slack, method) if needle in c["body"]["text"]]
    wait_for(lambda: found(), 10, "a %s to %s with %r" % (method, CHANNEL, needle))
    return found()[-1]


def has_buttons(body):
    return any(b.get("type") == "actions" for b in body.get("blocks", []))


def press(slack, d, user, action, gid, post, name="press"):
    ts = post["answer"]["ts"]
    payload = block_actions_payload(user, action, str(gid), slack.response_url(name),
                                    channel=CHANNEL, message_ts=ts, block_id="opsbell_breakglass")
    return slack.send_interaction(d.url, payload)


# ---- /allowme ---------------------------------------------------------------------------

def test_allowme_link_records_the_address_once(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    path = allow_me(slack, d)
    entries = allowlist(d, admin_token)
    assert (("ann", ANN_IP + "/32") in entries), entries
    assert entries[("ann", ANN_IP + "/32")]["source"] == "link", entries
    # a replayed link: gone, and nothing else recorded
    r = http_request(d.url, "GET", path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status == 410, r
    assert ("ann", "203.0.113.9/32") not in allowlist(d, admin_token)
    # the main command's form, and IPv6
    body = cmd(slack, d, "/opsbell", "allowme", user=BOB)
    link = re.search(r"/allowme/\S+", body["text"]).group(0)
    r = http_request(d.url, "GET", link, headers={"X-Forwarded-For": "2001:db8::7"})
    assert r.status == 200, r
    assert ("bob", "2001:db8::7/128") in allowlist(d, admin_token)
    # arguments and unmapped users are refused, without a link
    body = cmd(slack, d, "/allowme", "please")
    assert body["text"].startswith("Usage: /allowme"), body
    body = cmd(slack, d, "/allowme", "", user=NOBODY)
    assert "not linked to an opsbell user" in body["text"] and "/allowme/" not in body["text"]


# ---- /breakglass with self-approval --------------------------------------------------------

def test_breakglass_self_approved_opens_a_grant_and_tells_the_channel(env, admin_token, slack):
    configure(env, slack)
    d = env.daemon()
    # no address yet: told to run /allowme, nothing stored
    body = cmd(slack, d, "/breakglass", "web1 30m disk full on /var")
    assert "/allowme" in body["text"] and "\n" not in body["text"], body
    assert grants(d, admin_token) == []
    allow_me(slack, d)
    body = cmd(slack, d, "/breakglass", "web1 30m disk full on /var")
    assert re.match(r"Grant #(\d+): SSH to web1 from 198\.51\.100\.7 until "
                    r"(\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\.$", body["text"]), body
    gid = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    g = grant(d, admin_token, gid)
    assert g["state"] == "active" and g["user"] == "ann" and g["cidr"] == ANN_IP + "/32", g
    assert g["host"] == "web1" and g["reason"] == "disk full on /var", g
    assert [x["id"] for x in grants(d, admin_token)] == [gid]
    # the team's channel hears of it, without buttons
    post = wait_post(slack, "Grant #%d: open" % gid)
    assert not has_buttons(post["body"]) and post["auth_ok"], post
    # a group, through the main command
    body = cmd(slack, d, "/opsbell", "breakglass web-prod 1h deploy hotfix", user=ANN)
    assert "SSH to group web-prod from 198.51.100.7" in body["text"], body
    gid2 = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    # list: both, for a member of the team
    body = cmd(slack, d, "/breakglass", "list", user=CARL)
    assert "#%d active ann" % gid in body["text"] and "#%d active ann" % gid2 in body["text"]
    # dora is in no team of these grants: nothing listed
    assert cmd(slack, d, "/breakglass", "list", user=DORA)["text"] == \
        "No live grants for your teams."
    # revoke by its user
    body = cmd(slack, d, "/breakglass", "revoke %d done" % gid)
    assert body["text"].startswith("Grant #%d revoked by ann" % gid), body
    assert grant(d, admin_token, gid)["state"] == "revoked"
    wait_post(slack, "Grant #%d: revoked by ann" % gid)
    # a second revoke is a clear refusal
    body = cmd(slack, d, "/breakglass", "revoke %d" % gid)
    assert "\n" not in body["text"] and body["text"][0].isupper(), body
    assert "Grant #%d revoked" % gid not in body["text"], body
    assert cmd(slack, d, "/breakglass", "revoke 999")["text"] == "No grant #999."


@pytest.mark.parametrize("text, expect", [
    ("web1 3h too long", "longer than team platform allows"),
    ("web1 25h too long", "longer than team platform allows"),
    ("web1 30m", "a reason is required"),
    ("web1 soon disk full", "Usage: /breakglass HOST|GROUP DURATION REASON"),
    ("web1 30 disk full", "Usage: /breakglass HOST|GROUP DURATION REASON"),
    ("nosuchhost 30m disk full", "nosuchhost"),
    ("Bad_Host! 30m disk full", "is not a host name"),
    ("", "Usage: /breakglass"),
    ("approve seven", "Usage: /breakglass approve ID"),
    ("list everything", "Usage: /breakglass list"),
])
def test_breakglass_refusals_are_one_clear_line(env, admin_token, slack, text, expect):
    configure(env, slack)
    d = env.daemon()
    allow_me(slack, d)
    body = cmd(slack, d, "/breakglass", text)
    assert expect in body["text"], body
    assert "\n" not in body["text"], body
    assert not re.search(r"sqlite|SQL|store_|\.c:|errno", body["text"]), body
    assert grants(d, admin_token) == []
    assert d.alive()


# ---- approvers and buttons -------------------------------------------------------------------

def test_approval_by_button_in_the_channel(env, admin_token, slack):
    configure(env, slack, policy=APPROVERS)
    d = env.daemon()
    allow_me(slack, d)
    body = cmd(slack, d, "/breakglass", "web2 45m restart nginx")
    m = re.match(r"Grant #(\d+) waits for an approver in <#%s>" % CHANNEL, body["text"])
    assert m, body
    gid = int(m.group(1))
    assert grant(d, admin_token, gid)["state"] == "pending"
    post = wait_post(slack, "Grant #%d: ann asks for SSH to web2" % gid)
    actions = [b for b in post["body"]["blocks"] if b["type"] == "actions"]
    assert len(actions) == 1, post
    buttons = {e["action_id"]: e["value"] for e in actions[0]["elements"]}
    assert buttons == {"breakglass_approve": str(gid), "breakglass_deny": str(gid)}, buttons

    # the requester cannot approve their own request
    r = press(slack, d, ANN, "breakglass_approve", gid, post, "own")
    assert r.status == 200, r
    assert "cannot decide on it" in r.body["text"], r.body
    assert grant(d, admin_token, gid)["state"] == "pending"
    # nor can someone who is not an approver (carl), nor an unmapped user
    r = press(slack, d, CARL, "breakglass_approve", gid, post, "carl")
    assert "not an approver" in r.body["text"], r.body
    r = press(slack, d, NOBODY, "breakglass_approve", gid, post, "nobody")
    assert "not linked to an opsbell user" in r.body["text"], r.body
    assert grant(d, admin_token, gid)["state"] == "pending"
    assert slack.api_calls("chat.update") == []

    # bob approves: open, the message loses its buttons, bob hears the result
    r = press(slack, d, BOB, "breakglass_approve", gid, post, "bob")
    assert r.status == 200, r
    assert r.body["text"].startswith("Grant #%d approved by bob" % gid), r.body
    g = grant(d, admin_token, gid)
    assert g["state"] == "active" and g["approved_by"] == "bob", g

    def updated():
        return [c for c in slack.api_calls("chat.update", CHANNEL)
                if c["body"].get("ts") == post["answer"]["ts"] and c["status"] == 200
                and "answer" in c and c["answer"].get("ok")]
    wait_for(lambda: updated(), 10, "chat.update of the request's message")
    assert not has_buttons(updated()[-1]["body"]), updated()[-1]
    assert "approved by bob" in updated()[-1]["body"]["text"], updated()[-1]
    wait_for(lambda: slack.replies("bob"), 10, "the ephemeral reply to bob's response_url")
    assert slack.replies("bob")[0]["body"]["response_type"] == "ephemeral"
    wait_post(slack, "Grant #%d: open" % gid)

    # a late click on the decided request: refused, the message refreshed
    r = press(slack, d, BOB, "breakglass_deny", gid, post, "late")
    assert "approved by" not in r.body["text"] and grant(d, admin_token, gid)["state"] == "active"

    # deny by button
    body = cmd(slack, d, "/breakglass", "web1 30m second try")
    gid2 = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    post2 = wait_post(slack, "Grant #%d: ann asks" % gid2)
    r = press(slack, d, BOB, "breakglass_deny", gid2, post2, "deny")
    assert r.body["text"] == "Grant #%d denied by bob." % gid2, r.body
    assert grant(d, admin_token, gid2)["state"] == "denied"
    wait_for(lambda: [c for c in slack.api_calls("chat.update", CHANNEL)
                      if c["body"].get("ts") == post2["answer"]["ts"]
                      and not has_buttons(c["body"])], 10, "the denied message updated")

    # approve by command, as the other approver's slash command
    body = cmd(slack, d, "/breakglass", "web1 30m third try")
    gid3 = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    body = cmd(slack, d, "/breakglass", "approve %d" % gid3, user=ANN)
    assert "cannot decide on it" in body["text"], body
    body = cmd(slack, d, "/breakglass", "approve #%d" % gid3, user=BOB)
    assert body["text"].startswith("Grant #%d approved by bob: ann has SSH to web1" % gid3), body
    assert grant(d, admin_token, gid3)["state"] == "active"


def test_forged_and_unsigned_requests_change_nothing(env, admin_token, slack):
    configure(env, slack, policy=APPROVERS)
    d = env.daemon()
    allow_me(slack, d)
    body = cmd(slack, d, "/breakglass", "web1 30m forged approvals")
    gid = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    post = wait_post(slack, "Grant #%d: ann asks" % gid)
    payload = block_actions_payload(BOB, "breakglass_approve", str(gid), slack.response_url("f"),
                                    channel=CHANNEL, message_ts=post["answer"]["ts"])
    forged = "v0=" + "0" * 64
    assert slack.send_interaction(d.url, payload, signature=forged).status == 401
    assert slack.send_interaction(d.url, payload, timestamp=time.time() - 3600).status == 401
    assert slack.send_interaction(
        d.url, payload, drop=("X-Slack-Signature", "X-Slack-Request-Timestamp")).status == 401
    # a command: forged, and unsigned (no Mattermost token configured either)
    r = slack.send_command(d.url, "/breakglass", "approve %d" % gid, BOB, signature=forged)
    assert r.status == 401, r
    fields = urllib.parse.urlencode({"command": "/breakglass", "text": "approve %d" % gid,
                                     "user_id": BOB})
    r = http_request(d.url, "POST", "/slack/commands", body=fields,
                     content_type="application/x-www-form-urlencoded")
    assert r.status == 401, r
    # a replay of a signed, accepted press is refused too
    ts = str(int(time.time()))
    raw = urllib.parse.urlencode({"payload": json.dumps(block_actions_payload(
        CARL, "breakglass_approve", str(gid), slack.response_url("c"), channel=CHANNEL,
        message_ts=post["answer"]["ts"]))})
    sig = slack.sign(ts, raw)
    assert slack.post_signed(d.url, "/slack/interactions", raw, timestamp=ts,
                             signature=sig).status == 200
    assert slack.post_signed(d.url, "/slack/interactions", raw, timestamp=ts,
                             signature=sig).status == 401
    assert grant(d, admin_token, gid)["state"] == "pending"
    assert slack.api_calls("chat.update") == []


SEARCH_TEAM = """\
team:
  description: Search
  members: [ann]
  chat_channel: C0SRCH001
  breakglass:
    self_approve: [members]
"""


def test_no_channel_no_post(env, admin_token, slack):
    """A team without chat_channel: the grant works, nothing is posted for it."""
    configure(env, slack)
    text = env.read("teams/platform/team.yaml").replace("  chat_channel: %s\n" % CHANNEL, "")
    env.write("teams/platform/team.yaml", text)
    env.write("teams/search/team.yaml", SEARCH_TEAM)
    env.write("teams/search/hosts.yaml", "host_groups:\n  - name: search-prod\n"
                                         "    hosts: [search1]\n")
    d = env.daemon()
    allow_me(slack, d)
    body = cmd(slack, d, "/breakglass", "web1 30m quiet team")
    assert body["text"].startswith("Grant #"), body
    quiet = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    body = cmd(slack, d, "/breakglass", "search1 30m loud team")
    loud = int(re.match(r"Grant #(\d+)", body["text"]).group(1))
    # the queue posts in order: once the second grant's post is there, the
    # first one's would have been too
    wait_for(lambda: slack.api_calls("chat.postMessage", "C0SRCH001"), 10, "the search post")
    texts = [c["body"]["text"] for c in slack.api_calls("chat.postMessage")]
    assert any("Grant #%d" % loud in t for t in texts), texts
    assert not any("Grant #%d" % quiet in t for t in texts), texts


# ---- the team.accessLogs poller -------------------------------------------------------------

def now_s():
    return int(time.time())


def metric(d, result):
    return metric_value(d.get("/metrics").text, "opsbell_slack_access_logs_runs_total",
                        {"result": result}) or 0


def test_access_logs_poller_fills_the_allowlist(env, admin_token, slack):
    t = now_s()
    slack.access_page_size = 2  # three pages
    slack.access_logins = [
        access_login(ANN, "198.51.100.20", t - 60),
        access_login(NOBODY, "198.51.100.99", t - 120),      # nobody's: ignored
        access_login(BOB, "2001:db8::42", t - 300),
        access_login(ANN, "198.51.100.21", t - 600, user_agent="Slack/4.36 (Linux)"),
        access_login(CARL, "198.51.100.30", t - 13 * 3600),  # older than freshness (12h)
        access_login(CARL, "198.51.100.31", t - 20 * 3600),
    ]
    configure(env, slack, access_logs="30s")
    d = env.daemon()
    wait_for(lambda: metric(d, "ok") >= 1, 20, "one successful poll")
    entries = allowlist(d, admin_token)
    slack_entries = {k: v for k, v in entries.items() if v["source"] == "slack"}
    assert set(slack_entries) == {("ann", "198.51.100.20/32"), ("ann", "198.51.100.21/32"),
                                  ("bob", "2001:db8::42/128")}, entries
    assert slack_entries[("ann", "198.51.100.20/32")]["last_seen_ms"] == (t - 60) * 1000
    assert slack_entries[("ann", "198.51.100.21/32")]["detail"] == "Slack/4.36 (Linux)"
    calls = slack.access_log_calls()
    # pages followed by cursor until the stale logins (page 3); never a 4th
    assert len(calls) == 3, calls
    assert all(c["auth"] == "Bearer " + ADMIN_TOKEN and c["method"] == "GET" for c in calls)
    assert all(c["query"]["count"] == "1000" for c in calls), calls
    assert "cursor" not in calls[0]["query"] and calls[1]["query"]["cursor"], calls
    assert metric_value(d.get("/metrics").text,
                        "opsbell_slack_access_logs_sightings_total") == 3
    # a grant from the freshest address the poller saw
    body = cmd(slack, d, "/breakglass", "web1 30m from the slack address", user=BOB)
    assert "from 2001:db8::42" in body["text"], body
    assert ADMIN_TOKEN not in d.log_text() and BOT_TOKEN not in d.log_text()


def test_access_logs_ratelimited_waits_for_retry_after(env, admin_token, slack):
    t = now_s()
    slack.access_logins = [access_login(ANN, "198.51.100.40", t - 5)]
    slack.access_script = [("ratelimited", 3600)]
    configure(env, slack, access_logs="30s")
    d = env.daemon()
    wait_for(lambda: metric(d, "ratelimited") >= 1, 20, "the rate-limited poll")
    text = d.get("/metrics").text
    # the next poll waits for Retry-After (an hour), not the 30 s interval
    assert metric_value(text, "opsbell_slack_access_logs_next_poll_seconds") == 3600, text
    assert len(slack.access_log_calls()) == 1
    assert allowlist(d, admin_token) == {}
    d.wait_for_log(r"level=warn.*rate limited")
    assert d.alive()


def test_access_logs_short_retry_after_then_recovers(env, admin_token, slack):
    """Retry-After shorter than the interval: the interval wins; the next poll works."""
    t = now_s()
    slack.access_logins = [access_login(ANN, "198.51.100.41", t - 5)]
    slack.access_script = [("ratelimited", 1)]
    configure(env, slack, access_logs="30s")
    d = env.daemon()
    wait_for(lambda: metric(d, "ratelimited") >= 1, 20, "the rate-limited poll")
    assert metric_value(d.get("/metrics").text,
                        "opsbell_slack_access_logs_next_poll_seconds") == 30
    wait_for(lambda: metric(d, "ok") >= 1, 45, "the next poll, after the interval")
    assert ("ann", "198.51.100.41/32") in allowlist(d, admin_token)


def seed_link_entry(env, slack, admin_token):
    """An allowlist entry made through /allowme by a daemon without the poller."""
    configure(env, slack)
    d = env.daemon()
    allow_me(slack, d)
    assert ("ann", ANN_IP + "/32") in allowlist(d, admin_token)
    d.stop()


@pytest.mark.parametrize("script, result, logged", [
    (("error", "paid_only"), "slack_error", "paid_only"),
    (("error", "not_allowed_token_type"), "slack_error", "not_allowed_token_type"),
    (("http", 503), "http_error", "HTTP 503"),
    # the first login is fine, the second is not: the page is refused as a whole
    (("malformed", json.dumps({"ok": True, "logins": [
        {"user_id": ANN, "ip": "203.0.113.77", "date_first": 1, "date_last": 2 ** 31 - 1},
        {"user_id": BOB, "ip": "not-an-ip", "date_first": 1, "date_last": 2}]})),
     "malformed", "malformed page refused"),
    (("malformed", '{"ok": true, "logins": [{"user_id": "U0ANN0001", "ip": "203.0.113.78"'),
     "malformed", "malformed page refused"),
])
def test_access_logs_errors_keep_the_allowlist(env, admin_token, slack, script, result, logged):
    seed_link_entry(env, slack, admin_token)
    slack.access_logins = [access_login(ANN, "203.0.113.79", now_s() - 5)]
    slack.access_script = [script]
    configure(env, slack, access_logs="30s")
    d = env.daemon()
    wait_for(lambda: metric(d, result) >= 1, 20, "the failed poll")
    entries = allowlist(d, admin_token)
    assert set(entries) == {("ann", ANN_IP + "/32")}, entries
    warns = d.wait_for_log(r"level=warn.*slack access logs")
    assert any(logged in l for l in warns), warns
    assert ADMIN_TOKEN not in d.log_text()
    assert d.alive()


def test_access_logs_wrong_token_is_refused_and_logged_once(env, admin_token, slack):
    slack.access_logins = [access_login(ANN, "203.0.113.80", now_s() - 5)]
    configure(env, slack, access_logs="30s")
    env.env_vars["OPSBELL_TEST_SLACK_ADMIN"] = "xoxp-e2e-wrong-token"
    d = env.daemon()
    wait_for(lambda: metric(d, "slack_error") >= 1, 20, "the refused poll")
    assert slack.access_log_calls()[0]["answer"] == {"ok": False, "error": "invalid_auth"}
    warns = d.wait_for_log(r"level=warn.*invalid_auth")
    assert len(warns) == 1, warns
    assert "xoxp-e2e-wrong-token" not in d.log_text()
    assert allowlist(d, admin_token) == {}
