#!/usr/bin/env bash
# Install what is missing, build, and run every test suite.
#
#   ./scripts/test.sh [meson test options...]   e.g. --suite unit
#
# As root on Debian 12 (the bpf and integration suites load eBPF programs;
# without the privileges they skip). The last line is "N passed, N failed"
# (", N skipped"), counted from meson's test log.
#
# With CI=true or FDWATCH_REQUIRE_BPF=1, FDWATCH_REQUIRE_BPF=1 is exported so
# tests that cannot load their probes fail instead of skipping, and any
# skipped test fails the run (FDWATCH_ALLOW_SKIP="pattern ..." exempts tests
# by full name, e.g. "fdwatch:service / *"; .ci/run unsets it: CI honours none).
#
# Environment: FDWATCH_TEST_BUILDDIR (default build-test), FDWATCH_SKIP_DEPS=1
# to skip the package check.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

builddir=${FDWATCH_TEST_BUILDDIR:-build-test}

strict=0
if [[ ${CI:-} == true || ${FDWATCH_REQUIRE_BPF:-0} == 1 ]]; then
	export FDWATCH_REQUIRE_BPF=1
	strict=1
fi

if ((EUID != 0)); then
	fdw_log "not root: tests that need eBPF or other processes' /proc entries will skip (or fail when required)"
fi
if [[ ${FDWATCH_SKIP_DEPS:-0} != 1 ]]; then
	bash scripts/install-deps.sh
fi
fdw_mount_tracefs || true
btf=missing
[[ -r /sys/kernel/btf/vmlinux ]] && btf=present
fdw_log "kernel $(uname -r), BTF $btf, uid $EUID, FDWATCH_REQUIRE_BPF=${FDWATCH_REQUIRE_BPF:-0}"

fdw_meson_setup "$builddir"
meson compile -C "$builddir"

testlog=$builddir/meson-logs/testlog.json
rm -f "$testlog"
rc=0
meson test -C "$builddir" --print-errorlogs --num-processes 1 "$@" || rc=$?

if [[ ! -s $testlog ]]; then
	if ((rc != 0)); then
		fdw_die "meson test failed (exit $rc) before any test result was written"
	fi
	# An empty log: meson found no test to run.
	: >"$testlog"
fi

summary_args=("$testlog")
if ((strict)); then
	summary_args+=(--no-skips)
fi
src=0
python3 scripts/test-summary.py "${summary_args[@]}" || src=$?
if ((src != 0)); then
	exit "$src"
fi
exit "$rc"
