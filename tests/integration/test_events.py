#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Events (tests/progs/fdw_events.c): a dup2 into slot 100 is seen in
`fdwatch --json events --pid PID` with syscall "dup2" and the right oldfd,
newfd, ret, pid, tid; a failing close(99) shows ret -9 and errno EBADF;
--limit keeps the newest; `--follow` prints a new event within 2 s of the
syscall; a dup/close loop is counted exactly; fork, exec and exit of a
child are events too."""

import os
import select
import signal
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq


def find(evs, **want):
    return [e for e in evs if all(e.get(k) == v for k, v in want.items())]


def main(r):
    with T.Daemon() as d:
        prog = T.Prog("fdw_events")
        try:
            cp = prog.next_cp("did")
            pid = cp.pid
            evs = []
            with r.case("events --pid: dup2 into slot 100 with its arguments"):
                evs = d.events(pid=pid, limit=1000)
                check(evs, f"no events for pid {pid}")
                bad = [e for e in evs if e.get("pid") != pid]
                check(not bad, f"--pid {pid} returned events of other pids: {bad[:3]}")
                hits = find(evs, syscall="dup2", newfd=100)
                check_eq(len(hits), 1, "dup2 events with newfd 100")
                e = hits[0]
                check_eq(e.get("oldfd"), cp.int("oldfd"), "dup2 oldfd")
                check_eq(e.get("ret"), cp.int("ret"), "dup2 ret")
                check_eq(e.get("tid"), cp.int("tid"), "dup2 tid")
                check(isinstance(e.get("ts"), (int, float)) and e["ts"] > 0, f"ts {e.get('ts')!r}")
                check(isinstance(e.get("seq"), int), f"seq {e.get('seq')!r}")
            with r.case("events --pid: failing close(99) has ret -9, errno EBADF"):
                hits = find(evs, syscall="close", fd=cp.int("badfd"))
                check_eq(len(hits), 1, "close(99) events")
                check_eq(hits[0].get("ret"), cp.int("close_ret"), "close ret")
                check_eq(hits[0].get("errno"), "EBADF", "close errno")
            with r.case("events are ordered by seq and ts"):
                seqs = [e["seq"] for e in evs]
                check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"seq order {seqs[:20]}")
                ts = [e["ts"] for e in evs]
                check(ts == sorted(ts), "ts not non-decreasing")
            with r.case("events --limit 2 gives the two newest, oldest first"):
                two = d.events(pid=pid, limit=2)
                check_eq([e["seq"] for e in two], [e["seq"] for e in evs[-2:]], "seqs with --limit 2")
            with r.case("events without --json prints text and exits 0"):
                c = d.cli("events", "--pid", pid)
                check_eq(c.returncode, 0, "exit code")
                check("dup2" in c.stdout, f"no dup2 in {c.stdout[:300]!r}")

            # --follow: a new event within 2 s
            fol = subprocess.Popen([T.FDWATCH, "--socket", d.sock, "--json", "events", "--pid",
                                    str(pid), "--follow"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            buf = b""

            def read_until(pred, deadline):
                nonlocal buf
                while True:
                    while b"\n" in buf:
                        line, _, buf = buf.partition(b"\n")
                        if line.strip():
                            ev = T.parse_events(line.decode())[0]
                            if pred(ev):
                                return ev
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    rr, _, _ = select.select([fol.stdout], [], [], left)
                    if rr:
                        chunk = os.read(fol.stdout.fileno(), 65536)
                        if not chunk:
                            return None
                        buf += chunk

            try:
                with r.case("events --follow: prints the recent events first"):
                    ev = read_until(lambda e: e.get("syscall") == "dup2" and e.get("newfd") == 100,
                                    time.monotonic() + 10)
                    check(ev is not None, "recent dup2 event not printed by --follow within 10 s")
                with r.case("events --follow: a new dup2 appears within 2 s"):
                    t0 = time.monotonic()
                    prog.cont()
                    ev = read_until(lambda e: e.get("syscall") == "dup2" and e.get("newfd") == 101,
                                    t0 + 2.0)
                    dt = time.monotonic() - t0
                    check(ev is not None, f"no dup2 newfd=101 event within 2 s (follow exited: "
                          f"{fol.poll()})")
                    T.log(f"   follow latency {dt * 1000:.0f} ms")
                cp = prog.next_cp("did2")
                check_eq(ev and ev.get("ret"), cp.int("ret"), "followed dup2 ret")
            finally:
                fol.send_signal(signal.SIGINT)
                try:
                    fol.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    fol.kill()
                    fol.wait()
                with r.case("daemon still serves after a --follow client went away"):
                    check_eq(d.cli("status").returncode, 0, "status exit code")

            prog.cont()
            cp = prog.next_cp("loop")
            with r.case("a dup/close loop is counted exactly"):
                evs = d.events(pid=pid, limit=1000)
                n = cp.int("n")
                dups = find(evs, syscall="dup", fd=cp.int("src")) or find(evs, syscall="dup",
                                                                           oldfd=cp.int("src"))
                check_eq(len(dups), n, "dup events of the loop")
                closes = find(evs, syscall="close", fd=cp.int("fd"), ret=0)
                check_eq(len(closes), n, f"close({cp.int('fd')}) events of the loop")
            prog.cont()
            cp = prog.next_cp("proc_events")
            with r.case("fork, exec and exit of a child are events"):
                child = cp.int("child")
                evs = d.events(limit=100000)
                forks = [e for e in find(evs, syscall="fork")
                         if child in [v for k, v in e.items() if k not in ("seq", "ts")]]
                check(forks, f"no fork event mentioning child {child}")
                mine = d.events(pid=child, limit=1000)
                check(find(mine, syscall="exec"), f"no exec event for {child}: {mine[:5]}")
                check(find(mine, syscall="exit"), f"no exit event for {child}: {mine[:5]}")
            with r.case("fdw_events ran to completion"):
                prog.finish()
        finally:
            if prog.p.poll() is None:
                prog.kill()


if __name__ == "__main__":
    T.run(main)
