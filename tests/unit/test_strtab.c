// SPDX-License-Identifier: LGPL-2.1-or-later
/* base/strtab.c: interned, refcounted strings. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/strtab.h"
#include "check.h"

static void test_share(void)
{
	struct fdw_strtab t;
	const char *a, *b, *c;
	char buf[32];

	fdw_strtab_init(&t);
	CHECK(fdw_strtab_get(&t, NULL) == NULL);
	a = fdw_strtab_get(&t, "/var/log/app.log");
	snprintf(buf, sizeof(buf), "/var/log/%s", "app.log");
	b = fdw_strtab_get(&t, buf);
	c = fdw_strtab_get(&t, "pipe:[1234]");
	CHECK(a && b && c);
	CHECK(a == b);	/* one copy */
	CHECK(a != buf);
	CHECK(a != c);
	CHECK_STR(a, "/var/log/app.log");
	CHECK_EQ(fdw_strtab_refs(a), 2);
	CHECK_EQ(t.len, 2);
	CHECK_EQ(t.bytes, strlen("/var/log/app.log") + 1 + strlen("pipe:[1234]") + 1);
	CHECK(fdw_strtab_ref(a) == a);
	CHECK_EQ(fdw_strtab_refs(a), 3);
	CHECK(fdw_strtab_ref(NULL) == NULL);
	fdw_strtab_put(&t, a);
	fdw_strtab_put(&t, b);
	CHECK_EQ(t.len, 2);
	CHECK_STR(a, "/var/log/app.log"); /* a reference is left */
	fdw_strtab_put(&t, a);
	CHECK_EQ(t.len, 1);
	fdw_strtab_put(&t, NULL);
	/* gone: getting it again makes a new one, with one reference */
	a = fdw_strtab_get(&t, "/var/log/app.log");
	CHECK_EQ(fdw_strtab_refs(a), 1);
	CHECK(fdw_strtab_get(&t, "") != NULL); /* the empty string too */
	CHECK_EQ(t.len, 3);
	fdw_strtab_free(&t);
	CHECK_EQ(t.len, 0);
	fdw_strtab_free(NULL);
}

/* Many strings: growth, lookups across collisions, deletion in any order
 * (backward shift keeps every remaining one findable), shrink. */
static void test_many(void)
{
	enum { N = 5000 };
	static const char *p[N];
	struct fdw_strtab t;
	char buf[32];
	size_t cap_full;

	fdw_strtab_init(&t);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "socket:[%d]", i * 7919);
		p[i] = fdw_strtab_get(&t, buf);
		CHECK(p[i] != NULL);
	}
	CHECK_EQ(t.len, N);
	CHECK(t.cap >= N * 4 / 3);
	cap_full = t.cap;
	/* drop the odd ones, then every remaining one is found, not remade */
	for (int i = 1; i < N; i += 2)
		fdw_strtab_put(&t, p[i]);
	CHECK_EQ(t.len, N / 2);
	for (int i = 0; i < N; i += 2) {
		snprintf(buf, sizeof(buf), "socket:[%d]", i * 7919);
		CHECK(fdw_strtab_get(&t, buf) == p[i]);
		CHECK_EQ(fdw_strtab_refs(p[i]), 2);
		fdw_strtab_put(&t, p[i]);
	}
	CHECK_EQ(t.len, N / 2);
	/* down to a few: the table shrank */
	for (int i = 0; i < N - 20; i += 2)
		fdw_strtab_put(&t, p[i]);
	CHECK_EQ(t.len, 10);
	CHECK(t.cap < cap_full);
	for (int i = N - 20; i < N; i += 2) {
		snprintf(buf, sizeof(buf), "socket:[%d]", i * 7919);
		CHECK(fdw_strtab_get(&t, buf) == p[i]);
		fdw_strtab_put(&t, p[i]);
		fdw_strtab_put(&t, p[i]);
	}
	CHECK_EQ(t.len, 0);
	CHECK_EQ(t.bytes, 0);
	fdw_strtab_free(&t);
}

/* A bound on the bytes: a new string past it is refused (nothing made,
 * *out untouched), one already interned is shared at any size, and room
 * made by a put is taken again. */
static void test_bound(void)
{
	struct fdw_strtab t;
	const char *a = NULL, *b = NULL, *c = NULL, *x = (const char *)&t;

	fdw_strtab_init(&t);
	CHECK_EQ(fdw_strtab_get_max(&t, "/aaaa", 12, &a), 0); /* 6 bytes */
	CHECK_EQ(fdw_strtab_get_max(&t, "/bbbbb", 12, &b), -ENOSPC); /* 7: 13 > 12 */
	CHECK(b == NULL);
	CHECK_EQ(t.bytes, 6);
	CHECK_EQ(fdw_strtab_get_max(&t, "/bbbb", 12, &b), 0); /* 6: exactly 12 */
	CHECK_EQ(t.bytes, 12);
	CHECK_EQ(fdw_strtab_get_max(&t, "/c", 12, &x), -ENOSPC);
	CHECK(x == (const char *)&t); /* untouched */
	CHECK_EQ(t.len, 2);
	CHECK_EQ(t.bytes, 12);
	/* an interned one is shared past the bound, even a bound of 0 */
	CHECK_EQ(fdw_strtab_get_max(&t, "/aaaa", 0, &c), 0);
	CHECK(c == a);
	CHECK_EQ(fdw_strtab_refs(a), 2);
	/* room again once a string is gone */
	fdw_strtab_put(&t, b);
	CHECK_EQ(fdw_strtab_get_max(&t, "/c", 12, &x), 0);
	CHECK_STR(x, "/c");
	CHECK_EQ(t.bytes, 9);
	CHECK_EQ(fdw_strtab_get_max(&t, NULL, 12, &x), -EINVAL);
	CHECK_EQ(fdw_strtab_get_max(&t, "/too-long-alone", 8, &b), -ENOSPC);
	CHECK_EQ(fdw_strtab_get_max(&t, "/d", SIZE_MAX, &b), 0); /* no overflow */
	fdw_strtab_put(&t, a);
	fdw_strtab_put(&t, c);
	fdw_strtab_put(&t, x);
	fdw_strtab_put(&t, b);
	CHECK_EQ(t.len, 0);
	CHECK_EQ(t.bytes, 0);
	fdw_strtab_free(&t);
}

int main(void)
{
	test_share();
	test_many();
	test_bound();
	return check_summary();
}
