// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/strtab.h"

struct fdw__str {
	uint32_t refs;
	uint32_t hash;
	char s[]; /* NUL-terminated */
};

static struct fdw__str *str_of(const char *s)
{
	return (struct fdw__str *)(s - offsetof(struct fdw__str, s));
}

/* FNV-1a, 32 bits: the strings are short paths and pipe:[ino] names. */
static uint32_t str_hash(const char *s, size_t *len)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = s; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	*len = (size_t)(p - s);
	return h;
}

void fdw_strtab_init(struct fdw_strtab *t)
{
	memset(t, 0, sizeof(*t));
}

void fdw_strtab_free(struct fdw_strtab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->buckets[i]);
	free(t->buckets);
	fdw_strtab_init(t);
}

static void insert_new(struct fdw__str **b, size_t cap, struct fdw__str *e)
{
	size_t i;

	for (i = e->hash & (cap - 1); b[i]; i = (i + 1) & (cap - 1))
		;
	b[i] = e;
}

static int resize(struct fdw_strtab *t, size_t ncap)
{
	struct fdw__str **nb = calloc(ncap, sizeof(*nb));

	if (!nb)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->buckets[i])
			insert_new(nb, ncap, t->buckets[i]);
	free(t->buckets);
	t->buckets = nb;
	t->cap = ncap;
	return 0;
}

int fdw_strtab_get_max(struct fdw_strtab *t, const char *s, size_t max_bytes, const char **out)
{
	struct fdw__str *e;
	size_t len, i;
	uint32_t h;

	if (!s)
		return -EINVAL;
	h = str_hash(s, &len);
	if (t->cap) {
		for (i = h & (t->cap - 1); (e = t->buckets[i]); i = (i + 1) & (t->cap - 1))
			if (e->hash == h && !strcmp(e->s, s)) {
				e->refs++;
				*out = e->s;
				return 0;
			}
	}
	if (len + 1 > max_bytes || t->bytes > max_bytes - (len + 1))
		return -ENOSPC;
	/* at most 3/4 full */
	if ((t->len + 1) * 4 > t->cap * 3 && resize(t, t->cap ? t->cap * 2 : 16) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->refs = 1;
	e->hash = h;
	memcpy(e->s, s, len + 1);
	insert_new(t->buckets, t->cap, e);
	t->len++;
	t->bytes += len + 1;
	*out = e->s;
	return 0;
}

const char *fdw_strtab_get(struct fdw_strtab *t, const char *s)
{
	const char *r;

	return fdw_strtab_get_max(t, s, SIZE_MAX, &r) < 0 ? NULL : r;
}

const char *fdw_strtab_ref(const char *s)
{
	if (s)
		str_of(s)->refs++;
	return s;
}

uint32_t fdw_strtab_refs(const char *s)
{
	return s ? str_of(s)->refs : 0;
}

void fdw_strtab_put(struct fdw_strtab *t, const char *s)
{
	struct fdw__str *e;
	size_t mask, i, j;

	if (!s)
		return;
	e = str_of(s);
	if (--e->refs > 0)
		return;
	mask = t->cap - 1;
	for (i = e->hash & mask; t->buckets[i] != e; i = (i + 1) & mask)
		;
	/* backward-shift deletion: no tombstones */
	for (j = (i + 1) & mask; t->buckets[j]; j = (j + 1) & mask) {
		size_t home = t->buckets[j]->hash & mask;

		/* the entry at j may move to i unless its home lies in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->buckets[i] = t->buckets[j];
			i = j;
		}
	}
	t->buckets[i] = NULL;
	t->len--;
	t->bytes -= strlen(e->s) + 1;
	free(e);
	/* shrink when a quarter full or less (a burst of names went away) */
	if (t->cap > 16 && t->len * 4 <= t->cap)
		(void)resize(t, t->cap / 2);
}
