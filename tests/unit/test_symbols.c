// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * common/symbols.c on its own: the tables are consistent (no flag of a set
 * overlaps its value field, no name twice), decoding is exact on known and
 * hostile values (unknown bits, all bits, sign-extended ints, a buffer too
 * small), and the argument rules only fire where they should.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/symbols.h"

static const char *fmt(const struct fdw_symset *s, uint64_t v, bool sgn)
{
	static char buf[512];

	(void)fdw_sym_format(s, v, sgn, buf, sizeof(buf));
	return buf;
}

static const struct fdw_symset *arg(const char *sc, const char *a)
{
	return fdw_sym_for_arg(sc, a, NULL, NULL);
}

static bool get_cmd(void *u, const char *name, uint64_t *v)
{
	if (strcmp(name, (const char *)((void **)u)[0]))
		return false;
	*v = (uint64_t)(uintptr_t)((void **)u)[1];
	return true;
}

static void test_tables(void)
{
	for (size_t i = 0; fdw_symsets[i]; i++) {
		const struct fdw_symset *s = fdw_symsets[i];

		CHECK(s->name != NULL);
		for (size_t f = 0; f < s->nflags; f++) {
			/* a flag inside the value field would be named twice */
			if (s->flags[f].value & s->field_mask)
				fprintf(stderr, "%s: %s overlaps the value field\n", s->name,
					s->flags[f].name);
			CHECK(!(s->flags[f].value & s->field_mask));
			CHECK(s->flags[f].value != 0);
			for (size_t g = f + 1; g < s->nflags; g++)
				CHECK(strcmp(s->flags[f].name, s->flags[g].name) != 0);
		}
		for (size_t v = 0; v < s->nvalues; v++) {
			if (s->kind == FDW_SYM_FLAGS)
				CHECK((s->values[v].value & ~s->field_mask) == 0);
			for (size_t w = v + 1; w < s->nvalues; w++)
				CHECK(s->values[v].value != s->values[w].value);
		}
	}
}

static void test_decode(void)
{
	const struct fdw_symset *of = arg("openat", "flags");
	const char *names[FDW_SYM_MAX_NAMES];
	char hex[24], small[8];
	size_t n;

	CHECK(of != NULL);
	CHECK_STR(fmt(of, 0, false), "O_RDONLY");
	CHECK_STR(fmt(of, 02000000, false), "O_RDONLY|O_CLOEXEC");
	CHECK_STR(fmt(of, 01101, false), "O_WRONLY|O_CREAT|O_TRUNC");
	/* groups of bits: O_SYNC is O_DSYNC and more, O_TMPFILE has O_DIRECTORY */
	CHECK_STR(fmt(of, 04010002, false), "O_RDWR|O_SYNC");
	CHECK_STR(fmt(of, 010000, false), "O_RDONLY|O_DSYNC");
	CHECK_STR(fmt(of, 020200000, false), "O_RDONLY|O_TMPFILE");
	CHECK_STR(fmt(of, 0200000, false), "O_RDONLY|O_DIRECTORY");
	/* an access mode that does not exist, unknown bits, every bit */
	CHECK_STR(fmt(of, 3, false), "0x3");
	CHECK_STR(fmt(of, 0x40000000, false), "O_RDONLY|0x40000000");
	CHECK(strstr(fmt(of, UINT64_MAX, false), "O_CLOEXEC|O_PATH|0xffffffff") != NULL);
	n = fdw_sym_flag_names(of, UINT64_MAX, names, FDW_SYM_MAX_NAMES, hex);
	CHECK(n > 10 && n < FDW_SYM_MAX_NAMES);
	CHECK(names[n - 1] == hex);
	/* max names respected */
	CHECK_EQ(fdw_sym_flag_names(of, UINT64_MAX, names, 2, hex), 2);
	/* a small buffer: truncated, the length it needed returned */
	CHECK_EQ(fdw_sym_format(of, 02000000, false, small, sizeof(small)),
		 (int)strlen("O_RDONLY|O_CLOEXEC"));
	CHECK_STR(small, "O_RDONL");

	CHECK_STR(fmt(arg("openat", "dirfd"), (uint64_t)-100, true), "AT_FDCWD");
	/* the 32-bit register form of -100 too */
	CHECK_STR(fmt(arg("openat", "dirfd"), 0xffffff9cull, true), "AT_FDCWD");
	CHECK_STR(fmt(arg("openat", "dirfd"), (uint64_t)-5, true), "-5");
	CHECK_STR(fmt(arg("openat", "dirfd"), 7, true), "7");
	CHECK_STR(fmt(arg("openat", "mode"), 0644, false), "0644");
	CHECK_STR(fmt(arg("openat", "mode"), 0, false), "0");
	CHECK_STR(fmt(arg("close_range", "last"), 0xffffffffull, false), "~0U");
	CHECK_STR(fmt(arg("close_range", "last"), 10, false), "10");
	CHECK_STR(fmt(arg("close_range", "flags"), 6, false),
		  "CLOSE_RANGE_UNSHARE|CLOSE_RANGE_CLOEXEC");
	CHECK_STR(fmt(arg("socket", "domain"), 1, true), "AF_UNIX");
	CHECK_STR(fmt(arg("socket", "domain"), 999, true), "999");
	CHECK_STR(fmt(arg("socket", "type"), 02000001, false), "SOCK_STREAM|SOCK_CLOEXEC");
	CHECK_STR(fmt(arg("socket", "type"), 0xf, false), "0xf");
	CHECK_STR(fmt(arg("accept4", "flags"), 0, false), "0");
	CHECK_STR(fmt(arg("dup3", "flags"), 02000000, false), "O_CLOEXEC");
	CHECK_STR(fmt(arg("clone", "flags"), 0x1011, false), "CLONE_PIDFD|SIGCHLD");
	CHECK_STR(fmt(arg("clone", "flags"), 0x400, false), "CLONE_FILES");
	CHECK_STR(fmt(arg("fanotify_init", "flags"), 0x4, false), "FAN_CLASS_CONTENT");
	CHECK_STR(fmt(arg("fcntl", "cmd"), 1030, true), "F_DUPFD_CLOEXEC");

	/* rules that depend on another argument */
	{
		void *setfd[2] = { "cmd", (void *)(uintptr_t)2 };
		void *setfl[2] = { "cmd", (void *)(uintptr_t)4 };
		void *dupfd[2] = { "cmd", (void *)(uintptr_t)0 };
		void *inet[2] = { "domain", (void *)(uintptr_t)2 };
		void *unixd[2] = { "domain", (void *)(uintptr_t)1 };

		CHECK_STR(fmt(fdw_sym_for_arg("fcntl", "arg", get_cmd, setfd), 1, false),
			  "FD_CLOEXEC");
		CHECK_STR(fmt(fdw_sym_for_arg("fcntl", "arg", get_cmd, setfl), 04000, false),
			  "O_NONBLOCK");
		CHECK(fdw_sym_for_arg("fcntl", "arg", get_cmd, dupfd) == NULL);
		CHECK(fdw_sym_for_arg("fcntl", "arg", NULL, NULL) == NULL);
		CHECK_STR(fmt(fdw_sym_for_arg("socket", "protocol", get_cmd, inet), 6, true),
			  "IPPROTO_TCP");
		CHECK(fdw_sym_for_arg("socket", "protocol", get_cmd, unixd) == NULL);
	}
	/* nothing for unknown syscalls or plain numbers */
	CHECK(arg("nosuch", "flags") == NULL);
	CHECK(arg("openat", "path") == NULL);
	CHECK(arg("dup", "oldfd") == NULL);
	CHECK(arg(NULL, "flags") == NULL);
	CHECK(fdw_sym_value_name(NULL, 1) == NULL);
}

static void test_errno(void)
{
	CHECK_STR(fdw_sym_errno(-9), "EBADF");
	CHECK_STR(fdw_sym_errno(-24), "EMFILE");
	CHECK_STR(fdw_sym_errno(-512), "ERESTARTSYS");
	CHECK_STR(fdw_sym_errno(-516), "ERESTART_RESTARTBLOCK");
	CHECK(fdw_sym_errno(0) == NULL);
	CHECK(fdw_sym_errno(5) == NULL);
	CHECK(fdw_sym_errno(-4096) == NULL);
	CHECK(fdw_sym_errno(INT64_MIN) == NULL);
	CHECK_STR(fdw_sym_uring_op(18), "IORING_OP_OPENAT");
	CHECK(fdw_sym_uring_op(9999) == NULL);
}

int main(void)
{
	test_tables();
	test_decode();
	test_errno();
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
