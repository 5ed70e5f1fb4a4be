/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * User stack frames to text, "function+0xoff (module)", with elfutils'
 * libdwfl reading the live process's mappings and ELF symbol tables (and
 * separate debug info when installed). Without libdw (the build option is
 * off or the library is missing) frames stay hexadecimal.
 *
 * One symbolizer per process, created while the process is alive (its
 * /proc/PID/maps is read once, again when an address falls outside every
 * module seen: a library loaded later).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdw_symbolizer;

/* Whether frames can be named at all in this build. */
bool fdw_symbolizer_available(void);

/* 0 or -errno (-ENOTSUP without libdw, -ESRCH when the process is gone). */
int fdw_symbolizer_new(uint32_t pid, struct fdw_symbolizer **out);
/* NULL-safe. */
void fdw_symbolizer_free(struct fdw_symbolizer *s);

/*
 * Name one frame into buf (always NUL-terminated, something is always
 * written: "0x7f12... (libc.so.6)" or "0x7f12..." when nothing better is
 * known). `return_address`: the frame is a return address (every frame but
 * the first of a stack), looked up one byte earlier so a call at the very
 * end of a function is not named after the next one. `s` may be NULL.
 * Returns 1 when a function name was found, else 0.
 */
int fdw_symbolize(struct fdw_symbolizer *s, uint64_t ip, bool return_address, char *buf,
		  size_t len);
