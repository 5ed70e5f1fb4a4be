#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unprivileged user cannot grow the daemon's names without bound.

fdwatchd with --max-name-bytes 4 MiB (the histories then keep at most
1 MiB of names). The user hostileu (uid 1001; made if missing) runs
HOLDERS processes, each holding FDS fds open on files of its own in a
directory 3,500 bytes deep: every fd a distinct name of ~3,600 bytes,
~8.7 MB in all, twice the bound. Then:

- status: fd_names.bytes never passes fd_names.max_bytes (sampled while
  the fds are opened and after), fd_names.refused counts at least the fds
  that read "fdwatch:[name not kept]", and some do;
- every fd is tracked (`fdwatch fds PID` lists each with its inode's
  own name or the placeholder, nothing else), and `fdwatch verify PID`
  finds no difference in any holder (a refused name is not one);
- the holders exit: their names go, and a new holder's fds on new long
  names are all named (room again), with no more refusals.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq

USER = "hostileu"
BOUND = 4 << 20
HOLDERS = 4
FDS = 600
PLACEHOLDER = "fdwatch:[name not kept]"

# Run as `python3 -c HOLDER BASE N`: N fds on N files under BASE, 14
# directories of 250 characters deep; prints the name length, then holds
# them until its stdin closes.
HOLDER = r'''
import os, sys
base, n = sys.argv[1], int(sys.argv[2])
d = base
for i in range(14):
    d = os.path.join(d, chr(ord("a") + i) * 250)
os.makedirs(d, exist_ok=True)
fds = []
for i in range(n):
    p = os.path.join(d, "f%05d-%s" % (i, "x" * 80))
    fds.append(os.open(p, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
print(len(p), flush=True)
sys.stdin.read()
'''


def ensure_user():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        r = subprocess.run(["useradd", "-M", USER], capture_output=True, text=True)
        if r.returncode != 0:
            raise T.Skip(f"useradd -M {USER}: {r.stderr.strip()}")
        T.log(f"made the user {USER}")
    return pwd.getpwnam(USER)


def python_for_all():
    """A python3 the user may run (the test's may live under /root)."""
    for p in ("/usr/bin/python3", shutil.which("python3"), sys.executable):
        if p and os.access(p, os.X_OK) and not p.startswith("/root/"):
            return p
    raise T.Skip("no python3 outside /root for an unprivileged user")


def holder(pw, base, n):
    os.makedirs(base)
    os.chown(base, pw.pw_uid, pw.pw_gid)
    p = subprocess.Popen([python_for_all(), "-c", HOLDER, base, str(n)], user=pw.pw_uid,
                         group=pw.pw_gid, extra_groups=[], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd="/")
    return p


def names(st):
    return st["fd_names"]


def check_bound(st, what):
    n = names(st)
    check(n["bytes"] <= n["max_bytes"],
          f"{what}: fd_names.bytes {n['bytes']} past max_bytes {n['max_bytes']}")


def wait_fds(d, pid, n, timeout=60):
    """`fdwatch fds PID` once it lists n fds from 3 up (the model caught up)."""
    deadline = time.monotonic() + timeout
    while True:
        js = d.fds(pid)
        fds = [f for f in js["fds"] if f["fd"] >= 3]
        if len(fds) >= n or time.monotonic() > deadline:
            return fds
        time.sleep(0.2)


def expected_targets(pid):
    """fd -> the kernel's name, for pid's fds from 3 up."""
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        fd = int(name)
        if fd >= 3:
            try:
                out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    return out


def case_bound(d, pw, tmp):
    st0 = d.status()
    check_eq(names(st0)["max_bytes"], BOUND, "fd_names.max_bytes")
    check_eq(st0["fd_history"]["max_bytes"], BOUND // 4, "fd_history.max_bytes")
    T.log(f"before: fd_names {names(st0)}, heap {st0['memory']['heap_bytes']}")
    kids = [holder(pw, os.path.join(tmp, f"h{i}"), FDS) for i in range(HOLDERS)]
    try:
        # sample the bound while the holders open their fds
        ready = 0
        while ready < HOLDERS:
            check_bound(d.status(), "while opening")
            ready = sum(1 for k in kids if k.poll() is None and
                        os.path.exists(f"/proc/{k.pid}") and
                        len(os.listdir(f"/proc/{k.pid}/fd")) >= FDS + 3)
            dead = [k.pid for k in kids if k.poll() is not None]
            check(not dead, f"holders {dead} exited early")
            time.sleep(0.1)
        plen = [int(k.stdout.readline()) for k in kids]
        T.log(f"{HOLDERS} holders, {FDS} fds each, names of {plen[0]} bytes "
              f"({HOLDERS * FDS * (plen[0] + 1)} bytes of names)")
        kept = refused = 0
        for k in kids:
            want = expected_targets(k.pid)
            fds = wait_fds(d, k.pid, len(want))
            check_eq(sorted(f["fd"] for f in fds), sorted(want), f"fds of holder {k.pid}")
            for f in fds:
                if f["target"] == PLACEHOLDER:
                    refused += 1
                else:
                    check_eq(f["target"], want.get(f["fd"]),
                             f"holder {k.pid} fd {f['fd']}: a name neither its own nor "
                             f"the placeholder")
                    kept += 1
                check_eq(f["origin"]["syscall"], "openat", f"holder {k.pid} fd {f['fd']} origin")
                check(f["cloexec"], f"holder {k.pid} fd {f['fd']}: cloexec lost")
            c = d.verify(k.pid)
            check_eq(c.returncode, 0, f"`fdwatch verify {k.pid}` exit code (stdout: "
                                      f"{c.stdout[:300]!r})")
        st = d.status()
        check_bound(st, "holding")
        T.log(f"holding: fd_names {names(st)}, kept {kept}, refused {refused}, "
              f"heap {st['memory']['heap_bytes']} "
              f"(+{st['memory']['heap_bytes'] - st0['memory']['heap_bytes']})")
        check(refused > 0, "no fd's name was refused: the bound did nothing")
        check(kept > 0, "no holder fd was named at all")
        check(names(st)["refused"] >= refused,
              f"fd_names.refused {names(st)['refused']} < {refused} fds showing the placeholder")
        check(names(st)["bytes"] > BOUND // 2, f"fd_names.bytes {names(st)['bytes']}: "
              f"the bound was hit well below itself")
    finally:
        for k in kids:
            k.stdin.close()
            k.wait(timeout=30)


def case_room_again(d, pw, tmp):
    # the holders' names go with them (a status drains their exits)
    deadline = time.monotonic() + 30
    while names(d.status())["bytes"] > BOUND // 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    st = d.status()
    T.log(f"after the holders: fd_names {names(st)}")
    check(names(st)["bytes"] <= BOUND // 2, "the holders' names did not go")
    refused_before = names(st)["refused"]
    k = holder(pw, os.path.join(tmp, "again"), 200)
    try:
        k.stdout.readline()
        want = expected_targets(k.pid)
        fds = wait_fds(d, k.pid, len(want))
        check_eq(sorted(f["fd"] for f in fds), sorted(want), "fds of the new holder")
        bad = [f for f in fds if f["target"] != want.get(f["fd"])]
        check(not bad, f"{len(bad)} of the new holder's fds not named "
                       f"(first: {bad[0]['target'][:60] if bad else ''!r})")
        st = d.status()
        check_bound(st, "again")
        check_eq(names(st)["refused"], refused_before, "fd_names.refused with room")
    finally:
        k.stdin.close()
        k.wait(timeout=30)


def main(r):
    pw = ensure_user()
    tmp = tempfile.mkdtemp(prefix="fdwt-names-")
    os.chmod(tmp, 0o755)
    try:
        with T.Daemon(args=["--max-name-bytes", str(BOUND)]) as d:
            with r.case("names bounded, fds tracked, refusals counted"):
                case_bound(d, pw, tmp)
            with r.case("names kept again once there is room"):
                case_room_again(d, pw, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    T.run(main)
