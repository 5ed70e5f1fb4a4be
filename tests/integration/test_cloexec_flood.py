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

import textwrap

import fdwtest as T
from fdwtest import check
import flood_helpers as F

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


def main(r):
    with T.Daemon() as d:
        attack(r, d, "close_range alone", "plain")
        attack(r, d, "close_range after an F_SETFD", "clear")


def attack(r, d, label, mode):
    with F.attacked(d, label, ATTACK, [mode], HOLD, SECONDS) as a:
        ops, last = a.done[0], a.done[1]
        T.log(f"{label}: {ops} close_range calls; slowest status {a.worst * 1000:.0f} ms; "
              f"loop lag max {a.after['loop_lag_max_ms']} ms; lost "
              f"{a.after['events_lost'] - a.before['events_lost']}")
        with r.case(f"{label}: while it runs, the daemon answers"):
            check(ops >= 50000, f"only {ops} calls ran")
            check(a.worst < 0.5, f"a status took {a.worst:.2f}s during the attack")
        with r.case(f"{label}: once it stops, the model equals /proc"):
            F.wait_table_matches(d, a.pid)
            js = d.fd(a.pid, last)
            check(js["fd"]["cloexec"] is False, f"fd {last} inheritable again: {js}")


if __name__ == "__main__":
    T.run(main)
