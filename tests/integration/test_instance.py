#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One fdwatchd per host and per state directory: a second instance on the
same --lock-file, or on the same --state-dir, exits 1 at once with one line
naming the first one's pid, before it loads a probe; the first one goes on
serving. (Tests pass each daemon its own --lock-file: several run at once.)
A FIFO as the state file (alerts.json) is set aside, not waited on."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq


def second(args, tmp):
    cmd = [T.FDWATCHD, "--socket", os.path.join(tmp, "second.sock")] + args
    T.log(f"second instance: {' '.join(cmd)}")
    c = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=20)
    lines = [l for l in (c.stdout + c.stderr).splitlines() if l.strip()]
    T.log(f"   exit {c.returncode}: {lines}")
    return c, lines


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-instance-")
    try:
        lock = os.path.join(tmp, "host.lock")
        state = os.path.join(tmp, "state")
        # the last --lock-file/--state-dir wins: both outlive the daemon's own directory
        args = ["--lock-file", lock, "--state-dir", state]
        with T.Daemon(args=args) as d:
            pid = d.proc.pid
            with r.case("the host lock file names the running daemon"):
                with open(lock) as f:
                    check_eq(f.read().strip(), str(pid), f"content of {lock}")

            with r.case("a second instance on the same lock file exits 1, naming the pid"):
                c, lines = second(["--state-dir", os.path.join(tmp, "s2"),
                                   "--lock-file", lock], tmp)
                check_eq(c.returncode, 1, "exit code")
                check_eq(len(lines), 1, f"lines of output {lines}")
                check(f"pid {pid}" in lines[0] and lock in lines[0],
                      f"the line does not name pid {pid} and {lock}: {lines[0]!r}")
                check(not os.path.exists(os.path.join(tmp, "second.sock")), "socket created")

            with r.case("a second instance on the same state directory exits 1, naming the pid"):
                c, lines = second(["--state-dir", state,
                                   "--lock-file", os.path.join(tmp, "other.lock")], tmp)
                check_eq(c.returncode, 1, "exit code")
                check_eq(len(lines), 1, f"lines of output {lines}")
                check(f"pid {pid}" in lines[0] and state in lines[0],
                      f"the line does not name pid {pid} and {state}: {lines[0]!r}")

            with r.case("the first daemon still serves"):
                check(d.alive(), "fdwatchd died")
                st = d.status()
                check(st.get("events_received", 0) > 0, f"status {st}")

        with r.case("after it stopped, the same lock and state directory are free"):
            with T.Daemon(args=args) as d2:
                check(d2.alive(), "second daemon died")
                with open(lock) as f:
                    check_eq(f.read().strip(), str(d2.proc.pid), f"content of {lock}")

        with r.case("a FIFO as the state file: set aside, the daemon starts and stops"):
            fifo = os.path.join(state, "alerts.json")
            # the daemons above may have saved alerts about the host's
            # processes (a busy host: leaks, races): the FIFO replaces them
            if os.path.lexists(fifo):
                os.unlink(fifo)
            os.mkfifo(fifo)
            t3 = time.time()
            with T.Daemon(args=args, ready_timeout=60) as d3:
                with open(d3.log_path, errors="replace") as f:
                    text = f.read()
                check(f"state file {fifo} is corrupt (not a regular file)" in text,
                      f"no warning in the log:\n{d3.log_tail()}")
                check(stat.S_ISFIFO(os.lstat(fifo + ".corrupt").st_mode),
                      "the FIFO was not moved to alerts.json.corrupt")
                # none read from the FIFO: only what this daemon fired since
                old = [a for a in d3.cli_json("leaks")["alerts"] if a["fired_at"] < t3]
                check_eq(old, [], "alerts from before this daemon")

        with r.case("a state directory that cannot be locked: the reason, not 'in use'"):
            # its lock file a symlink (refused, not followed), then a state
            # path under a regular file (ENOTDIR)
            st2 = os.path.join(tmp, "s-link")
            os.mkdir(st2)
            os.symlink(os.path.join(tmp, "elsewhere"), os.path.join(st2, "fdwatchd.lock"))
            for sdir, want in ((st2, "symbolic link"),
                               (os.path.join(lock, "sub"), "Not a directory")):
                c, lines = second(["--state-dir", sdir,
                                   "--lock-file", os.path.join(tmp, "third.lock")], tmp)
                check_eq(c.returncode, 1, f"exit code ({sdir})")
                text = " ".join(lines)
                check(want in text and "in use" not in text and "another fdwatchd" not in text,
                      f"state dir {sdir}: {lines}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    T.run(main)
