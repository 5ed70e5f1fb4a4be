#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CLI errors: a daemon that is not running (no socket file, or a socket file
nobody listens on) gives one line and exit 1 for every command; an unknown
pid gives one line and exit 1 for `fds` and `verify`; a closed fd for
`fds PID FD` exits 1; bad arguments do not exit 0."""

import os
import socket
import tempfile

import fdwtest as T
from fdwtest import check, check_eq

COMMANDS = [["status"], ["ps"], ["fds", "1"], ["events"], ["verify"], ["verify", "1"]]


def one_line_error(c, what):
    check_eq(c.returncode, 1, f"{what}: exit code")
    lines = [l for l in (c.stdout + c.stderr).splitlines() if l.strip()]
    check_eq(len(lines), 1, f"{what}: number of output lines ({lines[:5]})")
    check(c.stdout.strip() == "", f"{what}: error printed on stdout: {c.stdout!r}")


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        top = int(f.read())
    for pid in range(top - 1, 300, -1):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    raise T.Skip("no unused pid")


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-cli-")
    absent = T.Daemon()
    absent.sock = os.path.join(tmp, "none.sock")
    for cmd in COMMANDS:
        for js in (False, True):
            name = f"daemon absent: fdwatch {'--json ' if js else ''}{' '.join(cmd)}"
            with r.case(name):
                one_line_error(absent.cli(*cmd, json_out=js, timeout=20), name)

    stale = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)  # bound, never listening: connect() is refused
    absent.sock = stale
    for cmd in (["status"], ["fds", "1"]):
        name = f"socket nobody listens on: fdwatch {' '.join(cmd)}"
        with r.case(name):
            one_line_error(absent.cli(*cmd, timeout=20), name)
    s.close()
    os.unlink(stale)
    os.rmdir(tmp)

    with T.Daemon() as d:
        pid = unused_pid()
        for cmd in (["fds", pid], ["verify", pid], ["fds", pid, 3]):
            for js in (False, True):
                name = f"unknown pid: fdwatch {'--json ' if js else ''}{' '.join(map(str, cmd))}"
                with r.case(name):
                    one_line_error(d.cli(*cmd, json_out=js), name)
        with r.case("fds PID FD of a closed fd exits 1"):
            c = d.cli("fds", d.proc.pid, 65000, json_out=True)
            check_eq(c.returncode, 1, "exit code")
        for cmd in (["fds", "notapid"], ["fds"], ["nosuchcommand"], ["events", "--limit", "x"]):
            with r.case(f"bad arguments: fdwatch {' '.join(cmd)} does not exit 0"):
                c = d.cli(*cmd)
                check(c.returncode != 0, f"exit code 0: {c.stdout[:200]!r}")
                check("Traceback" not in c.stderr and len(c.stderr) < 4000, "error output too long")


if __name__ == "__main__":
    T.run(main)
