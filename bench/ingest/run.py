#!/usr/bin/python3
"""bench/ingest/run.py - opsbell's ingestion benchmark against Prometheus Alertmanager.

Run it through bench/ingest/run.sh (see bench/README.md). Python 3 standard
library only. Everything listens on 127.0.0.1, every process it starts is
stopped (also on Ctrl-C or a failure), and the whole run is bounded in time.

For each target it: writes a configuration into a temporary directory,
starts the server, waits until it is ready, runs wrk once to warm up and
once to measure (same script, same 64 connections), reads the server's peak
RSS (VmHWM) and CPU time from /proc, and for opsbell scrapes /metrics for the
group-commit counters, lists the stored alerts through GET /api/v2/alerts,
kills the server with SIGKILL and counts the distinct alerts in the store
itself: every alert that got a 2xx must be there.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LUA = os.path.join(HERE, "alerts.lua")
CONFIG_DIR = os.path.join(HERE, "config")
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

import benchlib  # noqa: E402
from benchlib import (CHILDREN, BenchError, arm_signals, build_release, end_run, free_port,  # noqa: E402
                      log, log_machine, log_problems, machine_busy_jiffies, mib,
                      postmaster_pid, proc_cpu_seconds, proc_status, signal_handler, spawn,
                      start_postgres, stop, stop_postgres, tail, tree_cpu_seconds, wait_ready)
from benchlib import http_req as http  # noqa: E402

# The integration key of service bench-pd (config/teams/bench/bench.yaml):
# the PagerDuty door wants a routing_key of exactly 32 characters.
PD_ROUTING_KEY = "benchpd0123456789abcdef012345678"

AM_BIN = "/usr/bin/prometheus-alertmanager"
WRK_BIN = "/usr/bin/wrk"


on_signal = signal_handler()


def metrics_scrape(base):
    status, body = http("GET", base + "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics: {status}")
    events = commits = 0
    outcomes = {}
    for line in body.decode().splitlines():
        m = re.match(r'^opsbell_ingest_events_total\{outcome="([a-z]+)"\} (\d+)', line)
        if m:
            outcomes[m.group(1)] = int(m.group(2))
            events += int(m.group(2))
        m = re.match(r"^opsbell_ingest_commits_total (\d+)", line)
        if m:
            commits = int(m.group(1))
    return {"events": events, "commits": commits, "outcomes": outcomes}


def machine_info(tmp):
    """benchlib.machine_info(), plus the versions of Alertmanager and wrk."""
    info = benchlib.machine_info(tmp)
    am_version = subprocess.run([AM_BIN, "--version"], capture_output=True, text=True,
                                timeout=10).stdout.splitlines()
    wrk_version = subprocess.run([WRK_BIN, "-v"], capture_output=True, text=True,
                                 timeout=10).stdout.splitlines()
    info.update({
        "alertmanager": am_version[0] if am_version else "?",
        "wrk": wrk_version[0].split("Copyright")[0].strip() if wrk_version else "?",
    })
    return info


# ---- wrk --------------------------------------------------------------------------


def run_wrk(args, url, mode, seconds, json_path, text_path, latency):
    env = dict(os.environ, BENCH_WRK_JSON=json_path)
    argv = [WRK_BIN, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s",
            f"--timeout={args.wrk_timeout}s", "-s", LUA]
    if latency:
        argv.append("--latency")
    argv += [url, "--", mode, str(args.alerts), str(args.wrk_threads)]
    if mode == "pd":
        argv.append(PD_ROUTING_KEY)
    with open(text_path, "wb") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        CHILDREN.append(p)
        deadline = time.monotonic() + seconds + args.wrk_timeout + 30
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                stop(p, signal.SIGKILL)
                raise BenchError(f"wrk did not finish in time; see {text_path}")
            time.sleep(0.05)
    if p.returncode != 0:
        raise BenchError(f"wrk exited with {p.returncode}:\n" + tail(text_path))
    try:
        with open(json_path) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"wrk wrote no summary ({e}):\n" + tail(text_path))
    result["text"] = open(text_path).read()
    result["wrk_cpu_s"] = ru.ru_utime + ru.ru_stime
    return result


def non_2xx(result):
    return sum(n for code, n in result["statuses"].items() if not 200 <= int(code) < 300)


def socket_errors(result):
    e = result["errors"]
    return e["connect"] + e["read"] + e["write"] + e["timeout"]


# ---- one target -------------------------------------------------------------------


def measure(args, name, base_url, proc, mode, workdir, opsbell=False, helper_pid=None):
    """Warm up, measure; returns the run's figures (and wrk's results).
    helper_pid: a process tree whose CPU is the server's too (the postmaster)."""
    r = {"name": name, "mode": mode}
    r["rss_idle_kib"] = proc_status(proc.pid)["VmRSS"]
    log(f"  warm-up: {args.warmup} s")
    warm = run_wrk(args, base_url, mode, args.warmup, os.path.join(workdir, "wrk-warmup.json"),
                   os.path.join(workdir, "wrk-warmup.txt"), latency=False)
    r["rss_after_warmup_kib"] = proc_status(proc.pid)["VmRSS"]
    if opsbell:
        m0 = metrics_scrape(base_url)
    cpu0 = proc_cpu_seconds(proc.pid)
    helper0 = tree_cpu_seconds(helper_pid) if helper_pid else 0.0
    busy0, total0 = machine_busy_jiffies()
    log(f"  measuring: {args.duration} s")
    main = run_wrk(args, base_url, mode, args.duration, os.path.join(workdir, "wrk.json"),
                   os.path.join(workdir, "wrk.txt"), latency=True)
    busy1, total1 = machine_busy_jiffies()
    cpu1 = proc_cpu_seconds(proc.pid)
    helper1 = tree_cpu_seconds(helper_pid) if helper_pid else 0.0
    st = proc_status(proc.pid)
    r["rss_end_kib"] = st["VmRSS"]
    r["rss_peak_kib"] = st["VmHWM"]
    secs = main["duration_us"] / 1e6
    r["requests"] = main["requests"]
    r["rps"] = main["requests"] / secs
    r["lat_us"] = main["latency_us"]
    r["statuses"] = main["statuses"]
    r["non2xx"] = non_2xx(main)
    r["sock_errors"] = socket_errors(main)
    r["errors"] = main["errors"]
    r["warmup_requests"] = warm["requests"]
    r["warmup_non2xx"] = non_2xx(warm)
    r["warmup_sock_errors"] = socket_errors(warm)
    r["server_cpu_pct"] = 100.0 * (cpu1 - cpu0) / secs
    # Server CPU per request (PostgreSQL's included): less sensitive to other load.
    r["cpu_us_per_req"] = 1e6 * ((cpu1 - cpu0) + (helper1 - helper0)) / max(1, main["requests"])
    r["wrk_cpu_pct"] = 100.0 * main["wrk_cpu_s"] / secs
    r["helper_cpu_pct"] = 100.0 * (helper1 - helper0) / secs if helper_pid else None
    # Everything else the machine did meanwhile (other processes, and kernel
    # work charged to nobody): a noise gauge.
    machine_pct = 100.0 * (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
    r["other_cpu_pct"] = max(0.0, machine_pct - r["server_cpu_pct"] - r["wrk_cpu_pct"]
                             - (r["helper_cpu_pct"] or 0.0))
    r["wrk_text"] = main["text"]
    r["acked"] = sorted(set(warm["acked"]) | set(main["acked"]))
    r["acked_counts"] = (len(warm["acked"]), len(main["acked"]))
    if opsbell:
        m1 = metrics_scrape(base_url)
        de, dc = m1["events"] - m0["events"], m1["commits"] - m0["commits"]
        r["events"] = de
        r["commits"] = dc
        r["events_per_commit"] = de / dc if dc else float("nan")
        r["outcomes"] = {k: m1["outcomes"].get(k, 0) - m0["outcomes"].get(k, 0)
                         for k in m1["outcomes"]}
        r["events_total"] = m1["events"]
        r["commits_total"] = m1["commits"]
        r["outcomes_total"] = m1["outcomes"]
    return r


def write_opsbell_config(workdir, port, storage, threads):
    with open(os.path.join(CONFIG_DIR, "opsbell.yaml.in")) as f:
        text = f.read()
    text = (text.replace("@LISTEN@", f"127.0.0.1:{port}").replace("@STORAGE@", storage)
            .replace("@THREADS@", str(threads)))
    with open(os.path.join(workdir, "opsbell.yaml"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(CONFIG_DIR, "users.yaml"), workdir)
    shutil.copytree(os.path.join(CONFIG_DIR, "teams"), os.path.join(workdir, "teams"))
    return os.path.join(workdir, "opsbell.yaml")


def alert_index(mode, dedup_key, labels_json):
    """The bench index (0..N-1) of a stored alert, from what alerts.lua sent."""
    if mode == "pd":
        m = re.match(r"^bench-(\d+)$", dedup_key or "")
    else:
        try:
            labels = json.loads(labels_json or "{}")
        except ValueError:
            return None
        m = re.match(r"^host-(\d+):9100$", labels.get("instance", ""))
    return int(m.group(1)) if m else None


def stored_alerts(mode, storage, workdir):
    """Distinct bench alerts in the store, read directly (the server is dead by now)."""
    rows = []
    if storage.startswith("sqlite:"):
        path = os.path.join(workdir, storage[len("sqlite:"):])
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT dedup_key, labels, status FROM alerts").fetchall()
        finally:
            db.close()
    else:
        out = subprocess.run(["psql", storage, "-X", "-A", "-t", "-q", "-F", "\x1f", "-c",
                              "SELECT coalesce(dedup_key, ''), labels, status FROM alerts"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise BenchError(f"psql: {out.stderr.strip()}")
        rows = [tuple(l.split("\x1f")) for l in out.stdout.splitlines() if l]
    indices = set()
    other = 0
    for dedup_key, labels, _status in rows:
        i = alert_index(mode, dedup_key, labels)
        if i is None:
            other += 1
        else:
            indices.add(i)
    return indices, len(rows), other


def run_opsbell(args, name, mode, storage_kind, workdir, http_threads):
    os.makedirs(workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if storage_kind == "sqlite":
        storage = "sqlite:data/opsbell.db"
    else:
        storage = start_postgres(args, workdir)
    cfg = write_opsbell_config(workdir, port, storage, http_threads)
    ck = subprocess.run([args.opsbell, "check-config", "-c", cfg], capture_output=True, text=True,
                        timeout=30)
    if ck.returncode != 0:
        raise BenchError(f"check-config: {ck.stdout}{ck.stderr}")
    tok = subprocess.run([args.opsbell, "token", "create", "--name", "bench-reader", "--scope",
                          "read", "-c", cfg], capture_output=True, text=True, timeout=30)
    if tok.returncode != 0:
        raise BenchError(f"token create: {tok.stderr.strip()}")
    token = tok.stdout.strip().splitlines()[-1]
    logpath = os.path.join(workdir, "opsbell.log")
    proc = spawn([args.opsbell, "serve", "-c", cfg], logpath)
    try:
        wait_ready(base + "/healthz", proc, logpath)
        log(f"  opsbell pid {proc.pid} on {base} (store {storage_kind}, http.threads {http_threads})")
        helper = postmaster_pid(os.path.join(workdir, "pg")) if storage_kind == "postgres" else None
        r = measure(args, name, base, proc, mode, workdir, opsbell=True, helper_pid=helper)
        # The server's view: GET /api/v2/alerts (firing alerts, Alertmanager's shape).
        status, body = http("GET", base + "/api/v2/alerts",
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
        r["listed"] = len(json.loads(body)) if status == 200 else f"HTTP {status}"
        # The store's view after a crash: SIGKILL, then read the database itself.
        proc.kill()
        proc.wait(timeout=10)
        r["killed_exit"] = proc.returncode
    finally:
        if proc.poll() is None:
            stop(proc)
    indices, rows, other = stored_alerts(mode, storage, workdir)
    acked = set(r["acked"])
    r["stored"] = len(indices)
    r["stored_rows"] = rows
    r["stored_other"] = other
    r["acked_missing"] = sorted(acked - indices)
    r["stored_not_acked"] = len(indices - acked)
    r["durable"] = not r["acked_missing"]
    r["log_problems"] = log_problems(logpath)
    r["store"] = storage_kind
    r["http_threads"] = http_threads
    if storage_kind == "postgres":
        r["pg_settings"] = args.pg_settings_seen
        stop_postgres(workdir)
    return r


def run_alertmanager(args, workdir):
    os.makedirs(workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    shutil.copy(os.path.join(CONFIG_DIR, "am.yml"), workdir)
    os.makedirs(os.path.join(workdir, "data"))
    logpath = os.path.join(workdir, "alertmanager.log")
    proc = spawn([AM_BIN, "--cluster.listen-address=", f"--web.listen-address=127.0.0.1:{port}",
                  f"--storage.path={os.path.join(workdir, 'data')}",
                  f"--config.file={os.path.join(workdir, 'am.yml')}"], logpath)
    try:
        wait_ready(base + "/-/ready", proc, logpath)
        log(f"  alertmanager pid {proc.pid} on {base}")
        r = measure(args, "Alertmanager 0.25", base, proc, "am", workdir)
        status, body = http("GET", base + "/api/v2/alerts", timeout=60)
        r["listed"] = len(json.loads(body)) if status == 200 else f"HTTP {status}"
    finally:
        stop(proc)
    problems = {}
    with open(logpath, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if "level=error" in line or "level=warn" in line:
                m = re.search(r'msg=("[^"]*"|\S+)', line)
                key = m.group(1) if m else line.strip()[:120]
                problems[key] = problems.get(key, 0) + 1
    r["log_problems"] = problems
    r["store"] = "memory"
    return r


# ---- report -----------------------------------------------------------------------


def ms(us):
    return us / 1000.0


def fmt_ratio(x):
    return f"{x:.2f}×"


def report(args, machine, results, elapsed):
    am = results[0]
    log("")
    log("## opsbell ingestion benchmark")
    log("")
    log(f"- machine: {machine['cores']} × {machine['cpu']}, {machine['memory']} RAM, Linux "
        f"{machine['kernel']}; run directory on {machine['fs']}")
    log(f"- fdatasync of 4 KiB there: p50 {machine['fsync_p50_ms']:.2f} ms, "
        f"p99 {machine['fsync_p99_ms']:.2f} ms")
    log(f"- machine busy before the run: {machine['busy_before_pct']:.0f}% of all cores "
        f"(load average {' '.join(machine['loadavg'])})")
    log(f"- load: {machine['wrk']}, -t{args.wrk_threads} -c{args.connections} "
        f"-d{args.duration}s after a {args.warmup} s warm-up, --timeout {args.wrk_timeout}s; one "
        f"alert per request rotating over {args.alerts} distinct alerts")
    log(f"- peer: {machine['alertmanager']}, one route to a receiver with no integrations")
    pg = ""
    if hasattr(args, "pg_version"):
        pg = (f"; PostgreSQL {args.pg_version} from scripts/pg-test.sh with "
              f"{args.pg_settings_seen}")
    log(f"- opsbell: {args.opsbell_version}, release build; SQLite synchronous=FULL (WAL){pg}")
    log("")
    log("| target | door | store | http.threads | req/s | p50 ms | p99 ms | max ms | non-2xx "
        "| socket errors | peak RSS MiB | server CPU % | CPU µs/req | other CPU % | events/commit "
        "| alerts 2xx'd | alerts stored | durable |")
    log("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        is_ob = r["name"].startswith("opsbell")
        door = "/api/v2/alerts" if r["mode"] == "am" else "/v2/enqueue"
        epc = f"{r['events_per_commit']:.1f}" if is_ob else "—"
        acked = str(len(r["acked"])) if is_ob else "—"
        stored = str(r["stored"]) if is_ob else f"({r['listed']} in memory)"
        durable = ("yes" if r["durable"] else f"NO: {len(r['acked_missing'])} lost") if is_ob else "no (memory)"
        threads = str(r["http_threads"]) if is_ob else "—"
        cpu = f"{r['server_cpu_pct']:.0f}"
        if r.get("helper_cpu_pct") is not None:
            cpu += f" (+{r['helper_cpu_pct']:.0f} PostgreSQL)"
        log(f"| {r['name']} | {door} | {r['store']} | {threads} | {r['rps']:.0f} "
            f"| {ms(r['lat_us']['p50']):.1f} | {ms(r['lat_us']['p99']):.1f} "
            f"| {ms(r['lat_us']['max']):.0f} | {r['non2xx']} | {r['sock_errors']} "
            f"| {mib(r['rss_peak_kib']):.1f} | {cpu} | {r['cpu_us_per_req']:.0f} | {r['other_cpu_pct']:.0f} "
            f"| {epc} | {acked} | {stored} | {durable} |")
    log("")
    log("Ratios opsbell / Alertmanager (req/s: higher is better for opsbell; latency, RSS and CPU: "
        "lower is better):")
    log("")
    log("| opsbell run | req/s | p50 | p99 | peak RSS | CPU µs/req |")
    log("|---|--:|--:|--:|--:|--:|")
    for r in results[1:]:
        log(f"| {r['name']} | {fmt_ratio(r['rps'] / am['rps'])} "
            f"| {fmt_ratio(r['lat_us']['p50'] / am['lat_us']['p50'])} "
            f"| {fmt_ratio(r['lat_us']['p99'] / am['lat_us']['p99'])} "
            f"| {fmt_ratio(r['rss_peak_kib'] / am['rss_peak_kib'])} "
            f"| {fmt_ratio(r['cpu_us_per_req'] / am['cpu_us_per_req'])} |")
    log("")
    ob = next((r for r in results if r["name"] == "opsbell SQLite"), None)
    if ob is None:
        log(f"Total time {elapsed:.0f} s.")
        return
    ok_tput = ob["rps"] >= 2 * am["rps"]
    ok_p99 = ob["lat_us"]["p99"] < am["lat_us"]["p99"]
    log(f"Target of issue 3 (opsbell SQLite, /api/v2/alerts, default configuration): "
        f"≥ 2× Alertmanager's req/s: {'met' if ok_tput else 'NOT met'} "
        f"({ob['rps'] / am['rps']:.2f}×); lower p99: {'met' if ok_p99 else 'NOT met'} "
        f"({ms(ob['lat_us']['p99']):.1f} vs {ms(am['lat_us']['p99']):.1f} ms); "
        f"every 2xx durable: {'met' if all(r['durable'] for r in results[1:]) else 'NOT met'}.")
    log("")
    log(f"Total time {elapsed:.0f} s.")


def details(r):
    is_ob = r["name"].startswith("opsbell")
    log(f"  {r['requests']} requests in {args_g.duration} s = {r['rps']:.0f}/s; latency ms p50 "
        f"{ms(r['lat_us']['p50']):.1f} p90 {ms(r['lat_us']['p90']):.1f} p99 "
        f"{ms(r['lat_us']['p99']):.1f} p99.9 {ms(r['lat_us']['p999']):.1f} max "
        f"{ms(r['lat_us']['max']):.1f}")
    log(f"  statuses {json.dumps(r['statuses'], sort_keys=True)}; socket errors "
        f"{json.dumps(r['errors'], sort_keys=True)}; warm-up: {r['warmup_requests']} requests, "
        f"{r['warmup_non2xx']} non-2xx, {r['warmup_sock_errors']} socket errors")
    log(f"  RSS MiB: idle {mib(r['rss_idle_kib']):.1f}, after warm-up "
        f"{mib(r['rss_after_warmup_kib']):.1f}, end {mib(r['rss_end_kib']):.1f}, peak (VmHWM) "
        f"{mib(r['rss_peak_kib']):.1f}")
    log(f"  CPU during the measurement: server {r['server_cpu_pct']:.0f}%"
        + (f", PostgreSQL {r['helper_cpu_pct']:.0f}%" if r.get("helper_cpu_pct") is not None else "")
        + f", wrk "
        f"{r['wrk_cpu_pct']:.0f}%, everything else {r['other_cpu_pct']:.0f}% (100% = one core); "
        f"server CPU per request {r['cpu_us_per_req']:.0f} µs")
    if is_ob:
        log(f"  group commit (measured window): {r['events']} events in {r['commits']} commits = "
            f"{r['events_per_commit']:.2f} events/commit, {r['commits'] / args_g.duration:.0f} "
            f"commits/s ({1000.0 * args_g.duration / max(1, r['commits']):.2f} ms each); outcomes "
            f"{json.dumps({k: v for k, v in r['outcomes'].items() if v}, sort_keys=True)}")
        log(f"  since start: opsbell_ingest_events_total {r['events_total']}, "
            f"opsbell_ingest_commits_total {r['commits_total']}")
        log(f"  durability: {len(r['acked'])} distinct alerts got a 2xx (warm-up "
            f"{r['acked_counts'][0]}, measured {r['acked_counts'][1]}); GET /api/v2/alerts listed "
            f"{r['listed']}; after SIGKILL the store holds {r['stored']} distinct bench alerts "
            f"({r['stored_rows']} rows); 2xx'd but missing: {len(r['acked_missing'])}"
            + (f" (first: {r['acked_missing'][:10]})" if r["acked_missing"] else "")
            + f"; stored without a 2xx seen by wrk: {r['stored_not_acked']}"
            + (" (requests in flight when wrk stopped)" if r["stored_not_acked"] else ""))
    if r["log_problems"]:
        log("  log warnings/errors: " + "; ".join(f"{k} ×{v}" for k, v in
                                                   sorted(r["log_problems"].items())))
    else:
        log("  log warnings/errors: none")


args_g = None


def main():
    global args_g
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=15, help="measured seconds per target (15)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up seconds per target (3)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    ap.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--wrk-timeout", type=int, default=10,
                    help="wrk's per-request timeout in seconds (10)")
    ap.add_argument("--alerts", type=int, default=5000, help="distinct alerts (5000)")
    ap.add_argument("--http-threads", type=int, default=4,
                    help="opsbell http.threads for the main runs (4, opsbell's default)")
    ap.add_argument("--extra-threads", type=int, default=64,
                    help="also run opsbell SQLite /api/v2/alerts with this http.threads "
                         "(64; 0 to skip)")
    ap.add_argument("--only", default="",
                    help="comma-separated subset of am,sqlite,pd,pg,extra (default: all)")
    ap.add_argument("--pg-fast", action="store_true",
                    help="leave scripts/pg-test.sh's fsync=off and synchronous_commit=off")
    ap.add_argument("--opsbell", default=os.path.join(ROOT, "build", "release", "opsbell"),
                    help="the opsbell binary (default build/release/opsbell, built if needed)")
    ap.add_argument("--no-build", action="store_true", help="do not run make")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--time-limit", type=int, default=290,
                    help="abort (and clean up) after this many seconds (290)")
    args = ap.parse_args()
    args_g = args
    only = set(filter(None, args.only.split(","))) or {"am", "sqlite", "pd", "pg", "extra"}
    if "am" not in only:
        raise SystemExit("run.py: --only must include am (the ratios need the peer)")

    for binary in (AM_BIN, WRK_BIN):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"run.py: {binary} is missing (apt-get install "
                             f"{'prometheus-alertmanager' if 'alert' in binary else 'wrk'})")

    arm_signals(on_signal, args.time_limit)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="opsbell-bench.")
    ok = False
    results = []
    try:
        if not args.no_build:
            build_release(timeout=240)
        v = subprocess.run([args.opsbell, "version"], capture_output=True, text=True, timeout=10)
        args.opsbell_version = (v.stdout.strip() or v.stderr.strip()).splitlines()[0]
        log(f"# {args.opsbell_version}; run directory {tmp}")
        machine = machine_info(tmp)
        log_machine(machine)

        plan = [("am", "Alertmanager 0.25", None)]
        if "sqlite" in only:
            plan.append(("sqlite", "opsbell SQLite", ("am", "sqlite", args.http_threads)))
        if "pd" in only:
            plan.append(("pd", "opsbell SQLite, PagerDuty door", ("pd", "sqlite", args.http_threads)))
        if "pg" in only:
            plan.append(("pg", "opsbell PostgreSQL", ("am", "postgres", args.http_threads)))
        if "extra" in only and args.extra_threads > 0:
            plan.append(("extra", f"opsbell SQLite, http.threads={args.extra_threads}",
                         ("am", "sqlite", args.extra_threads)))
        for key, name, spec in plan:
            log(f"# {name}")
            workdir = os.path.join(tmp, key)
            if spec is None:
                r = run_alertmanager(args, workdir)
            else:
                mode, store_kind, threads = spec
                r = run_opsbell(args, name, mode, store_kind, workdir, threads)
            details(r)
            results.append(r)
        report(args, machine, results, time.monotonic() - started)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine, "results": [
                    {k: v for k, v in r.items() if k not in ("acked",)} for r in results]},
                    f, indent=1)
        ok = all(r.get("durable", True) for r in results)
        return 0 if ok else 1
    except BenchError as e:
        log(f"run.py: {e}")
        return 2
    finally:
        end_run(tmp, ok, args.keep)


if __name__ == "__main__":
    sys.exit(main())
