// SPDX-License-Identifier: LGPL-2.1-or-later
/* capture/snapshot.c's index of the iterator's records: tables, shared
 * tables and open files answered from the kernel's addresses, and a
 * malformed stream refused. (The iterator itself runs in test_prestart.) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/snapshot.h"
#include "fdwatch_snapshot.h"

#include "check.h"

struct stream {
	uint8_t buf[8192] __attribute__((aligned(8)));
	size_t len;
};

static void add(struct stream *s, uint32_t tgid, uint32_t tid, int fd, uint64_t files,
		uint64_t kfile, uint32_t flags, const char *target)
{
	struct fdw_snap_rec r = { 0 };
	size_t n = target ? strlen(target) : 0;

	r.size = (uint16_t)((sizeof(r) + n + 7) & ~(size_t)7);
	r.target_len = (uint16_t)n;
	r.flags = flags;
	r.tgid = tgid;
	r.tid = tid;
	r.fd = fd < 0 ? 0 : (uint32_t)fd;
	r.files = files;
	r.kfile = kfile;
	r.ino = kfile ? 1000 + kfile % 7 : 0;
	r.dev = 8;
	r.mode = 0100000;
	r.pos = 1000 + s->len; /* increasing, like the ring's */
	memcpy(s->buf + s->len, &r, sizeof(r));
	if (n) /* memcpy from NULL is undefined even for 0 bytes (UBSan) */
		memcpy(s->buf + s->len + sizeof(r), target, n);
	s->len += r.size;
}

struct seen {
	int n;
	int fds[8];
	char targets[8][64];
	bool cloexec[8];
	uint64_t kfiles[8];
};

static void collect(void *data, const struct fdw_fd_info *fi)
{
	struct seen *s = data;

	if (s->n < 8) {
		s->fds[s->n] = fi->fd;
		snprintf(s->targets[s->n], sizeof(s->targets[0]), "%.63s", fi->target);
		s->cloexec[s->n] = fi->cloexec;
		s->kfiles[s->n] = fi->kfile;
	}
	s->n++;
}

int main(void)
{
	struct stream st = { 0 };
	struct fdw_snapshot *s;
	struct fdw_snapshot_stats stats;
	struct seen seen = { 0 };

	/* tasks: 10 (leader) and 11 (its thread) share table A; 20 shares A
	 * too (CLONE_FILES); 30 has B; 40 has a table and no fd */
	add(&st, 10, 10, -1, 0xA, 0, FDW_SNAP_TASK, NULL);
	add(&st, 10, 11, -1, 0xA, 0, FDW_SNAP_TASK, NULL);
	add(&st, 20, 20, -1, 0xA, 0, FDW_SNAP_TASK, NULL);
	add(&st, 30, 30, -1, 0xB, 0, FDW_SNAP_TASK, NULL);
	add(&st, 40, 40, -1, 0xC, 0, FDW_SNAP_TASK, NULL);
	/* fds: 10's come out of order (sorted on indexing); 0 and 5 share an
	 * open file; 30's fd 3 shares it too (inherited); 30's fd 4 is the
	 * same inode opened again */
	add(&st, 10, 10, 5, 0xA, 0x500, 0, "/tmp/a");
	add(&st, 10, 10, 0, 0xA, 0x500, FDW_SNAP_CLOEXEC, "/tmp/a");
	add(&st, 10, 10, 2, 0xA, 0x200, 0, "pipe:[77]");
	add(&st, 30, 30, 3, 0xB, 0x500, 0, "/tmp/a");
	add(&st, 30, 30, 4, 0xB, 0x507, 0, "/tmp/a (deleted)");
	/* the walk's end (the iterator's stop) */
	add(&st, 0, 0, -1, 0, 0, FDW_SNAP_END, NULL);

	CHECK_EQ(fdw_snapshot_parse(&s, st.buf, st.len), 0);
	if (!s)
		return 1;
	fdw_snapshot_stats(s, &stats);
	CHECK_EQ(stats.fds, 5);
	CHECK_EQ(stats.tasks, 5);

	CHECK_EQ(fdw_snapshot_read_table(s, NULL, 10, collect, &seen), 0);
	CHECK_EQ(seen.n, 3);
	CHECK_EQ(seen.fds[0], 0);
	CHECK_EQ(seen.fds[1], 2);
	CHECK_EQ(seen.fds[2], 5);
	CHECK(seen.cloexec[0] && !seen.cloexec[1] && !seen.cloexec[2]);
	CHECK_STR(seen.targets[1], "pipe:[77]");
	CHECK_EQ(seen.kfiles[2], 0x500);
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(fdw_snapshot_read_table(s, NULL, 30, collect, &seen), 0);
	CHECK_EQ(seen.n, 2);
	CHECK_STR(seen.targets[1], "/tmp/a (deleted)");
	/* a task without fds, or not there at all: /proc must answer */
	CHECK_EQ(fdw_snapshot_read_table(s, NULL, 40, collect, &seen), -ENOENT);
	CHECK_EQ(fdw_snapshot_read_table(s, NULL, 99, collect, &seen), -ENOENT);

	CHECK_EQ(fdw_snapshot_same_table(s, 10, 11), 1);
	CHECK_EQ(fdw_snapshot_same_table(s, 10, 20), 1);
	CHECK_EQ(fdw_snapshot_same_table(s, 10, 30), 0);
	CHECK_EQ(fdw_snapshot_same_table(s, 40, 30), 0);
	CHECK_EQ(fdw_snapshot_same_table(s, 10, 99), -ENOENT);

	CHECK_EQ(fdw_snapshot_cmp_file(s, 10, 0, 10, 5), 0);
	CHECK_EQ(fdw_snapshot_cmp_file(s, 10, 5, 30, 3), 0);
	CHECK_EQ(fdw_snapshot_cmp_file(s, 30, 3, 30, 4), 1);
	CHECK_EQ(fdw_snapshot_cmp_file(s, 30, 4, 30, 3), 2);
	CHECK_EQ(fdw_snapshot_cmp_file(s, 10, 2, 10, 5), 1);
	CHECK_EQ(fdw_snapshot_cmp_file(s, 10, 1, 10, 5), -ENOENT); /* fd 1 not open */
	CHECK_EQ(fdw_snapshot_kfile(s, 30, 4), 0x507);
	CHECK_EQ(fdw_snapshot_kfile(s, 30, 9), 0);

	/* a table is as of its first fd's record (10's first is fd 5, the
	 * sixth record; 30's the ninth); no fd: unknown */
	CHECK_EQ(fdw_snapshot_position(s, 10), 1000 + 5 * sizeof(struct fdw_snap_rec));
	CHECK_EQ(fdw_snapshot_position(s, 30), 1000 + 8 * sizeof(struct fdw_snap_rec) + 8 + 8 + 16);
	CHECK_EQ(fdw_snapshot_position(s, 40), 0);
	CHECK_EQ(fdw_snapshot_position(s, 99), 0);
	/* ... and was done with where the next table's walk began (10's ends
	 * at 30's first record; 30's at the end record) */
	CHECK_EQ(fdw_snapshot_read_end(s, 10), fdw_snapshot_position(s, 30));
	CHECK_EQ(fdw_snapshot_read_end(s, 30),
		 1000 + 10 * sizeof(struct fdw_snap_rec) + 8 + 8 + 16 + 8 + 16);
	CHECK_EQ(fdw_snapshot_read_end(s, 40), 0);
	CHECK_EQ(fdw_snapshot_read_end(s, 99), 0);
	CHECK(!fdw_snapshot_has_process(s, 0)); /* the end record is no task */
	CHECK(fdw_snapshot_has_process(s, 10));
	CHECK(fdw_snapshot_has_process(s, 40));
	CHECK(!fdw_snapshot_has_process(s, 11)); /* a thread, not a process */
	CHECK(!fdw_snapshot_has_process(s, 99));
	fdw_snapshot_free(s);

	/* malformed: a task's fds in two runs; a size that overruns; a
	 * truncated record */
	{
		struct stream bad = { 0 };

		add(&bad, 10, 10, 0, 0xA, 0x1, 0, "/a");
		add(&bad, 30, 30, 0, 0xB, 0x2, 0, "/b");
		add(&bad, 10, 10, 1, 0xA, 0x3, 0, "/c");
		CHECK_EQ(fdw_snapshot_parse(&s, bad.buf, bad.len), -EPROTO);
		CHECK(s == NULL);
	}
	{
		struct stream bad = { 0 };
		struct fdw_snap_rec *r = (struct fdw_snap_rec *)bad.buf;

		add(&bad, 10, 10, 0, 0xA, 0x1, 0, "/a");
		r->size = 4000;
		CHECK_EQ(fdw_snapshot_parse(&s, bad.buf, bad.len), -EPROTO);
		CHECK_EQ(fdw_snapshot_parse(&s, st.buf, st.len - 3), -EPROTO);
	}
	CHECK_EQ(fdw_snapshot_parse(&s, st.buf, 0), 0);
	CHECK_EQ(fdw_snapshot_read_table(s, NULL, 10, collect, &seen), -ENOENT);
	fdw_snapshot_free(s);
	fdw_snapshot_free(NULL);
	return check_summary();
}
