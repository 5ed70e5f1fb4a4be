#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unprivileged user runs a program again and again from a process
holding 19,000 fds without close-on-exec: each exec record makes the
model and the exec-leak detector handle 19,000 inherited fds
(milliseconds), and the capture looked at the clock once every 2,048
records, so a 5 ms slice of the loop, and the 20 ms status drain, lasted
seconds (hostile pass 5: `fdwatch status` 8.2 s, the loop 3.8 s late).
Now a bounded drain looks at the clock every 16 records.

As nobody: fork and exec /bin/true in a loop for 8 s.
(1) while it runs: every `fdwatch status` answers within 0.5 s;
(2) once it stops: the model equals /proc/PID/fd."""

import json
import subprocess
import textwrap
import time

import fdwtest as T
from fdwtest import Failure, check

HOLD = 19000
SECONDS = 8

ATTACK = textwrap.dedent(f"""
    import os, resource, sys, time
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    null = os.open("/dev/null", os.O_RDONLY)
    held = [os.dup(null) for _ in range({HOLD})]  # inheritable
    print("HOLDING", flush=True)
    sys.stdin.readline()  # go
    end = time.monotonic() + {SECONDS}
    n = 0
    while time.monotonic() < end:
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/true", ["true"])
        os.waitpid(pid, 0)
        n += 1
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
        attack(r, d, "fork and exec with 19,000 inherited fds", "exec")


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
        T.log(f"{label}: {ops} execs; slowest status {worst * 1000:.0f} ms; "
              f"loop lag max {after['loop_lag_max_ms']} ms; lost "
              f"{after['events_lost'] - before['events_lost']}")
        with r.case(f"{label}: while it runs, the daemon answers"):
            check(ops >= 200, f"only {ops} execs ran")
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
