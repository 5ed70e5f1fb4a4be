#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak and lock wrappers: an fd that holds a lock crossed exec on purpose.

`flock FILE CMD` (util-linux) opens FILE without close-on-exec, takes the
lock, forks, and its child execs CMD holding the fd: the lock stays held
while CMD runs. A hostile tester got an exec-leak alert against flock(1)
for it. With --leak exec_min_age=3, all started after the daemon (so it saw
every open, fork and exec), in one run:

  (a) root: `flock A.lock sleep 60`;
  (b) the unprivileged user hostileu (uid 1001): `flock U.lock sleep 60`,
      in a directory of its own;
  (c) a wrapper (python3, opening through libc: Python itself would use
      O_CLOEXEC) that opens three files without close-on-exec, takes a
      flock(2) on the first and a POSIX lock (lockf) on the third, leaves
      the second unlocked, forks, and its child execs sleep;
  (d) fdw_leak exec: a file and a socket without close-on-exec, fork, exec.

Expected: no exec-leak against either flock (checked after (c) and (d)
fired, which is after every fd of (a) and (b) was confirmed or excused,
and again exec_min_age later); (c) fires naming its second fd only; (d)
fires naming its two fds. Every scenario really passed its fds (and the
locks were held): checked in /proc.

The lock is read from /proc/PID/fdinfo/FD by the detector, at
confirmation: without the exemption (a) and (b) fire like (d)."""

import os
import pwd
import select
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

MIN_AGE = 3
USER = "hostileu"

WRAPPER = r'''
import ctypes, fcntl, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fds = [libc.open(p.encode(), os.O_RDWR | os.O_CREAT, 0o600) for p in sys.argv[1:4]]
assert min(fds) >= 0, ctypes.get_errno()
fcntl.flock(fds[0], fcntl.LOCK_EX)   # flock(2): held by the open file description
fcntl.lockf(fds[2], fcntl.LOCK_EX)   # POSIX: held by this process
pid = os.fork()
if pid == 0:
    os.execvp("sleep", ["sleep", "60"])
os.write(1, f"W {os.getpid()} {pid} {fds[0]} {fds[1]} {fds[2]}\n".encode())
os.waitpid(pid, 0)
'''




def wait_child(pid, comm, timeout=30):
    def find():
        for c in H.children(pid):
            if T.proc_comm(c) == comm:
                return c
        return None
    return H.wait_for(find, timeout, f"pid {pid}'s child {comm}")


def fd_locks(pid, fd):
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        return [l.split(None, 2)[2].split()[0] for l in f if l.startswith("lock:")]


def main(r):
    H.run_in_tmp(r, "fdwexeclk-", run_all)


def run_all(r, tmp, procs):
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        pw = None
        T.log(f"note: no user {USER} here: (b) runs as root")
    os.chmod(tmp, 0o755)
    udir = os.path.join(tmp, "u")
    os.mkdir(udir, 0o700)
    if pw:
        os.chown(udir, pw.pw_uid, pw.pw_gid)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("x\n")
    a_lock, u_lock = os.path.join(tmp, "a.lock"), os.path.join(udir, "u.lock")
    w_paths = [os.path.join(tmp, n) for n in ("w.lock", "w.data", "w.posix")]

    def spawn(args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             start_new_session=True, **kw)
        procs.append(p)
        return p

    with T.Daemon(args=["--leak", f"exec_min_age={MIN_AGE}"]) as d:
        fa = spawn(["flock", a_lock, "sleep", "60"])
        fu = spawn(["flock", u_lock, "sleep", "60"],
                   **({"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []} if pw else {}))
        w = spawn(["python3", "-c", WRAPPER] + w_paths)
        lk = spawn([os.path.join(T.PROGS, "fdw_leak"), "exec", secret])
        wl = H.read_line(w, "the wrapper")
        wpid, wkid, wfds = int(wl[1]), int(wl[2]), [int(x) for x in wl[3:6]]
        kv = dict(x.split("=", 1) for x in H.read_line(lk, "fdw_leak exec")[1:] if "=" in x)
        leaker, leaked = int(kv["pid"]), sorted(int(x) for x in kv["leaked"].split(","))
        sa, su = wait_child(fa.pid, "sleep"), wait_child(fu.pid, "sleep")
        t_spawned = time.monotonic()

        with r.case("every scenario passed its fds, and the locks were held"):
            check_eq(T.fd_target(sa, 3), a_lock, "(a) sleep's fd 3")
            check_eq(fd_locks(sa, 3), ["FLOCK"], "(a) the lock, seen through sleep's fd 3")
            check_eq(T.fd_target(su, 3), u_lock, "(b) sleep's fd 3")
            check_eq(fd_locks(su, 3), ["FLOCK"], "(b) the lock, seen through sleep's fd 3")
            if pw:
                check_eq(os.stat(f"/proc/{su}").st_uid, pw.pw_uid, f"(b) runs as {USER}")
            for fd, path in zip(wfds, w_paths):
                check_eq(T.fd_target(wkid, fd), path, f"(c) the child's fd {fd}")
            check_eq(fd_locks(wkid, wfds[0]), ["FLOCK"], "(c) the flock, in the child")
            check_eq(fd_locks(wpid, wfds[2]), ["POSIX"], "(c) the POSIX lock, in the wrapper")
            check_eq(fd_locks(wpid, wfds[1]), [], "(c) the unlocked fd")

        with r.case("(d) a plain leak in the same run still fires"):
            a = H.wait_alert(d, leaker, "exec-leak", 30)
            T.log(a["summary"])
            check_eq(sorted(f["fd"] for f in a["evidence"]["leaked"]), leaked, "leaked fds")

        with r.case("(c) a wrapper's locked fds are excused, its unlocked one is not"):
            a = H.wait_alert(d, wpid, "exec-leak", 30)
            T.log(a["summary"])
            ev = a["evidence"]
            check_eq([f["fd"] for f in ev["leaked"]], [wfds[1]], "leaked fds: the unlocked one")
            check_eq(ev["fds"], 1, "evidence fds")
            check(w_paths[1] in a["summary"] and w_paths[0] not in a["summary"]
                  and w_paths[2] not in a["summary"], f"summary: {a['summary']}")
            check_eq([c["pid"] for c in ev["children"]], [wkid], "the child")

        with r.case("flock FILE CMD: no exec-leak, as root and as an unprivileged user"):
            # (c) and (d) fired at a tick past exec_min_age after every exec
            # here; one more age and two ticks for good measure
            time.sleep(max(0.0, t_spawned + MIN_AGE + 2 - time.monotonic()))
            for p, who in ((fa, "(a)"), (fu, "(b)")):
                check(p.poll() is None, f"{who} flock still running")
            got = H.api_exec_alerts(d, {fa.pid, fu.pid, sa, su})
            check_eq(got, [], f"exec-leak alerts on the flocks ({H.describe(got)})")
            cli = H.cli_exec_alerts(d, (fa.pid, fu.pid))
            check_eq(cli, [], f"`fdwatch leaks --json` ({H.describe(cli)})")
            check_eq(sorted(x["pid"] for x in H.api_exec_alerts(d, {fa.pid, fu.pid, wpid, leaker})),
                     sorted([wpid, leaker]), "the exec-leak alerts of this run")
        for p in procs:
            p.stdin.close()


if __name__ == "__main__":
    T.run(main)
