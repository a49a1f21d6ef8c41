#!/usr/bin/python3
"""bench/sip/run.py - concurrent SIP calls one opsbell node sustains against baresip callees.

Run it through bench/sip/run.sh (see bench/README.md). Python 3 standard
library only. Everything listens on 127.0.0.1, every process it starts is
stopped by its pid (also on Ctrl-C, a failure or the time limit), and the
whole run is bounded in time.

For each level N (--levels, default 5,10,20,40,80,160) it starts N headless
baresip callees (answermode=auto, a silent aufile microphone, ctrl_tcp for
events, rtp_stats for the RTP packets each call received), writes an
opsbell configuration with N users (one `sip` contact each, its own
baresip) in one team whose policy pages all of them at step 1 (one policy
and service per 100 users: a step targets at most 100), starts `opsbell
serve` on a fresh SQLite store, trusts every contact, and sends one alert
per service: N calls at once. Then it waits for every call to end (the
agent says the prompt three times and hangs up) and reports, per level:
calls established (each callee's CALL_ESTABLISHED), the time from the
alert's 2xx to the INVITE (the agent's log) and to each CALL_ESTABLISHED,
the call's length as the agent counted it and the RTP packets each callee
received (× 20 ms against that length: 1.000 when every frame left on
time and none was lost), the outcome of every notification
(GET /api/v1/incidents/{id}), opsbell's CPU and RSS, the CPU of its
busiest thread (the SIP agent's re_main thread, which sends every RTP
packet), and the callees' CPU.

The ramp stops at the first level where a call is lost, fails, is not
answered, establishes later than ring_timeout after the 2xx, or whose RTP
falls below --min-rtp (--all goes on anyway); the largest level without
any of those is the number sustained.
"""

import argparse
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

import benchlib  # noqa: E402
from benchlib import (CLK_TCK, BenchError, arm_signals, build_release, end_run,  # noqa: E402
                      free_port, http_req, log, log_machine, log_problems, machine_busy_jiffies,
                      machine_info, mib, pct, proc_cpu_seconds, proc_status, spawn, tail)

BARESIP = "/usr/bin/baresip"
MODULE_PATH = "/usr/lib/baresip/modules"
TEAM = "bench"
SERVICE = "bench-sip"
POLICY = "bench-sip-policy"
RTP_PORTS = "20000-29999"  # opsbell's; baresip keeps its default 10000-20000
PTIME_S = 0.020
STEP_USERS_MAX = 100  # users one escalation step may target (opsbell's limit)


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    """Stop one child of ours by its pid; SIGKILL if it does not go in time."""
    return benchlib.stop_or_kill(p, sig, timeout)


on_signal = benchlib.on_time_limit()


# ---- ports ------------------------------------------------------------------------

RESERVED = set()  # ports handed out during this run (baresip binds them a moment later)


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
    for _ in range(200):
        port = free_port()
        if port >= 65535 or {port, port + 1} & RESERVED:
            continue
        if _bindable(socket.SOCK_DGRAM, port) and _bindable(socket.SOCK_STREAM, port + 1):
            RESERVED.update((port, port + 1))
            return port
    raise BenchError("no free SIP port pair on 127.0.0.1")


def free_ctrl_port():
    for _ in range(200):
        port = free_port()
        if port not in RESERVED:
            RESERVED.add(port)
            return port
    raise BenchError("no free port on 127.0.0.1")


def silent_wav(path, seconds):
    """8 kHz mono 16-bit silence: baresip's aufile source (it ends the call
    when the file ends, so it must outlast max_call)."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * seconds)


# ---- a callee: headless baresip --------------------------------------------------------


class Callee:
    """baresip 1.0.0 as sip:USER@127.0.0.1:PORT in its own config directory,
    answering at once, with ctrl_tcp (events) and rtp_stats (at the end of
    a call it logs the RTP packets it sent and received: `packets: TX RX`)."""

    def __init__(self, workdir, user, wav, nice=0):
        self.user = user
        self.dir = os.path.join(workdir, "callees", user)
        os.makedirs(self.dir)
        self.sip_port = free_sip_port()
        self.ctrl_port = free_ctrl_port()
        self.uri = f"sip:{user}@127.0.0.1:{self.sip_port}"
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("".join([
                "poll_method epoll\n",
                f"sip_listen 127.0.0.1:{self.sip_port}\n",
                "net_interface 127.0.0.1\n",
                f"audio_source aufile,{wav}\n",
                "audio_player aufile,/dev/null\n",
                "audio_alert aufile,/dev/null\n",
                f"module_path {MODULE_PATH}\n",
                "module g711.so\n",
                "module aufile.so\n",
                "module_app account.so\n",
                "module_app menu.so\n",
                "module_app ctrl_tcp.so\n",
                f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}\n",
                "rtp_stats yes\n",
                "statmode_default off\n",
            ]))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<sip:{user}@127.0.0.1:{self.sip_port}>;regint=0;answermode=auto\n")
        self.logpath = os.path.join(self.dir, "baresip.log")
        self.events = []  # (time.time(), type, param)
        self.lock = threading.Lock()
        self.sock = None
        argv = [BARESIP, "-f", self.dir]
        if nice:  # nice(1) execs baresip: the pid stays baresip's
            argv = ["/usr/bin/nice", "-n", str(nice)] + argv
        self.proc = spawn(argv, self.logpath)

    def connect(self, deadline):
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"baresip {self.user} exited ({self.proc.returncode}):\n"
                                 + tail(self.logpath))
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"baresip {self.user}: ctrl_tcp not reachable:\n"
                                     + tail(self.logpath))
                time.sleep(0.05)
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
            now = time.time()
            buf += chunk
            while True:
                m = re.match(rb"^(\d+):", buf)
                if not m or len(buf) < m.end() + int(m.group(1)) + 1:
                    break
                body = buf[m.end():m.end() + int(m.group(1))]
                buf = buf[m.end() + int(m.group(1)) + 1:]
                try:
                    msg = json.loads(body)
                except ValueError:
                    continue
                if msg.get("event"):
                    with self.lock:
                        self.events.append((now, msg.get("type"), msg.get("param", "")))

    def first(self, type_):
        with self.lock:
            return next((t for t, k, _ in self.events if k == type_), None)

    def count(self, type_):
        with self.lock:
            return sum(1 for _, k, _ in self.events if k == type_)

    def closed_param(self):
        with self.lock:
            return next((p for _, k, p in self.events if k == "CALL_CLOSED"), None)

    def rtp_packets(self):
        """(packets received, packets sent) of the last call, from rtp_stats' lines."""
        try:
            with open(self.logpath, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        found = re.findall(r"^packets:\s+(\d+)\s+(\d+)", text, re.M)
        return (int(found[-1][1]), int(found[-1][0])) if found else None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        stop(self.proc, timeout=5.0)


# ---- the opsbell configuration ------------------------------------------------------------


def groups_of(callees):
    """The callees by service: a step targets at most STEP_USERS_MAX users."""
    return [callees[i:i + STEP_USERS_MAX] for i in range(0, len(callees), STEP_USERS_MAX)]


def service_name(g):
    return SERVICE if g == 0 else f"{SERVICE}-{g + 1}"


def write_config(workdir, port, callees, args):
    users = [c.user for c in callees]
    groups = groups_of(callees)
    os.makedirs(os.path.join(workdir, "teams", TEAM), exist_ok=True)
    os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
    lines = ["# The team of bench/sip: generated by bench/sip/run.py.",
             "team:",
             "  description: Concurrent SIP calls",
             f"  members: [{', '.join(users)}]",
             "services:"]
    for g in range(len(groups)):
        lines += [f"  - name: {service_name(g)}",
                  f"    escalation_policy: {POLICY}-{g + 1}"]
    lines += ["# Step 1 pages every user of its group at once; the next step is an hour away.",
              "escalation_policies:"]
    for g, group in enumerate(groups):
        lines += [f"  - name: {POLICY}-{g + 1}",
                  "    steps:",
                  "      - delay: 1h",
                  "        targets:",
                  f"          users: [{', '.join(c.user for c in group)}]"]
    with open(os.path.join(workdir, "teams", TEAM, "bench.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    lines = ["# The users of bench/sip: generated by bench/sip/run.py.", "users:"]
    for c in callees:
        lines += [f"  - name: {c.user}",
                  "    contact_methods:",
                  f"      - {{type: sip, address: \"{c.uri}\"}}",
                  "    notification_rules:",
                  "      - {type: sip, after: 0s}"]
    with open(os.path.join(workdir, "users.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    cfg = os.path.join(workdir, "opsbell.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join([
            "# opsbell.yaml for bench/sip: generated by bench/sip/run.py.",
            f"listen: 127.0.0.1:{port}",
            "storage: sqlite:data/opsbell.db",
            "log:",
            "  level: info",
            "users_file: users.yaml",
            "teams_dir: teams",
            "engine:",
            "  max_attempts: 1      # a failed call is a failure of the level, not retried",
            "notification_limits:",
            "  sip: {max: 0, per: 15m}   # no limit",
            "providers:",
            "  sip:",
            "    listen: 127.0.0.1:0",
            "    from_uri: sip:opsbell@127.0.0.1",
            f"    ring_timeout: {args.ring_timeout}s",
            f"    max_call: {args.max_call}s",
            f"    rtp_ports: {RTP_PORTS}",
        ]) + "\n")
    return cfg


# ---- sampling opsbell: process and threads --------------------------------------------------


def thread_cpu(pid):
    """{tid: CPU seconds} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


class Sampler:
    """Peak VmRSS of the server, sampled every 0.25 s while the calls run."""

    def __init__(self, pid):
        self.pid = pid
        self.rss_max = 0
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.halt.is_set():
            try:
                self.rss_max = max(self.rss_max, proc_status(self.pid)["VmRSS"])
            except OSError:
                return
            self.halt.wait(0.25)

    def stop(self):
        self.halt.set()
        self.thread.join(2)


# ---- one level ---------------------------------------------------------------------------


LOG_LINE = re.compile(r'^ts=(\S+) .*?subsystem=sip msg=("[^"]*"|\S+) call_id=(\S+)'
                      r'(?: to=sip:([^@\s]+)@)?')


def agent_times(logpath):
    """What the SIP agent logged per callee (user): time.time() of `calling`
    (the INVITE handed to libre), `call answered` (the 200) and `call ended`
    (the BYE), from opsbell's log (ts=...Z, milliseconds)."""
    by_call, user_of = {}, {}
    try:
        f = open(logpath, "rb")
    except OSError:
        return {}
    with f:
        for raw in f:
            m = LOG_LINE.match(raw.decode("utf-8", "replace"))
            if not m:
                continue
            try:
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                continue
            by_call.setdefault(m.group(3), {}).setdefault(m.group(2).strip('"'), t)
            if m.group(4):
                user_of[m.group(3)] = m.group(4)
    return {user_of[k]: v for k, v in by_call.items() if k in user_of}


def summary(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return {"n": 0, "min": None, "p50": None, "p99": None, "max": None}
    return {"n": len(v), "min": v[0], "p50": pct(v, 0.5), "p99": pct(v, 0.99), "max": v[-1]}


def api_incident(base, token, iid):
    status, body = http_req("GET", f"{base}/api/v1/incidents/{iid}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if status != 200:
        raise BenchError(f"GET /api/v1/incidents/{iid}: {status} {body[:200]!r}")
    return json.loads(body)


def run_level(args, n, workdir, wav):
    r = {"n": n}
    os.makedirs(workdir)
    callees = []
    proc = None
    logpath = os.path.join(workdir, "opsbell.log")
    try:
        t0 = time.monotonic()
        for i in range(n):
            callees.append(Callee(workdir, f"u{i + 1:03d}", wav, args.callee_nice))
        deadline = time.monotonic() + 30
        for c in callees:
            c.connect(deadline)
        r["callees_start_s"] = time.monotonic() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cfg = write_config(workdir, port, callees, args)
        ck = subprocess.run([args.opsbell, "check-config", "-c", cfg], capture_output=True,
                            text=True, timeout=30, cwd=workdir)
        if ck.returncode != 0:
            raise BenchError(f"check-config: {ck.stdout}{ck.stderr}")
        tok = subprocess.run([args.opsbell, "token", "create", "--name", "bench", "--scope",
                              "admin", "-c", cfg], capture_output=True, text=True, timeout=30,
                             cwd=workdir)
        if tok.returncode != 0:
            raise BenchError(f"token create: {tok.stderr.strip()}")
        token = tok.stdout.strip().splitlines()[-1]
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        proc = spawn([args.opsbell, "serve", "-c", cfg], logpath, cwd=workdir)
        benchlib.wait_healthy(base + "/healthz", proc, logpath)
        for c in callees:  # phone addresses are paged only once verified (or trusted)
            status, body = http_req("POST", f"{base}/api/v1/users/{c.user}/verifications/trust",
                                    json.dumps({"address": c.uri}).encode(), auth)
            if status != 201:
                raise BenchError(f"trust {c.user}: {status} {body[:200]!r}")
        r["rss_idle_kib"] = proc_status(proc.pid)["VmRSS"]
        time.sleep(0.5)

        # The trigger: one alert per group of at most 100 users (one incident,
        # up to 100 calls each), sent back to back.
        sampler = Sampler(proc.pid)
        cpu0, thr0 = proc_cpu_seconds(proc.pid), thread_cpu(proc.pid)
        callee_cpu0 = sum(proc_cpu_seconds(c.proc.pid) for c in callees)
        busy0, total0 = machine_busy_jiffies()
        mono0 = time.monotonic()
        groups = groups_of(callees)
        t2xx_of, iids, request_ms = {}, [], []
        for g, group in enumerate(groups):
            body = json.dumps({"service": service_name(g), "dedup_key": f"bench-sip-{n}-{g}",
                               "summary": "bench sip page", "severity": "critical",
                               "source": "bench-sip"}).encode()
            sent = time.time()
            status, resp = http_req("POST", f"{base}/api/v1/alerts", body, auth)
            t2xx = time.time()
            if status // 100 != 2:
                raise BenchError(f"POST /api/v1/alerts: {status} {resp[:200]!r}")
            iids.append(int(json.loads(resp)["alerts"][0]["incident_id"]))
            request_ms.append((t2xx - sent) * 1000)
            for c in group:
                t2xx_of[c.user] = t2xx
        r["request_ms"] = max(request_ms)
        r["incidents"] = iids

        # Wait for every call to end and every notification to settle.
        limit = mono0 + args.ring_timeout + args.max_call + 30
        rows = []
        while time.monotonic() < limit:
            if proc.poll() is not None:
                raise BenchError(f"opsbell exited ({proc.returncode}) during the calls:\n"
                                 + tail(logpath))
            rows = [x for iid in iids
                    for x in api_incident(base, token, iid).get("notifications", [])]
            settled = len(rows) >= n and all(x["state"] not in ("queued", "sending")
                                             for x in rows)
            ended = all(c.count("CALL_CLOSED") >= c.count("CALL_ESTABLISHED") for c in callees)
            if settled and ended:
                break
            time.sleep(0.5)
        r["timed_out"] = time.monotonic() >= limit
        mono1 = time.monotonic()
        busy1, total1 = machine_busy_jiffies()
        cpu1, thr1 = proc_cpu_seconds(proc.pid), thread_cpu(proc.pid)
        callee_cpu1 = sum(proc_cpu_seconds(c.proc.pid) for c in callees if c.proc.poll() is None)
        sampler.stop()
        time.sleep(0.3)  # rtcpsummary's line follows CALL_CLOSED

        r["window_s"] = mono1 - mono0
        r["server_cpu_s"] = cpu1 - cpu0
        r["server_cpu_pct"] = 100.0 * r["server_cpu_s"] / r["window_s"]
        deltas = sorted(((thr1.get(t, 0.0) - thr0.get(t, 0.0), t) for t in thr1), reverse=True)
        r["threads"] = len(thr1)
        r["top_thread_cpu_s"] = deltas[0][0] if deltas else 0.0
        r["top_thread_pct"] = 100.0 * r["top_thread_cpu_s"] / r["window_s"]
        r["second_thread_cpu_s"] = deltas[1][0] if len(deltas) > 1 else 0.0
        r["callee_cpu_s"] = callee_cpu1 - callee_cpu0
        r["callee_cpu_pct"] = 100.0 * r["callee_cpu_s"] / r["window_s"]
        ncpu = os.cpu_count() or 1
        r["machine_busy_pct"] = 100.0 * ncpu * (busy1 - busy0) / max(1, total1 - total0)
        st = proc_status(proc.pid)
        r["rss_peak_kib"] = max(sampler.rss_max, st["VmRSS"])
        r["hwm_kib"] = st["VmHWM"]
        r["callee_rss_kib"] = sum(proc_status(c.proc.pid)["VmRSS"] for c in callees
                                  if c.proc.poll() is None)

        # Per call.
        # The agent's own times (its log) tell opsbell's part from the callees':
        # 2xx → INVITE handed to libre, and the call's length as the agent
        # counted it (200 → BYE). Its RTP is paced against the clock: a call
        # of F frames lasts F × 20 ms when every frame left on time; a SIP
        # thread that falls behind gives up its backlog and the call grows
        # longer for the same frames (gaps in the audio).
        agent = agent_times(logpath)
        established, durations, ratios, packets, invites, lengths = [], [], [], [], [], []
        per = []
        for c in callees:
            te, tc = c.first("CALL_ESTABLISHED"), c.first("CALL_CLOSED")
            at = agent.get(c.user, {})
            rtp = c.rtp_packets()
            dur = tc - te if te is not None and tc is not None else None
            alen = (at["call ended"] - at["call answered"]
                    if "call ended" in at and "call answered" in at else None)
            ratio = rtp[0] * PTIME_S / alen if alen and rtp else None
            established.append(None if te is None else (te - t2xx_of[c.user]) * 1000)
            invites.append((at["calling"] - t2xx_of[c.user]) * 1000 if "calling" in at else None)
            durations.append(dur)
            lengths.append(alen)
            ratios.append(ratio)
            packets.append(rtp[0] if rtp else None)
            per.append({"user": c.user, "invite_ms": invites[-1],
                        "established_ms": established[-1], "callee_duration_s": dur,
                        "agent_length_s": alen, "rtp_rx": rtp[0] if rtp else None,
                        "rtp_ratio": ratio, "closed": c.closed_param(),
                        "calls": c.count("CALL_ESTABLISHED")})
        r["per_call"] = per
        r["established"] = summary(established)
        r["duration"] = summary(durations)
        r["invite"] = summary(invites)
        r["agent_length"] = summary(lengths)
        r["rtp_ratio"] = summary(ratios)
        r["rtp_packets"] = summary(packets)
        r["established_n"] = sum(1 for x in established if x is not None)
        r["late_n"] = sum(1 for x in established
                          if x is not None and x > args.ring_timeout * 1000)
        r["short_rtp_n"] = sum(1 for x in ratios if x is None or x < args.min_rtp)
        r["extra_calls_n"] = sum(max(0, c.count("CALL_ESTABLISHED") - 1) for c in callees)

        states, details = {}, {}
        for x in rows:
            states[x["state"]] = states.get(x["state"], 0) + 1
            d = re.sub(r"\d+", "N", (x.get("detail") or "").split(";", 1)[-1].strip())
            details[d] = details.get(d, 0) + 1
        r["rows"] = len(rows)
        r["states"] = states
        r["details"] = details
        r["answered_n"] = states.get("answered", 0)
        r["attempts_over_1"] = sum(1 for x in rows if (x.get("attempts") or 0) > 1)
        r["exit"] = stop(proc, timeout=20.0)
        r["log_problems"] = log_problems(logpath)
        r["sustained"] = (not r["timed_out"] and r["established_n"] == n and r["rows"] == n
                          and r["answered_n"] == n and r["late_n"] == 0
                          and r["short_rtp_n"] == 0 and r["extra_calls_n"] == 0)
        return r
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc, timeout=20.0)
        for c in callees:
            c.close()


# ---- report -------------------------------------------------------------------------------


def fnum(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def details(args, r):
    e, d, q, iv, al = (r["established"], r["duration"], r["rtp_ratio"], r["invite"],
                       r["agent_length"])
    log(f"  callees up in {r['callees_start_s']:.1f} s; alert POST → 2xx "
        f"{r['request_ms']:.1f} ms; "
        f"incidents {','.join(map(str, r['incidents']))}; window {r['window_s']:.1f} s"
        + (" (TIMED OUT)" if r["timed_out"] else ""))
    log(f"  2xx → INVITE (agent log) ms p50 {fnum(iv['p50'])} max {fnum(iv['max'])}; established "
        f"{r['established_n']}/{r['n']}; 2xx → CALL_ESTABLISHED ms p50 {fnum(e['p50'])} p99 "
        f"{fnum(e['p99'])} max {fnum(e['max'])}; later than ring_timeout: {r['late_n']}")
    log(f"  call length s: agent (200 → BYE) min {fnum(al['min'], 2)} p50 {fnum(al['p50'], 2)} "
        f"max {fnum(al['max'], 2)}, callee (ESTABLISHED → CLOSED events) min {fnum(d['min'], 2)} "
        f"max {fnum(d['max'], 2)}; RTP packets received per call min "
        f"{fnum(r['rtp_packets']['min'])} max {fnum(r['rtp_packets']['max'])}; received × 20 ms "
        f"÷ agent's call length min {fnum(q['min'], 3)} p50 {fnum(q['p50'], 3)} max "
        f"{fnum(q['max'], 3)}; below {args.min_rtp:g}: {r['short_rtp_n']}; second calls: "
        f"{r['extra_calls_n']}")
    log(f"  notifications {r['rows']}: {json.dumps(r['states'], sort_keys=True)}; details "
        f"{json.dumps(r['details'], sort_keys=True)}; more than one attempt {r['attempts_over_1']}")
    log(f"  opsbell CPU {r['server_cpu_s']:.2f} s = {r['server_cpu_pct']:.1f}% of one core "
        f"({r['threads']} threads; busiest {r['top_thread_cpu_s']:.2f} s = "
        f"{r['top_thread_pct']:.1f}%, next {r['second_thread_cpu_s']:.2f} s); RSS idle "
        f"{mib(r['rss_idle_kib']):.1f} MiB, peak {mib(r['rss_peak_kib']):.1f} MiB; callees CPU "
        f"{r['callee_cpu_s']:.2f} s = {r['callee_cpu_pct']:.0f}%, RSS "
        f"{mib(r['callee_rss_kib']):.0f}"
        f" MiB; machine busy {r['machine_busy_pct']:.0f}% of one core")
    if r["log_problems"]:
        log("  log warnings/errors: " + "; ".join(f"{k} ×{v}" for k, v in
                                                   sorted(r["log_problems"].items())))
    else:
        log("  log warnings/errors: none")
    bad = [p for p in r["per_call"] if p["established_ms"] is None or p["rtp_ratio"] is None
           or p["rtp_ratio"] < args.min_rtp or p["established_ms"] > args.ring_timeout * 1000]
    for p in bad[:10]:
        log(f"    {p['user']}: {json.dumps(p, default=str)}")
    log(f"  => {'sustained' if r['sustained'] else 'NOT sustained'}")


def report(args, machine, results, elapsed):
    log("")
    log("## opsbell concurrent SIP calls benchmark")
    log("")
    log(f"- machine: {machine['cores']} × {machine['cpu']}, {machine['memory']} RAM, Linux "
        f"{machine['kernel']}; busy before the run {machine['busy_before_pct']:.0f}% of all "
        f"cores (load average {' '.join(machine['loadavg'])})")
    build = ("release build" if args.opsbell == os.path.join(ROOT, "build", "release", "opsbell")
             else args.opsbell)
    log(f"- opsbell: {args.opsbell_version}, {build}; SQLite; providers.sip on 127.0.0.1, "
        f"ring_timeout {args.ring_timeout}s, max_call {args.max_call}s, rtp_ports {RTP_PORTS}")
    log("- load: one alert → one incident whose step 1 pages N users (one alert per 100 users "
        "above 100: a step targets at most 100), each with one sip contact "
        "(its own baresip 1.0.0, answermode=auto, on its own port); the agent speaks the "
        "prompt 3 times and hangs up")
    log("- times: the client's time.time() at the alert's 2xx and when each callee's ctrl_tcp "
        "event arrived; the agent's own `calling`, `call answered`, `call ended` log lines; RTP "
        "on time: packets each callee received (baresip's rtp_stats) × 20 ms ÷ the agent's "
        "call length (1.000 = every frame on time, none lost)"
        + (f"; callees run under nice {args.callee_nice}" if args.callee_nice else ""))
    log("")
    log("| N | established | answered | 2xx → INVITE ms p50 / max | 2xx → established ms "
        "p50 / p99 / max | agent call s min / max | RTP on time min / p50 | opsbell CPU % "
        "| busiest thread % | peak RSS MiB | callees CPU % | machine busy % | sustained |")
    log("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        e, al, q, iv = r["established"], r["agent_length"], r["rtp_ratio"], r["invite"]
        log(f"| {r['n']} | {r['established_n']}/{r['n']} | {r['answered_n']}/{r['n']} | "
            f"{fnum(iv['p50'])} / {fnum(iv['max'])} | "
            f"{fnum(e['p50'])} / {fnum(e['p99'])} / {fnum(e['max'])} | "
            f"{fnum(al['min'], 2)} / {fnum(al['max'], 2)} | "
            f"{fnum(q['min'], 3)} / {fnum(q['p50'], 3)} | "
            f"{r['server_cpu_pct']:.1f} | {r['top_thread_pct']:.1f} | "
            f"{mib(r['rss_peak_kib']):.1f} | "
            f"{r['callee_cpu_pct']:.0f} | {r['machine_busy_pct']:.0f} | "
            f"{'yes' if r['sustained'] else '**no**'} |")
    log("")
    ok = [r["n"] for r in results if r["sustained"]]
    first_bad = next((r["n"] for r in results if not r["sustained"]), None)
    best = max(ok) if ok else 0
    tail_note = (f"; not sustained at N = {first_bad}" if first_bad is not None
                 else "; no level failed (the ceiling is higher than the last level tried)")
    log(f"Largest N sustained: **{best}**{tail_note}. Total time {elapsed:.0f} s.")
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="5,10,20,40,80,160",
                    help="comma-separated numbers of simultaneous calls (5,10,20,40,80,160)")
    ap.add_argument("--all", action="store_true",
                    help="run every level even after one was not sustained")
    ap.add_argument("--ring-timeout", type=int, default=10,
                    help="providers.sip.ring_timeout s (10)")
    ap.add_argument("--max-call", type=int, default=30, help="providers.sip.max_call s (30)")
    ap.add_argument("--min-rtp", type=float, default=0.95,
                    help="least share of a call's 20 ms packets a callee must receive (0.95)")
    ap.add_argument("--callee-nice", type=int, default=0,
                    help="run the callees under nice N (0-19): on a small machine they compete "
                         "with opsbell for the cores; a niceness keeps opsbell's share as if "
                         "the phones were elsewhere (0)")
    ap.add_argument("--opsbell", default=os.path.join(ROOT, "build", "release", "opsbell"),
                    help="the opsbell binary (default build/release/opsbell, built if needed)")
    ap.add_argument("--no-build", action="store_true", help="do not run make")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--time-limit", type=int, default=300,
                    help="abort (and clean up) after this many seconds (300)")
    args = ap.parse_args()
    try:
        levels = [int(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("run.py: --levels: numbers separated by commas")
    if not levels or min(levels) < 1 or max(levels) > 500:
        raise SystemExit("run.py: --levels: from 1 to 500")
    if not 0 <= args.callee_nice <= 19:
        raise SystemExit("run.py: --callee-nice: from 0 to 19")
    if args.ring_timeout < 1 or args.max_call < 2:
        raise SystemExit("run.py: --ring-timeout and --max-call must be positive")
    if not os.access(BARESIP, os.X_OK):
        raise SystemExit(f"run.py: {BARESIP} not found (apt-get install baresip-core)")
    args.opsbell = os.path.abspath(args.opsbell)

    arm_signals(on_signal, args.time_limit)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="opsbell-bench-sip.")
    ok = False
    results = []
    try:
        if not args.no_build:
            build_release(timeout=400)
        v = subprocess.run([args.opsbell, "version"], capture_output=True, text=True, timeout=10)
        args.opsbell_version = ((v.stdout.strip() or v.stderr.strip()).splitlines() or ["?"])[0]
        log(f"# {args.opsbell_version}; run directory {tmp}")
        machine = machine_info(tmp)
        log_machine(machine)
        wav = os.path.join(tmp, "silence.wav")
        silent_wav(wav, args.ring_timeout + args.max_call + 20)
        for n in levels:
            per_level = args.ring_timeout + args.max_call + 60
            left = args.time_limit - (time.monotonic() - started)
            if left < per_level:
                log(f"# N = {n}: skipped, {left:.0f} s left of --time-limit {args.time_limit}")
                break
            log(f"# N = {n}: {n} baresip callees, one incident paging all of them")
            r = run_level(args, n, os.path.join(tmp, f"n{n}"), wav)
            details(args, r)
            results.append(r)
            if not r["sustained"] and not args.all:
                break
        report(args, machine, results, time.monotonic() - started)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine, "args": vars(args), "results": results}, f,
                          indent=1, default=str)
        ok = True
        return 0
    except BenchError as e:
        log(f"run.py: {e}")
        return 2
    finally:
        end_run(tmp, ok, args.keep, stop)


if __name__ == "__main__":
    sys.exit(main())
