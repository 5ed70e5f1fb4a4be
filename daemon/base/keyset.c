// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/keyset.h"

static inline uint64_t key_of(const struct fdw_keyset *s, uint32_t h)
{
	const char *rec = s->resolve(s->ctx, h);
	uint64_t k;

	memcpy(&k, rec + s->key_off, sizeof(k));
	return k;
}

void fdw_keyset_init(struct fdw_keyset *s, size_t key_off, fdw_keyset_resolve_fn resolve,
		     void *ctx)
{
	s->buckets = NULL;
	s->cap = 0;
	s->len = 0;
	s->key_off = key_off;
	s->resolve = resolve;
	s->ctx = ctx;
}

void fdw_keyset_free(struct fdw_keyset *s)
{
	if (!s)
		return;
	free(s->buckets);
	s->buckets = NULL;
	s->cap = 0;
	s->len = 0;
}

static uint32_t *find(const struct fdw_keyset *s, uint64_t key)
{
	size_t mask, i;

	if (!s->cap)
		return NULL;
	mask = s->cap - 1;
	for (i = fdw_hash64(key) & mask;; i = (i + 1) & mask) {
		uint32_t *b = &s->buckets[i];

		if (!*b)
			return NULL;
		if (key_of(s, *b) == key)
			return b;
	}
}

void *fdw_keyset_get(const struct fdw_keyset *s, uint64_t key)
{
	uint32_t *b = find(s, key);

	return b ? s->resolve(s->ctx, *b) : NULL;
}

static void insert_new(const struct fdw_keyset *s, uint32_t *b, size_t cap, uint64_t key,
		       uint32_t h)
{
	size_t mask = cap - 1, i;

	for (i = fdw_hash64(key) & mask; b[i]; i = (i + 1) & mask)
		;
	b[i] = h;
}

static int grow(struct fdw_keyset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 16;
	uint32_t *nb = calloc(ncap, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->buckets[i])
			insert_new(s, nb, ncap, key_of(s, s->buckets[i]), s->buckets[i]);
	free(s->buckets);
	s->buckets = nb;
	s->cap = ncap;
	return 0;
}

int fdw_keyset_put(struct fdw_keyset *s, void *rec, uint32_t h)
{
	uint64_t key;
	uint32_t *b;
	int r;

	if (!rec || !h)
		return -EINVAL;
	memcpy(&key, (const char *)rec + s->key_off, sizeof(key));
	b = find(s, key);
	if (b) {
		*b = h;
		return 0;
	}
	if ((s->len + 1) * 4 > s->cap * 3) {
		r = grow(s);
		if (r < 0)
			return r;
	}
	insert_new(s, s->buckets, s->cap, key, h);
	s->len++;
	return 0;
}

void *fdw_keyset_remove(struct fdw_keyset *s, uint64_t key)
{
	uint32_t *b = find(s, key);
	size_t mask, i, j;
	void *rec;

	if (!b)
		return NULL;
	rec = s->resolve(s->ctx, *b);
	mask = s->cap - 1;
	i = (size_t)(b - s->buckets);
	/* backward-shift: pull later entries of the run into the hole */
	for (j = (i + 1) & mask; s->buckets[j]; j = (j + 1) & mask) {
		size_t home = fdw_hash64(key_of(s, s->buckets[j])) & mask;

		/* move j to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			s->buckets[i] = s->buckets[j];
			i = j;
		}
	}
	s->buckets[i] = 0;
	s->len--;
	return rec;
}
