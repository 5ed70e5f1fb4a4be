#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exhaustion, EMFILE, leaks into children, the alert stream, and the alert
store across restarts.

(1) fdw_leak exhaust 200: the soft limit set to 200 and 95% of it open:
fd-exhaustion, with the fd count and the limit the program reports; then
EMFILE: fd-limit-hit with the failures, errno and syscall; after release
both resolve (exhaustion below the threshold, limit-hit after limit_quiet).
`fdwatch leaks --follow --json`, started before, streamed each fire and
resolve once.
(2) fdw_leak exec: a file and a socket without close-on-exec, a cloexec
pipe, fork and exec: exec-leak on the parent naming exactly the two fds
with where they were opened, the child in the evidence; resolved when the
process exits.
(3) The store: after SIGTERM and a restart on the same state directory the
alerts are there with their ids, a firing one whose process still runs is
not duplicated; SIGKILL at any moment leaves a file that parses; a corrupt
file is reported (<4>), set aside, and the daemon starts."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

ARGS = ["--leak", "limit_quiet=3"]


class Follower:
    """`fdwatch --json leaks --follow`, its output read as it comes: an
    alert line carries its evidence (kilobytes), and a pipe left unread
    would block the CLI after 64 KiB and lose what the test looks for."""

    def __init__(self, d):
        self.p = subprocess.Popen([T.FDWATCH, "--socket", d.sock, "--json", "leaks", "--follow"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = []
        self.t = threading.Thread(target=lambda: self.out.extend(self.p.stdout), daemon=True)
        self.t.start()

    def poll(self):
        return self.p.poll()

    def send_signal(self, sig):
        self.p.send_signal(sig)

    def kill(self):
        self.p.kill()

    def communicate(self, timeout=None):
        err = ""
        try:
            self.p.wait(timeout=timeout)
        finally:
            self.t.join(timeout=10)
            err = self.p.stderr.read() if self.p.poll() is not None else ""
        return "".join(self.out), err


def follower(d):
    return Follower(d)


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwleak-")
    try:
        run_all(r, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(r, tmp):
    path = os.path.join(tmp, "file")
    with open(path, "w") as f:
        f.write("x\n")
    state = os.path.join(tmp, "state")  # outlives each daemon's own directory
    args = ARGS + ["--state-dir", state]  # the last --state-dir wins

    with T.Daemon(args=args) as d:
        fol = follower(d)
        time.sleep(0.5)
        ex = H.LeakProg("exhaust", 200, path)
        try:
            ex.expect("START")
            full = ex.expect("FULL")
            with r.case("95% of the soft limit: fd-exhaustion"):
                a = H.wait_alert(d, ex.pid, "fd-exhaustion", 10)
                T.log(a["summary"])
                ev = a["evidence"]
                check_eq(ev["limit_soft"], 200, "limit_soft")
                # it may fire while the program is still opening: from 90% on
                check(180 <= ev["fds"] <= int(full["fds"]),
                      f"fds {ev['fds']}, the program opened up to {full['fds']}")
                check(abs(ev["ratio"] - ev["fds"] / 200) < 1e-6, f"ratio {ev['ratio']}")
                top = ev["sites"][0]
                check_eq((top["syscall"], top["target"]), ("openat", H.pattern(path)), "top site")
                check_eq(top["count"], ev["fds"] - 3, "top site count (all but 0, 1, 2)")
            ex.send("emfile")
            emf = ex.expect("EMFILE")
            with r.case("EMFILE returned: fd-limit-hit"):
                a = H.wait_alert(d, ex.pid, "fd-limit-hit", 10)
                T.log(a["summary"])
                ev = a["evidence"]
                check_eq(ev["errno"], "EMFILE", "errno")
                check_eq(ev["syscall"], "openat", "syscall")
                check_eq(ev["failures"], int(emf["failures"]), "failures vs the program's count")
                check_eq(ev["fds"], int(emf["fds"]), "fds")
            ex.send("release")
            rel = ex.expect("RELEASED")
            with r.case("released: both resolve"):
                a = H.wait_alert(d, ex.pid, "fd-exhaustion", 10, state="resolved")
                check(f"{rel['fds']} of 200" in a["resolution"], f"resolution {a['resolution']!r}")
                a = H.wait_alert(d, ex.pid, "fd-limit-hit", 15, state="resolved")
                check("no EMFILE/ENFILE for 3s" in a["resolution"],
                      f"resolution {a['resolution']!r}")
            with r.case("leaks --follow streamed each fire and resolve once"):
                time.sleep(1)
                fol.send_signal(signal.SIGINT)
                try:
                    out, err = fol.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    fol.kill()
                    out, err = fol.communicate()
                seen = [json.loads(l) for l in out.splitlines() if l.strip()]
                mine = [(x["kind"], x["state"]) for x in seen if x["pid"] == ex.pid]
                check_eq(sorted(mine), sorted([("fd-exhaustion", "firing"), ("fd-limit-hit", "firing"),
                                               ("fd-exhaustion", "resolved"),
                                               ("fd-limit-hit", "resolved")]),
                         f"stream lines for pid {ex.pid}")
        finally:
            if fol.poll() is None:
                fol.kill()
                fol.communicate()
            ex.kill()

        par = H.LeakProg("exec", path)
        try:
            parent = par.expect("PARENT")
            child = par.expect("CHILD")
            ppid, cpid = int(parent["pid"]), int(child["pid"])
            leaked = sorted(int(x) for x in parent["leaked"].split(","))
            with r.case("exec: the parent's fds without cloexec leaked into the child"):
                a = H.wait_alert(d, ppid, "exec-leak", 20)  # exec_min_age: 10 s
                T.log(a["summary"])
                ev = a["evidence"]
                got = sorted(x["fd"] for x in ev["leaked"])
                check_eq(got, leaked, "leaked fds (the cloexec pipe must not be there)")
                by_fd = {x["fd"]: x for x in ev["leaked"]}
                keep, sock = (int(x) for x in parent["leaked"].split(","))
                check_eq(by_fd[keep]["target"], path, "target of the leaked file")
                check_eq(by_fd[keep]["opened_by"]["syscall"], "openat", "file opened_by")
                check_eq(by_fd[keep]["opened_by"]["pid"], ppid, "file opened by the parent")
                check_eq(by_fd[sock]["opened_by"]["syscall"], "socket", "socket opened_by")
                check_eq(by_fd[keep]["origin"]["source"], "inherit", "came through fork")
                check(any(c["pid"] == cpid for c in ev["children"]),
                      f"child {cpid} not in {ev['children']}")
                check(not H.alerts_of(d, cpid, "exec-leak"), "an alert on the child too")
            par.finish()
            with r.case("exec: resolved when the process exits"):
                a = H.wait_alert(d, ppid, "exec-leak", 15, state="resolved")
                check_eq(a["resolution"], "process exited", "resolution")
        finally:
            par.kill()

        holder = H.LeakProg("exhaust", 100, path)
        holder.expect("FULL")
        held = H.wait_alert(d, holder.pid, "fd-exhaustion", 10)
        before = {a["id"]: a for a in H.leaks(d)["alerts"]}
        time.sleep(1.5)  # a save
    # stopped (SIGTERM); the holder still runs
    try:
        with T.Daemon(args=args) as d:
            with r.case("restart: the alerts are back with their ids"):
                after = {a["id"]: a for a in H.leaks(d)["alerts"]}
                missing = [i for i in before if i not in after]
                check(not missing, f"alerts lost over the restart: {missing}")
                for i, a in before.items():
                    if i in after and a["state"] == "resolved":
                        check_eq(after[i]["state"], "resolved", f"alert {i} state")
                        check_eq(after[i]["resolution"], a["resolution"], f"alert {i} resolution")
            with r.case("restart: the holder's alert still fires, not duplicated"):
                time.sleep(3)
                mine = H.alerts_of(d, holder.pid, "fd-exhaustion")
                check_eq([(a["id"], a["state"]) for a in mine], [(held["id"], "firing")],
                         "exhaustion alerts of the holder")
                check(not [l for l in H.log_lines(d, held["id"]) if l[1] == "firing"],
                      "the recovered alert was announced again")
            holder.finish()
            with r.case("restart: the holder exits, its alert resolves"):
                a = H.wait_alert(d, holder.pid, "fd-exhaustion", 15, state="resolved")
                check_eq(a["id"], held["id"], "id")

            # churn for the crash test: alerts fire and resolve all the time
            churn = []
            for _ in range(4):
                churn.append(H.LeakProg("exec", path))
    finally:
        holder.kill()

    with r.case("SIGKILL at any moment leaves a state file that parses"):
        f = os.path.join(state, "alerts.json")
        writes = 0
        for i in range(6):
            # exec leaks reported at once: alerts fire and resolve all the time
            d = T.Daemon(args=args + ["--leak", "exec_min_age=0"])
            d.start()
            before = os.stat(f).st_mtime_ns if os.path.exists(f) else 0
            try:
                deadline = time.monotonic() + 1.1 + 1.37 * i
                while time.monotonic() < deadline:
                    progs = [H.LeakProg("exec", path) for _ in range(3)]
                    time.sleep(0.4)
                    for p in progs:
                        p.kill()
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                d.stopped_ok = True
            finally:
                d.cleanup()
            if os.path.exists(f):
                writes += os.stat(f).st_mtime_ns != before
                with open(f) as fh:
                    doc = json.load(fh)  # raises on a torn file
                check(isinstance(doc.get("alerts"), list), "alerts list")
        T.log(f"the state file was rewritten during {writes} of 6 runs killed with SIGKILL")
        check(writes >= 2, f"the store was written in only {writes} runs: the test proves little")
        for p in churn:
            p.kill()

    with r.case("a corrupt state file is reported, set aside, and the daemon starts"):
        f = os.path.join(state, "alerts.json")
        with open(f, "w") as fh:
            fh.write('{"version": 1, "alerts": [{"id": 1, "kin')
        t0 = time.time()
        with T.Daemon(args=args) as d:
            log = H.daemon_log(d)
            check(f"<4>fdwatchd: alerts: state file {f} is corrupt" in log,
                  f"no corrupt-file warning in the log:\n{log[-2000:]}")
            check(os.path.exists(f + ".corrupt"), "the corrupt file was not set aside")
            # nothing came back from the file: only alerts this daemon fired
            # itself (the crash test's exec'd children may still hold their
            # whole limit) are listed
            old = [(a["id"], a["kind"], a["pid"]) for a in H.leaks(d)["alerts"]
                   if a.get("fired_at", 0) < t0]
            check_eq(old, [], "alerts after a corrupt file that the daemon did not fire itself")


if __name__ == "__main__":
    T.run(main)
