"""Contact-method verification through the API and the CLI: the list of a
user's contact methods, an admin vouching (audited, refused twice, refused
to non-admins), every refusal of a code; then, with the Twilio stand-in as
the provider that verifies: an unverified number is not called (the next
contact method is), codes are checked, counted and voided, and a number
verified with the code the stand-in received is called."""

import pytest

from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import trigger_incident, wait_for
from twilio_standin import Standin

USERS = """\
users:
  - name: vera
    contact_methods:
      - {type: voice, address: "+4930111222"}
      - {type: sms, address: "+4930111222"}
      - {type: sip, address: "sip:vera@127.0.0.1:5099"}
      - {type: email, address: vera@example.com}
"""


def configure(env):
    env.write("users.yaml", USERS)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.write_main()


def methods(d, token, user="vera"):
    r = d.get("/api/v1/users/%s/contact-methods" % user, token=token)
    assert r.status == 200, r
    return {(m["type"], m["address"]): m for m in r.body["contact_methods"]}


def write_token(d, admin):
    r = d.request("POST", "/api/v1/tokens", {"name": "writer", "scope": "write"}, token=admin)
    assert r.status == 201, r
    return r.body["token"]


def test_contact_methods_list_and_an_admin_vouching(env, admin_token):
    configure(env)
    d = env.daemon()
    m = methods(d, admin_token)
    assert len(m) == 4
    assert all(not x["verified"] and x["verified_at_ms"] is None for x in m.values()), m
    # No SIP or Twilio provider here: nothing needs verification yet.
    assert all(not x["needs_verification"] for x in m.values()), m

    writer = write_token(d, admin_token)
    r = d.request("POST", "/api/v1/users/vera/verifications/trust", {"address": "+4930111222"},
                  token=writer)
    assert r.status == 403, r
    r = d.request("POST", "/api/v1/users/vera/verifications/trust", {"address": "+4930111222"},
                  token=admin_token)
    assert r.status == 201 and r.body == {"address": "+4930111222", "verified": True}, r
    m = methods(d, admin_token)
    # One number: verified for calls and SMS alike; the SIP URI is not.
    assert m[("voice", "+4930111222")]["verified"] and m[("sms", "+4930111222")]["verified"]
    assert m[("voice", "+4930111222")]["verified_at_ms"] > 0
    assert not m[("sip", "sip:vera@127.0.0.1:5099")]["verified"]
    r = d.request("POST", "/api/v1/users/vera/verifications/trust", {"address": "+4930111222"},
                  token=admin_token)
    assert r.status == 409 and "already verified" in r.body["error"], r
    audit = d.get("/api/v1/audit", token=admin_token).body
    rows = [a for a in audit["events"] if a["action"] == "contact.trusted"]
    assert len(rows) == 1 and rows[0]["target"] == "user:vera", rows
    assert rows[0]["actor"] == "token:admin", rows

    # The CLI twin.
    r = env.cli("contact", "trust", "vera", "sip:vera@127.0.0.1:5099", url=d.url,
                token=admin_token)
    assert r.code == 0 and "is verified" in r.stdout, r
    r = env.cli("contact", "list", "vera", url=d.url, token=admin_token)
    assert r.code == 0, r
    lines = [l for l in r.stdout.splitlines() if "sip:vera" in l]
    assert len(lines) == 1 and "yes" in lines[0], r.stdout


def test_refusals(env, admin_token):
    configure(env)
    d = env.daemon()
    post = lambda path, body: d.request("POST", "/api/v1/users/%s" % path, body,
                                        token=admin_token)
    r = post("nobody/verifications", {"type": "sms", "address": "+4930111222"})
    assert r.status == 404, r
    r = post("vera/verifications", {"type": "sms", "address": "+4930999999"})
    assert r.status == 400 and "no sms contact method" in r.body["error"], r
    r = post("vera/verifications", {"type": "email", "address": "vera@example.com"})
    assert r.status == 400 and "only phone numbers and SIP URIs" in r.body["error"], r
    r = post("vera/verifications", {"type": "sms", "address": "+4930111222"})
    assert r.status == 503 and "no provider that verifies sms" in r.body["error"], r
    r = post("vera/verifications", {"type": "sms"})
    assert r.status == 400 and "address" in r.body["error"], r
    r = post("vera/verifications", {"type": "sms", "address": "+4930111222", "x": 1})
    assert r.status == 400, r
    r = post("vera/verifications/confirm", {"address": "+4930111222", "code": "12345"})
    assert r.status == 400 and "6 digits" in r.body["error"], r
    r = post("vera/verifications/confirm", {"address": "+4930111222", "code": "12345a"})
    assert r.status == 400, r
    r = post("vera/verifications/confirm", {"address": "+4930111222", "code": "123456"})
    assert r.status == 404 and "no code is pending" in r.body["error"], r
    r = post("vera/verifications/trust", {"address": "vera@example.com"})
    assert r.status == 400, r
    r = env.cli("contact", "confirm", "vera", "+4930111222", "123456", url=d.url,
                token=admin_token)
    assert r.code == 1 and r.stderr.startswith("opsbell: ") and r.stderr.count("\n") == 1, r
    assert "no code is pending" in r.stderr
    # Nothing of this changed anything.
    assert not any(m["verified"] for m in methods(d, admin_token).values())


# ---- with a provider that verifies: the Twilio stand-in ---------------------------

ACCOUNT = "AC" + "fedcba9876543210" * 2
TWILIO_TOKEN = "twilio-verify-token-0123456789"
WREN = "+15550177001"

PAGED_USERS = """\
users:
  - name: wren
    contact_methods:
      - {type: voice, address: "%s"}
      - {type: email, address: wren@example.com}
    notification_rules: [{type: voice, after: 0s}]
""" % WREN

PAGED_TEAM = """\
team:
  members: [wren]
services:
  - {name: svc-wren, escalation_policy: pol-wren}
escalation_policies:
  - name: pol-wren
    steps: [{delay: 1h, targets: {users: [wren]}}]
"""


@pytest.fixture
def twilio():
    s = Standin(ACCOUNT, TWILIO_TOKEN)
    yield s
    s.close()


def configure_twilio(env, twilio):
    env.write("users.yaml", PAGED_USERS)
    env.write("teams/ops/team.yaml", PAGED_TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_TWILIO_TOKEN"] = TWILIO_TOKEN
    env.extra_main = ("providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  twilio:\n"
                      "    api_url: %s\n"
                      "    account_sid: %s\n"
                      "    auth_token: env:OPSBELL_TEST_TWILIO_TOKEN\n"
                      "    from_number: \"+15005550006\"\n" % (twilio.url, ACCOUNT))
    env.write_main()
    return env.dir / "deliveries.jsonl"


def test_an_unverified_number_is_not_called(env, admin_token, twilio):
    log = configure_twilio(env, twilio)
    d = env.daemon()
    m = methods(d, admin_token, "wren")
    assert m[("voice", WREN)]["needs_verification"] and not m[("voice", WREN)]["verified"], m
    assert m[("voice", WREN)]["provider"] == "twilio"
    iid = trigger_incident(d, admin_token, "svc-wren", "unverified-1")
    wait_for(lambda: len(deliveries(log, iid)) == 1, 10, "the next contact method paged")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "voice" and rows[0]["state"] == "failed-permanent", rows
    assert rows[0]["attempts"] == 0 and "not verified" in rows[0]["detail"], rows
    assert deliveries(log, iid)[0]["type"] == "email"
    assert twilio.calls_to(WREN) == [], "an unverified number was called"


def test_codes_are_checked_counted_and_voided(env, admin_token, twilio):
    configure_twilio(env, twilio)
    d = env.daemon()
    post = lambda path, body: d.request("POST", "/api/v1/users/wren/%s" % path, body,
                                        token=admin_token)
    r = post("verifications", {"type": "voice", "address": WREN})
    assert r.status == 202 and r.body["provider"] == "twilio", r
    code = wait_for(lambda: twilio.code_for(WREN), 10, "the code spoken to wren")
    # A second code within the minute is refused; the first stays valid.
    r = post("verifications", {"type": "voice", "address": WREN})
    assert r.status == 409 and "less than a minute" in r.body["error"], r
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    for left in (4, 3, 2, 1, 0):
        r = post("verifications/confirm", {"address": WREN, "code": wrong})
        assert r.status == 400 and "wrong code" in r.body["error"], r
        assert "%d of 5 tries left" % left in r.body["error"], r
    # Voided after five wrong codes, even for the right one.
    r = post("verifications/confirm", {"address": WREN, "code": code})
    assert r.status == 409 and "too many wrong codes" in r.body["error"], r
    assert not methods(d, admin_token, "wren")[("voice", WREN)]["verified"]
    actions = [a["action"] for a in d.get("/api/v1/audit", token=admin_token).body["events"]]
    assert actions.count("contact.verification_failed") == 5, actions
    assert actions.count("contact.verification_sent") == 1, actions


def test_a_verified_number_is_called(env, admin_token, twilio):
    configure_twilio(env, twilio)
    d = env.daemon()
    r = env.cli("contact", "verify", "wren", "voice", WREN, url=d.url, token=admin_token)
    assert r.code == 0 and "code sent to %s via twilio" % WREN in r.stdout, r
    code = wait_for(lambda: twilio.code_for(WREN), 10, "the code spoken to wren")
    r = env.cli("contact", "confirm", "wren", WREN, code, url=d.url, token=admin_token)
    assert r.code == 0 and r.stdout == "%s is verified\n" % WREN, r
    m = methods(d, admin_token, "wren")[("voice", WREN)]
    assert m["verified"] and m["verified_at_ms"] > 0, m
    iid = trigger_incident(d, admin_token, "svc-wren", "verified-1")
    wait_for(lambda: len(twilio.calls_to(WREN)) >= 1, 10, "the page's call")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "voice" and "not verified" not in (rows[0]["detail"] or ""), rows
