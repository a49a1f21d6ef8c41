"""A local stand-in for Slack, for end-to-end tests (standard library only).

Two halves:

* SlackStandin - an HTTP server on 127.0.0.1 that speaks the part of the
  Slack Web API opsbell uses, in Slack's wire format:
    POST /api/chat.postMessage, POST /api/chat.update
      Authorization: Bearer <bot token>  (absent: not_authed; wrong: invalid_auth)
      Content-Type: application/json, a JSON object body (else invalid_json /
      invalid_arguments / invalid_blocks, as Slack answers: HTTP 200 + ok:false)
      -> {"ok": true, "channel": "D…", "ts": "1712345678.000100", "message": {...}}
    Posting to a user id (U…/W…) answers with the bot's DM channel with that
    user ("D" + the rest of the id), like Slack.  chat.update needs a message
    that exists (message_not_found) and answers with the same channel and ts.
    POST /respond/<name> - a response_url: records every post.
    GET (or POST) /api/team.accessLogs - the access logs of the workspace, as
      Slack serves them: Authorization: Bearer <admin user token> (absent:
      not_authed; the bot token: not_allowed_token_type; other: invalid_auth),
      `count` (1..1000, default 100; more: over_pagination_limit), `before`
      (only logins whose date_first <= before), cursor pagination (`cursor`:
      response_metadata.next_cursor of the previous page; "" on the last) and
      classic `page` / paging {count, total, page, pages}.  The logins are
      `access_logins` (newest first, as Slack orders them); `access_page_size`
      caps a page below `count` so that tests see several pages.  Scripted
      answers (`access_script`, one per request): ("ratelimited", seconds) is
      HTTP 429 {"ok":false,"error":"ratelimited"} with Retry-After; ("error",
      code) is HTTP 200 ok:false; ("malformed", text) sends text as the body;
      ("http", status) an HTTP error.  Every request is in `access_calls`.
  Every API call is recorded (method, channel, body, the token's check) in
  `calls`; response_url posts in `responses`.  Failures are configurable:
  `channel_error(channel, "invalid_auth")` answers ok:false for that channel,
  `fail_next(kind, count, channel)` scripts the next calls: "429" (with
  Retry-After), "500", "slow" (answers after `delay` seconds), or any
  ok:false error code.

* The client half, used the way Slack calls opsbell: `sign()` computes the
  v0 signature, `send_interaction()` posts a signed block_actions payload
  (form body `payload=<json>`), `send_command()` a signed slash command
  (form fields), both with X-Slack-Request-Timestamp / X-Slack-Signature,
  and each lets a test forge, age or drop the headers.
"""

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOT_TOKEN = "xoxb-e2e-0000000000-test-bot-token"
ADMIN_TOKEN = "xoxp-e2e-0000000000-test-admin-user-token"
SIGNING_SECRET = "e2e-signing-secret-8f742231b10e"

# Slack's own documented example (api.slack.com "Verifying requests from Slack").
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def sign(secret, timestamp, body):
    """Slack's v0 signature of body (bytes or str) sent at timestamp."""
    if isinstance(body, str):
        body = body.encode()
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE


class SlackStandin:
    def __init__(self, token=BOT_TOKEN, signing_secret=SIGNING_SECRET,
                 admin_token=ADMIN_TOKEN):
        self.token = token
        self.admin_token = admin_token
        self.access_logins = []   # dicts as Slack's logins[], newest first
        self.access_page_size = None
        self.access_script = []   # scripted answers, one per request (see above)
        self.access_calls = []    # {"method", "query", "auth", "status", "answer"}
        self.signing_secret = signing_secret
        self.lock = threading.Lock()
        self.calls = []        # {"method", "channel", "body", "auth_ok", "answer", "status"}
        self.responses = []    # {"name", "body", "content_type"}
        self.messages = {}     # (channel, ts) -> the latest body
        self.channel_errors = {}  # channel (as posted) -> error code
        self.scripted = []     # [kind, count, channel or None, retry_after, delay]
        self._ts = itertools.count(100)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def send(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                if parts.path == "/api/team.accessLogs":
                    return standin._access_logs(self, "GET", parts.query)
                self.send(404, {"ok": False, "error": "unknown_method"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = urllib.parse.urlsplit(self.path)
                path = parts.path
                if path == "/api/team.accessLogs":
                    query = parts.query
                    if raw:
                        query = (query + "&" if query else "") + raw.decode("utf-8", "replace")
                    return standin._access_logs(self, "POST", query)
                if path.startswith("/respond/"):
                    return standin._respond(self, path[len("/respond/"):], raw)
                if path in ("/api/chat.postMessage", "/api/chat.update"):
                    return standin._api(self, path[len("/api/"):], raw)
                self.send(404, {"ok": False, "error": "unknown_method"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- addresses ----

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def api_url(self):
        return self.base + "/api"

    def response_url(self, name="r1"):
        return "%s/respond/%s" % (self.base, name)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- configuring failures ----

    def channel_error(self, channel, error):
        """Answer ok:false `error` to every call for channel (None: stop)."""
        with self.lock:
            if error is None:
                self.channel_errors.pop(channel, None)
            else:
                self.channel_errors[channel] = error

    def fail_next(self, kind, count=1, channel=None, retry_after=1, delay=0.0):
        """The next `count` calls (for channel, or any) fail with kind: "429",
        "500", "slow" (answered normally after `delay` s) or an error code."""
        with self.lock:
            self.scripted.append([kind, count, channel, retry_after, delay])

    # ---- reading what was received ----

    def api_calls(self, method=None, channel=None):
        with self.lock:
            return [c for c in self.calls
                    if (method is None or c["method"] == method)
                    and (channel is None or c["channel"] == channel)]

    def replies(self, name=None):
        with self.lock:
            return [r for r in self.responses if name is None or r["name"] == name]

    # ---- the server side ----

    def _take_script(self, channel):
        with self.lock:
            for s in self.scripted:
                if s[1] > 0 and (s[2] is None or s[2] == channel):
                    s[1] -= 1
                    return list(s)
        return None

    def _record(self, method, channel, body, auth_ok, status, answer):
        with self.lock:
            self.calls.append({"method": method, "channel": channel, "body": body,
                               "auth_ok": auth_ok, "status": status, "answer": answer})

    def _respond(self, h, name, raw):
        try:
            body = json.loads(raw.decode())
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self.lock:
            self.responses.append({"name": name, "body": body,
                                   "content_type": h.headers.get("Content-Type", "")})
        h.send(200, {"ok": True})

    @staticmethod
    def _validate(method, body):
        """The error code Slack would answer for a malformed body, or None."""
        if not isinstance(body, dict):
            return "invalid_arguments"
        if not isinstance(body.get("channel"), str) or not body["channel"]:
            return "channel_not_found"
        if method == "chat.update" and not isinstance(body.get("ts"), str):
            return "invalid_arguments"
        if not body.get("text") and not body.get("blocks"):
            return "no_text"
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for b in blocks:
            if not isinstance(b, dict) or not isinstance(b.get("type"), str):
                return "invalid_blocks"
            if b["type"] == "actions":
                els = b.get("elements")
                if not isinstance(els, list) or not 1 <= len(els) <= 25:
                    return "invalid_blocks"
                for e in els:
                    if e.get("type") != "button" or not isinstance(e.get("action_id"), str) \
                            or not isinstance(e.get("value"), str) \
                            or e.get("text", {}).get("type") != "plain_text" \
                            or e.get("style") not in (None, "primary", "danger"):
                        return "invalid_blocks"
            elif b["type"] == "section":
                t = b.get("text", {})
                if t.get("type") not in ("mrkdwn", "plain_text") or not t.get("text") \
                        or len(t["text"]) > 3000:
                    return "invalid_blocks"
        return None

    def _api(self, h, method, raw):
        auth = h.headers.get("Authorization")
        ctype = h.headers.get("Content-Type", "")
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        channel = body.get("channel") if isinstance(body, dict) else None
        auth_ok = auth == "Bearer " + self.token
        script = self._take_script(channel)
        if script is not None and script[0] == "slow":
            time.sleep(script[4])
            script = None
        if script is not None and script[0] == "429":
            answer = {"ok": False, "error": "ratelimited"}
            self._record(method, channel, body, auth_ok, 429, answer)
            return h.send(429, answer, {"Retry-After": str(script[3])})
        if script is not None and script[0] == "500":
            answer = {"ok": False, "error": "internal_error"}
            self._record(method, channel, body, auth_ok, 500, answer)
            return h.send(500, answer)
        if auth is None:
            error = "not_authed"
        elif not auth_ok:
            error = "invalid_auth"
        elif not ctype.startswith("application/json") or body is None:
            error = "invalid_json"
        elif script is not None:
            error = script[0]
        else:
            error = self._validate(method, body) or self.channel_errors.get(channel)
        if error is None and method == "chat.update":
            with self.lock:
                if (channel, body["ts"]) not in self.messages:
                    error = "message_not_found"
        if error is not None:
            answer = {"ok": False, "error": error}
            self._record(method, channel, body, auth_ok, 200, answer)
            return h.send(200, answer)
        if method == "chat.postMessage":
            dm = "D" + channel[1:] if channel[0] in "UW" else channel
            ts = "%d.%06d" % (int(time.time()), next(self._ts))
        else:
            dm, ts = channel, body["ts"]
        with self.lock:
            self.messages[(dm, ts)] = body
        answer = {"ok": True, "channel": dm, "ts": ts,
                  "message": {"text": body.get("text", ""), "ts": ts}}
        self._record(method, channel, body, auth_ok, 200, answer)
        h.send(200, answer)

    # ---- team.accessLogs ----

    def access_log_calls(self):
        with self.lock:
            return list(self.access_calls)

    def _access_answer(self, h, method, query, auth, status, answer, headers=None, raw=None):
        with self.lock:
            self.access_calls.append({"method": method, "query": query, "auth": auth,
                                      "status": status, "answer": answer})
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        h.send(status, answer, headers)

    def _access_logs(self, h, method, query_text):
        q = dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
        auth = h.headers.get("Authorization")
        with self.lock:
            script = self.access_script.pop(0) if self.access_script else None
        if script is not None and script[0] == "ratelimited":
            return self._access_answer(h, method, q, auth, 429,
                                       {"ok": False, "error": "ratelimited"},
                                       {"Retry-After": str(script[1])})
        if script is not None and script[0] == "http":
            return self._access_answer(h, method, q, auth, script[1],
                                       {"ok": False, "error": "internal_error"})
        if auth is None or not auth.startswith("Bearer "):
            error = "not_authed"
        elif auth == "Bearer " + self.token:
            error = "not_allowed_token_type"  # a bot token: team.accessLogs wants a user token
        elif auth != "Bearer " + self.admin_token:
            error = "invalid_auth"
        elif script is not None and script[0] == "error":
            error = script[1]
        else:
            error = None
        if error is None and script is not None and script[0] == "malformed":
            return self._access_answer(h, method, q, auth, 200, None, raw=script[1])
        try:
            count = int(q.get("count") or 100)
            page = int(q.get("page") or 1)
            before = int(q["before"]) if q.get("before") not in (None, "", "now") else None
        except ValueError:
            count, page, before = 0, 0, None
        if error is None and not (1 <= count <= 1000 and 1 <= page <= 100):
            error = "over_pagination_limit" if count > 1000 or page > 100 \
                else "invalid_arguments"
        if error is not None:
            return self._access_answer(h, method, q, auth, 200, {"ok": False, "error": error})
        with self.lock:
            logins = [dict(l) for l in self.access_logins
                      if before is None or l["date_first"] <= before]
        size = min(count, self.access_page_size or count)
        cursor = q.get("cursor")
        if cursor:
            try:
                offset = int(base64.b64decode(cursor.encode()).decode().split(":", 1)[1])
            except (ValueError, IndexError, UnicodeDecodeError):
                return self._access_answer(h, method, q, auth, 200,
                                           {"ok": False, "error": "invalid_cursor"})
        else:
            offset = (page - 1) * size
        chunk = logins[offset:offset + size]
        more = offset + size < len(logins)
        next_cursor = base64.b64encode(("offset:%d" % (offset + size)).encode()).decode() \
            if more else ""
        pages = max(1, (len(logins) + size - 1) // size)
        answer = {"ok": True, "logins": chunk,
                  "paging": {"count": size, "total": len(logins),
                             "page": offset // size + 1, "pages": pages},
                  "response_metadata": {"next_cursor": next_cursor}}
        return self._access_answer(h, method, q, auth, 200, answer)

    # ---- the client side: requests signed as Slack signs them ----

    def sign(self, timestamp, body):
        return sign(self.signing_secret, timestamp, body)

    def post_signed(self, opsbell_url, path, body, timestamp=None, signature=None,
                    drop=(), content_type="application/x-www-form-urlencoded"):
        """POST body (bytes/str) to opsbell as Slack does. timestamp: seconds
        (default now); signature: a forged one (default: the right one);
        drop: header names to leave out. Returns e2e_support.Reply."""
        from e2e_support import http_request
        if isinstance(body, str):
            body = body.encode()
        ts = str(int(time.time()) if timestamp is None else int(timestamp))
        headers = {"X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": signature or self.sign(ts, body)}
        for name in drop:
            headers.pop(name, None)
        return http_request(opsbell_url, "POST", path, body=body, headers=headers,
                            content_type=content_type)

    def send_interaction(self, opsbell_url, payload, **kw):
        """A signed POST /slack/interactions with form body payload=<json>.
        payload: dict (JSON-encoded) or str (sent as is, for malformed ones)."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        body = urllib.parse.urlencode({"payload": text})
        return self.post_signed(opsbell_url, "/slack/interactions", body, **kw)

    def send_command(self, opsbell_url, command, text, user_id, response_url=None,
                     path="/slack/commands", **kw):
        """A signed slash command, with the fields Slack sends."""
        fields = {"token": "deprecated-verification-token", "team_id": "T0E2E0001",
                  "team_domain": "e2e", "channel_id": "C0OPS0001", "channel_name": "ops",
                  "user_id": user_id, "user_name": user_id.lower(), "command": command,
                  "text": text, "api_app_id": "A0E2E0001",
                  "response_url": response_url or self.response_url("cmd"),
                  "trigger_id": new_trigger_id()}
        return self.post_signed(opsbell_url, path, urllib.parse.urlencode(fields), **kw)


def new_trigger_id():
    """Slack gives every command and every button press its own trigger_id
    (so no two requests have the same body, nor the same signature)."""
    return "%d.%d.%s" % (int(time.time() * 1000), secrets.randbelow(10 ** 9),
                         secrets.token_hex(16))


def send_mattermost_command(opsbell_url, token, command, text, user_id, response_url=None,
                            path="/slack/commands", body=None):
    """A Mattermost custom slash command: a form POST with the command's
    token in it, unsigned (Mattermost signs nothing). body: sent as is
    instead of the fields (for malformed ones)."""
    from e2e_support import http_request
    if body is None:
        fields = {"channel_id": "mmchannel0000000000000001", "channel_name": "ops",
                  "command": command, "response_url": response_url or "",
                  "team_domain": "e2e", "team_id": "mmteam000000000000000001",
                  "text": text, "token": token, "trigger_id": "mmtrigger", "user_id": user_id,
                  "user_name": "someone"}
        body = urllib.parse.urlencode(fields)
    return http_request(opsbell_url, "POST", path, body=body,
                        content_type="application/x-www-form-urlencoded")

def access_login(user_id, ip, date_last, date_first=None, user_agent="Mozilla/5.0 (e2e)"):
    """One entry of team.accessLogs' logins[], shaped like Slack's."""
    return {"user_id": user_id, "username": user_id.lower(), "date_first": date_first or date_last,
            "date_last": date_last, "count": 3, "ip": ip, "user_agent": user_agent,
            "isp": "E2E Networks", "country": "DE", "region": "BE"}


def block_actions_payload(user_id, action_id, value, response_url, channel="D0ANN0001",
                          message_ts="1712345678.000100", block_id="opsbell_incident"):
    """A block_actions payload shaped like the one Slack sends for a button."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
                 "team_id": "T0E2E0001"},
        "api_app_id": "A0E2E0001",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                      "is_ephemeral": False},
        "trigger_id": new_trigger_id(),
        "team": {"id": "T0E2E0001", "domain": "e2e"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": message_ts, "text": "opsbell"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id,
                     "text": {"type": "plain_text", "text": action_id, "emoji": True},
                     "value": value, "type": "button",
                     "action_ts": "%.6f" % time.time()}],
    }
