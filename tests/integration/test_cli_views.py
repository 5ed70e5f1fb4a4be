#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CLI's human views against a real daemon, each checked against the
JSON of the same command: a Python child opens a file (O_CLOEXEC), a unix
socket (SOCK_CLOEXEC), fails to open a missing file, clears FD_CLOEXEC
with fcntl, dup2s with inheritable=False (dup3 O_CLOEXEC) and closes a
range (close_range); `fdwatch events` prints them decoded like strace
(AT_FDCWD, O_RDONLY|O_CLOEXEC, AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, F_SETFD,
-2 (ENOENT)) and the JSON carries the names beside the raw numbers; the
filters (--syscall, --failed, --comm, --since) keep what they should;
`fdwatch ps -o` shows the RLIMIT_NOFILE soft limit the child set and its
growth once it opens 20 fds a second; `fdwatch fds -p A,B` is both
tables."""

import os
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check, check_eq

CHILD = r"""
import fcntl, os, resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (512, 4096))
fd = os.open("/etc/hostname", os.O_RDONLY)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.open("/nonexistent-fdwt-cli-views", os.O_RDONLY)
except OSError:
    pass
fcntl.fcntl(fd, fcntl.F_SETFD, 0)
os.dup2(fd, 200, inheritable=False)
os.closerange(300, 310)
print("ready", fd, flush=True)
sys.stdin.readline()
keep = []
for i in range(120):
    keep.append(os.open("/dev/null", os.O_RDONLY))
    time.sleep(0.05)
print("grown", flush=True)
sys.stdin.readline()
"""


def human_args(ev, names):
    """The ARGS text expected for a decoded event, from its JSON."""
    out = []
    for k in names:
        v = ev[k]
        if k + "_names" in ev:
            v = "|".join(ev[k + "_names"]) or "0"
        elif k + "_name" in ev:
            v = ev[k + "_name"]
        out.append(f"{k}={v}")
    return " ".join(out)


def main(r):
    with T.Daemon() as d:
        start = time.time() - 1
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        other = subprocess.Popen(["sleep", "300"])
        try:
            line = child.stdout.readline().split()
            check(line and line[0] == "ready", f"child said {line!r}")
            pid, fd = child.pid, int(line[1])
            evs = []
            with r.case("events --json: raw numbers with the names beside them"):
                evs = d.events(pid=pid, limit=5000)
                opens = [e for e in evs if e.get("syscall") == "openat" and
                         e.get("path") == "/etc/hostname"]
                check(opens, "no openat of /etc/hostname")
                e = opens[-1]
                check_eq(e.get("dirfd"), -100, "openat dirfd")
                check_eq(e.get("dirfd_name"), "AT_FDCWD", "openat dirfd_name")
                names = e.get("flags_names") or []
                check(names[:1] == ["O_RDONLY"] and "O_CLOEXEC" in names,
                      f"openat flags_names {names}")
                check(e["flags"] & 0o2000000, f"raw flags {e['flags']:#o}")
                socks = [e for e in evs if e.get("syscall") == "socket" and e.get("ret", -1) >= 0]
                check(socks, "no socket event")
                check_eq(socks[-1].get("domain_name"), "AF_UNIX", "socket domain_name")
                check_eq(socks[-1].get("type_names"), ["SOCK_STREAM", "SOCK_CLOEXEC"],
                         "socket type_names")
            with r.case("events: the human view is the JSON decoded like strace"):
                c = d.cli("events", "-p", pid, "--limit", 5000, "--syscall",
                          "openat,socket,fcntl,dup3,close_range", "-n", "-o", "SYSCALL,RET,ARGS",
                          "--no-pager")
                check_eq(c.returncode, 0, f"exit code ({c.stderr.strip()})")
                lines = c.stdout.splitlines()
                want = {
                    "openat": (["dirfd", "path", "flags", "mode"],
                               lambda e: e.get("path") == "/etc/hostname"),
                    "socket": (["domain", "type", "protocol"], lambda e: e.get("ret", -1) >= 0),
                    "fcntl": (["fd", "cmd", "arg"], lambda e: e.get("fd") == fd),
                    "dup3": (["oldfd", "newfd", "flags"], lambda e: e.get("newfd") == 200),
                    "close_range": (["first", "last", "flags"], lambda e: e.get("first") == 300),
                }
                for sc, (keys, pick) in want.items():
                    js = [e for e in evs if e.get("syscall") == sc and pick(e)]
                    check(js, f"no {sc} event in the JSON")
                    text = human_args(js[-1], keys)
                    hit = [l for l in lines if l.split()[0] == sc and text in l]
                    check(hit, f"{sc}: no line with {text!r} in:\n" + "\n".join(lines[-30:]))
                check(any("F_SETFD" in l and "arg=0" in l for l in lines), "fcntl F_SETFD 0")
                check(any("dup3" in l and "flags=O_CLOEXEC" in l for l in lines), "dup3 O_CLOEXEC")
                check(any("socket" in l and "type=SOCK_STREAM|SOCK_CLOEXEC" in l and
                          "domain=AF_UNIX" in l for l in lines), "socket decoded")
            with r.case("events --failed: the missing file, with its errno name"):
                c = d.cli("events", "-p", pid, "--limit", 5000, "--failed", "-n", "-r",
                          "-o", "SYSCALL,RET,ERRNO", "--no-pager")
                check_eq(c.returncode, 0, "exit code")
                js = [e for e in evs if e.get("ret", 0) < 0]
                rows = [l.split(" ") for l in c.stdout.splitlines()]
                check_eq(len(rows), len(js), "--failed rows vs the JSON's failures")
                check(["openat", "-2\\x20(ENOENT)", "ENOENT"] in rows,
                      f"the failed openat in {rows[-10:]}")
            with r.case("events --comm and --since keep only those"):
                comm = T.proc_comm(pid)
                c = d.cli("events", "--comm", comm, "--since", f"@{start}", "--limit", 20000,
                          "-J", "--no-pager")
                check_eq(c.returncode, 0, "exit code")
                got = T.parse_events(c.stdout)
                check(got, "no events")
                check(all(e["comm"] == comm and e["ts"] >= start for e in got),
                      "an event of another command or from before --since")
            with r.case("ps -o: the soft limit the child set, and its share"):
                doc = {}
                for _ in range(50):
                    c = d.cli("ps", "-p", pid, "-J")
                    doc = __import__("json").loads(c.stdout)["processes"][0]
                    if doc.get("limit_soft") is not None:
                        break
                    time.sleep(0.2)
                check_eq(doc.get("limit_soft"), 512, "limit_soft")
                c = d.cli("ps", "-p", pid, "-n", "-r", "-o", "PID,FDS,LIMIT,USE%", "--no-pager")
                row = c.stdout.split()
                check_eq(row[0], str(pid), "PID")
                check_eq(row[2], "512", "LIMIT")
                check_eq(row[3], "%.1f%%" % (100.0 * int(row[1]) / 512), "USE% from FDS/LIMIT")
            with r.case("ps --sort growth: the child growing 20 fds/s, largest first"):
                child.stdin.write("grow\n")
                child.stdin.flush()
                check_eq(child.stdout.readline().strip(), "grown", "child")
                time.sleep(1.5)
                c = d.cli("ps", "--sort", "growth", "-n", "-r", "-o", "PID,GROWTH", "--no-pager")
                rows = [l.split() for l in c.stdout.splitlines()]
                vals = [float(g) if g != "-" else float("-inf") for _, g in rows]
                check(vals == sorted(vals, reverse=True), f"not largest first: {rows[:10]}")
                mine = [g for p, g in rows if p == str(pid)]
                check(mine and float(mine[0]) > 300, f"the child's growth {mine} fds/min")
                # other helpers' processes may grow faster on a shared machine;
                # the child is above every process that did not grow
                check(rows.index([str(pid), mine[0]]) <
                      min([i for i, v in enumerate(vals) if v <= 0] or [len(rows)]),
                      "the child after a process that did not grow")
                js = {p["pid"]: p for p in d.ps()["processes"]}
                check(abs(js[pid]["growth_per_min"] - float(mine[0])) < 300,
                      f"GROWTH {mine[0]} vs the JSON a moment later {js[pid]['growth_per_min']}")
            with r.case("fds -p A,B: both tables in one, with PID"):
                # two snapshots: on a machine where another test loses events,
                # a table can be re-read in between; agree within a few tries
                for _ in range(5):
                    c = d.cli("fds", "-p", f"{pid},{other.pid}", "-n", "-r", "-o", "PID,FD",
                              "--no-pager")
                    check_eq(c.returncode, 0, f"exit code ({c.stderr.strip()})")
                    got = sorted(tuple(map(int, l.split())) for l in c.stdout.splitlines())
                    want = sorted([(pid, f["fd"]) for f in d.fds(pid)["fds"]] +
                                  [(other.pid, f["fd"]) for f in d.fds(other.pid)["fds"]])
                    if got == want:
                        break
                    time.sleep(0.5)
                check_eq(got, want, "fds -p rows vs the two JSON tables")
        finally:
            other.kill()
            other.wait()
            try:
                child.stdin.write("bye\n")
                child.stdin.close()
            except OSError:
                pass
            child.wait(timeout=30)


if __name__ == "__main__":
    T.run(main)
