#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A daemon started after the processes it tracks (tests/progs/fdw_prestart.c):
the program builds its table (files, pipe, sockets, eventfd, memfd, a hole,
fd 5000, a second open of one file, an unlinked file), a CLONE_FILES
sibling and a thread, and stops; only then does fdwatchd start. Its start-up
scan (one pass of the BPF task_file iterator, `scan.source` "snapshot" in
status) must give exact tables (origin.source "procfs"), group shared open
files as kcmp does, know the two processes share one table, and from then on follow
what the thread, the sibling and the process do."""

import fdwtest as T
from fdwtest import check, check_eq, check_origin, by_fd


def main(r):
    prog = T.Prog("fdw_prestart")
    state = {}
    try:
        cp = prog.next_cp("before_daemon")
        with T.Daemon() as d:
            def shared(pid, sib):
                procs = d.processes_by_pid()
                check(pid in procs and sib in procs, "processes missing from `fdwatch ps`")
                check_eq(procs[sib].get("table"), procs[pid].get("table"),
                         f"`table` of CLONE_FILES sibling {sib} vs {pid} (scanned from /proc)")

            def c_before(cp, m):
                sib = cp.int("sibling")
                shared(cp.pid, sib)
                bad = [f"fd {e['fd']}: {e.get('origin')}" for e in m[cp.pid]["fds"]
                       if (e.get("origin") or {}).get("source") != "procfs"]
                check(not bad, "fds found by the /proc scan must have origin.source 'procfs':\n"
                      + T.indent("\n".join(bad)))
                fds = by_fd(m[cp.pid])
                state["gen"] = fds[cp.int("a")].get("generation")
                check_eq(fds[5000].get("ofd"), fds[cp.int("a")].get("ofd"),
                         "ofd of fd 5000 (dup2 of a before the daemon started) vs a")
                check(fds[cp.int("a2")].get("ofd") != fds[cp.int("a")].get("ofd"),
                      "a second open() of a's file must be an open file description of its own")
                tgt = fds[cp.int("deleted")].get("target") or ""
                check(tgt.endswith(" (deleted)"), f"target of an unlinked file: {tgt!r}")

            def c_after(cp, m):
                sib = cp.int("sibling")
                shared(cp.pid, sib)
                check_origin(m[cp.pid], cp.int("thread_fd"), tid=cp.int("thread_tid"))
                check_origin(m[cp.pid], cp.int("sibling_fd"), tid=sib)
                check_origin(m[sib], cp.int("new"), tid=cp.pid)
                e = check_origin(m[cp.pid], cp.int("replaced"), syscall="dup2",
                                 from_fd=cp.int("replaced_from"), tid=cp.pid)
                if isinstance(state.get("gen"), int):
                    check_eq(e.get("generation"), state["gen"] + 1,
                             "generation of a scanned slot after dup2 replaced it")

            with r.case("the start-up scan read the BPF snapshot (one iterator pass)"):
                scan = d.status().get("scan") or {}
                check_eq(scan.get("source"), "snapshot", f"status scan: {scan}")
                check(scan.get("fds", 0) >= 10, f"status scan.fds: {scan}")
            T.check_checkpoint(r, d, prog, cp, extra=lambda m: c_before(cp, m))
            prog.cont()
            cp2 = prog.next_cp("after_daemon")
            T.check_checkpoint(r, d, prog, cp2, extra=lambda m: c_after(cp2, m))
            with r.case("fdw_prestart ran to completion"):
                prog.finish()
    finally:
        if prog.p.poll() is None:
            prog.kill()


if __name__ == "__main__":
    T.run(main)
