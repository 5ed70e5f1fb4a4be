#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The API under floods test_api_hostile.py does not make: a real fdwatchd
(max-clients 64) while a workload keeps making fd events.

- 3000 connections at once from one process (its RLIMIT_NOFILE raised),
  held for 8 s, a third of them sending a request, a third half a head:
  `fdwatch status` as root answers every time within 2 s (p50/p99 logged),
  the daemon's own fd count stays bounded (max-clients + the refusal and
  linger bounds + its fixed fds) and its sockets come back to where they were;
- 3000 clients that connect and vanish, in four ways: at once, after half a
  request head, right after a whole request (the answer meets a reset),
  and a follower after its first bytes: the daemon stays up and its
  sockets come back;
- half-open clients: a whole request then shutdown(SHUT_WR) still gets its
  200; half a head then shutdown(SHUT_WR) is closed at once (not after the
  5 s head timeout);
- events lost stays 0 through all of it (status events_lost);
- 60 clients refused at once (16 connections of the same process hold its
  share), each sending a request with a body after connecting: every one
  reads its 503, none a reset (past the 16 whose heads are read, the 503 goes out at once and
  the connection lingers).
"""

import os
import resource
import socket
import subprocess
import sys
import threading
import time

import fdwtest as T
from fdwtest import check, check_eq

FLOOD = 3000
HOLD_S = 8.0

FLOODER = r'''
import os, socket, sys, time
path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks, refused = [], 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except BlockingIOError:
        refused += 1          # the listen backlog is full: the kernel says no
        s.close()
        continue
    except OSError:
        refused += 1
        s.close()
        continue
    try:
        if i % 3 == 0:
            s.send(b"GET /v1/status HTTP/1.1\r\n\r\n")
        elif i % 3 == 1:
            s.send(b"GET /v1/events HTTP/1.1\r\nX-Half: ")
    except OSError:
        pass
    socks.append(s)
print(f"connected={len(socks)} refused={refused}", flush=True)
time.sleep(hold)
for s in socks:
    s.close()
print("done", flush=True)
'''

VANISH = r'''
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
kinds = [b"", b"GET /v1/status HTTP/1.1\r\nHo", b"GET /v1/events?limit=100000 HTTP/1.1\r\n\r\n",
         b"GET /v1/events?follow=1 HTTP/1.1\r\n\r\n"]
errors = 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        k = kinds[i % 4]
        if k:
            s.sendall(k)
        if i % 4 == 3:
            s.settimeout(2)
            s.recv(16)        # the follower got its first bytes, then goes
    except OSError:
        errors += 1
    s.close()
print(f"vanished={n} errors={errors}", flush=True)
'''

# fd events all along: the capture must keep up while the API is flooded
WORKLOAD = r'''
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
fd = os.open("/dev/null", os.O_RDONLY)
n = 0
while time.monotonic() < end:
    for _ in range(200):
        os.close(os.dup(fd))
    n += 200
    time.sleep(0.01)
print(n, flush=True)
'''


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def stable_socket_fds(pid):
    """socket_fds once it has not changed for a second: the status calls
    just before leave a connection the daemon may not have closed yet."""
    last, since = socket_fds(pid), time.monotonic()
    deadline = since + 15
    while time.monotonic() < deadline and time.monotonic() - since < 1.0:
        time.sleep(0.1)
        n = socket_fds(pid)
        if n != last:
            last, since = n, time.monotonic()
    return last


def socket_fds(pid):
    """The daemon's sockets (its listener and API connections; the other
    fds it holds, /proc directories it caches among them, come and go)."""
    n = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
        except OSError:
            pass
    return n


def status_probe(d, stop, times, fails):
    while not stop.is_set():
        t0 = time.monotonic()
        c = d.cli("status", json_out=True, timeout=30)
        dt = time.monotonic() - t0
        times.append(dt)
        if c.returncode != 0:
            fails.append(c.stderr.strip()[:200])
        time.sleep(0.2)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else -1


def read_to_eof(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def raw(d, data, shut=True, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.sock)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    out = read_to_eof(s)
    s.close()
    return out, time.monotonic() - t0


REFUSED_REQ = (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
               b"x" * 4096)


def refused_clients(d, hold=16, n=60):
    """hold connections that send nothing yet take this process's share
    (16 of 64, for the 5 s of the head timeout); n more connect at once,
    then each sends a request with a body and reads its answer: a 503, or
    a reset. Returns {kind: count}."""
    holders, socks, kinds = [], [], {}
    try:
        for _ in range(hold):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.sock)
            holders.append(s)
        time.sleep(0.3)
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.sock)
            socks.append(s)
        time.sleep(0.5)     # every one accepted, and refused
        for s in socks:
            try:
                s.sendall(REFUSED_REQ)
                out = read_to_eof(s)
                k = ("503" if out.startswith(b"HTTP/1.1 503 ") and b"too many" in out
                     else "other: %r" % out[:60])
            except (ConnectionResetError, BrokenPipeError) as e:
                k = type(e).__name__
            except socket.timeout:
                k = "timeout"
            kinds[k] = kinds.get(k, 0) + 1
    finally:
        for s in socks + holders:
            s.close()
    return kinds


def main(r):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, FLOOD + 512)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with T.Daemon() as d:
        pid = d.proc.pid
        lost0 = d.status()["events_lost"]
        lost = {"start": lost0}
        base = fd_count(pid)
        base_socks = stable_socket_fds(pid)
        with r.case("60 clients refused at once: each reads its 503, none a reset"):
            kinds = refused_clients(d)
            T.log(f"refused clients: {kinds}")
            check_eq(kinds, {"503": 60}, "answers of the refused clients")
            check(d.alive(), "daemon died")
        wl = subprocess.Popen([sys.executable, "-c", WORKLOAD, "60"], stdout=subprocess.PIPE,
                              text=True)
        try:
            with r.case(f"{FLOOD} connections at once: status answers, fds bounded"):
                stop, times, fails = threading.Event(), [], []
                probe = threading.Thread(target=status_probe, args=(d, stop, times, fails))
                fl = subprocess.Popen([sys.executable, "-c", FLOODER, d.sock, str(FLOOD),
                                       str(HOLD_S)], stdout=subprocess.PIPE, text=True)
                line = fl.stdout.readline().strip()
                probe.start()
                peak = 0
                t_end = time.monotonic() + HOLD_S - 1
                while time.monotonic() < t_end:
                    peak = max(peak, fd_count(pid))
                    time.sleep(0.1)
                check_eq(fl.stdout.readline().strip(), "done", "flooder")
                fl.wait(timeout=30)
                stop.set()
                probe.join()
                T.log(f"flooder: {line}; daemon fds {base} -> peak {peak}; status p50 "
                      f"{pct(times, 50) * 1000:.0f} ms p99 {pct(times, 99) * 1000:.0f} ms "
                      f"max {max(times) * 1000:.0f} ms ({len(times)} asked)")
                check(not fails, f"status failed during the flood: {fails[:3]}")
                check(max(times) < 2.0, f"a status took {max(times):.2f}s")
                # 64 slots + 16 being refused + 256 lingering, and a margin
                check(peak <= base + 64 + 16 + 256 + 32, f"daemon fds peaked at {peak}")
                check(d.alive(), "daemon died")
                lost["flood"] = d.status()["events_lost"]

            with r.case(f"{FLOOD} clients that connect and vanish"):
                v = subprocess.run([sys.executable, "-c", VANISH, d.sock, str(FLOOD)],
                                   capture_output=True, text=True, timeout=300)
                T.log(f"vanish: {v.stdout.strip()} {v.stderr.strip()[-200:]}")
                check_eq(v.returncode, 0, "vanish client")
                check(d.alive(), "daemon died")
                lost["vanish"] = d.status()["events_lost"]

            with r.case("the daemon's sockets come back"):
                deadline = time.monotonic() + 15
                while socket_fds(pid) > base_socks and time.monotonic() < deadline:
                    time.sleep(0.2)
                T.log(f"daemon sockets {base_socks} -> {socket_fds(pid)}, fds {base} -> "
                      f"{fd_count(pid)}")
                check_eq(socket_fds(pid), base_socks, "daemon sockets after the clients left")

            with r.case("half-open clients"):
                out, _ = raw(d, b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
                check(out.startswith(b"HTTP/1.1 200 "), f"whole request then SHUT_WR: {out[:80]!r}")
                check(b'"events_received"' in out, "no status body")
                out, took = raw(d, b"GET /v1/status HTTP/1.1\r\nHo")
                check(took < 1.5, f"half a head then SHUT_WR: closed after {took:.2f}s")
                check(not out or out.startswith(b"HTTP/1.1 4"), f"half a head: {out[:80]!r}")

            with r.case("events lost stays 0"):
                wl.wait(timeout=120)
                n = int(wl.stdout.read().strip() or 0)
                st = d.status()
                lost["end"] = st["events_lost"]
                T.log(f"workload: {n} dup+close pairs; events_lost after each phase {lost}; "
                      f"loop_lag_max_ms {st.get('loop_lag_max_ms')}")
                others = d.others()
                if others:
                    T.log("other fdwatchd instances (their load is every daemon's):\n" +
                          T.indent("\n".join(others)))
                check(n > 0, "the workload made no events")
                check_eq(st["events_lost"], lost0, "events lost")
        finally:
            if wl.poll() is None:
                wl.kill()
                wl.wait()


T.run(main)
