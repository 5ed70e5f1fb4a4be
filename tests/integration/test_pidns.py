#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client in another pid or user namespace is refused (server/access.c,
docs/api.md "Access").

The daemon's socket is opened to everybody (as a bind mount into a
container would expose it). A process of uid 65534 sleeps on the host, so
that uid has something of its own to be shown there.

- from the daemon's pid namespace, root and uid 65534 are served:
  /v1/status 200, root's /v1/processes lists the host sleeper and the
  test itself, 65534's lists its sleeper;
- from `unshare --pid --fork --mount-proc`, as root and as uid 65534
  (setpriv inside the new namespace: the host's user namespace, the same
  uid), and as uid 65534 in a rootless container (`unshare --user
  --map-root-user --pid`), every request (/v1/status, /v1/processes,
  /v1/events) is 403 with a body that says why ("another pid or user
  namespace") and names nothing of the host; `fdwatch status` there exits
  non-zero with that message;
- the same as uid 65534 in a user namespace alone (`unshare --user`: the
  host's pids), to which the kernel refuses its own sleeper's fds (checked
  with readlink, beside the same readlink from the host, which works);
- a host client connecting after those is still served.
"""

import json
import os
import shutil
import subprocess
import sys

import fdwtest as T
from fdwtest import check, check_eq

NOBODY = 65534
# a python every uid may run (the test's own may be under /root)
PY = shutil.which("python3", path="/usr/bin:/bin") or sys.executable

DROP = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
PIDNS = ["unshare", "--pid", "--fork", "--mount-proc"]
ROOTLESS = DROP + ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]
# a user namespace alone: the host's pids, but the kernel refuses it even its
# own uid's /proc/PID/fd outside it
USERNS = DROP + ["unshare", "--user"]

WAYS = {
    "host root": [],
    "host uid 65534": DROP,
    "pidns root": PIDNS,
    "pidns uid 65534": PIDNS + DROP,
    "rootless uid 65534": ROOTLESS,
    "userns uid 65534": USERNS,
}


def get(sock, way, target):
    """T.UNIX_GET, strict (any error is a failure), run `way`:
    {"status": N, "body": "...", "pid": the client's pid in its namespace}."""
    c = subprocess.run(WAYS[way] + T.unix_get_cmd(PY, sock, target, strict=True),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if c.returncode != 0:
        raise T.Failure(f"{way}: client for {target} exit {c.returncode}: {c.stderr.strip()}")
    return json.loads(c.stdout)


def pids_of(body):
    doc = json.loads(body)
    procs = doc.get("processes", doc) if isinstance(doc, dict) else doc
    return {p["pid"] for p in procs}


def main(r):
    sleeper = subprocess.Popen(DROP + ["sleep", "600"], stdin=subprocess.DEVNULL)
    try:
        with T.Daemon() as d:
            # as an operator would bind-mount it: reachable by anyone
            os.chmod(d.tmp, 0o755)
            os.chmod(d.sock, 0o666)

            with r.case("host clients are served"):
                a = get(d.sock, "host root", "/v1/processes")
                check_eq(a["status"], 200, "host root /v1/processes")
                pids = pids_of(a["body"])
                check(sleeper.pid in pids and os.getpid() in pids,
                      f"host root sees the sleeper {sleeper.pid} and the test {os.getpid()}")
                a = get(d.sock, "host uid 65534", "/v1/processes")
                check_eq(a["status"], 200, "host uid 65534 /v1/processes")
                pids = pids_of(a["body"])
                check(sleeper.pid in pids and os.getpid() not in pids,
                      f"host uid 65534 sees its sleeper {sleeper.pid}, not root's test: {pids}")

            with r.case("the kernel refuses a user namespace its uid's fds outside it"):
                c = subprocess.run(USERNS + ["readlink", f"/proc/{sleeper.pid}/fd/1"],
                                   capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                check(c.returncode != 0,
                      f"readlink of its own sleeper's fd from a user namespace: {c.stdout!r}")
                c = subprocess.run(DROP + ["readlink", f"/proc/{sleeper.pid}/fd/1"],
                                   capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                check_eq(c.returncode, 0, "the same from the host's user namespace")

            for way in ("pidns root", "pidns uid 65534", "rootless uid 65534",
                        "userns uid 65534"):
                with r.case(f"{way}: refused"):
                    for target in ("/v1/status", "/v1/processes", "/v1/events"):
                        a = get(d.sock, way, target)
                        if way.startswith("userns"):
                            check(a["pid"] != 1, f"{way}: the client has a host pid")
                        else:
                            check_eq(a["pid"], 1, f"{way}: the client is pid 1 of its namespace")
                        check_eq(a["status"], 403, f"{way} {target} status ({a['body'][:200]})")
                        check("another pid or user namespace" in a["body"],
                              f"{way} {target}: the 403 says why: {a['body'][:300]}")
                        check(str(sleeper.pid) not in a["body"] and '"processes"' not in a["body"],
                              f"{way} {target}: nothing of the host: {a['body'][:300]}")

            with r.case("fdwatch status from another pid namespace"):
                c = subprocess.run(PIDNS + DROP + [T.FDWATCH, "--socket", d.sock, "status"],
                                   capture_output=True, text=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                check(c.returncode != 0, f"fdwatch status exit {c.returncode}: {c.stdout[:300]}")
                check("another pid or user namespace" in c.stderr + c.stdout,
                      f"fdwatch says why: {c.stderr.strip()[:300]}")

            with r.case("a host client after them is still served"):
                a = get(d.sock, "host uid 65534", "/v1/status")
                check_eq(a["status"], 200, "host uid 65534 /v1/status")
                check_eq(json.loads(a["body"]).get("scope"), "own", "its scope")
                check_eq(d.cli("status").returncode, 0, "fdwatch status as root")
    finally:
        sleeper.kill()
        sleeper.wait()


T.run(main)
