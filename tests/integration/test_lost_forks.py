#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Forks hidden by lost records: the model converges to /proc.

fdwatchd runs with a 1 MiB ring and is stopped (SIGSTOP) while a parent
churns fds (open/close), keeps a growing set of its own, and forks 200
idle children. The ring overflows: some fork records are lost (children
the model never heard of), others are applied from a parent table that
misses the lost records (children copied from a stale table). After
SIGCONT, within a bounded time, every child must be in `fdwatch ps` with
a table equal to /proc, and no table /proc shows may stay stale. (A verify
of every process reads 600,000 fds here: test_check's test_lost_found
checks that it reports missing processes.)

Two more children of the parent act while the ring is full: one execs
sleep (its exec record is lost) and one renames itself (PR_SET_NAME, no
record at all, but its records of the same time are lost): once the model
has re-read them, `fdwatch ps` shows their new command, not "python3".
"""

import json
import os
import signal
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check

NCHILD = 200
CONVERGE_S = 30

# The workload: holds 1,000 fds (its re-read goes to the thread pool: the
# forks applied meanwhile copy a stale table), waits for "go", then per
# child: 200 open/close of /dev/null, one more fd kept, a fork (the child
# pauses, killed with its parent), 5 ms of sleep: seconds of forks, of
# which the daemon misses the first 1.5 s and sees the rest. Prints the
# children's pids, then waits.
WORKLOAD = r"""
import ctypes, os, resource, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
keep = [os.open("/dev/null", os.O_RDONLY) for _ in range(1000)]
# two children that wait for a byte on a pipe: one then execs sleep, the
# other renames itself and closes an fd (a record of it, lost)
actors = []
for what in ("exec", "rename"):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        os.close(w)
        os.read(r, 1)
        if what == "exec":
            os.execv("/bin/sleep", ["sleep", "600"])
        libc.prctl(15, b"fdw-renamed", 0, 0, 0)  # PR_SET_NAME
        os.close(keep[0])
        signal.pause()
        os._exit(0)
    os.close(r)
    actors.append((pid, w))
print("ready", os.getpid(), " ".join(str(a[0]) for a in actors), flush=True)
sys.stdin.readline()
kids = []
for i in range(%d):
    if i == %d // 2:  # the ring is full by now (the daemon is stopped)
        for _, w in actors:
            os.write(w, b"x")
    for _ in range(200):
        os.close(os.open("/dev/null", os.O_RDONLY))
    keep.append(os.open("/dev/zero", os.O_RDONLY | (os.O_CLOEXEC if i %% 2 else 0)))
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(0)
        signal.pause()
        os._exit(0)
    kids.append(pid)
    time.sleep(0.005)
print("kids", " ".join(map(str, kids)), flush=True)
sys.stdin.readline()
for k in kids + [a[0] for a in actors]:
    os.kill(k, signal.SIGKILL)
for k in kids + [a[0] for a in actors]:
    os.waitpid(k, 0)
""" % (NCHILD, NCHILD)


def model_pids(d):
    return {p["pid"] for p in d.ps()["processes"]}


def table_problem(d, pid, full):
    """None when `fdwatch fds PID` equals /proc and is not stale: the
    numbers only, or (full) targets and close-on-exec bits too."""
    c = d.cli("fds", pid, json_out=True)
    if c.returncode != 0:
        return f"pid {pid}: {c.stderr.strip() or c.stdout.strip()}"
    js = json.loads(c.stdout)
    model, _ = T.model_table(js)
    if full:
        diff = T.table_diff(model, T.proc_table(pid))
    else:
        kernel = {int(x) for x in os.listdir(f"/proc/{pid}/fd")}
        diff = [f"fd {fd}: {'missing in' if fd in kernel else 'extra in'} model"
                for fd in sorted(kernel ^ set(model))]
    stale = " (marked stale)" if js.get("stale") else " (not marked stale)"
    if diff:
        return f"pid {pid}: {len(diff)} differences{stale}, e.g. {diff[0]}"
    if js.get("stale"):
        return f"pid {pid}: equal to /proc but still marked stale"
    return None


def readable(pid):
    """True when /proc shows pid's table (False: refused, e.g. a pid 1
    outside our reach; None: gone)."""
    try:
        T.proc_table(pid)
        return True
    except PermissionError:
        return False
    except (FileNotFoundError, ProcessLookupError):
        return None


def stale_pids(d):
    return [p["pid"] for p in d.ps()["processes"] if p.get("stale")]


def stale_readable(d):
    """Processes whose table is marked stale although /proc shows it."""
    return [(p, T.proc_comm(p)) for p in stale_pids(d) if readable(p)]


def unreadable_stale(d):
    return [p for p in stale_pids(d) if readable(p) is False]


def main(r):
    T.require_root_and_bpf()
    T.wait_no_detachers()
    with T.Daemon(args=["--ringbuf-mb", "1"]) as d:
        w = subprocess.Popen([sys.executable, "-c", WORKLOAD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        kids = []
        try:
            line = w.stdout.readline().split()
            check(line[:1] == ["ready"], f"workload said {line!r}")
            parent = int(line[1])
            execer, renamer = int(line[2]), int(line[3])
            deadline = time.monotonic() + 10
            while not {parent, execer, renamer} <= model_pids(d) and time.monotonic() < deadline:
                time.sleep(0.05)

            stale0 = d.status().get("stale_tables", 0)
            T.log(f"before the loss: stale_tables {stale0}, unreadable stale: "
                  f"{unreadable_stale(d)}")
            # the daemon stopped while the parent forks: the ring overflows
            with d.paused():
                t0 = time.monotonic()
                w.stdin.write("go\n")
                w.stdin.flush()
                time.sleep(1.5)
                stopped = time.monotonic() - t0
            line = w.stdout.readline().split()
            check(line[:1] == ["kids"], f"workload said {line!r}")
            kids = [int(x) for x in line[1:]]
            T.log(f"daemon stopped {stopped:.1f}s of the {time.monotonic() - t0:.1f}s in which "
                  f"{len(kids)} children were forked")

            d.check_lost(r, "lost forks")

            t0 = time.monotonic()
            missing, wrong = list(kids), {}
            while time.monotonic() - t0 < CONVERGE_S:
                # one `fdwatch ps` a round: present, not stale, as many fds
                procs = {p["pid"]: p for p in d.ps()["processes"]}
                missing = [k for k in kids if k not in procs]
                wrong = {}
                for k in [parent] + kids:
                    p = procs.get(k)
                    if not p:
                        continue
                    n = len(os.listdir(f"/proc/{k}/fd"))
                    if p.get("stale") or p.get("fds") != n:
                        wrong[k] = (f"pid {k}: {p.get('fds')} fds in the model, {n} in /proc"
                                    f"{', stale' if p.get('stale') else ''}")
                T.log(f"  {time.monotonic() - t0:5.1f}s: {len(missing)} missing, "
                      f"{len(wrong)} wrong or stale")
                if not missing and not wrong:
                    # then each table fd by fd; the parent's, and every
                    # 10th child's, whole entries too
                    for k in [parent] + kids:
                        p = table_problem(d, k, k == parent or k in kids[::10])
                        if p:
                            wrong[k] = p
                    if not wrong:
                        break
                time.sleep(0.5)
            took = time.monotonic() - t0
            T.log(f"after {took:.1f}s: {len(missing)} children missing, "
                  f"{len(wrong)} tables wrong or stale")

            with r.case(f"lost forks: every live child is in `fdwatch ps` within {CONVERGE_S}s"):
                check(not missing, f"{len(missing)} of {len(kids)} children missing, "
                      f"e.g. {missing[:5]}; `fdwatch fds {missing[0] if missing else 0}`: "
                      + (d.cli("fds", missing[0]).stderr.strip() if missing else ""))

            with r.case("lost forks: every child's (and the parent's) table equals /proc, "
                        "not stale"):
                check(not wrong, f"{len(wrong)} of {len(kids) + 1} tables wrong:\n"
                      + T.indent("\n".join(list(wrong.values())[:10])))

            with r.case("lost forks: stale_tables goes back to 0 (but for tables /proc "
                        "refuses to show)"):
                deadline = time.monotonic() + 15
                while True:
                    st = d.status()
                    bad = stale_readable(d)
                    if not bad or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                T.log(f"stale_tables {st.get('stale_tables')} (before the loss: {stale0}); "
                      f"loss: {st.get('loss')}")
                check(not bad, f"stale_tables {st.get('stale_tables')}; stale although /proc "
                      f"shows their tables: {bad[:10]}")
                check(st.get("stale_tables", 0) <= max(stale0, len(unreadable_stale(d))),
                      f"stale_tables {st.get('stale_tables')}, {stale0} before the loss")

            with r.case("lost records: a lost exec and a rename show in `fdwatch ps` once "
                        "the process is re-read"):
                want = {execer: "sleep", renamer: "fdw-renamed"}
                deadline = time.monotonic() + 15
                while True:
                    procs = {p["pid"]: p for p in d.ps()["processes"]}
                    got = {k: procs.get(k, {}).get("comm") for k in want}
                    if got == want or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                kernel = {k: T.proc_comm(k) for k in want}
                check(kernel == want, f"/proc says {kernel}: the workload did not act")
                check(got == want, f"`fdwatch ps` says {got}, /proc says {kernel}")

            with r.case("lost forks: the daemon is alive"):
                check(d.alive(), "fdwatchd died")
        finally:
            try:
                w.stdin.write("end\n")
                w.stdin.flush()
                w.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                w.kill()
                w.wait()
                for k in kids:
                    try:
                        os.kill(k, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


T.run(main)
