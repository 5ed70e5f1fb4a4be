#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A slot's history shows an unprivileged user only what its process did
while it was the user's (docs/api.md, Access).

GET /v1/processes/PID/fds/FD answers with the slot's earlier generations
(target, which syscall opened and closed each, when). A root program that
opens files and then drops to a user and execs (su, cron, a login, any
privilege-separated worker) keeps its table, and so the slot histories of
its root days: GET /v1/events hides those opens from the user (the process
was root's then), and the history must hide them too.

The program here, as root: opens a root-only file of the test at fd 40
close-on-exec (the exec closes it) and another at fd 41 that it closes,
takes uid and gid nobody, execs python3, which (as nobody now) opens and
closes a file of its own at fd 42 and waits. Root sees all three
histories (the setup works); nobody, via its own client, sees its own
generation at fd 42 and none of root's at 40 and 41.

A race alert's evidence names the generation it hit, the same thing: the
program's second thread then closes fd 40 again (EBADF, a double close
of what the exec closed). Root's alert names root's file; the user's
alert, in every answer that carries it (/v1/races and /v1/leaks, with and
without ?pid=, the backlog of ?follow=1 and a follower's live line), says
the generation is hidden and names no file of root's. The same alert
holds a double close root's program did itself before the drop (fd 45):
the user sees that finding as hidden, with no thread, syscall or time, and
a summary that names no thread of root's days.
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time

import fdwtest as T
from fdwtest import check, check_eq

NOBODY = 65534
USER = dict(user=NOBODY, group=NOBODY, extra_groups=[])
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# argv: secret-1 secret-2 own-file; as root, then exec'd as nobody ("user")
PROG = r'''
import os, sys, threading, time
def close_in_thread(fd):  # a second thread closes fd (again: EBADF)
    def close():
        try:
            os.close(fd)
        except OSError:
            pass
    t = threading.Thread(target=close)
    t.start()
    t.join()
if sys.argv[1] == "root":
    a = os.open(sys.argv[2], os.O_RDONLY | os.O_CLOEXEC)
    os.dup2(a, 40, inheritable=False)
    os.close(a)
    b = os.open(sys.argv[3], os.O_RDONLY)
    os.dup2(b, 41)
    os.close(b)
    os.close(41)
    k = os.open(sys.argv[2], os.O_RDONLY)
    os.dup2(k, 43)
    os.close(k)
    if sys.argv[6:] == ["root-race"]:
        # a double close of root's own, by a second thread
        z = os.open(sys.argv[2], os.O_RDONLY)
        os.dup2(z, 45)
        os.close(z)
        os.close(45)
        close_in_thread(45)
        time.sleep(1.5)  # its alert fires while the program is root's
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[5], "user"] + sys.argv[2:5])
else:
    c = os.open(sys.argv[4], os.O_RDONLY)
    os.dup2(c, 42)
    os.close(c)
    os.close(42)
    m = os.open(sys.argv[4], os.O_RDONLY)
    os.dup2(m, 44)
    os.close(m)
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "race":
        close_in_thread(40)
        print("raced", flush=True)
        sys.stdin.readline()
'''


def get(d, target, **ids):
    return T.unix_get_json(PY, d.sock, target, **ids)


def history_targets(doc):
    return [h.get("target") for h in doc.get("history", [])]


def double_close(doc, pid):
    return [a for a in doc.get("races", doc.get("alerts", []))
            if a.get("kind") == "double-close" and a.get("pid") == pid]


def race_cases(r, d, p, secret1, secret2):
    secrets = (secret1, secret2)
    # a follower of the user's, there before the alert fires: the live line
    live = subprocess.Popen(T.unix_get_cmd(PY, d.sock, "/v1/races?follow=1", follow=12),
                            stdout=subprocess.PIPE, text=True, **USER)
    time.sleep(1.5)
    p.stdin.write("race\n")
    p.stdin.flush()
    check_eq(p.stdout.readline().strip(), "raced", "the second thread closed fd 40")

    with r.case("root's double-close alert names root's file (the setup made it)"):
        found, end = [], time.monotonic() + 20
        while not found and time.monotonic() < end:
            st, doc = get(d, f"/v1/races?pid={p.pid}")
            found = double_close(doc, p.pid)
            time.sleep(0.3)
        check(found, f"no double-close alert of pid {p.pid}")
        fs = found[0]["evidence"]["findings"] if found else []
        check(any(f.get("fd") == 40 and (f.get("generation") or {}).get("target") == secret1
                  for f in fs), f"root: the finding names {secret1}: {json.dumps(fs)[:600]}")

    with r.case("the user's alert hides the generation root made"):
        bad = []
        for target in (f"/v1/races?pid={p.pid}", "/v1/races", f"/v1/leaks?pid={p.pid}",
                       "/v1/leaks"):
            st, doc = get(d, target, **USER)
            mine = double_close(doc, p.pid)
            text = json.dumps(mine)
            if st != 200 or not mine:
                bad.append(f"{target}: {st}, the user's alert missing")
            elif any(s in text for s in secrets):
                bad.append(f"{target}: root's file shown to the user: {text[:600]}")
            elif not all((f.get("generation") or {}).get("hidden")
                         for f in mine[0]["evidence"]["findings"] if f.get("fd") == 40):
                bad.append(f"{target}: not marked hidden: {text[:600]}")
            elif re.search(rf"\bthread {p.pid}\b", mine[0].get("summary", "")):
                # the exec (the main thread) closed fd 40 in root's days
                bad.append(f"{target}: the summary names the thread that closed root's file: "
                           f"{mine[0].get('summary')!r}")
        out = subprocess.run(T.unix_get_cmd(PY, d.sock, "/v1/leaks?follow=1", follow=2),
                             capture_output=True, text=True, timeout=60, **USER).stdout
        body = json.loads(out)["body"]
        if f'"pid": {p.pid}' not in body.replace('"pid":', '"pid": ') or \
                "double-close" not in body:
            bad.append(f"the follow backlog lacks the alert: {body[:300]}")
        if any(s in body for s in secrets):
            bad.append(f"the follow backlog shows root's file: {body[:600]}")
        cli = subprocess.run([T.FDWATCH, "--socket", d.sock, "races", "-p",
                              str(p.pid)], capture_output=True, text=True, timeout=60, **USER)
        if cli.returncode != 0 or "(hidden)" not in cli.stdout or \
                any(s in cli.stdout for s in secrets):
            bad.append(f"fdwatch races as the user: rc {cli.returncode}, {cli.stdout[:400]!r} "
                       f"{cli.stderr[:200]!r}")
        body = json.loads(live.communicate(timeout=60)[0])["body"]
        if "double-close" not in body:
            bad.append(f"the live follower got no alert: {body[:300]}")
        if any(s in body for s in secrets):
            bad.append(f"the live follower was shown root's file: {body[:600]}")
        check(not bad, "\n    ".join(bad))


def root_race_case(r, d, secret1, secret2, own):
    """A double close root's program did itself before the drop (fd 45),
    then the user's (fd 40): one alert, the user's now."""
    p = subprocess.Popen([PY, "-c", PROG, "root", secret1, secret2, own, PROG, "root-race"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        check_eq(p.stdout.readline().strip(), "ready", "the program dropped to nobody")
        p.stdin.write("race\n")
        p.stdin.flush()
        check_eq(p.stdout.readline().strip(), "raced", "the second thread closed fd 40")
        fs, end = [], time.monotonic() + 20
        while time.monotonic() < end:
            st, doc = get(d, f"/v1/races?pid={p.pid}")
            found = double_close(doc, p.pid)
            fs = found[0]["evidence"]["findings"] if found else []
            if {40, 45} <= {f.get("fd") for f in fs}:
                break
            time.sleep(0.3)
        with r.case("root sees root's own double close and the user's (the setup made them)"):
            check({40, 45} <= {f.get("fd") for f in fs} and
                  all(f.get("tid") for f in fs if f.get("fd") == 45),
                  f"root: findings of fds 40 and 45: {json.dumps(fs)[:800]}")
        # the threads of root's days: fd 45's closers; the exec closed fd 40
        root_tids = {p.pid} | {f.get("tid") for f in fs if f.get("fd") == 45}
        with r.case("the user sees neither root's double close nor its threads"):
            bad = []
            for target in (f"/v1/races?pid={p.pid}", "/v1/races", f"/v1/leaks?pid={p.pid}",
                           "/v1/leaks"):
                st, doc = get(d, target, **USER)
                mine = double_close(doc, p.pid)
                if st != 200 or not mine:
                    bad.append(f"{target}: {st}, the user's alert missing")
                    continue
                ufs = mine[0]["evidence"]["findings"]
                root_days = [f for f in ufs if f.get("fd") == 45]
                if not root_days or any(not f.get("hidden") or f.get("tid") is not None or
                                        f.get("time") is not None or f.get("syscall") is not None
                                        for f in root_days):
                    bad.append(f"{target}: root's own double close of fd 45 shown: "
                               f"{json.dumps(root_days)[:600]}")
                if not any(f.get("fd") == 40 and f.get("tid") for f in ufs):
                    bad.append(f"{target}: the user's own finding at fd 40 missing: "
                               f"{json.dumps(ufs)[:600]}")
                summary = mine[0].get("summary", "")
                if any(re.search(rf"\bthread {t}\b", summary) for t in root_tids) or \
                        "(hidden)" not in summary:
                    bad.append(f"{target}: the summary names a thread of root's days "
                               f"{sorted(root_tids)}: {summary!r}")
            check(not bad, "\n    ".join(bad))
    finally:
        p.kill()
        p.wait()


def main(r):
    tmp = T.tempfile.mkdtemp(prefix="fdwt-acchist-")
    p = None
    try:
        os.chmod(tmp, 0o755)
        secret1 = os.path.join(tmp, "root-secret-1")
        secret2 = os.path.join(tmp, "root-secret-2")
        own = os.path.join(tmp, "users-own")
        for path, mode in ((secret1, 0o600), (secret2, 0o600), (own, 0o644)):
            with open(path, "w") as f:
                f.write("x\n")
            os.chmod(path, mode)
        with T.Daemon() as d:
            # the user may connect (an operator's ACL, simulated with chmod)
            os.chmod(d.tmp, 0o711)
            os.chmod(d.sock, 0o666)
            p = subprocess.Popen([PY, "-c", PROG, "root", secret1, secret2, own, PROG],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            check_eq(p.stdout.readline().strip(), "ready", "the program dropped to nobody")
            with open(f"/proc/{p.pid}/status") as f:
                ids = [ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))]
            check_eq(ids, [[str(NOBODY)] * 4] * 2, "the program's uids and gids")

            with r.case("root sees the whole history (the setup made it)"):
                want = {40: secret1, 41: secret2, 42: own}
                for fd, path in want.items():
                    st, doc = get(d, f"/v1/processes/{p.pid}/fds/{fd}")
                    check_eq(st, 404, f"root: fd {fd} is closed")
                    check(path in history_targets(doc),
                          f"root: fd {fd}'s history lacks {path}: {history_targets(doc)}")

            with r.case("the user sees its own generation, none of root's days"):
                bad = []
                st, doc = get(d, f"/v1/processes/{p.pid}/fds/42", **USER)
                check_eq(st, 404, "user: fd 42 is closed")
                if own not in history_targets(doc):
                    bad.append(f"fd 42: its own open of {own} missing: {history_targets(doc)}")
                for fd in (40, 41):
                    st, doc = get(d, f"/v1/processes/{p.pid}/fds/{fd}", **USER)
                    shown = [t for t in history_targets(doc) if t in (secret1, secret2)]
                    if st != 404 or shown:
                        bad.append(f"fd {fd}: {st}, root's files shown to the user: {shown}; "
                                   f"history {json.dumps(doc.get('history'))[:600]}")
                st, body = get(d, f"/v1/events?pid={p.pid}&limit=100000", **USER)
                evs = [e.get("path") for e in body.get("events", [])]
                check(secret1 not in evs and secret2 not in evs,
                      "user: root's opens in /v1/events (the history's rule differs)")
                check(not bad, "\n    ".join(bad))

            with r.case("an open fd's origin from root's days is hidden from the user"):
                st, doc = get(d, f"/v1/processes/{p.pid}/fds/43")
                check_eq((st, doc["fd"]["origin"]["syscall"]), (200, "dup2"),
                         "root: fd 43 kept across the exec, made by dup2")
                st, doc = get(d, f"/v1/processes/{p.pid}/fds/43", **USER)
                check_eq(st, 200, "user: fd 43 is open")
                check_eq(doc["fd"]["origin"],
                         {"syscall": None, "tid": None, "pid": None, "comm": None, "ts": None,
                          "from_fd": None, "source": "hidden"}, "user: fd 43's origin")
                check_eq(doc["fd"]["target"], secret1, "user: fd 43's target (as /proc has it)")
                st, doc = get(d, f"/v1/processes/{p.pid}/fds/44", **USER)
                check_eq((st, doc["fd"]["origin"]["syscall"], doc["fd"]["origin"]["source"]),
                         (200, "dup2", "event"), "user: its own fd 44's origin")
                st, doc = get(d, f"/v1/processes/{p.pid}/fds", **USER)
                byfd = {f["fd"]: f for f in doc.get("fds", [])}
                check(43 in byfd and 44 in byfd, f"user: the table lacks 43 or 44: {sorted(byfd)}")
                check_eq(byfd.get(43, {}).get("origin", {}).get("source"), "hidden",
                         "user: fd 43's origin in the table")
                check_eq(byfd.get(44, {}).get("origin", {}).get("syscall"), "dup2",
                         "user: fd 44's origin in the table")

            with r.case("the leak sites of root's days are hidden from the user"):
                def site_of(doc, path):  # a site's target is a pattern: digits are *
                    return [s for s in doc.get("sites", [])
                            if fnmatch.fnmatchcase(path, s.get("target") or "")]
                st, doc = get(d, f"/v1/leaks?pid={p.pid}")
                mine = site_of(doc, secret1)
                check(st == 200 and mine and mine[0]["syscall"] == "dup2",
                      f"root: the site of fd 43 names dup2: {st} {json.dumps(mine)[:400]}; "
                      f"sites {[(x.get('target'), x.get('syscall')) for x in doc.get('sites', [])]}")
                st, doc = get(d, f"/v1/leaks?pid={p.pid}", **USER)
                mine = site_of(doc, secret1)
                check(st == 200 and mine, f"user: no site of {secret1}: {st} "
                      f"{json.dumps(doc.get('sites'))[:400]}")
                if mine:
                    s = mine[0]
                    check(s.get("hidden") is True and s.get("syscall") is None and
                          s.get("comm") is None and not s.get("sample_fds") and
                          not s.get("stacks"),
                          f"user: root's site shown: {json.dumps(s)[:600]}")
                own_site = site_of(doc, own)
                check(own_site and own_site[0].get("syscall") == "dup2" and
                      not own_site[0].get("hidden"),
                      f"user: its own site of fd 44: {json.dumps(own_site)[:400]}")

            race_cases(r, d, p, secret1, secret2)
            root_race_case(r, d, secret1, secret2, own)

            with r.case("the daemon is alive"):
                check(d.alive(), "fdwatchd died")
            p.stdin.write("end\n")
            p.stdin.flush()
            p.wait(timeout=30)
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


T.run(main)
