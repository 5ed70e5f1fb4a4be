#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process holding as many fds as RLIMIT_NOFILE allows (soft limit raised
to 20,000, the hard limit on these machines), made with dup, open, pipe2,
socket, eventfd and F_DUPFD_CLOEXEC until EMFILE (a pipe2 that needs two
slots when one is left fails and installs nothing): the model must hold
every fd exactly, then follow a close_range of 9,000 fds, a refill with
F_DUPFD, and closing everything. No per-process cap.

The target is what the machine allows: min(20,000, hard limit) on a
developer's machine (fdw_limit notes a lower hard limit); with
FDWATCH_REQUIRE_BPF=1 or CI=true it is 20,000 exactly and a lower hard limit
fails the test instead of shrinking it (fdw_limit ... strict)."""

import resource

import fdwtest as T
from fdwtest import check, check_eq

TARGET = 20000


def main(r):
    def c_count(cp, m):
        js = m[cp.pid]
        check_eq(len(js.get("fds", [])), cp.int("open"), "fds in the model vs open fds")
        procs = d.processes_by_pid()
        check_eq(procs.get(cp.pid, {}).get("fds"), cp.int("open"), "`fdwatch ps` fds column")
        check(not js.get("stale"), "table stale")

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = TARGET if T.STRICT or hard == resource.RLIM_INFINITY else min(TARGET, hard)
    T.log(f"hard RLIMIT_NOFILE {hard}: target {want} fds"
          + (" (strict: a lower limit fails)" if T.STRICT else ""))

    def c_full(cp, m):
        check_eq(cp.int("open"), cp.int("limit"), "premise: open fds == limit")
        check_eq(cp.int("limit"), want, "fds the program reached (its soft limit)")
        c_count(cp, m)

    with T.Daemon() as d:
        T.run_prog(r, d, "fdw_limit", TARGET, *(["strict"] if T.STRICT else []), checks={
            "full": c_full, "half_closed": c_count, "refilled": c_count, "emptied": c_count,
        }, ofd=False)
        with r.case(f"status after the {want}-fd process: no events lost, no fds dropped"):
            st = d.status()
            check_eq(st.get("events_lost"), 0, "status events_lost")
            check_eq((st.get("dropped") or {}).get("fds"), 0, "status dropped.fds")


if __name__ == "__main__":
    T.run(main)
