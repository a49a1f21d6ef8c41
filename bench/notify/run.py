#!/usr/bin/python3
"""bench/notify/run.py - opsbell's notification latency, from an alert's 2xx to the provider call.

Run it through bench/notify/run.sh (see bench/README.md). Python 3 standard
library only. Everything listens on 127.0.0.1, every process it starts is
stopped (also on Ctrl-C or a failure), and the whole run is bounded in time.

For each store (SQLite, PostgreSQL) and each delivery (the `log` provider,
the `webhook` provider to a local receiver) it writes a configuration (one
team, one service whose policy's first step pages one user, whose one
notification rule fires after 0 s), starts `opsbell serve` on a fresh store
and sends --count alerts (1,000) through POST /api/v1/alerts at --rate per
second (200), paced open-loop: alert i leaves at start + i / rate whatever
happened to the others. Each alert has its own dedup key, so each opens an
incident; the client notes the wall-clock time of each 2xx and the
incident id in its body.

Then it reads, per incident, the times the server recorded - incident
created (ingest writer), escalation step taken (engine), outbox row handed to
a provider (`sending_at`, committed before the call) and outcome recorded
(`sent_at`) - and, for the webhook, the receiver's arrival time, and prints
the latency from the 2xx to each, with the server's own
opsbell_notification_first_attempt_seconds histogram as a cross-check.

A delivery is an entry of DELIVERIES (a class with the contact type, the
users/providers YAML, and a start/arrivals/stop life cycle for whatever
receives the pages); the store, the load and the report do not depend on it.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

import benchlib  # noqa: E402
from benchlib import (GOALERT_CYCLE_MS, GOALERT_MEAN_MS, BenchError, arm_signals,  # noqa: E402
                      build_release, end_run, free_port, http_req, log, log_machine,
                      log_problems, machine_busy_jiffies, machine_info, mib, pct, postmaster_pid,
                      proc_cpu_seconds, proc_status, spawn, start_postgres,
                      stop_postgres, tail, tree_cpu_seconds)

TEAM = "bench"
SERVICE = "bench-notify"
POLICY = "bench-notify-policy"
USER = "pager"
SECRET = "bench-notify-webhook-secret-0123456789"

TARGET_P99_MS = 50.0


# ---- shared helpers (bench/benchlib.py), with this benchmark's defaults ---------

stop = benchlib.stop_or_kill
on_signal = benchlib.on_time_limit()
wait_ready = benchlib.wait_healthy


# ---- the webhook receiver (a child process: `run.py receive DIR`) -----------------


def receive_main(workdir):
    """Answer every POST with 200 and append `arrival incident notification
    attempt signature_ok` to DIR/arrivals.txt, arrival = time.time() when the
    request's headers have been read. Writes its port to DIR/receiver.port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()
    out = open(os.path.join(workdir, "arrivals.txt"), "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ts = self.headers.get("X-Opsbell-Timestamp", "")
            sig = self.headers.get("X-Opsbell-Signature", "")
            want = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = sig.startswith("v1=") and hmac.compare_digest(want, sig[3:])
            try:
                doc = json.loads(body)
                line = (f"{arrived:.6f} {int(doc['incident_id'])} {int(doc['notification'])} "
                        f"{int(doc['attempt'])} {int(ok)}\n")
            except (ValueError, KeyError, TypeError):
                line = f"{arrived:.6f} 0 0 0 0\n"
            with lock:
                out.write(line)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default 5 would drop SYNs when 16 workers connect at once

    srv = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # every line is already written
    tmp = os.path.join(workdir, "receiver.port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(workdir, "receiver.port"))
    srv.serve_forever()


# ---- deliveries: what the pages go to --------------------------------------------------


class LogDelivery:
    """The `log` provider: one JSON line per notification in deliveries.jsonl.
    The line has no time of its own; the provider was called between the
    outbox row's sending_at and its sent_at."""

    name = "log"
    contact_type = "email"
    has_receiver = False

    def __init__(self, workdir):
        self.workdir = workdir
        self.path = os.path.join(workdir, "deliveries.jsonl")
        self.proc = None

    def start(self):
        pass

    def address(self):
        return f"{USER}@example.invalid"

    def providers_yaml(self):
        return ["providers:", "  log:", "    path: deliveries.jsonl"]

    def env(self):
        return {}

    def delivered(self):
        """Lines in deliveries.jsonl (progress only; times come from the store)."""
        try:
            with open(self.path, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def arrivals(self):
        return {}, {"lines": self.delivered()}

    def cpu_seconds(self):
        return 0.0

    def stop(self):
        pass


class WebhookDelivery:
    """The `webhook` provider (signed JSON POST through libcurl) to a
    receiver in a child process (`run.py receive DIR`), so that the
    benchmark's own threads do not delay its clock."""

    name = "webhook"
    contact_type = "webhook"
    has_receiver = True

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.port = None

    def start(self):
        portfile = os.path.join(self.workdir, "receiver.port")
        logpath = os.path.join(self.workdir, "receiver.log")
        self.proc = benchlib.spawn([sys.executable, os.path.abspath(__file__), "receive",
                                    self.workdir], logpath)
        deadline = time.monotonic() + 10
        while not os.path.exists(portfile):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the webhook receiver did not start:\n" + tail(logpath))
            time.sleep(0.02)
        with open(portfile) as f:
            self.port = int(f.read())

    def address(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def providers_yaml(self):
        return ["providers:", "  webhook:",
                "    signing_secret: env:OPSBELL_BENCH_WEBHOOK_SECRET"]

    def env(self):
        return {"OPSBELL_BENCH_WEBHOOK_SECRET": SECRET}

    def _lines(self):
        try:
            with open(os.path.join(self.workdir, "arrivals.txt")) as f:
                return [l.split() for l in f if l.strip()]
        except OSError:
            return []

    def delivered(self):
        return len(self._lines())

    def arrivals(self):
        """First arrival (s) per incident id, and counts."""
        first = {}
        bad = 0
        lines = self._lines()
        for t, inc, _nid, _att, ok in lines:
            if ok != "1":
                bad += 1
            inc = int(inc)
            if inc not in first or float(t) < first[inc]:
                first[inc] = float(t)
        return first, {"requests": len(lines), "bad_signatures": bad}

    def cpu_seconds(self):
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        return proc_cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc is not None:
            stop(self.proc)


# Each delivery: a contact type, its provider's YAML, and a receiver (or
# none) with start(), arrivals() -> ({incident_id: arrival s}, counts), stop().
DELIVERIES = {"log": LogDelivery, "webhook": WebhookDelivery}


# ---- the configuration --------------------------------------------------------------


def write_config(workdir, port, storage, delivery):
    os.makedirs(os.path.join(workdir, "teams", TEAM), exist_ok=True)
    with open(os.path.join(workdir, "teams", TEAM, "bench.yaml"), "w") as f:
        f.write("\n".join([
            "# The one team of bench/notify: generated by bench/notify/run.py.",
            "team:",
            "  description: Notification latency",
            f"  members: [{USER}]",
            "services:",
            f"  - name: {SERVICE}",
            f"    escalation_policy: {POLICY}",
            "# Step 1 pages one user at once; the next step is an hour away.",
            "escalation_policies:",
            f"  - name: {POLICY}",
            "    steps:",
            "      - delay: 1h",
            "        targets:",
            f"          users: [{USER}]",
        ]) + "\n")
    with open(os.path.join(workdir, "users.yaml"), "w") as f:
        f.write("\n".join([
            "# The one user of bench/notify: generated by bench/notify/run.py.",
            "users:",
            f"  - name: {USER}",
            "    contact_methods:",
            f"      - type: {delivery.contact_type}",
            f"        address: \"{delivery.address()}\"",
            "    notification_rules:",
            f"      - type: {delivery.contact_type}",
            "        after: 0s",
        ]) + "\n")
    cfg = os.path.join(workdir, "opsbell.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join([
            "# opsbell.yaml for bench/notify: generated by bench/notify/run.py.",
            "# engine.poll_interval is left at its default.",
            f"listen: 127.0.0.1:{port}",
            f"storage: {storage}",
            "log:",
            "  level: info",
            "users_file: users.yaml",
            "teams_dir: teams",
        ] + delivery.providers_yaml()) + "\n")
    return cfg


# ---- stores -------------------------------------------------------------------------

# Per incident of the run: what the server recorded (ms since the epoch).
TIMES_SQL = (
    "SELECT i.id, i.created_at, s.taken_at, o.sending_at, o.sent_at, o.state, o.attempts "
    "FROM incidents i "
    "LEFT JOIN outbox o ON o.id = (SELECT MIN(o2.id) FROM outbox o2 WHERE o2.incident_id = i.id) "
    "LEFT JOIN escalation_steps s ON s.incident_id = i.id AND s.seq = o.seq "
    f"WHERE i.service = '{SERVICE}'")


class SqliteStore:
    kind = "sqlite"
    label = "SQLite"

    def __init__(self, workdir):
        os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
        self.path = os.path.join(workdir, "data", "opsbell.db")

    def storage(self):
        return "sqlite:data/opsbell.db"

    def rows(self, sql):
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def scalar(self, sql):
        return self.rows(sql)[0][0]


class PgStore:
    kind = "pg"
    label = "PostgreSQL"

    def __init__(self, url):
        self.url = url

    def storage(self):
        return self.url

    def rows(self, sql):
        q = subprocess.run(["psql", self.url, "-X", "-A", "-t", "-q", "-F", "\x1f", "-v",
                            "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True,
                           timeout=120)
        if q.returncode != 0:
            raise BenchError(f"psql: {q.stderr.strip()}")
        return [tuple(_pg_value(v) for v in line.split("\x1f")) for line in q.stdout.splitlines()
                if line]

    def scalar(self, sql):
        return self.rows(sql)[0][0]


def _pg_value(v):
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        return v


def pg_database(base_url, name):
    """A fresh database on the cluster of base_url; its URL."""
    q = subprocess.run(["psql", base_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"CREATE DATABASE {name}"], capture_output=True, text=True, timeout=60)
    if q.returncode != 0:
        raise BenchError(f"psql CREATE DATABASE {name}: {q.stderr.strip()}")
    return base_url.rsplit("/", 1)[0] + "/" + name


# ---- the load ------------------------------------------------------------------------


def send_alerts(port, token, count, rate, senders, tag, start_at):
    """POST alert i (0 <= i < count) at start_at + i / rate (time.monotonic()),
    open loop: sender thread k sends i = k, k + senders, ... over its own
    keep-alive connection and waits for i's turn, not for the others.
    Returns one dict per alert: scheduled, sent and 2xx times (time.time()),
    status, incident id."""
    results = [None] * count
    mono0, wall0 = time.monotonic(), time.time()

    def sender(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            for i in range(k, count, senders):
                due = start_at + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                body = json.dumps({"service": SERVICE, "dedup_key": f"{tag}-{i}",
                                   "summary": f"bench/notify alert {tag} {i}",
                                   "severity": "critical", "source": "bench-notify"}).encode()
                r = {"i": i, "scheduled": wall0 + (due - mono0), "status": None,
                     "incident": None, "error": None}
                r["sent"] = time.time()
                try:
                    conn.request("POST", "/api/v1/alerts", body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    r["answered"] = time.time()
                    r["status"] = resp.status
                    if 200 <= resp.status < 300:
                        r["incident"] = int(json.loads(data)["alerts"][0]["incident_id"])
                    else:
                        r["error"] = data[:200].decode("utf-8", "replace")
                except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                    r["answered"] = time.time()
                    r["error"] = f"{type(e).__name__}: {e}"
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                results[i] = r
        finally:
            conn.close()

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ---- /metrics -------------------------------------------------------------------------


def notify_metrics(base):
    status, body = http_req("GET", base + "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics: {status}")
    m = {"buckets": [], "count": None, "sum": None, "outcomes": {}, "ingest_events": None,
         "ingest_commits": None, "steps": None}
    for line in body.decode().splitlines():
        b = re.match(r'^opsbell_notification_first_attempt_seconds_bucket\{le="([^"]+)"\} (\d+)',
                     line)
        if b:
            le = float("inf") if b.group(1) == "+Inf" else float(b.group(1))
            m["buckets"].append((le, int(b.group(2))))
            continue
        e = re.match(r'^opsbell_ingest_events_total\{outcome="[^"]+"\} (\d+)', line)
        if e:
            m["ingest_events"] = (m["ingest_events"] or 0) + int(e.group(1))
            continue
        o = re.match(r'^opsbell_notifications_total\{outcome="([^"]+)",provider="([^"]+)"\} (\d+)',
                     line)
        if o:
            m["outcomes"][f"{o.group(2)}/{o.group(1)}"] = int(o.group(3))
            continue
        for key, name in (("count", "opsbell_notification_first_attempt_seconds_count"),
                          ("sum", "opsbell_notification_first_attempt_seconds_sum"),
                          ("ingest_commits", "opsbell_ingest_commits_total"),
                          ("steps", "opsbell_engine_steps_total")):
            s = re.match(r"^" + name + r" ([0-9.eE+-]+)$", line)
            if s:
                m[key] = float(s.group(1))
    return m


def histogram_share(buckets, count, bound):
    for le, n in buckets:
        if abs(le - bound) < 1e-9:
            return 100.0 * n / count if count else None
    return None


def histogram_quantile_bound(buckets, count, q):
    """The upper bound of the bucket holding quantile q, as text."""
    if not count:
        return "—"
    for le, n in sorted(buckets):
        if n >= q * count:
            return "+Inf" if le == float("inf") else f"≤ {le * 1000:g} ms"
    return "?"


# ---- statistics ------------------------------------------------------------------------


def summary(values):
    v = sorted(values)
    if not v:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None,
                "min": None}
    return {"n": len(v), "min": v[0], "p50": pct(v, 0.5), "p90": pct(v, 0.9), "p99": pct(v, 0.99),
            "max": v[-1], "mean": statistics.fmean(v)}


# ---- one run: a store and a delivery ----------------------------------------------------


def run_one(args, store, delivery_cls, workdir, tag):
    os.makedirs(workdir, exist_ok=True)
    delivery = delivery_cls(workdir)
    r = {"store": store.kind, "delivery": delivery.name,
         "label": f"{store.label}, {delivery.name}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, **delivery.env())
    logpath = os.path.join(workdir, "opsbell.log")
    proc = None
    try:
        delivery.start()
        cfg = write_config(workdir, port, store.storage(), delivery)
        ck = subprocess.run([args.opsbell, "check-config", "-c", cfg], capture_output=True,
                            text=True, timeout=30, cwd=workdir, env=env)
        if ck.returncode != 0:
            raise BenchError(f"check-config: {ck.stdout}{ck.stderr}")
        tok = subprocess.run([args.opsbell, "token", "create", "--name", "bench", "--scope",
                              "admin", "-c", cfg], capture_output=True, text=True, timeout=30,
                             cwd=workdir, env=env)
        if tok.returncode != 0:
            raise BenchError(f"token create: {tok.stderr.strip()}")
        token = tok.stdout.strip().splitlines()[-1]

        proc = spawn([args.opsbell, "serve", "-c", cfg], logpath, env=env, cwd=workdir)
        wait_ready(base + "/healthz", proc, logpath)
        helper = postmaster_pid(os.path.join(os.path.dirname(workdir), "pg")) \
            if store.kind == "pg" else None
        r["rss_idle_kib"] = proc_status(proc.pid)["VmRSS"]

        # Warm-up: a few alerts at the same pace, not counted (first
        # statements prepared, caches filled, the receiver's first thread).
        if args.warmup:
            warm = send_alerts(port, token, args.warmup, args.rate, args.senders, f"{tag}-warm",
                               time.monotonic() + 0.05)
            bad = [w for w in warm if w["incident"] is None]
            if bad:
                raise BenchError(f"warm-up: {len(bad)} alerts without a 2xx, e.g. {bad[0]}")
            wdeadline = time.monotonic() + 30
            while delivery_count(store) < args.warmup and time.monotonic() < wdeadline:
                time.sleep(0.05)
            time.sleep(0.5)
        warm_ids = set(row[0] for row in store.rows(
            f"SELECT id FROM incidents WHERE service = '{SERVICE}'"))

        # The measurement.
        m0 = notify_metrics(base)
        cpu0 = proc_cpu_seconds(proc.pid)
        h0 = tree_cpu_seconds(helper) if helper else 0.0
        rc0 = delivery.cpu_seconds()
        busy0, total0 = machine_busy_jiffies()
        w0 = time.monotonic()
        log(f"  opsbell pid {proc.pid} on {base}; {args.count} alerts at {args.rate:g}/s "
            f"({args.senders} senders)")
        sent = send_alerts(port, token, args.count, args.rate, args.senders, tag,
                           time.monotonic() + 0.1)
        w_sent = time.monotonic()
        ok = [s for s in sent if s["incident"] is not None]
        r["sent"] = len(sent)
        r["ok"] = len(ok)
        r["errors"] = [s["error"] or f"HTTP {s['status']}" for s in sent if s["incident"] is None]
        ids = {s["incident"] for s in ok}
        r["distinct_incidents"] = len(ids)
        # Every page delivered (or the settle timeout).
        deadline = time.monotonic() + args.settle_timeout
        settled = 0
        while True:
            if proc.poll() is not None:
                raise BenchError(f"opsbell serve exited with {proc.returncode}:\n" + tail(logpath))
            settled = delivery_count(store)
            got = delivery.delivered() if delivery.has_receiver else settled
            if settled >= len(ids) + len(warm_ids) and got >= len(ids) + len(warm_ids):
                break
            if time.monotonic() > deadline:
                log(f"  WARNING: after {args.settle_timeout:g} s only {settled} pages settled")
                break
            time.sleep(0.05 if store.kind == "sqlite" else 0.2)
        w1 = time.monotonic()
        cpu1 = proc_cpu_seconds(proc.pid)
        h1 = tree_cpu_seconds(helper) if helper else 0.0
        rc1 = delivery.cpu_seconds()
        busy1, total1 = machine_busy_jiffies()
        m1 = notify_metrics(base)
        st = proc_status(proc.pid)
        r["rss_peak_kib"] = st["VmHWM"]
        secs = w1 - w0
        r["active_s"] = secs
        r["send_s"] = w_sent - w0
        r["server_cpu_s"] = cpu1 - cpu0
        r["server_cpu_pct"] = 100.0 * (cpu1 - cpu0) / secs
        r["server_cpu_us_per_alert"] = 1e6 * (cpu1 - cpu0) / max(1, len(ok))
        r["pg_cpu_s"] = (h1 - h0) if helper else None
        r["pg_cpu_pct"] = 100.0 * (h1 - h0) / secs if helper else None
        r["receiver_cpu_pct"] = 100.0 * (rc1 - rc0) / secs
        machine_pct = 100.0 * (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
        r["machine_cpu_pct"] = machine_pct
        # Everything but the server and PostgreSQL: the benchmark's own client
        # and receiver, and anything else running on the machine.
        r["other_cpu_pct"] = max(0.0, machine_pct - r["server_cpu_pct"] - (r["pg_cpu_pct"] or 0.0))
        r["exit"] = stop(proc)

        # What the server and the receiver recorded, per incident.
        arrivals, counts = delivery.arrivals()
        r["delivery_counts"] = counts
        times = {row[0]: row for row in store.rows(TIMES_SQL)}
        r["outbox_states"] = {}
        for s in ok:
            row = times.get(s["incident"])
            state = row[5] if row is not None and row[5] is not None else "(no row)"
            r["outbox_states"][state] = r["outbox_states"].get(state, 0) + 1
        r["attempts_over_1"] = sum(1 for s in ok if times.get(s["incident"])
                                   and (times[s["incident"]][6] or 0) > 1)
        series = {k: [] for k in ("request", "lag", "created", "step", "sending", "sent", "arrival",
                                  "h_step", "h_pickup", "h_call", "create_to_sending")}
        for s in ok:
            t2xx = s["answered"] * 1000.0
            series["request"].append(t2xx - s["sent"] * 1000.0)
            series["lag"].append((s["sent"] - s["scheduled"]) * 1000.0)
            row = times.get(s["incident"])
            if row is None:
                continue
            _id, created, taken, sending, sent_at = row[:5]
            series["created"].append(t2xx - created)  # created -> 2xx
            if taken is not None:
                series["step"].append(taken - t2xx)
            if sending is not None:
                series["sending"].append(sending - t2xx)
                series["create_to_sending"].append(sending - created)
            if sent_at is not None:
                series["sent"].append(sent_at - t2xx)
            if taken is not None:
                series["h_step"].append(taken - created)
                if sending is not None:
                    series["h_pickup"].append(sending - taken)
            a = arrivals.get(s["incident"])
            if a is not None:
                series["arrival"].append(a * 1000.0 - t2xx)
                if sending is not None:
                    series["h_call"].append(a * 1000.0 - sending)
        r["stats"] = {k: summary(v) for k, v in series.items()}
        r["headline_key"] = "arrival" if delivery.has_receiver else "sending"
        r["headline"] = r["stats"][r["headline_key"]]
        # The server's histogram over the measurement (from incident creation
        # to the first attempt handed to a provider).
        buckets = [(le, n - dict(m0["buckets"]).get(le, 0)) for le, n in m1["buckets"]]
        cnt = (m1["count"] or 0) - (m0["count"] or 0)
        r["hist_count"] = int(cnt)
        r["hist_le_50ms_pct"] = histogram_share(buckets, cnt, 0.05)
        r["hist_le_10ms_pct"] = histogram_share(buckets, cnt, 0.01)
        r["hist_p50"] = histogram_quantile_bound(buckets, cnt, 0.5)
        r["hist_p99"] = histogram_quantile_bound(buckets, cnt, 0.99)
        r["hist_mean_ms"] = 1000.0 * ((m1["sum"] or 0) - (m0["sum"] or 0)) / cnt if cnt else None
        ev = (m1["ingest_events"] or 0) - (m0["ingest_events"] or 0)
        cm = (m1["ingest_commits"] or 0) - (m0["ingest_commits"] or 0)
        r["events_per_commit"] = ev / cm if cm else None
        r["outcomes"] = {k: v - m0["outcomes"].get(k, 0) for k, v in m1["outcomes"].items()
                         if v - m0["outcomes"].get(k, 0)}
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc)
        delivery.stop()
    r["log_problems"] = log_problems(logpath)
    return r


def delivery_count(store):
    """Outbox rows of the benchmark's incidents that are settled (delivered or not)."""
    return store.scalar(f"SELECT COUNT(*) FROM outbox WHERE state NOT IN ('queued', 'sending') "
                        f"AND incident_id IN (SELECT id FROM incidents WHERE service = '{SERVICE}')")


# ---- report -----------------------------------------------------------------------------


def fms(x, digits=1):
    return "—" if x is None else f"{x:,.{digits}f}"


def dist(s, digits=1):
    """p50 / p90 / p99 / max of a summary()."""
    if not s["n"]:
        return "—"
    return " / ".join(fms(s[k], digits) for k in ("p50", "p90", "p99", "max"))


def verdict(r):
    p99 = r["headline"]["p99"]
    return p99 is not None and p99 < TARGET_P99_MS and r["ok"] == r["sent"] \
        and r["headline"]["n"] == r["ok"]


def details(args, r):
    st = r["stats"]
    log(f"  alerts: {r['sent']} sent, {r['ok']} got a 2xx ({r['distinct_incidents']} distinct "
        f"incidents)" + (f"; failures: {r['errors'][:3]}" if r["errors"] else "")
        + f"; sent over {r['send_s']:.2f} s, send lag behind schedule ms p50/p99/max "
        f"{fms(st['lag']['p50'])}/{fms(st['lag']['p99'])}/{fms(st['lag']['max'])}")
    log(f"  outbox rows: {json.dumps(r['outbox_states'], sort_keys=True)}; more than one attempt: "
        f"{r['attempts_over_1']}; delivery: {json.dumps(r['delivery_counts'], sort_keys=True)}; "
        f"/metrics outcomes {json.dumps(r['outcomes'], sort_keys=True)}")
    for key, what in (("request", "POST → 2xx (client)"),
                      ("created", "incident created (writer) → 2xx"),
                      ("step", "2xx → escalation step taken (engine)"),
                      ("sending", "2xx → handed to the provider (outbox.sending_at)"),
                      ("arrival", "2xx → webhook receiver arrival"),
                      ("sent", "2xx → outcome recorded (outbox.sent_at)"),
                      ("h_step", "hop: created → step taken"),
                      ("h_pickup", "hop: step taken → sending_at"),
                      ("h_call", "hop: sending_at → receiver arrival"),
                      ("create_to_sending", "created → sending_at (what /metrics measures)")):
        s = st[key]
        if not s["n"]:
            continue
        log(f"  {what:52s} n {s['n']:5d}  ms min {fms(s['min'])} p50 {fms(s['p50'])} "
            f"p90 {fms(s['p90'])} p99 {fms(s['p99'])} max {fms(s['max'])} mean {fms(s['mean'])}")
    log(f"  /metrics opsbell_notification_first_attempt_seconds over the run: count "
        f"{r['hist_count']}, ≤ 10 ms {fms(r['hist_le_10ms_pct'])}%, ≤ 50 ms "
        f"{fms(r['hist_le_50ms_pct'])}%, p50 {r['hist_p50']}, p99 {r['hist_p99']}, mean "
        f"{fms(r['hist_mean_ms'])} ms; ingest events/commit {fms(r['events_per_commit'], 2)}")
    log(f"  CPU over {r['active_s']:.1f} s (first alert to last page): server "
        f"{r['server_cpu_s']:.2f} s = {r['server_cpu_pct']:.0f}% of one core "
        f"({r['server_cpu_us_per_alert']:.0f} µs per alert and page)"
        + (f", PostgreSQL {r['pg_cpu_s']:.2f} s = {r['pg_cpu_pct']:.0f}%"
           if r["pg_cpu_s"] is not None else "")
        + (f", receiver {r['receiver_cpu_pct']:.0f}%" if r["delivery"] == "webhook" else "")
        + f", everything else (this client included) {r['other_cpu_pct']:.0f}%")
    log(f"  RSS MiB: idle {mib(r['rss_idle_kib']):.1f}, peak {mib(r['rss_peak_kib']):.1f}; "
        f"serve exit status after SIGTERM: {r['exit']}")
    if r["log_problems"]:
        log("  log warnings/errors: " + "; ".join(f"{k} ×{v}" for k, v in
                                                   sorted(r["log_problems"].items())))
    else:
        log("  log warnings/errors: none")


def report(args, machine, results, elapsed):
    log("")
    log("## opsbell notification-latency benchmark")
    log("")
    log(f"- machine: {machine['cores']} × {machine['cpu']}, {machine['memory']} RAM, Linux "
        f"{machine['kernel']}; run directory on {machine['fs']}; fdatasync of 4 KiB there p50 "
        f"{machine['fsync_p50_ms']:.2f} ms, p99 {machine['fsync_p99_ms']:.2f} ms; busy before the "
        f"run {machine['busy_before_pct']:.0f}% of all cores")
    log(f"- load: {args.count:,} alerts through POST /api/v1/alerts at {args.rate:g}/s, paced "
        f"open-loop from {args.senders} keep-alive connections, each a new incident whose policy "
        f"pages one user at once (rule after 0s); {args.warmup} warm-up alerts before, not counted")
    pg = ""
    if hasattr(args, "pg_version"):
        pg = f"; PostgreSQL {args.pg_version} (scripts/pg-test.sh) with {args.pg_settings_seen}"
    build = ("release build" if args.opsbell == os.path.join(ROOT, "build", "release", "opsbell")
             else args.opsbell)
    log(f"- opsbell: {args.opsbell_version}, {build}; SQLite synchronous=FULL (WAL){pg}; "
        f"engine.poll_interval default")
    log("- times: the client's time.time() when the 2xx was read; the server's outbox.sending_at "
        "(attempt handed to the provider, committed before the call) and sent_at (outcome "
        "recorded); the receiver's time.time() when a webhook's headers were read")
    log("")
    log("| | " + " | ".join(r["label"] for r in results) + " |")
    log("|---|" + "--:|" * len(results))

    def row(name, fn):
        log(f"| {name} | " + " | ".join(fn(r) for r in results) + " |")

    row("alerts sent / 2xx / paged", lambda r: f"{r['sent']:,} / {r['ok']:,} / "
        f"{r['headline']['n']:,}")
    row("POST → 2xx ms p50 / p99", lambda r: f"{fms(r['stats']['request']['p50'])} / "
        f"{fms(r['stats']['request']['p99'])}")
    row("2xx → step taken ms p50 / p99", lambda r: f"{fms(r['stats']['step']['p50'])} / "
        f"{fms(r['stats']['step']['p99'])}")
    row("**2xx → handed to provider** (sending_at) ms p50 / p90 / p99 / max",
        lambda r: dist(r["stats"]["sending"]))
    row("**2xx → webhook received** ms p50 / p90 / p99 / max",
        lambda r: dist(r["stats"]["arrival"]))
    row("2xx → outcome recorded (sent_at) ms p50 / p99",
        lambda r: f"{fms(r['stats']['sent']['p50'])} / {fms(r['stats']['sent']['p99'])}")
    row("/metrics first attempt: ≤ 50 ms (p99 bucket)",
        lambda r: f"{fms(r['hist_le_50ms_pct'])}% ({r['hist_p99']})")
    row(f"target p99 < {TARGET_P99_MS:g} ms", lambda r: "PASS" if verdict(r) else "MISS")
    row("p99 vs GoAlert's cycle (2,500 ms mean / 5,000 ms worst)",
        lambda r: "—" if r["headline"]["p99"] is None else
        f"{100.0 * r['headline']['p99'] / GOALERT_MEAN_MS:.2f}% / "
        f"{100.0 * r['headline']['p99'] / GOALERT_CYCLE_MS:.2f}%")
    row("server CPU s (% of one core)",
        lambda r: f"{r['server_cpu_s']:.2f} ({r['server_cpu_pct']:.0f}%)")
    row("PostgreSQL CPU s (% of one core)",
        lambda r: "—" if r["pg_cpu_s"] is None else f"{r['pg_cpu_s']:.2f} ({r['pg_cpu_pct']:.0f}%)")
    row("other CPU % (client, receiver, noise)", lambda r: f"{r['other_cpu_pct']:.0f}%")
    row("peak RSS MiB", lambda r: f"{mib(r['rss_peak_kib']):.1f}")
    log("")
    log("The p99 judged against the target: the webhook's arrival at the receiver (end to end); "
        "for the log provider, sending_at (its call follows at once on a worker thread; the "
        "line has no time of its own, sent_at bounds it from above).")
    for r in results:
        p99 = r["headline"]["p99"]
        if p99 is None:
            continue
        log(f"- {r['label']}: p99 {p99:,.1f} ms, {GOALERT_MEAN_MS / max(p99, 0.1):,.0f}× below "
            f"GoAlert's mean wait of 2,500 ms and {GOALERT_CYCLE_MS / max(p99, 0.1):,.0f}× below "
            f"its worst 5,000 ms (its documented 5 s engine cycle, not measured here).")
    log("")
    log(f"Total time {elapsed:.0f} s.")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "receive":
        receive_main(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="alerts (incidents) per run (1000)")
    ap.add_argument("--rate", type=float, default=200.0, help="alerts per second (200)")
    ap.add_argument("--senders", type=int, default=16,
                    help="client threads, one keep-alive connection each (16)")
    ap.add_argument("--warmup", type=int, default=20, help="alerts sent first, not counted (20)")
    ap.add_argument("--only", default="",
                    help="comma-separated subset of sqlite,pg,log,webhook (default: all)")
    ap.add_argument("--settle-timeout", type=float, default=60.0,
                    help="seconds after the last alert to wait for every page (60)")
    ap.add_argument("--pg-fast", action="store_true",
                    help="leave scripts/pg-test.sh's fsync=off and synchronous_commit=off")
    ap.add_argument("--opsbell", default=os.path.join(ROOT, "build", "release", "opsbell"),
                    help="the opsbell binary (default build/release/opsbell, built if needed)")
    ap.add_argument("--no-build", action="store_true", help="do not run make")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--time-limit", type=int, default=0,
                    help="abort (and clean up) after this many seconds (default: runs × "
                         "(count / rate + settle-timeout + 60) + 300)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    unknown = only - {"sqlite", "pg"} - set(DELIVERIES)
    if unknown:
        raise SystemExit(f"run.py: --only: unknown {','.join(sorted(unknown))}")
    stores = [k for k in ("sqlite", "pg") if k in only] or ["sqlite", "pg"]
    deliveries = [k for k in DELIVERIES if k in only] or list(DELIVERIES)
    if args.count < 1 or args.rate <= 0 or args.senders < 1 or args.warmup < 0:
        raise SystemExit("run.py: --count, --rate and --senders must be positive")
    args.opsbell = os.path.abspath(args.opsbell)
    runs = len(stores) * len(deliveries)
    if not args.time_limit:
        args.time_limit = int(runs * (args.count / args.rate + args.settle_timeout + 60) + 300)

    arm_signals(on_signal, args.time_limit)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="opsbell-bench-notify.")
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
        for kind in stores:
            sdir = os.path.join(tmp, kind)
            os.makedirs(sdir)
            pg_url = start_postgres(args, sdir) if kind == "pg" else None
            for name in deliveries:
                workdir = os.path.join(sdir, name)
                if kind == "pg":
                    store = PgStore(pg_database(pg_url, f"notify_{name}"))
                else:
                    store = SqliteStore(workdir)
                log(f"# opsbell {store.label}, {name} provider")
                r = run_one(args, store, DELIVERIES[name], workdir, f"{kind}-{name}")
                details(args, r)
                results.append(r)
            if kind == "pg":
                stop_postgres(sdir)
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
