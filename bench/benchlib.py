"""bench/benchlib.py - helpers shared by bench/engine/run.py and bench/ingest/run.py.

Python 3 standard library only. The scripts put bench/ on sys.path and
import this module; where they differ (a timeout, a message), the function
takes a parameter and the script keeps a thin wrapper.

Every child process started through spawn() is registered in CHILDREN and
every scripts/pg-test.sh cluster in PG_DIRS; cleanup() stops them all.
"""

import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CLK_TCK = os.sysconf("SC_CLK_TCK")


# GoAlert's engine runs one cycle every 5 s by default (its --engine-cycle-time);
# work that becomes due at a uniformly random instant (an escalation step, a
# new alert's first notification) waits for the next cycle: up to 5 s, 2.5 s
# on average. Documented behaviour, not measured here: GoAlert is not run.
GOALERT_CYCLE_MS = 5000.0
GOALERT_MEAN_MS = GOALERT_CYCLE_MS / 2


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ---- processes: every child is registered and stopped in cleanup() -------------

CHILDREN = []  # Popen objects
PG_DIRS = []  # directories given to scripts/pg-test.sh start


def spawn(argv, logpath, env=None, cwd=None):
    out = open(logpath, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True)
    finally:
        out.close()
    CHILDREN.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10.0, killed=None):
    """Stop one child of ours by its pid; SIGKILL if it does not go in time.

    Returns its exit status; if it had to be killed, `killed` instead when given."""
    if p.poll() is not None:
        return p.returncode
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        code = p.wait(timeout=10)
        return code if killed is None else killed


def cleanup(stop_child=stop):
    """Stop every registered child (with stop_child) and every PostgreSQL cluster."""
    for p in CHILDREN:
        try:
            stop_child(p)
        except Exception as e:  # keep going: stop the others
            log(f"warning: could not stop pid {p.pid}: {e}")
    for d in PG_DIRS:
        subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "stop", d],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    PG_DIRS.clear()


def signal_handler(alarm_note=""):
    """A handler that turns a signal into a BenchError; alarm_note is added for SIGALRM."""
    def on_signal(signum, frame):
        raise BenchError(f"interrupted by signal {signum}"
                         + (alarm_note if signum == signal.SIGALRM else ""))
    return on_signal


# ---- small helpers ---------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_req(method, url, body=None, headers=None, timeout=10.0):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return ""


def wait_ready(url, proc, logpath, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{url}: the server exited with {proc.returncode}; see {logpath}:\n"
                             + tail(logpath))
        try:
            status, _ = http_req("GET", url, timeout=1.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(interval)
    raise BenchError(f"{url} not ready after {timeout:.0f} s; see {logpath}:\n" + tail(logpath))


def proc_status(pid):
    """VmRSS and VmHWM of pid in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def tree_cpu_seconds(root_pid):
    """CPU seconds of root_pid and its live children, plus its reaped children."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(d), int(fields[1])
        if pid == root_pid:
            total += sum(int(x) for x in fields[11:15]) / CLK_TCK  # + cutime, cstime
        elif ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def postmaster_pid(pgdir):
    """The postmaster of a scripts/pg-test.sh cluster in pgdir, or None."""
    base = pgdir
    try:
        with open(os.path.join(pgdir, "base")) as f:
            base = f.read().strip()
    except OSError:
        pass
    try:
        with open(os.path.join(base, "data", "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def machine_busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v[:8]) - idle, sum(v[:8])


def mib(kib):
    return kib / 1024.0


def pct(sorted_values, q):
    """Nearest-rank percentile of an ascending list (q in 0..1)."""
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def log_problems(path):
    """level=warn/error lines of opsbell's log, counted by message."""
    counts = {}
    try:
        f = open(path, "rb")
    except OSError:
        return counts
    with f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if "level=warn" in line or "level=error" in line:
                m = re.search(r'msg=("[^"]*"|\S+)', line)
                lvl = "error" if "level=error" in line else "warn"
                key = f"{lvl}: {m.group(1) if m else line.strip()[:120]}"
                counts[key] = counts.get(key, 0) + 1
    return counts


# ---- machine ----------------------------------------------------------------------


def fs_type(path):
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    return f"{kind} on {best}"


def fsync_latency_ms(directory, n=200):
    """Median and p99 of write(4 KiB) + fdatasync on the file system of the run."""
    path = os.path.join(directory, "fsync-probe")
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = b"x" * 4096
        for i in range(n):
            t0 = time.perf_counter()
            os.pwrite(fd, block, (i % 16) * 4096)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return statistics.median(times), pct(times, 0.99)


def machine_info(tmp):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    b0, t0 = machine_busy_jiffies()
    time.sleep(1.0)
    b1, t1 = machine_busy_jiffies()
    busy = 100.0 * (b1 - b0) / max(1, t1 - t0)
    p50, p99 = fsync_latency_ms(tmp)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "fs": fs_type(tmp),
        "fsync_p50_ms": p50,
        "fsync_p99_ms": p99,
        "busy_before_pct": busy,
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def log_machine(machine):
    """The one-line summary of machine_info() at the start of a run, and a warning if busy."""
    log(f"# machine: {machine['cores']} × {machine['cpu']}; busy {machine['busy_before_pct']:.0f}%"
        f" before the run; fdatasync p50 {machine['fsync_p50_ms']:.2f} ms on {machine['fs']}")
    if machine["busy_before_pct"] > 10:
        log(f"# WARNING: the machine is already {machine['busy_before_pct']:.0f}% busy; "
            f"the figures will be noisy")


# ---- build ------------------------------------------------------------------------


def build_release(timeout):
    """make BUILD=release build/release/opsbell, logged; BenchError if it fails."""
    log("# make BUILD=release build/release/opsbell")
    b = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "BUILD=release",
                        "build/release/opsbell"],
                       capture_output=True, text=True, timeout=timeout)
    if b.returncode != 0:
        raise BenchError("release build failed:\n" + b.stdout[-3000:] + b.stderr[-3000:])
    built = [l for l in b.stdout.splitlines() if " -o build/release/opsbell" in l]
    log("  built build/release/opsbell" if built else "  build/release/opsbell is up to date")


# ---- PostgreSQL (scripts/pg-test.sh) ------------------------------------------------


def start_postgres(args, workdir):
    """A scripts/pg-test.sh cluster in workdir/pg; returns its URL and sets
    args.pg_settings_seen and args.pg_version."""
    pgdir = os.path.join(workdir, "pg")
    PG_DIRS.append(pgdir)
    out = subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "start", pgdir],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise BenchError(f"pg-test.sh start: {out.stderr.strip()}")
    url = out.stdout.strip().splitlines()[-1]
    if not args.pg_fast:
        # pg-test.sh makes a test cluster with fsync and synchronous_commit off;
        # a benchmark of a pager (and of its durability) wants a commit that is
        # on disk when it returns.
        for sql in ("ALTER SYSTEM SET fsync = on", "ALTER SYSTEM SET synchronous_commit = on",
                    "ALTER SYSTEM SET full_page_writes = on", "SELECT pg_reload_conf()"):
            q = subprocess.run(["psql", url, "-X", "-q", "-c", sql], capture_output=True,
                               text=True, timeout=30)
            if q.returncode != 0:
                raise BenchError(f"psql {sql}: {q.stderr.strip()}")
        time.sleep(0.5)
    q = subprocess.run(["psql", url, "-X", "-A", "-t", "-c",
                        "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings"
                        " WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"],
                       capture_output=True, text=True, timeout=30)
    args.pg_settings_seen = q.stdout.strip()
    ver = subprocess.run(["psql", url, "-X", "-A", "-t", "-c", "SHOW server_version"],
                         capture_output=True, text=True, timeout=30)
    args.pg_version = ver.stdout.strip()
    log(f"  PostgreSQL {args.pg_version}: {args.pg_settings_seen}")
    return url


def stop_postgres(workdir):
    pgdir = os.path.join(workdir, "pg")
    subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "stop", pgdir],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    if pgdir in PG_DIRS:
        PG_DIRS.remove(pgdir)


# ---- a run's start and end ------------------------------------------------------------


def arm_signals(on_signal, time_limit):
    """SIGTERM, SIGINT and (after time_limit seconds) SIGALRM raise through on_signal."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(time_limit)


def end_run(tmp, ok, keep, stop_child=stop):
    """Disarm the signals, stop every child, and remove the run directory tmp
    unless the run failed or keep is set."""
    signal.alarm(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    cleanup(stop_child)
    if ok and not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log(f"# run directory kept: {tmp}")


# ---- the defaults the benchmarks share -------------------------------------------


def stop_or_kill(p, sig=signal.SIGTERM, timeout=20.0):
    """stop() with the benchmarks' note when a child had to be killed."""
    return stop(p, sig, timeout, killed="killed (did not stop in time)")


def wait_healthy(url, proc, logpath, timeout=30.0):
    """wait_ready() polling every 50 ms."""
    return wait_ready(url, proc, logpath, timeout, interval=0.05)


def on_time_limit():
    """The signal handler of a run bounded by --time-limit."""
    return signal_handler(" (the time limit; see --time-limit)")
