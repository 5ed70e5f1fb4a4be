#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Processes that have already exited, or whose main thread has, when the
daemon starts.

A zombie (exited, not yet reaped) is still in /proc, and so is a process
exiting at that moment (PF_EXITING); their exit records went by before the
probes were attached, or come before the scan reads them. The scan must not
list them: nothing will ever say they went away (reaping is not traced), so
they would stay in `ps` for the daemon's life. Seen in CI: the previous
daemon's `fdwatchd-detach` child, exiting as the next daemon started,
stayed in `ps` after it was reaped.

That child, while it lives, closes BPF links: each close releases the link
inside the syscall (tens of ms, longer on a loaded host), so the fd leaves
/proc before its record comes. A daemon started meanwhile, auditing every
second with two CPU hogs running, must count no divergence (CI once did).

A process whose main thread exited (a zombie leader) while another thread
runs is alive: its table is read through the live thread (/proc/PID/fd of
the leader lists nothing)."""

import ctypes
import os
import signal
import subprocess
import threading
import time

import fdwtest as T
from fdwtest import check, check_eq


def zombie():
    """A child that exited at once and that we do not reap yet."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    for _ in range(500):
        if T.proc_state(pid) == "Z":
            return pid
        time.sleep(0.01)
    raise T.Failure(f"premise: child {pid} did not become a zombie")


def leader_exited():
    """A child whose main thread exits (SYS_exit, the thread only) while a
    second thread holds a pipe and waits. Returns (pid, live tid, wfd) and
    the pipe end whose closing ends the child."""
    sys_exit = T.sysnr("exit")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        held = os.pipe()  # noqa: F841 (held open by the thread's process)

        def wait_then_exit():
            os.read(r, 1)
            os._exit(0)

        threading.Thread(target=wait_then_exit).start()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(sys_exit, 0)  # the main thread only
        os._exit(1)  # not reached
    os.close(r)
    for _ in range(500):
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        live = [t for t in tids if t != pid]
        if live and T.proc_state(pid) == "Z":
            return pid, live[0], w
        time.sleep(0.01)
    raise T.Failure(f"premise: child {pid}'s main thread did not exit")


def task_fds(pid, tid):
    return sorted(int(x) for x in os.listdir(f"/proc/{pid}/task/{tid}/fd"))


def main(r):
    case_detacher(r)
    zombies = [zombie() for _ in range(3)]
    lpid, ltid, lw = leader_exited()
    try:
        want = task_fds(lpid, ltid)
        check(len(want) >= 5, f"premise: the live thread's table {want}")
        check_eq(os.listdir(f"/proc/{lpid}/fd"), [],
                 "premise: /proc/PID/fd of a zombie leader")
        with T.Daemon() as d:
            with r.case("a zombie at start-up is not in ps"):
                procs = d.processes_by_pid()
                listed = [z for z in zombies if z in procs]
                check(not listed, f"zombies {listed} in ps: "
                      + "; ".join(str(procs[z]) for z in listed))
                scan = d.status().get("scan") or {}
                check(scan.get("exited", 0) >= len(zombies),
                      f"status scan.exited counts the zombies it skipped: {scan}")
            with r.case("... nor once it is reaped"):
                for z in zombies:
                    os.waitpid(z, 0)
                check(not any(T.pid_exists(z) for z in zombies), "premise: reaped")
                procs = d.processes_by_pid()
                listed = [z for z in zombies if z in procs]
                check(not listed, f"reaped zombies {listed} still in ps")
            with r.case("a process whose main thread exited: its table, through the live thread"):
                procs = d.processes_by_pid()
                check(lpid in procs, f"process {lpid} (zombie leader, live thread {ltid}) "
                      "not in ps")
                got = sorted(e["fd"] for e in d.fds(lpid).get("fds", []))
                check_eq(got, task_fds(lpid, ltid), f"fds of {lpid} (model vs "
                         f"/proc/{lpid}/task/{ltid}/fd)")
            with r.case("... and gone from ps once its last thread exits"):
                os.close(lw)
                lw = -1
                os.waitpid(lpid, 0)
                procs = d.processes_by_pid()
                check(lpid not in procs, f"exited process {lpid} still in ps")
    finally:
        for z in zombies:
            try:
                os.waitpid(z, os.WNOHANG)
            except ChildProcessError:
                pass
        if lw >= 0:
            os.close(lw)
        try:
            os.kill(lpid, signal.SIGKILL)
            os.waitpid(lpid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def case_detacher(r):
    with r.case("a daemon started while its predecessor's detacher closes links, two CPU "
                "hogs running: the audit counts no divergence"):
        check(T.wait_no_detachers(), f"premise: old detachers {T.detachers()} still running")
        with T.Daemon():
            pass  # its stop leaves a detacher
        hogs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
        try:
            with T.Daemon(args=["--audit-interval", "1"]) as d:
                alive = T.detachers()
                check(T.wait_no_detachers(), f"detachers {T.detachers()} still running")
                time.sleep(2.5)  # two more audits
                a = d.status()["audit"]
                T.log(f"detachers at start-up: {alive}; audit {a}")
                if a.get("divergences"):
                    T.log(d.log_tail(40))  # the "audit: pid N diverged" lines
                check(a.get("runs", 0) >= 2, f"audit ran {a.get('runs')} times")
                check_eq(a.get("divergences"), 0, f"audit divergences ({a})")
        finally:
            for h in hogs:
                h.kill()
                h.wait()


if __name__ == "__main__":
    T.run(main)
