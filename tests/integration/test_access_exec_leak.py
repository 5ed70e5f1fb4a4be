#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An exec-leak alert shows an unprivileged user only the leaked fds of its
process's time as the user's (docs/api.md, Access), as race evidence does.

The program, as root: opens a root-only file of the test without
close-on-exec and forks a child that execs sleep (root's, holding it:
an exec-leak alert against the program, root's, naming the file). Then it
closes its own copy (the child still holds it: the leak goes on), takes
uid and gid nobody and execs python3, which (as nobody now) opens a file
of its own without close-on-exec and forks a child that execs
sleep: the same alert, refreshed, now nobody's (the process is nobody's).

Root's alert names root's file (the setup works). The user's alert, in
/v1/leaks with and without ?pid=, /v1/races, the ?follow=1 backlog and
`fdwatch leaks`, names its own file and not root's: not in the leaked fds
(their target, who opened them), nor in the summary. So does it after a
restart of the daemon, which reads the alert back from its state file:
the sequence numbers of its evidence are another run's.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check, check_eq

NOBODY = 65534
USER = dict(user=NOBODY, group=NOBODY, extra_groups=[])
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
SLEEP = shutil.which("sleep") or "/bin/sleep"

# argv: stage secret own-file sleep prog
PROG = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def open_leaky(path):
    # no O_CLOEXEC (Python's os.open adds it), on the lowest free number
    fd = libc.open(path.encode(), os.O_RDONLY)
    assert fd >= 0, ctypes.get_errno()
    return fd
def spawn():
    pid = os.fork()
    if pid == 0:
        os.execv(sys.argv[4], [sys.argv[4], "600"])
    return pid
if sys.argv[1] == "root":
    a = open_leaky(sys.argv[2])
    kid = spawn()
    print("root", kid, a, flush=True)
    sys.stdin.readline()
    os.close(a)
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[5], "user"] + sys.argv[2:])
else:
    keep = os.open("/dev/null", os.O_RDONLY)  # root's number stays root's
    c = open_leaky(sys.argv[3])
    kid = spawn()
    print("user", kid, c, flush=True)
    sys.stdin.readline()
'''


def get(d, target, **ids):
    return T.unix_get_json(PY, d.sock, target, **ids)


def exec_leak(doc, pid):
    return [a for a in doc.get("races", doc.get("alerts", []))
            if a.get("kind") == "exec-leak" and a.get("pid") == pid]


def leaked_fds(alert):
    return {f.get("fd"): f for f in alert["evidence"].get("leaked", [])}


def wait_alert(d, pid, fd, **ids):
    """The exec-leak alert of pid once it lists fd (as `ids` sees it)."""
    found, end = [], time.monotonic() + 30
    while time.monotonic() < end:
        st, doc = get(d, f"/v1/leaks?pid={pid}", **ids)
        found = exec_leak(doc, pid)
        if found and fd in leaked_fds(found[0]):
            return found[0]
        time.sleep(0.3)
    check(False, f"no exec-leak alert of pid {pid} listing fd {fd}: {found}")
    return None


def main(r):
    tmp = T.tempfile.mkdtemp(prefix="fdwt-accexec-")
    p = None
    kids = []
    try:
        os.chmod(tmp, 0o755)
        secret = os.path.join(tmp, "root-secret")
        own = os.path.join(tmp, "users-own")
        for path, mode in ((secret, 0o600), (own, 0o644)):
            with open(path, "w") as f:
                f.write("x\n")
            os.chmod(path, mode)
        state = os.path.join(tmp, "state")
        os.mkdir(state)
        args = ["--leak", "exec_min_age=0", "--state-dir", state]  # the last one wins
        with T.Daemon(args=args) as d:
            os.chmod(d.tmp, 0o711)
            os.chmod(d.sock, 0o666)
            p = subprocess.Popen([PY, "-c", PROG, "root", secret, own, SLEEP, PROG],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            stage, kid, fd_root = p.stdout.readline().split()
            check_eq(stage, "root", "the program forked as root")
            kids.append(int(kid))
            fd_root = int(fd_root)

            with r.case("root's exec-leak alert names root's file (the setup made it)"):
                a = wait_alert(d, p.pid, fd_root)
                check_eq(a["uid"], 0, "the alert is root's")
                check_eq(leaked_fds(a)[fd_root].get("target"), secret, "its fd's target")
                check(secret in a["summary"], f"summary: {a['summary']}")

            p.stdin.write("drop\n")
            p.stdin.flush()
            stage, kid, fd_user = p.stdout.readline().split()
            check_eq(stage, "user", "the program dropped to nobody and forked")
            kids.append(int(kid))
            fd_user = int(fd_user)
            check(fd_user != fd_root, f"the user's fd {fd_user} is another number")
            with open(f"/proc/{p.pid}/status") as f:
                ids = [ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))]
            check_eq(ids, [[str(NOBODY)] * 4] * 2, "the program's uids and gids")
            check_eq(T.fd_target(kids[0], fd_root), secret, "root's child still holds its fd")

            with r.case("the user's exec-leak alert names its own file, not root's"):
                a = wait_alert(d, p.pid, fd_user, **USER)
                bad = []
                if a is not None:
                    check_eq(a["uid"], NOBODY, "the alert is the user's now")
                    if leaked_fds(a).get(fd_user, {}).get("target") != own:
                        bad.append(f"its own fd missing: {json.dumps(a)[:600]}")
                for target in (f"/v1/leaks?pid={p.pid}", "/v1/leaks",
                               f"/v1/races?pid={p.pid}", "/v1/races"):
                    st, doc = get(d, target, **USER)
                    mine = exec_leak(doc, p.pid)
                    text = json.dumps(mine)
                    if st != 200 or not mine:
                        bad.append(f"{target}: {st}, the user's alert missing")
                    elif secret in text:
                        bad.append(f"{target}: root's file shown to the user: {text[:800]}")
                    elif not (leaked_fds(mine[0]).get(fd_root) or {}).get("hidden"):
                        bad.append(f"{target}: fd {fd_root} not marked hidden: {text[:800]}")
                out = subprocess.run(T.unix_get_cmd(PY, d.sock, "/v1/leaks?follow=1",
                                                    follow=2),
                                     capture_output=True, text=True, timeout=60, **USER).stdout
                body = json.loads(out)["body"]
                if "exec-leak" not in body:
                    bad.append(f"the follow backlog lacks the alert: {body[:300]}")
                if secret in body:
                    bad.append(f"the follow backlog shows root's file: {body[:800]}")
                cli = subprocess.run([T.FDWATCH, "--socket", d.sock, "leaks", "-p",
                                      str(p.pid)], capture_output=True, text=True,
                                     timeout=60, **USER)
                if cli.returncode != 0 or "exec-leak" not in cli.stdout or \
                        secret in cli.stdout:
                    bad.append(f"fdwatch leaks as the user: rc {cli.returncode}, "
                               f"{cli.stdout[:600]!r} {cli.stderr[:200]!r}")
                check(not bad, "\n    ".join(bad))

            with r.case("root still sees root's file in the alert"):
                a = wait_alert(d, p.pid, fd_user)
                check_eq(leaked_fds(a).get(fd_root, {}).get("target"), secret, "root: its fd's target")
                check(secret in a["summary"], f"root: summary: {a['summary']}")

            with r.case("the daemon is alive"):
                check(d.alive(), "fdwatchd died")
            time.sleep(1.5)  # a save of the alert state file
        # stopped (SIGTERM); the program and its children still run
        with T.Daemon(args=args) as d:
            os.chmod(d.tmp, 0o711)
            os.chmod(d.sock, 0o666)
            with r.case("restart: the user's alert still hides root's file"):
                a = wait_alert(d, p.pid, fd_user, **USER)
                text = json.dumps(a)
                check(secret not in text, f"root's file shown to the user after a restart: "
                                          f"{text[:800]}")
            with r.case("restart: root still sees root's file in the alert"):
                a = wait_alert(d, p.pid, fd_root)
                check_eq(leaked_fds(a).get(fd_root, {}).get("target"), secret,
                         "root: its fd's target")
            p.stdin.write("end\n")
            p.stdin.flush()
            p.wait(timeout=30)
    finally:
        for k in kids:
            try:
                os.kill(k, 9)
                os.waitpid(k, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        if p and p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


T.run(main)
