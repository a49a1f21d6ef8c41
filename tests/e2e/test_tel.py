"""Calls on request (`opsbell tel`, POST /api/v1/tel) end to end against the
Twilio stand-in: a call says who asked and their message, its outcome is
kept and audited; a busy or unanswered phone moves on to the callee's next
phone; unknown nicknames get close matches; a callee without a phone, an
unverified number, a message too long and the rate limits are refused.
(The same through a real SIP phone and a chat command: test_chatops.py.)"""

import pytest

from e2e_support import wait_for
from twilio_standin import Standin

ACCOUNT = "AC" + "0a1b2c3d4e5f6789" * 2
TOKEN = "twilio-tel-token-0123456789"
BOB1, BOB2, ZOE = "+15550199001", "+15550199002", "+15550199003"

USERS = """\
users:
  - name: bob
    nickname: bobby
    contact_methods:
      - {type: voice, address: "%s"}
      - {type: email, address: bob@example.com}
      - {type: voice, address: "%s"}
  - name: bo
    contact_methods:
      - {type: email, address: bo@example.com}
  - name: zoe
    contact_methods:
      - {type: voice, address: "%s"}
""" % (BOB1, BOB2, ZOE)

TEAM = """\
team:
  members: [bob, bo, zoe]
"""


@pytest.fixture
def twilio():
    s = Standin(ACCOUNT, TOKEN)
    yield s
    s.close()


def configure(env, twilio):
    env.write("users.yaml", USERS)
    env.write("teams/ops/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_TWILIO_TOKEN"] = TOKEN
    env.extra_main = ("providers:\n"
                      "  twilio:\n"
                      "    api_url: %s\n"
                      "    account_sid: %s\n"
                      "    auth_token: env:OPSBELL_TEST_TWILIO_TOKEN\n"
                      "    from_number: \"+15005550006\"\n" % (twilio.url, ACCOUNT))
    env.write_main()


def trust(d, token, user, address):
    r = d.request("POST", "/api/v1/users/%s/verifications/trust" % user, {"address": address},
                  token=token)
    assert r.status == 201, r


def call(d, token, iid):
    r = d.get("/api/v1/tel/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body


def tel_calls(twilio, number):
    with twilio.lock:
        return [c for c in twilio.calls if c["To"] == number and "Twiml" in c]


def test_a_call_says_who_asked_and_is_answered(env, admin_token, twilio):
    configure(env, twilio)
    d = env.daemon()
    trust(d, admin_token, "bob", BOB1)
    twilio.script(BOB1, "silent")
    r = env.cli("tel", "bobby", "the", "database", "is", "down", url=d.url, token=admin_token)
    assert r.code == 0, r
    assert r.stdout.startswith("calling bobby (bob)...\n"), r.stdout
    assert "answered on %s" % BOB1 in r.stdout, r.stdout
    (c,) = tel_calls(twilio, BOB1)
    assert "Call from admin via opsbell: the database is down." in c["Twiml"], c
    assert c["StatusCallback"].startswith("http://127.0.0.1:%d/twilio/status/" % d.env.port), c
    rows = [a for a in d.get("/api/v1/audit", token=admin_token).body["events"]
            if a["action"].startswith("tel.")]
    assert [a["action"] for a in rows] == ["tel.answered", "tel.request"], rows
    assert rows[1]["actor"] == "token:admin" and rows[1]["target"] == "user:bob", rows


def test_busy_then_the_next_phone(env, admin_token, twilio):
    configure(env, twilio)
    d = env.daemon()
    trust(d, admin_token, "bob", BOB1)
    trust(d, admin_token, "bob", BOB2)
    twilio.script(BOB1, "busy")
    twilio.script(BOB2, "silent")
    r = d.request("POST", "/api/v1/tel", {"callee": "bob", "message": "wake up"},
                  token=admin_token)
    assert r.status == 202 and r.body["callee"] == "bob" and r.body["nickname"] == "bobby", r
    iid = r.body["id"]
    c = wait_for(lambda: (lambda x: x if x["done"] else None)(call(d, admin_token, iid)), 15,
                 "the call's outcome")
    assert c["state"] == "answered", c
    assert [(p["address"], p["state"]) for p in c["phones"]] == [(BOB1, "busy"),
                                                                  (BOB2, "answered")], c
    assert c["message"] == "Call from admin via opsbell: wake up.", c
    assert len(tel_calls(twilio, BOB1)) == 1, "a call on request is not retried on one phone"


def test_nobody_answers_on_any_phone(env, admin_token, twilio):
    configure(env, twilio)
    d = env.daemon()
    trust(d, admin_token, "bob", BOB1)
    twilio.script(BOB1, "no-answer")
    # BOB2 is not verified: never called, the call ends there.
    r = env.cli("tel", "bob", url=d.url, token=admin_token)
    assert r.code == 1, r
    assert r.stderr.startswith("opsbell: ") and r.stderr.count("\n") == 1, r
    assert "not verified" in r.stderr, r.stderr
    r = d.get("/api/v1/tel/1", token=admin_token)
    assert r.status == 200 and [p["state"] for p in r.body["phones"]] == [
        "no-answer", "failed-permanent"], r
    assert tel_calls(twilio, BOB2) == []


def test_refusals(env, admin_token, twilio):
    configure(env, twilio)
    d = env.daemon()
    post = lambda body: d.request("POST", "/api/v1/tel", body, token=admin_token)
    r = post({"callee": "bbo"})
    assert r.status == 404, r
    assert "no one is called 'bbo'; did you mean: bo, bobby?" in r.body["error"], r
    r = post({"callee": "bo"})
    assert r.status == 400 and "bo has no phone" in r.body["error"], r
    r = post({"callee": "zoe", "message": "x" * 301})
    assert r.status == 400, r
    r = post({"callee": "zoe", "extra": 1})
    assert r.status == 400, r
    r = d.get("/api/v1/tel/999", token=admin_token)
    assert r.status == 404, r
    r = d.get("/api/v1/tel/abc", token=admin_token)
    assert r.status == 400, r
    r = env.cli("tel", url=d.url, token=admin_token)
    assert r.code == 2, r
    # Three calls on request per callee in 10 minutes (zoe's number is not
    # verified: the calls fail at once, but they count).
    for _ in range(3):
        assert post({"callee": "zoe"}).status == 202
    r = post({"callee": "zoe"})
    assert r.status == 409 and "zoe got 3 calls in the last 10 minutes" in r.body["error"], r
    assert tel_calls(twilio, ZOE) == []


def test_no_phone_provider_no_call(env, admin_token):
    env.write("users.yaml", USERS)
    env.write("teams/ops/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.extra_main = "providers:\n  log:\n    path: deliveries.jsonl\n"
    env.write_main()
    d = env.daemon()
    r = d.request("POST", "/api/v1/tel", {"callee": "zoe"}, token=admin_token)
    assert r.status == 503 and "no provider places voice calls" in r.body["error"], r
    r = env.cli("tel", "zoe", url=d.url, token=admin_token)
    assert r.code == 1 and "no provider places voice calls" in r.stderr, r


# ---- a real phone: baresip answers a call on request ----------------------------

def test_a_call_on_request_rings_a_real_sip_phone(env, admin_token):
    from baresip_support import Baresip

    bob = Baresip(env, answermode="auto")
    try:
        env.write("users.yaml", "users:\n  - name: bob\n    contact_methods:\n"
                                "      - {type: sip, address: \"%s\"}\n" % bob.uri)
        env.write("teams/ops/team.yaml", "team:\n  members: [bob]\n")
        (env.dir / "teams" / "alpha" / "team.yaml").unlink()
        (env.dir / "teams" / "beta" / "team.yaml").unlink()
        env.extra_main = ("providers:\n"
                          "  sip:\n"
                          "    listen: 127.0.0.1:0\n"
                          "    from_uri: sip:opsbell@127.0.0.1\n"
                          "    ring_timeout: 5s\n"
                          "    max_call: 30s\n"
                          "    rtp_ports: 31000-31999\n")
        env.write_main()
        d = env.daemon()
        trust(d, admin_token, "bob", bob.uri)
        r = d.request("POST", "/api/v1/tel", {"callee": "bob", "message": "wake up"},
                      token=admin_token)
        assert r.status == 202, r
        iid = r.body["id"]
        bob.wait_event("CALL_ESTABLISHED")
        c = wait_for(lambda: (lambda x: x if x["done"] else None)(call(d, admin_token, iid)), 40,
                     "the call's outcome (the message said twice, then hung up)")
        assert c["state"] == "answered", c
        assert [(p["address"], p["state"], p["provider"]) for p in c["phones"]] == [
            (bob.uri, "answered", "sip")], c
        bob.wait_event("CALL_CLOSED")
    finally:
        bob.close()
