#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""cli-top: `fdwatch top` in a real terminal (tmux), as a person uses it.

A fake daemon (test_fake_server.py --serve) answers; tmux runs a shell in
a 120x30 pane; keys are sent with `tmux send-keys` and what the pane
shows is read with `tmux capture-pane` and checked: the heading, the
rows in each sort order, the trend of an alerted process (Unicode blocks
and the ASCII fallback), the races column (404 from the daemon: "-"; with
findings: their count), opening a process's fd table and coming back,
and that q and ^C give the shell back with the terminal restored (the
alternate screen gone, canonical mode and echo on again). Then, on the same
terminal: tables go through $PAGER (not with --no-pager), in color (not
with NO_COLOR).

    test_top_tmux.py --fdwatch PATH
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "test_fake_server.py")


class Pane:
    def __init__(self, tmp, env):
        self.name = "fdwt-top-%d" % os.getpid()
        self.sock = os.path.join(tmp, "tmux.sock")
        shell = ["env", "-i"] + ["%s=%s" % kv for kv in env.items()] + [
            "bash", "--norc", "--noprofile"]
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "30",
                  " ".join(shell))
        self.tmux("set-option", "-g", "escape-time", "0")
        self.send("PS1='$ '", "Enter")
        self.wait(lambda s: s.rstrip().endswith("$"), "a shell prompt")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args),
                              capture_output=True, text=True, timeout=30)

    def send(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait(self, pred, what, timeout=15):
        deadline = time.time() + timeout
        s = ""
        while time.time() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; the pane shows:\n%s"
                             % (what, s))

    def shell(self, cmd):
        """Run cmd at the prompt; the screen once it is done."""
        self.n = getattr(self, "n", 0) + 1
        # $((...)): the marker is in the output, not in the typed line
        self.send("clear; %s; echo DONE-$((%d+1000))" % (cmd, self.n), "Enter")
        mark = "DONE-%d" % (self.n + 1000)
        return self.wait(lambda s: mark in s, cmd)

    def close(self):
        self.tmux("kill-server")
        # the server unlinks its socket as it exits, after kill-server has
        # returned: removing the directory first failed now and then
        # ("Directory not empty")
        for _ in range(100):
            if not os.path.exists(self.sock):
                return
            time.sleep(0.05)
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s\n%s" % (what, detail))
        return cond


def rows_of(screen):
    """The table rows under the heading, as lists of cells."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:2] == ["PID", "COMMAND"]:
            return [l.split() for l in lines[i + 1:] if l.strip()]
    return []


def stty_restored(pane, c, what):
    s = pane.shell("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo "
                   "-e -icanon -e -echo | sort | tr '\\n' ' '")
    c.check("echo icanon DONE-" in s, what + ": canonical mode and echo back",
            s)


def run_top(c, pane, fdwatch, sock, utf8=True):
    pane.send("clear; echo MARKER-BEFORE-TOP; %s --socket %s top"
              % (fdwatch, sock), "Enter")
    # a whole frame: the three processes of the fake daemon
    s = pane.wait(lambda s: "fdwatch top -" in s and len(rows_of(s)) >= 3, "top")
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fdwatch", required=True)
    a = ap.parse_args()
    if not shutil.which("tmux"):
        print("tmux is not installed (scripts/install-deps.sh)")
        return 77
    fdwatch = os.path.abspath(a.fdwatch)
    c = Checker()
    tmpdir = None if len(tempfile.gettempdir()) < 60 else "/tmp"
    with tempfile.TemporaryDirectory(prefix="fdwt-top-", dir=tmpdir) as tmp:
        servers = []
        socks = {}
        for mode in ("normal", "races", "mute", "hostile"):
            socks[mode] = os.path.join(tmp, mode + ".sock")
            servers.append(subprocess.Popen(
                [sys.executable, FAKE, "--serve", socks[mode], "--mode", mode]))
        for _ in range(100):
            if all(os.path.exists(p) for p in socks.values()):
                break
            time.sleep(0.05)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "TERM": "xterm-256color", "LC_ALL": "C.UTF-8", "TZ": "UTC",
               "HOME": tmp}
        pane = Pane(tmp, env)
        try:
            s = run_top(c, pane, fdwatch, socks["normal"])
            first = s.splitlines()[0]
            c.check("processes 3" in first and "fds 1251" in first and
                    "alerts firing 1" in first and "races n/a" in first and
                    "sort: fds" in first, "top: the summary line", first)
            head = [l for l in s.splitlines() if l.startswith("    PID")]
            c.check(head and head[0].split() == [
                "PID", "COMMAND", "FDS", "GROWTH/m", "LIMIT%", "ETA", "ALERTS",
                "RACES", "TREND"], "top: the heading", s)
            rows = rows_of(s)
            c.check([r[0] for r in rows] == ["300", "1", "42"],
                    "top: sorted by fds", s)
            # 300: (4096 - 1234) fds at 12.5/min is 228m, shown as 3h
            c.check(rows and rows[0][:8] == ["300", "worker", "1234", "+12.5",
                                             "30.1%", "3h", "0", "-"],
                    "top: the busiest process's figures", s)
            r42 = [r for r in rows if r[0] == "42"]
            c.check(r42 and r42[0][3:8] == ["-", "62.5%", "1m", "1", "-"] and
                    r42[0][8] == "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588",
                    "top: the alerted process's alert, share, time left and trend", s)

            for key, order, name in (("p", ["1", "42", "300"], "pid"),
                                     ("l", ["42", "300", "1"], "limit"),
                                     ("g", ["300", "1", "42"], "growth"),
                                     ("f", ["300", "1", "42"], "fds")):
                pane.send(key)
                s = pane.wait(lambda s: "sort: " + name in s and
                              [r[0] for r in rows_of(s)] == order,
                              "sort by " + name)
                c.check(True, "top: key %s sorts by %s" % (key, name))

            # open the selected (first) process's table, and come back
            pane.send("Enter")
            s = pane.wait(lambda s: "pid 300 (worker)" in s and "/dev/null" in s,
                          "the fd table")
            c.check("1 fds" in s and "(stale)" in s and "/dev/null" in s,
                    "top: Enter opens the fd table", s)
            pane.send("Escape")
            # the heading can be drawn before the rows: wait for both (a
            # check on the first screen with the heading failed now and then)
            s = pane.wait(lambda s: "sort: fds" in s and rows_of(s)[:1] and
                          rows_of(s)[0][0] == "300", "back from the table")
            c.check(rows_of(s)[0][0] == "300", "top: Esc goes back", s)
            # Down selects the next one; its table is an error here
            pane.send("Down")
            pane.send("Enter")
            s = pane.wait(lambda s: "no such process: 1" in s, "pid 1's error")
            c.check(True, "top: Down + Enter opens the next process")
            pane.send("q")
            s = pane.wait(lambda s: "sort: fds" in s, "q goes back first")
            c.check(True, "top: q in a table goes back to the list")

            pane.send("q")
            s = pane.wait(lambda s: "fdwatch top -" not in s and
                          s.rstrip().endswith("$"), "the shell after q")
            c.check("MARKER-BEFORE-TOP" in s, "top: q restores the main screen "
                    "(what was there before shows again)", s)
            stty_restored(pane, c, "q")

            # ^C, with the ASCII fallback of the trend
            pane.send("clear; LC_ALL=C %s --socket %s top" % (fdwatch,
                                                            socks["normal"]),
                      "Enter")
            s = pane.wait(lambda s: "fdwatch top -" in s and len(rows_of(s)) >= 3, "top")
            r42 = [r for r in rows_of(s) if r[0] == "42"]
            c.check(r42 and r42[0][8] == "_.-=+*#@",
                    "top: ASCII trend when the locale is not UTF-8", s)
            pane.send("C-c")
            s = pane.wait(lambda s: "fdwatch top -" not in s and
                          s.rstrip().endswith("$"), "the shell after ^C")
            stty_restored(pane, c, "^C")

            # a daemon with race findings: the column counts them
            s = run_top(c, pane, fdwatch, socks["races"])
            rows = {r[0]: r for r in rows_of(s)}
            c.check("races on" in s.splitlines()[0] and
                    rows.get("42", [""] * 8)[7] == "2" and
                    rows.get("300", [""] * 8)[7] == "1" and
                    rows.get("1", [""] * 8)[7] == "0",
                    "top: the races column counts findings per pid", s)
            pane.send("q")
            pane.wait(lambda s: s.rstrip().endswith("$"), "the shell")

            # a command named with a terminal's escapes (the basename of
            # a symlink it was exec'd through): the list and the fd table's
            # heading show them as text; the terminal obeys none of them
            # (before, the table's heading set the title and cleared the
            # screen of whoever watched)
            pane.tmux("select-pane", "-t", "t", "-T", "before")
            s = run_top(c, pane, fdwatch, socks["hostile"])
            c.check("\\x1b]0;pw\\x07" in s, "top: a command's escapes shown as text", s)
            pane.send("Enter")
            s = pane.wait(lambda s: "1 fds" in s and "/dev/null" in s,
                          "the fd table of the process named with escapes")
            title = pane.tmux("display-message", "-p", "-t", "t", "#{pane_title}").stdout
            c.check("pid 300 (\\x1b]0;pw\\x07\\x1b[2J)" in s and
                    title.strip() == "before",
                    "top: the fd table's heading shows the command's escapes as text "
                    "(pane title %r)" % title.strip(), s)
            pane.send("q")
            pane.wait(lambda s: "sort: fds" in s, "back to the list")
            pane.send("q")
            pane.wait(lambda s: s.rstrip().endswith("$"), "the shell")

            # on a terminal: tables go through $PAGER, and in color
            # A daemon that never answers: top shows it is waiting, and
            # q, SIGTERM and SIGHUP end it within a second or so while its
            # request is pending (each may wait 10 s for an answer).
            pidfile = os.path.join(tmp, "top.pid")
            for how in ("q", "SIGTERM", "SIGHUP"):
                pane.send("clear; sh -c 'echo $$ > %s; exec %s --socket %s top'; "
                          "echo TOP-RC=$?" % (pidfile, fdwatch, socks["mute"]),
                          "Enter")
                try:
                    # the alternate screen: blank, or saying it waits
                    s = pane.wait(lambda s: "waiting for fdwatchd" in s or
                                  not s.strip(), "top started", timeout=5)
                    time.sleep(0.5)
                    s = pane.screen()
                    c.check("waiting for fdwatchd" in s,
                            "top on a mute daemon says it waits", s)
                    time.sleep(1)
                    t0 = time.monotonic()
                    if how == "q":
                        pane.send("q")
                    else:
                        with open(pidfile) as f:
                            os.kill(int(f.read()), getattr(signal, how))
                    s = pane.wait(lambda s: "TOP-RC=" in s, "top ending", timeout=8)
                    took = time.monotonic() - t0
                    c.check(took < 2.5 and "TOP-RC=0" in s and
                            "waiting for fdwatchd" not in s,
                            "top on a mute daemon: %s ends it in %.1f s "
                            "(under 2.5 s), main screen back" % (how, took), s)
                    stty_restored(pane, c, how + " on a mute daemon")
                except AssertionError as e:
                    c.check(False, "top on a mute daemon: %s ends it" % how, str(e))
                    with open(pidfile) as f:
                        try:
                            os.kill(int(f.read()), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    pane.send("reset", "Enter")
                    time.sleep(1)

            s = pane.shell("PAGER='sed s/^/PAGED:/' %s --socket %s ps"
                           % (fdwatch, socks["normal"]))
            paged = [l for l in s.splitlines() if l.startswith("PAGED:")]
            c.check(len(paged) == 4 and "worker" in paged[-1],
                    "ps: every line through $PAGER on a terminal", s)
            s = pane.shell("PAGER='sed s/^/PAGED:/' %s --socket %s ps --no-pager"
                           % (fdwatch, socks["normal"]))
            c.check("PAGED:" not in s.split("--no-pager")[-1] and "worker" in s,
                    "ps --no-pager: not paged", s)
            pane.shell("%s --socket %s ps --no-pager -o PID,STALE"
                       % (fdwatch, socks["normal"]))
            esc = pane.tmux("capture-pane", "-p", "-e", "-t", "t").stdout
            c.check("\033[1mPID" in esc and "\033[33myes" in esc,
                    "ps on a terminal: bold heading, stale in yellow", repr(esc))
            pane.shell("NO_COLOR=1 %s --socket %s ps --no-pager -o PID,STALE"
                       % (fdwatch, socks["normal"]))
            esc = pane.tmux("capture-pane", "-p", "-e", "-t", "t").stdout
            c.check("\033[1mPID" not in esc and "\033[33m" not in esc,
                    "NO_COLOR on a terminal: no colors", repr(esc))
        except AssertionError as e:
            c.check(False, "top under tmux", str(e))
        finally:
            pane.close()
            for p in servers:
                p.terminate()
                p.wait(timeout=10)
    print("%d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
