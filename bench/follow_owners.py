#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a follower of /v1/events?follow=1 costs the daemon on a fork-heavy
host, by who follows: nobody, root, an unprivileged one (uid 65534), an
unprivileged slow reader. An unprivileged follower makes the daemon look
up the owner of every event's process (server/access.c srv_owner_of); an
owner past its 5 s TTL, or unknown, is a /proc read on the loop.

usage: sudo bench/follow_owners.py --build BUILD [--build-b BUILD_B]
            [--rate 400] [--parents 1] [--child-ms 0] [--secs 10] [--rounds 3]
            [--arms none,root,nobody,slow]

Each run starts a private fdwatchd (BUILD, or BUILD and BUILD_B in turn),
then a churner, fdwatch-bench-forks PARENTS RATE SECS (bench/forks.c), as
uid 65534 (so every follower is sent every event: the arms differ in the
owner look-ups only): RATE children a second (each opens /dev/null,
closes it, lives CHILD_MS and exits), forked in turn by PARENTS long-lived parents (with
PARENTS > 5 x RATE each parent forks less often than the owners' 5 s
TTL), and one follower by arm:
  none    no follower
  root    curl, root, following live
  nobody  curl as 65534, following live
  slow    a reader as 65534 that asks for the whole history (?limit=
          large: it stays in the backlog, its chunks made as it reads)
          and reads 4 KiB every 50 ms: the events it is sent are seconds
          old, their owners' reads past the TTL
The arms are interleaved by round (A B C D A B C D ...). Per run, over
the churn: the daemon's CPU per million events and per wall second, the
loop thread's CPU alone (/proc/PID/task/PID/stat), its read(2) calls
per fork (/proc/PID/io syscr: an owner read of a live process is two) and
openat(2) calls per fork (perf stat, syscalls:sys_enter_openat: a read of
a child that is gone is an open that fails, no read), events
received and lost, loop_lag_max_ms, the follower's bytes and whether it
was dropped. Summary: the median and min-max of each figure per arm.
Run as root with no other fdwatchd, under `flock /tmp/fdw-heavy.lock`.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

from private_daemon import private_daemon, status

NOBODY = 65534
# a python uid 65534 may run (root's pyenv is not)
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# A slow follower: the whole history, then 4 KiB every 20 ms until killed;
# prints the bytes read. argv: SOCK
SLOW = r'''
import signal, socket, sys, time
n = 0
def done(*_):
    print(n); sys.stdout.flush(); sys.exit(0)
signal.signal(signal.SIGTERM, done)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/events?follow=1&limit=1000000 HTTP/1.1\r\nHost: x\r\n\r\n")
while True:
    b = s.recv(4096)
    if not b:
        break
    n += len(b)
    time.sleep(0.05)
done()
'''

FAST = "curl -sN --max-time {t} --unix-socket {sock} 'http://x/v1/events?follow=1' | wc -c"


def ticks(path):
    with open(path) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def syscr(pid):
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("syscr:"):
                return int(line.split()[1])
    return 0


def one_run(build, arm, rate, secs, parents, child_ms):
    ids = dict(user=NOBODY, group=NOBODY, extra_groups=[])
    fol = None
    with private_daemon(build, "fdw-follow-") as pd:
        d, sock, cli = pd.proc, pd.sock, pd.cli
        try:
            time.sleep(1)  # the owners learnt, the start-up settled
            if arm in ("root", "nobody"):
                fol = subprocess.Popen(["sh", "-c", FAST.format(t=secs + 2, sock=sock)], stdout=subprocess.PIPE,
                                       text=True, stdin=subprocess.DEVNULL,
                                       start_new_session=True, **(ids if arm == "nobody" else {}))
            elif arm == "slow":
                fol = subprocess.Popen([PY, "-c", SLOW, sock], stdout=subprocess.PIPE,
                                       text=True, stdin=subprocess.DEVNULL,
                                       start_new_session=True, **ids)
            time.sleep(0.5)
            st0 = status(cli, sock)
            c0, l0, r0, t0 = (ticks(f"/proc/{d.pid}/stat"), ticks(f"/proc/{d.pid}/task/{d.pid}/stat"),
                              syscr(d.pid), time.monotonic())
            # the daemon's openat(2) calls: an owner read opens /proc/PID/status
            # (and ns/user when it is there); a gone child's fails at once,
            # read(2) not called: syscr misses it
            perf = (subprocess.Popen(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_openat",
                                      "-p", str(d.pid)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
                    if shutil.which("perf") else None)
            ch = subprocess.run([os.path.join(build, "bench", "fdwatch-bench-forks"), str(parents),
                                 str(rate), str(secs), str(child_ms)],
                                capture_output=True, text=True, timeout=secs + 60, **ids)
            if ch.returncode:
                raise RuntimeError(f"churner: {ch.stderr.strip()}")
            time.sleep(0.3)  # the last drain
            c1, l1, r1, t1 = (ticks(f"/proc/{d.pid}/stat"), ticks(f"/proc/{d.pid}/task/{d.pid}/stat"),
                              syscr(d.pid), time.monotonic())
            st1 = status(cli, sock)
            opens = None
            if perf:
                perf.send_signal(signal.SIGINT)
                for line in perf.communicate(timeout=30)[1].splitlines():
                    f = line.split(",")
                    if len(f) > 2 and "sys_enter_openat" in f[2] and f[0].isdigit():
                        opens = int(f[0])
            fbytes = 0
            if fol:
                if arm == "slow":
                    os.killpg(fol.pid, signal.SIGTERM)
                out = fol.communicate(timeout=30)[0] or "0"
                fbytes = int(out.strip().splitlines()[-1] if out.strip() else 0)
            hz = os.sysconf("SC_CLK_TCK")
            forks = int(ch.stdout.strip().split("=")[1])
            ev = max(1, st1["events_received"] - st0["events_received"])
            return {
                "forks_s": forks / (t1 - t0),
                "cpu_pct": 100.0 * (c1 - c0) / hz / (t1 - t0),
                "loop_pct": 100.0 * (l1 - l0) / hz / (t1 - t0),
                "cpu_s_per_Mev": (c1 - c0) / hz / ev * 1e6,
                "loop_s_per_Mev": (l1 - l0) / hz / ev * 1e6,
                "reads_per_fork": (r1 - r0) / max(1, forks),
                "opens_per_fork": opens / max(1, forks) if opens is not None else None,
                "received": ev,
                "lost": st1["events_lost"] - st0["events_lost"],
                "lag_ms": st1.get("loop_lag_max_ms"),
                "followed_mb": fbytes / 1e6,
                "fol_dropped": (st1["dropped"]["followers"] + st1["dropped"]["slow_readers"]) -
                               (st0["dropped"]["followers"] + st0["dropped"]["slow_readers"]),
            }
        finally:
            if fol and fol.poll() is None:
                try:
                    os.killpg(fol.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                fol.wait()


KEYS = ("forks_s", "cpu_pct", "loop_pct", "cpu_s_per_Mev", "loop_s_per_Mev", "reads_per_fork",
        "opens_per_fork",
        "received", "lost", "lag_ms", "followed_mb", "fol_dropped")


def fmt(v):
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 1e4 else f"{v:.3g}"
    return "-" if v is None else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--build-b", help="a second build: each arm runs on both, in turn")
    ap.add_argument("--rate", type=float, default=400)
    ap.add_argument("--parents", type=int, default=1)
    ap.add_argument("--child-ms", type=int, default=0,
                    help="each child lives this long (0: gone when the daemon looks)")
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arms", default="none,root,nobody,slow")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    builds = [("A", a.build)] + ([("B", a.build_b)] if a.build_b else [])
    arms = a.arms.split(",")
    print(f"fdwatch follow owners: {os.uname().release}, {os.cpu_count()} CPUs, "
          f"{a.rate:g} forks/s from {a.parents} parents, children of {a.child_ms} ms, for {a.secs:g} s, {a.rounds} rounds")
    res = {}
    for rnd in range(a.rounds):
        for arm in arms:
            for tag, build in builds:
                name = f"{tag}:{arm}" if a.build_b else arm
                r = one_run(build, arm, a.rate, a.secs, a.parents, a.child_ms)
                res.setdefault(name, []).append(r)
                print(f"round {rnd + 1} {name:10s} " +
                      " ".join(f"{k}={fmt(r[k])}" for k in KEYS), flush=True)
    print("\nmedian [min-max] per arm")
    print(f"{'arm':10s} " + " ".join(f"{k:>22s}" for k in KEYS))
    for name, rs in res.items():
        cells = []
        for k in KEYS:
            v = [r[k] for r in rs if r[k] is not None]
            cells.append(f"{fmt(statistics.median(v))} [{fmt(min(v))}-{fmt(max(v))}]"
                         if v else "-")
        print(f"{name:10s} " + " ".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
    main()
