// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/clock: monotonic stamps as wall-clock seconds keep their order. The
 * offset between the clocks used to be read anew per conversion, and it
 * moves by the distance between the two clock reads: the same stamp came
 * out different from one call to the next, and events with equal stamps
 * were listed out of order (test_events, in CI).
 */
#include <math.h>
#include <time.h>

#include "base/clock.h"
#include "check.h"

int main(void)
{
	uint64_t mono = fdw_now_mono();
	double first = fdw_mono_to_real(mono), prev = first, real = fdw_now_real();
	unsigned int differ = 0, backwards = 0;

	/* today's wall clock, give or take the calls in between */
	CHECK(fabs(first - real) < 0.5);
	for (int i = 0; i < 200000; i++) {
		double x = fdw_mono_to_real(mono);

		differ += x != first;
	}
	CHECK_EQ(differ, 0);
	/* rising stamps, converted one by one, never go back */
	for (uint64_t i = 1; i <= 200000; i++) {
		double x = fdw_mono_to_real(mono + i * 10);

		backwards += x < prev;
		prev = x;
	}
	CHECK_EQ(backwards, 0);
	return check_summary();
}
