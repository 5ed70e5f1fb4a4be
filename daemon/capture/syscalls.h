/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What fdwatch knows about each traced syscall: its name, the names and
 * kinds of its arguments (for the events API), and how the syscall decides
 * the close-on-exec bit of the fds it installs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/event.h"

enum fdw_arg_kind {
	FDW_ARG_NONE = 0,
	FDW_ARG_FD,    /* int, a descriptor number */
	FDW_ARG_INT,   /* int */
	FDW_ARG_UINT,  /* unsigned value, flags and masks */
	FDW_ARG_PTR,   /* user pointer: not rendered */
	FDW_ARG_PATH,  /* user string, rendered from the captured copy */
};

enum fdw_cloexec_rule {
	FDW_CLOEXEC_NEVER = 0,	/* the new fd is never close-on-exec */
	FDW_CLOEXEC_ALWAYS,	/* the kernel always sets it */
	FDW_CLOEXEC_ARG,	/* args[cloexec_arg] & cloexec_mask */
	FDW_CLOEXEC_AUX,	/* aux & cloexec_mask (openat2's how.flags) */
};

struct fdw_syscall_info {
	const char *name;
	const char *arg_names[6];
	enum fdw_arg_kind arg_kinds[6];
	enum fdw_cloexec_rule cloexec_rule;
	uint8_t cloexec_arg;
	uint64_t cloexec_mask;
	const char *anon_name; /* what readlink shows for an anon inode it creates */
};

/* NULL for an unknown number. */
const struct fdw_syscall_info *fdw_syscall_info(unsigned int nr);
const char *fdw_syscall_name(unsigned int nr);
/* FDW_SYS_UNKNOWN when unknown. */
unsigned int fdw_syscall_by_name(const char *name);

/* Does this successful syscall install its fds with close-on-exec? */
bool fdw_syscall_cloexec(const struct fdw_event *ev);

/* "EBADF" for 9, NULL when unknown. */
const char *fdw_errno_name(int err);
