#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A pid reused while records were lost: the old process exits in the
model, the new one is a new process (docs/architecture.md, "Lost records").

fdwatchd runs with a 1 MiB ring. Two holders (OLD and KEPT) sit at their
fd limit (64, 58 fds open): fd-exhaustion fires for each. The daemon is
stopped (SIGSTOP) and a churner fills its ring; then, every record lost:
KEPT closes and reopens an fd, EXECER execs sleep, OLD is killed, and a
new process (sleep) is forked onto OLD's pid (ns_last_pid, written in the
initial pid namespace, puts the next pid there). After SIGCONT the
re-read of the pids that lost records must see that OLD's pid shows
another start:

- `loss.pids_reused` is 1 (KEPT, the same process, is not replaced: the
  start the fork record gave, task->start_boottime, is the starttime /proc
  shows);
- OLD's fd-exhaustion alert is resolved "process exited", and nothing
  fires for the newcomer under that pid;
- `fdwatch ps` shows the newcomer (sleep) with its own table, not stale;
- KEPT's alert still fires (the same alert);
- `loss.execs_found` counts EXECER's exec, whose record was lost.
"""

import os
import signal
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

LIMIT = 64
HOLD = 58  # of 64: over fd-exhaustion's 90%
NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"

# A holder: its soft limit LIMIT, fds open up to HOLD; then per line on
# stdin ("churn"): one fd closed and reopened; exits at EOF.
HOLDER = r"""
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (%d, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
keep = []
while len(os.listdir("/proc/self/fd")) - 1 < %d:
    keep.append(os.open("/dev/null", os.O_RDONLY))
print("ready", flush=True)
for line in sys.stdin:
    os.close(keep.pop())
    keep.append(os.open("/dev/null", os.O_RDONLY))
    print("done", flush=True)
""" % (LIMIT, HOLD)

# Waits for a line, then execs sleep (its exec record lost).
EXECER = r"""
import os, sys
print("ready", flush=True)
sys.stdin.readline()
os.execv("/bin/sleep", ["sleep", "600"])
"""

# Fills a 1 MiB ring many times over: open records are the biggest.
CHURN = r"""
import os
for _ in range(40000):
    os.close(os.open("/dev/null", os.O_RDONLY))
"""


def spawn(code):
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    check(line[:1] == ["ready"], f"workload said {line!r}")
    return p


def fork_onto(pid, tries=50):
    """A child running sleep under `pid` (which must be free): ns_last_pid
    set to pid - 1 before each fork. The old position is put back after
    (other processes' pids go on from there). Returns the child's pid, or
    None when another process took `pid` first every time."""
    for _ in range(tries):
        with open(NS_LAST_PID) as f:
            last = int(f.read())
        with open(NS_LAST_PID, "w") as f:
            f.write(str(pid - 1))
        child = os.fork()
        if child == 0:
            try:
                os.execv("/bin/sleep", ["sleep", "600"])
            finally:
                os._exit(127)
        if last > pid:
            try:
                with open(NS_LAST_PID, "w") as f:
                    f.write(str(last))
            except OSError:
                pass
        if child == pid:
            return child
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        if os.path.exists(f"/proc/{pid}"):
            return None  # taken by someone else for good
    return None


def alert_by_id(d, aid):
    for a in H.leaks(d)["alerts"]:
        if a.get("id") == aid:
            return a
    return None


def main(r):
    T.require_root_and_bpf()
    T.wait_no_detachers()
    if not os.access(NS_LAST_PID, os.W_OK):
        raise T.Skip(f"{NS_LAST_PID} is not writable here")
    procs, newcomer = [], None
    with T.Daemon(args=["--ringbuf-mb", "1"]) as d:
        try:
            old = spawn(HOLDER)
            kept = spawn(HOLDER)
            execer = spawn(EXECER)
            procs += [old, kept, execer]
            n = old.pid
            a_old = H.wait_alert(d, n, "fd-exhaustion", 30)
            a_kept = H.wait_alert(d, kept.pid, "fd-exhaustion", 30)
            T.log(f"OLD {n}: alert {a_old['id']}; KEPT {kept.pid}: alert {a_kept['id']}")
            st0 = d.status()
            loss0 = st0.get("loss", {})

            with d.paused():
                subprocess.run([sys.executable, "-c", CHURN], check=True)
                kept.stdin.write("churn\n")
                kept.stdin.flush()
                check(kept.stdout.readline().strip() == "done", "KEPT did not act")
                execer.stdin.write("go\n")
                execer.stdin.flush()
                old.kill()
                old.wait()
                newcomer = fork_onto(n)
                # EXECER has exec'd by now (sleep's comm, or it failed)
                deadline = time.monotonic() + 5
                while T.proc_comm(execer.pid) != "sleep" and time.monotonic() < deadline:
                    time.sleep(0.02)
            if newcomer is None:
                raise T.Skip(f"pid {n} could not be given to a new process (taken by "
                             "another process first)")
            T.log(f"newcomer {newcomer} (sleep) under OLD's pid; EXECER "
                  f"{execer.pid}: {T.proc_comm(execer.pid)}")

            d.check_lost(r, "pid reuse")

            def reused():
                st = d.status()
                loss = st.get("loss", {})
                a = alert_by_id(d, a_old["id"])
                if loss.get("pids_reused", 0) > loss0.get("pids_reused", 0) and a and \
                        a.get("state") == "resolved":
                    return st
                return None

            try:
                st = H.wait_for(reused, 30, "the reused pid found")
            except T.Failure:
                st = d.status()
            loss = st.get("loss", {})
            T.log(f"loss: {loss}")

            with r.case("pid reuse: counted once (loss.pids_reused; KEPT, re-read too, "
                        "is not replaced)"):
                check_eq(loss.get("pids_reused", 0) - loss0.get("pids_reused", 0), 1,
                         "loss.pids_reused")

            with r.case("pid reuse: the old process's alert resolves as at an exit"):
                a = alert_by_id(d, a_old["id"])
                check(a is not None, f"alert {a_old['id']} is gone")
                check_eq(a.get("state"), "resolved", f"alert {a_old['id']}'s state")
                check("process exited" in (a.get("resolution") or ""),
                      f"alert {a_old['id']} resolved with {a.get('resolution')!r}, "
                      "not as an exit")

            with r.case("pid reuse: the newcomer is a new process with its own table"):
                def shown():
                    p = d.processes_by_pid().get(n)
                    return p if p and p.get("comm") == "sleep" and not p.get("stale") \
                        else None
                try:
                    H.wait_for(shown, 15, f"pid {n} as sleep, not stale")
                except T.Failure:
                    pass
                p = d.processes_by_pid().get(n)
                check(p is not None, f"pid {n} is not in `fdwatch ps`")
                check_eq(p.get("comm"), "sleep", f"pid {n}'s comm")
                check(not p.get("stale"), f"pid {n}'s table is stale")
                T.assert_table_matches(d, n, "the newcomer")

            with r.case("pid reuse: nothing of the old process's fires for the newcomer"):
                time.sleep(3)  # ticks: a state taken over would fire again
                firing = H.alerts_of(d, n, state="firing")
                check(not firing, f"alerts firing for pid {n}: "
                      f"{[(a.get('kind'), a.get('summary')) for a in firing]}")

            with r.case("pid reuse: KEPT, the same process, keeps its alert"):
                a = alert_by_id(d, a_kept["id"])
                check(a is not None and a.get("state") == "firing",
                      f"KEPT's alert {a_kept['id']}: {a and a.get('state')} "
                      f"({a and a.get('resolution')})")

            with r.case("lost exec: found by the re-read (loss.execs_found)"):
                check_eq(T.proc_comm(execer.pid), "sleep", "EXECER's comm in /proc")

                def found():
                    st = d.status()
                    got = st.get("loss", {}).get("execs_found", 0)
                    return st if got > loss0.get("execs_found", 0) else None
                st = H.wait_for(found, 15, "loss.execs_found counting EXECER's exec")
                T.log(f"loss after: {st.get('loss')}")

            with r.case("pid reuse: the daemon is alive"):
                check(d.alive(), "fdwatchd died")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
            if newcomer:
                try:
                    os.kill(newcomer, signal.SIGKILL)
                    os.waitpid(newcomer, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass


T.run(main)
