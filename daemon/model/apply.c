// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Applying decoded events to tables, tasks and processes with Linux's
 * semantics.
 *
 * Where an event disagrees with the model (an fd the model never saw, a
 * table the kernel split without telling), the model asks /proc for the
 * truth at once (resync.c) and counts an anomaly: a table is never left
 * knowingly wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "model/internal.h"
#include "capture/syscalls.h"

#define CLOSE_RANGE_CLOEXEC_ (1u << 2)

/* ---- the task and table of an event ------------------------------------ */

static void origin_from_event(struct fdw_origin *o, const struct fdw_event *ev,
			      const struct fdw_proc *p, int from_fd)
{
	o->nr = ev->nr;
	o->source = FDW_SRC_EVENT;
	o->flags = 0;
	o->from_fd = from_fd;
	o->tid = ev->tid;
	o->pid = ev->pid;
	o->ts = ev->ts;
	o->seq = ev->seq;
	if (p)
		memcpy(o->comm, p->comm, sizeof(o->comm));
	else
		o->comm[0] = '\0';
}

static struct fdw_task *unknown_task(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_proc *p = fdw_model_proc(m, ev->pid);
	struct fdw_table *t;
	struct fdw_task *task;
	char comm[16] = "";
	uint32_t ppid = 0;
	bool fresh = false;

	m->stats.unknown_task++;
	if (!p) {
		/* /proc has no trace of it: it exited (its exit record came first:
		 * another thread's, or it was lost). Modelling it now would leave a
		 * ghost until the audit's sweep. */
		if (m->ops.read_proc &&
		    m->ops.read_proc(m->ops.userdata, ev->pid, comm, &ppid) == -ESRCH) {
			m->stats.unknown_gone++;
			return NULL;
		}
		p = fdw__proc_new(m, ev->pid, ppid, comm, ev->ts);
		if (!p)
			return NULL;
	}
	t = ev->files ? fdw_hashmap_get(&m->tables, ev->files) : NULL;
	if (!t) {
		t = fdw__table_new(m, ev->files, ev->ts);
		if (!t)
			goto fail;
		fresh = true;
	}
	task = fdw__task_new(m, ev->tid, p, t);
	if (!task) {
		if (fresh)
			fdw__table_free(m, t);
		goto fail;
	}
	/* The table's contents before this event: the kernel's now. A table
	 * found by address is only trusted when this process already used it:
	 * otherwise the address may be a dead process's, reused. */
	if (fresh || p->ntasks == 1)
		(void)fdw__table_resync(m, t, ev->tid, ev->ts);
	return task;
fail:
	if (p->ntasks == 0)
		fdw__proc_del(m, p);
	return NULL;
}

static void move_all_tasks(struct fdw_model *m, struct fdw_table *from, struct fdw_table *to)
{
	size_t it = 0;
	void *v;

	from->users++; /* keep it alive while tasks leave it */
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v))
		if (((struct fdw_task *)v)->table == from)
			fdw__task_set_table(m, v, to);
	if (--from->users == 0)
		fdw__table_free(m, from);
}

/*
 * The task an event came from, with its table bound to the event's
 * files_struct. A task whose files_struct changed had its table split
 * (unshare(CLONE_FILES), close_range(CLOSE_RANGE_UNSHARE), exec of a task
 * sharing its table): the new table starts as a copy of the old one.
 */
static struct fdw_task *event_task(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = m->last_task;
	struct fdw_table *t, *other;

	if (!task || task->tid != ev->tid) {
		task = fdw_hashmap_get(&m->tasks, ev->tid);
		if (!task)
			task = unknown_task(m, ev);
		if (!task)
			return NULL;
		m->last_task = task;
	}
	t = task->table;
	if (!ev->files || (t && t->kfiles == ev->files))
		return task;
	other = fdw_hashmap_get(&m->tables, ev->files);
	if (other && t && !t->kfiles) {
		/* a table found by the /proc scan is this kernel table: every
		 * task on it moves (one that truly differs splits on its own
		 * next record) */
		move_all_tasks(m, t, other);
	} else if (other) {
		/* the same kernel table we knew under another name */
		fdw__task_set_table(m, task, other);
	} else if (t && !t->kfiles) {
		/* first event on a table found by the /proc scan */
		t->kfiles = ev->files;
		if (fdw_hashmap_put(&m->tables, ev->files, t) < 0)
			t->kfiles = 0;
	} else {
		struct fdw_table *nt;

		m->stats.table_splits++;
		nt = t ? fdw__table_copy(m, t, ev->files, ev->ts)
		       : fdw__table_new(m, ev->files, ev->ts);
		if (!nt)
			return task;
		fdw__task_set_table(m, task, nt);
		/* other threads may have changed the old table between the
		 * kernel's copy and this event: re-read */
		if (t)
			fdw__table_want_resync(m, nt, ev->tid, ev->ts, NULL);
	}
	return task;
}

/* ---- dup, close, fcntl ------------------------------------------------- */

/*
 * A record older than the table's last /proc read describes a change that
 * read already showed. Applying it again would replay history over the
 * present (an open and close of fd 5 replayed after /proc showed the fd 5
 * that came next).
 */
static bool already_read(const struct fdw_table *t, const struct fdw_event *ev)
{
	return ev->ring_pos && ev->ring_pos < t->read_pos;
}

/*
 * A record from before the end of the table's last read: the read took the
 * table fd by fd, so what it shows of fds above its cursor at the time of
 * the record is later than the record. For a one-fd change, applying it
 * again on top comes to the same; for a fork, a copy of the model's table
 * is not the child's.
 */
static bool read_overlaps(const struct fdw_table *t, const struct fdw_event *ev)
{
	return ev->ring_pos && (ev->ring_pos < t->read_pos || ev->ring_pos < t->read_end);
}

/*
 * A record the model disagrees with: the model missed a change, and
 * whatever the caller does about it (ask the kernel, or take the record's
 * word) repairs it. Not counted when the table's last /proc read overlaps
 * the record: that read took the table fd by fd while the process went on,
 * so it may already show this record's change or a later one's (a close of
 * the fd the read found closed, an install over the fd the read found
 * there). A fork from a threaded parent (meson, a Python test runner) has
 * its child's table read so, and the child's first records fall inside.
 * Nor when it is the table's first record after the read (edge_pos): its
 * syscall may have been under way during the read, its change made and
 * its record not yet (a daemon's detacher closing its links at the next
 * daemon's start-up scan).
 */
static void anomaly(struct fdw_model *m, const struct fdw_table *t, const struct fdw_event *ev)
{
	if (!read_overlaps(t, ev) && !(ev->ring_pos && ev->ring_pos == t->edge_pos))
		m->stats.anomalies++;
}

/*
 * An install (or a dup, which gets only free numbers) over a number the
 * model still has open: the close of what it held is to come. In a table
 * other tasks share, another thread's, applied later than the install
 * (docs/architecture.md: threads racing for a number): the number says a
 * close is pending, unless that close came first. In a table of one task,
 * a close the model missed.
 */
static void race_install(struct fdw_model *m, struct fdw_table *t, struct fdw_slot *s,
			 const struct fdw_event *ev)
{
	if (t->users <= 1)
		anomaly(m, t, ev);
	else if (s && s->early_close)
		s->early_close = false;
	else if (s)
		s->race_pending = true;
}

/* `chosen`: the caller picked newfd (dup2, dup3, F_DUPFD that got its minimum). */
static void apply_dup(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev,
		      int oldfd, int newfd, bool cloexec, bool chosen)
{
	struct fdw_table *t = task->table;
	struct fdw_slot *src = fdw_table_slot(t, oldfd), *dst;
	struct fdw_origin origin;
	bool clobber;

	origin_from_event(&origin, ev, task->proc, oldfd);
	if (chosen)
		origin.flags |= FDW_ORIGIN_CHOSEN;
	if (!fdw_slot_open(src)) {
		/* the model missed oldfd: ask the kernel about newfd */
		anomaly(m, t, ev);
		(void)fdw__resolve_fd(m, t, ev->tid, newfd, &origin);
		dst = fdw_table_slot(t, newfd);
		if (fdw_slot_open(dst))
			fdw__notify(m, task->proc, ev, FDW_FDEV_OPEN, newfd, dst);
		return;
	}
	dst = fdw_table_slot(t, newfd);
	clobber = fdw_slot_open(dst);
	if (clobber)
		fdw__notify(m, task->proc, ev, FDW_FDEV_CLOBBER, newfd, dst);
	fdw__touch_dup(t, oldfd);
	dst = fdw__slot_install(m, t, newfd, fdw_slot_ofd(src), cloexec, &origin);
	/* dup and F_DUPFD return free numbers: a close of this one is to come */
	if (clobber && !chosen)
		race_install(m, t, dst, ev);
	if (!dst)
		return;
	/* dup/F_DUPFD only return free numbers: an open one means another
	 * thread's close of it is still in flight; for dup2/dup3 it may be */
	dst->suspect = clobber;
	fdw__notify(m, task->proc, ev, FDW_FDEV_OPEN, newfd, dst);
}

static void apply_close(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev,
			int fd)
{
	struct fdw_table *t = task->table;
	struct fdw_slot *s = fdw_table_slot(t, fd);
	struct fdw_origin closed;

	/* whatever the result, the number is the record's now, not a read's
	 * taken before it; an EBADF where the model has nothing changes
	 * nothing (close(-1) in cleanup code: a busy server's every read
	 * would be refused) */
	if (ev->ret != -EBADF || fdw_slot_open(s))
		fdw__touch(t, fd, FDW_TOUCH_FILE);
	if (ev->ret == -EBADF) {
		if (ev->close_now && fdw_slot_open(s) && fdw_slot_ofd(s)->kfile == ev->close_now) {
			/* the number was empty at the close and another task
			 * of the table installed the slot's file right after,
			 * its record first: the close is not of it */
			m->stats.stale_closes++;
			fdw__notify(m, task->proc, ev, FDW_FDEV_DOUBLE_CLOSE, fd, s);
			return;
		}
		if (fdw_slot_open(s)) {
			/* the kernel had no such fd: the model was wrong */
			anomaly(m, t, ev);
			origin_from_event(&closed, ev, task->proc, -1);
			fdw__slot_close(m, t, s, &closed);
		}
		fdw__notify(m, task->proc, ev, FDW_FDEV_DOUBLE_CLOSE, fd, s);
		return;
	}
	/*
	 * Another task of the table reopened the number, and its install is in
	 * the model already (records are in the order of the syscalls' exits,
	 * not of the table's changes): this close was of the file before,
	 * which that install replaced. Not the slot's file: its record comes.
	 */
	if (ev->close_now && fdw_slot_open(s) && fdw_slot_ofd(s)->kfile == ev->close_now) {
		const struct fdw_origin *so = fdw_slot_origin(s);
		/* a dup2/dup3 (or F_DUPFD at its minimum) of another thread
		 * replaced the number, its record first: it marked no race (a
		 * dup2 may replace an open fd), and it is the install this
		 * close raced */
		bool chosen_raced = s->suspect && so->tid != ev->tid &&
				    (so->flags & FDW_ORIGIN_CHOSEN);

		s->suspect = false;
		m->stats.stale_closes++;
		/* the race of the install it saw; or, the file it closed being
		 * at the new file's address (freed, reused), the install is yet
		 * to come */
		if (s->race_pending)
			s->race_pending = false;
		else if (!chosen_raced)
			s->early_close = true;
		return;
	}
	/* any other result (0, EINTR, EIO): the fd is gone on Linux */
	if (!fdw_slot_open(s)) {
		/* a close whose record comes after another thread reopened the
		 * number (an install over it: race_pending) and closed it again
		 * (its probe found the number empty); else a record the model
		 * missed */
		if (s && s->race_pending) {
			s->race_pending = false;
			m->stats.stale_closes++;
		} else if (ev->ret == 0) {
			anomaly(m, t, ev);
		}
		return;
	}
	fdw__notify(m, task->proc, ev, FDW_FDEV_CLOSE, fd, s);
	origin_from_event(&closed, ev, task->proc, -1);
	fdw__given_up_note(m, t, s, ev->pid);
	if (s->suspect && fdw_slot_origin(s)->tid != ev->tid) {
		/*
		 * Two threads raced: this close may be of the fd the number held
		 * before the install we applied first (records are ordered by
		 * syscall exit, not by when the table changed). In a table
		 * other tasks share, the probe looked at the number after the
		 * close and the slot's file was not there (else the close was
		 * skipped above): the close was of it. Not /proc: it shows a
		 * later moment than the record's, maybe a file another thread
		 * installed after it, whose record is still to come (and the
		 * next close of the number, an EBADF, an anomaly). In a table
		 * of one task the probe did not look: ask the kernel.
		 */
		s->suspect = false;
		fdw__slot_close(m, t, s, &closed);
		if (t->users <= 1)
			(void)fdw__resolve_fd(m, t, ev->tid, fd, &closed);
		return;
	}
	fdw__slot_close(m, t, s, &closed);
}

static void apply_close_range(struct fdw_model *m, struct fdw_task *task,
			      const struct fdw_event *ev)
{
	struct fdw_table *t = task->table;
	uint32_t first = (uint32_t)ev->args[0], last = (uint32_t)ev->args[1];
	uint32_t flags = (uint32_t)ev->args[2];
	struct fdw_origin closed;

	if (ev->ret != 0 || first > last)
		return;
	/* numbers the model may not have: a read off the loop is refused */
	fdw__touch(t, -1, FDW_TOUCH_ALL);
	origin_from_event(&closed, ev, task->proc, -1);
	if (flags & CLOSE_RANGE_CLOEXEC_) {
		/* the fds that may have changed since the last such call */
		fdw__cloexec_range(m, t, first, last, ev->pid);
		return;
	}
	for (uint64_t fd = first; fd <= last && fd < t->nslots; fd++) {
		struct fdw_slot *s = fdw_table_slot(t, (int)fd);

		if (s) {
			/* a close of the number: whatever race it had is over */
			s->race_pending = false;
			s->early_close = false;
		}
		if (!fdw_slot_open(s))
			continue;
		fdw__given_up_note(m, t, s, ev->pid);
		fdw__notify(m, task->proc, ev, FDW_FDEV_CLOSE, (int)fd, s);
		fdw__slot_close(m, t, s, &closed);
	}
}

static void apply_fcntl(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	int fd = (int)ev->args[0], cmd = (int)ev->args[1];
	struct fdw_slot *s;

	if (ev->ret < 0)
		return;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		apply_dup(m, task, ev, fd, (int)ev->ret, cmd == F_DUPFD_CLOEXEC,
			  ev->ret > 2 && (int)ev->ret == (int)ev->args[2]);
		break;
	case F_SETFD:
		s = fdw_table_slot(task->table, fd);
		fdw__touch(task->table, fd, FDW_TOUCH_FLAGS);
		if (fdw_slot_open(s)) {
			s->cloexec = (ev->args[2] & FD_CLOEXEC) != 0;
			s->inheritable = !s->cloexec;
			fdw__cx_mark(task->table, fd);
			if (s->cloexec)
				fdw__given_up_note(m, task->table, s, ev->pid);
		} else {
			struct fdw_origin origin;

			anomaly(m, task->table, ev);
			origin_from_event(&origin, ev, task->proc, -1);
			(void)fdw__resolve_fd(m, task->table, ev->tid, fd, &origin);
		}
		break;
	}
}

/* ---- new fds ----------------------------------------------------------- */

/* The identity an fd-installing event gives its first fd. */
static struct fdw_ofd *event_ofd(struct fdw_model *m, const struct fdw_event *ev,
				 const struct fdw_origin *origin, unsigned int i)
{
	uint64_t kfile = ev->kfiles[i];
	bool first = i == 0;
	bool receives = ev->nr == FDW_SYS_RECVMSG || ev->nr == FDW_SYS_RECVMMSG ||
			ev->nr == FDW_SYS_PIDFD_GETFD || ev->nr == FDW_SYS_SECCOMP_ADDFD;
	struct fdw_ofd *o;

	o = kfile ? fdw_keyset_get(&m->ofds, kfile) : NULL;
	/*
	 * Only a receiving syscall hands out an open file description that
	 * already exists. A creating one that shows a known struct file address
	 * means the kernel freed and reused it: the OFD we hold under that
	 * address is one whose last close we have not applied yet.
	 */
	if (o && receives && (!first || !ev->ino || (o->ino == ev->ino && o->dev == ev->dev)))
		return o;
	if (o) {
		(void)fdw_keyset_remove(&m->ofds, kfile);
		o->kfile = 0;
	}
	o = fdw__ofd_new(m, kfile);
	if (!o)
		return NULL;
	if (first) {
		o->ino = ev->ino;
		o->dev = ev->dev;
		fdw__ofd_set_mode(o, ev->mode);
	} else if (ev->nr == FDW_SYS_PIPE || ev->nr == FDW_SYS_PIPE2 ||
		   ev->nr == FDW_SYS_SOCKETPAIR) {
		/* the other end: a pipe's shares the inode, a socketpair's is
		 * its own (the probe passes its number in aux) */
		o->ino = ev->nr == FDW_SYS_SOCKETPAIR ? ev->aux : ev->ino;
		o->dev = ev->dev;
		fdw__ofd_set_mode(o, ev->mode);
	}
	fdw__origin_set(m, &o->origin, origin);
	return o; /* named by fdw__resolve_target() */
}

static void apply_install(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	bool cloexec = fdw_syscall_cloexec(ev);
	struct fdw_origin origin;

	/* signalfd on an existing signalfd changes its mask, installs nothing */
	if ((ev->nr == FDW_SYS_SIGNALFD || ev->nr == FDW_SYS_SIGNALFD4) &&
	    (int)ev->args[0] != -1)
		return;
	origin_from_event(&origin, ev, task->proc, -1);
	for (unsigned int i = 0; i < ev->nfds; i++) {
		struct fdw_ofd *o = event_ofd(m, ev, &origin, i);
		struct fdw_slot *s;

		if (!o) {
			/* no memory, or no OFD handle left: as a bound refuses it */
			m->stats.dropped_fds++;
			fdw__table_mark_stale(task->table);
			break;
		}
		bool was_open = fdw_slot_open(fdw_table_slot(task->table, ev->fds[i]));

		o->refs++; /* hold across install */
		s = fdw__slot_install(m, task->table, ev->fds[i], o, cloexec, &origin);
		if (was_open)
			race_install(m, task->table, s, ev); /* a close we have not seen yet */
		if (s)
			s->suspect = was_open;
		fdw__resolve_target(m, task->table, task->proc->comm, o, ev, ev->fds[i]);
		fdw__ofd_put(m, o);
		if (s)
			fdw__notify(m, task->proc, ev, FDW_FDEV_OPEN, ev->fds[i], s);
	}
	/* more fds than the record holds: the new ones in /proc are this
	 * syscall's, or a later one's (whose record then says so) */
	if (ev->flags & FDW_F_TRUNCATED) {
		origin.flags |= FDW_ORIGIN_READ;
		fdw__table_want_resync(m, task->table, ev->tid, ev->ts, &origin);
	}
	/* fanotify's event fds take the group's event_f_flags, which only the
	 * kernel still knows: read the bit */
	if (ev->nr == FDW_SYS_READ)
		for (unsigned int i = 0; i < ev->nfds; i++)
			(void)fdw__resolve_fd(m, task->table, ev->tid, ev->fds[i], &origin);
}

static void apply_uring(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	struct fdw_origin origin;

	origin_from_event(&origin, ev, task->proc, -1);
	switch (ev->aux) {
	case 10: /* IORING_OP_RECVMSG: SCM_RIGHTS may have installed fds */
		origin.flags |= FDW_ORIGIN_READ;
		fdw__table_want_resync(m, task->table, ev->tid, ev->ts, &origin);
		break;
	case 13: /* IORING_OP_ACCEPT */
	case 18: /* IORING_OP_OPENAT */
	case 28: /* IORING_OP_OPENAT2 */
	case 45: /* IORING_OP_SOCKET */
	case 54: /* IORING_OP_FIXED_FD_INSTALL */
		/* res is the new fd, or 0 for a direct (fixed) descriptor */
		(void)fdw__resolve_fd(m, task->table, ev->tid, (int)ev->ret, &origin);
		break;
	default: /* IORING_OP_CLOSE, IORING_OP_PIPE: numbers not observable */
		fdw__table_want_resync(m, task->table, ev->tid, ev->ts, NULL);
		break;
	}
}

/*
 * A seccomp supervisor's SECCOMP_IOCTL_NOTIF_ADDFD installed an fd in this
 * (the notified) process. With SECCOMP_ADDFD_FLAG_SETFD the kernel chose
 * the number the supervisor asked for and replaced what it held, as dup2
 * does: that close is this record's, not one to come.
 */
#define SECCOMP_ADDFD_FLAG_SETFD_ 1u

static void apply_addfd(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	struct fdw_slot *s = fdw_table_slot(task->table, (int)ev->ret);

	if ((ev->args[2] & SECCOMP_ADDFD_FLAG_SETFD_) && fdw_slot_open(s)) {
		struct fdw_origin closed;

		fdw__notify(m, task->proc, ev, FDW_FDEV_CLOBBER, (int)ev->ret, s);
		origin_from_event(&closed, ev, task->proc, -1);
		fdw__touch(task->table, (int)ev->ret, FDW_TOUCH_FILE);
		fdw__slot_close(m, task->table, s, &closed);
	}
	apply_install(m, task, ev);
}

/* ---- syscall records --------------------------------------------------- */

/*
 * An already-read record still knows where the fds /proc showed us came
 * from: give that provenance to the fds that are still the ones it made.
 * Those are the fds the read found (procfs), or gave a truncated record's
 * origin (FDW_ORIGIN_READ) when this record is newer than that one.
 */
static bool adoptable(const struct fdw_slot *s, const struct fdw_event *ev)
{
	const struct fdw_origin *o = fdw_slot_origin(s);

	return o->source == FDW_SRC_PROCFS ||
	       ((o->flags & FDW_ORIGIN_READ) && o->seq && o->seq < ev->seq);
}

/*
 * An already-read F_SETFD or FIONCLEX that cleared close-on-exec: the read
 * shows the bit, not that it was cleared on purpose (python's pass_fds in a
 * fork child, read when its fork from a threaded parent was applied, by
 * when it had exec'd). The fd open without close-on-exec now and made
 * before the record is the one it cleared.
 */
static void adopt_inheritable(struct fdw_table *t, const struct fdw_event *ev, int fd)
{
	struct fdw_slot *s = fdw_table_slot(t, fd);
	const struct fdw_origin *o;

	if (!fdw_slot_open(s) || s->cloexec)
		return;
	o = fdw_slot_origin(s);
	if (o->seq && o->seq < ev->seq)
		s->inheritable = true;
}

static void adopt_provenance(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	struct fdw_table *t = task->table;
	struct fdw_origin origin;
	int from = -1, fd;
	struct fdw_slot *s;

	if (ev->ret < 0 || ev->type != FDW_REC_SYSCALL)
		return;
	switch (ev->nr) {
	case FDW_SYS_DUP:
	case FDW_SYS_DUP2:
	case FDW_SYS_DUP3:
		from = (int)ev->args[0];
		fd = (int)ev->ret;
		s = fdw_table_slot(t, fd);
		if (fdw_slot_open(s) && adoptable(s, ev) && from != fd &&
		    fdw_slot_open(fdw_table_slot(t, from)) &&
		    fdw_table_slot(t, from)->ofd_h == s->ofd_h) {
			origin_from_event(&origin, ev, task->proc, from);
			fdw__origin_set(m, &s->origin, &origin);
		}
		return;
	case FDW_SYS_FCNTL:
		if ((int)ev->args[1] == F_SETFD && !(ev->args[2] & FD_CLOEXEC))
			adopt_inheritable(t, ev, (int)ev->args[0]);
		return;
	case FDW_SYS_IOCTL:
		if (ev->nfds)
			break; /* a new fd, as any */
		if ((uint32_t)ev->args[1] == FIONCLEX)
			adopt_inheritable(t, ev, (int)ev->args[0]);
		return;
	case FDW_SYS_CLOSE:
	case FDW_SYS_CLOSE_RANGE:
	case FDW_SYS_UNSHARE:
		return;
	}
	origin_from_event(&origin, ev, task->proc, -1);
	for (unsigned int i = 0; i < ev->nfds; i++) {
		struct fdw_ofd *o;

		s = fdw_table_slot(t, ev->fds[i]);
		if (!fdw_slot_open(s) || !adoptable(s, ev))
			continue;
		o = fdw_slot_ofd(s);
		if (ev->kfiles[i] && o->kfile && o->kfile != ev->kfiles[i])
			continue;
		if (i == 0 && ev->ino && (o->ino != ev->ino || o->dev != ev->dev))
			continue;
		fdw__origin_set(m, &s->origin, &origin);
		fdw__origin_set(m, &o->origin, &origin);
		if (ev->kfiles[i] && !o->kfile && !fdw_keyset_get(&m->ofds, ev->kfiles[i])) {
			o->kfile = ev->kfiles[i]; /* the set's key: set first */
			if (fdw__ofd_index(m, o) < 0)
				o->kfile = 0;
		}
	}
}

/*
 * A record the table already reflects still says something about the
 * program: a syscall failed, or close() named an fd that was not open. The
 * /proc read that made it old changed neither; tell the observers. No
 * slot: what the number holds now came after the record.
 */
static void notify_already_read(struct fdw_model *m, struct fdw_task *task,
				const struct fdw_event *ev)
{
	if (ev->type != FDW_REC_SYSCALL || ev->ret >= 0)
		return;
	if (ev->nr != FDW_SYS_CLOSE)
		fdw__notify(m, task->proc, ev, FDW_FDEV_FAIL, -1, NULL);
	else if (ev->ret == -EBADF)
		fdw__notify(m, task->proc, ev, FDW_FDEV_DOUBLE_CLOSE, (int)ev->args[0], NULL);
}

static void apply_syscall(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = event_task(m, ev);

	if (!task || !task->table)
		return;
	task->proc->ops++;
	/* a change to a table that shares its slots (a fork child's, or its
	 * parent's) gives it its own copy first; a failed syscall changes
	 * nothing (a failed close may: the model thought the fd open), nor
	 * does it make a read taken meanwhile in the thread pool out of date
	 * (last_pos: a busy server's EAGAINs kept every such read refused) */
	if (ev->ret >= 0 || ev->nr == FDW_SYS_CLOSE || ev->type == FDW_REC_URING) {
		if (task->table->read_end && task->table->last_pos < task->table->read_end &&
		    ev->ring_pos >= task->table->read_end)
			task->table->edge_pos = ev->ring_pos;
		if (ev->ring_pos > task->table->last_pos)
			task->table->last_pos = ev->ring_pos;
		if (fdw__table_own(m, task->table) < 0)
			return;
	}
	if (already_read(task->table, ev)) {
		notify_already_read(m, task, ev);
		adopt_provenance(m, task, ev);
		return;
	}
	if (ev->type == FDW_REC_URING) {
		apply_uring(m, task, ev);
		return;
	}
	if (ev->ret < 0 && ev->nr != FDW_SYS_CLOSE)
		fdw__notify(m, task->proc, ev, FDW_FDEV_FAIL, -1, NULL);
	switch (ev->nr) {
	case FDW_SYS_DUP:
		if (ev->ret >= 0)
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret, false, false);
		break;
	case FDW_SYS_DUP2:
		if (ev->ret >= 0 && (int)ev->args[0] != (int)ev->args[1])
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret, false, true);
		break;
	case FDW_SYS_DUP3:
		if (ev->ret >= 0)
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret,
				  (ev->args[2] & O_CLOEXEC) != 0, true);
		break;
	case FDW_SYS_FCNTL:
		apply_fcntl(m, task, ev);
		break;
	case FDW_SYS_CLOSE:
		apply_close(m, task, ev, (int)ev->args[0]);
		break;
	case FDW_SYS_CLOSE_RANGE:
		apply_close_range(m, task, ev);
		break;
	case FDW_SYS_IOCTL: /* FIOCLEX / FIONCLEX, or a new fd */
		if (ev->nfds) {
			if (ev->ret >= 0)
				apply_install(m, task, ev);
		} else if (ev->ret == 0) {
			struct fdw_slot *s = fdw_table_slot(task->table, (int)ev->args[0]);

			fdw__touch(task->table, (int)ev->args[0], FDW_TOUCH_FLAGS);
			if (fdw_slot_open(s)) {
				s->cloexec = (uint32_t)ev->args[1] == FIOCLEX;
				s->inheritable = !s->cloexec;
				fdw__cx_mark(task->table, (int)ev->args[0]);
				if (s->cloexec)
					fdw__given_up_note(m, task->table, s, ev->pid);
			} else {
				/* an fd the model missed (as F_SETFD) */
				struct fdw_origin origin;

				anomaly(m, task->table, ev);
				origin_from_event(&origin, ev, task->proc, -1);
				(void)fdw__resolve_fd(m, task->table, ev->tid,
						      (int)ev->args[0], &origin);
			}
		}
		break;
	case FDW_SYS_UNSHARE:
		break; /* the split happened in event_task() */
	case FDW_SYS_SECCOMP_ADDFD:
		if (ev->ret >= 0)
			apply_addfd(m, task, ev);
		break;
	default:
		if (ev->ret >= 0)
			apply_install(m, task, ev);
		break;
	}
}

/* ---- fork, exec, exit -------------------------------------------------- */

/* A task record's start (CLOCK_BOOTTIME ns) in /proc/PID/stat's clock
 * ticks, as the kernel shows it to the daemon (its time namespace's
 * boottime offset added, nsec_to_clock_t); 0: not known. */
static uint64_t record_ticks(const struct fdw_event *ev)
{
	uint64_t ns_per_tick = (uint64_t)(1e9 / fdw_clk_tck());
	int64_t ns = (int64_t)ev->start_boottime + fdw_timens_boottime();

	if (!ev->start_boottime || ns <= 0 || !ns_per_tick)
		return 0;
	return (uint64_t)ns / ns_per_tick;
}

/* Is p another process than the one whose start the record carries
 * (both known)? The model missed p's exit and the new one's fork. */
static bool record_other(const struct fdw_proc *p, const struct fdw_event *ev)
{
	uint64_t ticks = record_ticks(ev);

	return p->start_ticks && ticks && ticks != p->start_ticks;
}

static void apply_fork(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *parent = event_task(m, ev);
	struct fdw_table *t;
	struct fdw_proc *p;

	if (!parent)
		return;
	if (parent->table && ev->ring_pos > parent->table->last_pos)
		parent->table->last_pos = ev->ring_pos;
	if (ev->flags & FDW_F_THREAD) {
		p = parent->proc;
	} else {
		struct fdw_proc *old = fdw_model_proc(m, ev->child_pid);

		/* pid reuse: its exit was lost (or it is this child, found in
		 * /proc before its fork record came: the same start) */
		if (old) {
			if (record_other(old, ev))
				m->stats.pids_reused++;
			fdw__proc_del(m, old);
		}
		p = fdw__proc_new(m, ev->child_pid, ev->pid, ev->comm, ev->ts);
		if (!p)
			return;
		p->fork_pos = ev->ring_pos;
		p->start_ticks = record_ticks(ev);
		p->start_stack = ev->start_stack;
	}
	if (ev->flags & FDW_F_SHARED_FILES) {
		t = parent->table;
	} else {
		/* the child's slots are the parent's until either changes; its
		 * fds show as inherited (fdw__table_own) */
		t = fdw__table_fork(m, parent->table, ev->child_files, ev->ts);
	}
	if (!t || !fdw__task_new(m, ev->child_tid, p, t)) {
		if (t && !t->users)
			fdw__table_free(m, t);
		if (!p->ntasks)
			fdw__proc_del(m, p);
		return;
	}
	/* the parent's table was read after this fork, or while it forked (the
	 * copy holds the parent's fds of after the fork, up to the read's
	 * end), or other threads may have changed it around the fork (their
	 * records can trail this one): read the child's own */
	if (t != parent->table && (read_overlaps(parent->table, ev) || parent->table->users > 1))
		fdw__table_want_resync(m, t, ev->child_tid, ev->ts, NULL);
}

static void apply_exec(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task, *old;
	struct fdw_origin closed;
	struct fdw_table *t;
	struct fdw_proc *p = fdw_model_proc(m, ev->pid);
	bool known;

	/* the process the model has under the pid exited and this one took
	 * the pid, both records lost: drop it as its exit would (this one is
	 * found as an unknown task is, its table read from /proc) */
	if (p && record_other(p, ev)) {
		m->stats.pids_reused++;
		fdw__proc_del(m, p);
	}
	/* de_thread: a non-leader thread that execs takes over the pid */
	if (ev->child_pid && ev->child_pid != ev->tid) {
		old = fdw_hashmap_get(&m->tasks, ev->child_pid);
		if (old) {
			struct fdw_task *leader = fdw_hashmap_get(&m->tasks, ev->tid);

			if (leader && leader != old)
				fdw__task_del(m, leader);
			if (m->last_task == old)
				m->last_task = NULL;
			(void)fdw_hashmap_remove(&m->tasks, old->tid);
			old->tid = ev->tid;
			if (fdw_hashmap_put(&m->tasks, old->tid, old) < 0) {
				fdw__task_del(m, old);
			} else if (old->proc) {
				old->proc->leader = old;
			}
		}
	}
	task = event_task(m, ev);
	if (!task)
		return;
	p = task->proc;
	memcpy(p->comm, ev->comm, sizeof(p->comm));
	/* a re-read that raced this record found its program already
	 * (fdw_model_proc_set_stat): one program, not two */
	known = p->exec_found && ev->start_stack && ev->start_stack == p->start_stack;
	p->exec_found = false;
	if (!known) {
		p->exec_count++;
		p->start_ts = ev->ts;
	}
	if (!p->start_ticks)
		p->start_ticks = record_ticks(ev);
	p->start_stack = ev->start_stack;
	t = task->table;
	if (t && ev->ring_pos > t->last_pos)
		t->last_pos = ev->ring_pos;
	if (t && already_read(t, ev)) {
		/*
		 * The table was re-read after this exec (a fork of a
		 * multi-threaded parent is re-read when applied, by when its
		 * child may have exec'd): the fds copied from the parent that
		 * are still there without close-on-exec went through it.
		 */
		if (fdw__table_own(m, t) < 0) /* marks slots: not a shared copy's */
			return;
		for (uint32_t fd = 3; fd < t->nslots; fd++) {
			struct fdw_slot *s = fdw_table_slot(t, (int)fd);
			const struct fdw_origin *o;

			if (!fdw_slot_open(s) || s->cloexec || s->exec_passed)
				continue;
			o = fdw_slot_origin(s);
			if (o->source != FDW_SRC_INHERIT || !o->seq || o->seq >= ev->seq)
				continue;
			fdw__notify(m, p, ev, FDW_FDEV_EXEC_LEAK, (int)fd, s);
			s->exec_passed = true;
		}
		fdw__given_up_clear(m, t);
		return;
	}
	if (t && fdw__table_own(m, t) < 0)
		return;
	/* close-on-exec fds the model may not have: a read off the loop is
	 * refused */
	fdw__touch(t, -1, FDW_TOUCH_ALL);
	origin_from_event(&closed, ev, p, -1);
	for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
		struct fdw_slot *s = fdw_table_slot(t, (int)fd);

		if (!fdw_slot_open(s))
			continue;
		if (s->cloexec) {
			fdw__notify(m, p, ev, FDW_FDEV_CLOSE, (int)fd, s);
			fdw__slot_close(m, t, s, &closed);
		} else {
			if (fd > 2)
				fdw__notify(m, p, ev, FDW_FDEV_EXEC_LEAK, (int)fd, s);
			s->exec_passed = true; /* after: observers see where it was */
		}
	}
	/* what the new program keeps went through this exec */
	fdw__given_up_clear(m, t);
}

static void apply_exit(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = fdw_hashmap_get(&m->tasks, ev->tid);
	struct fdw_proc *p = task ? task->proc : fdw_model_proc(m, ev->pid);

	/* a leader's exit carries its process's start: the exit of a process
	 * the model replaced already (a re-read found its pid reused before
	 * this late record came) is not the one the model holds now */
	if (p && ev->tid == ev->pid && p->pid == ev->pid && record_other(p, ev))
		return;
	if (task)
		fdw__task_del(m, task);
	if (p && (p->ntasks == 0 || (ev->flags & FDW_F_GROUP_DEAD)))
		fdw__proc_del(m, p);
}

/*
 * A race record changes no table: it is told to the observers with the
 * slot of its fd as the model has it (none when the table was re-read
 * after the record: the slot shows a later time).
 */
static void apply_race(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = event_task(m, ev);
	const struct fdw_slot *s = NULL;

	if (!task || !task->table)
		return;
	if (!already_read(task->table, ev))
		s = fdw_table_slot(task->table, ev->race_fd);
	/* a fork child that never changed its table still shares its parent's
	 * slots and histories: a number closed there is none in its view (no
	 * copy for it: a use after close is the common record), an open one
	 * is told from its own view */
	if (task->table->borrowed && s)
		s = fdw_slot_open(s) ? fdw_table_slot(fdw_model_table_view(m, task->table),
						      ev->race_fd)
				     : NULL;
	fdw__notify(m, task->proc, ev,
		    ev->type == FDW_REC_BADF	  ? FDW_FDEV_BAD_FD
		    : ev->type == FDW_REC_REUSE ? FDW_FDEV_REUSE
						: FDW_FDEV_IN_FLIGHT,
		    ev->race_fd, s);
}

void fdw_model_apply(struct fdw_model *m, const struct fdw_event *ev)
{
	m->stats.applied++;
	if (ev->ts > m->applied_ts)
		m->applied_ts = ev->ts;
	switch (ev->type) {
	case FDW_REC_SYSCALL:
	case FDW_REC_URING:
		apply_syscall(m, ev);
		break;
	case FDW_REC_FORK:
		apply_fork(m, ev);
		break;
	case FDW_REC_EXEC:
		apply_exec(m, ev);
		break;
	case FDW_REC_EXIT:
		apply_exit(m, ev);
		break;
	case FDW_REC_BADF:
	case FDW_REC_INFLIGHT:
	case FDW_REC_REUSE:
		apply_race(m, ev);
		break;
	}
}
