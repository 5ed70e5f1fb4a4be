/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small open-addressing hash map from uint64_t keys to pointers (linear
 * probing, backward-shift deletion). Keys are tids, pids and kernel
 * addresses; values are owned by the caller.
 *
 * The buckets grow (doubled) past 3/4 full and shrink (halved) at 1/8 full
 * or less, never under FDW_HASHMAP_MIN_CAP: a burst of processes gives its
 * buckets back when it goes, and a map that hovers around one size does
 * not resize back and forth (the halved map is 1/4 full: it grows again
 * only after its entries triple). Each resize walks the buckets; a shrink
 * follows a halving of the entries, so removal stays O(1) amortised.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fdw_hashmap_entry {
	uint64_t key;
	void *value; /* NULL marks an empty bucket */
};

#define FDW_HASHMAP_MIN_CAP 16

struct fdw_hashmap {
	struct fdw_hashmap_entry *buckets;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

void fdw_hashmap_init(struct fdw_hashmap *h);
void fdw_hashmap_free(struct fdw_hashmap *h);
void *fdw_hashmap_get(const struct fdw_hashmap *h, uint64_t key);
/* Insert or replace; value must not be NULL. 0 or -ENOMEM. */
int fdw_hashmap_put(struct fdw_hashmap *h, uint64_t key, void *value);
/* Remove and return the value, NULL when absent. May shrink the buckets. */
void *fdw_hashmap_remove(struct fdw_hashmap *h, uint64_t key);
static inline size_t fdw_hashmap_size(const struct fdw_hashmap *h)
{
	return h->len;
}

/*
 * Iterate: size_t i = 0; uint64_t k; void *v;
 * while (fdw_hashmap_next(h, &i, &k, &v)) ...
 * Do not insert while iterating; removing the current entry is not safe
 * either (collect keys first).
 */
int fdw_hashmap_next(const struct fdw_hashmap *h, size_t *iter, uint64_t *key, void **value);
