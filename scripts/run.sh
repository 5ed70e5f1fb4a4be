#!/usr/bin/env bash
# Install what is missing, build, and run fdwatchd in the foreground.
#
#   ./scripts/run.sh [fdwatchd options...]
#
# As root on Debian 12. The daemon listens on /run/fdwatch/fdwatch.sock;
# query it from another terminal with build/cli/fdwatch status. Options are
# passed to fdwatchd (a later --socket overrides the default). Ctrl-C stops it.
#
# Environment: FDWATCH_BUILDDIR (default build), FDWATCH_SKIP_DEPS=1 to skip
# the package check.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

builddir=${FDWATCH_BUILDDIR:-build}

if ((EUID != 0)); then
	fdw_die "run as root (e.g. sudo ./scripts/run.sh): the daemon loads eBPF programs and reads every process's /proc entries"
fi

if [[ ${FDWATCH_SKIP_DEPS:-0} != 1 ]]; then
	bash scripts/install-deps.sh
fi
fdw_mount_tracefs || true

fdw_meson_setup "$builddir"
meson compile -C "$builddir"

install -d -m 0750 /run/fdwatch /var/lib/fdwatch
exec "$builddir/daemon/fdwatchd" --socket /run/fdwatch/fdwatch.sock "$@"
