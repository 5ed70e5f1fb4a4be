#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exec-leak alerts a user would act on, under shells that hold stray fds.

An outer bash makes fds 10 (/dev/null) and 251 (a FIFO, opened read-write)
without close-on-exec (`exec 10</dev/null 251<>fifo`), before fdwatchd
starts (the daemon finds them in /proc); fdwatchd itself is started from a
shell holding the same two. With --leak exec_min_age=0 the outer bash then
runs a `bash -c` wrapper (which inherits 10 and 251) that runs, each
ending in a process that stays (so an alert against it could fire):

  (a) a safe loop: open, dup, close both, and a command each round;
  (b) `cmd 3>file` (open straight into 3), `cmd 4>file` (open, dup2 onto
      4), and the same as the last command of a `bash -c`;
  (c) python3 subprocess with pass_fds;
  (e) make -j2 with a jobserver and a recursive make (when make exists);
  (f) socket activation by hand: a listening socket dup2'd onto fd 3,
      LISTEN_FDS=1, fork, exec;
  (g) the flock(1) idiom: bash's `exec 3>lock; flock 3` (the open lands
      on 3: no dup2), then a command in the background;
  (h) bash's `exec {v}>file` (F_DUPFD from 10, which is busy);
  (i) (g) in a script started by its #! line (its command is the
      script's name, its executable bash);
  (d) last, on a line from the test: fdw_leak exec, which opens a file and
      a socket without close-on-exec, forks and execs.

Exactly one exec-leak alert comes out for the whole tree (all of it still
alive): against the fdw_leak parent, naming its two fds (openat, socket),
not 10 or 251, in `fdwatch leaks --json` and GET /v1/leaks. Then fdw_leak
exec again, its child exec'ing sh, which execs it: the alert is against
fdw_leak, not the shell. Every
scenario really passed its fd (checked in /proc). Sync: lines on pipes,
and the (d) alert, which fires at a tick after every other exec was
applied."""

import os
import select
import shutil
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

STRAY = 'exec 10</dev/null 251<>"$FIFO"'

WRAPPER = r'''
set -u
cd "$T"
echo "WRAP $$"
# (a) the safe loop
bash -c 'for i in 1 2 3; do exec 5<"$0"; exec 6<&5; exec 5<&- 6<&-; /bin/true; done
echo "A $$"; sleep infinity' "$T/data" &
# (b) redirections set up for the command
sh -c 'echo "B $$"; exec sleep infinity' 3>"$T/b.out" &
sh -c 'echo "B2 $$"; exec sleep infinity' 4>"$T/b2.out" &
bash -c 'sh -c "echo B3 \$\$; exec sleep infinity" 3>"$1"' _ "$T/b3.out" &
# (c) python's pass_fds
python3 -c '
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY)  # not inheritable: O_CLOEXEC
os.write(1, f"CPY {os.getpid()} {fd}\n".encode())  # one write: lines interleave
subprocess.Popen(["sh", "-c", "echo C $$; exec sleep infinity"], pass_fds=[fd]).wait()
' "$T/data" &
# (e) make's jobserver
if [ -n "${MAKE_OK:-}" ]; then make -s -j2 -C "$T/mk" & fi
# (f) socket activation by hand
python3 -c '
import os, socket
keep = os.open("/dev/null", os.O_RDONLY)  # the listener must not land on 3 itself
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen()
os.dup2(s.fileno(), 3)  # inheritable, on the number the protocol says
pid = os.fork()
if pid == 0:
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execvp("sh", ["sh", "-c", "echo F $$ $LISTEN_FDS; exec sleep infinity"])
os.waitpid(pid, 0)
' &
# (g) flock(1)'s idiom: the open lands on 3 itself
bash -c 'exec 3>"$T/g.lock"; flock 3; sleep infinity & echo "G $$ $!"; wait' &
# (h) a number bash picks: exec {v}>file
bash -c 'exec {v}>"$T/h.out"; sleep infinity & echo "H $$ $v $!"; wait' &
# (i) the same in a #! script
"$T/lockscript" &
read -r go
# (d) the real thing
"$FDW_LEAK" exec "$T/secret"
'''

MAKEFILE = "all:\n\t+$(MAKE) -s -f sub.mk\n"
SUBMK = "all:\n\t@echo \"E $$$$\"; exec sleep infinity\n"
LOCKSCRIPT = '''#!/bin/bash
exec 3>"$T/i.lock"
flock 3
sleep infinity & echo "I $$ $!"
wait
'''


def descendants(root):
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(kids.get(p, []))
    return out


class Lines:
    """A process's stdout as "WORD args..." lines; got[WORD] = args."""

    def __init__(self, proc, what):
        self.proc, self.what = proc, what
        self.buf, self.got, self.seen = b"", {}, []

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise T.Failure(f"{self.what}: no more lines (so far: {self.seen[-8:]})")
            poller = select.poll()
            poller.register(self.proc.stdout.fileno(), select.POLLIN)
            if poller.poll(left * 1000):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise T.Failure(f"{self.what} ended (exit {self.proc.poll()}); "
                                    f"lines: {self.seen[-8:]}")
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def wait(self, words, timeout=60):
        deadline = time.monotonic() + timeout
        for w in words:
            while w not in self.got:
                text = self._line(deadline)
                self.seen.append(text)
                parts = text.split()
                if parts:
                    self.got[parts[0]] = parts[1:]
        return self.got


def main(r):
    H.run_in_tmp(r, "fdwexec-", run_all)  # each scenario in a session of its own


def run_all(r, tmp, procs):
    fifo = os.path.join(tmp, "stray.fifo")
    os.mkfifo(fifo)
    for name in ("data", "secret"):
        with open(os.path.join(tmp, name), "w") as f:
            f.write("x\n")
    script = os.path.join(tmp, "lockscript")
    with open(script, "w") as f:
        f.write(LOCKSCRIPT)
    os.chmod(script, 0o755)
    make_ok = shutil.which("make") is not None
    if make_ok:
        os.mkdir(os.path.join(tmp, "mk"))
        with open(os.path.join(tmp, "mk", "Makefile"), "w") as f:
            f.write(MAKEFILE)
        with open(os.path.join(tmp, "mk", "sub.mk"), "w") as f:
            f.write(SUBMK)
    else:
        T.log("note: no make here: (e) not run")
    env = dict(os.environ, T=tmp, FIFO=fifo, WRAPPER=WRAPPER,
               FDW_LEAK=os.path.join(T.PROGS, "fdw_leak"), MAKE_OK="1" if make_ok else "")
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    # before the daemon: it finds 10 and 251 in /proc, creator unknown
    outer = subprocess.Popen(
        ["bash", "-c", STRAY + '\necho "OUTER $$"\nread -r go\nbash -c "$WRAPPER"\n'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
    procs.append(outer)
    lines = Lines(outer, "the outer bash")
    lines.wait(["OUTER"])
    check_eq(T.fd_target(outer.pid, 10), "/dev/null", "outer bash fd 10")
    check_eq(T.fd_target(outer.pid, 251), fifo, "outer bash fd 251: the FIFO")

    # the daemon, too, started from a shell that holds them
    daemon_shell = ["env", f"FIFO={fifo}", "bash", "-c", STRAY + '\nexec "$@"', "fdwatchd-shell"]
    with T.Daemon(args=["--leak", "exec_min_age=0"], wrapper=daemon_shell) as d:
        check_eq(T.fd_target(d.proc.pid, 10), "/dev/null", "fdwatchd's stray fd 10")
        outer.stdin.write(b"go\n")
        outer.stdin.flush()
        want = ["WRAP", "A", "B", "B2", "B3", "CPY", "C", "F", "G", "H", "I"] + (
            ["E"] if make_ok else [])
        got = lines.wait(want)
        pid = {w: int(got[w][0]) for w in want}

        with r.case("every scenario passed its fd, beside the stray 10 and 251"):
            # (python's close_fds closes them in (c))
            for w in ("A", "B", "B2", "B3", "F") + (("E",) if make_ok else ()):
                check_eq(T.fd_target(pid[w], 10), "/dev/null", f"({w}) pid {pid[w]} fd 10")
                check_eq(T.fd_target(pid[w], 251), fifo, f"({w}) pid {pid[w]} fd 251")
            check_eq(T.fd_target(pid["B"], 3), os.path.join(tmp, "b.out"), "(b) fd 3")
            check_eq(T.fd_target(pid["B2"], 4), os.path.join(tmp, "b2.out"), "(b) fd 4")
            check_eq(T.fd_target(pid["B3"], 3), os.path.join(tmp, "b3.out"),
                     "(b) last command fd 3")
            check_eq(T.fd_target(pid["C"], int(got["CPY"][1])), os.path.join(tmp, "data"),
                     "(c) the pass_fds fd")
            check((T.fd_target(pid["F"], 3) or "").startswith("socket:"),
                  "(f) fd 3 is the listener")
            check_eq(got["F"][1:], ["1"], "(f) LISTEN_FDS")
            check_eq(T.fd_target(int(got["G"][1]), 3), os.path.join(tmp, "g.lock"),
                     "(g) the shell's command got fd 3")
            hfd = int(got["H"][1])
            check(hfd > 10, f"(h) bash picked {hfd}")
            check_eq(T.fd_target(int(got["H"][2]), hfd), os.path.join(tmp, "h.out"),
                     f"(h) the shell's command got fd {hfd}")
            check_eq(T.fd_target(int(got["I"][1]), 3), os.path.join(tmp, "i.lock"),
                     "(i) the script's command got fd 3")
            with open(f"/proc/{got['I'][0]}/comm") as f:
                check_eq(f.read().strip(), "lockscript", "(i) the script's command name")

        outer.stdin.write(b"go\n")  # the wrapper's read: (d)
        outer.stdin.flush()
        par = lines.wait(["PARENT"])["PARENT"]
        kv = dict(x.split("=", 1) for x in par if "=" in x)
        leaker = int(kv["pid"])
        leaked = sorted(int(x) for x in kv["leaked"].split(","))
        cpid = int(lines.wait(["CHILD"])["CHILD"][0].split("=", 1)[1])

        with r.case("(d) open without O_CLOEXEC, fork, exec: exec-leak on that program"):
            a = H.wait_alert(d, leaker, "exec-leak", 20)
            T.log(a["summary"])
            ev = a["evidence"]
            check_eq(sorted(f["fd"] for f in ev["leaked"]), leaked,
                     "leaked fds (its file and socket; not 10 or 251)")
            by = {f["fd"]: f["opened_by"] for f in ev["leaked"]}
            check_eq((by[leaked[0]]["syscall"], by[leaked[0]]["comm"], by[leaked[0]]["pid"]),
                     ("openat", "fdw_leak", leaker), "the file: who opened it")
            check_eq(by[leaked[1]]["syscall"], "socket", "the socket: its syscall")
            check_eq([c["pid"] for c in ev["children"]], [cpid], "the child that got them")
            check("openat by fdw_leak" in a["summary"], f"summary names the program: {a['summary']}")

        with r.case("exactly that alert for the whole tree, in the API and the CLI"):
            tree = descendants(outer.pid) | {outer.pid, d.proc.pid}
            for w in want:
                check(pid[w] in tree, f"({w}) pid {pid[w]} still running")
            api = H.api_exec_alerts(d, tree)
            check_eq([(a["pid"], a["state"]) for a in api], [(leaker, "firing")],
                     f"exec-leak alerts from GET /v1/leaks ({H.describe(api)})")
            cli = H.cli_exec_alerts(d, tree)
            check_eq([a["pid"] for a in cli], [leaker],
                     f"exec-leak alerts from `fdwatch leaks --json` ({H.describe(cli)})")
        outer.stdin.close()  # EOF: fdw_leak's child ends, then its parent

        with r.case("a program leaks into sh, which execs another: the program is blamed"):
            lk = subprocess.Popen([os.path.join(T.PROGS, "fdw_leak"), "exec",
                                   os.path.join(tmp, "secret"), "sh"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  start_new_session=True)
            procs.append(lk)
            ll = Lines(lk, "fdw_leak exec sh")
            kv = dict(x.split("=", 1) for x in ll.wait(["PARENT"])["PARENT"] if "=" in x)
            cpid = int(ll.wait(["CHILD"])["CHILD"][0].split("=", 1)[1])
            a = H.wait_alert(d, int(kv["pid"]), "exec-leak", 20)
            T.log(a["summary"])
            ev = a["evidence"]
            check_eq(sorted(f["fd"] for f in ev["leaked"]),
                     sorted(int(x) for x in kv["leaked"].split(",")), "leaked fds")
            check_eq([(c["pid"], c["comm"]) for c in ev["children"]], [(cpid, "sh")],
                     "the child, as the shell it exec'd first")
            check_eq(H.api_exec_alerts(d, {cpid}), [], "no alert on the child")
            lk.stdin.close()


if __name__ == "__main__":
    T.run(main)
