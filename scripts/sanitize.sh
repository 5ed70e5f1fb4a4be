#!/usr/bin/env bash
# Build with AddressSanitizer and UndefinedBehaviorSanitizer and run the
# test suites against that build (README, "Sanitizers").
#
#   ./scripts/sanitize.sh [meson test options...]   default: every suite
#
# As root on Debian 12, like scripts/test.sh (which it does not replace:
# CI runs that one). The build directory is build-sanitize
# (FDWATCH_SANITIZE_BUILDDIR). Any sanitizer report fails the test that
# produced it: ASan/UBSan abort on the first error (halt_on_error), and
# LeakSanitizer turns a leak at the daemon's exit into a non-zero exit code,
# which the tests check. Under the sanitizers the valgrind half of
# test_daemon_leaks is not run (the two cannot share a process;
# LeakSanitizer checks the same exits), and the libFuzzer target is not
# built (it carries its own ASan runtime: `meson test fuzz-request` in an
# ordinary build runs it).
#
# Measured on the 2-core test machine: build ~5 min, unit ~1 min, bpf ~16
# min (the normal suites ~9 min). .ci/run runs its unit suite.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

builddir=${FDWATCH_SANITIZE_BUILDDIR:-build-sanitize}
if [[ ! -d $builddir ]]; then
	meson setup "$builddir" -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C "$builddir"
fdw_mount_tracefs || true

export FDWT_SANITIZED=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}

testlog=$builddir/meson-logs/testlog.json
rm -f "$testlog"
rc=0
# sanitized binaries are slower: every timeout doubled
meson test -C "$builddir" --print-errorlogs --num-processes 1 --timeout-multiplier 2 "$@" || rc=$?
if [[ -s $testlog ]]; then
	python3 scripts/test-summary.py "$testlog" || rc=$?
fi
exit "$rc"
