#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unprivileged user asks for the leak sites of its own process, which
holds 19,000 fds, from 16 connections at once: each GET /v1/leaks?pid=
groups the table on the loop (~9 ms here), so the loop did nothing else
(hostile pass, this stop: root's status p50 86 ms, the daemon a whole core
for as long as it lasted). Now a uid spends at most a tenth of the loop's
time on leak sites (server/access.c); past it the answer is 429, counted
in dropped.leak_sites.

(1) The attack gets 429s, and dropped.leak_sites counts them.
(2) Root's own GET /v1/leaks?pid= of the same process is answered (200)
    during it: root is not bound.
(3) Once it stops and a second passes, the user is answered again (200).
Root's status latency and the daemon's CPU during the attack are logged,
not judged (a pass/fail test is no place for speed budgets)."""

import os
import sys
import textwrap
import time

import fdwtest as T
from fdwtest import check, check_eq
import flood_helpers as F

HOLD = 19000
SECONDS = 6
CONNS = 16

ATTACK = textwrap.dedent(f"""
    import os, resource, socket, sys, threading, time
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    null = os.open("/dev/null", os.O_RDONLY)
    held = [os.dup(null) for _ in range({HOLD})]
    print("HOLDING", flush=True)
    sys.stdin.readline()  # go
    codes = {{}}
    lock = threading.Lock()
    end = time.monotonic() + {SECONDS}
    req = (f"GET /v1/leaks?pid={{os.getpid()}} HTTP/1.1\\r\\nHost: x\\r\\n"
           "Connection: close\\r\\n\\r\\n").encode()
    def hammer():
        while time.monotonic() < end:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
                s.sendall(req)
                head = b""
                while b"\\r\\n" not in head:
                    b = s.recv(4096)
                    if not b:
                        break
                    head += b
                while s.recv(65536):
                    pass
                code = head.split(b" ")[1].decode() if head else "none"
            except OSError as e:
                code = "err"
            finally:
                s.close()
            with lock:
                codes[code] = codes.get(code, 0) + 1
    ts = [threading.Thread(target=hammer) for _ in range({CONNS})]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("DONE", codes.get("200", 0), codes.get("429", 0), sum(codes.values()), flush=True)
    sys.stdin.readline()  # hold the fds until told
""")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main(r):
    with T.Daemon() as d:
        os.chmod(d.tmp, 0o711)
        os.chmod(d.sock, 0o666)
        with F.holding(d, "leak sites flood", ATTACK, [d.sock], HOLD) as p:
            hz = os.sysconf("SC_CLK_TCK")
            t0, c0 = time.monotonic(), cpu_ticks(d.proc.pid)
            F.go(p)
            lat, end = [], time.monotonic() + SECONDS - 1
            while time.monotonic() < end:
                lat.append(F.status_timed(d)[1])
                time.sleep(0.2)
            lat.sort()
            st, doc = T.unix_get_json(sys.executable, d.sock, f"/v1/leaks?pid={p.pid}")
            root_ok = st == 200 and "sites" in doc
            ok, refused, total = F.done(p)
            t1, c1 = time.monotonic(), cpu_ticks(d.proc.pid)
            share = (c1 - c0) / hz / (t1 - t0)
            status = d.status()
            T.log(f"{total} requests by nobody in {SECONDS} s: {ok} answered, {refused} "
                  f"refused; the daemon's CPU {share * 100:.0f}% of a core; root's status "
                  f"p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms; "
                  f"dropped.leak_sites {status['dropped'].get('leak_sites')}")
            with r.case("the user's flood is refused past its share, and counted"):
                check(ok > 0, f"no request of the user's was answered ({total} sent)")
                check(refused > 0, f"none of {total} requests was refused")
                check(status["dropped"].get("leak_sites", 0) >= refused,
                      f"dropped.leak_sites {status['dropped'].get('leak_sites')} < {refused}")
            with r.case("root is answered during it"):
                check(root_ok, f"root's GET /v1/leaks?pid={p.pid}: {st}")
            with r.case("the user is answered again a second after it"):
                time.sleep(1.5)
                st, doc = T.unix_get_json("/usr/bin/python3", d.sock, f"/v1/leaks?pid={p.pid}",
                                          user=65534, group=65534, extra_groups=[])
                check_eq(st, 200, "the user's GET after the flood")


if __name__ == "__main__":
    T.run(main)
