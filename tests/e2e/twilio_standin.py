"""A local stand-in for Twilio's REST API and for the phone network behind
it, speaking Twilio's documented wire format (standard library only).

REST API (what opsbell calls):
  POST /2010-04-01/Accounts/{AccountSid}/Calls.json     To, From, Url | Twiml,
       StatusCallback, StatusCallbackEvent (repeated), StatusCallbackMethod, Timeout
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json  To, From, Body
  HTTP basic auth AccountSid:AuthToken; otherwise 401 with Twilio's error
  JSON {"code": 20003, "message": "Authenticate", "more_info": ..., "status": 401}.
  201 with a JSON resource whose `sid` is "CA" or "SM" + 32 hex digits.

Failures, per destination number (`fail(number, kind, ...)`, consumed one
per request, then requests succeed): "invalid" (400, code 21211),
"error500" (500, code 20500), "ratelimit" (429, code 20429), "slow" (the
answer waits `slow_seconds`, longer than opsbell's request timeout).

Phone network: for each created call with a Url (or inline Twiml and a
StatusCallback), a thread plays the script set for its `To` number
(`script(number, ...)`); an inline-Twiml call is answered and completed
without a conversation:
  "press:<keys>"  answer, fetch Url, press each key at the <Gather> in turn
  "silent"        answer, fetch Url, press nothing (follow <Redirect>s until <Hangup>)
  "busy" / "no-answer" / "failed" / "canceled"   never answered
Every request to opsbell (Url, Gather action, StatusCallback) is a POST
signed as Twilio signs: X-Twilio-Signature = base64(HMAC-SHA1(AuthToken,
URL + params sorted by name, each name then value)).  The Gather action is
resolved against the document's URL.  StatusCallbacks follow the events
asked for: initiated, ringing, then in-progress (answered) and the final
CallStatus, each with CallSid, AccountSid, From, To, Direction=outbound-api.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2010-04-01/Accounts/"

ERRORS = {
    "invalid": (400, 21211, "The 'To' number is not a valid phone number."),
    "error500": (500, 20500, "Internal Server Error"),
    "ratelimit": (429, 20429, "Too Many Requests"),
}


def signature(token, url, params):
    """Twilio's X-Twilio-Signature of a POST to url with params (pairs)."""
    data = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def post_form(url, params, sig=None, timeout=10.0, raw_body=None):
    """POST form params (pairs) to url with X-Twilio-Signature sig (None:
    no header): (status, content type, body text)."""
    body = raw_body if raw_body is not None else urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if sig is not None:
        req.add_header("X-Twilio-Signature", sig)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


class Standin:
    def __init__(self, account_sid, auth_token, slow_seconds=3.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.calls = []       # every Calls.json request that was created: dict
        self.messages = []    # every created message: dict
        self.requests = []    # (resource, To, status) of every API request
        self.unauthorized = 0
        self.failures = {}    # number -> [kind, ...]
        self.scripts = {}     # number -> script
        self.callbacks = []   # (url, params, signature, status, body) sent to opsbell
        self.threads = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def error(self, status, code, message):
                self.reply(status, {"code": code, "message": message, "status": status,
                                    "more_info": "https://www.twilio.com/docs/errors/%d" % code})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                params = urllib.parse.parse_qsl(body, keep_blank_values=True)
                try:
                    standin.api_request(self, self.path, self.headers.get("Authorization"),
                                        params)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # opsbell gave up waiting ("slow")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- test controls ----

    def fail(self, number, *kinds):
        with self.lock:
            self.failures.setdefault(number, []).extend(kinds)

    def script(self, number, script):
        with self.lock:
            self.scripts[number] = script

    def sign(self, url, params):
        return signature(self.auth_token, url, params)

    def calls_to(self, number):
        """Calls placed for pages (with a Url), not verification calls."""
        with self.lock:
            return [c for c in self.calls if c["To"] == number and "Url" in c]

    def messages_to(self, number):
        """Messages other than verification codes."""
        with self.lock:
            return [m for m in self.messages
                    if m["To"] == number and "verification code" not in m["Body"]]

    def code_for(self, number):
        """The last verification code sent to number: by SMS (in the Body),
        or by a call whose Twiml says it digit by digit."""
        code = None
        with self.lock:
            for c in self.calls:
                m = re.search(r"code is ((?:\d ){5}\d)", c.get("Twiml", ""))
                if c["To"] == number and m:
                    code = m.group(1).replace(" ", "")
            for msg in self.messages:
                m = re.search(r"code is (\d{6})", msg["Body"])
                if msg["To"] == number and m:
                    code = m.group(1)
        return code

    def verification_calls(self, number):
        with self.lock:
            return [c for c in self.calls if c["To"] == number and "Twiml" in c]

    def callbacks_to(self, pattern):
        with self.lock:
            return [c for c in self.callbacks if re.search(pattern, c[0])]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        for t in self.threads:
            t.join(30)

    # ---- REST API ----

    def api_request(self, h, path, authorization, params):
        expected = "Basic " + base64.b64encode(
            ("%s:%s" % (self.account_sid, self.auth_token)).encode()).decode()
        if authorization is None or not hmac.compare_digest(authorization, expected):
            with self.lock:
                self.unauthorized += 1
            h.send_response(401)
            data = json.dumps({"code": 20003, "message": "Authenticate", "status": 401,
                               "more_info": "https://www.twilio.com/docs/errors/20003"}).encode()
            h.send_header("Content-Type", "application/json")
            h.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        m = re.fullmatch(re.escape(API_PREFIX) + r"([^/]+)/(Calls|Messages)\.json", path)
        if m is None or m.group(1) != self.account_sid:
            h.error(404, 20404, "The requested resource %s was not found" % path)
            return
        resource = m.group(2)
        fields = {}
        for k, v in params:
            fields.setdefault(k, []).append(v)
        one = {k: v[0] for k, v in fields.items()}
        to = one.get("To", "")
        with self.lock:
            queue = self.failures.get(to, [])
            kind = queue.pop(0) if queue else None
            self.requests.append((resource, to, kind or "created"))
        if kind == "slow":
            time.sleep(self.slow_seconds)
            kind = None
            # Twilio would have created it; opsbell gave up: nothing is kept.
            h.error(503, 20503, "Service Unavailable (too late)")
            return
        if kind is not None:
            status, code, message = ERRORS[kind]
            h.error(status, code, message)
            return
        if not to or "From" not in one:
            h.error(400, 21201 if not to else 21603, "A 'To' and a 'From' are required.")
            return
        if resource == "Calls":
            if "Url" not in one and "Twiml" not in one:
                h.error(400, 21205, "Url parameter is required.")
                return
            sid = "CA" + secrets.token_hex(16)
            call = dict(one, sid=sid, StatusCallbackEvent=fields.get("StatusCallbackEvent", []),
                        fields=params, documents=[], answers=[])
            with self.lock:
                self.calls.append(call)
                script = self.scripts.get(to)
            h.reply(201, {"sid": sid, "account_sid": self.account_sid, "to": to,
                          "from": one["From"], "status": "queued",
                          "uri": API_PREFIX + "%s/Calls/%s.json" % (self.account_sid, sid)})
            if ("Url" in one or "StatusCallback" in one) and script is not None:
                t = threading.Thread(target=self.play, args=(call, script), daemon=True)
                with self.lock:
                    self.threads.append(t)
                t.start()
        else:
            if "Body" not in one:
                h.error(400, 21602, "Message body is required.")
                return
            sid = "SM" + secrets.token_hex(16)
            with self.lock:
                self.messages.append(dict(one, sid=sid))
            h.reply(201, {"sid": sid, "account_sid": self.account_sid, "to": to,
                          "from": one["From"], "body": one["Body"], "status": "queued"})

    # ---- the phone network ----

    def signed_post(self, url, params):
        sig = self.sign(url, params)
        status, ctype, body = post_form(url, params, sig)
        with self.lock:
            self.callbacks.append((url, params, sig, status, body))
        return status, ctype, body

    def call_params(self, call, status):
        return [("AccountSid", self.account_sid), ("CallSid", call["sid"]),
                ("From", call["From"]), ("To", call["To"]), ("CallStatus", status),
                ("Direction", "outbound-api"), ("ApiVersion", "2010-04-01")]

    def status_callback(self, call, event, status, extra=()):
        if "StatusCallback" not in call or event not in call["StatusCallbackEvent"]:
            return
        params = self.call_params(call, status) + [("CallbackSource", "call-progress-events")]
        self.signed_post(call["StatusCallback"], params + list(extra))

    def play(self, call, script):
        self.status_callback(call, "initiated", "initiated")
        self.status_callback(call, "ringing", "ringing")
        if script in ("busy", "no-answer", "failed", "canceled"):
            self.status_callback(call, "completed", script)
            return
        self.status_callback(call, "answered", "in-progress")
        keys = list(script[len("press:"):]) if script.startswith("press:") else []
        url, params = call.get("Url"), self.call_params(call, "in-progress")
        for _ in range(20 if url else 0):  # a bounded conversation (none for inline Twiml)
            status, _, body = self.signed_post(url, params)
            call["documents"].append((url, status, body))
            if status != 200:
                break
            try:
                doc = ET.fromstring(body)
            except ET.ParseError:
                break
            gather = doc.find("Gather")
            redirect = doc.find("Redirect")
            if gather is not None and keys:
                url = urllib.parse.urljoin(url, gather.get("action"))
                params = self.call_params(call, "in-progress") + [("Digits", keys.pop(0))]
                call["answers"].append(url)
                continue
            if doc.find("Hangup") is not None or redirect is None:
                break
            # No key: Twilio goes on to the verb after <Gather>.
            url = urllib.parse.urljoin(url, redirect.text.strip())
            params = self.call_params(call, "in-progress")
        self.status_callback(call, "completed", "completed", [("CallDuration", "12")])
