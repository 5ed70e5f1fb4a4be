// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The request corpus (tests/fuzz/corpus, the fuzzer's seeds) as a unit
 * test: every nasty request there, sent whole to a real server, gets the
 * status tests/fuzz/expected.txt names (a 4xx for the malformed ones,
 * 404 for another user's pid), the server hangs up every time and holds
 * no client after. argv[1]: the tests/fuzz directory.
 */
#include "../fuzz/request_harness.h"
#include "check.h"

static int status_of(const char *resp, size_t len)
{
	if (len < 12 || memcmp(resp, "HTTP/1.1 ", 9))
		return 0;
	return atoi(resp + 9);
}

int main(int argc, char **argv)
{
	static char data[1 << 16], resp[1 << 16];
	char path[4096], name[256];
	unsigned int n = 0;
	int want;
	FILE *list;

	if (argc < 2) {
		fprintf(stderr, "usage: test-requests TESTS_FUZZ_DIR\n");
		return 2;
	}
	harness_init();
	snprintf(path, sizeof(path), "%s/expected.txt", argv[1]);
	list = fopen(path, "re");
	CHECK(list != NULL);
	while (list && fgets(path, sizeof(path), list)) {
		size_t len, got;
		FILE *f;

		if (path[0] == '#' || sscanf(path, "%255s %d", name, &want) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/corpus/%s", argv[1], name);
		f = fopen(path, "re");
		CHECK(f != NULL);
		if (!f)
			continue;
		len = fread(data, 1, sizeof(data), f);
		fclose(f);
		got = harness_request((const uint8_t *)data, len, resp, sizeof(resp));
		if (status_of(resp, got) != want)
			fprintf(stderr, "%s: answered %.*s\n", name,
				(int)(got > 200 ? 200 : got), resp);
		CHECK_EQ(status_of(resp, got), want);
		/* an error names what was wrong, as JSON */
		if (want >= 400)
			CHECK(memmem(resp, got, "{\"error\":", 9) != NULL);
		n++;
	}
	if (list)
		fclose(list);
	CHECK(n >= 50);
	CHECK(S->clients == NULL);
	CHECK_EQ(S->nclients, 0);
	printf("%u requests; %u passed, %u failed\n", n, check_passed, check_failed);
	fdw_server_free(S);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
	fx_free(&F);
	return check_failed ? 1 : 0;
}
