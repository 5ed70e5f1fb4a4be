// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Golden test of the human events view: every object of
 * tests/golden/events.jsonl (the daemon's rendering of every traced
 * syscall, checked by tests/unit/test_events_golden.c) as `fdwatch events`
 * prints its SYSCALL, ARGS and RET columns, compared with
 * tests/golden/events.txt: "SYSCALL ARGS = RET" (the default columns),
 * then indented, the CALL column ("openat(AT_FDCWD, ...) = 3", as strace
 * prints it).
 *
 *   test_golden JSONL TXT            compare
 *   test_golden --write JSONL TXT    rewrite TXT (review the diff!)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "render.h"

static char *render_file(const char *jsonl)
{
	FILE *in = fopen(jsonl, "re");
	char *out = NULL, *line = NULL;
	size_t len = 0, cap = 0;
	FILE *f;

	if (!in)
		return NULL;
	f = open_memstream(&out, &len);
	while (f && getline(&line, &cap, in) > 0) {
		json_error_t err;
		json_t *ev = json_loads(line, 0, &err);
		char *args = ev ? fdw_event_args(ev) : NULL;
		char ret[64];

		if (!ev || !args) {
			fprintf(f, "(bad line: %s)\n", err.text);
		} else {
			char *call = fdw_event_call(ev);

			fdw_event_ret(ret, sizeof(ret), ev);
			fprintf(f, "%s%s%s = %s\n",
				json_string_value(json_object_get(ev, "syscall")),
				*args ? " " : "", args, ret);
			/* the CALL column: the same event as strace would print it */
			fprintf(f, "  %s\n", call ? call : "(ENOMEM)");
			free(call);
		}
		free(args);
		json_decref(ev);
	}
	free(line);
	fclose(in);
	if (f)
		fclose(f);
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

int main(int argc, char **argv)
{
	unsigned int passed = 0, failed = 0;
	char *got, *want, *gs, *ws, *gl, *wl;
	int line = 0;

	if (argc == 4 && !strcmp(argv[1], "--write")) {
		FILE *f;

		got = render_file(argv[2]);
		f = got ? fopen(argv[3], "we") : NULL;
		if (!f || fputs(got, f) < 0 || fclose(f)) {
			perror(argv[3]);
			return 1;
		}
		free(got);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s [--write] JSONL TXT\n", argv[0]);
		return 2;
	}
	got = render_file(argv[1]);
	want = slurp(argv[2]);
	if (!got || !want) {
		fprintf(stderr, "cannot read %s or %s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	gl = strtok_r(got, "\n", &gs);
	wl = strtok_r(want, "\n", &ws);
	while (gl || wl) {
		line++;
		if (!gl || !wl || strcmp(gl, wl)) {
			if (failed++ < 5)
				fprintf(stderr, "%s:%d:\n  want %s\n  got  %s\n", argv[2], line,
					wl ? wl : "(end)", gl ? gl : "(end)");
		} else {
			passed++;
		}
		gl = gl ? strtok_r(NULL, "\n", &gs) : NULL;
		wl = wl ? strtok_r(NULL, "\n", &ws) : NULL;
	}
	/* an empty golden file proves nothing */
	if (line < 20) {
		fprintf(stderr, "only %d lines\n", line);
		failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	free(got);
	free(want);
	return failed ? 1 : 0;
}
