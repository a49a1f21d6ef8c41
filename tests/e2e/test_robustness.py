"""Concurrency and hostile input on the wire: every request is answered and
nothing crashes the daemon."""

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e_support import http_request


def recv_response(s, limit=1 << 20):
    """Read one HTTP response (headers and Content-Length bytes of body), or
    whatever arrives until the server closes. Does not wait for keep-alive
    connections to be closed."""
    data = b""
    try:
        while len(data) < limit:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", data[:head_end])
                if m and len(data) >= head_end + 4 + int(m.group(1)):
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, socket.timeout):
        pass
    return data


def raw(port, payload, timeout=10.0, expect_reply=True):
    """Send payload on a fresh connection; return the reply (b"" if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            pass  # the server may answer and close before reading everything
        if not expect_reply:
            return b""
        return recv_response(s)


def metric_value(d, prefix):
    for line in d.get("/metrics").text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def test_many_concurrent_requests_are_all_answered(env, daemon, admin_token):
    paths = ["/api/v1/whoami", "/api/v1/teams", "/api/v1/teams/alpha", "/api/v1/services",
             "/api/v1/users", "/healthz", "/metrics", "/api/v1/audit?limit=5"]
    n = 200

    def one(i):
        path = paths[i % len(paths)]
        r = daemon.get(path, token=admin_token, headers={"X-Request-Id": "conc-%d" % i})
        return path, r.status, r.headers.get("X-Request-Id")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(n)))
    assert len(results) == n
    bad = [x for x in results if x[1] != 200]
    assert not bad, bad[:5]
    assert sorted(x[2] for x in results) == sorted("conc-%d" % i for i in range(n))
    whoami = sum(1 for p, _, _ in results if p == "/api/v1/whoami")
    key = 'opsbell_http_requests_total{route="/api/v1/whoami",method="GET",code="200"}'
    deadline = time.monotonic() + 10
    while metric_value(daemon, key) < whoami and time.monotonic() < deadline:
        time.sleep(0.05)  # counted just after each response is queued
    assert metric_value(daemon, key) == whoami
    assert daemon.alive()


def test_concurrent_token_creation(env, daemon, admin_token):
    def one(i):
        r = daemon.request("POST", "/api/v1/tokens", {"name": "conc-%d" % i, "scope": "read"},
                           token=admin_token)
        return r.status, r.body.get("id"), r.body.get("token")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(40)))
    assert [s for s, _, _ in results] == [201] * 40
    assert len({i for _, i, _ in results}) == 40
    assert len({t for _, _, t in results}) == 40
    listed = daemon.get("/api/v1/tokens", token=admin_token).body["tokens"]
    assert len(listed) == 41
    audit = daemon.get("/api/v1/audit?action=token.create&limit=1000", token=admin_token)
    assert len(audit.body["events"]) == 41


def test_keep_alive_connection_serves_many_requests(daemon, admin_token):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        for i in range(50):
            conn.request("GET", "/api/v1/whoami",
                         headers={"Authorization": "Bearer " + admin_token})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
    finally:
        conn.close()


GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\x01\x02\x03\xff\xfe\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /healthz\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n\r\n",  # no Host header
    b"GET  /healthz  HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 200000 + b"\r\n\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20"
    b"\r\n\r\n0123456789",
    b"GET /api/v1/teams/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/teams/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/teams/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/audit?limit=%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xff\xfe\r\n\r\n",
    b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x00\r\n\r\n",
]


# Requests the server must wait on (an unfinished body, blank lines): nothing
# to read back; the client goes away.
INCOMPLETE = [
    b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    b"\r\n" * 1000,
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
    b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",  # libmicrohttpd waits on a NUL in the request line
]


@pytest.mark.parametrize("payload", INCOMPLETE, ids=range(len(INCOMPLETE)))
def test_incomplete_requests_do_not_crash(daemon, payload):
    raw(daemon.port, payload, expect_reply=False)
    assert daemon.get("/healthz").status == 200
    assert daemon.alive()


@pytest.mark.parametrize("payload", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_on_the_wire_does_not_crash(daemon, payload):
    reply = raw(daemon.port, payload)
    if reply:
        assert reply.startswith(b"HTTP/1."), reply[:200]
        status = int(reply.split(b" ", 2)[1])
        assert 200 <= status < 600
    assert daemon.alive(), daemon.log_text()[-3000:]
    assert daemon.get("/healthz").status == 200


def test_half_open_and_idle_connections_do_not_block_others(daemon):
    socks = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            socks.append(s)
        for _ in range(10):
            assert daemon.get("/healthz").status == 200
    finally:
        for s in socks:
            s.close()
    assert daemon.alive()


def test_abrupt_disconnects_mid_body(daemon, admin_token):
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        s.sendall(b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nAuthorization: Bearer " + admin_token.encode()
                  + b"\r\nContent-Length: 500\r\n\r\n{\"name\":")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    assert daemon.get("/healthz").status == 200
    r = daemon.get("/api/v1/tokens", token=admin_token)
    assert r.status == 200 and len(r.body["tokens"]) == 1


def test_concurrent_garbage_and_good_traffic(daemon, admin_token):
    errors = []

    def good():
        for _ in range(25):
            r = daemon.get("/api/v1/whoami", token=admin_token)
            if r.status != 200:
                errors.append(r)

    def bad(i):
        for j in range(10):
            raw(daemon.port, GARBAGE[(i + j) % len(GARBAGE)], timeout=5)

    threads = [threading.Thread(target=good) for _ in range(4)] + \
              [threading.Thread(target=bad, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert daemon.alive()


def test_odd_but_valid_paths(daemon, admin_token):
    r = daemon.get("/api/v1/teams/al%70ha", token=admin_token)  # percent-encoded 'p'
    assert r.status == 200 and r.body["name"] == "alpha", r
    r = daemon.get("/api/v1/teams/alpha?unused=1&x=%20", token=admin_token)
    assert r.status == 200, r
    r = http_request(daemon.url, "GET", "/api/v1/teams/" + "z" * 5000, token=admin_token)
    assert r.status in (404, 414), r
    assert daemon.alive()
