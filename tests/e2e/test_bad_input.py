"""Bad requests get a clear 4xx JSON error, are never half-applied and never
crash the daemon. The daemon here runs with http.max_body_bytes = 1024."""

import http.client
import json
import socket

import pytest

MAX_BODY = 1024


@pytest.fixture
def small(make_env):
    e = make_env(max_body_bytes=MAX_BODY)
    tok = e.token_secret(name="admin", scope="admin")
    d = e.daemon()
    return e, d, tok


def snapshot(e, d, tok):
    """What a bad request must not change: the tokens and the audit log."""
    tokens = d.get("/api/v1/tokens", token=tok)
    audit = d.get("/api/v1/audit", token=tok)
    assert tokens.status == 200 and audit.status == 200
    return (json.dumps(tokens.body, sort_keys=True), [ev["id"] for ev in audit.body["events"]])


def assert_error(r, status):
    assert r.status == status, r
    assert r.headers.get("Content-Type", "").startswith("application/json"), dict(r.headers)
    assert isinstance(r.body, dict) and isinstance(r.body.get("error"), str), r
    assert r.body["error"].strip()


BAD_BODIES = [
    # (id, body bytes, content type, expected status, text expected in the error)
    ("malformed-json", b'{"name": "x", "scope": ', "application/json", 400, "JSON"),
    ("trailing-garbage", b'{"name": "x", "scope": "read"} xyz', "application/json", 400, None),
    ("not-an-object", b'["name", "scope"]', "application/json", 400, "object"),
    ("a-string", b'"hello"', "application/json", 400, None),
    ("empty-body", b"", "application/json", 400, None),
    ("unknown-field", b'{"name": "x", "scope": "read", "colour": "red"}', "application/json",
     400, "colour"),
    ("duplicate-key", b'{"name": "x", "scope": "read", "name": "y"}', "application/json", 400,
     None),
    ("missing-scope", b'{"name": "x"}', "application/json", 400, "scope"),
    ("bad-scope", b'{"name": "x", "scope": "root"}', "application/json", 400, "scope"),
    ("scope-not-string", b'{"name": "x", "scope": 3}', "application/json", 400, "scope"),
    ("bad-name", b'{"name": "a/b", "scope": "read"}', "application/json", 400, "name"),
    ("empty-name", b'{"name": "", "scope": "read"}', "application/json", 400, "name"),
    ("long-name", json.dumps({"name": "n" * 65, "scope": "read"}).encode(), "application/json",
     400, "name"),
    ("nul-in-name", b'{"name": "a\\u0000b", "scope": "read"}', "application/json", 400, None),
    ("bad-utf8", b'{"name": "\xff\xfe", "scope": "read"}', "application/json", 400, None),
    ("expiry-too-short", b'{"name": "x", "scope": "read", "expires_in_seconds": 5}',
     "application/json", 400, "expires_in_seconds"),
    ("expiry-not-int", b'{"name": "x", "scope": "read", "expires_in_seconds": "1h"}',
     "application/json", 400, "expires_in_seconds"),
    ("expiry-float", b'{"name": "x", "scope": "read", "expires_in_seconds": 3600.5}',
     "application/json", 400, "expires_in_seconds"),
    ("unknown-team", b'{"name": "x", "scope": "read", "team": "nope"}', "application/json", 400,
     "nope"),
    ("deep-nesting", b'{"name": "x", "scope": "read", "team": ' + b"[" * 40 + b"]" * 40 + b"}",
     "application/json", 400, None),
    ("text-plain", b'{"name": "x", "scope": "read"}', "text/plain", 415, "Content-Type"),
    ("form", b"name=x&scope=read", "application/x-www-form-urlencoded", 415, None),
    ("json-latin1", b'{"name": "x", "scope": "read"}', "application/json; charset=latin1", 415,
     None),
    ("jsonp", b'{"name": "x", "scope": "read"}', "application/jsonp", 415, None),
    ("no-content-type", b'{"name": "x", "scope": "read"}', None, 415, None),
]


@pytest.mark.parametrize("case", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_token_create_body(small, case):
    e, d, tok = small
    _, body, ctype, status, needle = case
    before = snapshot(e, d, tok)
    r = d.request("POST", "/api/v1/tokens", body, token=tok, content_type=ctype)
    assert_error(r, status)
    if needle is not None:
        assert needle in r.body["error"], r.body
    assert snapshot(e, d, tok) == before, "a refused request changed something"
    assert d.get("/healthz").status == 200


def test_good_body_with_charset_is_accepted(small):
    e, d, tok = small
    r = d.request("POST", "/api/v1/tokens", {"name": "ok", "scope": "read"}, token=tok,
                  content_type="application/json; charset=utf-8")
    assert r.status == 201, r


def test_body_over_limit_is_413_and_daemon_keeps_serving(small):
    e, d, tok = small
    before = snapshot(e, d, tok)
    big = json.dumps({"name": "x", "scope": "read", "team": "a" * (4 * MAX_BODY)})
    r = d.request("POST", "/api/v1/tokens", big, token=tok)
    assert_error(r, 413)
    # exactly at the limit is not "too large" (it is refused for other reasons)
    at_limit = ('{"name":"x","scope":"read","team":"' + "a" * MAX_BODY)[:MAX_BODY - 2] + '"}'
    assert len(at_limit) == MAX_BODY
    r = d.request("POST", "/api/v1/tokens", at_limit, token=tok)
    assert r.status == 400, r
    # a huge body, far over the limit
    r = d.request("POST", "/api/v1/tokens", b"{" + b" " * (2 * 1024 * 1024) + b"}", token=tok)
    assert_error(r, 413)
    assert snapshot(e, d, tok) == before
    assert d.get("/healthz").status == 200
    assert d.alive()
    r = d.request("POST", "/api/v1/tokens", {"name": "after", "scope": "read"}, token=tok)
    assert r.status == 201, r


def test_chunked_body_over_limit_is_413(small):
    """Without Content-Length the cap must hold as the body streams in."""
    e, d, tok = small
    before = snapshot(e, d, tok)
    chunks = [b'{"name": "x", "scope": "read", "team": "'] + [b"a" * 512] * 8 + [b'"}']
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        try:
            conn.request("POST", "/api/v1/tokens", body=iter(chunks),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + tok},
                         encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    assert resp.status == 413, raw
    assert "error" in json.loads(raw)
    assert snapshot(e, d, tok) == before
    assert d.get("/healthz").status == 200


def test_invalid_content_length_is_refused(small):
    e, d, tok = small
    for clen in (b"abc", b"-1", b"99999999999999999999999"):
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
            s.sendall(b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nAuthorization: Bearer " + tok.encode() + b"\r\nContent-Length: "
                      + clen + b"\r\nConnection: close\r\n\r\n{}")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status_line = data.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 4"), (clen, data[:200])
    assert d.get("/healthz").status == 200


def test_unknown_route_is_404_json(small):
    e, d, tok = small
    for path in ("/nope", "/api/v1/nope", "/api/v2/tokens", "/api/v1/teams/alpha/nope",
                 "/api/v1/teams/", "/healthz/", "/api/v1/tokens/1/2"):
        r = d.get(path, token=tok)
        assert_error(r, 404)
    r = d.get("/api/v1/teams/nope", token=tok)
    assert_error(r, 404)
    assert "nope" in r.body["error"]
    for path in ("/api/v1/services/nope", "/api/v1/escalation-policies/nope",
                 "/api/v1/users/nope"):
        assert_error(d.get(path, token=tok), 404)


def test_wrong_method_is_405_with_allow(small):
    e, d, tok = small
    before = snapshot(e, d, tok)
    cases = [
        ("PUT", "/api/v1/tokens", {"GET", "POST"}),
        ("PATCH", "/api/v1/tokens", {"GET", "POST"}),
        ("DELETE", "/api/v1/tokens", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
        ("DELETE", "/metrics", {"GET"}),
        ("GET", "/api/v1/config/reload", {"POST"}),
        ("GET", "/api/v1/tokens/1", {"DELETE"}),
        ("POST", "/api/v1/teams/alpha", {"GET"}),
    ]
    for method, path, allowed in cases:
        r = d.request(method, path, {"name": "x", "scope": "read"}, token=tok)
        assert_error(r, 405)
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        assert allow == allowed, (method, path, r.headers.get("Allow"))
    assert snapshot(e, d, tok) == before


def test_auth_comes_before_body_parsing(small):
    e, d, tok = small
    r = d.request("POST", "/api/v1/tokens", b"{not json", token=None)
    assert r.status == 401, r
    r = d.request("POST", "/api/v1/tokens", b"{not json", token=None, content_type="text/plain")
    assert r.status == 401, r


def test_get_with_a_body_is_harmless(small):
    e, d, tok = small
    r = d.request("GET", "/api/v1/whoami", b"garbage" * 10, token=tok, content_type="text/plain")
    assert r.status == 200, r


def test_oversized_body_with_expect_100_continue_is_refused_before_upload(small):
    """curl sends `Expect: 100-continue` for bodies over 1 KiB: an oversized one
    is refused at once, without asking the client to send it."""
    e, d, tok = small
    head = (b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + tok.encode() + b"\r\nExpect: 100-continue\r\n")
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(head + b"Content-Length: %d\r\n\r\n" % (4 * MAX_BODY))
        first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 413 "), first[:200]
    # within the limit the client is invited to send the body
    body = json.dumps({"name": "expect-ok", "scope": "read"}).encode()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 Continue"), first[:200]
        s.sendall(body)
        rest = first
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    assert b"HTTP/1.1 201 " in rest, rest[:300]
