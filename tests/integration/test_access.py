#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Per-user access to the API (server/access.c, docs/api.md "Access").

Two real users made for the test (and removed after): fdwt_accPID, who is
not in the daemon's group, and fdwt_accmPID, a member of it by a
supplementary group only. The daemon runs with --socket-group fdwt_accgPID (a test group, so
that a real `fdwatch` group on the machine plays no part) and a metrics
listener. Three programs hold fds on files whose names say whose they are:
one of root's, two of fdwt_acc's (one a copy of python3 named
fdwtaccuser, holding 300 fds, for the metrics).

- the socket is 0660, root's, group fdwt_accg; fdwt_acc cannot connect
  until the test opens it to others (an operator's ACL, simulated with a
  chmod);
- fdwt_acc sees its own processes, their fds and events, and nothing of
  root's: /v1/processes, /v1/processes/PID/fds[/FD], /v1/events (whole
  history and ?pid=), a follow stream while both programs open new files,
  /v1/verify, /v1/leaks; a pid of root's answers exactly like a pid that
  does not exist (404, same text); /v1/status has only its own figures;
- a process root started that dropped every uid to fdwt_acc's without an
  exec is fdwt_acc's exactly when the kernel lets fdwt_acc read its
  /proc/PID/fd (not while it is not dumpable; yes once it made itself
  dumpable again), and the open it did as root is never shown;
- a process in a user namespace is the user's exactly when the user owns
  the namespace (unshare -r), not when root made it, though the process
  runs as the user's uid (PrivateUsers=yes with User=, a setuid sandbox):
  as the kernel shows /proc/PID/fd;
- a process of the user's uid whose gids are another gid (User= with
  Group=, setpriv --regid) is shown to a client of that uid only when the
  client's gid (SO_PEERCRED's; supplementary groups play no part) is the
  process's gid: hidden from the user's own gid, shown to the same uid
  with the process's gid, as the kernel lets each read its /proc/PID/fd
  links; one such process there before the daemon started (its owner
  read at start-up), one started after (the exec record's owner), each
  checked soon after and once more after the server re-read it;
- fdwt_accm and root see everything (status with every figure, root's
  process and file names);
- /metrics names root's command and counts fdwt_acc's under "_user".
"""

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import urllib.request

import fdwtest as T
import test_leaks_helpers as H
from fdwtest import check, check_eq

# names of this run's own (two runs at once must not remove each other's)
USER = f"fdwt_acc{os.getpid()}"
MEMBER = f"fdwt_accm{os.getpid()}"
GROUP = f"fdwt_accg{os.getpid()}"

HOLDER = r'''
import os, sys, time
path, n, more = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fds = [os.open(path, os.O_RDONLY | os.O_CREAT, 0o644) for _ in range(n)]
print("ready", flush=True)
i = 0
while True:
    # a new file now and then: events for the follow streams
    fd = os.open(f"{more}-{i % 4}", os.O_RDONLY | os.O_CREAT, 0o644)
    os.close(fd)
    i += 1
    time.sleep(0.2)
'''

# Started as root: opens argv[1], drops every gid and uid to argv[3] and
# argv[2] (no exec), then, when argv[4] is 1, makes itself dumpable again.
DROPPER = r'''
import ctypes, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o600)
uid, gid = int(sys.argv[2]), int(sys.argv[3])
os.setgroups([])
os.setresgid(gid, gid, gid)
os.setresuid(uid, uid, uid)
if sys.argv[4] == "1":
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
print("ready", flush=True)
time.sleep(600)
'''

# Started as root: a child in a user namespace that root makes (owned by
# root), uid and gid maps argv[1] and argv[2] ("0 0 1,1001 1001 1"), where
# it takes uid and gid argv[3] and argv[4] and execs argv[5:]: a service
# with PrivateUsers=yes and User= (argv[3] the user's uid) or a setuid
# sandbox. Prints the child's pid; the child's output follows.
# Started as root: drops every gid and uid to argv[3] and argv[2] (no
# exec) keeping CAP_SETUID and CAP_SETGID for a moment, sets its
# file-system uid and gid to 0 with them, drops every capability, makes
# itself dumpable again, opens argv[1] (a file anyone may read), and opens
# and closes it again every 0.2 s: events after the server's re-read.
FSHELD = r'''
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("eff", ctypes.c_uint32), ("prm", ctypes.c_uint32), ("inh", ctypes.c_uint32)]
def capset(bits):
    d = (Data * 2)()
    d[0].eff = d[0].prm = bits
    if libc.capset(ctypes.byref(Hdr(0x20080522, 0)), d) != 0:
        sys.exit(f"capset: errno {ctypes.get_errno()}")
uid, gid = int(sys.argv[2]), int(sys.argv[3])
os.setgroups([])
os.setresgid(gid, gid, gid)
libc.prctl(8, 1, 0, 0, 0)  # PR_SET_KEEPCAPS
os.setresuid(uid, uid, uid)
capset((1 << 6) | (1 << 7))  # CAP_SETGID, CAP_SETUID
libc.setfsuid(0)
libc.setfsgid(0)
capset(0)
libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
fd = os.open(sys.argv[1], os.O_RDONLY)
print("ready", flush=True)
while True:
    os.close(os.open(sys.argv[1], os.O_RDONLY))
    time.sleep(0.2)
'''

NSHELD = r'''
import ctypes, os, sys
r1, w1 = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:  # CLONE_NEWUSER
        os._exit(3)
    os.write(w1, b"u")
    os.read(r2, 1)
    os.setresgid(*[int(sys.argv[4])] * 3)
    os.setresuid(*[int(sys.argv[3])] * 3)
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    os.execv(sys.argv[5], sys.argv[5:])
os.read(r1, 1)
with open(f"/proc/{pid}/uid_map", "w") as f:
    f.write(sys.argv[1].replace(",", "\n") + "\n")
with open(f"/proc/{pid}/setgroups", "w") as f:
    f.write("deny\n")
with open(f"/proc/{pid}/gid_map", "w") as f:
    f.write(sys.argv[2].replace(",", "\n") + "\n")
print(pid, flush=True)
os.write(w2, b"g")
os.waitpid(pid, 0)
'''

# other users cannot run a python3 under root's home (pyenv): the system's
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def make_users():
    cleanup_users()
    for cmd in (["groupadd", GROUP],
                ["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", USER],
                ["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-G", GROUP, MEMBER]):
        c = sh(*cmd)
        check(c.returncode == 0, f"{' '.join(cmd)}: {c.stderr.strip()}")


def cleanup_users():
    for u in (USER, MEMBER):
        sh("pkill", "-KILL", "-u", u)
        sh("userdel", u)
    sh("groupdel", GROUP)


def as_user(user, *args, **kw):
    pw = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    return subprocess.Popen(list(args), user=pw.pw_uid, group=pw.pw_gid, extra_groups=groups,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, **kw)


# GETs as another user: T.UNIX_GET, lenient (a refused connect is status
# -errno); with `follow` SECONDS, the stream's bytes.
def get(d, user, target, follow=0):
    if user == "root":
        cmd = T.unix_get_cmd(sys.executable, d.sock, target, follow)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    else:
        p = as_user(user, *T.unix_get_cmd(PY, d.sock, target, follow))
        out, _ = p.communicate(timeout=60)
    r = json.loads(out)
    return r["status"], r["body"]


def get_ids(d, uid, gid, target):
    """GET as uid and gid exactly, no supplementary group."""
    p = subprocess.Popen(T.unix_get_cmd(PY, d.sock, target), user=uid, group=gid,
                         extra_groups=[], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         text=True)
    out, _ = p.communicate(timeout=60)
    r = json.loads(out)
    return r["status"], r["body"]


def kernel_view(uid, gid, pid):
    """What the kernel lets uid:gid (no supplementary group) read of
    /proc/PID/fd: (the directory lists, the links' targets as ls -l shows)."""
    ids = dict(user=uid, group=gid, extra_groups=[], stdin=subprocess.DEVNULL,
               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ls = subprocess.run(["ls", f"/proc/{pid}/fd"], timeout=30, **ids)
    lsl = subprocess.run(["ls", "-l", f"/proc/{pid}/fd"], timeout=30, **ids)
    return ls.returncode == 0, lsl.stdout


def compare_views(d, uid, gid, pid, path, expected, label):
    """What uid:gid (no supplementary group) is shown of `pid`, which holds
    `path`: /proc/PID/fd's links by the kernel (as `expected` says: True,
    the process is theirs), and by the API exactly as by the kernel: its
    fds (200 with `path`, or 404 without), its place in /v1/processes, its
    opens in its events. Returns every disagreement, not only the first."""
    lists, links = kernel_view(uid, gid, pid)
    kernel_shows = path in links
    st, body = get_ids(d, uid, gid, f"/v1/processes/{pid}/fds")
    listed = f'"pid":{pid},' in get_ids(d, uid, gid, "/v1/processes")[1].replace(" ", "")
    events = path in get_ids(d, uid, gid, f"/v1/events?pid={pid}&limit=1000")[1]
    T.log(f"{label}, client {uid}:{gid}: kernel lists {lists}, shows links {kernel_shows}; "
          f"API fds {st}, listed {listed}, events {events}")
    bad = []
    if kernel_shows != expected:
        bad.append(f"{label}: the kernel shows {uid}:{gid} /proc/{pid}/fd links: {kernel_shows}")
    if (st, path in body) != ((200, True) if kernel_shows else (404, False)):
        bad.append(f"{label}: API fds of {pid} to {uid}:{gid}: {st} ({body[:120]}), "
                   f"the kernel shows {kernel_shows}")
    if listed != kernel_shows:
        bad.append(f"{label}: {pid} listed to {uid}:{gid}: {listed}, the kernel shows {kernel_shows}")
    if events != kernel_shows:
        bad.append(f"{label}: its opens in the events of {uid}:{gid}: {events}, "
                   f"the kernel shows {kernel_shows}")
    return bad


def free_gid():
    g = 43210
    while True:
        try:
            grp.getgrgid(g)
        except KeyError:
            return g
        g += 1


def get_json(d, user, target, want=200):
    st, body = get(d, user, target)
    check_eq(st, want, f"{user} GET {target} status ({body[:300]})")
    return json.loads(body) if body.strip().startswith("{") else body


def owner(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return set(int(x) for x in line.split()[1:])
    return set()


def free_pid():
    pid = 4000000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


def main(r):
    make_users()
    try:
        run_cases(r)
    finally:
        cleanup_users()


def run_cases(r):
    uid = pwd.getpwnam(USER).pw_uid
    gid = grp.getgrnam(GROUP).gr_gid
    tmp = T.tempfile.mkdtemp(prefix="fdwt-access-")
    os.chmod(tmp, 0o755)
    pyuser = os.path.join(tmp, "fdwtaccuser")
    shutil.copy(os.path.realpath(PY), pyuser)
    os.chmod(pyuser, 0o755)
    userdir = os.path.join(tmp, "u")
    os.mkdir(userdir)
    os.chown(userdir, uid, -1)
    rootsecret = os.path.join(tmp, "root-secret-file")
    usersecret = os.path.join(userdir, "user-own-file")
    procs = []
    port = H.free_port()
    args = ["--socket-group", GROUP, "--metrics-listen", f"127.0.0.1:{port}"]
    # the user's uid with a gid that is not the user's (User= with Group=),
    # one there before the daemon starts
    othergid = free_gid()
    gidprocs = {}

    def start_gid_holder(when):
        path = os.path.join(userdir, f"othergid-{when}")
        sp = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={othergid}", "--clear-groups",
                               PY, "-c", HOLDER, path, "5", os.path.join(userdir, f"othergid-{when}-more")],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        procs.append(sp)
        check_eq(sp.stdout.readline().strip(), "ready", f"othergid holder {when} started")
        gidprocs[when] = (sp.pid, path)

    try:
        start_gid_holder("before")
        with T.Daemon(args=args) as d:
            # root's holder, then two of the user's (one named for the metrics)
            rp = subprocess.Popen([sys.executable, "-c", HOLDER, rootsecret, "300",
                                   os.path.join(tmp, "root-more")],
                                  stdout=subprocess.PIPE, text=True)
            procs.append(rp)
            up = as_user(USER, pyuser, "-c", HOLDER, usersecret, "300",
                         os.path.join(userdir, "user-more"))
            procs.append(up)
            for p in (rp, up):
                check_eq(p.stdout.readline().strip(), "ready", "holder started")
            time.sleep(1.5)
            missing = free_pid()

            with r.case("socket: 0660 root:group, closed to others"):
                st = os.stat(d.sock)
                check_eq(oct(st.st_mode & 0o7777), oct(0o660), "socket mode")
                check_eq((st.st_uid, st.st_gid), (0, gid), "socket owner")
                os.chmod(d.tmp, 0o711)
                status, body = get(d, USER, "/v1/status")
                check(status < 0, f"a non-member connected to a 0660 socket: {status} {body}")
                # the member connects by its supplementary group
                check_eq(get(d, MEMBER, "/v1/status")[0], 200, "member status")
                # the operator lets every user in (an ACL would do the same)
                os.chmod(d.sock, 0o666)

            with r.case("user: /v1/processes shows only its own"):
                doc = get_json(d, USER, "/v1/processes")
                pids = [p["pid"] for p in doc["processes"]]
                check(up.pid in pids, f"its own process {up.pid} missing: {pids}")
                check(rp.pid not in pids, f"root's process {rp.pid} shown")
                for p in pids:
                    if os.path.exists(f"/proc/{p}"):
                        check_eq(owner(p), {uid}, f"owner of listed pid {p}")
                T.log(f"user sees {len(pids)} processes")

            with r.case("user: pid routes, root's pid like a missing one"):
                doc = get_json(d, USER, f"/v1/processes/{up.pid}/fds")
                check(any(f["target"] == usersecret for f in doc["fds"]), "own file missing")
                fd = next(f["fd"] for f in doc["fds"] if f["target"] == usersecret)
                check_eq(get_json(d, USER, f"/v1/processes/{up.pid}/fds/{fd}")["fd"]["target"],
                         usersecret, "own fd")
                for tail in ("/fds", "/fds/3", f"/fds/{fd}"):
                    s1, b1 = get(d, USER, f"/v1/processes/{rp.pid}{tail}")
                    s2, b2 = get(d, USER, f"/v1/processes/{missing}{tail}")
                    check_eq(s1, 404, f"root's pid {tail}")
                    check_eq((s1, b1.replace(str(rp.pid), "N")), (s2, b2.replace(str(missing), "N")),
                             f"root's pid answered unlike a missing one ({tail})")
                    check("root-secret" not in b1, "root's file named")
                s1, b1 = get(d, USER, f"/v1/verify?pid={rp.pid}")
                s2, b2 = get(d, USER, f"/v1/verify?pid={missing}")
                check_eq((s1, b1.replace(str(rp.pid), "N")), (s2, b2.replace(str(missing), "N")),
                         "verify of root's pid vs a missing one")
                check_eq(get(d, USER, "/v1/verify")[0], 403, "verify of every process")
                check("checked" in get_json(d, USER, f"/v1/verify?pid={up.pid}"), "own verify")
                doc = get_json(d, USER, f"/v1/leaks?pid={rp.pid}")
                check_eq(set(doc), {"alerts"}, f"leaks of root's pid: {doc}")

            with r.case("user: events, history and follow"):
                follower = as_user(USER, *T.unix_get_cmd(PY, d.sock,
                                                         "/v1/events?follow=1&limit=1000", 4))
                body = get(d, USER, "/v1/events?limit=100000")[1]
                check("root-secret" not in body and "root-more" not in body,
                      "root's files in the user's events")
                evs = json.loads(body)["events"]
                check(any(e.get("path", "").startswith(os.path.join(userdir, "user-more"))
                          for e in evs), "its own opens missing from the history")
                bad = [e for e in evs if e["pid"] == rp.pid]
                check(not bad, f"root's events shown: {bad[:2]}")
                check_eq(get_json(d, USER, f"/v1/events?pid={rp.pid}")["events"], [],
                         "events of root's pid")
                out, _ = follower.communicate(timeout=60)
                res = json.loads(out)
                check_eq(res["status"], 200, "follow status")
                lines = [json.loads(x) for x in res["body"].splitlines() if x.strip()]
                check(any(str(e.get("path", "")).startswith(os.path.join(userdir, "user-more"))
                          for e in lines), f"own live opens missing from follow ({len(lines)} lines)")
                check("root-secret" not in res["body"] and "root-more" not in res["body"],
                      "root's files in the user's follow stream")
                check(all(e["pid"] != rp.pid for e in lines), "root's pid in the follow stream")
                T.log(f"user: {len(evs)} events in the history, {len(lines)} followed")

            with r.case("user: status has only its own figures"):
                st = get_json(d, USER, "/v1/status")
                check_eq(st.get("scope"), "own", "scope")
                for k in ("events_received", "events_lost", "tables", "history", "dropped"):
                    check(k not in st, f"{k} shown to an unprivileged user")
                mine = len(get_json(d, USER, "/v1/processes")["processes"])
                check_eq(st["processes"], mine, "own process count")
                check(st["fds"] >= 300, f"own fds {st['fds']}")

            with r.case("user: the CLI works with what it may see"):
                for args in (["status"], ["ps"], ["--json", "ps"], ["fds", str(up.pid)]):
                    p = as_user(USER, T.FDWATCH, "--socket", d.sock, *args)
                    out, _ = p.communicate(timeout=60)
                    check_eq(p.returncode, 0, f"fdwatch {' '.join(args)} as {USER}: {out[-300:]}")
                    check(str(rp.pid) not in out.split() and "root-secret" not in out,
                          f"fdwatch {' '.join(args)} shows root's process")
                p = as_user(USER, T.FDWATCH, "--socket", d.sock, "fds", str(rp.pid))
                p.communicate(timeout=60)
                check(p.returncode != 0, "fdwatch fds of root's pid succeeded")

            with r.case("user: /v1/races shows only its own findings"):
                race = os.path.join(tmp, "fdw_race")
                shutil.copy(os.path.join(T.PROGS, "fdw_race"), race)
                os.chmod(race, 0o755)
                spams = []
                for who in ("root", USER):
                    pw = pwd.getpwnam(who)
                    sp = subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                                           "--clear-groups", race, "spam", "50"],
                                          stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
                    spams.append(sp)
                    procs.append(sp)
                    check(sp.stdout.readline().decode().startswith("CP spam"), f"{who}'s spam ran")
                rootspam, userspam = spams
                deadline = time.monotonic() + 30
                pids = set()
                while time.monotonic() < deadline:
                    doc = get_json(d, "root", "/v1/races")
                    pids = {a["pid"] for a in doc["races"]}
                    if {rootspam.pid, userspam.pid} <= pids:
                        break
                    time.sleep(0.5)
                check({rootspam.pid, userspam.pid} <= pids, f"root sees both findings: {pids}")
                doc = get_json(d, USER, "/v1/races")
                upids = {a["pid"] for a in doc["races"]}
                check(userspam.pid in upids, f"the user's own finding missing: {upids}")
                check(rootspam.pid not in upids, f"root's finding shown to the user: {upids}")
                doc = get_json(d, USER, f"/v1/races?pid={rootspam.pid}")
                check_eq(doc["races"], [], "races of root's pid")

            with r.case("user: a process that dropped to the user's uid is the user's as /proc says"):
                # root opens a file, then drops every uid and gid to the
                # user's, without an exec: the kernel makes it not dumpable
                # (its /proc files root's) and hides its fds from the user
                # unless it asks to be dumpable again. The API must agree.
                dropped = {}
                for dumpable in (False, True):
                    sp = subprocess.Popen(
                        [sys.executable, "-c", DROPPER, rootsecret, str(uid),
                         str(pwd.getpwnam(USER).pw_gid), "1" if dumpable else "0"],
                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
                    procs.append(sp)
                    check_eq(sp.stdout.readline().strip(), "ready", "dropper started")
                    dropped[dumpable] = sp
                # the server re-reads a known owner after 5 s
                time.sleep(6)
                for dumpable, sp in dropped.items():
                    check_eq(owner(sp.pid), {uid}, f"dropper {sp.pid} uids")
                    ls = as_user(USER, "ls", f"/proc/{sp.pid}/fd", stderr=subprocess.DEVNULL)
                    ls.communicate(timeout=30)
                    kernel_shows = ls.returncode == 0
                    check_eq(kernel_shows, dumpable, f"the kernel shows the user /proc/{sp.pid}/fd")
                    st, body = get(d, USER, f"/v1/processes/{sp.pid}/fds")
                    check_eq(st == 200, kernel_shows,
                             f"API shows the user the fds of {'a dumpable' if dumpable else 'a non-dumpable'}"
                             f" dropper {sp.pid} ({st}: {body[:200]})")
                    body = get(d, USER, f"/v1/events?pid={sp.pid}&limit=1000")[1]
                    check("root-secret" not in body,
                          f"the open done as root shown to the user: {body[:300]}")
                    body = get(d, USER, "/v1/processes")[1]
                    check_eq(f'"pid":{sp.pid},' in body.replace(" ", ""), kernel_shows,
                             f"dropper {sp.pid} listed to the user")

            with r.case("user: a process's file-system uid and gid play no part, as for the kernel"):
                # ptrace_may_access compares the caller's ids with the
                # real, effective and saved ones: a process of the user's
                # uid and gid whose file-system ids are root's (setfsuid,
                # setfsgid: a file server acting for another user), made
                # dumpable again, is the user's
                ugid = pwd.getpwnam(USER).pw_gid
                fspath = os.path.join(tmp, "fsuid-file")
                with open(fspath, "w") as f:
                    f.write("x")
                os.chmod(fspath, 0o644)
                sp = subprocess.Popen([sys.executable, "-c", FSHELD, fspath, str(uid), str(ugid)],
                                      stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
                procs.append(sp)
                check_eq(sp.stdout.readline().strip(), "ready", "fsuid holder started")
                with open(f"/proc/{sp.pid}/status") as f:
                    ids = [ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))]
                check_eq(ids, [[str(uid)] * 3 + ["0"], [str(ugid)] * 3 + ["0"]],
                         f"fsuid holder {sp.pid} ids")
                # the server re-reads an owner known from the exec (root's) after 5 s,
                # when asked; the change came without an exec (setresuid), so only
                # events after that read are the user's: ask once, then let the
                # holder open its file again (every 0.2 s) before comparing (the
                # events of the comparison were a few ms after the read: a flake)
                time.sleep(6.5)
                get_ids(d, uid, ugid, f"/v1/processes/{sp.pid}/fds")
                time.sleep(0.6)
                bad = compare_views(d, uid, ugid, sp.pid, fspath, True, "fsuid holder")
                check(not bad, "\n    ".join(bad))

            with r.case("user: a process in a user namespace is its owner's, as the kernel has it"):
                # the owner of the outermost namespace has CAP_SYS_PTRACE
                # in it, any other uid is refused its fds, the process's
                # own uid too: a PrivateUsers=yes service with User= the
                # user's (root made the namespace), or root's namespace
                # whose root is the user's uid, are not the user's; the
                # user's own namespace (unshare -r, a rootless container)
                # is. Checked once soon after the exec (the probe's owner)
                # and once more after the server re-read it from /proc.
                ugid = pwd.getpwnam(USER).pw_gid
                nsprocs = {}
                for name, mine in (("privateusers", False), ("rootsns", False), ("ownns", True)):
                    path = os.path.join(userdir, f"userns-{name}")
                    holder = [PY, "-c", HOLDER, path, "5", os.path.join(userdir, f"userns-{name}-more")]
                    if name == "ownns":
                        sp = as_user(USER, "unshare", "-Ur", *holder)
                        pid = sp.pid
                    else:
                        maps = ((f"0 0 1,{uid} {uid} 1", f"0 0 1,{ugid} {ugid} 1", uid, ugid)
                                if name == "privateusers" else
                                (f"0 {uid} 1", f"0 {ugid} 1", 0, 0))
                        sp = subprocess.Popen([sys.executable, "-c", NSHELD, *map(str, maps), *holder],
                                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
                        pid = int(sp.stdout.readline())
                    procs.append(sp)
                    check_eq(sp.stdout.readline().strip(), "ready", f"{name} holder started")
                    check(os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user"),
                          f"{name}: not in a namespace of its own")
                    check_eq(owner(pid), {uid}, f"{name} holder {pid} uids")
                    nsprocs[name] = (pid, path, mine)
                bad = []  # every disagreement, not only the first
                for when in ("after its exec", "after a re-read"):
                    time.sleep(1.5 if when == "after its exec" else 6)
                    for name, (pid, path, mine) in nsprocs.items():
                        # the user's uid and gid: it is in no other group
                        bad += compare_views(d, uid, ugid, pid, path, mine, f"{name} {when}")
                check(not bad, "\n    ".join(bad))

            with r.case("user: a process of the user's uid and another gid is the user's for that gid only"):
                # ptrace_may_access: the caller's uid is the process's
                # real, effective and saved uids, and its gid the
                # process's gids (its supplementary groups do not count).
                # The user's own gid is refused the links of /proc/PID/fd
                # (the directory still lists: its mode says the euid),
                # the same uid with the process's gid is not.
                ugid = pwd.getpwnam(USER).pw_gid
                check(ugid != othergid, "the user's gid is not the other one")
                start_gid_holder("after")
                bad = []  # every disagreement, not only the first
                for when in ("soon after", "after a re-read"):
                    time.sleep(1.5 if when == "soon after" else 6)
                    for name, (pid, path) in gidprocs.items():
                        with open(f"/proc/{pid}/status") as f:
                            ids = [ln.split()[1:4] for ln in f if ln.startswith(("Uid:", "Gid:"))]
                        check_eq(ids, [[str(uid)] * 3, [str(othergid)] * 3], f"{name} holder {pid} ids")
                        for cgid, mine in ((ugid, False), (othergid, True)):
                            bad += compare_views(d, uid, cgid, pid, path, mine,
                                                 f"{name} holder {when}")
                check(not bad, "\n    ".join(bad))

            with r.case("member and root see everything"):
                for who in (MEMBER, "root"):
                    doc = get_json(d, who, f"/v1/processes/{rp.pid}/fds")
                    check(any(f["target"] == rootsecret for f in doc["fds"]), f"{who}: root's file")
                    st = get_json(d, who, "/v1/status")
                    check("events_received" in st and "scope" not in st, f"{who}: full status")
                    body = get(d, who, f"/v1/events?pid={rp.pid}&limit=1000")[1]
                    check("root-more" in body, f"{who}: root's events")

            with r.case("metrics: other users' commands not named"):
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                check("fdwtaccuser" not in text, "the user's command named in /metrics")
                check('command="_user"' in text, "no _user group")
                check('command="python3' in text or 'command="fdwatchd"' in text,
                      "root's commands not named either")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


T.run(main)
