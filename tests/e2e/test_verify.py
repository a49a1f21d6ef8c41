"""Contact-method verification through the API and the CLI, with no provider
that verifies configured (the SMS and call paths, where a code is really
sent and typed back, are in test_twilio.py and test_sip.py): the list of a
user's contact methods, an admin vouching (audited, refused twice, refused
to non-admins), and every refusal of a code."""

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
