#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SCM_RIGHTS between two processes (tests/progs/fdw_scm.c): recvmsg with
and without MSG_CMSG_CLOEXEC, recvmmsg (both), 200 fds in one message,
a truncated control buffer (MSG_CTRUNC: only what fits is installed),
read() discarding passed fds, and passing back to the parent. Received
fds must appear in the receiver's model with the right numbers, targets
and close-on-exec bits, the same `ofd` as the sender's fds, and an origin
naming the receiving syscall."""

import fdwtest as T
from fdwtest import check, check_eq, by_fd


def main(r):
    def c_recv(cp, m):
        recv = cp.int("receiver")
        send = cp.pid if recv != cp.pid else cp.int("child")
        sent, got = cp.ints("sent"), cp.ints("received")
        check_eq(len(got), len(sent), "premise: number of fds received")
        ks, kr = T.proc_table(send), T.proc_table(recv)
        problems = []
        for s, g in zip(sent, got):
            check(kr.get(g) is not None and kr[g][0] == ks[s][0] and kr[g][1] == (cp.get("cloexec") == "1"),
                  f"premise: received fd {g} mirrors sent fd {s}: {kr.get(g)} vs {ks.get(s)}")
            e = by_fd(m[recv]).get(g)
            if e is None:
                problems.append(f"received fd {g} not in the model of {recv}")
                continue
            o = e.get("origin") or {}
            if o.get("syscall") != cp.get("syscall") or o.get("source") != "event":
                problems.append(f"received fd {g}: origin {o}, expected syscall "
                                f"{cp.get('syscall')!r} source 'event'")
            if o.get("tid") != recv:
                problems.append(f"received fd {g}: origin.tid {o.get('tid')} != {recv}")
            so = by_fd(m[send]).get(s, {}).get("ofd")
            if e.get("ofd") != so:
                problems.append(f"received fd {g} ofd {e.get('ofd')} != sender's fd {s} ofd {so}")
        if problems:
            raise T.Failure("\n".join(problems[:40]))

    def c_many(cp, m):
        check_eq(len(cp.ints("received")), 200, "premise: 200 fds received")
        c_recv(cp, m)

    def c_ctrunc(cp, m):
        check_eq(cp.get("ctrunc"), "1", "premise: MSG_CTRUNC set")
        c_recv(cp, m)

    with T.Daemon() as d:
        T.run_prog(r, d, "fdw_scm", checks={
            "recvmsg": c_recv,
            "recvmsg_cloexec": c_recv,
            "recvmmsg": c_recv,
            "recvmmsg_cloexec": c_recv,
            "recvmsg_many": c_many,
            "recvmsg_ctrunc": c_ctrunc,
            "read_discards": lambda cp, m: None,
            "to_parent": c_recv,
        })


if __name__ == "__main__":
    T.run(main)
