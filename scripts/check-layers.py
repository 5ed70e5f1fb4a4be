#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that daemon/'s include graph runs one way, down the layers.

    scripts/check-layers.py [DAEMON_DIR]

Each file belongs to a module: its folder (daemon/model/apply.c -> model),
or for the top-level files their own name (daemon.c/daemon.h -> daemon,
main.c -> main). The common/ folder beside daemon/ (code the CLI shares)
is checked too, as the lowest module "common". A module may include headers of its own module and of
modules in LOWER layers only. Any other include (upward, or sideways
between two modules of one layer) is reported, as is any include cycle
between modules (which the order rule already excludes), and any module
not in LAYERS (a new folder must be placed in the order on purpose).

Exit 0 when clean, 1 with one line per violation. The last line is the
plain "N passed, N failed" summary.
"""
import os
import re
import sys

# Bottom to top. A module may include only modules listed before it.
LAYERS = [
    "common",    # ../common: shared with the CLI (symbolic decoding), libc only
    "base",      # log, clock, json, hash, hashmap
    "sys",       # /proc parsing, symbolization
    "capture",   # load, attach, consume, decode
    "model",     # tables, apply, resync, history
    "alerts",    # the alert store (lifecycle, persistence)
    "detect",    # detectors: model observers
    "pipeline",  # the one owner of the ring
    "check",     # verify, audit
    "server",    # HTTP, routes, follow streams, render, metrics
    "config",    # defaults, command line
    "daemon",    # wiring
    "main",
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(rel):
    parts = rel.split("/")
    if len(parts) > 1:
        return parts[0]
    return os.path.splitext(parts[0])[0]


def self_test():
    """The checker must be able to fail: a clean tree passes, an upward
    include, a cycle and an unplaced folder are each reported."""
    import subprocess
    import tempfile

    def tree(files):
        d = tempfile.mkdtemp(prefix="fdw-layers-")
        for rel, text in files.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as fh:
                fh.write(text)
        return d

    def run(d):
        p = subprocess.run([sys.executable, os.path.abspath(__file__), d],
                           capture_output=True, text=True)
        return p.returncode, p.stdout

    cases = [
        ("clean", {"base/a.h": "", "model/m.c": '#include "base/a.h"\n',
                   "daemon.c": '#include "model/m.h"\n', "model/m.h": ""}, 0, None),
        ("upward", {"base/a.h": '#include "model/m.h"\n', "model/m.h": ""}, 1,
         "'base' may not depend on 'model'"),
        ("cycle", {"model/m.h": '#include "detect/d.h"\n',
                   "detect/d.h": '#include "model/m.h"\n'}, 1, "include cycle"),
        ("unplaced", {"misc/x.c": ""}, 1, "not in the layer order"),
    ]
    bad = 0
    for name, files, want_rc, want_text in cases:
        rc, out = run(tree(files))
        ok = rc == want_rc and (want_text is None or want_text in out)
        print(f"{'ok  ' if ok else 'FAIL'} self-test {name}: exit {rc}")
        bad += not ok
    print(f"{len(cases) - bad} passed, {bad} failed")
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "daemon")
    rank = {m: i for i, m in enumerate(LAYERS)}
    edges = {}
    problems = []
    nfiles = 0
    # common/ sits beside daemon/ (the CLI links it too) and is checked
    # as the lowest layer: it may include nothing of daemon/
    parent = os.path.dirname(os.path.abspath(root))
    trees = [root]
    if os.path.isdir(os.path.join(parent, "common")):
        trees.append(os.path.join(parent, "common"))
    walked = [(dp, fs) for tree in trees for dp, _, fs in os.walk(tree)]
    for dirpath, files in walked:
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            if rel.startswith(".." + os.sep):
                rel = os.path.relpath(path, parent)
            mod = module_of(rel)
            nfiles += 1
            if mod not in rank:
                problems.append(f"{rel}: module '{mod}' is not in the layer order")
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                target = os.path.normpath(os.path.join(root, inc))
                if not os.path.exists(target) and inc.startswith("common/"):
                    target = os.path.normpath(os.path.join(parent, inc))
                    if not os.path.exists(target):
                        continue
                    tmod = "common"
                elif not os.path.exists(target):
                    continue  # include/ (the record ABI) or a generated skeleton
                else:
                    tmod = module_of(os.path.relpath(target, root))
                if tmod == mod:
                    continue
                edges.setdefault(mod, set()).add(tmod)
                if tmod not in rank:
                    problems.append(f"{rel}: includes {inc} of unknown module '{tmod}'")
                elif rank[tmod] >= rank[mod]:
                    problems.append(f"{rel}: includes {inc}: '{mod}' may not depend on "
                                    f"'{tmod}' (same or higher layer)")
    # cycles, independently of the order (a second line of defence)
    state = {}

    def visit(m, stack):
        state[m] = 1
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                cyc = stack[stack.index(n):] + [n] if n in stack else [m, n]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif not state.get(n):
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(edges):
        if not state.get(m):
            visit(m, [m])
    if nfiles == 0:
        problems.append(f"no source files under {root}")
    for p in problems:
        print(p)
    print(f"{nfiles - len(problems) if nfiles >= len(problems) else 0} passed, "
          f"{len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
