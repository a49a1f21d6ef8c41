"""Network namespaces for the firewall tests: a "server" and a "client"
namespace joined by a veth pair, a stand-in for sshd in the server, and
connection checks from the client.

    server ns  veth-s 10.200.N.1/24  fd00:200:N::1/64
    client ns  veth-c 10.200.N.2/24  fd00:200:N::2/64

Needs root (CI runs the suite as root).  Every name carries a unique suffix;
Topology.close() removes the namespaces (and with them the veth pair and
every nftables rule inside), whatever happened.
"""

import os
import subprocess
import sys
import time
import uuid

# Answers every connection with an SSH-like banner, so that a client can tell
# "reached the listener" from "dropped" (timeout) or "refused" (RST).
LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(64)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"SSH-2.0-opsbell-test\r\n")
    finally:
        c.close()
"""

# Exit 0 when the banner came back, 1 on timeout (dropped), 2 when refused.
PROBE = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((host, port))
    ok = s.recv(64).startswith(b"SSH-2.0-")
    sys.exit(0 if ok else 3)
except socket.timeout:
    sys.exit(1)
except ConnectionRefusedError:
    sys.exit(2)
"""


def sh(*args, check=True, timeout=30, input=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (
            " ".join(str(a) for a in args), p.returncode,
            p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return p


def _free_subnet():
    """A third octet N for 10.200.N.0/24 that no interface on this host uses."""
    used = sh("ip", "-o", "addr").stdout.decode()
    for _ in range(200):
        n = int.from_bytes(os.urandom(1), "big") % 250 + 1
        if "10.200.%d." % n not in used:
            return n
    raise AssertionError("no free 10.200.N.0/24")


class Topology:
    def __init__(self, port=22):
        tag = uuid.uuid4().hex[:8]
        self.server = "obs-" + tag
        self.client = "obc-" + tag
        self.port = port
        n = _free_subnet()
        self.server_ip = "10.200.%d.1" % n
        self.client_ip = "10.200.%d.2" % n
        self.server_ip6 = "fd00:200:%x::1" % n
        self.client_ip6 = "fd00:200:%x::2" % n
        self.listener = None
        self._made = []
        try:
            self._build(tag)
        except BaseException:
            self.close()
            raise

    def _build(self, tag):
        for ns in (self.server, self.client):
            sh("ip", "netns", "add", ns)
            self._made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        vs, vc = "vs" + tag, "vc" + tag
        sh("ip", "link", "add", vs, "netns", self.server, "type", "veth", "peer", "name", vc,
           "netns", self.client)
        sh("ip", "-n", self.server, "addr", "add", self.server_ip + "/24", "dev", vs)
        sh("ip", "-n", self.client, "addr", "add", self.client_ip + "/24", "dev", vc)
        sh("ip", "-n", self.server, "addr", "add", self.server_ip6 + "/64", "dev", vs, "nodad")
        sh("ip", "-n", self.client, "addr", "add", self.client_ip6 + "/64", "dev", vc, "nodad")
        sh("ip", "-n", self.server, "link", "set", vs, "up")
        sh("ip", "-n", self.client, "link", "set", vc, "up")

    def in_server(self, *args, **kw):
        return sh("ip", "netns", "exec", self.server, *args, **kw)

    def start_listener(self):
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.server, sys.executable, "-c", LISTENER, str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.listener.stdout.readline()
        assert line.strip() == b"listening", "the listener did not start: %r %r" % (
            line, self.listener.stderr.read() if self.listener.poll() is not None else b"")

    def probe(self, v6=False, timeout=1.0):
        """'open' (banner), 'dropped' (timeout) or 'refused'."""
        host = self.server_ip6 if v6 else self.server_ip
        p = sh("ip", "netns", "exec", self.client, sys.executable, "-c", PROBE, host,
               str(self.port), str(timeout), check=False)
        return {0: "open", 1: "dropped", 2: "refused"}.get(p.returncode, "error %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace")))

    def wait_probe(self, want, v6=False, limit=15.0):
        """Probe until the answer is `want` (or limit seconds pass); return the last answer."""
        deadline = time.monotonic() + limit
        got = self.probe(v6)
        while got != want and time.monotonic() < deadline:
            time.sleep(0.2)
            got = self.probe(v6)
        return got

    def close(self):
        if self.listener is not None:
            self.listener.kill()
            self.listener.wait()
            self.listener = None
        for ns in self._made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made = []
