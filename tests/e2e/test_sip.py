"""The `sip` provider end to end: opsbell's SIP agent calls a real baresip
(headless, driven over ctrl_tcp) or a fake UAS written in the test, on
loopback.

- an incident pages bob's sip: contact; baresip answers; a key outside the
  menu, then 1 (RFC 4733), and the incident is acknowledged by bob with the
  call on the timeline;
- busy (baresip rejects: 486) is retried, then recorded busy;
- a callee that never answers rings out (our ring timeout): no-answer;
- answered and hung up without a key: answered, the escalation goes on to
  step 2;
- a phone number through the trunk with digest authentication;
- bad input from the far end: a 200 without SDP, a broken SDP, garbage
  instead of responses, 404 and 503, SIP INFO with bad and good keys: the
  daemon stays up and records a clear outcome.

Other contact types are observed through the `log` provider."""

import hashlib
import os
import resource
import signal
import re
import socket
import time

import pytest

from baresip_support import GOOD_SDP, Baresip, FakeUas, Kamailio, _header
from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import notifications_settled as final
from e2e_support import trigger_incident as trigger
from e2e_support import wait_for

PASSWORD = "sip-digest-pass-0123456789"

TEAM = """\
team:
  description: SIP tests
  members: [bob, dave, carl, vic]
services:
  - {name: svc-bob, escalation_policy: pol-bob}
  - {name: svc-bob-esc, escalation_policy: pol-bob-esc}
  - {name: svc-carl, escalation_policy: pol-carl}
  - {name: svc-vic, escalation_policy: pol-vic}
escalation_policies:
  - name: pol-bob
    steps: [{delay: 1h, targets: {users: [bob]}}]
  - name: pol-bob-esc
    steps:
      - {delay: 5s, targets: {users: [bob]}}
      - {delay: 1h, targets: {users: [dave]}}
  - name: pol-carl
    steps: [{delay: 1h, targets: {users: [carl]}}]
  - name: pol-vic
    steps: [{delay: 1h, targets: {users: [vic]}}]
"""


def users_yaml(bob_uri, carl_uri="sip:carl@127.0.0.1:9"):
    return """\
users:
  - name: bob
    contact_methods:
      - {type: sip, address: "%s"}
      - {type: email, address: bob@example.com}
    notification_rules:
      - {type: sip, after: 0s}
  - name: dave
    contact_methods:
      - {type: email, address: dave@example.com}
    notification_rules:
      - {type: email, after: 0s}
  - name: carl
    contact_methods:
      - {type: sip, address: "%s"}
      - {type: email, address: carl@example.com}
    notification_rules:
      - {type: sip, after: 0s}
  - name: vic
    contact_methods:
      - {type: voice, address: "+4930123456"}
      - {type: email, address: vic@example.com}
    notification_rules:
      - {type: voice, after: 0s}
""" % (bob_uri, carl_uri)


def configure(env, bob_uri="sip:bob@127.0.0.1:9", carl_uri="sip:carl@127.0.0.1:9",
              max_attempts=2, trunk_port=None):
    env.write("users.yaml", users_yaml(bob_uri, carl_uri))
    env.write("teams/sip/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_SIP_PASSWORD"] = PASSWORD
    trunk = "    trunk: sip:127.0.0.1:%d\n" % trunk_port if trunk_port else ""
    env.extra_main = ("engine:\n"
                      "  retry_base: 1s\n"
                      "  max_attempts: %d\n"
                      "providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  sip:\n"
                      "    listen: 127.0.0.1:0\n"
                      "    from_uri: sip:opsbell@127.0.0.1\n"
                      "    username: opsbell\n"
                      "    password: env:OPSBELL_TEST_SIP_PASSWORD\n"
                      "    ring_timeout: 2s\n"
                      "    max_call: 40s\n"
                      "    rtp_ports: 30000-30999\n" % max_attempts + trunk)
    env.write_main()
    env.sip_contacts = [("bob", bob_uri), ("carl", carl_uri), ("vic", "+4930123456")]
    return env.dir / "deliveries.jsonl"


def start(env, token):
    """The daemon, with the phone contacts trusted by an admin (numbers and
    SIP URIs are paged only once verified)."""
    d = env.daemon()
    for user, address in env.sip_contacts:
        r = d.request("POST", "/api/v1/users/%s/verifications/trust" % user,
                      {"address": address}, token=token)
        assert r.status == 201, r
    return d


def incident(d, token, iid):
    r = d.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body


def kinds(d, token, iid):
    return [e["kind"] for e in incident(d, token, iid)["timeline"]]


def settled(d, token, iid):
    return final(notifications(d, token, iid))


def assert_alive(d):
    assert d.alive(), "the daemon exited:\n" + d.log_text()[-4000:]
    assert d.get("/healthz").status == 200


def assert_no_password(d):
    assert PASSWORD not in d.log_text(), "the SIP password is in the daemon's log"


@pytest.fixture
def peers():
    made = []
    yield made
    for p in made:
        p.close()


# ---- a real phone: baresip ------------------------------------------------

def test_key_1_acknowledges_the_incident(env, admin_token, peers):
    bob = Baresip(env, answermode="auto")
    peers.append(bob)
    configure(env, bob_uri=bob.uri)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-ack", summary="payments API error rate high")
    bob.wait_event("CALL_ESTABLISHED")
    wait_for(lambda: "notification.placed" in kinds(d, admin_token, iid), 10, "the call placed")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1 and rows[0]["state"] == "sending", rows
    assert rows[0]["provider"] == "sip", rows
    # A key outside the menu first: the call goes on.
    bob.command("sndcode", "5")
    wait_for(lambda: 'key=5' in d.log_text(), 10, "key 5 seen by the agent")
    time.sleep(0.3)
    bob.command("sndcode", "1")
    wait_for(lambda: incident(d, admin_token, iid)["status"] == "acknowledged", 15,
             "the incident acknowledged from the phone")
    inc = incident(d, admin_token, iid)
    assert "bob" in (inc["acknowledged_by"] or ""), inc
    wait_for(lambda: settled(d, admin_token, iid), 15, "the call's outcome")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "acknowledged", rows
    assert rows[0]["attempts"] == 1, rows
    assert "acknowledged with key 1" in rows[0]["detail"], rows
    k = kinds(d, admin_token, iid)
    assert "notification.placed" in k and "notification.acknowledged" in k, k
    assert "incident.acknowledged" in k, k
    # The agent hung up after the confirmation.
    bob.wait_event("CALL_CLOSED")
    assert deliveries(env.dir / "deliveries.jsonl", iid) == []
    assert_alive(d)
    assert_no_password(d)


def test_busy_is_retried_then_recorded_busy(env, admin_token, peers):
    bob = Baresip(env, answermode="manual")
    peers.append(bob)
    log = configure(env, bob_uri=bob.uri, max_attempts=2)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-busy")
    for n in (1, 2):
        bob.wait_event("CALL_INCOMING", count=n)
        bob.command("hangup")  # rejects the ringing call: 486
    wait_for(lambda: len(deliveries(log, iid)) >= 1, 30, "the next contact method paged")
    wait_for(lambda: settled(d, admin_token, iid), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "sip" and rows[0]["state"] == "busy", rows
    assert rows[0]["attempts"] == 2, rows
    assert "486" in rows[0]["detail"], rows
    assert "notification.retry" in kinds(d, admin_token, iid)
    assert [(x["user"], x["type"]) for x in deliveries(log, iid)] == [("bob", "email")]
    assert incident(d, admin_token, iid)["status"] == "triggered"
    assert_alive(d)


def test_no_answer_rings_out(env, admin_token, peers):
    bob = Baresip(env, answermode="manual")
    peers.append(bob)
    configure(env, bob_uri=bob.uri, max_attempts=1)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-noanswer")
    bob.wait_event("CALL_INCOMING")
    wait_for(lambda: settled(d, admin_token, iid), 20, "the call rang out")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "sip" and rows[0]["state"] == "no-answer", rows
    assert "ring timeout" in rows[0]["detail"], rows
    # Our CANCEL reached the phone: it stopped ringing.
    bob.wait_event("CALL_CLOSED")
    assert_alive(d)


def test_answered_without_a_key_escalates_to_step_2(env, admin_token, peers):
    bob = Baresip(env, answermode="auto")
    peers.append(bob)
    log = configure(env, bob_uri=bob.uri)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob-esc", "sip-answered")
    bob.wait_event("CALL_ESTABLISHED")
    bob.command("hangup")
    wait_for(lambda: any(n["user"] == "bob" and n["state"] == "answered"
                         for n in notifications(d, admin_token, iid)), 15, "bob's call answered")
    wait_for(lambda: [x["user"] for x in deliveries(log, iid)] == ["dave"], 20,
             "step 2 paged dave")
    rows = [n for n in notifications(d, admin_token, iid) if n["user"] == "bob"]
    assert rows[0]["state"] == "answered" and "hung up" in rows[0]["detail"], rows
    assert incident(d, admin_token, iid)["status"] == "triggered"
    k = kinds(d, admin_token, iid)
    assert "notification.answered" in k and k.count("escalation.step") >= 2, k
    assert_alive(d)


def test_a_call_with_over_a_thousand_descriptors_open(env, admin_token, peers):
    """libre polls only descriptors below its fd_setsize(), 1024 unless the
    agent raises it: with the daemon's other descriptors past 1023 (here
    1,000 idle HTTP connections, below the HTTP server's own limit of
    1,024), a call must still get its RTP socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("RLIMIT_NOFILE hard limit %d is below 4096" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))  # the daemon inherits it
    socks = []
    try:
        bob = Baresip(env, answermode="auto")
        peers.append(bob)
        configure(env, bob_uri=bob.uri)
        d = start(env, admin_token)
        for _ in range(1000):
            socks.append(socket.create_connection(("127.0.0.1", d.port)))
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % d.proc.pid)) > 1024, 10,
                 "the daemon's descriptors past 1023")
        iid = trigger(d, admin_token, "svc-bob", "sip-fds")
        bob.wait_event("CALL_ESTABLISHED")
        bob.command("hangup")
        wait_for(lambda: settled(d, admin_token, iid), 15, "the call's outcome")
        rows = notifications(d, admin_token, iid)
        assert rows[0]["state"] == "answered", rows
        assert "Max 1024 fds" not in d.log_text()
        assert_alive(d)
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- a phone number through the trunk, with digest authentication --------

def digest_ok(invite, password):
    auth = _header(invite, "Authorization") or _header(invite, "Proxy-Authorization")
    if not auth:
        return False
    f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))
    ha1 = hashlib.md5(("%s:%s:%s" % (f["username"], f["realm"], password)).encode()).hexdigest()
    ha2 = hashlib.md5(("INVITE:%s" % f["uri"]).encode()).hexdigest()
    if "qop" in f:
        want = hashlib.md5(("%s:%s:%s:%s:%s:%s" % (ha1, f["nonce"], f["nc"], f["cnonce"],
                                                    f["qop"], ha2)).encode()).hexdigest()
    else:
        want = hashlib.md5(("%s:%s:%s" % (ha1, f["nonce"], ha2)).encode()).hexdigest()
    return f["username"] == "opsbell" and f["response"] == want


def test_phone_number_through_the_trunk_with_digest_auth(env, admin_token, peers):
    seen = []

    def behavior(uas, invite):
        seen.append(invite)
        if not _header(invite, "Authorization"):
            r = uas.response(invite, 401, "Unauthorized", to_tag=True).decode()
            r = r.replace("Content-Length", 'WWW-Authenticate: Digest realm="trunk", '
                          'nonce="abc123", algorithm=MD5\r\nContent-Length')
            return [r.encode()]
        if not digest_ok(invite, PASSWORD):
            return [uas.response(invite, 403, "Forbidden", to_tag=True)]
        return [uas.response(invite, 486, "Busy Here", to_tag=True)]

    uas = FakeUas(behavior)
    peers.append(uas)
    configure(env, max_attempts=1, trunk_port=uas.port)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-vic", "sip-trunk")
    wait_for(lambda: settled(d, admin_token, iid), 20, "the trunk call's outcome")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "voice" and rows[0]["provider"] == "sip", rows
    assert rows[0]["state"] == "busy" and "486" in rows[0]["detail"], rows
    assert len(seen) == 2, seen
    assert seen[0].startswith("INVITE sip:+4930123456@127.0.0.1:%d SIP/2.0" % uas.port), seen[0]
    assert digest_ok(seen[1], PASSWORD), seen[1]
    assert "m=audio" in seen[0] and "PCMU/8000" in seen[0] and "telephone-event/8000" in seen[0]
    assert_no_password(d)
    assert_alive(d)


# ---- bad input from the far end -------------------------------------------

def page_carl(env, admin_token, peers, behavior, key, max_attempts=1):
    uas = FakeUas(behavior)
    peers.append(uas)
    log = configure(env, carl_uri=uas.uri, max_attempts=max_attempts)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-carl", key)
    return uas, log, d, iid


def test_200_without_sdp_is_a_clear_permanent_failure(env, admin_token, peers):
    uas, log, d, iid = page_carl(env, admin_token, peers,
                                 lambda u, inv: [u.answer(inv, None)], "sip-nosdp")
    wait_for(lambda: len(deliveries(log, iid)) == 1, 20, "carl's e-mail after the failure")
    wait_for(lambda: settled(d, admin_token, iid), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "failed-permanent", rows
    assert "without a usable SDP" in rows[0]["detail"], rows
    wait_for(lambda: "BYE" in uas.methods(), 10, "the call hung up")
    assert "ACK" in uas.methods()
    assert_alive(d)


def test_malformed_sdp_is_a_clear_permanent_failure(env, admin_token, peers):
    broken = "v=0\r\nc=IN IP4\r\nm=audio notaport RTP/AVP x\r\na=rtpmap:zz\r\n\x01\x02\r\n"
    uas, log, d, iid = page_carl(env, admin_token, peers,
                                 lambda u, inv: [u.answer(inv, broken)], "sip-badsdp")
    wait_for(lambda: settled(d, admin_token, iid), 20, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "failed-permanent", rows
    assert "SDP" in rows[0]["detail"], rows
    assert_alive(d)


def test_garbage_instead_of_responses_is_a_timeout(env, admin_token, peers):
    def behavior(uas, invite):
        return [b"SIP/2.0 abc\r\n\r\n", b"\x00\xff" * 50, b"HELLO\r\n\r\n",
                b"SIP/2.0 200 OK\r\nContent-Length: 99999\r\n\r\nx"]

    uas, log, d, iid = page_carl(env, admin_token, peers, behavior, "sip-garbage")
    wait_for(lambda: settled(d, admin_token, iid), 20, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "failed-temporary", rows
    assert "no response" in rows[0]["detail"], rows
    assert_alive(d)


@pytest.mark.parametrize("code,reason,state", [(404, "Not Found", "failed-permanent"),
                                               (503, "Service Unavailable", "failed-temporary"),
                                               (603, "Decline", "busy"),
                                               (480, "Temporarily Unavailable", "no-answer")])
def test_final_responses_map_to_outcomes(env, admin_token, peers, code, reason, state):
    uas, log, d, iid = page_carl(
        env, admin_token, peers,
        lambda u, inv: [u.response(inv, 100, "Trying"),
                        u.response(inv, code, reason, to_tag=True)], "sip-%d" % code)
    wait_for(lambda: settled(d, admin_token, iid), 20, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == state, rows
    assert "%d %s" % (code, reason) in rows[0]["detail"], rows
    assert "ACK" in uas.methods()  # the final response was acknowledged
    assert_alive(d)


def test_sip_info_keys_bad_then_good(env, admin_token, peers):
    def behavior(uas, invite):
        return [uas.response(invite, 180, "Ringing", to_tag=True),
                uas.answer(invite, GOOD_SDP % uas.rtp_port)]

    uas, log, d, iid = page_carl(env, admin_token, peers, behavior, "sip-info")
    wait_for(lambda: "ACK" in uas.methods(), 10, "the call established")
    # The prompt arrives as 20 ms PCMU packets (160 bytes, PT 0), speech in them.
    wait_for(lambda: len(uas.rtp_received()) >= 50, 10, "RTP from opsbell")
    pkts = uas.rtp_received()
    assert all(pt == 0 and len(payload) == 160 for pt, _, payload in pkts), pkts[:3]
    seqs = [seq for _, seq, _ in pkts]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])), seqs[:20]
    assert any(set(payload) - {0xff, 0x7f} for _, _, payload in pkts), "only silence"
    # A key outside the menu by RFC 4733 too ('*' = event 10).
    uas.send_rtp_key(10)
    wait_for(lambda: "key=* via=rfc4733" in d.log_text(), 10, "the RFC 4733 key seen")
    uas.send_info("Signal=x\r\nDuration=160\r\n")
    uas.send_info("hello", ctype="text/plain")
    uas.send_info("Signal=7\r\nDuration=160\r\n")  # not in the menu
    wait_for(lambda: len(uas.info_replies) >= 3, 10, "replies to the INFOs")
    assert incident(d, admin_token, iid)["status"] == "triggered"
    uas.send_info("Signal= 1\r\nDuration=160\r\n")
    wait_for(lambda: incident(d, admin_token, iid)["status"] == "acknowledged", 15,
             "acknowledged by SIP INFO")
    replies = [r.split(" ")[1] for r in uas.info_replies]
    assert replies[:4] == ["400", "415", "200", "200"], uas.info_replies
    assert "carl" in incident(d, admin_token, iid)["acknowledged_by"]
    wait_for(lambda: "BYE" in uas.methods(), 15, "the agent hung up after the confirmation")
    wait_for(lambda: settled(d, admin_token, iid), 10, "the outcome")
    assert notifications(d, admin_token, iid)[0]["state"] == "acknowledged"
    assert_alive(d)


def test_sip_minimal_config_is_valid(env):
    env.extra_main = "providers:\n  sip:\n    from_uri: sip:opsbell@pbx.example.com\n"
    env.write_main()
    r = env.local("check-config")
    assert r.code == 0, r


def test_sip_config_errors_are_positioned(env):
    env.extra_main = ("providers:\n"
                      "  sip:\n"
                      "    from_uri: sip:opsbell@127.0.0.1\n"
                      "    trunk: trunk.example.com\n"
                      "    ring_timeout: forever\n"
                      "    rtp_ports: 5-3\n"
                      "    listen: nowhere\n")
    env.write_main()
    r = env.local("check-config")
    assert r.code == 1, r
    out = r.stdout + r.stderr
    lines = env.read("opsbell.yaml").splitlines()
    for field in ("trunk", "ring_timeout", "rtp_ports", "listen"):
        line = lines.index("    %s: " % field + {"trunk": "trunk.example.com",
                                                 "ring_timeout": "forever",
                                                 "rtp_ports": "5-3",
                                                 "listen": "nowhere"}[field]) + 1
        assert re.search(r"opsbell\.yaml:%d:\d+: sip %s" % (line, field), out), (field, out)


def test_max_call_duration_ends_a_call_without_keys(env, admin_token, peers):
    bob = Baresip(env, answermode="auto")
    peers.append(bob)
    configure(env, bob_uri=bob.uri)
    env.extra_main = env.extra_main.replace("max_call: 40s", "max_call: 5s")
    env.write_main()
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-maxcall")
    bob.wait_event("CALL_ESTABLISHED")
    wait_for(lambda: settled(d, admin_token, iid), 30, "the call's outcome")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "answered", rows
    assert "maximum call duration" in rows[0]["detail"], rows
    bob.wait_event("CALL_CLOSED")
    assert incident(d, admin_token, iid)["status"] == "triggered"
    assert_alive(d)


# ---- through a registrar and outbound proxy: kamailio ----------------------

def test_call_through_kamailio_registrar_with_proxy_auth(env, admin_token, peers):
    kam = Kamailio(env, "opsbell", PASSWORD)
    peers.append(kam)
    bob = Baresip(env, answermode="auto", registrar=kam.address)
    peers.append(bob)
    # Registered before ctrl_tcp was connected, so no event: its log says so.
    wait_for(lambda: "200 OK" in bob.peer.log_text() and "binding" in bob.peer.log_text(), 20,
             "baresip registered with kamailio")
    configure(env, bob_uri="sip:bob@%s" % kam.address)
    env.extra_main += "    outbound_proxy: sip:%s\n" % kam.address
    env.write_main()
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-kamailio")
    bob.wait_event("CALL_ESTABLISHED")
    bob.command("sndcode", "1")
    wait_for(lambda: incident(d, admin_token, iid)["status"] == "acknowledged", 15,
             "acknowledged through kamailio")
    assert "bob" in incident(d, admin_token, iid)["acknowledged_by"]
    wait_for(lambda: settled(d, admin_token, iid), 15, "the call's outcome")
    assert notifications(d, admin_token, iid)[0]["state"] == "acknowledged"
    log = kam.peer.log_text()
    assert "challenging opsbell" in log and "authenticated opsbell" in log, log[-3000:]
    assert_no_password(d)
    assert_alive(d)


def test_shutdown_mid_call_hangs_up_and_exits(env, admin_token, peers):
    bob = Baresip(env, answermode="auto")
    peers.append(bob)
    configure(env, bob_uri=bob.uri)
    d = start(env, admin_token)
    iid = trigger(d, admin_token, "svc-bob", "sip-shutdown")
    bob.wait_event("CALL_ESTABLISHED")
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(15)
    assert d.proc.returncode == 0, d.log_text()[-4000:]
    bob.wait_event("CALL_CLOSED")  # our BYE reached the phone
    assert "hung up at shutdown" in d.log_text()
    # The call's end is recorded if the dispatcher got to it before it
    # stopped; otherwise the row stays `sending` and the lease retries it.
    # Either way one attempt, never lost, never placed twice.
    d2 = env.daemon()
    rows = notifications(d2, admin_token, iid)
    assert rows[0]["attempts"] == 1, rows
    assert rows[0]["state"] in ("answered", "sending"), rows
    if rows[0]["state"] == "answered":
        assert "hung up at shutdown" in rows[0]["detail"], rows
    assert_alive(d2)


def test_verification_call_speaks_the_code_and_hangs_up(env, admin_token, peers):
    bob = Baresip(env, answermode="auto")
    peers.append(bob)
    configure(env, bob_uri=bob.uri)
    d = env.daemon()  # nothing trusted: bob's SIP URI is not verified yet
    r = d.request("POST", "/api/v1/users/bob/verifications",
                  {"type": "sip", "address": bob.uri}, token=admin_token)
    assert r.status == 202 and r.body["provider"] == "sip", r
    bob.wait_event("CALL_ESTABLISHED")
    # The code is said (twice) and the agent hangs up by itself.
    bob.wait_event("CALL_CLOSED", timeout=60)
    assert "hung up after the last words" in d.log_text()
    assert_alive(d)
