#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables belong to the kernel's file table (tests/progs/fdw_proc.c):
fork copies, exec drops close-on-exec fds (a failed exec drops nothing),
threads share one table (also across thread exits and an exec from a
non-leader thread), clone(CLONE_FILES) shares, unshare(CLONE_FILES) and
CLOSE_RANGE_UNSHARE split, a table outlives its creator, vfork+exec and
posix_spawn file actions, and pid reuse. At every checkpoint every stopped
process's table equals /proc; `ps` shows shared tables with one `table`
id; the premises (what /proc shows) are asserted too."""

import os

import fdwtest as T
from fdwtest import check, check_eq, check_origin, by_fd


def tables(d, *pids):
    procs = d.processes_by_pid()
    out = []
    for pid in pids:
        check(pid in procs, f"pid {pid} missing from `fdwatch ps`")
        t = procs[pid].get("table")
        check(t is not None, f"pid {pid}: no `table` in `fdwatch ps`")
        out.append(t)
    return out


def same_table(d, a, b, want, why):
    ta, tb = tables(d, a, b)
    if want:
        check(ta == tb, f"{why}: pids {a} and {b} share a file table, but ps shows tables {ta} and {tb}")
    else:
        check(ta != tb, f"{why}: pids {a} and {b} have separate tables, but ps shows both as {ta}")


def premise_keep_gone(cp, pid):
    kern = T.proc_table(pid)
    for fd in cp.ints("keep"):
        check(fd in kern, f"premise: fd {fd} (no CLOEXEC) should survive exec in {pid}")
    for fd in cp.ints("gone"):
        check(fd not in kern, f"premise: CLOEXEC fd {fd} should be gone after exec in {pid}")


def comm_matches(js, pid):
    check_eq(js.get("comm"), T.proc_comm(pid), f"pid {pid} comm after exec")


def pid_gone(d, pid):
    check(not T.pid_exists(pid), f"premise: pid {pid} has exited")
    c = d.cli("fds", pid, json_out=True)
    check_eq(c.returncode, 1, f"`fdwatch fds {pid}` of an exited process: exit code")
    check(pid not in d.processes_by_pid(), f"exited pid {pid} still in `fdwatch ps`")


def main(r):
    with T.Daemon() as d:
        # fork
        def c_fork(cp, m):
            child = cp.int("child")
            same_table(d, cp.pid, child, False, "after fork")
            kc = T.proc_table(child)
            for fd in cp.ints("child_only"):
                check(fd in kc, f"premise: fd {fd} open in the child")
            check_origin(m[child], 60, syscall="dup2", tid=child)

        T.run_prog(r, d, "fdw_proc", "fork", checks={
            "fork": c_fork,
            "fork_child_again": lambda cp, m: same_table(d, cp.pid, cp.int("child"), False, "fork"),
            "fork_child_exited": lambda cp, m: pid_gone(d, cp.int("gone")),
        })

        # exec (a failed exec first)
        def c_exec_failed(cp, m):
            kern = T.proc_table(cp.int("child"))
            for fd in cp.ints("keep") + cp.ints("cloexec"):
                check(fd in kern, f"premise: fd {fd} still open after a failed exec")

        def c_exec(cp, m):
            child = cp.int("child")
            premise_keep_gone(cp, child)
            comm_matches(m[child], child)

        T.run_prog(r, d, "fdw_proc", "exec", checks={
            "exec_failed": c_exec_failed,
            "exec": c_exec,
            "exec_helper_opened": lambda cp, m: comm_matches(m[cp.int("child")], cp.int("child")),
        })

        # the driver's own child execs
        def c_exec_self(cp, m):
            premise_keep_gone(cp, cp.pid)
            comm_matches(m[cp.pid], cp.pid)

        T.run_prog(r, d, "fdw_proc", "exec_self", checks={"exec_self": c_exec_self})

        # threads
        def c_threads(cp, m):
            js = m[cp.pid]
            tid = cp.int("tid")
            check(tid != cp.pid, "premise: the thread has its own tid")
            for fd in cp.ints("thread_fds"):
                check_origin(js, fd, tid=tid)
            check(cp.int("closed") not in T.proc_table(cp.pid), "premise: fd closed by the thread")
            procs = d.processes_by_pid()
            check(cp.pid in procs, f"pid {cp.pid} not in ps")
            n = len(os.listdir(f"/proc/{cp.pid}/task"))
            check_eq(procs[cp.pid].get("threads"), n, "ps threads")

        counts = {}

        def c_thread_exited(cp, m):
            counts.update((k, d.status().get(k)) for k in ("anomalies", "stale_closes"))
            for fd in cp.ints("thread_fds"):
                check_origin(m[cp.pid], fd, tid=cp.int("tid"))
            procs = d.processes_by_pid()
            check_eq(procs[cp.pid].get("threads"), len(os.listdir(f"/proc/{cp.pid}/task")),
                     "ps threads after the thread exited")
            tid = cp.int("tid")
            check(tid not in procs, f"exited thread {tid} listed as a process")

        # 8 threads opening and closing one file: a close's record can come
        # after the record of another thread's reopen of the number. The
        # model skips that close (stale_closes); neither order is the model
        # being wrong, so no anomaly (the table itself is checked too)
        def c_threads_churn(cp, m):
            st = d.status()
            print(f"# threads_churn: stale_closes +{st.get('stale_closes', 0) - counts['stale_closes']}")
            check_eq(st.get("anomalies"), counts["anomalies"],
                     "anomalies counted while 8 correct threads churned one table")

        T.run_prog(r, d, "fdw_proc", "threads", checks={
            "threads": c_threads, "thread_exited": c_thread_exited,
            "threads_churn": c_threads_churn})

        # exec from a non-leader thread
        def c_thread_exec(cp, m):
            child = cp.int("child")
            premise_keep_gone(cp, child)
            comm_matches(m[child], child)

        T.run_prog(r, d, "fdw_proc", "thread_exec", checks={"thread_exec": c_thread_exec})

        # clone(CLONE_FILES), then unshare(CLONE_FILES)
        def c_clone_files(cp, m):
            child = cp.int("child")
            same_table(d, cp.pid, child, True, "clone(CLONE_FILES)")
            for pid in (cp.pid, child):
                k = T.proc_table(pid)
                for fd in cp.ints("shared"):
                    check(fd in k, f"premise: shared fd {fd} in pid {pid}")
            check_origin(m[cp.pid], cp.int("child_opened"), tid=child)
            check_origin(m[child], cp.int("parent_opened"), tid=cp.pid)

        def c_unshare(cp, m):
            child = cp.int("child")
            same_table(d, cp.pid, child, False, "unshare(CLONE_FILES)")
            check(cp.int("closed_in_child") in T.proc_table(cp.pid),
                  "premise: close after unshare stays in the child")
            check(cp.int("closed_in_child") not in T.proc_table(child), "premise: closed in child")

        T.run_prog(r, d, "fdw_proc", "clone_files", checks={
            "clone_files": c_clone_files,
            "clone_files_close": lambda cp, m: same_table(d, cp.pid, cp.int("child"), True,
                                                          "CLONE_FILES after close"),
            "unshare": c_unshare,
            "unshare_child_exited": lambda cp, m: pid_gone(d, cp.int("gone")),
        })

        # CLOSE_RANGE_UNSHARE in a CLONE_FILES child
        def c_cru(cp, m):
            child = cp.int("child")
            same_table(d, cp.pid, child, False, "CLOSE_RANGE_UNSHARE")
            kp, kc = T.proc_table(cp.pid), T.proc_table(child)
            for fd in cp.ints("closed_in_child"):
                check(fd in kp and fd not in kc, f"premise: fd {fd} closed only in the child")

        def c_cru_cloexec(cp, m):
            child = cp.int("child")
            same_table(d, cp.pid, child, False, "CLOSE_RANGE_UNSHARE|CLOEXEC")
            kp, kc = T.proc_table(cp.pid), T.proc_table(child)
            for fd in cp.ints("cloexec_in_child"):
                check(kc[fd][1] and not kp[fd][1], f"premise: fd {fd} cloexec only in the child")

        T.run_prog(r, d, "fdw_proc", "close_range_unshare", checks={
            "close_range_unshare": c_cru, "close_range_unshare_cloexec": c_cru_cloexec})

        # the table outlives the process that created it
        def c_last_user(cp, m):
            child = cp.int("child")
            check(not T.pid_exists(cp.int("creator")), "premise: the creator exited")
            check(cp.int("creator_opened") in by_fd(m[child]), "fd opened by the creator missing")
            check_origin(m[child], cp.int("child_opened"), tid=child)

        T.run_prog(r, d, "fdw_proc", "last_user", checks={"last_user": c_last_user})

        # vfork + exec, posix_spawn with file actions
        def c_vfork(cp, m):
            child = cp.int("child")
            premise_keep_gone(cp, child)
            comm_matches(m[child], child)

        def c_spawn(cp, m):
            child = cp.int("child")
            k = T.proc_table(child)
            check(120 in k and 121 in k and cp.int("closed") not in k and cp.int("gone") not in k,
                  f"premise: posix_spawn file actions: {sorted(k)}")
            comm_matches(m[child], child)

        T.run_prog(r, d, "fdw_proc", "vfork", checks={"vfork": c_vfork, "posix_spawn": c_spawn})

        # pid reuse
        def c_reuse(cp, m):
            if cp.int("reused") != 1:
                raise T.Skip("clone3(set_tid) could not reuse the pid")
            check_eq(cp.int("child"), cp.int("old"), "premise: pid reused")
            check(150 not in by_fd(m[cp.int("child")]), "fd 150 of the dead process in the new one")

        T.run_prog(r, d, "fdw_proc", "pid_reuse", checks={"reuse_after": c_reuse})


if __name__ == "__main__":
    T.run(main)
