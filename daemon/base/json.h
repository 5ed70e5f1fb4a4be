/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON vocabulary shared by every layer that writes JSON (the detectors'
 * evidence, the checks, the API): bytes as a JSON string, and the name of
 * an fd's type. One definition, so two outputs never spell a value two ways.
 */
#pragma once

#include <stdint.h>

#include <jansson.h>

/*
 * A JSON string for bytes that need not be UTF-8 (paths, targets, comms):
 * valid UTF-8 is kept as is; any other byte becomes the four characters
 * "\xNN". Never NULL for a non-NULL `s` unless out of memory; NULL `s` gives
 * JSON null.
 */
json_t *fdw_json_bytes(const char *s);

/*
 * "reg", "dir", "chr", "blk", "fifo", "sock", "lnk" from the S_IFMT bits of
 * `mode`; for an anonymous inode (mode 0) inferred from the /proc link
 * target ("pipe:[..]", "socket:[..]", "anon_inode:..."); else "unknown".
 */
const char *fdw_fd_type_name(uint32_t mode, const char *target);
