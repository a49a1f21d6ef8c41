"""A local stand-in for the EC2 Query API (security group rules only),
speaking EC2's documented wire format (standard library only).

Requests: POST with an application/x-www-form-urlencoded body, or GET with
the same parameters in the query string; Action and Version=2016-11-15.
Every request must carry AWS Signature Version 4 (Authorization:
AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/ec2/aws4_request,
SignedHeaders=..., Signature=...); the stand-in recomputes the signature
from the request as received (method, path, sorted query, the signed
headers, SHA-256 of the body) with the configured secret, and refuses with
401 AuthFailure when the key is unknown, the scope is wrong, host or
x-amz-date is not signed, the date is more than 15 minutes off, the
signature differs, or (when a session token is configured) the
X-Amz-Security-Token header is missing, unsigned or different.

Actions:
  AuthorizeSecurityGroupIngress  GroupId, IpPermissions.N.{IpProtocol,FromPort,ToPort,
                                 IpRanges.M.{CidrIp,Description},
                                 Ipv6Ranges.M.{CidrIpv6,Description}}
  RevokeSecurityGroupIngress     GroupId, SecurityGroupRuleId.N
  DescribeSecurityGroupRules     Filter.N.Name=group-id, Filter.N.Value.M, MaxResults, NextToken
  UpdateSecurityGroupRuleDescriptionsIngress  GroupId, IpPermissions.N as above (the rule with
                                 that protocol, ports and range gets the new description)
Answers are the documented XML (xmlns http://ec2.amazonaws.com/doc/2016-11-15/,
requestId, securityGroupRuleSet/item with securityGroupRuleId "sgr-" + 17
hex digits).  Errors are <Response><Errors><Error><Code/><Message/>
</Error></Errors><RequestID/></Response>: InvalidPermission.Duplicate (400),
RulesPerSecurityGroupLimitExceeded (400, at `quota` = 60 inbound rules),
InvalidGroup.NotFound (400), InvalidSecurityGroupRuleId.NotFound (400),
RequestLimitExceeded (503, `throttle(n)` answers the next n requests so),
AuthFailure (401), MissingParameter / InvalidAction (400).

Each group starts with the default egress rule (all traffic to 0.0.0.0/0),
as in a new VPC security group.
"""

import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
VERSION = "2016-11-15"


# ---- Signature Version 4 ------------------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_query(query):
    """Parameters as sent (already encoded), sorted by name then value."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        # Re-encode as SigV4 wants: decode, then RFC 3986 encode.
        name = urllib.parse.quote(urllib.parse.unquote_plus(name), safe="-_.~")
        value = urllib.parse.quote(urllib.parse.unquote_plus(value), safe="-_.~")
        pairs.append((name, value))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def sigv4_signature(secret, method, path, query, headers, signed_names, body, amz_date,
                    region, service):
    """(canonical request, string to sign, signature hex) for a request."""
    lower = {}
    for k, v in headers:
        lower.setdefault(k.lower(), []).append(" ".join(v.strip().split()))
    canon_headers = "".join("%s:%s\n" % (n, ",".join(lower.get(n, []))) for n in signed_names)
    creq = "\n".join([method, path, canonical_query(query), canon_headers,
                      ";".join(signed_names), hashlib.sha256(body).hexdigest()])
    date = amz_date[:8]
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    return creq, sts, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class AuthError(Exception):
    pass


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise AuthError("unsupported authorization scheme")
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    try:
        cred = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        sig = fields["Signature"]
    except KeyError as e:
        raise AuthError("authorization lacks %s" % e)
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise AuthError("malformed credential scope")
    return cred, signed, sig


# ---- the stand-in -----------------------------------------------------------------

def new_rule_id():
    return "sgr-" + secrets.token_hex(9)[:17]


def request_id():
    h = secrets.token_hex(16)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


class Standin:
    def __init__(self, access_key, secret, region="us-east-1", groups=("sg-0123456789abcdef0",),
                 session_token=None, quota=60, page_size=1000):
        self.access_key = access_key
        self.secret = secret
        self.region = region
        self.session_token = session_token
        self.quota = quota
        self.page_size = page_size
        self.lock = threading.Lock()
        self.groups = {}
        for g in groups:
            self.groups[g] = [{"id": new_rule_id(), "egress": True, "proto": "-1", "from": -1,
                               "to": -1, "cidr": "0.0.0.0/0", "v6": False, "description": ""}]
        self.requests = []  # (action, headers dict, params dict, status, error code)
        self.throttled = 0
        self.corruption = None
        self.tokens = {}
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                standin.handle(self, body)

            def do_GET(self):
                standin.handle(self, b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- test controls ----

    def throttle(self, n):
        with self.lock:
            self.throttled = n

    def corrupt(self, kind):
        """Answer the next request badly: "html500" (a proxy's HTML 500 page),
        "truncated" (200 with half an XML document), "huge" (200 with 2 MiB),
        "dtd" (an error document with an entity-expansion DTD)."""
        with self.lock:
            self.corruption = kind

    def add_rule(self, group, cidr, description="", port=22, proto="tcp"):
        rule = {"id": new_rule_id(), "egress": False, "proto": proto, "from": port, "to": port,
                "cidr": cidr, "v6": ":" in cidr, "description": description}
        with self.lock:
            self.groups[group].append(rule)
        return rule["id"]

    def ingress(self, group):
        with self.lock:
            return [dict(r) for r in self.groups[group] if not r["egress"]]

    def actions(self):
        with self.lock:
            return [r[0] for r in self.requests]

    # ---- wire ----

    def reply(self, h, status, text):
        # Sent by handle() once the request is recorded, so that a test that
        # got the answer always finds the request in self.requests.
        h.pending = (status, text)

    def flush(self, h):
        status, text = h.pending
        data = text.encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/xml;charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def error(self, h, status, code, message):
        self.reply(h, status,
                   '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s'
                   '</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID>'
                   '</Response>' % (code, escape(message), request_id()))
        return code

    def verify(self, h, body, query):
        auth = h.headers.get("Authorization")
        if auth is None:
            raise AuthError("no Authorization header")
        cred, signed, sig = parse_authorization(auth)
        if cred[0] != self.access_key:
            raise AuthError("unknown access key")
        if cred[2] != self.region or cred[3] != "ec2":
            raise AuthError("credential scope is not %s/ec2" % self.region)
        if "host" not in signed or "x-amz-date" not in signed:
            raise AuthError("host and x-amz-date must be signed")
        if signed != sorted(signed):
            raise AuthError("SignedHeaders not sorted")
        amz_date = h.headers.get("X-Amz-Date", "")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise AuthError("bad X-Amz-Date")
        if abs(time.time() - when.timestamp()) > 900 or cred[1] != amz_date[:8]:
            raise AuthError("request time out of range")
        if self.session_token is not None:
            tok = h.headers.get("X-Amz-Security-Token")
            if tok is None or "x-amz-security-token" not in signed:
                raise AuthError("session token missing or unsigned")
            if not hmac.compare_digest(tok, self.session_token):
                raise AuthError("wrong session token")
        path = urllib.parse.urlsplit(h.path).path or "/"
        _, _, want = sigv4_signature(self.secret, h.command, path, query,
                                     list(h.headers.items()), signed, body, amz_date,
                                     self.region, "ec2")
        if not hmac.compare_digest(want, sig):
            raise AuthError("signature mismatch")

    def handle(self, h, body):
        split = urllib.parse.urlsplit(h.path)
        query = split.query
        if h.command == "POST":
            ctype = h.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                self.error(h, 400, "InvalidParameterValue", "unsupported content type")
                self.flush(h)
                return
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        else:
            params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        action = params.get("Action", "")
        headers = {k.lower(): v for k, v in h.headers.items()}
        code = None
        status = 200
        with self.lock:
            bad, self.corruption = self.corruption, None
        if bad is not None:
            self.answer_badly(h, bad)
            with self.lock:
                self.requests.append((action, headers, params, 0, bad))
            self.flush(h)
            return
        try:
            self.verify(h, body, query)
        except AuthError:
            code = self.error(h, 401, "AuthFailure",
                              "AWS was not able to validate the provided access credentials")
            status = 401
        else:
            with self.lock:
                throttled = self.throttled > 0
                if throttled:
                    self.throttled -= 1
            if throttled:
                status = 503
                code = self.error(h, 503, "RequestLimitExceeded", "Request limit exceeded.")
            elif params.get("Version") != VERSION:
                status = 400
                code = self.error(h, 400, "MissingParameter",
                                  "The request must contain the parameter Version=%s" % VERSION)
            else:
                status, code = self.dispatch(h, action, params)
        with self.lock:
            self.requests.append((action, headers, params, status, code))
        self.flush(h)

    def answer_badly(self, h, kind):
        if kind == "html500":
            self.reply(h, 500, "<html><body><h1>502 Bad Gateway</h1></body></html>")
        elif kind == "truncated":
            self.reply(h, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                       '<DescribeSecurityGroupRulesResponse xmlns="%s"><securityGroupRuleSet>'
                       '<item><securityGroupRuleId>sgr-0' % NS)
        elif kind == "huge":
            self.reply(h, 200, "<R>" + "x" * (2 << 20) + "</R>")
        elif kind == "dtd":
            self.reply(h, 400, '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                       '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Response><Errors>'
                       '<Error><Code>&b;</Code></Error></Errors></Response>')

    def dispatch(self, h, action, params):
        fn = {"AuthorizeSecurityGroupIngress": self.authorize,
              "RevokeSecurityGroupIngress": self.revoke,
              "UpdateSecurityGroupRuleDescriptionsIngress": self.update_descriptions,
              "DescribeSecurityGroupRules": self.describe}.get(action)
        if fn is None:
            return 400, self.error(h, 400, "InvalidAction",
                                   "The action %s is not valid for this web service." % action)
        return fn(h, params)

    def rule_xml(self, group, r):
        cidr = "<cidrIpv6>%s</cidrIpv6>" % r["cidr"] if r["v6"] else \
            "<cidrIpv4>%s</cidrIpv4>" % r["cidr"]
        desc = "<description>%s</description>" % escape(r["description"]) \
            if r["description"] else ""
        return ("<item><securityGroupRuleId>%s</securityGroupRuleId><groupId>%s</groupId>"
                "<groupOwnerId>123456789012</groupOwnerId><isEgress>%s</isEgress>"
                "<ipProtocol>%s</ipProtocol><fromPort>%d</fromPort><toPort>%d</toPort>%s%s"
                "<securityGroupRuleArn>arn:aws:ec2:%s:123456789012:security-group-rule/%s"
                "</securityGroupRuleArn><tagSet/></item>"
                % (r["id"], group, "true" if r["egress"] else "false", r["proto"], r["from"],
                   r["to"], cidr, desc, self.region, r["id"]))

    def permissions(self, p):
        """IpPermissions.N as rule dicts (without ids), or an error message."""
        new = []
        i = 1
        while "IpPermissions.%d.IpProtocol" % i in p:
            pre = "IpPermissions.%d." % i
            proto = p[pre + "IpProtocol"]
            fp, tp = int(p.get(pre + "FromPort", -1)), int(p.get(pre + "ToPort", -1))
            for kind, key, v6 in (("IpRanges", "CidrIp", False), ("Ipv6Ranges", "CidrIpv6", True)):
                j = 1
                while "%s%s.%d.%s" % (pre, kind, j, key) in p:
                    cidr = p["%s%s.%d.%s" % (pre, kind, j, key)]
                    desc = p.get("%s%s.%d.Description" % (pre, kind, j), "")
                    if len(desc) > 255:
                        return "Description is longer than 255 characters"
                    new.append({"egress": False, "proto": proto, "from": fp, "to": tp,
                                "cidr": cidr, "v6": v6, "description": desc})
                    j += 1
            i += 1
        return new

    def authorize(self, h, p):
        group = p.get("GroupId")
        if not group:
            return 400, self.error(h, 400, "MissingParameter", "GroupId is required")
        new = self.permissions(p)
        if isinstance(new, str):
            return 400, self.error(h, 400, "InvalidParameterValue", new)
        if not new:
            return 400, self.error(h, 400, "MissingParameter", "IpPermissions is required")
        with self.lock:
            rules = self.groups.get(group)
            if rules is None:
                return 400, self.error(h, 400, "InvalidGroup.NotFound",
                                       "The security group '%s' does not exist" % group)
            for n in new:
                for r in rules:
                    if (not r["egress"] and r["proto"] == n["proto"] and r["from"] == n["from"]
                            and r["to"] == n["to"] and r["cidr"] == n["cidr"]):
                        return 400, self.error(
                            h, 400, "InvalidPermission.Duplicate",
                            'the specified rule "peer: %s, TCP, from port: %d, to port: %d, '
                            'ALLOW" already exists' % (n["cidr"], n["from"], n["to"]))
            if sum(1 for r in rules if not r["egress"]) + len(new) > self.quota:
                return 400, self.error(h, 400, "RulesPerSecurityGroupLimitExceeded",
                                       "The maximum number of rules per security group has "
                                       "been reached.")
            for n in new:
                n["id"] = new_rule_id()
                rules.append(n)
            items = "".join(self.rule_xml(group, n) for n in new)
        self.reply(h, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<AuthorizeSecurityGroupIngressResponse xmlns="%s"><requestId>%s</requestId>'
                   '<return>true</return><securityGroupRuleSet>%s</securityGroupRuleSet>'
                   '</AuthorizeSecurityGroupIngressResponse>' % (NS, request_id(), items))
        return 200, None

    def update_descriptions(self, h, p):
        group = p.get("GroupId")
        perms = self.permissions(p)
        if isinstance(perms, str):
            return 400, self.error(h, 400, "InvalidParameterValue", perms)
        if not group or not perms:
            return 400, self.error(h, 400, "MissingParameter",
                                   "GroupId and IpPermissions are required")
        with self.lock:
            rules = self.groups.get(group)
            if rules is None:
                return 400, self.error(h, 400, "InvalidGroup.NotFound",
                                       "The security group '%s' does not exist" % group)
            for n in perms:
                match = [r for r in rules if not r["egress"] and r["proto"] == n["proto"]
                         and r["from"] == n["from"] and r["to"] == n["to"]
                         and r["cidr"] == n["cidr"]]
                if not match:
                    return 400, self.error(h, 400, "InvalidPermission.NotFound",
                                           "The specified rule does not exist in this "
                                           "security group.")
                match[0]["description"] = n["description"]
        self.reply(h, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<UpdateSecurityGroupRuleDescriptionsIngressResponse xmlns="%s">'
                   '<requestId>%s</requestId><return>true</return>'
                   '</UpdateSecurityGroupRuleDescriptionsIngressResponse>' % (NS, request_id()))
        return 200, None

    def revoke(self, h, p):
        group = p.get("GroupId")
        ids = [v for k, v in sorted(p.items()) if k.startswith("SecurityGroupRuleId.")]
        if not group or not ids:
            return 400, self.error(h, 400, "MissingParameter",
                                   "GroupId and SecurityGroupRuleId are required")
        with self.lock:
            rules = self.groups.get(group)
            if rules is None:
                return 400, self.error(h, 400, "InvalidGroup.NotFound",
                                       "The security group '%s' does not exist" % group)
            known = {r["id"] for r in rules if not r["egress"]}
            for rid in ids:
                if rid not in known:
                    return 400, self.error(h, 400, "InvalidSecurityGroupRuleId.NotFound",
                                           "The security group rule ID '%s' does not exist"
                                           % rid)
            self.groups[group] = [r for r in rules if r["id"] not in ids]
        self.reply(h, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<RevokeSecurityGroupIngressResponse xmlns="%s"><requestId>%s</requestId>'
                   '<return>true</return></RevokeSecurityGroupIngressResponse>'
                   % (NS, request_id()))
        return 200, None

    def describe(self, h, p):
        wanted = None
        i = 1
        while "Filter.%d.Name" % i in p:
            if p["Filter.%d.Name" % i] == "group-id":
                wanted = set()
                j = 1
                while "Filter.%d.Value.%d" % (i, j) in p:
                    wanted.add(p["Filter.%d.Value.%d" % (i, j)])
                    j += 1
            i += 1
        limit = min(int(p.get("MaxResults", 1000)), self.page_size)
        with self.lock:
            if wanted is not None:
                for g in wanted:
                    if g not in self.groups:
                        return 400, self.error(h, 400, "InvalidGroup.NotFound",
                                               "The security group '%s' does not exist" % g)
            rows = [(g, r) for g, rules in sorted(self.groups.items())
                    if wanted is None or g in wanted for r in rules]
            start = 0
            tok = p.get("NextToken")
            if tok:
                if tok not in self.tokens:
                    return 400, self.error(h, 400, "InvalidParameterValue", "bad NextToken")
                start = self.tokens.pop(tok)
            page = rows[start:start + limit]
            nxt = ""
            if start + limit < len(rows):
                t = secrets.token_urlsafe(24)
                self.tokens[t] = start + limit
                nxt = "<nextToken>%s</nextToken>" % t
            items = "".join(self.rule_xml(g, r) for g, r in page)
        self.reply(h, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<DescribeSecurityGroupRulesResponse xmlns="%s"><requestId>%s</requestId>'
                   '<securityGroupRuleSet>%s</securityGroupRuleSet>%s'
                   '</DescribeSecurityGroupRulesResponse>' % (NS, request_id(), items, nxt))
        return 200, None
