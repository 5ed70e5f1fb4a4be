#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak: a socketpair end handed to a helper, and close_range(2) in the
child, are the pipe idiom; what a child never took apart still fires.

The pipe rule (docs/api.md, exec-leak) excuses an end of a pipe the
exec'ing child kept while it closed the other end between its fork and
its exec. Two correct programs still fired before it covered them:

  (a) the socketpair hand-over: socketpair(AF_UNIX, SOCK_STREAM) without
      SOCK_CLOEXEC, fork; the child closes sv[0] (close(2)) and execs a
      helper that keeps sv[1] and writes a line on it; the parent closes
      sv[1] and reads the line on sv[0];
  (b) the pipe idiom with close_range(2): the child keeps the read end
      p[0] and closes p[1] and all above it with close_range(p[1], ~0U,
      0), then execs a reader; the parent closes p[0] and writes to p[1];
  (c) the socketpair hand-over with close_range(sv[0], sv[0], 0).

Still reported (each a real leak, the same rules as for pipes):

  (d) a socketpair whose child closed nothing of it: both ends leak;
  (e) a socketpair whose child moves sv[0] onto its stdin (dup2(sv[0], 0);
      close(sv[0])) and forgets sv[1]: its program holds the peer of its
      own stdin (sv[1] leaks);
  (f) a pipe whose child's close_range did not cover the other end
      (close_range(p[1] + 1, ~0U, 0)): both ends leak.

The hand-over made by another process of the lineage, or by making the
other end close-on-exec instead of closing it, fired too before the
model carried the ends given up through forks (struct fdw_given_up):

  (g) the double fork: socketpair; fork -> M; M closes sv[0], forks G and
      exits; G execs the helper with sv[1] (pair_dfork), the pipe twin
      (pipe_dfork: M closes p[1], G reads on p[0]), and M making sv[0]
      close-on-exec instead of closing it (pair_dfork_cloexec);
  (h) the child makes the other end close-on-exec: fcntl(sv[0], F_SETFD,
      FD_CLOEXEC) (pair_cloexec), close_range(sv[0], sv[0],
      CLOSE_RANGE_CLOEXEC) (pair_rangecloexec), fcntl(p[1], F_SETFD,
      FD_CLOEXEC) for a pipe (pipe_cloexec).

Still reported:

  (i) M closes sv[0] only after forking G: G holds both ends
      (pair_dfork_late);
  (j) the classic hang: the parent made sv[0] close-on-exec before the
      fork and the child did nothing: sv[1] leaks (pair_parentcloexec);
  (k) the maker closes its own copy of the other end, then forks a child
      that execs with the remaining end: the parent hands sv[1] to a
      helper (which closes sv[0]), closes sv[1], reads the helper's line
      on sv[0], and forks a second child that execs `sleep` with sv[0]
      (pair_other): sv[0] leaks into that child, not into the helper.
  (l) the double fork's grandchild G does not exec but stays as a server
      that keeps sv[1] (tmux: socketpair; fork; close(pair[0]); daemon())
      and forks a child that execs with it (pair_dfork_server): sv[1]
      leaks into that child (the middle's close goes one fork down: G's
      children are not excused by it).

Each program (Python, through libc: Python would set close-on-exec) stays
alive after its hand-over, with --leak exec_min_age=2; every helper really
holds what it was given (checked in /proc, and the line went through).
Expected: (d), (e), (f), (i), (j), (k), (l) fire, naming exactly their leaked
fds and the child; then, more than exec_min_age + 3 ticks after (a), (b),
(c), (g), (h) handed over, no exec-leak alert, firing or resolved, against
them or their helpers."""

import os
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

MIN_AGE = 2
NR_CLOSE_RANGE = 436  # the same number on every architecture (added in 5.9)

PROG = r'''
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
mode = sys.argv[1]
F_SETFD, FD_CLOEXEC, CLOSE_RANGE_CLOEXEC = 2, 1, 4

def pair(sock):
    v = (ctypes.c_int * 2)()
    r = libc.socketpair(1, 1, 0, v) if sock else libc.pipe(v)  # AF_UNIX, SOCK_STREAM
    assert r == 0, ctypes.get_errno()
    return v[0], v[1]

def close_range(first, last, flags=0):
    assert libc.syscall(%d, ctypes.c_uint(first), ctypes.c_uint(last),
                        ctypes.c_uint(flags)) == 0, ctypes.get_errno()

def cloexec(fd):
    assert libc.fcntl(fd, F_SETFD, FD_CLOEXEC) == 0, ctypes.get_errno()

def helper(fd, read):
    # sh writes (reads) a line on fd, then execs sleep, which keeps it
    op = 'read x <&"$1"; echo "$x" >/dev/null' if read else 'echo hello >&"$1"'
    os.execvp("sh", ["sh", "-c", op + '; exec sleep 60', "helper", str(fd)])

def report(parent):
    sys.stdout.flush()
    os.write(1, f"S {os.getpid()} {parent} {a} {b}\n".encode())
    time.sleep(60)
    sys.exit(0)

sock = mode.startswith("pair")
rep_r, rep_w = os.pipe()  # close-on-exec (Python's): the grandchild's pid
a, b = pair(sock)
other, kept = (a, b) if sock else (b, a)
if mode == "pair_other":
    k = os.fork()
    if k == 0:
        os.close(a)
        helper(b, False)
    os.close(b)
    line = os.read(a, 100)
    assert line == b"hello\n", line
    pid = os.fork()
    if pid == 0:
        os.execvp("sleep", ["sleep", "60"])
    report(pid)
if mode == "pair_parentcloexec":
    cloexec(a)
pid = os.fork()
if pid == 0:
    if mode == "pair_close":
        os.close(a)
    elif mode == "pair_range":
        close_range(a, a)
    elif mode == "pair_both":
        os.dup2(a, 0)
        os.close(a)
    elif mode == "pipe_range":
        close_range(b, 0xffffffff)
    elif mode == "pipe_rangemiss":
        close_range(b + 1, 0xffffffff)
    elif mode in ("pair_cloexec", "pipe_cloexec"):
        cloexec(other)
    elif mode == "pair_rangecloexec":
        close_range(a, a, CLOSE_RANGE_CLOEXEC)
    elif "dfork" in mode:
        # the middle process: gives the other end up (or not), forks the
        # one that execs, tells its pid and exits
        if mode == "pair_dfork_cloexec":
            cloexec(other)
        elif mode != "pair_dfork_late":
            os.close(other)
        g = os.fork()
        if g == 0:
            if mode == "pair_dfork_server":
                # G stays as a server (tmux's daemon()) that keeps sv[1]
                # and forks a child that execs with it
                k = os.fork()
                if k == 0:
                    helper(kept, not sock)
                os.write(rep_w, f"{k}\n".encode())
                time.sleep(60)
                os._exit(0)
            helper(kept, not sock)
        if mode == "pair_dfork_late":
            os.close(other)
        if mode != "pair_dfork_server":
            os.write(rep_w, f"{g}\n".encode())
        os._exit(0)
    # pair_noclose, pair_parentcloexec: nothing
    helper(kept, not sock)
os.close(rep_w)
if "dfork" in mode:
    g = int(os.read(rep_r, 100))
    os.waitpid(pid, 0)  # the middle process is gone before G's exec is looked at
    pid = g
if sock:
    os.close(b)
    line = os.read(a, 100)
    assert line == b"hello\n", line
else:
    os.close(a)
    os.write(b, b"hello\n")
report(pid)
''' % NR_CLOSE_RANGE

# what the process that execs keeps: the hand-overs ...
KEPT = {"pair_close": "b", "pipe_range": "a", "pair_range": "b",
        "pair_dfork": "b", "pipe_dfork": "a", "pair_dfork_cloexec": "b",
        "pair_cloexec": "b", "pair_rangecloexec": "b", "pipe_cloexec": "a"}
# ... and the leaks: what leaked (and what it holds, when that differs)
LEAKS = {"pair_noclose": "ab", "pair_both": "b", "pipe_rangemiss": "ab",
         "pair_dfork_late": "ab", "pair_parentcloexec": "b", "pair_other": "a",
         "pair_dfork_server": "b"}
HOLDS = {"pair_parentcloexec": "b", "pair_other": "a", "pair_dfork_server": "b"}
# the parent's copy it closed: the end it does not use
GONE = {"pair_other": "b"}


def main(r):
    H.run_in_tmp(r, "fdwpairs-", run_all)


def run_all(r, tmp, procs):
    with T.Daemon(args=["--leak", f"exec_min_age={MIN_AGE}"]) as d:
        got = {}
        for mode in list(KEPT) + list(LEAKS):
            p = subprocess.Popen(["python3", "-c", PROG, mode], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, start_new_session=True)
            procs.append(p)
            got[mode] = p
        t_spawned = time.monotonic()
        info = {}
        for mode, p in got.items():
            v = H.read_line(p, f"({mode})")
            info[mode] = {"pid": int(v[1]), "kid": int(v[2]), "a": int(v[3]), "b": int(v[4])}

        with r.case("every helper holds what it was given"):
            for mode, i in info.items():
                # the helper execs sleep once its line went through
                H.wait_for(lambda: T.proc_comm(i["kid"]) == "sleep", 10,
                           f"({mode}) helper {i['kid']} runs sleep")
                kf = {fd: T.fd_target(i["kid"], i[fd]) for fd in "ab"}
                T.log(f"({mode}) parent {i['pid']}: ends {i['a']}, {i['b']}; helper "
                      f"{i['kid']} holds {kf}")
                want = KEPT.get(mode) or HOLDS.get(mode) or "ab"
                if mode == "pair_both":
                    check(T.fd_target(i["kid"], 0).startswith("socket:"),
                          "(pair_both) sv[0] is the helper's stdin")
                    want = "b"
                for fd in "ab":
                    if fd in want:
                        kind = "socket:" if mode.startswith("pair") else "pipe:"
                        check((kf[fd] or "").startswith(kind),
                              f"({mode}) helper holds fd {i[fd]}: {kf[fd]}")
                    else:
                        check_eq(kf[fd], None, f"({mode}) helper's fd {i[fd]}")
                gone = i[GONE.get(mode) or ("b" if mode.startswith("pair") else "a")]
                check(not os.path.exists(f"/proc/{i['pid']}/fd/{gone}"),
                      f"({mode}) the parent closed its copy of fd {gone}")

        with r.case("(d) nothing closed, (e) both ends kept, (f) close_range missed, "
                    "(i) closed after the second fork, (j) the parent's close-on-exec, "
                    "(k) the maker's own close, (l) the double fork's server's child: fire"):
            for mode, ends in LEAKS.items():
                i = info[mode]
                a = H.wait_alert(d, i["pid"], "exec-leak", 20)
                T.log(f"({mode}) {a['summary']}")
                check_eq(sorted(f["fd"] for f in a["evidence"]["leaked"]),
                         sorted(i[e] for e in ends), f"({mode}) leaked fds")
                check_eq([c["pid"] for c in a["evidence"]["children"]], [i["kid"]],
                         f"({mode}) the child")

        with r.case("(a) (b) (c) (g) (h) the hand-overs: no exec-leak, firing or resolved"):
            time.sleep(max(0.0, t_spawned + MIN_AGE + 3 - time.monotonic()))
            pids = set()
            for mode in KEPT:
                i = info[mode]
                check(got[mode].poll() is None and T.pid_exists(i["kid"]),
                      f"({mode}) parent and helper still run")
                pids |= {i["pid"], i["kid"]}
            bad = H.api_exec_alerts(d, pids)
            check_eq(bad, [], f"exec-leak alerts on the hand-overs ({H.describe(bad)})")
            cli = H.cli_exec_alerts(d, pids)
            check_eq(cli, [], f"`fdwatch leaks --json` ({H.describe(cli)})")


if __name__ == "__main__":
    T.run(main)
