#!/usr/bin/env python3
"""Summarize meson's testlog.json and print 'N passed, N failed, N skipped'.

Usage: test-summary.py TESTLOG_JSON [--no-skips]

--no-skips: a skipped test (exit 77) is an error, except tests whose full
name ("fdwatch:suite / name") matches a shell pattern in the environment
variable FDWATCH_ALLOW_SKIP (patterns separated by spaces). An empty run
(no test at all) is an error too.

Exit status: 0 when nothing failed (and, with --no-skips, nothing was
skipped and something ran), 1 otherwise, 2 when the log cannot be read.
"""
import fnmatch
import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}
# Everything else (FAIL, ERROR, TIMEOUT, UNEXPECTEDPASS, INTERRUPT, ...) fails.


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    no_skips = "--no-skips" in argv[1:]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        print(f"test-summary: cannot read {args[0]}: {e}", file=sys.stderr)
        return 2

    passed, failed, skipped = [], [], []
    for r in results:
        name, result = r.get("name", "?"), r.get("result", "?")
        if result in PASSED:
            passed.append(name)
        elif result in SKIPPED:
            skipped.append(name)
        else:
            failed.append(f"{name} ({result})")

    allow = os.environ.get("FDWATCH_ALLOW_SKIP", "").split()
    bad_skips = [n for n in skipped
                 if not any(fnmatch.fnmatchcase(n, p) for p in allow)]

    ok = not failed
    for name in failed:
        print(f"FAILED: {name}")
    if no_skips:
        for name in bad_skips:
            print(f"SKIPPED, but tests are required to run (CI / "
                  f"FDWATCH_REQUIRE_BPF=1): {name}")
        if bad_skips:
            ok = False
        if not results:
            print("no test ran")
            ok = False
    else:
        for name in skipped:
            print(f"skipped: {name}")

    line = f"{len(passed)} passed, {len(failed)} failed"
    if skipped:
        line += f", {len(skipped)} skipped"
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
