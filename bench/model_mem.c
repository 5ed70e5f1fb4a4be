// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The model's heap per fd, without a daemon, a kernel or the host's other
 * processes (bench/scale.sh measures the daemon on the host; this is the
 * model alone, the same figure every run): tables built as the start-up
 * scan builds them, through fake ops, and mallinfo2's bytes in use (and
 * the OFDs' mapped blocks, fdw_model_ofd_bytes) before and after.
 *
 *   fdwatch-bench-model-mem [PROCS [FDS [IDLE]]]   default 3 19900 1000
 *   fdwatch-bench-model-mem churn [N]   the model's CPU per event instead
 *   fdwatch-bench-model-mem history [N]   the event history's CPU per push
 *     (an open with its path, then a close, into the default 100,000
 *     entries: the daemon's ring of the last events, far bigger than L2)
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture/syscalls.h"

#include "model/history.h"
#include "model/model.h"

enum shape { SAME, DUPS, PIPES, IDLE, IDLE255 };

struct fake {
	enum shape shape;
	uint32_t nfds;
};

static uint64_t next_kfile = 0xffff888000000000ull;

static int fake_read_table(void *u, uint32_t tid,
			   void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	const struct fake *f = u;
	static struct fdw_fd_info fi;
	uint64_t base = next_kfile;

	for (uint32_t fd = 0; fd < f->nfds; fd++) {
		memset(&fi, 0, offsetof(struct fdw_fd_info, target));
		fi.fd = f->shape == IDLE255 && fd == 3 ? 255 : (int)fd; /* bash's script fd */
		fi.cloexec = fd > 2;
		fi.dev = 5;
		switch (f->shape) {
		case SAME:
			fi.ino = 1000;
			fi.mode = S_IFREG;
			fi.kfile = base + fd * 256;
			snprintf(fi.target, sizeof(fi.target), "/tmp/fdw-scale.held");
			break;
		case DUPS:
			fi.ino = 1000;
			fi.mode = S_IFCHR;
			fi.kfile = base; /* one open file description */
			snprintf(fi.target, sizeof(fi.target), "/dev/null");
			break;
		case PIPES:
			fi.ino = 100000 + tid * 100000ull + fd / 2;
			fi.dev = 14;
			fi.mode = S_IFIFO;
			fi.kfile = base + fd * 256;
			snprintf(fi.target, sizeof(fi.target), "pipe:[%llu]", (unsigned long long)fi.ino);
			break;
		case IDLE:
		case IDLE255:
			fi.ino = 3;
			fi.mode = S_IFCHR;
			fi.kfile = base + (tid % 3) * 256; /* inherited: shared */
			snprintf(fi.target, sizeof(fi.target), "/dev/pts/0");
			break;
		}
		cb(cbdata, &fi);
	}
	next_kfile = base + (uint64_t)(f->nfds + 1) * 256;
	if (f->shape == IDLE || f->shape == IDLE255)
		next_kfile = 0xffff888000000000ull;
	return 0;
}

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	/* the OFDs' blocks are mapped, not malloc'd */
	return mi.uordblks + mi.hblkhd + fdw_model_ofd_bytes();
}

static void row(const char *name, enum shape shape, uint32_t procs, uint32_t nfds)
{
	struct fake f = { .shape = shape, .nfds = nfds };
	struct fdw_model_ops ops = { .read_table = fake_read_table, .read_targets = fake_read_table,
				     .userdata = &f };
	struct fdw_model m;
	size_t h0, h1;

	h0 = heap();
	fdw_model_init(&m, &ops);
	fdw_model_scan_begin(&m);
	for (uint32_t p = 0; p < procs; p++) {
		uint32_t pid = 1000 + p;

		if (fdw_model_add_scanned(&m, pid, 1, "hold", &pid, 1, 1) < 0) {
			fprintf(stderr, "add_scanned failed\n");
			exit(1);
		}
	}
	fdw_model_scan_end(&m);
	h1 = heap();
	printf("model   %-28s %9llu fds   heap +%8.1f MiB  %6.1f bytes/fd  %7.1f bytes/process\n",
	       name, (unsigned long long)m.stats.fds, (double)(h1 - h0) / 1048576,
	       (double)(h1 - h0) / (double)m.stats.fds, (double)(h1 - h0) / procs);
	fdw_model_free(&m);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct fdw_event sys(unsigned int nr, int64_t ret, uint64_t a0, uint64_t a1)
{
	static uint64_t seq;
	struct fdw_event ev = {
		.seq = ++seq, .ts = seq * 1000, .files = 0xffff888200000000ull, .pid = 1000,
		.tid = 1000, .type = FDW_REC_SYSCALL, .nr = nr, .ret = ret, .args = { a0, a1 },
	};

	return ev;
}

/* The model's cost per event of a dup+close and a pipe+close+close loop
 * (the CPU side of the layout: slot and history lookups). */
static void churn(uint32_t n)
{
	struct fake f = { .shape = IDLE, .nfds = 3 };
	struct fdw_model_ops ops = { .read_table = fake_read_table, .read_targets = fake_read_table,
				     .userdata = &f };
	struct fdw_model m;
	uint32_t pid = 1000;
	uint64_t t0, t1, t2;

	fdw_model_init(&m, &ops);
	m.max_history = 1000;
	(void)fdw_model_add_scanned(&m, pid, 1, "hold", &pid, 1, 1);
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct fdw_event ev = sys(FDW_SYS_DUP, 3, 0, 0);

		ev.nfds = 1;
		ev.fds[0] = 3;
		ev.kfiles[0] = 0xffff888000000000ull;
		fdw_model_apply(&m, &ev);
		ev = sys(FDW_SYS_CLOSE, 0, 3, 0);
		fdw_model_apply(&m, &ev);
	}
	t1 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct fdw_event ev = sys(FDW_SYS_PIPE2, 0, 0, O_CLOEXEC);

		ev.nfds = 2;
		ev.fds[0] = 3;
		ev.fds[1] = 4;
		ev.kfiles[0] = 0xffff888300000000ull + i * 512ull;
		ev.kfiles[1] = ev.kfiles[0] + 256;
		ev.ino = 500000 + i;
		ev.dev = 14;
		ev.mode = S_IFIFO;
		fdw_model_apply(&m, &ev);
		ev = sys(FDW_SYS_CLOSE, 0, 3, 0);
		fdw_model_apply(&m, &ev);
		ev = sys(FDW_SYS_CLOSE, 0, 4, 0);
		fdw_model_apply(&m, &ev);
	}
	t2 = now_ns();
	printf("cpu     dup+close %.1f ns/event, pipe+close+close %.1f ns/event "
	       "(%llu applied, %llu anomalies, %llu resyncs)\n",
	       (double)(t1 - t0) / (2.0 * n), (double)(t2 - t1) / (3.0 * n),
	       (unsigned long long)m.stats.applied, (unsigned long long)m.stats.anomalies,
	       (unsigned long long)m.stats.resyncs);
	fdw_model_free(&m);
}

/* The history's cost per push of an open+close loop's events. */
static void history(uint32_t n)
{
	static char path[FDW_PATH_LEN]; /* as in a record: the path's buffer */
	struct fdw_history h;
	uint64_t t0, t1;

	if (fdw_history_init(&h, 100000) < 0)
		return;
	struct fdw_event open = sys(FDW_SYS_OPENAT, 3, (uint64_t)-100, O_RDONLY);
	struct fdw_event close = sys(FDW_SYS_CLOSE, 0, 3, 0);

	snprintf(path, sizeof(path), "/tmp/fdwatch-bench-loop-1234/openclose.file");
	open.nfds = 1;
	open.fds[0] = 3;
	open.path = path;
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		open.seq = 2ull * i + 1;
		(void)fdw_history_push(&h, &open, "fdwatch-bench-l");
		close.seq = 2ull * i + 2;
		(void)fdw_history_push(&h, &close, "fdwatch-bench-l");
	}
	t1 = now_ns();
	printf("history open+close %.1f ns/push (%llu pushed, %llu overwritten)\n",
	       (double)(t1 - t0) / (2.0 * n), (unsigned long long)(2ull * n),
	       (unsigned long long)h.dropped);
	fdw_history_free(&h);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "history")) {
		history(argc > 2 ? (uint32_t)atoi(argv[2]) : 2000000);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "churn")) {
		churn(argc > 2 ? (uint32_t)atoi(argv[2]) : 1000000);
		return 0;
	}
	uint32_t procs = argc > 1 ? (uint32_t)atoi(argv[1]) : 3;
	uint32_t fds = argc > 2 ? (uint32_t)atoi(argv[2]) : 19900;
	uint32_t idle = argc > 3 ? (uint32_t)atoi(argv[3]) : 1000;
	char name[64];

	snprintf(name, sizeof(name), "%u x %u, one file", procs, fds);
	row(name, SAME, procs, fds);
	snprintf(name, sizeof(name), "%u x %u, dups of one fd", procs, fds);
	row(name, DUPS, procs, fds);
	snprintf(name, sizeof(name), "%u x %u, pipes", procs, fds);
	row(name, PIPES, procs, fds);
	snprintf(name, sizeof(name), "%u idle processes (3 fds)", idle);
	row(name, IDLE, idle, 3);
	snprintf(name, sizeof(name), "%u idle, fds 0-2 and 255", idle);
	row(name, IDLE255, idle, 4);
	return 0;
}
