/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/*
 * Where `key` goes in the n elements of `size` bytes at `base`, sorted by
 * `cmp`: the index of the first element not below it, in [0, n] (n when
 * all are). cmp(element, key) is the qsort(3) comparator that sorted the
 * array. Unlike bsearch(3), which returns any equal element or NULL, this
 * finds where a run of equal elements starts, or the next one up (the
 * lookups that then walk a run, or take a range by its lower end).
 */
static inline size_t fdw_lower_bound(const void *key, const void *base, size_t n, size_t size,
				     int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp((const char *)base + mid * size, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* FDW_LOWER_BOUND(key, array, count, cmp): the element size from the array */
#define FDW_LOWER_BOUND(key, v, n, cmp) fdw_lower_bound((key), (v), (n), sizeof(*(v)), (cmp))
