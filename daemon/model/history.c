// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/history.h"

/* the longest tail: four more fds and a full path with its NUL */
#define TAIL_MAX ((FDW_MAX_FDS - FDW_HISTORY_INLINE_FDS) * sizeof(int32_t) + FDW_PATH_LEN)

/* entries written ahead of time (see fdw_history_push) */
#define PREFETCH_AHEAD 4

_Static_assert(sizeof(struct fdw_history_entry) == 128, "a history entry is two cache lines");

int fdw_history_init(struct fdw_history *h, uint64_t cap)
{
	memset(h, 0, sizeof(*h));
	if (!cap)
		return -EINVAL;
	if (cap > UINT64_MAX / 2 / sizeof(*h->ring))
		return -ENOMEM;
	/* entries on cache-line boundaries: one push writes two whole lines */
	h->ring = aligned_alloc(64, cap * sizeof(*h->ring));
	if (!h->ring)
		return -ENOMEM;
	memset(h->ring, 0, cap * sizeof(*h->ring));
	h->tail_cap = cap * FDW_HISTORY_TAIL_PER_ENTRY;
	if (h->tail_cap < 4 * TAIL_MAX)
		h->tail_cap = 4 * TAIL_MAX;
	/* pages are only touched as tails are written */
	h->tail = malloc(h->tail_cap);
	if (!h->tail) {
		free(h->ring);
		h->ring = NULL;
		return -ENOMEM;
	}
	h->cap = cap;
	return 0;
}

void fdw_history_free(struct fdw_history *h)
{
	if (!h || !h->ring)
		return;
	free(h->ring);
	free(h->tail);
	memset(h, 0, sizeof(*h));
}

/* Room for n contiguous bytes in the tail ring: a tail never wraps. */
static char *tail_reserve(struct fdw_history *h, size_t n, uint64_t *pos)
{
	uint64_t off = h->tail_pos % h->tail_cap;

	if (off + n > h->tail_cap)
		h->tail_pos += h->tail_cap - off; /* skip to the ring's start */
	*pos = h->tail_pos;
	h->tail_pos += n;
	return h->tail + *pos % h->tail_cap;
}

static void push_tail(struct fdw_history *h, struct fdw_history_entry *e,
		      const struct fdw_event *ev, unsigned int nfds)
{
	size_t nextra = nfds > FDW_HISTORY_INLINE_FDS ? nfds - FDW_HISTORY_INLINE_FDS : 0;
	size_t plen = ev->path ? strnlen(ev->path, FDW_PATH_LEN - 1) + 1 : 0;
	size_t n = nextra * sizeof(int32_t) + plen;
	char *t;

	if (!n)
		return;
	t = tail_reserve(h, n, &e->tail_pos);
	memcpy(t, ev->fds + FDW_HISTORY_INLINE_FDS, nextra * sizeof(int32_t));
	if (plen) {
		memcpy(t + nextra * sizeof(int32_t), ev->path, plen - 1);
		t[n - 1] = '\0';
	}
	e->tail_len = (uint16_t)n;
}

const struct fdw_history_entry *fdw_history_push(struct fdw_history *h, const struct fdw_event *ev,
						 const char *comm)
{
	struct fdw_history_entry *e = &h->ring[h->head];
	unsigned int nfds = ev->nfds < FDW_MAX_FDS ? ev->nfds : FDW_MAX_FDS;

	if (h->len == h->cap)
		h->dropped++;
	else
		h->len++;
	e->seq = ev->seq;
	e->ts = ev->ts;
	e->pid = ev->pid;
	e->tid = ev->tid;
	e->type = (uint8_t)ev->type;
	e->nfds = (uint8_t)nfds;
	e->nr = ev->nr;
	e->flags = ev->flags;
	e->tail_len = 0;
	e->tail_pos = 0;
	e->ret = ev->ret;
	memset(e->comm, 0, sizeof(e->comm));
	/* comm may be shorter than the field (a caller's string): never read
	 * past its NUL */
	if (comm)
		memcpy(e->comm, comm, strnlen(comm, sizeof(e->comm) - 1));
	switch (ev->type) {
	case FDW_REC_FORK:
	case FDW_REC_EXEC:
	case FDW_REC_EXIT:
		e->u.task.child_pid = ev->child_pid;
		e->u.task.child_tid = ev->child_tid;
		e->u.task.exit_code = ev->exit_code;
		e->u.task.pad = 0;
		memcpy(e->u.task.comm, ev->comm, sizeof(e->u.task.comm));
		e->u.task.comm[sizeof(e->u.task.comm) - 1] = '\0';
		break;
	case FDW_REC_URING:
		memset(e->u.args, 0, sizeof(e->u.args));
		e->u.aux = ev->aux;
		break;
	/* the race records: what they tell beyond the syscall's arguments */
	case FDW_REC_BADF:
		memcpy(e->u.badf.args, ev->args, sizeof(e->u.badf.args));
		e->u.badf.fd = ev->race_fd;
		e->u.badf.flags = ev->race_flags;
		break;
	case FDW_REC_REUSE:
		memcpy(e->u.reuse.args, ev->args, sizeof(e->u.reuse.args));
		e->u.reuse.fd = ev->race_fd;
		e->u.reuse.prev_nr = ev->other_nr;
		e->u.reuse.pad = 0;
		e->u.reuse.old_ino = ev->old_ino;
		e->u.reuse.ino = ev->ino;
		break;
	case FDW_REC_INFLIGHT:
		memset(e->u.args, 0, sizeof(e->u.args));
		e->u.inflight.fd = ev->race_fd;
		e->u.inflight.blocked_tid = ev->other_tid;
		e->u.inflight.blocked_nr = ev->other_nr;
		e->u.inflight.threads = ev->threads;
		memcpy(e->u.inflight.blocked_comm, ev->comm, sizeof(e->u.inflight.blocked_comm));
		e->u.inflight.blocked_comm[sizeof(e->u.inflight.blocked_comm) - 1] = '\0';
		break;
	default:
		memcpy(e->u.args, ev->args, sizeof(e->u.args));
		/* openat2 takes 4 arguments: its how.flags ride in the 6th */
		if (ev->type == FDW_REC_SYSCALL && ev->nr == FDW_SYS_OPENAT2)
			e->u.args[5] = ev->aux;
		break;
	}
	memcpy(e->fds, ev->fds, sizeof(e->fds));
	if (nfds > FDW_HISTORY_INLINE_FDS || ev->path)
		push_tail(h, e, ev, nfds);
	h->head = h->head + 1 == h->cap ? 0 : h->head + 1;
	/* The ring is far bigger than the caches: without this every push
	 * stalls on reading the lines it is about to overwrite. Ask for the
	 * entry PREFETCH_AHEAD pushes from now, for writing. */
	{
		uint64_t ahead = h->head + PREFETCH_AHEAD;
		const char *a = (const char *)&h->ring[ahead < h->cap ? ahead : ahead % h->cap];

		__builtin_prefetch(a, 1, 0);
		__builtin_prefetch(a + 64, 1, 0);
	}
	return e;
}

const struct fdw_history_entry *fdw_history_at(const struct fdw_history *h, uint64_t i)
{
	if (i >= h->len)
		return NULL;
	return &h->ring[(h->head + h->cap - h->len + i) % h->cap];
}

bool fdw_history_event(const struct fdw_history *h, const struct fdw_history_entry *e,
		       struct fdw_event *out)
{
	unsigned int inline_fds = e->nfds < FDW_HISTORY_INLINE_FDS ? e->nfds : FDW_HISTORY_INLINE_FDS;

	memset(out, 0, sizeof(*out));
	out->seq = e->seq;
	out->ts = e->ts;
	out->pid = e->pid;
	out->tid = e->tid;
	out->type = e->type;
	out->nr = e->nr;
	out->flags = e->flags;
	out->nfds = (uint16_t)inline_fds;
	out->ret = e->ret;
	memcpy(out->fds, e->fds, inline_fds * sizeof(int32_t));
	switch (e->type) {
	case FDW_REC_FORK:
	case FDW_REC_EXEC:
	case FDW_REC_EXIT:
		out->child_pid = e->u.task.child_pid;
		out->child_tid = e->u.task.child_tid;
		out->exit_code = e->u.task.exit_code;
		memcpy(out->comm, e->u.task.comm, sizeof(out->comm));
		break;
	case FDW_REC_URING:
		out->aux = e->u.aux;
		break;
	case FDW_REC_BADF:
		memcpy(out->args, e->u.badf.args, sizeof(e->u.badf.args));
		out->race_fd = e->u.badf.fd;
		out->race_flags = e->u.badf.flags;
		break;
	case FDW_REC_REUSE:
		memcpy(out->args, e->u.reuse.args, sizeof(e->u.reuse.args));
		out->race_fd = e->u.reuse.fd;
		out->other_nr = e->u.reuse.prev_nr;
		out->old_ino = e->u.reuse.old_ino;
		out->ino = e->u.reuse.ino;
		break;
	case FDW_REC_INFLIGHT:
		out->race_fd = e->u.inflight.fd;
		out->other_tid = e->u.inflight.blocked_tid;
		out->other_nr = e->u.inflight.blocked_nr;
		out->threads = e->u.inflight.threads;
		memcpy(out->comm, e->u.inflight.blocked_comm, sizeof(out->comm));
		break;
	default:
		memcpy(out->args, e->u.args, sizeof(out->args));
		if (e->type == FDW_REC_SYSCALL && e->nr == FDW_SYS_OPENAT2) {
			out->aux = e->u.args[5];
			out->args[5] = 0;
		}
		break;
	}
	if (e->tail_len) {
		const char *t = h->tail + e->tail_pos % h->tail_cap;
		size_t nextra = e->nfds > FDW_HISTORY_INLINE_FDS ? e->nfds - FDW_HISTORY_INLINE_FDS : 0;

		/* intact while the writer has not come round to it again */
		if (h->tail_pos - e->tail_pos > h->tail_cap)
			return false;
		memcpy(out->fds + FDW_HISTORY_INLINE_FDS, t, nextra * sizeof(int32_t));
		out->nfds = e->nfds;
		if (e->tail_len > nextra * sizeof(int32_t))
			out->path = t + nextra * sizeof(int32_t);
	}
	return true;
}
