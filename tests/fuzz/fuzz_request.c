// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target for the API's request path: request_harness.h. */
#include "request_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char resp[1 << 16];

	(void)harness_request(data, size, resp, sizeof(resp));
	return 0;
}
