"""The `twilio` provider end to end against a local stand-in for Twilio's
REST API and the phone network (twilio_standin.py): calls are created with
the documented fields, the stand-in fetches the TwiML, presses keys and
sends status callbacks, each signed as Twilio signs them; SMS pages go out
and signed SMS replies act on incidents.  Forged, unsigned, misdirected
and replayed callbacks are refused without effect; API errors are retried
(5xx, 429, timeouts) or move on to the next contact method (21211).

Deliveries to e-mail contact methods go through the `log` provider."""

import re

import pytest

from e2e_support import diag_lines
from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import notifications_settled as final
from e2e_support import trigger_incident
from e2e_support import wait_for
from twilio_standin import Standin, post_form, signature

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-test-auth-token-0123456789"
FROM = "+15005550006"

ANN, BOB, BOB_SMS, CAROL, DAVE = ("+15550100001", "+15550100002", "+15550100012",
                                  "+15550100003", "+15550100004")
FRANK, GINA, HANK = "+15550100006", "+15550100007", "+15550100008"

USERS = """\
users:
  - name: ann
    contact_methods:
      - {type: voice, address: "%(ann)s"}
    notification_rules: [{type: voice, after: 0s}]
  - name: bob
    contact_methods:
      - {type: voice, address: "%(bob)s"}
      - {type: sms, address: "%(bob_sms)s"}
    notification_rules: [{type: voice, after: 0s}]
  - name: carol
    contact_methods:
      - {type: voice, address: "%(carol)s"}
    notification_rules: [{type: voice, after: 0s}]
  - name: dave
    contact_methods:
      - {type: voice, address: "%(dave)s"}
    notification_rules: [{type: voice, after: 0s}]
  - name: erin
    contact_methods:
      - {type: email, address: erin@example.com}
    notification_rules: [{type: email, after: 0s}]
  - name: frank
    contact_methods:
      - {type: sms, address: "%(frank)s"}
    notification_rules: [{type: sms, after: 0s}]
  - name: gina
    contact_methods:
      - {type: voice, address: "%(gina)s"}
    notification_rules: [{type: voice, after: 0s}]
  - name: hank
    contact_methods:
      - {type: voice, address: "%(hank)s"}
      - {type: email, address: hank@example.com}
    notification_rules: [{type: voice, after: 0s}]
""" % {"ann": ANN, "bob": BOB, "bob_sms": BOB_SMS, "carol": CAROL, "dave": DAVE,
       "frank": FRANK, "gina": GINA, "hank": HANK}

PEOPLE = ["ann", "bob", "carol", "dave", "frank", "gina", "hank"]

TEAM = """\
team:
  description: Twilio tests
  members: [ann, bob, carol, dave, erin, frank, gina, hank]
services:
%(services)s
  - {name: svc-dave, escalation_policy: pol-dave}
escalation_policies:
%(policies)s
  - name: pol-dave
    steps:
      - {delay: 1s, targets: {users: [dave]}}
      - {delay: 1h, targets: {users: [erin]}}
""" % {
    "services": "\n".join("  - {name: svc-%s, escalation_policy: pol-%s}" % (p, p)
                          for p in PEOPLE if p != "dave"),
    "policies": "\n".join("  - name: pol-%s\n    steps: [{delay: 1h, targets: {users: [%s]}}]"
                          % (p, p) for p in PEOPLE if p != "dave"),
}


@pytest.fixture
def twilio():
    s = Standin(ACCOUNT, TOKEN, slow_seconds=2.5)
    yield s
    s.close()


def configure(env, twilio):
    env.write("users.yaml", USERS)
    env.write("teams/phones/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_TWILIO_TOKEN"] = TOKEN
    env.extra_main = ("providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  twilio:\n"
                      "    api_url: %s\n"
                      "    account_sid: %s\n"
                      "    auth_token: env:OPSBELL_TEST_TWILIO_TOKEN\n"
                      "    from_number: \"%s\"\n"
                      "    ring_timeout: 20s\n"
                      "    request_timeout: 1s\n"
                      "engine:\n  retry_base: 200ms\n  max_attempts: 4\n"
                      "notification_limits:\n"
                      "  voice: {max: 0, per: 1m}\n  sms: {max: 0, per: 1m}\n"
                      % (twilio.url, ACCOUNT, FROM))
    env.write_main()
    return env.dir / "deliveries.jsonl"


def verify(d, token, twilio, user, type_, address):
    """Prove (user, address) as a person would: ask for a code, read it from
    the SMS or the call the stand-in received, type it back."""
    r = d.request("POST", "/api/v1/users/%s/verifications" % user,
                  {"type": type_, "address": address}, token=token)
    assert r.status == 202 and r.body["provider"] == "twilio", r
    code = wait_for(lambda: twilio.code_for(address), 10, "the code sent to %s" % address)
    r = d.request("POST", "/api/v1/users/%s/verifications/confirm" % user,
                  {"address": address, "code": code}, token=token)
    assert r.status == 200 and r.body["verified"] is True, r


def base(d):
    return "http://127.0.0.1:%d" % d.env.port


def incident(d, token, iid):
    r = d.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body


def kinds(d, token, iid):
    return [e["kind"] for e in incident(d, token, iid)["timeline"]]


def settled(d, token, iid):
    return final(notifications(d, token, iid))


def no_secret_logged(d):
    text = d.log_text()
    assert TOKEN not in text, "the auth token is in the daemon's log"


def test_call_answered_and_key_1_acknowledges(env, admin_token, twilio):
    configure(env, twilio)
    twilio.script(ANN, "press:1")
    d = env.daemon()
    verify(d, admin_token, twilio, "ann", "voice", ANN)
    # The code was said by a call whose TwiML is inline: no callback follows it.
    (vcall,) = twilio.verification_calls(ANN)
    assert re.fullmatch(r"<Response><Say>(This is opsbell[^<]*)</Say><Pause length=\"1\"/>"
                        r"<Say>\1</Say></Response>", vcall["Twiml"]), vcall
    assert "Url" not in vcall and "StatusCallback" not in vcall, vcall
    iid = trigger_incident(d, admin_token, "svc-ann", "ann-1", summary="db <primary> & co down",
                           severity="critical")
    wait_for(lambda: incident(d, admin_token, iid)["status"] == "acknowledged", 20,
             "the incident acknowledged by key 1")
    wait_for(lambda: settled(d, admin_token, iid), 10, "the call's outcome recorded")
    inc = incident(d, admin_token, iid)
    assert inc["acknowledged_by"] == "user:ann", inc
    rows = inc["notifications"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["type"] == "voice" and row["provider"] == "twilio", row
    assert row["state"] == "acknowledged" and row["attempts"] == 1, row
    nid = row["id"]

    calls = twilio.calls_to(ANN)
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["From"] == FROM and call["To"] == ANN, call
    assert call["Url"] == "%s/twilio/voice/%d?attempt=1" % (base(d), nid), call
    assert call["StatusCallback"] == "%s/twilio/status/%d?attempt=1" % (base(d), nid), call
    assert call["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert call["StatusCallbackMethod"] == "POST" and call["Timeout"] == "20", call
    assert twilio.unauthorized == 0

    # The menu: the incident said, keys offered, the summary XML-escaped.
    url, status, menu = call["documents"][0]
    assert status == 200, call["documents"]
    assert "incident %d, db &lt;primary&gt; &amp; co down." % iid in menu, menu
    assert "Press 1 to acknowledge, 2 to escalate, 9 to repeat." in menu, menu
    assert '<Gather numDigits="1"' in menu and "/twilio/voice/%d/gather?attempt=1" % nid in menu
    _, status, confirm = call["documents"][1]
    assert status == 200 and "Incident %d acknowledged. Goodbye." % iid in confirm, confirm
    assert "<Hangup/>" in confirm

    events = incident(d, admin_token, iid)["timeline"]
    ack = [e for e in events if e["kind"] == "incident.acknowledged"]
    assert len(ack) == 1 and ack[0]["actor"] == "user:ann", events
    assert "notification.placed" in [e["kind"] for e in events]
    progress = [e["data"]["state"] for e in events if e["kind"] == "notification.progress"]
    assert progress == ["ringing", "answered"], events
    assert "notification.acknowledged" in [e["kind"] for e in events]
    # The status callbacks all reached opsbell and were accepted.
    statuses = [(dict(p)["CallStatus"], s) for u, p, _, s, _ in twilio.callbacks_to("/status/")]
    assert statuses == [("initiated", 204), ("ringing", 204), ("in-progress", 204),
                        ("completed", 204)], statuses
    no_secret_logged(d)


def test_busy_is_retried_then_the_next_contact_method(env, admin_token, twilio):
    configure(env, twilio)
    twilio.script(BOB, "busy")
    d = env.daemon()
    verify(d, admin_token, twilio, "bob", "voice", BOB)
    verify(d, admin_token, twilio, "bob", "sms", BOB_SMS)
    iid = trigger_incident(d, admin_token, "svc-bob", "bob-1", severity="critical")
    wait_for(lambda: twilio.messages_to(BOB_SMS), 30, "the SMS after the busy calls")
    wait_for(lambda: settled(d, admin_token, iid), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert [(r["type"], r["state"]) for r in rows] == [("voice", "busy"), ("sms", "delivered")]
    assert rows[0]["attempts"] == 4, rows
    assert len(twilio.calls_to(BOB)) == 4
    assert kinds(d, admin_token, iid).count("notification.retry") == 3
    msg = twilio.messages_to(BOB_SMS)[0]
    assert msg["From"] == FROM and ("opsbell #%d [critical]" % iid) in msg["Body"], msg


def test_no_answer_is_retried_and_recorded(env, admin_token, twilio):
    configure(env, twilio)
    twilio.script(CAROL, "no-answer")
    d = env.daemon()
    verify(d, admin_token, twilio, "carol", "voice", CAROL)
    iid = trigger_incident(d, admin_token, "svc-carol", "carol-1")
    wait_for(lambda: settled(d, admin_token, iid), 30, "the calls settled")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1 and rows[0]["state"] == "no-answer", rows
    assert rows[0]["attempts"] == 4 and "no-answer" in rows[0]["detail"], rows
    assert len(twilio.calls_to(CAROL)) == 4
    assert incident(d, admin_token, iid)["status"] == "triggered"


def test_answered_without_a_key_escalation_goes_on(env, admin_token, twilio):
    log = configure(env, twilio)
    twilio.script(DAVE, "silent")
    d = env.daemon()
    verify(d, admin_token, twilio, "dave", "voice", DAVE)
    iid = trigger_incident(d, admin_token, "svc-dave", "dave-1", summary="queue stuck")
    wait_for(lambda: deliveries(log, iid), 30, "step 2 (erin) paged")
    wait_for(lambda: settled(d, admin_token, iid), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert [(r["user"], r["state"]) for r in rows] == [("dave", "answered"),
                                                       ("erin", "delivered")], rows
    call = twilio.calls_to(DAVE)[0]
    docs = [body for _, _, body in call["documents"]]
    # The menu three times (through <Redirect>), then goodbye.
    assert sum("Press 1 to acknowledge" in b for b in docs) == 3, docs
    assert "<Say>Goodbye</Say><Hangup/>" in docs[-1], docs
    assert incident(d, admin_token, iid)["status"] == "triggered"
    assert "notification.answered" in kinds(d, admin_token, iid)


def test_sms_page_and_signed_reply_acknowledges(env, admin_token, twilio):
    configure(env, twilio)
    d = env.daemon()
    verify(d, admin_token, twilio, "frank", "sms", FRANK)
    iid = trigger_incident(d, admin_token, "svc-frank", "frank-1", summary="disk full",
                           severity="critical")
    wait_for(lambda: twilio.messages_to(FRANK), 20, "the SMS page")
    wait_for(lambda: settled(d, admin_token, iid), 10, "rows settled")
    msg = twilio.messages_to(FRANK)[0]
    assert msg["Body"] == ('opsbell #%d [critical] disk full. Reply "%d ack" to acknowledge, '
                           '"%d resolve" to resolve.' % (iid, iid, iid)), msg
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "delivered" and rows[0]["provider"] == "twilio", rows

    url = base(d) + "/twilio/sms"

    def reply(sender, body):
        params = [("AccountSid", ACCOUNT), ("MessageSid", "SM" + "1" * 32), ("From", sender),
                  ("To", FROM), ("Body", body), ("NumMedia", "0")]
        return post_form(url, params, twilio.sign(url, params))

    status, ctype, body = reply("+15559999999", "%d ack" % iid)
    assert status == 200 and ctype.startswith("text/xml"), (status, body)
    assert "<Message>This number is not known to opsbell.</Message>" in body, body
    status, _, body = reply(FRANK, "hello there")
    assert status == 200 and "Unknown command" in body, body
    assert incident(d, admin_token, iid)["status"] == "triggered"

    status, _, body = reply(FRANK, "  %d ACK " % iid)
    assert status == 200 and "<Message>Incident %d acknowledged.</Message>" % iid in body, body
    inc = incident(d, admin_token, iid)
    assert inc["status"] == "acknowledged" and inc["acknowledged_by"] == "user:frank", inc
    status, _, body = reply(FRANK, "ack %d" % iid)
    assert status == 200 and "already acknowledged" in body, body
    status, _, body = reply(FRANK, "resolve %d" % iid)
    assert status == 200 and "Incident %d resolved." % iid in body, body
    assert incident(d, admin_token, iid)["resolved_by"] == "user:frank"
    # Unsigned: refused.
    status, _, _ = post_form(url, [("From", FRANK), ("Body", "%d ack" % iid)])
    assert status == 403


def test_forged_missing_misdirected_replayed_callbacks_are_refused(env, admin_token, twilio):
    configure(env, twilio)
    twilio.script(ANN, "press:1")
    d = env.daemon()
    verify(d, admin_token, twilio, "ann", "voice", ANN)
    iid = trigger_incident(d, admin_token, "svc-ann", "ann-2")
    wait_for(lambda: incident(d, admin_token, iid)["status"] == "acknowledged", 20, "acked")
    wait_for(lambda: settled(d, admin_token, iid), 10, "settled")
    nid = notifications(d, admin_token, iid)[0]["id"]
    call = twilio.calls_to(ANN)[0]
    voice_url = call["Url"]
    params = twilio.call_params(call, "in-progress")

    def timeline_acks():
        return kinds(d, admin_token, iid).count("incident.acknowledged")

    assert timeline_acks() == 1
    # Forged (another key), missing, and a signature for another URL.
    assert post_form(voice_url, params, signature("not-the-token", voice_url, params))[0] == 403
    assert post_form(voice_url, params)[0] == 403
    other = voice_url.replace("attempt=1", "attempt=2")
    assert post_form(voice_url, params, twilio.sign(other, params))[0] == 403
    # A parameter changed after signing.
    sig = twilio.sign(voice_url, params)
    tampered = [(k, "+15550000000" if k == "From" else v) for k, v in params]
    assert post_form(voice_url, tampered, sig)[0] == 403

    # The gather replayed after the ack: said so, nothing done again.
    gathers = twilio.callbacks_to(r"/gather\?")
    assert len(gathers) == 1, gathers
    g_url, g_params, g_sig, _, _ = gathers[0]
    status, ctype, body = post_form(g_url, g_params, g_sig)
    assert status == 200 and ctype.startswith("text/xml"), (status, body)
    assert "already acknowledged" in body and "<Hangup/>" in body, body
    assert timeline_acks() == 1
    assert notifications(d, admin_token, iid)[0]["state"] == "acknowledged"

    # Unknown notification id (validly signed): 404; a non-numeric id: 400.
    for path, want in (("/twilio/voice/99999?attempt=1", 404),
                       ("/twilio/voice/99999/gather?attempt=1", 404),
                       ("/twilio/status/99999?attempt=1", 404),
                       ("/twilio/voice/abc?attempt=1", 400),
                       ("/twilio/voice/%d" % nid, 400)):
        url = base(d) + path
        status, _, body = post_form(url, params, twilio.sign(url, params))
        assert status == want, (path, status, body)
    # A malformed form body.
    status, _, body = post_form(voice_url, None, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                raw_body=b"Digits=%zz&CallSid")
    assert status == 400 and "form" in body, body
    # An unknown CallStatus.
    status_url = call["StatusCallback"]
    bad = [(k, "exploded" if k == "CallStatus" else v) for k, v in params]
    assert post_form(status_url, bad, twilio.sign(status_url, bad))[0] == 400
    assert d.alive() and d.get("/healthz").status == 200
    no_secret_logged(d)


def test_api_errors_retried_or_permanent(env, admin_token, twilio):
    log = configure(env, twilio)
    d = env.daemon()
    verify(d, admin_token, twilio, "gina", "voice", GINA)
    verify(d, admin_token, twilio, "hank", "voice", HANK)
    twilio.fail(GINA, "error500", "ratelimit", "slow")
    twilio.script(GINA, "press:1")
    twilio.fail(HANK, "invalid")
    g = trigger_incident(d, admin_token, "svc-gina", "gina-1")
    h = trigger_incident(d, admin_token, "svc-hank", "hank-1")
    wait_for(lambda: incident(d, admin_token, g)["status"] == "acknowledged", 30,
             "gina's fourth call acknowledged")
    wait_for(lambda: deliveries(log, h), 20, "hank's e-mail after the invalid number")
    wait_for(lambda: settled(d, admin_token, g) and settled(d, admin_token, h), 10, "settled")

    rows = notifications(d, admin_token, g)
    assert len(rows) == 1 and rows[0]["state"] == "acknowledged", rows
    assert rows[0]["attempts"] == 4, rows
    # (the first request was the verification call)
    assert [k for _, to, k in twilio.requests if to == GINA][1:] == ["error500", "ratelimit",
                                                                      "slow", "created"]
    retries = [e for e in incident(d, admin_token, g)["timeline"]
               if e["kind"] == "notification.retry"]
    assert len(retries) == 3, retries
    details = [e["data"]["detail"] for e in retries]
    assert "HTTP 500" in details[0] and "20500" in details[0], details
    assert "HTTP 429" in details[1], details
    assert all(e["data"]["state"] == "failed-temporary" for e in retries), retries

    rows = notifications(d, admin_token, h)
    assert [(r["type"], r["state"]) for r in rows] == [("voice", "failed-permanent"),
                                                       ("email", "delivered")], rows
    assert rows[0]["attempts"] == 1 and "21211" in rows[0]["detail"], rows
    assert len([1 for _, to, _ in twilio.requests if to == HANK]) == 2  # the code, the page
    no_secret_logged(d)


def test_bad_credentials_are_permanent(env, admin_token, twilio):
    configure(env, twilio)
    env.env_vars["OPSBELL_TEST_TWILIO_TOKEN"] = "a-wrong-token"
    d = env.daemon()
    # No code can be sent with these credentials: an admin vouches instead.
    r = d.request("POST", "/api/v1/users/carol/verifications", {"type": "voice", "address": CAROL},
                  token=admin_token)
    assert r.status >= 400 and "20003" in r.body["error"], r
    r = d.request("POST", "/api/v1/users/carol/verifications/trust", {"address": CAROL},
                  token=admin_token)
    assert r.status == 201, r
    iid = trigger_incident(d, admin_token, "svc-carol", "carol-2")
    wait_for(lambda: settled(d, admin_token, iid), 20, "settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "failed-permanent" and "20003" in rows[0]["detail"], rows
    assert twilio.unauthorized == 2 and twilio.calls == []  # the code, then the page
    assert "a-wrong-token" not in d.log_text()
    # Callbacks signed with the real token are refused by this daemon.
    url = base(d) + "/twilio/sms"
    params = [("From", FRANK), ("Body", "%d ack" % iid)]
    assert post_form(url, params, twilio.sign(url, params))[0] == 403
    assert incident(d, admin_token, iid)["status"] == "triggered"


def test_bad_twilio_settings_are_reported_where_they_are(env, twilio):
    configure(env, twilio)
    env.extra_main = (env.extra_main.replace("ring_timeout: 20s", "ring_timeout: 2s")
                      .replace("request_timeout: 1s", "request_timeout: forever"))
    env.write_main()
    r = env.local("check-config")
    assert r.code == 1 and r.stdout == "", r
    diags = diag_lines(r.stderr)
    lines = env.config_path.read_text().splitlines()
    want = {}
    for key in ("ring_timeout", "request_timeout"):
        want[key] = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith(key + ":"))
    got = {m.group("msg").split()[1]: int(m.group("line")) for m in diags}
    assert got == want, (got, want, r.stderr)
    assert all(m.group("file").endswith("opsbell.yaml") for m in diags), r.stderr
    assert TOKEN not in r.stderr
