#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`fdwatch status` latency while the host churns (the pipeline issue's
budget: p99 < 100 ms during every workload), with events/s and loss.

usage: sudo bench/status_lat.py [--builddir build] [--secs 10] [--hz 20]
                                [MODE ...]

MODE: open socket pipe accept fork (tests/progs/fdw_churn stress MODE, as
fast as one core allows, pinned to the last CPU) and fanotify (an ordinary
user, nobody, cycling fanotify_init + close: tests/progs/fdw_fan cycles).
Default: all six. One fdwatchd (private socket, default configuration) for
all of them. Two latencies per poll, HZ polls a second:
  raw  GET /v1/status over the unix socket: the daemon's own answer time;
  cli  `fdwatch --json status`: what a user waits for, process start
       included (every 5th poll, to leave the machine to the workload).
Prints one row per mode: polls, p50/p90/p99/max of each, events/s
received, events lost, the daemon's worst loop lag. Figures, not a
verdict: speed budgets live here, not in the tests.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from rawhttp import raw_status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("open", "socket", "pipe", "accept", "fork", "fanotify")


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Poller(threading.Thread):
    def __init__(self, sock, cli, hz):
        super().__init__(daemon=True)
        self.sock, self.cli, self.period = sock, cli, 1.0 / hz
        self.raw, self.clil, self.errors = [], [], []
        self.stop_ev = threading.Event()

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                raw_status(self.sock)
                self.raw.append(time.monotonic() - t0)
                if i % 5 == 0:
                    t1 = time.monotonic()
                    r = subprocess.run([self.cli, "--socket", self.sock, "--json", "status"],
                                       capture_output=True, timeout=30)
                    if r.returncode:
                        self.errors.append(r.stderr[:200])
                    self.clil.append(time.monotonic() - t1)
            except Exception as e:  # a failed poll is a figure too
                self.errors.append(str(e))
            i += 1
            left = self.period - (time.monotonic() - t0)
            if left > 0:
                self.stop_ev.wait(left)


def workload(mode, build, secs, tmp):
    cpu = str(sorted(os.sched_getaffinity(0))[-1])
    if mode == "fanotify":
        # an ordinary user; as many cycles as fit in `secs` (~1 ms each)
        fan = os.path.join(build, "tests", "progs", "fdw_fan")
        return subprocess.Popen(["timeout", f"{secs:g}", "setpriv", "--reuid=nobody",
                                 "--regid=nogroup", "--clear-groups", "taskset", "-c", cpu,
                                 fan, "cycles", "100000000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    churn = os.path.join(build, "tests", "progs", "fdw_churn")
    return subprocess.Popen(["taskset", "-c", cpu, churn, "stress", mode, f"{secs:g}",
                             os.path.join(tmp, "kids")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--hz", type=float, default=20)
    ap.add_argument("modes", nargs="*", default=list(MODES))
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("run as root: fdwatchd loads eBPF programs")
    for m in a.modes:
        if m not in MODES:
            sys.exit(f"unknown mode {m}; one of {' '.join(MODES)}")
    build = os.path.join(ROOT, a.builddir) if not os.path.isabs(a.builddir) else a.builddir
    daemon = os.path.join(build, "daemon", "fdwatchd")
    cli = os.path.join(build, "cli", "fdwatch")
    tmp = tempfile.mkdtemp(prefix="fdw-statuslat-")
    sock = os.path.join(tmp, "fdwatch.sock")
    state = os.path.join(tmp, "state")
    os.mkdir(state)
    log = open(os.path.join(tmp, "daemon.log"), "w")
    d = subprocess.Popen([daemon, "--config", "/dev/null", "--socket", sock, "--state-dir", state,
                          "--lock-file", os.path.join(tmp, "lock")],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            if os.path.exists(sock):
                try:
                    raw_status(sock)
                    break
                except (OSError, RuntimeError, ValueError):
                    pass
            if d.poll() is not None:
                sys.exit(f"fdwatchd exited {d.returncode}; see {log.name}")
            time.sleep(0.1)
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        print(f"fdwatch status latency: {os.uname().release}, {os.cpu_count()} CPUs, {rev}, "
              f"{a.secs:g} s per mode, raw polls at {a.hz:g} Hz (cli every 5th)")
        print(f"{'mode':9} {'polls':>5} {'raw p50':>8} {'p90':>6} {'p99':>6} {'max':>6}   "
              f"{'cli p50':>8} {'p99':>6} {'max':>6}  {'events/s':>9} {'lost':>8} "
              f"{'lag max':>8}  errors")
        for mode in a.modes:
            st0 = raw_status(sock)
            p = Poller(sock, cli, a.hz)
            t0 = time.monotonic()
            w = workload(mode, build, a.secs, tmp)
            p.start()
            _, err = w.communicate(timeout=a.secs + 120)
            p.stop_ev.set()
            p.join(60)
            wall = time.monotonic() - t0
            st1 = raw_status(sock)
            ev = (st1["events_received"] - st0["events_received"]) / wall
            lost = st1["events_lost"] - st0["events_lost"]
            ms = lambda v, q: f"{pct(v, q) * 1000:.0f}"
            print(f"{mode:9} {len(p.raw):5} {ms(p.raw, 50):>8} {ms(p.raw, 90):>6} "
                  f"{ms(p.raw, 99):>6} {ms(p.raw, 100):>6}   {ms(p.clil, 50):>8} "
                  f"{ms(p.clil, 99):>6} {ms(p.clil, 100):>6}  {ev:9.0f} {lost:8} "
                  f"{st1.get('loop_lag_max_ms', 0):>6} ms  {len(p.errors)}", flush=True)
            if w.returncode not in (0, 124):  # 124: timeout ended the fanotify loop
                print(f"  {mode}: workload exit {w.returncode}: {err[:300]!r}")
            time.sleep(1)
    finally:
        d.terminate()
        try:
            d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
