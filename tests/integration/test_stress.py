#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""stress-ng's fd-heavy stressors (--dup --open --fork --pipe) for 5 s while
we repeatedly freeze (SIGSTOP) its worker processes, compare each frozen
table with /proc (`fdwatch fds` and `fdwatch verify PID`), and resume them.
The daemon must stay exact on every process it checks, its audit must
count no divergence, and it must survive."""

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq


def descendants(root):
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def main(r):
    exe = shutil.which("stress-ng")
    if not exe:
        if T.ON_CI:
            with r.case("stress-ng is installed (required on CI)"):
                raise T.Failure("stress-ng not found; CI must install it")
            return
        raise T.Skip("stress-ng is not installed")
    # the previous test's daemon's detacher is test_prestart_exited's case;
    # this one is about stress-ng's tables
    T.wait_no_detachers()
    with T.Daemon(args=["--audit-interval", "1"]) as d:
        st0 = d.status()
        tmp = tempfile.mkdtemp(prefix="fdwt-stress-")
        p = subprocess.Popen([exe, "--dup", "1", "--open", "1", "--fork", "1", "--pipe", "1",
                              "--timeout", "5s", "-q", "--temp-path", tmp], cwd=tmp,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        rng = random.Random(os.getpid())
        checked, problems, rounds = 0, [], 0
        try:
            time.sleep(0.5)
            while p.poll() is None:
                rounds += 1
                workers = descendants(p.pid)
                sample = rng.sample(workers, min(len(workers), 3))
                frozen = []
                for pid in sample:
                    try:
                        os.kill(pid, signal.SIGSTOP)
                        frozen.append(pid)
                    except ProcessLookupError:
                        pass
                try:
                    for pid in frozen:
                        try:
                            T.wait_proc_stopped(pid, timeout=5)
                        except T.Failure:
                            continue  # exited meanwhile
                        try:
                            T.assert_table_matches(d, pid, f"stress round {rounds}")
                            checked += 1
                        except T.Failure as e:
                            if T.pid_exists(pid) and T.proc_state(pid) in ("T", "t"):
                                problems.append(str(e))
                                checked += 1
                finally:
                    for pid in frozen:
                        try:
                            os.kill(pid, signal.SIGCONT)
                        except ProcessLookupError:
                            pass
                time.sleep(0.1)
        finally:
            if p.poll() is None:
                p.kill()
            _, err = p.communicate(timeout=60)
            shutil.rmtree(tmp, ignore_errors=True)
        T.log(f"stress-ng exit {p.returncode}; {rounds} rounds, {checked} frozen tables checked")
        if p.returncode != 0:
            T.log(f"note: stress-ng stderr: {err.decode(errors='replace')[-500:]}")
        with r.case("stress: enough frozen processes were checked"):
            check(checked >= 5, f"only {checked} tables checked in {rounds} rounds")
        with r.case("stress: every frozen stress-ng process's table equals /proc"):
            check(not problems, f"{len(problems)} of {checked} checks failed; first ones:\n"
                  + "\n".join(problems[:5]))
        with r.case("stress: the daemon is alive and counted the events"):
            check(d.alive(), "fdwatchd died")
            st = d.status()
            grew = st["events_received"] - st0["events_received"]
            check(grew > 10000, f"only {grew} events during 5 s of stress-ng")
            T.log(f"   events received {grew}, lost {st['events_lost']}, "
                  f"resyncs {st.get('resyncs')}, stale tables {st.get('stale_tables')}")
        with r.case("stress: lost events (if any) were reported and repaired"):
            st = d.status()
            if st["events_lost"] == 0:
                stale = [p for p in d.ps()["processes"] if p.get("stale")]
                unexplained = []
                for p in stale:
                    try:
                        names = os.listdir(f"/proc/{p['pid']}/fd")
                        if names:
                            os.readlink(f"/proc/{p['pid']}/fd/{names[0]}")
                        unexplained.append(p)
                    except OSError:
                        pass  # /proc cannot be read for it either: stale is honest
                check(not unexplained, f"stale tables without lost events: {unexplained[:5]}")
            else:
                check(st.get("resyncs", 0) > 0, f"{st['events_lost']} events lost but no resync")
        with r.case("stress: the audit found no divergence"):
            a = d.status()["audit"]
            check(a.get("runs", 0) >= 1, f"audit did not run: {a}")
            if a.get("divergences"):
                T.log(d.log_tail(60))  # the daemon's "audit: pid N diverged" lines
            check_eq(a.get("divergences"), 0, f"audit divergences ({a})")


if __name__ == "__main__":
    T.run(main)
