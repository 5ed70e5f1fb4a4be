/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small shared helpers: FNV-1a and splitmix64 hashing, qsort comparators. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FDW_FNV_OFFSET 0xcbf29ce484222325ull
#define FDW_FNV_PRIME 0x100000001b3ull

/* FNV-1a over `len` bytes, continuing from `h` (start with FDW_FNV_OFFSET). */
static inline uint64_t fdw_fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FDW_FNV_PRIME;
	}
	return h;
}

/* The same over a NUL-terminated string (NULL hashes as ""). */
static inline uint64_t fdw_fnv_str(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= FDW_FNV_PRIME;
	}
	return h;
}

/* splitmix64's finalizer: kernel addresses and small ints both spread
 * (the open-addressing tables of base/hashmap.c and base/keyset.c). */
static inline size_t fdw_hash64(uint64_t k)
{
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k;
}

/* qsort() comparator for uint32_t. */
static inline int fdw_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}
