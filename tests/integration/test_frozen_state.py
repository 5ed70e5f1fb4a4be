#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The disk holding the state directory stalls (a real file system, frozen
with fsfreeze: every write to it waits until it thaws), as a dying disk, a
hung NFS server or a backup's snapshot would make it.

The alert store is written there every few seconds. The daemon must go on
answering, tracking and detecting while the write waits (it is in the
thread pool, not on the event loop), and the file must catch up once the
disk is back: the store as it is then, not as it was at the freeze.

(1) frozen 8 s past the moment a save is due: `fdwatch status` answers
every time within 2 s, an alert resolves, a new process is tracked, no
save counted done or failed, the waiting one shown (alerts.save_pending_ms);
(2) thawed: the save completes, the file holds the alert resolved; (3)
SIGTERM: exit 0.

The disk is thawed whatever becomes of the test: in a finally, on SIGTERM
(meson's timeout), and by a detached `sleep; fsfreeze -u` that outlives a
SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import fdwtest as T
from fdwtest import Failure, check, check_eq
import test_leaks_helpers as H

FROZEN_S = 8  # past SAVE_EVERY_TICKS (5 s) after the change


def sh(*cmd, timeout=60):
    c = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if c.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: exit {c.returncode}: {c.stderr.strip()}")
    return c.stdout


def status_timed(d):
    t0 = time.monotonic()
    c = d.cli("status", json_out=True, timeout=10)
    took = time.monotonic() - t0
    check(c.returncode == 0, f"fdwatch status: exit {c.returncode}: {c.stderr.strip()}")
    return json.loads(c.stdout), took


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwfrozen-")
    mnt = os.path.join(tmp, "state")
    mounted = False
    # meson's timeout sends SIGTERM: exit through the finally blocks (thaw,
    # unmount) rather than die with the disk frozen
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        img = os.path.join(tmp, "state.img")
        os.mkdir(mnt)
        with open(img, "wb") as f:
            f.truncate(32 << 20)
        try:
            sh("mkfs.ext4", "-q", "-F", img)
            sh("mount", "-o", "loop", img, mnt)
            mounted = True
        except (Failure, OSError) as e:
            T.optional_refused(f"a loop-mounted ext4 for the state directory: {e}")
        with T.Daemon(args=["--state-dir", mnt]) as d:  # the last --state-dir wins
            path = os.path.join(tmp, "held")
            with open(path, "w"):
                pass
            ex = H.LeakProg("exhaust", 200, path)
            try:
                run_frozen(r, d, ex, mnt)
            finally:
                H.stop_process(ex.p)
            with r.case("SIGTERM after the thaw: a clean exit"):
                d.stop()
    finally:
        if mounted:
            subprocess.run(["fsfreeze", "-u", mnt], capture_output=True)  # EINVAL: not frozen
            if subprocess.run(["umount", mnt]).returncode != 0:
                subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(tmp, ignore_errors=True)


def run_frozen(r, d, ex, mnt):
    ex.expect("START")
    ex.expect("FULL")
    a = H.wait_alert(d, ex.pid, "fd-exhaustion", 15)
    # the fire is saved before the freeze: what is in the file afterwards
    # is known
    H.wait_for(lambda: status_timed(d)[0]["alerts"]["saves"] >= 1, 20,
               "a first save of the alert store")
    sh("fsfreeze", "-f", mnt)
    # thawed whatever happens to this process: a frozen disk left behind
    # would hang the daemon's exit (a writer on it ignores SIGKILL) and
    # every later sync on the machine
    guard = subprocess.Popen(["sh", "-c", f"sleep {FROZEN_S + 90}; fsfreeze -u '{mnt}'"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1)  # a save under way at the freeze now waits on it
        before, _ = status_timed(d)
        T.log(f"{mnt} frozen; alert {a['id']} firing; alerts {before['alerts']}")
        ex.send("release")
        ex.expect("RELEASED")
        with r.case("frozen: the daemon answers, tracks and detects"):
            worst = 0.0
            resolved = None
            deadline = time.monotonic() + FROZEN_S
            while time.monotonic() < deadline:
                st, took = status_timed(d)
                worst = max(worst, took)
                if not resolved:
                    got = H.alerts_of(d, ex.pid, "fd-exhaustion", "resolved")
                    resolved = got[0] if got else None
                time.sleep(0.5)
            T.log(f"slowest status while frozen: {worst * 1000:.0f} ms")
            check(worst < 2.0, f"a status took {worst:.1f}s while the disk was frozen")
            check(resolved is not None, "the exhaustion alert resolved while frozen")
            # a process started now is tracked (the pipeline runs)
            p = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                H.wait_for(lambda: p.pid in d.processes_by_pid(), 10,
                           f"sleep (pid {p.pid}) in the model")
            finally:
                p.kill()
                p.wait()
            st, _ = status_timed(d)
            al = st["alerts"]
            T.log(f"alerts while frozen: {al}")
            # the save waits on the disk: neither done nor failed, and shown
            check_eq(al["saves"], before["alerts"]["saves"], "saves done while frozen")
            check_eq(al["save_errors"], 0, "save errors while frozen")
            check(al["save_pending_ms"] >= 1000,
                  f"save_pending_ms {al['save_pending_ms']}: a save waits on the disk")
    finally:
        sh("fsfreeze", "-u", mnt)
        guard.kill()
        guard.wait()
    with r.case("thawed: the file catches up"):
        # the stalled save completes; it, or the next, has the resolve
        # (the one in flight may predate it)
        def in_file():
            try:
                with open(os.path.join(mnt, "alerts.json")) as f:
                    doc = json.load(f)
            except (OSError, ValueError):
                return None
            mine = [x for x in doc["alerts"] if x["id"] == a["id"]]
            return mine[0] if mine and mine[0]["state"] == "resolved" else None
        H.wait_for(in_file, 20, f"alert {a['id']} resolved in the state file")
        st, _ = status_timed(d)
        check(st["alerts"]["saves"] > before["alerts"]["saves"],
              f"saves {st['alerts']['saves']}, {before['alerts']['saves']} before")
        check_eq(st["alerts"]["save_errors"], 0, "save errors")
        check_eq(st["alerts"]["save_pending_ms"], 0, "save_pending_ms after the thaw")
        check(st["alerts"]["save_ms_max"] >= 1000,
              f"save_ms_max {st['alerts']['save_ms_max']} ms: the stalled save "
              f"took the freeze's time")


if __name__ == "__main__":
    T.run(main)
