// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reading the kernel's truth into the model (through m->ops): one fd, a
 * whole table (keeping the provenance of fds that did not change), the
 * start-up scan of /proc, and the grouping of fds that share an open file
 * description, which /proc does not show.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/hash.h"
#include "model/internal.h"

/* ---- one fd ------------------------------------------------------------ */

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

/* The process of task tid, 0 when the model has none. */
static uint32_t tid_pid(struct fdw_model *m, uint32_t tid)
{
	const struct fdw_task *task = fdw_hashmap_get(&m->tasks, tid);

	return task && task->proc ? task->proc->pid : 0;
}

static struct fdw_ofd *ofd_from_info(struct fdw_model *m, const struct fdw_fd_info *fi,
				     const struct fdw_origin *origin)
{
	struct fdw_ofd *o = fdw__ofd_new(m, fi->kfile);

	if (!o)
		return NULL;
	o->ino = fi->ino;
	o->dev = fi->dev;
	fdw__ofd_set_mode(o, fi->mode);
	fdw__origin_set(m, &o->origin, origin);
	fdw__ofd_set_target(m, o, fi->target, true);
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
int fdw__resolve_fd(struct fdw_model *m, struct fdw_table *t, uint32_t tid, int fd,
		    const struct fdw_origin *origin)
{
	struct fdw_fd_info *fi;
	struct fdw_slot *s;
	struct fdw_ofd *o, *so;
	int r;

	if (!m->ops.read_fd)
		return -ENOTSUP;
	r = fdw__table_own(m, t);
	if (r < 0)
		return r;
	fdw__cx_forget(t); /* what the kernel says may differ in any bit */
	fdw__touch(t, fd, FDW_TOUCH_FILE); /* the kernel's now: newer than a read */
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
	so = fdw_slot_ofd(s);
	if (r == -ENOENT) {
		fdw__slot_close(m, t, s, origin);
		r = 0;
	} else if (r == 0) {
		if (so && so->ino == fi->ino && so->dev == fi->dev) {
			s->cloexec = fi->cloexec;
			if (!fdw__ofd_target_is(so, fi->target))
				fdw__ofd_set_target(m, so, fi->target, true);
		} else {
			o = ofd_from_info(m, fi, origin);
			if (!o)
				r = -ENOMEM;
			else if (!fdw__slot_install(m, t, fd, o, fi->cloexec, origin))
				r = -ENOSPC;
			if (o && !o->refs) {
				o->refs = 1;
				fdw__ofd_put(m, o);
			}
		}
	} else if (r != -ESRCH) {
		fdw__table_mark_stale(t);
		t->read_err = (uint16_t)-r;
		m->stats.resync_failed++;
	} else {
		r = 0; /* every user of the table is gone: it dies with them */
	}
	free(fi);
	return r;
}

/* ---- OFD candidates ---------------------------------------------------- */

/*
 * /proc does not say which fds share an open file description. Among fds
 * on the same inode, ask the kernel (kcmp(KCMP_FILE)) so dups, and fds
 * inherited before the daemon started, get one OFD. The index lives for one
 * re-read, or for the whole start-up scan.
 *
 * kcmp orders files (by their struct file address, obfuscated but
 * consistently), so the candidates of an inode form a search tree (a treap:
 * random priorities keep it balanced whatever order fds come in): finding
 * or placing an fd among N distinct open file descriptions of one inode
 * costs O(log N) calls, not N. One candidate per kernel file. Where the
 * kernel gives no order (3, an error, or only ops->same_file), the fd is
 * compared with every candidate, as without an order, and kept on a loose
 * list that every later search walks too.
 */
struct ofd_cand {
	uint32_t tid;
	int fd;
	uint64_t ino;
	uint32_t dev;
	uint32_t prio;
	struct fdw_ofd *ofd; /* a reference is held while indexed; NULL: none */
	struct ofd_cand *left, *right; /* tree; loose list: right only */
};

/* The candidates of one inode (two inodes may share a key: the order puts
 * (dev, ino) first). */
struct cand_set {
	struct ofd_cand *root;
	struct ofd_cand *loose;
};

struct fdw__ofd_index {
	struct fdw_hashmap inodes; /* cand_key(ino, dev) -> struct cand_set */
	uint64_t rng;
};

static void cand_index_init(struct fdw__ofd_index *idx)
{
	fdw_hashmap_init(&idx->inodes);
	idx->rng = FDW_FNV_OFFSET;
}

static uint64_t cand_key(uint64_t ino, uint32_t dev)
{
	return fdw_fnv(fdw_fnv(FDW_FNV_OFFSET, &ino, sizeof(ino)), &dev, sizeof(dev));
}

/* Where q's file stands relative to c's: 0 same, 1 before, 2 after, 3
 * unknown (unordered, or the kernel could not tell). */
static int cand_cmp(struct fdw_model *m, const struct ofd_cand *q, const struct ofd_cand *c)
{
	int r;

	if (q->dev != c->dev)
		return q->dev < c->dev ? 1 : 2;
	if (q->ino != c->ino)
		return q->ino < c->ino ? 1 : 2;
	if (m->ops.cmp_file) {
		r = m->ops.cmp_file(m->ops.userdata, q->tid, q->fd, c->tid, c->fd);
		return r >= 0 && r <= 2 ? r : 3;
	}
	r = m->ops.same_file(m->ops.userdata, q->tid, q->fd, c->tid, c->fd);
	return r == 1 ? 0 : 3;
}

static struct ofd_cand *tree_scan(struct fdw_model *m, struct ofd_cand *c,
				  const struct ofd_cand *q)
{
	struct ofd_cand *r;

	for (; c; c = c->right) {
		if (cand_cmp(m, q, c) == 0)
			return c;
		r = tree_scan(m, c->left, q);
		if (r)
			return r;
	}
	return NULL;
}

/* Descend from *link: the candidate with q's file, or NULL with q placed
 * (treap insertion) unless the order failed on the way (*unordered). */
static struct ofd_cand *tree_find_add(struct fdw_model *m, struct ofd_cand **link,
				      struct ofd_cand *q, bool *unordered)
{
	struct ofd_cand *c = *link, *r, **next, *child;
	int o;

	if (!c) {
		*link = q;
		return NULL;
	}
	o = cand_cmp(m, q, c);
	if (o == 0)
		return c;
	if (o == 3) {
		*unordered = true;
		return NULL;
	}
	next = o == 1 ? &c->left : &c->right;
	r = tree_find_add(m, next, q, unordered);
	if (r || *unordered)
		return r;
	child = *next;
	if (child->prio > c->prio) { /* rotate the new node up */
		if (o == 1) {
			c->left = child->right;
			child->right = c;
		} else {
			c->right = child->left;
			child->left = c;
		}
		*link = child;
	}
	return NULL;
}

/*
 * The indexed candidate whose file fd `fd` of `tid` (on ino/dev) is, or
 * NULL after indexing a new candidate for it, returned in *added (its ofd
 * NULL for the caller to set; NULL when out of memory).
 */
static struct ofd_cand *cand_find_add(struct fdw_model *m, struct fdw__ofd_index *idx,
				      uint32_t tid, int fd, uint64_t ino, uint32_t dev,
				      struct ofd_cand **added)
{
	uint64_t k = cand_key(ino, dev);
	struct cand_set *set = fdw_hashmap_get(&idx->inodes, k);
	struct ofd_cand *q, *c;
	bool unordered = false;

	*added = NULL;
	if ((!m->ops.cmp_file && !m->ops.same_file) || !ino)
		return NULL;
	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set)
			return NULL;
		if (fdw_hashmap_put(&idx->inodes, k, set) < 0) {
			free(set);
			return NULL;
		}
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->tid = tid;
	q->fd = fd;
	q->ino = ino;
	q->dev = dev;
	/* xorshift64: priorities independent of the order fds come in */
	idx->rng ^= idx->rng << 13;
	idx->rng ^= idx->rng >> 7;
	idx->rng ^= idx->rng << 17;
	q->prio = (uint32_t)(idx->rng >> 32);
	for (c = set->loose; c; c = c->right)
		if (cand_cmp(m, q, c) == 0)
			break;
	if (!c)
		c = tree_find_add(m, &set->root, q, &unordered);
	if (!c && unordered)
		c = tree_scan(m, set->root, q);
	if (c) {
		free(q); /* not placed */
		return c;
	}
	if (unordered) {
		q->right = set->loose;
		set->loose = q;
	}
	*added = q;
	return NULL;
}

/* Index o as the open file description of fd `fd` of `tid`. */
static void cand_add(struct fdw_model *m, struct fdw__ofd_index *idx, uint32_t tid, int fd,
		     struct fdw_ofd *o)
{
	struct ofd_cand *added;

	if (cand_find_add(m, idx, tid, fd, o->ino, o->dev, &added) || !added)
		return; /* one candidate per file is enough */
	added->ofd = o;
	o->refs++;
}

static void cand_tree_free(struct fdw_model *m, struct ofd_cand *c)
{
	struct ofd_cand *next;

	for (; c; c = next) {
		next = c->right;
		cand_tree_free(m, c->left);
		fdw__ofd_put(m, c->ofd);
		free(c);
	}
}

static void cand_free(struct fdw_model *m, struct fdw__ofd_index *idx)
{
	size_t it = 0;
	void *v;

	while (fdw_hashmap_next(&idx->inodes, &it, NULL, &v)) {
		struct cand_set *set = v;

		cand_tree_free(m, set->root);
		cand_tree_free(m, set->loose);
		free(set);
	}
	fdw_hashmap_free(&idx->inodes);
}

/* ---- whole tables ------------------------------------------------------ */

struct resync_ctx {
	struct fdw_model *m;
	struct fdw_table *t;
	uint32_t tid;
	uint32_t pid; /* tid's process (0: not known) */
	struct fdw__ofd_index *cands;
	uint8_t *seen; /* bitmap of fds the kernel has */
	uint32_t nseen;
	uint64_t now;
	const struct fdw_origin *new_origin; /* for fds found new; NULL: procfs */
	int err;
	/* a grouped snapshot: which fds share a file is known; no kcmp */
	const struct fdw_table_snapshot *snap;
	size_t snap_i;		   /* the fd being applied */
	struct fdw_ofd **group_ofd; /* per group (index of its first fd) */
	struct fdw_hashmap claimed; /* OFDs of the model a group kept */
	/* a snapshot applied but for these: records changed them after the
	 * read began (fdw_model_read_begin) */
	const struct fdw__touched *keep;
};

/*
 * The fds records changed while a read of the table ran off the loop: two
 * bits per fd number (FDW_TOUCH_FILE, FDW_TOUCH_FLAGS), grown as numbers
 * come. Numbers past FDW_TOUCH_MAX_FD, a range (close_range) or a re-read
 * on the loop set `all`: the snapshot is then refused whole, as before.
 */
#define FDW_TOUCH_MAX_FD (1u << 21)

struct fdw__touched {
	struct fdw_table *t; /* NULL once the table is freed */
	uint8_t *bits;	     /* 4 fds a byte */
	uint32_t nfds;	     /* numbers below it have bits */
	bool all;
	bool asked; /* a record asked for a re-read meanwhile */
};

struct fdw__touched *fdw_model_read_begin(struct fdw_table *t)
{
	struct fdw__touched *k;

	if (!t || t->touched)
		return NULL; /* one read of a table at a time: fdw_model_read_busy */
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->t = t;
	t->touched = k;
	return k;
}

void fdw_model_read_end(struct fdw__touched *k)
{
	if (!k)
		return;
	if (k->t)
		k->t->touched = NULL;
	free(k->bits);
	free(k);
}

void fdw__table_read_gone(struct fdw_table *t)
{
	if (t->touched)
		t->touched->t = NULL; /* its reader's job frees it */
	t->touched = NULL;
}

void fdw__touch_slow(struct fdw_table *t, int fd, int how)
{
	struct fdw__touched *k = t->touched;

	if (k->all)
		return;
	if (how == FDW_TOUCH_ALL || fd < 0 || (uint32_t)fd >= FDW_TOUCH_MAX_FD) {
		k->all = true;
		return;
	}
	if ((uint32_t)fd >= k->nfds) {
		uint32_t n = k->nfds ? k->nfds : 256;
		uint8_t *v;

		while (n <= (uint32_t)fd)
			n *= 2;
		v = realloc(k->bits, n / 4);
		if (!v) {
			k->all = true; /* not kept fd by fd: refused whole */
			return;
		}
		memset(v + k->nfds / 4, 0, (n - k->nfds) / 4);
		k->bits = v;
		k->nfds = n;
	}
	k->bits[fd / 4] |= (uint8_t)(how << (fd % 4 * 2));
}

/* What records changed at fd while the read ran: 0 or FDW_TOUCH_ bits. */
static int touched_how(const struct fdw__touched *k, int fd)
{
	if (!k || fd < 0 || (uint32_t)fd >= k->nfds)
		return 0;
	return (k->bits[fd / 4] >> (fd % 4 * 2)) & 3;
}

void fdw__touch_dup(struct fdw_table *t, int oldfd)
{
	/* the copy is of the model's oldfd, which the read may show wrong
	 * (the table was stale): kept, but the table is read again */
	if (t->touched && !(touched_how(t->touched, oldfd) & FDW_TOUCH_FILE))
		t->touched->asked = true;
}

/*
 * The read shows an fd the model has open without close-on-exec closed, or
 * close-on-exec now (s, before the model changes it): the process gave it
 * up, and its record (a close, an F_SETFD) is older than the read, so
 * never applied. A fork child's table is read when its fork from a
 * threaded parent is applied, often after the child closed its end of a
 * pipe and exec'd: the give-up the pipe rule of the exec-leak detector
 * needs (fdw__given_up_note) is noted here, or the end the child kept is
 * reported. An fd close-on-exec in the model says nothing when gone: the
 * exec closed it, the child did nothing (the classic hang stays reported).
 */
static void resync_gave_up(struct resync_ctx *c, struct fdw_slot *s)
{
	if (c->pid && fdw_slot_open(s) && !s->cloexec)
		(void)fdw__given_up_note(c->m, c->t, s, c->pid);
}

/* Slot fi->fd of the table read becomes o: another file than the model's
 * there (whose holder gave the model's up, resync_gave_up). */
static void resync_install(struct resync_ctx *c, const struct fdw_fd_info *fi,
			   struct fdw_ofd *o, const struct fdw_origin *origin)
{
	resync_gave_up(c, fdw_table_slot(c->t, fi->fd));
	if (!fdw__slot_install(c->m, c->t, fi->fd, o, fi->cloexec, origin))
		c->err = -ENOSPC;
}

/*
 * The OFD of an fd whose struct file address the reader knows (the start-up
 * snapshot): the model's OFD under that address, or NULL for a new one. An
 * OFD held under it on another inode is one whose last close the model has
 * not applied yet (the kernel reused the address): it loses the address.
 */
static struct fdw_ofd *ofd_by_kfile(struct fdw_model *m, const struct fdw_fd_info *fi)
{
	struct fdw_ofd *o = fdw_keyset_get(&m->ofds, fi->kfile);

	if (o && (o->ino != fi->ino || o->dev != fi->dev)) {
		(void)fdw_keyset_remove(&m->ofds, fi->kfile);
		o->kfile = 0;
		o = NULL;
	}
	return o;
}

/* resync_one for an fd whose struct file address is known: exact, no
 * grouping by inode and kcmp. */
static void resync_one_kfile(struct resync_ctx *c, struct fdw_slot *s,
			     const struct fdw_fd_info *fi)
{
	struct fdw_origin origin;
	struct fdw_ofd *o = ofd_by_kfile(c->m, fi), *so = fdw_slot_ofd(s);

	if (so && (o ? so == o : !so->kfile) && so->ino == fi->ino && so->dev == fi->dev) {
		/* same file as the model says: keep its provenance */
		if (fi->cloexec)
			resync_gave_up(c, s);
		s->cloexec = fi->cloexec;
		if (!fdw__ofd_target_is(so, fi->target))
			fdw__ofd_set_target(c->m, so, fi->target, true);
		if (!so->kfile) {
			so->kfile = fi->kfile; /* the set's key: set first */
			if (fdw__ofd_index(c->m, so) < 0)
				so->kfile = 0;
		}
		return;
	}
	if (c->new_origin)
		origin = *c->new_origin;
	else
		origin_procfs(&origin, c->now);
	if (o) {
		o->refs++;
	} else {
		o = ofd_from_info(c->m, fi, &origin);
		if (!o) {
			c->err = -ENOMEM;
			return;
		}
		o->refs = 1; /* hold it across install */
	}
	resync_install(c, fi, o, &origin);
	fdw__ofd_put(c->m, o);
}

/*
 * resync_one for a grouped snapshot: the group's first fd decides its OFD
 * (the one the model has at that fd if it is the same file, else a new
 * one); the group's other fds share it.
 */
static void resync_one_grouped(struct resync_ctx *c, struct fdw_slot *s,
			       const struct fdw_fd_info *fi)
{
	uint32_t g = c->snap->fds[c->snap_i].group;
	struct fdw_ofd *o = c->group_ofd[g], *so = fdw_slot_ofd(s);
	struct fdw_origin origin;

	if (!o && so && so->ino == fi->ino && so->dev == fi->dev &&
	    !fdw_hashmap_get(&c->claimed, (uint64_t)(uintptr_t)so)) {
		/* the model's open file description stays, with its provenance;
		 * a second group cannot take it (the kernel says they differ) */
		if (fdw_hashmap_put(&c->claimed, (uint64_t)(uintptr_t)so, so) == 0) {
			o = so;
			o->refs++; /* the group's hold */
			c->group_ofd[g] = o;
		}
	}
	if (o && so == o) {
		if (fi->cloexec)
			resync_gave_up(c, s);
		s->cloexec = fi->cloexec;
		if (!fdw__ofd_target_is(o, fi->target))
			fdw__ofd_set_target(c->m, o, fi->target, true);
		return;
	}
	if (c->new_origin)
		origin = *c->new_origin;
	else
		origin_procfs(&origin, c->now);
	if (!o) {
		o = ofd_from_info(c->m, fi, &origin);
		if (!o) {
			c->err = -ENOMEM;
			return;
		}
		o->refs = 1; /* the group's hold */
		c->group_ofd[g] = o;
	}
	resync_install(c, fi, o, &origin);
}

static void resync_one_fd(struct resync_ctx *c, const struct fdw_fd_info *fi)
{
	struct fdw_slot *s = fdw_table_slot(c->t, fi->fd);
	struct ofd_cand *cand, *added;
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
	if (fi->kfile) {
		resync_one_kfile(c, s, fi);
		return;
	}
	if (c->group_ofd) {
		resync_one_grouped(c, s, fi);
		return;
	}
	o = fdw_slot_ofd(s);
	if (o && o->ino == fi->ino && o->dev == fi->dev) {
		/* same file as the model says: keep its provenance */
		if (fi->cloexec)
			resync_gave_up(c, s);
		s->cloexec = fi->cloexec;
		if (!fdw__ofd_target_is(o, fi->target))
			fdw__ofd_set_target(c->m, o, fi->target, true);
		cand_add(c->m, c->cands, c->tid, fi->fd, o);
		return;
	}
	if (c->new_origin)
		origin = *c->new_origin;
	else
		origin_procfs(&origin, c->now);
	/* one search both finds the fd's OFD and indexes a new one */
	cand = cand_find_add(c->m, c->cands, c->tid, fi->fd, fi->ino, fi->dev, &added);
	o = cand ? cand->ofd : NULL;
	if (o) {
		o->refs++;
	} else {
		o = ofd_from_info(c->m, fi, &origin);
		if (!o) {
			c->err = -ENOMEM;
			return;
		}
		o->refs = 1; /* hold it across install */
		if (added) {
			added->ofd = o;
			o->refs++;
		}
	}
	resync_install(c, fi, o, &origin);
	fdw__ofd_put(c->m, o);
}

static void resync_one(void *data, const struct fdw_fd_info *fi)
{
	struct resync_ctx *c = data;
	int how = c->keep ? touched_how(c->keep, fi->fd) : 0;
	struct fdw_slot *s;
	bool cloexec, inheritable;

	/* opened or closed by a record after the read began: the model's
	 * (the close loop keeps it too) */
	if (how & FDW_TOUCH_FILE)
		return;
	if (!(how & FDW_TOUCH_FLAGS)) {
		resync_one_fd(c, fi);
		return;
	}
	/* only its close-on-exec bit changed since (F_SETFD, FIOCLEX): the
	 * kernel keeps the bit per number, and any later change to it would
	 * be a record too; so the file is the read's, the bit the record's */
	s = fdw_table_slot(c->t, fi->fd);
	cloexec = s && s->cloexec;
	inheritable = s && s->inheritable;
	resync_one_fd(c, fi);
	s = fdw_table_slot(c->t, fi->fd);
	if (fdw_slot_open(s)) {
		s->cloexec = cloexec;
		s->inheritable = inheritable;
	}
}

typedef int (*table_reader)(void *rdata, uint32_t tid,
			    void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata);

static int ops_reader(void *rdata, uint32_t tid,
		      void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	const struct fdw_model_ops *ops = rdata;

	return ops->read_table(ops->userdata, tid, cb, cbdata);
}

/* Entry i of a table read off the loop, as the reader gave it. */
static void snap_info(const struct fdw_table_snapshot *s, size_t i, struct fdw_fd_info *fi)
{
	const struct fdw_snapshot_fd *e = &s->fds[i];

	fi->fd = e->fd;
	fi->cloexec = e->cloexec;
	fi->ino = e->ino;
	fi->dev = e->dev;
	fi->mode = e->mode;
	fi->kfile = 0; /* grouped by kcmp in the worker */
	snprintf(fi->target, sizeof(fi->target), "%s", s->strings + e->target);
}

static int snap_apply_grouped(struct resync_ctx *c)
{
	const struct fdw_table_snapshot *s = c->snap;
	struct fdw_fd_info *fi = malloc(sizeof(*fi));

	if (!fi)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		snap_info(s, i, fi);
		c->snap_i = i;
		resync_one(c, fi);
	}
	free(fi);
	return 0;
}

/* table_resync_with()'s work, t->touched set aside. */
static int table_resync_apply(struct fdw_model *m, struct fdw_table *t, struct resync_ctx *c,
			      table_reader reader, void *rdata, uint64_t read_pos,
			      uint64_t read_end, bool retry, const struct fdw_table_snapshot *snap)
{
	struct fdw__ofd_index local;
	struct fdw_origin closed;
	uint64_t old_pos = t->read_pos;
	uint32_t tid = c->tid;
	int r;

	fdw__cx_forget(t); /* the read sets the bits as the kernel has them */
	cand_index_init(&local);
	c->cands = m->scan_cands ? m->scan_cands : &local;
	fdw_hashmap_init(&c->claimed);
	/* every record below this position is in what is read (and no longer
	 * when the read fails: see below) */
	if (read_pos)
		t->read_pos = read_pos;
	c->pid = tid_pid(m, tid);
	if (snap && snap->grouped && snap->n) {
		c->snap = snap;
		c->group_ofd = calloc(snap->n, sizeof(*c->group_ofd));
		r = c->group_ofd ? snap_apply_grouped(c) : -ENOMEM;
		for (size_t i = 0; c->group_ofd && i < snap->n; i++)
			fdw__ofd_put(m, c->group_ofd[i]); /* the groups' holds */
		free(c->group_ofd);
		c->group_ofd = NULL;
	} else {
		r = reader(rdata, tid, resync_one, c);
	}
	fdw_hashmap_free(&c->claimed);
	for (int tries = 0; retry && r == -ESRCH && tries < 4; tries++) {
		/* the thread we read through exited: any other user will do */
		uint32_t other = table_other_tid(m, t, tid);

		if (!other) {
			cand_free(m, &local);
			free(c->seen);
			t->read_pos = old_pos;
			return -ESRCH; /* nobody left: the table is dying */
		}
		tid = other;
		c->tid = other;
		c->pid = tid_pid(m, other);
		c->err = 0;
		r = reader(rdata, tid, resync_one, c);
	}
	cand_free(m, &local);
	if (r < 0 || c->err < 0) {
		/*
		 * Nothing was read, or not all: the records below read_pos
		 * are not in the table, and are applied as they come. A fork
		 * child read when its fork is applied (beside other threads)
		 * has often exec'd and exited by then; had its close and
		 * F_SETFD records been taken as read, its exec would have
		 * passed the fds they gave up (a false exec-leak).
		 */
		t->read_pos = old_pos;
		free(c->seen);
		t->stale = true;
		t->read_err = (uint16_t)-(r < 0 ? r : c->err);
		m->stats.resync_failed++;
		return r < 0 ? r : c->err;
	}
	if (!read_end && m->ops.ring_position)
		read_end = m->ops.ring_position(m->ops.userdata);
	if (m->ops.table_position) {
		uint64_t end = 0, pos = m->ops.table_position(m->ops.userdata, tid, &end);

		if (pos) {
			t->read_pos = pos;
			if (end)
				read_end = end;
		}
	}
	t->read_end = read_end > t->read_pos ? read_end : t->read_pos;
	origin_procfs(&closed, c->now);
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		bool seen = fd < c->nseen && (c->seen[fd / 8] & (1u << (fd % 8)));
		struct fdw_slot *s = seen ? NULL : fdw_table_slot(t, (int)fd);

		if (touched_how(c->keep, (int)fd) & FDW_TOUCH_FILE)
			continue; /* a record's, after the read began */

		if (fdw_slot_open(s)) {
			resync_gave_up(c, s);
			fdw__slot_close(m, t, s, &closed);
		}
	}
	free(c->seen);
	t->stale = false;
	t->read_err = 0;
	t->resyncs++;
	m->stats.resyncs++;
	return 0;
}

/*
 * Make t what `reader` shows through tid, read from ring position read_pos
 * to read_end (0: the position once the reader returns).
 * retry: on -ESRCH, read through another task of t (a live read).
 * keep: fds records changed after a read off the loop began, left as the
 * model has them (NULL: none).
 */
static int table_resync_with(struct fdw_model *m, struct fdw_table *t, uint32_t tid,
			     uint64_t now, const struct fdw_origin *new_origin,
			     table_reader reader, void *rdata, uint64_t read_pos,
			     uint64_t read_end, bool retry, const struct fdw_table_snapshot *snap,
			     const struct fdw__touched *keep)
{
	struct resync_ctx c = { .m = m, .t = t, .tid = tid, .now = now, .new_origin = new_origin,
				.keep = keep };
	struct fdw__touched *touched = t->touched;
	int r;

	r = fdw__table_own(m, t);
	if (r < 0)
		return r;
	/* a read off the loop still running is older than this one; and this
	 * one's own changes are not records' */
	if (touched && touched != keep)
		fdw__touch_slow(t, -1, FDW_TOUCH_ALL);
	t->touched = NULL;
	r = table_resync_apply(m, t, &c, reader, rdata, read_pos, read_end, retry, snap);
	t->touched = touched;
	return r;
}

/* What a re-read cost, for fdw_model_resync_due(). */
static void reread_done(struct fdw_table *t, uint64_t t0)
{
	t->reread_at = fdw_now_mono();
	t->reread_ns = t->reread_at - t0;
}

int fdw__table_resync_as(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now,
			 const struct fdw_origin *new_origin)
{
	uint64_t t0 = fdw_now_mono();
	int r;

	if (!m->ops.read_table)
		return -ENOTSUP;
	r = table_resync_with(m, t, tid, now, new_origin, ops_reader, &m->ops,
			      m->ops.ring_position ? m->ops.ring_position(m->ops.userdata) : 0, 0,
			      true, NULL, NULL);
	reread_done(t, t0);
	if (r == 0)
		t->reread_asked = false;
	return r;
}

static int64_t inline_tokens(struct fdw_model *m, uint64_t now)
{
	if (now > m->inline_refill_ns) {
		uint64_t add = (now - m->inline_refill_ns) / FDW_RESYNC_DUTY;

		m->inline_tokens_ns = add >= (uint64_t)FDW_INLINE_RESYNC_BURST_NS
					      ? FDW_INLINE_RESYNC_BURST_NS
					      : m->inline_tokens_ns + (int64_t)add;
		if (m->inline_tokens_ns > FDW_INLINE_RESYNC_BURST_NS)
			m->inline_tokens_ns = FDW_INLINE_RESYNC_BURST_NS;
		m->inline_refill_ns = now;
	}
	return m->inline_tokens_ns;
}

/*
 * A record left table t's numbers unknown (io_uring's close and pipe,
 * SCM_RIGHTS past the record's fds, a fork beside other threads, a table
 * split). It was re-read here for every such record: a user's loop of them
 * against a 19,000-fd table held the loop for 3 to 4 s at ten records a
 * second. Now here only while it is cheap (see FDW_INLINE_RESYNC_MAX_FDS);
 * else the table is stale until the pipeline's queue re-reads it.
 */
void fdw__table_want_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now,
			    const struct fdw_origin *new_origin)
{
	uint64_t mono = fdw_now_mono();
	struct fdw_task *task;

	m->stats.resyncs_asked++;
	if (t->touched)
		t->touched->asked = true; /* a read off the loop may miss it */
	if (t->nopen < FDW_INLINE_RESYNC_MAX_FDS && fdw_model_resync_due(t, mono) &&
	    inline_tokens(m, mono) > 0) {
		int r = fdw__table_resync_as(m, t, tid, now, new_origin);

		m->inline_tokens_ns -= (int64_t)t->reread_ns;
		if (r == 0 || r == -ENOTSUP)
			return;
		/* failed (the thread read through is gone...): queued like a
		 * deferred one, not left for the audit */
	}
	m->stats.resyncs_deferred++;
	t->stale = true;
	t->reread_asked = true;
	task = fdw_hashmap_get(&m->tasks, tid);
	if (!task || !task->proc)
		return; /* stale: the audit re-reads it */
	for (size_t i = 0; i < m->nwanted; i++)
		if (m->wanted[i] == task->proc->pid)
			return;
	if (FDW_GROW(m->wanted, m->nwanted, m->wanted_cap, 8) < 0)
		return;
	m->wanted[m->nwanted++] = task->proc->pid;
}

/* ---- tables read off the loop ------------------------------------------ */

static void snap_collect(void *data, const struct fdw_fd_info *fi)
{
	struct fdw_table_snapshot *s = data;
	size_t tlen = strnlen(fi->target, sizeof(fi->target));
	struct fdw_snapshot_fd *e;

	if (s->err)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct fdw_snapshot_fd *v = realloc(s->fds, cap * sizeof(*v));

		if (!v) {
			s->err = -ENOMEM;
			return;
		}
		s->fds = v;
		s->cap = cap;
	}
	if (s->strlen + tlen + 1 > s->strcap) {
		size_t cap = s->strcap ? s->strcap : 4096;
		char *v;

		while (s->strlen + tlen + 1 > cap)
			cap *= 2;
		v = realloc(s->strings, cap);
		if (!v) {
			s->err = -ENOMEM;
			return;
		}
		s->strings = v;
		s->strcap = cap;
	}
	e = &s->fds[s->n++];
	e->fd = fi->fd;
	e->cloexec = fi->cloexec;
	e->ino = fi->ino;
	e->dev = fi->dev;
	e->mode = fi->mode;
	e->target = s->strlen;
	memcpy(s->strings + s->strlen, fi->target, tlen);
	s->strings[s->strlen + tlen] = '\0';
	s->strlen += tlen + 1;
}

struct snap_sort {
	const struct fdw_model_ops *ops;
	struct fdw_table_snapshot *s;
};

/* kcmp's order of two fds of the snapshot's task: 0 same file, <0, >0;
 * no order (an error, an fd closed meanwhile): by fd number, distinct. */
static int snap_file_cmp(struct snap_sort *ss, const struct fdw_snapshot_fd *a,
			 const struct fdw_snapshot_fd *b)
{
	int r;

	if (a->fd == b->fd)
		return 0;
	ss->s->kcmp_calls++;
	r = ss->ops->cmp_file(ss->ops->userdata, ss->s->tid, a->fd, ss->s->tid, b->fd);
	if (r == 1)
		return -1;
	if (r == 2)
		return 1;
	if (r == 0)
		return 0;
	return a->fd < b->fd ? -1 : 1;
}

static int snap_cmp(const void *x, const void *y, void *arg)
{
	struct snap_sort *ss = arg;
	const struct fdw_snapshot_fd *a = &ss->s->fds[*(const uint32_t *)x];
	const struct fdw_snapshot_fd *b = &ss->s->fds[*(const uint32_t *)y];

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (!a->ino)
		return a->fd < b->fd ? -1 : a->fd > b->fd;
	return snap_file_cmp(ss, a, b);
}

/*
 * Which fds share an open file description, asked here in the worker
 * (kcmp, O(N log N) calls for N fds on one inode) rather than on the loop
 * when the snapshot is applied.
 */
static void snap_group(const struct fdw_model_ops *ops, struct fdw_table_snapshot *s)
{
	struct snap_sort ss = { ops, s };
	uint32_t *order;

	for (size_t i = 0; i < s->n; i++)
		s->fds[i].group = (uint32_t)i;
	if (!ops->cmp_file || s->n < 2)
		return;
	order = malloc(s->n * sizeof(*order));
	if (!order)
		return;
	for (size_t i = 0; i < s->n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, s->n, sizeof(*order), snap_cmp, &ss);
	for (size_t i = 1; i < s->n; i++) {
		struct fdw_snapshot_fd *a = &s->fds[order[i - 1]], *b = &s->fds[order[i]];

		if (a->ino && a->ino == b->ino && a->dev == b->dev && snap_file_cmp(&ss, a, b) == 0)
			b->group = a->group;
	}
	free(order);
	s->grouped = true;
}

void fdw_model_snapshot_read(const struct fdw_model_ops *ops, struct fdw_table_snapshot *s)
{
	int r;

	if (!ops->read_table) {
		s->err = -ENOTSUP;
		return;
	}
	/* before reading: every record below this position is in what we read */
	s->read_pos = ops->ring_position ? ops->ring_position(ops->userdata) : 0;
	r = ops->read_table(ops->userdata, s->tid, snap_collect, s);
	s->read_end = ops->ring_position ? ops->ring_position(ops->userdata) : 0;
	if (r < 0 && !s->err)
		s->err = r;
	if (!s->err)
		snap_group(ops, s);
}

static int snap_reader(void *rdata, uint32_t tid,
		       void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	const struct fdw_table_snapshot *s = rdata;
	struct fdw_fd_info *fi = malloc(sizeof(*fi));

	if (!fi)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		snap_info(s, i, fi);
		cb(cbdata, fi);
	}
	free(fi);
	return 0;
}

int fdw_model_snapshot_apply(struct fdw_model *m, struct fdw_table *t,
			     const struct fdw_table_snapshot *s, const struct fdw__touched *notes)
{
	const struct fdw__touched *keep = NULL;
	bool asked;
	int r;

	if (s->err)
		return s->err;
	/* the read's own notes, or none: another read's (begun later, when
	 * this one could not make its own) know nothing of the records that
	 * came between the two starts */
	if (notes && t->touched != notes)
		notes = NULL;
	/*
	 * A record of this table applied since the read began may be newer
	 * than what the read saw: the snapshot would undo it. Those records'
	 * fds are kept as the model has them and the rest taken from the
	 * snapshot, which saw every record before it began. A busy server's
	 * table (a record every few ms) was refused read after read, and its
	 * closed fds stayed in the model while the table was stale. A change
	 * not noted fd by fd (`all`: lost records too, which move no
	 * last_pos, and a re-read on the loop) refuses it whole.
	 */
	if (notes && notes->all) {
		m->stats.snapshots_stale++;
		return -ESTALE;
	}
	if (s->read_pos && t->last_pos >= s->read_pos) {
		/* without notes of its own (fdw_model_read_begin: no memory),
		 * any record since it began refuses it (a re-read on the loop
		 * meanwhile, test_snapshot_older_than_reread, or another read's
		 * notes, test_snapshot_other_reads_notes); with them, a re-read
		 * on the loop made them `all` */
		if (!notes) {
			m->stats.snapshots_stale++;
			return -ESTALE;
		}
		keep = notes;
	}
	asked = notes && notes->asked;
	r = table_resync_with(m, t, s->tid, 0, NULL, snap_reader, (void *)s, s->read_pos,
			      s->read_end, false, s, keep);
	if (r < 0)
		return r;
	if (keep)
		m->stats.snapshots_partial++;
	if (asked) {
		/* a record meanwhile left numbers unknown (an io_uring
		 * RECVMSG...): the read may not show them */
		t->stale = true;
		t->reread_asked = true;
		return 1;
	}
	return 0;
}

void fdw_model_snapshot_free(struct fdw_table_snapshot *s)
{
	if (!s)
		return;
	free(s->fds);
	free(s->strings);
	s->fds = NULL;
	s->strings = NULL;
	s->n = s->cap = s->strlen = s->strcap = 0;
}

int fdw_model_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid)
{
	return fdw__table_resync(m, t, tid, 0);
}

int fdw_model_resync_tables(struct fdw_model *m, struct fdw_proc *p,
			    const struct fdw_proc_tables *pt)
{
	int r = 0, q;

	for (size_t i = 0; i < pt->n; i++) {
		q = fdw__table_resync(m, pt->v[i].table, pt->v[i].tid, 0);
		if (q < 0 && r == 0)
			r = q;
	}
	p->lost = 0;
	return r;
}

int fdw_model_resync_proc(struct fdw_model *m, struct fdw_proc *p)
{
	struct fdw_proc_tables pt = { 0 };
	int r, q;

	/* on -ENOMEM those found; the audit reads the others */
	r = fdw_model_proc_tables(m, p, &pt);
	q = fdw_model_resync_tables(m, p, &pt);
	fdw_model_proc_tables_free(&pt);
	return r < 0 ? r : q;
}

struct refresh_ctx {
	struct fdw_model *m;
	struct fdw_table *t;
};

static bool refresh_wanted(const struct fdw_ofd *o)
{
	/* names can change under an open file (rename, unlink); other kinds
	 * only need it when the name was never read */
	return !o->target_exact || S_ISREG(fdw_ofd_mode(o)) || S_ISDIR(fdw_ofd_mode(o));
}

/* fi: what the kernel shows at fi->fd now; same inode: take its name */
static void refresh_from(struct fdw_model *m, struct fdw_ofd *o, const struct fdw_fd_info *fi)
{
	if (o->ino && (fi->ino != o->ino || fi->dev != o->dev))
		return;
	if (!o->ino) {
		o->ino = fi->ino;
		o->dev = fi->dev;
		fdw__ofd_set_mode(o, fi->mode);
	}
	if (!o->target_exact || !fdw__ofd_target_is(o, fi->target))
		fdw__ofd_set_target(m, o, fi->target, true);
}

static void refresh_one(void *data, const struct fdw_fd_info *fi)
{
	struct refresh_ctx *c = data;
	struct fdw_slot *s = fi->fd >= 0 ? fdw_table_slot(c->t, fi->fd) : NULL;

	if (fdw_slot_open(s) && refresh_wanted(fdw_slot_ofd(s)))
		refresh_from(c->m, fdw_slot_ofd(s), fi);
}

void fdw_model_refresh_targets(struct fdw_model *m, struct fdw_proc *p)
{
	struct fdw_table *t = fdw_model_proc_table(m, p);
	uint32_t tid = fdw_model_proc_tid(m, p);
	struct refresh_ctx rc = { .m = m, .t = t };
	struct fdw_fd_info *fi;

	if (!t)
		return;
	/* the whole table's names in one call */
	if (m->ops.read_targets && m->ops.read_targets(m->ops.userdata, tid, refresh_one, &rc) == 0)
		return;
	if (!m->ops.read_fd)
		return;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return;
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		struct fdw_slot *s = fdw_table_slot(t, (int)fd);
		struct fdw_ofd *o;

		if (!fdw_slot_open(s))
			continue;
		o = fdw_slot_ofd(s);
		if (!refresh_wanted(o))
			continue;
		if (m->ops.read_fd(m->ops.userdata, tid, (int)fd, fi) < 0)
			continue;
		refresh_from(m, o, fi);
	}
	free(fi);
}

void fdw_model_refresh_target(struct fdw_model *m, struct fdw_proc *p, int fd)
{
	struct fdw_table *t = fdw_model_proc_table(m, p);
	struct fdw_slot *s = fdw_table_slot(t, fd);
	int (*read)(void *, uint32_t, int, struct fdw_fd_info *) =
		m->ops.read_target ? m->ops.read_target : m->ops.read_fd;
	struct fdw_fd_info *fi;

	if (!fdw_slot_open(s) || !refresh_wanted(fdw_slot_ofd(s)) || !read)
		return;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return;
	if (read(m->ops.userdata, fdw_model_proc_tid(m, p), fd, fi) == 0)
		refresh_from(m, fdw_slot_ofd(s), fi);
	free(fi);
}

void fdw_targets_add(void *cbdata, const struct fdw_fd_info *fi)
{
	struct fdw_targets *t = cbdata;
	size_t len = strnlen(fi->target, sizeof(fi->target) - 1) + 1;

	if (t->over || fi->fd < 0)
		return;
	if ((t->max_fds && t->n >= t->max_fds) ||
	    (t->max_bytes && t->names_len + len > t->max_bytes) ||
	    t->names_len + len > UINT32_MAX) {
		t->over = true;
		return;
	}
	if (FDW_GROW(t->v, t->n, t->cap, 256) < 0) {
		t->over = true;
		return;
	}
	if (t->names_len + len > t->names_cap) {
		size_t ncap = t->names_cap ? t->names_cap : 8192;
		char *nn;

		while (ncap < t->names_len + len)
			ncap *= 2;
		nn = realloc(t->names, ncap);
		if (!nn) {
			t->over = true;
			return;
		}
		t->names = nn;
		t->names_cap = ncap;
	}
	memcpy(t->names + t->names_len, fi->target, len - 1);
	t->names[t->names_len + len - 1] = '\0';
	t->v[t->n++] = (struct fdw_target_rec){
		.fd = fi->fd, .dev = fi->dev, .mode = fi->mode, .ino = fi->ino,
		.name = (uint32_t)t->names_len,
	};
	t->names_len += len;
}

void fdw_targets_free(struct fdw_targets *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->names);
	t->v = NULL;
	t->names = NULL;
	t->n = t->cap = t->names_len = t->names_cap = 0;
}

void fdw_model_apply_targets(struct fdw_model *m, struct fdw_proc *p,
			     const struct fdw_targets *t)
{
	struct fdw_table *tab = fdw_model_proc_table(m, p);
	struct fdw_fd_info *fi;

	if (!tab || !t->n)
		return;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return;
	for (size_t i = 0; i < t->n; i++) {
		const struct fdw_target_rec *r = &t->v[i];
		struct fdw_slot *s = fdw_table_slot(tab, r->fd);
		size_t len;

		if (!fdw_slot_open(s) || !refresh_wanted(fdw_slot_ofd(s)))
			continue;
		len = strlen(t->names + r->name);
		fi->fd = r->fd;
		fi->ino = r->ino;
		fi->dev = r->dev;
		fi->mode = r->mode;
		memcpy(fi->target, t->names + r->name, len + 1);
		refresh_from(m, fdw_slot_ofd(s), fi);
	}
	free(fi);
}

/* ---- /proc scan -------------------------------------------------------- */

static int add_process(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
		       const uint32_t *tids, unsigned int ntids, uint64_t now, bool read)
{
	struct fdw_proc *p, *pp;
	struct fdw_table *t;
	int r;

	if (!ntids)
		return -EINVAL;
	if (fdw_model_proc(m, pid))
		return 0; /* already known from events */
	p = fdw__proc_new(m, pid, ppid, comm, now);
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
					(void)fdw__task_new(m, tids[i], p, ptab);
			return 0;
		}
	}
	t = fdw__table_new(m, 0, now);
	if (!t) {
		fdw__proc_del(m, p);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < ntids; i++) {
		if (fdw_hashmap_get(&m->tasks, tids[i]))
			continue; /* an event got there first */
		if (!fdw__task_new(m, tids[i], p, t))
			break;
	}
	if (!t->users) {
		fdw__table_free(m, t);
		fdw__proc_del(m, p);
		return -ENOMEM;
	}
	if (!read) {
		t->stale = true; /* read later, off the loop */
		return 0;
	}
	r = fdw__table_resync(m, t, tids[0], now);
	return r;
}

int fdw_model_add_scanned(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
			  const uint32_t *tids, unsigned int ntids, uint64_t now)
{
	return add_process(m, pid, ppid, comm, tids, ntids, now, true);
}

int fdw_model_add_found(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
			const uint32_t *tids, unsigned int ntids, uint64_t now)
{
	return add_process(m, pid, ppid, comm, tids, ntids, now, false);
}

int fdw_model_replace_proc(struct fdw_model *m, struct fdw_proc *p, const struct fdw_pid_stat *st,
			   const uint32_t *tids, unsigned int ntids, uint64_t now)
{
	uint32_t pid = p->pid;
	int r;

	m->stats.pids_reused++;
	fdw__proc_del(m, p); /* as its exit record would have */
	if (!ntids)
		return 0;
	r = add_process(m, pid, st->ppid, st->comm, tids, ntids, now, false);
	if (r == 0)
		fdw_model_proc_identify(fdw_model_proc(m, pid), st->starttime, st->startstack);
	return r;
}

void fdw_model_scan_begin(struct fdw_model *m)
{
	m->scan_cands = calloc(1, sizeof(*m->scan_cands));
	if (m->scan_cands)
		cand_index_init(m->scan_cands);
}

void fdw_model_scan_end(struct fdw_model *m)
{
	if (!m->scan_cands)
		return;
	cand_free(m, m->scan_cands);
	free(m->scan_cands);
	m->scan_cands = NULL;
}
