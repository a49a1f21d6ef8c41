"""The dispatcher's guarantees end to end, with the webhook provider and a
local receiver started by the test: signed requests (verified the way a
receiver would), retries with backoff on 5xx, a permanent failure moving on
to the user's next contact method, the per-address rate limit, and a
kill -9 in the middle of a webhook call (retried as a new attempt, sent
exactly once more).

Deliveries to other contact types are observed through the `log` provider."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from e2e_support import incident_notifications as notifications
from e2e_support import log_deliveries as deliveries
from e2e_support import metric_value
from e2e_support import notifications_settled as final
from e2e_support import trigger_incident as trigger
from e2e_support import wait_for

SECRET = "whsec-test-0123456789"

USERS = """\
users:
  - name: flaky
    contact_methods:
      - {type: webhook, address: "%(url)s/flaky"}
      - {type: email, address: flaky@example.com}
    notification_rules:
      - {type: webhook, after: 0s}
  - name: gone
    contact_methods:
      - {type: webhook, address: "%(url)s/gone"}
      - {type: voice, address: "+4930555000"}
      - {type: email, address: gone@example.com}
    notification_rules:
      - {type: webhook, after: 0s}
  - name: hang
    contact_methods:
      - {type: webhook, address: "%(url)s/hang"}
    notification_rules:
      - {type: webhook, after: 0s}
  - name: victor
    contact_methods:
      - {type: voice, address: "+4930777000"}
    notification_rules:
      - {type: voice, after: 0s}
  - name: olga
    contact_methods:
      - {type: webhook, address: "%(url)s/ok"}
    notification_rules:
      - {type: webhook, after: 0s}
"""

TEAM = """\
team:
  description: Dispatcher tests
  members: [flaky, gone, hang, victor, olga]
services:
  - {name: svc-flaky, escalation_policy: pol-flaky}
  - {name: svc-gone, escalation_policy: pol-gone}
  - {name: svc-hang, escalation_policy: pol-hang}
  - {name: svc-victor, escalation_policy: pol-victor}
  - {name: svc-olga, escalation_policy: pol-olga}
escalation_policies:
  - name: pol-flaky
    steps: [{delay: 1h, targets: {users: [flaky]}}]
  - name: pol-gone
    steps: [{delay: 1h, targets: {users: [gone]}}]
  - name: pol-hang
    steps: [{delay: 1h, targets: {users: [hang]}}]
  - name: pol-victor
    steps: [{delay: 1h, targets: {users: [victor]}}]
  - name: pol-olga
    steps: [{delay: 1h, targets: {users: [olga]}}]
"""


class Receiver:
    """A webhook receiver: verifies every request's signature (constant-time
    compare, timestamp within 5 minutes), counts requests per path, and
    answers per path: /flaky 500, 500, then 200; /gone 404; /hang sleeps
    `hang_seconds` on the first request, then 200."""

    def __init__(self, hang_seconds=8.0):
        self.lock = threading.Lock()
        self.requests = {}
        self.arrivals = {}
        self.bad_signatures = 0
        self.hang_seconds = hang_seconds
        self.hanging = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = receiver.verify(self.headers, body)
                with receiver.lock:
                    if not ok:
                        receiver.bad_signatures += 1
                    n = len(receiver.requests.setdefault(self.path, []))
                    receiver.requests[self.path].append(json.loads(body))
                    receiver.arrivals.setdefault(self.path, []).append(time.monotonic())
                status = 200
                if not ok:
                    status = 401
                elif self.path == "/flaky":
                    status = 500 if n < 2 else 200
                elif self.path == "/gone":
                    status = 404
                elif self.path == "/hang" and n == 0:
                    receiver.hanging.set()
                    time.sleep(receiver.hang_seconds)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def verify(headers, body):
        ts = headers.get("X-Opsbell-Timestamp", "")
        sig = headers.get("X-Opsbell-Signature", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300 or not sig.startswith("v1="):
            return False
        want = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, sig[3:])

    def count(self, path):
        with self.lock:
            return len(self.requests.get(path, []))

    def bodies(self, path):
        with self.lock:
            return list(self.requests.get(path, []))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def configure(env, receiver, limits=""):
    env.write("users.yaml", USERS % {"url": receiver.url})
    env.write("teams/disp/team.yaml", TEAM)
    (env.dir / "teams" / "alpha" / "team.yaml").unlink()
    (env.dir / "teams" / "beta" / "team.yaml").unlink()
    env.env_vars["OPSBELL_TEST_WEBHOOK_SECRET"] = SECRET
    env.extra_main = ("providers:\n"
                      "  log:\n    path: deliveries.jsonl\n"
                      "  webhook:\n"
                      "    signing_secret: env:OPSBELL_TEST_WEBHOOK_SECRET\n"
                      "    retry_base: 1s\n" + limits)
    env.write_main()
    return env.dir / "deliveries.jsonl"


def incident(daemon, token, iid):
    r = daemon.get("/api/v1/incidents/%d" % iid, token=token)
    assert r.status == 200, r
    return r.body


def test_webhook_retries_5xx_with_backoff_until_delivered(env, admin_token, receiver):
    configure(env, receiver)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-flaky", "flaky-1")
    wait_for(lambda: any(n["state"] == "delivered" for n in notifications(d, admin_token, iid)),
             20, "the webhook delivered")
    rows = notifications(d, admin_token, iid)
    assert len(rows) == 1, rows  # retried as the same row, not new ones
    assert rows[0]["type"] == "webhook" and rows[0]["attempts"] == 3, rows
    assert rows[0]["provider"] == "webhook", rows
    bodies = receiver.bodies("/flaky")
    assert receiver.bad_signatures == 0
    assert [b["attempt"] for b in bodies] == [1, 2, 3], bodies
    for b in bodies:
        assert b["incident_id"] == iid and b["user"] == "flaky" and b["status"] == "triggered"
        assert b["service"] == "svc-flaky" and b["team"] == "disp" and b["summary"] == "flaky-1"
        assert b["link"].endswith("/api/v1/incidents/%d" % iid), b
    kinds = [e["kind"] for e in incident(d, admin_token, iid)["timeline"]]
    assert kinds.count("notification.retry") == 2 and "notification.delivered" in kinds, kinds
    # Backoff: 1 s, then 2 s (never earlier).
    t = receiver.arrivals["/flaky"]
    assert t[1] - t[0] >= 0.95 and t[2] - t[1] >= 1.95, t
    # The email was not needed.
    assert deliveries(env.dir / "deliveries.jsonl", iid) == []
    m = d.get("/metrics").text
    assert metric_value(m, "opsbell_notifications_total",
                        {"provider": "webhook", "outcome": "failed-temporary"}) == 2
    assert metric_value(m, "opsbell_notifications_total",
                        {"provider": "webhook", "outcome": "delivered"}) == 1
    assert metric_value(m, "opsbell_notification_first_attempt_seconds_count") >= 1


def test_webhook_404_is_permanent_and_the_next_contact_method_is_paged(env, admin_token,
                                                                       receiver):
    log = configure(env, receiver)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-gone", "gone-1")
    wait_for(lambda: len(deliveries(log, iid)) >= 1, 20, "the next contact method paged")
    rows = notifications(d, admin_token, iid)
    wait_for(lambda: final(notifications(d, admin_token, iid)), 10, "rows settled")
    rows = notifications(d, admin_token, iid)
    assert rows[0]["type"] == "webhook" and rows[0]["state"] == "failed-permanent", rows
    assert rows[0]["attempts"] == 1 and "404" in rows[0]["detail"], rows
    assert receiver.count("/gone") == 1
    # Next in the user's contact_methods order: the voice number.
    assert rows[1]["type"] == "voice" and rows[1]["state"] == "delivered", rows
    assert [(x["user"], x["type"]) for x in deliveries(log, iid)] == [("gone", "voice")]
    assert len(rows) == 2, rows


def test_rate_limit_per_address(env, admin_token, receiver):
    log = configure(env, receiver)
    d = env.daemon()
    ids = []
    for i in range(4):
        ids.append(trigger(d, admin_token, "svc-victor", "storm-%d" % i))
        iid = ids[-1]
        wait_for(lambda: final(notifications(d, admin_token, iid)) and
                 len(notifications(d, admin_token, iid)) == 1, 10, "page %d settled" % i)
    states = [notifications(d, admin_token, i)[0] for i in ids]
    assert [s["state"] for s in states] == ["delivered"] * 3 + ["failed-permanent"], states
    assert states[3]["detail"].startswith("rate limited: 3 in 15m"), states[3]
    assert len([x for x in deliveries(log) if x["user"] == "victor"]) == 3
    kinds = [e["kind"] for e in incident(d, admin_token, ids[3])["timeline"]]
    assert "notification.failed" in kinds, kinds
    m = d.get("/metrics").text
    assert metric_value(m, "opsbell_notifications_total",
                        {"provider": "log", "outcome": "rate-limited"}) == 1


def test_kill_during_a_webhook_call_retries_as_a_new_attempt(env, admin_token, receiver):
    configure(env, receiver)
    node = {"OPSBELL_NODE_ID": "dispatch-node-a"}
    d = env.daemon(env_vars=node)
    iid = trigger(d, admin_token, "svc-hang", "hang-1")
    assert receiver.hanging.wait(15), "the webhook call never started"
    rows = notifications(d, admin_token, iid)
    assert rows[0]["state"] == "sending" and rows[0]["attempts"] == 1, rows
    d.kill()
    d2 = env.daemon(env_vars=node)
    wait_for(lambda: notifications(d2, admin_token, iid)[0]["state"] == "delivered", 20,
             "the interrupted attempt retried and delivered")
    time.sleep(2.0)
    rows = notifications(d2, admin_token, iid)
    assert len(rows) == 1 and rows[0]["attempts"] == 2, rows
    assert receiver.count("/hang") == 2
    assert [b["attempt"] for b in receiver.bodies("/hang")] == [1, 2]
    events = incident(d2, admin_token, iid)["timeline"]
    kinds = [e["kind"] for e in events]
    assert "notification.retry" in kinds and "notification.delivered" in kinds, kinds
    assert any(e["kind"] == "notification.retry" and "interrupted" in json.dumps(e)
               for e in events), events


def test_webhook_follows_the_incident_after_the_page(env, admin_token, receiver):
    """A page that got through has a provider id; acknowledging and resolving
    the incident (any path) queue an update row that posts the new state."""
    configure(env, receiver)
    d = env.daemon()
    iid = trigger(d, admin_token, "svc-olga", "follow-1")
    wait_for(lambda: receiver.count("/ok") == 1, 10, "the page")
    wait_for(lambda: final(notifications(d, admin_token, iid)), 10, "the page recorded")
    page = notifications(d, admin_token, iid)[0]
    assert page["kind"] == "page" and page["external_id"] == str(page["id"]), page
    assert d.request("POST", "/api/v1/incidents/%d/ack" % iid, {}, token=admin_token).status == 200
    wait_for(lambda: receiver.count("/ok") == 2, 10, "the acknowledgement posted")
    assert d.request("POST", "/api/v1/incidents/%d/resolve" % iid, {},
                     token=admin_token).status == 200
    wait_for(lambda: receiver.count("/ok") == 3, 10, "the resolution posted")
    events = [b["event"] for b in receiver.bodies("/ok")]
    assert events == ["incident.notification", "incident.acknowledged", "incident.resolved"], events
    last = receiver.bodies("/ok")[2]
    assert last["incident_id"] == iid and last["status"] == "resolved", last
    assert receiver.bad_signatures == 0
    wait_for(lambda: final(notifications(d, admin_token, iid)), 10, "the update recorded")
    rows = notifications(d, admin_token, iid)
    assert [r["kind"] for r in rows] == ["page", "update"], rows  # one row, re-queued
    assert rows[1]["state"] == "delivered" and rows[1]["attempts"] == 1, rows
    assert rows[1]["seq"] == -page["id"], rows
    kinds = [e["kind"] for e in incident(d, admin_token, iid)["timeline"]]
    assert kinds.count("notification.updated") == 2, kinds


def test_a_hanging_webhook_does_not_hold_up_other_pages(env, admin_token, receiver):
    """Providers of one batch run at once: olga's page is delivered while
    hang's receiver is still sleeping on its first request."""
    receiver.hang_seconds = 6.0
    configure(env, receiver)
    d = env.daemon()
    hung = trigger(d, admin_token, "svc-hang", "hold-1")
    assert receiver.hanging.wait(15), "the webhook call never started"
    iid = trigger(d, admin_token, "svc-olga", "hold-2")
    wait_for(lambda: receiver.count("/ok") == 1, 4, "olga paged during the hanging call")
    assert notifications(d, admin_token, hung)[0]["state"] == "sending"
    wait_for(lambda: notifications(d, admin_token, iid)[0]["state"] == "delivered", 4,
             "olga's page recorded while the other call hangs")
    wait_for(lambda: notifications(d, admin_token, hung)[0]["state"] == "delivered", 15,
             "the hanging call finished")
