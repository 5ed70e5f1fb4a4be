#!/usr/bin/env bash
# Mount tracefs at /sys/kernel/tracing when it is missing, and say so.
# Exit 0 when tracefs is mounted afterwards, 1 otherwise.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fdw_mount_tracefs
