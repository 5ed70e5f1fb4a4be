#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The start-up scan while processes fork: fdwatchd starts while two
processes fork children (that only wait) every few milliseconds, and while
eight others hold 19,000 fds each, so the start-up snapshot takes a while.
After each fork the parent opens a file and closes one the child
inherited. A child forked after the snapshot began but before it reached
the parent has only the fds its parent had at the fork; the parent's later
opens are not the child's. Every child's table must equal /proc (the
records after each table's own read position, and no earlier ones, are
applied on top of it).

The forkers hold 8,000 fds each, so the iterator takes a while over their
own tables too: a fork while it walks them, followed by the parent's open
above the walk's cursor, leaves that open in what the walk shows of the
parent although the fork record is later than the walk's start (a copy of
the parent's table is not the child's then). Each child closes its copy of
those 8,000 at once (a small table to check), which leaves the fds above
them as they were inherited.
"""

import os
import resource
import signal
import tempfile
import time

import fdwtest as T
from fdwtest import check

HOLDERS = 8
HELD = 19000
FORKERS = 2
BULK = 8000
LIVE = 1000  # children kept per forker (the latest: those of the scan)
FORK_EVERY_S = 0.003


def holder(path, n, ready_w):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for _ in range(min(n, hard - 50)):
        os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    os.write(ready_w, b"r")
    while True:
        signal.pause()


def forker(path, go_r, stop_r, ready_w):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bulk = [os.open(path, os.O_RDONLY | os.O_CLOEXEC) for _ in range(min(BULK, hard - 100))]
    os.write(ready_w, b"r")
    os.read(go_r, 1)
    os.set_blocking(stop_r, False)
    opened = []
    live = []
    while True:
        try:
            if os.read(stop_r, 1):
                break
        except BlockingIOError:
            pass
        pid = os.fork()
        if pid == 0:
            os.closerange(bulk[0], bulk[-1] + 1)
            while True:
                signal.pause()
        live.append(pid)
        # after the fork: not the child's
        opened.append(os.open("/etc/hostname", os.O_RDONLY))
        if len(opened) > 2:
            os.close(opened.pop(0))  # after the fork: still the child's
        if len(live) > LIVE:
            old = live.pop(0)
            os.kill(old, signal.SIGKILL)
            os.waitpid(old, 0)
        time.sleep(FORK_EVERY_S)
    # stopped: keep the children (and our fds) as they are until killed
    while True:
        signal.pause()


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwfork-")
    path = os.path.join(tmp, "held")
    open(path, "w").close()
    pids = []
    forkers = []
    try:
        ready_r, ready_w = os.pipe()
        for _ in range(HOLDERS):
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                holder(path, HELD, ready_w)
            pids.append(pid)
        stop_r, stop_w = os.pipe()
        go_r, go_w = os.pipe()
        for _ in range(FORKERS):
            fk = os.fork()
            if fk == 0:
                os.close(stop_w)
                os.close(go_w)
                forker(path, go_r, stop_r, ready_w)
            pids.append(fk)
            forkers.append(fk)
        for _ in range(HOLDERS + FORKERS):
            os.read(ready_r, 1)
        os.close(stop_r)
        os.close(go_r)
        os.write(go_w, b"g" * FORKERS)
        with T.Daemon() as d:
            os.write(stop_w, b"s" * FORKERS)
            time.sleep(0.3)
            scan = d.status().get("scan") or {}
            T.log(f"start-up scan: {scan}")
            kids = []
            for fk in forkers:
                kids += [int(x) for x in open(f"/proc/{fk}/task/{fk}/children").read().split()]
            with r.case(f"every child forked around the start-up scan ({len(kids)}) "
                        f"has exactly /proc's table"):
                check(len(kids) >= 20, f"only {len(kids)} children were forked")
                bad = []
                for k in kids:
                    try:
                        T.assert_table_matches(d, k, "after the scan", verify=False)
                    except T.Failure as e:
                        bad.append(" ".join(x.strip() for x in str(e).splitlines()[:3]))
                check(not bad, f"{len(bad)} of {len(kids)} children differ from /proc:\n"
                      + T.indent("\n".join(bad[:10])))
            with r.case("the forking parents have exactly /proc's table"):
                for fk in forkers:
                    T.assert_table_matches(d, fk, "after the scan", verify=False)
    finally:
        for fk in forkers:
            try:
                kids = open(f"/proc/{fk}/task/{fk}/children").read().split()
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
