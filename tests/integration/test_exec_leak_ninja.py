#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak and ninja's console pool: a pipe end kept on purpose.

ninja runs a job of `pool = console` with the terminal, but still makes a
pipe for it: pipe(2) (no close-on-exec), the read end made close-on-exec,
posix_spawn of /bin/sh whose file actions close the read end in the child,
and the write end closed in ninja after the spawn. The job holds the write
end (on its own number, not its stdio) until it ends; ninja, polling the
read end, sees EOF then ("In the console case, output_pipe is still
inherited by the child and closed when the subprocess finishes, which then
notifies ninja": src/subprocess-posix.cc). A hostile tester got an
exec-leak alert against ninja for it, which resolved a tick later (the
detector looked for the fd in ninja's table only, where it was closed just
after the spawn).

With --leak exec_min_age=2, all started after the daemon, in one run:

  (a) ninja -j2 with its stdout a pipe (as under CI): a console job and a
      plain job, each `sleep 12 && touch $out`;
  (b) the same with its stdout a pty (a terminal);
  (c) a real leak that flaps without the fix: a program opens a file
      without O_CLOEXEC, forks, its child execs sleep, and the parent
      closes its own copy (the child keeps it);
  (d) ninja's pipe without the child's close: pipe, read end
      close-on-exec, fork, exec sleep, close the write end, read to EOF
      (the child's code never touched the pipe: a leak).

Expected: no exec-leak alert, firing or resolved, against either ninja or
its jobs, checked exec_min_age + 3 ticks after the jobs started and while
they still ran; (c) and (d) fire, naming their fd; (c) is still firing
three ticks later while its child holds the fd, and resolves once the
child is gone (its parent still running). Every scenario really passed
its fd (checked in /proc)."""

import os
import pty
import select
import shutil
import signal
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

MIN_AGE = 2
JOB_S = 12

BUILD = f"""rule con
  command = sleep {JOB_S} && touch $out
  pool = console
rule plain
  command = sleep {JOB_S} && touch $out
build con.out: con
build plain.out: plain
"""

# (c): open without O_CLOEXEC (through libc: Python would set it), fork,
# exec, close the parent's copy
CLOSER = r'''
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.open(sys.argv[1].encode(), os.O_RDONLY)
assert fd >= 0, ctypes.get_errno()
pid = os.fork()
if pid == 0:
    os.execvp("sleep", ["sleep", "60"])
os.close(fd)
os.write(1, f"C {os.getpid()} {pid} {fd}\n".encode())
os.waitpid(pid, 0)
os.write(1, b"REAPED\n")
time.sleep(60)
'''

# (d): ninja's pipe, but the child does not close the read end
NOCLOSE = r'''
import ctypes, fcntl, os
libc = ctypes.CDLL(None, use_errno=True)
p = (ctypes.c_int * 2)()
assert libc.pipe(p) == 0, ctypes.get_errno()
r, w = p[0], p[1]
fcntl.fcntl(r, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
pid = os.fork()
if pid == 0:
    os.execvp("sleep", ["sleep", "60"])
os.close(w)
os.write(1, f"D {os.getpid()} {pid} {w}\n".encode())
while os.read(r, 4096):
    pass
os.waitpid(pid, 0)
'''




def descendants(pid):
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(H.children(p))
    return out


def fds(pid):
    out = {}
    try:
        for n in os.listdir(f"/proc/{pid}/fd"):
            try:
                out[int(n)] = os.readlink(f"/proc/{pid}/fd/{n}")
            except OSError:
                pass
    except OSError:
        pass
    return out


def ninja_jobs(npid):
    """ninja's two jobs once both run: (console job, its kept fd), plain job."""
    reads = {t for fd, t in fds(npid).items() if fd > 2}  # its jobs' pipes
    con = plain = None
    for c in H.children(npid):
        cf = fds(c)
        if len(cf) < 3 or T.proc_comm(c) != "sh":
            return None
        if cf[1].startswith("pipe:") and cf[1] in reads:
            plain = c
            continue
        kept = [fd for fd, t in cf.items() if fd > 2 and t.startswith("pipe:")
                and t in reads]
        if len(kept) == 1:
            con = (c, kept[0])
    return (con, plain) if con and plain else None


def main(r):
    if not shutil.which("ninja"):
        raise T.Skip("no ninja here (Debian: ninja-build)")
    fds_open = []
    try:
        H.run_in_tmp(r, "fdwninja-", lambda r, tmp, procs: run_all(r, tmp, procs, fds_open))
    finally:
        for fd in fds_open:
            os.close(fd)


def run_all(r, tmp, procs, fds_open):
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("x\n")
    for mode in ("pipe", "tty"):
        os.mkdir(os.path.join(tmp, mode))
        with open(os.path.join(tmp, mode, "build.ninja"), "w") as f:
            f.write(BUILD)

    def spawn(args, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        procs.append(p)
        return p

    with T.Daemon(args=["--leak", f"exec_min_age={MIN_AGE}"]) as d:
        np = spawn(["ninja", "-C", os.path.join(tmp, "pipe"), "-j2"], stderr=subprocess.STDOUT)
        master, slave = pty.openpty()
        fds_open.append(master)
        nt = spawn(["ninja", "-C", os.path.join(tmp, "tty"), "-j2"], stdout=slave,
                   stderr=slave)
        os.close(slave)
        cl = spawn(["python3", "-c", CLOSER, secret])
        nc = spawn(["python3", "-c", NOCLOSE])
        t_spawned = time.monotonic()
        cv = H.read_line(cl, "(c) the closer")
        cpid, ckid, cfd = int(cv[1]), int(cv[2]), int(cv[3])
        dv = H.read_line(nc, "(d) the pipe without the close")
        dpid, dkid, dfd = int(dv[1]), int(dv[2]), int(dv[3])
        jobs = {n.pid: H.wait_for(lambda: ninja_jobs(n.pid), 20, f"ninja {n.pid}'s two jobs")
                for n in (np, nt)}

        with r.case("every scenario passed its fd"):
            for npid, ((con, kept), plain) in jobs.items():
                nf = fds(npid)
                cf = fds(con)
                T.log(f"ninja {npid}: console job {con} keeps fd {kept} {cf[kept]} "
                      f"(ninja's read end: fd "
                      f"{[fd for fd, t in nf.items() if t == cf[kept]]}); plain job {plain} "
                      f"stdout {fds(plain)[1]}")
                check(cf[1] != cf[kept], f"console job {con}: fd 1 is not the kept pipe")
                check_eq(fds(plain)[1], fds(plain)[2], f"plain job {plain}: fd 1 and 2")
            check_eq(os.readlink(f"/proc/{ckid}/fd/{cfd}"), secret, "(c) the child's fd")
            check(not os.path.exists(f"/proc/{cpid}/fd/{cfd}"), "(c) the parent closed its copy")
            check(os.readlink(f"/proc/{dkid}/fd/{dfd}").startswith("pipe:"),
                  "(d) the child holds the write end")
            check(os.isatty(master), "(b) ninja's stdout is a pty")

        with r.case("(c) and (d), real leaks in the same run, fire"):
            a = H.wait_alert(d, cpid, "exec-leak", 20)
            T.log(a["summary"])
            check_eq([f["fd"] for f in a["evidence"]["leaked"]], [cfd], "(c) leaked fds")
            a = H.wait_alert(d, dpid, "exec-leak", 20)
            T.log(a["summary"])
            check_eq([f["fd"] for f in a["evidence"]["leaked"]], [dfd], "(d) leaked fds")

        with r.case("ninja's console pool: no exec-leak, firing or resolved"):
            time.sleep(max(0.0, t_spawned + MIN_AGE + 3 - time.monotonic()))
            tree = set()
            for n in (np, nt):
                check(n.poll() is None, f"ninja {n.pid} still running")
                tree |= descendants(n.pid)
            for npid, ((con, kept), plain) in jobs.items():
                check(con in tree and plain in tree, f"ninja {npid}'s jobs still running")
            got = H.api_exec_alerts(d, tree)
            check_eq(got, [], f"exec-leak alerts on ninja and its jobs ({H.describe(got)})")
            cli = H.cli_exec_alerts(d, tree)
            check_eq(cli, [], f"`fdwatch leaks --json` ({H.describe(cli)})")

        with r.case("(c) stays firing while its child holds the fd, resolves after"):
            time.sleep(3)
            check(T.pid_exists(ckid), "(c) the child still runs")
            got = H.api_exec_alerts(d, {cpid})
            check_eq([a["state"] for a in got], ["firing"], f"(c) alerts ({H.describe(got)})")
            os.kill(ckid, signal.SIGKILL)
            H.read_line(cl, "(c) the closer, its child reaped")
            a = H.wait_alert(d, cpid, "exec-leak", 10, state="resolved")
            T.log(f"(c) resolved: {a.get('resolution')}")
            check(cl.poll() is None, "(c) the parent still runs")
            check("no child holds" in (a.get("resolution") or ""),
                  f"(c) resolved because its child is gone: {a.get('resolution')!r}")
            got = H.api_exec_alerts(d, {cpid})
            check_eq(len(got), 1, f"(c) one alert in all ({H.describe(got)})")


if __name__ == "__main__":
    T.run(main)
