/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded ring of recent events (for `fdwatch events`). The oldest entry
 * is overwritten when full; `dropped` counts those.
 *
 * Every event of the host passes through here, so an entry is small (two
 * cache lines) and allocated once: what an event carries beyond the
 * entry's fixed fields (the open family's path argument, a record's fifth
 * to eighth fd) goes to a preallocated byte ring beside it, `tail`, of
 * FDW_HISTORY_TAIL_PER_ENTRY bytes per entry. When paths are longer than
 * that on average the ring wraps over tails whose entries are still kept:
 * those entries render without them. fdw_history_event() unpacks an entry
 * into a struct fdw_event again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "capture/event.h"

/* fds kept in the entry itself; more go to the tail ring */
#define FDW_HISTORY_INLINE_FDS 4

struct fdw_history_entry {
	uint64_t seq;
	uint64_t ts;
	uint32_t pid;
	uint32_t tid;
	uint8_t type;  /* FDW_REC_* */
	uint8_t nfds;
	uint16_t nr;   /* FDW_SYS_* */
	uint16_t flags;
	uint16_t tail_len; /* bytes in the tail ring: extra fds, then the path */
	int64_t ret;
	char comm[16]; /* the process's command when the event happened */
	uint64_t tail_pos; /* absolute position of the tail in the tail ring */
	union {
		uint64_t args[6];	/* syscall records */
		uint64_t aux;		/* io_uring records: the opcode */
		struct {		/* fork, exec, exit records */
			uint32_t child_pid;
			uint32_t child_tid;
			int32_t exit_code;
			uint32_t pad;
			char comm[16]; /* exec: the new program's name */
		} task;
		struct {		/* FDW_REC_BADF */
			uint64_t args[5];
			int32_t fd;	/* the fd that was not open */
			uint32_t flags; /* FDW_BADF_* */
		} badf;
		struct {		/* FDW_REC_REUSE */
			uint64_t args[3];
			int32_t fd;
			uint16_t prev_nr; /* the previous use's syscall */
			uint16_t pad;
			uint64_t old_ino;
			uint64_t ino;
		} reuse;
		struct {		/* FDW_REC_INFLIGHT */
			int32_t fd;
			uint32_t blocked_tid;
			uint16_t blocked_nr;
			uint16_t pad;
			uint32_t threads;
			char blocked_comm[16];
		} inflight;
	} u;
	int32_t fds[FDW_HISTORY_INLINE_FDS];
};

struct fdw_history {
	struct fdw_history_entry *ring;
	uint64_t cap;
	uint64_t head;	  /* index of the next write */
	uint64_t len;
	uint64_t dropped; /* overwritten */
	char *tail;	  /* byte ring for what does not fit an entry */
	uint64_t tail_cap;
	uint64_t tail_pos;   /* absolute write position */
};

#define FDW_HISTORY_TAIL_PER_ENTRY 64

int fdw_history_init(struct fdw_history *h, uint64_t cap);
void fdw_history_free(struct fdw_history *h);
/* Append *ev (its path is copied). Returns the stored entry, valid until
 * cap more pushes. */
const struct fdw_history_entry *fdw_history_push(struct fdw_history *h, const struct fdw_event *ev,
						 const char *comm);
/* i-th oldest entry, i in [0, len). */
const struct fdw_history_entry *fdw_history_at(const struct fdw_history *h, uint64_t i);
/*
 * The event an entry holds. out->path points into the history (valid until
 * the next push) or is NULL. Fields the history does not keep (ring
 * position, kernel addresses, inode, stack id) are 0. Returns false when
 * the entry's tail (path, extra fds) was overwritten: out then has the
 * entry's own fields only (nfds at most FDW_HISTORY_INLINE_FDS, no path).
 */
bool fdw_history_event(const struct fdw_history *h, const struct fdw_history_entry *e,
		       struct fdw_event *out);
