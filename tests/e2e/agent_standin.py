"""A stand-in for the opsbell server's agent endpoints (docs/AGENT.md, "The
protocol"), for tests/e2e/test_agent.py.

    GET  /api/v1/agent/state    Bearer token checked; ETag "<sha256 hex of the
                                body>"; If-None-Match equal to it: 304
    POST /api/v1/agent/report   Bearer token checked; the JSON body is recorded; 204

It runs where the agent runs (inside the "server" network namespace, whose
loopback the test process cannot reach), so it is driven through files in
its directory, read anew on every request:

    token        the agent token it accepts (no trailing newline)
    state.json   the body it serves, byte for byte (missing: 500)
    status       optional: a status code to answer every GET with instead
                 (401, 403, 500 ...), with {"error": "..."}; "hang": never answer
    requests.jsonl, reports.jsonl   appended, one JSON object per line

Usage: python3 agent_standin.py DIR   (prints "listening PORT" when ready)
Standard library only.
"""

import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1] if len(sys.argv) > 1 else "."


def _read(name):
    try:
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _append(name, obj):
    with open(os.path.join(DIR, name), "a") as f:
        f.write(json.dumps(obj) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if code not in (204, 304) and body:
            self.wfile.write(body)

    def _error(self, code, msg):
        self._send(code, json.dumps({"error": msg}).encode(),
                   {"Content-Type": "application/json"})

    def _authorized(self):
        want = (_read("token") or b"").decode()
        got = self.headers.get("Authorization", "")
        return want != "" and got == "Bearer " + want

    def _record(self, auth_ok):
        _append("requests.jsonl", {
            "method": self.command, "path": self.path, "auth_ok": auth_ok,
            "if_none_match": self.headers.get("If-None-Match"),
            "authorization_present": "Authorization" in self.headers,
        })

    def do_GET(self):
        ok = self._authorized()
        self._record(ok)
        if self.path != "/api/v1/agent/state":
            return self._error(404, "no such route")
        forced = (_read("status") or b"").decode().strip()
        if forced == "hang":  # a server that accepted and never answers
            time.sleep(120)
            return
        if forced:
            return self._error(int(forced), "forced %s by the test" % forced)
        if not ok:
            return self._error(401, "unknown or revoked token")
        body = _read("state.json")
        if body is None:
            return self._error(500, "no state.json")
        etag = '"%s"' % hashlib.sha256(body).hexdigest()
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, headers={"ETag": etag})
        self._send(200, body, {"ETag": etag, "Content-Type": "application/json"})

    def do_POST(self):
        ok = self._authorized()
        self._record(ok)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path != "/api/v1/agent/report":
            return self._error(404, "no such route")
        if not ok:
            return self._error(401, "unknown or revoked token")
        try:
            report = json.loads(raw)
        except ValueError:
            return self._error(400, "not JSON")
        _append("reports.jsonl", report)
        self._send(204)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
