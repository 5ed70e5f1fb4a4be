/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A record from the ring buffer, checked and unpacked into one plain struct
 * (daemon/decode.c). Everything past decode works on this, never on the
 * raw bytes.
 */
#pragma once

#include <stdint.h>

#include "fdwatch_event.h"

struct fdw_event {
	uint64_t seq;	/* position in the daemon's stream, from 1 */
	uint64_t ring_pos; /* position in the kernel ring (from 1); 0 if not from it */
	uint64_t ts;	/* CLOCK_MONOTONIC ns (as the probe read it) */
	uint64_t files; /* files_struct address: the table */
	uint32_t pid;
	uint32_t tid;
	uint16_t type;	/* FDW_REC_* */
	uint16_t nr;	/* FDW_SYS_* */
	uint16_t flags; /* FDW_F_* */
	uint16_t nfds;
	uint32_t stack; /* captured user stack id + 1, 0 when none */
	int64_t ret;
	uint64_t args[6];
	/* close of an fd of a shared table: the struct file another task had
	 * installed at the number by when the record was made; 0: none */
	uint64_t close_now;
	/* fd-installing syscalls */
	uint64_t file;
	uint64_t ino;
	uint32_t dev;
	uint32_t mode;
	uint64_t aux;
	int32_t fds[FDW_MAX_FDS];
	uint64_t kfiles[FDW_MAX_FDS]; /* struct file of each fd, 0 when unknown */
	/* task events */
	uint32_t child_pid;
	uint32_t child_tid;
	uint64_t child_files;
	int32_t exit_code;
	uint64_t jiffies;
	uint32_t hz;
	char comm[FDW_COMM_LEN];
	uint64_t start_boottime; /* the process's start, CLOCK_BOOTTIME ns; 0: unknown */
	uint64_t start_stack;	 /* its program's stack start (fork, exec); 0: unknown */
	/* FDW_REC_BADF: the fd that was not open, FDW_BADF_* flags;
	 * FDW_REC_INFLIGHT: the fd closed, the thread blocked on it (comm is
	 * that thread's), its syscall, and nr is the closing syscall */
	int32_t race_fd;
	uint32_t race_flags;
	uint32_t other_tid;
	uint16_t other_nr;
	uint32_t threads;
	uint64_t other_arg0;
	/* FDW_REC_REUSE: the file the number named at the thread's previous use
	 * (other_nr: that use's syscall); ino and mode are the new one's */
	uint64_t old_ino;
	uint32_t old_mode;
	/* open family: the path argument; points into the record (or a copy) */
	const char *path;
};
