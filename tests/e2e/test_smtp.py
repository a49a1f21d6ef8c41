"""The `smtp` provider end to end against a local SMTP sink started by the
test (a small responder on socketserver: EHLO/HELO, AUTH PLAIN, MAIL,
RCPT, DATA, RSET, NOOP, QUIT): a page to an e-mail contact method arrives
with its headers and both parts after AUTH with the password given as an
env: reference; a recipient the server refuses with 550 is failed-permanent
and the user's next contact method is paged; a server that drops the
connection in the middle of a message is a temporary failure, retried until
the message is accepted.

Deliveries to other contact types are observed through the `log` provider."""

import base64
import email
import email.policy
import socketserver
import threading

import pytest

from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import notifications_settled as final
from e2e_support import trigger_incident
from e2e_support import wait_for

PASSWORD = "smtp-pass-0123456789"

USERS = """\
users:
  - name: ann
    contact_methods:
      - {type: email, address: ann@example.com}
    notification_rules:
      - {type: email, after: 0s}
  - name: bob
    contact_methods:
      - {type: email, address: bounce@example.com}
      - {type: voice, address: "+4930555000"}
    notification_rules:
      - {type: email, after: 0s}
  - name: cid
    contact_methods:
      - {type: email, address: drop@example.com}
    notification_rules:
      - {type: email, after: 0s}
"""

TEAM = """\
team:
  description: SMTP tests
  members: [ann, bob, cid]
services:
  - {name: svc-ann, escalation_policy: pol-ann}
  - {name: svc-bob, escalation_policy: pol-bob}
  - {name: svc-cid, escalation_policy: pol-cid}
escalation_policies:
  - name: pol-ann
    steps: [{delay: 1h, targets: {users: [ann]}}]
  - name: pol-bob
    steps: [{delay: 1h, targets: {users: [bob]}}]
  - name: pol-cid
    steps: [{delay: 1h, targets: {users: [cid]}}]
"""


class Sink:
    """An SMTP server on 127.0.0.1 that records every accepted message
    (envelope and bytes) and every AUTH PLAIN credential, answers 550 to
    RCPT TO a recipient in `reject`, and closes the connection in the middle
    of the first `drop_times` messages to a recipient in `drop`."""

    def __init__(self, reject=(), drop=(), drop_times=2):
        self.lock = threading.Lock()
        self.messages = []  # (mail_from, [rcpt], bytes)
        self.auths = []     # (user, password)
        self.reject = set(reject)
        self.drop = set(drop)
        self.drop_times = drop_times
        self.dropped = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def auth_plain(self, b64):
                try:
                    _, user, password = base64.b64decode(b64).split(b"\0")
                except ValueError:
                    self.reply("501 bad AUTH PLAIN")
                    return
                with sink.lock:
                    sink.auths.append((user.decode(), password.decode()))
                self.reply("235 ok")

            def handle(self):
                mail_from, rcpts = None, []
                self.reply("220 sink ESMTP")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-sink")
                        self.reply("250-AUTH PLAIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 sink")
                    elif verb == "AUTH":
                        parts = line.split()
                        if len(parts) < 2 or parts[1].upper() != "PLAIN":
                            self.reply("504 unsupported")
                        elif len(parts) == 3:
                            self.auth_plain(parts[2])
                        else:
                            self.reply("334 ")
                            self.auth_plain(self.rfile.readline().strip())
                    elif verb == "MAIL":
                        mail_from, rcpts = line[10:].strip(), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        to = line[8:].strip()
                        if to.strip("<>") in sink.reject:
                            self.reply("550 5.1.1 mailbox unavailable")
                        else:
                            rcpts.append(to)
                            self.reply("250 ok")
                    elif verb == "DATA":
                        if not rcpts:
                            self.reply("503 no valid recipients")
                            continue
                        self.reply("354 go ahead")
                        with sink.lock:
                            drop = (any(r.strip("<>") in sink.drop for r in rcpts) and
                                    sink.dropped < sink.drop_times)
                            sink.dropped += drop
                        if drop:
                            self.rfile.readline()  # the first line of the message, then gone
                            return
                        data = []
                        while True:
                            l = self.rfile.readline()
                            if not l or l == b".\r\n":
                                break
                            data.append(l[1:] if l.startswith(b".") else l)
                        with sink.lock:
                            sink.messages.append((mail_from, rcpts, b"".join(data)))
                        self.reply("250 queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 ok")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 unknown command")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    s = Sink(reject={"bounce@example.com"}, drop={"drop@example.com"})
    yield s
    s.close()


def configure(env, sink):
    env.write("users.yaml", USERS)
    env.write("teams/mail/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_SMTP_PASSWORD"] = PASSWORD
    env.extra_main = ("providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  smtp:\n"
                      "    url: smtp://127.0.0.1:%d\n"
                      "    username: opsbell\n"
                      "    password: env:OPSBELL_TEST_SMTP_PASSWORD\n"
                      "    from_address: pager@example.org\n"
                      "engine:\n  retry_base: 200ms\n  max_attempts: 3\n" % sink.port)
    env.write_main()
    return env.dir / "deliveries.jsonl"


def trigger(daemon, token, service, summary, key):
    return trigger_incident(daemon, token, service, key, summary=summary, severity="critical")


def test_email_page_arrives_with_headers_and_both_parts(env, admin_token, sink):
    log = configure(env, sink)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-ann", "db <primary> & replica down", "mail-1")
    wait_for(lambda: final(notifications(d, admin_token, iid)), 20, "the e-mail settled")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1, rows
    assert rows[0]["type"] == "email" and rows[0]["state"] == "delivered", rows
    assert rows[0]["provider"] == "smtp" and rows[0]["attempts"] == 1, rows
    assert deliveries(log, iid) == []

    msgs = sink.received()
    assert len(msgs) == 1, msgs
    mail_from, rcpts, data = msgs[0]
    assert mail_from == "<pager@example.org>" and rcpts == ["<ann@example.com>"]
    assert sink.auths == [("opsbell", PASSWORD)]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["From"] == "opsbell <pager@example.org>"
    assert msg["To"] == "ann@example.com" or msg["To"] == "<ann@example.com>", msg["To"]
    assert msg["Subject"] == "[opsbell] #%d db <primary> & replica down" % iid
    assert msg["Date"] and msg["Message-ID"] and msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}, parts
    link = "/api/v1/incidents/%d" % iid
    text, html = parts["text/plain"], parts["text/html"]
    for field in ("triggered", "critical", "svc-ann", "#%d" % iid, link):
        assert field in text and field in html, (field, text, html)
    assert "Team:     mail" in text and "<td>mail</td>" in html, (text, html)
    assert "db <primary> & replica down" in text
    assert "db &lt;primary&gt; &amp; replica down" in html and "<primary>" not in html


def test_550_is_permanent_and_the_next_contact_method_is_paged(env, admin_token, sink):
    log = configure(env, sink)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-bob", "bounce", "mail-2")
    wait_for(lambda: len(deliveries(log, iid)) >= 1, 20, "the next contact method paged")
    wait_for(lambda: final(notifications(d, admin_token, iid)), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 2, rows
    assert rows[0]["type"] == "email" and rows[0]["state"] == "failed-permanent", rows
    assert rows[0]["provider"] == "smtp" and rows[0]["attempts"] == 1, rows
    assert "550" in rows[0]["detail"], rows
    assert rows[1]["type"] == "voice" and rows[1]["state"] == "delivered", rows
    assert [(x["user"], x["type"]) for x in deliveries(log, iid)] == [("bob", "voice")]
    assert sink.received() == []


def test_a_dropped_connection_is_retried_until_the_message_is_accepted(env, admin_token, sink):
    configure(env, sink)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-cid", "dropped", "mail-3")
    wait_for(lambda: final(notifications(d, admin_token, iid)), 20, "the page settled")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1, rows
    assert rows[0]["state"] == "delivered" and rows[0]["attempts"] == 3, rows
    assert sink.dropped == 2
    (msg,) = [m for m in sink.received() if "<drop@example.com>" in m[1]]
    assert b"dropped" in msg[2]
    kinds = [e["kind"] for e in d.get("/api/v1/incidents/%d" % iid, token=admin_token).body[
        "timeline"]]
    assert kinds.count("notification.retry") == 2, kinds
