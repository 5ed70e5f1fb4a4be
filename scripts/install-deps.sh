#!/usr/bin/env bash
# Install the Debian 12 packages fdwatch needs to build, run and test.
# Idempotent: when every package is already installed it does nothing (and
# needs neither root nor the network). Otherwise it needs root.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --list   print the package list and exit
#   scripts/install-deps.sh --check  exit 1 (listing them) if any is missing
set -euo pipefail

# Keep in step with README.md ("Dependencies").
PACKAGES=(
	# build
	build-essential    # gcc, make, libc headers
	meson
	ninja-build
	pkg-config
	clang              # compiles bpf/*.bpf.c with -target bpf
	llvm               # llvm-strip and friends for BPF objects
	bpftool            # vmlinux.h from BTF, BPF skeletons (/usr/sbin/bpftool)
	libbpf-dev         # loads and attaches the BPF programs
	libelf-dev         # libbpf's dependencies (libbpf.pc requires them)
	zlib1g-dev
	libuv1-dev         # the daemon's event loop
	libjansson-dev     # JSON bodies
	libhttp-parser-dev # HTTP/1.1 request parsing in the daemon
	libcurl4-openssl-dev # the CLI's HTTP client over the unix socket
	libsystemd-dev     # sd_notify(): readiness, status, watchdog
	libdw-dev          # elfutils: symbolizes leak-site stacks
	bash-completion    # where the CLI's completion installs (pkg-config), its test
	# scripts and tests
	util-linux         # mount, mountpoint, taskset
	procps             # ps, pgrep, pkill (test helpers)
	python3            # test helpers, test result summary, bench
	valgrind           # daemon memory/fd leak test
	stress-ng          # fd-heavy stress tests
	prometheus         # promtool and a real Prometheus server for tests
	nginx              # a real long-running server for the leak detector tests
	systemd            # systemd-analyze verify of systemd/fdwatchd.service
	linux-perf         # perf stat for benchmarks
	bpftrace           # the benchmark's peer row: the same syscalls counted by a one-liner
	strace             # the benchmark's peer row: strace -f -c on the same loop
	wrk                # the benchmark's nginx row: HTTP load on loopback
	tmux               # fdwatch top is tested in a real terminal
)

list_packages() {
	printf '%s\n' "${PACKAGES[@]}"
}

missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		if [[ $status != installed ]]; then
			printf '%s\n' "$p"
		fi
	done
}

with_retries() {
	local i
	for i in 1 2 3; do
		if "$@"; then
			return 0
		fi
		echo "install-deps: '$*' failed (try $i of 3)" >&2
		sleep $((i * 5))
	done
	return 1
}

case ${1:-} in
--list)
	list_packages
	exit 0
	;;
--check | "") ;;
-h | --help)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "install-deps: unknown argument: $1" >&2
	exit 2
	;;
esac

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#PACKAGES[@]} packages are installed" >&2
	exit 0
fi
if [[ ${1:-} == --check ]]; then
	echo "install-deps: missing: ${missing[*]}" >&2
	exit 1
fi
if ((EUID != 0)); then
	echo "install-deps: missing: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive

# Installing nginx or prometheus would start their system services (ports 80
# and 9090) where an init script can run; the tests start their own
# instances instead. Deny service starts for this install unless a policy is
# already in place (Debian's policy-rc.d interface).
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# written by fdwatch scripts/install-deps.sh for one apt-get run\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

with_retries apt-get update
with_retries apt-get install -y --no-install-recommends "${missing[@]}"

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} != 0)); then
	echo "install-deps: still missing after apt-get: ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: all ${#PACKAGES[@]} packages are installed" >&2
