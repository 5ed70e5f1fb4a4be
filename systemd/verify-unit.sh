#!/usr/bin/env bash
# Test (suite unit): systemd-analyze verify accepts the configured unit.
#
#   verify-unit.sh UNIT FDWATCHD
#
# UNIT is the unit as installed; its fdwatchd binary is replaced with
# FDWATCHD (the one in the build tree), since verify checks that it exists.
# Exit 77 (skip) only when systemd-analyze is not installed.
set -euo pipefail

if (($# != 2)); then
	echo "usage: $0 UNIT FDWATCHD" >&2
	exit 2
fi
unit=$1
bin=$2

if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze not found (Debian package systemd): skipping"
	exit 77
fi
if [[ ! -x $bin ]]; then
	echo "FAIL: $bin is not built"
	exit 1
fi
# meson passes targets relative to the build directory; systemd wants an
# absolute path.
bin=$(realpath "$bin")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$unit")
# every Exec*= line that runs fdwatchd (ExecStart, ExecReload's --check-config)
sed -E "s|^(Exec[A-Za-z]*=[-+!@:]*)[^ ]*/fdwatchd( \|$)|\1$bin\2|" "$unit" >"$tmp/$name"
if ! grep -q "^ExecStart=$bin" "$tmp/$name"; then
	echo "FAIL: no ExecStart=.../fdwatchd line in $unit"
	exit 1
fi

# --man=no: the man pages are checked where they are built, not here.
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/$name" 2>&1) && rc=0 || rc=$?
if [[ -n $out ]]; then
	printf '%s\n' "$out"
fi
if ((rc != 0)); then
	echo "FAIL: systemd-analyze verify exited $rc"
	exit 1
fi
# verify exits 0 on some problems it only prints (unknown settings, bad
# values); treat any line about the unit as a failure.
if grep -F "$name" <<<"$out" >/dev/null; then
	echo "FAIL: systemd-analyze verify reported problems in $name"
	exit 1
fi
echo "ok: $name verified"
