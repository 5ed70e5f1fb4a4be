// SPDX-License-Identifier: LGPL-2.1-or-later
/* base/grow.c: the appenders' array growth. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/grow.h"
#include "check.h"

struct pair {
	uint64_t a, b;
};

int main(void)
{
	struct pair *v = NULL, *before;
	size_t n = 0, cap = 0;

	/* the first call allocates `first`; no call before it is full does */
	CHECK_EQ(FDW_GROW(v, n, cap, 4), 0);
	CHECK(v != NULL);
	CHECK_EQ(cap, 4);
	before = v;
	for (n = 1; n < 4; n++) {
		CHECK_EQ(FDW_GROW(v, n, cap, 4), 0);
		CHECK_EQ(cap, 4);
	}
	CHECK(v == before);
	/* full: doubled, the elements kept */
	for (size_t i = 0; i < 4; i++)
		v[i] = (struct pair){ i, ~i };
	CHECK_EQ(FDW_GROW(v, n, cap, 4), 0);
	CHECK_EQ(cap, 8);
	for (size_t i = 0; i < 4; i++)
		CHECK(v[i].a == i && v[i].b == ~i);
	/* 10,000 appends: every index written is inside the array (ASan) */
	for (; n < 10000; n++) {
		CHECK_EQ(FDW_GROW(v, n, cap, 4), 0);
		v[n] = (struct pair){ n, n };
	}
	CHECK(cap >= 10000 && cap < 20000);
	CHECK(v[9999].a == 9999);
	/* a count past the capacity (a caller's slip) still gets room for it */
	{
		struct pair *w = NULL;
		size_t wcap = 0;

		CHECK_EQ(FDW_GROW(w, 100, wcap, 4), 0);
		CHECK(wcap > 100);
		free(w);
	}
	/* a size that would overflow: -ENOMEM, the array untouched */
	before = v;
	{
		size_t huge = SIZE_MAX / 2 + 1, old = huge;
		void *p = v;

		CHECK_EQ(fdw_grow(&p, &huge, old, sizeof(*v), 4), -ENOMEM);
		CHECK_EQ(huge, old);
		CHECK(p == before);
		huge = SIZE_MAX / sizeof(*v) / 2 + 1;
		old = huge;
		CHECK_EQ(fdw_grow(&p, &huge, old, sizeof(*v), 4), -ENOMEM);
		CHECK_EQ(huge, old);
		CHECK(p == before);
	}
	/* nonsense arguments */
	{
		void *p = NULL;
		size_t c = 0;

		CHECK_EQ(fdw_grow(&p, &c, 0, 0, 4), -EINVAL);
		CHECK_EQ(fdw_grow(&p, &c, 0, 8, 0), -EINVAL);
		CHECK(p == NULL && c == 0);
	}
	free(v);
	return check_summary();
}
