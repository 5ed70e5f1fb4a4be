# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unprivileged attacker holding a big table, timed from the outside
(test_reread_flood, test_cloexec_flood, test_exec_flood, test_sites_flood).

The attacker is a python script run as nobody (setpriv execs: the pid is
the attacker's; the system python, a per-user one under /root is not
nobody's) that speaks a small protocol on its stdin and stdout: it prints
"HOLDING" once it holds its fds, waits for a line, attacks, prints "DONE N
..." (N: the rounds it made, then integers of its own), and holds its fds
until the next line."""

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass

import fdwtest as T
from fdwtest import Failure, check


def status_timed(d):
    """`fdwatch status --json` and the seconds it took."""
    t0 = time.monotonic()
    c = d.cli("status", json_out=True, timeout=60)
    took = time.monotonic() - t0
    if c.returncode != 0:
        raise Failure(f"fdwatch status: exit {c.returncode}: {c.stderr.strip()}")
    return json.loads(c.stdout), took


@dataclass
class Attack:
    pid: int
    done: list      # the integers after DONE: the rounds first
    worst: float    # the slowest status while it ran, in seconds
    before: dict    # status before it began
    after: dict     # status once it ended


@contextlib.contextmanager
def holding(d, label, script, argv, hold):
    """Run `script` as nobody until it holds `hold` fds and the model has
    them; yield its Popen; tell it to end and wait for it after."""
    p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "/usr/bin/python3", "-c", script] + list(argv),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        check(line.startswith("HOLDING"), f"the attacker said {line!r}")
        T.log(f"{label}: attacker pid {p.pid} holds {hold} fds")
        # the model has the table before the attack (a re-read first)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            js = d.fds(p.pid)
            if len(js.get("fds", [])) >= hold and not js.get("stale"):
                break
            time.sleep(0.5)
        yield p
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


def go(p):
    """Tell an attacker that holds its fds to attack."""
    p.stdin.write("\n")
    p.stdin.flush()


def done(p):
    """The integers after the attacker's DONE: the rounds first."""
    line = p.stdout.readline()
    check(line.startswith("DONE"), f"the attacker said {line!r}")
    return [int(x) for x in line.split()[1:]]


@contextlib.contextmanager
def attacked(d, label, script, argv, hold, seconds):
    """Run `script` as nobody until it holds `hold` fds and the model has
    them; let it attack while `fdwatch status` is timed every 0.2 s for
    `seconds`; yield an Attack while it still holds its fds."""
    with holding(d, label, script, argv, hold) as p:
        before, _ = status_timed(d)
        go(p)
        worst = 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            _, took = status_timed(d)
            worst = max(worst, took)
            time.sleep(0.2)
        counts = done(p)
        after, _ = status_timed(d)
        yield Attack(p.pid, counts, worst, before, after)


def wait_table_matches(d, pid, timeout=30):
    """The model equals /proc/PID/fd, within `timeout` s of the attack."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            T.assert_table_matches(d, pid, "after the attack")
            return
        except Failure:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
