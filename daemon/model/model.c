// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The descriptor-table model: applies decoded events to tables, tasks and
 * processes with Linux's semantics. See model.h for the data model.
 *
 * Where an event disagrees with the model (an fd the model never saw, a
 * table the kernel split without telling), the model asks /proc for the
 * truth at once through m->ops and counts an anomaly: a table is never left
 * knowingly wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "model/model.h"
#include "capture/syscalls.h"

#define CLOSE_RANGE_UNSHARE_ (1u << 1)
#define CLOSE_RANGE_CLOEXEC_ (1u << 2)

const char *fdw_origin_source_name(uint8_t source)
{
	switch (source) {
	case FDW_SRC_EVENT:
		return "event";
	case FDW_SRC_PROCFS:
		return "procfs";
	case FDW_SRC_INHERIT:
		return "inherit";
	default:
		return "unknown";
	}
}

/* ---- open file descriptions ------------------------------------------ */

static struct fdw_ofd *ofd_new(struct fdw_model *m, uint64_t kfile)
{
	struct fdw_ofd *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->id = ++m->next_ofd_id;
	o->kfile = kfile;
	if (kfile && fdw_hashmap_put(&m->ofds, kfile, o) < 0)
		o->kfile = 0; /* untracked identity; still a valid OFD */
	m->stats.ofds++;
	return o;
}

static void ofd_free(struct fdw_ofd *o)
{
	free(o->target);
	free(o->path_arg);
	free(o);
}

/* refs counts the open fds (in any table) that refer to it. */
static void ofd_put(struct fdw_model *m, struct fdw_ofd *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->kfile && fdw_hashmap_get(&m->ofds, o->kfile) == o)
		(void)fdw_hashmap_remove(&m->ofds, o->kfile);
	o->kfile = 0;
	m->stats.ofds--;
	ofd_free(o);
}

static void ofd_set_target(struct fdw_ofd *o, const char *target, bool exact)
{
	char *t = strdup(target ? target : "");

	if (!t)
		return;
	free(o->target);
	o->target = t;
	o->target_exact = exact;
	/* anon inodes (pidfs too) carry type bits that mean nothing here */
	if (exact && !strncmp(t, "anon_inode:", 11))
		o->mode = 0;
}

static const char *ofd_target(const struct fdw_ofd *o)
{
	return o && o->target ? o->target : "";
}

/* ---- slots and tables ------------------------------------------------ */

struct fdw_slot *fdw_table_slot(const struct fdw_table *t, int fd)
{
	if (!t || fd < 0 || (uint32_t)fd >= t->nslots)
		return NULL;
	return t->slots[fd];
}

static struct fdw_slot *slot_get(struct fdw_model *m, struct fdw_table *t, int fd)
{
	struct fdw_slot *s;

	/* no fd can reach the kernel's nr_open: a bigger number is garbage
	 * that must not size an allocation */
	if (fd < 0 || (uint64_t)fd >= m->max_fd_number)
		return NULL;
	if ((uint32_t)fd >= t->nslots) {
		uint64_t n = t->nslots ? t->nslots : 64;
		struct fdw_slot **ns;

		while (n <= (uint64_t)fd)
			n *= 2;
		if (n > (1u << 31))
			return NULL;
		ns = realloc(t->slots, n * sizeof(*ns));
		if (!ns)
			return NULL;
		memset(ns + t->nslots, 0, (n - t->nslots) * sizeof(*ns));
		t->slots = ns;
		t->nslots = n;
	}
	s = t->slots[fd];
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		t->slots[fd] = s;
	}
	return s;
}

const struct fdw_fd_history *fdw_slot_history(const struct fdw_slot *s, unsigned int i)
{
	if (!s || !s->hist || i >= s->nhist)
		return NULL;
	return &s->hist[(s->hist_head + FDW_SLOT_HISTORY - 1 - i) % FDW_SLOT_HISTORY];
}

static void hist_clear(struct fdw_slot *s)
{
	if (!s->hist)
		return;
	for (unsigned int i = 0; i < FDW_SLOT_HISTORY; i++)
		free(s->hist[i].target);
	free(s->hist);
	s->hist = NULL;
	s->nhist = 0;
	s->hist_head = 0;
}

static void hist_push(struct fdw_model *m, struct fdw_slot *s, const struct fdw_origin *closed)
{
	struct fdw_fd_history *h;

	if (!s->hist) {
		if (m->stats.history_entries >= m->max_history) {
			m->stats.history_dropped++;
			return;
		}
		s->hist = calloc(FDW_SLOT_HISTORY, sizeof(*s->hist));
		if (!s->hist)
			return;
		m->stats.history_entries++;
	}
	h = &s->hist[s->hist_head];
	free(h->target);
	h->generation = s->generation;
	h->origin = s->origin;
	h->closed = *closed;
	h->target = s->ofd && s->ofd->target ? strdup(s->ofd->target) : NULL;
	s->hist_head = (s->hist_head + 1) % FDW_SLOT_HISTORY;
	if (s->nhist < FDW_SLOT_HISTORY)
		s->nhist++;
}

static struct fdw_table *table_new(struct fdw_model *m, uint64_t kfiles, uint64_t now)
{
	struct fdw_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = ++m->next_table_id;
	t->created_ts = now;
	if (kfiles) {
		struct fdw_table *old = fdw_hashmap_get(&m->tables, kfiles);

		/* An address still mapped to a live table: that table died
		 * without us seeing its last exit. Unbind it. */
		if (old)
			old->kfiles = 0;
		if (fdw_hashmap_put(&m->tables, kfiles, t) < 0) {
			free(t);
			return NULL;
		}
		t->kfiles = kfiles;
	}
	m->stats.tables++;
	return t;
}

static void slot_close(struct fdw_model *m, struct fdw_table *t, struct fdw_slot *s,
		       const struct fdw_origin *closed)
{
	if (!fdw_slot_open(s))
		return;
	hist_push(m, s, closed);
	ofd_put(m, s->ofd);
	s->ofd = NULL;
	s->cloexec = false;
	t->nopen--;
	m->stats.fds--;
}

static void table_free(struct fdw_model *m, struct fdw_table *t)
{
	if (!t)
		return;
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		struct fdw_slot *s = t->slots[fd];

		if (!s)
			continue;
		if (s->ofd) {
			ofd_put(m, s->ofd);
			m->stats.fds--;
		}
		if (s->hist)
			m->stats.history_entries--;
		hist_clear(s);
		free(s);
	}
	free(t->slots);
	if (t->kfiles && fdw_hashmap_get(&m->tables, t->kfiles) == t)
		(void)fdw_hashmap_remove(&m->tables, t->kfiles);
	m->stats.tables--;
	free(t);
}

/*
 * Put `ofd` at `fd`. An fd already open there is closed first (dup2's
 * atomic replace); `closed` says what closed it. Returns the slot, NULL when
 * the fd bound refused it (the table is then marked stale).
 */
static struct fdw_slot *slot_install(struct fdw_model *m, struct fdw_table *t, int fd,
				     struct fdw_ofd *ofd, bool cloexec,
				     const struct fdw_origin *origin)
{
	struct fdw_slot *s;

	if (m->stats.fds >= m->max_fds && !fdw_slot_open(fdw_table_slot(t, fd))) {
		m->stats.dropped_fds++;
		t->stale = true;
		return NULL;
	}
	s = slot_get(m, t, fd);
	if (!s) {
		m->stats.dropped_fds++;
		t->stale = true;
		return NULL;
	}
	if (s->ofd)
		slot_close(m, t, s, origin);
	ofd->refs++;
	s->ofd = ofd;
	s->cloexec = cloexec;
	s->suspect = false;
	s->origin = *origin;
	s->generation++;
	t->nopen++;
	m->stats.fds++;
	return s;
}

/* A copy of `src` for fork or unshare: same OFDs, bits and provenance. */
static struct fdw_table *table_copy(struct fdw_model *m, const struct fdw_table *src,
				    uint64_t kfiles, uint64_t now)
{
	struct fdw_table *t = table_new(m, kfiles, now);

	if (!t)
		return NULL;
	t->stale = src->stale;
	for (uint32_t fd = 0; fd < src->nslots; fd++) {
		const struct fdw_slot *ss = src->slots[fd];
		struct fdw_slot *ds;

		if (!fdw_slot_open(ss))
			continue;
		ds = slot_install(m, t, fd, ss->ofd, ss->cloexec, &ss->origin);
		if (ds)
			ds->generation = ss->generation;
	}
	return t;
}

/* ---- processes and tasks --------------------------------------------- */

/* Tell every observer, in registration order. */
static void notify(struct fdw_model *m, struct fdw_proc *p, const struct fdw_event *ev,
		   enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < m->nobservers; i++) {
		const struct fdw_model_observer *o = &m->observers[i];

		if (o->on_fd_event)
			o->on_fd_event(o->userdata, p, ev, kind, fd, s);
	}
}

static void task_set_table(struct fdw_model *m, struct fdw_task *task, struct fdw_table *t)
{
	struct fdw_table *old = task->table;

	if (old == t)
		return;
	if (t)
		t->users++;
	task->table = t;
	if (old && --old->users == 0)
		table_free(m, old);
}

static struct fdw_proc *proc_new(struct fdw_model *m, uint32_t pid, uint32_t ppid,
				 const char *comm, uint64_t now)
{
	struct fdw_proc *p;

	if (fdw_hashmap_size(&m->procs) >= m->max_procs) {
		m->stats.dropped_procs++;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->start_ts = now;
	if (comm)
		strncpy(p->comm, comm, sizeof(p->comm) - 1);
	if (fdw_hashmap_put(&m->procs, pid, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static void task_del(struct fdw_model *m, struct fdw_task *task)
{
	struct fdw_proc *p = task->proc;

	if (m->last_task == task)
		m->last_task = NULL;
	if (fdw_hashmap_get(&m->tasks, task->tid) == task)
		(void)fdw_hashmap_remove(&m->tasks, task->tid);
	task_set_table(m, task, NULL);
	if (p) {
		p->ntasks--;
		if (p->leader == task)
			p->leader = NULL;
	}
	free(task);
}

static void proc_del(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	uint64_t key;
	void *v;
	uint32_t *doomed = NULL;
	size_t n = 0, cap = 0;

	for (unsigned int i = 0; i < m->nobservers; i++) {
		const struct fdw_model_observer *o = &m->observers[i];

		if (o->on_proc_exit)
			o->on_proc_exit(o->userdata, p);
	}
	/* Tasks of this process still listed (their exits were lost). */
	if (p->ntasks) {
		while (fdw_hashmap_next(&m->tasks, &it, &key, &v)) {
			if (((struct fdw_task *)v)->proc != p)
				continue;
			if (n == cap) {
				uint32_t *nd;

				cap = cap ? cap * 2 : 16;
				nd = realloc(doomed, cap * sizeof(*nd));
				if (!nd)
					break;
				doomed = nd;
			}
			doomed[n++] = key;
		}
		for (size_t i = 0; i < n; i++) {
			struct fdw_task *t = fdw_hashmap_get(&m->tasks, doomed[i]);

			if (t)
				task_del(m, t);
		}
		free(doomed);
	}
	if (fdw_hashmap_get(&m->procs, p->pid) == p)
		(void)fdw_hashmap_remove(&m->procs, p->pid);
	free(p);
}

static struct fdw_task *task_new(struct fdw_model *m, uint32_t tid, struct fdw_proc *p,
				 struct fdw_table *t)
{
	struct fdw_task *old = fdw_hashmap_get(&m->tasks, tid);
	struct fdw_task *task;

	/* tid reuse with a lost exit: the old task is gone */
	if (old) {
		struct fdw_proc *op = old->proc;

		task_del(m, old);
		if (op && op != p && op->ntasks == 0)
			proc_del(m, op);
	}
	task = calloc(1, sizeof(*task));
	if (!task)
		return NULL;
	task->tid = tid;
	task->proc = p;
	if (fdw_hashmap_put(&m->tasks, tid, task) < 0) {
		free(task);
		return NULL;
	}
	task_set_table(m, task, t);
	p->ntasks++;
	if (tid == p->pid)
		p->leader = task;
	return task;
}

struct fdw_proc *fdw_model_proc(struct fdw_model *m, uint32_t pid)
{
	return fdw_hashmap_get(&m->procs, pid);
}

struct fdw_table *fdw_model_proc_table(struct fdw_model *m, struct fdw_proc *p)
{
	uint32_t tid = fdw_model_proc_tid(m, p);
	struct fdw_task *t = tid ? fdw_hashmap_get(&m->tasks, tid) : NULL;

	return t ? t->table : NULL;
}

uint32_t fdw_model_proc_tid(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	if (!p)
		return 0;
	if (p->leader)
		return p->leader->tid;
	while (fdw_hashmap_next(&m->tasks, &it, &key, &v))
		if (((struct fdw_task *)v)->proc == p)
			return (uint32_t)key;
	return 0;
}

/* ---- reading the truth ----------------------------------------------- */

/* A task other than `not` that uses table t (the first died mid-read). */
static uint32_t table_other_tid(struct fdw_model *m, const struct fdw_table *t, uint32_t not)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	while (fdw_hashmap_next(&m->tasks, &it, &key, &v))
		if (((struct fdw_task *)v)->table == t && key != not)
			return (uint32_t)key;
	return 0;
}

static struct fdw_ofd *ofd_from_info(struct fdw_model *m, const struct fdw_fd_info *fi,
				     const struct fdw_origin *origin)
{
	struct fdw_ofd *o = ofd_new(m, 0);

	if (!o)
		return NULL;
	o->ino = fi->ino;
	o->dev = fi->dev;
	o->mode = fi->mode;
	o->origin = *origin;
	ofd_set_target(o, fi->target, true);
	return o;
}

static void origin_procfs(struct fdw_origin *o, uint64_t now)
{
	memset(o, 0, sizeof(*o));
	o->source = FDW_SRC_PROCFS;
	o->from_fd = -1;
	o->ts = now;
}

/* Make slot `fd` of `t` what the kernel says (via task `tid`) right now. */
static int resolve_fd(struct fdw_model *m, struct fdw_table *t, uint32_t tid, int fd,
		      const struct fdw_origin *origin)
{
	struct fdw_fd_info *fi;
	struct fdw_slot *s;
	struct fdw_ofd *o;
	int r;

	if (!m->ops.read_fd)
		return -ENOTSUP;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	r = m->ops.read_fd(m->ops.userdata, tid, fd, fi);
	if (r == -ESRCH) {
		/* that thread is gone; its table may live on in another */
		uint32_t other = table_other_tid(m, t, tid);

		r = other ? m->ops.read_fd(m->ops.userdata, other, fd, fi) : 0;
		if (!other) {
			free(fi);
			return 0; /* the table dies with its last task */
		}
	}
	s = fdw_table_slot(t, fd);
	if (r == -ENOENT) {
		slot_close(m, t, s, origin);
		r = 0;
	} else if (r == 0) {
		if (fdw_slot_open(s) && s->ofd->ino == fi->ino && s->ofd->dev == fi->dev) {
			s->cloexec = fi->cloexec;
			if (strcmp(ofd_target(s->ofd), fi->target))
				ofd_set_target(s->ofd, fi->target, true);
		} else {
			o = ofd_from_info(m, fi, origin);
			if (!o)
				r = -ENOMEM;
			else if (!slot_install(m, t, fd, o, fi->cloexec, origin))
				r = -ENOSPC;
			if (o && !o->refs) {
				o->refs = 1;
				ofd_put(m, o);
			}
		}
	} else if (r != -ESRCH) {
		t->stale = true;
		m->stats.resync_failed++;
	} else {
		r = 0; /* every user of the table is gone: it dies with them */
	}
	free(fi);
	return r;
}

/*
 * /proc does not say which fds share an open file description. Among fds
 * on the same inode, ask the kernel (kcmp(KCMP_FILE) through ops->same_file)
 * so dups, and fds inherited before the daemon started, get one OFD. The
 * index lives for one re-read, or for the whole start-up scan.
 */
struct ofd_cand {
	uint32_t tid;
	int fd;
	struct fdw_ofd *ofd; /* a reference is held while indexed */
	struct ofd_cand *next;
};

static uint64_t cand_key(uint64_t ino, uint32_t dev)
{
	return ino * 0x9e3779b97f4a7c15ull ^ dev;
}

static void cand_add(struct fdw_model *m, struct fdw_hashmap *idx, uint32_t tid, int fd,
		     struct fdw_ofd *o)
{
	struct ofd_cand *c;
	uint64_t k = cand_key(o->ino, o->dev);

	if (!m->ops.same_file || !o->ino)
		return;
	/* one candidate per OFD is enough */
	for (c = fdw_hashmap_get(idx, k); c; c = c->next)
		if (c->ofd == o)
			return;
	c = malloc(sizeof(*c));
	if (!c)
		return;
	c->tid = tid;
	c->fd = fd;
	c->ofd = o;
	o->refs++;
	c->next = fdw_hashmap_get(idx, k);
	if (fdw_hashmap_put(idx, k, c) < 0) {
		o->refs--;
		free(c);
	}
}

static struct fdw_ofd *cand_find(struct fdw_model *m, struct fdw_hashmap *idx, uint32_t tid,
				 const struct fdw_fd_info *fi)
{
	struct ofd_cand *c;

	if (!m->ops.same_file || !fi->ino)
		return NULL;
	for (c = fdw_hashmap_get(idx, cand_key(fi->ino, fi->dev)); c; c = c->next)
		if (c->ofd->ino == fi->ino && c->ofd->dev == fi->dev &&
		    m->ops.same_file(m->ops.userdata, tid, fi->fd, c->tid, c->fd) == 1)
			return c->ofd;
	return NULL;
}

static void cand_free(struct fdw_model *m, struct fdw_hashmap *idx)
{
	size_t it = 0;
	void *v;

	while (fdw_hashmap_next(idx, &it, NULL, &v)) {
		struct ofd_cand *c = v, *next;

		for (; c; c = next) {
			next = c->next;
			ofd_put(m, c->ofd);
			free(c);
		}
	}
	fdw_hashmap_free(idx);
}

struct resync_ctx {
	struct fdw_model *m;
	struct fdw_table *t;
	uint32_t tid;
	struct fdw_hashmap *cands;
	uint8_t *seen; /* bitmap of fds the kernel has */
	uint32_t nseen;
	uint64_t now;
	const struct fdw_origin *new_origin; /* for fds found new; NULL: procfs */
	int err;
};

static void resync_one(void *data, const struct fdw_fd_info *fi)
{
	struct resync_ctx *c = data;
	struct fdw_slot *s = fdw_table_slot(c->t, fi->fd);
	struct fdw_origin origin;
	struct fdw_ofd *o;

	if (fi->fd < 0)
		return;
	if ((uint32_t)fi->fd >= c->nseen) {
		uint32_t n = c->nseen ? c->nseen : 1024;
		uint8_t *ns;

		while (n <= (uint32_t)fi->fd)
			n *= 2;
		ns = realloc(c->seen, n / 8);
		if (!ns) {
			c->err = -ENOMEM;
			return;
		}
		memset(ns + c->nseen / 8, 0, (n - c->nseen) / 8);
		c->seen = ns;
		c->nseen = n;
	}
	c->seen[fi->fd / 8] |= 1u << (fi->fd % 8);
	if (fdw_slot_open(s) && s->ofd->ino == fi->ino && s->ofd->dev == fi->dev) {
		/* same file as the model says: keep its provenance */
		s->cloexec = fi->cloexec;
		if (strcmp(ofd_target(s->ofd), fi->target))
			ofd_set_target(s->ofd, fi->target, true);
		cand_add(c->m, c->cands, c->tid, fi->fd, s->ofd);
		return;
	}
	if (c->new_origin)
		origin = *c->new_origin;
	else
		origin_procfs(&origin, c->now);
	o = cand_find(c->m, c->cands, c->tid, fi);
	if (o) {
		o->refs++;
	} else {
		o = ofd_from_info(c->m, fi, &origin);
		if (!o) {
			c->err = -ENOMEM;
			return;
		}
		o->refs = 1; /* hold it across install */
		cand_add(c->m, c->cands, c->tid, fi->fd, o);
	}
	if (!slot_install(c->m, c->t, fi->fd, o, fi->cloexec, &origin))
		c->err = -ENOSPC;
	ofd_put(c->m, o);
}

static int table_resync_as(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now,
			   const struct fdw_origin *new_origin)
{
	struct fdw_hashmap local;
	struct resync_ctx c = { .m = m, .t = t, .tid = tid, .now = now, .new_origin = new_origin };
	struct fdw_origin closed;
	int r;

	if (!m->ops.read_table)
		return -ENOTSUP;
	fdw_hashmap_init(&local);
	c.cands = m->scan_cands ? m->scan_cands : &local;
	/* before reading: every record below this position is in what we read */
	if (m->ops.ring_position)
		t->read_pos = m->ops.ring_position(m->ops.userdata);
	r = m->ops.read_table(m->ops.userdata, tid, resync_one, &c);
	for (int tries = 0; r == -ESRCH && tries < 4; tries++) {
		/* the thread we read through exited: any other user will do */
		uint32_t other = table_other_tid(m, t, tid);

		if (!other) {
			cand_free(m, &local);
			free(c.seen);
			return -ESRCH; /* nobody left: the table is dying */
		}
		tid = other;
		c.tid = other;
		c.err = 0;
		r = m->ops.read_table(m->ops.userdata, tid, resync_one, &c);
	}
	cand_free(m, &local);
	if (r < 0 || c.err < 0) {
		free(c.seen);
		t->stale = true;
		m->stats.resync_failed++;
		return r < 0 ? r : c.err;
	}
	origin_procfs(&closed, now);
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		bool seen = fd < c.nseen && (c.seen[fd / 8] & (1u << (fd % 8)));

		if (!seen && fdw_slot_open(t->slots[fd]))
			slot_close(m, t, t->slots[fd], &closed);
	}
	free(c.seen);
	t->stale = false;
	t->resyncs++;
	m->stats.resyncs++;
	return 0;
}

static int table_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now)
{
	return table_resync_as(m, t, tid, now, NULL);
}

int fdw_model_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid)
{
	return table_resync(m, t, tid, 0);
}

int fdw_model_resync_proc(struct fdw_model *m, struct fdw_proc *p)
{
	struct fdw_table *done[8];
	unsigned int ndone = 0;
	size_t it = 0;
	uint64_t key;
	void *v;
	int r = 0, q;

	/* each distinct table among the process's tasks, once (threads nearly
	 * always share one; the few that unshared get theirs) */
	while (fdw_hashmap_next(&m->tasks, &it, &key, &v)) {
		struct fdw_task *task = v;
		bool seen = false;

		if (task->proc != p || !task->table)
			continue;
		for (unsigned int i = 0; i < ndone; i++)
			seen |= done[i] == task->table;
		if (seen)
			continue;
		q = table_resync(m, task->table, task->tid, 0);
		if (q < 0 && r == 0)
			r = q;
		if (ndone < 8)
			done[ndone++] = task->table;
	}
	p->lost = 0;
	return r;
}

void fdw_model_refresh_targets(struct fdw_model *m, struct fdw_proc *p)
{
	struct fdw_table *t = fdw_model_proc_table(m, p);
	uint32_t tid = fdw_model_proc_tid(m, p);
	struct fdw_fd_info *fi;

	if (!t || !m->ops.read_fd)
		return;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return;
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		struct fdw_slot *s = t->slots[fd];
		struct fdw_ofd *o;

		if (!fdw_slot_open(s))
			continue;
		o = s->ofd;
		/* names can change under an open file (rename, unlink); other
		 * kinds only need it when the name was never read */
		if (o->target_exact && !S_ISREG(o->mode) && !S_ISDIR(o->mode))
			continue;
		if (m->ops.read_fd(m->ops.userdata, tid, (int)fd, fi) < 0)
			continue;
		if (o->ino && (fi->ino != o->ino || fi->dev != o->dev))
			continue;
		if (!o->ino) {
			o->ino = fi->ino;
			o->dev = fi->dev;
			o->mode = fi->mode;
		}
		if (!o->target_exact || strcmp(ofd_target(o), fi->target))
			ofd_set_target(o, fi->target, true);
	}
	free(fi);
}

void fdw_model_drop_proc(struct fdw_model *m, struct fdw_proc *p)
{
	if (p)
		proc_del(m, p);
}

void fdw_model_mark_proc_stale(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	void *v;

	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v)) {
		struct fdw_task *task = v;

		if (task->proc == p && task->table)
			task->table->stale = true;
	}
}

void fdw_model_mark_all_stale(struct fdw_model *m)
{
	size_t it = 0;
	void *v;

	/* through the tasks: tables seen only in /proc are not in m->tables */
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v))
		if (((struct fdw_task *)v)->table)
			((struct fdw_task *)v)->table->stale = true;
}

/* ---- events ---------------------------------------------------------- */

static void origin_from_event(struct fdw_origin *o, const struct fdw_event *ev,
			      const struct fdw_proc *p, int from_fd)
{
	o->nr = ev->nr;
	o->source = FDW_SRC_EVENT;
	o->_pad = 0;
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
		if (m->ops.read_proc)
			(void)m->ops.read_proc(m->ops.userdata, ev->pid, comm, &ppid);
		p = proc_new(m, ev->pid, ppid, comm, ev->ts);
		if (!p)
			return NULL;
	}
	t = ev->files ? fdw_hashmap_get(&m->tables, ev->files) : NULL;
	if (!t) {
		t = table_new(m, ev->files, ev->ts);
		if (!t)
			goto fail;
		fresh = true;
	}
	task = task_new(m, ev->tid, p, t);
	if (!task) {
		if (fresh)
			table_free(m, t);
		goto fail;
	}
	/* The table's contents before this event: the kernel's now. A table
	 * found by address is only trusted when this process already used it:
	 * otherwise the address may be a dead process's, reused. */
	if (fresh || p->ntasks == 1)
		(void)table_resync(m, t, ev->tid, ev->ts);
	return task;
fail:
	if (p->ntasks == 0)
		proc_del(m, p);
	return NULL;
}

static void move_all_tasks(struct fdw_model *m, struct fdw_table *from, struct fdw_table *to)
{
	size_t it = 0;
	void *v;

	from->users++; /* keep it alive while tasks leave it */
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v))
		if (((struct fdw_task *)v)->table == from)
			task_set_table(m, v, to);
	if (--from->users == 0)
		table_free(m, from);
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
		task_set_table(m, task, other);
	} else if (t && !t->kfiles) {
		/* first event on a table found by the /proc scan */
		t->kfiles = ev->files;
		if (fdw_hashmap_put(&m->tables, ev->files, t) < 0)
			t->kfiles = 0;
	} else {
		struct fdw_table *nt;

		m->stats.table_splits++;
		nt = t ? table_copy(m, t, ev->files, ev->ts) : table_new(m, ev->files, ev->ts);
		if (!nt)
			return task;
		task_set_table(m, task, nt);
		/* other threads may have changed the old table between the
		 * kernel's copy and this event: re-read */
		if (t)
			(void)table_resync(m, nt, ev->tid, ev->ts);
	}
	return task;
}

static void apply_dup(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev,
		      int oldfd, int newfd, bool cloexec)
{
	struct fdw_table *t = task->table;
	struct fdw_slot *src = fdw_table_slot(t, oldfd), *dst;
	struct fdw_origin origin;
	bool clobber;

	origin_from_event(&origin, ev, task->proc, oldfd);
	if (!fdw_slot_open(src)) {
		/* the model missed oldfd: ask the kernel about newfd */
		m->stats.anomalies++;
		(void)resolve_fd(m, t, ev->tid, newfd, &origin);
		dst = fdw_table_slot(t, newfd);
		if (fdw_slot_open(dst))
			notify(m, task->proc, ev, FDW_FDEV_OPEN, newfd, dst);
		return;
	}
	dst = fdw_table_slot(t, newfd);
	clobber = fdw_slot_open(dst);
	if (clobber)
		notify(m, task->proc, ev, FDW_FDEV_CLOBBER, newfd, dst);
	dst = slot_install(m, t, newfd, src->ofd, cloexec, &origin);
	if (!dst)
		return;
	/* dup/F_DUPFD only return free numbers: an open one means another
	 * thread's close of it is still in flight; for dup2/dup3 it may be */
	dst->suspect = clobber;
	notify(m, task->proc, ev, FDW_FDEV_OPEN, newfd, dst);
}

static void apply_close(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev,
			int fd)
{
	struct fdw_table *t = task->table;
	struct fdw_slot *s = fdw_table_slot(t, fd);
	struct fdw_origin closed;

	if (ev->ret == -EBADF) {
		if (fdw_slot_open(s)) {
			/* the kernel had no such fd: the model was wrong */
			m->stats.anomalies++;
			origin_from_event(&closed, ev, task->proc, -1);
			slot_close(m, t, s, &closed);
		}
		notify(m, task->proc, ev, FDW_FDEV_DOUBLE_CLOSE, fd, s);
		return;
	}
	/* any other result (0, EINTR, EIO): the fd is gone on Linux */
	if (!fdw_slot_open(s)) {
		if (ev->ret == 0)
			m->stats.anomalies++;
		return;
	}
	notify(m, task->proc, ev, FDW_FDEV_CLOSE, fd, s);
	origin_from_event(&closed, ev, task->proc, -1);
	if (s->suspect && s->origin.tid != ev->tid) {
		/*
		 * Two threads raced: this close may be of the fd the number held
		 * before the install we applied first (records are ordered by
		 * syscall exit, not by when the table changed). Ask the kernel.
		 */
		s->suspect = false;
		slot_close(m, t, s, &closed);
		(void)resolve_fd(m, t, ev->tid, fd, &closed);
		return;
	}
	slot_close(m, t, s, &closed);
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
	origin_from_event(&closed, ev, task->proc, -1);
	for (uint64_t fd = first; fd <= last && fd < t->nslots; fd++) {
		struct fdw_slot *s = t->slots[fd];

		if (!fdw_slot_open(s))
			continue;
		if (flags & CLOSE_RANGE_CLOEXEC_) {
			s->cloexec = true;
		} else {
			notify(m, task->proc, ev, FDW_FDEV_CLOSE, (int)fd, s);
			slot_close(m, t, s, &closed);
		}
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
		apply_dup(m, task, ev, fd, (int)ev->ret, cmd == F_DUPFD_CLOEXEC);
		break;
	case F_SETFD:
		s = fdw_table_slot(task->table, fd);
		if (fdw_slot_open(s)) {
			s->cloexec = (ev->args[2] & FD_CLOEXEC) != 0;
		} else {
			struct fdw_origin origin;

			m->stats.anomalies++;
			origin_from_event(&origin, ev, task->proc, -1);
			(void)resolve_fd(m, task->table, ev->tid, fd, &origin);
		}
		break;
	}
}

/* The identity an fd-installing event gives its first fd. */
static struct fdw_ofd *event_ofd(struct fdw_model *m, const struct fdw_event *ev,
				 const struct fdw_origin *origin, unsigned int i)
{
	uint64_t kfile = ev->kfiles[i];
	bool first = i == 0;
	bool receives = ev->nr == FDW_SYS_RECVMSG || ev->nr == FDW_SYS_RECVMMSG ||
			ev->nr == FDW_SYS_PIDFD_GETFD;
	struct fdw_ofd *o;

	o = kfile ? fdw_hashmap_get(&m->ofds, kfile) : NULL;
	/*
	 * Only a receiving syscall hands out an open file description that
	 * already exists. A creating one that shows a known struct file address
	 * means the kernel freed and reused it: the OFD we hold under that
	 * address is one whose last close we have not applied yet.
	 */
	if (o && receives && (!first || !ev->ino || (o->ino == ev->ino && o->dev == ev->dev)))
		return o;
	if (o) {
		(void)fdw_hashmap_remove(&m->ofds, kfile);
		o->kfile = 0;
	}
	o = ofd_new(m, kfile);
	if (!o)
		return NULL;
	if (first) {
		o->ino = ev->ino;
		o->dev = ev->dev;
		o->mode = ev->mode;
	} else if (ev->nr == FDW_SYS_PIPE || ev->nr == FDW_SYS_PIPE2 ||
		   ev->nr == FDW_SYS_SOCKETPAIR) {
		/* the other end: a pipe's shares the inode, a socketpair's is
		 * its own (the probe passes its number in aux) */
		o->ino = ev->nr == FDW_SYS_SOCKETPAIR ? ev->aux : ev->ino;
		o->dev = ev->dev;
		o->mode = ev->mode;
	}
	o->origin = *origin;
	if (ev->path && ev->path[0])
		o->path_arg = strdup(ev->path);
	return o;
}

/* What the kernel would show for this fd, when /proc cannot tell us. */
static void synthesize_target(struct fdw_ofd *o, const struct fdw_event *ev)
{
	const struct fdw_syscall_info *si = fdw_syscall_info(ev->nr);
	char buf[4096];

	if (S_ISFIFO(o->mode) && o->ino)
		snprintf(buf, sizeof(buf), "pipe:[%llu]", (unsigned long long)o->ino);
	else if (S_ISSOCK(o->mode) && o->ino)
		snprintf(buf, sizeof(buf), "socket:[%llu]", (unsigned long long)o->ino);
	else if (si && si->anon_name)
		snprintf(buf, sizeof(buf), "%s", si->anon_name);
	else if (o->path_arg)
		snprintf(buf, sizeof(buf), "%s", o->path_arg);
	else
		snprintf(buf, sizeof(buf), "unknown");
	ofd_set_target(o, buf, false);
}

/* Read the target for a new OFD from /proc while the fd is (likely) still
 * the one the event created: the inode must match the event's. */
static void resolve_target(struct fdw_model *m, const struct fdw_table *t, const char *comm,
			   struct fdw_ofd *o, const struct fdw_event *ev, int fd)
{
	struct fdw_fd_info *fi;

	if (o->target)
		return;
	/*
	 * An absolute /proc path names itself. Not reading /proc for those
	 * keeps two tracers (a second fdwatchd, a test's) from feeding each
	 * other: each /proc read is an openat the other would resolve.
	 */
	if (o->path_arg && !strncmp(o->path_arg, "/proc/", 6)) {
		ofd_set_target(o, o->path_arg, false);
		return;
	}
	/* Nor for another fdwatchd: its reads of /proc are events for us and
	 * ours for it, and resolving each other's would never end. */
	if (!strcmp(comm, "fdwatchd")) {
		synthesize_target(o, ev);
		return;
	}
	if (o->path_arg && o->path_arg[0] != '/' && ev->nr == FDW_SYS_OPENAT) {
		const struct fdw_slot *dir = fdw_table_slot(t, (int)ev->args[0]);
		const char *dt = fdw_slot_open(dir) ? ofd_target(dir->ofd) : "";

		if (!strncmp(dt, "/proc/", 6)) {
			char buf[4096];

			snprintf(buf, sizeof(buf), "%s/%s", dt, o->path_arg);
			ofd_set_target(o, buf, false);
			return;
		}
	}
	fi = m->ops.read_fd ? malloc(sizeof(*fi)) : NULL;
	if (fi && (m->ops.read_target ? m->ops.read_target : m->ops.read_fd)(m->ops.userdata,
									  ev->tid, fd, fi) == 0 &&
	    (!o->ino || (fi->ino == o->ino && fi->dev == o->dev))) {
		if (!o->ino) {
			o->ino = fi->ino;
			o->dev = fi->dev;
			o->mode = fi->mode;
		}
		ofd_set_target(o, fi->target, true);
	} else {
		synthesize_target(o, ev);
	}
	free(fi);
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

		if (!o)
			break;
		bool was_open = fdw_slot_open(fdw_table_slot(task->table, ev->fds[i]));

		o->refs++; /* hold across install */
		if (was_open)
			m->stats.anomalies++; /* a close we have not seen yet */
		s = slot_install(m, task->table, ev->fds[i], o, cloexec, &origin);
		if (s)
			s->suspect = was_open;
		resolve_target(m, task->table, task->proc->comm, o, ev, ev->fds[i]);
		ofd_put(m, o);
		if (s)
			notify(m, task->proc, ev, FDW_FDEV_OPEN, ev->fds[i], s);
	}
	/* more fds than the record holds: the new ones in /proc are this
	 * syscall's */
	if (ev->flags & FDW_F_TRUNCATED)
		(void)table_resync_as(m, task->table, ev->tid, ev->ts, &origin);
	/* fanotify's event fds take the group's event_f_flags, which only the
	 * kernel still knows: read the bit */
	if (ev->nr == FDW_SYS_READ)
		for (unsigned int i = 0; i < ev->nfds; i++)
			(void)resolve_fd(m, task->table, ev->tid, ev->fds[i], &origin);
}

static void apply_uring(struct fdw_model *m, struct fdw_task *task, const struct fdw_event *ev)
{
	struct fdw_origin origin;

	origin_from_event(&origin, ev, task->proc, -1);
	switch (ev->aux) {
	case 10: /* IORING_OP_RECVMSG: SCM_RIGHTS may have installed fds */
		(void)table_resync_as(m, task->table, ev->tid, ev->ts, &origin);
		break;
	case 13: /* IORING_OP_ACCEPT */
	case 18: /* IORING_OP_OPENAT */
	case 28: /* IORING_OP_OPENAT2 */
	case 45: /* IORING_OP_SOCKET */
	case 54: /* IORING_OP_FIXED_FD_INSTALL */
		/* res is the new fd, or 0 for a direct (fixed) descriptor */
		(void)resolve_fd(m, task->table, ev->tid, (int)ev->ret, &origin);
		break;
	default: /* IORING_OP_CLOSE, IORING_OP_PIPE: numbers not observable */
		(void)table_resync(m, task->table, ev->tid, ev->ts);
		break;
	}
}

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
 * An already-read record still knows where the fds /proc showed us came
 * from: give that provenance to the fds that are still the ones it made.
 */
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
		if (fdw_slot_open(s) && s->origin.source == FDW_SRC_PROCFS && from != fd &&
		    fdw_slot_open(fdw_table_slot(t, from)) &&
		    fdw_table_slot(t, from)->ofd == s->ofd) {
			origin_from_event(&origin, ev, task->proc, from);
			s->origin = origin;
		}
		return;
	case FDW_SYS_FCNTL:
	case FDW_SYS_CLOSE:
	case FDW_SYS_CLOSE_RANGE:
	case FDW_SYS_UNSHARE:
		return;
	}
	origin_from_event(&origin, ev, task->proc, -1);
	for (unsigned int i = 0; i < ev->nfds; i++) {
		s = fdw_table_slot(t, ev->fds[i]);
		if (!fdw_slot_open(s) || s->origin.source != FDW_SRC_PROCFS)
			continue;
		if (ev->kfiles[i] && s->ofd->kfile && s->ofd->kfile != ev->kfiles[i])
			continue;
		if (i == 0 && ev->ino && (s->ofd->ino != ev->ino || s->ofd->dev != ev->dev))
			continue;
		s->origin = origin;
		s->ofd->origin = origin;
		if (ev->kfiles[i] && !s->ofd->kfile && !fdw_hashmap_get(&m->ofds, ev->kfiles[i]) &&
		    fdw_hashmap_put(&m->ofds, ev->kfiles[i], s->ofd) == 0)
			s->ofd->kfile = ev->kfiles[i];
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
		notify(m, task->proc, ev, FDW_FDEV_FAIL, -1, NULL);
	else if (ev->ret == -EBADF)
		notify(m, task->proc, ev, FDW_FDEV_DOUBLE_CLOSE, (int)ev->args[0], NULL);
}

static void apply_syscall(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = event_task(m, ev);

	if (!task || !task->table)
		return;
	task->proc->ops++;
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
		notify(m, task->proc, ev, FDW_FDEV_FAIL, -1, NULL);
	switch (ev->nr) {
	case FDW_SYS_DUP:
		if (ev->ret >= 0)
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret, false);
		break;
	case FDW_SYS_DUP2:
		if (ev->ret >= 0 && (int)ev->args[0] != (int)ev->args[1])
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret, false);
		break;
	case FDW_SYS_DUP3:
		if (ev->ret >= 0)
			apply_dup(m, task, ev, (int)ev->args[0], (int)ev->ret,
				  (ev->args[2] & O_CLOEXEC) != 0);
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

			if (fdw_slot_open(s))
				s->cloexec = (uint32_t)ev->args[1] == FIOCLEX;
		}
		break;
	case FDW_SYS_UNSHARE:
		break; /* the split happened in event_task() */
	default:
		if (ev->ret >= 0)
			apply_install(m, task, ev);
		break;
	}
}

static void apply_fork(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *parent = event_task(m, ev);
	struct fdw_table *t;
	struct fdw_proc *p;

	if (!parent)
		return;
	if (ev->flags & FDW_F_THREAD) {
		p = parent->proc;
	} else {
		struct fdw_proc *old = fdw_model_proc(m, ev->child_pid);

		if (old) /* pid reuse: its exit was lost */
			proc_del(m, old);
		p = proc_new(m, ev->child_pid, ev->pid, ev->comm, ev->ts);
		if (!p)
			return;
	}
	if (ev->flags & FDW_F_SHARED_FILES) {
		t = parent->table;
	} else {
		t = table_copy(m, parent->table, ev->child_files, ev->ts);
		if (t) {
			/* provenance: the child's fds were inherited */
			for (uint32_t fd = 0; fd < t->nslots; fd++)
				if (fdw_slot_open(t->slots[fd]))
					t->slots[fd]->origin.source = FDW_SRC_INHERIT;
		}
	}
	if (!t || !task_new(m, ev->child_tid, p, t)) {
		if (t && !t->users)
			table_free(m, t);
		if (!p->ntasks)
			proc_del(m, p);
		return;
	}
	/* the parent's table was read after this fork (the copy holds its
	 * future), or other threads may have changed it around the fork (their
	 * records can trail this one): read the child's own */
	if (t != parent->table && (already_read(parent->table, ev) || parent->table->users > 1))
		(void)table_resync(m, t, ev->child_tid, ev->ts);
}

static void apply_exec(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task, *old;
	struct fdw_origin closed;
	struct fdw_table *t;
	struct fdw_proc *p;

	/* de_thread: a non-leader thread that execs takes over the pid */
	if (ev->child_pid && ev->child_pid != ev->tid) {
		old = fdw_hashmap_get(&m->tasks, ev->child_pid);
		if (old) {
			struct fdw_task *leader = fdw_hashmap_get(&m->tasks, ev->tid);

			if (leader && leader != old)
				task_del(m, leader);
			if (m->last_task == old)
				m->last_task = NULL;
			(void)fdw_hashmap_remove(&m->tasks, old->tid);
			old->tid = ev->tid;
			if (fdw_hashmap_put(&m->tasks, old->tid, old) < 0) {
				task_del(m, old);
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
	p->exec_count++;
	p->start_ts = ev->ts;
	t = task->table;
	if (t && already_read(t, ev))
		return;
	origin_from_event(&closed, ev, p, -1);
	for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
		struct fdw_slot *s = t->slots[fd];

		if (!fdw_slot_open(s))
			continue;
		if (s->cloexec) {
			notify(m, p, ev, FDW_FDEV_CLOSE, (int)fd, s);
			slot_close(m, t, s, &closed);
		} else if (fd > 2) {
			notify(m, p, ev, FDW_FDEV_EXEC_LEAK, (int)fd, s);
		}
	}
}

static void apply_exit(struct fdw_model *m, const struct fdw_event *ev)
{
	struct fdw_task *task = fdw_hashmap_get(&m->tasks, ev->tid);
	struct fdw_proc *p = task ? task->proc : fdw_model_proc(m, ev->pid);

	if (task)
		task_del(m, task);
	if (p && (p->ntasks == 0 || (ev->flags & FDW_F_GROUP_DEAD)))
		proc_del(m, p);
}

void fdw_model_apply(struct fdw_model *m, const struct fdw_event *ev)
{
	m->stats.applied++;
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
	}
}

/* ---- /proc scan ------------------------------------------------------- */

int fdw_model_add_scanned(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
			  const uint32_t *tids, unsigned int ntids, uint64_t now)
{
	struct fdw_proc *p, *pp;
	struct fdw_table *t;
	int r;

	if (!ntids)
		return -EINVAL;
	if (fdw_model_proc(m, pid))
		return 0; /* already known from events */
	p = proc_new(m, pid, ppid, comm, now);
	if (!p)
		return -ENOSPC;
	/* clone(CLONE_FILES) children share their parent's table */
	pp = ppid ? fdw_model_proc(m, ppid) : NULL;
	if (pp && m->ops.same_table) {
		uint32_t ptid = fdw_model_proc_tid(m, pp);
		struct fdw_table *ptab = fdw_model_proc_table(m, pp);

		if (ptab && ptid && m->ops.same_table(m->ops.userdata, tids[0], ptid) == 1) {
			for (unsigned int i = 0; i < ntids; i++)
				if (!fdw_hashmap_get(&m->tasks, tids[i]))
					(void)task_new(m, tids[i], p, ptab);
			return 0;
		}
	}
	t = table_new(m, 0, now);
	if (!t) {
		proc_del(m, p);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < ntids; i++) {
		if (fdw_hashmap_get(&m->tasks, tids[i]))
			continue; /* an event got there first */
		if (!task_new(m, tids[i], p, t))
			break;
	}
	if (!t->users) {
		table_free(m, t);
		proc_del(m, p);
		return -ENOMEM;
	}
	r = table_resync(m, t, tids[0], now);
	return r;
}

void fdw_model_scan_begin(struct fdw_model *m)
{
	m->scan_cands = calloc(1, sizeof(*m->scan_cands));
	if (m->scan_cands)
		fdw_hashmap_init(m->scan_cands);
}

void fdw_model_scan_end(struct fdw_model *m)
{
	if (!m->scan_cands)
		return;
	cand_free(m, m->scan_cands);
	free(m->scan_cands);
	m->scan_cands = NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

void fdw_model_init(struct fdw_model *m, const struct fdw_model_ops *ops)
{
	memset(m, 0, sizeof(*m));
	fdw_hashmap_init(&m->tasks);
	fdw_hashmap_init(&m->procs);
	fdw_hashmap_init(&m->tables);
	fdw_hashmap_init(&m->ofds);
	m->max_procs = 1u << 20;
	m->max_fds = 1u << 26;
	m->max_history = 1u << 16;
	m->max_fd_number = 1u << 20; /* the kernel's default nr_open */
	if (ops)
		m->ops = *ops;
}

int fdw_model_add_observer(struct fdw_model *m, const struct fdw_model_observer *o)
{
	if (!m || !o)
		return -EINVAL;
	if (m->nobservers >= FDW_MODEL_MAX_OBSERVERS)
		return -ENOSPC;
	m->observers[m->nobservers] = *o;
	return (int)m->nobservers++;
}

void fdw_model_free(struct fdw_model *m)
{
	size_t it = 0;
	uint64_t key;
	void *v;
	uint32_t *pids;
	size_t n = 0;

	if (!m)
		return;
	fdw_model_scan_end(m);
	pids = malloc((fdw_hashmap_size(&m->procs) + 1) * sizeof(*pids));
	if (pids) {
		while (fdw_hashmap_next(&m->procs, &it, &key, &v))
			pids[n++] = (uint32_t)key;
		for (size_t i = 0; i < n; i++) {
			struct fdw_proc *p = fdw_hashmap_get(&m->procs, pids[i]);

			if (p)
				proc_del(m, p);
		}
		free(pids);
	}
	/* tasks without a process cannot exist; tables die with tasks */
	fdw_hashmap_free(&m->tasks);
	fdw_hashmap_free(&m->procs);
	fdw_hashmap_free(&m->tables);
	fdw_hashmap_free(&m->ofds);
}
