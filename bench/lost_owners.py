#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cost of reading owners again after lost records (server/access.c
fdw_server_records_lost), as an A/B of two builds: A (with it) against B
(the same daemon with it a no-op, or another commit).

usage: sudo bench/lost_owners.py --a BUILD_A --b BUILD_B [--idle 200,2000]
                                 [--rounds 3] [--secs 8] [--hz 4]

For each --idle N: `fdwatch-bench-hold idle N` (N idle processes, known to
the daemon, whose owners are cached) is started once; then, --rounds times,
each build in turn (the order alternates by round) runs a private fdwatchd
with `--ringbuf-mb 1` while:
  - one churner (tests/progs/fdw_churn stress open SECS, pinned to the last
    CPU) overflows the ring again and again: sustained loss, a loss seen at
    most drains;
  - an unprivileged follower (nobody) follows /v1/events?follow=1: every
    event's owner is looked up for it (an owner marked by a loss is read
    again from /proc before its next event);
  - GET /v1/status is polled HZ times a second by root (raw, over the unix
    socket) and by nobody (whose status counts its own processes: every
    process's owner is looked up, so every marked owner is read again).
Per run: the daemon's CPU (utime+stime of /proc/PID/stat) per wall second
over the churn, events received and lost, the worst loop lag
(loop_lag_max_ms), status latencies (p50, p99, max) of both pollers.
Summary: the median of each figure per build, and the median of the
pairwise ratios A/B with their min-max. Figures, not a verdict.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from private_daemon import private_daemon, status

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
NOBODY = 65534
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# GET /v1/status as fast as HZ allows until stdin closes; prints the
# latencies (s) as a JSON list. argv: SOCK HZ BENCH_DIR (for rawhttp.py)
POLLER = r'''
import json, sys, threading, time
sock, hz = sys.argv[1], float(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from rawhttp import get
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
lat, errors = [], 0
while not stop.is_set():
    t0 = time.monotonic()
    try:
        head, _ = get(sock, "/v1/status")
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
        else:
            lat.append(time.monotonic() - t0)
    except OSError:
        errors += 1
    stop.wait(max(0, 1 / hz - (time.monotonic() - t0)))
print(json.dumps({"lat": lat, "errors": errors}))
'''

# the follower: curl (a fast reader: a Python one falls behind the stream
# and is dropped as a slow reader), every byte counted
FOLLOWER = "curl -sN --max-time {t} --unix-socket {sock} 'http://x/v1/events?follow=1' | wc -c"


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def one_run(build, secs, hz, churn_user, churners):
    churn = os.path.join(build, "tests", "progs", "fdw_churn")
    procs = []
    with private_daemon(build, "fdw-lostown-", ("--ringbuf-mb", "1")) as pd:
        d, sock, cli = pd.proc, pd.sock, pd.cli
        try:
            time.sleep(1)  # the owners learnt (a batch per event), the start-up settled
            ids = dict(user=NOBODY, group=NOBODY, extra_groups=[])
            fol = subprocess.Popen(["sh", "-c", FOLLOWER.format(t=secs + 3, sock=sock)],
                                   stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, **ids)
            procs.append(fol)
            polls = {}
            for who, kw in (("root", {}), ("nobody", ids)):
                polls[who] = subprocess.Popen([PY, "-c", POLLER, sock, str(hz), BENCH],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              text=True, **kw)
                procs.append(polls[who])
            time.sleep(0.5)
            st0 = status(cli, sock)
            c0, t0 = cpu_ticks(d.pid), time.monotonic()
            as_user = ([] if churn_user == "root" else
                       ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"])
            chs = [subprocess.Popen(as_user + ["taskset", "-c", str(i % os.cpu_count()), churn,
                                               "stress", "open", f"{secs:g}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for i in range(churners)]
            for ch in chs:
                _, err = ch.communicate(timeout=secs + 60)
                if ch.returncode:
                    raise RuntimeError(f"churner: {err.strip()}")
            c1, t1 = cpu_ticks(d.pid), time.monotonic()
            res = {}
            for who, p in polls.items():
                out, _ = p.communicate("", timeout=60)
                res[who] = json.loads(out)
            fbytes = int((fol.communicate(timeout=30)[0] or "0").strip() or 0)
            st1 = status(cli, sock)
            hz_ticks = os.sysconf("SC_CLK_TCK")
            out = {
                "cpu_pct": 100.0 * (c1 - c0) / hz_ticks / (t1 - t0),
                "received": st1["events_received"] - st0["events_received"],
                "lost": st1["events_lost"] - st0["events_lost"],
                "lag_ms": st1.get("loop_lag_max_ms"),
                "ns_per_ev": 1e9 * (c1 - c0) / hz_ticks / max(1, st1["events_received"] - st0["events_received"]),
                "followed_mb": fbytes / 1e6,
                "fol_dropped": st1["dropped"]["followers"] + st1["dropped"]["slow_readers"],
            }
            for who, r in res.items():
                out[f"{who}_n"] = len(r["lat"])
                out[f"{who}_err"] = r["errors"]
                out[f"{who}_p50"] = pct(r["lat"], 50) * 1000
                out[f"{who}_p99"] = pct(r["lat"], 99) * 1000
                out[f"{who}_max"] = max(r["lat"] or [float("nan")]) * 1000
            return out
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()


KEYS = ("cpu_pct", "received", "lost", "ns_per_ev", "lag_ms", "root_p50", "root_p99", "root_max",
        "nobody_n", "nobody_p50", "nobody_p99", "nobody_max", "followed_mb", "fol_dropped")


def fmt(v):
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1e5 else f"{v:.3g}"
    return str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="build directory A (with the hook)")
    ap.add_argument("--b", required=True, help="build directory B (without)")
    ap.add_argument("--idle", default="200,2000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=8)
    ap.add_argument("--hz", type=float, default=4)
    ap.add_argument("--churn-user", choices=("nobody", "root"), default="root")
    ap.add_argument("--churners", type=int, default=2)
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("run as root: fdwatchd loads eBPF programs")
    builds = {"A": os.path.abspath(a.a), "B": os.path.abspath(a.b)}
    hold = os.path.join(builds["A"], "bench", "fdwatch-bench-hold")
    print(f"machine: {os.uname().release}, {os.cpu_count()} CPUs, load "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f"; {a.churners} churners of {a.churn_user}'s")
    for name, b in builds.items():
        print(f"{name}: {b}")
    for n in [int(x) for x in a.idle.split(",")]:
        h = subprocess.Popen([hold, "idle", str(n)], stdout=subprocess.PIPE, text=True)
        try:
            if h.stdout.readline().strip() != "ready":
                sys.exit("fdwatch-bench-hold did not get ready")
            runs = {"A": [], "B": []}
            for r in range(a.rounds):
                order = ("A", "B") if r % 2 == 0 else ("B", "A")
                for arm in order:
                    res = one_run(builds[arm], a.secs, a.hz, a.churn_user, a.churners)
                    runs[arm].append(res)
                    print(f"idle {n} round {r} {arm}: "
                          + " ".join(f"{k}={fmt(res[k])}" for k in KEYS), flush=True)
            print(f"\nidle {n}: medians of {a.rounds} (A: with, B: without), ratio A/B "
                  "median [min-max] of the pairs")
            for k in KEYS:
                va = [x[k] for x in runs["A"]]
                vb = [x[k] for x in runs["B"]]
                ratios = [x / y for x, y in zip(va, vb) if y]
                rs = (f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
                      if ratios else "-")
                print(f"  {k:12} A {fmt(statistics.median(va)):>10}  B "
                      f"{fmt(statistics.median(vb)):>10}  A/B {rs}")
            print(flush=True)
        finally:
            h.kill()
            h.wait()


if __name__ == "__main__":
    main()
