# shellcheck shell=bash
# Helpers shared by scripts/*.sh and bench/run.sh. Source it; it runs nothing.

FDW_TRACEFS=/sys/kernel/tracing

fdw_log() {
	printf 'fdwatch: %s\n' "$*" >&2
}

fdw_die() {
	fdw_log "$*"
	exit 1
}

# The repository's top directory (this file lives in scripts/).
fdw_repo_root() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

# True when a tracefs is mounted at $1.
fdw_is_tracefs() {
	awk -v d="$1" '$2 == d && $3 == "tracefs" { found = 1 } END { exit !found }' /proc/mounts
}

# Mount tracefs at /sys/kernel/tracing when it is missing, and say so on
# stderr. fdwatch's per-syscall tracepoints (tracepoint/syscalls/*) are
# resolved through tracefs; raw and BTF tracepoints do not need it.
# Returns 0 when tracefs is mounted afterwards, 1 otherwise.
fdw_mount_tracefs() {
	local dir=$FDW_TRACEFS err

	if fdw_is_tracefs "$dir"; then
		return 0
	fi
	if [[ ! -d $dir ]]; then
		fdw_log "$dir does not exist (kernel without tracefs?): per-syscall tracepoints cannot be used"
		return 1
	fi
	if err=$(mount -t tracefs tracefs "$dir" 2>&1); then
		fdw_log "tracefs was not mounted: mounted it at $dir"
		return 0
	fi
	fdw_log "tracefs is not mounted at $dir and mounting it failed: ${err:-unknown error}"
	return 1
}

# Configure a meson build directory: set it up when new, reconfigure when
# it exists (so optional dependencies installed since are picked up), and
# wipe it when the reconfigure fails (e.g. made by another meson version).
# Usage: fdw_meson_setup BUILDDIR [meson options...]
fdw_meson_setup() {
	local dir=$1
	shift
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		if ! meson setup --reconfigure "$dir" "$@"; then
			fdw_log "reconfiguring $dir failed: wiping it and configuring again"
			meson setup --wipe "$dir" "$@"
		fi
	else
		meson setup "$dir" "$@"
	fi
}
