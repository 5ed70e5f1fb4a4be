// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The targets of new fds (what /proc/PID/fd/N shows): named from the record
 * when it can (pipes, sockets), else read from /proc later, at the end of
 * the batch, for the fds still open then (fdw_model_flush_pending).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/syscalls.h"
#include "model/internal.h"
/* What the kernel would show for this fd, when /proc cannot tell us. */
static void synthesize_target(struct fdw_model *m, struct fdw_ofd *o, const struct fdw_event *ev)
{
	const struct fdw_syscall_info *si = fdw_syscall_info(ev->nr);
	const char *t;

	/* no snprintf: this runs for every new fd */
	if ((S_ISFIFO(fdw_ofd_mode(o)) || S_ISSOCK(fdw_ofd_mode(o))) && o->ino) {
		fdw__ofd_name_by_ino(m, o, false);
		return;
	}
	if (si && si->anon_name)
		t = si->anon_name;
	else if (ev->path && ev->path[0])
		t = ev->path;
	else
		t = "unknown";
	fdw__ofd_set_target(m, o, t, false);
}

/* ---- targets read later ----------------------------------------------- */

/*
 * Most fds a busy program creates are closed microseconds later, usually
 * before the daemon even applies their record. Reading /proc for each (a
 * readlinkat and an fstatat) capped the event rate, so a new fd's target
 * waits in m->pending until the batch of records it came in is applied
 * (fdw_model_flush_pending): by then most are closed, their OFD freed and
 * their entry stale. The list only grows with fds that stay open; closed
 * ones at its tail are popped at once, so churn keeps it short. An entry
 * names its OFD by handle and generation, and the OFD has one bit for
 * being pending: an entry is stale once they name no pending OFD (closed,
 * its handle given out again, or its block unmapped).
 */
static void pending_add(struct fdw_model *m, struct fdw_ofd *o, uint32_t tid, int fd)
{
	if (o->pending)
		return;
	if (m->npending >= FDW_MODEL_MAX_PENDING)
		fdw_model_flush_pending(m);
	if (m->npending == m->pending_cap) {
		uint32_t n = m->pending_cap ? m->pending_cap * 2 : 64;
		struct fdw_pending_target *np = realloc(m->pending, n * sizeof(*np));

		if (!np)
			return; /* the synthesized target stays */
		m->pending = np;
		m->pending_cap = n;
	}
	m->pending[m->npending++] = (struct fdw_pending_target){
		.ofd = fdw_ofd_handle(o), .gen = o->gen, .tid = tid, .fd = fd
	};
	o->pending = true;
	m->stats.targets_deferred++;
}

/* The OFD entry e waits for, NULL when the entry is stale. */
static struct fdw_ofd *pending_ofd(const struct fdw_pending_target *e)
{
	struct fdw_ofd *o;

	if (!fdw__ofd_blocks[e->ofd / FDW_OFD_PER_BLOCK])
		return NULL; /* its block was unmapped */
	o = fdw_ofd_at(e->ofd); /* free or not: its generation is readable */
	return o->pending && o->gen == e->gen ? o : NULL;
}

void fdw__pending_drop(struct fdw_model *m, struct fdw_ofd *o)
{
	if (!o->pending)
		return;
	o->pending = false;
	m->stats.targets_skipped++;
	while (m->npending && !pending_ofd(&m->pending[m->npending - 1]))
		m->npending--;
}

/* A thread and fd number that hold o now: where it was created, else
 * anywhere in that table (dup2 then close), else the same number in
 * another table (fork, then close in the parent). The searches cost the
 * flush's *budget (slots and tasks looked at): a user's loop of open,
 * dup2 to a high number and close in a 20,000-fd table made each of 4,096
 * entries walk the table and then every task of the host. false past it
 * (the synthesized target stays). */
static bool pending_holder(struct fdw_model *m, const struct fdw_pending_target *e,
			   uint32_t *tid, int *fd, uint64_t *budget)
{
	struct fdw_task *task = fdw_hashmap_get(&m->tasks, e->tid);
	struct fdw_table *t = task ? task->table : NULL;
	const struct fdw_slot *s = fdw_table_slot(t, e->fd);
	size_t it = 0;
	uint64_t key;
	void *v;

	*tid = e->tid;
	*fd = e->fd;
	if (s && s->ofd_h == e->ofd)
		return true;
	if (*budget < (t ? t->nslots : 0) + fdw_hashmap_size(&m->tasks)) {
		m->stats.targets_unsearched++;
		*budget = 0;
		return false;
	}
	*budget -= (t ? t->nslots : 0) + fdw_hashmap_size(&m->tasks);
	for (uint32_t i = 0; t && i < t->nslots; i++) {
		const struct fdw_slot *si = fdw_table_slot(t, (int)i);

		if (si && si->ofd_h == e->ofd) {
			*fd = (int)i;
			return true;
		}
	}
	while (fdw_hashmap_next(&m->tasks, &it, &key, &v)) {
		task = v;
		s = fdw_table_slot(task->table, e->fd);
		if (s && s->ofd_h == e->ofd) {
			*tid = (uint32_t)key;
			return true;
		}
	}
	return false;
}

void fdw_model_flush_pending(struct fdw_model *m)
{
	int (*read)(void *, uint32_t, int, struct fdw_fd_info *) =
		m->ops.read_target ? m->ops.read_target : m->ops.read_fd;
	uint64_t budget = m->pending_search_budget;
	struct fdw_fd_info *fi;
	uint32_t n = m->npending;

	if (!n)
		return;
	fi = read ? malloc(sizeof(*fi)) : NULL;
	/* the list is ours until the end: reads change no OFD's lifetime */
	for (uint32_t i = 0; i < n; i++) {
		struct fdw_pending_target *e = &m->pending[i];
		struct fdw_ofd *o = pending_ofd(e);
		uint32_t tid;
		int fd;

		if (!o)
			continue;
		o->pending = false;
		if (o->target_exact)
			continue; /* read meanwhile (a resync) */
		if (!fi || !pending_holder(m, e, &tid, &fd, &budget) || read(m->ops.userdata, tid, fd, fi) < 0 ||
		    (o->ino && (fi->ino != o->ino || fi->dev != o->dev))) {
			m->stats.targets_skipped++;
			continue; /* the synthesized target stays */
		}
		if (!o->ino) {
			o->ino = fi->ino;
			o->dev = fi->dev;
			fdw__ofd_set_mode(o, fi->mode);
		}
		fdw__ofd_set_target(m, o, fi->target, true);
		m->stats.targets_read++;
	}
	m->npending = 0;
	free(fi);
}

/*
 * The target of a new OFD: from the record when it tells (pipes, sockets),
 * else synthesized now and read from /proc at the next flush, while the fd
 * is still the one the event created (the inode must match the event's).
 */
void fdw__resolve_target(struct fdw_model *m, const struct fdw_table *t, const char *comm,
			 struct fdw_ofd *o, const struct fdw_event *ev, int fd)
{
	const char *path = ev->path && ev->path[0] ? ev->path : NULL; /* the open family's */
	uint32_t mode;

	if (fdw__ofd_named(o))
		return;
	/*
	 * An absolute /proc path names itself. Not reading /proc for those
	 * keeps two tracers (a second fdwatchd, a test's) from feeding each
	 * other: each /proc read is an openat the other would resolve.
	 */
	if (path && !strncmp(path, "/proc/", 6)) {
		fdw__ofd_set_target(m, o, path, false);
		return;
	}
	/* Nor for another fdwatchd: its reads of /proc are events for us and
	 * ours for it, and resolving each other's would never end. */
	if (!strcmp(comm, "fdwatchd")) {
		synthesize_target(m, o, ev);
		return;
	}
	if (path && path[0] != '/' && ev->nr == FDW_SYS_OPENAT) {
		const struct fdw_slot *dir = fdw_table_slot(t, (int)ev->args[0]);
		char dbuf[FDW_OFD_NAME_BUF];
		const char *dt = fdw_slot_open(dir) ? fdw_ofd_target(fdw_slot_ofd(dir), dbuf) : NULL;

		dt = dt ? dt : "";

		if (!strncmp(dt, "/proc/", 6)) {
			char buf[4096];

			snprintf(buf, sizeof(buf), "%s/%s", dt, path);
			fdw__ofd_set_target(m, o, buf, false);
			return;
		}
	}
	synthesize_target(m, o, ev);
	/* the kernel's own names, fixed by the inode: "pipe:[ino]" for a
	 * pipe(2) end (a FIFO's is its path), "socket:[ino]" for any socket */
	mode = fdw_ofd_mode(o);
	if (o->ino && (S_ISSOCK(mode) || (S_ISFIFO(mode) && (ev->nr == FDW_SYS_PIPE ||
							     ev->nr == FDW_SYS_PIPE2)))) {
		o->target_exact = true;
		return;
	}
	if (m->ops.read_fd || m->ops.read_target)
		pending_add(m, o, ev->tid, fd);
}

