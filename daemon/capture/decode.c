// SPDX-License-Identifier: LGPL-2.1-or-later
/* Ring-buffer records (include/fdwatch_event.h) to struct fdw_event. */
#include <errno.h>
#include <string.h>

#include "capture/decode.h"

static void unpack_hdr(const struct fdw_hdr *h, struct fdw_event *ev)
{
	ev->type = h->type;
	ev->flags = h->flags;
	ev->pid = h->pid;
	ev->tid = h->tid;
	ev->ts = h->ts;
	ev->files = h->files;
	ev->close_now = 0; /* set by the short record's unpacker */
}

/* The fd-installing part of a record, for records that have none. */
static void clear_fd_part(struct fdw_event *ev)
{
	ev->nfds = 0;
	ev->file = 0;
	ev->ino = 0;
	ev->dev = 0;
	ev->mode = 0;
	ev->aux = 0;
	memset(ev->fds, 0, sizeof(ev->fds));
	ev->path = NULL;
}

/* The task part of a record, for syscall records (which have none). */
static void clear_task_part(struct fdw_event *ev)
{
	ev->child_pid = 0;
	ev->child_tid = 0;
	ev->child_files = 0;
	ev->exit_code = 0;
	ev->jiffies = 0;
	ev->hz = 0;
	memset(ev->comm, 0, sizeof(ev->comm));
	ev->start_boottime = 0;
	ev->start_stack = 0;
}

static int unpack_sys(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_sys_event *s = data;
	const struct fdw_fd_event *f = data;
	const struct fdw_open_event *o = data;

	if (s->nr >= FDW_SYS_MAX)
		return -EBADMSG;
	ev->nr = s->nr;
	ev->stack = s->stack;
	ev->ret = s->ret;
	memcpy(ev->args, s->args, sizeof(ev->args));
	if (len == sizeof(*s)) {
		clear_fd_part(ev);
		if (s->nfds)
			return -EBADMSG;
		return 0;
	}
	if (len != sizeof(*f) && len != sizeof(*o))
		return -EBADMSG;
	if (s->nfds > FDW_MAX_FDS)
		return -EBADMSG;
	ev->nfds = s->nfds;
	ev->file = f->file;
	ev->ino = f->ino;
	ev->dev = f->dev;
	ev->mode = f->mode;
	ev->aux = f->aux;
	/* all of them (the record has room for FDW_MAX_FDS): only the first
	 * nfds mean anything */
	memcpy(ev->fds, f->fds, sizeof(ev->fds));
	memcpy(ev->kfiles, f->files, sizeof(ev->kfiles[0]) * ev->nfds);
	if (ev->nfds)
		ev->kfiles[0] = f->file;
	for (unsigned int i = 0; i < ev->nfds; i++)
		if (ev->fds[i] < 0)
			return -EBADMSG;
	ev->path = NULL;
	if (len == sizeof(*o)) {
		/* The probe NUL-terminates; do not trust it to. */
		if (!memchr(o->path, '\0', sizeof(o->path)))
			return -EBADMSG;
		ev->path = o->path;
	}
	return 0;
}

static int unpack_short(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_short_event *s = data;

	if (len != sizeof(*s))
		return -EBADMSG;
	if (s->nr != FDW_SYS_DUP && s->nr != FDW_SYS_DUP2 && s->nr != FDW_SYS_DUP3 &&
	    s->nr != FDW_SYS_CLOSE)
		return -EBADMSG;
	/* the rest of the pipeline sees a syscall record like any other */
	ev->type = FDW_REC_SYSCALL;
	ev->nr = s->nr;
	ev->stack = s->stack;
	ev->ret = s->ret;
	ev->args[0] = (uint64_t)(int64_t)s->args[0];
	if (s->nr == FDW_SYS_CLOSE) {
		ev->args[1] = ev->args[2] = 0;
		ev->close_now = (uint64_t)s->close.now_hi << 32 | s->close.now_lo;
	} else {
		/* dup2's newfd and dup3's flags: unsigned to the kernel */
		ev->args[1] = (uint32_t)s->args[1];
		ev->args[2] = (uint32_t)s->args[2];
		ev->close_now = 0;
	}
	ev->args[3] = ev->args[4] = ev->args[5] = 0;
	clear_fd_part(ev);
	return 0;
}

static int unpack_task(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_task_event *t = data;

	if (len != sizeof(*t))
		return -EBADMSG;
	ev->child_pid = t->child_pid;
	ev->child_tid = t->child_tid;
	ev->child_files = t->child_files;
	ev->exit_code = t->exit_code;
	ev->jiffies = t->jiffies;
	ev->hz = t->hz;
	memcpy(ev->comm, t->comm, sizeof(ev->comm));
	ev->comm[sizeof(ev->comm) - 1] = '\0';
	ev->start_boottime = t->start_boottime;
	ev->start_stack = t->start_stack;
	ev->nr = 0;
	ev->stack = 0;
	ev->ret = 0;
	memset(ev->args, 0, sizeof(ev->args));
	clear_fd_part(ev);
	return 0;
}

static int unpack_badf(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_badf_event *b = data;
	int r;

	if (len != sizeof(*b))
		return -EBADMSG;
	r = unpack_sys(data, sizeof(b->sys), ev);
	if (r < 0)
		return r;
	if (b->fd < 0 || b->sys.nr == FDW_SYS_UNKNOWN)
		return -EBADMSG;
	ev->race_fd = b->fd;
	ev->race_flags = b->bflags;
	return 0;
}

static int unpack_reuse(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_reuse_event *u = data;
	int r;

	if (len != sizeof(*u))
		return -EBADMSG;
	r = unpack_sys(data, sizeof(u->sys), ev);
	if (r < 0)
		return r;
	if (u->fd < 0 || u->old_nr >= FDW_SYS_MAX)
		return -EBADMSG;
	ev->race_fd = u->fd;
	ev->other_nr = u->old_nr;
	ev->old_ino = u->old_ino;
	ev->old_mode = u->old_mode;
	ev->ino = u->new_ino;
	ev->mode = u->new_mode;
	return 0;
}

static int unpack_inflight(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_inflight_event *f = data;

	if (len != sizeof(*f) || f->nr >= FDW_SYS_MAX || f->other_nr >= FDW_SYS_MAX ||
	    f->fd < 0)
		return -EBADMSG;
	/* no syscall part of its own: what an earlier record left must not
	 * show (the history keeps args, ret and fds) */
	clear_fd_part(ev);
	clear_task_part(ev);
	memset(ev->args, 0, sizeof(ev->args));
	ev->ret = 0;
	ev->stack = 0;
	ev->nr = f->nr;
	ev->other_nr = f->other_nr;
	ev->other_tid = f->other_tid;
	ev->race_fd = f->fd;
	ev->threads = f->threads;
	ev->other_arg0 = f->other_arg0;
	memcpy(ev->comm, f->other_comm, sizeof(ev->comm));
	ev->comm[sizeof(ev->comm) - 1] = '\0';
	return 0;
}

int fdw_decode(const void *data, size_t len, struct fdw_event *ev)
{
	const struct fdw_hdr *h = data;
	int r;

	if (!data || len < sizeof(*h))
		return -EBADMSG;
	if (h->abi != FDW_ABI_VERSION)
		return -EPROTO;
	if (h->size != len)
		return -EBADMSG;
	/*
	 * Every record passes here: no memset of the whole struct (~300
	 * bytes). Each part is written by the unpacker of the records that
	 * have it and cleared by the others; kfiles[] past nfds is left as it
	 * was (nothing reads it).
	 */
	unpack_hdr(h, ev);
	ev->seq = 0;
	ev->ring_pos = 0;
	switch (h->type) {
	case FDW_REC_SYSCALL:
	case FDW_REC_URING:
		if (len < sizeof(struct fdw_sys_event))
			return -EBADMSG;
		clear_task_part(ev);
		r = unpack_sys(data, len, ev);
		break;
	case FDW_REC_SHORT:
		clear_task_part(ev);
		r = unpack_short(data, len, ev);
		break;
	case FDW_REC_BADF:
		clear_task_part(ev);
		r = unpack_badf(data, len, ev);
		break;
	case FDW_REC_INFLIGHT:
		r = unpack_inflight(data, len, ev);
		break;
	case FDW_REC_REUSE:
		clear_task_part(ev);
		r = unpack_reuse(data, len, ev);
		break;
	case FDW_REC_FORK:
	case FDW_REC_EXEC:
	case FDW_REC_EXIT:
		r = unpack_task(data, len, ev);
		break;
	default:
		return -EBADMSG;
	}
	return r;
}
