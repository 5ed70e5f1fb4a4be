#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Lost records and whose process is whose (server/access.c,
fdw_server_records_lost, wired from the pipeline's on_lost).

An unprivileged user (nobody) floods the ring buffer until the exec record
of a setuid-root program it runs is lost. Without that record the server
would keep the user's cached owner of the process (fresh: an exec with its
owner's record refreshed it a moment before) and give the user the
program's events and fds for up to OWNER_TTL_NS (5 s). The pipeline tells
the server when it sees the loss and whose records were lost (the
kernel's per-process count), and the owners that may have changed (the
program's, whose exec record was lost) are read again before they take
the events since: the program's (and its child's, forked after the loss)
are root's; a bystander of the user's whose owner did not change keeps
its events.

The interleaving is made certain, not raced: fdwatchd runs with a 1 MiB
ring and is stopped (SIGSTOP) while a flooder writes far more than the ring
holds; only then does the user's process exec the setuid copy of python3,
which makes itself root (all uids and gids 0) and waits. The ring is full
from before the exec until the daemon is continued, so the exec record and
everything the program did before it was continued are lost (checked: no
exec event of the program in root's history). After SIGCONT and a drain
(`fdwatch status`), the program opens a file and forks a child that opens
another: new records, after the loss, whose owner is the question.

The user's view is checked three ways within the 5 s an owner stays
cached (the time since the owner's last read is logged): a follow stream
of the program's events (running through the whole loss), its history
(/v1/events?pid=), and its fds (/v1/processes/PID/fds).
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check, check_eq

NOBODY = 65534
FLOOD = 40000  # open+close pairs: megabytes of records for a 1 MiB ring

# other users cannot run a python3 under root's home (pyenv): the system's
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# The user's process, three programs in turn (one pid):
#   user:  opens DIR/before-1, says "a", waits for a line, execs python3
#          again (its exec record, with its owner, refreshes the server's
#          cached owner: the 5 s start now);
#   user2: opens DIR/before-2, says "b", waits for a line, execs the setuid
#          copy SUID;
#   root:  (euid 0) takes every uid and gid 0, says "root", waits for a
#          line, opens DIR/root-after, forks a child that opens
#          DIR/root-child (both keep them), says "opened CHILD", waits.
PROG = r'''
import ctypes, os, signal, sys, time
mode, d, py, suid = sys.argv[1:5]
def say(s):
    sys.stdout.write(s + "\n"); sys.stdout.flush()
if mode == "user":
    fd = os.open(d + "/before-1", os.O_RDONLY | os.O_CREAT, 0o644)
    say("a"); sys.stdin.readline()
    os.execv(py, [py, sys.argv[0], "user2", d, py, suid])
if mode == "user2":
    fd = os.open(d + "/before-2", os.O_RDONLY | os.O_CREAT, 0o644)
    say("b"); sys.stdin.readline()
    os.execv(suid, [suid, sys.argv[0], "root", d, py, suid])
os.setgroups([])
os.setresgid(0, 0, 0)
os.setresuid(0, 0, 0)
say("root"); sys.stdin.readline()
fd = os.open(d + "/root-after", os.O_RDONLY | os.O_CREAT, 0o600)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    cfd = os.open(d + "/root-child", os.O_RDONLY | os.O_CREAT, 0o600)
    os.write(w, b"x")
    time.sleep(600)
    os._exit(0)
os.read(r, 1)
say(f"opened {pid}"); sys.stdin.readline()
'''

# The bystander: the user's, unchanged through the loss; opens
# DIR/bystander-N every 0.1 s.
BYSTANDER = r'''
import os, sys, time
d = sys.argv[1]
print("ready", flush=True)
i = 0
while True:
    os.close(os.open(f"{d}/bystander-{i}", os.O_RDONLY | os.O_CREAT, 0o644))
    i += 1
    time.sleep(0.1)
'''

# A follower of /v1/events?follow=1&pid=PID: every byte it receives, to
# stdout, as it comes, until killed.
FOLLOWER = r'''
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(f"GET /v1/events?follow=1&pid={sys.argv[2]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
'''

USER = dict(user=NOBODY, group=NOBODY, extra_groups=[])


def get(d, target, **ids):
    out = subprocess.run(T.unix_get_cmd(PY, d.sock, target, strict=True), capture_output=True,
                         text=True, timeout=60, **ids).stdout
    r = json.loads(out)
    return r["status"], r["body"]


def uids(pid):
    with open(f"/proc/{pid}/status") as f:
        return [ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))]


def readline(p, what, timeout=30):
    fd = p.stdout.fileno()
    r, _, _ = select.select([fd], [], [], timeout)
    check(r, f"{what}: no line within {timeout}s")
    return p.stdout.readline().strip()


def main(r):
    T.wait_no_detachers()
    tmp = T.tempfile.mkdtemp(prefix="fdwt-acclost-")
    procs = []
    try:
        run_cases(r, tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run_cases(r, tmp, procs):
    os.chmod(tmp, 0o755)
    suid = os.path.join(tmp, "fdwtsuidpy")
    shutil.copy(os.path.realpath(PY), suid)
    os.chown(suid, 0, 0)
    os.chmod(suid, 0o4755)
    prog = os.path.join(tmp, "prog.py")
    with open(prog, "w") as f:
        f.write(PROG)
    os.chmod(prog, 0o644)
    files = os.path.join(tmp, "f")
    os.mkdir(files)
    os.chmod(files, 0o777)

    with T.Daemon(args=["--ringbuf-mb", "1"]) as d:
        # the user may connect (an operator's ACL, simulated with chmod)
        os.chmod(d.tmp, 0o711)
        os.chmod(d.sock, 0o666)
        by = subprocess.Popen([PY, "-c", BYSTANDER, files], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, text=True, **USER)
        procs.append(by)
        check_eq(readline(by, "bystander"), "ready", "bystander started")
        p = subprocess.Popen([PY, prog, "user", files, PY, suid], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, **USER)
        procs.append(p)
        check_eq(readline(p, "user program"), "a", "user program started")

        with r.case("before the loss: the user sees its own program"):
            deadline = time.monotonic() + 20
            while True:
                st, body = get(d, f"/v1/events?pid={p.pid}&limit=1000", **USER)
                if "before-1" in body or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            check_eq(st, 200, "the user's events of its program")
            check("before-1" in body, f"its open of before-1 missing: {body[:300]}")
            check_eq(get(d, f"/v1/processes/{p.pid}/fds", **USER)[0], 200,
                     "the user's fds of its program")

        follower = subprocess.Popen([PY, "-c", FOLLOWER, d.sock, str(p.pid)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, **USER)
        procs.append(follower)

        # the exec with its owner's record: the server's cached owner is
        # fresh from here (OWNER_TTL_NS, 5 s)
        p.stdin.write("go\n")
        p.stdin.flush()
        check_eq(readline(p, "user program"), "b", "user program exec'd itself")
        t_fresh = time.monotonic()
        deadline = time.monotonic() + 10
        while True:  # the daemon applied it, and the open after it
            evs = d.events(pid=p.pid)
            if any("before-2" in str(e.get("path", "")) for e in evs) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(any("before-2" in str(e.get("path", "")) for e in evs),
              "the daemon did not see the program's second open")

        with d.paused():
            t0 = time.monotonic()
            fl = subprocess.run([PY, "-c", "import os\nfor _ in range(%d):\n"
                                 "    os.close(os.open('/dev/null', os.O_RDONLY))" % FLOOD],
                                **USER, timeout=120)
            check_eq(fl.returncode, 0, "flooder")
            p.stdin.write("go\n")
            p.stdin.flush()
            check_eq(readline(p, "setuid program"), "root", "the setuid program ran")
            paused = time.monotonic() - t0
        st = d.status()
        T.log(f"daemon stopped {paused:.2f}s; events_lost {st.get('events_lost')}; "
              f"{time.monotonic() - t_fresh:.2f}s since the owner's exec record")
        check_eq(uids(p.pid), [["0"] * 4, ["0"] * 4], "the program's uids and gids")
        p.stdin.write("go\n")
        p.stdin.flush()
        line = readline(p, "setuid program")
        check(line.startswith("opened "), f"the program said {line!r}")
        child = int(line.split()[1])
        deadline = time.monotonic() + 10
        while True:  # root sees both opens: they are in the history
            evs = d.events(pid=p.pid)
            cevs = d.events(pid=child)
            if (any("root-after" in str(e.get("path", "")) for e in evs)
                    and any("root-child" in str(e.get("path", "")) for e in cevs)) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        # the user's view, within the 5 s the old owner stays cached
        uevents = get(d, f"/v1/events?pid={p.pid}&limit=1000", **USER)
        ufds = get(d, f"/v1/processes/{p.pid}/fds", **USER)
        ucevents = get(d, f"/v1/events?pid={child}&limit=1000", **USER)
        ucfds = get(d, f"/v1/processes/{child}/fds", **USER)
        window = time.monotonic() - t_fresh
        time.sleep(0.5)  # the follower's last bytes
        follower.send_signal(signal.SIGTERM)
        followed = follower.communicate(timeout=30)[0].decode(errors="replace")
        T.log(f"the user's view taken {window:.2f}s after the owner's exec record "
              f"(cached for 5 s); followed {len(followed)} bytes")
        if window >= 5:
            T.log("note: past the 5 s an owner stays cached: this run does not tell "
                  "the lost-record handling from the owner's expiry")

        d.check_lost(r, "flood")

        with r.case("the loss hid the setuid program's exec record"):
            check(not any(e.get("syscall") == "exec" and e.get("comm") == "fdwtsuidpy"
                          for e in evs),
                  "the exec of the setuid program is in the history: it was not lost")
            check(any("before-2" in str(e.get("path", "")) for e in evs),
                  "root's history of the program lacks before-2")
            check(any("root-after" in str(e.get("path", "")) for e in evs),
                  "root's history lacks the program's open after the loss")
            check(any("root-child" in str(e.get("path", "")) for e in cevs),
                  "root's history lacks the child's open after the loss")

        with r.case("the follow stream carried the user's events, not the setuid program's"):
            check("before-2" in followed, f"the user's own open missing from its follow stream "
                  f"({len(followed)} bytes): {followed[:300]!r}")
            check("root-after" not in followed,
                  "the setuid program's open after the loss was sent to the user's follow stream")

        with r.case("the user's history and fds of the setuid program: nothing since the loss"):
            bad = []
            st, body = uevents
            if st != 200 or "root-after" in body:
                bad.append(f"/v1/events?pid={p.pid}: {st}, root-after shown: "
                           f"{'root-after' in body}")
            if ufds[0] != 404:
                bad.append(f"/v1/processes/{p.pid}/fds: {ufds[0]} (want 404): {ufds[1][:200]}")
            st, body = ucevents
            if st != 200 or "root-child" in body:
                bad.append(f"child /v1/events?pid={child}: {st}, root-child shown: "
                           f"{'root-child' in body}")
            if ucfds[0] != 404:
                bad.append(f"child /v1/processes/{child}/fds: {ucfds[0]} (want 404): "
                           f"{ucfds[1][:200]}")
            check(not bad, "\n    ".join(bad))

        with r.case("an owner unchanged through the loss hides nothing"):
            after = min(e["seq"] for e in d.events(pid=child))  # after the loss
            rootseen = {e["seq"] for e in d.events(pid=by.pid) if e["seq"] > after}
            st, body = get(d, f"/v1/events?pid={by.pid}&limit=100000", **USER)
            check_eq(st, 200, "the user's events of its bystander")
            userseen = {e["seq"] for e in json.loads(body)["events"] if e["seq"] > after}
            check(rootseen, "the bystander made no event after the loss")
            check(rootseen <= userseen, f"{len(rootseen - userseen)} of the bystander's "
                  f"{len(rootseen)} events after the loss hidden from the user")
            check_eq(get(d, f"/v1/processes/{by.pid}/fds", **USER)[0], 200,
                     "the user's fds of its bystander")

        with r.case("the daemon is alive"):
            check(d.alive(), "fdwatchd died")
        p.stdin.write("end\n")
        p.stdin.flush()
        p.wait(timeout=30)


T.run(main)
