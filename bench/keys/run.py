#!/usr/bin/python3
"""bench/keys/run.py - AuthorizedKeysCommand latency: the whole
`opsbell keys authorized-keys USER` process (fork, exec, dynamic loading,
reading the cache, writing the keys, exit), as sshd runs it.

Run it through bench/keys/run.sh (see bench/README.md). Python 3 standard
library only; everything lives in a temporary directory that is removed at
the end (--keep keeps it).

1. A keys repository (a local bare git repository) with --users users (10,000)
   and --keys keys (30,000): every user has keys/<user>/k<i>.pub files, two
   thirds ssh-ed25519 and one third 3072-bit ssh-rsa (well-formed blobs of
   random content: the cache's size and shape are those of real keys), and a
   users.yaml with the same users.
2. `opsbell keys sync` once (timed): the real cache file, sorted, as sshd's
   command reads it; its size is printed.
3. --runs runs (1,000) of `build/release/opsbell keys authorized-keys -c
   opsbell.yaml USER` for random users (one in ten unknown), each started
   with posix_spawn and waited for; the wall time of each run, the CPU time
   of all of them, and every answer checked against the keys written.
   The same for `opsbell-core` (the whole program, which loads every library)
   and for /bin/true (the cost of starting any process here), to show where
   the time goes.
"""

import argparse
import base64
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

from benchlib import BenchError, log, log_machine, machine_info, pct  # noqa: E402

TARGET_P50_MS = 5.0


def ssh_string(b):
    return struct.pack(">I", len(b)) + b


def mpint(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if raw[0] & 0x80:
        raw = b"\0" + raw
    return ssh_string(raw)


def fake_key(rng, i, user):
    if i % 3 == 2:
        n = rng.getrandbits(3072) | (1 << 3071) | 1
        blob = ssh_string(b"ssh-rsa") + mpint(65537) + mpint(n)
        kind = "ssh-rsa"
    else:
        blob = ssh_string(b"ssh-ed25519") + ssh_string(rng.randbytes(32))
        kind = "ssh-ed25519"
    return "%s %s %s-k%d@bench" % (kind, base64.b64encode(blob).decode(), user, i)


def git(args, cwd=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_CONFIG_NOSYSTEM="1", HOME="/nonexistent")
    p = subprocess.run(["git"] + args, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise BenchError("git %s: %s" % (" ".join(args), p.stderr.strip()))


def make_repo(tmp, users, nkeys, rng):
    names = ["u%05d" % i for i in range(users)]
    work = os.path.join(tmp, "work")
    bare = os.path.join(tmp, "keys.git")
    expected = {}
    for k in range(nkeys):
        user = names[k % users]
        i = k // users
        line = fake_key(rng, k, user)
        expected.setdefault(user, []).append((i, line))
        d = os.path.join(work, "keys", user)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "k%d.pub" % i), "w") as f:
            f.write(line + "\n")
    git(["init", "-q", "--bare", "--initial-branch=main", bare])
    git(["init", "-q", "--initial-branch=main", work])
    git(["add", "-A"], cwd=work)
    git(["commit", "-q", "-m", "bench keys"], cwd=work)
    git(["push", "-q", bare, "main"], cwd=work)
    # sync reads a user's files in tree order (k0, k1, k10, k2 ...): the same here.
    want = {u: [l for _, l in sorted(v, key=lambda t: "k%d.pub" % t[0])]
            for u, v in expected.items()}
    with open(os.path.join(tmp, "users.yaml"), "w") as f:
        f.write("users:\n")
        for u in names:
            f.write("  - name: %s\n" % u)
    os.makedirs(os.path.join(tmp, "teams"), exist_ok=True)
    cfg = os.path.join(tmp, "opsbell.yaml")
    with open(cfg, "w") as f:
        f.write("storage: sqlite:%s/opsbell.db\nlog:\n  level: warn\n"
                "keys:\n  repository: %s\n  branch: main\n  cache_dir: %s/cache\n"
                % (tmp, bare, tmp))
    return cfg, names, want


def spawn_wait(argv, out_fd):
    """posix_spawn + waitpid: the wall time of one whole process."""
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, out_fd, 1),
                                       (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter() - t0
    return dt, status


def measure(label, argv_for, users, runs, check=None):
    """Run argv_for(user) for each user; wall times (ms) and CPU ms per run."""
    out_path = os.path.join(tempfile.gettempdir(), "opsbell-bench-keys-out.%d" % os.getpid())
    times = []
    bad = 0
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in range(runs):
        user = users[i % len(users)]
        fd = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            dt, status = spawn_wait(argv_for(user), fd)
            if check is not None:
                os.lseek(fd, 0, os.SEEK_SET)
                data = b""
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    data += chunk
                if status != 0 or not check(user, data.decode()):
                    bad += 1
        finally:
            os.close(fd)
        times.append(dt * 1000.0)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(out_path)
    cpu = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000.0 / runs
    times.sort()
    res = {"label": label, "p50": pct(times, 0.50), "p90": pct(times, 0.90), "p99": pct(times, 0.99),
           "max": times[-1], "mean": sum(times) / len(times), "cpu": cpu, "bad": bad}
    log("  %-44s p50 %6.2f  p90 %6.2f  p99 %6.2f  max %7.2f  mean %6.2f ms;"
        " CPU %5.2f ms/run%s" % (label, res["p50"], res["p90"], res["p99"], res["max"],
                                 res["mean"], res["cpu"],
                                 "; %d WRONG ANSWERS" % bad if bad else ""))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--keys", type=int, default=30000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-build", action="store_true", help="use build/release as it is")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="opsbell-bench-keys-")
    ok = False
    try:
        machine = machine_info(tmp)
        log_machine(machine)
        if not args.no_build:
            log("# make BUILD=release build/release/opsbell build/release/opsbell-core")
            b = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "BUILD=release",
                                "build/release/opsbell", "build/release/opsbell-core"],
                               capture_output=True, text=True, timeout=1800)
            if b.returncode != 0:
                raise BenchError("release build failed:\n" + b.stdout[-3000:] + b.stderr[-3000:])
        front = os.path.join(ROOT, "build", "release", "opsbell")
        core = os.path.join(ROOT, "build", "release", "opsbell-core")

        log("# keys repository: %d users, %d keys" % (args.users, args.keys))
        t0 = time.monotonic()
        cfg, names, want = make_repo(tmp, args.users, args.keys, rng)
        log("  written and committed in %.1f s" % (time.monotonic() - t0))
        t0 = time.monotonic()
        s = subprocess.run([front, "keys", "sync", "-q", "-c", cfg], capture_output=True,
                           text=True, timeout=1800)
        sync_s = time.monotonic() - t0
        if s.returncode != 0:
            raise BenchError("keys sync failed: " + s.stderr.strip()[-2000:])
        cache = os.path.join(tmp, "cache", "authorized_keys.cache")
        with open(cache) as f:
            cached = sum(1 for line in f if not line.startswith("#"))
        if cached != args.keys:
            raise BenchError("the cache holds %d keys, not %d" % (cached, args.keys))
        log("  opsbell keys sync (clone + validate + write): %.2f s; cache %.1f MiB, %d keys"
            % (sync_s, os.path.getsize(cache) / 1048576.0, cached))

        unknown = ["nobody%04d" % i for i in range(max(1, args.runs // 10))]
        pool = names + unknown
        users = [rng.choice(pool) for _ in range(args.runs)]

        def check(user, text):
            lines = [l for l in text.split("\n") if l]
            return lines == want.get(user, [])

        log("# %d runs each, random users (about one in ten unknown); wall time of the whole"
            " process" % args.runs)
        results = [
            measure("opsbell keys authorized-keys -c FILE USER",
                    lambda u: [front, "keys", "authorized-keys", "-c", cfg, u], users, args.runs,
                    check),
            measure("opsbell keys authorized-keys --cache F USER",
                    lambda u: [front, "keys", "authorized-keys", "--cache", cache, u], users,
                    args.runs, check),
            measure("opsbell-core keys authorized-keys (no front)",
                    lambda u: [core, "keys", "authorized-keys", "-c", cfg, u], users,
                    max(100, args.runs // 5), check),
            measure("/bin/true (starting any process)", lambda u: ["/bin/true"], users,
                    args.runs),
        ]
        main_res = results[0]
        if any(r["bad"] for r in results):
            raise BenchError("wrong answers")
        verdict = "met" if main_res["p50"] < TARGET_P50_MS else "MISSED"
        log("# target: median under %.0f ms: %s (p50 %.2f ms, p99 %.2f ms)"
            % (TARGET_P50_MS, verdict, main_res["p50"], main_res["p99"]))
        ok = True
    except BenchError as e:
        log("bench/keys: FAILED: %s" % e)
    finally:
        if args.keep:
            log("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
