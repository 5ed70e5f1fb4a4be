#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Large answers no client can hold, against a real fdwatchd:

- a process holding ~19,000 fds (some of them files renamed or deleted
  after they were opened): clients ask for its table
  (GET /v1/processes/PID/fds) and then read very slowly or not at all;
  meanwhile `fdwatch status` from another client answers within 1 s, every
  time (measured, several times). Each slow client's answer, once read, is
  complete, valid JSON and equal to /proc's table (numbers, names, close-on-
  exec), renamed and deleted files by their names now;
- the same for GET /v1/processes with a few thousand processes (those of
  this test are all in the answer, with their fd counts);
- `fdwatch verify` of every process (two at once) while status is asked
  every 50 ms: status answers within 1 s, several times during the check,
  and clients that hang up mid-check leave the daemon up with no socket
  kept (the check used to run on the loop in one go);
- clients that hang up mid-answer, or before it starts (while the table's
  names are still read in the thread pool): the daemon stays up, answers,
  and holds no more fds than before (the valgrind half of test_daemon_leaks
  does the same under valgrind).

Before the answers were streamed, each table answer was built whole on the
loop (~0.5 s for 19,000 fds) and status waited for all of them.
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq

NFDS = 19000
NPROCS = 3000
SLOW = 6            # clients asking for the big answer and not reading
STATUS_MAX_S = 1.0  # generous: the budget in issue 8 is 100 ms
ROUNDS = 8          # status calls while the slow clients hold their answers

# Holds NFDS fds and waits for SIGTERM: /dev/null dups, files in DIR (a
# tenth of them renamed, a tenth deleted once open). Prints "ready" when
# everything is in place.
HOLDER = r'''
import os, resource, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
n, d = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
null = os.open("/dev/null", os.O_RDONLY)
keep = [null]
nfiles = 300
for i in range(nfiles):
    keep.append(os.open(os.path.join(d, f"f{i}"), os.O_RDWR | os.O_CREAT, 0o600))
for i in range(0, nfiles, 10):
    os.rename(os.path.join(d, f"f{i}"), os.path.join(d, f"renamed{i}"))
for i in range(5, nfiles, 10):
    os.unlink(os.path.join(d, f"f{i}"))
while len(keep) < n:
    keep.append(os.dup(null) if len(keep) % 2 else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
print("ready", flush=True)
signal.sigwait([signal.SIGTERM])
'''

# Forks N children that wait for SIGTERM (their parent's); prints "ready".
FORKER = r'''
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # the children's too
n = int(sys.argv[1])
kids = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        signal.sigwait([signal.SIGTERM])
        os._exit(0)
    kids.append(pid)
print(" ".join(map(str, kids)), flush=True)
signal.sigwait([signal.SIGTERM])
for k in kids:
    os.kill(k, signal.SIGTERM)
for k in kids:
    os.waitpid(k, 0)
'''


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def ask(d, target):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(d.sock)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def read_some(s, n):
    """Up to n bytes without waiting long (a slow reader's sip)."""
    s.settimeout(0.01)
    try:
        return s.recv(n)
    except (socket.timeout, BlockingIOError):
        return b""
    finally:
        s.settimeout(30)


def read_all(s, got=b""):
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += b
    s.close()
    return got


def dechunk(body):
    out, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        n = int(body[pos:eol], 16)
        if n == 0:
            check(body[eol:] == b"\r\n\r\n", f"bytes after the last chunk: {body[eol:][:50]!r}")
            return b"".join(out)
        out.append(body[eol + 2:eol + 2 + n])
        check(body[eol + 2 + n:eol + 4 + n] == b"\r\n", "chunk not ended by CRLF")
        pos = eol + 4 + n


def answer_json(raw, what):
    head, sep, body = raw.partition(b"\r\n\r\n")
    check(sep and head.startswith(b"HTTP/1.1 200 "), f"{what}: head {head[:200]!r}")
    check(b"transfer-encoding: chunked" in head.lower(), f"{what}: not chunked: {head!r}")
    text = dechunk(body)
    try:
        return json.loads(text)
    except ValueError as e:
        raise T.Failure(f"{what}: invalid JSON ({e}); {len(text)} bytes, ends {text[-200:]!r}")


def timed_status(d):
    t0 = time.monotonic()
    c = d.cli("status", json_out=True, timeout=60)
    dt = time.monotonic() - t0
    check_eq(c.returncode, 0, f"fdwatch status exit ({c.stderr.strip()})")
    return dt


def status_while_held(d, socks, what):
    """ROUNDS status calls while `socks` hold their answers (one of them
    sipping 4 KB now and then, the others not reading): each within
    STATUS_MAX_S. Returns what the sipping client got so far."""
    lat, sipped = [], b""
    for _ in range(ROUNDS):
        sipped += read_some(socks[0], 4096)
        lat.append(timed_status(d))
        time.sleep(0.2)
    T.log(f"{what}: status x{len(lat)} while {len(socks)} clients hold the answer: "
          f"max {max(lat) * 1000:.0f} ms, all {[round(x * 1000) for x in lat]} ms")
    check(max(lat) <= STATUS_MAX_S,
          f"{what}: status took {max(lat):.2f}s (> {STATUS_MAX_S}s) while slow clients "
          f"held the answer: {[round(x, 2) for x in lat]}")
    return sipped


def wait_model_count(d, pid, n, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        p = d.processes_by_pid().get(pid)
        if p and p["fds"] == n:
            return
        check(time.monotonic() < deadline, f"model has {p and p['fds']} fds of {pid}, /proc {n}")
        time.sleep(0.5)


def daemon_fds(d):
    """The daemon's sockets (its other fds, /proc directories it caches,
    come and go with what it traces)."""
    n = 0
    for name in os.listdir(f"/proc/{d.proc.pid}/fd"):
        try:
            n += os.readlink(f"/proc/{d.proc.pid}/fd/{name}").startswith("socket:")
        except OSError:
            pass
    return n


def case_fds(d, holder_pid):
    kernel = T.proc_table(holder_pid)
    check(len(kernel) >= NFDS, f"holder has {len(kernel)} fds")
    wait_model_count(d, holder_pid, len(kernel))
    base = timed_status(d)
    T.log(f"status alone: {base * 1000:.0f} ms")
    socks = [ask(d, f"/v1/processes/{holder_pid}/fds") for _ in range(SLOW)]
    sipped = status_while_held(d, socks, f"fds of a {len(kernel)}-fd process")
    for i, s in enumerate(socks):
        raw = read_all(s, sipped if i == 0 else b"")
        js = answer_json(raw, f"fds answer {i}")
        check("complete" not in js, f"answer {i} says it is cut: {js.get('complete')}")
        check_eq(js["pid"], holder_pid, "pid")
        model = {f["fd"]: (f["target"], f["cloexec"]) for f in js["fds"]}
        check_eq(len(js["fds"]), len(model), f"answer {i}: fds repeated")
        diff = T.table_diff(model, kernel)
        check(not diff, f"answer {i} ({len(raw)} bytes) differs from /proc ({len(diff)} fds): {diff[:10]}")
        check([f["fd"] for f in js["fds"]] == sorted(model), f"answer {i}: fds not by number")
    T.log(f"{SLOW} answers of {len(kernel)} fds each equal /proc's table "
          f"({len(raw)} bytes each), renamed and deleted files by their names now")


def case_processes(d, kids):
    deadline = time.monotonic() + 60
    while True:
        have = d.processes_by_pid()
        missing = [k for k in kids if k not in have]
        if not missing:
            break
        check(time.monotonic() < deadline, f"{len(missing)} of {len(kids)} children not in ps")
        time.sleep(0.5)
    socks = [ask(d, "/v1/processes") for _ in range(SLOW)]
    sipped = status_while_held(d, socks, f"processes ({len(have)} in the model)")
    for i, s in enumerate(socks):
        raw = read_all(s, sipped if i == 0 else b"")
        js = answer_json(raw, f"processes answer {i}")
        pids = [p["pid"] for p in js["processes"]]
        check(pids == sorted(set(pids)), f"answer {i}: pids not ascending or repeated")
        got = {p["pid"]: p for p in js["processes"]}
        missing = [k for k in kids if k not in got]
        check(not missing, f"answer {i}: {len(missing)} children missing: {missing[:10]}")
        for k in kids[:50]:
            n = len(os.listdir(f"/proc/{k}/fd"))
            check_eq(got[k]["fds"], n, f"answer {i}: fds of child {k}")
    T.log(f"{SLOW} processes answers with all {len(kids)} children ({len(raw)} bytes each)")


def case_hangups(d, holder_pid):
    before = daemon_fds(d)
    st0 = d.status()
    req = f"GET /v1/processes/{holder_pid}/fds HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    for i in range(40):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(req if i % 2 else b"GET /v1/processes HTTP/1.1\r\nHost: x\r\n\r\n")
        if i % 4 < 2:
            s.settimeout(10)
            check(s.recv(8192).startswith(b"HTTP/1.1 200 "), "no answer started")
        # else: gone at once, maybe while the names are read in the pool
        s.close()
    check(d.alive(), "fdwatchd died when clients hung up mid-answer")
    # The last clients that did not wait may still sit in the listen queue
    # while the daemon works on an earlier one's answer: counted before
    # their accept, they would show up after the count (CI: 1 -> 2). The
    # daemon accepts in order, so once a later request is answered, every
    # hang-up has been accepted.
    st1 = d.status()
    deadline = time.monotonic() + 10
    while (after := daemon_fds(d)) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    T.log(f"40 clients hung up mid-answer or before it: daemon sockets {before} -> {after}; "
          f"name refreshes skipped {st1['dropped']['name_refreshes']}")
    check(after <= before, f"daemon holds {after} sockets, {before} before the hang-ups")
    check_eq(st1["events_lost"], st0["events_lost"], "events_lost")
    # and still answers the whole table
    c = d.cli("fds", holder_pid, json_out=True, timeout=60)
    check_eq(c.returncode, 0, f"fdwatch fds after the hang-ups ({c.stderr.strip()})")
    check(len(json.loads(c.stdout)["fds"]) >= NFDS, "fdwatch fds: table cut")


def case_verify_all(d, holder_pid, kids):
    """`fdwatch verify` of every process (the holder's 19,000 fds, the
    children, the host's) while status is asked every 50 ms: each status
    within STATUS_MAX_S, and status answered several times while the check
    ran (a check built on the loop in one go answered none until its end);
    the check itself finds the model exact. Two checks at once, then a
    client that hangs up mid-check: the daemon stays up and answers."""
    cmd = [T.FDWATCH, "--socket", d.sock, "--json", "verify"]
    t0 = time.monotonic()
    v = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    v2 = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lat = []
    while v.poll() is None or v2.poll() is None:
        lat.append(timed_status(d))
        check(time.monotonic() - t0 < 240, "verify of every process did not end in 240 s")
        time.sleep(0.05)
    took = time.monotonic() - t0
    out, err = v.communicate()
    out2, err2 = v2.communicate()
    check_eq(v.returncode, 0, f"fdwatch verify exit ({err.strip()} {out[:500]})")
    check_eq(v2.returncode, 0, f"second fdwatch verify exit ({err2.strip()} {out2[:500]})")
    js = json.loads(out)
    T.log(f"verify of every process: {took:.2f}s, checked {js['checked']}, errors "
          f"{js['errors']}; status x{len(lat)} meanwhile: max {max(lat) * 1000:.0f} ms, "
          f"median {sorted(lat)[len(lat) // 2] * 1000:.0f} ms")
    check(js["checked"] >= len(kids) + 1, f"checked {js['checked']} of {len(kids) + 1}+")
    check(js["ok"], f"differences: {js['differences'][:5]}")
    check(max(lat) <= STATUS_MAX_S,
          f"status took {max(lat):.2f}s (> {STATUS_MAX_S}s) during verify: "
          f"{[round(x, 2) for x in lat]}")
    check(len(lat) >= 3, f"status answered only {len(lat)} times during a {took:.2f}s check")
    # a client that goes away mid-check
    before = daemon_fds(d)
    for _ in range(3):
        s = ask(d, "/v1/verify")
        time.sleep(0.05)
        s.close()
    check(d.alive(), "fdwatchd died when verify clients hung up mid-check")
    timed_status(d)
    deadline = time.monotonic() + 30
    while daemon_fds(d) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    check(daemon_fds(d) <= before, f"daemon holds {daemon_fds(d)} sockets, {before} before")
    c = d.verify(holder_pid)
    check_eq(c.returncode, 0, f"verify of the holder after the hang-ups ({c.stderr.strip()})")


def main(r):
    raise_nofile(NFDS + 1024)
    tmp = tempfile.mkdtemp(prefix="fdwt-large-")
    holder = forker = None
    with T.Daemon() as d:
        try:
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(NFDS), tmp],
                                      stdout=subprocess.PIPE, text=True)
            check_eq(holder.stdout.readline().strip(), "ready", "holder")
            with r.case(f"fds of a {NFDS}-fd process: status answers while slow clients "
                        "hold it; each answer equals /proc's"):
                case_fds(d, holder.pid)
            with r.case("clients hanging up mid-answer: daemon up, no fd kept"):
                case_hangups(d, holder.pid)
            forker = subprocess.Popen([sys.executable, "-c", FORKER, str(NPROCS)],
                                      stdout=subprocess.PIPE, text=True)
            kids = [int(x) for x in forker.stdout.readline().split()]
            check_eq(len(kids), NPROCS, "children forked")
            with r.case(f"processes with {NPROCS} more: status answers while slow clients "
                        "hold it; every child in each answer"):
                case_processes(d, kids)
            with r.case(f"verify of every process ({NPROCS}+ and a {NFDS}-fd one): status "
                        "answers meanwhile, each within the bound; hang-ups mid-check"):
                case_verify_all(d, holder.pid, kids)
        finally:
            for p in (holder, forker):
                if p and p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    T.run(main)
