#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A busy server's big table, with fds closed through io_uring.

A process holds 4,000 fds and opens and closes one every millisecond (a
record of its table every half millisecond), like a server under load. A
second in, it closes 1,000 of its fds with io_uring's IORING_OP_CLOSE,
whose numbers no record says: the table is stale and queued for a re-read
in the thread pool (it is too big for the loop).

Every such read was refused, because a record of the table always came
while it ran (last_pos past the read's start): the table stayed stale, and
the 1,000 closed fds stayed in the model, for as long as the process was
busy (second reviewer of df6af40; the note of 2026-12-01). Now the records'
fds keep the records' state and the rest comes from the read.

(1) while the churn goes on, within 8 s of the closes: the table is not
stale, none of the closed fds is in the model, and its count equals
/proc's (give or take the churn's one fd); status says a pool read was
applied around records (`rereads.pool_partial`);
(2) no record lost."""

import os
import subprocess
import time

import fdwtest as T
from fdwtest import Failure, check

HOLD = 4000
CLOSE = 1000
SECONDS = 14


def proc_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main(r):
    with T.Daemon() as d:
        env = dict(os.environ, FDW_BUSY=f"{HOLD},{CLOSE},{SECONDS}")
        p = subprocess.Popen([os.path.join(T.PROGS, "fdw_other")], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            run(r, d, p)
        finally:
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(timeout=SECONDS + 10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run(r, d, p):
    line = p.stdout.readline()
    check(line.startswith("HOLDING"), f"fdw_other said {line!r}")
    pid = p.pid
    # the model has the whole table before the churn
    deadline = time.monotonic() + 30
    while True:
        js = d.fds(pid)
        if len(js.get("fds", [])) >= HOLD and not js.get("stale"):
            break
        if time.monotonic() > deadline:
            raise Failure(f"the model never had pid {pid}'s {HOLD} fds: "
                          f"{len(js.get('fds', []))}, stale {js.get('stale')}")
        time.sleep(0.5)
    before = d.status()
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline()
    check(line.startswith("CLOSED"), f"fdw_other said {line!r}")
    first, last = map(int, line.split()[1:3])
    t0 = time.monotonic()
    T.log(f"pid {pid}: fds {first}..{last} closed through io_uring; churning")
    seen = None
    while time.monotonic() - t0 < 8:
        js = d.fds(pid)
        nums = {f["fd"] for f in js.get("fds", [])}
        kernel = proc_count(pid)
        # first: the churn's fd (the lowest free number)
        ghosts = [n for n in range(first + 1, last + 1) if n in nums]
        seen = (time.monotonic() - t0, js.get("stale"), len(nums), kernel, len(ghosts))
        if not js.get("stale") and not ghosts and abs(len(nums) - kernel) <= 1:
            break
        time.sleep(0.25)
    busy = p.poll() is None
    after = d.status()
    took, stale, model_n, kernel_n, ghosts = seen
    partial = after["rereads"]["pool_partial"] - before["rereads"]["pool_partial"]
    refused = after["rereads"]["pool_refused"] - before["rereads"]["pool_refused"]
    T.log(f"after {took:.2f} s: stale {stale}, model {model_n} fds, /proc {kernel_n}, "
          f"closed fds still in the model {ghosts}; pool reads applied around records "
          f"{partial}, refused {refused}; lost {after['events_lost']}")
    with r.case("a busy big table: the fds io_uring closed leave the model while it is busy"):
        check(busy, "the churn ended before the check: the test proves nothing")
        check(not stale, f"the table is still stale {took:.1f} s after the closes")
        check(ghosts == 0, f"{ghosts} of the {CLOSE} fds io_uring closed are still in the model")
        check(abs(model_n - kernel_n) <= 1, f"the model has {model_n} fds, /proc {kernel_n}")
        check(partial >= 1, "no pool read was applied around the churn's records")
    with r.case("no record lost"):
        check(after["events_lost"] == 0, f"{after['events_lost']} records lost")


if __name__ == "__main__":
    T.run(main)
