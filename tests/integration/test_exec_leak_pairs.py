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

Each program (Python, through libc: Python would set close-on-exec) stays
alive after its hand-over, with --leak exec_min_age=2; every helper really
holds what it was given (checked in /proc, and the line went through).
Expected: (d), (e), (f) fire, naming exactly their leaked fds; then, more
than exec_min_age + 3 ticks after (a), (b), (c) handed over, no exec-leak
alert, firing or resolved, against them or their helpers."""

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

def pair(sock):
    v = (ctypes.c_int * 2)()
    r = libc.socketpair(1, 1, 0, v) if sock else libc.pipe(v)  # AF_UNIX, SOCK_STREAM
    assert r == 0, ctypes.get_errno()
    return v[0], v[1]

def close_range(first, last):
    assert libc.syscall(%d, ctypes.c_uint(first), ctypes.c_uint(last), 0) == 0, \
        ctypes.get_errno()

def helper(fd, read):
    # sh writes (reads) a line on fd, then execs sleep, which keeps it
    op = 'read x <&"$1"; echo "$x" >/dev/null' if read else 'echo hello >&"$1"'
    os.execvp("sh", ["sh", "-c", op + '; exec sleep 60', "helper", str(fd)])

sock = mode.startswith("pair")
a, b = pair(sock)
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
    # pair_noclose: nothing
    if sock:
        helper(b, False)
    else:
        helper(a, True)
if sock:
    os.close(b)
    line = os.read(a, 100)
    assert line == b"hello\n", line
else:
    os.close(a)
    os.write(b, b"hello\n")
os.write(1, f"S {os.getpid()} {pid} {a} {b}\n".encode())
time.sleep(60)
''' % NR_CLOSE_RANGE

KEPT = {"pair_close": "b", "pipe_range": "a", "pair_range": "b"}
LEAKS = {"pair_noclose": "ab", "pair_both": "b", "pipe_rangemiss": "ab"}


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
                want = KEPT.get(mode) or "ab"
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
                gone = i["b"] if mode.startswith("pair") else i["a"]
                check(not os.path.exists(f"/proc/{i['pid']}/fd/{gone}"),
                      f"({mode}) the parent closed its copy of fd {gone}")

        with r.case("(d) nothing closed, (e) both ends kept, (f) close_range missed: fire"):
            for mode, ends in LEAKS.items():
                i = info[mode]
                a = H.wait_alert(d, i["pid"], "exec-leak", 20)
                T.log(f"({mode}) {a['summary']}")
                check_eq(sorted(f["fd"] for f in a["evidence"]["leaked"]),
                         sorted(i[e] for e in ends), f"({mode}) leaked fds")
                check_eq([c["pid"] for c in a["evidence"]["children"]], [i["kid"]],
                         f"({mode}) the child")

        with r.case("(a) (b) (c) the hand-overs: no exec-leak, firing or resolved"):
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
