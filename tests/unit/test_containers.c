// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/hashmap.c and base/keyset.c give their buckets back after a burst:
 * they shrink at an eighth full, not before (hysteresis: a map that goes
 * up and down around one size does not resize each time), never under
 * their minimum, and every entry left stays findable across each shrink.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/hashmap.h"
#include "base/keyset.h"
#include "check.h"

enum { N = 100000 };

static int vals[N];

static uint64_t key_at(int i)
{
	return (uint64_t)i * 4096 + 0xffff888000000000ull; /* kernel-address-like */
}

static void test_hashmap_shrink(void)
{
	struct fdw_hashmap h;
	size_t peak, cap;
	int i;

	fdw_hashmap_init(&h);
	for (i = 0; i < N; i++)
		CHECK_EQ(fdw_hashmap_put(&h, key_at(i), &vals[i]), 0);
	peak = h.cap;
	CHECK(peak >= (size_t)N * 4 / 3);
	/* down to just over an eighth: not one resize */
	for (i = 0; (size_t)(N - i) * 8 > peak + 8; i++)
		CHECK(fdw_hashmap_remove(&h, key_at(i)) == &vals[i]);
	CHECK_EQ(h.cap, peak);
	/* the burst goes on leaving: the buckets follow it down */
	for (; i < N - 10; i++)
		CHECK(fdw_hashmap_remove(&h, key_at(i)) == &vals[i]);
	CHECK_EQ(h.len, 10);
	CHECK(h.cap <= 128);
	CHECK(h.cap >= FDW_HASHMAP_MIN_CAP);
	for (int j = N - 10; j < N; j++)
		CHECK(fdw_hashmap_get(&h, key_at(j)) == &vals[j]);
	/* hysteresis: entries that go up and down by a few do not resize it */
	cap = h.cap;
	for (int round = 0; round < 100; round++) {
		for (int j = 0; j < 3; j++)
			CHECK_EQ(fdw_hashmap_put(&h, key_at(j), &vals[j]), 0);
		for (int j = 0; j < 3; j++)
			CHECK(fdw_hashmap_remove(&h, key_at(j)) == &vals[j]);
	}
	CHECK_EQ(h.cap, cap);
	/* emptied: the minimum, still usable */
	for (i = N - 10; i < N; i++)
		CHECK(fdw_hashmap_remove(&h, key_at(i)) == &vals[i]);
	CHECK_EQ(h.len, 0);
	CHECK_EQ(h.cap, FDW_HASHMAP_MIN_CAP);
	CHECK_EQ(fdw_hashmap_put(&h, 7, &vals[7]), 0);
	CHECK(fdw_hashmap_get(&h, 7) == &vals[7]);
	fdw_hashmap_free(&h);
}

/* a keyset's records: handle h is recs[h - 1] */
struct keyrec {
	uint32_t pad;
	uint64_t key;
};

static struct keyrec recs[N];

static void *keyrec_resolve(void *ctx, uint32_t h)
{
	CHECK(ctx == recs);
	CHECK(h >= 1 && h <= N);
	return &recs[h - 1];
}

static void test_keyset_shrink(void)
{
	struct fdw_keyset s;
	size_t peak, cap;
	int i;

	fdw_keyset_init(&s, offsetof(struct keyrec, key), keyrec_resolve, recs);
	for (i = 0; i < N; i++) {
		recs[i].key = key_at(i);
		CHECK_EQ(fdw_keyset_put(&s, &recs[i], (uint32_t)i + 1), 0);
	}
	peak = s.cap;
	CHECK(peak >= (size_t)N * 2);
	for (i = 0; (size_t)(N - i) * 8 > peak + 8; i++)
		CHECK(fdw_keyset_remove(&s, recs[i].key) == &recs[i]);
	CHECK_EQ(s.cap, peak);
	/* the rest but 10, every other one by remove_rec */
	for (; i < N - 10; i++) {
		if (i & 1)
			CHECK(fdw_keyset_remove_rec(&s, recs[i].key, &recs[i]));
		else
			CHECK(fdw_keyset_remove(&s, recs[i].key) == &recs[i]);
	}
	CHECK_EQ(fdw_keyset_size(&s), 10);
	CHECK(s.cap <= 128);
	CHECK(s.cap >= FDW_KEYSET_MIN_CAP);
	for (int j = N - 10; j < N; j++)
		CHECK(fdw_keyset_get(&s, recs[j].key) == &recs[j]);
	for (int j = 0; j < 10; j++)
		CHECK(fdw_keyset_get(&s, recs[j].key) == NULL);
	cap = s.cap;
	for (int round = 0; round < 100; round++) {
		for (int j = 0; j < 3; j++)
			CHECK_EQ(fdw_keyset_put(&s, &recs[j], (uint32_t)j + 1), 0);
		for (int j = 0; j < 3; j++)
			CHECK(fdw_keyset_remove(&s, recs[j].key) == &recs[j]);
	}
	CHECK_EQ(s.cap, cap);
	for (i = N - 10; i < N; i++)
		CHECK(fdw_keyset_remove(&s, recs[i].key) == &recs[i]);
	CHECK_EQ(fdw_keyset_size(&s), 0);
	CHECK_EQ(s.cap, FDW_KEYSET_MIN_CAP);
	CHECK_EQ(fdw_keyset_put(&s, &recs[5], 6), 0);
	CHECK(fdw_keyset_get(&s, recs[5].key) == &recs[5]);
	fdw_keyset_free(&s);
}

int main(void)
{
	test_hashmap_shrink();
	test_keyset_shrink();
	return check_summary();
}
