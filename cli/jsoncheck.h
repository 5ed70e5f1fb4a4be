/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Is a body JSON, without building it: for an answer the CLI prints as it
 * came (--json), where parsing 4 MB into a jansson tree only to check it
 * and free it took longer than the daemon took to send it.
 */
#ifndef FDWATCH_CLI_JSONCHECK_H
#define FDWATCH_CLI_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * true when s[0..len) is what json_loadb(s, len, 0, ...) accepts: one
 * object or array with only whitespace around it, strings of valid UTF-8
 * without control characters, escapes that name a character other than
 * U+0000 (surrogates in pairs), numbers of RFC 8259's grammar that fit
 * (integers in 64 bits, reals finite), nesting at most 2048 deep.
 * Allocates nothing.
 */
bool fdw_json_valid(const char *s, size_t len);

/*
 * The end of the one JSON value (any kind) that starts at p, leading
 * whitespace skipped; NULL when there is none up to end or it is not
 * valid as fdw_json_valid() says.
 */
const char *fdw_json_skip(const char *p, const char *end);

#endif
