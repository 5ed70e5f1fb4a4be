#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak against tmux's libutempter helper is a true positive.

tmux, built with libutempter (Debian's is), calls utempter_add_record(
new_wp->fd, ...) for each new pane (spawn.c). libutempter forks, its child
dup2s the pty master onto its stdin and stdout and execv's the setgid
`utmp` helper (/usr/lib/.../utempter/utempter), with no close of anything
else (libutempter iface.c, do_child). tmux's pty masters come from glibc's
forkpty (open("/dev/ptmx", O_RDWR|O_NOCTTY): no O_CLOEXEC), its server
socket and client connections have no close-on-exec either. So the helper
gets, beside the master on 0 and 1: the master again at its own number
(the "kept twice" case, reported for pipes on purpose), the masters of
every other pane (it could read and write their terminals), tmux's
listening socket and its client connections, across a setgid exec.
Nothing there is meant for the helper: the fix is O_CLOEXEC on tmux's
fds (or a closefrom(3) in libutempter's child), not an exemption.

With --leak exec_min_age=2: a tmux server on a private socket, a session
and a second window (two helpers). Checked: tmux's fds really lack
close-on-exec (/proc/PID/fdinfo), and the exec-leak alert fires against
the tmux server, its children the utempter helpers, naming its /dev/ptmx
masters and its listening socket, and stays firing while tmux holds them."""

import os
import shutil
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

MIN_AGE = 2
O_CLOEXEC = 0o2000000


def uses_utempter(path):
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "libutempter" in out


def main(r):
    tmux = shutil.which("tmux")
    if not tmux:
        raise T.Skip("no tmux here (Debian: tmux)")
    if not uses_utempter(os.path.realpath(tmux)):
        raise T.Skip(f"{tmux} is not linked with libutempter")
    H.run_in_tmp(r, "fdwtmux-", lambda r, tmp, procs: run_all(r, tmp, tmux))


def tmux_fds(pid):
    """{fd: (target, fdinfo flags)} of pid, skipping fds closed mid-read."""
    fds = {}
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{n}")
            with open(f"/proc/{pid}/fdinfo/{n}") as f:
                info = dict(line.split(":", 1) for line in f.read().splitlines())
        except FileNotFoundError:
            continue
        fds[int(n)] = (target, int(info["flags"].strip(), 8))
    return fds


def run_all(r, tmp, tmux):
    sock = os.path.join(tmp, "tmux.sock")
    env = dict(os.environ, TERM="xterm")
    env.pop("TMUX", None)

    def tm(*args, **kw):
        return subprocess.run([tmux, "-S", sock, "-f", "/dev/null", *args], env=env,
                              check=True, **kw)

    with T.Daemon(args=["--leak", f"exec_min_age={MIN_AGE}"]) as d:
        srv = None
        try:
            tm("new-session", "-d", "sleep 120")
            tm("new-window", "-d", "sleep 120")
            srv = int(tm("display", "-p", "#{pid}", capture_output=True,
                         text=True).stdout)

            # The connection of the `display` client just above may still be
            # closing in the server as /proc is read: an fd that vanishes
            # between the listing and its readlink is skipped, not an error.
            fds = tmux_fds(srv)
            masters = sorted(n for n, (t, _) in fds.items() if t == "/dev/ptmx")

            with r.case("tmux's pty masters and socket lack close-on-exec"):
                for n, (t, flags) in sorted(fds.items()):
                    T.log(f"tmux server {srv} fd {n} {t} flags {flags:o}")
                    if t == "/dev/ptmx" or t.startswith("socket:"):
                        check(not flags & O_CLOEXEC, f"fd {n} {t}: no O_CLOEXEC")
                check_eq(len(masters), 2, "two panes, two masters")

            with r.case("exec-leak fires against tmux, its helper utempter"):
                a = H.wait_alert(d, srv, "exec-leak", 20)
                T.log(a["summary"])
                ev = a["evidence"]
                leaked = {f["fd"]: f["target"] for f in ev["leaked"]}
                for m in masters:
                    check_eq(leaked.get(m), "/dev/ptmx", f"master fd {m} leaked")
                check(any(t.startswith("socket:") for t in leaked.values()),
                      f"a socket leaked too: {leaked}")
                check(ev["children"] and
                      all(c["comm"] == "utempter" for c in ev["children"]),
                      f"the children are the helpers: {ev['children']}")
                time.sleep(3)
                check_eq([x["state"] for x in H.alerts_of(d, srv, "exec-leak")],
                         ["firing"], "still firing while tmux holds its masters")
        finally:
            subprocess.run([tmux, "-S", sock, "kill-server"], env=env,
                           stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    T.run(main)
