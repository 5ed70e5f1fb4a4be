#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`fdwatch top` against a real daemon in a real terminal (tmux): a child
holding 150 more fds than it started with shows with its open fd count as
/proc has it and its share of the 1000-fd soft limit it set; Enter opens
its table, which lists the file it holds; after it opens 20 fds a second
its growth shows; q gives the shell back with the terminal restored.
(cli/test_top_tmux.py checks every key and column against a fake daemon.)"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq

CHILD = r"""
import os, resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 4096))
keep = [os.open("/etc/hostname", os.O_RDONLY) for _ in range(150)]
print("ready", flush=True)
sys.stdin.readline()
for _ in range(100):
    keep.append(os.open("/dev/null", os.O_RDONLY))
    time.sleep(0.05)
print("grown", flush=True)
sys.stdin.readline()
"""


class Pane:
    def __init__(self, tmp):
        self.sock = os.path.join(tmp, "tmux.sock")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color",
               "LC_ALL": "C.UTF-8", "HOME": tmp}
        shell = ["env", "-i"] + [f"{k}={v}" for k, v in env.items()] + [
            "bash", "--norc", "--noprofile"]
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "20", " ".join(shell))
        self.send("PS1='$ '", "Enter")
        self.wait(lambda s: s.rstrip().endswith("$"), "a prompt")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=30)

    def send(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait(self, pred, what, timeout=20):
        deadline = time.time() + timeout
        s = ""
        while time.time() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.2)
        raise T.Failure(f"timed out waiting for {what}; the pane shows:\n{s}")

    def close(self):
        self.tmux("kill-server")


def row_of(screen, pid):
    for line in screen.splitlines():
        cells = line.split()
        if cells[:1] == [str(pid)]:
            return cells
    return None


def main(r):
    if not shutil.which("tmux"):
        if T.STRICT:
            raise T.Failure("tmux is not installed (scripts/install-deps.sh)")
        raise T.Skip("tmux is not installed")
    tmp = tempfile.mkdtemp(prefix="fdwt-top-", dir="/tmp")
    with T.Daemon() as d:
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        pane = None
        try:
            check_eq(child.stdout.readline().strip(), "ready", "child")
            pid = child.pid
            pane = Pane(tmp)
            pane.send(f"clear; echo BEFORE-TOP; {T.FDWATCH} --socket {d.sock} top -p {pid}",
                      "Enter")
            with r.case("top: the child's row is what /proc says"):
                s = pane.wait(lambda s: row_of(s, pid) and row_of(s, pid)[4] != "-",
                              "the child's row with its limit share")
                row = row_of(s, pid)
                nfds = len(os.listdir(f"/proc/{pid}/fd"))
                check_eq(row[2], str(nfds), f"FDS of {row}")
                check_eq(row[4], "%.1f%%" % (100.0 * nfds / 1000), f"LIMIT% of {row}")
                check("processes 1 " in s.splitlines()[0], "top -p: one process")
            with r.case("top: Enter opens the child's table"):
                pane.send("Enter")
                s = pane.wait(lambda s: f"pid {pid} (" in s and "/etc/hostname" in s,
                              "the fd table")
                check(f"{nfds} fds" in s, f"the table's count: {s.splitlines()[0]}")
                check(s.splitlines()[0].startswith("fdwatch top - pid"),
                      "the first line stays on a full screen")
                pane.send("NPage")
                s = pane.wait(lambda s: "     20  " in s or " 20  no" in s, "scrolled a page")
                pane.send("Escape")
                pane.wait(lambda s: row_of(s, pid), "back to the list")
            with r.case("top: a child opening 20 fds a second shows its growth"):
                child.stdin.write("grow\n")
                child.stdin.flush()
                check_eq(child.stdout.readline().strip(), "grown", "child")
                # the slope of the last minute: 100 fds in 5 s of it
                s = pane.wait(lambda s: row_of(s, pid) and row_of(s, pid)[3] != "-" and
                              float(row_of(s, pid)[3]) > 50, "growth > 50/min", timeout=10)
                row = row_of(s, pid)
                check(row[5] != "-", f"a growing process has a time to its limit: {row}")
            with r.case("top: q restores the terminal"):
                pane.send("q")
                s = pane.wait(lambda s: "fdwatch top -" not in s and "BEFORE-TOP" in s and
                              s.rstrip().endswith("$"), "the shell")
                pane.send("clear; stty -a | grep -o -w -e -icanon -e icanon | tr '\\n' ' '; "
                          "echo DONE-$((1+1000))", "Enter")
                s = pane.wait(lambda s: "DONE-1001" in s, "stty")
                check("icanon" in s and "-icanon" not in s, f"canonical mode is back: {s}")
        finally:
            if pane:
                pane.close()
            try:
                child.stdin.write("bye\n")
                child.stdin.close()
            except OSError:
                pass
            child.wait(timeout=30)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    T.run(main)
