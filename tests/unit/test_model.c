// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The table model against Linux's semantics, driven by synthetic events and
 * a fake /proc. No privileges needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "check.h"
#include "base/hash.h"
#include "base/clock.h"
#include "model/model.h"
#include "capture/syscalls.h"

#define PID 100
#define FILES 0xffff888000001000ull

/* ---- a fake kernel: one table per tid, what /proc would show ---------- */

struct fake_fd {
	bool open;
	bool cloexec;
	uint64_t ino;
	char target[64];
};

#define FAKE_MAX 2048
static struct fake_fd fake[FAKE_MAX];
static unsigned int read_fd_calls, read_target_calls, read_table_calls, double_closes, clobbers, exec_leaks, fails;
static enum fdw_fd_event_kind last_kind; /* the counting observer's last call */
static int last_fd;
static const struct fdw_slot *last_slot;

static int fake_read_fd(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	read_fd_calls++;
	if (fd < 0 || fd >= FAKE_MAX || !fake[fd].open) {
		/* outside the fake: a plausible file, for the big tests */
		if (fd >= FAKE_MAX) {
			out->fd = fd;
			out->cloexec = false;
			out->ino = 7;
			out->dev = 1;
			out->mode = S_IFREG;
			out->kfile = 0;
			snprintf(out->target, sizeof(out->target), "/big/file");
			return 0;
		}
		return -ENOENT;
	}
	out->fd = fd;
	out->cloexec = fake[fd].cloexec;
	out->ino = fake[fd].ino;
	out->dev = 1;
	out->mode = S_IFREG;
	out->kfile = 0;
	snprintf(out->target, sizeof(out->target), "%s", fake[fd].target);
	return 0;
}

static int fake_read_target(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	int r = fake_read_fd(u, tid, fd, out);

	read_fd_calls--;
	read_target_calls++;
	out->cloexec = false; /* no fdinfo */
	return r;
}

static int fake_table_err; /* fake_read_table fails with it (-errno) */

static int fake_read_table(void *u, uint32_t tid,
			   void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi;

	read_table_calls++;
	if (fake_table_err)
		return fake_table_err;
	for (int fd = 0; fd < FAKE_MAX; fd++)
		if (fake[fd].open && fake_read_fd(u, tid, fd, &fi) == 0)
			cb(cbdata, &fi);
	return 0;
}

/* fds with the same fake inode share an OFD unless marked otherwise */
static int fake_same_file(void *u, uint32_t t1, int fd1, uint32_t t2, int fd2)
{
	if (fd1 < 0 || fd1 >= FAKE_MAX || fd2 < 0 || fd2 >= FAKE_MAX)
		return 0;
	return fake[fd1].ino == fake[fd2].ino && fake[fd1].ino != 99;
}

/* the same as kcmp(KCMP_FILE) answers it: an order on a fake file address */
static int fake_cmp_file(void *u, uint32_t t1, int fd1, uint32_t t2, int fd2)
{
	uint64_t a, b;

	if (fd1 < 0 || fd1 >= FAKE_MAX || fd2 < 0 || fd2 >= FAKE_MAX)
		return -EBADF;
	a = fake[fd1].ino == 99 ? 1ull << 32 | (unsigned int)fd1 : fake[fd1].ino;
	b = fake[fd2].ino == 99 ? 1ull << 32 | (unsigned int)fd2 : fake[fd2].ino;
	return a == b ? 0 : a < b ? 1 : 2;
}

static void on_fd_event(void *u, struct fdw_proc *p, const struct fdw_event *ev,
			enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	last_kind = kind;
	last_fd = fd;
	last_slot = s;
	if (kind == FDW_FDEV_FAIL)
		fails++;
	if (kind == FDW_FDEV_DOUBLE_CLOSE)
		double_closes++;
	if (kind == FDW_FDEV_CLOBBER)
		clobbers++;
	if (kind == FDW_FDEV_EXEC_LEAK)
		exec_leaks++;
}

static void fake_set(int fd, const char *target, uint64_t ino, bool cloexec)
{
	fake[fd].open = true;
	fake[fd].cloexec = cloexec;
	fake[fd].ino = ino;
	snprintf(fake[fd].target, sizeof(fake[fd].target), "%s", target);
}

static void model_new(struct fdw_model *m)
{
	struct fdw_model_ops ops = {
		.read_fd = fake_read_fd,
		.read_target = fake_read_target,
		.read_table = fake_read_table,
		.same_file = fake_same_file,
		.cmp_file = fake_cmp_file,
	};
	struct fdw_model_observer obs = { .name = "counts", .on_fd_event = on_fd_event };

	memset(fake, 0, sizeof(fake));
	fdw_model_init(m, &ops);
	CHECK_EQ(fdw_model_add_observer(m, &obs), 0);
}

/* ---- event builders --------------------------------------------------- */

static uint64_t seq;

static struct fdw_event sys(uint32_t tid, uint64_t files, unsigned int nr, int64_t ret,
			    uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct fdw_event ev = {
		.seq = ++seq,
		.ts = seq * 1000,
		.files = files,
		.pid = PID,
		.tid = tid,
		.type = FDW_REC_SYSCALL,
		.nr = nr,
		.ret = ret,
		.args = { a0, a1, a2 },
	};
	return ev;
}

/* ev installing one fd, of the inode ino on dev with type mode */
static struct fdw_event one_fd(struct fdw_event ev, int fd, uint64_t ino, uint32_t dev,
			       uint32_t mode)
{
	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.ino = ino;
	ev.dev = dev;
	ev.mode = mode;
	return ev;
}

/* openat(AT_FDCWD, path, flags) returning fd, with the fake kernel updated */
static void do_open(struct fdw_model *m, uint32_t tid, uint64_t files, int fd, const char *path,
		    int flags)
{
	struct fdw_event ev = sys(tid, files, FDW_SYS_OPENAT, fd, (uint64_t)AT_FDCWD, 0, flags);

	fake_set(fd, path, 1000 + fd, flags & O_CLOEXEC);
	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.file = 0xffff888100000000ull + (uint64_t)fd * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 1000 + fd;
	ev.dev = 1;
	ev.mode = S_IFREG | 0644;
	ev.path = path;
	fdw_model_apply(m, &ev);
}

static void apply(struct fdw_model *m, struct fdw_event ev)
{
	fdw_model_apply(m, &ev);
}

static struct fdw_table *table_of(struct fdw_model *m, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(m, pid);

	return p ? fdw_model_proc_table(m, p) : NULL;
}

/* An OFD's target as the API shows it (made from the inode for pipes and
 * sockets: no string kept); valid until the next call. */
static const char *target_of(const struct fdw_ofd *o)
{
	static char buf[FDW_OFD_NAME_BUF];

	return fdw_ofd_target(o, buf);
}

static const struct fdw_slot *slot(struct fdw_model *m, uint32_t pid, int fd)
{
	struct fdw_slot *s = fdw_table_slot(table_of(m, pid), fd);

	return fdw_slot_open(s) ? s : NULL;
}

/* A process known from the /proc scan, with fds 0-2 on a tty. */
static void start_proc(struct fdw_model *m)
{
	uint32_t tids[] = { PID };

	fake_set(0, "/dev/pts/0", 5, false);
	fake_set(1, "/dev/pts/0", 5, false);
	fake_set(2, "/dev/pts/0", 5, false);
	CHECK_EQ(fdw_model_add_scanned(m, PID, 1, "test", tids, 1, 1), 0);
}

/* ---- tests ------------------------------------------------------------ */

static void test_scan_and_open(void)
{
	struct fdw_model m;
	const struct fdw_slot *s;

	model_new(&m);
	start_proc(&m);
	CHECK_EQ(table_of(&m, PID)->nopen, 3);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 0))->source, FDW_SRC_PROCFS);
	do_open(&m, PID, FILES, 3, "/etc/passwd", O_RDONLY | O_CLOEXEC);
	s = slot(&m, PID, 3);
	CHECK(s != NULL);
	if (s) {
		CHECK_STR(fdw_slot_ofd(s)->target, "/etc/passwd");
		CHECK(s->cloexec);
		CHECK_EQ(fdw_origin_at(s->origin)->nr, FDW_SYS_OPENAT);
		CHECK_EQ(fdw_origin_at(s->origin)->source, FDW_SRC_EVENT);
		CHECK_EQ(fdw_origin_at(s->origin)->tid, PID);
		CHECK_EQ(s->generation, 1);
	}
	/* first event bound the scanned table to the kernel's files_struct */
	CHECK_EQ(table_of(&m, PID)->kfiles, FILES);
	fdw_model_free(&m);
}

static void test_dup_family(void)
{
	struct fdw_model m;
	const struct fdw_slot *a, *b;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/etc/passwd", O_CLOEXEC);
	do_open(&m, PID, FILES, 4, "/etc/group", 0);

	/* dup: new fd shares the OFD, cloexec cleared, from_fd recorded */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP, 5, 3, 0, 0));
	a = slot(&m, PID, 3);
	b = slot(&m, PID, 5);
	CHECK(a && b);
	if (a && b) {
		CHECK(fdw_slot_ofd(a) == fdw_slot_ofd(b));
		CHECK(!b->cloexec);
		CHECK(a->cloexec);
		CHECK_EQ(fdw_origin_at(b->origin)->from_fd, 3);
		CHECK_EQ(fdw_origin_at(b->origin)->nr, FDW_SYS_DUP);
	}

	/* dup2 onto an open fd replaces it; the old one is in history */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 4, 3, 4, 0));
	b = slot(&m, PID, 4);
	CHECK(b && fdw_slot_ofd(b) == fdw_slot_ofd(slot(&m, PID, 3)));
	CHECK_EQ(clobbers, 1);
	if (b) {
		const struct fdw_fd_history *h = fdw_slot_history(&m, b, 0);

		CHECK_EQ(b->generation, 2);
		CHECK(h != NULL);
		if (h) {
			CHECK_EQ(h->generation, 1);
			CHECK_STR(h->target, "/etc/group");
			CHECK_EQ(fdw_origin_at(h->closed)->nr, FDW_SYS_DUP2);
		}
	}

	/* dup2(fd, fd) changes nothing */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 4, 4, 4, 0));
	CHECK_EQ(slot(&m, PID, 4)->generation, 2);

	/* dup2(badfd, 4) fails with EBADF and leaves 4 open */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, -EBADF, 99, 4, 0));
	CHECK(slot(&m, PID, 4) != NULL);
	CHECK_EQ(slot(&m, PID, 4)->generation, 2);

	/* dup3 with O_CLOEXEC sets the bit; dup3(fd, fd) is EINVAL: no change */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP3, 10, 4, 10, O_CLOEXEC));
	CHECK(slot(&m, PID, 10) && slot(&m, PID, 10)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_DUP3, -EINVAL, 10, 10, 0));
	CHECK(slot(&m, PID, 10) && slot(&m, PID, 10)->cloexec);

	/* fcntl F_DUPFD_CLOEXEC and F_SETFD */
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 20, 4, F_DUPFD_CLOEXEC, 20));
	CHECK(slot(&m, PID, 20) && slot(&m, PID, 20)->cloexec);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 20))->from_fd, 4);
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 0, 20, F_SETFD, 0));
	CHECK(slot(&m, PID, 20) && !slot(&m, PID, 20)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 21, 20, F_DUPFD, 21));
	CHECK(slot(&m, PID, 21) && !slot(&m, PID, 21)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 0, 21, F_SETFD, FD_CLOEXEC));
	CHECK(slot(&m, PID, 21) && slot(&m, PID, 21)->cloexec);
	fdw_model_free(&m);
}

static void test_close(void)
{
	struct fdw_model m;
	struct fdw_table *t;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/a", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
	CHECK(slot(&m, PID, 3) == NULL);
	/* the second close is EBADF: a double close */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EBADF, 3, 0, 0));
	CHECK_EQ(double_closes, 1);
	/* close() failing with EINTR still closed it */
	do_open(&m, PID, FILES, 3, "/b", 0);
	CHECK_EQ(fdw_table_slot(table_of(&m, PID), 3)->generation, 2);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EINTR, 3, 0, 0));
	CHECK(slot(&m, PID, 3) == NULL);

	/* close_range: CLOEXEC marks, plain closes, bounds respected */
	for (int fd = 3; fd < 10; fd++)
		do_open(&m, PID, FILES, fd, "/c", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 5, 7, 1u << 2));
	CHECK(slot(&m, PID, 4) && !slot(&m, PID, 4)->cloexec);
	CHECK(slot(&m, PID, 5) && slot(&m, PID, 5)->cloexec);
	CHECK(slot(&m, PID, 7) && slot(&m, PID, 7)->cloexec);
	CHECK(slot(&m, PID, 8) && !slot(&m, PID, 8)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 4, ~0u, 0));
	t = table_of(&m, PID);
	CHECK_EQ(t->nopen, 4); /* 0, 1, 2, 3 */
	CHECK(slot(&m, PID, 3) != NULL);
	CHECK(slot(&m, PID, 9) == NULL);
	fdw_model_free(&m);
}

/*
 * close_range(CLOSE_RANGE_CLOEXEC) again and again: the table's memo of
 * the fds that may be open without close-on-exec (struct fdw_table's
 * cx_hint) must see every change between two calls: an F_SETFD or
 * FIONCLEX clearing the bit, an open or dup2 without O_CLOEXEC, below,
 * inside and past the numbers the memo had (a walk of 200 slots a record
 * let one user's loop stall the daemon: tests/integration/
 * test_cloexec_flood.py).
 */
static void test_close_range_cloexec_memo(void)
{
	const unsigned int CX = 1u << 2;
	struct fdw_model m;

	model_new(&m);
	start_proc(&m);
	for (int fd = 3; fd < 200; fd++)
		do_open(&m, PID, FILES, fd, "/m", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 3, ~0u, CX));
	for (int fd = 3; fd < 200; fd++)
		CHECK(slot(&m, PID, fd) && slot(&m, PID, fd)->cloexec);
	CHECK(slot(&m, PID, 2) && !slot(&m, PID, 2)->cloexec);
	/* changes between two calls */
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 0, 70, F_SETFD, 0));
	apply(&m, sys(PID, FILES, FDW_SYS_IOCTL, 0, 130, FIONCLEX, 0));
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 150, 2, 150, 0)); /* over an open one */
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 300, 2, 300, 0)); /* past the memo */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 190, 0, 0));
	do_open(&m, PID, FILES, 190, "/n", 0);
	CHECK(!slot(&m, PID, 70)->cloexec && !slot(&m, PID, 130)->cloexec);
	CHECK(!slot(&m, PID, 150)->cloexec && !slot(&m, PID, 300)->cloexec);
	/* a range that holds some: those alone change */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 100, 160, CX));
	CHECK(!slot(&m, PID, 70)->cloexec);
	CHECK(slot(&m, PID, 130)->cloexec && slot(&m, PID, 150)->cloexec);
	CHECK(!slot(&m, PID, 190)->cloexec && !slot(&m, PID, 300)->cloexec);
	/* the bounds are the call's, at a word's edge too */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 71, 189, CX));
	CHECK(!slot(&m, PID, 70)->cloexec && !slot(&m, PID, 190)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 0, 63, CX));
	CHECK(slot(&m, PID, 2)->cloexec && !slot(&m, PID, 70)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 64, 70, CX));
	CHECK(slot(&m, PID, 70)->cloexec && !slot(&m, PID, 190)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 191, ~0u, CX));
	CHECK(!slot(&m, PID, 190)->cloexec && slot(&m, PID, 300)->cloexec);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 3, ~0u, CX));
	for (int fd = 0; fd < 400; fd++)
		CHECK(!slot(&m, PID, fd) || slot(&m, PID, fd)->cloexec);
	/* a failed call changes nothing */
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 0, 5, F_SETFD, 0));
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, -EINVAL, 3, ~0u, CX));
	CHECK(!slot(&m, PID, 5)->cloexec);
	fdw_model_free(&m);
}

/* openat by tid of fd, whose struct file is kfile (ino 1000 + fd) */
static struct fdw_event open_k(uint32_t tid, int fd, uint64_t kfile)
{
	struct fdw_event ev = one_fd(sys(tid, FILES, FDW_SYS_OPENAT, fd, (uint64_t)AT_FDCWD, 0, 0),
				     fd, 1000 + (uint64_t)fd, 1, S_IFREG | 0644);

	ev.file = kfile;
	ev.kfiles[0] = kfile;
	ev.path = "/k";
	return ev;
}

/* close of fd by tid; the probe saw kfile_now at the number (0: nothing) */
static struct fdw_event close_k(uint32_t tid, int fd, uint64_t kfile_now)
{
	struct fdw_event ev = sys(tid, FILES, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0, 0);

	ev.close_now = kfile_now;
	return ev;
}

/*
 * A close that found the number empty (EBADF) while another thread of the
 * table opened it right after: the open's record came first. The close's
 * probe saw the open's file at the number, so the close was before the
 * open: the fd stays, and no anomaly. Before, the model took the EBADF
 * for a close it had missed: it counted an anomaly and closed the fd the
 * kernel had open (the probe did not look at the number for an EBADF).
 */
static void test_ebadf_close_raced(void)
{
	const uint64_t k1 = 0xffff888200000500ull, k2 = k1 + 0x100;
	const uint32_t t1 = PID, t2 = PID + 1;
	struct fdw_model m;
	const struct fdw_slot *s;
	uint32_t tids[] = { t1, t2 };
	struct fdw_event c;

	model_new(&m);
	fake_set(0, "/dev/pts/0", 5, false);
	CHECK_EQ(fdw_model_add_scanned(&m, PID, 1, "test", tids, 2, 1), 0);
	/* t1 closes 20 (never open: EBADF), t2 opens 20; t2's record first */
	apply(&m, open_k(t2, 20, k1));
	c = close_k(t1, 20, k1);
	c.ret = -EBADF;
	apply(&m, c);
	s = slot(&m, PID, 20);
	CHECK(s && fdw_slot_ofd(s)->kfile == k1 && fdw_slot_origin(s)->tid == t2);
	CHECK_EQ(m.stats.anomalies, 0);
	CHECK_EQ(m.stats.stale_closes, 1);
	/* the same with a dup2 of another thread over the empty number */
	apply(&m, open_k(t2, 21, k2));
	apply(&m, sys(t2, FILES, FDW_SYS_DUP2, 22, 21, 22, 0));
	c = close_k(t1, 22, k2);
	c.ret = -EBADF;
	apply(&m, c);
	s = slot(&m, PID, 22);
	CHECK(s && fdw_slot_ofd(s)->kfile == k2);
	CHECK_EQ(m.stats.anomalies, 0);
	/* an EBADF close of a number the model has open, the probe having
	 * seen another file there or none: the model had missed a close */
	c = close_k(t1, 20, 0);
	c.ret = -EBADF;
	apply(&m, c);
	CHECK(slot(&m, PID, 20) == NULL);
	CHECK_EQ(m.stats.anomalies, 1);
	fdw_model_free(&m);
}

/*
 * The record order an 8-thread open/dup2/close churn gave (uid 65534,
 * python threads on fds 3..63 of one table): t1 dup3()s 4 over 61 twice,
 * t2 dup3()s 4 over 61 (the model's slot: suspect, t2's), t1 closes 61
 * (its probe found the number empty), t3 closes 61: EBADF (its probe
 * found it empty too). Meanwhile another thread reopened 61, its record
 * later in the ring. The close of a suspect slot by another thread asked
 * /proc, which showed the table of that later moment: the reopen's file,
 * whose record had not come. The model kept 61 open, and t3's EBADF close
 * counted an anomaly (1034 of the 1036 a 3 s run counted). The probe had
 * looked at the number after t1's close and not found the slot's file
 * there: the close was of it.
 */
static void test_suspect_close_churn(void)
{
	const uint64_t k4 = 0xffff888200000900ull, k5 = k4 + 0x100;
	const uint32_t t1 = PID, t2 = PID + 1, t3 = PID + 2, t4 = PID + 3;
	uint32_t tids[] = { t1, t2, t3, t4 };
	const struct fdw_slot *s;
	struct fdw_model m;
	struct fdw_event c;
	unsigned int reads;

	model_new(&m);
	fake_set(0, "/dev/pts/0", 5, false);
	CHECK_EQ(fdw_model_add_scanned(&m, PID, 1, "test", tids, 4, 1), 0);
	apply(&m, open_k(t1, 4, k4));
	apply(&m, sys(t1, FILES, FDW_SYS_DUP3, 61, 4, 61, O_CLOEXEC));
	apply(&m, sys(t1, FILES, FDW_SYS_DUP3, 61, 4, 61, O_CLOEXEC));
	apply(&m, sys(t2, FILES, FDW_SYS_DUP3, 61, 4, 61, O_CLOEXEC));
	s = slot(&m, PID, 61);
	CHECK(s && s->suspect && fdw_slot_origin(s)->tid == t2);
	/* what /proc shows by the time the model applies t1's close: t4's
	 * reopen of 61, whose record is still to come */
	fake_set(61, "/k", 1061, false);
	reads = read_fd_calls;
	apply(&m, close_k(t1, 61, 0));
	CHECK(slot(&m, PID, 61) == NULL);
	CHECK_EQ(read_fd_calls, reads);
	c = close_k(t3, 61, 0);
	c.ret = -EBADF;
	apply(&m, c);
	CHECK(slot(&m, PID, 61) == NULL);
	CHECK_EQ(m.stats.anomalies, 0);
	/* t4's reopen: over a closed number, no race */
	apply(&m, open_k(t4, 61, k5));
	s = slot(&m, PID, 61);
	CHECK(s && fdw_slot_ofd(s)->kfile == k5 && fdw_slot_origin(s)->tid == t4);
	CHECK(!fdw_table_slot(table_of(&m, PID), 61)->race_pending);
	CHECK_EQ(m.stats.anomalies, 0);
	CHECK_EQ(m.stats.stale_closes, 0);
	fdw_model_free(&m);
}

/*
 * Threads of one table racing for a number: records come in the order of
 * the syscalls' exits, so a close can come after the reopen of its number
 * by another thread, even after several. The probe tells what was at the
 * number when the close's record had its place in the ring.
 */
static void test_stale_close(void)
{
	const uint64_t k1 = 0xffff888200000100ull, k2 = k1 + 0x100, k3 = k1 + 0x200;
	const uint32_t t1 = PID, t2 = PID + 1, t3 = PID + 2;
	struct fdw_model m;
	const struct fdw_slot *s, *raw;
	uint32_t tids[] = { t1, t2, t3 };

	model_new(&m);
	fake_set(0, "/dev/pts/0", 5, false);
	CHECK_EQ(fdw_model_add_scanned(&m, PID, 1, "test", tids, 3, 1), 0);
	apply(&m, open_k(t1, 10, k1));

	/* t1 closed 10; t2 reopened it (k2), closed it; t3 reopened it (k3);
	 * only then did t1's close record come: it must not close k3 */
	apply(&m, open_k(t2, 10, k2));
	apply(&m, close_k(t2, 10, 0));
	apply(&m, open_k(t3, 10, k3));
	apply(&m, close_k(t1, 10, k3));
	s = slot(&m, PID, 10);
	CHECK(s != NULL);
	CHECK(s && fdw_slot_ofd(s)->kfile == k3);
	CHECK(s && fdw_slot_origin(s)->tid == t3);
	CHECK_EQ(m.stats.stale_closes, 1);

	/* one reopen in between: the same, without asking /proc */
	apply(&m, close_k(t3, 10, 0));
	apply(&m, open_k(t1, 10, k1));
	apply(&m, open_k(t2, 10, k2));
	apply(&m, close_k(t1, 10, k2));
	s = slot(&m, PID, 10);
	CHECK(s && fdw_slot_ofd(s)->kfile == k2 && !s->suspect);
	CHECK_EQ(m.stats.stale_closes, 2);

	/* in order (the reopen's record after the close's, which saw it): the
	 * close is of the slot's file */
	apply(&m, close_k(t2, 10, k3));
	CHECK(slot(&m, PID, 10) == NULL);
	apply(&m, open_k(t3, 10, k3));
	s = slot(&m, PID, 10);
	CHECK(s && fdw_slot_ofd(s)->kfile == k3);
	CHECK_EQ(m.stats.stale_closes, 2);

	/* the reopened file at the closed one's address (freed, reused): the
	 * close is taken as stale, the reopen's record replaces the slot: the
	 * table ends right */
	apply(&m, close_k(t1, 10, k3));
	s = slot(&m, PID, 10);
	CHECK(s && fdw_slot_ofd(s)->kfile == k3);
	apply(&m, open_k(t2, 10, k3));
	s = slot(&m, PID, 10);
	CHECK(s && fdw_slot_ofd(s)->kfile == k3 && fdw_slot_origin(s)->tid == t2);
	CHECK_EQ(table_of(&m, PID)->nopen, 2); /* 0 and 10 */
	/* t2 closed 10, t1 reopened it (over the number the model still has
	 * open: a race) and closed it; t2's close record comes last (its
	 * probe found the number empty): stale too */
	apply(&m, open_k(t1, 10, k1));
	CHECK(fdw_table_slot(table_of(&m, PID), 10)->race_pending);
	apply(&m, close_k(t1, 10, 0));
	apply(&m, close_k(t2, 10, 0));
	CHECK(slot(&m, PID, 10) == NULL);
	CHECK_EQ(m.stats.stale_closes, 4);
	/* threads racing for a number are not the model being wrong */
	CHECK_EQ(m.stats.anomalies, 0);
	raw = fdw_table_slot(table_of(&m, PID), 10);
	CHECK(raw && !raw->race_pending && !raw->early_close); /* every race's close came */

	/* t1 closed 11; t2's dup of 13 got 11, and its record came first (a
	 * dup over an open number: a race); then t1's close, which saw the
	 * dup's file at 11: skipped */
	apply(&m, open_k(t1, 11, k1));
	apply(&m, open_k(t2, 13, k2));
	{
		struct fdw_event d = sys(t2, FILES, FDW_SYS_DUP, 11, 13, 0, 0);

		apply(&m, d);
	}
	CHECK(fdw_table_slot(table_of(&m, PID), 11)->race_pending);
	apply(&m, close_k(t1, 11, k2));
	s = slot(&m, PID, 11);
	CHECK(s && fdw_slot_ofd(s)->kfile == k2 && fdw_slot_origin(s)->tid == t2);
	CHECK(!fdw_table_slot(table_of(&m, PID), 11)->race_pending);
	CHECK_EQ(m.stats.anomalies, 0);
	apply(&m, close_k(t2, 11, 0));
	apply(&m, close_k(t2, 13, 0));

	/* t1 closed 14 and t2 reopened it at the same address (freed,
	 * reused); t1's close record first, its probe having seen t2's file:
	 * skipped (the slot holds that address), and t2's install comes over
	 * the open number: its race is the close already seen. Nothing is
	 * left pending, so a later close of the closed number counts */
	apply(&m, open_k(t1, 14, k1));
	apply(&m, close_k(t1, 14, k1));
	apply(&m, open_k(t2, 14, k1));
	raw = fdw_table_slot(table_of(&m, PID), 14);
	CHECK(raw && !raw->race_pending && !raw->early_close);
	apply(&m, close_k(t2, 14, 0));
	CHECK_EQ(m.stats.anomalies, 0);
	apply(&m, close_k(t2, 14, 0));
	CHECK_EQ(m.stats.anomalies, 1);

	/* t1 closed 15 and t2's dup2(13, 15) took the number; the dup2's
	 * record first (over a number the model has open, another thread's:
	 * a dup2 may replace that, so no race is marked), then t1's close,
	 * which saw the dup2's file at 15: skipped, and the install it raced
	 * has come, so nothing is marked for one to come */
	apply(&m, open_k(t1, 15, k1));
	apply(&m, open_k(t2, 13, k2));
	apply(&m, sys(t2, FILES, FDW_SYS_DUP2, 15, 13, 15, 0));
	apply(&m, close_k(t1, 15, k2));
	s = slot(&m, PID, 15);
	CHECK(s && fdw_slot_ofd(s)->kfile == k2 && fdw_slot_origin(s)->tid == t2);
	raw = fdw_table_slot(table_of(&m, PID), 15);
	CHECK(raw && !raw->race_pending && !raw->early_close);
	CHECK_EQ(m.stats.anomalies, 1);
	/* so the next race at 15 is marked: t1 closed it, t3 reopened it and
	 * closed it, and only then came t1's close record (which found 15
	 * empty): stale, not a missed record */
	apply(&m, open_k(t3, 15, k3));
	CHECK(fdw_table_slot(table_of(&m, PID), 15)->race_pending);
	apply(&m, close_k(t3, 15, 0));
	apply(&m, close_k(t1, 15, 0));
	CHECK(slot(&m, PID, 15) == NULL);
	CHECK_EQ(m.stats.anomalies, 1);
	apply(&m, close_k(t2, 13, 0));

	/* no race pending: a successful close of a closed number is a
	 * record the model missed, shared table or not */
	apply(&m, close_k(t3, 12, 0));
	CHECK_EQ(m.stats.anomalies, 2);
	fdw_model_free(&m);

	/* one task: an install over an open number is a close it never saw */
	model_new(&m);
	fake_set(0, "/dev/pts/0", 5, false);
	CHECK_EQ(fdw_model_add_scanned(&m, PID, 1, "test", tids, 1, 1), 0);
	apply(&m, open_k(t1, 10, k1));
	apply(&m, open_k(t1, 10, k2));
	s = slot(&m, PID, 10);
	CHECK(s && fdw_slot_ofd(s)->kfile == k2);
	CHECK_EQ(m.stats.anomalies, 1);
	/* a dup returning a number it has open: a close it missed */
	{
		struct fdw_event d = sys(t1, FILES, FDW_SYS_DUP, 10, 0, 0, 0);

		apply(&m, d);
	}
	CHECK_EQ(m.stats.anomalies, 2);
	apply(&m, close_k(t1, 10, 0));
	/* and a successful close of a number it has closed is one it missed */
	apply(&m, close_k(t1, 10, 0));
	CHECK_EQ(m.stats.anomalies, 3);
	CHECK_EQ(m.stats.stale_closes, 0);
	fdw_model_free(&m);
}

static struct fdw_event task_ev(uint16_t type, uint32_t pid, uint32_t tid, uint64_t files)
{
	struct fdw_event ev = {
		.seq = ++seq,
		.ts = seq * 1000,
		.files = files,
		.pid = pid,
		.tid = tid,
		.type = type,
	};
	strcpy(ev.comm, "child");
	return ev;
}

static void test_fork_threads_exec_exit(void)
{
	struct fdw_model m;
	struct fdw_event ev;
	const uint64_t CHILD_FILES = FILES + 0x1000, SHARED_FILES_PID = 300;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/keep", 0);
	do_open(&m, PID, FILES, 4, "/cloexec", O_CLOEXEC);

	/* fork: the child gets a copy */
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = 200;
	ev.child_tid = 200;
	ev.child_files = CHILD_FILES;
	apply(&m, ev);
	CHECK(table_of(&m, 200) != NULL && table_of(&m, 200) != table_of(&m, PID));
	CHECK(slot(&m, 200, 3) && fdw_slot_ofd(slot(&m, 200, 3)) == fdw_slot_ofd(slot(&m, PID, 3)));
	CHECK_EQ(fdw_slot_origin(slot(&m, 200, 3))->source, FDW_SRC_INHERIT);
	/* the child's close does not touch the parent */
	ev = sys(200, CHILD_FILES, FDW_SYS_CLOSE, 0, 3, 0, 0);
	ev.pid = 200;
	apply(&m, ev);
	CHECK(slot(&m, 200, 3) == NULL);
	CHECK(slot(&m, PID, 3) != NULL);

	/* a thread shares the table */
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = PID;
	ev.child_tid = PID + 1;
	ev.child_files = FILES;
	ev.flags = FDW_F_THREAD | FDW_F_SHARED_FILES;
	apply(&m, ev);
	do_open(&m, PID + 1, FILES, 5, "/from-thread", 0);
	CHECK(slot(&m, PID, 5) != NULL);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 5))->tid, PID + 1);

	/* clone(CLONE_FILES) without CLONE_THREAD: another process, same table */
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = SHARED_FILES_PID;
	ev.child_tid = SHARED_FILES_PID;
	ev.child_files = FILES;
	ev.flags = FDW_F_SHARED_FILES;
	apply(&m, ev);
	CHECK(table_of(&m, SHARED_FILES_PID) == table_of(&m, PID));
	ev = sys(SHARED_FILES_PID, FILES, FDW_SYS_DUP, 6, 5, 0, 0);
	ev.pid = SHARED_FILES_PID;
	apply(&m, ev);
	CHECK(slot(&m, PID, 6) != NULL);

	/* unshare(CLONE_FILES) in that process: its events now name a new table */
	ev = sys(SHARED_FILES_PID, FILES + 0x2000, FDW_SYS_UNSHARE, 0, 0x400, 0, 0);
	ev.pid = SHARED_FILES_PID;
	apply(&m, ev);
	CHECK(table_of(&m, SHARED_FILES_PID) != table_of(&m, PID));
	ev = sys(SHARED_FILES_PID, FILES + 0x2000, FDW_SYS_CLOSE, 0, 6, 0, 0);
	ev.pid = SHARED_FILES_PID;
	apply(&m, ev);
	CHECK(slot(&m, SHARED_FILES_PID, 6) == NULL);
	CHECK(slot(&m, PID, 6) != NULL);
	CHECK_EQ(m.stats.table_splits, 1);

	/* exec drops close-on-exec fds, keeps the others (a leak into the child) */
	fake[4].open = false; /* the kernel closed it at exec */
	ev = task_ev(FDW_REC_EXEC, PID, PID, FILES);
	ev.child_pid = PID;
	strcpy(ev.comm, "newprog");
	apply(&m, ev);
	CHECK(slot(&m, PID, 4) == NULL);
	CHECK(slot(&m, PID, 3) != NULL);
	CHECK(exec_leaks >= 1);
	CHECK_STR(fdw_model_proc(&m, PID)->comm, "newprog");

	/* thread exit keeps the table; the last exit frees it and the process */
	apply(&m, task_ev(FDW_REC_EXIT, PID, PID + 1, FILES));
	CHECK(table_of(&m, PID) != NULL);
	ev = task_ev(FDW_REC_EXIT, PID, PID, FILES);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, PID) == NULL);
	ev = task_ev(FDW_REC_EXIT, 200, 200, CHILD_FILES);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	ev = task_ev(FDW_REC_EXIT, SHARED_FILES_PID, SHARED_FILES_PID, FILES + 0x2000);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	CHECK_EQ(fdw_hashmap_size(&m.procs), 0);
	CHECK_EQ(m.stats.tables, 0);
	CHECK_EQ(m.stats.fds, 0);
	CHECK_EQ(m.stats.ofds, 0);
	fdw_model_free(&m);
}

static void test_pipe_and_rights(void)
{
	struct fdw_model m;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	fake_set(3, "pipe:[77]", 77, true);
	fake_set(4, "pipe:[77]", 77, true);
	ev = sys(PID, FILES, FDW_SYS_PIPE2, 0, 0, O_CLOEXEC, 0);
	ev.nfds = 2;
	ev.fds[0] = 3;
	ev.fds[1] = 4;
	ev.ino = 77;
	ev.dev = 1;
	ev.mode = S_IFIFO;
	apply(&m, ev);
	CHECK(slot(&m, PID, 3) && slot(&m, PID, 4));
	CHECK(fdw_slot_ofd(slot(&m, PID, 3)) != fdw_slot_ofd(slot(&m, PID, 4)));
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 4))), "pipe:[77]");
	CHECK(!fdw_slot_ofd(slot(&m, PID, 4))->target && fdw_slot_ofd(slot(&m, PID, 4))->target_ino); /* no string */
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 3))), "pipe:[77]");
	CHECK(slot(&m, PID, 3)->cloexec && slot(&m, PID, 4)->cloexec);

	/* SCM_RIGHTS: received fd with a known struct file joins its OFD */
	ev = sys(PID, FILES, FDW_SYS_PIPE2, 0, 0, 0, 0);
	do_open(&m, PID, FILES, 5, "/shared", 0);
	fake_set(6, "/shared", 1005, false);
	ev = sys(PID, FILES, FDW_SYS_RECVMSG, 10, 9, 0, 0);
	ev.nfds = 1;
	ev.fds[0] = 6;
	ev.file = 0xffff888100000000ull + 5 * 256; /* fd 5's file */
	ev.kfiles[0] = ev.file;
	ev.ino = 1005;
	ev.dev = 1;
	apply(&m, ev);
	CHECK(slot(&m, PID, 6) && fdw_slot_ofd(slot(&m, PID, 6)) == fdw_slot_ofd(slot(&m, PID, 5)));
	CHECK(!slot(&m, PID, 6)->cloexec);

	/* a truncated SCM_RIGHTS record re-reads the table */
	fake_set(7, "/more", 2007, false);
	ev = sys(PID, FILES, FDW_SYS_RECVMSG, 10, 9, 0, 0);
	ev.flags = FDW_F_TRUNCATED;
	apply(&m, ev);
	CHECK(slot(&m, PID, 7) != NULL);
	fdw_model_free(&m);
}

/* A close the model never saw, found when the number comes back. */
static void test_anomaly_repair(void)
{
	struct fdw_model m;

	model_new(&m);
	start_proc(&m);
	/* dup of an fd the model does not know: resolved from /proc */
	fake_set(8, "/surprise", 42, false);
	apply(&m, sys(PID, FILES, FDW_SYS_DUP, 8, 30, 0, 0));
	CHECK(slot(&m, PID, 8) != NULL);
	CHECK_STR(fdw_slot_ofd(slot(&m, PID, 8))->target, "/surprise");
	CHECK(m.stats.anomalies >= 1);
	/* an unknown thread's event creates its process from /proc */
	fake_set(9, "/other", 43, true);
	{
		struct fdw_event ev = sys(555, FILES + 0x9000, FDW_SYS_CLOSE, 0, 9, 0, 0);

		ev.pid = 555;
		apply(&m, ev);
	}
	CHECK(fdw_model_proc(&m, 555) != NULL);
	CHECK_EQ(m.stats.unknown_task, 1);
	fdw_model_free(&m);
}

/* No per-process cap: one table with a million fds, exact. */
static void test_million_fds(void)
{
	const int N = 1000000;
	struct fdw_model m;
	struct fdw_table *t;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	for (int fd = 3; fd < N + 3; fd++) {
		ev = sys(PID, FILES, FDW_SYS_DUP, fd, 0, 0, 0);
		fdw_model_apply(&m, &ev);
	}
	t = table_of(&m, PID);
	CHECK_EQ(t->nopen, N + 3);
	CHECK_EQ(m.stats.fds, N + 3);
	CHECK(slot(&m, PID, N + 2) && fdw_slot_ofd(slot(&m, PID, N + 2)) == fdw_slot_ofd(slot(&m, PID, 0)));
	CHECK_EQ(fdw_slot_ofd(slot(&m, PID, 0))->refs, N + 3); /* 0-2 are one OFD: the scan grouped them */
	/* fork copies all of them */
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = 201;
	ev.child_tid = 201;
	ev.child_files = FILES + 0x5000;
	apply(&m, ev);
	CHECK_EQ(table_of(&m, 201)->nopen, N + 3);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE_RANGE, 0, 3, ~0u, 0));
	CHECK_EQ(t->nopen, 3);
	CHECK_EQ(table_of(&m, 201)->nopen, N + 3);
	fdw_model_free(&m);
}

/* Bounds: processes and fds past the limits are refused and counted. */
static void test_bounds(void)
{
	struct fdw_model m;
	struct fdw_event ev;

	model_new(&m);
	m.max_procs = 1;
	m.max_fds = 5;
	start_proc(&m);
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = 202;
	ev.child_tid = 202;
	ev.child_files = FILES + 0x7000;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, 202) == NULL);
	CHECK_EQ(m.stats.dropped_procs, 1);
	for (int fd = 3; fd < 8; fd++)
		apply(&m, sys(PID, FILES, FDW_SYS_DUP, fd, 0, 0, 0));
	CHECK_EQ(m.stats.fds, 5);
	CHECK_EQ(m.stats.dropped_fds, 3);
	CHECK(table_of(&m, PID)->stale); /* never served as if exact */
	fdw_model_free(&m);
}

/* fds that were dups before the daemon started share one OFD after the scan */
static void test_scan_groups_ofds(void)
{
	struct fdw_model m;
	uint32_t tids[] = { PID };

	model_new(&m);
	fake_set(0, "/dev/pts/0", 5, false);
	fake_set(1, "/dev/pts/0", 5, false);
	fake_set(2, "/dev/pts/0", 5, false);
	fake_set(3, "/x", 99, false); /* same inode, separate opens */
	fake_set(4, "/x", 99, false);
	fdw_model_scan_begin(&m);
	CHECK_EQ(fdw_model_add_scanned(&m, PID, 1, "t", tids, 1, 1), 0);
	fdw_model_scan_end(&m);
	CHECK(fdw_slot_ofd(slot(&m, PID, 0)) == fdw_slot_ofd(slot(&m, PID, 1)));
	CHECK(fdw_slot_ofd(slot(&m, PID, 0)) == fdw_slot_ofd(slot(&m, PID, 2)));
	CHECK(fdw_slot_ofd(slot(&m, PID, 3)) != fdw_slot_ofd(slot(&m, PID, 4)));
	CHECK_EQ(fdw_slot_ofd(slot(&m, PID, 0))->refs, 3);
	CHECK_EQ(m.stats.ofds, 3);
	fdw_model_free(&m);
}

/* ---- many fds on one inode: grouping by kcmp's order ------------------ */

/* Two processes: BIG_A holds big_n fds on one inode, fd i sharing its open
 * file description with fd i - i % 3 (dups); BIG_B inherited A's first 10
 * and opened one more. The kernel's struct file "address" of a description
 * is a hash, so fds come in no particular order of it. */
#define BIG_A 200
#define BIG_B 300
static int big_n;
static unsigned long big_calls;

static uint64_t big_kfile(uint32_t tid, int fd)
{
	uint64_t g = tid == BIG_B && fd == 10 ? 1ull << 40 : (uint64_t)(fd / 3);

	return fdw_fnv(FDW_FNV_OFFSET, &g, sizeof(g));
}

static int big_read_table(void *u, uint32_t tid,
			  void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi = { .ino = 5, .dev = 1, .mode = S_IFREG };
	int n = tid == BIG_A ? big_n : 11;

	snprintf(fi.target, sizeof(fi.target), "/var/log/big");
	for (int fd = 0; fd < n; fd++) {
		fi.fd = fd;
		cb(cbdata, &fi);
	}
	return 0;
}

static int big_cmp_file(void *u, uint32_t t1, int fd1, uint32_t t2, int fd2)
{
	uint64_t a = big_kfile(t1, fd1), b = big_kfile(t2, fd2);

	big_calls++;
	return a == b ? 0 : a < b ? 1 : 2;
}

static int big_same_file(void *u, uint32_t t1, int fd1, uint32_t t2, int fd2)
{
	big_calls++;
	return big_kfile(t1, fd1) == big_kfile(t2, fd2);
}

static void big_scan(int n, bool ordered)
{
	struct fdw_model_ops ops = {
		.read_table = big_read_table,
		.cmp_file = ordered ? big_cmp_file : NULL,
		.same_file = ordered ? NULL : big_same_file,
	};
	uint32_t a[] = { BIG_A }, b[] = { BIG_B };
	struct fdw_table *ta, *tb;
	struct fdw_model m;
	bool grouped = true;

	big_n = n;
	big_calls = 0;
	fdw_model_init(&m, &ops);
	m.max_fds = 2 * (uint64_t)n;
	fdw_model_scan_begin(&m);
	CHECK_EQ(fdw_model_add_scanned(&m, BIG_A, 1, "a", a, 1, 1), 0);
	CHECK_EQ(fdw_model_add_scanned(&m, BIG_B, 1, "b", b, 1, 1), 0);
	fdw_model_scan_end(&m);
	ta = table_of(&m, BIG_A);
	tb = table_of(&m, BIG_B);
	CHECK(ta && tb && ta != tb);
	CHECK_EQ(ta ? (int)ta->nopen : 0, n);
	for (int fd = 1; ta && fd < n; fd++) {
		struct fdw_ofd *o = fdw_slot_ofd(fdw_table_slot(ta, (int)fd));
		struct fdw_ofd *prev = fdw_slot_ofd(fdw_table_slot(ta, (int)(fd - 1)));

		if (fd % 3 ? o != prev : o == prev)
			grouped = false;
	}
	CHECK(grouped);
	for (int fd = 0; ta && tb && fd < 10; fd++)
		CHECK(fdw_slot_ofd(fdw_table_slot(tb, (int)fd)) == fdw_slot_ofd(fdw_table_slot(ta, (int)fd)));
	CHECK(tb && fdw_slot_ofd(fdw_table_slot(tb, 10)) != fdw_slot_ofd(fdw_table_slot(ta, 9)) &&
	      fdw_slot_ofd(fdw_table_slot(tb, 10))->refs == 1);
	CHECK_EQ(m.stats.ofds, (n + 2) / 3 + 1);
	if (ta) {
		CHECK_EQ(fdw_slot_ofd(fdw_table_slot(ta, 0))->refs, 6); /* 3 in A, 3 in B */
		CHECK_EQ(fdw_slot_ofd(fdw_table_slot(ta, 9))->refs, 4);
		CHECK_EQ(fdw_slot_ofd(fdw_table_slot(ta, 12))->refs, 3);
		CHECK_EQ(fdw_slot_ofd(fdw_table_slot(ta, (int)(n - 1)))->refs, n - (n - 1) / 3 * 3);
	}
	if (ordered) /* O(N log N): about 2 log2(N / 3) per fd, not N / 3 */
		CHECK(big_calls < 40ul * (unsigned long)n);
	printf("scan of %d fds on one inode (%s): %lu comparisons\n", n,
	       ordered ? "kcmp order" : "same_file only", big_calls);
	fdw_model_free(&m);
}

/* Grouping the start-up scan's fds by OFD: the same answer with the order
 * as without, in O(N log N) comparisons for 20,000 fds. */
static void test_scan_groups_many(void)
{
	big_scan(20000, true);
	big_scan(302, false);
	big_scan(302, true);
}

/* close(fd) in the fake kernel and the model */
static void do_close(struct fdw_model *m, int fd)
{
	fake[fd].open = false;
	apply(m, sys(PID, FILES, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0, 0));
}

/*
 * No /proc read per new fd: targets wait for the end of the batch
 * (fdw_model_flush_pending). An fd opened and closed within it costs no
 * read; one that survives costs exactly one, and then shows the kernel's
 * target, not the path argument.
 */
/* read_targets: the whole table's names in one call (the BPF iterator) */
static unsigned int read_targets_calls;
static bool read_targets_fail;

static int fake_read_targets(void *u, uint32_t tid,
			     void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi;

	read_targets_calls++;
	if (read_targets_fail)
		return -ENOTSUP;
	for (int fd = 0; fd < FAKE_MAX; fd++) {
		if (fake[fd].open && fake_read_fd(u, tid, fd, &fi) == 0) {
			read_fd_calls--;
			cb(cbdata, &fi);
		}
	}
	return 0;
}

/* A model on the fake kernel: PID holding fds 3 and 4 on t3 and t4, its
 * records applied. */
static struct fdw_proc *two_files(struct fdw_model *m, const struct fdw_model_ops *ops,
				  const char *t3, const char *t4)
{
	memset(fake, 0, sizeof(fake));
	fdw_model_init(m, ops);
	start_proc(m);
	do_open(m, PID, FILES, 3, t3, 0);
	do_open(m, PID, FILES, 4, t4, 0);
	fdw_model_flush_pending(m);
	return fdw_model_proc(m, PID);
}

/* The kernel now, the model not told: fd 3's file renamed t3, fd 4 another
 * file, t4 (closed and its number reused). */
static void kernel_moved_on(const char *t3, const char *t4)
{
	snprintf(fake[3].target, sizeof(fake[3].target), "%s", t3);
	snprintf(fake[4].target, sizeof(fake[4].target), "%s", t4);
	fake[4].ino = 4444;
}

/* The name the model holds for PID's fd `fd`; NULL when none. */
static const char *slot_target(struct fdw_model *m, int fd)
{
	const struct fdw_slot *s = slot(m, PID, fd);

	return s ? fdw_slot_ofd(s)->target : NULL;
}

static void test_refresh_targets(void)
{
	struct fdw_model_ops ops = {
		.read_fd = fake_read_fd,
		.read_target = fake_read_target,
		.read_table = fake_read_table,
		.read_targets = fake_read_targets,
		.cmp_file = fake_cmp_file,
	};
	struct fdw_model m;
	struct fdw_proc *p;

	p = two_files(&m, &ops, "/tmp/x", "/tmp/z");
	/* fd 4's name must not be taken */
	kernel_moved_on("/tmp/y", "/tmp/other");
	read_targets_calls = read_fd_calls = 0;
	fdw_model_refresh_targets(&m, p);
	CHECK_EQ(read_targets_calls, 1);
	CHECK_EQ(read_fd_calls, 0); /* one call for the table, none per fd */
	CHECK_STR(slot_target(&m, 3), "/tmp/y");
	CHECK_STR(slot_target(&m, 4), "/tmp/z");
	/* the iterator unavailable: fd by fd, same answer */
	read_targets_fail = true;
	snprintf(fake[3].target, sizeof(fake[3].target), "/tmp/w");
	read_targets_calls = read_fd_calls = 0;
	fdw_model_refresh_targets(&m, p);
	CHECK_EQ(read_targets_calls, 1);
	CHECK(read_fd_calls >= 1);
	CHECK_STR(slot_target(&m, 3), "/tmp/w");
	read_targets_fail = false;
	fdw_model_free(&m);
}

/*
 * The names read in one go (off the loop, into struct fdw_targets) and
 * applied later: only an fd that
 * still has the inode it had when read takes the name read. Bounds: past
 * max_fds or max_bytes nothing more is taken and `over` says so.
 */
static void test_targets_read_then_apply(void)
{
	struct fdw_model_ops ops = {
		.read_fd = fake_read_fd,
		.read_target = fake_read_target,
		.read_table = fake_read_table,
		.cmp_file = fake_cmp_file,
	};
	struct fdw_targets tg = { 0 }, small = { .max_fds = 1 }, tiny = { .max_bytes = 4 };
	struct fdw_model m;
	struct fdw_proc *p;

	p = two_files(&m, &ops, "/tmp/a", "/tmp/b");
	kernel_moved_on("/tmp/a2", "/tmp/b2"); /* by the time of the read */
	/* the read (as the thread pool does it) */
	CHECK_EQ(fake_read_table(NULL, PID, fdw_targets_add, &tg), 0);
	CHECK(!tg.over && tg.n >= 2);
	fdw_model_apply_targets(&m, p, &tg);
	CHECK_STR(slot_target(&m, 3), "/tmp/a2");
	/* not the old file's name */
	CHECK(slot_target(&m, 4) && strcmp(slot_target(&m, 4), "/tmp/b2") != 0);
	/* bounds */
	CHECK_EQ(fake_read_table(NULL, PID, fdw_targets_add, &small), 0);
	CHECK(small.over && small.n == 1);
	CHECK_EQ(fake_read_table(NULL, PID, fdw_targets_add, &tiny), 0);
	CHECK(tiny.over && tiny.n == 0);
	fdw_targets_free(&tg);
	fdw_targets_free(&small);
	fdw_targets_free(&tiny);
	fdw_targets_free(NULL);
	/* one fd alone: one read of that fd */
	snprintf(fake[3].target, sizeof(fake[3].target), "/tmp/a3");
	fdw_model_refresh_target(&m, p, 3);
	CHECK_STR(slot_target(&m, 3), "/tmp/a3");
	fdw_model_refresh_target(&m, p, 999); /* not open: nothing */
	fdw_model_free(&m);
}

/*
 * Moved fds (dup2 to another number, then close) are looked for in their
 * table, then in every task, within a budget per flush: past it they keep
 * the record's name, counted, and the flush costs no more.
 */
static void test_pending_search_budget(void)
{
	struct fdw_model m;

	model_new(&m);
	start_proc(&m);
	read_target_calls = read_fd_calls = 0;
	/* 6 relative opens, each moved up by 1000 and closed */
	for (int i = 0; i < 6; i++) {
		do_open(&m, PID, FILES, 3 + i, "rel", 0);
		snprintf(fake[3 + i].target, sizeof(fake[3 + i].target), "/abs/%d", i);
		fake[1003 + i] = fake[3 + i];
		apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 1003 + i, 3 + i, 1003 + i, 0));
		do_close(&m, 3 + i);
	}
	/* room for two searches of this table and its tasks */
	m.pending_search_budget = 2 * (table_of(&m, PID)->nslots + fdw_hashmap_size(&m.tasks));
	fdw_model_flush_pending(&m);
	CHECK_EQ(read_target_calls + read_fd_calls, 2);
	CHECK_EQ(m.stats.targets_unsearched, 4);
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 1003))), "/abs/0");
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 1004))), "/abs/1");
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 1005))), "rel"); /* the record's */
	/* the next flush has its budget again */
	do_open(&m, PID, FILES, 3, "rel", 0);
	snprintf(fake[3].target, sizeof(fake[3].target), "/abs/again");
	fake[1010] = fake[3];
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 1010, 3, 1010, 0));
	do_close(&m, 3);
	fdw_model_flush_pending(&m);
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 1010))), "/abs/again");
	for (int fd = 3; fd < 1011; fd++)
		fake[fd].open = false;
	fdw_model_free(&m);
}

static void test_deferred_targets(void)
{
	struct fdw_model m;
	struct fdw_event ev;
	const struct fdw_slot *s;

	model_new(&m);
	start_proc(&m);
	read_target_calls = read_fd_calls = 0;

	/* a batch: open+close churn, a relative open that stays, a re-used
	 * number, dup2 then close of the original, a pipe */
	for (int i = 0; i < 100; i++) {
		do_open(&m, PID, FILES, 3, "/etc/hostname", 0);
		do_close(&m, 3);
	}
	do_open(&m, PID, FILES, 4, "hostname", 0); /* cwd /etc: kernel says /etc/hostname */
	snprintf(fake[4].target, sizeof(fake[4].target), "/etc/hostname");
	do_open(&m, PID, FILES, 5, "/a", 0);
	do_close(&m, 5);
	do_open(&m, PID, FILES, 5, "/b", 0); /* same number, another file */
	do_open(&m, PID, FILES, 6, "../c", 0);
	snprintf(fake[6].target, sizeof(fake[6].target), "/c");
	fake[7] = fake[6];
	apply(&m, sys(PID, FILES, FDW_SYS_DUP2, 7, 6, 7, 0));
	do_close(&m, 6);
	fake_set(8, "pipe:[77]", 77, false);
	fake_set(9, "pipe:[77]", 77, false);
	ev = sys(PID, FILES, FDW_SYS_PIPE2, 0, 0, 0, 0);
	ev.nfds = 2;
	ev.fds[0] = 8;
	ev.fds[1] = 9;
	ev.ino = 77;
	ev.dev = 1;
	ev.mode = S_IFIFO;
	apply(&m, ev);

	CHECK_EQ(read_target_calls + read_fd_calls, 0); /* nothing read mid-batch */
	CHECK(m.npending <= 3);			       /* closed ones left the list */
	s = slot(&m, PID, 4);
	CHECK(s && !fdw_slot_ofd(s)->target_exact);
	CHECK(slot(&m, PID, 8) && fdw_slot_ofd(slot(&m, PID, 8))->target_exact); /* from the record */
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 9))), "pipe:[77]");

	fdw_model_flush_pending(&m);
	CHECK_EQ(read_target_calls, 3); /* fds 4, 5 and 7: one read each */
	CHECK_EQ(read_fd_calls, 0);
	CHECK_EQ(m.npending, 0);
	s = slot(&m, PID, 4);
	CHECK(s && fdw_slot_ofd(s)->target_exact);
	CHECK_STR(s ? fdw_slot_ofd(s)->target : NULL, "/etc/hostname");
	s = slot(&m, PID, 5);
	CHECK(s && fdw_slot_ofd(s)->target_exact);
	CHECK_STR(s ? fdw_slot_ofd(s)->target : NULL, "/b");
	s = slot(&m, PID, 7);
	CHECK(s && fdw_slot_ofd(s)->target_exact);
	CHECK_STR(s ? fdw_slot_ofd(s)->target : NULL, "/c");
	CHECK_EQ(m.stats.targets_deferred, 100 + 4);
	CHECK_EQ(m.stats.targets_read, 3);
	CHECK_EQ(m.stats.targets_skipped, 101);
	/* a closed fd's history keeps what was known: the path argument */
	CHECK_STR(fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 3), 0)->target,
		  "/etc/hostname");

	/* nothing left: a second flush reads nothing */
	fdw_model_flush_pending(&m);
	CHECK_EQ(read_target_calls, 3);
	fdw_model_free(&m);
}

static uint64_t ring_now; /* the fake kernel ring's position */

static uint64_t fake_ring_position(void *u)
{
	return ring_now;
}

/* A record at ring position pos. */
static struct fdw_event at(struct fdw_event ev, uint64_t pos)
{
	ev.ring_pos = pos;
	return ev;
}

/*
 * FDW_FDEV_DOUBLE_CLOSE: close() that the kernel answered EBADF, i.e. of an
 * fd that was not open, and only that; also for records a /proc read has
 * already reflected (the table is not changed, the program's error stands).
 */
static void test_double_close(void)
{
	struct fdw_model m;
	struct fdw_event ev;
	const struct fdw_slot *s3;

	model_new(&m);
	m.ops.ring_position = fake_ring_position;
	ring_now = 0;
	double_closes = fails = 0;
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/a", 0);
	s3 = fdw_table_slot(table_of(&m, PID), 3);

	/* a close that closes is no double close */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
	CHECK_EQ(double_closes, 0);
	/* again: the model knows 3 is not open, the kernel says EBADF */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EBADF, 3, 0, 0));
	CHECK_EQ(double_closes, 1);
	CHECK_EQ(last_kind, FDW_FDEV_DOUBLE_CLOSE);
	CHECK_EQ(last_fd, 3);
	CHECK(last_slot == s3 && !fdw_slot_open(last_slot)); /* what was closed before */
	CHECK_EQ(fails, 0); /* a double close is not also a failure */

	/* a number never used in this table */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EBADF, 50, 0, 0));
	CHECK_EQ(double_closes, 2);
	CHECK_EQ(last_fd, 50);
	CHECK(last_slot == NULL);

	/* close() succeeding on an fd the model had closed: the model was
	 * wrong (an anomaly), the program was not */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
	CHECK_EQ(double_closes, 2);
	/* EINTR: the fd is gone on Linux, no double close either */
	do_open(&m, PID, FILES, 3, "/b", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EINTR, 3, 0, 0));
	CHECK_EQ(double_closes, 2);

	/* EBADF for an fd the model still had open: the kernel is right */
	do_open(&m, PID, FILES, 4, "/c", 0);
	fake[4].open = false;
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, -EBADF, 4, 0, 0));
	CHECK_EQ(double_closes, 3);
	CHECK(slot(&m, PID, 4) == NULL);

	/* records older than the table's last /proc read are not replayed,
	 * but a double close or a failure among them is still reported */
	ring_now = 100;
	CHECK_EQ(fdw_model_resync(&m, table_of(&m, PID), PID), 0);
	CHECK_EQ(table_of(&m, PID)->read_pos, 100);
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, -EBADF, 7, 0, 0), 90));
	CHECK_EQ(double_closes, 4);
	CHECK_EQ(last_fd, 7);
	CHECK(last_slot == NULL);
	apply(&m, at(sys(PID, FILES, FDW_SYS_OPENAT, -EMFILE, (uint64_t)AT_FDCWD, 0, 0), 91));
	CHECK_EQ(fails, 1);
	CHECK_EQ(last_kind, FDW_FDEV_FAIL);
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0), 92));
	CHECK_EQ(double_closes, 4);
	CHECK_EQ(fails, 1);

	/* the first record of a task the model did not know: its table is
	 * read from /proc at once, the EBADF still counts */
	ring_now = 200;
	ev = at(sys(777, FILES + 0x8000, FDW_SYS_CLOSE, -EBADF, 9, 0, 0), 150);
	ev.pid = 777;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, 777) != NULL);
	CHECK_EQ(double_closes, 5);
	fdw_model_free(&m);
}

/* A snapshot that knows when it read each table: from tp_pos to tp_end. */
static uint64_t tp_pos, tp_end;

static uint64_t fake_table_position(void *u, uint32_t tid, uint64_t *end)
{
	*end = tp_end;
	return tp_pos;
}

/* A live read during which the ring moves on by 50. */
static int slow_read_table(void *u, uint32_t tid,
			   void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	int r = fake_read_table(u, tid, cb, cbdata);

	ring_now += 50;
	return r;
}

/*
 * A fork while the parent's table was being read (the start-up snapshot
 * walks it fd by fd): the read may show fds the parent opened after the
 * fork, above the walk's cursor, so a copy of the model's table is not the
 * child's; the child's own is read. A fork after the read's end is copied.
 */
static void test_fork_during_read(void)
{
	const uint64_t C1 = FILES + 0x1000, C2 = FILES + 0x2000;
	struct fdw_model m;
	struct fdw_event ev;
	unsigned int reads;

	model_new(&m);
	m.ops.ring_position = fake_ring_position;
	m.ops.table_position = fake_table_position;
	ring_now = 1000; /* the scan comes after the snapshot */
	tp_pos = 100;
	tp_end = 200;
	/* what the walk saw: fd 9 is the parent's open of after the fork */
	fake_set(3, "/held", 3, false);
	fake_set(9, "/after-fork", 9, false);
	start_proc(&m);
	CHECK_EQ(table_of(&m, PID)->read_pos, 100);
	CHECK_EQ(table_of(&m, PID)->read_end, 200);
	m.ops.table_position = NULL; /* the scan is over */

	/* the fork at 150, while the walk was at fd 3: the child has no fd 9 */
	fake[9].open = false;
	reads = read_table_calls;
	ev = at(task_ev(FDW_REC_FORK, PID, PID, FILES), 150);
	ev.child_pid = ev.child_tid = 300;
	ev.child_files = C1;
	apply(&m, ev);
	CHECK_EQ(read_table_calls, reads + 1);
	CHECK(slot(&m, 300, 3) != NULL);
	CHECK(slot(&m, 300, 9) == NULL);
	/* the parent's open of fd 9, at 160, is the parent's alone */
	fake[9].open = true;
	apply(&m, one_fd(at(sys(PID, FILES, FDW_SYS_OPENAT, 9, (uint64_t)AT_FDCWD, 0, 0), 160),
			 9, 9, 1, S_IFREG));
	CHECK(slot(&m, PID, 9) != NULL);
	CHECK(slot(&m, 300, 9) == NULL);

	/* a fork after the read's end: the model's table is the child's */
	reads = read_table_calls;
	ev = at(task_ev(FDW_REC_FORK, PID, PID, FILES), 250);
	ev.child_pid = ev.child_tid = 301;
	ev.child_files = C2;
	apply(&m, ev);
	CHECK_EQ(read_table_calls, reads);
	CHECK(slot(&m, 301, 9) != NULL);

	/* a live read ends where the ring was once it returned */
	m.ops.read_table = slow_read_table;
	ring_now = 2000;
	CHECK_EQ(fdw_model_resync(&m, table_of(&m, PID), PID), 0);
	CHECK_EQ(table_of(&m, PID)->read_pos, 2000);
	CHECK_EQ(table_of(&m, PID)->read_end, 2050);
	fdw_model_free(&m);
}

/*
 * Records inside a /proc read's window (between the ring's position when
 * the read began and when it ended) may disagree with what the read showed
 * without the model having missed anything: the read took the table fd by
 * fd while the process went on. The child of a fork from a threaded parent
 * is read so, and its first records (close the pipe ends, dup2 them onto
 * 1 and 2, exec, open and close the loader's files) fell inside: each
 * counted an anomaly on an idle host. So did the first record after the
 * read, whose syscall changed the table before the read looked and made
 * its record after. Past that they count.
 */
static void test_read_window_anomalies(void)
{
	struct fdw_model m;

	model_new(&m);
	m.ops.ring_position = fake_ring_position;
	ring_now = 1000;
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/closed-during-read", 0);
	do_open(&m, PID, FILES, 7, "/dup-source", 0);
	/* the read, from 2000 to 2050: the process closed 3 and 7, and
	 * opened 5, before the read's cursor got there */
	fake[3].open = false;
	fake[7].open = false;
	fake_set(5, "/opened-during-read", 5, false);
	m.ops.read_table = slow_read_table;
	ring_now = 2000;
	CHECK_EQ(fdw_model_resync(&m, table_of(&m, PID), PID), 0);
	CHECK_EQ(table_of(&m, PID)->read_end, 2050);
	CHECK(slot(&m, PID, 3) == NULL);
	CHECK(slot(&m, PID, 5) != NULL);

	/* their records, inside the window */
	apply(&m, at(one_fd(sys(PID, FILES, FDW_SYS_OPENAT, 5, (uint64_t)AT_FDCWD, 0, 0), 5, 5, 1,
			    S_IFREG), 2005));
	apply(&m, at(sys(PID, FILES, FDW_SYS_DUP2, 8, 7, 8, 0), 2010));
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, 0, 7, 0, 0), 2015));
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0), 2020));
	apply(&m, at(sys(PID, FILES, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC), 2025));
	CHECK_EQ(m.stats.anomalies, 0);
	CHECK(slot(&m, PID, 5) != NULL);
	CHECK(slot(&m, PID, 3) == NULL);

	/* the first record after the read's end: its syscall may have
	 * closed 3 before the read looked, and made its record after */
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0), 2055));
	CHECK_EQ(m.stats.anomalies, 0);
	CHECK_EQ(table_of(&m, PID)->edge_pos, 2055);
	/* past it, the same records are the model's misses */
	apply(&m, at(sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0), 2060));
	CHECK_EQ(m.stats.anomalies, 1);
	apply(&m, at(one_fd(sys(PID, FILES, FDW_SYS_OPENAT, 5, (uint64_t)AT_FDCWD, 0, 0), 5, 5, 1,
			    S_IFREG), 2070));
	CHECK_EQ(m.stats.anomalies, 2);
	apply(&m, at(sys(PID, FILES, FDW_SYS_DUP2, 9, 7, 9, 0), 2080));
	CHECK_EQ(m.stats.anomalies, 3);
	apply(&m, at(sys(PID, FILES, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC), 2090));
	CHECK_EQ(m.stats.anomalies, 4);
	fdw_model_free(&m);
}

/* ---- observers -------------------------------------------------------- */

#define OBS_LOG 64

/* What the observers saw, in the order the model called them. */
static struct obs_call {
	int obs; /* the observer's index */
	enum fdw_fd_event_kind kind;
	int fd;
} obs_log[OBS_LOG];
static unsigned int obs_nlog, obs_exits[FDW_MODEL_MAX_OBSERVERS];

/* Per-process state of one observer: its index and how many fds it saw open. */
struct obs_state {
	int obs;
	unsigned int opens;
};

static void obs_fd_event(void *u, struct fdw_proc *p, const struct fdw_event *ev,
			 enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	int idx = (int)(intptr_t)u;
	struct obs_state *st = fdw_proc_state(p, idx);

	if (obs_nlog < OBS_LOG)
		obs_log[obs_nlog++] = (struct obs_call){ .obs = idx, .kind = kind, .fd = fd };
	if (kind != FDW_FDEV_OPEN)
		return;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return;
		st->obs = idx;
		fdw_proc_set_state(p, idx, st);
	}
	st->opens++;
}

static void obs_proc_exit(void *u, struct fdw_proc *p)
{
	int idx = (int)(intptr_t)u;

	obs_exits[idx]++;
	free(fdw_proc_state(p, idx));
	fdw_proc_set_state(p, idx, NULL);
}

static struct fdw_model_observer obs_make(int idx)
{
	return (struct fdw_model_observer){
		.name = idx ? "second" : "first",
		.on_fd_event = obs_fd_event,
		.on_proc_exit = obs_proc_exit,
		.userdata = (void *)(intptr_t)idx,
	};
}

/* The table of tid as the model holds it, without making a fork child's
 * view (fdw_model_proc_table would). */
static struct fdw_table *raw_table(struct fdw_model *m, uint32_t tid)
{
	struct fdw_task *t = fdw_hashmap_get(&m->tasks, tid);

	return t ? t->table : NULL;
}

static void fork_ev(struct fdw_model *m, uint32_t parent, uint64_t files, uint32_t child,
		    uint64_t child_files, uint16_t flags)
{
	struct fdw_event ev = task_ev(FDW_REC_FORK, parent, parent, files);

	ev.child_pid = child;
	ev.child_tid = child;
	ev.child_files = child_files;
	ev.flags = flags;
	apply(m, ev);
}

static void close_ev(struct fdw_model *m, uint32_t pid, uint64_t files, int fd)
{
	struct fdw_event ev = sys(pid, files, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0, 0);

	ev.pid = pid;
	apply(m, ev);
}

/* The sum of the tables' open fds, each table once. */
static uint64_t fds_counted(struct fdw_model *m)
{
	struct fdw_table *seen[64];
	unsigned int n = 0;
	uint64_t sum = 0;
	size_t it = 0;
	void *v;

	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v)) {
		struct fdw_table *t = ((struct fdw_task *)v)->table;
		unsigned int i, open = 0;

		for (i = 0; i < n && seen[i] != t; i++)
			;
		if (!t || i < n || n == 64)
			continue;
		seen[n++] = t;
		for (uint32_t fd = 0; fd < t->nslots; fd++)
			open += fdw_slot_open(fdw_table_slot(t, (int)fd));
		CHECK_EQ(open, t->nopen);
		sum += open;
	}
	return sum;
}

/*
 * Fork shares the parent's slots (O(1)) until either table changes: a
 * child's change does not reach the parent, a parent's change does not
 * reach the child, a child that exits unchanged copied nothing; the
 * child's fds are inherited ones without the parent's slot history;
 * CLONE_FILES still shares one table.
 */
static void test_fork_cow(void)
{
	const uint64_t C1 = FILES + 0x1000, C2 = FILES + 0x2000, C3 = FILES + 0x3000,
		       G = FILES + 0x4000;
	struct fdw_model m;
	struct fdw_table *pt, *ct;
	const struct fdw_slot *s;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/three", 0);
	do_open(&m, PID, FILES, 4, "/four", 0);
	close_ev(&m, PID, FILES, 4); /* fd 4 of the parent has a history */
	do_open(&m, PID, FILES, 4, "/four-again", 0);
	CHECK_EQ(fds_counted(&m), m.stats.fds);

	/* a child that exits at once copies nothing */
	fork_ev(&m, PID, FILES, 200, C1, 0);
	pt = raw_table(&m, PID);
	ct = raw_table(&m, 200);
	CHECK(ct && ct != pt && ct->borrowed);
	CHECK(ct && ct->blocks == pt->blocks); /* shared, not copied */
	CHECK_EQ(ct ? ct->nopen : 0, 5);
	CHECK_EQ(m.stats.forks_shared, 1);
	CHECK_EQ(m.stats.fds, 10);
	CHECK_EQ(fds_counted(&m), m.stats.fds);
	apply(&m, task_ev(FDW_REC_EXIT, 200, 200, C1));
	CHECK(fdw_model_proc(&m, 200) == NULL);
	CHECK_EQ(m.stats.table_copies, 0);
	CHECK_EQ(m.stats.fds, 5);
	CHECK(!raw_table(&m, PID)->borrowed);
	CHECK_EQ(fdw_slot_nhist(&m, slot(&m, PID, 4)), 1); /* the parent kept its history */
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 3))->source, FDW_SRC_EVENT);

	/* a child's change: the child copies, the parent is untouched */
	fork_ev(&m, PID, FILES, 201, C2, 0);
	close_ev(&m, 201, C2, 3);
	do_open(&m, PID, FILES, 9, "/parent-only", 0); /* the parent alone now */
	CHECK_EQ(m.stats.table_copies, 1);
	CHECK(slot(&m, 201, 3) == NULL);
	CHECK(slot(&m, PID, 3) != NULL);
	CHECK(slot(&m, 201, 9) == NULL);
	s = slot(&m, 201, 4);
	CHECK(s && fdw_slot_ofd(s) == fdw_slot_ofd(slot(&m, PID, 4)));
	CHECK_EQ(s ? fdw_origin_at(s->origin)->source : 0, FDW_SRC_INHERIT);
	CHECK_EQ(s ? fdw_slot_nhist(&m, s) : 9, 0); /* the parent's history is not the child's */
	CHECK_EQ(fdw_slot_nhist(&m, slot(&m, PID, 4)), 1);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 4))->source, FDW_SRC_EVENT);
	CHECK_EQ(fds_counted(&m), m.stats.fds);
	close_ev(&m, PID, FILES, 9);
	fake[9].open = false;

	/* a parent's change while a child and a grandchild share its slots:
	 * the parent copies (keeping its history), they keep the old set */
	fork_ev(&m, PID, FILES, 202, C3, 0);
	fork_ev(&m, 202, C3, 203, G, 0);
	CHECK(raw_table(&m, 203)->blocks == raw_table(&m, PID)->blocks);
	close_ev(&m, PID, FILES, 3);
	CHECK(slot(&m, PID, 3) == NULL);
	CHECK_EQ(fdw_slot_nhist(&m, slot(&m, PID, 4)), 1);
	CHECK(raw_table(&m, 202)->blocks == raw_table(&m, 203)->blocks);
	CHECK(raw_table(&m, 202)->blocks != raw_table(&m, PID)->blocks);
	CHECK(slot(&m, 202, 3) != NULL); /* the parent's close did not reach them */
	CHECK(slot(&m, 203, 3) != NULL);
	CHECK_EQ(fdw_slot_origin(slot(&m, 203, 3))->source, FDW_SRC_INHERIT);
	CHECK_EQ(fdw_slot_nhist(&m, slot(&m, 203, 4)), 0);
	/* the parent's open does not reach them either */
	do_open(&m, PID, FILES, 7, "/after-fork", 0);
	CHECK(slot(&m, 202, 7) == NULL && slot(&m, 203, 7) == NULL);
	/* nor a child's close its own child, or the parent */
	close_ev(&m, 202, C3, 4);
	CHECK(slot(&m, 202, 4) == NULL);
	CHECK(slot(&m, 203, 4) != NULL);
	CHECK(slot(&m, PID, 4) != NULL);
	CHECK_EQ(fds_counted(&m), m.stats.fds);

	/* CLONE_FILES: one table, a change through either shows in both */
	fork_ev(&m, PID, FILES, 204, FILES, FDW_F_SHARED_FILES);
	CHECK(raw_table(&m, 204) == raw_table(&m, PID));
	close_ev(&m, 204, FILES, 7);
	CHECK(slot(&m, PID, 7) == NULL);
	do_open(&m, PID, FILES, 8, "/shared", 0);
	s = slot(&m, 204, 8);
	CHECK(s && fdw_slot_ofd(s) == fdw_slot_ofd(slot(&m, PID, 8)));

	/* exits free everything; the OFDs go with their last table */
	apply(&m, task_ev(FDW_REC_EXIT, 203, 203, G));
	apply(&m, task_ev(FDW_REC_EXIT, 202, 202, C3));
	apply(&m, task_ev(FDW_REC_EXIT, 201, 201, C2));
	apply(&m, task_ev(FDW_REC_EXIT, 204, 204, FILES));
	CHECK_EQ(fds_counted(&m), m.stats.fds);
	CHECK_EQ(m.stats.fds, raw_table(&m, PID)->nopen);
	CHECK_EQ(m.stats.tables, 1);
	fdw_model_free(&m);
}

/* Two observers see every change, in registration order, each with its own
 * per-process state, and each is told of the exit. */
static void test_observers(void)
{
	struct fdw_model_ops ops = { .read_fd = fake_read_fd, .read_table = fake_read_table };
	struct fdw_model_observer a = obs_make(0), b = obs_make(1);
	struct fdw_model m;
	struct fdw_event ev;
	struct obs_state *sa, *sb;
	struct fdw_proc *p;

	memset(fake, 0, sizeof(fake));
	memset(obs_exits, 0, sizeof(obs_exits));
	obs_nlog = 0;
	fdw_model_init(&m, &ops);
	CHECK_EQ(fdw_model_add_observer(&m, &a), 0);
	CHECK_EQ(fdw_model_add_observer(&m, &b), 1);
	start_proc(&m);
	CHECK_EQ(obs_nlog, 0); /* a scan is no event */

	do_open(&m, PID, FILES, 3, "/a", 0);
	do_open(&m, PID, FILES, 4, "/b", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
	CHECK_EQ(obs_nlog, 6);
	for (unsigned int i = 0; i < obs_nlog && i < 6; i++) {
		static const enum fdw_fd_event_kind kinds[] = { FDW_FDEV_OPEN, FDW_FDEV_OPEN,
								FDW_FDEV_CLOSE };
		static const int fds[] = { 3, 4, 3 };

		CHECK_EQ(obs_log[i].obs, (int)(i % 2)); /* first, then second */
		CHECK_EQ(obs_log[i].kind, kinds[i / 2]);
		CHECK_EQ(obs_log[i].fd, fds[i / 2]);
	}

	/* separate state per observer */
	p = fdw_model_proc(&m, PID);
	sa = fdw_proc_state(p, 0);
	sb = fdw_proc_state(p, 1);
	CHECK(sa && sb && sa != sb);
	if (sa && sb) {
		CHECK_EQ(sa->obs, 0);
		CHECK_EQ(sb->obs, 1);
		CHECK_EQ(sa->opens, 2);
		CHECK_EQ(sb->opens, 2);
	}
	CHECK(fdw_proc_state(p, 2) == NULL);
	CHECK(fdw_proc_state(p, FDW_MODEL_MAX_OBSERVERS) == NULL); /* out of range */
	CHECK(fdw_proc_state(p, -1) == NULL);

	/* the exit reaches both, before the process is freed */
	ev = task_ev(FDW_REC_EXIT, PID, PID, FILES);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, PID) == NULL);
	CHECK_EQ(obs_exits[0], 1);
	CHECK_EQ(obs_exits[1], 1);

	/* processes still known at fdw_model_free are exits too */
	start_proc(&m);
	fdw_model_free(&m);
	CHECK_EQ(obs_exits[0], 2);
	CHECK_EQ(obs_exits[1], 2);
}

/* A task record for pid 200 (its leader) with the start and stack start
 * the probes would read: start in clock ticks, converted to boot-time ns
 * with a remainder (the kernel's ticks are ns divided down). */
static struct fdw_event ident_ev(uint16_t type, uint64_t files, uint64_t ticks, uint64_t stack)
{
	uint64_t ns_per_tick = (uint64_t)(1e9 / fdw_clk_tck());
	struct fdw_event ev = task_ev(type, 200, 200, files);

	ev.start_boottime = ticks * ns_per_tick + ns_per_tick / 3;
	ev.start_stack = stack;
	return ev;
}

/*
 * The start a fork, exec or exit record carries is the process's identity
 * (its pid is not: a lost exit and a lost fork leave another process under
 * it). A record of another process than the model's under its pid
 * replaces that one, its observers told of its exit, counted in
 * pids_reused; a late exit record of one replaced already is not applied
 * to its successor; a record of the same process changes nothing of that.
 */
static void test_identity_records(void)
{
	const uint64_t CF = FILES + 0x10000, CF2 = FILES + 0x20000, CF3 = FILES + 0x30000;
	struct fdw_model_observer o = obs_make(1);
	struct fdw_model m;
	struct fdw_event ev;
	struct fdw_proc *p, *before;

	model_new(&m);
	memset(obs_exits, 0, sizeof(obs_exits));
	CHECK_EQ(fdw_model_add_observer(&m, &o), 1);
	start_proc(&m);
	CHECK_EQ(fdw_model_proc(&m, PID)->start_ticks, 0); /* a scan's: its caller's to set */

	/* a fork: the child's start and stack start, from its record */
	ev = ident_ev(FDW_REC_FORK, CF, 5000, 0x7ffc1000);
	ev.pid = ev.tid = PID;
	ev.files = FILES;
	ev.child_pid = ev.child_tid = 200;
	ev.child_files = CF;
	apply(&m, ev);
	p = fdw_model_proc(&m, 200);
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ(p->start_ticks, 5000);
	CHECK_EQ(p->start_stack, 0x7ffc1000);
	before = p;

	/* a leader's exit record of another start (a process the model already
	 * replaced, its exit late): not this one's */
	ev = ident_ev(FDW_REC_EXIT, CF, 4000, 0);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, 200) == before);
	CHECK_EQ(obs_exits[1], 0);
	CHECK_EQ(m.stats.pids_reused, 0);

	/* an exec record of another process under 200 (200's exit and the new
	 * one's fork lost): 200 exits, the new one is made, its table read */
	ev = ident_ev(FDW_REC_EXEC, CF2, 6000, 0x7ffd2000);
	ev.child_pid = 200;
	strcpy(ev.comm, "other");
	apply(&m, ev);
	CHECK_EQ(obs_exits[1], 1);
	CHECK_EQ(m.stats.pids_reused, 1);
	p = fdw_model_proc(&m, 200);
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_EQ(p->start_ticks, 6000);
	CHECK_EQ(p->start_stack, 0x7ffd2000);
	CHECK_EQ(p->exec_count, 1);
	CHECK_STR(p->comm, "other");

	/* its own exec: the same process, a new program */
	ev = ident_ev(FDW_REC_EXEC, CF2, 6000, 0x7ffd3000);
	ev.child_pid = 200;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, 200) == p);
	CHECK_EQ(p->exec_count, 2);
	CHECK_EQ(p->start_stack, 0x7ffd3000);
	CHECK_EQ(m.stats.pids_reused, 1);
	CHECK_EQ(obs_exits[1], 1);

	/* a fork record whose child is 200 again with another start: its exit
	 * was lost, its pid reused */
	ev = ident_ev(FDW_REC_FORK, CF3, 7000, 0x7ffc1000);
	ev.pid = ev.tid = PID;
	ev.files = FILES;
	ev.child_pid = ev.child_tid = 200;
	ev.child_files = CF3;
	apply(&m, ev);
	CHECK_EQ(m.stats.pids_reused, 2);
	CHECK_EQ(obs_exits[1], 2);
	p = fdw_model_proc(&m, 200);
	CHECK(p && p->start_ticks == 7000 && p->exec_count == 0);

	/* its exit, of the same start: applied */
	ev = ident_ev(FDW_REC_EXIT, CF3, 7000, 0);
	ev.flags = FDW_F_GROUP_DEAD;
	apply(&m, ev);
	CHECK(fdw_model_proc(&m, 200) == NULL);
	CHECK_EQ(obs_exits[1], 3);
	CHECK_EQ(m.stats.pids_reused, 2);
out:
	fdw_model_free(&m);
}

/*
 * What a /proc re-read's stat line says of a process
 * (fdw_model_proc_set_stat): a new command alone is a rename
 * (PR_SET_NAME), not a program; a new stack start is one (an exec whose
 * record was lost), counted once even when the exec record comes late; a
 * start that differs is another process, left to the caller.
 */
static void test_identity_stat(void)
{
	struct fdw_pid_stat st = { .comm = "test", .state = 'S', .ppid = 1, .starttime = 900,
				   .startstack = 0x7ffe1000 };
	struct fdw_model m;
	struct fdw_event ev;
	struct fdw_proc *p;

	model_new(&m);
	start_proc(&m);
	p = fdw_model_proc(&m, PID);
	CHECK(p != NULL);
	if (!p)
		goto out;
	/* not known yet: taken, no program inferred */
	CHECK(!fdw_model_proc_set_stat(&m, p, &st, 10));
	CHECK_EQ(p->start_ticks, 900);
	CHECK_EQ(p->start_stack, 0x7ffe1000);
	CHECK_EQ(p->exec_count, 0);

	/* a rename: the command changes, the program does not */
	strcpy(st.comm, "renamed");
	CHECK(!fdw_model_proc_set_stat(&m, p, &st, 20));
	CHECK_STR(p->comm, "renamed");
	CHECK_EQ(p->exec_count, 0);
	CHECK_EQ(m.stats.execs_found, 0);

	/* an exec of the same file (the same command): a new stack start */
	st.startstack = 0x7ffe2000;
	CHECK(fdw_model_proc_set_stat(&m, p, &st, 30));
	CHECK_EQ(p->exec_count, 1);
	CHECK_EQ(p->start_ts, 30);
	CHECK_EQ(m.stats.execs_found, 1);
	/* its exec record, only late: the same program, not a second one */
	ev = task_ev(FDW_REC_EXEC, PID, PID, FILES);
	ev.child_pid = PID;
	ev.start_stack = 0x7ffe2000;
	apply(&m, ev);
	CHECK_EQ(p->exec_count, 1);
	/* the next exec record is a new program */
	ev = task_ev(FDW_REC_EXEC, PID, PID, FILES);
	ev.child_pid = PID;
	ev.start_stack = 0x7ffe3000;
	apply(&m, ev);
	CHECK_EQ(p->exec_count, 2);
	/* the same stack start read again: nothing new */
	st.startstack = 0x7ffe3000;
	CHECK(!fdw_model_proc_set_stat(&m, p, &st, 40));
	CHECK_EQ(p->exec_count, 2);
	/* a stack start the kernel hid (0): nothing inferred, nothing lost */
	st.startstack = 0;
	CHECK(!fdw_model_proc_set_stat(&m, p, &st, 50));
	CHECK_EQ(p->start_stack, 0x7ffe3000);

	/* another start: another process, not this one's to take */
	st.starttime = 901;
	st.startstack = 0x7ffe4000;
	strcpy(st.comm, "intruder");
	CHECK(fdw_model_proc_other(p, &st));
	CHECK(!fdw_model_proc_set_stat(&m, p, &st, 60));
	CHECK_STR(p->comm, "renamed");
	CHECK_EQ(p->start_ticks, 900);
	CHECK_EQ(p->exec_count, 2);
	CHECK_EQ(m.stats.execs_found, 1);
out:
	fdw_model_free(&m);
}

/* At most FDW_MODEL_MAX_OBSERVERS; indexes follow registration. */
static void test_observer_limit(void)
{
	struct fdw_model m;
	struct fdw_model_observer o = obs_make(0);

	fdw_model_init(&m, NULL);
	for (int i = 0; i < FDW_MODEL_MAX_OBSERVERS; i++)
		CHECK_EQ(fdw_model_add_observer(&m, &o), i);
	CHECK_EQ(fdw_model_add_observer(&m, &o), -ENOSPC);
	CHECK_EQ(m.nobservers, FDW_MODEL_MAX_OBSERVERS);
	CHECK_EQ(fdw_model_add_observer(&m, NULL), -EINVAL);
	fdw_model_free(&m);
}

/* /proc knows 4242 (alive) but not 4343 (exited: its exit record came
 * first, or was lost). An event of an unknown task makes a process of the
 * first; the second is dropped, or it would stay a ghost until the audit. */
static int gone_read_proc(void *u, uint32_t pid, char comm[16], uint32_t *ppid)
{
	if (pid != 4242)
		return -ESRCH;
	strcpy(comm, "alive");
	*ppid = 1;
	return 0;
}

static void test_unknown_gone(void)
{
	struct fdw_model_ops ops = { .read_fd = fake_read_fd, .read_table = fake_read_table,
				     .read_proc = gone_read_proc };
	struct fdw_model m;
	struct fdw_event ev;

	memset(fake, 0, sizeof(fake));
	fdw_model_init(&m, &ops);
	ev = sys(4343, FILES, FDW_SYS_CLOSE, 0, 5, 0, 0);
	ev.pid = 4343;
	fdw_model_apply(&m, &ev);
	CHECK(fdw_model_proc(&m, 4343) == NULL);
	CHECK_EQ(m.stats.unknown_gone, 1);
	ev = sys(4242, FILES + 0x1000, FDW_SYS_CLOSE, 0, 5, 0, 0);
	ev.pid = 4242;
	fdw_model_apply(&m, &ev);
	CHECK(fdw_model_proc(&m, 4242) != NULL);
	CHECK_STR(fdw_model_proc(&m, 4242)->comm, "alive");
	CHECK_EQ(m.stats.unknown_gone, 1);
	fdw_model_free(&m);
}

/*
 * Slots and OFDs hold their origin by a 32-bit handle into blocks of
 * FDW_ORIGIN_BLOCK, and slots their OFD by one into blocks of
 * FDW_OFD_PER_BLOCK: every fd of about two blocks' worth reads back its own
 * origin and OFD (a wrong block or index decode reads another fd's seq or
 * inode, or one given back), before and after half of them were closed and
 * their handles given out again.
 */
static void test_origin_handles(void)
{
	static uint64_t want[FAKE_MAX];
	struct fdw_model m;
	uint32_t hmax = 0, ohmax = 0;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	for (int fd = 3; fd < FAKE_MAX; fd++) {
		do_open(&m, PID, FILES, fd, "/tmp/fdw-handles", 0);
		want[fd] = seq;
	}
	for (int round = 0; round < 2; round++) {
		for (int fd = 3; fd < FAKE_MAX; fd++) {
			const struct fdw_slot *s = slot(&m, PID, fd);

			CHECK(s && fdw_slot_ofd(s));
			if (!s || !fdw_slot_ofd(s))
				continue;
			CHECK(s->origin > FDW_ORIGIN_NONE);
			CHECK_EQ(fdw_slot_origin(s)->seq, want[fd]);
			CHECK_EQ(fdw_slot_origin(s)->nr, FDW_SYS_OPENAT);
			CHECK_EQ(fdw_slot_ofd(s)->origin, s->origin); /* the open made both */
			CHECK_EQ(fdw_ofd_origin(fdw_slot_ofd(s))->seq, want[fd]);
			CHECK_EQ(fdw_slot_ofd(s)->ino, 1000 + fd); /* its own OFD */
			if (s->origin > hmax)
				hmax = s->origin;
			if (s->ofd_h > ohmax)
				ohmax = s->ofd_h;
		}
		CHECK(hmax >= FDW_ORIGIN_BLOCK + FDW_ORIGIN_BLOCK / 2);
		CHECK(ohmax >= FDW_OFD_PER_BLOCK); /* OFDs in a second block too */
		if (round)
			break;
		/* every other fd closed and opened again: handles reused */
		for (int fd = 3; fd < FAKE_MAX; fd += 2) {
			ev = sys(PID, FILES, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0, 0);
			apply(&m, ev);
			fake[fd].open = false;
		}
		for (int fd = 3; fd < FAKE_MAX; fd += 2) {
			do_open(&m, PID, FILES, fd, "/tmp/fdw-handles", 0);
			want[fd] = seq;
		}
	}
	for (int fd = 3; fd < FAKE_MAX; fd++)
		fake[fd].open = false;
	fdw_model_free(&m);
}

/* The OFD's generation shares a word with its pending bit, name flags and
 * type: a generation past 24 bits is kept whole (an id past 48 bits), and
 * setting one field leaves the others. */
static void test_ofd_packed(void)
{
	struct fdw_model m;
	const struct fdw_slot *s;
	struct fdw_ofd *o;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 3, "/tmp/fdw-packed", 0);
	s = slot(&m, PID, 3);
	o = fdw_slot_ofd(s);
	CHECK(o);
	if (o) {
		uint64_t id = (uint64_t)((1u << 24) + 6) << 24 | s->ofd_h;
		bool pending = o->pending;

		o->gen = (1u << 24) + 6;
		CHECK(id > (1ull << 48));
		CHECK_EQ(fdw_ofd_id(o), id);
		CHECK_EQ(fdw_ofd_mode(o), S_IFREG);
		o->pending = !pending;
		CHECK_EQ(fdw_ofd_id(o), id);
		CHECK(!o->target_ino);
		CHECK_EQ(fdw_ofd_mode(o), S_IFREG);
		o->pending = pending;
		o->ifmt = 0xf;
		CHECK_EQ(fdw_ofd_id(o), id);
		CHECK(o->pending == pending);
		o->ifmt = S_IFREG >> 12;
		CHECK_EQ(fdw_ofd_id(o), id);
		CHECK_EQ(o->refs, 1);
	}
	fake[3].open = false;
	fdw_model_free(&m);
}

/*
 * An OFD's id is its handle and generation: an fd opened and closed again
 * and again gets the same handle each time (the block's free list) and a
 * new id each time; a handle given out FDW_OFD_GEN_MAX times is retired:
 * the next OFDs have other handles, and its ids are never made again.
 */
static void test_ofd_ids(void)
{
	static uint64_t ids[64];
	const struct fdw_slot *s;
	struct fdw_model m;
	uint32_t h = 0;
	uint64_t id;

	model_new(&m);
	start_proc(&m);
	for (int i = 0; i < 64; i++) {
		do_open(&m, PID, FILES, 3, "/tmp/fdw-ids", 0);
		s = slot(&m, PID, 3);
		CHECK(fdw_slot_open(s));
		if (!fdw_slot_open(s))
			break;
		if (i == 0)
			h = s->ofd_h;
		CHECK_EQ(s->ofd_h, h);
		ids[i] = fdw_ofd_id(fdw_slot_ofd(s));
		for (int j = 0; j < i; j++)
			CHECK(ids[j] != ids[i]);
		apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
		fake[3].open = false;
	}
	do_open(&m, PID, FILES, 3, "/tmp/fdw-ids", 0);
	s = slot(&m, PID, 3);
	CHECK(fdw_slot_open(s) && s->ofd_h == h);
	if (fdw_slot_open(s)) {
		fdw_slot_ofd(s)->gen = FDW_OFD_GEN_MAX;
		id = fdw_ofd_id(fdw_slot_ofd(s));
		for (int round = 0; round < 2; round++) {
			apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
			fake[3].open = false;
			do_open(&m, PID, FILES, 3, "/tmp/fdw-ids", 0);
			s = slot(&m, PID, 3);
			CHECK(fdw_slot_open(s));
			if (!fdw_slot_open(s))
				break;
			CHECK(s->ofd_h != h); /* retired */
			CHECK(fdw_ofd_id(fdw_slot_ofd(s)) != id);
			CHECK_EQ(fdw_slot_ofd(s)->ino, 1003); /* and the new OFD is whole */
		}
	}
	fake[3].open = false;
	fdw_model_free(&m);
}

/*
 * Shared storage: origins and names are one copy where the model has one
 * fact (an fd and the OFD its open created; every fd of a table read from
 * /proc; a file opened twice), copied on change (a fork child's inherited
 * view), and the origin of a closed generation stays what it was.
 */
static void test_shared_storage(void)
{
	struct fdw_model m;
	const struct fdw_slot *a, *b, *c;
	struct fdw_event ev;
	const struct fdw_fd_history *h;

	model_new(&m);
	start_proc(&m);
	/* the scan: one origin for the whole table, one copy of the tty's name */
	CHECK(slot(&m, PID, 0)->origin == slot(&m, PID, 2)->origin);
	CHECK(slot(&m, PID, 0)->origin == fdw_slot_ofd(slot(&m, PID, 0))->origin);
	CHECK(fdw_slot_ofd(slot(&m, PID, 0))->target == fdw_slot_ofd(slot(&m, PID, 2))->target);
	do_open(&m, PID, FILES, 3, "/var/log/app.log", 0);
	do_open(&m, PID, FILES, 4, "/var/log/app.log", 0);
	a = slot(&m, PID, 3);
	b = slot(&m, PID, 4);
	CHECK(a && b);
	if (!a || !b)
		goto out;
	CHECK(fdw_slot_ofd(a) != fdw_slot_ofd(b));
	CHECK_STR(fdw_slot_ofd(a)->target, "/var/log/app.log");
	CHECK(fdw_slot_ofd(a)->target == fdw_slot_ofd(b)->target);     /* one copy of the name */
	CHECK(a->origin == fdw_slot_ofd(a)->origin);	     /* the open made both */
	CHECK(a->origin != b->origin);		     /* another event */
	CHECK_EQ(fdw_origin_at(a->origin)->seq + 1, fdw_origin_at(b->origin)->seq);
	CHECK_EQ(fdw_strtab_refs(fdw_slot_ofd(a)->target), 2);
	/* a fork child's inherited view: its own origin, the rest the same */
	ev = task_ev(FDW_REC_FORK, PID, PID, FILES);
	ev.child_pid = 200;
	ev.child_tid = 200;
	ev.child_files = FILES + 0x1000;
	apply(&m, ev);
	c = slot(&m, 200, 3);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ(fdw_origin_at(c->origin)->source, FDW_SRC_INHERIT);
		CHECK(c->origin != a->origin);
		CHECK_EQ(fdw_origin_at(c->origin)->seq, fdw_origin_at(a->origin)->seq);
		CHECK_EQ(fdw_origin_at(a->origin)->source, FDW_SRC_EVENT); /* the parent's untouched */
		CHECK(fdw_slot_ofd(c) == fdw_slot_ofd(a));
	}
	/* closing keeps the generation's origin and name in the history */
	ev = sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0);
	apply(&m, ev);
	ev = sys(PID, FILES, FDW_SYS_CLOSE, 0, 4, 0, 0);
	apply(&m, ev);
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 4), 0);
	CHECK(h != NULL);
	if (h) {
		CHECK_STR(h->target, "/var/log/app.log");
		CHECK_EQ(fdw_origin_at(h->origin)->nr, FDW_SYS_OPENAT);
		CHECK_EQ(fdw_origin_at(h->closed)->nr, FDW_SYS_CLOSE);
		CHECK(h->closed != h->origin);
	}
	c = slot(&m, 200, 3);
	CHECK(c && fdw_slot_ofd(c)->target && !strcmp(fdw_slot_ofd(c)->target, "/var/log/app.log"));
out:
	fdw_model_free(&m);
}

/*
 * Children that each make their own copy of a parent's table (a change, a
 * re-read after lost records) share one inherited view of each of the
 * parent's origins: the origin records do not grow with the children
 * (they grew by one per fd per child: 2 million for 400 children of a
 * 5,000-fd parent). The views stay right: inherited, the parent's event,
 * the parent's own untouched; and every record goes with its holders.
 */
static void test_inherit_twins(void)
{
	enum { NFDS = 500, KIDS = 40 };
	struct fdw_model m;
	uint64_t live0, live1, live, bytes, max_fds;
	uint32_t first[NFDS + 3] = { 0 };

	model_new(&m);
	start_proc(&m);
	fdw_model_origin_usage(&live0, &bytes);
	for (int fd = 3; fd < NFDS + 3; fd++)
		do_open(&m, PID, FILES, fd, "/tmp/fdw-twins", 0);
	fdw_model_origin_usage(&live1, &bytes);
	CHECK(live1 >= live0 + NFDS); /* one per open: each its own event */
	for (uint32_t k = 0; k < KIDS; k++) {
		uint64_t cf = FILES + 0x1000 * (k + 1);

		fork_ev(&m, PID, FILES, 300 + k, cf, 0);
		close_ev(&m, 300 + k, cf, 2); /* the child's own copy */
		CHECK(slot(&m, 300 + k, 2) == NULL);
		for (int fd = 3; fd < NFDS + 3; fd++) {
			const struct fdw_slot *c = slot(&m, 300 + k, fd), *p = slot(&m, PID, fd);

			CHECK(c && p);
			if (!c || !p)
				continue;
			CHECK_EQ(fdw_slot_origin(c)->source, FDW_SRC_INHERIT);
			CHECK_EQ(fdw_slot_origin(c)->seq, fdw_slot_origin(p)->seq);
			CHECK_EQ(fdw_slot_origin(p)->source, FDW_SRC_EVENT);
			if (!k)
				first[fd] = c->origin;
			CHECK_EQ(c->origin, first[fd]); /* one view, shared */
		}
	}
	/* a grandchild's view of an inherited fd is the same view */
	fork_ev(&m, 300, FILES + 0x1000, 400, FILES + 0x100000, 0);
	close_ev(&m, 400, FILES + 0x100000, 1);
	CHECK_EQ(slot(&m, 400, 3) ? slot(&m, 400, 3)->origin : 0, first[3]);
	/* a fork past the fd bound copies fd by fd (up to the bound): the
	 * copies share the views too */
	max_fds = m.max_fds;
	m.max_fds = m.stats.fds + 100;
	fork_ev(&m, PID, FILES, 450, FILES + 0x200000, 0);
	for (int fd = 3, copied = 0; fd < NFDS + 3; fd++) {
		const struct fdw_slot *c = slot(&m, 450, fd);

		if (fd < 90)
			CHECK(c != NULL);
		if (c) {
			CHECK_EQ(c->origin, first[fd]);
			copied++;
		}
		if (fd == NFDS + 2)
			CHECK(copied > 90 && copied <= 100);
	}
	apply(&m, task_ev(FDW_REC_EXIT, 450, 450, FILES + 0x200000));
	m.max_fds = max_fds;
	fdw_model_origin_usage(&live, &bytes);
	if (live > live1 + NFDS + KIDS + 16)
		fprintf(stderr, "origins: %" PRIu64 " live, %" PRIu64 " after the opens\n", live, live1);
	CHECK(live <= live1 + NFDS + KIDS + 16);
	CHECK(bytes >= live * sizeof(struct fdw__origin));
	/* the parent closes its fds: the views stay while the children hold them */
	for (int fd = 3; fd < NFDS + 3; fd++) {
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	CHECK_EQ(fdw_slot_origin(slot(&m, 300, 3))->source, FDW_SRC_INHERIT);
	CHECK_EQ(slot(&m, 301, 3)->origin, first[3]);
	for (uint32_t k = 0; k < KIDS; k++)
		apply(&m, task_ev(FDW_REC_EXIT, 300 + k, 300 + k, FILES + 0x1000 * (k + 1)));
	apply(&m, task_ev(FDW_REC_EXIT, 400, 400, FILES + 0x100000));
	/* what is left: the parent's histories of its closes (each its open's
	 * origin and its close's), not the views */
	fdw_model_origin_usage(&live, &bytes);
	if (live > live1 + NFDS + 16)
		fprintf(stderr, "origins: %" PRIu64 " live, %" PRIu64 " after the opens\n", live, live1);
	CHECK(live <= live1 + NFDS + 16);
	fdw_model_free(&m);
	fdw_model_origin_usage(&live, &bytes);
	CHECK_EQ(live, 0);
	CHECK_EQ(bytes, 0);
}

/*
 * A burst of origins gives its blocks back once they are all free (but
 * one kept for the next): the arena does not stay at its peak. Blocks
 * freed in the middle are reused, and the handles stay right.
 */
static void test_origin_blocks_freed(void)
{
	enum { NFDS = FAKE_MAX - 3, KIDS = 8 };
	struct fdw_model m;
	uint64_t live0, bytes0, live, bytes, peak;

	model_new(&m);
	start_proc(&m);
	fdw_model_origin_usage(&live0, &bytes0);
	for (int round = 0; round < 3; round++) {
		/* children of 2,045 fds each: 64 blocks of origins; one after
		 * another, then interleaved (concurrent processes: their records
		 * share blocks, and a block frees with its last one), then with
		 * a long-lived process opening an fd every 200 (one in nearly
		 * every block when the burst goes) */
		for (uint32_t k = 0; k < KIDS; k++)
			fork_ev(&m, PID, FILES, 300 + k, FILES + 0x1000 * (k + 1), 0);
		if (round == 2)
			fork_ev(&m, PID, FILES, 500, FILES + 0x900000, 0);
		for (int i = 0; i < KIDS * NFDS; i++) {
			uint32_t k = round ? (uint32_t)(i % KIDS) : (uint32_t)(i / NFDS);
			int fd = 3 + (round ? i / KIDS : i % NFDS);

			do_open(&m, 300 + k, FILES + 0x1000 * (k + 1), fd, "/tmp/fdw-burst", 0);
			if (round == 2 && i % 200 == 0)
				do_open(&m, 500, FILES + 0x900000, 3 + i / 200, "/tmp/fdw-keep", 0);
		}
		fdw_model_origin_usage(&live, &peak);
		CHECK(live >= live0 + KIDS * NFDS);
		CHECK(peak >= live * sizeof(struct fdw__origin));
		for (uint32_t k = 0; k < KIDS; k++) {
			for (int fd = 3; fd < NFDS + 3; fd += 7) {
				const struct fdw_slot *s = slot(&m, 300 + k, fd);

				CHECK(s && fdw_slot_origin(s)->nr == FDW_SYS_OPENAT);
				CHECK(s && fdw_slot_origin(s)->tid == 300 + k);
				CHECK(s && fdw_slot_ofd(s) && fdw_slot_ofd(s)->origin == s->origin);
			}
			/* the others' exits do not touch the ones still alive */
			apply(&m, task_ev(FDW_REC_EXIT, 300 + k, 300 + k, FILES + 0x1000 * (k + 1)));
		}
		if (round == 2)
			apply(&m, task_ev(FDW_REC_EXIT, 500, 500, FILES + 0x900000));
		for (int fd = 3; fd < NFDS + 3; fd++)
			fake[fd].open = false;
		fdw_model_origin_usage(&live, &bytes);
		CHECK(live <= live0 + 1); /* the model's last one */
		/* the blocks went, but for a few (an arena of 16 blocks, 224 KiB,
		 * is left alone) */
		if (bytes > bytes0 + (peak - bytes0) / 4)
			fprintf(stderr, "origins: %" PRIu64 " bytes after, %" PRIu64 " at the peak, %" PRIu64 " before\n", bytes, peak, bytes0);
		CHECK(bytes <= bytes0 + (peak - bytes0) / 4);
	}
	/* the parent's origins, in the blocks that stayed, are still right */
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 0))->source, FDW_SRC_PROCFS);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 2))->source, FDW_SRC_PROCFS);
	fdw_model_free(&m);
}

/* A re-read /proc refuses leaves the table stale with the reason
 * (read_err, shown by the API); the next one that works clears both. */
static void test_read_err(void)
{
	struct fdw_model m;
	struct fdw_table *t;

	model_new(&m);
	start_proc(&m);
	t = table_of(&m, PID);
	CHECK(t && !t->stale && !t->read_err);
	fake_table_err = -EACCES;
	CHECK_EQ(fdw_model_resync(&m, t, PID), -EACCES);
	CHECK(t->stale);
	CHECK_EQ(t->read_err, EACCES);
	fake_table_err = -ENOMEM;
	CHECK_EQ(fdw_model_resync(&m, t, PID), -ENOMEM);
	CHECK_EQ(t->read_err, ENOMEM); /* the last one's */
	fake_table_err = 0;
	CHECK_EQ(fdw_model_resync(&m, t, PID), 0);
	CHECK(!t->stale);
	CHECK_EQ(t->read_err, 0);
	fdw_model_free(&m);
}

/*
 * A truncated SCM_RIGHTS record (more fds than it holds) re-reads the
 * table, and the fds found new get the recvmsg's origin. An fd another
 * syscall installed between the recvmsg and that read is found too; its
 * own record, older than the read, is not replayed, but gives it its
 * provenance (it showed recvmsg before).
 */
static void test_truncated_rights(void)
{
	struct fdw_model m;
	struct fdw_event ev;
	uint64_t rseq;

	model_new(&m);
	m.ops.ring_position = fake_ring_position;
	ring_now = 10;
	start_proc(&m);
	/* recvmsg installed 3..12; the record holds 3..10 */
	ev = at(sys(PID, FILES, FDW_SYS_RECVMSG, 10, 9, 0, 0), 20);
	ev.flags = FDW_F_TRUNCATED;
	ev.nfds = FDW_MAX_FDS;
	for (int i = 0; i < 10; i++)
		fake_set(3 + i, "/passed", 3000 + (uint64_t)i, false);
	for (int i = 0; i < FDW_MAX_FDS; i++)
		ev.fds[i] = 3 + i;
	ev.ino = 3000;
	ev.dev = 1;
	ev.mode = S_IFREG;
	rseq = ev.seq;
	/* then, before the daemon read /proc, an openat installed 13 */
	fake_set(13, "/later", 4013, false);
	ring_now = 40; /* the read happens with the ring here */
	apply(&m, ev);
	for (int fd = 3; fd < 13; fd++) {
		const struct fdw_slot *s = slot(&m, PID, fd);

		CHECK(s && fdw_slot_origin(s)->nr == FDW_SYS_RECVMSG);
		CHECK(s && fdw_slot_origin(s)->seq == rseq);
	}
	CHECK(slot(&m, PID, 13) != NULL);
	/* the openat's record (ring position 30, before the read) */
	ev = at(sys(PID, FILES, FDW_SYS_OPENAT, 13, (uint64_t)AT_FDCWD, 0, 0), 30);
	ev = one_fd(ev, 13, 4013, 1, S_IFREG);
	apply(&m, ev);
	CHECK_EQ(slot(&m, PID, 13) ? fdw_slot_origin(slot(&m, PID, 13))->nr : 0, FDW_SYS_OPENAT);
	CHECK_EQ(slot(&m, PID, 13) ? fdw_slot_origin(slot(&m, PID, 13))->seq : 0, ev.seq);
	/* the recvmsg's own fds keep its origin */
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 12))->nr, FDW_SYS_RECVMSG);
	/* the openat of an fd the recvmsg did install does not take it over */
	ev = at(sys(PID, FILES, FDW_SYS_OPENAT, 12, (uint64_t)AT_FDCWD, 0, 0), 31);
	ev = one_fd(ev, 12, 9999, 1, S_IFREG); /* another inode: an older generation */
	apply(&m, ev);
	CHECK_EQ(fdw_slot_origin(slot(&m, PID, 12))->nr, FDW_SYS_RECVMSG);
	for (int fd = 3; fd < 14; fd++)
		fake[fd].open = false;
	fdw_model_free(&m);
}

/*
 * Random forks, bursts of opens and closes, and exits across 12 processes
 * (a child's own copy, twins shared and unlinked, blocks freed and
 * reused): every open fd's origin (event, thread, source) stays the one a
 * shadow of the tables expects. Under ASan in CI too.
 */
#define RND_PROCS 12
#define RND_FDS 2000
struct rnd_fd {
	bool open;
	uint8_t source;
	uint32_t tid;
	uint64_t seq;
};
static struct rnd_fd rnd_want[RND_PROCS][RND_FDS];
static bool rnd_alive[RND_PROCS];
static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd_next(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint32_t rnd_pid(int i)
{
	return i ? 600 + (uint32_t)i : PID;
}

static uint64_t rnd_files(int i)
{
	return i ? FILES + 0x10000 * (uint64_t)i : FILES;
}

static unsigned int rnd_check(struct fdw_model *m, int i)
{
	unsigned int bad = 0;

	for (int fd = 3; fd < RND_FDS; fd++) {
		const struct fdw_slot *s = slot(m, rnd_pid(i), fd);
		const struct rnd_fd *w = &rnd_want[i][fd];
		const struct fdw_origin *o = s ? fdw_slot_origin(s) : NULL;

		if (!w->open ? s != NULL
			     : !o || o->seq != w->seq || o->tid != w->tid || o->source != w->source)
			bad++;
	}
	return bad;
}

static void test_origin_random(void)
{
	struct fdw_model m;
	unsigned int bad = 0, checks = 0;
	uint64_t live, bytes, peak = 0, low = UINT64_MAX;

	model_new(&m);
	start_proc(&m);
	memset(rnd_want, 0, sizeof(rnd_want));
	memset(rnd_alive, 0, sizeof(rnd_alive));
	rnd_alive[0] = true;
	for (int step = 0; step < 60000; step++) {
		int i = (int)(rnd_next() % RND_PROCS), r = (int)(rnd_next() % 1000), p, fd0, n;
		bool open;

		if (!rnd_alive[i]) {
			if (!i)
				continue;
			do
				p = (int)(rnd_next() % RND_PROCS);
			while (!rnd_alive[p] || p == i);
			fork_ev(&m, rnd_pid(p), rnd_files(p), rnd_pid(i), rnd_files(i), 0);
			for (int fd = 3; fd < RND_FDS; fd++) {
				rnd_want[i][fd] = rnd_want[p][fd];
				if (rnd_want[i][fd].open)
					rnd_want[i][fd].source = FDW_SRC_INHERIT;
			}
			rnd_alive[i] = true;
			continue;
		}
		if (r < 2 && i) {
			apply(&m, task_ev(FDW_REC_EXIT, rnd_pid(i), rnd_pid(i), rnd_files(i)));
			memset(rnd_want[i], 0, sizeof(rnd_want[i]));
			rnd_alive[i] = false;
			continue;
		}
		if (r < 4) {
			bad += rnd_check(&m, i);
			checks++;
			continue;
		}
		fd0 = 3 + (int)(rnd_next() % (RND_FDS - 3));
		n = (int)(rnd_next() % 400);
		open = r < 600;
		for (int fd = fd0; fd < RND_FDS && fd < fd0 + n; fd++) {
			if (open && !rnd_want[i][fd].open) {
				do_open(&m, rnd_pid(i), rnd_files(i), fd, "/tmp/fdw-random", 0);
				rnd_want[i][fd] = (struct rnd_fd){ true, FDW_SRC_EVENT, rnd_pid(i), seq };
			} else if (!open && rnd_want[i][fd].open) {
				close_ev(&m, rnd_pid(i), rnd_files(i), fd);
				rnd_want[i][fd].open = false;
			}
		}
		fdw_model_origin_usage(&live, &bytes);
		if (bytes > peak)
			peak = bytes;
		if (bytes < low && peak > (1u << 20))
			low = bytes;
	}
	for (int i = 0; i < RND_PROCS; i++) {
		if (rnd_alive[i]) {
			bad += rnd_check(&m, i);
			checks++;
		}
	}
	CHECK(checks > 100);
	CHECK_EQ(bad, 0);
	CHECK(peak > (1u << 20) && low < peak); /* blocks were given back */
	for (int fd = 3; fd < RND_FDS; fd++)
		fake[fd].open = false;
	fdw_model_free(&m);
}

/*
 * Slot histories are bounded host-wide (max_history rings, and
 * max_history_bytes of names): past a bound the oldest goes for the newest,
 * counted, instead of every new one being refused (one user's closes of
 * 64 Ki long-named fds had taken every ring for good). A ring moved by a
 * copy (a fork's parent changing) is still found; the counts come back to
 * zero with the slots.
 */
static void test_history_bounds(void)
{
	static char longname[1200];
	struct fdw_model m;

	model_new(&m);
	start_proc(&m);
	m.max_history = 4;
	/* six numbers opened and closed in turn: the first two lose theirs */
	for (int fd = 3; fd < 9; fd++) {
		do_open(&m, PID, FILES, fd, "/tmp/fdw-hist", 0);
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	CHECK_EQ(m.stats.history_entries, 4);
	CHECK_EQ(m.stats.history_evicted, 2);
	CHECK_EQ(m.stats.history_dropped, 0);
	for (int fd = 3; fd < 9; fd++) {
		const struct fdw_slot *s = fdw_table_slot(table_of(&m, PID), fd);

		CHECK_EQ(fdw_slot_nhist(&m, s), fd < 5 ? 0u : 1u);
	}
	CHECK_EQ(m.stats.history_bytes, 4 * sizeof("/tmp/fdw-hist"));
	/* a second close at a number with a ring: no new ring, nothing goes */
	do_open(&m, PID, FILES, 8, "/tmp/fdw-hist", 0);
	close_ev(&m, PID, FILES, 8);
	fake[8].open = false;
	CHECK_EQ(m.stats.history_evicted, 2);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 8)), 2);
	/* a fork child shares the slots; the parent's change moves its rings to
	 * a copy: they stay evictable, oldest (5) first */
	fork_ev(&m, PID, FILES, 300, FILES + 0x1000, 0);
	do_open(&m, PID, FILES, 20, "/tmp/fdw-hist", 0); /* the parent copies */
	close_ev(&m, PID, FILES, 20);
	fake[20].open = false;
	CHECK_EQ(m.stats.history_entries, 4);
	CHECK_EQ(m.stats.history_evicted, 3);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 20)), 1);
	/* names: past max_history_bytes the oldest go, the newest stays */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	m.max_history = 1000;
	m.max_history_bytes = 3 * sizeof(longname);
	for (int fd = 30; fd < 36; fd++) {
		do_open(&m, PID, FILES, fd, longname, 0);
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	CHECK(m.stats.history_bytes <= m.max_history_bytes);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 35)), 1);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 30)), 0);
	CHECK(m.stats.history_evicted >= 6);
	apply(&m, task_ev(FDW_REC_EXIT, 300, 300, FILES + 0x1000));
	apply(&m, task_ev(FDW_REC_EXIT, PID, PID, FILES));
	CHECK_EQ(m.stats.history_entries, 0);
	CHECK_EQ(m.stats.history_bytes, 0);
	fdw_model_free(&m);
}

/*
 * The history bounds under the two ways a ring is kept or moved: a ring
 * closed again while it is the oldest is not lost to eviction (it goes to
 * the tail), and a parent that forks, changes and loses its child again
 * and again does not grow the eviction ring (a moved ring gets a new seq:
 * the old entry, whose slot address malloc hands to a later copy, stays
 * dead).
 */
static void test_history_fifo(void)
{
	static char name[400];
	struct fdw_model m;

	model_new(&m);
	start_proc(&m);
	memset(name, 'y', sizeof(name) - 1);
	name[0] = '/';
	m.max_history_bytes = 3 * sizeof(name);
	for (int fd = 3; fd < 6; fd++) {
		do_open(&m, PID, FILES, fd, name, 0);
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	/* fd 3's ring is the oldest: closed again over the byte bound, 4's goes */
	do_open(&m, PID, FILES, 3, name, 0);
	close_ev(&m, PID, FILES, 3);
	fake[3].open = false;
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 3)), 2);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 4)), 0);
	/* fd 3's ring can still go: a new one at 40 with room for it alone,
	 * 5's (the oldest) then 3's go */
	m.max_history = 1;
	m.max_history_bytes = 64u << 20;
	do_open(&m, PID, FILES, 40, "/short", 0);
	close_ev(&m, PID, FILES, 40);
	fake[40].open = false;
	CHECK_EQ(m.stats.history_dropped, 0);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 40)), 1);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 5)), 0);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 3)), 0);
	/* fork, the parent's change (its rings move to a copy), the child's exit */
	m.max_history = 1000;
	for (int i = 0; i < 3000; i++) {
		fork_ev(&m, PID, FILES, 300, FILES + 0x1000, 0);
		do_open(&m, PID, FILES, 41, "/churn", 0);
		close_ev(&m, PID, FILES, 41);
		fake[41].open = false;
		apply(&m, task_ev(FDW_REC_EXIT, 300, 300, FILES + 0x1000));
	}
	CHECK(m.stats.history_entries <= 4);
	CHECK(m.hist_fifo_cap <= 4096);
	fdw_model_free(&m);
}

/*
 * A race record of a fork child that never changed its table (it still
 * shares its parent's slots) is told with the child's own view of the
 * number: not the parent's slot and history (a use of an fd the parent
 * closed before the fork was told as the parent's generation, with the
 * parent's thread as its closer).
 */
static void test_race_in_borrowing_child(void)
{
	const uint64_t CF = FILES + 0x1000;
	struct fdw_model m;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	do_open(&m, PID, FILES, 5, "/parent-file", 0);
	close_ev(&m, PID, FILES, 5);
	fake[5].open = false;
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 5)), 1);
	fork_ev(&m, PID, FILES, 300, CF, 0);
	CHECK(raw_table(&m, 300)->borrowed);
	ev = task_ev(FDW_REC_BADF, 300, 300, CF);
	ev.race_fd = 5;
	last_slot = (const struct fdw_slot *)&m; /* not NULL */
	apply(&m, ev);
	CHECK_EQ(last_kind, FDW_FDEV_BAD_FD);
	CHECK(last_slot == NULL); /* nothing at 5 in the child's view */
	CHECK(raw_table(&m, 300)->borrowed); /* and no copy for it */
	/* an open number: told from the child's own view (inherited) */
	do_open(&m, PID, FILES, 6, "/parent-6", 0);
	fork_ev(&m, PID, FILES, 301, CF + 0x1000, 0);
	ev = task_ev(FDW_REC_INFLIGHT, 301, 301, CF + 0x1000);
	ev.race_fd = 6;
	last_slot = NULL;
	apply(&m, ev);
	CHECK(!raw_table(&m, 301)->borrowed);
	CHECK(last_slot && last_slot != fdw_table_slot(table_of(&m, PID), 6));
	CHECK(last_slot && fdw_slot_origin(last_slot)->source == FDW_SRC_INHERIT);
	apply(&m, task_ev(FDW_REC_EXIT, 300, 300, CF));
	apply(&m, task_ev(FDW_REC_EXIT, 301, 301, CF + 0x1000));
	fake[6].open = false;
	fdw_model_free(&m);
}

/*
 * Evictions are budgeted per second of the records' time (at least 1,024):
 * a flood of closes of new numbers past the bound is refused, counted, as
 * before evictions, instead of every close freeing a ring and making one
 * (children closing 8,000 inherited fds each, 600 a second, left the
 * daemon behind for minutes). The next second evicts again.
 */
static void test_history_evict_budget(void)
{
	struct fdw_model m;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	m.max_history = 4;
	for (int fd = 3; fd < 3 + 1100; fd++) { /* all within one second */
		do_open(&m, PID, FILES, fd, "/tmp/fdw-flood", 0);
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	CHECK_EQ(m.stats.history_entries, 4);
	CHECK_EQ(m.stats.history_evicted, 1024);
	CHECK_EQ(m.stats.history_dropped, 1100 - 4 - 1024);
	/* a second later */
	do_open(&m, PID, FILES, 1200, "/tmp/fdw-later", 0);
	ev = sys(PID, FILES, FDW_SYS_CLOSE, 0, 1200, 0, 0);
	ev.ts = 5000000000ull;
	apply(&m, ev);
	fake[1200].open = false;
	CHECK_EQ(m.stats.history_evicted, 1025);
	CHECK_EQ(fdw_slot_nhist(&m, fdw_table_slot(table_of(&m, PID), 1200)), 1);
	fdw_model_free(&m);
}

/* name i of test_name_bound: 59 characters and its NUL, 60 bytes (the
 * fake /proc keeps 63) */
#define NB_LEN 60
static const char *nb_name(char buf[NB_LEN], int i)
{
	snprintf(buf, NB_LEN, "/tmp/fdw-names/%05d-%038d", i, 0);
	return buf;
}

/*
 * The names' bytes are bounded (max_name_bytes): past it a new name is
 * not kept, counted once per fd, and the fd reads FDW_NAME_REFUSED while
 * it is tracked as any other (its slot, OFD, provenance, the counts). A
 * name interned already is shared at any time. The /proc read after the
 * record's name is refused too, not counted again; names let go of (the
 * histories hold at most max_history_bytes of them) make room, and a look
 * at the table takes the refused names then.
 */
static void test_name_bound(void)
{
	struct fdw_model m;
	char name[NB_LEN], buf[FDW_OFD_NAME_BUF];
	const struct fdw_slot *s;
	const struct fdw_fd_history *h;
	uint64_t base;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	CHECK(m.name_refused != NULL);
	base = m.strings.bytes; /* /dev/pts/0 and the placeholder */
	m.max_name_bytes = base + 10 * NB_LEN;
	m.max_history_bytes = 2 * NB_LEN; /* the histories keep two names */
	/* 40 fds on 40 new names: 10 kept, 30 not, one count each */
	for (int fd = 3; fd < 43; fd++) {
		do_open(&m, PID, FILES, fd, nb_name(name, fd), O_CLOEXEC);
		CHECK(m.strings.bytes <= m.max_name_bytes);
	}
	CHECK_EQ(m.stats.names_refused, 30);
	CHECK_EQ(m.strings.bytes, m.max_name_bytes);
	/* the /proc reads of the pending names: refused again, not counted */
	fdw_model_flush_pending(&m);
	CHECK_EQ(m.stats.targets_read, 40);
	CHECK_EQ(m.stats.names_refused, 30);
	CHECK_EQ(m.strings.bytes, m.max_name_bytes);
	/* every fd is there, with its provenance; the kept ones named */
	CHECK_EQ(table_of(&m, PID)->nopen, 43);
	CHECK_EQ(m.stats.fds, 43);
	for (int fd = 3; fd < 43; fd++) {
		s = slot(&m, PID, fd);
		CHECK(s != NULL);
		if (!s)
			continue;
		CHECK(s->cloexec);
		CHECK_EQ(fdw_slot_origin(s)->nr, FDW_SYS_OPENAT);
		CHECK_EQ(fdw_slot_ofd(s)->ino, 1000 + (uint64_t)fd);
		CHECK_STR(target_of(fdw_slot_ofd(s)), fd < 13 ? nb_name(name, fd) : FDW_NAME_REFUSED);
		CHECK(fdw_target_refused(target_of(fdw_slot_ofd(s))) == (fd >= 13));
	}
	/* a name kept already is shared past the bound: nothing new, no count */
	do_open(&m, PID, FILES, 50, nb_name(name, 3), 0);
	fdw_model_flush_pending(&m);
	CHECK(fdw_slot_ofd(slot(&m, PID, 50))->target == fdw_slot_ofd(slot(&m, PID, 3))->target);
	CHECK_EQ(m.stats.names_refused, 30);
	/* a dup shares the OFD; another open of a refused name is another fd */
	apply(&m, one_fd(sys(PID, FILES, FDW_SYS_DUP, 51, 20, 0, 0), 51, 0, 0, 0));
	CHECK(fdw_slot_ofd(slot(&m, PID, 51)) == fdw_slot_ofd(slot(&m, PID, 20)));
	do_open(&m, PID, FILES, 52, nb_name(name, 20), 0);
	fdw_model_flush_pending(&m);
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 52))), FDW_NAME_REFUSED);
	CHECK_EQ(m.stats.names_refused, 31);
	CHECK(m.strings.bytes <= m.max_name_bytes);
	/* a refused fd closed: its history says so (the placeholder, shared) */
	close_ev(&m, PID, FILES, 42);
	fake[42].open = false;
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 42), 0);
	CHECK(h && fdw_target_refused(fdw_fd_history_target(h, buf)));
	/* the kept ones closed: the histories keep two of their names (their
	 * bound), the other eight are let go of */
	for (int fd = 3; fd < 13; fd++) {
		close_ev(&m, PID, FILES, fd);
		fake[fd].open = false;
	}
	close_ev(&m, PID, FILES, 50);
	fake[50].open = false;
	CHECK(m.stats.history_bytes <= m.max_history_bytes);
	CHECK_EQ(m.strings.bytes, base + 2 * NB_LEN);
	/* room for eight: a look at the table takes eight of the refused
	 * names (the rest stay refused, not counted again) */
	fdw_model_refresh_targets(&m, fdw_model_proc(&m, PID));
	CHECK_EQ(m.strings.bytes, m.max_name_bytes);
	CHECK_EQ(m.stats.names_refused, 31);
	{
		int named = 0, refused = 0;

		for (int fd = 13; fd < 42; fd++) {
			const char *t = target_of(fdw_slot_ofd(slot(&m, PID, fd)));

			if (fdw_target_refused(t)) {
				refused++;
			} else {
				named++;
				CHECK_STR(t, nb_name(name, fd));
			}
		}
		CHECK_EQ(named, 8);
		CHECK_EQ(refused, 29 - 8);
	}
	/* and new names again once those go: the process exits */
	apply(&m, task_ev(FDW_REC_EXIT, PID, PID, FILES));
	CHECK_EQ(m.strings.bytes, base - sizeof("/dev/pts/0"));
	memset(fake, 0, sizeof(fake));
	start_proc(&m);
	for (int fd = 3; fd < 13; fd++)
		do_open(&m, PID, FILES, fd, nb_name(name, 100 + fd), 0);
	fdw_model_flush_pending(&m);
	CHECK_EQ(m.stats.names_refused, 31);
	CHECK_STR(target_of(fdw_slot_ofd(slot(&m, PID, 12))), nb_name(name, 112));
	ev = task_ev(FDW_REC_EXIT, PID, PID, FILES);
	apply(&m, ev);
	fdw_model_free(&m);
}

/* Pipes and sockets keep no target string: the name is made from the
 * inode when read, in the model and in the history a close leaves. */
static void test_inode_names(void)
{
	char name[FDW_OFD_NAME_BUF];
	struct fdw_model m;
	const struct fdw_fd_history *h;
	size_t strings;
	const struct fdw_slot *s;
	struct fdw_event ev;

	model_new(&m);
	start_proc(&m);
	ev = sys(PID, FILES, FDW_SYS_PIPE2, 0, 0, 0, 0);
	ev.nfds = 2;
	ev.fds[0] = 5;
	ev.fds[1] = 6;
	ev.ino = 18446744073709551615ull; /* the longest name */
	ev.dev = 1;
	ev.mode = S_IFIFO;
	apply(&m, ev);
	s = slot(&m, PID, 6);
	CHECK(s && !fdw_slot_ofd(s)->target && fdw_slot_ofd(s)->target_ino && fdw_slot_ofd(s)->target_exact);
	CHECK_STR(target_of(fdw_slot_ofd(s)), "pipe:[18446744073709551615]");
	CHECK_STR(fdw_ofd_type(fdw_slot_ofd(s)), "fifo");
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 6, 0, 0));
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 6), 0);
	CHECK_STR(fdw_fd_history_target(h, name), "pipe:[18446744073709551615]");

	apply(&m, one_fd(sys(PID, FILES, FDW_SYS_SOCKET, 7, 1, 1, 0), 7, 4242, 8, S_IFSOCK));
	s = slot(&m, PID, 7);
	CHECK(s && !fdw_slot_ofd(s)->target && fdw_slot_ofd(s)->target_ino);
	CHECK_STR(target_of(fdw_slot_ofd(s)), "socket:[4242]");
	CHECK_STR(fdw_ofd_type(fdw_slot_ofd(s)), "sock");
	strings = m.strings.len;
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 7, 0, 0));
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 7), 0);
	CHECK(h && h->name == FDW_HIST_SOCKET);
	CHECK_STR(fdw_fd_history_target(h, name), "socket:[4242]");
	CHECK_EQ(m.strings.len, strings); /* no string per close */
	/* a file's entry after an inode's in the same slot: the string again */
	do_open(&m, PID, FILES, 7, "/var/tmp/after", 0);
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 7, 0, 0));
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 7), 0);
	CHECK(h && h->name == FDW_HIST_STRING);
	CHECK_STR(fdw_fd_history_target(h, name), "/var/tmp/after");
	h = fdw_slot_history(&m, fdw_table_slot(table_of(&m, PID), 7), 1);
	CHECK_STR(fdw_fd_history_target(h, name), "socket:[4242]");
	fdw_model_free(&m);
}

/*
 * Records that leave a table's numbers unknown (here io_uring's close)
 * re-read it at once only while that is cheap: a small table, within the
 * model's inline budget. A big one, or past the budget, is marked stale
 * and its process wanted (once), for the pipeline's queue; a big table's
 * re-reads are spaced (a tenth of the time). A user's loop of io_uring
 * closes against a 19,000-fd table re-read it on the loop per record.
 */
static void test_rereads_asked(void)
{
	struct fdw_model m;
	struct fdw_event ev;
	struct fdw_table *t;
	unsigned int reads;
	uint64_t now;

	model_new(&m);
	start_proc(&m);
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, PID));
	CHECK(t != NULL);
	if (!t)
		return;
	/* small: read here, not wanted */
	reads = read_table_calls;
	ev = sys(PID, FILES, 0, 0, 0, 0, 0);
	ev.type = FDW_REC_URING;
	ev.aux = 19; /* IORING_OP_CLOSE */
	apply(&m, ev);
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, PID));
	CHECK_EQ(read_table_calls, reads + 1);
	CHECK(t && !t->stale);
	CHECK_EQ(m.nwanted, 0);
	CHECK_EQ(m.stats.resyncs_asked, 1);
	CHECK_EQ(m.stats.resyncs_deferred, 0);
	/* an inline read that fails is queued, not left for the audit */
	fake_table_err = -EACCES;
	apply(&m, ev);
	fake_table_err = 0;
	CHECK(t && t->stale);
	CHECK_EQ(fdw_model_take_wanted(&m), PID);
	CHECK_EQ(m.stats.resyncs_deferred, 1);
	CHECK_EQ(fdw_model_resync(&m, t, PID), 0);

	/* past the inline budget: wanted, stale, not read */
	m.inline_tokens_ns = 0;
	m.inline_refill_ns = fdw_now_mono() + 60 * 1000000000ull; /* no refill */
	reads = read_table_calls;
	ev = sys(PID, FILES, 0, 0, 0, 0, 0);
	ev.type = FDW_REC_URING;
	ev.aux = 19;
	apply(&m, ev);
	CHECK_EQ(read_table_calls, reads);
	CHECK(t && t->stale);
	CHECK_EQ(m.stats.resyncs_deferred, 2);
	/* asked again before the pipeline took it: wanted once */
	apply(&m, ev);
	CHECK_EQ(m.nwanted, 1);
	CHECK_EQ(fdw_model_take_wanted(&m), PID);
	CHECK_EQ(fdw_model_take_wanted(&m), 0);
	CHECK_EQ(m.stats.resyncs_deferred, 3);

	/* big: never here, whatever the budget */
	m.inline_tokens_ns = FDW_INLINE_RESYNC_BURST_NS;
	m.inline_refill_ns = 0;
	for (int fd = 3; fd < 3 + FDW_INLINE_RESYNC_MAX_FDS; fd++)
		fake_set(fd, "/many", 600, false);
	CHECK_EQ(fdw_model_resync(&m, t, PID), 0);
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, PID));
	CHECK(t && t->nopen >= FDW_INLINE_RESYNC_MAX_FDS);
	reads = read_table_calls;
	apply(&m, ev);
	CHECK_EQ(read_table_calls, reads);
	CHECK(t && t->stale);
	CHECK_EQ(fdw_model_take_wanted(&m), PID);

	/* a table whose read costs 50 ms waits 450 ms for the next; one
	 * under a millisecond never waits */
	now = fdw_now_mono();
	if (t) {
		CHECK(t->reread_asked); /* deferred above */
		t->reread_at = now;
		t->reread_ns = 50 * 1000000ull;
		CHECK(!fdw_model_resync_due(t, now + 449 * 1000000ull));
		CHECK(fdw_model_resync_due(t, now + 450 * 1000000ull));
		t->reread_ns = 900000;
		CHECK(fdw_model_resync_due(t, now));
		/* a 1 s read waits 2 s, not 9 */
		t->reread_ns = 1000000000ull;
		CHECK(!fdw_model_resync_due(t, now + 1999 * 1000000ull));
		CHECK(fdw_model_resync_due(t, now + 2000 * 1000000ull));
		/* re-reads for lost records alone are never spaced */
		t->reread_asked = false;
		CHECK(fdw_model_resync_due(t, now));
		/* and a re-read that works ends the spacing */
		t->reread_asked = true;
		for (int fd = 3; fd < 3 + FDW_INLINE_RESYNC_MAX_FDS; fd++)
			fake[fd].open = false;
		CHECK_EQ(fdw_model_resync(&m, t, PID), 0);
		CHECK(!t->reread_asked);
	}
	for (int fd = 3; fd < 3 + FDW_INLINE_RESYNC_MAX_FDS; fd++)
		fake[fd].open = false;
	fdw_model_free(&m);
}

int main(void)
{
	test_inode_names();
	test_unknown_gone();
	test_scan_groups_ofds();
	test_scan_groups_many();
	test_deferred_targets();
	test_pending_search_budget();
	test_refresh_targets();
	test_targets_read_then_apply();
	test_scan_and_open();
	test_shared_storage();
	test_origin_handles();
	test_ofd_packed();
	test_ofd_ids();
	test_dup_family();
	test_close();
	test_close_range_cloexec_memo();
	test_stale_close();
	test_ebadf_close_raced();
	test_suspect_close_churn();
	test_fork_threads_exec_exit();
	test_fork_cow();
	test_inherit_twins();
	test_history_bounds();
	test_history_fifo();
	test_history_evict_budget();
	test_name_bound();
	test_race_in_borrowing_child();
	test_truncated_rights();
	test_read_err();
	test_origin_blocks_freed();
	test_origin_random();
	test_pipe_and_rights();
	test_anomaly_repair();
	test_million_fds();
	test_bounds();
	test_double_close();
	test_fork_during_read();
	test_read_window_anomalies();
	test_rereads_asked();
	test_observers();
	test_observer_limit();
	test_identity_records();
	test_identity_stat();
	return check_summary();
}
