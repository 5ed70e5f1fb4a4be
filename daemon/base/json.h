/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON vocabulary shared by every layer that writes JSON (the detectors'
 * evidence, the checks, the API): bytes as a JSON string, and the name of
 * an fd's type. One definition, so two outputs never spell a value two ways.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/*
 * A JSON string for bytes that need not be UTF-8 (paths, targets, comms):
 * valid UTF-8 is kept as is; any other byte becomes the four characters
 * "\xNN". Never NULL for a non-NULL `s` unless out of memory; NULL `s` gives
 * JSON null.
 */
json_t *fdw_json_bytes(const char *s);

/*
 * A copy of `v` another thread may read while this one goes on changing
 * `v`: its objects and arrays are new, its scalars (strings, numbers) are
 * shared, reference-counted. Costs a node per container, whatever the
 * bytes of its strings. Sound because nothing here changes a scalar in
 * place (no json_string_set() and the like: a value is replaced, never
 * edited) and jansson counts references atomically. NULL when out of
 * memory or `v` is NULL.
 */
json_t *fdw_json_copy_shared(json_t *v);

/*
 * Writers for answers too large to build as a jansson tree first (the
 * streamed fds and processes): each writes to `f` exactly the bytes
 * json_dumps() gives for the same value with JSON_COMPACT and
 * JSON_REAL_PRECISION(`precision`), without allocating. A write error
 * (out of memory in a memstream) is left in ferror(f).
 */
/* fdw_json_bytes(s) dumped: "..." or null. */
void fdw_json_put_bytes(FILE *f, const char *s);
/* A real; a value JSON cannot hold (NaN, infinite) as null. */
void fdw_json_put_real(FILE *f, double v, int precision);
void fdw_json_put_int(FILE *f, int64_t v);
/* An integer, or past INT64_MAX its digits as a string (render.c's json_u64). */
void fdw_json_put_u64(FILE *f, uint64_t v);

/*
 * "reg", "dir", "chr", "blk", "fifo", "sock", "lnk" from the S_IFMT bits of
 * `mode`; for an anonymous inode (mode 0) inferred from the /proc link
 * target ("pipe:[..]", "socket:[..]", "anon_inode:..."); else "unknown".
 */
const char *fdw_fd_type_name(uint32_t mode, const char *target);
