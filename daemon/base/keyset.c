// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/keyset.h"

/*
 * A bucket: the handle in the low 24 bits, the top 8 bits of the key's
 * hash above it. Probing compares the tags and reads a record (a cache miss
 * into the records' memory) only when they match: 1 in 256 of the others.
 * Before the tags, every probe resolved its record, and a socket's life
 * (four probe runs) cost ~27% of the daemon's CPU per event on a
 * socket+close flood (perf). 0 is an empty bucket; TOMB, a removed entry
 * (a handle is never 0): removal writes one bucket and reads no record,
 * where backward-shift deletion resolved every entry after the hole.
 */
#define HANDLE_BITS 24
#define HANDLE_MASK ((1u << HANDLE_BITS) - 1)
#define TOMB (0xffu << HANDLE_BITS)

static inline uint32_t tag_of(uint64_t hash)
{
	return (uint32_t)(hash >> 56) << HANDLE_BITS;
}

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
	s->tombs = 0;
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
	s->tombs = 0;
}

/* The bucket holding `key`, NULL when none; *hash gets the key's hash. */
static uint32_t *find(const struct fdw_keyset *s, uint64_t key, uint64_t hash)
{
	uint32_t tag = tag_of(hash);
	size_t mask, i;

	if (!s->cap)
		return NULL;
	mask = s->cap - 1;
	for (i = hash & mask;; i = (i + 1) & mask) {
		uint32_t *b = &s->buckets[i];

		if (!*b)
			return NULL;
		if (*b != TOMB && (*b & ~HANDLE_MASK) == tag &&
		    key_of(s, *b & HANDLE_MASK) == key)
			return b;
	}
}

void *fdw_keyset_get(const struct fdw_keyset *s, uint64_t key)
{
	uint32_t *b = find(s, key, fdw_hash64(key));

	return b ? s->resolve(s->ctx, *b & HANDLE_MASK) : NULL;
}

/* The first free bucket (empty or removed) of hash's probe run. */
static uint32_t *free_bucket(uint32_t *buckets, size_t cap, uint64_t hash)
{
	size_t mask = cap - 1, i;

	for (i = hash & mask; buckets[i] && buckets[i] != TOMB; i = (i + 1) & mask)
		;
	return &buckets[i];
}

/* Into ncap buckets (a power of two), without the removed entries. */
static int rehash(struct fdw_keyset *s, size_t ncap)
{
	uint32_t *nb = calloc(ncap, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		uint32_t b = s->buckets[i];

		if (b && b != TOMB)
			*free_bucket(nb, ncap, fdw_hash64(key_of(s, b & HANDLE_MASK))) = b;
	}
	free(s->buckets);
	s->buckets = nb;
	s->cap = ncap;
	s->tombs = 0;
	return 0;
}

int fdw_keyset_put(struct fdw_keyset *s, void *rec, uint32_t h)
{
	uint64_t key, hash;
	uint32_t *b;
	int r;

	if (!rec || !h)
		return -EINVAL;
	if (h > HANDLE_MASK)
		return -E2BIG;
	memcpy(&key, (const char *)rec + s->key_off, sizeof(key));
	hash = fdw_hash64(key);
	b = find(s, key, hash);
	if (b) {
		*b = tag_of(hash) | h;
		return 0;
	}
	/* used buckets (live and removed) under 3/4: grow when the live ones
	 * pass half, else rebuild at the same size to clear the removed */
	if ((s->len + s->tombs + 1) * 4 > s->cap * 3) {
		size_t ncap = s->cap;

		if (!ncap)
			ncap = FDW_KEYSET_MIN_CAP;
		else if ((s->len + 1) * 2 > ncap)
			ncap *= 2;

		r = rehash(s, ncap);
		if (r < 0)
			return r;
	}
	b = free_bucket(s->buckets, s->cap, hash);
	if (*b == TOMB)
		s->tombs--;
	*b = tag_of(hash) | h;
	s->len++;
	return 0;
}

static void *remove_at(struct fdw_keyset *s, uint32_t *b)
{
	void *rec = s->resolve(s->ctx, *b & HANDLE_MASK);
	size_t i = (size_t)(b - s->buckets);

	/* the end of a probe run needs no marker: runs that pass it stop
	 * at the empty bucket after it just as well */
	if (!s->buckets[(i + 1) & (s->cap - 1)]) {
		*b = 0;
	} else {
		*b = TOMB;
		s->tombs++;
	}
	s->len--;
	/*
	 * An eighth full or less: rebuilt at half the size (a quarter full,
	 * no removed entries), far from the growth at half full. 500,000
	 * pipes held 4 MiB of buckets for good after they closed. A rebuild
	 * reads every record left: it follows a halving of them, so a
	 * removal's share stays O(1). Out of memory, the bigger table stays.
	 */
	if (s->cap > FDW_KEYSET_MIN_CAP && s->len * 8 <= s->cap)
		(void)rehash(s, s->cap / 2);
	return rec;
}

void *fdw_keyset_remove(struct fdw_keyset *s, uint64_t key)
{
	uint32_t *b = find(s, key, fdw_hash64(key));

	return b ? remove_at(s, b) : NULL;
}

bool fdw_keyset_remove_rec(struct fdw_keyset *s, uint64_t key, const void *rec)
{
	uint32_t *b = find(s, key, fdw_hash64(key));

	if (!b || s->resolve(s->ctx, *b & HANDLE_MASK) != rec)
		return false;
	remove_at(s, b);
	return true;
}
