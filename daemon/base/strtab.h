/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interned strings: one refcounted copy of each distinct string. The
 * model names thousands of open file descriptions with a handful of paths
 * (one log file opened by every worker, /dev/null, the same pipe's two
 * ends): each holds a reference, not a copy.
 *
 * A string from fdw_strtab_get() is an ordinary NUL-terminated string that
 * must not be changed; give each reference back with fdw_strtab_put().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fdw__str; /* private to base/strtab.c */

struct fdw_strtab {
	struct fdw__str **buckets; /* open addressing; NULL marks an empty bucket */
	size_t cap;		   /* power of two, or 0 */
	size_t len;		   /* distinct strings */
	size_t bytes;		   /* their lengths, NULs included */
};

void fdw_strtab_init(struct fdw_strtab *t);
/* Every string must have been put back (it asserts nothing: what is left
 * is freed; pointers to it dangle). NULL-safe. */
void fdw_strtab_free(struct fdw_strtab *t);
/* A reference to the interned copy of s (made if new): NULL when out of
 * memory, or s is NULL. */
const char *fdw_strtab_get(struct fdw_strtab *t, const char *s);
/*
 * fdw_strtab_get() under a bound: a string already interned is shared at
 * any size (it costs nothing new); a new one is made only while t->bytes
 * stays at most max_bytes with it. *out is set on success only. 0, -ENOSPC
 * (new and past the bound), -ENOMEM, or -EINVAL (s NULL).
 */
int fdw_strtab_get_max(struct fdw_strtab *t, const char *s, size_t max_bytes, const char **out);
/* One more reference to s, a string fdw_strtab_get() returned (no lookup).
 * NULL-safe; returns s. */
const char *fdw_strtab_ref(const char *s);
/* Give back a reference; the last frees the string. NULL-safe. */
void fdw_strtab_put(struct fdw_strtab *t, const char *s);
/* References held on s (a string fdw_strtab_get() returned). */
uint32_t fdw_strtab_refs(const char *s);
