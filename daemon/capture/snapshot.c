// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The start-up snapshot (see snapshot.h). The iterator's output is kept as
 * read (a byte stream of struct fdw_snap_rec, each task's fds in fd order);
 * an index maps each task to its records' offsets.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/grow.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "capture/snapshot.h"
#include "fdwatch_snapshot.h"
#include "snapshot.skel.h"

/* Records are padded to 8 bytes by the iterator, but a stream from
 * elsewhere (fdw_snapshot_parse) need not be: read them through this
 * alignment-1 view (GCC and clang lower a typedef's alignment), never
 * through a plain struct fdw_snap_rec pointer (UBSan: misaligned access). */
typedef struct fdw_snap_rec snap_rec __attribute__((aligned(1)));

#define READ_CHUNK (1u << 20)

struct snap_task {
	uint64_t files;
	uint64_t pos; /* ring position before its first fd was read; 0 unknown */
	uint64_t end; /* ring position once its last fd was read; 0 unknown */
	size_t first; /* index into offs[] */
	size_t n;
};

struct fdw_snapshot {
	uint8_t *buf;
	size_t len;
	size_t *offs;	      /* record offsets, grouped by task, fd order */
	size_t noffs;
	struct snap_task *tasks;
	size_t ntasks;
	struct fdw_hashmap by_tid; /* tid -> 1 + index into tasks[] */
	struct fdw_hashmap tgids;  /* processes with a task in it (value 1) */
	struct fdw_snapshot_stats stats;
	bool positions; /* records carry the capture ring's positions */
};

static const snap_rec *rec_at(const struct fdw_snapshot *s, size_t i)
{
	return (const snap_rec *)(s->buf + s->offs[i]);
}

struct fdw_snapshotter {
	struct fdwatch_snapshot_bpf *skel;
	bool has_ring; /* positions are the capture ring's */
};

int fdw_snapshotter_new(struct fdw_snapshotter **out, int ring_fd)
{
	struct fdw_snapshotter *sn = calloc(1, sizeof(*sn));
	int r;

	*out = NULL;
	if (!sn)
		return -ENOMEM;
	sn->skel = fdwatch_snapshot_bpf__open();
	if (!sn->skel) {
		r = -errno ? -errno : -EINVAL;
		free(sn);
		return r;
	}
	r = ring_fd >= 0 ? bpf_map__reuse_fd(sn->skel->maps.events, ring_fd) : 0;
	if (r == 0)
		r = fdwatch_snapshot_bpf__load(sn->skel);
	if (r < 0) {
		fdwatch_snapshot_bpf__destroy(sn->skel);
		free(sn);
		return r;
	}
	sn->has_ring = ring_fd >= 0;
	*out = sn;
	return 0;
}

void fdw_snapshotter_free(struct fdw_snapshotter *sn)
{
	if (!sn)
		return;
	fdwatch_snapshot_bpf__destroy(sn->skel);
	free(sn);
}

/* Read the whole output of one iterator program into s->buf: every task's,
 * or only task `tid`'s (0: every task). */
static int read_prog(struct fdw_snapshot *s, struct bpf_program *prog, uint32_t tid, size_t *cap)
{
	union bpf_iter_link_info linfo = { .task.tid = tid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &linfo,
		    .link_info_len = sizeof(linfo));
	struct bpf_link *link;
	int fd, r = 0;

	link = bpf_program__attach_iter(prog, tid ? &opts : NULL);
	if (!link)
		return -errno ? -errno : -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		bpf_link__destroy(link);
		return fd;
	}
	for (;;) {
		ssize_t n;

		if (*cap - s->len < READ_CHUNK) {
			size_t ncap = *cap ? *cap * 2 : 4 * READ_CHUNK;
			uint8_t *nb = realloc(s->buf, ncap);

			if (!nb) {
				r = -ENOMEM;
				break;
			}
			s->buf = nb;
			*cap = ncap;
		}
		n = fdw_read_all(fd, s->buf + s->len, *cap - s->len);
		if (n < 0) {
			r = (int)n;
			break;
		}
		s->len += (size_t)n;
		if (s->len < *cap)
			break; /* the end of the iterator's output */
	}
	close(fd);
	bpf_link__destroy(link);
	return r;
}

/* Every task first, then every task's fds (of task `tid` only, if set). */
static int read_iter(struct fdw_snapshotter *sn, struct fdw_snapshot *s, uint32_t tid)
{
	size_t cap = 0;
	int r;

	r = read_prog(s, sn->skel->progs.tasks, tid, &cap);
	if (r == 0)
		r = read_prog(s, sn->skel->progs.snapshot, tid, &cap);
	return r;
}

static int cmp_off_fd(const void *a, const void *b, void *arg)
{
	const uint8_t *buf = arg;
	const snap_rec *x = (const void *)(buf + *(const size_t *)a);
	const snap_rec *y = (const void *)(buf + *(const size_t *)b);

	return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static struct snap_task *task_add(struct fdw_snapshot *s, uint32_t tid, uint64_t files,
				  size_t *tcap)
{
	struct snap_task *t;

	if (FDW_GROW(s->tasks, s->ntasks, *tcap, 256) < 0)
		return NULL;
	t = &s->tasks[s->ntasks++];
	*t = (struct snap_task){ .files = files };
	if (fdw_hashmap_put(&s->by_tid, tid, (void *)(uintptr_t)s->ntasks) < 0) {
		s->ntasks--;
		return NULL;
	}
	return t;
}

/* Walk the records: every task (task records, or the first of its fds),
 * and the offsets of each task's fds, which come in one run. A run ends
 * where the next one (or the end record) begins: the position stamped
 * there is its table's end. */
static int index_records(struct fdw_snapshot *s)
{
	size_t off = 0, cap = 0, tcap = 0, run = 0; /* run: 1 + index into tasks[] */
	uint32_t cur_tid = 0;
	bool in_run = false;

	while (off < s->len) {
		const snap_rec *r = (const void *)(s->buf + off);
		uintptr_t i;
		struct snap_task *t;

		/* sizes are multiples of 8: every record is aligned in buf */
		if (s->len - off < sizeof(*r) || r->size > s->len - off || r->size % 8 ||
		    r->size < sizeof(*r) + r->target_len || r->target_len >= FDW_SNAP_TARGET_MAX)
			return -EPROTO;
		if (r->flags & FDW_SNAP_END) {
			if (run)
				s->tasks[run - 1].end = r->pos;
			run = 0;
			in_run = false;
			off += r->size;
			continue;
		}
		i = (uintptr_t)fdw_hashmap_get(&s->by_tid, r->tid);
		t = i ? &s->tasks[i - 1] : NULL;
		if (!fdw_hashmap_get(&s->tgids, r->tgid) &&
		    fdw_hashmap_put(&s->tgids, r->tgid, (void *)1) < 0)
			return -ENOMEM;
		if (r->flags & FDW_SNAP_TASK) {
			if (!t && !task_add(s, r->tid, r->files, &tcap))
				return -ENOMEM;
			off += r->size;
			continue;
		}
		if (!in_run || cur_tid != r->tid) {
			/* a new run: the task's first fd */
			if (t && t->n)
				return -EPROTO; /* a task's fds come in one run */
			if (!t) {
				t = task_add(s, r->tid, r->files, &tcap);
				if (!t)
					return -ENOMEM;
			}
			if (run)
				s->tasks[run - 1].end = r->pos;
			t->files = r->files;
			t->pos = r->pos;
			t->first = s->noffs;
			run = (size_t)(t - s->tasks) + 1;
			cur_tid = r->tid;
			in_run = true;
		}
		if (FDW_GROW(s->offs, s->noffs, cap, 4096) < 0)
			return -ENOMEM;
		s->offs[s->noffs++] = off;
		t->n++;
		if (r->flags & FDW_SNAP_NO_TARGET)
			s->stats.no_target++;
		off += r->size;
	}
	/* the iterator walks fds in order; make sure, lookups bisect */
	for (size_t i = 0; i < s->ntasks; i++) {
		struct snap_task *t = &s->tasks[i];

		for (size_t j = 1; j < t->n; j++) {
			if (rec_at(s, t->first + j - 1)->fd >= rec_at(s, t->first + j)->fd) {
				qsort_r(s->offs + t->first, t->n, sizeof(size_t), cmp_off_fd, s->buf);
				break;
			}
		}
	}
	s->stats.tasks = s->ntasks;
	s->stats.fds = s->noffs;
	s->stats.bytes = s->len;
	return 0;
}

static struct fdw_snapshot *snapshot_new(void)
{
	struct fdw_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	fdw_hashmap_init(&s->by_tid);
	fdw_hashmap_init(&s->tgids);
	return s;
}

int fdw_snapshot_take(struct fdw_snapshotter *sn, uint32_t tid, struct fdw_snapshot **out)
{
	struct fdw_snapshot *s;
	uint64_t t0 = fdw_now_mono();
	int r;

	*out = NULL;
	if (!sn)
		return -ENODEV;
	s = snapshot_new();
	if (!s)
		return -ENOMEM;
	s->positions = sn->has_ring;
	r = read_iter(sn, s, tid);
	if (r == 0)
		r = index_records(s);
	if (r == 0 && tid && !s->ntasks)
		r = -ESRCH; /* no such task (any more), or no table */
	if (r < 0) {
		log_debug("snapshot of %s: %s", tid ? "one task" : "every task", strerror(-r));
		fdw_snapshot_free(s);
		return r;
	}
	s->stats.ns = fdw_now_mono() - t0;
	*out = s;
	return 0;
}

int fdw_snapshot_parse(struct fdw_snapshot **out, const void *buf, size_t len)
{
	struct fdw_snapshot *s = snapshot_new();
	int r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->buf = malloc(len ? len : 1);
	if (!s->buf) {
		fdw_snapshot_free(s);
		return -ENOMEM;
	}
	memcpy(s->buf, buf, len);
	s->len = len;
	s->positions = true;
	r = index_records(s);
	if (r < 0) {
		fdw_snapshot_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void fdw_snapshot_free(struct fdw_snapshot *s)
{
	if (!s)
		return;
	fdw_hashmap_free(&s->by_tid);
	fdw_hashmap_free(&s->tgids);
	free(s->tasks);
	free(s->offs);
	free(s->buf);
	free(s);
}

void fdw_snapshot_stats(const struct fdw_snapshot *s, struct fdw_snapshot_stats *out)
{
	*out = s ? s->stats : (struct fdw_snapshot_stats){ 0 };
}

static const struct snap_task *task_of(const struct fdw_snapshot *s, uint32_t tid)
{
	uintptr_t i = (uintptr_t)fdw_hashmap_get(&s->by_tid, tid);

	return i ? &s->tasks[i - 1] : NULL;
}

static const snap_rec *find_fd(const struct fdw_snapshot *s, uint32_t tid, int fd)
{
	const struct snap_task *t = task_of(s, tid);
	size_t lo = 0, hi;

	if (!t || fd < 0)
		return NULL;
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const snap_rec *r = rec_at(s, t->first + mid);

		if (r->fd == (uint32_t)fd)
			return r;
		if (r->fd < (uint32_t)fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int fdw_snapshot_read_table(const struct fdw_snapshot *s, struct fdw_procfs *pf, uint32_t tid,
			    void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	const struct snap_task *t = s ? task_of(s, tid) : NULL;
	struct fdw_fd_info *fi;
	int err = 0;

	if (!t || !t->n)
		return -ENOENT; /* not there, or no fd then: /proc will say */
	fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		const snap_rec *r = rec_at(s, t->first + i);

		fi->fd = (int)r->fd;
		fi->cloexec = r->flags & FDW_SNAP_CLOEXEC;
		fi->ino = r->ino;
		fi->dev = r->dev;
		fi->mode = r->mode;
		if (r->flags & FDW_SNAP_NO_TARGET) {
			struct fdw_fd_info *p = fi;
			bool cloexec = fi->cloexec;
			int q = pf ? fdw_procfs_read_target(pf, tid, (int)r->fd, p) : -ENOTSUP;

			if (q == -ENOENT)
				continue; /* closed since */
			if (q < 0) {
				if (!err)
					err = q;
				continue;
			}
			fi->cloexec = cloexec;
			fi->kfile = r->kfile;
		} else {
			fi->kfile = r->kfile;
			memcpy(fi->target, (const char *)(r + 1), r->target_len);
			fi->target[r->target_len] = '\0';
		}
		cb(cbdata, fi);
	}
	free(fi);
	return err;
}

int fdw_snapshot_same_table(const struct fdw_snapshot *s, uint32_t tid1, uint32_t tid2)
{
	const struct snap_task *a = s ? task_of(s, tid1) : NULL;
	const struct snap_task *b = s ? task_of(s, tid2) : NULL;

	if (!a || !b)
		return -ENOENT;
	return a->files == b->files;
}

int fdw_snapshot_cmp_file(const struct fdw_snapshot *s, uint32_t tid1, int fd1, uint32_t tid2,
			  int fd2)
{
	const snap_rec *a = s ? find_fd(s, tid1, fd1) : NULL;
	const snap_rec *b = s ? find_fd(s, tid2, fd2) : NULL;

	if (!a || !b)
		return -ENOENT;
	return a->kfile == b->kfile ? 0 : a->kfile < b->kfile ? 1 : 2;
}

void fdw_snapshot_each_target(const struct fdw_snapshot *s, const char *target,
			      void (*cb)(void *data, uint32_t pid, int fd, uint64_t f_op),
			      void *data)
{
	size_t n = strlen(target);
	uint32_t last = 0;

	for (size_t i = 0; s && i < s->noffs; i++) {
		const snap_rec *r = rec_at(s, i);

		if (r->target_len != n || memcmp(r + 1, target, n) || r->tgid == last)
			continue;
		last = r->tgid;
		cb(data, r->tgid, (int)r->fd, r->f_op);
	}
}

bool fdw_snapshot_has_process(const struct fdw_snapshot *s, uint32_t pid)
{
	return s && fdw_hashmap_get(&s->tgids, pid);
}

uint64_t fdw_snapshot_position(const struct fdw_snapshot *s, uint32_t tid)
{
	const struct snap_task *t = s && s->positions ? task_of(s, tid) : NULL;

	return t && t->n ? t->pos : 0;
}

uint64_t fdw_snapshot_read_end(const struct fdw_snapshot *s, uint32_t tid)
{
	const struct snap_task *t = s && s->positions ? task_of(s, tid) : NULL;

	return t && t->n ? t->end : 0;
}

uint64_t fdw_snapshot_kfile(const struct fdw_snapshot *s, uint32_t tid, int fd)
{
	const snap_rec *r = s ? find_fd(s, tid, fd) : NULL;

	return r ? r->kfile : 0;
}
