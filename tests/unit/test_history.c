// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The event history (model/history.c): entries keep what the API renders,
 * paths and fds past the inline four go to the tail ring and come back
 * intact; a tail the ring wrapped over is reported, not shown as garbage;
 * the ring drops its oldest entries and counts them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/history.h"

static struct fdw_event sys_event(uint64_t seq, uint16_t nr, const char *path, unsigned int nfds)
{
	struct fdw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.seq = seq;
	ev.ts = 1000 + seq;
	ev.pid = 42;
	ev.tid = 43;
	ev.type = FDW_REC_SYSCALL;
	ev.nr = nr;
	ev.flags = 0x5;
	ev.ret = (int64_t)seq;
	for (unsigned int i = 0; i < 6; i++)
		ev.args[i] = seq * 10 + i;
	ev.nfds = (uint16_t)nfds;
	for (unsigned int i = 0; i < nfds; i++)
		ev.fds[i] = (int32_t)(100 + i);
	ev.kfiles[0] = 0xdead; /* not kept */
	ev.path = path;
	return ev;
}

static void test_roundtrip(void)
{
	struct fdw_history h;
	struct fdw_event ev = sys_event(1, FDW_SYS_OPENAT, "/etc/hostname", 1), out;
	const struct fdw_history_entry *e;

	CHECK_EQ(fdw_history_init(&h, 0), -EINVAL);
	CHECK_EQ(fdw_history_init(&h, 8), 0);
	e = fdw_history_push(&h, &ev, "cat");
	CHECK_EQ(e->seq, 1);
	CHECK_EQ(e->pid, 42);
	CHECK_STR(e->comm, "cat");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.seq, 1);
	CHECK_EQ(out.ts, 1001);
	CHECK_EQ(out.tid, 43);
	CHECK_EQ(out.type, FDW_REC_SYSCALL);
	CHECK_EQ(out.nr, FDW_SYS_OPENAT);
	CHECK_EQ(out.flags, 0x5);
	CHECK_EQ(out.ret, 1);
	CHECK_EQ(out.args[5], 15);
	CHECK_EQ(out.nfds, 1);
	CHECK_EQ(out.fds[0], 100);
	CHECK_EQ(out.kfiles[0], 0);
	CHECK_STR(out.path, "/etc/hostname");
	/* the copy is the history's: the caller's buffer may change */
	CHECK(out.path != ev.path);

	/* eight fds: four inline, four in the tail, no path */
	ev = sys_event(2, FDW_SYS_RECVMSG, NULL, FDW_MAX_FDS);
	e = fdw_history_push(&h, &ev, NULL);
	CHECK_STR(e->comm, "");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.nfds, FDW_MAX_FDS);
	for (unsigned int i = 0; i < FDW_MAX_FDS; i++)
		CHECK_EQ(out.fds[i], 100 + i);
	CHECK(out.path == NULL);

	/* a task record keeps its own fields */
	memset(&ev, 0, sizeof(ev));
	ev.seq = 3;
	ev.type = FDW_REC_EXEC;
	ev.pid = ev.tid = 7;
	ev.child_pid = 8;
	ev.exit_code = -3;
	strcpy(ev.comm, "newprog");
	e = fdw_history_push(&h, &ev, "oldprog");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.child_pid, 8);
	CHECK_EQ(out.exit_code, -3);
	CHECK_STR(out.comm, "newprog");
	CHECK_STR(e->comm, "oldprog");

	/* io_uring: the opcode */
	memset(&ev, 0, sizeof(ev));
	ev.seq = 4;
	ev.type = FDW_REC_URING;
	ev.aux = 18;
	ev.nfds = 1;
	ev.fds[0] = 9;
	e = fdw_history_push(&h, &ev, "ring");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.aux, 18);
	CHECK_EQ(out.fds[0], 9);
	CHECK_EQ(h.len, 4);
	CHECK_EQ(fdw_history_at(&h, 0)->seq, 1);
	CHECK_EQ(fdw_history_at(&h, 3)->seq, 4);
	CHECK(fdw_history_at(&h, 4) == NULL);

	/* the race records keep what the events API shows of them (a
	 * hostile test found bad_fd 0, blocked_tid 0 in /v1/events) */
	memset(&ev, 0, sizeof(ev));
	ev.seq = 5;
	ev.type = FDW_REC_BADF;
	ev.nr = FDW_SYS_EPOLL_CTL;
	ev.ret = -9;
	ev.args[0] = 3;
	ev.args[1] = 1;
	ev.args[2] = 77;
	ev.args[3] = 0x7ffc1000;
	ev.args[4] = 5;
	ev.race_fd = 77;
	ev.race_flags = FDW_BADF_OPEN_AT_EXIT;
	e = fdw_history_push(&h, &ev, "badf");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.race_fd, 77);
	CHECK_EQ(out.race_flags, FDW_BADF_OPEN_AT_EXIT);
	CHECK_EQ(out.args[2], 77);
	CHECK_EQ(out.args[3], 0x7ffc1000);
	CHECK_EQ(out.args[4], 5);
	memset(&ev, 0, sizeof(ev));
	ev.seq = 6;
	ev.type = FDW_REC_INFLIGHT;
	ev.nr = FDW_SYS_DUP2;
	ev.race_fd = 4;
	ev.other_tid = 28565;
	ev.other_nr = FDW_SYS_ACCEPT;
	ev.threads = 12;
	strcpy(ev.comm, "acceptor");
	e = fdw_history_push(&h, &ev, "java");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.race_fd, 4);
	CHECK_EQ(out.other_tid, 28565);
	CHECK_EQ(out.other_nr, FDW_SYS_ACCEPT);
	CHECK_EQ(out.threads, 12);
	CHECK_STR(out.comm, "acceptor");
	CHECK_STR(e->comm, "java");
	memset(&ev, 0, sizeof(ev));
	ev.seq = 7;
	ev.type = FDW_REC_REUSE;
	ev.nr = FDW_SYS_READ;
	ev.args[0] = 6;
	ev.race_fd = 6;
	ev.other_nr = FDW_SYS_WRITE;
	ev.old_ino = 1234;
	ev.ino = 5678;
	e = fdw_history_push(&h, &ev, "reuse");
	CHECK(fdw_history_event(&h, e, &out));
	CHECK_EQ(out.race_fd, 6);
	CHECK_EQ(out.other_nr, FDW_SYS_WRITE);
	CHECK_EQ(out.old_ino, 1234);
	CHECK_EQ(out.ino, 5678);
	CHECK_EQ(out.args[0], 6);
	fdw_history_free(&h);
	fdw_history_free(&h); /* twice is fine */
}

/* The ring drops the oldest entries; long paths wrap the tail ring over the
 * tails of kept entries: those come back without them, never with another
 * entry's bytes. */
static void test_wrap(void)
{
	struct fdw_history h;
	char path[FDW_PATH_LEN];
	unsigned int intact = 0, lost = 0;

	CHECK_EQ(fdw_history_init(&h, 16), 0);
	for (unsigned int i = 1; i <= 1000; i++) {
		struct fdw_event ev;

		memset(path, 'a' + i % 26, sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		ev = sys_event(i, FDW_SYS_OPEN, path, 1);
		(void)fdw_history_push(&h, &ev, "long");
	}
	CHECK_EQ(h.len, 16);
	CHECK_EQ(h.dropped, 1000 - 16);
	for (unsigned int i = 0; i < h.len; i++) {
		const struct fdw_history_entry *e = fdw_history_at(&h, i);
		struct fdw_event out;

		CHECK_EQ(e->seq, 1000 - 15 + i);
		if (fdw_history_event(&h, e, &out)) {
			intact++;
			CHECK(out.path && strlen(out.path) == FDW_PATH_LEN - 1);
			CHECK(out.path && out.path[0] == (char)('a' + e->seq % 26) &&
			      out.path[FDW_PATH_LEN - 2] == (char)('a' + e->seq % 26));
		} else {
			lost++;
			CHECK(out.path == NULL);
			CHECK_EQ(out.seq, e->seq);
		}
	}
	/* the newest always keeps its tail; 16 x 255 bytes > 16 x 64 */
	CHECK(fdw_history_event(&h, fdw_history_at(&h, 15), &(struct fdw_event){ 0 }));
	CHECK(intact > 0);
	CHECK(lost > 0);
	CHECK_EQ(intact + lost, 16);
	fdw_history_free(&h);
}

int main(void)
{
	test_roundtrip();
	test_wrap();
	return check_summary();
}
