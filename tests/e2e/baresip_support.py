"""Real and fake SIP peers for tests/e2e/test_sip.py.

- Baresip: baresip 1.0.0 (Debian `baresip-core`) run headless as the callee:
  its own config directory, `sip_listen` on a free loopback port, g711 and
  aufile (a silent 8 kHz WAV as the microphone; no audio player), `ctrl_tcp`
  to drive it: netstring JSON commands ({"command":"sndcode","params":"1"}
  presses a key by RFC 4733) and events (CALL_INCOMING, CALL_ESTABLISHED,
  CALL_CLOSED ...) read by a background thread.
- Kamailio: kamailio 5.6 as registrar and outbound proxy (baresip
  registers with it; opsbell's INVITEs go through it and must answer its
  407 digest challenge).
- FakeUas: a tiny SIP UAS on UDP written here, answering every INVITE the
  way a test tells it to (a status, a 200 without SDP or with a broken one,
  garbage), and able to send SIP INFO in the dialog it answered.

Only the standard library: these tests run with Debian's /usr/bin/python3.
"""

import json
import os
import re
import signal
import socket
import struct
import threading
import time
import wave

from e2e_support import Peer, free_port

BARESIP = "/usr/bin/baresip"
MODULE_PATH = "/usr/lib/baresip/modules"


def _bindable(kind, port):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_sip_port():
    """A loopback port P free right now for what baresip binds on
    `sip_listen 127.0.0.1:P`: UDP and TCP on P, and TLS (TCP) on P + 1."""
    for _ in range(100):
        port = free_port()
        if port < 65535 and _bindable(socket.SOCK_DGRAM, port) and \
                _bindable(socket.SOCK_STREAM, port + 1):
            return port
    raise AssertionError("no free SIP port pair on 127.0.0.1")


def silent_wav(path, seconds=120):
    """An 8 kHz mono 16-bit WAV of silence (baresip's aufile needs 8 kHz and
    ends the call when the file ends, so it must outlast every test call)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * seconds)


def netstring(data):
    return b"%d:%s," % (len(data), data)


class Baresip:
    """baresip as the callee `sip:USER@127.0.0.1:PORT`, driven over ctrl_tcp.
    answermode: "auto" (answers at once) or "manual" (rings until told)."""

    def __init__(self, env, name="bob", answermode="auto", user="bob", registrar=None):
        self.env = env
        self.dir = env.dir / ("baresip-" + name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_sip_port()
        self.ctrl_port = free_port()
        self.user = user
        self.uri = "sip:%s@127.0.0.1:%d" % (user, self.sip_port)
        silent_wav(self.dir / "mic.wav")
        (self.dir / "config").write_text(
            "poll_method epoll\n"
            "sip_listen 127.0.0.1:%d\n"
            "net_interface 127.0.0.1\n"
            "audio_source aufile,%s\n"
            "audio_player aufile,/dev/null\n"
            "audio_alert aufile,/dev/null\n"
            "module_path %s\n"
            "module g711.so\n"
            "module aufile.so\n"
            "module_app account.so\n"
            "module_app menu.so\n"
            "module_app ctrl_tcp.so\n"
            "ctrl_tcp_listen 127.0.0.1:%d\n"
            % (self.sip_port, self.dir / "mic.wav", MODULE_PATH, self.ctrl_port))
        if registrar is None:
            account = "<sip:%s@127.0.0.1:%d>;regint=0" % (user, self.sip_port)
        else:  # registers as sip:USER@registrar (host:port)
            account = "<sip:%s@%s>;regint=60" % (user, registrar)
        (self.dir / "accounts").write_text("%s;answermode=%s\n" % (account, answermode))
        self.events = []
        self.lock = threading.Lock()
        self.sock = None
        self.peer = Peer(env, "baresip-" + name, [BARESIP, "-f", str(self.dir)])
        self._connect()

    def _connect(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            if not self.peer.alive():
                raise AssertionError("baresip exited (%r); log:\n%s"
                                     % (self.peer.proc.returncode, self.peer.log_text()[-4000:]))
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("baresip ctrl_tcp not reachable; log:\n%s"
                                         % self.peer.log_text()[-4000:])
                time.sleep(0.1)
        self.sock.settimeout(None)
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while True:
                m = re.match(rb"^(\d+):", buf)
                if not m:
                    break
                n = int(m.group(1))
                start = m.end()
                if len(buf) < start + n + 1:
                    break
                body = buf[start:start + n]
                buf = buf[start + n + 1:]
                try:
                    msg = json.loads(body)
                except ValueError:
                    continue
                with self.lock:
                    self.events.append(msg)

    def command(self, command, params=""):
        """Send one ctrl_tcp command (its response arrives among the events)."""
        data = json.dumps({"command": command, "params": params,
                           "token": os.urandom(4).hex()}).encode()
        self.sock.sendall(netstring(data))

    def event_types(self):
        with self.lock:
            return [e.get("type") for e in self.events if e.get("event")]

    def wait_event(self, type_, timeout=20.0, count=1):
        deadline = time.monotonic() + timeout
        while True:
            if self.event_types().count(type_) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError("baresip: no %s event within %ss (events: %r); log:\n%s"
                                     % (type_, timeout, self.event_types(),
                                        self.peer.log_text()[-4000:]))
            time.sleep(0.05)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.peer.kill()


KAMAILIO = "/usr/sbin/kamailio"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=no
disable_tcp=yes
listen=udp:127.0.0.1:%(port)d
mpath="%(mpath)s"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    remove_hf("Route");
    if (is_method("REGISTER")) { save("location"); exit; }
    if (is_method("INVITE") && $fU == "%(user)s") {
        if (!pv_proxy_authenticate("$fd", "%(password)s", "0")) {
            xlog("L_INFO", "challenging $fU\\n");
            proxy_challenge("$fd", "0");
            exit;
        }
        xlog("L_INFO", "authenticated $fU\\n");
        consume_credentials();
    }
    record_route();
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_relay();
}
"""


class Kamailio:
    """kamailio on 127.0.0.1:port as registrar and proxy; INVITEs from user
    `user` must authenticate (407, digest with `password`)."""

    def __init__(self, env, user, password):
        self.dir = env.dir / "kamailio"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_sip_port()
        (self.dir / "kamailio.cfg").write_text(KAMAILIO_CFG % {
            "port": self.port, "mpath": KAMAILIO_MODULES, "user": user, "password": password})
        self.peer = Peer(env, "kamailio", [KAMAILIO, "-f", str(self.dir / "kamailio.cfg"),
                                           "-DD", "-E", "-Y", str(self.dir),
                                           "-P", str(self.dir / "kamailio.pid")])
        deadline = time.monotonic() + 15
        while "INFO: <core>" not in self.peer.log_text() or not self._listening():
            if not self.peer.alive() or time.monotonic() > deadline:
                log = self.peer.log_text()[-4000:]
                self.close()
                raise AssertionError("kamailio did not start; log:\n%s" % log)
            time.sleep(0.1)

    def _listening(self):
        return not _bindable(socket.SOCK_DGRAM, self.port)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        """kamailio forks helper processes even with fork=no: stop its whole
        process group (its own session, see Peer), politely first."""
        pgid = self.peer.proc.pid
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                self.peer.proc.poll()
                time.sleep(0.05)
            else:
                continue
            break
        self.peer.proc.poll()


# ---------------------------------------------------------------------------
# a fake UAS for the far end's bad input
# ---------------------------------------------------------------------------

GOOD_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n")


def _header(msg, name):
    m = re.search(r"^%s:\s*(.*?)\r$" % re.escape(name), msg, re.M | re.I)
    return m.group(1) if m else None


class FakeUas:
    """A SIP UAS on 127.0.0.1 (UDP) that answers each INVITE with
    behavior(invite_text) -> list of raw response bytes (helpers below build
    them); answers BYE, CANCEL and INFO responses sensibly; records every
    message. `uri` is what to put in a contact method."""

    def __init__(self, behavior):
        self.behavior = behavior
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp_port = self.rtp.getsockname()[1]
        self.uri = "sip:carl@127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.received = []  # (addr, text)
        self.dialog = None  # what send_info needs, from the last answered INVITE
        self.info_replies = []
        self.rtp_packets = []  # (payload type, sequence number, payload) from opsbell
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()
        threading.Thread(target=self._rtp_loop, daemon=True).start()

    def _rtp_loop(self):
        while not self.stop:
            try:
                data, _ = self.rtp.recvfrom(2048)
            except OSError:
                return
            if len(data) >= 12:
                pt = data[1] & 0x7f
                seq = struct.unpack("!H", data[2:4])[0]
                with self.lock:
                    self.rtp_packets.append((pt, seq, data[12:]))

    def rtp_received(self):
        with self.lock:
            return list(self.rtp_packets)

    def send_rtp_key(self, event, pt=101):
        """Press a key by RFC 4733 (three start packets, three end packets) to
        the RTP address of opsbell's SDP offer."""
        with self.lock:
            invite = next(t for _, t in reversed(self.received) if t.startswith("INVITE"))
        host = re.search(r"^c=IN IP4 (\S+)\r$", invite, re.M).group(1)
        port = int(re.search(r"^m=audio (\d+) ", invite, re.M).group(1))
        ts = 1000
        for i in range(6):
            end = i >= 3
            self.rtp.sendto(rtp_event_packet(event, end, i, ts, pt=pt, duration=160 * (i + 1)),
                            (host, port))

    def _loop(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            with self.lock:
                self.received.append((addr, text))
            first = text.split("\r\n", 1)[0]
            if first.startswith("SIP/2.0"):
                with self.lock:
                    self.info_replies.append(first)
                continue
            method = first.split(" ", 1)[0]
            try:
                if method == "INVITE":
                    for out in self.behavior(self, text):
                        self.sock.sendto(out, addr)
                elif method in ("BYE", "CANCEL", "OPTIONS"):
                    self.sock.sendto(self.response(text, 200, "OK"), addr)
                    if method == "CANCEL":
                        self.sock.sendto(self.response(self._invite_of(text), 487,
                                                       "Request Terminated", to_tag=True), addr)
            except OSError:  # closed by the test
                return

    def _invite_of(self, cancel_text):
        with self.lock:
            for _, t in reversed(self.received):
                if t.startswith("INVITE") and _header(t, "Call-ID") == _header(cancel_text,
                                                                                "Call-ID"):
                    return t
        return cancel_text

    def methods(self):
        with self.lock:
            return [t.split(" ", 1)[0] for _, t in self.received]

    def response(self, req, code, reason, body=None, ctype="application/sdp", to_tag=False):
        """A response to request text `req` (Via, From, To, Call-ID, CSeq copied)."""
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        for v in re.findall(r"^Via:.*?\r$", req, re.M | re.I):
            lines.append(v.rstrip("\r"))
        lines.append("From: %s" % _header(req, "From"))
        to = _header(req, "To")
        if to_tag and ";tag=" not in to:
            to += ";tag=fake%d" % self.port
        lines.append("To: %s" % to)
        lines.append("Call-ID: %s" % _header(req, "Call-ID"))
        lines.append("CSeq: %s" % _header(req, "CSeq"))
        lines.append("Contact: <sip:carl@127.0.0.1:%d>" % self.port)
        if body is not None:
            lines.append("Content-Type: %s" % ctype)
        data = (body or "").encode()
        lines.append("Content-Length: %d" % len(data))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    def answer(self, invite, body):
        """200 OK with body (None: no SDP), and remember the dialog for INFO."""
        with self.lock:
            self.dialog = {
                "call_id": _header(invite, "Call-ID"),
                "from": _header(invite, "From"),
                "to": _header(invite, "To") + ";tag=fake%d" % self.port,
                "contact": re.search(r"<([^>]+)>", _header(invite, "Contact")).group(1),
            }
        return self.response(invite, 200, "OK", body=body, to_tag=True)

    def send_info(self, body, ctype="application/dtmf-relay", cseq=[100]):
        """An INFO in the dialog of the last answered INVITE (to the caller)."""
        d = self.dialog
        assert d, "no answered dialog to send INFO in"
        cseq[0] += 1
        m = re.match(r"sip:(?:[^@]+@)?([^:;>]+):(\d+)", d["contact"])
        host, port = m.group(1), int(m.group(2))
        data = body.encode()
        text = ("INFO %s SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d INFO\r\n"
                "Contact: <sip:carl@127.0.0.1:%d>\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (d["contact"], self.port, os.urandom(6).hex(), d["to"], d["from"],
                   d["call_id"], cseq[0], self.port, ctype, len(data)))
        self.sock.sendto(text.encode() + data, (host, port))

    def close(self):
        self.stop = True
        self.sock.close()
        self.rtp.close()


def rtp_event_packet(event, end, seq, ts, ssrc=0x1234, pt=101, duration=160):
    """One RFC 4733 telephone-event RTP packet."""
    header = struct.pack("!BBHII", 0x80, pt | (0x80 if seq == 0 else 0), seq, ts, ssrc)
    payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
    return header + payload
