#!/usr/bin/python3
"""bench/nft/run.py - 1,000 allowlist entries in one nftables transaction vs one `nft` call each.

Run it through bench/nft/run.sh as root (see bench/README.md). Python 3
standard library only. Everything happens in a network namespace of its own
(`ip netns add`), removed at the end whatever happens (also on Ctrl-C or a
failure); the host's ruleset is never touched.

Each round, in the namespace:
  1. `opsbell enforce nft apply --time` of --count entries (distinct /32s,
     one hour each) on an empty table: the whole process (start to exit) and
     the apply() call inside it (`--time`: list the table, flatten, build
     the script, one nft_run_cmd_from_buffer = one kernel transaction);
  2. the same apply again (nothing to change: one listing, no elements);
  3. every expiry moved (delete + add of --count elements in one transaction);
  4. the baseline: the same --count elements with one `nft add element`
     process each, one after the other, into the same (emptied) set;
  5. for reference, the nft CLI's own one-transaction path: `nft -f` of one
     file adding the same --count elements.
It prints the median (min-max) of each over --rounds rounds, the ratio of
the baseline to opsbell's apply, and whether apply() met the 10 ms target.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # bench/, for benchlib

from benchlib import BenchError, build_release, log, log_machine, machine_info  # noqa: E402

TARGET_APPLY_MS = 10.0
NETNS = None


def on_signal(signum, frame):
    raise BenchError(f"stopped by signal {signum}")


def sh(argv, timeout=120, input=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(argv[:8])}: {(p.stderr or p.stdout).strip()[:500]}")
    return p.stdout


def in_ns(*argv, **kw):
    return sh(["ip", "netns", "exec", NETNS] + list(argv), **kw)


def addresses(n):
    """n distinct IPv4 hosts in 100.64.0.0/10 (shared address space)."""
    return ["100.%d.%d.%d" % (64 + (i >> 16), (i >> 8) & 255, i & 255) for i in range(1, n + 1)]


def entries_file(path, addrs, expires_at):
    with open(path, "w") as f:
        json.dump([{"id": "allow:bench:%d" % i, "cidr": a, "expires_at": expires_at}
                   for i, a in enumerate(addrs)], f)


def timed_apply(opsbell, path):
    """(whole process ms, apply() ms as printed by --time)."""
    t0 = time.perf_counter()
    out = in_ns(opsbell, "enforce", "nft", "apply", "--time", path)
    wall = (time.perf_counter() - t0) * 1000
    inner = float(out.strip().rsplit(":", 1)[1].split()[0])
    return wall, inner


def element_count():
    n = 0
    for name in ("host4", "allow4"):
        data = json.loads(in_ns("nft", "-j", "list", "set", "inet", "opsbell", name))
        n += sum(len(x["set"].get("elem", [])) for x in data["nftables"] if "set" in x)
    return n


def summary(values):
    return (f"{statistics.median(values):9.2f} ms  ({min(values):.2f}-{max(values):.2f})")


def main():
    global NETNS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="entries (1000)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported (5)")
    ap.add_argument("--opsbell", default=os.path.join(ROOT, "build", "release", "opsbell"),
                    help="the opsbell binary (default build/release/opsbell, built if needed)")
    ap.add_argument("--no-build", action="store_true", help="do not run make")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--time-limit", type=int, default=900, help="abort after this many seconds")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run.py: needs root (a network namespace and nftables)")
    if args.count < 1 or args.rounds < 1:
        raise SystemExit("run.py: --count and --rounds must be positive")
    if shutil.which("nft") is None:
        raise SystemExit("run.py: the nft command is missing (apt-get install nftables)")
    args.opsbell = os.path.abspath(args.opsbell)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(args.time_limit)

    tmp = tempfile.mkdtemp(prefix="opsbell-bench-nft.")
    NETNS = "obbench-" + uuid.uuid4().hex[:8]
    made = False
    ok = False
    res = {k: [] for k in ("apply_process", "apply_call", "noop_process", "noop_call",
                            "replace_process", "replace_call", "per_element_total",
                            "nft_file")}
    try:
        if not args.no_build:
            build_release(timeout=400)
        v = subprocess.run([args.opsbell, "version"], capture_output=True, text=True, timeout=10)
        log(f"# {(v.stdout.strip() or v.stderr.strip()).splitlines()[0]}; "
            f"{sh(['nft', '--version']).strip()}; kernel {os.uname().release}")
        log_machine(machine_info(tmp))
        sh(["ip", "netns", "add", NETNS])
        made = True
        in_ns("ip", "link", "set", "lo", "up")
        addrs = addresses(args.count)
        first = os.path.join(tmp, "entries.json")
        moved = os.path.join(tmp, "moved.json")
        empty = os.path.join(tmp, "empty.json")
        script = os.path.join(tmp, "add.nft")
        with open(empty, "w") as f:
            f.write("[]")
        with open(script, "w") as f:
            # The same set opsbell puts single addresses in (host4).
            f.write("add element inet opsbell host4 { %s }\n"
                    % ", ".join(a + " timeout 3600s" for a in addrs))
        log(f"# {args.count} entries, {args.rounds} rounds, namespace {NETNS}")
        for r in range(args.rounds):
            now = int(time.time() * 1000)
            entries_file(first, addrs, now + 3600_000)
            entries_file(moved, addrs, now + 7200_000)
            in_ns(args.opsbell, "enforce", "nft", "flush")
            in_ns(args.opsbell, "enforce", "nft", "apply", empty)

            w, c = timed_apply(args.opsbell, first)
            res["apply_process"].append(w)
            res["apply_call"].append(c)
            if element_count() != args.count:
                raise BenchError(f"after apply: {element_count()} elements, not {args.count}")
            w, c = timed_apply(args.opsbell, first)
            res["noop_process"].append(w)
            res["noop_call"].append(c)
            w, c = timed_apply(args.opsbell, moved)
            res["replace_process"].append(w)
            res["replace_call"].append(c)
            if element_count() != args.count:
                raise BenchError("after the replace: wrong element count")

            in_ns(args.opsbell, "enforce", "nft", "apply", empty)
            t0 = time.perf_counter()
            for a in addrs:
                in_ns("nft", "add", "element", "inet", "opsbell", "host4",
                      "{ %s timeout 3600s }" % a)
            res["per_element_total"].append((time.perf_counter() - t0) * 1000)
            if element_count() != args.count:
                raise BenchError("after the per-element adds: wrong element count")

            in_ns(args.opsbell, "enforce", "nft", "apply", empty)
            t0 = time.perf_counter()
            in_ns("nft", "-f", script)
            res["nft_file"].append((time.perf_counter() - t0) * 1000)
            log(f"  round {r + 1}: apply() {res['apply_call'][-1]:.2f} ms, process "
                f"{res['apply_process'][-1]:.2f} ms; {args.count} × nft add element "
                f"{res['per_element_total'][-1]:.0f} ms")

        n = args.count
        log("")
        log(f"## {n} entries (median over {args.rounds} rounds, min-max)")
        log(f"opsbell apply() on an empty set, one transaction  {summary(res['apply_call'])}")
        log(f"  the whole `opsbell enforce nft apply` process     {summary(res['apply_process'])}")
        log(f"opsbell apply() again, nothing to change          {summary(res['noop_call'])}")
        log(f"opsbell apply() with every expiry moved (del+add) {summary(res['replace_call'])}")
        log(f"{n} × `nft add element` (one process each)       "
            f"{summary(res['per_element_total'])}")
        log(f"  per element                                     "
            f"{statistics.median(res['per_element_total']) / n:9.2f} ms")
        log(f"`nft -f` of one file with the {n} elements       {summary(res['nft_file'])}")
        ratio_call = statistics.median(res["per_element_total"]) / statistics.median(
            res["apply_call"])
        ratio_proc = statistics.median(res["per_element_total"]) / statistics.median(
            res["apply_process"])
        log(f"ratio: one transaction is {ratio_call:.0f}× faster than one call per entry "
            f"(apply() call), {ratio_proc:.0f}× (whole opsbell process)")
        met = statistics.median(res["apply_call"]) < TARGET_APPLY_MS
        log(f"target apply() < {TARGET_APPLY_MS:.0f} ms: {'met' if met else 'NOT met'}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"count": n, "rounds": args.rounds, "ms": res,
                           "ratio_call": ratio_call, "ratio_process": ratio_proc,
                           "target_met": met}, f, indent=2)
        ok = True
    except BenchError as e:
        log(f"bench/nft: {e}")
    finally:
        signal.alarm(0)
        if made:
            subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
