#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fanotify churn by an ordinary user ("pipeline under fire"), with a real
unprivileged user (fdwt_fan, created if missing and removed again):

(a) 1,000 fanotify_init(FAN_CLASS_NOTIF|FAN_REPORT_FID) + close cycles
    while the test polls `fdwatch status` (during them and 3 s in all): every answer within 2 s (the
    p50/p99/max are logged, not judged), no record lost, and the daemon's
    own loop_lag_max_ms is logged; the read() probe stays off (such groups
    never hand out event fds);
(b) 1,100 fanotify fds gone by other paths than close (dup2 over them,
    close_range, exec's close-on-exec, exit), then a root fanotify
    reader's event fd is in `fdwatch fds` with its origin, and `fdwatch
    verify` passes for the reader and for the host (other fdwatchd
    instances excepted: logged);
(c) the daemon exits within 2 s of SIGTERM (it takes milliseconds: the
    kernel's per-probe teardown is left to a short-lived child, which must
    be gone a few seconds later)."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import by_fd, check, check_eq

USER = "fdwt_fan"
STATUS_BOUND_S = 2.0
STOP_BOUND_S = 2.0


def ensure_user():
    """(uid, gid, created)"""
    try:
        pw = pwd.getpwnam(USER)
        return pw.pw_uid, pw.pw_gid, False
    except KeyError:
        pass
    subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", USER], check=True,
                   capture_output=True)
    pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid, True


def as_user(uid, gid, argv):
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--"] + [str(a) for a in argv]


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def poll_status_while(d, proc, min_s=3.0):
    """`fdwatch status` answer times (s) while proc runs, and at least min_s."""
    times = []
    t_end = time.monotonic() + min_s
    while True:
        t0 = time.monotonic()
        c = d.cli("status", json_out=True, timeout=30)
        times.append(time.monotonic() - t0)
        check(c.returncode == 0, f"fdwatch status exit {c.returncode}: {c.stderr.strip()}")
        if proc.poll() is not None and time.monotonic() >= t_end:
            return times
        time.sleep(0.01)


def run_user(uid, gid, prog, *args, timeout=120):
    c = subprocess.run(as_user(uid, gid, [prog] + list(args)), capture_output=True, text=True,
                       timeout=timeout)
    check(c.returncode == 0, f"{os.path.basename(prog)} {' '.join(map(str, args))} as {USER}: "
          f"exit {c.returncode}: {c.stderr.strip()[-500:]}")
    return c.stdout


def detach_helpers():
    out = []
    for x in os.listdir("/proc"):
        if x.isdigit() and T.proc_comm(int(x)) == "fdwatchd-detach":
            out.append(int(x))
    return out


def main(r):
    uid, gid, created = ensure_user()
    tmp = tempfile.mkdtemp(prefix="fdwt-fan-")
    try:
        os.chmod(tmp, 0o755)
        prog = os.path.join(tmp, "fdw_fan")
        shutil.copy(os.path.join(T.PROGS, "fdw_fan"), prog)
        os.chmod(prog, 0o755)
        target = os.path.join(tmp, "watched")
        with open(target, "w") as f:
            f.write("x")
        before_helpers = set(detach_helpers())
        with T.Daemon() as d:
            cases(r, d, uid, gid, prog, target)
        with r.case("the detach helper is gone within 20 s"):
            deadline = time.monotonic() + 20
            while set(detach_helpers()) - before_helpers and time.monotonic() < deadline:
                time.sleep(0.1)
            left = set(detach_helpers()) - before_helpers
            check(not left, f"fdwatchd-detach still running: {sorted(left)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            subprocess.run(["userdel", USER], capture_output=True)


def cases(r, d, uid, gid, prog, target):
    with r.case(f"(a) 1,000 fanotify_init+close as {USER}: status answers within "
                f"{STATUS_BOUND_S:.0f} s, nothing lost"):
        lost0 = d.status()["events_lost"]
        p = subprocess.Popen(as_user(uid, gid, [prog, "cycles", 1000]), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            times = poll_status_while(d, p)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check(p.returncode == 0, f"fdw_fan cycles as {USER}: exit {p.returncode}: {err.strip()}")
        check_eq(out.strip(), "ok n=1000", "fdw_fan cycles output")
        st = d.status()
        T.log(f"status answers during the churn: n={len(times)} p50={percentile(times, 50):.3f}s "
              f"p99={percentile(times, 99):.3f}s max={max(times):.3f}s; "
              f"loop_lag_max_ms={st.get('loop_lag_max_ms')}")
        check(max(times) <= STATUS_BOUND_S,
              f"slowest status answer {max(times):.2f}s > {STATUS_BOUND_S}s")
        check_eq(st["events_lost"] - lost0, 0, "records lost during the churn")
        # groups that report file handles give no event fds: the read()
        # probe, a cost on every read() on the host, stays off
        check_eq((st.get("probes") or {}).get("fanotify_read"), False,
                 "read() probe attached for FAN_REPORT_FID groups only")

    with r.case(f"(b) 1,100 fanotify fds gone by dup2, close_range, exec, exit as {USER}; "
                f"then a root reader's event fd is in the model and verify passes"):
        out = run_user(uid, gid, prog, "churn", 1100, timeout=240)
        check("ok n=1100" in out and "ok exec" in out, f"fdw_fan churn output: {out!r}")
        # root's reader reports event fds: its fanotify_init switches the
        # read() probe on (off the loop); its read comes once it is on
        rd = T.Prog("fdw_fan", "prereader", target)
        rd.next_cp("armed")
        deadline = time.monotonic() + 20
        while not (d.status().get("probes") or {}).get("fanotify_read"):
            check(time.monotonic() < deadline, "read() probe not attached 20 s after "
                  "a fanotify_init that reports event fds")
            time.sleep(0.05)
        rd.cont()
        cp = rd.next_cp("read")
        evfd, fan = cp.int("fd"), cp.int("fan")
        js = d.fds(cp.pid)
        m = by_fd(js)
        check(fan in m, f"the reader's fanotify fd {fan} is not in the model")
        T.check_origin(js, evfd, syscall="read", source="event")
        T.assert_table_matches(d, cp.pid, "read")
        v = d.verify(cp.pid)
        check_eq(v.returncode, 0, f"fdwatch verify {cp.pid} exit code ({v.stdout[-500:]})")
        # other fdwatchd instances on a shared machine differ for reasons
        # of their own (the same with fdwatchd before this change): logged
        v = d.verify()
        js = json.loads(v.stdout) if v.stdout.strip().startswith("{") else {}
        diffs = js.get("differences", [])
        ours = [x for x in diffs if T.proc_comm(x.get("pid", 0)) != "fdwatchd"]
        if len(diffs) != len(ours):
            T.log(f"note: verify differences in other fdwatchd instances: "
                  f"{[x for x in diffs if x not in ours]}")
        check(v.returncode == 0 or (js and not ours),
              f"fdwatch verify exit {v.returncode}: {v.stdout[-500:]}")
        rd.finish()

    with r.case(f"(c) the daemon exits within {STOP_BOUND_S:.0f} s of SIGTERM"):
        t0 = time.monotonic()
        d.stop()
        took = time.monotonic() - t0
        T.log(f"SIGTERM to exit: {took:.3f}s")
        check(took <= STOP_BOUND_S, f"exit took {took:.2f}s > {STOP_BOUND_S}s")


if __name__ == "__main__":
    T.run(main)
