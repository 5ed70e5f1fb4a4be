/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Symbolic names of syscall arguments, the way strace prints them:
 * O_RDONLY|O_CLOEXEC, AT_FDCWD, AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, F_SETFD,
 * FD_CLOEXEC, CLOSE_RANGE_CLOEXEC, errno names...
 *
 * The one decoding table of fdwatch: the daemon uses it to add the names
 * beside the raw numbers of GET /v1/events (`flags_names`, `dirfd_name`),
 * the CLI to print its human views. Pure (no I/O, no allocation), libc
 * only, so both link it (common/ is below daemon/base in the layers).
 *
 * Values are the Linux x86_64/arm64 ABI numbers, as the kernel sees them
 * (O_LARGEFILE is 0100000 there even though 64-bit libc defines it 0).
 */
#ifndef FDWATCH_COMMON_SYMBOLS_H
#define FDWATCH_COMMON_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fdw_sym_kind {
	FDW_SYM_VALUE,	/* the whole value is one name: AF_UNIX, AT_FDCWD */
	FDW_SYM_FLAGS,	/* a value field (may be none) plus flag bits */
	FDW_SYM_OCTAL,	/* a mode: printed 0644, no names */
	FDW_SYM_UINT,	/* an unsigned bound: ~0U printed as such, no names */
};

struct fdw_sym {
	uint64_t value;
	const char *name;
};

struct fdw_symset {
	const char *name;		/* for tests: "open_flags" */
	enum fdw_sym_kind kind;
	/* FDW_SYM_VALUE: the names; FDW_SYM_FLAGS: the names of the value held
	 * in field_mask (O_ACCMODE, the socket type), if any */
	const struct fdw_sym *values;
	size_t nvalues;
	uint64_t field_mask;
	bool field_last;		/* the field's name after the flags (clone's signal) */
	/* FDW_SYM_FLAGS: single bits or groups of bits (a group matches when
	 * all its bits are set; each bit is named once, first match wins) */
	const struct fdw_sym *flags;
	size_t nflags;
};

/*
 * The values of the event's other arguments, by name (the context some
 * arguments need: fcntl's arg depends on cmd, socket's protocol on
 * domain). Returns false when there is no such argument.
 */
typedef bool (*fdw_sym_get_fn)(void *userdata, const char *arg, uint64_t *value);

/*
 * The set that decodes argument `arg` of `syscall` (a name of
 * daemon/capture/syscalls.c, or "io_uring"), or NULL when it is a plain
 * number. get (may be NULL) supplies the other arguments.
 */
const struct fdw_symset *fdw_sym_for_arg(const char *syscall, const char *arg,
					 fdw_sym_get_fn get, void *userdata);

/* FDW_SYM_VALUE: the name of v, or NULL. */
const char *fdw_sym_value_name(const struct fdw_symset *s, uint64_t v);

/*
 * FDW_SYM_FLAGS: the names of v, in table order, the value field first.
 * Bits no name covers come last as one hex number written into hex
 * (char[24]), and names[] points at it. Returns how many names (at most
 * max; 0 for v 0 without a name for a zero field).
 */
size_t fdw_sym_flag_names(const struct fdw_symset *s, uint64_t v, const char **names,
			  size_t max, char *hex);

/* Most names one value of any set can produce (bounds names[] above). */
#define FDW_SYM_MAX_NAMES 40

/*
 * v as strace prints it: "O_RDONLY|O_CLOEXEC", "AT_FDCWD", "0644", "~0U",
 * or the number (signed when as_signed) when no name fits. Returns the
 * length snprintf() would have written.
 */
int fdw_sym_format(const struct fdw_symset *s, uint64_t v, bool as_signed, char *buf,
		   size_t size);

/*
 * The errno name of a syscall's return value (-9 -> "EBADF"), including the
 * kernel-internal restart codes a sys_exit tracepoint sees (ERESTARTSYS);
 * NULL when ret is not an error or has no name.
 */
const char *fdw_sym_errno(int64_t ret);

/* "IORING_OP_OPENAT" for an io_uring opcode, NULL when unknown. */
const char *fdw_sym_uring_op(uint64_t op);

/* Every set, for tests: NULL-terminated. */
extern const struct fdw_symset *const fdw_symsets[];

#endif /* FDWATCH_COMMON_SYMBOLS_H */
