#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The start-up scan while a process forks: fdwatchd starts while one
process forks a child (that only waits) and then opens a file, every few
milliseconds, and while eight others hold 19,000 fds each, so the start-up
snapshot takes a while. A child forked after the snapshot began but before
it reached the parent has only the fds its parent had at the fork; the
parent's later opens are not the child's. Every child's table must equal
/proc (the records after each table's own read position, and no earlier
ones, are applied on top of it)."""

import os
import resource
import signal
import tempfile
import time

import fdwtest as T
from fdwtest import check

HOLDERS = 8
HELD = 19000
FORK_EVERY_S = 0.008


def holder(path, n, ready_w):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for _ in range(min(n, hard - 50)):
        os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    os.write(ready_w, b"r")
    while True:
        signal.pause()


def forker(stop_r):
    os.set_blocking(stop_r, False)
    while True:
        try:
            if os.read(stop_r, 1):
                break
        except BlockingIOError:
            pass
        pid = os.fork()
        if pid == 0:
            while True:
                signal.pause()
        os.open("/etc/hostname", os.O_RDONLY)  # after the fork: not the child's
        time.sleep(FORK_EVERY_S)
    # stopped: keep the children (and our fds) as they are until killed
    while True:
        signal.pause()


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwfork-")
    path = os.path.join(tmp, "held")
    open(path, "w").close()
    pids = []
    try:
        ready_r, ready_w = os.pipe()
        for _ in range(HOLDERS):
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                holder(path, HELD, ready_w)
            pids.append(pid)
        for _ in range(HOLDERS):
            os.read(ready_r, 1)
        stop_r, stop_w = os.pipe()
        fk = os.fork()
        if fk == 0:
            os.close(stop_w)
            forker(stop_r)
        pids.append(fk)
        os.close(stop_r)
        time.sleep(0.2)
        with T.Daemon() as d:
            os.write(stop_w, b"s")
            time.sleep(0.3)
            scan = d.status().get("scan") or {}
            T.log(f"start-up scan: {scan}")
            kids = [int(x) for x in open(f"/proc/{fk}/task/{fk}/children").read().split()]
            with r.case(f"every child forked around the start-up scan ({len(kids)}) "
                        f"has exactly /proc's table"):
                check(len(kids) >= 20, f"only {len(kids)} children were forked")
                bad = []
                for k in kids:
                    try:
                        T.assert_table_matches(d, k, "after the scan", verify=False)
                    except T.Failure as e:
                        bad.append(str(e).splitlines()[0])
                check(not bad, f"{len(bad)} of {len(kids)} children differ from /proc:\n"
                      + T.indent("\n".join(bad[:10])))
            with r.case("the forking parent has exactly /proc's table"):
                T.assert_table_matches(d, fk, "after the scan", verify=False)
    finally:
        if pids:
            try:
                kids = open(f"/proc/{pids[-1]}/task/{pids[-1]}/children").read().split()
            except OSError:
                kids = []
            for k in kids:
                try:
                    os.kill(int(k), signal.SIGKILL)
                except OSError:
                    pass
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
                os.waitpid(p, 0)
            except OSError:
                pass
        os.unlink(path)
        os.rmdir(tmp)


if __name__ == "__main__":
    T.run(main)
