#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fanotify reader that predates the daemon (tests/progs/fdw_fan.c
prereader): it calls fanotify_init and marks a file, stops, and only then
does fdwatchd start. No fanotify_init happens after the start, yet the
daemon must see the reader's fanotify file in its start-up snapshot, attach
the read() probe (status probes.fanotify_read) and follow the event fd the
reader's next read() installs, with its origin."""

import os
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq, by_fd


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwfanpre-")
    target = os.path.join(tmp, "watched")
    with open(target, "w") as f:
        f.write("x\n")
    rd = T.Prog("fdw_fan", "prereader", target)
    try:
        cp = rd.next_cp("armed")
        fan = cp.int("fan")
        with T.Daemon() as d:
            with r.case("the read probe is attached for a fanotify file held before the start"):
                deadline = time.monotonic() + 20
                st = d.status()
                while not (st.get("probes") or {}).get("fanotify_read"):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                    st = d.status()
                check((st.get("probes") or {}).get("fanotify_read") is True,
                      f"status probes: {st.get('probes')}")
                check_eq((st.get("scan") or {}).get("source"), "snapshot", "status scan.source")
                check(fan in by_fd(d.fds(cp.pid)), f"the reader's fanotify fd {fan} is not in the model")
            rd.cont()
            cp2 = rd.next_cp("read")
            evfd = cp2.int("fd")
            with r.case("the event fd a pre-existing reader's read() installs is followed"):
                js = d.fds(cp2.pid)
                check(evfd in by_fd(js), f"event fd {evfd} is not in the model")
                T.check_origin(js, evfd, syscall="read", source="event")
                T.assert_table_matches(d, cp2.pid, "read")
            with r.case("the reader ran to completion"):
                rd.finish()
    finally:
        if rd.p.poll() is None:
            rd.kill()
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)


if __name__ == "__main__":
    T.run(main)
