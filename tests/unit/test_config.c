// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * config/: defaults, every kind of option, ranges and errors; the
 * configuration file (every error names file, line and key), the command
 * line over it, reload semantics; the example file and fdwatch.conf(5)
 * against the option table.
 *
 *   test-config [fdwatch.conf.5.in fdwatch.conf.example]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static char tmpdir[] = "/tmp/fdw-test-config.XXXXXX";

/* A file holding `text`; its path (static, per call site's `name`). */
static const char *write_conf(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "we");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load `text` as a file onto defaults: the return value; err filled. */
static int load_text(struct fdw_config *c, const char *text, struct fdw_config_error *err)
{
	fdw_config_free(c);
	return fdw_config_load_file(c, write_conf("t.conf", text), err);
}

/* A bad file: rc -EINVAL, the error on `line`, naming the file, "LINE:" and `needle`. */
static void bad(const char *text, unsigned int line, const char *needle)
{
	struct fdw_config c;
	struct fdw_config_error err;
	char where[300];

	fdw_config_defaults(&c);
	CHECK_EQ(load_text(&c, text, &err), -EINVAL);
	CHECK_EQ(err.line, line);
	snprintf(where, sizeof(where), "%s/t.conf:%u: ", tmpdir, line);
	if (strncmp(err.msg, where, strlen(where)) || !strstr(err.msg, needle)) {
		fprintf(stderr, "unexpected error for %s: '%s' (wanted '%s...%s')\n", text, err.msg,
			where, needle);
		CHECK(0);
	}
	fdw_config_free(&c);
}

/* Load the whole configuration from a command line (after "fdwatchd"). */
static int load_args(struct fdw_config *c, struct fdw_config_error *err, const char *const *args)
{
	char *argv[32] = { "fdwatchd" };
	int argc = 1;

	for (; args[argc - 1] && argc < 31; argc++)
		argv[argc] = (char *)args[argc - 1];
	opterr = 0;
	return fdw_config_load(c, argc, argv, err);
}

#define LOAD(c, err, ...) load_args(c, err, (const char *const[]){ __VA_ARGS__, NULL })

static void test_file(void)
{
	struct fdw_config c;
	struct fdw_config_error err;
	char longline[400];

	fdw_config_defaults(&c);
	/* every kind, comments, blank lines, a [leak] section */
	CHECK_EQ(load_text(&c,
			   "# comment\n; another\n\nsocket = /tmp/x.sock\nhistory=5\n"
			   "ringbuf-mb = 8\nprecise-ts = yes\nverbose = off\n"
			   "metrics-listen = 127.0.0.1:9469\naudit-interval = 0\n"
			   "[leak]\nmin_fit = 0.5\nexec_leaks = 0\n",
			   &err),
		 0);
	CHECK_STR(c.socket_path, "/tmp/x.sock");
	CHECK_EQ(c.history_size, 5);
	CHECK_EQ(c.ringbuf_bytes, 8u << 20);
	CHECK(c.precise_ts && !c.verbose);
	CHECK_STR(c.metrics_listen, "127.0.0.1:9469");
	CHECK_EQ(c.audit_interval_s, 0);
	CHECK(c.leak.min_fit == 0.5 && !c.leak.exec_leaks);
	/* an empty metrics-listen turns it off */
	CHECK_EQ(load_text(&c, "metrics-listen =\n", &err), 0);
	CHECK(c.metrics_listen == NULL);
	/* an empty file is the defaults */
	CHECK_EQ(load_text(&c, "", &err), 0);
	CHECK_EQ(c.history_size, 100000);

	/* errors: the first one, with file, line and key */
	bad("history = 0\n", 1, "history: invalid value '0' (expected an integer from 1 to");
	bad("\n# c\nhistroy = 5\n", 3, "histroy: unknown key");
	bad("history = 5\nhistory = 6\n", 2, "history: set twice (first on line 1)");
	bad("socket = /x # comment\n", 1, "socket: inline comment");
	bad("socket = /x ; comment\n", 1, "socket: inline comment");
	bad("history = 5\nsocket\n", 2, "syntax error");
	bad("[leak\n", 1, "syntax error");
	bad("[foo]\nx = 1\n", 2, "x: key in unknown section [foo]");
	bad("[leak]\nmin_fit = 2\n", 2, "min_fit: invalid value '2'");
	bad("[leak]\nmin_fit = 0.5\nmin_fit = 0.6\n", 3, "min_fit: set twice in [leak] (first on line 2)");
	bad("[leak]\nno_such = 2\n", 2, "no_such: unknown key in [leak]");
	bad("leak = min_fit=0.5\n", 1, "leak: detector settings go in a [leak] section");
	bad("config = /x\n", 1, "config: command line only");
	bad("check-config = yes\n", 1, "check-config: command line only");
	bad("history = 5\n  socket = /y\n", 2, "indented line");
	bad("socket: /x\n", 1, "socket: expected 'key = value'");
	bad("precise-ts = maybe\n", 1, "precise-ts: invalid value 'maybe' (expected yes or no)");
	bad("metrics-listen = 10.0.0.1:9469\n", 1, "metrics-listen: invalid value");
	bad("ringbuf-mb = 3\n", 1, "ringbuf-mb: invalid value '3' (expected a power of two");
	/* the names' bound holds one longest path at least */
	bad("max-name-bytes = 4095\n", 1,
	    "max-name-bytes: invalid value '4095' (expected an integer from 4096 to");
	bad("socket =\n", 1, "socket: invalid value '' (expected a non-empty path)");
	bad("history = -1\n", 1, "history: invalid value '-1'");
	bad("history = 12x\n", 1, "history: invalid value '12x'");
	/* a line inih would split in two is refused, not half-read */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "socket = /", 10);
	snprintf(longline + 300, sizeof(longline) - 300, "\nhistory = 5\n");
	bad(longline, 1, "line longer than");
	/* "[]" is no way back to the top level */
	bad("[leak]\nmin_fit = 0.5\n[]\nhistory = 5\n", 3, "empty section name");
	bad("[ ]\n", 1, "empty section name");
	/* the first error wins, a syntax error before a bad value too */
	bad("socket\nhistory = 0\n", 1, "syntax error");
	bad("history = 0\nsocket\n", 1, "history: invalid value");

	/* a missing or unreadable file */
	fdw_config_free(&c);
	CHECK_EQ(fdw_config_load_file(&c, "/nonexistent/fdwatch.conf", &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/fdwatch.conf") != NULL);
	CHECK_EQ(fdw_config_load_file(&c, tmpdir, &err), -EISDIR);
	fdw_config_free(&c);
	/* not a regular file: refused before a byte is read (a FIFO with no
	 * writer would block open(), /dev/zero would never end) */
	{
		char fifo[600], big[256];
		FILE *f;

		CHECK_EQ(fdw_config_load_file(&c, "/dev/zero", &err), -EINVAL);
		CHECK(strstr(err.msg, "not a regular file") != NULL);
		fdw_config_free(&c);
		/* but /dev/null is the empty configuration */
		CHECK_EQ(fdw_config_load_file(&c, "/dev/null", &err), 0);
		fdw_config_free(&c);
		snprintf(fifo, sizeof(fifo), "%s/fifo.conf", tmpdir);
		CHECK_EQ(mkfifo(fifo, 0600), 0);
		CHECK_EQ(fdw_config_load_file(&c, fifo, &err), -EINVAL);
		fdw_config_free(&c);
		(void)unlink(fifo);
		/* one endless line in a regular file: ends at the size bound */
		snprintf(big, sizeof(big), "%s", write_conf("big.conf", ""));
		f = fopen(big, "we");
		CHECK(f != NULL);
		if (f) {
			for (int i = 0; i < (FDW_CONFIG_MAX_BYTES / 4096) + 2; i++)
				for (int j = 0; j < 4096; j++)
					fputc('a', f);
			fclose(f);
		}
		CHECK_EQ(fdw_config_load_file(&c, big, &err), -EFBIG);
		CHECK(strstr(err.msg, "larger than") != NULL);
		fdw_config_free(&c);
		/* 2 MiB of NUL bytes (strlen counts none of them) */
		f = fopen(big, "we");
		if (f) {
			CHECK_EQ(ftruncate(fileno(f), 2 << 20), 0);
			fclose(f);
		}
		CHECK_EQ(fdw_config_load_file(&c, big, &err), -EFBIG);
		fdw_config_free(&c);
	}
}

static void test_layers(void)
{
	struct fdw_config c;
	struct fdw_config_error err;
	const char *path = write_conf("l.conf", "history = 7\nsocket = /tmp/file.sock\n"
						"audit-interval = 5\n[leak]\nmin_fit = 0.5\n");

	/* the command line over the file */
	fdw_config_defaults(&c);
	CHECK_EQ(LOAD(&c, &err, "--config", path, "--history", "9", "--leak", "min_fit=0.6"), 0);
	CHECK_EQ(c.history_size, 9);
	CHECK_STR(c.socket_path, "/tmp/file.sock");
	CHECK_EQ(c.audit_interval_s, 5);
	CHECK(c.leak.min_fit == 0.6);
	CHECK(c.config_explicit);
	/* loading again starts from the defaults (a reload) */
	CHECK_EQ(LOAD(&c, &err, "--config", path), 0);
	CHECK_EQ(c.history_size, 7);
	CHECK(c.leak.min_fit == 0.5);
	/* a socket path that cannot be bound is refused by the check too:
	 * sockaddr_un holds 107 bytes and a NUL */
	{
		char longpath[160];

		memset(longpath, 'a', sizeof(longpath));
		memcpy(longpath, "/tmp/", 5);
		longpath[108] = '\0';
		CHECK_EQ(LOAD(&c, &err, "--config", path, "--socket", longpath), -EINVAL);
		CHECK(strstr(err.msg, "socket: path longer than 107 bytes") != NULL);
		longpath[107] = '\0';
		CHECK_EQ(LOAD(&c, &err, "--config", path, "--socket", longpath), 0);
	}
	/* an explicit file must exist; a bad one is -EINVAL with its line */
	CHECK_EQ(LOAD(&c, &err, "--config", "/nonexistent/f.conf"), -EINVAL);
	CHECK(strstr(err.msg, "/nonexistent/f.conf: No such file") != NULL);
	path = write_conf("b.conf", "history = 7\nmax-fds = lots\n");
	CHECK_EQ(LOAD(&c, &err, "--config", path), -EINVAL);
	CHECK_EQ(err.line, 2);
	CHECK(strstr(err.msg, "b.conf:2: max-fds: invalid value 'lots'") != NULL);
	/* a bad command line: -EINVAL, said on stderr, err empty */
	{
		FILE *saved = stderr;

		stderr = fopen("/dev/null", "we");
		CHECK_EQ(LOAD(&c, &err, "--history", "0"), -EINVAL);
		fclose(stderr);
		stderr = saved;
	}
	CHECK_EQ(err.msg[0], '\0');
	fdw_config_free(&c);
}

static void test_reload(void)
{
	struct fdw_config cur, next;
	struct fdw_config_error err;
	char restart[256];
	const char *a = write_conf("a.conf", "history = 5\naudit-interval = 60\n[leak]\n"
					     "min_fit = 0.8\nfast_window = 30\n");

	fdw_config_defaults(&cur);
	fdw_config_defaults(&next);
	CHECK_EQ(LOAD(&cur, &err, "--config", a), 0);
	a = write_conf("a.conf", "history = 6\naudit-interval = 10\naudit-sample = 3\n"
				 "verbose = yes\nsocket = /tmp/other.sock\n[leak]\n"
				 "min_fit = 0.5\nfast_window = 20\n");
	CHECK_EQ(LOAD(&next, &err, "--config", a), 0);
	/* live options change, the others keep their value and are named */
	CHECK_EQ(fdw_config_merge_reload(&cur, &next, restart, sizeof(restart)), 4);
	CHECK_EQ(cur.audit_interval_s, 10);
	CHECK_EQ(cur.audit_sample, 3);
	CHECK(cur.verbose);
	CHECK(cur.leak.min_fit == 0.5);
	CHECK_EQ(cur.history_size, 5);
	CHECK_EQ(cur.leak.fast_window, 30);
	CHECK_STR(cur.socket_path, "/run/fdwatch/fdwatch.sock");
	/* fast_min_samples, not set, is not named: it stays as set (the
	 * window cuts it where it is used) */
	CHECK_STR(restart, "socket history leak.fast_window");
	/* nothing changed: nothing to say */
	CHECK_EQ(fdw_config_merge_reload(&cur, &cur, restart, sizeof(restart)), 0);
	CHECK_STR(restart, "");
	/* a short buffer is truncated, terminated */
	(void)fdw_config_merge_reload(&cur, &next, restart, 4);
	CHECK_EQ(strlen(restart), 3);
	fdw_config_free(&next);
	fdw_config_free(&cur);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	if (!f || !buf) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Every option in fdwatch.conf(5); the example file parses and shows every
 * option at its default, as `fdwatchd --check-config` prints it. */
static void test_docs(const char *man, const char *example)
{
	char *m = slurp(man), *ex = slurp(example), *printed = NULL, *line, *sp;
	struct fdw_config c;
	struct fdw_config_error err;
	size_t plen = 0;
	FILE *f;
	bool file;

	for (size_t i = 0; fdw_config_option(i, &file, NULL); i++) {
		char roff[64], *q = roff;

		/* roff writes "state\-dir" */
		for (const char *p = fdw_config_option(i, NULL, NULL); *p && q < roff + 60; p++) {
			if (*p == '-')
				*q++ = '\\';
			*q++ = *p;
		}
		*q = '\0';
		if (!strstr(m, roff)) {
			fprintf(stderr, "%s does not document %s\n", man, roff);
			CHECK(0);
		}
	}
	for (size_t i = 0; fdw_leak_config_name(i); i++) {
		if (!strstr(m, fdw_leak_config_name(i))) {
			fprintf(stderr, "%s does not document [leak] %s\n", man, fdw_leak_config_name(i));
			CHECK(0);
		}
	}
	fdw_config_defaults(&c);
	CHECK_EQ(fdw_config_load_file(&c, example, &err), 0);
	fdw_config_free(&c);
	f = open_memstream(&printed, &plen);
	fdw_config_print(&c, f);
	fclose(f);
	for (line = strtok_r(printed, "\n", &sp); line; line = strtok_r(NULL, "\n", &sp)) {
		char want[256];

		if (line[0] == '#' || !line[0])
			continue;
		if (!strcmp(line, "proc-root = /proc"))
			continue; /* tests only */
		snprintf(want, sizeof(want), "\n#%s\n", line);
		if (!strstr(ex, want)) {
			fprintf(stderr, "%s lacks the line '#%s'\n", example, line);
			CHECK(0);
		}
	}
	free(printed);
	free(m);
	free(ex);
}

int main(int argc, char **argv)
{
	struct fdw_config c;

	fdw_config_defaults(&c);
	CHECK_STR(c.socket_path, "/run/fdwatch/fdwatch.sock");
	CHECK_STR(c.lock_file, "/run/fdwatch/fdwatchd.lock");
	CHECK_STR(c.proc_root, "/proc");
	CHECK_EQ(c.ringbuf_bytes, 64u << 20);
	CHECK_EQ(c.audit_interval_s, 60);
	CHECK_EQ(c.max_clients, 64);
	CHECK_EQ(c.max_name_bytes, 256u << 20);
	CHECK(c.metrics_listen == NULL);
	CHECK(!c.precise_ts && !c.verbose);

	/* one of each kind */
	CHECK_EQ(PARSE(&c, "--socket", "/tmp/s", "--history", "5", "--ringbuf-mb", "8",
		       "--audit-interval", "0", "--precise-ts", "-v", "--metrics-listen",
		       "127.0.0.1:0", "--max-fds=7", "--lock-file", "/tmp/l",
		       "--max-name-bytes", "65536"), 0);
	CHECK_STR(c.socket_path, "/tmp/s");
	CHECK_STR(c.lock_file, "/tmp/l");
	CHECK_EQ(c.history_size, 5);
	CHECK_EQ(c.ringbuf_bytes, 8u << 20);
	CHECK_EQ(c.audit_interval_s, 0);
	CHECK_EQ(c.max_fds, 7);
	CHECK_EQ(c.max_name_bytes, 65536);
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

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_file();
	test_layers();
	test_reload();
	if (argc == 3)
		test_docs(argv[1], argv[2]);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	if (argc != 3) {
		fprintf(stderr, "usage: test-config MAN_PAGE EXAMPLE_CONF\n");
		return 1;
	}
	return check_summary();
}
