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

import textwrap

import fdwtest as T
from fdwtest import check
import flood_helpers as F

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


def main(r):
    with T.Daemon() as d:
        attack(r, d, "fork and exec with 19,000 inherited fds")


def attack(r, d, label):
    with F.attacked(d, label, ATTACK, [], HOLD, SECONDS) as a:
        ops = a.done[0]
        T.log(f"{label}: {ops} execs; slowest status {a.worst * 1000:.0f} ms; "
              f"loop lag max {a.after['loop_lag_max_ms']} ms; lost "
              f"{a.after['events_lost'] - a.before['events_lost']}")
        with r.case(f"{label}: while it runs, the daemon answers"):
            check(ops >= 200, f"only {ops} execs ran")
            check(a.worst < 0.5, f"a status took {a.worst:.2f}s during the attack")
        with r.case(f"{label}: once it stops, the model equals /proc"):
            F.wait_table_matches(d, a.pid)


if __name__ == "__main__":
    T.run(main)
