#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzz.sh FUZZER SEED_CORPUS WORK_CORPUS SECONDS
# libFuzzer for SECONDS on the seed corpus (read only: the source tree) and
# a work corpus in the build tree, where what it finds new is kept between
# runs. Exit 0 when nothing crashed; a crash leaves its input as
# WORK_CORPUS/../crash-* (printed), and libFuzzer's exit code.
set -eu
fuzzer=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$secs" -max_len=24000 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$(dirname "$work")/" "$work" "$seeds"
