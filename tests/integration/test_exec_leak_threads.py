#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak from a process with more than one thread: its fork children
hand fds over correctly, and nothing may be reported.

A fork beside other threads has the child's table read from /proc when the
fork record is applied (another thread may have changed the parent's table
around the fork). By then the child has usually done what it does between
its fork and its exec, and often exec'd and exited. Found by the
false-positive sweep (bench/sweep.py) on python3 multiprocessing, git and
a threaded program's pipe idiom; each was reported as an exec-leak:

  passfds  a pipe made O_CLOEXEC; the child clears the bit of one end
           (F_SETFD, python's pass_fds) and execs sleep: the read showed
           the bit cleared, not that it was cleared on purpose (and the
           race form claimed the parent set it after the fork);
  notify   a pipe without O_CLOEXEC; the child closes one end, makes the
           other close-on-exec and execs true, which exits at once (git's
           start_command): the read of the gone child failed, and the
           child's records were skipped as if it had succeeded;
  keep     a pipe without O_CLOEXEC; the child closes the read end and
           execs sleep with the write end (the pipe idiom): the read showed
           the read end gone, not that the child gave it up.

Still reported, from the same threaded parent (the test can see a leak):
/dev/null opened without O_CLOEXEC and a child exec'ing with it
(leak-exec-threads), and a pipe both of whose ends the child execs with
(keep-both-threads: the classic hang).

tests/progs/fdw_race modes clean-exec-threads H (10 children, 30 for
notify), leak-exec-threads, keep-both-threads; --leak exec_min_age=0."""

import time

import fdwtest as T
from fdwtest import check, check_eq


def exec_leaks(d, pid):
    return [a for a in d.cli_json("leaks", "--pid", pid)["alerts"] if a["kind"] == "exec-leak"]


def wait_leak(d, pid, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        got = exec_leaks(d, pid)
        if got:
            return got
        check(time.monotonic() < deadline, f"no exec-leak for {pid} within {timeout}s")
        time.sleep(0.2)


def main(r):
    T.require_root_and_bpf()
    with T.Daemon(args=["--leak", "exec_min_age=0"]) as d:
        for how in ("passfds", "notify", "keep"):
            with r.case(f"clean-exec-threads {how}: no exec-leak"):
                p = T.Prog("fdw_race", "clean-exec-threads", how)
                try:
                    cp = p.next_cp("clean-exec-threads")
                    time.sleep(3)  # the detectors' ticks after the last exec
                    got = exec_leaks(d, p.pid)
                    check(not got, f"{cp.int('n')} hand-overs ({how}) reported: "
                                   f"{[a['summary'] for a in got]!r}")
                finally:
                    p.kill()

        with r.case("leak-exec-threads: reported"):
            p = T.Prog("fdw_race", "leak-exec-threads")
            try:
                cp = p.next_cp("leak-exec-threads")
                a = wait_leak(d, p.pid)[0]
                check_eq([f["fd"] for f in a["evidence"]["leaked"]], [cp.int("fd")],
                         "leaked fds")
                check_eq(a["evidence"]["children"][-1]["pid"], cp.int("child"), "the child")
            finally:
                p.kill()

        with r.case("keep-both-threads: both ends reported"):
            p = T.Prog("fdw_race", "keep-both-threads")
            try:
                cp = p.next_cp("keep-both-threads")
                want = sorted([cp.int("fd"), cp.int("fd2")])
                deadline = time.monotonic() + 20
                while True:
                    got = sorted(f["fd"] for a in exec_leaks(d, p.pid)
                                 for f in a["evidence"]["leaked"])
                    if got == want or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                check_eq(got, want, "leaked fds")
            finally:
                p.kill()


if __name__ == "__main__":
    T.run(main)
