#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The dup family's edge cases (tests/progs/fdw_dup.c): at every checkpoint
`fdwatch fds` equals /proc (numbers, targets, close-on-exec), `verify`
agrees, ofd identities agree with kcmp, and the provenance of each fd the
step made (syscall, from_fd, generation, history) is what the program did."""

import fdwtest as T
from fdwtest import check, check_eq, check_origin, by_fd


def main(r):
    gen = {}  # slot -> generation seen at the previous step
    origin100 = {}

    def generation(js, fd):
        g = by_fd(js)[fd].get("generation")
        check(isinstance(g, int) and g >= 1, f"fd {fd}: generation {g!r} is not a positive int")
        return g

    def c_dup(cp, m):
        check_origin(m[cp.pid], cp.int("ret"), syscall="dup", from_fd=cp.int("src"), tid=cp.pid)

    def c_fdupfd_100(cp, m):
        check_origin(m[cp.pid], 100, syscall="fcntl", from_fd=cp.int("src"), tid=cp.pid)
        gen[100] = generation(m[cp.pid], 100)

    def c_dup2_replace(cp, m):
        js = m[cp.pid]
        e = check_origin(js, 100, syscall="dup2", from_fd=cp.int("oldfd"), tid=cp.pid)
        origin100.update(e.get("origin") or {})
        g = generation(js, 100)
        check_eq(g, gen[100] + 1, "generation of slot 100 after dup2 replaced it")
        gen[100] = g
        one = d.fd(cp.pid, 100)
        hist = (one.get("fd") or {}).get("history")
        check(isinstance(hist, list) and hist, f"`fdwatch fds {cp.pid} 100` has no history: {one}")
        check_eq(hist[0].get("target"), cp.get("old_path"), "history[0].target (the replaced file)")
        check_eq(hist[0].get("generation"), g - 1, "history[0].generation")
        closed = hist[0].get("closed") or {}
        check_eq(closed.get("syscall"), "dup2", "history[0].closed.syscall")

    def c_unchanged_100(cp, m):
        js = m[cp.pid]
        check_eq(generation(js, 100), gen[100], f"generation of slot 100 after {cp.name}")
        o = by_fd(js)[100].get("origin") or {}
        check_eq(o, origin100, f"origin of fd 100 after {cp.name} (must not change)")

    def c_dup3(cp, m):
        js = m[cp.pid]
        check_origin(js, 101, syscall="dup3", from_fd=cp.int("src"), tid=cp.pid)
        check_origin(js, 103, syscall="dup3", from_fd=cp.int("src"), tid=cp.pid)
        check_origin(js, 100, syscall="dup3", from_fd=cp.int("replaced_src"), tid=cp.pid)
        check_eq(generation(js, 100), gen[100] + 1, "generation of slot 100 after dup3 replaced it")
        check(102 not in by_fd(js), "fd 102 (dup3 with bad flags) in the model")

    def c_fcntl(cp, m):
        js = m[cp.pid]
        for k in ("dupfd", "high"):
            check_origin(js, cp.int(k), syscall="fcntl", from_fd=cp.int("src"), tid=cp.pid)
        check_origin(js, cp.int("dupfd_cloexec"), syscall="fcntl", from_fd=cp.int("src_cloexec"),
                     tid=cp.pid)
        check_origin(js, cp.int("top"), syscall="dup2", from_fd=cp.int("src_cloexec"), tid=cp.pid)
        origin100.clear()
        origin100.update({k: by_fd(js)[fd].get("origin") for k, fd in
                          (("set", cp.int("dupfd")), ("cleared", cp.int("dupfd_cloexec")))})

    def c_setfd(cp, m):
        js = m[cp.pid]
        for k in ("set", "cleared"):
            check_eq(by_fd(js)[cp.int(k)].get("origin"), origin100[k],
                     f"origin of fd {cp.int(k)} after F_SETFD (must not change)")

    def c_close_twice(cp, m):
        c = d.cli("fds", cp.pid, cp.int("fd"), json_out=True)
        check_eq(c.returncode, 1, f"`fdwatch fds {cp.pid} {cp.int('fd')}` of a closed fd: exit code")

    def c_close_all(cp, m):
        check_eq(sorted(by_fd(m[cp.pid])), [0, 1, 2], "fds left after close_range(3, ~0)")

    with T.Daemon() as d:
        T.run_prog(r, d, "fdw_dup", checks={
            "dup": c_dup,
            "fdupfd_100": c_fdupfd_100,
            "dup2_replace": c_dup2_replace,
            "dup2_same": c_unchanged_100,
            "dup2_badfd": c_unchanged_100,
            "dup3": c_dup3,
            "fcntl_dupfd": c_fcntl,
            "setfd": c_setfd,
            "close_twice": c_close_twice,
            "close_all": c_close_all,
        })


if __name__ == "__main__":
    T.run(main)
