#!/usr/bin/python3
"""bench/engine/run.py - opsbell's escalation-engine benchmark (SQLite and PostgreSQL).

Run it through bench/engine/run.sh (see bench/README.md). Python 3 standard
library only. Everything listens on 127.0.0.1, every process it starts is
stopped (also on Ctrl-C or a failure), and the whole run is bounded in time.

For each store it: writes a configuration (20 users, 50 schedules of varied
shape, one service whose policy's first step pages one user and one
schedule) into a temporary directory, starts `opsbell serve` once to create
the schema, stops it, bulk-inserts N open incidents whose escalations are due
at evenly spaced instants over a window that opens a few seconds later,
starts `opsbell serve` again and waits until the engine has taken every
step. Then it reads how late each step was taken (escalation_steps.taken_at
- due_at) from the database, cross-checks with the server's own histogram on
/metrics, reports the server's CPU and peak RSS (and PostgreSQL's CPU), and
times GET /api/v1/oncall for a team of 50 schedules and for one schedule over
one keep-alive connection.
"""

import argparse
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

import benchlib  # noqa: E402
from benchlib import (BenchError, arm_signals, build_release, end_run, free_port, http_req,  # noqa: E402
                      log, log_machine, log_problems, machine_busy_jiffies, machine_info, mib,
                      pct, postmaster_pid, proc_cpu_seconds, proc_status, signal_handler,
                      spawn, start_postgres, stop_postgres, tail, tree_cpu_seconds)

TEAM = "bench"
SERVICE = "bench-engine"
POLICY = "bench-engine-policy"
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# GoAlert's engine runs one cycle every 5 s by default (its --engine-cycle-time);
# a step due at a uniformly random instant waits for the next cycle: up to 5 s,
# 2.5 s on average. Documented behaviour, not measured here.
GOALERT_CYCLE_MS = 5000.0
GOALERT_MEAN_MS = GOALERT_CYCLE_MS / 2

TARGET_P99_MS = 100.0
TARGET_ONCALL_MS = 1.0


# ---- shared helpers (bench/benchlib.py), with this benchmark's defaults ---------


def stop(p, sig=signal.SIGTERM, timeout=20.0):
    """Stop one child of ours by its pid; SIGKILL if it does not go in time."""
    return benchlib.stop(p, sig, timeout, killed="killed (did not stop in time)")


on_signal = signal_handler(" (the time limit; see --time-limit)")


def wait_ready(url, proc, logpath, timeout=30.0):
    return benchlib.wait_ready(url, proc, logpath, timeout, interval=0.05)


def now_ms():
    return int(time.time() * 1000)


# ---- the configuration --------------------------------------------------------------


def user_names(n):
    return [f"user{i:02d}" for i in range(1, n + 1)]


def schedule_specs(n_schedules, users):
    """n_schedules schedules of varied shape, the same every run.

    Schedule i: a weekly, daily or every-3-days rotation (i mod 3) of 3 to 8
    users (3 + i mod 6) handing off at one of four times, in one of four
    time zones (i mod 4); schedules with i mod 5 in {1, 3} (20 of 50) get a
    second layer: weekday business hours or weekend daytime, of three other
    users, some in another zone than the schedule's.
    """
    shapes = [("weekly", "FREQ=WEEKLY"), ("daily", "FREQ=DAILY"),
              ("every 3 days", "FREQ=DAILY;INTERVAL=3")]
    handoffs = ["09:00", "10:00", "08:30", "17:00"]
    starts = ["2026-01-05", "2026-01-07", "2026-02-02", "2026-03-16"]
    nu = len(users)
    specs = []
    for i in range(n_schedules):
        shape, rrule = shapes[i % 3]
        size = 3 + i % 6
        first = (i * 7) % nu
        rot = [users[(first + k) % nu] for k in range(size)]
        layers = [{"name": "primary", "start": starts[i % 4], "handoff": handoffs[i % 4],
                   "rrule": rrule, "users": rot}]
        if i % 5 in (1, 3):
            other = [users[(first + size + k) % nu] for k in range(3)]
            layer = {"name": "cover", "start": "2026-01-05", "handoff": "09:00",
                     "rrule": "FREQ=WEEKLY", "users": other}
            if i % 5 == 1:
                layer["restrictions"] = [{"days": DAYS[:5], "from": "09:00", "to": "17:00"}]
            else:
                layer["restrictions"] = [{"days": DAYS[5:], "from": "08:00", "to": "20:00"}]
            if i % 10 == 3:
                layer["time_zone"] = ZONES[(i + 1) % 4]
            layers.append(layer)
        specs.append({"name": f"sched-{i:02d}", "shape": shape, "time_zone": ZONES[i % 4],
                      "layers": layers})
    return specs


def yaml_list(items):
    return "[" + ", ".join(items) + "]"


def team_yaml(specs, users, policy_user, policy_schedule, second_schedule):
    out = [
        "# The one team of bench/engine: generated by bench/engine/run.py.",
        "team:",
        "  description: Load generator for bench/engine",
        f"  members: {yaml_list(users)}",
        "",
        "services:",
        f"  - name: {SERVICE}",
        "    description: Incidents inserted straight into the store by the benchmark",
        f"    escalation_policy: {POLICY}",
        "",
        "# Step 1 pages one user and whoever is on call on one schedule; its delay is",
        "# long, so that each incident takes exactly one step during the run.",
        "escalation_policies:",
        f"  - name: {POLICY}",
        "    steps:",
        "      - delay: 1h",
        "        targets:",
        f"          users: [{policy_user}]",
        f"          schedules: [{policy_schedule}]",
        "      - delay: 1h",
        "        targets:",
        f"          schedules: [{second_schedule}]",
        "",
        "schedules:",
    ]
    for s in specs:
        out += [f"  - name: {s['name']}",
                f"    description: {s['shape']} rotation, {len(s['layers'])} layer(s)",
                f"    time_zone: {s['time_zone']}",
                "    layers:"]
        for layer in s["layers"]:
            out += [f"      - name: {layer['name']}",
                    f"        start: \"{layer['start']}\"",
                    f"        handoff: \"{layer['handoff']}\"",
                    f"        rrule: \"{layer['rrule']}\""]
            if "time_zone" in layer:
                out.append(f"        time_zone: {layer['time_zone']}")
            out.append(f"        users: {yaml_list(layer['users'])}")
            if "restrictions" in layer:
                out.append("        restrictions:")
                for r in layer["restrictions"]:
                    out += [f"          - days: {yaml_list(r['days'])}",
                            f"            from: \"{r['from']}\"",
                            f"            to: \"{r['to']}\""]
    return "\n".join(out) + "\n"


def users_yaml(users):
    out = ["# Users of bench/engine: generated by bench/engine/run.py.", "users:"]
    for u in users:
        out += [f"  - name: {u}",
                "    contact_methods:",
                "      - type: email",
                f"        address: {u}@example.invalid",
                "    notification_rules:",
                "      - type: email",
                "        after: 0s"]
    return "\n".join(out) + "\n"


def main_yaml(port, storage, deliveries):
    return "\n".join([
        "# opsbell.yaml for bench/engine: generated by bench/engine/run.py.",
        f"listen: 127.0.0.1:{port}",
        f"storage: {storage}",
        "log:",
        "  level: info",
        "users_file: users.yaml",
        "teams_dir: teams",
        "providers:",
        "  log:",
        f"    path: {deliveries}",
    ]) + "\n"


def write_config(args, workdir, port, storage):
    users = user_names(args.users)
    specs = schedule_specs(args.schedules, users)
    # The policy's schedule: the first two-layer one with restrictions (the
    # costliest kind to resolve), the second step's: a plain rotation.
    two = [s["name"] for s in specs if len(s["layers"]) > 1]
    policy_schedule = two[0] if two else specs[0]["name"]
    second = specs[0]["name"]
    os.makedirs(os.path.join(workdir, "teams", TEAM), exist_ok=True)
    with open(os.path.join(workdir, "teams", TEAM, "bench.yaml"), "w") as f:
        f.write(team_yaml(specs, users, users[0], policy_schedule, second))
    with open(os.path.join(workdir, "users.yaml"), "w") as f:
        f.write(users_yaml(users))
    cfg = os.path.join(workdir, "opsbell.yaml")
    with open(cfg, "w") as f:
        f.write(main_yaml(port, storage, "deliveries.jsonl"))
    return cfg, specs, policy_schedule


# ---- stores ---------------------------------------------------------------------------

INCIDENT_INSERT = ("INSERT INTO incidents (service, team, incident_key, status, summary, severity, "
                   "silenced, alert_count, open_alerts, created_at, updated_at, open_key) ")
ESCALATION_INSERT = ("INSERT INTO escalations (incident_id, policy, state, next_step, next_pass, "
                     "seq, next_at, started_at, updated_at) ")


def escalation_select(base_ms, window_ms, count):
    """Escalation i (0-based, by incident id) is due at base + i * window / count."""
    return (f"SELECT i.id, '{POLICY}', 'active', 0, 0, 0, "
            f"{base_ms} + ((i.id - m.lo) * {window_ms}) / {count}, i.created_at, i.created_at "
            f"FROM incidents i, (SELECT MIN(id) AS lo FROM incidents WHERE service = '{SERVICE}') m "
            f"WHERE i.service = '{SERVICE}'")


class SqliteStore:
    kind = "sqlite"
    label = "SQLite"

    def __init__(self, path):
        self.path = path
        self.db = None

    def storage(self):
        return "sqlite:data/opsbell.db"

    def connect(self):
        if self.db is None:
            self.db = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=30,
                                      isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 30000")
        return self.db

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def rows(self, sql):
        return self.connect().execute(sql).fetchall()

    def scalar(self, sql):
        return self.rows(sql)[0][0]

    def preload(self, count, lead_ms, window_ms):
        """All incidents and escalations in one transaction; returns the first due time."""
        db = self.connect()
        created = now_ms()
        db.execute("BEGIN")
        try:
            db.executemany(
                INCIDENT_INSERT + "VALUES (?, ?, ?, 'triggered', ?, 'critical', 0, 0, 0, ?, ?, ?)",
                ((SERVICE, TEAM, f"bench-{i}", f"Bench incident {i}", created, created,
                  f"{SERVICE}\nbench-{i}") for i in range(count)))
            base = now_ms() + lead_ms
            db.execute(ESCALATION_INSERT + escalation_select(base, window_ms, count))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.close()  # the last connection checkpoints the WAL into the database
        return base

    def extra_info(self):
        return "synchronous=FULL (WAL)"


class PgStore:
    kind = "pg"
    label = "PostgreSQL"

    def __init__(self, url):
        self.url = url

    def storage(self):
        return self.url

    def close(self):
        pass

    def psql(self, sql, stdin=None, timeout=300, single=False):
        argv = ["psql", self.url, "-X", "-A", "-t", "-q", "-F", "\x1f", "-v", "ON_ERROR_STOP=1"]
        if single:
            argv.append("-1")
        if stdin is None:
            argv += ["-c", sql]
        q = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
        if q.returncode != 0:
            raise BenchError(f"psql: {q.stderr.strip()}")
        return q.stdout

    def rows(self, sql):
        out = self.psql(sql)
        return [tuple(_pg_value(v) for v in line.split("\x1f")) for line in out.splitlines()
                if line]

    def scalar(self, sql):
        return self.rows(sql)[0][0]

    def preload(self, count, lead_ms, window_ms):
        created = now_ms()
        self.psql(None, single=True, stdin=(
            INCIDENT_INSERT
            + f"SELECT '{SERVICE}', '{TEAM}', 'bench-' || g, 'triggered', 'Bench incident ' || g, "
              f"'critical', 0, 0, 0, {created}, {created}, '{SERVICE}' || chr(10) || 'bench-' || g "
              f"FROM generate_series(0, {count - 1}) AS g;\n"))
        base = now_ms() + lead_ms
        self.psql(None, single=True, stdin=ESCALATION_INSERT
                  + escalation_select(base, window_ms, count) + ";\n")
        # What autovacuum would do before long, and a checkpoint so that
        # flushing the bulk load does not happen during the measurement.
        self.psql("ANALYZE")
        self.psql("CHECKPOINT")
        return base

    def extra_info(self):
        return ""


def _pg_value(v):
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        return v


# ---- /metrics -------------------------------------------------------------------------


def engine_metrics(base):
    status, body = http_req("GET", base + "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics: {status}")
    m = {"buckets": [], "steps": None, "notifications": None, "rounds_failed": None,
         "count": None, "sum": None}
    for line in body.decode().splitlines():
        b = re.match(r'^opsbell_engine_step_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if b:
            le = float("inf") if b.group(1) == "+Inf" else float(b.group(1))
            m["buckets"].append((le, int(b.group(2))))
            continue
        for key, name in (("steps", "opsbell_engine_steps_total"),
                          ("notifications", "opsbell_engine_notifications_total"),
                          ("rounds_failed", "opsbell_engine_rounds_failed_total"),
                          ("count", "opsbell_engine_step_lateness_seconds_count"),
                          ("sum", "opsbell_engine_step_lateness_seconds_sum")):
            s = re.match(r"^" + name + r" ([0-9.eE+-]+)$", line)
            if s:
                m[key] = float(s.group(1))
    return m


def histogram_quantile_bound(buckets, count, q):
    """The upper bound (s) of the bucket holding quantile q, as text."""
    if not count:
        return "—"
    for le, n in sorted(buckets):
        if n >= q * count:
            return "+Inf" if le == float("inf") else f"{le * 1000:g} ms"
    return "?"


# ---- oncall -----------------------------------------------------------------------------


def time_requests(port, path, token, n, warmup, expect):
    """n GETs of path over one keep-alive connection; ascending latencies in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    reconnects = 0
    try:
        for i in range(warmup + n):
            if i > 0 and conn.sock is None:
                reconnects += 1
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise BenchError(f"GET {path}: HTTP {r.status}: {body[:300]!r}")
            if i == 0:
                got = len(json.loads(body).get("oncall", []))
                if got != expect:
                    raise BenchError(f"GET {path}: {got} schedules in the answer, expected {expect}")
                sample = json.loads(body)["oncall"][0]
            if i >= warmup:
                times.append(dt)
    finally:
        conn.close()
    times.sort()
    return {"n": n, "p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99), "max_ms": times[-1],
            "mean_ms": statistics.fmean(times), "reconnects": reconnects, "sample": sample}


# ---- one store --------------------------------------------------------------------------


def run_store(args, kind, workdir):
    os.makedirs(workdir)
    r = {"store": kind}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if kind == "sqlite":
        os.makedirs(os.path.join(workdir, "data"))
        store = SqliteStore(os.path.join(workdir, "data", "opsbell.db"))
    else:
        store = PgStore(start_postgres(args, workdir))
        r["pg_settings"] = args.pg_settings_seen
        r["pg_version"] = args.pg_version
    r["label"] = store.label
    cfg, specs, policy_schedule = write_config(args, workdir, port, store.storage())
    r["policy_schedule"] = policy_schedule
    ck = subprocess.run([args.opsbell, "check-config", "-c", cfg], capture_output=True, text=True,
                        timeout=30, cwd=workdir)
    if ck.returncode != 0:
        raise BenchError(f"check-config: {ck.stdout}{ck.stderr}")

    # 1. The schema: one serve applies the migrations.
    logpath = os.path.join(workdir, "opsbell.log")
    proc = spawn([args.opsbell, "serve", "-c", cfg], logpath, cwd=workdir)
    try:
        wait_ready(base + "/healthz", proc, logpath)
    finally:
        code = stop(proc)
    if code != 0:
        raise BenchError(f"opsbell serve (migrations) exited with {code}:\n" + tail(logpath))
    tok = subprocess.run([args.opsbell, "token", "create", "--name", "bench", "--scope", "admin",
                          "-c", cfg], capture_output=True, text=True, timeout=30, cwd=workdir)
    if tok.returncode != 0:
        raise BenchError(f"token create: {tok.stderr.strip()}")
    token = tok.stdout.strip().splitlines()[-1]

    # 2. The load, straight into the store.
    t0 = time.monotonic()
    first_due = store.preload(args.count, int(args.lead * 1000), int(args.window * 1000))
    r["preload_s"] = time.monotonic() - t0
    n_esc = store.scalar("SELECT COUNT(*) FROM escalations WHERE state = 'active'")
    if n_esc != args.count:
        raise BenchError(f"preload: {n_esc} active escalations, expected {args.count}")
    last_due = store.scalar("SELECT MAX(next_at) FROM escalations")
    log(f"  preloaded {args.count} incidents + escalations in {r['preload_s']:.1f} s; due from "
        f"{(first_due - now_ms()) / 1000:.1f} s from now over {(last_due - first_due) / 1000:.1f} s")

    # 3. The engine at work.
    proc = spawn([args.opsbell, "serve", "-c", cfg], logpath, cwd=workdir)
    try:
        wait_ready(base + "/healthz", proc, logpath)
        ready = now_ms()
        r["lead_after_ready_s"] = (first_due - ready) / 1000
        if first_due <= ready:
            log(f"  WARNING: the first step was due {(ready - first_due) / 1000:.1f} s before the "
                f"server was ready (raise --lead)")
        helper = postmaster_pid(os.path.join(workdir, "pg")) if kind == "pg" else None
        log(f"  opsbell pid {proc.pid} on {base}; first step due in {r['lead_after_ready_s']:.1f} s"
            + (f"; postmaster pid {helper}" if helper else ""))
        r["rss_idle_kib"] = proc_status(proc.pid)["VmRSS"]
        # CPU from the first due time on (the idle wait before it is not the engine's work).
        delay = (first_due - now_ms()) / 1000 - 0.05
        if delay > 0:
            time.sleep(delay)
        w0 = time.monotonic()
        cpu0 = proc_cpu_seconds(proc.pid)
        h0 = tree_cpu_seconds(helper) if helper else 0.0
        busy0, total0 = machine_busy_jiffies()
        deadline = w0 + args.window + args.step_timeout
        taken = 0
        last_report = w0
        while True:
            if proc.poll() is not None:
                raise BenchError(f"opsbell serve exited with {proc.returncode}:\n" + tail(logpath))
            taken = store.scalar("SELECT COUNT(*) FROM escalation_steps")
            if taken >= args.count:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"only {taken} of {args.count} steps taken after "
                                 f"{time.monotonic() - w0:.0f} s (see --step-timeout); log:\n"
                                 + tail(logpath))
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                log(f"  {time.monotonic() - w0:4.0f} s: {taken} steps taken")
            time.sleep(args.poll)
        w1 = time.monotonic()
        cpu1 = proc_cpu_seconds(proc.pid)
        h1 = tree_cpu_seconds(helper) if helper else 0.0
        busy1, total1 = machine_busy_jiffies()
        r["rss_after_steps_kib"] = proc_status(proc.pid)["VmHWM"]
        secs = w1 - w0
        log(f"  all {taken} steps taken {secs:.1f} s after the first was due")

        # The notifications of the last steps may still be on their way.
        queued = None
        qdeadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < qdeadline:
            queued = store.scalar("SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')")
            if queued == 0:
                break
            time.sleep(args.poll)
        r["outbox_unsent"] = queued
        r["active_s"] = secs
        r["server_cpu_s"] = cpu1 - cpu0
        r["server_cpu_pct"] = 100.0 * (cpu1 - cpu0) / secs
        r["server_cpu_us_per_step"] = 1e6 * (cpu1 - cpu0) / args.count
        r["pg_cpu_s"] = (h1 - h0) if helper else None
        r["pg_cpu_pct"] = 100.0 * (h1 - h0) / secs if helper else None
        machine_pct = 100.0 * (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
        r["other_cpu_pct"] = max(0.0, machine_pct - r["server_cpu_pct"] - (r["pg_cpu_pct"] or 0.0))

        # 4. Lateness, from the store and from the server's own histogram.
        lat = sorted(int(row[0]) for row in store.rows(
            "SELECT taken_at - due_at FROM escalation_steps"))
        r["steps"] = len(lat)
        r["lat_p50_ms"] = pct(lat, 0.5)
        r["lat_p99_ms"] = pct(lat, 0.99)
        r["lat_p999_ms"] = pct(lat, 0.999)
        r["lat_max_ms"] = lat[-1]
        r["lat_mean_ms"] = statistics.fmean(lat)
        r["late_over_100"] = sum(1 for v in lat if v > TARGET_P99_MS)
        r["early"] = sum(1 for v in lat if v < 0)
        span = store.rows("SELECT MIN(due_at), MAX(due_at), MIN(taken_at), MAX(taken_at) "
                          "FROM escalation_steps")[0]
        r["due_span_s"] = (span[1] - span[0]) / 1000
        r["taken_span_s"] = (span[3] - span[0]) / 1000
        r["offered_per_s"] = args.count / max(1e-9, args.window)
        r["steps_per_s"] = len(lat) / max(1e-3, (span[3] - span[0]) / 1000)
        # Lateness over the window, in 10 slices of due time: a backlog
        # grows slice by slice, a hiccup shows in one.
        lo = span[0]
        width = max(1, int(args.window * 1000 / 10))
        r["slices"] = [(int(b), int(n), int(p), int(mx)) for b, n, p, mx in store.rows(
            f"SELECT (due_at - {lo}) / {width} AS b, COUNT(*), "
            f"SUM(CASE WHEN taken_at - due_at > {int(TARGET_P99_MS)} THEN 1 ELSE 0 END), "
            f"MAX(taken_at - due_at) FROM escalation_steps GROUP BY 1 ORDER BY 1")]
        dup = store.scalar("SELECT COUNT(*) - COUNT(DISTINCT incident_id) FROM escalation_steps")
        r["duplicate_steps"] = dup
        states = dict(store.rows("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        r["outbox_states"] = states
        sent = sorted(int(row[0]) for row in store.rows(
            "SELECT o.sent_at - s.due_at FROM outbox o JOIN escalation_steps s "
            "ON s.incident_id = o.incident_id AND s.seq = o.seq WHERE o.sent_at IS NOT NULL"))
        r["sent"] = len(sent)
        r["sent_p50_ms"] = pct(sent, 0.5)
        r["sent_p99_ms"] = pct(sent, 0.99)
        r["sent_max_ms"] = sent[-1] if sent else float("nan")
        try:
            with open(os.path.join(workdir, "deliveries.jsonl"), "rb") as f:
                r["delivery_lines"] = sum(1 for _ in f)
        except OSError:
            r["delivery_lines"] = 0
        if kind == "pg":
            # Where PostgreSQL spent its effort: scans and commits over the whole run.
            r["pg_tables"] = store.rows(
                "SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_upd, "
                "n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables "
                "WHERE relname IN ('incidents', 'escalations', 'escalation_steps', 'outbox', "
                "'incident_events', 'schedule_overrides') ORDER BY relname")
            r["pg_commits"] = store.scalar(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        m = engine_metrics(base)
        r["metrics"] = m
        cnt = m["count"] or 0
        le100 = next((n for le, n in m["buckets"] if abs(le - 0.1) < 1e-9), None)
        r["hist_count"] = int(cnt)
        r["hist_le_100ms_pct"] = 100.0 * le100 / cnt if cnt and le100 is not None else None
        r["hist_p50"] = histogram_quantile_bound(m["buckets"], cnt, 0.5)
        r["hist_p99"] = histogram_quantile_bound(m["buckets"], cnt, 0.99)
        r["hist_mean_ms"] = 1000.0 * m["sum"] / cnt if cnt else None

        # 5. oncall: a team of 50 schedules, and one schedule.
        team_path = f"/api/v1/oncall?team={TEAM}"
        one_path = f"/api/v1/oncall?schedule={policy_schedule}"
        r["oncall_team"] = time_requests(port, team_path, token, args.oncall_team_requests, 10,
                                         len(specs))
        r["oncall_one"] = time_requests(port, one_path, token, args.oncall_schedule_requests, 20, 1)
        st = proc_status(proc.pid)
        r["rss_end_kib"] = st["VmRSS"]
        r["rss_peak_kib"] = st["VmHWM"]
        r["exit"] = stop(proc)
    finally:
        if proc.poll() is None:
            stop(proc)
        store.close()
    r["log_problems"] = log_problems(logpath)
    if kind == "pg":
        stop_postgres(workdir)
    return r


# ---- report -----------------------------------------------------------------------------


def f0(x):
    return "—" if x is None else f"{x:,.0f}"


def f1(x):
    return "—" if x is None else f"{x:,.1f}"


def f2(x):
    return "—" if x is None else f"{x:.2f}"


def f3(x):
    return "—" if x is None else f"{x:.3f}"


def details(args, r):
    log(f"  lateness ms (taken_at - due_at): p50 {r['lat_p50_ms']} p99 {r['lat_p99_ms']} p99.9 "
        f"{r['lat_p999_ms']} max {r['lat_max_ms']} mean {r['lat_mean_ms']:.1f}; "
        f"{r['late_over_100']} over 100 ms, {r['early']} early, {r['duplicate_steps']} duplicates")
    log(f"  /metrics: opsbell_engine_steps_total {f0(r['metrics']['steps'])}, lateness histogram "
        f"count {r['hist_count']}, ≤ 100 ms {f2(r['hist_le_100ms_pct'])}%, p50 in bucket ≤ "
        f"{r['hist_p50']}, p99 in bucket ≤ {r['hist_p99']}, mean {f1(r['hist_mean_ms'])} ms; "
        f"rounds failed {f0(r['metrics']['rounds_failed'])}")
    log(f"  steps due over {r['due_span_s']:.1f} s, last taken {r['taken_span_s']:.1f} s after the "
        f"first was due; offered {r['offered_per_s']:.0f} steps/s, taken {r['steps_per_s']:.0f}/s")
    log("  by tenth of the window (steps due, > 100 ms late, max ms): "
        + ", ".join(f"{n}/{late}/{mx}" for _b, n, late, mx in r["slices"]))
    log(f"  notifications: outbox {json.dumps(r['outbox_states'], sort_keys=True)}, "
        f"{r['delivery_lines']} lines in deliveries.jsonl; delivered - step due ms: p50 "
        f"{r['sent_p50_ms']} p99 {r['sent_p99_ms']} max {r['sent_max_ms']}"
        + (f"; {r['outbox_unsent']} still unsent {args.drain_timeout:g} s after the last step"
           if r["outbox_unsent"] else ""))
    log(f"  CPU over the {r['active_s']:.1f} s from the first due time to the last step: server "
        f"{r['server_cpu_s']:.1f} s = {r['server_cpu_pct']:.0f}% of one core "
        f"({r['server_cpu_us_per_step']:.0f} µs/step)"
        + (f", PostgreSQL {r['pg_cpu_s']:.1f} s = {r['pg_cpu_pct']:.0f}%" if r["pg_cpu_s"] is not None
           else "")
        + f", everything else {r['other_cpu_pct']:.0f}%")
    if r.get("pg_tables"):
        log(f"  PostgreSQL: {r['pg_commits']:,} commits in the database since it was created "
            f"({r['pg_commits'] / max(1, r['steps']):.2f} per step, all clients); per table "
            "(seq scans/rows read, index scans/rows fetched, updates/HOT, dead rows): "
            + "; ".join(f"{t[0]} {t[1]}/{t[2]}, {t[3]}/{t[4]}, {t[5]}/{t[6]}, {t[7]}"
                        for t in r["pg_tables"]))
    log(f"  RSS MiB: idle {mib(r['rss_idle_kib']):.1f}, peak after the steps "
        f"{mib(r['rss_after_steps_kib']):.1f}, end {mib(r['rss_end_kib']):.1f}, peak (VmHWM) "
        f"{mib(r['rss_peak_kib']):.1f}")
    for key, what in (("oncall_team", f"oncall team ({args.schedules} schedules)"),
                      ("oncall_one", f"oncall schedule {r['policy_schedule']}")):
        o = r[key]
        log(f"  {what}: {o['n']} requests, ms p50 {o['p50_ms']:.3f} p99 {o['p99_ms']:.3f} max "
            f"{o['max_ms']:.3f} mean {o['mean_ms']:.3f}; reconnects {o['reconnects']}")
    log(f"  sample answer: {json.dumps(r['oncall_one']['sample'])[:300]}")
    log(f"  serve exit status after SIGTERM: {r['exit']}")
    if r["log_problems"]:
        log("  log warnings/errors: " + "; ".join(f"{k} ×{v}" for k, v in
                                                   sorted(r["log_problems"].items())))
    else:
        log("  log warnings/errors: none")


def report(args, machine, results, elapsed):
    log("")
    log("## opsbell escalation-engine benchmark")
    log("")
    log(f"- machine: {machine['cores']} × {machine['cpu']}, {machine['memory']} RAM, Linux "
        f"{machine['kernel']}; run directory on {machine['fs']}; fdatasync of 4 KiB there p50 "
        f"{machine['fsync_p50_ms']:.2f} ms, p99 {machine['fsync_p99_ms']:.2f} ms; busy before the "
        f"run {machine['busy_before_pct']:.0f}% of all cores")
    log(f"- load: {args.count:,} open incidents, each with one escalation step due, due times "
        f"evenly spaced over {args.window:g} s (opening {args.lead:g} s after the load); "
        f"step 1 pages one user and one two-layer schedule, 1 email rule each (log provider)")
    pg = ""
    if hasattr(args, "pg_version"):
        pg = f"; PostgreSQL {args.pg_version} (scripts/pg-test.sh) with {args.pg_settings_seen}"
    build = ("release build" if args.opsbell == os.path.join(ROOT, "build", "release", "opsbell")
             else args.opsbell)
    log(f"- opsbell: {args.opsbell_version}, {build}; SQLite synchronous=FULL (WAL){pg}")
    log("- lateness = escalation_steps.taken_at - due_at (taken_at is when the engine's round "
        "claimed the step); oncall timed from Python's http.client over one keep-alive connection")
    log("")
    head = "| | " + " | ".join(r["label"] for r in results) + " |"
    log(head)
    log("|---|" + "--:|" * len(results))

    def row(name, fn):
        log(f"| {name} | " + " | ".join(fn(r) for r in results) + " |")

    row("incidents (steps taken)", lambda r: f"{args.count:,} ({r['steps']:,})")
    row("window s", lambda r: f"{args.window:g}")
    row("steps/s offered (taken)", lambda r: f"{r['offered_per_s']:,.0f} ({r['steps_per_s']:,.0f})")
    row("lateness p50 ms", lambda r: f"{r['lat_p50_ms']}")
    row("lateness p99 ms", lambda r: f"{r['lat_p99_ms']}")
    row("lateness max ms", lambda r: f"{r['lat_max_ms']}")
    row("steps later than 100 ms", lambda r: f"{r['late_over_100']:,}")
    row("/metrics histogram: ≤ 100 ms", lambda r: f"{f2(r['hist_le_100ms_pct'])}% of {r['hist_count']:,}")
    row("page delivered − due p50 / p99 ms",
        lambda r: f"{r['sent_p50_ms']} / {r['sent_p99_ms']}"
                  + (f" ({r['outbox_unsent']:,} not yet sent)" if r["outbox_unsent"] else ""))
    row("server CPU s (% of one core)",
        lambda r: f"{r['server_cpu_s']:.1f} ({r['server_cpu_pct']:.0f}%)")
    row("PostgreSQL CPU s (% of one core)",
        lambda r: "—" if r["pg_cpu_s"] is None else f"{r['pg_cpu_s']:.1f} ({r['pg_cpu_pct']:.0f}%)")
    row("other processes' CPU % (noise)", lambda r: f"{r['other_cpu_pct']:.0f}%")
    row("peak RSS MiB", lambda r: f"{mib(r['rss_peak_kib']):.1f}")
    row(f"oncall team ({args.schedules} schedules) p50 / p99 ms",
        lambda r: f"{r['oncall_team']['p50_ms']:.2f} / {r['oncall_team']['p99_ms']:.2f}")
    row("… per schedule p50 / p99 ms",
        lambda r: f"{r['oncall_team']['p50_ms'] / args.schedules:.3f} / "
                  f"{r['oncall_team']['p99_ms'] / args.schedules:.3f}")
    row("oncall 1 schedule p50 / p99 ms",
        lambda r: f"{r['oncall_one']['p50_ms']:.3f} / {r['oncall_one']['p99_ms']:.3f}")
    log("")
    for r in results:
        p99 = r["lat_p99_ms"]
        log(f"- {r['label']} vs GoAlert's documented 5 s engine cycle (not measured here: a step "
            f"due at a random instant waits up to 5,000 ms, 2,500 ms on average): opsbell's p99 "
            f"{p99} ms is {100.0 * p99 / GOALERT_MEAN_MS:.2f}% of GoAlert's mean 2,500 ms "
            f"and {100.0 * p99 / GOALERT_CYCLE_MS:.2f}% of its worst 5,000 ms"
            + (f" ({GOALERT_MEAN_MS / p99:,.0f}× / {GOALERT_CYCLE_MS / p99:,.0f}× lower)"
               if 0 < p99 <= GOALERT_MEAN_MS else
               f" ({p99 / GOALERT_MEAN_MS:.1f}× / {p99 / GOALERT_CYCLE_MS:.1f}× higher)"
               if p99 > GOALERT_MEAN_MS else ""))
    log("")
    for r in results:
        ok_p99 = r["lat_p99_ms"] < TARGET_P99_MS
        one = r["oncall_one"]
        ok_one = one["p99_ms"] < TARGET_ONCALL_MS
        one_text = ("met" if ok_one else
                    ("met at p50 but NOT at p99" if one["p50_ms"] < TARGET_ONCALL_MS else "NOT met"))
        log(f"- Targets, {r['label']}: lateness p99 < 100 ms: {'met' if ok_p99 else 'NOT met'} "
            f"({r['lat_p99_ms']} ms); oncall for one schedule < 1 ms: {one_text} "
            f"(p50 {one['p50_ms']:.3f} ms, p99 {one['p99_ms']:.3f} ms)")
    log("")
    log(f"Total time {elapsed:.0f} s.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100000, help="open incidents (100000)")
    ap.add_argument("--window", type=float, default=300.0,
                    help="seconds over which their steps fall due (300: five minutes, the "
                         "order of a policy's step delays; 60 is the stress run)")
    ap.add_argument("--lead", type=float, default=10.0,
                    help="seconds from the end of the load to the first due time (10)")
    ap.add_argument("--schedules", type=int, default=50, help="schedules of the team (50)")
    ap.add_argument("--users", type=int, default=20, help="users (20, at least 11)")
    ap.add_argument("--oncall-team-requests", type=int, default=200,
                    help="timed GET /api/v1/oncall?team= requests (200)")
    ap.add_argument("--oncall-schedule-requests", type=int, default=500,
                    help="timed GET /api/v1/oncall?schedule= requests (500)")
    ap.add_argument("--step-timeout", type=float, default=300.0,
                    help="seconds after the window closes to wait for the last step (300)")
    ap.add_argument("--drain-timeout", type=float, default=120.0,
                    help="seconds after the last step to wait for the outbox to drain (120)")
    ap.add_argument("--poll", type=float, default=1.0,
                    help="seconds between counts of escalation_steps (1)")
    ap.add_argument("--only", default="", help="comma-separated subset of sqlite,pg (default: both)")
    ap.add_argument("--pg-fast", action="store_true",
                    help="leave scripts/pg-test.sh's fsync=off and synchronous_commit=off")
    ap.add_argument("--opsbell", default=os.path.join(ROOT, "build", "release", "opsbell"),
                    help="the opsbell binary (default build/release/opsbell, built if needed)")
    ap.add_argument("--no-build", action="store_true", help="do not run make")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--time-limit", type=int, default=0,
                    help="abort (and clean up) after this many seconds (default: stores × "
                         "(window + lead + step-timeout + drain-timeout) + 300)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(","))) or {"sqlite", "pg"}
    if only - {"sqlite", "pg"}:
        raise SystemExit(f"run.py: --only: unknown {','.join(sorted(only - {'sqlite', 'pg'}))}")
    if args.count < 1 or args.window <= 0 or args.schedules < 1 or args.users < 11:
        # 11: a rotation of up to 8 users plus a cover layer of 3 others.
        raise SystemExit("run.py: --count, --window and --schedules must be positive, --users ≥ 11")
    args.opsbell = os.path.abspath(args.opsbell)
    if not args.time_limit:
        args.time_limit = int(len(only) * (args.window + args.lead + args.step_timeout
                                           + args.drain_timeout) + 300)

    arm_signals(on_signal, args.time_limit)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="opsbell-bench-engine.")
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
        for kind in ("sqlite", "pg"):
            if kind not in only:
                continue
            log(f"# opsbell {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}: {args.count} incidents "
                f"over {args.window:g} s")
            r = run_store(args, kind, os.path.join(tmp, kind))
            details(args, r)
            results.append(r)
        report(args, machine, results, time.monotonic() - started)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine, "args": {k: v for k, v in vars(args).items()},
                           "results": results}, f, indent=1, default=str)
        ok = True
        return 0
    except BenchError as e:
        log(f"run.py: {e}")
        return 2
    finally:
        end_run(tmp, ok, args.keep, stop)


if __name__ == "__main__":
    sys.exit(main())
