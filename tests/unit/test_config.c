// SPDX-License-Identifier: LGPL-2.1-or-later
/* config/: defaults, every kind of option, ranges and errors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config/config.h"

/* Parse a NULL-terminated list of arguments (after "fdwatchd"). */
static int parse(struct fdw_config *cfg, const char *const *args)
{
	char *argv[32] = { "fdwatchd" };
	int argc = 1;
	FILE *saved = stderr;
	int r;

	for (; args[argc - 1] && argc < 31; argc++)
		argv[argc] = (char *)args[argc - 1];
	optind = 0; /* glibc: start a fresh scan */
	opterr = 0;
	stderr = fopen("/dev/null", "we");
	r = fdw_config_parse_args(cfg, argc, argv);
	fclose(stderr);
	stderr = saved;
	return r;
}

#define PARSE(cfg, ...) parse(cfg, (const char *const[]){ __VA_ARGS__, NULL })

int main(void)
{
	struct fdw_config c;

	fdw_config_defaults(&c);
	CHECK_STR(c.socket_path, "/run/fdwatch/fdwatch.sock");
	CHECK_STR(c.lock_file, "/run/fdwatch/fdwatchd.lock");
	CHECK_STR(c.proc_root, "/proc");
	CHECK_EQ(c.ringbuf_bytes, 64u << 20);
	CHECK_EQ(c.audit_interval_s, 60);
	CHECK_EQ(c.max_clients, 64);
	CHECK(c.metrics_listen == NULL);
	CHECK(!c.precise_ts && !c.verbose);

	/* one of each kind */
	CHECK_EQ(PARSE(&c, "--socket", "/tmp/s", "--history", "5", "--ringbuf-mb", "8",
		       "--audit-interval", "0", "--precise-ts", "-v", "--metrics-listen",
		       "127.0.0.1:0", "--max-fds=7", "--lock-file", "/tmp/l"), 0);
	CHECK_STR(c.socket_path, "/tmp/s");
	CHECK_STR(c.lock_file, "/tmp/l");
	CHECK_EQ(c.history_size, 5);
	CHECK_EQ(c.ringbuf_bytes, 8u << 20);
	CHECK_EQ(c.audit_interval_s, 0);
	CHECK_EQ(c.max_fds, 7);
	CHECK(c.precise_ts && c.verbose);
	CHECK_STR(c.metrics_listen, "127.0.0.1:0");

	/* refused values leave the field as it was */
	fdw_config_defaults(&c);
	CHECK_EQ(PARSE(&c, "--ringbuf-mb", "3"), -EINVAL); /* not a power of two */
	CHECK_EQ(c.ringbuf_bytes, 64u << 20);
	CHECK_EQ(PARSE(&c, "--history", "0"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--history", "-1"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--history", "12x"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--audit-interval", "86401"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--max-processes", "4294967296"), -EINVAL);
	CHECK_EQ(c.history_size, 100000);
	CHECK_EQ(PARSE(&c, "--metrics-listen", "8.8.8.8:9464"), -EINVAL);
	CHECK(c.metrics_listen == NULL);
	CHECK_EQ(PARSE(&c, "--leak", "no_such_setting=1"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--bogus"), -EINVAL);
	CHECK_EQ(PARSE(&c, "stray"), -EINVAL);
	CHECK_EQ(PARSE(&c, "--socket"), -EINVAL); /* missing argument */

	/* --help and --version are answered, not run */
	{
		FILE *saved = stdout;

		stdout = fopen("/dev/null", "we");
		CHECK_EQ(PARSE(&c, "--help"), 1);
		CHECK_EQ(PARSE(&c, "-V"), 1);
		fclose(stdout);
		stdout = saved;
	}
	return check_summary();
}
