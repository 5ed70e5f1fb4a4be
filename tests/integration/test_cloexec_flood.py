#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unprivileged user makes every fd of a big table close-on-exec again
and again: a process holding 19,000 fds calls
close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) about 50,000 times a second.

The kernel does that with a bitmap (a few hundred words); the model
walked all 19,000 slots per record (hostile pass 5: 50 us a record, the
loop a second late, `fdwatch status` 2 to 5 s, millions of records lost).
Now a table keeps which of its fds may be open without close-on-exec since
its last such close_range, and the next one visits those alone.

Twice, as nobody: close_range alone; then close_range after clearing the
bit of one fd with F_SETFD (one slot changed per round).
(1) while it runs: every `fdwatch status` answers within 0.5 s;
(2) once it stops: the model equals /proc/PID/fd (close-on-exec bits
included) and `fdwatch verify` agrees."""

import json
import subprocess
import textwrap
import time

import fdwtest as T
from fdwtest import Failure, check

HOLD = 19000
SECONDS = 8

ATTACK = textwrap.dedent(f"""
    import ctypes, fcntl, os, resource, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    null = os.open("/dev/null", os.O_RDONLY)
    held = [os.dup(null) for _ in range({HOLD})]  # inheritable
    clear = sys.argv[1] == "clear"
    cr = libc.syscall
    print("HOLDING", flush=True)
    sys.stdin.readline()  # go
    end = time.monotonic() + {SECONDS}
    n = 0
    while time.monotonic() < end:
        for _ in range(500):
            if clear:
                fcntl.fcntl(held[n % {HOLD}], fcntl.F_SETFD, 0)
            cr(436, 3, 0xffffffff, 4)  # close_range, CLOSE_RANGE_CLOEXEC
            n += 1
        time.sleep(0.01)
    # a last change the model must have: one fd inheritable again
    fcntl.fcntl(held[7], fcntl.F_SETFD, 0)
    print("DONE", n, held[7], flush=True)
    sys.stdin.readline()  # hold the fds until told
""")


def status_timed(d):
    t0 = time.monotonic()
    c = d.cli("status", json_out=True, timeout=60)
    took = time.monotonic() - t0
    if c.returncode != 0:
        raise Failure(f"fdwatch status: exit {c.returncode}: {c.stderr.strip()}")
    return json.loads(c.stdout), took


def main(r):
    with T.Daemon() as d:
        attack(r, d, "close_range alone", "plain")
        attack(r, d, "close_range after an F_SETFD", "clear")


def attack(r, d, label, mode):
    p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "/usr/bin/python3", "-c", ATTACK, mode],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        check(line.startswith("HOLDING"), f"the attacker said {line!r}")
        pid = p.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            js = d.fds(pid)
            if len(js.get("fds", [])) >= HOLD and not js.get("stale"):
                break
            time.sleep(0.5)
        before, _ = status_timed(d)
        p.stdin.write("\n")
        p.stdin.flush()
        worst = 0.0
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            _, took = status_timed(d)
            worst = max(worst, took)
            time.sleep(0.2)
        line = p.stdout.readline()
        check(line.startswith("DONE"), f"the attacker said {line!r}")
        ops, last = int(line.split()[1]), int(line.split()[2])
        after, _ = status_timed(d)
        T.log(f"{label}: {ops} close_range calls; slowest status {worst * 1000:.0f} ms; "
              f"loop lag max {after['loop_lag_max_ms']} ms; lost "
              f"{after['events_lost'] - before['events_lost']}")
        with r.case(f"{label}: while it runs, the daemon answers"):
            check(ops >= 50000, f"only {ops} calls ran")
            check(worst < 0.5, f"a status took {worst:.2f}s during the attack")
        with r.case(f"{label}: once it stops, the model equals /proc"):
            deadline = time.monotonic() + 30
            while True:
                try:
                    T.assert_table_matches(d, pid, "after the attack")
                    break
                except Failure:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            js = d.fd(pid, last)
            check(js["fd"]["cloexec"] is False, f"fd {last} inheritable again: {js}")
    finally:
        try:
            p.stdin.write("\n")
            p.stdin.flush()
        except OSError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == "__main__":
    T.run(main)
