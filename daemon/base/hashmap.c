// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>

#include "base/hash.h"
#include "base/hashmap.h"

void fdw_hashmap_init(struct fdw_hashmap *h)
{
	h->buckets = NULL;
	h->cap = 0;
	h->len = 0;
}

void fdw_hashmap_free(struct fdw_hashmap *h)
{
	if (!h)
		return;
	free(h->buckets);
	fdw_hashmap_init(h);
}

static struct fdw_hashmap_entry *find(const struct fdw_hashmap *h, uint64_t key)
{
	size_t mask, i;

	if (!h->cap)
		return NULL;
	mask = h->cap - 1;
	for (i = fdw_hash64(key) & mask;; i = (i + 1) & mask) {
		struct fdw_hashmap_entry *e = &h->buckets[i];

		if (!e->value)
			return NULL;
		if (e->key == key)
			return e;
	}
}

void *fdw_hashmap_get(const struct fdw_hashmap *h, uint64_t key)
{
	struct fdw_hashmap_entry *e = find(h, key);

	return e ? e->value : NULL;
}

static void insert_new(struct fdw_hashmap_entry *b, size_t cap, uint64_t key, void *value)
{
	size_t mask = cap - 1, i;

	for (i = fdw_hash64(key) & mask; b[i].value; i = (i + 1) & mask)
		;
	b[i].key = key;
	b[i].value = value;
}

/* Into ncap buckets (a power of two that holds every entry). */
static int resize(struct fdw_hashmap *h, size_t ncap)
{
	struct fdw_hashmap_entry *nb = calloc(ncap, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++)
		if (h->buckets[i].value)
			insert_new(nb, ncap, h->buckets[i].key, h->buckets[i].value);
	free(h->buckets);
	h->buckets = nb;
	h->cap = ncap;
	return 0;
}

int fdw_hashmap_put(struct fdw_hashmap *h, uint64_t key, void *value)
{
	struct fdw_hashmap_entry *e;
	int r;

	if (!value)
		return -EINVAL;
	e = find(h, key);
	if (e) {
		e->value = value;
		return 0;
	}
	/* keep the load factor under 3/4 */
	if ((h->len + 1) * 4 > h->cap * 3) {
		r = resize(h, h->cap ? h->cap * 2 : FDW_HASHMAP_MIN_CAP);
		if (r < 0)
			return r;
	}
	insert_new(h->buckets, h->cap, key, value);
	h->len++;
	return 0;
}

void *fdw_hashmap_remove(struct fdw_hashmap *h, uint64_t key)
{
	struct fdw_hashmap_entry *e = find(h, key);
	size_t mask, i, j;
	void *value;

	if (!e)
		return NULL;
	value = e->value;
	mask = h->cap - 1;
	i = (size_t)(e - h->buckets);
	/* backward-shift: pull later entries of the run into the hole */
	for (j = (i + 1) & mask; h->buckets[j].value; j = (j + 1) & mask) {
		size_t home = fdw_hash64(h->buckets[j].key) & mask;

		/* move j to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			h->buckets[i] = h->buckets[j];
			i = j;
		}
	}
	h->buckets[i].value = NULL;
	h->buckets[i].key = 0;
	h->len--;
	/* an eighth full or less (a burst went away): half the buckets, a
	 * quarter full, far from the growth at 3/4. Out of memory, it keeps
	 * the bigger table. */
	if (h->cap > FDW_HASHMAP_MIN_CAP && h->len * 8 <= h->cap)
		(void)resize(h, h->cap / 2);
	return value;
}

int fdw_hashmap_next(const struct fdw_hashmap *h, size_t *iter, uint64_t *key, void **value)
{
	for (size_t i = *iter; i < h->cap; i++) {
		if (h->buckets[i].value) {
			if (key)
				*key = h->buckets[i].key;
			if (value)
				*value = h->buckets[i].value;
			*iter = i + 1;
			return 1;
		}
	}
	*iter = h->cap;
	return 0;
}
