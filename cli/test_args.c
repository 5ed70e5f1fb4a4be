// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli-args: unit test of the CLI's pure parts (no daemon): argument
 * parsing, the table code, the cell formatters and the human renderers.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "args.h"
#include "jsoncheck.h"
#include "output.h"
#include "races.h"
#include "render.h"

static int passed, failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			passed++;                                          \
		} else {                                                   \
			failed++;                                          \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,      \
				__LINE__, #cond);                          \
		}                                                          \
	} while (0)

#define CHECK_STR(got, want)                                               \
	do {                                                               \
		const char *g_ = (got), *w_ = (want);                      \
		if (g_ && w_ && !strcmp(g_, w_)) {                         \
			passed++;                                          \
		} else {                                                   \
			failed++;                                          \
			fprintf(stderr, "FAIL %s:%d: %s\n  got:  \"%s\"\n" \
				"  want: \"%s\"\n", __FILE__, __LINE__,    \
				#got, g_ ? g_ : "(null)",                  \
				w_ ? w_ : "(null)");                       \
		}                                                          \
	} while (0)

/* ---- argument parsing -------------------------------------------------- */

/* Parse "fdwatch" followed by the NULL-terminated arguments. */
static int parse(struct fdw_args *a, const char *env, ...)
{
	char *argv[32] = { "fdwatch" };
	int argc = 1;
	va_list ap;
	char *s;

	va_start(ap, env);
	while ((s = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	return fdw_args_parse(a, argc, argv, env);
}

/* Expect a usage error whose message contains want. */
#define CHECK_USAGE(want, ...)                                             \
	do {                                                               \
		struct fdw_args a_;                                        \
		int r_ = parse(&a_, NULL, __VA_ARGS__, NULL);              \
		CHECK(r_ == -EINVAL);                                      \
		CHECK(a_.cmd == FDW_CMD_NONE);                             \
		if (!strstr(a_.error, want)) {                             \
			failed++;                                          \
			fprintf(stderr, "FAIL %s:%d: error \"%s\" lacks "  \
				"\"%s\"\n", __FILE__, __LINE__,            \
				a_.error, want);                           \
		} else {                                                   \
			passed++;                                          \
		}                                                          \
	} while (0)

static void test_parse_int(void)
{
	int v = -1;

	CHECK(fdw_parse_int("42", 1, INT_MAX, &v) == 0 && v == 42);
	CHECK(fdw_parse_int("0", 0, INT_MAX, &v) == 0 && v == 0);
	CHECK(fdw_parse_int("007", 0, INT_MAX, &v) == 0 && v == 7);
	CHECK(fdw_parse_int("2147483647", 0, INT_MAX, &v) == 0 &&
	      v == INT_MAX);
	v = 5;
	CHECK(fdw_parse_int("2147483648", 0, INT_MAX, &v) == -ERANGE);
	CHECK(fdw_parse_int("99999999999999999999999", 0, INT_MAX, &v) ==
	      -ERANGE);
	CHECK(fdw_parse_int("0", 1, INT_MAX, &v) == -ERANGE);
	CHECK(fdw_parse_int("11", 1, 10, &v) == -ERANGE);
	CHECK(v == 5);	/* untouched on failure */
	CHECK(fdw_parse_int("", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int(NULL, 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("-1", -5, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("+1", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int(" 1", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("1 ", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("12x", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("0x10", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("1e3", 0, INT_MAX, &v) == -EINVAL);
	CHECK(fdw_parse_int("abc", 0, INT_MAX, &v) == -EINVAL);
	CHECK(v == 5);
}

static void test_commands(void)
{
	struct fdw_args a;

	CHECK(parse(&a, NULL, "status", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_STATUS);
	CHECK_STR(a.socket, FDW_DEFAULT_SOCKET);
	CHECK(!a.json && !a.noheadings && !a.follow && !a.has_pid &&
	      !a.has_fd && !a.has_limit);

	CHECK(parse(&a, NULL, "ps", NULL) == 0 && a.cmd == FDW_CMD_PS);

	CHECK(parse(&a, NULL, "fds", "42", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FDS && a.has_pid && a.pid == 42 && !a.has_fd);

	CHECK(parse(&a, NULL, "fds", "42", "0", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FD && a.pid == 42 && a.has_fd && a.fd == 0);
	CHECK(parse(&a, NULL, "fds", "1", "2147483647", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FD && a.pid == 1 && a.fd == INT_MAX);

	CHECK(parse(&a, NULL, "events", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_EVENTS && !a.has_pid && !a.has_limit &&
	      !a.follow);

	CHECK(parse(&a, NULL, "verify", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_VERIFY && !a.has_pid);
	CHECK(parse(&a, NULL, "verify", "7", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_VERIFY && a.has_pid && a.pid == 7);

	CHECK(parse(&a, NULL, "leaks", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_LEAKS && !a.follow);
	CHECK(parse(&a, NULL, "leaks", "-f", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_LEAKS && a.follow);
	CHECK(parse(&a, NULL, "--follow", "leaks", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_LEAKS && a.follow);

	CHECK(parse(&a, NULL, "help", NULL) == 0 && a.cmd == FDW_CMD_HELP);
	CHECK(parse(&a, NULL, "-h", NULL) == 0 && a.cmd == FDW_CMD_HELP);
	CHECK(parse(&a, NULL, "--help", NULL) == 0 && a.cmd == FDW_CMD_HELP);
	CHECK(parse(&a, NULL, "fds", "--help", NULL) == 0 &&
	      a.cmd == FDW_CMD_HELP);
	/* --help wins over a bad command, as with most tools. */
	CHECK(parse(&a, NULL, "bogus", "-h", NULL) == 0 &&
	      a.cmd == FDW_CMD_HELP);
	CHECK(parse(&a, NULL, "-V", NULL) == 0 && a.cmd == FDW_CMD_VERSION);
	CHECK(parse(&a, NULL, "--version", NULL) == 0 &&
	      a.cmd == FDW_CMD_VERSION);

	CHECK_STR(fdw_cmd_name(FDW_CMD_FD), "fds");
	CHECK_STR(fdw_cmd_name(FDW_CMD_EVENTS), "events");
}

static void test_socket(void)
{
	struct fdw_args a;

	CHECK(parse(&a, "/env/sock", "status", NULL) == 0);
	CHECK_STR(a.socket, "/env/sock");
	CHECK(parse(&a, "", "status", NULL) == 0);
	CHECK_STR(a.socket, FDW_DEFAULT_SOCKET);
	CHECK(parse(&a, "/env/sock", "status", "--socket", "/opt/s", NULL) == 0);
	CHECK_STR(a.socket, "/opt/s");
	CHECK(parse(&a, "/env/sock", "--socket=/opt/t", "status", NULL) == 0);
	CHECK_STR(a.socket, "/opt/t");
	CHECK(parse(&a, NULL, "--socket", "/a", "ps", "--socket", "/b",
		    NULL) == 0);
	CHECK_STR(a.socket, "/b");	/* the last one wins */
	/* The value may look like a command. */
	CHECK(parse(&a, NULL, "--socket", "ps", "status", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_STATUS);
	CHECK_STR(a.socket, "ps");

	CHECK_USAGE("requires an argument", "status", "--socket");
	CHECK_USAGE("empty path", "status", "--socket", "");
	CHECK_USAGE("empty path", "status", "--socket=");
}

static void test_placement(void)
{
	struct fdw_args a;

	CHECK(parse(&a, NULL, "-J", "ps", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_PS && a.json && !a.noheadings);
	CHECK(parse(&a, NULL, "ps", "--json", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_PS && a.json);
	CHECK(parse(&a, NULL, "ps", "-n", NULL) == 0);
	CHECK(a.noheadings && !a.json);
	CHECK(parse(&a, NULL, "--noheadings", "ps", NULL) == 0);
	CHECK(a.noheadings);
	CHECK(parse(&a, NULL, "-Jn", "ps", NULL) == 0);
	CHECK(a.json && a.noheadings);
	CHECK(parse(&a, NULL, "ps", "-nJ", NULL) == 0);
	CHECK(a.json && a.noheadings);

	/* Options between the command and its arguments. */
	CHECK(parse(&a, NULL, "fds", "-J", "42", "--socket", "/s", "3", "-n",
		    NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FD && a.pid == 42 && a.fd == 3 && a.json &&
	      a.noheadings);
	CHECK_STR(a.socket, "/s");
	CHECK(parse(&a, NULL, "--json", "fds", "7", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FDS && a.pid == 7 && a.json);

	/* "--" ends options. */
	CHECK(parse(&a, NULL, "-J", "--", "status", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_STATUS && a.json);
	CHECK(parse(&a, NULL, "fds", "--", "12", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FDS && a.pid == 12);
}

static void test_events_options(void)
{
	struct fdw_args a;

	CHECK(parse(&a, NULL, "events", "--pid", "42", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_EVENTS && a.has_pid && a.pid == 42 &&
	      !a.has_limit);
	CHECK(parse(&a, NULL, "events", "--pid=43", NULL) == 0);
	CHECK(a.has_pid && a.pid == 43);
	CHECK(parse(&a, NULL, "-p", "44", "events", NULL) == 0);
	CHECK(a.has_pid && a.pid == 44);
	CHECK(parse(&a, NULL, "events", "-p45", NULL) == 0);
	CHECK(a.has_pid && a.pid == 45);
	CHECK(parse(&a, NULL, "events", "--limit", "5", NULL) == 0);
	CHECK(a.has_limit && a.limit == 5 && !a.has_pid);
	CHECK(parse(&a, NULL, "events", "--limit=0", NULL) == 0);
	CHECK(a.has_limit && a.limit == 0);
	CHECK(parse(&a, NULL, "events", "-f", NULL) == 0);
	CHECK(a.follow);
	CHECK(parse(&a, NULL, "--follow", "events", NULL) == 0);
	CHECK(a.follow);
	CHECK(parse(&a, NULL, "events", "-fJ", "--pid", "1", "--limit", "10",
		    NULL) == 0);
	CHECK(a.follow && a.json && a.pid == 1 && a.limit == 10);
	CHECK(parse(&a, NULL, "events", "-nfp", "9", NULL) == 0);
	CHECK(a.noheadings && a.follow && a.has_pid && a.pid == 9);
	CHECK(parse(&a, NULL, "--pid", "3", "--limit", "4", "events",
		    NULL) == 0);
	CHECK(a.cmd == FDW_CMD_EVENTS && a.pid == 3 && a.limit == 4);
}

static void test_usage_errors(void)
{
	CHECK_USAGE("no command", "-J");
	CHECK_USAGE("no command", "--socket", "/s");
	CHECK_USAGE("unknown command 'bogus'", "bogus");
	CHECK_USAGE("unknown command 'STATUS'", "STATUS");
	CHECK_USAGE("unknown option '--bogus'", "status", "--bogus");
	CHECK_USAGE("unknown option '--bogus'", "--bogus=1", "status");
	CHECK_USAGE("unknown option '-x'", "status", "-x");
	CHECK_USAGE("unknown option '-x'", "ps", "-Jx");
	CHECK_USAGE("unknown option '--jso'", "ps", "--jso");
	CHECK_USAGE("doesn't allow an argument", "ps", "--json=yes");

	CHECK_USAGE("missing PID", "fds");
	CHECK_USAGE("missing PID", "fds", "-J");
	CHECK_USAGE("invalid PID: 'abc'", "fds", "abc");
	CHECK_USAGE("invalid PID: '12x'", "fds", "12x");
	CHECK_USAGE("invalid PID: ''", "fds", "");
	CHECK_USAGE("invalid PID: '+5'", "fds", "+5");
	CHECK_USAGE("invalid PID: ' 5'", "fds", " 5");
	CHECK_USAGE("invalid PID: '0x10'", "fds", "0x10");
	CHECK_USAGE("invalid PID: '-5'", "fds", "--", "-5");
	CHECK_USAGE("unknown option '-5'", "fds", "-5");
	CHECK_USAGE("PID out of range: '0'", "fds", "0");
	CHECK_USAGE("PID out of range: '2147483648'", "fds", "2147483648");
	CHECK_USAGE("PID out of range", "fds", "99999999999999999999999");
	CHECK_USAGE("invalid fd: 'x'", "fds", "1", "x");
	CHECK_USAGE("invalid fd: '-1'", "fds", "1", "--", "-1");
	CHECK_USAGE("fd out of range", "fds", "1", "4294967296");
	CHECK_USAGE("too many arguments", "fds", "1", "2", "3");
	CHECK_USAGE("too many arguments", "fds", "1", "2", "3", "4", "5",
		    "6");

	CHECK_USAGE("unexpected argument '1'", "status", "1");
	CHECK_USAGE("unexpected argument 'x'", "ps", "x");
	CHECK_USAGE("unexpected argument '5'", "events", "5");
	CHECK_USAGE("unexpected argument '5'", "leaks", "5");
	CHECK_USAGE("too many arguments", "verify", "1", "2");
	CHECK_USAGE("invalid PID: 'me'", "verify", "me");
	CHECK_USAGE("PID out of range: '0'", "verify", "0");

	CHECK_USAGE("'--pid' is only valid with 'ps', 'fds', 'events', 'leaks', 'top' and 'races'",
		    "--pid", "1", "verify");
	CHECK_USAGE("'--pid' is only valid with", "status", "-p", "1");
	CHECK_USAGE("only valid with 'events'", "fds", "1", "--limit", "3");
	CHECK_USAGE("'--follow' is only valid", "status", "-f");
	CHECK_USAGE("'--follow' is only valid", "--follow", "fds", "1");
	CHECK_USAGE("'--follow' is only valid", "verify", "--follow");

	CHECK_USAGE("invalid PID: 'abc'", "events", "--pid", "abc");
	CHECK_USAGE("PID out of range: '0'", "events", "--pid=0");
	CHECK_USAGE("requires an argument", "events", "--pid");
	CHECK_USAGE("requires an argument", "events", "-p");
	CHECK_USAGE("invalid limit: '-1'", "events", "--limit", "-1");
	CHECK_USAGE("invalid limit: 'ten'", "events", "--limit=ten");
	CHECK_USAGE("limit out of range", "events", "--limit", "3000000000");
	CHECK_USAGE("requires an argument", "events", "--limit");
}

static void test_help_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	if (!f)
		return;
	fdw_help(f);
	fclose(f);
	CHECK(strstr(buf, "Exit status") != NULL);
	CHECK(strstr(buf, "--socket PATH") != NULL);
	CHECK(strstr(buf, "--noheadings") != NULL);
	CHECK(strstr(buf, "  3  verify") != NULL);
	free(buf);
}

/* ---- output.c ---------------------------------------------------------- */

static void test_formatters(void)
{
	char buf[64];
	char *s;

	CHECK(fdw_text_width("abc") == 3);
	CHECK(fdw_text_width("") == 0);
	CHECK(fdw_text_width(NULL) == 0);
	CHECK(fdw_text_width("caf\xc3\xa9") == 4);
	CHECK(fdw_text_width("\xe2\x82\xac" "1") == 2);

	s = fdw_escape("a\nb\tc\x7f" "d\\e");
	CHECK_STR(s, "a\\x0ab\\x09c\\x7fd\\x5ce");
	free(s);
	s = fdw_escape("/tmp/caf\xc3\xa9 x");
	CHECK_STR(s, "/tmp/caf\xc3\xa9 x");
	free(s);
	/* the C1 controls as UTF-8 (U+0080 to U+009F: xterm and VTE take
	 * U+009B for CSI, U+009D for OSC) are controls too; U+00A0 is not */
	s = fdw_escape("a\xc2\x9b" "2J\xc2\x9d" "0;pw\xc2\x9c\xc2\xa0z");
	CHECK_STR(s, "a\\xc2\\x9b2J\\xc2\\x9d0;pw\\xc2\\x9c\xc2\xa0z");
	free(s);
	s = fdw_escape("end\xc2");
	CHECK_STR(s, "end\xc2");
	free(s);

	fdw_format_age(buf, sizeof(buf), 1000, 0, false);
	CHECK_STR(buf, "-");
	fdw_format_age(buf, sizeof(buf), 1000, 1000, true);
	CHECK_STR(buf, "0s");
	fdw_format_age(buf, sizeof(buf), 1000, 996.1, true);
	CHECK_STR(buf, "3s");
	fdw_format_age(buf, sizeof(buf), 1000, 940.01, true);
	CHECK_STR(buf, "59s");
	fdw_format_age(buf, sizeof(buf), 1000, 940, true);
	CHECK_STR(buf, "1m");
	fdw_format_age(buf, sizeof(buf), 1000, 700, true);
	CHECK_STR(buf, "5m");
	fdw_format_age(buf, sizeof(buf), 10000, 10000 - 3599, true);
	CHECK_STR(buf, "59m");
	fdw_format_age(buf, sizeof(buf), 10000, 10000 - 3600, true);
	CHECK_STR(buf, "1h");
	fdw_format_age(buf, sizeof(buf), 100000, 100000 - 86399, true);
	CHECK_STR(buf, "23h");
	fdw_format_age(buf, sizeof(buf), 1e6, 1e6 - 86400 * 4 - 5, true);
	CHECK_STR(buf, "4d");
	fdw_format_age(buf, sizeof(buf), 1000, 1005, true);
	CHECK_STR(buf, "0s");	/* clock skew: never negative */
	fdw_format_age(buf, sizeof(buf), 1000, NAN, true);
	CHECK_STR(buf, "-");

	fdw_format_duration(buf, sizeof(buf), 12.5);
	CHECK_STR(buf, "12s");
	fdw_format_duration(buf, sizeof(buf), 0);
	CHECK_STR(buf, "0s");
	fdw_format_duration(buf, sizeof(buf), 65);
	CHECK_STR(buf, "1m 5s");
	fdw_format_duration(buf, sizeof(buf), 3725.5);
	CHECK_STR(buf, "1h 2m 5s");
	fdw_format_duration(buf, sizeof(buf), 3600);
	CHECK_STR(buf, "1h 0m 0s");
	fdw_format_duration(buf, sizeof(buf), 90061);
	CHECK_STR(buf, "1d 1h 1m");
	fdw_format_duration(buf, sizeof(buf), -1);
	CHECK_STR(buf, "-");

	fdw_format_clock(buf, sizeof(buf), 1795000000.123456, true);
	CHECK_STR(buf, "11:06:40.123");
	fdw_format_clock(buf, sizeof(buf), 59.9999, true);
	CHECK_STR(buf, "00:00:59.999");
	fdw_format_clock(buf, sizeof(buf), 5, false);
	CHECK_STR(buf, "-");

	fdw_format_ret(buf, sizeof(buf), 10, NULL);
	CHECK_STR(buf, "10");
	fdw_format_ret(buf, sizeof(buf), 0, "EBADF");
	CHECK_STR(buf, "0");
	fdw_format_ret(buf, sizeof(buf), -9, "EBADF");
	CHECK_STR(buf, "-9 (EBADF)");
	fdw_format_ret(buf, sizeof(buf), -24, "EMFILE");
	CHECK_STR(buf, "-24 (EMFILE)");
	fdw_format_ret(buf, sizeof(buf), -2, NULL);
	CHECK_STR(buf, "-2 (ENOENT)");	/* derived when the daemon omits it */
	fdw_format_ret(buf, sizeof(buf), -2, "");
	CHECK_STR(buf, "-2 (ENOENT)");
	fdw_format_ret(buf, sizeof(buf), -99999, NULL);
	CHECK_STR(buf, "-99999");
}

static char *print_table(const struct fdw_table *t, bool headings, int *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*r = -ENOMEM;
		return NULL;
	}
	*r = fdw_table_print(t, f, headings);
	fclose(f);
	return buf;
}

static char *print_style(const struct fdw_table *t, const struct fdw_table_style *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (fdw_table_print_style(t, f, st) < 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/*
 * A name with a newline and one with the four characters \x0a must not
 * print alike, in columns or raw (-r), and raw must not escape an escape
 * a second time.
 */
static void test_escape_unambiguous(void)
{
	static const struct fdw_column cols[] = {
		{ "NAME", 0, 0 },
	};
	const struct fdw_table_style plain = { .headings = false };
	const struct fdw_table_style raw = { .raw = true };
	struct fdw_table *t = NULL;
	char *a = fdw_escape("t\nx"), *b = fdw_escape("t\\x0ax"), *out;

	CHECK_STR(a, "t\\x0ax");
	CHECK_STR(b, "t\\x5cx0ax");
	CHECK(a && b && strcmp(a, b) != 0);
	free(a);
	free(b);
	b = fdw_escape("\\\\");
	CHECK_STR(b, "\\x5c\\x5c");
	free(b);

	CHECK(fdw_table_new(&t, cols, 1) == 0);
	if (!t)
		return;
	CHECK(fdw_table_add_row(t) == 0);
	CHECK(fdw_table_set(t, 0, "t\nx") == 0);
	CHECK(fdw_table_add_row(t) == 0);
	CHECK(fdw_table_set(t, 0, "t\\x0ax") == 0);
	CHECK(fdw_table_add_row(t) == 0);
	CHECK(fdw_table_put(t, 0, strdup("a\\b c")) == 0);
	CHECK_STR(fdw_table_cell(t, 0, 0), "t\\x0ax");
	CHECK_STR(fdw_table_cell(t, 1, 0), "t\\x5cx0ax");
	CHECK_STR(fdw_table_cell(t, 2, 0), "a\\x5cb c");
	out = print_style(t, &plain);
	CHECK_STR(out, "t\\x0ax\nt\\x5cx0ax\na\\x5cb c\n");
	free(out);
	out = print_style(t, &raw);
	CHECK_STR(out, "t\\x0ax\nt\\x5cx0ax\na\\x5cb\\x20c\n");
	free(out);
	fdw_table_free(t);
}

static void test_table(void)
{
	static const struct fdw_column cols[] = {
		{ "PID", FDW_COL_RIGHT, 0 },
		{ "COMMAND", 0, 0 },
		{ "NAME", 0, 0 },
	};
	struct fdw_table *t = NULL;
	char *out;
	int r;

	CHECK(fdw_table_new(&t, cols, 0) == -EINVAL);
	CHECK(fdw_table_new(&t, cols, 3) == 0);
	if (!t)
		return;
	CHECK(fdw_table_set(t, 0, "x") == -EINVAL);	/* no row yet */

	/* Empty table: only the heading. */
	out = print_table(t, true, &r);
	CHECK(r == 0);
	CHECK_STR(out, "PID  COMMAND  NAME\n");
	free(out);
	out = print_table(t, false, &r);
	CHECK_STR(out, "");
	free(out);

	CHECK(fdw_table_add_row(t) == 0);
	CHECK(fdw_table_setf(t, 0, "%d", 1) == 0);
	CHECK(fdw_table_set(t, 1, "init") == 0);
	CHECK(fdw_table_set(t, 2, NULL) == 0);
	CHECK(fdw_table_set(t, 3, "x") == -EINVAL);
	CHECK(fdw_table_add_row(t) == 0);
	CHECK(fdw_table_set(t, 0, "123456") == 0);
	CHECK(fdw_table_set(t, 1, "a\nb") == 0);
	CHECK(fdw_table_set(t, 2, "caf\xc3\xa9") == 0);
	CHECK(fdw_table_add_row(t) == 0);	/* unset cells print as "" */

	CHECK(fdw_table_rows(t) == 3);
	/* fdw_table_put takes the string: kept, escaped (and the original
	 * freed), NULL as "-", refused (and freed) past the columns; ASan
	 * sees any leak or double free. Then the cells go back as they were. */
	{
		char *plain = strdup("plain");

		CHECK(fdw_table_put(t, 0, plain) == 0);
		CHECK(fdw_table_cell(t, 2, 0) == plain);
		CHECK(fdw_table_put(t, 0, strdup("x\x7fy\ty")) == 0);
		CHECK_STR(fdw_table_cell(t, 2, 0), "x\\x7fy\\x09y");
		CHECK(fdw_table_put(t, 0, strdup("tab\there")) == 0);
		CHECK_STR(fdw_table_cell(t, 2, 0), "tab\\x09here");
		CHECK(fdw_table_put(t, 0, NULL) == 0);
		CHECK_STR(fdw_table_cell(t, 2, 0), "-");
		CHECK(fdw_table_put(t, 3, strdup("x")) == -EINVAL);
		CHECK(fdw_table_put(t, 0, strdup("")) == 0);
	}
	CHECK_STR(fdw_table_cell(t, 0, 2), "-");
	CHECK_STR(fdw_table_cell(t, 1, 1), "a\\x0ab");
	CHECK_STR(fdw_table_cell(t, 2, 0), "");
	CHECK(fdw_table_cell(t, 3, 0) == NULL);
	CHECK(fdw_table_width(t, 0, true) == 6);
	CHECK(fdw_table_width(t, 1, true) == 7);	/* "COMMAND" */
	CHECK(fdw_table_width(t, 1, false) == 6);	/* "a\x0ab" */
	CHECK(fdw_table_width(t, 2, true) == 4);	/* "café", "NAME" */
	CHECK(fdw_table_width(t, 5, true) == 0);

	out = print_table(t, true, &r);
	CHECK(r == 0);
	CHECK_STR(out,
		  "   PID  COMMAND  NAME\n"
		  "     1  init     -\n"
		  "123456  a\\x0ab   caf\xc3\xa9\n"
		  "                 \n");
	free(out);
	out = print_table(t, false, &r);
	CHECK_STR(out,
		  "     1  init    -\n"
		  "123456  a\\x0ab  caf\xc3\xa9\n"
		  "                \n");
	free(out);
	fdw_table_free(t);
	fdw_table_free(NULL);	/* NULL-safe */

	/* Growth past the first allocation. */
	CHECK(fdw_table_new(&t, cols, 3) == 0);
	for (int i = 0; i < 100; i++) {
		r = fdw_table_add_row(t);
		if (!r)
			r = fdw_table_setf(t, 0, "%d", i * 1000);
		if (r)
			break;
	}
	CHECK(r == 0 && fdw_table_rows(t) == 100);
	CHECK_STR(fdw_table_cell(t, 99, 0), "99000");
	CHECK(fdw_table_width(t, 0, false) == 5);
	fdw_table_free(t);
}

static void test_fixed_rows(void)
{
	static const struct fdw_column cols[] = {
		{ "A", 0, 4 },
		{ "N", FDW_COL_RIGHT, 3 },
		{ "LAST", 0, 10 },
	};
	const char *row1[] = { "ab", "7", "end" };
	const char *row2[] = { "toolong", "12345", NULL };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		CHECK(f != NULL);
		return;
	}
	CHECK(fdw_print_heading(f, cols, 3) == 0);
	CHECK(fdw_print_row(f, cols, 3, row1) == 0);
	CHECK(fdw_print_row(f, cols, 3, row2) == 0);
	fclose(f);
	CHECK_STR(buf,
		  "A       N  LAST\n"
		  "ab      7  end\n"
		  "toolong  12345  -\n");
	free(buf);
}

/* ---- render.c ---------------------------------------------------------- */

struct capture {
	char *out, *err;
	size_t out_len, err_len;
	struct fdw_render r;
};

static bool capture_open(struct capture *c, bool headings)
{
	memset(c, 0, sizeof(*c));
	c->r.out = open_memstream(&c->out, &c->out_len);
	c->r.err = open_memstream(&c->err, &c->err_len);
	c->r.now = 1795000000.5;
	c->r.headings = headings;
	return c->r.out && c->r.err;
}

static void capture_close(struct capture *c)
{
	if (c->r.out)
		fclose(c->r.out);
	if (c->r.err)
		fclose(c->r.err);
	c->r.out = c->r.err = NULL;
}

static void capture_free(struct capture *c)
{
	capture_close(c);
	free(c->out);
	free(c->err);
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fprintf(stderr, "bad test JSON: %s\n", e.text);
	return j;
}

static void test_json_text(void)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
		{ "\"x y\"", "x y" },
		{ "42", "42" },
		{ "-7", "-7" },
		{ "1.5", "1.5" },
		{ "true", "yes" },
		{ "false", "no" },
		{ "null", "-" },
		{ "[1,2]", "[1,2]" },
		{ "{\"a\": 1}", "{\"a\":1}" },
	};
	char *s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

		s = fdw_json_text(j);
		CHECK_STR(s, cases[i].want);
		free(s);
		json_decref(j);
	}
	s = fdw_json_text(NULL);
	CHECK_STR(s, "-");
	free(s);
}

static void test_event_cells(void)
{
	json_t *ev = load("{\"seq\": 1, \"ts\": 5.5, \"pid\": 42, \"tid\": 43,"
			  " \"comm\": \"cat\", \"syscall\": \"dup2\","
			  " \"oldfd\": 3, \"newfd\": 10, \"ret\": -9,"
			  " \"errno\": \"EBADF\"}");
	json_t *ev2 = load("{\"syscall\": \"pipe2\", \"fds\": [3, 4],"
			   " \"path\": \"/tmp/a b\", \"empty\": \"\","
			   " \"q\": \"say\\\"hi\", \"nl\": \"a\\nb\","
			   " \"cloexec\": true, \"x\": null, \"r\": 0.5,"
			   " \"flags\": \"O_RDONLY|O_CLOEXEC\", \"ret\": 0}");
	json_t *ev3 = load("{\"syscall\": \"exit\", \"pid\": 1}");
	char buf[64];
	char *s;

	if (!ev || !ev2 || !ev3) {
		CHECK(!"test JSON");
		goto out;
	}
	s = fdw_event_args(ev);
	CHECK_STR(s, "oldfd=3 newfd=10");
	free(s);
	s = fdw_event_args(ev2);
	CHECK_STR(s, "fds=[3,4] path=\"/tmp/a b\" empty=\"\" q=\"say\\\"hi\""
		  " nl=\"a\\nb\" cloexec=true x=null r=0.5"
		  " flags=O_RDONLY|O_CLOEXEC");
	free(s);
	s = fdw_event_args(ev3);
	CHECK_STR(s, "");
	free(s);
	/* the CALL column: strings quoted and escaped, as strace does */
	s = fdw_event_call(ev2);
	CHECK_STR(s, "pipe2([3,4], \"/tmp/a b\", \"\", \"say\\\"hi\", \"a\\nb\", true, null,"
		  " 0.5, \"O_RDONLY|O_CLOEXEC\") = 0");
	free(s);
	s = fdw_event_call(ev3);
	CHECK_STR(s, "exit() = ?");
	free(s);

	fdw_event_ret(buf, sizeof(buf), ev);
	CHECK_STR(buf, "-9 (EBADF)");
	fdw_event_ret(buf, sizeof(buf), ev2);
	CHECK_STR(buf, "0");
	fdw_event_ret(buf, sizeof(buf), ev3);
	CHECK_STR(buf, "-");
out:
	json_decref(ev);
	json_decref(ev2);
	json_decref(ev3);
}

static void test_render_ps(void)
{
	json_t *doc = load("{\"processes\": ["
			   "{\"pid\": 300, \"comm\": \"worker\", \"fds\": 1234,"
			   " \"table\": 12, \"stale\": true},"
			   "{\"pid\": 1, \"comm\": \"init\", \"fds\": 12,"
			   " \"table\": 7, \"stale\": false}]}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "PID  COMMAND   FDS  GROWTH  USE%  TABLE  STALE\n"
			  "  1  init       12       -     -      7  no\n"
			  "300  worker   1234       -     -     12  yes\n");
		CHECK_STR(c.err, "");
	}
	capture_free(&c);

	if (capture_open(&c, false)) {
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "  1  init      12  -  -   7  no\n"
			  "300  worker  1234  -  -  12  yes\n");
	}
	capture_free(&c);
	json_decref(doc);

	doc = load("{\"nope\": []}");
	if (capture_open(&c, true))
		CHECK(fdw_render_ps(&c.r, doc) == -EBADMSG);
	capture_free(&c);
	json_decref(doc);
}

/* A race finding of the process's root days (server/alert_view.c): no
 * thread, syscall or generation of it on its line, and no "-1". */
static void test_render_races_hidden(void)
{
	json_t *doc = load("{\"races\": [{\"id\": 7, \"kind\": \"double-close\","
			   " \"state\": \"firing\", \"pid\": 300, \"comm\": \"app\","
			   " \"summary\": \"double-close on fd 45 (hidden) (+1 more)\","
			   " \"evidence\": {\"findings\": ["
			   "{\"kind\": \"double-close\", \"pid\": 300, \"fd\": 45, \"hidden\": true,"
			   " \"seq\": null, \"tid\": null, \"syscall\": null, \"generation\": null,"
			   " \"blocked_tid\": null},"
			   "{\"kind\": \"double-close\", \"pid\": 300, \"fd\": 40, \"tid\": 301,"
			   " \"syscall\": \"close\", \"generation\": {\"generation\": 2,"
			   " \"created\": {\"syscall\": \"openat\", \"tid\": 300},"
			   " \"closed\": {\"syscall\": \"close\", \"tid\": 300}}}]}}]}");
	struct capture c;

	if (capture_open(&c, false)) {
		CHECK(fdw_render_races(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "7      double-close     firing       300 app                45       - "
			  "(hidden)       (hidden)         (hidden)         "
			  "double-close on fd 45 (hidden) (+1 more)\n"
			  "7      double-close     firing       300 app                40     301 "
			  "close          openat/300       close/300        \n");
	}
	capture_free(&c);
	json_decref(doc);
}

static void test_render_fds(void)
{
	json_t *doc = load(
		"{\"pid\": 42, \"comm\": \"cat\", \"table\": 7, \"stale\": true,"
		" \"fds\": ["
		"{\"fd\": 5, \"cloexec\": false, \"target\": \"/etc/passwd\","
		" \"type\": \"reg\", \"ofd\": 17, \"generation\": 1,"
		" \"origin\": {\"syscall\": \"dup\", \"tid\": 43,"
		"  \"ts\": 1794999700.0, \"from_fd\": 3, \"source\": \"event\"}},"
		"{\"fd\": 0, \"cloexec\": false, \"target\": \"/dev/pts/0\","
		" \"type\": \"chr\", \"ofd\": 2, \"generation\": 1,"
		" \"origin\": {\"syscall\": null, \"tid\": null, \"ts\": null,"
		"  \"from_fd\": null, \"source\": \"procfs\"}},"
		"{\"fd\": 3, \"cloexec\": true, \"target\": \"/etc/passwd\","
		" \"type\": \"reg\", \"ofd\": 17, \"generation\": 2,"
		" \"origin\": {\"syscall\": \"openat\", \"tid\": 42,"
		"  \"ts\": 1794999997.0, \"from_fd\": null,"
		"  \"source\": \"event\"}}]}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_fds(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "FD  CLOEXEC  TYPE  OFD  GEN  SYSCALL  TID  FROM  AGE  TARGET\n"
			  " 0  no       chr     2    1  -          -     -    -  /dev/pts/0\n"
			  " 3  yes      reg    17    2  openat    42     -   3s  /etc/passwd\n"
			  " 5  no       reg    17    1  dup       43     3   5m  /etc/passwd\n");
		CHECK(c.err && strstr(c.err, "warning") &&
		      strstr(c.err, "pid 42") && strstr(c.err, "stale"));
		CHECK(c.err && strstr(c.err, "events were lost"));
		CHECK(c.err && strchr(c.err, '\n') == c.err + strlen(c.err) - 1);
	}
	capture_free(&c);
	/* a re-read /proc refused: the warning says so */
	CHECK(json_object_set_new(doc, "stale_error", json_string("EACCES")) == 0);
	if (capture_open(&c, true)) {
		CHECK(fdw_render_fds(&c.r, doc) == 0);
		capture_close(&c);
		CHECK(c.err && strstr(c.err, "pid 42") && strstr(c.err, "re-read of /proc failed (EACCES)"));
		CHECK(c.err && !strstr(c.err, "events were lost"));
	}
	capture_free(&c);
	json_decref(doc);
}

static void test_render_fd(void)
{
	json_t *doc = load(
		"{\"pid\": 42, \"fd\": {\"fd\": 3, \"cloexec\": true,"
		" \"target\": \"/etc/passwd\", \"type\": \"reg\", \"ofd\": 17,"
		" \"generation\": 2, \"origin\": {\"syscall\": \"openat\","
		" \"tid\": 42, \"ts\": 1795000000.25, \"from_fd\": null,"
		" \"source\": \"event\"}, \"history\": ["
		"{\"generation\": 1, \"target\": \"/tmp/old\","
		" \"origin\": {\"syscall\": \"open\", \"tid\": 42,"
		"  \"ts\": 1794999990.0, \"from_fd\": null, \"source\": \"event\"},"
		" \"closed\": {\"syscall\": \"close\", \"tid\": 42, \"ts\": 1.0}}]}}");
	json_t *gone = load("{\"error\": \"fd 9 is not open\", \"history\": []}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_fd(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "pid:        42\n"
			  "fd:         3\n"
			  "target:     /etc/passwd\n"
			  "type:       reg\n"
			  "cloexec:    yes\n"
			  "ofd:        17\n"
			  "generation: 2\n"
			  "source:     event\n"
			  "syscall:    openat\n"
			  "tid:        42\n"
			  "from fd:    -\n"
			  "opened:     11:06:40.250 (0s ago)\n"
			  "\n"
			  "GEN  TARGET    SYSCALL  TID  OPENED        CLOSED-BY\n"
			  "  1  /tmp/old  open      42  11:06:30.000  close:42\n");
	}
	capture_free(&c);

	if (capture_open(&c, true)) {
		CHECK(fdw_render_fd_history(&c.r, gone) == 0);
		CHECK(fdw_render_fd(&c.r, gone) == -EBADMSG);
		capture_close(&c);
		CHECK_STR(c.out, "");
	}
	capture_free(&c);
	json_decref(doc);
	json_decref(gone);
}

static void test_render_status(void)
{
	json_t *doc = load(
		"{\"version\": \"0.1.0\", \"uptime_s\": 12.5,"
		" \"events_received\": 1000, \"events_lost\": 0,"
		" \"processes\": 120, \"tables\": 118, \"fds\": 3456,"
		" \"stale_tables\": 0, \"resyncs\": 0,"
		" \"audit\": {\"divergences\": 0},"
		" \"history\": {\"size\": 1000, \"capacity\": 100000}}");
	json_t *sparse = load("{\"version\": \"0.2\"}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_status(&c.r, doc) == 0);
		CHECK(fdw_render_status(&c.r, sparse) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "version:           0.1.0\n"
			  "uptime:            12s\n"
			  "events received:   1000\n"
			  "events lost:       0\n"
			  "processes:         120\n"
			  "tables:            118\n"
			  "fds tracked:       3456\n"
			  "stale tables:      0\n"
			  "resyncs:           0\n"
			  "audit divergences: 0\n"
			  "history size:      1000 (capacity 100000)\n"
			  "version:           0.2\n"
			  "uptime:            -\n"
			  "events received:   -\n"
			  "events lost:       -\n"
			  "processes:         -\n"
			  "tables:            -\n"
			  "fds tracked:       -\n"
			  "stale tables:      -\n"
			  "resyncs:           -\n"
			  "audit divergences: -\n"
			  "history size:      -\n");
	}
	capture_free(&c);
	json_decref(doc);
	json_decref(sparse);
}

static void test_render_events(void)
{
	json_t *doc = load(
		"{\"events\": ["
		"{\"seq\": 10, \"ts\": 1795000000.1, \"pid\": 42, \"tid\": 42,"
		" \"comm\": \"cat\", \"syscall\": \"dup2\", \"oldfd\": 3,"
		" \"newfd\": 10, \"ret\": 10},"
		"{\"seq\": 11, \"ts\": 1795000001.0, \"pid\": 42, \"tid\": 4242,"
		" \"comm\": \"cat\", \"syscall\": \"close\", \"fd\": 99,"
		" \"ret\": -9, \"errno\": \"EBADF\"}]}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_events(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "TIME          PID   TID  COMMAND  SYSCALL  ARGS              RET\n"
			  "11:06:40.100   42    42  cat      dup2     oldfd=3 newfd=10  10\n"
			  "11:06:41.000   42  4242  cat      close    fd=99             -9 (EBADF)\n");
	}
	capture_free(&c);

	/* Follow mode: fixed widths, no precomputation. */
	if (capture_open(&c, true)) {
		CHECK(fdw_render_event_heading(&c.r) == 0);
		CHECK(fdw_render_event_line(&c.r,
					    json_array_get(json_object_get(doc, "events"), 1)) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "TIME              PID      TID  COMMAND          SYSCALL       ARGS                            RET\n"
			  "11:06:41.000       42     4242  cat              close         fd=99                           -9 (EBADF)\n");
	}
	capture_free(&c);
	json_decref(doc);

	/* a comm with a newline and one spelt "\x0a" print apart; ARGS
	 * quotes its strings itself (JSON-style) and is not escaped again */
	doc = load("{\"events\": ["
		   "{\"seq\": 1, \"ts\": 1795000000.1, \"pid\": 1, \"tid\": 1,"
		   " \"comm\": \"a\\nb\", \"syscall\": \"openat\","
		   " \"path\": \"x\\ny\", \"ret\": 3},"
		   "{\"seq\": 2, \"ts\": 1795000000.1, \"pid\": 1, \"tid\": 1,"
		   " \"comm\": \"a\\\\x0ab\", \"syscall\": \"openat\","
		   " \"path\": \"x\\\\ny\", \"ret\": 3}]}");
	if (capture_open(&c, false)) {
		c.r.output = "COMMAND,ARGS";
		CHECK(fdw_render_events(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "a\\x0ab     path=\"x\\ny\"\n"
			  "a\\x5cx0ab  path=\"x\\\\ny\"\n");
	}
	capture_free(&c);
	if (capture_open(&c, false)) {
		c.r.output = "COMMAND,ARGS";
		c.r.raw = true;
		CHECK(fdw_render_events(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "a\\x0ab path=\"x\\ny\"\n"
			  "a\\x5cx0ab path=\"x\\\\ny\"\n");
	}
	capture_free(&c);
	json_decref(doc);
}

static void test_render_verify(void)
{
	json_t *ok = load("{\"ok\": true, \"checked\": 12, \"differences\": []}");
	json_t *bad = load("{\"ok\": false, \"checked\": 1, \"differences\": ["
			   "{\"pid\": 42, \"fd\": 5, \"kind\": \"missing\","
			   " \"model\": null, \"kernel\": \"/etc/passwd\"},"
			   "{\"pid\": 42, \"fd\": 6, \"kind\": \"extra\","
			   " \"model\": \"/x\", \"kernel\": null, \"thread_running\": true},"
			   "{\"pid\": 42, \"fd\": 7, \"kind\": \"extra\","
			   " \"model\": \"/y\", \"kernel\": null, \"unsettled\": true}]}");
	json_t *junk = load("{\"checked\": 1}");
	struct capture c;
	bool res = false;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_verify(&c.r, ok, &res) == 0);
		CHECK(res);
		capture_close(&c);
		CHECK_STR(c.out, "OK: model matches /proc for 12 processes\n");
		CHECK_STR(c.err, "");
	}
	capture_free(&c);
	/* OK, but one process could not be read (pid 1 without
	 * CAP_SYS_PTRACE): said, not hidden */
	{
		json_t *unread = load("{\"ok\": true, \"checked\": 52, \"errors\": 1,"
				      " \"differences\": []}");

		if (capture_open(&c, true)) {
			CHECK(fdw_render_verify(&c.r, unread, &res) == 0);
			CHECK(res);
			capture_close(&c);
			CHECK_STR(c.out, "OK: model matches /proc for 52 processes\n");
			CHECK_STR(c.err, "fdwatch: 1 process could not be read from /proc and was "
					 "not compared\n");
		}
		capture_free(&c);
		json_decref(unread);
	}

	if (capture_open(&c, true)) {
		CHECK(fdw_render_verify(&c.r, bad, &res) == 0);
		CHECK(!res);
		capture_close(&c);
		CHECK_STR(c.out,
			  "PID  FD  KIND     MODEL  KERNEL       NOTE\n"
			  " 42   5  missing  -      /etc/passwd  -\n"
			  " 42   6  extra    /x     -            thread running\n"
			  " 42   7  extra    /y     -            unsettled\n");
		CHECK_STR(c.err, "fdwatch: 3 differences between the model and "
			  "/proc (1 process checked)\n");
	}
	capture_free(&c);

	if (capture_open(&c, true))
		CHECK(fdw_render_verify(&c.r, junk, &res) == -EBADMSG);
	capture_free(&c);
	json_decref(ok);
	json_decref(bad);
	json_decref(junk);
}

static void test_render_leaks(void)
{
	json_t *doc = load(
		"{\"alerts\": [{\"id\": 1, \"kind\": \"fd-growth\","
		" \"state\": \"firing\", \"pid\": 42, \"comm\": \"cat\","
		" \"start_time\": 1, \"fired_at\": 1794999880.5,"
		" \"resolved_at\": null, \"summary\": \"grew by 500\","
		" \"evidence\": {}}]}");
	struct capture c;

	if (capture_open(&c, true)) {
		CHECK(fdw_render_leaks(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "ID  KIND       STATE   PID  COMMAND  FIRED  TREND  RATE  ETA  SUMMARY\n"
			  " 1  fd-growth  firing   42  cat         2m  -         -    -  grew by 500\n");
	}
	capture_free(&c);
	json_decref(doc);

	/* a growth alert with its window: the sparkline, rate and time left */
	doc = load("{\"alerts\": [{\"id\": 3, \"kind\": \"fd-growth\","
		   " \"state\": \"firing\", \"pid\": 42, \"comm\": \"app\","
		   " \"fired_at\": 1794999990.5, \"summary\": \"s\","
		   " \"evidence\": {\"series\": [10, 20, 30, 40, 50, 60, 70, 80],"
		   " \"rate_per_min\": 600.0, \"seconds_to_limit\": 950.0,"
		   " \"fds\": 80, \"limit_soft\": 1024}},"
		   " {\"id\": 4, \"kind\": \"fd-growth\", \"state\": \"resolved\","
		   " \"pid\": 43, \"comm\": \"b\", \"fired_at\": 1794999990.5,"
		   " \"summary\": \"t\", \"evidence\": {\"series\": [5, 5],"
		   " \"rate_per_min\": 1.0, \"seconds_to_limit\": 5.0}}]}");
	if (capture_open(&c, true)) {
		c.r.output = "ID,TREND,RATE,ETA,FDS,LIMIT";
		CHECK(fdw_render_leaks(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "ID  TREND          RATE  ETA  FDS  LIMIT\n"
			  " 3  _.-=+*#@  600.0/min  15m   80   1024\n"
			  " 4  __          1.0/min    -    -      -\n");
	}
	capture_free(&c);
	if (capture_open(&c, false)) {
		c.r.output = "TREND";
		c.r.utf8 = true;
		CHECK(fdw_render_leaks(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588\n"
			  "\u2581\u2581\n");
	}
	capture_free(&c);
	/* -p: the other pids' alerts are left out */
	if (capture_open(&c, false)) {
		int pids[] = { 43 };

		c.r.output = "ID,PID";
		c.r.pids = pids;
		c.r.npids = 1;
		CHECK(fdw_render_leaks(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "4  43\n");
	}
	capture_free(&c);
	json_decref(doc);
}

static void test_hostile_trend(void)
{
	/* a daemon that sends 10000 samples, strings and nulls among them */
	json_t *a = json_pack("{s:{s:[]}}", "evidence", "series");
	json_t *series = json_object_get(json_object_get(a, "evidence"), "series");
	char buf[64];

	for (int i = 0; i < 10000; i++)
		json_array_append_new(series, i % 7 ? json_integer(i) : json_string("x"));
	json_array_append_new(series, json_null());
	fdw_alert_trend(a, buf, sizeof(buf), 20, true);
	CHECK(fdw_text_width(buf) == 20);
	fdw_alert_trend(a, buf, 4, 20, true);	/* room for one block only */
	CHECK(strlen(buf) == 3);
	json_object_set_new(json_object_get(a, "evidence"), "series", json_string("no"));
	fdw_alert_trend(a, buf, sizeof(buf), 20, true);
	CHECK_STR(buf, "");
	json_decref(a);
}

static void test_sparkline(void)
{
	double up[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, flat[] = { 3, 3, 3 };
	double many[64];
	char buf[128];

	fdw_sparkline(buf, sizeof(buf), up, 8, 20, false);
	CHECK_STR(buf, "_.-=+*#@");
	fdw_sparkline(buf, sizeof(buf), flat, 3, 20, false);
	CHECK_STR(buf, "___");
	fdw_sparkline(buf, sizeof(buf), up, 0, 20, false);
	CHECK_STR(buf, "");
	/* more values than columns: averaged into width buckets */
	for (int i = 0; i < 64; i++)
		many[i] = i < 32 ? 0 : 100;
	fdw_sparkline(buf, sizeof(buf), many, 64, 8, false);
	CHECK_STR(buf, "____@@@@");
	fdw_sparkline(buf, sizeof(buf), many, 64, 4, true);
	CHECK_STR(buf, "\u2581\u2581\u2588\u2588");
	/* a small buffer is never overrun */
	fdw_sparkline(buf, 7, up, 8, 20, true);
	CHECK_STR(buf, "\u2581\u2582");
}

static void test_lsfd_options(void)
{
	struct fdw_args a;
	double t = 0;

	CHECK(parse(&a, NULL, "ps", "-o", "PID,FDS", "-r", "-n", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_PS && a.raw && a.noheadings);
	CHECK_STR(a.output, "PID,FDS");
	CHECK(parse(&a, NULL, "ps", "--output=+GROWTH", "--sort", "growth", NULL) == 0);
	CHECK_STR(a.output, "+GROWTH");
	CHECK_STR(a.sort, "growth");
	CHECK(parse(&a, NULL, "ps", "-p", "1,22,333", NULL) == 0);
	CHECK(a.npids == 3 && a.pids[0] == 1 && a.pids[1] == 22 && a.pids[2] == 333 &&
	      a.has_pid && a.pid == 1);
	CHECK(parse(&a, NULL, "fds", "-p", "5,6", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_FDS && a.npids == 2 && !a.has_fd);
	CHECK(parse(&a, NULL, "fds", "--list-columns", NULL) == 0);
	CHECK(a.list_columns);
	CHECK(parse(&a, NULL, "events", "--syscall", "openat,close", "--comm", "nginx",
		    "--since", "10m", "--until", "@1790000000", "--failed", NULL) == 0);
	CHECK_STR(a.syscalls, "openat,close");
	CHECK_STR(a.comms, "nginx");
	CHECK(a.failed && a.since && a.until);
	CHECK(parse(&a, NULL, "top", "-d", "0.5", "-s", "limit", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_TOP && a.interval_ms == 500);
	CHECK(parse(&a, NULL, "ps", "--color=never", "--no-pager", NULL) == 0);
	CHECK(a.color == FDW_COLOR_NEVER && a.no_pager);
	CHECK(parse(&a, NULL, "events", "--help", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_HELP && a.help_cmd == FDW_CMD_EVENTS);
	CHECK(parse(&a, NULL, "help", "top", NULL) == 0);
	CHECK(a.cmd == FDW_CMD_HELP && a.help_cmd == FDW_CMD_TOP);

	CHECK_USAGE("invalid PID: 'x'", "ps", "-p", "1,x");
	CHECK_USAGE("invalid PID: ''", "ps", "-p", "1,");
	CHECK_USAGE("PID out of range: '0'", "ps", "-p", "0");
	CHECK_USAGE("not both", "fds", "1", "-p", "2");
	CHECK_USAGE("invalid sort key: 'size'", "ps", "--sort", "size");
	CHECK_USAGE("'--sort' is only valid with 'ps' and 'top'", "events", "-s", "fds");
	CHECK_USAGE("'--syscall' is only valid with 'events'", "ps", "--syscall", "x");
	CHECK_USAGE("'--output' is only valid with", "status", "-o", "PID");
	CHECK_USAGE("invalid time: 'yesterday'", "events", "--since", "yesterday");
	CHECK_USAGE("invalid --color: 'blue'", "ps", "--color", "blue");
	CHECK_USAGE("invalid interval", "top", "-d", "0");
	CHECK_USAGE("no columns given", "ps", "-o", "+");
	CHECK_USAGE("unknown command 'nope'", "help", "nope");
	{
		/* a -p list longer than the bound is refused, not truncated */
		char list[65 * 4 + 1] = "";

		for (int i = 1; i <= 65; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
				 i > 1 ? "," : "", i);
		CHECK_USAGE("too many PIDs (at most 64)", "ps", "-p", list);
	}

	/* times: relative, @unix, wall clock (TZ=UTC here) */
	CHECK(fdw_parse_time("10m", 1000.0, &t) == 0 && t == 400.0);
	CHECK(fdw_parse_time("2h", 10000.0, &t) == 0 && t == 2800.0);
	CHECK(fdw_parse_time("1d", 100000.0, &t) == 0 && t == 13600.0);
	CHECK(fdw_parse_time("@1790000000.5", 0, &t) == 0 && t == 1790000000.5);
	CHECK(fdw_parse_time("2026-01-31 14:30:05", 0, &t) == 0 && t == 1769869805.0);
	CHECK(fdw_parse_time("2026-01-31", 0, &t) == 0 && t == 1769817600.0);
	/* today at 14:30 (now: 2026-01-31 08:00:00 UTC) */
	CHECK(fdw_parse_time("14:30", 1769846400.0, &t) == 0 && t == 1769869800.0);
	CHECK(fdw_parse_time("10x", 0, &t) == -EINVAL);
	/* dates that do not exist are refused, not moved on (mktime) */
	CHECK(fdw_parse_time("2026-02-30", 0, &t) == -EINVAL);
	CHECK(fdw_parse_time("2026-02-29 10:00", 0, &t) == -EINVAL);
	CHECK(fdw_parse_time("2028-02-29", 0, &t) == 0);
	CHECK(fdw_parse_time("2026-04-31 00:00:00", 0, &t) == -EINVAL);
	CHECK(fdw_parse_time("", 0, &t) == -EINVAL);
	CHECK(fdw_parse_time("25:99", 0, &t) == -EINVAL);
	CHECK(fdw_parse_time("@", 0, &t) == -EINVAL);
}

static void test_columns(void)
{
	json_t *doc = load("{\"processes\": ["
			   "{\"pid\": 300, \"comm\": \"worker\", \"fds\": 900,"
			   " \"table\": 12, \"stale\": false, \"limit_soft\": 1000,"
			   " \"growth_per_min\": 2.0, \"ppid\": 1, \"threads\": 4},"
			   "{\"pid\": 7, \"comm\": \"my app\", \"fds\": 12,"
			   " \"table\": 7, \"stale\": false, \"limit_soft\": 16,"
			   " \"growth_per_min\": 30.0},"
			   "{\"pid\": 1, \"comm\": \"init\", \"fds\": 50,"
			   " \"table\": 1, \"stale\": false, \"limit_soft\": null,"
			   " \"growth_per_min\": null}]}");
	json_t *evs = load("{\"events\": ["
			   "{\"ts\": 100.0, \"pid\": 1, \"comm\": \"a\", \"syscall\": \"openat\", \"ret\": 3},"
			   "{\"ts\": 200.0, \"pid\": 2, \"comm\": \"b\", \"syscall\": \"close\", \"ret\": -9},"
			   "{\"ts\": 300.0, \"pid\": 3, \"comm\": \"a\", \"syscall\": \"openat\", \"ret\": -2},"
			   "{\"ts\": null, \"pid\": 4, \"comm\": \"a\", \"syscall\": \"fork\"}]}");
	struct fdw_event_filter f = { 0 };
	char err[160];
	struct capture c;

	CHECK(fdw_columns_check("ps", "PID,use%", err, sizeof(err)) == 0);
	CHECK(fdw_columns_check("ps", "+GROWTH,LIMIT", err, sizeof(err)) == 0);
	CHECK(fdw_columns_check("ps", "PID,BOGUS", err, sizeof(err)) == -EINVAL);
	CHECK_STR(err, "unknown column 'BOGUS' for ps (try --list-columns)");
	CHECK(fdw_columns_check("events", "TIME,SYSCALL,ARGS,RET,SEQ,ERRNO,AGE", err,
				sizeof(err)) == 0);
	CHECK(fdw_columns_check("leaks", "TREND", err, sizeof(err)) == 0);
	CHECK(fdw_columns_check("fds", "PID,FD,TARGET", err, sizeof(err)) == 0);

	/* --sort: largest first; unknown values last; -o with +; -r */
	if (capture_open(&c, true)) {
		c.r.sort = "fds";
		c.r.output = "+THREADS,LIMIT";
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "PID  COMMAND  FDS  GROWTH   USE%  TABLE  STALE  THREADS  LIMIT\n"
			  "300  worker   900    +2.0  90.0%     12  no           4   1000\n"
			  "  1  init      50       -      -      1  no           -      -\n"
			  "  7  my app    12   +30.0  75.0%      7  no           -     16\n");
	}
	capture_free(&c);
	/* a column twice, and every column */
	if (capture_open(&c, false)) {
		c.r.sort = "pid";
		c.r.output = "PID,PID,+";
		CHECK(fdw_render_ps(&c.r, doc) == -EINVAL);
		c.r.output = "PID,PID";
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		c.r.output = "PID,COMMAND,FDS,GROWTH,USE%,TABLE,STALE,PPID,THREADS,LIMIT";
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "  1    1\n  7    7\n300  300\n"
			  "  1  init     50      -      -   1  no  -  -     -\n"
			  "  7  my app   12  +30.0  75.0%   7  no  -  -    16\n"
			  "300  worker  900   +2.0  90.0%  12  no  1  4  1000\n");
	}
	capture_free(&c);
	if (capture_open(&c, false)) {
		c.r.sort = "growth";
		c.r.output = "PID,GROWTH";
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "  7  +30.0\n300   +2.0\n  1      -\n");
	}
	capture_free(&c);
	if (capture_open(&c, true)) {
		c.r.sort = "limit";
		c.r.output = "PID,COMMAND,LIMIT";
		c.r.raw = true;
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "PID COMMAND LIMIT\n300 worker 1000\n7 my\\x20app 16\n1 init -\n");
	}
	capture_free(&c);
	/* colors: SGR around the cell, padding outside it */
	if (capture_open(&c, true)) {
		c.r.sort = "pid";
		c.r.output = "PID,USE%";
		c.r.color = true;
		CHECK(fdw_render_ps(&c.r, doc) == 0);
		capture_close(&c);
		CHECK_STR(c.out,
			  "\033[1mPID\033[0m   \033[1mUSE%\033[0m\n"
			  "  1      -\n"
			  "  7  \033[33m75.0%\033[0m\n"
			  "300  \033[1;31m90.0%\033[0m\n");
	}
	capture_free(&c);
	/* --list-columns */
	if (capture_open(&c, true)) {
		CHECK(fdw_columns_list(&c.r, "ps") == 0);
		capture_close(&c);
		CHECK(strstr(c.out, "COLUMN   DESCRIPTION\n") == c.out);
		CHECK(strstr(c.out, "\nGROWTH   fd count growth over the last minute, fds/min (default)\n") != NULL);
		CHECK(strstr(c.out, "\nLIMIT    RLIMIT_NOFILE soft limit\n") != NULL);
		CHECK(strstr(c.out, "\nPID      process id (default)\n") != NULL);
	}
	capture_free(&c);

	/* event filters */
	if (capture_open(&c, false)) {
		f.syscalls = "openat";
		f.failed = true;
		c.r.filter = &f;
		c.r.output = "PID";
		CHECK(fdw_render_events(&c.r, evs) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "3\n");
	}
	capture_free(&c);
	if (capture_open(&c, false)) {
		f = (struct fdw_event_filter){ .comms = "a,zz", .has_since = true, .since = 150,
					       .has_until = true, .until = 300 };
		c.r.filter = &f;
		c.r.output = "PID";
		CHECK(fdw_render_events(&c.r, evs) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "3\n");
	}
	capture_free(&c);
	if (capture_open(&c, false)) {
		int pids[] = { 2, 4 };

		c.r.pids = pids;
		c.r.npids = 2;
		c.r.output = "PID,SYSCALL";
		CHECK(fdw_render_events(&c.r, evs) == 0);
		capture_close(&c);
		CHECK_STR(c.out, "2  close\n4  fork\n");
	}
	capture_free(&c);
	json_decref(doc);
	json_decref(evs);
}

/* ---- ps and fds from the text: the same as from the tree ------------------ */

struct text_case {
	bool headings, raw, color;
	const char *sort, *output;
	const int *pids;
	size_t npids;
};

/* doc rendered from the tree and from its text (compact and indented):
 * the same return, output and warnings. */
static void check_text_same(const json_t *doc, bool ps, const struct text_case *tc)
{
	for (int indent = 0; indent <= 2; indent += 2) {
		char *text = json_dumps(doc, indent ? JSON_INDENT(indent) : JSON_COMPACT);
		struct capture a, b;
		int ra = -1, rb = -2;

		if (!text || !capture_open(&a, tc->headings) || !capture_open(&b, tc->headings)) {
			CHECK(!"capture");
			free(text);
			return;
		}
		a.r.raw = b.r.raw = tc->raw;
		a.r.color = b.r.color = tc->color;
		a.r.sort = b.r.sort = tc->sort;
		a.r.output = b.r.output = tc->output;
		a.r.pids = b.r.pids = tc->pids;
		a.r.npids = b.r.npids = tc->npids;
		ra = ps ? fdw_render_ps(&a.r, doc) : fdw_render_fds(&a.r, doc);
		rb = ps ? fdw_render_ps_text(&b.r, text, strlen(text))
			: fdw_render_fds_text(&b.r, text, strlen(text));
		capture_close(&a);
		capture_close(&b);
		if (ra != rb || strcmp(a.out, b.out) || strcmp(a.err, b.err)) {
			failed++;
			fprintf(stderr, "FAIL %s:%d: %s from text differs (sort %s, -o %s):\n"
				"tree (%d):\n%s%s\ntext (%d):\n%s%s\n", __FILE__, __LINE__,
				ps ? "ps" : "fds", tc->sort ? tc->sort : "-",
				tc->output ? tc->output : "-", ra, a.out, a.err, rb, b.out, b.err);
		} else {
			passed++;
		}
		capture_free(&a);
		capture_free(&b);
		free(text);
	}
}

static void test_render_text(void)
{
	static const int seven[] = { 7 }, two[] = { 300, 1 };
	json_t *ps = load("{\"processes\": ["
			  "{\"pid\": 300, \"comm\": \"worker\", \"fds\": 900,"
			  " \"table\": 12, \"stale\": true, \"limit_soft\": 1000,"
			  " \"growth_per_min\": 2.0, \"ppid\": 1, \"threads\": 4},"
			  "{\"pid\": 7, \"comm\": \"my app\\t\\u00e9\", \"fds\": 12,"
			  " \"table\": 7, \"stale\": false, \"limit_soft\": 16,"
			  " \"growth_per_min\": 30.0},"
			  "{\"pid\": 9, \"comm\": \"same\", \"fds\": 12, \"table\": null,"
			  " \"stale\": false, \"limit_soft\": 16, \"growth_per_min\": -1.5},"
			  "{\"pid\": 1, \"comm\": \"init\", \"fds\": 50,"
			  " \"table\": 1, \"stale\": false, \"limit_soft\": null,"
			  " \"growth_per_min\": null}], \"after\": {\"x\": [1, 2]}}");
	json_t *fds = load(
		"{\"pid\": 42, \"comm\": \"cat\", \"table\": 7, \"stale\": true, \"threads\": 1,"
		" \"fds\": ["
		"{\"fd\": 5, \"cloexec\": false, \"target\": \"/etc/pa\\\"ss wd\","
		" \"type\": \"reg\", \"ofd\": 17, \"generation\": 1,"
		" \"origin\": {\"syscall\": \"dup\", \"tid\": 43, \"pid\": 42, \"comm\": \"cat\","
		"  \"ts\": 1794999700.25, \"from_fd\": 3, \"source\": \"event\"}},"
		"{\"fd\": 0, \"cloexec\": false, \"target\": \"/dev/pts/0\","
		" \"type\": \"chr\", \"ofd\": 2, \"generation\": 1,"
		" \"origin\": {\"syscall\": null, \"tid\": null, \"ts\": null,"
		"  \"from_fd\": null, \"source\": \"procfs\"}},"
		"{\"fd\": 5, \"cloexec\": true, \"target\": \"second five\","
		" \"type\": \"reg\", \"ofd\": 18, \"generation\": 9,"
		" \"origin\": {\"syscall\": \"openat\", \"tid\": 42,"
		"  \"ts\": 1794999997.0, \"from_fd\": null, \"source\": \"event\"}},"
		"{\"fd\": 3, \"cloexec\": true, \"target\": \"/etc/passwd\","
		" \"type\": \"reg\", \"ofd\": 17, \"generation\": 2,"
		" \"origin\": {\"syscall\": \"openat\", \"tid\": 42,"
		"  \"ts\": 1794999997.0, \"from_fd\": null,"
		"  \"source\": \"event\"}}], \"complete\": false}");
	const struct text_case cases[] = {
		{ .headings = true },
		{ .headings = false },
		{ .headings = true, .sort = "fds", .output = "+THREADS,LIMIT" },
		{ .headings = false, .sort = "pid", .output = "PID,PID" },
		{ .headings = true, .sort = "growth", .output = "PID,GROWTH,COMMAND" },
		{ .headings = true, .sort = "limit", .raw = true },
		{ .headings = true, .color = true },
		{ .headings = true, .pids = seven, .npids = 1 },
		{ .headings = true, .sort = "fds", .pids = two, .npids = 2 },
		{ .headings = true, .output = "PID,COMMAND,FDS,GROWTH,USE%,TABLE,STALE,PPID,"
					      "THREADS,LIMIT" },
		{ .headings = true, .output = "FD,FD,CLOCK,SOURCE,AGE,TARGET" },
		{ .headings = true, .output = "PID,BOGUS" },
	};
	json_t *bad[] = {
		load("{\"nope\": []}"), load("{\"processes\": 5, \"fds\": {}}"), load("[]"),
		load("{\"processes\": [1, \"x\", null], \"fds\": [[], 2]}"),
		load("{\"processes\": [], \"fds\": [], \"stale\": false}"),
	};
	struct capture c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_text_same(ps, true, &cases[i]);
		check_text_same(fds, false, &cases[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_text_same(bad[i], true, &cases[0]);
		check_text_same(bad[i], false, &cases[0]);
		json_decref(bad[i]);
	}
	/* not JSON at all, or cut short */
	if (capture_open(&c, true)) {
		CHECK(fdw_render_ps_text(&c.r, "{\"processes\": [{\"pid\": 1}", 25) == -EBADMSG);
		CHECK(fdw_render_fds_text(&c.r, "{\"fds\": [], }x", 14) == -EBADMSG);
		CHECK(fdw_render_fds_text(&c.r, "", 0) == -EBADMSG);
	}
	capture_free(&c);
	json_decref(ps);
	json_decref(fds);
}

/* ---- the JSON checker: what jansson accepts, nothing else ---------------- */

static void check_valid(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	bool want = j != NULL, got = fdw_json_valid(text, len);

	json_decref(j);
	if (got == want) {
		passed++;
	} else {
		failed++;
		fprintf(stderr, "FAIL %s:%d: fdw_json_valid(%.*s) = %d, jansson %d\n", __FILE__,
			__LINE__, (int)(len > 80 ? 80 : len), text, got, want);
	}
}

static void test_json_valid(void)
{
	static const char *const cases[] = {
		"{}", "[]", " {} ", "\t\r\n[ ]\n", "", " ", "{", "}", "[", "[}", "{]", "1", "\"s\"",
		"null", "true", "{} {}", "{}x", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{a:1}", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}",
		"[true,false,null]", "[tru]", "[nul]", "[falsey]", "[True]",
		"[0]", "[-0]", "[01]", "[-]", "[1.]", "[.5]", "[1.5e3]", "[1E+3]", "[1e-3]",
		"[1e]", "[1e+]", "[-1.25]", "[+1]", "[0x10]", "[1.0e400]", "[-1e400]", "[1e-400]",
		"[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
		"[-9223372036854775809]", "[123456789012345678]", "[99999999999999999999]",
		"[\"\"]", "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]", "[\"\\x\"]", "[\"\\u00e9\"]",
		"[\"\\u0000\"]", "[\"\\u12\"]", "[\"\\uD83D\\uDC27\"]", "[\"\\uD83D\"]",
		"[\"\\uD83Dx\"]", "[\"\\uDC27\"]", "[\"\\uD83D\\u0041\"]", "[\"\\uzzzz\"]",
		"[\"tab\there\"]", "[\"nl\nhere\"]", "[\"\x7f\"]", "[\"\xc3\xa9\"]",
		"[\"\xc3\"]", "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf0\x9f\x90\xa7\"]",
		"[\"\xf4\x90\x80\x80\"]", "[\"\xff\"]", "[\"unterminated]", "[\"a\\\"]",
		"{\"processes\":[{\"pid\":1,\"comm\":\"init\",\"growth_per_min\":null,"
		"\"ts\":1795000000.123456}]}",
		"[\xc3\xa9]", "{\"a\":[{\"b\":{\"c\":[]}}]}",
	};
	char *deep;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_valid(cases[i], strlen(cases[i]));
	check_valid("[1]\0", 4);	 /* a NUL after the value */
	check_valid("[\"a\0b\"]", 7); /* a NUL in a string */
	check_valid("[1]", 2);		 /* cut short by len */
	/* 300 digits before the point: finite; 310: not */
	deep = malloc(2 * 2049 + 410);
	if (!deep)
		return;
	for (int n = 300; n <= 310; n += 10) {
		memset(deep, '9', (size_t)n + 1);
		deep[0] = '[';
		memcpy(deep + n + 1, ".5]", 4);
		check_valid(deep, strlen(deep));
	}
	/* nesting: jansson takes 2048 levels, not 2049 */
	for (int n = 2047; n <= 2049; n++) {
		memset(deep, '[', (size_t)n);
		memset(deep + n, ']', (size_t)n);
		check_valid(deep, 2 * (size_t)n);
	}
	/* ... counting the values inside too: a scalar or an object in the
	 * innermost array is one level more */
	for (int n = 2046; n <= 2048; n++) {
		memset(deep, '[', (size_t)n);
		memcpy(deep + n, "1", 1);
		memset(deep + n + 1, ']', (size_t)n);
		check_valid(deep, 2 * (size_t)n + 1);
		memcpy(deep + n, "{\"a\":1}", 7);
		memset(deep + n + 7, ']', (size_t)n);
		check_valid(deep, 2 * (size_t)n + 7);
	}
	free(deep);
}

/* explain: plain text, or with -J one JSON object naming the kind. */
static void test_explain(void)
{
	static const char *const kinds[] = { "double-close", "use-after-close", "close-in-flight",
					     "dup2-clobber", "fd-reuse", "exec-leak" };
	char *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		FILE *f = open_memstream(&buf, &len);
		json_error_t e;
		json_t *o;

		CHECK(f != NULL);
		if (!f)
			return;
		CHECK(fdw_races_explain(f, kinds[i], false) == 0);
		CHECK(fflush(f) == 0);
		CHECK(buf && strstr(buf, "What to do") && buf[0] != '{');
		rewind(f);
		CHECK(fdw_races_explain(f, kinds[i], true) == 0);
		CHECK(fclose(f) == 0);
		o = json_loads(buf, 0, &e);
		CHECK(o != NULL);
		CHECK(o && !strcmp(json_string_value(json_object_get(o, "kind")), kinds[i]));
		CHECK(o && strstr(json_string_value(json_object_get(o, "text")), "What to do"));
		CHECK(buf[strlen(buf) - 1] == '\n' && strchr(buf, '\n') == buf + strlen(buf) - 1);
		json_decref(o);
		free(buf);
		buf = NULL;
	}
	CHECK(fdw_races_explain(stdout, "nope", true) == -ENOENT);
	CHECK(fdw_races_explain(stdout, NULL, false) == -ENOENT);
}

int main(void)
{
	/* Clock formatting is in local time: pin it. */
	setenv("TZ", "UTC", 1);
	tzset();

	test_parse_int();
	test_commands();
	test_socket();
	test_placement();
	test_events_options();
	test_usage_errors();
	test_help_text();
	test_formatters();
	test_table();
	test_escape_unambiguous();
	test_fixed_rows();
	test_json_text();
	test_event_cells();
	test_render_ps();
	test_render_races_hidden();
	test_render_fds();
	test_render_fd();
	test_render_status();
	test_render_events();
	test_render_verify();
	test_render_leaks();
	test_sparkline();
	test_hostile_trend();
	test_lsfd_options();
	test_columns();
	test_json_valid();
	test_render_text();
	test_explain();

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
